"""Print one DAG run as Airflow stored it: task states and XComs, as JSON.

Run with the Python of the Airflow venv under test, with AIRFLOW_HOME set to
the home the run used:

    python read_run.py <dag_id> [<run_id>]

Without a run id the newest run of the DAG is read. The values are read with
Airflow's own API (the ORM models and XCom deserialisation of the running
version), so they are what a downstream task would get. Each XCom comes with
the Python type Airflow handed back (`list`, `dict`, `str`...), which the tests
use to tell a real object from a JSON string.
"""

from __future__ import annotations

import json
import sys


def _plain(value):
    """JSON-able form: tuples (Airflow round-trips them) become lists."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return {"__unjsonable__": repr(value), "__type__": type(value).__name__}


def main(argv):
    dag_id = argv[1]
    wanted_run = argv[2] if len(argv) > 2 else None

    from airflow import __version__
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    airflow3 = int(__version__.split(".")[0]) >= 3
    if airflow3:
        # Rows of the metadata DB; values are decoded the way a task reading
        # them gets them (the Task SDK's BaseXCom, airflow.sdk.serde).
        from airflow.models.xcom import XComModel as XCom
        from airflow.sdk.bases.xcom import BaseXCom

        def decode(row):
            return BaseXCom.deserialize_value(row)
    else:
        # Airflow 2's BaseXCom deserialises on load (an ORM reconstructor).
        from airflow.models.xcom import XCom

        def decode(row):
            return row.value

    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == dag_id).all()
        if wanted_run:
            runs = [r for r in runs if r.run_id == wanted_run]
        if not runs:
            print(json.dumps({"error": "no dag run of %s (run %s)" % (dag_id, wanted_run)}))
            return 1
        run = max(runs, key=lambda r: (r.start_date or r.logical_date, r.id))
        tis = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
            .all()
        )
        rows = session.query(XCom).filter(XCom.dag_id == dag_id, XCom.run_id == run.run_id).all()
        xcoms = []
        for row in rows:
            value = decode(row)
            xcoms.append(
                {
                    "task_id": row.task_id,
                    "map_index": row.map_index,
                    "key": row.key,
                    "type": type(value).__name__,
                    "value": _plain(value),
                }
            )
        out = {
            "airflow_version": __version__,
            "dag_run": {
                "run_id": run.run_id,
                "state": getattr(run.state, "value", run.state),
                "logical_date": run.logical_date.isoformat() if run.logical_date else None,
                "conf": run.conf,
            },
            "task_instances": [
                {
                    "task_id": ti.task_id,
                    "map_index": ti.map_index,
                    "state": getattr(ti.state, "value", ti.state),
                    "try_number": ti.try_number,
                    "operator": ti.operator,
                }
                for ti in tis
            ],
            "xcoms": xcoms,
        }
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
