"""The runner's view of the context equals Airflow's.

One DAG, run twice by ``airflow dags test`` (so the second run has a previous
successful run): the same bash template rendered by BashOperator and by
task-runner, and the same function run by PythonOperator and by task-runner,
must give the same XComs, up to the task id that differs by construction.
Real Airflow (the venv running pytest), real task-runner binary, local backend.
"""

from __future__ import annotations

import json
from pathlib import Path

import harness
import pytest

DAGS = Path(__file__).resolve().parent / "dags"
DATES = ("2024-06-01T06:00:00+00:00", "2024-06-02T06:00:00+00:00")
CONF = {"k": "v", "n": [1, 2]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    home = harness.AirflowHome(
        tmp_path_factory.mktemp("airflow-parity"),
        backend="local",
        extra_env={
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW_VAR_REGION": "emea",
            "AIRFLOW_VAR_LIMITS": json.dumps({"daily": 7}),
        },
    )
    stored = []
    for date in DATES:
        home.airflow("dags", "test", "parity", date, "-c", json.dumps(CONF), log=f"parity-{date[:10]}", timeout=600)
        runs = home.read_run("parity")
        stored.append(runs)
    return home, stored


def xcoms(stored) -> dict:
    return {x["task_id"]: x["value"] for x in stored["xcoms"] if x["key"] == "return_value" and x["map_index"] == -1}


def normalise(value, task_id: str):
    return json.loads(json.dumps(value).replace(task_id, "<task>"))


@pytest.mark.parametrize("run", [0, 1], ids=["first-run", "with-previous-success"])
def test_templates_render_the_same(runs, run):
    _, stored = runs
    assert all(ti["state"] == "success" for ti in stored[run]["task_instances"]), stored[run]["task_instances"]
    got = xcoms(stored[run])
    native = normalise(got["native_bash"], "native_bash").split(" ¦ ")
    ours = normalise(got["runner_bash"], "runner_bash").split(" ¦ ")
    assert len(native) == len(ours) > 30
    diffs = [(i, a, b) for i, (a, b) in enumerate(zip(native, ours)) if a != b]
    assert not diffs, f"fields that differ (index, Airflow, task-runner): {diffs}"
    if run == 1:
        # The previous run's interval is seen (non-trivially) by both.
        assert "2024-06-01" in " ".join(native)


@pytest.mark.parametrize("run", [0, 1], ids=["first-run", "with-previous-success"])
def test_python_callable_sees_the_same_context(runs, run):
    _, stored = runs
    got = xcoms(stored[run])
    native = normalise(got["native_py"], "native_py")
    ours = normalise(got["runner_py"], "runner_py")
    assert isinstance(ours, dict) and ours["conf"] == CONF and ours["upstream"] == [1, "two"]
    assert ours == native


def test_secrets_of_the_connection_never_reach_the_logs(runs):
    home, _ = runs
    password = harness.pg_password()
    for name, text in home.log_texts().items():
        for form in harness.secret_forms(password):
            assert form not in text, f"{form!r} printed in {name}"
