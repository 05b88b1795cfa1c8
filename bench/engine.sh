#!/usr/bin/env bash
# The engine throughput benchmark (section 'engine' of bench/run.sh):
# EVENTS movie-rating events with 10% duplicates, 10% updates and 2% late
# ones, read from an Avro container file (so no broker is measured) by
# `streamdelta run --from-avro --available-now` into a fresh table, once
# with copy-on-write merges and once with deletion vectors. Prints events/s,
# peak RSS, bytes written / bytes of the final table (write amplification),
# commits, batch size and the time per step; checks the table's row count
# (the distinct non-late keys) so a broken run is never reported as fast.
#
#   bash bench/engine.sh BUILD   (BENCH_ENGINE_EVENTS, default 10,000,000;
#                                 BENCH_ENGINE_BATCH, default: the file
#                                 source's 1,000,000; BENCH_OUT, default
#                                 bench/out: where the input file is kept)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
EVENTS=${BENCH_ENGINE_EVENTS:-10000000}
OUT=${BENCH_OUT:-bench/out}
SD="$BUILD/streamdelta"
mkdir -p "$OUT"

# The input: made once per size; remade after a day, because its event
# times are relative to when it was made and would turn late.
input="$OUT/engine-$EVENTS.avro"
if [ ! -f "$input" ] || [ ! -f "$input.new" ] || [ -n "$(find "$input" -mmin +1440)" ]; then
    echo "generating $input ($EVENTS events)..."
    "$SD" produce --to-avro "$input" --count "$EVENTS" --duplicates 10% --updates 10% --late 2% \
        --seed 42 --quiet | tee "$input.log"
    sed -n 's/.*(new \([0-9]*\),.*/\1/p' "$input.log" >"$input.new"
fi
expect_rows=$(cat "$input.new")
echo "input: $input, $(du -h "$input" | cut -f1), $(sed -n 's/.*(\(new.*\))/\1/p' "$input.log")"

# Live rows and bytes of the final table, and every byte the run wrote
# (no vacuum runs, so every data and deletion-vector file is still there).
table_figures() {
    python3 - "$1" <<'EOF'
import json, os, sys
table = sys.argv[1]
log = os.path.join(table, "_delta_log")
live = {}
for name in sorted(n for n in os.listdir(log) if n.endswith(".json")):
    for line in open(os.path.join(log, name)):
        a = json.loads(line)
        if "add" in a:
            live[a["add"]["path"]] = a["add"]
        elif "remove" in a:
            live.pop(a["remove"]["path"], None)
# The table's bytes as DESCRIBE DETAIL's sizeInBytes counts them: live
# data files (deletion vectors are small beside them, and are counted as
# written).
rows = size = 0
for add in live.values():
    rows += json.loads(add["stats"])["numRecords"]
    size += add["size"]
    dv = add.get("deletionVector")
    if dv:
        rows -= dv["cardinality"]
written = 0
for root, dirs, files in os.walk(table):
    dirs[:] = [d for d in dirs if d != "_delta_log"]
    written += sum(os.path.getsize(os.path.join(root, f)) for f in files)
print(rows, size, written)
EOF
}

run_mode() {
    local label="$1"
    shift
    local table="$OUT/engine-table" progress="$OUT/engine-progress.jsonl" tlog="$OUT/engine-time.log"
    rm -rf "$table" "$progress"
    local batch=()
    [ -n "${BENCH_ENGINE_BATCH:-}" ] && batch=(--set "trigger.max_batch_records=$BENCH_ENGINE_BATCH")
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -v "$SD" run --from-avro "$input" --table "$table" --available-now \
        --progress-json "$progress" "${batch[@]}" "$@" 2>"$tlog" >/dev/null ||
        { tail -5 "$tlog"; echo "engine: the $label run failed" >&2; return 1; }
    t1=$(date +%s.%N)
    local rss rows size written
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tlog")
    read -r rows size written < <(table_figures "$table")
    python3 - "$label" "$t0" "$t1" "$EVENTS" "$rss" "$rows" "$size" "$written" "$expect_rows" \
        "$progress" <<'EOF'
import json, sys
label, t0, t1, events, rss, rows, size, written, expect, progress = sys.argv[1:]
secs = float(t1) - float(t0)
ps = [json.loads(l) for l in open(progress) if l.strip()]
steps = {}
for p in ps:
    for k, v in p["durationMs"].items():
        steps[k] = steps.get(k, 0) + v
batch = max(p["numInputRows"] for p in ps) if ps else 0
ok = "ok" if int(rows) == int(expect) else f"WRONG: expected {int(expect):,}"
print(f"{label:<22} {secs:8.2f} s {int(events) / secs / 1e6:8.2f} M events/s"
      f"   peak RSS {int(rss) / 1048576:5.2f} GiB"
      f"   written {int(written) / 1e6:8.1f} MB / table {int(size) / 1e6:8.1f} MB"
      f" = {int(written) / max(int(size), 1):4.2f}x")
print(f"{'':<22} {len(ps)} commits of up to {batch:,} events; rows {int(rows):,} ({ok});"
      f" ms per step: decode (waiting for the read-ahead thread) {steps.get('decode', 0)}, transform {steps.get('transform', 0)},"
      f" merge step {steps.get('addBatch', 0)} (plan {steps.get('merge', 0)},"
      f" write {steps.get('write', 0)}, commit {steps.get('commit', 0)})")
EOF
}

echo "mode                      seconds      rate"
run_mode "copy-on-write"
run_mode "deletion vectors" --set sink.deletion_vectors=true
rm -rf "$OUT/engine-table"
