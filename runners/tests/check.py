#!/usr/bin/env python3
"""Test harness for the task-runner shims (driven by run_tests.sh).

Runs each case of a fixture file against one real interpreter exactly as the Rust side
will: the shim copied to <tmp>/shim, then `<interp> <tmp>/shim <tmp>/input.json
<tmp>/result.json <tmp>/error.txt`. Asserts on the exit code, result.json, error.txt and
output.

    check.py suite KIND LABEL INTERP     # KIND python|ruby, LABEL python2|python3|ruby
    check.py chain PYTHON3 PYTHON2 RUBY  # an XCom travelling python3 -> python2.7 -> ruby

fixtures/<KIND>_cases.json is a list of cases; every case runs for every interpreter
of its kind unless restricted:
    name          what the case shows
    input         fields merged over the defaults and fixtures/context.json (context,
                  datetime_keys, xcom); `source_lines`/`script_lines` are joined into
                  `source`/`script`; "@FIXTURES@" in any string is the fixtures path
    raw_input     input.json text to use verbatim instead
    argv          shim arguments to use instead of the three paths
    env           environment changes (null unsets); Python runs start from
                  PYTHONUNBUFFERED=1 PYTHONIOENCODING=utf-8, as the Rust side sets them
    merge_output  stderr into the stdout pipe, to check interleaving
    only          labels to run for; min_version: [3, 7] (Python only)
    expect        exit (default 0); result (JSON, bool/int/float kept apart) and/or
                  result_text (exact file text), else result.json must be absent or
                  empty; error (exact) or error_re, else error.txt must be empty;
                  error_len; stdout/stderr (substrings), stdout_re/stderr_re,
                  stdout_lacks/stderr_lacks; output (exact merged output)
    expect_LABEL  overrides of expect for one label (e.g. expect_python2)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, 'fixtures')
SHIMS = {'python': os.path.join(HERE, '..', 'python_shim.py'),
         'ruby': os.path.join(HERE, '..', 'ruby_shim.rb')}
# What the Rust side sets for Python children (PROTOCOL.md §1), plus keeping
# fixtures/pypath free of .pyc files.
PYTHON_ENV = {'PYTHONUNBUFFERED': '1', 'PYTHONIOENCODING': 'utf-8', 'PYTHONDONTWRITEBYTECODE': '1'}


def substitute(value):
    if isinstance(value, str):
        return value.replace('@FIXTURES@', FIXTURES)
    if isinstance(value, list):
        return [substitute(v) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v) for k, v in value.items()}
    return value


def build_input(kind, case):
    with open(os.path.join(FIXTURES, 'context.json'), encoding='utf-8') as f:
        spec = json.load(f)
    if kind == 'python':
        base = {'kind': 'python', 'callable': 'f', 'source': None, 'op_args': [],
                'op_kwargs': {}, 'templates_dict': None, 'python_path': []}
    else:
        base = {'kind': 'ruby', 'script': None, 'script_name': 'transform.rb', 'args': []}
    base.update(spec)
    base.update(case.get('input', {}))
    for lines_key, key in (('source_lines', 'source'), ('script_lines', 'script')):
        if lines_key in base:
            base[key] = '\n'.join(base.pop(lines_key)) + '\n'
    return substitute(base)


def run_shim(kind, interp, spec_or_text, case=None, workdir=None):
    """Run one shim; returns (returncode, stdout, stderr, result bytes|None, error text|None, dir)."""
    case = case or {}
    d = tempfile.mkdtemp(prefix='shim-', dir=workdir)
    shim = os.path.join(d, 'shim')
    shutil.copy(SHIMS[kind], shim)
    paths = [os.path.join(d, name) for name in ('input.json', 'result.json', 'error.txt')]
    text = spec_or_text if isinstance(spec_or_text, str) else json.dumps(spec_or_text, ensure_ascii=False)
    with open(paths[0], 'w', encoding='utf-8') as f:
        f.write(text)
    env = dict(os.environ)
    if kind == 'python':
        env.update(PYTHON_ENV)
    for key, value in case.get('env', {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    argv = [interp, shim] + (case['argv'] if 'argv' in case else paths)
    merge = case.get('merge_output', False)
    proc = subprocess.run(argv, cwd=d, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT if merge else subprocess.PIPE, timeout=120)
    result = error = None
    if os.path.exists(paths[1]):
        with open(paths[1], 'rb') as f:
            result = f.read()
    if os.path.exists(paths[2]):
        with open(paths[2], 'rb') as f:
            error = f.read().decode('utf-8')
    leftovers = [n for n in os.listdir(d) if n.endswith('.tmp')]
    return proc.returncode, proc.stdout.decode('utf-8', 'replace'), \
        (proc.stderr or b'').decode('utf-8', 'replace'), result, error, leftovers


def strict_json(data):
    def no_constants(name):
        raise ValueError('non-strict JSON constant %s' % name)
    return json.loads(data.decode('utf-8'), parse_constant=no_constants)


def same(a, b):
    """JSON equality that keeps bool, int and float apart (1 != 1.0 != true)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def verify(exp, rc, out, err, result, error, leftovers):
    problems = []
    if rc != exp.get('exit', 0):
        problems.append('exit code %r, expected %r' % (rc, exp.get('exit', 0)))
    if leftovers:
        problems.append('left temp files behind: %r' % leftovers)
    has_result = bool(result)
    if 'result' in exp or 'result_text' in exp:
        if not has_result:
            problems.append('result.json missing or empty')
        else:
            try:
                value = strict_json(result)
            except ValueError as e:
                problems.append('result.json is not strict JSON: %s: %r' % (e, result[:200]))
            else:
                if 'result' in exp and not same(value, exp['result']):
                    problems.append('result %s\n      expected %s' % (
                        json.dumps(value, ensure_ascii=False), json.dumps(exp['result'], ensure_ascii=False)))
                if 'result_text' in exp and result.decode('utf-8') != exp['result_text']:
                    problems.append('result.json text %r, expected %r' % (result.decode('utf-8'), exp['result_text']))
    elif has_result:
        problems.append('result.json should be absent or empty, has %r' % result[:200])
    error = error or ''
    if '\n' in error:
        problems.append('error.txt is not one line: %r' % error)
    if 'error' in exp:
        if error != exp['error']:
            problems.append('error.txt %r\n      expected %r' % (error, exp['error']))
    elif 'error_re' in exp:
        if not re.search(exp['error_re'], error):
            problems.append('error.txt %r does not match %r' % (error, exp['error_re']))
    elif error:
        problems.append('error.txt should be empty, has %r' % error)
    if 'error_len' in exp and len(error) != exp['error_len']:
        problems.append('error.txt has %d characters, expected %d' % (len(error), exp['error_len']))
    for stream, text in (('stdout', out), ('stderr', err)):
        for needle in exp.get(stream, []):
            if needle not in text:
                problems.append('%s lacks %r' % (stream, needle))
        for pattern in exp.get(stream + '_re', []):
            if not re.search(pattern, text):
                problems.append('%s does not match %r' % (stream, pattern))
        for needle in exp.get(stream + '_lacks', []):
            if needle in text:
                problems.append('%s should not contain %r' % (stream, needle))
    if 'output' in exp and out != exp['output']:
        problems.append('merged output %r, expected %r' % (out, exp['output']))
    if problems:
        problems.append('--- stdout ---\n%s--- stderr ---\n%s' % (out, err))
    return problems


def interpreter_version(interp):
    if os.path.basename(interp).startswith('ruby'):
        return ()
    out = subprocess.check_output([interp, '-c', 'import sys; print("%d %d" % sys.version_info[:2])'])
    return tuple(int(x) for x in out.split())


def suite(kind, label, interp):
    with open(os.path.join(FIXTURES, '%s_cases.json' % kind), encoding='utf-8') as f:
        cases = json.load(f)
    version = interpreter_version(interp) if kind == 'python' else ()
    workdir = tempfile.mkdtemp(prefix='shim-tests-')
    failures = ran = 0
    for case in cases:
        name = case['name']
        if 'only' in case and label not in case['only']:
            continue
        if 'min_version' in case and version < tuple(case['min_version']):
            continue
        exp = dict(case['expect'])
        exp.update(case.get('expect_' + label, {}))
        spec = case['raw_input'] if 'raw_input' in case else build_input(kind, case)
        ran += 1
        try:
            problems = verify(exp, *run_shim(kind, interp, spec, case, workdir))
        except subprocess.TimeoutExpired:
            problems = ['timed out']
        if problems:
            failures += 1
            print('FAIL %-8s %s\n    %s' % (label, name, '\n    '.join(problems)))
        else:
            print('ok   %-8s %s' % (label, name))
    shutil.rmtree(workdir, ignore_errors=True)
    print('%s %s (%s): %d run, %d failed' % (kind, label, interp, ran, failures))
    return 1 if failures or not ran else 0


def chain(python3, python2, ruby):
    """python3's XCom feeds python2.7, whose XCom feeds ruby, through the xcom list."""
    steps = [
        ('python', python3, {'callable': 'produce', 'source_lines': [
            'def produce(logical_date, ti):',
            '    return {"rows": ti.xcom_pull("extract")["rows"], "big": 2 ** 80,',
            '            "when": logical_date, "name": u"Z\\u00fcrich \\u2713", "pair": (1, 2)}']}),
        ('python', python2, {'callable': 'transform', 'source_lines': [
            'def transform(ti):',
            '    v = ti.xcom_pull(task_ids="step1")',
            '    return {"sum": sum(v["rows"]), "big": v["big"] + 1, "when": v["when"],',
            '            "name": v["name"] + u" \\u2192 py2", "pair": v["pair"]}']}),
        ('ruby', ruby, {'script_lines': [
            "v = ti.xcom_pull(task_ids: 'step2')",
            "{total: v['sum'], big: v['big'] * 2, year: DateTime.parse(v['when']).year,",
            " name: v['name'] + ' → ruby', pair: v['pair']}"]}),
    ]
    previous = None
    for i, (kind, interp, case_input) in enumerate(steps, 1):
        spec = build_input(kind, {'input': case_input})
        if previous is not None:
            spec['xcom'] = spec['xcom'] + [{'task_id': 'step%d' % (i - 1), 'value': previous}]
        rc, out, err, result, error, _ = run_shim(kind, interp, spec)
        if rc != 0 or not result:
            print('FAIL chain step %d (%s): exit %d, error %r\n%s%s' % (i, interp, rc, error, out, err))
            return 1
        previous = strict_json(result)
    expected = {'total': 6, 'big': (2 ** 80 + 1) * 2, 'year': 2024,
                'name': 'Zürich ✓ → py2 → ruby', 'pair': [1, 2]}
    if not same(previous, expected):
        print('FAIL chain: %r, expected %r' % (previous, expected))
        return 1
    print('ok   chain    python3 -> python2.7 -> ruby: %s' % json.dumps(previous, ensure_ascii=False))
    return 0


if __name__ == '__main__':
    command, args = sys.argv[1], sys.argv[2:]
    if command == 'suite':
        sys.exit(suite(*args))
    if command == 'chain':
        sys.exit(chain(*args))
    sys.exit('unknown command %r' % command)
