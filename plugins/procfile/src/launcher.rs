//! The launcher script `<binDir>/<name>` of one service: POSIX `sh` that
//! prepares what the service expects, then `exec`s its argv.
//!
//! Order, and why:
//! 1. volumes and the working directory are created, the launcher `cd`s
//!    into the working directory, config files are written: all with the
//!    environment honcho/foreman gave (so a service `env.PATH` cannot hide
//!    `mkdir` or `cp`);
//! 2. `PORT_<NAME>`/`PORT` for `ports`, then `env`, then the package's and `path` entries' bin/
//!    prepended to `PATH`;
//! 3. `preStart` with `/bin/sh -ec`, in the working directory and with the
//!    service's environment; its failure stops the launcher (`set -e`);
//! 4. `exec` of argv, so the service gets the launcher's pid and signals
//!    (a one-shot service runs, then the launcher `exec`s a long `sleep`).

use nix2dream_plugin_kit::diagnostics::error;
use nix2dream_plugin_kit::shell::{is_env_name, quote, quote_words};
use crate::settings::ServiceSettings;
use nix2dream_plugin_kit::{Diagnostic, FileContent, Secret, Service, VolumeSource};

/// Shellcheck codes about literal data inside single quotes (`$` or a
/// backtick in a value, a backslash before a closing quote, typographic
/// quotes). The launcher single-quotes every piece of data on purpose.
const DATA_ONLY_CHECKS: &str = "SC1003,SC1110,SC1111,SC1112,SC2016";

/// Makes `s` safe inside a one-line `#` comment: control characters become
/// spaces.
pub fn comment_text(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Whether `path` lies inside the service's working directory or a volume:
/// directories the launcher creates for the service itself.
fn inside_own_directories(service: &Service, path: &str) -> bool {
    let inside = |dir: &str| {
        let dir = dir.trim_end_matches('/');
        path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/')) && !path.split('/').any(|part| part == "..")
    };
    service.working_directory.iter().map(String::as_str).chain(service.volumes.iter().map(|v| v.path.as_str())).any(inside)
}

/// The launcher script of `service`, or the errors that prevent writing one.
pub fn render(deployment: &str, service: &Service, secrets: &[Secret], settings: &ServiceSettings) -> Result<String, Vec<Diagnostic>> {
    let name = service.name.as_str();
    let mut errors = Vec::new();
    let mut err = |option: &str, message: String| errors.push(error(name, option, message));

    // --- checks: everything that would make the script wrong or unrunnable.
    match service.argv.first() {
        None => err("process.argv", "process.argv is empty: there is no command to run".into()),
        Some(cmd) if cmd.is_empty() => err("process.argv", "process.argv[0] (the command) is empty".into()),
        Some(cmd) if cmd.starts_with('-') => err(
            "process.argv",
            format!("process.argv[0] {cmd:?} starts with '-': sh's exec would take it for an option; give a path such as ./{cmd}"),
        ),
        Some(_) => {}
    }
    if service.argv.iter().any(|a| a.contains('\0')) {
        err("process.argv", "process.argv contains a NUL character, which no program can receive".into());
    }
    for var in &service.env {
        if !is_env_name(&var.name) {
            err("env", format!("{:?} is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)", var.name));
        }
        if var.value.contains('\0') {
            err("env", format!("the value of {} contains a NUL character", var.name));
        }
    }
    if let Some(package) = &service.package {
        if package.is_empty() || package.contains(':') || package.contains('\0') {
            err("package", format!("package {package:?} cannot go on PATH (it is empty or contains ':' or NUL)"));
        }
    }
    for entry in &service.path {
        if entry.is_empty() || entry.contains(':') || entry.contains('\0') {
            err("path", format!("path entry {entry:?} cannot go on PATH (it is empty or contains ':' or NUL)"));
        }
    }
    if let Some(dir) = &service.working_directory {
        if !dir.starts_with('/') || dir.contains('\0') {
            err("workingDirectory", format!("workingDirectory {dir:?} must be an absolute path"));
        }
    }
    for volume in &service.volumes {
        if !volume.path.starts_with('/') || volume.path.contains('\0') {
            err("volumes", format!("volume {:?}: path {:?} must be an absolute path", volume.name, volume.path));
        }
        if let VolumeSource::HostPath(host) = &volume.source {
            if host.trim_end_matches('/') != volume.path.trim_end_matches('/') {
                err(
                    "volumes.hostPath",
                    format!(
                        "volume {:?}: the processes run on this machine without mount namespaces, so {host} cannot \
                         appear at {}: mount it at its own path (path = hostPath)",
                        volume.name, volume.path
                    ),
                );
            }
        }
    }
    for file in &service.config_files {
        if file.path.is_empty() || file.path.ends_with('/') || file.path.contains('\0') {
            err("configData", format!("configData {:?}: path {:?} does not name a file", file.name, file.path));
        } else if file.path.starts_with('/') && !settings.allow_host_config_paths && !inside_own_directories(service, &file.path) {
            // The launcher deletes and rewrites the file at every start: on
            // the host itself (e.g. /etc/…) that is the user's own file.
            err(
                "configData",
                format!(
                    "configData {:?}: {} is outside the working directory and volumes; the launcher would delete and \
                     rewrite it on this machine at every start. Give a path relative to the working directory, or set \
                     managers.procfile.allowHostConfigPaths = true to write it there anyway",
                    file.name, file.path
                ),
            );
        }
        match &file.content {
            FileContent::Text(text) if text.contains('\0') => err(
                "configData",
                format!("configData {:?}: text contains a NUL character; use source for binary files", file.name),
            ),
            FileContent::Source(src) if src.is_empty() || src.contains('\0') => {
                err("configData", format!("configData {:?}: source {src:?} is not a path", file.name))
            }
            _ => {}
        }
    }
    // Secrets: where each value comes from when the launcher runs.
    let mut secret_lines = Vec::new();
    for using in &service.secrets {
        let Some(secret) = secrets.iter().find(|s| s.name == using.secret) else { continue };
        let value = match (&secret.file, &secret.environment) {
            (Some(file), _) => format!("\"$(cat -- {})\"", quote(file)),
            (None, Some(var)) => format!("\"${{{var}:?the secret {} comes from {var}: set it}}\"", comment_text(&secret.name).replace(['"', '}', '$', '`', '\\'], "")),
            (None, None) => {
                err("secrets", format!("secrets.{:?}: a Procfile reads a secret from a file or from honcho's environment: give secrets.{0:?}.file or .environment", secret.name));
                continue;
            }
        };
        match (&using.env, &using.path) {
            (Some(var), _) if is_env_name(var) => secret_lines.push(format!("{var}={value}\nexport {var}")),
            (Some(var), _) => err("secrets", format!("{var:?} is not a valid environment variable name")),
            (None, Some(path)) if secret.file.as_deref() == Some(path.as_str()) => {}
            (None, Some(path)) if path.starts_with('/') && (settings.allow_host_config_paths || inside_own_directories(service, path)) => {
                if let Some((parent, _)) = path.rsplit_once('/').filter(|(p, _)| !p.is_empty()) {
                    secret_lines.push(format!("mkdir -p -- {}", quote(parent)));
                }
                let write = match &secret.file {
                    Some(_) => format!("cat -- {} > {}", quote(secret.file.as_deref().unwrap_or_default()), quote(path)),
                    None => format!("printf '%s' {value} > {}", quote(path)),
                };
                secret_lines.push(format!("(umask 077 && rm -f -- {0} && {write})", quote(path)));
            }
            (None, Some(path)) => err(
                "secrets",
                format!(
                    "secrets.{:?}: {path} is outside the working directory and volumes; the launcher would write it on this \
                     machine at every start. Give a path inside them, the secret's own file as the path, or set \
                     managers.procfile.allowHostConfigPaths = true",
                    using.secret
                ),
            ),
            (None, None) => {}
        }
    }
    if service.pre_start.as_deref().is_some_and(|s| s.contains('\0')) {
        err("preStart", "preStart contains a NUL character".into());
    }
    let port_vars = match crate::ports::env_vars(name, &service.ports) {
        Ok(vars) => vars,
        Err(mut port_errors) => {
            errors.append(&mut port_errors);
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }

    // --- the script.
    let mut s = String::new();
    let mut line = |text: &str| {
        s.push_str(text);
        s.push('\n');
    };
    line("#!/bin/sh");
    line(&format!("# Launcher of service {name} of deployment {}.", comment_text(deployment)));
    line("# Generated by nix2dream's procfile manager: edit the deployment, not this file.");
    line("# Data below is single-quoted on purpose, so shellcheck's notes about it do not apply:");
    line(&format!("# shellcheck disable={DATA_ONLY_CHECKS}"));
    if let Some(description) = &service.description {
        line("#");
        // `# | ` keeps a description line from ever reading as a shellcheck directive.
        for text in description.lines() {
            line(format!("# | {}", comment_text(text)).trim_end());
        }
    }
    line("set -eu");

    if !service.volumes.is_empty() {
        line("");
        line("# volumes");
        for volume in &service.volumes {
            match &volume.source {
                VolumeSource::Own => {}
                VolumeSource::Shared(name) => line(&format!("# the deployment's volume {}", comment_text(name))),
                VolumeSource::HostPath(_) => line("# a directory of this machine"),
            }
            line(&format!("mkdir -p -- {}", quote(&volume.path)));
        }
    }
    if let Some(dir) = &service.working_directory {
        line("");
        line("# workingDirectory");
        line(&format!("mkdir -p -- {}", quote(dir)));
        line(&format!("cd -- {}", quote(dir)));
    }
    if !service.config_files.is_empty() {
        line("");
        line("# configData (relative paths are relative to the working directory)");
        for file in &service.config_files {
            let target = quote(&file.path);
            if let Some((parent, _)) = file.path.rsplit_once('/') {
                if !parent.is_empty() {
                    line(&format!("mkdir -p -- {}", quote(parent)));
                }
            }
            // Removed first: a copy from the Nix store is read-only, and
            // the next start must be able to replace it.
            line(&format!("rm -f -- {target}"));
            match &file.content {
                FileContent::Text(text) => line(&format!("printf '%s' {} > {target}", quote(text))),
                FileContent::Source(src) => line(&format!("cp -- {} {target}", quote(src))),
            }
        }
    }

    // The package's bin/ comes first on PATH, then the `path` entries.
    let bin_dirs: Vec<&String> = service.package.iter().chain(&service.path).collect();
    let has_env = !port_vars.is_empty() || !service.env.is_empty() || !bin_dirs.is_empty();
    if has_env {
        line("");
        line("# environment: ports, env, then package and path");
    }
    for (var, value) in &port_vars {
        line(&format!("export {var}={}", quote(value)));
    }
    for var in &service.env {
        line(&format!("export {}={}", var.name, quote(&var.value)));
    }
    if !secret_lines.is_empty() {
        line("");
        line("# secrets (read now: their values are not in this file)");
        for text in &secret_lines {
            line(text);
        }
    }
    if !bin_dirs.is_empty() {
        let dirs: Vec<String> =
            bin_dirs.iter().map(|entry| quote(&format!("{}/bin", entry.trim_end_matches('/')))).collect();
        line(&format!("export PATH={}${{PATH:+:$PATH}}", dirs.join(":")));
    }

    if let Some(script) = &service.pre_start {
        line("");
        line("# preStart");
        line(&format!("/bin/sh -ec {} {}", quote(script), quote(&format!("{name} preStart"))));
    }

    line("");
    if service.one_shot {
        // honcho and foreman stop every process once one exits: after a
        // success the launcher stays, idle, until the stack is stopped
        // (a failure still exits, through `set -e`, and stops the stack).
        line("# oneShot: runs to completion, then waits to be stopped");
        line(&quote_words(&service.argv));
        line(&format!("echo {} >&2", quote(&format!("{name}: completed"))));
        line("exec sleep 2147483647");
    } else {
        line(&format!("exec {}", quote_words(&service.argv)));
    }
    Ok(s)
}
