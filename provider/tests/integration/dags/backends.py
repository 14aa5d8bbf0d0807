"""Backend behaviours the fitness DAG does not show: skip codes, failures and
their messages, multiple_outputs, mapping, a payload too large for an env var,
XComArg values that look like templates, and None results. Run on each backend."""

from __future__ import annotations

import datetime

import pendulum

try:
    from airflow.sdk import DAG, task
except ImportError:
    from airflow.decorators import task
    from airflow.models.dag import DAG

from task_runner_provider import TaskRunnerOperator

IMAGE = "python3-ruby:test"
SCRATCH = "sql-scratch:test"
# 150,000 characters of SQL: over what one env var may carry once compressed.
BIG = "select length('" + "".join(chr(97 + (i * 7919) % 26) for i in range(150_000)) + "') as n"

with DAG(
    "backends",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 0, "retry_delay": datetime.timedelta(seconds=1)},
):
    TaskRunnerOperator(task_id="skipped", image=IMAGE, operator="bash", bash_command="echo bye; exit 99")
    TaskRunnerOperator(
        task_id="fails", image=IMAGE, operator="bash", bash_command="echo about to fail; exit 3"
    )
    TaskRunnerOperator(task_id="bad_template", image=IMAGE, operator="bash", bash_command="echo {{ no_such_name }}")
    TaskRunnerOperator(task_id="big_sql", image=SCRATCH, operator="sql", conn_id="sqlite_default", sql=BIG)
    @task.task_runner(image=IMAGE)
    def nothing():
        print("returns None")

    nothing()

    @task.task_runner(image=IMAGE, multiple_outputs=True)
    def fan_out(n):
        return {"double": n * 2, "text": "n=%d" % n}

    fan = fan_out(21)

    @task.task_runner(image=IMAGE)
    def echo(value):
        return value

    # An upstream value holding template syntax and a trailing newline is
    # passed through untouched (Airflow never renders an XComArg's value).
    @task.task_runner(image=IMAGE)
    def tricky():
        return "{" + "{ not rendered }} and {" + "% raw %}\n"

    echo.override(task_id="echo_tricky")(tricky())
    echo.override(task_id="echo_fanned")(fan["double"])

    @task.task_runner(image=IMAGE)
    def square(x):
        return x * x

    square.expand(x=[1, 2, 3])
