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

pub use crate::messages::{Message, RenderFailed};

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
    /// `plugin name@version`, for messages.
    pub plugin: String,
    /// `name@version`.
    pub plugin_id: String,
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

fn diagnostic_message(plugin: &Plugin, d: &crate::plugin::Diagnostic) -> Message {
    let mut text = plugin.label();
    if let Some(service) = &d.service {
        text += &format!(": service {service:?}");
    }
    if let Some(option) = &d.option_name {
        text += &format!(": `{}`", printable(option));
    }
    Message {
        severity: d.severity,
        plugin: Some(plugin.id()),
        service: d.service.clone(),
        option: d.option_name.clone(),
        text: format!("{text}: {}", printable(&d.message)),
        unsupported: false,
    }
}

/// An error of the plugin as a whole (no service or option).
fn plugin_error(plugin: &Plugin, text: String) -> Message {
    Message { severity: Severity::Error, plugin: Some(plugin.id()), service: None, option: None, text, unsupported: false }
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
        for item in ignored {
            let text = capability::describe(&item, &plugin.label());
            let (severity, text) = if options.strict { (Severity::Error, format!("{text} [--strict]")) } else { (Severity::Warning, text) };
            let message = Message { severity, plugin: Some(plugin.id()), service: Some(item.service), option: Some(item.option), text, unsupported: true };
            if options.strict { errors.push(message) } else { messages.push(message) }
        }
        // Its settings, checked against its schema here, once for every plugin.
        let invalid = crate::settings::check(deployment, &plugin.info.name, &plugin.info.settings_schema);
        if !invalid.is_empty() {
            errors.extend(invalid.into_iter().map(|p| Message { service: p.service, ..plugin_error(plugin, format!("{}: {}", plugin.label(), p.text)) }));
            continue;
        }
        // Service addresses as this manager's services reach each other.
        let addressed = crate::addresses::resolve(deployment, plugin.info.addressing);
        let rendered = match plugin.render(&addressed, &bins)? {
            Ok(rendered) => rendered,
            Err(diagnostics) => {
                // Whatever severity the plugin gave them, they made it fail.
                errors.extend(diagnostics.iter().map(|d| Message { severity: Severity::Error, ..diagnostic_message(plugin, d) }));
                if diagnostics.is_empty() {
                    errors.push(plugin_error(plugin, format!("{}: render failed without saying why", plugin.label())));
                }
                continue;
            }
        };
        for d in &rendered.diagnostics {
            let message = diagnostic_message(plugin, d);
            match d.severity {
                Severity::Error => errors.push(message),
                _ => messages.push(message),
            }
        }
        let prefix = if plugins.len() > 1 { format!("{}/", plugin.info.name) } else { String::new() };
        let label = plugin.label();
        for artifact in rendered.artifacts {
            match artifact {
                Artifact::File(f) => {
                    if let Err(e) = paths::checked(&f.path) {
                        errors.push(plugin_error(plugin, format!("{}: refused artifact path: {e}", plugin.label())));
                        continue;
                    }
                    files.push(OutFile { path: prefix.clone() + &f.path, contents: Contents::Bytes(f.contents), executable: f.executable, origin: label.clone() });
                }
                Artifact::Image(request) => {
                    if let Err(e) = paths::checked(&request.path) {
                        errors.push(plugin_error(plugin, format!("{}: refused image path: {e}", plugin.label())));
                        continue;
                    }
                    images.push(PendingImage { path: prefix.clone() + &request.path, plugin: plugin.label(), plugin_id: plugin.id(), request });
                }
                Artifact::VmRoot(request) => {
                    if let Err(e) = paths::checked(&request.path) {
                        errors.push(plugin_error(plugin, format!("{}: refused VM root path: {e}", plugin.label())));
                        continue;
                    }
                    vm_roots.push(PendingVmRoot { path: prefix.clone() + &request.path, plugin: plugin.label(), plugin_name: plugin.info.name.clone(), request });
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(RenderFailed { errors }.into());
    }
    Ok(Outcome { files, images, vm_roots, messages })
}

/// What assembling the images found (a program an image would start is not
/// in it): warnings, or with `--strict` an error, before anything is written.
pub fn image_warnings(warnings: &[crate::image_requests::ImageWarning], options: &Options) -> Result<Vec<Message>> {
    let (severity, mark) = if options.strict { (Severity::Error, " [--strict]") } else { (Severity::Warning, "") };
    let messages: Vec<Message> = warnings
        .iter()
        .map(|w| Message {
            severity,
            plugin: Some(w.plugin.clone()),
            service: w.service.clone(),
            option: None,
            text: printable(&w.text) + mark,
            unsupported: false,
        })
        .collect();
    if options.strict && !messages.is_empty() {
        return Err(RenderFailed { errors: messages }.into());
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::{image_warnings, Options};

    #[test]
    fn image_warnings_are_errors_under_strict() {
        let options = |strict| Options { strict, allow_unsupported: Vec::new() };
        let found = [crate::image_requests::ImageWarning {
            plugin: "docker@0.1.0".into(),
            service: None,
            text: "docker@0.1.0: image x: the Cmd program \"\u{1b}[2Jsh\" is not in the image".into(),
        }];
        let messages = image_warnings(&found, &options(false)).unwrap();
        assert_eq!(messages[0].text, "docker@0.1.0: image x: the Cmd program \"\\u{1b}[2Jsh\" is not in the image");
        let e = image_warnings(&found, &options(true)).unwrap_err().to_string();
        assert!(e.contains("nothing was written") && e.contains("[--strict]"), "{e}");
        assert!(image_warnings(&[], &options(true)).unwrap().is_empty());
    }
}
