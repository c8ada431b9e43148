//! The peer projects' own examples, written as `services.nix` in
//! examples/peers/, each run unchanged under honcho (procfile),
//! docker-compose (compose, with nix2dream's images), a real systemd
//! (systemd), and its Kubernetes manifests validated (k8s). Every run asks
//! the application a question that only a working deployment answers: the
//! proxy reached its backend through the service address, the one-shot
//! job's data reached the app through the shared volume, the secret
//! arrived (and appears in no rendered file or image layer), the internal
//! ports are not published.
//!
//! The examples take their programs from `pkgs`; with no nixpkgs here, the
//! tests give them stand-ins made from Debian's programs
//! (tests/src/peer_packages.rs).

use nix2dream_e2e::peer_packages::{example_with_packages, package};
use nix2dream_e2e::systemd_machine::Machine;
use nix2dream_e2e::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// One peer example and what shows that it works.
struct Peer {
    /// examples/peers/<dir>/services.nix
    dir: &'static str,
    /// The deployment's name (its `name`).
    name: &'static str,
    /// The `pkgs` attributes it uses.
    packages: &'static [&'static str],
    /// The page to fetch: the service's own port, the port published on
    /// the host under compose, the path, the `Host` header.
    port: u16,
    published: u16,
    path: &'static str,
    host: &'static str,
    /// Text the page holds when the deployment works.
    expect: &'static str,
    /// (service, port) that must not be published under compose.
    internal: &'static [(&'static str, u16)],
    /// (file on the machine running the services, value): the example's
    /// secrets, written where the example says they are.
    secrets: &'static [(&'static str, &'static str)],
    /// The runs of one example share ports: one at a time.
    lock: Mutex<()>,
}

static SQLITE_WEB: Peer = Peer {
    dir: "sqlite-web",
    name: "sqlite-web",
    packages: &["sqlite", "sqlite-web"],
    port: 18213,
    published: 18213,
    path: "/Album/content/",
    host: "127.0.0.1",
    expect: "Balls to the Wall",
    internal: &[],
    secrets: &[],
    lock: Mutex::new(()),
};

static NGINX_FLASK_MYSQL: Peer = Peer {
    dir: "nginx-flask-mysql",
    name: "nginx-flask-mysql",
    packages: &["busybox", "mariadb", "python3", "nginx"],
    port: 18280,
    published: 18280,
    path: "/",
    host: "127.0.0.1",
    expect: "<div>   Hello  Blog post #1</div>",
    internal: &[("db", 13306), ("backend", 18000)],
    // Quotes, a `$` and a backslash: the password goes through a shell
    // script and SQL before the backend logs in with it.
    secrets: &[("/run/keys/nginx-flask-mysql/db-password", "n2d-peer 'pa$$word\\")],
    lock: Mutex::new(()),
};

static TRAEFIK: Peer = Peer {
    dir: "traefik",
    name: "traefik",
    packages: &["traefik", "python3"],
    port: 18380,
    published: 18380,
    path: "/",
    host: "nix-docs.localhost",
    expect: "reached through traefik",
    internal: &[("nix-docs", 18382)],
    secrets: &[],
    lock: Mutex::new(()),
};

static SCORE_COMPOSE: Peer = Peer {
    dir: "score-compose",
    name: "score-samples",
    packages: &["busybox"],
    port: 18480,
    published: 18480,
    path: "/",
    host: "127.0.0.1",
    // hello-world's page through its address, the same file through the
    // shared volume, then hello-world-2's own line: the environment, the
    // file, the address and the volume all worked.
    expect: "Hello World! This is a file from the hello-world workload.\n\
             Hello World! This is a file from the hello-world workload.\n\
             Hello from hello-world-2\n",
    internal: &[("hello-world", 18481)],
    secrets: &[],
    lock: Mutex::new(()),
};

fn example(peer: &Peer, dir: &Path) -> PathBuf {
    let services = repo_root().join("examples/peers").join(peer.dir).join("services.nix");
    example_with_packages(&services, peer.packages, dir)
}

/// nixpkgs' lib, or None when the test is skipped (and said so).
fn nixpkgs(peer: &Peer, test: &str) -> Option<PathBuf> {
    nixpkgs_or_skip(&format!("peer_examples::{}::{test}", peer.dir.replace('-', "_")))
}

/// Renders the example with `plugin` into `<tmp>/out`; no secret value in it.
fn render(peer: &Peer, plugin: &str, nixpkgs: &Path, tmp: &Path) -> (PathBuf, Run) {
    let out = tmp.join("out");
    let r = run(nix2dream()
        .args(["render", "--plugin", plugin])
        .arg(example(peer, tmp))
        .arg("--out")
        .arg(&out)
        .arg("--nixpkgs")
        .arg(nixpkgs)
        .env("NIX_CONFIG", "build-users-group ="));
    assert!(r.ok, "{}: render --plugin {plugin}: {}", peer.dir, r.stderr);
    let values: Vec<&str> = peer.secrets.iter().map(|(_, value)| *value).collect();
    assert_no_secret_in(&out, &values);
    (out, r)
}

fn write_secrets_on_host(peer: &Peer) {
    for (file, value) in peer.secrets {
        std::fs::create_dir_all(Path::new(file).parent().unwrap()).unwrap();
        std::fs::write(file, value).unwrap();
    }
}

fn under_honcho(peer: &Peer) {
    let Some(nixpkgs) = nixpkgs(peer, "runs_under_honcho") else { return };
    let _one_at_a_time = peer.lock.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = render(peer, "procfile", &nixpkgs, tmp.path());
    write_secrets_on_host(peer);
    let honcho = Honcho::start(&out);
    let page = wait_for(120, || http_get_host(peer.port, peer.path, peer.host).filter(|p| p.contains(peer.expect)));
    let log = honcho.stop();
    assert!(page.is_some(), "{} under honcho: no page holding {:?} on port {}\n{log}", peer.dir, peer.expect, peer.port);
}

fn under_compose(peer: &Peer) {
    let Some(nixpkgs) = nixpkgs(peer, "runs_under_docker_compose") else { return };
    let _one_at_a_time = peer.lock.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = render(peer, "compose", &nixpkgs, tmp.path());
    write_secrets_on_host(peer);
    let images: Vec<String> = std::fs::read_dir(out.join("images")).unwrap().map(|e| docker_load(&e.unwrap().path())).collect();
    let project = format!("n2dpeer{}{}", peer.dir.replace('-', ""), std::process::id());
    let compose = |args: &[&str]| run(Command::new("docker-compose").arg("-p").arg(&project).arg("-f").arg(out.join("compose.yaml")).args(args));
    let up = compose(&["up", "-d"]);
    let page = if up.ok { wait_for(180, || http_get_host(peer.published, peer.path, peer.host).filter(|p| p.contains(peer.expect))) } else { None };
    // (service has a container, what `docker-compose port` says)
    let published: Vec<(bool, String)> = peer
        .internal
        .iter()
        .map(|(service, port)| (!compose(&["ps", "-q", service]).stdout.trim().is_empty(), compose(&["port", service, &port.to_string()]).stdout.trim().to_owned()))
        .collect();
    let logs = compose(&["logs", "--no-color"]).stdout;
    // Each container stops on its stop signal within its stop timeout:
    // none is killed (exit 137, SIGKILL) at the end of its grace period.
    let stop = compose(&["stop"]);
    let statuses = run(Command::new("docker").args(["ps", "-a", "--filter", &format!("label=com.docker.compose.project={project}"), "--format", "{{.Names}} {{.Status}}"])).stdout;
    let _ = compose(&["down", "-v", "--timeout", "10"]);
    for image in &images {
        let _ = run(Command::new("docker").args(["rmi", "-f", image]));
    }
    assert!(up.ok, "{} docker-compose up: {}{}\n{logs}", peer.dir, up.stdout, up.stderr);
    assert!(page.is_some(), "{} under compose: no page holding {:?} on host port {}\n{logs}", peer.dir, peer.expect, peer.published);
    assert!(stop.ok && !statuses.contains("(137)"), "{} under compose: a container had to be killed:\n{statuses}", peer.dir);
    for ((service, port), (running, published)) in peer.internal.iter().zip(published) {
        assert!(running, "{} under compose: no container for {service}", peer.dir);
        assert!(published.is_empty() || published == ":0", "{service}'s internal port {port} is published: {published}");
    }
}

fn under_systemd(peer: &Peer) {
    let Some(nixpkgs) = nixpkgs(peer, "runs_under_a_real_systemd") else { return };
    let _one_at_a_time = peer.lock.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = render(peer, "systemd", &nixpkgs, tmp.path());
    let machine = Machine::boot();
    let deployment = machine.install_systemd_output(&out, |m| {
        for (file, value) in peer.secrets {
            m.write_file(file, value);
        }
    });
    assert_eq!(deployment, peer.name);
    machine.ok(&["systemctl", "start", &format!("{deployment}.target")]);
    let busybox = format!("{}/bin/busybox", package("busybox"));
    let url = format!("http://127.0.0.1:{}{}", peer.port, peer.path);
    let host = format!("Host: {}", peer.host);
    let fetch = || Some(machine.exec(&[&busybox, "wget", "-q", "-O", "-", "--header", &host, &url]).stdout).filter(|p| p.contains(peer.expect));
    let page = wait_for(180, fetch);
    assert!(page.is_some(), "{} under systemd: no page holding {:?} on port {}\n{}", peer.dir, peer.expect, peer.port, machine.journal());
}

fn for_kubernetes(peer: &Peer) {
    let Some(nixpkgs) = nixpkgs(peer, "gives_valid_kubernetes_manifests") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = render(peer, "k8s", &nixpkgs, tmp.path());
    let v = run(Command::new("kubernetes-validate").arg("--strict").arg(out.join("manifests.yaml")));
    assert!(v.ok, "{} kubernetes-validate: {}{}", peer.dir, v.stdout, v.stderr);
}

macro_rules! peer_tests {
    ($module:ident, $peer:ident) => {
        mod $module {
            #[test]
            fn runs_under_honcho() {
                super::under_honcho(&super::$peer);
            }
            #[test]
            fn runs_under_docker_compose() {
                super::under_compose(&super::$peer);
            }
            #[test]
            fn runs_under_a_real_systemd() {
                super::under_systemd(&super::$peer);
            }
            #[test]
            fn gives_valid_kubernetes_manifests() {
                super::for_kubernetes(&super::$peer);
            }
        }
    };
}

peer_tests!(sqlite_web, SQLITE_WEB);
peer_tests!(nginx_flask_mysql, NGINX_FLASK_MYSQL);
peer_tests!(traefik, TRAEFIK);
peer_tests!(score_compose, SCORE_COMPOSE);

/// With a full nixpkgs the examples take nixpkgs' own packages (no
/// stand-ins): each evaluates and renders with procfile and k8s (which need
/// no built packages; images do: `nix-build` them first, or use the
/// flake's `lib.render`). Skipped, loudly, where only nixpkgs' `lib/` is available.
#[test]
fn full_nixpkgs_renders_the_peer_examples_with_nixpkgs_packages() {
    let Some(nixpkgs) = full_nixpkgs_or_skip("peer_examples::full_nixpkgs_renders_the_peer_examples_with_nixpkgs_packages") else { return };
    for peer in [&SQLITE_WEB, &NGINX_FLASK_MYSQL, &TRAEFIK, &SCORE_COMPOSE] {
        let services = repo_root().join("examples/peers").join(peer.dir).join("services.nix");
        for plugin in ["procfile", "k8s"] {
            let tmp = tempfile::tempdir().unwrap();
            let r = run(nix2dream()
                .args(["render", "--plugin", plugin])
                .arg(&services)
                .arg("--out")
                .arg(tmp.path().join("out"))
                .arg("--nixpkgs")
                .arg(&nixpkgs)
                .env("NIX_CONFIG", "build-users-group ="));
            assert!(r.ok, "{} with nixpkgs' packages, --plugin {plugin}: {}", peer.dir, r.stderr);
        }
    }
}
