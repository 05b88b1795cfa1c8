#!/usr/bin/env bash
# The freshness section of bench/run.sh: events produced at a steady rate
# into the local broker (`streamdelta broker`) while `streamdelta run`
# (default fast trigger) upserts them into a fresh table; build/freshness
# measures, per event, produced (message CreateTime) -> visible (the commit
# whose txn offsets cover it appeared in _delta_log), and the raw
# librdkafka tail's delay beside it. Then the same topic is drained twice:
# raw by librdkafka (no decoding: the ceiling) and by `streamdelta run
# --available-now` into a second fresh table. Everything it starts it stops;
# its scratch directory is removed unless BENCH_KEEP=1.
#
#   BENCH_FRESH_RATE        events/s (default 20000)
#   BENCH_FRESH_SECONDS     seconds of producing (default 60)
#   BENCH_FRESH_PARTITIONS  topic partitions (default 32: the embedded
#                           cluster keeps ~5 MiB per partition, and the
#                           drains need every event still there)
#
#   bash bench/freshness.sh BUILD_DIR SCRATCH_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
DIR=${2:-$BUILD/bench}
RATE=${BENCH_FRESH_RATE:-20000}
SECS=${BENCH_FRESH_SECONDS:-60}
PARTS=${BENCH_FRESH_PARTITIONS:-32}
TOPIC=movie.ratings.v1
N=$((RATE * SECS))
SD="$PWD/$BUILD/streamdelta"

mkdir -p "$DIR"
tmp=$(mktemp -d "$DIR/freshness.XXXXXX")
tmp=$(cd "$tmp" && pwd)
export STREAMDELTA_LOCAL="$tmp/local.json"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() {
    echo "freshness: $1" >&2
    local f
    for f in "${@:2}"; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
    exit 1
}

"$SD" broker --registry-port 0 --topic "$TOPIC:$PARTS" >"$tmp/broker.out" 2>"$tmp/broker.log" &
pids+=($!)
for _ in $(seq 1 100); do
    [ "$(wc -l <"$tmp/broker.out")" -ge 2 ] && break
    kill -0 "${pids[0]}" 2>/dev/null || fail "the broker exited" "$tmp/broker.log"
    sleep 0.1
done
bootstrap=$(sed -n 's/^bootstrap.servers=//p' "$tmp/broker.out")
[ -n "$bootstrap" ] || fail "the broker printed no address" "$tmp/broker.log"

# The stream first, so that it is caught up (and the table exists) when the
# first event is produced: what is measured is steady state, not start-up.
"$SD" run --table "$tmp/table" --dead-letters "$tmp/dead.jsonl" \
    --progress-json "$tmp/progress.jsonl" 2>"$tmp/run.log" &
run_pid=$!
pids+=("$run_pid")
for _ in $(seq 1 300); do
    [ -f "$tmp/table/_delta_log/00000000000000000000.json" ] && break
    kill -0 "$run_pid" 2>/dev/null || fail "streamdelta run exited" "$tmp/run.log"
    sleep 0.1
done
"$BUILD/freshness" watch "$bootstrap" "$TOPIC" "$tmp/table" "$N" 30 >"$tmp/watch.out" 2>"$tmp/watch.log" &
watch_pid=$!
pids+=("$watch_pid")
sleep 1
echo "producing $N events at $RATE/s into $PARTS partitions ($SECS s), stream running..." >&2
"$SD" produce --topic "$TOPIC" --count "$N" --rate "$RATE" --duplicates 10% --updates 10% \
    --late 2% --seed 42 --quiet >"$tmp/produce.out" 2>"$tmp/produce.log" ||
    fail "produce failed" "$tmp/produce.log"
wait "$watch_pid" || fail "the freshness observer failed" "$tmp/watch.log"
kill -TERM "$run_pid" 2>/dev/null || true
wait "$run_pid" || fail "streamdelta run failed" "$tmp/run.log"
[ -s "$tmp/watch.log" ] && cat "$tmp/watch.log" >&2

val() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
batches=$(wc -l <"$tmp/progress.jsonl")
batch_ms=$(python3 - "$tmp/progress.jsonl" <<'PY'
import json, sys
d = sorted(json.loads(l)["durationMs"]["triggerExecution"] for l in open(sys.argv[1]) if l.strip())
print(f"{d[(len(d) - 1) // 2]} / {d[int((len(d) - 1) * 0.99)]}" if d else "-")
PY
)
w="$tmp/watch.out"
printf '%-52s %10s %10s %10s %12s\n' "produced -> visible in the table" "p50 ms" "p99 ms" "max ms" "events/s"
printf '%-52s %10s %10s %10s %12s\n' "streamdelta run (fast trigger)" "$(val fresh_p50 "$w")" \
    "$(val fresh_p99 "$w")" "$(val fresh_max "$w")" "$(val visible_per_s "$w")"
printf '%-52s %10s %10s %10s %12s\n' "raw librdkafka tail (no processing: the floor)" \
    "$(val raw_p50 "$w")" "$(val raw_p99 "$w")" "$(val raw_max "$w")" "$(val produced_per_s "$w")"
echo "events measured $(val visible "$w") of $(val messages "$w") received ($N produced);" \
    "$batches micro-batches, duration p50 / p99 $batch_ms ms; goal p99 < 1000 ms"

# (c) the ceiling: the same events drained raw, then by the stream.
"$BUILD/freshness" drain "$bootstrap" "$TOPIC" >"$tmp/drain.out" 2>"$tmp/drain.log" ||
    fail "the raw drain failed" "$tmp/drain.log"
d="$tmp/drain.out"
[ "$(val low_watermarks "$d")" = 0 ] ||
    echo "note: the broker no longer holds the first events (retention); raise BENCH_FRESH_PARTITIONS" >&2
t0=$(date +%s.%N)
"$SD" run --available-now --table "$tmp/table2" --dead-letters "$tmp/dead2.jsonl" \
    --progress-json "$tmp/progress2.jsonl" 2>"$tmp/run2.log" || fail "run --available-now failed" "$tmp/run2.log"
t1=$(date +%s.%N)
ours=$(python3 - "$tmp/progress2.jsonl" <<'PY'
import json, sys
print(sum(json.loads(l)["numInputRows"] for l in open(sys.argv[1]) if l.strip()))
PY
)
echo
printf '%-52s %10s %10s %14s %12s\n' "draining the same topic" "events" "seconds" "events/s" "MB/s"
awk -v n="$(val messages "$d")" -v b="$(val bytes "$d")" -v s="$(val seconds "$d")" \
    'BEGIN { printf "%-52s %10d %10.3f %14.0f %12.1f\n", "raw librdkafka consume (no decoding: the ceiling)", n, s, n / s, b / s / 1e6 }'
awk -v n="$ours" -v b="$(val bytes "$d")" -v t0="$t0" -v t1="$t1" \
    'BEGIN { s = t1 - t0; printf "%-52s %10d %10.3f %14.0f %12.1f\n", "streamdelta run --available-now (new table)", n, s, n / s, b / s / 1e6 }'
