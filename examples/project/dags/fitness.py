"""The task-runner fitness DAG: six checks that the provider runs real work in
team images and brings real results back, next to stock Airflow operators
doing the same work in-process.

  1. sql_rows          SQL on the `warehouse` connection, a template file with
                       Airflow templates and bound parameters -> rows as the XCom
  2. sql_rows_scratch  the same from a FROM-scratch image: no Python, no driver
  3. ruby_report       a Ruby template script, fed the rows of 1 -> a Hash
  4. summarize         a function of this file (@task.task_runner), importing
                       include/fitness_lib.py, taking a template and the rows of 1
  5. summarize_py27    the same function under Python 2.7 (python27 image)
  6. compare           takes the XComs of 4 and 5, fails the run if they differ

Native comparators, stock Airflow: native_sql (SQLExecuteQueryOperator on the
same SQL file) and summarize_native (@task, the same function in-process).
mask_check prints the warehouse password through a template: the log must
show *** only.

The images are named without a registry ("python3-ruby:test"); set
[task_runner] docker_registry / kubernetes_registry for the prefix. The backend
is [task_runner] backend (docker by default). Containers reach the database on
the host network (docker_kwargs network_mode=host).

Run: airflow dags test fitness 2024-06-01
"""

from __future__ import annotations

import os
import sys

import pendulum

try:  # Airflow 3
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2.10
    from airflow.decorators import dag, task

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from task_runner_provider import TaskRunnerOperator

# include/ sits next to dags/ in the project, and is baked into the images at
# /opt/airflow/include. The in-process comparator imports from it too.
INCLUDE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "include")
if INCLUDE not in sys.path:
    sys.path.insert(0, INCLUDE)

PY3_IMAGE = "python3-ruby:test"
PY27_IMAGE = "python27:test"
SCRATCH_IMAGE = "sql-scratch:test"
# Only the Docker backend reads these: the containers use the host's network
# to reach PostgreSQL on 127.0.0.1.
DOCKER = {"network_mode": "host"}

SQL_PARAMETERS = {"region": "{{ params.region }}", "day": "{{ ds }}"}


@dag(
    dag_id="fitness",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"region": "emea"},
    template_searchpath=[INCLUDE],
    tags=["task-runner", "fitness"],
    default_args={"retries": 0},
)
def fitness():
    # 1. SQL with a connection and a template file -> rows as the XCom.
    sql_rows = TaskRunnerOperator(
        task_id="sql_rows",
        image=PY3_IMAGE,
        operator="sql",
        conn_id="warehouse",
        sql="sql/daily.sql",
        parameters=SQL_PARAMETERS,
        docker_kwargs=DOCKER,
    )

    # 2. The same from the FROM-scratch image (the binary alone), named by the
    #    Airflow class this time.
    sql_rows_scratch = TaskRunnerOperator(
        task_id="sql_rows_scratch",
        image=SCRATCH_IMAGE,
        operator=SQLExecuteQueryOperator,
        conn_id="warehouse",
        sql="sql/daily.sql",
        parameters=SQL_PARAMETERS,
        docker_kwargs=DOCKER,
    )

    # Native comparator of 1: Airflow renders the same file and runs it with
    # psycopg2 in the worker.
    native_sql = SQLExecuteQueryOperator(
        task_id="native_sql",
        conn_id="warehouse",
        sql="sql/daily.sql",
        parameters=SQL_PARAMETERS,
    )

    # 3. Ruby: a template script (include/report.rb) reading the rows of 1.
    ruby_report = TaskRunnerOperator(
        task_id="ruby_report",
        image=PY3_IMAGE,
        operator="ruby",
        ruby_script="report.rb",
        args=["Weekly activity, {{ params.region | upper }}, {{ ds }}"],
        docker_kwargs=DOCKER,
    )
    sql_rows >> ruby_report

    # 4. A function of this DAG file, shipped as source to the image. Only the
    #    function's text travels: imports go inside it. Valid on 2.7 and 3.
    @task.task_runner(image=PY3_IMAGE, docker_kwargs=DOCKER)
    def summarize(rows, day=None, region=None):
        from fitness_lib import summarize_rows

        return summarize_rows(rows, day, region)

    template_args = {"day": "{{ ds }}", "region": "{{ params.region }}"}
    py3 = summarize(sql_rows.output, **template_args)

    # 5. The same function under Python 2.7.
    py27 = summarize.override(task_id="summarize_py27", image=PY27_IMAGE, python="python2.7")(
        sql_rows.output, **template_args
    )

    # Native comparator of 4: the same function, in-process.
    task(task_id="summarize_native")(summarize.function)(native_sql.output, **template_args)

    # 6. The two results must match, or the run fails.
    @task.task_runner(image=PY3_IMAGE, docker_kwargs=DOCKER)
    def compare(py3, py27):
        from fitness_lib import compare_summaries

        differing = compare_summaries(py3, py27)
        print("python3 vs python2.7: %s" % ("match" if not differing else "differ in %s" % differing))
        if differing:
            raise ValueError("python3 and python2.7 summaries differ in %s" % differing)
        return {"match": True, "keys": len(py3), "checksum": py3["checksum"]}

    compare(py3, py27)

    # The warehouse password through a template: printed as *** by the runner.
    TaskRunnerOperator(
        task_id="mask_check",
        image=PY3_IMAGE,
        operator="bash",
        bash_command=(
            "echo 'warehouse at {{ conn.warehouse.host }}:{{ conn.warehouse.port }}"
            " as {{ conn.warehouse.login }} password {{ conn.warehouse.password }}'"
        ),
        do_xcom_push=False,  # a bash XCom is the last line, unmasked (as in Airflow)
        docker_kwargs=DOCKER,
    )


fitness()
