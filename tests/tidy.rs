//! Tidy checks: the architecture's invariants as tests, so that a change that breaks
//! one fails `cargo test` instead of waiting for a reviewer to notice.
//!
//! - **Layers** (`ARCHITECTURE.md`, "Layers"): a module of `src/` imports only from its
//!   own layer and the layers of the tiers below it ([`TIERS`]). The table is the one
//!   statement of the allowed directions; a new arrow upwards (or sideways) fails here.
//! - **No circles**: no two files of `src/` import from each other (a module's own
//!   file and the files of the modules inside it are one room and may).
//! - **Only `serve` reaches the gRPC edge**: the command line's other commands use the
//!   library's domain and store APIs, never the service's handlers ([`ONLY_FROM`]).
//! - **The domain core does no I/O and knows no transport**: `format`, `diagnostics`,
//!   `parse`, `validate` and `names` use neither gRPC, HTTP, storage, files, the network,
//!   processes nor the terminal; `store` knows nothing of gRPC ([`FORBIDDEN`]).
//! - **Every file says what it is**: each file of `src/` opens with a `//!` doc.
//! - **The repository stands alone**: no file refers to a directory beside the checkout.
//! - **`rust-version` is true**: it is the highest `rust-version` of the locked
//!   dependency tree (`cargo metadata`), the lowest toolchain that builds it.
//!
//! The checks read the source text with a small scanner (comments and literals blanked,
//! `use` trees expanded, `super::`/`self::` and child modules resolved, inline `mod`
//! blocks followed), not with rustc: enough to see every path that names a module of
//! the crate. Its own tests below plant violations in made-up trees and expect them found.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

// ------------------------------------------------------------------ the rules

/// The layers in tiers, lowest first: a layer may import from its own layer and from
/// every layer of a lower tier, never from a layer of its own tier or above. `pb` is
/// the generated entity model; `testdata` is the test corpus reader, compiled for the
/// library's unit tests only. `cli` is the binary (`src/main.rs`, `src/cli/`).
const TIERS: &[&[&str]] = &[
    &["pb", "testdata"],
    &["format", "diagnostics"],
    &["parse", "validate", "names"],
    &["store"],
    &["ingest", "aggregate"],
    &["service"],
    &["cli"],
];

/// The domain core: no transport, no storage, no I/O.
const CORE: &[&str] = &["format", "diagnostics", "parse", "validate", "names"];

/// Paths a layer must not use (outside its `#[cfg(test)]` code), with the reason.
const FORBIDDEN: &[(&[&str], &str, &str)] = &[
    (CORE, "tonic", "gRPC is the service's business"),
    (CORE, "tonic_types", "gRPC is the service's business"),
    (CORE, "http", "HTTP is the service's business"),
    (CORE, "tower", "transport layers are the service's business"),
    (
        CORE,
        "tower_http",
        "transport layers are the service's business",
    ),
    (CORE, "sled", "storage is the store's business"),
    (
        CORE,
        "tokio",
        "the domain core is synchronous and does no I/O",
    ),
    (CORE, "std::fs", "the domain core reads no files"),
    (CORE, "std::net", "the domain core opens no sockets"),
    (CORE, "std::process", "the domain core runs no processes"),
    (CORE, "println!", "only the command line prints"),
    (CORE, "eprintln!", "only the command line prints"),
    (CORE, "print!", "only the command line prints"),
    (CORE, "eprint!", "only the command line prints"),
    (CORE, "dbg!", "only the command line prints"),
    (&["store"], "tonic", "the store knows nothing of gRPC"),
    (&["store"], "tonic_types", "the store knows nothing of gRPC"),
    (&["store"], "http", "the store knows nothing of HTTP"),
    (&["store"], "println!", "only the command line prints"),
    (&["store"], "eprintln!", "only the command line prints"),
];

/// Layers that only some files of an allowed layer may import from.
const ONLY_FROM: &[(&str, &[&str], &str)] = &[(
    "service",
    &["src/main.rs", "src/cli/serve.rs"],
    "only `nianbao serve` starts the gRPC edge; other commands use the library's API",
)];

fn allowed(from: &str, to: &str) -> Result<bool, String> {
    let tier = |layer: &str| {
        TIERS
            .iter()
            .position(|t| t.contains(&layer))
            .ok_or_else(|| format!("layer `{layer}` is not in TIERS (tests/tidy.rs): add it"))
    };
    Ok(from == to || tier(to)? < tier(from)?)
}

// ------------------------------------------------------------------ the tests

#[test]
fn modules_import_only_from_their_own_layer_and_below() {
    let tree = Tree::read_src();
    let problems = tree.layer_violations();
    assert!(
        problems.is_empty(),
        "imports against the layering of ARCHITECTURE.md (allowed directions: TIERS in \
         tests/tidy.rs):\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_two_files_import_each_other() {
    let tree = Tree::read_src();
    let problems = tree.circles();
    assert!(
        problems.is_empty(),
        "files that import from each other (move what both need below both):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_domain_core_does_no_io_and_knows_no_transport() {
    let tree = Tree::read_src();
    let problems = tree.forbidden_uses();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_source_file_opens_with_a_module_doc() {
    let tree = Tree::read_src();
    let missing: Vec<&str> = tree
        .files
        .iter()
        .filter(|f| !f.text.trim_start().starts_with("//!"))
        .map(|f| f.path.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` module doc saying what they own: {missing:?}"
    );
}

#[test]
fn no_file_refers_to_a_directory_beside_the_checkout() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Spelled in two halves so that this file does not name it itself.
    let needle = format!("{}/{}", "..", "shared");
    let mut found = Vec::new();
    for path in files_under(root) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if String::from_utf8_lossy(&bytes).contains(&needle) {
            found.push(
                path.strip_prefix(root)
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
            );
        }
    }
    assert!(
        found.is_empty(),
        "these files refer to {needle}, which a lone clone does not have: {found:?}"
    );
}

#[test]
fn rust_version_is_the_lowest_the_locked_tree_builds_with() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let members: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    let mut needed: Option<(Vec<u32>, String)> = None;
    let mut declared = Vec::new();
    for p in meta["packages"].as_array().expect("packages") {
        let Some(rv) = p["rust_version"].as_str() else {
            continue;
        };
        let v = version(rv);
        let id = p["id"].as_str().unwrap_or_default();
        let name = format!("{} {}", p["name"].as_str().unwrap_or("?"), p["version"]);
        if members.contains(id) {
            declared.push((name, v));
        } else if needed.as_ref().is_none_or(|(n, _)| v > *n) {
            needed = Some((v, name));
        }
    }
    let (needed, by) = needed.expect("some locked package states a rust-version");
    assert!(
        !declared.is_empty(),
        "no workspace member states rust-version"
    );
    for (member, v) in declared {
        assert_eq!(
            v, needed,
            "{member}: rust-version {v:?}, but {by} in Cargo.lock needs {needed:?}: set \
             [workspace.package] rust-version in Cargo.toml to the highest rust-version of \
             the locked tree"
        );
    }
}

/// `1.88` and `1.88.0` are the same version.
fn version(s: &str) -> Vec<u32> {
    let mut v: Vec<u32> = s.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    while v.len() > 2 && v.last() == Some(&0) {
        v.pop();
    }
    v
}

/// Every file of the repository, but build outputs and git's own.
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | ".git" | "data" | "node_modules")
                    && !name.starts_with(".venv")
                {
                    stack.push(path);
                }
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

// ------------------------------------------------------------------ the source tree

/// Which compilation unit a file belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Lib,
    Bin,
}

struct File {
    /// Relative to the crate, `/`-separated.
    path: String,
    unit: Unit,
    /// The module the file is, from its unit's root.
    module: Vec<String>,
    text: String,
}

struct Tree {
    files: Vec<File>,
}

/// A path of the crate named in a file.
struct Reference {
    /// The file's module at the reference (inline `mod` blocks included).
    unit: Unit,
    target: Vec<String>,
    line: usize,
    in_test: bool,
}

impl Tree {
    fn read_src() -> Tree {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        for path in files_under(&root.join("src")) {
            if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(root)
                    .expect("under the crate")
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = std::fs::read_to_string(&path).expect("a UTF-8 source file");
                sources.push((rel, text));
            }
        }
        assert!(
            sources.len() > 20,
            "too few files under src/: {}",
            sources.len()
        );
        Tree::new(sources)
    }

    /// A tree from `(path, text)` pairs, paths such as `src/store/mod.rs`.
    fn new(sources: Vec<(String, String)>) -> Tree {
        let files = sources
            .into_iter()
            .map(|(path, text)| {
                let (unit, module) = module_of(&path);
                File {
                    path,
                    unit,
                    module,
                    text,
                }
            })
            .collect();
        Tree { files }
    }

    /// The file that holds a module path: the longest prefix that is a file's module.
    fn file_of(&self, unit: Unit, target: &[String]) -> Option<&File> {
        (0..=target.len()).rev().find_map(|n| {
            self.files
                .iter()
                .find(|f| f.unit == unit && f.module == target[..n])
        })
    }

    /// The references of every file, resolved to absolute module paths.
    fn references(&self) -> Vec<(&File, Reference)> {
        let mut out = Vec::new();
        for f in &self.files {
            for r in references(f) {
                out.push((f, r));
            }
        }
        out
    }

    fn layer_violations(&self) -> Vec<String> {
        let mut problems = BTreeSet::new();
        for (f, r) in self.references() {
            let Some(from) = layer(f.unit, &f.module) else {
                continue;
            };
            let Some(to) = layer(r.unit, &r.target) else {
                continue;
            };
            match allowed(from, to) {
                Ok(true) => {
                    let only = ONLY_FROM.iter().find(|(layer, files, _)| {
                        *layer == to && from != to && !files.contains(&f.path.as_str())
                    });
                    if let Some((_, _, why)) = only {
                        problems.insert(format!(
                            "{}:{}: imports `{}` from `{to}`: {why}",
                            f.path,
                            r.line,
                            r.target.join("::")
                        ));
                    }
                }
                Ok(false) => {
                    problems.insert(format!(
                        "{}:{}: `{from}` imports `{}` from `{to}`, a layer it may not import from",
                        f.path,
                        r.line,
                        r.target.join("::")
                    ));
                }
                Err(e) => {
                    problems.insert(format!("{}: {e}", f.path));
                }
            }
        }
        problems.into_iter().collect()
    }

    fn circles(&self) -> Vec<String> {
        let mut edges: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (f, r) in self.references() {
            if let Some(to) = self.file_of(r.unit, &r.target) {
                // A module and the modules inside it are one room: children use what
                // their parent defines, and the parent wires its children together.
                let nested = f.unit == to.unit
                    && (f.module.starts_with(&to.module) || to.module.starts_with(&f.module));
                if !nested {
                    edges.entry((&f.path, &to.path)).or_insert(r.line);
                }
            }
        }
        let mut problems = Vec::new();
        for (&(a, b), line) in &edges {
            if a < b {
                if let Some(back) = edges.get(&(b, a)) {
                    problems.push(format!("{a}:{line} <-> {b}:{back}"));
                }
            }
        }
        problems
    }

    fn forbidden_uses(&self) -> Vec<String> {
        let mut problems = BTreeSet::new();
        for f in &self.files {
            let Some(layer) = layer(f.unit, &f.module) else {
                continue;
            };
            let code = Code::new(&f.text);
            for (layers, what, why) in FORBIDDEN {
                if !layers.contains(&layer) {
                    continue;
                }
                for at in code.uses_of(what) {
                    if !code.in_test(at) {
                        problems.insert(format!(
                            "{}:{}: `{layer}` uses `{what}`: {why}",
                            f.path,
                            code.line(at)
                        ));
                    }
                }
            }
        }
        problems.into_iter().collect()
    }
}

/// `src/lib.rs` → (Lib, []), `src/store/mod.rs` → (Lib, [store]),
/// `src/cli/parse.rs` → (Bin, [cli, parse]), `src/main.rs` → (Bin, []).
fn module_of(path: &str) -> (Unit, Vec<String>) {
    let rel = path.strip_prefix("src/").unwrap_or(path);
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    let unit = if parts[0] == "main" || parts[0] == "cli" {
        Unit::Bin
    } else {
        Unit::Lib
    };
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    (unit, parts)
}

/// The layer of a module path: its first segment in the library, `cli` in the binary;
/// `None` for a crate root.
fn layer(unit: Unit, module: &[String]) -> Option<&str> {
    match unit {
        Unit::Bin => Some("cli"),
        Unit::Lib => module.first().map(String::as_str),
    }
}

// ------------------------------------------------------------------ the scanner

/// Source text with comments, strings and character literals blanked (same
/// byte offsets), and its inline `mod` blocks.
struct Code {
    text: String,
    /// `(name, body start, body end, cfg(test))` of every inline `mod name { … }`.
    mods: Vec<(String, usize, usize, bool)>,
    /// `mod name;` declarations at the file's top level.
    children: BTreeSet<String>,
}

impl Code {
    fn new(source: &str) -> Code {
        let text = blank(source);
        let mut mods = Vec::new();
        let mut children = BTreeSet::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while let Some(at) = find_word(&text, "mod", i) {
            i = at + 3;
            let rest = &text[i..];
            let name_start = i + (rest.len() - rest.trim_start().len());
            let name_len = text[name_start..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(text.len() - name_start);
            if name_len == 0 {
                continue;
            }
            let name = text[name_start..name_start + name_len].to_string();
            let after = name_start + name_len;
            let next = text[after..].trim_start();
            let next_at = text.len() - next.len();
            match bytes.get(next_at) {
                Some(b';') if !mods.iter().any(|(_, s, e, _)| at > *s && at < *e) => {
                    children.insert(name);
                }
                Some(b'{') => {
                    let end = matching_brace(bytes, next_at);
                    // The item's attributes: what lies between the previous item and `mod`.
                    let item_start = text[..at].rfind([';', '}', '{']).map_or(0, |k| k + 1);
                    let test = text[item_start..at].contains("#[cfg(test)]");
                    mods.push((name, next_at + 1, end, test));
                }
                _ => {}
            }
        }
        Code {
            text,
            mods,
            children,
        }
    }

    fn line(&self, at: usize) -> usize {
        self.text[..at].matches('\n').count() + 1
    }

    fn in_test(&self, at: usize) -> bool {
        self.mods
            .iter()
            .any(|(_, s, e, t)| *t && at >= *s && at < *e)
    }

    /// The inline modules around an offset, outermost first.
    fn inline_path(&self, at: usize) -> Vec<(String, usize)> {
        let mut around: Vec<&(String, usize, usize, bool)> = self
            .mods
            .iter()
            .filter(|(_, s, e, _)| at >= *s && at < *e)
            .collect();
        around.sort_by_key(|(_, s, _, _)| *s);
        around.iter().map(|(n, s, _, _)| (n.clone(), *s)).collect()
    }

    /// Modules declared inside the inline module that starts at `start` (or at the top).
    fn children_in(&self, scope: Option<usize>) -> BTreeSet<String> {
        match scope {
            None => {
                let mut c = self.children.clone();
                for (n, s, _, _) in &self.mods {
                    if self.inline_path(*s - 1).is_empty() {
                        c.insert(n.clone());
                    }
                }
                c
            }
            Some(start) => self
                .mods
                .iter()
                .filter(|(_, s, _, _)| {
                    let path = self.inline_path(*s - 1);
                    path.last().map(|(_, p)| *p) == Some(start)
                })
                .map(|(n, _, _, _)| n.clone())
                .collect(),
        }
    }

    /// Offsets where a path or macro is used: `tonic` matches `tonic::…` and `use
    /// tonic…`; `std::fs` matches `std::fs…`; `println!` matches the macro.
    fn uses_of(&self, what: &str) -> Vec<usize> {
        let mut out = Vec::new();
        if let Some(mac) = what.strip_suffix('!') {
            let mut i = 0;
            while let Some(at) = find_word(&self.text, mac, i) {
                i = at + mac.len();
                if self.text[i..].starts_with('!') {
                    out.push(at);
                }
            }
            return out;
        }
        for (at, path) in self.paths() {
            let joined = path.join("::");
            if joined == what || joined.starts_with(&format!("{what}::")) {
                out.push(at);
            }
        }
        out
    }

    /// Every path in the code: the leaves of `use` trees, and paths of two or more
    /// segments elsewhere, with their offsets.
    fn paths(&self) -> Vec<(usize, Vec<String>)> {
        let mut out = Vec::new();
        let mut in_use: Vec<(usize, usize)> = Vec::new();
        let mut i = 0;
        while let Some(at) = find_word(&self.text, "use", i) {
            i = at + 3;
            let Some(end) = self.text[i..].find(';').map(|e| e + i) else {
                break;
            };
            in_use.push((at, end));
            for p in expand_use(&self.text[i..end]) {
                out.push((at, p));
            }
            i = end;
        }
        let bytes = self.text.as_bytes();
        let mut j = 0;
        while j < bytes.len() {
            let c = bytes[j];
            let starts_ident = (c.is_ascii_alphabetic() || c == b'_')
                && (j == 0 || !is_ident_byte(bytes[j - 1]))
                && (j < 2 || &bytes[j - 2..j] != b"::");
            if !starts_ident || in_use.iter().any(|(s, e)| j >= *s && j < *e) {
                j += 1;
                continue;
            }
            let (segments, end) = path_at(&self.text, j);
            if segments.len() >= 2 {
                out.push((j, segments));
            }
            j = end.max(j + 1);
        }
        out
    }
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The `a::b::c` path starting at `at` (whitespace allowed around `::`), and its end.
fn path_at(text: &str, at: usize) -> (Vec<String>, usize) {
    let bytes = text.as_bytes();
    let mut segments = Vec::new();
    let mut i = at;
    loop {
        let start = i;
        while i < bytes.len() && is_ident_byte(bytes[i]) {
            i += 1;
        }
        if i == start {
            break;
        }
        segments.push(text[start..i].to_string());
        let rest = &text[i..];
        let trimmed = rest.trim_start();
        if let Some(after) = trimmed.strip_prefix("::") {
            let after_trim = after.trim_start();
            let next = text.len() - after_trim.len();
            if after_trim
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            {
                i = next;
                continue;
            }
        }
        break;
    }
    (segments, i)
}

/// The leaf paths of a `use` tree (`a::{b, c::{d, e as f}, self}` → a::b, a::c::d,
/// a::c::e, a); globs name their module.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn walk(s: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let s = s.trim();
        if s.is_empty() {
            return;
        }
        if let Some(open) = s.find('{') {
            let head: Vec<String> = s[..open]
                .split("::")
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect();
            let mut base = prefix.to_vec();
            base.extend(head);
            let close = s.rfind('}').unwrap_or(s.len());
            let inner = &s[open + 1..close];
            let mut depth = 0;
            let mut start = 0;
            for (k, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        walk(&inner[start..k], &base, out);
                        start = k + 1;
                    }
                    _ => {}
                }
            }
            walk(&inner[start..], &base, out);
            return;
        }
        let s = s.split(" as ").next().unwrap_or(s).trim();
        let mut path = prefix.to_vec();
        for seg in s.split("::").map(str::trim) {
            match seg {
                "" | "*" => {}
                "self" if !path.is_empty() => {}
                _ => path.push(seg.to_string()),
            }
        }
        if !path.is_empty() {
            out.push(path);
        }
    }
    let mut out = Vec::new();
    let tree = tree.trim().trim_start_matches("::");
    walk(tree, &[], &mut out);
    out
}

/// The references of one file to modules of its crate (or, from the binary, of the
/// library), resolved to absolute module paths.
fn references(f: &File) -> Vec<Reference> {
    let code = Code::new(&f.text);
    let mut out = Vec::new();
    for (at, path) in code.paths() {
        let inline = code.inline_path(at);
        let mut here = f.module.clone();
        here.extend(inline.iter().map(|(n, _)| n.clone()));
        let scope = inline.last().map(|(_, s)| *s);
        let first = path[0].as_str();
        let (unit, target) = match first {
            "crate" => (f.unit, path[1..].to_vec()),
            "nianbao" if f.unit == Unit::Bin => (Unit::Lib, path[1..].to_vec()),
            "self" => {
                let mut t = here.clone();
                t.extend(path[1..].iter().cloned());
                (f.unit, t)
            }
            "super" => {
                let mut t = here.clone();
                let mut rest = &path[..];
                while rest.first().map(String::as_str) == Some("super") {
                    t.pop();
                    rest = &rest[1..];
                }
                t.extend(rest.iter().cloned());
                (f.unit, t)
            }
            _ if code.children_in(scope).contains(first) => {
                let mut t = here.clone();
                t.extend(path.iter().cloned());
                (f.unit, t)
            }
            _ => continue,
        };
        if target.is_empty() {
            continue;
        }
        out.push(Reference {
            unit,
            target,
            line: code.line(at),
            in_test: code.in_test(at),
        });
    }
    out
}

/// The offset of the next `word` (as a whole identifier) at or after `from`.
fn find_word(text: &str, word: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = from;
    while let Some(k) = text.get(i..)?.find(word) {
        let at = i + k;
        let before = at == 0 || !is_ident_byte(bytes[at - 1]);
        let after = bytes
            .get(at + word.len())
            .is_none_or(|b| !is_ident_byte(*b));
        if before && after {
            return Some(at);
        }
        i = at + word.len();
    }
    None
}

fn matching_brace(bytes: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    for (k, b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    bytes.len()
}

/// Blanks comments, string, byte-string, raw-string and character literals with
/// spaces (newlines kept), so that what remains is code at the same offsets.
fn blank(source: &str) -> String {
    let b = source.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    let wipe = |out: &mut Vec<u8>, from: usize, to: usize| {
        for x in &mut out[from..to.min(b.len())] {
            if *x != b'\n' {
                *x = b' ';
            }
        }
    };
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            let end = source[i..].find('\n').map_or(b.len(), |e| i + e);
            wipe(&mut out, i, end);
            i = end;
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            let mut k = i;
            while k < b.len() {
                if b[k] == b'/' && b.get(k + 1) == Some(&b'*') {
                    depth += 1;
                    k += 2;
                } else if b[k] == b'*' && b.get(k + 1) == Some(&b'/') {
                    depth -= 1;
                    k += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    k += 1;
                }
            }
            wipe(&mut out, i, k);
            i = k;
        } else if (c == b'r' || (c == b'b' && b.get(i + 1) == Some(&b'r')))
            && (i == 0 || !is_ident_byte(b[i - 1]))
            && raw_string_start(b, i).is_some()
        {
            let (hashes, body) = raw_string_start(b, i).unwrap_or((0, i));
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let end = b[body..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |p| body + p + close.len());
            wipe(&mut out, i, end);
            i = end;
        } else if c == b'"' {
            let mut k = i + 1;
            while k < b.len() && b[k] != b'"' {
                k += if b[k] == b'\\' { 2 } else { 1 };
            }
            wipe(&mut out, i, k + 1);
            i = k + 1;
        } else if c == b'\'' {
            // A character literal ('a', '\n', '\u{..}', '中'), not a lifetime ('a).
            let rest = &source[i + 1..];
            let mut chars = rest.char_indices();
            match chars.next() {
                Some((_, '\\')) => {
                    let end = rest[1..].find('\'').map_or(b.len(), |e| i + 1 + 1 + e + 1);
                    wipe(&mut out, i, end);
                    i = end;
                }
                Some((_, ch)) if rest[ch.len_utf8()..].starts_with('\'') => {
                    let end = i + 1 + ch.len_utf8() + 1;
                    wipe(&mut out, i, end);
                    i = end;
                }
                _ => i += 1,
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

/// `r"`, `r#"`, `br##"`…: the number of hashes and where the body starts.
fn raw_string_start(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let mut k = i + if b[i] == b'b' { 2 } else { 1 };
    let mut hashes = 0;
    while b.get(k) == Some(&b'#') {
        hashes += 1;
        k += 1;
    }
    (b.get(k) == Some(&b'"')).then_some((hashes, k + 1))
}

// ------------------------------------------------------------------ the checker's own tests

fn tree(files: &[(&str, &str)]) -> Tree {
    Tree::new(
        files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect(),
    )
}

#[test]
fn a_planted_upward_import_is_found() {
    let t = tree(&[
        ("src/lib.rs", "//! x\npub mod format;\npub mod store;\n"),
        (
            "src/format/mod.rs",
            "//! x\nuse crate::store::Store;\nfn f(s: &Store) {}\n",
        ),
        ("src/store/mod.rs", "//! x\npub struct Store;\n"),
    ]);
    let v = t.layer_violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].starts_with("src/format/mod.rs:2: `format` imports `store::Store`"));
}

#[test]
fn upward_paths_are_found_in_every_spelling() {
    let t = tree(&[
        ("src/lib.rs", "//! x\n"),
        (
            "src/parse/mod.rs",
            "//! x\nmod meta;\nuse crate::{pb::X, names::{self, AgencyId as A}};\n",
        ),
        (
            "src/parse/meta.rs",
            "//! x\nfn f() { let _ = super::super::store::open(); crate :: service::x(); }\n\
             const S: &str = \"crate::cli::x\"; // crate::ingest::y\n",
        ),
    ]);
    let v = t.layer_violations();
    let named: Vec<&str> = v
        .iter()
        .map(|s| s.split('`').nth(3).unwrap_or_default())
        .collect();
    assert_eq!(
        named,
        ["service::x", "store::open", "names::AgencyId", "names"]
    );
}

#[test]
fn the_binary_may_use_anything_and_nothing_may_use_the_binary() {
    let t = tree(&[
        (
            "src/main.rs",
            "//! x\nmod cli;\nuse nianbao::service::serve;\n",
        ),
        ("src/cli/mod.rs", "//! x\nuse nianbao::store::Store;\n"),
        ("src/service/mod.rs", "//! x\nuse crate::ingest::Request;\n"),
    ]);
    assert!(t.layer_violations().is_empty());
    let t = tree(&[("src/ingest.rs", "//! x\nuse crate::service::Config;\n")]);
    assert_eq!(t.layer_violations().len(), 1);
}

#[test]
fn a_file_pair_that_imports_each_other_is_a_circle() {
    let t = tree(&[
        (
            "src/validate/mod.rs",
            "//! x\nmod engine;\nmod rules;\npub struct Rule;\n",
        ),
        (
            "src/validate/engine.rs",
            "//! x\nuse super::rules::narrative::read;\n",
        ),
        ("src/validate/rules/mod.rs", "//! x\npub mod narrative;\n"),
        (
            "src/validate/rules/narrative.rs",
            "//! x\nuse crate::validate::engine::Ctx;\npub fn read() {}\n",
        ),
    ]);
    assert_eq!(
        t.circles(),
        ["src/validate/engine.rs:2 <-> src/validate/rules/narrative.rs:2"]
    );
}

#[test]
fn tests_inside_a_file_resolve_super_to_the_file() {
    let t = tree(&[
        ("src/store/mod.rs", "//! x\nmod read;\npub struct Store;\n"),
        (
            "src/store/read.rs",
            "//! x\nuse super::Store;\n#[cfg(test)]\nmod tests {\n    use super::*;\n    \
             use super::super::Store as S;\n}\n",
        ),
    ]);
    let refs: Vec<String> = t
        .references()
        .iter()
        .map(|(_, r)| {
            format!(
                "{}{}",
                r.target.join("::"),
                if r.in_test { " (test)" } else { "" }
            )
        })
        .collect();
    assert_eq!(
        refs,
        ["store::Store", "store::read (test)", "store::Store (test)"]
    );
}

#[test]
fn io_in_the_domain_core_is_found_outside_its_tests() {
    let t = tree(&[(
        "src/parse/decode.rs",
        "//! x\nuse std::fs;\nfn f() { println!(\"x\"); let s = \"tonic::Status\"; }\n\
         #[cfg(test)]\nmod tests {\n    fn g() { std::fs::read(\"x\"); }\n}\n",
    )]);
    let v = t.forbidden_uses();
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0].contains(":2: `parse` uses `std::fs`"), "{v:?}");
    assert!(v[1].contains(":3: `parse` uses `println!`"), "{v:?}");
}

#[test]
fn the_scanner_blanks_literals_and_comments_but_not_lifetimes() {
    let source = "fn f<'a>(x: &'a str) -> char { let _ = r#\"crate::a\"#; '\"' } // crate::b";
    let code = blank(source);
    assert!(code.contains("<'a>") && code.contains("&'a str"), "{code}");
    assert!(!code.contains("crate::"), "{code}");
    assert!(!code.contains('"'), "{code}");
    assert_eq!(code.len(), source.len());
}
