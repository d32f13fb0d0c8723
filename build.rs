//! Compiles the built-in rules in already parsed: each `rules/*.toml` is
//! read into the crate's own rule types (`src/rules/spec.rs`, included
//! here) and written out as Rust statics (`OUT_DIR/builtin_rules.rs`), so
//! that startup (a pre-commit hook, a one-file scan) neither parses 1.3 MB
//! of rules nor copies them: every text is borrowed from the binary. The
//! TOML files stay the only source: the statics are derived from them here
//! on every change, with the same types and checks as a user's rule file
//! (`deny_unknown_fields`, defaults), and a unit test compares both forms.
//! A file that does not parse gets no static: the TOML text is parsed at run
//! time instead, which words the error (file, line, column).

use std::fmt::Write as _;

#[allow(dead_code)]
#[path = "src/rules/spec.rs"]
mod spec;

use spec::{ContextSpec, Example, NegativeExample, PartsSpec, RuleSpec};

fn main() {
    println!("cargo:rerun-if-changed=rules");
    println!("cargo:rerun-if-changed=src/rules/spec.rs");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut names: Vec<_> = std::fs::read_dir("rules")
        .expect("read rules/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    names.sort();
    let mut statics = String::new();
    let mut arms = String::new();
    for path in names {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).expect("read a rules file");
        let Ok(file) = toml::from_str::<spec::RuleFile>(&text) else {
            continue;
        };
        let name = path
            .file_stem()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        let ident = name.to_uppercase().replace(['-', '.'], "_");
        let specs = items(&file.rules, rule);
        writeln!(statics, "static {ident}: &[RuleSpec] = &[{specs}];").expect("write to a String");
        writeln!(arms, "        {name:?} => Some({ident}),").expect("write to a String");
    }
    let code = format!(
        "/// `rules/NAME.toml`'s rules, if it parsed.\n\
         pub(super) fn builtin_specs(name: &str) -> Option<&'static [RuleSpec]> {{\n    \
         match name {{\n{arms}        _ => None,\n    }}\n}}\n\n{statics}"
    );
    std::fs::write(out.join("builtin_rules.rs"), code).expect("write OUT_DIR/builtin_rules.rs");
}

/// A borrowed text: Rust's `Debug` of a `str` is a valid string literal.
fn text(s: &str) -> String {
    format!("Cow::Borrowed({s:?})")
}

/// Items written out, separated by commas.
fn items<T>(items: &[T], item: impl Fn(&T) -> String) -> String {
    items.iter().map(item).collect::<Vec<_>>().join(", ")
}

/// A borrowed list (`Cow::Borrowed(&[…])`).
fn list<T>(list: &[T], item: impl Fn(&T) -> String) -> String {
    format!("Cow::Borrowed(&[{}])", items(list, item))
}

fn texts(items: &[spec::Text]) -> String {
    list(items, |t| text(t))
}

fn option<T>(value: &Option<T>, some: impl Fn(&T) -> String) -> String {
    match value {
        Some(v) => format!("Some({})", some(v)),
        None => "None".into(),
    }
}

/// One rule as a struct expression. The bindings are exhaustive, so a field
/// added to `RuleSpec` fails this build until it is written out too.
fn rule(spec: &RuleSpec) -> String {
    let RuleSpec {
        id,
        description,
        provider,
        severity,
        regex,
        keywords,
        min_entropy,
        priority,
        window,
        alternatives,
        references,
        context,
        generic,
        parts,
        part_only,
        examples,
        negative_examples,
    } = spec;
    format!(
        "RuleSpec {{ id: {}, description: {}, provider: {}, severity: Severity::{severity:?}, \
         regex: {}, keywords: {}, min_entropy: {}, priority: {}, window: {}, alternatives: {}, \
         references: {}, context: {}, generic: {generic}, parts: {}, part_only: {part_only}, \
         examples: {}, negative_examples: {} }}",
        text(id),
        text(description),
        text(provider),
        text(regex),
        texts(keywords),
        option(min_entropy, |e| format!("{e:?}_f64")),
        option(priority, |p| format!("{p}")),
        option(window, |w| format!("{w}")),
        texts(alternatives),
        texts(references),
        option(context, |c| {
            let ContextSpec {
                any,
                weak,
                lines,
                block,
                required,
            } = c;
            format!(
                "ContextSpec {{ any: {}, weak: {}, lines: {lines}, block: {block}, \
                 required: {required} }}",
                texts(any),
                texts(weak)
            )
        }),
        option(parts, |p| {
            let PartsSpec { rules, lines } = p;
            format!("PartsSpec {{ rules: {}, lines: {lines} }}", texts(rules))
        }),
        list(examples, |e| {
            let Example { text: t, secret } = e;
            format!("Example {{ text: {}, secret: {} }}", text(t), text(secret))
        }),
        list(negative_examples, |n| {
            let NegativeExample { text: t } = n;
            format!("NegativeExample {{ text: {} }}", text(t))
        }),
    )
}
