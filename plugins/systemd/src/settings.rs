//! `settings.systemd` (the deployment) and `managers.systemd` (one service:
//! extra directives by section). The JSON Schema the host checks them
//! against is derived from these types (`kit::settings::schema`).

use nix2dream_plugin_kit::settings::{self, JsonSchema};
use nix2dream_plugin_kit::systemd::directives::{directives, Directive, Section};
use nix2dream_plugin_kit::{diagnostics, Diagnostic};
use serde::Deserialize;

/// settings.systemd (deployment-wide).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    /// Where OUT/config/ is installed on the machine; units bind config files from there. Default: /etc/nix2dream/<deployment>.
    #[schemars(pattern(r"^/"))]
    pub config_dir: Option<String>,
}

/// managers.systemd (per service): extra directives by section, e.g. {"Service": {"LimitNOFILE": 65536}}.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSettings {
    #[serde(rename = "Unit")]
    pub unit: Section,
    #[serde(rename = "Service")]
    pub service: Section,
    #[serde(rename = "Install")]
    pub install: Section,
}

pub fn schema() -> String {
    settings::schema::<Settings, ServiceSettings>("systemd")
}

/// A service's extra directives.
pub fn extra_directives(service: &str, json: &str) -> Result<Vec<Directive>, Diagnostic> {
    let s: ServiceSettings = settings::service("systemd", service, json)?;
    Ok(directives(&[("Install", &s.install), ("Service", &s.service), ("Unit", &s.unit)]))
}

pub struct DeploymentSettings {
    pub config_dir: String,
}

impl DeploymentSettings {
    pub fn parse(json: &str, deployment: &str) -> Result<DeploymentSettings, Diagnostic> {
        let parsed: Settings = settings::deployment("systemd", json)?;
        let config_dir = match parsed.config_dir {
            // The schema says absolute; what a unit can bind from unquoted is
            // the kit's escaping rule (`is_plain_path`, shared with every
            // path the units name), kept in one place rather than copied into
            // a regex.
            Some(dir) if nix2dream_plugin_kit::systemd::escape::is_plain_path(&dir) => dir.trim_end_matches('/').to_owned(),
            Some(dir) => {
                return Err(diagnostics::deployment_error(format!(
                    "settings.systemd.configDir: {dir:?} must be an absolute path without spaces, `:` or quotes"
                )))
            }
            None => format!("/etc/nix2dream/{deployment}"),
        };
        Ok(DeploymentSettings { config_dir })
    }
}
