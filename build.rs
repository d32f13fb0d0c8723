//! Embeds every `rules/*.toml` (rule files) and every
//! `rules/providers/*.toml` (provider specs for verification) into the
//! binary, sorted by name, so adding a file needs no code change.

use std::path::Path;

fn main() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    embed(&rules, "rules", "builtin_rules.rs");
    embed(
        &rules.join("providers"),
        "rules/providers",
        "builtin_providers.rs",
    );
}

/// Write `OUT_DIR/out_name`: a `&[(name, text)]` of `dir`'s `*.toml` files.
fn embed(dir: &Path, shown: &str, out_name: &str) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{} is part of the crate: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut code = String::from("&[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f
            .file_name()
            .expect("read_dir entries have names")
            .to_string_lossy();
        code.push_str(&format!(
            "    (\"{shown}/{name}\", include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    code.push_str("]\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join(out_name);
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
