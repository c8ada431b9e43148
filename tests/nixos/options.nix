# Declarations of every NixOS option that nix2dream's module.nix and vm.nix
# set, with NixOS's names and types, and the module arguments NixOS gives
# (`utils`, `modulesPath`): lib.evalModules of module.nix against these fails
# on a misspelt or mistyped option as NixOS would. Sources: nixpkgs'
# nixos/modules/system/boot/systemd.nix (systemd.services/targets/units),
# nixos/modules/config/users-groups.nix (users.users/groups and their
# assertions), nixos/modules/services/networking/firewall.nix,
# nixos/modules/system/activation/top-level.nix (system.extraDependencies),
# nixos/modules/misc/assertions.nix, nixos/lib/utils.nix (escapeSystemdExecArgs).
{ config, lib, ... }:
let
  inherit (lib) mkOption types mapAttrs' nameValuePair;
  systemdLib = import ./systemd-lib.nix { inherit lib; };

  # nixos/lib/utils.nix
  escapeSystemdExecArg = arg:
    let
      s = if builtins.isPath arg then "${arg}"
        else if builtins.isString arg then arg
        else if builtins.isInt arg || builtins.isFloat arg || lib.isDerivation arg then toString arg
        else throw "escapeSystemdExecArg only allows strings, paths, numbers and derivations";
    in
    builtins.replaceStrings [ "%" "$" ] [ "%%" "$$" ] (builtins.toJSON s);

  userOptions = { name, ... }: {
    options = {
      name = mkOption { type = types.passwdEntry types.str; default = name; };
      description = mkOption { type = types.passwdEntry types.str; default = ""; };
      uid = mkOption { type = with types; nullOr int; default = null; };
      isSystemUser = mkOption { type = types.bool; default = false; };
      isNormalUser = mkOption { type = types.bool; default = false; };
      group = mkOption { type = types.str; default = ""; };
      extraGroups = mkOption { type = types.listOf types.str; default = [ ]; };
      home = mkOption { type = types.passwdEntry types.path; default = "/var/empty"; };
      createHome = mkOption { type = types.bool; default = false; };
    };
  };

  groupOptions = { name, ... }: {
    options = {
      name = mkOption { type = types.passwdEntry types.str; default = name; };
      gid = mkOption { type = with types; nullOr int; default = null; };
      members = mkOption { type = with types; listOf (passwdEntry str); default = [ ]; };
    };
  };
in
{
  options = {
    systemd.services = mkOption { type = systemdLib.services; default = { }; };
    systemd.targets = mkOption { type = systemdLib.targets; default = { }; };
    systemd.units = mkOption { type = systemdLib.units; default = { }; };

    users.users = mkOption { type = with types; attrsOf (submodule userOptions); default = { }; };
    users.groups = mkOption { type = with types; attrsOf (submodule groupOptions); default = { }; };

    networking.firewall.allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
    networking.firewall.allowedUDPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
    networking.hostName = mkOption { type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$"; default = "nixos"; };

    system.extraDependencies = mkOption { type = types.listOf types.pathInStore; default = [ ]; };
    system.stateVersion = mkOption { type = types.str; };

    services.getty.autologinUser = mkOption { type = types.nullOr types.str; default = null; };

    assertions = mkOption { type = types.listOf types.unspecified; internal = true; default = [ ]; };
    warnings = mkOption { type = types.listOf types.str; internal = true; default = [ ]; };
  };

  config = {
    _module.args.utils = {
      inherit escapeSystemdExecArg;
      escapeSystemdExecArgs = lib.concatMapStringsSep " " escapeSystemdExecArg;
    };

    systemd.units =
      mapAttrs' (n: v: nameValuePair "${n}.service" (systemdLib.serviceToUnit v)) config.systemd.services
      // mapAttrs' (n: v: nameValuePair "${n}.target" (systemdLib.targetToUnit v)) config.systemd.targets;

    # users-groups.nix's assertions about each user.
    assertions = lib.concatLists (lib.mapAttrsToList (name: user: [
      {
        assertion = user.isSystemUser != user.isNormalUser;
        message = "Exactly one of users.users.${name}.isSystemUser and users.users.${name}.isNormalUser must be set.";
      }
      {
        assertion = user.group != "";
        message = "users.users.${name}.group is unset.";
      }
      {
        assertion = user.group == "" || config.users.groups ? ${user.group};
        message = "users.users.${name}.group = \"${user.group}\" is not a group in users.groups.";
      }
    ]) config.users.users);
  };
}
