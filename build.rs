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
//!
//! It also plans the matcher's keyword search for the built-in rules
//! (`src/engine/plan.rs`, included here too) and writes the plan out
//! (`OUT_DIR/builtin_plan.rs`): the patterns, their prefix table and the key
//! shapes, which a scan with the built-in rules would otherwise work out at
//! every start.

use std::fmt::Write as _;

#[allow(dead_code)]
#[path = "src/rules/spec.rs"]
mod spec;

#[allow(dead_code)]
#[path = "src/engine/plan.rs"]
mod plan;

use spec::{ContextSpec, Example, NegativeExample, PartsSpec, RuleSpec};

/// The built-in rule files (`rules/NAME.toml`), in the order their rules
/// run. A new file is added here.
const BUILTIN: &[&str] = &[
    "gateways",
    "ai",
    "ai-ml",
    "vcs",
    "registries",
    "cloud",
    "infra",
    "devops",
    "observability",
    "analytics",
    "security",
    "messaging",
    "crm",
    "saas",
    "payments",
    "crypto-exchanges",
    "commerce",
    "productivity",
    "social",
    "data-apis",
    "crypto",
    "structured",
    "credentials",
    "generic",
];

fn main() {
    println!("cargo:rerun-if-changed=rules");
    println!("cargo:rerun-if-changed=src/rules/spec.rs");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=src/engine/plan.rs");
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let mut statics = String::new();
    let mut arms = String::new();
    let mut files = String::new();
    let mut all: Vec<RuleSpec> = Vec::new();
    for name in BUILTIN {
        let path = format!("rules/{name}.toml");
        println!("cargo:rerun-if-changed={path}");
        writeln!(
            files,
            "    ({path:?}, include_str!({:?})),",
            format!("{root}/{path}")
        )
        .expect("write to a String");
        let text = std::fs::read_to_string(&path).expect("read a rules file");
        let Ok(file) = toml::from_str::<spec::RuleFile>(&text) else {
            continue;
        };
        let ident = name.to_uppercase().replace(['-', '.'], "_");
        let specs = items(&file.rules, rule);
        writeln!(statics, "static {ident}: &[RuleSpec] = &[{specs}];").expect("write to a String");
        writeln!(arms, "        {name:?} => Some({ident}),").expect("write to a String");
        all.extend(file.rules);
    }
    let code = format!(
        "/// The built-in rule files: `(rules/NAME.toml, its text)`.\n\
         pub const BUILTIN_RULE_FILES: &[(&str, &str)] = &[\n{files}];\n\n\
         /// `rules/NAME.toml`'s rules, if it parsed.\n\
         pub(super) fn builtin_specs(name: &str) -> Option<&'static [RuleSpec]> {{\n    \
         match name {{\n{arms}        _ => None,\n    }}\n}}\n\n{statics}"
    );
    std::fs::write(out.join("builtin_rules.rs"), code).expect("write OUT_DIR/builtin_rules.rs");

    let keys: Vec<plan::RuleKeys> = all
        .iter()
        .map(|r| plan::RuleKeys {
            keywords: r.keywords.iter().map(|k| k.as_ref()).collect(),
            secrets: r.examples.iter().map(|e| e.secret.as_ref()).collect(),
        })
        .collect();
    let plan = plan::plan(&keys);
    std::fs::write(out.join("builtin_plan.rs"), plan_code(&plan))
        .expect("write OUT_DIR/builtin_plan.rs");
}

/// The plan as a static (`pub(super) static BUILTIN_PLAN: Plan`).
fn plan_code(p: &plan::Plan) -> String {
    let nums = |v: &[u32]| format!("Cow::Borrowed(&[{}])", items(v, |n| n.to_string()));
    let t = &p.table;
    format!(
        "pub(super) static BUILTIN_PLAN: Plan = Plan {{ texts: Cow::Borrowed(&[{}]), \
         keyword: {}, trigger: Cow::Borrowed(&[{}]), fragment_cases: Cow::Borrowed(&[{}]), \
         keywords: {}, own_starts: {}, own_rules: {}, table: Table {{ starts: {}, \
         entries: Cow::Borrowed(&[{}]), short: {}, first: Cow::Borrowed(&[{}]), \
         occupied: Cow::Borrowed(&[{}]), grams: Cow::Borrowed(&[{}]), \
         grams2: Cow::Borrowed(&[{}]) }}, shapes: {} }};\n",
        items(&p.texts, |t| format!(
            "Cow::Borrowed(b\"{}\")",
            byte_string(t)
        )),
        nums(&p.keyword),
        items(&p.trigger, |b| b.to_string()),
        items(&p.fragment_cases, |c| c.to_string()),
        nums(&p.keywords),
        nums(&p.own_starts),
        nums(&p.own_rules),
        nums(&t.starts),
        items(&t.entries, |e| format!(
            "Entry {{ head: {}, mask: {}, len: {}, id: {} }}",
            e.head, e.mask, e.len, e.id
        )),
        nums(&t.short),
        items(&t.first, |b| b.to_string()),
        items(&t.occupied, |o| o.to_string()),
        items(&t.grams, |o| o.to_string()),
        items(&t.grams2, |o| o.to_string()),
        texts(&p.shapes),
    )
}

/// The inside of a byte string literal.
fn byte_string(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'"' | b'\\' => format!("\\{}", b as char),
            0x20..=0x7e => (b as char).to_string(),
            _ => format!("\\x{b:02x}"),
        })
        .collect()
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

fn texts(items: &[std::borrow::Cow<'static, str>]) -> String {
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
