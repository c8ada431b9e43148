//! Plugins built against `nix2dream:manager@0.4.0` (adds the `vm-root`
//! artifact, one-shot services, stop signal and timeout, internal and host
//! ports, the plugin's `addressing`). Its types are the host's latest types,
//! and its services the records older contracts are converted from.

use crate::bin_directories::BinDirectories;
use crate::deployment as d;

wasmtime::component::bindgen!({
    path: "../wit/v0.4.0",
    world: "manager",
});

pub use exports::nix2dream::manager::plugin as api;

/// Every service, with the plugin `plugin_name`'s own settings only.
pub fn services_for(dep: &d::Deployment, plugin_name: &str) -> Vec<api::Service> {
    let settings = |map| super::convert::settings_json(map, plugin_name);
    {
        dep
            .services
            .iter()
            .map(|(name, s)| api::Service {
                name: name.clone(),
                description: s.description.clone(),
                package: s.package.clone(),
                argv: s.process.argv.clone(),
                env: s.env.iter().map(|(k, v)| api::EnvVar { name: k.clone(), value: v.clone() }).collect(),
                path: s.path.clone(),
                working_directory: s.working_directory.clone(),
                pre_start: s.pre_start.clone(),
                config_files: s
                    .config_data
                    .iter()
                    .map(|(n, c)| api::ConfigFile {
                        name: n.clone(),
                        path: c.path.clone().unwrap_or_else(|| n.clone()),
                        content: match (&c.text, &c.source) {
                            (Some(text), _) => api::FileContent::Text(text.clone()),
                            (None, source) => api::FileContent::Source(source.clone().unwrap_or_default()),
                        },
                    })
                    .collect(),
                volumes: s
                    .volumes
                    .iter()
                    .map(|(n, v)| api::Volume {
                        name: n.clone(),
                        path: v.path.clone(),
                        persistent: v.persistent,
                        source: match (&v.shared, &v.host_path) {
                            (Some(shared), _) => api::VolumeSource::Shared(shared.clone()),
                            (None, Some(host)) => api::VolumeSource::HostPath(host.clone()),
                            (None, None) => api::VolumeSource::Own,
                        },
                        read_only: v.read_only,
                    })
                    .collect(),
                ports: s
                    .ports
                    .iter()
                    .map(|(n, p)| api::Port {
                        name: n.clone(),
                        port: p.port,
                        protocol: match p.protocol {
                            d::Protocol::Tcp => api::Protocol::Tcp,
                            d::Protocol::Udp => api::Protocol::Udp,
                        },
                        internal: p.internal,
                        host_port: p.host_port,
                    })
                    .collect(),
                user: s.user.clone(),
                group: s.group.clone(),
                depends_on: s
                    .depends_on
                    .iter()
                    .map(|(n, dep)| api::Dependency {
                        service: n.clone(),
                        condition: match dep.condition {
                            d::Condition::Started => api::DependencyCondition::Started,
                            d::Condition::Healthy => api::DependencyCondition::Healthy,
                            d::Condition::Completed => api::DependencyCondition::Completed,
                        },
                    })
                    .collect(),
                healthcheck: s.healthcheck.as_ref().map(|h| api::Healthcheck {
                    probe: match (&h.command, &h.http) {
                        (Some(command), _) => api::Probe::Command(command.clone()),
                        (None, Some(http)) => api::Probe::Http(api::HttpProbe { port: http.port, path: http.path.clone() }),
                        (None, None) => api::Probe::Command(Vec::new()),
                    },
                    interval_seconds: h.interval,
                    timeout_seconds: h.timeout,
                    retries: h.retries,
                    start_period_seconds: h.start_period,
                }),
                restart: match s.restart {
                    d::Restart::Never => api::RestartPolicy::Never,
                    d::Restart::OnFailure => api::RestartPolicy::OnFailure,
                    d::Restart::Always => api::RestartPolicy::Always,
                },
                resources: api::Resources {
                    cpus: s.resources.cpus.map(|c| c.to_string()),
                    memory_mib: s.resources.memory_mib,
                },
                replicas: s.replicas,
                one_shot: s.one_shot,
                stop_signal: s.stop_signal.clone(),
                stop_timeout_seconds: s.stop_timeout,
                secrets: s
                    .secrets
                    .iter()
                    .map(|(name, using)| api::SecretUse { secret: name.clone(), path: using.path.clone(), env: using.env.clone() })
                    .collect(),
                options_set: s.options_set().to_vec(),
                settings_json: settings(&s.managers),
                closure_roots: s.closure_roots.clone(),
            })
            .collect()
    }
}

/// What the plugin `plugin_name` receives.
pub fn deployment_for(dep: &d::Deployment, plugin_name: &str, bins: &BinDirectories) -> api::Deployment {
    api::Deployment {
        name: dep.name.clone(),
        settings_json: super::convert::settings_json(&dep.settings, plugin_name),
        services: services_for(dep, plugin_name),
        secrets: dep
            .secrets
            .iter()
            .map(|(name, s)| api::Secret {
                name: name.clone(),
                file: s.file.clone(),
                environment: s.environment.clone(),
                kubernetes: s.kubernetes.as_ref().map(|k| api::KubernetesSecretKey { name: k.name.clone(), key: k.key.clone() }),
            })
            .collect(),
        bin_directories: bins
            .iter()
            .map(|(package, programs)| api::BinDirectory { package: package.clone(), programs: programs.clone() })
            .collect(),
    }
}
