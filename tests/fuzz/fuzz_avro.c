/*
 * fuzz_avro.c - libFuzzer harness over the Avro layer: Confluent framing,
 * schema resolution programs (promotions, defaults, skipped fields, unions
 * both ways, enum maps, flattening) and the binary decoder, plus Object
 * Container File parsing and its codecs.
 *
 * Input layout: byte 0 picks a writer/reader schema pair (low 3 bits), UTF-8
 * validation (0x40) and the mode (0x80: the rest is an OCF file read with
 * the pair's reader schema; otherwise the rest is a sequence of framed
 * messages, each preceded by a one-byte length). Any input must be decoded
 * or rejected; a crash, hang, leak or sanitizer report is a finding. After a
 * rejection the batch must be exactly as before (checked here).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro.h"

#define MOVIE                                                                                      \
    "{\"type\":\"record\",\"name\":\"MovieRating\",\"namespace\":\"io.movies\",\"fields\":["       \
    "{\"name\":\"event_id\",\"type\":\"string\"},{\"name\":\"user_id\",\"type\":\"string\"},"      \
    "{\"name\":\"movie_id\",\"type\":\"string\"},{\"name\":\"rating\",\"type\":\"float\"},"        \
    "{\"name\":\"rating_timestamp\",\"type\":\"long\"}]}"

#define ALL                                                                                        \
    "{\"type\":\"record\",\"name\":\"All\",\"fields\":["                                           \
    "{\"name\":\"n\",\"type\":[\"null\",\"int\"]},{\"name\":\"b\",\"type\":\"boolean\"},"          \
    "{\"name\":\"d\",\"type\":\"double\"},{\"name\":\"by\",\"type\":\"bytes\"},"                   \
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"C\",\"symbols\":[\"R\",\"G\"]}},"      \
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":3}},"                   \
    "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":[\"null\",\"string\"]}},"            \
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":{\"type\":\"record\",\"name\":\"Z\","   \
    "\"fields\":[]}}},"                                                                            \
    "{\"name\":\"sub\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"S\",\"fields\":["        \
    "{\"name\":\"x\",\"type\":\"int\"}]}]},"                                                       \
    "{\"name\":\"dec\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":30," \
    "\"scale\":2}},"                                                                               \
    "{\"name\":\"decf\",\"type\":{\"type\":\"fixed\",\"name\":\"D\",\"size\":9,\"logicalType\":"   \
    "\"decimal\",\"precision\":20}},"                                                              \
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}}]}"

#define W_EVOLVE                                                                                   \
    "{\"type\":\"record\",\"name\":\"old.R\",\"fields\":["                                         \
    "{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"u\",\"type\":[\"long\",\"string\",\"null\"]},"  \
    "{\"name\":\"gone\",\"type\":{\"type\":\"map\",\"values\":[\"null\",{\"type\":\"array\","      \
    "\"items\":\"bytes\"}]}},"                                                                     \
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}}" \
    ","                                                                                            \
    "{\"name\":\"s\",\"type\":\"bytes\"}]}"

#define R_EVOLVE                                                                                   \
    "{\"type\":\"record\",\"name\":\"new.R\",\"aliases\":[\"old.R\"],\"fields\":["                 \
    "{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"a\",\"type\":\"double\"},"                   \
    "{\"name\":\"u\",\"type\":[\"null\",\"double\"]},"                                             \
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"C\",\"Z\"],"        \
    "\"default\":\"Z\"}},"                                                                         \
    "{\"name\":\"p\",\"type\":{\"type\":\"record\",\"name\":\"P\",\"fields\":[{\"name\":\"x\","    \
    "\"type\":\"int\"}]},\"default\":{\"x\":1}},"                                                  \
    "{\"name\":\"l\",\"type\":{\"type\":\"array\",\"items\":\"long\"},\"default\":[1,2]}]}"

#define NESTED                                                                                     \
    "{\"type\":\"record\",\"name\":\"N\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"},"         \
    "{\"name\":\"a\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"A\",\"fields\":["          \
    "{\"name\":\"x\",\"type\":\"int\"},{\"name\":\"b\",\"type\":{\"type\":\"record\",\"name\":"    \
    "\"B\",\"fields\":["                                                                           \
    "{\"name\":\"y\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"map\",\"values\":"         \
    "\"string\"}}}]}}]}]}]}"

#define TOP_UNION "[\"null\"," MOVIE "]"

static const struct {
    const char *writer, *reader;
    int flatten;
} pairs[8] = {
    {MOVIE, MOVIE, 0},   {ALL, ALL, 0},         {W_EVOLVE, R_EVOLVE, 0}, {NESTED, NESTED, 1},
    {NESTED, NESTED, 0}, {TOP_UNION, MOVIE, 0}, {ALL, ALL, 1},           {W_EVOLVE, R_EVOLVE, 1},
};

static size_t column_bytes(const sd_column *c) {
    size_t n = c->len + c->data.len;
    for (int i = 0; i < c->nchildren; i++) n += column_bytes(&c->children[i]);
    return n;
}

static size_t batch_bytes(const sd_batch *b) {
    size_t n = b->nrows;
    for (int i = 0; i < b->ncols; i++) n += column_bytes(&b->cols[i]);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int pick = data[0] & 7;
    avro_decode_opts opts = {.map = {.flatten = pairs[pick].flatten != 0},
                             .validate_utf8 = (data[0] & 0x40) != 0};
    sd_error err = {0};
    avro_schema *w = avro_schema_parse(pairs[pick].writer, strlen(pairs[pick].writer), &err);
    avro_schema *r = avro_schema_parse(pairs[pick].reader, strlen(pairs[pick].reader), &err);
    if (w == NULL || r == NULL) abort(); /* the fixed schemas are valid */
    sd_schema *cols = NULL;
    if (avro_to_sd_schema(r, &opts.map, &cols, &err) != SD_OK) abort();
    sd_batch b;
    sd_batch_init(&b, cols);
    if (data[0] & 0x80) {
        avro_ocf_reader *ocf =
            avro_ocf_open_memory(data + 1, size - 1, "fuzz.avro", r, &opts, &err);
        if (ocf) {
            sd_batch ob;
            sd_batch_init(&ob, avro_ocf_schema(ocf));
            size_t n = 1;
            while (n > 0 && avro_ocf_read(ocf, &ob, 64, &n, &err) == SD_OK) {
            }
            sd_batch_free(&ob);
            avro_ocf_close(ocf);
        }
    } else {
        avro_stream *st = avro_stream_new(r, cols, NULL, &opts, &err);
        if (st == NULL || avro_stream_add_writer(st, 1, w, &err) != SD_OK) abort();
        size_t pos = 1;
        int64_t offset = 0;
        while (pos < size) {
            size_t len = data[pos++];
            if (len > size - pos) len = size - pos;
            size_t before = batch_bytes(&b), rows = b.nrows;
            avro_reject rej;
            sd_error_clear(&err);
            sd_status s =
                avro_stream_decode(st, &b, data + pos, len, "fuzz", 0, offset++, &rej, &err);
            if (s == SD_ERR_FORMAT && (b.nrows != rows || batch_bytes(&b) != before))
                abort(); /* rollback */
            if (s != SD_OK && s != SD_ERR_FORMAT) abort();
            pos += len;
        }
        avro_stream_free(st);
    }
    sd_batch_free(&b);
    sd_schema_free(cols);
    avro_schema_free(r);
    avro_schema_free(w);
    return 0;
}
