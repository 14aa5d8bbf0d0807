//! Every fixture is exercised: each file under `fixtures/` is read by a test,
//! either named in the code of `tests/*.rs` or named by another fixture that a
//! test reads (a spec naming its SQL file, a module importing a sibling).
//! Comments, the README and fixtures no test reads do not count, so a fixture
//! that is only documented, or only mentioned by another unused one, fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::harness::repo;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name == "__pycache__" || name.ends_with(".pyc") {
            continue;
        }
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The code of the Rust test files, without whole-line comments (`//`, `///`,
/// `//!`): a fixture mentioned only in a comment is not read.
fn test_code(root: &Path) -> String {
    let mut tests = Vec::new();
    files(&root.join("tests"), &mut tests);
    tests
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            text.lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| format!("{l}\n"))
                .collect::<Vec<_>>()
        })
        .collect()
}

struct Fixture {
    rel: String,
    text: String,
}

impl Fixture {
    /// Whether `hay` names this fixture: its path under `fixtures/`, its file
    /// name (tests build paths such as `children/{script}`), or, for a Python
    /// module, its import path (`sales.metrics`, or `metrics` from a sibling).
    fn named_in(&self, hay: &str, from_sibling: bool) -> bool {
        let path = Path::new(&self.rel);
        let name = path.file_name().unwrap().to_string_lossy();
        let module = self
            .rel
            .trim_end_matches(".py")
            .replace('/', ".")
            .replace("python.include.", "");
        let stem = path.file_stem().unwrap().to_string_lossy();
        hay.contains(&self.rel)
            || hay.contains(name.as_ref())
            || hay.contains(&module)
            || (from_sibling
                && self.rel.starts_with("python/include/")
                && hay.contains(stem.as_ref()))
    }
}

#[test]
fn every_fixture_is_read_by_a_test() {
    let root = repo();
    let mut paths = Vec::new();
    files(&root.join("fixtures"), &mut paths);
    assert!(paths.len() > 10, "fixtures not found");
    let fixtures: Vec<Fixture> = paths
        .iter()
        .map(|p| Fixture {
            rel: p
                .strip_prefix(root.join("fixtures"))
                .unwrap()
                .to_string_lossy()
                .to_string(),
            text: std::fs::read_to_string(p).unwrap_or_default(),
        })
        .collect();
    let code = test_code(&root);
    // Read by a test directly, then by what those read, until nothing new.
    let mut read: BTreeSet<usize> = (0..fixtures.len())
        .filter(|&i| fixtures[i].named_in(&code, false))
        .collect();
    loop {
        let more: Vec<usize> = (0..fixtures.len())
            .filter(|i| !read.contains(i))
            .filter(|&i| {
                read.iter()
                    .any(|&r| fixtures[i].named_in(&fixtures[r].text, true))
            })
            .collect();
        if more.is_empty() {
            break;
        }
        read.extend(more);
    }
    let unread: Vec<&str> = (0..fixtures.len())
        .filter(|i| !read.contains(i))
        .map(|i| fixtures[i].rel.as_str())
        .collect();
    assert!(unread.is_empty(), "fixtures no test reads: {unread:?}");
}
