"""Run a DAG of KubernetesTaskRunnerOperator tasks with dag.test(), every pod
emulated with Docker instead of a cluster.

    python kpo_emulate.py <dag file> <dag_id> <logical date> <out dir>

Env: AIRFLOW_HOME (a migrated home), KPO_CLUSTER_SECRETS (JSON {secret name:
{key: value}}: the Secrets "in the cluster" that pods may mount),
KPO_SIDECAR_IMAGE (an image with /bin/sh for the sidecar's read).

What is real and what is emulated:
- real: the DAG run (dag.test(): real context, XComArgs, upstream XComs, the
  metadata DB), the provider's execute() and its pod (KPO's own
  build_pod_request_obj), the V1Secret it creates, KPO's extract_xcom parsing
  (called unbound on the string the sidecar's command prints), KPO's cleanup
  (with the emulated pod status), so the provider's Secret deletion runs;
- emulated: the Kubernetes API (a recorder of create/delete calls) and the
  kubelet: the base container is `docker run` with the pod's image, command,
  args, env (secret_key_ref / env_from resolved from the Secrets), volume mounts
  (secret volumes as read-only folders filled from the Secret, the `xcom`
  emptyDir as a host folder), an empty /dev/termination-log; the sidecar's
  exact read command runs in a container over the same xcom folder.

Everything is recorded under <out dir>/<task_id>.*: pod.json (the V1Pod as the
API would receive it), secrets.json (Secrets the provider created), docker.json
(the docker command), container.log, sidecar.out, result.json.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
import uuid
from pathlib import Path

import pendulum

OUT = Path(sys.argv[4])
OUT.mkdir(parents=True, exist_ok=True)
CLUSTER_SECRETS = json.loads(os.environ.get("KPO_CLUSTER_SECRETS", "{}"))
SIDECAR_IMAGE = os.environ["KPO_SIDECAR_IMAGE"]

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator  # noqa: E402
from airflow.providers.cncf.kubernetes.utils.pod_manager import EMPTY_XCOM_RESULT  # noqa: E402
from airflow.providers.cncf.kubernetes.utils.xcom_sidecar import PodDefaults  # noqa: E402
from kubernetes.client import ApiClient  # noqa: E402
from kubernetes.client import models as k8s  # noqa: E402

API = ApiClient()
CREATED: dict[str, dict] = {}  # secret name -> sanitized V1Secret
EVENTS: list[dict] = []


def _record(task_id: str, what: str, data) -> None:
    path = OUT / f"{task_id}.{what}"
    if isinstance(data, (bytes, str)):
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    else:
        path.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))


class FakeCoreV1:
    """The calls the provider and KPO's cleanup make, recorded; nothing else exists."""

    pods: dict = {}

    def read_namespaced_pod(self, name, namespace, **kwargs):
        EVENTS.append({"call": "read_namespaced_pod", "namespace": namespace, "name": name})
        return self.pods[(namespace, name)]

    def create_namespaced_secret(self, namespace, body, **kwargs):
        data = API.sanitize_for_serialization(body)
        CREATED[body.metadata.name] = data
        EVENTS.append({"call": "create_namespaced_secret", "namespace": namespace, "name": body.metadata.name})
        return body

    def delete_namespaced_secret(self, name, namespace, **kwargs):
        EVENTS.append({"call": "delete_namespaced_secret", "namespace": namespace, "name": name})

    def delete_namespaced_pod(self, name, namespace, **kwargs):
        EVENTS.append({"call": "delete_namespaced_pod", "namespace": namespace, "name": name})

    def patch_namespaced_pod(self, name, namespace, body, **kwargs):
        EVENTS.append({"call": "patch_namespaced_pod", "namespace": namespace, "name": name})

    def __getattr__(self, name):
        def call(*args, **kwargs):
            EVENTS.append({"call": name})
            raise RuntimeError(f"the emulated Kubernetes API has no {name}")

        return call


FAKE = FakeCoreV1()
KubernetesPodOperator.client = property(lambda self: FAKE)  # type: ignore[assignment]


def _secret_data(name: str) -> dict[str, str]:
    """A Secret's data as text: created by the provider, else one of the cluster's."""
    if name in CREATED:
        body = CREATED[name]
        data = dict(body.get("stringData") or {})
        for k, v in (body.get("data") or {}).items():
            data[k] = base64.b64decode(v).decode()
        return data
    if name in CLUSTER_SECRETS:
        return dict(CLUSTER_SECRETS[name])
    raise RuntimeError(f"the pod references Secret `{name}`, which exists neither in the cluster nor was created")


def _emulate(op, pod: k8s.V1Pod) -> tuple[int, str, str]:
    """docker run of the base container; returns (exit code, termination message, sidecar output)."""
    task_id = op.task_id
    base = next(c for c in pod.spec.containers if c.name == op.base_container_name)
    volumes = {v.name: v for v in (pod.spec.volumes or [])}
    work = Path(tempfile.mkdtemp(prefix=f"kpo-{task_id}-"))
    os.chmod(work, 0o755)
    name = f"kpo-emu-{uuid.uuid4().hex[:10]}"
    argv = ["docker", "run", "--name", name, "--network", "host"]
    xcom_dir = None
    for mount in base.volume_mounts or []:
        vol = volumes[mount.name]
        host = work / f"vol-{mount.name}"
        host.mkdir()
        os.chmod(host, 0o777)
        if vol.empty_dir is not None:
            if mount.mount_path == PodDefaults.XCOM_MOUNT_PATH:
                xcom_dir = host
        elif vol.secret is not None:
            data = _secret_data(vol.secret.secret_name)
            items = vol.secret.items or [types.SimpleNamespace(key=k, path=k) for k in data]
            for item in items:
                (host / item.path).write_text(data[item.key])
                os.chmod(host / item.path, 0o444)
        else:
            raise RuntimeError(f"volume {mount.name} of {task_id}: only emptyDir and secret volumes are emulated")
        argv += ["-v", f"{host}:{mount.mount_path}" + (":ro" if mount.read_only else "")]
    termination = work / "termination-log"
    termination.touch()
    os.chmod(termination, 0o666)
    argv += ["-v", f"{termination}:{base.termination_message_path or '/dev/termination-log'}"]
    env_file = work / "env"
    lines = []
    for src in base.env_from or []:
        if src.secret_ref is not None:
            lines += [f"{k}={v}" for k, v in _secret_data(src.secret_ref.name).items()]
        elif src.config_map_ref is not None:
            raise RuntimeError(f"{task_id}: config maps are not emulated")
    for var in base.env or []:
        if var.value_from is None:
            value = var.value or ""
        elif var.value_from.secret_key_ref is not None:
            ref = var.value_from.secret_key_ref
            value = _secret_data(ref.name)[ref.key]
        elif var.value_from.field_ref is not None:
            path = var.value_from.field_ref.field_path
            value = {"metadata.name": pod.metadata.name, "metadata.namespace": pod.metadata.namespace}.get(path, "")
        else:
            raise RuntimeError(f"{task_id}: env {var.name} value_from is not emulated")
        if "\n" in value:
            raise RuntimeError(f"{task_id}: env {var.name} holds a newline (not passable with --env-file)")
        lines.append(f"{var.name}={value}")
    env_file.write_text("".join(line + "\n" for line in lines))
    argv += ["--env-file", str(env_file)]
    command = list(base.command or [])
    if command:
        argv += ["--entrypoint", command[0]]
    argv.append(base.image)
    argv += command[1:] + list(base.args or [])
    _record(task_id, "docker.json", {"argv": argv, "env_names": [ln.split("=", 1)[0] for ln in lines]})
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    _record(task_id, "container.log", proc.stdout + proc.stderr)
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    sidecar_out = ""
    if xcom_dir is not None:
        # The sidecar's read, as PodManager.extract_xcom_json runs it.
        read = (
            f"if [ -s {PodDefaults.XCOM_MOUNT_PATH}/return.json ]; "
            f"then cat {PodDefaults.XCOM_MOUNT_PATH}/return.json; "
            f"else echo {EMPTY_XCOM_RESULT}; fi"
        )
        side = subprocess.run(
            ["docker", "run", "--rm", "-v", f"{xcom_dir}:{PodDefaults.XCOM_MOUNT_PATH}", "--entrypoint", "/bin/sh",
             SIDECAR_IMAGE, "-c", read],
            capture_output=True, text=True, timeout=120,
        )
        sidecar_out = side.stdout + side.stderr
        _record(task_id, "sidecar.out", sidecar_out)
    message = termination.read_text(errors="replace")
    shutil.rmtree(work, ignore_errors=True)
    return proc.returncode, message, sidecar_out


def _remote_pod(pod: k8s.V1Pod, op, code: int, message: str) -> k8s.V1Pod:
    state = k8s.V1ContainerState(terminated=k8s.V1ContainerStateTerminated(exit_code=code, message=message or None))
    status = k8s.V1PodStatus(
        phase="Succeeded" if code == 0 else "Failed",
        container_statuses=[
            k8s.V1ContainerStatus(
                name=op.base_container_name, state=state, image=pod.spec.containers[0].image, image_id="",
                ready=False, restart_count=0,
            )
        ],
    )
    return k8s.V1Pod(metadata=pod.metadata, spec=pod.spec, status=status)


def execute_sync(self, context):
    """KPO's execute_sync with the cluster emulated: the pod the provider built is run by Docker."""
    pod = self.pod_request_obj
    if pod is None:
        pod = self.pod_request_obj = self.build_pod_request_obj(context)
    task_id = self.task_id
    _record(task_id, "pod.json", API.sanitize_for_serialization(pod))
    _record(task_id, "secrets.json", {n: s for n, s in CREATED.items() if task_id.replace("_", "-") in n})
    self.pod = pod
    code, message, sidecar_out = _emulate(self, pod)
    result = None
    if self.do_xcom_push:
        # KPO's own parsing of the sidecar's output (its extract_xcom, unbound).
        holder = types.SimpleNamespace(
            pod_manager=types.SimpleNamespace(extract_xcom=lambda pod, **kw: sidecar_out), log=self.log
        )
        result = KubernetesPodOperator.extract_xcom(holder, pod)
    _record(task_id, "result.json", {"exit_code": code, "message": message, "xcom": result})
    self.remote_pod = _remote_pod(pod, self, code, message)
    FakeCoreV1.pods[(pod.metadata.namespace, pod.metadata.name)] = self.remote_pod
    self.cleanup(pod=pod, remote_pod=self.remote_pod)
    return result


KubernetesPodOperator.execute_sync = execute_sync  # type: ignore[assignment]


def main() -> int:
    try:  # Airflow 2: the FAB user table the dag_run_note FK names must be mapped
        import airflow.providers.fab.auth_manager.models  # noqa: F401
    except ImportError:
        pass
    dag_file, dag_id, day = sys.argv[1], sys.argv[2], sys.argv[3]
    spec = importlib.util.spec_from_file_location("kpo_dag_under_test", dag_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = next(v for v in vars(module).values() if getattr(v, "dag_id", None) == dag_id and hasattr(v, "test"))
    when = pendulum.parse(day, tz="UTC")
    try:
        from airflow import __version__

        if int(__version__.split(".")[0]) >= 3:
            dag.test(logical_date=when)
        else:
            dag.test(execution_date=when)
    finally:
        _record("_api", "events.json", EVENTS)
        _record("_api", "created.json", CREATED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
