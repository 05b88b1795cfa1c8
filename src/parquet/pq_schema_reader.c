/*
 * pq_schema_reader.c - map a Parquet schema (the depth-first list of
 * SchemaElements in the footer) to streamdelta's logical schema, plus the
 * per-node definition/repetition levels that record assembly needs and one
 * descriptor per leaf column (physical type, conversion, max levels).
 *
 * References: parquet-format LogicalTypes.md (the type annotations and the
 * backward-compatibility rules for LIST and MAP), and Spark's
 * ParquetSchemaConverter for how unannotated and unsigned types are read.
 */
#include <stdlib.h>
#include <string.h>

#include "pq_reader_internal.h"

/* Walk state: elements are consumed in order, depth-first. */
typedef struct pq_walk {
    const pq_file_meta *meta;
    int next;
    pq_schema_info *si;
    int leaves_cap;
    sd_error *err;
} pq_walk;

/* Levels handed from a parent to a child element. */
typedef struct pq_levels {
    int def, rep, anc_def;
    bool in_repeated;
    int field_index;
    const char *path;       /* Parquet path of the parent ("" at the root) */
    const char *stats_path; /* logical path of the parent */
} pq_levels;

size_t pq_physical_width(pq_physical_type t, int32_t type_length) {
    switch (t) {
        case PQ_BOOLEAN:
            return 1;
        case PQ_INT32:
        case PQ_FLOAT:
            return 4;
        case PQ_INT64:
        case PQ_DOUBLE:
            return 8;
        case PQ_INT96:
            return 12;
        case PQ_FIXED_LEN_BYTE_ARRAY:
            return type_length > 0 ? (size_t)type_length : 0;
        default:
            return 0;
    }
}

const char *pq_physical_type_name(pq_physical_type t) {
    static const char *const names[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                        "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "UNKNOWN";
}

const char *pq_encoding_name(pq_encoding e) {
    switch (e) {
        case PQ_ENC_PLAIN:
            return "PLAIN";
        case PQ_ENC_PLAIN_DICTIONARY:
            return "PLAIN_DICTIONARY";
        case PQ_ENC_RLE:
            return "RLE";
        case PQ_ENC_BIT_PACKED:
            return "BIT_PACKED";
        case PQ_ENC_DELTA_BINARY_PACKED:
            return "DELTA_BINARY_PACKED";
        case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
            return "DELTA_LENGTH_BYTE_ARRAY";
        case PQ_ENC_DELTA_BYTE_ARRAY:
            return "DELTA_BYTE_ARRAY";
        case PQ_ENC_RLE_DICTIONARY:
            return "RLE_DICTIONARY";
        case PQ_ENC_BYTE_STREAM_SPLIT:
            return "BYTE_STREAM_SPLIT";
    }
    return "UNKNOWN";
}

const char *pq_converted_type_name(pq_converted_type t) {
    static const char *const names[] = {"UTF8",
                                        "MAP",
                                        "MAP_KEY_VALUE",
                                        "LIST",
                                        "ENUM",
                                        "DECIMAL",
                                        "DATE",
                                        "TIME_MILLIS",
                                        "TIME_MICROS",
                                        "TIMESTAMP_MILLIS",
                                        "TIMESTAMP_MICROS",
                                        "UINT_8",
                                        "UINT_16",
                                        "UINT_32",
                                        "UINT_64",
                                        "INT_8",
                                        "INT_16",
                                        "INT_32",
                                        "INT_64",
                                        "JSON",
                                        "BSON",
                                        "INTERVAL"};
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "NONE";
}

static char *pq_join_path(const char *parent, const char *name) {
    return parent[0] ? sd_xasprintf("%s.%s", parent, name) : sd_xstrdup(name);
}

/* ---- leaves ------------------------------------------------------------- */

static sd_status pq_map_decimal(const pq_schema_element *e, const char *path, pq_leaf *leaf,
                                sd_error *err) {
    int p = e->logical.kind == PQ_LT_DECIMAL ? e->logical.precision : e->precision;
    int s = e->logical.kind == PQ_LT_DECIMAL ? e->logical.scale : e->scale;
    if (p > 38)
        return sd_error_set(err, SD_ERR_UNSUPPORTED,
                            "column %s: DECIMAL(%d,%d) has a precision above 38", path, p, s);
    if (p < 1 || s < 0 || s > p)
        return sd_error_set(err, SD_ERR_FORMAT, "column %s: invalid DECIMAL(%d,%d)", path, p, s);
    if (e->type == PQ_FIXED_LEN_BYTE_ARRAY && e->type_length > 64)
        return sd_error_set(err, SD_ERR_FORMAT, "column %s: DECIMAL in %d bytes is too wide", path,
                            e->type_length);
    leaf->kind = SD_DECIMAL;
    leaf->precision = p;
    leaf->scale = s;
    leaf->conv = e->type == PQ_INT32   ? PQ_CONV_DEC_I32
                 : e->type == PQ_INT64 ? PQ_CONV_DEC_I64
                                       : PQ_CONV_DEC_BYTES;
    return SD_OK;
}

/* Integer annotations (logical INTEGER or converted INT_n/UINT_n) as
 * (bits, signed); false when there is none. */
static bool pq_int_annotation(const pq_schema_element *e, int *bits, bool *is_signed) {
    if (e->logical.kind == PQ_LT_INTEGER) {
        *bits = e->logical.bit_width;
        *is_signed = e->logical.is_signed;
        return true;
    }
    switch (e->converted_type) {
        case PQ_CT_INT_8:
            *bits = 8, *is_signed = true;
            return true;
        case PQ_CT_INT_16:
            *bits = 16, *is_signed = true;
            return true;
        case PQ_CT_INT_32:
            *bits = 32, *is_signed = true;
            return true;
        case PQ_CT_INT_64:
            *bits = 64, *is_signed = true;
            return true;
        case PQ_CT_UINT_8:
            *bits = 8, *is_signed = false;
            return true;
        case PQ_CT_UINT_16:
            *bits = 16, *is_signed = false;
            return true;
        case PQ_CT_UINT_32:
            *bits = 32, *is_signed = false;
            return true;
        case PQ_CT_UINT_64:
            *bits = 64, *is_signed = false;
            return true;
        default:
            return false;
    }
}

static sd_status pq_map_int(const pq_schema_element *e, const char *path, int bits, bool sgn,
                            pq_leaf *leaf, sd_error *err) {
    bool ok = e->type == PQ_INT32 ? bits == 8 || bits == 16 || bits == 32 : bits == 64;
    if (!ok)
        return sd_error_set(err, SD_ERR_FORMAT, "column %s: INT(%d) annotation on %s", path, bits,
                            pq_physical_type_name(e->type));
    static const struct {
        int bits;
        bool sgn;
        sd_type_kind kind;
        pq_conv conv;
    } map[] = {
        {8, true, SD_INT8, PQ_CONV_I32_TO_I8},     {16, true, SD_INT16, PQ_CONV_I32_TO_I16},
        {32, true, SD_INT32, PQ_CONV_COPY},        {64, true, SD_INT64, PQ_CONV_COPY},
        {8, false, SD_INT16, PQ_CONV_U8_TO_I16},   {16, false, SD_INT32, PQ_CONV_U16_TO_I32},
        {32, false, SD_INT64, PQ_CONV_U32_TO_I64}, {64, false, SD_DECIMAL, PQ_CONV_U64_TO_DEC}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (map[i].bits == bits && map[i].sgn == sgn) {
            leaf->kind = map[i].kind;
            leaf->conv = map[i].conv;
            if (leaf->kind == SD_DECIMAL) leaf->precision = 20, leaf->scale = 0;
            return SD_OK;
        }
    }
    return sd_error_set(err, SD_ERR_INTERNAL, "column %s: unmapped integer type", path);
}

static sd_status pq_unsupported_type(const char *path, const char *what, sd_error *err) {
    return sd_error_set(err, SD_ERR_UNSUPPORTED, "column %s: type %s is not supported", path, what);
}

static sd_status pq_map_int64_timestamp(const pq_schema_element *e, pq_leaf *leaf) {
    if (e->logical.kind == PQ_LT_TIMESTAMP) {
        leaf->kind = e->logical.is_adjusted_to_utc ? SD_TIMESTAMP : SD_TIMESTAMP_NTZ;
        leaf->conv = e->logical.unit == PQ_UNIT_MILLIS  ? PQ_CONV_MILLIS
                     : e->logical.unit == PQ_UNIT_NANOS ? PQ_CONV_NANOS
                                                        : PQ_CONV_COPY;
    } else {
        /* Converted TIMESTAMP_* types are instants in UTC. */
        leaf->kind = SD_TIMESTAMP;
        leaf->conv = e->converted_type == PQ_CT_TIMESTAMP_MILLIS ? PQ_CONV_MILLIS : PQ_CONV_COPY;
    }
    return SD_OK;
}

/* Physical type + annotations -> logical kind and conversion. */
static sd_status pq_map_leaf_type(const pq_schema_element *e, const char *path, pq_leaf *leaf,
                                  sd_error *err) {
    pq_logical_kind lt = e->logical.kind;
    pq_converted_type ct = e->converted_type;
    int bits;
    bool sgn;
    leaf->conv = PQ_CONV_COPY;
    if (lt == PQ_LT_TIME || ct == PQ_CT_TIME_MILLIS || ct == PQ_CT_TIME_MICROS)
        return pq_unsupported_type(path, "TIME", err);
    if (ct == PQ_CT_INTERVAL) return pq_unsupported_type(path, "INTERVAL", err);
    if (lt == PQ_LT_DECIMAL || ct == PQ_CT_DECIMAL) {
        if (e->type == PQ_INT32 || e->type == PQ_INT64 || e->type == PQ_BYTE_ARRAY ||
            e->type == PQ_FIXED_LEN_BYTE_ARRAY)
            return pq_map_decimal(e, path, leaf, err);
        return sd_error_set(err, SD_ERR_FORMAT, "column %s: DECIMAL annotation on %s", path,
                            pq_physical_type_name(e->type));
    }
    switch (e->type) {
        case PQ_BOOLEAN:
            leaf->kind = SD_BOOL;
            return SD_OK;
        case PQ_INT32:
            if (pq_int_annotation(e, &bits, &sgn)) return pq_map_int(e, path, bits, sgn, leaf, err);
            leaf->kind = (lt == PQ_LT_DATE || ct == PQ_CT_DATE) ? SD_DATE : SD_INT32;
            return SD_OK;
        case PQ_INT64:
            if (lt == PQ_LT_TIMESTAMP || ct == PQ_CT_TIMESTAMP_MILLIS ||
                ct == PQ_CT_TIMESTAMP_MICROS)
                return pq_map_int64_timestamp(e, leaf);
            if (pq_int_annotation(e, &bits, &sgn)) return pq_map_int(e, path, bits, sgn, leaf, err);
            leaf->kind = SD_INT64;
            return SD_OK;
        case PQ_INT96:
            leaf->kind = SD_TIMESTAMP;
            leaf->conv = PQ_CONV_INT96;
            return SD_OK;
        case PQ_FLOAT:
            leaf->kind = SD_FLOAT;
            return SD_OK;
        case PQ_DOUBLE:
            leaf->kind = SD_DOUBLE;
            return SD_OK;
        case PQ_BYTE_ARRAY:
            leaf->conv = PQ_CONV_BYTES;
            leaf->kind = (lt == PQ_LT_STRING || lt == PQ_LT_ENUM || lt == PQ_LT_JSON ||
                          ct == PQ_CT_UTF8 || ct == PQ_CT_ENUM || ct == PQ_CT_JSON)
                             ? SD_STRING
                             : SD_BINARY;
            return SD_OK;
        case PQ_FIXED_LEN_BYTE_ARRAY:
            if (e->type_length <= 0 || e->type_length > (1 << 20))
                return sd_error_set(err, SD_ERR_FORMAT,
                                    "column %s: FIXED_LEN_BYTE_ARRAY with invalid length %d", path,
                                    e->type_length);
            if (lt == PQ_LT_UUID && e->type_length == 16) {
                leaf->kind = SD_STRING;
                leaf->conv = PQ_CONV_UUID;
            } else if (lt == PQ_LT_FLOAT16 && e->type_length == 2) {
                leaf->kind = SD_FLOAT;
                leaf->conv = PQ_CONV_FLOAT16;
            } else {
                leaf->kind = SD_BINARY;
                leaf->conv = PQ_CONV_BYTES;
            }
            return SD_OK;
    }
    return sd_error_set(err, SD_ERR_FORMAT, "column %s: unknown physical type %d", path,
                        (int)e->type);
}

static sd_status pq_add_leaf(pq_walk *w, int elem, const pq_levels *lv, int def, const char *path,
                             const char *stats_path, sd_field *field, pq_node *node) {
    const pq_schema_element *e = &w->meta->schema[elem];
    pq_schema_info *si = w->si;
    if (si->nleaves == w->leaves_cap) {
        w->leaves_cap = w->leaves_cap ? 2 * w->leaves_cap : 16;
        si->leaves = sd_xrealloc(si->leaves, (size_t)w->leaves_cap * sizeof(pq_leaf));
    }
    pq_leaf *leaf = &si->leaves[si->nleaves];
    memset(leaf, 0, sizeof(*leaf));
    leaf->elem = elem;
    leaf->phys = e->type;
    leaf->type_length = e->type_length;
    leaf->max_def = def;
    leaf->max_rep = lv->rep;
    leaf->field_index = lv->field_index;
    leaf->in_repeated = lv->in_repeated;
    if (pq_map_leaf_type(e, path, leaf, w->err) != SD_OK) return w->err->code;
    leaf->path = sd_xstrdup(path);
    leaf->stats_path = sd_xstrdup(lv->in_repeated ? path : stats_path);
    field->type.kind = leaf->kind;
    field->type.precision = leaf->precision;
    field->type.scale = leaf->scale;
    node->kind = PQ_NODE_LEAF;
    node->leaf = si->nleaves;
    node->first_leaf = si->nleaves;
    si->nleaves++;
    return SD_OK;
}

/* ---- groups ------------------------------------------------------------- */

static sd_status pq_map_element(pq_walk *w, int depth, const pq_levels *lv, bool as_element,
                                sd_type *parent, pq_node *node);

static sd_status pq_take(pq_walk *w, int depth, const char *path, int *elem) {
    if (depth > PQ_MAX_SCHEMA_DEPTH)
        return sd_error_set(w->err, SD_ERR_UNSUPPORTED, "schema nested deeper than %d levels at %s",
                            PQ_MAX_SCHEMA_DEPTH, path);
    if (w->next >= w->meta->nschema)
        return sd_error_set(w->err, SD_ERR_FORMAT,
                            "schema ends early: %s declares more children than the schema has",
                            path[0] ? path : "root");
    *elem = w->next++;
    const pq_schema_element *e = &w->meta->schema[*elem];
    if (e->name == NULL)
        return sd_error_set(w->err, SD_ERR_FORMAT, "schema element %d has no name", *elem);
    if (e->num_children < 0 || e->num_children > w->meta->nschema)
        return sd_error_set(w->err, SD_ERR_FORMAT, "schema element %s has %d children", e->name,
                            e->num_children);
    if (e->num_children == 0 && !e->has_type)
        return sd_error_set(w->err, SD_ERR_FORMAT,
                            "schema element %s has neither type nor children", e->name);
    return SD_OK;
}

/* Map `n` consecutive child elements as fields of the struct `t`. */
static sd_status pq_map_children(pq_walk *w, int depth, const pq_levels *lv, int n, sd_type *t,
                                 pq_node *node) {
    node->nchildren = n;
    node->children = sd_xcalloc((size_t)(n ? n : 1), sizeof(pq_node));
    for (int i = 0; i < n; i++) {
        pq_levels clv = *lv;
        if (depth == 0) clv.field_index = i;
        if (pq_map_element(w, depth + 1, &clv, false, t, &node->children[i]) != SD_OK)
            return w->err->code;
    }
    node->first_leaf = n ? node->children[0].first_leaf : -1;
    return SD_OK;
}

/* Is the repeated child `r` of a LIST group the element itself (legacy
 * 2-level list) rather than the 3-level wrapper? LogicalTypes.md rules. */
static bool pq_list_repeated_is_element(const pq_schema_element *r, const char *list_name) {
    if (r->num_children != 1) return true; /* primitive, or a struct of several fields */
    if (strcmp(r->name, "array") == 0) return true;
    size_t n = strlen(list_name);
    return strncmp(r->name, list_name, n) == 0 && strcmp(r->name + n, "_tuple") == 0;
}

static sd_status pq_map_list(pq_walk *w, int depth, const pq_levels *lv, int def, const char *path,
                             const char *name, sd_field *field, pq_node *node) {
    int relem;
    if (w->meta->schema[w->next - 1].num_children != 1)
        return sd_error_set(w->err, SD_ERR_FORMAT, "column %s: a LIST group must have one child",
                            path);
    if (pq_take(w, depth + 1, path, &relem) != SD_OK) return w->err->code;
    const pq_schema_element *r = &w->meta->schema[relem];
    if (!r->has_repetition || r->repetition != PQ_REPEATED)
        return sd_error_set(w->err, SD_ERR_FORMAT,
                            "column %s: the child of a LIST group must be repeated", path);
    field->type.kind = SD_LIST;
    node->kind = PQ_NODE_LIST;
    node->elem_def = def + 1;
    node->nchildren = 1;
    node->children = sd_xcalloc(1, sizeof(pq_node));
    char *rpath = pq_join_path(path, r->name);
    pq_levels clv = {.def = def + 1,
                     .rep = lv->rep + 1,
                     .anc_def = def + 1,
                     .in_repeated = true,
                     .field_index = lv->field_index,
                     .path = rpath,
                     .stats_path = rpath};
    sd_status st;
    if (pq_list_repeated_is_element(r, name)) {
        w->next--; /* map the repeated element itself, as a required element */
        clv.path = path;
        clv.stats_path = path;
        st = pq_map_element(w, depth + 1, &clv, true, &field->type, &node->children[0]);
    } else {
        st = pq_map_element(w, depth + 2, &clv, false, &field->type, &node->children[0]);
    }
    free(rpath);
    node->first_leaf = node->children[0].first_leaf;
    return st;
}

static sd_status pq_map_map(pq_walk *w, int depth, const pq_levels *lv, int def, const char *path,
                            sd_field *field, pq_node *node) {
    int kv;
    if (w->meta->schema[w->next - 1].num_children != 1)
        return sd_error_set(w->err, SD_ERR_FORMAT, "column %s: a MAP group must have one child",
                            path);
    if (pq_take(w, depth + 1, path, &kv) != SD_OK) return w->err->code;
    const pq_schema_element *r = &w->meta->schema[kv];
    if (!r->has_repetition || r->repetition != PQ_REPEATED || r->num_children < 1)
        return sd_error_set(w->err, SD_ERR_FORMAT,
                            "column %s: the child of a MAP group must be a repeated group", path);
    if (r->num_children != 2)
        return sd_error_set(w->err, SD_ERR_UNSUPPORTED,
                            "column %s: MAP key_value group with %d fields (need key and value)",
                            path, r->num_children);
    field->type.kind = SD_MAP;
    node->kind = PQ_NODE_MAP;
    node->elem_def = def + 1;
    char *kvpath = pq_join_path(path, r->name);
    pq_levels clv = {.def = def + 1,
                     .rep = lv->rep + 1,
                     .anc_def = def + 1,
                     .in_repeated = true,
                     .field_index = lv->field_index,
                     .path = kvpath,
                     .stats_path = kvpath};
    sd_status st = pq_map_children(w, depth + 1, &clv, 2, &field->type, node);
    free(kvpath);
    if (st != SD_OK) return st;
    /* Map keys are never null (Spark's MapType); the file says so too. */
    field->type.children[0].nullable = false;
    return SD_OK;
}

/* Map one element (and its subtree) as a new field of `parent`. With
 * `as_element` a repeated element is the element of a list built by the
 * caller, so it is read as a required value. */
static sd_status pq_map_element(pq_walk *w, int depth, const pq_levels *lv, bool as_element,
                                sd_type *parent, pq_node *node) {
    int elem;
    if (pq_take(w, depth, lv->path, &elem) != SD_OK) return w->err->code;
    const pq_schema_element *e = &w->meta->schema[elem];
    pq_repetition rep = e->has_repetition ? e->repetition : PQ_REQUIRED;
    if (as_element) rep = PQ_REQUIRED;
    char *path = pq_join_path(lv->path, e->name);
    char *stats_path = pq_join_path(lv->stats_path, e->name);
    sd_field *field = sd_type_add_field(parent, e->name, SD_STRUCT, rep == PQ_OPTIONAL);
    node->elem = elem;
    node->rep = lv->rep;
    node->anc_def = lv->anc_def;
    sd_status st = SD_OK;
    if (rep == PQ_REPEATED) {
        /* A repeated field outside a LIST group: a list of required values. */
        field->type.kind = SD_LIST;
        field->nullable = false;
        node->kind = PQ_NODE_LIST;
        node->def = lv->def;
        node->elem_def = lv->def + 1;
        node->nchildren = 1;
        node->children = sd_xcalloc(1, sizeof(pq_node));
        w->next--;
        pq_levels clv = {.def = lv->def,
                         .rep = lv->rep + 1,
                         .anc_def = lv->def + 1,
                         .in_repeated = true,
                         .field_index = lv->field_index,
                         .path = lv->path,
                         .stats_path = lv->stats_path};
        /* The element's own def: +1 for the repetition, applied by as_element. */
        clv.def = lv->def + 1;
        clv.rep = lv->rep + 1;
        st = pq_map_element(w, depth, &clv, true, &field->type, &node->children[0]);
        node->first_leaf = node->children[0].first_leaf;
        goto done;
    }
    int def = lv->def + (rep == PQ_OPTIONAL ? 1 : 0);
    node->def = def;
    if (e->num_children == 0) {
        st = pq_add_leaf(w, elem, lv, def, path, stats_path, field, node);
        goto done;
    }
    bool is_list = e->logical.kind == PQ_LT_LIST || e->converted_type == PQ_CT_LIST;
    bool is_map = e->logical.kind == PQ_LT_MAP || e->converted_type == PQ_CT_MAP ||
                  e->converted_type == PQ_CT_MAP_KEY_VALUE;
    if (is_list) {
        st = pq_map_list(w, depth, lv, def, path, e->name, field, node);
    } else if (is_map) {
        st = pq_map_map(w, depth, lv, def, path, field, node);
    } else {
        node->kind = PQ_NODE_STRUCT;
        pq_levels clv = *lv;
        clv.def = def;
        clv.path = path;
        clv.stats_path = stats_path;
        st = pq_map_children(w, depth, &clv, e->num_children, &field->type, node);
    }
done:
    free(path);
    free(stats_path);
    return st;
}

static void pq_node_clear(pq_node *n) {
    for (int i = 0; i < n->nchildren; i++) pq_node_clear(&n->children[i]);
    free(n->children);
    memset(n, 0, sizeof(*n));
}

void pq_schema_info_clear(pq_schema_info *si) {
    if (si->schema) sd_schema_free(si->schema);
    pq_node_clear(&si->root);
    for (int i = 0; i < si->nleaves; i++) {
        free(si->leaves[i].path);
        free(si->leaves[i].stats_path);
    }
    free(si->leaves);
    memset(si, 0, sizeof(*si));
}

sd_status pq_schema_map(const pq_file_meta *meta, pq_schema_info *out, sd_error *err) {
    memset(out, 0, sizeof(*out));
    if (meta->nschema < 1 || meta->schema == NULL)
        return sd_error_set(err, SD_ERR_FORMAT, "the schema is empty");
    const pq_schema_element *root = &meta->schema[0];
    if (root->num_children < 0 || root->num_children >= meta->nschema + 1 ||
        (root->num_children == 0 && meta->nschema > 1))
        return sd_error_set(err, SD_ERR_FORMAT, "the schema root has %d children",
                            root->num_children);
    pq_walk w = {.meta = meta, .next = 1, .si = out, .err = err};
    out->schema = sd_schema_new();
    out->root.kind = PQ_NODE_STRUCT;
    pq_levels lv = {.path = "", .stats_path = ""};
    if (pq_map_children(&w, 0, &lv, root->num_children, out->schema, &out->root) != SD_OK) {
        pq_schema_info_clear(out);
        return err->code;
    }
    if (w.next != meta->nschema) {
        pq_schema_info_clear(out);
        return sd_error_set(err, SD_ERR_FORMAT,
                            "the schema has %d elements but its tree uses only %d", meta->nschema,
                            w.next);
    }
    return SD_OK;
}
