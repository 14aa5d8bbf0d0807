# -*- coding: utf-8 -*-
"""The shim's argument binding against real Airflow's (fixtures/binding_cases.json).

    <python> binding.py [TABLE]      # any Python 2.7-3.13; run by run_tests.sh

Loads ../python_shim.py as a module and, for every case this interpreter can run
(`min_version`), binds the case's callable with the shim's own `determine_arguments`
against the table's sentinel context, then makes the call. What the callable received (or
the shim's error) must be what Airflow did (`expect`, written by
tools/shim-binding/generate.py):

    {"bound": {...}}                          the call's bound arguments (locals())
    {"error": "ValueError: ...", "stage": "determine"}
                                              Airflow refused before calling: the shim's
                                              summary is the same text
    {"error": "TypeError: ...", "stage": "call", "bind": "..."}
                                              the call could not bind: the shim refuses
                                              it beforehand with Signature.bind's words
                                              (`bind`); on 2.7, for callables that are not
                                              plain functions, inspect.getcallargs's words

On Python 3.6-3.11 it also holds the shim's port of Signature.bind (plain functions)
against inspect's own for each case's raw op_args and op_kwargs.

Valid Python 2.7-3.13, standard library only, like the shim.
"""
import json
import os
import sys

from shimtest import load_shim, plain

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = os.path.join(HERE, 'fixtures', 'binding_cases.json')
# Cases where the shim knowingly binds otherwise than Airflow: name (or "signature/*") ->
# why. Each must still differ (a fix that makes one agree must remove it here).
KNOWN_DIFFERENCES = {
    'builtin/*': 'PROTOCOL.md 5.2: a callable with no readable signature (a builtin such as '
                 '`dict`) gets op_kwargs only; Airflow fails in inspect.signature with '
                 '"ValueError: no signature found for builtin type"',
    'explicit_signature/nothing': 'the shim checks the call against `__signature__` first '
                                  '(Signature.bind) and refuses it; Airflow just calls, and '
                                  'the function behind the declared signature accepts it',
    'explicit_signature/kwarg_ds': 'as explicit_signature/nothing',
}
TYPE_ERROR_PREFIX = (u'TypeError: cannot call python_callable `f` with its op_args/op_kwargs '
                     u'and context: ')


def run_case(shim, case, context_keys):
    namespace = {}
    exec(compile('\n'.join(case['source']) + '\n', '<%s>' % case['name'], 'exec'), namespace)
    fn = namespace['f']
    context = dict((key, 'ctx:' + key) for key in context_keys)
    spec = {'callable': 'f', 'op_args': case['op_args'], 'op_kwargs': case['op_kwargs'],
            'templates_dict': case['templates_dict']}
    try:
        args, kwargs = shim['determine_arguments'](fn, spec, context)
    except shim['ShimError'] as error:
        return {'error': error.summary}, shim['_is_plain_function'](fn)
    try:
        return {'bound': plain(fn(*args, **kwargs))}, None
    except TypeError as error:  # the shim let through a call that cannot bind
        return {'call_raised': u'TypeError: %s' % error}, None


def problem(expect, got, plain_function):
    if 'bound' in expect:
        return None if got == {'bound': expect['bound']} else 'bound %s' % json.dumps(expect['bound'])
    if expect.get('stage') == 'determine':
        return None if got == {'error': expect['error']} else 'error %r' % expect['error']
    summary = got.get('error', u'')
    if sys.version_info[0] == 2 and not plain_function:  # getcallargs's words, not bind's
        return None if summary.startswith(TYPE_ERROR_PREFIX) else 'a TypeError refusal (%s)' % expect['error']
    want = TYPE_ERROR_PREFIX + expect['bind']
    return None if summary == want else 'error %r (Airflow: %s)' % (want, expect['error'])


def port_problem(shim, case):
    """Python 3: for a plain function, the shim's port of Signature.bind must say what
    inspect's says about the case's raw op_args and op_kwargs (unfiltered, so the
    "unexpected keyword" and "multiple values" paths, which Airflow's filtering never
    reaches, run too). None if it agrees or does not apply."""
    namespace = {}
    exec(compile('\n'.join(case['source']) + '\n', '<%s>' % case['name'], 'exec'), namespace)
    fn = namespace['f']
    # The port keeps the words of 3.6-3.11 (those of the table's Python): 3.12 says "missing
    # a required keyword-only argument", 3.13 also "got some positional-only arguments
    # passed as keyword arguments", and 3.13.0's bind even accepts a positional-only name
    # passed by keyword into **kwargs, which the call then refuses.
    if not (3, 0) <= sys.version_info[:2] < (3, 12) or not shim['_is_plain_function'](fn):
        return None
    import inspect
    try:
        inspect.signature(fn).bind(*case['op_args'], **case['op_kwargs'])
        want = None
    except TypeError as error:
        want = str(error)
    got = shim['_code_bind_error'](fn, case['op_args'], case['op_kwargs'])
    return None if got == want else 'port of Signature.bind says %r, inspect %r' % (got, want)


def known_difference(name):
    return KNOWN_DIFFERENCES.get(name) or KNOWN_DIFFERENCES.get(name.split('/')[0] + '/*')


def main(argv):
    path = argv[1] if len(argv) > 1 else TABLE
    with open(path, 'rb') as f:
        table = json.loads(f.read().decode('utf-8'))
    shim = load_shim()
    version = list(sys.version_info[:2])
    ran = skipped = known = failed = 0
    for case in table['cases']:
        if version < case['min_version']:
            skipped += 1
            continue
        ran += 1
        got, plain_function = run_case(shim, case, table['context_keys'])
        wrong = problem(case['expect'], got, plain_function)
        reason = known_difference(case['name'])
        if wrong and reason:
            known += 1
        elif wrong:
            failed += 1
            print('FAIL %s\n    expected %s\n    got      %s' % (
                case['name'], wrong, json.dumps(got, sort_keys=True)))
        elif reason:
            failed += 1
            print('FAIL %s agrees with Airflow now: remove it from KNOWN_DIFFERENCES' % case['name'])
        port = port_problem(shim, case)
        if port:
            failed += 1
            print('FAIL %s\n    %s' % (case['name'], port))
    print('binding table (%s, Airflow %s) on Python %d.%d: %d run, %d skipped (newer syntax), '
          '%d known differences, %d failed' % (
              os.path.basename(path), ' and '.join(table['airflow_versions']),
              version[0], version[1], ran, skipped, known, failed))
    return 1 if failed or not ran else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
