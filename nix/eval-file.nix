# Evaluate a user's services.nix (a module) to the deployment JSON:
#
#   nix-instantiate --eval --strict --json nix/eval-file.nix \
#     --arg file ./services.nix -I nixpkgs=/path/to/nixpkgs
#
# `file` may be a path or an absolute path string (`--argstr file /abs/x.nix`).
# Only nixpkgs' lib/ is required. When <nixpkgs> is a full nixpkgs, modules
# may also take the `pkgs` argument.
{ file }:
let
  lib = import <nixpkgs/lib>;
  path = if builtins.isPath file then file else /. + file;
  nixpkgsRoot = <nixpkgs>;
  hasPkgs = builtins.pathExists (nixpkgsRoot + "/pkgs/top-level/all-packages.nix");
  pkgs =
    if hasPkgs then
      import nixpkgsRoot { }
    else
      throw "the module argument `pkgs' is not available: the nixpkgs given (${toString nixpkgsRoot}) only has lib/. Point --nixpkgs (or NIX2DREAM_NIXPKGS, or <nixpkgs> on NIX_PATH) at a full nixpkgs checkout to use packages.";
in
(import ./default.nix).evalServices {
  inherit lib;
  modules = [
    path
    # A default: a module may give its own `pkgs` (nixpkgs with overlays,
    # or stand-ins), and then no nixpkgs beyond lib/ is needed.
    { config._module.args.pkgs = lib.mkDefault pkgs; }
  ];
}
