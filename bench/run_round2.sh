#!/bin/bash
# The full issue-8 benchmark run (round 2, updated in round 14), 25 to 40 minutes on
# 2 cores. Rounds differ per benchmark to keep the long ones affordable. Usage:
#   bash bench/run_round2.sh [BINARY] > results.md
# BINARY defaults to .build/release/nixactions (build it first: swift build -c release).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/nixactions}
B="python3 bench/bench.py --binary $BIN"
echo "uptime at start: $(uptime)"
$B --rounds 5 output --output-size 1G
$B --rounds 3 secrets secretfile --secrets-size 1G
$B --rounds 5 manyjobs
$B --rounds 3 dag
$B --rounds 3 scaling --scaling-sizes 100,1000,5000,20000 --big-rounds 3
$B --rounds 5 dryrun
$B ulimit --ulimit-jobs 20000,2000
$B --rounds 9 steps
$B --rounds 9 validate
echo "uptime at end: $(uptime)"
