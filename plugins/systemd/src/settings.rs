//! `settings.systemd` (the deployment); `managers.systemd` is read by
//! `kit::systemd::directives`.

use nix2dream_plugin_kit::{diagnostics, Diagnostic};

pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "systemd manager settings",
  "description": "settings.systemd: configDir. managers.systemd (per service): extra directives by section, e.g. {\"Service\": {\"LimitNOFILE\": 65536}}.",
  "type": "object",
  "properties": {
    "configDir": {"type": "string", "pattern": "^/", "description": "Where OUT/config/ is installed on the machine; units bind config files from there. Default: /etc/nix2dream/<deployment>."},
    "Unit": {"type": "object"},
    "Service": {"type": "object"},
    "Install": {"type": "object"}
  }
}"#;

pub struct DeploymentSettings {
    pub config_dir: String,
}

impl DeploymentSettings {
    pub fn parse(json: &str, deployment: &str) -> Result<DeploymentSettings, Diagnostic> {
        let value = diagnostics::parse_settings(json, None)?;
        let bad = |m: String| diagnostics::deployment_error(format!("settings.systemd: {m}"));
        let object = value.as_object().ok_or_else(|| bad("must be an object".into()))?;
        let mut settings = DeploymentSettings { config_dir: format!("/etc/nix2dream/{deployment}") };
        for (key, value) in object {
            match (key.as_str(), value.as_str()) {
                ("configDir", Some(dir)) if dir.starts_with('/') && nix2dream_plugin_kit::systemd::escape::is_plain_path(dir) => {
                    settings.config_dir = dir.trim_end_matches('/').to_owned();
                }
                ("configDir", _) => return Err(bad(format!("configDir must be an absolute path without spaces, `:` or quotes, not {value}"))),
                (other, _) => return Err(bad(format!("unknown setting {other:?} (known: configDir)"))),
            }
        }
        Ok(settings)
    }
}
