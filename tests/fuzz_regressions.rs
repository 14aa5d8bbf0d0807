//! The fuzz targets' findings, kept: every input under
//! `tests/fuzz_regressions/<target>/` runs through the code its fuzz target
//! runs (`fuzz/src/lib.rs`, included here, so the two cannot drift apart).
//! Each must end in a result or a well-formed refusal with its stage's exit
//! code (the targets assert that themselves), never in a panic; the inputs
//! that once crashed, hung or ran out of memory must also end quickly and
//! the way the fix says.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// The fuzz crate's library, whose items are `pub` for its own targets.
#[path = "../fuzz/src/lib.rs"]
#[allow(unreachable_pub)]
mod targets;

const TARGETS: [&str; 5] = [
    "spec_load",
    "context_payload",
    "connection",
    "render",
    "sql_split",
];

fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions")
}

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = regressions().join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| targets::is_input(p))
        .collect();
    files.sort();
    files
}

/// The outcome of one kept input, a panic turned into a failure that names it.
#[track_caller]
fn run(target: &str, path: &Path) -> (Result<String, String>, Duration) {
    let run = targets::target(target).expect("a known target");
    let data = std::fs::read(path).expect("a kept input");
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(|| run(&data)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!("{target}: {} panicked: {message}", path.display())
    });
    (outcome, started.elapsed())
}

#[test]
fn every_folder_is_a_target_with_inputs() {
    for entry in std::fs::read_dir(regressions()).expect("tests/fuzz_regressions") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            assert!(
                TARGETS.contains(&name),
                "{}: not a fuzz target",
                path.display()
            );
        }
    }
    for target in TARGETS {
        assert!(!inputs(target).is_empty(), "no kept inputs for {target}");
    }
}

#[test]
fn every_kept_input_ends_in_a_result_or_a_refusal() {
    for target in TARGETS {
        for path in inputs(target) {
            let (outcome, _) = run(target, &path);
            let text = match &outcome {
                Ok(summary) => summary,
                Err(message) => message,
            };
            assert!(
                !text.trim().is_empty(),
                "{target}: {} ended with an empty outcome",
                path.display()
            );
        }
    }
}

/// What an input gives now.
enum Expect {
    /// A result whose summary contains this.
    Ok(&'static str),
    /// A refusal whose message contains this.
    Err(&'static str),
}

/// Inputs that once crashed, hung or ran out of memory (`crash-`,
/// `timeout-`, `oom-`), and the edge cases worth pinning.
const EXPECTED: &[(&str, &str, Expect)] = &[
    // `1e900000000` asked for 900 MB of zeros, `1e-90000000` padded them one
    // `insert(0)` at a time, `1e2147483647` overflowed the exponent: each is
    // now outside `numeric`'s range and refused by every type but text.
    (
        "sql_split",
        "oom-numeric-exponent",
        Expect::Ok("as numeric: refused"),
    ),
    (
        "sql_split",
        "timeout-numeric-negative-exponent",
        Expect::Ok("as numeric: refused"),
    ),
    (
        "sql_split",
        "crash-numeric-exponent-overflow",
        Expect::Ok("as numeric: refused"),
    ),
    // The harness's first crash: a type sqlx had not resolved.
    (
        "sql_split",
        "crash-unresolved-pg-type",
        Expect::Ok("PostgreSQL types"),
    ),
    (
        "spec_load",
        "gzip-bomb-base64",
        Expect::Err("decodes to more than 67108864 bytes"),
    ),
    ("spec_load", "deep-nesting-env", Expect::Err("256")),
    ("context_payload", "deep-xcom-value", Expect::Err("256")),
    (
        "render",
        "case-0",
        Expect::Err("over the render budget of 67108864 bytes"),
    ),
    (
        "render",
        "case-1",
        Expect::Err("over the render budget of 67108864 bytes"),
    ),
];

#[test]
fn found_inputs_end_quickly_and_as_fixed() {
    for (target, name, expect) in EXPECTED {
        let path = regressions().join(target).join(name);
        let (outcome, took) = run(target, &path);
        // The old code took minutes or gigabytes; the fixed code takes
        // milliseconds (a debug build inflating the 64 MiB bomb: about a second).
        assert!(
            took < Duration::from_secs(20),
            "{target}/{name} took {took:?}"
        );
        match (expect, &outcome) {
            (Expect::Ok(want), Ok(summary)) => {
                assert!(summary.contains(want), "{target}/{name}: {summary}")
            }
            (Expect::Err(want), Err(message)) => {
                assert!(message.contains(want), "{target}/{name}: {message}")
            }
            (_, other) => panic!("{target}/{name}: unexpected {other:?}"),
        }
    }
    for target in TARGETS {
        for path in inputs(target) {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if ["crash-", "timeout-", "oom-"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                assert!(
                    EXPECTED.iter().any(|(t, n, _)| *t == target && *n == name),
                    "{target}/{name}: a found input without an expectation"
                );
            }
        }
    }
}
