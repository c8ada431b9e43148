//! Reproducible OCI images from a Nix closure, without nixpkgs and without a
//! container daemon (like nixpkgs' dockerTools or nix2container).
//!
//! A plugin cannot read the Nix store, so a docker/compose plugin returns an
//! *image request*; the host turns it into an [`ImageSpec`] and calls
//! [`build_archive`]. The result is ONE tar archive that is at the same time
//!
//! - an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`), read
//!   by `skopeo copy oci-archive:FILE …` and, once extracted, by `umoci`; and
//! - a docker-archive (`manifest.json` pointing at the same blobs), read by
//!   `docker load -i FILE` (Docker 20.10 loads no pure OCI archives) and
//!   `podman load -i FILE`.
//!
//! Files, one responsibility each: [`closure`](closure()) (`nix-store -qR`),
//! `layer` (a reproducible tar of store paths or of extra files, hashed while
//! written into the archive), `user` (who owns the volumes and working
//! directory), `config` (the OCI JSON documents), `archive` (the final tar,
//! of one image or of several sharing their layers), `learned` (what earlier
//! renders found out about store paths, kept by `layer` and `closure`),
//! `programs` (whether what the image starts is in it).
//! See `docs/images.md`.

mod archive;
mod closure;
mod config;
mod layer;
mod learned;
mod programs;
mod user;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

pub use closure::{closure, KnownClosures, StoreGraph};
pub use layer::MeasuredLayers;
pub(crate) use layer::image_relative_path;

/// What to build: an image request from a plugin, resolved by the host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ImageSpec {
    /// Repository name, e.g. `demo-web` (lowercase, as Docker requires).
    pub name: String,
    /// Tag, e.g. `latest` or a content hash.
    pub tag: String,
    pub config: ImageConfig,
    /// Closure roots: absolute `/nix/store/...` paths; may be empty.
    pub store_paths: Vec<String>,
    /// Extra files baked into the final layer.
    pub files: Vec<ImageFile>,
    /// At most this many layers (2..=125): one per store path, the paths
    /// beyond `max_layers - 2` merged into the last store layer, and the
    /// final layer for `files`.
    pub max_layers: usize,
}

/// The runtime configuration of the image (the OCI image config's `config`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// Kept in the given order, written as `K=V`.
    pub env: Vec<(String, String)>,
    /// `(port, "tcp" | "udp")`.
    pub exposed_ports: Vec<(u16, String)>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub volumes: Vec<String>,
    /// `StopSignal`, e.g. "SIGINT"; none: the runtime's default (SIGTERM).
    pub stop_signal: Option<String>,
    /// Created mode 1777, owned by root (not in the OCI config): mount
    /// points of volumes that services running as other users write too.
    pub shared_dirs: Vec<String>,
}

/// A file baked into the image's final layer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageFile {
    /// Absolute path inside the image, e.g. `/srv/index.html`.
    pub path: String,
    pub contents: Vec<u8>,
    /// Permission bits, e.g. `0o644` or `0o755`.
    pub mode: u32,
    /// Owned by the group the image runs as (instead of root's): for files
    /// only the service may read, with a mode such as `0o440`.
    pub private: bool,
}

/// What [`build_archive`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// `sha256:…` of the OCI manifest.
    pub manifest_digest: String,
    /// `sha256:…` of the image config; Docker shows it as the image ID.
    pub config_digest: String,
    /// Number of layers (store layers + the files layer).
    pub layers: usize,
    /// Size of the archive in bytes.
    pub bytes: u64,
    /// Programs the image would start that are not in it (Entrypoint, Cmd),
    /// one sentence each: a warning for the user.
    pub missing_programs: Vec<String>,
}

/// Most layers an image may have: overlayfs stacks at most ~128 lower
/// directories, and dockerTools caps `maxLayers` at 125 for the same reason.
pub const MAX_LAYERS_LIMIT: usize = 125;

/// Writes the image as ONE tar archive at `dest` (which must not exist yet)
/// that is both an OCI image layout and a docker-archive; the layers come from
/// the runtime closure of `spec.store_paths` (see [`closure()`]).
pub fn build_archive(spec: &ImageSpec, dest: &Path) -> Result<BuiltImage> {
    build_archive_in(spec, None, dest)
}

/// [`build_archive`], the closure walked in `graph` (a render's one query
/// for all its images) when it holds every root.
pub fn build_archive_in(spec: &ImageSpec, graph: Option<&StoreGraph>, dest: &Path) -> Result<BuiltImage> {
    validate(spec)?;
    let paths = closure_of(spec, graph)?;
    build_archive_from(spec, &paths, dest)
}

/// The closure an image of `spec` holds: walked in `graph` when it holds
/// every root, else asked of `nix-store`.
pub fn closure_of(spec: &ImageSpec, graph: Option<&StoreGraph>) -> Result<Vec<PathBuf>> {
    if spec.store_paths.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(paths) = graph.and_then(|g| g.closure(&spec.store_paths)) {
        return Ok(paths);
    }
    closure(&spec.store_paths).with_context(|| format!("building image {}", spec.reference()))
}

/// The archive's format: changing how archives are written changes it, so
/// that no archive of an older format is kept by a later render.
const ARCHIVE_FORMAT: &str = "nix2dream-image-archive-v3";

/// A key for the archive [`build_shared_archive`] writes for `images` (each
/// image's spec and closure): the same key, the same bytes (store paths
/// never change, and everything else the archive is made of is in the specs).
pub fn archive_key(images: &[(&ImageSpec, &[PathBuf])]) -> String {
    use sha2::Digest;
    use std::hash::{Hash, Hasher};
    /// std's `Hash` fed into SHA-256 (deterministic: no random state).
    struct Sha(sha2::Sha256);
    impl Hasher for Sha {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            0
        }
    }
    let mut hasher = Sha(sha2::Sha256::new());
    ARCHIVE_FORMAT.hash(&mut hasher);
    images.hash(&mut hasher);
    format!("sha256:{:x}", hasher.0.finalize())
}

/// The programs an image of `spec` would start that `closure` lacks.
pub fn missing_programs(spec: &ImageSpec, closure: &[PathBuf]) -> Vec<String> {
    programs::missing(spec, closure)
}

/// [`build_archive`] with the closure given: each path (a directory, file or
/// symlink) appears in the image as `/nix/store/<its file name>`. Unit tests
/// pass plain directories that stand in for store paths.
pub(crate) fn build_archive_from(spec: &ImageSpec, closure: &[PathBuf], dest: &Path) -> Result<BuiltImage> {
    build_archive_measured(spec, closure, dest, &mut MeasuredLayers::default())
}

/// [`build_archive_from`], with the layers already measured in this render
/// (images sharing a package hash its layer once).
pub fn build_archive_measured(spec: &ImageSpec, closure: &[PathBuf], dest: &Path, measured: &mut MeasuredLayers) -> Result<BuiltImage> {
    let built = build_shared_archive(&[(spec, closure)], dest, measured)?;
    Ok(built.into_iter().next().expect("one image in, one out"))
}

/// Several images (each with its closure) in ONE archive at `dest`: each
/// layer they share is in it once, and `docker load` / `podman load` load
/// them all. Returns what each image became, in the order given.
pub fn build_shared_archive(images: &[(&ImageSpec, &[PathBuf])], dest: &Path, measured: &mut MeasuredLayers) -> Result<Vec<BuiltImage>> {
    for (spec, _) in images {
        validate(spec)?;
    }
    let inputs: Vec<archive::Input> = images.iter().map(|&(spec, closure)| archive::Input { spec, closure }).collect();
    let names = || images.iter().map(|(s, _)| s.reference()).collect::<Vec<_>>().join(", ");
    let built = archive::write(&inputs, dest, measured).with_context(|| format!("building image {} at {}", names(), dest.display()))?;
    Ok(built
        .into_iter()
        .zip(images)
        .map(|(b, (spec, closure))| BuiltImage { missing_programs: programs::missing(spec, closure), ..b })
        .collect())
}

impl ImageSpec {
    /// `name:tag`, as in Docker's `RepoTags`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }
}

/// Checks what Docker, the OCI spec or the layering would refuse later, with
/// an error that names the image and the offending value.
fn validate(spec: &ImageSpec) -> Result<()> {
    let image = spec.reference();
    if !valid_name(&spec.name) {
        bail!(
            "image {image}: invalid name {:?}: use lowercase letters, digits and `.`, `_`, `-` separators, \
             optionally in `/`-separated components (e.g. `demo-web`)",
            spec.name
        );
    }
    if !valid_tag(&spec.tag) {
        bail!(
            "image {image}: invalid tag {:?}: use 1 to 128 characters from `A-Za-z0-9_.-`, not starting with `.` or `-`",
            spec.tag
        );
    }
    if !(2..=MAX_LAYERS_LIMIT).contains(&spec.max_layers) {
        bail!(
            "image {image}: max_layers is {}, it must be between 2 (one store layer and the files layer) and {MAX_LAYERS_LIMIT}",
            spec.max_layers
        );
    }
    for root in &spec.store_paths {
        if !root.starts_with('/') {
            bail!("image {image}: store path {root:?} is not absolute: give a /nix/store/... path");
        }
    }
    for (key, _) in &spec.config.env {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            bail!("image {image}: invalid environment variable name {key:?}");
        }
    }
    for (port, proto) in &spec.config.exposed_ports {
        if *port == 0 || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
            bail!("image {image}: invalid exposed port {port}/{proto}: use a port 1-65535 with tcp, udp or sctp");
        }
    }
    for file in &spec.files {
        layer::image_relative_path(&file.path)
            .with_context(|| format!("image {image}: file {:?}", file.path))?;
        if file.mode & !0o7777 != 0 {
            bail!(
                "image {image}: file {}: mode {:o} has bits beyond 0o7777",
                file.path,
                file.mode
            );
        }
    }
    Ok(())
}

/// Docker's reference grammar for a repository path (lowercase components).
fn valid_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    name.split('/').all(|component| {
        let bytes = component.as_bytes();
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        !bytes.is_empty()
            && alnum(&bytes[0])
            && alnum(&bytes[bytes.len() - 1])
            && bytes
                .iter()
                .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
            && !component.contains("..")
    })
}

fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}
