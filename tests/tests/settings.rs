//! Plugin settings are checked by the host, once, against the JSON Schema
//! the plugin declares, before the plugin runs: errors name the key where
//! it is, `settings.<plugin>.<field>` or `services.<name>.managers.<plugin>.<field>`.

use nix2dream_e2e::*;
use serde_json::json;

#[test]
fn settings_breaking_the_plugins_schema_are_refused_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write_deployment(
        tmp.path(),
        json!({"web": {"process": {"argv": ["web"]}, "managers": {"procfile": {"enable": "yes", "colour": "red"}}}}),
        json!({"settings": {"procfile": {"binDir": 5}}}),
    );
    let out = tmp.path().join("out");
    let r = run(nix2dream().args(["render", "--plugin", "procfile"]).arg(&input).arg("--out").arg(&out));
    assert!(!r.ok, "{}", r.stderr);
    for expected in [
        "settings.procfile.binDir: 5 is not of type \"string\"",
        "services.web.managers.procfile.enable: \"yes\" is not of type \"boolean\"",
        "services.web.managers.procfile.colour: not a setting of the procfile plugin",
    ] {
        assert!(r.stderr.contains(expected), "missing {expected:?} in:\n{}", r.stderr);
    }
    assert!(!out.exists(), "a refused render wrote {}", out.display());
    // The JSON report gives each problem with the service it concerns.
    let r = run(nix2dream().args(["render", "--json", "--plugin", "procfile"]).arg(&input).arg("--out").arg(&out));
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let services: Vec<&serde_json::Value> = report["diagnostics"].as_array().unwrap().iter().map(|d| &d["service"]).collect();
    assert_eq!(services, [&json!(null), &json!("web"), &json!("web")], "{report:#}");

    // What the schema allows renders.
    let input = write_deployment(
        tmp.path(),
        json!({"web": {"process": {"argv": ["web"]}, "managers": {"procfile": {"enable": true}}}}),
        json!({"settings": {"procfile": {"binDir": "launchers"}}}),
    );
    let r = run(nix2dream().args(["render", "--plugin", "procfile"]).arg(&input).arg("--out").arg(&out));
    assert!(r.ok, "{}", r.stderr);
}

/// Renders `settings` (deployment-wide) and `managers` (service `web`) with
/// `plugin` and returns what the host said; the render must be refused.
fn refused(plugin: &str, settings: serde_json::Value, managers: serde_json::Value) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let input = write_deployment(
        tmp.path(),
        json!({"web": {"process": {"argv": ["web"]}, "managers": {plugin: managers}}}),
        json!({"settings": {plugin: settings}}),
    );
    let out = tmp.path().join("out");
    let r = run(nix2dream().args(["render", "--plugin", plugin]).arg(&input).arg("--out").arg(&out));
    assert!(!r.ok, "{plugin}: wrong settings rendered:\n{}", r.stderr);
    assert!(!out.exists(), "{plugin}: a refused render wrote {}", out.display());
    r.stderr
}

fn says(stderr: &str, expected: &[&str]) {
    for e in expected {
        assert!(stderr.contains(e), "missing {e:?} in:\n{stderr}");
    }
}

/// Every bundled plugin's settings schema is derived from its settings types
/// (kit::settings); the host refuses what it does not allow, in either place,
/// naming the field, before the plugin runs. The values below are ones the
/// plugins' types alone would take (a pattern, a range, a required key, a key
/// of the other place): only the host's check of the schema refuses them.
#[test]
fn every_bundled_plugin_has_its_wrong_settings_refused_by_the_host_naming_the_field() {
    let e = refused("procfile", json!({"binDir": "a b", "enable": false}), json!({"binDir": "x"}));
    says(&e, &[
        "settings.procfile.binDir: \"a b\" does not match",
        "settings.procfile.enable: a per-service setting of the procfile plugin: set services.<name>.managers.procfile.enable instead",
        "services.web.managers.procfile.binDir: a deployment-wide setting of the procfile plugin: set settings.procfile.binDir instead",
    ]);
    let e = refused("docker", json!({"tag": "latest"}), json!({"push": true}));
    says(&e, &["settings.docker.tag: not a setting of the docker plugin", "services.web.managers.docker.push: not a setting of the docker plugin"]);
    let e = refused("compose", json!({"publishAddress": "10.0.0.1/8"}), json!("restart: always"));
    says(&e, &["settings.compose.publishAddress: \"10.0.0.1/8\" does not match", "services.web.managers.compose: \"restart: always\" is not of type \"object\""]);
    let e = refused("systemd", json!({"configDir": "etc/shop"}), json!({"Service": {"ExecStartPre": "a\nb", "LimitNOFILE": {"soft": 1}}}));
    says(&e, &[
        "settings.systemd.configDir: \"etc/shop\" does not match",
        "services.web.managers.systemd.Service.ExecStartPre: \"a\\nb\" does not match",
        "services.web.managers.systemd.Service.LimitNOFILE: {\"soft\":1} is not of types",
    ]);
    let e = refused("nixos", json!({"vm": {"memoryMiB": 100}, "openFirewall": "yes"}), json!({"Install": {"WantedBy": "x"}}));
    says(&e, &[
        "settings.nixos.vm.memoryMiB: 100 is less than the minimum of 256",
        "settings.nixos.openFirewall: \"yes\" is not of type \"boolean\"",
        "services.web.managers.nixos.Install: not a setting of the nixos plugin",
    ]);
    let e = refused(
        "k8s",
        json!({"storage": "lots", "extraObjects": [{"kind": "ConfigMap", "metadata": {"name": "x"}}]}),
        json!({"patch": {"Deployment": {"kind": "StatefulSet"}}}),
    );
    says(&e, &[
        "settings.k8s.storage: \"lots\" does not match",
        "settings.k8s.extraObjects[0].apiVersion: required, not set",
        "services.web.managers.k8s.patch.Deployment.kind: False schema does not allow \"StatefulSet\"",
    ]);
    let e = refused("vm", json!({"memoryMiB": 1024, "cpus": 65}), json!({"cpus": 2}));
    says(&e, &[
        "settings.vm.kernel: required, not set: A kernel package",
        "settings.vm.cpus: 65 is greater than the maximum of 64",
        "services.web.managers.vm.cpus: a deployment-wide setting of the vm plugin: set settings.vm.cpus instead",
    ]);
}
