//! Whether the programs an image starts are in it. A plugin cannot see the
//! closure, so `process.argv = [ "/bin/sh" … ]` without a shell in the
//! closure would render cleanly and fail only at `docker run` ("exec:
//! /bin/sh: no such file"). The host knows what it puts in the image: each
//! program is looked up in the image as a container runtime would (an
//! absolute path, a path relative to the working directory, or a name on
//! the image's PATH), following symlinks inside the image.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::ImageSpec;

/// Docker's PATH when an image sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Symlink hops before giving up (Linux's own limit).
const MAX_HOPS: usize = 40;

/// What an image path leads to.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    File { executable: bool },
    Directory,
}

/// The image's file system as the host can see it before writing it: store
/// paths (read from the host, under `/nix/store/<name>`) and the extra files.
struct ImageTree<'a> {
    store: BTreeMap<&'a OsStr, &'a Path>,
    files: BTreeMap<&'a str, u32>,
}

impl<'a> ImageTree<'a> {
    fn new(spec: &'a ImageSpec, closure: &'a [PathBuf]) -> Self {
        ImageTree {
            store: closure.iter().filter_map(|p| Some((p.file_name()?, p.as_path()))).collect(),
            files: spec.files.iter().map(|f| (f.path.trim_end_matches('/'), f.mode)).collect(),
        }
    }

    /// Where the image path made of `components` is on the host, when it lies in a store path.
    fn host_path(&self, components: &[String]) -> Option<PathBuf> {
        match components {
            [nix, store, name, rest @ ..] if nix == "nix" && store == "store" => {
                let root = self.store.get(OsStr::new(name.as_str()))?;
                Some(rest.iter().fold(root.to_path_buf(), |p, c| p.join(c)))
            }
            _ => None,
        }
    }

    /// Resolves `path` (absolute) inside the image, following symlinks.
    fn find(&self, path: &str) -> Option<Node> {
        let mut pending: Vec<String> = components(path).rev().collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = pending.pop() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    resolved.pop();
                    continue;
                }
                _ => resolved.push(c),
            }
            let Some(host) = self.host_path(&resolved) else { continue };
            let meta = std::fs::symlink_metadata(&host).ok()?;
            if meta.file_type().is_symlink() {
                hops += 1;
                if hops > MAX_HOPS {
                    return None;
                }
                let target = std::fs::read_link(&host).ok()?;
                let target = target.to_str()?;
                resolved.pop();
                if target.starts_with('/') {
                    resolved.clear();
                }
                pending.extend(components(target).rev());
            }
        }
        if let Some(host) = self.host_path(&resolved) {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(host).ok()?;
            return Some(if meta.is_dir() { Node::Directory } else { Node::File { executable: meta.permissions().mode() & 0o111 != 0 } });
        }
        let image_path = format!("/{}", resolved.join("/"));
        if let Some(mode) = self.files.get(image_path.as_str()) {
            return Some(Node::File { executable: mode & 0o111 != 0 });
        }
        // A parent directory of an extra file, or the store itself.
        let is_parent = |p: &&str| p.starts_with(&image_path) && p[image_path.len()..].starts_with('/');
        (image_path == "/" || image_path == "/nix/store" || self.files.keys().any(is_parent)).then_some(Node::Directory)
    }

    /// Why `program` cannot be started in the image, if it cannot.
    fn problem(&self, program: &str, path_env: Option<&str>, working_dir: Option<&str>) -> Option<String> {
        if program.contains('/') {
            let absolute = match program.starts_with('/') {
                true => program.to_owned(),
                false => format!("{}/{program}", working_dir.unwrap_or("/")),
            };
            return match self.find(&absolute) {
                Some(Node::File { executable: true }) => None,
                Some(Node::File { executable: false }) => Some("is in the image but not executable".to_owned()),
                Some(Node::Directory) => Some("is a directory of the image".to_owned()),
                None => Some("is not in the image".to_owned()),
            };
        }
        let search = path_env.unwrap_or(DEFAULT_PATH);
        let found = search
            .split(':')
            .filter(|dir| dir.starts_with('/'))
            .any(|dir| self.find(&format!("{dir}/{program}")) == Some(Node::File { executable: true }));
        (!found).then(|| format!("is not on the image's PATH ({search})"))
    }
}

fn components(path: &str) -> impl DoubleEndedIterator<Item = String> + '_ {
    path.split('/').map(str::to_owned)
}

/// A shell entrypoint that ends by running the Cmd (`sh -ec 'SCRIPT; exec "$@"'`,
/// how preStart runs): the Cmd's first word is then a program too.
fn entrypoint_execs_cmd(entrypoint: &[String]) -> bool {
    matches!(entrypoint, [_, flags, script, ..] if flags.starts_with('-') && flags.contains('c') && script.trim_end().ends_with("exec \"$@\""))
}

/// The programs of `spec` that would not start in the image made of `closure`
/// and its files: the Entrypoint's first word, and the Cmd's when it is the
/// program (no Entrypoint, or one that execs it). Each problem is a sentence.
pub fn missing(spec: &ImageSpec, closure: &[PathBuf]) -> Vec<String> {
    let tree = ImageTree::new(spec, closure);
    let c = &spec.config;
    let path_env = c.env.iter().rev().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_str());
    let mut programs = Vec::new();
    if let Some(program) = c.entrypoint.first() {
        programs.push(("Entrypoint", program));
    }
    if c.entrypoint.is_empty() || entrypoint_execs_cmd(&c.entrypoint) {
        if let Some(program) = c.cmd.first() {
            programs.push(("Cmd", program));
        }
    }
    programs
        .into_iter()
        .filter_map(|(role, program)| {
            let why = tree.problem(program, path_env, c.working_dir.as_deref())?;
            Some(format!(
                "the {role} program {program:?} {why}: the image holds only the closure of the service's `package` and `path` \
                 (and its config files), so add the package that provides it there, or name a program that is"
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{ImageConfig, ImageFile};
    use std::os::unix::fs::{symlink, PermissionsExt};

    /// A fake store: `aaa-tools/bin/{tool (executable), data (not), sh -> tool,
    /// env -> /nix/store/bbb-more/bin/env}` and `bbb-more/bin/env`.
    fn store(root: &Path) -> Vec<PathBuf> {
        let tools = root.join("aaa-tools");
        let more = root.join("bbb-more");
        std::fs::create_dir_all(tools.join("bin")).unwrap();
        std::fs::create_dir_all(more.join("bin")).unwrap();
        for (file, mode) in [(tools.join("bin/tool"), 0o555), (tools.join("bin/data"), 0o444), (more.join("bin/env"), 0o555)] {
            std::fs::write(&file, "x").unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        symlink("tool", tools.join("bin/sh")).unwrap();
        symlink("/nix/store/bbb-more/bin/env", tools.join("bin/env")).unwrap();
        symlink("loop", tools.join("bin/loop")).unwrap();
        vec![tools, more]
    }

    fn spec(entrypoint: &[&str], cmd: &[&str], path: Option<&str>) -> ImageSpec {
        let strings = |s: &[&str]| s.iter().map(|w| w.to_string()).collect();
        ImageSpec {
            config: ImageConfig {
                entrypoint: strings(entrypoint),
                cmd: strings(cmd),
                env: path.map(|p| ("PATH".to_owned(), p.to_owned())).into_iter().collect(),
                working_dir: Some("/srv".into()),
                ..Default::default()
            },
            files: vec![ImageFile { path: "/srv/run.sh".into(), contents: vec![], mode: 0o555, private: false }],
            ..Default::default()
        }
    }

    #[test]
    fn programs_resolve_like_a_container_runtime() {
        let tmp = tempfile::tempdir().unwrap();
        let closure = store(tmp.path());
        let on_path = Some("/nix/store/aaa-tools/bin");
        for cmd in ["tool", "sh", "env", "/nix/store/aaa-tools/bin/sh", "/nix/store/aaa-tools/bin/../bin/env", "./run.sh", "/srv/run.sh"] {
            assert_eq!(missing(&spec(&[], &[cmd, "arg"], on_path), &closure), Vec::<String>::new(), "{cmd}");
        }
        let problem = |cmd: &str, path: Option<&str>| missing(&spec(&[], &[cmd], path), &closure).join("\n");
        assert!(problem("/bin/sh", on_path).contains("the Cmd program \"/bin/sh\" is not in the image"));
        assert!(problem("sh", None).contains("is not on the image's PATH (/usr/local/sbin:"), "{}", problem("sh", None));
        assert!(problem("data", on_path).contains("is not on the image's PATH"));
        assert!(problem("/nix/store/aaa-tools/bin/data", on_path).contains("is in the image but not executable"));
        assert!(problem("/nix/store/aaa-tools/bin", on_path).contains("is a directory"));
        assert!(problem("/nix/store/aaa-tools/bin/loop", on_path).contains("is not in the image"), "a symlink loop ends");
        assert!(problem("/nix/store/ccc-absent/bin/x", on_path).contains("is not in the image"));
    }

    #[test]
    fn the_entrypoint_is_checked_and_the_cmd_when_the_entrypoint_runs_it() {
        let tmp = tempfile::tempdir().unwrap();
        let closure = store(tmp.path());
        let pre_start = ["sh", "-ec", "mkdir -p /tmp/a\nexec \"$@\"", "web preStart"];
        let found = missing(&spec(&pre_start, &["ghost"], None), &closure);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("the Entrypoint program \"sh\""), "{found:?}");
        assert!(found[1].starts_with("the Cmd program \"ghost\""), "{found:?}");
        assert!(missing(&spec(&pre_start, &["tool"], Some("/nix/store/aaa-tools/bin")), &closure).is_empty());
        // An entrypoint that takes the Cmd as its arguments: the Cmd is not a program.
        assert!(missing(&spec(&["/nix/store/aaa-tools/bin/tool"], &["--port", "80"], None), &closure).is_empty());
    }
}
