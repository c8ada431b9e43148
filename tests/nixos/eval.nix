# Evaluates a rendered module.nix (or vm.nix) with nixpkgs' lib.evalModules
# against ./options.nix, as NixOS would, and returns what the tests check:
# the unit files NixOS would write, accounts, firewall, the closure's extra
# dependencies and the store paths each unit depends on (string context).
#   nix-instantiate --eval --strict --json eval.nix --arg lib '...' --arg module ./module.nix
{ lib, module, extraModules ? [ ] }:
let
  evaluated = lib.evalModules {
    modules = [ ./options.nix module ] ++ extraModules;
    specialArgs.modulesPath = ./modules;
  };
  config = evaluated.config;
  contextOf = s: builtins.attrNames (builtins.getContext s);
in
{
  units = lib.mapAttrs (_: unit: unit.text) config.systemd.units;
  unitContext = lib.mapAttrs (_: unit: contextOf unit.text) config.systemd.units;
  wantedBy = lib.mapAttrs (_: unit: unit.wantedBy) config.systemd.units;
  users = lib.mapAttrs (_: user: { inherit (user) group isSystemUser; }) config.users.users;
  groups = builtins.attrNames config.users.groups;
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  firewall = { inherit (config.networking.firewall) allowedTCPPorts allowedUDPPorts; };
  extraDependencies = map (p: { path = p; context = contextOf p; }) config.system.extraDependencies;
  vm = if config ? virtualisation then { inherit (config.virtualisation) memorySize cores forwardPorts; } else null;
}
