"""Fixtures of the e2e suite; see harness.py for the inputs it needs."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def airflow_deps():
    harness.check_airflow_deps()


class FitnessRun:
    """One `airflow dags test fitness <date>` in a fresh home, and what Airflow stored."""

    executor = False

    def __init__(self, home: harness.AirflowHome, output: str, seconds: float, rc: int):
        self.home = home
        self.output = output
        self.seconds = seconds
        self.rc = rc
        self.stored = home.read_run("fitness")
        self.states = {ti["task_id"]: ti["state"] for ti in self.stored["task_instances"]}
        self.xcoms = {}
        self.xcom_types = {}
        for x in self.stored["xcoms"]:
            if x["key"] == "return_value" and x["map_index"] == -1:
                self.xcoms[x["task_id"]] = x["value"]
                self.xcom_types[x["task_id"]] = x["type"]


_RUNS: dict[str, FitnessRun] = {}


@pytest.fixture(scope="session")
def fitness_run(request, tmp_path_factory):
    """The fitness DAG run on one backend (indirect parameter: docker | local), run once per session.

    docker: `dags test --use-executor`, every task in its own worker process as
    in production (Airflow 2: SequentialExecutor, `airflow tasks run`; Airflow 3:
    LocalExecutor, task processes talking to the API server's Execution API),
    task logs in AIRFLOW_HOME/logs. local: `dags test` in-process (task logs
    on its output).
    """
    backend = request.param
    if backend not in _RUNS:
        home = harness.AirflowHome(tmp_path_factory.mktemp(f"airflow-{backend}"), backend=backend)
        executor = backend == "docker"
        args = ["dags", "test", "fitness", harness.LOGICAL_DATE, *(["--use-executor"] if executor else [])]
        with home.api_server() if executor else contextlib.nullcontext():
            rc, output, seconds = home.airflow(*args, log="dags-test", timeout=1200, check=False)
        how = "with the executor" if executor else "in-process"
        harness.TIMINGS.append(
            (f"airflow {harness.airflow_version()} dags test fitness ({backend} backend, {how})", seconds)
        )
        _RUNS[backend] = FitnessRun(home, output, seconds, rc)
        _RUNS[backend].executor = executor
    return _RUNS[backend]


def pytest_terminal_summary(terminalreporter):
    if harness.TIMINGS:
        terminalreporter.section(f"e2e timings (Airflow {harness.airflow_version()})")
        for what, seconds in harness.TIMINGS:
            terminalreporter.write_line(f"{seconds:8.1f} s  {what}")
