//! A plugin's settings as Rust types: the JSON Schema `info()` declares is
//! derived from them ([`schema`]), and the JSON the host hands `render` is
//! read into them with serde ([`deployment`], [`service`]).
//!
//! Settings live in two places: `settings.<plugin>` (the deployment) and
//! `services.<name>.managers.<plugin>` (one service). The contract carries one
//! schema; [`schema`] puts each place's schema under `$defs`, as
//! `$defs.deployment` and `$defs.service`, and the host checks each place
//! against its own (so a key set in the wrong place is refused by the host,
//! naming where it belongs). The schema's root accepts either, for tools that
//! know nothing of the two places.
//!
//! ```
//! use nix2dream_plugin_kit::settings::{self, JsonSchema, NoSettings};
//! use serde::Deserialize;
//!
//! /// settings.runit
//! #[derive(Deserialize, JsonSchema, Default)]
//! #[serde(rename_all = "camelCase", deny_unknown_fields, default)]
//! struct Runit {
//!     /// Where the service directories go, relative to the output.
//!     #[schemars(pattern(r"^[a-z]+$"))]
//!     service_dir: Option<String>,
//! }
//!
//! let schema = settings::schema::<Runit, NoSettings>("runit");
//! let parsed: Runit = settings::deployment("runit", r#"{"serviceDir": "sv"}"#).unwrap();
//! assert_eq!(parsed.service_dir.as_deref(), Some("sv"));
//! assert!(settings::deployment::<Runit>("runit", r#"{"serviceDir": 5}"#).is_err());
//! # assert!(schema.contains("serviceDir"));
//! ```

use crate::{diagnostics, Diagnostic};
pub use schemars::{self, JsonSchema};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// The settings of a place where the plugin takes none: any key is refused.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// `properties: {}` beside `additionalProperties: false`: validators then
// report each refused key by name, not only its value.
#[schemars(title = "no settings", description = "This plugin takes no settings here.", extend("properties" = {}))]
pub struct NoSettings {}

/// The settings schema for `PluginInfo::settings_schema`: `D` is
/// `settings.<plugin>` (the deployment), `S` is `managers.<plugin>` (each
/// service). Their doc comments become the schema's descriptions, serde's
/// attributes (renames, `deny_unknown_fields`, defaults) its keys, and
/// schemars' (`#[schemars(pattern(…), range(…))]`) what a value may be.
pub fn schema<D: JsonSchema, S: JsonSchema>(plugin: &str) -> String {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let deployment = generator.subschema_for::<D>();
    let service = generator.subschema_for::<S>();
    let mut defs = generator.take_definitions(true);
    for (place, schema) in [("deployment", deployment), ("service", service)] {
        // A settings type named `deployment` or `service` would be shadowed;
        // Rust types are CamelCase, so this is only ever a type's own choice.
        assert!(!defs.contains_key(place), "a settings type's schema is named {place:?}: rename it (#[schemars(rename = …)])");
        defs.insert(place.to_owned(), schema.to_value());
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("{plugin} manager settings"),
        "description": format!("$defs.deployment: settings.{plugin} (the deployment); $defs.service: services.<name>.managers.{plugin} (one service)."),
        "anyOf": [{"$ref": "#/$defs/deployment"}, {"$ref": "#/$defs/service"}],
        "$defs": defs,
    })
    .to_string()
}

/// `settings.<plugin>` read into `D` (an empty string or `null`: `D`'s default).
/// The host has checked it against the schema, so an error here means the
/// plugin runs without that check (e.g. in a unit test); it still names the field.
pub fn deployment<D: DeserializeOwned + Default>(plugin: &str, json: &str) -> Result<D, Diagnostic> {
    parse(json, &format!("settings.{plugin}")).map_err(diagnostics::deployment_error)
}

/// A service's `managers.<plugin>` read into `S`, like [`deployment`].
pub fn service<S: DeserializeOwned + Default>(plugin: &str, service: &str, json: &str) -> Result<S, Diagnostic> {
    parse(json, &format!("services.{service}.managers.{plugin}")).map_err(|m| diagnostics::error(service, "managers", m))
}

fn parse<T: DeserializeOwned + Default>(json: &str, at: &str) -> Result<T, String> {
    let value: Value = if json.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(json).map_err(|e| format!("{at}: not valid JSON: {e}"))?
    };
    if value.is_null() {
        return Ok(T::default());
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { format!(".{path}") };
        format!("{at}{field}: {}", e.inner())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// settings.demo
    #[derive(Debug, Deserialize, JsonSchema, Default, PartialEq)]
    #[serde(rename_all = "camelCase", deny_unknown_fields, default)]
    struct Demo {
        /// Where things go.
        #[schemars(pattern(r"^[a-z]+$"))]
        bin_dir: Option<String>,
        inner: Inner,
    }

    #[derive(Debug, Deserialize, JsonSchema, Default, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[schemars(range(min = 1))]
        cores: Option<u32>,
    }

    #[test]
    fn each_place_has_its_schema_under_defs() {
        let schema: Value = serde_json::from_str(&schema::<Demo, NoSettings>("demo")).unwrap();
        assert_eq!(schema["$defs"]["deployment"], json!({"$ref": "#/$defs/Demo"}), "{schema:#}");
        assert_eq!(schema["$defs"]["Demo"]["properties"]["binDir"]["pattern"], "^[a-z]+$", "{schema:#}");
        assert_eq!(schema["$defs"]["Demo"]["properties"]["binDir"]["description"], "Where things go.", "{schema:#}");
        assert_eq!(schema["$defs"]["Demo"]["additionalProperties"], false, "{schema:#}");
        assert_eq!(schema["$defs"]["Inner"]["properties"]["cores"]["minimum"], 1, "{schema:#}");
        assert_eq!(schema["$defs"]["service"]["$ref"], "#/$defs/NoSettings", "{schema:#}");
        assert_eq!(schema["$defs"]["NoSettings"]["additionalProperties"], false, "{schema:#}");
        assert_eq!(schema["$defs"]["NoSettings"]["properties"], json!({}), "{schema:#}");
    }

    #[test]
    fn settings_are_read_into_the_types_and_errors_name_the_field() {
        assert_eq!(deployment::<Demo>("demo", "").unwrap(), Demo::default());
        assert_eq!(deployment::<Demo>("demo", "null").unwrap(), Demo::default());
        let d: Demo = deployment("demo", r#"{"binDir": "x", "inner": {"cores": 2}}"#).unwrap();
        assert_eq!((d.bin_dir.as_deref(), d.inner.cores), (Some("x"), Some(2)));
        let e = deployment::<Demo>("demo", r#"{"inner": {"cores": "2"}}"#).unwrap_err();
        assert!(e.message.starts_with("settings.demo.inner.cores: invalid type: string \"2\""), "{}", e.message);
        let e = service::<NoSettings>("demo", "web", r#"{"x": 1}"#).unwrap_err();
        assert!(e.message.starts_with("services.web.managers.demo.x: unknown field `x`"), "{}", e.message);
        assert_eq!(e.service.as_deref(), Some("web"));
        assert!(deployment::<Demo>("demo", "{").unwrap_err().message.starts_with("settings.demo: not valid JSON"));
    }
}
