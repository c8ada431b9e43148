//! The NixOS manager: `module.nix`, the deployment as an ordinary NixOS
//! module (a systemd service per service, a template with instances for
//! replicas, `<deployment>.target` wanted by multi-user.target, system users,
//! optionally the firewall), and `vm.nix`, a NixOS VM running it. The unit
//! semantics are the systemd plugin's, shared through `kit::systemd`.

mod module;
mod nix;
mod settings;
mod vm;

use nix2dream_plugin_kit::{file, Addressing, Deployment, Diagnostic, Manager, PluginInfo, Rendered};

pub struct Nixos;

const SUPPORTED: &[&str] = &[
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
    "user",
    "group",
    "dependsOn",
    "healthcheck",
    "restart",
    "resources",
    "replicas",
    "ports.internal",
    "ports.hostPort",
    "oneShot",
    "stopSignal",
    "stopTimeout",
    "secrets",
];

const USAGE: &str = "\
On NixOS: add `imports = [ OUT/module.nix ];` to configuration.nix, then nixos-rebuild switch \
(systemctl status <deployment>.target). Units are named <deployment>-<service>; override them the NixOS way, \
e.g. systemd.services.<deployment>-<service>.serviceConfig.MemoryMax = lib.mkForce \"1G\". \
Packages, `path` entries, closure roots and config sources become dependencies of the system \
(builtins.appendContext, which flakes' pure evaluation allows): they must be in the Nix store where the system is built. \
Inline config text becomes store files (builtins.toFile), readable by every user of the machine: give secrets as a `source` outside the store. Users and groups are declared as system users. \
Ports: settings.nixos.openFirewall = true opens them in networking.firewall. \
VM: nix-build '<nixpkgs/nixos>' -A vm -I nixos-config=OUT/vm.nix && ./result/bin/run-<deployment>-vm \
(or nixos-rebuild build-vm -I nixos-config=OUT/vm.nix): ports forwarded to the host's 127.0.0.1, \
memory and cores from the services' resources or settings.nixos.vm.{memoryMiB,cores}, state kept on the VM's disk (<deployment>.qcow2). \
Verified without NixOS: both files parse (nix-instantiate --parse); module.nix evaluates with lib.evalModules against \
declarations of the NixOS options it sets (same names and types); the units NixOS would make of it run under a real systemd \
with the systemd plugin's assertions. Only on NixOS (a full nixpkgs): the real module system, nixos-rebuild and the VM build.";

impl Manager for Nixos {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "nixos".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "NixOS: a module with a systemd service per service (templates for replicas), system users, a target per deployment; and a VM configuration.".into(),
            supported_options: nix2dream_plugin_kit::supported_options(&[SUPPORTED]),
            settings_schema: settings::schema(),
            usage: USAGE.into(),
            addressing: Addressing::Loopback,
        }
    }

    fn render(d: Deployment) -> Result<Rendered, Vec<Diagnostic>> {
        let settings = settings::DeploymentSettings::parse(&d.settings_json).map_err(|e| vec![e])?;
        let module = module::render(&d, &settings)?;
        let vm = vm::render(&d, &settings);
        Ok(Rendered {
            artifacts: vec![file("module.nix", module.text, false), file("vm.nix", vm, false)],
            diagnostics: module.warnings,
        })
    }
}

nix2dream_plugin_kit::export_manager!(Nixos);

#[cfg(test)]
mod tests;
