# The core options of one service: `services.<name>`.
#
# Names follow NixOS modular services where they overlap (`process.argv`,
# `configData`). Every option here is a "core option": plugins declare which
# ones they honour, and the host warns about the others.
{
  lib,
  name,
  config,
  options,
  ...
}:
let
  inherit (lib) mkOption types literalExpression;
  n2d = import ../lib.nix { inherit lib; };

  # Path of the main program of `package`.
  mainProgram =
    pkg:
    if lib.isDerivation pkg then
      lib.getExe pkg
    else
      # A path literal: a file is the program itself; a directory is a
      # package-like tree whose program is `bin/<directory name>`.
      let
        p = "${pkg}";
        base = baseNameOf (toString pkg);
      in
      # (`builtins.readDir` of the parent: `readFileType` needs Nix 2.14.)
      if (builtins.readDir (dirOf pkg)).${base} or null == "directory" then "${p}/bin/${base}" else p;
in
{
  imports = [ ./assertions.nix ];

  options = {
    description = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "Web front end";
      description = "A short human-readable description of the service.";
    };

    package = mkOption {
      type = types.nullOr (types.either types.package n2d.pathLiteral);
      default = null;
      example = literalExpression "pkgs.nginx";
      description = ''
        The package providing the service: a derivation, a store path, or a
        path literal (copied to the Nix store). When set, `process.argv`
        defaults to its main program (`lib.getExe package`; for a path
        literal, the file itself or `<dir>/bin/<dir name>`), and the package
        is a closure root.
      '';
    };

    process.argv = mkOption {
      type = types.listOf n2d.stringOrStorePath;
      example = literalExpression ''[ (lib.getExe pkgs.redis) "--port" "6379" ]'';
      defaultText = literalExpression "[ (lib.getExe config.package) ] # when package is set";
      description = ''
        Command filename and arguments starting the service (the NixOS
        modular services option). A raw command line without shell
        escaping: the first element is the program, looked up on `PATH` if
        it has no `/`. Packages and path literals become store paths.
        Required unless `package` is set.
      '';
    };

    env = mkOption {
      type = types.attrsOf n2d.envValue;
      default = { };
      example = literalExpression ''
        {
          PORT = 8080;
          DEBUG = false;
          CONFIG = ./app.toml;
        }
      '';
      description = ''
        Environment variables. Integers become decimal strings, booleans
        `true`/`false`, paths are copied to the Nix store and packages give
        their store path.
      '';
    };

    path = mkOption {
      type = types.listOf n2d.storePathOf;
      default = [ ];
      example = literalExpression "[ pkgs.coreutils pkgs.curl ]";
      description = ''
        Packages (or directories) whose `bin/` is put on the service's
        `PATH`. Each becomes a closure root when it is a store path.
      '';
    };

    workingDirectory = mkOption {
      type = types.nullOr n2d.hostPath;
      default = null;
      example = "/var/lib/web";
      description = ''
        Absolute path of the working directory of the process. A path
        literal is used as it is (not copied to the store).
      '';
    };

    preStart = mkOption {
      type = types.nullOr types.lines;
      default = null;
      example = ''
        mkdir -p cache
      '';
      description = ''
        Shell script run (by `sh`, in the working directory, with `env` set)
        before the process starts; the service does not start if it fails.
      '';
    };

    configData = mkOption {
      type = types.attrsOf (
        types.submodule (
          { name, ... }:
          {
            options = {
              enable = mkOption {
                type = types.bool;
                default = true;
                description = "Whether this configuration file is provided.";
              };
              name = mkOption {
                type = types.str;
                default = name;
                defaultText = literalExpression "<name>";
                description = "Name of the file (NixOS modular services' `configData.<name>.name`); defaults to the entry's name.";
              };
              path = mkOption {
                type = n2d.hostPath;
                default = name;
                defaultText = literalExpression "<name>";
                description = ''
                  Where the file is placed: an absolute path, or a path relative
                  to the service's working directory. Defaults to the entry's
                  name.
                '';
              };
              text = mkOption {
                type = types.nullOr types.lines;
                default = null;
                description = "Content of the file. Exactly one of `text` and `source` must be set.";
              };
              source = mkOption {
                type = types.nullOr n2d.stringOrStorePath;
                default = null;
                description = ''
                  File whose content is used: a path literal (copied to the
                  Nix store) or a package. Exactly one of `text` and `source`
                  must be set.
                '';
              };
            };
          }
        )
      );
      default = { };
      example = literalExpression ''
        {
          "server.conf".text = '''
            port = 8080
          ''';
          "ssl/cert.pem".source = ./cert.pem;
        }
      '';
      description = ''
        Configuration files the service reads, by name (the vocabulary of
        NixOS modular services' `configData`). Sources are closure roots.
      '';
    };

    volumes = mkOption {
      type = types.attrsOf (
        types.submodule {
          options = {
            path = mkOption {
              type = n2d.hostPath;
              example = "/var/lib/db";
              description = "Absolute path where the volume is mounted (or created) for the service.";
            };
            persistent = mkOption {
              type = types.bool;
              default = true;
              description = ''
                Whether the data outlives the service (kept across restarts
                and redeployments); `false` is scratch space.
              '';
            };
            shared = mkOption {
              type = types.nullOr types.str;
              default = null;
              example = "uploads";
              description = ''
                Mount the deployment's volume of this name (top-level
                `volumes.<name>`) instead of one of the service's own: every
                service that mounts it sees the same data, and may write it.
              '';
            };
            hostPath = mkOption {
              type = types.nullOr n2d.hostPath;
              default = null;
              example = "/srv/media";
              description = ''
                Mount this directory of the machine that runs the services
                (a bind mount) instead of a volume.
              '';
            };
            readOnly = mkOption {
              type = types.bool;
              default = false;
              description = "Mount it read-only.";
            };
          };
        }
      );
      default = { };
      example = literalExpression ''
        {
          data.path = "/var/lib/queue";
          cache = { path = "/var/cache/queue"; persistent = false; };
        }
      '';
      description = "Named state directories of the service.";
    };

    ports = mkOption {
      type = types.attrsOf (
        types.submodule (port: {
          config.address = "${port.config.host}:${toString port.config.port}";
          options = {
            port = mkOption {
              type = types.ints.between 1 65535;
              example = 8080;
              description = "Port number the service listens on.";
            };
            protocol = mkOption {
              type = types.enum [
                "tcp"
                "udp"
              ];
              default = "tcp";
              description = "Transport protocol.";
            };
            internal = mkOption {
              type = types.bool;
              default = false;
              description = ''
                Reachable by the other services of the deployment only: the
                manager does not publish it on the host (e.g. a database).
              '';
            };
            hostPort = mkOption {
              type = types.nullOr (types.ints.between 1 65535);
              default = null;
              example = 18080;
              description = ''
                The port the host publishes it on, when not `port` itself (the
                service still listens on `port`; other services still use `port`).
              '';
            };
            host = mkOption {
              type = types.str;
              readOnly = true;
              default = n2d.hostReference config._nix2dream.flatName;
              defaultText = literalExpression ''"<this service's address>"'';
              description = ''
                Read-only: how other services reach this one, for their `env`,
                `process.argv` or config text (e.g.
                `BACKEND = config.services.backend.ports.http.address`). Each
                manager writes its own: `127.0.0.1` where the services run on
                one machine (Procfile, systemd, VM), the service's name under
                Compose and Kubernetes. A typo in a service or port name is an
                evaluation error.
              '';
            };
            address = mkOption {
              type = types.str;
              readOnly = true;
              defaultText = literalExpression ''"''${host}:''${toString port}"'';
              description = "Read-only: `host:port` of this port, as other services reach it (see `host`).";
            };
          };
        })
      );
      default = { };
      example = literalExpression ''
        {
          http.port = 8080;
          dns = { port = 5353; protocol = "udp"; };
        }
      '';
      description = ''
        Named ports the service listens on. Two services may not use the same
        port number and protocol, nor publish the same host port.
      '';
    };

    user = mkOption {
      type = types.nullOr (types.passwdEntry types.str);
      default = null;
      example = "web";
      description = "User to run the service as; `null` leaves it to the manager.";
    };

    group = mkOption {
      type = types.nullOr (types.passwdEntry types.str);
      default = null;
      example = "web";
      description = "Group to run the service as; `null` leaves it to the manager.";
    };

    dependsOn = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.condition = mkOption {
            type = types.enum [
              "started"
              "healthy"
              "completed"
            ];
            default = "started";
            description = ''
              When the dependency counts as ready: once `started`, once
              `healthy` (the dependency must then have a `healthcheck`), or
              once `completed` successfully (the dependency must be a
              `oneShot` service that exited 0).
            '';
          };
        }
      );
      default = { };
      example = literalExpression ''
        {
          db.condition = "healthy";
          cache = { };
        }
      '';
      description = ''
        Services (of this deployment) that must be ready before this one
        starts, by name. No service may depend on itself, and dependencies may
        not form a cycle.
      '';
    };

    healthcheck = mkOption {
      type = types.nullOr (
        types.submodule {
          options = {
            command = mkOption {
              type = types.nullOr (types.listOf n2d.stringOrStorePath);
              default = null;
              example = [
                "pg_isready"
                "-q"
              ];
              description = "Command (argv) whose exit status 0 means healthy. Exactly one of `command` and `http`.";
            };
            http = mkOption {
              type = types.nullOr (
                types.submodule {
                  options = {
                    port = mkOption {
                      type = types.ints.between 1 65535;
                      example = 8080;
                      description = "Port to query (on the service's own host).";
                    };
                    path = mkOption {
                      type = types.strMatching "/.*";
                      default = "/";
                      example = "/healthz";
                      description = "HTTP path to `GET`; a 2xx or 3xx answer means healthy.";
                    };
                  };
                }
              );
              default = null;
              example = {
                port = 8080;
                path = "/healthz";
              };
              description = "HTTP check. Exactly one of `command` and `http`.";
            };
            interval = mkOption {
              type = types.ints.positive;
              default = 10;
              description = "Seconds between two checks.";
            };
            timeout = mkOption {
              type = types.ints.positive;
              default = 5;
              description = "Seconds after which one check counts as failed.";
            };
            retries = mkOption {
              type = types.ints.unsigned;
              default = 3;
              description = "Consecutive failures after which the service is unhealthy.";
            };
            startPeriod = mkOption {
              type = types.ints.unsigned;
              default = 0;
              description = "Seconds after start during which failures do not count.";
            };
          };
        }
      );
      default = null;
      example = literalExpression ''
        {
          http = { port = 8080; path = "/healthz"; };
          interval = 5;
        }
      '';
      description = "How to tell whether the service is healthy; `null` for no check.";
    };

    restart = mkOption {
      type = types.enum [
        "no"
        "on-failure"
        "always"
      ];
      default = "on-failure";
      description = "When the manager restarts the process after it exits.";
    };

    resources = mkOption {
      type = types.submodule {
        options = {
          cpus = mkOption {
            type = types.nullOr types.numbers.positive;
            default = null;
            example = 0.5;
            description = "CPU limit, in CPUs (may be fractional); `null` for none.";
          };
          memoryMiB = mkOption {
            type = types.nullOr types.ints.positive;
            default = null;
            example = 512;
            description = "Memory limit in MiB; `null` for none.";
          };
        };
      };
      default = { };
      example = {
        cpus = 0.5;
        memoryMiB = 256;
      };
      description = "Resource limits of one replica.";
    };

    replicas = mkOption {
      # Bounded like the host's check (deployment/validate.rs, MAX_REPLICAS).
      type = types.ints.between 1 10000;
      default = 1;
      example = 3;
      description = "How many identical instances of the process to run.";
    };

    oneShot = mkOption {
      type = types.bool;
      default = false;
      example = true;
      description = ''
        The process runs to completion (a migration, a seed) instead of
        serving: exit status 0 is success, after which it is not restarted
        and the services that depend on it with `condition = "completed"`
        start; a failure follows `restart`.
      '';
    };

    stopSignal = mkOption {
      type = types.nullOr (types.enum n2d.stopSignals);
      default = null;
      example = "SIGINT";
      description = "Signal that asks the process to stop; `null` leaves the manager's default (SIGTERM).";
    };

    stopTimeout = mkOption {
      type = types.nullOr types.ints.positive;
      default = null;
      example = 30;
      description = ''
        Seconds the process gets to stop after the stop signal before it is
        killed; `null` leaves the manager's default.
      '';
    };

    secrets = mkOption {
      type = types.attrsOf (
        types.submodule (
          { name, ... }:
          {
            options = {
              path = mkOption {
                type = types.nullOr (types.strMatching "/.*");
                default = null;
                example = "/run/secrets/db-password";
                description = "Give it as a file at this absolute path, readable by the service only.";
              };
              env = mkOption {
                type = types.nullOr (types.strMatching "[A-Za-z_][A-Za-z0-9_]*");
                default = null;
                example = "DB_PASSWORD";
                description = "Give it as this environment variable.";
              };
            };
          }
        )
      );
      default = { };
      example = literalExpression ''
        {
          db-password.env = "PGPASSWORD";
          tls-key.path = "/run/secrets/tls.key";
        }
      '';
      description = ''
        The deployment's secrets (top-level `secrets`, by name) this service
        gets, each as a file (`path`) or an environment variable (`env`):
        exactly one of them.
      '';
    };

    managers = mkOption {
      type = types.attrsOf n2d.jsonValue;
      default = { };
      example = literalExpression ''
        {
          compose.labels."traefik.enable" = "true";
          systemd.serviceConfig.Nice = 5;
        }
      '';
      description = ''
        Settings for one plugin, by plugin name. Free-form JSON, passed to that
        plugin as the service's `settings-json`; the plugin documents what it
        accepts.
      '';
    };

    ignoreUnsupported = mkOption {
      type = types.listOf (types.enum n2d.coreOptionNames);
      default = [ ];
      example = [ "healthcheck" ];
      description = ''
        Core options of this service not to warn about when the chosen
        manager cannot honour them.
      '';
    };

    services = mkOption {
      type = types.attrsOf (
        types.submoduleWith {
          class = "service";
          modules = [
            ./service.nix
            (
              { name, ... }:
              {
                _nix2dream.location = "${config._nix2dream.location}.services.${name}";
                _nix2dream.flatName = "${config._nix2dream.flatName}-${name}";
              }
            )
          ];
        }
      );
      default = { };
      # Documented once: its options are this service's own.
      visible = "shallow";
      example = literalExpression ''
        {
          exporter.process.argv = [ (lib.getExe pkgs.prometheus-node-exporter) ];
        }
      '';
      description = ''
        Sub-services, as in NixOS modular services: services that belong to
        this one (e.g. a helper a service module brings along). Each is a
        service of the deployment named `<this service>-<sub-service>`; other
        services refer to it by that name in `dependsOn`.
      '';
    };

    meta.maintainers = mkOption {
      type = types.listOf types.raw;
      default = [ ];
      internal = true;
      description = "Maintainers of a service module (accepted from NixOS modular services; not used).";
    };

    _nix2dream.location = mkOption {
      type = types.str;
      default = "services.${name}";
      internal = true;
      visible = false;
      description = "Where this service is defined, for messages (`services.a.services.b`).";
    };

    _nix2dream.flatName = mkOption {
      type = types.str;
      default = name;
      internal = true;
      visible = false;
      description = "The service's name in the deployment (`a-b` for sub-service `b` of `a`).";
    };

    _nix2dream.optionsSet = mkOption {
      type = types.listOf types.str;
      internal = true;
      visible = false;
      readOnly = true;
      description = "The core options the user defined (computed).";
    };
  };

  config = {
    process.argv = lib.mkIf (config.package != null) (
      lib.mkOptionDefault [ (mainProgram config.package) ]
    );

    _nix2dream.optionsSet =
      let
        ports = builtins.attrValues config.ports;
        volumes = builtins.attrValues config.volumes;
      in
      builtins.filter (
        opt:
        # Sub-options of each port: set when any port sets them.
        if opt == "ports.internal" then
          lib.any (p: p.internal) ports
        else if opt == "ports.hostPort" then
          lib.any (p: p.hostPort != null) ports
        else if opt == "volumes.shared" then
          lib.any (v: v.shared != null) volumes
        else if opt == "volumes.hostPath" then
          lib.any (v: v.hostPath != null) volumes
        else if opt == "volumes.readOnly" then
          lib.any (v: v.readOnly) volumes
        else
          n2d.isUserSet (lib.getAttrFromPath (lib.splitString "." opt) options)
      ) n2d.coreOptionNames;

    assertions =
      let
        at = config._nix2dream.location;
        flatName = config._nix2dream.flatName;
        argvDefined = options.process.argv.isDefined;
        argv = config.process.argv;
        hc = config.healthcheck;
      in
      [
        {
          assertion = n2d.isValidName flatName;
          message = "${at}: invalid service name \"${flatName}\"; use lower-case letters, digits and `-`, starting with a letter or digit.";
        }
        {
          assertion = argvDefined;
          message = "${at}.process.argv: no command to run; set `process.argv` (or `package`, whose main program is the default).";
        }
        {
          assertion = !argvDefined || argv != [ ];
          message = "${at}.process.argv: must not be empty${n2d.definedIn options.process.argv}.";
        }
        {
          assertion = !argvDefined || argv == [ ] || builtins.head argv != "";
          message = "${at}.process.argv: the program (first element) must not be an empty string${n2d.definedIn options.process.argv}.";
        }
        {
          assertion = config.workingDirectory == null || lib.hasPrefix "/" config.workingDirectory;
          message = "${at}.workingDirectory: \"${toString config.workingDirectory}\" is not an absolute path${n2d.definedIn options.workingDirectory}.";
        }
      ]
      ++ lib.mapAttrsToList (vname: v: {
        assertion = lib.hasPrefix "/" v.path;
        message = "${at}.volumes.${lib.strings.escapeNixIdentifier vname}.path: \"${v.path}\" is not an absolute path${n2d.definedIn options.volumes}.";
      }) config.volumes
      ++ lib.mapAttrsToList (vname: v: {
        assertion = v.shared == null || v.hostPath == null;
        message = "${at}.volumes.${lib.strings.escapeNixIdentifier vname}: set at most one of `shared` and `hostPath`${n2d.definedIn options.volumes}.";
      }) config.volumes
      ++ lib.mapAttrsToList (vname: v: {
        assertion = v.persistent || (v.shared == null && v.hostPath == null);
        message = "${at}.volumes.${lib.strings.escapeNixIdentifier vname}: a shared volume or a host path keeps its data: `persistent = false` does not apply${n2d.definedIn options.volumes}.";
      }) config.volumes
      ++ lib.mapAttrsToList (vname: v: {
        assertion = v.hostPath == null || lib.hasPrefix "/" v.hostPath;
        message = "${at}.volumes.${lib.strings.escapeNixIdentifier vname}.hostPath: \"${toString v.hostPath}\" is not an absolute path${n2d.definedIn options.volumes}.";
      }) config.volumes
      ++ lib.mapAttrsToList (sname: sec: {
        assertion = (sec.path == null) != (sec.env == null);
        message = "${at}.secrets.${lib.strings.escapeNixIdentifier sname}: set exactly one of `path` and `env`${n2d.definedIn options.secrets}.";
      }) config.secrets
      ++ lib.mapAttrsToList (cname: c: {
        assertion = (c.text == null) != (c.source == null);
        message =
          "${at}.configData.${lib.strings.escapeNixIdentifier cname}: set exactly one of `text` and `source` (${
            if c.text == null then "neither is" else "both are"
          } set)${n2d.definedIn options.configData}.";
      }) config.configData
      ++ lib.optionals (hc != null) [
        {
          assertion = (hc.command == null) != (hc.http == null);
          message = "${at}.healthcheck: set exactly one of `command` and `http` (${
            if hc.command == null then "neither is" else "both are"
          } set)${n2d.definedIn options.healthcheck}.";
        }
        {
          assertion = hc.command != [ ];
          message = "${at}.healthcheck.command: must not be empty${n2d.definedIn options.healthcheck}.";
        }
      ];
  };
}
