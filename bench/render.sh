#!/usr/bin/env bash
# Benchmarks `meshctl render` against `helm template` on the same chart.
#
#   bash bench/render.sh
#
# 1. builds target/release/meshctl; installs Helm 3.8.1 (bench/install-helm.sh);
# 2. renders offline/prod once with --out to get meshctl's merged values.yaml,
#    and the same with 50 agents (a generated -f file);
# 3. checks that `helm template` of bench/helm-chart/testmesh (a Go-template
#    port of the Tera chart) with those values renders the same objects as
#    meshctl (bench/compare.py), in both cases and for all 12 profile
#    environments;
# 4. times, with hyperfine (--warmup 3 --runs 30), stdout to /dev/null:
#      (a) meshctl render -p offline -e prod [-f agents50]
#      (b) helm template testmesh bench/helm-chart/testmesh -f <values.yaml>
#      (c) meshctl render -p offline -e prod [-f ..] --out <dir>
#    where meshctl is bench/.out/render/meshctl.bin, a copy of target/release/meshctl
#    made right after the build;
#    and the peak RSS of each (/usr/bin/time -v, median of 5 runs);
# 5. times all 12 profile environments: (d) in one process
#    (examples/render_all, checked byte for byte against (e)), (e) as 12
#    `meshctl render` processes, (f) as 12 `helm template` processes;
# 6. prints markdown tables (also in bench/.out/render/results.md).
#
# Needs: cargo, python3 with PyYAML, hyperfine, GNU time (/usr/bin/time);
# as root it apt-get installs the last two if they are missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

RUNS="${RUNS:-30}"
WARMUP="${WARMUP:-3}"
RSS_RUNS="${RSS_RUNS:-5}"
# SETTLE (seconds, default 180): see settle() below.
AGENTS="${AGENTS:-50}"

need_apt() {
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "== installing $1 (apt-get)" >&2
    apt-get install -y -qq "$1" >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq "$1" >/dev/null; }
  else
    echo "render.sh: $1 is missing (apt-get install $1)" >&2
    exit 2
  fi
}
command -v hyperfine >/dev/null || need_apt hyperfine
[[ -x /usr/bin/time ]] || need_apt time
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml

echo "== cargo build --release" >&2
cargo build --release --quiet
rev="$(git rev-parse --short HEAD)"
dirty=""
[[ -z "$(git status --porcelain -- src templates profiles offline-values Cargo.toml Cargo.lock build.rs)" ]] ||
  dirty=" (with uncommitted changes to the sources)"

# Everything this script writes is under bench/.out/render/ (other tools
# use other directories of bench/.out/). It times a snapshot of the binary
# just built, so that a cargo build running elsewhere on the machine cannot
# replace it in the middle of the run.
out="bench/.out/render"
rm -rf "$out"
mkdir -p "$out"
cp target/release/meshctl "$out/meshctl.bin"
meshctl="$out/meshctl.bin"
helm_abs="$(bash bench/install-helm.sh)"
helm="${helm_abs#"$root"/}"

# The port carries a copy of the chart's values schema, so that helm
# validates the values as meshctl does; it must be the same file.
if ! cmp -s templates/helm/testmesh/values.schema.json bench/helm-chart/testmesh/values.schema.json; then
  echo "render.sh: bench/helm-chart/testmesh/values.schema.json differs from the chart's;" >&2
  echo "  cp templates/helm/testmesh/values.schema.json bench/helm-chart/testmesh/" >&2
  exit 2
fi

# The scaled case: AGENTS agents, each one Deployment.
agents_file="$out/agents$AGENTS.yaml"
{
  echo "agents:"
  for i in $(seq 1 "$AGENTS"); do
    echo "  - {name: a$i, tags: [x], tokenSecret: {name: t, key: token}}"
  done
} >"$agents_file"

cases=(small "agents$AGENTS")
declare -A extra=([small]="" ["agents$AGENTS"]="-f $agents_file")
declare -A label=([small]="offline/prod (chart as shipped)" ["agents$AGENTS"]="offline/prod + $AGENTS agents")

# Renders once per case: values for helm, and the equivalence check.
equivalent=yes
for c in "${cases[@]}"; do
  # shellcheck disable=SC2086
  "$meshctl" render -p offline -e prod ${extra[$c]} --out "$out/$c" 2>/dev/null
  # shellcheck disable=SC2086
  "$meshctl" render -p offline -e prod ${extra[$c]} >"$out/$c.meshctl.yaml"
  "$helm" template testmesh bench/helm-chart/testmesh -f "$out/$c/values.yaml" >"$out/$c.helm.yaml"
  echo "== equivalence, ${label[$c]}: bench/compare.py $out/$c.meshctl.yaml $out/$c.helm.yaml" >&2
  if ! python3 bench/compare.py "$out/$c.meshctl.yaml" "$out/$c.helm.yaml" >"$out/$c.compare.txt"; then
    equivalent=no
  fi
  sed 's/^/   /' "$out/$c.compare.txt" >&2
done

# The port must also match on every profile environment (other branches
# of the templates: External Secrets, managed databases, no ingress TLS...).
for p in aws gcp azure offline; do
  for e in dev staging prod; do
    c="profile-$p-$e"
    "$meshctl" render -p "$p" -e "$e" --out "$out/$c" 2>/dev/null
    "$meshctl" render -p "$p" -e "$e" >"$out/$c.meshctl.yaml"
    "$helm" template testmesh bench/helm-chart/testmesh -f "$out/$c/values.yaml" >"$out/$c.helm.yaml"
    if python3 bench/compare.py "$out/$c.meshctl.yaml" "$out/$c.helm.yaml" >"$out/$c.compare.txt"; then
      echo "== equivalence, $p/$e: $(head -n1 "$out/$c.compare.txt")" >&2
    else
      equivalent=no
      echo "== equivalence, $p/$e: DIFFERENT" >&2
      sed 's/^/   /' "$out/$c.compare.txt" >&2
    fi
  done
done

median_rss_kib() { # command... -> median "Maximum resident set size" in KiB
  local vals=()
  for _ in $(seq 1 "$RSS_RUNS"); do
    /usr/bin/time -v "$@" >/dev/null 2>"$out/time.txt"
    vals+=("$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/time.txt")")
  done
  printf '%s\n' "${vals[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# The machine is shared (2 cores): before each timing, wait up to SETTLE
# seconds for a quiet moment, when the whole machine was at least 90 % idle
# over 2 s, and record how busy it was just before and just after.
busy_pct() { # CPU busy % of the whole machine over 2 s
  local a b
  a=($(head -n1 /proc/stat)); sleep 2; b=($(head -n1 /proc/stat))
  awk -v a="${a[*]}" -v b="${b[*]}" 'BEGIN {
    split(a, x); split(b, y); t = 0; for (i = 2; i <= 9; i++) t += y[i] - x[i]
    idle = (y[5] - x[5]) + (y[6] - x[6]); printf "%d", t ? 100 * (t - idle) / t : 0 }'
}
settle() {
  local end=$((SECONDS + ${SETTLE:-180})) b
  while b="$(busy_pct)"; ((b > 10 && SECONDS < end)); do :; done
  echo "$b"
}
for c in "${cases[@]}"; do
  values="$out/$c/values.yaml"
  outdir="$out/$c-out"
  "$meshctl" render -p offline -e prod ${extra[$c]} --out "$outdir" >/dev/null 2>&1
  a="$meshctl render -p offline -e prod ${extra[$c]}"
  b="$helm template testmesh bench/helm-chart/testmesh -f $values"
  cc="$meshctl render -p offline -e prod ${extra[$c]} --out $outdir"
  busy_before="$(settle)"
  echo "== hyperfine, ${label[$c]} (machine ${busy_before}% busy just before)" >&2
  hyperfine --warmup "$WARMUP" --runs "$RUNS" --style basic \
    --export-json "$out/$c.hyperfine.json" \
    -n "(a) meshctl render (stdout)" "$a >/dev/null" \
    -n "(b) helm template" "$b >/dev/null" \
    -n "(c) meshctl render --out" "$cc >/dev/null 2>&1" >&2
  echo "== peak RSS (median of $RSS_RUNS), ${label[$c]}" >&2
  # shellcheck disable=SC2086
  {
    echo "$(median_rss_kib $a)"
    echo "$(median_rss_kib $b)"
    echo "$(median_rss_kib $cc)"
  } >"$out/$c.rss.txt"
  cat "$out/$c.rss.txt" >&2
  echo "$busy_before $(busy_pct)" >"$out/$c.busy.txt"
done

# All 12 profile environments: in one process (the library,
# examples/render_all), as 12 `meshctl render` processes, and as 12
# `helm template` processes with those renders' values. The one-process
# output must equal the 12 processes' output, byte for byte.
echo "== cargo build --release --example render_all" >&2
cargo build --release --quiet --example render_all
cp target/release/examples/render_all "$out/render_all.bin"
profiles_envs='for p in aws gcp azure offline; do for e in dev staging prod; do'
all_meshctl="$profiles_envs $meshctl render -p \$p -e \$e; done; done"
all_helm="$profiles_envs $helm template testmesh bench/helm-chart/testmesh -f $out/profile-\$p-\$e/values.yaml; done; done"
"$out/render_all.bin" >"$out/all12.one-process.yaml"
bash -ec "$all_meshctl" >"$out/all12.processes.yaml"
cmp "$out/all12.one-process.yaml" "$out/all12.processes.yaml" ||
  { echo "render.sh: examples/render_all differs from 12 meshctl renders" >&2; exit 1; }
busy_before="$(settle)"
echo "== hyperfine, all 12 profile environments (machine ${busy_before}% busy just before)" >&2
hyperfine --warmup "$WARMUP" --runs "$RUNS" --style basic \
  --export-json "$out/all12.hyperfine.json" \
  -n "(d) 12 renders in one meshctl process" "$out/render_all.bin >/dev/null" \
  -n "(e) 12 meshctl render processes" "bash -ec '$all_meshctl' >/dev/null" \
  -n "(f) 12 helm template processes" "bash -ec '$all_helm' >/dev/null" >&2
echo "$busy_before $(busy_pct)" >"$out/all12.busy.txt"

{
  echo "meshctl $rev$dirty, $("$helm" version --short), $(hyperfine --version), $(rustc --version | cut -d' ' -f1-2)"
  echo "$(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), shared"
  echo "equivalence check (bench/compare.py): $([[ $equivalent == yes ]] && echo "identical object sets in both cases and all 12 profile environments" || echo "DIFFERENCES, see bench/.out/render/*.compare.txt")"
  echo
  python3 - "$out" "${cases[@]}" <<'PY'
import json, sys
out, cases = sys.argv[1], sys.argv[2:]
labels = {"small": "offline/prod"}
print("| case | objects | command | mean ± σ | median | min … max | user + sys | peak RSS (median of 5) |")
print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
for case in cases:
    res = json.load(open(f"{out}/{case}.hyperfine.json"))["results"]
    rss = [int(x) for x in open(f"{out}/{case}.rss.txt").read().split()]
    objs = sum(1 for line in open(f"{out}/{case}.meshctl.yaml") if line.startswith("kind: "))
    name = labels.get(case, "offline/prod + " + case.replace("agents", "") + " agents")
    for r, kib in zip(res, rss):
        ms = lambda s: f"{s * 1000:.1f} ms"
        print(f"| {name} | {objs} | {r['command']} | {ms(r['mean'])} ± {ms(r['stddev'])} | {ms(r['median'])} | "
              f"{ms(r['min'])} … {ms(r['max'])} | {ms(r['user'] + r['system'])} | {kib / 1024:.1f} MiB |")
for case in cases:
    res = {r["command"]: r for r in json.load(open(f"{out}/{case}.hyperfine.json"))["results"]}
    a, b = res["(a) meshctl render (stdout)"]["mean"], res["(b) helm template"]["mean"]
    name = labels.get(case, "offline/prod + " + case.replace("agents", "") + " agents")
    faster, ratio = ("meshctl", b / a) if a < b else ("helm", a / b)
    busy = open(f"{out}/{case}.busy.txt").read().split()
    print(f"\n{name}: (a) {a*1000:.1f} ms vs (b) {b*1000:.1f} ms: {faster} is {ratio:.2f}x faster in mean wall time "
          f"(machine {busy[0]}% busy just before timing, {busy[1]}% just after).", end="")
print()
res = json.load(open(f"{out}/all12.hyperfine.json"))["results"]
busy = open(f"{out}/all12.busy.txt").read().split()
print("\nAll 12 profile environments (aws, gcp, azure, offline × dev, staging, prod), "
      f"machine {busy[0]}% busy just before timing, {busy[1]}% just after:\n")
print("| command | mean ± σ | median | min … max | user + sys |")
print("| --- | ---: | ---: | ---: | ---: |")
for r in res:
    ms = lambda s: f"{s * 1000:.1f} ms"
    print(f"| {r['command']} | {ms(r['mean'])} ± {ms(r['stddev'])} | {ms(r['median'])} | "
          f"{ms(r['min'])} … {ms(r['max'])} | {ms(r['user'] + r['system'])} |")
PY
} | tee "$out/results.md"
