"""Backend behaviours, on the docker and the local backend, through `airflow dags test`
with real Airflow, the real Docker engine and the real binary."""

from __future__ import annotations

from pathlib import Path

import harness
import pytest

DAGS = Path(__file__).resolve().parent / "dags"


@pytest.fixture(scope="module", params=["docker", "local"])
def run(request, tmp_path_factory):
    backend = request.param
    if backend == "docker":
        harness.docker_images()
    home = harness.AirflowHome(
        tmp_path_factory.mktemp(f"airflow-backends-{backend}"),
        backend=backend,
        extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(DAGS)},
    )
    rc, output, _ = home.airflow("dags", "test", "backends", harness.LOGICAL_DATE, log="dags-test", timeout=900, check=False)
    stored = home.read_run("backends")
    states = {(t["task_id"], t["map_index"]): t["state"] for t in stored["task_instances"]}
    xcoms = {(x["task_id"], x["key"], x["map_index"]): x["value"] for x in stored["xcoms"]}
    return backend, home, output, states, xcoms


def test_skip_code_skips_and_failure_fails(run):
    _, _, _, states, _ = run
    assert states[("skipped", -1)] == "skipped"
    assert states[("fails", -1)] == "failed"
    assert states[("bad_template", -1)] == "failed"


def test_failures_say_why(run):
    _, home, output, _, _ = run
    logs = "\n".join(home.log_texts().values())
    assert "exit code 3" in logs
    assert "`no_such_name` is undefined" in logs


def test_payload_over_an_env_var_still_runs(run):
    backend, _, _, states, xcoms = run
    assert states[("big_sql", -1)] == "success"
    assert xcoms[("big_sql", "return_value", -1)] == [[150_000]]


def test_none_result_pushes_nothing(run):
    _, _, _, states, xcoms = run
    assert states[("nothing", -1)] == "success"
    assert ("nothing", "return_value", -1) not in xcoms


def test_multiple_outputs_push_each_key(run):
    _, _, _, states, xcoms = run
    assert states[("fan_out", -1)] == "success"
    assert xcoms[("fan_out", "double", -1)] == 42
    assert xcoms[("fan_out", "text", -1)] == "n=21"
    assert xcoms[("fan_out", "return_value", -1)] == {"double": 42, "text": "n=21"}
    assert xcoms[("echo_fanned", "return_value", -1)] == 42


def test_xcom_values_are_never_rendered_again(run):
    _, _, _, _, xcoms = run
    assert xcoms[("tricky", "return_value", -1)] == "{{ not rendered }} and {% raw %}\n"
    assert xcoms[("echo_tricky", "return_value", -1)] == "{{ not rendered }} and {% raw %}\n"


def test_mapped_decorator(run):
    _, _, _, states, xcoms = run
    assert [states[("square", i)] for i in range(3)] == ["success"] * 3
    assert [xcoms[("square", "return_value", i)] for i in range(3)] == [1, 4, 9]
