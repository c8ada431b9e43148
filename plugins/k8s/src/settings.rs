//! `settings.k8s` (the deployment) and `managers.k8s` (one service): what the
//! cluster needs to know that services do not say, and the escape hatch for
//! what nix2dream does not generate. The JSON Schema the host checks them
//! against is derived from these types (`kit::settings::schema`).

use nix2dream_plugin_kit::settings::schemars::{json_schema, Schema, SchemaGenerator};
use nix2dream_plugin_kit::settings::{self, JsonSchema};
use nix2dream_plugin_kit::image::ImageArchives;
use nix2dream_plugin_kit::Diagnostic;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// settings.k8s (deployment-wide).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct DeploymentSettings {
    /// Size requested by each persistent volume's claim, e.g. 10Gi. Default: 1Gi.
    #[schemars(pattern(r"^[0-9]+(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"))]
    storage: Option<String>,
    /// Default: IfNotPresent (images are loaded into the cluster, not pulled).
    image_pull_policy: ImagePullPolicy,
    /// Objects written after the generated ones, as given (e.g. an Ingress, a ConfigMap, a NetworkPolicy). Each needs apiVersion, kind and metadata.name.
    extra_objects: Vec<ExtraObject>,
    /// `per-service` (default): one archive per service, `images/<service>.tar`.
    /// `shared`: every image in one archive, `images/all.tar`, holding each
    /// layer once (services on the same package write and load it once).
    image_archives: ImageArchives,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
enum ImagePullPolicy {
    #[default]
    IfNotPresent,
    Never,
    Always,
}

/// A Kubernetes object, as given.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct ExtraObject(Map<String, Value>);

impl JsonSchema for ExtraObject {
    fn schema_name() -> Cow<'static, str> {
        "ExtraObject".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let text = serde_json::json!({"type": "string", "minLength": 1});
        json_schema!({
            "type": "object",
            "required": ["apiVersion", "kind", "metadata"],
            "properties": {
                "apiVersion": text,
                "kind": text,
                "metadata": {"type": "object", "required": ["name"], "properties": {"name": text}}
            }
        })
    }
}

/// managers.k8s (per service).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
struct ServiceSettings {
    /// {Deployment = {...}; Job = {...}; Service = {...}; PersistentVolumeClaim = {...};}. Each is merged into the service's object(s) of that kind like `kubectl patch --type strategic`: mappings merge, null removes a key, containers/volumes/env merge by name (volumeMounts by mountPath, ports by containerPort or port), other lists are replaced; {name = "x"; "$patch" = "delete";} removes a list element, "$patch" = "replace" replaces a mapping.
    patch: Patches,
}

/// The kinds generated per service, which `managers.k8s.patch` may patch.
/// (`schemars(with)`: each is a patch, not "a patch or null", which would
/// make a bad patch's error an unreadable `anyOf`.)
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
#[allow(non_snake_case)]
struct Patches {
    #[schemars(with = "Patch")]
    Deployment: Option<Patch>,
    #[schemars(with = "Patch")]
    Job: Option<Patch>,
    #[schemars(with = "Patch")]
    PersistentVolumeClaim: Option<Patch>,
    #[schemars(with = "Patch")]
    Service: Option<Patch>,
}

/// A patch of one object.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct Patch(Map<String, Value>);

impl JsonSchema for Patch {
    fn schema_name() -> Cow<'static, str> {
        "Patch".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // A patch cannot change what the object is.
        json_schema!({
            "type": "object",
            "description": "Merged into the object; it cannot change apiVersion or kind (what the object is).",
            "properties": {"apiVersion": false, "kind": false}
        })
    }
}

pub fn schema() -> String {
    settings::schema::<DeploymentSettings, ServiceSettings>("k8s")
}

pub struct Settings {
    pub image_archives: ImageArchives,
    pub storage: String,
    pub image_pull_policy: String,
    pub extra_objects: Vec<Value>,
}

impl Settings {
    pub fn parse(json: &str) -> Result<Settings, Diagnostic> {
        let s: DeploymentSettings = settings::deployment("k8s", json)?;
        Ok(Settings {
            image_archives: s.image_archives,
            storage: s.storage.unwrap_or_else(|| "1Gi".into()),
            image_pull_policy: format!("{:?}", s.image_pull_policy),
            extra_objects: s.extra_objects.into_iter().map(|o| Value::Object(o.0)).collect(),
        })
    }
}

/// `managers.k8s` of one service: patches by kind.
pub fn service_patches(service: &str, json: &str) -> Result<Map<String, Value>, Diagnostic> {
    let s: ServiceSettings = settings::service("k8s", service, json)?;
    let Patches { Deployment, Job, PersistentVolumeClaim, Service } = s.patch;
    let by_kind = [("Deployment", Deployment), ("Job", Job), ("PersistentVolumeClaim", PersistentVolumeClaim), ("Service", Service)];
    Ok(by_kind.into_iter().filter_map(|(kind, patch)| Some((kind.to_owned(), Value::Object(patch?.0)))).collect())
}
