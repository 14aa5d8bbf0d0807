#!/usr/bin/env python3
"""Render the template cases of ``fixtures/templates/cases.yaml`` with a REAL Airflow.

Run it with the Python of a virtualenv that has ``apache-airflow`` installed
(2.10.x or 3.x; ``regenerate.sh`` builds both).  The installed major version
selects the profile:

* Airflow 2.x: a real DAG + BashOperator, a real DagRun/TaskInstance in a fresh
  sqlite metadata DB, the payload's XComs pushed as real XCom rows, the payload's
  connections/variables stored as real Connection/Variable rows, then the same
  steps ``TaskInstance._execute_task_with_callbacks`` performs before
  ``execute()``: ``get_template_context()``, ``task.params = context["params"]``,
  ``dag.get_template_env()`` and ``ti.render_templates(...)``.
* Airflow 3.x: a real Task-SDK DAG + BashOperator and a RuntimeTaskInstance run
  through Airflow's own ``InProcessTestSupervisor`` (what ``dag.test()`` uses),
  whose Execution-API client talks to an in-memory fake API server
  (``httpx.MockTransport``) that answers from the payload: ``PATCH
  task-instances/{id}/run`` (the TIRunContext with the dag_run), connections,
  variables, xcoms (single and ``/slice``) and the previous successful dag run.
  Every template-visible value therefore goes through Airflow's real client,
  supervisor request handlers, comms models, context builder and templater.
  Then the steps ``task_runner._prepare`` performs: ``prepare_for_execution()``,
  ``dag.get_template_env()`` and ``ti.render_templates(...)``.

Template cases put the template into ``bash_command``; ``field:`` cases put the
value into the (also templated) ``env`` field of the same BashOperator, so the
top-level "falsy values are skipped" rule of ``render_template_fields`` applies.

Usage: python generate.py [--cases cases.yaml] [--out expected.json] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import decimal
import json
import os
import platform
import sys
import tempfile
import traceback
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_CASES = REPO / "fixtures" / "templates" / "cases.yaml"

# ---------------------------------------------------------------------------
# Environment isolation: must happen before airflow is imported.
# ---------------------------------------------------------------------------
for _k in list(os.environ):
    if _k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIRFLOW__", "AIRFLOW_CTX_")):
        del os.environ[_k]
if not os.environ.get("AIRFLOW_HOME"):
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-fixture-home-")
_AIRFLOW_HOME = os.environ["AIRFLOW_HOME"]
os.makedirs(_AIRFLOW_HOME, exist_ok=True)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(_AIRFLOW_HOME, "dags")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = "sqlite:///" + os.path.join(_AIRFLOW_HOME, "airflow.db")
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "CRITICAL"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.setdefault("TZ", "UTC")
os.makedirs(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], exist_ok=True)

import yaml  # noqa: E402  (PyYAML is an Airflow dependency)

import airflow  # noqa: E402

AIRFLOW_VERSION = airflow.__version__
MAJOR = int(AIRFLOW_VERSION.split(".")[0])
PROFILE = "airflow3" if MAJOR >= 3 else "airflow2"

import pendulum  # noqa: E402

UTC = pendulum.UTC
DAG_START_DATE = pendulum.datetime(2020, 1, 1, tz="UTC")
# The DAG "file": its folder is the first template search path (shows in TemplateNotFound messages).
DAG_FILELOC_TEMPLATE = "/opt/airflow/dags/{dag_id}.py"
BASE_ENV = dict(os.environ)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
def parse_dt(value):
    if value is None:
        return None
    return pendulum.parse(value) if isinstance(value, str) else value


_YAML12 = [
    ("null", r"~|null|Null|NULL|"),
    ("bool", r"true|True|TRUE|false|False|FALSE"),
    ("int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"),
    ("float", r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN"),
]


def yaml_portability_problems(text):
    """Plain scalars that YAML 1.1 (PyYAML) and YAML 1.2 (core schema) would read differently."""
    import re

    problems = []

    def walk(node):
        if isinstance(node, yaml.ScalarNode):
            if node.style is None:
                kind12 = "str"
                for kind, rx in _YAML12:
                    if re.fullmatch(rx, node.value):
                        kind12 = kind
                        break
                kind11 = node.tag.rsplit(":", 1)[-1]
                if kind11 != kind12:
                    problems.append(f"line {node.start_mark.line + 1}: {node.value!r} is {kind11} in YAML 1.1, {kind12} in 1.2")
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                walk(k)
                walk(v)

    walk(yaml.compose(text))
    return problems


def run_type_of(ctx) -> str:
    if ctx.get("run_type"):
        return ctx["run_type"]
    prefix = str(ctx.get("run_id", "")).split("__", 1)[0]
    return {
        "scheduled": "scheduled",
        "manual": "manual",
        "backfill": "backfill",
        "dataset_triggered": "dataset_triggered",
        "asset_triggered": "asset_triggered",
    }.get(prefix, "manual")


def env_for_case(default_env, case_env, ctx):
    """The process environment a case renders under (payload conns/vars are NOT put here)."""
    env = dict(BASE_ENV)
    env.update({k: str(v) for k, v in (default_env or {}).items()})
    env.update({k: str(v) for k, v in (case_env or {}).items()})
    return env


class patched_environ:
    def __init__(self, env):
        self.env = env

    def __enter__(self):
        self.saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)

    def __exit__(self, *exc):
        os.environ.clear()
        os.environ.update(self.saved)


def to_jsonable(value, _depth=0):
    """Native render results as JSON: tuples -> lists, datetimes -> isoformat, sets -> sorted lists."""
    if _depth > 50:
        return repr(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return repr(value)
        return value
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(v, _depth + 1) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, _depth + 1) for v in value]
    try:
        from collections.abc import Mapping, Sequence

        if isinstance(value, Mapping):
            return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
        if isinstance(value, Sequence):
            return [to_jsonable(v, _depth + 1) for v in value]
    except Exception:
        pass
    return str(value)


def type_name(value) -> str:
    try:
        return value.__class__.__name__
    except Exception:
        return type(value).__name__


class TemplateFailure(Exception):
    """Raised around the rendering call: the wrapped exception is the case's expected result."""

    def __init__(self, original):
        super().__init__(original)
        self.original = original


class HarnessError(Exception):
    """A failure of the generator's own setup (never recorded as an expected result)."""


def error_record(exc: BaseException):
    return {"error": {"type": type(exc).__name__, "message": str(exc)}}


def result_record(case, value):
    native = bool(case.get("native"))
    if "field" in case:
        rec = {"field": to_jsonable(value)}
        if native:
            rec["python_type"] = type_name(value)
        return rec
    if native:
        try:
            return {"native": to_jsonable(value), "python_type": type_name(value)}
        except Exception as exc:
            # e.g. a StrictUndefined returned as the native value: rendering "succeeded" but the
            # value raises as soon as it is used (str(), iteration, ...).
            return {"native": None, "python_type": type_name(value), "error_on_use": error_record(exc)["error"]}
    if not isinstance(value, str):
        # Should not happen: the sandboxed env always produces str.
        return {"output": str(value), "python_type": type_name(value)}
    return {"output": value}


def xcom_entries(ctx):
    out = []
    for entry in ctx.get("xcom") or []:
        out.append(
            {
                "dag_id": entry.get("dag_id", ctx["dag_id"]),
                "run_id": entry.get("run_id", ctx["run_id"]),
                "task_id": entry["task_id"],
                "key": entry.get("key", "return_value"),
                "map_index": entry.get("map_index", -1),
                "value": entry.get("value"),
            }
        )
    return out


# ---------------------------------------------------------------------------
# Airflow 2.x renderer
# ---------------------------------------------------------------------------
class Airflow2Renderer:
    def __init__(self):
        from airflow.utils import db

        db.initdb()
        from airflow import settings

        self.settings = settings

    def _wipe(self, session):
        from airflow.models import Connection, DagModel, DagRun, TaskInstance, Variable, XCom
        from airflow.models.renderedtifields import RenderedTaskInstanceFields

        for model in (XCom, RenderedTaskInstanceFields, TaskInstance, DagRun, DagModel, Connection, Variable):
            session.query(model).delete(synchronize_session=False)
        session.commit()

    def render(self, case, ctx, env):
        from airflow.models import Connection, Variable, XCom
        from airflow.models.dag import DAG
        from airflow.models.taskinstance import TaskInstance
        from airflow.operators.bash import BashOperator
        from airflow.operators.empty import EmptyOperator
        from airflow.utils.state import DagRunState
        from airflow.utils.types import DagRunType

        session = self.settings.Session()
        try:
            self._wipe(session)
            native = bool(case.get("native"))
            dag_id, task_id, run_id = ctx["dag_id"], ctx["task_id"], ctx["run_id"]
            logical_date = parse_dt(ctx.get("logical_date"))
            if logical_date is None:
                raise HarnessError("Airflow 2 needs a logical_date")
            dis = parse_dt(ctx.get("data_interval_start")) or logical_date
            die = parse_dt(ctx.get("data_interval_end")) or logical_date
            run_type = run_type_of(ctx)
            xcoms = xcom_entries(ctx)

            # payload connections / variables -> real metadata DB rows
            for conn_id, value in (ctx.get("connections") or {}).items():
                if isinstance(value, dict):
                    conn = Connection.from_json(json.dumps(value), conn_id=conn_id)
                else:
                    conn = Connection(conn_id=conn_id, uri=value)
                session.add(conn)
            session.commit()
            for key, value in (ctx.get("variables") or {}).items():
                Variable.set(key, value if isinstance(value, str) else json.dumps(value), session=session)
            session.commit()

            def make_dag(this_dag_id, task_ids, with_target):
                dag = DAG(
                    dag_id=this_dag_id,
                    schedule=ctx.get("schedule"),
                    start_date=DAG_START_DATE,
                    catchup=False,
                    params=ctx.get("params") or {},
                    render_template_as_native_obj=native,
                    default_args={"owner": ctx.get("owner", "airflow")},
                )
                target = None
                if with_target:
                    kwargs = {}
                    if "field" in case:
                        kwargs["bash_command"] = "true"
                        kwargs["env"] = case["field"]
                    else:
                        kwargs["bash_command"] = case["template"]
                    target = BashOperator(task_id=task_id, dag=dag, **kwargs)
                for t in task_ids:
                    if t != task_id or not with_target:
                        EmptyOperator(task_id=t, dag=dag)
                return dag, target

            dag, task = make_dag(dag_id, sorted({x["task_id"] for x in xcoms if x["dag_id"] == dag_id}), True)
            dag.sync_to_db(session=session)
            drs = {}
            dr = dag.create_dagrun(
                state=DagRunState.RUNNING,
                execution_date=logical_date,
                run_id=run_id,
                start_date=logical_date,
                external_trigger=run_type == "manual",
                conf=ctx.get("dag_run_conf") or {},
                run_type=DagRunType(run_type),
                data_interval=(dis, die),
                session=session,
            )
            drs[(dag_id, run_id)] = dr

            # previous successful run (prev_*_success keys)
            if ctx.get("prev_data_interval_start_success"):
                pdis = parse_dt(ctx["prev_data_interval_start_success"])
                pdie = parse_dt(ctx.get("prev_data_interval_end_success")) or pdis
                prev = dag.create_dagrun(
                    state=DagRunState.SUCCESS,
                    execution_date=pdis,
                    run_id="scheduled__" + pdis.isoformat(),
                    start_date=parse_dt(ctx.get("prev_start_date_success")) or pdie,
                    external_trigger=False,
                    run_type=DagRunType.SCHEDULED,
                    data_interval=(pdis, pdie),
                    session=session,
                )
                if ctx.get("prev_end_date_success"):
                    prev.end_date = parse_dt(ctx["prev_end_date_success"])
                session.merge(prev)
                session.commit()

            # other DAGs referenced by XComs
            other = {}
            for x in xcoms:
                other.setdefault((x["dag_id"], x["run_id"]), set()).add(x["task_id"])
            for (o_dag_id, o_run_id), tids in other.items():
                if (o_dag_id, o_run_id) in drs:
                    continue
                if o_dag_id == dag_id:
                    odag = dag
                else:
                    odag, _ = make_dag(o_dag_id, sorted(tids), False)
                    odag.sync_to_db(session=session)
                if o_dag_id == dag_id:
                    raise HarnessError("xcom entries of another run of the same DAG are not supported")
                drs[(o_dag_id, o_run_id)] = odag.create_dagrun(
                    state=DagRunState.SUCCESS,
                    execution_date=logical_date,
                    run_id=o_run_id,
                    start_date=logical_date,
                    external_trigger=run_type == "manual",
                    run_type=DagRunType(run_type),
                    data_interval=(dis, die),
                    session=session,
                )
            session.commit()

            # mapped TI rows needed by XComs with map_index >= 0 (FK xcom -> task_instance)
            existing = {
                (ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
                for ti in session.query(TaskInstance).all()
            }
            for x in xcoms:
                k = (x["dag_id"], x["run_id"], x["task_id"], x["map_index"])
                if k not in existing:
                    odag = dag if x["dag_id"] == dag_id else None
                    if odag is None:
                        raise HarnessError("mapped xcom in another dag is not supported by the generator")
                    ti_row = TaskInstance(odag.get_task(x["task_id"]), run_id=x["run_id"], map_index=x["map_index"])
                    session.add(ti_row)
                    existing.add(k)
            session.commit()
            for x in xcoms:
                XCom.set(
                    key=x["key"],
                    value=x["value"],
                    task_id=x["task_id"],
                    dag_id=x["dag_id"],
                    run_id=x["run_id"],
                    map_index=x["map_index"],
                    session=session,
                )
            session.commit()

            map_index = ctx.get("map_index", -1)
            ti = dr.get_task_instance(task_id, session=session)
            if map_index != -1:
                session.delete(ti)
                session.commit()
                ti = TaskInstance(task, run_id=run_id, map_index=map_index)
                session.add(ti)
                session.commit()
            ti.try_number = ctx.get("try_number", 1)
            session.merge(ti)
            session.commit()
            session.close()

            # == a worker process: TaskInstance + DagRun loaded from the metadata DB (a fresh
            # session, so datetimes come back through UtcDateTime as the worker sees them),
            # task from the parsed DAG ==
            session = self.settings.Session()
            ti = (
                session.query(TaskInstance)
                .filter_by(dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=map_index)
                .one()
            )
            ti.task = task

            # == TaskInstance._run_raw_task / _execute_task_with_callbacks, up to execute() ==
            ti.task = ti.task.prepare_for_execution()
            context = ti.get_template_context(session=session)
            ti.task.params = context["params"]
            # the DAG "file" location (set only now: sync_to_db reads the real file)
            ti.task.get_dag().fileloc = DAG_FILELOC_TEMPLATE.format(dag_id=dag_id)
            jinja_env = ti.task.get_dag().get_template_env()
            try:
                ti.render_templates(context=context, jinja_env=jinja_env)
            except Exception as exc:  # the template's own failure: an expected result
                raise TemplateFailure(exc) from exc
            rendered = ti.task.env if "field" in case else ti.task.bash_command
            return result_record(case, rendered)
        finally:
            session.rollback()
            session.close()


# ---------------------------------------------------------------------------
# Airflow 3.x renderer
# ---------------------------------------------------------------------------
class FakeExecutionAPI:
    """In-memory stand-in for the Execution API server, answering from one case's payload."""

    def __init__(self, ctx, ti_id):
        # The real API server answers from the metastore's rows: the ORM model
        # (whose password getter gives None for an empty one), not the Task
        # SDK's Connection, which the env-var backend builds.
        from airflow.models.connection import Connection
        from airflow.sdk.serde import serialize

        self.ctx = ctx
        self.ti_id = str(ti_id)
        self.xcoms = {}
        for x in xcom_entries(ctx):
            # what the real API server stores: the SDK-serialized value (serde)
            self.xcoms[(x["dag_id"], x["run_id"], x["task_id"], x["key"], x["map_index"])] = serialize(x["value"])
        self.connections = {}
        for conn_id, value in (ctx.get("connections") or {}).items():
            if isinstance(value, dict):
                conn = Connection.from_json(json.dumps(value), conn_id=conn_id)
            else:
                conn = Connection(conn_id=conn_id, uri=value)
            self.connections[conn_id] = {
                "conn_id": conn_id,
                "conn_type": conn.conn_type,
                "host": conn.host,
                "schema": conn.schema,
                "login": conn.login,
                "password": conn.password,
                "port": conn.port,
                "extra": conn.extra,
            }
        self.variables = {
            k: (v if isinstance(v, str) else json.dumps(v)) for k, v in (ctx.get("variables") or {}).items()
        }

    @staticmethod
    def _json(status, body):
        import httpx

        return httpx.Response(status, json=body)

    def not_found(self, what):
        return self._json(404, {"detail": {"reason": "not_found", "message": f"{what} not found"}})

    @staticmethod
    def _utc(value):
        # the API server stores and returns UTC datetimes
        if value is None:
            return None
        return pendulum.parse(value).in_timezone("UTC").isoformat().replace("+00:00", "Z")

    def __call__(self, request):
        from urllib.parse import unquote

        path = unquote(request.url.path).lstrip("/")
        parts = path.split("/")
        method = request.method
        ctx = self.ctx
        if parts[0] == "task-instances" and parts[-1] == "run" and method == "PATCH":
            ld = self._utc(ctx.get("logical_date"))
            dis = self._utc(ctx.get("data_interval_start")) or ld
            die = self._utc(ctx.get("data_interval_end")) or ld
            run_after = self._utc(ctx.get("run_after")) or die or ld or "2024-06-01T00:00:00Z"
            body = {
                "dag_run": {
                    "dag_id": ctx["dag_id"],
                    "run_id": ctx["run_id"],
                    "logical_date": ld,
                    "data_interval_start": dis if ld else None,
                    "data_interval_end": die if ld else None,
                    "run_after": run_after,
                    "start_date": run_after,
                    "end_date": None,
                    "clear_number": 0,
                    "run_type": run_type_of(ctx),
                    "state": "running",
                    "conf": ctx.get("dag_run_conf") or {},
                    "triggering_user_name": ctx.get("triggering_user_name"),
                    "consumed_asset_events": [],
                    "partition_key": None,
                },
                "task_reschedule_count": 0,
                "max_tries": ctx.get("max_tries", 0),
                "should_retry": False,
                "upstream_map_indexes": None,
            }
            return self._json(200, body)
        if parts[0] == "task-instances" and parts[-1] == "previous-successful-dagrun":
            return self._json(
                200,
                {
                    "data_interval_start": self._utc(ctx.get("prev_data_interval_start_success")),
                    "data_interval_end": self._utc(ctx.get("prev_data_interval_end_success")),
                    "start_date": self._utc(ctx.get("prev_start_date_success")),
                    "end_date": self._utc(ctx.get("prev_end_date_success")),
                },
            )
        if parts[0] == "connections" and len(parts) == 2:
            conn = self.connections.get(parts[1])
            return self._json(200, conn) if conn else self.not_found(f"Connection {parts[1]}")
        if parts[0] == "variables" and len(parts) == 2:
            if parts[1] in self.variables:
                return self._json(200, {"key": parts[1], "value": self.variables[parts[1]]})
            return self.not_found(f"Variable {parts[1]}")
        if parts[0] == "xcoms" and len(parts) >= 5:
            dag_id, run_id, task_id, key = parts[1:5]
            if len(parts) == 6 and parts[5] == "slice":
                vals = [
                    v
                    for (d, r, t, k, m), v in sorted(self.xcoms.items(), key=lambda kv: kv[0][4])
                    if (d, r, t, k) == (dag_id, run_id, task_id, key)
                ]
                start = request.url.params.get("start")
                stop = request.url.params.get("stop")
                step = request.url.params.get("step")
                sl = slice(
                    int(start) if start is not None else None,
                    int(stop) if stop is not None else None,
                    int(step) if step is not None else None,
                )
                return self._json(200, vals[sl])
            if len(parts) == 5:
                mi = int(request.url.params.get("map_index", -1))
                k = (dag_id, run_id, task_id, key, mi)
                if k in self.xcoms:
                    return self._json(200, {"key": key, "value": self.xcoms[k]})
                return self.not_found("XCom")
        if method in ("PATCH", "POST", "PUT"):
            import httpx

            return httpx.Response(204)
        raise RuntimeError(f"fake Execution API: unhandled {method} {path}")


class Airflow3Renderer:
    def __init__(self):
        import structlog

        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(50),  # CRITICAL
        )

    def render(self, case, ctx, env):
        import psutil
        import structlog
        import httpx

        from airflow.providers.standard.operators.bash import BashOperator
        from airflow.providers.standard.operators.empty import EmptyOperator
        from airflow.sdk import DAG
        from airflow.sdk.api.datamodels._generated import TaskInstance as TIModel
        from airflow.sdk.execution_time import context as ctx_mod
        from airflow.sdk.execution_time.supervisor import (
            InProcessSupervisorComms,
            InProcessTestSupervisor,
            set_supervisor_comms,
        )
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
        from airflow.utils.state import TaskInstanceState

        native = bool(case.get("native"))
        dag_id, task_id, run_id = ctx["dag_id"], ctx["task_id"], ctx["run_id"]
        xcoms = xcom_entries(ctx)
        dag = DAG(
            dag_id=dag_id,
            schedule=ctx.get("schedule"),
            start_date=DAG_START_DATE,
            catchup=False,
            params=ctx.get("params") or {},
            render_template_as_native_obj=native,
            default_args={"owner": ctx.get("owner", "airflow")},
        )
        dag.fileloc = DAG_FILELOC_TEMPLATE.format(dag_id=dag_id)
        kwargs = {}
        if "field" in case:
            kwargs["bash_command"] = "true"
            kwargs["env"] = case["field"]
        else:
            kwargs["bash_command"] = case["template"]
        task = BashOperator(task_id=task_id, dag=dag, **kwargs)
        for t in sorted({x["task_id"] for x in xcoms if x["dag_id"] == dag_id}):
            if t != task_id:
                EmptyOperator(task_id=t, dag=dag)

        ti_id = uuid.uuid5(uuid.NAMESPACE_URL, "task-runner-fixture/" + case["name"])
        ctx_mod.get_previous_dagrun_success.cache_clear()
        what = TIModel(
            id=ti_id,
            task_id=task_id,
            dag_id=dag_id,
            run_id=run_id,
            try_number=ctx.get("try_number", 1),
            map_index=ctx.get("map_index", -1),
            dag_version_id=uuid.uuid5(uuid.NAMESPACE_URL, "task-runner-fixture-dag-version"),
        )
        api = FakeExecutionAPI(ctx, ti_id)
        client = InProcessTestSupervisor._Client(
            base_url=None, token="", dry_run=True, transport=httpx.MockTransport(api)
        )
        client.base_url = "http://in-process.invalid./"
        supervisor = InProcessTestSupervisor(
            id=what.id,
            pid=os.getpid(),
            process=psutil.Process(),
            process_log=structlog.get_logger(logger_name="task").bind(),
            client=client,
        )
        supervisor.comms = InProcessSupervisorComms(supervisor=supervisor)
        with set_supervisor_comms(supervisor.comms):
            supervisor.ti = what
            start_date = pendulum.datetime(2024, 6, 2, 0, 5, tz="UTC")
            ti_context = supervisor.client.task_instances.start(supervisor.id, supervisor.pid, start_date)
            ti = RuntimeTaskInstance.model_construct(
                **what.model_dump(exclude_unset=True),
                task=task,
                _ti_context_from_server=ti_context,
                max_tries=ti_context.max_tries,
                start_date=start_date,
                state=TaskInstanceState.RUNNING,
            )
            context = ti.get_template_context()
            # == task_runner._prepare, up to rendering ==
            ti.task = ti.task.prepare_for_execution()
            context["task"] = ti.task
            jinja_env = ti.task.dag.get_template_env()
            try:
                ti.render_templates(context=context, jinja_env=jinja_env)
            except Exception as exc:  # the template's own failure: an expected result
                raise TemplateFailure(exc) from exc
            rendered = ti.task.env if "field" in case else ti.task.bash_command
            return result_record(case, rendered)


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default=str(DEFAULT_CASES))
    ap.add_argument("--out", default=None)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--show", action="store_true", help="print each result")
    args = ap.parse_args()

    text = Path(args.cases).read_text()
    portability = yaml_portability_problems(text)
    if portability:
        sys.exit("cases file has scalars that YAML 1.1 and 1.2 parsers read differently; quote them:\n  " + "\n  ".join(portability))
    spec = yaml.safe_load(text)
    default_ctx = spec["default_context"]
    default_env = spec.get("default_env") or {}
    names = set()
    for case in spec["cases"]:
        if case["name"] in names:
            sys.exit(f"duplicate case name {case['name']}")
        names.add(case["name"])
        if ("template" in case) == ("field" in case):
            sys.exit(f"case {case['name']}: exactly one of template/field")

    renderer = Airflow3Renderer() if MAJOR >= 3 else Airflow2Renderer()
    results = {}
    problems = []
    harness_failures = []
    for case in spec["cases"]:
        if args.only and case["name"] not in args.only:
            continue
        profiles = case.get("profiles") or ["airflow2", "airflow3"]
        if PROFILE not in profiles:
            continue
        ctx = dict(default_ctx)
        ctx.update(case.get("context") or {})
        env = env_for_case(default_env, case.get("env"), ctx)
        with patched_environ(env):
            try:
                rec = renderer.render(case, ctx, env)
            except TemplateFailure as failure:
                rec = error_record(failure.original)
                if os.environ.get("FIXTURE_DEBUG"):
                    traceback.print_exc()
            except Exception:
                print(f"HARNESS FAILURE in case {case['name']}:", file=sys.stderr)
                traceback.print_exc()
                harness_failures.append(case["name"])
                continue
        text = json.dumps(rec)
        if " at 0x" in text:
            problems.append(f"{case['name']}: output contains a memory address: {text}")
        results[case["name"]] = rec
        if args.show:
            print(f"{case['name']}: {text}")

    out = {
        "airflow_version": AIRFLOW_VERSION,
        "python_version": platform.python_version(),
        "pendulum_version": __import__("importlib.metadata").metadata.version("pendulum"),
        "jinja2_version": __import__("jinja2").__version__,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "profile": PROFILE,
        "cases": results,
    }
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1, ensure_ascii=False, sort_keys=False) + "\n")
        print(f"{PROFILE} (Airflow {AIRFLOW_VERSION}): {len(results)} cases -> {args.out}")
    for p in problems:
        print("WARNING:", p, file=sys.stderr)
    if harness_failures:
        sys.exit(f"generator setup failed for {len(harness_failures)} case(s): {', '.join(harness_failures)}")


if __name__ == "__main__":
    main()
