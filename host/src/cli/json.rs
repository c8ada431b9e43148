//! The JSON documents `--format json` prints on stdout (their shape is
//! documented in docs/cli-json.md; `schema` names its version).

use nix2dream::messages::Message;
use nix2dream::plugin::{Addressing, Origin, Plugin};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderReport {
    pub schema: &'static str,
    pub ok: bool,
    pub exit_code: u8,
    pub output: String,
    pub check: bool,
    pub plugins: Vec<PluginRef>,
    /// Files the output holds after the render (not `--check`).
    pub written: Vec<String>,
    /// Stale files removed (not `--check`).
    pub removed: Vec<String>,
    /// `--check`: what differs (empty: up to date).
    pub drift: Vec<Drift>,
    pub diagnostics: Vec<Diagnostic>,
    /// Why the run failed, when it did.
    pub error: Option<String>,
}

impl RenderReport {
    pub const SCHEMA: &'static str = "nix2dream/render-report/v1";
}

#[derive(Clone, Serialize)]
pub struct PluginRef {
    pub name: String,
    pub version: String,
    pub file: String,
    pub contract: String,
}

impl From<&Plugin> for PluginRef {
    fn from(p: &Plugin) -> PluginRef {
        PluginRef { name: p.info.name.clone(), version: p.info.version.clone(), file: p.file.display().to_string(), contract: p.wit_version.clone() }
    }
}

#[derive(Serialize)]
pub struct Drift {
    pub path: String,
    pub what: String,
}

#[derive(Serialize)]
pub struct Diagnostic {
    pub severity: &'static str,
    pub plugin: Option<String>,
    pub service: Option<String>,
    pub option: Option<String>,
    /// An option the service sets that the plugin ignores.
    pub unsupported: bool,
    pub message: String,
}

impl From<&Message> for Diagnostic {
    fn from(m: &Message) -> Diagnostic {
        Diagnostic {
            severity: m.severity_name(),
            plugin: m.plugin.clone(),
            service: m.service.clone(),
            option: m.option.clone(),
            unsupported: m.unsupported,
            message: m.text.clone(),
        }
    }
}

#[derive(Serialize)]
pub struct PluginList {
    pub schema: &'static str,
    pub plugins: Vec<ListedPlugin>,
}

impl PluginList {
    pub const SCHEMA: &'static str = "nix2dream/plugin-list/v1";
}

#[derive(Serialize)]
pub struct ListedPlugin {
    pub name: String,
    /// "bundled", or the NIX2DREAM_PLUGIN_PATH entry it was found in.
    pub origin: String,
    pub file: String,
    /// Another plugin of the same name comes first: `--plugin NAME` does not pick this one.
    pub shadowed: bool,
    /// None when the plugin cannot be used (then `error` says why).
    pub version: Option<String>,
    pub description: Option<String>,
    pub error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginDetails {
    pub schema: &'static str,
    pub name: String,
    pub version: String,
    pub file: String,
    pub contract: String,
    /// "cache" or "compiled".
    pub loaded_from: &'static str,
    pub description: String,
    pub supports: Vec<String>,
    pub ignores: Vec<String>,
    /// "loopback" (127.0.0.1) or "service-name" (the manager's DNS).
    pub addressing: &'static str,
    pub usage: String,
    /// The plugin's settings schema (JSON Schema), when it declares one.
    pub settings_schema: Option<serde_json::Value>,
}

impl PluginDetails {
    pub const SCHEMA: &'static str = "nix2dream/plugin-details/v1";
}

pub fn origin_name(origin: Origin) -> &'static str {
    match origin {
        Origin::Cached => "cache",
        Origin::Compiled => "compiled",
    }
}

pub fn addressing_name(addressing: Addressing) -> &'static str {
    match addressing {
        Addressing::Loopback => "loopback",
        Addressing::ServiceName => "service-name",
    }
}

/// A failed command's JSON: the schema, `ok: false`, the exit code and the error.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failed {
    pub schema: &'static str,
    pub ok: bool,
    pub exit_code: u8,
    pub error: String,
}

/// Prints `value` on stdout, pretty.
pub fn print(value: &impl Serialize) {
    println!("{}", serde_json::to_string_pretty(value).expect("the reports serialize"));
}
