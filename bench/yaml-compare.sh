#!/usr/bin/env bash
# Compares serde_yaml 0.9 (meshctl's decode path, src/validate/decode.rs) with
# serde-saphyr 2.x on the same inputs: speed, duplicate keys, alias bombs (with
# peak RSS), deep nesting (in child processes), error positions, type fidelity.
# Results and the recommendation: bench/yaml-compare.md.
#
# Usage: bench/yaml-compare.sh [speed options: --docs N --runs N --file PATH]
# Prints everything to stdout and writes no file (cargo builds into target/ and
# logs to stderr as usual). Peak RSS needs GNU time at /usr/bin/time
# (`apt-get install time`); without it that section says so and goes on.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --example yaml_compare >&2
B=target/release/examples/yaml_compare

echo "# yaml-compare"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (work tree has changes)')"
echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/^Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- toolchain: $(rustc --version)"
echo "- parsers: $(awk '/^name = /{n=$3} /^version = /{if (n=="\"serde_yaml\"" || n=="\"serde-saphyr\"") printf "%s %s  ", n, $3}' Cargo.lock | tr -d '"')"
echo

"$B" speed "$@"
"$B" dupes
"$B" bomb-timing

echo
echo "## 3b. Peak RSS, one parse per process (/usr/bin/time -v; 'none' builds the input and does not parse it)"
if [ -x /usr/bin/time ]; then
    echo "| input | parser | peak RSS (MiB) | wall (s) | what the parse did |"
    echo "|---|---|---:|---:|---|"
    for kind in laughs wide benign; do
        for parser in none meshctl saphyr saphyr-default; do
            out=$( { /usr/bin/time -v "$B" bomb "$kind" "$parser"; } 2>&1 ) || true
            rss=$(echo "$out" | awk -F: '/Maximum resident set size/{gsub(/ /,"",$2); printf "%.1f", $2/1024}')
            wall=$(echo "$out" | awk '/Elapsed \(wall clock\)/{print $NF}')
            what=$(echo "$out" | grep -m1 "^bomb " | sed 's/|/\\|/g')
            echo "| $kind | $parser | $rss | $wall | $what |"
        done
    done
else
    echo "(skipped: /usr/bin/time is missing; apt-get install time)"
fi

"$B" deep
"$B" deep-scale
"$B" errors
"$B" types
