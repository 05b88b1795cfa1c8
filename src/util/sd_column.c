/*
 * sd_column.c - columnar vectors and batches (see util.h for the layout).
 *
 * Columns grow geometrically and keep their allocations across
 * sd_column_reset(), so a pipeline that reuses one batch per micro-batch
 * allocates only while its batches grow.
 */
#include <stdlib.h>
#include <string.h>

#include "util.h"

static bool sd_kind_has_offsets(sd_type_kind k) {
    return k == SD_STRING || k == SD_BINARY || k == SD_LIST || k == SD_MAP;
}

void sd_column_init(sd_column *c, const sd_type *type) {
    memset(c, 0, sizeof(*c));
    c->type = type;
    if (type->kind == SD_STRUCT || type->kind == SD_LIST || type->kind == SD_MAP) {
        c->nchildren = type->nchildren;
        c->children =
            sd_xcalloc((size_t)(type->nchildren ? type->nchildren : 1), sizeof(sd_column));
        for (int i = 0; i < type->nchildren; i++)
            sd_column_init(&c->children[i], &type->children[i].type);
    }
    if (sd_kind_has_offsets(type->kind)) {
        c->offsets = sd_xmalloc(sizeof(int64_t));
        c->offsets[0] = 0;
    }
}

void sd_column_reserve(sd_column *c, size_t rows) {
    if (rows <= c->values_cap && (c->values != NULL || sd_type_width(c->type->kind) == 0)) return;
    size_t cap = c->values_cap ? c->values_cap : 16;
    while (cap < rows) cap *= 2;
    size_t w = sd_type_width(c->type->kind);
    if (w) c->values = sd_xrealloc(c->values, cap * w);
    if (c->valid) c->valid = sd_xrealloc(c->valid, cap);
    if (sd_kind_has_offsets(c->type->kind))
        c->offsets = sd_xrealloc(c->offsets, (cap + 1) * sizeof(int64_t));
    c->values_cap = cap;
}

void sd_column_ensure_valid(sd_column *c) {
    if (c->valid) return;
    sd_column_reserve(c, c->len + 1);
    c->valid = sd_xmalloc(c->values_cap);
    memset(c->valid, 1, c->values_cap);
}

void sd_column_reset(sd_column *c) {
    c->len = 0;
    c->data.len = 0;
    if (c->offsets) c->offsets[0] = 0;
    if (c->valid) {
        free(c->valid);
        c->valid = NULL;
    }
    for (int i = 0; i < c->nchildren; i++) sd_column_reset(&c->children[i]);
}

void sd_column_free(sd_column *c) {
    free(c->valid);
    free(c->values);
    free(c->offsets);
    sd_buf_free(&c->data);
    for (int i = 0; i < c->nchildren; i++) sd_column_free(&c->children[i]);
    free(c->children);
    memset(c, 0, sizeof(*c));
}

/* Grow by one row and mark it valid; returns the row index. */
static size_t sd_column_push(sd_column *c) {
    sd_column_reserve(c, c->len + 1);
    size_t row = c->len++;
    if (c->valid) c->valid[row] = 1;
    if (sd_kind_has_offsets(c->type->kind)) c->offsets[row + 1] = c->offsets[row];
    return row;
}

void sd_column_append_null(sd_column *c) {
    sd_column_ensure_valid(c);
    size_t row = sd_column_push(c);
    c->valid[row] = 0;
    size_t w = sd_type_width(c->type->kind);
    if (w) memset((uint8_t *)c->values + row * w, 0, w);
    /* A null struct row still needs one (null) slot in every child so the
     * children stay aligned with the parent. */
    if (c->type->kind == SD_STRUCT)
        for (int i = 0; i < c->nchildren; i++) sd_column_append_null(&c->children[i]);
}

void sd_column_append_bool(sd_column *c, bool v) {
    size_t row = sd_column_push(c);
    ((uint8_t *)c->values)[row] = v ? 1 : 0;
}

void sd_column_append_i32(sd_column *c, int32_t v) {
    size_t row = sd_column_push(c);
    switch (c->type->kind) {
        case SD_INT8:
            ((int8_t *)c->values)[row] = (int8_t)v;
            break;
        case SD_INT16:
            ((int16_t *)c->values)[row] = (int16_t)v;
            break;
        default:
            ((int32_t *)c->values)[row] = v;
            break;
    }
}

void sd_column_append_i64(sd_column *c, int64_t v) {
    size_t row = sd_column_push(c);
    ((int64_t *)c->values)[row] = v;
}

void sd_column_append_float(sd_column *c, float v) {
    size_t row = sd_column_push(c);
    ((float *)c->values)[row] = v;
}

void sd_column_append_double(sd_column *c, double v) {
    size_t row = sd_column_push(c);
    ((double *)c->values)[row] = v;
}

void sd_column_append_decimal(sd_column *c, __int128 v) {
    size_t row = sd_column_push(c);
    memcpy((uint8_t *)c->values + row * 16, &v, 16);
}

void sd_column_append_bytes(sd_column *c, const void *p, size_t n) {
    size_t row = sd_column_push(c);
    sd_buf_append(&c->data, p, n);
    c->offsets[row + 1] = (int64_t)c->data.len;
}

void sd_column_append_struct(sd_column *c) {
    sd_column_push(c);
}

void sd_column_append_list(sd_column *c, size_t count) {
    size_t row = sd_column_push(c);
    c->offsets[row + 1] = c->offsets[row] + (int64_t)count;
}

void sd_batch_init(sd_batch *b, const sd_schema *schema) {
    memset(b, 0, sizeof(*b));
    b->schema = schema;
    b->ncols = schema->nchildren;
    b->cols = sd_xcalloc((size_t)(b->ncols ? b->ncols : 1), sizeof(sd_column));
    for (int i = 0; i < b->ncols; i++) sd_column_init(&b->cols[i], &schema->children[i].type);
}

void sd_batch_reset(sd_batch *b) {
    b->nrows = 0;
    for (int i = 0; i < b->ncols; i++) sd_column_reset(&b->cols[i]);
}

void sd_batch_free(sd_batch *b) {
    for (int i = 0; i < b->ncols; i++) sd_column_free(&b->cols[i]);
    free(b->cols);
    memset(b, 0, sizeof(*b));
}

void sd_column_append_value(sd_column *c, const sd_value *v) {
    if (v->is_null) {
        sd_column_append_null(c);
        return;
    }
    switch (c->type->kind) {
        case SD_BOOL:
            sd_column_append_bool(c, v->u.b);
            break;
        case SD_INT8:
        case SD_INT16:
        case SD_INT32:
        case SD_DATE:
            sd_column_append_i32(c, (int32_t)v->u.i);
            break;
        case SD_INT64:
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ:
            sd_column_append_i64(c, v->u.i);
            break;
        case SD_FLOAT:
            sd_column_append_float(c, (float)v->u.d);
            break;
        case SD_DOUBLE:
            sd_column_append_double(c, v->u.d);
            break;
        case SD_DECIMAL:
            sd_column_append_decimal(c, v->u.dec);
            break;
        case SD_STRING:
        case SD_BINARY:
            sd_column_append_bytes(c, v->u.s.ptr, v->u.s.len);
            break;
        default: /* nested kinds have no scalar value */
            sd_column_append_null(c);
            break;
    }
}
