"""task-runner's Airflow provider: ``TaskRunnerOperator`` and ``@task.task_runner``.

No network calls and no Airflow lookups happen at import (DAG parsing imports
this often).
"""

from __future__ import annotations

from typing import Any

from task_runner_provider.version import __version__

__all__ = ["TaskRunnerOperator", "task_runner", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy: importing the package (the entry point) must not import Airflow operators.
    if name == "TaskRunnerOperator":
        from task_runner_provider.operators import TaskRunnerOperator

        return TaskRunnerOperator
    if name == "task_runner":
        from task_runner_provider.decorators import task_runner

        return task_runner
    raise AttributeError(name)
