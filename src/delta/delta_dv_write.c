/*
 * delta_dv_write.c - writing deletion vectors (PROTOCOL.md "Deletion
 * Vectors", appendix "Deletion Vector Format" and "Deletion Vector File
 * Storage Format"; RoaringBitmap/RoaringFormatSpec for the bitmap).
 *
 * A DV marks rows of a data file deleted without rewriting the file: the
 * set of physical row indexes is serialized as Delta's magic number plus a
 * portable 64-bit RoaringBitmapArray (64-bit bucket count, then per bucket
 * its 32-bit key and a standard 32-bit RoaringBitmap), stored in a file
 * deletion_vector_<uuid>.bin (version byte 1, then per DV a big-endian
 * size, the data and a big-endian CRC-32) or inline in the log as Z85.
 *
 * Replacing a file's DV is a remove of the logical file (path + old DV)
 * and an add of the same path with the new DV, in one commit; the new DV
 * is the union of the old and the new deletions.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "delta_internal.h"

#define DV_MAGIC 1681511377u
#define DV_FILE_VERSION 1
#define ROARING_SERIAL_COOKIE_NO_RUN 12346u
#define ROARING_SERIAL_COOKIE 12347u
/* With run containers, the offset header exists only from this many
 * containers on (RoaringFormatSpec NO_OFFSET_THRESHOLD). */
#define ROARING_NO_OFFSET_THRESHOLD 4
#define ROARING_MAX_ARRAY 4096 /* more values than this: a bitmap container */
#define ROARING_BITMAP_BYTES 8192
/* Keys are read as signed 32-bit in Java: the top bit must be clear. */
#define DV_MAX_ROW ((uint64_t)1 << 63)

static const char Z85_CHARS[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

void delta_z85_encode(const uint8_t *data, size_t len, sd_buf *out) {
    char *o = (char *)sd_buf_extend(out, len / 4 * 5);
    for (size_t i = 0; i + 4 <= len; i += 4) {
        uint32_t v = ((uint32_t)data[i] << 24) | ((uint32_t)data[i + 1] << 16) |
                     ((uint32_t)data[i + 2] << 8) | data[i + 3];
        for (int k = 4; k >= 0; k--) {
            o[k] = Z85_CHARS[v % 85];
            v /= 85;
        }
        o += 5;
    }
}

/* ------------------------------------------------------------------------ */
/* Roaring bitmap encoding                                                   */
/* ------------------------------------------------------------------------ */

static void put_u16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_be32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i));
}

typedef enum { CONT_ARRAY, CONT_BITMAP, CONT_RUN } cont_kind;

/* One 16-bit container of a bucket: rows[first .. first+card). */
typedef struct cont_info {
    uint32_t key; /* bits 16..31 of the values */
    size_t first;
    uint32_t card;
    uint32_t nruns;
    cont_kind kind;
} cont_info;

static size_t cont_bytes(const cont_info *c) {
    switch (c->kind) {
        case CONT_ARRAY:
            return (size_t)c->card * 2;
        case CONT_BITMAP:
            return ROARING_BITMAP_BYTES;
        default:
            return 2 + (size_t)c->nruns * 4;
    }
}

/* The cheapest container, as RoaringBitmap's runOptimize chooses: a run
 * container only when strictly smaller than the array/bitmap form. */
static void cont_choose(cont_info *c, const uint64_t *rows) {
    uint32_t runs = 1;
    for (size_t i = c->first + 1; i < c->first + c->card; i++)
        if (rows[i] != rows[i - 1] + 1) runs++;
    c->nruns = runs;
    c->kind = c->card <= ROARING_MAX_ARRAY ? CONT_ARRAY : CONT_BITMAP;
    size_t base = cont_bytes(c);
    if (2 + (size_t)runs * 4 < base) c->kind = CONT_RUN;
}

static void cont_write(const cont_info *c, const uint64_t *rows, sd_buf *out) {
    const uint64_t *r = rows + c->first;
    uint8_t *p = sd_buf_extend(out, cont_bytes(c));
    if (c->kind == CONT_ARRAY) {
        for (uint32_t i = 0; i < c->card; i++) put_u16(p + 2 * i, (uint32_t)(r[i] & 0xffff));
    } else if (c->kind == CONT_BITMAP) {
        memset(p, 0, ROARING_BITMAP_BYTES);
        /* 1024 little-endian 64-bit words: bit v is bit v%8 of byte v/8. */
        for (uint32_t i = 0; i < c->card; i++) {
            uint32_t v = (uint32_t)(r[i] & 0xffff);
            p[v / 8] |= (uint8_t)(1u << (v % 8));
        }
    } else {
        put_u16(p, c->nruns);
        uint8_t *q = p + 2;
        uint32_t i = 0;
        while (i < c->card) {
            uint32_t j = i;
            while (j + 1 < c->card && r[j + 1] == r[j] + 1) j++;
            put_u16(q, (uint32_t)(r[i] & 0xffff));
            put_u16(q + 2, j - i); /* length - 1 */
            q += 4;
            i = j + 1;
        }
    }
}

/* One 32-bit RoaringBitmap of rows[0..n) (all in one bucket). */
static void encode_bucket(const uint64_t *rows, size_t n, sd_buf *out) {
    /* Count containers first: at most 65536, one allocation per bucket. */
    size_t ncont = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || (rows[i] >> 16) != (rows[i - 1] >> 16)) ncont++;
    cont_info *conts = sd_xcalloc(ncont, sizeof(*conts));
    size_t k = 0;
    bool any_run = false;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && (rows[j] >> 16) == (rows[i] >> 16)) j++;
        cont_info *c = &conts[k++];
        c->key = (uint32_t)((rows[i] >> 16) & 0xffff);
        c->first = i;
        c->card = (uint32_t)(j - i);
        cont_choose(c, rows);
        any_run |= c->kind == CONT_RUN;
        i = j;
    }
    size_t start = out->len;
    bool offsets;
    if (any_run) {
        uint8_t *p = sd_buf_extend(out, 4 + (ncont + 7) / 8);
        put_u32(p, ROARING_SERIAL_COOKIE | ((uint32_t)(ncont - 1) << 16));
        memset(p + 4, 0, (ncont + 7) / 8);
        for (size_t i = 0; i < ncont; i++)
            if (conts[i].kind == CONT_RUN) p[4 + i / 8] |= (uint8_t)(1u << (i % 8));
        offsets = ncont >= ROARING_NO_OFFSET_THRESHOLD;
    } else {
        uint8_t *p = sd_buf_extend(out, 8);
        put_u32(p, ROARING_SERIAL_COOKIE_NO_RUN);
        put_u32(p + 4, (uint32_t)ncont);
        offsets = true;
    }
    uint8_t *h = sd_buf_extend(out, ncont * 4);
    for (size_t i = 0; i < ncont; i++) {
        put_u16(h + 4 * i, conts[i].key);
        put_u16(h + 4 * i + 2, conts[i].card - 1);
    }
    if (offsets) {
        /* Offsets count from the start of this 32-bit bitmap. */
        size_t pos = out->len - start + ncont * 4;
        uint8_t *o = sd_buf_extend(out, ncont * 4);
        for (size_t i = 0; i < ncont; i++) {
            put_u32(o + 4 * i, (uint32_t)pos);
            pos += cont_bytes(&conts[i]);
        }
    }
    for (size_t i = 0; i < ncont; i++) cont_write(&conts[i], rows, out);
    free(conts);
}

sd_status delta_dv_encode_bitmap(const uint64_t *rows, size_t n, sd_buf *out, sd_error *err) {
    for (size_t i = 0; i < n; i++) {
        if (rows[i] >= DV_MAX_ROW)
            return sd_error_set(err, SD_ERR_ARG, "deletion vector row %llu is out of range",
                                (unsigned long long)rows[i]);
        if (i > 0 && rows[i] <= rows[i - 1])
            return sd_error_set(err, SD_ERR_ARG,
                                "deletion vector rows are not strictly ascending at index %zu", i);
    }
    uint64_t nbuckets = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || (rows[i] >> 32) != (rows[i - 1] >> 32)) nbuckets++;
    uint8_t *h = sd_buf_extend(out, 12);
    put_u32(h, DV_MAGIC);
    put_u32(h + 4, (uint32_t)nbuckets);
    put_u32(h + 8, (uint32_t)(nbuckets >> 32));
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && (rows[j] >> 32) == (rows[i] >> 32)) j++;
        put_u32(sd_buf_extend(out, 4), (uint32_t)(rows[i] >> 32));
        encode_bucket(rows + i, j - i, out);
        i = j;
    }
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Descriptors and files                                                     */
/* ------------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A sorted, distinct copy of rows (caller frees). */
static uint64_t *sorted_rows(const uint64_t *rows, size_t n, size_t *nout) {
    uint64_t *r = sd_xmalloc((n ? n : 1) * sizeof(uint64_t));
    if (n) memcpy(r, rows, n * sizeof(uint64_t));
    qsort(r, n, sizeof(uint64_t), cmp_u64);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || r[i] != r[k - 1]) r[k++] = r[i];
    *nout = k;
    return r;
}

void delta_dv_descriptor_clear(delta_dv_descriptor *dv) {
    free((char *)dv->path_or_inline_dv);
    dv->path_or_inline_dv = NULL;
}

sd_status delta_dv_inline(const uint64_t *rows, size_t n, delta_dv_descriptor *out, sd_error *err) {
    memset(out, 0, sizeof(*out));
    size_t nr;
    uint64_t *r = sorted_rows(rows, n, &nr);
    sd_buf data = SD_BUF_INIT, text = SD_BUF_INIT;
    sd_status st = delta_dv_encode_bitmap(r, nr, &data, err);
    if (st == SD_OK) {
        size_t size = data.len;
        /* Z85 works on 4-byte groups: pad with zeros; sizeInBytes keeps the
         * real length. */
        while (data.len % 4) sd_buf_append_byte(&data, 0);
        delta_z85_encode(data.data, data.len, &text);
        out->storage_type = 'i';
        out->path_or_inline_dv = sd_xstrndup((const char *)text.data, text.len);
        out->offset = -1;
        out->size_in_bytes = (int32_t)size;
        out->cardinality = (int64_t)nr;
    }
    sd_buf_free(&data);
    sd_buf_free(&text);
    free(r);
    return st;
}

/* Write `bytes` to a new file (it must not exist), fsync'd. */
static sd_status write_new_file(const char *path, const sd_buf *bytes, sd_error *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return sd_error_set(err, errno == ENOSPC ? SD_ERR_NOSPACE : SD_ERR_IO, "%s: %s", path,
                            strerror(errno));
    size_t off = 0;
    while (off < bytes->len) {
        ssize_t w = write(fd, bytes->data + off, bytes->len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    int e = errno;
    bool ok = off == bytes->len && fsync(fd) == 0;
    if (!ok && off == bytes->len) e = errno;
    close(fd);
    if (!ok) {
        unlink(path);
        return sd_error_set(err, e == ENOSPC ? SD_ERR_NOSPACE : SD_ERR_IO, "%s: write: %s", path,
                            strerror(e));
    }
    return SD_OK;
}

sd_status delta_dv_write(const char *table_path, const uint64_t *rows, size_t n,
                         delta_dv_descriptor *out, sd_error *err) {
    memset(out, 0, sizeof(*out));
    size_t nr;
    uint64_t *r = sorted_rows(rows, n, &nr);
    sd_buf file = SD_BUF_INIT;
    sd_buf_append_byte(&file, DV_FILE_VERSION);
    sd_buf_extend(&file, 4); /* size, filled in below */
    sd_status st = delta_dv_encode_bitmap(r, nr, &file, err);
    free(r);
    if (st != SD_OK) {
        sd_buf_free(&file);
        return st;
    }
    uint32_t size = (uint32_t)(file.len - 5);
    put_be32(file.data + 1, size);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), file.data + 5, size);
    put_be32(sd_buf_extend(&file, 4), crc);

    uint8_t u[16];
    char text_uuid[SD_UUID_TEXT_SIZE];
    sd_uuid_random(u);
    sd_uuid_format(u, text_uuid);
    char *path = sd_xasprintf("%s/deletion_vector_%s.bin", table_path, text_uuid);
    st = write_new_file(path, &file, err);
    if (st == SD_OK) {
        sd_buf text = SD_BUF_INIT;
        delta_z85_encode(u, sizeof(u), &text);
        out->storage_type = 'u';
        out->path_or_inline_dv = sd_xstrndup((const char *)text.data, text.len);
        out->offset = 1;
        out->size_in_bytes = (int32_t)size;
        out->cardinality = (int64_t)nr;
        sd_buf_free(&text);
    } else {
        sd_error_prefix(err, "writing deletion vector: ");
    }
    free(path);
    sd_buf_free(&file);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Table support and the transaction helper                                  */
/* ------------------------------------------------------------------------ */

bool delta_snapshot_dv_supported(const delta_snapshot *s) {
    const delta_protocol *p = &s->protocol;
    if (p->min_writer_version != 7 || p->min_reader_version != 3) return false;
    bool r = false, w = false;
    for (size_t i = 0; i < p->nreader_features; i++)
        r |= strcmp(p->reader_features[i], "deletionVectors") == 0;
    for (size_t i = 0; i < p->nwriter_features; i++)
        w |= strcmp(p->writer_features[i], "deletionVectors") == 0;
    return r && w;
}

bool delta_snapshot_dv_enabled(const delta_snapshot *s) {
    const char *v = delta_snapshot_property(s, "delta.enableDeletionVectors", "false");
    return delta_snapshot_dv_supported(s) && strcmp(v, "true") == 0;
}

/* The add's stats with tightBounds=false: once rows are deleted, min/max
 * and null counts may describe rows that are gone (PROTOCOL.md "Per-file
 * Statistics"). numRecords stays the physical count. */
static void stats_wide(const sd_json *stats, sd_buf *out) {
    sd_buf_append_byte(out, '{');
    bool first = true;
    for (size_t i = 0; i < stats->count; i++) {
        if (strcmp(stats->keys[i], "tightBounds") == 0) continue;
        if (!first) sd_buf_append_byte(out, ',');
        first = false;
        sd_json_append_string(out, stats->keys[i], stats->key_lens[i]);
        sd_buf_append_byte(out, ':');
        sd_json_append(out, &stats->items[i]);
    }
    sd_buf_append_str(out, first ? "\"tightBounds\":false}" : ",\"tightBounds\":false}");
}

/* numRecords of the file and its stats object (caller frees). */
static sd_status file_stats(const delta_file *file, sd_json **stats, int64_t *num_records,
                            sd_error *err) {
    const char *text = file->add->stats;
    sd_error jerr = {0};
    *stats = text ? sd_json_parse(text, strlen(text), &jerr) : NULL;
    if (*stats == NULL || (*stats)->kind != SD_JSON_OBJECT ||
        !sd_json_as_int64(sd_json_get(*stats, "numRecords"), num_records) || *num_records < 0) {
        sd_json_free(*stats);
        *stats = NULL;
        return sd_error_set(err, SD_ERR_ARG,
                            "file %s has no numRecords statistic, which a deletion vector "
                            "requires; rewrite the file instead",
                            file->add->path);
    }
    return SD_OK;
}

/* rows (sorted, distinct) united with the file's current DV: a new sorted
 * array in *out. */
static sd_status union_with_current(const delta_snapshot *s, const delta_file *file,
                                    const uint64_t *rows, size_t n, uint64_t **out, size_t *nout,
                                    sd_error *err) {
    delta_rowset cur = {0};
    if (file->add->has_dv) {
        sd_status st = delta_dv_load(s->table_path, &file->add->dv, &cur, err);
        if (st != SD_OK) return st;
    }
    uint64_t *u = sd_xmalloc((n + cur.count + 1) * sizeof(uint64_t));
    size_t i = 0, j = 0, k = 0;
    while (i < n || j < cur.count) {
        uint64_t v;
        if (j >= cur.count || (i < n && rows[i] < cur.rows[j]))
            v = rows[i++];
        else if (i >= n || cur.rows[j] < rows[i])
            v = cur.rows[j++];
        else {
            v = rows[i++];
            j++;
        }
        u[k++] = v;
    }
    delta_rowset_free(&cur);
    *out = u;
    *nout = k;
    return SD_OK;
}

sd_status delta_transaction_delete_rows(delta_transaction *t, const delta_snapshot *s,
                                        const delta_file *file, const uint64_t *rows, size_t n,
                                        int64_t *newly_deleted, delta_dv_descriptor *written,
                                        sd_error *err) {
    if (newly_deleted) *newly_deleted = 0;
    if (written) memset(written, 0, sizeof(*written));
    if (!delta_snapshot_dv_supported(s))
        return sd_error_set(err, SD_ERR_UNSUPPORTED,
                            "table %s does not support deletion vectors (its protocol lacks the "
                            "deletionVectors table feature); create it with "
                            "delta.enableDeletionVectors=true",
                            s->table_path);
    sd_json *stats = NULL;
    int64_t num_records = 0;
    sd_status st = file_stats(file, &stats, &num_records, err);
    if (st != SD_OK) return st;
    size_t nr;
    uint64_t *r = sorted_rows(rows, n, &nr);
    if (nr > 0 && r[nr - 1] >= (uint64_t)num_records)
        st = sd_error_set(err, SD_ERR_ARG, "row %llu is past the end of file %s (%lld rows)",
                          (unsigned long long)r[nr - 1], file->add->path, (long long)num_records);
    uint64_t *all = NULL;
    size_t nall = 0;
    if (st == SD_OK) st = union_with_current(s, file, r, nr, &all, &nall, err);
    int64_t before = file->add->has_dv ? file->add->dv.cardinality : 0;
    if (st == SD_OK && (int64_t)nall > before) {
        delta_dv_descriptor dv;
        st = delta_dv_write(s->table_path, all, nall, &dv, err);
        if (st == SD_OK) {
            sd_buf stats_text = SD_BUF_INIT;
            stats_wide(stats, &stats_text);
            delta_add add = *file->add;
            add.data_change = true;
            add.has_dv = true;
            add.dv = dv;
            add.stats = sd_buf_cstr(&stats_text);
            delta_transaction_remove(t, file, true);
            delta_transaction_add(t, &add); /* copies everything */
            if (newly_deleted) *newly_deleted = (int64_t)nall - before;
            sd_buf_free(&stats_text);
            if (written)
                *written = dv; /* hands over the text */
            else
                delta_dv_descriptor_clear(&dv);
        }
    }
    free(all);
    free(r);
    sd_json_free(stats);
    return st;
}
