"""Kubernetes-backend tasks for test_kubernetes_pod.py (no cluster needed: the
test runs this DAG with dag.test() and emulates each pod with Docker).

Each task covers one way the pod gets what it needs:
  sql_rows          connections in a per-task Secret the provider creates (inject_connections="secret")
  sql_rows_mounted  connections from a cluster Secret the DAG mounts (the default: nothing injected)
  summarize_py27    @task.task_runner on Python 2.7, consuming the rows of sql_rows (an XComArg)
  returns_none      a function returning None: the sidecar finds no file, no XCom
  ruby_report       a Ruby template file reading the rows of sql_rows through ti.xcom_pull
  env_optin         connections in the pod's env in plain text (opted in: kubernetes_kwargs={"inject_connections": "env"})
  xcom_default      no do_xcom_push given: what the backend does by default
  no_xcom           do_xcom_push=False: no sidecar
"""

from __future__ import annotations

import pendulum
from airflow.providers.cncf.kubernetes.secret import Secret

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.decorators import task

from task_runner_provider import TaskRunnerOperator

K8S = {"backend": "kubernetes", "namespace": "data"}
SQL = {
    "operator": "sql",
    "conn_id": "warehouse",
    "sql": "sql/daily.sql",
    "parameters": {"region": "{{ params.region }}", "day": "{{ ds }}"},
}

with DAG(
    dag_id="tr_kpo",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"region": "emea"},
    default_args={"retries": 0},
) as dag:
    sql_rows = TaskRunnerOperator(
        task_id="sql_rows", image="sql-scratch:test", inject_connections="secret", do_xcom_push=True, **SQL, **K8S
    )
    sql_rows_mounted = TaskRunnerOperator(
        task_id="sql_rows_mounted",
        image="sql-scratch:test",
        secrets=[Secret("volume", "/run/secrets/warehouse", "warehouse-conn")],
        env_vars={"TASK_RUNNER_SECRETS_DIR": "/run/secrets/warehouse"},
        do_xcom_push=True,
        **SQL,
        **K8S,
    )

    @task.task_runner(image="python27:test", python="python2.7", do_xcom_push=True, **K8S)
    def summarize_py27(rows, day=None, region=None):
        from fitness_lib import summarize_rows

        return summarize_rows(rows, day, region)

    summarize_py27(sql_rows.output, day="{{ ds }}", region="{{ params.region }}")

    @task.task_runner(image="python3-ruby:test", do_xcom_push=True, **K8S)
    def returns_none(day=None):
        print("nothing to return on %s" % day)

    returns_none(day="{{ ds }}")

    ruby_report = TaskRunnerOperator(
        task_id="ruby_report",
        image="python3-ruby:test",
        operator="ruby",
        ruby_script="report.rb",
        args=["Weekly activity, {{ params.region | upper }}, {{ ds }}"],
        do_xcom_push=True,
        **K8S,
    )
    sql_rows >> ruby_report

    TaskRunnerOperator(
        task_id="env_optin",
        image="python3-ruby:test",
        operator="bash",
        bash_command="echo 'db {{ conn.warehouse.host }}:{{ conn.warehouse.port }}/{{ conn.warehouse.schema }}'",
        # the portable spelling: a DAG run on another backend sets it aside
        kubernetes_kwargs={"inject_connections": "env"},
        do_xcom_push=True,
        **K8S,
    )
    TaskRunnerOperator(
        task_id="xcom_default",
        image="python3-ruby:test",
        operator="bash",
        bash_command="echo 'day {{ ds }}'",
        **K8S,
    )
    TaskRunnerOperator(
        task_id="no_xcom",
        image="python3-ruby:test",
        operator="bash",
        bash_command="echo 'nothing to push on {{ ds }}'",
        do_xcom_push=False,
        **K8S,
    )
