//! The compose plugin's settings: `settings.compose` for the deployment,
//! `managers.compose` for one service.

use nix2dream_plugin_kit::{diagnostics, Diagnostic};

pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "compose manager settings",
  "description": "settings.compose (deployment-wide) accepts publishAddress and file; managers.compose (per service) is merged into that service's entry of compose.yaml.",
  "type": "object",
  "properties": {
    "publishAddress": {"type": "string", "description": "Host address ports are published on, e.g. 127.0.0.1. Default: all addresses."},
    "file": {"type": "object", "description": "Merged into the top level of compose.yaml (e.g. networks)."}
  }
}"#;

#[derive(Debug, Default)]
pub struct DeploymentSettings {
    pub publish_address: Option<String>,
    pub file: serde_json::Value,
}

impl DeploymentSettings {
    pub fn parse(json: &str) -> Result<DeploymentSettings, Diagnostic> {
        let value = diagnostics::parse_settings(json, None)?;
        let bad = |m: String| diagnostics::deployment_error(format!("settings.compose: {m}"));
        let object = value.as_object().ok_or_else(|| bad("must be an object".into()))?;
        let mut settings = DeploymentSettings { publish_address: None, file: serde_json::Value::Null };
        for (key, value) in object {
            match key.as_str() {
                "publishAddress" => {
                    let address = value.as_str().ok_or_else(|| bad("publishAddress must be a string".into()))?;
                    if address.is_empty() || address.contains(['/', ' ']) {
                        return Err(bad(format!("publishAddress {address:?} is not an address")));
                    }
                    settings.publish_address = Some(address.to_owned());
                }
                "file" if value.is_object() => settings.file = value.clone(),
                "file" => return Err(bad("file must be an object".into())),
                other => return Err(bad(format!("unknown setting {other:?} (known: publishAddress, file)"))),
            }
        }
        Ok(settings)
    }
}
