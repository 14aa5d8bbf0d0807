"""The e2e harness: a fresh AIRFLOW_HOME per run, Airflow's CLI in subprocesses
of the venv under test, and the stored results read back with Airflow's API.

Nothing here imports Airflow: the pytest process only drives subprocesses of
the same interpreter (``sys.executable``), each with its own AIRFLOW_HOME, so
one pytest run tests exactly one Airflow version (the venv's), and two runs of
the DAG never share a metadata database.

Inputs (environment, else ``target/test-env.sh`` and ``target/provider-env.sh``):
TR_PG_URL, TR_PYTHON27, TR_RUBY; TR_IMAGE_PY3RUBY, TR_IMAGE_PY27,
TR_IMAGE_SCRATCH (the docker backend); the static binary
``target/x86_64-unknown-linux-musl/release/task-runner`` (or TR_BINARY).
A missing input fails the test that needs it with a message saying what to
run; nothing is skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
PROJECT = REPO / "examples" / "project"
DAGS = PROJECT / "dags"
INCLUDE = PROJECT / "include"
TARGET = REPO / "target"
ENV_FILES = (TARGET / "test-env.sh", TARGET / "provider-env.sh")
DEFAULT_BINARY = TARGET / "x86_64-unknown-linux-musl" / "release" / "task-runner"
LOGICAL_DATE = "2024-06-01"
PY = sys.executable
VENV_BIN = Path(PY).parent
# The images the DAG names, without a registry (the provider adds it).
IMAGE_NAMES = {
    "TR_IMAGE_PY3RUBY": "python3-ruby:test",
    "TR_IMAGE_PY27": "python27:test",
    "TR_IMAGE_SCRATCH": "sql-scratch:test",
}

# Per-session record of what ran and how long it took (printed at the end).
TIMINGS: list[tuple[str, float]] = []


def _env_files() -> dict[str, str]:
    """The `export K=V` lines of the generated env files (no shell needed)."""
    out: dict[str, str] = {}
    for path in ENV_FILES:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line.startswith("export ") or "=" not in line:
                continue
            key, _, value = line[len("export ") :].partition("=")
            parts = shlex.split(value) or [""]
            out[key.strip()] = parts[0]
    return out


_FILE_ENV = _env_files()


def setting(name: str, required_by: str, hint: str) -> str:
    """A test input from the environment or the generated env files, or a clear failure."""
    value = os.environ.get(name) or _FILE_ENV.get(name)
    if not value:
        pytest.fail(
            f"{required_by} needs {name}, which is neither in the environment nor in "
            f"{', '.join(str(p) for p in ENV_FILES)}: {hint}",
            pytrace=False,
        )
    return value


def pg_url() -> str:
    return setting("TR_PG_URL", "the e2e suite", "run scripts/test.sh, or scripts/services.sh up (starts PostgreSQL for the run)")


def pg_password() -> str:
    password = unquote(urlsplit(pg_url()).password or "")
    assert len(password) >= 8, "TR_PG_URL must carry a real password for the secret checks"
    return password


def python27() -> str:
    path = setting("TR_PYTHON27", "the local backend (python2.7 task)", "run scripts/test-deps.sh (installs python2.7)")
    if not os.access(path, os.X_OK):
        pytest.fail(f"TR_PYTHON27={path} is not executable: run scripts/test-deps.sh", pytrace=False)
    return path


def binary() -> str:
    path = os.environ.get("TR_BINARY") or _FILE_ENV.get("TR_BINARY") or str(DEFAULT_BINARY)
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"the local backend needs the static task-runner binary at {path}: "
            "cargo build --release --target x86_64-unknown-linux-musl",
            pytrace=False,
        )
    return path


def docker_images() -> dict[str, str]:
    """env name -> full image name; checks each exists in the local engine."""
    out = {}
    for name, short in IMAGE_NAMES.items():
        full = setting(name, "the docker backend", "run scripts/build-images.sh (builds the example images)")
        if not full.endswith("/" + short) and full != short:
            pytest.fail(f"{name}={full} does not end in /{short}, the name the fitness DAG uses", pytrace=False)
        check = subprocess.run(["docker", "image", "inspect", full], capture_output=True, text=True)
        if check.returncode != 0:
            pytest.fail(f"image {full} ({name}) is not in the Docker engine: run scripts/build-images.sh", pytrace=False)
        out[name] = full
    return out


def docker_registry() -> str:
    """The registry prefix the example images share (task-runner-example)."""
    images = docker_images()
    prefixes = {full[: -len(IMAGE_NAMES[name])].rstrip("/") for name, full in images.items()}
    if len(prefixes) != 1:
        pytest.fail(f"the example images do not share one registry prefix: {images}", pytrace=False)
    return prefixes.pop()


def check_airflow_deps() -> None:
    """Everything the suite imports in the Airflow subprocesses, or a clear failure."""
    scratch = tempfile.mkdtemp(prefix="e2e-probe-home-")
    probe = subprocess.run(
        [
            PY,
            "-c",
            "import airflow, task_runner_provider, airflow.providers.docker, "
            "airflow.providers.cncf.kubernetes, airflow.providers.postgres, "
            "airflow.providers.common.sql, docker, kubernetes; print(airflow.__version__)",
        ],
        capture_output=True,
        text=True,
        env={"AIRFLOW_HOME": scratch, "PATH": os.environ.get("PATH", "")},
    )
    shutil.rmtree(scratch, ignore_errors=True)
    if probe.returncode != 0:
        pytest.fail(
            f"{PY} lacks a dependency of the e2e suite (Airflow, the docker/cncf-kubernetes/postgres "
            "providers, the task-runner provider installed with `pip install -e provider`):\n"
            + probe.stderr[-3000:],
            pytrace=False,
        )


class AirflowHome:
    """A fresh AIRFLOW_HOME with a migrated SQLite metadata DB and the example project."""

    def __init__(self, path: Path, *, backend: str, extra_env: dict[str, str] | None = None):
        self.path = path
        self.backend = backend
        path.mkdir(parents=True, exist_ok=True)
        bin_dir = path / "bin"
        bin_dir.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TASK_RUNNER"))}
        env.pop("PYTHONPATH", None)
        env.update(
            {
                "AIRFLOW_HOME": str(path),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{path}/airflow.db",
                "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(path / "logs"),
                "AIRFLOW_CONN_WAREHOUSE": pg_url(),
                "AIRFLOW__TASK_RUNNER__BACKEND": backend,
                "PATH": os.pathsep.join([str(bin_dir), str(VENV_BIN), env.get("PATH", "/usr/bin:/bin")]),
            }
        )
        if backend == "local":
            py27 = python27()
            link = bin_dir / "python2.7"
            if not link.exists():
                link.symlink_to(py27)
            env["AIRFLOW__TASK_RUNNER__BINARY"] = binary()
        if backend == "docker":
            env["AIRFLOW__TASK_RUNNER__DOCKER_REGISTRY"] = docker_registry()
        if backend == "kubernetes":
            env["AIRFLOW__TASK_RUNNER__KUBERNETES_REGISTRY"] = docker_registry()
        env.update(extra_env or {})
        self.env = env
        (path / "env.json").write_text(json.dumps(env, indent=1, sort_keys=True))
        self.airflow("db", "migrate", log="db-migrate", timeout=300)

    def run(self, argv: list[str], *, log: str, timeout: float, check: bool = True, env: dict | None = None):
        """Run argv with this home's env; stdout+stderr to <home>/<log>.log; return (rc, output, seconds)."""
        logfile = self.path / f"{log}.log"
        start = time.monotonic()
        with open(logfile, "wb") as fh:
            proc = subprocess.run(
                argv, stdout=fh, stderr=subprocess.STDOUT, env={**self.env, **(env or {})}, timeout=timeout, cwd=self.path
            )
        seconds = time.monotonic() - start
        output = logfile.read_text(errors="replace")
        if check and proc.returncode != 0:
            pytest.fail(
                f"`{' '.join(argv)}` exited {proc.returncode} after {seconds:.1f}s "
                f"(AIRFLOW_HOME={self.path}); last output:\n{output[-6000:]}",
                pytrace=False,
            )
        return proc.returncode, output, seconds

    @contextlib.contextmanager
    def api_server(self):
        """Airflow 3's API server for this home (the Execution API the executor's task processes
        talk to), on a free local port, for the duration of the block; nothing on Airflow 2."""
        if _major() < 3:
            yield None
            return
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
        self.env.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", "e2e-" + os.urandom(16).hex())
        logfile = open(self.path / "api-server.log", "wb")
        proc = subprocess.Popen(
            [str(VENV_BIN / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(port)],
            stdout=logfile, stderr=subprocess.STDOUT, env=self.env, cwd=self.path, start_new_session=True,
        )
        start = time.monotonic()
        try:
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"airflow api-server exited {proc.returncode}: see {self.path}/api-server.log", pytrace=False)
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/version", timeout=2):
                        break
                except OSError:
                    if time.monotonic() - start > 180:
                        pytest.fail(f"airflow api-server not up after 180 s: see {self.path}/api-server.log", pytrace=False)
                    time.sleep(1)
            TIMINGS.append((f"airflow {airflow_version()} api-server start", time.monotonic() - start))
            yield port
        finally:
            # the server and its workers: the process group this fixture started
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            logfile.close()

    def airflow(self, *args: str, log: str, timeout: float = 600, check: bool = True):
        return self.run([str(VENV_BIN / "airflow"), *args], log=log, timeout=timeout, check=check)

    def python(self, script: Path | str, *args: str, log: str, timeout: float = 600, check: bool = True, env=None):
        return self.run([PY, str(script), *args], log=log, timeout=timeout, check=check, env=env)

    def read_run(self, dag_id: str, run_id: str | None = None) -> dict:
        rc, output, _ = self.python(HERE / "helpers" / "read_run.py", dag_id, *([run_id] if run_id else []), log=f"read-{dag_id}")
        last = output.strip().splitlines()[-1]
        return json.loads(last)

    def log_texts(self) -> dict[str, str]:
        """Every log file of the home (task logs under logs/, and the CLI outputs)."""
        out = {}
        for p in sorted(self.path.rglob("*.log")):
            out[str(p.relative_to(self.path))] = p.read_text(errors="replace")
        for p in sorted((self.path / "logs").rglob("*")) if (self.path / "logs").exists() else []:
            if p.is_file() and str(p.relative_to(self.path)) not in out:
                out[str(p.relative_to(self.path))] = p.read_text(errors="replace")
        return out


def _major() -> int:
    from importlib.metadata import version

    return int(version("apache-airflow").split(".")[0])


def airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


def secret_forms(password: str) -> list[str]:
    """The forms of the password that must never be printed."""
    from urllib.parse import quote

    forms = {password, quote(password, safe=""), json.dumps(password)[1:-1], password.upper()}
    return sorted(forms)


def expected_rows(day: str = LOGICAL_DATE, region: str = "emea") -> list[list]:
    """include/sql/daily.sql's result, computed independently in Python (the oracle)."""
    import datetime as dt

    end = dt.date.fromisoformat(day)
    rows = []
    for back in range(6, -1, -1):
        d = end - dt.timedelta(days=back)
        doy = d.timetuple().tm_yday
        steps = 4000 + (doy * 733 + len(region) * 97) % 7000
        rows.append(
            [
                d.isoformat(),
                region,
                steps,
                20 + (doy * 17) % 70,
                steps >= 8000,
                d == end - dt.timedelta(days=1),
            ]
        )
    return rows
