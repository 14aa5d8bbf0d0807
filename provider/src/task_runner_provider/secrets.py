"""The connections and variables a task uses: found in its spec, resolved on the
worker through Airflow (so any secrets backend works), masked there, and handed
to the backend to deliver without passing through rendered fields or logs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

import logging

from task_runner_provider.compat import BaseHook, Variable, mask_secret
from task_runner_provider.errors import TaskRunnerConfigError

log = logging.getLogger(__name__)

# Airflow's template accessors: conn.ID / conn['ID'] / conn.get('ID'),
# var.value.KEY / var.json.KEY / var.value['KEY'] / var.value.get('KEY', ...).
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_QUOTED = r"""['"]([^'"]+)['"]"""
_CONN = re.compile(rf"\bconn\s*(?:\.\s*({_NAME})|\[\s*{_QUOTED}\s*\]|\.\s*get\s*\(\s*{_QUOTED})")
_VAR = re.compile(rf"\bvar\s*\.\s*(?:value|json)\s*(?:\.\s*({_NAME})|\[\s*{_QUOTED}\s*\]|\.\s*get\s*\(\s*{_QUOTED})")
_NOT_IDS = {"get"}


def _strings(value: Any) -> Iterable[str]:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)


def references(spec: dict[str, Any], template_ext: tuple[str, ...], search_path: Iterable[Path]) -> tuple[set[str], set[str]]:
    """(connection ids, variable keys) the spec's templates name.

    Template files the worker can see (the local include folder) are scanned
    too; files only inside an image cannot be, so declare what they use with
    ``connections=`` / ``variables=``.
    """
    texts = list(_strings(spec))
    dirs = [Path(p) for p in search_path]
    for text in list(texts):
        if text.endswith(template_ext) and "\n" not in text:
            for d in dirs:
                candidate = d / text
                if candidate.is_file():
                    try:
                        texts.append(candidate.read_text(encoding="utf-8", errors="replace"))
                    except OSError:
                        pass
                    break
    conns: set[str] = set()
    variables: set[str] = set()
    for text in texts:
        if "{" not in text:
            continue
        for m in _CONN.finditer(text):
            name = next(g for g in m.groups() if g)
            if name not in _NOT_IDS:
                conns.add(name)
        for m in _VAR.finditer(text):
            name = next(g for g in m.groups() if g)
            if name not in _NOT_IDS:
                variables.add(name)
    return conns, variables


def env_name(prefix: str, key: str) -> str:
    """``AIRFLOW_CONN_<ID>`` as Airflow spells it (upper-cased)."""
    return f"{prefix}{key.upper()}"


def resolve_connections(conn_ids: Iterable[str], required: set[str], where: str) -> dict[str, str]:
    """conn_id -> Airflow's JSON form of the connection, every secret masked in the worker's logs.

    A connection named by ``conn_id`` (or declared) must exist; one only seen in a
    template is skipped when undefined (the template may guard it), and the
    runner then reports it where it is used.
    """
    out: dict[str, str] = {}
    for conn_id in sorted(set(conn_ids)):
        try:
            conn = BaseHook.get_connection(conn_id)
        except Exception as err:  # Airflow raises AirflowNotFoundException (2.x and 3.x paths differ)
            if conn_id in required:
                raise TaskRunnerConfigError(f"{where}: connection `{conn_id}` is not defined in Airflow: {err}") from err
            log.info(
                "%s: connection `%s` is not defined in Airflow; not passed (the container may mount it)", where, conn_id
            )
            continue
        as_json = conn.as_json()
        for secret in (conn.password, as_json, conn.get_uri()):
            if secret:
                mask_secret(secret)
        extra = getattr(conn, "extra", None)
        if extra:
            mask_secret(extra)
        out[conn_id] = as_json
    return out


def resolve_variables(keys: Iterable[str], required: set[str], where: str) -> dict[str, str]:
    """key -> value (as stored, a string); values masked on the worker."""
    out: dict[str, str] = {}
    for key in sorted(set(keys)):
        try:
            value = Variable.get(key)
        except Exception as err:  # KeyError on 2.x, AirflowRuntimeError on 3.x
            if key in required:
                raise TaskRunnerConfigError(f"{where}: variable `{key}` is not defined in Airflow: {err}") from err
            continue
        if not isinstance(value, str):
            value = json.dumps(value)
        mask_secret(value, key)
        out[key] = value
    return out


def as_env(connections: dict[str, str], variables: dict[str, str]) -> dict[str, str]:
    """The ``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*`` variables the runner reads."""
    env = {env_name("AIRFLOW_CONN_", k): v for k, v in connections.items()}
    env.update({env_name("AIRFLOW_VAR_", k): v for k, v in variables.items()})
    return env
