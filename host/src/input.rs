//! Reading the command's INPUT: a deployment JSON file, or a `.nix` file
//! evaluated through Nix.

use crate::deployment::{self, Deployment};
use anyhow::{Context, Result};
use std::path::Path;

pub fn is_nix(input: &Path) -> bool {
    input.extension().is_some_and(|e| e == "nix") || input.is_dir()
}

/// The deployment JSON value an input stands for (evaluating `.nix` files).
pub fn json_of(input: &Path, nixpkgs: Option<&Path>) -> Result<serde_json::Value> {
    if is_nix(input) {
        crate::evaluate::evaluate_file(input, nixpkgs)
    } else {
        deployment::strict_json::parse(&read_text(input)?).with_context(|| format!("{}: not valid JSON", input.display()))
    }
}

fn read_text(input: &Path) -> Result<String> {
    std::fs::read_to_string(input).with_context(|| format!("cannot read {}", input.display()))
}

pub fn load(input: &Path, nixpkgs: Option<&Path>) -> Result<Deployment> {
    let deployment = if is_nix(input) {
        deployment::from_value(&crate::evaluate::evaluate_file(input, nixpkgs)?)
    } else {
        // Read straight from the text: no JSON tree first.
        deployment::from_json(&read_text(input)?)
    };
    deployment.with_context(|| format!("invalid deployment {}", input.display()))
}
