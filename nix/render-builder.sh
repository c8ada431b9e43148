# shellcheck shell=sh
# The builder of the flake's lib.render (nix/render.nix): `nix2dream render`
# of a deployment JSON into $out, inside the Nix build sandbox. The tests run
# it outside Nix with the same inputs (tests/tests/flake.rs). Run as
# `sh render-builder.sh`; everything comes from the environment:
#
#   out                  the directory to render into (must not exist yet)
#   nix2dream            the nix2dream binary
#   deploymentPath       the deployment JSON
#   plugins              plugin specs, space-separated (bundled names or .wasm paths)
#   renderFlags          more `render` arguments, space-separated (may be empty)
#   closureGraph         optional: a reference graph in exportReferencesGraph's
#                        format (relative to the current directory), from
#                        which `nix-store --query --requisites` is answered
#   nixStoreFromGraph    with closureGraph: nix/nix-store-from-graph.sh
set -eu

: "${out:?out is not set}"
: "${nix2dream:?nix2dream is not set}"
: "${deploymentPath:?deploymentPath is not set}"
: "${plugins:?plugins is not set}"

work=$(mktemp -d "${TMPDIR:-/tmp}/nix2dream-render.XXXXXX")
trap 'rm -rf "$work"' EXIT

# HOME is /homeless-shelter in the sandbox: the compiled-plugin cache and its
# key live in the build directory, and go with it.
NIX2DREAM_CACHE_DIR=$work/cache
XDG_STATE_HOME=$work/state
export NIX2DREAM_CACHE_DIR XDG_STATE_HOME
unset NIX2DREAM_PLUGIN_PATH NIX2DREAM_BUNDLED_PLUGINS

# A build cannot ask the Nix database for closures: answer the host's
# `nix-store --query --requisites` from the graph Nix exported.
if [ -n "${closureGraph:-}" ]; then
  : "${nixStoreFromGraph:?nixStoreFromGraph is not set}"
  case $closureGraph in
    /*) NIX2DREAM_CLOSURE_GRAPH=$closureGraph ;;
    *) NIX2DREAM_CLOSURE_GRAPH=$PWD/$closureGraph ;;
  esac
  [ -f "$NIX2DREAM_CLOSURE_GRAPH" ] || { echo "render-builder: no reference graph at $NIX2DREAM_CLOSURE_GRAPH" >&2; exit 1; }
  export NIX2DREAM_CLOSURE_GRAPH
  mkdir "$work/bin"
  shell=$(command -v sh)
  printf '#!%s\nexec %s %s "$@"\n' "$shell" "$shell" "$nixStoreFromGraph" > "$work/bin/nix-store"
  chmod +x "$work/bin/nix-store"
  PATH=$work/bin:$PATH
  export PATH
fi

# The arguments: --plugin P for each plugin, then the flags (words; the
# derivation refuses specs and flags with spaces).
set --
for plugin in $plugins; do
  set -- "$@" --plugin "$plugin"
done
for flag in ${renderFlags:-}; do
  set -- "$@" "$flag"
done

"$nix2dream" render "$@" "$deploymentPath" --out "$out"

# The rendered directory only: nix2dream's bookkeeping (manifest, lock) is
# for re-rendering in place, which a store path never is.
rm -rf "$out/.nix2dream"
