//! Evaluating a user's `services.nix` with Nix into the deployment JSON
//! (`docs/deployment-json.md`), and generating the option reference.
//!
//! The work is done by `nix-instantiate --eval --strict --json` on the files
//! in the repository's `nix/` directory (`eval-file.nix`, `options-doc.nix`),
//! with nixpkgs' `lib/` found through [`find_nixpkgs`]. Failures become
//! errors saying what failed and what to do: Nix missing, nixpkgs missing,
//! an evaluation error (Nix's own message, with file and line), or failed
//! assertions (each listed).
//!
//! Files: `locate` (finding nixpkgs and nix2dream's own Nix files),
//! `nix_errors` (Nix's stderr made readable), `options_doc` (the option
//! reference as Markdown).

mod locate;
mod nix_errors;
mod options_doc;

use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

pub use locate::{find_nixpkgs, nix_dir, NixpkgsSource, NIXPKGS_ENV, NIX_DIR_ENV};
pub use nix_errors::{clean_nix_error, failed_assertions, nix_warnings};
pub use options_doc::options_markdown;

use nix_errors::nix_failure;

const HOW_TO_INSTALL_NIX: &str =
    "install Nix (e.g. `apt-get install nix-bin`, or see https://nixos.org/download) so that `nix-instantiate` is on PATH";

/// The result of an evaluation: the deployment and the warnings Nix printed
/// while producing it (`lib.warn`, the modules' `warnings`).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub deployment: Value,
    pub warnings: Vec<String>,
}

/// Evaluate `services_nix` (a module) to the deployment JSON. Warnings are
/// printed to stderr; see [`evaluate_file_with_warnings`] to get them.
pub fn evaluate_file(services_nix: &Path, nixpkgs_flag: Option<&Path>) -> Result<Value> {
    let ev = evaluate_file_with_warnings(services_nix, nixpkgs_flag)?;
    for w in &ev.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ev.deployment)
}

/// Evaluate `services_nix` (a module) to the deployment JSON, returning the
/// warnings Nix printed.
pub fn evaluate_file_with_warnings(
    services_nix: &Path,
    nixpkgs_flag: Option<&Path>,
) -> Result<Evaluation> {
    if !services_nix.is_file() {
        bail!(
            "{}: no such file (expected a Nix module defining `name` and `services.<name>`)",
            services_nix.display()
        );
    }
    let file = services_nix
        .canonicalize()
        .with_context(|| format!("resolving {}", services_nix.display()))?;
    let file_str = file
        .to_str()
        .ok_or_else(|| anyhow!("{}: the path is not valid UTF-8", file.display()))?;
    let nixpkgs = find_nixpkgs(nixpkgs_flag)?;
    let dir = nix_dir()?;
    let mut cmd = nix_instantiate();
    cmd.args(["--eval", "--strict", "--json", "--read-write-mode"])
        .arg("-I")
        .arg(nixpkgs_arg(&nixpkgs))
        .arg(dir.join("eval-file.nix"))
        .args(["--argstr", "file", file_str]);
    let (stdout, warnings) =
        run(cmd).map_err(|e| e.into_error(&services_nix.display().to_string(), &nixpkgs))?;
    let deployment = serde_json::from_str(&stdout).with_context(|| {
        format!(
            "evaluating {}: nix-instantiate printed something that is not JSON",
            services_nix.display()
        )
    })?;
    Ok(Evaluation {
        deployment,
        warnings,
    })
}

/// Every core option, as documented in the Nix declarations: the list
/// produced by `nix/options-doc.nix`.
pub fn options_json(nixpkgs_flag: Option<&Path>) -> Result<Value> {
    let nixpkgs = find_nixpkgs(nixpkgs_flag)?;
    let dir = nix_dir()?;
    let mut cmd = nix_instantiate();
    cmd.args(["--eval", "--strict", "--json"])
        .arg("-I")
        .arg(nixpkgs_arg(&nixpkgs))
        .arg(dir.join("options-doc.nix"));
    let (stdout, _warnings) =
        run(cmd).map_err(|e| e.into_error("nix/options-doc.nix", &nixpkgs))?;
    serde_json::from_str(&stdout).context("reading the options JSON printed by nix-instantiate")
}

fn nixpkgs_arg(n: &NixpkgsSource) -> std::ffi::OsString {
    let mut s = std::ffi::OsString::from("nixpkgs=");
    s.push(n.path());
    s
}

pub(crate) fn nix_instantiate() -> Command {
    let mut c = Command::new("nix-instantiate");
    // Running as root without a `nixbld` group (a plain `apt-get install
    // nix-bin`) must not fail or warn.
    c.args(["--option", "build-users-group", ""]);
    c
}

pub(crate) fn spawn_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == ErrorKind::NotFound {
        anyhow!("`nix-instantiate` not found: {HOW_TO_INSTALL_NIX}")
    } else {
        anyhow!("running nix-instantiate: {e}")
    }
}

enum RunError {
    Spawn(anyhow::Error),
    Failed(String),
}

impl RunError {
    fn into_error(self, what: &str, nixpkgs: &NixpkgsSource) -> anyhow::Error {
        match self {
            RunError::Spawn(e) => e,
            RunError::Failed(stderr) => nix_failure(what, &stderr, nixpkgs),
        }
    }
}

/// Run nix-instantiate: stdout and the warnings on success. Its stdout is
/// ignored on failure (it may hold half a JSON document).
fn run(mut cmd: Command) -> std::result::Result<(String, Vec<String>), RunError> {
    let out = cmd.output().map_err(|e| RunError::Spawn(spawn_error(e)))?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(RunError::Failed(stderr));
    }
    let stdout = String::from_utf8(out.stdout)
        .map_err(|_| RunError::Failed("nix-instantiate printed invalid UTF-8".into()))?;
    Ok((stdout, nix_warnings(&stderr)))
}
