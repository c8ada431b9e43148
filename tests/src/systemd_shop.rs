//! The deployment the systemd-based managers' tests run under a real
//! systemd (`systemd_machine`), and what must hold once it is started: the
//! systemd plugin's units and the units NixOS makes of the nixos plugin's
//! module meet the same assertions.

use crate::systemd_machine::Machine;
use crate::{wait_for, write_deployment};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Words that break naive quoting in a unit file or a shell.
pub const HOSTILE_ARGS: [&str; 8] = ["with space", "$HOME", "${PATH}", "100%", "say \"hi\"", "back\\slash", "line\nbreak", ";"];

pub fn deployment(dir: &Path, busybox: &str) -> PathBuf {
    let mut echo_argv = vec![json!("sh"), json!("-c"), json!("for a in \"$@\"; do printf '%s\\0' \"$a\"; done > args; printf '%s' \"$GREETING\" > env; id -un > user; pwd > cwd; cat /etc/echo.conf > conf; cat /etc/echo/ssl/cert.pem > cert; touch /scratch/ok && echo yes > scratch"), json!("sh")];
    echo_argv.extend(HOSTILE_ARGS.iter().map(|a| json!(a)));
    write_deployment(
        dir,
        json!({
            "db": {
                "package": busybox,
                "process": {"argv": ["sh", "-c", "sleep 3; touch /run/db-ready; exec sleep 1000"]},
                // Healthy after ~3 s; one retry, but a 30 s grace window: the
                // failures before then do not count, and dependents must not
                // wait for the window to end (#7: startPeriod was a delay).
                "healthcheck": {"command": ["test", "-f", "/run/db-ready"], "interval": 1, "timeout": 1, "retries": 1, "startPeriod": 30},
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
                "configData": {"echo.conf": {"path": "/etc/echo.conf", "text": "conf=1\n"}, "ssl/cert.pem": {"path": "/etc/echo/ssl/cert.pem", "text": "CERT\n"}},
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


/// Starts `shop.target` (units, config files and users installed) and checks
/// what the user asked for: page served from the config file as user www,
/// limits, health-gated ordering, startPeriod as a grace window, argv, env,
/// user, working directory, config files, state directory owner, tmpfs,
/// replicas, stop.
pub fn start_and_check(machine: &Machine, busybox: &str) {
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
    assert!(db_healthy - db_started < 15.0, "db turned active {:.1}s after starting: the 30 s startPeriod delayed it (it is a grace window)", db_healthy - db_started);
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
    assert_eq!(machine.ok(&["cat", "/var/lib/echo/cert"]), "CERT\n", "configData.\"ssl/cert.pem\"");
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
