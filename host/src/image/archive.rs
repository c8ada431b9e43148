//! The final archive: ONE tar that is both an OCI image layout and a
//! docker-archive, holding one image or several (image requests that share
//! a path), written beside `dest` and renamed into place at the end.
//!
//! Each layer is read from the store and written once: streamed into the
//! archive behind a placeholder tar header and hashed on the way; when it
//! ends, the header is filled in (the blob's name is its digest, its size
//! is now known) by seeking back to it. A layer the archive already holds
//! (images sharing a package) is not written again, and one that turns out
//! identical to a blob already written is cut off. The documents that name
//! the digests (configs, manifests, `index.json`, `manifest.json`) follow
//! the layers: the readers (docker load, podman load, skopeo's oci-archive,
//! umoci once extracted) find entries by name, in any order.

use std::collections::{HashMap, HashSet};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tar::EntryType;
use tempfile::NamedTempFile;

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

/// One image of an archive: what to build, and its closure.
pub(super) struct Input<'a> {
    pub spec: &'a ImageSpec,
    pub closure: &'a [PathBuf],
}

/// An image's entries in `index.json` and `manifest.json`, written last.
struct Documents<'a> {
    spec: &'a ImageSpec,
    manifest_digest: String,
    manifest_size: u64,
    config_hex: String,
    layer_hexes: Vec<String>,
}

/// The archive being written: the tar, and the blobs it holds already.
struct Archive {
    tar: tar::Builder<BufWriter<NamedTempFile>>,
    /// Digests of the blobs written.
    blobs: HashSet<String>,
    /// Store layers written, by their paths: an image sharing a package
    /// with an earlier one of this archive adds nothing for it.
    store_layers: HashMap<Vec<PathBuf>, Blob>,
}

impl Archive {
    /// A blob produced by `produce`: written once, under its digest. `known`:
    /// its digest and size, measured by an earlier render or image (then it
    /// is counted, not hashed, and must have that size again).
    fn stream(&mut self, known: Option<&Blob>, produce: impl FnOnce(&mut dyn Write, Pass) -> Result<Blob>) -> Result<Blob> {
        if let Some(blob) = known.filter(|b| self.blobs.contains(&b.digest)) {
            return Ok(blob.clone());
        }
        let out = self.tar.get_mut();
        let start = out.stream_position().context("writing the archive")?;
        // The header: final when the blob is known, else a placeholder.
        let head = |blob: &Blob| -> Result<tar::Header> {
            let mut h = header(EntryType::Regular, 0o644, blob.size);
            h.set_path(format!("blobs/sha256/{}", blob.hex())).context("naming a layer blob")?;
            h.set_cksum();
            Ok(h)
        };
        match known {
            Some(blob) => out.write_all(head(blob)?.as_bytes()),
            None => out.write_all(&[0u8; 512]),
        }
        .context("writing the archive")?;
        let pass = if known.is_some() { Pass::Write } else { Pass::Measure };
        let written = produce(&mut *out, pass)?;
        let blob = match known {
            // The store is read-only: a layer of another size than measured
            // means a path changed under us, and the archive would not load.
            Some(blob) if written.size != blob.size => {
                bail!("layer {} changed since it was measured (was a store path modified?): build the image again", blob.digest)
            }
            Some(blob) => blob.clone(),
            None => written,
        };
        if known.is_none() && self.blobs.contains(&blob.digest) {
            // The same bytes as a blob already written: cut this copy off.
            out.seek(SeekFrom::Start(start)).context("writing the archive")?;
            out.get_ref().as_file().set_len(start).context("writing the archive")?;
            return Ok(blob);
        }
        let padding = (512 - blob.size % 512) % 512;
        out.write_all(&[0u8; 512][..padding as usize]).context("writing the archive")?;
        if known.is_none() {
            let end = out.stream_position().context("writing the archive")?;
            out.seek(SeekFrom::Start(start)).context("writing the archive")?;
            out.write_all(head(&blob)?.as_bytes()).context("writing the archive")?;
            out.seek(SeekFrom::Start(end)).context("writing the archive")?;
        }
        self.blobs.insert(blob.digest.clone());
        Ok(blob)
    }

    /// The layer of the store paths `group`, written unless this archive holds it.
    fn store_layer(&mut self, group: &[PathBuf], measured: &mut MeasuredLayers) -> Result<Blob> {
        if let Some(blob) = self.store_layers.get(group) {
            return Ok(blob.clone());
        }
        let known = measured.known(group);
        let blob = self
            .stream(known.as_ref(), |out, pass| layer::write_store_layer(group, out, pass).map(|(_, blob)| blob))
            .with_context(|| format!("writing the layer of {}", group[0].display()))?;
        measured.record(group, &blob);
        self.store_layers.insert(group.to_vec(), blob.clone());
        Ok(blob)
    }

    /// A small document as a blob named by its digest (once per archive).
    fn document(&mut self, bytes: &[u8]) -> Result<String> {
        let digest = digest_of(bytes);
        if self.blobs.insert(digest.clone()) {
            add_bytes(&mut self.tar, &format!("blobs/sha256/{}", hex(&digest)), bytes)?;
        }
        Ok(digest)
    }
}

/// Writes `images` into one new archive at `dest`; returns what each became.
pub(super) fn write(images: &[Input], dest: &Path, measured: &mut MeasuredLayers) -> Result<Vec<BuiltImage>> {
    if std::fs::symlink_metadata(dest).is_ok() {
        bail!("{} already exists: give a path that does not exist yet", dest.display());
    }
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let out = tempfile::Builder::new()
        .prefix(".nix2dream-image-")
        .tempfile_in(parent)
        .with_context(|| format!("creating the archive's temp file in {}", parent.display()))?;
    let mut archive = Archive {
        tar: tar::Builder::new(BufWriter::with_capacity(1 << 20, out)),
        blobs: HashSet::new(),
        store_layers: HashMap::new(),
    };
    for dir in ["blobs", "blobs/sha256"] {
        let mut h = header(EntryType::Directory, 0o755, 0);
        archive.tar.append_data(&mut h, dir, std::io::empty()).with_context(|| format!("writing {dir}/ into the archive"))?;
    }

    let mut documents = Vec::new();
    let mut built = Vec::new();
    for image in images {
        let result = write_image(&mut archive, image, measured);
        // (The caller names the archive's images; of several, say which.)
        let (docs, image_built) = if images.len() > 1 { result.with_context(|| format!("image {}", image.spec.reference()))? } else { result? };
        documents.push(docs);
        built.push(image_built);
    }

    let index: Vec<(&ImageSpec, &str, u64)> = documents.iter().map(|d| (d.spec, d.manifest_digest.as_str(), d.manifest_size)).collect();
    let docker: Vec<(&ImageSpec, &str, &[String])> = documents.iter().map(|d| (d.spec, d.config_hex.as_str(), d.layer_hexes.as_slice())).collect();
    add_bytes(&mut archive.tar, "oci-layout", config::oci_layout())?;
    add_bytes(&mut archive.tar, "index.json", &config::index(&index)?)?;
    add_bytes(&mut archive.tar, "manifest.json", &config::docker_manifest(&docker)?)?;

    let buffered = archive.tar.into_inner().context("finishing the archive")?;
    let out = buffered.into_inner().map_err(|e| e.into_error()).context("writing the archive")?;
    out.as_file().sync_all().context("writing the archive")?;
    let bytes = out.as_file().metadata()?.len();
    // NamedTempFile creates 0600; an image archive is not secret.
    std::fs::set_permissions(out.path(), std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("setting the mode of {}", out.path().display()))?;
    out.persist_noclobber(dest)
        .map_err(|e| e.error)
        .with_context(|| format!("moving the finished archive to {}", dest.display()))?;
    Ok(built.into_iter().map(|b| BuiltImage { bytes, ..b }).collect())
}

/// One image's layers and documents into `archive` (its `bytes` left at 0).
fn write_image<'a>(archive: &mut Archive, image: &Input<'a>, measured: &mut MeasuredLayers) -> Result<(Documents<'a>, BuiltImage)> {
    let spec = image.spec;
    let mut paths = image.closure.to_vec();
    paths.sort();
    paths.dedup();

    let mut layers: Vec<(Blob, String)> = Vec::new();
    for group in group_paths(&paths, spec.max_layers) {
        let blob = archive.store_layer(group, measured)?;
        // Named as inside the image, whatever the source directory.
        let in_image = |p: &PathBuf| format!("/nix/store/{}", p.file_name().unwrap_or_default().to_string_lossy());
        let created_by = match group {
            [one] => format!("nix2dream: store path {}", in_image(one)),
            many => format!("nix2dream: {} store paths, {} to {}", many.len(), in_image(&many[0]), in_image(&many[many.len() - 1])),
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
        .filter(|d| !d.trim_matches('/').is_empty() && !spec.config.shared_dirs.contains(d))
        .cloned()
        .collect();
    let files_blob = archive
        .stream(None, |out, pass| {
            layer::write_files_layer(&spec.files, &owned_dirs, &spec.config.shared_dirs, owner, out, pass).map(|(_, blob)| blob)
        })
        .context("writing the files layer")?;
    layers.push((files_blob, format!("nix2dream: {} files, /tmp, volumes and working directory", spec.files.len())));

    let history: Vec<(&str, String)> = layers.iter().map(|(b, by)| (b.digest.as_str(), by.clone())).collect();
    let config_json = config::image_config(spec, &history)?;
    let config_digest = archive.document(&config_json)?;
    let config_desc = Descriptor { media_type: MEDIA_CONFIG, digest: &config_digest, size: config_json.len() as u64, annotations: Default::default() };
    let layer_descs = layers
        .iter()
        .map(|(b, _)| Descriptor { media_type: MEDIA_LAYER, digest: &b.digest, size: b.size, annotations: Default::default() })
        .collect();
    let manifest_json = config::manifest(config_desc, layer_descs)?;
    let manifest_digest = archive.document(&manifest_json)?;
    let documents = Documents {
        spec,
        manifest_digest: manifest_digest.clone(),
        manifest_size: manifest_json.len() as u64,
        config_hex: hex(&config_digest).to_owned(),
        layer_hexes: layers.iter().map(|(b, _)| b.hex().to_owned()).collect(),
    };
    let built = BuiltImage { manifest_digest, config_digest, layers: layers.len(), bytes: 0, missing_programs: Vec::new() };
    Ok((documents, built))
}

fn add_bytes<W: Write>(tar: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> Result<()> {
    let mut h = header(EntryType::Regular, 0o644, bytes.len() as u64);
    tar.append_data(&mut h, path, bytes).with_context(|| format!("writing {path} into the archive"))
}

fn hex(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}
