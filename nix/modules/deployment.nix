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

    secrets = mkOption {
      type = types.attrsOf (
        types.submodule {
          options = {
            file = mkOption {
              # A string, not a path literal: a path would be copied into
              # the world-readable Nix store.
              type = types.nullOr (types.strMatching "/.*");
              default = null;
              example = "/run/keys/db-password";
              description = "A file on the machine that runs the services, read when they start.";
            };
            environment = mkOption {
              type = types.nullOr (types.strMatching "[A-Za-z_][A-Za-z0-9_]*");
              default = null;
              example = "DB_PASSWORD";
              description = ''
                An environment variable of whoever starts the deployment
                (`honcho start`, `docker-compose up`, `run-vm`).
              '';
            };
            kubernetes = mkOption {
              type = types.nullOr (
                types.submodule {
                  options.name = mkOption {
                    type = types.str;
                    description = "The Secret's name.";
                  };
                  options.key = mkOption {
                    type = types.str;
                    description = "The key in the Secret.";
                  };
                }
              );
              default = null;
              example = {
                name = "db";
                key = "password";
              };
              description = "A key of an existing Kubernetes Secret.";
            };
          };
        }
      );
      default = { };
      example = literalExpression ''
        {
          db-password = { file = "/run/keys/db-password"; kubernetes = { name = "db"; key = "password"; }; };
        }
      '';
      description = ''
        Secrets by reference: where each value comes from when the services
        start. The value never enters the Nix store, a rendered file or an
        image. Give the sources your managers can read (a file or an
        environment variable for processes, systemd, Compose and the VM; a
        Kubernetes Secret for Kubernetes): a manager that has none of them
        refuses to render, naming the secret.
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
