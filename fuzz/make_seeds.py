#!/usr/bin/env python3
"""Writes the committed seed corpora, fuzz/corpus-seeds/<target>/, from the
repository's fixtures: python3 fuzz/make_seeds.py . (needs PyYAML).

Each seed is the target's selector byte and its body (see fuzz/src/lib.rs).
"""

import base64, gzip, hashlib, json, os, sys, yaml

root = sys.argv[1]
out = os.path.join(root, "fuzz", "corpus-seeds")

def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    open(os.path.join(d, name), "wb").write(data)

def read(p):
    return open(os.path.join(root, p), "rb").read()

# spec_load: selector byte = delivery (0 file, 1 env raw, 2 env base64, 3 env base64+gzip, 4 _FILE base64+gzip)
specs = {
    "quickstart": read("fixtures/quickstart.yaml"),
    "python": read("fixtures/python/daily_sales.yaml"),
    "ruby": read("fixtures/ruby/sales_report.yaml"),
    "compare": read("fixtures/python/compare.yaml"),
    "bash": b"operator: bash\nbash_command: echo {{ ds }}\nenv: {A: b}\nexecution_timeout: 1h\nskip_on_exit_code: [99]\n",
    "json": b'{"operator": "bash", "bash_command": "echo hi", "params": {"a": [1, {"b": null}]}, "do_xcom_push": true}',
    "sql": b"operator: sql\nconn_id: warehouse\nsql: [\"select 1\", \"select %(a)s\"]\nparameters: {a: 1}\nsplit_statements: false\n",
}
for i, (name, body) in enumerate(specs.items()):
    put("spec_load", f"{name}-file", bytes([0]) + body)
    put("spec_load", f"{name}-env", bytes([1]) + body)
put("spec_load", "bash-base64", bytes([2]) + specs["bash"])
put("spec_load", "bash-base64gzip", bytes([3]) + specs["bash"])
put("spec_load", "json-filenv", bytes([4]) + specs["json"])
# base64 of a gzip stream the fuzzer can mutate.
put("spec_load", "gzip-stream-base64", bytes([2]) + gzip.compress(specs["quickstart"], mtime=0))

# context_payload
ctx = {
    "dag_id": "sales", "task_id": "load", "run_id": "scheduled__2024-06-01T00:00:00+00:00",
    "logical_date": "2024-06-01T00:00:00+00:00", "data_interval_start": "2024-06-01T00:00:00+00:00",
    "data_interval_end": "2024-06-02T00:00:00+00:00", "try_number": 2, "map_index": -1,
    "owner": "data-eng", "params": {"region": "emea"}, "dag_run_conf": {"full_refresh": True},
    "xcom": [{"task_id": "extract", "key": "return_value", "value": [1, 2, 3]}],
    "connections": {"warehouse": "postgres://etl:Wh-Pass-123@db.internal:5432/dw",
                    "api": {"conn_type": "http", "host": "h", "password": "p", "extra": {"token": "t"}}},
    "variables": {"threshold": "0.85", "settings": "{\"a\": 1}"},
    "sensitive_names": ["region"], "schedule": "0 3 * * 1-5", "airflow_version": "2.10.5",
}
a3 = {"logical_date": None, "run_after": "2024-06-02T00:00:00Z", "airflow_version": "3.0.2", "run_type": "manual",
      "prev_data_interval_start_success": "2024-05-31T00:00:00Z", "start_date": "2024-06-02T00:00:01.5+02:00"}
put("context_payload", "full-file", bytes([0]) + json.dumps(ctx).encode())
put("context_payload", "full-env", bytes([1]) + json.dumps(ctx).encode())
put("context_payload", "full-base64gzip", bytes([3]) + json.dumps(ctx).encode())
put("context_payload", "airflow3-base64", bytes([2]) + json.dumps(a3).encode())
put("context_payload", "yaml-filenv", bytes([4]) + yaml.safe_dump(ctx).encode())
put("context_payload", "execution-date", bytes([1]) + b'{"execution_date": "2024-06-01T00:00:00+00:00", "schedule": "@weekly", "external_trigger": true}')
put("context_payload", "gzip-stream-base64", bytes([2]) + gzip.compress(json.dumps(ctx).encode(), mtime=0))

# connection: selector 0 auto, 1 URI, 2 JSON
conns = [
    "postgres://etl:Wh-Pass-123@db.internal:5432/dw",
    "mysql://u:p%40ss@host/db?charset=utf8&connect_timeout=10",
    "sqlite:////tmp/x.db",
    "sqlite://",
    "google-cloud-platform://?extra__google_cloud_platform__key_path=%2Fkeys%2Fkey.json",
    "postgresql://user@[::1]:5433/db?sslmode=require&__extra__=%7B%22a%22%3A+1%7D",
    "aws://AKIA:secret%2Fkey@/?region_name=eu-west-1",
    "http://h:1234/path%2Fwith?x=1&x=2",
]
for i, c in enumerate(conns):
    put("connection", f"uri-{i}", bytes([0]) + c.encode())
put("connection", "uri-forced", bytes([1]) + conns[1].encode())
jsons = [
    {"conn_type": "postgres", "host": "h", "login": "u", "password": "p", "schema": "s", "port": 5432, "extra": {"sslmode": "require"}},
    {"conn_type": "mysql", "host": "h", "extra": "{\"a\": 1}"},
    {"uri": "postgres://u:p@h/db"},
]
for i, j in enumerate(jsons):
    put("connection", f"json-{i}", bytes([2]) + json.dumps(j).encode())
    put("connection", f"json-auto-{i}", bytes([0]) + json.dumps(j).encode())

# render: flags bit0 = native
cases = yaml.safe_load(read("fixtures/templates/cases.yaml"))["cases"]
seen = set()
for c in cases:
    t = c.get("template")
    if not isinstance(t, str) or t in seen:
        continue
    seen.add(t)
    native = 1 if c.get("native") else 0
    h = hashlib.sha1(t.encode()).hexdigest()[:10]
    put("render", f"case-{h}", bytes([native]) + t.encode())
put("render", "daily-sales-sql", bytes([0]) + read("fixtures/sql/daily_sales.sql"))
put("render", "native-list", bytes([1]) + b"{{ params.regions + [ds] }}")

# sql_split: selector = dialect (%3) + 3*style (%3) + 9*offset; high bit: a parameter value
sqls = [read("fixtures/sql/daily_sales.sql").decode(), read("fixtures/quickstart.sql").decode(),
        "select 'a;b', \"c;d\", $$x;y$$, $tag$ ; $tag$ from t; -- c;\n/* ; */ select E'\\';' ;",
        "select %(a)s, %(b)s, :day, %s, ?, $1, %% from t where x = :region;",
        "SELECT `a;b`, [c;d], 'it''s' FROM t; SELECT ?;",
        "insert into t values (%s, %s); select 'x' # mysql comment ;\n select 2"]
for i, s in enumerate(sqls):
    for sel in (0, 1, 2, 3, 5, 7, 8 + 9):
        put("sql_split", f"sql-{i}-{sel}", bytes([sel]) + s.encode())
for i, v in enumerate(['"2024-06-01"', '"12345.6789"', "-0.0012", '"1e4"', "[1, null, 3]",
                       '"2024-06-01T10:11:12+02:00"', '"\\\\xdeadbeef"', '"{\\"a\\": 1}"', "true", '"NaN"',
                       '"550e8400-e29b-41d4-a716-446655440000"', '"10:11:12.5"', '["2024-06-01", "infinity"]']):
    put("sql_split", f"param-{i}", bytes([0x80]) + v.encode())
