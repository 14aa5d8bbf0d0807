# -*- coding: utf-8 -*-
"""What the shim's table tests share (binding.py, xcom_pull.py): the shim loaded as a
module namespace, and values made JSON-shaped for comparison with a table. Valid
Python 2.7-3.13."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(HERE, '..', 'python_shim.py')


def load_shim():
    with open(SHIM, 'rb') as f:
        source = f.read()
    shim = {'__name__': 'task_runner_shim', '__file__': SHIM}
    exec(compile(source, SHIM, 'exec'), shim)
    return shim


def plain(value):
    """JSON-shaped, text as unicode (tuples become lists), for comparison with a table."""
    return json.loads(json.dumps(value, sort_keys=True))
