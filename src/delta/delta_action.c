/*
 * delta_action.c - Delta log actions to and from JSON (PROTOCOL.md
 * "Actions"), the schemaString (PROTOCOL.md "Schema Serialization Format"),
 * commit files as newline-delimited JSON, and the pool action strings live
 * in.
 *
 * Reading follows the protocol's rule that unknown fields and unknown action
 * types are ignored, while a known field of the wrong JSON type is an error
 * naming the action and the field. Optional fields logged as JSON null are
 * treated as absent (delta-rs writes "baseRowId":null).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta_internal.h"

/* ------------------------------------------------------------------------ */
/* Pool                                                                      */
/* ------------------------------------------------------------------------ */

struct delta_pool_block {
    delta_pool_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define DELTA_POOL_FIRST_BLOCK 16384

void delta_pool_init(delta_pool *p) {
    memset(p, 0, sizeof(*p));
}

void delta_pool_free(delta_pool *p) {
    delta_pool_block *b = p->head;
    while (b != NULL) {
        delta_pool_block *next = b->next;
        free(b);
        b = next;
    }
    for (size_t i = 0; i < p->nschemas; i++) sd_schema_free(p->schemas[i]);
    free(p->schemas);
    memset(p, 0, sizeof(*p));
}

void *delta_pool_alloc(delta_pool *p, size_t n) {
    /* 16-byte granules: sd_value holds an __int128. */
    n = (n + 15) & ~(size_t)15;
    delta_pool_block *b = p->head;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = p->next_cap ? p->next_cap : DELTA_POOL_FIRST_BLOCK;
        while (cap < n) cap *= 2;
        /* Grow geometrically up to 4 MiB blocks: a big log needs few blocks,
         * a small table wastes little. */
        p->next_cap = cap < ((size_t)4 << 20) ? cap * 2 : cap;
        delta_pool_block *nb = sd_xmalloc(sizeof(*nb) + cap);
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        p->head = b = nb;
    }
    void *r = b->data + b->used;
    b->used += n;
    memset(r, 0, n);
    return r;
}

const char *delta_pool_strndup(delta_pool *p, const char *s, size_t n) {
    char *r = delta_pool_alloc(p, n + 1);
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

void delta_pool_own_schema(delta_pool *p, sd_schema *s) {
    p->schemas = sd_xrealloc(p->schemas, (p->nschemas + 1) * sizeof(*p->schemas));
    p->schemas[p->nschemas++] = s;
}

delta_action *delta_action_vec_push(delta_action_vec *v) {
    if (v->count == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->items = sd_xrealloc(v->items, v->cap * sizeof(*v->items));
    }
    delta_action *a = &v->items[v->count++];
    memset(a, 0, sizeof(*a));
    return a;
}

void delta_action_vec_free(delta_action_vec *v) {
    free(v->items);
    memset(v, 0, sizeof(*v));
}

const char *delta_map_get(const delta_map *m, const char *key, bool *found) {
    for (size_t i = 0; i < m->count; i++) {
        if (strcmp(m->items[i].key, key) == 0) {
            if (found) *found = true;
            return m->items[i].value;
        }
    }
    if (found) *found = false;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Field extraction with type checks                                         */
/* ------------------------------------------------------------------------ */

/* Context for error messages: which action is being read. */
typedef struct act_ctx {
    const char *action;
    delta_pool *pool;
    sd_error *err;
} act_ctx;

static bool is_absent(const sd_json *j) {
    return j == NULL || j->kind == SD_JSON_NULL;
}

static sd_status field_type_error(act_ctx *c, const char *field, const char *want) {
    return sd_error_set(c->err, SD_ERR_FORMAT, "%s action: field '%s' must be %s", c->action, field,
                        want);
}

/* Optional string; NULL when absent or null. */
static sd_status get_str(act_ctx *c, const sd_json *obj, const char *field, const char **out) {
    const sd_json *j = sd_json_get(obj, field);
    *out = NULL;
    if (is_absent(j)) return SD_OK;
    if (j->kind != SD_JSON_STRING) return field_type_error(c, field, "a string");
    *out = delta_pool_strndup(c->pool, j->text, j->text_len);
    return SD_OK;
}

static sd_status get_req_str(act_ctx *c, const sd_json *obj, const char *field, const char **out) {
    sd_status st = get_str(c, obj, field, out);
    if (st == SD_OK && *out == NULL)
        return sd_error_set(c->err, SD_ERR_FORMAT, "%s action: required field '%s' is missing",
                            c->action, field);
    return st;
}

/* Optional integer; `dflt` when absent or null. */
static sd_status get_i64(act_ctx *c, const sd_json *obj, const char *field, int64_t dflt,
                         int64_t *out) {
    const sd_json *j = sd_json_get(obj, field);
    *out = dflt;
    if (is_absent(j)) return SD_OK;
    if (!sd_json_as_int64(j, out)) return field_type_error(c, field, "a 64-bit integer");
    return SD_OK;
}

static sd_status get_req_i64(act_ctx *c, const sd_json *obj, const char *field, int64_t *out) {
    if (is_absent(sd_json_get(obj, field)))
        return sd_error_set(c->err, SD_ERR_FORMAT, "%s action: required field '%s' is missing",
                            c->action, field);
    return get_i64(c, obj, field, -1, out);
}

static sd_status get_bool(act_ctx *c, const sd_json *obj, const char *field, bool dflt, bool *out) {
    const sd_json *j = sd_json_get(obj, field);
    *out = dflt;
    if (is_absent(j)) return SD_OK;
    if (!sd_json_as_bool(j, out)) return field_type_error(c, field, "a boolean");
    return SD_OK;
}

/* A JSON object of strings (values may be null) into a delta_map. */
static sd_status get_map(act_ctx *c, const sd_json *obj, const char *field, delta_map *out) {
    const sd_json *j = sd_json_get(obj, field);
    memset(out, 0, sizeof(*out));
    if (is_absent(j)) return SD_OK;
    if (j->kind != SD_JSON_OBJECT) return field_type_error(c, field, "an object of strings");
    out->items = delta_pool_alloc(c->pool, j->count * sizeof(delta_kv));
    for (size_t i = 0; i < j->count; i++) {
        const sd_json *v = &j->items[i];
        delta_kv *kv = &out->items[out->count++];
        kv->key = delta_pool_strndup(c->pool, j->keys[i], j->key_lens[i]);
        if (v->kind == SD_JSON_NULL) continue;
        if (v->kind != SD_JSON_STRING) return field_type_error(c, field, "an object of strings");
        kv->value = delta_pool_strndup(c->pool, v->text, v->text_len);
    }
    return SD_OK;
}

static sd_status get_str_array(act_ctx *c, const sd_json *obj, const char *field, size_t *n,
                               const char ***out) {
    const sd_json *j = sd_json_get(obj, field);
    *n = 0;
    *out = NULL;
    if (is_absent(j)) return SD_OK;
    if (j->kind != SD_JSON_ARRAY) return field_type_error(c, field, "an array of strings");
    *out = delta_pool_alloc(c->pool, j->count * sizeof(char *));
    for (size_t i = 0; i < j->count; i++) {
        if (j->items[i].kind != SD_JSON_STRING)
            return field_type_error(c, field, "an array of strings");
        (*out)[i] = delta_pool_strndup(c->pool, j->items[i].text, j->items[i].text_len);
    }
    *n = j->count;
    return SD_OK;
}

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        sd_status _st = (expr);                                                                    \
        if (_st != SD_OK) return _st;                                                              \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Individual actions                                                        */
/* ------------------------------------------------------------------------ */

static sd_status parse_dv(act_ctx *c, const sd_json *obj, bool *has, delta_dv_descriptor *dv) {
    const sd_json *j = sd_json_get(obj, "deletionVector");
    *has = false;
    if (is_absent(j)) return SD_OK;
    if (j->kind != SD_JSON_OBJECT) return field_type_error(c, "deletionVector", "an object");
    const char *type;
    int64_t off, size, card;
    TRY(get_req_str(c, j, "storageType", &type));
    TRY(get_req_str(c, j, "pathOrInlineDv", &dv->path_or_inline_dv));
    TRY(get_i64(c, j, "offset", -1, &off));
    TRY(get_req_i64(c, j, "sizeInBytes", &size));
    TRY(get_req_i64(c, j, "cardinality", &card));
    if (strlen(type) != 1 || (type[0] != 'u' && type[0] != 'i' && type[0] != 'p'))
        return sd_error_set(c->err, SD_ERR_UNSUPPORTED,
                            "%s action: deletion vector storageType '%s' is not one of u, i, p",
                            c->action, type);
    if (off < -1 || off > INT32_MAX || size < 0 || size > INT32_MAX || card < 0)
        return sd_error_set(c->err, SD_ERR_FORMAT,
                            "%s action: deletion vector offset/sizeInBytes/cardinality out of "
                            "range (%lld/%lld/%lld)",
                            c->action, (long long)off, (long long)size, (long long)card);
    dv->storage_type = type[0];
    dv->offset = (int32_t)off;
    dv->size_in_bytes = (int32_t)size;
    dv->cardinality = card;
    *has = true;
    return SD_OK;
}

static sd_status parse_protocol(act_ctx *c, const sd_json *j, delta_protocol *p) {
    int64_t r, w;
    TRY(get_req_i64(c, j, "minReaderVersion", &r));
    TRY(get_req_i64(c, j, "minWriterVersion", &w));
    if (r < 0 || r > 1000 || w < 0 || w > 1000)
        return sd_error_set(c->err, SD_ERR_FORMAT, "protocol action: versions out of range");
    p->min_reader_version = (int)r;
    p->min_writer_version = (int)w;
    TRY(get_str_array(c, j, "readerFeatures", &p->nreader_features, &p->reader_features));
    TRY(get_str_array(c, j, "writerFeatures", &p->nwriter_features, &p->writer_features));
    return SD_OK;
}

static sd_status parse_metadata(act_ctx *c, const sd_json *j, delta_metadata *m) {
    TRY(get_req_str(c, j, "id", &m->id));
    TRY(get_str(c, j, "name", &m->name));
    TRY(get_str(c, j, "description", &m->description));
    const sd_json *fmt = sd_json_get(j, "format");
    if (!is_absent(fmt)) {
        if (fmt->kind != SD_JSON_OBJECT) return field_type_error(c, "format", "an object");
        TRY(get_str(c, fmt, "provider", &m->format_provider));
    }
    TRY(get_req_str(c, j, "schemaString", &m->schema_string));
    TRY(get_str_array(c, j, "partitionColumns", &m->npartition_columns, &m->partition_columns));
    TRY(get_map(c, j, "configuration", &m->configuration));
    TRY(get_i64(c, j, "createdTime", -1, &m->created_time));
    sd_status st =
        delta_schema_parse(m->schema_string, strlen(m->schema_string), &m->schema, c->err);
    if (st != SD_OK) {
        sd_error_prefix(c->err, "metaData action: schemaString: ");
        return st;
    }
    delta_pool_own_schema(c->pool, m->schema);
    for (size_t i = 0; i < m->npartition_columns; i++)
        if (sd_schema_find(m->schema, m->partition_columns[i]) < 0)
            return sd_error_set(c->err, SD_ERR_FORMAT,
                                "metaData action: partition column '%s' is not in the schema",
                                m->partition_columns[i]);
    return SD_OK;
}

static sd_status parse_add(act_ctx *c, const sd_json *j, delta_add *a) {
    TRY(get_req_str(c, j, "path", &a->path));
    TRY(get_map(c, j, "partitionValues", &a->partition_values));
    TRY(get_req_i64(c, j, "size", &a->size));
    TRY(get_i64(c, j, "modificationTime", 0, &a->modification_time));
    TRY(get_bool(c, j, "dataChange", true, &a->data_change));
    TRY(get_str(c, j, "stats", &a->stats));
    TRY(get_map(c, j, "tags", &a->tags));
    TRY(parse_dv(c, j, &a->has_dv, &a->dv));
    TRY(get_i64(c, j, "baseRowId", -1, &a->base_row_id));
    TRY(get_i64(c, j, "defaultRowCommitVersion", -1, &a->default_row_commit_version));
    TRY(get_str(c, j, "clusteringProvider", &a->clustering_provider));
    if (a->size < 0) return sd_error_set(c->err, SD_ERR_FORMAT, "add action: negative size");
    return SD_OK;
}

static sd_status parse_remove(act_ctx *c, const sd_json *j, delta_remove *r) {
    TRY(get_req_str(c, j, "path", &r->path));
    TRY(get_i64(c, j, "deletionTimestamp", -1, &r->deletion_timestamp));
    TRY(get_bool(c, j, "dataChange", true, &r->data_change));
    TRY(get_bool(c, j, "extendedFileMetadata", false, &r->extended_file_metadata));
    TRY(get_map(c, j, "partitionValues", &r->partition_values));
    TRY(get_i64(c, j, "size", -1, &r->size));
    TRY(get_map(c, j, "tags", &r->tags));
    TRY(parse_dv(c, j, &r->has_dv, &r->dv));
    TRY(get_i64(c, j, "baseRowId", -1, &r->base_row_id));
    TRY(get_i64(c, j, "defaultRowCommitVersion", -1, &r->default_row_commit_version));
    return SD_OK;
}

static sd_status parse_txn(act_ctx *c, const sd_json *j, delta_txn *t) {
    TRY(get_req_str(c, j, "appId", &t->app_id));
    TRY(get_req_i64(c, j, "version", &t->version));
    TRY(get_i64(c, j, "lastUpdated", -1, &t->last_updated));
    return SD_OK;
}

static sd_status parse_domain(act_ctx *c, const sd_json *j, delta_domain_metadata *d) {
    TRY(get_req_str(c, j, "domain", &d->domain));
    TRY(get_str(c, j, "configuration", &d->configuration));
    TRY(get_bool(c, j, "removed", false, &d->removed));
    if (d->configuration == NULL) d->configuration = "";
    return SD_OK;
}

static sd_status parse_commit_info(act_ctx *c, const sd_json *j, delta_action *a) {
    sd_buf b = SD_BUF_INIT;
    sd_json_append(&b, j);
    a->u.commit_info.json = delta_pool_strndup(c->pool, (const char *)b.data, b.len);
    sd_buf_free(&b);
    /* Writers disagree on these; a malformed value only loses the timestamp. */
    if (!sd_json_as_int64(sd_json_get(j, "timestamp"), &a->u.commit_info.timestamp))
        a->u.commit_info.timestamp = -1;
    if (!sd_json_as_int64(sd_json_get(j, "inCommitTimestamp"),
                          &a->u.commit_info.in_commit_timestamp))
        a->u.commit_info.in_commit_timestamp = -1;
    return SD_OK;
}

typedef struct action_name {
    const char *key;
    delta_action_kind kind;
} action_name;

static const action_name ACTION_NAMES[] = {
    {"add", DELTA_ACTION_ADD},
    {"remove", DELTA_ACTION_REMOVE},
    {"metaData", DELTA_ACTION_METADATA},
    {"protocol", DELTA_ACTION_PROTOCOL},
    {"txn", DELTA_ACTION_TXN},
    {"commitInfo", DELTA_ACTION_COMMIT_INFO},
    {"domainMetadata", DELTA_ACTION_DOMAIN_METADATA},
    {"cdc", DELTA_ACTION_CDC},
    {"checkpointMetadata", DELTA_ACTION_CHECKPOINT_METADATA},
    {"sidecar", DELTA_ACTION_SIDECAR},
};

sd_status delta_action_from_json(const sd_json *line, delta_pool *pool, delta_action *out,
                                 sd_error *err) {
    memset(out, 0, sizeof(*out));
    if (line == NULL || line->kind != SD_JSON_OBJECT)
        return sd_error_set(err, SD_ERR_FORMAT, "a log line must be a JSON object");
    /* The first known key decides; other keys are unknown actions. */
    for (size_t i = 0; i < line->count; i++) {
        for (size_t k = 0; k < sizeof(ACTION_NAMES) / sizeof(ACTION_NAMES[0]); k++) {
            const action_name *an = &ACTION_NAMES[k];
            if (strlen(an->key) != line->key_lens[i] ||
                memcmp(an->key, line->keys[i], line->key_lens[i]))
                continue;
            const sd_json *body = &line->items[i];
            act_ctx c = {an->key, pool, err};
            if (body->kind != SD_JSON_OBJECT)
                return sd_error_set(err, SD_ERR_FORMAT, "%s action must be a JSON object", an->key);
            out->kind = an->kind;
            switch (an->kind) {
                case DELTA_ACTION_ADD:
                    return parse_add(&c, body, &out->u.add);
                case DELTA_ACTION_REMOVE:
                    return parse_remove(&c, body, &out->u.remove);
                case DELTA_ACTION_METADATA:
                    return parse_metadata(&c, body, &out->u.metadata);
                case DELTA_ACTION_PROTOCOL:
                    return parse_protocol(&c, body, &out->u.protocol);
                case DELTA_ACTION_TXN:
                    return parse_txn(&c, body, &out->u.txn);
                case DELTA_ACTION_COMMIT_INFO:
                    return parse_commit_info(&c, body, out);
                case DELTA_ACTION_DOMAIN_METADATA:
                    return parse_domain(&c, body, &out->u.domain);
                case DELTA_ACTION_SIDECAR:
                    return get_req_str(&c, body, "path", &out->u.sidecar_path);
                case DELTA_ACTION_CDC:
                case DELTA_ACTION_CHECKPOINT_METADATA:
                case DELTA_ACTION_UNKNOWN:
                    return SD_OK;
            }
        }
    }
    out->kind = DELTA_ACTION_UNKNOWN;
    return SD_OK;
}

sd_status delta_commit_parse(const char *text, size_t len, const char *name, delta_pool *pool,
                             delta_action_vec *out, sd_error *err) {
    size_t pos = 0, line_no = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        line_no++;
        size_t s = pos, e = end;
        while (s < e && (text[s] == ' ' || text[s] == '\t' || text[s] == '\r')) s++;
        while (e > s && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r')) e--;
        pos = end + 1;
        if (s == e) continue; /* blank line */
        sd_json *j = sd_json_parse(text + s, e - s, err);
        if (j == NULL) {
            sd_error_prefix(err, "%s line %zu: ", name, line_no);
            return SD_ERR_JSON;
        }
        delta_action *a = delta_action_vec_push(out);
        sd_status st = delta_action_from_json(j, pool, a, err);
        sd_json_free(j);
        if (st != SD_OK) {
            sd_error_prefix(err, "%s line %zu: ", name, line_no);
            return st;
        }
        if (a->kind == DELTA_ACTION_UNKNOWN) out->count--;
    }
    return SD_OK;
}

sd_status delta_read_file(const char *path, size_t max, sd_buf *out, sd_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sd_error_set(err, errno == ENOENT ? SD_ERR_NOT_FOUND : SD_ERR_IO, "%s: %s", path,
                            strerror(errno));
    struct stat stt;
    if (fstat(fd, &stt) != 0) {
        int e = errno;
        close(fd);
        return sd_error_set(err, SD_ERR_IO, "%s: %s", path, strerror(e));
    }
    if ((size_t)stt.st_size > max) {
        close(fd);
        return sd_error_set(err, SD_ERR_FORMAT, "%s: file of %lld bytes is larger than %zu", path,
                            (long long)stt.st_size, max);
    }
    sd_buf_reset(out);
    sd_buf_reserve(out, (size_t)stt.st_size + 1);
    for (;;) {
        sd_buf_reserve(out, 65536);
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return sd_error_set(err, SD_ERR_IO, "%s: read: %s", path, strerror(e));
        }
        if (n == 0) break;
        out->len += (size_t)n;
        if (out->len > max) {
            close(fd);
            return sd_error_set(err, SD_ERR_FORMAT, "%s: file is larger than %zu bytes", path, max);
        }
    }
    close(fd);
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* schemaString                                                              */
/* ------------------------------------------------------------------------ */

typedef struct prim_name {
    const char *name;
    sd_type_kind kind;
} prim_name;

static const prim_name PRIMITIVES[] = {
    {"string", SD_STRING}, {"binary", SD_BINARY},       {"boolean", SD_BOOL},
    {"byte", SD_INT8},     {"short", SD_INT16},         {"integer", SD_INT32},
    {"long", SD_INT64},    {"float", SD_FLOAT},         {"double", SD_DOUBLE},
    {"date", SD_DATE},     {"timestamp", SD_TIMESTAMP}, {"timestamp_ntz", SD_TIMESTAMP_NTZ},
};

static sd_status schema_type(const sd_json *j, sd_type *t, const char *col, int depth,
                             sd_error *err);

static sd_status schema_primitive(const char *name, sd_type *t, const char *col, sd_error *err) {
    for (size_t i = 0; i < sizeof(PRIMITIVES) / sizeof(PRIMITIVES[0]); i++) {
        if (strcmp(name, PRIMITIVES[i].name) == 0) {
            t->kind = PRIMITIVES[i].kind;
            return SD_OK;
        }
    }
    int p, s, n = 0;
    if (strcmp(name, "decimal") == 0) { /* Spark's default DecimalType */
        t->kind = SD_DECIMAL;
        t->precision = 10;
        t->scale = 0;
        return SD_OK;
    }
    if (sscanf(name, "decimal(%d,%d)%n", &p, &s, &n) == 2 && name[n] == '\0') {
        if (p < 1 || p > 38 || s < 0 || s > p)
            return sd_error_set(err, SD_ERR_FORMAT,
                                "column '%s': invalid %s (precision 1..38, "
                                "scale 0..precision)",
                                col, name);
        t->kind = SD_DECIMAL;
        t->precision = p;
        t->scale = s;
        return SD_OK;
    }
    return sd_error_set(err, SD_ERR_UNSUPPORTED, "column '%s': data type '%s' is not supported",
                        col, name);
}

static sd_status schema_struct(const sd_json *j, sd_type *t, int depth, sd_error *err) {
    const sd_json *fields = sd_json_get(j, "fields");
    t->kind = SD_STRUCT;
    if (fields == NULL || fields->kind != SD_JSON_ARRAY)
        return sd_error_set(err, SD_ERR_FORMAT, "struct type without a 'fields' array");
    for (size_t i = 0; i < fields->count; i++) {
        const sd_json *f = &fields->items[i];
        const char *name = sd_json_as_string(sd_json_get(f, "name"));
        const sd_json *ft = sd_json_get(f, "type");
        bool nullable = true;
        if (name == NULL || ft == NULL)
            return sd_error_set(err, SD_ERR_FORMAT, "struct field %zu needs 'name' and 'type'", i);
        sd_json_as_bool(sd_json_get(f, "nullable"), &nullable);
        for (int k = 0; k < t->nchildren; k++)
            if (strcmp(t->children[k].name, name) == 0)
                return sd_error_set(err, SD_ERR_FORMAT, "duplicate column name '%s'", name);
        sd_field *fd = sd_type_add_field(t, name, SD_STRUCT, nullable);
        TRY(schema_type(ft, &fd->type, name, depth + 1, err));
    }
    return SD_OK;
}

static sd_status schema_type(const sd_json *j, sd_type *t, const char *col, int depth,
                             sd_error *err) {
    if (depth > DELTA_MAX_SCHEMA_DEPTH)
        return sd_error_set(err, SD_ERR_FORMAT, "column '%s': types nested deeper than %d", col,
                            DELTA_MAX_SCHEMA_DEPTH);
    if (j->kind == SD_JSON_STRING) return schema_primitive(j->text, t, col, err);
    if (j->kind != SD_JSON_OBJECT)
        return sd_error_set(err, SD_ERR_FORMAT, "column '%s': type must be a string or an object",
                            col);
    const char *kind = sd_json_as_string(sd_json_get(j, "type"));
    if (kind == NULL)
        return sd_error_set(err, SD_ERR_FORMAT, "column '%s': complex type without 'type'", col);
    if (strcmp(kind, "struct") == 0) return schema_struct(j, t, depth, err);
    if (strcmp(kind, "array") == 0) {
        const sd_json *et = sd_json_get(j, "elementType");
        bool contains_null = true;
        if (et == NULL)
            return sd_error_set(err, SD_ERR_FORMAT, "column '%s': array without elementType", col);
        sd_json_as_bool(sd_json_get(j, "containsNull"), &contains_null);
        t->kind = SD_LIST;
        sd_field *e = sd_type_add_field(t, "element", SD_STRUCT, contains_null);
        return schema_type(et, &e->type, col, depth + 1, err);
    }
    if (strcmp(kind, "map") == 0) {
        const sd_json *kt = sd_json_get(j, "keyType"), *vt = sd_json_get(j, "valueType");
        bool value_null = true;
        if (kt == NULL || vt == NULL)
            return sd_error_set(err, SD_ERR_FORMAT, "column '%s': map needs keyType and valueType",
                                col);
        sd_json_as_bool(sd_json_get(j, "valueContainsNull"), &value_null);
        t->kind = SD_MAP;
        sd_field *k = sd_type_add_field(t, "key", SD_STRUCT, false);
        TRY(schema_type(kt, &k->type, col, depth + 1, err));
        sd_field *v = sd_type_add_field(t, "value", SD_STRUCT, value_null);
        return schema_type(vt, &v->type, col, depth + 1, err);
    }
    return sd_error_set(err, SD_ERR_UNSUPPORTED, "column '%s': data type '%s' is not supported",
                        col, kind);
}

sd_status delta_schema_parse(const char *schema_string, size_t len, sd_schema **out,
                             sd_error *err) {
    *out = NULL;
    sd_json *j = sd_json_parse(schema_string, len, err);
    if (j == NULL) return SD_ERR_JSON;
    sd_schema *s = sd_schema_new();
    sd_status st;
    if (j->kind != SD_JSON_OBJECT || sd_json_as_string(sd_json_get(j, "type")) == NULL ||
        strcmp(sd_json_as_string(sd_json_get(j, "type")), "struct") != 0)
        st = sd_error_set(err, SD_ERR_FORMAT, "the table schema must be a struct type");
    else
        st = schema_struct(j, s, 0, err);
    sd_json_free(j);
    if (st != SD_OK) {
        sd_schema_free(s);
        return st;
    }
    *out = s;
    return SD_OK;
}

static void schema_format_type(const sd_type *t, bool nullable_child, sd_buf *out);

static void schema_format_fields(const sd_type *t, sd_buf *out) {
    sd_buf_append_str(out, "{\"type\":\"struct\",\"fields\":[");
    for (int i = 0; i < t->nchildren; i++) {
        const sd_field *f = &t->children[i];
        if (i) sd_buf_append_byte(out, ',');
        sd_buf_append_str(out, "{\"name\":");
        sd_json_append_string(out, f->name, strlen(f->name));
        sd_buf_append_str(out, ",\"type\":");
        schema_format_type(&f->type, true, out);
        sd_buf_appendf(out, ",\"nullable\":%s,\"metadata\":{}}", f->nullable ? "true" : "false");
    }
    sd_buf_append_str(out, "]}");
}

static void schema_format_type(const sd_type *t, bool nullable_child, sd_buf *out) {
    (void)nullable_child;
    switch (t->kind) {
        case SD_STRUCT:
            schema_format_fields(t, out);
            return;
        case SD_LIST:
            sd_buf_append_str(out, "{\"type\":\"array\",\"elementType\":");
            schema_format_type(&t->children[0].type, true, out);
            sd_buf_appendf(out, ",\"containsNull\":%s}",
                           t->children[0].nullable ? "true" : "false");
            return;
        case SD_MAP:
            sd_buf_append_str(out, "{\"type\":\"map\",\"keyType\":");
            schema_format_type(&t->children[0].type, true, out);
            sd_buf_append_str(out, ",\"valueType\":");
            schema_format_type(&t->children[1].type, true, out);
            sd_buf_appendf(out, ",\"valueContainsNull\":%s}",
                           t->children[1].nullable ? "true" : "false");
            return;
        case SD_DECIMAL:
            sd_buf_appendf(out, "\"decimal(%d,%d)\"", t->precision, t->scale);
            return;
        default:
            for (size_t i = 0; i < sizeof(PRIMITIVES) / sizeof(PRIMITIVES[0]); i++) {
                if (PRIMITIVES[i].kind == t->kind) {
                    sd_buf_appendf(out, "\"%s\"", PRIMITIVES[i].name);
                    return;
                }
            }
    }
}

void delta_schema_format(const sd_schema *schema, sd_buf *out) {
    schema_format_fields(schema, out);
}

/* ------------------------------------------------------------------------ */
/* Writing actions                                                           */
/* ------------------------------------------------------------------------ */

static void put_key(sd_buf *out, bool *first, const char *key) {
    if (!*first) sd_buf_append_byte(out, ',');
    *first = false;
    sd_json_append_string(out, key, strlen(key));
    sd_buf_append_byte(out, ':');
}

static void put_str(sd_buf *out, bool *first, const char *key, const char *v) {
    if (v == NULL) return;
    put_key(out, first, key);
    sd_json_append_string(out, v, strlen(v));
}

static void put_i64(sd_buf *out, bool *first, const char *key, int64_t v) {
    put_key(out, first, key);
    sd_buf_appendf(out, "%lld", (long long)v);
}

static void put_bool(sd_buf *out, bool *first, const char *key, bool v) {
    put_key(out, first, key);
    sd_buf_append_str(out, v ? "true" : "false");
}

static void put_map(sd_buf *out, bool *first, const char *key, const delta_map *m) {
    put_key(out, first, key);
    sd_buf_append_byte(out, '{');
    for (size_t i = 0; i < m->count; i++) {
        if (i) sd_buf_append_byte(out, ',');
        sd_json_append_string(out, m->items[i].key, strlen(m->items[i].key));
        sd_buf_append_byte(out, ':');
        if (m->items[i].value == NULL)
            sd_buf_append_str(out, "null");
        else
            sd_json_append_string(out, m->items[i].value, strlen(m->items[i].value));
    }
    sd_buf_append_byte(out, '}');
}

static void put_str_array(sd_buf *out, bool *first, const char *key, size_t n, const char **v) {
    put_key(out, first, key);
    sd_buf_append_byte(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) sd_buf_append_byte(out, ',');
        sd_json_append_string(out, v[i], strlen(v[i]));
    }
    sd_buf_append_byte(out, ']');
}

static void put_dv(sd_buf *out, bool *first, const delta_dv_descriptor *dv) {
    put_key(out, first, "deletionVector");
    bool f = true;
    char st[2] = {dv->storage_type, 0};
    sd_buf_append_byte(out, '{');
    put_str(out, &f, "storageType", st);
    put_str(out, &f, "pathOrInlineDv", dv->path_or_inline_dv);
    if (dv->offset >= 0) put_i64(out, &f, "offset", dv->offset);
    put_i64(out, &f, "sizeInBytes", dv->size_in_bytes);
    put_i64(out, &f, "cardinality", dv->cardinality);
    sd_buf_append_byte(out, '}');
}

static void format_add(const delta_add *a, sd_buf *out) {
    bool f = true;
    sd_buf_append_str(out, "{\"add\":{");
    put_str(out, &f, "path", a->path);
    put_map(out, &f, "partitionValues", &a->partition_values);
    put_i64(out, &f, "size", a->size);
    put_i64(out, &f, "modificationTime", a->modification_time);
    put_bool(out, &f, "dataChange", a->data_change);
    put_str(out, &f, "stats", a->stats);
    if (a->tags.count) put_map(out, &f, "tags", &a->tags);
    if (a->has_dv) put_dv(out, &f, &a->dv);
    if (a->base_row_id >= 0) put_i64(out, &f, "baseRowId", a->base_row_id);
    if (a->default_row_commit_version >= 0)
        put_i64(out, &f, "defaultRowCommitVersion", a->default_row_commit_version);
    put_str(out, &f, "clusteringProvider", a->clustering_provider);
    sd_buf_append_str(out, "}}");
}

static void format_remove(const delta_remove *r, sd_buf *out) {
    bool f = true;
    sd_buf_append_str(out, "{\"remove\":{");
    put_str(out, &f, "path", r->path);
    if (r->deletion_timestamp >= 0) put_i64(out, &f, "deletionTimestamp", r->deletion_timestamp);
    put_bool(out, &f, "dataChange", r->data_change);
    if (r->extended_file_metadata) {
        put_bool(out, &f, "extendedFileMetadata", true);
        put_map(out, &f, "partitionValues", &r->partition_values);
        if (r->size >= 0) put_i64(out, &f, "size", r->size);
    }
    if (r->tags.count) put_map(out, &f, "tags", &r->tags);
    if (r->has_dv) put_dv(out, &f, &r->dv);
    if (r->base_row_id >= 0) put_i64(out, &f, "baseRowId", r->base_row_id);
    if (r->default_row_commit_version >= 0)
        put_i64(out, &f, "defaultRowCommitVersion", r->default_row_commit_version);
    sd_buf_append_str(out, "}}");
}

static void format_metadata(const delta_metadata *m, sd_buf *out) {
    bool f = true;
    sd_buf_append_str(out, "{\"metaData\":{");
    put_str(out, &f, "id", m->id);
    put_str(out, &f, "name", m->name);
    put_str(out, &f, "description", m->description);
    put_key(out, &f, "format");
    sd_buf_append_str(out, "{\"provider\":");
    const char *prov = m->format_provider ? m->format_provider : "parquet";
    sd_json_append_string(out, prov, strlen(prov));
    sd_buf_append_str(out, ",\"options\":{}}");
    if (m->schema_string != NULL) {
        put_str(out, &f, "schemaString", m->schema_string);
    } else if (m->schema != NULL) {
        sd_buf s = SD_BUF_INIT;
        delta_schema_format(m->schema, &s);
        put_key(out, &f, "schemaString");
        sd_json_append_string(out, (const char *)s.data, s.len);
        sd_buf_free(&s);
    }
    put_str_array(out, &f, "partitionColumns", m->npartition_columns, m->partition_columns);
    put_map(out, &f, "configuration", &m->configuration);
    if (m->created_time >= 0) put_i64(out, &f, "createdTime", m->created_time);
    sd_buf_append_str(out, "}}");
}

void delta_action_format(const delta_action *a, sd_buf *out) {
    bool f = true;
    switch (a->kind) {
        case DELTA_ACTION_ADD:
            format_add(&a->u.add, out);
            return;
        case DELTA_ACTION_REMOVE:
            format_remove(&a->u.remove, out);
            return;
        case DELTA_ACTION_METADATA:
            format_metadata(&a->u.metadata, out);
            return;
        case DELTA_ACTION_PROTOCOL: {
            const delta_protocol *p = &a->u.protocol;
            sd_buf_append_str(out, "{\"protocol\":{");
            put_i64(out, &f, "minReaderVersion", p->min_reader_version);
            put_i64(out, &f, "minWriterVersion", p->min_writer_version);
            if (p->min_reader_version >= 3)
                put_str_array(out, &f, "readerFeatures", p->nreader_features, p->reader_features);
            if (p->min_writer_version >= 7)
                put_str_array(out, &f, "writerFeatures", p->nwriter_features, p->writer_features);
            sd_buf_append_str(out, "}}");
            return;
        }
        case DELTA_ACTION_TXN:
            sd_buf_append_str(out, "{\"txn\":{");
            put_str(out, &f, "appId", a->u.txn.app_id);
            put_i64(out, &f, "version", a->u.txn.version);
            if (a->u.txn.last_updated >= 0) put_i64(out, &f, "lastUpdated", a->u.txn.last_updated);
            sd_buf_append_str(out, "}}");
            return;
        case DELTA_ACTION_COMMIT_INFO:
            sd_buf_append_str(out, "{\"commitInfo\":");
            sd_buf_append_str(out, a->u.commit_info.json ? a->u.commit_info.json : "{}");
            sd_buf_append_byte(out, '}');
            return;
        case DELTA_ACTION_DOMAIN_METADATA:
            sd_buf_append_str(out, "{\"domainMetadata\":{");
            put_str(out, &f, "domain", a->u.domain.domain);
            put_str(out, &f, "configuration",
                    a->u.domain.configuration ? a->u.domain.configuration : "");
            put_bool(out, &f, "removed", a->u.domain.removed);
            sd_buf_append_str(out, "}}");
            return;
        case DELTA_ACTION_SIDECAR:
        case DELTA_ACTION_CDC:
        case DELTA_ACTION_CHECKPOINT_METADATA:
        case DELTA_ACTION_UNKNOWN:
            sd_buf_append_str(out, "{}");
            return;
    }
}
