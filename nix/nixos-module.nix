# The flake's nixosModules.default: deployments declared in a NixOS
# configuration, run as NixOS services.
#
#   imports = [ nix2dream.nixosModules.default ];
#   nix2dream.deployments.shop.modules = [ ./services.nix ];
#
# One semantics, not two: each deployment is rendered by the bundled `nixos`
# plugin (lib.render, plugins = [ "nixos" ]), and the `module.nix` it writes
# — the same file `nix2dream render --plugin nixos` gives users of the CLI —
# is applied to this system. The units are `<deployment>-<service>`,
# `<deployment>.target` is wanted by multi-user.target, accounts are system
# users; override them the NixOS way
# (systemd.services.shop-web.serviceConfig.MemoryMax = lib.mkForce "1G").
#
# Rendering is a derivation whose output is imported here: import from
# derivation (IFD). Evaluating the system builds nix2dream and renders the
# deployment first; where IFD is disabled (allow-import-from-derivation =
# false, Hydra), render it beforehand and give the directory as
# `nix2dream.deployments.<name>.rendered`.
{
  config,
  lib,
  pkgs,
  ...
}@moduleArgs:
let
  inherit (lib) mkOption types;
  cfg = config.nix2dream;
  n2d = import ./default.nix;
  renderLib = import ./render.nix { inherit lib; };

  # What the nixos plugin's module.nix sets (plugins/nixos/src/module.rs).
  # They are merged option by option below: a top-level `config = mkMerge
  # (… cfg.deployments …)` would make every option depend on
  # nix2dream.deployments (infinite recursion).
  knownTopLevel = [
    "systemd"
    "users"
    "networking"
    "system"
  ];

  deploymentModule =
    { name, config, ... }:
    let
      # The deployment's name is the attribute's, unless its modules set one.
      modules = [ { name = lib.mkDefault name; } ] ++ config.modules;
    in
    {
      options = {
        modules = mkOption {
          type = types.listOf types.deferredModule;
          default = [ ];
          example = lib.literalExpression "[ ./services.nix ]";
          description = ''
            The deployment's modules (a services.nix and any others), as
            given to `nix2dream eval`/`render`. Modules may use `pkgs`: this
            system's.
          '';
        };
        strict = mkOption {
          type = types.bool;
          default = false;
          description = "Render with `--strict`: an unsupported option or a plugin warning fails the build.";
        };
        allowUnsupported = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [ "healthcheck" ];
          description = "Core options the nixos plugin may ignore without a warning (`--allow-unsupported`).";
        };
        deployment = mkOption {
          type = types.unspecified;
          readOnly = true;
          description = "The evaluated deployment (the `nix2dream/v1` JSON document), for inspection.";
        };
        rendered = mkOption {
          type = types.either types.path types.package;
          description = ''
            The nixos plugin's output for this deployment: a directory with
            `module.nix`. By default a derivation (the flake's
            `lib.render`); set it to a directory rendered beforehand to
            avoid import from derivation.
          '';
          defaultText = lib.literalMD "`lib.render { modules; plugins = [ \"nixos\" ]; … }`";
        };
      };
      config = {
        deployment = n2d.evalServices {
          inherit lib;
          # `pkgs` as a module argument: only forced if a module uses it.
          modules = [ { config._module.args.pkgs = pkgs; } ] ++ modules;
        };
        rendered = lib.mkOptionDefault (
          renderLib.render {
            inherit pkgs modules;
            inherit (config) strict allowUnsupported;
            package = cfg.package;
            plugins = [ "nixos" ];
          }
        );
      };
    };

  # A module function called as the module system would: with the
  # arguments it names (module.nix takes `utils`, NixOS's).
  apply =
    f:
    if builtins.isFunction f then
      f (
        moduleArgs
        // builtins.mapAttrs (n: _: moduleArgs.${n} or config._module.args.${n}) (
          lib.filterAttrs (n: optional: !optional || moduleArgs ? ${n} || config._module.args ? ${n}) (
            builtins.functionArgs f
          )
        )
      )
    else
      f;

  # Each deployment's module.nix, applied to this module's arguments.
  rendered = lib.mapAttrsToList (
    name: d:
    let
      module = apply (import "${d.rendered}/module.nix");
    in
    {
      inherit name module;
      unknown = builtins.filter (k: !builtins.elem k knownTopLevel) (builtins.attrNames module);
    }
  ) cfg.deployments;
  part = key: lib.mkMerge (map (r: r.module.${key} or { }) rendered);
in
{
  options.nix2dream = {
    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage \"\${nix2dream}/nix/package.nix\" { }";
      description = "The nix2dream (host and bundled plugins) that renders the deployments.";
    };
    deployments = mkOption {
      type = types.attrsOf (types.submodule deploymentModule);
      default = { };
      example = lib.literalExpression "{ shop.modules = [ ./services.nix ]; }";
      description = ''
        nix2dream deployments to run on this system, by name (the
        deployment's `name` unless its modules set one). Each becomes the
        systemd services, target and accounts of the nixos plugin's
        `module.nix`.
      '';
    };
  };

  config = {
    systemd = part "systemd";
    users = part "users";
    networking = part "networking";
    system = part "system";
    assertions = map (r: {
      assertion = r.unknown == [ ];
      message = "nix2dream.deployments.${r.name}: the rendered module.nix sets ${lib.concatStringsSep ", " r.unknown}, which this NixOS module does not apply (a newer nixos plugin than this module?)";
    }) rendered;
  };
}
