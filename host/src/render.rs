//! One render: every plugin over the deployment, with capability checks and
//! diagnostics, producing the files to write. Nothing touches the disk here.

use crate::capability;
use crate::deployment::Deployment;
use crate::output::{paths, Contents, OutFile};
use crate::plugin::{Artifact, ImageRequest, Plugin, Severity, VmRootRequest};
use crate::text::printable;
use anyhow::{bail, Result};

pub struct Options {
    pub strict: bool,
    pub allow_unsupported: Vec<String>,
}

/// A message for the user, already naming plugin, service and option.
#[derive(Debug, Clone)]
pub struct Message {
    pub severity: Severity,
    pub text: String,
}

pub struct Outcome {
    pub files: Vec<OutFile>,
    /// Images to assemble from the Nix store (see `image_requests`).
    pub images: Vec<PendingImage>,
    /// VM root file systems to assemble from the Nix store (see `vm_requests`).
    pub vm_roots: Vec<PendingVmRoot>,
    pub messages: Vec<Message>,
}

/// An image a plugin asked for, with its output path already prefixed.
pub struct PendingImage {
    pub path: String,
    pub plugin: String,
    pub request: ImageRequest,
}

/// A VM root file system a plugin asked for, with its output path already prefixed.
pub struct PendingVmRoot {
    pub path: String,
    pub plugin: String,
    /// The plugin's name: its `settings.<name>.kernel` is the kernel it may use.
    pub plugin_name: String,
    pub request: VmRootRequest,
}

fn diagnostic_text(plugin: &Plugin, d: &crate::plugin::Diagnostic) -> String {
    let mut text = plugin.label();
    if let Some(service) = &d.service {
        text += &format!(": service {service:?}");
    }
    if let Some(option) = &d.option_name {
        text += &format!(": `{}`", printable(option));
    }
    format!("{text}: {}", printable(&d.message))
}

/// Renders `deployment` with each plugin. With one plugin its files go to the
/// top of the output directory; with several, under `<plugin name>/`.
pub fn render(deployment: &Deployment, plugins: &[Plugin], options: &Options) -> Result<Outcome> {
    let mut files = Vec::new();
    let mut images = Vec::new();
    let mut vm_roots = Vec::new();
    let mut messages = Vec::new();
    let mut errors = Vec::new();
    // Several plugins render into OUT/<name>/: two of one name would collide.
    for (i, plugin) in plugins.iter().enumerate() {
        if let Some(first) = plugins[..i].iter().find(|p| p.info.name == plugin.info.name) {
            bail!(
                "{} ({}) and {} ({}) have the same name; each plugin renders into OUT/<name>/, so give each plugin once",
                first.label(),
                first.file.display(),
                plugin.label(),
                plugin.file.display()
            );
        }
    }
    // Read from the store only when a plugin takes it (contract 0.3.0 and later).
    let bins = if plugins.iter().any(Plugin::takes_bin_directories) {
        crate::bin_directories::list(deployment)
    } else {
        Default::default()
    };
    for plugin in plugins {
        let ignored = capability::ignored_options(deployment, &plugin.info.supported_options, &options.allow_unsupported);
        for item in &ignored {
            let text = capability::describe(item, &plugin.label());
            if options.strict {
                errors.push(format!("{text} [--strict]"));
            } else {
                messages.push(Message { severity: Severity::Warning, text });
            }
        }
        // Its settings, checked against its schema here, once for every plugin.
        let invalid = crate::settings::check(deployment, &plugin.info.name, &plugin.info.settings_schema);
        if !invalid.is_empty() {
            errors.extend(invalid.into_iter().map(|e| format!("{}: {e}", plugin.label())));
            continue;
        }
        // Service addresses as this manager's services reach each other.
        let addressed = crate::addresses::resolve(deployment, plugin.info.addressing);
        let rendered = match plugin.render(&addressed, &bins)? {
            Ok(rendered) => rendered,
            Err(diagnostics) => {
                errors.extend(diagnostics.iter().map(|d| diagnostic_text(plugin, d)));
                if diagnostics.is_empty() {
                    errors.push(format!("{}: render failed without saying why", plugin.label()));
                }
                continue;
            }
        };
        for d in &rendered.diagnostics {
            let text = diagnostic_text(plugin, d);
            match d.severity {
                Severity::Error => errors.push(text),
                severity => messages.push(Message { severity, text }),
            }
        }
        let prefix = if plugins.len() > 1 { format!("{}/", plugin.info.name) } else { String::new() };
        let label = plugin.label();
        for artifact in rendered.artifacts {
            match artifact {
                Artifact::File(f) => {
                    if let Err(e) = paths::checked(&f.path) {
                        errors.push(format!("{}: refused artifact path: {e}", plugin.label()));
                        continue;
                    }
                    files.push(OutFile { path: prefix.clone() + &f.path, contents: Contents::Bytes(f.contents), executable: f.executable, origin: label.clone() });
                }
                Artifact::Image(request) => {
                    if let Err(e) = paths::checked(&request.path) {
                        errors.push(format!("{}: refused image path: {e}", plugin.label()));
                        continue;
                    }
                    images.push(PendingImage { path: prefix.clone() + &request.path, plugin: plugin.label(), request });
                }
                Artifact::VmRoot(request) => {
                    if let Err(e) = paths::checked(&request.path) {
                        errors.push(format!("{}: refused VM root path: {e}", plugin.label()));
                        continue;
                    }
                    vm_roots.push(PendingVmRoot { path: prefix.clone() + &request.path, plugin: plugin.label(), plugin_name: plugin.info.name.clone(), request });
                }
            }
        }
    }
    if !errors.is_empty() {
        bail!("render failed, nothing was written:\n  {}", errors.join("\n  "));
    }
    Ok(Outcome { files, images, vm_roots, messages })
}

/// What assembling the images found (a program an image would start is not
/// in it): warnings, or with `--strict` an error, before anything is written.
pub fn image_warnings(warnings: &[String], options: &Options) -> Result<Vec<Message>> {
    let texts = warnings.iter().map(|w| printable(w));
    if options.strict && !warnings.is_empty() {
        bail!("render failed, nothing was written:\n  {}", texts.map(|t| t + " [--strict]").collect::<Vec<_>>().join("\n  "));
    }
    Ok(texts.map(|text| Message { severity: Severity::Warning, text }).collect())
}

#[cfg(test)]
mod tests {
    use super::{image_warnings, Options};

    #[test]
    fn image_warnings_are_errors_under_strict() {
        let options = |strict| Options { strict, allow_unsupported: Vec::new() };
        let found = ["docker@0.1.0: image x: the Cmd program \"\u{1b}[2Jsh\" is not in the image".to_owned()];
        let messages = image_warnings(&found, &options(false)).unwrap();
        assert_eq!(messages[0].text, "docker@0.1.0: image x: the Cmd program \"\\u{1b}[2Jsh\" is not in the image");
        let e = image_warnings(&found, &options(true)).unwrap_err().to_string();
        assert!(e.contains("nothing was written") && e.contains("[--strict]"), "{e}");
        assert!(image_warnings(&[], &options(true)).unwrap().is_empty());
    }
}
