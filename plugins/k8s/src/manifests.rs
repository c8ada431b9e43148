//! One service's objects: a Deployment, a Service when it has ports, and a
//! PersistentVolumeClaim per persistent volume. argv, env, PATH, working
//! directory, user and config files live in the image (kit::image), so the
//! container runs what the image says.

use crate::settings::Settings;
use nix2dream_plugin_kit::types::ImageRequest;
use nix2dream_plugin_kit::{diagnostics, image, Deployment, Diagnostic, Probe, Protocol, Service};
use serde_json::{json, Value};

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

fn labels(d: &Deployment, svc: &Service) -> Value {
    json!({
        "app.kubernetes.io/name": svc.name,
        "app.kubernetes.io/part-of": d.name,
        "app.kubernetes.io/managed-by": "nix2dream",
    })
}

fn probe(svc: &Service) -> Option<Value> {
    let h = svc.healthcheck.as_ref()?;
    let mut p = match &h.probe {
        Probe::Command(argv) => json!({"exec": {"command": argv}}),
        Probe::Http(http) => json!({"httpGet": {"path": if http.path.starts_with('/') { http.path.clone() } else { format!("/{}", http.path) }, "port": http.port}}),
    };
    p["periodSeconds"] = json!(h.interval_seconds.max(1));
    p["timeoutSeconds"] = json!(h.timeout_seconds.max(1));
    p["failureThreshold"] = json!(h.retries.max(1));
    p["initialDelaySeconds"] = json!(h.start_period_seconds);
    Some(p)
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

pub fn objects(d: &Deployment, svc: &Service, request: &ImageRequest, settings: &Settings) -> Result<(Vec<Value>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut objects = Vec::new();
    let mut container = json!({
        "name": svc.name,
        "image": format!("{}:{}", request.name, request.tag),
        "imagePullPolicy": settings.image_pull_policy,
    });
    let mut ports = Vec::new();
    for p in &svc.ports {
        let protocol = match p.protocol {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        };
        // Port names must be IANA service names (15 characters at most, …).
        let name = match (is_port_name(&p.name), p.protocol) {
            (true, _) => p.name.clone(),
            (false, Protocol::Tcp) => format!("p-{}", p.port),
            (false, Protocol::Udp) => format!("p-{}-udp", p.port),
        };
        ports.push((name, p.port, protocol));
    }
    if !ports.is_empty() {
        container["ports"] = ports.iter().map(|(name, port, protocol)| json!({"name": name, "containerPort": port, "protocol": protocol})).collect();
    }
    if let Some(p) = probe(svc) {
        container["readinessProbe"] = p.clone();
        container["livenessProbe"] = p;
    }
    let mut limits = serde_json::Map::new();
    if let Some(cpus) = &svc.resources.cpus {
        match cpus.parse::<f64>() {
            Ok(c) if c > 0.0 => {
                limits.insert("cpu".into(), json!(format!("{}m", (c * 1000.0).round() as u64)));
            }
            _ => errors.push(diagnostics::error(&svc.name, "resources", format!("cpus {cpus:?} is not a positive number"))),
        }
    }
    if let Some(mib) = svc.resources.memory_mib {
        limits.insert("memory".into(), json!(format!("{mib}Mi")));
    }
    if !limits.is_empty() {
        container["resources"] = json!({"limits": limits, "requests": limits});
    }
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    for v in &svc.volumes {
        let volume_name = format!("{}-{}", svc.name, v.name);
        if !is_label(&volume_name) {
            errors.push(diagnostics::error(&svc.name, "volumes", format!("volumes.{}: {volume_name:?} is not a Kubernetes name ([a-z0-9-], at most 63)", v.name)));
            continue;
        }
        mounts.push(json!({"name": v.name, "mountPath": v.path}));
        if v.persistent {
            volumes.push(json!({"name": v.name, "persistentVolumeClaim": {"claimName": volume_name}}));
            objects.push(json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": volume_name, "labels": labels(d, svc)},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": settings.storage}}},
            }));
            if svc.replicas > 1 {
                warnings.push(diagnostics::warning(
                    &svc.name,
                    "replicas",
                    format!("the {} replicas share the ReadWriteOnce claim {volume_name}: they must all run on one node", svc.replicas),
                ));
            }
        } else {
            volumes.push(json!({"name": v.name, "emptyDir": {}}));
        }
    }
    if !mounts.is_empty() {
        container["volumeMounts"] = json!(mounts);
    }
    let mut pod = json!({"containers": [container]});
    if !volumes.is_empty() {
        pod["volumes"] = json!(volumes);
    }
    if let Some(gid) = fs_group(svc) {
        pod["securityContext"] = json!({"fsGroup": gid});
    }
    let mut metadata = json!({"name": svc.name, "labels": labels(d, svc)});
    if let Some(description) = &svc.description {
        metadata["annotations"] = json!({"description": description});
    }
    objects.push(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": svc.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": svc.name, "app.kubernetes.io/part-of": d.name}},
            "template": {"metadata": {"labels": labels(d, svc)}, "spec": pod},
        },
    }));
    if !ports.is_empty() {
        objects.push(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": svc.name, "labels": labels(d, svc)},
            "spec": {
                "selector": {"app.kubernetes.io/name": svc.name, "app.kubernetes.io/part-of": d.name},
                "ports": ports.iter().map(|(name, port, protocol)| json!({"name": name, "port": port, "targetPort": port, "protocol": protocol})).collect::<Vec<_>>(),
            },
        }));
    }
    if errors.is_empty() {
        Ok((objects, warnings))
    } else {
        Err(errors)
    }
}
