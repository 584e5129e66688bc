//! The one integration-test binary: UI diagnostics, example snapshots, the
//! CLI run as a real process, the language server over JSON-RPC, the stdlib, and the
//! ILP against its oracle.

mod architecture;
mod batches;
mod cli;
mod examples;
mod fixed_costs;
mod graph;
mod lsp;
mod objectives;
mod oracle;
mod reference;
mod robustness;
mod simulate;
mod spec;
mod stdlib;
mod syntax;
mod ui;
mod uncertainty;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

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

/// An example file compiled in `Mode::Build`, once for the whole test binary: several
/// tests read every example's built report (snapshots, the frontier SVG, the bottleneck,
/// the simulator, the batch windows), and building them all is the suite's costliest
/// shared step. The first test to ask builds it; one asking meanwhile waits for it.
pub fn built(path: &Path) -> &'static hplanc::Compilation {
    type Cell = &'static OnceLock<hplanc::Compilation>;
    static BUILT: OnceLock<Mutex<HashMap<PathBuf, Cell>>> = OnceLock::new();
    let cell: Cell = *BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(path.to_path_buf())
        .or_insert_with(|| Box::leak(Box::new(OnceLock::new())));
    cell.get_or_init(|| compile(path, hplanc::Mode::Build))
}

/// splitmix64: a tiny deterministic generator, so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}
