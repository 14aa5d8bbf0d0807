"""The local backend: the runner binary as a subprocess of the worker.

For development and tests: no image, the same spec, context and secrets as a
container gets, the task's output streamed into the task log, the XCom read
from a private temp folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from task_runner_provider import config, payload
from task_runner_provider.compat import AirflowException, AirflowSkipException, BaseOperator
from task_runner_provider.errors import TaskRunnerConfigError
from task_runner_provider.operators.base import TaskRunnerMixin, mixin_signature

# The worker's own Airflow settings and credentials are not the task's: the
# runner gets the connections and variables it uses, and nothing else of them.
_PRIVATE_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "_AIRFLOW", "__AIRFLOW", "TASK_RUNNER_")


def child_environment(secret_env: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_PREFIXES)}
    env.update(secret_env)
    env.update(extra)
    return env


class LocalTaskRunnerOperator(TaskRunnerMixin, BaseOperator):
    """Runs the task with the task-runner binary on the worker (``[task_runner] binary``)."""

    task_runner_backend = "local"
    template_fields = ("task_runner_refs",)
    ui_color = "#e8f4f8"

    _process: subprocess.Popen[bytes] | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    __init__.__signature__ = mixin_signature()  # type: ignore[attr-defined]

    def task_runner_search_path(self) -> list[str]:
        dag = getattr(self, "dag", None)
        paths: list[str] = []
        if dag is not None:
            fileloc = getattr(dag, "fileloc", None)
            if fileloc:
                paths.append(str(Path(fileloc).resolve().parent))
            for p in getattr(dag, "template_searchpath", None) or []:
                paths.append(str(Path(p).resolve()))
        return list(dict.fromkeys(paths))

    def _binary(self) -> str:
        name = config.get("binary", "task-runner") or "task-runner"
        found = shutil.which(name)
        if not found:
            raise TaskRunnerConfigError(
                f"task `{self.task_id}`: the local backend cannot find the task-runner binary `{name}` "
                "([task_runner] binary, env AIRFLOW__TASK_RUNNER__BINARY): install it or name its path"
            )
        return found

    def execute(self, context: Any) -> Any:
        task_spec, ctx, secret_env = self.build_payloads(context)
        binary = self._binary()
        with tempfile.TemporaryDirectory(prefix="task-runner-") as tmp:
            folder = Path(tmp)
            (folder / "spec.json").write_text(json.dumps(task_spec), encoding="utf-8")
            (folder / "context.json").write_text(json.dumps(ctx), encoding="utf-8")
            termination = folder / "termination-log"
            termination.touch()
            xcom = folder / "xcom" / "return.json"
            work = folder / "work"
            work.mkdir()
            include = next(iter(self.task_runner_local_include()), "")
            env = child_environment(
                secret_env,
                {
                    "TASK_RUNNER_TERMINATION_LOG": str(termination),
                    payload.INCLUDE_ENV: include,
                },
            )
            command = [
                binary, "run",
                "--config", str(folder / "spec.json"),
                "--context", str(folder / "context.json"),
                "--xcom-path", str(xcom),
            ]
            self.log.info("Running %s task with %s", self.task_runner_kind, binary)
            self._process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=work,
                start_new_session=True,
            )
            assert self._process.stdout is not None
            for raw in self._process.stdout:
                self.log.info("%s", raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            code = self._process.wait()
            message = termination.read_text(encoding="utf-8", errors="replace").strip()
            if code in self.task_runner_skip_codes:
                raise AirflowSkipException(f"task-runner exited with code {code}, one of skip_on_exit_code: skipping")
            if code != 0:
                raise AirflowException(
                    f"task-runner failed with exit code {code}" + (f": {message}" if message else "")
                )
            if not xcom.exists():
                return None
            with xcom.open("rb") as f:
                return self.check_result(json.load(f))

    def on_kill(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
