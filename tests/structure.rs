//! The shape of the code, checked: every source file says what it owns in a `//!` line, the
//! top-level modules form a layering without cycles (a module never reaches back up to one that
//! uses it), and integration tests use the helpers of tests/common instead of copies of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module a file belongs to (`src/api/read.rs` -> `api`, `src/cli.rs` -> `cli`).
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(src()).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// `text` with comments, string, byte-string, raw-string and character literals blanked out
/// (line breaks kept), so that neither a path in a string nor a brace in one is read as code.
fn code_only(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < c.len() {
        let ident_before = i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
        // Raw strings: r"..", r#".."#, br#".."#.
        let raw_at = if !ident_before && c[i] == 'r' {
            Some(i + 1)
        } else if !ident_before && c[i] == 'b' && c.get(i + 1) == Some(&'r') {
            Some(i + 2)
        } else {
            None
        };
        if let Some(mut j) = raw_at {
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) == Some(&'"') {
                let close: Vec<char> = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let mut k = j + 1;
                while k < c.len() && !c[k..].starts_with(&close) {
                    k += 1;
                }
                let end = (k + close.len()).min(c.len());
                for &ch in &c[i..end] {
                    blank(&mut out, ch);
                }
                i = end;
                continue;
            }
        }
        match c[i] {
            '/' if c.get(i + 1) == Some(&'/') => {
                while i < c.len() && c[i] != '\n' {
                    out.push(' ');
                    i += 1;
                }
            }
            '/' if c.get(i + 1) == Some(&'*') => {
                let mut depth = 0;
                while i < c.len() {
                    if c[i..].starts_with(&['/', '*']) {
                        depth += 1;
                        out.push_str("  ");
                        i += 2;
                    } else if c[i..].starts_with(&['*', '/']) {
                        depth -= 1;
                        out.push_str("  ");
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        blank(&mut out, c[i]);
                        i += 1;
                    }
                }
            }
            '"' => {
                blank(&mut out, '"');
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' {
                        blank(&mut out, c[i]);
                        i += 1;
                    }
                    if i < c.len() {
                        blank(&mut out, c[i]);
                        i += 1;
                    }
                }
                if i < c.len() {
                    blank(&mut out, '"');
                    i += 1;
                }
            }
            // A character literal ('a', '\n', '\u{41}'); a lifetime ('a) stays.
            '\'' if c.get(i + 1) == Some(&'\\') || c.get(i + 2) == Some(&'\'') => {
                // After a backslash the next character is escaped, even a quote: '\''.
                let mut k = if c.get(i + 1) == Some(&'\\') {
                    i + 3
                } else {
                    i + 2
                };
                while k < c.len() && c[k] != '\'' {
                    k += 1;
                }
                for &ch in &c[i..(k + 1).min(c.len())] {
                    blank(&mut out, ch);
                }
                i = k + 1;
            }
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    out
}

/// The tokens of code: identifiers, `::`, and every other character but white space.
fn tokens(code: &str) -> Vec<String> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if c[i].is_alphanumeric() || c[i] == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(c[start..i].iter().collect());
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            out.push("::".into());
            i += 2;
        } else {
            if !c[i].is_whitespace() {
                out.push(c[i].to_string());
            }
            i += 1;
        }
    }
    out
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// The first names of the items of the `{...}` group that opens at `tokens[at]`: `{a, b::c,
/// d::{e, f}}` -> a, b, d (the names one level down, e and f, are not first names).
fn group_heads(tokens: &[String], at: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect_head = false;
    for t in &tokens[at..] {
        match t.as_str() {
            "{" => {
                depth += 1;
                expect_head = depth == 1;
            }
            "}" => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            "," if depth == 1 => expect_head = true,
            t if expect_head && is_ident(t) => {
                heads.push(t.to_string());
                expect_head = false;
            }
            _ => expect_head = false,
        }
    }
    heads
}

/// Top-level modules a file uses: paths from the crate root (`crate::a`, `crate::{a, b::c}`,
/// nested groups, `$crate::`), and `super::` paths that climb out of the file's top-level
/// module (counting inline `mod name { ... }` blocks). `module` is the file's module path
/// (`src/api/read.rs` -> [api, read], `src/api/mod.rs` -> [api]). Comments and strings are left
/// out.
fn uses(module: &[String], text: &str) -> BTreeSet<String> {
    let tokens = tokens(&code_only(text));
    let mut found = BTreeSet::new();
    // Inline modules open at a brace depth: (name, depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        match t {
            "{" => depth += 1,
            "}" => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            "mod" if tokens.get(i + 2).is_some_and(|t| t == "{") => {
                inline.push((tokens[i + 1].clone(), depth + 1));
            }
            _ => {}
        }
        let prefix_ok = i == 0 || tokens[i - 1] != "::";
        let climbs = if t == "crate" && prefix_ok {
            Some(usize::MAX)
        } else if t == "super" && prefix_ok {
            let mut k = 0;
            while tokens.get(i + 2 * k) == Some(&"super".to_string())
                && tokens.get(i + 2 * k + 1).is_some_and(|t| t == "::")
            {
                k += 1;
            }
            Some(k)
        } else {
            None
        };
        if let Some(k) = climbs {
            let here = module.len() + inline.len();
            // The first segment after the climb, at the crate root.
            let after = if k == usize::MAX { i + 2 } else { i + 2 * k };
            let at_root = k == usize::MAX || k >= here;
            if at_root && tokens.get(after - 1).is_some_and(|t| t == "::") {
                match tokens.get(after).map(String::as_str) {
                    Some("{") => found.extend(group_heads(&tokens, after)),
                    Some(name) if is_ident(name) => {
                        found.insert(name.to_string());
                    }
                    _ => {}
                }
            }
        }
        i += 1;
    }
    found.remove("self");
    found.remove("super");
    found
}

/// The module path of a source file: `src/api/read.rs` -> [api, read], `src/api/mod.rs` -> [api].
fn module_path(path: &Path) -> Vec<String> {
    let rel = path.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

#[test]
fn the_import_scan_sees_grouped_nested_and_super_paths() {
    let m = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let text = r##"
        use crate::{alpha, beta::Thing, gamma::{delta, epsilon::Zeta}};
        use crate::eta;
        fn f() { let _ = crate::theta::call(); let _ = "crate::in_a_string"; }
        // crate::in_a_comment
        /* crate::in_a_block { */
        const RAW: &str = r#"crate::in_a_raw_string { "#;
        const C: char = '{';
        const Q: char = '\'';
        const B: u8 = b'}';
        fn lifetimes<'a>(x: &'a str) -> &'a str { x }
        use super::sibling;
        mod tests {
            use super::*;
            use super::super::cousin;
            use super::super::super::{iota, kappa::Lambda};
        }
        macro_rules! m { () => { $crate::mu::call() }; }
    "##;
    // In src/api/read.rs, `super::` is api, `super::super::` from its tests is api too, and
    // three steps up from the tests is the crate root.
    assert_eq!(
        uses(&m(&["api", "read"]), text),
        set(&[
            "alpha", "beta", "gamma", "eta", "theta", "iota", "kappa", "mu"
        ])
    );
    // In src/api/mod.rs, `super::sibling` climbs to the crate root, and so does `super::super::`
    // from its tests.
    assert_eq!(
        uses(&m(&["api"]), text),
        set(&[
            "alpha", "beta", "gamma", "eta", "theta", "sibling", "cousin", "iota", "kappa", "mu"
        ])
    );
    assert_eq!(module_path(&src().join("api/mod.rs")), m(&["api"]));
    assert_eq!(
        module_path(&src().join("feeds/format/csv.rs")),
        m(&["feeds", "format", "csv"])
    );
    assert_eq!(module_path(&src().join("cli.rs")), m(&["cli"]));
}

#[test]
fn every_source_file_says_what_it_owns() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            !text.lines().take(3).any(|l| l.starts_with("//!"))
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` line: {missing:?}"
    );
}

#[test]
fn top_level_modules_have_no_import_cycles() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let module = module_of(f);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let entry = graph.entry(module.clone()).or_default();
        for used in uses(&module_path(f), &text) {
            if used != module {
                entry.insert(used);
            }
        }
    }
    assert!(
        graph.len() > 10,
        "the scan found too few modules: {graph:?}"
    );
    // Depth-first search for a back edge; report the cycle it closes.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = path.iter().position(|p| p == next).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(next, graph, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0 {
            let mut path = Vec::new();
            if let Some(cycle) = visit(node, &graph, &mut state, &mut path) {
                panic!("import cycle between modules: {}", cycle.join(" -> "));
            }
        }
    }
    // The layering the flow depends on, spelled out.
    for (low, high) in [
        ("domain", "feeds"),
        ("domain", "config"),
        ("app", "api"),
        ("app", "server"),
        ("live", "api"),
        ("demo", "cli"),
    ] {
        assert!(
            !graph.get(low).is_some_and(|g| g.contains(high)),
            "`{low}` must not use `{high}`"
        );
    }
}

/// The free functions of `text` (at the top level: not methods, not functions inside another
/// item): the name, and the whole text from `fn` to the closing brace with white space removed
/// (comments and strings blanked first).
fn functions(text: &str) -> Vec<(String, String)> {
    let code: Vec<char> = code_only(text).chars().collect();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < code.len() {
        match code[i] {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        let starts = depth == 0
            && code[i..].starts_with(&['f', 'n', ' '])
            && (i == 0 || !(code[i - 1].is_alphanumeric() || code[i - 1] == '_'));
        if !starts {
            i += 1;
            continue;
        }
        let name: String = code[i + 3..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .collect();
        // The body: from the first `{` (unless a `;` ends a declaration first) to its match.
        let mut k = i;
        while k < code.len() && code[k] != '{' && code[k] != ';' {
            k += 1;
        }
        if k >= code.len() || code[k] == ';' {
            i = k;
            continue;
        }
        let mut inner = 0;
        let mut end = k;
        while end < code.len() {
            match code[end] {
                '{' => inner += 1,
                '}' => {
                    inner -= 1;
                    if inner == 0 {
                        break;
                    }
                }
                _ => {}
            }
            end += 1;
        }
        let end = end.min(code.len() - 1);
        let whole: String = code[i..=end]
            .iter()
            .filter(|c| !c.is_whitespace())
            .collect();
        if !name.is_empty() {
            out.push((name, whole));
        }
        i = end + 1;
    }
    out
}

/// Helpers that live in tests/common only, by name: a test file that needs one of them uses the
/// common one (with its own arguments) rather than a copy under the same name.
const COMMON_ONLY: &[&str] = &[
    "close",
    "rfc3339",
    "open_ro",
    "department_token",
    "cli_token",
    "config_dir",
    "client",
    "metrics",
    "jakarta_date",
    "write_config",
];

/// Test files that other work holds and that keep a copy (to be removed there): tests/report.rs
/// has its own `close` (the same comparison with a longer message).
const KEEPS_A_COPY: &[(&str, &str)] = &[("report.rs", "close")];

#[test]
fn integration_tests_use_the_common_helpers_instead_of_copies() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut common_files = Vec::new();
    sources(&tests.join("common"), &mut common_files);
    let common: Vec<(String, String)> = common_files
        .iter()
        .flat_map(|f| functions(&std::fs::read_to_string(f).unwrap()))
        .collect();
    for name in COMMON_ONLY {
        assert!(
            common.iter().any(|(n, _)| n == name),
            "`{name}` is not in tests/common"
        );
    }
    let mut copies = Vec::new();
    for entry in std::fs::read_dir(&tests).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        for (name, whole) in functions(&std::fs::read_to_string(&path).unwrap()) {
            if KEEPS_A_COPY.contains(&(file.as_str(), name.as_str())) {
                continue;
            }
            let same_body = common.iter().any(|(n, w)| *n == name && *w == whole);
            if same_body || COMMON_ONLY.contains(&name.as_str()) {
                copies.push(format!("{file}: fn {name}"));
            }
        }
    }
    assert!(
        copies.is_empty(),
        "integration tests define helpers that tests/common has (use the common one): {copies:?}"
    );
}

#[test]
fn the_helper_scan_finds_functions_and_their_bodies() {
    let text = r#"
        /// fn in_a_comment() {}
        pub fn close(a: &Value, b: f64) {
            let s = "fn in_a_string() {";
            assert!(a.as_f64() == Some(b), "{s}");
        }
        impl Drop for Daemon {
            fn drop(&mut self) {}
        }
        mod inner {
            fn nested() {}
        }
        extern "C" {
            fn declared();
        }
        async fn after() -> u8 { if true { 1 } else { 2 } }
    "#;
    let found = functions(text);
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["close", "after"]);
    assert!(
        found[0].1.starts_with("fnclose(a:&Value,b:f64){"),
        "{}",
        found[0].1
    );
    assert_eq!(found[1].1, "fnafter()->u8{iftrue{1}else{2}}");
}
