#!/usr/bin/env bash
# The spark section of bench/run.sh: the replaced job (bench/spark_job.py,
# PySpark 3.4.1 + Delta 2.4.0, local[2]) and `streamdelta run
# --available-now` each upsert the same real-Kafka topic into a fresh table,
# one after the other on the same machine; their events/s and micro-batch
# durations are printed side by side, and the two tables are compared
# (delta-rs reads both) so that neither side is measured doing nothing.
#
# It starts, and stops, its own Apache Kafka (scripts/kafka-local.sh, KRaft,
# loopback) and a `streamdelta broker` used only as the Schema Registry of
# the producer and of our stream (the Spark job parses the Avro itself).
# Scratch files are removed unless BENCH_KEEP=1.
#
#   BENCH_SPARK_EVENTS      events in the topic (default 1,000,000; 10%
#                           duplicates, 10% updates, 2% late)
#   BENCH_SPARK_PARTITIONS  topic partitions (default 6, as the Makefile's topic)
#   BENCH_SPARK_BATCH       most events per micro-batch, both engines
#                           (maxOffsetsPerTrigger / trigger.max_batch_records;
#                           default 100,000)
#
#   bash bench/spark.sh BUILD_DIR SCRATCH_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
DIR=${2:-$BUILD/bench}
N=${BENCH_SPARK_EVENTS:-1000000}
PARTS=${BENCH_SPARK_PARTITIONS:-6}
MAXB=${BENCH_SPARK_BATCH:-100000}
TOPIC=movie.ratings.v1
SD="$PWD/$BUILD/streamdelta"
PY="$PWD/.cache/venv/bin/python"

bash scripts/test-support.sh >/dev/null
jars=$(bash bench/spark-jars.sh) || exit 1
mkdir -p "$DIR"
tmp=$(mktemp -d "$DIR/spark.XXXXXX")
tmp=$(cd "$tmp" && pwd)
export STREAMDELTA_LOCAL="$tmp/local.json"
broker_pid=""
cleanup() {
    [ -n "$broker_pid" ] && { kill -TERM "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; }
    bash scripts/kafka-local.sh stop "$tmp/kafka" || true
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() {
    echo "spark bench: $1" >&2
    local f
    for f in "${@:2}"; do [ -f "$f" ] && { echo "--- $f" >&2; tail -30 "$f" >&2; }; done
    exit 1
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

kafka=$(bash scripts/kafka-local.sh start "$tmp/kafka") || fail "cannot start Kafka"
"$SD" broker --registry-port 0 >"$tmp/broker.out" 2>"$tmp/broker.log" &
broker_pid=$!
for _ in $(seq 1 100); do
    [ "$(wc -l <"$tmp/broker.out")" -ge 2 ] && break
    kill -0 "$broker_pid" 2>/dev/null || fail "the registry (streamdelta broker) exited" "$tmp/broker.log"
    sleep 0.1
done
registry=$(sed -n 's/^schema.registry.url=//p' "$tmp/broker.out")
[ -n "$registry" ] || fail "the registry printed no address" "$tmp/broker.log"

"$SD" create-topic --topic "$TOPIC" --partitions "$PARTS" --bootstrap-servers "$kafka" \
    >/dev/null 2>"$tmp/topic.log" || fail "create-topic failed" "$tmp/topic.log"
echo "producing $N events into Kafka ($PARTS partitions)..." >&2
t0=$(now)
"$SD" produce --topic "$TOPIC" --count "$N" --duplicates 10% --updates 10% --late 2% --seed 42 \
    --bootstrap-servers "$kafka" --schema-registry "$registry" --quiet \
    >"$tmp/produce.out" 2>"$tmp/produce.log" || fail "produce failed" "$tmp/produce.log"
produce_s=$(secs "$t0" "$(now)")

echo "Spark 3.4.1 + Delta 2.4.0 job (local[2]), trigger availableNow..." >&2
t0=$(now)
"$PY" bench/spark_job.py --bootstrap "$kafka" --topic "$TOPIC" --table "$tmp/spark-table" \
    --checkpoint "$tmp/spark-checkpoint" --jars "$jars" --max-offsets "$MAXB" \
    >"$tmp/spark.json" 2>"$tmp/spark.log" || fail "the Spark job failed" "$tmp/spark.log"
spark_total_s=$(secs "$t0" "$(now)")

echo "streamdelta run --available-now..." >&2
t0=$(now)
"$SD" run --available-now --bootstrap-servers "$kafka" --schema-registry "$registry" \
    --table "$tmp/sd-table" --dead-letters "$tmp/dead.jsonl" --progress-json "$tmp/sd.jsonl" \
    --set trigger.max_batch_records="$MAXB" 2>"$tmp/sd.log" || fail "streamdelta run failed" "$tmp/sd.log"
sd_s=$(secs "$t0" "$(now)")

"$PY" - "$tmp" "$N" "$produce_s" "$spark_total_s" "$sd_s" <<'PY'
import json, math, sys
tmp, n, produce_s, spark_total_s, sd_s = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])

def pct(v, q):
    """Nearest rank: the smallest value with at least q of them at or below."""
    v = sorted(v)
    return v[max(0, math.ceil(q * len(v)) - 1)] if v else 0

spark = json.load(open(f"{tmp}/spark.json"))
ours = [json.loads(l) for l in open(f"{tmp}/sd.jsonl") if l.strip()]
ours = [p for p in ours if p["numInputRows"] > 0]
sd_rows = sum(p["numInputRows"] for p in ours)
sd_ms = [p["durationMs"]["triggerExecution"] for p in ours]
sp_ms = [b["ms"] for b in spark["batches"]]
print(f"topic: {n} events, produced in {produce_s:.1f} s ({n / produce_s:,.0f} events/s)")
fmt = "{:<48} {:>9} {:>9} {:>12} {:>8} {:>9} {:>9}"
print(fmt.format("engine", "events", "seconds", "events/s", "batches", "p50 ms", "p99 ms"))
rows = [
    ("Spark job: query (JVM started)", spark["rows"], spark["query_s"], sp_ms),
    ("Spark job: with JVM start and table creation", spark["rows"], spark_total_s, sp_ms),
    ("streamdelta run --available-now (whole process)", sd_rows, sd_s, sd_ms),
]
for name, r, s, ms in rows:
    print(fmt.format(name, r, f"{s:.2f}", f"{r / s:,.0f}", len(ms), pct(ms, 0.5), pct(ms, 0.99)))
ratio = (sd_rows / sd_s) / (spark["rows"] / spark["query_s"])
print(f"events/s, streamdelta (whole process) / Spark (query only): {ratio:.1f}x; "
      f"Spark session start + CREATE TABLE {spark['startup_s']:.1f} s")
PY

# Both tables must hold the same rows: delta-rs reads them.
"$PY" - "$tmp/spark-table" "$tmp/sd-table" <<'PY'
import sys
from deltalake import DeltaTable

def rows(path):
    t = DeltaTable(path).to_pyarrow_table().to_pylist()
    return {r["event_id"]: (r["user_id"], r["movie_id"], round(r["rating"], 1), r["is_approved"],
                            r["rating_timestamp"], str(r["rating_date"])) for r in t}, len(t)

spark, ns = rows(sys.argv[1])
ours, no = rows(sys.argv[2])
diff = sum(1 for k in spark.keys() | ours.keys() if spark.get(k) != ours.get(k))
print(f"tables: Spark {ns} rows ({ns - len(spark)} repeated event_ids), streamdelta {no} rows "
      f"({no - len(ours)} repeated); "
      + ("same content" if diff == 0 and ns == no else f"DIFFERENT: {diff} event_ids differ"))
sys.stdout.flush()
PY
