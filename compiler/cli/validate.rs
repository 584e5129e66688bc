//! `hplanc validate DATA.csv [--format human|json|csv|markdown] [--map FILE]`.

use super::ValidateFormat;
use crate::validate::{self, stats, Mapping};
use std::path::Path;

/// Largest data or map file read (the reference data set is 0.6 MB).
const MAX_BYTES: usize = 64 * 1024 * 1024;

/// A data or map file: a regular file of at most [`MAX_BYTES`] ([`crate::source::read_bounded`]).
fn read(path: &Path) -> Result<String, String> {
    crate::source::read_bounded(path, MAX_BYTES).map_err(|e| format!("{}: {e}", path.display()))
}

/// The mapping (built in, plus `--map`) and the data's rows, or the message of what
/// could not be read.
pub(super) fn load(file: &Path, map: Option<&Path>) -> Result<(Mapping, Vec<validate::Row>, Vec<validate::Skipped>), String> {
    let mut mapping = Mapping::default();
    if let Some(m) = map {
        read(m).and_then(|t| mapping.extend_from(&t).map_err(|e| format!("{}: {e}", m.display())))?;
    }
    let (rows, skipped) = validate::read_rows(&read(file)?).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok((mapping, rows, skipped))
}

pub fn run(file: &Path, format: ValidateFormat, map: Option<&Path>) -> u8 {
    let (mapping, rows, skipped) = match load(file, map) {
        Ok(x) => x,
        Err(e) => {
            super::errln!("error: {e}");
            return 2;
        }
    };
    let evaluated = match validate::evaluate(rows, &mapping) {
        Ok(e) => e,
        Err(e) => {
            super::errln!("error: {e}");
            return 2;
        }
    };
    let summary = stats::summarise(&evaluated, &skipped);
    match format {
        ValidateFormat::Human => {
            super::outln!("{}", stats::table(&summary, false));
            super::outln!("{}", stats::details(&summary, false));
        }
        ValidateFormat::Markdown => super::outln!("{}", stats::markdown_document(&summary, &file.to_string_lossy()).trim_end()),
        ValidateFormat::Csv => super::outln!("{}", stats::csv(&summary).trim_end()),
        ValidateFormat::Rows => super::outln!("{}", stats::rows_csv(&evaluated, &skipped).trim_end()),
        ValidateFormat::Json => super::outln!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default()),
    }
    0
}
