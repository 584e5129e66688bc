//! The one integration-test binary: UI diagnostics, example snapshots, the
//! CLI run as a real process, the stdlib, and the ILP against its oracle.

mod cli;
mod examples;
mod graph;
mod oracle;
mod robustness;
mod spec;
mod stdlib;
mod syntax;
mod ui;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path relative to the root, with forward slashes, for stable snapshot names.
pub fn rel(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

/// Compiles a file under the root as the CLI would, named by its relative path.
pub fn compile(path: &Path, mode: hplanc::Mode) -> hplanc::Compilation {
    let text = std::fs::read_to_string(path).expect("test input is readable");
    hplanc::compile(&rel(path), &text, Some(path), mode)
}
