//! The supervisor's configuration (`nix2dream_vm_init::Config`) from the
//! deployment: services in start order, each with its exact argv, its whole
//! environment, numeric user and group, volumes, health and limits.

use crate::accounts::Accounts;
use crate::settings::Settings;
use nix2dream_plugin_kit::diagnostics::{error, warning};
use nix2dream_plugin_kit::{Deployment, DependencyCondition, Diagnostic, Index, Probe as CoreProbe, RestartPolicy, Service, VolumeSource};
use nix2dream_vm_init as init;

/// The 9p tag of the host directory that holds persistent volumes.
pub const VOLUMES_TAG: &str = "volumes";

/// Whether the VM needs the share of persistent volumes (own or shared).
pub fn has_persistent_volumes(d: &Deployment) -> bool {
    d.services.iter().any(|s| s.volumes.iter().any(|v| v.persistent && !matches!(v.source, VolumeSource::HostPath(_))))
}

/// The host directories services bind, once each, in the deployment's order.
pub fn host_paths(d: &Deployment) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for v in d.services.iter().flat_map(|s| &s.volumes) {
        if let VolumeSource::HostPath(host) = &v.source {
            if seen.insert(host) {
                paths.push(host.clone());
            }
        }
    }
    paths
}

/// Dependencies first; otherwise in the deployment's (name) order: at each
/// step the first service, in the deployment's order, whose dependencies
/// have all started (a dependency on no service of the deployment counts as
/// started). Kahn's algorithm with the ready services in a min-heap of
/// their positions: O(n log n + edges), where a search of the services at
/// each step was cubic.
pub fn start_order(d: &Deployment) -> Result<Vec<&Service>, Diagnostic> {
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, HashMap};
    let n = d.services.len();
    let mut position: HashMap<&str, usize> = HashMap::with_capacity(n);
    for (i, s) in d.services.iter().enumerate() {
        position.entry(s.name.as_str()).or_insert(i);
    }
    // waiting[i]: dependencies of service i not started yet (one per edge).
    let mut waiting = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, s) in d.services.iter().enumerate() {
        for dep in &s.depends_on {
            if let Some(&j) = position.get(dep.service.as_str()) {
                waiting[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..n).filter(|&i| waiting[i] == 0).map(Reverse).collect();
    let mut placed = vec![false; n];
    let mut order: Vec<&Service> = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        placed[i] = true;
        order.push(&d.services[i]);
        for &k in &dependents[i] {
            waiting[k] -= 1;
            if waiting[k] == 0 {
                ready.push(Reverse(k));
            }
        }
    }
    if order.len() < n {
        let left: Vec<&str> = d.services.iter().zip(&placed).filter(|(_, &p)| !p).map(|(s, _)| s.name.as_str()).collect();
        return Err(nix2dream_plugin_kit::diagnostics::deployment_error(format!("dependsOn forms a cycle among {}: no start order exists", left.join(", "))));
    }
    Ok(order)
}

/// `PATH` from the package's and the `path` entries' `bin/`, unless env sets one.
fn environment(s: &Service) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = s.env.iter().map(|e| (e.name.clone(), e.value.clone())).collect();
    let dirs: Vec<String> = s.package.iter().chain(&s.path).map(|p| format!("{}/bin", p.trim_end_matches('/'))).collect();
    if !dirs.is_empty() && !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), dirs.join(":")));
    }
    env
}

/// "0.5" → 500 thousandths of a CPU.
pub fn cpu_millis(cpus: &str) -> Option<u32> {
    let (whole, frac) = cpus.split_once('.').unwrap_or((cpus, ""));
    if whole.is_empty() && frac.is_empty() || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) || frac.len() > 3 {
        return None;
    }
    let whole: u32 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let frac: u32 = format!("{frac:0<3}").parse().ok()?;
    whole.checked_mul(1000)?.checked_add(frac).filter(|m| *m > 0)
}

pub fn build(d: &Deployment, settings: &Settings, accounts: &Accounts, warnings: &mut Vec<Diagnostic>) -> Result<init::Config, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut services = Vec::new();
    let host_paths = host_paths(d);
    let host_path_numbers: std::collections::HashMap<&str, usize> = host_paths.iter().enumerate().map(|(i, p)| (p.as_str(), i)).collect();
    let index = Index::new(d);
    for s in start_order(d).map_err(|e| vec![e])? {
        if s.argv.is_empty() {
            errors.push(error(&s.name, "process.argv", "the VM runs a command per service: process.argv is empty"));
            continue;
        }
        // preStart needs a shell: it runs, then execs argv unchanged.
        let argv = match &s.pre_start {
            Some(script) => {
                warnings.push(warning(&s.name, "preStart", "preStart runs with `sh` from the service's PATH: put a shell in `package` or `path`"));
                let mut argv = vec!["sh".into(), "-ec".into(), format!("{script}\nexec \"$@\""), format!("{} preStart", s.name)];
                argv.extend(s.argv.iter().cloned());
                argv
            }
            None => s.argv.clone(),
        };
        let cpu = match &s.resources.cpus {
            Some(c) => match cpu_millis(c) {
                Some(m) => Some(m),
                None => {
                    errors.push(error(&s.name, "resources", format!("resources.cpus {c:?} is not a positive decimal with at most 3 decimals")));
                    continue;
                }
            },
            None => None,
        };
        for dep in &s.depends_on {
            let target = index.service(&dep.service);
            if dep.condition == DependencyCondition::Healthy && target.is_some_and(|t| t.healthcheck.is_none()) {
                warnings.push(warning(&s.name, "dependsOn", format!("{} has no healthcheck: {} starts once it is started", dep.service, s.name)));
            }
        }
        if let Some(signal) = s.stop_signal.as_deref().filter(|sig| init::stop_signal_number(sig).is_none()) {
            errors.push(error(&s.name, "stopSignal", format!("{signal:?} is not a signal the VM's supervisor knows")));
            continue;
        }
        for using in &s.secrets {
            let readable = index.secret(&using.secret).is_some_and(|x| x.file.is_some() || x.environment.is_some());
            if !readable {
                errors.push(error(
                    &s.name,
                    "secrets",
                    format!(
                        "secrets.{:?}: run-vm reads a secret from a file of this machine or from its own environment: give secrets.{0:?}.file or .environment",
                        using.secret
                    ),
                ));
            }
        }
        if s.replicas > 1 && !s.ports.is_empty() {
            warnings.push(warning(&s.name, "replicas", "the replicas share the VM's network: only one of them can listen on each port"));
        }
        let (uid, gid) = accounts.ids(s);
        services.push(init::Service {
            name: s.name.clone(),
            description: s.description.clone(),
            argv,
            env: environment(s),
            uid,
            gid,
            working_directory: s.working_directory.clone(),
            volumes: s
                .volumes
                .iter()
                .map(|v| init::Volume {
                    name: v.name.clone(),
                    path: v.path.clone(),
                    persistent: v.persistent,
                    source: match &v.source {
                        VolumeSource::Own => init::VolumeSource::Own,
                        VolumeSource::Shared(name) => init::VolumeSource::Shared(name.clone()),
                        VolumeSource::HostPath(host) => {
                            init::VolumeSource::Host(host_path_numbers[host.as_str()])
                        }
                    },
                    read_only: v.read_only,
                })
                .collect(),
            depends_on: s
                .depends_on
                .iter()
                .map(|dep| init::Dependency {
                    service: dep.service.clone(),
                    condition: match dep.condition {
                        DependencyCondition::Started => init::Condition::Started,
                        DependencyCondition::Healthy => init::Condition::Healthy,
                        DependencyCondition::Completed => init::Condition::Completed,
                    },
                })
                .collect(),
            healthcheck: s.healthcheck.as_ref().map(|h| init::Healthcheck {
                probe: match &h.probe {
                    CoreProbe::Command(argv) => init::Probe::Command(argv.clone()),
                    CoreProbe::Http(p) => init::Probe::Http { port: p.port, path: p.path.clone() },
                },
                interval_seconds: h.interval_seconds,
                timeout_seconds: h.timeout_seconds,
                retries: h.retries,
                start_period_seconds: h.start_period_seconds,
            }),
            restart: match s.restart {
                RestartPolicy::Never => init::Restart::Never,
                RestartPolicy::OnFailure => init::Restart::OnFailure,
                RestartPolicy::Always => init::Restart::Always,
            },
            replicas: s.replicas.max(1),
            one_shot: s.one_shot,
            stop_signal: s.stop_signal.clone(),
            stop_timeout_seconds: s.stop_timeout_seconds,
            secrets: s
                .secrets
                .iter()
                .map(|u| init::SecretUse { secret: u.secret.clone(), path: u.path.clone(), env: u.env.clone() })
                .collect(),
            memory_mib: s.resources.memory_mib,
            cpu_millis: cpu,
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(init::Config {
        deployment: d.name.clone(),
        network: init::Network::default(),
        volumes_tag: has_persistent_volumes(d).then(|| VOLUMES_TAG.to_owned()),
        host_paths,
        secrets: d.services.iter().any(|s| !s.secrets.is_empty()),
        stop_timeout_seconds: settings.stop_timeout_seconds,
        services,
    })
}
