//! `hplanc calibrate DATA.csv --chip NAME [--map FILE] [--out FILE]`.

use crate::validate::calibrate;
use std::path::Path;

pub fn run(file: &Path, chip: &str, map: Option<&Path>, out: Option<&Path>) -> u8 {
    let (mapping, rows, _) = match super::validate::load(file, map) {
        Ok(x) => x,
        Err(e) => {
            super::errln!("error: {e}");
            return 2;
        }
    };
    let fits = match calibrate::calibrate(&rows, &mapping, chip) {
        Ok(f) if !f.is_empty() => f,
        Ok(_) => {
            super::errln!("error: no row measured on `{chip}` could be evaluated (`hplanc validate --format rows` says why)");
            return 1;
        }
        Err(e) => {
            super::errln!("error: {e}");
            return 2;
        }
    };
    let text = calibrate::hplan(chip, &file.to_string_lossy(), &fits);
    super::outln!("{}", calibrate::table(chip, &fits).trim_end());
    match out {
        Some(path) => {
            // the whole file or nothing
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if let Err(e) = super::build::write_atomic(dir, &name, &text) {
                super::errln!("error: {}: {e}", path.display());
                return 2;
            }
            super::outln!("wrote {}", path.display());
        }
        None => super::outln!("\n{}", text.trim_end()),
    }
    0
}
