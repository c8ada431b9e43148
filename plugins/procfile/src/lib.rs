//! nix2dream's procfile manager: a `Procfile` for honcho or foreman, and one
//! POSIX `sh` launcher script per service that sets up what the service
//! expects (volumes, working directory, config files, environment, preStart)
//! and then `exec`s its command.
//!
//! Services appear in the Procfile sorted by name, so the output does not
//! depend on the order the host lists them in.

mod launcher;
mod ports;
mod procfile;
mod settings;

use nix2dream_plugin_kit::diagnostics::deployment_error;
use nix2dream_plugin_kit::{file, Addressing, Deployment, Diagnostic, Manager, PluginInfo, Rendered, Severity};

/// The core options this manager honours; every other option a service sets
/// gets the host's "unsupported" warning.
pub const SUPPORTED_OPTIONS: &[&str] = &[
    "description",
    "package",
    "process.argv",
    "env",
    "path",
    "workingDirectory",
    "preStart",
    "configData",
    "volumes",
    "volumes.shared",
    "volumes.hostPath",
    "ports",
    "oneShot",
    "secrets",
];

const USAGE: &str = "\
Run from the output directory (the Procfile's commands are relative to it):
  cd OUT && honcho start        (or: cd OUT && foreman start)
One service: cd OUT && honcho start NAME, or run OUT/bin/NAME directly.
Each service runs OUT/<binDir>/<name> (binDir defaults to bin), which creates the volumes and \
the working directory, writes the configData files, exports PORT_<NAME>=<port> for every \
declared port (and PORT when there is exactly one, replacing the port honcho/foreman would pick), \
then env, puts the package's bin/ and then each path entry's bin/ first on PATH, runs preStart with /bin/sh -e and execs \
process.argv (a oneShot service's launcher runs it, then sleeps until the stack stops, since honcho \
stops every process once one exits). Services reach each other on 127.0.0.1. Secrets are read when the \
launcher starts, from secrets.<name>.file or the variable secrets.<name>.environment of honcho's environment, \
into the service's env or a file it only may read (umask 077); their values are never written in OUT. Relative configData paths are relative to the working directory, or to OUT when \
workingDirectory is unset. Settings: settings.procfile.binDir (launcher directory); \
managers.procfile.enable = false leaves a service out.";

/// The procfile manager.
pub struct Procfile;

/// The processes share the machine's file system, without mount namespaces:
/// a deployment volume is one directory, so every service must mount it at
/// the same path.
fn shared_volume_paths(services: &[&nix2dream_plugin_kit::Service]) -> Vec<Diagnostic> {
    let mut first: std::collections::BTreeMap<&str, (&str, &str)> = std::collections::BTreeMap::new();
    let mut errors = Vec::new();
    for s in services {
        for v in &s.volumes {
            let nix2dream_plugin_kit::VolumeSource::Shared(name) = &v.source else { continue };
            match first.get(name.as_str()) {
                None => {
                    first.insert(name, (&s.name, &v.path));
                }
                Some((other, path)) if *path != v.path => errors.push(nix2dream_plugin_kit::diagnostics::error(
                    &s.name,
                    "volumes.shared",
                    format!(
                        "volumes.{}: the deployment's volume {name:?} is at {path} for service {other:?}: processes on one \
                         machine see one directory, so mount it at the same path in every service",
                        v.name
                    ),
                )),
                Some(_) => {}
            }
        }
    }
    errors
}

impl Manager for Procfile {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "procfile".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "A Procfile for honcho or foreman, with one POSIX sh launcher script per service.".to_owned(),
            supported_options: SUPPORTED_OPTIONS.iter().map(|o| (*o).to_owned()).collect(),
            settings_schema: settings::schema(),
            usage: USAGE.to_owned(),
            addressing: Addressing::Loopback,
        }
    }

    fn render(deployment: Deployment) -> Result<Rendered, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let bin_dir = match settings::deployment(&deployment.settings_json) {
            Ok(s) => s.bin_dir,
            Err(mut e) => {
                errors.append(&mut e);
                settings::DEFAULT_BIN_DIR.to_owned()
            }
        };

        let mut services: Vec<_> = deployment.services.iter().collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));

        let mut names = Vec::new();
        let mut artifacts = Vec::new();
        for (i, service) in services.iter().enumerate() {
            let name = service.name.as_str();
            if !procfile::is_process_name(name) {
                errors.push(Diagnostic {
                    severity: Severity::Error,
                    service: Some(name.to_owned()),
                    option_name: None,
                    message: format!(
                        "service name {name:?} cannot be a Procfile process name (allowed: letters, digits, '_', '-')"
                    ),
                });
                continue;
            }
            if i > 0 && services[i - 1].name == service.name {
                errors.push(deployment_error(format!("service {name:?} appears twice")));
                continue;
            }
            let service_settings = match settings::service(name, &service.settings_json) {
                Ok(s) if !s.enable => continue,
                Ok(s) => s,
                Err(mut e) => {
                    errors.append(&mut e);
                    continue;
                }
            };
            match launcher::render(&deployment.name, service, &deployment.secrets, &service_settings) {
                Ok(script) => {
                    artifacts.push(file(format!("{bin_dir}/{name}"), script, true));
                    names.push(name);
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        errors.extend(shared_volume_paths(&services));
        if !errors.is_empty() {
            return Err(errors);
        }

        let mut diagnostics = Vec::new();
        if names.is_empty() {
            diagnostics.push(Diagnostic {
                severity: Severity::Warning,
                service: None,
                option_name: None,
                message: "every service has managers.procfile.enable = false: the Procfile is empty".to_owned(),
            });
        }
        artifacts.insert(0, file(procfile::FILE_NAME, procfile::render(&deployment.name, &bin_dir, &names), false));
        Ok(Rendered { artifacts, diagnostics })
    }
}

nix2dream_plugin_kit::export_manager!(Procfile);
