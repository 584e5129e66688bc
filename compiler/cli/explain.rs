//! `hplanc explain CODE`

use crate::diagnostics::catalog;

pub fn run(code: &str) -> u8 {
    match catalog::lookup(code) {
        Some(info) => {
            super::outln!("{}: {}\n\n{}", info.code, info.title, info.explanation);
            0
        }
        None => {
            super::errln!(
                "error: no diagnostic code `{code}`; codes are {}",
                catalog::CODES.iter().map(|c| c.code).collect::<Vec<_>>().join(", ")
            );
            2
        }
    }
}
