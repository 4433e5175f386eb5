#!/bin/sh
# Fuzzes the streaming redactor with libFuzzer + AddressSanitizer.
#   bench/fuzz-redactor.sh [seconds=60] [extra libFuzzer flags...]
# Compiles Sources/Host/Engine/Redaction (without the reporter) with the shared reference and case
# generator (Tests/EngineTests/Redaction/RedactionReference.swift) and Tests/Fuzz/RedactorFuzz.
# The corpus is kept in .build/fuzz-redactor-corpus; a crashing input is written to the current folder.
set -eu
seconds=${1:-60}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/Sources/Host/Engine/Redaction"
out="$root/.build/fuzz-redactor"
corpus="$root/.build/fuzz-redactor-corpus"
mkdir -p "$corpus"
# NXA_BUILD_LOCK=/path: compile under `flock` (shared build machines).
${NXA_BUILD_LOCK:+flock "$NXA_BUILD_LOCK"} swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name RedactorFuzz -o "$out" \
    "$src/Redactor.swift" "$src/RedactionForms.swift" "$src/RedactionAutomaton.swift" "$src/RedactionStream.swift" \
    "$root/Tests/EngineTests/Redaction/RedactionReference.swift" "$root/Tests/Fuzz/RedactorFuzz/main.swift" 2>&1 \
    | grep -v "Cannot export local symbol '__asan" || true
exec "$out" -max_total_time="$seconds" -max_len=512 -print_final_stats=1 "$@" "$corpus"
