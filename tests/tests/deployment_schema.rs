//! docs/deployment.schema.json, checked by a real validator (check-jsonschema)
//! against the host's own loader: what one accepts the other accepts, what one
//! refuses the other refuses. Editors and CI pipelines that validate with the
//! schema then see what `nix2dream render` would see.

use nix2dream_e2e::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn schema() -> PathBuf {
    repo_root().join("docs/deployment.schema.json")
}

fn check_jsonschema() -> Command {
    let mut cmd = Command::new("check-jsonschema");
    cmd.env("NO_COLOR", "1");
    cmd
}

/// (schema accepts, host accepts) for one document.
fn verdicts(dir: &Path, label: &str, doc: &Value) -> (bool, bool, String) {
    let file = dir.join(format!("{label}.json"));
    std::fs::write(&file, serde_json::to_string_pretty(doc).unwrap()).unwrap();
    let by_schema = check_jsonschema().arg("--schemafile").arg(schema()).arg(&file).output().unwrap_or_else(|e| {
        panic!("cannot run check-jsonschema ({e}): install it with `pip install check-jsonschema` (scripts/install-deps.sh does)")
    });
    let by_host = run(nix2dream().arg("eval").arg(&file));
    let why = format!(
        "{label}:\n  check-jsonschema: {}{}\n  nix2dream eval: {}",
        String::from_utf8_lossy(&by_schema.stdout),
        String::from_utf8_lossy(&by_schema.stderr),
        by_host.stderr
    );
    (by_schema.status.success(), by_host.ok, why)
}

fn doc(service: Value) -> Value {
    json!({"schema": "nix2dream/v1", "name": "t", "services": {"web": service}})
}

/// A service with every field set, as a user of the JSON format might write it.
fn every_field() -> Value {
    json!({
        "description": "all of it",
        "package": "/nix/store/00000000000000000000000000000000-web",
        "process": {"argv": ["web", "--flag", "a b"]},
        "env": {"A": "1"},
        "path": ["/nix/store/00000000000000000000000000000000-tools"],
        "workingDirectory": "/srv/web",
        "preStart": "mkdir -p x",
        "configData": {"a.conf": {"text": "x"}, "b": {"path": "etc/b.conf", "source": "/nix/store/00000000000000000000000000000000-b"}},
        "volumes": {"data": {"path": "/var/lib/web", "persistent": false}},
        "ports": {"http": {"port": 8080, "protocol": "tcp"}, "dns": {"port": 53, "protocol": "udp"}},
        "user": "web", "group": "web",
        "dependsOn": {"db": {"condition": "healthy"}},
        "healthcheck": {"http": {"port": 8080, "path": "/health"}, "interval": 5, "timeout": 2, "retries": 4, "startPeriod": 1},
        "restart": "always",
        "resources": {"cpus": 0.5, "memoryMiB": 256},
        "replicas": 2,
        "managers": {"compose": {"labels": {"a": "b"}}},
        "ignoreUnsupported": ["replicas"],
        "optionsSet": ["process.argv", "env"],
        "closureRoots": ["/nix/store/00000000000000000000000000000000-web"]
    })
}

fn with(mut service: Value, field: &str, value: Value) -> Value {
    service[field] = value;
    service
}

#[test]
fn schema_and_host_agree_on_what_is_a_valid_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let meta = check_jsonschema().arg("--check-metaschema").arg(schema()).output().expect("check-jsonschema");
    assert!(meta.status.success(), "the schema is not valid JSON Schema: {}", String::from_utf8_lossy(&meta.stdout));

    let minimal = json!({"process": {"argv": ["x"]}});
    let mut full = doc(every_field());
    full["services"]["db"] = json!({"process": {"argv": ["db"]}, "healthcheck": {"command": ["true"]}});
    full["settings"] = json!({"compose": {"publishAddress": "127.0.0.1"}});
    full["ignoreUnsupported"] = json!(["healthcheck"]);
    let demo: Value = serde_json::from_str(&std::fs::read_to_string(repo_root().join("examples/demo/deployment.json")).unwrap()).unwrap();
    let valid = [("minimal", doc(minimal.clone())), ("every-field", full), ("demo", demo)];

    let m = || minimal.clone();
    let invalid = [
        ("wrong-schema", json!({"schema": "nix2dream/v2", "name": "t", "services": {"web": m()}})),
        ("bad-name", json!({"schema": "nix2dream/v1", "name": "Web App", "services": {"web": m()}})),
        ("no-services", json!({"schema": "nix2dream/v1", "name": "t", "services": {}})),
        ("bad-service-name", json!({"schema": "nix2dream/v1", "name": "t", "services": {"Web": m()}})),
        ("unknown-top-field", json!({"schema": "nix2dream/v1", "name": "t", "services": {"web": m()}, "servics": {}})),
        ("unknown-service-field", doc(with(m(), "enviroment", json!({})))),
        ("empty-argv", doc(json!({"process": {"argv": []}}))),
        ("empty-program", doc(json!({"process": {"argv": ["", "x"]}}))),
        ("argv-not-list", doc(json!({"process": {"argv": "x"}}))),
        ("env-number", doc(with(m(), "env", json!({"A": 1})))),
        ("relative-cwd", doc(with(m(), "workingDirectory", json!("srv")))),
        ("relative-volume", doc(with(m(), "volumes", json!({"v": {"path": "data"}})))),
        ("config-both", doc(with(m(), "configData", json!({"c": {"text": "x", "source": "/nix/store/x"}})))),
        ("config-neither", doc(with(m(), "configData", json!({"c": {"path": "c"}})))),
        ("config-dotdot", doc(with(m(), "configData", json!({"c": {"path": "../c", "text": "x"}})))),
        ("port-zero", doc(with(m(), "ports", json!({"p": {"port": 0}})))),
        ("port-too-big", doc(with(m(), "ports", json!({"p": {"port": 70000}})))),
        ("port-string", doc(with(m(), "ports", json!({"p": {"port": "80"}})))),
        ("port-protocol", doc(with(m(), "ports", json!({"p": {"port": 80, "protocol": "sctp"}})))),
        ("condition", doc(with(m(), "dependsOn", json!({"web": {"condition": "ready"}})))),
        ("health-both", doc(with(m(), "healthcheck", json!({"command": ["true"], "http": {"port": 80}})))),
        ("health-neither", doc(with(m(), "healthcheck", json!({"interval": 3})))),
        ("health-empty-command", doc(with(m(), "healthcheck", json!({"command": []})))),
        ("restart", doc(with(m(), "restart", json!("sometimes")))),
        ("replicas-zero", doc(with(m(), "replicas", json!(0)))),
        ("replicas-huge", doc(with(m(), "replicas", json!(2147483648u64)))),
        ("relative-package", doc(with(m(), "package", json!("result")))),
        ("relative-path-entry", doc(with(m(), "path", json!(["/nix/store/x", "bin"])))),
        ("dotdot-closure-root", doc(with(m(), "closureRoots", json!(["/nix/store/../etc"])))),
        ("cpus-zero", doc(with(m(), "resources", json!({"cpus": 0})))),
        ("memory-negative", doc(with(m(), "resources", json!({"memoryMiB": -1})))),
        ("ignore-unknown-option", doc(with(m(), "ignoreUnsupported", json!(["enviroment"])))),
    ];

    let mut disagreements = Vec::new();
    for (label, d) in &valid {
        let (schema_ok, host_ok, why) = verdicts(dir.path(), label, d);
        if !(schema_ok && host_ok) {
            disagreements.push(format!("should be valid for both — {why}"));
        }
    }
    for (label, d) in &invalid {
        let (schema_ok, host_ok, why) = verdicts(dir.path(), label, d);
        if schema_ok || host_ok {
            disagreements.push(format!("should be refused by both — {why}"));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n\n"));
}
