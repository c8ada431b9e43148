//! The systemd plugin's units, checked by `systemd-analyze verify` and then
//! run by a real systemd (`nix2dream_e2e::systemd_machine`).

use nix2dream_e2e::systemd_machine::Machine;
use nix2dream_e2e::systemd_shop::{deployment, start_and_check};
use nix2dream_e2e::*;
use std::path::{Path, PathBuf};
use std::process::Command;

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
    // systemd-analyze exits 0 on some problems: its stderr must be empty too.
    let r = run(Command::new("systemd-analyze").current_dir(&out).arg("verify").args(&units));
    let stderr: Vec<&str> = r
        .stderr
        .lines()
        // Not about the units: the users exist on the target machine, not here.
        .filter(|l| !l.contains("Failed to resolve user") && !l.contains("Failed to resolve group"))
        .collect();
    assert!(r.ok && stderr.is_empty(), "systemd-analyze verify:\n{}", r.stderr);
}

#[test]
fn the_units_run_under_a_real_systemd() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let out = tmp.path().join("out");
    render(&deployment(tmp.path(), &busybox), &out);
    let machine = Machine::boot();
    // Install as the plugin's usage says.
    for unit in std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()) {
        if unit.extension().is_some_and(|e| e == "service" || e == "target") {
            machine.copy_in(&unit, "/etc/systemd/system/");
        }
    }
    machine.ok(&["mkdir", "-p", "/etc/nix2dream/shop"]);
    machine.copy_in(&out.join("config"), "/etc/nix2dream/shop/");
    for user in ["www", "echo"] {
        machine.ok(&["useradd", "--system", user]);
    }
    machine.ok(&["systemctl", "daemon-reload"]);
    start_and_check(&machine, &busybox);
}
