#!/usr/bin/env python3
"""Compute the shim's argument-binding table with REAL Airflow.

Every signature below meets every input (op_args, op_kwargs, templates_dict); each pair
is run through a real ``PythonOperator(...).execute(context)`` of each installed Airflow,
so the binding is Airflow's own: ``context_merge``, ``KeywordParameters.determine`` and
the call. The callable returns its bound arguments (``locals()``), which become the
expected value; an exception becomes the expected error. For a ``TypeError`` raised by the
call, the table also records what ``inspect.signature(f).bind`` says about the same
arguments: the shim checks a call with ``Signature.bind`` (or its port, for plain
functions) before making it, and reports bind's words.

    python3 tools/shim-binding/generate.py            # writes runners/tests/fixtures/binding_cases.json
    python3 tools/shim-binding/generate.py --check    # exits 1 if the table is out of date

The Airflow interpreters come from ``--airflow PYTHON`` (repeatable), else
``$TR_AIRFLOW2_PYTHON`` / ``$TR_AIRFLOW3_PYTHON``, else ``target/provider-env.sh``
(written by ``scripts/airflow-venvs.sh``), here or in the main checkout.

Run under an Airflow interpreter with ``--evaluate OUT`` it writes that Airflow's outcomes.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TABLE = REPO / "runners" / "tests" / "fixtures" / "binding_cases.json"

# The context the callable is bound against: sentinel values, so the table shows which
# key reached which parameter. PythonOperator.execute adds `templates_dict`; Airflow 3's
# also adds `outlet_events` when the context lacks it (a real context never does).
CONTEXT_KEYS = ["ds", "outlet_events", "params", "run_id", "ti"]

# (name, source lines defining `f`, oldest Python that can run the case in the shim).
# Sources must stay valid Python 2.7 unless marked 3.x: the shim test runs them there.
PY2, PY3, PY38 = [2, 7], [3, 0], [3, 8]
SIGNATURES = [
    ("no_parameters", ["def f():", "    return locals()"], PY2),
    ("a", ["def f(a):", "    return locals()"], PY2),
    ("a_b", ["def f(a, b):", "    return locals()"], PY2),
    ("a_b_default", ["def f(a, b='def:b'):", "    return locals()"], PY2),
    ("ds", ["def f(ds):", "    return locals()"], PY2),
    ("a_ds", ["def f(a, ds):", "    return locals()"], PY2),
    ("ds_a", ["def f(ds, a):", "    return locals()"], PY2),
    ("a_ds_ti_defaults", ["def f(a, ds=None, ti=None):", "    return locals()"], PY2),
    ("a_unknown_required", ["def f(a, missing):", "    return locals()"], PY2),
    ("a_unknown_default", ["def f(a, x='def:x'):", "    return locals()"], PY2),
    ("varargs", ["def f(*args):", "    return locals()"], PY2),
    ("a_varargs", ["def f(a, *args):", "    return locals()"], PY2),
    ("varkw", ["def f(**kwargs):", "    return locals()"], PY2),
    ("a_varkw", ["def f(a, **kwargs):", "    return locals()"], PY2),
    ("ds_varkw", ["def f(ds, **kwargs):", "    return locals()"], PY2),
    ("everything_py2", ["def f(a, b='def:b', *args, **kwargs):", "    return locals()"], PY2),
    ("templates_dict", ["def f(templates_dict):", "    return locals()"], PY2),
    ("templates_dict_varkw", ["def f(templates_dict=None, **context):", "    return locals()"], PY2),
    ("params_run_id_default", ["def f(params, run_id='def:run_id'):", "    return locals()"], PY2),
    ("lambda", ["f = lambda a, ds=None: locals()"], PY2),
    ("class", ["class f(dict):",
               "    def __init__(self, a, ds=None):",
               "        dict.__init__(self, a=a, ds=ds)"], PY2),
    ("bound_method", ["class K(object):",
                      "    def m(self, a, ds=None):",
                      "        return {'a': a, 'ds': ds}",
                      "f = K().m"], PY2),
    ("classmethod", ["class K(object):",
                     "    @classmethod",
                     "    def m(cls, a, ti=None):",
                     "        return {'a': a, 'ti': ti}",
                     "f = K.m"], PY2),
    ("callable_object", ["class K(object):",
                         "    def __call__(self, a, **kw):",
                         "        return {'a': a, 'kw': kw}",
                         "f = K()"], PY2),
    ("partial", ["import functools",
                 "def g(p, a, ds=None):",
                 "    return locals()",
                 "f = functools.partial(g, 'partial:p')"], PY2),
    ("partial_keyword", ["import functools",
                         "def g(a, ds=None):",
                         "    return locals()",
                         "f = functools.partial(g, ds='partial:ds')"], PY2),
    ("builtin", ["f = dict"], PY2),
    ("kwonly", ["def f(a, *, ds):", "    return locals()"], PY3),
    ("kwonly_defaults", ["def f(*, ds='def:ds', x='def:x'):", "    return locals()"], PY3),
    ("varargs_kwonly", ["def f(*args, ds):", "    return locals()"], PY3),
    ("kwonly_unknown_required", ["def f(a, *, b):", "    return locals()"], PY3),
    ("kwonly_varkw", ["def f(a, *, ds, **kw):", "    return locals()"], PY3),
    ("wrapped", ["import functools",
                 "def deco(fn):",
                 "    @functools.wraps(fn)",
                 "    def wrapper(*args, **kwargs):",
                 "        return fn(*args, **kwargs)",
                 "    return wrapper",
                 "@deco",
                 "def f(a, ds=None):",
                 "    return locals()"], PY3),
    ("explicit_signature", ["import inspect",
                            "def f(*args, **kwargs):",
                            "    return {'args': args, 'kwargs': kwargs}",
                            "f.__signature__ = inspect.signature(lambda a, ds=None: None)"], PY3),
    ("posonly", ["def f(a, /, b):", "    return locals()"], PY38),
    ("posonly_ds", ["def f(ds, /):", "    return locals()"], PY38),
    ("posonly_varkw", ["def f(a, /, **kw):", "    return locals()"], PY38),
    ("everything", ["def f(a, /, b='def:b', *args, ds, x='def:x', **kw):", "    return locals()"], PY38),
]

# (name, op_args, op_kwargs, templates_dict)
INPUTS = [
    ("nothing", [], {}, None),
    ("one_arg", [1], {}, None),
    ("two_args", [1, 2], {}, None),
    ("three_args", [1, 2, 3], {}, None),
    ("kwarg_a", [], {"a": "kw:a"}, None),
    ("arg_and_kwarg_a", [1], {"a": "kw:a"}, None),
    ("arg_and_kwarg_b", [1], {"b": "kw:b"}, None),
    ("kwarg_ds", [], {"ds": "kw:ds"}, None),
    ("arg_and_kwarg_ds", [1], {"ds": "kw:ds"}, None),
    ("two_args_and_kwarg_ds", [1, 2], {"ds": "kw:ds"}, None),
    ("unknown_kwargs", [1], {"x": "kw:x", "extra": "kw:extra"}, None),
    ("templates_dict", [1], {}, {"t": "td:t"}),
    ("kwarg_templates_dict", [1], {"templates_dict": "kw:td"}, {"t": "td:t"}),
]


# ---------------------------------------------------------------------------
# --evaluate: inside an Airflow venv.


def jsonable(value):
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError("not JSON: %r" % (value,))


def evaluate(out):
    """Every signature x input through Airflow's PythonOperator.execute, as JSON into `out`
    (not stdout: Airflow 3 logs there)."""
    import inspect
    import logging

    import airflow

    try:
        from airflow.providers.standard.operators.python import PythonOperator
    except ImportError:  # Airflow 2
        from airflow.operators.python import PythonOperator
    logging.disable(logging.CRITICAL)
    outcomes = {}
    for sig_name, source, _ in SIGNATURES:
        for in_name, op_args, op_kwargs, templates_dict in INPUTS:
            ns = {}
            exec(compile("\n".join(source) + "\n", "<%s>" % sig_name, "exec"), ns)
            fn = ns["f"]
            op = PythonOperator(task_id="t", python_callable=fn, op_args=list(op_args),
                                op_kwargs=dict(op_kwargs), templates_dict=templates_dict)
            given = op.op_kwargs
            context = {k: "ctx:" + k for k in CONTEXT_KEYS}
            try:
                bound = op.execute(context)
            except (TypeError, ValueError) as exc:
                outcome = {"error": "%s: %s" % (type(exc).__name__, exc)}
                if op.op_kwargs is not given:  # determine_kwargs ran: the call raised
                    outcome["stage"] = "call"
                    try:
                        inspect.signature(fn).bind(*op.op_args, **op.op_kwargs)
                    except TypeError as bind_exc:
                        outcome["bind"] = str(bind_exc)
                else:
                    outcome["stage"] = "determine"
            else:
                outcome = {"bound": jsonable(bound)}
            outcomes["%s/%s" % (sig_name, in_name)] = outcome
    out.write_text(json.dumps({"airflow_version": airflow.__version__,
                               "python_version": "%d.%d.%d" % sys.version_info[:3],
                               "outcomes": outcomes}, sort_keys=True))


# ---------------------------------------------------------------------------
# The driver: run --evaluate under each Airflow, merge into the table.


def airflow_pythons(given):
    if given:
        return given
    found = [os.environ[k] for k in ("TR_AIRFLOW2_PYTHON", "TR_AIRFLOW3_PYTHON") if os.environ.get(k)]
    if found:
        return found
    for env_file in (REPO / "target" / "provider-env.sh",):
        if env_file.is_file():
            values = dict(line[len("export "):].split("=", 1) for line in env_file.read_text().splitlines()
                          if line.startswith("export ") and "=" in line)
            found = [values[k].strip("'\"") for k in ("TR_AIRFLOW2_PYTHON", "TR_AIRFLOW3_PYTHON") if k in values]
            if found:
                return found
    sys.exit("no Airflow interpreter: pass --airflow PYTHON, set TR_AIRFLOW2_PYTHON/TR_AIRFLOW3_PYTHON, "
             "or run scripts/airflow-venvs.sh")


def run_airflow(python):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    with tempfile.TemporaryDirectory(prefix="shim-binding-home-") as home:
        env.update(AIRFLOW_HOME=home, AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__CORE__UNIT_TEST_MODE="True")
        out = Path(home) / "outcomes.json"
        subprocess.run([python, str(Path(__file__).resolve()), "--evaluate", str(out)], env=env, cwd=home,
                       stdout=subprocess.DEVNULL, check=True)
        return json.loads(out.read_text())


def build_table(runs):
    runs = sorted(runs, key=lambda r: [int(x) for x in r["airflow_version"].split(".")[:2]])
    newest = runs[-1]["airflow_version"]
    cases, differing = [], []
    for sig_name, source, min_version in SIGNATURES:
        for in_name, op_args, op_kwargs, templates_dict in INPUTS:
            name = "%s/%s" % (sig_name, in_name)
            by_version = {r["airflow_version"]: r["outcomes"][name] for r in runs}
            case = {"name": name, "source": source, "min_version": min_version, "op_args": op_args,
                    "op_kwargs": op_kwargs, "templates_dict": templates_dict}
            outcomes = list(by_version.values())
            if all(o == outcomes[0] for o in outcomes):
                case["expect"] = outcomes[0]
            else:
                case["expect"] = by_version[newest]
                case["airflow"] = by_version
                differing.append(name)
            bad = [v for v, o in by_version.items() if o.get("stage") == "call" and "bind" not in o]
            if bad:  # the shim's pre-check (Signature.bind) would let this call through
                sys.exit("%s: the call raised but Signature.bind accepts it (Airflow %s)" % (name, bad))
            cases.append(case)
    table = {
        "about": "The Python shim's argument binding (PythonOperator: context_merge, "
                 "KeywordParameters.determine, the call) as real Airflow does it. Generated by "
                 "tools/shim-binding/generate.py; checked by runners/tests/binding.py. `expect` is "
                 "Airflow %s's outcome; `airflow` lists every version's where they differ." % newest,
        "airflow_versions": [r["airflow_version"] for r in runs],
        "python_version": runs[-1]["python_version"],
        "context_keys": CONTEXT_KEYS,
        "cases": cases,
    }
    return table, differing


def table_text(table):
    """The table as JSON, one case a line, so a diff shows which cases changed."""
    head = {k: v for k, v in table.items() if k != "cases"}
    lines = ["{"] + ["  %s: %s," % (json.dumps(k), json.dumps(head[k], ensure_ascii=False)) for k in sorted(head)]
    lines.append('  "cases": [')
    order = ["name", "source", "min_version", "op_args", "op_kwargs", "templates_dict", "expect", "airflow"]
    cases = [json.dumps({k: c[k] for k in order if k in c}, ensure_ascii=False) for c in table["cases"]]
    lines += ["    %s%s" % (c, "," if i < len(cases) - 1 else "") for i, c in enumerate(cases)]
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluate", type=Path, metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("--airflow", action="append", metavar="PYTHON", help="an Airflow venv's python")
    parser.add_argument("--out", type=Path, default=TABLE)
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = parser.parse_args()
    if args.evaluate:
        return evaluate(args.evaluate)
    runs = [run_airflow(p) for p in airflow_pythons(args.airflow)]
    table, differing = build_table(runs)
    text = table_text(table)
    print("%d cases, Airflow %s; differing between versions: %s" % (
        len(table["cases"]), " and ".join(table["airflow_versions"]), ", ".join(differing) or "none"),
        file=sys.stderr)
    if args.check:
        if not args.out.is_file() or args.out.read_text() != text:
            sys.exit("%s is out of date: rerun tools/shim-binding/generate.py" % args.out)
        return None
    args.out.write_text(text)
    return None


if __name__ == "__main__":
    main()
