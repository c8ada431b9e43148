//! A real systemd to run units under: PID 1 of a Debian container
//! (debootstrapped once into target/, imported into the local Docker engine;
//! no registry needed), with the host's /nix/store mounted so the services'
//! packages are there. Used by the systemd and nixos plugins' tests.

use crate::{repo_root, run, wait_for, Run};
use std::path::Path;
use std::process::Command;

pub const IMAGE: &str = "nix2dream-test-systemd:bookworm";

/// A Debian root with systemd, built by debootstrap the first time. Tests
/// of one binary run in parallel, and test binaries may too: one builder at
/// a time (a lock file), the others wait and then find the image.
pub fn systemd_image() -> &'static str {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_systemd_image);
    IMAGE
}

fn build_systemd_image() {
    std::fs::create_dir_all(repo_root().join("target")).unwrap();
    let lock = std::fs::File::create(repo_root().join("target/systemd-rootfs.lock")).unwrap();
    lock.lock().expect("locking target/systemd-rootfs.lock");
    let inspect = Command::new("docker").args(["image", "inspect", IMAGE]).output().expect("docker");
    if inspect.status.success() {
        return;
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
}

/// A running systemd container, removed on drop.
pub struct Machine(String);

impl Machine {
    pub fn boot() -> Machine {
        // Unique per boot: tests of one binary run in parallel, each with its own machine.
        static BOOTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let boot = BOOTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("n2d-systemd-{}-{boot}", std::process::id());
        let _ = run(Command::new("docker").args(["rm", "-f", &name]));
        // systemd needs its own mount namespaces for BindReadOnlyPaths= and
        // friends: SYS_ADMIN, without seccomp/apparmor filters.
        let r = run(Command::new("docker").args([
            "run", "-d", "--name", &name, "--cap-add", "SYS_ADMIN",
            "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
            "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro", "-v", "/nix/store:/nix/store:ro",
            // Mounts shared, as on a machine systemd booted: credentials
            // (LoadCredential=) are mounted in a helper's namespace and
            // must propagate back to the service's.
            systemd_image(), "/bin/sh", "-c", "mount --make-rshared / && exec /lib/systemd/systemd",
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

    pub fn exec(&self, args: &[&str]) -> Run {
        run(Command::new("docker").arg("exec").arg(&self.0).args(args))
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.exec(args);
        assert!(r.ok, "{args:?} failed: {}{}", r.stdout, r.stderr);
        r.stdout
    }

    pub fn copy_in(&self, from: &Path, to: &str) {
        let r = run(Command::new("docker").arg("cp").arg(from).arg(format!("{}:{to}", self.0)));
        assert!(r.ok, "docker cp: {}", r.stderr);
    }

    /// Writes `text` to `path` inside the machine, creating its directory
    /// (`docker cp` cannot write into the machine's tmpfs, /tmp or /run).
    pub fn write_file(&self, path: &str, text: &str) {
        self.ok(&["sh", "-c", "mkdir -p \"${2%/*}\" && printf %s \"$1\" > \"$2\"", "sh", text, path]);
    }

    pub fn property(&self, unit: &str, name: &str) -> String {
        self.ok(&["systemctl", "show", "-P", name, unit]).trim().to_owned()
    }

    /// Installs what the systemd plugin rendered into `out` as its usage
    /// says: units and the target into /etc/systemd/system/, config files
    /// into /etc/nix2dream/<deployment>/ (then `daemon-reload`, after
    /// `prepare`, e.g. creating users). Returns the deployment's name.
    pub fn install_systemd_output(&self, out: &Path, prepare: impl FnOnce(&Machine)) -> String {
        let mut deployment = None;
        for unit in std::fs::read_dir(out).unwrap().map(|e| e.unwrap().path()) {
            match unit.extension().and_then(|e| e.to_str()) {
                Some("service") => self.copy_in(&unit, "/etc/systemd/system/"),
                Some("target") => {
                    self.copy_in(&unit, "/etc/systemd/system/");
                    deployment = unit.file_stem().map(|s| s.to_string_lossy().into_owned());
                }
                _ => {}
            }
        }
        let deployment = deployment.expect("the systemd plugin renders <deployment>.target");
        if out.join("config").is_dir() {
            self.ok(&["mkdir", "-p", &format!("/etc/nix2dream/{deployment}")]);
            self.copy_in(&out.join("config"), &format!("/etc/nix2dream/{deployment}/"));
        }
        prepare(self);
        self.ok(&["systemctl", "daemon-reload"]);
        deployment
    }

    pub fn journal(&self) -> String {
        self.exec(&["journalctl", "--no-pager", "-n", "200"]).stdout
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = run(Command::new("docker").args(["rm", "-f", &self.0]));
    }
}

/// `systemd-analyze verify` of `units` (run in `dir`, where they refer to
/// each other): it exits 0 on some problems, so its stderr must be empty too
/// — but for users and groups, which exist on the target machine, not here.
pub fn assert_systemd_analyze_verifies(dir: &Path, units: &[impl AsRef<std::ffi::OsStr>]) {
    let r = run(Command::new("systemd-analyze").current_dir(dir).arg("verify").args(units));
    let stderr: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| !l.contains("Failed to resolve user") && !l.contains("Failed to resolve group"))
        .collect();
    assert!(r.ok && stderr.is_empty(), "systemd-analyze verify:\n{}", r.stderr);
}
