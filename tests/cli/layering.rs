//! The module order: `src/lib.rs`'s docs list the modules top to bottom,
//! and no file under `src/` may name (`crate::…`) a module listed above its
//! own, or one missing from the list. Unit tests (`#[cfg(test)]` items) are
//! left out: they may reach anywhere.
//!
//! This reads the source, not the binary, so that an import cycle cannot
//! come back unnoticed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The bullet list after `## Module order` in lib.rs's `//!` docs, each
/// item's first code span.
fn declared_order(lib: &str) -> Vec<String> {
    let docs = lib.lines().map_while(|l| l.strip_prefix("//!"));
    let mut order = Vec::new();
    let mut inside = false;
    for line in docs {
        let line = line.trim();
        if line.starts_with("## ") {
            inside = line == "## Module order";
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(item) = line.strip_prefix("- `") {
            if let Some((name, _)) = item.split_once('`') {
                order.push(name.to_string());
            }
        }
    }
    order
}

/// The source with comments, string and character literals blanked and
/// every `#[cfg(test)]` item removed.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some(end) = raw_string_end(b, i) {
            out.push_str("\"\"");
            i = end;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && is_char_literal(b, i) {
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            let c = text[i..].chars().next().expect("i is on a char boundary");
            out.push(c);
            i += c.len_utf8();
        }
    }
    without_test_items(&out)
}

/// `r"…"`, `r#"…"#`, `br"…"` starting at `i`: the offset after it.
fn raw_string_end(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let mut j = i;
    if b.get(j) == Some(&b'b') {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = b[j..].iter().take_while(|&&c| c == b'#').count();
    j += hashes;
    if b.get(j) != Some(&b'"') {
        return None;
    }
    let close: Vec<u8> = std::iter::once(b'"')
        .chain(std::iter::repeat(b'#').take(hashes))
        .collect();
    let body = j + 1;
    let end = b[body..]
        .windows(close.len())
        .position(|w| w == close.as_slice())?;
    Some(body + end + close.len())
}

/// A `'` that opens a character literal rather than a lifetime (`'a`).
fn is_char_literal(b: &[u8], i: usize) -> bool {
    match (b.get(i + 1), b.get(i + 2)) {
        (Some(b'\\'), _) => true,
        (Some(_), Some(b'\'')) => true,
        // A multi-byte character: `'é'`.
        (Some(c), _) if *c >= 0x80 => true,
        _ => false,
    }
}

/// Drop each `#[cfg(test)]` item: up to its `;`, or its `{ … }` block.
fn without_test_items(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        let mut depth = 0usize;
        let mut end = item.len();
        for (k, c) in item.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = k + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = k + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// The top-level modules a piece of code names through `crate::`.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    let b = code.as_bytes();
    let mut from = 0;
    while let Some(k) = code[from..].find("crate::") {
        let at = from + k;
        from = at + "crate::".len();
        if at > 0 && (b[at - 1].is_ascii_alphanumeric() || matches!(b[at - 1], b'_' | b'$')) {
            continue;
        }
        let rest = code[from..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first segment of each
            // top-level element.
            let mut depth = 0;
            let mut element = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        refs.extend(first_segment(&element));
                        element.clear();
                        continue;
                    }
                    _ => {}
                }
                element.push(c);
            }
            refs.extend(first_segment(&element));
        } else {
            refs.extend(first_segment(rest));
        }
    }
    refs
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name != "self").then_some(name)
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate root's entry points (each `pub fn` of lib.rs: `run_scan`, …),
/// which modules name as `crate::run_scan`, and the place in the order of
/// the highest module the root's own code names (`source::…`): only a
/// module listed above that place may call them, so the root cannot close
/// a cycle either.
fn root_entry_points(lib: &str, order: &[String]) -> (BTreeSet<String>, usize) {
    let code = code_only(lib);
    let mut items = BTreeSet::new();
    let mut body = String::new();
    for line in code.lines() {
        if let Some(rest) = line.strip_prefix("pub fn ") {
            items.extend(first_segment(rest));
        }
        let t = line.trim_start();
        if !(t.starts_with("pub mod ") || t.starts_with("mod ")) {
            body.push_str(line);
            body.push('\n');
        }
    }
    let b = body.as_bytes();
    let names = |m: &str| {
        let head = format!("{m}::");
        body.match_indices(&head).any(|(at, _)| {
            at == 0 || !(b[at - 1].is_ascii_alphanumeric() || matches!(b[at - 1], b'_' | b':'))
        })
    };
    let floor = order.iter().position(|m| names(m)).unwrap_or(order.len());
    (items, floor)
}

/// The violations in `src/`: "file: names `X`, which is above it" and the
/// like.
fn violations(src: &Path, order: &[String]) -> Vec<String> {
    let rank = |m: &str| order.iter().position(|o| o == m);
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap_or_default();
    let (entry_points, floor) = root_entry_points(&lib, order);
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs");
        if module == "lib" || module == "main" {
            continue; // the crate root and the binary sit above every module
        }
        let shown = rel.display();
        let Some(own) = rank(module) else {
            found.push(format!(
                "{shown}: module `{module}` is not in lib.rs's module order"
            ));
            continue;
        };
        let code = code_only(&std::fs::read_to_string(&file).unwrap());
        for target in crate_refs(&code) {
            if target == module {
                continue;
            }
            match rank(&target) {
                None if entry_points.contains(&target) => {
                    if own >= floor {
                        found.push(format!(
                            "{shown}: `{module}` names `crate::{target}`, an entry point of \
                             the crate root, which names `{}`, listed at or above it",
                            order[floor]
                        ));
                    }
                }
                None => found.push(format!(
                    "{shown}: names `crate::{target}`, which is not in lib.rs's module order"
                )),
                Some(r) if r < own => found.push(format!(
                    "{shown}: `{module}` names `crate::{target}`, which is listed above it"
                )),
                Some(_) => {}
            }
        }
    }
    found
}

#[test]
fn no_module_names_one_above_it() {
    let src = src();
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let order = declared_order(&lib);
    assert!(order.len() > 10, "no module order in lib.rs: {order:?}");
    let unique: BTreeSet<&String> = order.iter().collect();
    assert_eq!(
        unique.len(),
        order.len(),
        "a module listed twice: {order:?}"
    );
    // Every `pub mod`/`mod` of lib.rs is listed.
    for line in lib.lines() {
        let line = line.trim();
        if let Some(name) = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("mod "))
        {
            let name = name.trim_end_matches(';');
            assert!(
                order.iter().any(|o| o == name),
                "lib.rs declares `{name}`, missing from its module order"
            );
        }
    }
    let found = violations(&src, &order);
    assert!(found.is_empty(), "layering broken:\n{}", found.join("\n"));
}

#[test]
fn the_checker_sees_what_it_must() {
    let order: Vec<String> = ["top", "mid", "low"].map(String::from).to_vec();
    let dir = tempfile::tempdir().unwrap();
    let put = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    // The crate root's entry point uses `mid`: `top` may call it.
    put(
        "lib.rs",
        "pub mod top;\nuse low::X;\npub fn entry() -> X { mid::f() }\n",
    );
    put(
        "top.rs",
        "use crate::{mid, low::X};\nfn e() { crate::entry(); }\n",
    );
    // Comments, strings and unit tests do not count.
    put(
        "mid/mod.rs",
        "use crate::low;\n// crate::top\nconst S: &str = \"crate::top\";\n\
         const R: &str = r#\"crate::top\"#;\nfn f<'a>(c: char) -> bool { c == '\"' }\n\
         #[cfg(test)]\nmod tests { use crate::top; }\n",
    );
    put("low.rs", "pub struct X;\n");
    assert!(violations(dir.path(), &order).is_empty());
    // Upwards, grouped, and to an unlisted module.
    put(
        "low.rs",
        "pub struct X;\nfn g() { crate::mid::f(); }\nuse crate::{text, top::Y};\n",
    );
    put("extra.rs", "");
    // `mid` calls the root, which calls `mid`: a cycle through the root.
    put("mid/more.rs", "fn h() { crate::entry(); }\n");
    let found = violations(dir.path(), &order);
    assert_eq!(found.len(), 5, "{found:#?}");
    assert!(found[0].contains("extra.rs: module `extra` is not in"));
    assert!(found[1].contains("`low` names `crate::mid`"));
    assert!(found[2].contains("names `crate::text`, which is not in"));
    assert!(found[3].contains("`low` names `crate::top`"));
    assert!(found[4].contains("mid/more.rs: `mid` names `crate::entry`, an entry point"));
    assert!(found[4].contains("which names `mid`"));
    assert_eq!(
        declared_order("//! x\n//!\n//! ## Module order\n//!\n//! - `a`: b\n//! - `c`\n//!\n//! ## Next\n//! - `d`\n"),
        ["a", "c"]
    );
}
