//! SIGINT, SIGTERM and SIGHUP: remove what this run staged, then die of the
//! signal. Whoever creates a temporary file or directory registers its
//! removal here (and unregisters it once it is gone or has become output).
//!
//! The switch of an output directory (journal, renames, commit) runs inside
//! [`critical`]: a signal arriving then waits until the switch is complete
//! (or rolled back), so an interrupt never leaves a half-switched output.
//! Outside it, the main thread passes [`checkpoint`] between steps, where it
//! stops for good once a signal is being handled.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// What to remove on an interrupt.
#[derive(Debug, Clone)]
pub enum Cleanup {
    /// A temporary file or a whole staging directory (never a link's target).
    Remove(PathBuf),
    /// A directory this run created, only if nothing else is in it.
    RemoveDirIfEmpty(PathBuf),
}

static REGISTERED: Mutex<Vec<(u64, Cleanup)>> = Mutex::new(Vec::new());
static CRITICAL: Mutex<()> = Mutex::new(());
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A registered cleanup; dropping it unregisters (without removing anything).
#[must_use]
pub struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        let mut list = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|(id, _)| *id != self.0);
    }
}

pub fn register(cleanup: Cleanup) -> Registration {
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    REGISTERED.lock().unwrap_or_else(|e| e.into_inner()).push((id, cleanup));
    Registration(id)
}

/// Holds off signal handling until dropped.
pub fn critical() -> MutexGuard<'static, ()> {
    CRITICAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Returns at once, unless a signal is being handled: then it never returns
/// (the handler removes what was staged and ends the process).
pub fn checkpoint() {
    drop(critical());
}

fn clean_up() {
    let list = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    // Newest first: files inside a directory before the directory.
    for (_, cleanup) in list.iter().rev() {
        match cleanup {
            Cleanup::Remove(path) => {
                // remove_dir_all does not follow links inside the directory.
                let _ = match std::fs::symlink_metadata(path) {
                    Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
                    Ok(_) => std::fs::remove_file(path),
                    Err(_) => Ok(()),
                };
            }
            Cleanup::RemoveDirIfEmpty(path) => {
                let _ = std::fs::remove_dir(path);
            }
        }
    }
}

/// Starts the thread that handles SIGINT, SIGTERM and SIGHUP.
pub fn install() -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            // Held until the process ends: the main thread stops at its next checkpoint.
            let _critical = critical();
            clean_up();
            eprintln!("nix2dream: interrupted; removed what this run had staged");
            let _ = signal_hook::low_level::emulate_default_handler(signal);
            std::process::exit(128 + signal);
        }
    })?;
    Ok(())
}
