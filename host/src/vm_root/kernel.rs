//! The VM's kernel, from a Nix kernel package (`pkgs.linuxPackages.kernel`)
//! or any directory laid out like one: `bzImage` and
//! `lib/modules/<version>/` with `modules.dep` and `modules.builtin`.

use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

const HINT: &str = "give settings.vm.kernel a kernel package such as pkgs.linuxPackages.kernel, or a store path holding `bzImage` and `lib/modules/<version>/` (e.g. Debian's linux-image-amd64 copied in with builtins.path)";

pub struct Kernel {
    pub dir: PathBuf,
    /// `lib/modules/<version>` inside `dir`, when the kernel has modules.
    modules: Option<PathBuf>,
}

/// A module file to copy into the VM, in load order.
#[derive(Debug, PartialEq, Eq)]
pub struct ModuleFile {
    pub source: PathBuf,
    /// Where it goes in the VM, e.g. `lib/modules/6.1.0/kernel/fs/9p/9p.ko`.
    pub vm_path: String,
}

impl Kernel {
    /// Checks that `dir` holds a bootable x86 kernel (`bzImage` with the
    /// Linux boot protocol's `HdrS` signature).
    pub fn open(dir: &Path) -> Result<Kernel> {
        if !dir.is_dir() {
            bail!("kernel {}: not a directory (does it exist? is it built?): {HINT}", dir.display());
        }
        let image = dir.join("bzImage");
        let mut header = [0u8; 0x206];
        std::fs::File::open(&image)
            .and_then(|mut f| f.read_exact(&mut header))
            .with_context(|| format!("kernel {}: no readable bzImage in it: {HINT}", dir.display()))?;
        if &header[0x202..0x206] != b"HdrS" {
            bail!("kernel {}: bzImage is not a Linux kernel image (no `HdrS` boot signature at 0x202): {HINT}", dir.display());
        }
        let versions = match std::fs::read_dir(dir.join("lib/modules")) {
            Ok(entries) => {
                let mut v: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.join("modules.dep").is_file()).collect();
                v.sort();
                v
            }
            Err(_) => Vec::new(),
        };
        if versions.len() > 1 {
            bail!("kernel {}: several module trees in lib/modules ({}): give a package with one kernel", dir.display(), versions.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
        }
        Ok(Kernel { dir: dir.to_owned(), modules: versions.into_iter().next() })
    }

    /// The files of `names` and of what they depend on, dependencies first;
    /// drivers built into the kernel need none. Fails naming every driver
    /// the kernel lacks.
    pub fn modules(&self, names: &[String]) -> Result<Vec<ModuleFile>> {
        let (deps, builtin) = match &self.modules {
            Some(dir) => (read_dep(dir)?, read_builtin(dir)),
            None => (BTreeMap::new(), BTreeSet::new()),
        };
        let missing: Vec<&String> = names.iter().filter(|n| !builtin.contains(&normalize(n)) && !deps.contains_key(&normalize(n))).collect();
        if !missing.is_empty() {
            let names = missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            let where_ = match &self.modules {
                Some(dir) => format!("neither built in (modules.builtin) nor a module in {}", dir.display()),
                None => "it has no lib/modules/<version>/modules.dep, so it has no modules".to_owned(),
            };
            bail!(
                "kernel {}: lacks the drivers the VM needs: {names} ({where_}); the VM needs virtio networking (virtio_pci, virtio_net) and, for persistent volumes, 9p over virtio (9p, 9pnet_virtio): {HINT}",
                self.dir.display()
            );
        }
        let Some(dir) = &self.modules else { return Ok(Vec::new()) };
        let version = dir.file_name().map(|v| v.to_string_lossy().into_owned()).unwrap_or_default();
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        for name in names {
            visit(&normalize(name), &deps, &mut seen, &mut order);
        }
        Ok(order
            .into_iter()
            .map(|rel| ModuleFile { source: dir.join(&rel), vm_path: format!("lib/modules/{version}/{rel}") })
            .collect())
    }
}

/// `9pnet-virtio` and `9pnet_virtio` are one module (modprobe's rule).
fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// `kernel/fs/9p/9p.ko.xz` → `9p`.
fn module_name(rel: &str) -> String {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    normalize(file.split(".ko").next().unwrap_or(file))
}

/// modules.dep: `rel: dep dep …` → name → (rel, deps' rels).
fn read_dep(dir: &Path) -> Result<BTreeMap<String, (String, Vec<String>)>> {
    let path = dir.join("modules.dep");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut deps = BTreeMap::new();
    for line in text.lines() {
        let Some((rel, rest)) = line.split_once(':') else { continue };
        for r in std::iter::once(rel).chain(rest.split_whitespace()) {
            if r.starts_with('/') || r.split('/').any(|c| c == ".." || c.is_empty()) {
                bail!("{}: module path {r:?} leaves the module tree", path.display());
            }
        }
        deps.insert(module_name(rel), (rel.to_owned(), rest.split_whitespace().map(str::to_owned).collect()));
    }
    Ok(deps)
}

fn read_builtin(dir: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(dir.join("modules.builtin")).unwrap_or_default().lines().map(module_name).collect()
}

/// Depth first: a module's dependencies before it.
fn visit(name: &str, deps: &BTreeMap<String, (String, Vec<String>)>, seen: &mut BTreeSet<String>, order: &mut Vec<String>) {
    let Some((rel, needs)) = deps.get(name) else { return };
    if !seen.insert(name.to_owned()) {
        return;
    }
    for need in needs {
        visit(&module_name(need), deps, seen, order);
    }
    order.push(rel.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_kernel(dep: &str, builtin: &str) -> (tempfile::TempDir, Kernel) {
        let tmp = tempfile::tempdir().unwrap();
        let mut image = vec![0u8; 0x400];
        image[0x202..0x206].copy_from_slice(b"HdrS");
        std::fs::write(tmp.path().join("bzImage"), image).unwrap();
        let modules = tmp.path().join("lib/modules/6.1.0-test");
        std::fs::create_dir_all(&modules).unwrap();
        std::fs::write(modules.join("modules.dep"), dep).unwrap();
        std::fs::write(modules.join("modules.builtin"), builtin).unwrap();
        let kernel = Kernel::open(tmp.path()).unwrap();
        (tmp, kernel)
    }

    #[test]
    fn dependencies_load_first_and_once() {
        let (_tmp, kernel) = fake_kernel(
            "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko\nkernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko\nkernel/net/9p/9pnet.ko:\nkernel/fs/netfs/netfs.ko:\nkernel/drivers/virtio/virtio.ko:\n",
            "kernel/drivers/net/virtio_net.ko\n",
        );
        let files = kernel.modules(&["virtio_net".into(), "9pnet-virtio".into(), "9p".into()]).unwrap();
        let order: Vec<&str> = files.iter().map(|f| f.vm_path.as_str()).collect();
        assert_eq!(
            order,
            [
                "lib/modules/6.1.0-test/kernel/net/9p/9pnet.ko",
                "lib/modules/6.1.0-test/kernel/drivers/virtio/virtio.ko",
                "lib/modules/6.1.0-test/kernel/net/9p/9pnet_virtio.ko",
                "lib/modules/6.1.0-test/kernel/fs/netfs/netfs.ko",
                "lib/modules/6.1.0-test/kernel/fs/9p/9p.ko",
            ]
        );
    }

    #[test]
    fn missing_drivers_are_named() {
        let (_tmp, kernel) = fake_kernel("kernel/drivers/virtio/virtio.ko:\n", "");
        let e = kernel.modules(&["virtio".into(), "9p".into(), "virtio_net".into()]).unwrap_err().to_string();
        assert!(e.contains("lacks the drivers the VM needs: 9p, virtio_net"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_a_kernel_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("bzImage"), vec![0u8; 0x400]).unwrap();
        let e = Kernel::open(tmp.path()).err().unwrap().to_string();
        assert!(e.contains("not a Linux kernel image"), "{e}");
        let e = Kernel::open(&tmp.path().join("absent")).err().unwrap().to_string();
        assert!(e.contains("not a directory") && e.contains("settings.vm.kernel"), "{e}");
    }

    #[test]
    fn module_paths_cannot_leave_the_tree() {
        let (_tmp, kernel) = fake_kernel("../../../etc/shadow.ko:\n", "");
        assert!(kernel.modules(&["shadow".into()]).unwrap_err().to_string().contains("leaves the module tree"));
    }
}
