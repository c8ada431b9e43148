//! `settings.nixos` (the deployment) and `managers.nixos` (one service:
//! extra directives by section, the sections a NixOS service has). The JSON
//! Schema the host checks them against is derived from these types
//! (`kit::settings::schema`).

use nix2dream_plugin_kit::settings::{self, JsonSchema};
use nix2dream_plugin_kit::systemd::directives::{directives, Directive, Section};
use nix2dream_plugin_kit::Diagnostic;
use serde::Deserialize;

/// settings.nixos (deployment-wide).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DeploymentSettings {
    /// Open the services' ports in networking.firewall (default: false, the firewall stays closed).
    pub open_firewall: bool,
    /// vm.nix: the VM's memory and cores (default: from the services' resources).
    pub vm: Vm,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Vm {
    /// The VM's memory in MiB.
    #[serde(rename = "memoryMiB")]
    #[schemars(range(min = 256))]
    pub memory_mib: Option<u64>,
    /// The VM's cores.
    #[schemars(range(min = 1))]
    pub cores: Option<u64>,
}

/// managers.nixos (per service): extra directives by section, {"Unit": {...}, "Service": {...}}, written to unitConfig and serviceConfig.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSettings {
    #[serde(rename = "Unit")]
    pub unit: Section,
    #[serde(rename = "Service")]
    pub service: Section,
}

pub fn schema() -> String {
    settings::schema::<DeploymentSettings, ServiceSettings>("nixos")
}

impl DeploymentSettings {
    pub fn parse(json: &str) -> Result<DeploymentSettings, Diagnostic> {
        settings::deployment("nixos", json)
    }
}

/// A service's extra directives.
pub fn extra_directives(service: &str, json: &str) -> Result<Vec<Directive>, Diagnostic> {
    let s: ServiceSettings = settings::service("nixos", service, json)?;
    Ok(directives(&[("Service", &s.service), ("Unit", &s.unit)]))
}
