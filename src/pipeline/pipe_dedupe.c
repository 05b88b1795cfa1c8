/*
 * pipe_dedupe.c - steps 3 and 4 of a micro-batch (DESIGN.md, "The default
 * pipeline"): drop late rows, then keep one row per key inside the batch.
 *
 * Both work on the columnar batch in place: they mark the rows to keep and
 * compact every column once (pipe_batch_keep), so a batch costs a few
 * allocations, never one per row. The per-row Kafka origin (partition,
 * offset) travels beside the batch so ties between duplicates go to the
 * later offset, as the Spark job's ordering did.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

#define PD_DAY_MICROS (86400LL * 1000000LL)

/* ------------------------------------------------------------------------ */
/* Compaction                                                                */
/* ------------------------------------------------------------------------ */

static void pd_column_keep(sd_column *c, const uint8_t *keep, size_t n);

/* A list or map row keeps its child entries exactly when the row is kept:
 * derive the children's mask from the offsets, then rebuild the offsets. */
static void pd_offsets_keep(sd_column *c, const uint8_t *keep, size_t n) {
    bool nested = c->type->kind == SD_LIST || c->type->kind == SD_MAP;
    size_t total = (size_t)c->offsets[n];
    uint8_t *child_keep = nested ? sd_xmalloc(total ? total : 1) : NULL;
    size_t out = 0, data_out = 0;
    for (size_t i = 0; i < n;) {
        /* A run of kept rows moves as one block; earlier rows never overlap
         * later ones, so moving down in ascending order is safe. */
        size_t end = i;
        while (end < n && (keep[end] != 0) == (keep[i] != 0)) end++;
        size_t from = (size_t)c->offsets[i], to = (size_t)c->offsets[end];
        if (nested) memset(child_keep + from, keep[i] ? 1 : 0, to - from);
        if (!keep[i]) {
            i = end;
            continue;
        }
        if (!nested && to > from && data_out != from)
            memmove(c->data.data + data_out, c->data.data + from, to - from);
        int64_t shift = (int64_t)from - (int64_t)data_out;
        if (c->valid && out != i) memmove(c->valid + out, c->valid + i, end - i);
        for (size_t r = i; r < end; r++) c->offsets[++out] = c->offsets[r + 1] - shift;
        data_out += to - from;
        i = end;
    }
    c->offsets[0] = 0;
    if (nested) {
        for (int k = 0; k < c->nchildren; k++) pd_column_keep(&c->children[k], child_keep, total);
        free(child_keep);
    } else {
        c->data.len = data_out;
    }
    c->len = out;
}

static void pd_column_keep(sd_column *c, const uint8_t *keep, size_t n) {
    sd_type_kind kind = c->type->kind;
    if (kind == SD_STRING || kind == SD_BINARY || kind == SD_LIST || kind == SD_MAP) {
        pd_offsets_keep(c, keep, n);
        return;
    }
    size_t w = sd_type_width(kind), out = 0;
    uint8_t *values = c->values;
    for (size_t i = 0; i < n;) {
        size_t end = i;
        while (end < n && (keep[end] != 0) == (keep[i] != 0)) end++;
        if (keep[i] && out != i) {
            if (w) memmove(values + out * w, values + i * w, (end - i) * w);
            if (c->valid) memmove(c->valid + out, c->valid + i, end - i);
        }
        if (keep[i]) out += end - i;
        i = end;
    }
    if (kind == SD_STRUCT)
        for (int k = 0; k < c->nchildren; k++) pd_column_keep(&c->children[k], keep, n);
    c->len = out;
}

size_t pipe_batch_keep(sd_batch *rows, const uint8_t *keep, pipe_row_origin *origins) {
    size_t n = rows->nrows, out = 0;
    for (int i = 0; i < rows->ncols; i++) pd_column_keep(&rows->cols[i], keep, n);
    for (size_t i = 0; i < n; i++) {
        if (!keep[i]) continue;
        if (origins != NULL) origins[out] = origins[i];
        out++;
    }
    rows->nrows = out;
    return out;
}

/* ------------------------------------------------------------------------ */
/* Late filter                                                               */
/* ------------------------------------------------------------------------ */

/* The UTC day of a timestamp in microseconds (floor, so before 1970 works). */
static int64_t pd_day_of_micros(int64_t us) {
    int64_t d = us / PD_DAY_MICROS;
    if (us % PD_DAY_MICROS < 0) d--;
    return d;
}

/* Mark late rows 0 in keep[] (others untouched); the count of rows newly
 * marked in *late. */
static sd_status pd_late_mask(const sd_batch *rows, int date_col, int64_t min_day, uint8_t *keep,
                              int64_t *late_out, sd_error *err) {
    *late_out = 0;
    if (date_col < 0 || date_col >= rows->ncols)
        return sd_error_set(err, SD_ERR_ARG, "late filter: column index %d out of range", date_col);
    const sd_column *c = &rows->cols[date_col];
    sd_type_kind kind = c->type->kind;
    if (kind != SD_DATE && kind != SD_TIMESTAMP && kind != SD_TIMESTAMP_NTZ)
        return sd_error_set(err, SD_ERR_ARG,
                            "late filter: column '%s' is %s; late events need a date or timestamp "
                            "partition column",
                            rows->schema->children[date_col].name, sd_type_kind_name(kind));
    size_t n = rows->nrows;
    int64_t late = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t day;
        if (kind == SD_DATE)
            day = ((const int32_t *)c->values)[i];
        else
            day = pd_day_of_micros(((const int64_t *)c->values)[i]);
        bool is_late = keep[i] && day < min_day && sd_column_is_valid(c, i);
        keep[i] = keep[i] && !is_late;
        late += is_late;
    }
    *late_out = late;
    return SD_OK;
}

sd_status pipe_late_filter(sd_batch *rows, int date_col, int64_t min_day, pipe_row_origin *origins,
                           int64_t *dropped, sd_error *err) {
    *dropped = 0;
    uint8_t *keep = sd_xmalloc(rows->nrows ? rows->nrows : 1);
    memset(keep, 1, rows->nrows);
    sd_status st = pd_late_mask(rows, date_col, min_day, keep, dropped, err);
    if (st == SD_OK && *dropped > 0) pipe_batch_keep(rows, keep, origins);
    free(keep);
    return st;
}

/* ------------------------------------------------------------------------ */
/* In-batch dedupe                                                           */
/* ------------------------------------------------------------------------ */

/* The bytes that identify a key value: the fixed-width slot or the string. */
static void pd_key_bytes(const sd_column *c, size_t row, const uint8_t **p, size_t *n) {
    size_t w = sd_type_width(c->type->kind);
    if (w) {
        *p = (const uint8_t *)c->values + row * w;
        *n = w;
    } else {
        *p = c->data.data + c->offsets[row];
        *n = (size_t)(c->offsets[row + 1] - c->offsets[row]);
    }
}

/* The order value of a row as a comparable number: the integer kinds
 * directly (the usual epoch-seconds column), others through sd_value. */
static int pd_order_cmp(const sd_column *o, size_t a, size_t b) {
    bool va = sd_column_is_valid(o, a), vb = sd_column_is_valid(o, b);
    sd_type_kind k = o->type->kind;
    if (va && vb && (k == SD_INT64 || k == SD_TIMESTAMP || k == SD_TIMESTAMP_NTZ)) {
        int64_t x = ((const int64_t *)o->values)[a], y = ((const int64_t *)o->values)[b];
        return (y > x) - (y < x);
    }
    sd_value xa = sd_column_get(o, a), xb = sd_column_get(o, b);
    return sd_value_compare(&xb, &xa);
}

/* True when row `b` beats row `a` (the current winner of their key). */
static bool pd_newer(const sd_batch *rows, int order_col, const pipe_row_origin *origins, size_t a,
                     size_t b) {
    if (order_col >= 0) {
        int cmp = pd_order_cmp(&rows->cols[order_col], a, b);
        if (cmp != 0) return cmp > 0;
    }
    if (origins != NULL && origins[a].offset != origins[b].offset)
        return origins[b].offset > origins[a].offset;
    return b > a;
}

static sd_status pd_check_columns(const sd_batch *rows, int key_col, int order_col, sd_error *err) {
    if (key_col < 0 || key_col >= rows->ncols || order_col >= rows->ncols)
        return sd_error_set(err, SD_ERR_ARG, "dedupe: column index out of range");
    const sd_column *key = &rows->cols[key_col];
    if (sd_type_is_nested(key->type->kind))
        return sd_error_set(err, SD_ERR_ARG,
                            "dedupe: key column '%s' is %s; a key must be a "
                            "primitive column",
                            rows->schema->children[key_col].name,
                            sd_type_kind_name(key->type->kind));
    if (order_col >= 0 && sd_type_is_nested(rows->cols[order_col].type->kind))
        return sd_error_set(err, SD_ERR_ARG, "dedupe: order column '%s' must be primitive",
                            rows->schema->children[order_col].name);
    return SD_OK;
}

/* Rows hashed ahead of their probe so the slot is on its way from memory
 * (the table outgrows the caches for large batches). */
#define PD_AHEAD 16

/* Row r (hash h) against the rows of its key seen so far. */
static void pd_dedupe_row(const sd_batch *rows, int key_col, int order_col,
                          const pipe_row_origin *origins, uint8_t *keep, uint64_t *slots,
                          size_t cap, uint64_t h, size_t r, int64_t *removed) {
    const sd_column *key = &rows->cols[key_col];
    /* null keys never match; rows already dropped take no part */
    if (!keep[r] || !sd_column_is_valid(key, r)) return;
    const uint8_t *p;
    size_t len;
    pd_key_bytes(key, r, &p, &len);
    uint64_t tag = h >> 32 << 32;
    for (size_t s = (size_t)h & (cap - 1);; s = (s + 1) & (cap - 1)) {
        if (slots[s] == 0) {
            slots[s] = tag | (uint64_t)(r + 1);
            return;
        }
        if ((slots[s] >> 32 << 32) != tag) continue;
        size_t w = (size_t)(uint32_t)slots[s] - 1;
        const uint8_t *q;
        size_t qlen;
        pd_key_bytes(key, w, &q, &qlen);
        if (qlen != len || memcmp(p, q, len) != 0) continue;
        (*removed)++;
        if (pd_newer(rows, order_col, origins, w, r)) {
            keep[w] = 0;
            slots[s] = tag | (uint64_t)(r + 1);
        } else {
            keep[r] = 0;
        }
        return;
    }
}

/* Among the rows with keep[i] set, clear keep[] of every row that loses
 * to another row of its key; the number cleared in *removed. Slots hold
 * the key hash's high half (a tag sparing most key comparisons) and the
 * winner row + 1. */
static void pd_dedupe_mask(const sd_batch *rows, int key_col, int order_col,
                           const pipe_row_origin *origins, uint8_t *keep, int64_t *removed) {
    const sd_column *key = &rows->cols[key_col];
    size_t n = rows->nrows;
    *removed = 0;
    if (n < 2) return;
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    uint64_t *slots = sd_xcalloc(cap, sizeof(uint64_t));
    uint64_t hs[PD_AHEAD];
    for (size_t i = 0; i < n + PD_AHEAD; i++) {
        if (i >= PD_AHEAD)
            pd_dedupe_row(rows, key_col, order_col, origins, keep, slots, cap, hs[i % PD_AHEAD],
                          i - PD_AHEAD, removed);
        if (i < n) {
            const uint8_t *p;
            size_t len;
            pd_key_bytes(key, i, &p, &len);
            hs[i % PD_AHEAD] = sd_hash_bytes(p, len);
            __builtin_prefetch(&slots[hs[i % PD_AHEAD] & (cap - 1)]);
        }
    }
    free(slots);
}

sd_status pipe_dedupe(sd_batch *rows, int key_col, int order_col, pipe_row_origin *origins,
                      int64_t *dropped, sd_error *err) {
    return pipe_late_dedupe(rows, -1, 0, key_col, order_col, origins, NULL, dropped, err);
}

sd_status pipe_late_dedupe(sd_batch *rows, int date_col, int64_t min_day, int key_col,
                           int order_col, pipe_row_origin *origins, int64_t *late, int64_t *dropped,
                           sd_error *err) {
    *dropped = 0;
    if (late) *late = 0;
    sd_status st = pd_check_columns(rows, key_col, order_col, err);
    if (st != SD_OK) return st;
    if (rows->nrows > UINT32_MAX - 1)
        return sd_error_set(err, SD_ERR_ARG, "dedupe: more than 2^32 rows in one batch");
    size_t n = rows->nrows;
    uint8_t *keep = sd_xmalloc(n ? n : 1);
    memset(keep, 1, n);
    int64_t nlate = 0, removed = 0;
    if (date_col >= 0) st = pd_late_mask(rows, date_col, min_day, keep, &nlate, err);
    if (st == SD_OK) pd_dedupe_mask(rows, key_col, order_col, origins, keep, &removed);
    if (st == SD_OK && nlate + removed > 0) pipe_batch_keep(rows, keep, origins);
    free(keep);
    if (st != SD_OK) return st;
    if (late) *late = nlate;
    *dropped = removed;
    return SD_OK;
}
