"""Capturing a DAG-file function's source for the container, and the checks
that can be made on it at parse time.

Unlike ``@task.docker``'s capture (reference §1.4), the function is located by
Python's own parser, not by splitting on the decorator's text or dropping lines
that start with ``#``: comments (even at column 0), ``#`` lines inside
triple-quoted strings, and a decorator name repeated in the body all survive.
Only the decorator lines of the function itself are removed.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import re
import textwrap
from dataclasses import dataclass
from typing import Any, Callable

from task_runner_provider.errors import TaskRunnerConfigError

# Names that are builtins on Python 2.7 but not on 3: not module globals.
_PY2_BUILTINS = {
    "basestring", "unicode", "long", "xrange", "raw_input", "unichr", "reduce",
    "file", "execfile", "cmp", "buffer", "apply", "intern", "coerce", "reload",
}


@dataclass(frozen=True)
class Captured:
    """A function's shippable source."""

    name: str
    source: str
    #: Where it came from, for messages: ``dags/sales.py line 12``.
    where: str
    #: Module-level names of the DAG file the function uses (not shipped).
    globals_used: tuple[str, ...]


def is_dag_file_function(fn: Callable[..., Any]) -> bool:
    """True for a function defined in a DAG file (its module is not importable in an image)."""
    module = getattr(fn, "__module__", "") or ""
    return module == "__main__" or module.startswith("unusual_prefix_") or "<" in fn.__qualname__


def reference(fn: Callable[..., Any]) -> str:
    """``module:qualname``, for a function the image can import."""
    return f"{fn.__module__}:{fn.__qualname__}"


def capture(fn: Callable[..., Any], where: str) -> Captured:
    """The function's source, dedented, its own decorators removed."""
    if inspect.iscoroutinefunction(fn):
        raise TaskRunnerConfigError(f"{where}: `{fn.__name__}` is async; task-runner runs plain functions")
    if "<locals>" in fn.__qualname__ and fn.__closure__:
        names = ", ".join(fn.__code__.co_freevars)
        raise TaskRunnerConfigError(
            f"{where}: `{fn.__name__}` is a closure over {names}; only the function's own text is shipped "
            "to the container, so pass those values as arguments"
        )
    try:
        lines, first = inspect.getsourcelines(fn)
        path = inspect.getsourcefile(fn) or "<unknown>"
    except (OSError, TypeError) as err:
        raise TaskRunnerConfigError(
            f"{where}: cannot read the source of `{getattr(fn, '__name__', fn)}` ({err}); "
            "define the function in the DAG file, or pass python_callable='module:function' importable in the image"
        ) from err
    text = textwrap.dedent("".join(lines))
    origin = f"{path} line {first}"
    try:
        tree = ast.parse(text)
    except SyntaxError:
        # Odd indentation (a column-0 comment inside an indented function makes
        # dedent a no-op): indent is taken from the def line instead.
        text = _dedent_by_first_line(lines)
        tree = ast.parse(text)
    node = next(
        (n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))),
        None,
    )
    if node is None or node.name != fn.__name__:
        raise TaskRunnerConfigError(
            f"{where}: the source found for `{fn.__name__}` at {origin} is not its `def`; "
            "lambdas and generated functions cannot be shipped, write a def"
        )
    text_lines = text.splitlines(keepends=True)
    start = node.decorator_list[0].lineno - 1 if node.decorator_list else node.lineno - 1
    end = getattr(node, "end_lineno", None) or len(text_lines)
    source = "".join(text_lines[:start] + text_lines[node.lineno - 1 : end])
    if not source.endswith("\n"):
        source += "\n"
    return Captured(
        name=fn.__name__,
        source=source,
        where=origin,
        globals_used=tuple(sorted(_globals_used(ast.parse(source).body[0]))),
    )


def _dedent_by_first_line(lines: list[str]) -> str:
    def_line = next((ln for ln in lines if ln.lstrip().startswith(("def ", "async def ", "@"))), lines[0])
    indent = len(def_line) - len(def_line.lstrip())
    out = []
    for ln in lines:
        prefix = ln[:indent]
        out.append(ln[indent:] if not prefix.strip() else ln.lstrip() if ln.lstrip().startswith("#") else ln)
    return "".join(out)


def _globals_used(fn_node: ast.AST) -> set[str]:
    """Names the function reads that it neither defines, imports nor gets as builtins."""
    bound: set[str] = set()
    loaded: set[str] = set()
    for node in ast.walk(fn_node):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            if not isinstance(node, ast.ClassDef):
                args = node.args
                for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                    if a is not None:
                        bound.add(a.arg)
        elif isinstance(node, ast.Lambda):
            args = node.args
            for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if a is not None:
                    bound.add(a.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
    return loaded - bound - set(dir(builtins)) - _PY2_BUILTINS


_PY2_NAME = re.compile(r"(^|/)(python|pypy|jython)?2(\.\d+)?$|(^|/)python2\.7")


def targets_python2(interpreter: str | None) -> bool:
    """Whether ``python=`` names a Python 2 interpreter (``python2.7``, ``/opt/py27/bin/python2``)."""
    return bool(interpreter) and bool(_PY2_NAME.search(interpreter.strip()))


def python3_only_syntax(source: str) -> list[str]:
    """Python-3-only constructs in the source, as ``line N: what``, for a 2.7 target."""
    found: list[str] = []
    tree = ast.parse(source)

    def add(node: ast.AST, what: str) -> None:
        found.append(f"line {getattr(node, 'lineno', '?')}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            add(node, "an f-string")
        elif isinstance(node, (ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith)):
            add(node, "async/await")
        elif isinstance(node, ast.AnnAssign):
            add(node, "a variable annotation")
        elif isinstance(node, (ast.FunctionDef, ast.Lambda)):
            args = node.args
            if args.kwonlyargs:
                add(node, "keyword-only arguments")
            if args.posonlyargs:
                add(node, "positional-only arguments")
            annotated = [a for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a is not None and a.annotation is not None]
            if annotated or (isinstance(node, ast.FunctionDef) and node.returns is not None):
                add(node, "type annotations")
        elif isinstance(node, ast.Nonlocal):
            add(node, "`nonlocal`")
        elif isinstance(node, ast.NamedExpr):
            add(node, "the walrus operator `:=`")
        elif isinstance(node, ast.YieldFrom):
            add(node, "`yield from`")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            add(node, "the `@` operator")
        elif isinstance(node, ast.Raise) and node.cause is not None:
            add(node, "`raise ... from ...`")
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)) and isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                add(node, "`*` unpacking in a literal (PEP 448)")
        elif isinstance(node, ast.Call):
            starred = [i for i, a in enumerate(node.args) if isinstance(a, ast.Starred)]
            if len(starred) > 1 or (starred and starred[-1] != len(node.args) - 1):
                add(node, "several `*` unpackings in one call (PEP 448)")
            if sum(1 for k in node.keywords if k.arg is None) > 1:
                add(node, "several `**` unpackings in one call (PEP 448)")
        elif isinstance(node, ast.Dict) and any(k is None for k in node.keys):
            add(node, "`**` unpacking in a dict literal")
        elif isinstance(node, ast.Match if hasattr(ast, "Match") else ()):
            add(node, "`match`")
    return sorted(set(found), key=lambda s: int(s.split()[1].rstrip(":")) if s.split()[1].rstrip(":").isdigit() else 0)
