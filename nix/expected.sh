#!/bin/sh
# Re-evaluates every examples/nix/*.nix and writes (or, with --check, compares) the
# *.expected.json next to it, and checks that Tests/Fixtures/nix-invalid/*.nix fail. Run from anywhere; needs nix-instantiate and python3.
# Paths and positions in the JSON are relative to the repository root.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
status=0
for f in "$root"/examples/nix/*.nix; do
  out="${f%.nix}.expected.json"
  if ! HOME="$tmp" XDG_CACHE_HOME="$tmp" nix-instantiate --eval --strict --json --store dummy:// \
      "$root/nix/eval.nix" --argstr file "$f" --argstr root "$root" > "$tmp/raw.json" 2> "$tmp/err"; then
    echo "FAIL $f" >&2; cat "$tmp/err" >&2; status=1; continue
  fi
  python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), indent=2, sort_keys=True, ensure_ascii=False))' "$tmp/raw.json" > "$tmp/pretty.json"
  if [ "${1:-}" = "--check" ]; then
    if cmp -s "$tmp/pretty.json" "$out"; then echo "ok   ${f#$root/}"; else echo "DIFF ${f#$root/}" >&2; diff -u "$out" "$tmp/pretty.json" >&2 || true; status=1; fi
  else
    cp "$tmp/pretty.json" "$out"; echo "wrote ${out#$root/}"
  fi
done
# Files that must fail: the first "error:" line and the "at FILE:LINE:COLUMN" line (if any)
# of Nix's message, with the repository root removed, are kept in *.expected-error.
for f in "$root"/Tests/Fixtures/nix-invalid/*.nix; do
  out="${f%.nix}.expected-error"
  if HOME="$tmp" XDG_CACHE_HOME="$tmp" nix-instantiate --eval --strict --json --store dummy:// \
      "$root/nix/eval.nix" --argstr file "$f" --argstr root "$root" > /dev/null 2> "$tmp/err"; then
    echo "FAIL ${f#$root/} evaluated, but must fail" >&2; status=1; continue
  fi
  grep -E '^error:|^ *at /' "$tmp/err" | head -2 | sed -e "s#$root/##g" -e 's/^ *//' > "$tmp/msg"
  if [ "${1:-}" = "--check" ]; then
    if cmp -s "$tmp/msg" "$out"; then echo "ok   ${f#$root/}"; else echo "DIFF ${f#$root/}" >&2; diff -u "$out" "$tmp/msg" >&2 || true; status=1; fi
  else
    cp "$tmp/msg" "$out"; echo "wrote ${out#$root/}"
  fi
done
exit $status
