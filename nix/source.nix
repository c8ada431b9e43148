# A copy of some top-level entries of the repository, for a derivation's
# `src`: a change elsewhere (docs/, target/) does not rebuild it. Plain
# cleanSourceWith rather than lib.fileset, which needs Nix >= 2.14 (the
# development machines have 2.8).
{ lib }:
name: entries:
let
  root = toString ../.;
in
lib.cleanSourceWith {
  inherit name;
  src = ../.;
  filter =
    path: _type:
    let
      relative = lib.removePrefix "${root}/" (toString path);
      parts = lib.splitString "/" relative;
    in
    builtins.elem (builtins.head parts) entries
    && !(builtins.elem "target" parts)
    && !(builtins.elem ".git" parts);
}
