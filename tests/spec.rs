//! grammar/SPEC.md stays true: its attribute tables are exactly what the schema
//! generates (UPDATE_SPEC=1 rewrites them), and every diagnostic code, unit and
//! stage is mentioned.

const BEGIN: &str = "<!-- BEGIN GENERATED: attribute tables (tests/spec.rs; UPDATE_SPEC=1 to rewrite) -->\n";
const END: &str = "<!-- END GENERATED -->";

#[test]
fn spec_attribute_tables_match_the_schema() {
    let path = crate::root().join("grammar/SPEC.md");
    let spec = std::fs::read_to_string(&path).unwrap();
    let (Some(b), Some(e)) = (spec.find(BEGIN), spec.find(END)) else { panic!("SPEC.md lacks the generated-section markers") };
    let generated = hplanc::resolve::schema::reference_tables();
    let current = &spec[b + BEGIN.len()..e];
    if current != generated {
        if std::env::var_os("UPDATE_SPEC").is_some() {
            let new = format!("{}{}{}", &spec[..b + BEGIN.len()], generated, &spec[e..]);
            std::fs::write(&path, new).unwrap();
        } else {
            panic!("grammar/SPEC.md's attribute tables are out of date; run UPDATE_SPEC=1 cargo test spec");
        }
    }
}

const STDLIB_BEGIN: &str = "<!-- BEGIN GENERATED: stdlib items (tests/spec.rs; UPDATE_SPEC=1 to rewrite) -->\n";
const STDLIB_END: &str = "<!-- END GENERATED stdlib items -->";

/// The stdlib's modules and their items, in file order, as SPEC.md lists them.
fn stdlib_items() -> String {
    let mut out = String::new();
    for module in hplanc::resolve::stdlib::module_names() {
        let mut names = Vec::new();
        for (_, text) in hplanc::resolve::stdlib::module_files(module) {
            let mut d = hplanc::diagnostics::Diagnostics::new();
            let file = hplanc::syntax::parse_file(hplanc::source::FileId(0), text, &mut d);
            names.extend(file.items.iter().filter(|i| !i.kind.is_registry()).map(|i| format!("`{}`", i.name.name)));
        }
        if !names.is_empty() {
            out.push_str(&format!("- `std::{module}`: {}\n", names.join(", ")));
        }
    }
    out
}

/// Issue 18: SPEC.md's list of stdlib items is generated from the stdlib (it had 6 of
/// 16 chips and 3 of 9 models when it was written by hand).
#[test]
fn spec_lists_every_stdlib_item() {
    let path = crate::root().join("grammar/SPEC.md");
    let spec = std::fs::read_to_string(&path).unwrap();
    let (Some(b), Some(e)) = (spec.find(STDLIB_BEGIN), spec.find(STDLIB_END)) else { panic!("SPEC.md lacks the stdlib markers") };
    let generated = stdlib_items();
    assert!(
        generated.contains("`h100_sxm_measured`") && generated.contains("`kimi_k2`") && generated.contains("`std::clusters`"),
        "{generated}"
    );
    if spec[b + STDLIB_BEGIN.len()..e] != generated {
        if std::env::var_os("UPDATE_SPEC").is_some() {
            std::fs::write(&path, format!("{}{}{}", &spec[..b + STDLIB_BEGIN.len()], generated, &spec[e..])).unwrap();
        } else {
            panic!("grammar/SPEC.md's stdlib list is out of date; run UPDATE_SPEC=1 cargo test spec");
        }
    }
}

#[test]
fn spec_mentions_every_code_unit_stage_and_objective() {
    let spec = std::fs::read_to_string(crate::root().join("grammar/SPEC.md")).unwrap();
    for c in hplanc::diagnostics::catalog::CODES {
        assert!(spec.contains(c.code), "SPEC.md does not list {}", c.code);
    }
    for u in &hplanc::units::registry::registry().units {
        assert!(spec.contains(&format!("`{}`", u.symbol)), "SPEC.md does not list unit `{}`", u.symbol);
    }
    for s in hplanc::ir::Stage::ALL {
        assert!(spec.contains(&format!("`{}`", s.name())), "stage {}", s.name());
    }
    for o in ["cost_per_mtok", "tpot", "ttft"] {
        assert!(spec.contains(&format!("`{o}`")), "{o}");
    }
}

/// Every ```hplan block in the README and SPEC compiles without diagnostics.
#[test]
fn documentation_examples_compile() {
    let mut n = 0;
    for doc in ["README.md", "grammar/SPEC.md"] {
        let text = std::fs::read_to_string(crate::root().join(doc)).unwrap();
        for block in text.split("```hplan\n").skip(1) {
            let code = block.split("```").next().unwrap();
            let comp = hplanc::compile(doc, code, None, hplanc::Mode::Build);
            let rendered = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
            assert!(comp.diagnostics.is_empty(), "{doc}:\n{code}\n{rendered}");
            n += 1;
        }
    }
    assert!(n >= 2);
}

/// Issue 18: every file the code, the docs, the stdlib and the tests cite is in the
/// repository: nothing points outside it (`../shared`, the starting DESIGN.md), and
/// every `docs/...`, `stdlib/...` or `tools/...` path named exists.
#[test]
fn every_cited_file_is_in_the_repository() {
    let root = crate::root();
    let mut files = Vec::new();
    let mut stack: Vec<std::path::PathBuf> =
        ["compiler", "docs", "tests", "stdlib", "grammar", "benches", "tools", "editors"].iter().map(|d| root.join(d)).collect();
    files.extend(["README.md", "ARCHITECTURE.md", "CONTRIBUTING.md"].map(|f| root.join(f)));
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p.ends_with("snapshots") && !p.ends_with("node_modules") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| ["rs", "md", "hplan", "py", "csv"].contains(&x.to_str().unwrap_or(""))) {
                files.push(p);
            }
        }
    }
    let mut cited = 0;
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else { continue };
        let name = crate::rel(f);
        // this test names what it looks for; the vendored reference data cites its own
        // sources' paths (other repositories)
        if name == "tests/spec.rs" || name.starts_with("docs/reference/") {
            continue;
        }
        assert!(!text.contains("../shared"), "{name} cites ../shared");
        assert!(!text.contains("DESIGN.md"), "{name} cites DESIGN.md");
        for prefix in ["docs/", "stdlib/", "tools/"] {
            for (at, _) in text.match_indices(prefix) {
                if at > 0 && text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '/' || c == '_' || c == '.') {
                    continue;
                }
                let path: String = text[at..].chars().take_while(|c| c.is_alphanumeric() || "/_.-".contains(*c)).collect();
                let path = path.trim_end_matches(['.', '/']);
                // folders ending in `/`, globs and placeholders name no one file
                if path.len() <= prefix.len() || text[at + path.len()..].starts_with(['*', '<', '{']) {
                    continue;
                }
                assert!(root.join(path).exists(), "{name} cites {path}, which is not in the repository");
                cited += 1;
            }
        }
    }
    assert!(cited > 100, "{cited} citations checked");
}
