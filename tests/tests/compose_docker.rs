//! The docker and compose plugins with the real engine: nix2dream builds the
//! images from the Nix store (a static busybox added to it), `docker load`
//! takes them, `docker-compose up` runs the rendered file, and the test talks
//! to the services through their published loopback ports.

use nix2dream_e2e::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Project {
    name: String,
    dir: PathBuf,
    images: Vec<String>,
}

impl Project {
    fn compose(&self, args: &[&str]) -> Run {
        run(Command::new("docker-compose").arg("-p").arg(&self.name).arg("-f").arg(self.dir.join("compose.yaml")).args(args))
    }

    fn container(&self, service: &str) -> String {
        let r = self.compose(&["ps", "-q", service]);
        assert!(r.ok, "{}", r.stderr);
        r.stdout.trim().to_owned()
    }

    fn exec(&self, service: &str, script: &str) -> String {
        let r = self.compose(&["exec", "-T", service, "sh", "-c", script]);
        assert!(r.ok, "exec in {service} failed: {}{}", r.stdout, r.stderr);
        r.stdout
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--timeout", "1"]);
        for image in &self.images {
            let _ = run(Command::new("docker").args(["rmi", "-f", image]));
        }
    }
}

fn inspect(container: &str, format: &str) -> String {
    let r = run(Command::new("docker").args(["inspect", "-f", format, container]));
    assert!(r.ok, "{}", r.stderr);
    r.stdout.trim().to_owned()
}

/// RFC 3339 time from `docker inspect` → seconds (with fractions) since midnight UTC.
fn seconds_of_day(t: &str) -> f64 {
    let time = t.split('T').nth(1).unwrap().trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next().unwrap().parse().unwrap();
    let m: f64 = parts.next().unwrap().parse().unwrap();
    let s: f64 = parts.next().unwrap().parse().unwrap();
    h * 3600.0 + m * 60.0 + s
}

fn render(plugin: &str, input: &Path, out: &Path) -> Run {
    run(nix2dream().args(["render", "--plugin", plugin]).arg(input).arg("--out").arg(out))
}

#[test]
fn compose_runs_the_rendered_services_with_images_built_by_nix2dream() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let port = free_port();
    let deployment_name = format!("n2d{}", std::process::id());
    let input = write_deployment(
        tmp.path(),
        json!({
            "web": {
                "package": busybox,
                "process": {"argv": ["httpd", "-f", "-p", port.to_string(), "-h", "/srv/www"]},
                "env": {"GREETING": "hello $world"},
                "workingDirectory": "/srv/www",
                "configData": {"index": {"path": "index.html", "text": "<h1>served from a nix2dream image</h1>\n"}},
                "ports": {"http": {"port": port}},
                "user": "app",
                "volumes": {"state": {"path": "/var/lib/web"}},
                "healthcheck": {"http": {"port": port, "path": "/index.html"}, "interval": 1, "timeout": 2, "retries": 10},
                "dependsOn": {"slow": {"condition": "healthy"}},
                "restart": "on-failure",
            },
            "slow": {
                "package": busybox,
                "process": {"argv": ["sh", "-c", "sleep 5; touch /tmp/ready; exec sleep 1000"]},
                "healthcheck": {"command": ["test", "-f", "/tmp/ready"], "interval": 1, "timeout": 1, "retries": 30},
                "volumes": {"data": {"path": "/data"}},
            },
        }),
        // Both services run busybox: one archive holds both images, the
        // busybox layer once.
        json!({"name": deployment_name, "settings": {"compose": {"publishAddress": "127.0.0.1", "imageArchives": "shared"}}}),
    );
    let out = tmp.path().join("out");
    let r = render("compose", &input, &out);
    assert!(r.ok, "{}", r.stderr);
    let compose_file = out.join("compose.yaml");
    let config = run(Command::new("docker-compose").arg("-f").arg(&compose_file).args(["config", "-q"]));
    assert!(config.ok, "docker-compose rejects the rendered file:\n{}", config.stderr);
    // The Compose Specification's own schema, too (what newer `docker compose` reads).
    let spec = run(Command::new("check-jsonschema").args(["--builtin-schema", "vendor.compose-spec"]).arg(&compose_file));
    assert!(spec.ok, "the rendered file breaks the compose-spec schema:\n{}{}", spec.stdout, spec.stderr);

    // Load the images nix2dream built (there is no registry to pull from):
    // one archive, both images.
    assert!(!out.join("images/web.tar").exists(), "shared archives: no archive per service");
    let load = run(Command::new("docker").args(["load", "-i"]).arg(out.join("images/all.tar")));
    assert!(load.ok, "docker load images/all.tar: {}", load.stderr);
    let images: Vec<String> = load.stdout.lines().filter_map(|l| l.trim().strip_prefix("Loaded image: ")).map(str::to_owned).collect();
    // In the deployment's order of services.
    for (image, service) in images.iter().zip(["slow", "web"]) {
        assert!(image.starts_with(&format!("{deployment_name}-{service}:")), "{}", load.stdout);
    }
    assert_eq!(images.len(), 2, "{}", load.stdout);
    let project = Project { name: deployment_name.clone(), dir: out.clone(), images };
    let up = project.compose(&["up", "-d"]);
    assert!(up.ok, "docker-compose up failed:\n{}{}", up.stdout, up.stderr);

    // The dependency was healthy before web started: slow needs 5 s to be ready.
    let slow_started = seconds_of_day(&inspect(&project.container("slow"), "{{.State.StartedAt}}"));
    let web_started = seconds_of_day(&inspect(&project.container("web"), "{{.State.StartedAt}}"));
    assert!(web_started - slow_started >= 4.5, "web started {:.1}s after slow, before slow was healthy", web_started - slow_started);

    let page = wait_for(30, || http_get(port, "/index.html")).expect("web never answered on its published port");
    assert_eq!(page, "<h1>served from a nix2dream image</h1>\n");
    // PID 1 is Docker's init (`init: true`), which reaps and forwards
    // signals; the service is its child.
    let seen = project.exec(
        "web",
        "id -un; pwd; echo \"$GREETING\"; read -r child _ < /proc/1/task/1/children; cat /proc/$child/cmdline | tr '\\0' ' '; echo; cat /proc/1/cmdline | tr '\\0' ' '",
    );
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[0], "app", "user");
    assert_eq!(lines[1], "/srv/www", "working directory");
    assert_eq!(lines[2], "hello $world", "env");
    assert_eq!(lines[3].trim(), format!("httpd -f -p {port} -h /srv/www"), "argv");
    assert!(lines[4].starts_with("/sbin/docker-init -- "), "PID 1 is the init: {}", lines[4]);
    let health = wait_for(30, || Some(inspect(&project.container("web"), "{{.State.Health.Status}}")).filter(|s| s == "healthy"));
    assert!(health.is_some(), "web's http healthcheck never passed");

    // A non-root service can write to its volume and its working directory.
    project.exec("web", "echo mine > /var/lib/web/state && echo scratch > /srv/www/scratch");

    // A named volume survives down/up.
    project.exec("slow", "echo kept > /data/marker");
    assert!(project.compose(&["down", "--timeout", "1"]).ok);
    assert!(project.compose(&["up", "-d"]).ok);
    assert_eq!(project.exec("slow", "cat /data/marker"), "kept\n");
    assert_eq!(project.exec("web", "cat /var/lib/web/state"), "mine\n");
}

#[test]
fn images_are_reproducible_and_skopeo_verifies_them() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let input = write_deployment(
        tmp.path(),
        json!({"echo": {"package": busybox, "process": {"argv": ["echo", "hi"]}, "configData": {"c": {"path": "/etc/c.conf", "text": "x=1\n"}}}}),
        json!({}),
    );
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for out in [&a, &b] {
        let r = render("docker", &input, out);
        assert!(r.ok, "{}", r.stderr);
    }
    let bytes_a = std::fs::read(a.join("images/echo.tar")).unwrap();
    assert!(bytes_a == std::fs::read(b.join("images/echo.tar")).unwrap(), "two renders gave different image archives");
    let copied = tmp.path().join("copied");
    let r = run(Command::new("skopeo")
        .arg("copy")
        .arg(format!("oci-archive:{}", a.join("images/echo.tar").display()))
        .arg(format!("dir:{}", copied.display())));
    assert!(r.ok, "skopeo rejects the archive: {}", r.stderr);
    // --check recognizes an up-to-date image archive.
    let r = run(nix2dream().args(["render", "--plugin", "docker", "--check"]).arg(&input).arg("--out").arg(&a));
    assert!(r.ok, "{}", r.stderr);
    // And docker runs it.
    let load = run(Command::new("docker").args(["load", "-i"]).arg(a.join("images/echo.tar")));
    assert!(load.ok, "{}", load.stderr);
    let image = load.stdout.trim().rsplit("Loaded image: ").next().unwrap().trim().to_owned();
    let ran = run(Command::new("docker").args(["run", "--rm", &image]));
    let _ = run(Command::new("docker").args(["rmi", "-f", &image]));
    assert!(ran.ok, "{}", ran.stderr);
    assert_eq!(ran.stdout, "hi\n");
}

#[test]
fn a_broken_compose_file_is_rejected_by_docker_compose() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write_deployment(
        tmp.path(),
        json!({"a": {"process": {"argv": ["x"]}}, "b": {"process": {"argv": ["y"]}, "dependsOn": {"a": {}}}}),
        json!({}),
    );
    let out = tmp.path().join("out");
    let r = render("compose", &input, &out);
    assert!(r.ok, "{}", r.stderr);
    let file = out.join("compose.yaml");
    let ok = run(Command::new("docker-compose").arg("-f").arg(&file).args(["config", "-q"]));
    assert!(ok.ok, "{}", ok.stderr);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("      a:\n", "      ghost:\n")).unwrap();
    let broken = run(Command::new("docker-compose").arg("-f").arg(&file).args(["config", "-q"]));
    assert!(!broken.ok, "docker-compose accepted a dependency on an undefined service");
}

#[test]
fn podman_loads_the_same_archive_with_its_config() {
    // Only `podman load` + inspect: running containers under podman needs
    // rlimit/cgroup rights this CI machine does not grant (docker runs them above).
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let input = write_deployment(
        tmp.path(),
        json!({"pod": {"package": busybox, "process": {"argv": ["sh", "-c", "echo $GREETING"]},
                       "env": {"GREETING": "hi there"}, "user": "app", "workingDirectory": "/srv"}}),
        json!({}),
    );
    let out = tmp.path().join("out");
    let r = render("docker", &input, &out);
    assert!(r.ok, "{}", r.stderr);
    let load = run(Command::new("podman").args(["load", "-i"]).arg(out.join("images/pod.tar")));
    assert!(load.ok, "podman load rejects the archive (podman: apt-get install podman): {}{}", load.stdout, load.stderr);
    let image = load.stdout.trim().rsplit("Loaded image: ").next().unwrap().trim().to_owned();
    let config = run(Command::new("podman").args(["image", "inspect", "--format", "{{json .Config}}", &image]));
    let _ = run(Command::new("podman").args(["rmi", "-f", &image]));
    assert!(config.ok, "{}", config.stderr);
    let config: serde_json::Value = serde_json::from_str(&config.stdout).unwrap();
    assert_eq!(config["Cmd"], json!(["sh", "-c", "echo $GREETING"]));
    assert_eq!(config["User"], "app");
    assert_eq!(config["WorkingDir"], "/srv");
    let env: Vec<&str> = config["Env"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert!(env.contains(&"GREETING=hi there"), "{env:?}");
    assert!(env.iter().any(|e| e.starts_with("PATH=/nix/store/") && e.ends_with("-busybox-pkg/bin")), "{env:?}");
}

#[test]
fn the_containers_example_runs_under_compose() {
    let Some(nixpkgs) = nixpkgs_or_skip("compose_docker::the_containers_example_runs_under_compose") else { return };
    assert!(Path::new("/usr/bin/busybox").is_file(), "the example needs /usr/bin/busybox: apt-get install busybox-static");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("deploy");
    let r = run(nix2dream()
        .args(["render", "--plugin", "compose"])
        .arg(repo_root().join("examples/containers/services.nix"))
        .arg("--out")
        .arg(&out)
        .arg("--nixpkgs")
        .arg(&nixpkgs));
    assert!(r.ok, "{}", r.stderr);
    let mut images = Vec::new();
    for service in ["web", "poller"] {
        let load = run(Command::new("docker").args(["load", "-i"]).arg(out.join(format!("images/{service}.tar"))));
        assert!(load.ok, "docker load {service}: {}", load.stderr);
        images.push(load.stdout.trim().rsplit("Loaded image: ").next().unwrap().trim().to_owned());
    }
    let project = Project { name: format!("n2dex{}", std::process::id()), dir: out.clone(), images };
    let up = project.compose(&["up", "-d"]);
    assert!(up.ok, "docker-compose up failed:\n{}{}", up.stdout, up.stderr);
    let page = wait_for(30, || http_get(18081, "/index.html")).expect("the example's web service never answered on 127.0.0.1:18081");
    assert_eq!(page, "<h1>Hello from a nix2dream image</h1>\n");
    let whoami = project.compose(&["exec", "-T", "web", "busybox", "id", "-un"]);
    assert_eq!(whoami.stdout.trim(), "www", "{}", whoami.stderr);
    // The poller started after web was healthy, and logs into its volume as its own user.
    let log = wait_for(30, || {
        let r = project.compose(&["exec", "-T", "poller", "busybox", "cat", "/var/lib/poller/fetches.log"]);
        Some(r.stdout).filter(|log| log.contains("http://web:18081/index.html ok"))
    });
    assert!(log.is_some(), "the poller never fetched the site: {}", project.compose(&["logs", "poller"]).stdout);
}

/// Words YAML 1.1 (docker-compose 1.29's PyYAML) reads as booleans, numbers,
/// null or merge keys unless quoted, and words that need escaping.
const YAML_TRAPS: &[&str] = &[
    "no", "yes", "on", "off", "y", "n", "~", "null", "12:30", "1_000", "0x1F", "0o17", ".inf", "1e3", "=", "<<",
    " lead", "trail ", "tab\there", "two\nlines", "it's", "say \"hi\"", "$HOME", "#c", "a: b", "- x", "ünï 字",
];

#[test]
fn yaml_1_1_words_reach_the_running_container_as_written() {
    // The reproductions: `restart = "no"` refused by docker-compose
    // ("contains an invalid type, it should be a string"), env E12 = "12:30"
    // and E11 = "1_000" arriving as 750 and 1000.
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let name = format!("n2dyaml{}", std::process::id());
    let mut env = serde_json::Map::new();
    env.insert("E12".into(), json!("12:30"));
    env.insert("E11".into(), json!("1_000"));
    for (i, word) in YAML_TRAPS.iter().enumerate() {
        env.insert(format!("T{i}"), json!(word));
    }
    let mut argv = vec![json!("sh"), json!("-c"), json!("while :; do sleep 1; done")];
    argv.extend(YAML_TRAPS.iter().map(|w| json!(w)));
    let input = write_deployment(
        tmp.path(),
        json!({"trap": {
            "package": busybox,
            "description": "no",
            "process": {"argv": argv},
            "env": env,
            "restart": "no",
            // Passes only if the words arrive as the strings `no`, `=`, `no`.
            "healthcheck": {"command": ["test", "no", "=", "no"], "interval": 1, "timeout": 2, "retries": 30},
        }}),
        json!({"name": name}),
    );
    let out = tmp.path().join("out");
    let r = render("compose", &input, &out);
    assert!(r.ok, "{}", r.stderr);
    let config = run(Command::new("docker-compose").arg("-f").arg(out.join("compose.yaml")).args(["config", "-q"]));
    assert!(config.ok, "docker-compose rejects the rendered file:\n{}", config.stderr);

    let load = run(Command::new("docker").args(["load", "-i"]).arg(out.join("images/trap.tar")));
    assert!(load.ok, "{}", load.stderr);
    let image = load.stdout.trim().rsplit("Loaded image: ").next().unwrap().trim().to_owned();
    let project = Project { name, dir: out, images: vec![image] };
    let up = project.compose(&["up", "-d"]);
    assert!(up.ok, "docker-compose up failed:\n{}{}", up.stdout, up.stderr);
    let container = project.container("trap");
    assert_eq!(inspect(&container, "{{.HostConfig.RestartPolicy.Name}}"), "no");
    assert_eq!(inspect(&container, "{{index .Config.Labels \"org.opencontainers.image.description\"}}"), "no");

    // The environment and argv of the service (the child of the init, PID 1), byte for byte.
    let environ = project.exec("trap", "read -r child _ < /proc/1/task/1/children; cat /proc/$child/environ");
    let vars: Vec<&str> = environ.split('\0').collect();
    assert!(vars.contains(&"E12=12:30"), "{vars:?}");
    assert!(vars.contains(&"E11=1_000"), "{vars:?}");
    for (i, word) in YAML_TRAPS.iter().enumerate() {
        assert!(vars.contains(&format!("T{i}={word}").as_str()), "T{i}={word:?} missing from {vars:?}");
    }
    let cmdline = project.exec("trap", "read -r child _ < /proc/1/task/1/children; cat /proc/$child/cmdline");
    let words: Vec<&str> = cmdline.trim_end_matches('\0').split('\0').collect();
    assert_eq!(words[3..], *YAML_TRAPS, "argv");

    let health = wait_for(30, || Some(inspect(&container, "{{.State.Health.Status}}")).filter(|s| s == "healthy"));
    assert!(health.is_some(), "the healthcheck `test no = no` never passed: {}", inspect(&container, "{{json .State.Health}}"));
}
