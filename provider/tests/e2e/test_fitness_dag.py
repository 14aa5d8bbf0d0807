"""The fitness DAG (examples/project/dags/fitness.py), run for real.

For the Airflow of this venv, once per backend (docker: the example images in
the local Docker engine; local: the static binary as a subprocess of the
worker), in a fresh AIRFLOW_HOME: `airflow dags test fitness 2024-06-01`, then
the stored task states and XComs are read back with Airflow's own API and
checked against each other, against the stock operators doing the same work
in-process, and against an independent oracle of the SQL's result.
"""

from __future__ import annotations

import json
import re

import harness
import pytest

BACKENDS = ["docker", "local"]
TASKS = {
    "sql_rows",
    "sql_rows_scratch",
    "native_sql",
    "ruby_report",
    "summarize",
    "summarize_py27",
    "summarize_native",
    "compare",
    "mask_check",
}
RUNNER_TASKS = TASKS - {"native_sql", "summarize_native"}

pytestmark = pytest.mark.parametrize("fitness_run", BACKENDS, indirect=True)


def test_dag_run_succeeded(fitness_run):
    run = fitness_run
    assert run.rc == 0, f"airflow dags test exited {run.rc}:\n{run.output[-6000:]}"
    assert run.stored["dag_run"]["state"] == "success", run.output[-6000:]
    assert run.stored["dag_run"]["logical_date"].startswith(harness.LOGICAL_DATE)
    assert set(run.states) == TASKS, f"tasks of the run: {sorted(run.states)}"
    failed = {t: s for t, s in run.states.items() if s != "success"}
    assert not failed, f"tasks not successful: {failed}\n{run.output[-6000:]}"


def test_runner_tasks_ran_through_the_backend(fitness_run):
    """Each runner task ran as the backend's class (the decorator's own name for @task ones)."""
    prefix = {"docker": "Docker", "local": "Local"}[fitness_run.home.backend]
    allowed = {f"{prefix}TaskRunnerOperator", f"{prefix}TaskRunnerDecoratedOperator", "@task.task_runner"}
    operators = {ti["task_id"]: ti["operator"] for ti in fitness_run.stored["task_instances"]}
    wrong = {t: operators[t] for t in RUNNER_TASKS if operators[t] not in allowed}
    assert not wrong, f"not run by the {fitness_run.home.backend} backend: {wrong}"
    assert operators["native_sql"] == "SQLExecuteQueryOperator"


def test_xcoms_are_real_objects(fitness_run):
    types = fitness_run.xcom_types
    expected = {
        "sql_rows": "list",
        "sql_rows_scratch": "list",
        "ruby_report": "dict",
        "summarize": "dict",
        "summarize_py27": "dict",
        "compare": "dict",
    }
    for task_id, kind in expected.items():
        assert task_id in types, f"{task_id} pushed no return_value XCom; XComs: {sorted(types)}"
        assert types[task_id] == kind, f"{task_id}: XCom is a {types[task_id]}, not a {kind}: {fitness_run.xcoms[task_id]!r}"
    assert "mask_check" not in types  # do_xcom_push=False is honoured


def test_sql_rows_match_the_oracle_and_the_native_operator(fitness_run):
    x = fitness_run.xcoms
    assert x["sql_rows"] == harness.expected_rows(), x["sql_rows"]
    # the stock SQLExecuteQueryOperator (psycopg2) on the same template file:
    # tuples come back as lists through read_run's plain form, nothing else changes
    assert x["sql_rows"] == x["native_sql"]
    # every row is a list of JSON scalars of the right kinds (no stringified values)
    for row in x["sql_rows"]:
        assert [type(v).__name__ for v in row] == ["str", "str", "int", "int", "bool", "bool"], row


def test_scratch_image_equals_python_image(fitness_run):
    assert fitness_run.xcoms["sql_rows_scratch"] == fitness_run.xcoms["sql_rows"]


def test_ruby_report(fitness_run):
    rows = harness.expected_rows()
    report = fitness_run.xcoms["ruby_report"]
    assert report == {
        "day": "2024-06-01",
        "yesterday": "2024-05-31",
        "region": "emea",
        "title": "Weekly activity, EMEA, 2024-06-01",
        "days": 7,
        "total_steps": sum(r[2] for r in rows),
        "max_steps": max(r[2] for r in rows),
        "goal_days": sum(1 for r in rows if r[4]),
        "yesterday_steps": next(r[2] for r in rows if r[0] == "2024-05-31"),
        "month": "2024-06",
    }


def test_decorated_function_equals_native_and_python27(fitness_run):
    x = fitness_run.xcoms
    py3, py27, native = x["summarize"], x["summarize_py27"], x["summarize_native"]
    assert py3 == native, "the image's Python 3 and the in-process @task differ"
    assert py3 == py27, "Python 3 and Python 2.7 differ"
    rows = harness.expected_rows()
    assert py3["day"] == "2024-06-01" and py3["region"] == "emea"  # op_kwargs templates rendered
    assert py3["total_steps"] == sum(r[2] for r in rows)
    assert py3["label"] == "2024-05-26 – 2024-06-01 · EMEA"  # non-ASCII intact on both Pythons
    assert py3["mean_steps"] == sum(r[2] for r in rows) / 7


def test_compare_reported_a_match(fitness_run):
    x = fitness_run.xcoms
    assert x["compare"] == {"match": True, "keys": len(x["summarize"]), "checksum": x["summarize"]["checksum"]}
    texts = [fitness_run.output, *fitness_run.home.log_texts().values()]
    assert any("python3 vs python2.7: match" in t for t in texts)


def test_no_secret_in_any_log(fitness_run):
    password = harness.pg_password()
    logs = fitness_run.home.log_texts()
    if fitness_run.executor:
        # each task instance wrote its own log file, as on a worker
        task_logs = {t for t in TASKS if any(f"task_id={t}/" in name for name in logs)}
        assert task_logs == TASKS, f"task log files under logs/: {sorted(task_logs)}"
        output = "\n".join(text for name, text in logs.items() if "task_id=mask_check/" in name)
    else:
        output = fitness_run.output
    leaks = {}
    for name, text in logs.items():
        for form in harness.secret_forms(password):
            if form in text:
                line = next(line for line in text.splitlines() if form in line)
                leaks.setdefault(name, []).append(line.replace(form, "<PASSWORD>")[:300])
    assert not leaks, f"the warehouse password appears in logs: {leaks}"
    # ... and the runner did print it, masked: the mask_check task echoes it
    assert re.search(r"as taskrunner password \*\*\*", output), "mask_check's masked line is missing"


def test_no_secret_in_the_metadata_db(fitness_run):
    """Rendered fields, XComs, serialized DAGs: the password is nowhere in the DB file."""
    password = harness.pg_password().encode()
    db = (fitness_run.home.path / "airflow.db").read_bytes()
    assert password not in db


def test_compare_fails_when_the_summaries_differ(fitness_run):
    """Task 6 is a real check: with the Python 2.7 XCom tampered, it fails."""
    run = fitness_run
    tampered = dict(run.xcoms["summarize_py27"])
    tampered["total_steps"] += 1
    run.home.python(
        harness.HERE / "helpers" / "set_xcom.py",
        "fitness", run.stored["dag_run"]["run_id"], "summarize_py27", json.dumps(tampered),
        log="tamper-xcom",
    )
    # clear it first: Airflow 2's `tasks test` silently returns for a task instance already finished
    run.home.airflow("tasks", "clear", "fitness", "-t", "^compare$", "-y", log="clear-compare")
    rc, output, _ = run.home.airflow(
        "tasks", "test", "fitness", "compare", harness.LOGICAL_DATE, log="compare-tampered", check=False
    )
    # Airflow 2.10's `tasks test` exits non-zero; Airflow 3's exits 0 and logs the failure
    failed = rc != 0 if harness.airflow_version().startswith("2.") else "Task failed with exception" in output
    assert failed, f"compare succeeded on differing summaries (exit {rc}):\n{output[-3000:]}"
    assert "python3 and python2.7 summaries differ in ['total_steps']" in output, output[-3000:]
