#!/usr/bin/env bash
# make bench: every benchmark of the project, each beside its reference,
# run on the same data in the same run. Figures only; nothing here asserts.
#
#   BENCH_ROWS   rows for the Parquet benchmark (default 10,000,000)
#   BENCH_DIR    scratch directory (default build/bench; needs ~3 GB)
#   BENCH_MAINT_FILES, BENCH_MAINT_MB  OPTIMIZE input: files and total MB
#                (default 10,000 files, ~1,000 MB; needs twice that on disk)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROWS=${BENCH_ROWS:-10000000}
DIR=${BENCH_DIR:-$BUILD/bench}
mkdir -p "$DIR"
bash scripts/test-support.sh >/dev/null
make --no-print-directory "$BUILD/pq_bench" >/dev/null

echo "== Parquet: movie-ratings schema, $ROWS rows, one process =="
input="$DIR/input.parquet"
if [ ! -f "$input" ] || [ "$(cat "$DIR/input.rows" 2>/dev/null)" != "$ROWS" ]; then
    echo "generating input ($ROWS rows, uncompressed)..."
    "$BUILD/pq_bench" gen "$ROWS" "$input"
    echo "$ROWS" >"$DIR/input.rows"
fi

rate() { awk -v r="$1" -v s="$2" 'BEGIN { printf "%.2f M rows/s", r / s / 1e6 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

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

# Avro: our compiled decoder into columnar batches beside avro-c's generic
# decoding (avro_value_read into a reused value) of the same framed bytes.
# Each side runs 3 times; the best time counts (the machine is shared).
AVRO_RECORDS=${BENCH_AVRO_RECORDS:-10000000}
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

# OPTIMIZE: many small files compacted into 256 MB files, beside the plain
# sequential copy rate of the same bytes on this machine in the same run
# (cat to /dev/null: reading only; cp: reading and writing, what OPTIMIZE
# must at least do). Sized by BENCH_MAINT_FILES (default 10,000 files) and
# BENCH_MAINT_MB (default ~1,000 MB in total).
MAINT_FILES=${BENCH_MAINT_FILES:-10000}
MAINT_MB=${BENCH_MAINT_MB:-1000}
make --no-print-directory "$BUILD/maint_bench" >/dev/null
echo
echo "== OPTIMIZE: $MAINT_FILES files, ~$MAINT_MB MB, into 256 MB files =="
mtable="$DIR/optimize-table"
rm -rf "$mtable" "$DIR/optimize-copy"
"$BUILD/maint_bench" gen "$mtable" "$MAINT_FILES" "$MAINT_MB" >/dev/null
mbytes=$(find "$mtable" -name '*.parquet' -not -path '*/_delta_log/*' -printf '%s\n' | awk '{s += $1} END {print s}')
secs_of() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f MB/s", b / s / 1e6 }'; }
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
