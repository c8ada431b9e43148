//! One service's entry in compose.yaml.

use crate::settings::DeploymentSettings;
use crate::yaml::{self, escape, strings, Entries};
use nix2dream_plugin_kit::types::ImageRequest;
use nix2dream_plugin_kit::{
    diagnostics, image, programs, Dependency, DependencyCondition, Deployment, Diagnostic, Probe, Protocol, RestartPolicy, Service,
    VolumeSource,
};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashSet;

/// One service's entry in compose.yaml, borrowing from the deployment and
/// its image request. Its fields are in the order the entry's mapping was
/// built in (and written in) before, absent ones skipped.
#[derive(Serialize)]
pub struct ComposeService<'a> {
    image: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entrypoint: Vec<Cow<'a, str>>,
    command: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Entries::is_empty")]
    environment: Entries<&'a str, Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<SecretMount<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    expose: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<Mount<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tmpfs: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Entries::is_empty")]
    depends_on: Entries<&'a str, Condition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck<'a>>,
    restart: &'static str,
    init: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_signal: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_grace_period: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mem_limit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scale: Option<u32>,
    labels: Entries<&'a str, Cow<'a, str>>,
}

#[derive(Serialize)]
struct SecretMount<'a> {
    source: Cow<'a, str>,
    target: Cow<'a, str>,
}

/// A volume in the long syntax: a host path may hold `:` or anything else.
#[derive(Serialize)]
struct Mount<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    source: Cow<'a, str>,
    target: Cow<'a, str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_only: bool,
}

#[derive(Serialize)]
pub struct Condition {
    condition: &'static str,
}

#[derive(Serialize)]
struct Healthcheck<'a> {
    test: Vec<Cow<'a, str>>,
    interval: String,
    timeout: String,
    retries: u32,
    start_period: String,
}

/// A service's entry as written: typed, or (with `managers.compose` merged
/// in) a YAML value. Not boxed: most entries are typed, and a box would be
/// one more allocation for each.
#[allow(clippy::large_enum_variant)]
pub enum Written<'a> {
    Typed(ComposeService<'a>),
    Merged(serde_yaml_ng::Value),
}

impl Serialize for Written<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Written::Typed(s) => s.serialize(serializer),
            Written::Merged(v) => v.serialize(serializer),
        }
    }
}

pub struct Entry<'a> {
    pub written: Written<'a>,
    /// Top-level named volumes this service uses.
    pub named_volumes: Vec<Cow<'a, str>>,
    pub warnings: Vec<Diagnostic>,
}

/// `<service>-<volume>`: volumes belong to one service in the deployment model.
pub fn volume_name(service: &Service, volume: &str) -> String {
    format!("{}-{}", service.name, volume)
}

fn seconds(s: u32) -> String {
    format!("{s}s")
}

fn healthcheck<'a>(d: &Deployment, svc: &'a Service, warnings: &mut Vec<Diagnostic>) -> Option<Healthcheck<'a>> {
    let h = svc.healthcheck.as_ref()?;
    let mut test = vec![Cow::Borrowed("CMD")];
    match &h.probe {
        Probe::Command(argv) => test.extend(argv.iter().map(|a| escape(a))),
        Probe::Http(http) => {
            // The image holds only the service's packages: check, then warn.
            if programs::lookup(d, svc, "wget") == programs::Lookup::Missing {
                warnings.push(diagnostics::warning(
                    &svc.name,
                    "healthcheck",
                    "the http healthcheck runs `wget` inside the container, and none of the service's packages holds it: \
                     put busybox or wget in `package` or `path`",
                ));
            }
            let path = if http.path.starts_with('/') { http.path.clone() } else { format!("/{}", http.path) };
            test.extend(["wget", "-q", "-O", "/dev/null"].map(Cow::Borrowed));
            test.push(Cow::Owned(escape(&format!("http://127.0.0.1:{}{path}", http.port)).into_owned()));
        }
    }
    Some(Healthcheck {
        test,
        interval: seconds(h.interval_seconds),
        timeout: seconds(h.timeout_seconds),
        retries: h.retries,
        start_period: seconds(h.start_period_seconds),
    })
}

fn depends_on<'a>(
    healthchecked: &HashSet<&str>,
    svc: &Service,
    deps: &'a [Dependency],
    warnings: &mut Vec<Diagnostic>,
) -> Entries<&'a str, Condition> {
    let mut m = Entries::default();
    for dep in deps {
        let target_has_check = healthchecked.contains(dep.service.as_str());
        let condition = match dep.condition {
            DependencyCondition::Healthy if target_has_check => "service_healthy",
            DependencyCondition::Healthy => {
                warnings.push(diagnostics::warning(
                    &svc.name,
                    "dependsOn",
                    format!("waits for {:?} to be healthy, but it has no healthcheck: waiting for it to start instead", dep.service),
                ));
                "service_started"
            }
            DependencyCondition::Started => "service_started",
            // The host checked that the dependency is a one-shot service.
            DependencyCondition::Completed => "service_completed_successfully",
        };
        m.insert(dep.service.as_str(), Condition { condition });
    }
    m
}

/// One service's entry. `healthchecked`: the services that have a
/// healthcheck, found once per render (a search per dependency was
/// quadratic: 10,000 services took 0.9 s).
pub fn compose_service<'a>(
    d: &'a Deployment,
    svc: &'a Service,
    request: &'a ImageRequest,
    settings: &DeploymentSettings,
    healthchecked: &HashSet<&str>,
) -> Result<Entry<'a>, Vec<Diagnostic>> {
    let mut warnings = Vec::new();
    let image = format!("{}:{}", request.name, request.tag);
    let entrypoint = strings(&request.config.entrypoint);
    let command = strings(&svc.argv);
    let mut environment = Entries::default();
    for var in &request.config.env {
        environment.insert(var.name.as_str(), escape(&var.value));
    }
    // Secrets: a file is mounted by compose (top-level `secrets`); a variable
    // comes from docker-compose's own environment, interpolated when it
    // runs. Neither value is in compose.yaml or an image.
    let mut secret_mounts = Vec::new();
    for using in &svc.secrets {
        let Some(secret) = d.secrets.iter().find(|s| s.name == using.secret) else { continue };
        match (&using.path, &using.env, &secret.file, &secret.environment) {
            (Some(path), _, Some(_), _) => secret_mounts.push(SecretMount { source: escape(&secret.name), target: escape(path) }),
            (_, Some(var), _, Some(from)) => {
                environment.insert(
                    var.as_str(),
                    Cow::Owned(format!("${{{from}:?the secret {} comes from {from}: set it}}", secret.name.replace(['}', '$'], ""))),
                );
            }
            (Some(_), _, None, _) => {
                return Err(vec![diagnostics::error(&svc.name, "secrets", format!("secrets.{:?}: compose mounts a secret file: give secrets.{0:?}.file", secret.name))])
            }
            _ => {
                return Err(vec![diagnostics::error(
                    &svc.name,
                    "secrets",
                    format!("secrets.{:?}: compose gives a variable from docker-compose's environment: give secrets.{0:?}.environment (or take it as a file with `path`)", secret.name),
                )])
            }
        }
    }
    let working_dir = svc.working_directory.as_deref().map(escape);
    let user = image::user_spec(svc).map(|user| escape(&user).into_owned());
    let proto = |p: &nix2dream_plugin_kit::Port| match p.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    };
    // Internal ports: reachable on the project's network only.
    let expose: Vec<String> = svc.ports.iter().filter(|p| p.internal).map(|p| format!("{}/{}", p.port, proto(p))).collect();
    let mut ports = Vec::new();
    if svc.ports.iter().any(|p| !p.internal) {
        ports = svc
            .ports
            .iter()
            .filter(|p| !p.internal)
            .map(|p| {
                let host = p.host_port.unwrap_or(p.port);
                let port = match &settings.publish_address {
                    Some(addr) => format!("{addr}:{host}:{}/{}", p.port, proto(p)),
                    None => format!("{host}:{}/{}", p.port, proto(p)),
                };
                escape(&port).into_owned()
            })
            .collect();
        if svc.replicas > 1 && svc.ports.iter().any(|p| !p.internal) {
            warnings.push(diagnostics::warning(
                &svc.name,
                "replicas",
                "several replicas cannot all publish the same host port: `docker-compose up` will fail for all but one",
            ));
        }
    }
    let mut named_volumes = Vec::new();
    let mut mounts = Vec::new();
    let mut tmpfs = Vec::new();
    for v in &svc.volumes {
        let mount = |kind: &'static str, source: &str| Mount {
            kind,
            source: Cow::Owned(escape(source).into_owned()),
            target: escape(&v.path),
            read_only: v.read_only,
        };
        match &v.source {
            VolumeSource::Own if !v.persistent => tmpfs.push(escape(&v.path)),
            VolumeSource::Own => {
                let name = volume_name(svc, &v.name);
                mounts.push(mount("volume", &name));
                named_volumes.push(Cow::Owned(name));
            }
            VolumeSource::Shared(name) => {
                mounts.push(Mount { kind: "volume", source: escape(name), target: escape(&v.path), read_only: v.read_only });
                named_volumes.push(Cow::Borrowed(name.as_str()));
            }
            VolumeSource::HostPath(host) => {
                mounts.push(Mount { kind: "bind", source: escape(host), target: escape(&v.path), read_only: v.read_only })
            }
        }
    }
    let depends_on = depends_on(healthchecked, svc, &svc.depends_on, &mut warnings);
    let healthcheck = healthcheck(d, svc, &mut warnings);
    let restart = match svc.restart {
        RestartPolicy::Never => "no",
        RestartPolicy::OnFailure => "on-failure",
        RestartPolicy::Always => "always",
    };
    let stop_signal = svc.stop_signal.as_deref().map(escape);
    let stop_grace_period = svc.stop_timeout_seconds.map(seconds);
    let cpus = match &svc.resources.cpus {
        Some(cpus) => match cpus.parse::<f64>() {
            Ok(c) if c > 0.0 => Some(c),
            _ => return Err(vec![diagnostics::error(&svc.name, "resources", format!("cpus {cpus:?} is not a positive number"))]),
        },
        None => None,
    };
    let mem_limit = svc.resources.memory_mib.map(|mib| format!("{mib}m"));
    let scale = (svc.replicas != 1).then_some(svc.replicas);
    let mut labels = Entries::default();
    for (k, v) in &request.config.labels {
        labels.insert(k.as_str(), escape(v));
    }
    if svc.one_shot {
        // Says why `docker-compose ps` shows it exited: it ran to completion.
        labels.insert("org.nix2dream.one-shot", Cow::Borrowed("true"));
    }
    let typed = ComposeService {
        image,
        entrypoint,
        command,
        environment,
        secrets: secret_mounts,
        working_dir,
        user,
        expose,
        ports,
        volumes: mounts,
        tmpfs,
        depends_on,
        healthcheck,
        restart,
        // An init as PID 1 reaps zombies and passes the stop signal on (a
        // program started as PID 1 ignores signals it has no handler for).
        init: true,
        stop_signal,
        stop_grace_period,
        cpus,
        mem_limit,
        scale,
        labels,
    };

    let user_settings = crate::settings::ServiceSettings::parse(&svc.name, &svc.settings_json).map_err(|e| vec![e])?;
    let written = if user_settings.0.is_empty() {
        Written::Typed(typed)
    } else {
        let mut entry = serde_yaml_ng::to_value(&typed).map_err(|e| vec![diagnostics::error(&svc.name, "managers", format!("cannot merge managers.compose: {e}"))])?;
        yaml::merge(&mut entry, yaml::from_json(&serde_json::Value::Object(user_settings.0)));
        Written::Merged(entry)
    };
    Ok(Entry { written, named_volumes, warnings })
}
