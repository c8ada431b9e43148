//! `settings.vm` (the deployment); services take no `managers.vm`.

use nix2dream_plugin_kit::{diagnostics, Diagnostic};

pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "vm manager settings",
  "description": "settings.vm: the kernel (required) and the VM's size.",
  "type": "object",
  "required": ["kernel"],
  "additionalProperties": false,
  "properties": {
    "kernel": {"type": "string", "pattern": "^/", "description": "A kernel package (e.g. pkgs.linuxPackages.kernel) or a store path holding bzImage and lib/modules/<version>/; it needs virtio networking and, for persistent volumes, 9p over virtio (built in or as modules)."},
    "memoryMiB": {"type": "integer", "minimum": 64, "description": "The VM's memory. Default: 256 + the services' memory limits (times replicas) + twice the root file system, which lives in RAM."},
    "cpus": {"type": "integer", "minimum": 1, "maximum": 64, "description": "The VM's CPUs. Default: the services' CPU limits (times replicas), rounded up, at least 1."},
    "stopTimeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 3600, "description": "How long each service gets between SIGTERM and SIGKILL when run-vm stops. Default: 10."}
  }
}"#;

pub struct Settings {
    pub kernel: String,
    pub memory_mib: Option<u64>,
    pub cpus: Option<u32>,
    pub stop_timeout_seconds: u32,
}

impl Settings {
    pub fn parse(json: &str) -> Result<Settings, Diagnostic> {
        let value = diagnostics::parse_settings(json, None)?;
        let bad = |m: String| diagnostics::deployment_error(format!("settings.vm: {m}"));
        let object = value.as_object().ok_or_else(|| bad("must be an object".into()))?;
        let mut kernel = None;
        let mut settings = Settings { kernel: String::new(), memory_mib: None, cpus: None, stop_timeout_seconds: 10 };
        for (key, value) in object {
            match key.as_str() {
                "kernel" => match value.as_str() {
                    Some(path) if path.starts_with('/') && !path.contains(['\n', '\0']) => kernel = Some(path.trim_end_matches('/').to_owned()),
                    _ => return Err(bad(format!("kernel must be an absolute path (a kernel package such as pkgs.linuxPackages.kernel), not {value}"))),
                },
                "memoryMiB" => settings.memory_mib = Some(value.as_u64().filter(|m| *m >= 64).ok_or_else(|| bad(format!("memoryMiB must be an integer of at least 64, not {value}")))?),
                "cpus" => settings.cpus = Some(value.as_u64().filter(|c| (1..=64).contains(c)).ok_or_else(|| bad(format!("cpus must be an integer from 1 to 64, not {value}")))? as u32),
                "stopTimeoutSeconds" => {
                    settings.stop_timeout_seconds = value.as_u64().filter(|s| (1..=3600).contains(s)).ok_or_else(|| bad(format!("stopTimeoutSeconds must be an integer from 1 to 3600, not {value}")))? as u32
                }
                other => return Err(bad(format!("unknown setting {other:?} (known: kernel, memoryMiB, cpus, stopTimeoutSeconds)"))),
            }
        }
        settings.kernel = kernel.ok_or_else(|| {
            bad("kernel is not set: the VM boots a Linux kernel from Nix. Set settings.vm.kernel = pkgs.linuxPackages.kernel (or a store path holding bzImage and lib/modules/<version>/, e.g. Debian's linux-image-amd64 copied in with builtins.path)".into())
        })?;
        Ok(settings)
    }
}

/// `managers.vm` of a service: nothing is configurable per service.
pub fn check_service(service: &str, json: &str) -> Result<(), Diagnostic> {
    let value = diagnostics::parse_settings(json, Some(service))?;
    match value.as_object() {
        Some(o) if o.is_empty() => Ok(()),
        _ => Err(diagnostics::error(service, "managers", "managers.vm: the vm plugin has no per-service settings (the VM's are settings.vm)")),
    }
}
