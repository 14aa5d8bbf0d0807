"""Every Airflow import that differs between Airflow 2.10+ and 3.x, in one place.

The rest of the package imports these names from here and never from Airflow
directly, so a new Airflow major is handled by editing this module alone.
"""

from __future__ import annotations

from typing import Any

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

_VERSION = Version(Version(AIRFLOW_VERSION).base_version)
AIRFLOW_V_3_0_PLUS = _VERSION >= Version("3.0.0")
# The SDK BaseOperator lacks xcom_push before 3.1 (docker provider's version_compat).
AIRFLOW_V_3_1_PLUS = _VERSION >= Version("3.1.0")

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import BaseHook, Variable
    from airflow.sdk.bases.decorator import DecoratedOperator, task_decorator_factory
    from airflow.sdk.definitions._internal.mixins import ResolveMixin
    from airflow.sdk.definitions.context import KNOWN_CONTEXT_KEYS
    from airflow.sdk.exceptions import AirflowException, AirflowSkipException
    from airflow.sdk.log import mask_secret

    if AIRFLOW_V_3_1_PLUS:
        from airflow.sdk import BaseOperator
    else:  # pragma: no cover - 3.0.x
        from airflow.models.baseoperator import BaseOperator  # type: ignore[no-redef]
else:
    from airflow.decorators.base import (  # type: ignore[no-redef]
        DecoratedOperator,
        task_decorator_factory,
    )
    from airflow.exceptions import AirflowException, AirflowSkipException  # type: ignore[no-redef]
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
    from airflow.models.baseoperator import BaseOperator  # type: ignore[no-redef]
    from airflow.models.variable import Variable  # type: ignore[no-redef]
    from airflow.utils.context import KNOWN_CONTEXT_KEYS  # type: ignore[no-redef]
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[no-redef]
    from airflow.utils.mixins import ResolveMixin  # type: ignore[no-redef]

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_0_PLUS",
    "AirflowException",
    "AirflowSkipException",
    "BaseHook",
    "BaseOperator",
    "DecoratedOperator",
    "KNOWN_CONTEXT_KEYS",
    "ResolveMixin",
    "Variable",
    "airflow_conf",
    "dag_schedule",
    "mask_secret",
    "task_decorator_factory",
]


def airflow_conf() -> Any:
    """Airflow's config parser, imported on first use (not while Airflow loads providers)."""
    if AIRFLOW_V_3_0_PLUS:
        try:
            from airflow.sdk.configuration import conf
        except ImportError:  # pragma: no cover - an SDK without the module attribute
            from airflow.configuration import conf
    else:
        from airflow.configuration import conf
    return conf


def dag_schedule(dag: Any) -> str | None:
    """The DAG's cron expression when its timetable is cron-based, else None."""
    timetable = getattr(dag, "timetable", None)
    if timetable is None:
        return None
    expression = getattr(timetable, "_expression", None)
    if isinstance(expression, str) and expression.split() and len(expression.split()) in (5, 6):
        return expression
    return None
