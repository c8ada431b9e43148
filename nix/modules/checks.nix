# Checks across services (dependencies, ports) and the collection of each
# service's own assertions and warnings into the deployment's.
{ lib, config, ... }:
let
  n2d = import ../lib.nix { inherit lib; };
  # Sub-services are services of the deployment too (named `parent-child`).
  all = n2d.serviceList config.services;
  services = n2d.flattenServices config.services;
  names = builtins.attrNames services;
  # Two definitions that flatten to one name (`a-b` and `a.services.b`).
  nameClashes = lib.filterAttrs (_: group: builtins.length group > 1) (
    lib.groupBy (s: s._nix2dream.flatName) all
  );
  known = if names == [ ] then "none" else lib.concatStringsSep ", " names;

  # Dependency cycles are found by the host (`nix2dream eval`/`render`,
  # host/src/deployment/validate.rs: linear, naming the cycle), not here:
  # the module system has no linear way to search a graph (every path walk
  # tried was quadratic on a chain of services, or exponential on a ladder),
  # and every check here must stay linear in the services.

  dependsOnAssertions = lib.concatMap (
    s:
    lib.concatMap (d: [
      {
        assertion = d != s;
        message = "services.${s}.dependsOn.${lib.strings.escapeNixIdentifier d}: a service cannot depend on itself.";
      }
      {
        assertion = d == s || services ? ${d};
        message = "services.${s}.dependsOn.${lib.strings.escapeNixIdentifier d}: there is no service \"${d}\" (services: ${known}).";
      }
      {
        assertion =
          d == s
          || !(services ? ${d})
          || services.${s}.dependsOn.${d}.condition != "healthy"
          || services.${d}.healthcheck != null;
        message = "services.${s}.dependsOn.${lib.strings.escapeNixIdentifier d}.condition: \"healthy\" needs a healthcheck on services.${d}; add `services.${d}.healthcheck` or use condition \"started\".";
      }
    ]) (builtins.attrNames services.${s}.dependsOn)
  ) names;

  # Every published port, as "port/protocol" -> [ "services.a.ports.http" … ].
  # (Grouped natively: a fold that copies the set per port is quadratic.)
  portUsers = builtins.mapAttrs (_: map (u: u.where)) (lib.groupBy (u: u.key) (
    lib.concatMap (
      s:
      lib.mapAttrsToList (pname: p: {
        key = "${toString p.port}/${p.protocol}";
        where = "services.${s}.ports.${lib.strings.escapeNixIdentifier pname}";
      }) services.${s}.ports
    ) names
  ));

  # A service's `volumes.<v>.shared` names a volume the deployment declares.
  declaredVolumes = builtins.attrNames config.volumes;
  sharedVolumeAssertions = lib.concatMap (
    s:
    lib.mapAttrsToList (vname: v: {
      assertion = v.shared == null || config.volumes ? ${v.shared};
      message = "services.${s}.volumes.${lib.strings.escapeNixIdentifier vname}.shared: the deployment has no volume \"${toString v.shared}\" (declare it as `volumes.${toString v.shared} = { };`; volumes: ${
        if declaredVolumes == [ ] then "none" else lib.concatStringsSep ", " declaredVolumes
      }).";
    }) services.${s}.volumes
  ) names;

  # A service's `secrets.<name>` names a secret the deployment declares,
  # which says where the value comes from.
  declaredSecrets = builtins.attrNames config.secrets;
  secretAssertions =
    lib.concatMap (
      s:
      map (sname: {
        assertion = config.secrets ? ${sname};
        message = "services.${s}.secrets.${lib.strings.escapeNixIdentifier sname}: the deployment has no secret \"${sname}\" (declare where it comes from in `secrets.${lib.strings.escapeNixIdentifier sname}`; secrets: ${
          if declaredSecrets == [ ] then "none" else lib.concatStringsSep ", " declaredSecrets
        }).";
      }) (builtins.attrNames services.${s}.secrets)
    ) names
    ++ lib.mapAttrsToList (sname: sec: {
      assertion = sec.file != null || sec.environment != null || sec.kubernetes != null;
      message = "secrets.${lib.strings.escapeNixIdentifier sname}: say where the value comes from: `file`, `environment` or `kubernetes` (one or more, for the managers you use).";
    }) config.secrets;

  volumeNameAssertions = map (v: {
    assertion = n2d.isValidName v;
    message = "volumes.${lib.strings.escapeNixIdentifier v}: invalid volume name; use lower-case letters, digits and `-`, starting with a letter or digit.";
  }) declaredVolumes;

  portAssertions = lib.mapAttrsToList (key: users: {
    assertion = builtins.length users == 1;
    message = "${builtins.head users}: port ${key} is also used by ${lib.concatStringsSep ", " (builtins.tail users)}; each port number and protocol may be used once.";
  }) portUsers;
in
{
  config = {
    assertions = [
      {
        assertion = names != [ ];
        message = "services: the deployment has no service; define at least one `services.<name>`.";
      }
    ]
    ++ lib.mapAttrsToList (n: group: {
      assertion = false;
      message = "services: the name \"${n}\" is given twice (${
        lib.concatMapStringsSep " and " (s: s._nix2dream.location) group
      }); sub-service `b` of `a` is named `a-b`: rename one of them.";
    }) nameClashes
    ++ lib.concatMap (s: map (a: a // { message = n2d.locateMessage s a.message; }) s.assertions) all
    ++ dependsOnAssertions
    ++ sharedVolumeAssertions
    ++ volumeNameAssertions
    ++ secretAssertions
    ++ portAssertions;

    warnings = lib.concatMap (s: map (n2d.locateMessage s) s.warnings) all;
  };
}
