#!/usr/bin/env python3
"""Compute the `ti.xcom_pull` case table with REAL Airflow.

Every case is a set of XCom rows (the payload's `xcom` list, in its order) and one call
of `ti.xcom_pull`. Each Airflow stores the rows in a real metadata DB (sqlite, created
with Airflow's own `initdb`) and makes the call through its own code:

- Airflow 2.10: `TaskInstance.xcom_pull` (`_xcom_pull`, `XCom.get_many`,
  `LazyXComSelectSequence`) on the DB directly;
- Airflow 3.x: the Task SDK's `RuntimeTaskInstance.xcom_pull`, whose `XCom.get_one` /
  `get_all` go through `SUPERVISOR_COMMS` to `InProcessTestSupervisor` (what `dag.test()`
  uses), whose client talks to the real Execution API (`InProcessExecutionAPI`, the
  FastAPI app, in process) over the same DB.

Where Airflow takes "the most recent" XCom, the payload's earlier entry stands for the
more recent one: row i is stored with a timestamp i seconds before row 0's.

    python3 tools/xcom-pull/generate.py            # writes fixtures/xcom_pull.json
    python3 tools/xcom-pull/generate.py --check    # exits 1 if the table is out of date

The Airflow interpreters come from ``--airflow PYTHON`` (repeatable), else
``$TR_AIRFLOW2_PYTHON`` / ``$TR_AIRFLOW3_PYTHON``, else ``target/provider-env.sh``
(written by ``scripts/airflow-venvs.sh``), here or in the main checkout. Run under an
Airflow interpreter with ``--evaluate OUT`` it writes that Airflow's outcomes.
"""

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TABLE = REPO / "fixtures" / "xcom_pull.json"

# The calling task instance.
TI = {"dag_id": "d", "task_id": "me", "run_id": "manual__2024-06-01T00:00:00+00:00", "map_index": -1}
OLDER_RUN = "scheduled__2024-05-31T00:00:00+00:00"

# Named sets of XCom rows, as the payload's `xcom` list gives them (absent dag_id /
# run_id: the task's own; absent key: return_value; absent map_index: -1).
ROWS = {
    "basic": [
        {"task_id": "up", "value": 1},
        {"task_id": "up", "key": "other", "value": "second key"},
        {"task_id": "up2", "value": "two"},
        {"task_id": "nullv", "value": None},
        {"task_id": "up", "value": "other dag", "dag_id": "other_dag"},
        {"task_id": "up", "value": "older run", "run_id": OLDER_RUN},
    ],
    "own": [
        {"task_id": "me", "value": "own"},
        {"task_id": "up", "value": 1},
    ],
    "keys": [  # row 0 is the most recent
        {"task_id": "up", "key": "k2", "value": "newest"},
        {"task_id": "up", "key": "k1", "value": "older"},
        {"task_id": "up2", "key": "k3", "value": "up2's"},
    ],
    "mapped": [
        {"task_id": "m", "value": "c", "map_index": 2},
        {"task_id": "m", "value": "a", "map_index": 0},
        {"task_id": "m", "value": "b", "map_index": 1},
        {"task_id": "m", "key": "extra", "value": "x0", "map_index": 0},
        {"task_id": "m1", "value": "only", "map_index": 0},
        {"task_id": "up", "value": 1},
        {"task_id": "up", "value": [1, {"nested": True}], "key": "structured"},
    ],
}

# (name, rows, positional args, keyword args). Not here: include_prior_dates=True, which
# needs the other runs' dates (a payload carries none; every implementation ignores it).
CALLS = [
    ("one", "basic", [], {"task_ids": "up"}),
    ("positional", "basic", ["up"], {}),
    ("positional_dag_and_key", "basic", ["up", None, "other"], {}),
    ("other_key", "basic", [], {"task_ids": "up", "key": "other"}),
    ("key_none", "basic", [], {"task_ids": "up", "key": None}),
    ("key_empty", "basic", [], {"task_ids": "up", "key": ""}),
    ("missing", "basic", [], {"task_ids": "nope"}),
    ("missing_default", "basic", [], {"task_ids": "nope", "default": "dflt"}),
    ("null_value", "basic", [], {"task_ids": "nullv"}),
    ("null_value_default", "basic", [], {"task_ids": "nullv", "default": "dflt"}),
    ("list", "basic", [], {"task_ids": ["up", "up2"]}),
    ("list_order_and_missing", "basic", [], {"task_ids": ["up2", "nope", "up"]}),
    ("list_missing_default", "basic", [], {"task_ids": ["nope"], "default": "dflt"}),
    ("list_empty", "basic", [], {"task_ids": []}),
    ("list_key_none", "basic", [], {"task_ids": ["up2", "up"], "key": None}),
    ("task_ids_none", "basic", [], {}),
    ("task_ids_none_key_none", "basic", [], {"key": None}),
    ("task_ids_none_own", "own", [], {}),
    ("dag_id", "basic", [], {"task_ids": "up", "dag_id": "other_dag"}),
    ("dag_id_missing", "basic", [], {"task_ids": "up", "dag_id": "nope_dag"}),
    ("run_id", "basic", [], {"task_ids": "up", "run_id": OLDER_RUN}),
    ("run_id_own", "basic", [], {"task_ids": "up", "run_id": TI["run_id"]}),
    ("map_indexes_minus_one", "basic", [], {"task_ids": "up", "map_indexes": -1}),
    ("map_indexes_list_unmapped", "basic", [], {"task_ids": "up", "map_indexes": [-1]}),
    ("keys_none_most_recent", "keys", [], {"task_ids": "up", "key": None}),
    ("keys_none_any_task", "keys", [], {"key": None}),
    ("keys_none_list", "keys", [], {"task_ids": ["up2", "up"], "key": None}),
    ("mapped_all", "mapped", [], {"task_ids": "m"}),
    ("mapped_one_row", "mapped", [], {"task_ids": "m1"}),
    ("mapped_index", "mapped", [], {"task_ids": "m", "map_indexes": 1}),
    ("mapped_index_missing", "mapped", [], {"task_ids": "m", "map_indexes": 7}),
    ("mapped_index_missing_default", "mapped", [], {"task_ids": "m", "map_indexes": 7, "default": "dflt"}),
    ("mapped_indexes_list", "mapped", [], {"task_ids": "m", "map_indexes": [2, 0]}),
    ("mapped_indexes_list_missing", "mapped", [], {"task_ids": "m", "map_indexes": [1, 7], "default": "dflt"}),
    ("mapped_indexes_none", "mapped", [], {"task_ids": "m", "map_indexes": None}),
    ("mapped_default_unused", "mapped", [], {"task_ids": "m", "default": "dflt"}),
    ("mapped_other_key", "mapped", [], {"task_ids": "m", "key": "extra"}),
    ("mapped_key_none", "mapped", [], {"task_ids": "m", "key": None}),
    ("mapped_in_list", "mapped", [], {"task_ids": ["up", "m"]}),
    ("mapped_list_with_indexes", "mapped", [], {"task_ids": ["m1", "m"], "map_indexes": [0, 1]}),
    ("unmapped_with_index_list", "mapped", [], {"task_ids": ["up"], "map_indexes": [0]}),
    ("structured_value", "mapped", [], {"task_ids": "up", "key": "structured"}),
]


# ---------------------------------------------------------------------------
# Inside an Airflow interpreter
# ---------------------------------------------------------------------------
def jsonable(value):
    """What the pull returned, as JSON, and its Python type name."""
    kind = type(value).__name__
    if kind == "LazyXComSelectSequence":
        value = list(value)
    return json.loads(json.dumps(value)), kind


def rows_with_ids(rows):
    out = []
    for row in rows:
        row = dict(row)
        row.setdefault("key", "return_value")
        row.setdefault("map_index", -1)
        row.setdefault("dag_id", TI["dag_id"])
        row.setdefault("run_id", TI["run_id"])
        out.append(row)
    return out


class Store:
    """A real metadata DB holding one row set at a time."""

    def __init__(self, major):
        from sqlalchemy import event

        from airflow import settings
        from airflow.utils import db

        self.major = major
        db.initdb()

        # Foreign keys off: the rows need their DagRuns (XCom.set looks them up, and
        # include_prior_dates joins them) but not TaskInstance / DAG rows, which play
        # no part in selecting XComs. Registered after Airflow's own connect hook.
        @event.listens_for(settings.engine, "connect")
        def no_foreign_keys(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.close()

        settings.engine.dispose()

    def load(self, rows):
        from sqlalchemy import delete, update

        from airflow.models.dagrun import DagRun
        from airflow.models.xcom import XCom
        from airflow.utils.session import create_session
        from airflow.utils.state import DagRunState

        model, serialize = XCom, None
        if self.major >= 3:
            # As the Execution API stores what a task's XCom.set sent: the Task SDK's
            # serde output, not serialized again (routes/xcoms.py, serialize=False).
            from airflow.models.xcom import XComModel as model
            from airflow.sdk.serde import serialize
        when = {TI["run_id"]: _dt.datetime(2024, 6, 1, tzinfo=_dt.timezone.utc),
                OLDER_RUN: _dt.datetime(2024, 5, 31, tzinfo=_dt.timezone.utc)}
        with create_session() as session:
            session.execute(delete(model))
            session.execute(delete(DagRun))
            for dag_id, run_id in sorted({(r["dag_id"], r["run_id"]) for r in rows} | {(TI["dag_id"], TI["run_id"])}):
                date = when.get(run_id, when[TI["run_id"]])
                kwargs = dict(dag_id=dag_id, run_id=run_id, state=DagRunState.RUNNING,
                              run_type=run_id.split("__")[0], data_interval=(date, date))
                if self.major >= 3:
                    kwargs.update(logical_date=date, run_after=date)
                else:
                    kwargs.update(execution_date=date, external_trigger=False)
                session.add(DagRun(**kwargs))
            session.flush()
            base = _dt.datetime(2024, 6, 1, 12, tzinfo=_dt.timezone.utc)
            for i, row in enumerate(rows):
                extra = {} if serialize is None else {"serialize": False}
                value = row["value"] if serialize is None else serialize(row["value"])
                model.set(key=row["key"], value=value, task_id=row["task_id"], dag_id=row["dag_id"],
                          run_id=row["run_id"], map_index=row["map_index"], session=session, **extra)
                session.flush()
                session.execute(
                    update(model)
                    .where(model.dag_id == row["dag_id"], model.run_id == row["run_id"],
                           model.task_id == row["task_id"], model.map_index == row["map_index"],
                           model.key == row["key"])
                    .values(timestamp=base - _dt.timedelta(seconds=i))
                )


class Airflow2Puller:
    def __init__(self):
        from airflow.models.dag import DAG
        from airflow.models.taskinstance import TaskInstance
        from airflow.operators.empty import EmptyOperator

        dag = DAG(TI["dag_id"], schedule=None, start_date=_dt.datetime(2020, 1, 1, tzinfo=_dt.timezone.utc))
        task = EmptyOperator(task_id=TI["task_id"], dag=dag)
        self.ti = TaskInstance(task, run_id=TI["run_id"], map_index=TI["map_index"])

    def pull(self, args, kwargs):
        return self.ti.xcom_pull(*args, **kwargs)


class Airflow3Puller:
    def __init__(self):
        import uuid

        import psutil
        import structlog

        from airflow.sdk.api.datamodels._generated import TaskInstance as TIModel
        from airflow.sdk.execution_time.supervisor import InProcessSupervisorComms, InProcessTestSupervisor
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(50))
        what = TIModel(id=uuid.uuid5(uuid.NAMESPACE_URL, "task-runner-xcom-pull"), task_id=TI["task_id"],
                       dag_id=TI["dag_id"], run_id=TI["run_id"], try_number=1, map_index=TI["map_index"],
                       dag_version_id=uuid.uuid5(uuid.NAMESPACE_URL, "task-runner-xcom-pull-version"))
        # As InProcessTestSupervisor.start builds it (dag.test()), the DB-backed
        # in-process Execution API as its client.
        supervisor = InProcessTestSupervisor(
            id=what.id, pid=os.getpid(), process=psutil.Process(),
            process_log=structlog.get_logger(logger_name="task").bind(),
            client=InProcessTestSupervisor._api_client(),
        )
        supervisor.comms = InProcessSupervisorComms(supervisor=supervisor)
        supervisor.ti = what
        self.comms = supervisor.comms
        self.ti = RuntimeTaskInstance.model_construct(**what.model_dump(exclude_unset=True), task=None)

    def pull(self, args, kwargs):
        from airflow.sdk.execution_time.supervisor import set_supervisor_comms

        with set_supervisor_comms(self.comms):
            return self.ti.xcom_pull(*args, **kwargs)


def evaluate(out):
    import airflow

    major = int(airflow.__version__.split(".")[0])
    store = Store(major)
    puller = Airflow3Puller() if major >= 3 else Airflow2Puller()
    outcomes = {}
    loaded = None
    for name, rows, args, kwargs in CALLS:
        if rows != loaded:
            store.load(rows_with_ids(ROWS[rows]))
            loaded = rows
        try:
            value, kind = jsonable(puller.pull(args, kwargs))
            outcome = {"value": value, "type": kind}
        except Exception as exc:  # the call's own failure is an expected result
            # The first line: pydantic's further lines name its version and URL.
            outcome = {"error": "%s: %s" % (type(exc).__name__, str(exc).split("\n")[0])}
        outcomes[name] = outcome
    Path(out).write_text(json.dumps({"airflow_version": airflow.__version__, "outcomes": outcomes}))


# ---------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------
def airflow_pythons(given):
    if given:
        return given
    keys = ("TR_AIRFLOW2_PYTHON", "TR_AIRFLOW3_PYTHON")
    found = [os.environ[k] for k in keys if os.environ.get(k)]
    if found:
        return found
    for env_file in (REPO / "target" / "provider-env.sh",):
        if env_file.is_file():
            values = dict(line[len("export "):].split("=", 1) for line in env_file.read_text().splitlines()
                          if line.startswith("export ") and "=" in line)
            found = [values[k].strip("'\"") for k in keys if k in values]
            if found:
                return found
    sys.exit("no Airflow interpreter: pass --airflow PYTHON, set TR_AIRFLOW2_PYTHON/TR_AIRFLOW3_PYTHON, "
             "or run scripts/airflow-venvs.sh")


def run_airflow(python):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    with tempfile.TemporaryDirectory(prefix="xcom-pull-home-") as home:
        env.update(AIRFLOW_HOME=home, AIRFLOW__CORE__LOAD_EXAMPLES="False",
                   AIRFLOW__CORE__UNIT_TEST_MODE="True")
        out = Path(home) / "outcomes.json"
        subprocess.run([python, str(Path(__file__).resolve()), "--evaluate", str(out)], env=env, cwd=home,
                       stdout=subprocess.DEVNULL, check=True)
        return json.loads(out.read_text())


def build_table(runs):
    runs = sorted(runs, key=lambda r: int(r["airflow_version"].split(".")[0]))
    majors = {r["airflow_version"].split(".")[0]: r for r in runs}
    cases = []
    for name, rows, args, kwargs in CALLS:
        cases.append({"name": name, "rows": rows, "args": args, "kwargs": kwargs,
                      "expect": {major: r["outcomes"][name] for major, r in majors.items()}})
    return {
        "about": "ti.xcom_pull as real Airflow does it: each case's rows (a payload `xcom` "
                 "list; earlier = more recent) stored in a real metadata DB, the call made by "
                 "Airflow's own code (2.x: TaskInstance.xcom_pull; 3.x: the Task SDK's, through "
                 "the in-process supervisor and Execution API). `expect` per Airflow major: "
                 "{value, type} or {error}. Generated by tools/xcom-pull/generate.py; read by "
                 "tests/xcom_pull.rs and runners/tests/xcom_pull.py.",
        "airflow_versions": {major: r["airflow_version"] for major, r in majors.items()},
        "ti": TI,
        "rows": ROWS,
        "cases": cases,
    }


def table_text(table):
    # One case per line: diffs stay readable.
    head = {k: v for k, v in table.items() if k != "cases"}
    text = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
    lines = [json.dumps(c, ensure_ascii=False, sort_keys=False) for c in table["cases"]]
    return text + ',\n "cases": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--airflow", action="append", help="an Airflow interpreter (repeatable)")
    ap.add_argument("--check", action="store_true", help="exit 1 if the table is out of date")
    ap.add_argument("--evaluate", metavar="OUT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.evaluate:
        evaluate(args.evaluate)
        return 0
    runs = [run_airflow(p) for p in airflow_pythons(args.airflow)]
    text = table_text(build_table(runs))
    if args.check:
        if TABLE.read_text() != text:
            print("%s is out of date: run tools/xcom-pull/generate.py" % TABLE.relative_to(REPO))
            return 1
        print("%s is up to date" % TABLE.relative_to(REPO))
        return 0
    TABLE.write_text(text)
    print("wrote %s: %d cases, Airflow %s" % (TABLE.relative_to(REPO), len(runs and CALLS),
                                              " and ".join(r["airflow_version"] for r in runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
