"""What every backend shares: turning an operator call into a runner spec at
parse time, and into a spec + context + secrets at execute time.

A backend class is ``class XTaskRunnerOperator(TaskRunnerMixin, XOperator)``:
the mixin takes the task's kwargs, keeps the spec's, and passes the rest to
the Airflow operator underneath; in ``execute`` it builds the payloads and
calls :meth:`run_task_runner`, which each backend implements.
"""

from __future__ import annotations

import copy
import datetime
import inspect
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Sequence

from task_runner_provider import backend_kwargs, config, payload, secrets, source, spec
from task_runner_provider import context as payload_context
from task_runner_provider.compat import AIRFLOW_V_3_0_PLUS, ResolveMixin
from task_runner_provider.errors import TaskRunnerConfigError

log = logging.getLogger(__name__)

NOTSET: Any = type("NotSet", (), {"__repr__": lambda self: "NOTSET", "__bool__": lambda self: False})()

#: Kwargs of the package itself (not the runner's, not Airflow's).
OWN_KWARGS = (
    "image",
    "operator",
    "backend",
    "connections",
    "variables",
    "xcom_from",
    "docker_kwargs",
    "kubernetes_kwargs",
    "local_kwargs",
)

_BACKEND_KWARGS = {
    "docker": backend_kwargs.DOCKER_KWARGS,
    "kubernetes": backend_kwargs.KUBERNETES_KWARGS | {"inject_connections"},
    "local": frozenset(),
}


def _init_params(cls: type, stop: type) -> set[str]:
    """Keyword names the ``__init__``s of ``cls``'s bases after ``stop`` accept."""
    names: set[str] = set()
    mro = cls.__mro__
    for klass in mro[mro.index(stop) + 1 :]:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        names.update(
            p.name for p in params if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        )
    return names


def _extract_refs(value: Any, refs: list[Any]) -> Any:
    """A copy of ``value`` with each XComArg replaced by a :class:`spec.Ref`."""
    if isinstance(value, ResolveMixin):
        refs.append(value)
        return spec.Ref(len(refs) - 1)
    if isinstance(value, dict):
        return {k: _extract_refs(v, refs) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_extract_refs(v, refs) for v in value]
    return value


def _literal(value: Any) -> Any:
    """A resolved XCom value made safe from the runner's template rendering.

    Airflow never renders the value an XComArg resolves to; the runner renders
    every string of a templated field. A string that Jinja would change (it
    holds template syntax, or a trailing newline Jinja strips) is sent as a
    Jinja string literal, which renders to exactly itself.
    """
    if isinstance(value, str):
        if "{" in value or value.endswith("\n") or "\r" in value:
            return "{{ " + json.dumps(value, ensure_ascii=False) + " }}"
        return value
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_literal(v) for v in value]
    return value


def _substitute(value: Any, resolved: Mapping[str, Any]) -> Any:
    if isinstance(value, spec.Ref):
        return _literal(resolved[str(value.index)])
    if isinstance(value, dict):
        return {k: _substitute(v, resolved) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, resolved) for v in value]
    return value


def _in_include_folder(fn: Callable[..., Any]) -> bool:
    try:
        path = inspect.getsourcefile(fn)
    except TypeError:
        return False
    return bool(path) and "include" in Path(path).resolve().parts[:-1]


class TaskRunnerMixin:
    """The runner half of a backend operator; see the module docstring."""

    #: ``docker``, ``kubernetes`` or ``local``.
    task_runner_backend: ClassVar[str]
    #: Kwargs of the Airflow operator underneath that the backend sets itself.
    backend_owned_kwargs: ClassVar[tuple[str, ...]] = ()
    #: The backend class's own kwargs (not its Airflow operator's), see :meth:`apply_backend_extras`.
    backend_extra_kwargs: ClassVar[tuple[str, ...]] = ()
    #: Fields Airflow renders besides the backend's own: only XComArgs live here.
    runner_template_fields: ClassVar[tuple[str, ...]] = ("task_runner_refs",)

    def __init__(
        self,
        *,
        image: str | None = None,
        operator: str | type | None = None,
        backend: str | None = None,
        connections: Sequence[str] = (),
        variables: Sequence[str] = (),
        xcom_from: Sequence[str | Mapping[str, Any]] = (),
        docker_kwargs: Mapping[str, Any] | None = None,
        kubernetes_kwargs: Mapping[str, Any] | None = None,
        local_kwargs: Mapping[str, Any] | None = None,
        # The runner's spec keys (Airflow's names; see spec.OPERATORS).
        grace_period: Any = NOTSET,
        max_xcom_bytes: Any = NOTSET,
        bash_command: Any = NOTSET,
        env: Any = NOTSET,
        append_env: Any = NOTSET,
        env_file: Any = NOTSET,
        cwd: Any = NOTSET,
        skip_on_exit_code: Any = NOTSET,
        output_encoding: Any = NOTSET,
        conn_id: Any = NOTSET,
        sql: Any = NOTSET,
        parameters: Any = NOTSET,
        autocommit: Any = NOTSET,
        split_statements: Any = NOTSET,
        return_last: Any = NOTSET,
        output_path: Any = NOTSET,
        python_callable: Any = NOTSET,
        python_source: Any = NOTSET,
        op_args: Any = NOTSET,
        op_kwargs: Any = NOTSET,
        templates_dict: Any = NOTSET,
        python: Any = NOTSET,
        python_path: Any = NOTSET,
        ruby_script: Any = NOTSET,
        ruby: Any = NOTSET,
        args: Any = NOTSET,
        **kwargs: Any,
    ) -> None:
        given = {
            k: v
            for k, v in dict(
                grace_period=grace_period, max_xcom_bytes=max_xcom_bytes, bash_command=bash_command,
                env=env, append_env=append_env, env_file=env_file, cwd=cwd, skip_on_exit_code=skip_on_exit_code,
                output_encoding=output_encoding, conn_id=conn_id, sql=sql, parameters=parameters,
                autocommit=autocommit, split_statements=split_statements, return_last=return_last,
                output_path=output_path, python_callable=python_callable, python_source=python_source,
                op_args=op_args, op_kwargs=op_kwargs, templates_dict=templates_dict, python=python,
                python_path=python_path, ruby_script=ruby_script, ruby=ruby, args=args,
            ).items()
            if v is not NOTSET
        }
        task_id = kwargs.get("task_id", "?")
        where = f"task `{task_id}`"
        if backend is not None and config.backend(backend, where) != self.task_runner_backend:
            raise TaskRunnerConfigError(
                f"{where}: backend={backend!r} given to {type(self).__name__}, which is the "
                f"{self.task_runner_backend} backend; use TaskRunnerOperator to choose by backend="
            )
        if operator is None:
            raise TaskRunnerConfigError(
                f"{where}: TaskRunnerOperator needs `operator=`: 'sql', 'bash', 'python', 'ruby' "
                "or an Airflow operator class such as SQLExecuteQueryOperator"
            )
        kind = spec.resolve_kind(operator, where)
        if kind.name == "python":
            self._prepare_python(given, where)
        if isinstance(given.get("sql"), tuple):
            given["sql"] = list(given["sql"])
        for key in kwargs:
            if key in spec.UNSUPPORTED:
                raise TaskRunnerConfigError(
                    f"{where}: `{key}` is not supported by task-runner: {spec.UNSUPPORTED[key]}"
                )
        spec.check_spec_kwargs(kind, given, where)
        kwargs = self._backend_kwargs(
            kwargs, {"docker": docker_kwargs, "kubernetes": kubernetes_kwargs, "local": local_kwargs}, kind, where
        )
        self.apply_backend_extras({k: kwargs.pop(k) for k in self.backend_extra_kwargs if k in kwargs}, where)
        refs: list[Any] = []
        given = {k: _extract_refs(v, refs) for k, v in given.items()}
        spec.check_types({k: v for k, v in given.items() if not isinstance(v, spec.Ref)}, where)
        for key in ("op_args", "op_kwargs", "templates_dict", "parameters", "args", "sql", "env"):
            if key in given:
                spec.check_json(given[key], f"{where}: `{key}`")
        if kind.name == "python" and source.targets_python2(given.get("python")) and "python_source" in given:
            problems = source.python3_only_syntax(given["python_source"])
            if problems:
                raise TaskRunnerConfigError(
                    f"{where}: `{given['python_callable']}` runs on {given['python']} but uses Python-3-only "
                    f"syntax ({self._source_where}): {'; '.join(problems)}"
                )
        if not image and self.task_runner_backend != "local":
            raise TaskRunnerConfigError(f"{where}: `image=` is required on the {self.task_runner_backend} backend")

        self.task_runner_kind = kind.name
        self.task_runner_spec = given
        self.task_runner_refs = {str(i): ref for i, ref in enumerate(refs)}
        self.task_runner_image = config.image_name(image, self.task_runner_backend) if image else None
        self.task_runner_connections = list(dict.fromkeys(connections))
        self.task_runner_variables = list(dict.fromkeys(variables))
        self.task_runner_xcom_from = [self._xcom_source(s, where) for s in xcom_from]
        self.task_runner_skip_codes = self._skip_codes(kind, given)
        super().__init__(**self._backend_init(kwargs))
        self._check_spec_size(where)

    # ------------------------------------------------------------ parse time

    _source_where = ""

    def _prepare_python(self, given: dict[str, Any], where: str) -> None:
        fn = given.get("python_callable")
        if callable(fn):
            if "python_source" in given:
                raise TaskRunnerConfigError(
                    f"{where}: pass `python_source` only with python_callable as a function name string"
                )
            if _in_include_folder(fn):
                given["python_callable"] = source.reference(fn)
            else:
                captured = source.capture(fn, where)
                given["python_callable"] = captured.name
                given["python_source"] = captured.source
                self._source_where = captured.where
                if captured.globals_used:
                    log.warning(
                        "%s: `%s` uses %s, defined outside the function in %s; only the function's own "
                        "text is shipped to the container, so import or define them inside it",
                        where, captured.name, ", ".join(f"`{n}`" for n in captured.globals_used), captured.where,
                    )
        elif fn is not None and not isinstance(fn, str):
            raise TaskRunnerConfigError(f"{where}: `python_callable` must be a function or 'module:function'")

    def _backend_kwargs(
        self,
        kwargs: dict[str, Any],
        per_backend: Mapping[str, Mapping[str, Any] | None],
        kind: spec.OperatorKind,
        where: str,
    ) -> dict[str, Any]:
        """The kwargs for the Airflow operator underneath; others' set aside, unknown ones refused."""
        accepted = _init_params(type(self), TaskRunnerMixin) | set(self.backend_extra_kwargs)
        mine = _BACKEND_KWARGS[self.task_runner_backend]
        foreign = set().union(*(v for k, v in _BACKEND_KWARGS.items() if k != self.task_runner_backend)) - accepted
        out: dict[str, Any] = {}
        for key, value in kwargs.items():
            if key in self.backend_owned_kwargs:
                raise TaskRunnerConfigError(
                    f"{where}: `{key}` is set by task-runner's {self.task_runner_backend} backend and cannot be given"
                )
            if key in accepted:
                out[key] = value
            elif key in foreign or key in mine:
                log.debug("%s: `%s` is not a kwarg of the %s backend; ignored", where, key, self.task_runner_backend)
            else:
                candidates = accepted | spec.ALL_SPEC_KEYS | set(OWN_KWARGS)
                raise TaskRunnerConfigError(
                    f"{where}: unknown kwarg `{key}`{spec.suggest(key, candidates)}: it is not a kwarg of the "
                    f"{kind.name} operator ({', '.join(kind.keys)}), of task-runner ({', '.join(OWN_KWARGS)}), "
                    f"of BaseOperator, or of any backend"
                )
        for name, extra in per_backend.items():
            if not extra:
                continue
            if not isinstance(extra, Mapping):
                raise TaskRunnerConfigError(f"{where}: `{name}_kwargs` must be a dict")
            if name != self.task_runner_backend:
                continue
            for key, value in extra.items():
                if key in self.backend_owned_kwargs or key not in accepted:
                    raise TaskRunnerConfigError(
                        f"{where}: `{name}_kwargs[{key!r}]` is not a kwarg the {name} backend passes on"
                        f"{spec.suggest(key, accepted)}"
                    )
                out[key] = value
        return out

    @staticmethod
    def _xcom_source(value: str | Mapping[str, Any], where: str) -> tuple[str, str]:
        if isinstance(value, str):
            return (value, payload_context.RETURN_KEY)
        if isinstance(value, Mapping) and isinstance(value.get("task_id"), str):
            return (value["task_id"], str(value.get("key", payload_context.RETURN_KEY)))
        raise TaskRunnerConfigError(f"{where}: `xcom_from` entries are task ids or {{'task_id': ..., 'key': ...}}")

    @staticmethod
    def _skip_codes(kind: spec.OperatorKind, given: Mapping[str, Any]) -> list[int]:
        codes = given.get("skip_on_exit_code", [99] if kind.name == "bash" else [])
        if codes is None:
            return []
        return [codes] if isinstance(codes, int) else list(codes)

    def _backend_init(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Hook: the kwargs the backend's Airflow operator is built with."""
        return kwargs

    def apply_backend_extras(self, extras: dict[str, Any], where: str) -> None:
        """Hook: take the backend class's own kwargs (given directly or in ``<backend>_kwargs``)."""

    def _check_spec_size(self, where: str) -> None:
        if self.task_runner_backend == "docker" or self.task_runner_refs:
            return
        encoded = payload.encode(self._static_spec())
        if not payload.fits_env(encoded) and self.task_runner_backend == "kubernetes":
            raise TaskRunnerConfigError(
                f"{where}: the task's spec is {len(encoded)} bytes once compressed, over the "
                f"{payload.ENV_LIMIT}-byte limit of one environment variable (Linux caps one at 128 KiB): "
                "move large SQL or code into a file in the image's include/ folder and name it "
                "(e.g. sql='queries/big.sql'), or use the docker backend, which ships large payloads as files"
            )

    # --------------------------------------------------------- execute time

    def _static_spec(self) -> dict[str, Any]:
        """The spec as known at parse time (XComArgs unresolved)."""
        body = {k: v for k, v in self.task_runner_spec.items() if not isinstance(v, spec.Ref)}
        return {"operator": self.task_runner_kind, **spec.to_json_value(body)}

    def task_runner_search_path(self) -> list[str]:
        """Template folders for the runner; the image's include/ is added by the runner itself."""
        return []

    def build_spec(self) -> dict[str, Any]:
        """The spec for this run: XComArgs resolved, Airflow-level settings filled in."""
        resolved = getattr(self, "task_runner_refs", {}) or {}
        body = _substitute(copy.deepcopy(self.task_runner_spec), resolved)
        out: dict[str, Any] = {"operator": self.task_runner_kind, **spec.to_json_value(body)}
        out["task_id"] = self.task_id
        out["do_xcom_push"] = bool(self.do_xcom_push)
        timeout = getattr(self, "execution_timeout", None)
        if isinstance(timeout, datetime.timedelta) and timeout.total_seconds() > 0:
            out["execution_timeout"] = timeout.total_seconds()
        dag = getattr(self, "dag", None)
        if dag is not None and getattr(dag, "render_template_as_native_obj", False):
            out["render_template_as_native_obj"] = True
        search = self.task_runner_search_path()
        if search:
            out["template_searchpath"] = search
        for key in ("op_args", "op_kwargs", "templates_dict", "parameters", "args"):
            if key in out:
                spec.check_json(out[key], f"task `{self.task_id}`: `{key}` (after resolving XComArgs)")
        return out

    def _xcom_sources(self) -> list[tuple[str, str]]:
        upstream = sorted(getattr(self, "upstream_task_ids", ()) or ())
        sources = [(t, payload_context.RETURN_KEY) for t in upstream]
        return list(dict.fromkeys([*sources, *self.task_runner_xcom_from]))

    def _mapped_upstream(self) -> set[str]:
        dag = getattr(self, "dag", None)
        out: set[str] = set()
        if dag is None:
            return out
        for task_id, _ in self._xcom_sources():
            try:
                task = dag.get_task(task_id)
            except Exception:
                continue
            if type(task).__name__ in ("MappedOperator", "DecoratedMappedOperator"):
                out.add(task_id)
        return out

    def build_payloads(self, context: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
        """(spec, context payload, secret env) for this task instance."""
        where = f"task `{self.task_id}`"
        task_spec = self.build_spec()
        xcom = payload_context.xcom_entries(context, self._xcom_sources(), self._mapped_upstream())
        ctx = payload_context.build(context, self, xcom)
        kind = spec.OPERATORS[self.task_runner_kind]
        conns_seen, vars_seen = secrets.references(
            task_spec, kind.template_ext, [*self.task_runner_search_path(), *self.task_runner_local_include()]
        )
        # A conn_id Airflow does not know may come from a Secret mounted in the
        # pod (or be the runner's own sqlite_default): the runner reports it if
        # not. Declared connections= must exist.
        used = [self.task_runner_spec["conn_id"]] if isinstance(self.task_runner_spec.get("conn_id"), str) else []
        connections = secrets.resolve_connections(
            [*self.task_runner_connections, *used, *conns_seen], set(self.task_runner_connections), where
        )
        variables = secrets.resolve_variables(
            [*self.task_runner_variables, *vars_seen], set(self.task_runner_variables), where
        )
        return task_spec, ctx, secrets.as_env(connections, variables)

    def task_runner_local_include(self) -> list[str]:
        """Worker-side folders whose template files are scanned for conn/var references."""
        return [d for d in _project_include_dirs(getattr(self, "dag", None)) if os.path.isdir(d)]

    def check_result(self, value: Any) -> Any:
        """multiple_outputs needs a dict with string keys; say so before Airflow's generic error."""
        if getattr(self, "multiple_outputs", False) and value is not None and not isinstance(value, dict):
            raise TaskRunnerConfigError(
                f"task `{self.task_id}` has multiple_outputs=True but returned a {type(value).__name__}, not a dict"
            )
        return value


def mixin_signature(*extra: inspect.Parameter) -> inspect.Signature:
    """The signature a concrete backend class's ``__init__`` shows: the mixin's names, plus ``extra``.

    Airflow wraps a class's ``__init__`` only when the class defines one, and
    reads the accepted names from its signature (``partial()``/``expand()``
    validate against them); the mixin is not an Airflow class, so each backend
    class defines a pass-through ``__init__`` carrying this signature.
    """
    base = inspect.signature(TaskRunnerMixin.__init__)
    params = list(base.parameters.values())
    params[-1:-1] = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in extra]
    return base.replace(parameters=params)


def _project_include_dirs(dag: Any) -> list[str]:
    """``include/`` beside or above the DAG file's folder (Astro and Airflow project layouts)."""
    configured = config.get("include_dir").strip()
    if configured:
        return [configured]
    fileloc = getattr(dag, "fileloc", None) if dag is not None else None
    if not fileloc:
        return []
    folder = Path(fileloc).resolve().parent
    return [str(folder / "include"), str(folder.parent / "include")]


__all__ = ["NOTSET", "TaskRunnerMixin", "AIRFLOW_V_3_0_PLUS"]
