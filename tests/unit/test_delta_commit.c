/*
 * test_delta_commit.c - create-table and optimistic transactions: commits
 * land as the next version, lost races retry, and Delta's conflict rules
 * refuse what must be refused.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "delta/delta_internal.h"
#include "unit.h"

static sd_schema *ratings_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "event_id", SD_STRING, true);
    sd_type_add_field(s, "rating", SD_FLOAT, true);
    sd_type_add_field(s, "rating_date", SD_DATE, true);
    return s;
}

static char *new_table(const char *name, const char *cfg_key, const char *cfg_val) {
    char *path = sd_xasprintf("%s/%s", unit_tmpdir(), name);
    sd_schema *s = ratings_schema();
    const char *parts[1] = {"rating_date"};
    delta_kv kv = {cfg_key, cfg_val};
    delta_map cfg = {cfg_key ? 1 : 0, &kv};
    sd_error err = {0};
    CHECK_OK(delta_table_create(path, s, parts, 1, &cfg, &err), &err);
    sd_schema_free(s);
    return path;
}

static delta_snapshot *snap(const char *path) {
    sd_error err = {0};
    delta_snapshot *s = NULL;
    if (delta_snapshot_load(path, -1, &s, &err) != SD_OK)
        unit_fail(__FILE__, __LINE__, "load %s: %s", path, err.msg);
    return s;
}

static void stage_add(delta_transaction *t, const char *path, const char *date) {
    delta_kv kv = {"rating_date", date};
    delta_add a;
    memset(&a, 0, sizeof(a));
    a.path = path;
    a.partition_values.count = 1;
    a.partition_values.items = &kv;
    a.size = 100;
    a.modification_time = 1700000000000LL;
    a.data_change = true;
    a.stats = "{\"numRecords\":1}";
    a.base_row_id = -1;
    a.default_row_commit_version = -1;
    delta_transaction_add(t, &a);
}

/* Commit one add from the latest snapshot; returns the status. */
static sd_status append_one(const char *table, const char *file, const char *date, int retries,
                            int64_t *version, sd_error *err) {
    delta_snapshot *s = NULL;
    sd_status st = delta_snapshot_load(table, -1, &s, err);
    if (st != SD_OK) return st;
    delta_transaction *t = delta_transaction_begin(s, "WRITE");
    stage_add(t, file, date);
    st = delta_transaction_commit(t, retries, version, err);
    delta_transaction_free(t);
    delta_snapshot_free(s);
    return st;
}

TEST(delta_create_table) {
    char *path = new_table("create", "delta.checkpointInterval", "10");
    delta_snapshot *s = snap(path);
    if (s != NULL) {
        CHECK_INT(delta_snapshot_version(s), 0);
        CHECK_INT(delta_snapshot_protocol(s)->min_reader_version, 1);
        CHECK_INT(delta_snapshot_protocol(s)->min_writer_version, 2);
        sd_schema *want = ratings_schema();
        CHECK(sd_type_equal(delta_snapshot_schema(s), want));
        sd_schema_free(want);
        const delta_metadata *m = delta_snapshot_metadata(s);
        CHECK(m->npartition_columns == 1 && strcmp(m->partition_columns[0], "rating_date") == 0);
        CHECK_STR(delta_snapshot_property(s, "delta.checkpointInterval", ""), "10");
        CHECK(m->id != NULL && strlen(m->id) == 36);
        CHECK(m->created_time > 1700000000000LL);
        CHECK_INT(delta_snapshot_num_files(s), 0);
        delta_snapshot_free(s);
    }
    /* Creating again: refused, and the table is untouched. */
    sd_schema *sc = ratings_schema();
    sd_error err = {0};
    CHECK_INT(delta_table_create(path, sc, NULL, 0, NULL, &err), SD_ERR_EXISTS);
    const char *bad[1] = {"nope"};
    char *other = sd_xasprintf("%s/create2", unit_tmpdir());
    sd_error_clear(&err);
    CHECK_INT(delta_table_create(other, sc, bad, 1, NULL, &err), SD_ERR_ARG);
    /* timestamp_ntz needs the table feature. */
    sd_type_add_field(sc, "ts", SD_TIMESTAMP_NTZ, true);
    CHECK_OK(delta_table_create(other, sc, NULL, 0, NULL, &err), &err);
    s = snap(other);
    if (s != NULL) {
        const delta_protocol *p = delta_snapshot_protocol(s);
        CHECK(p->min_reader_version == 3 && p->min_writer_version == 7);
        CHECK(p->nreader_features == 1 && strcmp(p->reader_features[0], "timestampNtz") == 0);
        delta_snapshot_free(s);
    }
    sd_schema_free(sc);
    free(other);
    free(path);
}

TEST(delta_commit_appends_and_txn) {
    char *path = new_table("append", NULL, NULL);
    delta_snapshot *s = snap(path);
    if (s == NULL) return;
    delta_transaction *t = delta_transaction_begin(s, "STREAMING UPDATE");
    stage_add(t, "rating_date=2024-01-01/a.parquet", "2024-01-01");
    stage_add(t, "rating_date=2024-01-02/b.parquet", "2024-01-02");
    delta_transaction_set_app_version(t, "movie.ratings.v1-0", 41);
    delta_transaction_set_operation_parameters(t, "{\"outputMode\":\"Append\"}");
    sd_error err = {0};
    int64_t v = -1;
    CHECK_OK(delta_transaction_commit(t, 3, &v, &err), &err);
    CHECK_INT(v, 1);
    CHECK_INT(delta_transaction_commit(t, 3, &v, &err), SD_ERR_ARG);
    delta_transaction_free(t);
    delta_snapshot_free(s);

    s = snap(path);
    if (s == NULL) return;
    CHECK_INT(delta_snapshot_version(s), 1);
    CHECK_INT(delta_snapshot_num_files(s), 2);
    CHECK_INT(delta_snapshot_txn_version(s, "movie.ratings.v1-0"), 41);
    CHECK_INT(delta_snapshot_file(s, 1)->partition_values[0].u.i, 19724);
    /* The commitInfo is well formed and first. */
    char *c1 = sd_xasprintf("%s/_delta_log/00000000000000000001.json", path);
    sd_buf text = SD_BUF_INIT;
    CHECK_OK(delta_read_file(c1, 1 << 20, &text, &err), &err);
    CHECK(strncmp(sd_buf_cstr(&text), "{\"commitInfo\":{\"timestamp\":", 27) == 0);
    CHECK(strstr(sd_buf_cstr(&text), "\"operation\":\"STREAMING UPDATE\",\"operationParameters\":"
                                     "{\"outputMode\":\"Append\"},\"readVersion\":0") != NULL);
    CHECK(strstr(sd_buf_cstr(&text), "\"isBlindAppend\":true") != NULL);
    sd_buf_free(&text);
    free(c1);

    /* Remove one file (carrying its partition values), with a stale read. */
    t = delta_transaction_begin(s, "DELETE");
    delta_transaction_remove(t, delta_snapshot_file(s, 0), true);
    delta_transaction_read_whole_table(t);
    CHECK_OK(delta_transaction_commit(t, 3, &v, &err), &err);
    CHECK_INT(v, 2);
    delta_transaction_free(t);
    delta_snapshot_free(s);
    s = snap(path);
    if (s != NULL) {
        CHECK_INT(delta_snapshot_num_files(s), 1);
        CHECK_INT(delta_snapshot_num_tombstones(s), 1);
        const delta_remove *r = delta_snapshot_tombstone(s, 0);
        CHECK(r->extended_file_metadata && r->size == 100);
        CHECK_STR(delta_map_get(&r->partition_values, "rating_date", NULL), "2024-01-01");
        delta_snapshot_free(s);
    }
    free(path);
}

TEST(delta_commit_race_rules) {
    char *path = new_table("race", NULL, NULL);
    sd_error err = {0};
    int64_t v = -1;
    CHECK_OK(append_one(path, "rating_date=2024-01-01/a.parquet", "2024-01-01", 0, &v, &err), &err);
    CHECK_OK(append_one(path, "rating_date=2024-01-02/b.parquet", "2024-01-02", 0, &v, &err), &err);
    delta_snapshot *old = snap(path); /* version 2: a, b */
    if (old == NULL) return;

    /* A concurrent blind append: a blind append from the old snapshot
     * retries and lands after it. */
    CHECK_OK(append_one(path, "rating_date=2024-01-03/c.parquet", "2024-01-03", 0, &v, &err), &err);
    CHECK_INT(v, 3);
    delta_transaction *t = delta_transaction_begin(old, "WRITE");
    stage_add(t, "rating_date=2024-01-03/d.parquet", "2024-01-03");
    CHECK_OK(delta_transaction_commit(t, 2, &v, &err), &err);
    CHECK_INT(v, 4);
    delta_transaction_free(t);

    /* Without retries the lost race is a conflict. */
    t = delta_transaction_begin(old, "WRITE");
    stage_add(t, "rating_date=2024-01-03/e.parquet", "2024-01-03");
    CHECK_INT(delta_transaction_commit(t, 0, &v, &err), SD_ERR_CONFLICT);
    CHECK(strstr(err.msg, "gave up after 0 retries") != NULL);
    delta_transaction_free(t);

    /* A read of partition 2024-01-03 conflicts with those appends... */
    sd_value day;
    memset(&day, 0, sizeof(day));
    day.kind = SD_STRING;
    day.u.s.ptr = (const uint8_t *)"2024-01-03";
    day.u.s.len = 10;
    pq_predicate p = {"rating_date", PQ_EQ, day};
    t = delta_transaction_begin(old, "MERGE");
    delta_transaction_read_predicate(t, &p, 1);
    stage_add(t, "rating_date=2024-01-03/f.parquet", "2024-01-03");
    sd_error_clear(&err);
    CHECK_INT(delta_transaction_commit(t, 5, &v, &err), SD_ERR_CONFLICT);
    CHECK(strstr(err.msg, "concurrent commit 3 added data this transaction read: "
                          "rating_date=2024-01-03/c.parquet") != NULL);
    delta_transaction_free(t);
    /* ...but a read of 2024-01-01 does not. */
    day.u.s.ptr = (const uint8_t *)"2024-01-01";
    p.value = day;
    t = delta_transaction_begin(old, "MERGE");
    delta_transaction_read_predicate(t, &p, 1);
    delta_transaction_remove(t, delta_snapshot_file(old, 0), true);
    stage_add(t, "rating_date=2024-01-01/a2.parquet", "2024-01-01");
    sd_error_clear(&err);
    CHECK_OK(delta_transaction_commit(t, 5, &v, &err), &err);
    CHECK_INT(v, 5);
    delta_transaction_free(t);

    /* Delete-delete: a second remove of a.parquet from the old snapshot. */
    t = delta_transaction_begin(old, "OPTIMIZE");
    delta_transaction_remove(t, delta_snapshot_file(old, 0), false);
    sd_error_clear(&err);
    CHECK_INT(delta_transaction_commit(t, 5, &v, &err), SD_ERR_CONFLICT);
    CHECK(strstr(err.msg, "concurrent commit 5 deleted a file this transaction also deletes: "
                          "rating_date=2024-01-01/a.parquet") != NULL);
    delta_transaction_free(t);

    /* txn appId already advanced concurrently. */
    delta_snapshot *v5 = snap(path);
    if (v5 != NULL) {
        t = delta_transaction_begin(v5, "STREAMING UPDATE");
        delta_transaction_set_app_version(t, "topic-0", 1);
        CHECK_OK(delta_transaction_commit(t, 0, &v, &err), &err);
        delta_transaction_free(t);
        t = delta_transaction_begin(v5, "STREAMING UPDATE");
        delta_transaction_set_app_version(t, "topic-0", 2);
        sd_error_clear(&err);
        CHECK_INT(delta_transaction_commit(t, 5, &v, &err), SD_ERR_CONFLICT);
        CHECK(strstr(err.msg, "streaming progress of appId topic-0") != NULL);
        delta_transaction_free(t);
        delta_snapshot_free(v5);
    }

    /* A concurrent metadata change conflicts with everything. */
    delta_snapshot *v6 = snap(path);
    if (v6 != NULL) {
        char *c7 = sd_xasprintf("%s/_delta_log/00000000000000000007.json", path);
        FILE *f = fopen(c7, "w");
        if (f != NULL) {
            fputs("{\"metaData\":{\"id\":\"x\",\"schemaString\":\"{\\\"type\\\":\\\"struct\\\","
                  "\\\"fields\\\":[{\\\"name\\\":\\\"a\\\",\\\"type\\\":\\\"long\\\"}]}\","
                  "\"partitionColumns\":[],\"configuration\":{}}}\n",
                  f);
            fclose(f);
        }
        t = delta_transaction_begin(v6, "WRITE");
        stage_add(t, "rating_date=2024-01-09/z.parquet", "2024-01-09");
        sd_error_clear(&err);
        CHECK_INT(delta_transaction_commit(t, 5, &v, &err), SD_ERR_CONFLICT);
        CHECK(strstr(err.msg, "concurrent commit 7 changed the table metadata") != NULL);
        delta_transaction_free(t);
        free(c7);
        delta_snapshot_free(v6);
    }
    delta_snapshot_free(old);
    free(path);
}

/* A judge that lets through winner actions whose path does not contain
 * `*opaque`, and counts what it was shown. */
typedef struct judge_probe {
    const char *conflicting;
    int shown;
} judge_probe;

static sd_status judge_by_name(void *opaque, const delta_action *winner, int64_t version,
                               bool *conflicts, sd_error *err) {
    (void)version;
    (void)err;
    judge_probe *j = opaque;
    j->shown++;
    const char *path =
        winner->kind == DELTA_ACTION_ADD ? winner->u.add.path : winner->u.remove.path;
    *conflicts = strstr(path, j->conflicting) != NULL;
    return SD_OK;
}

/* The conflict judge refines what a read predicate covers; it never
 * relaxes a delete-delete conflict. */
TEST(delta_commit_conflict_judge) {
    char *path = new_table("judge", NULL, NULL);
    sd_error err = {0};
    int64_t v = -1;
    CHECK_OK(append_one(path, "rating_date=2024-01-01/a.parquet", "2024-01-01", 0, &v, &err), &err);
    delta_snapshot *old = snap(path); /* version 1: a */
    if (old == NULL) return;
    CHECK_OK(append_one(path, "rating_date=2024-01-01/b.parquet", "2024-01-01", 0, &v, &err), &err);
    pq_predicate p;
    memset(&p, 0, sizeof(p));
    p.path = "rating_date";
    p.op = PQ_EQ;
    p.value.kind = SD_STRING;
    p.value.u.s.ptr = (const uint8_t *)"2024-01-01";
    p.value.u.s.len = 10;
    /* The judge says b.parquet does not matter: the read commits. */
    judge_probe j = {"nothing-matches", 0};
    delta_transaction *t = delta_transaction_begin(old, "MERGE");
    delta_transaction_read_predicate(t, &p, 1);
    delta_transaction_set_conflict_judge(t, judge_by_name, &j);
    stage_add(t, "rating_date=2024-01-01/c.parquet", "2024-01-01");
    CHECK_OK(delta_transaction_commit(t, 5, &v, &err), &err);
    CHECK_INT(v, 3);
    CHECK_INT(j.shown, 1);
    delta_transaction_free(t);
    /* It says b.parquet matters: conflict, with the partition rule's message. */
    j = (judge_probe){"b.parquet", 0};
    t = delta_transaction_begin(old, "MERGE");
    delta_transaction_read_predicate(t, &p, 1);
    delta_transaction_set_conflict_judge(t, judge_by_name, &j);
    stage_add(t, "rating_date=2024-01-01/d.parquet", "2024-01-01");
    sd_error_clear(&err);
    CHECK_INT(delta_transaction_commit(t, 5, &v, &err), SD_ERR_CONFLICT);
    CHECK(strstr(err.msg, "concurrent commit 2 added data this transaction read: "
                          "rating_date=2024-01-01/b.parquet") != NULL);
    delta_transaction_free(t);
    /* A file both remove: a conflict whatever the judge says. */
    delta_snapshot *v3 = snap(path);
    if (v3 != NULL) {
        t = delta_transaction_begin(v3, "MERGE");
        delta_transaction_remove(t, delta_snapshot_file(v3, 0), true);
        CHECK_OK(delta_transaction_commit(t, 0, &v, &err), &err);
        delta_transaction_free(t);
        j = (judge_probe){"nothing-matches", 0};
        t = delta_transaction_begin(v3, "MERGE");
        delta_transaction_read_predicate(t, &p, 1);
        delta_transaction_set_conflict_judge(t, judge_by_name, &j);
        delta_transaction_remove(t, delta_snapshot_file(v3, 0), true);
        sd_error_clear(&err);
        CHECK_INT(delta_transaction_commit(t, 5, &v, &err), SD_ERR_CONFLICT);
        CHECK(strstr(err.msg, "deleted a file this transaction also deletes") != NULL);
        CHECK_INT(j.shown, 0);
        delta_transaction_free(t);
        delta_snapshot_free(v3);
    }
    delta_snapshot_free(old);
    free(path);
}

TEST(delta_commit_refusals) {
    char *path = new_table("appendonly", "delta.appendOnly", "true");
    sd_error err = {0};
    int64_t v;
    CHECK_OK(append_one(path, "rating_date=2024-01-01/a.parquet", "2024-01-01", 0, &v, &err), &err);
    delta_snapshot *s = snap(path);
    if (s != NULL) {
        delta_transaction *t = delta_transaction_begin(s, "DELETE");
        delta_transaction_remove(t, delta_snapshot_file(s, 0), true);
        CHECK_INT(delta_transaction_commit(t, 0, &v, &err), SD_ERR_UNSUPPORTED);
        CHECK(strstr(err.msg, "append-only") != NULL);
        delta_transaction_free(t);
        /* dataChange=false (compaction) is allowed on append-only tables. */
        t = delta_transaction_begin(s, "OPTIMIZE");
        delta_transaction_remove(t, delta_snapshot_file(s, 0), false);
        sd_error_clear(&err);
        CHECK_OK(delta_transaction_commit(t, 0, &v, &err), &err);
        delta_transaction_free(t);
        delta_snapshot_free(s);
    }
    free(path);
}

typedef struct writer_arg {
    const char *table;
    int id;
    int ok;
} writer_arg;

static void *writer_main(void *p) {
    writer_arg *w = p;
    for (int i = 0; i < 8; i++) {
        char file[64];
        snprintf(file, sizeof(file), "rating_date=2024-01-01/w%d-%d.parquet", w->id, i);
        sd_error err = {0};
        int64_t v;
        if (append_one(w->table, file, "2024-01-01", 100, &v, &err) == SD_OK) w->ok++;
    }
    return NULL;
}

/* Four writers appending at once: every commit lands exactly once. */
TEST(delta_commit_concurrent_writers) {
    char *path = new_table("concurrent", NULL, NULL);
    pthread_t th[4];
    writer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (writer_arg){path, i, 0};
        pthread_create(&th[i], NULL, writer_main, &args[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    int ok = 0;
    for (int i = 0; i < 4; i++) ok += args[i].ok;
    CHECK_INT(ok, 32);
    delta_snapshot *s = snap(path);
    if (s != NULL) {
        CHECK_INT(delta_snapshot_version(s), 32);
        CHECK_INT(delta_snapshot_num_files(s), 32);
        delta_snapshot_free(s);
    }
    free(path);
}

/* Write a checkpoint, then check that replay from it equals JSON replay. */
TEST(delta_checkpoint_write_roundtrip) {
    char *path = new_table("ckpt", "delta.deletedFileRetentionDuration", "interval 2 days");
    sd_error err = {0};
    int64_t v;
    CHECK_OK(append_one(path, "rating_date=2024-01-01/a.parquet", "2024-01-01", 0, &v, &err), &err);
    CHECK_OK(append_one(path, "rating_date=2024-01-02/b%20c.parquet", "2024-01-02", 0, &v, &err),
             &err);
    delta_snapshot *s = snap(path);
    if (s == NULL) return;
    CHECK_INT(delta_tombstone_retention_ms(s), 2LL * 86400000);
    delta_transaction *t = delta_transaction_begin(s, "DELETE");
    delta_transaction_remove(t, delta_snapshot_file(s, 0), true);
    delta_kv kv = {"rating_date", "2024-01-01"};
    delta_add dv_add;
    memset(&dv_add, 0, sizeof(dv_add));
    dv_add.path = "rating_date=2024-01-01/a.parquet";
    dv_add.partition_values = (delta_map){1, &kv};
    dv_add.size = 100;
    dv_add.has_dv = true;
    dv_add.dv = (delta_dv_descriptor){'u', "ab^Vz12345678901234567890", 1, 36, 2};
    dv_add.base_row_id = -1;
    dv_add.default_row_commit_version = -1;
    delta_transaction_add(t, &dv_add);
    delta_transaction_set_app_version(t, "topic-7", 12);
    delta_transaction_set_domain(t, "app.state", "{\"x\":1}", false);
    CHECK_OK(delta_transaction_commit(t, 0, &v, &err), &err);
    delta_transaction_free(t);
    delta_snapshot_free(s);
    /* An expired tombstone (deleted at 1 ms after the epoch). */
    char *c4 = sd_xasprintf("%s/_delta_log/00000000000000000004.json", path);
    FILE *f = fopen(c4, "w");
    if (f != NULL) {
        fputs(
            "{\"remove\":{\"path\":\"old.parquet\",\"deletionTimestamp\":1,\"dataChange\":true}}\n",
            f);
        fclose(f);
    }
    free(c4);

    delta_snapshot *js = snap(path);
    if (js == NULL) return;
    CHECK_INT(delta_snapshot_version(js), 4);
    CHECK_INT(delta_snapshot_num_tombstones(js), 2);
    CHECK_OK(delta_checkpoint_write(js, &err), &err);

    delta_log_segment seg;
    CHECK_OK(delta_log_segment_build(path, -1, &seg, &err), &err);
    CHECK_INT(seg.checkpoint_version, 4);
    CHECK_INT(seg.ncommits, 0);
    delta_log_segment_free(&seg);
    char *lc = sd_xasprintf("%s/_delta_log/_last_checkpoint", path);
    sd_buf text = SD_BUF_INIT;
    CHECK_OK(delta_read_file(lc, 4096, &text, &err), &err);
    /* protocol + metaData + txn + domain + 1 live tombstone + 2 adds */
    CHECK(strncmp(sd_buf_cstr(&text), "{\"version\":4,\"size\":7,", 22) == 0);
    sd_buf_free(&text);
    free(lc);

    delta_snapshot *cp = snap(path);
    if (cp != NULL) {
        CHECK_INT(delta_snapshot_version(cp), 4);
        CHECK_INT(delta_snapshot_num_files(cp), delta_snapshot_num_files(js));
        for (size_t i = 0; i < delta_snapshot_num_files(cp) && i < delta_snapshot_num_files(js);
             i++) {
            const delta_add *x = delta_snapshot_file(cp, i)->add,
                            *y = delta_snapshot_file(js, i)->add;
            CHECK_STR(x->path, y->path);
            CHECK_INT(x->size, y->size);
            if (y->stats != NULL)
                CHECK_STR(x->stats, y->stats);
            else
                CHECK(x->stats == NULL);
            CHECK_INT(x->has_dv, y->has_dv);
            CHECK_STR(delta_map_get(&x->partition_values, "rating_date", NULL),
                      delta_map_get(&y->partition_values, "rating_date", NULL));
            if (x->has_dv && y->has_dv) {
                CHECK_STR(x->dv.path_or_inline_dv, y->dv.path_or_inline_dv);
                CHECK_INT(x->dv.offset, 1);
                CHECK_INT(x->dv.cardinality, 2);
            }
            CHECK_INT(delta_snapshot_file(cp, i)->partition_values[0].u.i,
                      delta_snapshot_file(js, i)->partition_values[0].u.i);
        }
        CHECK_INT(delta_snapshot_txn_version(cp, "topic-7"), 12);
        CHECK_STR(delta_snapshot_domain(cp, "app.state"), "{\"x\":1}");
        CHECK_INT(delta_snapshot_num_tombstones(cp), 1);
        CHECK_STR(delta_snapshot_metadata(cp)->id, delta_snapshot_metadata(js)->id);
        CHECK(sd_type_equal(delta_snapshot_schema(cp), delta_snapshot_schema(js)));
        CHECK_INT(delta_snapshot_checkpoint_interval(cp), 10);
        CHECK_STR(delta_snapshot_property(cp, "delta.deletedFileRetentionDuration", ""),
                  "interval 2 days");
        CHECK_INT(delta_snapshot_protocol(cp)->min_writer_version, 2);
        CHECK_INT(delta_snapshot_metadata(cp)->npartition_columns, 1);
        delta_snapshot_free(cp);
    }
    /* Commits after the checkpoint replay on top of it. */
    CHECK_OK(append_one(path, "rating_date=2024-01-05/z.parquet", "2024-01-05", 0, &v, &err), &err);
    CHECK_INT(v, 5);
    cp = snap(path);
    if (cp != NULL) {
        CHECK_INT(delta_snapshot_num_files(cp), delta_snapshot_num_files(js) + 1);
        /* Temporary commit files of killed writers: one two hours old, one
         * just written (a live writer may still link it). */
        char *stale = sd_xasprintf("%s/_delta_log/.tmp-dead.json", path);
        char *fresh = sd_xasprintf("%s/_delta_log/.tmp-live.json", path);
        FILE *tmpf = fopen(stale, "w");
        if (tmpf != NULL) fclose(tmpf);
        tmpf = fopen(fresh, "w");
        if (tmpf != NULL) fclose(tmpf);
        struct timeval two_hours_ago[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
        CHECK_INT(utimes(stale, two_hours_ago), 0);
        /* Log cleanup: no commit has expired yet, the stale temp file has... */
        size_t n = 99;
        CHECK_OK(delta_log_cleanup(cp, sd_now_ms(), &n, &err), &err);
        CHECK_INT(n, 1);
        CHECK(access(stale, F_OK) != 0 && access(fresh, F_OK) == 0);
        /* ...31 days later commits 0-3 have (the checkpoint at 4 stays). */
        CHECK_OK(delta_log_cleanup(cp, sd_now_ms() + 31LL * 86400000, &n, &err), &err);
        CHECK_INT(n, 5);
        CHECK(access(fresh, F_OK) != 0);
        free(stale);
        free(fresh);
        delta_snapshot_free(cp);
    }
    cp = snap(path);
    if (cp != NULL) {
        CHECK_INT(delta_snapshot_version(cp), 5);
        CHECK_INT(delta_snapshot_num_files(cp), delta_snapshot_num_files(js) + 1);
        delta_snapshot_free(cp);
    }
    delta_snapshot *old = NULL;
    CHECK_INT(delta_snapshot_load(path, 2, &old, &err), SD_ERR_NOT_FOUND);
    delta_snapshot_free(js);
    free(path);
}

/* Schema evolution through a metadata change; it conflicts with a
 * concurrent append, and bad metadata is refused before writing. */
TEST(delta_commit_metadata_change) {
    char *path = new_table("meta", NULL, NULL);
    delta_snapshot *s = snap(path);
    if (s == NULL) return;
    sd_schema *wider = ratings_schema();
    sd_type_add_field(wider, "is_approved", SD_BOOL, true);
    delta_metadata m = *delta_snapshot_metadata(s);
    m.id = NULL;
    m.schema = wider;
    m.schema_string = NULL;
    delta_kv kv = {"delta.checkpointInterval", "5"};
    m.configuration = (delta_map){1, &kv};
    sd_error err = {0};
    int64_t v;
    /* A concurrent append lands first: the metadata change conflicts. */
    CHECK_OK(append_one(path, "rating_date=2024-01-01/a.parquet", "2024-01-01", 0, &v, &err), &err);
    delta_transaction *t = delta_transaction_begin(s, "ADD COLUMNS");
    delta_transaction_set_metadata(t, &m);
    CHECK_INT(delta_transaction_commit(t, 3, &v, &err), SD_ERR_CONFLICT);
    CHECK(strstr(err.msg, "added data this transaction read") != NULL);
    delta_transaction_free(t);
    delta_snapshot_free(s);

    s = snap(path);
    if (s == NULL) return;
    const char *old_id = delta_snapshot_metadata(s)->id;
    m = *delta_snapshot_metadata(s); /* the old snapshot's strings are gone */
    m.id = NULL;
    m.schema = wider;
    m.schema_string = NULL;
    m.configuration = (delta_map){1, &kv};
    t = delta_transaction_begin(s, "ADD COLUMNS");
    delta_transaction_set_metadata(t, &m);
    sd_error_clear(&err);
    CHECK_OK(delta_transaction_commit(t, 3, &v, &err), &err);
    CHECK_INT(v, 2);
    delta_transaction_free(t);
    delta_snapshot *s2 = snap(path);
    if (s2 != NULL) {
        CHECK(sd_type_equal(delta_snapshot_schema(s2), wider));
        CHECK_STR(delta_snapshot_metadata(s2)->id, old_id);
        CHECK_STR(delta_snapshot_property(s2, "delta.checkpointInterval", ""), "5");
        CHECK_INT(delta_snapshot_checkpoint_interval(s2), 5);
        CHECK_INT(delta_snapshot_num_files(s2), 1);
        delta_snapshot_free(s2);
    }
    /* A partition column missing from the schema is refused. */
    const char *parts[1] = {"nope"};
    m.partition_columns = parts;
    m.npartition_columns = 1;
    t = delta_transaction_begin(s, "ADD COLUMNS");
    delta_transaction_set_metadata(t, &m);
    sd_error_clear(&err);
    CHECK_INT(delta_transaction_commit(t, 3, &v, &err), SD_ERR_ARG);
    CHECK(strstr(err.msg, "partition column 'nope'") != NULL);
    delta_transaction_free(t);
    sd_schema_free(wider);
    delta_snapshot_free(s);
    free(path);
}
