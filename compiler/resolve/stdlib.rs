//! The standard library, embedded at build time from `stdlib/`.
//!
//! Module `std::chips` is every file in `stdlib/chips/`, and so on.

include!(concat!(env!("OUT_DIR"), "/stdlib_files.rs"));

/// The files of module `std::<name>` (e.g. `chips`), as (path, contents).
pub fn module_files(name: &str) -> Vec<(&'static str, &'static str)> {
    let prefix = format!("{name}/");
    STDLIB_FILES.iter().filter(|(p, _)| p.starts_with(&prefix) && !p[prefix.len()..].contains('/')).copied().collect()
}

/// Names of the std modules (`chips`, `links`, `models`, ...).
pub fn module_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = STDLIB_FILES.iter().filter_map(|(p, _)| p.split_once('/').map(|(m, _)| m)).collect();
    v.sort();
    v.dedup();
    v
}

/// The text of the op table at `path` inside stdlib/ (e.g. `tables/h100_sxm.csv`).
pub fn table(path: &str) -> Option<&'static str> {
    STDLIB_TABLES.iter().find(|(p, _)| *p == path).map(|(_, t)| *t)
}
