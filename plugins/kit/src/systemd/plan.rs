//! What a service means as a systemd unit, decided once for every manager
//! that ends in systemd units (the `systemd` plugin writes unit files, the
//! `nixos` plugin a NixOS module): names, ordering, PATH, directories,
//! config binds, the command line, the health gate, limits. Each plugin only
//! writes the plan down in its own syntax.

use super::escape::is_plain_path;
use super::health::{health_gate, HealthGate};
use super::{instances, managed_directory};
use crate::{
    diagnostics, image::config_file_path, shell, Deployment, DependencyCondition, Diagnostic, FileContent, Index, RestartPolicy,
    Service, VolumeSource,
};

/// What differs between the managers that run the plan.
pub struct Platform {
    /// The manager always gives services a PATH of its own (NixOS does), so a
    /// bare `argv[0]` must be looked up there, not on systemd's built-in path.
    pub manager_sets_path: bool,
}

/// Where a config file's contents come from.
pub enum BindSource {
    /// Inline text (`configData.<name>.text`): each manager stores it
    /// somewhere and binds it from there.
    Text { name: String, contents: String },
    /// A path on the machine, usually in the Nix store.
    Path(String),
}

/// A shared volume or host directory bound where the service expects it.
pub struct VolumeBind {
    pub source: String,
    /// Absolute; fits in `BindPaths=` as it is.
    pub target: String,
    pub read_only: bool,
}

/// Where the deployment's shared volume `name` lives on the machine.
pub fn shared_volume_dir(d: &Deployment, name: &str) -> String {
    format!("/var/lib/nix2dream/{}/{name}", d.name)
}

/// The command of the deployment's volumes unit ([`super::volumes_unit_name`]):
/// creates the shared volume directories, mode 1777 (every service that
/// mounts one writes it, whatever its user, as in /tmp).
pub fn create_shared_dirs_command(dirs: &[String]) -> Vec<String> {
    let mut words = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        "for d in \"$@\"; do mkdir -p -- \"$d\" && chmod 1777 -- \"$d\"; done".to_owned(),
        "sh".to_owned(),
    ];
    words.extend(dirs.iter().cloned());
    words
}

/// A config file bound read-only where the service expects it.
pub struct Bind {
    pub source: BindSource,
    /// Absolute; fits in `BindReadOnlyPaths=` as it is.
    pub target: String,
}

/// One service as a unit. Values are as the user wrote them (each plugin
/// escapes them for its syntax), and already checked to be writable.
pub struct ServicePlan {
    pub description: String,
    /// Units this one is ordered after and requires (the dependencies' instances).
    pub after: Vec<String>,
    /// Directories whose `bin/` goes on PATH, in order (package first); empty
    /// when the service sets PATH itself or has no package or `path`.
    pub path_dirs: Vec<String>,
    /// The service's own environment (names checked).
    pub env: Vec<(String, String)>,
    /// Whether PATH is the service's own (its env or `path_dirs`).
    pub own_path: bool,
    pub user: Option<String>,
    pub group: Option<String>,
    /// Directories systemd creates for the service: (directive, relative path),
    /// e.g. ("StateDirectory", "web").
    pub managed_directories: Vec<(&'static str, String)>,
    /// Scratch volumes: private tmpfs mounts.
    pub tmpfs: Vec<String>,
    /// Shared volumes and host paths, bound where the service expects them
    /// (`BindPaths=`, or `BindReadOnlyPaths=` when read-only).
    pub volume_binds: Vec<VolumeBind>,

    /// The service's own volumes mounted read-only (`ReadOnlyPaths=`).
    pub read_only_paths: Vec<String>,
    /// Secrets, as `LoadCredential=<name>:<file>`: systemd copies each into
    /// the unit's private `$CREDENTIALS_DIRECTORY` when it starts.
    pub credentials: Vec<(String, String)>,
    /// Secrets given as a file: the credential bound read-only at the path
    /// (`BindReadOnlyPaths=%d/<name>:<path>`).
    pub credential_binds: Vec<(String, String)>,
    pub working_directory: Option<String>,
    pub binds: Vec<Bind>,
    pub pre_start: Option<String>,
    /// The main command line, word by word (unescaped).
    pub exec_start: Vec<String>,
    pub health: Option<HealthGate>,
    /// `Type=`: "exec", or "oneshot" for a one-shot service (its start ends
    /// when it exits 0, so `After=` dependents wait for its completion;
    /// `RemainAfterExit=yes` keeps it counted as done).
    pub service_type: &'static str,
    /// `Restart=`.
    pub restart: &'static str,
    /// `KillSignal=` (e.g. "SIGINT") and `TimeoutStopSec=` (seconds).
    pub kill_signal: Option<String>,
    pub timeout_stop_seconds: Option<u32>,
    /// `CPUQuota=` (e.g. "50%") and `MemoryMax=` (e.g. "64M").
    pub cpu_quota: Option<String>,
    pub memory_max: Option<String>,
    pub warnings: Vec<Diagnostic>,
}

/// Whether `dir` is `base` or lies below it.
fn is_within(dir: &str, base: &str) -> bool {
    let base = base.trim_end_matches('/');
    dir == base || dir.starts_with(&format!("{base}/"))
}

fn path_dirs(svc: &Service) -> Vec<String> {
    if svc.env.iter().any(|e| e.name == "PATH") {
        return Vec::new();
    }
    svc.package.iter().chain(&svc.path).map(|p| p.trim_end_matches('/').to_owned()).collect()
}

/// The plan of one service. For every service of a deployment, build one
/// [`Index`] and call [`plan_in`]: this builds an index per call.
pub fn plan(d: &Deployment, svc: &Service, platform: &Platform) -> Result<ServicePlan, Vec<Diagnostic>> {
    plan_in(&Index::new(d), svc, platform)
}

/// The plan of `svc`, a service of `index.deployment`; its dependencies and
/// secrets are looked up in `index` (built once per render: linear in the
/// services, where a search per dependency was quadratic).
pub fn plan_in(index: &Index, svc: &Service, platform: &Platform) -> Result<ServicePlan, Vec<Diagnostic>> {
    let d = index.deployment;
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let unwritable = "cannot be written in a unit (no spaces, `:`, `%`, `$`, quotes)";

    let mut after = Vec::new();
    for dep in &svc.depends_on {
        let Some(target) = index.service(&dep.service) else { continue };
        after.extend(instances(d, target));
        if dep.condition == DependencyCondition::Healthy && target.healthcheck.is_none() {
            warnings.push(diagnostics::warning(
                &svc.name,
                "dependsOn",
                format!("waits for {:?} to be healthy, but it has no healthcheck: waiting for it to start instead", dep.service),
            ));
        }
    }

    let path_dirs = path_dirs(svc);
    let own_path = platform.manager_sets_path || !path_dirs.is_empty() || svc.env.iter().any(|e| e.name == "PATH");
    let mut env = Vec::new();
    for var in &svc.env {
        if shell::is_env_name(&var.name) {
            env.push((var.name.clone(), var.value.clone()));
        } else {
            errors.push(diagnostics::error(&svc.name, "env", format!("{:?} is not a variable name systemd accepts ([A-Za-z_][A-Za-z0-9_]*)", var.name)));
        }
    }

    // Directories: systemd creates those under /var/lib, /var/cache, /var/log.
    let mut managed_directories = Vec::new();
    let mut tmpfs = Vec::new();
    let mut volume_binds = Vec::new();
    let mut read_only_paths = Vec::new();
    let mut created: Vec<&str> = Vec::new();
    for v in &svc.volumes {
        let option = format!("volumes.{}", v.name);
        if !is_plain_path(&v.path) {
            errors.push(diagnostics::error(&svc.name, "volumes", format!("{option}: {:?} {unwritable}", v.path)));
            continue;
        }
        let bind_source = match &v.source {
            VolumeSource::Own => None,
            VolumeSource::Shared(name) => {
                if !after.contains(&super::volumes_unit_name(d)) {
                    after.push(super::volumes_unit_name(d));
                }
                Some(shared_volume_dir(d, name))
            }
            VolumeSource::HostPath(host) => Some(host.clone()),
        };
        if let Some(source) = bind_source {
            if !is_plain_path(&source) {
                errors.push(diagnostics::error(&svc.name, "volumes", format!("{option}: {source:?} {unwritable}")));
                continue;
            }
            volume_binds.push(VolumeBind { source, target: v.path.clone(), read_only: v.read_only });
            created.push(&v.path);
            continue;
        }
        if v.read_only {
            read_only_paths.push(v.path.clone());
        }
        if !v.persistent {
            tmpfs.push(v.path.clone());
            created.push(&v.path);
        } else if let Some((directive, rel)) = managed_directory(&v.path) {
            managed_directories.push((directive, rel.to_owned()));
            created.push(&v.path);
        } else {
            warnings.push(diagnostics::warning(
                &svc.name,
                "volumes",
                format!("{option}: systemd creates state directories only under /var/lib, /var/cache and /var/log; create {} (owned by the service's user) yourself", v.path),
            ));
        }
    }
    let mut working_directory = None;
    if let Some(dir) = &svc.working_directory {
        if !is_plain_path(dir) {
            errors.push(diagnostics::error(&svc.name, "workingDirectory", format!("{dir:?} {unwritable}")));
        } else {
            let inside_created = created.iter().any(|c| is_within(dir, c));
            match managed_directory(dir) {
                _ if inside_created => {}
                Some((directive, rel)) => managed_directories.push((directive, rel.to_owned())),
                // Store paths come with the system's closure.
                None if is_within(dir, "/nix/store") => {}
                None => warnings.push(diagnostics::warning(
                    &svc.name,
                    "workingDirectory",
                    format!("{dir} must exist on the machine (systemd creates it only under /var/lib, /var/cache or /var/log, or as a volume)"),
                )),
            }
            working_directory = Some(dir.clone());
        }
    }

    // Config files, bound read-only where the service expects them.
    let mut binds = Vec::new();
    for file in &svc.config_files {
        let target = config_file_path(svc, &file.path);
        let source = match &file.content {
            FileContent::Text(contents) => BindSource::Text { name: file.name.clone(), contents: contents.clone() },
            FileContent::Source(path) => BindSource::Path(path.clone()),
        };
        let source_ok = match &source {
            BindSource::Path(path) => is_plain_path(path),
            BindSource::Text { .. } => true,
        };
        if !is_plain_path(&target) || !source_ok {
            let from = match &source {
                BindSource::Path(path) => path.as_str(),
                BindSource::Text { .. } => "text",
            };
            errors.push(diagnostics::error(&svc.name, "configData", format!("configData.{:?}: {from} -> {target} {unwritable}", file.name)));
            continue;
        }
        binds.push(Bind { source, target });
    }

    // Secrets: systemd reads them from files (LoadCredential=).
    let mut credentials = Vec::new();
    let mut credential_binds = Vec::new();
    let mut secret_env = Vec::new();
    for using in &svc.secrets {
        let Some(secret) = index.secret(&using.secret) else { continue };
        let plain_name = !secret.name.is_empty() && secret.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        match &secret.file {
            Some(file) if plain_name && is_plain_path(file) => credentials.push((secret.name.clone(), file.clone())),
            Some(file) => {
                errors.push(diagnostics::error(&svc.name, "secrets", format!("secrets.{:?}: {file:?} {unwritable}", secret.name)));
                continue;
            }
            None => {
                errors.push(diagnostics::error(
                    &svc.name,
                    "secrets",
                    format!("secrets.{:?}: systemd reads a secret from a file on the machine (LoadCredential=): give secrets.{0:?}.file", secret.name),
                ));
                continue;
            }
        }
        match (&using.path, &using.env) {
            (Some(path), _) if is_plain_path(path) => credential_binds.push((secret.name.clone(), path.clone())),
            (Some(path), _) => errors.push(diagnostics::error(&svc.name, "secrets", format!("secrets.{:?}.path: {path:?} {unwritable}", secret.name))),
            (None, Some(var)) if shell::is_env_name(var) => secret_env.push((var.clone(), secret.name.clone())),
            (None, Some(var)) => errors.push(diagnostics::error(&svc.name, "secrets", format!("{var:?} is not a variable name"))),
            (None, None) => {}
        }
    }

    let argv0 = svc.argv.first().map(String::as_str).unwrap_or("");
    let exec_start = if argv0.starts_with('/') || (!argv0.contains('/') && !own_path) {
        // systemd runs it itself (an absolute path, or a name on its own PATH).
        svc.argv.clone()
    } else {
        // Found on the service's PATH (or relative to its working directory): sh resolves it.
        let mut words = vec!["/bin/sh".to_owned(), "-c".to_owned(), "exec \"$@\"".to_owned(), "sh".to_owned()];
        words.extend(svc.argv.iter().cloned());
        words
    };
    // Secrets given as variables are read from the credentials when the
    // service starts: their values are never in the unit.
    let exec_start = if secret_env.is_empty() {
        exec_start
    } else {
        let reads: Vec<String> = secret_env
            .iter()
            .map(|(var, name)| format!("{var}=$(cat \"$CREDENTIALS_DIRECTORY\"/{}) && export {var}", shell::quote(name)))
            .collect();
        let mut words = vec!["/bin/sh".to_owned(), "-c".to_owned(), format!("{} && exec \"$@\"", reads.join(" && ")), "sh".to_owned()];
        words.extend(exec_start);
        words
    };
    let health = health_gate(d, svc, &mut warnings);

    let cpu_quota = match &svc.resources.cpus {
        None => None,
        Some(cpus) => match cpus.parse::<f64>() {
            Ok(c) if c > 0.0 => Some(format!("{}%", (c * 100.0).round() as u64)),
            _ => {
                errors.push(diagnostics::error(&svc.name, "resources", format!("cpus {cpus:?} is not a positive number")));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ServicePlan {
        description: svc.description.clone().unwrap_or_else(|| format!("{} (nix2dream deployment {})", svc.name, d.name)),
        after,
        path_dirs,
        env,
        own_path,
        user: svc.user.clone(),
        group: svc.group.clone(),
        managed_directories,
        tmpfs,
        volume_binds,
        read_only_paths,
        credentials,
        credential_binds,
        working_directory,
        binds,
        pre_start: svc.pre_start.clone(),
        exec_start,
        health,
        service_type: if svc.one_shot { "oneshot" } else { "exec" },
        kill_signal: svc.stop_signal.clone(),
        timeout_stop_seconds: svc.stop_timeout_seconds,
        restart: match svc.restart {
            RestartPolicy::Never => "no",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Always => "always",
        },
        cpu_quota,
        memory_max: svc.resources.memory_mib.map(|mib| format!("{mib}M")),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{deployment, service, ServiceExt};

    const SYSTEMD: Platform = Platform { manager_sets_path: false };

    #[test]
    fn a_working_directory_in_the_store_needs_no_warning() {
        let d = deployment(vec![service("web", &["web"]).working_directory("/nix/store/abc-site/www")]);
        let p = plan(&d, &d.services[0], &SYSTEMD).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(p.warnings.is_empty(), "{:?}", p.warnings.iter().map(|w| &w.message).collect::<Vec<_>>());
        let d = deployment(vec![service("web", &["web"]).working_directory("/srv/web")]);
        let p = plan(&d, &d.services[0], &SYSTEMD).unwrap();
        assert!(p.warnings[0].message.contains("/srv/web must exist"), "the warning stays for other paths");
    }

    #[test]
    fn a_bare_command_goes_through_sh_when_the_manager_sets_path() {
        let d = deployment(vec![service("web", &["httpd", "-f"])]);
        assert_eq!(plan(&d, &d.services[0], &SYSTEMD).unwrap().exec_start, ["httpd", "-f"]);
        let nixos = Platform { manager_sets_path: true };
        assert_eq!(plan(&d, &d.services[0], &nixos).unwrap().exec_start, ["/bin/sh", "-c", "exec \"$@\"", "sh", "httpd", "-f"]);
    }
}
