/*
 * delta_scan.c - which files of a snapshot to read, and reading one.
 *
 * File selection (PROTOCOL.md "Per-file Statistics"): predicates on
 * partition columns are evaluated exactly on the typed partition values;
 * predicates on other top-level columns use the add's JSON stats
 * (minValues, maxValues, nullCount, numRecords) and drop a file only when
 * the stats prove no row can match. Missing or unparsable stats keep the
 * file. Timestamps in stats are truncated to milliseconds, so a max is
 * widened by 999 microseconds before use.
 *
 * Reading a file: one Parquet row group per batch, columns mapped by name
 * from the table schema (the file may miss columns added later: nulls),
 * integer and float columns widened to the table's type, rows deleted by
 * the deletion vector dropped, partition columns filled from the
 * partition values, columns in the order requested.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delta_internal.h"

/* ------------------------------------------------------------------------ */
/* Literals                                                                  */
/* ------------------------------------------------------------------------ */

static bool is_int_kind(sd_type_kind k) {
    return k == SD_INT8 || k == SD_INT16 || k == SD_INT32 || k == SD_INT64;
}

/* v * 10^n without overflow (n <= 0 leaves v alone). */
static bool scale_up(__int128 *v, int n) {
    const __int128 lim = (((__int128)1) << 126) / 10;
    for (int i = 0; i < n; i++) {
        if (*v > lim || *v < -lim) return false;
        *v *= 10;
    }
    return true;
}

static sd_status literal_range(const char *col, sd_error *err) {
    return sd_error_set(err, SD_ERR_ARG, "predicate on column '%s': literal out of range", col);
}

/* Convert a predicate literal to the column's type so values compare. */
static sd_status coerce_literal(const char *col, const sd_type *t, const sd_value *lit,
                                sd_value *out, sd_error *err) {
    *out = *lit;
    out->kind = t->kind;
    out->precision = t->precision;
    out->scale = t->scale;
    out->owns = false;
    if (lit->is_null || lit->kind == t->kind) {
        if (t->kind == SD_DECIMAL && !lit->is_null && lit->scale != t->scale) {
            __int128 v = lit->u.dec;
            bool ok = scale_up(&v, t->scale - lit->scale);
            for (int s = t->scale; s < lit->scale; s++) v /= 10;
            if (!ok) return literal_range(col, err);
            out->u.dec = v;
        }
        return SD_OK;
    }
    if (is_int_kind(lit->kind) && (is_int_kind(t->kind) || t->kind == SD_DATE ||
                                   t->kind == SD_TIMESTAMP || t->kind == SD_TIMESTAMP_NTZ))
        return SD_OK; /* same union member */
    if (is_int_kind(lit->kind) && (t->kind == SD_FLOAT || t->kind == SD_DOUBLE)) {
        out->u.d = (double)lit->u.i;
        return SD_OK;
    }
    if (is_int_kind(lit->kind) && t->kind == SD_DECIMAL) {
        __int128 v = lit->u.i;
        if (!scale_up(&v, t->scale)) return literal_range(col, err);
        out->u.dec = v;
        return SD_OK;
    }
    if ((lit->kind == SD_FLOAT || lit->kind == SD_DOUBLE) &&
        (t->kind == SD_FLOAT || t->kind == SD_DOUBLE))
        return SD_OK;
    if (lit->kind == SD_STRING) {
        /* Text literals parse as the column type ("2024-01-01" for a date). */
        char *text = sd_xstrndup((const char *)lit->u.s.ptr, lit->u.s.len);
        sd_status st = delta_partition_value_parse(col, t, text, out, err);
        free(text);
        if (st == SD_OK && (t->kind == SD_STRING || t->kind == SD_BINARY)) *out = *lit;
        if (st != SD_OK) sd_error_prefix(err, "predicate literal: ");
        return st;
    }
    return sd_error_set(err, SD_ERR_ARG,
                        "predicate on column '%s': a %s literal cannot be compared "
                        "with a %s column",
                        col, sd_type_kind_name(lit->kind), sd_type_kind_name(t->kind));
}

/* Whether one value satisfies "v op lit" (nulls never satisfy comparisons). */
static bool value_matches(const sd_value *v, pq_cmp_op op, const sd_value *lit) {
    if (op == PQ_IS_NULL) return v->is_null;
    if (op == PQ_IS_NOT_NULL) return !v->is_null;
    if (v->is_null || lit->is_null) return false;
    int c = sd_value_compare(v, lit);
    switch (op) {
        case PQ_EQ:
            return c == 0;
        case PQ_NE:
            return c != 0;
        case PQ_LT:
            return c < 0;
        case PQ_LE:
            return c <= 0;
        case PQ_GT:
            return c > 0;
        case PQ_GE:
            return c >= 0;
        default:
            return true;
    }
}

/* A stats value (JSON) as a value of type t; false when absent/unusable. */
static bool stats_value(const sd_json *j, const sd_type *t, sd_value *out) {
    memset(out, 0, sizeof(*out));
    out->kind = t->kind;
    out->precision = t->precision;
    out->scale = t->scale;
    if (j == NULL || j->kind == SD_JSON_NULL) return false;
    if (j->kind == SD_JSON_NUMBER) {
        if (is_int_kind(t->kind)) return sd_json_as_int64(j, &out->u.i);
        if (t->kind == SD_FLOAT || t->kind == SD_DOUBLE) return sd_json_as_double(j, &out->u.d);
        if (t->kind == SD_DECIMAL) {
            sd_error e = {0};
            return delta_partition_value_parse("", t, j->text, out, &e) == SD_OK && !out->is_null;
        }
        return false;
    }
    if (j->kind == SD_JSON_STRING) {
        if (t->kind == SD_STRING) {
            out->u.s.ptr = (const uint8_t *)j->text;
            out->u.s.len = j->text_len;
            return true;
        }
        if (t->kind == SD_DATE || t->kind == SD_TIMESTAMP || t->kind == SD_TIMESTAMP_NTZ) {
            sd_error e = {0};
            return delta_partition_value_parse("", t, j->text, out, &e) == SD_OK && !out->is_null;
        }
    }
    return false;
}

/* String stats of this many characters or more may have been truncated. */
#define DELTA_STATS_PREFIX 32

static size_t utf8_chars(const uint8_t *p, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += (p[i] & 0xc0) != 0x80;
    return c;
}

/* Whether the stats of one column allow a row matching "col op lit". */
static bool stats_may_match(const sd_json *stats, const char *col, const sd_type *t, pq_cmp_op op,
                            const sd_value *lit) {
    int64_t nulls = -1, num = -1;
    sd_json_as_int64(sd_json_get(sd_json_get(stats, "nullCount"), col), &nulls);
    sd_json_as_int64(sd_json_get(stats, "numRecords"), &num);
    if (op == PQ_IS_NULL) return nulls != 0;
    if (op == PQ_IS_NOT_NULL) return !(nulls >= 0 && num >= 0 && nulls == num);
    if (lit->is_null) return false;
    if (nulls >= 0 && num >= 0 && nulls == num) return false; /* all null: no comparison holds */
    sd_value mn, mx;
    bool has_min = stats_value(sd_json_get(sd_json_get(stats, "minValues"), col), t, &mn);
    bool has_max = stats_value(sd_json_get(sd_json_get(stats, "maxValues"), col), t, &mx);
    if (has_max && (t->kind == SD_TIMESTAMP || t->kind == SD_TIMESTAMP_NTZ)) mx.u.i += 999;
    /* Writers cut string stats to a prefix (Spark: 32 characters); a cut
     * max is below the real one, so a long max is not an upper bound. */
    if (has_max && t->kind == SD_STRING && utf8_chars(mx.u.s.ptr, mx.u.s.len) >= DELTA_STATS_PREFIX)
        has_max = false;
    if ((t->kind == SD_FLOAT || t->kind == SD_DOUBLE) &&
        ((has_min && isnan(mn.u.d)) || (has_max && isnan(mx.u.d))))
        return true;
    switch (op) {
        case PQ_EQ:
            if (has_min && sd_value_compare(lit, &mn) < 0) return false;
            if (has_max && sd_value_compare(lit, &mx) > 0) return false;
            return true;
        case PQ_NE:
            return !(has_min && has_max && sd_value_compare(&mn, &mx) == 0 &&
                     sd_value_compare(&mn, lit) == 0);
        case PQ_LT:
            return !(has_min && sd_value_compare(&mn, lit) >= 0);
        case PQ_LE:
            return !(has_min && sd_value_compare(&mn, lit) > 0);
        case PQ_GT:
            return !(has_max && sd_value_compare(&mx, lit) <= 0);
        case PQ_GE:
            return !(has_max && sd_value_compare(&mx, lit) < 0);
        default:
            return true;
    }
}

typedef struct scan_pred {
    const char *col;
    int field;     /* index in the table schema */
    int partition; /* index among partition columns, or -1 */
    pq_cmp_op op;
    sd_value lit; /* coerced to the column type */
} scan_pred;

static int partition_index(const delta_snapshot *s, const char *col) {
    for (size_t k = 0; k < s->metadata.npartition_columns; k++)
        if (strcmp(s->metadata.partition_columns[k], col) == 0) return (int)k;
    return -1;
}

sd_status delta_scan_files(const delta_snapshot *s, const pq_predicate *preds, int npreds,
                           const delta_file ***out, size_t *nout, sd_error *err) {
    *out = NULL;
    *nout = 0;
    const sd_schema *schema = s->metadata.schema;
    scan_pred *sp = sd_xcalloc(npreds > 0 ? (size_t)npreds : 1, sizeof(*sp));
    bool need_stats = false;
    sd_status st = SD_OK;
    for (int i = 0; i < npreds && st == SD_OK; i++) {
        sp[i].col = preds[i].path;
        sp[i].op = preds[i].op;
        sp[i].field = sd_schema_find(schema, preds[i].path);
        if (sp[i].field < 0) {
            st = sd_error_set(err, SD_ERR_NOT_FOUND, "predicate column '%s' is not in the table",
                              preds[i].path);
            break;
        }
        const sd_type *t = &schema->children[sp[i].field].type;
        if (sd_type_is_nested(t->kind)) {
            st = sd_error_set(err, SD_ERR_ARG, "predicate column '%s' is nested", preds[i].path);
            break;
        }
        sp[i].partition = partition_index(s, preds[i].path);
        if (sp[i].partition < 0) need_stats = true;
        if (preds[i].op != PQ_IS_NULL && preds[i].op != PQ_IS_NOT_NULL)
            st = coerce_literal(preds[i].path, t, &preds[i].value, &sp[i].lit, err);
    }
    const delta_file **files = sd_xcalloc(s->nfiles ? s->nfiles : 1, sizeof(*files));
    size_t n = 0;
    for (size_t f = 0; f < s->nfiles && st == SD_OK; f++) {
        const delta_file *df = &s->files[f];
        bool keep = true;
        for (int i = 0; i < npreds && keep; i++)
            if (sp[i].partition >= 0)
                keep = value_matches(&df->partition_values[sp[i].partition], sp[i].op, &sp[i].lit);
        if (keep && need_stats && df->add->stats != NULL) {
            sd_error ignore = {0};
            sd_json *stats = sd_json_parse(df->add->stats, strlen(df->add->stats), &ignore);
            for (int i = 0; stats != NULL && i < npreds && keep; i++)
                if (sp[i].partition < 0)
                    keep = stats_may_match(stats, sp[i].col, &schema->children[sp[i].field].type,
                                           sp[i].op, &sp[i].lit);
            sd_json_free(stats);
        }
        if (keep) files[n++] = df;
    }
    for (int i = 0; i < npreds; i++) sd_value_clear(&sp[i].lit);
    free(sp);
    if (st != SD_OK) {
        free(files);
        return st;
    }
    *out = files;
    *nout = n;
    return SD_OK;
}

sd_status delta_partition_matches(const delta_snapshot *s, const delta_map *pv,
                                  const pq_predicate *preds, int npreds, bool *match,
                                  sd_error *err) {
    const sd_schema *schema = s->metadata.schema;
    *match = true;
    for (int i = 0; i < npreds && *match; i++) {
        if (partition_index(s, preds[i].path) < 0) continue; /* not decidable here */
        int field = sd_schema_find(schema, preds[i].path);
        const sd_type *t = &schema->children[field].type;
        sd_value v, lit;
        memset(&lit, 0, sizeof(lit));
        const char *text = delta_map_get(pv, preds[i].path, NULL);
        sd_status st = delta_partition_value_parse(preds[i].path, t, text, &v, err);
        if (st == SD_OK && preds[i].op != PQ_IS_NULL && preds[i].op != PQ_IS_NOT_NULL)
            st = coerce_literal(preds[i].path, t, &preds[i].value, &lit, err);
        if (st != SD_OK) return st;
        *match = value_matches(&v, preds[i].op, &lit);
        sd_value_clear(&lit);
    }
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Column helpers                                                            */
/* ------------------------------------------------------------------------ */

/* Point a column tree at the types of another (compatible) schema. */
static void col_retype(sd_column *c, const sd_type *t) {
    c->type = t;
    for (int i = 0; i < c->nchildren && i < t->nchildren; i++)
        col_retype(&c->children[i], &t->children[i].type);
}

/* Same shape: kinds, decimal parameters, children count (names and
 * nullability may differ: list element names vary between writers). */
static bool type_compatible(const sd_type *a, const sd_type *b) {
    if (a->kind != b->kind || a->nchildren != b->nchildren) return false;
    if (a->kind == SD_DECIMAL && (a->precision != b->precision || a->scale != b->scale))
        return false;
    if (a->kind == SD_STRUCT) {
        for (int i = 0; i < a->nchildren; i++)
            if (strcasecmp(a->children[i].name, b->children[i].name) != 0) return false;
    }
    for (int i = 0; i < a->nchildren; i++)
        if (!type_compatible(&a->children[i].type, &b->children[i].type)) return false;
    return true;
}

/* Widening a file column to the table type: ints to wider ints, float to
 * double, int to double (what Spark's type widening of old files does). */
static bool can_widen(sd_type_kind from, sd_type_kind to) {
    if (is_int_kind(from) && is_int_kind(to)) return sd_type_width(from) <= sd_type_width(to);
    if (from == SD_FLOAT && to == SD_DOUBLE) return true;
    if (from == SD_DATE && to == SD_TIMESTAMP_NTZ) return false;
    return false;
}

static void col_widen(sd_column *dst, const sd_column *src) {
    sd_column_reserve(dst, src->len);
    for (size_t r = 0; r < src->len; r++) {
        if (!sd_column_is_valid(src, r)) {
            sd_column_append_null(dst);
            continue;
        }
        sd_value v = sd_column_get(src, r);
        switch (dst->type->kind) {
            case SD_INT8:
            case SD_INT16:
            case SD_INT32:
                sd_column_append_i32(dst, (int32_t)v.u.i);
                break;
            case SD_INT64:
                sd_column_append_i64(dst, v.u.i);
                break;
            case SD_DOUBLE:
                sd_column_append_double(dst, v.u.d);
                break;
            default:
                sd_column_append_null(dst);
                break;
        }
    }
}

/* Append the rows idx[0..n) of src to dst (same type), recursively. */
static void col_take(sd_column *dst, const sd_column *src, const size_t *idx, size_t n) {
    size_t base = dst->len;
    sd_column_reserve(dst, base + n);
    if (src->valid != NULL || dst->valid != NULL) {
        sd_column_ensure_valid(dst);
        for (size_t i = 0; i < n; i++) dst->valid[base + i] = sd_column_is_valid(src, idx[i]);
    }
    sd_type_kind k = src->type->kind;
    size_t w = sd_type_width(k);
    if (w > 0) {
        for (size_t i = 0; i < n; i++)
            memcpy((uint8_t *)dst->values + (base + i) * w,
                   (const uint8_t *)src->values + idx[i] * w, w);
    } else if (k == SD_STRING || k == SD_BINARY) {
        for (size_t i = 0; i < n; i++) {
            int64_t b = src->offsets[idx[i]], e = src->offsets[idx[i] + 1];
            sd_buf_append(&dst->data, src->data.data + b, (size_t)(e - b));
            dst->offsets[base + i + 1] = (int64_t)dst->data.len;
        }
    } else if (k == SD_STRUCT) {
        for (int c = 0; c < src->nchildren; c++)
            col_take(&dst->children[c], &src->children[c], idx, n);
    } else if (k == SD_LIST || k == SD_MAP) {
        size_t total = 0;
        for (size_t i = 0; i < n; i++)
            total += (size_t)(src->offsets[idx[i] + 1] - src->offsets[idx[i]]);
        size_t *cidx = sd_xmalloc((total ? total : 1) * sizeof(size_t));
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            for (int64_t r = src->offsets[idx[i]]; r < src->offsets[idx[i] + 1]; r++)
                cidx[m++] = (size_t)r;
            dst->offsets[base + i + 1] =
                dst->offsets[base + i] + (src->offsets[idx[i] + 1] - src->offsets[idx[i]]);
        }
        for (int c = 0; c < src->nchildren; c++)
            col_take(&dst->children[c], &src->children[c], cidx, m);
        free(cidx);
    }
    dst->len = base + n;
}

/* A column of n copies of a partition value. */
static void col_fill(sd_column *c, const sd_value *v, size_t n) {
    sd_column_reserve(c, n);
    for (size_t i = 0; i < n; i++) sd_column_append_value(c, v);
}

/* ------------------------------------------------------------------------ */
/* File reader                                                               */
/* ------------------------------------------------------------------------ */

typedef enum src_kind { SRC_FILE, SRC_PARTITION, SRC_MISSING } src_kind;

struct delta_file_reader {
    const delta_snapshot *snap;
    const delta_file *file;
    char *path;
    sd_schema *schema; /* output schema */
    int ncols;
    src_kind *src;
    int *src_idx; /* SRC_FILE: position in the projection; SRC_PARTITION: partition index */
    pq_file *pq;
    int *pq_cols;
    int npq;
    int rg, nrg;
    int64_t row_base;
    delta_rowset dv;
    pq_predicate *filter; /* paths are the data file's column names */
    int nfilter;
};

static int file_field(const sd_schema *fs, const char *name) {
    int i = sd_schema_find(fs, name);
    if (i >= 0) return i;
    for (int k = 0; k < fs->nchildren; k++) /* Spark resolves names case-insensitively */
        if (strcasecmp(fs->children[k].name, name) == 0) return k;
    return -1;
}

delta_file_reader *delta_file_reader_open(const delta_snapshot *s, const delta_file *file,
                                          const char *const *columns, int ncolumns, sd_error *err) {
    const sd_schema *ts = s->metadata.schema;
    delta_file_reader *r = sd_xcalloc(1, sizeof(*r));
    r->snap = s;
    r->file = file;
    r->schema = sd_schema_new();
    r->ncols = columns ? ncolumns : ts->nchildren;
    r->src = sd_xcalloc((size_t)(r->ncols ? r->ncols : 1), sizeof(src_kind));
    r->src_idx = sd_xcalloc((size_t)(r->ncols ? r->ncols : 1), sizeof(int));
    r->pq_cols = sd_xcalloc((size_t)(r->ncols ? r->ncols : 1), sizeof(int));
    r->path = delta_path_resolve(s->table_path, file->add->path, err);
    if (r->path == NULL) goto fail;
    r->pq = pq_file_open(r->path, err);
    if (r->pq == NULL) goto fail;
    const sd_schema *fs = pq_file_schema(r->pq);
    for (int i = 0; i < r->ncols; i++) {
        const char *name = columns ? columns[i] : ts->children[i].name;
        int ti = sd_schema_find(ts, name);
        if (ti < 0) {
            sd_error_set(err, SD_ERR_NOT_FOUND, "column '%s' is not in the table", name);
            goto fail;
        }
        const sd_field *tf = &ts->children[ti];
        sd_field *of = sd_type_add_field(r->schema, tf->name, tf->type.kind, tf->nullable);
        sd_type_copy(&of->type, &tf->type);
        int pi = partition_index(s, name);
        if (pi >= 0) {
            r->src[i] = SRC_PARTITION;
            r->src_idx[i] = pi;
            continue;
        }
        int fi = file_field(fs, name);
        if (fi < 0) {
            r->src[i] = SRC_MISSING;
            continue;
        }
        const sd_type *ft = &fs->children[fi].type;
        if (!type_compatible(&tf->type, ft) && !can_widen(ft->kind, tf->type.kind)) {
            sd_buf a = SD_BUF_INIT, b = SD_BUF_INIT;
            sd_type_format(&tf->type, &a);
            sd_type_format(ft, &b);
            sd_error_set(err, SD_ERR_UNSUPPORTED,
                         "column '%s' is %s in the table but %s in the data file", name,
                         sd_buf_cstr(&a), sd_buf_cstr(&b));
            sd_buf_free(&a);
            sd_buf_free(&b);
            goto fail;
        }
        r->src[i] = SRC_FILE;
        r->src_idx[i] = r->npq;
        r->pq_cols[r->npq++] = fi;
    }
    r->nrg = pq_file_num_row_groups(r->pq);
    if (file->add->has_dv && delta_dv_load(s->table_path, &file->add->dv, &r->dv, err) != SD_OK)
        goto fail;
    return r;
fail:
    if (r->path) sd_error_prefix(err, "%s: ", file->add->path);
    delta_file_reader_close(r);
    return NULL;
}

const sd_schema *delta_file_reader_schema(const delta_file_reader *r) {
    return r->schema;
}

sd_status delta_file_reader_set_filter(delta_file_reader *r, const pq_predicate *preds, int npreds,
                                       sd_error *err) {
    const sd_schema *ts = r->snap->metadata.schema, *fs = pq_file_schema(r->pq);
    r->filter = sd_xrealloc(r->filter, (size_t)(r->nfilter + npreds + 1) * sizeof(pq_predicate));
    for (int i = 0; i < npreds; i++) {
        int ti = sd_schema_find(ts, preds[i].path);
        if (ti < 0)
            return sd_error_set(err, SD_ERR_NOT_FOUND, "filter column '%s' is not in the table",
                                preds[i].path);
        int fi = file_field(fs, preds[i].path);
        const sd_type *ft = fi >= 0 ? &fs->children[fi].type : NULL;
        /* Partition columns, columns missing from the file and nested ones
         * have no row-group statistics to use. */
        if (partition_index(r->snap, preds[i].path) >= 0 || ft == NULL ||
            sd_type_is_nested(ft->kind))
            continue;
        pq_predicate *p = &r->filter[r->nfilter];
        memset(p, 0, sizeof(*p));
        if (preds[i].op != PQ_IS_NULL && preds[i].op != PQ_IS_NOT_NULL) {
            sd_value lit;
            sd_status st = coerce_literal(preds[i].path, ft, &preds[i].value, &lit, err);
            if (st != SD_OK) return st;
            sd_value_copy(&p->value, &lit);
        }
        p->path = sd_xstrdup(fs->children[fi].name);
        p->op = preds[i].op;
        r->nfilter++;
    }
    return SD_OK;
}

/* Whether the DV deletes every row of [row_base, row_base + n): such a row
 * group is not even decoded. */
static bool all_deleted(const delta_file_reader *r, uint64_t n) {
    if (n == 0 || r->dv.count < n) return false;
    uint64_t base = (uint64_t)r->row_base;
    size_t lo = 0, hi = r->dv.count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->dv.rows[mid] < base)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* Rows are sorted and distinct: n of them from `base` on means all. */
    return lo + n <= r->dv.count && r->dv.rows[lo + n - 1] == base + n - 1 &&
           r->dv.rows[lo] == base;
}

/* Rows of [base, base + n) not deleted by the DV, or NULL when none is. */
static size_t *kept_rows(const delta_file_reader *r, size_t n, size_t *nkept) {
    *nkept = n;
    if (r->dv.count == 0) return NULL;
    uint64_t base = (uint64_t)r->row_base;
    bool any = false;
    for (size_t i = 0; i < r->dv.count && !any; i++)
        any = r->dv.rows[i] >= base && r->dv.rows[i] < base + n;
    if (!any) return NULL;
    size_t *idx = sd_xmalloc((n ? n : 1) * sizeof(size_t)), m = 0;
    for (size_t i = 0; i < n; i++)
        if (!delta_rowset_contains(&r->dv, base + i)) idx[m++] = i;
    *nkept = m;
    return idx;
}

sd_status delta_file_reader_next(delta_file_reader *r, sd_batch *out, bool *more, sd_error *err) {
    *more = false;
    while (r->rg < r->nrg &&
           ((r->nfilter > 0 && pq_row_group_can_skip(r->pq, r->rg, r->filter, r->nfilter)) ||
            all_deleted(r, (uint64_t)pq_file_row_group_rows(r->pq, r->rg)))) {
        r->row_base += pq_file_row_group_rows(r->pq, r->rg); /* DV row numbers go on */
        r->rg++;
    }
    if (r->rg >= r->nrg) return SD_OK;
    sd_batch in;
    sd_status st = pq_read_row_group(r->pq, r->rg, r->pq_cols, r->npq, &in, err);
    if (st != SD_OK) {
        sd_error_prefix(err, "%s: ", r->file->add->path);
        return st;
    }
    size_t n = (size_t)pq_file_row_group_rows(r->pq, r->rg);
    if (r->npq > 0) n = in.nrows;
    size_t nkept;
    size_t *idx = kept_rows(r, n, &nkept);
    sd_batch_init(out, r->schema);
    for (int i = 0; i < r->ncols; i++) {
        sd_column *dst = &out->cols[i];
        const sd_type *t = &r->schema->children[i].type;
        if (r->src[i] == SRC_PARTITION) {
            col_fill(dst, &r->file->partition_values[r->src_idx[i]], nkept);
            continue;
        }
        if (r->src[i] == SRC_MISSING) {
            for (size_t k = 0; k < nkept; k++) sd_column_append_null(dst);
            continue;
        }
        sd_column *src = &in.cols[r->src_idx[i]];
        if (src->type->kind != t->kind) {
            sd_column wide;
            sd_column_init(&wide, t);
            col_widen(&wide, src);
            sd_column_free(src);
            *src = wide;
        }
        if (idx != NULL) {
            col_take(dst, src, idx, nkept);
        } else {
            /* Move the decoded column in; the empty one takes its place. */
            sd_column tmp = *dst;
            *dst = *src;
            *src = tmp;
            col_retype(dst, t);
        }
    }
    out->nrows = nkept;
    free(idx);
    sd_batch_free(&in);
    r->row_base += (int64_t)n;
    r->rg++;
    *more = true;
    return SD_OK;
}

void delta_file_reader_close(delta_file_reader *r) {
    if (r == NULL) return;
    for (int i = 0; i < r->nfilter; i++) {
        free((char *)r->filter[i].path);
        sd_value_clear(&r->filter[i].value);
    }
    free(r->filter);
    if (r->pq) pq_file_close(r->pq);
    sd_schema_free(r->schema);
    delta_rowset_free(&r->dv);
    free(r->path);
    free(r->src);
    free(r->src_idx);
    free(r->pq_cols);
    free(r);
}
