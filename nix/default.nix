# nix2dream's Nix entry point.
#
#   (import ./nix).evalServices {
#     modules = [ ./services.nix ];
#     lib = nixpkgs.lib;          # optional: defaults to <nixpkgs/lib>
#     pkgs = import nixpkgs { };  # optional: the `pkgs` module argument
#   }
#
# returns the normalized deployment (docs/deployment-json.md), ready for
# `builtins.toJSON` or `nix-instantiate --eval --strict --json`.
let
  evalDeploymentModules =
    {
      modules,
      lib ? import <nixpkgs/lib>,
      pkgs ? null,
      specialArgs ? { },
    }:
    lib.evalModules {
      modules = [
        ./modules/deployment.nix
      ]
      ++ lib.optional (pkgs != null) { config._module.args.pkgs = pkgs; }
      ++ modules;
      inherit specialArgs;
    };

  # `evalServices`, plus `context`: an empty string carrying the context of
  # every store path the deployment was made from (packages, path literals,
  # config sources, a VM kernel). The flake's `lib.render` appends it to the
  # deployment JSON, so those paths (and the derivations making them) become
  # inputs of the rendering derivation. Same arguments as `evalServices`.
  evalServicesWithContext =
    args@{
      modules,
      lib ? import <nixpkgs/lib>,
      pkgs ? null,
      specialArgs ? { },
    }:
    let
      n2d = import ./lib.nix { inherit lib; };
      eval = evalDeploymentModules (args // { inherit lib; });
    in
    {
      deployment = n2d.toDeployment eval;
      context = n2d.deploymentContext eval;
    };
in
{
  # The core modules, for use in another module system evaluation.
  modules = {
    deployment = ./modules/deployment.nix;
    service = ./modules/service.nix;
  };

  # The raw `lib.evalModules` result (config, options, …), for inspection.
  inherit evalDeploymentModules;

  # The deployment JSON value. Throws "Failed assertions: …" listing every
  # failed check. (Its context, a lazy attribute, is not computed.)
  evalServices = args: (evalServicesWithContext args).deployment;

  inherit evalServicesWithContext;
}
