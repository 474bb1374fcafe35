#!/usr/bin/env bash
# tests/bench/compare_test.sh SOURCE-DIR BIN-DIR — plugbay-bench --compare on two small results files
# (old.json, new.json here): each figure matched by its path whatever the order of the languages, the change
# in % and better or worse by the figure's sense, baselines not judged, the figures of one side only listed,
# exit 0 unless --fail-over PCT finds a ratio worse by more than PCT, and exit 2 with a clear error on a file
# that is not JSON or on a bad option.
set -uo pipefail
here=$1/tests/bench bench=$2/plugbay-bench
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# expect WHAT STATUS OUTPUT-FILE LINE-REGEX... fails unless the status is STATUS and each regex matches a line.
expect() {
  local what=$1 want=$2 got=$3 file=$4
  shift 4
  [ "$got" = "$want" ] || { echo "$what: exit $got, want $want" >&2; fail=1; }
  for re in "$@"; do
    grep -qE -- "$re" "$file" || { echo "$what: no line matches: $re" >&2; cat "$file" >&2; fail=1; }
  done
}
"$bench" --compare "$here/old.json" "$here/new.json" >"$tmp/out" 2>&1
expect "plain compare" 0 $? "$tmp/out" \
  '^  languages\.c\.call_nng\.p50_us +400 +600 +\+50\.0%  worse$' \
  '^  languages\.c\.calls_per_s\.nng_1 +1000 +1500 +\+50\.0%  better$' \
  '^  languages\.lua\.load_cold_ms +10 +5 +-50\.0%  better$' \
  '^  figures\.c\.call_nng_p50\.ratio +2 +2\.4 +\+20\.0%  worse$' \
  '^  figures\.c\.calls_per_s_nng_1\.ratio +0\.2 +0\.375 +\+87\.5%  better$' \
  '^  baselines\.nng_reqrep_ipc\.p50_us +200 +250 +\+25\.0%  $' \
  "^only in $here/old.json:$" '^  figures\.event\.nng_p50\.ratio +4\.5$' \
  "^only in $here/new.json:$" '^  figures\.p2p\.call_p50\.ratio +1\.2$' \
  '^4 better, 3 worse, 3 only in the old file, 3 only in the new one$'
if grep -qE 'vs|unit|plugin' "$tmp/out"; then
  echo "plain compare: a string leaf was listed as a figure" >&2
  fail=1
fi
"$bench" --compare "$here/old.json" "$here/new.json" --fail-over 10 >"$tmp/out" 2>&1
expect "--fail-over 10" 1 $? "$tmp/out" '^  figures\.c\.call_nng_p50\.ratio .* worse \(over\)$' \
  '; 1 ratio worse by more than 10%$'
"$bench" --compare "$here/old.json" "$here/new.json" --fail-over 25 >"$tmp/out" 2>&1
expect "--fail-over 25" 0 $? "$tmp/out" '; 0 ratios worse by more than 25%$'
echo '{"figures": ' >"$tmp/bad.json"
"$bench" --compare "$here/old.json" "$tmp/bad.json" >"$tmp/out" 2>&1
expect "a file that is not JSON" 2 $? "$tmp/out" "^plugbay-bench: --compare: $tmp/bad.json: line [0-9]+: "
"$bench" --compare "$here/old.json" "$tmp/missing.json" >"$tmp/out" 2>&1
expect "a missing file" 2 $? "$tmp/out" "^plugbay-bench: --compare: $tmp/missing.json: unable to open"
for args in "$here/old.json" "$here/old.json $here/new.json --fail-over" "$here/old.json $here/new.json --fail-over x" \
  "$here/old.json $here/new.json --fail-over -1" "$here/old.json $here/new.json --bogus 3"; do
  # shellcheck disable=SC2086 # the words of args are the arguments
  "$bench" --compare $args >"$tmp/out" 2>&1
  expect "--compare $args" 2 $? "$tmp/out" '^usage: plugbay-bench --compare OLD\.json NEW\.json \[--fail-over PCT\]$'
done
exit $fail
