//! What a render may reuse from the last one into the same directory:
//! image archives it keeps instead of writing them again (below), the
//! digests of store layers (`layers.json`, see `image::MeasuredLayers`) and
//! the closures of the images' roots (`closures.json`, `image::KnownClosures`).
//!
//! Kept files: image archives
//! whose key (a hash of everything they are made of) is unchanged, and whose
//! file is still the one the last render wrote. `.nix2dream/kept.json`
//! records, per path, the key and the file's identity (device, inode, size,
//! change time: a rewrite, even one that restores the modification time,
//! changes the change time). It is written after the switch: lost or stale,
//! it only costs building an image again.

use super::nofollow::{self, Kind};
use super::state::OutputDir;
use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

const KEPT: &str = "kept.json";
const LAYERS: &str = "layers.json";
const CLOSURES: &str = "closures.json";

/// What the last render wrote at a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub key: String,
    dev: u64,
    ino: u64,
    size: u64,
    ctime: (i64, i64),
}

impl OutputDir {
    /// Path → key of the files the last render recorded that are still as
    /// it left them.
    pub fn unchanged_files(&mut self) -> BTreeMap<String, String> {
        let records = self.kept_records();
        records
            .into_iter()
            .filter(|(path, record)| self.record_of(path, &record.key).as_ref() == Some(record))
            .map(|(path, record)| (path, record.key))
            .collect()
    }

    fn kept_records(&mut self) -> BTreeMap<String, FileRecord> {
        let Ok(file) = nofollow::open_file(&self.state, KEPT) else { return BTreeMap::new() };
        serde_json::from_reader(std::io::BufReader::new(file)).unwrap_or_default()
    }

    /// The file at `path` as it is now, recorded with `key`.
    pub(super) fn record_of(&mut self, path: &str, key: &str) -> Option<FileRecord> {
        if self.tree.kind(Path::new(path)).ok()? != Kind::File {
            return None;
        }
        let (dir, name) = self.tree.parent(Path::new(path)).ok()?;
        let stat = rfs::statat(&*dir, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
        Some(FileRecord {
            key: key.to_owned(),
            dev: stat.st_dev,
            ino: stat.st_ino,
            size: stat.st_size as u64,
            ctime: (stat.st_ctime, stat.st_ctime_nsec as i64),
        })
    }

    /// Records what this render wrote or kept (best effort: see the module
    /// comment); none: no record.
    pub(super) fn save_kept(&mut self, keyed: &[(&str, &str)]) {
        let records: BTreeMap<&str, FileRecord> =
            keyed.iter().filter_map(|(path, key)| Some((*path, self.record_of(path, key)?))).collect();
        let bytes = serde_json::to_vec(&records).unwrap_or_default();
        self.save_state_file(KEPT, (!records.is_empty()).then_some(&bytes[..]));
    }

    /// The layers measured by earlier renders into this directory
    /// (`image::MeasuredLayers`: trusted like the archives beside them).
    pub fn measured_layers(&mut self) -> crate::image::MeasuredLayers {
        crate::image::MeasuredLayers::from_json(&self.read_state_file(LAYERS))
    }

    /// Keeps the layers this render used for the next one (best effort).
    pub fn save_measured_layers(&mut self, layers: &crate::image::MeasuredLayers) {
        let bytes = layers.to_json();
        self.save_state_file(LAYERS, (bytes != b"[]").then_some(&bytes[..]));
    }

    /// The closures earlier renders into this directory found (trusted
    /// like the archives beside them).
    pub fn known_closures(&mut self) -> crate::image::KnownClosures {
        crate::image::KnownClosures::from_json(&self.read_state_file(CLOSURES))
    }

    /// Keeps the closures this render used for the next one (best effort).
    pub fn save_known_closures(&mut self, closures: &crate::image::KnownClosures) {
        let bytes = closures.to_json();
        self.save_state_file(CLOSURES, (bytes != b"[]").then_some(&bytes[..]));
    }

    /// `name` in the state folder, or nothing.
    fn read_state_file(&mut self, name: &str) -> Vec<u8> {
        let mut bytes = Vec::new();
        if let Ok(mut file) = nofollow::open_file(&self.state, name) {
            let _ = std::io::Read::read_to_end(&mut file, &mut bytes);
        }
        bytes
    }

    /// Replaces `name` in the state folder with `bytes` (None: removes it),
    /// through a temp file in the stage folder, which the next run empties
    /// if this one dies. Best effort: these files only save work.
    fn save_state_file(&mut self, name: &str, bytes: Option<&[u8]>) {
        let Some(bytes) = bytes else {
            let _ = rfs::unlinkat(&self.state, name, AtFlags::empty());
            return;
        };
        let Ok(stage) = self.stage_dir() else { return };
        let tmp = format!("{name}.tmp");
        let written = (|| -> std::io::Result<()> {
            let fd = rfs::openat(&stage, tmp.as_str(), OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::from_raw_mode(0o644))?;
            let mut file = std::fs::File::from(fd);
            file.write_all(bytes)?;
            file.sync_all()?;
            rfs::renameat(&stage, tmp.as_str(), &self.state, name)?;
            Ok(())
        })();
        if written.is_err() {
            let _ = rfs::unlinkat(&stage, tmp.as_str(), AtFlags::empty());
        }
    }
}
