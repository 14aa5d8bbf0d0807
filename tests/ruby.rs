//! Ruby tasks through the shim, with the real `ruby` (TR_RUBY): an Airflow
//! template rendered into the script, the context as a Hash, `ti.xcom_pull`,
//! the script's value as the XCom, and every failure's exit code and message.

use std::path::Path;

use serde_json::{Value, json};

use crate::harness::{Task, context, fixture, test_env};

fn ruby() -> String {
    test_env("TR_RUBY")
}

/// A ruby spec whose `ruby_script` is `script` (indented into a YAML block).
fn spec(script: &str, extra: &str) -> String {
    let indented: String = script.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "operator: ruby\nruby: {}\nruby_script: |\n{indented}{extra}",
        ruby()
    )
}

fn run(script: &str) -> crate::harness::Outcome {
    Task::new().spec(&spec(script, "")).context(context()).run()
}

#[test]
fn fitness_ruby_template_file_returns_its_result_as_the_xcom() {
    // As shipped: `ruby: ruby`, found on PATH like in an image; the script is a
    // template file next to the spec. It also consumes a Python task's XCom.
    let ruby = ruby();
    let dir = Path::new(&ruby).parent().unwrap().display().to_string();
    let mut ctx = context();
    ctx["xcom"] = json!([
        {"task_id": "extract", "value": [1, 2, 3]},
        {"task_id": "daily_sales", "value": {"total": 300.0}},
    ]);
    let config = fixture("ruby/sales_report.yaml").display().to_string();
    let out = Task::new()
        .args(&["--config", &config])
        .env("PATH", &format!("{dir}:{}", std::env::var("PATH").unwrap()))
        .context(ctx)
        .run();
    out.exit(0)
        .stdout_has("sales report for EMEA on 2024-06-01 (try 2)")
        .xcom(json!({
            "day": "2024-06-01", "window": "2024-05-26..2024-06-01", "region": "EMEA",
            "currency": "EUR", "month": "2024-06", "full_refresh": true, "rows": 6,
            "python_total": 300.0, "argv": ["20240601", "7"], "label": "Zürich ✓ 2024-06-01",
            "checksum": 1180591620717411303427_f64
        }));
    let text = out.xcom.as_deref().unwrap();
    assert!(text.contains("1180591620717411303427"), "exact: {text}");
    assert!(text.contains("Zürich ✓"), "raw UTF-8: {text}");
}

#[test]
fn the_script_sees_the_context_as_a_hash() {
    run(r#"{
  'ds' => context['ds'], 'ts' => context['ts'], 'time' => context['logical_date'].utc?,
  'iso' => context['data_interval_end'].strftime('%FT%T%:z'),
  'region' => params['region'],
  'ti' => [ti.dag_id, ti.task_id, ti.try_number, ti.map_index],
  'same_ti' => context['task_instance'].equal?(ti),
  'conf' => dag_run.conf, 'run_type' => dag_run.run_type,
  'dag' => context['dag'].dag_id, 'task' => context['task']['task_id'],
  'key' => context['task_instance_key_str'], 'file' => __FILE__
}"#)
    .exit(0)
    .xcom(json!({
        "ds": "2024-06-01", "ts": "2024-06-01T00:00:00+00:00", "time": true,
        "iso": "2024-06-02T00:00:00+00:00", "region": "emea",
        "ti": ["sales", "load", 2, -1], "same_ti": true, "conf": {"full_refresh": true},
        "run_type": "scheduled", "dag": "sales", "task": "load",
        "key": "sales__load__20240601", "file": "<inline>"
    }));
}

#[test]
fn templates_render_before_ruby_runs_and_args_become_argv() {
    Task::new()
        .spec(&spec(
            "day = '{{ ds }}'\n[day, '{{ ti.xcom_pull(task_ids=\"extract\") }}', ARGV]",
            "args: ['{{ ds_nodash }}', 3, {a: 1}]\n",
        ))
        .context(context())
        .run()
        .exit(0)
        .xcom(json!([
            "2024-06-01",
            "[1, 2, 3]",
            ["20240601", "3", "{\"a\":1}"]
        ]));
}

#[test]
fn upstream_xcoms_reach_the_script() {
    let mut ctx = context();
    ctx["xcom"] = json!([
        {"task_id": "extract", "value": {"rows": 3}},
        {"task_id": "extract", "key": "row_count", "value": 3},
        {"task_id": "fan", "value": "f1", "map_index": 1},
        {"task_id": "fan", "value": "f0", "map_index": 0},
    ]);
    Task::new()
        .spec(&spec(
            "[ti.xcom_pull(task_ids: 'extract'), ti.xcom_pull('extract', key: 'row_count'),\n ti.xcom_pull(task_ids: 'fan'), ti.xcom_pull(task_ids: 'nope', default: 'fallback')]",
            "",
        ))
        .context(ctx)
        .run()
        .exit(0)
        .xcom(json!([{"rows": 3}, 3, ["f0", "f1"], "fallback"]));
}

#[test]
fn xcom_return_and_nil() {
    run("def helper\n  xcom_return({'early' => true})\nend\nhelper\nraise 'not reached'")
        .exit(0)
        .xcom(json!({"early": true}));
    run("return 42 if true\n0").exit(0).xcom(json!(42));
    run("puts 'only output'")
        .exit(0)
        .stdout_has("only output")
        .no_xcom();
    Task::new()
        .spec(&spec("[1, 2]", "do_xcom_push: false\n"))
        .context(context())
        .run()
        .exit(0)
        .no_xcom();
}

#[test]
fn output_is_forwarded_in_order() {
    run("puts 'one'\nwarn 'two'\nputs 'three ✓'\n'value'")
        .exit(0)
        .stdout_has("one\ntwo\nthree ✓\n")
        .xcom(json!("value"));
}

#[test]
fn env_is_applied() {
    Task::new()
        .spec(&spec(
            "[ENV['MY_VAR'], ENV['AIRFLOW_CTX_DAG_ID'], Dir.pwd == ENV['HOME']]",
            "env: {MY_VAR: '{{ ds }}'}\nappend_env: true\n",
        ))
        .context(context())
        .run()
        .exit(0)
        .xcom(json!(["2024-06-01", "sales", true]));
}

#[test]
fn an_exception_is_exit_1_with_backtrace_and_summary() {
    run("def load(day)\n  raise ArgumentError, \"no sales for #{day} ✗\"\nend\nputs 'starting'\nload(context['ds'])")
        .exit(1)
        .stdout_has("starting\n")
        .stdout_has("<inline>:2:in")
        .stdout_has("no sales for 2024-06-01 ✗ (ArgumentError)")
        .termination_has("Ruby script failed (exit code 1): ArgumentError: no sales for 2024-06-01 ✗")
        .no_xcom();
}

#[test]
fn a_syntax_error_is_a_load_error() {
    run("def broken(\n  1 +\n")
        .exit(75)
        .stderr_has(
            "failed to load the task's code: SyntaxError: cannot compile ruby_script `<inline>`",
        )
        .termination_has("SyntaxError")
        .no_xcom();
}

#[test]
fn a_value_json_cannot_hold_is_73_naming_its_class() {
    for (script, message) in [
        (
            "require 'set'\n{'a' => [Set[1]]}",
            "return value of type `Set` is not JSON serializable (at `$.a[0]`)",
        ),
        ("1..3", "return value of type `Range`"),
        ("Float::NAN", "NaN"),
    ] {
        run(script)
            .exit(73)
            .stderr_has("the return value cannot be pushed as an XCom")
            .stderr_has(message)
            .termination_has(message)
            .no_xcom();
    }
}

#[test]
fn exit_codes_pass_through_and_99_skips() {
    Task::new()
        .spec(&spec("exit 99", "skip_on_exit_code: [99]\n"))
        .context(context())
        .run()
        .exit(99)
        .stderr_has("the task is skipped")
        .no_xcom();
    for code in [3, 4, 5, 42] {
        run(&format!("puts 'leaving'\nexit {code}"))
            .exit(code)
            .stdout_has("leaving")
            .termination_has(&format!("non-zero exit code {code}"))
            .no_xcom();
    }
    run("exit").exit(0).no_xcom();
    run("abort('giving up')")
        .exit(1)
        .stdout_has("giving up")
        .termination_has("SystemExit: giving up");
}

#[test]
fn secrets_printed_or_raised_by_the_script_are_masked() {
    Task::new()
        .spec(&spec(
            "pw = '{{ conn.warehouse.password }}'\nputs \"connecting with #{pw}\"\nraise \"login refused for #{pw}\"",
            "",
        ))
        .context(context())
        .run()
        .exit(1)
        .stdout_has("connecting with ***")
        .termination_has("RuntimeError: login refused for ***")
        .never_shows("Wh-Pass-123");
}

#[test]
fn a_missing_ruby_is_127() {
    Task::new()
        .spec("operator: ruby\nruby: /nonexistent/ruby\nruby_script: '1'\n")
        .context(context())
        .run()
        .exit(127)
        .stderr_has("failed to start `/nonexistent/ruby`")
        .no_xcom();
}

#[test]
fn values_keep_their_exact_json_shape() {
    let out = run(
        "require 'bigdecimal'\n{big: 2**100, dec: BigDecimal('1.10'), f: 0.1, sym: :abc, t: context['logical_date'], 1 => nil, 'u' => 'Zürich ✓ 日本'}",
    );
    out.exit(0);
    let text = out.xcom.as_deref().unwrap();
    for exact in [
        "1267650600228229401496703205376",
        "\"dec\": 1.1",
        "\"f\": 0.1",
        "\"sym\": \"abc\"",
        "\"t\": \"2024-06-01T00:00:00+00:00\"",
        "\"1\": null",
        "Zürich ✓ 日本",
    ] {
        assert!(text.contains(exact), "{exact} not in {text}");
    }
    let _: Value = serde_json::from_str(text).unwrap();
}

#[test]
fn a_template_file_names_itself_in_backtraces() {
    Task::new()
        .spec(&format!(
            "operator: ruby\nruby: {}\nruby_script: failing.rb\n",
            ruby()
        ))
        .file("failing.rb", "# {{ ds }}\nraise 'boom on ' + '{{ ds }}'\n")
        .context(context())
        .run()
        .exit(1)
        .stdout_has("failing.rb:2")
        .termination_has("boom on 2024-06-01");
}
