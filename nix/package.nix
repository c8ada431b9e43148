# The nix2dream host with its bundled plugins, built from this repository
# with nixpkgs' Rust tooling: what `./x build` puts in dist/, as one package
#
#   $out/bin/nix2dream
#   $out/lib/nix2dream/plugins/*.wasm     the bundled plugins (components)
#   $out/lib/nix2dream/vm-init            the VM supervisor (static)
#   $out/share/nix2dream/nix/             the Nix layer (eval-file.nix, …)
#
# The host finds the plugins, vm-init and the Nix files next to its binary,
# as in dist/. It runs `nix-instantiate` for `.nix` inputs (the user's Nix)
# and needs nixpkgs' lib for them (--nixpkgs, NIX2DREAM_NIXPKGS or <nixpkgs>).
#
# Like ./x build, it needs rustc >= 1.95 (the workspace's rust-version).
# Plugins: nixpkgs' rustc ships std for wasm32-unknown-unknown (the old
# `rustc-wasm32` became an alias of `rustc` in nixpkgs, 2023-12) and links it
# with lld; they are built with --target wasm32-unknown-unknown, then made
# components by the workspace's own `xtask componentize`. vm-init: glibc
# static (crt-static, glibc.static), exactly as ./x build does.
#
# Verified on the development machines only as far as nixpkgs' lib allows:
# this file parses and the flake's outputs evaluate; building it needs a full
# nixpkgs (and the crates, fetched by importCargoLock) — see README "With Nix".
{
  lib,
  stdenv,
  rustPlatform,
  lld,
  glibc,
}:
let
  # Only what cargo reads: a change to docs/ or examples/ does not rebuild.
  src = import ./source.nix { inherit lib; } "nix2dream-source" [
    "Cargo.toml"
    "Cargo.lock"
    "core-options"
    "host"
    "plugins"
    "vm-init"
    "wit"
    "xtask"
    "nix"
    # a workspace member (with the test plugins): cargo reads its manifests
    "tests"
  ];
  cargoToml = lib.importTOML ../Cargo.toml;
  wasmTarget = "wasm32-unknown-unknown";
  hostTriple = stdenv.hostPlatform.rust.rustcTargetSpec;
  # crate:output, as PLUGINS in ./x (the bundled ones only).
  plugins = [
    "nix2dream-procfile:procfile"
    "nix2dream-docker:docker"
    "nix2dream-compose:compose"
    "nix2dream-systemd:systemd"
    "nix2dream-nixos:nixos"
    "nix2dream-k8s:k8s"
    "nix2dream-vm:vm"
  ];
  crateFlags = lib.concatMapStringsSep " " (p: "-p ${builtins.head (lib.splitString ":" p)}") plugins;
in
rustPlatform.buildRustPackage {
  pname = "nix2dream";
  inherit (cargoToml.workspace.package) version;
  inherit src;
  cargoLock.lockFile = ../Cargo.lock;

  nativeBuildInputs = [ lld ];
  # wasm-ld for the plugins, named as ./x's Debian route names it (rustc's
  # default for the target, rust-lld, is not in nixpkgs' rustc).
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER = "${lld}/bin/wasm-ld";
  # vm-init is linked statically against glibc.
  buildInputs = [ glibc.static ];

  # Three cargo builds (as ./x build): host + xtask natively, the plugins for
  # wasm32, vm-init static; each in its own target dir so the flags of one do
  # not rebuild the others.
  buildPhase = ''
    runHook preBuild
    cargo build --offline --release -j "$NIX_BUILD_CORES" -p nix2dream -p xtask
    CARGO_TARGET_DIR=target/wasm \
      cargo build --offline --release -j "$NIX_BUILD_CORES" --target ${wasmTarget} ${crateFlags}
    RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=target/vm-init \
      cargo build --offline --release -j "$NIX_BUILD_CORES" -p nix2dream-vm-init --target ${hostTriple}
    runHook postBuild
  '';

  installPhase = ''
    runHook preInstall
    install -Dm755 target/release/nix2dream "$out/bin/nix2dream"
    mkdir -p "$out/lib/nix2dream/plugins" "$out/share/nix2dream"
    ${lib.concatMapStringsSep "\n" (
      p:
      let
        parts = lib.splitString ":" p;
        crate = builtins.head parts;
        name = lib.last parts;
      in
      ''target/release/xtask componentize target/wasm/${wasmTarget}/release/${
        builtins.replaceStrings [ "-" ] [ "_" ] crate
      }.wasm "$out/lib/nix2dream/plugins/${name}.wasm"''
    ) plugins}
    install -Dm755 target/vm-init/${hostTriple}/release/nix2dream-vm-init "$out/lib/nix2dream/vm-init"
    cp -r nix "$out/share/nix2dream/nix"
    # Manual pages and completions, generated from the command's own definitions.
    "$out/bin/nix2dream" manpages "$out/share/man/man1"
    mkdir -p "$out/share/bash-completion/completions" "$out/share/zsh/site-functions" "$out/share/fish/vendor_completions.d"
    "$out/bin/nix2dream" completions bash > "$out/share/bash-completion/completions/nix2dream"
    "$out/bin/nix2dream" completions zsh > "$out/share/zsh/site-functions/_nix2dream"
    "$out/bin/nix2dream" completions fish > "$out/share/fish/vendor_completions.d/nix2dream.fish"
    runHook postInstall
  '';

  # The test suite drives real managers (docker, systemd, QEMU): the flake's
  # `checks` run its Nix-only parts instead.
  doCheck = false;

  meta = {
    description = "Define services once with the Nix module system, run them under any service manager";
    license = with lib.licenses; [
      mit
      asl20
    ];
    mainProgram = "nix2dream";
    platforms = lib.platforms.linux;
  };
}
