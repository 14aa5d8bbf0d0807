//! The render budget (src/template/budget.rs), interruptible rendering, and
//! template input that used to panic or abort the engine: every case ends
//! with a rendering or a clear exit-67 error, never a panic (101), an abort
//! (134) or a hang.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::json;

use crate::harness::{Task, context};

/// A bash task whose command is `template`.
fn bash(template: &str) -> Task {
    Task::new()
        .spec(&format!(
            "operator: bash\nbash_command: {}\n",
            serde_json::to_string(template).unwrap()
        ))
        .context(context())
}

/// Ends with exit 67 and a message naming the field and the budget.
#[track_caller]
fn over_budget(template: &str, what: &str) {
    let out = bash(&format!("echo {template}")).run();
    out.exit(67)
        .stderr_has("template field `bash_command`")
        .stderr_has(what)
        .termination_has("render budget")
        .no_xcom();
}

#[test]
fn what_a_filter_format_or_operator_builds_is_checked_before_it_is_allocated() {
    for (template, what) in [
        // Used to abort on allocation failure (exit 134, no message).
        (
            "{{ 'a' | center(99999999999) }}",
            "the result of center() would be 99999999999 bytes",
        ),
        // Used to build a 1 GB string.
        (
            "{{ '%999999999d' % 1 }}",
            "a `%` format width would be 999999999 bytes",
        ),
        ("{{ '{:999999999}'.format(1) }}", "str.format()"),
        ("{{ '%.999999999f' % 1.5 }}", "a `%` format precision"),
        ("{{ 'ab' * 10**12 }}", "the string built by `*`"),
        ("{{ [1, 2] * 10**9 }}", "the list built by `*`"),
        ("{{ 'x' | indent(10**9) }}", "the indent() width"),
        (
            "{{ ('a' * 60000000).join(['a', 'b', 'c']) }}",
            "the result of str.join()",
        ),
        (
            "{{ 'aaa'.replace('', 'x' * 30000000) }}",
            "the result of replace()",
        ),
        (
            "{{ 'aaa' | replace('', 'x' * 30000000) }}",
            "the result of replace()",
        ),
        ("{{ ('&' * 20000000) | escape }}", "the result of escape()"),
        (
            "{{ (' ' * 30000000) | urlencode }}",
            "the result of urlencode()",
        ),
        ("{{ [1] | slice(10**10) | list }}", "the result of slice()"),
        (
            "{{ {'a': [1]} | tojson(indent=10**10) }}",
            "the JSON indent",
        ),
        (
            "{% set s = namespace(v='x' * 1000000) %}{% for i in range(40) %}{% set s.v = s.v ~ s.v %}{% endfor %}{{ s.v | length }}",
            "the string built by `~`",
        ),
        (
            "{% set l = [0] * 1000 %}{% for i in range(40) %}{% do l.extend(l) %}{% endfor %}",
            "over the render budget of",
        ),
    ] {
        over_budget(template, what);
    }
}

#[test]
fn format_widths_past_2_64_are_errors_not_wraps() {
    // One used to abort, the other to render a 5-wide field.
    over_budget(
        "{{ '%99999999999999999999999d' % 1 }}",
        "a `%` format width would be 99999999999999999999999 bytes",
    );
    over_budget("{{ '{:18446744073709551621}'.format(1) }}", "str.format()");
}

#[test]
fn native_ranges_fit_the_budget_too() {
    // The sandbox's MAX_RANGE does not apply natively; the budget does.
    Task::new()
        .spec(&format!(
            "operator: bash\nrender_template_as_native_obj: true\nbash_command: {}\n",
            serde_json::to_string("{{ range(10**12) | list }}").unwrap()
        ))
        .context(context())
        .run()
        .exit(67)
        .stderr_has("range() would have 1000000000000 items, over the render budget")
        .no_xcom();
}

#[test]
fn the_rendered_output_of_a_field_is_capped() {
    bash("echo {% for i in range(10) %}{% for j in range(10) %}0123456789{% endfor %}{% endfor %}")
        .env("TASK_RUNNER_MAX_RENDER_BYTES", "500")
        .run()
        .exit(67)
        .stderr_has("template field `bash_command`")
        .stderr_has("the rendered output exceeded the render budget of 500 bytes")
        .no_xcom();
    // Under the limit it renders.
    bash("echo {% for i in range(3) %}ab{% endfor %}")
        .env("TASK_RUNNER_MAX_RENDER_BYTES", "1KiB")
        .run()
        .exit(0)
        .xcom(json!("ababab"));
}

/// Text that `{% set %}`, `{% filter %}` and macro blocks capture never
/// reaches the output writer; it is counted as it is emitted, so a capturing
/// block in a loop cannot grow without bound (here 1 KiB × 1,000 × 1,000
/// would be 1 GB held in memory).
#[test]
fn what_set_filter_and_macro_blocks_capture_is_counted() {
    for template in [
        "{% set kb = 'x' * 1024 %}{% set acc %}{% for i in range(1000) %}{% for j in range(1000) %}{{ kb }}{% endfor %}{% endfor %}{% endset %}{{ acc|length }}",
        "{% set kb = 'x' * 1024 %}{% filter upper %}{% for i in range(1000) %}{% for j in range(1000) %}{{ kb }}{% endfor %}{% endfor %}{% endfilter %}",
        "{% set kb = 'x' * 1024 %}{% macro m() %}{% for i in range(1000) %}{% for j in range(1000) %}{{ kb }}{% endfor %}{% endfor %}{% endmacro %}{{ m()|length }}",
    ] {
        bash(&format!("echo {template}"))
            .env("TASK_RUNNER_MAX_RENDER_BYTES", "1MiB")
            .run()
            .exit(67)
            .stderr_has("template field `bash_command`")
            .stderr_has("the template emitted more than 4194304 bytes")
            .no_xcom();
    }
    // A capture within the budget renders, as Jinja does.
    bash(
        "echo {% set acc %}{% for i in range(3) %}ab{{ i }}{% endfor %}{% endset %}{{ acc|upper }}",
    )
    .run()
    .exit(0)
    .xcom(json!("AB0AB1AB2"));
}

#[test]
fn an_endless_loop_runs_out_of_steps() {
    let started = Instant::now();
    bash("echo {% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
        .env("TASK_RUNNER_MAX_RENDER_STEPS", "200000")
        .run()
        .exit(67)
        .stderr_has("template field `bash_command`")
        .stderr_has("exceeded the render budget of 200000 steps")
        .termination_has("render budget of 200000 steps")
        .no_xcom();
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_bad_budget_setting_is_refused() {
    bash("echo hi")
        .env("TASK_RUNNER_MAX_RENDER_BYTES", "lots")
        .run()
        .exit(78)
        .stderr_has("TASK_RUNNER_MAX_RENDER_BYTES=lots");
}

/// A task whose first command leaves `marker`, behind a render that takes
/// far longer than the test (within its step budget).
fn slow_render() -> (Task, std::path::PathBuf) {
    let t = Task::new();
    let marker = t.dir().join("marker");
    let command = format!(
        "touch {}; echo {{% for i in range(100000) %}}{{% for j in range(100000) %}}{{% endfor %}}{{% endfor %}}",
        marker.display()
    );
    let t = t
        .spec(&format!(
            "operator: bash\nbash_command: {}\nexecution_timeout: 1h\n",
            serde_json::to_string(&command).unwrap()
        ))
        .context(context())
        .env("TASK_RUNNER_MAX_RENDER_STEPS", "1000000000000");
    (t, marker)
}

#[test]
fn a_stop_during_render_ends_the_run_before_anything_is_spawned() {
    for (sig, code, name) in [
        (Signal::SIGTERM, 143, "SIGTERM"),
        (Signal::SIGINT, 130, "SIGINT"),
    ] {
        let (t, marker) = slow_render();
        let running = t.spawn(Some("run"));
        std::thread::sleep(Duration::from_millis(800));
        let sent = Instant::now();
        running.signal(sig);
        let out = running.wait();
        out.exit(code)
            .termination_has(&format!("stopped by {name}"))
            .no_xcom();
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "took {:?} to stop",
            sent.elapsed()
        );
        assert!(!marker.exists(), "the task was spawned after {name}");
    }
}

#[test]
fn execution_timeout_during_render_ends_the_run_before_anything_is_spawned() {
    let t = Task::new();
    let marker = t.dir().join("marker");
    let command = format!(
        "touch {}; echo {{% for i in range(100000) %}}{{% for j in range(100000) %}}{{% endfor %}}{{% endfor %}}",
        marker.display()
    );
    let started = Instant::now();
    t.spec(&format!(
        "operator: bash\nbash_command: {}\nexecution_timeout: 1s\n",
        serde_json::to_string(&command).unwrap()
    ))
    .context(context())
    .env("TASK_RUNNER_MAX_RENDER_STEPS", "1000000000000")
    .run()
    .exit(124)
    .stderr_has("execution_timeout")
    .termination_has("timed out after 1s")
    .no_xcom();
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(!marker.exists(), "the task was spawned after the timeout");
}

#[test]
fn slices_render_as_python_slices() {
    // minijinja 3.0.5 panics (exit 101) on the first two.
    bash("echo \"[{{ ''[::-1] }}] {{ [][::-1] }} {{ ()[::-1] }} {{ 'abc'[::-1] }} {{ 'abcdef'[2:0:-1] }} {{ 'abcdef'[-2:-5:-2] }} {{ [1, 2, 3][10**30:] }} {{ ds[:4] }} {{ (1, 2, 3)[::2] }}\"")
        .run()
        .exit(0)
        .xcom(json!("[] [] () cba cb ec [] 2024 (1, 3)"));
    over_budget_free("{{ 'abc'[::0] }}", "slice step cannot be zero");
}

/// Ends with exit 67 and `what` in the message (an error Jinja raises too).
#[track_caller]
fn over_budget_free(template: &str, what: &str) {
    bash(&format!("echo {template}"))
        .run()
        .exit(67)
        .stderr_has("template field `bash_command`")
        .stderr_has(what)
        .no_xcom();
}

#[test]
fn divisibleby_zero_raises_as_python_does() {
    // minijinja 3.0.5 panics on it (exit 101).
    over_budget_free(
        "{{ 4 is divisibleby 0 }}",
        "ZeroDivisionError: integer modulo by zero",
    );
    over_budget_free(
        "{{ 4 is divisibleby 0.0 }}",
        "ZeroDivisionError: float modulo",
    );
    bash("echo {{ 9 is divisibleby 3 }} {{ 10 is divisibleby 4 }} {{ 10 is divisibleby 2.5 }}")
        .run()
        .exit(0)
        .xcom(json!("True False True"));
}

#[test]
fn huge_numbers_in_helpers_are_errors_not_panics() {
    for (template, what) in [
        // chrono's `TimeDelta::days` panicked (exit 70 after the guard).
        ("{{ macros.ds_add(ds, 10**12) }}", "date value out of range"),
        (
            "{{ logical_date.add(years=9223372036854775807) }}",
            "date value out of range",
        ),
        (
            "{{ logical_date + macros.dateutil.relativedelta.relativedelta(days=9223372036854775807) }}",
            "date value out of range",
        ),
        // Overflowed an i64 (a panic in a debug build, a wrap in release).
        (
            "{{ range(-9223372036854775807 - 1, 9223372036854775807) | length }}",
            "Range too big",
        ),
    ] {
        over_budget_free(template, what);
    }
    // `l.extend(l)` deadlocked on the list's own lock.
    bash("echo \"{% set l = [1] %}{% do l.extend(l) %}{{ l }} {{ (-170141183460469231731687303715884105727 - 1) % -1 }}\"")
        .run()
        .exit(0)
        .xcom(json!("[1, 1] 0"));
}
