/*
 * delta_gen.c - writes Delta tables for the end-to-end tests
 * (tests/e2e/test_delta_tables.py, and the engine checks of
 * test_delta_engines.py) with streamdelta's own Parquet writer and Delta
 * transactions, and prints what it wrote so that the tests can compute
 * their expectations without reading the table through our reader.
 *
 *   delta_gen write TABLE [--commits N] [--rows R] [--partitioned] [--removes]
 *                         [--txn] [--checkpoint-interval K] [--seed S]
 *       Creates TABLE (columns id BIGINT, name STRING, score DOUBLE,
 *       amount DECIMAL(10,2), ok BOOLEAN, day DATE; partitioned by day with
 *       --partitioned, some null partitions), then N commits. Commit i adds
 *       one or two files of R rows each (ids unique over the whole table);
 *       with --removes every third commit also removes one live file; with
 *       --txn every commit records txn(appId "delta_gen", version i); every
 *       version that is a multiple of K gets a checkpoint.
 *   delta_gen append TABLE --commits N --tag T [--rows R]
 *       Creates TABLE (tag STRING, seq BIGINT, value BIGINT) if absent, then
 *       N blind appends of one file each (rows tag=T, seq=i), retrying lost
 *       races: the two-writer test runs two of these at once.
 *   delta_gen conflict TABLE
 *       Creates TABLE with one file, then stages three transactions against
 *       the same snapshot: two remove that file, one appends. Commits them in
 *       that order; the second must fail with a conflict and the append must
 *       retry and succeed.
 *   delta_gen dv TABLE [--commits N] [--rows R] [--partitioned]
 *                      [--checkpoint-interval K] [--seed S]
 *       Creates TABLE as `write` does, with delta.enableDeletionVectors=true,
 *       then N commits: odd ones add two files of R rows, even ones mark
 *       random rows of one or two live files deleted with deletion vectors
 *       (a file hit twice gets the union); every fourth also removes a
 *       whole live file.
 *
 * Output: one JSON object per line. write/append print per commit
 *   {"version":V,"add":[{"path":P,"rows":R,"first_id":I,"day":D|null}],
 *    "remove":[P],"checkpoint":bool}
 * (paths as logged); dv adds "delete":[{"path":P,"rows":[physical row
 * indexes newly deleted]}]; conflict prints one line per transaction:
 *   {"txn":NAME,"status":"ok"|"conflict"|"error","version":V,"error":MSG}
 * Values of row `id` are functions of id and the seed (see gen_row), so a
 * test can recompute every row from the printed first ids and row counts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "delta/delta.h"
#include "parquet/parquet.h"

#define GEN_APP_ID "delta_gen"
/* Enough for two writers that each lose many races in a row. */
#define GEN_MAX_RETRIES 10000

typedef struct gen_opts {
    const char *table;
    int commits;
    int rows;
    bool partitioned;
    bool removes;
    bool txn;
    int checkpoint_interval;
    uint64_t seed;
    const char *tag;
} gen_opts;

static int gen_fail(const char *what, const sd_error *err) {
    fprintf(stderr, "delta_gen: %s: %s\n", what, err->msg);
    return 1;
}

/* xorshift64*: small, seedable, identical everywhere. */
static uint64_t gen_rand(uint64_t *state) {
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* mkdir -p of the directory part of `path`. */
static int gen_mkdirs(const char *path) {
    char *p = sd_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "delta_gen: mkdir %s: %s\n", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = '/';
    }
    free(p);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The `write` table                                                         */
/* ------------------------------------------------------------------------ */

static sd_schema *gen_write_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "id", SD_INT64, false);
    sd_type_add_field(s, "name", SD_STRING, true);
    sd_type_add_field(s, "score", SD_DOUBLE, true);
    sd_field *amount = sd_type_add_field(s, "amount", SD_DECIMAL, true);
    amount->type.precision = 10;
    amount->type.scale = 2;
    sd_type_add_field(s, "ok", SD_BOOL, true);
    sd_type_add_field(s, "day", SD_DATE, true);
    return s;
}

/* Day (days since epoch) of file number `file`, or -1 for a null partition
 * (every fifth file). 2024-01-01 is day 19723. */
static int32_t gen_day(int file) {
    return file % 5 == 4 ? -1 : 19723 + file % 4;
}

/* Row `id` of a file of day `day` into the batch (columns as the data file
 * holds them: without `day` when partitioned). Values: name "n<id>" (null
 * when id % 7 == 3), score id * 0.5 (null when id % 11 == 5), amount
 * id * 1.25 exactly, ok = id % 2 == 0, day as the partition. */
static void gen_row(sd_batch *b, int64_t id, int32_t day, bool with_day) {
    sd_column_append_i64(&b->cols[0], id);
    if (id % 7 == 3) {
        sd_column_append_null(&b->cols[1]);
    } else {
        char name[32];
        int n = snprintf(name, sizeof(name), "n%lld", (long long)id);
        sd_column_append_bytes(&b->cols[1], name, (size_t)n);
    }
    if (id % 11 == 5)
        sd_column_append_null(&b->cols[2]);
    else
        sd_column_append_double(&b->cols[2], (double)id * 0.5);
    sd_column_append_decimal(&b->cols[3], (__int128)id * 125);
    sd_column_append_bool(&b->cols[4], id % 2 == 0);
    if (with_day) {
        if (day < 0)
            sd_column_append_null(&b->cols[5]);
        else
            sd_column_append_i32(&b->cols[5], day);
    }
    b->nrows++;
}

/* Write one data file of `rows` rows from `first_id` and stage its add.
 * Prints the add's JSON fragment to `log`. */
static sd_status gen_write_file(const char *table, const sd_schema *file_schema, bool partitioned,
                                int file_no, int64_t first_id, int rows, delta_transaction *t,
                                sd_buf *log, sd_error *err) {
    int32_t day = gen_day(file_no);
    sd_batch b;
    sd_batch_init(&b, file_schema);
    for (int r = 0; r < rows; r++) gen_row(&b, first_id + r, day, !partitioned);

    sd_buf rel = SD_BUF_INIT, full = SD_BUF_INIT, logged = SD_BUF_INIT, pv = SD_BUF_INIT;
    sd_value v = {.kind = SD_DATE, .is_null = day < 0};
    v.u.i = day;
    const char *cols[] = {"day"};
    if (partitioned) delta_partition_dir(cols, &v, 1, &rel);
    sd_buf_appendf(&rel, "part-%05d-%016llx.snappy.parquet", file_no,
                   (unsigned long long)(first_id * 2654435761u));
    sd_buf_appendf(&full, "%s/%s", table, sd_buf_cstr(&rel));
    sd_status st = gen_mkdirs(sd_buf_cstr(&full)) == 0
                       ? SD_OK
                       : sd_error_set(err, SD_ERR_IO, "cannot create %s", sd_buf_cstr(&full));
    pq_writer_options o;
    pq_writer_options_init(&o);
    pq_file_summary sum = {0};
    if (st == SD_OK) st = pq_write_file(sd_buf_cstr(&full), &b, &o, &sum, err);
    if (st == SD_OK) {
        delta_path_encode(sd_buf_cstr(&rel), &logged);
        delta_kv kv = {"day", NULL};
        if (day >= 0) {
            delta_partition_value_format(&v, &pv);
            kv.value = sd_buf_cstr(&pv);
        }
        delta_map pvs = {partitioned ? 1 : 0, &kv};
        delta_transaction_add_written(t, sd_buf_cstr(&logged), &pvs, &sum, true);
        sd_buf_appendf(log, "%s{\"path\":", log->len ? "," : "");
        sd_json_append_string(log, (const char *)logged.data, logged.len);
        sd_buf_appendf(log, ",\"rows\":%d,\"first_id\":%lld,\"day\":", rows, (long long)first_id);
        if (day < 0)
            sd_buf_append_str(log, "null");
        else {
            sd_buf d = SD_BUF_INIT;
            sd_format_date(day, &d);
            sd_buf_appendf(log, "\"%s\"", sd_buf_cstr(&d));
            sd_buf_free(&d);
        }
        sd_buf_append_str(log, "}");
        pq_file_summary_free(&sum);
    }
    sd_batch_free(&b);
    sd_buf_free(&rel);
    sd_buf_free(&full);
    sd_buf_free(&logged);
    sd_buf_free(&pv);
    return st;
}

/* Checkpoint version `v` when it is a multiple of the interval. */
static sd_status gen_maybe_checkpoint(const char *table, int64_t v, int interval, bool *done,
                                      sd_error *err) {
    *done = false;
    if (interval <= 0 || v % interval != 0) return SD_OK;
    delta_snapshot *s;
    if (delta_snapshot_load(table, v, &s, err) != SD_OK) return err->code;
    sd_status st = delta_checkpoint_write(s, err);
    delta_snapshot_free(s);
    *done = st == SD_OK;
    return st;
}

/* Print the commit line. */
static void gen_print_commit(int64_t v, const sd_buf *adds, const sd_buf *removes, bool cp) {
    printf("{\"version\":%lld,\"add\":[%.*s],\"remove\":[%.*s],\"checkpoint\":%s}\n", (long long)v,
           (int)adds->len, adds->data ? (const char *)adds->data : "", (int)removes->len,
           removes->data ? (const char *)removes->data : "", cp ? "true" : "false");
    fflush(stdout);
}

static int gen_cmd_write(const gen_opts *o) {
    sd_error err = {0};
    sd_schema *schema = gen_write_schema();
    char cp_interval[32];
    snprintf(cp_interval, sizeof(cp_interval), "%d",
             o->checkpoint_interval > 0 ? o->checkpoint_interval : 1000000);
    delta_kv conf_kv = {"delta.checkpointInterval", cp_interval};
    delta_map conf = {1, &conf_kv};
    const char *parts[] = {"day"};
    if (delta_table_create(o->table, schema, parts, o->partitioned ? 1 : 0, &conf, &err) != SD_OK) {
        sd_schema_free(schema);
        return gen_fail(o->table, &err);
    }
    printf("{\"version\":0,\"add\":[],\"remove\":[],\"checkpoint\":false}\n");
    /* Data files of a partitioned table do not hold the partition column. */
    sd_schema *file_schema = gen_write_schema();
    if (o->partitioned) {
        sd_field *last = &file_schema->children[file_schema->nchildren - 1];
        free(last->name);
        sd_type_clear(&last->type);
        file_schema->nchildren--;
    }
    uint64_t rng = o->seed;
    int64_t next_id = 1;
    int file_no = 0;
    int rc = 0;
    delta_snapshot *snap = NULL;
    for (int i = 1; i <= o->commits && rc == 0; i++) {
        if (delta_snapshot_load(o->table, -1, &snap, &err) != SD_OK) {
            rc = gen_fail("load", &err);
            break;
        }
        delta_transaction *t = delta_transaction_begin(snap, "WRITE");
        sd_buf adds = SD_BUF_INIT, removes = SD_BUF_INIT;
        int nfiles = 1 + (int)(gen_rand(&rng) % 2);
        for (int f = 0; f < nfiles && rc == 0; f++) {
            if (gen_write_file(o->table, file_schema, o->partitioned, file_no++, next_id, o->rows,
                               t, &adds, &err) != SD_OK)
                rc = gen_fail("write data file", &err);
            next_id += o->rows;
        }
        size_t live = delta_snapshot_num_files(snap);
        if (rc == 0 && o->removes && i % 3 == 0 && live > 0) {
            const delta_file *victim = delta_snapshot_file(snap, gen_rand(&rng) % live);
            delta_transaction_remove(t, victim, true);
            sd_json_append_string(&removes, victim->add->path, strlen(victim->add->path));
        }
        if (rc == 0 && o->txn) delta_transaction_set_app_version(t, GEN_APP_ID, i);
        int64_t v = -1;
        bool cp = false;
        if (rc == 0 && delta_transaction_commit(t, 0, &v, &err) != SD_OK)
            rc = gen_fail("commit", &err);
        if (rc == 0 && gen_maybe_checkpoint(o->table, v, o->checkpoint_interval, &cp, &err))
            rc = gen_fail("checkpoint", &err);
        if (rc == 0) gen_print_commit(v, &adds, &removes, cp);
        delta_transaction_free(t);
        delta_snapshot_free(snap);
        snap = NULL;
        sd_buf_free(&adds);
        sd_buf_free(&removes);
    }
    sd_schema_free(file_schema);
    sd_schema_free(schema);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* append (two writers racing)                                               */
/* ------------------------------------------------------------------------ */

static sd_schema *gen_append_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "tag", SD_STRING, false);
    sd_type_add_field(s, "seq", SD_INT64, false);
    sd_type_add_field(s, "value", SD_INT64, false);
    return s;
}

/* Create the append table unless it exists (the other writer may win). */
static sd_status gen_append_create(const char *table, const sd_schema *schema, sd_error *err) {
    delta_map conf = {0};
    if (delta_table_create(table, schema, NULL, 0, &conf, err) == SD_OK) return SD_OK;
    if (err->code != SD_ERR_EXISTS) return err->code;
    sd_error_clear(err);
    return SD_OK;
}

static int gen_cmd_append(const gen_opts *o) {
    sd_error err = {0};
    sd_schema *schema = gen_append_schema();
    int rc = 0;
    if (gen_append_create(o->table, schema, &err) != SD_OK) rc = gen_fail(o->table, &err);
    for (int i = 1; i <= o->commits && rc == 0; i++) {
        sd_batch b;
        sd_batch_init(&b, schema);
        for (int r = 0; r < o->rows; r++) {
            sd_column_append_bytes(&b.cols[0], o->tag, strlen(o->tag));
            sd_column_append_i64(&b.cols[1], i);
            sd_column_append_i64(&b.cols[2], (int64_t)i * 1000 + r);
            b.nrows++;
        }
        sd_buf rel = SD_BUF_INIT, full = SD_BUF_INIT, logged = SD_BUF_INIT;
        sd_buf_appendf(&rel, "part-%s-%05d.snappy.parquet", o->tag, i);
        sd_buf_appendf(&full, "%s/%s", o->table, sd_buf_cstr(&rel));
        pq_writer_options wo;
        pq_writer_options_init(&wo);
        pq_file_summary sum = {0};
        delta_snapshot *snap = NULL;
        int64_t v = -1;
        if (pq_write_file(sd_buf_cstr(&full), &b, &wo, &sum, &err) != SD_OK)
            rc = gen_fail("write data file", &err);
        else if (delta_snapshot_load(o->table, -1, &snap, &err) != SD_OK)
            rc = gen_fail("load", &err);
        if (rc == 0) {
            delta_path_encode(sd_buf_cstr(&rel), &logged);
            delta_transaction *t = delta_transaction_begin(snap, "WRITE");
            delta_transaction_add_written(t, sd_buf_cstr(&logged), NULL, &sum, true);
            if (delta_transaction_commit(t, GEN_MAX_RETRIES, &v, &err) != SD_OK)
                rc = gen_fail("commit", &err);
            delta_transaction_free(t);
        }
        bool cp = false;
        if (rc == 0 && v % 10 == 0 && gen_maybe_checkpoint(o->table, v, 10, &cp, &err) != SD_OK)
            rc = gen_fail("checkpoint", &err);
        if (rc == 0) {
            printf("{\"version\":%lld,\"add\":[{\"path\":", (long long)v);
            sd_buf_reset(&full);
            sd_json_append_string(&full, (const char *)logged.data, logged.len);
            printf("%s,\"rows\":%d,\"tag\":\"%s\",\"seq\":%d}],\"remove\":[],\"checkpoint\":%s}\n",
                   sd_buf_cstr(&full), o->rows, o->tag, i, cp ? "true" : "false");
            fflush(stdout);
        }
        if (snap) delta_snapshot_free(snap);
        pq_file_summary_free(&sum);
        sd_batch_free(&b);
        sd_buf_free(&rel);
        sd_buf_free(&full);
        sd_buf_free(&logged);
    }
    sd_schema_free(schema);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* conflict                                                                  */
/* ------------------------------------------------------------------------ */

static void gen_print_outcome(const char *name, sd_status st, int64_t v, const sd_error *err) {
    sd_buf line = SD_BUF_INIT;
    sd_buf_appendf(&line, "{\"txn\":\"%s\",\"status\":\"%s\"", name,
                   st == SD_OK             ? "ok"
                   : st == SD_ERR_CONFLICT ? "conflict"
                                           : "error");
    if (st == SD_OK)
        sd_buf_appendf(&line, ",\"version\":%lld", (long long)v);
    else {
        sd_buf_append_str(&line, ",\"error\":");
        sd_json_append_string(&line, err->msg, strlen(err->msg));
    }
    printf("%s}\n", sd_buf_cstr(&line));
    sd_buf_free(&line);
}

static int gen_cmd_conflict(const gen_opts *o) {
    gen_opts w = *o;
    w.commits = 1;
    w.partitioned = false;
    w.removes = false;
    w.txn = false;
    w.checkpoint_interval = 0;
    /* One file in version 1 (the write lines go to stdout too). */
    if (gen_cmd_write(&w) != 0) return 1;
    sd_error err = {0};
    delta_snapshot *s;
    if (delta_snapshot_load(o->table, -1, &s, &err) != SD_OK) return gen_fail("load", &err);
    if (delta_snapshot_num_files(s) == 0) {
        delta_snapshot_free(s);
        fprintf(stderr, "delta_gen: %s has no file to remove\n", o->table);
        return 1;
    }
    const delta_file *victim = delta_snapshot_file(s, 0);
    delta_transaction *first = delta_transaction_begin(s, "DELETE");
    delta_transaction_remove(first, victim, true);
    delta_transaction *second = delta_transaction_begin(s, "DELETE");
    delta_transaction_remove(second, victim, true);

    sd_schema *file_schema = gen_write_schema();
    delta_transaction *append = delta_transaction_begin(s, "WRITE");
    sd_buf adds = SD_BUF_INIT;
    int rc = 0;
    if (gen_write_file(o->table, file_schema, false, 1000, 1000000, o->rows, append, &adds, &err) !=
        SD_OK)
        rc = gen_fail("write data file", &err);
    struct {
        const char *name;
        delta_transaction *t;
        int retries;
    } steps[] = {{"first-remove", first, 0}, {"second-remove", second, 10}, {"append", append, 10}};
    for (size_t i = 0; i < 3 && rc == 0; i++) {
        sd_error e = {0};
        int64_t v = -1;
        sd_status st = delta_transaction_commit(steps[i].t, steps[i].retries, &v, &e);
        gen_print_outcome(steps[i].name, st, v, &e);
    }
    delta_transaction_free(first);
    delta_transaction_free(second);
    delta_transaction_free(append);
    sd_buf_free(&adds);
    sd_schema_free(file_schema);
    delta_snapshot_free(s);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* dv (deletion vectors)                                                     */
/* ------------------------------------------------------------------------ */

/* Mark about a quarter of the rows of `file` deleted (random, some already
 * deleted ones among them) and log {"path":P,"rows":[newly deleted]}. */
static sd_status gen_dv_delete(const delta_snapshot *snap, const delta_file *file,
                               delta_transaction *t, uint64_t *rng, sd_buf *log, sd_error *err) {
    int64_t nrec = 0;
    const char *nr = file->add->stats ? strstr(file->add->stats, "\"numRecords\":") : NULL;
    if (nr != NULL) nrec = strtoll(nr + strlen("\"numRecords\":"), NULL, 10);
    if (nrec <= 0) return sd_error_set(err, SD_ERR_ARG, "%s has no numRecords", file->add->path);
    size_t n = (size_t)(nrec / 4 + 1);
    uint64_t *rows = sd_xmalloc(n * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++) rows[i] = gen_rand(rng) % (uint64_t)nrec;
    /* Which are new: the file's current DV, read back as the reader does. */
    delta_rowset cur = {0};
    sd_status st = SD_OK;
    if (file->add->has_dv)
        st = delta_dv_load(delta_snapshot_table_path(snap), &file->add->dv, &cur, err);
    if (st == SD_OK) st = delta_transaction_delete_rows(t, snap, file, rows, n, NULL, NULL, err);
    if (st == SD_OK) {
        sd_buf_appendf(log, "%s{\"path\":", log->len ? "," : "");
        sd_json_append_string(log, file->add->path, strlen(file->add->path));
        sd_buf_append_str(log, ",\"rows\":[");
        bool first = true;
        for (size_t i = 0; i < n; i++) {
            bool dup = delta_rowset_contains(&cur, rows[i]);
            for (size_t k = 0; !dup && k < i; k++) dup = rows[k] == rows[i];
            if (dup) continue;
            sd_buf_appendf(log, "%s%llu", first ? "" : ",", (unsigned long long)rows[i]);
            first = false;
        }
        sd_buf_append_str(log, "]}");
    }
    delta_rowset_free(&cur);
    free(rows);
    return st;
}

static int gen_cmd_dv(const gen_opts *o) {
    sd_error err = {0};
    sd_schema *schema = gen_write_schema();
    char cp_interval[32];
    snprintf(cp_interval, sizeof(cp_interval), "%d",
             o->checkpoint_interval > 0 ? o->checkpoint_interval : 1000000);
    delta_kv conf_kv[2] = {{"delta.checkpointInterval", cp_interval},
                           {"delta.enableDeletionVectors", "true"}};
    delta_map conf = {2, conf_kv};
    const char *parts[] = {"day"};
    if (delta_table_create(o->table, schema, parts, o->partitioned ? 1 : 0, &conf, &err) != SD_OK) {
        sd_schema_free(schema);
        return gen_fail(o->table, &err);
    }
    printf("{\"version\":0,\"add\":[],\"remove\":[],\"delete\":[],\"checkpoint\":false}\n");
    sd_schema *file_schema = gen_write_schema();
    if (o->partitioned) {
        sd_field *last = &file_schema->children[file_schema->nchildren - 1];
        free(last->name);
        sd_type_clear(&last->type);
        file_schema->nchildren--;
    }
    uint64_t rng = o->seed;
    int64_t next_id = 1;
    int file_no = 0, rc = 0;
    for (int i = 1; i <= o->commits && rc == 0; i++) {
        delta_snapshot *snap = NULL;
        if (delta_snapshot_load(o->table, -1, &snap, &err) != SD_OK) {
            rc = gen_fail("load", &err);
            break;
        }
        size_t live = delta_snapshot_num_files(snap);
        bool deleting = i % 2 == 0 && live > 0;
        delta_transaction *t = delta_transaction_begin(snap, deleting ? "DELETE" : "WRITE");
        sd_buf adds = SD_BUF_INIT, removes = SD_BUF_INIT, dels = SD_BUF_INIT;
        if (!deleting) {
            for (int f = 0; f < 2 && rc == 0; f++) {
                if (gen_write_file(o->table, file_schema, o->partitioned, file_no++, next_id,
                                   o->rows, t, &adds, &err) != SD_OK)
                    rc = gen_fail("write data file", &err);
                next_id += o->rows;
            }
        } else {
            size_t a = gen_rand(&rng) % live, b = gen_rand(&rng) % live;
            if (gen_dv_delete(snap, delta_snapshot_file(snap, a), t, &rng, &dels, &err) != SD_OK)
                rc = gen_fail("delete rows", &err);
            if (rc == 0 && b != a &&
                gen_dv_delete(snap, delta_snapshot_file(snap, b), t, &rng, &dels, &err) != SD_OK)
                rc = gen_fail("delete rows", &err);
            /* A whole-file remove of a third file (with its DV, if any). */
            size_t c = gen_rand(&rng) % live;
            if (rc == 0 && i % 4 == 0 && c != a && c != b) {
                const delta_file *victim = delta_snapshot_file(snap, c);
                delta_transaction_remove(t, victim, true);
                sd_json_append_string(&removes, victim->add->path, strlen(victim->add->path));
            }
        }
        int64_t v = -1;
        bool cp = false;
        if (rc == 0 && delta_transaction_commit(t, 0, &v, &err) != SD_OK)
            rc = gen_fail("commit", &err);
        if (rc == 0 && gen_maybe_checkpoint(o->table, v, o->checkpoint_interval, &cp, &err))
            rc = gen_fail("checkpoint", &err);
        if (rc == 0) {
            printf("{\"version\":%lld,\"add\":[%s],\"remove\":[%s],\"delete\":[%s],"
                   "\"checkpoint\":%s}\n",
                   (long long)v, sd_buf_cstr(&adds), sd_buf_cstr(&removes), sd_buf_cstr(&dels),
                   cp ? "true" : "false");
            fflush(stdout);
        }
        delta_transaction_free(t);
        delta_snapshot_free(snap);
        sd_buf_free(&adds);
        sd_buf_free(&removes);
        sd_buf_free(&dels);
    }
    sd_schema_free(file_schema);
    sd_schema_free(schema);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

static int gen_usage(void) {
    fprintf(stderr,
            "usage: delta_gen write TABLE [--commits N] [--rows R] [--partitioned] [--removes]\n"
            "                             [--txn] [--checkpoint-interval K] [--seed S]\n"
            "       delta_gen append TABLE --commits N --tag T [--rows R]\n"
            "       delta_gen conflict TABLE\n"
            "       delta_gen dv TABLE [--commits N] [--rows R] [--partitioned]\n"
            "                          [--checkpoint-interval K] [--seed S]\n");
    return 2;
}

static bool gen_int_arg(int argc, char **argv, int *i, const char *name, long long *out) {
    if (strcmp(argv[*i], name) != 0) return false;
    if (*i + 1 >= argc) {
        *out = -1;
        return true;
    }
    char *end;
    *out = strtoll(argv[++*i], &end, 10);
    if (*end != '\0' || *out > INT32_MAX) *out = -1; /* counts fit an int */
    return true;
}

int main(int argc, char **argv) {
    if (argc < 3) return gen_usage();
    gen_opts o = {.table = argv[2],
                  .commits = 10,
                  .rows = 5,
                  .checkpoint_interval = 10,
                  .seed = 1,
                  .tag = "a"};
    for (int i = 3; i < argc; i++) {
        long long v;
        if (strcmp(argv[i], "--partitioned") == 0)
            o.partitioned = true;
        else if (strcmp(argv[i], "--removes") == 0)
            o.removes = true;
        else if (strcmp(argv[i], "--txn") == 0)
            o.txn = true;
        else if (strcmp(argv[i], "--tag") == 0 && i + 1 < argc)
            o.tag = argv[++i];
        else if (gen_int_arg(argc, argv, &i, "--commits", &v))
            o.commits = v >= 0 ? (int)v : -1;
        else if (gen_int_arg(argc, argv, &i, "--rows", &v))
            o.rows = v > 0 ? (int)v : -1;
        else if (gen_int_arg(argc, argv, &i, "--checkpoint-interval", &v))
            o.checkpoint_interval = v >= 0 ? (int)v : -1;
        else if (gen_int_arg(argc, argv, &i, "--seed", &v) && v >= 0)
            o.seed = (uint64_t)v + 1; /* xorshift needs a non-zero state */
        else
            return gen_usage();
    }
    if (o.commits < 0 || o.rows < 0 || o.checkpoint_interval < 0) return gen_usage();
    if (strcmp(argv[1], "write") == 0) return gen_cmd_write(&o);
    if (strcmp(argv[1], "append") == 0) return gen_cmd_append(&o);
    if (strcmp(argv[1], "conflict") == 0) return gen_cmd_conflict(&o);
    if (strcmp(argv[1], "dv") == 0) return gen_cmd_dv(&o);
    return gen_usage();
}
