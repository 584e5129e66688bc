//! `hplanc build --watch FILE`: builds, then re-builds whenever the file or anything it
//! imports changes on disk, until interrupted. The pages it writes poll `watch.js`
//! beside them (every 500 ms, from disk: no server) and reload when a build with a
//! different result lands; a build with errors puts its diagnostics into the pages and
//! the next good save replaces them.
//!
//! Changes are found by polling each file's modification time and length every
//! [`POLL`]: the watched set is the build's own files (bounded by the import limits),
//! so a poll is a few `stat` calls.

use super::build::{self, Options, Watching};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// How often the files are checked: with a build of the examples under 50 ms, a save
/// is re-built well within 100 ms.
pub const POLL: Duration = Duration::from_millis(20);

/// What a file looked like: its modification time and length (None: unreadable, e.g.
/// mid-save or deleted).
type Seen = Vec<(PathBuf, Option<(SystemTime, u64)>)>;

fn look(files: &[PathBuf]) -> Seen {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(f).ok().and_then(|m| Some((m.modified().ok()?, m.len())));
            (f.clone(), meta)
        })
        .collect()
}

/// Runs until the process is interrupted (a file that cannot be read is reported and
/// watched until it can).
pub fn run(file: &Path, opts: Options<'_>) -> ! {
    let mut watching = Watching::default();
    let mut files = vec![file.to_path_buf()];
    loop {
        // what the files looked like before this build read them: a save while it
        // runs must start another
        let before = look(&files);
        let since = SystemTime::now();
        let started = Instant::now();
        let built = build::build(file, &opts, Some(&watching));
        let ms = started.elapsed().as_secs_f64() * 1e3;
        for p in &built.plans {
            if !watching.plans.contains(p) {
                watching.plans.push(p.clone());
            }
        }
        let what = match built.code {
            0 => "built".to_string(),
            1 => "has errors (the pages show them)".to_string(),
            _ => "could not be built".to_string(),
        };
        super::errln!("watch: {} {what} in {ms:.1} ms; watching {} file(s)", file.display(), built.files.len());
        files = built.files;
        let seen = look(&files);
        if changed_during(&before, &seen, since) {
            continue;
        }
        loop {
            std::thread::sleep(POLL);
            if look(&files) != seen {
                break;
            }
        }
    }
}

/// Whether a file changed while a build ran: it differs from how it looked before, or
/// (a file the build found, e.g. a new import) was modified after the build began.
fn changed_during(before: &Seen, after: &Seen, since: SystemTime) -> bool {
    after.iter().any(|(path, now)| match before.iter().find(|(p, _)| p == path) {
        Some((_, then)) => then != now,
        None => now.is_some_and(|(modified, _)| modified >= since),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_save_during_a_build_starts_another() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let (a, b) = (PathBuf::from("a"), PathBuf::from("b"));
        let before: Seen = vec![(a.clone(), Some((t0, 10)))];
        // unchanged, and an import last modified before the build: nothing to do
        let after: Seen = vec![(a.clone(), Some((t0, 10))), (b.clone(), Some((t0, 5)))];
        assert!(!changed_during(&before, &after, t0 + Duration::from_secs(1)));
        // the file was saved while the build ran
        let after: Seen = vec![(a.clone(), Some((t0 + Duration::from_secs(2), 10)))];
        assert!(changed_during(&before, &after, t0 + Duration::from_secs(1)));
        // same time, other length (a save within the clock's resolution)
        assert!(changed_during(&before, &vec![(a.clone(), Some((t0, 11)))], t0));
        // a new import modified after the build began
        let after: Seen = vec![(a, Some((t0, 10))), (b, Some((t0 + Duration::from_secs(3), 5)))];
        assert!(changed_during(&before, &after, t0 + Duration::from_secs(1)));
    }
}
