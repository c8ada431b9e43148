# `lib.render`: a deployment rendered by `nix2dream render` inside a Nix
# build. The output is the rendered directory (what `--out` would hold,
# without nix2dream's `.nix2dream/` bookkeeping), image archives included
# where a plugin asks for them.
#
#   nix2dream.lib.render {
#     pkgs = nixpkgs.legacyPackages.x86_64-linux;
#     modules = [ ./services.nix ];      # or: deployment = ./deployment.json;
#     plugins = [ "compose" ];           # bundled names, or .wasm files
#   }
#
# How it runs in the sandbox (no network, no Nix daemon):
#   - the deployment is evaluated here, at evaluation time, keeping the
#     context of its strings (`evalServicesWithContext`): every package,
#     path literal and config source becomes an input of the derivation, so
#     Nix builds them first and mounts their closures in the sandbox;
#   - the JSON is written to the store (`writeText`), whose references are
#     exactly those store paths; `exportReferencesGraph` hands the builder
#     their reference graph, and render-builder.sh answers the host's
#     `nix-store --query --requisites` from it (nix-store-from-graph.sh),
#     since a build cannot query the Nix database;
#   - the host reads the JSON, not services.nix: no nixpkgs, no Nix
#     evaluation inside the build.
#
# `renderInputs` is the part that needs only nixpkgs' lib (tests run the
# builder script outside Nix with exactly these values).
{
  lib,
  # nix/default.nix
  n2d ? import ./default.nix,
}:
let
  n2dLib = import ./lib.nix { inherit lib; };

  # A plugin: a bundled name ("compose"), or a path/derivation of a .wasm
  # component (copied to the store: an input of the build).
  pluginSpec =
    p:
    let
      s = if builtins.isString p then p else "${p}";
    in
    if s == "" || lib.hasInfix " " s || lib.hasInfix "\n" s then
      throw "nix2dream lib.render: plugin ${builtins.toJSON s} is not a plugin name or a path without spaces"
    else
      s;

  word =
    what: s:
    if s == "" || builtins.match "[^[:space:]]+" s == null then
      throw "nix2dream lib.render: ${what} ${builtins.toJSON s} must be one word (no spaces)"
    else
      s;
in
rec {
  # What the rendering derivation is made of; needs only nixpkgs' lib.
  renderInputs =
    {
      # The user's modules (like evalServices), or `deployment`:
      modules ? null,
      # an evaluated deployment (evalServices' result) or a deployment.json
      # file. Its store paths get no context from Nix: they must already
      # exist in the store (each is added with builtins.appendContext, which
      # fails on a missing one); prefer `modules`, which builds them.
      deployment ? null,
      plugins,
      # The derivation's name (default: nix2dream-<deployment name>).
      name ? null,
      # Given to the modules as `pkgs`.
      pkgs ? null,
      specialArgs ? { },
      # --strict
      strict ? false,
      # --allow-unsupported OPTION, for each
      allowUnsupported ? [ ],
      # More `nix2dream render` arguments, one word each (e.g. "--fuel" "1000000000").
      extraArgs ? [ ],
    }:
    let
      # As a module argument, lazily: `pkgs` is only forced if a module uses it.
      withPkgs = lib.optional (pkgs != null) { config._module.args.pkgs = pkgs; };
      evaluated =
        if modules != null && deployment == null then
          n2d.evalServicesWithContext {
            inherit lib specialArgs;
            modules = withPkgs ++ modules;
          }
        else if deployment != null && modules == null then
          let
            text =
              if builtins.isAttrs deployment then
                builtins.toJSON deployment
              else
                builtins.readFile deployment;
            storePaths = lib.unique (n2dLib.storePathsSpelledIn text);
          in
          {
            deployment = if builtins.isAttrs deployment then deployment else builtins.fromJSON text;
            inherit text;
            context = builtins.appendContext "" (lib.genAttrs storePaths (_: { path = true; }));
          }
        else
          throw "nix2dream lib.render: give exactly one of `modules` and `deployment`";
      deploymentName = evaluated.deployment.name;
      pluginList =
        if !builtins.isList plugins || plugins == [ ] then
          throw "nix2dream lib.render: `plugins` must be a non-empty list (e.g. [ \"compose\" ])"
        else
          map pluginSpec plugins;
      flags =
        lib.optional strict "--strict"
        ++ lib.concatMap (o: [
          "--allow-unsupported"
          (word "allowUnsupported entry" o)
        ]) allowUnsupported
        ++ map (word "extraArgs entry") extraArgs;
    in
    {
      name = if name != null then name else "nix2dream-${deploymentName}";
      inherit (evaluated) deployment;
      # The deployment JSON, carrying the context of every store path in it.
      deploymentText = (evaluated.text or (builtins.toJSON evaluated.deployment)) + evaluated.context;
      # Space-separated, as the builder script reads them.
      plugins = lib.concatStringsSep " " pluginList;
      renderFlags = lib.concatStringsSep " " flags;
    };

  # The rendering derivation. `pkgs` is required (the build's tools);
  # `package` is the nix2dream to run (default: built from this source with
  # `pkgs`).
  render =
    args@{
      pkgs,
      package ? pkgs.callPackage ./package.nix { },
      ...
    }:
    let
      inputs = renderInputs (builtins.removeAttrs args [ "package" ]);
      deploymentFile = pkgs.writeText "${inputs.name}-deployment.json" inputs.deploymentText;
    in
    pkgs.stdenvNoCC.mkDerivation {
      inherit (inputs) name plugins renderFlags;
      nix2dream = "${package}/bin/nix2dream";
      deploymentPath = deploymentFile;
      # The closure of every store path the deployment names, for the host's
      # image and VM assembly (the file "closure" in the build directory).
      exportReferencesGraph = [
        "closure"
        deploymentFile
      ];
      closureGraph = "closure";
      nixStoreFromGraph = ./nix-store-from-graph.sh;
      buildCommand = "sh ${./render-builder.sh}";
      passthru = {
        inherit (inputs) deployment;
        inherit deploymentFile package;
      };
      meta.description = "nix2dream render of deployment ${inputs.deployment.name} with ${inputs.plugins}";
    };
}
