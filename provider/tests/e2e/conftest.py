"""Fixtures of the e2e suite; see harness.py for the inputs it needs."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def airflow_deps():
    harness.check_airflow_deps()


class FitnessRun:
    """One `airflow dags test fitness <date>` in a fresh home, and what Airflow stored."""

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
    """The fitness DAG run on one backend (indirect parameter: docker | local), run once per session."""
    backend = request.param
    if backend not in _RUNS:
        home = harness.AirflowHome(tmp_path_factory.mktemp(f"airflow-{backend}"), backend=backend)
        rc, output, seconds = home.airflow(
            "dags", "test", "fitness", harness.LOGICAL_DATE, log="dags-test", timeout=1200, check=False
        )
        harness.TIMINGS.append((f"airflow {harness.airflow_version()} dags test fitness ({backend} backend)", seconds))
        _RUNS[backend] = FitnessRun(home, output, seconds, rc)
    return _RUNS[backend]


def pytest_terminal_summary(terminalreporter):
    if harness.TIMINGS:
        terminalreporter.section(f"e2e timings (Airflow {harness.airflow_version()})")
        for what, seconds in harness.TIMINGS:
            terminalreporter.write_line(f"{seconds:8.1f} s  {what}")
