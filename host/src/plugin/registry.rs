//! Finding plugins: a path to a `.wasm` file, or a name looked up on
//! `NIX2DREAM_PLUGIN_PATH` (colon-separated directories) and then among the
//! plugins bundled with nix2dream.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// Where the bundled plugins live: `NIX2DREAM_BUNDLED_PLUGINS`, else
/// `<dir of the executable>/../lib/nix2dream/plugins` (the `dist/` layout).
pub fn bundled_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("NIX2DREAM_BUNDLED_PLUGINS").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.join("lib/nix2dream/plugins"))
}

/// The directories on `NIX2DREAM_PLUGIN_PATH`, in order.
pub fn search_path() -> Vec<PathBuf> {
    std::env::var_os("NIX2DREAM_PLUGIN_PATH")
        .map(|p| std::env::split_paths(&p).filter(|d| !d.as_os_str().is_empty()).collect())
        .unwrap_or_default()
}

/// A plugin file found by `list`.
pub struct Found {
    pub name: String,
    pub file: PathBuf,
    pub origin: &'static str,
}

fn wasm_files(dir: &Path, origin: &'static str) -> Vec<Found> {
    let mut found: Vec<Found> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
        .map(|file| Found { name: file.file_stem().unwrap().to_string_lossy().into_owned(), file, origin })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// Every plugin file visible, search path first, then bundled ones.
pub fn list() -> Vec<Found> {
    let mut all = Vec::new();
    for dir in search_path() {
        all.extend(wasm_files(&dir, "NIX2DREAM_PLUGIN_PATH"));
    }
    if let Some(dir) = bundled_dir() {
        all.extend(wasm_files(&dir, "bundled"));
    }
    all
}

/// A plugin `--plugin SPEC` names, and the files of the same name it hides.
pub struct Resolved {
    pub file: PathBuf,
    /// Found later on the search path or among the bundled plugins: a
    /// plugin named like another one is used, but never silently.
    pub shadowed: Vec<Found>,
}

/// Resolves `--plugin SPEC`: a path when it names a file or has a `/` or a
/// `.wasm` suffix, else a plugin name (the first one found wins).
pub fn resolve(spec: &str) -> Result<Resolved> {
    let as_path = Path::new(spec);
    if spec.contains('/') || spec.ends_with(".wasm") || as_path.is_file() {
        if as_path.is_file() {
            return Ok(Resolved { file: as_path.to_owned(), shadowed: Vec::new() });
        }
        bail!("plugin file {spec} does not exist");
    }
    let mut same_name = list().into_iter().filter(|f| f.name == spec);
    if let Some(found) = same_name.next() {
        return Ok(Resolved { file: found.file, shadowed: same_name.collect() });
    }
    let known: Vec<String> = list().into_iter().map(|f| f.name).collect();
    bail!(
        "no plugin named {spec:?}: looked on NIX2DREAM_PLUGIN_PATH and in the bundled plugins ({}). \
         Known: {}. Pass a path to a .wasm file or put its directory on NIX2DREAM_PLUGIN_PATH \
         (from a source checkout, `./x build` builds the bundled ones)",
        bundled_dir().map(|d| d.display().to_string()).unwrap_or_else(|| "unknown".into()),
        if known.is_empty() { "none".to_owned() } else { known.join(", ") }
    )
}
