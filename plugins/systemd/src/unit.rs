//! One service's unit file (and the config files it binds into place),
//! written from the shared plan (`kit::systemd::plan`).

use crate::settings::DeploymentSettings;
use nix2dream_plugin_kit::systemd::escape::{assignment, command_line, is_plain_path, text};
use nix2dream_plugin_kit::systemd::plan::{create_shared_dirs_command, plan, BindSource, Platform};
use nix2dream_plugin_kit::systemd::{directives::extra_directives, unit_name};
use nix2dream_plugin_kit::{diagnostics, Deployment, Diagnostic, Service};

/// systemd's own PATH for services, kept after the service's directories.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The unit file's name: a template (`name@.service`) when there are replicas.
pub fn file_name(d: &Deployment, svc: &Service) -> String {
    format!("{}.service", unit_name(d, svc))
}

pub struct Rendered {
    pub unit: String,
    /// Config files with text content: (path under OUT, contents).
    pub config_files: Vec<(String, String)>,
    pub warnings: Vec<Diagnostic>,
}

/// Lines of one section, as `Key=value`.
#[derive(Default)]
struct Section(Vec<String>);

impl Section {
    fn set(&mut self, key: &str, value: impl AsRef<str>) {
        self.0.push(format!("{key}={}", value.as_ref()));
    }
}

/// Where a text config file goes under OUT: `config/<service>/<name>`, where
/// the name may hold `/` (`ssl/cert.pem`) but no empty, `.` or `..` part.
fn config_text_path(svc: &Service, name: &str) -> Option<String> {
    let parts_ok = name.split('/').all(|part| !part.is_empty() && part != "." && part != "..");
    let path = format!("config/{}/{name}", svc.name);
    (parts_ok && is_plain_path(&path)).then_some(path)
}

pub fn render(d: &Deployment, svc: &Service, settings: &DeploymentSettings) -> Result<Rendered, Vec<Diagnostic>> {
    let extra = extra_directives("systemd", &svc.name, &svc.settings_json, &["Unit", "Service", "Install"]);
    let plan = match (plan(d, svc, &Platform { manager_sets_path: false }), extra) {
        (Ok(plan), Ok(extra)) => (plan, extra),
        (plan, extra) => return Err(plan.err().into_iter().flatten().chain(extra.err()).collect()),
    };
    let (plan, extra) = plan;
    let mut errors = Vec::new();
    let (mut unit, mut service, mut install) = (Section::default(), Section::default(), Section::default());
    let mut config_files = Vec::new();

    unit.set("Description", text(&plan.description));
    unit.set("PartOf", format!("{}.target", d.name));
    if !plan.after.is_empty() {
        unit.set("After", plan.after.join(" "));
        unit.set("Requires", plan.after.join(" "));
    }

    service.set("Type", plan.service_type);
    if plan.service_type == "oneshot" {
        service.set("RemainAfterExit", "yes");
    }
    if !plan.path_dirs.is_empty() {
        let dirs: Vec<String> = plan.path_dirs.iter().map(|p| format!("{p}/bin")).collect();
        service.set("Environment", assignment("PATH", &format!("{}:{DEFAULT_PATH}", dirs.join(":"))));
    }
    for (name, value) in &plan.env {
        service.set("Environment", assignment(name, value));
    }
    for (key, value) in [("User", &plan.user), ("Group", &plan.group)] {
        if let Some(v) = value {
            service.set(key, text(v));
        }
    }
    for path in &plan.tmpfs {
        service.set("TemporaryFileSystem", format!("{path}:mode=1777"));
    }
    if !plan.shared_dirs.is_empty() {
        service.set("ExecStartPre", format!("+{}", command_line(&create_shared_dirs_command(&plan.shared_dirs))));
    }
    for bind in &plan.volume_binds {
        let directive = if bind.read_only { "BindReadOnlyPaths" } else { "BindPaths" };
        service.set(directive, format!("{}:{}", bind.source, bind.target));
    }
    for path in &plan.read_only_paths {
        service.set("ReadOnlyPaths", path);
    }
    for (directive, rel) in &plan.managed_directories {
        service.set(directive, rel);
    }
    if let Some(dir) = &plan.working_directory {
        service.set("WorkingDirectory", dir);
    }
    for bind in &plan.binds {
        let source = match &bind.source {
            BindSource::Path(path) => path.clone(),
            BindSource::Text { name, contents } => match config_text_path(svc, name) {
                Some(path) => {
                    config_files.push((path.clone(), contents.clone()));
                    format!("{}/{path}", settings.config_dir)
                }
                None => {
                    errors.push(diagnostics::error(&svc.name, "configData", format!("configData.{name:?}: the name becomes the file OUT/config/{}/{name}: it needs non-empty parts other than `.` and `..`, without spaces, `:`, `%`, `$` or quotes", svc.name)));
                    continue;
                }
            },
        };
        service.set("BindReadOnlyPaths", format!("{source}:{}", bind.target));
    }
    if let Some(script) = &plan.pre_start {
        service.set("ExecStartPre", command_line(&["/bin/sh", "-ec", script]));
    }
    service.set("ExecStart", command_line(&plan.exec_start));
    if let Some(gate) = &plan.health {
        service.set("ExecStartPost", command_line(&["/bin/sh", "-c", &gate.script]));
        service.set("TimeoutStartSec", gate.timeout_seconds.to_string());
    }
    service.set("Restart", plan.restart);
    if let Some(signal) = &plan.kill_signal {
        service.set("KillSignal", signal);
    }
    if let Some(seconds) = plan.timeout_stop_seconds {
        service.set("TimeoutStopSec", seconds.to_string());
    }
    if let Some(quota) = &plan.cpu_quota {
        service.set("CPUQuota", quota);
    }
    if let Some(max) = &plan.memory_max {
        service.set("MemoryMax", max);
    }
    for (section, key, value) in extra {
        match section.as_str() {
            "Unit" => unit.set(&key, value),
            "Install" => install.set(&key, value),
            _ => service.set(&key, value),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out = format!("# Generated by nix2dream (systemd plugin) from deployment {:?}. Do not edit: re-render.\n", d.name);
    for (name, section) in [("Unit", unit), ("Service", service), ("Install", install)] {
        if !section.0.is_empty() {
            out += &format!("\n[{name}]\n{}\n", section.0.join("\n"));
        }
    }
    Ok(Rendered { unit: out, config_files, warnings: plan.warnings })
}
