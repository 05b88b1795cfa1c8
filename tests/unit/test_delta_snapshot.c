/*
 * test_delta_snapshot.c - snapshots of every conformance table (versions
 * and live-file counts checked by reading their _delta_log by hand),
 * checkpoint replay against JSON-only replay, file skipping and reading
 * rows (partition columns, deletion vectors).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "delta/delta_internal.h"
#include "unit.h"

typedef struct table_expect {
    const char *name;
    int64_t version;
    size_t nfiles;
    int npartitions;
} table_expect;

/* Counted from the _delta_log JSON files: adds minus removes, per (path, DV). */
static const table_expect TABLES[] = {
    {"COVID-19_NYT", 0, 8, 0},
    {"checkpoints", 12, 12, 1},
    {"delta-0.2.0", 3, 3, 0}, /* from its checkpoint at version 3 */
    {"delta-0.8.0", 1, 2, 0},
    {"delta-0.8.0-null-partition", 0, 2, 1},
    {"delta-0.8.0-partitioned", 0, 6, 3},
    {"delta-0.8.0-special-partition", 0, 2, 1},
    {"delta-1.2.1-only-struct-stats", 12, 12, 0}, /* checkpoint 10 + 2 commits */
    {"delta-2.2.0-partitioned-types", 0, 3, 2},
    {"partition-type-primitives", 0, 16, 4},
    {"simple_table", 4, 5, 0},
    {"simple_table_with_checkpoint", 10, 11, 0}, /* from its checkpoint */
    {"table-with-dv-small", 1, 1, 0},
    {"table-without-dv-small", 0, 1, 0},
};

static delta_snapshot *load(const char *name, int64_t version) {
    char *path = sd_xasprintf("%s/%s", unit_conformance_dir(), name);
    sd_error err = {0};
    delta_snapshot *s = NULL;
    if (delta_snapshot_load(path, version, &s, &err) != SD_OK)
        unit_fail(__FILE__, __LINE__, "%s: %s", name, err.msg);
    free(path);
    return s;
}

TEST(delta_conformance_snapshots) {
    for (size_t i = 0; i < sizeof(TABLES) / sizeof(TABLES[0]); i++) {
        const table_expect *e = &TABLES[i];
        delta_snapshot *s = load(e->name, -1);
        if (s == NULL) continue;
        if (delta_snapshot_version(s) != e->version || delta_snapshot_num_files(s) != e->nfiles ||
            (int)delta_snapshot_metadata(s)->npartition_columns != e->npartitions)
            unit_fail(__FILE__, __LINE__, "%s: version %lld files %zu partitions %zu", e->name,
                      (long long)delta_snapshot_version(s), delta_snapshot_num_files(s),
                      delta_snapshot_metadata(s)->npartition_columns);
        delta_snapshot_free(s);
    }
}

TEST(delta_conformance_details) {
    delta_snapshot *s = load("delta-0.2.0", -1);
    if (s != NULL) {
        /* The txn lives in the checkpoint only (commit 3 was checkpointed). */
        CHECK_INT(delta_snapshot_txn_version(s, "e4a20b59-dd0e-4c50-b074-e8ae4786df30"), 0);
        delta_snapshot_free(s);
    }
    s = load("table-with-dv-small", -1);
    if (s != NULL) {
        const delta_protocol *p = delta_snapshot_protocol(s);
        CHECK(p->min_reader_version == 3 && p->nreader_features == 1);
        const delta_file *f = delta_snapshot_file(s, 0);
        CHECK(f->add->has_dv && f->add->dv.cardinality == 2);
        CHECK_INT(delta_snapshot_commit_timestamp(s, 1) > 0, 1);
        delta_snapshot_free(s);
    }
    s = load("table-with-dv-small", 0);
    if (s != NULL) {
        CHECK(!delta_snapshot_file(s, 0)->add->has_dv);
        delta_snapshot_free(s);
    }
    s = load("delta-0.8.0-special-partition", -1);
    if (s != NULL) {
        const delta_file *f = delta_snapshot_file(s, 0);
        CHECK_STR(f->add->path,
                  "x=A%252FA/part-00007-b350e235-2832-45df-9918-6cab4f7578f7.c000.snappy.parquet");
        CHECK(f->partition_values[0].u.s.len == 3 &&
              memcmp(f->partition_values[0].u.s.ptr, "A/A", 3) == 0);
        delta_snapshot_free(s);
    }
    s = load("delta-2.2.0-partitioned-types", -1);
    if (s != NULL) {
        const delta_file *f = delta_snapshot_file(s, 0); /* c1=4/c2=c sorts first */
        CHECK_INT(f->partition_values[0].kind, SD_INT32);
        CHECK_INT(f->partition_values[0].u.i, 4);
        delta_snapshot_free(s);
    }
}

/* Copy the JSON commits (not the checkpoint) of a conformance table into a
 * scratch table, so the same version replays from JSON only. */
static char *json_only_copy(const char *name) {
    char *dst = sd_xasprintf("%s/jsononly-%s", unit_tmpdir(), name);
    char *cmd = sd_xasprintf("mkdir -p '%s/_delta_log' && cp '%s/%s/_delta_log/'*.json "
                             "'%s/_delta_log/'",
                             dst, unit_conformance_dir(), name, dst);
    if (system(cmd) != 0) unit_fail(__FILE__, __LINE__, "copy failed: %s", cmd);
    free(cmd);
    return dst;
}

/* Stats must match too: a checkpoint written with
 * delta.checkpoint.writeStatsAsJson=false (delta-1.2.1-only-struct-stats)
 * has only stats_parsed, which the reader turns back into the same JSON. */
static void check_same_files(const delta_snapshot *a, const delta_snapshot *b, const char *what) {
    if (delta_snapshot_num_files(a) != delta_snapshot_num_files(b)) {
        unit_fail(__FILE__, __LINE__, "%s: %zu vs %zu files", what, delta_snapshot_num_files(a),
                  delta_snapshot_num_files(b));
        return;
    }
    for (size_t i = 0; i < delta_snapshot_num_files(a); i++) {
        const delta_add *x = delta_snapshot_file(a, i)->add, *y = delta_snapshot_file(b, i)->add;
        if (strcmp(x->path, y->path) != 0 || x->size != y->size ||
            x->modification_time != y->modification_time ||
            (x->stats == NULL) != (y->stats == NULL) ||
            (x->stats && strcmp(x->stats, y->stats) != 0) ||
            x->partition_values.count != y->partition_values.count)
            unit_fail(__FILE__, __LINE__, "%s: file %zu differs: %s vs %s", what, i, x->path,
                      y->path);
    }
}

TEST(delta_checkpoint_replay_matches_json_replay) {
    const char *names[] = {"simple_table_with_checkpoint", "delta-1.2.1-only-struct-stats",
                           "delta-0.2.0"};
    for (size_t i = 0; i < 3; i++) {
        delta_snapshot *cp = load(names[i], -1);
        char *copy = json_only_copy(names[i]);
        sd_error err = {0};
        delta_snapshot *js = NULL;
        CHECK_OK(delta_snapshot_load(copy, -1, &js, &err), &err);
        if (cp != NULL && js != NULL) {
            CHECK_INT(delta_snapshot_version(cp), delta_snapshot_version(js));
            check_same_files(cp, js, names[i]);
            CHECK(sd_type_equal(delta_snapshot_schema(cp), delta_snapshot_schema(js)));
            CHECK_STR(delta_snapshot_metadata(cp)->id, delta_snapshot_metadata(js)->id);
        }
        delta_snapshot_free(cp);
        delta_snapshot_free(js);
        free(copy);
    }
}

/* ------------------------------------------------------------------------ */
/* Scans                                                                     */
/* ------------------------------------------------------------------------ */

static size_t scan_count(const delta_snapshot *s, const pq_predicate *p, int n, sd_status want,
                         int line) {
    const delta_file **files = NULL;
    size_t nf = 0;
    sd_error err = {0};
    sd_status st = delta_scan_files(s, p, n, &files, &nf, &err);
    if (st != want) unit_fail(__FILE__, line, "scan status %d: %s", st, err.msg);
    free(files);
    return nf;
}
#define SCAN(s, p, n) scan_count(s, p, n, SD_OK, __LINE__)

static sd_value int_lit(int64_t v) {
    sd_value x;
    memset(&x, 0, sizeof(x));
    x.kind = SD_INT64;
    x.u.i = v;
    return x;
}

static sd_value str_lit(const char *s) {
    sd_value x;
    memset(&x, 0, sizeof(x));
    x.kind = SD_STRING;
    x.u.s.ptr = (const uint8_t *)s;
    x.u.s.len = strlen(s);
    return x;
}

TEST(delta_scan_partition_pruning) {
    delta_snapshot *s = load("delta-0.8.0-partitioned", -1);
    if (s == NULL) return;
    pq_predicate p[2] = {{"year", PQ_EQ, str_lit("2020")}, {"month", PQ_EQ, str_lit("2")}};
    CHECK_INT(SCAN(s, p, 1), 3);
    CHECK_INT(SCAN(s, p, 2), 2);
    p[0].op = PQ_GT;
    CHECK_INT(SCAN(s, p, 1), 3); /* "2021" > "2020" */
    CHECK_INT(SCAN(s, NULL, 0), 6);
    pq_predicate bad = {"nope", PQ_EQ, int_lit(1)};
    CHECK_INT(scan_count(s, &bad, 1, SD_ERR_NOT_FOUND, __LINE__), 0);
    delta_snapshot_free(s);

    s = load("delta-2.2.0-partitioned-types", -1);
    if (s == NULL) return;
    pq_predicate q = {"c1", PQ_GE, int_lit(5)};
    CHECK_INT(SCAN(s, &q, 1), 2);
    q.op = PQ_EQ;
    CHECK_INT(SCAN(s, &q, 1), 1);
    q.value = str_lit("6"); /* text literal parsed as the column type */
    CHECK_INT(SCAN(s, &q, 1), 1);
    q.value = str_lit("six");
    CHECK_INT(scan_count(s, &q, 1, SD_ERR_FORMAT, __LINE__), 0);
    /* stats on the data column c3 (values 5, 6, 4) */
    pq_predicate c3 = {"c3", PQ_LT, int_lit(5)};
    CHECK_INT(SCAN(s, &c3, 1), 1);
    c3.op = PQ_LE;
    CHECK_INT(SCAN(s, &c3, 1), 2);
    c3.op = PQ_NE;
    CHECK_INT(SCAN(s, &c3, 1), 2);
    c3.op = PQ_IS_NULL;
    CHECK_INT(SCAN(s, &c3, 1), 0);
    c3.op = PQ_IS_NOT_NULL;
    CHECK_INT(SCAN(s, &c3, 1), 3);
    delta_snapshot_free(s);

    s = load("delta-0.8.0-null-partition", -1);
    if (s == NULL) return;
    pq_predicate k = {"k", PQ_IS_NULL, int_lit(0)};
    CHECK_INT(SCAN(s, &k, 1), 1);
    k.op = PQ_EQ;
    k.value = str_lit("A");
    CHECK_INT(SCAN(s, &k, 1), 1);
    delta_snapshot_free(s);
}

TEST(delta_scan_stats_from_stats_parsed) {
    /* Files 0..9 come from the checkpoint's stats_parsed, 10 and 11 from JSON. */
    delta_snapshot *s = load("delta-1.2.1-only-struct-stats", -1);
    if (s == NULL) return;
    pq_predicate p = {"integer", PQ_EQ, int_lit(3)};
    CHECK_INT(SCAN(s, &p, 1), 1);
    p.op = PQ_GE;
    p.value = int_lit(10);
    CHECK_INT(SCAN(s, &p, 1), 2);
    delta_snapshot_free(s);
}

TEST(delta_scan_stats_skipping) {
    delta_snapshot *s = load("delta-0.8.0", -1); /* files: value 0..2 and 2..4 */
    if (s == NULL) return;
    pq_predicate p = {"value", PQ_GT, int_lit(2)};
    CHECK_INT(SCAN(s, &p, 1), 1);
    p.op = PQ_EQ;
    CHECK_INT(SCAN(s, &p, 1), 2);
    p.value = int_lit(-1);
    CHECK_INT(SCAN(s, &p, 1), 0);
    p.op = PQ_GE;
    p.value = int_lit(5);
    CHECK_INT(SCAN(s, &p, 1), 0);
    delta_snapshot_free(s);
    /* No stats: never skipped. */
    s = load("simple_table", -1);
    if (s == NULL) return;
    pq_predicate q = {"id", PQ_EQ, int_lit(-1000)};
    CHECK_INT(SCAN(s, &q, 1), 5);
    delta_snapshot_free(s);
}

/* All rows of a table (column `col`, an integer column) in file order. */
static size_t read_ints(const delta_snapshot *s, const char *col, int64_t *out, size_t max) {
    size_t n = 0;
    sd_error err = {0};
    const char *cols[1] = {col};
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++) {
        delta_file_reader *r = delta_file_reader_open(s, delta_snapshot_file(s, i), cols, 1, &err);
        if (r == NULL) {
            unit_fail(__FILE__, __LINE__, "open: %s", err.msg);
            return n;
        }
        sd_batch b;
        bool more;
        while (delta_file_reader_next(r, &b, &more, &err) == SD_OK && more) {
            for (size_t k = 0; k < b.nrows && n < max; k++) {
                sd_value v = sd_column_get(&b.cols[0], k);
                out[n++] = v.is_null ? -999 : v.u.i;
            }
            sd_batch_free(&b);
        }
        if (err.code != SD_OK) unit_fail(__FILE__, __LINE__, "read: %s", err.msg);
        delta_file_reader_close(r);
    }
    return n;
}

TEST(delta_read_rows_with_deletion_vector) {
    delta_snapshot *s = load("table-with-dv-small", -1);
    if (s == NULL) return;
    int64_t v[32];
    size_t n = read_ints(s, "value", v, 32);
    CHECK_INT(n, 8);
    for (size_t i = 0; i < n && i < 8; i++) CHECK_INT(v[i], (int64_t)i + 1);
    delta_snapshot_free(s);
    /* Version 0 had no DV: all ten rows 0..9. */
    s = load("table-with-dv-small", 0);
    if (s == NULL) return;
    n = read_ints(s, "value", v, 32);
    CHECK_INT(n, 10);
    for (size_t i = 0; i < n && i < 10; i++) CHECK_INT(v[i], (int64_t)i);
    delta_snapshot_free(s);
}

TEST(delta_read_rows_with_partition_columns) {
    delta_snapshot *s = load("delta-2.2.0-partitioned-types", -1);
    if (s == NULL) return;
    sd_error err = {0};
    /* Default projection: the table schema's order c1, c2, c3. */
    int64_t c1 = 0, c3 = 0;
    char c2[8] = "";
    delta_file_reader *r = delta_file_reader_open(s, delta_snapshot_file(s, 1), NULL, 0, &err);
    CHECK(r != NULL);
    if (r != NULL) {
        const sd_schema *sc = delta_file_reader_schema(r);
        CHECK(sc->nchildren == 3 && strcmp(sc->children[1].name, "c2") == 0);
        sd_batch b;
        bool more;
        CHECK_OK(delta_file_reader_next(r, &b, &more, &err), &err);
        CHECK(more && b.nrows == 1);
        if (more && b.nrows == 1) {
            c1 = sd_column_get(&b.cols[0], 0).u.i;
            sd_value v2 = sd_column_get(&b.cols[1], 0);
            snprintf(c2, sizeof(c2), "%.*s", (int)v2.u.s.len, (const char *)v2.u.s.ptr);
            c3 = sd_column_get(&b.cols[2], 0).u.i;
            sd_batch_free(&b);
        }
        CHECK_OK(delta_file_reader_next(r, &b, &more, &err), &err);
        CHECK(!more);
        delta_file_reader_close(r);
    }
    CHECK_INT(c1, 5);
    CHECK_STR(c2, "b");
    CHECK_INT(c3, 6);
    delta_snapshot_free(s);

    s = load("delta-0.8.0-special-partition", -1);
    if (s == NULL) return;
    const char *cols[2] = {"y", "x"}; /* reordered projection */
    r = delta_file_reader_open(s, delta_snapshot_file(s, 0), cols, 2, &err);
    CHECK(r != NULL);
    if (r != NULL) {
        sd_batch b;
        bool more;
        CHECK_OK(delta_file_reader_next(r, &b, &more, &err), &err);
        if (more) {
            sd_value x = sd_column_get(&b.cols[1], 0);
            CHECK(x.u.s.len == 3 && memcmp(x.u.s.ptr, "A/A", 3) == 0);
            CHECK_INT(b.cols[0].type->kind, SD_INT64);
            sd_batch_free(&b);
        }
        delta_file_reader_close(r);
    }
    const char *bad[1] = {"zz"};
    sd_error_clear(&err);
    CHECK(delta_file_reader_open(s, delta_snapshot_file(s, 0), bad, 1, &err) == NULL);
    CHECK(strstr(err.msg, "column 'zz' is not in the table") != NULL);
    delta_snapshot_free(s);
}

/* Z85 (test side) of bytes whose length is a multiple of 4. */
static void z85(const uint8_t *p, size_t n, sd_buf *out) {
    static const char A[] =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = ((uint32_t)p[i] << 24) | ((uint32_t)p[i + 1] << 16) |
                     ((uint32_t)p[i + 2] << 8) | p[i + 3];
        char g[5];
        for (int k = 4; k >= 0; k--) {
            g[k] = A[v % 85];
            v /= 85;
        }
        sd_buf_append(out, g, 5);
    }
}

/* A table whose data file has struct, list and map columns and an inline
 * deletion vector: deleted rows vanish from every nested child too, and a
 * column added to the schema later reads as null. */
TEST(delta_read_nested_columns_with_inline_dv) {
    sd_schema *fs = sd_schema_new();
    sd_type_add_field(fs, "id", SD_INT32, true);
    sd_field *st = sd_type_add_field(fs, "s", SD_STRUCT, true);
    sd_type_add_field(&st->type, "name", SD_STRING, true);
    sd_field *l = sd_type_add_field(fs, "l", SD_LIST, true);
    sd_type_add_field(&l->type, "element", SD_INT64, true);
    sd_field *m = sd_type_add_field(fs, "m", SD_MAP, true);
    sd_type_add_field(&m->type, "key", SD_STRING, false);
    sd_type_add_field(&m->type, "value", SD_INT32, true);
    sd_batch b;
    sd_batch_init(&b, fs);
    for (int r = 0; r < 6; r++) {
        char name[16];
        snprintf(name, sizeof(name), "n%d", r);
        sd_column_append_i32(&b.cols[0], r);
        sd_column_append_bytes(&b.cols[1].children[0], name, strlen(name));
        sd_column_append_struct(&b.cols[1]);
        for (int k = 0; k < r; k++) sd_column_append_i64(&b.cols[2].children[0], r * 10 + k);
        sd_column_append_list(&b.cols[2], (size_t)r);
        sd_column_append_bytes(&b.cols[3].children[0], name, strlen(name));
        sd_column_append_i32(&b.cols[3].children[1], r);
        sd_column_append_list(&b.cols[3], 1);
    }
    b.nrows = 6;
    char *table = sd_xasprintf("%s/nested", unit_tmpdir());
    char *cmd = sd_xasprintf("mkdir -p '%s/_delta_log'", table);
    CHECK(system(cmd) == 0);
    char *file = sd_xasprintf("%s/part-0.parquet", table);
    sd_error err = {0};
    pq_writer_options opts;
    pq_writer_options_init(&opts);
    CHECK_OK(pq_write_file(file, &b, &opts, NULL, &err), &err);
    sd_batch_free(&b);

    /* Inline DV deleting rows 1 and 4: magic, 1 bucket, array container. */
    const uint8_t bm[] = {0xd1, 0xd3, 0x39, 0x64, 1, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0x3a, 0x30,
                          0,    0,    1,    0,    0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 1, 0, 4,    0};
    sd_buf dv = SD_BUF_INIT;
    z85(bm, sizeof(bm), &dv);
    /* The table schema has one more column than the file ("extra"). */
    char *log = sd_xasprintf(
        "{\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7,\"readerFeatures\":"
        "[\"deletionVectors\"],\"writerFeatures\":[\"deletionVectors\"]}}\n"
        "{\"metaData\":{\"id\":\"n\",\"format\":{\"provider\":\"parquet\",\"options\":{}},"
        "\"schemaString\":\"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":["
        "{\\\"name\\\":\\\"id\\\",\\\"type\\\":\\\"integer\\\",\\\"nullable\\\":true},"
        "{\\\"name\\\":\\\"s\\\",\\\"type\\\":{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":"
        "[{\\\"name\\\":\\\"name\\\",\\\"type\\\":\\\"string\\\",\\\"nullable\\\":true}]},"
        "\\\"nullable\\\":true},"
        "{\\\"name\\\":\\\"l\\\",\\\"type\\\":{\\\"type\\\":\\\"array\\\",\\\"elementType\\\":"
        "\\\"long\\\",\\\"containsNull\\\":true},\\\"nullable\\\":true},"
        "{\\\"name\\\":\\\"m\\\",\\\"type\\\":{\\\"type\\\":\\\"map\\\",\\\"keyType\\\":"
        "\\\"string\\\",\\\"valueType\\\":\\\"integer\\\",\\\"valueContainsNull\\\":true},"
        "\\\"nullable\\\":true},"
        "{\\\"name\\\":\\\"extra\\\",\\\"type\\\":\\\"double\\\",\\\"nullable\\\":true}]}\","
        "\"partitionColumns\":[],\"configuration\":{}}}\n"
        "{\"add\":{\"path\":\"part-0.parquet\",\"partitionValues\":{},\"size\":1,"
        "\"modificationTime\":1,\"dataChange\":true,\"deletionVector\":{\"storageType\":\"i\","
        "\"pathOrInlineDv\":\"%s\",\"sizeInBytes\":%zu,\"cardinality\":2}}}\n",
        sd_buf_cstr(&dv), sizeof(bm));
    char *c0 = sd_xasprintf("%s/_delta_log/00000000000000000000.json", table);
    FILE *f = fopen(c0, "w");
    if (f != NULL) {
        fputs(log, f);
        fclose(f);
    }
    delta_snapshot *s = NULL;
    CHECK_OK(delta_snapshot_load(table, -1, &s, &err), &err);
    if (s != NULL) {
        delta_file_reader *r = delta_file_reader_open(s, delta_snapshot_file(s, 0), NULL, 0, &err);
        CHECK(r != NULL);
        sd_batch out;
        bool more = false;
        if (r != NULL) CHECK_OK(delta_file_reader_next(r, &out, &more, &err), &err);
        CHECK(more);
        if (more) {
            static const int want[] = {0, 2, 3, 5};
            CHECK_INT(out.nrows, 4);
            CHECK_INT(out.ncols, 5);
            for (size_t i = 0; i < out.nrows && i < 4; i++) {
                int id = want[i];
                CHECK_INT(sd_column_get(&out.cols[0], i).u.i, id);
                sd_value nm = sd_column_get(&out.cols[1].children[0], i);
                char name[16];
                snprintf(name, sizeof(name), "n%d", id);
                CHECK(nm.u.s.len == strlen(name) && memcmp(nm.u.s.ptr, name, nm.u.s.len) == 0);
                const sd_column *lc = &out.cols[2];
                CHECK_INT(lc->offsets[i + 1] - lc->offsets[i], id);
                for (int64_t k = lc->offsets[i]; k < lc->offsets[i + 1]; k++)
                    CHECK_INT(sd_column_get(&lc->children[0], (size_t)k).u.i,
                              id * 10 + (k - lc->offsets[i]));
                const sd_column *mc = &out.cols[3];
                CHECK_INT(mc->offsets[i + 1] - mc->offsets[i], 1);
                CHECK_INT(sd_column_get(&mc->children[1], (size_t)mc->offsets[i]).u.i, id);
                CHECK(!sd_column_is_valid(&out.cols[4], i));
            }
            CHECK_INT(out.cols[2].children[0].len, 0 + 2 + 3 + 5);
            sd_batch_free(&out);
        }
        delta_file_reader_close(r);
        delta_snapshot_free(s);
    }
    free(c0);
    free(log);
    sd_buf_free(&dv);
    free(file);
    free(cmd);
    free(table);
    sd_schema_free(fs);
}

/* Row groups skipped by statistics keep the DV's row numbering right. */
TEST(delta_read_row_group_filter_with_dv) {
    sd_schema *fs = sd_schema_new();
    sd_type_add_field(fs, "id", SD_INT64, true);
    char *table = sd_xasprintf("%s/rgfilter", unit_tmpdir());
    char *cmd = sd_xasprintf("mkdir -p '%s/_delta_log'", table);
    CHECK(system(cmd) == 0);
    char *file = sd_xasprintf("%s/part-0.parquet", table);
    sd_error err = {0};
    pq_writer_options opts;
    pq_writer_options_init(&opts);
    opts.row_group_size = 1; /* every write becomes its own row group */
    pq_writer *w = pq_writer_open(file, fs, &opts, &err);
    CHECK(w != NULL);
    for (int g = 0; w != NULL && g < 3; g++) {
        sd_batch b;
        sd_batch_init(&b, fs);
        for (int k = 0; k < 4; k++) sd_column_append_i64(&b.cols[0], g * 4 + k);
        b.nrows = 4;
        CHECK_OK(pq_writer_write(w, &b, &err), &err);
        sd_batch_free(&b);
    }
    if (w != NULL) CHECK_OK(pq_writer_close(w, NULL, &err), &err);
    /* DV deleting global rows 1 and 9. */
    const uint8_t bm[] = {0xd1, 0xd3, 0x39, 0x64, 1, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0x3a, 0x30,
                          0,    0,    1,    0,    0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 1, 0, 9,    0};
    sd_buf dv = SD_BUF_INIT;
    z85(bm, sizeof(bm), &dv);
    char *log = sd_xasprintf(
        "{\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7,\"readerFeatures\":"
        "[\"deletionVectors\"],\"writerFeatures\":[\"deletionVectors\"]}}\n"
        "{\"metaData\":{\"id\":\"r\",\"format\":{\"provider\":\"parquet\",\"options\":{}},"
        "\"schemaString\":\"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":[{\\\"name\\\":"
        "\\\"id\\\",\\\"type\\\":\\\"long\\\",\\\"nullable\\\":true}]}\","
        "\"partitionColumns\":[],\"configuration\":{}}}\n"
        "{\"add\":{\"path\":\"part-0.parquet\",\"partitionValues\":{},\"size\":1,"
        "\"modificationTime\":1,\"dataChange\":true,\"deletionVector\":{\"storageType\":\"i\","
        "\"pathOrInlineDv\":\"%s\",\"sizeInBytes\":%zu,\"cardinality\":2}}}\n",
        sd_buf_cstr(&dv), sizeof(bm));
    char *c0 = sd_xasprintf("%s/_delta_log/00000000000000000000.json", table);
    FILE *f = fopen(c0, "w");
    if (f != NULL) {
        fputs(log, f);
        fclose(f);
    }
    delta_snapshot *s = NULL;
    CHECK_OK(delta_snapshot_load(table, -1, &s, &err), &err);
    if (s != NULL) {
        delta_file_reader *r = delta_file_reader_open(s, delta_snapshot_file(s, 0), NULL, 0, &err);
        CHECK(r != NULL);
        pq_predicate p = {"id", PQ_GE, int_lit(8)};
        if (r != NULL) CHECK_OK(delta_file_reader_set_filter(r, &p, 1, &err), &err);
        int64_t got[16];
        size_t n = 0, batches = 0;
        sd_batch out;
        bool more = r != NULL;
        while (more && delta_file_reader_next(r, &out, &more, &err) == SD_OK && more) {
            batches++;
            for (size_t i = 0; i < out.nrows && n < 16; i++)
                got[n++] = sd_column_get(&out.cols[0], i).u.i;
            sd_batch_free(&out);
        }
        /* Row group boundaries are the writer's choice; whatever they are,
         * groups before 8 are skipped and deleted row 9 is dropped. */
        CHECK(batches >= 1 && batches <= 3);
        CHECK_INT(n, 3);
        if (n == 3) CHECK(got[0] == 8 && got[1] == 10 && got[2] == 11);
        pq_predicate bad = {"zz", PQ_GE, int_lit(8)};
        sd_error_clear(&err);
        if (r != NULL) CHECK_INT(delta_file_reader_set_filter(r, &bad, 1, &err), SD_ERR_NOT_FOUND);
        delta_file_reader_close(r);
        delta_snapshot_free(s);
    }
    free(c0);
    free(log);
    sd_buf_free(&dv);
    free(file);
    free(cmd);
    free(table);
    sd_schema_free(fs);
}

TEST(delta_history_newest_first) {
    char *path = sd_xasprintf("%s/simple_table", unit_conformance_dir());
    delta_history_entry *h = NULL;
    size_t n = 0;
    sd_error err = {0};
    CHECK_OK(delta_history_read(path, 0, &h, &n, &err), &err);
    CHECK_INT(n, 5);
    if (n == 5) {
        static const char *ops[] = {"DELETE", "UPDATE", "WRITE", "MERGE", "WRITE"};
        for (size_t i = 0; i < 5; i++) {
            CHECK_INT(h[i].version, 4 - (int64_t)i);
            CHECK_STR(h[i].operation, ops[i]);
        }
        CHECK_INT(h[0].timestamp, 1587968626537LL);
        CHECK(h[4].commit_info != NULL && strstr(h[4].commit_info, "\"operation\":\"WRITE\""));
    }
    delta_history_free(h, n);
    CHECK_OK(delta_history_read(path, 2, &h, &n, &err), &err);
    CHECK_INT(n, 2);
    if (n == 2) CHECK_INT(h[1].version, 3);
    delta_history_free(h, n);
    free(path);
}
