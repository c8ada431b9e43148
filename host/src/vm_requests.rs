//! Turning plugins' VM root requests into initramfs files (see
//! [`crate::vm_root`]), with the safety rules of image requests: the host
//! reads only what the deployment names (closure roots, packages, `path`
//! entries, config sources, and the kernel the deployment's settings name),
//! and the total stays under the image limit.

use crate::deployment::Deployment;
use crate::image::ImageFile;
use crate::image_requests::Readable;
use crate::output::{Contents, OutFile};
use crate::plugin::wit::latest::FileContent;
use crate::render::PendingVmRoot;
use crate::vm_root::{self, VmRootSpec};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The kernel a plugin may use: the one the deployment's own settings for
/// that plugin name (`settings.<plugin>.kernel`), and nothing else.
fn kernel_of(pending: &PendingVmRoot, deployment: &Deployment) -> Result<PathBuf> {
    let kernel = &pending.request.kernel;
    let named = deployment.settings.get(&pending.plugin_name).and_then(|s| s.get("kernel")).and_then(|k| k.as_str());
    if named.map(|n| n.trim_end_matches('/')) != Some(kernel.trim_end_matches('/')) {
        bail!("kernel {kernel} is not the deployment's settings.{}.kernel: refused, a plugin may only boot the kernel the deployment names", pending.plugin_name);
    }
    Ok(PathBuf::from(kernel))
}

fn spec_of(pending: &PendingVmRoot, deployment: &Deployment, readable: &Readable) -> Result<VmRootSpec> {
    let r = &pending.request;
    for store_path in &r.store_paths {
        readable.check(store_path, "store path")?;
    }
    let files = r
        .files
        .iter()
        .map(|f| {
            let contents = match &f.content {
                FileContent::Text(text) => text.clone().into_bytes(),
                FileContent::Source(source) => {
                    let what = format!("file {} of the VM: source", f.path);
                    std::fs::read(readable.check(source, &what)?).with_context(|| format!("{what} {source} cannot be read"))?
                }
            };
            // Root-owned and world-readable: the VM holds only this deployment (per-service
            // ownership of secret sources is not done yet).
            Ok(ImageFile { path: f.path.clone(), contents, mode: if f.executable { 0o555 } else { 0o444 }, private: false })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(VmRootSpec { kernel: kernel_of(pending, deployment)?, modules: r.modules.clone(), store_paths: r.store_paths.clone(), files })
}

/// Builds every requested VM root into `spool`; fails once their total size
/// passes `limit_bytes`.
pub fn build_all(roots: &[PendingVmRoot], deployment: &Deployment, spool: &Path, limit_bytes: u64) -> Result<Vec<OutFile>> {
    if roots.is_empty() {
        return Ok(Vec::new());
    }
    let readable = Readable::of(deployment);
    let init = vm_root::init_binary()?;
    let mut left = limit_bytes;
    let progress = crate::progress::counted("assembling VM roots", roots.len() as u64);
    roots
        .iter()
        .enumerate()
        .map(|(i, pending)| {
            progress.at(i as u64, &pending.path);
            let what = || format!("{}: VM root file system {}", pending.plugin, pending.path);
            crate::interrupt::checkpoint();
            crate::output::fault_step("building a VM root").with_context(what)?;
            let spec = spec_of(pending, deployment, &readable).with_context(what)?;
            let dest = spool.join(format!("vm-root-{i}.cpio"));
            let bytes = vm_root::build(&spec, &init, &dest, left).with_context(what)?;
            left -= bytes;
            Ok(OutFile { path: pending.path.clone(), contents: Contents::Spooled(dest), executable: false, origin: pending.plugin.clone() })
        })
        .collect()
}
