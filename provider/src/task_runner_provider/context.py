"""The context payload, built in ``execute()`` from the live Airflow context.

Nothing here lands in a rendered template field: the payload is made after
Airflow rendered (and, on Airflow 3, reported) the task's fields. The keys are
the runner's context contract (its README, "The context").
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from typing import Any, Iterable, Mapping

from task_runner_provider.compat import AIRFLOW_VERSION, airflow_conf, dag_schedule
from task_runner_provider.errors import TaskRunnerConfigError

RETURN_KEY = "return_value"


def iso(value: Any) -> str | None:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, str) and value not in ("", "None"):
        return value
    return None


def json_safe(value: Any, where: str) -> Any:
    """A value as JSON would carry it; the types Airflow's XCom JSON knows are converted."""
    try:
        return json.loads(json.dumps(value, default=_default, allow_nan=False))
    except (TypeError, ValueError) as err:
        raise TaskRunnerConfigError(f"{where} cannot travel to the container as JSON: {err}") from err


def _default(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)):
        return list(value)
    raise TypeError(f"a value of type {type(value).__name__} is not JSON serializable")


def _run_type(dag_run: Any) -> str | None:
    run_type = getattr(dag_run, "run_type", None)
    if run_type is None:
        return None
    return getattr(run_type, "value", str(run_type))


def sensitive_names() -> list[str]:
    raw = airflow_conf().get("core", "sensitive_var_conn_names", fallback="") or ""
    return [n.strip() for n in raw.split(",") if n.strip()]


def xcom_entries(context: Mapping[str, Any], sources: Iterable[tuple[str, str]], mapped: set[str]) -> list[dict[str, Any]]:
    """Upstream XComs for the runner's ``ti.xcom_pull``: one entry per value that exists."""
    ti = context["ti"]
    entries: list[dict[str, Any]] = []
    for task_id, key in sources:
        value = ti.xcom_pull(task_ids=task_id, key=key)
        if value is None:
            continue
        where = f"the XCom `{key}` of upstream task `{task_id}`"
        if task_id in mapped:
            for index, item in enumerate(list(value)):
                if item is not None:
                    entries.append(
                        {"task_id": task_id, "key": key, "map_index": index, "value": json_safe(item, where)}
                    )
        else:
            entries.append({"task_id": task_id, "key": key, "value": json_safe(value, where)})
    return entries


def build(context: Mapping[str, Any], task: Any, xcom: list[dict[str, Any]]) -> dict[str, Any]:
    """The payload for one task instance."""
    ti = context["ti"]
    dag_run = context.get("dag_run")
    dag = context.get("dag") or getattr(task, "dag", None)
    params = context.get("params") or {}
    payload: dict[str, Any] = {
        "dag_id": ti.dag_id,
        "task_id": ti.task_id,
        "run_id": context.get("run_id") or getattr(ti, "run_id", None),
        # An explicit null is meaningful (an Airflow 3 manual run has none).
        "logical_date": iso(context.get("logical_date")),
        "data_interval_start": iso(context.get("data_interval_start")),
        "data_interval_end": iso(context.get("data_interval_end")),
        "prev_data_interval_start_success": iso(context.get("prev_data_interval_start_success")),
        "prev_data_interval_end_success": iso(context.get("prev_data_interval_end_success")),
        "prev_start_date_success": iso(context.get("prev_start_date_success")),
        "prev_end_date_success": iso(context.get("prev_end_date_success")),
        "start_date": iso(getattr(dag_run, "start_date", None)),
        "run_after": iso(getattr(dag_run, "run_after", None)),
        "try_number": getattr(ti, "try_number", None),
        "max_tries": getattr(ti, "max_tries", None),
        "map_index": getattr(ti, "map_index", -1),
        "owner": getattr(task, "owner", None),
        "email": getattr(task, "email", None),
        "run_type": _run_type(dag_run),
        # Airflow 2: an externally triggered run's prev/next dates are its own.
        "external_trigger": getattr(dag_run, "external_trigger", None),
        "schedule": dag_schedule(dag) if dag is not None else None,
        "airflow_version": AIRFLOW_VERSION,
        "params": json_safe(dict(params), "the task's params"),
        "dag_run_conf": json_safe(getattr(dag_run, "conf", None) or {}, "dag_run.conf"),
        "xcom": xcom,
        "sensitive_names": sensitive_names(),
    }
    if "test_mode" in context:
        payload["test_mode"] = bool(context["test_mode"])
    return {k: v for k, v in payload.items() if v is not None or k == "logical_date"}
