"""The kubernetes backend without a cluster.

DAG dags/tr_kpo.py runs with dag.test() (a real DAG run: real context, XComArgs
resolved by Airflow, upstream XComs from the metadata DB) in a fresh home; the
provider's execute() builds each pod with KPO's own build_pod_request_obj and
creates its Secret through a recording stand-in of the Kubernetes API; the
kubelet is emulated by Docker (helpers/kpo_emulate.py): the base container's
image, command, args, env and volumes, a mounted /airflow/xcom, then the
sidecar's exact read command and KPO's own extract_xcom on its output, and
KPO's cleanup. The tests check the pods the provider built and the values
Airflow stored.
"""

from __future__ import annotations

import importlib.util
import json
import re
from urllib.parse import urlsplit

import harness
import pytest

DAG = harness.HERE / "dags" / "tr_kpo.py"
SIDECAR = "airflow-xcom-sidecar"
XCOM_MOUNT = "/airflow/xcom"
RUNNER_TASKS = [
    "sql_rows",
    "sql_rows_mounted",
    "summarize_py27",
    "returns_none",
    "ruby_report",
    "env_optin",
    "xcom_default",
    "no_xcom",
]
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: none
  cluster: {server: "https://127.0.0.1:9"}
contexts:
- name: none
  context: {cluster: none, user: none, namespace: default}
current-context: none
users:
- name: none
  user: {token: not-a-real-token}
"""


class KpoRun:
    def __init__(self, home, out, output):
        self.home = home
        self.out = out
        self.output = output
        self.stored = home.read_run("tr_kpo")
        self.states = {ti["task_id"]: ti["state"] for ti in self.stored["task_instances"]}
        self.xcoms = {x["task_id"]: x["value"] for x in self.stored["xcoms"] if x["key"] == "return_value"}
        self.events = json.loads((out / "_api.events.json").read_text())
        self.created = json.loads((out / "_api.created.json").read_text())

    def pod(self, task_id):
        path = self.out / f"{task_id}.pod.json"
        assert path.exists(), f"no pod was built for {task_id}; run log:\n{self.output[-4000:]}"
        return json.loads(path.read_text())

    def result(self, task_id):
        return json.loads((self.out / f"{task_id}.result.json").read_text())

    def base(self, task_id):
        return next(c for c in self.pod(task_id)["spec"]["containers"] if c["name"] == "base")

    def env(self, task_id):
        return {e["name"]: e for e in self.base(task_id).get("env") or []}


@pytest.fixture(scope="module")
def kpo(tmp_path_factory):
    home_dir = tmp_path_factory.mktemp("airflow-kubernetes")
    (home_dir / "kubeconfig").write_text(KUBECONFIG)
    pg = harness.pg_url()
    home = harness.AirflowHome(
        home_dir,
        backend="kubernetes",
        extra_env={
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAG.parent),
            "KUBECONFIG": str(home_dir / "kubeconfig"),
            "KPO_SIDECAR_IMAGE": harness.setting(
                "TR_DOCKER_BASE_IMAGE", "the emulated sidecar", "run scripts/test-deps.sh"
            ),
            # The Secret "in the cluster" that sql_rows_mounted mounts.
            "KPO_CLUSTER_SECRETS": json.dumps({"warehouse-conn": {"AIRFLOW_CONN_WAREHOUSE": pg}}),
        },
    )
    out = home_dir / "pods"
    rc, output, seconds = home.python(
        harness.HERE / "helpers" / "kpo_emulate.py", str(DAG), "tr_kpo", harness.LOGICAL_DATE, str(out),
        log="kpo-emulate", timeout=900, check=False,
    )
    harness.TIMINGS.append((f"airflow {harness.airflow_version()} tr_kpo, pods emulated by Docker", seconds))
    assert rc == 0, output[-6000:]
    return KpoRun(home, out, output)


def _decode(value):
    import base64
    import gzip

    return json.loads(gzip.decompress(base64.b64decode(value)))


def _fitness_lib():
    spec = importlib.util.spec_from_file_location("fitness_lib_py3", harness.INCLUDE / "fitness_lib.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_task_succeeded(kpo):
    assert set(kpo.states) == set(RUNNER_TASKS), sorted(kpo.states)
    failed = {t: s for t, s in kpo.states.items() if s != "success"}
    messages = {t: kpo.result(t)["message"] for t in failed if (kpo.out / f"{t}.result.json").exists()}
    assert not failed, f"tasks not successful: {failed}; termination messages: {messages}"


def test_image_and_entrypoint(kpo):
    registry = harness.docker_registry()
    images = {
        "sql_rows": "sql-scratch:test",
        "sql_rows_mounted": "sql-scratch:test",
        "summarize_py27": "python27:test",
        "ruby_report": "python3-ruby:test",
    }
    for task_id in RUNNER_TASKS:
        base = kpo.base(task_id)
        assert base["image"] == f"{registry}/{images.get(task_id, 'python3-ruby:test')}", (task_id, base["image"])
        # the image's ENTRYPOINT (the runner) runs: no command override, args ["run"]
        assert not base.get("command"), (task_id, base.get("command"))
        assert base.get("args") == ["run"], (task_id, base.get("args"))
        assert kpo.pod(task_id)["spec"]["restartPolicy"] == "Never"


def test_pod_and_secret_names_are_valid_kubernetes_names(kpo):
    bad = {}
    for task_id in RUNNER_TASKS:
        name = kpo.pod(task_id)["metadata"]["name"]
        if not (DNS1123.match(name) and len(name) <= 253):
            bad[task_id] = name
    for name in kpo.created:
        if not DNS1123.match(name):
            bad[f"Secret of {kpo.created[name]['metadata']['labels'].get('task_id')}"] = name
    assert not bad, f"names a Kubernetes API server rejects (RFC 1123): {bad}"


def test_spec_and_context_payloads(kpo):
    env = kpo.env("sql_rows")
    spec = _decode(env["TASK_RUNNER_SPEC"]["value"])
    assert spec["operator"] == "sql"
    assert spec["conn_id"] == "warehouse"
    assert spec["sql"] == "sql/daily.sql"
    # spec fields travel unrendered: the runner renders them in the container
    assert spec["parameters"] == {"region": "{{ params.region }}", "day": "{{ ds }}"}
    assert spec["task_id"] == "sql_rows" and spec["do_xcom_push"] is True
    ctx = _decode(env["TASK_RUNNER_CONTEXT"]["value"])
    assert ctx["dag_id"] == "tr_kpo" and ctx["task_id"] == "sql_rows"
    assert ctx["logical_date"].startswith("2024-06-01T00:00:00")
    assert ctx["params"] == {"region": "emea"}
    assert ctx["airflow_version"] == harness.airflow_version()
    assert ctx["run_id"] == kpo.stored["dag_run"]["run_id"]

    env = kpo.env("summarize_py27")
    spec = _decode(env["TASK_RUNNER_SPEC"]["value"])
    assert spec["operator"] == "python" and spec["python"] == "python2.7"
    assert spec["python_callable"] == "summarize_py27"
    assert spec["python_source"].lstrip().startswith("def summarize_py27(")  # decorator stripped
    assert spec["op_args"] == [harness.expected_rows()]  # the XComArg, resolved by Airflow
    assert spec["op_kwargs"] == {"day": "{{ ds }}", "region": "{{ params.region }}"}
    ctx = _decode(env["TASK_RUNNER_CONTEXT"]["value"])
    assert {"task_id": "sql_rows", "key": "return_value", "value": harness.expected_rows()} in ctx["xcom"]


def test_connections_by_secret_reference_and_no_plaintext(kpo):
    password = harness.pg_password()
    forms = harness.secret_forms(password)
    for task_id in RUNNER_TASKS:
        pod = kpo.pod(task_id)
        text = json.dumps(pod)
        payloads = json.dumps([_decode(e["value"]) for n, e in kpo.env(task_id).items() if n.startswith("TASK_RUNNER_") and n != "TASK_RUNNER_SECRETS_DIR"])
        if task_id == "env_optin":
            # opted in: the connection is in the pod's env, in plain text
            assert password in kpo.env(task_id)["AIRFLOW_CONN_WAREHOUSE"]["value"]
            continue
        for form in forms:
            assert form not in text, f"{task_id}: the password is in the pod spec"
            assert form not in payloads, f"{task_id}: the password is in the spec/context payload"
        assert "AIRFLOW_CONN_WAREHOUSE" not in kpo.env(task_id), task_id

    # inject_connections="secret": a per-task Secret, mounted read-only, deleted at cleanup
    pod = kpo.pod("sql_rows")
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    secret_vols = [v for v in volumes.values() if "secret" in v]
    assert len(secret_vols) == 1, secret_vols
    secret_name = secret_vols[0]["secret"]["secretName"]
    assert secret_name in kpo.created, (secret_name, list(kpo.created))
    secret = kpo.created[secret_name]
    assert secret["metadata"]["namespace"] == pod["metadata"]["namespace"] == "data"
    conn = json.loads(secret["stringData"]["AIRFLOW_CONN_WAREHOUSE"])
    assert conn["password"] == password and conn["conn_type"] == "postgres"
    mount = next(m for m in kpo.base("sql_rows")["volumeMounts"] if m["name"] == secret_vols[0]["name"])
    assert mount.get("readOnly") is True
    assert kpo.env("sql_rows")["TASK_RUNNER_SECRETS_DIR"]["value"] == mount["mountPath"]
    calls = [(e["call"], e.get("name")) for e in kpo.events]
    assert ("create_namespaced_secret", secret_name) in calls
    assert ("delete_namespaced_secret", secret_name) in calls
    assert calls.index(("delete_namespaced_secret", secret_name)) > calls.index(("create_namespaced_secret", secret_name))

    # default (nothing injected): only the DAG's own Secret volume, nothing created for it
    mounted = kpo.pod("sql_rows_mounted")
    names = [v["secret"]["secretName"] for v in mounted["spec"]["volumes"] if "secret" in v]
    assert names == ["warehouse-conn"]
    assert not [n for n, s in kpo.created.items() if s["metadata"]["labels"].get("task_id") == "sql_rows_mounted"]


def test_xcom_sidecar_and_volume(kpo):
    for task_id in RUNNER_TASKS:
        pod = kpo.pod(task_id)
        containers = {c["name"]: c for c in pod["spec"]["containers"]}
        volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
        mounts = {m["mountPath"]: m["name"] for m in kpo.base(task_id).get("volumeMounts") or []}
        if task_id == "no_xcom":
            assert SIDECAR not in containers and XCOM_MOUNT not in mounts
            continue
        if task_id == "xcom_default":  # the default: test_default_backend_pushes_the_xcom
            continue
        assert SIDECAR in containers, f"{task_id}: no XCom sidecar (do_xcom_push is {kpo.result(task_id)})"
        assert XCOM_MOUNT in mounts and "emptyDir" in volumes[mounts[XCOM_MOUNT]], task_id
        side = {m["mountPath"] for m in containers[SIDECAR].get("volumeMounts") or []}
        assert XCOM_MOUNT in side


def test_xcoms_read_as_kpo_reads_them(kpo):
    rows = harness.expected_rows()
    assert kpo.result("sql_rows")["xcom"] == rows
    assert kpo.xcoms["sql_rows"] == rows
    assert kpo.xcoms["sql_rows_mounted"] == rows
    # the same function under Python 2.7 in the pod == the library under this Python 3
    assert kpo.xcoms["summarize_py27"] == _fitness_lib().summarize_rows(rows, "2024-06-01", "emea")
    assert kpo.xcoms["ruby_report"]["total_steps"] == sum(r[2] for r in rows)
    assert kpo.xcoms["ruby_report"]["title"] == "Weekly activity, EMEA, 2024-06-01"
    pg = urlsplit(harness.pg_url())
    assert kpo.xcoms["env_optin"] == f"db {pg.hostname}:{pg.port}{pg.path}"
    # None: the runner writes no file, the sidecar prints the sentinel, KPO pushes nothing
    assert (kpo.out / "returns_none.sidecar.out").read_text().strip() == "__airflow_xcom_result_empty__"
    assert "returns_none" not in kpo.xcoms
    assert "no_xcom" not in kpo.xcoms


def test_default_backend_pushes_the_xcom(kpo):
    """A task that does not say do_xcom_push pushes its XCom, as on the other backends."""
    spec = _decode(kpo.env("xcom_default")["TASK_RUNNER_SPEC"]["value"])
    containers = {c["name"] for c in kpo.pod("xcom_default")["spec"]["containers"]}
    assert spec["do_xcom_push"] is True and SIDECAR in containers, (
        f"kubernetes backend default: spec do_xcom_push={spec['do_xcom_push']}, sidecar={SIDECAR in containers}"
    )
    assert kpo.xcoms.get("xcom_default") == "day 2024-06-01", (
        "the kubernetes backend pushed no XCom for a task without do_xcom_push "
        f"(pod sidecar: {SIDECAR in {c['name'] for c in kpo.pod('xcom_default')['spec']['containers']}})"
    )


def test_no_secret_in_any_log(kpo):
    password = harness.pg_password()
    texts = dict(kpo.home.log_texts())
    for p in kpo.out.glob("*.container.log"):
        texts[p.name] = p.read_text(errors="replace")
    leaks = sorted(name for name, text in texts.items() for f in harness.secret_forms(password) if f in text)
    assert not leaks, f"the password appears in: {leaks}"
