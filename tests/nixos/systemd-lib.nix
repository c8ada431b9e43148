# The part of NixOS's systemd library that module.nix meets, for tests on
# machines without NixOS: option declarations with NixOS's names and types
# (nixos/lib/systemd-unit-options.nix), the modules that fill unitConfig and
# PATH (nixos/lib/systemd-lib.nix: unitConfig, serviceConfig,
# stage2ServiceConfig), and the conversion to unit text (serviceToUnit,
# targetToUnit, attrsToSection). Written from nixpkgs' sources; where NixOS
# needs pkgs, the stand-in is said next to it.
{ lib }:
let
  inherit (lib) mkOption types mkIf mkMerge mkAfter optionalAttrs concatMapStrings concatStrings concatLists
    mapAttrsToList optionalString attrNames filterOverrides isList concatMap mergeEqualOption showOption elem
    optional const mapAttrs concatStringsSep replaceStrings;

  unitNameType = types.strMatching "[a-zA-Z0-9@%:_.\\-]+[.](service|socket|device|mount|automount|swap|target|path|timer|scope|slice)";

  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge = loc: defs:
      let defs' = filterOverrides defs;
      in if isList (lib.head defs').value
        then concatMap (def:
          if builtins.typeOf def.value == "list" then def.value
          else throw "The definitions for systemd unit options should be either all lists, representing repeatable options, or all non-lists, but for the option ${showOption loc}, the definitions are a mix of list and non-list ${lib.options.showDefs defs'}") defs'
        else mergeEqualOption loc defs';
  };

  assertValueOneOf = name: values: group: attr:
    optional (attr ? ${name} && !elem attr.${name} values) "Systemd ${group} field `${name}' cannot have value `${toString attr.${name}}'.";

  checkUnitConfig = group: checks: attrs:
    let
      defs = mapAttrs (const (v:
        if v._type or "" == "override" then v.content
        else if v._type or "" == "if" then v.content
        else v)) attrs;
      errors = concatMap (c: c group defs) checks;
    in if errors == [ ] then true else builtins.trace (concatStringsSep "\n" errors) false;

  checkService = checkUnitConfig "Service" [
    (assertValueOneOf "Type" [ "exec" "simple" "forking" "oneshot" "dbus" "notify" "notify-reload" "idle" ])
    (assertValueOneOf "Restart" [ "no" "on-success" "on-failure" "on-abnormal" "on-abort" "always" ])
  ];

  # Stand-in for makeJobScript, which builds `#!${bash}\nset -e\n\n${text}`
  # with pkgs.writeShellScriptBin: the same script as a store file
  # (builtins.toFile, no build needed), run by /bin/sh.
  makeJobScript = name: text:
    "/bin/sh ${builtins.toFile (replaceStrings [ "\\" "@" ] [ "-" "_" ] name) "set -e\n\n${text}"}";

  sharedOptions = {
    enable = mkOption { default = true; type = types.bool; };
    overrideStrategy = mkOption { default = "asDropinIfExists"; type = types.enum [ "asDropinIfExists" "asDropin" ]; };
    requiredBy = mkOption { default = [ ]; type = types.listOf unitNameType; };
    upheldBy = mkOption { default = [ ]; type = types.listOf unitNameType; };
    wantedBy = mkOption { default = [ ]; type = types.listOf unitNameType; };
    aliases = mkOption { default = [ ]; type = types.listOf unitNameType; };
  };

  commonUnitOptions = {
    options = sharedOptions // {
      name = mkOption { type = types.str; };
      description = mkOption { default = ""; type = types.singleLineStr; };
      documentation = mkOption { default = [ ]; type = types.listOf types.str; };
      requires = mkOption { default = [ ]; type = types.listOf unitNameType; };
      wants = mkOption { default = [ ]; type = types.listOf unitNameType; };
      upholds = mkOption { default = [ ]; type = types.listOf unitNameType; };
      after = mkOption { default = [ ]; type = types.listOf unitNameType; };
      before = mkOption { default = [ ]; type = types.listOf unitNameType; };
      bindsTo = mkOption { default = [ ]; type = types.listOf unitNameType; };
      partOf = mkOption { default = [ ]; type = types.listOf unitNameType; };
      conflicts = mkOption { default = [ ]; type = types.listOf unitNameType; };
      requisite = mkOption { default = [ ]; type = types.listOf unitNameType; };
      unitConfig = mkOption { default = { }; type = types.attrsOf unitOption; };
      onFailure = mkOption { default = [ ]; type = types.listOf unitNameType; };
      onSuccess = mkOption { default = [ ]; type = types.listOf unitNameType; };
      startLimitBurst = mkOption { type = types.int; };
      startLimitIntervalSec = mkOption { type = types.int; };
    };
  };

  stage2CommonUnitOptions = {
    imports = [ commonUnitOptions ];
    options = {
      restartTriggers = mkOption { default = [ ]; type = types.listOf types.unspecified; };
      reloadTriggers = mkOption { default = [ ]; type = types.listOf unitOption; };
    };
  };

  serviceOptions = { name, config, ... }: {
    options = {
      environment = mkOption { default = { }; type = with types; attrsOf (nullOr (oneOf [ str path package ])); };
      path = mkOption { default = [ ]; type = with types; listOf (oneOf [ package str ]); };
      serviceConfig = mkOption { default = { }; type = types.addCheck (types.attrsOf unitOption) checkService; };
      script = mkOption { type = types.lines; default = ""; };
      scriptArgs = mkOption { type = types.str; default = ""; };
      preStart = mkOption { type = types.lines; default = ""; };
      postStart = mkOption { type = types.lines; default = ""; };
      reload = mkOption { type = types.lines; default = ""; };
      preStop = mkOption { type = types.lines; default = ""; };
      postStop = mkOption { type = types.lines; default = ""; };
      enableStrictShellChecks = mkOption { type = types.bool; default = false; };
      jobScripts = mkOption { type = with types; coercedTo path lib.singleton (listOf path); internal = true; default = [ ]; };
    };
    config = mkMerge [
      (mkIf (config.preStart != "") rec {
        jobScripts = makeJobScript "${name}-pre-start" config.preStart;
        serviceConfig.ExecStartPre = [ jobScripts ];
      })
      (mkIf (config.script != "") rec {
        jobScripts = makeJobScript "${name}-start" config.script;
        serviceConfig.ExecStart = jobScripts + " " + config.scriptArgs;
      })
      (mkIf (config.postStart != "") rec {
        jobScripts = makeJobScript "${name}-post-start" config.postStart;
        serviceConfig.ExecStartPost = [ jobScripts ];
      })
    ];
  };

  stage2ServiceOptions = {
    imports = [ stage2CommonUnitOptions serviceOptions ];
    options = {
      restartIfChanged = mkOption { type = types.bool; default = true; };
      reloadIfChanged = mkOption { type = types.bool; default = false; };
      stopIfChanged = mkOption { type = types.bool; default = true; };
      startAt = mkOption { type = with types; either str (listOf str); default = [ ]; apply = v: if isList v then v else [ v ]; };
    };
  };

  # systemd-lib.nix's unitConfig: the unit options become [Unit] directives.
  unitConfig = { config, name, options, ... }: {
    config.unitConfig =
      optionalAttrs (config.requires != [ ]) { Requires = toString config.requires; }
      // optionalAttrs (config.wants != [ ]) { Wants = toString config.wants; }
      // optionalAttrs (config.upholds != [ ]) { Upholds = toString config.upholds; }
      // optionalAttrs (config.after != [ ]) { After = toString config.after; }
      // optionalAttrs (config.before != [ ]) { Before = toString config.before; }
      // optionalAttrs (config.bindsTo != [ ]) { BindsTo = toString config.bindsTo; }
      // optionalAttrs (config.partOf != [ ]) { PartOf = toString config.partOf; }
      // optionalAttrs (config.conflicts != [ ]) { Conflicts = toString config.conflicts; }
      // optionalAttrs (config.requisite != [ ]) { Requisite = toString config.requisite; }
      // optionalAttrs (config.description != "") { Description = config.description; }
      // optionalAttrs (config.documentation != [ ]) { Documentation = toString config.documentation; }
      // optionalAttrs (config.onFailure != [ ]) { OnFailure = toString config.onFailure; }
      // optionalAttrs (config.onSuccess != [ ]) { OnSuccess = toString config.onSuccess; }
      // optionalAttrs options.startLimitIntervalSec.isDefined { StartLimitIntervalSec = toString config.startLimitIntervalSec; }
      // optionalAttrs options.startLimitBurst.isDefined { StartLimitBurst = toString config.startLimitBurst; };
  };

  serviceConfig = { name, config, ... }: {
    config = {
      name = "${name}.service";
      environment.PATH = mkIf (config.path != [ ]) "${lib.makeBinPath config.path}:${lib.makeSearchPathOutput "bin" "sbin" config.path}";
    };
  };

  # stage2ServiceConfig appends NixOS's default tools to every service's
  # path: [ coreutils findutils gnugrep gnused systemd ]. Stand-in: /usr, the
  # same tools in the Debian machine the tests run the units on.
  stage2ServiceConfig = {
    imports = [ serviceConfig ];
    config.path = mkAfter [ "/usr" ];
  };

  targetConfig = { name, ... }: { config.name = "${name}.target"; };

  toOption = x: if x == true then "true" else if x == false then "false" else toString x;

  attrsToSection = as: concatStrings (concatLists (mapAttrsToList (name: value:
    map (x: ''
      ${name}=${toOption x}
    '') (if isList value then value else [ value ])) as));

  commonUnitText = def: lines: ''
    [Unit]
    ${attrsToSection def.unitConfig}
  '' + lines + optionalString (def.wantedBy != [ ]) ''

    [Install]
    WantedBy=${concatStringsSep " " def.wantedBy}
  '';
in
{
  inherit unitNameType;

  services = types.attrsOf (types.submodule [ stage2ServiceOptions unitConfig stage2ServiceConfig ]);
  targets = types.attrsOf (types.submodule [ stage2CommonUnitOptions unitConfig targetConfig ]);

  units = types.attrsOf (types.submodule {
    options = sharedOptions // {
      text = mkOption { type = types.nullOr types.str; default = null; };
    };
  });

  targetToUnit = def: {
    inherit (def) aliases wantedBy requiredBy upheldBy enable overrideStrategy;
    text = ''
      [Unit]
      ${attrsToSection def.unitConfig}
    '';
  };

  # globalEnvironment is empty here (NixOS adds LOCALE_ARCHIVE and TZDIR).
  serviceToUnit = def: {
    inherit (def) aliases wantedBy requiredBy upheldBy enable overrideStrategy;
    text = commonUnitText def (''
      [Service]
    '' + concatMapStrings (n:
      optionalString (def.environment.${n} != null) "Environment=${builtins.toJSON "${n}=${def.environment.${n}}"}\n"
    ) (attrNames def.environment)
    + optionalString (!def.restartIfChanged) ''
      X-RestartIfChanged=false
    ''
    + optionalString (!def.stopIfChanged) ''
      X-StopIfChanged=false
    ''
    + attrsToSection def.serviceConfig);
  };
}
