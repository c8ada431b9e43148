//! One service's entry in compose.yaml.

use crate::settings::DeploymentSettings;
use crate::yaml::{self, string, strings};
use nix2dream_plugin_kit::types::ImageRequest;
use nix2dream_plugin_kit::{
    diagnostics, image, programs, Dependency, DependencyCondition, Deployment, Diagnostic, Probe, Protocol, RestartPolicy, Service,
    VolumeSource,
};
use serde_yaml_ng::{Mapping, Value};
use std::collections::HashSet;

pub struct Entry {
    pub mapping: Mapping,
    /// Top-level named volumes this service uses.
    pub named_volumes: Vec<String>,
    pub warnings: Vec<Diagnostic>,
}

/// `<service>-<volume>`: volumes belong to one service in the deployment model.
pub fn volume_name(service: &Service, volume: &str) -> String {
    format!("{}-{}", service.name, volume)
}

fn seconds(s: u32) -> Value {
    Value::String(format!("{s}s"))
}

fn healthcheck(d: &Deployment, svc: &Service, warnings: &mut Vec<Diagnostic>) -> Option<Value> {
    let h = svc.healthcheck.as_ref()?;
    let mut test = vec!["CMD".to_owned()];
    match &h.probe {
        Probe::Command(argv) => test.extend(argv.iter().cloned()),
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
            test.extend(["wget", "-q", "-O", "/dev/null"].map(String::from));
            test.push(format!("http://127.0.0.1:{}{path}", http.port));
        }
    }
    let mut m = Mapping::new();
    m.insert("test".into(), strings(&test));
    m.insert("interval".into(), seconds(h.interval_seconds));
    m.insert("timeout".into(), seconds(h.timeout_seconds));
    m.insert("retries".into(), Value::Number(h.retries.into()));
    m.insert("start_period".into(), seconds(h.start_period_seconds));
    Some(Value::Mapping(m))
}

fn depends_on(healthchecked: &HashSet<&str>, svc: &Service, deps: &[Dependency], warnings: &mut Vec<Diagnostic>) -> Value {
    let mut m = Mapping::new();
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
        let mut c = Mapping::new();
        c.insert("condition".into(), condition.into());
        m.insert(Value::String(dep.service.clone()), Value::Mapping(c));
    }
    Value::Mapping(m)
}

/// One service's entry. `healthchecked`: the services that have a
/// healthcheck, found once per render (a search per dependency was
/// quadratic: 10,000 services took 0.9 s).
pub fn compose_service(
    d: &Deployment,
    svc: &Service,
    request: &ImageRequest,
    settings: &DeploymentSettings,
    healthchecked: &HashSet<&str>,
) -> Result<Entry, Vec<Diagnostic>> {
    let mut warnings = Vec::new();
    let mut m = Mapping::new();
    m.insert("image".into(), Value::String(format!("{}:{}", request.name, request.tag)));
    if !request.config.entrypoint.is_empty() {
        m.insert("entrypoint".into(), strings(&request.config.entrypoint));
    }
    m.insert("command".into(), strings(&svc.argv));
    let mut env = Mapping::new();
    for var in &request.config.env {
        env.insert(Value::String(var.name.clone()), string(&var.value));
    }
    // Secrets: a file is mounted by compose (top-level `secrets`); a variable
    // comes from docker-compose's own environment, interpolated when it
    // runs. Neither value is in compose.yaml or an image.
    let mut secret_mounts = Vec::new();
    for using in &svc.secrets {
        let Some(secret) = d.secrets.iter().find(|s| s.name == using.secret) else { continue };
        match (&using.path, &using.env, &secret.file, &secret.environment) {
            (Some(path), _, Some(_), _) => {
                let mut mount = Mapping::new();
                mount.insert("source".into(), string(&secret.name));
                mount.insert("target".into(), string(path));
                secret_mounts.push(Value::Mapping(mount));
            }
            (_, Some(var), _, Some(from)) => {
                env.insert(Value::String(var.clone()), Value::String(format!("${{{from}:?the secret {} comes from {from}: set it}}", secret.name.replace(['}', '$'], ""))));
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
    if !env.is_empty() {
        m.insert("environment".into(), Value::Mapping(env));
    }
    if !secret_mounts.is_empty() {
        m.insert("secrets".into(), Value::Sequence(secret_mounts));
    }
    if let Some(dir) = &svc.working_directory {
        m.insert("working_dir".into(), string(dir));
    }
    if let Some(user) = image::user_spec(svc) {
        m.insert("user".into(), string(&user));
    }
    let proto = |p: &nix2dream_plugin_kit::Port| match p.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    };
    // Internal ports: reachable on the project's network only.
    let internal: Vec<String> = svc.ports.iter().filter(|p| p.internal).map(|p| format!("{}/{}", p.port, proto(p))).collect();
    if !internal.is_empty() {
        m.insert("expose".into(), strings(&internal));
    }
    if svc.ports.iter().any(|p| !p.internal) {
        let ports: Vec<String> = svc
            .ports
            .iter()
            .filter(|p| !p.internal)
            .map(|p| {
                let host = p.host_port.unwrap_or(p.port);
                match &settings.publish_address {
                    Some(addr) => format!("{addr}:{host}:{}/{}", p.port, proto(p)),
                    None => format!("{host}:{}/{}", p.port, proto(p)),
                }
            })
            .collect();
        m.insert("ports".into(), strings(&ports));
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
        // The long syntax: a host path may hold `:` or anything else.
        let mount = |kind: &str, source: &str| {
            let mut mount = Mapping::new();
            mount.insert("type".into(), kind.into());
            mount.insert("source".into(), string(source));
            mount.insert("target".into(), string(&v.path));
            if v.read_only {
                mount.insert("read_only".into(), Value::Bool(true));
            }
            Value::Mapping(mount)
        };
        match &v.source {
            VolumeSource::Own if !v.persistent => tmpfs.push(v.path.clone()),
            VolumeSource::Own => {
                let name = volume_name(svc, &v.name);
                mounts.push(mount("volume", &name));
                named_volumes.push(name);
            }
            VolumeSource::Shared(name) => {
                mounts.push(mount("volume", name));
                named_volumes.push(name.clone());
            }
            VolumeSource::HostPath(host) => mounts.push(mount("bind", host)),
        }
    }
    if !mounts.is_empty() {
        m.insert("volumes".into(), Value::Sequence(mounts));
    }
    if !tmpfs.is_empty() {
        m.insert("tmpfs".into(), strings(&tmpfs));
    }
    if !svc.depends_on.is_empty() {
        m.insert("depends_on".into(), depends_on(healthchecked, svc, &svc.depends_on, &mut warnings));
    }
    if let Some(h) = healthcheck(d, svc, &mut warnings) {
        m.insert("healthcheck".into(), h);
    }
    let restart = match svc.restart {
        RestartPolicy::Never => "no",
        RestartPolicy::OnFailure => "on-failure",
        RestartPolicy::Always => "always",
    };
    m.insert("restart".into(), Value::String(restart.into()));
    // An init as PID 1 reaps zombies and passes the stop signal on (a
    // program started as PID 1 ignores signals it has no handler for).
    m.insert("init".into(), Value::Bool(true));
    if let Some(signal) = &svc.stop_signal {
        m.insert("stop_signal".into(), string(signal));
    }
    if let Some(timeout) = svc.stop_timeout_seconds {
        m.insert("stop_grace_period".into(), seconds(timeout));
    }
    if let Some(cpus) = &svc.resources.cpus {
        match cpus.parse::<f64>() {
            Ok(c) if c > 0.0 => {
                m.insert("cpus".into(), Value::Number(c.into()));
            }
            _ => return Err(vec![diagnostics::error(&svc.name, "resources", format!("cpus {cpus:?} is not a positive number"))]),
        }
    }
    if let Some(mib) = svc.resources.memory_mib {
        m.insert("mem_limit".into(), Value::String(format!("{mib}m")));
    }
    if svc.replicas != 1 {
        m.insert("scale".into(), Value::Number(svc.replicas.into()));
    }
    let mut labels = Mapping::new();
    for (k, v) in &request.config.labels {
        labels.insert(Value::String(k.clone()), string(v));
    }
    if svc.one_shot {
        // Says why `docker-compose ps` shows it exited: it ran to completion.
        labels.insert("org.nix2dream.one-shot".into(), "true".into());
    }
    m.insert("labels".into(), Value::Mapping(labels));

    let user_settings = crate::settings::ServiceSettings::parse(&svc.name, &svc.settings_json).map_err(|e| vec![e])?;
    let mut entry = Value::Mapping(m);
    yaml::merge(&mut entry, yaml::from_json(&serde_json::Value::Object(user_settings.0)));
    let Value::Mapping(mapping) = entry else { unreachable!("merging into a mapping keeps a mapping") };
    Ok(Entry { mapping, named_volumes, warnings })
}
