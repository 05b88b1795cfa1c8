/*
 * delta_dv.c - deletion vectors (PROTOCOL.md "Deletion Vectors" and the
 * appendix "Deletion Vector Format"): descriptors, Z85 text, the DV file
 * format and the portable 64-bit RoaringBitmap serialization
 * (RoaringBitmap/RoaringFormatSpec), decoded into a sorted row-index set.
 *
 * Descriptor storage types:
 *   'u'  pathOrInlineDv = <random prefix><20 chars Z85 of a 16-byte UUID>;
 *        file <table>/<prefix>/deletion_vector_<uuid>.bin
 *   'i'  pathOrInlineDv = Z85 of the serialized bitmap itself
 *   'p'  pathOrInlineDv = absolute path (URI) of the DV file
 * DV file: byte 0 = format version 1; at `offset`: 4-byte big-endian data
 * size, the data (4-byte little-endian magic 1681511377, then the bitmap),
 * and a 4-byte big-endian CRC-32 of the data.
 *
 * Every length read from the input is checked against the bytes left.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "delta_internal.h"

#define DV_MAGIC 1681511377u
#define DV_FILE_VERSION 1
#define ROARING_SERIAL_COOKIE_NO_RUN 12346u
#define ROARING_SERIAL_COOKIE 12347u
/* Run-container bitmaps carry an offset header only from this many
 * containers on (RoaringFormatSpec, NO_OFFSET_THRESHOLD). */
#define ROARING_NO_OFFSET_THRESHOLD 4
#define ROARING_MAX_ARRAY 4096
#define DV_UUID_Z85_LEN 20

static const char Z85_CHARS[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

sd_status delta_z85_decode(const char *text, size_t len, sd_buf *out, sd_error *err) {
    int8_t rev[256];
    memset(rev, -1, sizeof(rev));
    for (int i = 0; i < 85; i++) rev[(unsigned char)Z85_CHARS[i]] = (int8_t)i;
    if (len % 5 != 0)
        return sd_error_set(err, SD_ERR_FORMAT, "Z85 text of %zu characters is not a multiple of 5",
                            len);
    uint8_t *o = sd_buf_extend(out, len / 5 * 4);
    for (size_t i = 0; i < len; i += 5) {
        uint64_t v = 0;
        for (int k = 0; k < 5; k++) {
            int d = rev[(unsigned char)text[i + k]];
            if (d < 0)
                return sd_error_set(err, SD_ERR_FORMAT, "invalid Z85 character at position %zu",
                                    i + (size_t)k);
            v = v * 85 + (uint64_t)d;
        }
        if (v > 0xffffffffu)
            return sd_error_set(err, SD_ERR_FORMAT, "Z85 group at position %zu overflows", i);
        *o++ = (uint8_t)(v >> 24);
        *o++ = (uint8_t)(v >> 16);
        *o++ = (uint8_t)(v >> 8);
        *o++ = (uint8_t)v;
    }
    return SD_OK;
}

void delta_rowset_free(delta_rowset *r) {
    free(r->rows);
    r->rows = NULL;
    r->count = 0;
}

bool delta_rowset_contains(const delta_rowset *r, uint64_t row) {
    size_t lo = 0, hi = r->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->rows[mid] < row)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->count && r->rows[lo] == row;
}

void delta_dv_unique_id(const delta_dv_descriptor *dv, sd_buf *out) {
    sd_buf_append_byte(out, (uint8_t)dv->storage_type);
    sd_buf_append_str(out, dv->path_or_inline_dv ? dv->path_or_inline_dv : "");
    if (dv->offset >= 0) sd_buf_appendf(out, "@%d", dv->offset);
}

/* ------------------------------------------------------------------------ */
/* Roaring bitmap decoding                                                   */
/* ------------------------------------------------------------------------ */

typedef struct rd_cursor {
    const uint8_t *p, *end;
    sd_error *err;
} rd_cursor;

static bool rd_need(rd_cursor *c, size_t n, const char *what) {
    if ((size_t)(c->end - c->p) >= n) return true;
    sd_error_set(c->err, SD_ERR_FORMAT, "deletion vector bitmap truncated reading %s", what);
    return false;
}

static uint16_t rd_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t rd_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

typedef struct rowset_builder {
    delta_rowset *set;
    size_t cap;
    uint64_t max_rows;
    sd_error *err;
} rowset_builder;

static bool rs_push(rowset_builder *b, uint64_t row) {
    delta_rowset *s = b->set;
    if (s->count > 0 && s->rows[s->count - 1] >= row) {
        sd_error_set(b->err, SD_ERR_FORMAT, "deletion vector bitmap is not in ascending order");
        return false;
    }
    if (s->count >= b->max_rows) {
        sd_error_set(b->err, SD_ERR_FORMAT,
                     "deletion vector holds more rows than its cardinality %llu",
                     (unsigned long long)b->max_rows);
        return false;
    }
    if (s->count == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        s->rows = sd_xrealloc(s->rows, b->cap * sizeof(uint64_t));
    }
    s->rows[s->count++] = row;
    return true;
}

/* One 32-bit RoaringBitmap (standard format) whose values get `high` as
 * their upper 32 bits. */
static bool rd_bitmap32(rd_cursor *c, uint64_t high, rowset_builder *b) {
    if (!rd_need(c, 4, "the cookie")) return false;
    uint32_t cookie = rd_u32(c->p);
    c->p += 4;
    uint32_t n;
    const uint8_t *runs = NULL;
    bool offsets;
    if ((cookie & 0xffff) == ROARING_SERIAL_COOKIE) {
        n = (cookie >> 16) + 1;
        size_t rb = (n + 7) / 8;
        if (!rd_need(c, rb, "the run bitmap")) return false;
        runs = c->p;
        c->p += rb;
        offsets = n >= ROARING_NO_OFFSET_THRESHOLD;
    } else if (cookie == ROARING_SERIAL_COOKIE_NO_RUN) {
        if (!rd_need(c, 4, "the container count")) return false;
        n = rd_u32(c->p);
        c->p += 4;
        offsets = true;
    } else {
        sd_error_set(c->err, SD_ERR_FORMAT, "deletion vector bitmap has an unknown cookie %u",
                     cookie);
        return false;
    }
    if (n > 65536) {
        sd_error_set(c->err, SD_ERR_FORMAT, "deletion vector bitmap claims %u containers", n);
        return false;
    }
    if (!rd_need(c, (size_t)n * 4, "the container headers")) return false;
    const uint8_t *hdr = c->p;
    c->p += (size_t)n * 4;
    if (offsets) {
        if (!rd_need(c, (size_t)n * 4, "the container offsets")) return false;
        c->p += (size_t)n * 4; /* containers follow in order; offsets are redundant */
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t base = (high << 32) | ((uint64_t)rd_u16(hdr + 4 * i) << 16);
        uint32_t card = (uint32_t)rd_u16(hdr + 4 * i + 2) + 1;
        if (runs != NULL && (runs[i / 8] >> (i % 8)) & 1) {
            if (!rd_need(c, 2, "a run count")) return false;
            uint32_t nruns = rd_u16(c->p);
            c->p += 2;
            if (!rd_need(c, (size_t)nruns * 4, "the runs")) return false;
            for (uint32_t r = 0; r < nruns; r++) {
                uint32_t start = rd_u16(c->p + 4 * r), len = rd_u16(c->p + 4 * r + 2);
                if (start + len > 0xffff) {
                    sd_error_set(c->err, SD_ERR_FORMAT, "deletion vector run overflows 16 bits");
                    return false;
                }
                for (uint32_t v = start; v <= start + len; v++)
                    if (!rs_push(b, base | v)) return false;
            }
            c->p += (size_t)nruns * 4;
        } else if (card <= ROARING_MAX_ARRAY) {
            if (!rd_need(c, (size_t)card * 2, "an array container")) return false;
            for (uint32_t k = 0; k < card; k++)
                if (!rs_push(b, base | rd_u16(c->p + 2 * k))) return false;
            c->p += (size_t)card * 2;
        } else {
            if (!rd_need(c, 8192, "a bitmap container")) return false;
            for (uint32_t w = 0; w < 8192; w++) {
                uint8_t byte = c->p[w];
                for (int bit = 0; byte && bit < 8; bit++)
                    if ((byte >> bit) & 1)
                        if (!rs_push(b, base | (w * 8 + (uint32_t)bit))) return false;
            }
            c->p += 8192;
        }
    }
    return true;
}

sd_status delta_dv_decode_bitmap(const uint8_t *data, size_t len, uint64_t max_rows,
                                 delta_rowset *out, sd_error *err) {
    memset(out, 0, sizeof(*out));
    rd_cursor c = {data, data + len, err};
    rowset_builder b = {out, 0, max_rows, err};
    if (!rd_need(&c, 12, "the header")) return SD_ERR_FORMAT;
    uint32_t magic = rd_u32(c.p);
    if (magic != DV_MAGIC) {
        return sd_error_set(err, SD_ERR_FORMAT,
                            "deletion vector has magic number %u, expected %u (unknown format)",
                            magic, DV_MAGIC);
    }
    uint64_t nbuckets = (uint64_t)rd_u32(c.p + 4) | ((uint64_t)rd_u32(c.p + 8) << 32);
    c.p += 12;
    int64_t prev_key = -1;
    for (uint64_t i = 0; i < nbuckets; i++) {
        if (!rd_need(&c, 4, "a bucket key")) goto fail;
        uint32_t key = rd_u32(c.p);
        c.p += 4;
        if ((key & 0x80000000u) || (int64_t)key <= prev_key) {
            sd_error_set(err, SD_ERR_FORMAT, "deletion vector bucket key %u is invalid", key);
            goto fail;
        }
        prev_key = key;
        if (!rd_bitmap32(&c, key, &b)) goto fail;
    }
    return SD_OK;
fail:
    delta_rowset_free(out);
    return err ? err->code : SD_ERR_FORMAT;
}

/* ------------------------------------------------------------------------ */
/* Loading a descriptor                                                      */
/* ------------------------------------------------------------------------ */

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

char *delta_dv_uuid_path(const delta_dv_descriptor *dv, sd_error *err) {
    const char *s = dv->path_or_inline_dv;
    size_t n = strlen(s);
    if (n < DV_UUID_Z85_LEN) {
        sd_error_set(err, SD_ERR_FORMAT, "deletion vector descriptor '%s' is too short for a UUID",
                     s);
        return NULL;
    }
    sd_buf uuid = SD_BUF_INIT;
    if (delta_z85_decode(s + n - DV_UUID_Z85_LEN, DV_UUID_Z85_LEN, &uuid, err) != SD_OK ||
        uuid.len != 16) {
        sd_buf_free(&uuid);
        if (err->code == SD_OK)
            sd_error_set(err, SD_ERR_FORMAT, "deletion vector descriptor '%s': bad UUID", s);
        return NULL;
    }
    char text[SD_UUID_TEXT_SIZE];
    sd_uuid_format(uuid.data, text);
    sd_buf_free(&uuid);
    size_t plen = n - DV_UUID_Z85_LEN;
    return sd_xasprintf("%.*s%sdeletion_vector_%s.bin", (int)plen, s, plen ? "/" : "", text);
}

/* File path of a 'u' or 'p' descriptor. */
static char *dv_file_path(const char *table_path, const delta_dv_descriptor *dv, sd_error *err) {
    if (dv->storage_type == 'p') return delta_path_resolve(table_path, dv->path_or_inline_dv, err);
    char *rel = delta_dv_uuid_path(dv, err);
    if (rel == NULL) return NULL;
    char *full = sd_xasprintf("%s/%s", table_path, rel);
    free(rel);
    return full;
}

char *delta_dv_file_path(const char *table_path, const delta_dv_descriptor *dv, sd_error *err) {
    if (dv->storage_type != 'u' && dv->storage_type != 'p') {
        sd_error_set(err, SD_ERR_ARG, "deletion vector of storage type '%c' has no file",
                     dv->storage_type ? dv->storage_type : '?');
        return NULL;
    }
    return dv_file_path(table_path, dv, err);
}

sd_status delta_dv_load(const char *table_path, const delta_dv_descriptor *dv, delta_rowset *out,
                        sd_error *err) {
    memset(out, 0, sizeof(*out));
    uint64_t max_rows = (uint64_t)dv->cardinality;
    if (dv->storage_type == 'i') {
        sd_buf data = SD_BUF_INIT;
        const char *s = dv->path_or_inline_dv;
        sd_status st = delta_z85_decode(s, strlen(s), &data, err);
        /* Z85 pads to 4 bytes; sizeInBytes is the real length. */
        if (st == SD_OK && (size_t)dv->size_in_bytes > data.len)
            st = sd_error_set(err, SD_ERR_FORMAT, "inline deletion vector shorter than its size %d",
                              dv->size_in_bytes);
        if (st == SD_OK)
            st = delta_dv_decode_bitmap(data.data, (size_t)dv->size_in_bytes, max_rows, out, err);
        sd_buf_free(&data);
        if (st == SD_OK && out->count != max_rows)
            st = sd_error_set(err, SD_ERR_FORMAT,
                              "inline deletion vector holds %zu rows, its cardinality says %lld",
                              out->count, (long long)dv->cardinality);
        if (st != SD_OK) delta_rowset_free(out);
        return st;
    }
    char *path = dv_file_path(table_path, dv, err);
    if (path == NULL) return err ? err->code : SD_ERR_FORMAT;
    sd_buf file = SD_BUF_INIT;
    sd_status st = delta_read_file(path, DELTA_MAX_DV_FILE, &file, err);
    size_t off = dv->offset < 0 ? 1 : (size_t)dv->offset;
    if (st == SD_OK && (file.len < 1 || file.data[0] != DV_FILE_VERSION))
        st = sd_error_set(err, SD_ERR_FORMAT, "version byte is %d, expected 1",
                          file.len ? file.data[0] : -1);
    if (st == SD_OK && (off > file.len || file.len - off < 8 + (size_t)dv->size_in_bytes))
        st = sd_error_set(err, SD_ERR_FORMAT,
                          "offset %zu + size %d runs past the end of the %zu-byte file", off,
                          dv->size_in_bytes, file.len);
    if (st == SD_OK) {
        const uint8_t *p = file.data + off;
        uint32_t size = be32(p);
        if (size != (uint32_t)dv->size_in_bytes) {
            st = sd_error_set(err, SD_ERR_FORMAT, "stored size %u differs from the descriptor's %d",
                              size, dv->size_in_bytes);
        } else {
            uint32_t want = be32(p + 4 + size);
            uint32_t got = (uint32_t)crc32(crc32(0L, Z_NULL, 0), p + 4, size);
            if (want != got)
                st = sd_error_set(err, SD_ERR_FORMAT,
                                  "checksum mismatch (stored %08x, computed %08x)", want, got);
            else
                st = delta_dv_decode_bitmap(p + 4, size, max_rows, out, err);
        }
    }
    if (st == SD_OK && out->count != max_rows)
        st =
            sd_error_set(err, SD_ERR_FORMAT, "holds %zu rows, the descriptor's cardinality is %lld",
                         out->count, (long long)dv->cardinality);
    if (st != SD_OK) {
        delta_rowset_free(out);
        sd_error_prefix(err, "deletion vector %s: ", path);
    }
    sd_buf_free(&file);
    free(path);
    return st;
}
