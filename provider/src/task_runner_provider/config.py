"""The ``[task_runner]`` section of the Airflow config (env ``AIRFLOW__TASK_RUNNER__*``).

| key | default | meaning |
|---|---|---|
| ``backend`` | ``docker`` | ``docker``, ``kubernetes`` or ``local``, when the task does not say |
| ``docker_registry`` | empty | prefix of image names on the docker backend |
| ``kubernetes_registry`` | empty | prefix of image names on the kubernetes backend |
| ``binary`` | ``task-runner`` | the runner executable of the local backend |
| ``include_dir`` | the DAG project's ``include/`` | the local backend's include folder |
"""

from __future__ import annotations

import os
from typing import Any


SECTION = "task_runner"
BACKENDS = ("docker", "kubernetes", "local")
DEFAULT_BACKEND = "docker"

#: The section as `get_provider_info` declares it (``airflow config list`` shows it).
CONFIG_DESCRIPTION: dict[str, Any] = {
    SECTION: {
        "description": "task-runner: how TaskRunnerOperator and @task.task_runner run their tasks.",
        "options": {
            "backend": {
                "description": "Backend used when a task does not pass backend=: docker, kubernetes or local.",
                "version_added": "0.1.0",
                "type": "string",
                "example": "kubernetes",
                "default": DEFAULT_BACKEND,
            },
            "docker_registry": {
                "description": "Registry (and path) prefixed to image names on the docker backend.",
                "version_added": "0.1.0",
                "type": "string",
                "example": "localhost:5000/data",
                "default": "",
            },
            "kubernetes_registry": {
                "description": "Registry (and path) prefixed to image names on the kubernetes backend.",
                "version_added": "0.1.0",
                "type": "string",
                "example": "registry.example.com/data",
                "default": "",
            },
            "binary": {
                "description": "The task-runner executable the local backend runs.",
                "version_added": "0.1.0",
                "type": "string",
                "example": "/usr/local/bin/task-runner",
                "default": "task-runner",
            },
            "include_dir": {
                "description": "The local backend's include folder (default: include/ beside or above the DAG folder).",
                "version_added": "0.1.0",
                "type": "string",
                "example": "/opt/airflow/include",
                "default": "",
            },
        },
    }
}


def get(key: str, fallback: str = "") -> str:
    """A ``[task_runner]`` option; the environment's ``AIRFLOW__TASK_RUNNER__KEY`` wins, as in Airflow."""
    env = os.environ.get(f"AIRFLOW__TASK_RUNNER__{key.upper()}")
    if env is not None:
        return env
    from task_runner_provider.compat import airflow_conf

    value = airflow_conf().get(SECTION, key, fallback=fallback)
    return fallback if value is None else str(value)


def backend(explicit: str | None, where: str) -> str:
    """The backend: the task's argument, else config, else the default."""
    from task_runner_provider.errors import TaskRunnerConfigError

    name = explicit if explicit is not None else (get("backend") or DEFAULT_BACKEND)
    name = name.strip().lower()
    if name not in BACKENDS:
        origin = "backend=" if explicit is not None else "[task_runner] backend (AIRFLOW__TASK_RUNNER__BACKEND)"
        raise TaskRunnerConfigError(
            f"{where}: unknown task-runner backend `{name}` from {origin}; use one of: {', '.join(BACKENDS)}"
        )
    return name


def image_name(image: str, backend_name: str) -> str:
    """The image with the backend's registry prefix, unless it already names a registry."""
    prefix = get(f"{backend_name}_registry").strip().rstrip("/")
    if not prefix or not image:
        return image
    first = image.split("/", 1)[0]
    has_registry = "/" in image and ("." in first or ":" in first or first == "localhost")
    return image if has_registry or image.startswith(prefix + "/") else f"{prefix}/{image}"
