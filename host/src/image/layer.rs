//! Reproducible layer tars, written straight into the archive (see
//! `archive.rs`) and hashed on the way, or only counted when their digest
//! was measured before: no temp copy of a layer, one read of the store.
//!
//! Every entry has mtime 1 (as in the Nix store), uid/gid 0 (except the
//! directories the service writes to), no user or group names, and a
//! normalised mode; directories are walked in byte order of their entry
//! names, so the same contents always give the same bytes.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use super::learned::Learned;
use super::user::Owner;
use super::ImageFile;

/// Modification time of every entry: 1, like the Nix store.
pub(super) const MTIME: u64 = 1;

/// Files are read this much at a time (`io::copy` alone reads 8 KiB).
const FILE_BUFFER: usize = 256 << 10;

/// The digests and sizes of store layers already measured, so that images
/// sharing a package hash its layer once per render, and a later render
/// into the same output directory not at all (store paths never change).
/// (Images in one archive share the layer itself, see `archive.rs`.)
/// Saved in the output's `.nix2dream/layers.json` (`output/kept.rs`): who
/// can change it can change the archives beside it anyway, and a wrong
/// entry only makes an archive that fails to load, never one holding
/// other files. `used` keeps the saved list to what the last render used.
/// The user's cache keeps a record of the most recently used ones too,
/// for renders into other directories, sealed with the cache's key
/// (`plugin::engine::Cache::write_record`).
#[derive(Debug, Default)]
pub struct MeasuredLayers(Learned<Vec<PathBuf>, Blob>);

/// One measured layer, as saved.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedLayer {
    format: String,
    paths: Vec<PathBuf>,
    digest: String,
    size: u64,
}

/// Changing how layers are written changes this: older measures are not used.
const LAYER_FORMAT: &str = "nix2dream-layer-v1";

impl MeasuredLayers {
    /// The digest and size of the layer of `paths`, when measured before.
    pub(super) fn known(&mut self, paths: &[PathBuf]) -> Option<Blob> {
        self.0.get(paths)
    }

    /// Records the layer of `paths`, just measured.
    pub(super) fn record(&mut self, paths: &[PathBuf], blob: &Blob) {
        self.0.record(paths, blob.clone());
    }

    /// Reads what [`MeasuredLayers::to_json`] wrote; anything unreadable is ignored.
    pub fn from_json(bytes: &[u8]) -> MeasuredLayers {
        let mut layers = MeasuredLayers::default();
        layers.add_json(bytes);
        layers
    }

    /// Adds the layers of another record (what [`MeasuredLayers::to_json`]
    /// or [`MeasuredLayers::to_json_with`] wrote) to those known.
    pub fn add_json(&mut self, bytes: &[u8]) {
        self.0.add(read_saved(bytes));
    }

    /// The layers this render used, then those of `previous` (a record) it
    /// did not, at most `limit` in all: a record shared by every render,
    /// the most recently used first, bounded.
    pub fn to_json_with(&self, previous: &[u8], limit: usize) -> Vec<u8> {
        let used = self.0.used();
        let older = read_saved(previous).into_iter().filter(|(paths, _)| !used.contains_key(paths));
        let layers: Vec<(Vec<PathBuf>, Blob)> = used.iter().map(|(p, b)| (p.clone(), b.clone())).chain(older).take(limit).collect();
        save(layers.iter().map(|(p, b)| (p, b)))
    }

    /// The layers this render used, to save.
    pub fn to_json(&self) -> Vec<u8> {
        save(self.0.used().iter())
    }
}

/// The layers of a record, in its order; anything unreadable is ignored.
fn read_saved(bytes: &[u8]) -> Vec<(Vec<PathBuf>, Blob)> {
    let saved: Vec<SavedLayer> = serde_json::from_slice(bytes).unwrap_or_default();
    saved
        .into_iter()
        .filter(|l| l.format == LAYER_FORMAT && l.digest.starts_with("sha256:"))
        .map(|l| (l.paths, Blob { digest: l.digest, size: l.size }))
        .collect()
}

fn save<'a>(layers: impl Iterator<Item = (&'a Vec<PathBuf>, &'a Blob)>) -> Vec<u8> {
    let saved: Vec<SavedLayer> = layers
        .map(|(paths, blob)| SavedLayer { format: LAYER_FORMAT.into(), paths: paths.clone(), digest: blob.digest.clone(), size: blob.size })
        .collect();
    serde_json::to_vec(&saved).unwrap_or_default()
}

/// A layer's digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Blob {
    /// `sha256:<hex>`.
    pub digest: String,
    pub size: u64,
}

impl Blob {
    /// The hex part of the digest (the file name under `blobs/sha256/`).
    pub fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }
}

/// `sha256:<hex>` of some bytes.
pub(super) fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// Counts what goes through it, and hashes it unless told not to.
pub(super) struct HashingWriter<W> {
    inner: W,
    hasher: Option<Sha256>,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Some(Sha256::new()),
            written: 0,
        }
    }

    /// Counting only (the digest is known already).
    pub fn counting(inner: W) -> Self {
        HashingWriter { inner, hasher: None, written: 0 }
    }

    /// The inner writer, `sha256:<hex>` (empty when only counting) and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (
            self.inner,
            self.hasher.map(|h| format!("sha256:{:x}", h.finalize())).unwrap_or_default(),
            self.written,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that yields exactly `len` bytes, failing if the source is shorter
/// (a file that shrank while being archived would otherwise corrupt the tar).
pub(super) struct Exact<R> {
    inner: io::Take<R>,
    remaining: u64,
}

impl<R: Read> Exact<R> {
    pub fn new(inner: R, len: u64) -> Self {
        Exact {
            inner: inner.take(len),
            remaining: len,
        }
    }
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.remaining > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while being archived",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// A header with the fixed metadata of every entry.
pub(super) fn header(kind: EntryType, mode: u32, size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(MTIME);
    header.set_size(size);
    header
}

/// How a layer is written into the archive: hashed as it goes (`Measure`:
/// its digest is not known yet), or counted only (`Write`: its digest was
/// measured by an earlier image or render, and only its size is checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pass {
    Measure,
    Write,
}

/// One layer tar being written, counted, and hashed when measured.
pub(super) struct LayerWriter<W: Write> {
    builder: tar::Builder<HashingWriter<W>>,
    store_dirs_written: bool,
}

impl<W: Write> LayerWriter<W> {
    pub fn new(out: W, pass: Pass) -> Self {
        let counted = match pass {
            Pass::Measure => HashingWriter::new(out),
            Pass::Write => HashingWriter::counting(out),
        };
        let mut builder = tar::Builder::new(counted);
        builder.mode(tar::HeaderMode::Deterministic);
        LayerWriter { builder, store_dirs_written: false }
    }

    fn dir(&mut self, image_path: &Path, mode: u32, owner: Owner) -> io::Result<()> {
        let mut header = header(EntryType::Directory, mode, 0);
        header.set_uid(owner.uid);
        header.set_gid(owner.gid);
        self.builder
            .append_data(&mut header, image_path, io::empty())
    }

    /// Adds a store path (directory, file or symlink) as `nix/store/<name>`,
    /// preceded by the `nix/` and `nix/store/` directories.
    pub fn add_store_path(&mut self, source: &Path) -> Result<()> {
        let name = source
            .file_name()
            .with_context(|| format!("store path {} has no file name", source.display()))?;
        if !self.store_dirs_written {
            self.dir(Path::new("nix"), 0o555, Owner::ROOT)?;
            self.dir(Path::new("nix/store"), 0o555, Owner::ROOT)?;
            self.store_dirs_written = true;
        }
        let image_path = Path::new("nix/store").join(name);
        self.add_tree(source, &image_path)
            .with_context(|| format!("adding store path {} to a layer", source.display()))
    }

    /// Adds `source` as `image_path`, recursing into directories in sorted
    /// order. Symlinks stay symlinks; files are 0o555 if any exec bit is set,
    /// else 0o444; directories 0o555 (as in the Nix store).
    fn add_tree(&mut self, source: &Path, image_path: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(source)
            .with_context(|| format!("reading {}", source.display()))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = std::fs::read_link(source)
                .with_context(|| format!("reading symlink {}", source.display()))?;
            let mut header = header(EntryType::Symlink, 0o777, 0);
            self.builder
                .append_link(&mut header, image_path, &target)
                .with_context(|| format!("archiving symlink {}", source.display()))?;
        } else if kind.is_dir() {
            self.dir(image_path, 0o555, Owner::ROOT)
                .with_context(|| format!("archiving directory {}", source.display()))?;
            let mut names = Vec::new();
            for entry in std::fs::read_dir(source)
                .with_context(|| format!("listing {}", source.display()))?
            {
                names.push(
                    entry
                        .with_context(|| format!("listing {}", source.display()))?
                        .file_name(),
                );
            }
            names.sort();
            for name in names {
                self.add_tree(&source.join(&name), &image_path.join(&name))?;
            }
        } else if kind.is_file() {
            let file =
                File::open(source).with_context(|| format!("opening {}", source.display()))?;
            let len = file
                .metadata()
                .with_context(|| format!("reading {}", source.display()))?
                .len();
            let mode = if meta.permissions().mode() & 0o111 != 0 {
                0o555
            } else {
                0o444
            };
            let mut header = header(EntryType::Regular, mode, len);
            self.builder
                .append_data(&mut header, image_path, Exact::new(io::BufReader::with_capacity(FILE_BUFFER.min(len as usize).max(1), file), len))
                .with_context(|| format!("archiving file {}", source.display()))?;
        } else {
            bail!(
                "{} is neither a file, a directory nor a symlink (a socket, fifo or device): \
                 images hold only those three",
                source.display()
            );
        }
        Ok(())
    }

    /// Ends the tar; returns the writer and the layer's digest (empty when
    /// written) and size.
    pub fn finish(self) -> Result<(W, Blob)> {
        let hashing = self.builder.into_inner().context("writing a layer")?;
        let (out, digest, size) = hashing.finish();
        Ok((out, Blob { digest, size }))
    }
}

/// A layer of store paths, each as `nix/store/<name>`, written to `out`.
pub(super) fn write_store_layer<W: Write>(paths: &[PathBuf], out: W, pass: Pass) -> Result<(W, Blob)> {
    let mut writer = LayerWriter::new(out, pass);
    for path in paths {
        writer.add_store_path(path)?;
    }
    writer.finish()
}

/// `/a/b/c` → `a/b/c`, refusing relative paths, `.`/`..`, empty components
/// and the root itself.
pub(crate) fn image_relative_path(path: &str) -> Result<String> {
    let Some(rest) = path.strip_prefix('/') else {
        bail!("the path inside the image must be absolute (start with `/`)");
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        bail!("the path inside the image must name a file, not `/`");
    }
    for component in rest.split('/') {
        if component.is_empty() || component == "." || component == ".." || component.contains('\0')
        {
            bail!("the path inside the image must not contain empty, `.` or `..` components or NUL bytes");
        }
    }
    Ok(rest.to_owned())
}

/// The final layer: `files` with their parent directories (0o755, root),
/// `tmp/` (0o1777), `owned_dirs` (0o755, owned by `owner`: the volumes
/// and working directory the service must be able to write) and
/// `shared_dirs` (0o1777, root's: volumes other services' users write too).
/// Files are root's; a private one's group is `owner`'s, so that only the
/// service reads it.
pub(super) fn write_files_layer<W: Write>(
    files: &[ImageFile],
    owned_dirs: &[String],
    shared_dirs: &[String],
    owner: Owner,
    out: W,
    pass: Pass,
) -> Result<(W, Blob)> {
    enum Item<'a> {
        Dir(u32, Owner),
        File(&'a ImageFile),
    }
    /// Adds the parents of `rel` as root directories, refusing a file among them.
    fn add_parents(items: &mut BTreeMap<String, Item>, rel: &str, what: &str) -> Result<()> {
        let mut parent = String::new();
        let components: Vec<&str> = rel.split('/').collect();
        for component in &components[..components.len() - 1] {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(component);
            match items.get(&parent) {
                Some(Item::File(other)) => bail!("{what} is inside {}, which is also a file of the image", other.path),
                Some(Item::Dir(..)) => {}
                None => {
                    items.insert(parent.clone(), Item::Dir(0o755, Owner::ROOT));
                }
            }
        }
        Ok(())
    }
    let mut items: BTreeMap<String, Item> = BTreeMap::new();
    items.insert("tmp".to_owned(), Item::Dir(0o1777, Owner::ROOT));
    for file in files {
        let rel =
            image_relative_path(&file.path).with_context(|| format!("file {:?}", file.path))?;
        add_parents(&mut items, &rel, &format!("file {}", file.path))?;
        match items.get(&rel) {
            Some(Item::File(_)) => bail!("file {} is given twice", file.path),
            Some(Item::Dir(..)) => bail!("file {} is also a directory of the image", file.path),
            None => {
                items.insert(rel, Item::File(file));
            }
        }
    }
    let dirs = owned_dirs.iter().map(|d| (d, 0o755, owner)).chain(shared_dirs.iter().map(|d| (d, 0o1777, Owner::ROOT)));
    for (dir, mode, dir_owner) in dirs {
        let rel = image_relative_path(dir).with_context(|| format!("directory {dir:?}"))?;
        add_parents(&mut items, &rel, &format!("directory {dir}"))?;
        if let Some(Item::File(_)) = items.get(&rel) {
            bail!("{dir} is a file of the image, and also a volume or the working directory");
        }
        items.insert(rel, Item::Dir(mode, dir_owner));
    }
    let mut layer = LayerWriter::new(out, pass);
    for (path, item) in items {
        match item {
            Item::Dir(mode, owner) => layer
                .dir(Path::new(&path), mode, owner)
                .with_context(|| format!("archiving directory /{path}"))?,
            Item::File(file) => {
                let mut header = header(EntryType::Regular, file.mode, file.contents.len() as u64);
                if file.private {
                    header.set_gid(owner.gid);
                }
                layer
                    .builder
                    .append_data(&mut header, &path, file.contents.as_slice())
                    .with_context(|| format!("archiving file {}", file.path))?;
            }
        }
    }
    layer.finish()
}
