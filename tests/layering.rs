//! The crate's layering as data: every `crate::` path in `src/` (test
//! modules aside) is an edge between two top-level modules, and every edge
//! must be in [`ALLOWED`]. A new upward import fails here with the file that
//! made it, so "dependencies point down" (README "Layout") stays true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module with the modules it may use. Ordered bottom-up: a module uses
/// only modules listed above it, so the table itself has no cycle (checked).
const ALLOWED: &[(&str, &[&str])] = &[
    // Leaves: no crate dependency at all.
    ("py", &[]),
    ("limits", &[]),
    ("environ", &[]),
    ("pickle", &[]),
    ("cli", &[]),
    ("dotenv", &[]),
    ("connection", &["py"]),
    ("error", &["connection"]),
    ("mask", &["py"]),
    // Processes, signals, the runner's own stdout.
    ("supervise", &["error", "mask", "py"]),
    ("xcom", &["environ", "error", "mask", "pickle", "supervise"]),
    ("report", &["cli", "environ", "error", "mask", "supervise"]),
    ("store", &["connection", "environ", "error"]),
    // The spec names output encodings, which supervise decodes.
    ("spec", &["error", "limits", "supervise"]),
    ("context", &["environ", "error", "spec"]),
    (
        "template",
        &["connection", "context", "error", "py", "spec", "store"],
    ),
    // Runners prepare work from a rendered spec; they never render.
    (
        "runner",
        &[
            "connection",
            "context",
            "dotenv",
            "environ",
            "error",
            "limits",
            "mask",
            "py",
            "spec",
            "supervise",
            "xcom",
        ],
    ),
    // The run's input documents, secrets masked before they parse.
    (
        "input",
        &["cli", "environ", "error", "limits", "mask", "spec", "store"],
    ),
    (
        "encode",
        &[
            "cli", "context", "environ", "error", "input", "spec", "template",
        ],
    ),
];

/// The crate root and the binary may use everything.
const TOP: &[&str] = &["lib", "main"];

/// The top-level modules `text` names through `crate::` paths, grouped
/// imports (`crate::{a::X, b}`) included.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        // `task_runner::` from the binary is not `crate::`; neither is `_crate::`.
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // The top-level items of the group (`crate::{a::{X, Y}, b}`: a, b).
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        out.insert(first_segment(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(first_segment(rest));
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

fn first_segment(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The file without its `#[cfg(test)] mod tests` (at the end of a file, by
/// the house style): tests may reach across layers to set things up.
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    }
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every edge in `src/`: (from, to) → the files that make it.
fn edges(src: &Path) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = std::fs::read_dir(src)
        .expect("src/ is readable")
        .map(|e| {
            let name = e.expect("a directory entry").file_name();
            name.to_string_lossy().trim_end_matches(".rs").to_string()
        })
        .collect();
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src/");
        let from = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs").to_string())
            .expect("a module name");
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        for to in crate_paths(without_tests(&text)) {
            // An item of the crate root (`crate::run`) is an edge to `lib`.
            let to = if modules.contains(&to) {
                to
            } else {
                "lib".into()
            };
            if to != from {
                out.entry((from.clone(), to))
                    .or_default()
                    .insert(rel.display().to_string());
            }
        }
    }
    out
}

/// The edges of `src` that [`ALLOWED`] does not list, as messages.
fn violations(src: &Path) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    edges(src)
        .into_iter()
        .filter(|((from, to), _)| {
            !TOP.contains(&from.as_str())
                && !allowed
                    .get(from.as_str())
                    .is_some_and(|deps| deps.contains(&to.as_str()))
        })
        .map(|((from, to), files)| {
            let files: Vec<_> = files.into_iter().collect();
            format!(
                "`{from}` uses `{to}` (in {}), an edge tests/layering.rs does not allow",
                files.join(", ")
            )
        })
        .collect()
}

#[test]
fn every_module_edge_is_allowed() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = violations(&src);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_table_points_down_and_names_every_module() {
    let mut seen = BTreeSet::new();
    for (module, deps) in ALLOWED {
        for dep in *deps {
            assert!(
                seen.contains(dep),
                "`{module}` may use `{dep}`, which is not listed above it"
            );
        }
        seen.insert(*module);
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(&src).expect("src/ is readable") {
        let name = entry.expect("a directory entry").file_name();
        let name = name.to_string_lossy();
        let module = name.trim_end_matches(".rs");
        assert!(
            seen.contains(module) || TOP.contains(&module),
            "src/{name} is not in tests/layering.rs's table"
        );
    }
}

/// Inside `template/`: the folders each folder may not name. Jinja parity
/// knows Python values but no library object and no Airflow object; the
/// Python layer (`pyvalue`, `pylib`) knows nothing of Airflow.
const TEMPLATE_FORBIDDEN: &[(&str, &[&str])] = &[
    ("jinja", &["pylib", "airflow"]),
    ("pyvalue", &["airflow", "jinja"]),
    ("pylib", &["airflow", "jinja"]),
];

#[test]
fn template_sublayers_point_down() {
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/template");
    let mut bad = Vec::new();
    for (folder, forbidden) in TEMPLATE_FORBIDDEN {
        let mut files = Vec::new();
        rust_files(&template.join(folder), &mut files);
        assert!(!files.is_empty(), "src/template/{folder} has no files");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("a readable source file");
            let text = without_tests(&text);
            for other in *forbidden {
                if text.contains(&format!("template::{other}"))
                    || text.contains(&format!("super::{other}"))
                {
                    bad.push(format!("{} names `template::{other}`", file.display()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The check fails on an upward import: a copy of `src/` where the leaf
/// `py` uses `template` (and `supervise` uses `spec`) is refused, naming both.
#[test]
fn an_upward_import_is_refused() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let copy = tempfile::tempdir().expect("a temp dir");
    copy_tree(&src, copy.path());
    let py = copy.path().join("py/mod.rs");
    let text = std::fs::read_to_string(&py).expect("src/py/mod.rs");
    std::fs::write(&py, format!("use crate::template::Renderer;\n{text}")).expect("written");
    let sup = copy.path().join("supervise/mod.rs");
    let text = std::fs::read_to_string(&sup).expect("src/supervise/mod.rs");
    std::fs::write(
        &sup,
        format!("use crate::{{spec::TaskSpec, mask}};\n{text}"),
    )
    .expect("written");
    let bad = violations(copy.path());
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(
        bad[0].starts_with("`py` uses `template` (in py/mod.rs)"),
        "{bad:?}"
    );
    assert!(
        bad[1].starts_with("`supervise` uses `spec` (in supervise/mod.rs)"),
        "{bad:?}"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("readable") {
        let path = entry.expect("a directory entry").path();
        let dest = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            std::fs::create_dir_all(&dest).expect("created");
            copy_tree(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).expect("copied");
        }
    }
}

/// Where `unsafe` may be written, as (file, the module the allow covers):
/// the lint (`Cargo.toml` `[lints]`) denies it everywhere else. `supervise`
/// does process control (fork, exec, signals); `runner/sql/lite/raw.rs` is
/// the SQLite C calls behind the row reader, which sqlx's raw connection
/// handle leaves no safe way to make.
const UNSAFE_ALLOWED: &[(&str, &str)] = &[
    ("lib.rs", "mod supervise;"),
    ("runner/sql/lite.rs", "mod raw;"),
];

#[test]
fn unsafe_code_is_allowed_only_where_listed() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .expect("under src/")
            .display()
            .to_string();
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        let mut lines = text.lines().map(str::trim);
        while let Some(line) = lines.next() {
            if line.contains("unsafe_code") {
                // An allow covers the item after it; anything else naming
                // the lint (an inner `#![allow]`, `expect`) is refused.
                let item = if line == "#[allow(unsafe_code)]" {
                    lines.next().unwrap_or_default().to_string()
                } else {
                    line.to_string()
                };
                found.push((rel.clone(), item));
            }
        }
    }
    found.sort();
    let allowed: Vec<(String, String)> = UNSAFE_ALLOWED
        .iter()
        .map(|(f, m)| (f.to_string(), m.to_string()))
        .collect();
    assert_eq!(
        found, allowed,
        "`unsafe_code` is allowed elsewhere than listed"
    );
}
