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
        json!({"settings": {"k8s": {"storage": "5Gi"}}}),
    );
    let out = tmp.path().join("out");
    let r = run(nix2dream().args(["render", "--plugin", "k8s"]).arg(&input).arg("--out").arg(&out));
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("sets `dependsOn`, which plugin k8s@0.1.0 does not support"), "{}", r.stderr);
    let manifests = out.join("manifests.yaml");
    let v = validate(&manifests);
    assert!(v.ok, "kubernetes-validate --strict rejects the manifests:\n{}{}", v.stdout, v.stderr);
    let text = std::fs::read_to_string(&manifests).unwrap();
    for kind in ["kind: Deployment", "kind: Service", "kind: PersistentVolumeClaim", "storage: 5Gi", "name: p-9090-udp", "fsGroup: 1000"] {
        assert!(text.contains(kind), "{kind} missing from:\n{text}");
    }
    // The validator is strict: the same file with a misspelt field fails.
    let broken = tmp.path().join("broken.yaml");
    std::fs::write(&broken, text.replacen("containerPort:", "containerPrt:", 1)).unwrap();
    assert!(!validate(&broken).ok, "kubernetes-validate accepted a misspelt field");

    // What the cluster would run is what nix2dream built.
    for service in ["web", "worker"] {
        let load = run(Command::new("docker").args(["load", "-i"]).arg(out.join(format!("images/{service}.tar"))));
        assert!(load.ok, "{}", load.stderr);
        let image = load.stdout.trim().rsplit("Loaded image: ").next().unwrap().trim().to_owned();
        let _ = run(Command::new("docker").args(["rmi", "-f", &image]));
        assert!(text.contains(&format!("image: {image}\n")), "the manifests do not use the loaded image {image}");
    }
}
