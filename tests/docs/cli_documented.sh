#!/usr/bin/env bash
# tests/docs/cli_documented.sh SOURCE-DIR BIN-DIR — docs/cli.md matches the programs: every option
# `plugbayd --help` lists has a row in its plugbayd table, and every command and option `plugbay help`
# lists is in docs/cli.md (a command under a ### heading, an option as `--NAME`).
set -euo pipefail
doc=$1/docs/cli.md bin=$2
fail=0
missing() { echo "docs/cli.md lacks $1" >&2; fail=1; }

plugbayd_table=$(sed -n '/^## plugbayd/,$p' "$doc")
n=0
for o in $("$bin/plugbayd" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
  n=$((n + 1))
  grep -q -- "^| \`$o\|, \`$o" <<<"$plugbayd_table" || missing "plugbayd's $o in its ## plugbayd table"
done
[ "$n" -gt 15 ] || { echo "read only $n options from plugbayd --help" >&2; exit 1; }

help=$("$bin/plugbay" help)
headings=$(grep '^### ' "$doc")
n=0
while read -r cmd; do
  n=$((n + 1))
  grep -qE "(^### |, )$cmd( |,|$)" <<<"$headings" || missing "the command \"$cmd\" under a ### heading"
done < <(grep -oE '^  plugbay [a-z]+( (add|list|remove))?' <<<"$help" | sed 's/^  plugbay //' | sort -u)
[ "$n" -gt 10 ] || { echo "read only $n commands from plugbay help" >&2; exit 1; }
for o in $(grep -oE -- '--[a-z][a-z-]*' <<<"$help" | sort -u); do
  grep -q -- "\`$o" "$doc" || grep -q -- "$o" <<<"$headings" || missing "plugbay's $o"
done
exit $fail
