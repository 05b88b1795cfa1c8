#!/usr/bin/env bash
# make bench: every benchmark of the project, each beside its reference,
# run on the same data in the same run. Figures only; nothing here asserts.
#
#   BENCH_ROWS   rows for the Parquet benchmark (default 10,000,000)
#   BENCH_DIR    scratch directory (default build/bench; needs ~3 GB)
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
