//! The core option names: the one vocabulary that `optionsSet`,
//! `ignoreUnsupported`, `--allow-unsupported` and a plugin's declared
//! supported options speak. The Nix modules (nix/modules/service.nix) declare
//! the same options; a test (tests/tests/nix_layer.rs) checks that the two
//! lists agree. No dependencies: the host and wasm plugins both link it.
#![no_std]

/// Every core option, as the Nix modules and the deployment JSON name it.
pub const CORE_OPTIONS: &[&str] = &[
    "description",
    "package",
    "process.argv",
    "env",
    "path",
    "workingDirectory",
    "preStart",
    "configData",
    "volumes",
    "volumes.shared",
    "volumes.hostPath",
    "volumes.readOnly",
    "ports",
    "ports.internal",
    "ports.hostPort",
    "user",
    "group",
    "dependsOn",
    "healthcheck",
    "restart",
    "resources",
    "replicas",
    "oneShot",
    "stopSignal",
    "stopTimeout",
    "secrets",
];

/// The signals `stopSignal` may name (nix/lib.nix `stopSignals` declares
/// the same): ones every manager can send.
pub const STOP_SIGNALS: &[&str] = &["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH"];

pub fn is_core_option(name: &str) -> bool {
    CORE_OPTIONS.contains(&name)
}
