//! Fault injection for the crash tests: `NIX2DREAM_FAULT=kill:N` kills the
//! process (SIGKILL, like `kill -9`) at the N-th step that changes the disk
//! under `--out`; `NIX2DREAM_FAULT=error:N` makes that step fail instead (as
//! ENOSPC or EACCES would). Unset, a step costs one relaxed atomic increment.
//! The tests sweep N over every step of a render and of the recovery after it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    Kill(u64),
    Error(u64),
}

fn configured() -> Option<Fault> {
    static FAULT: OnceLock<Option<Fault>> = OnceLock::new();
    *FAULT.get_or_init(|| {
        let spec = std::env::var("NIX2DREAM_FAULT").ok()?;
        let (kind, n) = spec.split_once(':')?;
        let n = n.parse().ok()?;
        match kind {
            "kill" => Some(Fault::Kill(n)),
            "error" => Some(Fault::Error(n)),
            _ => None,
        }
    })
}

static STEPS: AtomicU64 = AtomicU64::new(0);

/// Marks one step (`what` names it in the injected error).
pub fn step(what: &str) -> std::io::Result<()> {
    let Some(fault) = configured() else { return Ok(()) };
    let n = STEPS.fetch_add(1, Ordering::Relaxed) + 1;
    match fault {
        Fault::Kill(at) if at == n => {
            let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
            unreachable!("SIGKILL cannot be caught")
        }
        Fault::Error(at) if at == n => Err(std::io::Error::other(format!("injected fault at step {n} ({what})"))),
        _ => Ok(()),
    }
}
