//! The conversion of a deployment into a contract version's WIT types. The
//! service records are the same in every version so far, but each
//! version's bindings are distinct Rust types: one macro, expanded in each
//! version module, keeps a single copy of the code. Each version module
//! builds its own `deployment` record around it (0.3.0 added a field).

/// This plugin's settings (`settings.<plugin>` or `managers.<plugin>`) as JSON text.
pub fn settings_json(map: &std::collections::BTreeMap<String, serde_json::Value>, plugin_name: &str) -> String {
    map.get(plugin_name).map(|v| v.to_string()).unwrap_or_else(|| "{}".to_owned())
}

/// Expands to `fn services_for(&Deployment, plugin_name) -> Vec<api::Service>`
/// where `api` is the version module's bindings.
macro_rules! service_conversion {
    () => {
        /// Every service, with the plugin `plugin_name`'s own settings only.
        fn services_for(dep: &d::Deployment, plugin_name: &str) -> Vec<api::Service> {
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
                            .map(|(n, v)| api::Volume { name: n.clone(), path: v.path.clone(), persistent: v.persistent })
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
                        options_set: s.options_set().to_vec(),
                        settings_json: settings(&s.managers),
                        closure_roots: s.closure_roots.clone(),
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use service_conversion;

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
                        })
                        .collect(),
                    user: c.user,
                    working_dir: c.working_dir,
                    labels: c.labels,
                    volumes: c.volumes,
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
