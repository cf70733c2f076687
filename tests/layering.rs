//! The import rules of `docs/architecture.md`, checked over every `.rs`
//! file under `src/`: which top-level module of the crate may use which
//! (`crate::…` paths in code; comments and string literals do not count),
//! and where `unsafe` may appear. Plain Rust, no EAL.
//!
//! A failure names the file, the line and the rule it breaks. A new
//! top-level module fails too until it has a row in [`RULES`] (and in the
//! table of `docs/architecture.md`).

use std::fs;
use std::path::{Path, PathBuf};

/// Top-level modules (a directory `src/NAME/` or a file `src/NAME.rs`) and
/// the other top-level modules each may use. The binaries (`main.rs`,
/// `bin/`) may use anything; `lib.rs` only declares the modules.
const RULES: &[(&str, &[&str])] = &[
    ("wire", &[]),
    ("index", &[]),
    ("xlat", &["wire"]),
    ("config", &["wire", "xlat", "index"]),
    ("nat64", &["wire", "xlat", "index", "config"]),
    ("dpdk", &["wire", "xlat"]),
    (
        "dataplane",
        &["wire", "xlat", "index", "config", "nat64", "dpdk"],
    ),
    (
        "control",
        &[
            "wire",
            "xlat",
            "index",
            "config",
            "nat64",
            "dpdk",
            "dataplane",
        ],
    ),
    (
        "fuzzing",
        &["wire", "xlat", "index", "config", "nat64", "dataplane"],
    ),
    ("dns64", &["wire", "xlat", "config", "index"]),
];

/// Test code (`#[cfg(test)]` items and `tests.rs` files) may also run the
/// fuzz harnesses over their seed inputs.
const TEST_ONLY: &[&str] = &["fuzzing"];

/// The only module whose code may contain `unsafe`.
const UNSAFE_MODULE: &str = "dpdk";

/// Where a file sits in the crate.
#[derive(Debug, PartialEq)]
enum Place<'a> {
    /// Under one of [`RULES`]'s modules.
    Module(&'a str),
    /// `main.rs` or `bin/`: may use anything.
    Binary,
    /// `lib.rs`.
    Root,
    /// A top-level module [`RULES`] does not know.
    Unknown(String),
}

fn place(rel: &Path) -> Place<'static> {
    let first = rel
        .components()
        .next()
        .and_then(|c| c.as_os_str().to_str())
        .unwrap_or_default();
    let name = first.strip_suffix(".rs").unwrap_or(first);
    match name {
        "lib" => Place::Root,
        "main" | "bin" => Place::Binary,
        _ => match RULES.iter().find(|(m, _)| *m == name) {
            Some((m, _)) => Place::Module(m),
            None => Place::Unknown(name.to_string()),
        },
    }
}

/// `src/`, or the folder named by `LAYERING_SRC` (to check another tree).
fn src_dir() -> PathBuf {
    std::env::var_os("LAYERING_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every `.rs` file under the source folder: (path relative to it, text).
fn sources() -> Vec<(PathBuf, String)> {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.len() > 10,
        "only {} .rs files under {}",
        files.len(),
        src.display()
    );
    files
        .into_iter()
        .map(|p| {
            let text =
                fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
            (p.strip_prefix(&src).expect("under src").to_path_buf(), text)
        })
        .collect()
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The code of a Rust file with comments and the contents of string and
/// character literals replaced by spaces; newlines stay, so byte offsets
/// keep their line numbers.
fn code_only(text: &str) -> String {
    let s: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < s.len() && s[i] != '\n' {
                blank(&mut out, s[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            // Block comments nest in Rust.
            let mut depth = 0;
            loop {
                if i >= s.len() {
                    break;
                }
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, s[i]);
                    i += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && next == Some('r')))
            && (i == 0 || !is_ident(s[i - 1]))
            && {
                // A raw string: r"…", r#"…"#, br"…".
                let mut j = i + if c == 'b' { 2 } else { 1 };
                while s.get(j) == Some(&'#') {
                    j += 1;
                }
                s.get(j) == Some(&'"')
            }
        {
            let start = i;
            i += if c == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while s[i] == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1; // the opening quote
            out.push_str(&" ".repeat(i - start));
            while i < s.len() {
                if s[i] == '"' && (1..=hashes).all(|k| s.get(i + k) == Some(&'#')) {
                    out.push_str(&" ".repeat(1 + hashes));
                    i += 1 + hashes;
                    break;
                }
                blank(&mut out, s[i]);
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < s.len() && s[i] != '"' {
                if s[i] == '\\' && i + 1 < s.len() {
                    blank(&mut out, s[i]);
                    i += 1;
                }
                blank(&mut out, s[i]);
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A character literal ('a', '\n', '\u{1F600}'); otherwise a
            // lifetime or label, which is code.
            let end = if next == Some('\\') {
                // The escaped character may itself be a quote: '\''.
                (i + 3..s.len()).find(|&k| s[k] == '\'')
            } else if s.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    for &ch in &s[i..=e] {
                        blank(&mut out, ch);
                    }
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Byte ranges of test-only code: the items under `#[cfg(test)]`.
fn test_ranges(code: &str) -> Vec<(usize, usize)> {
    let b = code.as_bytes();
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("#[cfg(test)]") {
        let start = from + at;
        let mut i = start + "#[cfg(test)]".len();
        // The item ends at its first `;` outside braces or at the brace
        // that closes its body.
        let mut depth = 0usize;
        while i < b.len() {
            match b[i] {
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                b';' if depth == 0 => break,
                _ => {}
            }
            i += 1;
        }
        ranges.push((start, i));
        from = i.max(start + 1);
    }
    ranges
}

/// The top-level modules named by `crate::` paths in `code`, with their
/// byte offsets: `crate::wire::…`, and each path of `crate::{wire::…,
/// xlat}`.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let s = code.as_bytes();
    let ident_at = |mut i: usize| {
        while i < s.len() && s[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
            i += 1;
        }
        (code[start..i].to_string(), i)
    };
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate") {
        let start = from + at;
        from = start + "crate".len();
        let before_ok =
            start == 0 || !(s[start - 1].is_ascii_alphanumeric() || s[start - 1] == b'_');
        if !before_ok {
            continue;
        }
        let mut i = from;
        while i < s.len() && s[i].is_ascii_whitespace() {
            i += 1;
        }
        if !code[i..].starts_with("::") {
            continue;
        }
        i += 2;
        while i < s.len() && s[i].is_ascii_whitespace() {
            i += 1;
        }
        if s.get(i) == Some(&b'{') {
            // A group: the first segment of each path at depth 1.
            let mut depth = 0usize;
            let mut expect_path = true;
            while i < s.len() {
                match s[i] {
                    b'{' => {
                        depth += 1;
                        expect_path = depth == 1;
                        i += 1;
                    }
                    b'}' => {
                        depth -= 1;
                        i += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' => {
                        expect_path = depth == 1;
                        i += 1;
                    }
                    c if expect_path && (c.is_ascii_alphabetic() || c == b'_') => {
                        let (name, end) = ident_at(i);
                        found.push((i, name));
                        expect_path = false;
                        i = end;
                    }
                    _ => i += 1,
                }
            }
        } else {
            let (name, _) = ident_at(i);
            if !name.is_empty() {
                found.push((start, name));
            }
        }
    }
    found
}

fn line_of(code: &str, offset: usize) -> usize {
    code[..offset].bytes().filter(|&b| b == b'\n').count() + 1
}

fn is_test_file(rel: &Path) -> bool {
    rel.file_name().is_some_and(|f| f == "tests.rs")
        || rel.components().any(|c| c.as_os_str() == "tests")
}

/// Every violation of the import rules in one file.
fn import_violations(rel: &Path, text: &str) -> Vec<String> {
    let code = code_only(text);
    let own = match place(rel) {
        Place::Module(m) => m,
        Place::Binary | Place::Root => return Vec::new(),
        Place::Unknown(name) => {
            return vec![format!(
                "src/{}: top-level module `{name}` has no import rule: add it to RULES in \
                 tests/layering.rs and to the table in docs/architecture.md",
                rel.display()
            )]
        }
    };
    let allowed = RULES
        .iter()
        .find(|(m, _)| *m == own)
        .map(|(_, a)| *a)
        .unwrap_or_default();
    let tests = test_ranges(&code);
    let whole_file_test = is_test_file(rel);
    let mut out = Vec::new();
    for (at, used) in crate_paths(&code) {
        if used == own || used == "self" || used == "super" || allowed.contains(&used.as_str()) {
            continue;
        }
        let in_test = whole_file_test || tests.iter().any(|&(a, b)| a <= at && at < b);
        if in_test && TEST_ONLY.contains(&used.as_str()) {
            continue;
        }
        if !RULES.iter().any(|(m, _)| *m == used) {
            // Not a module of ours (a macro's `$crate`, a typo the
            // compiler catches): no rule applies.
            continue;
        }
        let may = if allowed.is_empty() {
            "no other module of the crate".to_string()
        } else {
            format!("only {}", allowed.join(", "))
        };
        out.push(format!(
            "src/{}:{}: `{own}` uses `crate::{used}`; `{own}` may use {may} \
             (docs/architecture.md, Import rules)",
            rel.display(),
            line_of(&code, at),
        ));
    }
    out
}

/// Every `unsafe` in the code of a file outside the unsafe module.
fn unsafe_violations(rel: &Path, text: &str) -> Vec<String> {
    if place(rel) == Place::Module(UNSAFE_MODULE) {
        return Vec::new();
    }
    let code = code_only(text);
    let b = code.as_bytes();
    let word = |i: usize| i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_');
    code.match_indices("unsafe")
        .filter(|&(i, _)| (i == 0 || !word(i - 1)) && !word(i + "unsafe".len()))
        .map(|(i, _)| {
            format!(
                "src/{}:{}: `unsafe` outside src/{UNSAFE_MODULE}/ (docs/architecture.md, \
                 Where unsafe lives)",
                rel.display(),
                line_of(&code, i)
            )
        })
        .collect()
}

fn report(what: &str, v: Vec<String>) {
    assert!(v.is_empty(), "{what}:\n{}", v.join("\n"));
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let v = sources()
        .iter()
        .flat_map(|(rel, text)| import_violations(rel, text))
        .collect();
    report("import rule violations", v);
}

#[test]
fn unsafe_only_in_the_dpdk_module() {
    let v = sources()
        .iter()
        .flat_map(|(rel, text)| unsafe_violations(rel, text))
        .collect();
    report("unsafe outside src/dpdk", v);
}

#[test]
fn the_crate_denies_unsafe_code() {
    let lib = sources()
        .into_iter()
        .find(|(rel, _)| rel == Path::new("lib.rs"))
        .expect("src/lib.rs");
    assert!(
        code_only(&lib.1).contains("#![deny(unsafe_code)]"),
        "src/lib.rs must start with #![deny(unsafe_code)] (docs/architecture.md, Where unsafe lives)"
    );
}

// The checker checks itself: a rule that never fires proves nothing.

#[test]
fn a_use_of_a_higher_layer_is_named_with_its_line() {
    let text = "//! docs may name crate::dpdk\nuse crate::wire;\n\nuse crate::dpdk::Mbuf;\n";
    let v = import_violations(Path::new("nat64/x.rs"), text);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].starts_with("src/nat64/x.rs:4: `nat64` uses `crate::dpdk`"),
        "{v:?}"
    );
}

#[test]
fn groups_inline_paths_and_test_code_are_read() {
    let text = "use crate::{wire::Ipv4, control::events::{A, B}};\n\
                fn f() { let x = crate::dataplane::Own::default(); }\n\
                #[cfg(test)]\nmod tests {\n    fn g() { crate::fuzzing::h(); }\n}\n\
                fn k() { crate::fuzzing::h(); let s = \"crate::dpdk\"; }\n";
    let v = import_violations(Path::new("xlat/y.rs"), text);
    let lines: Vec<&str> = v
        .iter()
        .map(|m| m.split(": `").next().unwrap_or_default())
        .collect();
    assert_eq!(
        lines,
        ["src/xlat/y.rs:1", "src/xlat/y.rs:2", "src/xlat/y.rs:7"],
        "{v:?}"
    );
    assert!(v[0].contains("uses `crate::control`"), "{v:?}");
    assert!(v[1].contains("uses `crate::dataplane`"), "{v:?}");
    assert!(v[2].contains("uses `crate::fuzzing`"), "{v:?}");
    assert!(import_violations(Path::new("xlat/tests.rs"), "use crate::fuzzing;").is_empty());
}

#[test]
fn unsafe_in_code_is_found_and_in_comments_not() {
    let text = "// unsafe here is prose\nconst S: &str = \"unsafe\";\n#![deny(unsafe_code)]\n\
                fn f() { unsafe { g() } }\n";
    let v = unsafe_violations(Path::new("wire/z.rs"), text);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].starts_with("src/wire/z.rs:4:"), "{v:?}");
    assert!(unsafe_violations(Path::new("dpdk/mbuf.rs"), text).is_empty());
}

#[test]
fn an_unknown_module_needs_a_rule() {
    let v = import_violations(Path::new("unruled/mod.rs"), "use crate::wire;");
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("`unruled` has no import rule"), "{v:?}");
}

#[test]
fn literals_and_lifetimes_are_not_code() {
    let code = code_only("fn f<'a>(x: &'a str) -> char { let _ = r#\"crate::dpdk\"#; '\\'' }");
    assert!(code.contains("<'a>") && code.contains("&'a str"), "{code}");
    assert!(!code.contains("dpdk"), "{code}");
    assert!(!code.contains("'\\''"), "{code}");
}
