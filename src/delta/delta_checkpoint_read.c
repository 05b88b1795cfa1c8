/*
 * delta_checkpoint_read.c - reading classic Parquet checkpoints (PROTOCOL.md
 * "Checkpoints", "Checkpoint Schema") through the Parquet reader.
 *
 * A checkpoint holds one action per row: a row has exactly one of the
 * top-level struct columns add, remove, metaData, protocol, txn,
 * domainMetadata (and commitInfo, which we skip) non-null. Only those
 * columns are projected; stats_parsed and partitionValues_parsed are not
 * read (the JSON stats string is). Nested fields are found by name, so
 * checkpoints from writers with extra or fewer fields read the same way;
 * a missing optional field reads as absent.
 *
 * v2 checkpoints (sidecar or checkpointMetadata rows) are refused.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "delta_internal.h"

typedef struct cp_ctx {
    delta_pool *pool;
    const char *path;
    sd_error *err;
} cp_ctx;

/* Child column of a struct column by field name, or NULL. */
static const sd_column *cp_child(const sd_column *c, const char *name) {
    if (c == NULL || c->type->kind != SD_STRUCT) return NULL;
    for (int i = 0; i < c->type->nchildren && i < c->nchildren; i++)
        if (strcmp(c->type->children[i].name, name) == 0) return &c->children[i];
    return NULL;
}

static bool cp_valid(const sd_column *c, size_t row) {
    return c != NULL && row < c->len && sd_column_is_valid(c, row);
}

static const char *cp_str(cp_ctx *x, const sd_column *c, size_t row) {
    if (!cp_valid(c, row) || (c->type->kind != SD_STRING && c->type->kind != SD_BINARY))
        return NULL;
    sd_value v = sd_column_get(c, row);
    return delta_pool_strndup(x->pool, (const char *)v.u.s.ptr, v.u.s.len);
}

static int64_t cp_i64(const sd_column *c, size_t row, int64_t dflt) {
    if (!cp_valid(c, row)) return dflt;
    switch (c->type->kind) {
        case SD_INT8:
        case SD_INT16:
        case SD_INT32:
        case SD_INT64:
        case SD_TIMESTAMP:
            return sd_column_get(c, row).u.i;
        default:
            return dflt;
    }
}

static bool cp_bool(const sd_column *c, size_t row, bool dflt) {
    if (!cp_valid(c, row) || c->type->kind != SD_BOOL) return dflt;
    return sd_column_get(c, row).u.b;
}

/* map<string,string> at `row`. */
static void cp_map(cp_ctx *x, const sd_column *c, size_t row, delta_map *out) {
    memset(out, 0, sizeof(*out));
    if (!cp_valid(c, row) || c->type->kind != SD_MAP || c->nchildren < 2) return;
    int64_t b = c->offsets[row], e = c->offsets[row + 1];
    const sd_column *k = &c->children[0], *v = &c->children[1];
    if (b < 0 || e < b || (size_t)e > k->len || (size_t)e > v->len) return;
    out->items = delta_pool_alloc(x->pool, (size_t)(e - b) * sizeof(delta_kv));
    for (int64_t i = b; i < e; i++) {
        const char *key = cp_str(x, k, (size_t)i);
        if (key == NULL) continue;
        out->items[out->count].key = key;
        out->items[out->count].value = cp_str(x, v, (size_t)i);
        out->count++;
    }
}

/* array<string> at `row`. */
static void cp_str_list(cp_ctx *x, const sd_column *c, size_t row, size_t *n, const char ***out) {
    *n = 0;
    *out = NULL;
    if (!cp_valid(c, row) || c->type->kind != SD_LIST || c->nchildren < 1) return;
    int64_t b = c->offsets[row], e = c->offsets[row + 1];
    const sd_column *el = &c->children[0];
    if (b < 0 || e < b || (size_t)e > el->len) return;
    *out = delta_pool_alloc(x->pool, (size_t)(e - b) * sizeof(char *));
    for (int64_t i = b; i < e; i++) {
        const char *s = cp_str(x, el, (size_t)i);
        if (s != NULL) (*out)[(*n)++] = s;
    }
}

static sd_status cp_missing(cp_ctx *x, const char *action, const char *field, size_t row) {
    return sd_error_set(x->err, SD_ERR_FORMAT, "%s: row %zu: %s action without required field '%s'",
                        x->path, row, action, field);
}

static sd_status cp_dv(cp_ctx *x, const sd_column *c, size_t row, bool *has,
                       delta_dv_descriptor *dv) {
    *has = false;
    if (!cp_valid(c, row)) return SD_OK;
    const char *type = cp_str(x, cp_child(c, "storageType"), row);
    dv->path_or_inline_dv = cp_str(x, cp_child(c, "pathOrInlineDv"), row);
    int64_t off = cp_i64(cp_child(c, "offset"), row, -1);
    int64_t size = cp_i64(cp_child(c, "sizeInBytes"), row, -1);
    int64_t card = cp_i64(cp_child(c, "cardinality"), row, -1);
    if (type == NULL || strlen(type) != 1 || strchr("uip", type[0]) == NULL ||
        dv->path_or_inline_dv == NULL || size < 0 || size > INT32_MAX || card < 0 || off < -1 ||
        off > INT32_MAX)
        return sd_error_set(x->err, SD_ERR_FORMAT,
                            "%s: row %zu: invalid deletion vector descriptor", x->path, row);
    dv->storage_type = type[0];
    dv->offset = (int32_t)off;
    dv->size_in_bytes = (int32_t)size;
    dv->cardinality = card;
    *has = true;
    return SD_OK;
}

/* One value of a stats_parsed column as stats JSON; false when it has no
 * JSON form (nested lists and maps, non-finite floats, binaries). */
static bool cp_json_value(const sd_column *c, size_t row, int depth, sd_buf *out) {
    if (!cp_valid(c, row) || depth > DELTA_MAX_SCHEMA_DEPTH) return false;
    if (c->type->kind == SD_STRUCT) {
        sd_buf_append_byte(out, '{');
        bool first = true;
        for (int i = 0; i < c->type->nchildren && i < c->nchildren; i++) {
            size_t mark = out->len;
            if (!first) sd_buf_append_byte(out, ',');
            const char *name = c->type->children[i].name;
            sd_json_append_string(out, name, strlen(name));
            sd_buf_append_byte(out, ':');
            if (cp_json_value(&c->children[i], row, depth + 1, out))
                first = false;
            else
                out->len = mark; /* drop the member */
        }
        sd_buf_append_byte(out, '}');
        return true;
    }
    sd_value v = sd_column_get(c, row);
    switch (v.kind) {
        case SD_BOOL:
            sd_buf_append_str(out, v.u.b ? "true" : "false");
            return true;
        case SD_INT8:
        case SD_INT16:
        case SD_INT32:
        case SD_INT64:
            sd_buf_appendf(out, "%lld", (long long)v.u.i);
            return true;
        case SD_FLOAT:
        case SD_DOUBLE:
            if (!isfinite(v.u.d)) return false;
            sd_format_double(v.u.d, out);
            return true;
        case SD_DECIMAL:
            sd_format_decimal(v.u.dec, v.scale, out);
            return true;
        case SD_STRING:
            sd_json_append_string(out, (const char *)v.u.s.ptr, v.u.s.len);
            return true;
        case SD_DATE:
            sd_buf_append_byte(out, '"');
            sd_format_date(v.u.i, out);
            sd_buf_append_byte(out, '"');
            return true;
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ:
            delta_format_ts_millis(v.u.i, v.kind == SD_TIMESTAMP, out);
            return true;
        default:
            return false;
    }
}

/* A checkpoint written without JSON stats (delta.checkpoint.writeStatsAsJson
 * = false) has them only as the stats_parsed struct, whose layout mirrors
 * the JSON: turn it back into the JSON string scans read. */
static const char *cp_stats_from_parsed(cp_ctx *x, const sd_column *parsed, size_t row) {
    if (!cp_valid(parsed, row) || parsed->type->kind != SD_STRUCT) return NULL;
    sd_buf b = SD_BUF_INIT;
    const char *r = NULL;
    if (cp_json_value(parsed, row, 0, &b))
        r = delta_pool_strndup(x->pool, (const char *)b.data, b.len);
    sd_buf_free(&b);
    return r;
}

static sd_status cp_add(cp_ctx *x, const sd_column *c, size_t row, delta_action *a) {
    delta_add *ad = &a->u.add;
    a->kind = DELTA_ACTION_ADD;
    ad->path = cp_str(x, cp_child(c, "path"), row);
    if (ad->path == NULL) return cp_missing(x, "add", "path", row);
    cp_map(x, cp_child(c, "partitionValues"), row, &ad->partition_values);
    ad->size = cp_i64(cp_child(c, "size"), row, -1);
    if (ad->size < 0) return cp_missing(x, "add", "size", row);
    ad->modification_time = cp_i64(cp_child(c, "modificationTime"), row, 0);
    ad->data_change = cp_bool(cp_child(c, "dataChange"), row, false);
    ad->stats = cp_str(x, cp_child(c, "stats"), row);
    if (ad->stats == NULL) ad->stats = cp_stats_from_parsed(x, cp_child(c, "stats_parsed"), row);
    cp_map(x, cp_child(c, "tags"), row, &ad->tags);
    ad->base_row_id = cp_i64(cp_child(c, "baseRowId"), row, -1);
    ad->default_row_commit_version = cp_i64(cp_child(c, "defaultRowCommitVersion"), row, -1);
    ad->clustering_provider = cp_str(x, cp_child(c, "clusteringProvider"), row);
    return cp_dv(x, cp_child(c, "deletionVector"), row, &ad->has_dv, &ad->dv);
}

static sd_status cp_remove(cp_ctx *x, const sd_column *c, size_t row, delta_action *a) {
    delta_remove *r = &a->u.remove;
    a->kind = DELTA_ACTION_REMOVE;
    r->path = cp_str(x, cp_child(c, "path"), row);
    if (r->path == NULL) return cp_missing(x, "remove", "path", row);
    r->deletion_timestamp = cp_i64(cp_child(c, "deletionTimestamp"), row, -1);
    r->data_change = cp_bool(cp_child(c, "dataChange"), row, false);
    r->extended_file_metadata = cp_bool(cp_child(c, "extendedFileMetadata"), row, false);
    cp_map(x, cp_child(c, "partitionValues"), row, &r->partition_values);
    r->size = cp_i64(cp_child(c, "size"), row, -1);
    cp_map(x, cp_child(c, "tags"), row, &r->tags);
    r->base_row_id = cp_i64(cp_child(c, "baseRowId"), row, -1);
    r->default_row_commit_version = cp_i64(cp_child(c, "defaultRowCommitVersion"), row, -1);
    return cp_dv(x, cp_child(c, "deletionVector"), row, &r->has_dv, &r->dv);
}

static sd_status cp_metadata(cp_ctx *x, const sd_column *c, size_t row, delta_action *a) {
    delta_metadata *m = &a->u.metadata;
    a->kind = DELTA_ACTION_METADATA;
    m->id = cp_str(x, cp_child(c, "id"), row);
    m->name = cp_str(x, cp_child(c, "name"), row);
    m->description = cp_str(x, cp_child(c, "description"), row);
    m->format_provider = cp_str(x, cp_child(cp_child(c, "format"), "provider"), row);
    m->schema_string = cp_str(x, cp_child(c, "schemaString"), row);
    if (m->id == NULL) return cp_missing(x, "metaData", "id", row);
    if (m->schema_string == NULL) return cp_missing(x, "metaData", "schemaString", row);
    cp_str_list(x, cp_child(c, "partitionColumns"), row, &m->npartition_columns,
                &m->partition_columns);
    cp_map(x, cp_child(c, "configuration"), row, &m->configuration);
    m->created_time = cp_i64(cp_child(c, "createdTime"), row, -1);
    sd_status st =
        delta_schema_parse(m->schema_string, strlen(m->schema_string), &m->schema, x->err);
    if (st != SD_OK) {
        sd_error_prefix(x->err, "%s: row %zu: metaData schemaString: ", x->path, row);
        return st;
    }
    delta_pool_own_schema(x->pool, m->schema);
    for (size_t i = 0; i < m->npartition_columns; i++)
        if (sd_schema_find(m->schema, m->partition_columns[i]) < 0)
            return sd_error_set(x->err, SD_ERR_FORMAT,
                                "%s: row %zu: partition column '%s' is not in the schema", x->path,
                                row, m->partition_columns[i]);
    return SD_OK;
}

static sd_status cp_protocol(cp_ctx *x, const sd_column *c, size_t row, delta_action *a) {
    delta_protocol *p = &a->u.protocol;
    a->kind = DELTA_ACTION_PROTOCOL;
    int64_t r = cp_i64(cp_child(c, "minReaderVersion"), row, -1);
    int64_t w = cp_i64(cp_child(c, "minWriterVersion"), row, -1);
    if (r < 0 || r > 1000 || w < 0 || w > 1000)
        return sd_error_set(x->err, SD_ERR_FORMAT,
                            "%s: row %zu: protocol versions missing or out "
                            "of range",
                            x->path, row);
    p->min_reader_version = (int)r;
    p->min_writer_version = (int)w;
    cp_str_list(x, cp_child(c, "readerFeatures"), row, &p->nreader_features, &p->reader_features);
    cp_str_list(x, cp_child(c, "writerFeatures"), row, &p->nwriter_features, &p->writer_features);
    return SD_OK;
}

static sd_status cp_txn(cp_ctx *x, const sd_column *c, size_t row, delta_action *a) {
    a->kind = DELTA_ACTION_TXN;
    a->u.txn.app_id = cp_str(x, cp_child(c, "appId"), row);
    a->u.txn.version = cp_i64(cp_child(c, "version"), row, -1);
    a->u.txn.last_updated = cp_i64(cp_child(c, "lastUpdated"), row, -1);
    if (a->u.txn.app_id == NULL) return cp_missing(x, "txn", "appId", row);
    return SD_OK;
}

static sd_status cp_domain(cp_ctx *x, const sd_column *c, size_t row, delta_action *a) {
    a->kind = DELTA_ACTION_DOMAIN_METADATA;
    a->u.domain.domain = cp_str(x, cp_child(c, "domain"), row);
    a->u.domain.configuration = cp_str(x, cp_child(c, "configuration"), row);
    a->u.domain.removed = cp_bool(cp_child(c, "removed"), row, false);
    if (a->u.domain.domain == NULL) return cp_missing(x, "domainMetadata", "domain", row);
    if (a->u.domain.configuration == NULL) a->u.domain.configuration = "";
    return SD_OK;
}

typedef sd_status (*cp_reader)(cp_ctx *, const sd_column *, size_t, delta_action *);

typedef struct cp_column {
    const char *name;
    cp_reader read; /* NULL: a v2-checkpoint column, refused when set */
} cp_column;

static const cp_column CP_COLUMNS[] = {
    {"add", cp_add},           {"remove", cp_remove},
    {"metaData", cp_metadata}, {"protocol", cp_protocol},
    {"txn", cp_txn},           {"domainMetadata", cp_domain},
    {"sidecar", NULL},         {"checkpointMetadata", NULL},
};
#define CP_NCOLUMNS ((int)(sizeof(CP_COLUMNS) / sizeof(CP_COLUMNS[0])))

static sd_status cp_read_batch(cp_ctx *x, const sd_batch *b, const int *which, int n,
                               delta_action_vec *out) {
    for (size_t row = 0; row < b->nrows; row++) {
        for (int i = 0; i < n; i++) {
            const sd_column *c = &b->cols[i];
            if (c->type->kind != SD_STRUCT || !cp_valid(c, row)) continue;
            const cp_column *cc = &CP_COLUMNS[which[i]];
            if (cc->read == NULL)
                return sd_error_set(x->err, SD_ERR_UNSUPPORTED,
                                    "%s is a v2 checkpoint (%s rows); v2Checkpoint is not "
                                    "supported",
                                    x->path, cc->name);
            delta_action *a = delta_action_vec_push(out);
            sd_status st = cc->read(x, c, row, a);
            if (st != SD_OK) return st;
        }
    }
    return SD_OK;
}

sd_status delta_checkpoint_read_pq(pq_file *f, const char *path, delta_pool *pool,
                                   delta_action_vec *out, sd_error *err) {
    const sd_schema *schema = pq_file_schema(f);
    int cols[CP_NCOLUMNS], which[CP_NCOLUMNS], n = 0;
    /* Projection in file order (the batch's columns follow `cols`). */
    for (int i = 0; i < schema->nchildren && n < CP_NCOLUMNS; i++) {
        for (int k = 0; k < CP_NCOLUMNS; k++) {
            if (strcmp(schema->children[i].name, CP_COLUMNS[k].name) == 0) {
                cols[n] = i;
                which[n++] = k;
                break;
            }
        }
    }
    cp_ctx x = {pool, path, err};
    sd_status st = SD_OK;
    if (n == 0)
        st = sd_error_set(err, SD_ERR_FORMAT, "%s: not a Delta checkpoint (no action columns)",
                          path);
    for (int rg = 0; st == SD_OK && rg < pq_file_num_row_groups(f); rg++) {
        sd_batch b;
        st = pq_read_row_group(f, rg, cols, n, &b, err);
        if (st != SD_OK) break;
        st = cp_read_batch(&x, &b, which, n, out);
        sd_batch_free(&b);
    }
    return st;
}

sd_status delta_checkpoint_read(const char *path, delta_pool *pool, delta_action_vec *out,
                                sd_error *err) {
    pq_file *f = pq_file_open(path, err);
    if (f == NULL) return err ? err->code : SD_ERR_FORMAT;
    sd_status st = delta_checkpoint_read_pq(f, path, pool, out, err);
    pq_file_close(f);
    return st;
}
