/*
 * pq_writer.c - writes columnar batches to a Parquet file: the file (magic,
 * row groups, footer), row groups cut near options.row_group_size, column
 * chunks (dictionary page, then data pages), and data pages cut near
 * options.page_size, v1 or v2, compressed page by page.
 *
 * Format: apache/parquet-format parquet.thrift (FileMetaData, ColumnChunk,
 * PageHeader) and Encodings.md (PLAIN, RLE_DICTIONARY, RLE/bit-packed
 * levels). File layout: "PAR1" <column chunks...> <FileMetaData>
 * <4-byte little-endian footer length> "PAR1".
 *
 * Flow: a batch is cut into row windows; each window is appended to every
 * leaf column (levels, then values encoded as dictionary indices or PLAIN,
 * with statistics in the same pass); a column flushes a page when its
 * estimate passes page_size; after a window the row group is flushed when
 * the columns together pass row_group_size. Buffers (levels, values, page
 * bodies, compressed pages) belong to the column and are reused for every
 * page and row group, so steady-state writing allocates nothing.
 *
 * Long windows are encoded and compressed on two threads, each owning half
 * of the column writers; bytes reach the file only at the row-group flush,
 * in column order, so the output does not depend on the threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pq_writer_internal.h"

/* Writes to the file go out in pieces of at least this size. */
#define PQ_WRITE_CHUNK (1u << 20)
/* Rows appended to a column between two page-size checks, at most. */
#define PQ_SLICE_MAX_ROWS 8192
/* Rows per window between two row-group-size checks, at most. */
#define PQ_WINDOW_MAX_ROWS (1u << 20)
/* Windows at least this long are encoded on two threads (columns split
 * between them); below it a thread costs more than it saves. */
#define PQ_THREAD_MIN_ROWS 16384

/* State of one leaf column: the page being built, the chunk of the current
 * row group, and the file-wide statistics. */
typedef struct pq_colw {
    const pq_leaf *leaf;
    sd_type_kind kind;
    size_t width;  /* bytes per value in the sd_column (0: byte arrays) */
    size_t pwidth; /* bytes per PLAIN value for fixed physical types */
    int def_bits, rep_bits;

    /* page being built */
    pq_levels lv;
    sd_buf plain;   /* PLAIN values (booleans: one byte 0/1 per value) */
    uint32_t *didx; /* dictionary indices */
    size_t ndidx, didx_cap;
    size_t page_values, page_nonnull, page_rows;
    bool page_dict;
    pq_stat page_stat;

    /* chunk of the current row group */
    pq_dict *dict;    /* NULL when this column never uses a dictionary */
    bool dict_active; /* new pages still use the dictionary */
    bool dict_judged; /* the first-page rule has been applied */
    sd_buf pages;     /* data pages (headers + compressed bodies) */
    int64_t chunk_values, chunk_nonnull, chunk_rows;
    int64_t chunk_uncomp, chunk_comp;
    int npages_dict, npages_plain;
    pq_stat chunk_stat;
    pq_stat file_stat;

    /* page statistics of byte arrays over dictionary entries: stamp[i] ==
     * page_no when entry i was already folded into this page's stats */
    uint32_t *stamp;
    size_t stamp_cap;
    uint32_t page_no;

    size_t dict_max;      /* options.dictionary_max */
    double bytes_per_row; /* estimate, refreshed at every page */
    sd_buf body, comp, conv;
    pq_statistics pstats;
} pq_colw;

struct pq_writer {
    char *path;
    int fd;
    pq_writer_options opts;
    sd_schema *schema;
    pq_file_meta meta;
    int nleaves;
    pq_leaf *leaves;
    pq_colw *cols;
    int *order, *jobcols; /* scratch for dealing columns to threads */
    sd_buf out;           /* bytes not yet written to fd */
    int64_t pos;          /* file offset of the next byte (incl. out) */
    int64_t rg_rows;      /* rows in the open row group */
    int rg_cap;
    bool failed;
};

void pq_writer_options_init(pq_writer_options *opts) {
    memset(opts, 0, sizeof(*opts));
    opts->codec = PQ_CODEC_SNAPPY;
    opts->dictionary = true;
    opts->dictionary_max = 1u << 20;
    opts->page_size = 1u << 20;
    opts->row_group_size = 128u << 20;
    opts->data_page_version = 1;
    opts->page_statistics = true;
    opts->created_by = "streamdelta version 0.1.0";
}

/* ------------------------------------------------------------------------ */
/* Output                                                                    */
/* ------------------------------------------------------------------------ */

static sd_status pq_fd_write(pq_writer *w, const uint8_t *p, size_t n, sd_error *err) {
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return sd_error_set(err, errno == ENOSPC ? SD_ERR_NOSPACE : SD_ERR_IO,
                                "write failed: %s", strerror(errno));
        }
        p += k;
        n -= (size_t)k;
    }
    return SD_OK;
}

static sd_status pq_out_flush(pq_writer *w, sd_error *err) {
    sd_status st = pq_fd_write(w, w->out.data, w->out.len, err);
    sd_buf_reset(&w->out);
    return st;
}

/* Append to the file: small pieces gather in `out`, large ones go straight
 * to the descriptor after it. */
static sd_status pq_emit(pq_writer *w, const void *p, size_t n, sd_error *err) {
    w->pos += (int64_t)n;
    if (n >= PQ_WRITE_CHUNK) {
        sd_status st = pq_out_flush(w, err);
        return st != SD_OK ? st : pq_fd_write(w, p, n, err);
    }
    sd_buf_append(&w->out, p, n);
    return w->out.len >= PQ_WRITE_CHUNK ? pq_out_flush(w, err) : SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Column writers                                                            */
/* ------------------------------------------------------------------------ */

static bool pq_kind_uses_dict(sd_type_kind k) {
    return k != SD_BOOL;
}

static void pq_colw_init(pq_colw *c, const pq_leaf *leaf, const pq_writer_options *o) {
    memset(c, 0, sizeof(*c));
    c->leaf = leaf;
    c->kind = leaf->type->kind;
    c->width = sd_type_width(c->kind);
    switch (leaf->ptype) {
        case PQ_INT32:
        case PQ_FLOAT:
            c->pwidth = 4;
            break;
        case PQ_INT64:
        case PQ_DOUBLE:
            c->pwidth = 8;
            break;
        case PQ_FIXED_LEN_BYTE_ARRAY:
            c->pwidth = (size_t)leaf->type_length;
            break;
        default:
            c->pwidth = 0;
            break;
    }
    c->def_bits = pq_bit_width((uint64_t)leaf->max_def);
    c->rep_bits = pq_bit_width((uint64_t)leaf->max_rep);
    pq_stat_init(&c->page_stat, c->kind);
    pq_stat_init(&c->chunk_stat, c->kind);
    pq_stat_init(&c->file_stat, c->kind);
    if (o->dictionary && pq_kind_uses_dict(c->kind)) {
        c->dict = pq_dict_new(c->pwidth);
        c->dict_active = true;
    }
    c->page_no = 1;
    c->dict_max = o->dictionary_max;
    c->bytes_per_row = c->pwidth ? (double)c->pwidth : (c->kind == SD_BOOL ? 0.25 : 16.0);
}

static void pq_colw_free(pq_colw *c) {
    pq_levels_free(&c->lv);
    sd_buf_free(&c->plain);
    free(c->didx);
    pq_stat_free(&c->page_stat);
    pq_stat_free(&c->chunk_stat);
    pq_stat_free(&c->file_stat);
    if (c->dict) pq_dict_free(c->dict);
    sd_buf_free(&c->pages);
    free(c->stamp);
    sd_buf_free(&c->body);
    sd_buf_free(&c->comp);
    sd_buf_free(&c->conv);
    pq_statistics_clear(&c->pstats);
}

static int pq_dict_bits(const pq_colw *c) {
    size_t n = pq_dict_count(c->dict);
    int bw = pq_bit_width(n > 1 ? (uint64_t)(n - 1) : 1);
    return bw < 1 ? 1 : bw;
}

/* Uncompressed size the current page would have. */
static size_t pq_page_estimate(const pq_colw *c) {
    size_t levels = (c->lv.n * (size_t)(c->def_bits + c->rep_bits) + 7) / 8;
    size_t values;
    if (c->page_dict)
        values = 1 + (c->ndidx * (size_t)pq_dict_bits(c) + 7) / 8;
    else if (c->kind == SD_BOOL)
        values = (c->plain.len + 7) / 8;
    else
        values = c->plain.len;
    return levels + values;
}

/* Uncompressed size of the chunk so far, with its open page and dictionary. */
static size_t pq_chunk_estimate(const pq_colw *c) {
    size_t n = (size_t)c->chunk_uncomp + pq_page_estimate(c);
    if (c->dict && c->npages_dict + (c->page_dict && c->page_values ? 1 : 0) > 0)
        n += pq_dict_plain_size(c->dict);
    return n;
}

/* The values at [a, b) of a fixed-width column in their PLAIN physical form:
 * a pointer into the column when the layouts agree, else converted into
 * c->conv (INT8/INT16 widened to INT32; decimals narrowed to INT32/INT64 or
 * laid out big-endian for FIXED_LEN_BYTE_ARRAY). */
static const uint8_t *pq_physical(pq_colw *c, const sd_column *col, size_t a, size_t b) {
    size_t n = b - a;
    switch (c->kind) {
        case SD_INT8: {
            const int8_t *v = (const int8_t *)col->values + a;
            sd_buf_reset(&c->conv);
            int32_t *o = (int32_t *)(void *)sd_buf_extend(&c->conv, n * 4);
            for (size_t i = 0; i < n; i++) o[i] = v[i];
            return c->conv.data;
        }
        case SD_INT16: {
            const int16_t *v = (const int16_t *)col->values + a;
            sd_buf_reset(&c->conv);
            int32_t *o = (int32_t *)(void *)sd_buf_extend(&c->conv, n * 4);
            for (size_t i = 0; i < n; i++) o[i] = v[i];
            return c->conv.data;
        }
        case SD_DECIMAL: {
            const uint8_t *v = (const uint8_t *)col->values + a * 16;
            sd_buf_reset(&c->conv);
            uint8_t *o = sd_buf_extend(&c->conv, n * c->pwidth);
            for (size_t i = 0; i < n; i++) {
                __int128 x;
                memcpy(&x, v + i * 16, 16);
                if (c->leaf->ptype == PQ_INT32) {
                    int32_t y = (int32_t)x;
                    memcpy(o + i * 4, &y, 4);
                } else if (c->leaf->ptype == PQ_INT64) {
                    int64_t y = (int64_t)x;
                    memcpy(o + i * 8, &y, 8);
                } else {
                    unsigned __int128 u = (unsigned __int128)x;
                    uint8_t *p = o + i * c->pwidth;
                    for (size_t k = c->pwidth; k-- > 0;) {
                        p[k] = (uint8_t)u;
                        u >>= 8;
                    }
                }
            }
            return c->conv.data;
        }
        default:
            return (const uint8_t *)col->values + a * c->width;
    }
}

static void pq_didx_reserve(pq_colw *c, size_t extra) {
    if (c->ndidx + extra <= c->didx_cap) return;
    size_t cap = c->didx_cap ? c->didx_cap : 1024;
    while (cap < c->ndidx + extra) cap *= 2;
    c->didx = sd_xrealloc(c->didx, cap * sizeof(uint32_t));
    c->didx_cap = cap;
}

/* Byte-array page statistics over the dictionary entries this page uses,
 * each entry folded once per page. */
static void pq_dict_page_stats(pq_colw *c, const uint32_t *idx, size_t n) {
    size_t count = pq_dict_count(c->dict);
    if (count > c->stamp_cap) {
        size_t cap = c->stamp_cap ? c->stamp_cap : 1024;
        while (cap < count) cap *= 2;
        c->stamp = sd_xrealloc(c->stamp, cap * sizeof(uint32_t));
        memset(c->stamp + c->stamp_cap, 0, (cap - c->stamp_cap) * sizeof(uint32_t));
        c->stamp_cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t e = idx[i];
        if (c->stamp[e] == c->page_no) continue;
        c->stamp[e] = c->page_no;
        size_t len;
        const uint8_t *p = pq_dict_entry(c->dict, e, &len);
        pq_stat_update_bytes(&c->page_stat, p, len);
    }
}

/* Turn the open page's dictionary indices into PLAIN values, and stop using
 * the dictionary for the rest of the chunk. */
static void pq_page_demote(pq_colw *c) {
    for (size_t i = 0; i < c->ndidx; i++) {
        size_t len;
        const uint8_t *p = pq_dict_entry(c->dict, c->didx[i], &len);
        if (c->width == 0) {
            uint32_t l32 = (uint32_t)len;
            sd_buf_append(&c->plain, &l32, 4);
        }
        sd_buf_append(&c->plain, p, len);
    }
    c->ndidx = 0;
    c->page_dict = false;
    c->dict_active = false;
}

/* Append the present values at [a, b) of the leaf column. */
static void pq_encode_run(pq_colw *c, const sd_column *col, size_t a, size_t b) {
    size_t n = b - a;
    if (n == 0) return;
    c->page_nonnull += n;
    if (c->width) pq_stat_update_fixed(&c->page_stat, col->values, a, b);
    if (c->page_dict) {
        pq_didx_reserve(c, n);
        uint32_t *idx = c->didx + c->ndidx;
        size_t k;
        if (c->width) {
            k = pq_dict_add_fixed(c->dict, pq_physical(c, col, a, b), n, c->dict_max, idx);
        } else {
            k = pq_dict_add_bytes(c->dict, col->data.data, col->offsets + a, n, c->dict_max, idx);
            pq_dict_page_stats(c, idx, k);
        }
        c->ndidx += k;
        if (k == n) return;
        /* the dictionary is full: this page and the rest of the chunk go
         * PLAIN */
        pq_page_demote(c);
        a += k;
        n -= k;
    }
    if (c->kind == SD_BOOL) {
        sd_buf_append(&c->plain, (const uint8_t *)col->values + a, n);
    } else if (c->width) {
        sd_buf_append(&c->plain, pq_physical(c, col, a, b), n * c->pwidth);
    } else {
        const int64_t *off = col->offsets;
        const uint8_t *data = col->data.data;
        sd_buf_reserve(&c->plain, (size_t)(off[b] - off[a]) + 4 * n);
        uint8_t *o = c->plain.data + c->plain.len;
        for (size_t i = a; i < b; i++) {
            uint32_t len = (uint32_t)(off[i + 1] - off[i]);
            memcpy(o, &len, 4);
            if (len) memcpy(o + 4, data + off[i], len);
            o += 4 + len;
            pq_stat_update_bytes(&c->page_stat, data + off[i], len);
        }
        c->plain.len = (size_t)(o - c->plain.data);
    }
}

static void pq_levels_reserve(pq_levels *lv, size_t extra) {
    if (lv->n + extra <= lv->cap) return;
    size_t cap = lv->cap ? lv->cap : 1024;
    while (cap < lv->n + extra) cap *= 2;
    lv->def = sd_xrealloc(lv->def, cap * sizeof(uint32_t));
    lv->rep = sd_xrealloc(lv->rep, cap * sizeof(uint32_t));
    lv->cap = cap;
}

/* Append rows [r0, r1) of top-level column `top` to the open page. */
static void pq_colw_add(pq_colw *c, const sd_column *top, size_t r0, size_t r1) {
    const pq_leaf *leaf = c->leaf;
    if (c->page_values == 0) c->page_dict = c->dict_active;
    size_t n = r1 - r0;
    c->page_rows += n;
    if (leaf->nsteps == 1) {
        if (leaf->max_def == 0) {
            c->page_values += n;
            pq_encode_run(c, top, r0, r1);
            return;
        }
        /* flat optional: def level = validity; values in runs of present rows */
        pq_levels_reserve(&c->lv, n);
        uint32_t *def = c->lv.def + c->lv.n;
        c->lv.n += n;
        c->page_values += n;
        if (top->valid == NULL) {
            for (size_t i = 0; i < n; i++) def[i] = 1;
            pq_encode_run(c, top, r0, r1);
            return;
        }
        const uint8_t *valid = top->valid;
        size_t nulls = 0, run = r0;
        for (size_t r = r0; r < r1; r++) {
            def[r - r0] = valid[r] ? 1 : 0;
            if (!valid[r]) {
                nulls++;
                pq_encode_run(c, top, run, r);
                run = r + 1;
            }
        }
        pq_encode_run(c, top, run, r1);
        c->page_stat.null_count += (int64_t)nulls;
        return;
    }
    /* nested: shred into levels and value indices, then encode runs of
     * consecutive indices */
    size_t before = c->lv.n, nulls_before = c->lv.nnulls;
    c->lv.nidx = 0;
    pq_shred(leaf, top, r0, r1, &c->lv);
    c->page_values += c->lv.n - before;
    c->page_stat.null_count += (int64_t)(c->lv.nnulls - nulls_before);
    const sd_column *col = pq_leaf_column(leaf, top);
    const uint32_t *idx = c->lv.idx;
    size_t i = 0;
    while (i < c->lv.nidx) {
        size_t j = i + 1;
        while (j < c->lv.nidx && idx[j] == idx[j - 1] + 1) j++;
        pq_encode_run(c, col, idx[i], (size_t)idx[j - 1] + 1);
        i = j;
    }
    c->lv.nidx = 0;
}

/* v1 levels: 4-byte little-endian length, then the RLE/bit-packed hybrid. */
static void pq_put_levels(sd_buf *out, const uint32_t *lv, size_t n, int bits, bool prefix) {
    size_t at = out->len;
    if (prefix) sd_buf_extend(out, 4);
    pq_rle_encode(lv, n, bits, out);
    if (prefix) {
        uint32_t len = (uint32_t)(out->len - at - 4);
        memcpy(out->data + at, &len, 4);
    }
}

static void pq_put_values(pq_colw *c, sd_buf *out) {
    if (c->page_dict) {
        int bw = pq_dict_bits(c);
        sd_buf_append_byte(out, (uint8_t)bw);
        pq_rle_encode(c->didx, c->ndidx, bw, out);
    } else if (c->kind == SD_BOOL) {
        pq_plain_encode_bools(c->plain.data, c->plain.len, out);
    } else if (c->plain.len) {
        sd_buf_append(out, c->plain.data, c->plain.len);
    }
}

static void pq_colw_page_reset(pq_colw *c) {
    c->lv.n = c->lv.nidx = c->lv.nnulls = 0;
    sd_buf_reset(&c->plain);
    c->ndidx = 0;
    c->page_values = c->page_nonnull = c->page_rows = 0;
    pq_stat_reset(&c->page_stat);
    c->page_no++;
}

/* Encode, compress and store the open page in c->pages. */
static sd_status pq_colw_flush_page(pq_colw *c, const pq_writer_options *o, sd_error *err) {
    if (c->page_values == 0) return SD_OK;
    const pq_leaf *leaf = c->leaf;
    bool v2 = o->data_page_version == 2;
    sd_buf_reset(&c->body);
    size_t levels_len = 0, rep_len = 0;
    if (leaf->max_rep > 0) pq_put_levels(&c->body, c->lv.rep, c->lv.n, c->rep_bits, !v2);
    rep_len = c->body.len;
    if (leaf->max_def > 0) pq_put_levels(&c->body, c->lv.def, c->lv.n, c->def_bits, !v2);
    levels_len = c->body.len;
    pq_put_values(c, &c->body);
    size_t uncomp = c->body.len;

    /* v2 compresses only the values; v1 the whole body */
    size_t skip = v2 ? levels_len : 0;
    const uint8_t *stored = c->body.data;
    size_t stored_len = uncomp;
    if (o->codec != PQ_CODEC_UNCOMPRESSED) {
        sd_buf_reset(&c->comp);
        if (skip) sd_buf_append(&c->comp, c->body.data, skip);
        sd_status st = pq_compress(o->codec, o->compression_level, c->body.data + skip,
                                   uncomp - skip, &c->comp, err);
        if (st != SD_OK) return st;
        stored = c->comp.data;
        stored_len = c->comp.len;
    }
    if (uncomp > INT32_MAX || stored_len > INT32_MAX || c->page_values > INT32_MAX)
        return sd_error_set(err, SD_ERR_ARG,
                            "column %s: a page of %zu bytes is too large for Parquet", leaf->path,
                            uncomp);

    pq_page_header h;
    memset(&h, 0, sizeof(h));
    h.uncompressed_page_size = (int32_t)uncomp;
    h.compressed_page_size = (int32_t)stored_len;
    pq_encoding enc = c->page_dict ? PQ_ENC_RLE_DICTIONARY : PQ_ENC_PLAIN;
    bool stats = o->page_statistics;
    if (stats) pq_stat_to_thrift(&c->page_stat, leaf, &c->pstats);
    if (v2) {
        h.type = PQ_PAGE_DATA_V2;
        h.has_data_page_header_v2 = true;
        pq_data_page_header_v2 *d = &h.data_page_header_v2;
        d->num_values = (int32_t)c->page_values;
        d->num_nulls = (int32_t)(c->page_values - c->page_nonnull);
        d->num_rows = (int32_t)c->page_rows;
        d->encoding = enc;
        d->definition_levels_byte_length = (int32_t)(levels_len - rep_len);
        d->repetition_levels_byte_length = (int32_t)rep_len;
        d->is_compressed = o->codec != PQ_CODEC_UNCOMPRESSED;
        d->has_statistics = stats;
        if (stats) d->statistics = c->pstats;
    } else {
        h.type = PQ_PAGE_DATA;
        h.has_data_page_header = true;
        pq_data_page_header *d = &h.data_page_header;
        d->num_values = (int32_t)c->page_values;
        d->encoding = enc;
        d->definition_level_encoding = PQ_ENC_RLE;
        d->repetition_level_encoding = PQ_ENC_RLE;
        d->has_statistics = stats;
        if (stats) d->statistics = c->pstats;
    }
    size_t at = c->pages.len;
    pq_page_header_serialize(&h, &c->pages);
    size_t hdr = c->pages.len - at;
    sd_buf_append(&c->pages, stored, stored_len);

    c->chunk_uncomp += (int64_t)(hdr + uncomp);
    c->chunk_comp += (int64_t)(hdr + stored_len);
    c->chunk_values += (int64_t)c->page_values;
    c->chunk_nonnull += (int64_t)c->page_nonnull;
    c->chunk_rows += (int64_t)c->page_rows;
    if (c->page_dict)
        c->npages_dict++;
    else
        c->npages_plain++;
    if (c->page_rows) c->bytes_per_row = (double)(uncomp ? uncomp : 1) / (double)c->page_rows;
    pq_stat_merge(&c->chunk_stat, &c->page_stat);

    /* Dictionary rule: after the first page, a dictionary holding more than
     * two thirds as many entries as the values seen is not paying: its page
     * costs about as much as PLAIN data would and the indices come on top,
     * and values seen later are unlikely to repeat more (unique ids). The
     * chunk goes on in PLAIN. (A dictionary that reaches dictionary_max
     * stops at once: see pq_page_demote.) */
    if (c->page_dict && !c->dict_judged) {
        size_t entries = pq_dict_count(c->dict);
        if ((int64_t)entries * 3 > c->chunk_nonnull * 2) c->dict_active = false;
        c->dict_judged = true;
    }
    pq_colw_page_reset(c);
    return SD_OK;
}

/* Rows to append before the next page-size check. */
static size_t pq_slice_rows(const pq_colw *c, size_t page_size, size_t left) {
    size_t est = pq_page_estimate(c);
    double room = est < page_size ? (double)(page_size - est) : 1.0;
    double rows = room / (c->bytes_per_row > 0.01 ? c->bytes_per_row : 0.01);
    size_t n = rows < 1 ? 1 : (rows > PQ_SLICE_MAX_ROWS ? PQ_SLICE_MAX_ROWS : (size_t)rows);
    return n < left ? n : left;
}

static sd_status pq_colw_write(pq_colw *c, const pq_writer_options *o, const sd_column *top,
                               size_t r0, size_t r1, sd_error *err) {
    while (r0 < r1) {
        size_t n = pq_slice_rows(c, o->page_size, r1 - r0);
        pq_colw_add(c, top, r0, r0 + n);
        r0 += n;
        if (pq_page_estimate(c) >= o->page_size) {
            sd_status st = pq_colw_flush_page(c, o, err);
            if (st != SD_OK) return st;
        }
    }
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Row groups                                                                */
/* ------------------------------------------------------------------------ */

static void pq_add_encoding(pq_column_meta *m, pq_encoding e) {
    for (int i = 0; i < m->nencodings; i++)
        if (m->encodings[i] == e) return;
    m->encodings[m->nencodings++] = e;
}

static void pq_add_encoding_stat(pq_column_meta *m, pq_page_type t, pq_encoding e, int count) {
    if (count == 0) return;
    pq_page_encoding_stats *s = &m->encoding_stats[m->nencoding_stats++];
    s->page_type = t;
    s->encoding = e;
    s->count = count;
}

/* Write the chunk of column c (dictionary page, data pages) and describe it
 * in `cc`. */
static sd_status pq_chunk_write(pq_writer *w, pq_colw *c, pq_column_chunk *cc, sd_error *err) {
    const pq_leaf *leaf = c->leaf;
    const pq_writer_options *o = &w->opts;
    sd_status st = pq_colw_flush_page(c, o, err);
    if (st != SD_OK) return st;
    memset(cc, 0, sizeof(*cc));
    pq_column_meta *m = &cc->meta_data;
    cc->has_meta_data = true;
    cc->file_offset = w->pos;
    m->type = leaf->ptype;
    m->codec = o->codec;
    m->npath = leaf->npath;
    m->path_in_schema = sd_xcalloc((size_t)leaf->npath, sizeof(char *));
    for (int i = 0; i < leaf->npath; i++)
        m->path_in_schema[i] = sd_xstrdup(leaf->path_in_schema[i]);
    m->encodings = sd_xcalloc(4, sizeof(pq_encoding));
    m->encoding_stats = sd_xcalloc(3, sizeof(pq_page_encoding_stats));
    int64_t uncomp = c->chunk_uncomp, comp = c->chunk_comp;

    if (c->npages_dict > 0) {
        m->has_dictionary_page_offset = true;
        m->dictionary_page_offset = w->pos;
        sd_buf_reset(&c->body);
        pq_dict_encode(c->dict, &c->body);
        const uint8_t *stored = c->body.data;
        size_t stored_len = c->body.len;
        if (o->codec != PQ_CODEC_UNCOMPRESSED) {
            sd_buf_reset(&c->comp);
            st = pq_compress(o->codec, o->compression_level, c->body.data, c->body.len, &c->comp,
                             err);
            if (st != SD_OK) return st;
            stored = c->comp.data;
            stored_len = c->comp.len;
        }
        if (c->body.len > INT32_MAX || stored_len > INT32_MAX)
            return sd_error_set(err, SD_ERR_ARG, "column %s: dictionary page too large",
                                leaf->path);
        pq_page_header h;
        memset(&h, 0, sizeof(h));
        h.type = PQ_PAGE_DICTIONARY;
        h.uncompressed_page_size = (int32_t)c->body.len;
        h.compressed_page_size = (int32_t)stored_len;
        h.has_dictionary_page_header = true;
        h.dictionary_page_header.num_values = (int32_t)pq_dict_count(c->dict);
        h.dictionary_page_header.encoding = PQ_ENC_PLAIN;
        sd_buf hb = SD_BUF_INIT;
        pq_page_header_serialize(&h, &hb);
        uncomp += (int64_t)(hb.len + c->body.len);
        comp += (int64_t)(hb.len + stored_len);
        st = pq_emit(w, hb.data, hb.len, err);
        sd_buf_free(&hb);
        if (st == SD_OK) st = pq_emit(w, stored, stored_len, err);
        if (st != SD_OK) return st;
        pq_add_encoding(m, PQ_ENC_PLAIN);
        pq_add_encoding_stat(m, PQ_PAGE_DICTIONARY, PQ_ENC_PLAIN, 1);
    }
    m->data_page_offset = w->pos;
    st = pq_emit(w, c->pages.data, c->pages.len, err);
    if (st != SD_OK) return st;
    if (leaf->max_def > 0 || leaf->max_rep > 0) pq_add_encoding(m, PQ_ENC_RLE);
    if (c->npages_dict) pq_add_encoding(m, PQ_ENC_RLE_DICTIONARY);
    if (c->npages_plain) pq_add_encoding(m, PQ_ENC_PLAIN);
    pq_page_type dt = o->data_page_version == 2 ? PQ_PAGE_DATA_V2 : PQ_PAGE_DATA;
    pq_add_encoding_stat(m, dt, PQ_ENC_RLE_DICTIONARY, c->npages_dict);
    pq_add_encoding_stat(m, dt, PQ_ENC_PLAIN, c->npages_plain);
    m->num_values = c->chunk_values;
    m->total_uncompressed_size = uncomp;
    m->total_compressed_size = comp;
    m->has_statistics = true;
    pq_stat_to_thrift(&c->chunk_stat, leaf, &m->statistics);
    pq_stat_merge(&c->file_stat, &c->chunk_stat);

    /* the next chunk starts afresh */
    sd_buf_reset(&c->pages);
    pq_stat_reset(&c->chunk_stat);
    c->chunk_values = c->chunk_nonnull = c->chunk_rows = 0;
    c->chunk_uncomp = c->chunk_comp = 0;
    c->npages_dict = c->npages_plain = 0;
    if (c->dict) {
        pq_dict_reset(c->dict);
        c->dict_active = true;
        c->dict_judged = false;
    }
    return SD_OK;
}

static sd_status pq_row_group_flush(pq_writer *w, sd_error *err) {
    if (w->rg_rows == 0) return SD_OK;
    pq_file_meta *fm = &w->meta;
    if (fm->nrow_groups == w->rg_cap) {
        w->rg_cap = w->rg_cap ? w->rg_cap * 2 : 4;
        fm->row_groups = sd_xrealloc(fm->row_groups, (size_t)w->rg_cap * sizeof(pq_row_group));
    }
    if (fm->nrow_groups >= INT16_MAX)
        return sd_error_set(err, SD_ERR_ARG, "more than %d row groups in one file", INT16_MAX);
    pq_row_group *rg = &fm->row_groups[fm->nrow_groups++];
    memset(rg, 0, sizeof(*rg));
    rg->ncolumns = w->nleaves;
    rg->columns = sd_xcalloc((size_t)w->nleaves, sizeof(pq_column_chunk));
    rg->num_rows = w->rg_rows;
    rg->has_file_offset = true;
    rg->file_offset = w->pos;
    rg->has_ordinal = true;
    rg->ordinal = (int16_t)(fm->nrow_groups - 1);
    for (int i = 0; i < w->nleaves; i++) {
        sd_status st = pq_chunk_write(w, &w->cols[i], &rg->columns[i], err);
        if (st != SD_OK) {
            sd_error_prefix(err, "column %s: ", w->leaves[i].path);
            return st;
        }
        rg->total_byte_size += rg->columns[i].meta_data.total_uncompressed_size;
        rg->total_compressed_size += rg->columns[i].meta_data.total_compressed_size;
    }
    rg->has_total_compressed_size = true;
    fm->num_rows += w->rg_rows;
    w->rg_rows = 0;
    return SD_OK;
}

static size_t pq_row_group_estimate(const pq_writer *w) {
    size_t n = 0;
    for (int i = 0; i < w->nleaves; i++) n += pq_chunk_estimate(&w->cols[i]);
    return n;
}

/* Rows of the next window: enough to reach the row-group target by the
 * current bytes-per-row estimate. */
static size_t pq_window_rows(const pq_writer *w, size_t left) {
    double bpr = 0;
    for (int i = 0; i < w->nleaves; i++) bpr += w->cols[i].bytes_per_row;
    size_t est = pq_row_group_estimate(w);
    double room = est < w->opts.row_group_size ? (double)(w->opts.row_group_size - est) : 1.0;
    double rows = room / (bpr > 0.01 ? bpr : 0.01);
    size_t n = rows < 1 ? 1 : (rows > PQ_WINDOW_MAX_ROWS ? PQ_WINDOW_MAX_ROWS : (size_t)rows);
    return n < left ? n : left;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                */
/* ------------------------------------------------------------------------ */

static void pq_writer_free(pq_writer *w) {
    if (w->cols)
        for (int i = 0; i < w->nleaves; i++) pq_colw_free(&w->cols[i]);
    free(w->cols);
    free(w->order);
    free(w->jobcols);
    pq_leaves_free(w->leaves, w->nleaves);
    pq_file_meta_clear(&w->meta);
    if (w->schema) sd_schema_free(w->schema);
    sd_buf_free(&w->out);
    free(w->path);
    free(w);
}

static bool pq_codec_writable(pq_codec c) {
    return c == PQ_CODEC_UNCOMPRESSED || c == PQ_CODEC_SNAPPY || c == PQ_CODEC_GZIP ||
           c == PQ_CODEC_ZSTD || c == PQ_CODEC_LZ4_RAW;
}

static sd_status pq_options_check(const pq_writer_options *o, sd_error *err) {
    if (!pq_codec_writable(o->codec))
        return sd_error_set(err, SD_ERR_UNSUPPORTED,
                            "compression codec %d cannot be written (use snappy, zstd, gzip, "
                            "lz4_raw or uncompressed)",
                            (int)o->codec);
    if (o->data_page_version != 1 && o->data_page_version != 2)
        return sd_error_set(err, SD_ERR_ARG, "data page version %d is not 1 or 2",
                            o->data_page_version);
    if (o->nkv < 0 || (o->nkv > 0 && (o->kv_keys == NULL || o->kv_values == NULL)))
        return sd_error_set(err, SD_ERR_ARG, "key/value metadata: %d entries without arrays",
                            o->nkv);
    return SD_OK;
}

pq_writer *pq_writer_open(const char *path, const sd_schema *schema, const pq_writer_options *opts,
                          sd_error *err) {
    pq_writer_options defaults;
    if (opts == NULL) {
        pq_writer_options_init(&defaults);
        opts = &defaults;
    }
    if (pq_options_check(opts, err) != SD_OK) {
        sd_error_prefix(err, "%s: ", path);
        return NULL;
    }
    pq_writer *w = sd_xcalloc(1, sizeof(*w));
    w->fd = -1;
    w->path = sd_xstrdup(path);
    w->opts = *opts;
    if (w->opts.page_size == 0) w->opts.page_size = 1;
    if (w->opts.row_group_size == 0) w->opts.row_group_size = 1;
    w->meta.version = 1;
    w->meta.created_by = sd_xstrdup(opts->created_by ? opts->created_by : "streamdelta");
    if (schema == NULL || schema->kind != SD_STRUCT) {
        sd_error_set(err, SD_ERR_ARG, "%s: no schema given", path);
        pq_writer_free(w);
        return NULL;
    }
    /* the leaves borrow their types from our own copy of the schema */
    w->schema = sd_xcalloc(1, sizeof(*w->schema));
    sd_type_copy(w->schema, schema);
    pq_schema_element *elems = NULL;
    int nelems = 0;
    if (pq_schema_build(w->schema, &elems, &nelems, &w->leaves, &w->nleaves, err) != SD_OK) {
        sd_error_prefix(err, "%s: ", path);
        pq_writer_free(w);
        return NULL;
    }
    w->meta.schema = elems;
    w->meta.nschema = nelems;
    w->meta.ncolumn_orders = w->nleaves;
    if (opts->nkv > 0) {
        w->meta.kv = sd_xcalloc((size_t)opts->nkv, sizeof(pq_key_value));
        w->meta.nkv = opts->nkv;
        for (int i = 0; i < opts->nkv; i++) {
            w->meta.kv[i].key = sd_xstrdup(opts->kv_keys[i] ? opts->kv_keys[i] : "");
            w->meta.kv[i].value = opts->kv_values[i] ? sd_xstrdup(opts->kv_values[i]) : NULL;
        }
    }
    /* nothing borrowed from the caller's options outlives this call */
    w->opts.kv_keys = w->opts.kv_values = NULL;
    w->opts.nkv = 0;
    w->opts.created_by = NULL;
    w->cols = sd_xcalloc((size_t)w->nleaves, sizeof(pq_colw));
    w->order = sd_xcalloc((size_t)w->nleaves, sizeof(int));
    w->jobcols = sd_xcalloc((size_t)w->nleaves, sizeof(int));
    for (int i = 0; i < w->nleaves; i++) pq_colw_init(&w->cols[i], &w->leaves[i], &w->opts);

    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        sd_error_set(err, errno == ENOSPC ? SD_ERR_NOSPACE : SD_ERR_IO, "%s: cannot create: %s",
                     path, strerror(errno));
        pq_writer_free(w);
        return NULL;
    }
    sd_error tmp = {0};
    if (pq_emit(w, "PAR1", 4, &tmp) != SD_OK) {
        sd_error_set(err, tmp.code, "%s: %s", path, tmp.msg);
        pq_writer_abort(w);
        return NULL;
    }
    return w;
}

/* A share of the columns of one window, for one thread. Each column writer
 * is touched by exactly one job, so jobs share nothing but the read-only
 * batch; the file itself is written later, in column order, by the row
 * group flush, which keeps the output identical to a one-thread run. */
typedef struct pq_job {
    pq_writer *w;
    const sd_batch *batch;
    size_t r0, r1;
    const int *cols; /* indexes of the column writers of this job */
    int ncols;
    sd_status st;
    sd_error err;
} pq_job;

static void *pq_job_run(void *arg) {
    pq_job *j = arg;
    for (int k = 0; k < j->ncols && j->st == SD_OK; k++) {
        pq_colw *c = &j->w->cols[j->cols[k]];
        j->st = pq_colw_write(c, &j->w->opts, &j->batch->cols[c->leaf->field_index], j->r0, j->r1,
                              &j->err);
        if (j->st != SD_OK) sd_error_prefix(&j->err, "column %s: ", c->leaf->path);
    }
    return NULL;
}

/* Deal the columns to two jobs, largest estimated bytes per row first, each
 * to the lighter job: w->jobcols holds job 0's columns from the front and
 * job 1's from the back. Returns job 0's count. */
static int pq_split_columns(pq_writer *w) {
    int n = w->nleaves;
    int *order = w->order;
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++) /* insertion sort: n is small */
        for (int k = i;
             k > 0 && w->cols[order[k]].bytes_per_row > w->cols[order[k - 1]].bytes_per_row; k--) {
            int t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    double load[2] = {0, 0};
    int front = 0, back = n;
    for (int i = 0; i < n; i++) {
        /* +1: a column costs something per row whatever its size */
        double cost = w->cols[order[i]].bytes_per_row + 1.0;
        if (load[0] <= load[1]) {
            w->jobcols[front++] = order[i];
            load[0] += cost;
        } else {
            w->jobcols[--back] = order[i];
            load[1] += cost;
        }
    }
    return front;
}

/* Append rows [r0, r1) to every column: on the calling thread, or over two
 * threads for long windows when two cores are online. */
static sd_status pq_window_write(pq_writer *w, const sd_batch *batch, size_t r0, size_t r1,
                                 sd_error *err) {
    int n = w->nleaves;
    int n0 = pq_split_columns(w);
    pq_job jobs[2];
    memset(jobs, 0, sizeof(jobs));
    for (int t = 0; t < 2; t++) {
        jobs[t].w = w;
        jobs[t].batch = batch;
        jobs[t].r0 = r0;
        jobs[t].r1 = r1;
        jobs[t].cols = t ? w->jobcols + n0 : w->jobcols;
        jobs[t].ncols = t ? n - n0 : n0;
    }
    bool threaded = r1 - r0 >= PQ_THREAD_MIN_ROWS && n >= 2 && sysconf(_SC_NPROCESSORS_ONLN) >= 2;
    pthread_t th;
    bool started = threaded && pthread_create(&th, NULL, pq_job_run, &jobs[1]) == 0;
    pq_job_run(&jobs[0]);
    if (started)
        pthread_join(th, NULL);
    else
        pq_job_run(&jobs[1]);
    for (int t = 0; t < 2; t++)
        if (jobs[t].st != SD_OK) return sd_error_set(err, jobs[t].st, "%s", jobs[t].err.msg);
    return SD_OK;
}

sd_status pq_writer_write(pq_writer *w, const sd_batch *batch, sd_error *err) {
    if (w->failed)
        return sd_error_set(err, SD_ERR_ARG, "%s: the writer failed earlier and cannot continue",
                            w->path);
    if (batch->schema == NULL || batch->ncols != w->schema->nchildren ||
        (batch->schema != w->schema && !sd_type_equal(batch->schema, w->schema))) {
        sd_buf a = SD_BUF_INIT, b = SD_BUF_INIT;
        if (batch->schema) sd_type_format(batch->schema, &a);
        sd_type_format(w->schema, &b);
        sd_error_set(err, SD_ERR_ARG, "%s: batch schema %s does not match the file's schema %s",
                     w->path, batch->schema ? sd_buf_cstr(&a) : "(none)", sd_buf_cstr(&b));
        sd_buf_free(&a);
        sd_buf_free(&b);
        return SD_ERR_ARG;
    }
    /* validate everything before writing anything, so a bad batch leaves the
     * file as it was */
    for (int i = 0; i < batch->ncols; i++) {
        sd_status st =
            pq_column_validate(&w->schema->children[i], &batch->cols[i], batch->nrows, err);
        if (st != SD_OK) {
            sd_error_prefix(err, "%s: ", w->path);
            return st;
        }
    }
    size_t r = 0;
    while (r < batch->nrows) {
        size_t n = pq_window_rows(w, batch->nrows - r);
        sd_status st = pq_window_write(w, batch, r, r + n, err);
        if (st != SD_OK) {
            w->failed = true;
            sd_error_prefix(err, "%s: ", w->path);
            return st;
        }
        r += n;
        w->rg_rows += (int64_t)n;
        if (pq_row_group_estimate(w) >= w->opts.row_group_size) {
            st = pq_row_group_flush(w, err);
            if (st != SD_OK) {
                w->failed = true;
                sd_error_prefix(err, "%s: ", w->path);
                return st;
            }
        }
    }
    return SD_OK;
}

static void pq_summary_fill(pq_writer *w, pq_file_summary *s) {
    memset(s, 0, sizeof(*s));
    s->num_rows = w->meta.num_rows;
    s->file_size = w->pos;
    s->num_row_groups = w->meta.nrow_groups;
    s->nleaves = w->nleaves;
    s->leaves = sd_xcalloc((size_t)(w->nleaves ? w->nleaves : 1), sizeof(pq_leaf_stats));
    for (int i = 0; i < w->nleaves; i++) {
        pq_leaf_stats *l = &s->leaves[i];
        l->path = sd_xstrdup(w->leaves[i].path);
        l->field_index = w->leaves[i].field_index;
        l->in_repeated = w->leaves[i].in_repeated;
        pq_stat_to_summary(&w->cols[i].file_stat, &w->leaves[i], l);
    }
}

static sd_status pq_writer_finish(pq_writer *w, sd_error *err) {
    if (w->failed)
        return sd_error_set(err, SD_ERR_ARG, "the writer failed earlier; the file is incomplete");
    sd_status st = pq_row_group_flush(w, err);
    if (st != SD_OK) return st;
    sd_buf footer = SD_BUF_INIT;
    pq_meta_serialize(&w->meta, &footer);
    if (footer.len > UINT32_MAX) {
        sd_buf_free(&footer);
        return sd_error_set(err, SD_ERR_ARG, "footer of %zu bytes is too large", footer.len);
    }
    uint8_t tail[8];
    uint32_t flen = (uint32_t)footer.len;
    memcpy(tail, &flen, 4);
    memcpy(tail + 4, "PAR1", 4);
    st = pq_emit(w, footer.data, footer.len, err);
    sd_buf_free(&footer);
    if (st == SD_OK) st = pq_emit(w, tail, 8, err);
    if (st == SD_OK) st = pq_out_flush(w, err);
    if (st != SD_OK) return st;
    if (fsync(w->fd) != 0)
        return sd_error_set(err, errno == ENOSPC ? SD_ERR_NOSPACE : SD_ERR_IO, "fsync failed: %s",
                            strerror(errno));
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) return sd_error_set(err, SD_ERR_IO, "close failed: %s", strerror(errno));
    return SD_OK;
}

sd_status pq_writer_close(pq_writer *w, pq_file_summary *summary, sd_error *err) {
    if (summary) memset(summary, 0, sizeof(*summary));
    sd_status st = pq_writer_finish(w, err);
    if (st != SD_OK) {
        sd_error_prefix(err, "%s: ", w->path);
        pq_writer_abort(w);
        return st;
    }
    if (summary) pq_summary_fill(w, summary);
    pq_writer_free(w);
    return SD_OK;
}

void pq_writer_abort(pq_writer *w) {
    if (w == NULL) return;
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
    unlink(w->path);
    pq_writer_free(w);
}

sd_status pq_write_file(const char *path, const sd_batch *batch, const pq_writer_options *opts,
                        pq_file_summary *summary, sd_error *err) {
    if (summary) memset(summary, 0, sizeof(*summary)); /* safe to free on failure */
    pq_writer *w = pq_writer_open(path, batch->schema, opts, err);
    if (w == NULL) return err ? err->code : SD_ERR_IO;
    sd_status st = pq_writer_write(w, batch, err);
    if (st != SD_OK) {
        pq_writer_abort(w);
        return st;
    }
    return pq_writer_close(w, summary, err);
}

void pq_file_summary_free(pq_file_summary *s) {
    if (s == NULL) return;
    for (int i = 0; i < s->nleaves; i++) {
        free(s->leaves[i].path);
        sd_value_clear(&s->leaves[i].min);
        sd_value_clear(&s->leaves[i].max);
    }
    free(s->leaves);
    memset(s, 0, sizeof(*s));
}
