"""Reliability under load: N (default 100) provider docker-backend tasks and N
STOCK DockerOperator runs of the runner image, in one `airflow dags test`,
while CPU burners and an fsyncing writer keep the machine busy; every single
XCom must be the exact expected value.

The stock DockerOperator pushes the last line of the container's merged
stdout+stderr as a string: with TASK_RUNNER_XCOM_STDOUT=1 the runner promises
that line is the XCom JSON, nothing after it. The expected line for each run
is produced by the same binary run locally (its return.json), so the check is
byte for byte.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import harness
import pytest

DAGS = harness.HERE / "dags"
N = int(os.environ.get("TR_E2E_RELIABILITY_N", "100"))
BURNERS = int(os.environ.get("TR_E2E_LOAD_BURNERS", str(os.cpu_count() or 2)))


@contextlib.contextmanager
def machine_load(spool: Path):
    """CPU burners (TR_E2E_LOAD_BURNERS, default one per core) and an I/O writer
    (64 MiB files, fsynced, in a loop) for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(BURNERS)]
    writer = (
        "import os, sys\n"
        "path = os.path.join(sys.argv[1], 'spool')\n"
        "block = os.urandom(1 << 20)\n"
        "while True:\n"
        "    with open(path, 'wb') as f:\n"
        "        for _ in range(64):\n"
        "            f.write(block)\n"
        "        f.flush(); os.fsync(f.fileno())\n"
        "    os.remove(path)\n"
    )
    procs.append(subprocess.Popen([sys.executable, "-c", writer, str(spool)]))
    stats = {"cpu_burners": BURNERS, "io_writers": 1}
    try:
        time.sleep(1)
        assert all(p.poll() is None for p in procs), "a load process died at start"
        yield stats
        stats["alive_at_end"] = all(p.poll() is None for p in procs)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _stock_expected(tmp: Path) -> list[str]:
    """The XCom line of each stock run, as the same binary writes it locally."""
    sys.path.insert(0, str(harness.HERE / "helpers"))
    try:
        import stock_spec
    finally:
        sys.path.pop(0)
    lines = []
    binary = harness.binary()
    for i in range(N):
        xcom = tmp / f"stock-{i}.json"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "TASK_RUNNER_SPEC": stock_spec.stock_payload(i),
            "TASK_RUNNER_XCOM_STDOUT": "1",
        }
        proc = subprocess.run(
            [binary, "run", "--xcom-path", str(xcom)], capture_output=True, text=True, env=env, timeout=60
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        line = xcom.read_text()
        assert json.loads(line) == stock_spec.stock_value(i)
        lines.append(line)
    return lines


def _provider_expected(i: int) -> dict:
    return {
        "i": i,
        "square": i * i,
        "label": "task-%03d \u2713" % i,
        "nested": [i, {"even": i % 2 == 0, "none": None}],
        "big": 2**70 + i,
    }


@pytest.fixture(scope="module")
def reliability_run(tmp_path_factory):
    images = harness.docker_images()
    home = harness.AirflowHome(
        tmp_path_factory.mktemp("airflow-reliability"),
        backend="docker",
        extra_env={
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "TR_E2E_RELIABILITY_N": str(N),
            "TR_E2E_STOCK_IMAGE": images["TR_IMAGE_PY3RUBY"],
            # the load DAG has no use for the warehouse: keep its password out of this home
            "AIRFLOW_CONN_WAREHOUSE": "postgres://nobody@127.0.0.1:1/none",
        },
    )
    with machine_load(tmp_path_factory.mktemp("io-load")) as load:
        rc, output, seconds = home.airflow(
            "dags", "test", "tr_reliability", harness.LOGICAL_DATE, log="dags-test", timeout=3600, check=False
        )
    assert load["alive_at_end"], "a load process died during the run: the machine was not loaded throughout"
    harness.TIMINGS.append(
        (
            f"airflow {harness.airflow_version()} tr_reliability: {N} provider + 10 provider bash + {N} stock "
            f"DockerOperator containers under load ({load['cpu_burners']} CPU burners, 1 fsync writer)",
            seconds,
        )
    )
    stored = home.read_run("tr_reliability")
    return rc, output, stored


def _by_index(stored, task_id):
    return {x["map_index"]: x for x in stored["xcoms"] if x["task_id"] == task_id and x["key"] == "return_value"}


def test_every_task_instance_succeeded(reliability_run):
    rc, output, stored = reliability_run
    states = {}
    for ti in stored["task_instances"]:
        states.setdefault(ti["task_id"], {})[ti["map_index"]] = ti["state"]
    assert sorted(states) == ["provider_bash", "provider_echo", "stock"], sorted(states)
    assert len(states["provider_echo"]) == N and len(states["stock"]) == N and len(states["provider_bash"]) == 10
    bad = {t: {i: s for i, s in m.items() if s != "success"} for t, m in states.items()}
    bad = {t: m for t, m in bad.items() if m}
    assert not bad, f"task instances not successful: {bad}\n{output[-4000:]}"
    assert rc == 0 and stored["dag_run"]["state"] == "success"


def test_every_provider_xcom_is_exact(reliability_run):
    _, _, stored = reliability_run
    got = _by_index(stored, "provider_echo")
    wrong = {i: got.get(i) for i in range(N) if i not in got or got[i]["value"] != _provider_expected(i)}
    assert not wrong, f"{len(wrong)} of {N} provider XComs wrong: {dict(list(wrong.items())[:5])}"
    assert {x["type"] for x in got.values()} == {"dict"}
    bash = _by_index(stored, "provider_bash")
    assert {i: x["value"] for i, x in bash.items()} == {j: f"bash {j} on 2024-06-01" for j in range(10)}


def test_every_stock_dockeroperator_xcom_is_the_json_line(reliability_run, tmp_path):
    _, _, stored = reliability_run
    expected = _stock_expected(tmp_path)
    got = _by_index(stored, "stock")
    wrong = {}
    for i in range(N):
        x = got.get(i)
        if x is None or x["type"] != "str" or x["value"] != expected[i]:
            wrong[i] = None if x is None else x["value"]
    assert not wrong, (
        f"{len(wrong)} of {N} stock DockerOperator XComs are not exactly the runner's JSON line; e.g. "
        + "; ".join(f"#{i}: got {v!r}, expected {expected[i]!r}" for i, v in list(wrong.items())[:5])
    )
