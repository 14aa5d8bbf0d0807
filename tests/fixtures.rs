//! Every fixture is exercised: each file under `fixtures/` is named by a test
//! (or by another fixture a test uses, such as a spec naming its SQL file),
//! so no fixture rots unnoticed.

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

#[test]
fn every_fixture_is_used_by_a_test() {
    let root = repo();
    let mut tests = Vec::new();
    files(&root.join("tests"), &mut tests);
    let mut fixtures = Vec::new();
    files(&root.join("fixtures"), &mut fixtures);
    assert!(fixtures.len() > 10, "fixtures not found");
    let text = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    let test_text: String = tests.iter().map(text).collect();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut unused = Vec::new();
    for f in &fixtures {
        let rel = f
            .strip_prefix(root.join("fixtures"))
            .unwrap()
            .to_string_lossy()
            .to_string();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        // A Python module is used by being imported (`sales.metrics`).
        let module = rel
            .trim_end_matches(".py")
            .replace('/', ".")
            .replace("python.include.", "");
        let named = |hay: &str| hay.contains(&rel) || hay.contains(&name) || hay.contains(&module);
        let by_fixture = fixtures.iter().filter(|o| *o != f).any(|o| {
            let t = text(o);
            named(&t) || (rel.starts_with("python/include/") && t.contains(stem.as_str()))
        });
        if !(named(&test_text) || by_fixture || named(&readme)) {
            unused.push(rel);
        }
    }
    assert!(unused.is_empty(), "fixtures no test uses: {unused:?}");
}
