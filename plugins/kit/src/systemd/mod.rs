//! The systemd semantics shared by every manager that ends in systemd units
//! (the `systemd` and `nixos` plugins): unit names, what a service means as a
//! unit ([`plan`]), the health gate, escaping, extra directives. One place,
//! so the managers cannot drift apart.

pub mod directives;
pub mod escape;
pub mod health;
pub mod plan;

use crate::{Deployment, Service};

/// `<deployment>-<service>`, the unit's name without suffix. The deployment
/// prefix also keeps a service named e.g. `nginx` apart from the machine's own.
pub fn base_name(d: &Deployment, svc: &Service) -> String {
    format!("{}-{}", d.name, svc.name)
}

/// The unit's name without `.service`: a template (`name@`) when there are replicas.
pub fn unit_name(d: &Deployment, svc: &Service) -> String {
    if svc.replicas > 1 {
        format!("{}@", base_name(d, svc))
    } else {
        base_name(d, svc)
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

/// The unit that creates the deployment's shared volumes before the
/// services that mount them start (their binds need the directories when
/// systemd sets up their mount namespace, before any of their commands).
/// `_` keeps it apart from every `<deployment>-<service>` unit.
pub fn volumes_unit_name(d: &Deployment) -> String {
    format!("{}_volumes.service", d.name)
}

/// The shared volume directories the deployment's services mount, sorted,
/// once each; `None` when there are none.
pub fn shared_volume_dirs(d: &Deployment) -> Option<Vec<String>> {
    let mut dirs: Vec<String> = d
        .services
        .iter()
        .flat_map(|s| &s.volumes)
        .filter_map(|v| match &v.source {
            crate::VolumeSource::Shared(name) => Some(plan::shared_volume_dir(d, name)),
            _ => None,
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    (!dirs.is_empty()).then_some(dirs)
}

/// The deployment's target, which wants every instance.
pub fn target_name(d: &Deployment) -> String {
    format!("{}.target", d.name)
}

/// The directory systemd creates and hands to the service's user, for paths
/// under /var/lib, /var/cache and /var/log: (directive, relative path).
pub fn managed_directory(path: &str) -> Option<(&'static str, &str)> {
    [("StateDirectory", "/var/lib/"), ("CacheDirectory", "/var/cache/"), ("LogsDirectory", "/var/log/")]
        .into_iter()
        .find_map(|(directive, prefix)| path.strip_prefix(prefix).map(|rel| (directive, rel.trim_end_matches('/'))))
        .filter(|(_, rel)| !rel.is_empty())
}
