//! Atomic writing: every file is first staged beside its target, and only
//! when all are staged are they renamed into place. A failure before that
//! removes what was staged, so the previous output stays as it was. Files the
//! host did not write (not in the manifest) are never overwritten or deleted.

use super::{paths, read_manifest, OutFile};
use anyhow::{bail, Context, Result};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, Permissions, PermissionsExt};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What a write changed.
#[derive(Debug, Default)]
pub struct Written {
    pub written: Vec<String>,
    pub removed: Vec<String>,
}

fn staging_name(path: &Path) -> PathBuf {
    let name = path.file_name().expect("checked paths have a file name").to_string_lossy();
    path.with_file_name(format!(".{name}.{}.nix2dream-tmp", std::process::id()))
}

struct Staging<'a> {
    dir: &'a Dir,
    staged: Vec<PathBuf>,
    created_dirs: Vec<PathBuf>,
}

impl Staging<'_> {
    fn stage(&mut self, file: &OutFile) -> Result<()> {
        let path = paths::checked(&file.path)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Remember which directories did not exist, to remove them on failure.
            let mut missing = Vec::new();
            for ancestor in parent.ancestors().filter(|a| !a.as_os_str().is_empty()) {
                if self.dir.symlink_metadata(ancestor).is_err() {
                    missing.push(ancestor.to_owned());
                }
            }
            self.dir.create_dir_all(parent).with_context(|| format!("creating directory {}", parent.display()))?;
            self.created_dirs.extend(missing);
        }
        let tmp = staging_name(&path);
        // Recorded first, so a half-written staging file is removed too.
        self.staged.push(tmp.clone());
        let mut target = self.dir.create(&tmp).with_context(|| format!("writing {}", file.path))?;
        std::io::copy(&mut file.contents.reader()?, &mut target).with_context(|| format!("writing {}", file.path))?;
        target.sync_all().with_context(|| format!("writing {}", file.path))?;
        let mode = if file.executable { 0o755 } else { 0o644 };
        self.dir.set_permissions(&tmp, Permissions::from_mode(mode)).with_context(|| format!("setting the mode of {}", file.path))?;
        Ok(())
    }

    fn abandon(self) {
        for tmp in &self.staged {
            let _ = self.dir.remove_file(tmp);
        }
        let mut dirs = self.created_dirs;
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            let _ = self.dir.remove_dir(d);
        }
    }
}

/// Writes `files` under `out_dir` atomically (see the module comment).
/// `force` allows overwriting files the host did not write.
pub fn write_all(out_dir: &Path, files: &[OutFile], force: bool) -> Result<Written> {
    let mut seen = BTreeSet::new();
    for file in files {
        paths::checked(&file.path).with_context(|| "a plugin returned a path that is not allowed")?;
        if !seen.insert(file.path.clone()) {
            bail!("two artifacts are named {}", file.path);
        }
    }
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating the output directory {}", out_dir.display()))?;
    let dir = Dir::open_ambient_dir(out_dir, ambient_authority())
        .with_context(|| format!("opening the output directory {}", out_dir.display()))?;
    let previous = read_manifest(&dir)?;

    // Refuse before touching anything: a foreign file in the way, or a directory.
    let mut conflicts = Vec::new();
    for file in files {
        let path = Path::new(&file.path);
        if let Some(link) = path.ancestors().skip(1).filter(|a| !a.as_os_str().is_empty()).find(|a| {
            dir.symlink_metadata(a).is_ok_and(|m| m.file_type().is_symlink())
        }) {
            conflicts.push(format!("{}: {} is a symbolic link, and nix2dream does not write through links", file.path, link.display()));
            continue;
        }
        match dir.symlink_metadata(&file.path) {
            Ok(meta) if meta.is_dir() => conflicts.push(format!("{} is a directory", file.path)),
            Ok(_) if !force
                && !previous.contains(&file.path)
                && !dir.open(&file.path).is_ok_and(|f| file.contents.same_as(f.into_std()).unwrap_or(false)) =>
            {
                conflicts.push(format!("{} exists and was not written by nix2dream", file.path))
            }
            _ => {}
        }
    }
    if !conflicts.is_empty() {
        bail!(
            "nothing was written to {}: {} (move those files away, or pass --force to overwrite them)",
            out_dir.display(),
            conflicts.join("; ")
        );
    }

    let mut staging = Staging { dir: &dir, staged: Vec::new(), created_dirs: Vec::new() };
    for file in files {
        if let Err(e) = staging.stage(file) {
            staging.abandon();
            return Err(e.context(format!("nothing was written to {}", out_dir.display())));
        }
    }
    for (file, tmp) in files.iter().zip(&staging.staged) {
        dir.rename(tmp, &dir, &file.path).with_context(|| format!("moving {} into place", file.path))?;
    }

    let current: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
    let mut written = Written { written: current.iter().cloned().collect(), removed: Vec::new() };
    for stale in previous.difference(&current) {
        // Only files this host wrote earlier; a path that no longer checks out is left alone.
        if paths::checked(stale).is_ok() && dir.remove_file(stale).is_ok() {
            written.removed.push(stale.clone());
        }
    }
    let manifest = serde_json::to_vec_pretty(&current)?;
    let tmp = format!(".{}.{}.nix2dream-tmp", paths::MANIFEST, std::process::id());
    dir.write(&tmp, manifest).context("writing the manifest")?;
    dir.rename(&tmp, &dir, paths::MANIFEST).context("writing the manifest")?;
    Ok(written)
}
