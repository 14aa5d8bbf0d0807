"""The kubernetes backend: a KubernetesPodOperator running the team image.

The pod's main container runs the image's ENTRYPOINT (the runner) with
``run``; the spec and the context are gzip+base64 env vars added in
``execute`` (after Airflow rendered and recorded the task's fields). The result
comes back through KPO's own XCom sidecar reading ``/airflow/xcom/return.json``.

Connections and variables the task uses are NOT put into the pod unless asked
(``inject_connections``): by default the pod gets them from Kubernetes Secrets
the DAG references (``secrets=[Secret("volume", "/run/secrets/task-runner", "etl-conns")]``
with files named ``AIRFLOW_CONN_<ID>``), so no credential passes through Airflow
into a pod spec. ``inject_connections="secret"`` creates a per-task Secret
holding the resolved values, mounts it, and deletes it when the pod is cleaned
up; ``"env"`` puts them in the pod's env in plain text (visible to anyone who
can read the pod).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.cncf.kubernetes.backcompat.backwards_compat_converters import convert_env_vars
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import models as k8s

from task_runner_provider import payload
from task_runner_provider.errors import TaskRunnerConfigError
import inspect

from task_runner_provider.operators.base import TaskRunnerMixin, mixin_signature

SECRETS_MOUNT = "/run/secrets/task-runner"
INJECT_MODES = (None, "secret", "env")


class KubernetesTaskRunnerOperator(TaskRunnerMixin, KubernetesPodOperator):
    """Runs the task in ``image`` as a pod through KubernetesPodOperator."""

    task_runner_backend = "kubernetes"
    backend_owned_kwargs = ("image", "cmds", "arguments")
    template_fields = (
        *(f for f in KubernetesPodOperator.template_fields if f not in ("cmds", "arguments")),
        "task_runner_refs",
    )

    backend_extra_kwargs = ("inject_connections",)
    inject_connections: str | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    __init__.__signature__ = mixin_signature(  # type: ignore[attr-defined]
        inspect.Parameter("inject_connections", inspect.Parameter.KEYWORD_ONLY, default=None)
    )

    def apply_backend_extras(self, extras: dict[str, Any], where: str) -> None:
        mode = extras.get("inject_connections")
        if mode not in INJECT_MODES:
            raise TaskRunnerConfigError(
                f"{where}: inject_connections must be None, 'secret' or 'env', not {mode!r}"
            )
        self.inject_connections = mode

    def _backend_init(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs.setdefault("name", kwargs.get("task_id"))
        # KPO's own default is False; a task-runner task returns its XCom on every backend.
        kwargs.setdefault("do_xcom_push", True)
        return {
            **kwargs,
            "image": self.task_runner_image,
            "arguments": ["run"],
            "skip_on_exit_code": self.task_runner_skip_codes or None,
        }

    # The pod, its inputs and the per-task Secret are built without talking
    # to a cluster, so they can be checked (and emulated) anywhere.

    def secret_name(self, pod: k8s.V1Pod) -> str:
        return f"task-runner-{pod.metadata.name}"[:253]

    def build_task_runner_pod(self, context: Any) -> tuple[k8s.V1Pod, k8s.V1Secret | None]:
        """KPO's pod for this task instance with the runner's inputs, and the Secret to create (if any)."""
        # KPO makes the name a valid DNS-1123 one at the top of its execute();
        # the pod is built before that here, so the same is done first.
        if hasattr(self, "_set_name"):
            self.name = self._set_name(self.name)
        task_spec, ctx, secret_env = self.build_payloads(context)
        spec_payload, ctx_payload = payload.encode(task_spec), payload.encode(ctx)
        for what, value in (("spec", spec_payload), ("context", ctx_payload)):
            if not payload.fits_env(value):
                raise TaskRunnerConfigError(
                    f"task `{self.task_id}`: the {what} payload is {len(value)} bytes once compressed, over "
                    f"the {payload.ENV_LIMIT}-byte limit of one environment variable: "
                    + (
                        "pull fewer or smaller upstream XComs (xcom_from=, or pass values as op_args)"
                        if what == "context"
                        else "move large SQL or code into a file in the image's include/ folder"
                    )
                )
        env = convert_env_vars(self.env_vars) if self.env_vars else []
        env = [
            *env,
            k8s.V1EnvVar(name=payload.SPEC_ENV, value=spec_payload),
            k8s.V1EnvVar(name=payload.CONTEXT_ENV, value=ctx_payload),
        ]
        if self.inject_connections == "env":
            env.extend(k8s.V1EnvVar(name=k, value=v) for k, v in secret_env.items())
        elif self.inject_connections is None and secret_env:
            self.log.info(
                "Not injecting %s into the pod (inject_connections=None): the pod must get them from "
                "Kubernetes Secrets (secrets=[...], files AIRFLOW_CONN_<ID> in TASK_RUNNER_SECRETS_DIR)",
                ", ".join(sorted(secret_env)),
            )
        self.env_vars = env
        pod = self.build_pod_request_obj(context)
        secret = None
        if self.inject_connections == "secret" and secret_env:
            name = self.secret_name(pod)
            secret = k8s.V1Secret(
                api_version="v1",
                kind="Secret",
                type="Opaque",
                metadata=k8s.V1ObjectMeta(
                    name=name,
                    namespace=pod.metadata.namespace,
                    labels={**(pod.metadata.labels or {}), "app.kubernetes.io/managed-by": "task-runner"},
                ),
                string_data=dict(secret_env),
            )
            container = pod.spec.containers[0]
            pod.spec.volumes = [
                *(pod.spec.volumes or []),
                k8s.V1Volume(name="task-runner-secrets", secret=k8s.V1SecretVolumeSource(secret_name=name)),
            ]
            container.volume_mounts = [
                *(container.volume_mounts or []),
                k8s.V1VolumeMount(name="task-runner-secrets", mount_path=SECRETS_MOUNT, read_only=True),
            ]
            container.env = [*(container.env or []), k8s.V1EnvVar(name=payload.SECRETS_DIR_ENV, value=SECRETS_MOUNT)]
        return pod, secret

    def execute(self, context: Any) -> Any:
        pod, secret = self.build_task_runner_pod(context)
        if secret is not None:
            self.client.create_namespaced_secret(namespace=secret.metadata.namespace, body=secret)
            self.log.info("Created Secret %s for the task's connections", secret.metadata.name)
        self.pod_request_obj = pod
        return self.check_result(super().execute(context))

    def _delete_secret(self, pod: k8s.V1Pod | None) -> None:
        if self.inject_connections != "secret" or pod is None:
            return
        try:
            self.client.delete_namespaced_secret(name=self.secret_name(pod), namespace=pod.metadata.namespace)
        except Exception as err:  # a missing Secret (never created) is fine
            self.log.info("Secret %s not deleted: %s", self.secret_name(pod), err)

    def cleanup(self, pod: k8s.V1Pod, remote_pod: k8s.V1Pod, *args: Any, **kwargs: Any) -> None:
        try:
            super().cleanup(pod, remote_pod, *args, **kwargs)
        finally:
            self._delete_secret(pod)

    def on_kill(self) -> None:
        try:
            super().on_kill()
        finally:
            self._delete_secret(self.pod or self.pod_request_obj)
