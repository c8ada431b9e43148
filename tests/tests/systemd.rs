//! The systemd plugin's units, checked by `systemd-analyze verify` and then
//! run by a real systemd (`nix2dream_e2e::systemd_machine`).

use nix2dream_e2e::systemd_machine::{assert_systemd_analyze_verifies, Machine};
use nix2dream_e2e::systemd_shop::{deployment, start_and_check};
use nix2dream_e2e::*;
use std::path::{Path, PathBuf};

fn render(input: &Path, out: &Path) {
    let r = run(nix2dream().args(["render", "--plugin", "systemd"]).arg(input).arg("--out").arg(out));
    assert!(r.ok, "{}", r.stderr);
}

#[test]
fn systemd_analyze_verify_accepts_the_units() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let out = tmp.path().join("out");
    render(&deployment(tmp.path(), &busybox), &out);
    let units: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "service" || e == "target") && !p.to_string_lossy().contains('@'))
        .collect();
    assert_eq!(units.len(), 4, "{units:?}");
    // Verified together (they refer to each other), from the output directory.
    assert_systemd_analyze_verifies(&out, &units);
}

#[test]
fn the_units_run_under_a_real_systemd() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let out = tmp.path().join("out");
    render(&deployment(tmp.path(), &busybox), &out);
    let machine = Machine::boot();
    let deployment = machine.install_systemd_output(&out, |m| {
        for user in ["www", "echo"] {
            m.ok(&["useradd", "--system", user]);
        }
    });
    assert_eq!(deployment, "shop");
    start_and_check(&machine, &busybox);
}
