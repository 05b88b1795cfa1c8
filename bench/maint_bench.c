/*
 * maint_bench.c - input of the OPTIMIZE benchmark (bench/run.sh): a Delta
 * table of many small files, written fast.
 *
 *   maint_bench gen TABLE FILES TOTAL_MB
 *
 * Creates TABLE (the movie-ratings columns, unpartitioned) and commits
 * FILES Parquet files of about TOTAL_MB / FILES megabytes each, in commits
 * of 1000 adds (a stream's micro-batches would be smaller; the log shape
 * does not matter to OPTIMIZE, the file count and bytes do). Values are
 * pseudo-random so the files do not compress to nothing. Prints
 * "files N bytes B".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "delta/delta.h"
#include "parquet/parquet.h"
#include "bench_common.h"

#define BENCH_ADDS_PER_COMMIT 1000
/* Bytes one row takes in a snappy file of these columns (measured: the
 * random 36-character ids dominate). */
#define BENCH_BYTES_PER_ROW 58

static void bench_fill(sd_batch *b, int rows, bench_rng *rng) {
    sd_batch_reset(b);
    for (int r = 0; r < rows; r++) {
        char id[40];
        uint64_t a = bench_next(rng), c = bench_next(rng);
        int n = snprintf(id, sizeof(id), "%016llx-%016llx", (unsigned long long)a,
                         (unsigned long long)c);
        sd_column_append_bytes(&b->cols[0], id, (size_t)n);
        n = snprintf(id, sizeof(id), "u%llu", (unsigned long long)(a % 100000));
        sd_column_append_bytes(&b->cols[1], id, (size_t)n);
        n = snprintf(id, sizeof(id), "m%llu", (unsigned long long)(c % 20000));
        sd_column_append_bytes(&b->cols[2], id, (size_t)n);
        sd_column_append_float(&b->cols[3], (float)(1 + a % 9) * 0.5f);
        sd_column_append_bool(&b->cols[4], (c & 1) != 0);
        sd_column_append_i64(&b->cols[5], 1795000000000LL + (int64_t)(a % 86400000));
        sd_column_append_i32(&b->cols[6], 20780 + (int32_t)(c % 30));
        b->nrows++;
    }
}

static int bench_gen(const char *table, long files, double total_mb) {
    sd_error err = {0};
    sd_schema *schema = bench_movie_schema();
    delta_map conf = {0};
    if (delta_table_create(table, schema, NULL, 0, &conf, &err) != SD_OK) {
        fprintf(stderr, "maint_bench: %s\n", err.msg);
        return 1;
    }
    int rows = (int)(total_mb * 1e6 / (double)files / BENCH_BYTES_PER_ROW);
    if (rows < 1) rows = 1;
    bench_rng rng = {0x9e3779b97f4a7c15ULL};
    sd_batch b;
    sd_batch_init(&b, schema);
    pq_writer_options o;
    pq_writer_options_init(&o);
    int64_t bytes = 0;
    int rc = 0;
    for (long done = 0; done < files && rc == 0;) {
        delta_snapshot *s = NULL;
        if (delta_snapshot_load(table, -1, &s, &err) != SD_OK) {
            rc = 1;
            break;
        }
        delta_transaction *t = delta_transaction_begin(s, "WRITE");
        for (int k = 0; k < BENCH_ADDS_PER_COMMIT && done < files && rc == 0; k++, done++) {
            bench_fill(&b, rows, &rng);
            char rel[64];
            snprintf(rel, sizeof(rel), "part-%06ld.snappy.parquet", done);
            char *full = sd_xasprintf("%s/%s", table, rel);
            pq_file_summary sum = {0};
            if (pq_write_file(full, &b, &o, &sum, &err) != SD_OK) {
                rc = 1;
            } else {
                delta_transaction_add_written(t, rel, NULL, &sum, true);
                bytes += sum.file_size;
                pq_file_summary_free(&sum);
            }
            free(full);
        }
        if (rc == 0 && delta_transaction_commit(t, 0, NULL, &err) != SD_OK) rc = 1;
        delta_transaction_free(t);
        delta_snapshot_free(s);
    }
    if (rc != 0)
        fprintf(stderr, "maint_bench: %s\n", err.msg);
    else
        printf("files %ld bytes %lld\n", files, (long long)bytes);
    sd_batch_free(&b);
    sd_schema_free(schema);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 5 || strcmp(argv[1], "gen") != 0) {
        fprintf(stderr, "usage: maint_bench gen TABLE FILES TOTAL_MB\n");
        return 2;
    }
    long files = strtol(argv[3], NULL, 10);
    double mb = strtod(argv[4], NULL);
    if (files < 1 || mb <= 0) {
        fprintf(stderr, "maint_bench: FILES and TOTAL_MB must be positive\n");
        return 2;
    }
    return bench_gen(argv[2], files, mb);
}
