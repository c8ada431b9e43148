//! Writing a render: everything is checked first (paths, clashes, files in
//! the way), then staged inside `.nix2dream/stage/` under short names, then
//! switched in by the journal (`journal.rs`). Files the host did not write
//! (not in the manifest) are never overwritten or deleted.

use super::journal::{Op, STAGE};
use super::nofollow::{self, Kind};
use super::state::{OutputDir, MANIFEST};
use super::{fault, paths, OutFile};
use crate::text::printable;
use anyhow::{anyhow, bail, Context, Result};
use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// What a write changed.
#[derive(Debug, Default)]
pub struct Written {
    pub written: Vec<String>,
    pub removed: Vec<String>,
}

/// At most this many problems are listed in one error (then a count).
const MAX_LISTED: usize = 20;

fn listed(problems: &[String]) -> String {
    let mut text = problems.iter().take(MAX_LISTED).map(|p| printable(p)).collect::<Vec<_>>().join("; ");
    if problems.len() > MAX_LISTED {
        text += &format!("; and {} more", problems.len() - MAX_LISTED);
    }
    text
}

/// Paths refused before anything is looked at on disk: not allowed, given
/// twice, or a file that another artifact needs as a directory.
fn check_paths(files: &[OutFile]) -> Result<()> {
    let mut seen = HashSet::new();
    let mut problems = Vec::new();
    for file in files {
        if let Err(e) = paths::checked(&file.path) {
            problems.push(format!("{}: {e}", file.origin));
        } else if !seen.insert(file.path.as_str()) {
            problems.push(format!("two artifacts are named {:?} ({})", file.path, file.origin));
        }
    }
    for file in files {
        for ancestor in Path::new(&file.path).ancestors().skip(1) {
            if let Some(dir) = ancestor.to_str().filter(|a| seen.contains(a)) {
                problems.push(format!("{dir:?} is rendered as a file and as the directory holding {:?} ({})", file.path, file.origin));
            }
        }
    }
    if !problems.is_empty() {
        bail!("the render's paths are refused, nothing was written: {}", listed(&problems));
    }
    Ok(())
}

/// Where each file goes: its previous state decides whether it needs a backup.
struct Target<'a> {
    file: &'a OutFile,
    existed: bool,
}

impl OutputDir {
    /// Writes `files` (see the module comment). `force` allows overwriting
    /// files the host did not write.
    pub fn write_all(&mut self, files: &[OutFile], force: bool) -> Result<Written> {
        check_paths(files)?;
        let previous = self.manifest()?;
        let current: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
        let stale: Vec<&String> = previous.difference(&current).filter(|p| paths::checked(p).is_ok()).collect();
        let stale_set: HashSet<&str> = stale.iter().map(|s| s.as_str()).collect();

        // What is on disk, refusing before anything changes.
        let mut conflicts = Vec::new();
        let mut dirs_to_create = BTreeSet::new();
        let mut kinds: HashMap<PathBuf, Kind> = HashMap::new();
        let mut targets = Vec::new();
        for file in files {
            let path = Path::new(&file.path);
            let mut blocked = None;
            // From the top down: below a directory still to be created, nothing exists.
            let mut creating = false;
            let ancestors: Vec<&Path> = path.ancestors().skip(1).filter(|a| !a.as_os_str().is_empty()).collect();
            for ancestor in ancestors.into_iter().rev() {
                if creating {
                    dirs_to_create.insert(ancestor.to_owned());
                    continue;
                }
                let kind = match kinds.get(ancestor) {
                    Some(kind) => *kind,
                    None => {
                        let kind = self.tree.kind(ancestor).unwrap_or(Kind::Special("unreadable"));
                        kinds.insert(ancestor.to_owned(), kind);
                        kind
                    }
                };
                match kind {
                    Kind::Dir => {}
                    // A stale file of the previous render is moved away first.
                    Kind::Absent | Kind::File if kind == Kind::Absent || ancestor.to_str().is_some_and(|a| stale_set.contains(a)) => {
                        creating = true;
                        dirs_to_create.insert(ancestor.to_owned());
                    }
                    Kind::Symlink => {
                        blocked = Some(format!("{}: {} is a symbolic link, and nix2dream does not write through links", file.path, ancestor.display()));
                        break;
                    }
                    other => {
                        blocked = Some(format!("{}: {} is {}, in the way of a directory", file.path, ancestor.display(), other.describe()));
                        break;
                    }
                }
            }
            if let Some(problem) = blocked {
                conflicts.push(problem);
                continue;
            }
            let kind = if creating { Kind::Absent } else { self.tree.kind(path)? };
            match kind {
                Kind::Absent => targets.push(Target { file, existed: false }),
                Kind::File => {
                    let ours = force || previous.contains(&file.path) || self.same_contents(file).unwrap_or(false);
                    if ours {
                        targets.push(Target { file, existed: true });
                    } else {
                        conflicts.push(format!("{} exists and was not written by nix2dream", file.path));
                    }
                }
                Kind::Dir => conflicts.push(format!("{} is a directory", file.path)),
                Kind::Symlink => conflicts.push(format!("{} is a symbolic link; nix2dream does not write through links (remove it)", file.path)),
                Kind::Special(what) => conflicts.push(format!("{} is {what}; nix2dream only writes regular files (remove it)", file.path)),
            }
        }
        if !conflicts.is_empty() {
            bail!(
                "nothing was written to {}: {} (move those files away, or pass --force to overwrite files nix2dream did not write)",
                self.path.display(),
                listed(&conflicts)
            );
        }

        // Stale files: only regular files below real directories; anything
        // else at such a path was not left there by nix2dream.
        let mut ops = Vec::new();
        let mut removed = Vec::new();
        for (i, path) in stale.iter().enumerate() {
            if self.tree.kind(Path::new(path.as_str())).ok() == Some(Kind::File) {
                ops.push(Op::Remove { path: path.to_string(), backup: format!("r{i}") });
                removed.push(path.to_string());
            }
        }
        if self.has_legacy_manifest()? {
            ops.push(Op::Remove { path: paths::LEGACY_MANIFEST.to_owned(), backup: "legacy-manifest".to_owned() });
        }
        for dir in &dirs_to_create {
            ops.push(Op::Mkdir { path: path_string(dir) });
        }

        let stage = self.stage_dir()?;
        let manifest = serde_json::to_vec_pretty(&current)?;
        let manifest_file = OutFile { path: format!("{}/{MANIFEST}", paths::STATE_DIR), contents: super::Contents::Bytes(manifest), executable: false, origin: "nix2dream".to_owned() };
        let manifest_existed = nofollow::kind(&self.state, MANIFEST)? == Kind::File;
        // A kept file stays where it is: nothing to stage, nothing to switch.
        let unchanged = self.unchanged_files();
        for target in &targets {
            if let super::Contents::Kept(key) = &target.file.contents {
                if unchanged.get(&target.file.path) != Some(key) {
                    bail!("nothing was written to {}: {} changed while the render ran; run it again", self.path.display(), printable(&target.file.path));
                }
            }
        }
        let all = targets
            .iter()
            .filter(|t| !matches!(t.file.contents, super::Contents::Kept(_)))
            .map(|t| (t.file, t.existed))
            .chain([(&manifest_file, manifest_existed)]);
        for (i, (file, existed)) in all.enumerate() {
            crate::interrupt::checkpoint();
            let staged = self
                .stage(&stage, i, file)
                .with_context(|| format!("nothing was written to {}: staging {} ({})", self.path.display(), printable(&file.path), file.origin))?;
            let (dev, ino) = nofollow::identity(&stage, &staged)?.context("a staged file vanished")?;
            ops.push(Op::Put { path: file.path.clone(), staged, backup: existed.then(|| format!("p{i}")), dev, ino });
        }
        rfs::fsync(&stage)?;
        drop(stage);
        crate::interrupt::checkpoint();
        let origins: HashMap<&str, &str> = files.iter().map(|f| (f.path.as_str(), f.origin.as_str())).collect();
        let name_step = |path: &str| match origins.get(path) {
            Some(origin) => format!("writing {} (rendered by {origin})", printable(path)),
            None => format!("writing {}", printable(path)),
        };
        self.place().switch(&ops, &name_step).with_context(|| format!("nothing was written to {}", self.path.display()))?;
        self.committed = true;
        let keyed: Vec<(&str, &str)> = files
            .iter()
            .filter_map(|f| match &f.contents {
                super::Contents::Spooled(_, Some(key)) | super::Contents::Kept(key) => Some((f.path.as_str(), key.as_str())),
                _ => None,
            })
            .collect();
        self.save_kept(&keyed);
        self.remove_emptied_dirs(&removed, &current);
        Ok(Written { written: current.into_iter().collect(), removed })
    }

    /// After a render, the directories its stale files leave empty (e.g. a
    /// plugin's folder when that plugin is no longer used) go too: deepest
    /// first, only when empty (`rmdir`; anything put there by someone else
    /// keeps it), never one the new output uses, never through a link.
    fn remove_emptied_dirs(&mut self, removed: &[String], current: &BTreeSet<String>) {
        let in_use: HashSet<&Path> = current.iter().flat_map(|p| Path::new(p.as_str()).ancestors().skip(1)).collect();
        let mut dirs: Vec<&Path> = removed
            .iter()
            .flat_map(|p| Path::new(p.as_str()).ancestors().skip(1))
            .filter(|d| !d.as_os_str().is_empty() && !in_use.contains(d))
            .collect();
        // Deepest first, so that a parent is tried once its children are gone.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        dirs.dedup();
        for dir in dirs {
            if let Ok((parent, name)) = self.tree.parent(dir) {
                let _ = rfs::unlinkat(&*parent, name, AtFlags::REMOVEDIR);
            }
            self.tree.forget();
        }
    }

    /// Puts `file` into the stage folder as a short name (so long file names
    /// still fit), fsynced, with its mode; returns that name.
    fn stage(&mut self, stage: &OwnedFd, i: usize, file: &OutFile) -> Result<String> {
        let name = format!("f{i}");
        let mode = if file.executable { 0o755 } else { 0o644 };
        // An archive built in the stage folder is already where it must be.
        if let super::Contents::Spooled(spooled, _) = &file.contents {
            if spooled.parent() == Some(self.state_path.join(STAGE).as_path()) {
                let spooled_name = spooled.file_name().context("a spooled file has a name")?;
                fault::step("staging an archive")?;
                rfs::renameat(stage, spooled_name, stage, name.as_str())?;
                let staged = std::fs::File::from(rfs::openat(stage, name.as_str(), OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?);
                staged.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
                staged.sync_all()?;
                return Ok(name);
            }
        }
        fault::step("staging a file")?;
        let fd = rfs::openat(stage, name.as_str(), OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::from_raw_mode(mode))?;
        let mut target = std::fs::File::from(fd);
        std::io::copy(&mut file.contents.reader()?, &mut target)?;
        target.flush()?;
        // Whatever the umask: the mode the plugin asked for.
        target.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        target.sync_all()?;
        Ok(name)
    }

    /// Whether the regular file at `file.path` already holds these bytes.
    pub(super) fn same_contents(&mut self, file: &OutFile) -> Result<bool> {
        let (dir, name) = self.tree.parent(Path::new(&file.path))?;
        let existing = nofollow::open_file(&*dir, name).map_err(|e| anyhow!("{}: {e}", file.path))?;
        Ok(file.contents.same_as(existing)?)
    }
}

fn path_string(path: &Path) -> String {
    path.to_str().expect("checked paths are UTF-8").to_owned()
}
