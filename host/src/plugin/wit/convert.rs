//! The conversion of a deployment into a contract version's WIT types. The
//! host builds the latest records once (`since_v0_4_0::services_for`); an
//! older contract gets them without what it does not know. Each version's
//! bindings are distinct Rust types with mostly the same records: one macro
//! per shared step, expanded in each version module, keeps a single copy of
//! the code. Each version module builds its own `deployment` record around
//! the services (0.3.0 added a field).

/// This plugin's settings (`settings.<plugin>` or `managers.<plugin>`) as JSON text.
pub fn settings_json(map: &std::collections::BTreeMap<String, serde_json::Value>, plugin_name: &str) -> String {
    map.get(plugin_name).map(|v| v.to_string()).unwrap_or_else(|| "{}".to_owned())
}

/// Expands to `fn services_for(&Deployment, plugin_name) -> Vec<api::Service>`
/// for a contract before 0.4.0: the latest records (built once, in
/// `since_v0_4_0`), without what 0.4.0 added. A `completed` dependency
/// becomes `started` (the one-shot option itself is reported as unsupported
/// to such a plugin, by name).
macro_rules! services_before_v0_4 {
    () => {
        fn services_for(dep: &d::Deployment, plugin_name: &str) -> Vec<api::Service> {
            use super::since_v0_4_0::api as new;
            super::since_v0_4_0::services_for(dep, plugin_name)
                .into_iter()
                .map(|s| api::Service {
                    name: s.name,
                    description: s.description,
                    package: s.package,
                    argv: s.argv,
                    env: s.env.into_iter().map(|e| api::EnvVar { name: e.name, value: e.value }).collect(),
                    path: s.path,
                    working_directory: s.working_directory,
                    pre_start: s.pre_start,
                    config_files: s
                        .config_files
                        .into_iter()
                        .map(|c| api::ConfigFile {
                            name: c.name,
                            path: c.path,
                            content: match c.content {
                                new::FileContent::Text(t) => api::FileContent::Text(t),
                                new::FileContent::Source(p) => api::FileContent::Source(p),
                            },
                        })
                        .collect(),
                    volumes: s
                        .volumes
                        .into_iter()
                        .map(|v| api::Volume { name: v.name, path: v.path, persistent: v.persistent })
                        .collect(),
                    ports: s
                        .ports
                        .into_iter()
                        .map(|p| api::Port {
                            name: p.name,
                            port: p.port,
                            protocol: match p.protocol {
                                new::Protocol::Tcp => api::Protocol::Tcp,
                                new::Protocol::Udp => api::Protocol::Udp,
                            },
                        })
                        .collect(),
                    user: s.user,
                    group: s.group,
                    depends_on: s
                        .depends_on
                        .into_iter()
                        .map(|d| api::Dependency {
                            service: d.service,
                            condition: match d.condition {
                                new::DependencyCondition::Healthy => api::DependencyCondition::Healthy,
                                new::DependencyCondition::Started | new::DependencyCondition::Completed => {
                                    api::DependencyCondition::Started
                                }
                            },
                        })
                        .collect(),
                    healthcheck: s.healthcheck.map(|h| api::Healthcheck {
                        probe: match h.probe {
                            new::Probe::Command(c) => api::Probe::Command(c),
                            new::Probe::Http(http) => api::Probe::Http(api::HttpProbe { port: http.port, path: http.path }),
                        },
                        interval_seconds: h.interval_seconds,
                        timeout_seconds: h.timeout_seconds,
                        retries: h.retries,
                        start_period_seconds: h.start_period_seconds,
                    }),
                    restart: match s.restart {
                        new::RestartPolicy::Never => api::RestartPolicy::Never,
                        new::RestartPolicy::OnFailure => api::RestartPolicy::OnFailure,
                        new::RestartPolicy::Always => api::RestartPolicy::Always,
                    },
                    resources: api::Resources { cpus: s.resources.cpus, memory_mib: s.resources.memory_mib },
                    replicas: s.replicas,
                    options_set: s.options_set,
                    settings_json: s.settings_json,
                    closure_roots: s.closure_roots,
                })
                .collect()
        }
    };
}

pub(crate) use services_before_v0_4;

/// The deployment without `bin-directories`, for contracts before 0.3.0.
macro_rules! deployment_before_v0_3 {
    () => {
        /// What the plugin `plugin_name` receives.
        pub fn deployment_for(dep: &d::Deployment, plugin_name: &str) -> api::Deployment {
            api::Deployment {
                name: dep.name.clone(),
                settings_json: super::convert::settings_json(&dep.settings, plugin_name),
                services: services_for(dep, plugin_name),
            }
        }
    };
}

pub(crate) use deployment_before_v0_3;

/// `upgrade_diagnostic` and `upgrade_info` for every contract before the
/// latest: the same records in every version, other Rust types.
macro_rules! upgrade_records {
    () => {
        pub fn upgrade_diagnostic(d: api::Diagnostic) -> latest::Diagnostic {
            let severity = match d.severity {
                api::Severity::Error => latest::Severity::Error,
                api::Severity::Warning => latest::Severity::Warning,
                api::Severity::Info => latest::Severity::Info,
            };
            latest::Diagnostic { severity, service: d.service, option_name: d.option_name, message: d.message }
        }

        pub fn upgrade_info(i: api::PluginInfo) -> latest::PluginInfo {
            latest::PluginInfo {
                name: i.name,
                version: i.version,
                description: i.description,
                supported_options: i.supported_options,
                settings_schema: i.settings_schema,
                usage: i.usage,
                // Before 0.4.0 plugins did not say: their services shared one
                // machine's network (Procfile, systemd), where 127.0.0.1 works.
                addressing: latest::Addressing::Loopback,
            }
        }
    };
}

pub(crate) use upgrade_records;

/// `upgrade_rendered` for the contracts with files and images only (0.2.0
/// and 0.3.0; 0.4.0 added VM roots).
macro_rules! upgrade_files_and_images {
    () => {
        fn upgrade_content(c: api::FileContent) -> latest::FileContent {
            match c {
                api::FileContent::Text(t) => latest::FileContent::Text(t),
                api::FileContent::Source(s) => latest::FileContent::Source(s),
            }
        }

        fn upgrade_image(i: api::ImageRequest) -> latest::ImageRequest {
            let c = i.config;
            latest::ImageRequest {
                path: i.path,
                name: i.name,
                tag: i.tag,
                config: latest::ImageConfig {
                    entrypoint: c.entrypoint,
                    cmd: c.cmd,
                    env: c.env.into_iter().map(|e| latest::EnvVar { name: e.name, value: e.value }).collect(),
                    exposed_ports: c
                        .exposed_ports
                        .into_iter()
                        .map(|p| latest::Port {
                            name: p.name,
                            port: p.port,
                            protocol: match p.protocol {
                                api::Protocol::Tcp => latest::Protocol::Tcp,
                                api::Protocol::Udp => latest::Protocol::Udp,
                            },
                            internal: false,
                            host_port: None,
                        })
                        .collect(),
                    user: c.user,
                    working_dir: c.working_dir,
                    labels: c.labels,
                    volumes: c.volumes,
                    stop_signal: None,
                    shared_directories: Vec::new(),
                },
                store_paths: i.store_paths,
                files: i
                    .files
                    .into_iter()
                    .map(|f| latest::ImageFile { path: f.path, content: upgrade_content(f.content), executable: f.executable })
                    .collect(),
            }
        }

        pub fn upgrade_rendered(r: api::Rendered) -> latest::Rendered {
            latest::Rendered {
                artifacts: r
                    .artifacts
                    .into_iter()
                    .map(|a| match a {
                        api::Artifact::File(f) => {
                            latest::Artifact::File(latest::File { path: f.path, contents: f.contents, executable: f.executable })
                        }
                        api::Artifact::Image(i) => latest::Artifact::Image(upgrade_image(i)),
                    })
                    .collect(),
                diagnostics: r.diagnostics.into_iter().map(upgrade_diagnostic).collect(),
            }
        }
    };
}

pub(crate) use upgrade_files_and_images;
