//! Building deployments in Rust, for plugins' unit tests: a service with
//! the format's defaults and chainable setters.

use crate::{ConfigFile, Deployment, EnvVar, FileContent, Port, Protocol, Resources, RestartPolicy, Service, Volume};

/// A service with only argv set; the rest is the deployment format's defaults.
pub fn service(name: &str, argv: &[&str]) -> Service {
    Service {
        name: name.to_owned(),
        description: None,
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        env: Vec::new(),
        package: None,
        path: Vec::new(),
        working_directory: None,
        pre_start: None,
        config_files: Vec::new(),
        volumes: Vec::new(),
        ports: Vec::new(),
        user: None,
        group: None,
        depends_on: Vec::new(),
        healthcheck: None,
        restart: RestartPolicy::OnFailure,
        resources: Resources { cpus: None, memory_mib: None },
        replicas: 1,
        options_set: vec!["process.argv".to_owned()],
        settings_json: String::new(),
        closure_roots: Vec::new(),
    }
}

/// Chainable setters for the options tests use.
pub trait ServiceExt: Sized {
    fn with(self, f: impl FnOnce(&mut Service)) -> Self;
    fn env(self, name: &str, value: &str) -> Self {
        self.with(|s| s.env.push(EnvVar { name: name.into(), value: value.into() }))
    }
    fn path_entry(self, dir: &str) -> Self {
        self.with(|s| s.path.push(dir.into()))
    }
    fn working_directory(self, dir: &str) -> Self {
        self.with(|s| s.working_directory = Some(dir.into()))
    }
    fn pre_start(self, script: &str) -> Self {
        self.with(|s| s.pre_start = Some(script.into()))
    }
    fn text_file(self, name: &str, path: &str, text: &str) -> Self {
        self.with(|s| {
            s.config_files.push(ConfigFile {
                name: name.into(),
                path: path.into(),
                content: FileContent::Text(text.into()),
            })
        })
    }
    fn source_file(self, name: &str, path: &str, source: &str) -> Self {
        self.with(|s| {
            s.config_files.push(ConfigFile {
                name: name.into(),
                path: path.into(),
                content: FileContent::Source(source.into()),
            })
        })
    }
    fn volume(self, name: &str, path: &str) -> Self {
        self.with(|s| s.volumes.push(Volume { name: name.into(), path: path.into(), persistent: true }))
    }
    fn port(self, name: &str, port: u16) -> Self {
        self.with(|s| s.ports.push(Port { name: name.into(), port, protocol: Protocol::Tcp }))
    }
    fn description(self, text: &str) -> Self {
        self.with(|s| s.description = Some(text.into()))
    }
    fn settings(self, json: &str) -> Self {
        self.with(|s| s.settings_json = json.into())
    }
}

impl ServiceExt for Service {
    fn with(mut self, f: impl FnOnce(&mut Service)) -> Self {
        f(&mut self);
        self
    }
}

/// A deployment named "demo" with these services and no settings.
pub fn deployment(services: Vec<Service>) -> Deployment {
    Deployment { name: "demo".to_owned(), services, settings_json: String::new() }
}
