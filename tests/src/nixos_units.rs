//! What NixOS would make of a rendered `module.nix`, without NixOS:
//! tests/nixos/eval.nix evaluates it with nixpkgs' lib against declarations
//! of the NixOS options it sets, and converts `systemd.services` into unit
//! files the way NixOS does. Used by the nixos plugin's and the conformance
//! tests.

use crate::{repo_root, run};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn nix_instantiate() -> Command {
    let mut cmd = Command::new("nix-instantiate");
    cmd.env("NIX_CONFIG", "build-users-group =");
    cmd
}

/// tests/nixos/eval.nix on a rendered module: what NixOS would make of it.
/// Read-write, so the store files the module writes (builtins.toFile) exist,
/// as when NixOS builds the system.
pub fn evaluate(nixpkgs: &Path, module: &Path, extra_modules: &[&Path]) -> Result<Value, String> {
    let extra: Vec<String> = extra_modules.iter().map(|m| m.display().to_string()).collect();
    let r = run(nix_instantiate()
        .args(["--eval", "--read-write-mode", "--strict", "--json"])
        .arg(repo_root().join("tests/nixos/eval.nix"))
        .args(["--arg", "lib", &format!("import {}/lib", nixpkgs.display())])
        .args(["--arg", "module", &module.display().to_string()])
        .args(["--arg", "extraModules", &format!("[ {} ]", extra.join(" "))]));
    if r.ok {
        Ok(serde_json::from_str(&r.stdout).unwrap())
    } else {
        Err(r.stderr)
    }
}

/// The units NixOS makes of module.nix, written out: (directory, users, groups).
pub fn nixos_units(nixpkgs: &Path, out: &Path, dir: &Path) -> (Vec<PathBuf>, Value, Vec<String>) {
    let v = evaluate(nixpkgs, &out.join("module.nix"), &[]).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir).unwrap();
    let mut files = Vec::new();
    for (name, text) in v["units"].as_object().unwrap() {
        let file = dir.join(name);
        std::fs::write(&file, text.as_str().unwrap()).unwrap();
        files.push(file);
    }
    let groups = v["groups"].as_array().unwrap().iter().map(|g| g.as_str().unwrap().to_owned()).collect();
    (files, v["users"].clone(), groups)
}
