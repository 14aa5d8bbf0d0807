"""Reliability: many container tasks in one DAG run, for test_reliability.py.

  provider_echo  @task.task_runner on the docker backend, mapped over N values:
                 each container prints noise on stdout and stderr, returns a dict
                 (read back by retrieve_output from /airflow/xcom/return.json)
  provider_bash  DockerTaskRunnerOperator.partial(...).expand(bash_command=...)
  stock          STOCK DockerOperator (no provider) running the runner image with
                 TASK_RUNNER_XCOM_STDOUT=1: DockerOperator pushes the last log
                 line, which must be exactly the XCom JSON every time

N is TR_E2E_RELIABILITY_N (default 100); the stock image is TR_E2E_STOCK_IMAGE
(the full name: no provider adds a registry to it).
"""

from __future__ import annotations

import os
import sys

import pendulum
from airflow.providers.docker.operators.docker import DockerOperator

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.decorators import task

from task_runner_provider.operators.docker import DockerTaskRunnerOperator

N = int(os.environ.get("TR_E2E_RELIABILITY_N", "100"))
STOCK_IMAGE = os.environ.get("TR_E2E_STOCK_IMAGE", "task-runner-example/python3-ruby:test")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from stock_spec import stock_payload  # noqa: E402


with DAG(
    dag_id="tr_reliability",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=1,
    default_args={"retries": 0},
) as dag:

    @task.task_runner(image="python3-ruby:test", backend="docker")
    def provider_echo(i):
        import sys

        for n in range(30):
            print("stdout line %d of task %d" % (n, i))
            sys.stderr.write("stderr line %d of task %d\n" % (n, i))
        return {
            "i": i,
            "square": i * i,
            "label": u"task-%03d \u2713" % i,
            "nested": [i, {"even": i % 2 == 0, "none": None}],
            "big": 2**70 + i,
        }

    provider_echo.expand(i=list(range(N)))

    DockerTaskRunnerOperator.partial(
        task_id="provider_bash", image="python3-ruby:test", operator="bash"
    ).expand(bash_command=[f"echo noise >&2; echo 'bash {j} on {{{{ ds }}}}'" for j in range(10)])

    DockerOperator.partial(
        task_id="stock",
        image=STOCK_IMAGE,
        do_xcom_push=True,
        auto_remove="success",
        mount_tmp_dir=False,
    ).expand(environment=[{"TASK_RUNNER_XCOM_STDOUT": "1", "TASK_RUNNER_SPEC": stock_payload(i)} for i in range(N)])
