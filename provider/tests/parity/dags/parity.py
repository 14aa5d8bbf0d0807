"""Context parity: the same templates and the same function, rendered and run by
Airflow itself (BashOperator, PythonOperator) and by task-runner (local
backend). The test compares the XComs of each pair."""

from __future__ import annotations

import datetime

import airflow
import pendulum

try:
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG
except ImportError:
    from airflow.models.dag import DAG
    from airflow.operators.bash import BashOperator
    from airflow.operators.python import PythonOperator

from task_runner_provider import TaskRunnerOperator

AIRFLOW_3 = int(airflow.__version__.split(".")[0]) >= 3

FIELDS = [
    "{{ ds }}", "{{ ds_nodash }}", "{{ ts }}", "{{ ts_nodash }}", "{{ ts_nodash_with_tz }}",
    "{{ logical_date }}", "{{ logical_date.isoformat() }}", "{{ data_interval_start }}", "{{ data_interval_end }}",
    "{{ run_id }}", "{{ dag_run.run_id }}", "{{ dag_run.conf }}", "{{ dag_run.run_type == 'manual' }}",
    "{{ dag.dag_id }}", "{{ task.task_id }}", "{{ ti.task_id }}", "{{ task_instance_key_str }}",
    "{{ ti.try_number }}", "{{ ti.map_index }}", "{{ ti.max_tries }}", "{{ task.owner }}",
    "{{ params }}", "{{ params.region }}", "{{ params.limit + 1 }}",
    "{{ prev_start_date_success is none }}", "{{ prev_data_interval_start_success }}",
    "{{ prev_data_interval_end_success }}",
    "{{ macros.ds_add(ds, 3) }}", "{{ (logical_date - macros.timedelta(days=1)).strftime('%Y-%m %A') }}",
    "{{ data_interval_end - data_interval_start }}",
    "{{ ti.xcom_pull(task_ids='up') }}", "{{ ti.xcom_pull(task_ids='up', key='return_value')[1] }}",
    "{{ var.value.region }}", "{{ var.json.limits.daily }}", "{{ var.value.get('missing', 'dflt') }}",
    "{{ conn.warehouse.host }}", "{{ conn.warehouse.port }}", "{{ conn.warehouse.login }}",
    "{{ conn.warehouse.schema }}", "{{ conn.warehouse.conn_type }}",
]
if not AIRFLOW_3:
    FIELDS += [
        "{{ execution_date }}", "{{ prev_ds }}", "{{ next_ds }}", "{{ yesterday_ds }}", "{{ tomorrow_ds_nodash }}",
        "{{ prev_execution_date }}", "{{ next_execution_date }}", "{{ dag_run.run_type }}", "{{ test_mode }}",
    ]

# BashOperator's XCom is the last line: all fields on one line, in a quoted
# heredoc so no shell expansion touches what the templates produced.
BASH = "cat <<'PARITY_EOF'\n" + " ¦ ".join(FIELDS) + "\nPARITY_EOF"


def context_view(label, **context):
    ti = context["ti"]
    keys = ["ds", "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz", "run_id", "task_instance_key_str"]
    dates = ["logical_date", "data_interval_start", "data_interval_end", "prev_data_interval_start_success"]
    out = {k: context[k] for k in keys}
    for k in dates:
        value = context.get(k)
        out[k] = value.isoformat() if value else None
    out.update(
        label=label,
        params=dict(context["params"]),
        conf=dict(context["dag_run"].conf or {}),
        run_id_of_dag_run=context["dag_run"].run_id,
        try_number=ti.try_number,
        map_index=ti.map_index,
        max_tries=ti.max_tries,
        dag_id=context["dag"].dag_id,
        task_id=context["task"].task_id,
        upstream=ti.xcom_pull(task_ids="up"),
        templates=context.get("templates_dict"),
    )
    return out


with DAG(
    "parity",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"region": "emea", "limit": 41},
    default_args={"retries": 2, "retry_delay": datetime.timedelta(seconds=1), "owner": "data-eng"},
):
    up = PythonOperator(task_id="up", python_callable=lambda: [1, "two"])
    native_bash = BashOperator(task_id="native_bash", bash_command=BASH)
    runner_bash = TaskRunnerOperator(task_id="runner_bash", backend="local", operator="bash", bash_command=BASH)
    templates = {"when": "{{ ds }}/{{ params.region }}"}
    native_py = PythonOperator(
        task_id="native_py", python_callable=context_view, op_args=["{{ params.region }}"], templates_dict=templates
    )
    runner_py = TaskRunnerOperator(
        task_id="runner_py", backend="local", operator="python", python_callable=context_view,
        op_args=["{{ params.region }}"], templates_dict=templates,
    )
    up >> [native_bash, runner_bash, native_py, runner_py]
