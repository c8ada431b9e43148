# Every core option (deployment and service) as JSON, generated from the
# declarations in ./modules:
#
#   nix-instantiate --eval --strict --json nix/options-doc.nix -I nixpkgs=...
#
# A list, in declaration-tree order, of
#   { name; loc; type; description; default?; example?; readOnly; declarations; }
# where `default` and `example` are `{ _type = "literalExpression" | "literalMD"; text; }`
# (as in nixpkgs' options.json) and `declarations` are relative to the
# repository (`nix/modules/service.nix`). Internal and invisible options are
# left out; service options are named `services.<name>.<option>`.
let
  lib = import <nixpkgs/lib>;
  eval = (import ./default.nix).evalDeploymentModules {
    inherit lib;
    modules = [ ];
  };
  nixDir = toString ./.;
  relative =
    decl:
    let
      d = toString decl;
    in
    if lib.hasPrefix "${nixDir}/" d then "nix/" + lib.removePrefix "${nixDir}/" d else d;
  all = lib.optionAttrSetToDocList eval.options;
  # Internal options, and everything below one (e.g. `assertions.*.message`).
  hiddenPrefixes = map (o: o.name) (builtins.filter (o: o.internal || !o.visible) all) ++ [ "_module" ];
  isHidden = o: lib.any (p: o.name == p || lib.hasPrefix "${p}." o.name) hiddenPrefixes;
  shown = builtins.filter (o: !(isHidden o)) all;
in
map (
  o:
  {
    inherit (o)
      name
      loc
      type
      readOnly
      ;
    description = o.description or "";
    declarations = map relative o.declarations;
  }
  // lib.optionalAttrs (o ? default) { inherit (o) default; }
  // lib.optionalAttrs (o ? example) { inherit (o) example; }
) shown
