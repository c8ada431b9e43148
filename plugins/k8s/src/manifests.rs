//! One service's objects: a Deployment, a Service when it has ports, and a
//! PersistentVolumeClaim per persistent volume. argv, env, PATH, working
//! directory, user and config files live in the image (kit::image), so the
//! container runs what the image says.

use crate::settings::{self, Settings};
use nix2dream_plugin_kit::types::ImageRequest;
use nix2dream_plugin_kit::{diagnostics, image, Deployment, Diagnostic, Probe, Protocol, RestartPolicy, Service, VolumeSource};
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

/// The healthcheck as readiness and liveness probes, and, when it has a
/// start period, a startup probe: `startPeriod` is a grace window in which
/// failures do not count (as in compose), not a delay. The startup probe
/// polls from the start, holds the other probes back until it passes, and
/// gives up only after the window plus the usual retries.
fn probes(svc: &Service) -> Option<(Value, Option<Value>)> {
    let h = svc.healthcheck.as_ref()?;
    let mut p = match &h.probe {
        Probe::Command(argv) => json!({"exec": {"command": argv}}),
        Probe::Http(http) => json!({"httpGet": {"path": if http.path.starts_with('/') { http.path.clone() } else { format!("/{}", http.path) }, "port": http.port}}),
    };
    let period = h.interval_seconds.max(1);
    p["periodSeconds"] = json!(period);
    p["timeoutSeconds"] = json!(h.timeout_seconds.max(1));
    p["failureThreshold"] = json!(h.retries.max(1));
    let startup = (h.start_period_seconds > 0).then(|| {
        let mut s = p.clone();
        s["failureThreshold"] = json!(h.start_period_seconds.div_ceil(period) + h.retries.max(1));
        s
    });
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
    if let Some((p, startup)) = probes(svc) {
        container["readinessProbe"] = p.clone();
        container["livenessProbe"] = p;
        if let Some(startup) = startup {
            container["startupProbe"] = startup;
        }
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
        let mut mount = json!({"name": v.name, "mountPath": v.path});
        if v.read_only {
            mount["readOnly"] = json!(true);
        }
        mounts.push(mount);
        match &v.source {
            // The claim is the deployment's (lib.rs writes it once).
            VolumeSource::Shared(name) => {
                volumes.push(json!({"name": v.name, "persistentVolumeClaim": {"claimName": name}}));
                continue;
            }
            VolumeSource::HostPath(host) => {
                volumes.push(json!({"name": v.name, "hostPath": {"path": host, "type": "DirectoryOrCreate"}}));
                continue;
            }
            VolumeSource::Own => {}
        }
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
            (Some(var), _) => secret_env.push(json!({"name": var, "valueFrom": {"secretKeyRef": {"name": k.name, "key": k.key}}})),
            (None, Some(path)) => {
                let volume = format!("secret-{i}");
                volumes.push(json!({"name": volume, "secret": {"secretName": k.name, "items": [{"key": k.key, "path": "value"}], "defaultMode": 0o400}}));
                mounts.push(json!({"name": volume, "mountPath": path, "subPath": "value", "readOnly": true}));
            }
            (None, None) => {}
        }
    }
    if !secret_env.is_empty() {
        container["env"] = json!(secret_env);
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
    if let Some(seconds) = svc.stop_timeout_seconds {
        pod["terminationGracePeriodSeconds"] = json!(seconds);
    }
    let mut metadata = json!({"name": svc.name, "labels": labels(d, svc)});
    if let Some(description) = &svc.description {
        metadata["annotations"] = json!({"description": description});
    }
    if svc.one_shot {
        // Runs to completion: a Job, retried on failure unless `restart = "no"`.
        pod["restartPolicy"] = json!(if svc.restart == RestartPolicy::Never { "Never" } else { "OnFailure" });
        let backoff_limit = if svc.restart == RestartPolicy::Never { 0 } else { 6 };
        objects.push(json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata,
            "spec": {
                "completions": svc.replicas,
                "parallelism": svc.replicas,
                "backoffLimit": backoff_limit,
                "template": {"metadata": {"labels": labels(d, svc)}, "spec": pod},
            },
        }));
    } else {
        let mut spec = json!({
            "replicas": svc.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": svc.name, "app.kubernetes.io/part-of": d.name}},
            "template": {"metadata": {"labels": labels(d, svc)}, "spec": pod},
        });
        // A rolling update starts the new pod before the old one stops; with a
        // ReadWriteOnce claim held by the old pod (on another node), the new one
        // never starts and the rollout hangs. Recreate stops the old pod first.
        if svc.volumes.iter().any(|v| v.persistent && !matches!(v.source, VolumeSource::HostPath(_))) {
            spec["strategy"] = json!({"type": "Recreate"});
        }
        objects.push(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata,
            "spec": spec,
        }));
    }
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
pub fn shared_claims(d: &Deployment, settings: &Settings) -> Result<Vec<Value>, Vec<Diagnostic>> {
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
            claims.push(json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "nix2dream", "app.kubernetes.io/part-of": d.name}},
                // ReadWriteOnce: the pods that share it run on one node (ReadWriteMany
                // needs a storage class that offers it: patch it through extraObjects).
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": settings.storage}}},
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
/// of that kind; a patch for a kind the service has none of is an error, not
/// silently dropped.
fn apply_patches(svc: &Service, objects: &mut [Value]) -> Result<(), Diagnostic> {
    let patches = settings::service_patches(&svc.name, &svc.settings_json)?;
    for (kind, patch) in &patches {
        let mut found = false;
        for object in objects.iter_mut().filter(|o| o["kind"] == **kind) {
            found = true;
            crate::patch::apply(object, patch, &format!("managers.k8s.patch.{kind}"))
                .map_err(|e| diagnostics::error(&svc.name, "managers", e))?;
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
