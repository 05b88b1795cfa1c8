/*
 * test_avro_util.h - hand encoders for Avro binary used by the Avro unit
 * tests (written from the spec's "Binary Encoding" section, independent of
 * the decoder under test), and small helpers to build schemas and batches.
 */
#ifndef TEST_AVRO_UTIL_H
#define TEST_AVRO_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "avro/avro.h"
#include "unit.h"

static inline void enc_long(sd_buf *b, int64_t v) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    do {
        uint8_t byte = z & 0x7f;
        z >>= 7;
        sd_buf_append_byte(b, (uint8_t)(byte | (z ? 0x80 : 0)));
    } while (z);
}

static inline void enc_str(sd_buf *b, const char *s) {
    enc_long(b, (int64_t)strlen(s));
    sd_buf_append(b, s, strlen(s));
}

static inline void enc_float(sd_buf *b, float f) {
    sd_buf_append(b, &f, 4);
}
static inline void enc_double(sd_buf *b, double d) {
    sd_buf_append(b, &d, 8);
}

/* Parse a schema that the test knows is valid. */
static inline avro_schema *must_schema(const char *json) {
    sd_error err = {0};
    avro_schema *s = avro_schema_parse(json, strlen(json), &err);
    if (s == NULL) unit_fail(__FILE__, __LINE__, "schema did not parse: %s", err.msg);
    return s;
}

/* A reader, its columns, a program from `writer` and a batch, together. */
typedef struct avro_fixture {
    avro_schema *writer, *reader;
    sd_schema *cols;
    avro_program *prog;
    sd_batch batch;
    sd_error err;
} avro_fixture;

static inline bool fixture_open(avro_fixture *fx, const char *writer_json, const char *reader_json,
                                const avro_decode_opts *opts) {
    memset(fx, 0, sizeof(*fx));
    fx->writer = must_schema(writer_json);
    fx->reader = reader_json ? must_schema(reader_json) : NULL;
    const avro_schema *r = fx->reader ? fx->reader : fx->writer;
    if (fx->writer == NULL || r == NULL) return false;
    if (avro_to_sd_schema(r, opts ? &opts->map : NULL, &fx->cols, &fx->err) != SD_OK) return false;
    fx->prog = avro_program_compile(fx->writer, r, fx->cols, opts, &fx->err);
    if (fx->prog == NULL) return false;
    sd_batch_init(&fx->batch, fx->cols);
    return true;
}

static inline void fixture_close(avro_fixture *fx) {
    if (fx->prog) sd_batch_free(&fx->batch);
    avro_program_free(fx->prog);
    sd_schema_free(fx->cols);
    avro_schema_free(fx->reader);
    avro_schema_free(fx->writer);
}

/* Decode one body; returns the status and leaves the reason in *rej. */
static inline sd_status fixture_decode(avro_fixture *fx, const sd_buf *body, avro_reject *rej) {
    memset(rej, 0, sizeof(*rej));
    sd_error_clear(&fx->err);
    return avro_program_decode(fx->prog, &fx->batch, body->data, body->len, rej, &fx->err);
}

static inline const char *col_str(const sd_column *c, size_t row, size_t *n) {
    *n = (size_t)(c->offsets[row + 1] - c->offsets[row]);
    return (const char *)c->data.data + c->offsets[row];
}

static inline bool col_str_is(const sd_column *c, size_t row, const char *want) {
    size_t n;
    const char *s = col_str(c, row, &n);
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

#endif
