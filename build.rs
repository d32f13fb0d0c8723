//! Pre-parses the built-in rules: each `rules/*.toml` is also embedded as
//! JSON (in `OUT_DIR/rules/`), which serde_json reads many times faster
//! than the TOML parser, so that startup (a pre-commit hook, a one-file
//! scan) does not parse 1.3 MB of TOML. The TOML files stay the only
//! source: the JSON is derived from them here on every change, carries
//! exactly their values, and is read into the same types with the same
//! checks (`rules::builtin_rules`, which falls back to the TOML text to
//! word any error, and a unit test that both forms agree).

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=rules");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("rules");
    std::fs::create_dir_all(&out).expect("create OUT_DIR/rules");
    let mut names: Vec<_> = std::fs::read_dir("rules")
        .expect("read rules/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    names.sort();
    for path in names {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).expect("read a rules file");
        // A file that does not parse gets `null`: reading it at run time
        // fails, and the TOML text is parsed instead for the message.
        let json = match toml::from_str::<toml::Value>(&text) {
            Ok(value) => serde_json::to_string(&value).expect("TOML values are JSON values"),
            Err(_) => "null".to_string(),
        };
        let name = path.file_stem().expect("a file name").to_string_lossy();
        std::fs::write(out.join(format!("{name}.json")), json).expect("write OUT_DIR/rules");
    }
}
