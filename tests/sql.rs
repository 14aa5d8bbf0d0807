//! SQL tasks against real PostgreSQL and MariaDB servers (started by
//! scripts/test-deps.sh) and SQLite: result shapes, every type, parameters,
//! splitting, transactions and rollback, TLS, cancellation, every error.
//! Each test uses its own tables, so the tests run in parallel.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Outcome, Task, context, fixture, test_env};

fn pg() -> String {
    test_env("TR_PG_URL")
}

fn my() -> String {
    test_env("TR_MYSQL_URL")
}

const MEMORY: &str = "sqlite:///:memory:";

/// A SQL task on connection `db` = `url`, with the shared context.
fn sql(url: &str, yaml: &str) -> Task {
    Task::new()
        .env("AIRFLOW_CONN_DB", url)
        .spec(&format!("operator: sql\nconn_id: db\n{yaml}"))
        .context(context())
}

/// Runs `query` and returns its XCom, `null` when there is none (for setup
/// and for checking what the database holds).
#[track_caller]
fn query(url: &str, query: &str) -> Value {
    let out = sql(url, &format!("sql: {}\n", json!(query))).run();
    out.exit(0);
    out.xcom
        .as_deref()
        .map_or(Value::Null, |x| serde_json::from_str(x).expect("json"))
}

#[test]
fn postgres_types_become_lossless_json() {
    sql(
        &pg(),
        r#"sql: |
  DROP TYPE IF EXISTS tr_types_mood CASCADE;
  CREATE TYPE tr_types_mood AS ENUM ('happy', 'sad');
  SELECT 1::int2, 2::int4, 9223372036854775807::int8, 1.5::float4, 0.1::float8,
         'NaN'::float8, '-Infinity'::float8,
         123456789012345678901234567890.123456789::numeric, 1.50::numeric(5,2), 'NaN'::numeric,
         'text', 'x'::varchar, 'ab'::char(3), true, false,
         date '2024-06-01', time '13:45:00.25', timetz '13:45:00+02',
         timestamp '2024-06-01 13:45:00', timestamptz '2024-06-01 13:45:00.000001+02',
         'infinity'::timestamp, interval '1 year 2 months 3 days 04:05:06.5',
         'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid,
         '{"a": [1, 2.5, null], "b": {"c": "d"}}'::json, '{"k": true}'::jsonb,
         '\xdeadbeef'::bytea, ARRAY[1, 2, NULL], ARRAY[['a', 'b'], ['c', 'd']], '{}'::int4[],
         'happy'::tr_types_mood, NULL::int, NULL::text, '192.168.0.1/24'::inet, pg_sleep(0)
split_statements: true
"#,
    )
    .run()
    .exit(0)
    .xcom(json!([[
        1,
        2,
        9223372036854775807i64,
        1.5,
        0.1,
        "NaN",
        "-Infinity",
        123456789012345678901234567890.123456789f64,
        1.50,
        "NaN",
        "text",
        "x",
        "ab ",
        true,
        false,
        "2024-06-01",
        "13:45:00.250000",
        "13:45:00+02:00",
        "2024-06-01T13:45:00",
        "2024-06-01T11:45:00.000001+00:00",
        "infinity",
        "P1Y2M3DT4H5M6.5S",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        {"a": [1, 2.5, null], "b": {"c": "d"}},
        {"k": true},
        "3q2+7w==",
        [1, 2, null],
        [["a", "b"], ["c", "d"]],
        [],
        "happy",
        null,
        null,
        "192.168.0.1/24",
        null
    ]]));
}

#[test]
fn postgres_numeric_keeps_every_digit_in_the_file() {
    // serde_json would round these through f64; the file must not.
    let out = sql(
        &pg(),
        "sql: SELECT 123456789012345678901234567890.123456789::numeric, 1.50::numeric(5,2), 18446744073709551616::numeric\n",
    )
    .run();
    out.exit(0);
    assert_eq!(
        out.xcom.as_deref().unwrap(),
        "[[123456789012345678901234567890.123456789,1.50,18446744073709551616]]"
    );
}

/// The XCom of `select` as the runner reads it without parameters (COPY) and
/// with one that keeps every row (DataRows), for a byte-for-byte comparison.
fn by_copy_and_by_datarows(select: &str) -> (String, String) {
    let run = |yaml: String| {
        let out = sql(&pg(), &format!("{yaml}max_xcom_bytes: 100000000\n")).run();
        out.exit(0);
        out.xcom.clone().expect("xcom")
    };
    let copy = run(format!(
        "sql: {}\n",
        json!(format!("SELECT * FROM ({select}) q"))
    ));
    let datarows = run(format!(
        "sql: {}\nparameters: {{keep: true}}\n",
        json!(format!("SELECT * FROM ({select}) q WHERE %(keep)s"))
    ));
    (copy, datarows)
}

/// Which way the runner read a statement's rows: `current_query()` is the
/// text the server was sent.
#[test]
fn postgres_queries_without_parameters_are_read_with_copy() {
    let url = pg();
    sql(
        &url,
        "sql: SELECT current_query(), 1 -- a trailing comment\n",
    )
    .run()
    .exit(0)
    .xcom(json!([[
        "COPY (\nSELECT current_query(), 1 -- a trailing comment\n) TO STDOUT (FORMAT binary)",
        1
    ]]));
    sql(
        &url,
        "sql: WITH x AS (SELECT 2 AS n) (SELECT current_query() LIKE 'COPY (%', n FROM x)\n",
    )
    .run()
    .exit(0)
    .xcom(json!([[false, 2]]));
    sql(
        &url,
        "sql: WITH x AS (SELECT 2 AS n) SELECT current_query() LIKE 'COPY (%', n FROM x\n",
    )
    .run()
    .exit(0)
    .xcom(json!([[true, 2]]));
    // Parameters, data-modifying statements and utility statements: DataRows.
    sql(
        &url,
        "sql: SELECT current_query(), %(n)s::int\nparameters: {n: 3}\n",
    )
    .run()
    .exit(0)
    .xcom(json!([["SELECT current_query(), $1::int", 3]]));
    sql(
        &url,
        r#"sql: |
  CREATE TEMP TABLE tr_copy_dml (a int);
  INSERT INTO tr_copy_dml VALUES (1) RETURNING a, current_query();
  SHOW client_encoding
split_statements: true
return_last: false
"#,
    )
    .run()
    .exit(0)
    .xcom(json!([
        null,
        [[
            1,
            "INSERT INTO tr_copy_dml VALUES (1) RETURNING a, current_query()"
        ]],
        [["UTF8"]]
    ]));
    // A locking query runs under COPY, and locks.
    query(
        &url,
        "DROP TABLE IF EXISTS tr_copy_lock; CREATE TABLE tr_copy_lock (a int); INSERT INTO tr_copy_lock VALUES (7)",
    );
    sql(
        &url,
        "sql: ['SELECT a, current_query() LIKE ''COPY (%'' FROM tr_copy_lock FOR UPDATE', \"SELECT count(*) FROM pg_locks WHERE relation = 'tr_copy_lock'::regclass AND mode = 'RowShareLock' AND pid = pg_backend_pid()\"]\n",
    )
    .run()
    .exit(0)
    .xcom(json!([[[7, true]], [[1]]]));
    query(&url, "DROP TABLE tr_copy_lock");
}

/// COPY carries the same binary values as DataRows, decoded the same way: the
/// two files are the same bytes, at the edges of every type.
#[test]
fn postgres_copy_output_is_byte_identical_to_datarows() {
    let edges = r#"SELECT (-32768)::int2, 32767::int2, (-2147483648)::int4, 2147483647::int4,
  (-9223372036854775808)::int8, 9223372036854775807::int8, 0::int8, 4294967295::oid,
  12345678901234567890.0123456789::numeric(30,10), (-0.0000000001)::numeric(30,10), 0::numeric(30,10),
  'NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric, 1e-20::numeric, 100000000::numeric, 0.5::numeric,
  'Infinity'::float8, '-Infinity'::float8, 'NaN'::float8, '-0'::float8, 1e308::float8, 5e-324::float8, 0.1::float8,
  3.4028235e38::float4, '-0'::float4, 1.1::float4, 'NaN'::float4,
  timestamp '0001-01-01 00:00:00', timestamp '9999-12-31 23:59:59.999999', timestamp '2024-02-29 12:00:00.5',
  'infinity'::timestamp, '-infinity'::timestamp, timestamp '0044-03-15 12:00:00 BC',
  timestamptz '2024-06-01 13:45:00.5+02', timestamptz '1999-12-31 23:59:59.999999-08', '-infinity'::timestamptz,
  date '0001-01-01', date '2000-01-01', 'infinity'::date, '-infinity'::date, date '4713-01-01 BC',
  time '00:00:00', time '23:59:59.999999', time '24:00:00', timetz '12:34:56.789+05:30', timetz '00:00:00-15:59',
  interval '1 year 2 months 3 days 04:05:06.5', interval '-1 year -2 months +3 days -04:05:06.789', interval '0',
  interval '1 microsecond',
  E'quote " backslash \\ tab \t newline \n bell \x07 del \x7f', 'unicode: ü € 😀 ' || chr(8232), '', 'plain'::varchar,
  'ab'::char(4), 'x'::"char", 'nm'::name,
  ARRAY[1, NULL, 3], ARRAY[[1, 2], [3, 4]], '{}'::int4[], ARRAY['a"b', NULL, 'c\d'], ARRAY[1.5, 'NaN']::numeric[],
  ARRAY[date '2024-01-01'], '[0:1]={1,2}'::int4[],
  '{"b": [1, "x\"y", null], "a": 1.50, "c": {}}'::jsonb, '{"k": [true, false]}'::json, '"s"'::jsonb, 'null'::jsonb,
  '\x00ff10'::bytea, ''::bytea,
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '10.1.2.3'::inet, '2001:db8::/32'::cidr, '08:00:2b:01:02:03'::macaddr,
  true, false, NULL::int, NULL::text, NULL::jsonb, NULL::int4[]"#;
    let (copy, datarows) = by_copy_and_by_datarows(edges);
    assert_eq!(copy, datarows);
    let row: Value = serde_json::from_str(&copy).unwrap();
    assert_eq!(row[0].as_array().unwrap().len(), 81, "{copy}");
    assert_eq!(
        &row[0].as_array().unwrap()[..8],
        &json!([
            -32768,
            32767,
            -2147483648i64,
            2147483647,
            i64::MIN,
            i64::MAX,
            0,
            4294967295u64
        ])
        .as_array()
        .unwrap()[..]
    );
    assert!(copy.contains(r#",12345678901234567890.0123456789,-0.0000000001,0.0000000000,"NaN","Infinity","-Infinity","#), "{copy}");
    // Every row of a larger result, NULLs among them; and no rows at all.
    let many = "SELECT g, md5(g::text), g * 1.25, timestamp '2024-01-01' + g * interval '1 second', g % 3 = 0, \
                CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('é', g % 5) END FROM generate_series(1, 100000) g";
    let (copy, datarows) = by_copy_and_by_datarows(many);
    assert!(copy == datarows, "the 100,000-row results differ");
    let rows: Value = serde_json::from_str(&copy).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 100_000);
    assert_eq!(
        rows[6],
        json!([
            7,
            "8f14e45fceea167a5a36dedd4bea2543",
            8.75,
            "2024-01-01T00:00:07",
            false,
            null
        ])
    );
    let (copy, datarows) = by_copy_and_by_datarows("SELECT 1 WHERE false");
    assert_eq!((copy.as_str(), datarows.as_str()), ("[]", "[]"));
    sql(&pg(), "sql: SELECT x FROM generate_series(1, 2500) x\n")
        .run()
        .exit(0)
        .stderr_has("Rows affected: 2500");
}

/// A statement that fails while its rows stream, or before the first one,
/// fails with the server's own message either way, and rolls back.
#[test]
fn postgres_copy_errors_are_the_servers_own() {
    let url = pg();
    for (select, message) in [
        (
            "SELECT 1 / (5000 - x) FROM generate_series(1, 10000) x",
            "division by zero [SQLSTATE 22012]",
        ),
        (
            "SELECT x::int FROM (VALUES ('1'), ('x')) v(x)",
            "invalid input syntax for type integer: \"x\" [SQLSTATE 22P02]",
        ),
        // Folded by the planner: the COPY fails before it starts.
        ("SELECT 1 / 0", "division by zero [SQLSTATE 22012]"),
    ] {
        for (text, parameters) in [
            (select.to_string(), ""),
            (
                format!("SELECT * FROM ({select}) q WHERE %(keep)s"),
                "parameters: {keep: true}\n",
            ),
        ] {
            sql(&url, &format!("sql: {}\n{parameters}", json!(text)))
                .run()
                .exit(71)
                .stderr_has(&format!(
                    "SQL statement 1 of 1 failed: {message}; statement: "
                ))
                .no_xcom();
        }
    }
    query(
        &url,
        "DROP TABLE IF EXISTS tr_copy_fail; CREATE TABLE tr_copy_fail (a int)",
    );
    for failing in [
        "SELECT 1 / 0",
        "SELECT 1 / (2 - x) FROM generate_series(1, 3) x",
    ] {
        sql(
            &url,
            &format!(
                "sql: ['INSERT INTO tr_copy_fail VALUES (1)', {}]\n",
                json!(failing)
            ),
        )
        .run()
        .exit(71)
        .stderr_has("division by zero")
        .stderr_has("rolled back: nothing of this task was committed")
        .stderr_lacks("ROLLBACK failed");
    }
    assert_eq!(
        query(&url, "SELECT count(*) FROM tr_copy_fail"),
        json!([[0]])
    );
    // The output fails mid-COPY: the rest of the rows are read out, so the
    // rollback finds the connection in step.
    sql(
        &url,
        "sql: ['INSERT INTO tr_copy_fail VALUES (1)', 'SELECT x, repeat(''y'', 100) FROM generate_series(1, 20000) x']\nmax_xcom_bytes: 100000\n",
    )
    .run()
    .exit(73)
    .stderr_has("over the limit of 100000 bytes")
    .stderr_has("rolled back: nothing of this task was committed");
    assert_eq!(
        query(&url, "SELECT count(*) FROM tr_copy_fail"),
        json!([[0]])
    );
    query(&url, "DROP TABLE tr_copy_fail");
}

#[test]
fn mysql_types_become_json() {
    let out = sql(
        &my(),
        r#"sql: |
  CREATE TEMPORARY TABLE tr_my_types (
    i INT, u BIGINT UNSIGNED, t TINYINT(1), f FLOAT, d DOUBLE, n DECIMAL(40,10), s VARCHAR(10),
    b VARBINARY(4), bl BLOB, j JSON, dt DATETIME(6), ts TIMESTAMP NULL, da DATE, tm TIME, y YEAR,
    bi BIT(3), e ENUM('a','b'), z INT NULL);
  INSERT INTO tr_my_types VALUES (-1, 18446744073709551615, 1, 1.5, 0.1,
    123456789012345678901234567890.0123456789, 'héllo', X'DEADBEEF', 'plain text', '{"a": [1, 2]}',
    '2024-06-01 13:45:00.5', '2024-06-01 13:45:00', '2024-06-01', '-12:30:00', 2024, b'101', 'b', NULL);
  SELECT * FROM tr_my_types
split_statements: true
"#,
    )
    .run();
    out.exit(0);
    assert_eq!(
        out.xcom.as_deref().unwrap(),
        r#"[[-1,18446744073709551615,1,1.5,0.1,123456789012345678901234567890.0123456789,"héllo","3q2+7w==","plain text","{\"a\": [1, 2]}","2024-06-01T13:45:00.500000","2024-06-01T13:45:00+00:00","2024-06-01","-12:30:00",2024,5,"b",null]]"#
    );
}

/// DATE, DATETIME and TIMESTAMP are written straight from their binary form
/// when they are valid dates; zero and zero-in-date values stay `null`, as
/// mysqlclient returns None for them (the same bytes as before that path).
#[test]
fn mysql_dates_and_decimals_at_their_edges() {
    let out = sql(
        &my(),
        r#"sql: |
  SET SESSION sql_mode = '';
  CREATE TEMPORARY TABLE tr_my_dates (d DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL, n DECIMAL(30,10), u BIGINT UNSIGNED);
  INSERT INTO tr_my_dates VALUES ('0000-00-00', '0000-00-00 00:00:00', NULL, -0.0000000001, 0),
    ('1000-01-01', '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01', 12345678901234567890.0123456789, 18446744073709551615),
    ('9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', 0, 1),
    ('2024-02-29', '2024-02-29 12:00:00', '2024-02-29 12:00:00.5', 1.5, NULL),
    ('2024-00-10', '2024-06-00 00:00:00', NULL, NULL, NULL);
  SELECT d, dt, ts, n, u, CAST(dt AS DATE), CAST(d AS DATETIME) FROM tr_my_dates
split_statements: true
"#,
    )
    .run();
    out.exit(0);
    assert_eq!(
        out.xcom.as_deref().unwrap(),
        r#"[[null,null,null,-0.0000000001,0,null,null],["1000-01-01","1000-01-01T00:00:00.000001","1970-01-01T00:00:01+00:00",12345678901234567890.0123456789,18446744073709551615,"1000-01-01","1000-01-01T00:00:00"],["9999-12-31","9999-12-31T23:59:59.999999","2038-01-19T03:14:07.999999+00:00",0.0000000000,1,"9999-12-31","9999-12-31T00:00:00"],["2024-02-29","2024-02-29T12:00:00","2024-02-29T12:00:00.500000+00:00",1.5000000000,null,"2024-02-29","2024-02-29T00:00:00"],[null,null,null,null,null,null,null]]"#
    );
}

#[test]
fn sqlite_values_follow_their_storage_class() {
    sql(
        MEMORY,
        "sql: \"SELECT 1, 2.5, 'x', X'DEADBEEF', NULL, 9223372036854775807, 1e308 * 10\"\n",
    )
    .run()
    .exit(0)
    .xcom(json!([[
        1,
        2.5,
        "x",
        "3q2+7w==",
        null,
        9223372036854775807i64,
        "Infinity"
    ]]));
}

#[test]
fn result_shapes_match_sql_execute_query_operator() {
    let two = "sql: SELECT 1 AS a; SELECT 2 AS b UNION ALL SELECT 3\n";
    let cases: [(&str, Option<Value>); 8] = [
        // str, split unset, return_last: the last result
        (two, Some(json!([[2], [3]]))),
        // str, split, return_last: the last result
        (
            "sql: SELECT 1; SELECT 2\nsplit_statements: true\n",
            Some(json!([[2]])),
        ),
        // str, split, not return_last: every result
        (
            "sql: SELECT 1; SELECT 2\nsplit_statements: true\nreturn_last: false\n",
            Some(json!([[[1]], [[2]]])),
        ),
        // str, no split, not return_last: the single statement's result
        (
            "sql: SELECT 1\nsplit_statements: false\nreturn_last: false\n",
            Some(json!([[1]])),
        ),
        // list: a list of results, return_last ignored; DDL gives null
        (
            "sql: ['CREATE TEMP TABLE t (a)', 'INSERT INTO t VALUES (1)', 'SELECT a FROM t', 'SELECT a FROM t WHERE 0']\n",
            Some(json!([null, null, [[1]], []])),
        ),
        (
            "sql: ['SELECT 1']\nreturn_last: true\n",
            Some(json!([[[1]]])),
        ),
        // a single statement without a result set returns None: no XCom
        ("sql: CREATE TEMP TABLE t (a)\n", None),
        // the last of several statements has no result set
        (
            "sql: SELECT 1; CREATE TEMP TABLE t (a)\nsplit_statements: true\n",
            None,
        ),
    ];
    for (yaml, expected) in cases {
        let out = sql(MEMORY, yaml).run();
        out.exit(0);
        match expected {
            Some(v) => {
                out.xcom(v);
            }
            None => {
                out.no_xcom();
            }
        }
    }
}

#[test]
fn do_xcom_push_false_writes_nothing() {
    sql(MEMORY, "sql: SELECT 1\ndo_xcom_push: false\n")
        .run()
        .exit(0)
        .no_xcom();
}

/// A `numeric` parameter's exponent used to size its zero padding (found
/// writing the `sql_split` fuzz target: `1e900000000` allocated 900 MB): the
/// ends of PostgreSQL's binary `numeric` range bind, past them the value is
/// refused before anything is padded.
#[test]
fn postgres_numeric_parameters_at_and_past_the_range() {
    sql(
        &pg(),
        "sql: SELECT %(a)s::numeric = 1e131071, scale(%(b)s::numeric), %(c)s::numeric = 0\nparameters: {a: '1e131071', b: '1e-16383', c: '0e-16383'}\n",
    )
    .run()
    .exit(0)
    .xcom(json!([[true, 16383, true]]));
    for value in ["1e900000000", "1e-90000000", "1e2147483647", "1e131072"] {
        sql(
            &pg(),
            &format!("sql: SELECT %(a)s::numeric\nparameters: {{a: '{value}'}}\n"),
        )
        .run()
        .exit(71)
        .stderr_has("expected a decimal number for a `numeric` parameter");
    }
}

#[test]
fn named_and_positional_parameters_are_bound_not_pasted() {
    // The server infers each parameter's type; rendered templates give strings.
    sql(
        &pg(),
        r#"sql: "SELECT %(day)s::date + 1, :n + 1, %(n)s, %(name)s, :name || '%%', '%%(day)s', x::text FROM (SELECT 1 AS x) s WHERE %(day)s = date '2024-06-01' AND x = ANY(%(ids)s)"
parameters: {day: "{{ ds }}", n: "41", name: "O'Reilly; DROP TABLE x", ids: [1, 2]}
"#,
    )
    .run()
    .exit(0)
    .xcom(json!([[
        "2024-06-02",
        42,
        41,
        "O'Reilly; DROP TABLE x",
        "O'Reilly; DROP TABLE x%",
        "%(day)s",
        "1"
    ]]));
    sql(
        &pg(),
        "sql: SELECT %s::int * 2, %s::text\nparameters: ['21', 7]\n",
    )
    .run()
    .exit(0)
    .xcom(json!([[42, "7"]]));
    sql(&my(), "sql: SELECT %s + 1, %(x)s\nparameters: [1]\n")
        .run()
        .exit(71)
        .stderr_has("`parameters` is a list");
    sql(
        &my(),
        "sql: SELECT %(a)s + 1, :b, CONCAT(%(c)s, '%%')\nparameters: {a: 41, b: null, c: \"it's\"}\n",
    )
    .run()
    .exit(0)
    .xcom(json!([[42, null, "it's%"]]));
    sql(MEMORY, "sql: SELECT ? || ?, ?\nparameters: [a, b, true]\n")
        .run()
        .exit(0)
        .xcom(json!([["ab", 1]]));
    sql(MEMORY, "sql: SELECT :x, %(x)s\nparameters: {x: 5}\n")
        .run()
        .exit(0)
        .xcom(json!([[5, 5]]));
    // The same parameters go to every split statement, as in Airflow.
    sql(
        MEMORY,
        "sql: SELECT :x; SELECT :x * 2\nsplit_statements: true\nreturn_last: false\nparameters: {x: 2}\n",
    )
    .run()
    .exit(0)
    .xcom(json!([[[2]], [[4]]]));
    sql(MEMORY, "sql: SELECT ?, ?\nparameters: [1]\n")
        .run()
        .exit(71)
        .stderr_has("2 positional placeholder(s) but `parameters` has 1 value(s)");
}

#[test]
fn splitting_respects_quotes_dollar_quotes_and_comments() {
    sql(
        &pg(),
        r#"sql: |
  -- a comment; with a semicolon
  CREATE TEMP TABLE tr_split (s text);
  INSERT INTO tr_split VALUES ('a;b'), ($q$c;'d$q$), (E'e\';f');
  /* block; comment */
  DO $$ BEGIN PERFORM 1; END $$;
  SELECT s FROM tr_split ORDER BY s;
split_statements: true
return_last: false
"#,
    )
    .run()
    .exit(0)
    .xcom(json!([null, null, null, [["a;b"], ["c;'d"], ["e';f"]]]));
    sql(
        &my(),
        "sql: \"SELECT 'it\\\\'s; fine', \\\"x;y\\\"; # comment; here\\nSELECT 2\"\nsplit_statements: true\nreturn_last: false\n",
    )
    .run()
    .exit(0)
    .xcom(json!([[["it's; fine", "x;y"]], [[2]]]));
}

#[test]
fn a_failure_rolls_everything_back() {
    let url = pg();
    query(
        &url,
        "DROP TABLE IF EXISTS tr_rollback; CREATE TABLE tr_rollback (a int)",
    );
    let out = sql(
        &url,
        "sql: ['INSERT INTO tr_rollback VALUES (1)', 'INSERT INTO tr_rollback VALUES (2)', 'SELEC oops']\n",
    )
    .run();
    out.exit(71)
        .stderr_has("SQL statement 3 of 3 failed")
        .stderr_has("syntax error at or near \"SELEC\"")
        .stderr_has("rolled back")
        .no_xcom();
    assert_eq!(
        query(&url, "SELECT count(*) FROM tr_rollback"),
        json!([[0]])
    );
    // With autocommit, what ran before the failure stays.
    sql(
        &url,
        "sql: ['INSERT INTO tr_rollback VALUES (1)', 'SELEC oops']\nautocommit: true\n",
    )
    .run()
    .exit(71);
    assert_eq!(
        query(&url, "SELECT count(*) FROM tr_rollback"),
        json!([[1]])
    );
    query(&url, "DROP TABLE tr_rollback");

    let url = my();
    query(
        &url,
        "DROP TABLE IF EXISTS tr_rollback; CREATE TABLE tr_rollback (a int) ENGINE=InnoDB",
    );
    sql(
        &url,
        "sql: ['INSERT INTO tr_rollback VALUES (1)', 'INSERT INTO tr_rollback VALUES (''x'', 2)']\n",
    )
    .run()
    .exit(71)
    .stderr_has("statement 2 of 2")
    .stderr_has("Column count doesn't match");
    assert_eq!(
        query(&url, "SELECT count(*) FROM tr_rollback"),
        json!([[0]])
    );
    query(&url, "DROP TABLE tr_rollback");

    let t = Task::new();
    let db = format!("sqlite:///{}", t.dir().join("x.db").display());
    query(&db, "CREATE TABLE t (a)");
    sql(&db, "sql: INSERT INTO t VALUES (1); SELECT nope FROM t\n")
        .run()
        .exit(71)
        .stderr_has("no such column: nope");
    assert_eq!(query(&db, "SELECT count(*) FROM t"), json!([[0]]));
}

/// Rows of `pg_stat_activity` (or the MySQL process list) running a query with `marker`.
fn running(url: &str, marker: &str) -> i64 {
    let q = if url.starts_with("mysql") {
        format!(
            "SELECT count(*) FROM information_schema.processlist WHERE info LIKE '%{marker}%' AND id <> CONNECTION_ID()"
        )
    } else {
        format!(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%{marker}%' AND state = 'active' AND pid <> pg_backend_pid()"
        )
    };
    query(url, &q)[0][0].as_i64().expect("count")
}

/// Polls `seen` every 50 ms for up to 10 s; panics naming `what` after that.
#[track_caller]
fn wait_until(what: &str, mut seen: impl FnMut() -> bool) {
    for _ in 0..200 {
        if seen() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} never showed up on the server");
}

fn wait_until_running(url: &str, marker: &str) {
    wait_until(&format!("the query marked {marker}"), || {
        running(url, marker) == 1
    });
}

#[test]
fn sigterm_cancels_the_query_on_the_server_and_rolls_back() {
    let url = pg();
    query(
        &url,
        "DROP TABLE IF EXISTS tr_cancel; CREATE TABLE tr_cancel (a int)",
    );
    let running_task = sql(
        &url,
        "sql: ['INSERT INTO tr_cancel VALUES (1)', 'SELECT pg_sleep(60) /* tr-cancel-pg */']\n",
    )
    .spawn(Some("run"));
    wait_until_running(&url, "tr-cancel-pg");
    running_task.signal(nix::sys::signal::Signal::SIGTERM);
    let out: Outcome = running_task.wait();
    out.exit(143)
        .stderr_has("cancelling the running statement on the server")
        .stderr_has("stopped by SIGTERM")
        .no_xcom();
    assert_eq!(running(&url, "tr-cancel-pg"), 0, "query still running");
    assert_eq!(query(&url, "SELECT count(*) FROM tr_cancel"), json!([[0]]));
    query(&url, "DROP TABLE tr_cancel");
}

#[test]
fn execution_timeout_cancels_the_query_on_the_server() {
    let url = my();
    let out = sql(
        &url,
        "sql: SELECT SLEEP(60) /* tr-cancel-my */\nexecution_timeout: 2s\n",
    )
    .run();
    out.exit(124)
        .stderr_has("execution_timeout expired")
        .termination_has("timed out after 2s")
        .no_xcom();
    assert_eq!(running(&url, "tr-cancel-my"), 0, "query still running");
    // SQLite runs in-process: the progress handler interrupts it.
    sql(
        MEMORY,
        "sql: WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c\nexecution_timeout: 1s\n",
    )
    .run()
    .exit(124)
    .no_xcom();
}

#[test]
fn connection_errors_are_clear_and_never_show_the_password() {
    Task::new()
        .spec("operator: sql\nconn_id: nowhere\nsql: SELECT 1\n")
        .context(context())
        .run()
        .exit(68)
        .stderr_has("connection `nowhere` is not defined")
        .stderr_has("AIRFLOW_CONN_NOWHERE");
    // Refused at once: retried, then a clear message (no timing asserted).
    sql(
        "postgres://u:Unreach-Pass-1@127.0.0.1:1/db",
        "sql: SELECT 1\n",
    )
    .run()
    .exit(69)
    .stderr_has("failed to connect to PostgreSQL at 127.0.0.1:1/db (connection `db`)")
    .stderr_has("after 3 attempts")
    // Where the URI would be: the address without its credentials.
    .termination_has("failed to connect to PostgreSQL at 127.0.0.1:1/db (connection `db`)")
    .never_shows("Unreach-Pass-1");
    let bad = pg().replace("tr-pg-Secret-42", "Wrong-Pass-99");
    sql(&bad, "sql: SELECT 1\n")
        .run()
        .exit(69)
        .termination_has("failed to connect to PostgreSQL at ")
        .stderr_has("password authentication failed")
        .never_shows("Wrong-Pass-99");
    let bad = my().replace("tr-my-Secret-42", "Wrong-Pass-98");
    sql(&bad, "sql: SELECT 1\n")
        .run()
        .exit(69)
        .termination_has("failed to connect to MySQL at ")
        .stderr_has("Access denied")
        .never_shows("Wrong-Pass-98");
    sql("http://example.com", "sql: SELECT 1\n")
        .run()
        .exit(68)
        .stderr_has("conn_type is `http`");
}

#[test]
fn syntax_errors_name_the_statement_and_the_server_message() {
    sql(
        &pg(),
        "sql: SELECT 1; SELECT 2; SELEC 3\nsplit_statements: true\n",
    )
    .run()
    .exit(71)
    .stderr_has("SQL statement 3 of 3 failed")
    .stderr_has("syntax error at or near \"SELEC\"")
    .stderr_has("SQLSTATE 42601")
    .termination_has("statement 3 of 3");
    sql(&my(), "sql: SELEC 1\n")
        .run()
        .exit(71)
        .stderr_has("SQL statement 1 of 1 failed")
        .stderr_has("MySQL error 1064");
    sql(MEMORY, "sql: '  -- nothing here'\n")
        .run()
        .exit(78)
        .stderr_has("List of SQL statements is empty");
}

#[test]
fn tls_options_come_from_the_connection_extra() {
    let url = pg();
    sql(
        &format!("{url}?sslmode=require"),
        "sql: SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()\n",
    )
    .run()
    .exit(0)
    .xcom(json!([[true]]));
    sql(
        &format!("{url}?sslmode=disable"),
        "sql: SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()\n",
    )
    .run()
    .exit(0)
    .xcom(json!([[false]]));
    // The server's certificate is self-signed: verification must fail, clearly.
    sql(
        &format!("{url}?sslmode=verify-full&sslrootcert=/nonexistent/root.crt"),
        "sql: SELECT 1\n",
    )
    .run()
    .exit(69)
    .stderr_has("failed to connect to PostgreSQL");
    sql(&format!("{url}?sslmode=sometimes"), "sql: SELECT 1\n")
        .run()
        .exit(68)
        .stderr_has("unknown `sslmode` `sometimes`");
}

#[test]
fn the_size_cap_fails_cleanly_and_output_path_takes_the_full_result() {
    let big = "sql: SELECT x, 'some padding text' FROM generate_series(1, 5000) x\n";
    sql(&pg(), &format!("{big}max_xcom_bytes: 10000\n"))
        .run()
        .exit(73)
        .stderr_has("over the limit of 10000 bytes")
        .stderr_has("max_xcom_bytes")
        .stderr_has("output_path")
        .no_xcom();
    let t = sql(
        &pg(),
        &format!("{big}max_xcom_bytes: 10000\noutput_path: out/rows.json\n"),
    );
    let file = t.dir().join("out/rows.json");
    let out = t.run();
    out.exit(0).xcom(json!("out/rows.json"));
    let rows: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 5000);
    assert_eq!(rows[4999], json!([5000, "some padding text"]));
}

#[test]
fn a_templated_sql_file_runs_with_its_rows_affected_logged() {
    let text = std::fs::read_to_string(fixture("sql/daily_sales.sql")).unwrap();
    sql(
        MEMORY,
        "sql: daily_sales.sql\nparams: {region: emea}\nsplit_statements: true\n",
    )
    .file("daily_sales.sql", &text)
    .run()
    .exit(0)
    .stderr_has("Rows affected: 3")
    .xcom(json!([["2024-06-01", "emea", 2, 30.75]]));
}

#[test]
fn the_quick_start_runs_on_sqlite_with_no_server() {
    // Exactly the README's command: no context, no connection defined.
    let t = Task::new();
    let xcom = t.xcom_path().display().to_string();
    let tmp = t.dir().display().to_string();
    let out = t
        .env("TMPDIR", &tmp)
        .args(&[
            "--config",
            &fixture("quickstart.yaml").display().to_string(),
            "--xcom-path",
            &xcom,
        ])
        .run();
    out.exit(0);
    let value: Value = serde_json::from_str(out.xcom.as_deref().unwrap()).unwrap();
    let rows = value.as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{value}");
    assert_eq!(rows[0][1], json!("emea"));
}

/// Non-ASCII text outside quotes with bound parameters used to panic before
/// connecting (a byte index inside `ö`, exit 101). Every dialect binds it.
#[test]
fn non_ascii_outside_quotes_with_parameters_binds_on_every_dialect() {
    for url in [pg(), my(), MEMORY.to_string()] {
        let out = sql(
            &url,
            "sql: \"SELECT :b AS größe, 'ü' AS x, :c AS ñ\"\nparameters: {b: 'é', c: '€'}\n",
        )
        .run();
        out.exit(0);
        let got: Value = serde_json::from_str(out.xcom.as_deref().expect("xcom")).unwrap();
        assert_eq!(got, json!([["é", "ü", "€"]]), "{url}");
    }
}

/// A TCP proxy to a database that can stop answering: once frozen it
/// forwards nothing more and accepts new connections without serving them,
/// as a server that hangs or a network that black-holes does.
struct FreezingProxy {
    port: u16,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FreezingProxy {
    fn to(upstream_port: u16) -> FreezingProxy {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let frozen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f = frozen.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for client in listener.incoming().flatten() {
                if f.load(Ordering::SeqCst) {
                    held.push(client);
                    continue;
                }
                let server =
                    std::net::TcpStream::connect(("127.0.0.1", upstream_port)).expect("upstream");
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let f = f.clone();
                    std::thread::spawn(move || pump(from, to, &f));
                }
            }
        });
        FreezingProxy { port, frozen }
    }

    fn freeze(&self) {
        self.frozen.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    frozen: &std::sync::atomic::AtomicBool,
) {
    use std::io::{Read, Write};
    let mut buf = [0u8; 16384];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = to.shutdown(std::net::Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        if frozen.load(std::sync::atomic::Ordering::SeqCst) {
            // Hold both sockets open and answer nothing, ever.
            loop {
                std::thread::park();
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// The PostgreSQL URL of the tests, through `port` instead.
fn pg_via(port: u16) -> String {
    let url = pg();
    let (head, tail) = url.rsplit_once('@').expect("url with credentials");
    let (_, path) = tail.split_once('/').expect("url with database");
    format!("{head}@127.0.0.1:{port}/{path}")
}

fn pg_port() -> u16 {
    let url = pg();
    let tail = url.rsplit_once('@').unwrap().1;
    let hostport = tail.split_once('/').unwrap().0;
    hostport.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// SIGTERM while the database no longer answers (neither the cancel request
/// nor ROLLBACK): the whole stop path fits in `grace_period`, so the runner
/// reports 143 before the SIGKILL that `docker stop` sends after it.
#[test]
fn a_stop_with_an_unresponsive_database_is_reported_within_the_grace_period() {
    let proxy = FreezingProxy::to(pg_port());
    let running_task = sql(
        &pg_via(proxy.port),
        "sql: SELECT pg_sleep(20) /* tr-frozen-pg */\ngrace_period: 2s\n",
    )
    .spawn(Some("run"));
    wait_until_running(&pg(), "tr-frozen-pg");
    proxy.freeze();
    running_task.signal(nix::sys::signal::Signal::SIGTERM);
    // `docker stop -t 3`: SIGKILL one second after the grace period.
    let out = running_task.wait_or_kill_after(Duration::from_secs(3));
    out.exit(143)
        .stderr_has("cancelling the running statement on the server")
        .stderr_has("could not cancel the statement: no answer")
        .stderr_has("ROLLBACK did not answer in time")
        .termination_has("stopped by SIGTERM")
        .no_xcom();
}

/// A TCP proxy to PostgreSQL that spoils every `COPY (` the client sends
/// (into `COPX (`), as a PostgreSQL-compatible server without `COPY ... TO
/// STDOUT` refuses it: with a syntax error. The connection must not use TLS.
fn copy_refusing_proxy(upstream_port: u16) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let server =
                std::net::TcpStream::connect(("127.0.0.1", upstream_port)).expect("upstream");
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || spoil_copy(c2, s2));
            std::thread::spawn(move || {
                let (mut from, mut to) = (server, client);
                let _ = std::io::copy(&mut from, &mut to);
                let _ = to.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

fn spoil_copy(mut from: std::net::TcpStream, mut to: std::net::TcpStream) {
    use std::io::{Read, Write};
    const FROM: &[u8] = b"COPY (\n";
    let mut buf = [0u8; 16384];
    // The start of a `COPY (` that the last read cut off.
    let mut held: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = to.write_all(&held);
                let _ = to.shutdown(std::net::Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        held.extend_from_slice(&buf[..n]);
        let mut i = 0;
        while i + FROM.len() <= held.len() {
            if &held[i..i + FROM.len()] == FROM {
                held[i + 3] = b'X';
            }
            i += 1;
        }
        // Held back: only an end that could begin a `COPY (`.
        let keep = (1..FROM.len())
            .rev()
            .find(|&k| held.ends_with(&FROM[..k]))
            .unwrap_or(0);
        let send = held.len() - keep;
        if to.write_all(&held[..send]).is_err() {
            return;
        }
        held.drain(..send);
    }
}

/// A server that refuses the COPY: outside a transaction the statement is
/// read as DataRows instead, and the connection serves the next ones; inside
/// one, the refusal has aborted the transaction, so it is the error.
#[test]
fn a_server_that_refuses_copy_gets_the_statement_as_datarows() {
    let url = format!("{}?sslmode=disable", pg_via(copy_refusing_proxy(pg_port())));
    sql(
        &url,
        "sql: ['SELECT current_query()', 'SELECT x FROM generate_series(1, 3) x', 'SELECT 1 / 0']\nautocommit: true\n",
    )
    .run()
    .exit(71)
    .stderr_has("statement 3 of 3 failed: division by zero");
    sql(
        &url,
        "sql: ['SELECT current_query()', 'SELECT x FROM generate_series(1, 3) x']\nautocommit: true\n",
    )
    .run()
    .exit(0)
    .xcom(json!([[["SELECT current_query()"]], [[1], [2], [3]]]));
    sql(&url, "sql: ['SELECT 1', 'SELECT 2']\n")
        .run()
        .exit(71)
        .stderr_has("statement 1 of 2 failed: syntax error at or near \"COPX\"")
        .stderr_has("rolled back: nothing of this task was committed");
}

/// Creates `table` whose inserted rows make COMMIT take `seconds` (a deferred
/// constraint trigger that sleeps).
fn slow_commit_table(url: &str, table: &str, seconds: u32) {
    query(url, &format!("DROP TABLE IF EXISTS {table} CASCADE"));
    query(url, &format!("CREATE TABLE {table} (a int)"));
    query(
        url,
        &format!(
            "CREATE OR REPLACE FUNCTION {table}_sleep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$"
        ),
    );
    query(
        url,
        &format!(
            "CREATE CONSTRAINT TRIGGER {table}_t AFTER INSERT ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {table}_sleep()"
        ),
    );
}

fn wait_until_committing(url: &str) {
    let q = "SELECT count(*) FROM pg_stat_activity WHERE query = 'COMMIT' AND wait_event = 'PgSleep' AND pid <> pg_backend_pid()";
    wait_until("a sleeping COMMIT", || {
        query(url, q)[0][0].as_i64() >= Some(1)
    });
}

/// A COMMIT cannot be cancelled: a SIGTERM that arrives while it runs is
/// logged, and a COMMIT that completes within the grace period is the task's
/// success (its work is committed; a retry would repeat it), XCom included.
#[test]
fn sigterm_during_commit_is_logged_and_a_completed_commit_is_success() {
    let url = pg();
    slow_commit_table(&url, "tr_commit_done", 2);
    let running_task = sql(
        &url,
        "sql: ['INSERT INTO tr_commit_done VALUES (1)', 'SELECT 42']\ngrace_period: 8s\n",
    )
    .spawn(Some("run"));
    wait_until_committing(&url);
    running_task.signal(nix::sys::signal::Signal::SIGTERM);
    let out = running_task.wait();
    out.exit(0)
        .stderr_has("SIGTERM arrived during the final COMMIT")
        .stderr_has("the COMMIT completed after SIGTERM arrived")
        .xcom(json!([null, [[42]]]));
    assert_eq!(
        query(&url, "SELECT count(*) FROM tr_commit_done"),
        json!([[1]])
    );
    query(&url, "DROP TABLE tr_commit_done CASCADE");
}

/// A COMMIT still running when the grace period ends: the run ends with the
/// stop's code and says that the outcome is unknown (never "rolled back").
#[test]
fn a_commit_that_outlasts_the_grace_period_is_reported_as_unknown() {
    let url = pg();
    slow_commit_table(&url, "tr_commit_unknown", 4);
    let running_task = sql(
        &url,
        "sql: ['INSERT INTO tr_commit_unknown VALUES (1)', 'SELECT 42']\ngrace_period: 1s\n",
    )
    .spawn(Some("run"));
    wait_until_committing(&url);
    running_task.signal(nix::sys::signal::Signal::SIGTERM);
    let out = running_task.wait_or_kill_after(Duration::from_secs(2));
    out.exit(143)
        .stderr_has("SIGTERM arrived during the final COMMIT")
        .termination_has("whether the task's work was committed is unknown")
        .stderr_lacks("rolled back")
        .no_xcom();
    // Let the server finish before the table goes.
    std::thread::sleep(Duration::from_secs(4));
    query(&url, "DROP TABLE tr_commit_unknown CASCADE");
}

/// A result that does not fit on the XCom volume fails the task with exit
/// 74 before COMMIT: nothing is committed and no partial file is left. The
/// volume is a 256 KiB tmpfs, half full, in a mount namespace of the run.
#[test]
fn a_result_that_does_not_fit_on_the_volume_commits_nothing() {
    let url = pg();
    query(
        &url,
        "DROP TABLE IF EXISTS tr_full; CREATE TABLE tr_full (a int)",
    );
    let out = sql(
        &url,
        "sql: ['INSERT INTO tr_full VALUES (1)', \"SELECT repeat('x', 1000) FROM generate_series(1, 400)\"]\n",
    )
    .xcom_volume(256, 128)
        .run();
    out.exit(74).stderr_has("No space left on device").no_xcom();
    assert_eq!(query(&url, "SELECT count(*) FROM tr_full"), json!([[0]]));
    query(&url, "DROP TABLE tr_full");
}

/// A SQLite file database with the value kinds whose JSON must not change
/// between readers: NULL, empty and binary blobs, zeroblobs, extreme and
/// negative-zero floats, integers in a REAL column, int64 min/max, text
/// needing escapes, non-ASCII text, and a column with no declared type.
fn sqlite_edge_db(t: &Task) -> String {
    let db = format!("sqlite:///{}", t.dir().join("edge.db").display());
    query(
        &db,
        "CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB, n NUMERIC, a);
         INSERT INTO v VALUES
          (9223372036854775807, 1e308, '', X'', '1.50', NULL),
          (-9223372036854775808, -0.0, 'tab\t\"q\" \\ back/slash', X'00FF10', 12, 1.5),
          (0, 5e-324, 'é 😀 ü ' || char(8232, 65279), X'DEADBEEF', 'abc', 'x'),
          (NULL, 3, char(1, 10, 13, 31, 127), zeroblob(3), 1e20, X'01'),
          (-1, 2.2250738585072014e-308, '<\\u00e9>', NULL, -0.0, 9007199254740993)",
    );
    db
}

/// The XCom bytes for every edge value, as the runner wrote them when rows
/// went through sqlx one by one (main at 234484f): the reader on the raw
/// statement must not change a byte.
#[test]
fn sqlite_edge_values_keep_their_exact_bytes() {
    let t = Task::new();
    let db = sqlite_edge_db(&t);
    let out = sql(
        &db,
        "sql: \"SELECT i, r, t, b, n, a, typeof(a), i + 0.5, 1e308 * 10, -1e308 * 10, 0.1 + 0.2, -0.0, 1.0 / 3, 1 + 1, 'a' || 'b', NULL, x'00', 123456789.125e-300 FROM v ORDER BY rowid\"\n",
    )
    .run();
    out.exit(0);
    let tail = r#""Infinity","-Infinity",0.30000000000000004,-0.0,0.3333333333333333,2,"ab",null,"AA==",1.23456789125e-292]"#;
    let expected = [
        r#"[[9223372036854775807,1e+308,"","",1.5,null,"null",9.223372036854776e+18,"#,
        tail,
        r#",[-9223372036854775808,0.0,"tab\t\"q\" \\ back/slash","AP8Q",12,1.5,"real",-9.223372036854776e+18,"#,
        tail,
        ",[0,5e-324,\"é 😀 ü \u{2028}\u{feff}\",\"3q2+7w==\",\"abc\",\"x\",\"text\",0.5,",
        tail,
        ",[null,3.0,\"\\u0001\\n\\r\\u001f\u{7f}\",\"AAAA\",1e+20,\"AQ==\",\"blob\",null,",
        tail,
        r#",[-1,2.2250738585072014e-308,"<\\u00e9>",null,0,9007199254740993,"integer",-0.5,"#,
        tail,
        "]",
    ]
    .concat();
    assert_eq!(out.xcom.as_deref(), Some(expected.as_str()));
}

/// Enough rows to cross many of the reader's buffers, every byte checked,
/// with text that needs escaping now and then; the same statement with no
/// rows, and only counted (`do_xcom_push: false`).
#[test]
fn sqlite_results_are_whole_across_buffers() {
    let t = Task::new();
    let db = format!("sqlite:///{}", t.dir().join("x.db").display());
    query(&db, "CREATE TABLE t (a)");
    let rows = 100_000;
    let select = format!(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows}) SELECT x, 'r' || x, CASE WHEN x % 1000 = 0 THEN 'q\"' || x END FROM c"
    );
    let out = sql(&db, &format!("sql: {}\n", json!(select))).run();
    out.exit(0).stderr_has(&format!("Rows affected: {rows}"));
    let mut expected = String::from("[");
    for x in 1..=rows {
        if x > 1 {
            expected.push(',');
        }
        if x % 1000 == 0 {
            expected.push_str(&format!("[{x},\"r{x}\",\"q\\\"{x}\"]"));
        } else {
            expected.push_str(&format!("[{x},\"r{x}\",null]"));
        }
    }
    expected.push(']');
    assert!(
        out.xcom.as_deref() == Some(expected.as_str()),
        "the XCom differs"
    );
    sql(
        &db,
        &format!("sql: {}\n", json!(format!("{select} LIMIT 0"))),
    )
    .run()
    .exit(0)
    .xcom(json!([]));
    sql(
        &db,
        &format!("sql: {}\ndo_xcom_push: false\n", json!(select)),
    )
    .run()
    .exit(0)
    .stderr_has(&format!("Rows affected: {rows}"))
    .no_xcom();
}

/// Failures keep sqlx's words: a prepare error, a runtime error after
/// 39,999 rows, text that is not UTF-8 (first row, and mid-stream).
/// Parameters bind as before, on the fast path (bare `?`) and through sqlx
/// (a typeless expression of a bound value, named parameters).
#[test]
fn sqlite_errors_and_parameters_are_unchanged() {
    let t = Task::new();
    let db = sqlite_edge_db(&t);
    let run =
        |sql_text: &str, extra: &str| sql(&db, &format!("sql: {}\n{extra}", json!(sql_text))).run();
    run("SELECT nope FROM v", "")
        .exit(71)
        .stderr_has("SQL statement 1 of 1 failed: no such column: nope [SQLite error code 1]; statement: SELECT nope FROM v");
    let c = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000)";
    run(
        &format!(
            "{c} SELECT x, CASE WHEN x = 40000 THEN abs(-9223372036854775807 - 1) ELSE x END FROM c"
        ),
        "",
    )
    .exit(71)
    .stderr_has(
        "SQL statement 1 of 1 failed: integer overflow [SQLite error code 1]; statement: WITH",
    )
    .no_xcom();
    run("SELECT 'ok', CAST(X'C328' AS TEXT) AS bad", "")
        .exit(71)
        .stderr_has(
            "failed: column `bad`: invalid utf-8 sequence of 1 bytes from index 0; statement:",
        );
    run(
        &format!("{c} SELECT x, CASE WHEN x = 40000 THEN CAST(X'41FF' AS TEXT) ELSE 'fine' END AS t FROM c"),
        "",
    )
    .exit(71)
    .stderr_has("failed: column `t`: invalid utf-8 sequence of 1 bytes from index 1; statement:")
    .no_xcom();
    run(
        "SELECT ?, ? || 'x', ?, ?, ?, typeof(?)",
        "parameters: [1, é, null, 2.5, true, {a: 1}]\n",
    )
    .exit(0)
    .xcom(json!([[1, "éx", null, 2.5, 1, "text"]]));
    run(
        "SELECT :a, :a + 1, %(b)s",
        "parameters: {a: 41, b: [1, 2]}\n",
    )
    .exit(0)
    .xcom(json!([[41, 42, "[1,2]"]]));
    run(
        "SELECT i, b FROM v WHERE i = ? OR t = ?",
        "parameters: [-1, \"\"]\n",
    )
    .exit(0)
    .xcom(json!([[9223372036854775807i64, ""], [-1, null]]));
    run("INSERT INTO v (i) VALUES (7), (8) RETURNING i, i * 2", "")
        .exit(0)
        .xcom(json!([[7, 14], [8, 16]]));
}

/// A count over an endless recursive CTE: one `sqlite3_step` that never
/// returns on its own.
const ENDLESS_STEP: &str =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";

/// `execution_timeout` stops one long `sqlite3_step` at the deadline, with
/// the timeout's code and message, and what the task wrote is rolled back.
#[test]
fn execution_timeout_stops_one_long_sqlite_step() {
    let t = Task::new();
    let db = format!("sqlite:///{}", t.dir().join("x.db").display());
    query(&db, "CREATE TABLE t (a)");
    let started = std::time::Instant::now();
    let out = sql(
        &db,
        &format!(
            "sql: {}\nexecution_timeout: 2s\n",
            json!(["INSERT INTO t VALUES (1)", ENDLESS_STEP])
        ),
    )
    .run();
    let took = started.elapsed();
    out.exit(124)
        .stderr_has("execution_timeout expired: cancelling the running statement")
        .stderr_has("rolled back: nothing of this task was committed")
        .termination_has("timed out after 2s")
        .no_xcom();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "the run took {took:?}"
    );
    assert_eq!(query(&db, "SELECT count(*) FROM t"), json!([[0]]));
}

/// SIGTERM stops one long `sqlite3_step` at once, well inside the grace
/// period, with the stop's code and message, and rolls back.
#[test]
fn sigterm_stops_one_long_sqlite_step() {
    let t = Task::new();
    let db = format!("sqlite:///{}", t.dir().join("x.db").display());
    query(&db, "CREATE TABLE t (a)");
    // Logs on stdout, so the test sees when the long statement starts.
    let running_task = sql(
        &db,
        &format!(
            "sql: {}\ngrace_period: 10s\n",
            json!(["INSERT INTO t VALUES (1)", ENDLESS_STEP])
        ),
    )
    .env("TASK_RUNNER_XCOM_STDOUT", "1")
    .spawn(Some("run"));
    running_task.wait_for_stdout("Running statement 2 of 2");
    std::thread::sleep(Duration::from_millis(500));
    let signalled = std::time::Instant::now();
    running_task.signal(nix::sys::signal::Signal::SIGTERM);
    let out = running_task.wait();
    let took = signalled.elapsed();
    out.exit(143)
        .stdout_has("stopped by SIGTERM: cancelling the running statement")
        .stdout_has("rolled back: nothing of this task was committed")
        .termination_has("stopped by SIGTERM");
    assert!(took < Duration::from_secs(3), "the stop took {took:?}");
    assert_eq!(query(&db, "SELECT count(*) FROM t"), json!([[0]]));
}
