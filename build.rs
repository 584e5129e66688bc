//! Embeds every `stdlib/**/*.hplan` file in the binary: generates a table of
//! (module path, file name, contents) included by `compiler/resolve/stdlib.rs`.

use std::fs;
use std::path::Path;

fn collect(dir: &Path, rel: &str, out: &mut Vec<(String, String)>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if p.is_dir() {
            let sub = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            collect(&p, &sub, out);
        } else if name.ends_with(".hplan") || name.ends_with(".csv") {
            let file = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            out.push((file, p.to_string_lossy().into_owned()));
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib");
    println!("cargo:rerun-if-changed=stdlib");
    let mut files = Vec::new();
    collect(&root, "", &mut files);
    for (_, abs) in &files {
        println!("cargo:rerun-if-changed={abs}");
    }
    let mut code = String::from("/// (path inside stdlib/, contents)\npub static STDLIB_FILES: &[(&str, &str)] = &[\n");
    for (rel, abs) in files.iter().filter(|(r, _)| r.ends_with(".hplan")) {
        code.push_str(&format!("    ({rel:?}, include_str!({abs:?})),\n"));
    }
    code.push_str("];\n");
    code.push_str("/// op tables (path inside stdlib/, contents)\npub static STDLIB_TABLES: &[(&str, &str)] = &[\n");
    for (rel, abs) in files.iter().filter(|(r, _)| r.ends_with(".csv")) {
        code.push_str(&format!("    ({rel:?}, include_str!({abs:?})),\n"));
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("stdlib_files.rs");
    fs::write(out, code).expect("OUT_DIR is writable");
}
