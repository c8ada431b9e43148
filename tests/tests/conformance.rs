//! The conformance kit (`nix2dream_plugin_kit::conformance`) run against
//! every bundled manager with its real consumer: the probe deployment —
//! hostile words in argv, env and a config file, a working directory — is
//! rendered by the plugin, run by honcho, Docker, docker-compose or a real
//! systemd (nixos: the units NixOS makes of its module; k8s: the image its
//! manifest names, as a kubelet would run it),
//! and what the process saw must be what the deployment says, byte for byte.

use nix2dream_e2e::*;
use nix2dream_plugin_kit::conformance::{Probe, SERVICE};
use std::path::PathBuf;
use std::process::Command;

/// Where containers run the probe (created in the image, owned by its user).
const CONTAINER_WORKDIR: &str = "/srv/probe";

struct Rendered {
    _tmp: tempfile::TempDir,
    probe: Probe,
    /// The deployment's name (units are `<name>-probe.service`).
    name: String,
    out: PathBuf,
}

/// Renders the probe with `plugin`; `workdir` None means a fresh host directory.
fn render_probe(plugin: &str, workdir: Option<&str>) -> Rendered {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let host_dir = tmp.path().join("work");
    std::fs::create_dir_all(&host_dir).unwrap();
    let workdir = workdir.map(str::to_owned).unwrap_or_else(|| host_dir.to_string_lossy().into_owned());
    let probe = Probe::new(&busybox, &workdir);
    let name = format!("conf-{plugin}-{}", std::process::id());
    let input = tmp.path().join("deployment.json");
    std::fs::write(&input, serde_json::to_string_pretty(&probe.deployment_json(&name)).unwrap()).unwrap();
    let out = tmp.path().join("out");
    let r = run(nix2dream().args(["render", "--plugin", plugin]).arg(&input).arg("--out").arg(&out));
    assert!(r.ok, "{plugin} refused the probe deployment:\n{}", r.stderr);
    Rendered { _tmp: tmp, probe, name, out }
}

fn assert_conforms(plugin: &str, probe: &Probe, output: &str) {
    if let Err(problems) = probe.check(output) {
        panic!("{plugin}: the probe did not see what the deployment says:\n- {}", problems.join("\n- "));
    }
}

/// Waits for the probe's complete report in `log()`.
fn wait_report(log: impl FnMut() -> String) -> String {
    let mut log = log;
    wait_for(60, || Some(log()).filter(|l| l.contains("N2D-PROBE end"))).unwrap_or_else(log)
}

#[test]
fn procfile_under_honcho() {
    let r = render_probe("procfile", None);
    let honcho = Honcho::start(&r.out);
    let log = wait_report(|| honcho.log());
    drop(honcho);
    assert_conforms("procfile", &r.probe, &log);
}

/// `docker load` of an archive; the image reference it loaded.
/// A container removed (with its image) on drop.
struct Container {
    name: String,
    image: String,
}

impl Container {
    fn run(image: &str) -> Container {
        let name = format!("n2d-conformance-{}-{}", std::process::id(), image.replace([':', '/'], "-"));
        let c = Container { name, image: image.to_owned() };
        let r = run(Command::new("docker").args(["run", "-d", "--name", &c.name, image]));
        assert!(r.ok, "docker run {image}: {}", r.stderr);
        c
    }

    fn logs(&self) -> String {
        let r = run(Command::new("docker").args(["logs", &self.name]));
        r.stdout + &r.stderr
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = run(Command::new("docker").args(["rm", "-f", &self.name]));
        let _ = run(Command::new("docker").args(["rmi", "-f", &self.image]));
    }
}

#[test]
fn docker_image_under_docker_run() {
    let r = render_probe("docker", Some(CONTAINER_WORKDIR));
    let image = docker_load(&r.out.join(format!("images/{SERVICE}.tar")));
    let container = Container::run(&image);
    let log = wait_report(|| container.logs());
    assert_conforms("docker", &r.probe, &log);
}

#[test]
fn compose_under_docker_compose() {
    let r = render_probe("compose", Some(CONTAINER_WORKDIR));
    let image = docker_load(&r.out.join(format!("images/{SERVICE}.tar")));
    let project = format!("n2dconf{}", std::process::id());
    let compose = |args: &[&str]| {
        run(Command::new("docker-compose").arg("-p").arg(&project).arg("-f").arg(r.out.join("compose.yaml")).args(args))
    };
    let up = compose(&["up", "-d"]);
    let log = if up.ok { wait_report(|| compose(&["logs", "--no-color", SERVICE]).stdout) } else { String::new() };
    let _ = compose(&["down", "-v", "--timeout", "1"]);
    let _ = run(Command::new("docker").args(["rmi", "-f", &image]));
    assert!(up.ok, "docker-compose up: {}", up.stderr);
    assert_conforms("compose", &r.probe, &log);
}

/// Kubernetes runs the image the manifest names with the container's
/// fields; no cluster runs here, so the test checks the manifest adds no
/// command, args or env of its own, then runs that image as a kubelet would.
#[test]
fn k8s_image_as_its_manifest_names_it() {
    let r = render_probe("k8s", Some(CONTAINER_WORKDIR));
    let manifests = r.out.join("manifests.yaml");
    let py = r#"
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc.get("kind") == "Deployment":
        c = doc["spec"]["template"]["spec"]["containers"][0]
        extra = [k for k in ("command", "args", "env", "workingDir") if k in c]
        print(c["image"], ",".join(extra))
"#;
    let parsed = run(Command::new("python3").arg("-c").arg(py).arg(&manifests));
    assert!(parsed.ok, "PyYAML reads manifests.yaml: {}", parsed.stderr);
    let line = parsed.stdout.lines().next().unwrap_or_else(|| panic!("no Deployment in manifests.yaml"));
    let (image, extra) = line.split_once(' ').unwrap();
    assert!(extra.is_empty(), "the container overrides the image's {extra}: this test must pass them to docker run");
    let loaded = docker_load(&r.out.join(format!("images/{SERVICE}.tar")));
    assert_eq!(loaded, image, "the manifest names the image the archive holds");
    let container = Container::run(image);
    let log = wait_report(|| container.logs());
    assert_conforms("k8s", &r.probe, &log);
}

/// systemd: the units installed as the plugin's usage says, in the real
/// systemd of tests/src/systemd_machine.rs; the probe's report read from the
/// journal. Its working directory is under /var/lib (a StateDirectory=).
#[test]
fn systemd_under_a_real_systemd() {
    use nix2dream_e2e::systemd_machine::Machine;
    let r = render_probe("systemd", Some("/var/lib/n2d-probe"));
    let machine = Machine::boot();
    let deployment = machine.install_systemd_output(&r.out, |_| {});
    machine.ok(&["systemctl", "start", &format!("{deployment}.target")]);
    let unit = format!("{deployment}-{SERVICE}.service");
    let log = wait_report(|| machine.exec(&["journalctl", "--no-pager", "-o", "cat", "-u", &unit]).stdout);
    if !log.contains("N2D-PROBE end") {
        panic!("no report from {unit}:\n{}", machine.journal());
    }
    assert_conforms("systemd", &r.probe, &log);
}

/// nixos: the units NixOS makes of the rendered module.nix (its option
/// declarations and unit conversion, tests/nixos/, as the nixos plugin's own
/// tests use them), run in the same real systemd.
#[test]
fn nixos_module_units_under_a_real_systemd() {
    use nix2dream_e2e::nixos_units::nixos_units;
    use nix2dream_e2e::systemd_machine::Machine;
    let Some(nixpkgs) = nixpkgs_or_skip("conformance::nixos_module_units_under_a_real_systemd") else { return };
    let r = render_probe("nixos", Some("/var/lib/n2d-probe"));
    let units_dir = r.out.join("units");
    let (units, _, _) = nixos_units(&nixpkgs, &r.out, &units_dir);
    let machine = Machine::boot();
    for unit in &units {
        machine.copy_in(unit, "/etc/systemd/system/");
    }
    machine.ok(&["systemctl", "daemon-reload"]);
    machine.ok(&["systemctl", "start", &format!("{}.target", r.name)]);
    let unit = format!("{}-{SERVICE}.service", r.name);
    let log = wait_report(|| machine.exec(&["journalctl", "--no-pager", "-o", "cat", "-u", &unit]).stdout);
    if !log.contains("N2D-PROBE end") {
        panic!("no report from {unit}:\n{}", machine.journal());
    }
    assert_conforms("nixos", &r.probe, &log);
}

// ---------------------------------------------------------------- the stack
// The multi-service probe (`conformance::stack`): a one-shot seed, a backend
// on an internal port with a healthcheck, a client that reaches it through
// its service address after it is healthy and the seed completed, and the
// deployment-wide env. One deployment, unchanged, under every manager.

use nix2dream_plugin_kit::conformance::stack::{Secrets, Stack, KEY, TOKEN, TOKEN_VARIABLE};

struct RenderedStack {
    _tmp: tempfile::TempDir,
    stack: Stack,
    name: String,
    out: PathBuf,
    stderr: String,
}

/// What the client finds in the host directory bound into it.
const HOST_TEXT: &str = "from-the-host";

/// Renders the stack with `plugin`; `base` None means a fresh host directory.
/// A host directory (`hostPath`) holding `host.txt` is bound into the client
/// at `bind_inside`, or at its own path when None.
fn render_stack(plugin: &str, base: Option<&str>, port: u16, bind_inside: Option<&str>) -> RenderedStack {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let host_dir = tmp.path().join("work");
    std::fs::create_dir_all(&host_dir).unwrap();
    let bind = tmp.path().join("bind");
    std::fs::create_dir_all(&bind).unwrap();
    std::fs::write(bind.join("host.txt"), HOST_TEXT).unwrap();
    let bind = bind.to_string_lossy().into_owned();
    let base = base.map(str::to_owned).unwrap_or_else(|| host_dir.to_string_lossy().into_owned());
    let secrets = Secrets::written_in(&tmp.path().join("keys")).unwrap();
    let stack = Stack::new(&busybox, &base, port).with_host_dir(&bind, bind_inside.unwrap_or(&bind), HOST_TEXT).with_secrets(secrets);
    let name = format!("stack-{plugin}-{}", std::process::id());
    let input = tmp.path().join("deployment.json");
    std::fs::write(&input, serde_json::to_string_pretty(&stack.deployment_json(&name)).unwrap()).unwrap();
    let out = tmp.path().join("out");
    let r = run(nix2dream().args(["render", "--plugin", plugin]).arg(&input).arg("--out").arg(&out));
    assert!(r.ok, "{plugin} refused the stack deployment:\n{}", r.stderr);
    assert_no_secret_in(&out, &[TOKEN, KEY]);
    RenderedStack { _tmp: tmp, stack, name, out, stderr: r.stderr }
}

/// Writes the stack's secret files inside a machine, at the paths the deployment names.
fn secrets_into(machine: &nix2dream_e2e::systemd_machine::Machine, stack: &Stack) {
    let s = stack.secrets.as_ref().unwrap();
    for (file, value) in [(&s.token_file, TOKEN), (&s.key_file, KEY)] {
        machine.write_file(file, value);
    }
}

fn assert_stack_works(plugin: &str, stack: &Stack, output: &str) {
    if let Err(problems) = stack.check(output) {
        panic!("{plugin}: the stack did not work as the deployment says:\n- {}", problems.join("\n- "));
    }
}

#[test]
fn stack_procfile_under_honcho() {
    let r = render_stack("procfile", None, free_port(), None);
    // Honest about what a Procfile cannot do: no start-up order, no internal ports.
    for option in ["dependsOn", "healthcheck", "ports.internal", "stopSignal", "stopTimeout", "volumes.readOnly"] {
        assert!(r.stderr.contains(&format!("`{option}`")) || r.stderr.contains(option), "no warning about {option}:\n{}", r.stderr);
    }
    let honcho = Honcho::start(&r.out);
    let log = wait_for(60, || Some(honcho.log()).filter(|l| l.contains("N2D-STACK end"))).unwrap_or_else(|| honcho.log());
    // The seed exited 0 and the stack stayed up: the client is still there to be stopped.
    let still_running = !honcho.log().contains("SIGTERM to all processes");
    drop(honcho);
    assert!(still_running, "honcho stopped the stack when the one-shot seed exited:\n{log}");
    assert_stack_works("procfile", &r.stack, &log);
}

#[test]
fn stack_compose_under_docker_compose() {
    let port = free_port();
    let r = render_stack("compose", Some("/srv"), port, Some("/srv/host"));
    let images: Vec<String> = ["seed", "backend", "client"].iter().map(|s| docker_load(&r.out.join(format!("images/{s}.tar")))).collect();
    let project = format!("n2dstack{}", std::process::id());
    // The token comes from docker-compose's own environment.
    let compose = |args: &[&str]| {
        run(Command::new("docker-compose")
            .arg("-p")
            .arg(&project)
            .arg("-f")
            .arg(r.out.join("compose.yaml"))
            .args(args)
            .env(TOKEN_VARIABLE, TOKEN))
    };
    let up = compose(&["up", "-d"]);
    let logs = || compose(&["logs", "--no-color"]).stdout;
    let log = if up.ok { wait_for(90, || Some(logs()).filter(|l| l.contains("N2D-STACK end"))).unwrap_or_else(logs) } else { String::new() };
    // The internal port is on the project's network only: nothing published.
    let published = compose(&["port", "backend", &port.to_string()]);
    let _ = compose(&["down", "-v", "--timeout", "10"]);
    for image in &images {
        let _ = run(Command::new("docker").args(["rmi", "-f", image]));
    }
    assert!(up.ok, "docker-compose up: {}", up.stderr);
    assert!(
        !published.ok || published.stdout.trim().is_empty() || published.stdout.trim() == ":0",
        "the internal port {port} is published: {}",
        published.stdout
    );
    assert_stack_works("compose", &r.stack, &log);
}

/// The journal of every unit of the stack, in one text.
fn stack_journal(machine: &nix2dream_e2e::systemd_machine::Machine, name: &str) -> String {
    ["seed", "backend", "client"]
        .iter()
        .map(|s| machine.exec(&["journalctl", "--no-pager", "-o", "cat", "-u", &format!("{name}-{s}.service")]).stdout)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn stack_systemd_under_a_real_systemd() {
    use nix2dream_e2e::systemd_machine::Machine;
    let r = render_stack("systemd", Some("/var/lib/n2d-stack"), 18765, Some("/srv/host"));
    let machine = Machine::boot();
    // The bound directory is the machine's own (the container's).
    let (host, _, text) = r.stack.host_dir.clone().unwrap();
    let deployment = machine.install_systemd_output(&r.out, |m| {
        m.write_file(&format!("{host}/host.txt"), &text);
        secrets_into(m, &r.stack);
    });
    machine.ok(&["systemctl", "start", &format!("{deployment}.target")]);
    let log = wait_for(90, || Some(stack_journal(&machine, &deployment)).filter(|l| l.contains("N2D-STACK end")))
        .unwrap_or_else(|| machine.journal());
    // The one-shot seed counts as done (Type=oneshot, RemainAfterExit=yes).
    let seed = machine.property(&format!("{deployment}-seed.service"), "ActiveState");
    // Its own stop signal and timeout reach systemd.
    let backend = format!("{deployment}-backend.service");
    let (kill_signal, stop_timeout) = (machine.property(&backend, "KillSignal"), machine.property(&backend, "TimeoutStopUSec"));
    assert_stack_works("systemd", &r.stack, &log);
    assert_eq!(seed, "active", "the completed seed stays active");
    assert_eq!(kill_signal, "2", "KillSignal of the backend (SIGINT)");
    assert_eq!(stop_timeout, "5s", "TimeoutStopSec of the backend");
}

#[test]
fn stack_nixos_module_units_under_a_real_systemd() {
    use nix2dream_e2e::nixos_units::nixos_units;
    use nix2dream_e2e::systemd_machine::Machine;
    let Some(nixpkgs) = nixpkgs_or_skip("conformance::stack_nixos_module_units_under_a_real_systemd") else { return };
    let r = render_stack("nixos", Some("/var/lib/n2d-stack"), 18766, Some("/srv/host"));
    let units_dir = r.out.join("units");
    let (units, _, _) = nixos_units(&nixpkgs, &r.out, &units_dir);
    let machine = Machine::boot();
    for unit in &units {
        machine.copy_in(unit, "/etc/systemd/system/");
    }
    let (host, _, text) = r.stack.host_dir.clone().unwrap();
    machine.write_file(&format!("{host}/host.txt"), &text);
    secrets_into(&machine, &r.stack);
    machine.ok(&["systemctl", "daemon-reload"]);
    machine.ok(&["systemctl", "start", &format!("{}.target", r.name)]);
    let log = wait_for(90, || Some(stack_journal(&machine, &r.name)).filter(|l| l.contains("N2D-STACK end")))
        .unwrap_or_else(|| machine.journal());
    assert_stack_works("nixos", &r.stack, &log);
}

/// Kubernetes: no cluster here. The manifests pass schema validation, the
/// seed is a Job, the backend's Service is ClusterIP, the client's env has
/// the backend's service name, and the backend's pod has its stop timeout.
#[test]
fn stack_k8s_manifests_say_it() {
    let r = render_stack("k8s", Some("/srv"), 18767, Some("/srv/host"));
    let manifests = r.out.join("manifests.yaml");
    let v = run(Command::new("kubernetes-validate").arg("--strict").arg(&manifests));
    assert!(v.ok, "kubernetes-validate: {}{}", v.stdout, v.stderr);
    let py = r#"
import sys, yaml, json
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
print(json.dumps({f"{d['kind']}/{d['metadata']['name']}": d for d in docs}))
"#;
    let parsed = run(Command::new("python3").arg("-c").arg(py).arg(&manifests));
    assert!(parsed.ok, "{}", parsed.stderr);
    let objects: serde_json::Value = serde_json::from_str(&parsed.stdout).unwrap();
    assert!(objects.get("Job/seed").is_some(), "the one-shot seed is a Job: {:?}", objects.as_object().unwrap().keys());
    // The shared volume is one claim, mounted by both; the host directory a hostPath volume, read-only.
    assert!(objects.get("PersistentVolumeClaim/data").is_some(), "{:?}", objects.as_object().unwrap().keys());
    let claim_of = |pod: &serde_json::Value| pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "data").unwrap()["persistentVolumeClaim"]["claimName"].clone();
    assert_eq!(claim_of(&objects["Job/seed"]["spec"]["template"]["spec"]), "data");
    let client_pod = &objects["Deployment/client"]["spec"]["template"]["spec"];
    assert_eq!(claim_of(client_pod), "data");
    let host = client_pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "host").unwrap();
    assert_eq!(host["hostPath"]["path"], r.stack.host_dir.as_ref().unwrap().0.as_str());
    let mounts = client_pod["containers"][0]["volumeMounts"].as_array().unwrap();
    assert!(mounts.iter().all(|m| m["readOnly"] == true), "the client mounts both read-only: {mounts:?}");
    // Secrets: keys of the cluster's Secret `stack`, by reference.
    let client_env = client_pod["containers"][0]["env"].as_array().unwrap();
    let token = client_env.iter().find(|e| e["name"] == "STACK_TOKEN").unwrap();
    assert_eq!(token["valueFrom"]["secretKeyRef"], serde_json::json!({"name": "stack", "key": "token"}));
    let backend_pod = &objects["Deployment/backend"]["spec"]["template"]["spec"];
    let key_volume = backend_pod["volumes"].as_array().unwrap().iter().find(|v| v.get("secret").is_some()).unwrap();
    assert_eq!(key_volume["secret"]["secretName"], "stack");
    assert_eq!(key_volume["secret"]["items"][0]["key"], "key");
    assert!(objects.get("Deployment/seed").is_none());
    assert_eq!(objects["Service/backend"]["spec"].get("type"), None, "ClusterIP (the default): cluster-internal");
    let backend_pod = &objects["Deployment/backend"]["spec"]["template"]["spec"];
    assert_eq!(backend_pod["terminationGracePeriodSeconds"], 5);
    // The client's image carries its env: the backend by service name.
    let image = docker_load(&r.out.join("images/client.tar"));
    let inspect = run(Command::new("docker").args(["image", "inspect", "--format", "{{json .Config.Env}}", &image]));
    let _ = run(Command::new("docker").args(["rmi", "-f", &image]));
    assert!(inspect.stdout.contains("BACKEND=http://backend:18767/"), "{}", inspect.stdout);
}
