"""The spec of the stock-DockerOperator reliability runs, shared by the DAG
(dags/tr_reliability.py) and the test that computes the expected lines. No
Airflow import: the pytest process imports this too.
"""

from __future__ import annotations

import base64
import gzip
import json

STOCK_SOURCE = '''
def emit(i):
    import sys
    for n in range(30):
        print("stock stdout %d/%d" % (i, n))
        sys.stderr.write("stock stderr %d/%d\\n" % (i, n))
    sys.stdout.write("a partial line without newline ")
    return {"i": i, "label": "stock-%03d" % i, "values": [i, i * 2, str(i)], "ok": True}
'''


def stock_spec(i: int) -> dict:
    return {"operator": "python", "python_callable": "emit", "python_source": STOCK_SOURCE, "op_kwargs": {"i": i}}


def stock_value(i: int) -> dict:
    return {"i": i, "label": "stock-%03d" % i, "values": [i, i * 2, str(i)], "ok": True}


def stock_payload(i: int) -> str:
    """base64 of gzip of the JSON spec (as `task-runner encode`): no braces for Jinja to see."""
    text = json.dumps(stock_spec(i), separators=(",", ":"))
    return base64.b64encode(gzip.compress(text.encode(), mtime=0)).decode()
