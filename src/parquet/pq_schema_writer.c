/*
 * pq_schema_writer.c - the writer's side of the schema: an sd_schema becomes
 * Parquet SchemaElements (parquet.thrift, LogicalTypes.md) in the layout
 * Spark writes, plus one descriptor per leaf column; and a columnar batch
 * becomes definition/repetition levels per leaf ("shredding", the Dremel
 * encoding described in parquet-format's README).
 *
 * Layout of nested types (LogicalTypes.md, "Nested Types"):
 *   struct: <rep> group name { fields }
 *   list:   <rep> group name (LIST) { repeated group list { <rep> element } }
 *   map:    <rep> group name (MAP) { repeated group key_value {
 *               required key; <rep> value } }
 * where <rep> is optional for nullable fields and required otherwise.
 */
#include <stdlib.h>
#include <string.h>

#include "pq_writer_internal.h"

int32_t pq_decimal_flba_length(int precision) {
    __int128 max = 1;
    for (int i = 0; i < precision; i++) max *= 10;
    max -= 1;
    for (int32_t n = 1; n < 16; n++)
        if (max < ((__int128)1 << (8 * n - 1))) return n;
    return 16;
}

/* Growable arrays of elements and leaves while the schema is walked. */
typedef struct pq_schema_builder {
    pq_schema_element *elems;
    int nelems, cap;
    pq_leaf *leaves;
    int nleaves, leaf_cap;
    const char *names[PQ_WRITER_MAX_DEPTH * 2 + 2]; /* Parquet path so far */
    int nnames;
    pq_path_step steps[PQ_WRITER_MAX_DEPTH];
    int nsteps;
    int field_index;
    sd_error *err;
} pq_schema_builder;

static pq_schema_element *pq_sb_elem(pq_schema_builder *b, const char *name, pq_repetition rep) {
    if (b->nelems == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->elems = sd_xrealloc(b->elems, (size_t)b->cap * sizeof(*b->elems));
    }
    pq_schema_element *e = &b->elems[b->nelems++];
    memset(e, 0, sizeof(*e));
    e->name = sd_xstrdup(name);
    e->has_repetition = true;
    e->repetition = rep;
    e->converted_type = PQ_CT_NONE;
    return e;
}

/* Physical, converted and logical type of a primitive leaf. */
static sd_status pq_sb_primitive(pq_schema_builder *b, pq_schema_element *e, const sd_type *t,
                                 const char *name) {
    e->has_type = true;
    switch (t->kind) {
        case SD_BOOL:
            e->type = PQ_BOOLEAN;
            break;
        case SD_INT8:
        case SD_INT16:
            e->type = PQ_INT32;
            e->converted_type = t->kind == SD_INT8 ? PQ_CT_INT_8 : PQ_CT_INT_16;
            e->logical.kind = PQ_LT_INTEGER;
            e->logical.bit_width = t->kind == SD_INT8 ? 8 : 16;
            e->logical.is_signed = true;
            break;
        case SD_INT32:
            e->type = PQ_INT32;
            break;
        case SD_INT64:
            e->type = PQ_INT64;
            break;
        case SD_FLOAT:
            e->type = PQ_FLOAT;
            break;
        case SD_DOUBLE:
            e->type = PQ_DOUBLE;
            break;
        case SD_DECIMAL:
            if (t->precision < 1 || t->precision > 38 || t->scale < 0 || t->scale > t->precision)
                return sd_error_set(b->err, SD_ERR_UNSUPPORTED,
                                    "column %s: decimal(%d,%d) cannot be written (precision 1..38, "
                                    "scale 0..precision)",
                                    name, t->precision, t->scale);
            if (t->precision <= 9)
                e->type = PQ_INT32;
            else if (t->precision <= 18)
                e->type = PQ_INT64;
            else {
                e->type = PQ_FIXED_LEN_BYTE_ARRAY;
                e->type_length = pq_decimal_flba_length(t->precision);
            }
            e->converted_type = PQ_CT_DECIMAL;
            e->precision = t->precision;
            e->scale = t->scale;
            e->logical.kind = PQ_LT_DECIMAL;
            e->logical.precision = t->precision;
            e->logical.scale = t->scale;
            break;
        case SD_STRING:
            e->type = PQ_BYTE_ARRAY;
            e->converted_type = PQ_CT_UTF8;
            e->logical.kind = PQ_LT_STRING;
            break;
        case SD_BINARY:
            e->type = PQ_BYTE_ARRAY;
            break;
        case SD_DATE:
            e->type = PQ_INT32;
            e->converted_type = PQ_CT_DATE;
            e->logical.kind = PQ_LT_DATE;
            break;
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ:
            e->type = PQ_INT64;
            e->logical.kind = PQ_LT_TIMESTAMP;
            e->logical.unit = PQ_UNIT_MICROS;
            e->logical.is_adjusted_to_utc = t->kind == SD_TIMESTAMP;
            /* TIMESTAMP_MICROS means UTC-adjusted; NTZ has no converted type */
            if (t->kind == SD_TIMESTAMP) e->converted_type = PQ_CT_TIMESTAMP_MICROS;
            break;
        default:
            return sd_error_set(b->err, SD_ERR_INTERNAL, "column %s: %s is not a primitive type",
                                name, sd_type_kind_name(t->kind));
    }
    return SD_OK;
}

static void pq_sb_add_leaf(pq_schema_builder *b, const sd_type *t, pq_physical_type ptype,
                           int32_t type_length) {
    if (b->nleaves == b->leaf_cap) {
        b->leaf_cap = b->leaf_cap ? b->leaf_cap * 2 : 8;
        b->leaves = sd_xrealloc(b->leaves, (size_t)b->leaf_cap * sizeof(*b->leaves));
    }
    pq_leaf *l = &b->leaves[b->nleaves++];
    memset(l, 0, sizeof(*l));
    l->npath = b->nnames;
    l->path_in_schema = sd_xcalloc((size_t)b->nnames, sizeof(char *));
    sd_buf dotted = SD_BUF_INIT;
    for (int i = 0; i < b->nnames; i++) {
        l->path_in_schema[i] = sd_xstrdup(b->names[i]);
        if (i) sd_buf_append_byte(&dotted, '.');
        sd_buf_append_str(&dotted, b->names[i]);
    }
    l->path = sd_xstrdup(sd_buf_cstr(&dotted));
    sd_buf_free(&dotted);
    l->field_index = b->field_index;
    l->type = t;
    l->ptype = ptype;
    l->type_length = type_length;
    l->nsteps = b->nsteps;
    memcpy(l->steps, b->steps, (size_t)b->nsteps * sizeof(pq_path_step));
    for (int i = 0; i < b->nsteps; i++) {
        if (b->steps[i].kind == SD_LIST || b->steps[i].kind == SD_MAP) l->in_repeated = true;
    }
    const pq_path_step *last = &b->steps[b->nsteps - 1];
    l->max_def = last->def;
    l->max_rep = 0;
    for (int i = 0; i < b->nsteps; i++)
        if (b->steps[i].rep > l->max_rep) l->max_rep = b->steps[i].rep;
}

static sd_status pq_sb_field(pq_schema_builder *b, const char *name, const sd_type *t,
                             bool nullable, int16_t def, int16_t rep);

/* Enter a node: record its step and name, leave them on return. */
static sd_status pq_sb_push(pq_schema_builder *b, const char *name, sd_type_kind kind,
                            bool nullable, int16_t def) {
    if (b->nsteps >= PQ_WRITER_MAX_DEPTH ||
        b->nnames + 2 >= (int)(sizeof(b->names) / sizeof(b->names[0])))
        return sd_error_set(b->err, SD_ERR_UNSUPPORTED,
                            "column %s: nesting deeper than %d levels is not supported", name,
                            PQ_WRITER_MAX_DEPTH);
    pq_path_step *s = &b->steps[b->nsteps++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->nullable = nullable;
    s->def = def;
    b->names[b->nnames++] = name;
    return SD_OK;
}

static sd_status pq_sb_list_or_map(pq_schema_builder *b, pq_schema_element *e, const char *name,
                                   const sd_type *t, int16_t def, int16_t rep) {
    bool is_map = t->kind == SD_MAP;
    if (t->nchildren != (is_map ? 2 : 1))
        return sd_error_set(b->err, SD_ERR_ARG, "column %s: a %s needs %d child type(s), has %d",
                            name, is_map ? "map" : "list", is_map ? 2 : 1, t->nchildren);
    e->num_children = 1;
    e->converted_type = is_map ? PQ_CT_MAP : PQ_CT_LIST;
    e->logical.kind = is_map ? PQ_LT_MAP : PQ_LT_LIST;
    /* the repeated group: entries add one definition and one repetition level */
    int16_t entry_def = (int16_t)(def + 1), entry_rep = (int16_t)(rep + 1);
    b->steps[b->nsteps - 1].rep = entry_rep;
    const char *group = is_map ? "key_value" : "list";
    pq_schema_element *g = pq_sb_elem(b, group, PQ_REPEATED);
    g->num_children = is_map ? 2 : 1;
    b->names[b->nnames++] = group;
    sd_status st = SD_OK;
    if (is_map) {
        b->steps[b->nsteps - 1].child = 0;
        st = pq_sb_field(b, "key", &t->children[0].type, false, entry_def, entry_rep);
        if (st == SD_OK) {
            b->steps[b->nsteps - 1].child = 1;
            st = pq_sb_field(b, "value", &t->children[1].type, t->children[1].nullable, entry_def,
                             entry_rep);
        }
    } else {
        b->steps[b->nsteps - 1].child = 0;
        st = pq_sb_field(b, "element", &t->children[0].type, t->children[0].nullable, entry_def,
                         entry_rep);
    }
    b->nnames--;
    return st;
}

/* One field (any kind) below a parent whose definition level is `def` and
 * repetition level `rep`. */
static sd_status pq_sb_field(pq_schema_builder *b, const char *name, const sd_type *t,
                             bool nullable, int16_t def, int16_t rep) {
    if (name == NULL || name[0] == '\0')
        return sd_error_set(b->err, SD_ERR_ARG, "a field of the schema has an empty name");
    int16_t my_def = (int16_t)(def + (nullable ? 1 : 0));
    sd_status st = pq_sb_push(b, name, t->kind, nullable, my_def);
    if (st != SD_OK) return st;
    pq_schema_element *e = pq_sb_elem(b, name, nullable ? PQ_OPTIONAL : PQ_REQUIRED);
    if (t->kind == SD_STRUCT) {
        if (t->nchildren == 0)
            return sd_error_set(b->err, SD_ERR_UNSUPPORTED,
                                "column %s: a struct without fields cannot be written to Parquet",
                                name);
        e->num_children = t->nchildren;
        for (int i = 0; i < t->nchildren && st == SD_OK; i++) {
            b->steps[b->nsteps - 1].child = i;
            st = pq_sb_field(b, t->children[i].name, &t->children[i].type, t->children[i].nullable,
                             my_def, rep);
        }
    } else if (t->kind == SD_LIST || t->kind == SD_MAP) {
        st = pq_sb_list_or_map(b, e, name, t, my_def, rep);
    } else {
        st = pq_sb_primitive(b, e, t, name);
        if (st == SD_OK) pq_sb_add_leaf(b, t, e->type, e->type_length);
    }
    b->nsteps--;
    b->nnames--;
    return st;
}

void pq_schema_elements_free(pq_schema_element *elems, int n) {
    for (int i = 0; i < n; i++) free(elems[i].name);
    free(elems);
}

void pq_leaves_free(pq_leaf *leaves, int n) {
    for (int i = 0; i < n; i++) {
        free(leaves[i].path);
        for (int j = 0; j < leaves[i].npath; j++) free(leaves[i].path_in_schema[j]);
        free(leaves[i].path_in_schema);
    }
    free(leaves);
}

sd_status pq_schema_build(const sd_schema *schema, pq_schema_element **elems, int *nelems,
                          pq_leaf **leaves, int *nleaves, sd_error *err) {
    pq_schema_builder b;
    memset(&b, 0, sizeof(b));
    b.err = err;
    if (schema == NULL || schema->kind != SD_STRUCT || schema->nchildren == 0) {
        return sd_error_set(err, SD_ERR_ARG,
                            "a Parquet file needs a schema with at least one column");
    }
    /* Spark names the root "spark_schema"; readers ignore it. */
    pq_schema_element *root = pq_sb_elem(&b, "spark_schema", PQ_REQUIRED);
    root->has_repetition = false;
    root->num_children = schema->nchildren;
    sd_status st = SD_OK;
    for (int i = 0; i < schema->nchildren && st == SD_OK; i++) {
        b.field_index = i;
        st = pq_sb_field(&b, schema->children[i].name, &schema->children[i].type,
                         schema->children[i].nullable, 0, 0);
    }
    if (st != SD_OK) {
        pq_schema_elements_free(b.elems, b.nelems);
        pq_leaves_free(b.leaves, b.nleaves);
        return st;
    }
    *elems = b.elems;
    *nelems = b.nelems;
    *leaves = b.leaves;
    *nleaves = b.nleaves;
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Validation of a batch column against its field                            */
/* ------------------------------------------------------------------------ */

static bool pq_offsets_ok(const int64_t *off, size_t n, size_t limit) {
    if (off == NULL || off[0] < 0) return false;
    for (size_t i = 0; i < n; i++)
        if (off[i + 1] < off[i]) return false;
    return (uint64_t)off[n] <= (uint64_t)limit;
}

/* Decimal values must fit their precision: the physical column (INT32,
 * INT64 or a FIXED_LEN_BYTE_ARRAY sized by precision) could not hold more,
 * and readers would see a different number. */
static sd_status pq_check_decimals(const char *path, const sd_type *t, const sd_column *c,
                                   size_t rows, sd_error *err) {
    __int128 max = 1;
    for (int i = 0; i < t->precision && i < 38; i++) max *= 10;
    max -= 1;
    const uint8_t *v = c->values;
    for (size_t i = 0; i < rows; i++) {
        if (!sd_column_is_valid(c, i)) continue;
        __int128 x;
        memcpy(&x, v + i * 16, 16);
        if (x > max || x < -max)
            return sd_error_set(
                err, SD_ERR_ARG,
                "column %s: the value at index %zu has more than %d digits and does "
                "not fit decimal(%d,%d)",
                path, i, t->precision, t->precision, t->scale);
    }
    return SD_OK;
}

/* Shape: lengths and offsets, for `rows` rows of `c` (recursive). */
static sd_status pq_check_shape(const char *path, const sd_type *t, const sd_column *c, size_t rows,
                                int depth, sd_error *err) {
    if (depth > PQ_WRITER_MAX_DEPTH)
        return sd_error_set(err, SD_ERR_UNSUPPORTED, "column %s: nesting too deep", path);
    if (c->type == NULL || c->type->kind != t->kind || c->len < rows)
        return sd_error_set(err, SD_ERR_ARG,
                            "column %s: the batch holds %zu %s values where the schema expects "
                            "%zu of type %s",
                            path, c->len, c->type ? sd_type_kind_name(c->type->kind) : "untyped",
                            rows, sd_type_kind_name(t->kind));
    size_t w = sd_type_width(t->kind);
    if (w && rows && c->values == NULL)
        return sd_error_set(err, SD_ERR_ARG, "column %s: values are missing", path);
    switch (t->kind) {
        case SD_STRING:
        case SD_BINARY:
            if (!pq_offsets_ok(c->offsets, rows, c->data.len))
                return sd_error_set(err, SD_ERR_ARG,
                                    "column %s: string offsets are out of order or "
                                    "past the data",
                                    path);
            return SD_OK;
        case SD_STRUCT:
            if (c->nchildren != t->nchildren)
                return sd_error_set(err, SD_ERR_ARG, "column %s: %d child columns for %d fields",
                                    path, c->nchildren, t->nchildren);
            for (int i = 0; i < t->nchildren; i++) {
                sd_status st = pq_check_shape(t->children[i].name, &t->children[i].type,
                                              &c->children[i], rows, depth + 1, err);
                if (st != SD_OK) return st;
            }
            return SD_OK;
        case SD_LIST:
        case SD_MAP: {
            if (c->nchildren != t->nchildren || t->nchildren < 1)
                return sd_error_set(err, SD_ERR_ARG, "column %s: wrong number of child columns",
                                    path);
            size_t n = c->children[0].len;
            if (t->kind == SD_MAP && c->children[1].len < n) n = c->children[1].len;
            if (!pq_offsets_ok(c->offsets, rows, n))
                return sd_error_set(err, SD_ERR_ARG,
                                    "column %s: list offsets are out of order or "
                                    "past the child column",
                                    path);
            size_t used = rows ? (size_t)c->offsets[rows] : 0;
            for (int i = 0; i < t->nchildren; i++) {
                sd_status st = pq_check_shape(t->children[i].name, &t->children[i].type,
                                              &c->children[i], used, depth + 1, err);
                if (st != SD_OK) return st;
            }
            return SD_OK;
        }
        case SD_DECIMAL:
            return pq_check_decimals(path, t, c, rows, err);
        default:
            return SD_OK;
    }
}

/* Nulls where the schema forbids them, below present parents only (a null
 * struct row carries null slots in its non-nullable children). */
static sd_status pq_check_nulls(const char *path, const sd_type *t, bool nullable,
                                const sd_column *c, size_t i, sd_error *err) {
    if (!sd_column_is_valid(c, i)) {
        if (nullable) return SD_OK;
        return sd_error_set(err, SD_ERR_ARG, "column %s: null at index %zu of a non-nullable field",
                            path, i);
    }
    sd_status st = SD_OK;
    switch (t->kind) {
        case SD_STRUCT:
            for (int k = 0; k < t->nchildren && st == SD_OK; k++)
                st = pq_check_nulls(t->children[k].name, &t->children[k].type,
                                    t->children[k].nullable, &c->children[k], i, err);
            break;
        case SD_LIST:
        case SD_MAP:
            for (int64_t j = c->offsets[i]; j < c->offsets[i + 1] && st == SD_OK; j++) {
                st = pq_check_nulls(t->kind == SD_MAP ? "key" : "element", &t->children[0].type,
                                    t->kind == SD_MAP ? false : t->children[0].nullable,
                                    &c->children[0], (size_t)j, err);
                if (st == SD_OK && t->kind == SD_MAP)
                    st = pq_check_nulls("value", &t->children[1].type, t->children[1].nullable,
                                        &c->children[1], (size_t)j, err);
            }
            break;
        default:
            break;
    }
    return st;
}

/* Whether any non-nullable node exists below (or at) t; if not, the per-row
 * null walk can be skipped. */
static bool pq_has_required(const sd_type *t, bool nullable) {
    if (!nullable) return true;
    if (t->kind == SD_MAP) return true; /* map keys are always required */
    for (int k = 0; k < t->nchildren; k++)
        if (pq_has_required(&t->children[k].type, t->children[k].nullable)) return true;
    return false;
}

sd_status pq_column_validate(const sd_field *field, const sd_column *col, size_t rows,
                             sd_error *err) {
    sd_status st = pq_check_shape(field->name, &field->type, col, rows, 0, err);
    if (st != SD_OK || !pq_has_required(&field->type, field->nullable)) return st;
    if (!sd_type_is_nested(field->type.kind)) {
        /* flat required column: one pass over the validity bytes */
        if (col->valid == NULL) return SD_OK;
        const uint8_t *v = memchr(col->valid, 0, rows);
        if (v == NULL) return SD_OK;
        return sd_error_set(err, SD_ERR_ARG, "column %s: null at row %zu of a non-nullable column",
                            field->name, (size_t)(v - col->valid));
    }
    for (size_t i = 0; i < rows && st == SD_OK; i++)
        st = pq_check_nulls(field->name, &field->type, field->nullable, col, i, err);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Shredding                                                                 */
/* ------------------------------------------------------------------------ */

void pq_levels_free(pq_levels *lv) {
    free(lv->def);
    free(lv->rep);
    free(lv->idx);
    memset(lv, 0, sizeof(*lv));
}

const sd_column *pq_leaf_column(const pq_leaf *leaf, const sd_column *top) {
    const sd_column *c = top;
    for (int i = 0; i + 1 < leaf->nsteps; i++) c = &c->children[leaf->steps[i].child];
    return c;
}

static void pq_levels_grow(pq_levels *lv) {
    lv->cap = lv->cap ? lv->cap * 2 : 1024;
    lv->def = sd_xrealloc(lv->def, lv->cap * sizeof(uint32_t));
    lv->rep = sd_xrealloc(lv->rep, lv->cap * sizeof(uint32_t));
}

static inline void pq_emit(pq_levels *lv, uint32_t def, uint32_t rep) {
    if (lv->n == lv->cap) pq_levels_grow(lv);
    lv->def[lv->n] = def;
    lv->rep[lv->n] = rep;
    lv->n++;
}

static inline void pq_emit_value(pq_levels *lv, uint32_t def, uint32_t rep, size_t idx) {
    pq_emit(lv, def, rep);
    if (lv->nidx == lv->idx_cap) {
        lv->idx_cap = lv->idx_cap ? lv->idx_cap * 2 : 1024;
        lv->idx = sd_xrealloc(lv->idx, lv->idx_cap * sizeof(uint32_t));
    }
    lv->idx[lv->nidx++] = (uint32_t)idx;
}

/* Walk node `s` of the leaf's path at index i of column c. `def` is the
 * definition level of the parent, `rep` the repetition level this entry
 * starts with. Recursion depth is bounded by PQ_WRITER_MAX_DEPTH. */
static void pq_shred_node(const pq_leaf *leaf, int s, const sd_column *c, size_t i, uint32_t def,
                          uint32_t rep, pq_levels *lv) {
    const pq_path_step *st = &leaf->steps[s];
    if (st->nullable) {
        if (!sd_column_is_valid(c, i)) {
            pq_emit(lv, def, rep);
            lv->nnulls++;
            return;
        }
        def++;
    }
    switch (st->kind) {
        case SD_STRUCT:
            pq_shred_node(leaf, s + 1, &c->children[st->child], i, def, rep, lv);
            return;
        case SD_LIST:
        case SD_MAP: {
            int64_t a = c->offsets[i], b = c->offsets[i + 1];
            if (a == b) {
                /* present but empty: def stops at the list itself */
                pq_emit(lv, def, rep);
                lv->nnulls++;
                return;
            }
            const sd_column *child = &c->children[st->child];
            for (int64_t j = a; j < b; j++)
                pq_shred_node(leaf, s + 1, child, (size_t)j, def + 1,
                              j == a ? rep : (uint32_t)st->rep, lv);
            return;
        }
        default:
            pq_emit_value(lv, def, rep, i);
            return;
    }
}

void pq_shred(const pq_leaf *leaf, const sd_column *top, size_t row0, size_t row1, pq_levels *lv) {
    for (size_t r = row0; r < row1; r++) pq_shred_node(leaf, 0, top, r, 0, 0, lv);
}
