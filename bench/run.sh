#!/usr/bin/env bash
# make bench: every benchmark of the project, each beside its reference,
# run on the same data in the same run. Figures only; nothing here asserts.
#
#   BENCH_ROWS   rows for the Parquet benchmark (default 10,000,000)
#   BENCH_DIR    scratch directory (default build/bench; needs ~3 GB)
#   BENCH_MAINT_FILES, BENCH_MAINT_MB  OPTIMIZE input: files and total MB
#                (default 10,000 files, ~1,000 MB; needs twice that on disk)
#   BENCH_DELTA_COMMITS, BENCH_DELTA_FILES, BENCH_DELTA_ROWS  Delta section:
#                log of 10,000 commits adding 100,000 files; 10,000,000 rows
#
#   BENCH_ENGINE_EVENTS  engine section: events read from an Avro file
#                (default 10,000,000; the file is kept in bench/out/)
#
#   BENCH_FRESH_RATE, BENCH_FRESH_SECONDS, BENCH_FRESH_PARTITIONS,
#   BENCH_FRESH_MERGES  freshness section: 20,000 events/s for 60 s into 32
#                partitions, copy-on-write then deletion vectors ("cow dv")
#   BENCH_SPARK_EVENTS, BENCH_SPARK_PARTITIONS, BENCH_SPARK_BATCH  spark
#                section: 1,000,000 events, 6 partitions, 100,000 per batch
#   BENCH_KEEP=1 keep the scratch directories of freshness and spark
#
#   bash bench/run.sh [SECTION]   one section (parquet, avro, optimize,
#                                 delta, engine, freshness, spark); all of
#                                 them without an argument
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROWS=${BENCH_ROWS:-10000000}
DIR=${BENCH_DIR:-$BUILD/bench}
ONLY=${1:-all}
case "$ONLY" in
    all | parquet | avro | optimize | delta | engine | freshness | spark) ;;
    *) echo "bench/run.sh: unknown section '$ONLY' (parquet, avro, optimize, delta, engine, freshness, spark)" >&2; exit 2 ;;
esac
section() { [ "$ONLY" = all ] || [ "$ONLY" = "$1" ]; }
mkdir -p "$DIR"
bash scripts/test-support.sh >/dev/null

rate() { awk -v r="$1" -v s="$2" 'BEGIN { printf "%.2f M rows/s", r / s / 1e6 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
secs_of() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f MB/s", b / s / 1e6 }'; }

if section parquet; then
make --no-print-directory "$BUILD/pq_bench" >/dev/null
echo "== Parquet: movie-ratings schema, $ROWS rows, one process =="
input="$DIR/input.parquet"
if [ ! -f "$input" ] || [ "$(cat "$DIR/input.rows" 2>/dev/null)" != "$ROWS" ]; then
    echo "generating input ($ROWS rows, uncompressed)..."
    "$BUILD/pq_bench" gen "$ROWS" "$input"
    echo "$ROWS" >"$DIR/input.rows"
fi

printf '%-34s %10s %16s %12s\n' "step" "seconds" "rate" "file size"
for codec in snappy zstd; do
    read -r _ rows secs bytes < <("$BUILD/pq_bench" write "$input" "$codec" "$DIR/ours-$codec.parquet")
    printf '%-34s %10s %16s %12s\n' "write $codec: streamdelta" "$secs" "$(rate "$rows" "$secs")" "$(mb "$bytes")"
    for threads in 1 2; do
        read -r _ rows secs bytes < <(node bench/duckdb_parquet.mjs write "$input" "$codec" "$DIR/duckdb-$codec.parquet" "$threads")
        printf '%-34s %10s %16s %12s\n' "write $codec: DuckDB ($threads thread$([ "$threads" = 1 ] || echo s))" "$secs" "$(rate "$rows" "$secs")" "$(mb "$bytes")"
    done
    for file in ours duckdb; do
        read -r _ rows secs _ < <("$BUILD/pq_bench" read "$DIR/$file-$codec.parquet")
        printf '%-34s %10s %16s\n' "read $codec ($file file): streamdelta" "$secs" "$(rate "$rows" "$secs")"
        for threads in 1 2; do
            read -r _ rows secs _ < <(node bench/duckdb_parquet.mjs read "$DIR/$file-$codec.parquet" "$threads")
            printf '%-34s %10s %16s\n' "read $codec ($file file): DuckDB x$threads" "$secs" "$(rate "$rows" "$secs")"
        done
    done
done
fi

# Avro: our compiled decoder into columnar batches beside avro-c's generic
# decoding (avro_value_read into a reused value) of the same framed bytes.
# Each side runs 3 times; the best time counts (the machine is shared).
AVRO_RECORDS=${BENCH_AVRO_RECORDS:-10000000}
if section avro; then
make --no-print-directory "$BUILD/avro_bench" >/dev/null
echo
echo "== Avro: movie-rating records (Confluent framed), $AVRO_RECORDS records, one core each =="
"$BUILD/avro_bench" verify
best_of_3() {
    for _ in 1 2 3; do "$BUILD/avro_bench" "$1" "$AVRO_RECORDS" | awk '{print $3}'; done | sort -n | head -1
}
ours_secs=$(best_of_3 ours)
avroc_secs=$(best_of_3 avroc)
printf '%-34s %10s %16s\n' "decoder" "seconds" "rate"
printf '%-34s %10s %16s\n' "decode: streamdelta (batches)" "$ours_secs" "$(rate "$AVRO_RECORDS" "$ours_secs")"
printf '%-34s %10s %16s\n' "decode: avro-c avro_value_read" "$avroc_secs" "$(rate "$AVRO_RECORDS" "$avroc_secs")"
awk -v a="$avroc_secs" -v o="$ours_secs" 'BEGIN { printf "streamdelta / avro-c: %.1fx\n", a / o }'
fi

# OPTIMIZE: many small files compacted into 256 MB files, beside the plain
# sequential copy rate of the same bytes on this machine in the same run
# (cat to /dev/null: reading only; cp: reading and writing, what OPTIMIZE
# must at least do). Sized by BENCH_MAINT_FILES (default 10,000 files) and
# BENCH_MAINT_MB (default ~1,000 MB in total).
MAINT_FILES=${BENCH_MAINT_FILES:-10000}
MAINT_MB=${BENCH_MAINT_MB:-1000}
if section optimize; then
make --no-print-directory "$BUILD/maint_bench" >/dev/null
echo
echo "== OPTIMIZE: $MAINT_FILES files, ~$MAINT_MB MB, into 256 MB files =="
mtable="$DIR/optimize-table"
rm -rf "$mtable" "$DIR/optimize-copy"
"$BUILD/maint_bench" gen "$mtable" "$MAINT_FILES" "$MAINT_MB" >/dev/null
mbytes=$(find "$mtable" -name '*.parquet' -not -path '*/_delta_log/*' -printf '%s\n' | awk '{s += $1} END {print s}')
cat_secs=$(secs_of bash -c "find '$mtable' -name '*.parquet' -not -path '*/_delta_log/*' -print0 | xargs -0 cat")
cp_secs=$(secs_of cp -r "$mtable" "$DIR/optimize-copy")
rm -rf "$DIR/optimize-copy"
opt_secs=$(secs_of "$BUILD/streamdelta" optimize "$mtable" --target-size 256MB)
printf '%-34s %10s %16s\n' "step ($(mb "$mbytes"))" "seconds" "rate"
printf '%-34s %10s %16s\n' "cat files > /dev/null" "$cat_secs" "$(mbps "$mbytes" "$cat_secs")"
printf '%-34s %10s %16s\n' "cp -r of the table" "$cp_secs" "$(mbps "$mbytes" "$cp_secs")"
printf '%-34s %10s %16s\n' "streamdelta optimize" "$opt_secs" "$(mbps "$mbytes" "$opt_secs")"
"$BUILD/streamdelta" history "$mtable" --limit 1 --format jsonl | head -c 600; echo
rm -rf "$mtable"
fi

# Delta: snapshot load of a long log (COMMITS commits adding FILES live
# files, tiny real Parquet files) from the JSON commits alone, then from a
# checkpoint at the last version; and `show --format csv` of ROWS rows.
# Each beside DuckDB running the log replay of tests/support/delta_replay.mjs
# (bench/duckdb_delta.mjs) on the same table in the same run. Loads are the
# best of 3 (the machine is shared); the page cache is warm for both sides.
DELTA_COMMITS=${BENCH_DELTA_COMMITS:-10000}
DELTA_FILES=${BENCH_DELTA_FILES:-100000}
DELTA_ROWS=${BENCH_DELTA_ROWS:-10000000}
DELTA_THREADS=${BENCH_DELTA_THREADS:-1 2}
if section delta; then
make --no-print-directory "$BUILD/delta_bench" "$BUILD/streamdelta" >/dev/null
echo
echo "== Delta: snapshot load ($DELTA_COMMITS commits, $DELTA_FILES files) and show csv ($DELTA_ROWS rows) =="
ltable="$DIR/delta-log"
if [ "$(cat "$DIR/delta-log.size" 2>/dev/null)" != "$DELTA_COMMITS $DELTA_FILES" ]; then
    rm -rf "$ltable" "$DIR/delta-log.size"
    "$BUILD/delta_bench" gen-log "$ltable" "$DELTA_COMMITS" "$DELTA_FILES" >/dev/null
    echo "$DELTA_COMMITS $DELTA_FILES" >"$DIR/delta-log.size"
fi
# A kept table may hold the checkpoint of an earlier run: start without it.
rm -f "$ltable"/_delta_log/*.checkpoint*.parquet "$ltable/_delta_log/_last_checkpoint"
rtable="$DIR/delta-rows"
if [ "$(cat "$DIR/delta-rows.size" 2>/dev/null)" != "$DELTA_ROWS" ]; then
    rm -rf "$rtable" "$DIR/delta-rows.size"
    "$BUILD/delta_bench" gen-rows "$rtable" "$DELTA_ROWS" >/dev/null
    echo "$DELTA_ROWS" >"$DIR/delta-rows.size"
fi
fps() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f files/s", n / s }'; }
printf '%-46s %10s %18s\n' "step" "seconds" "rate"
delta_loads() {
    local label="$1" files secs
    read -r _ files secs _ < <("$BUILD/delta_bench" load "$ltable" 3)
    printf '%-46s %10s %18s\n' "load $label: streamdelta" "$secs" "$(fps "$files" "$secs")"
    for threads in $DELTA_THREADS; do
        read -r _ files secs _ < <(node bench/duckdb_delta.mjs replay "$ltable" "$threads" 3)
        printf '%-46s %10s %18s\n' "load $label: DuckDB replay x$threads" "$secs" "$(fps "$files" "$secs")"
    done
}
delta_loads "from $DELTA_COMMITS commits"
read -r _ cp_version cp_secs < <("$BUILD/delta_bench" checkpoint "$ltable")
printf '%-46s %10s %18s\n' "write checkpoint (v$cp_version): streamdelta" "$cp_secs" "$(fps "$DELTA_FILES" "$cp_secs")"
delta_loads "from the checkpoint"
show_secs=$(secs_of "$BUILD/streamdelta" show "$rtable" --format csv --limit 0)
printf '%-46s %10s %18s\n' "show csv $DELTA_ROWS rows: streamdelta" "$show_secs" "$(rate "$DELTA_ROWS" "$show_secs")"
for threads in $DELTA_THREADS; do
    read -r _ rows secs _ < <(node bench/duckdb_delta.mjs csv "$rtable" "$threads" /dev/null)
    printf '%-46s %10s %18s\n' "replay + COPY csv $rows rows: DuckDB x$threads" "$secs" "$(rate "$rows" "$secs")"
done
fi

# Engine: the whole stream (decode, derive, late, dedupe, MERGE, commit)
# from an Avro container file into a fresh table, copy-on-write and
# deletion vectors (bench/engine.sh). Goal: 1M events/s copy-on-write on
# 2 cores, peak RSS under 2 GiB.
if section engine; then
make --no-print-directory "$BUILD/streamdelta" >/dev/null
echo
echo "== Engine: ${BENCH_ENGINE_EVENTS:-10000000} movie-rating events from an Avro file (10% duplicates, 10% updates, 2% late) =="
bash bench/engine.sh "$BUILD"
fi

# Freshness: events produced at a steady rate into the local broker while
# `streamdelta run` (fast trigger) upserts them; per event, produced ->
# visible in the table (the commit covering its offset appeared), beside a
# raw librdkafka tail of the same topic (the floor); then the same events
# drained raw by librdkafka (the ceiling) and by run --available-now
# (bench/freshness.sh). Goal: p99 under 1 s.
if section freshness; then
make --no-print-directory "$BUILD/streamdelta" "$BUILD/freshness" >/dev/null
echo
echo "== Freshness: ${BENCH_FRESH_RATE:-20000} events/s for ${BENCH_FRESH_SECONDS:-60} s through the local broker =="
bash bench/freshness.sh "$BUILD" "$DIR"
fi

# Spark: the replaced PySpark 3.4.1 + Delta 2.4.0 MERGE job and
# run --available-now on the same real-Kafka topic, one after the other;
# events/s and batch durations side by side, tables compared (bench/spark.sh).
if section spark; then
make --no-print-directory "$BUILD/streamdelta" >/dev/null
echo
echo "== Spark: the replaced job beside streamdelta, ${BENCH_SPARK_EVENTS:-1000000} events in a real Kafka topic =="
bash bench/spark.sh "$BUILD" "$DIR"
fi
