//! The k8s plugin's manifests, checked by kubernetes-validate in strict mode
//! (a misspelt or misplaced field fails), and its images loaded by Docker
//! under exactly the names the manifests use. No cluster runs here.

use nix2dream_e2e::*;
use serde_json::json;
use std::process::Command;

fn validate(file: &std::path::Path) -> Run {
    Command::new("kubernetes-validate")
        .args(["--strict", "--kubernetes-version", "1.30"])
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run kubernetes-validate ({e}): pip install kubernetes-validate (scripts/install-deps.sh does)"))
        .into()
}

#[test]
fn manifests_pass_strict_schema_validation_and_name_the_loaded_images() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let input = write_deployment(
        tmp.path(),
        json!({
            "web": {
                "package": busybox,
                "description": "the site",
                "process": {"argv": ["httpd", "-f", "-p", "8080"]},
                "ports": {"http": {"port": 8080}, "Metrics_Port": {"port": 9090, "protocol": "udp"}},
                "user": "www",
                "workingDirectory": "/srv",
                "volumes": {"state": {"path": "/var/lib/web"}, "cache": {"path": "/cache", "persistent": false}},
                "healthcheck": {"http": {"port": 8080, "path": "/"}, "interval": 5, "retries": 3},
                "resources": {"cpus": 0.25, "memoryMiB": 128},
                "replicas": 2,
            },
            "worker": {
                "package": busybox,
                "process": {"argv": ["sleep", "1000"]},
                "healthcheck": {"command": ["test", "-d", "/"]},
                "dependsOn": {"web": {"condition": "healthy"}},
            },
        }),
        // Both images in one archive (one `kind load image-archive`).
        json!({"settings": {"k8s": {"storage": "5Gi", "imageArchives": "shared"}}}),
    );
    let out = tmp.path().join("out");
    let r = run(nix2dream().args(["render", "--plugin", "k8s"]).arg(&input).arg("--out").arg(&out));
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("sets `dependsOn`, which plugin k8s@0.1.0 does not support"), "{}", r.stderr);
    let manifests = out.join("manifests.yaml");
    let v = validate(&manifests);
    assert!(v.ok, "kubernetes-validate --strict rejects the manifests:\n{}{}", v.stdout, v.stderr);
    let text = std::fs::read_to_string(&manifests).unwrap();
    for kind in ["kind: 'Deployment'", "kind: 'Service'", "kind: 'PersistentVolumeClaim'", "storage: '5Gi'", "name: 'p-9090-udp'", "fsGroup: 1000"] {
        assert!(text.contains(kind), "{kind} missing from:\n{text}");
    }
    // The validator is strict: the same file with a misspelt field fails.
    let broken = tmp.path().join("broken.yaml");
    std::fs::write(&broken, text.replacen("containerPort:", "containerPrt:", 1)).unwrap();
    assert!(!validate(&broken).ok, "kubernetes-validate accepted a misspelt field");

    // What the cluster would run is what nix2dream built.
    let load = run(Command::new("docker").args(["load", "-i"]).arg(out.join("images/all.tar")));
    assert!(load.ok, "{}", load.stderr);
    let images: Vec<&str> = load.stdout.lines().filter_map(|l| l.trim().strip_prefix("Loaded image: ")).collect();
    assert_eq!(images.len(), 2, "{}", load.stdout);
    for image in images {
        let _ = run(Command::new("docker").args(["rmi", "-f", image]));
        assert!(text.contains(&format!("image: '{image}'\n")), "the manifests do not use the loaded image {image}");
    }
}

#[test]
fn yaml_1_1_words_start_periods_patches_and_extra_objects_pass_strict_validation() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write_deployment(
        tmp.path(),
        json!({
            "db": {
                "description": "yes",
                "process": {"argv": ["db"]},
                "ports": {"pg": {"port": 5432}},
                "volumes": {"data": {"path": "/var/lib/db"}},
                // The reproduction: `no` read as false by a YAML 1.1 reader.
                "healthcheck": {"command": ["check", "no", "on", "12:30", "1_000", "~"], "interval": 5, "startPeriod": 60},
                "managers": {"k8s": {"patch": {
                    "Deployment": {"spec": {"template": {"spec": {
                        "nodeSelector": {"disk": "ssd"},
                        "containers": [{"name": "db", "env": [{"name": "MODE", "value": "off"}]}]}}}},
                    "Service": {"spec": {"type": "NodePort", "ports": [{"port": 5432, "nodePort": 30432}]}},
                    "PersistentVolumeClaim": {"spec": {"storageClassName": "fast"}},
                }}},
            },
        }),
        json!({"settings": {"k8s": {"extraObjects": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags"}, "data": {"no": "no", "time": "12:30"}},
        ]}}}),
    );
    let out = tmp.path().join("out");
    let r = run(nix2dream().args(["render", "--plugin", "k8s"]).arg(&input).arg("--out").arg(&out));
    assert!(r.ok, "{}", r.stderr);
    let manifests = out.join("manifests.yaml");
    let v = validate(&manifests);
    assert!(v.ok, "kubernetes-validate --strict rejects the manifests:\n{}{}", v.stdout, v.stderr);
    // What a YAML 1.1 reader (PyYAML, as kubectl's own YAML rules) sees.
    let read = Command::new("python3")
        .args(["-c", "import sys, json, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))"])
        .arg(&manifests)
        .output()
        .expect("python3 with PyYAML (scripts/install-deps.sh installs it)");
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    let docs: Vec<serde_json::Value> = serde_json::from_slice(&read.stdout).unwrap();
    let find = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind}"));
    let deployment = find("Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["livenessProbe"]["exec"]["command"], json!(["check", "no", "on", "12:30", "1_000", "~"]));
    assert_eq!(container["startupProbe"]["failureThreshold"], json!(12 + 3), "60 s at 5 s, then 3 retries");
    assert!(container["livenessProbe"].get("initialDelaySeconds").is_none());
    assert_eq!(container["env"], json!([{"name": "MODE", "value": "off"}]));
    assert_eq!(deployment["metadata"]["annotations"]["description"], "yes");
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate", "a ReadWriteOnce claim cannot be shared by a rolling update");
    assert_eq!(deployment["spec"]["template"]["spec"]["nodeSelector"]["disk"], "ssd");
    assert_eq!(find("Service")["spec"]["ports"][0]["nodePort"], 30432);
    assert_eq!(find("PersistentVolumeClaim")["spec"]["storageClassName"], "fast");
    assert_eq!(find("ConfigMap")["data"], json!({"no": "no", "time": "12:30"}));

    // A misspelt patch is refused by name, and nothing is written.
    let before = snapshot(&out);
    let mut bad = serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&input).unwrap()).unwrap();
    bad["services"]["db"]["managers"]["k8s"] = json!({"patches": {}});
    std::fs::write(&input, bad.to_string()).unwrap();
    let r = run(nix2dream().args(["render", "--plugin", "k8s"]).arg(&input).arg("--out").arg(&out));
    assert!(!r.ok && r.stderr.contains("services.db.managers.k8s.patches: not a setting of the k8s plugin"), "{}", r.stderr);
    assert_eq!(snapshot(&out), before);
}

/// 20,000 services render within the plugin's default limits (memory,
/// fuel, output): the plugin once held every object until the end and
/// needed more than 400 MiB. `--check` into a directory that does not exist
/// renders everything but builds no image.
#[test]
fn twenty_thousand_services_render_within_the_default_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let services: serde_json::Map<String, serde_json::Value> = (0..20_000)
        .map(|i| {
            let s = json!({"process": {"argv": ["/bin/app", "--id", i.to_string()]}, "env": {"ID": i.to_string()},
                "ports": {"http": {"port": 10000 + i % 50000}}, "volumes": {"data": {"path": "/var/lib/data"}},
                "healthcheck": {"command": ["true"]}});
            (format!("svc-{i}"), s)
        })
        .collect();
    let input = write_deployment(tmp.path(), serde_json::Value::Object(services), json!({}));
    let r = run(nix2dream().args(["render", "-q", "--check", "--format", "json", "--plugin", "k8s"]).arg(&input).arg("--out").arg(tmp.path().join("none")));
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stderr));
    assert_eq!(report["exitCode"], 1, "rendered, and differs from the missing directory: {}", report["error"]);
}
