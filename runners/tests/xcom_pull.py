# -*- coding: utf-8 -*-
"""The shim's `ti.xcom_pull` against real Airflow's (fixtures/xcom_pull.json at the repo root).

    <python> xcom_pull.py [TABLE]      # any Python 2.7-3.13; run by run_tests.sh

Loads ../python_shim.py as a module and, for every case and Airflow major of the table
(written by tools/xcom-pull/generate.py), builds the shim's TaskInstance over the case's
rows with that major and makes the call. The value must be Airflow's (a
LazyXComSelectSequence counts as a list); where Airflow raised, the shim must raise too,
a TypeError where Airflow's was one (the other errors are the Task SDK's own types).

Valid Python 2.7-3.13, standard library only, like the shim.
"""
import json
import os
import sys

from shimtest import load_shim, plain

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = os.path.join(HERE, '..', '..', 'fixtures', 'xcom_pull.json')


def main(argv):
    path = argv[1] if len(argv) > 1 else TABLE
    with open(path, 'rb') as f:
        table = json.loads(f.read().decode('utf-8'))
    shim = load_shim()
    ran = failed = 0
    for case in table['cases']:
        for major, expect in sorted(case['expect'].items()):
            ran += 1
            ti = shim['TaskInstance'](table['ti'], table['rows'][case['rows']], int(major))
            kwargs = dict((str(k), v) for k, v in case['kwargs'].items())
            try:
                got = {'value': plain(ti.xcom_pull(*case['args'], **kwargs))}
            except Exception as error:
                got = {'error': '%s: %s' % (type(error).__name__, error)}
            if 'error' in expect:
                wanted_type = expect['error'].split(':')[0]
                ok = 'error' in got and (wanted_type != 'TypeError' or got['error'].startswith('TypeError'))
            else:
                ok = got == {'value': expect['value']}
            if not ok:
                failed += 1
                print('FAIL %s (Airflow %s)\n    expected %s\n    got      %s' % (
                    case['name'], major, json.dumps(expect, sort_keys=True), json.dumps(got, sort_keys=True)))
    print('xcom_pull table (Airflow %s) on Python %d.%d: %d run, %d failed' % (
        ' and '.join(v for _, v in sorted(table['airflow_versions'].items())),
        sys.version_info[0], sys.version_info[1], ran, failed))
    return 1 if failed or not ran else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
