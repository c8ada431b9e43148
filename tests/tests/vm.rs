//! The vm plugin, booted for real: QEMU (TCG here; KVM hangs on these
//! machines) with Debian's kernel copied into the Nix store, the deployment's
//! closure as the initramfs and nix2dream-vm-init as PID 1. The host reaches
//! the services through the forwarded ports and reads the persistent volumes
//! from the state directory shared over 9p.

use nix2dream_e2e::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's kernel (`linux-image-amd64`) as a Nix kernel package would lay
/// it out: `bzImage` and `lib/modules/<version>/` with the modules the VM
/// needs (and what they depend on), copied into `dir`.
fn kernel_tree(dir: &Path, modules: &[&str]) {
    let version = std::fs::read_dir("/lib/modules")
        .expect("no /lib/modules: apt-get install linux-image-amd64 (scripts/install-deps.sh does)")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|v| Path::new(&format!("/boot/vmlinuz-{v}")).is_file())
        .expect("no Debian kernel: apt-get install linux-image-amd64");
    let (from, to) = (PathBuf::from(format!("/lib/modules/{version}")), dir.join(format!("lib/modules/{version}")));
    std::fs::create_dir_all(&to).unwrap();
    std::fs::copy(format!("/boot/vmlinuz-{version}"), dir.join("bzImage")).unwrap();
    std::fs::copy(from.join("modules.builtin"), to.join("modules.builtin")).unwrap();
    let dep = std::fs::read_to_string(from.join("modules.dep")).unwrap();
    let name = |rel: &str| rel.rsplit('/').next().unwrap().split(".ko").next().unwrap().replace('-', "_");
    let mut kept = String::new();
    for line in dep.lines() {
        let (rel, needs) = line.split_once(':').unwrap();
        if modules.contains(&name(rel).as_str()) {
            kept += line;
            kept.push('\n');
            for file in std::iter::once(rel).chain(needs.split_whitespace()) {
                std::fs::create_dir_all(to.join(file).parent().unwrap()).unwrap();
                std::fs::copy(from.join(file), to.join(file)).unwrap();
            }
        }
    }
    // Only the lines of the modules kept: the others' files are not there.
    let mut lines: Vec<&str> = dep.lines().filter(|l| to.join(l.split(':').next().unwrap()).exists()).collect();
    lines.sort();
    std::fs::write(to.join("modules.dep"), lines.join("\n") + "\n").unwrap();
}

const ALL_MODULES: &[&str] = &["virtio_pci", "virtio_net", "9pnet_virtio", "9p"];

/// The kernel tree added to the Nix store; its store path.
fn kernel_package(tmp: &Path, modules: &[&str]) -> String {
    let dir = tmp.join("debian-kernel");
    kernel_tree(&dir, modules);
    let r = run(Command::new("nix-store").arg("--add").arg(&dir).env("NIX_CONFIG", "build-users-group ="));
    assert!(r.ok, "nix-store --add: {}", r.stderr);
    r.stdout.trim().to_owned()
}

fn render(input: &Path, out: &Path, nixpkgs: Option<&Path>) -> Run {
    let mut cmd = nix2dream();
    cmd.args(["render", "--plugin", "vm"]).arg(input).arg("--out").arg(out);
    if let Some(n) = nixpkgs {
        cmd.arg("--nixpkgs").arg(n).env("NIX_CONFIG", "build-users-group =");
    }
    run(&mut cmd)
}

/// A running `run-vm`, killed (not stopped) on drop if a test failed first.
struct Vm {
    child: Option<Child>,
    out: PathBuf,
    stderr: PathBuf,
}

impl Vm {
    fn start(out: &Path, accel: &str) -> Vm {
        let stderr = out.join("../run-vm.stderr");
        // A test run started in the background (nohup, `&` in a script) ignores
        // SIGINT, and bash cannot trap a signal ignored on entry: give run-vm
        // the default, as a terminal would.
        let child = Command::new("env")
            .arg("--default-signal=INT")
            .arg(out.join("run-vm"))
            .env("NIX2DREAM_VM_ACCEL", accel)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Vm { child: Some(child), out: out.to_owned(), stderr }
    }

    fn console(&self) -> String {
        std::fs::read_to_string(self.out.join("state/console.log")).unwrap_or_default()
    }

    fn diagnose(&self) -> String {
        format!("run-vm stderr:\n{}\nconsole:\n{}", std::fs::read_to_string(&self.stderr).unwrap_or_default(), self.console())
    }

    fn wait_console(&self, seconds: u64, text: &str) {
        let seen = wait_for(seconds, || self.console().contains(text).then_some(()));
        assert!(seen.is_some(), "no {text:?} on the console within {seconds} s\n{}", self.diagnose());
    }

    /// Sends `signal` to run-vm (as Ctrl-C or a service manager would) and
    /// waits for it to exit; returns its exit code.
    fn stop(mut self, signal: &str) -> i32 {
        let mut child = self.child.take().unwrap();
        let r = run(Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()));
        assert!(r.ok, "{}", r.stderr);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "run-vm did not stop within 90 s after SIG{signal}\n{}", self.diagnose());
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // run-vm's second signal ends QEMU at once.
            let _ = run(Command::new("kill").arg("-TERM").arg(child.id().to_string()));
            std::thread::sleep(Duration::from_millis(500));
            let _ = run(Command::new("kill").arg("-TERM").arg(child.id().to_string()));
            let _ = child.wait();
        }
    }
}

#[test]
fn the_containers_example_boots_serves_and_keeps_its_data_across_restarts() {
    let Some(nixpkgs) = nixpkgs_or_skip("vm: the containers example") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let kernel = tmp.path().join("debian-kernel");
    kernel_tree(&kernel, ALL_MODULES);
    // The example as it is, plus the kernel (copied into the store by Nix).
    let input = tmp.path().join("services.nix");
    std::fs::write(
        &input,
        format!(
            "{{ imports = [ {} ]; settings.vm.kernel = builtins.path {{ name = \"debian-kernel\"; path = {}; }}; }}\n",
            repo_root().join("examples/containers/services.nix").display(),
            kernel.display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("vm");
    let r = render(&input, &out, Some(&nixpkgs));
    assert!(r.ok, "render: {}", r.stderr);
    let sc = run(Command::new("shellcheck").arg(out.join("run-vm")));
    assert!(sc.ok, "shellcheck run-vm:\n{}{}", sc.stdout, sc.stderr);

    // Boot 1, accelerator chosen by run-vm (TCG here: KVM does not work).
    let vm = Vm::start(&out, "auto");
    let page = wait_for(120, || http_get(18081, "/index.html"));
    assert_eq!(page.as_deref(), Some("<h1>Hello from a nix2dream image</h1>\n"), "{}", vm.diagnose());
    let log = out.join("state/volumes/poller/state/fetches.log");
    let fetched = |min: usize| wait_for(60, || std::fs::read_to_string(&log).ok().filter(|t| t.matches(" ok\n").count() >= min));
    assert!(fetched(1).is_some(), "the poller logged no successful fetch\n{}", vm.diagnose());
    let console = vm.console();
    // Health-gated order: the poller started only once web was healthy.
    let healthy = console.find("web is healthy").expect("web never became healthy");
    let poller = console.find("starting poller").expect("poller never started");
    assert!(healthy < poller, "poller started before web was healthy:\n{console}");
    assert_eq!(vm.stop("TERM"), 0, "run-vm after SIGTERM");
    let console = std::fs::read_to_string(out.join("state/console.log")).unwrap();
    for line in ["stopping poller", "poller stopped", "stopping web", "web stopped", "powering off"] {
        assert!(console.contains(line), "no {line:?} on the console at shutdown:\n{console}");
    }
    // Dependents stop first.
    assert!(console.find("stopping poller").unwrap() < console.find("stopping web").unwrap(), "{console}");
    let before = std::fs::read_to_string(&log).unwrap();

    // Boot 2: the poller's log is still there and grows; Ctrl-C stops it.
    let vm = Vm::start(&out, "tcg");
    let lines = before.lines().count();
    let grown = wait_for(120, || std::fs::read_to_string(&log).ok().filter(|t| t.lines().count() > lines));
    let after = grown.unwrap_or_else(|| panic!("the poller's log did not grow after a restart\n{}", vm.diagnose()));
    assert!(after.starts_with(&before), "the log of the first boot was lost:\nbefore:\n{before}\nafter:\n{after}");
    assert_eq!(vm.stop("INT"), 0, "run-vm after SIGINT (Ctrl-C)");
}

/// Words that break naive quoting in a script, a unit file or JSON.
const HOSTILE_ARGS: [&str; 9] = ["with space", "$HOME", "${PATH}", "100%", "say \"hi\"", "back\\slash", "line\nbreak", ";", "ünï"];

#[test]
fn the_supervisor_keeps_argv_user_env_volumes_restarts_and_replicas() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let kernel = kernel_package(tmp.path(), ALL_MODULES);
    let port = free_port();
    // The conformance kit's probe too: hostile words in argv, env, a config file.
    let probe = nix2dream_plugin_kit::conformance::Probe::new(&busybox, "/srv/probe");
    let probe_service = probe.deployment_json("probe")["services"]["probe"].clone();
    let mut echo_argv = vec![json!("sh"), json!("-c"), json!(
        "pwd > /data/cwd; cd /data; for a in \"$@\"; do printf '%s\\0' \"$a\"; done > args; printf '%s' \"$GREETING\" > env; id -un > user; id -gn > group; cat /etc/echo.conf > conf; busybox stat -f -c %T /scratch > scratch; touch /scratch/w && echo writable >> scratch"
    ), json!("sh")];
    echo_argv.extend(HOSTILE_ARGS.iter().map(|a| json!(a)));
    let input = write_deployment(
        tmp.path(),
        json!({
            "echo": {
                "package": busybox,
                "process": {"argv": echo_argv},
                "env": {"GREETING": "hello $world 50% \"q\"\nline two"},
                "user": "echo",
                "group": "staff",
                "workingDirectory": "/srv/echo",
                "volumes": {"data": {"path": "/data"}, "scratch": {"path": "/scratch", "persistent": false}},
                "configData": {"echo.conf": {"path": "/etc/echo.conf", "text": "conf=1\n"}},
                "restart": "no",
            },
            // Fails on its first run: restart = on-failure starts it again.
            "flaky": {
                "package": busybox,
                "process": {"argv": ["sh", "-c", "echo run >> /state/runs; [ \"$(wc -l < /state/runs)\" -ge 2 ] || exit 3; exec sleep 1000"]},
                "volumes": {"state": {"path": "/state"}},
                "restart": "on-failure",
            },
            "worker": {
                "package": busybox,
                "process": {"argv": ["sh", "-c", "echo $$ >> /shared/pids; exec sleep 1000"]},
                "volumes": {"shared": {"path": "/shared"}},
                "replicas": 2,
                "resources": {"memoryMiB": 32, "cpus": 0.5},
            },
            "probe": probe_service,
            "web": {
                "package": busybox,
                "process": {"argv": ["httpd", "-f", "-p", port.to_string(), "-h", "/srv/www"]},
                "ports": {"http": {"port": port}},
                "configData": {"index.html": {"path": "/srv/www/index.html", "text": "vm ok\n"}},
                "healthcheck": {"http": {"port": port, "path": "/index.html"}, "interval": 1, "retries": 30},
                "dependsOn": {"echo": {}, "flaky": {}},
            },
        }),
        json!({"name": "shop", "settings": {"vm": {"kernel": kernel, "stopTimeoutSeconds": 5}}}),
    );
    let out = tmp.path().join("vm");
    let r = render(&input, &out, None);
    assert!(r.ok, "render: {}", r.stderr);
    let vm = Vm::start(&out, "tcg");
    let page = wait_for(120, || http_get(port, "/index.html"));
    assert_eq!(page.as_deref(), Some("vm ok\n"), "{}", vm.diagnose());
    vm.wait_console(60, "all 5 services are up");
    vm.wait_console(60, "N2D-PROBE end");
    let volumes = out.join("state/volumes");
    let read = |p: &str| std::fs::read_to_string(volumes.join(p)).unwrap_or_else(|e| panic!("{p}: {e}\n{}", vm.diagnose()));
    wait_for(30, || volumes.join("echo/data/scratch").exists().then_some(()));
    let args: Vec<u8> = std::fs::read(volumes.join("echo/data/args")).unwrap();
    let expected: Vec<u8> = HOSTILE_ARGS.iter().flat_map(|a| a.bytes().chain([0])).collect();
    assert_eq!(String::from_utf8_lossy(&args), String::from_utf8_lossy(&expected), "argv did not arrive byte-exact");
    assert_eq!(read("echo/data/env"), "hello $world 50% \"q\"\nline two");
    assert_eq!(read("echo/data/user"), "echo\n");
    assert_eq!(read("echo/data/group"), "staff\n");
    assert_eq!(read("echo/data/cwd"), "/srv/echo\n");
    assert_eq!(read("echo/data/conf"), "conf=1\n");
    assert_eq!(read("echo/data/scratch"), "tmpfs\nwritable\n");
    assert_eq!(read("flaky/state/runs"), "run\nrun\n", "on-failure restarts once the first run failed, then it stays up");
    let pids = read("worker/shared/pids");
    assert_eq!(pids.lines().count(), 2, "two replicas: {pids}");
    let console = vm.console();
    assert!(console.contains("echo: not restarted") || console.contains("echo exited (exit status 0)"), "{console}");
    assert!(console.contains("flaky exited (exit status 3)") && console.contains("flaky: restarting"), "{console}");
    if let Err(problems) = probe.check(&console) {
        panic!("vm: the conformance probe did not see what the deployment says:\n- {}", problems.join("\n- "));
    }
    assert_eq!(vm.stop("TERM"), 0);
}

#[test]
fn bad_kernels_and_taken_ports_get_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let port = free_port();
    let services = json!({
        "web": {
            "package": busybox,
            "process": {"argv": ["httpd", "-f", "-p", port.to_string()]},
            "ports": {"http": {"port": port}},
            "volumes": {"data": {"path": "/data"}},
        },
    });
    let render_with = |settings: serde_json::Value, name: &str| {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let input = write_deployment(&dir, services.clone(), json!({"name": "t", "settings": {"vm": settings}}));
        let out = dir.join("out");
        (render(&input, &out, None), out)
    };

    let (r, out) = render_with(json!({}), "unset");
    assert!(!r.ok && r.stderr.contains("settings.vm.kernel: required, not set") && r.stderr.contains("pkgs.linuxPackages.kernel"), "{}", r.stderr);
    assert!(!out.exists(), "a failed render wrote {}", out.display());

    let (r, _) = render_with(json!({"kernel": "/nix/store/00000000000000000000000000000000-no-kernel"}), "missing");
    assert!(!r.ok && r.stderr.contains("not a directory (does it exist? is it built?)"), "{}", r.stderr);

    let not_a_kernel = busybox.clone();
    let (r, _) = render_with(json!({"kernel": not_a_kernel}), "not-a-kernel");
    assert!(!r.ok && r.stderr.contains("no readable bzImage"), "{}", r.stderr);

    let no_9p = kernel_package(&tmp.path().join("no-9p"), &["virtio_pci", "virtio_net"]);
    let (r, _) = render_with(json!({"kernel": no_9p}), "no-9p");
    assert!(!r.ok && r.stderr.contains("lacks the drivers the VM needs: 9pnet_virtio, 9p"), "{}", r.stderr);

    // A port already taken on the host: run-vm says which, before booting.
    let kernel = kernel_package(tmp.path(), ALL_MODULES);
    let (r, out) = render_with(json!({"kernel": kernel}), "ok");
    assert!(r.ok, "{}", r.stderr);
    let _taken = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let started = Instant::now();
    let r = run(Command::new(out.join("run-vm")).env("NIX2DREAM_VM_ACCEL", "tcg"));
    assert!(!r.ok, "run-vm started although port {port} is taken");
    assert!(r.stderr.contains(&format!("port {port} (service web) is already in use on 127.0.0.1")), "{}", r.stderr);
    assert!(started.elapsed() < Duration::from_secs(10), "the port check should come before booting");
}

/// The conformance kit's multi-service stack in the VM: the one-shot seed
/// completes and the client waits for it, the seed's file reaches the client
/// through the shared volume (kept on the host), the secrets arrive (and
/// are in no rendered file, the initramfs included), a host directory is bound
/// in, the client reaches the backend at its loopback address, the internal
/// port is not forwarded to the host, and the backend is stopped with its
/// own signal (SIGINT).
#[test]
fn the_conformance_stack_runs_in_the_vm() {
    use nix2dream_plugin_kit::conformance::stack::Stack;
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let kernel = kernel_package(tmp.path(), ALL_MODULES);
    let port = free_port();
    // A directory of the host, bound into the client over 9p.
    let host_dir = tmp.path().join("host-dir");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("host.txt"), "from-the-vm-host").unwrap();
    // Secrets: files on this machine, read by run-vm when it starts.
    use nix2dream_plugin_kit::conformance::stack::{Secrets, KEY, TOKEN};
    let secrets = Secrets::written_in(&tmp.path().join("keys")).unwrap();
    let stack = Stack::new(&busybox, "/srv", port)
        .with_host_dir(&host_dir.to_string_lossy(), "/srv/host", "from-the-vm-host")
        .with_secrets(secrets);
    let mut deployment = stack.deployment_json("stack");
    deployment["settings"] = json!({"vm": {"kernel": kernel, "stopTimeoutSeconds": 5}});
    let input = tmp.path().join("deployment.json");
    std::fs::write(&input, serde_json::to_string(&deployment).unwrap()).unwrap();
    let out = tmp.path().join("vm");
    let r = render(&input, &out, None);
    assert!(r.ok, "render: {}", r.stderr);
    for file in std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in [TOKEN, KEY] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret:?} is in {}", file.display());
        }
    }
    let vm = Vm::start(&out, "tcg");
    vm.wait_console(120, "N2D-STACK end");
    assert!(http_get(port, "/").is_none(), "the internal port {port} is reachable from the host");
    let console = vm.console();
    assert!(console.find("seed completed").unwrap_or(usize::MAX) < console.find("starting client").unwrap_or(0), "{console}");
    if let Err(problems) = stack.check(&console) {
        panic!("vm: the stack did not work as the deployment says:\n- {}", problems.join("\n- "));
    }
    assert_eq!(vm.stop("TERM"), 0);
    let shared = out.join("state/volumes/_shared/data/seed.txt");
    assert_eq!(std::fs::read_to_string(&shared).ok().as_deref(), Some("seeded-by-the-one-shot\n"), "the shared volume lives on the host");
    let console = std::fs::read_to_string(out.join("state/console.log")).unwrap();
    assert!(console.contains("backend stopped (signal 2)"), "the backend gets SIGINT, its stopSignal:\n{console}");
}
