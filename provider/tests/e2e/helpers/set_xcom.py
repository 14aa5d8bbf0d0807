"""Overwrite one stored return_value XCom of a DAG run (a test's tampering).

    python set_xcom.py <dag_id> <run_id> <task_id> <json value>

Written with Airflow's own API of the venv: Airflow 2 ``XCom.set``; Airflow 3
``XComModel.set`` of the Task SDK's serialised value, as the Execution API
stores a task's push.
"""

from __future__ import annotations

import json
import sys


def main(argv):
    dag_id, run_id, task_id, value = argv[1], argv[2], argv[3], json.loads(argv[4])
    from airflow import __version__
    from airflow.utils.session import create_session

    with create_session() as session:
        if int(__version__.split(".")[0]) >= 3:
            from airflow.models.xcom import XComModel
            from airflow.sdk.serde import serialize

            # as the Execution API stores a task's push: serialised by the SDK, stored as is
            XComModel.set(
                key="return_value", value=serialize(value), dag_id=dag_id, task_id=task_id, run_id=run_id,
                serialize=False, session=session,
            )
        else:
            from airflow.models.xcom import XCom

            XCom.set(key="return_value", value=value, dag_id=dag_id, task_id=task_id, run_id=run_id, session=session)
    print("set", dag_id, run_id, task_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
