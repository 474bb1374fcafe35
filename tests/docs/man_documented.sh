#!/usr/bin/env bash
# tests/docs/man_documented.sh SOURCE-DIR BIN-DIR — docs/man/ matches the programs: every option `plugbayd --help`
# lists is in plugbayd.8, every command and option `plugbay help` lists in plugbay.1, and both render
# without a warning (when groff is there).
set -euo pipefail
man=$1/docs/man bin=$2
fail=0
# unroff prints a page's text with roff's \- as -.
unroff() { sed 's/\\-/-/g' "$1"; }
# check PAGE WHAT... fails unless PAGE holds each WHAT (at least min of them).
check() {
  local page=$1 min=$2 text n=0
  shift 2
  text=$(unroff "$man/$page")
  for w in "$@"; do
    n=$((n + 1))
    grep -qF -- "$w" <<<"$text" || { echo "docs/man/$page lacks $w" >&2; fail=1; }
  done
  [ "$n" -ge "$min" ] || { echo "read only $n names for $page" >&2; exit 1; }
}
mapfile -t opts < <("$bin/plugbayd" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u)
check plugbayd.8 15 "${opts[@]}"
help=$("$bin/plugbay" help)
mapfile -t cmds < <(grep -oE '^  plugbay [a-z]+( [a-z]+)?' <<<"$help" | sed 's/^  //' | sort -u)
check plugbay.1 30 "${cmds[@]}"
mapfile -t opts < <(grep -oE -- '--[a-z][a-z-]*' <<<"$help" | sort -u)
check plugbay.1 15 "${opts[@]}"
if command -v groff >/dev/null; then
  for page in plugbay.1 plugbayd.8; do
    warnings=$(groff -man -Tutf8 -ww -z "$man/$page" 2>&1)
    [ -z "$warnings" ] || { echo "docs/man/$page: $warnings" >&2; fail=1; }
  done
else
  echo "groff missing: the pages' rendering is not checked"
fi
exit $fail
