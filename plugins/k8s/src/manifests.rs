//! One service's objects: a Deployment, a Service when it has ports, and a
//! PersistentVolumeClaim per persistent volume. argv, env, PATH, working
//! directory, user and config files live in the image (kit::image), so the
//! container runs what the image says.
//!
//! The objects are typed structs that borrow from the deployment and are
//! written straight into manifests.yaml (kit::yaml), with no JSON tree in
//! between: building and freeing a `serde_json::Value` per object was most
//! of a big render. Fields are declared in sorted order and absent ones
//! skipped, so an object writes exactly what its `serde_json::Value` (a
//! sorted map) wrote; a service with `managers.k8s.patch` still goes
//! through that `Value`, patched (`Manifest::Patched`). `tests` checks that
//! both give the same text.

use crate::settings::{self, Settings};
use nix2dream_plugin_kit::types::ImageRequest;
use nix2dream_plugin_kit::{diagnostics, image, Deployment, Diagnostic, Probe, Protocol, RestartPolicy, Service, VolumeSource};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;

/// Kubernetes' IANA_SVC_NAME: what a port name must be.
fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// A DNS-1123 label (object names such as claims).
fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_empty<T>(v: &[T]) -> bool {
    v.is_empty()
}

// The objects' shapes. Field order is the keys' sorted order (what a
// serde_json map writes): keep it so when adding one.

/// A generated object: what `manifests.yaml` holds, and its kind and name.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Manifest<'a> {
    Deployment(Object<'a, DeploymentSpec<'a>>),
    Job(Object<'a, JobSpec<'a>>),
    Service(Object<'a, ServiceSpec<'a>>),
    Claim(Object<'a, ClaimSpec<'a>>),
    /// An object patched by `managers.k8s.patch` (or written by the user).
    Patched(Value),
}

impl Manifest<'_> {
    /// Its kind and name as JSON text, which two objects of one cluster may not share.
    pub fn kind_and_name(&self) -> (String, String) {
        let typed = |kind: &str, name: &str| (json_string(kind), json_string(name));
        match self {
            Manifest::Deployment(o) => typed(o.kind, &o.metadata.name),
            Manifest::Job(o) => typed(o.kind, &o.metadata.name),
            Manifest::Service(o) => typed(o.kind, &o.metadata.name),
            Manifest::Claim(o) => typed(o.kind, &o.metadata.name),
            Manifest::Patched(v) => kind_and_name(v),
        }
    }

    fn kind(&self) -> &str {
        match self {
            Manifest::Deployment(o) => o.kind,
            Manifest::Job(o) => o.kind,
            Manifest::Service(o) => o.kind,
            Manifest::Claim(o) => o.kind,
            Manifest::Patched(v) => v["kind"].as_str().unwrap_or_default(),
        }
    }
}

fn json_string(s: &str) -> String {
    Value::from(s).to_string()
}

/// An object's kind and name, which two objects of one cluster may not share.
pub fn kind_and_name(object: &Value) -> (String, String) {
    (object["kind"].to_string(), object["metadata"]["name"].to_string())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<'a, S> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata<'a>,
    spec: S,
}

#[derive(Serialize)]
pub struct Metadata<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<Annotations<'a>>,
    labels: Labels<'a>,
    name: Cow<'a, str>,
}

#[derive(Serialize)]
struct Annotations<'a> {
    description: &'a str,
}

#[derive(Serialize, Clone, Copy)]
struct Labels<'a> {
    #[serde(rename = "app.kubernetes.io/managed-by", skip_serializing_if = "Option::is_none")]
    managed_by: Option<&'static str>,
    #[serde(rename = "app.kubernetes.io/name", skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(rename = "app.kubernetes.io/part-of")]
    part_of: &'a str,
}

#[derive(Serialize)]
pub struct DeploymentSpec<'a> {
    replicas: u32,
    selector: Selector<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strategy: Option<Strategy>,
    template: Template<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Selector<'a> {
    match_labels: Labels<'a>,
}

#[derive(Serialize)]
struct Strategy {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec<'a> {
    backoff_limit: u32,
    completions: u32,
    parallelism: u32,
    template: Template<'a>,
}

#[derive(Serialize)]
struct Template<'a> {
    metadata: TemplateMetadata<'a>,
    spec: Pod<'a>,
}

#[derive(Serialize)]
struct TemplateMetadata<'a> {
    labels: Labels<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pod<'a> {
    containers: [Container<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    restart_policy: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    security_context: Option<SecurityContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    termination_grace_period_seconds: Option<u32>,
    #[serde(skip_serializing_if = "is_empty")]
    volumes: Vec<Volume<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecurityContext {
    fs_group: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Container<'a> {
    #[serde(skip_serializing_if = "is_empty")]
    env: Vec<SecretEnv<'a>>,
    image: String,
    image_pull_policy: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    liveness_probe: Option<ProbeSpec<'a>>,
    name: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    ports: Vec<ContainerPort<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    readiness_probe: Option<ProbeSpec<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<Resources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    startup_probe: Option<ProbeSpec<'a>>,
    #[serde(skip_serializing_if = "is_empty")]
    volume_mounts: Vec<Mount<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretEnv<'a> {
    name: &'a str,
    value_from: ValueFrom<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValueFrom<'a> {
    secret_key_ref: KeyRef<'a>,
}

#[derive(Serialize)]
struct KeyRef<'a> {
    key: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerPort<'a> {
    container_port: u16,
    name: Cow<'a, str>,
    protocol: &'static str,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct ProbeSpec<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    exec: Option<Exec<'a>>,
    failure_threshold: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_get: Option<HttpGet>,
    period_seconds: u32,
    timeout_seconds: u32,
}

#[derive(Serialize, Clone)]
struct Exec<'a> {
    command: &'a [String],
}

#[derive(Serialize, Clone)]
struct HttpGet {
    path: String,
    port: u16,
}

#[derive(Serialize)]
struct Resources {
    limits: Limits,
    requests: Limits,
}

#[derive(Serialize, Clone)]
struct Limits {
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Mount<'a> {
    mount_path: &'a str,
    name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    read_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_path: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Volume<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    empty_dir: Option<Empty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_path: Option<HostPath<'a>>,
    name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    persistent_volume_claim: Option<ClaimRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<SecretVolume<'a>>,
}

impl<'a> Volume<'a> {
    fn named(name: impl Into<Cow<'a, str>>) -> Self {
        Volume { empty_dir: None, host_path: None, name: name.into(), persistent_volume_claim: None, secret: None }
    }
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct HostPath<'a> {
    path: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClaimRef<'a> {
    claim_name: Cow<'a, str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretVolume<'a> {
    default_mode: u32,
    items: [KeyPath<'a>; 1],
    secret_name: &'a str,
}

#[derive(Serialize)]
struct KeyPath<'a> {
    key: &'a str,
    path: &'static str,
}

#[derive(Serialize)]
pub struct ServiceSpec<'a> {
    ports: Vec<ServicePort<'a>>,
    selector: Labels<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServicePort<'a> {
    name: Cow<'a, str>,
    port: u16,
    protocol: &'static str,
    target_port: u16,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimSpec<'a> {
    access_modes: [&'static str; 1],
    resources: ClaimResources<'a>,
}

#[derive(Serialize)]
struct ClaimResources<'a> {
    requests: Storage<'a>,
}

#[derive(Serialize)]
struct Storage<'a> {
    storage: &'a str,
}

fn claim_spec(settings: &Settings) -> ClaimSpec<'_> {
    ClaimSpec { access_modes: ["ReadWriteOnce"], resources: ClaimResources { requests: Storage { storage: &settings.storage } } }
}

fn labels<'a>(d: &'a Deployment, svc: &'a Service) -> Labels<'a> {
    Labels { managed_by: Some("nix2dream"), name: Some(&svc.name), part_of: &d.name }
}

/// The healthcheck as readiness and liveness probes, and, when it has a
/// start period, a startup probe: `startPeriod` is a grace window in which
/// failures do not count (as in compose), not a delay. The startup probe
/// polls from the start, holds the other probes back until it passes, and
/// gives up only after the window plus the usual retries.
fn probes(svc: &Service) -> Option<(ProbeSpec<'_>, Option<ProbeSpec<'_>>)> {
    let h = svc.healthcheck.as_ref()?;
    let period = h.interval_seconds.max(1);
    let (exec, http_get) = match &h.probe {
        Probe::Command(argv) => (Some(Exec { command: argv }), None),
        Probe::Http(http) => {
            let path = if http.path.starts_with('/') { http.path.clone() } else { format!("/{}", http.path) };
            (None, Some(HttpGet { path, port: http.port }))
        }
    };
    let p = ProbeSpec { exec, failure_threshold: h.retries.max(1), http_get, period_seconds: period, timeout_seconds: h.timeout_seconds.max(1) };
    let startup = (h.start_period_seconds > 0)
        .then(|| ProbeSpec { failure_threshold: h.start_period_seconds.div_ceil(period) + h.retries.max(1), ..p.clone() });
    Some((p, startup))
}

/// The group files written by the pod's volumes belong to: the image's
/// named user or group gets gid 1000 (kit::image), a numeric group itself.
fn fs_group(svc: &Service) -> Option<u32> {
    match (&svc.user, &svc.group) {
        (_, Some(g)) => Some(g.parse().unwrap_or(image::NAMED_USER_UID)),
        (Some(u), None) if u.parse::<u32>().is_err() => Some(image::NAMED_USER_UID),
        _ => None,
    }
}

/// A service's objects, to write with `kit::yaml` as soon as they are made.
pub fn objects<'a>(d: &'a Deployment, svc: &'a Service, request: &ImageRequest, settings: &'a Settings) -> Result<(Vec<Manifest<'a>>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut objects = Vec::new();
    let mut ports = Vec::new();
    for p in &svc.ports {
        let protocol = match p.protocol {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        };
        // Port names must be IANA service names (15 characters at most, …).
        let name: Cow<'a, str> = match (is_port_name(&p.name), p.protocol) {
            (true, _) => p.name.as_str().into(),
            (false, Protocol::Tcp) => format!("p-{}", p.port).into(),
            (false, Protocol::Udp) => format!("p-{}-udp", p.port).into(),
        };
        ports.push((name, p.port, protocol));
    }
    let (readiness, startup) = match probes(svc) {
        Some((p, startup)) => (Some(p), startup),
        None => (None, None),
    };
    let mut cpu = None;
    if let Some(cpus) = &svc.resources.cpus {
        match cpus.parse::<f64>() {
            Ok(c) if c > 0.0 => cpu = Some(format!("{}m", (c * 1000.0).round() as u64)),
            _ => errors.push(diagnostics::error(&svc.name, "resources", format!("cpus {cpus:?} is not a positive number"))),
        }
    }
    let memory = svc.resources.memory_mib.map(|mib| format!("{mib}Mi"));
    let resources = (cpu.is_some() || memory.is_some()).then(|| {
        let limits = Limits { cpu, memory };
        Resources { requests: limits.clone(), limits }
    });
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    for v in &svc.volumes {
        let volume_name = format!("{}-{}", svc.name, v.name);
        if !is_label(&volume_name) {
            errors.push(diagnostics::error(&svc.name, "volumes", format!("volumes.{}: {volume_name:?} is not a Kubernetes name ([a-z0-9-], at most 63)", v.name)));
            continue;
        }
        mounts.push(Mount { mount_path: &v.path, name: v.name.as_str().into(), read_only: v.read_only.then_some(true), sub_path: None });
        match &v.source {
            // The claim is the deployment's (lib.rs writes it once).
            VolumeSource::Shared(name) => {
                volumes.push(Volume { persistent_volume_claim: Some(ClaimRef { claim_name: name.as_str().into() }), ..Volume::named(v.name.as_str()) });
                continue;
            }
            VolumeSource::HostPath(host) => {
                volumes.push(Volume { host_path: Some(HostPath { path: host, kind: "DirectoryOrCreate" }), ..Volume::named(v.name.as_str()) });
                continue;
            }
            VolumeSource::Own => {}
        }
        if v.persistent {
            if svc.replicas > 1 {
                warnings.push(diagnostics::warning(
                    &svc.name,
                    "replicas",
                    format!("the {} replicas share the ReadWriteOnce claim {volume_name}: they must all run on one node", svc.replicas),
                ));
            }
            objects.push(Manifest::Claim(Object {
                api_version: "v1",
                kind: "PersistentVolumeClaim",
                metadata: Metadata { annotations: None, labels: labels(d, svc), name: volume_name.clone().into() },
                spec: claim_spec(settings),
            }));
            volumes.push(Volume { persistent_volume_claim: Some(ClaimRef { claim_name: volume_name.into() }), ..Volume::named(v.name.as_str()) });
        } else {
            volumes.push(Volume { empty_dir: Some(Empty {}), ..Volume::named(v.name.as_str()) });
        }
    }
    // Secrets: keys of existing Kubernetes Secrets, as a variable or as a
    // file (the key mounted alone at the path).
    let mut secret_env = Vec::new();
    for (i, using) in svc.secrets.iter().enumerate() {
        let Some(secret) = d.secrets.iter().find(|s| s.name == using.secret) else { continue };
        let Some(k) = &secret.kubernetes else {
            errors.push(diagnostics::error(
                &svc.name,
                "secrets",
                format!("secrets.{:?}: Kubernetes reads a secret from a Secret of the cluster: give secrets.{0:?}.kubernetes = {{ name; key; }}", secret.name),
            ));
            continue;
        };
        match (&using.env, &using.path) {
            (Some(var), _) => secret_env.push(SecretEnv { name: var, value_from: ValueFrom { secret_key_ref: KeyRef { key: &k.key, name: &k.name } } }),
            (None, Some(path)) => {
                let volume = format!("secret-{i}");
                volumes.push(Volume {
                    secret: Some(SecretVolume { default_mode: 0o400, items: [KeyPath { key: &k.key, path: "value" }], secret_name: &k.name }),
                    ..Volume::named(volume.clone())
                });
                mounts.push(Mount { mount_path: path, name: volume.into(), read_only: Some(true), sub_path: Some("value") });
            }
            (None, None) => {}
        }
    }
    let container = Container {
        env: secret_env,
        image: format!("{}:{}", request.name, request.tag),
        image_pull_policy: &settings.image_pull_policy,
        liveness_probe: readiness.clone(),
        name: &svc.name,
        ports: ports.iter().map(|(name, port, protocol)| ContainerPort { container_port: *port, name: name.clone(), protocol }).collect(),
        readiness_probe: readiness,
        resources,
        startup_probe: startup,
        volume_mounts: mounts,
    };
    let one_shot_policy = svc.one_shot.then_some(if svc.restart == RestartPolicy::Never { "Never" } else { "OnFailure" });
    let pod = Pod {
        containers: [container],
        restart_policy: one_shot_policy,
        security_context: fs_group(svc).map(|fs_group| SecurityContext { fs_group }),
        termination_grace_period_seconds: svc.stop_timeout_seconds,
        volumes,
    };
    let metadata = Metadata { annotations: svc.description.as_deref().map(|description| Annotations { description }), labels: labels(d, svc), name: svc.name.as_str().into() };
    let template = Template { metadata: TemplateMetadata { labels: labels(d, svc) }, spec: pod };
    if svc.one_shot {
        // Runs to completion: a Job, retried on failure unless `restart = "no"`.
        let backoff_limit = if svc.restart == RestartPolicy::Never { 0 } else { 6 };
        objects.push(Manifest::Job(Object {
            api_version: "batch/v1",
            kind: "Job",
            metadata,
            spec: JobSpec { backoff_limit, completions: svc.replicas, parallelism: svc.replicas, template },
        }));
    } else {
        // A rolling update starts the new pod before the old one stops; with a
        // ReadWriteOnce claim held by the old pod (on another node), the new one
        // never starts and the rollout hangs. Recreate stops the old pod first.
        let recreate = svc.volumes.iter().any(|v| v.persistent && !matches!(v.source, VolumeSource::HostPath(_)));
        objects.push(Manifest::Deployment(Object {
            api_version: "apps/v1",
            kind: "Deployment",
            metadata,
            spec: DeploymentSpec {
                replicas: svc.replicas,
                selector: Selector { match_labels: Labels { managed_by: None, name: Some(&svc.name), part_of: &d.name } },
                strategy: recreate.then_some(Strategy { kind: "Recreate" }),
                template,
            },
        }));
    }
    if !ports.is_empty() {
        objects.push(Manifest::Service(Object {
            api_version: "v1",
            kind: "Service",
            metadata: Metadata { annotations: None, labels: labels(d, svc), name: svc.name.as_str().into() },
            spec: ServiceSpec {
                ports: ports.iter().map(|(name, port, protocol)| ServicePort { name: name.clone(), port: *port, protocol, target_port: *port }).collect(),
                selector: Labels { managed_by: None, name: Some(&svc.name), part_of: &d.name },
            },
        }));
    }
    if errors.is_empty() {
        if let Err(e) = apply_patches(svc, &mut objects) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok((objects, warnings))
    } else {
        Err(errors)
    }
}

/// The claims of the deployment's shared volumes (named after the volume),
/// once each, for the volumes some service mounts.
pub fn shared_claims<'a>(d: &'a Deployment, settings: &'a Settings) -> Result<Vec<Manifest<'a>>, Vec<Diagnostic>> {
    let names = nix2dream_plugin_kit::shared_volume_names(d);
    let mut errors = Vec::new();
    let mut claims = Vec::new();
    for name in names {
        let own = d.services.iter().find(|s| {
            s.volumes.iter().any(|v| matches!(v.source, VolumeSource::Own) && v.persistent && format!("{}-{}", s.name, v.name) == name)
        });
        if let Some(svc) = own {
            errors.push(diagnostics::error(&svc.name, "volumes.shared", format!("its own claim is named {name:?}, like the deployment's volume {name:?}: rename one of them")));
        } else if !is_label(name) {
            errors.push(diagnostics::deployment_error(format!("volume {name:?} is not a Kubernetes name ([a-z0-9-], at most 63)")));
        } else {
            claims.push(Manifest::Claim(Object {
                api_version: "v1",
                kind: "PersistentVolumeClaim",
                metadata: Metadata { annotations: None, labels: Labels { managed_by: Some("nix2dream"), name: None, part_of: &d.name }, name: name.into() },
                // ReadWriteOnce: the pods that share it run on one node (ReadWriteMany
                // needs a storage class that offers it: patch it through extraObjects).
                spec: claim_spec(settings),
            }));
        }
    }
    if errors.is_empty() {
        Ok(claims)
    } else {
        Err(errors)
    }
}

/// `managers.k8s.patch`: each kind's patch applied to the service's objects
/// of that kind (as JSON values); a patch for a kind the service has none
/// of is an error, not silently dropped.
fn apply_patches(svc: &Service, objects: &mut [Manifest]) -> Result<(), Diagnostic> {
    let patches = settings::service_patches(&svc.name, &svc.settings_json)?;
    for (kind, patch) in &patches {
        let mut found = false;
        for object in objects.iter_mut().filter(|o| o.kind() == kind.as_str()) {
            found = true;
            let mut value = match &mut *object {
                Manifest::Patched(v) => std::mem::take(v),
                typed => serde_json::to_value(&*typed).expect("an object is JSON"),
            };
            crate::patch::apply(&mut value, patch, &format!("managers.k8s.patch.{kind}"))
                .map_err(|e| diagnostics::error(&svc.name, "managers", e))?;
            *object = Manifest::Patched(value);
        }
        if !found {
            let why = match kind.as_str() {
                "Service" => "it has no ports",
                "PersistentVolumeClaim" => "it has no persistent volumes",
                "Job" => "it is not a one-shot service",
                "Deployment" => "it is a one-shot service: patch its Job",
                _ => "none is generated",
            };
            return Err(diagnostics::error(&svc.name, "managers", format!("managers.k8s.patch.{kind}: the service has no {kind} ({why})")));
        }
    }
    Ok(())
}
