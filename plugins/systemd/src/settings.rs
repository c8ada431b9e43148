//! `settings.systemd` (the deployment) and `managers.systemd` (one service).

use nix2dream_plugin_kit::{diagnostics, Diagnostic};
use serde_json::Value;

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
                ("configDir", Some(dir)) if dir.starts_with('/') && crate::escape::is_plain_path(dir) => {
                    settings.config_dir = dir.trim_end_matches('/').to_owned();
                }
                ("configDir", _) => return Err(bad(format!("configDir must be an absolute path without spaces, `:` or quotes, not {value}"))),
                (other, _) => return Err(bad(format!("unknown setting {other:?} (known: configDir)"))),
            }
        }
        Ok(settings)
    }
}

/// Extra directives for one service, by section: `(section, key, value)`.
pub fn extra_directives(service: &str, json: &str) -> Result<Vec<(String, String, String)>, Diagnostic> {
    let value = diagnostics::parse_settings(json, Some(service))?;
    let bad = |m: String| diagnostics::error(service, "managers", format!("managers.systemd: {m}"));
    let object = value.as_object().ok_or_else(|| bad("must be an object of sections".into()))?;
    let mut out = Vec::new();
    for (section, directives) in object {
        if !matches!(section.as_str(), "Unit" | "Service" | "Install") {
            return Err(bad(format!("unknown section {section:?} (known: Unit, Service, Install)")));
        }
        let directives = directives.as_object().ok_or_else(|| bad(format!("{section} must be an object of directives")))?;
        for (key, value) in directives {
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad(format!("{section}.{key}: not a directive name")));
            }
            let values = match value {
                Value::Array(items) => items.clone(),
                single => vec![single.clone()],
            };
            for v in values {
                let text = match v {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => if b { "yes".into() } else { "no".into() },
                    other => return Err(bad(format!("{section}.{key}: {other} is not a string, number or boolean"))),
                };
                if text.contains(['\n', '\r']) {
                    return Err(bad(format!("{section}.{key}: a value must be one line")));
                }
                out.push((section.clone(), key.clone(), text));
            }
        }
    }
    Ok(out)
}
