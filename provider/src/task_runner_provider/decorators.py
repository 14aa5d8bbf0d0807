"""``@task.task_runner``: a function of the DAG file run in a team image.

The function's source is shipped in the spec (not pickled) and its arguments as
JSON, so any Python, 2.7 included, runs it. XComArgs among the arguments are
resolved by Airflow; template strings are rendered by the runner.
"""

from __future__ import annotations

from typing import Any, Callable

from task_runner_provider import config
from task_runner_provider.compat import DecoratedOperator, task_decorator_factory
from task_runner_provider.operators import backend_class

_CLASSES: dict[str, type] = {}


def decorated_class(backend: str) -> type:
    """The decorated operator class of a backend (made once, importable by name)."""
    if backend not in _CLASSES:
        base = backend_class(backend, "@task.task_runner")
        name = base.__name__.replace("Operator", "DecoratedOperator")

        def __init__(self: Any, *, python_callable: Callable[..., Any], op_args: Any = None, op_kwargs: Any = None, **kwargs: Any) -> None:
            kwargs.setdefault("operator", "python")
            op_args = list(op_args or [])
            op_kwargs = dict(op_kwargs or {})
            DecoratedOperator.__init__(
                self,
                python_callable=python_callable,
                op_args=op_args,
                op_kwargs=op_kwargs,
                kwargs_to_upstream={"python_callable": python_callable, "op_args": op_args, "op_kwargs": op_kwargs},
                **kwargs,
            )

        cls = type(
            name,
            (DecoratedOperator, base),
            {
                "__init__": __init__,
                "__module__": __name__,
                "__qualname__": name,
                "custom_operator_name": "@task.task_runner",
                "template_fields": base.template_fields,
                "template_fields_renderers": {},
            },
        )
        _CLASSES[backend] = cls
        globals()[name] = cls
    return _CLASSES[backend]


def task_runner_task(
    python_callable: Callable[..., Any] | None = None,
    multiple_outputs: bool | None = None,
    **kwargs: Any,
) -> Any:
    """``@task.task_runner(image=..., python="python2.7", backend=..., ...)``."""
    backend = config.backend(kwargs.pop("backend", None), "@task.task_runner")
    return task_decorator_factory(
        python_callable=python_callable,
        multiple_outputs=multiple_outputs,
        decorated_operator_class=decorated_class(backend),
        **kwargs,
    )


def __getattr__(name: str) -> type:
    """``DockerTaskRunnerDecoratedOperator`` etc., made on first use (DAG deserialization imports them)."""
    for backend in config.BACKENDS:
        if name == f"{backend.capitalize()}TaskRunnerDecoratedOperator":
            return decorated_class(backend)
    raise AttributeError(name)


task_runner = task_runner_task

__all__ = ["task_runner", "task_runner_task", "decorated_class"]
