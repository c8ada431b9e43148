//! Stand-ins for nixpkgs packages, made from Debian's programs: these
//! machines have no nixpkgs beyond `lib/`, so the peer examples' packages
//! (nginx, Python with Flask, MariaDB, sqlite, traefik) are copied out of
//! the Debian system into the Nix store, self-contained like a nixpkgs
//! package, so that they run unchanged on the host (honcho), in a
//! nix2dream image (compose) and in the systemd machine, which hold nothing
//! of Debian's `/usr`.
//!
//! How: every shared library the ELF files need (per `ldd`) and the dynamic
//! loader go into one store path of libraries; the package's ELF files are
//! patched (patchelf) to use that loader and those libraries. The package
//! itself is then built by a one-line Nix derivation that copies it, so
//! that Nix records its references (the libraries, and any other package
//! given as an input): an image of the package holds its whole closure, as
//! with nixpkgs.

use crate::{busybox_package, run};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

enum Entry {
    /// A file or a directory tree of the machine, copied (links followed).
    Copy(PathBuf, String),
    /// A file written from text.
    Text(String, String, bool),
    /// A wheel (a zip file) unpacked into a directory of the package.
    Unzip(PathBuf, String),
    /// A relative symbolic link.
    Link(String, String),
}

/// A package being assembled: what goes where, and which store paths its
/// files refer to.
pub struct StorePackage {
    name: String,
    entries: Vec<Entry>,
    inputs: Vec<String>,
    /// A package whose `bin/sh` runs the `#!/bin/sh` scripts.
    shell: Option<String>,
}

impl StorePackage {
    pub fn new(name: &str) -> StorePackage {
        StorePackage { name: name.to_owned(), entries: Vec::new(), inputs: Vec::new(), shell: None }
    }

    /// Copies a file or directory of this machine to `dest` in the package.
    pub fn copy(mut self, source: impl AsRef<Path>, dest: &str) -> Self {
        let source = source.as_ref();
        assert!(source.exists(), "{} is missing: scripts/install-deps.sh installs what the peer examples need", source.display());
        self.entries.push(Entry::Copy(source.to_owned(), dest.to_owned()));
        self
    }

    pub fn text(mut self, dest: &str, text: &str, executable: bool) -> Self {
        self.entries.push(Entry::Text(dest.to_owned(), text.to_owned(), executable));
        self
    }

    pub fn unzip(mut self, wheel: impl AsRef<Path>, dest: &str) -> Self {
        let wheel = wheel.as_ref();
        assert!(wheel.is_file(), "{} is missing: scripts/install-deps.sh downloads it", wheel.display());
        self.entries.push(Entry::Unzip(wheel.to_owned(), dest.to_owned()));
        self
    }

    pub fn link(mut self, dest: &str, target: &str) -> Self {
        self.entries.push(Entry::Link(dest.to_owned(), target.to_owned()));
        self
    }

    /// Another store path this package's files refer to (a script's
    /// interpreter), so that it is in the package's closure.
    pub fn input(mut self, store_path: &str) -> Self {
        self.inputs.push(store_path.to_owned());
        self
    }

    /// Rewrites `#!/bin/sh` in the package's scripts to this package's
    /// `bin/sh` (like nixpkgs' patchShebangs): an image has no /bin/sh.
    pub fn patch_shebangs(mut self, shell_package: &str) -> Self {
        self.shell = Some(shell_package.to_owned());
        self.inputs.push(shell_package.to_owned());
        self
    }

    /// Assembles the package under `tmp` and adds it to the store; returns
    /// its store path.
    pub fn build(self, tmp: &Path) -> String {
        let stage = tmp.join(format!("{}-stage", self.name));
        let _ = std::fs::remove_dir_all(&stage);
        std::fs::create_dir_all(&stage).unwrap();
        for entry in &self.entries {
            match entry {
                Entry::Copy(source, dest) => {
                    let to = stage.join(dest);
                    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                    ok(Command::new("cp").arg("-rL").arg(source).arg(&to));
                }
                Entry::Text(dest, text, executable) => {
                    let to = stage.join(dest);
                    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                    std::fs::write(&to, text).unwrap();
                    let mode = if *executable { 0o755 } else { 0o644 };
                    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
                }
                Entry::Unzip(wheel, dest) => {
                    ok(Command::new("python3").args(["-m", "zipfile", "-e"]).arg(wheel).arg(stage.join(dest)));
                }
                Entry::Link(dest, target) => {
                    let to = stage.join(dest);
                    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                    std::os::unix::fs::symlink(target, to).unwrap();
                }
            }
        }
        if let Some(shell) = &self.shell {
            for file in files(&stage) {
                let Ok(text) = std::fs::read(&file) else { continue };
                if let Some(rest) = text.strip_prefix(b"#!/bin/sh") {
                    make_writable(&file);
                    std::fs::write(&file, [format!("#!{shell}/bin/sh").as_bytes(), rest].concat()).unwrap();
                }
            }
        }
        // Statically linked programs (busybox, traefik) need nothing.
        let elf_files: Vec<PathBuf> = elf_files(&stage).into_iter().filter(|f| is_dynamic(f)).collect();
        let mut inputs = self.inputs.clone();
        if !elf_files.is_empty() {
            let libraries = library_package(tmp, &self.name, &elf_files);
            for file in &elf_files {
                make_writable(file);
                let mut patch = Command::new("patchelf");
                if has_interpreter(file) {
                    patch.arg("--set-interpreter").arg(format!("{libraries}/lib/{LOADER}"));
                }
                ok(patch.args(["--force-rpath", "--set-rpath"]).arg(format!("{libraries}/lib")).arg(file));
            }
            inputs.push(libraries);
        }
        let staged = add_to_store(&stage);
        copied_by_nix(&self.name, &staged, &inputs)
    }
}

const LOADER: &str = "ld-linux-x86-64.so.2";

/// The store path of every library the ELF files need, and the loader:
/// each library finds the others through its own `$ORIGIN`.
fn library_package(tmp: &Path, name: &str, elf_files: &[PathBuf]) -> String {
    let mut libraries: BTreeMap<String, PathBuf> = BTreeMap::new();
    for file in elf_files {
        let r = run(Command::new("ldd").arg(file));
        for line in r.stdout.lines() {
            let line = line.trim();
            if let Some((soname, rest)) = line.split_once(" => ") {
                let path = rest.split(" (").next().unwrap().trim();
                assert!(path != "not found", "{}: {soname} not found by ldd", file.display());
                libraries.insert(soname.to_owned(), PathBuf::from(path));
            }
        }
    }
    // Loaded by name at run time, not listed by ldd: thread cancellation
    // (Python, MariaDB) needs libgcc_s.
    let libgcc = Path::new("/lib/x86_64-linux-gnu/libgcc_s.so.1");
    if libgcc.is_file() {
        libraries.insert("libgcc_s.so.1".to_owned(), libgcc.to_owned());
    }
    let dir = tmp.join(format!("{name}-libraries"));
    let lib = dir.join("lib");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&lib).unwrap();
    for (soname, path) in &libraries {
        let to = lib.join(soname);
        std::fs::copy(path, &to).unwrap_or_else(|e| panic!("copy {}: {e}", path.display()));
        make_writable(&to);
        ok(Command::new("patchelf").args(["--force-rpath", "--set-rpath", "$ORIGIN"]).arg(&to));
    }
    std::fs::copy(Path::new("/lib64").join(LOADER), lib.join(LOADER)).unwrap();
    add_to_store(&dir)
}

/// `store_path` copied by a Nix build, whose output's references Nix finds
/// by scanning (a path added with `nix-store --add` has none).
fn copied_by_nix(name: &str, store_path: &str, inputs: &[String]) -> String {
    let busybox = builder_busybox();
    let inputs: Vec<String> = inputs.iter().map(|i| format!("(builtins.storePath \"{i}\")")).collect();
    let expr = format!(
        "derivation {{ name = \"{name}\"; system = builtins.currentSystem; builder = \"{busybox}/bin/busybox\"; \
         args = [ \"cp\" \"-a\" (builtins.storePath \"{store_path}\") (placeholder \"out\") ]; inputs = [ {} ]; }}",
        inputs.join(" ")
    );
    let r = run(Command::new("nix-build")
        .args(["--no-out-link", "--option", "sandbox", "false", "-E", &expr])
        .env("NIX_CONFIG", "build-users-group ="));
    assert!(r.ok, "nix-build of the {name} stand-in failed: {}", r.stderr);
    r.stdout.trim().to_owned()
}

/// The builders' busybox, added to the store once per test binary.
fn builder_busybox() -> &'static str {
    static BUSYBOX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUSYBOX.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        busybox_package(dir.path())
    })
}

fn add_to_store(dir: &Path) -> String {
    let r = run(Command::new("nix-store").arg("--add").arg(dir).env("NIX_CONFIG", "build-users-group ="));
    assert!(r.ok, "nix-store --add {}: {}", dir.display(), r.stderr);
    r.stdout.trim().to_owned()
}

fn elf_files(dir: &Path) -> Vec<PathBuf> {
    files(dir).into_iter().filter(|f| is_elf(f)).collect()
}

/// The regular files under `dir` (links not followed).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found
}

fn is_elf(file: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(file).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == *b"\x7fELF"
}

fn is_dynamic(file: &Path) -> bool {
    run(Command::new("patchelf").arg("--print-rpath").arg(file)).ok
}

fn has_interpreter(file: &Path) -> bool {
    run(Command::new("patchelf").arg("--print-interpreter").arg(file)).ok
}

fn make_writable(file: &Path) {
    let mut mode = std::fs::metadata(file).unwrap().permissions();
    mode.set_mode(mode.mode() | 0o200);
    std::fs::set_permissions(file, mode).unwrap();
}

fn ok(cmd: &mut Command) {
    let r = run(cmd);
    assert!(r.ok, "{cmd:?}: {}{}", r.stdout, r.stderr);
}
