/*
 * avro_ocf_write.c - writing Avro Object Container Files: what `streamdelta
 * produce --to-avro` uses to put test events in a file that `run
 * --from-avro` (and any Avro tool) reads.
 *
 * Spec: "Object Container Files" of the Avro specification (see
 * avro_ocf.c for the layout). Records arrive as Avro binary bodies and are
 * gathered into blocks of about AVRO_OCF_BLOCK_BYTES before compression, so
 * a block is large enough to compress well and small enough that a reader
 * holds little of it. The file is written under a temporary name and
 * renamed when closed, so a file with the final name is always complete.
 */
#include <errno.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "avro/avro_internal.h"

/* Uncompressed bytes gathered before a block is written. */
#define AVRO_OCF_BLOCK_BYTES (1 << 20)

typedef enum ocfw_codec { OCFW_NULL, OCFW_DEFLATE, OCFW_SNAPPY, OCFW_ZSTD } ocfw_codec;

struct avro_ocf_writer {
    char *path, *tmp_path;
    FILE *f;
    ocfw_codec codec;
    uint8_t sync[16];
    sd_buf block; /* records of the open block, uncompressed */
    int64_t block_records;
    sd_buf packed; /* the block after compression, and the header */
    int64_t records;
};

static sd_status ocfw_io(avro_ocf_writer *w, sd_error *err) {
    return sd_error_set(err, errno == ENOSPC ? SD_ERR_NOSPACE : SD_ERR_IO, "%s: write failed: %s",
                        w->tmp_path, strerror(errno));
}

static sd_status ocfw_put(avro_ocf_writer *w, const void *p, size_t n, sd_error *err) {
    if (n > 0 && fwrite(p, 1, n, w->f) != n) return ocfw_io(w, err);
    return SD_OK;
}

static bool ocfw_codec_of(const char *name, ocfw_codec *c) {
    static const struct {
        const char *name;
        ocfw_codec codec;
    } codecs[] = {{"null", OCFW_NULL},
                  {"deflate", OCFW_DEFLATE},
                  {"snappy", OCFW_SNAPPY},
                  {"zstandard", OCFW_ZSTD}};
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
        if (strcmp(name, codecs[i].name) == 0) {
            *c = codecs[i].codec;
            return true;
        }
    return false;
}

static void ocfw_free(avro_ocf_writer *w) {
    if (w->f) fclose(w->f);
    if (w->tmp_path) unlink(w->tmp_path);
    sd_buf_free(&w->block);
    sd_buf_free(&w->packed);
    free(w->path);
    free(w->tmp_path);
    free(w);
}

avro_ocf_writer *avro_ocf_writer_open(const char *path, const char *schema_json, const char *codec,
                                      sd_error *err) {
    ocfw_codec c;
    if (!ocfw_codec_of(codec ? codec : "null", &c)) {
        sd_error_set(err, SD_ERR_ARG,
                     "Avro codec \"%s\" is not supported (null, deflate, snappy, zstandard are)",
                     codec);
        return NULL;
    }
    avro_schema *check = avro_schema_parse(schema_json, strlen(schema_json), err);
    if (check == NULL) return NULL;
    avro_schema_free(check);
    avro_ocf_writer *w = sd_xcalloc(1, sizeof(*w));
    w->codec = c;
    w->path = sd_xstrdup(path);
    w->tmp_path = sd_xasprintf("%s.tmp-%d", path, (int)getpid());
    w->f = fopen(w->tmp_path, "wb");
    if (w->f == NULL) {
        sd_error_set(err, SD_ERR_IO, "%s: cannot create: %s", w->tmp_path, strerror(errno));
        free(w->tmp_path);
        w->tmp_path = NULL;
        ocfw_free(w);
        return NULL;
    }
    if (getrandom(w->sync, sizeof w->sync, 0) != (ssize_t)sizeof w->sync) {
        /* The marker only has to be unlikely inside the data. */
        uint64_t t = (uint64_t)sd_now_ns() * 0x9E3779B97F4A7C15ull;
        for (int i = 0; i < 16; i++) w->sync[i] = (uint8_t)(t >> (8 * (i % 8))) ^ (uint8_t)i;
    }
    sd_buf *h = &w->packed;
    sd_buf_append(h, "Obj\x01", 4);
    avro_encode_long(h, 2); /* metadata map: one block of two entries */
    avro_encode_string(h, "avro.schema", 11);
    avro_encode_string(h, schema_json, strlen(schema_json));
    avro_encode_string(h, "avro.codec", 10);
    avro_encode_string(h, codec ? codec : "null", strlen(codec ? codec : "null"));
    avro_encode_long(h, 0);
    sd_buf_append(h, w->sync, sizeof w->sync);
    if (ocfw_put(w, h->data, h->len, err) != SD_OK) {
        ocfw_free(w);
        return NULL;
    }
    sd_buf_reset(h);
    return w;
}

/* Compress the open block into w->packed (after its header). */
static sd_status ocfw_compress(avro_ocf_writer *w, sd_error *err) {
    const uint8_t *in = w->block.data;
    size_t n = w->block.len;
    sd_buf *out = &w->packed;
    switch (w->codec) {
        case OCFW_NULL:
            sd_buf_append(out, in, n);
            return SD_OK;
        case OCFW_DEFLATE: {
            z_stream z = {0};
            if (deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return sd_error_set(err, SD_ERR_CODEC, "deflate: cannot initialise zlib");
            size_t bound = deflateBound(&z, (uLong)n);
            uint8_t *dst = sd_buf_extend(out, bound);
            z.next_in = (Bytef *)in;
            z.avail_in = (uInt)n;
            z.next_out = dst;
            z.avail_out = (uInt)bound;
            int rc = deflate(&z, Z_FINISH);
            out->len -= z.avail_out;
            deflateEnd(&z);
            return rc == Z_STREAM_END ? SD_OK
                                      : sd_error_set(err, SD_ERR_CODEC, "deflate failed (%d)", rc);
        }
        case OCFW_SNAPPY: {
            size_t bound = snappy_max_compressed_length(n), got = bound;
            uint8_t *dst = sd_buf_extend(out, bound + 4);
            if (snappy_compress((const char *)in, n, (char *)dst, &got) != SNAPPY_OK)
                return sd_error_set(err, SD_ERR_CODEC, "snappy compression failed");
            uint32_t crc = (uint32_t)crc32(0L, in, (uInt)n);
            dst[got] = (uint8_t)(crc >> 24);
            dst[got + 1] = (uint8_t)(crc >> 16);
            dst[got + 2] = (uint8_t)(crc >> 8);
            dst[got + 3] = (uint8_t)crc;
            out->len -= bound - got;
            return SD_OK;
        }
        case OCFW_ZSTD: {
            size_t bound = ZSTD_compressBound(n);
            uint8_t *dst = sd_buf_extend(out, bound);
            size_t got = ZSTD_compress(dst, bound, in, n, 1);
            if (ZSTD_isError(got))
                return sd_error_set(err, SD_ERR_CODEC, "zstandard: %s", ZSTD_getErrorName(got));
            out->len -= bound - got;
            return SD_OK;
        }
    }
    return SD_OK;
}

/* Write the open block: count, size, data, sync marker. */
static sd_status ocfw_flush(avro_ocf_writer *w, sd_error *err) {
    if (w->block_records == 0) return SD_OK;
    sd_buf_reset(&w->packed);
    sd_status st = ocfw_compress(w, err);
    if (st != SD_OK) return st;
    sd_buf head = SD_BUF_INIT;
    avro_encode_long(&head, w->block_records);
    avro_encode_long(&head, (int64_t)w->packed.len);
    st = ocfw_put(w, head.data, head.len, err);
    sd_buf_free(&head);
    if (st == SD_OK) st = ocfw_put(w, w->packed.data, w->packed.len, err);
    if (st == SD_OK) st = ocfw_put(w, w->sync, sizeof w->sync, err);
    sd_buf_reset(&w->block);
    w->block_records = 0;
    return st;
}

sd_status avro_ocf_writer_append(avro_ocf_writer *w, const uint8_t *body, size_t len,
                                 sd_error *err) {
    sd_buf_append(&w->block, body, len);
    w->block_records++;
    w->records++;
    return w->block.len >= AVRO_OCF_BLOCK_BYTES ? ocfw_flush(w, err) : SD_OK;
}

sd_buf *avro_ocf_writer_record(avro_ocf_writer *w) {
    return &w->block;
}

sd_status avro_ocf_writer_end_record(avro_ocf_writer *w, sd_error *err) {
    w->block_records++;
    w->records++;
    return w->block.len >= AVRO_OCF_BLOCK_BYTES ? ocfw_flush(w, err) : SD_OK;
}

int64_t avro_ocf_writer_records(const avro_ocf_writer *w) {
    return w->records;
}

sd_status avro_ocf_writer_close(avro_ocf_writer *w, bool keep, sd_error *err) {
    if (w == NULL) return SD_OK;
    sd_status st = SD_OK;
    if (keep) {
        st = ocfw_flush(w, err);
        if (st == SD_OK && fflush(w->f) != 0) st = ocfw_io(w, err);
        if (st == SD_OK && fclose(w->f) != 0) st = ocfw_io(w, err);
        w->f = NULL;
        if (st == SD_OK && rename(w->tmp_path, w->path) != 0)
            st = sd_error_set(err, SD_ERR_IO, "%s: cannot rename to %s: %s", w->tmp_path, w->path,
                              strerror(errno));
        if (st == SD_OK) {
            free(w->tmp_path);
            w->tmp_path = NULL;
        }
    }
    ocfw_free(w);
    return st;
}
