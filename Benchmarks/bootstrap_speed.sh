#!/usr/bin/env bash
# Times the report bootstrap (Sources/AutoInterp/Score/Bootstrap.swift) with -O, outside the
# package build: compiles it with the seeded generator and Benchmarks/bootstrap_speed_main.swift.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cp Benchmarks/bootstrap_speed_main.swift "$out/main.swift"
swiftc -O -package-name autointerp -module-name BootstrapSpeed \
    Sources/AutoInterp/Score/Bootstrap.swift Sources/AutoInterp/Score/Correlation.swift Sources/AutoInterp/Support/SeededGenerator.swift "$out/main.swift" \
    -o "$out/bootstrap_speed"
lscpu | grep 'Model name'
"$out/bootstrap_speed"
"$out/bootstrap_speed"
