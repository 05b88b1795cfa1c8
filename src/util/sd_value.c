/*
 * sd_value.c - typed scalar values: extraction from columns, ordering.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

sd_value sd_column_get(const sd_column *c, size_t row) {
    sd_value v;
    memset(&v, 0, sizeof(v));
    v.kind = c->type->kind;
    v.precision = c->type->precision;
    v.scale = c->type->scale;
    if (!sd_column_is_valid(c, row)) {
        v.is_null = true;
        return v;
    }
    switch (v.kind) {
        case SD_BOOL:
            v.u.b = ((const uint8_t *)c->values)[row] != 0;
            break;
        case SD_INT8:
            v.u.i = ((const int8_t *)c->values)[row];
            break;
        case SD_INT16:
            v.u.i = ((const int16_t *)c->values)[row];
            break;
        case SD_INT32:
        case SD_DATE:
            v.u.i = ((const int32_t *)c->values)[row];
            break;
        case SD_INT64:
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ:
            v.u.i = ((const int64_t *)c->values)[row];
            break;
        case SD_FLOAT:
            v.u.d = ((const float *)c->values)[row];
            break;
        case SD_DOUBLE:
            v.u.d = ((const double *)c->values)[row];
            break;
        case SD_DECIMAL:
            memcpy(&v.u.dec, (const uint8_t *)c->values + row * 16, 16);
            break;
        case SD_STRING:
        case SD_BINARY:
            v.u.s.len = (size_t)(c->offsets[row + 1] - c->offsets[row]);
            /* A column of empty strings may have no data buffer at all, and
             * NULL + 0 is undefined: point empty values at a constant. */
            v.u.s.ptr = v.u.s.len ? c->data.data + c->offsets[row] : (const uint8_t *)"";
            break;
        default:
            v.is_null = true;
            break; /* nested kinds have no scalar value */
    }
    return v;
}

void sd_value_copy(sd_value *dst, const sd_value *src) {
    *dst = *src;
    dst->owns = false;
    if (!src->is_null && (src->kind == SD_STRING || src->kind == SD_BINARY)) {
        uint8_t *p = sd_xmalloc(src->u.s.len + 1);
        if (src->u.s.len) memcpy(p, src->u.s.ptr, src->u.s.len);
        p[src->u.s.len] = 0;
        dst->u.s.ptr = p;
        dst->owns = true;
    }
}

void sd_value_clear(sd_value *v) {
    if (v->owns) free((void *)v->u.s.ptr);
    v->owns = false;
    v->u.s.ptr = NULL;
    v->u.s.len = 0;
}

static int sd_cmp_double(double a, double b) {
    bool an = isnan(a), bn = isnan(b);
    if (an || bn) return an == bn ? 0 : (an ? 1 : -1);
    return a < b ? -1 : (a > b ? 1 : 0);
}

int sd_value_compare(const sd_value *a, const sd_value *b) {
    if (a->is_null || b->is_null) return a->is_null == b->is_null ? 0 : (a->is_null ? -1 : 1);
    switch (a->kind) {
        case SD_BOOL:
            return (int)a->u.b - (int)b->u.b;
        case SD_FLOAT:
        case SD_DOUBLE:
            return sd_cmp_double(a->u.d, b->u.d);
        case SD_DECIMAL:
            return a->u.dec < b->u.dec ? -1 : (a->u.dec > b->u.dec ? 1 : 0);
        case SD_STRING:
        case SD_BINARY: {
            size_t n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
            int r = n ? memcmp(a->u.s.ptr, b->u.s.ptr, n) : 0;
            if (r) return r < 0 ? -1 : 1;
            return a->u.s.len < b->u.s.len ? -1 : (a->u.s.len > b->u.s.len ? 1 : 0);
        }
        default:
            return a->u.i < b->u.i ? -1 : (a->u.i > b->u.i ? 1 : 0);
    }
}
