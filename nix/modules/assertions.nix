# `assertions` and `warnings`, as in NixOS: any module (the core ones or a
# user's) may add to them. `evalServices` refuses to produce a deployment
# while an assertion fails, and lists every failed one.
{ lib, ... }:
let
  inherit (lib) mkOption types;
in
{
  options = {
    assertions = mkOption {
      # Plain attribute sets, as in NixOS: a submodule per assertion (some
      # fifteen per service) was most of the evaluation's time.
      type = types.listOf types.attrs;
      internal = true;
      default = [ ];
      example = [
        {
          assertion = false;
          message = "services.web.ports: web needs a port";
        }
      ];
      description = ''
        Checks that must hold for the deployment to be produced. Evaluation
        fails with "Failed assertions:" followed by the message of every
        failed one.
      '';
    };

    warnings = mkOption {
      type = types.listOf types.str;
      internal = true;
      default = [ ];
      description = "Messages printed (to stderr) while evaluating the deployment.";
    };
  };
}
