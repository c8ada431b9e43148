# The options of nixpkgs' nixos/modules/virtualisation/qemu-vm.nix that
# nix2dream's vm.nix sets, with their names and types (found through
# `modulesPath`, as on NixOS).
{ lib, ... }:
let
  inherit (lib) mkOption types;
  forwardPort = {
    options = {
      from = mkOption { type = types.enum [ "host" "guest" ]; default = "host"; };
      host.address = mkOption { type = types.str; default = ""; };
      host.port = mkOption { type = types.port; };
      guest.address = mkOption { type = types.str; default = ""; };
      guest.port = mkOption { type = types.port; };
      proto = mkOption { type = types.enum [ "tcp" "udp" ]; default = "tcp"; };
    };
  };
in
{
  options.virtualisation = {
    memorySize = mkOption { type = types.ints.positive; default = 1024; };
    cores = mkOption { type = types.ints.positive; default = 1; };
    diskSize = mkOption { type = types.nullOr (types.ints.positive); default = 1024; };
    forwardPorts = mkOption { type = types.listOf (types.submodule forwardPort); default = [ ]; };
  };
}
