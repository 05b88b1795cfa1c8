/*
 * delta_commit.c - writing commits: optimistic transactions with Delta's
 * conflict rules, and table creation (PROTOCOL.md "Optimistic Concurrency
 * Control", "Commit Provenance Information", "Protocol Evolution").
 *
 * Atomicity: the commit text is written to a hidden temporary file in
 * _delta_log, fsync'd, then link()ed to NNNNNNNNNNNNNNNNNNNN.json. link()
 * fails with EEXIST when the version exists, so of two writers racing for
 * version N exactly one wins; the loser re-reads the winning commits,
 * checks them against what it read and wrote, and either retries at the
 * next version or fails with SD_ERR_CONFLICT. The directory is fsync'd
 * after the link so a commit acknowledged to the caller survives a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta_internal.h"

#define DELTA_ENGINE_INFO "streamdelta"

struct delta_transaction {
    const delta_snapshot *snap;
    char *operation;
    char *op_params;
    char *op_metrics; /* operationMetrics object, NULL = file counts */
    delta_pool pool;
    delta_action_vec actions;
    pq_predicate *read_preds;
    int nread_preds;
    bool read_whole;
    bool stages_metadata;
    delta_conflict_judge judge; /* finer conflict check, NULL = by partition */
    void *judge_opaque;
    bool committed;
};

/* ------------------------------------------------------------------------ */
/* Staging                                                                   */
/* ------------------------------------------------------------------------ */

delta_transaction *delta_transaction_begin(const delta_snapshot *s, const char *operation) {
    delta_transaction *t = sd_xcalloc(1, sizeof(*t));
    t->snap = s;
    t->operation = sd_xstrdup(operation ? operation : "WRITE");
    delta_pool_init(&t->pool);
    return t;
}

void delta_transaction_free(delta_transaction *t) {
    if (t == NULL) return;
    for (int i = 0; i < t->nread_preds; i++) {
        free((char *)t->read_preds[i].path);
        sd_value_clear(&t->read_preds[i].value);
    }
    free(t->read_preds);
    delta_action_vec_free(&t->actions);
    delta_pool_free(&t->pool);
    free(t->operation);
    free(t->op_metrics);
    free(t->op_params);
    free(t);
}

static const char *dup_str(delta_transaction *t, const char *s) {
    return s ? delta_pool_strndup(&t->pool, s, strlen(s)) : NULL;
}

static delta_map dup_map(delta_transaction *t, const delta_map *m) {
    delta_map r = {0, NULL};
    if (m == NULL || m->count == 0) return r;
    r.items = delta_pool_alloc(&t->pool, m->count * sizeof(delta_kv));
    for (size_t i = 0; i < m->count; i++) {
        r.items[i].key = dup_str(t, m->items[i].key);
        r.items[i].value = dup_str(t, m->items[i].value);
    }
    r.count = m->count;
    return r;
}

static delta_dv_descriptor dup_dv(delta_transaction *t, const delta_dv_descriptor *dv) {
    delta_dv_descriptor r = *dv;
    r.path_or_inline_dv = dup_str(t, dv->path_or_inline_dv);
    return r;
}

void delta_transaction_add(delta_transaction *t, const delta_add *add) {
    delta_action *a = delta_action_vec_push(&t->actions);
    a->kind = DELTA_ACTION_ADD;
    delta_add *d = &a->u.add;
    *d = *add;
    d->path = dup_str(t, add->path);
    d->partition_values = dup_map(t, &add->partition_values);
    d->stats = dup_str(t, add->stats);
    d->tags = dup_map(t, &add->tags);
    if (add->has_dv) d->dv = dup_dv(t, &add->dv);
    d->clustering_provider = dup_str(t, add->clustering_provider);
}

void delta_transaction_add_written(delta_transaction *t, const char *logged_path,
                                   const delta_map *partition_values, const pq_file_summary *sum,
                                   bool data_change) {
    sd_buf stats = SD_BUF_INIT;
    delta_stats_from_summary(sum, &stats);
    delta_add add = {0};
    add.path = logged_path;
    if (partition_values != NULL) add.partition_values = *partition_values;
    add.size = sum->file_size;
    add.modification_time = sd_now_ms();
    add.data_change = data_change;
    add.stats = sd_buf_cstr(&stats);
    add.base_row_id = -1; /* no row tracking: neither field is written */
    add.default_row_commit_version = -1;
    delta_transaction_add(t, &add);
    sd_buf_free(&stats);
}

void delta_transaction_remove(delta_transaction *t, const delta_file *file, bool data_change) {
    const delta_add *add = file->add;
    delta_action *a = delta_action_vec_push(&t->actions);
    a->kind = DELTA_ACTION_REMOVE;
    delta_remove *r = &a->u.remove;
    r->path = dup_str(t, add->path);
    r->deletion_timestamp = sd_now_ms();
    r->data_change = data_change;
    r->extended_file_metadata = true;
    r->partition_values = dup_map(t, &add->partition_values);
    r->size = add->size;
    r->tags = dup_map(t, &add->tags);
    r->has_dv = add->has_dv;
    if (add->has_dv) r->dv = dup_dv(t, &add->dv);
    r->base_row_id = add->base_row_id;
    r->default_row_commit_version = add->default_row_commit_version;
}

void delta_transaction_set_app_version(delta_transaction *t, const char *app_id, int64_t version) {
    delta_action *a = delta_action_vec_push(&t->actions);
    a->kind = DELTA_ACTION_TXN;
    a->u.txn.app_id = dup_str(t, app_id);
    a->u.txn.version = version;
    a->u.txn.last_updated = sd_now_ms();
}

void delta_transaction_set_domain(delta_transaction *t, const char *domain,
                                  const char *configuration, bool removed) {
    delta_action *a = delta_action_vec_push(&t->actions);
    a->kind = DELTA_ACTION_DOMAIN_METADATA;
    a->u.domain.domain = dup_str(t, domain);
    a->u.domain.configuration = dup_str(t, configuration ? configuration : "");
    a->u.domain.removed = removed;
}

void delta_transaction_set_metadata(delta_transaction *t, const delta_metadata *m) {
    delta_action *a = delta_action_vec_push(&t->actions);
    a->kind = DELTA_ACTION_METADATA;
    delta_metadata *d = &a->u.metadata;
    *d = *m;
    d->id = dup_str(t, m->id ? m->id : t->snap->metadata.id);
    d->name = dup_str(t, m->name);
    d->description = dup_str(t, m->description);
    d->format_provider = dup_str(t, m->format_provider ? m->format_provider : "parquet");
    d->schema = NULL;
    if (m->schema != NULL) {
        d->schema = sd_schema_new();
        sd_type_copy(d->schema, m->schema);
        delta_pool_own_schema(&t->pool, d->schema);
    }
    if (m->schema_string != NULL) {
        d->schema_string = dup_str(t, m->schema_string);
    } else if (m->schema != NULL) {
        sd_buf b = SD_BUF_INIT;
        delta_schema_format(m->schema, &b);
        d->schema_string = delta_pool_strndup(&t->pool, (const char *)b.data, b.len);
        sd_buf_free(&b);
    }
    d->partition_columns = delta_pool_alloc(&t->pool, (m->npartition_columns + 1) * sizeof(char *));
    for (size_t i = 0; i < m->npartition_columns; i++)
        d->partition_columns[i] = dup_str(t, m->partition_columns[i]);
    d->configuration = dup_map(t, &m->configuration);
    /* New metadata is judged against everything committed meanwhile. */
    t->read_whole = true;
    t->stages_metadata = true;
}

void delta_transaction_read_predicate(delta_transaction *t, const pq_predicate *preds, int npreds) {
    t->read_preds =
        sd_xrealloc(t->read_preds, (size_t)(t->nread_preds + npreds + 1) * sizeof(pq_predicate));
    for (int i = 0; i < npreds; i++) {
        pq_predicate *p = &t->read_preds[t->nread_preds++];
        p->path = sd_xstrdup(preds[i].path);
        p->op = preds[i].op;
        sd_value_copy(&p->value, &preds[i].value);
    }
    if (npreds == 0) t->read_whole = true; /* an empty conjunction reads everything */
}

void delta_transaction_read_whole_table(delta_transaction *t) {
    t->read_whole = true;
}

void delta_transaction_set_conflict_judge(delta_transaction *t, delta_conflict_judge judge,
                                          void *opaque) {
    t->judge = judge;
    t->judge_opaque = opaque;
}

void delta_transaction_set_operation_parameters(delta_transaction *t, const char *json_object) {
    free(t->op_params);
    t->op_params = json_object ? sd_xstrdup(json_object) : NULL;
}

void delta_transaction_set_operation_metrics(delta_transaction *t, const char *json_object) {
    free(t->op_metrics);
    t->op_metrics = json_object ? sd_xstrdup(json_object) : NULL;
}

/* ------------------------------------------------------------------------ */
/* Commit files                                                              */
/* ------------------------------------------------------------------------ */

static sd_status fsync_dir(const char *dir, sd_error *err) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sd_error_set(err, SD_ERR_IO, "%s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0) return sd_error_set(err, SD_ERR_IO, "%s: fsync: %s", dir, strerror(e));
    return SD_OK;
}

/* Write `body` to a new hidden temporary file in `log_dir`, fsync'd. */
static sd_status write_temp(const char *log_dir, const sd_buf *body, char **tmp_path,
                            sd_error *err) {
    char id[SD_UUID_TEXT_SIZE];
    sd_uuid_random_text(id);
    char *path = sd_xasprintf("%s/.tmp-%s.json", log_dir, id);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        sd_status st = sd_error_set(err, errno == ENOSPC ? SD_ERR_NOSPACE : SD_ERR_IO, "%s: %s",
                                    path, strerror(errno));
        free(path);
        return st;
    }
    size_t off = 0;
    while (off < body->len) {
        ssize_t n = write(fd, body->data + off, body->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    int e = errno;
    bool ok = off == body->len && fsync(fd) == 0;
    if (!ok && off == body->len) e = errno;
    close(fd);
    if (!ok) {
        unlink(path);
        sd_status st = sd_error_set(err, e == ENOSPC ? SD_ERR_NOSPACE : SD_ERR_IO, "%s: write: %s",
                                    path, strerror(e));
        free(path);
        return st;
    }
    *tmp_path = path;
    return SD_OK;
}

/* link() the temp file to commit `version`: *won false when it exists. */
static sd_status publish(const char *log_dir, const char *tmp, int64_t version, bool *won,
                         sd_error *err) {
    char *final = sd_xasprintf("%s/%020lld.json", log_dir, (long long)version);
    *won = false;
    sd_status st = SD_OK;
    int rc = link(tmp, final);
    if (rc != 0 && (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == EXDEV)) {
        /* No hard links here (some FUSE and network file systems): an
         * exclusive rename gives the same "fails if it exists" guarantee. */
        rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE);
    }
    if (rc == 0) {
        *won = true;
        st = fsync_dir(log_dir, err);
    } else if (errno != EEXIST) {
        st = sd_error_set(err, SD_ERR_IO, "%s: publishing commit: %s", final, strerror(errno));
    }
    free(final);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Commit body                                                               */
/* ------------------------------------------------------------------------ */

static bool is_blind_append(const delta_transaction *t) {
    if (t->read_whole || t->nread_preds > 0) return false;
    for (size_t i = 0; i < t->actions.count; i++)
        if (t->actions.items[i].kind == DELTA_ACTION_REMOVE) return false;
    return true;
}

static void build_body(const delta_transaction *t, sd_buf *out) {
    size_t nadd = 0, nremove = 0;
    for (size_t i = 0; i < t->actions.count; i++) {
        if (t->actions.items[i].kind == DELTA_ACTION_ADD) nadd++;
        if (t->actions.items[i].kind == DELTA_ACTION_REMOVE) nremove++;
    }
    char txn_id[SD_UUID_TEXT_SIZE];
    sd_uuid_random_text(txn_id);
    sd_buf_appendf(out,
                   "{\"commitInfo\":{\"timestamp\":%lld,\"operation\":", (long long)sd_now_ms());
    sd_json_append_string(out, t->operation, strlen(t->operation));
    sd_buf_appendf(out,
                   ",\"operationParameters\":%s,\"readVersion\":%lld,\"isolationLevel\":"
                   "\"WriteSerializable\",\"isBlindAppend\":%s,\"operationMetrics\":",
                   t->op_params ? t->op_params : "{}", (long long)t->snap->version,
                   is_blind_append(t) ? "true" : "false");
    if (t->op_metrics)
        sd_buf_append_str(out, t->op_metrics);
    else
        sd_buf_appendf(out, "{\"numAddedFiles\":\"%zu\",\"numRemovedFiles\":\"%zu\"}", nadd,
                       nremove);
    sd_buf_appendf(out, ",\"engineInfo\":\"%s\",\"txnId\":\"%s\"}}\n", DELTA_ENGINE_INFO, txn_id);
    for (size_t i = 0; i < t->actions.count; i++) {
        delta_action_format(&t->actions.items[i], out);
        sd_buf_append_byte(out, '\n');
    }
}

/* ------------------------------------------------------------------------ */
/* Conflict detection                                                        */
/* ------------------------------------------------------------------------ */

static bool removes_path(const delta_transaction *t, const char *path) {
    for (size_t i = 0; i < t->actions.count; i++) {
        const delta_action *a = &t->actions.items[i];
        if (a->kind == DELTA_ACTION_REMOVE && strcmp(a->u.remove.path, path) == 0) return true;
    }
    return false;
}

static bool sets_app(const delta_transaction *t, const char *app_id) {
    for (size_t i = 0; i < t->actions.count; i++) {
        const delta_action *a = &t->actions.items[i];
        if (a->kind == DELTA_ACTION_TXN && strcmp(a->u.txn.app_id, app_id) == 0) return true;
    }
    return false;
}

static bool sets_domain(const delta_transaction *t, const char *domain) {
    for (size_t i = 0; i < t->actions.count; i++) {
        const delta_action *a = &t->actions.items[i];
        if (a->kind == DELTA_ACTION_DOMAIN_METADATA && strcmp(a->u.domain.domain, domain) == 0)
            return true;
    }
    return false;
}

/* Did this transaction read the partition of a file with values `pv`? */
static sd_status read_covers_partition(const delta_transaction *t, const delta_map *pv, bool known,
                                       bool *covered, sd_error *err) {
    *covered = false;
    if (t->read_whole) {
        *covered = true;
        return SD_OK;
    }
    if (t->nread_preds == 0) return SD_OK;
    if (!known && t->snap->metadata.npartition_columns > 0) {
        *covered = true; /* a remove without partition values: assume the worst */
        return SD_OK;
    }
    return delta_partition_matches(t->snap, pv, t->read_preds, t->nread_preds, covered, err);
}

/* Did this transaction read what winner action `a` (an add or a remove of
 * commit `version`) changed: by partition, then by the judge. A remove
 * without extended file metadata has no partition values to go by. */
static sd_status read_covers(const delta_transaction *t, const delta_action *a, int64_t version,
                             bool *covered, sd_error *err) {
    bool add = a->kind == DELTA_ACTION_ADD;
    const delta_map *pv = add ? &a->u.add.partition_values : &a->u.remove.partition_values;
    bool known = add || a->u.remove.extended_file_metadata;
    sd_status st = read_covers_partition(t, pv, known, covered, err);
    if (st != SD_OK || !*covered || t->judge == NULL || t->stages_metadata) return st;
    return t->judge(t->judge_opaque, a, version, covered, err);
}

static sd_status conflict(sd_error *err, int64_t v, const char *what, const char *detail) {
    return sd_error_set(err, SD_ERR_CONFLICT,
                        "concurrent commit %lld %s%s%s; reload the table and run the operation "
                        "again",
                        (long long)v, what, detail ? " " : "", detail ? detail : "");
}

static sd_status check_winner(const delta_transaction *t, const delta_action_vec *v,
                              int64_t version, sd_error *err) {
    for (size_t i = 0; i < v->count; i++) {
        const delta_action *a = &v->items[i];
        bool covered = false;
        sd_status st;
        switch (a->kind) {
            case DELTA_ACTION_PROTOCOL:
                return conflict(err, version, "changed the table protocol", NULL);
            case DELTA_ACTION_METADATA:
                return conflict(err, version, "changed the table metadata (schema or properties)",
                                NULL);
            case DELTA_ACTION_TXN:
                if (sets_app(t, a->u.txn.app_id))
                    return conflict(err, version, "also advanced the streaming progress of appId",
                                    a->u.txn.app_id);
                break;
            case DELTA_ACTION_DOMAIN_METADATA:
                if (sets_domain(t, a->u.domain.domain))
                    return conflict(err, version, "also changed domain", a->u.domain.domain);
                break;
            case DELTA_ACTION_REMOVE:
                if (removes_path(t, a->u.remove.path))
                    return conflict(err, version, "deleted a file this transaction also deletes:",
                                    a->u.remove.path);
                st = read_covers(t, a, version, &covered, err);
                if (st != SD_OK) return st;
                if (covered)
                    return conflict(err, version,
                                    "deleted a file this transaction read:", a->u.remove.path);
                break;
            case DELTA_ACTION_ADD:
                if (!a->u.add.data_change) break;
                st = read_covers(t, a, version, &covered, err);
                if (st != SD_OK) return st;
                if (covered)
                    return conflict(err, version,
                                    "added data this transaction read:", a->u.add.path);
                break;
            default:
                break;
        }
    }
    return SD_OK;
}

/* Read commit `version` (which exists) and check it against t. */
static sd_status check_version(const delta_transaction *t, const char *log_dir, int64_t version,
                               bool *exists, sd_error *err) {
    char *path = sd_xasprintf("%s/%020lld.json", log_dir, (long long)version);
    sd_buf text = SD_BUF_INIT;
    sd_error rerr = {0};
    sd_status st = delta_read_file(path, DELTA_MAX_LOG_FILE, &text, &rerr);
    *exists = st != SD_ERR_NOT_FOUND;
    if (st == SD_ERR_NOT_FOUND)
        st = SD_OK;
    else if (st != SD_OK)
        sd_error_set(err, st, "%s", rerr.msg);
    if (st == SD_OK && *exists) {
        delta_pool pool;
        delta_pool_init(&pool);
        delta_action_vec v = {0};
        char *label = sd_xasprintf("_delta_log/%020lld.json", (long long)version);
        st = delta_commit_parse((const char *)text.data, text.len, label, &pool, &v, err);
        if (st == SD_OK) st = check_winner(t, &v, version, err);
        free(label);
        delta_action_vec_free(&v);
        delta_pool_free(&pool);
    }
    sd_buf_free(&text);
    free(path);
    return st;
}

static sd_status check_append_only(const delta_transaction *t, sd_error *err) {
    const char *ao = delta_snapshot_property(t->snap, "delta.appendOnly", "false");
    if (strcmp(ao, "true") != 0) return SD_OK;
    for (size_t i = 0; i < t->actions.count; i++) {
        const delta_action *a = &t->actions.items[i];
        if (a->kind == DELTA_ACTION_REMOVE && a->u.remove.data_change)
            return sd_error_set(err, SD_ERR_UNSUPPORTED,
                                "table %s is append-only (delta.appendOnly=true): this %s would "
                                "delete data from %s",
                                t->snap->table_path, t->operation, a->u.remove.path);
    }
    return SD_OK;
}

/* New metadata must read back: a valid schemaString holding the
 * partition columns as top-level primitive columns. */
static sd_status check_new_metadata(const delta_metadata *m, sd_error *err) {
    sd_schema *schema = NULL;
    sd_status st = delta_schema_parse(m->schema_string, strlen(m->schema_string), &schema, err);
    if (st != SD_OK) {
        sd_error_prefix(err, "new table metadata: ");
        return st;
    }
    for (size_t i = 0; st == SD_OK && i < m->npartition_columns; i++) {
        int f = sd_schema_find(schema, m->partition_columns[i]);
        if (f < 0 || sd_type_is_nested(schema->children[f].type.kind))
            st = sd_error_set(err, SD_ERR_ARG,
                              "new table metadata: partition column '%s' is not a top-level "
                              "primitive column",
                              m->partition_columns[i]);
    }
    sd_schema_free(schema);
    return st;
}

sd_status delta_transaction_commit(delta_transaction *t, int max_retries, int64_t *version,
                                   sd_error *err) {
    if (t->committed) return sd_error_set(err, SD_ERR_ARG, "transaction was already committed");
    sd_status st = delta_features_check_write(&t->snap->protocol, &t->snap->metadata, err);
    for (size_t i = 0; st == SD_OK && i < t->actions.count; i++) {
        const delta_action *a = &t->actions.items[i];
        if (a->kind != DELTA_ACTION_METADATA) continue;
        if (a->u.metadata.schema_string == NULL)
            st = sd_error_set(err, SD_ERR_ARG, "new table metadata has no schema");
        if (st == SD_OK) st = check_new_metadata(&a->u.metadata, err);
        if (st == SD_OK) st = delta_features_check_write(&t->snap->protocol, &a->u.metadata, err);
    }
    if (st == SD_OK) st = check_append_only(t, err);
    if (st != SD_OK) return st;
    char *log_dir = sd_xasprintf("%s/_delta_log", t->snap->table_path);
    sd_buf body = SD_BUF_INIT;
    build_body(t, &body);
    char *tmp = NULL;
    st = write_temp(log_dir, &body, &tmp, err);
    int64_t attempt = t->snap->version + 1;
    int retries = 0;
    while (st == SD_OK) {
        bool won;
        st = publish(log_dir, tmp, attempt, &won, err);
        if (st != SD_OK || won) break;
        /* Lost the race: every commit from `attempt` on is a winner to check. */
        bool exists = true;
        while (st == SD_OK && exists) {
            st = check_version(t, log_dir, attempt, &exists, err);
            if (exists && st == SD_OK) attempt++;
        }
        if (st != SD_OK) break;
        if (++retries > max_retries) {
            st = sd_error_set(err, SD_ERR_CONFLICT,
                              "gave up after %d retries: other writers keep committing to %s "
                              "(latest version %lld)",
                              max_retries, t->snap->table_path, (long long)(attempt - 1));
            break;
        }
    }
    if (tmp != NULL) {
        unlink(tmp);
        free(tmp);
    }
    if (st == SD_OK) {
        t->committed = true;
        if (version) *version = attempt;
    } else if (st == SD_ERR_CONFLICT) {
        sd_error_prefix(err, "%s: ", t->snap->table_path);
    }
    sd_buf_free(&body);
    free(log_dir);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Create table                                                              */
/* ------------------------------------------------------------------------ */

static bool schema_has_kind(const sd_type *t, sd_type_kind k) {
    if (t->kind == k) return true;
    for (int i = 0; i < t->nchildren; i++)
        if (schema_has_kind(&t->children[i].type, k)) return true;
    return false;
}

static sd_status mkdir_p(const char *path, sd_error *err) {
    char *p = sd_xstrdup(path);
    sd_status st = SD_OK;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            st = sd_error_set(err, SD_ERR_IO, "%s: mkdir: %s", p, strerror(errno));
            break;
        }
        *s = c;
        if (c == '\0') break;
    }
    free(p);
    return st;
}

sd_status delta_table_create(const char *path, const sd_schema *schema,
                             const char *const *partition_columns, int npartition_columns,
                             const delta_map *configuration, sd_error *err) {
    for (int i = 0; i < npartition_columns; i++) {
        int f = sd_schema_find(schema, partition_columns[i]);
        if (f < 0 || sd_type_is_nested(schema->children[f].type.kind))
            return sd_error_set(err, SD_ERR_ARG,
                                "partition column '%s' must be a top-level primitive column of "
                                "the schema",
                                partition_columns[i]);
    }
    if (schema->nchildren == 0 || npartition_columns >= schema->nchildren)
        return sd_error_set(err, SD_ERR_ARG, "a table needs at least one non-partition column");
    char *log_dir = sd_xasprintf("%s/_delta_log", path);
    sd_status st = mkdir_p(log_dir, err);

    delta_action proto = {.kind = DELTA_ACTION_PROTOCOL}, meta = {.kind = DELTA_ACTION_METADATA};
    proto.u.protocol.min_reader_version = 1;
    proto.u.protocol.min_writer_version = 2;
    /* Table features (reader 3 / writer 7) only when a feature is needed:
     * timestampNtz columns, or deletion vectors asked for by property. The
     * writer list keeps what writer version 2 implied (appendOnly,
     * invariants): Delta counts NOT NULL columns as invariants in use and
     * refuses a table whose protocol lacks the feature. */
    const char *features[4] = {"appendOnly", "invariants"};
    size_t nfeatures = 2;
    const char *dv =
        configuration ? delta_map_get(configuration, "delta.enableDeletionVectors", NULL) : NULL;
    if (dv != NULL && strcmp(dv, "true") == 0) features[nfeatures++] = "deletionVectors";
    if (schema_has_kind(schema, SD_TIMESTAMP_NTZ)) features[nfeatures++] = "timestampNtz";
    if (nfeatures > 2)
        proto.u.protocol = (delta_protocol){3, 7, nfeatures - 2, features + 2, nfeatures, features};
    char id[SD_UUID_TEXT_SIZE];
    sd_uuid_random_text(id);
    delta_metadata *m = &meta.u.metadata;
    m->id = id;
    m->format_provider = "parquet";
    m->schema = (sd_schema *)schema;
    m->npartition_columns = (size_t)npartition_columns;
    m->partition_columns = (const char **)partition_columns;
    if (configuration) m->configuration = *configuration;
    m->created_time = sd_now_ms();

    sd_buf body = SD_BUF_INIT, parts = SD_BUF_INIT, props = SD_BUF_INIT;
    sd_buf_append_byte(&parts, '[');
    for (int i = 0; i < npartition_columns; i++) {
        if (i) sd_buf_append_byte(&parts, ',');
        sd_json_append_string(&parts, partition_columns[i], strlen(partition_columns[i]));
    }
    sd_buf_append_byte(&parts, ']');
    sd_buf_append_byte(&props, '{');
    for (size_t i = 0; configuration && i < configuration->count; i++) {
        if (i) sd_buf_append_byte(&props, ',');
        const char *k = configuration->items[i].key, *v = configuration->items[i].value;
        sd_json_append_string(&props, k, strlen(k));
        sd_buf_append_byte(&props, ':');
        if (v)
            sd_json_append_string(&props, v, strlen(v));
        else
            sd_buf_append_str(&props, "null");
    }
    sd_buf_append_byte(&props, '}');
    sd_buf_appendf(&body,
                   "{\"commitInfo\":{\"timestamp\":%lld,\"operation\":\"CREATE TABLE\","
                   "\"operationParameters\":{\"isManaged\":\"false\",\"description\":null,"
                   "\"partitionBy\":",
                   (long long)m->created_time);
    sd_json_append_string(&body, (const char *)parts.data, parts.len);
    sd_buf_append_str(&body, ",\"properties\":");
    sd_json_append_string(&body, (const char *)props.data, props.len);
    sd_buf_appendf(&body,
                   "},\"isolationLevel\":\"Serializable\",\"isBlindAppend\":true,"
                   "\"engineInfo\":\"%s\"}}\n",
                   DELTA_ENGINE_INFO);
    delta_action_format(&proto, &body);
    sd_buf_append_byte(&body, '\n');
    delta_action_format(&meta, &body);
    sd_buf_append_byte(&body, '\n');

    char *tmp = NULL;
    if (st == SD_OK) st = write_temp(log_dir, &body, &tmp, err);
    if (st == SD_OK) {
        bool won;
        st = publish(log_dir, tmp, 0, &won, err);
        if (st == SD_OK && !won)
            st = sd_error_set(err, SD_ERR_EXISTS, "%s: a Delta table already exists there", path);
    }
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    sd_buf_free(&body);
    sd_buf_free(&parts);
    sd_buf_free(&props);
    free(log_dir);
    return st;
}
