/*
 * pq_bench.c - Parquet write and read throughput on the movie-ratings table
 * schema (DESIGN.md), for `make bench`.
 *
 *   pq_bench gen ROWS OUT.parquet        write the data set once, uncompressed
 *                                         (the input both engines start from)
 *   pq_bench write IN.parquet CODEC OUT  time our writer on IN's rows
 *   pq_bench read FILE                    time our full read of FILE
 *
 * Data: event_id unique UUIDs, user_id from 200k users, movie_id from 20k
 * movies, rating 0..10 with one decimal, is_approved = rating >= 7,
 * rating_timestamp within the last 30 days, rating_date its UTC date. The
 * generator is seeded, so every run measures the same bytes.
 *
 * Timings cover only the measured step: generation and loading are outside
 * the clock. Results are printed as one line "name rows seconds bytes".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/parquet.h"
#include "bench_common.h"

static int bench_gen(long rows, const char *out) {
    sd_schema *s = bench_movie_schema();
    sd_batch b;
    sd_batch_init(&b, s);
    const int64_t now = 1795000000; /* a fixed "now" keeps runs identical */
    bench_rng rng = {0x9E3779B97F4A7C15ull};
    char id[SD_UUID_TEXT_SIZE];
    for (long i = 0; i < rows; i++) {
        sd_uuid_from_words(bench_next(&rng), bench_next(&rng), id);
        sd_column_append_bytes(&b.cols[0], id, 36);
        sd_uuid_from_words(0x1111 + bench_next(&rng) % 200000, 0x2222, id);
        sd_column_append_bytes(&b.cols[1], id, 36);
        sd_uuid_from_words(0x3333 + bench_next(&rng) % 20000, 0x4444, id);
        sd_column_append_bytes(&b.cols[2], id, 36);
        float rating = (float)(bench_next(&rng) % 101) / 10.0f;
        sd_column_append_float(&b.cols[3], rating);
        sd_column_append_bool(&b.cols[4], rating >= 7.0f);
        int64_t ts = now - (int64_t)(bench_next(&rng) % (30 * 86400));
        sd_column_append_i64(&b.cols[5], ts);
        sd_column_append_i32(&b.cols[6], (int32_t)(ts / 86400));
    }
    b.nrows = (size_t)rows;
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.codec = PQ_CODEC_UNCOMPRESSED;
    o.dictionary = false;
    sd_error err = {0};
    int rc = pq_write_file(out, &b, &o, NULL, &err) == SD_OK ? 0 : 1;
    if (rc) fprintf(stderr, "pq_bench gen: %s\n", err.msg);
    sd_batch_free(&b);
    sd_schema_free(s);
    return rc;
}

/* Load every row group of `path` into memory (outside the clock). */
static int bench_load(const char *path, sd_batch **groups, int *ngroups, sd_error *err) {
    pq_file *f = pq_file_open(path, err);
    if (f == NULL) return 1;
    *ngroups = pq_file_num_row_groups(f);
    *groups = sd_xcalloc((size_t)*ngroups, sizeof(sd_batch));
    for (int rg = 0; rg < *ngroups; rg++)
        if (pq_read_row_group(f, rg, NULL, 0, &(*groups)[rg], err) != SD_OK) return 1;
    /* The batches borrow their schema from the file, which stays open. */
    return 0;
}

static int bench_write(const char *in, const char *codec_name, const char *out) {
    sd_error err = {0};
    sd_batch *groups;
    int ngroups;
    pq_codec codec;
    if (pq_codec_parse(codec_name, &codec, &err) != SD_OK ||
        bench_load(in, &groups, &ngroups, &err)) {
        fprintf(stderr, "pq_bench write: %s\n", err.msg);
        return 1;
    }
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.codec = codec;
    int64_t t0 = sd_now_ns();
    pq_writer *w = pq_writer_open(out, groups[0].schema, &o, &err);
    long rows = 0;
    for (int i = 0; w && i < ngroups; i++) {
        if (pq_writer_write(w, &groups[i], &err) != SD_OK) {
            w = NULL;
            break;
        }
        rows += (long)groups[i].nrows;
    }
    pq_file_summary sum = {0};
    if (w == NULL || pq_writer_close(w, &sum, &err) != SD_OK) {
        fprintf(stderr, "pq_bench write: %s\n", err.msg);
        return 1;
    }
    double secs = (double)(sd_now_ns() - t0) / 1e9;
    printf("write %ld %.3f %lld\n", rows, secs, (long long)sum.file_size);
    pq_file_summary_free(&sum);
    return 0;
}

/* The aggregate both engines compute in the read benchmark, so that each
 * must decode every value: DuckDB runs the same expressions in SQL. */
typedef struct bench_agg {
    sd_value min_event, max_user, max_movie;
    double sum_rating;
    long approved;
    int64_t sum_ts;
    int64_t max_date;
} bench_agg;

/* The first 16 bytes of a string as a big-endian number (zero-padded), so
 * that comparing two prefixes as integers orders them as memcmp would. 16,
 * not 8: the benchmark's user and movie ids share their first 9 bytes. */
typedef unsigned __int128 bench_u128;

static inline bench_u128 bench_prefix(const uint8_t *p, size_t len) {
    uint64_t w[2] = {0, 0};
    if (len >= 16)
        memcpy(w, p, 16); /* constant size: two loads, no call */
    else
        memcpy(w, p, len);
    return (bench_u128)__builtin_bswap64(w[0]) << 64 | __builtin_bswap64(w[1]);
}

/* Bytewise comparison of two strings, shorter first on a tie. */
static int bench_cmp(const uint8_t *a, size_t la, const uint8_t *b, size_t lb) {
    int cmp = memcmp(a, b, la < lb ? la : lb);
    return cmp ? cmp : (la > lb) - (la < lb);
}

/* min (want -1) or max (want 1) of a string column: compare in place,
 * copy the winner once per batch. The running best's 16-byte prefix decides
 * almost every comparison without a memcmp call (as DuckDB's inlined string
 * prefixes do); equal prefixes fall back to the full comparison. On 2M
 * 36-byte ids (random, and the user-id shape) this took one column's
 * aggregate from ~22-26 ms to ~10-15 ms of CPU. */
static void bench_agg_string(const sd_column *c, sd_value *best, int want) {
    const uint8_t *data = c->data.data;
    const int64_t *off = c->offsets;
    size_t bi = SIZE_MAX;
    bench_u128 bp = 0;
    for (size_t r = 0; r < c->len; r++) {
        if (!sd_column_is_valid(c, r)) continue;
        size_t la = (size_t)(off[r + 1] - off[r]);
        bench_u128 ap = bench_prefix(data + off[r], la);
        if (bi == SIZE_MAX) {
            bi = r;
            bp = ap;
            continue;
        }
        int cmp = (ap > bp) - (ap < bp);
        if (cmp == 0) {
            size_t lb = (size_t)(off[bi + 1] - off[bi]);
            cmp = bench_cmp(data + off[r], la, data + off[bi], lb);
        }
        if (cmp * want > 0) {
            bi = r;
            bp = ap;
        }
    }
    if (bi == SIZE_MAX) return;
    sd_value v = sd_column_get(c, bi);
    if (best->is_null || sd_value_compare(&v, best) * want > 0) {
        sd_value_clear(best);
        sd_value_copy(best, &v);
    }
}

static void bench_agg_batch(const sd_batch *b, bench_agg *a) {
    bench_agg_string(&b->cols[0], &a->min_event, -1);
    bench_agg_string(&b->cols[1], &a->max_user, 1);
    bench_agg_string(&b->cols[2], &a->max_movie, 1);
    const float *rating = b->cols[3].values;
    const uint8_t *approved = b->cols[4].values;
    const int64_t *ts = b->cols[5].values;
    const int32_t *date = b->cols[6].values;
    for (size_t r = 0; r < b->nrows; r++) {
        a->sum_rating += rating[r];
        a->approved += approved[r];
        a->sum_ts += ts[r];
        if (date[r] > a->max_date) a->max_date = date[r];
    }
}

/* A string aggregate for printing ("" when null). */
static int bench_len(const sd_value *v) {
    return v->is_null ? 0 : (int)v->u.s.len;
}
static const char *bench_str(const sd_value *v) {
    return v->is_null ? "" : (const char *)v->u.s.ptr;
}

static int bench_read(const char *path) {
    sd_error err = {0};
    bench_agg agg = {.min_event = {.is_null = true},
                     .max_user = {.is_null = true},
                     .max_movie = {.is_null = true},
                     .max_date = INT64_MIN};
    int64_t t0 = sd_now_ns();
    pq_file *f = pq_file_open(path, &err);
    if (f == NULL) {
        fprintf(stderr, "pq_bench read: %s\n", err.msg);
        return 1;
    }
    long rows = 0;
    sd_batch b = {0};
    for (int rg = 0; rg < pq_file_num_row_groups(f); rg++) {
        if (pq_read_row_group_into(f, rg, NULL, 0, &b, &err) != SD_OK) {
            fprintf(stderr, "pq_bench read: %s\n", err.msg);
            return 1;
        }
        rows += (long)b.nrows;
        bench_agg_batch(&b, &agg);
    }
    sd_batch_free(&b);
    pq_file_close(f);
    double secs = (double)(sd_now_ns() - t0) / 1e9;
    /* The string extremes too, to check the aggregate against DuckDB's. */
    printf("read %ld %.3f approved=%ld max_date=%lld min_event=%.*s max_user=%.*s "
           "max_movie=%.*s\n",
           rows, secs, agg.approved, (long long)agg.max_date, bench_len(&agg.min_event),
           bench_str(&agg.min_event), bench_len(&agg.max_user), bench_str(&agg.max_user),
           bench_len(&agg.max_movie), bench_str(&agg.max_movie));
    sd_value_clear(&agg.min_event);
    sd_value_clear(&agg.max_user);
    sd_value_clear(&agg.max_movie);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "gen") == 0) return bench_gen(atol(argv[2]), argv[3]);
    if (argc == 5 && strcmp(argv[1], "write") == 0) return bench_write(argv[2], argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "read") == 0) return bench_read(argv[2]);
    fprintf(stderr, "usage: pq_bench gen ROWS OUT | write IN CODEC OUT | read FILE\n");
    return 2;
}
