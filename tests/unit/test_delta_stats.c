/*
 * test_delta_stats.c - describing new data files: stats JSON from the
 * Parquet writer's summary, partition value text, Hive partition
 * directories and add.path encoding; stats written here drive skipping.
 */
#include <stdio.h>
#include <stdlib.h>

#include "delta/delta_internal.h"
#include "unit.h"

static sd_schema *stats_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "id", SD_INT64, true);
    sd_type_add_field(s, "name", SD_STRING, true);
    sd_type_add_field(s, "ts", SD_TIMESTAMP, true);
    sd_type_add_field(s, "d", SD_DATE, true);
    sd_field *dec = sd_type_add_field(s, "price", SD_DECIMAL, true);
    dec->type.precision = 10;
    dec->type.scale = 2;
    sd_type_add_field(s, "ok", SD_BOOL, true);
    sd_field *st = sd_type_add_field(s, "s", SD_STRUCT, true);
    sd_type_add_field(&st->type, "x", SD_INT32, true);
    sd_field *l = sd_type_add_field(s, "l", SD_LIST, true);
    sd_type_add_field(&l->type, "element", SD_INT32, true);
    return s;
}

/* Three rows; row 2 has nulls in id, name and s.x. */
static void fill(sd_batch *b) {
    static const char *names[] = {"bob", "alice-has-a-very-long-name-beyond-thirty-two", NULL};
    for (int r = 0; r < 3; r++) {
        if (r == 2)
            sd_column_append_null(&b->cols[0]);
        else
            sd_column_append_i64(&b->cols[0], 10 * (r + 1));
        if (names[r])
            sd_column_append_bytes(&b->cols[1], names[r], strlen(names[r]));
        else
            sd_column_append_null(&b->cols[1]);
        sd_column_append_i64(&b->cols[2], 1700000000123456LL + r);
        sd_column_append_i32(&b->cols[3], 19723 + r);
        sd_column_append_decimal(&b->cols[4], -1230 + r * 1000);
        sd_column_append_bool(&b->cols[5], r == 1);
        if (r == 2)
            sd_column_append_null(&b->cols[6].children[0]);
        else
            sd_column_append_i32(&b->cols[6].children[0], r + 1);
        sd_column_append_struct(&b->cols[6]);
        sd_column_append_i32(&b->cols[7].children[0], r);
        sd_column_append_list(&b->cols[7], 1);
    }
    b->nrows = 3;
}

TEST(delta_stats_from_written_file) {
    sd_schema *schema = stats_schema();
    sd_batch b;
    sd_batch_init(&b, schema);
    fill(&b);
    char *file = sd_xasprintf("%s/stats.parquet", unit_tmpdir());
    pq_writer_options opts;
    pq_writer_options_init(&opts);
    pq_file_summary sum;
    memset(&sum, 0, sizeof(sum));
    sd_error err = {0};
    CHECK_OK(pq_write_file(file, &b, &opts, &sum, &err), &err);
    sd_buf out = SD_BUF_INIT;
    delta_stats_from_summary(&sum, &out);
    sd_json *j = sd_json_parse((const char *)out.data, out.len, &err);
    CHECK(j != NULL);
    if (j != NULL) {
        int64_t n = 0;
        CHECK(sd_json_as_int64(sd_json_get(j, "numRecords"), &n) && n == 3);
        const sd_json *mn = sd_json_get(j, "minValues"), *mx = sd_json_get(j, "maxValues");
        const sd_json *nc = sd_json_get(j, "nullCount");
        CHECK(sd_json_as_int64(sd_json_get(mn, "id"), &n) && n == 10);
        CHECK(sd_json_as_int64(sd_json_get(mx, "id"), &n) && n == 20);
        CHECK(sd_json_as_int64(sd_json_get(nc, "id"), &n) && n == 1);
        /* "alice..." is the min, cut to 32 characters; max "bob" is short. */
        CHECK_STR(sd_json_as_string(sd_json_get(mn, "name")), "alice-has-a-very-long-name-beyon");
        CHECK_STR(sd_json_as_string(sd_json_get(mx, "name")), "bob");
        CHECK_STR(sd_json_as_string(sd_json_get(mn, "ts")), "2023-11-14T22:13:20.123Z");
        CHECK_STR(sd_json_as_string(sd_json_get(mx, "d")), "2024-01-03");
        const sd_json *p = sd_json_get(mn, "price");
        CHECK(p != NULL && p->kind == SD_JSON_NUMBER && strcmp(p->text, "-12.30") == 0);
        CHECK(sd_json_get(mn, "ok") == NULL); /* no min/max for booleans */
        CHECK(sd_json_as_int64(sd_json_get(nc, "ok"), &n) && n == 0);
        CHECK(sd_json_as_int64(sd_json_get(sd_json_get(mx, "s"), "x"), &n) && n == 2);
        CHECK(sd_json_as_int64(sd_json_get(sd_json_get(nc, "s"), "x"), &n) && n == 1);
        CHECK(sd_json_get(mn, "l") == NULL && sd_json_get(nc, "l") == NULL);
        sd_json_free(j);
    }
    /* A max string longer than the prefix is left out. */
    pq_leaf_stats leaf = {.path = "name", .has_min_max = true, .null_count = 0};
    leaf.min.kind = leaf.max.kind = SD_STRING;
    leaf.min.u.s.ptr = (const uint8_t *)"a";
    leaf.min.u.s.len = 1;
    leaf.max.u.s.ptr = (const uint8_t *)"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";
    leaf.max.u.s.len = 36;
    pq_file_summary one = {.num_rows = 5, .nleaves = 1, .leaves = &leaf};
    sd_buf_reset(&out);
    delta_stats_from_summary(&one, &out);
    CHECK_STR(sd_buf_cstr(&out), "{\"numRecords\":5,\"minValues\":{\"name\":\"a\"},\"maxValues\":"
                                 "{},\"nullCount\":{\"name\":0}}");
    sd_buf_free(&out);
    pq_file_summary_free(&sum);
    sd_batch_free(&b);
    sd_schema_free(schema);
    free(file);
}

TEST(delta_partition_dir_and_path_encoding) {
    const char *cols[3] = {"x", "rating_date", "p"};
    sd_value v[3];
    memset(v, 0, sizeof(v));
    v[0].kind = SD_STRING;
    v[0].u.s.ptr = (const uint8_t *)"A/A";
    v[0].u.s.len = 3;
    v[1].kind = SD_DATE;
    v[1].u.i = 19723;
    v[2].kind = SD_INT32;
    v[2].is_null = true;
    sd_buf dir = SD_BUF_INIT, enc = SD_BUF_INIT;
    delta_partition_dir(cols, v, 3, &dir);
    CHECK_STR(sd_buf_cstr(&dir), "x=A%2FA/rating_date=2024-01-01/p=__HIVE_DEFAULT_PARTITION__/");
    sd_buf_append_str(&dir, "part 0.parquet");
    delta_path_encode(sd_buf_cstr(&dir), &enc);
    /* Spark logs the same form: x=A%252FA (see delta-0.8.0-special-partition). */
    CHECK_STR(sd_buf_cstr(&enc), "x=A%252FA/rating_date=2024-01-01/p=__HIVE_DEFAULT_PARTITION__/"
                                 "part%200.parquet");
    sd_error err = {0};
    char *back = delta_path_decode(sd_buf_cstr(&enc), &err);
    CHECK_STR(back, sd_buf_cstr(&dir));
    free(back);

    sd_buf t = SD_BUF_INIT;
    sd_value ts = {.kind = SD_TIMESTAMP};
    ts.u.i = 1500000;
    delta_partition_value_format(&ts, &t);
    CHECK_STR(sd_buf_cstr(&t), "1970-01-01 00:00:01.500000");
    sd_value dec = {.kind = SD_DECIMAL, .precision = 5, .scale = 2};
    dec.u.dec = -1230;
    sd_buf_reset(&t);
    delta_partition_value_format(&dec, &t);
    CHECK_STR(sd_buf_cstr(&t), "-12.30");
    /* The text parses back to the same value. */
    sd_type dt = {SD_DECIMAL, 5, 2, 0, NULL};
    sd_value again;
    CHECK_OK(delta_partition_value_parse("c", &dt, sd_buf_cstr(&t), &again, &err), &err);
    CHECK(again.u.dec == -1230);
    sd_buf_free(&t);
    sd_buf_free(&dir);
    sd_buf_free(&enc);
}

/* Files described with these stats are skipped by delta_scan_files. */
TEST(delta_stats_drive_skipping) {
    char *path = sd_xasprintf("%s/skiptable", unit_tmpdir());
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "id", SD_INT64, true);
    sd_type_add_field(s, "day", SD_DATE, true);
    const char *parts[1] = {"day"};
    sd_error err = {0};
    CHECK_OK(delta_table_create(path, s, parts, 1, NULL, &err), &err);
    sd_schema *fs = sd_schema_new();
    sd_type_add_field(fs, "id", SD_INT64, true);
    delta_snapshot *snap = NULL;
    CHECK_OK(delta_snapshot_load(path, -1, &snap, &err), &err);
    if (snap == NULL) return;
    delta_transaction *t = delta_transaction_begin(snap, "WRITE");
    for (int f = 0; f < 3; f++) {
        sd_value day = {.kind = SD_DATE};
        day.u.i = 19723 + f;
        sd_buf rel = SD_BUF_INIT, logged = SD_BUF_INIT, stats = SD_BUF_INIT, pv = SD_BUF_INIT;
        delta_partition_dir(parts, &day, 1, &rel);
        sd_buf_appendf(&rel, "part-%d.parquet", f);
        char *dir = sd_xasprintf("mkdir -p \"$(dirname '%s/%s')\"", path, sd_buf_cstr(&rel));
        CHECK(system(dir) == 0);
        free(dir);
        char *abs = sd_xasprintf("%s/%s", path, sd_buf_cstr(&rel));
        sd_batch b;
        sd_batch_init(&b, fs);
        for (int r = 0; r < 10; r++) sd_column_append_i64(&b.cols[0], f * 100 + r);
        b.nrows = 10;
        pq_writer_options opts;
        pq_writer_options_init(&opts);
        pq_file_summary sum;
        memset(&sum, 0, sizeof(sum));
        CHECK_OK(pq_write_file(abs, &b, &opts, &sum, &err), &err);
        delta_stats_from_summary(&sum, &stats);
        delta_path_encode(sd_buf_cstr(&rel), &logged);
        delta_partition_value_format(&day, &pv);
        delta_kv kv = {"day", sd_buf_cstr(&pv)};
        delta_add a = {0};
        a.path = sd_buf_cstr(&logged);
        a.partition_values = (delta_map){1, &kv};
        a.size = sum.file_size;
        a.modification_time = sd_now_ms();
        a.data_change = true;
        a.stats = sd_buf_cstr(&stats);
        a.base_row_id = a.default_row_commit_version = -1;
        delta_transaction_add(t, &a);
        pq_file_summary_free(&sum);
        sd_batch_free(&b);
        free(abs);
        sd_buf_free(&rel);
        sd_buf_free(&logged);
        sd_buf_free(&stats);
        sd_buf_free(&pv);
    }
    int64_t v;
    CHECK_OK(delta_transaction_commit(t, 0, &v, &err), &err);
    delta_transaction_free(t);
    delta_snapshot_free(snap);
    CHECK_OK(delta_snapshot_load(path, -1, &snap, &err), &err);
    if (snap != NULL) {
        sd_value lit = {.kind = SD_INT64};
        lit.u.i = 150;
        pq_predicate p = {"id", PQ_GE, lit};
        const delta_file **files = NULL;
        size_t n = 0;
        CHECK_OK(delta_scan_files(snap, &p, 1, &files, &n, &err), &err);
        CHECK_INT(n, 1); /* only ids 200..209 */
        if (n == 1) {
            int64_t rows = 0;
            delta_file_reader *r = delta_file_reader_open(snap, files[0], NULL, 0, &err);
            sd_batch out;
            bool more = r != NULL;
            while (more && delta_file_reader_next(r, &out, &more, &err) == SD_OK && more) {
                rows += (int64_t)out.nrows;
                CHECK_INT(sd_column_get(&out.cols[1], 0).u.i, 19725); /* day from the log */
                sd_batch_free(&out);
            }
            CHECK_INT(rows, 10);
            delta_file_reader_close(r);
        }
        free(files);
        delta_snapshot_free(snap);
    }
    sd_schema_free(fs);
    sd_schema_free(s);
    free(path);
}
