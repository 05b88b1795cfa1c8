/*
 * delta_checkpoint_write.c - writing classic single-file checkpoints
 * (PROTOCOL.md "Checkpoints", "Checkpoint Schema", "Last Checkpoint File").
 *
 * A checkpoint of version N is the snapshot's state as Parquet rows, one
 * action per row: protocol, metaData, every txn, live domainMetadata, every
 * live add (dataChange=false) and the remove tombstones still within
 * delta.deletedFileRetentionDuration (VACUUM needs them; older ones are
 * dropped, as Delta does). The column layout follows the schema Spark's
 * checkpoints use, so Spark, delta-rs and DuckDB read ours; the JSON stats
 * string is written, stats_parsed is not.
 *
 * Both files are written under a temporary name and renamed into place: a
 * reader sees either no checkpoint or a whole one. Rewriting an existing
 * checkpoint of the same version is harmless (same content).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "delta_internal.h"

#define DELTA_DEFAULT_TOMBSTONE_RETENTION_MS (7LL * 24 * 3600 * 1000)

/* Column order of the checkpoint schema. */
enum { CP_TXN, CP_ADD, CP_REMOVE, CP_METADATA, CP_PROTOCOL, CP_DOMAIN, CP_NCOLS };

/* ------------------------------------------------------------------------ */
/* Schema                                                                    */
/* ------------------------------------------------------------------------ */

static void f_prim(sd_type *parent, const char *name, sd_type_kind kind) {
    sd_type_add_field(parent, name, kind, true);
}

static void f_map(sd_type *parent, const char *name) {
    sd_field *f = sd_type_add_field(parent, name, SD_MAP, true);
    sd_type_add_field(&f->type, "key", SD_STRING, false);
    sd_type_add_field(&f->type, "value", SD_STRING, true);
}

static void f_list(sd_type *parent, const char *name) {
    sd_field *f = sd_type_add_field(parent, name, SD_LIST, true);
    sd_type_add_field(&f->type, "element", SD_STRING, true);
}

static void f_dv(sd_type *parent) {
    sd_field *f = sd_type_add_field(parent, "deletionVector", SD_STRUCT, true);
    f_prim(&f->type, "storageType", SD_STRING);
    f_prim(&f->type, "pathOrInlineDv", SD_STRING);
    f_prim(&f->type, "offset", SD_INT32);
    f_prim(&f->type, "sizeInBytes", SD_INT32);
    f_prim(&f->type, "cardinality", SD_INT64);
}

static sd_schema *checkpoint_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_field *f = sd_type_add_field(s, "txn", SD_STRUCT, true);
    f_prim(&f->type, "appId", SD_STRING);
    f_prim(&f->type, "version", SD_INT64);
    f_prim(&f->type, "lastUpdated", SD_INT64);

    f = sd_type_add_field(s, "add", SD_STRUCT, true);
    f_prim(&f->type, "path", SD_STRING);
    f_map(&f->type, "partitionValues");
    f_prim(&f->type, "size", SD_INT64);
    f_prim(&f->type, "modificationTime", SD_INT64);
    f_prim(&f->type, "dataChange", SD_BOOL);
    f_map(&f->type, "tags");
    f_dv(&f->type);
    f_prim(&f->type, "baseRowId", SD_INT64);
    f_prim(&f->type, "defaultRowCommitVersion", SD_INT64);
    f_prim(&f->type, "clusteringProvider", SD_STRING);
    f_prim(&f->type, "stats", SD_STRING);

    f = sd_type_add_field(s, "remove", SD_STRUCT, true);
    f_prim(&f->type, "path", SD_STRING);
    f_prim(&f->type, "deletionTimestamp", SD_INT64);
    f_prim(&f->type, "dataChange", SD_BOOL);
    f_prim(&f->type, "extendedFileMetadata", SD_BOOL);
    f_map(&f->type, "partitionValues");
    f_prim(&f->type, "size", SD_INT64);
    f_map(&f->type, "tags");
    f_dv(&f->type);
    f_prim(&f->type, "baseRowId", SD_INT64);
    f_prim(&f->type, "defaultRowCommitVersion", SD_INT64);

    f = sd_type_add_field(s, "metaData", SD_STRUCT, true);
    f_prim(&f->type, "id", SD_STRING);
    f_prim(&f->type, "name", SD_STRING);
    f_prim(&f->type, "description", SD_STRING);
    sd_field *fmt = sd_type_add_field(&f->type, "format", SD_STRUCT, true);
    f_prim(&fmt->type, "provider", SD_STRING);
    f_map(&fmt->type, "options");
    f_prim(&f->type, "schemaString", SD_STRING);
    f_list(&f->type, "partitionColumns");
    f_map(&f->type, "configuration");
    f_prim(&f->type, "createdTime", SD_INT64);

    f = sd_type_add_field(s, "protocol", SD_STRUCT, true);
    f_prim(&f->type, "minReaderVersion", SD_INT32);
    f_prim(&f->type, "minWriterVersion", SD_INT32);
    f_list(&f->type, "readerFeatures");
    f_list(&f->type, "writerFeatures");

    f = sd_type_add_field(s, "domainMetadata", SD_STRUCT, true);
    f_prim(&f->type, "domain", SD_STRING);
    f_prim(&f->type, "configuration", SD_STRING);
    f_prim(&f->type, "removed", SD_BOOL);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Appending values                                                          */
/* ------------------------------------------------------------------------ */

static void put_str(sd_column *c, const char *s) {
    if (s == NULL)
        sd_column_append_null(c);
    else
        sd_column_append_bytes(c, s, strlen(s));
}

/* Negative means absent for the optional fields that use -1. */
static void put_opt_i64(sd_column *c, int64_t v) {
    if (v < 0)
        sd_column_append_null(c);
    else
        sd_column_append_i64(c, v);
}

static void put_map(sd_column *c, const delta_map *m, bool null_when_empty) {
    if (m->count == 0 && null_when_empty) {
        sd_column_append_null(c);
        return;
    }
    for (size_t i = 0; i < m->count; i++) {
        put_str(&c->children[0], m->items[i].key);
        put_str(&c->children[1], m->items[i].value);
    }
    sd_column_append_list(c, m->count);
}

static void put_list(sd_column *c, size_t n, const char *const *items) {
    for (size_t i = 0; i < n; i++) put_str(&c->children[0], items[i]);
    sd_column_append_list(c, n);
}

static void put_dv(sd_column *c, bool has, const delta_dv_descriptor *dv) {
    if (!has) {
        sd_column_append_null(c);
        return;
    }
    char st[2] = {dv->storage_type, 0};
    put_str(&c->children[0], st);
    put_str(&c->children[1], dv->path_or_inline_dv);
    if (dv->offset < 0)
        sd_column_append_null(&c->children[2]);
    else
        sd_column_append_i32(&c->children[2], dv->offset);
    sd_column_append_i32(&c->children[3], dv->size_in_bytes);
    sd_column_append_i64(&c->children[4], dv->cardinality);
    sd_column_append_struct(c);
}

/* Start a row: the chosen column gets a struct row (children filled by the
 * caller), every other column a null. */
static sd_column *begin_row(sd_batch *b, int which) {
    for (int i = 0; i < CP_NCOLS; i++)
        if (i != which) sd_column_append_null(&b->cols[i]);
    b->nrows++;
    return &b->cols[which];
}

static void row_add(sd_batch *b, const delta_add *a) {
    sd_column *c = begin_row(b, CP_ADD);
    sd_column *k = c->children;
    put_str(&k[0], a->path);
    put_map(&k[1], &a->partition_values, false);
    sd_column_append_i64(&k[2], a->size);
    sd_column_append_i64(&k[3], a->modification_time);
    sd_column_append_bool(&k[4], false); /* checkpoints carry no data change */
    put_map(&k[5], &a->tags, true);
    put_dv(&k[6], a->has_dv, &a->dv);
    put_opt_i64(&k[7], a->base_row_id);
    put_opt_i64(&k[8], a->default_row_commit_version);
    put_str(&k[9], a->clustering_provider);
    put_str(&k[10], a->stats);
    sd_column_append_struct(c);
}

static void row_remove(sd_batch *b, const delta_remove *r) {
    sd_column *c = begin_row(b, CP_REMOVE);
    sd_column *k = c->children;
    put_str(&k[0], r->path);
    put_opt_i64(&k[1], r->deletion_timestamp);
    sd_column_append_bool(&k[2], false);
    sd_column_append_bool(&k[3], r->extended_file_metadata);
    put_map(&k[4], &r->partition_values, !r->extended_file_metadata);
    put_opt_i64(&k[5], r->size);
    put_map(&k[6], &r->tags, true);
    put_dv(&k[7], r->has_dv, &r->dv);
    put_opt_i64(&k[8], r->base_row_id);
    put_opt_i64(&k[9], r->default_row_commit_version);
    sd_column_append_struct(c);
}

static void row_metadata(sd_batch *b, const delta_metadata *m) {
    sd_column *c = begin_row(b, CP_METADATA);
    sd_column *k = c->children;
    put_str(&k[0], m->id);
    put_str(&k[1], m->name);
    put_str(&k[2], m->description);
    put_str(&k[3].children[0], m->format_provider ? m->format_provider : "parquet");
    delta_map none = {0, NULL};
    put_map(&k[3].children[1], &none, false);
    sd_column_append_struct(&k[3]);
    put_str(&k[4], m->schema_string);
    put_list(&k[5], m->npartition_columns, m->partition_columns);
    put_map(&k[6], &m->configuration, false);
    put_opt_i64(&k[7], m->created_time);
    sd_column_append_struct(c);
}

static void row_protocol(sd_batch *b, const delta_protocol *p) {
    sd_column *c = begin_row(b, CP_PROTOCOL);
    sd_column *k = c->children;
    sd_column_append_i32(&k[0], p->min_reader_version);
    sd_column_append_i32(&k[1], p->min_writer_version);
    /* Feature lists exist only from reader 3 / writer 7 on. */
    if (p->min_reader_version >= 3)
        put_list(&k[2], p->nreader_features, p->reader_features);
    else
        sd_column_append_null(&k[2]);
    if (p->min_writer_version >= 7)
        put_list(&k[3], p->nwriter_features, p->writer_features);
    else
        sd_column_append_null(&k[3]);
    sd_column_append_struct(c);
}

static void row_txn(sd_batch *b, const delta_txn *t) {
    sd_column *c = begin_row(b, CP_TXN);
    put_str(&c->children[0], t->app_id);
    sd_column_append_i64(&c->children[1], t->version);
    put_opt_i64(&c->children[2], t->last_updated);
    sd_column_append_struct(c);
}

static void row_domain(sd_batch *b, const delta_domain_metadata *d) {
    sd_column *c = begin_row(b, CP_DOMAIN);
    put_str(&c->children[0], d->domain);
    put_str(&c->children[1], d->configuration ? d->configuration : "");
    sd_column_append_bool(&c->children[2], d->removed);
    sd_column_append_struct(c);
}

/* ------------------------------------------------------------------------ */
/* Retention                                                                 */
/* ------------------------------------------------------------------------ */

int64_t delta_parse_interval_ms(const char *s) {
    while (*s == ' ') s++;
    if (strncasecmp(s, "interval", 8) == 0) s += 8;
    char *end;
    long long n = strtoll(s, &end, 10);
    if (end == s || n < 0) return -1;
    while (*end == ' ') end++;
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"millisecond", 1}, {"second", 1000},  {"minute", 60000},
                 {"hour", 3600000},  {"day", 86400000}, {"week", 604800000}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t ul = strlen(units[i].unit);
        if (strncasecmp(end, units[i].unit, ul) == 0 &&
            (end[ul] == '\0' || ((end[ul] == 's' || end[ul] == 'S') && end[ul + 1] == '\0')))
            return n > INT64_MAX / units[i].ms ? -1 : n * units[i].ms;
    }
    return -1;
}

int delta_snapshot_checkpoint_interval(const delta_snapshot *s) {
    const char *v = delta_snapshot_property(s, "delta.checkpointInterval", "10");
    char *end;
    long n = strtol(v, &end, 10);
    return *end == '\0' && n > 0 && n <= 1000000 ? (int)n : 10;
}

int64_t delta_tombstone_retention_ms(const delta_snapshot *s) {
    const char *v = delta_snapshot_property(s, "delta.deletedFileRetentionDuration", NULL);
    int64_t ms = v ? delta_parse_interval_ms(v) : -1;
    return ms >= 0 ? ms : DELTA_DEFAULT_TOMBSTONE_RETENTION_MS;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */
/* ------------------------------------------------------------------------ */

static sd_status write_last_checkpoint(const char *log_dir, int64_t version, size_t rows,
                                       int64_t bytes, size_t nadds, sd_error *err) {
    char *tmp = sd_xasprintf("%s/._last_checkpoint.%d.tmp", log_dir, (int)getpid());
    char *final = sd_xasprintf("%s/_last_checkpoint", log_dir);
    sd_buf b = SD_BUF_INIT;
    sd_buf_appendf(&b, "{\"version\":%lld,\"size\":%zu,\"sizeInBytes\":%lld,\"numOfAddFiles\":%zu}",
                   (long long)version, rows, (long long)bytes, nadds);
    sd_status st = SD_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len || fsync(fd) != 0)
        st = sd_error_set(err, SD_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (fd >= 0) close(fd);
    if (st == SD_OK && rename(tmp, final) != 0)
        st = sd_error_set(err, SD_ERR_IO, "%s: rename: %s", final, strerror(errno));
    if (st != SD_OK) unlink(tmp);
    sd_buf_free(&b);
    free(tmp);
    free(final);
    return st;
}

sd_status delta_checkpoint_write(const delta_snapshot *s, sd_error *err) {
    sd_schema *schema = checkpoint_schema();
    sd_batch b;
    sd_batch_init(&b, schema);
    row_protocol(&b, &s->protocol);
    row_metadata(&b, &s->metadata);
    for (size_t i = 0; i < s->ntxns; i++) row_txn(&b, &s->txns[i]);
    for (size_t i = 0; i < s->ndomains; i++) row_domain(&b, &s->domains[i]);
    int64_t horizon = sd_now_ms() - delta_tombstone_retention_ms(s);
    for (size_t i = 0; i < s->ntombstones; i++)
        if (s->tombstones[i].deletion_timestamp < 0 ||
            s->tombstones[i].deletion_timestamp > horizon)
            row_remove(&b, &s->tombstones[i]);
    for (size_t i = 0; i < s->nfiles; i++) row_add(&b, s->files[i].add);

    char *log_dir = sd_xasprintf("%s/_delta_log", s->table_path);
    char *final = sd_xasprintf("%s/%020lld.checkpoint.parquet", log_dir, (long long)s->version);
    char *tmp = sd_xasprintf("%s/.%020lld.checkpoint.%d.parquet.tmp", log_dir,
                             (long long)s->version, (int)getpid());
    pq_writer_options opts;
    pq_writer_options_init(&opts);
    pq_file_summary sum;
    memset(&sum, 0, sizeof(sum));
    sd_status st = pq_write_file(tmp, &b, &opts, &sum, err);
    if (st == SD_OK && rename(tmp, final) != 0)
        st = sd_error_set(err, SD_ERR_IO, "%s: rename: %s", final, strerror(errno));
    if (st == SD_OK)
        st = write_last_checkpoint(log_dir, s->version, b.nrows, sum.file_size, s->nfiles, err);
    if (st != SD_OK) {
        unlink(tmp);
        sd_error_prefix(err, "checkpoint of %s at version %lld: ", s->table_path,
                        (long long)s->version);
    }
    pq_file_summary_free(&sum);
    free(tmp);
    free(final);
    free(log_dir);
    sd_batch_free(&b);
    sd_schema_free(schema);
    return st;
}
