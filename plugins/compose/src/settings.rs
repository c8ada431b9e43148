//! The compose plugin's settings: `settings.compose` for the deployment,
//! `managers.compose` for one service. The JSON Schema the host checks them
//! against is derived from these types (`kit::settings::schema`).

use nix2dream_plugin_kit::settings::{self, JsonSchema};
use nix2dream_plugin_kit::image::ImageArchives;
use nix2dream_plugin_kit::Diagnostic;
use serde::Deserialize;
use serde_json::{Map, Value};

/// settings.compose (deployment-wide).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DeploymentSettings {
    /// Host address ports are published on, e.g. 127.0.0.1. Default: all addresses.
    #[schemars(pattern(r"^[^/ ]+$"))]
    pub publish_address: Option<String>,
    /// Merged into the top level of compose.yaml (e.g. networks).
    pub file: Option<Map<String, Value>>,
    /// `per-service` (default): one archive per service, `images/<service>.tar`.
    /// `shared`: every image in one archive, `images/all.tar`, holding each
    /// layer once (services on the same package write and load it once).
    pub image_archives: ImageArchives,
}

/// managers.compose (per service): merged into that service's entry of compose.yaml.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct ServiceSettings(pub Map<String, Value>);

pub fn schema() -> String {
    settings::schema::<DeploymentSettings, ServiceSettings>("compose")
}

impl DeploymentSettings {
    pub fn parse(json: &str) -> Result<DeploymentSettings, Diagnostic> {
        settings::deployment("compose", json)
    }
}

impl ServiceSettings {
    pub fn parse(service: &str, json: &str) -> Result<ServiceSettings, Diagnostic> {
        settings::service("compose", service, json)
    }
}
