//! The uid and gid an image runs as, read from its config's `User` and the
//! image's own `/etc/passwd` and `/etc/group` (among its extra files), the way
//! a container runtime resolves them. The image's volumes and working
//! directory are created owned by them, as a Dockerfile would
//! (`RUN mkdir /data && chown app /data`): Docker copies a volume's ownership
//! from the image, and otherwise creates it owned by root, where a non-root
//! service cannot write.

use anyhow::{bail, Result};

use super::ImageFile;

/// Numeric owner of what the service must be able to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u64,
    pub gid: u64,
}

impl Owner {
    pub const ROOT: Owner = Owner { uid: 0, gid: 0 };
}

/// Resolves `user` (`USER`, `USER:GROUP`, names or numbers) against `files`.
pub fn resolve(user: Option<&str>, files: &[ImageFile]) -> Result<Owner> {
    let Some(spec) = user.filter(|u| !u.is_empty()) else {
        return Ok(Owner::ROOT);
    };
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = file_text(files, "/etc/passwd");
    let (uid, primary_gid) = match user.parse::<u64>() {
        // A numeric user needs no entry; its primary group is then root's, as in Docker.
        Ok(uid) => (uid, lookup(passwd, |f| f[2] == user).and_then(|f| f[3].parse().ok()).unwrap_or(0)),
        Err(_) => match lookup(passwd, |f| f[0] == user) {
            Some(f) => match (f[2].parse(), f[3].parse()) {
                (Ok(uid), Ok(gid)) => (uid, gid),
                _ => bail!("the image's /etc/passwd has a malformed entry for user {user:?}"),
            },
            None => bail!(
                "the image runs as user {user:?}, which its /etc/passwd does not name: give a numeric uid, or add /etc/passwd to the image's files"
            ),
        },
    };
    let gid = match group {
        None | Some("") => primary_gid,
        Some(g) => match g.parse::<u64>() {
            Ok(gid) => gid,
            Err(_) => match lookup(file_text(files, "/etc/group"), |f| f[0] == g).and_then(|f| f[2].parse().ok()) {
                Some(gid) => gid,
                None => bail!(
                    "the image runs with group {g:?}, which its /etc/group does not name: give a numeric gid, or add /etc/group to the image's files"
                ),
            },
        },
    };
    Ok(Owner { uid, gid })
}

fn file_text<'a>(files: &'a [ImageFile], path: &str) -> Option<&'a str> {
    files.iter().find(|f| f.path == path).and_then(|f| std::str::from_utf8(&f.contents).ok())
}

/// The first colon-separated line (at least 4 fields) that `matches`.
fn lookup(text: Option<&str>, matches: impl Fn(&[&str]) -> bool) -> Option<Vec<&str>> {
    text?.lines().map(|line| line.split(':').collect::<Vec<_>>()).find(|f| f.len() >= 4 && matches(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> ImageFile {
        ImageFile { path: path.into(), contents: text.as_bytes().to_vec(), mode: 0o444, private: false }
    }

    fn accounts() -> Vec<ImageFile> {
        vec![
            file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/var/empty:/bin/sh\n"),
            file("/etc/group", "root:x:0:\napp:x:1000:\nweb:x:2000:app\n"),
        ]
    }

    #[test]
    fn names_and_numbers_resolve_like_a_container_runtime() {
        let files = accounts();
        assert_eq!(resolve(None, &files).unwrap(), Owner::ROOT);
        assert_eq!(resolve(Some("app"), &files).unwrap(), Owner { uid: 1000, gid: 1000 });
        assert_eq!(resolve(Some("app:web"), &files).unwrap(), Owner { uid: 1000, gid: 2000 });
        assert_eq!(resolve(Some("app:7"), &files).unwrap(), Owner { uid: 1000, gid: 7 });
        assert_eq!(resolve(Some("1000"), &files).unwrap(), Owner { uid: 1000, gid: 1000 });
        assert_eq!(resolve(Some("4242"), &[]).unwrap(), Owner { uid: 4242, gid: 0 });
        assert_eq!(resolve(Some("0:web"), &files).unwrap(), Owner { uid: 0, gid: 2000 });
    }

    #[test]
    fn unknown_names_are_errors_that_say_what_to_do() {
        let e = resolve(Some("ghost"), &accounts()).unwrap_err().to_string();
        assert!(e.contains("user \"ghost\"") && e.contains("numeric uid"), "{e}");
        let e = resolve(Some("app:ghosts"), &accounts()).unwrap_err().to_string();
        assert!(e.contains("group \"ghosts\""), "{e}");
        assert!(resolve(Some("app"), &[]).is_err(), "no /etc/passwd at all");
    }
}
