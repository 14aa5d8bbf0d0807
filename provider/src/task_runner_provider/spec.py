"""The task spec the runner executes: which keys each operator takes, and the
checks made at DAG-parse time so that a wrong kwarg fails in the DAG file,
naming the kwarg, rather than minutes later in a container.

The table mirrors the runner's own (``task-runner schema``); a test keeps the
two equal.
"""

from __future__ import annotations

import datetime
import difflib
import json
import math
from dataclasses import dataclass
from typing import Any

from task_runner_provider.errors import TaskRunnerConfigError


@dataclass(frozen=True)
class OperatorKind:
    """One operator of the runner: its name, the Airflow classes it stands for, its keys."""

    name: str
    aliases: tuple[str, ...]
    keys: tuple[str, ...]
    required: tuple[str, ...]
    template_ext: tuple[str, ...]


#: Keys every operator takes in the spec (besides the Airflow-derived ones the
#: provider fills in at execute time: do_xcom_push, execution_timeout, ...).
COMMON_KEYS = ("grace_period", "max_xcom_bytes")
#: Keys the provider computes itself; a DAG author sets them the Airflow way.
DERIVED_KEYS = ("do_xcom_push", "execution_timeout", "render_template_as_native_obj", "template_searchpath")

_PROCESS_KEYS = ("env", "append_env", "env_file", "skip_on_exit_code")

OPERATORS: dict[str, OperatorKind] = {
    kind.name: kind
    for kind in (
        OperatorKind(
            name="bash",
            aliases=("BashOperator",),
            keys=("bash_command", "cwd", "output_encoding", *_PROCESS_KEYS),
            required=("bash_command",),
            template_ext=(".sh", ".bash"),
        ),
        OperatorKind(
            name="sql",
            aliases=(
                "SQLExecuteQueryOperator",
                "PostgresOperator",
                "MySqlOperator",
                "SqliteOperator",
            ),
            keys=(
                "conn_id",
                "sql",
                "parameters",
                "autocommit",
                "split_statements",
                "return_last",
                "output_path",
            ),
            required=("conn_id", "sql"),
            template_ext=(".sql", ".json"),
        ),
        OperatorKind(
            name="python",
            aliases=("PythonOperator", "ExternalPythonOperator", "PythonVirtualenvOperator"),
            keys=(
                "python_callable",
                "python_source",
                "op_args",
                "op_kwargs",
                "templates_dict",
                "python",
                "python_path",
                *_PROCESS_KEYS,
            ),
            required=("python_callable",),
            template_ext=(),
        ),
        OperatorKind(
            name="ruby",
            aliases=(),
            keys=("ruby_script", "ruby", "args", *_PROCESS_KEYS),
            required=("ruby_script",),
            template_ext=(".rb",),
        ),
    )
}

#: Every spec key of every operator.
ALL_SPEC_KEYS: frozenset[str] = frozenset(COMMON_KEYS).union(*(k.keys for k in OPERATORS.values()))

#: Kwargs of the Airflow operators that the runner does not implement, with why.
UNSUPPORTED: dict[str, str] = {
    "handler": "the runner returns rows the way SQLExecuteQueryOperator's default fetch_all_handler does",
    "output_processor": "post-process the XCom in a downstream task",
    "hook_params": "put connection settings in the connection's extra",
    "database": "set the database in the connection (its schema)",
    "show_return_value_in_logs": "the runner does not log return values",
    "requires_result_fetch": "the runner always fetches results",
    "requirements": "bake dependencies into the image",
    "string_args": "pass op_args / op_kwargs (they travel as JSON)",
    "use_dill": "arguments travel as JSON, never pickled",
    "serializer": "arguments travel as JSON, never pickled",
    "system_site_packages": "the image's interpreter is used as is",
    "expect_airflow": "no Airflow is needed in the image",
}


def resolve_kind(operator: Any, where: str) -> OperatorKind:
    """The runner operator for an ``operator=`` value: a name or an Airflow class."""
    if isinstance(operator, type):
        names = [klass.__name__ for klass in operator.__mro__]
    elif isinstance(operator, str):
        names = [operator.rsplit(".", 1)[-1]]
    else:
        raise TaskRunnerConfigError(
            f"{where}: `operator` must be an operator name ('sql', 'bash', 'python', 'ruby') "
            f"or an Airflow operator class, not {type(operator).__name__}"
        )
    for name in names:
        if name in OPERATORS:
            return OPERATORS[name]
        for kind in OPERATORS.values():
            if name in kind.aliases:
                return kind
    known = sorted([*OPERATORS, *(a for k in OPERATORS.values() for a in k.aliases)])
    raise TaskRunnerConfigError(
        f"{where}: `operator={names[0]}` is not an operator task-runner runs{suggest(names[0], known)}; "
        f"known: {', '.join(known)}"
    )


def suggest(name: str, candidates: Any) -> str:
    """`` (did you mean `x`?)`` when a candidate is close, else ''."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f" (did you mean `{close[0]}`?)" if close else ""


def check_spec_kwargs(kind: OperatorKind, given: dict[str, Any], where: str) -> None:
    """Required keys present; keys of another operator refused, naming both."""
    for key in given:
        if key in kind.keys or key in COMMON_KEYS:
            continue
        owners = [k.name for k in OPERATORS.values() if key in k.keys]
        raise TaskRunnerConfigError(
            f"{where}: `{key}` is a kwarg of the {'/'.join(owners)} operator, "
            f"not of `{kind.name}` (operator={kind.name!r} takes: {', '.join(kind.keys + COMMON_KEYS)})"
        )
    for key in kind.required:
        if key not in given or given[key] in (None, "", []):
            raise TaskRunnerConfigError(f"{where}: the {kind.name} operator needs `{key}`")


def check_types(spec: dict[str, Any], where: str) -> None:
    """The shapes the runner accepts, checked where the DAG author can fix them."""
    for key, value in spec.items():
        expected = _TYPES.get(key)
        if expected is None:
            continue
        ok, wanted = expected(value)
        if not ok:
            raise TaskRunnerConfigError(
                f"{where}: `{key}` must be {wanted}, not {type(value).__name__} ({_short(value)})"
            )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_str(v: Any) -> tuple[bool, str]:
    return isinstance(v, str), "a string"


def _is_bool(v: Any) -> tuple[bool, str]:
    return isinstance(v, bool), "True or False"


def _is_str_or_list(v: Any) -> tuple[bool, str]:
    ok = isinstance(v, str) or (isinstance(v, (list, tuple)) and all(isinstance(s, str) for s in v))
    return ok, "a string or a list of strings"


def _is_str_list(v: Any) -> tuple[bool, str]:
    ok = isinstance(v, (list, tuple)) and all(isinstance(s, str) for s in v)
    return ok, "a list of strings"


def _is_env(v: Any) -> tuple[bool, str]:
    ok = v is None or (isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()))
    return ok, "a dict of strings to strings"


def _is_env_file(v: Any) -> tuple[bool, str]:
    def entry(e: Any) -> bool:
        if isinstance(e, str):
            return bool(e.strip())
        return (
            isinstance(e, dict)
            and set(e) <= {"path", "required"}
            and isinstance(e.get("path"), str)
            and bool(e["path"].strip())
            and isinstance(e.get("required", True), bool)
        )

    if isinstance(v, (list, tuple)):
        ok = all(entry(e) for e in v)
    else:
        ok = v is None or (isinstance(v, str) and entry(v))
    return ok, "a path, or a list of paths and {'path': ..., 'required': bool} dicts"


def _is_codes(v: Any) -> tuple[bool, str]:
    def code(c: Any) -> bool:
        return isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255

    ok = v is None or code(v) or (isinstance(v, (list, tuple)) and all(code(c) for c in v))
    return ok, "an exit code 0-255, a list of them, or None"


def _is_duration(v: Any) -> tuple[bool, str]:
    if isinstance(v, datetime.timedelta):
        return v.total_seconds() >= 0, "a non-negative duration"
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
    return ok, "a timedelta or seconds"


def _is_count(v: Any) -> tuple[bool, str]:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0, "a positive integer"


def _is_list(v: Any) -> tuple[bool, str]:
    return isinstance(v, (list, tuple)), "a list"


def _is_dict(v: Any) -> tuple[bool, str]:
    return v is None or isinstance(v, dict), "a dict"


_TYPES = {
    "bash_command": _is_str,
    "cwd": _is_str,
    "output_encoding": _is_str,
    "env": _is_env,
    "append_env": _is_bool,
    "env_file": _is_env_file,
    "skip_on_exit_code": _is_codes,
    "conn_id": _is_str,
    "sql": _is_str_or_list,
    "autocommit": _is_bool,
    "split_statements": _is_bool,
    "return_last": _is_bool,
    "output_path": _is_str,
    "python_source": _is_str,
    "python_callable": _is_str,
    "op_args": _is_list,
    "op_kwargs": _is_dict,
    "templates_dict": _is_dict,
    "python": _is_str,
    "python_path": _is_str_list,
    "ruby_script": _is_str,
    "ruby": _is_str,
    "args": _is_list,
    "grace_period": _is_duration,
    "max_xcom_bytes": _is_count,
}


class Ref:
    """Stands in the spec for an XComArg until Airflow resolves it at run time."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"<XComArg #{self.index}>"


def check_json(value: Any, where: str) -> None:
    """Refuses values that cannot travel as JSON, naming where they sit."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        v, path, depth = stack.pop()
        if depth > 100:
            raise TaskRunnerConfigError(f"{path}: nested more than 100 levels deep")
        if v is None or isinstance(v, (str, bool, int, Ref)):
            continue
        if isinstance(v, float):
            if not math.isfinite(v):
                raise TaskRunnerConfigError(f"{path} is {v!r}, which JSON cannot hold")
            continue
        if isinstance(v, (list, tuple)):
            stack.extend((x, f"{path}[{i}]", depth + 1) for i, x in enumerate(v))
            continue
        if isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    raise TaskRunnerConfigError(
                        f"{path} has the key {k!r} of type {type(k).__name__}: JSON keys are strings"
                    )
                stack.append((x, f"{path}[{k!r}]", depth + 1))
            continue
        hint = (
            "pass a string such as '{{ ds }}' (rendered in the container) or an ISO string"
            if isinstance(v, (datetime.date, datetime.datetime, datetime.timedelta))
            else "arguments travel as JSON (never pickled): pass JSON values, or an XComArg"
        )
        raise TaskRunnerConfigError(
            f"{path} is a {type(v).__module__}.{type(v).__name__}, which is not JSON: {hint}"
        )


def to_json_value(value: Any) -> Any:
    """A spec value with durations as seconds and tuples as lists."""
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, list):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json_value(v) for k, v in value.items()}
    return value


def dumps(spec: dict[str, Any]) -> str:
    """The spec as compact JSON."""
    return json.dumps(spec, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
