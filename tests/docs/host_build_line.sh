#!/usr/bin/env bash
# tests/docs/host_build_line.sh SOURCE-DIR BUILD-DIR — the hand build line of docs/host-api.md, run as written
# (with app.c the example host and build/ this build's folder), makes a host that starts: it runs and fails
# only to reach a plugbayd that is not there, not to find libplugbay.
set -euo pipefail
src=$1 build=$2
line=$(grep -o 'by hand: `[^`]*`' "$src/docs/host-api.md" | sed 's/^by hand: `//; s/`$//')
[ -n "$line" ] || { echo "docs/host-api.md has no \"by hand: \`...\`\" build line" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$src/examples/host/host.c" "$work/app.c"
ln -s "$src/include" "$work/include"
ln -s "$build" "$work/build"
cd "$work"
echo "+ $line"
eval "$line -o app"
set +e
out=$(./app ipc:///nonexistent/plugbayd.sock 2>&1)
status=$?
set -e
echo "$out"
if grep -q "cannot open shared object" <<<"$out"; then
  echo "the program built by docs/host-api.md's line cannot start" >&2
  exit 1
fi
[ "$status" -ne 0 ] && grep -q "connect" <<<"$out" || { echo "expected a connection failure, got status $status" >&2; exit 1; }
