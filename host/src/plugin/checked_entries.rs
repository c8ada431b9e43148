//! The compiled-plugin cache entries whose MAC was checked, each by the
//! identity and change time of its file, so that a later load of the same,
//! unchanged file need not hash its megabytes again (the hashing was 40% of
//! a warm plugin load, and a load is most of a small render's cost).
//!
//! Why an unchanged witness means unchanged contents: any write to a file,
//! and any change of its times, sets its change time (ctime) to the
//! present, which no one but root can set back; a file replaced under the
//! same name is another inode, created now. So a file whose device, inode,
//! size, mtime and ctime are those seen right after its check is the file
//! checked, unless it was changed within the same clock tick as that check
//! — by someone who can write it, which `Cache` allows only to the user
//! and root, who can read the key anyway. The list itself is a sealed
//! record (`checked-entries.record`): whoever cannot read the key cannot
//! add to it.

use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;

/// The most entries remembered: far more than a cache holds.
const MAX_ENTRIES: usize = 256;

/// A file as `stat` describes it, to tell whether it changed since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Witness {
    pub fn of(meta: &std::fs::Metadata) -> Witness {
        Witness {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// The entries checked, most recently first.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CheckedEntries(Vec<(String, Witness)>);

impl CheckedEntries {
    /// The list a record holds; empty when there is none or it is not one.
    pub fn from_json(bytes: Option<&[u8]>) -> CheckedEntries {
        bytes.and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default()
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain data serializes")
    }

    /// Whether the entry `name` was checked when its file was as `witness` says.
    pub fn knows(&self, name: &str, witness: &Witness) -> bool {
        self.0.iter().any(|(n, w)| n == name && w == witness)
    }

    /// Notes that `name` was checked, its file as `witness` says.
    pub fn note(&mut self, name: &str, witness: Witness) {
        self.0.retain(|(n, _)| n != name);
        self.0.insert(0, (name.to_owned(), witness));
        self.0.truncate(MAX_ENTRIES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_write_or_time_change_makes_another_witness() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("entry");
        std::fs::write(&file, b"abcd").unwrap();
        let seen = Witness::of(&std::fs::metadata(&file).unwrap());
        assert_eq!(seen, Witness::of(&std::fs::metadata(&file).unwrap()), "a file as it was");
        let mut entries = CheckedEntries::default();
        entries.note("e", seen);
        assert!(entries.knows("e", &seen) && !entries.knows("f", &seen));
        // Rewritten in place to the same size, its mtime put back: the ctime tells.
        let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&file, b"dcba").unwrap();
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(mtime).unwrap();
        assert!(!entries.knows("e", &Witness::of(&std::fs::metadata(&file).unwrap())));
        // Replaced under the same name by a copy of the same bytes: another file.
        std::fs::write(tmp.path().join("copy"), b"abcd").unwrap();
        std::fs::rename(tmp.path().join("copy"), &file).unwrap();
        assert!(!entries.knows("e", &Witness::of(&std::fs::metadata(&file).unwrap())));
    }

    #[test]
    fn the_list_is_bounded_and_read_back_as_written() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("f"), b"x").unwrap();
        let w = Witness::of(&std::fs::metadata(tmp.path().join("f")).unwrap());
        let mut entries = CheckedEntries::default();
        for i in 0..MAX_ENTRIES + 10 {
            entries.note(&format!("e{i}"), w);
        }
        entries.note("e20", w);
        let back = CheckedEntries::from_json(Some(&entries.to_json()));
        assert_eq!(back.0.len(), MAX_ENTRIES);
        assert_eq!(back.0[0].0, "e20", "the last noted comes first");
        assert!(back.knows(&format!("e{}", MAX_ENTRIES + 9), &w) && !back.knows("e0", &w), "the oldest went");
        assert!(CheckedEntries::from_json(Some(b"not json")).0.is_empty());
        assert!(CheckedEntries::from_json(None).0.is_empty());
    }
}
