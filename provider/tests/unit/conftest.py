"""Unit tests: operators built in real DAGs of the installed Airflow (2.10 or 3.x), no mocks.

Airflow reads AIRFLOW_HOME at import, so a private one is set before anything imports it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_HOME = tempfile.mkdtemp(prefix="tr-provider-unit-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
for key in [k for k in os.environ if k.startswith("AIRFLOW__TASK_RUNNER__")]:
    del os.environ[key]

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[3]


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture
def dag():
    import pendulum

    try:
        from airflow.sdk import DAG
    except ImportError:
        from airflow.models.dag import DAG
    with DAG("unit", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as d:
        yield d


@pytest.fixture
def binary() -> str:
    """The task-runner binary the tests check specs with (built by scripts/test.sh)."""
    path = os.environ.get("TR_BINARY") or os.environ.get("TR_STATIC_BIN")
    if not path:
        for candidate in (REPO / "target/x86_64-unknown-linux-musl/release/task-runner", REPO / "target/release/task-runner"):
            if candidate.exists():
                path = str(candidate)
                break
    if not path or not Path(path).exists():
        pytest.fail("the task-runner binary is missing: run `bash scripts/test.sh` (or set TR_BINARY)")
    return path
