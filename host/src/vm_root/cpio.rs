//! The VM's root file system as an initramfs: an uncompressed `newc` cpio
//! archive (what the kernel unpacks into its rootfs), written reproducibly:
//! entries in byte order of their paths (parents first), inode numbers
//! counted up, mtime 1 and uid/gid 0 as in the Nix store.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

const MTIME: u32 = 1;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

/// Where an entry's bytes come from.
pub enum Contents {
    Disk(PathBuf),
    Bytes(Vec<u8>),
}

pub enum Entry {
    Dir { mode: u32 },
    File { mode: u32, contents: Contents },
    Symlink { target: Vec<u8> },
    CharDevice { mode: u32, major: u32, minor: u32 },
}

/// The entries of the archive by path (relative, `/`-separated), so that
/// iteration is sorted and a path is given at most once.
#[derive(Default)]
pub struct Tree {
    entries: BTreeMap<String, Entry>,
}

impl Tree {
    /// Adds `entry` at `path` after its parent directories (0o755), refusing
    /// a path given twice or one below a file.
    pub fn insert(&mut self, path: &str, entry: Entry, what: &str) -> Result<()> {
        let mut parent = String::new();
        let components: Vec<&str> = path.split('/').collect();
        for component in &components[..components.len() - 1] {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(component);
            match self.entries.get(&parent) {
                Some(Entry::Dir { .. }) => {}
                Some(_) => bail!("{what} /{path} would be inside /{parent}, which is not a directory"),
                None => {
                    self.entries.insert(parent.clone(), Entry::Dir { mode: 0o755 });
                }
            }
        }
        match (self.entries.get(path), &entry) {
            (None, _) => {}
            // Directories may be named again (e.g. /etc by two files' parents).
            (Some(Entry::Dir { .. }), Entry::Dir { .. }) => {}
            (Some(_), _) => bail!("{what} /{path} is given twice (two files, or a file where the VM already has one)"),
        }
        self.entries.insert(path.to_owned(), entry);
        Ok(())
    }

    /// Adds `source` (a file, directory or symlink, recursively in sorted
    /// order) as `path`: files 0o555 if executable else 0o444, directories
    /// 0o555, as in the Nix store.
    pub fn insert_tree(&mut self, source: &Path, path: &str) -> Result<()> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(source).with_context(|| format!("reading {}", source.display()))?;
        let kind = meta.file_type();
        let what = format!("{}", source.display());
        if kind.is_symlink() {
            let target = std::fs::read_link(source).with_context(|| format!("reading symlink {}", source.display()))?;
            self.insert(path, Entry::Symlink { target: target.as_os_str().as_bytes().to_vec() }, &what)
        } else if kind.is_dir() {
            self.insert(path, Entry::Dir { mode: 0o555 }, &what)?;
            let mut names: Vec<_> = std::fs::read_dir(source)
                .with_context(|| format!("listing {}", source.display()))?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<io::Result<_>>()
                .with_context(|| format!("listing {}", source.display()))?;
            names.sort();
            for name in names {
                let name_text = name.to_str().with_context(|| format!("{}: a file name that is not UTF-8", source.display()))?;
                self.insert_tree(&source.join(&name), &format!("{path}/{name_text}"))?;
            }
            Ok(())
        } else if kind.is_file() {
            let mode = if meta.permissions().mode() & 0o111 != 0 { 0o555 } else { 0o444 };
            self.insert(path, Entry::File { mode, contents: Contents::Disk(source.to_owned()) }, &what)
        } else {
            bail!("{} is neither a file, a directory nor a symlink (a socket, fifo or device): the VM's root holds only those", source.display())
        }
    }

    /// Writes the archive to `dest`; fails once it passes `limit` bytes.
    pub fn write(&self, dest: &Path, limit: u64) -> Result<u64> {
        let file = File::create(dest).with_context(|| format!("creating {}", dest.display()))?;
        let mut out = Counting { inner: BufWriter::new(file), written: 0, limit };
        for (ino, (path, entry)) in self.entries.iter().enumerate() {
            let builder = cpio::newc::Builder::new(path).ino(ino as u32 + 1).uid(0).gid(0).mtime(MTIME).nlink(1);
            let (builder, data): (_, Box<dyn Read>) = match entry {
                Entry::Dir { mode } => (builder.mode(S_IFDIR | mode).nlink(2), Box::new(io::empty())),
                Entry::Symlink { target } => (builder.mode(S_IFLNK | 0o777), Box::new(io::Cursor::new(target.clone()))),
                Entry::CharDevice { mode, major, minor } => (builder.mode(S_IFCHR | mode).rdev_major(*major).rdev_minor(*minor), Box::new(io::empty())),
                Entry::File { mode, contents: Contents::Bytes(bytes) } => (builder.mode(S_IFREG | mode), Box::new(io::Cursor::new(bytes.clone()))),
                Entry::File { mode, contents: Contents::Disk(source) } => {
                    (builder.mode(S_IFREG | mode), Box::new(File::open(source).with_context(|| format!("opening {}", source.display()))?))
                }
            };
            let size = match entry {
                Entry::Symlink { target } => target.len() as u64,
                Entry::File { contents: Contents::Bytes(bytes), .. } => bytes.len() as u64,
                Entry::File { contents: Contents::Disk(source), .. } => std::fs::metadata(source).with_context(|| format!("reading {}", source.display()))?.len(),
                _ => 0,
            };
            let size32 = u32::try_from(size).with_context(|| format!("/{path} is over 4 GiB, more than an initramfs entry holds"))?;
            let mut writer = builder.write(&mut out, size32);
            // Exactly `size` bytes: a file that changed while being read fails.
            let copied = io::copy(&mut data.take(size), &mut writer).with_context(|| format!("writing /{path} into {}", dest.display()))?;
            if copied != size {
                bail!("/{path} shrank while being archived");
            }
            writer.finish().with_context(|| format!("writing /{path} into {}", dest.display()))?;
        }
        cpio::newc::trailer(&mut out).with_context(|| format!("writing {}", dest.display()))?;
        out.inner.flush().with_context(|| format!("writing {}", dest.display()))?;
        Ok(out.written)
    }
}

/// Counts what goes through it and refuses to pass `limit`.
struct Counting<W> {
    inner: W,
    written: u64,
    limit: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() as u64 > self.limit {
            return Err(io::Error::other(format!("over the image limit of {} MiB (raise it with --image-limit MIB)", self.limit >> 20)));
        }
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(path: &Path) -> Vec<(String, u32, Vec<u8>)> {
        let mut file = File::open(path).unwrap();
        let mut entries = Vec::new();
        loop {
            let mut reader = cpio::NewcReader::new(&mut file).unwrap();
            if reader.entry().is_trailer() {
                break;
            }
            let (name, mode) = (reader.entry().name().to_owned(), reader.entry().mode());
            let mut data = Vec::new();
            reader.read_to_end(&mut data).unwrap();
            reader.finish().unwrap();
            entries.push((name, mode, data));
        }
        entries
    }

    #[test]
    fn archive_is_sorted_with_parents_and_reproducible() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("pkg");
        std::fs::create_dir_all(src.join("bin")).unwrap();
        std::fs::write(src.join("bin/tool"), "#!x").unwrap();
        std::os::unix::fs::symlink("tool", src.join("bin/alias")).unwrap();
        let mut tree = Tree::default();
        tree.insert("etc/app.conf", Entry::File { mode: 0o444, contents: Contents::Bytes(b"k=v".to_vec()) }, "file").unwrap();
        tree.insert_tree(&src, "nix/store/abc-pkg").unwrap();
        tree.insert("dev/console", Entry::CharDevice { mode: 0o600, major: 5, minor: 1 }, "console").unwrap();
        let (a, b) = (tmp.path().join("a.cpio"), tmp.path().join("b.cpio"));
        tree.write(&a, u64::MAX).unwrap();
        tree.write(&b, u64::MAX).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let entries = read_back(&a);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["dev", "dev/console", "etc", "etc/app.conf", "nix", "nix/store", "nix/store/abc-pkg", "nix/store/abc-pkg/bin", "nix/store/abc-pkg/bin/alias", "nix/store/abc-pkg/bin/tool"]);
        assert_eq!(entries[3].2, b"k=v");
        assert_eq!(entries[8], ("nix/store/abc-pkg/bin/alias".to_owned(), S_IFLNK | 0o777, b"tool".to_vec()));
        assert_eq!(entries[1].1, S_IFCHR | 0o600);
        assert_eq!(entries[9].1, S_IFREG | 0o444);
    }

    #[test]
    fn a_path_twice_or_below_a_file_is_refused() {
        let mut tree = Tree::default();
        let file = || Entry::File { mode: 0o444, contents: Contents::Bytes(Vec::new()) };
        tree.insert("etc/passwd", file(), "file").unwrap();
        assert!(tree.insert("etc/passwd", file(), "file").unwrap_err().to_string().contains("given twice"));
        assert!(tree.insert("etc/passwd/x", file(), "file").unwrap_err().to_string().contains("not a directory"));
    }

    #[test]
    fn the_limit_stops_the_archive() {
        let tmp = tempfile::tempdir().unwrap();
        let mut tree = Tree::default();
        tree.insert("big", Entry::File { mode: 0o444, contents: Contents::Bytes(vec![0; 1 << 20]) }, "file").unwrap();
        let e = tree.write(&tmp.path().join("x"), 1 << 19).unwrap_err();
        assert!(format!("{e:#}").contains("over the image limit"), "{e:#}");
    }
}
