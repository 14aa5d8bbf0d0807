# -*- coding: utf-8 -*-
"""task-runner's Python shim: calls one python_callable the way PythonOperator does.

    <python> shim input.json result.json error.txt

The Rust side embeds this file, writes it next to input.json in a private temp dir and
runs it with whatever interpreter the image has. The protocol (input fields, exit codes,
file semantics) is specified in runners/PROTOCOL.md; keep the two in step.

Constraints: one file, standard library only, valid Python 2.7 and 3.6+. Hence no
f-strings, no keyword-only arguments, `%` formatting, and bare `except:` where Python 2
user code could raise old-style class instances that `except Exception` would miss.
"""
import io
import os
import sys

# Everything else is imported where it is needed: a trivial callable needs none of
# it, and on Python 3 it costs milliseconds of start-up, the larger part of the
# runner's overhead (bench/python.sh). `json` alone is ~5 ms, as it pulls in `re`,
# `enum`, `functools` and `collections`; `linecache` another ~1 ms (it imports
# `tokenize`); inspect ~4 ms. So on its success path the shim reads and writes JSON
# through `_json`, the C half of `json` (below), matches text by hand instead of with
# regexes, and registers python_source with linecache only once something imports
# it. runners/tests/fixtures/python_cases.json checks which modules a run loads.

PY2 = sys.version_info[0] == 2
if PY2:  # pragma: no cover - exercised by the python2.7 test run
    text_type = unicode  # noqa: F821
    string_types = (str, unicode)  # noqa: F821
    integer_types = (int, long)  # noqa: F821
else:
    text_type = str
    string_types = (str,)
    integer_types = (int,)

# Exit codes (PROTOCOL.md "Exit codes"). 3, 4 and 5 only mean what they say when
# error.txt is non-empty: a task's own sys.exit(3) leaves error.txt empty.
EXIT_OK = 0
EXIT_RAISED = 1
EXIT_LOAD = 3
EXIT_RESULT = 4
EXIT_PROTOCOL = 5

# types.ModuleType, FunctionType and GeneratorType, without importing `types`.
_ModuleType = type(sys)
_FunctionType = type(lambda: None)


def _generator():
    yield


_GeneratorType = type(_generator())

SUMMARY_MAX_CHARS = 6000  # the Rust side masks secrets, then cuts to the 4 KiB termination message
SHIM_FILE = os.path.abspath(__file__)


class ShimError(Exception):
    """A failure the shim classified itself: exit code + one-line summary (+ cause)."""

    def __init__(self, code, summary, exc_info=None):
        Exception.__init__(self, summary)
        self.code = code
        self.summary = summary
        self.exc_info = exc_info


# ---------------------------------------------------------------------------
# Text helpers: Python 2 exceptions and streams are bytes-or-unicode minefields.


def _text(value):
    """str(value) as text, never raising (Python 2 non-ASCII messages included)."""
    if isinstance(value, text_type):
        return value
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    try:
        return text_type(value)
    except Exception:
        pass
    try:
        return str(value).decode('utf-8', 'replace')  # Python 2 exception with UTF-8 bytes
    except Exception:
        return text_type(repr(value))


def _type_name(tp):
    """Type name as Python prints it in tracebacks, minus our own synthetic modules."""
    name = getattr(tp, '__name__', None) or _text(tp)
    module = getattr(tp, '__module__', None)
    if module in (None, 'builtins', 'exceptions', '__builtin__', '__main__', '__task__'):
        return name
    return '%s.%s' % (module, name)


def _exc_line(exc_type, exc_value):
    """`Type: message` (or just `Type`) for one exception."""
    message = _text(exc_value) if exc_value is not None else u''
    name = _type_name(exc_type)
    return u'%s: %s' % (name, message) if message else text_type(name)


def _err(text):
    """Write text to stderr as UTF-8 whatever the locale; losing a log line beats crashing."""
    stream = sys.stderr
    try:
        if PY2:
            stream.write(text.encode('utf-8') if isinstance(text, text_type) else text)
        else:
            try:
                stream.write(text)
            except UnicodeEncodeError:
                stream.flush()
                stream.buffer.write(text.encode('utf-8', 'backslashreplace'))
        stream.flush()
    except Exception:
        pass


def _print_traceback(exc_info):
    """Print the traceback without the shim's own leading frames (they are noise)."""
    import traceback
    exc_type, exc_value, tb = exc_info
    while tb is not None and tb.tb_frame.f_code.co_filename == SHIM_FILE:
        tb = tb.tb_next
    if PY2:
        # traceback.format_exception would print `<exception str() failed>` for
        # non-ASCII unicode messages; format the last line ourselves instead.
        lines = [u'Traceback (most recent call last):\n'] if tb is not None else []
        lines += [_text(line) for line in traceback.format_tb(tb)]
        if isinstance(exc_value, SyntaxError):
            lines += [_text(line) for line in traceback.format_exception_only(exc_type, exc_value)]
        else:
            lines.append(_exc_line(exc_type, exc_value) + u'\n')
        _err(u''.join(lines))
    else:
        _err(u''.join(traceback.format_exception(exc_type, exc_value, tb)))


def _one_line(text):
    text = u' '.join(_text(text).split())
    if len(text) > SUMMARY_MAX_CHARS:
        text = text[:SUMMARY_MAX_CHARS - 1] + u'\u2026'
    return text


def _write_error_file(path, summary):
    try:
        with io.open(path, 'w', encoding='utf-8') as f:
            f.write(_one_line(summary))
    except Exception as e:
        _err(u'task-runner shim: cannot write %s: %s\n' % (path, _text(e)))


# ---------------------------------------------------------------------------
# JSON through `_json`, the C module behind `json` (CPython 2.7 and 3.x): these are
# the very functions `json.loads` and `json.dumps(s, ensure_ascii=False)` call, so the
# values read and the text written are the same. Anything else (an error to report,
# no `_json`) goes to `json` itself, which raises the error json.loads would.

try:
    import _json
except ImportError:  # pragma: no cover - CPython always has it
    _json = None


class _ScannerContext(object):
    """The JSONDecoder attributes _json.make_scanner reads, as json.loads sets them."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {'-Infinity': float('-inf'), 'Infinity': float('inf'),
                      'NaN': float('nan')}.__getitem__
    encoding = None  # Python 2's scanner reads it (None is UTF-8); unicode input ignores it


_JSON_SPACE = u' \t\n\r'  # json.decoder's WHITESPACE


def json_load(f):
    """json.load(f) for a text file f."""
    try:
        text = f.read()
        make_scanner = getattr(_json, 'make_scanner', None)
        # json.loads refuses a leading BOM itself (Python 3); leave that to it.
        if make_scanner is not None and not text.startswith(u'\ufeff'):
            end, start = len(text), 0
            while start < end and text[start] in _JSON_SPACE:
                start += 1
            value, at = make_scanner(_ScannerContext())(text, start)
            while at < end and text[at] in _JSON_SPACE:
                at += 1
            if at == end:
                return value
    except Exception:
        pass
    # json.load reads the file again and raises json's own error, from json's own
    # frames: error.txt and the traceback are what they were with json.load alone.
    f.seek(0)
    import json
    return json.load(f)


if PY2:
    # Python 2's json.dumps(s, ensure_ascii=False) is json.encoder.encode_basestring,
    # a regex substitution of ESCAPE_DCT over [\x00-\x1f\\"]: the same table as a
    # translate() map.
    _PY2_ESCAPES = dict((i, u'\\u%04x' % i) for i in range(0x20))
    _PY2_ESCAPES.update({ord(u'\\'): u'\\\\', ord(u'"'): u'\\"', ord(u'\b'): u'\\b',
                         ord(u'\f'): u'\\f', ord(u'\n'): u'\\n', ord(u'\r'): u'\\r',
                         ord(u'\t'): u'\\t'})

    def json_string(text):
        """json.dumps(text, ensure_ascii=False) for unicode text."""
        return u'"' + text_type.translate(text, _PY2_ESCAPES) + u'"'
elif getattr(_json, 'encode_basestring', None) is not None:
    json_string = _json.encode_basestring
else:  # pragma: no cover - CPython 3 has encode_basestring
    def json_string(text):
        """json.dumps(text, ensure_ascii=False) for unicode text."""
        import json
        return json.dumps(text, ensure_ascii=False)


# ---------------------------------------------------------------------------
# Context: JSON in, Airflow-shaped objects out.


# `datetime` is imported only when a datetime is needed: a callable that takes
# no date (most do not) starts ~2 ms sooner.
_FIXED_OFFSET = []


def _fixed_offset_class():
    """Python 2 has no datetime.timezone; this is the minimal equivalent."""
    if _FIXED_OFFSET:
        return _FIXED_OFFSET[0]
    import datetime

    class _FixedOffset(datetime.tzinfo):
        def __init__(self, minutes):
            self._minutes = minutes
            self._offset = datetime.timedelta(minutes=minutes)

        def utcoffset(self, dt):
            return self._offset

        def dst(self, dt):
            return datetime.timedelta(0)

        def tzname(self, dt):
            if self._minutes == 0:
                return 'UTC'
            sign = '-' if self._minutes < 0 else '+'
            return '%s%02d:%02d' % (sign, abs(self._minutes) // 60, abs(self._minutes) % 60)

        def __getinitargs__(self):  # lets pickle/copy rebuild it
            return (self._minutes,)

        def __repr__(self):
            return '_FixedOffset(%d)' % self._minutes

    _FIXED_OFFSET.append(_FixedOffset)
    return _FixedOffset


def _tz(minutes):
    import datetime
    if PY2:
        return _fixed_offset_class()(minutes)
    if minutes == 0:
        return datetime.timezone.utc
    return datetime.timezone(datetime.timedelta(minutes=minutes))


# fromisoformat is 3.7+ and rejects `Z` before 3.11, so parse the few shapes we send,
# by hand rather than with `re` (see the imports). This is the regex it stands for;
# runners/tests/lean.py checks the two agree:
ISO_PATTERN = (r'^(\d{4})-(\d{2})-(\d{2})'
               r'(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?'
               r'(Z|z|[+-]\d{2}(?::?\d{2})?)?$')

if PY2:
    def _is_digits(text):
        # \d without re.UNICODE, as Python 2 compiled it: ASCII digits only.
        return text != u'' and not text.lstrip(u'0123456789')
else:
    def _is_digits(text):
        return text.isdecimal()  # \d in a str pattern: any Unicode decimal digit


def iso_parts(text):
    """The groups of ISO_PATTERN matched against text (year, month, day, hour, minute,
    second, fraction, offset; None where absent), or None when it does not match."""
    end = len(text)

    def digits(at, count):
        part = text[at:at + count]
        return part if len(part) == count and _is_digits(part) else None

    year, month, day = digits(0, 4), digits(5, 2), digits(8, 2)
    if year is None or month is None or day is None or text[4:5] != u'-' \
            or text[7:8] != u'-':
        return None
    hour = minute = second = fraction = offset = None
    at = 10
    # Each optional part, once its first character is there, must match in full: no
    # other part of the pattern can start with that character, so the regex could not
    # backtrack to a match either.
    if text[at:at + 1] in (u'T', u' '):
        hour, minute = digits(at + 1, 2), digits(at + 4, 2)
        if hour is None or minute is None or text[at + 3:at + 4] != u':':
            return None
        at += 6
        if text[at:at + 1] == u':':
            second = digits(at + 1, 2)
            if second is None:
                return None
            at += 3
            if text[at:at + 1] in (u'.', u','):
                stop = at + 1
                while stop < end and _is_digits(text[stop]):
                    stop += 1
                if stop == at + 1:
                    return None
                fraction, at = text[at + 1:stop], stop
    if text[at:at + 1] in (u'Z', u'z'):
        offset, at = text[at], at + 1
    elif text[at:at + 1] in (u'+', u'-'):
        if digits(at + 1, 2) is None:
            return None
        stop = at + 3
        if text[stop:stop + 1] == u':' and digits(stop + 1, 2) is not None:
            stop += 3
        elif digits(stop, 2) is not None:
            stop += 2
        offset, at = text[at:stop], stop
    # `$` also matches before a final newline.
    if at != end and not (at == end - 1 and text[at] == u'\n'):
        return None
    return year, month, day, hour, minute, second, fraction, offset


def parse_datetime(text):
    """ISO-8601 string -> timezone-aware datetime (no offset means UTC, as in Airflow)."""
    parts = iso_parts(text.strip())
    if parts is None:
        raise ValueError('not an ISO-8601 datetime: %r' % (text,))
    year, month, day, hour, minute, second, fraction, offset = parts
    micros = int((fraction or '0')[:6].ljust(6, '0'))
    minutes = 0
    if offset and offset not in ('Z', 'z'):
        digits = offset[1:].replace(':', '')
        minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
        if offset[0] == '-':
            minutes = -minutes
    import datetime
    return datetime.datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
        micros, _tz(minutes))


class AttrDict(dict):
    """A dict that also answers attributes: `dag_run.conf` and `dag_run['conf']` both work."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)


def _is_str(value):
    return isinstance(value, string_types)


def _as_list(value):
    return list(value) if not _is_str(value) else [value]


_NOT_GIVEN = object()


def _xcom_order(found, key):
    """A stable sort: entries Airflow's ordering ties keep the payload's order."""
    return [x for _, x in sorted(enumerate(found), key=lambda p: (key(p[1]), p[0]))]


class TaskInstance(object):
    """The slice of Airflow's TaskInstance a container task can use: ids and xcom_pull."""

    def __init__(self, fields, xcoms, airflow_major=2):
        self.dag_id = self.task_id = self.run_id = None
        self.try_number = 1
        self.map_index = -1
        for name, value in fields.items():
            setattr(self, str(name), value)
        self._airflow_major = airflow_major
        self._xcoms = []
        for entry in xcoms:
            entry = dict(entry)
            entry.setdefault('task_id', None)
            entry.setdefault('key', 'return_value')
            entry.setdefault('value', None)
            entry.setdefault('map_index', -1)
            if entry.get('dag_id') is None:
                entry['dag_id'] = self.dag_id
            if entry.get('run_id') is None:
                entry['run_id'] = self.run_id
            self._xcoms.append(entry)

    def __repr__(self):
        return '<TaskInstance: %s.%s %s map_index=%s>' % (
            self.dag_id, self.task_id, self.run_id, self.map_index)

    def xcom_pull(self, task_ids=None, dag_id=None, key='return_value',
                  include_prior_dates=False, session=None, map_indexes=_NOT_GIVEN,
                  default=None, run_id=_NOT_GIVEN):
        """TaskInstance.xcom_pull over the XComs injected in input.json, as the Airflow
        major of the payload (`airflow_major`) selects (PROTOCOL.md 3.3; the case table
        is fixtures/xcom_pull.json, from real Airflow).

        Only the current run's XComs exist here, so include_prior_dates and session
        are accepted and ignored.
        """
        if self._airflow_major >= 3:
            return self._xcom_pull3(task_ids, dag_id, key, map_indexes, default, run_id)
        if run_id is not _NOT_GIVEN:
            raise TypeError("TaskInstance.xcom_pull() got an unexpected keyword argument 'run_id'")
        if map_indexes is _NOT_GIVEN:
            map_indexes = None
        dag_ids = [self.dag_id if dag_id is None else dag_id]
        if not _is_str(dag_ids[0]) and dag_ids[0] is not None:
            dag_ids = list(dag_ids[0])
        single_task = task_ids is None or _is_str(task_ids)
        multi_map = map_indexes is not None and not isinstance(map_indexes, integer_types)
        wanted_tasks = None if task_ids is None else _as_list(task_ids)
        wanted_maps = None
        if map_indexes is not None:
            wanted_maps = list(map_indexes) if multi_map else [map_indexes]

        # `if key:` in Airflow 2: None and '' match any key.
        found = [x for x in self._xcoms
                 if x['dag_id'] in dag_ids and x['run_id'] == self.run_id
                 and (not key or x['key'] == key)
                 and (wanted_tasks is None or x['task_id'] in wanted_tasks)
                 and (wanted_maps is None or x['map_index'] in wanted_maps)]

        if single_task and not multi_map:
            if not found:
                return default
            # A mapped upstream (map_index >= 0) pulled without map_indexes yields all
            # of its values in map_index order, as Airflow's LazyXComSelectSequence does.
            if map_indexes is not None or found[0]['map_index'] < 0:
                return found[0]['value']
            return [x['value'] for x in _xcom_order(found, lambda x: x['map_index'])]

        # Multi-value pull: Airflow orders by position in task_ids (by task_id when a
        # single task was named), then by position in map_indexes (else by map_index).
        def order(x):
            task_part = x['task_id'] if single_task else wanted_tasks.index(x['task_id'])
            map_part = wanted_maps.index(x['map_index']) if multi_map else x['map_index']
            return (task_part, map_part)

        return [x['value'] for x in _xcom_order(found, order)]

    def _xcom_pull3(self, task_ids, dag_id, key, map_indexes, default, run_id):
        """Airflow 3's Task SDK: XCom.get_all per task without map_indexes (every map
        index, in order; a task with none gives None), else XCom.get_one per task and
        index (a missing or null value gives `default`)."""
        if key is None:
            raise ValueError("xcom_pull: key must be a string on Airflow 3, not None "
                             "(the Task SDK's ValidationError)")
        if key == '':
            raise ValueError("xcom_pull: key must not be empty on Airflow 3 "
                             "(the Execution API's validation error)")
        dag_id = self.dag_id if dag_id is None else dag_id
        run_id = self.run_id if run_id is _NOT_GIVEN or run_id is None else run_id
        single_task = task_ids is None or _is_str(task_ids)
        tasks = [self.task_id] if task_ids is None else _as_list(task_ids)

        def of_task(task_id):
            return [x for x in self._xcoms
                    if x['task_id'] == task_id and x['key'] == key
                    and x['dag_id'] == dag_id and x['run_id'] == run_id]

        if map_indexes is _NOT_GIVEN:
            out = []
            for task_id in tasks:
                found = of_task(task_id)
                if not found:
                    out.append(None)
                out.extend(x['value'] for x in _xcom_order(found, lambda x: x['map_index']))
            return out[0] if single_task and len(out) == 1 else out
        single_map = map_indexes is None or isinstance(map_indexes, integer_types)
        maps = [map_indexes] if single_map else list(map_indexes)
        out = []
        for task_id in tasks:
            found = of_task(task_id)
            for m in maps:
                values = [x['value'] for x in found if m is not None and x['map_index'] == m
                          and x['value'] is not None]
                out.append(values[0] if values else default)
        return out[0] if single_task and single_map else out

    def xcom_push(self, key, value, *args, **kwargs):
        raise NotImplementedError(
            'xcom_push is not available in task-runner: only the return value of the '
            'python_callable becomes an XCom (key `return_value`)')


def _convert_datetimes(context, paths):
    for path in paths:
        parts = path.split('.')
        holder = context
        for part in parts[:-1]:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and _is_str(holder.get(parts[-1])):
            try:
                holder[parts[-1]] = parse_datetime(holder[parts[-1]])
            except ValueError as e:
                raise ShimError(EXIT_PROTOCOL, u'ValueError: input.json context `%s`: %s'
                                % (path, _text(e)))


_DATETIME_PATHS = []


def _pending_datetimes(context, keys):
    """The datetime paths under the given top-level keys (all with None), each
    converted only once."""
    todo = [p for p in _DATETIME_PATHS if keys is None or p.split('.', 1)[0] in keys]
    for p in todo:
        _DATETIME_PATHS.remove(p)
    return todo


def _is_date_or_time(value):
    # A value can only be a date if the datetime module was ever imported.
    datetime = sys.modules.get('datetime')
    return datetime is not None and isinstance(value, (datetime.date, datetime.time))


def build_context(spec):
    """The context dict handed to the callable: datetimes, ti, dag_run, dag, task."""
    context = spec.get('context') or {}
    if not isinstance(context, dict):
        raise ShimError(EXIT_PROTOCOL, u'TypeError: input.json `context` must be an object')
    # Dates become datetimes when a callable is actually handed them (see main);
    # they are checked now, so a bad input fails the same way either way.
    _DATETIME_PATHS[:] = list(spec.get('datetime_keys') or [])
    for path in _DATETIME_PATHS:
        holder, parts = context, path.split('.')
        for part in parts[:-1]:
            holder = holder.get(part) if isinstance(holder, dict) else None
        value = holder.get(parts[-1]) if isinstance(holder, dict) else None
        if _is_str(value) and iso_parts(value.strip()) is None:
            raise ShimError(EXIT_PROTOCOL, u'ValueError: input.json context `%s`: '
                            u'not an ISO-8601 datetime: %r' % (path, value))
    ti_fields = context.get('ti') or context.get('task_instance') or {}
    ti = TaskInstance(ti_fields if isinstance(ti_fields, dict) else {}, spec.get('xcom') or [],
                      spec.get('airflow_major') or 2)
    context['ti'] = context['task_instance'] = ti
    for name in ('dag_run', 'dag', 'task'):
        if isinstance(context.get(name), dict):
            context[name] = AttrDict(context[name])
    if isinstance(context.get('dag_run'), dict):
        context['dag_run'].setdefault('conf', {})
    return context, ti


def _install_helper_module(context, ti):
    """`import task_runner` from task code: get_current_context() and xcom_pull()."""
    module = _ModuleType('task_runner')
    module.__doc__ = 'Helpers injected by the task-runner Python shim.'
    def get_current_context():
        _convert_datetimes(context, _pending_datetimes(context, None))
        return context

    module.get_current_context = get_current_context
    module.xcom_pull = ti.xcom_pull
    sys.modules.setdefault('task_runner', module)


# ---------------------------------------------------------------------------
# Loading the callable. Every failure here is EXIT_LOAD with a message naming it.


def _reraise_exits():
    exc = sys.exc_info()[1]
    if isinstance(exc, (SystemExit, KeyboardInterrupt)):
        raise exc


def _resolve_attr(obj, dotted, what, spec_text):
    for part in dotted.split('.'):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ShimError(EXIT_LOAD, u'AttributeError: %s has no attribute `%s` '
                            u'(python_callable `%s`)' % (what, part, spec_text))
    return obj


def _is_coding_line(line):
    """re.match(r'^[ \t\f]*#.*?coding[:=]', line) for one line of splitlines(True)."""
    rest = line.lstrip(u' \t\f')
    return rest[:1] == u'#' and (u'coding:' in rest or u'coding=' in rest)


class _LinecacheHook(object):
    """A meta path finder that waits for `import linecache`: it lets the other finders
    find the module and, once it has run, puts the python_source in its cache. Until
    then nothing can read that cache, so this is the same as registering the source
    at once, without loading linecache (and tokenize, re, enum...) on every run."""

    def __init__(self, filename, entry):
        self.filename, self.entry, self.loader = filename, entry, None

    def find_spec(self, name, path=None, target=None):
        if name != 'linecache' or self.loader is not None:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, 'find_spec', None)
            spec = find(name, path, target) if finder is not self and find else None
            if spec is not None:
                break
        else:
            return None
        if not hasattr(spec.loader, 'exec_module'):
            return None  # a legacy loader; the lines are lost to tracebacks, nothing more
        self.loader, spec.loader = spec.loader, self
        # Safe while the import system walks sys.meta_path: a found spec ends the walk.
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        return spec

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # The module gets its own loader back before any of its code runs.
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        module.cache[self.filename] = self.entry


def _register_source(filename, source):
    """Put source in linecache's cache under filename, so tracebacks (ours and the
    task's own) and inspect show its lines."""
    entry = (len(source), None, source.splitlines(True), filename)
    if PY2 or 'linecache' in sys.modules:  # loaded at start-up by 2.7 and by 3.13's -c
        import linecache
        linecache.cache[filename] = entry
    else:
        sys.meta_path.insert(0, _LinecacheHook(filename, entry))


def _load_from_source(name, source, source_name):
    if ':' in name:
        raise ShimError(EXIT_LOAD, u'ValueError: python_callable `%s` must be a plain '
                        u'function name when python_source is given' % name)
    source = _text(source)
    if source.lstrip('\r\n')[:1] in (u' ', u'\t'):  # indented: skip textwrap's import otherwise
        import textwrap
        # Airflow dedents the source of nested functions the same way.
        source = textwrap.dedent(source)
    if PY2:
        # Python 2 compiles bytes as Latin-1 (mangling u"é") and refuses a `# coding:`
        # line in unicode text. The source is already text: blank any such line
        # (keeping line numbers) and compile the unicode.
        lines = source.splitlines(True)
        for i in range(min(2, len(lines))):
            if _is_coding_line(lines[i]):
                lines[i] = u'#\n'
        source = u''.join(lines)
    _register_source(source_name, source)
    # A real module in sys.modules lets pickle find classes and functions defined there.
    module = _ModuleType('__task__')
    module.__file__ = source_name
    sys.modules['__task__'] = module
    try:
        code = compile(source, source_name, 'exec', 0, True)
    except SyntaxError:
        exc_info = sys.exc_info()
        raise ShimError(EXIT_LOAD, u'SyntaxError: cannot compile python_source for '
                        u'python_callable `%s`: %s' % (name, _text(exc_info[1])), exc_info)
    try:
        exec(code, module.__dict__)
    except:  # noqa: E722 - see module docstring
        _reraise_exits()
        exc_info = sys.exc_info()
        raise ShimError(EXIT_LOAD, u'%s: python_source for python_callable `%s` failed '
                        u'while being executed: %s' % (_type_name(exc_info[0]), name,
                                                       _text(exc_info[1])), exc_info)
    return _resolve_attr(module, name, u'python_source', name)


def _load_from_module(spec_text):
    if ':' in spec_text:
        module_name, attr = spec_text.split(':', 1)
    elif '.' in spec_text:
        module_name, attr = spec_text.rsplit('.', 1)
    else:
        module_name, attr = '', ''
    if not module_name or not attr:
        raise ShimError(EXIT_LOAD, u'ValueError: python_callable `%s` must look like '
                        u'`package.module:function`, or name a function defined by '
                        u'python_source' % spec_text)
    try:
        import importlib
        module = importlib.import_module(str(module_name) if PY2 else module_name)
    except:  # noqa: E722
        _reraise_exits()
        exc_info = sys.exc_info()
        raise ShimError(EXIT_LOAD, u'%s: cannot import `%s` for python_callable `%s`: %s'
                        % (_type_name(exc_info[0]), module_name, spec_text,
                           _text(exc_info[1])), exc_info)
    return _resolve_attr(module, attr, u'module `%s`' % module_name, spec_text)


def load_callable(spec):
    spec_text = spec.get('callable')
    if not _is_str(spec_text) or not spec_text:
        raise ShimError(EXIT_PROTOCOL, u'TypeError: input.json `callable` must be a non-empty string')
    # Import roots come first so they win over site-packages, like PYTHONPATH.
    sys.path[0:0] = [str(p) if PY2 else p for p in (spec.get('python_path') or [])]
    source = spec.get('source')
    if source is not None:
        source_name = spec.get('source_name') or '<python_source>'
        if PY2 and isinstance(source_name, text_type):
            source_name = source_name.encode('utf-8')  # must equal code.co_filename (bytes)
        fn = _load_from_source(spec_text, source, source_name)
    else:
        fn = _load_from_module(spec_text)
    if not callable(fn):
        raise ShimError(EXIT_LOAD, u'TypeError: python_callable `%s` is not callable (it is '
                        u'a `%s`)' % (spec_text, _type_name(type(fn))))
    return fn


# ---------------------------------------------------------------------------
# Arguments: Airflow's KeywordParameters.determine (airflow/utils/operator_helpers.py).


def _is_plain_function(fn):
    """A `def`/lambda whose code object is its signature (nothing re-declares it)."""
    if type(fn) is not _FunctionType or hasattr(fn, '__wrapped__') \
            or hasattr(fn, '__signature__'):
        return False
    # Python 2 tuple parameters (`def f(a, (b, c))`) get hidden names like `.1`.
    return not any(name.startswith('.') for name in fn.__code__.co_varnames)


def _code_signature(fn):
    """[(name, kind, has_default)] of a plain function in signature order, kind in
    posonly/pos/varpos/kwonly/varkw: what inspect.signature would say, from the code object."""
    code = fn.__code__
    n, k = code.co_argcount, getattr(code, 'co_kwonlyargcount', 0)  # 0 on Python 2
    names = code.co_varnames
    posonly = getattr(code, 'co_posonlyargcount', 0)  # 3.8+
    first_default = n - len(fn.__defaults__ or ())
    kwdefaults = getattr(fn, '__kwdefaults__', None) or {}
    params = [(name, 'posonly' if i < posonly else 'pos', i >= first_default)
              for i, name in enumerate(names[:n])]
    i = n + k
    if code.co_flags & 0x04:  # CO_VARARGS: listed after the keyword-only names
        params.append((names[i], 'varpos', False))
        i += 1
    params += [(name, 'kwonly', name in kwdefaults) for name in names[n:n + k]]
    if code.co_flags & 0x08:  # CO_VARKEYWORDS
        params.append((names[i], 'varkw', False))
    return params


def _code_parameters(fn):
    """_parameters of a plain function (positional-only counted as `pos`, as inspect's are)."""
    return [(name, 'pos' if kind == 'posonly' else kind) for name, kind, _ in _code_signature(fn)]


def _code_bind_error(fn, args, kwargs):
    """Why fn(*args, **kwargs) would not bind, in Signature.bind's words and order
    (a port of inspect.Signature._bind); None if it would."""
    params = _code_signature(fn)
    kwargs = dict(kwargs)
    i = 0
    while True:  # positional arguments against parameters, in order
        if i < len(args):
            if i >= len(params) or params[i][1] in ('kwonly', 'varkw'):
                return 'too many positional arguments'
            name, kind, _ = params[i]
            if kind == 'varpos':
                rest = params[i + 1:]
                break
            if name in kwargs and kind != 'posonly':
                return 'multiple values for argument %r' % name
            i += 1
            continue
        if i >= len(params):
            rest = []
            break
        name, kind, has_default = params[i]
        if kind == 'varpos':
            rest = params[i + 1:]
            break
        if name in kwargs:
            if kind == 'posonly':
                return '%r parameter is positional only, but was passed as a keyword' % name
            rest = params[i:]
            break
        if kind == 'varkw' or has_default:
            rest = params[i:]
            break
        return 'missing a required argument: %r' % name
    has_varkw = False
    for name, kind, has_default in rest:  # then keyword arguments
        if kind == 'varkw':
            has_varkw = True
        elif kind == 'varpos':
            continue
        elif name not in kwargs:
            if not has_default:
                return 'missing a required argument: %r' % name
        elif kind == 'posonly':
            return '%r parameter is positional only, but was passed as a keyword' % name
        else:
            del kwargs[name]
    if kwargs and not has_varkw:
        return 'got an unexpected keyword argument %r' % next(iter(kwargs))
    return None


def _parameters(fn):
    """[(name, kind)] in signature order, kind in pos/kwonly/varpos/varkw; None if opaque."""
    if _is_plain_function(fn):
        return _code_parameters(fn)
    import inspect
    if not PY2:
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return None
        kinds = {inspect.Parameter.KEYWORD_ONLY: 'kwonly',
                 inspect.Parameter.VAR_POSITIONAL: 'varpos',
                 inspect.Parameter.VAR_KEYWORD: 'varkw'}
        return [(p.name, kinds.get(p.kind, 'pos')) for p in sig.parameters.values()]
    found = _py2_target(fn)
    if found is None:
        return None
    target, lead, keywords = found
    args, varargs, varkw, _ = inspect.getargspec(target)
    skip = len(lead) + (1 if inspect.ismethod(target) and target.im_self is not None else 0)
    params, kwonly = [], False
    for a in args[skip:]:  # a bound method's self/cls is supplied, as is a partial's lead
        if isinstance(a, str):
            # As inspect.signature has it in 3.x: a parameter a partial gives by keyword,
            # and every one after it, can only be passed by keyword.
            kwonly = kwonly or a in keywords
            params.append((a, 'kwonly' if kwonly else 'pos'))
    params += [(varargs, 'varpos')] if varargs else []
    params += [(varkw, 'varkw')] if varkw else []
    return params


def _py2_target(fn):
    """(function or method, leading positional args, keywords) that Python 2's getargspec
    and getcallargs understand, standing for calling fn; None if there is none. A class is
    its __init__ (unbound: a placeholder stands for the instance), a callable object its
    __call__, a functools.partial its func with the partial's arguments."""
    import inspect
    functools = sys.modules.get('functools')  # only a loaded functools made a partial
    if functools is not None and isinstance(fn, functools.partial):
        inner = _py2_target(fn.func)
        if inner is None:
            return None
        target, lead, keywords = inner
        keywords = dict(keywords)
        keywords.update(fn.keywords or {})
        return target, lead + tuple(fn.args or ()), keywords
    if inspect.isfunction(fn) or inspect.ismethod(fn):
        return fn, (), {}
    if inspect.isclass(fn):
        init = getattr(fn, '__init__', None)
        return (init, (None,), {}) if inspect.ismethod(init) else None
    call = getattr(fn, '__call__', None)
    return (call, (), {}) if inspect.ismethod(call) else None


def _check_bindable(fn, args, kwargs):
    """Raise TypeError now if the call can't bind, so it isn't mistaken for a task error."""
    if _is_plain_function(fn):
        error = _code_bind_error(fn, args, kwargs)
        if error:
            raise TypeError(error)
        return
    import inspect
    if PY2:
        found = _py2_target(fn)
        if found is not None:
            target, lead, keywords = found
            keywords = dict(keywords)
            keywords.update(kwargs)  # call-time keywords win over a partial's
            inspect.getcallargs(target, *(lead + tuple(args)), **keywords)
    else:
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return
        sig.bind(*args, **kwargs)


def determine_arguments(fn, spec, context):
    op_args = list(spec.get('op_args') or [])
    op_kwargs = spec.get('op_kwargs') or {}
    # PythonOperator.execute: context_merge(context, op_kwargs, templates_dict=...)
    # -> op_kwargs win over context keys, templates_dict is always a key.
    context.update(op_kwargs)
    context['templates_dict'] = spec.get('templates_dict')
    params = _parameters(fn)
    if params is None:  # opaque builtin: nothing to match context keys against
        kwargs = dict(op_kwargs)
    else:
        for name, kind in params[:len(op_args)]:
            if kind not in ('kwonly', 'varkw') and name in context:
                raise ShimError(EXIT_LOAD, u"ValueError: The key '%s' in args is a part of "
                                u"kwargs and therefore reserved." % name)
        if any(kind == 'varkw' for _, kind in params):
            kwargs = context
        else:
            kwargs = dict((name, context[name]) for name, _ in params if name in context)
    try:
        _check_bindable(fn, op_args, kwargs)
    except TypeError:
        raise ShimError(EXIT_LOAD, u'TypeError: cannot call python_callable `%s` with its '
                        u'op_args/op_kwargs and context: %s'
                        % (spec.get('callable'), _text(sys.exc_info()[1])))
    return op_args, kwargs


# ---------------------------------------------------------------------------
# Return value -> strict JSON. Our own encoder rather than json.dumps(default=...) so
# errors can name the offending path, and Decimals and big ints stay exact.

_IDENT_CHARS = u'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz'
_DIGITS = tuple(u'0123456789')


def _is_identifier(key):
    """re.match(r'^[A-Za-z_][A-Za-z0-9_]*$', key), whose `$` also matches before a
    final newline. Through str's own methods: key may be a subclass overriding them."""
    rest = text_type.lstrip(key, _IDENT_CHARS)
    return rest in (u'', u'\n') and len(rest) < text_type.__len__(key) \
        and not text_type.startswith(key, _DIGITS)


def _has_lone_surrogate(text):
    """Whether text holds a code point in U+D800-U+DFFF, which cannot be encoded as
    UTF-8 (and strict JSON readers reject). Python 3's strict UTF-8 codec fails on
    exactly those; Python 2's encodes them, so a (wide) 2.7 searches for them."""
    try:
        text_type.encode(text, 'ascii' if PY2 else 'utf-8')
        return False
    except UnicodeEncodeError:
        if not PY2:
            return True
    if sys.maxunicode <= 0xffff:
        return False  # a narrow 2.7 has surrogate pairs, not lone surrogates, to check
    import re  # loaded at start-up by 2.7 anyway
    return re.search(u'[\ud800-\udfff]', text) is not None


def _child_path(path, key):
    if isinstance(key, integer_types):
        return u'%s[%d]' % (path, key)
    if _is_identifier(key):
        return u'%s.%s' % (path, key)
    return u'%s[%s]' % (path, json_string(key))


def _unserializable(value, path, hint=u''):
    return ShimError(EXIT_RESULT, u'TypeError: return value of type `%s` is not JSON '
                     u'serializable (at `%s`)%s' % (_type_name(type(value)), path, hint))


def _encode_str(value, path):
    if PY2 and isinstance(value, str):
        try:
            value = value.decode('utf-8')
        except UnicodeDecodeError:
            raise ShimError(EXIT_RESULT, u'TypeError: return value of type `str` holds bytes '
                            u'that are not UTF-8 (at `%s`); decode it first' % path)
    if _has_lone_surrogate(value):
        raise ShimError(EXIT_RESULT, u'ValueError: return value has a string with a lone '
                        u'surrogate, which is not valid UTF-8 (at `%s`)' % path)
    return json_string(value)


def _encode_float(value, path):
    if value != value or value in (float('inf'), float('-inf')):
        name = 'NaN' if value != value else ('Infinity' if value > 0 else '-Infinity')
        raise ShimError(EXIT_RESULT, u'ValueError: return value contains %s, which strict '
                        u'JSON cannot represent (at `%s`)' % (name, path))
    return text_type(repr(float(value)))


def _encode_decimal(value, path):
    if not value.is_finite():
        raise ShimError(EXIT_RESULT, u'ValueError: return value contains Decimal(%s), which '
                        u'JSON cannot represent (at `%s`)' % (str(value), path))
    if value.as_tuple()[2] >= 0:  # integral, as Airflow's serde turns it into an int
        return u'%d' % int(value)
    return text_type(str(value))  # exact digits; a valid JSON number for finite Decimals


def _encode_key(key, path):
    if _is_str(key):
        _encode_str(key, path)  # same UTF-8 and surrogate checks as values
        return key.decode('utf-8') if PY2 and isinstance(key, str) else key
    # json.dumps's own key coercions, so results match what users expect from it.
    if key is True or key is False:
        return u'true' if key else u'false'
    if key is None:
        return u'null'
    if isinstance(key, integer_types):
        return u'%d' % key
    if isinstance(key, float):
        return _encode_float(key, path)
    raise ShimError(EXIT_RESULT, u'TypeError: dict key of type `%s` is not a string '
                    u'(at `%s`)' % (_type_name(type(key)), path))


def _is_decimal(value):
    # Only a loaded `decimal` module can have made a Decimal; don't import it to check.
    module = sys.modules.get('decimal')
    return module is not None and isinstance(value, module.Decimal)


def _encode(value, path, out, active):
    if value is None:
        out.append(u'null')
    elif value is True or value is False:
        out.append(u'true' if value else u'false')
    elif _is_str(value):
        out.append(_encode_str(value, path))
    elif isinstance(value, integer_types):
        out.append(u'%d' % value)
    elif isinstance(value, float):
        out.append(_encode_float(value, path))
    elif _is_decimal(value):
        out.append(_encode_decimal(value, path))
    elif _is_date_or_time(value):
        out.append(u'"%s"' % value.isoformat())
    elif isinstance(value, (dict, list, tuple)):
        if id(value) in active:
            raise ShimError(EXIT_RESULT, u'ValueError: return value has a circular '
                            u'reference (at `%s`)' % path)
        active.add(id(value))
        if isinstance(value, dict):
            out.append(u'{')
            seen = set()
            for i, (key, item) in enumerate(value.items()):
                name = _encode_key(key, path)
                if name in seen:
                    raise ShimError(EXIT_RESULT, u'ValueError: return value has duplicate '
                                    u'key `%s` once dict keys are strings (at `%s`)'
                                    % (name, path))
                seen.add(name)
                out.append(u', ' if i else u'')
                out.append(json_string(name) + u': ')
                _encode(item, _child_path(path, name), out, active)
            out.append(u'}')
        else:
            out.append(u'[')
            for i, item in enumerate(value):
                out.append(u', ' if i else u'')
                _encode(item, _child_path(path, i), out, active)
            out.append(u']')
        active.discard(id(value))
    elif isinstance(value, (set, frozenset)):
        raise _unserializable(value, path, u'; return a sorted list instead')
    elif isinstance(value, (bytes, bytearray)):
        raise _unserializable(value, path, u'; decode it to a str first')
    elif isinstance(value, _GeneratorType) or hasattr(value, '__next__') \
            or hasattr(value, 'next') and hasattr(value, '__iter__'):
        raise _unserializable(value, path, u'; return a list instead')
    else:
        raise _unserializable(value, path)


def to_json(value):
    """One strict JSON text for value, or ShimError(EXIT_RESULT) naming type and path."""
    out = []
    try:
        _encode(value, u'$', out, set())
    except RuntimeError:  # RecursionError on 3.5+, RuntimeError on 2.7
        raise ShimError(EXIT_RESULT, u'ValueError: return value is nested too deeply to '
                        u'encode as JSON')
    return u''.join(out)


def _write_atomic(path, data):
    # The Rust side reads result.json only after a 0 exit; the rename keeps a killed
    # shim from ever leaving a half-written file behind all the same.
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.rename(tmp, path)


# ---------------------------------------------------------------------------


def _prepare_process():
    # `python <dir>/shim` puts <dir> (our temp dir) first on sys.path; task code
    # should import as it would anywhere else.
    if sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(SHIM_FILE):
        del sys.path[0]
    sys.argv = sys.argv[:1]
    # Line-buffer even if the caller forgot PYTHONUNBUFFERED (3.7+ only; 2.7 and 3.6
    # rely on the environment, see PROTOCOL.md).
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except Exception:
            pass


def _read_input(path):
    try:
        with io.open(path, 'r', encoding='utf-8') as f:
            spec = json_load(f)
    except Exception:
        exc_info = sys.exc_info()
        raise ShimError(EXIT_PROTOCOL, u'%s: cannot read %s: %s'
                        % (_type_name(exc_info[0]), path, _text(exc_info[1])), exc_info)
    if not isinstance(spec, dict) or spec.get('kind') != 'python':
        raise ShimError(EXIT_PROTOCOL, u'ValueError: %s is not a python task input '
                        u'(expected an object with "kind": "python")' % path)
    return spec


def _exit_code(exc, error_path):
    """SystemExit passes through as Python would end: None -> 0, int -> int, else print + 1."""
    code = exc.code
    if code is None or isinstance(code, integer_types):
        return int(code or 0)
    _err(_text(code) + u'\n')
    _write_error_file(error_path, u'SystemExit: %s' % _text(code))
    return EXIT_RAISED


def _fail(error, error_path):
    if error.exc_info is not None:
        _print_traceback(error.exc_info)
    _err(u'task-runner: %s\n' % error.summary)
    _write_error_file(error_path, error.summary)
    return error.code


def main(argv):
    if len(argv) != 4:
        _err(u'usage: python shim INPUT_JSON RESULT_JSON ERROR_TXT\n')
        return EXIT_PROTOCOL
    input_path, result_path, error_path = [os.path.abspath(p) for p in argv[1:]]
    _prepare_process()
    try:
        spec = _read_input(input_path)
        context, ti = build_context(spec)
        _install_helper_module(context, ti)
        fn = load_callable(spec)
        args, kwargs = determine_arguments(fn, spec, context)
        # Turn into datetimes only the dates the callable is handed.
        pending = _pending_datetimes(context, set(kwargs))
        if pending:
            from_context = [k for k in kwargs if k in context and kwargs[k] is context[k]]
            _convert_datetimes(context, pending)
            for k in from_context:
                kwargs[k] = context[k]
        value = fn(*args, **kwargs)
    except ShimError as error:
        return _fail(error, error_path)
    except SystemExit as exc:
        return _exit_code(exc, error_path)
    except KeyboardInterrupt:
        raise  # let Python end the way it does on SIGINT
    except:  # noqa: E722 - the callable raised (old-style Python 2 classes included)
        exc_info = sys.exc_info()
        _print_traceback(exc_info)
        _write_error_file(error_path, _exc_line(exc_info[0], exc_info[1]))
        return EXIT_RAISED

    if value is None or spec.get('do_xcom_push', True) is False:
        return EXIT_OK
    try:
        data = to_json(value).encode('utf-8')
    except ShimError as error:
        return _fail(error, error_path)
    try:
        _write_atomic(result_path, data)
    except Exception:
        exc_info = sys.exc_info()
        return _fail(ShimError(EXIT_PROTOCOL, u'%s: cannot write %s: %s' % (
            _type_name(exc_info[0]), result_path, _text(exc_info[1])), exc_info), error_path)
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main(sys.argv))
