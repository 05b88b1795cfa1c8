/*
 * avro_ocf.c - Avro Object Container Files, read into columnar batches.
 *
 * Spec: "Object Container Files" of the Avro specification. A file is the
 * magic "Obj\x01", a metadata map<bytes> (avro.schema = the writer schema
 * JSON, avro.codec = null | deflate | snappy | zstandard), a 16-byte sync
 * marker, then blocks: record count (long), byte size (long), the
 * (compressed) records, the sync marker again. Codecs: deflate is raw
 * RFC 1951 data; snappy blocks end with the big-endian CRC32 of the
 * uncompressed data, which we check; zstandard is one or more zstd frames.
 *
 * Records go through the same compiled program as Kafka messages, so a file
 * written with an older schema is resolved to the reader's. Unlike a stream,
 * a file has no dead-letter queue: a corrupt record fails the read, naming
 * the file, the block's byte offset and the record's index in the block.
 * A file opened by path is mapped, not read: blocks are decoded where
 * they lie, and the pages behind the reader are handed back to the kernel
 * as it moves on, so a file of gigabytes costs little resident memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "avro/avro_internal.h"

/* A decompressed block larger than this is refused (a decompression bomb
 * or a corrupt size). */
#define OCF_MAX_BLOCK ((size_t)1 << 30)
/* Mapped pages already read are released in steps of this many bytes. */
#define OCF_RELEASE_STEP ((size_t)64 << 20)

typedef enum ocf_codec { OCF_NULL, OCF_DEFLATE, OCF_SNAPPY, OCF_ZSTD } ocf_codec;

struct avro_ocf_reader {
    char *name;
    uint8_t *map; /* the mapped file when opened by path */
    size_t map_len;
    size_t released; /* bytes at the start of the map handed back */
    const uint8_t *data;
    size_t len, pos; /* pos: next block header */
    avro_schema *writer;
    const avro_schema *reader;
    sd_schema *target;
    avro_program *prog;
    char codec_name[32];
    ocf_codec codec;
    uint8_t sync[16];
    sd_buf block;        /* decompressed block */
    avro_cursor cur;     /* records of the current block */
    int64_t remaining;   /* records left in it */
    int64_t index;       /* next record's index in it */
    size_t block_offset; /* file offset of its header */
};

static avro_ocf_reader *ocf_fail(avro_ocf_reader *r, sd_error *err) {
    sd_error_prefix(err, "%s: ", r->name);
    avro_ocf_close(r);
    return NULL;
}

void avro_ocf_close(avro_ocf_reader *r) {
    if (r == NULL) return;
    avro_program_free(r->prog);
    sd_schema_free(r->target);
    avro_schema_free(r->writer);
    sd_buf_free(&r->block);
    if (r->map) munmap(r->map, r->map_len);
    free(r->name);
    free(r);
}

const avro_schema *avro_ocf_writer_schema(const avro_ocf_reader *r) {
    return r->writer;
}
const sd_schema *avro_ocf_schema(const avro_ocf_reader *r) {
    return r->target;
}
const char *avro_ocf_codec(const avro_ocf_reader *r) {
    return r->codec_name;
}

static sd_status read_meta(avro_ocf_reader *r, avro_cursor *c, const uint8_t **schema,
                           size_t *schema_len, sd_error *err) {
    avro_fail f;
    for (;;) {
        int64_t count, size;
        if (!avro_read_long(c, &count, &f)) goto bad;
        if (count == 0) return SD_OK;
        if (count < 0) {
            if (count == INT64_MIN || !avro_read_long(c, &size, &f)) goto bad;
            count = -count;
        }
        for (int64_t i = 0; i < count; i++) {
            int64_t klen, vlen;
            if (!avro_read_long(c, &klen, &f) || klen < 0 || klen > c->end - c->p) goto bad;
            const uint8_t *key = c->p;
            c->p += klen;
            if (!avro_read_long(c, &vlen, &f) || vlen < 0 || vlen > c->end - c->p) goto bad;
            const uint8_t *val = c->p;
            c->p += vlen;
            if (klen == 11 && memcmp(key, "avro.schema", 11) == 0) {
                *schema = val;
                *schema_len = (size_t)vlen;
            } else if (klen == 10 && memcmp(key, "avro.codec", 10) == 0) {
                if ((size_t)vlen >= sizeof(r->codec_name))
                    return sd_error_set(err, SD_ERR_UNSUPPORTED,
                                        "unknown Avro codec (name of %lld bytes)", (long long)vlen);
                memcpy(r->codec_name, val, (size_t)vlen);
                r->codec_name[vlen] = '\0';
            }
        }
    }
bad:
    return sd_error_set(err, SD_ERR_FORMAT, "corrupt Avro header metadata at byte %zu",
                        (size_t)(c->p - c->start));
}

avro_ocf_reader *avro_ocf_open_memory(const uint8_t *data, size_t len, const char *name,
                                      const avro_schema *reader, const avro_decode_opts *opts,
                                      sd_error *err) {
    static const avro_decode_opts defaults = {0};
    if (opts == NULL) opts = &defaults;
    avro_ocf_reader *r = sd_xcalloc(1, sizeof(*r));
    r->name = sd_xstrdup(name ? name : "(memory)");
    r->data = data;
    r->len = len;
    snprintf(r->codec_name, sizeof(r->codec_name), "null");
    if (len < 4 || memcmp(data, "Obj\x01", 4) != 0) {
        sd_error_set(err, SD_ERR_FORMAT,
                     "not an Avro object container file (magic \"Obj\\x01\" missing)");
        return ocf_fail(r, err);
    }
    avro_cursor c = {.p = data + 4, .start = data, .end = data + len};
    const uint8_t *schema = NULL;
    size_t schema_len = 0;
    if (read_meta(r, &c, &schema, &schema_len, err) != SD_OK) return ocf_fail(r, err);
    if (c.end - c.p < 16) {
        sd_error_set(err, SD_ERR_FORMAT, "Avro header ends before the sync marker");
        return ocf_fail(r, err);
    }
    memcpy(r->sync, c.p, 16);
    r->pos = (size_t)(c.p + 16 - data);
    if (strcmp(r->codec_name, "null") == 0)
        r->codec = OCF_NULL;
    else if (strcmp(r->codec_name, "deflate") == 0)
        r->codec = OCF_DEFLATE;
    else if (strcmp(r->codec_name, "snappy") == 0)
        r->codec = OCF_SNAPPY;
    else if (strcmp(r->codec_name, "zstandard") == 0)
        r->codec = OCF_ZSTD;
    else {
        sd_error_set(err, SD_ERR_UNSUPPORTED,
                     "Avro codec \"%s\" is not supported (null, deflate, snappy, zstandard are)",
                     r->codec_name);
        return ocf_fail(r, err);
    }
    if (schema == NULL) {
        sd_error_set(err, SD_ERR_FORMAT, "Avro header has no avro.schema");
        return ocf_fail(r, err);
    }
    r->writer = avro_schema_parse((const char *)schema, schema_len, err);
    if (r->writer == NULL) return ocf_fail(r, err);
    r->reader = reader ? reader : r->writer;
    if (avro_to_sd_schema(r->reader, &opts->map, &r->target, err) != SD_OK) return ocf_fail(r, err);
    r->prog = avro_program_compile(r->writer, r->reader, r->target, opts, err);
    if (r->prog == NULL) return ocf_fail(r, err);
    return r;
}

avro_ocf_reader *avro_ocf_open(const char *path, const avro_schema *reader,
                               const avro_decode_opts *opts, sd_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sd_error_set(err, errno == ENOENT ? SD_ERR_NOT_FOUND : SD_ERR_IO, "%s: cannot open: %s",
                     path, strerror(errno));
        return NULL;
    }
    struct stat stt;
    void *map = NULL;
    size_t len = 0;
    if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode)) {
        /* Not a regular file (a pipe, a device): read it whole instead. */
        close(fd);
        sd_buf b = SD_BUF_INIT;
        if (sd_read_file(path, &b, err) != SD_OK) {
            sd_buf_free(&b);
            return NULL;
        }
        len = b.len;
        map = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (map != MAP_FAILED && len) memcpy(map, b.data, len);
        sd_buf_free(&b);
    } else {
        len = (size_t)stt.st_size;
        map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
        close(fd);
    }
    if (map == MAP_FAILED) {
        sd_error_set(err, SD_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        return NULL;
    }
    if (map) madvise(map, len, MADV_SEQUENTIAL);
    avro_ocf_reader *r =
        avro_ocf_open_memory(map ? map : (const uint8_t *)"", len, path, reader, opts, err);
    if (r == NULL) {
        if (map) munmap(map, len ? len : 1);
        return NULL;
    }
    r->map = map;
    r->map_len = map ? (len ? len : 1) : 0;
    return r;
}

/* Hand the mapped pages before `upto` back to the kernel: they were read
 * and are not needed again (a re-read would fault them back in). */
static void ocf_release(avro_ocf_reader *r, size_t upto) {
    if (r->map == NULL || upto < r->released + OCF_RELEASE_STEP) return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t end = upto / page * page;
    if (end <= r->released) return;
    madvise(r->map + r->released, end - r->released, MADV_DONTNEED);
    r->released = end;
}

/* ------------------------------------------------------------------------ */
/* Blocks                                                                    */
/* ------------------------------------------------------------------------ */

static sd_status inflate_raw(const uint8_t *in, size_t n, sd_buf *out, sd_error *err) {
    z_stream z = {0};
    if (inflateInit2(&z, -15) != Z_OK)
        return sd_error_set(err, SD_ERR_CODEC, "deflate: cannot initialise zlib");
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    int rc;
    do {
        if (out->len + 65536 > OCF_MAX_BLOCK) {
            inflateEnd(&z);
            return sd_error_set(err, SD_ERR_CODEC, "deflate: block inflates beyond %zu bytes",
                                OCF_MAX_BLOCK);
        }
        sd_buf_reserve(out, 65536);
        z.next_out = out->data + out->len;
        z.avail_out = (uInt)(out->cap - out->len);
        rc = inflate(&z, Z_NO_FLUSH);
        out->len = out->cap - z.avail_out;
        if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
    } while (rc == Z_OK);
    inflateEnd(&z);
    if (rc != Z_STREAM_END)
        return sd_error_set(err, SD_ERR_CODEC, "deflate: corrupt or truncated data (zlib %d)", rc);
    return SD_OK;
}

static sd_status unsnappy(const uint8_t *in, size_t n, sd_buf *out, sd_error *err) {
    if (n < 4) return sd_error_set(err, SD_ERR_CODEC, "snappy: block shorter than its CRC");
    size_t clen = n - 4, ulen;
    if (snappy_uncompressed_length((const char *)in, clen, &ulen) != SNAPPY_OK ||
        ulen > OCF_MAX_BLOCK)
        return sd_error_set(err, SD_ERR_CODEC, "snappy: corrupt block header");
    sd_buf_reserve(out, ulen + 1);
    if (snappy_uncompress((const char *)in, clen, (char *)out->data, &ulen) != SNAPPY_OK)
        return sd_error_set(err, SD_ERR_CODEC, "snappy: corrupt block");
    out->len = ulen;
    uint32_t want = ((uint32_t)in[clen] << 24) | ((uint32_t)in[clen + 1] << 16) |
                    ((uint32_t)in[clen + 2] << 8) | in[clen + 3];
    uint32_t got = (uint32_t)crc32(0L, out->data, (uInt)ulen);
    if (got != want)
        return sd_error_set(err, SD_ERR_CODEC,
                            "snappy: CRC32 mismatch (block says %08x, data has %08x)", want, got);
    return SD_OK;
}

static sd_status unzstd(const uint8_t *in, size_t n, sd_buf *out, sd_error *err) {
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (ds == NULL) return sd_error_set(err, SD_ERR_CODEC, "zstandard: out of memory");
    ZSTD_inBuffer ib = {in, n, 0};
    size_t rc = 1;
    while (ib.pos < ib.size) {
        if (out->len + 65536 > OCF_MAX_BLOCK) {
            ZSTD_freeDStream(ds);
            return sd_error_set(err, SD_ERR_CODEC, "zstandard: block inflates beyond %zu bytes",
                                OCF_MAX_BLOCK);
        }
        sd_buf_reserve(out, 65536);
        ZSTD_outBuffer ob = {out->data + out->len, out->cap - out->len, 0};
        rc = ZSTD_decompressStream(ds, &ob, &ib);
        out->len += ob.pos;
        if (ZSTD_isError(rc)) {
            ZSTD_freeDStream(ds);
            return sd_error_set(err, SD_ERR_CODEC, "zstandard: %s", ZSTD_getErrorName(rc));
        }
        if (ob.pos == 0 && ib.pos == ib.size) break;
    }
    /* Flush whatever the last frame still holds. */
    while (rc != 0) {
        sd_buf_reserve(out, 65536);
        ZSTD_outBuffer ob = {out->data + out->len, out->cap - out->len, 0};
        rc = ZSTD_decompressStream(ds, &ob, &ib);
        out->len += ob.pos;
        if (ZSTD_isError(rc) || ob.pos == 0 || out->len > OCF_MAX_BLOCK) break;
    }
    ZSTD_freeDStream(ds);
    if (rc != 0) return sd_error_set(err, SD_ERR_CODEC, "zstandard: truncated frame");
    return SD_OK;
}

/* Load the next block; false at a clean end of file. */
static sd_status next_block(avro_ocf_reader *r, bool *eof, sd_error *err) {
    *eof = false;
    if (r->pos == r->len) {
        *eof = true;
        return SD_OK;
    }
    avro_cursor c = {.p = r->data + r->pos, .start = r->data, .end = r->data + r->len};
    avro_fail f;
    int64_t count, size;
    r->block_offset = r->pos;
    /* The previous block is done with (a null-codec block is decoded in
     * place, so only what lies before this header can go). */
    ocf_release(r, r->block_offset);
    if (!avro_read_long(&c, &count, &f) || !avro_read_long(&c, &size, &f) || count < 0 ||
        size < 0 || size > c.end - c.p || c.end - c.p - size < 16)
        return sd_error_set(err, SD_ERR_FORMAT, "%s: corrupt or truncated block header at byte %zu",
                            r->name, r->block_offset);
    const uint8_t *raw = c.p;
    if (memcmp(raw + size, r->sync, 16) != 0)
        return sd_error_set(err, SD_ERR_FORMAT,
                            "%s: block at byte %zu does not end with the file's sync marker",
                            r->name, r->block_offset);
    r->pos = (size_t)(raw + size + 16 - r->data);
    sd_buf_reset(&r->block);
    const uint8_t *p = raw;
    size_t n = (size_t)size;
    sd_status st = SD_OK;
    switch (r->codec) {
        case OCF_NULL:
            break;
        case OCF_DEFLATE:
            st = inflate_raw(raw, n, &r->block, err);
            break;
        case OCF_SNAPPY:
            st = unsnappy(raw, n, &r->block, err);
            break;
        case OCF_ZSTD:
            st = unzstd(raw, n, &r->block, err);
            break;
    }
    if (st != SD_OK) {
        sd_error_prefix(err, "%s: block at byte %zu: ", r->name, r->block_offset);
        return st;
    }
    if (r->codec != OCF_NULL) {
        p = r->block.data ? r->block.data : (const uint8_t *)"";
        n = r->block.len;
    }
    if ((uint64_t)count > n && count > AVRO_MAX_EMPTY_ITEMS)
        return sd_error_set(err, SD_ERR_FORMAT,
                            "%s: block at byte %zu claims %lld records in %zu bytes", r->name,
                            r->block_offset, (long long)count, n);
    r->cur = (avro_cursor){.p = p, .start = p, .end = p + n};
    r->remaining = count;
    r->index = 0;
    return SD_OK;
}

sd_status avro_ocf_read(avro_ocf_reader *r, sd_batch *batch, size_t max_records, size_t *nread,
                        sd_error *err) {
    *nread = 0;
    sd_status st = avro_program_bind(r->prog, batch, err);
    if (st != SD_OK) return st;
    while (*nread < max_records) {
        if (r->remaining == 0) {
            if (r->cur.p != r->cur.end)
                return sd_error_set(err, SD_ERR_FORMAT,
                                    "%s: block at byte %zu has %zu bytes after its last record",
                                    r->name, r->block_offset, (size_t)(r->cur.end - r->cur.p));
            bool eof;
            if ((st = next_block(r, &eof, err)) != SD_OK) return st;
            if (eof) break;
            continue;
        }
        avro_fail f;
        r->cur.budget = AVRO_MAX_EMPTY_ITEMS;
        if (!avro_program_run(r->prog, &r->cur, &f)) {
            avro_batch_truncate(batch, batch->nrows);
            return sd_error_set(err, SD_ERR_FORMAT, "%s: block at byte %zu, record %lld: %s: %s",
                                r->name, r->block_offset, (long long)r->index,
                                avro_reject_reason_name(f.reason), f.detail);
        }
        batch->nrows++;
        r->remaining--;
        r->index++;
        (*nread)++;
    }
    return SD_OK;
}

bool avro_ocf_eof(const avro_ocf_reader *r) {
    return r->remaining == 0 && r->pos == r->len;
}

sd_status avro_ocf_skip(avro_ocf_reader *r, int64_t n, int64_t *skipped, sd_error *err) {
    *skipped = 0;
    const avro_node *root = avro_schema_root(r->writer);
    while (*skipped < n) {
        if (r->remaining == 0) {
            /* Whole blocks are stepped over by their header's count. */
            while (r->pos < r->len) {
                avro_cursor c = {.p = r->data + r->pos, .start = r->data, .end = r->data + r->len};
                avro_fail f;
                int64_t count, size;
                if (!avro_read_long(&c, &count, &f) || !avro_read_long(&c, &size, &f) ||
                    count < 0 || size < 0 || size > c.end - c.p || c.end - c.p - size < 16)
                    return sd_error_set(err, SD_ERR_FORMAT,
                                        "%s: corrupt or truncated block header at byte %zu",
                                        r->name, r->pos);
                if (count > n - *skipped) break;
                *skipped += count;
                r->pos = (size_t)(c.p + size + 16 - r->data);
                ocf_release(r, r->pos);
            }
            if (*skipped == n) break;
            bool eof;
            sd_status st = next_block(r, &eof, err);
            if (st != SD_OK) return st;
            if (eof) break;
            continue;
        }
        avro_fail f;
        r->cur.budget = AVRO_MAX_EMPTY_ITEMS;
        if (!avro_skip_value(root, &r->cur, 0, &f))
            return sd_error_set(err, SD_ERR_FORMAT, "%s: block at byte %zu, record %lld: %s: %s",
                                r->name, r->block_offset, (long long)r->index,
                                avro_reject_reason_name(f.reason), f.detail);
        r->remaining--;
        r->index++;
        (*skipped)++;
    }
    return SD_OK;
}
