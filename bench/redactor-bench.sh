#!/bin/sh
# Micro-benchmark of the streaming redactor (release build of the redaction sources alone).
#   [NXA_BUILD_LOCK=/tmp/nxa-build.lock] bench/redactor-bench.sh
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
# Not named nixactions-*: .ci/leftovers counts /tmp/nixactions-* as a run's folder left behind.
out=${TMPDIR:-/tmp}/nxa-redactor-bench
src="$root/Sources/Host/Engine/Redaction"
${NXA_BUILD_LOCK:+flock "$NXA_BUILD_LOCK"} swiftc -O -wmo -parse-as-library -module-name RedactorBench -o "$out" \
    "$src/Redactor.swift" "$src/RedactionForms.swift" "$src/RedactionAutomaton.swift" "$src/RedactionStream.swift" \
    "$root/bench/redactor_bench.swift"
exec "$out"
