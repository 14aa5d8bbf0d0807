//! What each fuzz target runs: the runner's own entry points for an input
//! (the functions `task-runner` itself calls, with its default limits), and
//! the invariants every outcome must keep. A panic, an abort, a hang or an
//! allocation past the limits is a finding; an input the runner refuses is
//! not, as long as the refusal is a well-formed error with the exit code the
//! README documents for that stage.
//!
//! Each function returns `Ok(summary)` or `Err(message)` so that
//! `tests/fuzz_regressions.rs`, which includes this file, runs every kept
//! input through exactly the code the fuzzer ran.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use serde_json::{Map, Value, json};
use task_runner::connection::Connection;
use task_runner::context::{Context, DateTime, Overrides, Payload};
use task_runner::environ::Environ;
use task_runner::error::{Error, exit_code};
use task_runner::limits::DEFAULT_MAX_PAYLOAD_BYTES;
use task_runner::spec::source::{self, CONTEXT_ENV, CONTEXT_FILE_ENV, SPEC_ENV, SPEC_FILE_ENV};
use task_runner::sql_params::{self as params, PgParam};
use task_runner::sql_split::{self as split, Dialect, Style};
use task_runner::store::Store;
use task_runner::template::Renderer;
use task_runner::template::budget::Limits;

/// How a fuzzed document reaches the runner, chosen by the input's first
/// byte: the encodings `spec::source` detects, through the sources the
/// binary reads (a `--config`/`--context` file, the env var, the `_FILE` env var).
#[derive(Debug, Clone, Copy)]
enum Delivery {
    /// The bytes as a file named on the command line (any bytes, UTF-8 or not).
    File,
    /// The text in the env var (lossy UTF-8, as an env var is text).
    EnvRaw,
    /// Base64 of the bytes in the env var: a gzip stream among them is inflated.
    EnvBase64,
    /// Base64 of gzip of the bytes in the env var, as `task-runner encode` prints.
    EnvBase64Gzip,
    /// Base64 of gzip of the bytes in the file the `_FILE` env var names.
    FileEnvBase64Gzip,
}

impl Delivery {
    fn of(selector: u8) -> Delivery {
        match selector % 5 {
            0 => Delivery::File,
            1 => Delivery::EnvRaw,
            2 => Delivery::EnvBase64,
            3 => Delivery::EnvBase64Gzip,
            _ => Delivery::FileEnvBase64Gzip,
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip into a Vec");
    gz.finish().expect("gzip into a Vec")
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(bytes).expect("write temp file");
    file
}

/// Loads a document as `lib::spec_document` / `lib::context_document` do:
/// `source::load_with_file` with the default 64 MiB cap.
fn load_document(
    data: &[u8],
    file_env: &str,
    env_name: &str,
    what: &'static str,
) -> Result<Option<source::Document>, Error> {
    let Some((&selector, body)) = data.split_first() else {
        return Ok(None);
    };
    let max = DEFAULT_MAX_PAYLOAD_BYTES;
    match Delivery::of(selector) {
        Delivery::File => {
            let file = temp_file(body);
            source::load_with_file(
                Some(file.path()),
                (file_env, None),
                env_name,
                None,
                what,
                max,
            )
        }
        Delivery::FileEnvBase64Gzip => {
            let file = temp_file(base64(&gzip(body)).as_bytes());
            let path = file.path().to_str().expect("temp path is UTF-8");
            source::load_with_file(None, (file_env, Some(path)), env_name, None, what, max)
        }
        env => {
            let value = match env {
                Delivery::EnvBase64 => base64(body),
                Delivery::EnvBase64Gzip => base64(&gzip(body)),
                _ => String::from_utf8_lossy(body).into_owned(),
            };
            source::load_with_file(None, (file_env, None), env_name, Some(&value), what, max)
        }
    }
}

/// A refusal must be a message, not an empty string, and carry the exit
/// code of its stage.
#[track_caller]
fn refused(e: &Error, stage: &str, codes: &[u8]) -> String {
    let message = e.chain();
    assert!(
        !message.trim().is_empty(),
        "{stage}: an empty error message"
    );
    assert!(
        codes.contains(&e.exit_code()),
        "{stage}: exit {} ({}) is not one of {codes:?}: {message}",
        e.exit_code(),
        e.kind()
    );
    message
}

/// `spec_load`: the spec as YAML/JSON text from every source and encoding,
/// then `spec::parse` (serde mirror, validation into the typed spec).
/// Refusals are exit 65 (invalid spec) or 66 (unreadable input).
pub fn spec_load(data: &[u8]) -> Result<String, String> {
    let codes = [exit_code::SPEC, exit_code::NO_INPUT];
    let doc = match load_document(data, SPEC_FILE_ENV, SPEC_ENV, "spec file") {
        Ok(Some(doc)) => doc,
        Ok(None) => return Err("no spec".into()),
        Err(e) => return Err(refused(&e, "spec source", &codes)),
    };
    assert!(doc.text.len() as u64 <= DEFAULT_MAX_PAYLOAD_BYTES);
    match task_runner::spec::parse(&doc) {
        Ok(spec) => {
            // The typed spec prints back (`task-runner validate`).
            let printed = spec.to_json();
            Ok(format!("{} task: {printed}", spec.operator.name()))
        }
        Err(e) => Err(refused(&e, "spec parse", &codes)),
    }
}

/// The date a run without one falls back to (fixed, so runs repeat).
fn today() -> DateTime {
    DateTime::parse("2024-06-01T00:00:00+00:00").expect("a fixed date")
}

/// Templates that read every part of the context a payload can set.
const CONTEXT_PROBES: &[&str] = &[
    "{{ ds }} {{ ts }} {{ logical_date }} {{ data_interval_start }} {{ data_interval_end }}",
    "{{ prev_ds }} {{ next_ds }} {{ yesterday_ds }} {{ tomorrow_ds }} {{ prev_execution_date }}",
    "{{ prev_data_interval_start_success }} {{ prev_start_date_success }} {{ run_id }} {{ dag_run.run_type }}",
    "{{ params | tojson }} {{ dag_run.conf | tojson }} {{ ti.try_number }} {{ ti.map_index }}",
    "{{ ti.xcom_pull(task_ids='extract') | tojson }} {{ ti.xcom_pull(task_ids=['extract', 'x'], key='k') }}",
    "{{ var.value.threshold }} {{ var.json.settings }} {{ conn.warehouse.host }} {{ conn.warehouse.extra_dejson }}",
    "{{ task_instance_key_str }} {{ ts_nodash_with_tz }} {{ dag.dag_id }} {{ task.task_id }} {{ macros.ds_add(ds, 1) }}",
];

/// `context_payload`: the context payload from every source and encoding,
/// `Payload::parse`, `Context::build`, the store of its connections and
/// variables (whose secrets the masker learns), and templates reading it.
/// Refusals before rendering are exit 72 (or 66: unreadable input), as
/// `lib::load` maps them.
pub fn context_payload(data: &[u8]) -> Result<String, String> {
    let codes = [exit_code::CONTEXT, exit_code::NO_INPUT];
    let doc = match load_document(data, CONTEXT_FILE_ENV, CONTEXT_ENV, "context file") {
        Ok(Some(doc)) => doc,
        Ok(None) => return Err("no context".into()),
        Err(Error::SpecDecode { origin, message }) => {
            return Err(refused(
                &Error::Context { origin, message },
                "context source",
                &codes,
            ));
        }
        Err(e) => return Err(refused(&e, "context source", &codes)),
    };
    let payload = Payload::parse(&doc).map_err(|e| refused(&e, "payload", &codes))?;
    let store = Store::new(
        &Environ::default(),
        payload.connections.clone(),
        payload.variables.clone(),
        payload.sensitive_names.clone(),
    )
    .map_err(|e| refused(&e, "store", &codes))?;
    let _ = store.secrets();
    let context = Context::build(
        payload,
        Overrides {
            today: Some(today()),
            origin: &doc.origin,
            ..Overrides::default()
        },
    )
    .map_err(|e| refused(&e, "context", &codes))?;
    let _ = context.airflow_ctx_env();
    let renderer = Renderer::new(&context, Arc::new(store), vec![], false, "BashOperator")
        .with_limits(Limits::default());
    let rendered = on_render_thread(|| probe_context(&renderer));
    Ok(format!(
        "context with {} keys, {rendered} probes rendered",
        context.date_strings().len()
    ))
}

fn probe_context(renderer: &Renderer) -> usize {
    let mut rendered = 0;
    for (i, probe) in CONTEXT_PROBES.iter().enumerate() {
        // A probe may fail on a payload without that key: that is a
        // template error (67) or a bad connection (68), never anything else.
        match renderer.render_source(&format!("probe{i}"), probe) {
            Ok(_) => rendered += 1,
            Err(e) => {
                refused(
                    &e,
                    "context probe",
                    &[exit_code::TEMPLATE, exit_code::CONNECTION],
                );
            }
        }
    }
    rendered
}

/// `connection`: an `AIRFLOW_CONN_*` value, in the form the first byte
/// picks (auto-detected as Airflow does, URI, or JSON), then everything the
/// runner derives from a parsed connection.
pub fn connection(data: &[u8]) -> Result<String, String> {
    let Some((&selector, body)) = data.split_first() else {
        return Err("empty input".into());
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return Err("not UTF-8 (an env value is text)".into());
    };
    let parsed = match selector % 3 {
        0 => Connection::parse("fuzz", text),
        1 => Connection::from_uri("fuzz", text),
        _ => Connection::from_json("fuzz", text),
    };
    let conn = match parsed {
        Ok(conn) => conn,
        Err(e) => {
            let message = e.to_string();
            assert!(!message.trim().is_empty(), "an empty connection error");
            return Err(message);
        }
    };
    let uri = conn.get_uri();
    let _ = conn.extra_dejson();
    let secrets = conn.secrets();
    let shown = format!("{conn:?}");
    // A password is a secret the masker learns.
    if let Some(password) = conn.password.as_deref().filter(|p| !p.is_empty()) {
        assert!(
            secrets.iter().any(|s| s == password),
            "the password is not among the secrets"
        );
    }
    // The URI the runner hands on (`get_uri`) parses back.
    let again = Connection::parse("fuzz", &uri);
    Ok(format!("{shown} -> {uri} (reparses: {})", again.is_ok()))
}

/// The render thread's stack, as `lib::render_interruptible` gives it (16
/// MiB, for minijinja's recursion limit of 500): a test thread's 2 MiB or
/// libFuzzer's main thread would overflow where the runner does not.
const RENDER_STACK: usize = 16 << 20;

/// Runs `f` on a thread with the render thread's stack; a panic in it
/// carries on into the caller (the fuzzer's crash, the test's failure).
fn on_render_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("render".into())
            .stack_size(RENDER_STACK)
            .spawn_scoped(scope, f)
            .expect("a render thread");
        match handle.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The fixed context templates render against: the integration tests'
/// shared payload.
fn render_context() -> (Context, Store) {
    let payload: Payload = serde_json::from_value(json!({
        "dag_id": "sales",
        "task_id": "load",
        "run_id": "scheduled__2024-06-01T00:00:00+00:00",
        "logical_date": "2024-06-01T00:00:00+00:00",
        "data_interval_start": "2024-06-01T00:00:00+00:00",
        "data_interval_end": "2024-06-02T00:00:00+00:00",
        "try_number": 2,
        "map_index": -1,
        "owner": "data-eng",
        "params": {"region": "emea", "regions": ["emea", "apac"], "n": 3},
        "dag_run_conf": {"full_refresh": true},
        "xcom": [{"task_id": "extract", "key": "return_value", "value": [1, 2, 3]}],
        "connections": {"warehouse": "postgres://etl:Wh-Pass-123@db.internal:5432/dw"},
        "variables": {"threshold": "0.85", "settings": "{\"a\": [1, 2]}"}
    }))
    .expect("the fixed payload");
    let store = Store::new(
        &Environ::default(),
        payload.connections.clone(),
        payload.variables.clone(),
        vec![],
    )
    .expect("the fixed store");
    let context = Context::build(
        payload,
        Overrides {
            today: Some(today()),
            origin: "fuzz",
            ..Overrides::default()
        },
    )
    .expect("the fixed context");
    (context, store)
}

/// `render`: a template (the input after its first byte, whose low bit asks
/// for native rendering) rendered as one field, as `Renderer::render_operator`
/// renders a string field, under the default budget (64 MiB, 50M steps).
/// Refusals are exit 67 (a template error or the budget) or 68 (a
/// connection the template asked for); a panic in the engine is a finding.
pub fn render(data: &[u8]) -> Result<String, String> {
    let Some((&flags, body)) = data.split_first() else {
        return Err("empty input".into());
    };
    let Ok(template) = std::str::from_utf8(body) else {
        return Err("not UTF-8 (a spec field is text)".into());
    };
    let native = flags & 1 == 1;
    on_render_thread(|| render_template(template, native))
}

fn render_template(template: &str, native: bool) -> Result<String, String> {
    let (context, store) = render_context();
    let limits = Limits::default();
    let renderer = Renderer::new(
        &context,
        Arc::new(store),
        vec![],
        native,
        "SQLExecuteQueryOperator",
    )
    .with_limits(limits);
    match renderer.render_source("sql", template) {
        Ok(value) => {
            if let Value::String(s) = &value {
                assert!(
                    s.len() <= limits.max_bytes,
                    "a field rendered {} bytes, over the budget",
                    s.len()
                );
            }
            Ok(format!("rendered {} bytes", value.to_string().len()))
        }
        Err(e) => Err(refused(
            &e,
            "render",
            &[exit_code::TEMPLATE, exit_code::CONNECTION],
        )),
    }
}

/// The PostgreSQL types a parameter may be typed as, resolved as the
/// server's description of a prepared statement resolves them (sqlx's own
/// builtin types; an unresolved `PgTypeInfo::with_oid` is not a type the
/// runner can be given). `numeric` has no sqlx type without a decimal crate:
/// `params::encode_numeric` is called directly.
fn pg_types() -> Vec<sqlx::postgres::PgTypeInfo> {
    use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Utc};
    use sqlx::postgres::types::Oid;
    use sqlx::{Postgres, Type};
    vec![
        <bool as Type<Postgres>>::type_info(),
        <i16 as Type<Postgres>>::type_info(),
        <i32 as Type<Postgres>>::type_info(),
        <i64 as Type<Postgres>>::type_info(),
        <f32 as Type<Postgres>>::type_info(),
        <f64 as Type<Postgres>>::type_info(),
        <Oid as Type<Postgres>>::type_info(),
        <String as Type<Postgres>>::type_info(),
        <Vec<u8> as Type<Postgres>>::type_info(),
        <NaiveDate as Type<Postgres>>::type_info(),
        <NaiveTime as Type<Postgres>>::type_info(),
        <NaiveDateTime as Type<Postgres>>::type_info(),
        <chrono::DateTime<Utc> as Type<Postgres>>::type_info(),
        <Vec<bool> as Type<Postgres>>::type_info(),
        <Vec<i32> as Type<Postgres>>::type_info(),
        <Vec<f64> as Type<Postgres>>::type_info(),
        <Vec<String> as Type<Postgres>>::type_info(),
        <Vec<NaiveDate> as Type<Postgres>>::type_info(),
        <Vec<chrono::DateTime<Utc>> as Type<Postgres>>::type_info(),
    ]
}

/// `sql_split`: a script split into statements and each statement's
/// placeholders bound, for the dialect and parameter style the first byte
/// picks; with its high bit set instead, the input is a parameter value
/// (JSON, else a string) encoded for every PostgreSQL type and for MySQL and
/// SQLite. Refusals are messages.
pub fn sql_split(data: &[u8]) -> Result<String, String> {
    let Some((&selector, body)) = data.split_first() else {
        return Err("empty input".into());
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return Err("not UTF-8 (SQL is text)".into());
    };
    if selector & 0x80 != 0 {
        return encode_parameter(text);
    }
    let dialect = match selector % 3 {
        0 => Dialect::Postgres,
        1 => Dialect::MySql,
        _ => Dialect::Sqlite,
    };
    let mut named = Map::new();
    for name in ["a", "b", "day", "region"] {
        named.insert(name.into(), Value::from(1));
    }
    let style = match (selector / 3) % 3 {
        0 => Style::None,
        1 => Style::Named(&named),
        _ => Style::Positional {
            offset: usize::from(selector / 9 % 4),
        },
    };
    let statements = split::split(text, dialect);
    let mut markers = 0;
    let mut refused = 0;
    for statement in &statements {
        assert!(!statement.is_empty(), "an empty statement");
        assert_eq!(statement, statement.trim(), "an untrimmed statement");
        assert!(
            text.contains(statement.as_str()),
            "a statement not in the script"
        );
        match split::bind(statement, dialect, style) {
            Ok(bound) => {
                if matches!(style, Style::None) {
                    assert_eq!(&bound.sql, statement, "SQL without parameters is changed");
                }
                markers += bound.params.len();
            }
            Err(message) => {
                assert!(!message.trim().is_empty(), "an empty bind error");
                refused += 1;
            }
        }
    }
    Ok(format!(
        "{} statements, {markers} markers, {refused} refused",
        statements.len()
    ))
}

fn encode_parameter(text: &str) -> Result<String, String> {
    use sqlx::Arguments;
    let value = serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::from(text));
    let mut encoded = 0;
    for ty in pg_types() {
        if PgParam::encode(&ty, &value).is_ok() {
            encoded += 1;
        }
    }
    let numeric = match params::encode_numeric(text) {
        Some(_) => "encoded",
        None => "refused",
    };
    let mut mysql = sqlx::mysql::MySqlArguments::default();
    params::add_mysql(&mut mysql, &value).map_err(|e| e.to_string())?;
    let mut sqlite = sqlx::sqlite::SqliteArguments::default();
    params::add_sqlite(&mut sqlite, &value).map_err(|e| e.to_string())?;
    assert_eq!(mysql.len(), 1);
    assert_eq!(sqlite.len(), 1);
    Ok(format!(
        "encoded for {encoded} PostgreSQL types, as numeric: {numeric}"
    ))
}

/// What a target runs: one input to a summary or a refusal.
pub type Target = fn(&[u8]) -> Result<String, String>;

/// A target by its name (the folder of its kept inputs, `tests/fuzz_regressions/<target>/`).
pub fn target(name: &str) -> Option<Target> {
    Some(match name {
        "spec_load" => spec_load,
        "context_payload" => context_payload,
        "connection" => connection,
        "render" => render,
        "sql_split" => sql_split,
        _ => return None,
    })
}

/// Whether `path` is a file to run (not a README or hidden file).
pub fn is_input(path: &Path) -> bool {
    path.is_file()
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.starts_with('.') && n != "README.md")
}
