#!/usr/bin/env bash
# The runner executing HTTP steps against a local server, side by side with
# the floor (a plain client loop with the same HTTP client, same requests,
# same concurrency) and with wrk against the same server.
#
#   bash bench/runner.sh            # 20,000 steps at WORKER_CONCURRENCY=32
#   STEPS=50000 REPEATS=15 bash bench/runner.sh
#
# Every figure is the median of REPEATS timed passes after one warm-up
# pass. The runner's figure is end to end: POST /v1/runs, flow lookup,
# template substitution, the egress check on each new connection, the
# request, the body read, the assertion, the report (returned and appended
# to REPORTS_DIR). All processes share the machine, so the numbers are
# relative, not absolute.
#
# Fairness: the floor and the driver of the runner are one program
# (crates/runner/examples/bench_client.rs) with the runner's HTTP client
# (hyper-util's pooled HTTP/1.1 client, TCP_NODELAY) and the runner's
# allocator (mimalloc); the driver checks each report's outcome and step
# count without building a JSON tree of it, since its CPU is taken from the
# runner on a small machine.
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=${STEPS:-20000}
CONCURRENCY=${CONCURRENCY:-32}
STEPS_PER_RUN=${STEPS_PER_RUN:-100}
REPEATS=${REPEATS:-9}
UPSTREAM=${UPSTREAM:-127.0.0.1:18081}
RUNNER_PORT=${RUNNER_PORT:-18082}
RUNS=$((STEPS / STEPS_PER_RUN))

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
fi

echo "revision: $(git rev-parse --short HEAD)$(git diff --quiet -- crates/runner || echo '+dirty')" >&2
echo "machine: $(nproc) cores, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cargo build --release -q -p runner --bins --examples
bin=target/release
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$bin/examples/bench_upstream" "$UPSTREAM" 2>/dev/null &
pids+=($!)

mkdir -p "$work/flows"
{
    echo "name: bench"
    echo "steps:"
    for i in $(seq 1 "$STEPS_PER_RUN"); do
        printf '  - id: s%d\n    action: http_request\n    config: {url: "http://%s/item"}\n    assert: {status: 200}\n' "$i" "$UPSTREAM"
    done
} >"$work/flows/bench.yaml"

PORT=$RUNNER_PORT BIND_ADDRESS=127.0.0.1 WORKER_CONCURRENCY=$CONCURRENCY RUN_QUEUE_SIZE=$((CONCURRENCY * 4)) \
    ALLOWED_NETWORKS=127.0.0.0/8 FLOWS_DIR="$work/flows" SNAPSHOT_DIR="$work/snapshots" REPORTS_DIR="$work/reports" \
    LOG_LEVEL=warn "$bin/testmesh-runner" &
pids+=($!)

for _ in $(seq 1 200); do
    if PORT=$RUNNER_PORT "$bin/testmesh-runner" healthcheck 2>/dev/null; then break; fi
    sleep 0.1
done
PORT=$RUNNER_PORT "$bin/testmesh-runner" healthcheck

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read())['$1'])"; }

floor() { "$bin/examples/bench_client" floor "http://$UPSTREAM/item" "$STEPS" "$CONCURRENCY"; }
runner() { "$bin/examples/bench_client" runner "http://127.0.0.1:$RUNNER_PORT" bench "$RUNS" "$CONCURRENCY"; }

floor >/dev/null
runner >/dev/null
# Passes alternate, so that load from elsewhere on the machine falls on
# both sides alike.
: >"$work/floor" && : >"$work/runner"
for _ in $(seq 1 "$REPEATS"); do
    floor | field us_per_request >>"$work/floor"
    runner | field us_per_request >>"$work/runner"
done
echo "floor passes (us/step): $(tr '\n' ' ' <"$work/floor")" >&2
echo "runner passes (us/step): $(tr '\n' ' ' <"$work/runner")" >&2
floor_us=$(median <"$work/floor")
runner_us=$(median <"$work/runner")

wrk_out=$(wrk -t2 -c"$CONCURRENCY" -d10s "http://$UPSTREAM/item")
wrk_rps=$(awk '/Requests\/sec/ {print $2}' <<<"$wrk_out")
wrk_us=$(python3 -c "print(round(1e6 / $wrk_rps, 1))")

python3 - "$floor_us" "$runner_us" "$wrk_us" "$wrk_rps" <<PY
import sys
floor, runner, wrk, wrk_rps = map(float, sys.argv[1:])
print(f"steps: $STEPS (runs of $STEPS_PER_RUN steps), concurrency: $CONCURRENCY, median of $REPEATS")
print(f"{'client':<28}{'us/request':>12}{'req/s':>10}")
print(f"{'wrk -t2 -c$CONCURRENCY (10s)':<28}{wrk:>12.1f}{wrk_rps:>10.0f}")
print(f"{'floor (hyper-util loop)':<28}{floor:>12.1f}{1e6/floor:>10.0f}")
print(f"{'testmesh-runner':<28}{runner:>12.1f}{1e6/runner:>10.0f}")
over = (runner - floor) / floor * 100
print(f"runner overhead per step: {runner - floor:.1f} us ({over:+.1f}% over the floor; target <= 10%: {'met' if over <= 10 else 'NOT met'})")
PY
