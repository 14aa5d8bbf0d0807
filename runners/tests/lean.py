# -*- coding: utf-8 -*-
"""The shim's stand-ins for `json` and `re` (see its imports) against the real thing:
json_load against json.load, json_string against json.dumps(s, ensure_ascii=False),
iso_parts against ISO_PATTERN, and the identifier, coding-line and surrogate checks
against the regexes they replace, over fixed and generated inputs. Valid Python
2.7-3.13; run by run_tests.sh with every interpreter."""
import io
import json
import os
import random
import re
import shutil
import sys
import tempfile

from shimtest import HERE, load_shim

PY2 = sys.version_info[0] == 2
text_type = unicode if PY2 else str  # noqa: F821
unichr_ = unichr if PY2 else chr  # noqa: F821
shim = load_shim()
failures = []
checked = [0]


def check(what, given, got, expected):
    checked[0] += 1
    if got != expected or type(got) is not type(expected):
        failures.append('%s(%r): %r, expected %r' % (what, given, got, expected))


def outcome(fn, arg):
    """('ok', value) or ('error', type name, message): how a call ended."""
    try:
        return ('ok', fn(arg))
    except Exception as e:
        return ('error', type(e).__name__, text_type(e))


def same_json(a, b):
    """Equal JSON values, bool/int/float and NaN told apart and key order kept."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a.items()) == list(b.items()) and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return b != b
    return a == b


def words(alphabet, count, longest, rng):
    return [u''.join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))
            for _ in range(count)]


rng = random.Random(11)

# --- iso_parts: the groups ISO_PATTERN gives, or None --------------------------------
iso_re = re.compile(shim['ISO_PATTERN'])
iso_cases = [u'2024-06-01', u'2024-06-01T00:00:00+00:00', u'2024-06-01 12:34', u'2024-06-01T12:34:56.123456789Z',
             u'2024-06-01T12:34:56,5z', u'2024-06-01T12:34:56-0530', u'2024-06-01T12:34:56+05', u'2024-06-01+05:30',
             u'2024-06-01Z', u'2024-06-01\n', u'2024-06-01T12:34\n', u'2024-06-01T12:34:56+05:3', u'2024-06-01T12:34:56+053',
             u'2024-06-01T12:34:56.', u'2024-06-01T12:34:', u'2024-06-01T12:3', u'2024-06-01T', u'2024-6-01', u'',
             u'2024-06-01T12:34:56+05:30\n', u'2024-06-01\n\n', u'\u0662\u0660\u0662\u0664-06-01', u'2024-06-01t12:00',
             u'2024-06-01T12:34:56.1\u0663Z', u'2024-06-01T12:34:56+05:30x', u'2024-06-01 ', u' 2024-06-01']
# With decimal digits other than 0-9 (Arabic-Indic, fullwidth: \d on Python 3) and a
# digit that is no decimal (superscript two).
pieces = [u'2024', u'-', u'06', u'01', u'T', u' ', u'12', u':', u'34', u'56', u'.', u',', u'123', u'Z', u'z', u'+',
          u'05', u'30', u'\n', u'x', u'1', u'\u0663', u'\uff19', u'\xb2']
for _ in range(10000):
    iso_cases.append(u'2024-06-01' + u''.join(rng.choice(pieces) for _ in range(rng.randint(0, 9))))
    iso_cases.append(u''.join(rng.choice(pieces) for _ in range(rng.randint(0, 12))))
for text in iso_cases:
    m = iso_re.match(text)
    check('iso_parts', text, shim['iso_parts'](text), m.groups() if m else None)

# --- identifiers: child paths name `.key` or `["key"]` as the regex decided -----------
ident_re = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
keys = [u'', u'a', u'_', u'a1', u'1a', u'a\n', u'\n', u'a\n\n', u'a\nb', u'a b', u'\xe9', u'a-b', u'Z_9\n', u'\u0663']
keys += words(u'aZ_09\n \xe9-\u0663', 10000, 6, rng)
for key in keys:
    check('_is_identifier', key, shim['_is_identifier'](key), bool(ident_re.match(key)))

# --- the Python 2 coding line ----------------------------------------------------------
coding_re = re.compile(r'^[ \t\f]*#.*?coding[:=]')
lines = [u'# -*- coding: utf-8 -*-\n', u'#coding=latin-1', u' \t\f# vim: set fileencoding=utf-8 :\n', u'coding: x',
         u'x # coding: utf-8', u'#\n', u'# coding utf-8', u'  #  codingcoding=\r\n', u'\t#coding:']
lines += words(u' \t\f#codingx:=\r', 10000, 12, rng)
lines += [u'#' + w for w in words(u' coding:=x\r', 5000, 10, rng)]
for line in lines:
    check('_is_coding_line', line, shim['_is_coding_line'](line), bool(coding_re.match(line)))

# --- lone surrogates -------------------------------------------------------------------
if sys.maxunicode > 0xffff:
    surrogate_re = re.compile(u'[\ud800-\udfff]')
    texts = [u'', u'abc', u'\xe9', u'\ud800', u'a\udfffb', u'\U0001f600', u'\ud7ff\ue000']
    texts += words(u'a\xe9\u2713\ud800\udbff\udc00\udfff\U0001f600', 10000, 5, rng)
    for text in texts:
        check('_has_lone_surrogate', text, shim['_has_lone_surrogate'](text), bool(surrogate_re.search(text)))

# --- json_string: json.dumps(s, ensure_ascii=False), every code point -----------------
json_string = shim['json_string']
for start in range(0, sys.maxunicode + 1, 4096):
    chunk = u''.join(unichr_(c) for c in range(start, min(start + 4096, sys.maxunicode + 1)))
    check('json_string', chunk[:8], json_string(chunk), json.dumps(chunk, ensure_ascii=False))
    # Each code point alone: all of the first 2048 and around the surrogates, a sample elsewhere.
    dense = start < 0x800 or 0xd000 <= start < 0xe000
    for c in range(start, min(start + 4096, sys.maxunicode + 1), 1 if dense else 61):
        ch = unichr_(c)
        check('json_string', ch, json_string(ch), json.dumps(ch, ensure_ascii=False))
for text in words(u'a\x00\x1f\x7f"\\/\b\f\n\r\t\xe9\u2028\ud800\U0001f600', 10000, 8, rng):
    check('json_string', text, json_string(text), json.dumps(text, ensure_ascii=False))

# --- json_load: json.load's value or error, from a StringIO and from files -------------
docs = [u'{}', u'[]', u'1', u'-0', u'-0.0', u'1e400', u'-1e400', u'1.5e-7', u'123456789012345678901234567890',
        u'NaN', u'Infinity', u'-Infinity', u'[NaN, 1]', u'"\\ud83d\\ude00"', u'"\\ud800"', u'"\\u00e9\xe9"',
        u'{"a": 1, "a": 2, "b": {"c": [true, false, null]}}', u' \t\n\r{"k": "v"} \n', u'\ufeff{}', u'', u' ',
        u'{not json', u'{"a": 1} x', u'[1,]', u'"tab\there"', u'"\\x"', u'01', u'[1, 2', u'{"a" 1}', u'tru',
        u'\x0c{}', u'{}\x0c', u'[' * 100000 + u']' * 100000, u'{"k": "' + u'\u2713' * 1000 + u'"}']
with open(HERE + '/fixtures/context.json', 'rb') as f:
    docs.append(f.read().decode('utf-8'))
with open(HERE + '/fixtures/python_cases.json', 'rb') as f:
    docs.append(f.read().decode('utf-8'))
fragments = [u'{', u'}', u'[', u']', u'"a"', u'"\\n"', u':', u',', u' ', u'1', u'-', u'.5', u'e3', u'true', u'null',
             u'NaN', u'"\xe9"', u'\n']
docs += [u''.join(rng.choice(fragments) for _ in range(rng.randint(0, 8))) for _ in range(10000)]


def compare_load(given, got, expected):
    checked[0] += 1
    if got[0] != expected[0] or (got[1:] != expected[1:] if got[0] == 'error'
                                 else not same_json(got[1], expected[1])):
        failures.append('json_load(%r): %r, expected %r' % (given[:80], got, expected))


for doc in docs:
    compare_load(doc, outcome(shim['json_load'], io.StringIO(doc)), outcome(json.load, io.StringIO(doc)))
# As the shim opens input.json: bytes that are not UTF-8 fail in the read, then in json's.
tmp = tempfile.mkdtemp(prefix='lean-')
for data in [b'{"a": "\xc3\xa9"}', b'{"a": "\xff"}', b'\xef\xbb\xbf{}', b'{"a": 1}\n']:
    path = os.path.join(tmp, 'input.json')
    with open(path, 'wb') as f:
        f.write(data)
    with io.open(path, 'r', encoding='utf-8') as f:
        got = outcome(shim['json_load'], f)
    with io.open(path, 'r', encoding='utf-8') as f:
        expected = outcome(json.load, f)
    compare_load(repr(data), got, expected)
shutil.rmtree(tmp)

for line in failures[:20]:
    print('FAIL %s' % line)
print('shim stand-ins for json and re on Python %d.%d: %d checked, %d failed'
      % (sys.version_info[0], sys.version_info[1], checked[0], len(failures)))
sys.exit(1 if failures else 0)
