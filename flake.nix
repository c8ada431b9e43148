{
  description = "nix2dream: define services once with the Nix module system, run them under any service manager";

  # No flake.lock is committed: it was written on machines that cannot reach
  # GitHub, so none could be produced honestly. `nix flake lock` makes one;
  # a flake using this one as an input locks nixpkgs in its own lock (or
  # sets `inputs.nix2dream.inputs.nixpkgs.follows = "nixpkgs"`).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      # Only nixpkgs' lib is touched outside packages/apps/devShells/checks,
      # so `lib` and `nixosModules` evaluate with a lib-only nixpkgs.
      inherit (nixpkgs) lib;
      # Linux only: the host's output handling, the VM supervisor and the
      # managers it renders for are Linux's.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      # A nixpkgs without packages (nixpkgs-lib, for users who only call
      # `lib`) gives no per-system outputs rather than failing on them.
      forAllSystems =
        f:
        if nixpkgs ? legacyPackages then
          lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system})
        else
          { };
      n2d = import ./nix;
      renderLib = import ./nix/render.nix { inherit lib; };
    in
    {
      lib = {
        # nix/default.nix with this flake's nixpkgs lib as the default `lib`.
        evalServices = args: n2d.evalServices ({ inherit lib; } // args);
        evalDeploymentModules = args: n2d.evalDeploymentModules ({ inherit lib; } // args);
        evalServicesWithContext = args: n2d.evalServicesWithContext ({ inherit lib; } // args);
        inherit (n2d) modules;
        # A derivation rendering a deployment in the build sandbox; needs
        # `pkgs`. The nix2dream it runs defaults to this flake's package for
        # pkgs' system (built with those pkgs for other systems).
        render =
          args@{ pkgs, ... }:
          renderLib.render (
            {
              package =
                self.packages.${pkgs.stdenv.hostPlatform.system}.default or (pkgs.callPackage ./nix/package.nix { });
            }
            // args
          );
        # What lib.render's derivation is made of (only nixpkgs' lib needed).
        inherit (renderLib) renderInputs;
      };

      overlays.default = final: prev: { nix2dream = final.callPackage ./nix/package.nix { }; };

      packages = forAllSystems (
        _system: pkgs:
        let
          nix2dream = pkgs.callPackage ./nix/package.nix { };
        in
        {
          default = nix2dream;
          inherit nix2dream;
          # examples/demo rendered with procfile in the sandbox: lib.render in use.
          demo-procfile = self.lib.render {
            inherit pkgs;
            modules = [ ./examples/demo/services.nix ];
            plugins = [ "procfile" ];
          };
        }
      );

      apps = forAllSystems (
        system: _pkgs: {
          default = {
            type = "app";
            program = "${self.packages.${system}.default}/bin/nix2dream";
          };
        }
      );

      # An attribute set (what `nix flake check` accepts), keeping the
      # file in error messages.
      nixosModules.default = {
        imports = [ ./nix/nixos-module.nix ];
      };

      devShells = forAllSystems (
        system: pkgs: {
          default = pkgs.mkShell {
            inputsFrom = [ self.packages.${system}.default ];
            # The toolchain comes with the package (rustc with the wasm32
            # target, cargo, lld, glibc.static); these are the validators
            # the tests drive (what scripts/install-deps.sh installs on
            # Debian). Some are looked up leniently: where this nixpkgs
            # lacks one, `pip install` it as install-deps.sh does.
            packages =
              (with pkgs; [
                clippy
                rustfmt
                nix
                shellcheck
                skopeo
                umoci
                runc
                docker-compose
                podman
                qemu
                busybox
              ])
              ++ lib.filter (p: p != null) [
                (pkgs.honcho or null)
                (pkgs.check-jsonschema or null)
                (pkgs.python3Packages.kubernetes-validate or null)
              ];
            # The tests find nixpkgs here (only its lib/ is needed).
            NIX2DREAM_NIXPKGS = "${nixpkgs}";
          };
        }
      );

      checks = forAllSystems (
        system: pkgs:
        let
          nix2dream = self.packages.${system}.default;
        in
        {
          # The host and the bundled plugins build.
          package = nix2dream;
          # lib.render runs in the sandbox (examples/demo, procfile).
          render-demo = self.packages.${system}.demo-procfile;
          # The Nix-only parts of the test suite: every .nix file parses, and
          # examples evaluate to what the host's own evaluation gives.
          nix-layer =
            pkgs.runCommand "nix2dream-nix-layer-check"
              {
                nativeBuildInputs = [
                  nix2dream
                  pkgs.nix
                  pkgs.shellcheck
                ];
                src = import ./nix/source.nix { inherit lib; } "nix2dream-nix-files" [
                  "flake.nix"
                  "default.nix"
                  "nix"
                  "examples"
                  "tests"
                ];
              }
              ''
                # A private Nix store for nix-instantiate inside the build
                # (as nixpkgs' own lib tests do).
                export TEST_ROOT=$TMPDIR/nix-test
                export NIX_BUILD_HOOK= NIX_CONF_DIR=$TEST_ROOT/etc NIX_LOCALSTATE_DIR=$TEST_ROOT/var \
                  NIX_LOG_DIR=$TEST_ROOT/var/log/nix NIX_STATE_DIR=$TEST_ROOT/var/nix \
                  NIX_STORE_DIR=$TEST_ROOT/store PAGER=cat
                nix-store --init
                cd "$src"
                find . -name '*.nix' -print0 | xargs -0 -n1 nix-instantiate --parse > /dev/null
                shellcheck -s sh nix/render-builder.sh nix/nix-store-from-graph.sh
                nix2dream eval --nixpkgs ${nixpkgs} examples/demo/services.nix > "$TMPDIR/eval.json"
                cmp "$TMPDIR/eval.json" examples/demo/deployment.json || {
                  diff "$TMPDIR/eval.json" examples/demo/deployment.json
                  exit 1
                }
                # The nixos plugin's module.nix evaluates against NixOS's
                # option declarations (tests/nixos), as the e2e tests do.
                export NIX2DREAM_CACHE_DIR=$TMPDIR/cache XDG_STATE_HOME=$TMPDIR/state
                nix2dream render --nixpkgs ${nixpkgs} --plugin nixos examples/demo/services.nix --out "$TMPDIR/nixos"
                nix-instantiate --eval --strict --json --read-write-mode tests/nixos/eval.nix \
                  --arg lib "import ${nixpkgs}/lib" --arg module "$TMPDIR/nixos/module.nix" > "$TMPDIR/nixos.json"
                grep -q '"demo-web.service"' "$TMPDIR/nixos.json"
                touch "$out"
              '';
        }
      );
    };
}
