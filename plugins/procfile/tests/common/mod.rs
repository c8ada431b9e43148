//! Test helpers: build `Deployment`s in Rust, render them, write the result
//! to a temporary directory and run it.
#![allow(dead_code)]

use nix2dream_plugin_kit::{Artifact, Deployment, Diagnostic, Manager, Rendered, Severity};
use nix2dream_procfile::Procfile;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

pub use nix2dream_plugin_kit::testing::*;

pub fn render(d: Deployment) -> Result<Rendered, Vec<Diagnostic>> {
    <Procfile as Manager>::render(d)
}

/// Renders and expects success.
pub fn render_ok(d: Deployment) -> Rendered {
    match render(d) {
        Ok(r) => r,
        Err(e) => panic!("render failed: {e:#?}"),
    }
}

/// Renders and expects failure; returns the error diagnostics.
pub fn render_err(d: Deployment) -> Vec<Diagnostic> {
    match render(d) {
        Ok(r) => panic!("render succeeded, expected errors: {:#?}", files(&r).keys().collect::<Vec<_>>()),
        Err(e) => {
            assert!(!e.is_empty());
            assert!(e.iter().all(|d| d.severity == Severity::Error), "{e:#?}");
            e
        }
    }
}

/// path → (contents, executable).
pub fn files(r: &Rendered) -> BTreeMap<String, (Vec<u8>, bool)> {
    r.artifacts
        .iter()
        .map(|a| match a {
            Artifact::File(f) => (f.path.clone(), (f.contents.clone(), f.executable)),
            Artifact::Image(i) => panic!("the procfile plugin asked for an image: {}", i.name),
            Artifact::VmRoot(v) => panic!("the procfile plugin asked for a VM root: {}", v.path),
        })
        .collect()
}

pub fn text(r: &Rendered, path: &str) -> String {
    let files = files(r);
    let (bytes, _) = files.get(path).unwrap_or_else(|| panic!("no {path} in {:?}", files.keys().collect::<Vec<_>>()));
    String::from_utf8(bytes.clone()).unwrap()
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("nix2dream-procfile-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn str(&self) -> &str {
        self.0.to_str().unwrap()
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Read-only copies may sit in it: make everything writable first.
        let _ = Command::new("chmod").arg("-R").arg("u+w").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes the artifacts under `out`, with the executable bit where asked.
pub fn write_out(r: &Rendered, out: &Path) {
    for (path, (contents, executable)) in files(r) {
        let target = out.join(&path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, contents).unwrap();
        let mode = if executable { 0o755 } else { 0o644 };
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// Runs `./bin/<name>` from `out` (as honcho would) with extra env vars.
pub fn run_launcher(out: &Path, name: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(format!("./bin/{name}"));
    cmd.current_dir(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    retry_busy(|| cmd.output()).expect("the launcher runs")
}

/// Retries a spawn that failed with ETXTBSY: another test thread may be
/// forking while it still holds this script open for writing (a known race
/// of writing then executing a file in a multi-threaded process).
pub fn retry_busy<T>(mut f: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    for _ in 0..100 {
        match f() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => return other,
        }
    }
    f()
}

/// An argv whose process writes, into `$DUMP_DIR`: its arguments (`argv`,
/// NUL-separated), its environment (`env`, NUL-separated) and its working
/// directory (`pwd`). Extra arguments follow.
pub fn dump_argv<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut argv = vec![
        "/bin/sh",
        "-c",
        r#"printf '%s\0' "$@" > "$DUMP_DIR/argv"; env -0 > "$DUMP_DIR/env"; pwd -P > "$DUMP_DIR/pwd""#,
        "dump",
    ];
    argv.extend_from_slice(extra);
    argv
}

pub fn read_nul_list(path: &Path) -> Vec<String> {
    let text = String::from_utf8(std::fs::read(path).unwrap()).unwrap();
    text.split_terminator('\0').map(str::to_owned).collect()
}

pub fn read_env(path: &Path) -> BTreeMap<String, String> {
    read_nul_list(path)
        .into_iter()
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Strings that break naive quoting.
pub const HOSTILE: &[&str] = &[
    "plain",
    "with space",
    "it's",
    "\"double\"",
    "$HOME",
    "${x:-y}",
    "`id`",
    "$(id)",
    "back\\slash",
    "trailing\\",
    "\\'",
    "line\nbreak",
    "trailing newline\n",
    "",
    "*",
    "a;b|c&d",
    "-n",
    "~",
    "tab\there",
    "‘curly’ “quotes”",
    "#not a comment",
    "!bang",
    "{a,b}",
    "é ünïcødé",
    "EOF",
];
