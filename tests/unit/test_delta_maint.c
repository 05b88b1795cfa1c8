/*
 * test_delta_maint.c - OPTIMIZE and VACUUM (delta_optimize.c,
 * delta_vacuum.c): compaction keeps every row and bounds the file count
 * per partition, commits with dataChange=false, loses cleanly to a
 * concurrent rewrite; VACUUM deletes exactly the expired unreferenced
 * files and refuses a short retention unless forced.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "delta/delta.h"
#include "unit.h"

#define DAY0 20000 /* 2024-10-04 */

static sd_schema *maint_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "id", SD_INT64, false);
    sd_type_add_field(s, "day", SD_DATE, true);
    return s;
}

static char *maint_table(const char *name) {
    char *path = sd_xasprintf("%s/%s", unit_tmpdir(), name);
    sd_schema *s = maint_schema();
    const char *parts[1] = {"day"};
    delta_map cfg = {0};
    sd_error err = {0};
    CHECK_OK(delta_table_create(path, s, parts, 1, &cfg, &err), &err);
    sd_schema_free(s);
    return path;
}

static delta_snapshot *maint_snap(const char *path) {
    sd_error err = {0};
    delta_snapshot *s = NULL;
    if (delta_snapshot_load(path, -1, &s, &err) != SD_OK)
        unit_fail(__FILE__, __LINE__, "load %s: %s", path, err.msg);
    return s;
}

/* Commit one file of ids [first, first + rows) in partition DAY0 + day. */
static void maint_append(const char *table, int day, int64_t first, int rows, int file_no) {
    sd_schema *fs = sd_schema_new();
    sd_type_add_field(fs, "id", SD_INT64, false);
    sd_batch b;
    sd_batch_init(&b, fs);
    for (int r = 0; r < rows; r++) sd_column_append_i64(&b.cols[0], first + r);
    b.nrows = (size_t)rows;
    char *dir = sd_xasprintf("%s/day=%s", table, day == 0 ? "2024-10-04" : "2024-10-05");
    mkdir(dir, 0777);
    char *rel =
        sd_xasprintf("day=%s/part-%05d.parquet", day == 0 ? "2024-10-04" : "2024-10-05", file_no);
    char *full = sd_xasprintf("%s/%s", table, rel);
    pq_writer_options o;
    pq_writer_options_init(&o);
    pq_file_summary sum = {0};
    sd_error err = {0};
    CHECK_OK(pq_write_file(full, &b, &o, &sum, &err), &err);
    sd_buf stats = SD_BUF_INIT;
    delta_stats_from_summary(&sum, &stats);
    delta_kv kv = {"day", day == 0 ? "2024-10-04" : "2024-10-05"};
    delta_add a = {0};
    a.path = rel;
    a.partition_values = (delta_map){1, &kv};
    a.size = sum.file_size;
    a.modification_time = sd_now_ms();
    a.data_change = true;
    a.stats = sd_buf_cstr(&stats);
    a.base_row_id = -1;
    a.default_row_commit_version = -1;
    delta_snapshot *s = maint_snap(table);
    delta_transaction *t = delta_transaction_begin(s, "WRITE");
    delta_transaction_add(t, &a);
    CHECK_OK(delta_transaction_commit(t, 5, NULL, &err), &err);
    delta_transaction_free(t);
    delta_snapshot_free(s);
    pq_file_summary_free(&sum);
    sd_buf_free(&stats);
    sd_batch_free(&b);
    sd_schema_free(fs);
    free(dir);
    free(rel);
    free(full);
}

/* Sum and count of the ids of the table's latest version. */
static void maint_ids(const char *table, int64_t *sum, int64_t *count) {
    *sum = *count = 0;
    delta_snapshot *s = maint_snap(table);
    sd_error err = {0};
    for (size_t i = 0; s && i < delta_snapshot_num_files(s); i++) {
        const char *cols[] = {"id"};
        delta_file_reader *r = delta_file_reader_open(s, delta_snapshot_file(s, i), cols, 1, &err);
        CHECK(r != NULL);
        sd_batch b;
        bool more;
        while (r && delta_file_reader_next(r, &b, &more, &err) == SD_OK && more) {
            for (size_t k = 0; k < b.nrows; k++) *sum += ((int64_t *)b.cols[0].values)[k];
            *count += (int64_t)b.nrows;
            sd_batch_free(&b);
        }
        delta_file_reader_close(r);
    }
    delta_snapshot_free(s);
}

/* Live files per partition day=2024-10-04 / -05 and their total size. */
static void maint_files(const char *table, int n[2], int64_t bytes[2]) {
    n[0] = n[1] = 0;
    bytes[0] = bytes[1] = 0;
    delta_snapshot *s = maint_snap(table);
    for (size_t i = 0; s && i < delta_snapshot_num_files(s); i++) {
        const delta_file *f = delta_snapshot_file(s, i);
        int d = (int)(f->partition_values[0].u.i - DAY0);
        CHECK(d == 0 || d == 1);
        if (d != 0 && d != 1) continue;
        n[d]++;
        bytes[d] += f->add->size;
    }
    delta_snapshot_free(s);
}

static char *maint_read(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    sd_buf b = SD_BUF_INIT;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) sd_buf_append(&b, tmp, n);
    fclose(f);
    char *out = sd_xstrdup(sd_buf_cstr(&b));
    sd_buf_free(&b);
    return out;
}

static int maint_count_parquet(const char *dir) {
    char *cmd = sd_xasprintf("find '%s' -name '*.parquet' -not -path '*_delta_log*' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    free(cmd);
    return n;
}

TEST(delta_optimize_bin_packs_partitions) {
    char *table = maint_table("opt_bins");
    int64_t id = 1;
    for (int i = 0; i < 24; i++) { /* 16 files in day 0, 8 in day 1 */
        maint_append(table, i % 3 == 2, id, 40, i);
        id += 40;
    }
    int n0[2];
    int64_t b0[2];
    maint_files(table, n0, b0);
    CHECK_INT(n0[0], 16);
    CHECK_INT(n0[1], 8);
    int64_t sum0, cnt0;
    maint_ids(table, &sum0, &cnt0);
    CHECK_INT(cnt0, 24 * 40);
    CHECK_INT(sum0, (24 * 40) * (24 * 40 + 1) / 2);
    /* A target of about five input files: each partition ends with at most
     * ceil(bytes / target) files. */
    int64_t target = b0[0] / 16 * 5;
    delta_snapshot *s = maint_snap(table);
    delta_optimize_options o = {.target_size = target, .min_files = 2, .max_retries = 3};
    delta_optimize_metrics m;
    sd_error err = {0};
    CHECK_OK(delta_optimize(s, &o, &m, &err), &err);
    delta_snapshot_free(s);
    CHECK_INT(m.version, 25);
    CHECK_INT(m.partitions_optimized, 2);
    CHECK_INT(m.total_considered_files, 24);
    int n1[2];
    int64_t b1[2];
    maint_files(table, n1, b1);
    for (int d = 0; d < 2; d++) CHECK(n1[d] <= (b0[d] + target - 1) / target);
    CHECK(n1[0] >= 2 && n1[1] >= 1);
    CHECK_INT(m.num_files_removed - m.num_files_added, 24 - n1[0] - n1[1]);
    int64_t sum1, cnt1;
    maint_ids(table, &sum1, &cnt1);
    CHECK_INT(cnt1, cnt0);
    CHECK_INT(sum1, sum0);
    /* The commit changes no data and says what it did. */
    char *commit = sd_xasprintf("%s/_delta_log/%020d.json", table, 25);
    char *text = maint_read(commit);
    CHECK(text != NULL);
    if (text) {
        CHECK(strstr(text, "\"operation\":\"OPTIMIZE\"") != NULL);
        CHECK(strstr(text, "\"dataChange\":true") == NULL);
        CHECK(strstr(text, "\"dataChange\":false") != NULL);
        char want[64];
        snprintf(want, sizeof(want), "\"numRemovedFiles\":\"%lld\"",
                 (long long)m.num_files_removed);
        CHECK(strstr(text, want) != NULL);
        CHECK(strstr(text, "\"zOrderBy\":\"[]\"") != NULL);
    }
    /* Again: the compacted files compress better than their inputs, so
     * some may still be below the target and merge further; the rows and
     * the bound hold. */
    s = maint_snap(table);
    CHECK_OK(delta_optimize(s, &o, &m, &err), &err);
    delta_snapshot_free(s);
    int n2[2];
    int64_t b2[2];
    maint_files(table, n2, b2);
    for (int d = 0; d < 2; d++) CHECK(n2[d] <= n1[d]);
    maint_ids(table, &sum1, &cnt1);
    CHECK_INT(sum1, sum0);
    /* A target below every file's size: nothing to do, no commit. */
    s = maint_snap(table);
    delta_optimize_options tiny = {.target_size = 16};
    CHECK_OK(delta_optimize(s, &tiny, &m, &err), &err);
    CHECK_INT(m.version, -1);
    CHECK_INT(m.total_files_skipped, n2[0] + n2[1]);
    delta_snapshot_free(s);
    /* The version before OPTIMIZE still reads its files. */
    delta_snapshot *old = NULL;
    CHECK_OK(delta_snapshot_load(table, 24, &old, &err), &err);
    if (old) CHECK_INT(delta_snapshot_num_files(old), 24);
    delta_snapshot_free(old);
    free(text);
    free(commit);
    free(table);
}

/* A bytes cap (auto-compaction's bound per micro-batch): files that do
 * not fit are passed over, smaller ones after them still go in; the commit
 * records auto=true when asked. */
TEST(delta_optimize_bytes_cap_and_auto) {
    char *table = maint_table("opt-cap");
    maint_append(table, 0, 0, 5000, 0); /* sorts first, larger than the cap */
    for (int i = 1; i <= 4; i++) maint_append(table, 0, 10000 + i, 1, i);
    delta_snapshot *s = maint_snap(table);
    int64_t tiny = 0, big = 0;
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++) {
        const delta_add *a = delta_snapshot_file(s, i)->add;
        if (strstr(a->path, "part-00000"))
            big = a->size;
        else
            tiny += a->size;
    }
    CHECK(big > tiny + 16);
    delta_optimize_options o = {.max_bytes = tiny + 16, .auto_compact = true, .max_retries = -1};
    delta_optimize_metrics m;
    sd_error err = {0};
    CHECK_OK(delta_optimize(s, &o, &m, &err), &err);
    CHECK_INT(m.num_files_removed, 4);
    CHECK_INT(m.num_files_added, 1);
    CHECK_INT(m.rows_written, 4);
    CHECK_INT(m.bytes_removed, tiny);
    delta_snapshot_free(s);
    char *path = sd_xasprintf("%s/_delta_log/%020lld.json", table, (long long)m.version);
    sd_buf text = SD_BUF_INIT;
    CHECK_OK(sd_read_file(path, &text, &err), &err);
    CHECK(strstr(sd_buf_cstr(&text), "\"auto\":true") != NULL);
    sd_buf_free(&text);
    free(path);
    free(table);
}

TEST(delta_optimize_predicate_and_refusals) {
    char *table = maint_table("opt_pred");
    for (int i = 0; i < 6; i++) maint_append(table, i % 2, 1 + i * 10, 10, i);
    delta_snapshot *s = maint_snap(table);
    pq_predicate p = {.path = "day", .op = PQ_EQ};
    p.value.kind = SD_DATE;
    p.value.u.i = DAY0 + 1;
    delta_optimize_options o = {
        .preds = &p, .npreds = 1, .predicate_text = "day = '2024-10-05'", .target_size = 1 << 20};
    delta_optimize_metrics m;
    sd_error err = {0};
    CHECK_OK(delta_optimize(s, &o, &m, &err), &err);
    CHECK_INT(m.num_files_removed, 3);
    CHECK_INT(m.num_files_added, 1);
    CHECK_INT(m.partitions_optimized, 1);
    delta_snapshot_free(s);
    int n[2];
    int64_t b[2];
    maint_files(table, n, b);
    CHECK_INT(n[0], 3); /* the other partition is untouched */
    CHECK_INT(n[1], 1);
    /* Only partition columns may select. */
    s = maint_snap(table);
    pq_predicate q = {.path = "id", .op = PQ_GT};
    q.value.kind = SD_INT64;
    delta_optimize_options o2 = {.preds = &q, .npreds = 1};
    CHECK_INT(delta_optimize(s, &o2, &m, &err), SD_ERR_ARG);
    CHECK(strstr(err.msg, "'id' is not one") != NULL);
    /* min_files above the partition's small files: nothing happens. */
    sd_error_clear(&err);
    delta_optimize_options o3 = {.target_size = 1 << 20, .min_files = 4};
    CHECK_OK(delta_optimize(s, &o3, &m, &err), &err);
    CHECK_INT(m.version, -1);
    CHECK_INT(m.num_files_removed, 0);
    delta_snapshot_free(s);
    free(table);
}

TEST(delta_optimize_conflicts_with_concurrent_rewrite) {
    char *table = maint_table("opt_conflict");
    for (int i = 0; i < 4; i++) maint_append(table, 0, 1 + i * 10, 10, i);
    int before = maint_count_parquet(table);
    delta_snapshot *s = maint_snap(table);
    /* A concurrent writer (a MERGE, say) removes one of the files OPTIMIZE
     * is about to rewrite. */
    delta_snapshot *s2 = maint_snap(table);
    delta_transaction *t = delta_transaction_begin(s2, "MERGE");
    delta_transaction_remove(t, delta_snapshot_file(s2, 1), true);
    sd_error err = {0};
    CHECK_OK(delta_transaction_commit(t, 0, NULL, &err), &err);
    delta_transaction_free(t);
    delta_snapshot_free(s2);
    delta_optimize_options o = {.target_size = 1 << 20, .max_retries = 3};
    delta_optimize_metrics m;
    CHECK_INT(delta_optimize(s, &o, &m, &err), SD_ERR_CONFLICT);
    CHECK(strstr(err.msg, "run it again") != NULL);
    CHECK(strstr(err.msg, "part-00001.parquet") != NULL);
    delta_snapshot_free(s);
    /* The files OPTIMIZE wrote are gone again, the table is unchanged. */
    CHECK_INT(maint_count_parquet(table), before);
    int64_t sum, cnt;
    maint_ids(table, &sum, &cnt);
    CHECK_INT(cnt, 30);
    /* Re-run on a fresh snapshot: succeeds. */
    sd_error_clear(&err);
    s = maint_snap(table);
    CHECK_OK(delta_optimize(s, &o, &m, &err), &err);
    CHECK_INT(m.num_files_removed, 3);
    delta_snapshot_free(s);
    int64_t sum2, cnt2;
    maint_ids(table, &sum2, &cnt2);
    CHECK_INT(cnt2, 30);
    CHECK_INT(sum2, sum);
    free(table);
}

TEST(delta_optimize_drops_deletion_vector_rows) {
    char *src = sd_xasprintf("%s/table-with-dv-small", unit_conformance_dir());
    struct stat st;
    if (stat(src, &st) != 0) {
        unit_fail(__FILE__, __LINE__, "conformance table %s missing", src);
        free(src);
        return;
    }
    char *dst = sd_xasprintf("%s/opt_dv", unit_tmpdir());
    char *cmd = sd_xasprintf("cp -r '%s' '%s'", src, dst);
    CHECK_INT(system(cmd), 0);
    delta_snapshot *s = maint_snap(dst);
    CHECK(s && delta_snapshot_num_files(s) == 1 && delta_snapshot_file(s, 0)->add->has_dv);
    delta_optimize_metrics m;
    sd_error err = {0};
    CHECK_OK(delta_optimize(s, NULL, &m, &err), &err);
    CHECK_INT(m.num_files_removed, 1);
    CHECK_INT(m.num_files_added, 1);
    CHECK_INT(m.rows_written, 8); /* rows 0 and 9 of 0..9 were deleted */
    CHECK_INT(m.num_dvs_removed, 1);
    delta_snapshot_free(s);
    s = maint_snap(dst);
    CHECK(s && delta_snapshot_num_files(s) == 1 && !delta_snapshot_file(s, 0)->add->has_dv);
    delta_snapshot_free(s);
    free(cmd);
    free(dst);
    free(src);
}

static void maint_touch(const char *path, int64_t mtime_ms) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("x", f);
        fclose(f);
    }
    struct timeval tv[2];
    tv[0].tv_sec = tv[1].tv_sec = (time_t)(mtime_ms / 1000);
    tv[0].tv_usec = tv[1].tv_usec = 0;
    CHECK(utimes(path, tv) == 0);
}

static bool maint_exists(const char *table, const char *rel) {
    char *p = sd_xasprintf("%s/%s", table, rel);
    struct stat st;
    bool ok = stat(p, &st) == 0;
    free(p);
    return ok;
}

TEST(delta_vacuum_deletes_expired_unreferenced_files) {
    char *table = maint_table("vac");
    for (int i = 0; i < 3; i++) maint_append(table, 0, 1 + i * 10, 10, i);
    /* Remove part-00000 (tombstone now). */
    delta_snapshot *s = maint_snap(table);
    delta_transaction *t = delta_transaction_begin(s, "DELETE");
    delta_transaction_remove(t, delta_snapshot_file(s, 0), true);
    sd_error err = {0};
    CHECK_OK(delta_transaction_commit(t, 0, NULL, &err), &err);
    delta_transaction_free(t);
    delta_snapshot_free(s);
    int64_t now = sd_now_ms();
    int64_t day = 86400000LL;
    char *p;
    /* Orphans: an old one, a fresh one; hidden ones that are never touched. */
    p = sd_xasprintf("%s/day=2024-10-04/orphan-old.parquet", table);
    maint_touch(p, now - 10 * day);
    free(p);
    p = sd_xasprintf("%s/orphan-new.parquet", table);
    maint_touch(p, now);
    free(p);
    p = sd_xasprintf("%s/_hidden.parquet", table);
    maint_touch(p, now - 10 * day);
    free(p);
    p = sd_xasprintf("%s/.crc-old", table);
    maint_touch(p, now - 10 * day);
    free(p);

    s = maint_snap(table);
    delta_vacuum_plan plan;
    /* Shorter than the default week: refused without force. */
    CHECK_INT(delta_vacuum_plan_make(s, day, false, now + 2 * day, &plan, &err), SD_ERR_ARG);
    CHECK(strstr(err.msg, "168 hours") != NULL);
    CHECK_INT(plan.count, 0);
    sd_error_clear(&err);
    /* Default retention now: the tombstone is too young, only the old
     * orphan goes. */
    CHECK_OK(delta_vacuum_plan_make(s, -1, false, now, &plan, &err), &err);
    CHECK_INT(plan.count, 1);
    if (plan.count == 1) CHECK_STR(plan.files[0].path, "day=2024-10-04/orphan-old.parquet");
    CHECK_INT(plan.retention_ms, 7 * day);
    delta_vacuum_plan_free(&plan);
    /* One day, forced, two days later: the removed file and both orphans
     * whose mtime is older than the cutoff. */
    CHECK_OK(delta_vacuum_plan_make(s, day, true, now + 2 * day, &plan, &err), &err);
    CHECK_INT(plan.count, 3);
    if (plan.count == 3) {
        CHECK_STR(plan.files[0].path, "day=2024-10-04/orphan-old.parquet");
        CHECK_STR(plan.files[1].path, "day=2024-10-04/part-00000.parquet");
        CHECK(plan.files[1].tombstoned);
        CHECK_STR(plan.files[2].path, "orphan-new.parquet");
    }
    CHECK_INT(plan.num_dirs, 2);
    size_t deleted = 0;
    CHECK_OK(delta_vacuum_execute(s, &plan, &deleted, &err), &err);
    CHECK_INT(deleted, 3);
    delta_vacuum_plan_free(&plan);
    delta_snapshot_free(s);
    CHECK(!maint_exists(table, "day=2024-10-04/part-00000.parquet"));
    CHECK(!maint_exists(table, "orphan-new.parquet"));
    CHECK(maint_exists(table, "day=2024-10-04/part-00001.parquet"));
    CHECK(maint_exists(table, "day=2024-10-04/part-00002.parquet"));
    CHECK(maint_exists(table, "_hidden.parquet"));
    CHECK(maint_exists(table, ".crc-old"));
    /* VACUUM START and END were logged as versions 5 and 6. */
    delta_history_entry *h = NULL;
    size_t nh = 0;
    CHECK_OK(delta_history_read(table, 2, &h, &nh, &err), &err);
    CHECK_INT(nh, 2);
    if (nh == 2) {
        CHECK_STR(h[0].operation, "VACUUM END");
        CHECK_INT(h[0].version, 6);
        CHECK(strstr(h[0].commit_info, "\"numDeletedFiles\":\"3\"") != NULL);
        CHECK_STR(h[1].operation, "VACUUM START");
        CHECK(strstr(h[1].commit_info, "\"numFilesToDelete\":\"3\"") != NULL);
    }
    delta_history_free(h, nh);
    int64_t sum, cnt;
    maint_ids(table, &sum, &cnt);
    CHECK_INT(cnt, 20);
    free(table);
}

/* A live file logged by absolute URI stays referenced when the table is
 * opened through another path (a symlink): it must never look orphaned. */
TEST(delta_vacuum_keeps_files_logged_by_absolute_path) {
    char *table = maint_table("vac_abs");
    maint_append(table, 0, 1, 10, 0);
    char *real = realpath(table, NULL);
    CHECK(real != NULL);
    char *file = sd_xasprintf("%s/day=2024-10-04/abs.parquet", real ? real : table);
    maint_touch(file, sd_now_ms() - 30 * 86400000LL);
    char *uri = sd_xasprintf("file://%s", file);
    delta_kv kv = {"day", "2024-10-04"};
    delta_add a = {0};
    a.path = uri;
    a.partition_values = (delta_map){1, &kv};
    a.size = 1;
    a.data_change = true;
    a.base_row_id = -1;
    a.default_row_commit_version = -1;
    delta_snapshot *s = maint_snap(table);
    delta_transaction *t = delta_transaction_begin(s, "WRITE");
    delta_transaction_add(t, &a);
    sd_error err = {0};
    CHECK_OK(delta_transaction_commit(t, 0, NULL, &err), &err);
    delta_transaction_free(t);
    delta_snapshot_free(s);
    char *link = sd_xasprintf("%s/vac_abs_link", unit_tmpdir());
    CHECK(symlink(real ? real : table, link) == 0);
    s = maint_snap(link);
    delta_vacuum_plan plan;
    CHECK_OK(delta_vacuum_plan_make(s, 0, true, sd_now_ms() + 86400000LL, &plan, &err), &err);
    CHECK_INT(plan.count, 0);
    delta_vacuum_plan_free(&plan);
    delta_snapshot_free(s);
    free(link);
    free(uri);
    free(file);
    free(real);
    free(table);
}
