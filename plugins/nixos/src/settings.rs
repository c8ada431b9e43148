//! `settings.nixos` (the deployment); `managers.nixos` (one service) is read
//! by `kit::systemd::directives`, with the sections a NixOS service has.

use nix2dream_plugin_kit::{diagnostics, Diagnostic};
use serde_json::Value;

pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "nixos manager settings",
  "description": "settings.nixos: openFirewall, vm. managers.nixos (per service): extra directives by section, {\"Unit\": {...}, \"Service\": {...}}, written to unitConfig and serviceConfig.",
  "type": "object",
  "properties": {
    "openFirewall": {"type": "boolean", "description": "Open the services' ports in networking.firewall (default: false, the firewall stays closed)."},
    "vm": {
      "type": "object",
      "description": "vm.nix: the VM's memory and cores (default: from the services' resources).",
      "properties": {
        "memoryMiB": {"type": "integer", "minimum": 256},
        "cores": {"type": "integer", "minimum": 1}
      },
      "additionalProperties": false
    },
    "Unit": {"type": "object"},
    "Service": {"type": "object"}
  },
  "additionalProperties": false
}"#;

#[derive(Default)]
pub struct DeploymentSettings {
    pub open_firewall: bool,
    pub vm_memory_mib: Option<u64>,
    pub vm_cores: Option<u64>,
}

impl DeploymentSettings {
    pub fn parse(json: &str) -> Result<DeploymentSettings, Diagnostic> {
        let value = diagnostics::parse_settings(json, None)?;
        let bad = |m: String| diagnostics::deployment_error(format!("settings.nixos: {m}"));
        let object = value.as_object().ok_or_else(|| bad("must be an object".into()))?;
        let mut settings = DeploymentSettings::default();
        for (key, value) in object {
            match (key.as_str(), value) {
                ("openFirewall", Value::Bool(b)) => settings.open_firewall = *b,
                ("openFirewall", other) => return Err(bad(format!("openFirewall must be true or false, not {other}"))),
                ("vm", Value::Object(vm)) => {
                    for (key, value) in vm {
                        let n = value.as_u64();
                        match (key.as_str(), n) {
                            ("memoryMiB", Some(n)) if n >= 256 => settings.vm_memory_mib = Some(n),
                            ("cores", Some(n)) if n >= 1 => settings.vm_cores = Some(n),
                            ("memoryMiB", _) => return Err(bad(format!("vm.memoryMiB must be a whole number of MiB, at least 256, not {value}"))),
                            ("cores", _) => return Err(bad(format!("vm.cores must be a whole number, at least 1, not {value}"))),
                            (other, _) => return Err(bad(format!("unknown setting vm.{other} (known: memoryMiB, cores)"))),
                        }
                    }
                }
                ("vm", other) => return Err(bad(format!("vm must be an object, not {other}"))),
                (other, _) => return Err(bad(format!("unknown setting {other:?} (known: openFirewall, vm)"))),
            }
        }
        Ok(settings)
    }
}
