//! `settings.vm` (the deployment); services take no `managers.vm`. The JSON
//! Schema the host checks them against is derived from these types
//! (`kit::settings::schema`).

use nix2dream_plugin_kit::settings::{self, JsonSchema, NoSettings};
use nix2dream_plugin_kit::{diagnostics, Diagnostic};
use serde::Deserialize;

/// settings.vm: the kernel (required) and the VM's size.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeploymentSettings {
    /// A kernel package (e.g. pkgs.linuxPackages.kernel) or a store path holding bzImage and lib/modules/<version>/; it needs virtio networking and, for persistent volumes, 9p over virtio (built in or as modules).
    #[schemars(required, pattern(r"^/[^\n\x00]*$"))]
    kernel: Option<String>,
    /// The VM's memory. Default: 256 + the services' memory limits (times replicas) + twice the root file system, which lives in RAM.
    #[serde(rename = "memoryMiB")]
    #[schemars(range(min = 64))]
    memory_mib: Option<u64>,
    /// The VM's CPUs. Default: the services' CPU limits (times replicas), rounded up, at least 1.
    #[schemars(range(min = 1, max = 64))]
    cpus: Option<u32>,
    /// How long each service gets between SIGTERM and SIGKILL when run-vm stops. Default: 10.
    #[schemars(range(min = 1, max = 3600))]
    stop_timeout_seconds: Option<u32>,
}

pub fn schema() -> String {
    settings::schema::<DeploymentSettings, NoSettings>("vm")
}

pub struct Settings {
    pub kernel: String,
    pub memory_mib: Option<u64>,
    pub cpus: Option<u32>,
    pub stop_timeout_seconds: u32,
}

impl Settings {
    pub fn parse(json: &str) -> Result<Settings, Diagnostic> {
        let s: DeploymentSettings = settings::deployment("vm", json)?;
        // The host checks settings.vm against the schema (kernel required)
        // only when the deployment gives settings.vm at all: without it, the
        // missing kernel is found here.
        let kernel = s.kernel.ok_or_else(|| {
            diagnostics::deployment_error("settings.vm.kernel is not set: the VM boots a Linux kernel from Nix. Set settings.vm.kernel = pkgs.linuxPackages.kernel (or a store path holding bzImage and lib/modules/<version>/, e.g. Debian's linux-image-amd64 copied in with builtins.path)")
        })?;
        Ok(Settings {
            kernel: kernel.trim_end_matches('/').to_owned(),
            memory_mib: s.memory_mib,
            cpus: s.cpus,
            stop_timeout_seconds: s.stop_timeout_seconds.unwrap_or(10),
        })
    }
}

/// `managers.vm` of a service: nothing is configurable per service.
pub fn check_service(service: &str, json: &str) -> Result<(), Diagnostic> {
    settings::service::<NoSettings>("vm", service, json).map(drop)
}
