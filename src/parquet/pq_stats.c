/*
 * pq_stats.c - min/max/null_count of a leaf column per page, column chunk
 * and file, for the Statistics of page headers and ColumnMetaData and for
 * the per-file summary that Delta's `add.stats` is built from.
 *
 * Order follows parquet-format's TypeDefinedOrder (parquet.thrift,
 * ColumnOrder): signed for integers, dates, timestamps and decimals (by
 * value), false < true for booleans, unsigned bytewise for strings and
 * binaries. Floats and doubles ignore NaN; a bound of zero is written as
 * -0.0 (min) and +0.0 (max) because the two zeros compare equal but a
 * reader may have seen either.
 */
#include <math.h>
#include <string.h>

#include "pq_writer_internal.h"

void pq_stat_init(pq_stat *st, sd_type_kind kind) {
    memset(st, 0, sizeof(*st));
    st->kind = kind;
}

void pq_stat_reset(pq_stat *st) {
    st->has_minmax = false;
    st->dropped = false;
    st->null_count = 0;
    sd_buf_reset(&st->bmin);
    sd_buf_reset(&st->bmax);
}

void pq_stat_free(pq_stat *st) {
    sd_buf_free(&st->bmin);
    sd_buf_free(&st->bmax);
}

/* Integer kinds: each width read with its own typed loop so the compiler can
 * vectorise it. */
#define PQ_STAT_INT_LOOP(T)                                                                        \
    do {                                                                                           \
        const T *v = (const T *)values;                                                            \
        int64_t lo = st->has_minmax ? st->imin : (int64_t)v[a];                                    \
        int64_t hi = st->has_minmax ? st->imax : (int64_t)v[a];                                    \
        for (size_t i = a; i < b; i++) {                                                           \
            int64_t x = (int64_t)v[i];                                                             \
            lo = x < lo ? x : lo;                                                                  \
            hi = x > hi ? x : hi;                                                                  \
        }                                                                                          \
        st->imin = lo;                                                                             \
        st->imax = hi;                                                                             \
        st->has_minmax = true;                                                                     \
    } while (0)

/* Floats: NaN never becomes a bound (x < lo is false for NaN, and the first
 * bound is taken from the first non-NaN value). */
#define PQ_STAT_FLOAT_LOOP(T)                                                                      \
    do {                                                                                           \
        const T *v = (const T *)values;                                                            \
        size_t i = a;                                                                              \
        if (!st->has_minmax) {                                                                     \
            while (i < b && isnan(v[i])) i++;                                                      \
            if (i == b) return;                                                                    \
            st->dmin = st->dmax = (double)v[i];                                                    \
            st->has_minmax = true;                                                                 \
        }                                                                                          \
        double lo = st->dmin, hi = st->dmax;                                                       \
        for (; i < b; i++) {                                                                       \
            double x = (double)v[i];                                                               \
            lo = x < lo ? x : lo;                                                                  \
            hi = x > hi ? x : hi;                                                                  \
        }                                                                                          \
        st->dmin = lo;                                                                             \
        st->dmax = hi;                                                                             \
    } while (0)

void pq_stat_update_fixed(pq_stat *st, const void *values, size_t a, size_t b) {
    if (a >= b) return;
    switch (st->kind) {
        case SD_BOOL:
            PQ_STAT_INT_LOOP(uint8_t);
            break;
        case SD_INT8:
            PQ_STAT_INT_LOOP(int8_t);
            break;
        case SD_INT16:
            PQ_STAT_INT_LOOP(int16_t);
            break;
        case SD_INT32:
        case SD_DATE:
            PQ_STAT_INT_LOOP(int32_t);
            break;
        case SD_INT64:
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ:
            PQ_STAT_INT_LOOP(int64_t);
            break;
        case SD_FLOAT:
            PQ_STAT_FLOAT_LOOP(float);
            break;
        case SD_DOUBLE:
            PQ_STAT_FLOAT_LOOP(double);
            break;
        case SD_DECIMAL: {
            const uint8_t *v = values;
            for (size_t i = a; i < b; i++) {
                __int128 x;
                memcpy(&x, v + i * 16, 16);
                if (!st->has_minmax) {
                    st->qmin = st->qmax = x;
                    st->has_minmax = true;
                }
                if (x < st->qmin) st->qmin = x;
                if (x > st->qmax) st->qmax = x;
            }
            break;
        }
        default:
            break;
    }
}

/* Unsigned bytewise comparison, shorter prefix first. */
static int pq_bytes_cmp(const uint8_t *a, size_t na, const uint8_t *b, size_t nb) {
    size_t n = na < nb ? na : nb;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return na < nb ? -1 : (na > nb ? 1 : 0);
}

static void pq_buf_set(sd_buf *b, const uint8_t *p, size_t n) {
    sd_buf_reset(b);
    if (n) sd_buf_append(b, p, n);
}

void pq_stat_update_bytes(pq_stat *st, const uint8_t *p, size_t n) {
    if (st->dropped) return;
    if (n > PQ_STAT_MAX_BYTES) {
        st->dropped = true;
        st->has_minmax = false;
        return;
    }
    if (!st->has_minmax) {
        pq_buf_set(&st->bmin, p, n);
        pq_buf_set(&st->bmax, p, n);
        st->has_minmax = true;
        return;
    }
    if (pq_bytes_cmp(p, n, st->bmin.data, st->bmin.len) < 0)
        pq_buf_set(&st->bmin, p, n);
    else if (pq_bytes_cmp(p, n, st->bmax.data, st->bmax.len) > 0)
        pq_buf_set(&st->bmax, p, n);
}

void pq_stat_merge(pq_stat *dst, const pq_stat *src) {
    dst->null_count += src->null_count;
    if (dst->dropped) return;
    if (src->dropped) {
        dst->dropped = true;
        dst->has_minmax = false;
        return;
    }
    if (!src->has_minmax) return;
    bool first = !dst->has_minmax;
    switch (dst->kind) {
        case SD_FLOAT:
        case SD_DOUBLE:
            if (first || src->dmin < dst->dmin) dst->dmin = src->dmin;
            if (first || src->dmax > dst->dmax) dst->dmax = src->dmax;
            break;
        case SD_DECIMAL:
            if (first || src->qmin < dst->qmin) dst->qmin = src->qmin;
            if (first || src->qmax > dst->qmax) dst->qmax = src->qmax;
            break;
        case SD_STRING:
        case SD_BINARY:
            if (first ||
                pq_bytes_cmp(src->bmin.data, src->bmin.len, dst->bmin.data, dst->bmin.len) < 0)
                pq_buf_set(&dst->bmin, src->bmin.data, src->bmin.len);
            if (first ||
                pq_bytes_cmp(src->bmax.data, src->bmax.len, dst->bmax.data, dst->bmax.len) > 0)
                pq_buf_set(&dst->bmax, src->bmax.data, src->bmax.len);
            break;
        default:
            if (first || src->imin < dst->imin) dst->imin = src->imin;
            if (first || src->imax > dst->imax) dst->imax = src->imax;
            break;
    }
    dst->has_minmax = true;
}

static void pq_put_le(sd_buf *b, uint64_t v, int n) {
    uint8_t *p = sd_buf_extend(b, (size_t)n);
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* A decimal bound in the leaf's physical form. */
static void pq_put_decimal(sd_buf *b, __int128 v, const pq_leaf *leaf) {
    if (leaf->ptype == PQ_INT32) {
        pq_put_le(b, (uint64_t)(uint32_t)(int32_t)v, 4);
    } else if (leaf->ptype == PQ_INT64) {
        pq_put_le(b, (uint64_t)(int64_t)v, 8);
    } else {
        /* big-endian two's complement, type_length bytes */
        uint8_t *p = sd_buf_extend(b, (size_t)leaf->type_length);
        unsigned __int128 u = (unsigned __int128)v;
        for (int i = leaf->type_length - 1; i >= 0; i--) {
            p[i] = (uint8_t)u;
            u >>= 8;
        }
    }
}

/* One bound (min when is_min) in PLAIN form. */
static void pq_put_bound(sd_buf *b, const pq_stat *st, const pq_leaf *leaf, bool is_min) {
    switch (st->kind) {
        case SD_BOOL:
            sd_buf_append_byte(b, (uint8_t)(is_min ? st->imin : st->imax));
            break;
        case SD_INT8:
        case SD_INT16:
        case SD_INT32:
        case SD_DATE:
            pq_put_le(b, (uint64_t)(uint32_t)(int32_t)(is_min ? st->imin : st->imax), 4);
            break;
        case SD_INT64:
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ:
            pq_put_le(b, (uint64_t)(is_min ? st->imin : st->imax), 8);
            break;
        case SD_FLOAT:
        case SD_DOUBLE: {
            double d = is_min ? st->dmin : st->dmax;
            if (d == 0.0) d = is_min ? -0.0 : 0.0;
            if (st->kind == SD_FLOAT) {
                float f = (float)d;
                uint32_t u;
                memcpy(&u, &f, 4);
                pq_put_le(b, u, 4);
            } else {
                uint64_t u;
                memcpy(&u, &d, 8);
                pq_put_le(b, u, 8);
            }
            break;
        }
        case SD_DECIMAL:
            pq_put_decimal(b, is_min ? st->qmin : st->qmax, leaf);
            break;
        case SD_STRING:
        case SD_BINARY: {
            const sd_buf *src = is_min ? &st->bmin : &st->bmax;
            if (src->len) sd_buf_append(b, src->data, src->len);
            break;
        }
        default:
            break;
    }
}

void pq_stat_to_thrift(const pq_stat *st, const pq_leaf *leaf, pq_statistics *out) {
    sd_buf_reset(&out->min);
    sd_buf_reset(&out->max);
    sd_buf_reset(&out->legacy_min);
    sd_buf_reset(&out->legacy_max);
    out->has_min = out->has_max = false;
    out->has_legacy_min = out->has_legacy_max = false;
    out->has_distinct_count = false;
    out->has_null_count = true;
    out->null_count = st->null_count;
    if (!st->has_minmax || st->dropped) return;
    pq_put_bound(&out->min, st, leaf, true);
    pq_put_bound(&out->max, st, leaf, false);
    /* an empty string is a real bound: make sure the buffer exists */
    sd_buf_reserve(&out->min, 1);
    sd_buf_reserve(&out->max, 1);
    out->has_min = out->has_max = true;
    /* The deprecated min/max fields were defined with signed comparison, so
     * readers that predate min_value/max_value (and parquet-mr for these
     * types) can use them only where our order is the signed one: not for
     * byte arrays, whose order is unsigned. */
    if (leaf->ptype != PQ_BYTE_ARRAY && leaf->ptype != PQ_FIXED_LEN_BYTE_ARRAY) {
        sd_buf_append(&out->legacy_min, out->min.data, out->min.len);
        sd_buf_append(&out->legacy_max, out->max.data, out->max.len);
        out->has_legacy_min = out->has_legacy_max = true;
    }
}

static void pq_stat_value(const pq_stat *st, const pq_leaf *leaf, bool is_min, sd_value *v) {
    memset(v, 0, sizeof(*v));
    v->kind = st->kind;
    v->precision = leaf->type->precision;
    v->scale = leaf->type->scale;
    switch (st->kind) {
        case SD_BOOL:
            v->u.b = (is_min ? st->imin : st->imax) != 0;
            break;
        case SD_FLOAT:
        case SD_DOUBLE: {
            double d = is_min ? st->dmin : st->dmax;
            v->u.d = d == 0.0 ? (is_min ? -0.0 : 0.0) : d;
            break;
        }
        case SD_DECIMAL:
            v->u.dec = is_min ? st->qmin : st->qmax;
            break;
        case SD_STRING:
        case SD_BINARY: {
            const sd_buf *b = is_min ? &st->bmin : &st->bmax;
            sd_value tmp = *v;
            tmp.u.s.ptr = b->data;
            tmp.u.s.len = b->len;
            sd_value_copy(v, &tmp);
            break;
        }
        default:
            v->u.i = is_min ? st->imin : st->imax;
            break;
    }
}

void pq_stat_to_summary(const pq_stat *st, const pq_leaf *leaf, pq_leaf_stats *out) {
    out->null_count = st->null_count;
    out->has_min_max = st->has_minmax && !st->dropped;
    if (out->has_min_max) {
        pq_stat_value(st, leaf, true, &out->min);
        pq_stat_value(st, leaf, false, &out->max);
    } else {
        memset(&out->min, 0, sizeof(out->min));
        memset(&out->max, 0, sizeof(out->max));
        out->min.kind = out->max.kind = st->kind;
        out->min.is_null = out->max.is_null = true;
    }
}
