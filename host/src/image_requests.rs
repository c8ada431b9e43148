//! Turning plugins' image requests into image archives: the host reads what
//! plugins cannot (config file sources in the Nix store, the closure) and
//! assembles each image with [`crate::image`], spooled to a temporary
//! directory until the output is written atomically.

use crate::image::{self, ImageConfig, ImageFile, ImageSpec};
use crate::output::{Contents, OutFile};
use crate::plugin::wit::latest::{FileContent, Protocol};
use crate::render::PendingImage;
use anyhow::{Context, Result};
use std::path::Path;

/// At most this many layers per image; the rest of the closure is merged.
pub const MAX_LAYERS: usize = 100;

fn spec_of(pending: &PendingImage) -> Result<ImageSpec> {
    let r = &pending.request;
    let files = r
        .files
        .iter()
        .map(|f| {
            let contents = match &f.content {
                FileContent::Text(text) => text.clone().into_bytes(),
                FileContent::Source(source) => std::fs::read(source)
                    .with_context(|| format!("file {} of the image comes from {source}, which cannot be read (is it in the Nix store?)", f.path))?,
            };
            Ok(ImageFile { path: f.path.clone(), contents, mode: if f.executable { 0o555 } else { 0o444 } })
        })
        .collect::<Result<Vec<_>>>()?;
    let c = &r.config;
    Ok(ImageSpec {
        name: r.name.clone(),
        tag: r.tag.clone(),
        config: ImageConfig {
            entrypoint: c.entrypoint.clone(),
            cmd: c.cmd.clone(),
            env: c.env.iter().map(|e| (e.name.clone(), e.value.clone())).collect(),
            exposed_ports: c
                .exposed_ports
                .iter()
                .map(|p| (p.port, match p.protocol { Protocol::Tcp => "tcp", Protocol::Udp => "udp" }.to_owned()))
                .collect(),
            user: c.user.clone(),
            working_dir: c.working_dir.clone(),
            labels: c.labels.iter().cloned().collect(),
            volumes: c.volumes.clone(),
        },
        store_paths: r.store_paths.clone(),
        files,
        max_layers: MAX_LAYERS,
    })
}

/// Builds every pending image into `spool` and returns them as files to write.
pub fn build_all(images: &[PendingImage], spool: &Path) -> Result<Vec<OutFile>> {
    images
        .iter()
        .enumerate()
        .map(|(i, pending)| {
            let what = || format!("{}: image {}:{} ({})", pending.plugin, pending.request.name, pending.request.tag, pending.path);
            let spec = spec_of(pending).with_context(what)?;
            let dest = spool.join(format!("image-{i}.tar"));
            image::build_archive(&spec, &dest).with_context(what)?;
            Ok(OutFile { path: pending.path.clone(), contents: Contents::Spooled(dest), executable: false })
        })
        .collect()
}
