# Helpers shared by the nix2dream core modules and `evalServices`.
# Pure functions of nixpkgs' `lib`; nothing here needs the rest of nixpkgs.
{ lib }:
let
  inherit (lib) types;
in
rec {
  # The core option names: what `optionsSet`, `ignoreUnsupported`,
  # `--allow-unsupported` and a plugin's `supported-options` speak of.
  # Keep in sync with docs/deployment-json.md.
  coreOptionNames = [
    "description"
    "package"
    "process.argv"
    "env"
    "path"
    "workingDirectory"
    "preStart"
    "configData"
    "volumes"
    "volumes.shared"
    "volumes.hostPath"
    "volumes.readOnly"
    "ports"
    "ports.internal"
    "ports.hostPort"
    "user"
    "group"
    "dependsOn"
    "healthcheck"
    "restart"
    "resources"
    "replicas"
    "oneShot"
    "stopSignal"
    "stopTimeout"
    "secrets"
  ];

  # Signals a service may ask to be stopped with (`stopSignal`).
  stopSignals = [
    "SIGTERM"
    "SIGINT"
    "SIGQUIT"
    "SIGHUP"
    "SIGUSR1"
    "SIGUSR2"
    "SIGWINCH"
  ];

  # The address of another service, as written into `env`, `process.argv`
  # and config text (`config.services.<name>.ports.<port>.host`): each
  # plugin's host resolves it to what the manager uses (127.0.0.1 for
  # processes on one machine, the service name under Compose and
  # Kubernetes). See docs/deployment-json.md.
  hostReference = service: "@@nix2dream:host:${service}@@";

  # Deployment and service names.
  namePattern = "[a-z0-9][a-z0-9-]*";
  isValidName = n: builtins.match namePattern n != null;

  # The priority of an option's own `default` (mkOptionDefault). A definition
  # with a lower number comes from a module (the user's, or `mkDefault`).
  optionDefaultPriority = (lib.mkOptionDefault null).priority;

  # Whether the user defined this option: an option's declared default, or a
  # `mkOptionDefault` the core modules derive (e.g. `process.argv` from
  # `package`), does not count.
  isUserSet = opt: opt.isDefined && opt.highestPrio < optionDefaultPriority;

  # Where an option was defined, for error messages.
  definedIn =
    opt:
    let
      files = lib.unique (map toString (opt.files or [ ]));
    in
    if files == [ ] then "" else " (defined in ${lib.concatMapStringsSep ", " (f: "`${f}'") files})";

  # ---------------------------------------------------------------- types

  # A path literal (not a string): `./file`, `/etc/foo`.
  pathLiteral = types.addCheck types.path builtins.isPath // {
    description = "path literal";
  };

  # A string, or a path literal kept as it is (not copied to the store):
  # for locations on the target machine (volumes, working directory).
  hostPath = types.coercedTo pathLiteral toString types.str // {
    description = "path on the target machine (string, or path literal used as is)";
  };

  # A string, or a package / path literal interpolated into one (a path
  # literal is copied to the Nix store, a package gives its output path).
  stringOrStorePath = types.coercedTo (types.either types.package pathLiteral) (
    x: "${x}"
  ) types.str // {
    description = "string (a package or path literal becomes its store path)";
  };

  # A package or a path literal, as its store path string.
  storePathOf = types.coercedTo (types.either types.package pathLiteral) (x: "${x}") (
    types.strMatching "/.*"
  ) // {
    description = "package, path literal or absolute path string";
  };

  # Environment variable values: strings, or ints, bools, paths and packages
  # converted to strings (`true`/`false` for bools; paths are copied to the
  # store, packages give their output path).
  envValue = types.coercedTo (types.oneOf [
    types.bool
    types.int
    types.package
    pathLiteral
  ]) envToString types.str // {
    description = "string, or integer, boolean, path or package converted to one";
  };

  envToString =
    v:
    if builtins.isBool v then
      lib.boolToString v
    else if builtins.isInt v then
      toString v
    else
      "${v}";

  # Free-form JSON values (plugin settings). Paths become store paths, as in
  # `builtins.toJSON`.
  jsonValue = types.json or types.anything;

  # ---------------------------------------------------------------- services

  # Every service with its sub-services (NixOS modular services' nested
  # `services`), depth first.
  serviceList =
    services: lib.concatMap (s: [ s ] ++ serviceList s.services) (builtins.attrValues services);

  # The deployment's services by name: sub-service `b` of `a` is `a-b`.
  flattenServices =
    services:
    builtins.listToAttrs (
      map (s: {
        name = s._nix2dream.flatName;
        value = s;
      }) (serviceList services)
    );

  # A service's assertion or warning, prefixed with where the service is
  # defined unless it names it already (an imported service module's
  # messages do not know the service's name).
  locateMessage =
    s: msg:
    let
      at = s._nix2dream.location;
    in
    if lib.hasPrefix at msg then msg else "${at}: ${msg}";

  # ---------------------------------------------------------------- output

  # Turn a value into plain JSON data: strings lose their context, paths and
  # derivations become their store path strings.
  toPlain =
    loc: v:
    if builtins.isString v then
      builtins.unsafeDiscardStringContext v
    else if builtins.isPath v || lib.isDerivation v then
      builtins.unsafeDiscardStringContext "${v}"
    else if builtins.isAttrs v then
      builtins.mapAttrs (n: toPlain "${loc}.${n}") v
    else if builtins.isList v then
      lib.imap0 (i: toPlain "${loc}[${toString i}]") v
    else if builtins.isFunction v then
      throw "${loc}: a function cannot be written to the deployment JSON"
    else
      v;

  # All strings inside a value (attrsets and lists walked).
  stringsIn =
    v:
    if builtins.isString v then
      [ v ]
    else if builtins.isAttrs v then
      lib.concatMap stringsIn (builtins.attrValues v)
    else if builtins.isList v then
      lib.concatMap stringsIn v
    else
      [ ];

  storePathRegex = "(${lib.escapeRegex builtins.storeDir}/[0-9a-z]{32}-[-.+_?=0-9a-zA-Z]+)";

  # Store paths spelled out in a string: `/nix/store/…-hello-2.12/bin/hello`
  # gives `/nix/store/…-hello-2.12`.
  storePathsSpelledIn =
    s:
    map builtins.head (
      builtins.filter builtins.isList (
        builtins.split storePathRegex (builtins.unsafeDiscardStringContext s)
      )
    );

  # Store paths a string depends on, by its context: plain store paths (from
  # path literals) directly, derivation outputs by finding them in the text.
  # A string without context (a literal written by hand) gives none.
  storePathsOfContext =
    s:
    let
      ctx = builtins.getContext s;
      direct = builtins.filter (p: ctx.${p}.path or false) (builtins.attrNames ctx);
    in
    if ctx == { } then [ ] else direct ++ storePathsSpelledIn s;

  # The deployment JSON's service object, from an evaluated service.
  normalizeService =
    deploymentEnv: name: s:
    toPlain "services.${name}" (rawService deploymentEnv name s);

  # A service's object before its strings lose their context.
  rawService =
    # `deploymentEnv`: the deployment-wide `env`, under the service's own.
    deploymentEnv: name: s:
    let
      configData = lib.filterAttrs (_: c: c.enable) s.configData;
      raw = {
        inherit (s)
          description
          preStart
          user
          group
          restart
          replicas
          oneShot
          stopSignal
          stopTimeout
          ;
        package = if s.package == null then null else "${s.package}";
        process.argv = s.process.argv;
        env = deploymentEnv // s.env;
        path = s.path;
        workingDirectory = s.workingDirectory;
        configData = builtins.mapAttrs (
          _: c: { inherit (c) path; } // (if c.text != null then { inherit (c) text; } else { inherit (c) source; })
        ) configData;
        volumes = builtins.mapAttrs (_: v: {
          inherit (v)
            path
            persistent
            shared
            hostPath
            readOnly
            ;
        }) s.volumes;
        ports = builtins.mapAttrs (_: p: { inherit (p) port protocol internal hostPort; }) s.ports;
        dependsOn = builtins.mapAttrs (_: d: { inherit (d) condition; }) s.dependsOn;
        healthcheck =
          let
            h = s.healthcheck;
          in
          if h == null then
            null
          else
            {
              inherit (h)
                interval
                timeout
                retries
                startPeriod
                ;
            }
            // lib.optionalAttrs (h.command != null) { inherit (h) command; }
            // lib.optionalAttrs (h.http != null) { http = { inherit (h.http) port path; }; };
        resources = { inherit (s.resources) cpus memoryMiB; };
        secrets = builtins.mapAttrs (_: sec: { inherit (sec) path env; }) s.secrets;
        managers = s.managers;
        ignoreUnsupported = lib.unique s.ignoreUnsupported;
        optionsSet =
          s._nix2dream.optionsSet
          ++ lib.optional (deploymentEnv != { } && !(builtins.elem "env" s._nix2dream.optionsSet)) "env";
      };
      # Named explicitly: always roots when they are store paths.
      explicitRoots = builtins.filter lib.isStorePath (
        map builtins.unsafeDiscardStringContext (
          lib.optional (raw.package != null) raw.package
          ++ lib.concatMap storePathsSpelledIn raw.path
          ++ lib.concatMap (c: lib.optionals (c ? source) (storePathsSpelledIn c.source)) (
            builtins.attrValues raw.configData
          )
        )
      );
      # Everything else: whatever a string's context says it needs.
      contextRoots = lib.concatMap storePathsOfContext (stringsIn raw);
      closureRoots = lib.sort builtins.lessThan (lib.unique (explicitRoots ++ contextRoots));
    in
    raw // { inherit closureRoots; };

  # An empty string carrying the context of every string, path and
  # derivation in a value: what a derivation that renders the deployment
  # (the flake's lib.render) must have as inputs, since the deployment
  # itself (toPlain) carries none. Paths are added to the store as toPlain
  # adds them (same store path).
  contextCarrier =
    v:
    if builtins.isString v then
      builtins.substring 0 0 v
    else if builtins.isPath v || lib.isDerivation v then
      builtins.substring 0 0 "${v}"
    else if builtins.isAttrs v then
      lib.concatMapStrings contextCarrier (builtins.attrValues v)
    else if builtins.isList v then
      lib.concatMapStrings contextCarrier v
    else
      "";

  # The context of everything the deployment of `eval` was made from (its
  # services, the deployment-wide env and its settings, e.g. a VM kernel).
  deploymentContext =
    eval:
    let
      cfg = eval.config;
    in
    contextCarrier [
      (builtins.mapAttrs (rawService cfg.env) (flattenServices cfg.services))
      cfg.settings
    ];

  # The deployment JSON, from `lib.evalModules`' result. Throws when an
  # assertion fails, listing every failed one (like NixOS).
  toDeployment =
    eval:
    let
      cfg = eval.config;
      failed = map (a: a.message) (builtins.filter (a: !a.assertion) cfg.assertions);
      deployment = {
        schema = "nix2dream/v1";
        inherit (cfg) name;
        volumes = builtins.mapAttrs (_: v: { inherit (v) description; }) cfg.volumes;
        secrets = builtins.mapAttrs (_: sec: {
          inherit (sec) file environment;
          kubernetes = if sec.kubernetes == null then null else { inherit (sec.kubernetes) name key; };
        }) cfg.secrets;
        settings = toPlain "settings" cfg.settings;
        ignoreUnsupported = lib.unique cfg.ignoreUnsupported;
        services = builtins.mapAttrs (normalizeService cfg.env) (flattenServices cfg.services);
      };
      showWarnings = lib.foldr (w: x: builtins.trace "warning: ${w}" x);
    in
    if failed != [ ] then
      throw "\nFailed assertions:\n${lib.concatMapStringsSep "\n" (m: "- ${m}") failed}"
    else
      showWarnings deployment cfg.warnings;
}
