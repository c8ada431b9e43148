//! What the services' packages hold in `bin/`, read once per render. A
//! plugin cannot read the Nix store, so it cannot tell whether the `sh` or
//! `wget` it relies on is there; with this (contract 0.3.0) it checks before
//! it warns, instead of warning every time.

use crate::deployment::Deployment;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `package` or `path` entry -> sorted file names in its `bin/`. Entries not
/// on this machine are absent: what they hold is unknown.
pub type BinDirectories = BTreeMap<String, Vec<String>>;

pub fn list(deployment: &Deployment) -> BinDirectories {
    let mut seen = BTreeSet::new();
    let mut out = BinDirectories::new();
    for service in deployment.services.values() {
        for entry in service.package.iter().chain(&service.path) {
            if seen.insert(entry.as_str()) {
                if let Some(programs) = programs_in(Path::new(entry)) {
                    out.insert(entry.clone(), programs);
                }
            }
        }
    }
    out
}

fn programs_in(entry: &Path) -> Option<Vec<String>> {
    if !entry.is_absolute() || std::fs::symlink_metadata(entry).is_err() {
        return None;
    }
    // A package without bin/ (or a single file) holds no program.
    let mut names: Vec<String> = std::fs::read_dir(entry.join("bin"))
        .map(|dir| dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names.sort();
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_present_entries_once_and_leaves_missing_ones_unknown() {
        let tmp = tempfile::tempdir().unwrap();
        let pkg = tmp.path().join("pkg");
        std::fs::create_dir_all(pkg.join("bin")).unwrap();
        std::fs::write(pkg.join("bin/wget"), "").unwrap();
        std::fs::write(pkg.join("bin/sh"), "").unwrap();
        let empty = tmp.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let missing = tmp.path().join("missing");
        let json = serde_json::json!({
            "schema": "nix2dream/v1", "name": "t",
            "services": {
                "a": {"process": {"argv": ["x"]}, "package": pkg, "path": [empty, missing]},
                "b": {"process": {"argv": ["x"]}, "path": [pkg]},
            }
        });
        let d = crate::deployment::from_value(&json).unwrap();
        let bins = list(&d);
        assert_eq!(bins.len(), 2, "{bins:?}");
        assert_eq!(bins[pkg.to_str().unwrap()], ["sh", "wget"]);
        assert!(bins[empty.to_str().unwrap()].is_empty());
        assert!(!bins.contains_key(missing.to_str().unwrap()));
    }
}
