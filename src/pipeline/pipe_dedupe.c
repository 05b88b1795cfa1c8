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
    for (size_t i = 0; i < n; i++) {
        size_t from = (size_t)c->offsets[i], to = (size_t)c->offsets[i + 1];
        if (nested) memset(child_keep + from, keep[i] ? 1 : 0, to - from);
        if (!keep[i]) continue;
        /* Strings move their bytes down; earlier rows never overlap later
         * ones, so memmove in ascending order is safe. */
        if (!nested && to > from && data_out != from)
            memmove(c->data.data + data_out, c->data.data + from, to - from);
        data_out += to - from;
        if (c->valid) c->valid[out] = c->valid[i];
        c->offsets[++out] = (int64_t)data_out;
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
    for (size_t i = 0; i < n; i++) {
        if (!keep[i]) continue;
        if (out != i) {
            if (w) memcpy(values + out * w, values + i * w, w);
            if (c->valid) c->valid[out] = c->valid[i];
        }
        out++;
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

sd_status pipe_late_filter(sd_batch *rows, int date_col, int64_t min_day, pipe_row_origin *origins,
                           int64_t *dropped, sd_error *err) {
    *dropped = 0;
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
    if (n == 0) return SD_OK;
    uint8_t *keep = sd_xmalloc(n);
    int64_t late = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t day;
        if (kind == SD_DATE)
            day = ((const int32_t *)c->values)[i];
        else
            day = pd_day_of_micros(((const int64_t *)c->values)[i]);
        bool is_late = sd_column_is_valid(c, i) && day < min_day;
        keep[i] = !is_late;
        late += is_late;
    }
    if (late > 0) pipe_batch_keep(rows, keep, origins);
    free(keep);
    *dropped = late;
    return SD_OK;
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

/* FNV-1a with a final mix: keys are UUID strings or integers, both spread
 * well enough for a table sized to twice the rows. */
static uint64_t pd_hash(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* True when row `b` beats row `a` (the current winner of their key). */
static bool pd_newer(const sd_batch *rows, int order_col, const pipe_row_origin *origins, size_t a,
                     size_t b) {
    if (order_col >= 0) {
        const sd_column *o = &rows->cols[order_col];
        sd_value va = sd_column_get(o, a), vb = sd_column_get(o, b);
        int cmp = sd_value_compare(&vb, &va);
        if (cmp != 0) return cmp > 0;
    }
    if (origins != NULL && origins[a].offset != origins[b].offset)
        return origins[b].offset > origins[a].offset;
    return b > a;
}

sd_status pipe_dedupe(sd_batch *rows, int key_col, int order_col, pipe_row_origin *origins,
                      int64_t *dropped, sd_error *err) {
    *dropped = 0;
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
    size_t n = rows->nrows;
    if (n < 2) return SD_OK;
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    /* slot holds winner row + 1 (0 = empty) */
    size_t *slots = sd_xcalloc(cap, sizeof(size_t));
    uint8_t *keep = sd_xmalloc(n);
    int64_t removed = 0;
    for (size_t i = 0; i < n; i++) {
        keep[i] = 1;
        if (!sd_column_is_valid(key, i)) continue; /* null keys never match */
        const uint8_t *p;
        size_t len;
        pd_key_bytes(key, i, &p, &len);
        size_t s = (size_t)pd_hash(p, len) & (cap - 1);
        for (;; s = (s + 1) & (cap - 1)) {
            if (slots[s] == 0) {
                slots[s] = i + 1;
                break;
            }
            size_t w = slots[s] - 1;
            const uint8_t *q;
            size_t qlen;
            pd_key_bytes(key, w, &q, &qlen);
            if (qlen != len || memcmp(p, q, len) != 0) continue;
            removed++;
            if (pd_newer(rows, order_col, origins, w, i)) {
                keep[w] = 0;
                slots[s] = i + 1;
            } else {
                keep[i] = 0;
            }
            break;
        }
    }
    if (removed > 0) pipe_batch_keep(rows, keep, origins);
    free(keep);
    free(slots);
    *dropped = removed;
    return SD_OK;
}
