//! Plugin settings — `settings.<plugin>` (deployment-wide) and
//! `services.<name>.managers.<plugin>` (per service) — checked once, by the
//! host, against the JSON Schema the plugin declares in `info()`, before the
//! plugin runs: every plugin gets the same errors, naming the exact key.

use crate::deployment::Deployment;
use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use serde_json::Value;

/// At most this many problems are listed per settings object.
const MAX_PROBLEMS: usize = 20;

/// Where settings are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// `settings.<plugin>`.
    Deployment,
    /// `services.<name>.managers.<plugin>`.
    Service,
}

impl Place {
    /// Its schema's name under `$defs` (the kit's `settings::schema` writes both).
    fn def(self) -> &'static str {
        match self {
            Place::Deployment => "deployment",
            Place::Service => "service",
        }
    }
}

/// A plugin's settings schema, compiled for each place.
pub struct Schema {
    schema: Value,
    deployment: jsonschema::Validator,
    service: jsonschema::Validator,
}

impl Schema {
    fn validator(&self, place: Place) -> &jsonschema::Validator {
        match place {
            Place::Deployment => &self.deployment,
            Place::Service => &self.service,
        }
    }

    /// The (sub)schema a place's settings are checked against.
    fn start(&self, place: Place) -> &Value {
        self.schema.pointer(&format!("/$defs/{}", place.def())).unwrap_or(&self.schema)
    }
}

/// A plugin's settings schema as a validator per place: `Ok(None)` when it
/// declares none, an error when it is not a JSON Schema this host can use (a
/// remote `$ref`, an unknown draft, a bad regex). The contract carries one
/// schema for both places: when it has `$defs.deployment` and `$defs.service`
/// (the kit writes them), `settings.<plugin>` is checked against the first and
/// `managers.<plugin>` against the second; without them, both against the whole.
pub fn validator(schema: &str) -> Result<Option<Schema>, String> {
    if schema.trim().is_empty() {
        return Ok(None);
    }
    let schema: Value = serde_json::from_str(schema).map_err(|e| format!("not JSON: {e}"))?;
    let compile = |place: Place| {
        let for_place = match (&schema, schema.pointer(&format!("/$defs/{}", place.def()))) {
            // The place's definition, with the rest of the document for its `$ref`s.
            (Value::Object(whole), Some(_)) => {
                let mut s: serde_json::Map<String, Value> =
                    whole.iter().filter(|(k, _)| matches!(k.as_str(), "$schema" | "$id" | "$defs")).map(|(k, v)| (k.clone(), v.clone())).collect();
                s.insert("$ref".into(), Value::String(format!("#/$defs/{}", place.def())));
                Value::Object(s)
            }
            _ => schema.clone(),
        };
        jsonschema::validator_for(&for_place).map_err(|e| format!("not a usable JSON Schema: {e}"))
    };
    jsonschema::validator_for(&schema).map_err(|e| format!("not a usable JSON Schema: {e}"))?;
    Ok(Some(Schema { deployment: compile(Place::Deployment)?, service: compile(Place::Service)?, schema }))
}

/// One way the settings break the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The service whose `managers.<plugin>` it is in; None: `settings.<plugin>`.
    pub service: Option<String>,
    /// Naming `settings.<plugin>.<field>` or `services.<name>.managers.<plugin>.<field>`.
    pub text: String,
}

/// Every way the deployment's settings for `plugin` break its schema.
pub fn check(deployment: &Deployment, plugin: &str, schema_text: &str) -> Vec<Problem> {
    // Compiling the schema costs more than a small render: only when used.
    if !deployment.settings.contains_key(plugin) && !deployment.services.values().any(|s| s.managers.contains_key(plugin)) {
        return Vec::new();
    }
    let schema = match validator(schema_text) {
        Ok(Some(v)) => v,
        Ok(None) => return Vec::new(),
        Err(e) => return vec![Problem { service: None, text: format!("plugin {plugin}: its settings schema is {e}") }],
    };
    let mut problems = Vec::new();
    if let Some(value) = deployment.settings.get(plugin) {
        let found = check_one(&schema, Place::Deployment, value, &format!("settings.{plugin}"), plugin);
        problems.extend(found.into_iter().map(|text| Problem { service: None, text }));
    }
    for (name, service) in &deployment.services {
        if let Some(value) = service.managers.get(plugin) {
            let found = check_one(&schema, Place::Service, value, &format!("services.{name}.managers.{plugin}"), plugin);
            problems.extend(found.into_iter().map(|text| Problem { service: Some(name.clone()), text }));
        }
    }
    problems
}

/// `schema` with its local `$ref`s followed (a bounded number of times).
fn resolve<'s>(root: &'s Value, mut schema: &'s Value) -> &'s Value {
    for _ in 0..32 {
        match schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')).and_then(|p| root.pointer(p)) {
            Some(target) => schema = target,
            None => break,
        }
    }
    schema
}

/// The schema of the property at `path` below `start`.
fn property<'s>(root: &'s Value, start: &'s Value, path: &[String]) -> Option<&'s Value> {
    path.iter().try_fold(start, |s, p| resolve(root, s).get("properties")?.get(p))
}

/// The `description` the schema gives the property at `path` (properties only).
fn description<'s>(root: &'s Value, start: &'s Value, path: &[String]) -> Option<&'s str> {
    let at = property(root, start, path)?;
    at.get("description").or_else(|| resolve(root, at).get("description"))?.as_str()
}

fn check_one(schema: &Schema, place: Place, value: &Value, at: &str, plugin: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for error in schema.validator(place).iter_errors(value) {
        let mut path = at.to_owned();
        let mut properties = Vec::new();
        for segment in error.instance_path().iter() {
            match segment {
                LocationSegment::Property(p) => {
                    path = format!("{path}.{p}");
                    properties.push(p.into_owned());
                }
                LocationSegment::Index(i) => path = format!("{path}[{i}]"),
            }
        }
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                problems.extend(unexpected.iter().map(|key| {
                    // A key of the other place, at the top: say where it goes.
                    let elsewhere = |other: Place| properties.is_empty() && property(&schema.schema, schema.start(other), std::slice::from_ref(key)).is_some();
                    if place == Place::Service && elsewhere(Place::Deployment) {
                        format!("{path}.{key}: a deployment-wide setting of the {plugin} plugin: set settings.{plugin}.{key} instead")
                    } else if place == Place::Deployment && elsewhere(Place::Service) {
                        format!("{path}.{key}: a per-service setting of the {plugin} plugin: set services.<name>.managers.{plugin}.{key} instead")
                    } else {
                        format!("{path}.{key}: not a setting of the {plugin} plugin (see `nix2dream plugins inspect {plugin}`)")
                    }
                }));
            }
            ValidationErrorKind::Required { property: Value::String(key) } => {
                properties.push(key.clone());
                let what = description(&schema.schema, schema.start(place), &properties).map(|d| format!(": {d}")).unwrap_or_default();
                problems.push(format!("{path}.{key}: required, not set{what}"));
            }
            // `additionalProperties: false` without `properties`: jsonschema
            // reports the key's value at the object; name the key(s) instead.
            ValidationErrorKind::FalseSchema if error.schema_path().as_str().ends_with("/additionalProperties") => {
                let object = value.pointer(error.instance_path().as_str()).and_then(Value::as_object);
                let keys: Vec<&String> = object.into_iter().flatten().filter(|(_, v)| *v == error.instance().as_ref()).map(|(k, _)| k).collect();
                match keys.as_slice() {
                    [] => problems.push(format!("{path}: {error}")),
                    keys => problems.extend(keys.iter().map(|key| format!("{path}.{key}: not a setting of the {plugin} plugin (see `nix2dream plugins inspect {plugin}`)"))),
                }
            }
            _ => problems.push(format!("{path}: {error}")),
        }
        if problems.len() >= MAX_PROBLEMS {
            problems.truncate(MAX_PROBLEMS);
            problems.push(format!("{at}: (more problems not shown)"));
            break;
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{
      "$schema": "https://json-schema.org/draft/2020-12/schema",
      "type": "object",
      "properties": {
        "binDir": {"type": "string", "pattern": "^[a-z]+$"},
        "enable": {"type": "boolean"},
        "ports": {"type": "array", "items": {"type": "integer"}}
      },
      "additionalProperties": false
    }"#;

    fn deployment(settings: Value, managers: Value) -> Deployment {
        crate::deployment::from_value(&serde_json::json!({
            "schema": "nix2dream/v1",
            "name": "t",
            "services": {"web": {"process": {"argv": ["web"]}, "managers": {"demo": managers}}},
            "settings": {"demo": settings},
        }))
        .unwrap()
    }

    #[test]
    fn errors_name_the_setting_where_it_is() {
        let d = deployment(serde_json::json!({"binDir": 5, "typo": 1}), serde_json::json!({"enable": "yes", "ports": [80, "x"]}));
        let problems: Vec<String> = check(&d, "demo", SCHEMA).into_iter().map(|p| p.text).collect();
        assert!(problems.iter().any(|p| p.starts_with("settings.demo.binDir: 5 is not of type \"string\"")), "{problems:#?}");
        assert!(problems.iter().any(|p| p.starts_with("settings.demo.typo: not a setting of the demo plugin")), "{problems:#?}");
        assert!(problems.iter().any(|p| p.starts_with("services.web.managers.demo.enable: \"yes\" is not of type \"boolean\"")), "{problems:#?}");
        assert!(problems.iter().any(|p| p.starts_with("services.web.managers.demo.ports[1]: ")), "{problems:#?}");
        assert_eq!(problems.len(), 4, "{problems:#?}");
    }

    #[test]
    fn a_missing_required_setting_is_named_with_its_description() {
        let schema = r#"{"type": "object", "required": ["kernel"],
            "properties": {"kernel": {"type": "string", "description": "A kernel package, e.g. pkgs.linuxPackages.kernel."}}}"#;
        let d = deployment(serde_json::json!({}), serde_json::json!({"kernel": "/k"}));
        let problems = check(&d, "demo", schema);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].text, "settings.demo.kernel: required, not set: A kernel package, e.g. pkgs.linuxPackages.kernel.");
        assert_eq!(problems[0].service, None);
        let d = deployment(serde_json::json!({"kernel": "/k"}), serde_json::json!({"kernel": 1}));
        assert_eq!(check(&d, "demo", schema)[0].service.as_deref(), Some("web"), "a service's managers.<plugin> names the service");
    }

    #[test]
    fn valid_settings_and_plugins_without_a_schema_pass() {
        let d = deployment(serde_json::json!({"binDir": "bin"}), serde_json::json!({"enable": true, "ports": [80]}));
        assert!(check(&d, "demo", SCHEMA).is_empty());
        let bad = deployment(serde_json::json!({"anything": 1}), serde_json::json!(null));
        assert!(check(&bad, "demo", "").is_empty());
    }

    #[test]
    fn a_key_refused_by_additional_properties_alone_is_named() {
        let d = deployment(serde_json::json!({"tag": "latest"}), serde_json::json!({"push": true}));
        let mut problems: Vec<String> = check(&d, "demo", r#"{"type": "object", "additionalProperties": false}"#).into_iter().map(|p| p.text).collect();
        problems.sort();
        assert_eq!(
            problems,
            [
                "services.web.managers.demo.push: not a setting of the demo plugin (see `nix2dream plugins inspect demo`)",
                "settings.demo.tag: not a setting of the demo plugin (see `nix2dream plugins inspect demo`)",
            ]
        );
    }

    #[test]
    fn a_schema_the_host_cannot_use_is_named() {
        assert!(validator(r#"{"$ref": "https://example.com/s.json"}"#).is_err());
        assert!(validator(r#"{"type": "object", "properties": {"a": {"pattern": "("}}}"#).is_err());
        assert!(validator("").unwrap().is_none());
    }

    /// What the kit's `settings::schema` writes: one schema per place under `$defs`.
    const PLACES: &str = r##"{
      "$schema": "https://json-schema.org/draft/2020-12/schema",
      "anyOf": [{"$ref": "#/$defs/deployment"}, {"$ref": "#/$defs/service"}],
      "$defs": {
        "deployment": {"$ref": "#/$defs/Top"},
        "service": {"type": "object", "properties": {"enable": {"type": "boolean"}}, "additionalProperties": false},
        "Top": {"type": "object", "required": ["kernel"], "additionalProperties": false,
                "properties": {"kernel": {"type": "string", "description": "The kernel."}, "vm": {"$ref": "#/$defs/Vm"}}},
        "Vm": {"type": "object", "properties": {"cores": {"type": "integer", "minimum": 1}}, "additionalProperties": false}
      }
    }"##;

    #[test]
    fn each_place_is_checked_against_its_own_schema() {
        let d = deployment(serde_json::json!({"kernel": "/k", "vm": {"cores": 0}}), serde_json::json!({"enable": true}));
        let problems: Vec<String> = check(&d, "demo", PLACES).into_iter().map(|p| p.text).collect();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].starts_with("settings.demo.vm.cores: 0 is less than the minimum of 1"), "{problems:#?}");
        // The deployment's required key is not required of a service, and a
        // key of the other place is named with where it belongs.
        let d = deployment(serde_json::json!({"enable": false}), serde_json::json!({"kernel": "/k"}));
        let mut problems: Vec<String> = check(&d, "demo", PLACES).into_iter().map(|p| p.text).collect();
        problems.sort();
        assert_eq!(
            problems,
            [
                "services.web.managers.demo.kernel: a deployment-wide setting of the demo plugin: set settings.demo.kernel instead",
                "settings.demo.enable: a per-service setting of the demo plugin: set services.<name>.managers.demo.enable instead",
                "settings.demo.kernel: required, not set: The kernel.",
            ],
        );
        let ok = deployment(serde_json::json!({"kernel": "/k"}), serde_json::json!({}));
        assert!(check(&ok, "demo", PLACES).is_empty());
    }
}
