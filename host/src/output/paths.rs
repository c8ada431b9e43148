//! Artifact paths: relative, `/`-separated, nothing that climbs out.

use anyhow::{bail, Result};
use std::path::PathBuf;

/// The hidden folder under `--out` where the host keeps its bookkeeping: the
/// manifest, the lock, the journal and staged files (see `state.rs`).
pub const STATE_DIR: &str = ".nix2dream";

/// Where earlier versions recorded what they wrote; still read (and removed)
/// so an output directory they wrote keeps its history.
pub const LEGACY_MANIFEST: &str = ".nix2dream-manifest.json";

/// Checks a path a plugin asked for and returns it as a relative `PathBuf`.
pub fn checked(path: &str) -> Result<PathBuf> {
    if path.is_empty() {
        bail!("empty path");
    }
    if path.starts_with('/') {
        bail!("{path:?} is absolute; artifact paths must be relative to the output directory");
    }
    if path.contains('\\') || path.contains('\0') {
        bail!("{path:?} contains a backslash or NUL byte");
    }
    let mut out = PathBuf::new();
    for part in path.split('/') {
        match part {
            ".." => bail!("{path:?} climbs out of the output directory with `..`"),
            "" | "." => bail!("{path:?} has an empty or `.` component"),
            _ => out.push(part),
        }
    }
    if path == LEGACY_MANIFEST || path == STATE_DIR || path.starts_with(".nix2dream/") {
        bail!("{path:?} is reserved for nix2dream's own bookkeeping");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::checked;
    use std::path::Component;

    proptest::proptest! {
        /// Whatever a plugin sends, an accepted path only names something
        /// below the output directory.
        #[test]
        fn accepted_paths_stay_below_the_output(path in "([a-z.]{0,3}|\\.\\.|/|\\\\|\\x00){0,8}") {
            if let Ok(p) = checked(&path) {
                proptest::prop_assert!(p.components().all(|c| matches!(c, Component::Normal(_))), "{path:?} -> {p:?}");
                proptest::prop_assert!(!path.contains('\0') && !path.contains('\\'));
                proptest::prop_assert_eq!(p.to_str().unwrap(), path.as_str());
            }
        }
    }

    #[test]
    fn escaping_paths_are_refused() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a\\b", ".nix2dream-manifest.json", ".nix2dream", ".nix2dream/lock"] {
            assert!(checked(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(checked("bin/web").unwrap(), std::path::Path::new("bin/web"));
    }
}
