//! Where evaluation finds what it needs: nixpkgs (`--nixpkgs`,
//! `NIX2DREAM_NIXPKGS`, `<nixpkgs>`) and nix2dream's own Nix files.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::nix_errors::{clean_nix_error, first_line};
use super::{nix_instantiate, spawn_error};

/// Environment variable naming the nixpkgs to use (after `--nixpkgs`).
pub const NIXPKGS_ENV: &str = "NIX2DREAM_NIXPKGS";
/// Environment variable naming the directory holding `eval-file.nix`.
pub const NIX_DIR_ENV: &str = "NIX2DREAM_NIX_DIR";

pub(super) const HOW_TO_PROVIDE_NIXPKGS: &str =
    "provide nixpkgs (a checkout, or anything with its lib/ folder) in one of three ways:\n  \
     --nixpkgs PATH\n  \
     NIX2DREAM_NIXPKGS=PATH in the environment\n  \
     <nixpkgs> on the Nix search path, e.g. NIX_PATH=nixpkgs=PATH";

/// The nixpkgs used for evaluation and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NixpkgsSource {
    /// `--nixpkgs PATH`.
    Flag(PathBuf),
    /// `NIX2DREAM_NIXPKGS`.
    EnvVar(PathBuf),
    /// `<nixpkgs>` on the Nix search path (`NIX_PATH`, nix.conf).
    NixPath(PathBuf),
}

impl NixpkgsSource {
    /// The nixpkgs root: the directory holding `lib/default.nix`.
    pub fn path(&self) -> &Path {
        match self {
            NixpkgsSource::Flag(p) | NixpkgsSource::EnvVar(p) | NixpkgsSource::NixPath(p) => p,
        }
    }

    /// Where it came from, for messages.
    pub fn origin(&self) -> &'static str {
        match self {
            NixpkgsSource::Flag(_) => "--nixpkgs",
            NixpkgsSource::EnvVar(_) => NIXPKGS_ENV,
            NixpkgsSource::NixPath(_) => "<nixpkgs> on the Nix search path",
        }
    }
}

impl fmt::Display for NixpkgsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {})", self.path().display(), self.origin())
    }
}

/// Find nixpkgs: the `--nixpkgs` flag, else `NIX2DREAM_NIXPKGS`, else
/// `<nixpkgs>` on the Nix search path. The path must hold `lib/default.nix`
/// (a path to the `lib/` folder itself is accepted too).
pub fn find_nixpkgs(flag: Option<&Path>) -> Result<NixpkgsSource> {
    if let Some(p) = flag {
        let root = nixpkgs_root(p).with_context(|| format!("--nixpkgs {}", p.display()))?;
        return Ok(NixpkgsSource::Flag(root));
    }
    if let Some(v) = std::env::var_os(NIXPKGS_ENV).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        let root = nixpkgs_root(&p).with_context(|| format!("{NIXPKGS_ENV}={}", p.display()))?;
        return Ok(NixpkgsSource::EnvVar(root));
    }
    let out = nix_instantiate()
        .args(["--eval", "--json", "-E", "toString <nixpkgs>"])
        .output()
        .map_err(spawn_error)?;
    if !out.status.success() {
        let why = clean_nix_error(&String::from_utf8_lossy(&out.stderr));
        bail!(
            "nixpkgs not found: --nixpkgs is not given, {NIXPKGS_ENV} is not set, and <nixpkgs> is not on the Nix search path ({})\n{HOW_TO_PROVIDE_NIXPKGS}",
            first_line(&why)
        );
    }
    let found: String = serde_json::from_slice(&out.stdout)
        .context("reading the answer of `nix-instantiate --eval -E 'toString <nixpkgs>'`")?;
    let p = PathBuf::from(found);
    if !p.join("lib/default.nix").is_file() {
        bail!(
            "<nixpkgs> on the Nix search path is {}, which has no lib/default.nix\n{HOW_TO_PROVIDE_NIXPKGS}",
            p.display()
        );
    }
    Ok(NixpkgsSource::NixPath(p))
}

/// The nixpkgs root for a user-given path: the path itself when it holds
/// `lib/default.nix`, its parent when it is that `lib/` folder.
fn nixpkgs_root(p: &Path) -> Result<PathBuf> {
    if !p.exists() {
        bail!("{} does not exist\n{HOW_TO_PROVIDE_NIXPKGS}", p.display());
    }
    let p = p
        .canonicalize()
        .with_context(|| format!("resolving {}", p.display()))?;
    if p.join("lib/default.nix").is_file() {
        return Ok(p);
    }
    if p.join("default.nix").is_file() && p.join("modules.nix").is_file() {
        if let Some(parent) = p.parent() {
            if p.file_name().is_some_and(|n| n == "lib") {
                return Ok(parent.to_path_buf());
            }
        }
    }
    bail!(
        "{} is not nixpkgs: it has no lib/default.nix (nix2dream needs nixpkgs' lib/, e.g. a nixpkgs checkout)",
        p.display()
    )
}

/// The directory holding nix2dream's Nix files (`eval-file.nix`, …):
/// `NIX2DREAM_NIX_DIR`, else `<exe dir>/../share/nix2dream/nix`, else the
/// source tree's `nix/`.
pub fn nix_dir() -> Result<PathBuf> {
    let mut tried = Vec::new();
    if let Some(v) = std::env::var_os(NIX_DIR_ENV).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        if p.join("eval-file.nix").is_file() {
            return Ok(p);
        }
        bail!(
            "{NIX_DIR_ENV}={} has no eval-file.nix; point it at nix2dream's nix/ directory",
            p.display()
        );
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            let p = dir.join("../share/nix2dream/nix");
            if p.join("eval-file.nix").is_file() {
                return Ok(p);
            }
            tried.push(p);
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nix");
    if src.join("eval-file.nix").is_file() {
        return Ok(src);
    }
    tried.push(src);
    Err(anyhow!(
        "nix2dream's Nix files (eval-file.nix) not found; tried {}. Set {NIX_DIR_ENV} to the nix/ directory of nix2dream",
        tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
