#!/usr/bin/env bash
# Validation benchmark, side by side on the same files:
#   meshctl validate        (strict, rules, lints, CRDs for the chart's custom resources)
#   parse only              (examples/parse_only: meshctl's splitter + YAML parser, no checks: the floor)
#   kubernetes-validate     (PyPI, Kubernetes 1.33 schemas, --strict: the peer a user can install here)
# on a generated corpus of 100,000 resources (bench/gen_corpus.py: the chart's own
# objects mixed with generated workloads). kubernetes-validate runs on the first
# 5 files (5,000 resources) only: the whole corpus would take about 12 minutes.
# Then a scaling table: meshctl on 12,500 to 100,000 resources in one namespace
# with shared labels and spread over 100 namespaces (bench/gen_scale.py), with
# the CPU ratio per doubling.
# Each figure is the median of 3 runs; wall and CPU seconds and peak RSS come
# from GNU time. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/.out/validate
mkdir -p "$OUT"
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
python3 -c 'import yaml' 2>/dev/null || pip install -q pyyaml
command -v kubernetes-validate >/dev/null || pip install -q kubernetes-validate==1.37.0

cargo build --release -q
cargo build --release -q --example parse_only
MESHCTL=target/release/meshctl
PARSE=target/release/examples/parse_only

rm -rf "$OUT/chart"
$MESHCTL render -p aws -e prod --out "$OUT/chart" 2>/dev/null
if [ ! -f "$OUT/corpus/corpus-099.yaml" ]; then
    python3 bench/gen_corpus.py "$OUT/corpus" "$OUT/chart/manifests" 100 1000 >&2
fi
mkdir -p "$OUT/subset"
for i in 000 001 002 003 004; do cp -f "$OUT/corpus/corpus-$i.yaml" "$OUT/subset/"; done
SCHEMAS=templates/helm/testmesh/schemas

# measure LABEL RESOURCES OK_CODES CMD...: median of 3 runs of wall, CPU
# (user+sys), max RSS. A run whose exit code is not in OK_CODES (e.g. "0 1"
# for a validator, where 1 means it found invalid resources) stops the
# benchmark: a fast failure must never be timed as a result.
measure() {
    local label=$1 n=$2 ok=$3; shift 3
    local runs=() code
    for _ in 1 2 3; do
        code=0
        /usr/bin/time -o "$OUT/time" -f "%e %U %S %M" "$@" >"$OUT/stdout" 2>"$OUT/stderr" || code=$?
        if [[ " $ok " != *" $code "* ]]; then
            echo "error: '$label' exited $code (expected one of: $ok): $*" >&2
            tail -5 "$OUT/stderr" >&2
            exit 1
        fi
        runs+=("$(tail -1 "$OUT/time")")
    done
    printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p | awk -v l="$label" -v n="$n" '{print l "\t" n "\t" $2 + $3 "\t" $4}' >>"$OUT/measured.tsv"
    printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p | {
        read -r wall user sys rss
        python3 - "$label" "$n" "$wall" "$user" "$sys" "$rss" <<'PY'
import sys
label, n, wall, user, sys_, rss = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
cpu = user + sys_
print(f"| {label} | {n:,} | {wall:.2f} | {cpu:.2f} | {n / cpu:,.0f} | {n / wall:,.0f} | {rss / 1024:.0f} |")
PY
    }
}

: >"$OUT/measured.tsv"
echo "| tool | resources | wall s | CPU s | resources / CPU-s | resources / s | peak RSS MB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
measure "meshctl validate (100 files)" 100000 "0 1" $MESHCTL validate --crds $SCHEMAS "$OUT/corpus"
measure "parse only, the floor (100 files)" 100000 "0" $PARSE "$OUT/corpus"
measure "meshctl validate (5 files)" 5000 "0 1" $MESHCTL validate --crds $SCHEMAS "$OUT/subset"
measure "parse only (5 files)" 5000 "0" $PARSE "$OUT/subset"
measure "kubernetes-validate --strict -k 1.33.0 (5 files)" 5000 "0 1" kubernetes-validate --strict --quiet -k 1.33.0 "$OUT"/subset/*.yaml

# Scaling: the same generated units (Deployment, Service, ServiceAccount,
# a PDB per 12; bench/gen_scale.py) placed (a) all in one namespace with
# shared labels (`app: web` on every pod, every PDB selecting it), (b)
# spread over 100 namespaces; at 12,500 / 25,000 / 50,000 / 100,000
# resources. Every object is valid: any exit but 0 stops the benchmark.
echo
echo "| layout | resources | wall s | CPU s | resources / CPU-s | resources / s | peak RSS MB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for layout in shared spread; do
    for n in 12500 25000 50000 100000; do
        dir="$OUT/scale-$layout-$n"
        [ -d "$dir" ] || python3 bench/gen_scale.py "$dir" "$n" "$layout" >/dev/null
        measure "$layout" "$n" "0" $MESHCTL validate "$dir"
    done
done
echo
python3 - "$OUT/measured.tsv" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print("| layout | CPU s at N → 2N | ratio |")
print("|---|---|---:|")
for layout in ("shared", "spread"):
    pts = [(int(n), float(cpu)) for label, n, cpu, _ in rows if label == layout]
    for (n1, c1), (n2, c2) in zip(pts, pts[1:]):
        print(f"| {layout} | {n1:,}: {c1:.2f} → {n2:,}: {c2:.2f} | {c2 / c1:.2f} |")
PY