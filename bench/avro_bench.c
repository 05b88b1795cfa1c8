/*
 * avro_bench.c - decoding speed of Confluent-framed movie-rating records:
 * streamdelta's compiled decoder into columnar batches beside Apache
 * avro-c's generic decoding (avro_value_read into one reused avro_value) of
 * the same bytes, one core each.
 *
 *   avro_bench ours   N    decode N records with streamdelta
 *   avro_bench avroc  N    decode N records with avro-c
 *   avro_bench verify      both decoders agree on the pool's values
 *
 * Prints "name records seconds". Records come from a pool of 100,000
 * distinct bodies generated from a fixed seed (UUID strings, ratings 0..10
 * with one decimal, epoch-second timestamps), cycled to reach N, so the
 * data is the same in every run and larger than the CPU caches.
 */
#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro.h"

#define POOL 100000
#define BATCH_ROWS 65536

static const char *movie_schema =
    "{\"type\":\"record\",\"name\":\"MovieRating\",\"namespace\":\"io.movies\",\"fields\":["
    "{\"name\":\"event_id\",\"type\":\"string\"},{\"name\":\"user_id\",\"type\":\"string\"},"
    "{\"name\":\"movie_id\",\"type\":\"string\"},{\"name\":\"rating\",\"type\":\"float\"},"
    "{\"name\":\"rating_timestamp\",\"type\":\"long\"}]}";

typedef struct pool {
    sd_buf bytes;
    size_t off[POOL + 1];
} pool;

static uint64_t next_rand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void put_long(sd_buf *b, int64_t v) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z >= 0x80) {
        sd_buf_append_byte(b, (uint8_t)(z | 0x80));
        z >>= 7;
    }
    sd_buf_append_byte(b, (uint8_t)z);
}

static void put_uuid(sd_buf *b, uint64_t *seed) {
    char u[37];
    uint64_t hi = next_rand(seed), lo = next_rand(seed);
    snprintf(u, sizeof(u), "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(hi >> 32),
             (unsigned)(hi >> 16) & 0xffff, (unsigned)hi & 0xfff,
             (unsigned)(0x8000 | ((lo >> 48) & 0x3fff)),
             (unsigned long long)(lo & 0xffffffffffffULL));
    put_long(b, 36);
    sd_buf_append(b, u, 36);
}

static void make_pool(pool *p) {
    uint64_t seed = 0x5eed5eed12345678ULL;
    memset(&p->bytes, 0, sizeof(p->bytes));
    for (int i = 0; i < POOL; i++) {
        p->off[i] = p->bytes.len;
        avro_wire_header(1, &p->bytes);
        put_uuid(&p->bytes, &seed);
        put_uuid(&p->bytes, &seed);
        put_uuid(&p->bytes, &seed);
        float rating = (float)(next_rand(&seed) % 101) / 10.0f;
        sd_buf_append(&p->bytes, &rating, 4);
        put_long(&p->bytes, 1700000000 + (int64_t)(next_rand(&seed) % 10000000));
    }
    p->off[POOL] = p->bytes.len;
}

static double seconds_since(int64_t t0) {
    return (double)(sd_now_ns() - t0) / 1e9;
}

/* streamdelta: wire format + program into columns; a full batch is reset,
 * as the pipeline hands it on. Returns the sum of timestamps (checks). */
static int run_ours(const pool *p, long n, double *secs, int64_t *sum) {
    sd_error err = {0};
    avro_schema *s = avro_schema_parse(movie_schema, strlen(movie_schema), &err);
    sd_schema *cols = NULL;
    if (s == NULL || avro_to_sd_schema(s, NULL, &cols, &err) != SD_OK) goto fail;
    avro_stream *st = avro_stream_new(s, cols, NULL, NULL, &err);
    if (st == NULL || avro_stream_add_writer(st, 1, s, &err) != SD_OK) goto fail;
    sd_batch b;
    sd_batch_init(&b, cols);
    avro_reject rej;
    *sum = 0;
    int64_t t0 = sd_now_ns();
    for (long i = 0, k = 0; i < n; i++) {
        if (avro_stream_decode(st, &b, p->bytes.data + p->off[k], p->off[k + 1] - p->off[k],
                               "bench", 0, i, &rej, &err) != SD_OK)
            goto fail;
        if (++k == POOL) k = 0;
        if (b.nrows == BATCH_ROWS) {
            *sum += ((int64_t *)b.cols[4].values)[BATCH_ROWS - 1];
            sd_batch_reset(&b);
        }
    }
    *secs = seconds_since(t0);
    sd_batch_free(&b);
    avro_stream_free(st);
    sd_schema_free(cols);
    avro_schema_free(s);
    return 0;
fail:
    fprintf(stderr, "avro_bench: %s\n", err.msg);
    return 1;
}

/* avro-c: strip the same 5-byte header, then avro_value_read. */
static int run_avroc(const pool *p, long n, double *secs, int64_t *sum, float *ratings) {
    avro_schema_t schema;
    if (avro_schema_from_json_length(movie_schema, strlen(movie_schema), &schema) != 0) goto fail;
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t value;
    avro_generic_value_new(iface, &value);
    avro_reader_t reader = avro_reader_memory(NULL, 0);
    *sum = 0;
    int64_t t0 = sd_now_ns();
    for (long i = 0, k = 0; i < n; i++) {
        const uint8_t *m = p->bytes.data + p->off[k];
        size_t len = p->off[k + 1] - p->off[k];
        if (len < 5 || m[0] != 0) goto fail;
        avro_reader_memory_set_source(reader, (const char *)m + 5, (int64_t)(len - 5));
        if (avro_value_read(reader, &value) != 0) goto fail;
        if (ratings) {
            avro_value_t f;
            avro_value_get_by_index(&value, 3, &f, NULL);
            avro_value_get_float(&f, &ratings[k]);
        }
        if (++k == POOL) k = 0;
        if (i % BATCH_ROWS == BATCH_ROWS - 1) {
            avro_value_t f;
            int64_t ts;
            avro_value_get_by_index(&value, 4, &f, NULL);
            avro_value_get_long(&f, &ts);
            *sum += ts;
        }
    }
    *secs = seconds_since(t0);
    avro_reader_free(reader);
    avro_value_decref(&value);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    return 0;
fail:
    fprintf(stderr, "avro_bench: avro-c: %s\n", avro_strerror());
    return 1;
}

static int verify(const pool *p) {
    /* Same checksums over the same records, and every rating equal. */
    double s1, s2;
    int64_t sum1, sum2;
    float *ratings = calloc(POOL, sizeof(float));
    if (run_ours(p, 4 * BATCH_ROWS, &s1, &sum1) || run_avroc(p, POOL, &s2, &sum2, ratings))
        return 1;
    if (run_avroc(p, 4 * BATCH_ROWS, &s2, &sum2, NULL)) return 1;
    int bad = sum1 != sum2;
    /* ours again over the whole pool, comparing ratings row by row */
    sd_error err = {0};
    avro_schema *s = avro_schema_parse(movie_schema, strlen(movie_schema), &err);
    sd_schema *cols = NULL;
    avro_to_sd_schema(s, NULL, &cols, &err);
    avro_stream *st = avro_stream_new(s, cols, NULL, NULL, &err);
    avro_stream_add_writer(st, 1, s, &err);
    sd_batch b;
    sd_batch_init(&b, cols);
    avro_reject rej;
    for (int k = 0; k < POOL; k++)
        if (avro_stream_decode(st, &b, p->bytes.data + p->off[k], p->off[k + 1] - p->off[k], "v", 0,
                               k, &rej, &err) != SD_OK ||
            ((float *)b.cols[3].values)[k] != ratings[k])
            bad = 1;
    printf("verify %s (timestamp checksum %lld vs %lld, %d ratings compared)\n",
           bad ? "FAILED" : "ok", (long long)sum1, (long long)sum2, POOL);
    sd_batch_free(&b);
    avro_stream_free(st);
    sd_schema_free(cols);
    avro_schema_free(s);
    free(ratings);
    return bad;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: avro_bench ours|avroc N | verify\n");
        return 2;
    }
    pool *p = calloc(1, sizeof(pool));
    make_pool(p);
    long n = argc > 2 ? atol(argv[2]) : 10000000;
    double secs = 0;
    int64_t sum = 0;
    int rc;
    if (strcmp(argv[1], "verify") == 0)
        rc = verify(p);
    else if (strcmp(argv[1], "ours") == 0)
        rc = run_ours(p, n, &secs, &sum);
    else if (strcmp(argv[1], "avroc") == 0)
        rc = run_avroc(p, n, &secs, &sum, NULL);
    else
        rc = 2;
    if (rc == 0 && strcmp(argv[1], "verify") != 0) printf("%s %ld %.3f\n", argv[1], n, secs);
    sd_buf_free(&p->bytes);
    free(p);
    return rc;
}
