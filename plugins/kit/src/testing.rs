//! Building deployments in Rust, for plugins' unit tests: a service with
//! the format's defaults and chainable setters, and the check that a
//! plugin declares exactly the options it honours ([`honoured_options`]).

use crate::{
    ConfigFile, Dependency, DependencyCondition, Deployment, EnvVar, FileContent, Healthcheck, Port, Probe, Protocol, Resources,
    RestartPolicy, Secret, SecretUse, Service, Volume, VolumeSource,
};
use crate::types::KubernetesSecretKey;

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
        one_shot: false,
        stop_signal: None,
        stop_timeout_seconds: None,
        secrets: Vec::new(),
        options_set: vec!["process.argv".to_owned()],
        settings_json: String::new(),
        closure_roots: Vec::new(),
    }
}

/// A service that sets most options at once, with values a format could
/// mistake (`$`, `: `): every kind of volume (own, own and not persistent,
/// read-only, shared, a host path), a secret as a variable and one as a
/// file, resources, replicas, a user, a stop timeout and a healthcheck by
/// `probe` (its interval and retries 0, its start period 7). Plugins' tests
/// add their own options to it.
pub fn rich_service(name: &str, argv: &[&str], probe: Probe) -> Service {
    let volume = |name: &str, source: VolumeSource, persistent: bool, read_only: bool| Volume {
        name: name.into(),
        path: format!("/srv/$ {name}"),
        persistent,
        source,
        read_only,
    };
    service(name, argv).with(|s| {
        s.volumes.push(volume("data", VolumeSource::Own, true, false));
        s.volumes.push(volume("scratch", VolumeSource::Own, false, true));
        s.volumes.push(volume("uploads", VolumeSource::Shared("uploads".into()), true, false));
        s.volumes.push(volume("media", VolumeSource::HostPath("/home/me/my: $media".into()), true, true));
        s.secrets.push(SecretUse { secret: "db-password".into(), path: None, env: Some("DB_PASSWORD".into()) });
        s.secrets.push(SecretUse { secret: "tls".into(), path: Some("/run/tls/key".into()), env: None });
        s.resources = Resources { cpus: Some("0.5".into()), memory_mib: Some(64) };
        s.replicas = 3;
        s.user = Some("nobody".into());
        s.stop_timeout_seconds = Some(30);
        s.healthcheck = Some(Healthcheck { probe, interval_seconds: 0, timeout_seconds: 2, retries: 0, start_period_seconds: 7 });
    })
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
        self.with(|s| {
            s.volumes.push(Volume { name: name.into(), path: path.into(), persistent: true, source: VolumeSource::Own, read_only: false })
        })
    }
    fn port(self, name: &str, port: u16) -> Self {
        self.with(|s| s.ports.push(Port { name: name.into(), port, protocol: Protocol::Tcp, internal: false, host_port: None }))
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

/// A deployment named "demo" with these services and no settings; each
/// secret a service uses is declared with every source (a file
/// `/run/keys/<name>`, the variable `SECRET_<n>`, the Kubernetes Secret
/// `<name>`'s key `value`).
pub fn deployment(services: Vec<Service>) -> Deployment {
    let mut names: Vec<String> = services.iter().flat_map(|s| s.secrets.iter().map(|u| u.secret.clone())).collect();
    names.sort();
    names.dedup();
    let secrets = names
        .iter()
        .enumerate()
        .map(|(i, name)| Secret {
            name: name.clone(),
            file: Some(format!("/run/keys/{name}")),
            environment: Some(format!("SECRET_{i}")),
            kubernetes: Some(KubernetesSecretKey { name: name.clone(), key: "value".into() }),
        })
        .collect();
    Deployment { name: "demo".to_owned(), services, settings_json: String::new(), bin_directories: Vec::new(), secrets }
}

/// What [`with_option`] adds `option` to: the service `web` (argv `app`),
/// with what the option needs around it (a port for the port options, no
/// restart for a one-shot service), so that only the option differs.
pub fn baseline_for(option: &str) -> Service {
    let base = service("web", &["app"]);
    match option {
        "ports.internal" | "ports.hostPort" => base.port("http", 8080),
        "volumes.shared" | "volumes.hostPath" | "volumes.readOnly" => base.volume("data", "/var/lib/web"),
        "oneShot" => base.with(|s| s.restart = RestartPolicy::Never),
        _ => base,
    }
}

/// The baseline service with exactly one core option set (see [`baseline_for`]).
pub fn with_option(option: &str) -> Service {
    let base = baseline_for(option);
    match option {
        "description" => base.description("hello"),
        "package" => base.with(|s| s.package = Some("/nix/store/abc-app".into())),
        "process.argv" => base.with(|s| s.argv.push("--flag".into())),
        "env" => base.env("A", "1"),
        "path" => base.path_entry("/nix/store/abc-tools"),
        "workingDirectory" => base.working_directory("/srv/web"),
        "preStart" => base.pre_start("true"),
        "configData" => base.text_file("c", "c.conf", "x"),
        "volumes" => base.volume("data", "/var/lib/web"),
        "ports" => base.port("http", 8080),
        "user" => base.with(|s| s.user = Some("nobody".into())),
        "group" => base.with(|s| s.group = Some("nogroup".into())),
        "dependsOn" => base
            .with(|s| s.depends_on.push(Dependency { service: "db".into(), condition: DependencyCondition::Healthy })),
        "healthcheck" => base.with(|s| {
            s.healthcheck = Some(Healthcheck {
                probe: Probe::Command(vec!["true".into()]),
                interval_seconds: 10,
                timeout_seconds: 5,
                retries: 3,
                start_period_seconds: 0,
            })
        }),
        "restart" => base.with(|s| s.restart = RestartPolicy::Always),
        "resources" => base.with(|s| s.resources = Resources { cpus: Some("0.5".into()), memory_mib: Some(256) }),
        "replicas" => base.with(|s| s.replicas = 3),
        "volumes.shared" => base.with(|s| s.volumes[0].source = VolumeSource::Shared("uploads".into())),
        // At its own path: what every manager can bind (a Procfile only that).
        "volumes.hostPath" => base.with(|s| s.volumes[0].source = VolumeSource::HostPath("/var/lib/web".into())),
        "volumes.readOnly" => base.with(|s| s.volumes[0].read_only = true),
        "ports.internal" => base.with(|s| s.ports[0].internal = true),
        "ports.hostPort" => base.with(|s| s.ports[0].host_port = Some(18080)),
        "oneShot" => base.with(|s| s.one_shot = true),
        "stopSignal" => base.with(|s| s.stop_signal = Some("SIGINT".into())),
        "stopTimeout" => base.with(|s| s.stop_timeout_seconds = Some(30)),
        "secrets" => base.with(|s| s.secrets.push(SecretUse { secret: "db-password".into(), path: None, env: Some("DB_PASSWORD".into()) })),
        other => panic!("unknown core option {other}"),
    }
}

/// The core options whose setting changes what `render` returns for a
/// service (sorted): what a plugin must declare as supported, no more, no
/// less. `render` gets the service; a service `db` may be added beside it
/// (the `dependsOn` case depends on one).
pub fn honoured_options<T: PartialEq>(render: impl Fn(Service) -> T) -> Vec<String> {
    let mut honoured: Vec<String> = crate::CORE_OPTIONS
        .iter()
        .filter(|o| render(with_option(o)) != render(baseline_for(o)))
        .map(|o| (*o).to_owned())
        .collect();
    honoured.sort();
    honoured
}

/// Where a container plugin puts the images of `web` and `db` with these
/// deployment settings (JSON): each image request's path, in order.
pub fn image_archive_paths<M: crate::Manager>(settings_json: &str) -> Vec<String> {
    let mut d = deployment(vec![service("web", &["x"]), service("db", &["y"])]);
    d.settings_json = settings_json.into();
    let rendered = M::render(d).unwrap_or_else(|e| panic!("render failed: {e:?}"));
    rendered.artifacts.iter().filter_map(|a| if let crate::Artifact::Image(r) = a { Some(r.path.clone()) } else { None }).collect()
}
