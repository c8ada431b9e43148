# shellcheck shell=sh
# `nix-store --query --requisites PATH...` answered from a reference graph
# instead of the Nix database, for nix2dream's host inside a Nix build (see
# render-builder.sh). The graph, named by NIX2DREAM_CLOSURE_GRAPH, is in the
# format of exportReferencesGraph (`nix-store --register-validity`): per
# path, its line, a deriver line (may be empty), the number of references,
# then one line per reference. A PATH inside a store path (…/bin/sh) means
# that store path. Prints the closure, one path per line; a path not in the
# graph fails like nix-store does ("path '…' is not valid").
set -eu
graph=${NIX2DREAM_CLOSURE_GRAPH:?NIX2DREAM_CLOSURE_GRAPH is not set}

query=0
requisites=0
roots=""
for arg in "$@"; do
  case $arg in
    --query | -q) query=1 ;;
    --requisites | -R) requisites=1 ;;
    -qR | -Rq) query=1 requisites=1 ;;
    -*) echo "nix-store (from graph): unsupported option $arg" >&2; exit 2 ;;
    *) roots="$roots$arg
" ;;
  esac
done
if [ "$query" != 1 ] || [ "$requisites" != 1 ]; then
  echo "nix-store (from graph): only --query --requisites is answered here" >&2
  exit 2
fi

printf '%s' "$roots" | awk -v graph="$graph" '
  BEGIN {
    state = 0
    while ((getline line < graph) > 0) {
      if (state == 0) { path = line; valid[path] = 1; refs[path] = ""; state = 1 }
      else if (state == 1) { state = 2 }
      else if (state == 2) { left = line + 0; state = (left > 0) ? 3 : 0 }
      else { refs[path] = refs[path] "\n" line; if (--left == 0) state = 0 }
    }
    close(graph)
    if (state != 0) { print "nix-store (from graph): " graph " is truncated" > "/dev/stderr"; failed = 1; exit 1 }
  }
  NF == 0 { next }
  {
    root = $0
    while (!(root in valid)) {
      cut = match(root, /\/[^\/]*$/)
      if (cut <= 1) { print "error: path '\''" $0 "'\'' is not valid" > "/dev/stderr"; failed = 1; next }
      root = substr(root, 1, cut - 1)
    }
    stack[++top] = root
    while (top > 0) {
      p = stack[top--]
      if (p in seen) continue
      seen[p] = 1
      n = split(refs[p], r, "\n")
      for (i = 1; i <= n; i++) if (r[i] != "" && !(r[i] in seen)) stack[++top] = r[i]
    }
  }
  END {
    if (failed) exit 1
    for (p in seen) print p
  }
'
