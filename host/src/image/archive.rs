//! The final archive: ONE tar that is both an OCI image layout and a
//! docker-archive, written beside `dest` and renamed into place at the end.
//! Each layer is written twice: first into a sink, hashed (the documents at
//! the head of the archive name each layer's digest and size), then
//! straight into the archive, so that the archive is the only file written:
//! reading the store twice (the second time from the page cache) costs far
//! less than writing every layer to a temp file and copying it.

use std::collections::BTreeSet;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tar::EntryType;

use super::config::{self, Descriptor, MEDIA_CONFIG, MEDIA_LAYER};
use super::layer::{self, digest_of, header, Blob, MeasuredLayers, Pass};
use super::{user, BuiltImage, ImageSpec};

/// How the sorted closure is split into store layers: one path per layer
/// while there is room, the rest merged into the last store layer, keeping
/// one of `max_layers` for the files layer.
pub(super) fn group_paths(paths: &[PathBuf], max_layers: usize) -> Vec<&[PathBuf]> {
    let store_layers = max_layers.saturating_sub(1).max(1);
    if paths.len() <= store_layers {
        paths.chunks(1).collect()
    } else {
        let (single, merged) = paths.split_at(store_layers - 1);
        single.chunks(1).chain(std::iter::once(merged)).collect()
    }
}

pub(super) fn write(spec: &ImageSpec, closure: &[PathBuf], dest: &Path, measured: &mut MeasuredLayers) -> Result<BuiltImage> {
    if std::fs::symlink_metadata(dest).is_ok() {
        bail!(
            "{} already exists: give a path that does not exist yet",
            dest.display()
        );
    }
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let work = tempfile::Builder::new()
        .prefix(".nix2dream-image-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temp directory in {}", parent.display()))?;

    let mut paths = closure.to_vec();
    paths.sort();
    paths.dedup();

    // Layers, hashed into a sink: their digests and sizes.
    let groups = group_paths(&paths, spec.max_layers);
    let mut layers: Vec<(Blob, String)> = Vec::new();
    for group in &groups {
        let blob = measured.measure(group)?;
        // Named as inside the image, whatever the source directory.
        let in_image = |p: &PathBuf| {
            format!(
                "/nix/store/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            )
        };
        let created_by = match &group[..] {
            [one] => format!("nix2dream: store path {}", in_image(one)),
            many => format!(
                "nix2dream: {} store paths, {} to {}",
                many.len(),
                in_image(&many[0]),
                in_image(&many[many.len() - 1])
            ),
        };
        layers.push((blob, created_by));
    }
    // The volumes and the working directory exist, owned by the image's user.
    let owner = user::resolve(spec.config.user.as_deref(), &spec.files).context("resolving the image's user")?;
    // (`/` itself stays root's: it is not created, and never a service's own.)
    let owned_dirs: Vec<String> = spec
        .config
        .volumes
        .iter()
        .chain(&spec.config.working_dir)
        .filter(|d| d.trim_matches('/') != "" && !spec.config.shared_dirs.contains(d))
        .cloned()
        .collect();
    let files_layer = |out: &mut dyn Write, pass| {
        layer::write_files_layer(&spec.files, &owned_dirs, &spec.config.shared_dirs, owner, out, pass).map(|(_, blob)| blob)
    };
    let files_blob = files_layer(&mut std::io::sink(), Pass::Measure).context("writing the files layer")?;
    layers.push((
        files_blob,
        format!("nix2dream: {} files, /tmp, volumes and working directory", spec.files.len()),
    ));

    // JSON documents.
    let history: Vec<(&str, String)> = layers
        .iter()
        .map(|(b, by)| (b.digest.as_str(), by.clone()))
        .collect();
    let config_json = config::image_config(spec, &history)?;
    let config_digest = digest_of(&config_json);
    let config_desc = Descriptor {
        media_type: MEDIA_CONFIG,
        digest: &config_digest,
        size: config_json.len() as u64,
        annotations: Default::default(),
    };
    let layer_descs = layers
        .iter()
        .map(|(b, _)| Descriptor {
            media_type: MEDIA_LAYER,
            digest: &b.digest,
            size: b.size,
            annotations: Default::default(),
        })
        .collect();
    let manifest_json = config::manifest(config_desc, layer_descs)?;
    let manifest_digest = digest_of(&manifest_json);
    let index_json = config::index(spec, &manifest_digest, manifest_json.len() as u64)?;
    let layer_hexes: Vec<&str> = layers.iter().map(|(b, _)| b.hex()).collect();
    let docker_json = config::docker_manifest(spec, hex(&config_digest), &layer_hexes)?;

    // The archive, beside `dest`, renamed into place when complete.
    let out =
        tempfile::NamedTempFile::new_in(work.path()).context("creating the archive's temp file")?;
    let mut tar = tar::Builder::new(BufWriter::new(out));
    add_bytes(&mut tar, "oci-layout", config::oci_layout())?;
    add_bytes(&mut tar, "index.json", &index_json)?;
    add_bytes(&mut tar, "manifest.json", &docker_json)?;
    for dir in ["blobs", "blobs/sha256"] {
        let mut h = header(EntryType::Directory, 0o755, 0);
        tar.append_data(&mut h, dir, std::io::empty())
            .with_context(|| format!("writing {dir}/ into the archive"))?;
    }
    add_bytes(
        &mut tar,
        &format!("blobs/sha256/{}", hex(&config_digest)),
        &config_json,
    )?;
    add_bytes(
        &mut tar,
        &format!("blobs/sha256/{}", hex(&manifest_digest)),
        &manifest_json,
    )?;
    // The layers themselves, in the same order, each tar entry written by
    // hand: its header (size and digest known), the layer streamed into the
    // archive, the padding to the next 512-byte block.
    let mut written = BTreeSet::new();
    for (i, (blob, _)) in layers.iter().enumerate() {
        if !written.insert(blob.digest.clone()) {
            continue; // identical layers share one blob
        }
        let mut h = header(EntryType::Regular, 0o644, blob.size);
        h.set_path(format!("blobs/sha256/{}", blob.hex())).context("naming a layer blob")?;
        h.set_cksum();
        let out: &mut dyn Write = tar.get_mut();
        out.write_all(h.as_bytes()).context("writing the archive")?;
        let again = match groups.get(i) {
            Some(group) => layer::write_store_layer(group, &mut *out, Pass::Write).map(|(_, blob)| blob),
            None => files_layer(&mut *out, Pass::Write),
        }
        .with_context(|| format!("writing layer {} into the archive", blob.digest))?;
        // The store is read-only: a layer of another size the second time
        // means a path changed under us, and the archive would not load.
        if again.size != blob.size {
            bail!("layer {} changed while the image was written (was a store path modified?): build the image again", blob.digest);
        }
        let padding = (512 - blob.size % 512) % 512;
        out.write_all(&[0u8; 512][..padding as usize]).context("writing the archive")?;
    }
    let mut buffered = tar.into_inner().context("finishing the archive")?;
    buffered.flush().context("writing the archive")?;
    let out = buffered
        .into_inner()
        .map_err(|e| e.into_error())
        .context("writing the archive")?;
    out.as_file().sync_all().context("writing the archive")?;
    let bytes = out.as_file().metadata()?.len();
    // NamedTempFile creates 0600; an image archive is not secret.
    std::fs::set_permissions(out.path(), std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("setting the mode of {}", out.path().display()))?;
    out.persist_noclobber(dest)
        .map_err(|e| e.error)
        .with_context(|| format!("moving the finished archive to {}", dest.display()))?;

    Ok(BuiltImage {
        manifest_digest,
        config_digest,
        layers: layers.len(),
        bytes,
        missing_programs: Vec::new(),
    })
}

fn add_bytes<W: Write>(tar: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> Result<()> {
    let mut h = header(EntryType::Regular, 0o644, bytes.len() as u64);
    tar.append_data(&mut h, path, bytes)
        .with_context(|| format!("writing {path} into the archive"))
}

fn hex(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}
