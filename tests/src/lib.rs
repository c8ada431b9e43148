//! Helpers shared by the end-to-end tests. They drive the `nix2dream` built by
//! `./x build` (found through `NIX2DREAM_DIST`), like a user would.

pub mod nixos_units;
pub mod peer_packages;
pub mod store_package;
pub mod systemd_machine;
pub mod systemd_shop;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn env_dir(var: &str, what: &str) -> PathBuf {
    let dir = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{var} is not set: run the tests with `./x test`, which builds {what} first"));
    assert!(dir.is_dir(), "{var}={} does not exist: run `./x build`", dir.display());
    dir
}

/// The `dist/` directory of `./x build`.
pub fn dist() -> PathBuf {
    env_dir("NIX2DREAM_DIST", "the host and bundled plugins")
}

/// A hostile test plugin's component (built by `./x build` from tests/plugins/).
pub fn test_plugin(name: &str) -> PathBuf {
    env_dir("NIX2DREAM_TEST_PLUGINS", "the test plugins").join(format!("{name}.wasm"))
}

pub fn bundled_plugin(name: &str) -> PathBuf {
    dist().join(format!("lib/nix2dream/plugins/{name}.wasm"))
}

/// The built `nix2dream`, with a cache directory private to the test suite
/// and no user plugin path.
pub fn nix2dream() -> Command {
    let mut cmd = Command::new(dist().join("bin/nix2dream"));
    cmd.env("NIX2DREAM_CACHE_DIR", repo_root().join("target/test-cache"))
        .env_remove("NIX2DREAM_PLUGIN_PATH")
        .env_remove("NIX2DREAM_BUNDLED_PLUGINS");
    cmd
}

/// A finished command, its output as text.
pub struct Run {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            ok: o.status.success(),
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

pub fn run(cmd: &mut Command) -> Run {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}")).into()
}

/// Writes a deployment JSON with these services (a JSON object) and top-level extras.
pub fn write_deployment(dir: &Path, services: serde_json::Value, extra: serde_json::Value) -> PathBuf {
    let mut d = serde_json::json!({"schema": "nix2dream/v1", "name": "test", "services": services});
    if let serde_json::Value::Object(extra) = extra {
        d.as_object_mut().unwrap().extend(extra);
    }
    let file = dir.join("deployment.json");
    std::fs::write(&file, serde_json::to_string_pretty(&d).unwrap()).unwrap();
    file
}

/// Every file under `dir` with its bytes, to prove a failed render changed
/// nothing; but `.nix2dream/kept.json`, which records the image archives'
/// inodes, different in two directories holding the same render.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.strip_prefix(dir).is_ok_and(|p| p == Path::new(".nix2dream/kept.json")) {
                continue;
            } else {
                out.push((path.strip_prefix(dir).unwrap().to_owned(), std::fs::read(&path).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}

/// nixpkgs: `NIX2DREAM_NIXPKGS`, else `<nixpkgs>` on NIX_PATH, if it has `lib/`.
fn find_nixpkgs() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NIX2DREAM_NIXPKGS").map(PathBuf::from).filter(|p| p.join("lib").is_dir()) {
        return Some(p);
    }
    let o = Command::new("nix-instantiate")
        .args(["--eval", "--json", "-E", "toString <nixpkgs>"])
        .env("NIX_CONFIG", "build-users-group =")
        .output()
        .ok()?;
    match serde_json::from_slice(&o.stdout) {
        Ok(serde_json::Value::String(p)) if o.status.success() && Path::new(&p).join("lib").is_dir() => Some(PathBuf::from(p)),
        _ => None,
    }
}

/// Records a skipped test (listed loudly at the end of `./x test`).
pub fn record_skip(test_name: &str, why: &str) {
    let line = format!("{test_name}: skipped, {why}\n");
    eprintln!("SKIPPED {line}");
    let file = repo_root().join("target/skipped-tests.txt");
    let _ = std::fs::create_dir_all(file.parent().unwrap());
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(file) {
        let _ = f.write_all(line.as_bytes());
    }
}

/// nixpkgs for tests that evaluate Nix (only its `lib/` is needed):
/// `NIX2DREAM_NIXPKGS`, else `<nixpkgs>` on NIX_PATH. When absent, the test
/// is recorded as skipped and None is returned.
pub fn nixpkgs_or_skip(test_name: &str) -> Option<PathBuf> {
    let found = find_nixpkgs();
    if found.is_none() {
        record_skip(test_name, "nixpkgs not found (set NIX2DREAM_NIXPKGS or put nixpkgs on NIX_PATH)");
    }
    found
}

/// A full nixpkgs (with `nixos/`), for tests that evaluate NixOS itself;
/// recorded as skipped where only nixpkgs' `lib/` is available.
pub fn full_nixpkgs_or_skip(test_name: &str) -> Option<PathBuf> {
    let found = find_nixpkgs().filter(|p| p.join("nixos/default.nix").is_file());
    if found.is_none() {
        record_skip(test_name, "a full nixpkgs (with nixos/) not found: point NIX2DREAM_NIXPKGS at a nixpkgs checkout");
    }
    found
}

/// A plain HTTP/1.0 GET on loopback; the body when the status is 200.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    http_get_host(port, path, "127.0.0.1")
}

/// An HTTP/1.0 GET on loopback with this `Host` header; the body when the
/// status is 200.
pub fn http_get_host(port: u16, path: &str, host: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?;
    (head.starts_with("HTTP/1.") && status == "200").then(|| body.to_owned())
}

/// Polls `f` every 200 ms for up to `seconds`.
pub fn wait_for<T>(seconds: u64, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A free loopback TCP port (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `honcho start` running in `dir`, in its own process group; stopped
/// (SIGTERM to the group, then SIGKILL) when dropped.
pub struct Honcho {
    child: std::process::Child,
    pub log: PathBuf,
}

impl Honcho {
    pub fn start(dir: &Path) -> Honcho {
        use std::os::unix::process::CommandExt;
        let log = dir.join("honcho.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new("honcho")
            .arg("start")
            .current_dir(dir)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0)
            .spawn()
            .expect("honcho is not installed: run scripts/install-deps.sh (pip install honcho)");
        Honcho { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops every process and returns honcho's log.
    pub fn stop(mut self) -> String {
        self.terminate();
        self.log()
    }

    fn terminate(&mut self) {
        // honcho starts each process in a session of its own: a slow
        // shutdown ended by SIGKILL would leave them running (holding their
        // ports for the next test), so their groups are noted first and
        // killed after honcho is gone.
        let groups: Vec<String> = children_of(self.child.id()).iter().map(|pid| format!("-{pid}")).collect();
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let stopped = wait_for(10, || self.child.try_wait().ok().flatten());
        if stopped.is_none() {
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = self.child.wait();
        }
        for group in &groups {
            let _ = Command::new("kill").args(["-KILL", "--", group]).stderr(std::process::Stdio::null()).status();
        }
    }
}

/// The processes whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            // The fields after the command's closing parenthesis: state, ppid, …
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok()) == Some(pid)
        })
        .collect()
}

impl Drop for Honcho {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.terminate();
        }
    }
}

/// A package holding Debian's static busybox and applet links, added to the
/// Nix store (`nix-store --add`): programs that run anywhere, even in an
/// image with no base. Returns its store path.
pub fn busybox_package(tmp: &Path) -> String {
    let busybox = Path::new("/bin/busybox");
    assert!(busybox.is_file(), "/bin/busybox is missing: apt-get install busybox-static (scripts/install-deps.sh does)");
    let bin = tmp.join("busybox-pkg/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(busybox, bin.join("busybox")).unwrap();
    for applet in ["sh", "httpd", "wget", "id", "sleep", "cat", "echo", "test", "touch", "mkdir", "pwd", "env", "date", "printf", "seq", "od", "tr"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    let r = run(Command::new("nix-store")
        .args(["--add"])
        .arg(tmp.join("busybox-pkg"))
        .env("NIX_CONFIG", "build-users-group ="));
    assert!(r.ok, "nix-store --add failed (is Nix installed? apt-get install nix-bin): {}", r.stderr);
    r.stdout.trim().to_owned()
}

/// `docker load` of an image archive; returns the image's name.
pub fn docker_load(archive: &Path) -> String {
    let r = run(Command::new("docker").args(["load", "-i"]).arg(archive));
    assert!(r.ok, "docker load {}: {}", archive.display(), r.stderr);
    r.stdout.lines().find_map(|l| l.strip_prefix("Loaded image: ")).expect("docker load names the image").trim().to_owned()
}

/// No rendered file, image archive (its layers are uncompressed tars)
/// included, holds a secret's value.
pub fn assert_no_secret_in(out: &Path, secrets: &[&str]) {
    let mut dirs = vec![out.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                dirs.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            for secret in secrets {
                let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
                assert!(!found, "the secret {secret:?} is in the rendered {}", path.display());
            }
        }
    }
}
