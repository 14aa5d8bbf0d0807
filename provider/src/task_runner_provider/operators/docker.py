"""The docker backend: a DockerOperator running the team image.

The spec and context travel as gzip+base64 env vars (or, over the size an env
var can hold, as files in a read-only bind mount); connections and variables
in ``private_environment`` (not templated, not in the rendered fields). The
result is read from the container's ``/airflow/xcom/return.json`` with
DockerOperator's own ``retrieve_output``, parsed as JSON: the log stream is
never parsed, so no log line can pass for the XCom.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

from airflow.providers.docker.operators.docker import DockerOperator

from task_runner_provider import payload
from task_runner_provider.compat import AirflowException
from task_runner_provider.operators.base import TaskRunnerMixin, mixin_signature

PAYLOAD_DIR = "/run/task-runner"

try:  # docker provider 3.x+ always has these; imported lazily for older ones
    from airflow.providers.docker.exceptions import DockerContainerFailedException
except ImportError:  # pragma: no cover
    DockerContainerFailedException = AirflowException  # type: ignore[misc,assignment]


class _JsonResult:
    """What DockerOperator's ``retrieve_output`` loads the result file with (it calls ``.load``)."""

    @staticmethod
    def load(file: IO[bytes]) -> Any:
        data = file.read()
        return json.loads(data) if data.strip() else None


class DockerTaskRunnerOperator(TaskRunnerMixin, DockerOperator):
    """Runs the task in ``image`` through DockerOperator."""

    task_runner_backend = "docker"
    backend_owned_kwargs = ("image", "command", "retrieve_output", "retrieve_output_path")
    template_fields = (*(f for f in DockerOperator.template_fields if f != "command"), "task_runner_refs")
    pickling_library = _JsonResult

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    __init__.__signature__ = mixin_signature()  # type: ignore[attr-defined]

    def _backend_init(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs.setdefault("auto_remove", "success")
        kwargs.setdefault("mount_tmp_dir", False)
        return {
            **kwargs,
            "image": self.task_runner_image,
            "command": ["run"],
            "retrieve_output": True,
            "retrieve_output_path": payload.XCOM_PATH,
            "skip_on_exit_code": self.task_runner_skip_codes or None,
        }

    def execute(self, context: Any) -> Any:
        task_spec, ctx, secret_env = self.build_payloads(context)
        spec_payload, ctx_payload = payload.encode(task_spec), payload.encode(ctx)
        self._private_environment = {**self._private_environment, **secret_env}
        self.environment = dict(self.environment or {})
        staged: str | None = None
        if payload.fits_env(spec_payload) and payload.fits_env(ctx_payload):
            self.environment[payload.SPEC_ENV] = spec_payload
            self.environment[payload.CONTEXT_ENV] = ctx_payload
        else:
            staged = tempfile.mkdtemp(prefix="task-runner-payload-")
            Path(staged, "spec").write_text(spec_payload, encoding="ascii")
            Path(staged, "context").write_text(ctx_payload, encoding="ascii")
            Path(staged).chmod(0o755)
            self.log.info(
                "spec/context payloads are %d/%d bytes: shipped as files in a read-only mount at %s",
                len(spec_payload), len(ctx_payload), PAYLOAD_DIR,
            )
            from docker.types import Mount

            self.mounts = [*(self.mounts or []), Mount(target=PAYLOAD_DIR, source=staged, type="bind", read_only=True)]
            self.command = ["run", "--config", f"{PAYLOAD_DIR}/spec", "--context", f"{PAYLOAD_DIR}/context"]
        try:
            result = super().execute(context)
        except DockerContainerFailedException as err:
            logs = getattr(err, "logs", None) or []
            tail = "\n".join(str(line) for line in list(logs)[-5:])
            raise AirflowException(f"task-runner in {self.image} failed: {err}\n{tail}".rstrip()) from err
        finally:
            if staged:
                shutil.rmtree(staged, ignore_errors=True)
        return self.check_result(result)
