# The nix2dream deployment module: a named set of services.
#
# A user's `services.nix` is a module evaluated together with this one by
# `evalServices` (../default.nix), with nixpkgs' `lib.evalModules`.
{ lib, config, ... }:
let
  inherit (lib) mkOption types literalExpression;
  n2d = import ../lib.nix { inherit lib; };
in
{
  imports = [
    ./assertions.nix
    ./checks.nix
  ];

  options = {
    name = mkOption {
      type = types.strMatching n2d.namePattern;
      example = "shop";
      description = ''
        Name of the deployment: lower-case letters, digits and `-`, starting
        with a letter or digit. Managers use it where they need a project
        name (e.g. the Compose project, a Kubernetes label).
      '';
    };

    services = mkOption {
      # A service is a module of class "service", as in NixOS modular
      # services: a definition may import modules (`imports = [ ./x.nix ]`)
      # that declare their own options, and modules written for another
      # class (e.g. a NixOS module) are refused by name.
      type = types.attrsOf (types.submoduleWith {
        class = "service";
        modules = [ ./service.nix ];
      });
      default = { };
      example = literalExpression ''
        {
          web = {
            process.argv = [ "python3" "-m" "http.server" "8080" ];
            ports.http.port = 8080;
          };
        }
      '';
      description = ''
        The services of this deployment, by name (lower-case letters, digits
        and `-`). Each is described once with the core options below and
        rendered for any service manager by its plugin.
      '';
    };

    env = mkOption {
      type = types.attrsOf n2d.envValue;
      default = { };
      example = literalExpression ''
        {
          TZ = "UTC";
          LOG_LEVEL = "info";
        }
      '';
      description = ''
        Environment variables of every service, under each service's own
        `env` (a service's value wins).
      '';
    };

    volumes = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.description = mkOption {
            type = types.nullOr types.str;
            default = null;
            description = "What the volume holds.";
          };
        }
      );
      default = { };
      example = literalExpression ''
        {
          uploads.description = "Files users uploaded";
        }
      '';
      description = ''
        Volumes several services mount (`services.<name>.volumes.<v>.shared
        = "<volume>"`): persistent, the same data for each, writable by all
        of them whatever their user (mode 1777 where the manager creates the
        directory; under Docker and Kubernetes the volume's own rules).
      '';
    };

    settings = mkOption {
      type = types.attrsOf n2d.jsonValue;
      default = { };
      example = literalExpression ''
        {
          compose.network = "shop";
        }
      '';
      description = ''
        Deployment-wide settings for one plugin, by plugin name. Free-form
        JSON; the plugin receives its own entry as `settings-json` and
        documents what it accepts.
      '';
    };

    ignoreUnsupported = mkOption {
      type = types.listOf (types.enum n2d.coreOptionNames);
      default = [ ];
      example = [
        "healthcheck"
        "resources"
      ];
      description = ''
        Core options not to warn about, for every service, when the chosen
        manager cannot honour them (see also
        `services.<name>.ignoreUnsupported`).
      '';
    };
  };
}
