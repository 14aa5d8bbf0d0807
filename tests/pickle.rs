//! `TASK_RUNNER_PICKLE_PATH` / `--pickle-path`: the XCom also as a protocol 2
//! pickle, for stock DockerOperator's `retrieve_output=True`. Real python3
//! and python2.7 `pickle.load` it and compare with `json.loads` of the XCom
//! file (fixtures/python/check_pickle.py) over a corpus of hard values.

use std::process::Command;

use serde_json::json;

use crate::harness::{Outcome, Task, context, fixture, test_env};

/// Runs a python3 callable whose body is `body` (it returns the value), with
/// the pickle requested through the env var.
fn run_returning(body: &str) -> Outcome {
    let python = test_env("TR_PYTHON3");
    let indented: String = body.lines().map(|l| format!("      {l}\n")).collect();
    let t = Task::new();
    let pickle = t.dir().join("out/result.pickle").display().to_string();
    t.spec(&format!(
        "operator: python\npython: {python}\npython_callable: f\npython_source: |\n  import sys\n  def f():\n{indented}"
    ))
    .context(context())
    .env("TASK_RUNNER_PICKLE_PATH", &pickle)
    .run()
}

/// Both interpreters load the pickle and find the XCom's value in it.
#[track_caller]
fn both_load_it(out: &Outcome) {
    out.exit(0);
    let pickle = out.dir.path().join("out/result.pickle");
    let xcom = out.dir.path().join("xcom/return.json");
    assert!(pickle.is_file(), "no pickle written\n{}", out.stderr);
    for python in [test_env("TR_PYTHON3"), test_env("TR_PYTHON27")] {
        let check = Command::new(&python)
            .arg(fixture("python/check_pickle.py"))
            .args([&pickle, &xcom])
            .output()
            .expect("run the checker");
        let said = String::from_utf8_lossy(&check.stdout);
        assert!(
            check.status.success() && said.starts_with("ok "),
            "{python}: {said}{}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
}

#[test]
fn nested_values_and_empty_containers() {
    both_load_it(&run_returning(
        "return {'a': [1, {'b': [None, True, False]}, []], 'empty': {}, 'el': [], 'deep': [[[{}]]], 's': '', 'n': None, 't': (1, 2),\n        'batches': {'k%d' % i: [i] * (i % 3) for i in range(2500)}, 'items': [[i, {}] for i in range(3001)]}",
    ));
}

#[test]
fn unicode_strings_including_astral_and_escapes() {
    both_load_it(&run_returning(
        "return {u'cl\\u00e9': [u'\\u00e9', u'\\u65e5\\u672c', u'\\U0001F600 \\U0010FFFF', u'a\\x00b', u'\"\\\\/\\b\\f\\n\\r\\t', u'\\u2028\\u2029', u'x' * 70000]}",
    ));
}

#[test]
fn integers_of_any_size_stay_exact() {
    let out = run_returning(
        "b = [0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, 2**31, -2**31, -2**31 - 1, 2**63 - 1, 2**63, -2**63, -2**63 - 1, 2**64, 10**100, -10**100]\nreturn b + [2**200, -2**200, 2**200 - 1, -(2**200) + 1, 2**2040, -2**2048, 3**3000]",
    );
    both_load_it(&out);
    // Exact in the pickle, not through a float: Python says so itself.
    let pickle = out.dir.path().join("out/result.pickle");
    let check = Command::new(test_env("TR_PYTHON3"))
        .arg("-c")
        .arg("import pickle, sys; v = pickle.load(open(sys.argv[1], 'rb')); assert v[-7] == 2**200 and v[-6] == -2**200 and v[-1] == 3**3000, v[-7]; print('exact')")
        .arg(&pickle)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        "exact",
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn floats_including_extremes_and_negative_zero() {
    both_load_it(&run_returning(
        "return [1e300, -1e300, -0.0, 0.0, 1.5, 0.1, 3.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 123456789.125, {'f': -2.5e-300}]",
    ));
}

#[test]
fn ten_thousand_levels_deep() {
    both_load_it(&run_returning(
        "sys.setrecursionlimit(100000)\nv = [u'bottom', {}]\nfor i in range(10000):\n    v = [v, i] if i % 2 else {u'k%d' % i: v}\nreturn v",
    ));
}

#[test]
fn a_ten_megabyte_list() {
    let out =
        run_returning("return [u'item-%07d' % i if i % 3 else i * 1000003 for i in range(700000)]");
    let size = std::fs::metadata(out.dir.path().join("xcom/return.json"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(size > 10_000_000, "the XCom is {size} bytes");
    both_load_it(&out);
}

/// The option works as the env var; a bash XCom (a string) too; `None` or
/// no XCom leaves no pickle, and a stale one from an earlier attempt goes.
#[test]
fn the_option_no_xcom_and_a_stale_pickle() {
    let t = Task::new().file("out/result.pickle", "stale");
    let pickle = t.dir().join("out/result.pickle").display().to_string();
    let out = t
        .spec("operator: bash\nbash_command: 'echo {{ ds }}'\n")
        .context(context())
        .args(&["--pickle-path", &pickle])
        .run();
    out.exit(0).xcom(json!("2024-06-01"));
    both_load_it(&out);

    for spec in [
        "operator: bash\nbash_command: echo hi\ndo_xcom_push: false\n",
        "operator: bash\nbash_command: 'echo hi; exit 3'\n",
    ] {
        let t = Task::new().file("out/result.pickle", "stale");
        let pickle = t.dir().join("out/result.pickle");
        let out = t
            .spec(spec)
            .context(context())
            .env("TASK_RUNNER_PICKLE_PATH", &pickle.display().to_string())
            .run();
        out.no_xcom();
        assert!(!pickle.exists(), "a pickle is left: {spec}");
    }
}

#[test]
fn the_pickle_cannot_take_the_xcom_s_path() {
    let t = Task::new();
    let xcom = t.xcom_path().display().to_string();
    t.spec("operator: bash\nbash_command: echo hi\n")
        .context(context())
        .env("TASK_RUNNER_PICKLE_PATH", &xcom)
        .run()
        .exit(64)
        .stderr_has("is the XCom path");
}
