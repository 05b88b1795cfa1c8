/*
 * test_pipe_merge.c - the MERGE step (pipe_merge.c): inserts, updates
 * (newer, older, equal order; identical redeliveries), the late-days window,
 * partitioned and unpartitioned tables, offsets in txn actions, the key
 * index kept up to date, a concurrent writer, and a randomized comparison
 * against a reference upsert model. pipe_merge_bench measures throughput
 * (SD_MERGE_BENCH_ROWS sets the table size, default 100000).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta.h"
#include "pipeline/pipeline.h"
#include "unit.h"

#define TODAY 20000 /* 2024-10-04 */

/* The movie-ratings columns, minus movie_id/is_approved (not needed). */
static sd_schema *tm_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "event_id", SD_STRING, true);
    sd_type_add_field(s, "user_id", SD_STRING, true);
    sd_type_add_field(s, "rating", SD_FLOAT, true);
    sd_type_add_field(s, "rating_timestamp", SD_INT64, true);
    sd_type_add_field(s, "rating_date", SD_DATE, true);
    return s;
}

/* A new table in the test's directory, partitioned by rating_date or not,
 * with deletion vectors enabled or not. */
static char *tm_table_with(const char *name, const sd_schema *s, bool partitioned, bool dv) {
    char *path = sd_xasprintf("%s/%s", unit_tmpdir(), name);
    sd_error err = {0};
    const char *part = "rating_date";
    delta_kv kv = {"delta.enableDeletionVectors", "true"};
    delta_map props = {1, &kv};
    CHECK_OK(delta_table_create(path, s, partitioned ? &part : NULL, partitioned ? 1 : 0,
                                dv ? &props : NULL, &err),
             &err);
    return path;
}

static char *tm_table(const char *name, const sd_schema *s, bool partitioned) {
    return tm_table_with(name, s, partitioned, false);
}

static void tm_config(pipe_config *cfg, const char *table, bool partitioned) {
    pipe_config_init(cfg);
    free(cfg->table);
    cfg->table = sd_xstrdup(table);
    if (!partitioned) {
        free(cfg->partition_by);
        cfg->partition_by = sd_xstrdup("");
    }
}

static void tm_row(sd_batch *b, const char *key, const char *user, float rating, int64_t ts,
                   int32_t day) {
    sd_column_append_bytes(&b->cols[0], key, strlen(key));
    sd_column_append_bytes(&b->cols[1], user, strlen(user));
    sd_column_append_float(&b->cols[2], rating);
    sd_column_append_i64(&b->cols[3], ts);
    sd_column_append_i32(&b->cols[4], day);
    b->nrows++;
}

/* One stored row as the test sees it. */
typedef struct tm_rec {
    char key[40];
    char user[40];
    float rating;
    int64_t ts;
    int32_t day;
} tm_rec;

static int tm_rec_cmp(const void *a, const void *b) {
    const tm_rec *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c) return c;
    return x->day < y->day ? -1 : x->day > y->day;
}

/* Every row of the table's latest version, sorted by key then day. */
static tm_rec *tm_read(const char *table, size_t *n) {
    sd_error err = {0};
    delta_snapshot *s = NULL;
    *n = 0;
    tm_rec *out = NULL;
    CHECK_OK(delta_snapshot_load(table, -1, &s, &err), &err);
    if (s == NULL) return NULL;
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++) {
        delta_file_reader *r = delta_file_reader_open(s, delta_snapshot_file(s, i), NULL, 0, &err);
        CHECK(r != NULL);
        sd_batch b;
        bool more;
        while (r && delta_file_reader_next(r, &b, &more, &err) == SD_OK && more) {
            out = sd_xrealloc(out, (*n + b.nrows + 1) * sizeof(tm_rec));
            for (size_t j = 0; j < b.nrows; j++) {
                tm_rec *t = &out[(*n)++];
                memset(t, 0, sizeof(*t));
                sd_value k = sd_column_get(&b.cols[0], j), u = sd_column_get(&b.cols[1], j);
                snprintf(t->key, sizeof(t->key), "%.*s", (int)k.u.s.len, (const char *)k.u.s.ptr);
                snprintf(t->user, sizeof(t->user), "%.*s", (int)u.u.s.len, (const char *)u.u.s.ptr);
                t->rating = (float)sd_column_get(&b.cols[2], j).u.d;
                t->ts = sd_column_get(&b.cols[3], j).u.i;
                t->day = (int32_t)sd_column_get(&b.cols[4], j).u.i;
            }
            sd_batch_free(&b);
        }
        delta_file_reader_close(r);
    }
    delta_snapshot_free(s);
    qsort(out, *n, sizeof(tm_rec), tm_rec_cmp);
    return out;
}

static const tm_rec *tm_find(const tm_rec *recs, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(recs[i].key, key) == 0) return &recs[i];
    return NULL;
}

/* Append the text of every commit file of the table. */
static void tm_log_text(const char *table, sd_buf *out) {
    char *dir = sd_xasprintf("%s/_delta_log", table);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".json") != 0) continue;
        char *path = sd_xasprintf("%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        char chunk[4096];
        size_t got;
        while (f && (got = fread(chunk, 1, sizeof(chunk), f)) > 0) sd_buf_append(out, chunk, got);
        if (f) fclose(f);
        free(path);
    }
    if (d) closedir(d);
    free(dir);
}

/* Data files on disk that no commit mentions (left by a failed commit). */
static int tm_orphans(const char *table) {
    sd_buf log = SD_BUF_INIT;
    tm_log_text(table, &log);
    const char *text = sd_buf_cstr(&log);
    int orphans = 0;
    DIR *d = opendir(table);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || e->d_name[0] == '_') continue;
        char *sub = sd_xasprintf("%s/%s", table, e->d_name);
        DIR *sd = opendir(sub);
        struct dirent *f;
        while (sd && (f = readdir(sd)) != NULL)
            if (strstr(f->d_name, ".parquet") && strstr(text, f->d_name) == NULL) orphans++;
        if (sd)
            closedir(sd);
        else if (strstr(e->d_name, ".parquet") && strstr(text, e->d_name) == NULL)
            orphans++;
        free(sub);
    }
    if (d) closedir(d);
    sd_buf_free(&log);
    return orphans;
}

static sd_status tm_merge(pipe_merge *m, const sd_batch *b, int64_t today, pipe_merge_stats *st,
                          sd_error *err) {
    return pipe_merge_commit(m, b, "sd-", "movies", NULL, NULL, 0, today, st, err);
}

TEST(pipe_merge_inserts) {
    sd_schema *s = tm_schema();
    char *table = tm_table("ins", s, true);
    pipe_config cfg;
    tm_config(&cfg, table, true);
    sd_error err = {0};
    pipe_merge *m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    sd_batch b;
    sd_batch_init(&b, s);
    tm_row(&b, "a", "u1", 7.5f, 100, TODAY);
    tm_row(&b, "b", "u2", 3.0f, 101, TODAY - 1);
    tm_row(&b, "c", "u3", 9.0f, 102, TODAY);
    pipe_merge_stats st;
    int32_t parts[2] = {0, 1};
    int64_t offs[2] = {42, 7};
    CHECK_OK(pipe_merge_commit(m, &b, "sd-", "movies", parts, offs, 2, TODAY, &st, &err), &err);
    CHECK_INT(st.inserted, 3);
    CHECK_INT(st.updated, 0);
    CHECK_INT(st.files_added, 2); /* one per partition touched */
    CHECK_INT(st.files_removed, 0);
    CHECK_INT(st.version, 1);
    CHECK_INT(pipe_merge_index_keys(m), 3);
    const char *path = NULL;
    int64_t row = -1, order = 0;
    CHECK(pipe_merge_index_get(m, "b", 1, &path, &row, &order));
    CHECK(path != NULL && strncmp(path, "rating_date=2024-10-03/part-", 28) == 0);
    CHECK_INT(row, 0);
    CHECK_INT(order, 101);
    size_t n;
    tm_rec *recs = tm_read(table, &n);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_STR(recs[0].key, "a");
        CHECK_INT(recs[0].day, TODAY);
        CHECK_STR(recs[1].user, "u2");
        CHECK_INT(recs[1].day, TODAY - 1);
        CHECK(recs[2].rating == 9.0f);
    }
    free(recs);
    /* The commit carries the offsets and a MERGE commitInfo with metrics. */
    delta_history_entry *h = NULL;
    size_t nh = 0;
    CHECK_OK(delta_history_read(table, 1, &h, &nh, &err), &err);
    CHECK(nh == 1 && h[0].operation && strcmp(h[0].operation, "MERGE") == 0);
    CHECK(nh == 1 && strstr(h[0].commit_info, "\"numTargetRowsInserted\":\"3\"") != NULL);
    delta_history_free(h, nh);
    int32_t gp[4];
    int64_t go[4];
    int k = pipe_merge_offsets(m, "sd-", "movies", gp, go, 4);
    CHECK_INT(k, 2);
    for (int i = 0; i < k; i++) CHECK_INT(go[i], gp[i] == 0 ? 42 : 7);
    sd_batch_free(&b);
    pipe_merge_close(m);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

/* Updates: newer replaces, older is ignored, an identical row changes
 * nothing, an equal order with different values replaces (ties go to the
 * incoming row). */
static void tm_updates(bool partitioned) {
    sd_schema *s = tm_schema();
    char *table = tm_table(partitioned ? "upd_p" : "upd_u", s, partitioned);
    pipe_config cfg;
    tm_config(&cfg, table, partitioned);
    sd_error err = {0};
    pipe_merge *m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    if (m == NULL) return;
    sd_batch b;
    sd_batch_init(&b, s);
    tm_row(&b, "k1", "u", 1.0f, 100, TODAY);
    tm_row(&b, "k2", "u", 2.0f, 100, TODAY);
    tm_row(&b, "k3", "u", 3.0f, 100, TODAY);
    tm_row(&b, "k4", "u", 4.0f, 100, TODAY - 2);
    tm_row(&b, "k5", "u", 5.0f, 100, TODAY - 2);
    pipe_merge_stats st;
    CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
    sd_batch_reset(&b);
    tm_row(&b, "k1", "u", 1.5f, 200, TODAY);       /* newer: update */
    tm_row(&b, "k2", "old", 9.0f, 50, TODAY);      /* older: unchanged */
    tm_row(&b, "k3", "u", 3.0f, 100, TODAY);       /* identical: unchanged */
    tm_row(&b, "k4", "tie", 4.5f, 100, TODAY - 2); /* tie, different: update */
    tm_row(&b, "k6", "u", 6.0f, 100, TODAY - 1);   /* new */
    CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
    CHECK_INT(st.inserted, 1);
    CHECK_INT(st.updated, 2);
    CHECK_INT(st.unchanged, 2);
    CHECK_INT(st.files_removed, partitioned ? 2 : 1);
    CHECK_INT(st.files_added, partitioned ? 3 : 1);
    size_t n;
    tm_rec *r = tm_read(table, &n);
    CHECK_INT(n, 6);
    const tm_rec *x;
    CHECK((x = tm_find(r, n, "k1")) && x->ts == 200 && x->rating == 1.5f);
    CHECK((x = tm_find(r, n, "k2")) && x->ts == 100 && strcmp(x->user, "u") == 0);
    CHECK((x = tm_find(r, n, "k3")) && x->rating == 3.0f);
    CHECK((x = tm_find(r, n, "k4")) && strcmp(x->user, "tie") == 0);
    CHECK((x = tm_find(r, n, "k5")) && x->rating == 5.0f);
    CHECK((x = tm_find(r, n, "k6")) && x->day == TODAY - 1);
    free(r);
    /* An exact redelivery of the whole batch changes nothing: no commit. */
    sd_batch_reset(&b);
    tm_row(&b, "k1", "u", 1.5f, 200, TODAY);
    tm_row(&b, "k4", "tie", 4.5f, 100, TODAY - 2);
    CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
    CHECK_INT(st.unchanged, 2);
    CHECK_INT(st.version, -1);
    /* An update that moves a row to another partition. */
    sd_batch_reset(&b);
    tm_row(&b, "k5", "moved", 5.5f, 300, TODAY);
    CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
    CHECK_INT(st.updated, 1);
    r = tm_read(table, &n);
    CHECK_INT(n, 6);
    CHECK((x = tm_find(r, n, "k5")) && x->day == TODAY && strcmp(x->user, "moved") == 0);
    free(r);
    sd_batch_free(&b);
    pipe_merge_close(m);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

TEST(pipe_merge_updates_partitioned) {
    tm_updates(true);
}

TEST(pipe_merge_updates_unpartitioned) {
    tm_updates(false);
}

/* A key whose stored row sits in a partition older than the window is
 * inserted anew (DESIGN.md: the MERGE only looks at rating_date >= today -
 * late_days), and days passing drop partitions from the index. */
TEST(pipe_merge_window) {
    sd_schema *s = tm_schema();
    char *table = tm_table("win", s, true);
    pipe_config cfg;
    tm_config(&cfg, table, true);
    sd_error err = {0};
    pipe_merge *m = pipe_merge_open(&cfg, s, TODAY - 6, &err);
    CHECK(m != NULL);
    sd_batch b;
    sd_batch_init(&b, s);
    tm_row(&b, "old", "u", 1.0f, 100, TODAY - 6);
    tm_row(&b, "new", "u", 1.0f, 100, TODAY - 2);
    pipe_merge_stats st;
    CHECK_OK(tm_merge(m, &b, TODAY - 6, &st, &err), &err);
    CHECK_INT(pipe_merge_index_keys(m), 2);
    sd_batch_reset(&b);
    tm_row(&b, "old", "u", 2.0f, 200, TODAY);
    tm_row(&b, "new", "u", 2.0f, 200, TODAY);
    CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
    CHECK_INT(st.inserted, 1); /* "old" is outside the window now */
    CHECK_INT(st.updated, 1);
    CHECK_INT(pipe_merge_index_keys(m), 2);
    size_t n;
    tm_rec *r = tm_read(table, &n);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_STR(r[1].key, "old");
        CHECK_INT(r[1].day, TODAY - 6);
        CHECK_STR(r[2].key, "old");
        CHECK_INT(r[2].day, TODAY);
    }
    free(r);
    sd_batch_free(&b);
    pipe_merge_close(m);
    /* A fresh merger sees the same window. */
    m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    if (m) CHECK_INT(pipe_merge_index_keys(m), 2);
    pipe_merge_close(m);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

TEST(pipe_merge_offsets_reopen) {
    sd_schema *s = tm_schema();
    char *table = tm_table("offs", s, true);
    pipe_config cfg;
    tm_config(&cfg, table, true);
    sd_error err = {0};
    pipe_merge *m = pipe_merge_open(&cfg, s, TODAY, &err);
    sd_batch b;
    sd_batch_init(&b, s);
    tm_row(&b, "a", "u", 1.0f, 1, TODAY);
    int32_t parts[3] = {0, 2, 11};
    int64_t offs[3] = {10, 20, 30};
    pipe_merge_stats st;
    CHECK_OK(pipe_merge_commit(m, &b, "app/", "t", parts, offs, 3, TODAY, &st, &err), &err);
    CHECK_INT(st.version, 1);
    pipe_merge_close(m);
    m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    if (m == NULL) return;
    int32_t gp[8];
    int64_t go[8];
    int k = pipe_merge_offsets(m, "app/", "t", gp, go, 8);
    CHECK_INT(k, 3);
    int64_t sum = 0;
    for (int i = 0; i < k; i++) sum += go[i] * (gp[i] + 1);
    CHECK_INT(sum, 10 * 1 + 20 * 3 + 30 * 12);
    CHECK_INT(pipe_merge_offsets(m, "app/", "other", gp, go, 8), 0);
    /* An empty batch whose offsets did not move commits nothing. */
    sd_batch_reset(&b);
    CHECK_OK(pipe_merge_commit(m, &b, "app/", "t", parts, offs, 3, TODAY, &st, &err), &err);
    CHECK_INT(st.version, -1);
    /* An empty batch with moved offsets commits them. */
    offs[1] = 25;
    CHECK_OK(pipe_merge_commit(m, &b, "app/", "t", parts, offs, 3, TODAY, &st, &err), &err);
    CHECK_INT(st.version, 2);
    delta_history_entry *h = NULL;
    size_t nh = 0;
    CHECK_OK(delta_history_read(table, 1, &h, &nh, &err), &err);
    CHECK(nh == 1 && h[0].operation && strcmp(h[0].operation, "STREAMING UPDATE") == 0);
    delta_history_free(h, nh);
    /* Offsets behind what the table records: another instance got there. */
    offs[1] = 24;
    sd_status rc = pipe_merge_commit(m, &b, "app/", "t", parts, offs, 3, TODAY, &st, &err);
    CHECK_INT(rc, SD_ERR_CONFLICT);
    CHECK(strstr(err.msg, "app/t-2") != NULL);
    sd_batch_free(&b);
    pipe_merge_close(m);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

/* The index kept up to date over many commits (and days passing) equals a
 * freshly built one. */
TEST(pipe_merge_index_incremental) {
    sd_schema *s = tm_schema();
    char *table = tm_table("incr", s, true);
    pipe_config cfg;
    tm_config(&cfg, table, true);
    sd_error err = {0};
    pipe_merge *m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    if (m == NULL) return;
    sd_batch b;
    sd_batch_init(&b, s);
    uint64_t rnd = 12345;
    char key[16];
    for (int round = 0; round < 25; round++) {
        /* Days pass during the run: partitions leave the window. */
        int32_t today = TODAY - 3 + round / 8;
        sd_batch_reset(&b);
        bool used[60] = {false};
        for (int i = 0; i < 20; i++) {
            rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
            int k = (int)((rnd >> 33) % 60);
            if (used[k]) continue;
            used[k] = true;
            snprintf(key, sizeof(key), "key%02d", k);
            tm_row(&b, key, "u", (float)(rnd % 10), round * 10 + (int)(rnd % 7),
                   today - (int32_t)((rnd >> 40) % 6));
        }
        pipe_merge_stats st;
        CHECK_OK(tm_merge(m, &b, today, &st, &err), &err);
    }
    pipe_merge *fresh = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(fresh != NULL);
    if (fresh) {
        CHECK_INT(pipe_merge_index_keys(m), pipe_merge_index_keys(fresh));
        for (int k = 0; k < 60; k++) {
            snprintf(key, sizeof(key), "key%02d", k);
            const char *p1 = NULL, *p2 = NULL;
            int64_t r1 = -1, r2 = -2, o1 = -1, o2 = -2;
            bool f1 = pipe_merge_index_get(m, key, strlen(key), &p1, &r1, &o1);
            bool f2 = pipe_merge_index_get(fresh, key, strlen(key), &p2, &r2, &o2);
            CHECK(f1 == f2);
            if (f1 && f2) {
                CHECK_STR(p1, p2);
                CHECK_INT(r1, r2);
                CHECK_INT(o1, o2);
            }
        }
    }
    pipe_merge_close(fresh);
    sd_batch_free(&b);
    pipe_merge_close(m);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

/* Two mergers on one table: the second one's snapshot is stale, its
 * commit conflicts (new data in the window), it folds the other commit in
 * and redoes the merge: no duplicate key. */
TEST(pipe_merge_concurrent_writer) {
    sd_schema *s = tm_schema();
    char *table = tm_table("conc", s, true);
    pipe_config cfg;
    tm_config(&cfg, table, true);
    sd_error err = {0};
    pipe_merge *a = pipe_merge_open(&cfg, s, TODAY, &err);
    pipe_merge *b = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(a != NULL && b != NULL);
    if (a == NULL || b == NULL) return;
    sd_batch x;
    sd_batch_init(&x, s);
    tm_row(&x, "k1", "a", 1.0f, 100, TODAY);
    tm_row(&x, "k2", "a", 1.0f, 100, TODAY);
    pipe_merge_stats st;
    int32_t pa = 0, pb = 1;
    int64_t oa = 5, ob = 9;
    CHECK_OK(pipe_merge_commit(a, &x, "sd-", "t", &pa, &oa, 1, TODAY, &st, &err), &err);
    sd_batch_reset(&x);
    tm_row(&x, "k1", "b", 2.0f, 200, TODAY); /* newer than a's row */
    tm_row(&x, "k2", "b", 2.0f, 50, TODAY);  /* older than a's row */
    tm_row(&x, "k3", "b", 2.0f, 100, TODAY);
    CHECK_OK(pipe_merge_commit(b, &x, "sd-", "t", &pb, &ob, 1, TODAY, &st, &err), &err);
    CHECK(st.retries >= 1);
    CHECK_INT(st.updated, 1);
    CHECK_INT(st.unchanged, 1);
    CHECK_INT(st.inserted, 1);
    size_t n;
    tm_rec *r = tm_read(table, &n);
    CHECK_INT(n, 3);
    const tm_rec *y;
    CHECK((y = tm_find(r, n, "k1")) && strcmp(y->user, "b") == 0);
    CHECK((y = tm_find(r, n, "k2")) && strcmp(y->user, "a") == 0);
    for (size_t i = 1; i < n; i++) CHECK(strcmp(r[i - 1].key, r[i].key) != 0);
    free(r);
    /* A second instance committing the same partition's offsets: a's next
     * commit for partition 1 with an offset b already passed fails. */
    sd_batch_reset(&x);
    tm_row(&x, "k4", "a", 1.0f, 100, TODAY);
    int64_t stale = 9;
    sd_status rc = pipe_merge_commit(a, &x, "sd-", "t", &pb, &stale, 1, TODAY, &st, &err);
    CHECK_INT(rc, SD_ERR_CONFLICT);
    CHECK(strstr(err.msg, "sd-t-1") != NULL);
    r = tm_read(table, &n);
    CHECK_INT(n, 3); /* nothing of the failed batch reached the table */
    free(r);
    CHECK_INT(tm_orphans(table), 0); /* the lost attempt's files were deleted */
    sd_batch_free(&x);
    pipe_merge_close(a);
    pipe_merge_close(b);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

/* Two writers of one partition are judged by key, not by partition: a
 * concurrent commit that neither holds a key of the batch nor took away the
 * current row of one lets the batch commit as planned (no redo); one that
 * does forces a redo. Copy-on-write or deletion vectors. */
static void tm_concurrent_by_key(const char *name, bool dv) {
    sd_schema *s = tm_schema();
    char *table = tm_table_with(name, s, true, dv);
    sd_error err = {0};
    pipe_config cfg;
    tm_config(&cfg, table, true);
    pipe_merge *a = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(a != NULL);
    if (a == NULL) return;
    sd_batch x;
    sd_batch_init(&x, s);
    pipe_merge_stats st;
    tm_row(&x, "k1", "a", 1.0f, 100, TODAY);
    tm_row(&x, "k2", "a", 1.0f, 100, TODAY);
    tm_row(&x, "k3", "a", 1.0f, 100, TODAY);
    tm_row(&x, "k4", "a", 1.0f, 100, TODAY);
    CHECK_OK(tm_merge(a, &x, TODAY, &st, &err), &err);
    pipe_merge *b = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(b != NULL);
    if (b == NULL) return;
    /* a appends k5 to the partition b reads. */
    sd_batch_reset(&x);
    tm_row(&x, "k5", "a", 1.0f, 100, TODAY);
    CHECK_OK(tm_merge(a, &x, TODAY, &st, &err), &err);
    CHECK_INT(st.version, 2);
    /* b updates k2 and inserts k6: none of it is in a's new file, and the
     * file b rewrites (or marks) is untouched: no redo. */
    sd_batch_reset(&x);
    tm_row(&x, "k2", "b", 2.0f, 200, TODAY);
    tm_row(&x, "k6", "b", 2.0f, 200, TODAY);
    CHECK_OK(tm_merge(b, &x, TODAY, &st, &err), &err);
    CHECK_INT(st.retries, 0);
    CHECK_INT(st.version, 3);
    CHECK_INT(st.updated, 1);
    CHECK_INT(st.inserted, 1);
    /* a, behind b, updates k3 in the file b replaced: redo. */
    sd_batch_reset(&x);
    tm_row(&x, "k3", "a", 3.0f, 300, TODAY);
    CHECK_OK(tm_merge(a, &x, TODAY, &st, &err), &err);
    CHECK(st.retries >= 1);
    CHECK_INT(st.updated, 1);
    /* b, behind a, sends an older k3 (it changes nothing, but the row it was
     * compared with is gone) and a new k7: redo, and k3 stays a's. */
    sd_batch_reset(&x);
    tm_row(&x, "k3", "b", 0.5f, 150, TODAY);
    tm_row(&x, "k7", "b", 2.0f, 200, TODAY);
    CHECK_OK(tm_merge(b, &x, TODAY, &st, &err), &err);
    CHECK(st.retries >= 1);
    CHECK_INT(st.unchanged, 1);
    CHECK_INT(st.inserted, 1);
    /* a sends k7, which b added after a last looked: redo, update. */
    sd_batch_reset(&x);
    tm_row(&x, "k7", "a", 4.0f, 400, TODAY);
    CHECK_OK(tm_merge(a, &x, TODAY, &st, &err), &err);
    CHECK(st.retries >= 1);
    CHECK_INT(st.updated, 1);
    CHECK_INT(st.inserted, 0);
    size_t n;
    tm_rec *r = tm_read(table, &n);
    CHECK_INT(n, 7);
    const char *want[7][2] = {{"k1", "a"}, {"k2", "b"}, {"k3", "a"}, {"k4", "a"},
                              {"k5", "a"}, {"k6", "b"}, {"k7", "a"}};
    for (size_t i = 0; i < n && i < 7; i++) {
        CHECK_STR(r[i].key, want[i][0]);
        CHECK_STR(r[i].user, want[i][1]);
    }
    free(r);
    CHECK_INT(tm_orphans(table), 0);
    sd_batch_free(&x);
    pipe_merge_close(a);
    pipe_merge_close(b);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

TEST(pipe_merge_concurrent_judged_by_key) {
    tm_concurrent_by_key("conc-key", false);
}

TEST(pipe_merge_concurrent_judged_by_key_dv) {
    tm_concurrent_by_key("conc-key-dv", true);
}

/* Deletion vector files on disk, and distinct DVs the log mentions. */
static void tm_dv_counts(const char *table, int *on_disk, int *in_log) {
    *on_disk = 0;
    DIR *d = opendir(table);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "deletion_vector_", 16) == 0) (*on_disk)++;
    if (d) closedir(d);
    sd_buf log = SD_BUF_INIT;
    tm_log_text(table, &log);
    const char *key = "\"pathOrInlineDv\":\"";
    char seen[64][21];
    *in_log = 0;
    for (const char *q = strstr(sd_buf_cstr(&log), key); q; q = strstr(q + 1, key)) {
        char id[21];
        snprintf(id, sizeof(id), "%.20s", q + strlen(key));
        bool dup = false;
        for (int i = 0; i < *in_log; i++) dup |= strcmp(seen[i], id) == 0;
        if (!dup && *in_log < 64) strcpy(seen[(*in_log)++], id);
    }
    sd_buf_free(&log);
}

/* Two mergers on a deletion-vector table update rows of the same file: the
 * second loses the race (the first replaced the file's DV), deletes the DV
 * file it wrote, folds in the first's DV and commits the union. */
TEST(pipe_merge_dv_concurrent_writer) {
    sd_schema *s = tm_schema();
    char *table = tm_table_with("conc-dv", s, true, true);
    sd_error err = {0};
    pipe_config cfg;
    tm_config(&cfg, table, true);
    pipe_merge *a = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(a != NULL);
    if (a == NULL) return;
    sd_batch x;
    sd_batch_init(&x, s);
    tm_row(&x, "k1", "a", 1.0f, 100, TODAY);
    tm_row(&x, "k2", "a", 1.0f, 100, TODAY);
    tm_row(&x, "k3", "a", 1.0f, 100, TODAY);
    pipe_merge_stats st;
    CHECK_OK(tm_merge(a, &x, TODAY, &st, &err), &err);
    pipe_merge *b = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(b != NULL);
    if (b == NULL) return;
    sd_batch_reset(&x);
    tm_row(&x, "k1", "a2", 2.0f, 200, TODAY);
    CHECK_OK(tm_merge(a, &x, TODAY, &st, &err), &err);
    CHECK_INT(st.updated, 1);
    CHECK_INT(st.files_removed, 0);
    sd_batch_reset(&x);
    tm_row(&x, "k2", "b2", 3.0f, 300, TODAY);
    CHECK_OK(tm_merge(b, &x, TODAY, &st, &err), &err);
    CHECK(st.retries >= 1);
    CHECK_INT(st.updated, 1);
    size_t n;
    tm_rec *r = tm_read(table, &n);
    CHECK_INT(n, 3);
    const tm_rec *y;
    CHECK((y = tm_find(r, n, "k1")) && strcmp(y->user, "a2") == 0);
    CHECK((y = tm_find(r, n, "k2")) && strcmp(y->user, "b2") == 0);
    CHECK((y = tm_find(r, n, "k3")) && strcmp(y->user, "a") == 0);
    free(r);
    /* a's DV and b's union: the lost attempt's DV file is gone. */
    int on_disk, in_log;
    tm_dv_counts(table, &on_disk, &in_log);
    CHECK_INT(in_log, 2);
    CHECK_INT(on_disk, 2);
    CHECK_INT(tm_orphans(table), 0);
    sd_batch_free(&x);
    pipe_merge_close(a);
    pipe_merge_close(b);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

/* OPTIMIZE commits between the merger's snapshot and its commit: the
 * merge conflicts (a file it rewrites was compacted away), folds the new
 * files into its index and redoes the batch; nothing is lost. */
TEST(pipe_merge_beside_optimize) {
    sd_schema *s = tm_schema();
    char *table = tm_table("opt", s, true);
    pipe_config cfg;
    tm_config(&cfg, table, true);
    sd_error err = {0};
    pipe_merge *m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    if (m == NULL) return;
    sd_batch b;
    sd_batch_init(&b, s);
    pipe_merge_stats st;
    char key[16];
    for (int i = 0; i < 4; i++) {
        sd_batch_reset(&b);
        for (int j = 0; j < 5; j++) {
            snprintf(key, sizeof(key), "k%d", i * 5 + j);
            tm_row(&b, key, "first", 1.0f, 100, TODAY - j % 2);
        }
        CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
    }
    delta_snapshot *snap = NULL;
    CHECK_OK(delta_snapshot_load(table, -1, &snap, &err), &err);
    delta_optimize_metrics om;
    CHECK_OK(delta_optimize(snap, NULL, &om, &err), &err);
    CHECK(om.num_files_removed >= 4);
    delta_snapshot_free(snap);
    sd_batch_reset(&b);
    tm_row(&b, "k3", "second", 2.0f, 200, TODAY - 1);
    tm_row(&b, "k12", "second", 2.0f, 200, TODAY);
    tm_row(&b, "k99", "second", 2.0f, 200, TODAY);
    CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
    CHECK(st.retries >= 1);
    CHECK_INT(st.updated, 2);
    CHECK_INT(st.inserted, 1);
    size_t n;
    tm_rec *r = tm_read(table, &n);
    CHECK_INT(n, 21);
    const tm_rec *x;
    CHECK((x = tm_find(r, n, "k3")) && strcmp(x->user, "second") == 0);
    CHECK((x = tm_find(r, n, "k12")) && strcmp(x->user, "second") == 0);
    CHECK((x = tm_find(r, n, "k4")) && strcmp(x->user, "first") == 0);
    for (size_t i = 1; i < n; i++) CHECK(strcmp(r[i - 1].key, r[i].key) != 0);
    free(r);
    CHECK_INT(tm_orphans(table), 0);
    sd_batch_free(&b);
    pipe_merge_close(m);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

/* Live files of a table in one partition day (-1: all). */
static size_t tm_count_files(const char *table, int32_t day) {
    sd_error err = {0};
    delta_snapshot *s = NULL;
    CHECK_OK(delta_snapshot_load(table, -1, &s, &err), &err);
    if (s == NULL) return 0;
    size_t n = 0;
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++) {
        const delta_file *f = delta_snapshot_file(s, i);
        if (day < 0 || f->partition_values[0].u.i == day) n++;
    }
    delta_snapshot_free(s);
    return n;
}

/* Auto-compaction: below min_files nothing happens; at min_files the
 * partition with the most small files is compacted in one OPTIMIZE commit
 * (auto=true), the index follows the rows into the new file (updates after
 * it land), and a table property alone turns it on. */
TEST(pipe_merge_auto_compact) {
    sd_schema *s = tm_schema();
    char *table = tm_table("autocompact", s, true);
    pipe_config cfg;
    tm_config(&cfg, table, true);
    cfg.auto_compact = PIPE_COMPACT_ON;
    cfg.auto_compact_min_files = 6;
    sd_error err = {0};
    pipe_merge *m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    if (m == NULL) return;
    sd_batch b;
    sd_batch_init(&b, s);
    pipe_merge_stats st;
    pipe_compact_stats cs;
    char key[16];
    /* Five batches: TODAY gets five files, TODAY-1 five too. */
    for (int i = 0; i < 5; i++) {
        sd_batch_reset(&b);
        for (int j = 0; j < 4; j++) {
            snprintf(key, sizeof(key), "k%d", i * 4 + j);
            tm_row(&b, key, "first", 1.0f, 100, TODAY - j % 2);
        }
        CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
        pipe_merge_auto_compact(m, &cs);
        CHECK_INT(cs.version, -1);
        CHECK_STR(cs.warning, "");
    }
    CHECK_INT(tm_count_files(table, TODAY), 5);
    /* The sixth file of TODAY triggers; TODAY-1 (5 files) is left alone. */
    sd_batch_reset(&b);
    tm_row(&b, "k100", "first", 1.0f, 100, TODAY);
    CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
    pipe_merge_auto_compact(m, &cs);
    CHECK_STR(cs.warning, "");
    CHECK_INT(cs.version, st.version + 1);
    CHECK_INT(cs.files_removed, 6);
    CHECK_INT(cs.files_added, 1);
    CHECK_INT(tm_count_files(table, TODAY), 1);
    CHECK_INT(tm_count_files(table, TODAY - 1), 5);
    sd_buf log = SD_BUF_INIT;
    tm_log_text(table, &log);
    CHECK(strstr(sd_buf_cstr(&log), "\"operation\":\"OPTIMIZE\"") != NULL);
    CHECK(strstr(sd_buf_cstr(&log), "\"auto\":true") != NULL);
    CHECK(strstr(sd_buf_cstr(&log), "rating_date = '") != NULL);
    sd_buf_free(&log);
    /* The index points into the compacted file: updates of keys that moved
     * replace their rows, and an older event changes nothing. */
    const char *path = NULL;
    int64_t row = -1;
    CHECK(pipe_merge_index_get(m, "k100", 4, &path, &row, NULL));
    sd_batch_reset(&b);
    tm_row(&b, "k0", "second", 2.0f, 200, TODAY);
    tm_row(&b, "k100", "second", 2.0f, 200, TODAY);
    tm_row(&b, "k8", "old", 2.0f, 50, TODAY);
    CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
    CHECK_INT(st.updated, 2);
    CHECK_INT(st.unchanged, 1);
    CHECK_INT(st.retries, 0);
    size_t n;
    tm_rec *r = tm_read(table, &n);
    CHECK_INT(n, 21);
    const tm_rec *x;
    CHECK((x = tm_find(r, n, "k0")) && strcmp(x->user, "second") == 0);
    CHECK((x = tm_find(r, n, "k100")) && strcmp(x->user, "second") == 0);
    CHECK((x = tm_find(r, n, "k8")) && strcmp(x->user, "first") == 0);
    for (size_t i = 1; i < n; i++) CHECK(strcmp(r[i - 1].key, r[i].key) != 0);
    free(r);
    pipe_merge_close(m);
    /* Off by configuration: nothing, even with 6 small files in TODAY-1. */
    cfg.auto_compact = PIPE_COMPACT_OFF;
    m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    if (m == NULL) return;
    sd_batch_reset(&b);
    tm_row(&b, "k200", "first", 1.0f, 100, TODAY - 1);
    CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
    pipe_merge_auto_compact(m, &cs);
    CHECK_INT(cs.version, -1);
    CHECK_INT(tm_count_files(table, TODAY - 1), 6);
    pipe_merge_close(m);
    /* "table": the default follows delta.autoOptimize.autoCompact. */
    cfg.auto_compact = PIPE_COMPACT_TABLE;
    m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    if (m == NULL) return;
    pipe_merge_auto_compact(m, &cs);
    CHECK_INT(cs.version, -1);
    pipe_merge_close(m);
    delta_snapshot *snap = NULL;
    CHECK_OK(delta_snapshot_load(table, -1, &snap, &err), &err);
    delta_metadata md = *delta_snapshot_metadata(snap);
    delta_kv kv = {"delta.autoOptimize.autoCompact", "true"};
    md.configuration = (delta_map){1, &kv};
    delta_transaction *t = delta_transaction_begin(snap, "SET TBLPROPERTIES");
    delta_transaction_set_metadata(t, &md);
    CHECK_OK(delta_transaction_commit(t, 0, NULL, &err), &err);
    delta_transaction_free(t);
    delta_snapshot_free(snap);
    m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    if (m == NULL) return;
    pipe_merge_auto_compact(m, &cs);
    CHECK_STR(cs.warning, "");
    CHECK_INT(cs.files_removed, 6);
    CHECK_INT(tm_count_files(table, TODAY - 1), 1);
    r = tm_read(table, &n);
    CHECK_INT(n, 22);
    free(r);
    CHECK_INT(tm_orphans(table), 0);
    sd_batch_free(&b);
    pipe_merge_close(m);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

/* A concurrent writer removed a file the compaction would rewrite: the
 * compaction gives up with a warning, leaves no file behind, and the
 * stream's next merge folds the other commit in and lands. A bytes cap
 * smaller than the partition compacts part of it. */
TEST(pipe_merge_auto_compact_conflict_and_cap) {
    sd_schema *s = tm_schema();
    char *table = tm_table("autocompact-conflict", s, true);
    pipe_config cfg;
    tm_config(&cfg, table, true);
    cfg.auto_compact = PIPE_COMPACT_ON;
    cfg.auto_compact_min_files = 4;
    sd_error err = {0};
    pipe_merge *a = pipe_merge_open(&cfg, s, TODAY, &err);
    pipe_merge *other = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(a != NULL && other != NULL);
    if (a == NULL || other == NULL) return;
    sd_batch b;
    sd_batch_init(&b, s);
    pipe_merge_stats st;
    pipe_compact_stats cs;
    char key[16];
    for (int i = 0; i < 4; i++) {
        sd_batch_reset(&b);
        snprintf(key, sizeof(key), "k%d", i);
        tm_row(&b, key, "first", 1.0f, 100, TODAY);
        CHECK_OK(tm_merge(a, &b, TODAY, &st, &err), &err);
    }
    /* The other writer (it folds a's commits in on its lost race) updates
     * k0: it rewrites k0's file. */
    sd_batch_reset(&b);
    tm_row(&b, "k0", "other", 3.0f, 300, TODAY);
    CHECK_OK(tm_merge(other, &b, TODAY, &st, &err), &err);
    CHECK_INT(st.updated, 1);
    /* a has not seen that commit: its compaction of four files, k0's old
     * one among them, loses. */
    size_t before = tm_count_files(table, TODAY);
    CHECK_INT(before, 4);
    pipe_merge_auto_compact(a, &cs);
    CHECK_INT(cs.version, -1);
    CHECK(strstr(cs.warning, "auto-compaction of") != NULL);
    CHECK(strstr(cs.warning, "concurrent") != NULL);
    CHECK_INT(tm_count_files(table, TODAY), before);
    CHECK_INT(tm_orphans(table), 0);
    /* The stream goes on: an update of k0 lands on the other writer's row. */
    sd_batch_reset(&b);
    tm_row(&b, "k0", "a", 4.0f, 400, TODAY);
    CHECK_OK(tm_merge(a, &b, TODAY, &st, &err), &err);
    CHECK_INT(st.updated, 1);
    size_t n;
    tm_rec *r = tm_read(table, &n);
    CHECK_INT(n, 4);
    const tm_rec *x;
    CHECK((x = tm_find(r, n, "k0")) && strcmp(x->user, "a") == 0);
    free(r);
    pipe_merge_close(other);
    pipe_merge_close(a);
    /* A cap below the partition's bytes: part of it per call. */
    for (int i = 0; i < 6; i++) {
        a = pipe_merge_open(&cfg, s, TODAY, &err);
        if (a == NULL) break;
        sd_batch_reset(&b);
        snprintf(key, sizeof(key), "c%d", i);
        tm_row(&b, key, "first", 1.0f, 100, TODAY - 2);
        CHECK_OK(tm_merge(a, &b, TODAY, &st, &err), &err);
        pipe_merge_close(a);
    }
    CHECK_INT(tm_count_files(table, TODAY - 2), 6);
    delta_snapshot *snap = NULL;
    CHECK_OK(delta_snapshot_load(table, -1, &snap, &err), &err);
    int64_t one = 0;
    for (size_t i = 0; i < delta_snapshot_num_files(snap); i++)
        if (delta_snapshot_file(snap, i)->partition_values[0].u.i == TODAY - 2)
            one = delta_snapshot_file(snap, i)->add->size;
    delta_snapshot_free(snap);
    cfg.auto_compact_max_bytes = one * 3 + one / 2; /* three files fit */
    a = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(a != NULL);
    if (a != NULL) {
        pipe_merge_auto_compact(a, &cs);
        CHECK_STR(cs.warning, "");
        CHECK_INT(cs.files_removed, 3);
        CHECK_INT(tm_count_files(table, TODAY - 2), 4);
        pipe_merge_auto_compact(a, &cs);
        CHECK_INT(cs.files_removed, 3);
        CHECK_INT(tm_count_files(table, TODAY - 2), 2);
        pipe_merge_close(a);
    }
    r = tm_read(table, &n);
    CHECK_INT(n, 10);
    free(r);
    sd_batch_free(&b);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

/* OPTIMIZE by another process, then VACUUM with no retention deletes the
 * files the merger's view still lists: the merge that needs one of them
 * finds it missing, folds in the latest version and lands. */
TEST(pipe_merge_after_vacuum_deleted_its_files) {
    sd_schema *s = tm_schema();
    char *table = tm_table("vacuumed", s, true);
    pipe_config cfg;
    tm_config(&cfg, table, true);
    sd_error err = {0};
    pipe_merge *m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    if (m == NULL) return;
    sd_batch b;
    sd_batch_init(&b, s);
    pipe_merge_stats st;
    char key[16];
    for (int i = 0; i < 3; i++) {
        sd_batch_reset(&b);
        for (int j = 0; j < 3; j++) {
            snprintf(key, sizeof(key), "k%d", i * 3 + j);
            tm_row(&b, key, "first", 1.0f, 100, TODAY);
        }
        CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
    }
    delta_snapshot *snap = NULL;
    CHECK_OK(delta_snapshot_load(table, -1, &snap, &err), &err);
    delta_optimize_metrics om;
    CHECK_OK(delta_optimize(snap, NULL, &om, &err), &err);
    CHECK_INT(om.num_files_removed, 3);
    delta_snapshot_free(snap);
    snap = NULL;
    CHECK_OK(delta_snapshot_load(table, -1, &snap, &err), &err);
    delta_vacuum_plan plan;
    CHECK_OK(delta_vacuum_plan_make(snap, 0, true, sd_now_ms() + 1000, &plan, &err), &err);
    CHECK_INT(plan.count, 3);
    size_t deleted = 0;
    CHECK_OK(delta_vacuum_execute(snap, &plan, &deleted, &err), &err);
    CHECK_INT(deleted, 3);
    delta_vacuum_plan_free(&plan);
    delta_snapshot_free(snap);
    sd_batch_reset(&b);
    tm_row(&b, "k4", "second", 2.0f, 200, TODAY);
    CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
    CHECK(st.retries >= 1);
    CHECK_INT(st.updated, 1);
    size_t n;
    tm_rec *r = tm_read(table, &n);
    CHECK_INT(n, 9);
    const tm_rec *x;
    CHECK((x = tm_find(r, n, "k4")) && strcmp(x->user, "second") == 0);
    free(r);
    sd_batch_free(&b);
    pipe_merge_close(m);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

/* A few hundred random batches against a reference model (key -> row).
 * With `dv` the table has delta.enableDeletionVectors=true: updates mark
 * the old rows deleted with deletion vectors instead of rewriting files. */
static void tm_random_model(bool dv) {
    sd_schema *s = tm_schema();
    char *table = tm_table_with(dv ? "model-dv" : "model", s, true, dv);
    pipe_config cfg;
    tm_config(&cfg, table, true);
    sd_error err = {0};
    pipe_merge *m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    if (m == NULL) return;
    enum { NKEYS = 200, NBATCH = 200 };
    tm_rec model[NKEYS];
    bool present[NKEYS] = {false};
    sd_batch b;
    sd_batch_init(&b, s);
    uint64_t rnd = 99;
#define RND() (rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL, (rnd >> 33))
    int64_t inserted = 0, updated = 0, unchanged = 0, files_removed = 0;
    for (int batch = 0; batch < NBATCH; batch++) {
        sd_batch_reset(&b);
        bool used[NKEYS] = {false};
        int nrows = 1 + (int)(RND() % 15);
        for (int i = 0; i < nrows; i++) {
            int k = (int)(RND() % NKEYS);
            if (used[k]) continue;
            used[k] = true;
            tm_rec r;
            memset(&r, 0, sizeof(r));
            snprintf(r.key, sizeof(r.key), "e-%03d", k);
            bool redeliver = present[k] && RND() % 4 == 0;
            if (redeliver) {
                r = model[k];
            } else {
                snprintf(r.user, sizeof(r.user), "u%d", (int)(RND() % 5));
                r.rating = (float)(RND() % 100) / 10.0f;
                r.ts = (int64_t)(RND() % 50);
                r.day = TODAY - (int32_t)(RND() % 6);
            }
            tm_row(&b, r.key, r.user, r.rating, r.ts, r.day);
            if (!present[k]) {
                model[k] = r;
                present[k] = true;
                inserted++;
            } else if (r.ts >= model[k].ts) {
                bool same = strcmp(r.user, model[k].user) == 0 && r.rating == model[k].rating &&
                            r.ts == model[k].ts && r.day == model[k].day;
                model[k] = r;
                if (same)
                    unchanged++;
                else
                    updated++;
            } else {
                unchanged++;
            }
        }
        int32_t p = 0;
        int64_t off = batch + 1;
        pipe_merge_stats st;
        sd_status rc = pipe_merge_commit(m, &b, "sd-", "t", &p, &off, 1, TODAY, &st, &err);
        CHECK_OK(rc, &err);
        if (rc != SD_OK) break;
        inserted -= st.inserted;
        updated -= st.updated;
        unchanged -= st.unchanged;
        files_removed += st.files_removed;
    }
#undef RND
    CHECK_INT(inserted, 0);
    CHECK_INT(updated, 0);
    CHECK_INT(unchanged, 0);
    size_t n;
    tm_rec *r = tm_read(table, &n);
    size_t expect = 0;
    for (int k = 0; k < NKEYS; k++) expect += present[k];
    CHECK_INT(n, expect);
    for (int k = 0; k < NKEYS; k++) {
        if (!present[k]) continue;
        const tm_rec *x = tm_find(r, n, model[k].key);
        CHECK(x != NULL);
        if (x == NULL) continue;
        CHECK_STR(x->user, model[k].user);
        CHECK(x->rating == model[k].rating);
        CHECK_INT(x->ts, model[k].ts);
        CHECK_INT(x->day, model[k].day);
    }
    free(r);
    /* Checkpoints were written every 10 commits. */
    char *cp = sd_xasprintf("%s/_delta_log/_last_checkpoint", table);
    FILE *f = fopen(cp, "r");
    CHECK(f != NULL);
    if (f) fclose(f);
    free(cp);
    int32_t gp;
    int64_t go;
    CHECK_INT(pipe_merge_offsets(m, "sd-", "t", &gp, &go, 1), 1);
    CHECK_INT(go, NBATCH);
    sd_buf log = SD_BUF_INIT;
    tm_log_text(table, &log);
    if (dv) {
        /* No file was rewritten: updates left deletion vectors. */
        CHECK_INT(files_removed, 0);
        CHECK(strstr(sd_buf_cstr(&log), "\"deletionVector\":{\"storageType\":\"u\"") != NULL);
    } else {
        CHECK(files_removed > 0);
        CHECK(strstr(sd_buf_cstr(&log), "\"deletionVector\"") == NULL);
    }
    sd_buf_free(&log);
    CHECK_INT(tm_orphans(table), 0);
    sd_batch_free(&b);
    pipe_merge_close(m);
    /* A fresh merger builds its index from the table (DVs applied) and
     * agrees with the model: every key present, at its model row. */
    m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    if (m != NULL) {
        CHECK_INT(pipe_merge_index_keys(m), (int64_t)expect);
        for (int k = 0; k < NKEYS; k++) {
            int64_t order = -1;
            if (!present[k]) continue;
            CHECK(pipe_merge_index_get(m, model[k].key, strlen(model[k].key), NULL, NULL, &order));
            CHECK_INT(order, model[k].ts);
        }
        pipe_merge_close(m);
    }
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

TEST(pipe_merge_random_model) {
    tm_random_model(false);
}

TEST(pipe_merge_random_model_dv) {
    tm_random_model(true);
}

TEST(pipe_merge_dv_config_needs_feature) {
    /* sink.deletion_vectors on a table without the feature: refused at
     * open, naming the fix. */
    sd_schema *s = tm_schema();
    char *table = tm_table("dv-nofeature", s, true);
    pipe_config cfg;
    tm_config(&cfg, table, true);
    cfg.deletion_vectors = true;
    sd_error err = {0};
    pipe_merge *m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m == NULL);
    CHECK_INT(err.code, SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "delta.enableDeletionVectors=true") != NULL);
    pipe_merge_close(m);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

/* Resident memory of this process in bytes (/proc/self/statm), 0 if
 * unknown. */
static int64_t tm_rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%lld %lld", &size, &rss) != 2) rss = 0;
        fclose(f);
    }
    return (int64_t)rss * 4096;
}

/* Throughput: a table of N rows (default 100000; SD_MERGE_BENCH_ROWS=1000000
 * for the full measurement), then batches of N/10 rows with 10% updates. */
TEST(pipe_merge_bench) {
    const char *env = getenv("SD_MERGE_BENCH_ROWS");
    int64_t total = env ? atoll(env) : 100000;
    if (total < 1000) total = 1000;
    int64_t per = total / 10;
    sd_schema *s = tm_schema();
    char *table = tm_table("bench", s, true);
    pipe_config cfg;
    tm_config(&cfg, table, true);
    sd_error err = {0};
    pipe_merge *m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    if (m == NULL) return;
    sd_batch b;
    sd_batch_init(&b, s);
    char key[64];
    uint64_t rnd = 7;
    int64_t bytes_written = 0, next_key = 0;
    int64_t t0 = sd_now_ns();
    for (int i = 0; i < 10; i++) {
        sd_batch_reset(&b);
        for (int64_t j = 0; j < per; j++, next_key++) {
            snprintf(key, sizeof(key), "%08llx-0000-4000-8000-%012llx",
                     (unsigned long long)next_key & 0xffffffffULL,
                     ((unsigned long long)next_key * 7919) & 0xffffffffffffULL);
            tm_row(&b, key, "user", 5.0f, 1000, TODAY - (int32_t)(next_key % 6));
        }
        pipe_merge_stats st;
        CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
        bytes_written += st.bytes_added;
    }
    double load_s = (double)(sd_now_ns() - t0) / 1e9;
    int64_t load_bytes = bytes_written;
    int64_t merge_rows = 0;
    int64_t t1 = sd_now_ns();
    for (int i = 0; i < 3; i++) {
        sd_batch_reset(&b);
        for (int64_t j = 0; j < per; j++) {
            int64_t k, nupd = per / 10;
            if (j < nupd) {
                /* Distinct existing keys, spread over the whole table. */
                rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
                k = (int64_t)((rnd >> 33) % 97 + (uint64_t)j * (uint64_t)(total / nupd)) % total;
            } else {
                k = next_key++;
            }
            snprintf(key, sizeof(key), "%08llx-0000-4000-8000-%012llx",
                     (unsigned long long)k & 0xffffffffULL,
                     ((unsigned long long)k * 7919) & 0xffffffffffffULL);
            tm_row(&b, key, "user", 6.0f, 2000 + i, TODAY - (int32_t)(k % 6));
        }
        pipe_merge_stats st;
        CHECK_OK(tm_merge(m, &b, TODAY, &st, &err), &err);
        CHECK_INT(st.updated, per / 10);
        merge_rows += (int64_t)b.nrows;
        bytes_written += st.bytes_added;
    }
    double merge_s = (double)(sd_now_ns() - t1) / 1e9;
    delta_snapshot *snap = NULL;
    int64_t table_bytes = 0;
    CHECK_OK(delta_snapshot_load(table, -1, &snap, &err), &err);
    for (size_t i = 0; snap && i < delta_snapshot_num_files(snap); i++)
        table_bytes += delta_snapshot_file(snap, i)->add->size;
    printf("merge bench: load %lld rows in %.2f s (%.0f rows/s); 3 merges of %lld rows (10%% "
           "updates) into %lld rows: %.0f rows/s; bytes written %lld (load %lld, merges %lld), "
           "final table %lld: write amplification %.2f overall, %.2f per merge batch; index "
           "%lld keys\n",
           (long long)total, load_s, (double)total / load_s, (long long)per, (long long)total,
           (double)merge_rows / merge_s, (long long)bytes_written, (long long)load_bytes,
           (long long)(bytes_written - load_bytes), (long long)table_bytes,
           table_bytes ? (double)bytes_written / (double)table_bytes : 0.0,
           table_bytes ? (double)(bytes_written - load_bytes) / 3.0 / (double)table_bytes : 0.0,
           (long long)pipe_merge_index_keys(m));
    delta_snapshot_free(snap);
    sd_batch_free(&b);
    pipe_merge_close(m);
    /* Memory of a freshly built index (key and order columns read back). */
    int64_t rss0 = tm_rss(), t2 = sd_now_ns();
    m = pipe_merge_open(&cfg, s, TODAY, &err);
    CHECK(m != NULL);
    if (m) {
        int64_t keys = pipe_merge_index_keys(m);
        printf("merge bench: index built at open in %.2f s, %lld keys, about %.0f bytes/key "
               "resident\n",
               (double)(sd_now_ns() - t2) / 1e9, (long long)keys,
               keys ? (double)(tm_rss() - rss0) / (double)keys : 0.0);
    }
    pipe_merge_close(m);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}

/* Open refuses a missing table, a schema that differs, and a partitioning
 * other than the configuration's, naming what differs. */
TEST(pipe_merge_open_errors) {
    sd_schema *s = tm_schema();
    char *table = tm_table("errs", s, true);
    pipe_config cfg;
    tm_config(&cfg, table, true);
    sd_error err = {0};
    free(cfg.table);
    cfg.table = sd_xasprintf("%s/missing", unit_tmpdir());
    CHECK(pipe_merge_open(&cfg, s, TODAY, &err) == NULL);
    CHECK_INT(err.code, SD_ERR_NOT_FOUND);
    free(cfg.table);
    cfg.table = sd_xstrdup(table);
    sd_schema *other = sd_schema_new();
    sd_type_add_field(other, "event_id", SD_STRING, true);
    sd_type_add_field(other, "user_id", SD_STRING, true);
    sd_type_add_field(other, "rating", SD_DOUBLE, true);
    sd_type_add_field(other, "rating_timestamp", SD_INT64, true);
    sd_type_add_field(other, "rating_date", SD_DATE, true);
    sd_error_clear(&err);
    CHECK(pipe_merge_open(&cfg, other, TODAY, &err) == NULL);
    CHECK_INT(err.code, SD_ERR_ARG);
    CHECK(strstr(err.msg, "'rating float'") != NULL && strstr(err.msg, "'rating double'") != NULL);
    sd_schema_free(other);
    free(cfg.partition_by);
    cfg.partition_by = sd_xstrdup("");
    sd_error_clear(&err);
    CHECK(pipe_merge_open(&cfg, s, TODAY, &err) == NULL);
    CHECK_INT(err.code, SD_ERR_ARG);
    CHECK(strstr(err.msg, "rating_date") != NULL);
    pipe_config_free(&cfg);
    free(table);
    sd_schema_free(s);
}
