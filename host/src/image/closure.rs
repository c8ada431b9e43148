//! The runtime closure of store paths, through `nix-store -qR`.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The runtime closure of `roots` via `nix-store -qR` (sorted, deduplicated).
///
/// Fails when `nix-store` is not installed (install Nix, e.g.
/// `apt-get install nix-bin`) or when a root is not a valid path in the store
/// (build or realise it first).
pub fn closure(roots: &[String]) -> Result<Vec<PathBuf>> {
    if roots.is_empty() {
        return Ok(Vec::new());
    }
    for root in roots {
        if std::fs::symlink_metadata(root).is_err() {
            bail!(
                "store path {root} does not exist: build or realise it first \
                 (e.g. `nix-store --realise {root}` or `nix-build`)"
            );
        }
    }
    let output = match Command::new("nix-store")
        .arg("--query")
        .arg("--requisites")
        .args(roots)
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            bail!("nix-store is not installed (needed to compute the closure of {}): install Nix, e.g. `apt-get install nix-bin`", roots.join(" "))
        }
        Err(e) => return Err(e).context("running nix-store --query --requisites"),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr = stderr.trim();
        // nix-store names the path: "path '/x' is not in the Nix store" or
        // "path '/nix/store/…' is not valid".
        let hint = if stderr.contains("is not in the Nix store") {
            "give paths inside the Nix store (e.g. /nix/store/…-name), such as the outputs of `nix-build`"
        } else if stderr.contains("is not valid") {
            "build or realise it first (e.g. `nix-store --realise PATH` or `nix-build`)"
        } else {
            "check that the paths are valid store paths"
        };
        bail!(
            "nix-store --query --requisites {} failed ({}): {stderr}\n{hint}",
            roots.join(" "),
            output.status
        );
    }
    let stdout =
        String::from_utf8(output.stdout).context("nix-store printed a path that is not UTF-8")?;
    let mut paths: Vec<PathBuf> = stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .collect();
    paths.sort();
    paths.dedup();
    for path in &paths {
        if !Path::new(path).is_absolute() {
            bail!(
                "nix-store printed {:?}, which is not an absolute store path",
                path.display()
            );
        }
    }
    Ok(paths)
}
