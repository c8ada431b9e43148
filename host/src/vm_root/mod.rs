//! A VM's root file system, assembled by the host from the Nix closure (a
//! plugin cannot read the store): an initramfs holding the closure, the
//! kernel modules the VM needs (from the kernel package), the files the
//! plugin asked for (the supervisor's configuration, accounts, config
//! files), and the host's own supervisor as `/init` (`nix2dream-vm-init`,
//! installed beside the `nix2dream` binary). Reproducible like the OCI
//! images: same inputs, same bytes.
//!
//! Files: `kernel` (checking the kernel, resolving modules by `modules.dep`),
//! `cpio` (the archive).

mod cpio;
mod kernel;

pub use kernel::Kernel;

use crate::image::{self, ImageFile};
use anyhow::{bail, Context, Result};
use cpio::{Contents, Entry, Tree};
use std::path::{Path, PathBuf};

/// What to build, resolved by the host from a plugin's request.
pub struct VmRootSpec {
    /// The kernel package (checked by [`Kernel::open`]).
    pub kernel: PathBuf,
    /// Drivers the VM needs, loaded by the supervisor in dependency order.
    pub modules: Vec<String>,
    /// Closure roots: the VM holds their runtime closure under `/nix/store`.
    pub store_paths: Vec<String>,
    /// Files with absolute paths in the VM.
    pub files: Vec<ImageFile>,
}

/// The environment variable that overrides where the supervisor is found.
pub const INIT_ENV: &str = "NIX2DREAM_VM_INIT";

/// The supervisor binary: `$NIX2DREAM_VM_INIT`, else
/// `<dir of nix2dream>/../lib/nix2dream/vm-init` (where `./x build` installs it).
pub fn init_binary() -> Result<PathBuf> {
    let path = match std::env::var_os(INIT_ENV) {
        Some(path) => PathBuf::from(path),
        None => {
            let exe = std::env::current_exe().context("locating the nix2dream binary")?;
            exe.parent().and_then(Path::parent).map(|p| p.join("lib/nix2dream/vm-init")).context("locating the nix2dream binary")?
        }
    };
    if !path.is_file() {
        bail!("the VM supervisor (nix2dream-vm-init) is not at {}: build it with `./x build` (it installs dist/lib/nix2dream/vm-init beside dist/bin/nix2dream), or set {INIT_ENV}", path.display());
    }
    Ok(path)
}

/// Writes the initramfs at `dest`; fails past `limit` bytes. Returns its size.
pub fn build(spec: &VmRootSpec, init: &Path, dest: &Path, limit: u64) -> Result<u64> {
    let kernel = Kernel::open(&spec.kernel)?;
    let modules = kernel.modules(&spec.modules)?;
    let root = spec.kernel.canonicalize().with_context(|| format!("kernel {}", spec.kernel.display()))?;
    let mut tree = base_tree(init)?;
    // Modules and their list for the supervisor (`nix2dream_vm_init::MODULES_PATH`).
    let mut list = String::new();
    for module in &modules {
        // A symlink in the module tree must not reach outside the kernel package.
        let source = module.source.canonicalize().with_context(|| format!("kernel module {}", module.source.display()))?;
        if !source.starts_with(&root) {
            bail!("kernel module {} resolves to {}, outside the kernel {}: refused", module.source.display(), source.display(), root.display());
        }
        tree.insert(&module.vm_path, Entry::File { mode: 0o444, contents: Contents::Disk(source) }, "kernel module")?;
        list += &format!("/{}\n", module.vm_path);
    }
    tree.insert(nix2dream_vm_init::MODULES_PATH.trim_start_matches('/'), Entry::File { mode: 0o444, contents: Contents::Bytes(list.into_bytes()) }, "module list")?;
    for path in image::closure(&spec.store_paths)? {
        let name = path.file_name().and_then(|n| n.to_str()).with_context(|| format!("store path {} has no UTF-8 name", path.display()))?;
        tree.insert_tree(&path, &format!("nix/store/{name}")).with_context(|| format!("adding store path {} to the VM", path.display()))?;
    }
    for file in &spec.files {
        let rel = image::image_relative_path(&file.path).with_context(|| format!("file {:?} of the VM", file.path))?;
        tree.insert(&rel, Entry::File { mode: file.mode, contents: Contents::Bytes(file.contents.clone()) }, "file")?;
    }
    tree.write(dest, limit)
}

/// What every VM has before anything is added: the mount points, the
/// console device (the kernel opens it for `/init`), and the supervisor.
fn base_tree(init: &Path) -> Result<Tree> {
    let mut tree = Tree::default();
    for (dir, mode) in [("dev", 0o755), ("etc", 0o755), ("nix/store", 0o555), ("proc", 0o555), ("run", 0o755), ("sys", 0o555), ("tmp", 0o1777), ("var", 0o755)] {
        tree.insert(dir, Entry::Dir { mode }, "directory")?;
    }
    tree.insert("dev/console", Entry::CharDevice { mode: 0o600, major: 5, minor: 1 }, "console")?;
    tree.insert(nix2dream_vm_init::INIT_PATH.trim_start_matches('/'), Entry::File { mode: 0o555, contents: Contents::Disk(init.to_owned()) }, "supervisor")?;
    Ok(tree)
}
