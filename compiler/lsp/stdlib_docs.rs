//! The standard library as read-only documents: the embedded files written once per
//! compiler version under a cache folder, with their write permission taken away, so
//! that "go to definition" and "find references" can open them in any editor (a plain
//! `file://` document needs no client support). Editing them changes nothing: the
//! compiler reads its embedded copy.

use crate::resolve::stdlib::STDLIB_FILES;
use std::path::{Path, PathBuf};

/// `$XDG_CACHE_HOME/hplanc`, else `~/.cache/hplanc`, else the temporary folder's.
pub fn default_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("hplanc")
}

/// Writes the stdlib under `dir/<version>/std/` (files already there with the same
/// text are left alone; others are replaced atomically) and returns that `std` folder,
/// canonical. `None` if the folder cannot be written: the server then serves no stdlib
/// documents, and says so on stderr.
pub fn materialize(dir: &Path) -> Option<PathBuf> {
    let root = dir.join(env!("CARGO_PKG_VERSION")).join("std");
    for (path, text) in STDLIB_FILES {
        let file = root.join(path);
        if std::fs::read_to_string(&file).is_ok_and(|t| t == *text) {
            continue;
        }
        if let Err(e) = write_read_only(&file, text) {
            eprintln!("hplanc lsp: cannot write the stdlib to {}: {e}", file.display());
            return None;
        }
    }
    root.canonicalize().ok()
}

fn write_read_only(file: &Path, text: &str) -> std::io::Result<()> {
    let dir = file.parent().ok_or_else(|| std::io::Error::other("no parent folder"))?;
    std::fs::create_dir_all(dir)?;
    // a temporary name per process and call, then a rename: another server writing
    // the same file at the same time never leaves half a file
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("std");
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    std::fs::write(&tmp, text)?;
    let mut perms = std::fs::metadata(&tmp)?.permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&tmp, perms)?;
    std::fs::rename(&tmp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdlib_files_are_written_read_only_and_found_again() {
        let dir = std::env::temp_dir().join(format!("hplanc-stdlib-test-{}", std::process::id()));
        let root = materialize(&dir).expect("the temp folder is writable");
        let (path, text) = STDLIB_FILES[0];
        let file = root.join(path);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
        assert!(std::fs::metadata(&file).unwrap().permissions().readonly());
        // a second server finds them in place
        assert_eq!(materialize(&dir), Some(root));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
