#!/usr/bin/env bash
# tests/docs/wasm_sdk_documented.sh SOURCE-DIR — every function bridges/wasm/sdk/plugbay_wasm.h declares is in
# docs/wasm-plugins.md with its whole declaration (return type, name, parameters).
set -euo pipefail
src=$1
header=$src/bridges/wasm/sdk/plugbay_wasm.h doc=$src/docs/wasm-plugins.md
missing=0 n=0
while IFS= read -r decl; do
  n=$((n + 1))
  if ! grep -qF "\`$decl\`" "$doc"; then
    echo "docs/wasm-plugins.md lacks \`$decl\`" >&2
    missing=1
  fi
done < <(grep -E '^[a-z][a-z0-9_ ]*[ *]bay_[a-z0-9_]+\(.*\)' "$header" |
           sed -E 's/ __attribute__.*//; s/;$//')
[ "$n" -ge 40 ] || { echo "read only $n declarations from $header" >&2; exit 1; }
exit $missing
