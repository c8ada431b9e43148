//! The project's own shell entry points (`./x`, `.ci/run`, the installer)
//! pass shellcheck: they are what a fresh machine runs first.

use nix2dream_e2e::*;
use std::process::Command;

#[test]
fn build_and_ci_scripts_pass_shellcheck() {
    let root = repo_root();
    let r = run(Command::new("shellcheck").current_dir(&root).args(["x", ".ci/run", "scripts/install-deps.sh"]));
    assert!(r.ok, "shellcheck (apt-get install shellcheck):\n{}{}", r.stdout, r.stderr);
}
