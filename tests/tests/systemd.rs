//! The systemd plugin's units, checked by `systemd-analyze verify` and then
//! run by a real systemd: PID 1 of a Debian container (debootstrapped once
//! into target/, imported into the local Docker engine; no registry needed),
//! with the host's /nix/store mounted so the services' packages are there.

use nix2dream_e2e::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const IMAGE: &str = "nix2dream-test-systemd:bookworm";

/// A Debian root with systemd, built by debootstrap the first time.
fn systemd_image() -> &'static str {
    let inspect = Command::new("docker").args(["image", "inspect", IMAGE]).output().expect("docker");
    if inspect.status.success() {
        return IMAGE;
    }
    let rootfs = repo_root().join("target/systemd-rootfs");
    if !rootfs.join("lib/systemd/systemd").exists() {
        let _ = std::fs::remove_dir_all(&rootfs);
        let r = run(Command::new("debootstrap")
            .args(["--variant=minbase", "--include=systemd,systemd-sysv", "bookworm"])
            .arg(&rootfs)
            .arg("http://deb.debian.org/debian"));
        assert!(r.ok, "debootstrap failed (apt-get install debootstrap; needs deb.debian.org):\n{}{}", r.stdout, r.stderr);
    }
    let import = Command::new("sh")
        .arg("-c")
        .arg(format!("tar -C '{}' -c . | docker import - {IMAGE}", rootfs.display()))
        .output()
        .unwrap();
    assert!(import.status.success(), "docker import: {}", String::from_utf8_lossy(&import.stderr));
    IMAGE
}

/// A running systemd container, removed on drop.
struct Machine(String);

impl Machine {
    fn boot() -> Machine {
        let name = format!("n2d-systemd-{}", std::process::id());
        let _ = run(Command::new("docker").args(["rm", "-f", &name]));
        // systemd needs its own mount namespaces for BindReadOnlyPaths= and
        // friends: SYS_ADMIN, without seccomp/apparmor filters.
        let r = run(Command::new("docker").args([
            "run", "-d", "--name", &name, "--cap-add", "SYS_ADMIN",
            "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
            "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro", "-v", "/nix/store:/nix/store:ro",
            systemd_image(), "/lib/systemd/systemd",
        ]));
        assert!(r.ok, "docker run systemd: {}", r.stderr);
        let machine = Machine(name);
        let state = wait_for(60, || {
            let s = machine.exec(&["systemctl", "is-system-running"]).stdout.trim().to_owned();
            matches!(s.as_str(), "running" | "degraded").then_some(s)
        });
        assert!(state.is_some(), "systemd did not come up in the container");
        machine
    }

    fn exec(&self, args: &[&str]) -> Run {
        run(Command::new("docker").arg("exec").arg(&self.0).args(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        let r = self.exec(args);
        assert!(r.ok, "{args:?} failed: {}{}", r.stdout, r.stderr);
        r.stdout
    }

    fn copy_in(&self, from: &Path, to: &str) {
        let r = run(Command::new("docker").arg("cp").arg(from).arg(format!("{}:{to}", self.0)));
        assert!(r.ok, "docker cp: {}", r.stderr);
    }

    fn property(&self, unit: &str, name: &str) -> String {
        self.ok(&["systemctl", "show", "-P", name, unit]).trim().to_owned()
    }

    fn journal(&self) -> String {
        self.exec(&["journalctl", "--no-pager", "-n", "200"]).stdout
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = run(Command::new("docker").args(["rm", "-f", &self.0]));
    }
}

/// Words that break naive quoting in a unit file or a shell.
const HOSTILE_ARGS: [&str; 8] = ["with space", "$HOME", "${PATH}", "100%", "say \"hi\"", "back\\slash", "line\nbreak", ";"];

fn deployment(dir: &Path, busybox: &str) -> PathBuf {
    let mut echo_argv = vec![json!("sh"), json!("-c"), json!("for a in \"$@\"; do printf '%s\\0' \"$a\"; done > args; printf '%s' \"$GREETING\" > env; id -un > user; pwd > cwd; cat /etc/echo.conf > conf; touch /scratch/ok && echo yes > scratch"), json!("sh")];
    echo_argv.extend(HOSTILE_ARGS.iter().map(|a| json!(a)));
    write_deployment(
        dir,
        json!({
            "db": {
                "package": busybox,
                "process": {"argv": ["sh", "-c", "sleep 3; touch /run/db-ready; exec sleep 1000"]},
                "healthcheck": {"command": ["test", "-f", "/run/db-ready"], "interval": 1, "timeout": 1, "retries": 30},
            },
            "web": {
                "package": busybox,
                "process": {"argv": ["httpd", "-f", "-p", "8080", "-h", "/var/lib/web/www"]},
                "user": "www",
                "workingDirectory": "/var/lib/web",
                "volumes": {"state": {"path": "/var/lib/web"}},
                "configData": {"index.html": {"path": "www/index.html", "text": "<h1>served under systemd</h1>\n"}},
                "healthcheck": {"http": {"port": 8080, "path": "/index.html"}, "interval": 1, "retries": 10},
                "dependsOn": {"db": {"condition": "healthy"}},
                "resources": {"memoryMiB": 64, "cpus": 0.5},
                "restart": "always",
            },
            "echo": {
                "package": busybox,
                "process": {"argv": echo_argv},
                "env": {"GREETING": "hello $world 50% \"q\"\nline two"},
                "user": "echo",
                "workingDirectory": "/var/lib/echo",
                "volumes": {"home": {"path": "/var/lib/echo"}, "scratch": {"path": "/scratch", "persistent": false}},
                "configData": {"echo.conf": {"path": "/etc/echo.conf", "text": "conf=1\n"}},
                "restart": "no",
            },
            "worker": {
                "package": busybox,
                "process": {"argv": ["sleep", "1000"]},
                "replicas": 2,
            },
        }),
        json!({"name": "shop"}),
    )
}

fn render(input: &Path, out: &Path) {
    let r = run(nix2dream().args(["render", "--plugin", "systemd"]).arg(input).arg("--out").arg(out));
    assert!(r.ok, "{}", r.stderr);
}

#[test]
fn systemd_analyze_verify_accepts_the_units() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let out = tmp.path().join("out");
    render(&deployment(tmp.path(), &busybox), &out);
    let units: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "service" || e == "target") && !p.to_string_lossy().contains('@'))
        .collect();
    assert_eq!(units.len(), 4, "{units:?}");
    // Verified together (they refer to each other), from the output directory.
    // systemd-analyze exits 0 on some problems: its stderr must be empty too.
    let r = run(Command::new("systemd-analyze").current_dir(&out).arg("verify").args(&units));
    let stderr: Vec<&str> = r
        .stderr
        .lines()
        // Not about the units: the users exist on the target machine, not here.
        .filter(|l| !l.contains("Failed to resolve user") && !l.contains("Failed to resolve group"))
        .collect();
    assert!(r.ok && stderr.is_empty(), "systemd-analyze verify:\n{}", r.stderr);
}

#[test]
fn the_units_run_under_a_real_systemd() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let out = tmp.path().join("out");
    render(&deployment(tmp.path(), &busybox), &out);
    let machine = Machine::boot();
    // Install as the plugin's usage says.
    for unit in std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()) {
        if unit.extension().is_some_and(|e| e == "service" || e == "target") {
            machine.copy_in(&unit, "/etc/systemd/system/");
        }
    }
    machine.ok(&["mkdir", "-p", "/etc/nix2dream/shop"]);
    machine.copy_in(&out.join("config"), "/etc/nix2dream/shop/");
    for user in ["www", "echo"] {
        machine.ok(&["useradd", "--system", user]);
    }
    machine.ok(&["systemctl", "daemon-reload"]);
    let start = machine.exec(&["systemctl", "start", "shop.target"]);
    assert!(start.ok, "systemctl start shop.target: {}\n{}", start.stderr, machine.journal());

    // web: config file bound in place, served as user www, healthy.
    let wget = format!("{busybox}/bin/wget");
    let page = wait_for(30, || {
        let r = machine.exec(&[&wget, "-q", "-O", "-", "http://127.0.0.1:8080/index.html"]);
        r.ok.then_some(r.stdout)
    });
    assert_eq!(page.as_deref(), Some("<h1>served under systemd</h1>\n"), "{}", machine.journal());
    assert_eq!(machine.property("shop-web.service", "User"), "www");
    assert_eq!(machine.property("shop-web.service", "MemoryMax"), (64u64 << 20).to_string());
    assert_eq!(machine.property("shop-web.service", "CPUQuotaPerSecUSec"), "500ms");

    // web started only once db was healthy (db needs 3 s to be ready).
    let micros = |unit: &str, p: &str| -> f64 { machine.property(unit, p).parse::<f64>().unwrap() / 1e6 };
    let db_started = micros("shop-db.service", "ExecMainStartTimestampMonotonic");
    let db_healthy = micros("shop-db.service", "ActiveEnterTimestampMonotonic");
    let web_started = micros("shop-web.service", "ExecMainStartTimestampMonotonic");
    assert!(db_healthy - db_started >= 2.5, "db turned active {:.1}s after starting, before its healthcheck could pass", db_healthy - db_started);
    assert!(web_started >= db_healthy, "web started {:.1}s before db was healthy", db_healthy - web_started);

    // echo: argv, env, user, working directory, config file, tmpfs volume.
    let echo_done = wait_for(30, || {
        let r = machine.exec(&["cat", "/var/lib/echo/scratch"]);
        r.ok.then_some(())
    });
    assert!(echo_done.is_some(), "echo never finished: {}", machine.journal());
    let args = machine.ok(&["cat", "/var/lib/echo/args"]);
    let args: Vec<&str> = args.split_terminator('\0').collect();
    assert_eq!(args, HOSTILE_ARGS, "argv did not reach the program unchanged");
    assert_eq!(machine.ok(&["cat", "/var/lib/echo/env"]), "hello $world 50% \"q\"\nline two");
    assert_eq!(machine.ok(&["cat", "/var/lib/echo/user"]), "echo\n");
    assert_eq!(machine.ok(&["cat", "/var/lib/echo/cwd"]), "/var/lib/echo\n");
    assert_eq!(machine.ok(&["cat", "/var/lib/echo/conf"]), "conf=1\n");
    assert_eq!(machine.ok(&["stat", "-c", "%U", "/var/lib/echo"]).trim(), "echo", "the state directory belongs to the service's user");

    // worker: two replicas, two instances of the template.
    let active = machine.exec(&["systemctl", "is-active", "shop-worker@1.service", "shop-worker@2.service"]);
    assert_eq!(active.stdout, "active\nactive\n", "{}", machine.journal());

    // Stopping the target stops its services (PartOf=).
    machine.ok(&["systemctl", "stop", "shop.target"]);
    std::thread::sleep(Duration::from_millis(500));
    let state = machine.exec(&["systemctl", "is-active", "shop-web.service"]);
    assert_eq!(state.stdout.trim(), "inactive");
}
