"""The ``apache_airflow_provider`` entry point: what ``airflow providers list`` shows."""

from __future__ import annotations

from typing import Any

from task_runner_provider.config import CONFIG_DESCRIPTION
from task_runner_provider.version import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-task-runner",
        "name": "task-runner",
        "description": "Run Airflow operators and @task functions in isolated team images with task-runner.",
        "versions": [__version__],
        "task-decorators": [
            {"name": "task_runner", "class-name": "task_runner_provider.decorators.task_runner_task"}
        ],
        "config": CONFIG_DESCRIPTION,
    }
