//! Turning plugins' image requests into image archives: the host reads what
//! plugins cannot (config file sources in the Nix store, the closure) and
//! assembles each image with [`crate::image`], spooled into the output
//! directory's stage folder (`OutputDir::spool_dir`) until the output is
//! switched: a render that fails or is interrupted leaves no archive behind,
//! and one killed outright leaves them to the next run, which removes them.
//!
//! Plugins are untrusted, and here the host reads files on their behalf: it
//! reads only what the deployment itself names (closure roots, packages,
//! `path` entries, config file sources, and what lies inside them), so a
//! plugin cannot bake `/etc/shadow` or `~/.ssh` into an image.

use crate::deployment::Deployment;
use crate::image::{self, ImageConfig, ImageFile, ImageSpec};
use crate::output::{Contents, OutFile};
use crate::plugin::wit::latest::{FileContent, Protocol};
use crate::render::PendingImage;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// At most this many layers per image; the rest of the closure is merged.
pub const MAX_LAYERS: usize = 100;

/// Default bound on the total size of one render's image archives: a plugin
/// that asks for the same closure thousands of times must not fill the disk.
pub const DEFAULT_IMAGE_LIMIT_MIB: u64 = 16 << 10;

/// The paths a deployment names, below which plugins may have the host read.
pub(crate) struct Readable {
    roots: Vec<PathBuf>,
}

impl Readable {
    pub(crate) fn of(deployment: &Deployment) -> Readable {
        let mut roots = Vec::new();
        for s in deployment.services.values() {
            let sources = s.config_data.values().filter_map(|c| c.source.as_ref());
            for p in s.closure_roots.iter().chain(&s.package).chain(&s.path).chain(sources) {
                let p = Path::new(p);
                // Only absolute paths: "" or "." would otherwise admit everything.
                if !p.is_absolute() {
                    continue;
                }
                // Canonical, like what it is compared with; a missing path stays
                // as written (reading below it fails anyway).
                roots.push(p.canonicalize().unwrap_or_else(|_| p.to_owned()));
            }
        }
        Readable { roots }
    }

    /// `path`, resolved (symlinks included), when it lies in what the deployment names.
    pub(crate) fn check(&self, path: &str, what: &str) -> Result<PathBuf> {
        let resolved = Path::new(path).canonicalize().with_context(|| format!("{what} {path} cannot be read (is it in the Nix store? build it first)"))?;
        if !self.roots.iter().any(|root| resolved.starts_with(root)) {
            bail!("{what} {path} is not part of the deployment (not a closure root, package, path entry or config file source, nor inside one): refused, a plugin may only put into an image what the deployment names");
        }
        Ok(resolved)
    }
}

fn spec_of(pending: &PendingImage, readable: &Readable) -> Result<ImageSpec> {
    let r = &pending.request;
    for store_path in &r.store_paths {
        readable.check(store_path, "store path")?;
    }
    let files = r
        .files
        .iter()
        .map(|f| {
            // A `source` may be a secret kept out of the store (a key, a
            // password file): readable by the service's group only, never by
            // every user of the container. Text is in the deployment for all
            // to read anyway, and /etc/passwd must stay world-readable.
            let (contents, private) = match &f.content {
                FileContent::Text(text) => (text.clone().into_bytes(), false),
                FileContent::Source(source) => {
                    let what = format!("file {} of the image: source", f.path);
                    (std::fs::read(readable.check(source, &what)?).with_context(|| format!("{what} {source} cannot be read"))?, true)
                }
            };
            let mode = match (private, f.executable) {
                (false, false) => 0o444,
                (false, true) => 0o555,
                (true, false) => 0o440,
                (true, true) => 0o550,
            };
            Ok(ImageFile { path: f.path.clone(), contents, mode, private })
        })
        .collect::<Result<Vec<_>>>()?;
    let c = &r.config;
    Ok(ImageSpec {
        name: r.name.clone(),
        tag: r.tag.clone(),
        config: ImageConfig {
            entrypoint: c.entrypoint.clone(),
            cmd: c.cmd.clone(),
            env: c.env.iter().map(|e| (e.name.clone(), e.value.clone())).collect(),
            exposed_ports: c
                .exposed_ports
                .iter()
                .map(|p| (p.port, match p.protocol { Protocol::Tcp => "tcp", Protocol::Udp => "udp" }.to_owned()))
                .collect(),
            user: c.user.clone(),
            working_dir: c.working_dir.clone(),
            labels: c.labels.iter().cloned().collect(),
            volumes: c.volumes.clone(),
            stop_signal: c.stop_signal.clone(),
            shared_dirs: c.shared_directories.clone(),
        },
        store_paths: r.store_paths.clone(),
        files,
        max_layers: MAX_LAYERS,
    })
}

/// Which image of which plugin, for error messages.
fn describe(pending: &PendingImage) -> String {
    format!("{}: image {}:{} ({})", pending.plugin, pending.request.name, pending.request.tag, pending.path)
}

/// A program an image would start that is not in it.
pub struct ImageWarning {
    /// `name@version` of the plugin that asked for the image.
    pub plugin: String,
    /// The service the image is for, when the plugin labelled it.
    pub service: Option<String>,
    /// The whole sentence, naming the plugin, the image and the service.
    pub text: String,
}

/// The images of a render, spooled, and what assembling them found.
pub struct BuiltImages {
    pub files: Vec<OutFile>,
    /// Programs an image would start that are not in it, one sentence each
    /// naming the plugin, the image and the service.
    pub warnings: Vec<ImageWarning>,
    /// Their total size, which the image limit bounds (VM roots share it).
    pub bytes: u64,
}

/// Builds every pending image of a render of `deployment` into `spool` and
/// returns them as files to write; fails once their total size passes
/// `limit_bytes`. Requests that share a path become one archive holding
/// each of their images, each layer once. An archive asked for again
/// (`--plugin docker --plugin compose`: the same service, the same image)
/// is assembled once; the others are hard links to it, and count once
/// against the limit.
///
/// `unchanged` maps output paths to the key of the archive the last render
/// wrote there, still in place (`OutputDir::unchanged_files`; empty for
/// `--check`, which compares bytes): an archive whose key is the same is
/// kept as it is, not built again. `measured`: the layers whose digests are
/// known (from earlier renders), and those measured now; `known`: the
/// closures found by earlier renders into this directory, and those found now.
pub fn build_all(
    images: &[PendingImage],
    deployment: &Deployment,
    spool: &Path,
    limit_bytes: u64,
    unchanged: &BTreeMap<String, String>,
    measured: &mut image::MeasuredLayers,
    known: &mut image::KnownClosures,
) -> Result<BuiltImages> {
    let mut built = BuiltImages { files: Vec::new(), warnings: Vec::new(), bytes: 0 };
    if images.is_empty() {
        return Ok(built);
    }
    // Resolved only when some plugin asked for images: it touches the disk.
    let readable = Readable::of(deployment);
    let specs = images.iter().map(|pending| spec_of(pending, &readable).with_context(|| describe(pending))).collect::<Result<Vec<_>>>()?;
    // One closure query for the whole render, not one per image, and none
    // for the roots an earlier render into this directory found.
    let image_roots: Vec<Vec<String>> = specs
        .iter()
        .map(|spec| {
            let mut roots = spec.store_paths.clone();
            roots.sort();
            roots.dedup();
            roots
        })
        .collect();
    let found_before: Vec<Option<Vec<PathBuf>>> = image_roots.iter().map(|roots| known.get(roots)).collect();
    let mut roots: Vec<String> = image_roots.iter().zip(&found_before).filter(|(_, c)| c.is_none()).flat_map(|(r, _)| r.iter().cloned()).collect();
    roots.sort();
    roots.dedup();
    let graph = image::StoreGraph::query(&roots);
    let mut closures = Vec::with_capacity(specs.len());
    for (((pending, spec), roots), before) in images.iter().zip(&specs).zip(&image_roots).zip(found_before) {
        let closure = match before {
            Some(closure) => closure,
            None => {
                let found = image::closure_of(spec, graph.as_ref()).with_context(|| describe(pending))?;
                if !roots.is_empty() {
                    known.record(roots, &found);
                }
                found
            }
        };
        closures.push(closure);
    }
    // The archives, in the order their paths were first asked for; an
    // image asked for twice at one path is in it once.
    let mut archives: Vec<(&str, Vec<usize>)> = Vec::new();
    let mut by_path: HashMap<&str, usize> = HashMap::new();
    let mut by_reference: HashMap<(&str, &str, &str), usize> = HashMap::new();
    for (i, pending) in images.iter().enumerate() {
        let n = *by_path.entry(&pending.path).or_insert_with(|| {
            archives.push((&pending.path, Vec::new()));
            archives.len() - 1
        });
        let r = &pending.request;
        if let Some(&other) = by_reference.get(&(pending.path.as_str(), r.name.as_str(), r.tag.as_str())) {
            if specs[other] != specs[i] {
                bail!("{}: another image of the same name and tag, but different, is asked for in the same archive: give each image its own name or tag", describe(pending));
            }
            continue;
        }
        by_reference.insert((&pending.path, &r.name, &r.tag), i);
        archives[n].1.push(i);
    }
    let progress = crate::progress::counted("assembling images", archives.len() as u64);
    // What each distinct archive became: its file, and each image's missing programs.
    let mut assembled: HashMap<Vec<&ImageSpec>, (PathBuf, Vec<Vec<String>>)> = HashMap::new();
    for (n, (path, members)) in archives.iter().enumerate() {
        // (An archive of many images is named by its path, not by each image.)
        let what = || match members[..] {
            [one] => describe(&images[one]),
            _ => format!("{}: {} images in one archive ({path})", images[members[0]].plugin, members.len()),
        };
        progress.at(n as u64, path);
        crate::interrupt::checkpoint();
        crate::output::fault_step("building an image").with_context(what)?;
        let dest = spool.join(format!("i{n}"));
        let inputs: Vec<(&ImageSpec, &[PathBuf])> = members.iter().map(|&i| (&specs[i], closures[i].as_slice())).collect();
        let key = image::archive_key(&inputs);
        let distinct: Vec<&ImageSpec> = inputs.iter().map(|(spec, _)| *spec).collect();
        let (contents, missing) = if unchanged.get(*path) == Some(&key) {
            (Contents::Kept(key), inputs.iter().map(|(spec, closure)| image::missing_programs(spec, closure)).collect())
        } else if let Some((first, missing)) = assembled.get(&distinct) {
            std::fs::hard_link(first, &dest).with_context(|| format!("{}: linking to the same archive at {}", what(), first.display()))?;
            (Contents::Spooled(dest.clone(), Some(key)), missing.clone())
        } else {
            let images_built = image::build_shared_archive(&inputs, &dest, measured).with_context(what)?;
            built.bytes += images_built[0].bytes;
            if built.bytes > limit_bytes {
                bail!(
                    "{}: the {} image archive(s) built so far take {} MiB, over the image limit of {} MiB (raise it with --image-limit MIB)",
                    what(),
                    assembled.len() + 1,
                    built.bytes >> 20,
                    limit_bytes >> 20
                );
            }
            let missing: Vec<Vec<String>> = images_built.into_iter().map(|b| b.missing_programs).collect();
            assembled.insert(distinct, (dest.clone(), missing.clone()));
            (Contents::Spooled(dest.clone(), Some(key)), missing)
        };
        for (&i, missing) in members.iter().zip(&missing) {
            let pending = &images[i];
            // The kit labels each image with its service; a third-party plugin may not.
            let service = pending.request.config.labels.iter().find(|(k, _)| k == "dev.nix2dream.service");
            let subject = match service {
                Some((_, name)) => format!("{}: service {name:?}: image {}", pending.plugin, pending.request.name),
                None => format!("{}: image {}", pending.plugin, pending.request.name),
            };
            built.warnings.extend(missing.iter().map(|problem| ImageWarning {
                plugin: pending.plugin_id.clone(),
                service: service.map(|(_, name)| name.clone()),
                text: format!("{subject}: {problem}"),
            }));
        }
        let first = &images[members[0]];
        built.files.push(OutFile { path: path.to_string(), contents, executable: false, origin: first.plugin.clone() });
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::Readable;
    use crate::deployment;

    fn readable(service: &str) -> Readable {
        let mut d = deployment::from_json(&format!(r#"{{"schema":"nix2dream/v1","name":"t","services":{{"a":{service}}}}}"#)).unwrap();
        // Loading refuses relative entries; this defence holds without that check.
        d.services.get_mut("a").unwrap().path.extend(["".to_owned(), ".".to_owned()]);
        Readable::of(&d)
    }

    #[test]
    fn only_what_the_deployment_names_is_readable() {
        let tmp = tempfile::tempdir().unwrap();
        let named = tmp.path().join("named");
        std::fs::create_dir(&named).unwrap();
        std::fs::write(named.join("inside"), "x").unwrap();
        std::fs::write(tmp.path().join("beside"), "x").unwrap();
        let r = readable(&format!(r#"{{"process":{{"argv":["x"]}},"path":["{}"]}}"#, named.display()));
        assert!(r.check(named.join("inside").to_str().unwrap(), "file").is_ok());
        let e = r.check(tmp.path().join("beside").to_str().unwrap(), "file").unwrap_err().to_string();
        assert!(e.contains("is not part of the deployment"), "{e}");
        assert!(r.check("/etc/passwd", "file").is_err(), "an empty or relative path entry must not admit everything");
    }
}
