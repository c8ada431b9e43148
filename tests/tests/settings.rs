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
