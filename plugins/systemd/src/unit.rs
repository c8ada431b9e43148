//! One service's unit file (and the config files it binds into place).

use crate::escape::{assignment, command_line, is_plain_path, text};
use crate::settings::DeploymentSettings;
use nix2dream_plugin_kit::{
    diagnostics, image::config_file_path, shell, Deployment, DependencyCondition, Diagnostic, FileContent, Probe, RestartPolicy,
    Service,
};

/// systemd's own PATH for services, kept after the service's directories.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `<deployment>-<service>`, the unit's name without suffix.
pub fn base_name(d: &Deployment, svc: &Service) -> String {
    format!("{}-{}", d.name, svc.name)
}

/// The unit file's name: a template (`name@.service`) when there are replicas.
pub fn file_name(d: &Deployment, svc: &Service) -> String {
    if svc.replicas > 1 {
        format!("{}@.service", base_name(d, svc))
    } else {
        format!("{}.service", base_name(d, svc))
    }
}

/// The units that run `svc`: one, or one instance per replica.
pub fn instances(d: &Deployment, svc: &Service) -> Vec<String> {
    if svc.replicas > 1 {
        (1..=svc.replicas).map(|i| format!("{}@{i}.service", base_name(d, svc))).collect()
    } else {
        vec![format!("{}.service", base_name(d, svc))]
    }
}

/// The directory systemd creates and hands to the service's user, for paths
/// under /var/lib, /var/cache and /var/log: (directive, relative path).
fn managed_directory(path: &str) -> Option<(&'static str, &str)> {
    [("StateDirectory", "/var/lib/"), ("CacheDirectory", "/var/cache/"), ("LogsDirectory", "/var/log/")]
        .into_iter()
        .find_map(|(directive, prefix)| path.strip_prefix(prefix).map(|rel| (directive, rel.trim_end_matches('/'))))
        .filter(|(_, rel)| !rel.is_empty())
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

fn path_value(svc: &Service) -> Option<String> {
    if svc.env.iter().any(|e| e.name == "PATH") || (svc.package.is_none() && svc.path.is_empty()) {
        return None;
    }
    let dirs: Vec<String> = svc.package.iter().chain(&svc.path).map(|p| format!("{}/bin", p.trim_end_matches('/'))).collect();
    Some(format!("{}:{DEFAULT_PATH}", dirs.join(":")))
}

/// The health loop run as `ExecStartPost=`: the unit becomes active (and its
/// dependents start) only once the probe passes.
fn health_gate(svc: &Service, warnings: &mut Vec<Diagnostic>) -> Option<(String, u64)> {
    let h = svc.healthcheck.as_ref()?;
    let probe = match &h.probe {
        Probe::Command(argv) => shell::quote_words(argv),
        Probe::Http(http) => {
            warnings.push(diagnostics::warning(
                &svc.name,
                "healthcheck",
                "the http healthcheck runs `wget` from the service's PATH: put busybox or wget in `package` or `path`",
            ));
            let path = if http.path.starts_with('/') { http.path.clone() } else { format!("/{}", http.path) };
            format!("wget -q -O /dev/null {}", shell::quote(&format!("http://127.0.0.1:{}{path}", http.port)))
        }
    };
    let script = format!(
        "sleep {start}\nn=1\nuntil {probe}; do\n  if [ \"$n\" -ge {retries} ]; then echo \"unhealthy after $n probes\" >&2; exit 1; fi\n  n=$((n + 1))\n  sleep {interval}\ndone\n",
        start = h.start_period_seconds,
        retries = h.retries.max(1),
        interval = h.interval_seconds,
    );
    let timeout = u64::from(h.start_period_seconds)
        + u64::from(h.retries.max(1)) * (u64::from(h.interval_seconds) + u64::from(h.timeout_seconds))
        + 30;
    Some((script, timeout))
}

pub fn render(d: &Deployment, svc: &Service, settings: &DeploymentSettings) -> Result<Rendered, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let (mut unit, mut service, mut install) = (Section::default(), Section::default(), Section::default());
    let mut config_files = Vec::new();

    unit.set("Description", text(svc.description.as_deref().unwrap_or(&format!("{} (nix2dream deployment {})", svc.name, d.name))));
    unit.set("PartOf", format!("{}.target", d.name));
    for dep in &svc.depends_on {
        let Some(target) = d.services.iter().find(|s| s.name == dep.service) else { continue };
        let units = instances(d, target).join(" ");
        unit.set("After", &units);
        unit.set("Requires", &units);
        if dep.condition == DependencyCondition::Healthy && target.healthcheck.is_none() {
            warnings.push(diagnostics::warning(
                &svc.name,
                "dependsOn",
                format!("waits for {:?} to be healthy, but it has no healthcheck: waiting for it to start instead", dep.service),
            ));
        }
    }

    service.set("Type", "exec");
    let path = path_value(svc);
    // PATH is the service's own (set here, or in its env): systemd's lookup would ignore it.
    let own_path = path.is_some() || svc.env.iter().any(|e| e.name == "PATH");
    if let Some(path) = &path {
        service.set("Environment", assignment("PATH", path));
    }
    for var in &svc.env {
        if !shell::is_env_name(&var.name) {
            errors.push(diagnostics::error(&svc.name, "env", format!("{:?} is not a variable name systemd accepts ([A-Za-z_][A-Za-z0-9_]*)", var.name)));
            continue;
        }
        service.set("Environment", assignment(&var.name, &var.value));
    }
    for (key, value) in [("User", &svc.user), ("Group", &svc.group)] {
        if let Some(v) = value {
            service.set(key, text(v));
        }
    }

    // Directories: systemd creates those under /var/lib, /var/cache, /var/log.
    let mut created: Vec<&str> = Vec::new();
    for v in &svc.volumes {
        let option = format!("volumes.{}", v.name);
        if !is_plain_path(&v.path) {
            errors.push(diagnostics::error(&svc.name, "volumes", format!("{option}: {:?} cannot be written in a unit (no spaces, `:`, `%`, `$`, quotes)", v.path)));
            continue;
        }
        if !v.persistent {
            service.set("TemporaryFileSystem", format!("{}:mode=1777", v.path));
            created.push(&v.path);
        } else if let Some((directive, rel)) = managed_directory(&v.path) {
            service.set(directive, rel);
            created.push(&v.path);
        } else {
            warnings.push(diagnostics::warning(
                &svc.name,
                "volumes",
                format!("{option}: systemd creates state directories only under /var/lib, /var/cache and /var/log; create {} (owned by the service's user) yourself", v.path),
            ));
        }
    }
    if let Some(dir) = &svc.working_directory {
        if !is_plain_path(dir) {
            errors.push(diagnostics::error(&svc.name, "workingDirectory", format!("{dir:?} cannot be written in a unit (no spaces, `:`, `%`, `$`, quotes)")));
        } else {
            let inside_created = created.iter().any(|c| dir == c || dir.starts_with(&format!("{}/", c.trim_end_matches('/'))));
            match managed_directory(dir) {
                _ if inside_created => {}
                Some((directive, rel)) => service.set(directive, rel),
                None => warnings.push(diagnostics::warning(
                    &svc.name,
                    "workingDirectory",
                    format!("{dir} must exist on the machine (systemd creates it only under /var/lib, /var/cache or /var/log, or as a volume)"),
                )),
            }
            service.set("WorkingDirectory", dir);
        }
    }

    // Config files, bound read-only where the service expects them.
    for file in &svc.config_files {
        let target = config_file_path(svc, &file.path);
        let source = match &file.content {
            FileContent::Source(source) => source.clone(),
            FileContent::Text(contents) => {
                let plain_name = !file.name.is_empty() && file.name != "." && file.name != ".."
                    && file.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
                if !plain_name {
                    errors.push(diagnostics::error(&svc.name, "configData", format!("configData.{:?}: the name must be made of [A-Za-z0-9._-] (it names the file in OUT/config/)", file.name)));
                    continue;
                }
                config_files.push((format!("config/{}/{}", svc.name, file.name), contents.clone()));
                format!("{}/config/{}/{}", settings.config_dir, svc.name, file.name)
            }
        };
        if !is_plain_path(&target) || !is_plain_path(&source) {
            errors.push(diagnostics::error(&svc.name, "configData", format!("configData.{}: {source} -> {target} cannot be written in a unit (no spaces, `:`, `%`, `$`, quotes)", file.name)));
            continue;
        }
        service.set("BindReadOnlyPaths", format!("{source}:{target}"));
    }

    if let Some(script) = &svc.pre_start {
        service.set("ExecStartPre", command_line(&["/bin/sh", "-ec", script]));
    }
    let argv0 = svc.argv.first().map(String::as_str).unwrap_or("");
    if argv0.starts_with('/') || (!argv0.contains('/') && !own_path) {
        // systemd runs it itself (an absolute path, or a name on its own PATH).
        service.set("ExecStart", command_line(&svc.argv));
    } else {
        // Found on the service's PATH (or relative to its working directory): sh resolves it.
        let mut words = vec!["/bin/sh".to_owned(), "-c".to_owned(), "exec \"$@\"".to_owned(), "sh".to_owned()];
        words.extend(svc.argv.iter().cloned());
        service.set("ExecStart", command_line(&words));
    }
    if let Some((script, timeout)) = health_gate(svc, &mut warnings) {
        service.set("ExecStartPost", command_line(&["/bin/sh", "-c", &script]));
        service.set("TimeoutStartSec", timeout.to_string());
    }
    service.set(
        "Restart",
        match svc.restart {
            RestartPolicy::Never => "no",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Always => "always",
        },
    );
    if let Some(cpus) = &svc.resources.cpus {
        match cpus.parse::<f64>() {
            Ok(c) if c > 0.0 => service.set("CPUQuota", format!("{}%", (c * 100.0).round() as u64)),
            _ => errors.push(diagnostics::error(&svc.name, "resources", format!("cpus {cpus:?} is not a positive number"))),
        }
    }
    if let Some(mib) = svc.resources.memory_mib {
        service.set("MemoryMax", format!("{mib}M"));
    }
    match crate::settings::extra_directives(&svc.name, &svc.settings_json) {
        Ok(extra) => {
            for (section, key, value) in extra {
                match section.as_str() {
                    "Unit" => unit.set(&key, value),
                    "Install" => install.set(&key, value),
                    _ => service.set(&key, value),
                }
            }
        }
        Err(e) => errors.push(e),
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
    Ok(Rendered { unit: out, config_files, warnings })
}
