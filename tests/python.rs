//! Python tasks through the shim, with the real `python3` and `python2.7`
//! (TR_PYTHON3, TR_PYTHON27): callables from modules and from `python_source`,
//! the context by signature, XComs in and out, every failure's exit code and
//! message, and the fitness tests as chained runs (fixtures/python/).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{Value, json};

use crate::harness::{Task, context, fixture, test_env};

fn py3() -> String {
    test_env("TR_PYTHON3")
}

fn py27() -> String {
    test_env("TR_PYTHON27")
}

/// Both interpreters, for tests that must hold on each.
fn pythons() -> [String; 2] {
    [py3(), py27()]
}

/// A python spec for `python` with the rest of the YAML in `body`.
fn spec(python: &str, body: &str) -> String {
    format!("operator: python\npython: {python}\n{body}")
}

/// A spec whose `python_source` is `source` (indented into a YAML block).
fn source_spec(python: &str, callable: &str, source: &str, extra: &str) -> String {
    let indented: String = source.lines().map(|l| format!("  {l}\n")).collect();
    spec(
        python,
        &format!("python_callable: {callable}\npython_source: |\n{indented}{extra}"),
    )
}

/// `PATH` with the folder of `interpreter` first, so fixture specs can name
/// `python3` / `python2.7` as an image would.
fn path_with(interpreter: &str) -> String {
    let dir = Path::new(interpreter).parent().expect("interpreter folder");
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn include() -> String {
    fixture("python/include").display().to_string()
}

/// Runs a fixture spec as it ships, with `interpreter`'s folder on `PATH`.
fn fixture_task(rel: &str, interpreter: &str) -> Task {
    let config = fixture(rel).display().to_string();
    Task::new()
        .args(&["--config", &config])
        .env("PATH", &path_with(interpreter))
}

fn xcom_of(out: &crate::harness::Outcome) -> Value {
    serde_json::from_str(out.xcom.as_deref().expect("an XCom")).expect("XCom is JSON")
}

// ---------------------------------------------------------------------------
// The fitness tests, end to end.

/// Task C's context as the Airflow side would send it: the upstream
/// `return.json` files spliced in byte for byte, not re-encoded.
fn context_with_raw_xcoms(entries: &[(&str, &str)]) -> String {
    let mut c = context();
    c["xcom"] = Value::Array(
        entries
            .iter()
            .map(|(task_id, _)| json!({"task_id": task_id, "value": format!("@{task_id}@")}))
            .collect(),
    );
    let mut text = c.to_string();
    for (task_id, raw) in entries {
        text = text.replace(&format!("\"@{task_id}@\""), raw);
    }
    text
}

#[test]
fn fitness_python3_and_python27_agree_through_xcoms() {
    // Task A (python3) and task B (python2.7): the same DAG-side function,
    // templates and include folder; each writes its own return.json.
    let a = fixture_task("python/daily_sales.yaml", &py3())
        .context(context())
        .run();
    a.exit(0)
        .stdout_has("building the emea report for 2024-06-01")
        .xcom(json!({
            "day": "2024-06-01", "region": "emea", "orders": 3, "total": 300.00,
            "average": 100.0, "label": "Zürich ✓ 2024-06-01",
            "checksum": 4611686018427387907_u64, "month": "2024-06",
            "window": "2024-05-26..2024-06-01", "upstream_rows": 6
        }));
    let b = fixture_task("python/daily_sales_py27.yaml", &py27())
        .context(context())
        .run();
    b.exit(0)
        .stdout_has("building the emea report for 2024-06-01");
    let (a_text, b_text) = (a.xcom.clone().unwrap(), b.xcom.clone().unwrap());
    // Exact digits in both files: a Decimal and an integer no float can hold.
    for text in [&a_text, &b_text] {
        assert!(text.contains("\"total\": 300.00"), "{text}");
        assert!(text.contains("4611686018427387907"), "{text}");
        assert!(text.contains("Zürich ✓"), "raw UTF-8, not escapes: {text}");
    }
    assert_eq!(xcom_of(&a), xcom_of(&b), "python3 vs python2.7 results");

    // Task C gets both through its context's `xcom` list.
    let c = |b_text: &str| {
        let ctx = context_with_raw_xcoms(&[("daily_sales", &a_text), ("daily_sales_py27", b_text)]);
        let t = fixture_task("python/compare.yaml", &py3()).file("context.json", &ctx);
        let path = t.dir().join("context.json").display().to_string();
        t.args(&["--context", &path]).run()
    };
    let out = c(&b_text);
    out.exit(0).stdout_has("python3 and python2.7 agree").xcom(
        json!({"match": true, "differ": [], "total": 300.0, "checksum": 4611686018427387907_u64}),
    );
    assert!(out.xcom.as_deref().unwrap().contains("4611686018427387907"));
    // And notices when they do not.
    let changed = b_text.replace("\"orders\": 3", "\"orders\": 4");
    assert_ne!(changed, b_text);
    c(&changed)
        .exit(0)
        .stdout_has("differ on ['orders']")
        .xcom(json!({"match": false, "differ": ["orders"], "total": 300.0, "checksum": 4611686018427387907_u64}));
}

#[test]
fn fitness_compare_fails_clearly_without_its_upstream_xcoms() {
    fixture_task("python/compare.yaml", &py3())
        .context(context())
        .run()
        .exit(1)
        .termination_has(
            "Python callable failed (exit code 1): ValueError: missing upstream result",
        );
}

// ---------------------------------------------------------------------------
// Loading the callable.

#[test]
fn module_callable_from_python_path_with_rendered_templates() {
    for python in pythons() {
        Task::new()
            .spec(&spec(
                &python,
                &format!(
                    "python_callable: sales.tasks:daily_report\npython_path: ['{}']\n\
                     op_args: ['{{{{ params.region }}}}']\n\
                     op_kwargs: {{multiplier: 2}}\n\
                     templates_dict: {{day: '{{{{ ds }}}}', note: '{{{{ ti.xcom_pull(task_ids=\"extract\") }}}} on {{{{ dag_run.conf.full_refresh }}}}'}}\n",
                    include()
                ),
            ))
            .context(context())
            .run()
            .exit(0)
            .stdout_has("report for 2024-06-01 in emea (try 2)")
            .xcom(json!({
                "day": "2024-06-01", "region": "emea", "orders": 3, "total": 300.00,
                "average": 100.0, "label": "Zürich ✓ 2024-06-01",
                "checksum": 4611686018427387907_u64,
                // `ti.xcom_pull` in a template renders Python's str() of the value.
                "note": "[1, 2, 3] on True",
                "upstream": [1, 2, 3], "scaled_orders": 6
            }));
    }
}

#[test]
fn dotted_callable_and_attribute_paths_resolve() {
    for callable in ["sales.tasks.needs_two", "sales.tasks:needs_two"] {
        Task::new()
            .spec(&spec(
                &py3(),
                &format!(
                    "python_callable: {callable}\npython_path: ['{}']\nop_args: [40, 2]\n",
                    include()
                ),
            ))
            .context(context())
            .run()
            .exit(0)
            .xcom(json!(42));
    }
    Task::new()
        .spec(&spec(
            &py27(),
            &format!(
                "python_callable: sales.tasks:Helpers.double\npython_path: ['{}']\nop_args: [21]\n",
                include()
            ),
        ))
        .context(context())
        .run()
        .exit(0)
        .xcom(json!(42));
}

#[test]
fn python_path_is_relative_to_the_spec_folder() {
    // The spec lives in the task's temp dir, next to its own include folder.
    Task::new()
        .file("include/helpers/__init__.py", "")
        .file(
            "include/helpers/mathx.py",
            "def triple(x):\n    return 3 * x\n",
        )
        .spec(&spec(
            &py3(),
            "python_callable: helpers.mathx:triple\npython_path: [include]\nop_args: [14]\n",
        ))
        .context(context())
        .run()
        .exit(0)
        .xcom(json!(42));
}

#[test]
fn load_failures_are_exit_75_with_a_clear_message() {
    let inc = include();
    let cases: Vec<(String, &str)> = vec![
        (
            format!("python_callable: sales.nope:fn\npython_path: ['{inc}']\n"),
            "cannot import `sales.nope` for python_callable `sales.nope:fn`",
        ),
        (
            format!("python_callable: sales.broken:oops\npython_path: ['{inc}']\n"),
            "SyntaxError",
        ),
        (
            format!("python_callable: sales.raises_on_import:fn\npython_path: ['{inc}']\n"),
            "RuntimeError: cannot import `sales.raises_on_import`",
        ),
        (
            format!("python_callable: sales.tasks:missing\npython_path: ['{inc}']\n"),
            "AttributeError: module `sales.tasks` has no attribute `missing`",
        ),
        (
            format!("python_callable: sales.tasks:NOT_CALLABLE\npython_path: ['{inc}']\n"),
            "TypeError: python_callable `sales.tasks:NOT_CALLABLE` is not callable",
        ),
        (
            format!(
                "python_callable: sales.tasks:needs_two\npython_path: ['{inc}']\nop_args: [1]\n"
            ),
            "TypeError: cannot call python_callable `sales.tasks:needs_two`",
        ),
        (
            "python_callable: fn\npython_source: |\n  def fn(:\n    pass\n".into(),
            "SyntaxError: cannot compile python_source for python_callable `fn`",
        ),
        (
            "python_callable: other\npython_source: |\n  def fn():\n    pass\n".into(),
            "AttributeError: python_source has no attribute `other`",
        ),
        (
            "python_callable: bare_name\n".into(),
            "must look like `package.module:function`",
        ),
        (
            // Airflow's own check (KeywordParameters.determine).
            "python_callable: fn\npython_source: |\n  def fn(ds):\n    return ds\nop_args: [1]\n"
                .into(),
            "ValueError: The key 'ds' in args is a part of kwargs and therefore reserved.",
        ),
        (
            "python_callable: x.y:z\npython_path: [does-not-exist]\n".into(),
            "`python_path` entry",
        ),
    ];
    for python in pythons() {
        for (body, message) in &cases {
            Task::new()
                .spec(&spec(&python, body))
                .context(context())
                .run()
                .exit(75)
                .stderr_has("failed to load the task's code")
                .stderr_has(message)
                .termination_has(message)
                .no_xcom();
        }
    }
}

#[test]
fn a_missing_interpreter_is_127_and_a_non_executable_one_126() {
    Task::new()
        .spec(&spec(
            "/nonexistent/python3",
            "python_callable: fn\npython_source: 'def fn(): return 1'\n",
        ))
        .context(context())
        .run()
        .exit(127)
        .stderr_has("failed to start `/nonexistent/python3`")
        .no_xcom();
    Task::new()
        .spec(&spec(
            "python9.9-not-installed",
            "python_callable: fn\npython_source: 'def fn(): return 1'\n",
        ))
        .context(context())
        .run()
        .exit(127);
    let t = Task::new().file("bin/python", "not a program");
    let fake = t.dir().join("bin/python").display().to_string();
    t.spec(&spec(
        &fake,
        "python_callable: fn\npython_source: 'def fn(): return 1'\n",
    ))
    .context(context())
    .run()
    .exit(126)
    .stderr_has("failed to start");
}

// ---------------------------------------------------------------------------
// The context and arguments.

#[test]
fn the_callable_gets_the_context_keys_it_names() {
    let source = r#"import datetime
def fn(ds, ts, logical_date, data_interval_end, params, ti, dag_run, dag, task,
       task_instance_key_str, run_id, templates_dict, prev_ds, next_ds):
    assert isinstance(logical_date, datetime.datetime), type(logical_date)
    return {
        "ds": ds, "ts": ts, "iso": logical_date.isoformat(),
        "end": data_interval_end.isoformat(), "offset": str(logical_date.utcoffset()),
        "region": params["region"], "try_number": ti.try_number, "map_index": ti.map_index,
        "ti_ids": [ti.dag_id, ti.task_id, ti.run_id],
        "conf": dag_run.conf, "run_type": dag_run.run_type, "dag_id": dag.dag_id,
        "task_id": task.task_id, "owner": task.owner, "key": task_instance_key_str,
        "run_id": run_id, "templates_dict": templates_dict, "prev": prev_ds, "next": next_ds,
    }
"#;
    for python in pythons() {
        Task::new()
            .spec(&source_spec(&python, "fn", source, ""))
            .context(context())
            .run()
            .exit(0)
            .xcom(json!({
                "ds": "2024-06-01", "ts": "2024-06-01T00:00:00+00:00",
                "iso": "2024-06-01T00:00:00+00:00", "end": "2024-06-02T00:00:00+00:00",
                "offset": "0:00:00", "region": "emea",
                "try_number": 2, "map_index": -1,
                "ti_ids": ["sales", "load", "scheduled__2024-06-01T00:00:00+00:00"],
                "conf": {"full_refresh": true}, "run_type": "scheduled", "dag_id": "sales",
                "task_id": "load", "owner": "data-eng", "key": "sales__load__20240601",
                "run_id": "scheduled__2024-06-01T00:00:00+00:00", "templates_dict": null,
                "prev": "2024-05-31", "next": "2024-06-02"
            }));
    }
}

#[test]
fn star_star_context_gets_everything_and_op_kwargs_win() {
    let source = r#"def fn(*args, **context):
    import task_runner
    assert task_runner.get_current_context() is not None
    return {
        "args": list(args),
        "ds": context["ds"],
        "mine": context["mine"],
        "templates_dict": context["templates_dict"],
        "has": sorted(k for k in ["ti", "task_instance", "dag_run", "params", "ts_nodash",
                                  "ts_nodash_with_tz", "data_interval_start", "test_mode"]
                      if k in context),
        "pulled": task_runner.xcom_pull(task_ids="extract"),
        "missing": context["ti"].xcom_pull(task_ids="nope", default="fallback"),
    }
"#;
    for python in pythons() {
        Task::new()
            .spec(&source_spec(
                &python,
                "fn",
                source,
                "op_args: [1, '{{ ds_nodash }}']\nop_kwargs: {mine: '{{ params.region }}', ds: overridden}\ntemplates_dict: {when: '{{ ts }}'}\n",
            ))
            .context(context())
            .run()
            .exit(0)
            .xcom(json!({
                "args": [1, "20240601"], "ds": "overridden", "mine": "emea",
                "templates_dict": {"when": "2024-06-01T00:00:00+00:00"},
                "has": ["dag_run", "data_interval_start", "params", "task_instance", "test_mode",
                        "ti", "ts_nodash", "ts_nodash_with_tz"],
                "pulled": [1, 2, 3], "missing": "fallback"
            }));
    }
}

#[test]
fn upstream_xcoms_reach_the_callable_with_airflow_pull_semantics() {
    let mut ctx = context();
    ctx["xcom"] = json!([
        {"task_id": "extract", "value": {"rows": 3, "name": "Zürich ✓"}},
        {"task_id": "extract", "key": "row_count", "value": 3},
        {"task_id": "fan", "value": "f1", "map_index": 1},
        {"task_id": "fan", "value": "f0", "map_index": 0},
    ]);
    let source = r#"def fn(ti):
    return [ti.xcom_pull(task_ids="extract"), ti.xcom_pull(task_ids="extract", key="row_count"),
            ti.xcom_pull(task_ids="fan"), ti.xcom_pull(task_ids=["fan"], map_indexes=[1]),
            ti.xcom_pull(task_ids="missing")]
"#;
    for python in pythons() {
        Task::new()
            .spec(&source_spec(&python, "fn", source, ""))
            .context(ctx.clone())
            .run()
            .exit(0)
            .xcom(json!([{"rows": 3, "name": "Zürich ✓"}, 3, ["f0", "f1"], ["f1"], null]));
    }
}

#[test]
fn env_is_applied_and_python_output_is_unbuffered_utf8() {
    let source = r#"import os, sys
def fn():
    return [os.environ.get("MY_VAR"), os.environ.get("PYTHONUNBUFFERED"),
            os.environ.get("PYTHONIOENCODING"), os.environ.get("AIRFLOW_CTX_DAG_ID"),
            os.environ.get("AIRFLOW_CTX_TRY_NUMBER"), "TASK_RUNNER_CONTEXT" in os.environ,
            os.getcwd() == os.environ.get("HOME")]
"#;
    for python in pythons() {
        Task::new()
            .spec(&source_spec(
                &python,
                "fn",
                source,
                "env: {MY_VAR: '{{ ds }}'}\nappend_env: true\n",
            ))
            .context(context())
            .run()
            .exit(0)
            .xcom(json!([
                "2024-06-01",
                "1",
                "utf-8",
                "sales",
                "2",
                false,
                true
            ]));
    }
    // The spec's own setting wins.
    Task::new()
        .spec(&source_spec(
            &py3(),
            "fn",
            "import os\ndef fn():\n    return os.environ['PYTHONIOENCODING']\n",
            "env: {PYTHONIOENCODING: latin-1}\n",
        ))
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("latin-1"));
}

// ---------------------------------------------------------------------------
// Return values and output.

#[test]
fn prints_are_forwarded_in_order_and_never_become_the_xcom() {
    let source = r#"from __future__ import print_function
import sys
def fn():
    print("one")
    print("two", file=sys.stderr)
    print(u"three ✓")
    return "the value"
"#;
    for python in pythons() {
        Task::new()
            .spec(&source_spec(&python, "fn", source, ""))
            .context(context())
            .run()
            .exit(0)
            .stdout_has("one\ntwo\nthree ✓\n")
            .xcom(json!("the value"));
    }
}

#[test]
fn values_keep_their_exact_json_shape() {
    let source = r#"# -*- coding: utf-8 -*-
import datetime, decimal
def fn(logical_date):
    return {"big": 2 ** 100, "neg": -(2 ** 80), "dec": decimal.Decimal("1.10"),
            "whole": decimal.Decimal("5"), "float": 0.1, "tuple": (1, "a"),
            "text": u"Zürich ✓ 日本", "when": logical_date, "day": datetime.date(2024, 6, 1),
            "nested": {"none": None, 1: True}}
"#;
    for python in pythons() {
        let out = Task::new()
            .spec(&source_spec(&python, "fn", source, ""))
            .context(context())
            .run();
        out.exit(0);
        let text = out.xcom.as_deref().unwrap();
        for exact in [
            "1267650600228229401496703205376",
            "-1208925819614629174706176",
            "\"dec\": 1.10",
            "\"whole\": 5",
            "\"float\": 0.1",
            "Zürich ✓ 日本",
            "\"when\": \"2024-06-01T00:00:00+00:00\"",
            "\"day\": \"2024-06-01\"",
            "\"1\": true",
        ] {
            assert!(text.contains(exact), "{exact} not in {text}");
        }
    }
}

#[test]
fn none_and_do_xcom_push_false_write_no_xcom() {
    for python in pythons() {
        Task::new()
            .spec(&source_spec(
                &python,
                "fn",
                "def fn():\n    return None\n",
                "",
            ))
            .context(context())
            .run()
            .exit(0)
            .no_xcom();
        Task::new()
            .spec(&source_spec(
                &python,
                "fn",
                "def fn():\n    return set([1])\n",
                "do_xcom_push: false\n",
            ))
            .context(context())
            .run()
            .exit(0)
            .no_xcom();
    }
}

#[test]
fn a_value_json_cannot_hold_is_73_naming_its_type() {
    let cases = [
        (
            "return {'a': [1, set([2])]}",
            "return value of type `set` is not JSON serializable (at `$.a[1]`)",
        ),
        ("return float('nan')", "NaN"),
        ("return object()", "return value of type `object`"),
        ("return (i for i in [])", "return value of type `generator`"),
    ];
    for python in pythons() {
        for (body, message) in cases {
            Task::new()
                .spec(&source_spec(
                    &python,
                    "fn",
                    &format!("def fn():\n    {body}\n"),
                    "",
                ))
                .context(context())
                .run()
                .exit(73)
                .stderr_has("the return value cannot be pushed as an XCom")
                .stderr_has(message)
                .termination_has(message)
                .no_xcom();
        }
    }
}

#[test]
fn an_exception_is_exit_1_with_traceback_and_summary() {
    let source = r#"# -*- coding: utf-8 -*-
def helper(ds):
    raise ValueError(u"no sales for %s ✗" % ds)
def fn(ds):
    print("starting")
    helper(ds)
"#;
    for python in pythons() {
        Task::new()
            .spec(&source_spec(&python, "fn", source, ""))
            .context(context())
            .run()
            .exit(1)
            .stdout_has("starting\n")
            .stdout_has("Traceback (most recent call last)")
            .stdout_has("in helper")
            .stdout_has("ValueError: no sales for 2024-06-01 ✗")
            .termination_has(
                "Python callable failed (exit code 1): ValueError: no sales for 2024-06-01 ✗",
            )
            .no_xcom();
    }
    // Classes outside builtins are qualified with their module (PROTOCOL §4.2).
    Task::new()
        .spec(&source_spec(
            &py3(),
            "fn",
            "import json\ndef fn():\n    json.loads('{')\n",
            "",
        ))
        .context(context())
        .run()
        .exit(1)
        .termination_has("json.decoder.JSONDecodeError: Expecting property name");
}

#[test]
fn sys_exit_codes_pass_through_and_99_skips() {
    for python in pythons() {
        let exit = |code: &str, extra: &str| {
            Task::new()
                .spec(&source_spec(
                    &python,
                    "fn",
                    &format!("import sys\ndef fn():\n    print('leaving')\n    sys.exit({code})\n"),
                    extra,
                ))
                .context(context())
                .run()
        };
        exit("99", "skip_on_exit_code: 99\n")
            .exit(99)
            .stdout_has("leaving")
            .stderr_has("the task is skipped")
            .no_xcom();
        // The task's own 3, 4, 5 are not the shim's verdicts (no error.txt).
        for code in [3, 4, 5] {
            exit(&code.to_string(), "")
                .exit(code)
                .termination_has(&format!("non-zero exit code {code}"))
                .no_xcom();
        }
        exit("0", "").exit(0).no_xcom();
        exit("None", "").exit(0).no_xcom();
        exit("'bye now'", "")
            .exit(1)
            .stdout_has("bye now")
            .termination_has("SystemExit: bye now");
    }
}

#[test]
fn secrets_printed_or_raised_by_the_callable_are_masked() {
    let source = r#"from __future__ import print_function
def fn(pw, uri):
    print("connecting with", pw, "to", uri)
    raise RuntimeError("login refused for " + pw)
"#;
    for python in pythons() {
        Task::new()
            .spec(&source_spec(
                &python,
                "fn",
                source,
                "op_kwargs: {pw: '{{ conn.warehouse.password }}', uri: '{{ conn.warehouse.get_uri() }}'}\n",
            ))
            .context(context())
            .run()
            .exit(1)
            .stdout_has("connecting with *** to")
            .termination_has("RuntimeError: login refused for ***")
            .never_shows("Wh-Pass-123");
    }
}

#[test]
fn the_shim_folder_is_private_and_removed_after_the_run() {
    // The folder is the one input.json is in, on Python's command line.
    let source = r#"import os, stat
def fn():
    args = open('/proc/self/cmdline').read().split('\0')
    folder = os.path.dirname([a for a in args if a.endswith('/input.json')][0])
    return [folder, oct(stat.S_IMODE(os.stat(folder).st_mode)), sorted(os.listdir(folder))]
"#;
    let out = Task::new()
        .spec(&source_spec(&py3(), "fn", source, ""))
        .context(context())
        .run();
    out.exit(0);
    let got = xcom_of(&out);
    assert_eq!(got[1], "0o700");
    assert_eq!(
        got[2],
        json!(["input.json", "python_shim.bytecode", "shim"])
    );
    let folder = got[0].as_str().unwrap();
    assert!(!Path::new(folder).exists(), "{folder} left behind");
}

/// `task-runner install-shims` (a Dockerfile step) puts the shim and its
/// bytecode where runs find it; runs then import it instead of compiling it.
#[test]
fn an_installed_shim_is_imported_with_its_bytecode() {
    let shims = tempfile::tempdir().unwrap();
    let dir = shims.path().display().to_string();
    install_shims(shims.path());
    let files: Vec<String> = walk(shims.path());
    assert!(files.iter().any(|f| f.ends_with(".py")), "{files:?}");
    assert!(
        files
            .iter()
            .any(|f| f.contains("__pycache__") && f.ends_with(".pyc")),
        "python3 bytecode: {files:?}"
    );
    assert!(
        files
            .iter()
            .any(|f| !f.contains("__pycache__") && f.ends_with(".pyc")),
        "python2.7 bytecode: {files:?}"
    );
    for python in pythons() {
        Task::new()
            .spec(&format!(
                "operator: python\npython: {python}\npython_callable: fn\npython_source: |\n  def fn(ds):\n      import sys\n      return [ds, any(k.startswith('task_runner_shim_') for k in sys.modules)]\n"
            ))
            .context(context())
            .env("TASK_RUNNER_SHIM_DIR", &dir)
            .run()
            .exit(0)
            .xcom(json!(["2024-06-01", true]));
    }
    // Without the folder the embedded shim runs from the staged files.
    Task::new()
        .spec(&format!(
            "operator: python\npython: {}\npython_callable: fn\npython_source: |\n  def fn():\n      import sys\n      return any(k.startswith('task_runner_shim_') for k in sys.modules)\n",
            py3()
        ))
        .embedded()
        .run()
        .exit(0)
        .xcom(json!(false));
}

/// The embedded shim is loaded from the bytecode staged beside it (the code
/// object for the interpreter's magic number), or, without that file (a
/// Python the bytecode lacks, a stale one), compiled from the staged source:
/// the same run either way, and a traceback shows the callable's frames only.
#[test]
fn the_embedded_shim_runs_from_its_bytecode_or_else_its_source() {
    let body = "python_callable: fn\npython_source: |\n  def fn():\n      import sys\n      return sys.modules['task_runner_shim'].__file__\n";
    let raising =
        "python_callable: fn\npython_source: |\n  def fn():\n      raise ValueError('boom')\n";
    for python in pythons() {
        Task::new()
            .spec(&spec(&python, body))
            .embedded()
            .run()
            .exit(0)
            .xcom(json!("/task-runner/python_shim.py"));
        // An interpreter wrapper that deletes the bytecode before Python starts.
        let t = Task::new();
        let wrapper = t.dir().join("python-without-bytecode");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nfor a; do case $a in */input.json) rm \"${{a%/input.json}}/python_shim.bytecode\" || exit 99;; esac; done\nexec {python} \"$@\"\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let wrapper = wrapper.display().to_string();
        let out = t.spec(&spec(&wrapper, body)).embedded().run();
        out.exit(0);
        let file = xcom_of(&out);
        assert!(
            file.as_str()
                .is_some_and(|f| f.ends_with("/shim") && f.starts_with('/')),
            "{file}"
        );
        for python in [&python, &wrapper] {
            let out = Task::new().spec(&spec(python, raising)).embedded().run();
            out.exit(1)
                .stdout_has("Traceback (most recent call last)")
                .stdout_has("ValueError: boom")
                .stdout_lacks("python_shim.py")
                .stdout_lacks("/shim\"");
        }
    }
}

/// Every code object in runners/python_shim.bytecode is loaded and run by
/// its own CPython: each pyenv Python beside the 2.7 the tests use (2.7 and
/// 3.6 to 3.13 on this machine kind) runs a callable through the embedded
/// shim from its bytecode. A magic number no interpreter here can check
/// fails the test, as a missing dependency must.
#[test]
fn every_python_in_the_bytecode_runs_the_shim_from_it() {
    let py27 = py27();
    let versions = Path::new(&py27)
        .ancestors()
        .nth(3)
        .filter(|v| v.ends_with("versions"))
        .unwrap_or_else(|| panic!("TR_PYTHON27 ({py27}) is not under a pyenv versions/ folder"))
        .to_path_buf();
    let bundle =
        std::fs::read(crate::harness::repo().join("runners/python_shim.bytecode")).unwrap();
    let index = String::from_utf8_lossy(bundle.split(|&b| b == b'\n').nth(1).unwrap()).into_owned();
    let mut unchecked: Vec<String> = index
        .split(' ')
        .map(|e| e.split(':').next().unwrap().to_string())
        .collect();
    let body = "python_callable: fn\npython_source: |\n  def fn(ds, params):\n      import sys\n      return [list(sys.version_info[:2]), sys.modules['task_runner_shim'].__file__, ds, {'n': 1}]\n";
    for entry in std::fs::read_dir(&versions).unwrap() {
        let python = entry.unwrap().path().join("bin/python");
        if !python.is_file() {
            continue;
        }
        let python = python.display().to_string();
        let magic = std::process::Command::new(&python)
            .args(["-c", "import sys\ntry:\n    k = sys.modules['_frozen_importlib_external'].MAGIC_NUMBER\nexcept KeyError:\n    import imp; k = imp.get_magic()\nprint(''.join(['%02x' % b for b in bytearray(k)]))"])
            .output()
            .unwrap();
        let magic = String::from_utf8_lossy(&magic.stdout).trim().to_string();
        let expected_file = if index.contains(&format!("{magic}:")) {
            "/task-runner/python_shim.py"
        } else {
            "compiled from the staged source"
        };
        let out = Task::new().spec(&spec(&python, body)).embedded().run();
        out.exit(0);
        let got = xcom_of(&out);
        if expected_file.starts_with('/') {
            assert_eq!(got[1], json!(expected_file), "{python}: {got}");
            unchecked.retain(|m| *m != magic);
        } else {
            assert!(
                got[1].as_str().unwrap().ends_with("/shim"),
                "{python}: {got}"
            );
        }
        assert_eq!(got[2], json!("2024-06-01"), "{python}");
        assert_eq!(got[3], json!({"n": 1}), "{python}");
    }
    assert!(
        unchecked.is_empty(),
        "no Python under {} for the bytecode magic numbers {unchecked:?}: install them with pyenv, or remake runners/python_shim.bytecode without them (scripts/shim-bytecode.sh)",
        versions.display()
    );
}

/// The launcher names the staged folder as a Python literal, whatever the
/// folder is called: a `TMPDIR` with quotes, braces and non-ASCII in its name.
#[test]
fn a_tmpdir_with_any_name_stages_and_runs_the_shim() {
    for python in pythons() {
        let t = Task::new();
        let tmp = t.dir().join("tmp '{file}' \"{dir}\" é");
        std::fs::create_dir(&tmp).unwrap();
        let tmp = tmp.display().to_string();
        t.spec(&source_spec(
            &python,
            "fn",
            "def fn(ds):\n    return ds\n",
            "",
        ))
        .context(context())
        .env("TMPDIR", &tmp)
        .env("TASK_RUNNER_SHIM_DIR", "/nonexistent")
        .run()
        .exit(0)
        .xcom(json!("2024-06-01"));
    }
}

/// `python -c` puts the working folder first on `sys.path`; the launchers
/// take it off, so a file there never shadows a module the callable imports
/// (`json.py` in the image's WORKDIR), with the embedded and the installed
/// shim alike, as when the shim ran as a script.
#[test]
fn the_working_folder_is_not_on_sys_path() {
    let installed = tempfile::tempdir().unwrap();
    install_shims(installed.path());
    let body = "python_callable: fn\npython_source: |\n  def fn():\n      import sys\n      try:\n          import tr_stray_module\n          found = True\n      except ImportError:\n          found = False\n      return [found, '' in sys.path]\n";
    for python in pythons() {
        for shim_dir in [
            "/nonexistent".to_string(),
            installed.path().display().to_string(),
        ] {
            let t = Task::new();
            std::fs::write(t.dir().join("tr_stray_module.py"), "X = 1\n").unwrap();
            t.spec(&spec(&python, body))
                .context(context())
                .env("TASK_RUNNER_SHIM_DIR", &shim_dir)
                .run()
                .exit(0)
                .xcom(json!([false, false]));
        }
    }
}

/// `task-runner install-shims` into `dir`, for both Pythons.
fn install_shims(dir: &Path) {
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["install-shims", "--dir"])
        .arg(dir)
        .args(["--python", &py3(), "--python", &py27()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A task with the test context that finds no installed shim, so it runs the
/// embedded one.
trait Embedded {
    fn embedded(self) -> Task;
}

impl Embedded for Task {
    fn embedded(self) -> Task {
        self.context(context())
            .env("TASK_RUNNER_SHIM_DIR", "/nonexistent")
    }
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

/// A result over `max_xcom_bytes` is refused by its size (exit 73) before it
/// is read; with `do_xcom_push: false` it is not read at all and the task succeeds.
#[test]
fn an_oversized_result_is_refused_by_its_size_or_ignored_when_not_pushed() {
    let source = "def big():\n    return 'x' * 3000000\n";
    Task::new()
        .spec(&source_spec(
            &py3(),
            "big",
            source,
            "max_xcom_bytes: 1000000\n",
        ))
        .context(context())
        .run()
        .exit(73)
        .stderr_has("over the limit of 1000000 bytes")
        .no_xcom();
    Task::new()
        .spec(&source_spec(
            &py3(),
            "big",
            source,
            "max_xcom_bytes: 1000000\ndo_xcom_push: false\n",
        ))
        .context(context())
        .run()
        .exit(0)
        .no_xcom();
}
