"""The operators: one per backend, and :func:`TaskRunnerOperator`, which picks one.

``TaskRunnerOperator(...)`` builds the class of the backend named by its
``backend=`` argument, else by ``[task_runner] backend``, else ``docker``; so the
same DAG runs on Docker on a laptop and on Kubernetes in production.
"""

from __future__ import annotations

from typing import Any

from task_runner_provider import config
from task_runner_provider.errors import TaskRunnerConfigError

_PROVIDERS = {
    "docker": ("task_runner_provider.operators.docker", "DockerTaskRunnerOperator", "apache-airflow-providers-docker", "docker"),
    "kubernetes": (
        "task_runner_provider.operators.kubernetes",
        "KubernetesTaskRunnerOperator",
        "apache-airflow-providers-cncf-kubernetes",
        "kubernetes",
    ),
    "local": ("task_runner_provider.operators.local", "LocalTaskRunnerOperator", None, None),
}


def backend_class(name: str, where: str = "task-runner") -> type:
    """The operator class of a backend, with a clear error when its provider is missing."""
    module_name, class_name, dist, extra = _PROVIDERS[name]
    try:
        module = __import__(module_name, fromlist=[class_name])
    except ImportError as err:
        raise TaskRunnerConfigError(
            f"{where}: the {name} backend needs {dist} ({err}): "
            f"pip install 'airflow-provider-task-runner[{extra}]'"
        ) from err
    return getattr(module, class_name)


def TaskRunnerOperator(*, backend: str | None = None, **kwargs: Any) -> Any:  # noqa: N802 - reads as a class
    """An operator of the chosen backend running one task in a team image.

    ``operator=`` names what to run (``"sql"``, ``"bash"``, ``"python"``,
    ``"ruby"``, or an Airflow class: ``SQLExecuteQueryOperator``,
    ``BashOperator``, ``PythonOperator``); the other kwargs are that operator's
    usual ones, BaseOperator's, and the backend's.
    """
    where = f"task `{kwargs.get('task_id', '?')}`"
    name = config.backend(backend, where)
    return backend_class(name, where)(backend=name, **kwargs)


__all__ = ["TaskRunnerOperator", "backend_class"]
