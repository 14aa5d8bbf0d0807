"""``@task.task_runner``: registration, source capture where ``@task.docker``'s
broke (reference §1.4), JSON arguments, and the Python 2.7 checks."""

from __future__ import annotations

import ast
import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from task_runner_provider import source
from task_runner_provider.errors import TaskRunnerConfigError

try:
    from airflow.sdk import task
except ImportError:
    from airflow.decorators import task

FIXTURES = Path(__file__).parent / "fixtures"


def load_module(name: str):
    sys.path.insert(0, str(FIXTURES))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(FIXTURES))


def test_registered_as_task_task_runner_through_the_provider_entry_point():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    names = list(manager.taskflow_decorators)
    assert "task_runner" in names
    assert "airflow-provider-task-runner" in manager.providers
    assert callable(task.task_runner)


def test_decorator_lines_are_removed_and_everything_else_kept():
    mod = load_module("capture_cases")
    captured = source.capture(mod.tricky.function, "t")
    assert captured.name == "tricky"
    assert "@task" not in captured.source.splitlines()[0]
    assert captured.source.startswith("def tricky(")
    # A column-0 comment inside the function, a '#' line inside a string, the
    # decorator's own name in the body and a ':-)' in the decorator's args all survive.
    assert "# a comment at column 0" in captured.source
    assert "# not a comment: SQL inside a string" in captured.source
    assert "@task.task_runner is mentioned here" in captured.source
    assert ":-)" not in captured.source
    ast.parse(captured.source)
    namespace: dict = {}
    exec(compile(captured.source, "<shipped>", "exec"), namespace)
    assert namespace["tricky"](2) == mod.tricky.function(2) == 4


def test_plain_and_nested_functions(dag):
    def inner(x):
        # indented three levels deep
        return x + 1

    captured = source.capture(inner, "t")
    assert captured.source == textwrap.dedent(
        """\
        def inner(x):
            # indented three levels deep
            return x + 1
        """
    )


def test_closure_and_lambda_refused():
    y = 3

    def closure(x):
        return x + y

    with pytest.raises(TaskRunnerConfigError, match="closure over y"):
        source.capture(closure, "task `t`")
    fn = lambda x: x  # noqa: E731
    with pytest.raises(TaskRunnerConfigError, match="lambdas"):
        source.capture(fn, "task `t`")


def test_module_globals_are_reported():
    mod = load_module("capture_cases")
    captured = source.capture(mod.uses_global, "t")
    assert captured.globals_used == ("THRESHOLD",)


def test_python3_only_syntax_is_found_for_python27():
    code = textwrap.dedent(
        """\
        def f(a: int, *, b=1) -> int:
            x = f"{a}"
            y = [*range(3)]
            print(a, *y)
            if (n := 3):
                pass
            return a
        """
    )
    found = "\n".join(source.python3_only_syntax(code))
    for what in ("type annotations", "keyword-only", "an f-string", "`*` unpacking in a literal", "walrus"):
        assert what in found
    assert "several" not in found  # one trailing *y in a call is fine on 2.7
    assert source.python3_only_syntax("def g(a, *args, **kw):\n    return g(*args, **kw)\n") == []
    assert source.targets_python2("python2.7") and source.targets_python2("/opt/python2.7/bin/python2")
    assert not source.targets_python2("python3") and not source.targets_python2(None)


def test_decorated_task_builds_a_python_spec_with_json_args(dag):
    @task.task_runner(image="team:1", python="python3")
    def add(a, b=2, **context):
        return a + b

    up = add.override(task_id="first")(1)
    op = add(up, b="{{ params.x }}").operator
    op.task_runner_refs = {"0": 3}  # what Airflow's rendering resolves the XComArg to
    spec = op.build_spec()
    assert spec["op_args"] == [3]
    assert spec["operator"] == "python" and spec["python_callable"] == "add"
    assert spec["python_source"].startswith("def add(a, b=2, **context):")
    assert op.upstream_task_ids == {"first"}
    assert spec["op_kwargs"] == {"b": "{{ params.x }}"}
    assert "op_args" not in op.template_fields and "op_kwargs" not in op.template_fields


def test_decorator_python27_with_python3_syntax_fails_at_parse(dag):
    with pytest.raises(TaskRunnerConfigError) as info:

        @task.task_runner(image="py27:1", python="python2.7")
        def modern(x):
            return f"{x}"

        modern(1)
    msg = str(info.value)
    assert "runs on python2.7 but uses Python-3-only syntax" in msg and "an f-string" in msg


def test_decorator_refuses_non_json_arguments(dag):
    import datetime

    @task.task_runner(image="team:1")
    def f(when):
        return when

    with pytest.raises(TaskRunnerConfigError, match=r"`op_args`\[0\] is a datetime.date"):
        f(datetime.date(2024, 1, 1))


def test_decorator_signature_errors_are_airflow_s(dag):
    @task.task_runner(image="team:1")
    def f(a):
        return a

    with pytest.raises(TypeError):
        f(1, 2)


def test_multiple_outputs_inferred_from_annotation(dag):
    @task.task_runner(image="team:1")
    def f(a) -> dict:
        return {"a": a}

    assert f(1).operator.multiple_outputs is True
