"""What a DAG author gets at parse time: the right backend class, kwargs in the
right places, and a clear error naming the kwarg for every mistake."""

from __future__ import annotations

import datetime
import json
import subprocess

import pytest

from task_runner_provider import TaskRunnerOperator, payload
from task_runner_provider.errors import TaskRunnerConfigError
from task_runner_provider.operators.docker import DockerTaskRunnerOperator
from task_runner_provider.operators.kubernetes import KubernetesTaskRunnerOperator
from task_runner_provider.operators.local import LocalTaskRunnerOperator


def make(**kwargs):
    kwargs.setdefault("task_id", "t")
    kwargs.setdefault("image", "team:1")
    return TaskRunnerOperator(**kwargs)


def error(**kwargs) -> str:
    with pytest.raises(TaskRunnerConfigError) as info:
        make(**kwargs)
    return str(info.value)


def test_backend_from_argument_config_and_default(dag, monkeypatch):
    assert type(make(task_id="a", operator="bash", bash_command="echo")) is DockerTaskRunnerOperator
    monkeypatch.setenv("AIRFLOW__TASK_RUNNER__BACKEND", "kubernetes")
    assert type(make(task_id="b", operator="bash", bash_command="echo")) is KubernetesTaskRunnerOperator
    assert type(make(task_id="c", operator="bash", bash_command="echo", backend="local")) is LocalTaskRunnerOperator
    monkeypatch.setenv("AIRFLOW__TASK_RUNNER__BACKEND", "podman")
    msg = error(task_id="d", operator="bash", bash_command="echo")
    assert "unknown task-runner backend `podman`" in msg and "AIRFLOW__TASK_RUNNER__BACKEND" in msg


def test_unknown_backend_argument(dag):
    assert "unknown task-runner backend `k8s`" in error(operator="bash", bash_command="echo", backend="k8s")


def test_operator_classes_and_names_map_to_runner_operators(dag):
    from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

    op = make(task_id="s", operator=SQLExecuteQueryOperator, conn_id="w", sql="select 1")
    assert op.task_runner_kind == "sql"
    assert make(task_id="b", operator="BashOperator", bash_command="echo").task_runner_kind == "bash"
    assert make(task_id="p", operator="PythonOperator", python_callable="m:f").task_runner_kind == "python"
    assert make(task_id="r", operator="ruby", ruby_script="1").task_runner_kind == "ruby"
    msg = error(operator="SQLExecuteQueryOperatr", conn_id="w", sql="x")
    assert "did you mean `SQLExecuteQueryOperator`" in msg


def test_unknown_kwarg_is_named_with_a_suggestion(dag):
    msg = error(task_id="load", operator="sql", conn_id="w", sql="select 1", paramters={"a": 1})
    assert "task `load`" in msg and "unknown kwarg `paramters`" in msg and "did you mean `parameters`" in msg


def test_kwarg_of_another_operator(dag):
    msg = error(operator="sql", conn_id="w", sql="select 1", bash_command="echo")
    assert "`bash_command` is a kwarg of the bash operator, not of `sql`" in msg


def test_missing_required_kwarg(dag):
    assert "the sql operator needs `sql`" in error(operator="sql", conn_id="w")
    assert "needs `operator=`" in error(bash_command="echo")
    with pytest.raises(TaskRunnerConfigError, match="`image=` is required on the docker backend"):
        TaskRunnerOperator(task_id="x", operator="bash", bash_command="echo")


def test_unsupported_airflow_kwarg_says_why(dag):
    msg = error(operator="sql", conn_id="w", sql="select 1", handler=list)
    assert "`handler` is not supported by task-runner" in msg


def test_wrong_types_are_named(dag):
    assert "`autocommit` must be True or False" in error(operator="sql", conn_id="w", sql="x", autocommit="yes")
    assert "`skip_on_exit_code` must be an exit code" in error(operator="bash", bash_command="x", skip_on_exit_code=300)
    assert "`env` must be a dict of strings" in error(operator="bash", bash_command="x", env={"A": 1})


def test_non_json_argument_is_refused_with_its_path(dag):
    msg = error(operator="python", python_callable="m:f", op_kwargs={"when": datetime.datetime(2024, 1, 1)})
    assert "`op_kwargs`['when'] is a datetime.datetime, which is not JSON" in msg
    assert "'{{ ds }}'" in msg
    msg = error(operator="python", python_callable="m:f", op_args=[1, {2, 3}])
    assert "`op_args`[1] is a builtins.set" in msg
    assert "`op_args`[0] is nan, which JSON cannot hold" in error(
        operator="python", python_callable="m:f", op_args=[float("nan")]
    )


def test_foreign_backend_kwargs_are_set_aside_and_own_ones_pass_through(dag):
    op = make(task_id="d", operator="bash", bash_command="echo", network_mode="host", namespace="etl",
              docker_kwargs={"mem_limit": "1g"}, kubernetes_kwargs={"service_account_name": "etl"})
    assert isinstance(op, DockerTaskRunnerOperator)
    assert op.network_mode == "host" and op.mem_limit == "1g"
    assert not hasattr(op, "namespace") and not hasattr(op, "service_account_name")
    k = make(task_id="k", operator="bash", bash_command="echo", backend="kubernetes", network_mode="host",
             namespace="etl", kubernetes_kwargs={"service_account_name": "etl"})
    assert k.namespace == "etl" and k.service_account_name == "etl"
    msg = error(operator="bash", bash_command="echo", docker_kwargs={"namespace": "x"})
    assert "`docker_kwargs['namespace']` is not a kwarg the docker backend passes on" in msg
    assert "set by task-runner's docker backend" in error(operator="bash", bash_command="echo", command=["x"])


def test_base_operator_kwargs_still_work(dag):
    op = make(task_id="r", operator="bash", bash_command="echo", retries=3,
              execution_timeout=datetime.timedelta(minutes=2), do_xcom_push=False)
    assert op.retries == 3
    built = op.build_spec()
    assert built["execution_timeout"] == 120.0 and built["do_xcom_push"] is False


def test_registry_prefix_per_backend(dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW__TASK_RUNNER__DOCKER_REGISTRY", "localhost:5000/data")
    monkeypatch.setenv("AIRFLOW__TASK_RUNNER__KUBERNETES_REGISTRY", "registry.example.com/data/")
    assert make(task_id="a", operator="bash", bash_command="x", image="sales:1").image == "localhost:5000/data/sales:1"
    k = make(task_id="b", operator="bash", bash_command="x", image="sales:1", backend="kubernetes")
    assert k.image == "registry.example.com/data/sales:1"
    # An image that names its registry is left alone.
    assert make(task_id="c", operator="bash", bash_command="x", image="ghcr.io/x/y:1").image == "ghcr.io/x/y:1"


def test_spec_strings_are_never_rendered_or_opened_by_airflow(dag):
    op = make(task_id="s", operator="sql", conn_id="w", sql="daily.sql", parameters={"d": "{{ ds }}"})
    assert "sql" not in op.template_fields and "parameters" not in op.template_fields
    op.resolve_template_files()  # Airflow's parse-time file loading: must not look for daily.sql
    assert op.task_runner_spec["sql"] == "daily.sql"
    assert op.build_spec()["parameters"] == {"d": "{{ ds }}"}


def test_large_spec_refused_on_kubernetes_at_parse_time(dag):
    import random

    rnd = random.Random(1)
    sql = "select '" + "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(200_000)) + "'"
    msg = error(operator="sql", conn_id="w", sql=sql, backend="kubernetes")
    assert "the task's spec is" in msg and "include/" in msg
    # The docker backend ships it as a file instead.
    assert make(task_id="big", operator="sql", conn_id="w", sql=sql).task_runner_kind == "sql"


def test_xcom_arg_becomes_a_dependency_and_is_substituted(dag):
    up = make(task_id="up", operator="bash", bash_command="echo 1")
    down = make(task_id="down", operator="python", python_callable="m:f", op_args=[up.output, "{{ ds }}"])
    assert down.upstream_task_ids == {"up"}
    assert set(down.task_runner_refs) == {"0"}
    down.task_runner_refs = {"0": "resolved {{ not a template }}\n"}
    spec_args = down.build_spec()["op_args"]
    # A resolved XCom value is never rendered again by the runner: it arrives as a literal.
    assert spec_args[1] == "{{ ds }}"
    assert spec_args[0] == "{{ " + json.dumps("resolved {{ not a template }}\n") + " }}"


def test_every_built_spec_is_valid_for_the_binary(dag, binary, tmp_path):
    ops = [
        make(task_id="b", operator="bash", bash_command="echo {{ ds }}", env={"A": "1"}, append_env=True,
             cwd="/tmp", skip_on_exit_code=[99, 100], output_encoding="utf-8", grace_period=3, max_xcom_bytes=1000),
        make(task_id="s", operator="sql", conn_id="w", sql=["select 1", "select 2"], parameters={"a": 1},
             autocommit=True, split_statements=True, return_last=False, output_path="/tmp/o.json"),
        make(task_id="p", operator="python", python_callable="m:f", op_args=[1], op_kwargs={"a": "b"},
             templates_dict={"x": "{{ ds }}"}, python="python2.7", python_path=["/opt/x"], env={"A": "b"}),
        make(task_id="r", operator="ruby", ruby_script="puts 1", ruby="ruby3.1", args=["a"], env={}),
    ]
    for op in ops:
        path = tmp_path / f"{op.task_id}.json"
        path.write_text(json.dumps(op.build_spec()))
        out = subprocess.run([binary, "validate", "--config", str(path)], capture_output=True, text=True)
        assert out.returncode == 0, (op.task_id, out.stderr)


def test_payload_round_trip_is_gzip_base64():
    doc = {"a": "é" * 10, "n": [1, 2**70]}
    encoded = payload.encode(doc)
    assert payload.decode(encoded) == doc
    import base64

    assert base64.b64decode(encoded)[:2] == b"\x1f\x8b"
    assert payload.encode(doc) == encoded  # deterministic (no gzip timestamp)


def test_kubernetes_backend_pushes_xcoms_and_takes_its_own_kwargs_portably(dag):
    k = make(task_id="k_x", operator="bash", bash_command="echo", backend="kubernetes",
             kubernetes_kwargs={"inject_connections": "secret"})
    assert k.do_xcom_push is True and k.inject_connections == "secret"
    assert make(task_id="k_y", operator="bash", bash_command="echo", backend="kubernetes",
                do_xcom_push=False).do_xcom_push is False
    d = make(task_id="d_x", operator="bash", bash_command="echo", kubernetes_kwargs={"inject_connections": "env"},
             inject_connections="env")
    assert isinstance(d, DockerTaskRunnerOperator)
    assert "inject_connections must be None, 'secret' or 'env'" in error(
        operator="bash", bash_command="echo", backend="kubernetes", inject_connections="plain"
    )


def test_key_table_matches_the_binary(binary):
    """The provider's spec table (spec.OPERATORS) is the runner's (`task-runner schema`)."""
    from task_runner_provider import spec

    schema = json.loads(subprocess.run([binary, "schema"], capture_output=True, text=True, check=True).stdout)
    assert set(schema["operators"]) == set(spec.OPERATORS)
    for name, runner in schema["operators"].items():
        ours = spec.OPERATORS[name]
        assert set(ours.keys) == set(runner["keys"]), name
        assert set(ours.required) == set(runner["required"]), name
        assert set(ours.template_ext) == set(runner["template_ext"]), name
        assert set(runner["aliases"]) <= set(ours.aliases), name
    # The common keys: the provider's own, the ones it derives from Airflow, and
    # operator/task_id/params, which it always fills in (params travel in the context).
    assert set(schema["common"]) == {*spec.COMMON_KEYS, *spec.DERIVED_KEYS, "operator", "task_id", "params"}
