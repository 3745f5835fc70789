//! The source tree's shape: no non-test Rust file over 700 lines, and no circle of imports
//! between more than three files of a crate. Imports are read from the text (`use crate::…`,
//! `use super::…`, inline `crate::a::b` paths, brace groups expanded) and resolved to the file
//! that defines the module, the way rustc maps modules to files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 700;
const MAX_CIRCLE: usize = 3;
/// Each crate's source root.
const CRATES: &[&str] = &["src", "driver/src", "sim/src", "abi/src", "abi/gen/src"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of `file` under the crate root `src` (`a/b.rs` and `a/b/mod.rs` → [a, b]).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut m: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    if matches!(m.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        m.pop();
    }
    m
}

/// Code without comments (doc examples and prose mention paths that are not imports) and
/// without its trailing inline test module (whose `super` is the file itself).
fn strip_comments(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests {").next().unwrap_or(text);
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Every `crate::`/`super::`/`self::` path of the code, brace groups expanded, as segments.
fn paths(code: &str) -> Vec<Vec<String>> {
    fn expand(prefix: &[String], s: &str, out: &mut Vec<Vec<String>>) {
        let s = s.trim();
        if let Some(i) = s.find('{') {
            let head: Vec<String> = s[..i].split("::").map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect();
            let inner = &s[i + 1..s.rfind('}').unwrap_or(s.len())];
            let mut depth = 0;
            let mut start = 0;
            let p: Vec<String> = prefix.iter().cloned().chain(head).collect();
            for (k, ch) in inner.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&p, &inner[start..k], out);
                        start = k + 1;
                    }
                    _ => {}
                }
            }
            expand(&p, &inner[start..], out);
        } else {
            let segs = s.split(" as ").next().unwrap_or("").split("::").map(str::trim).filter(|x| !x.is_empty());
            out.push(prefix.iter().cloned().chain(segs.map(String::from)).collect());
        }
    }
    let mut out = Vec::new();
    for stmt in code.split(';') {
        let t = stmt.trim_start();
        let t = t.strip_prefix("pub ").or_else(|| t.strip_prefix("pub(crate) ")).unwrap_or(t);
        if let Some(rest) = t.strip_prefix("use ") {
            if rest.starts_with("crate::") || rest.starts_with("super::") || rest.starts_with("self::") {
                expand(&[], rest, &mut out);
            }
        }
    }
    // Inline paths outside `use`: crate::a::b.
    for (i, _) in code.match_indices("crate::") {
        if code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let tail: String = code[i..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
        out.push(tail.split("::").filter(|x| !x.is_empty()).map(String::from).collect());
    }
    out
}

/// The file behind the longest module prefix of `path` (relative to `module`).
fn resolve(modules: &BTreeMap<Vec<String>, PathBuf>, module: &[String], path: &[String]) -> Option<PathBuf> {
    let mut base: Vec<String> = module.to_vec();
    let mut segs = path;
    match segs.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            segs = &segs[1..];
        }
        Some("self") => segs = &segs[1..],
        Some("super") => {
            while segs.first().map(String::as_str) == Some("super") {
                base.pop();
                segs = &segs[1..];
            }
        }
        _ => return None,
    }
    let full: Vec<String> = base.into_iter().chain(segs.iter().cloned()).collect();
    (0..=full.len()).rev().find_map(|n| modules.get(&full[..n]).cloned())
}

/// The import graph of one crate: file → files it imports.
fn graph(src: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files.iter().map(|f| (module_of(src, f), f.clone())).collect();
    let mut g = BTreeMap::new();
    for f in &files {
        let code = strip_comments(&std::fs::read_to_string(f).unwrap());
        let module = module_of(src, f);
        let deps: BTreeSet<PathBuf> =
            paths(&code).iter().filter_map(|p| resolve(&modules, &module, p)).filter(|d| d != f).collect();
        g.insert(f.clone(), deps);
    }
    g
}

/// The elementary circles of more than `max` files (each once, from its least file).
fn circles<T: Ord + Clone>(g: &BTreeMap<T, BTreeSet<T>>, max: usize) -> Vec<Vec<T>> {
    fn walk<T: Ord + Clone>(g: &BTreeMap<T, BTreeSet<T>>, start: &T, path: &mut Vec<T>, max: usize, out: &mut Vec<Vec<T>>) {
        let last = path.last().unwrap().clone();
        for next in g.get(&last).into_iter().flatten() {
            if next == start && path.len() > max {
                out.push(path.clone());
            } else if next > start && !path.contains(next) {
                path.push(next.clone());
                walk(g, start, path, max, out);
                path.pop();
            }
        }
    }
    let mut out = Vec::new();
    for start in g.keys() {
        walk(g, start, &mut vec![start.clone()], max, &mut out);
    }
    out
}

#[test]
fn no_import_circle_of_more_than_three_files() {
    let mut bad = Vec::new();
    for krate in CRATES {
        for c in circles(&graph(&root().join(krate)), MAX_CIRCLE) {
            let names: Vec<String> = c.iter().map(|p| p.strip_prefix(root()).unwrap().display().to_string()).collect();
            bad.push(names.join(" → "));
        }
    }
    assert!(bad.is_empty(), "import circles of more than {MAX_CIRCLE} files:\n{}", bad.join("\n"));
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let g: BTreeMap<u8, BTreeSet<u8>> =
        [(1, [2].into()), (2, [3].into()), (3, [4].into()), (4, [1].into()), (5, [1].into())].into_iter().collect();
    assert_eq!(circles(&g, 3), vec![vec![1, 2, 3, 4]]);
    assert!(circles(&g, 4).is_empty());
    // Two 2-file circles through one file are not a 3-file circle.
    let star: BTreeMap<u8, BTreeSet<u8>> = [(1, [2, 3].into()), (2, [1].into()), (3, [1].into())].into_iter().collect();
    assert!(circles(&star, 2).is_empty());
    let code = "use crate::{system::{System, HwKind}, check::Check};\nuse super::plan::Span;\nfn f() { crate::trace::x(); }";
    let p = paths(code);
    assert!(p.contains(&vec!["crate".into(), "system".into(), "System".into()]), "{p:?}");
    assert!(p.contains(&vec!["super".into(), "plan".into(), "Span".into()]), "{p:?}");
    assert!(p.contains(&vec!["crate".into(), "trace".into(), "x".into()]), "{p:?}");
}

#[test]
fn no_source_file_over_700_lines() {
    let mut bad = Vec::new();
    for krate in CRATES {
        let mut files = Vec::new();
        rust_files(&root().join(krate), &mut files);
        for f in files {
            let tests = f.file_stem().is_some_and(|s| s == "tests");
            let n = std::fs::read_to_string(&f).unwrap().lines().count();
            if !tests && n > MAX_LINES {
                bad.push(format!("{}: {n} lines", f.display()));
            }
        }
    }
    assert!(bad.is_empty(), "non-test files over {MAX_LINES} lines:\n{}", bad.join("\n"));
}
