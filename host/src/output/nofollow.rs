//! Filesystem steps below `--out` that never follow a symbolic link: every
//! path is walked one component at a time from a directory handle opened with
//! `O_NOFOLLOW`, so a link anywhere below `--out` (left by a user, or by
//! anyone else) is refused instead of followed, and nothing is read, written
//! or deleted through it. Files are opened with `O_NONBLOCK`, so a FIFO or a
//! device at an output path is refused, never waited on.

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What is at a path, without following a link there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Absent,
    File,
    Dir,
    Symlink,
    /// A FIFO, socket or device, named.
    Special(&'static str),
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Absent => "absent",
            Kind::File => "a file",
            Kind::Dir => "a directory",
            Kind::Symlink => "a symbolic link",
            Kind::Special(what) => what,
        }
    }
}

fn kind_of(stat: &rfs::Stat) -> Kind {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        FileType::Fifo => Kind::Special("a FIFO (named pipe)"),
        FileType::Socket => Kind::Special("a socket"),
        FileType::CharacterDevice => Kind::Special("a character device"),
        FileType::BlockDevice => Kind::Special("a block device"),
        FileType::Unknown => Kind::Special("a file of unknown type"),
    }
}

/// What `name` (one component) in `dir` is.
pub fn kind(dir: impl AsFd, name: impl AsRef<OsStr>) -> io::Result<Kind> {
    match rfs::statat(dir, name.as_ref(), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(kind_of(&stat)),
        Err(rustix::io::Errno::NOENT) => Ok(Kind::Absent),
        Err(e) => Err(e.into()),
    }
}

/// `(device, inode)` of `name` in `dir`, not following a link; None when absent.
pub fn identity(dir: impl AsFd, name: impl AsRef<OsStr>) -> io::Result<Option<(u64, u64)>> {
    match rfs::statat(dir, name.as_ref(), AtFlags::SYMLINK_NOFOLLOW) {
        // dev_t and ino_t are narrower than u64 on some targets.
        #[allow(clippy::unnecessary_cast)]
        Ok(stat) => Ok(Some((stat.st_dev as u64, stat.st_ino as u64))),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Opens the directory `name` in `dir`; a link there is an error.
pub fn open_dir(dir: impl AsFd, name: impl AsRef<OsStr>) -> io::Result<OwnedFd> {
    rfs::openat(dir, name.as_ref(), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
        .map_err(io::Error::from)
}

/// Opens the regular file `name` in `dir` for reading; a link, FIFO, socket
/// or device there is an error (and never blocks).
pub fn open_file(dir: impl AsFd, name: impl AsRef<OsStr>) -> io::Result<std::fs::File> {
    let fd = rfs::openat(dir, name.as_ref(), OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty())?;
    let stat = rfs::fstat(&fd)?;
    match kind_of(&stat) {
        Kind::File => Ok(fd.into()),
        other => Err(io::Error::other(format!("it is {}, not a regular file", other.describe()))),
    }
}

/// A directory tree walked from its root without following links, with the
/// directory handles it opened kept for the next path below them.
pub struct Tree {
    root: Arc<OwnedFd>,
    dirs: HashMap<PathBuf, Arc<OwnedFd>>,
}

impl Tree {
    pub fn new(root: OwnedFd) -> Tree {
        Tree { root: Arc::new(root), dirs: HashMap::new() }
    }

    pub fn root(&self) -> &OwnedFd {
        &self.root
    }

    /// Forgets opened directories (after some were removed).
    pub fn forget(&mut self) {
        self.dirs.clear();
    }

    /// The directory `dir` (relative; empty for the root), every component a
    /// real directory.
    pub fn dir(&mut self, dir: &Path) -> io::Result<Arc<OwnedFd>> {
        if dir.as_os_str().is_empty() {
            return Ok(self.root.clone());
        }
        if let Some(fd) = self.dirs.get(dir) {
            return Ok(fd.clone());
        }
        let parent = self.dir(dir.parent().unwrap_or(Path::new("")))?;
        let name = dir.file_name().ok_or_else(|| io::Error::other("a path ends in `..`"))?;
        let fd = match open_dir(&*parent, name) {
            Ok(fd) => Arc::new(fd),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                return Err(io::Error::other(format!("{} is a symbolic link, and nix2dream does not go through links", dir.display())))
            }
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
                return Err(io::Error::new(io::ErrorKind::NotADirectory, format!("{} is not a directory", dir.display())))
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
        };
        self.dirs.insert(dir.to_owned(), fd.clone());
        Ok(fd)
    }

    /// The directory holding `path` and the last component's name.
    pub fn parent<'p>(&mut self, path: &'p Path) -> io::Result<(Arc<OwnedFd>, &'p OsStr)> {
        let name = path.file_name().ok_or_else(|| io::Error::other(format!("{} has no file name", path.display())))?;
        Ok((self.dir(path.parent().unwrap_or(Path::new("")))?, name))
    }

    /// What is at `path`: Absent also when a parent is missing.
    pub fn kind(&mut self, path: &Path) -> io::Result<Kind> {
        match self.parent(path) {
            Ok((dir, name)) => kind(&*dir, name),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Kind::Absent),
            Err(e) => Err(e),
        }
    }

    /// fsyncs every directory opened so far, so renames in them are durable.
    pub fn sync_all(&self) -> io::Result<()> {
        rfs::fsync(&*self.root)?;
        for fd in self.dirs.values() {
            rfs::fsync(&**fd)?;
        }
        Ok(())
    }
}
