//! The nixos plugin, as far as a machine without NixOS allows: module.nix
//! and vm.nix parse; module.nix evaluates with nixpkgs' lib.evalModules
//! against declarations of the NixOS options it sets (tests/nixos/, NixOS's
//! names and types; a misspelt or mistyped option fails); the units NixOS
//! would make of it (NixOS's own conversion, tests/nixos/systemd-lib.nix) pass
//! `systemd-analyze verify` and run under a real systemd with the systemd
//! plugin's assertions. With a full nixpkgs, NixOS itself evaluates them.

use nix2dream_e2e::systemd_machine::{assert_systemd_analyze_verifies, Machine};
use nix2dream_e2e::nixos_units::{evaluate, nix_instantiate, nixos_units};
use nix2dream_e2e::systemd_shop::{deployment, start_and_check};
use nix2dream_e2e::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn render(input: &Path, out: &Path) -> Run {
    let r = run(nix2dream().args(["render", "--plugin", "nixos"]).arg(input).arg("--out").arg(out));
    assert!(r.ok, "{}", r.stderr);
    r
}

/// A small deployment with ports, settings and an override target.
fn small(dir: &Path, settings: Value) -> PathBuf {
    write_deployment(
        dir,
        json!({
            "web": {
                "process": {"argv": ["/bin/httpd", "-f"]},
                "env": {"PATH": "/custom/bin"},
                "path": ["/usr/local"],
                "user": "www",
                "ports": {"http": {"port": 8080}, "dns": {"port": 5353, "protocol": "udp"}},
                "resources": {"memoryMiB": 700, "cpus": 1.5},
                "restart": "always",
            },
        }),
        json!({"name": "shop", "settings": {"nixos": settings}}),
    )
}

#[test]
fn rendered_files_parse() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let out = tmp.path().join("out");
    render(&deployment(tmp.path(), &busybox), &out);
    for file in ["module.nix", "vm.nix"] {
        let r = run(nix_instantiate().arg("--parse").arg(out.join(file)));
        assert!(r.ok, "{file} does not parse: {}", r.stderr);
    }
}

#[test]
fn module_evaluates_against_nixos_declarations_with_store_paths_in_the_closure() {
    let Some(nixpkgs) = nixpkgs_or_skip("nixos::module_evaluates_against_nixos_declarations_with_store_paths_in_the_closure") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let out = tmp.path().join("out");
    render(&deployment(tmp.path(), &busybox), &out);
    let v = evaluate(&nixpkgs, &out.join("module.nix"), &[]).unwrap_or_else(|e| panic!("module.nix does not evaluate: {e}"));
    assert_eq!(v["failedAssertions"], json!([]));
    let mut units: Vec<&String> = v["units"].as_object().unwrap().keys().collect();
    units.sort();
    assert_eq!(units, ["shop-db.service", "shop-echo.service", "shop-web.service", "shop-worker@.service", "shop.target"]);
    assert_eq!(v["wantedBy"]["shop.target"], json!(["multi-user.target"]));
    assert_eq!(v["users"], json!({"echo": {"group": "echo", "isSystemUser": true}, "www": {"group": "www", "isSystemUser": true}}));
    // The package and the config text are dependencies of the unit (string
    // context), so NixOS copies them with the system.
    let context: Vec<&str> = v["unitContext"]["shop-web.service"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(context.contains(&busybox.as_str()), "{context:?}");
    assert!(context.iter().any(|c| c.ends_with("-shop-web-index.html")), "{context:?}");
    assert_eq!(v["extraDependencies"], json!([{"path": busybox, "context": [busybox]}]));
}

#[test]
fn a_misspelt_or_mistyped_option_fails_evaluation_and_overrides_win() {
    let Some(nixpkgs) = nixpkgs_or_skip("nixos::a_misspelt_or_mistyped_option_fails_evaluation_and_overrides_win") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    render(&small(tmp.path(), json!({"openFirewall": true})), &out);
    let module = std::fs::read_to_string(out.join("module.nix")).unwrap();
    let v = evaluate(&nixpkgs, &out.join("module.nix"), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["firewall"], json!({"allowedTCPPorts": [8080], "allowedUDPPorts": [5353]}));
    let unit = v["units"]["shop-web.service"].as_str().unwrap();
    assert!(unit.contains("MemoryMax=700M\n"), "{unit}");
    // The service's own PATH wins over the one NixOS makes from `path`.
    assert!(unit.contains("Environment=\"PATH=/custom/bin\"\n"), "{unit}");
    assert_eq!(v["extraDependencies"], json!([]), "/usr/local is not a store path");

    // Each mutation must break evaluation as NixOS would.
    let mutations = [
        ("serviceConfig = {", "serviceconfig = {", "does not exist"),
        ("partOf = [ \"shop.target\" ];", "partOf = \"shop.target\";", "is not of type"),
        ("Restart = \"always\";", "Restart = \"sometimes\";", "serviceConfig"),
        ("allowedTCPPorts = [ 8080 ];", "allowedTCPPorts = [ 80800 ];", "is not of type"),
        // NixOS defines PATH from `path` itself: without mkForce the two conflict.
        ("lib.mkForce \"/custom/bin\"", "\"/custom/bin\"", "conflicting definition values"),
    ];
    for (from, to, error) in mutations {
        assert!(module.contains(from), "{from} not in module.nix:\n{module}");
        let mutated = tmp.path().join("mutated.nix");
        std::fs::write(&mutated, module.replace(from, to)).unwrap();
        let e = evaluate(&nixpkgs, &mutated, &[]).expect_err(&format!("{to} evaluated"));
        assert!(e.contains(error), "{to}: {e}");
    }
    // A system user without isSystemUser fails NixOS's users assertion.
    let mutated = tmp.path().join("mutated.nix");
    std::fs::write(&mutated, module.replace("isSystemUser = lib.mkDefault true;", "")).unwrap();
    let v = evaluate(&nixpkgs, &mutated, &[]).unwrap();
    assert!(v["failedAssertions"][0].as_str().unwrap().contains("isSystemUser"), "{v}");

    // Users override the module the NixOS way.
    let overrides = tmp.path().join("overrides.nix");
    std::fs::write(&overrides, "{ lib, ... }: { systemd.services.shop-web.serviceConfig.MemoryMax = lib.mkForce \"1G\"; }").unwrap();
    let v = evaluate(&nixpkgs, &out.join("module.nix"), &[&overrides]).unwrap_or_else(|e| panic!("{e}"));
    let unit = v["units"]["shop-web.service"].as_str().unwrap();
    assert!(unit.contains("MemoryMax=1G\n") && !unit.contains("700M"), "{unit}");
}

#[test]
fn vm_forwards_ports_with_memory_and_cores_from_resources() {
    let Some(nixpkgs) = nixpkgs_or_skip("nixos::vm_forwards_ports_with_memory_and_cores_from_resources") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let r = render(&small(tmp.path(), json!({})), &out);
    assert!(r.stderr.contains("the firewall stays closed on 5353/udp, 8080/tcp"), "{}", r.stderr);
    let v = evaluate(&nixpkgs, &out.join("vm.nix"), &[]).unwrap_or_else(|e| panic!("vm.nix does not evaluate: {e}"));
    assert_eq!(v["vm"]["memorySize"], json!(512 + 700));
    assert_eq!(v["vm"]["cores"], json!(2));
    let forwards: Vec<(u64, &str, &str)> = v["vm"]["forwardPorts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["host"]["port"].as_u64().unwrap(), f["host"]["address"].as_str().unwrap(), f["proto"].as_str().unwrap()))
        .collect();
    assert_eq!(forwards, [(8080, "127.0.0.1", "tcp"), (5353, "127.0.0.1", "udp")]);
    // The module's firewall stays closed; the VM opens the forwarded ports.
    assert_eq!(v["firewall"], json!({"allowedTCPPorts": [8080], "allowedUDPPorts": [5353]}));
}

#[test]
fn the_units_nixos_makes_pass_systemd_analyze_and_run_under_a_real_systemd() {
    let Some(nixpkgs) = nixpkgs_or_skip("nixos::the_units_nixos_makes_pass_systemd_analyze_and_run_under_a_real_systemd") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let out = tmp.path().join("out");
    render(&deployment(tmp.path(), &busybox), &out);
    let (units, users, groups) = nixos_units(&nixpkgs, &out, &tmp.path().join("units"));

    let concrete: Vec<&PathBuf> = units.iter().filter(|u| !u.to_string_lossy().contains('@')).collect();
    assert_systemd_analyze_verifies(&tmp.path().join("units"), &concrete);

    let machine = Machine::boot();
    for unit in &units {
        machine.copy_in(unit, "/etc/systemd/system/");
    }
    // What NixOS's users-groups module would create.
    for group in &groups {
        machine.ok(&["groupadd", "--system", group]);
    }
    for (user, account) in users.as_object().unwrap() {
        assert_eq!(account["isSystemUser"], json!(true));
        machine.ok(&["useradd", "--system", "-g", account["group"].as_str().unwrap(), user]);
    }
    machine.ok(&["systemctl", "daemon-reload"]);
    start_and_check(&machine, &busybox);
}

#[test]
fn full_nixpkgs_evaluates_the_system_and_the_vm() {
    let Some(nixpkgs) = full_nixpkgs_or_skip("nixos::full_nixpkgs_evaluates_the_system_and_the_vm") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let out = tmp.path().join("out");
    render(&deployment(tmp.path(), &busybox), &out);
    let expr = format!(
        "let system = import {}/nixos {{ configuration = {}; }}; in \
         {{ unit = system.config.systemd.units.\"shop-echo.service\".text; vm = system.vm.drvPath; }}",
        nixpkgs.display(),
        out.join("vm.nix").display()
    );
    let r = run(nix_instantiate().args(["--eval", "--strict", "--json", "-E", &expr]));
    assert!(r.ok, "NixOS does not evaluate the VM configuration: {}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let unit = v["unit"].as_str().unwrap();
    assert!(unit.contains(r#""with space" "$$HOME" "$${PATH}" "100%%""#), "{unit}");
    assert!(unit.contains("User=echo") && unit.contains("StateDirectory=echo"), "{unit}");
    assert!(v["vm"].as_str().unwrap().ends_with(".drv"), "{v}");
}
