"""The package's own exceptions."""

from __future__ import annotations

from task_runner_provider.compat import AirflowException


class TaskRunnerConfigError(AirflowException, ValueError):
    """A task is configured wrongly in the DAG (raised at parse time or in execute).

    The message names the task, the kwarg and what to do.
    """
