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

  # Each service's dependencies that name another existing service, once.
  depsOf = builtins.mapAttrs (
    s: svc: builtins.filter (d: d != s && services ? ${d}) (builtins.attrNames svc.dependsOn)
  ) services;

  # The cycle through `s` (`[ s … s ]`), or null. The services reachable
  # from `s` are found breadth first by builtins.genericClosure (native,
  # each service once, each with the service it was reached from); the
  # path back is read from those parents. Polynomial, where the former
  # path search was exponential on a ladder of dependencies.
  cycleOf =
    s:
    let
      reached = builtins.genericClosure {
        startSet = map (d: {
          key = d;
          from = s;
        }) depsOf.${s};
        # Nothing beyond `s` itself is needed.
        operator =
          item:
          if item.key == s then
            [ ]
          else
            map (d: {
              key = d;
              from = item.key;
            }) depsOf.${item.key};
      };
      parent = builtins.listToAttrs (
        map (item: {
          name = item.key;
          value = item.from;
        }) reached
      );
      # From `n` back to `s`, as the path from `s` to `n`.
      pathTo = n: if parent.${n} == s then [ n ] else pathTo parent.${n} ++ [ n ];
    in
    if lib.any (item: item.key == s) reached then [ s ] ++ pathTo s else null;

  # Each cycle is reported once, from its first service by name.
  cycleAssertions = lib.concatMap (
    s:
    let
      c = cycleOf s;
    in
    lib.optional (c != null && lib.all (m: s <= m) c) {
      assertion = false;
      message = "services.${s}.dependsOn: dependency cycle ${lib.concatStringsSep " -> " c}; remove one of these dependencies.";
    }
  ) names;

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
  portUsers = lib.foldl' (
    acc: u: acc // { ${u.key} = (acc.${u.key} or [ ]) ++ [ u.where ]; }
  ) { } (
    lib.concatMap (
      s:
      lib.mapAttrsToList (pname: p: {
        key = "${toString p.port}/${p.protocol}";
        where = "services.${s}.ports.${lib.strings.escapeNixIdentifier pname}";
      }) services.${s}.ports
    ) names
  );

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
    ++ cycleAssertions
    ++ sharedVolumeAssertions
    ++ volumeNameAssertions
    ++ secretAssertions
    ++ portAssertions;

    warnings = lib.concatMap (s: map (n2d.locateMessage s) s.warnings) all;
  };
}
