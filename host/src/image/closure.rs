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

/// The references of every path in the closure of a render's roots, asked
/// of Nix once (`nix path-info --json --recursive`), so that each image's
/// closure is a walk in memory rather than one `nix-store -qR` per image.
#[derive(Debug, Default)]
pub struct StoreGraph {
    references: std::collections::HashMap<PathBuf, Vec<PathBuf>>,
}

impl StoreGraph {
    /// Asks Nix for the closure of `roots` with its references; None when
    /// that way is not available (no `nix` command, or one that refuses the
    /// query): then [`closure()`] per image, whose errors name the problem.
    pub fn query(roots: &[String]) -> Option<StoreGraph> {
        if roots.is_empty() || roots.iter().any(|r| std::fs::symlink_metadata(r).is_err()) {
            return None;
        }
        let output = Command::new("nix")
            .args(["--extra-experimental-features", "nix-command", "path-info", "--json", "--recursive"])
            .args(roots)
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let value: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
        StoreGraph::from_path_info(&value)
    }

    /// Reads `nix path-info --json`: an array of `{path, references}` (Nix
    /// before 2.19) or an object keyed by path (later), references as full
    /// paths or, in newer formats, as names in the same store directory.
    fn from_path_info(value: &serde_json::Value) -> Option<StoreGraph> {
        let entries: Vec<(String, &serde_json::Value)> = match value {
            serde_json::Value::Array(items) => items.iter().map(|i| Some((i.get("path")?.as_str()?.to_owned(), i))).collect::<Option<_>>()?,
            serde_json::Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
            _ => return None,
        };
        let mut graph = StoreGraph::default();
        for (path, info) in entries {
            let path = PathBuf::from(path);
            let store_dir = path.parent()?.to_owned();
            let references = info
                .get("references")?
                .as_array()?
                .iter()
                .map(|r| r.as_str().map(|r| if r.starts_with('/') { PathBuf::from(r) } else { store_dir.join(r) }))
                .collect::<Option<Vec<_>>>()?;
            graph.references.insert(path, references);
        }
        Some(graph)
    }

    /// The closure of `roots` (sorted), or None when a path is not in the
    /// graph (then ask [`closure()`], which says why).
    pub fn closure(&self, roots: &[String]) -> Option<Vec<PathBuf>> {
        let mut seen: std::collections::BTreeSet<PathBuf> = std::collections::BTreeSet::new();
        let mut todo: Vec<PathBuf> = roots.iter().map(PathBuf::from).collect();
        while let Some(path) = todo.pop() {
            let references = self.references.get(&path)?;
            if seen.insert(path) {
                todo.extend(references.iter().filter(|r| !seen.contains(*r)).cloned());
            }
        }
        Some(seen.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::StoreGraph;
    use std::path::PathBuf;

    #[test]
    fn a_closure_is_walked_from_either_path_info_format() {
        let old = serde_json::json!([
            {"path": "/nix/store/a-app", "references": ["/nix/store/b-lib", "/nix/store/a-app"]},
            {"path": "/nix/store/b-lib", "references": ["/nix/store/c-libc"]},
            {"path": "/nix/store/c-libc", "references": []},
            {"path": "/nix/store/d-other", "references": ["/nix/store/c-libc"]}
        ]);
        let new = serde_json::json!({
            "/nix/store/a-app": {"references": ["b-lib", "a-app"]},
            "/nix/store/b-lib": {"references": ["c-libc"]},
            "/nix/store/c-libc": {"references": []},
            "/nix/store/d-other": {"references": ["c-libc"]}
        });
        for value in [old, new] {
            let graph = StoreGraph::from_path_info(&value).unwrap();
            let paths = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
            assert_eq!(graph.closure(&["/nix/store/a-app".into()]).unwrap(), paths(&["/nix/store/a-app", "/nix/store/b-lib", "/nix/store/c-libc"]));
            assert_eq!(graph.closure(&["/nix/store/d-other".into()]).unwrap(), paths(&["/nix/store/c-libc", "/nix/store/d-other"]));
            assert!(graph.closure(&["/nix/store/z-unknown".into()]).is_none());
        }
    }
}

/// The closures earlier renders into the same output directory found, by
/// their sorted roots: a store path's references never change, so a render
/// whose images' roots are all known asks Nix nothing (an unchanged second
/// render then costs tens of milliseconds less). Saved in the output's
/// `.nix2dream/closures.json` (`output/kept.rs`), trusted like the archives
/// beside it; `used` keeps the saved list to what the last render used.
#[derive(Debug, Default)]
pub struct KnownClosures(super::learned::Learned<Vec<String>, Vec<PathBuf>>);

/// One closure, as saved.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedClosure {
    roots: Vec<String>,
    closure: Vec<PathBuf>,
}

impl KnownClosures {
    /// The closure of `roots` (sorted), when an earlier render found it.
    pub fn get(&mut self, roots: &[String]) -> Option<Vec<PathBuf>> {
        self.0.get(roots)
    }

    /// Records the closure of `roots` (sorted), just found.
    pub fn record(&mut self, roots: &[String], closure: &[PathBuf]) {
        self.0.record(roots, closure.to_vec());
    }

    /// Reads what [`KnownClosures::to_json`] wrote; anything unreadable is ignored.
    pub fn from_json(bytes: &[u8]) -> KnownClosures {
        let saved: Vec<SavedClosure> = serde_json::from_slice(bytes).unwrap_or_default();
        // Only store paths, as `closure()` itself checks.
        let mut known = KnownClosures::default();
        known.0.add(saved.into_iter().filter(|c| c.closure.iter().all(|p| p.is_absolute())).map(|c| (c.roots, c.closure)));
        known
    }

    /// The closures this render used, to save.
    pub fn to_json(&self) -> Vec<u8> {
        let saved: Vec<SavedClosure> = self.0.used().iter().map(|(roots, closure)| SavedClosure { roots: roots.clone(), closure: closure.clone() }).collect();
        serde_json::to_vec(&saved).unwrap_or_default()
    }
}
