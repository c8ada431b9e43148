//! examples/stack/services.nix — a one-shot migration, an API on an
//! internal port, a front end that reaches the API through its service
//! address and is published on another host port — evaluated from Nix and
//! run unchanged under docker-compose, honcho and a real systemd, its
//! Kubernetes manifests validated. Each run fetches the front end's page,
//! which is what the API serves: the address resolved, the API was healthy,
//! the migration completed.

use nix2dream_e2e::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const PAGE: &str = "api says hello\n";

fn render(plugin: &str, nixpkgs: &Path, out: &Path) -> Run {
    let r = run(nix2dream()
        .args(["render", "--plugin", plugin])
        .arg(repo_root().join("examples/stack/services.nix"))
        .arg("--out")
        .arg(out)
        .arg("--nixpkgs")
        .arg(nixpkgs)
        .env("NIX_CONFIG", "build-users-group ="));
    assert!(r.ok, "render --plugin {plugin}: {}", r.stderr);
    r
}

fn example_or_skip(test: &str) -> Option<(PathBuf, tempfile::TempDir)> {
    let nixpkgs = nixpkgs_or_skip(test)?;
    assert!(Path::new("/usr/bin/busybox").is_file(), "the example needs /usr/bin/busybox: apt-get install busybox-static");
    Some((nixpkgs, tempfile::tempdir().unwrap()))
}

#[test]
fn the_stack_example_runs_under_compose_with_its_api_unpublished() {
    let Some((nixpkgs, tmp)) = example_or_skip("stack_example::the_stack_example_runs_under_compose_with_its_api_unpublished") else { return };
    let out = tmp.path().join("deploy");
    render("compose", &nixpkgs, &out);
    let mut images = Vec::new();
    for service in ["migrate", "api", "web"] {
        let load = run(Command::new("docker").args(["load", "-i"]).arg(out.join(format!("images/{service}.tar"))));
        assert!(load.ok, "docker load {service}: {}", load.stderr);
        images.push(load.stdout.trim().rsplit("Loaded image: ").next().unwrap().trim().to_owned());
    }
    let project = format!("n2dstackex{}", std::process::id());
    let compose = |args: &[&str]| run(Command::new("docker-compose").arg("-p").arg(&project).arg("-f").arg(out.join("compose.yaml")).args(args));
    let up = compose(&["up", "-d"]);
    let page = if up.ok { wait_for(120, || http_get(18091, "/")) } else { None };
    let api_published = compose(&["port", "api", "18100"]);
    let web_on_own_port = http_get(18090, "/");
    let migrate = run(Command::new("docker").args(["ps", "-a", "--filter", &format!("label=com.docker.compose.project={project}"), "--filter", "label=com.docker.compose.service=migrate", "--format", "{{.Status}}"]));
    let logs = compose(&["logs", "--no-color"]).stdout;
    let _ = compose(&["down", "-v", "--timeout", "10"]);
    for image in &images {
        let _ = run(Command::new("docker").args(["rmi", "-f", image]));
    }
    assert!(up.ok, "docker-compose up: {}{}", up.stdout, up.stderr);
    assert_eq!(page.as_deref(), Some(PAGE), "web on host port 18091 shows the API's page\n{logs}");
    assert!(web_on_own_port.is_none(), "web is published on its hostPort, not on its own port");
    assert!(api_published.stdout.trim().is_empty() || api_published.stdout.trim() == ":0", "the internal API port is published: {}", api_published.stdout);
    assert!(migrate.stdout.contains("Exited (0)"), "the migration ran to completion: {}", migrate.stdout);
}

#[test]
fn the_stack_example_runs_under_honcho() {
    let Some((nixpkgs, tmp)) = example_or_skip("stack_example::the_stack_example_runs_under_honcho") else { return };
    let out = tmp.path().join("deploy");
    let r = render("procfile", &nixpkgs, &out);
    // A Procfile has no start-up order nor published ports: said, not hidden.
    assert!(r.stderr.contains("ports.hostPort"), "{}", r.stderr);
    let honcho = Honcho::start(&out);
    // Started all at once, web may ask before the migration has written the
    // page; the first page it serves must still be the whole one.
    let page = wait_for(60, || http_get(18090, "/"));
    let log = honcho.stop();
    assert_eq!(page.as_deref(), Some(PAGE), "web on 127.0.0.1:18090 shows the API's page\n{log}");
    assert!(log.contains("migrated"), "{log}");
}

#[test]
fn the_stack_example_runs_under_a_real_systemd() {
    use nix2dream_e2e::systemd_machine::Machine;
    let Some((nixpkgs, tmp)) = example_or_skip("stack_example::the_stack_example_runs_under_a_real_systemd") else { return };
    let out = tmp.path().join("deploy");
    render("systemd", &nixpkgs, &out);
    let machine = Machine::boot();
    let deployment = machine.install_systemd_output(&out, |m| {
        m.ok(&["mkdir", "-p", "/srv/api", "/srv/web"]);
    });
    machine.ok(&["systemctl", "start", &format!("{deployment}.target")]);
    let fetch = "for b in /nix/store/*-busybox/bin/busybox; do exec \"$b\" wget -q -O - http://127.0.0.1:18090/; done";
    let page = wait_for(90, || Some(machine.exec(&["sh", "-c", fetch]).stdout).filter(|p| !p.is_empty()));
    assert_eq!(page.as_deref(), Some(PAGE), "{}", machine.journal());
    assert_eq!(machine.property(&format!("{deployment}-migrate.service"), "ActiveState"), "active", "the completed one-shot stays active");
    assert_eq!(machine.property(&format!("{deployment}-api.service"), "KillSignal"), "2");
}

#[test]
fn the_stack_example_gives_valid_kubernetes_manifests() {
    let Some((nixpkgs, tmp)) = example_or_skip("stack_example::the_stack_example_gives_valid_kubernetes_manifests") else { return };
    let out = tmp.path().join("deploy");
    render("k8s", &nixpkgs, &out);
    let v = run(Command::new("kubernetes-validate").arg("--strict").arg(out.join("manifests.yaml")));
    assert!(v.ok, "kubernetes-validate: {}{}", v.stdout, v.stderr);
    let text = std::fs::read_to_string(out.join("manifests.yaml")).unwrap();
    assert!(text.lines().any(|l| l.replace(['\'', '"'], "") == "kind: Job"), "the migration is a Job:\n{text}");
}
