//! `settings.k8s` (the deployment) and `managers.k8s` (one service): what the
//! cluster needs to know that services do not say, and the escape hatch for
//! what nix2dream does not generate.

use nix2dream_plugin_kit::{diagnostics, Diagnostic};
use serde_json::{Map, Value};

pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "k8s manager settings",
  "description": "settings.k8s (deployment-wide): storage, imagePullPolicy, extraObjects. managers.k8s (per service): patch, a strategic-merge-style patch per kind of the objects generated for the service.",
  "type": "object",
  "properties": {
    "storage": {"type": "string", "description": "Size requested by each persistent volume's claim, e.g. 10Gi. Default: 1Gi."},
    "imagePullPolicy": {"enum": ["IfNotPresent", "Never", "Always"], "description": "Default: IfNotPresent (images are loaded into the cluster, not pulled)."},
    "extraObjects": {
      "type": "array",
      "description": "Objects written after the generated ones, as given (e.g. an Ingress, a ConfigMap, a NetworkPolicy). Each needs apiVersion, kind and metadata.name.",
      "items": {"type": "object", "required": ["apiVersion", "kind", "metadata"]}
    },
    "patch": {
      "type": "object",
      "description": "managers.k8s.patch (per service): {Deployment = {...}; Job = {...}; Service = {...}; PersistentVolumeClaim = {...};}. Each is merged into the service's object(s) of that kind like `kubectl patch --type strategic`: mappings merge, null removes a key, containers/volumes/env merge by name (volumeMounts by mountPath, ports by containerPort or port), other lists are replaced; {name = \"x\"; \"$patch\" = \"delete\";} removes a list element, \"$patch\" = \"replace\" replaces a mapping.",
      "properties": {"Deployment": {"type": "object"}, "Job": {"type": "object"}, "Service": {"type": "object"}, "PersistentVolumeClaim": {"type": "object"}},
      "additionalProperties": false
    }
  }
}"#;

/// The kinds generated per service, which `managers.k8s.patch` may patch.
pub const PATCHABLE_KINDS: &[&str] = &["Deployment", "Job", "Service", "PersistentVolumeClaim"];

pub struct Settings {
    pub storage: String,
    pub image_pull_policy: String,
    pub extra_objects: Vec<Value>,
}

impl Settings {
    pub fn parse(json: &str) -> Result<Settings, Diagnostic> {
        let value = diagnostics::parse_settings(json, None)?;
        let bad = |m: String| diagnostics::deployment_error(format!("settings.k8s: {m}"));
        let object = value.as_object().ok_or_else(|| bad("must be an object".into()))?;
        let mut settings = Settings { storage: "1Gi".into(), image_pull_policy: "IfNotPresent".into(), extra_objects: Vec::new() };
        for (key, value) in object {
            match (key.as_str(), value.as_str()) {
                ("storage", Some(size)) if is_quantity(size) => settings.storage = size.to_owned(),
                ("storage", _) => return Err(bad(format!("storage must be a size such as 10Gi, not {value}"))),
                ("imagePullPolicy", Some(p @ ("IfNotPresent" | "Never" | "Always"))) => settings.image_pull_policy = p.to_owned(),
                ("imagePullPolicy", _) => return Err(bad(format!("imagePullPolicy must be IfNotPresent, Never or Always, not {value}"))),
                ("extraObjects", _) => settings.extra_objects = extra_objects(value).map_err(bad)?,
                (other, _) => return Err(bad(format!("unknown setting {other:?} (known: storage, imagePullPolicy, extraObjects)"))),
            }
        }
        Ok(settings)
    }
}

fn extra_objects(value: &Value) -> Result<Vec<Value>, String> {
    let items = value.as_array().ok_or("extraObjects must be a list of objects")?;
    for (i, item) in items.iter().enumerate() {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.is_empty()).is_some();
        if !item.is_object() || !text(item.get("apiVersion")) || !text(item.get("kind")) || !text(item.pointer("/metadata/name")) {
            return Err(format!("extraObjects[{i}] must be an object with apiVersion, kind and metadata.name"));
        }
    }
    Ok(items.clone())
}

/// `managers.k8s` of one service: patches by kind.
pub fn service_patches(service: &str, json: &str) -> Result<Map<String, Value>, Diagnostic> {
    let value = diagnostics::parse_settings(json, Some(service))?;
    let bad = |m: String| diagnostics::error(service, "managers", format!("managers.k8s: {m}"));
    let object = value.as_object().ok_or_else(|| bad("must be an object".into()))?;
    let mut patches = Map::new();
    for (key, value) in object {
        if key != "patch" {
            return Err(bad(format!("unknown key {key:?} (known: patch)")));
        }
        let by_kind = value.as_object().ok_or_else(|| bad("patch must be an object of patches by kind, e.g. {Deployment = {...};}".into()))?;
        for (kind, patch) in by_kind {
            if !PATCHABLE_KINDS.contains(&kind.as_str()) {
                return Err(bad(format!("patch.{kind}: not a kind generated for a service (known: {})", PATCHABLE_KINDS.join(", "))));
            }
            if !patch.is_object() {
                return Err(bad(format!("patch.{kind} must be an object")));
            }
            if let Some(field) = ["apiVersion", "kind"].into_iter().find(|f| patch.get(*f).is_some()) {
                return Err(bad(format!("patch.{kind}.{field}: a patch cannot change what the object is")));
            }
            patches.insert(kind.clone(), patch.clone());
        }
    }
    Ok(patches)
}

/// A Kubernetes quantity such as `512Mi`, `10Gi` or `1000000`.
fn is_quantity(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &s[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && ["", "Ki", "Mi", "Gi", "Ti", "Pi", "k", "M", "G", "T", "P"].contains(&suffix)
}
