# nix2dream for Nix users without flakes: the same outputs as flake.nix.
#
#   let nix2dream = import (fetchTarball "https://github.com/OWNER/nix2dream/archive/main.tar.gz") { };
#   in nix2dream.lib.render { modules = [ ./services.nix ]; plugins = [ "compose" ]; }
#
# `nixpkgs` defaults to <nixpkgs>; only its lib is read until a package,
# `lib.render` or the shell is used.
{
  nixpkgs ? <nixpkgs>,
  lib ? import (nixpkgs + "/lib"),
  pkgs ? import nixpkgs { },
}:
let
  n2d = import ./nix;
  renderLib = import ./nix/render.nix { inherit lib; };
  nix2dream = pkgs.callPackage ./nix/package.nix { };
in
{
  lib = {
    evalServices = args: n2d.evalServices ({ inherit lib; } // args);
    evalDeploymentModules = args: n2d.evalDeploymentModules ({ inherit lib; } // args);
    evalServicesWithContext = args: n2d.evalServicesWithContext ({ inherit lib; } // args);
    inherit (n2d) modules;
    # `pkgs` defaults to this file's.
    render =
      args:
      renderLib.render (
        {
          inherit pkgs;
          package = nix2dream;
        }
        // args
      );
    inherit (renderLib) renderInputs;
  };

  inherit nix2dream;
  default = nix2dream;

  # imports = [ (import ./nix2dream { }).nixosModules.default ];
  nixosModules.default = {
    imports = [ ./nix/nixos-module.nix ];
  };

  overlays.default = final: prev: { nix2dream = final.callPackage ./nix/package.nix { }; };
}
