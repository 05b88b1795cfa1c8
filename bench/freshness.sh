#!/usr/bin/env bash
# The freshness section of bench/run.sh: events produced at a steady rate
# into the local broker (`streamdelta broker`) while `streamdelta run`
# (default fast trigger) upserts them into a fresh table, once per merge
# mode (copy-on-write, deletion vectors), each on a topic of its own; build/freshness
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
#   BENCH_FRESH_MERGES      the stream's merge modes, each on its own topic
#                           (default "cow dv": copy-on-write, then deletion
#                           vectors; each run takes SECONDS + ~20 s)
#
#   bash bench/freshness.sh BUILD_DIR SCRATCH_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
DIR=${2:-$BUILD/bench}
RATE=${BENCH_FRESH_RATE:-20000}
SECS=${BENCH_FRESH_SECONDS:-60}
PARTS=${BENCH_FRESH_PARTITIONS:-32}
MERGES=${BENCH_FRESH_MERGES:-cow dv}
TOPIC=movie.ratings.v1
N=$((RATE * SECS))
for m in $MERGES; do
    case "$m" in
        cow | dv) ;;
        *) echo "freshness: BENCH_FRESH_MERGES takes cow and dv, not '$m'" >&2; exit 2 ;;
    esac
done
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

topic_args=()
for m in $MERGES; do topic_args+=(--topic "$TOPIC.$m:$PARTS"); done
"$SD" broker --registry-port 0 "${topic_args[@]}" >"$tmp/broker.out" 2>"$tmp/broker.log" &
pids+=($!)
for _ in $(seq 1 100); do
    [ "$(wc -l <"$tmp/broker.out")" -ge 2 ] && break
    kill -0 "${pids[0]}" 2>/dev/null || fail "the broker exited" "$tmp/broker.log"
    sleep 0.1
done
bootstrap=$(sed -n 's/^bootstrap.servers=//p' "$tmp/broker.out")
[ -n "$bootstrap" ] || fail "the broker printed no address" "$tmp/broker.log"

merge_args() { [ "$1" = dv ] && echo "--set sink.deletion_vectors=true" || true; }
merge_name() { [ "$1" = dv ] && echo "deletion vectors" || echo "copy-on-write"; }
val() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
pct_ms() {
    python3 - "$1" <<'PY'
import json, math, sys
d = sorted(json.loads(l)["durationMs"]["triggerExecution"] for l in open(sys.argv[1]) if l.strip())
rank = lambda q: d[max(0, math.ceil(q * len(d)) - 1)]  # nearest rank
print(f"{rank(0.5)} / {rank(0.99)}" if d else "-")
PY
}

# One live run: the stream first, so that it is caught up (and the table
# exists) when the first event is produced: what is measured is steady
# state, not start-up. Leaves $tmp/$1/watch.out.
live() {
    local m="$1" w="$tmp/$1" run_pid watch_pid
    mkdir -p "$w"
    # shellcheck disable=SC2046
    "$SD" run --topic "$TOPIC.$m" --table "$w/table" --dead-letters "$w/dead.jsonl" \
        --progress-json "$w/progress.jsonl" $(merge_args "$m") 2>"$w/run.log" &
    run_pid=$!
    pids+=("$run_pid")
    for _ in $(seq 1 300); do
        [ -f "$w/table/_delta_log/00000000000000000000.json" ] && break
        kill -0 "$run_pid" 2>/dev/null || fail "streamdelta run exited" "$w/run.log"
        sleep 0.1
    done
    "$BUILD/freshness" watch "$bootstrap" "$TOPIC.$m" "$w/table" "$N" 30 >"$w/watch.out" 2>"$w/watch.log" &
    watch_pid=$!
    pids+=("$watch_pid")
    sleep 1
    echo "$(merge_name "$m"): producing $N events at $RATE/s into $PARTS partitions ($SECS s), stream running..." >&2
    "$SD" produce --topic "$TOPIC.$m" --count "$N" --rate "$RATE" --duplicates 10% --updates 10% \
        --late 2% --seed 42 --quiet >"$w/produce.out" 2>"$w/produce.log" ||
        fail "produce failed" "$w/produce.log"
    wait "$watch_pid" || fail "the freshness observer failed" "$w/watch.log"
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" || fail "streamdelta run failed" "$w/run.log"
    if [ -s "$w/watch.log" ]; then cat "$w/watch.log" >&2; fi
}

for m in $MERGES; do live "$m"; done
row='%-56s %10s %10s %10s %12s %9s %13s\n'
printf "$row" "produced -> visible in the table" "p50 ms" "p99 ms" "max ms" "events/s" "batches" "batch p50/p99"
for m in $MERGES; do
    w="$tmp/$m/watch.out"
    printf "$row" "streamdelta run, $(merge_name "$m")" "$(val fresh_p50 "$w")" "$(val fresh_p99 "$w")" \
        "$(val fresh_max "$w")" "$(val visible_per_s "$w")" "$(wc -l <"$tmp/$m/progress.jsonl")" \
        "$(pct_ms "$tmp/$m/progress.jsonl")"
done
for m in $MERGES; do
    w="$tmp/$m/watch.out"
    printf "$row" "raw librdkafka tail of the $(merge_name "$m") run" "$(val raw_p50 "$w")" \
        "$(val raw_p99 "$w")" "$(val raw_max "$w")" "$(val produced_per_s "$w")" "" ""
done
for m in $MERGES; do
    w="$tmp/$m/watch.out"
    echo "$(merge_name "$m"): events measured $(val visible "$w") of $(val messages "$w") received ($N produced)"
done
echo "goal: p99 < 1000 ms; the tail is the floor (the broker's own delivery delay)"

# (c) the ceiling: the same events drained raw, then by the stream into a
# new table (as fast as it goes: --available-now), per merge mode.
first=${MERGES%% *}
"$BUILD/freshness" drain "$bootstrap" "$TOPIC.$first" >"$tmp/drain.out" 2>"$tmp/drain.log" ||
    fail "the raw drain failed" "$tmp/drain.log"
d="$tmp/drain.out"
[ "$(val low_watermarks "$d")" = 0 ] ||
    echo "note: the broker no longer holds the first events (retention); raise BENCH_FRESH_PARTITIONS" >&2
echo
row='%-56s %10s %10s %14s %12s\n'
printf "$row" "draining the same topic" "events" "seconds" "events/s" "MB/s"
awk -v n="$(val messages "$d")" -v b="$(val bytes "$d")" -v s="$(val seconds "$d")" -v f="$row" \
    'BEGIN { printf f, "raw librdkafka consume (from the first message)", n, sprintf("%.3f", s), sprintf("%.0f", n / s), sprintf("%.1f", b / s / 1e6) }'
for m in $MERGES; do
    w="$tmp/$m"
    t0=$(date +%s.%N)
    # shellcheck disable=SC2046
    "$SD" run --available-now --topic "$TOPIC.$first" --table "$w/table2" \
        --dead-letters "$w/dead2.jsonl" --progress-json "$w/progress2.jsonl" $(merge_args "$m") \
        2>"$w/run2.log" || fail "run --available-now failed" "$w/run2.log"
    t1=$(date +%s.%N)
    ours=$(python3 -c 'import json, sys; print(sum(json.loads(l)["numInputRows"] for l in open(sys.argv[1]) if l.strip()))' "$w/progress2.jsonl")
    batch_s=$(python3 -c 'import json, sys; print(sum(json.loads(l)["durationMs"]["triggerExecution"] for l in open(sys.argv[1]) if l.strip()) / 1000)' "$w/progress2.jsonl")
    awk -v n="$ours" -v b="$(val bytes "$d")" -v t0="$t0" -v t1="$t1" -v bs="$batch_s" -v f="$row" -v name="$(merge_name "$m")" \
        'BEGIN { s = t1 - t0; printf f, "run --available-now, " name " (whole process)", n, sprintf("%.3f", s), sprintf("%.0f", n / s), sprintf("%.1f", b / s / 1e6);
                 printf f, "run --available-now, " name " (its batches)", n, sprintf("%.3f", bs), sprintf("%.0f", n / bs), sprintf("%.1f", b / bs / 1e6) }'
done
echo "raw consume start-up (connect, offset lookup, first fetch): $(val startup_seconds "$d") s"
