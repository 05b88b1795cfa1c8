/*
 * test_pipe_dedupe.c - the late filter and in-batch dedupe of a micro-batch
 * (pipe_dedupe.c): which rows survive, in which order, with their origins.
 */
#include <stdlib.h>

#include "pipeline/pipeline.h"
#include "unit.h"

/* event_id STRING, ts BIGINT, day DATE, tags ARRAY<STRING> */
static sd_schema *pdt_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "event_id", SD_STRING, true);
    sd_type_add_field(s, "ts", SD_INT64, true);
    sd_type_add_field(s, "day", SD_DATE, true);
    sd_field *tags = sd_type_add_field(s, "tags", SD_LIST, true);
    sd_type_add_field(&tags->type, "element", SD_STRING, true);
    return s;
}

static void pdt_row(sd_batch *b, const char *id, int64_t ts, int32_t day, const char *tag) {
    if (id)
        sd_column_append_bytes(&b->cols[0], id, strlen(id));
    else
        sd_column_append_null(&b->cols[0]);
    sd_column_append_i64(&b->cols[1], ts);
    sd_column_append_i32(&b->cols[2], day);
    sd_column_append_bytes(&b->cols[3].children[0], tag, strlen(tag));
    sd_column_append_bytes(&b->cols[3].children[0], "x", 1);
    sd_column_append_list(&b->cols[3], 2);
    b->nrows++;
}

static const char *pdt_str(const sd_column *c, size_t row, char *buf, size_t cap) {
    size_t n = (size_t)(c->offsets[row + 1] - c->offsets[row]);
    if (n >= cap) n = cap - 1;
    memcpy(buf, c->data.data + c->offsets[row], n);
    buf[n] = 0;
    return buf;
}

TEST(pipe_dedupe_newest_wins_ties_to_later_offset) {
    sd_schema *s = pdt_schema();
    sd_batch b;
    sd_batch_init(&b, s);
    pipe_row_origin org[6] = {{0, 10}, {1, 5}, {0, 11}, {1, 6}, {0, 12}, {2, 3}};
    pdt_row(&b, "a", 100, 1, "a1"); /* loses to a@200 */
    pdt_row(&b, "b", 100, 1, "b1"); /* tie with b (offset 6) -> loses */
    pdt_row(&b, "a", 200, 1, "a2"); /* winner of a */
    pdt_row(&b, "b", 100, 1, "b2"); /* winner of b (later offset) */
    pdt_row(&b, "a", 150, 1, "a3"); /* older than a2 -> loses */
    pdt_row(&b, NULL, 1, 1, "n");   /* null key kept */
    sd_error err = {0};
    int64_t dropped = -1;
    CHECK_OK(pipe_dedupe(&b, 0, 1, org, &dropped, &err), &err);
    CHECK_INT(dropped, 3);
    CHECK_INT(b.nrows, 3);
    CHECK_INT(b.cols[0].len, 3);
    char buf[32];
    CHECK_STR(pdt_str(&b.cols[0], 0, buf, sizeof buf), "a");
    CHECK_STR(pdt_str(&b.cols[0], 1, buf, sizeof buf), "b");
    CHECK(!sd_column_is_valid(&b.cols[0], 2));
    CHECK_INT(((int64_t *)b.cols[1].values)[0], 200);
    CHECK_INT(org[0].offset, 11);
    CHECK_INT(org[1].offset, 6);
    CHECK_INT(org[2].partition, 2);
    /* the nested column moved with its rows */
    const sd_column *tags = &b.cols[3];
    CHECK_INT(tags->len, 3);
    CHECK_INT(tags->offsets[3], 6);
    CHECK_INT(tags->children[0].len, 6);
    CHECK_STR(pdt_str(&tags->children[0], 0, buf, sizeof buf), "a2");
    CHECK_STR(pdt_str(&tags->children[0], 2, buf, sizeof buf), "b2");
    CHECK_STR(pdt_str(&tags->children[0], 4, buf, sizeof buf), "n");
    sd_batch_free(&b);
    sd_schema_free(s);
}

TEST(pipe_dedupe_without_order_column_keeps_later_row) {
    sd_schema *s = pdt_schema();
    sd_batch b;
    sd_batch_init(&b, s);
    pdt_row(&b, "k", 5, 1, "first");
    pdt_row(&b, "k", 1, 1, "second");
    sd_error err = {0};
    int64_t dropped = 0;
    CHECK_OK(pipe_dedupe(&b, 0, -1, NULL, &dropped, &err), &err);
    CHECK_INT(dropped, 1);
    CHECK_INT(b.nrows, 1);
    CHECK_INT(((int64_t *)b.cols[1].values)[0], 1);
    /* a nested key is refused with a message naming it */
    CHECK(pipe_dedupe(&b, 3, -1, NULL, &dropped, &err) == SD_ERR_ARG);
    CHECK(strstr(err.msg, "'tags'") != NULL);
    sd_batch_free(&b);
    sd_schema_free(s);
}

TEST(pipe_dedupe_many_keys) {
    sd_schema *s = pdt_schema();
    sd_batch b;
    sd_batch_init(&b, s);
    /* 3000 rows over 1000 keys; the last copy of each key has the largest ts */
    char id[16];
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 1000; k++) {
            snprintf(id, sizeof id, "key-%d", k);
            pdt_row(&b, id, r * 10 + k % 7, 1, "t");
        }
    sd_error err = {0};
    int64_t dropped = 0;
    CHECK_OK(pipe_dedupe(&b, 0, 1, NULL, &dropped, &err), &err);
    CHECK_INT(dropped, 2000);
    CHECK_INT(b.nrows, 1000);
    int64_t bad = 0;
    for (size_t i = 0; i < b.nrows; i++) bad += ((int64_t *)b.cols[1].values)[i] < 20;
    CHECK_INT(bad, 0);
    sd_batch_free(&b);
    sd_schema_free(s);
}

TEST(pipe_late_filter_drops_old_dates_keeps_nulls) {
    sd_schema *s = pdt_schema();
    sd_batch b;
    sd_batch_init(&b, s);
    pipe_row_origin org[4] = {{0, 1}, {0, 2}, {0, 3}, {0, 4}};
    pdt_row(&b, "a", 1, 19000, "a");
    pdt_row(&b, "b", 1, 18994, "b"); /* late */
    pdt_row(&b, "c", 1, 18995, "c"); /* exactly the bound: kept */
    pdt_row(&b, "d", 1, 0, "d");
    sd_column_ensure_valid(&b.cols[2]);
    b.cols[2].valid[3] = 0; /* null date: kept */
    sd_error err = {0};
    int64_t dropped = 0;
    CHECK_OK(pipe_late_filter(&b, 2, 18995, org, &dropped, &err), &err);
    CHECK_INT(dropped, 1);
    CHECK_INT(b.nrows, 3);
    char buf[8];
    CHECK_STR(pdt_str(&b.cols[0], 1, buf, sizeof buf), "c");
    CHECK_INT(org[1].offset, 3);
    CHECK(!sd_column_is_valid(&b.cols[2], 2));
    /* a string column is not a date */
    CHECK(pipe_late_filter(&b, 0, 18995, org, &dropped, &err) == SD_ERR_ARG);
    sd_batch_free(&b);
    sd_schema_free(s);
}

TEST(pipe_late_filter_timestamp_days) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "ts", SD_TIMESTAMP, false);
    sd_batch b;
    sd_batch_init(&b, s);
    int64_t day = 86400LL * 1000000LL;
    sd_column_append_i64(&b.cols[0], 10 * day - 1); /* day 9: late */
    sd_column_append_i64(&b.cols[0], 10 * day);     /* day 10 */
    sd_column_append_i64(&b.cols[0], -1);           /* day -1: late */
    b.nrows = 3;
    sd_error err = {0};
    int64_t dropped = 0;
    CHECK_OK(pipe_late_filter(&b, 0, 10, NULL, &dropped, &err), &err);
    CHECK_INT(dropped, 2);
    CHECK_INT(b.nrows, 1);
    CHECK_INT(((int64_t *)b.cols[0].values)[0], 10 * day);
    sd_batch_free(&b);
    sd_schema_free(s);
}

/* The progress line is valid JSON with Spark's field names and our counts. */
TEST(pipe_progress_json_and_human) {
    pipe_progress *p = calloc(1, sizeof(*p));
    snprintf(p->run_id, sizeof p->run_id, "%s", "00000000-0000-4000-8000-000000000001");
    p->batch_id = 7;
    p->timestamp_ms = 1700000000123LL; /* 2023-11-14T22:13:20.123Z */
    p->topic = "movie.ratings.v1";
    p->table = "/t/\"q\"";
    p->input_rows = 1000;
    p->input_rows_per_s = 2000;
    p->processed_rows_per_s = 4000.25;
    p->late = 5;
    p->deduplicated = 6;
    p->updated = 7;
    p->fetch_ms = 11;
    p->merge_ms = 60;
    p->merge_plan_ms = 21;
    p->merge_write_ms = 22;
    p->merge_commit_ms = 13;
    p->inserted = 8;
    p->table_version = 12;
    p->npartitions = 2;
    p->partitions[0] = 0;
    p->partitions[1] = 3;
    p->start_offsets[0] = 10;
    p->start_offsets[1] = 20;
    p->end_offsets[0] = 15;
    p->end_offsets[1] = 40;
    sd_buf b = SD_BUF_INIT;
    pipe_progress_format_json(p, &b);
    sd_error err = {0};
    sd_json *j = sd_json_parse((const char *)b.data, b.len, &err);
    CHECK(j != NULL);
    if (j != NULL) {
        int64_t v = 0;
        CHECK(sd_json_as_int64(sd_json_get(j, "batchId"), &v) && v == 7);
        CHECK(sd_json_as_int64(sd_json_get(j, "numInputRows"), &v) && v == 1000);
        CHECK_STR(sd_json_as_string(sd_json_get(j, "timestamp")), "2023-11-14T22:13:20.123Z");
        CHECK_STR(sd_json_as_string(sd_json_get(j, "id")), "/t/\"q\"");
        const sd_json *src = sd_json_get(j, "sources");
        CHECK(src != NULL && src->kind == SD_JSON_ARRAY && src->count == 1);
        if (src && src->count == 1) {
            const sd_json *end =
                sd_json_get(sd_json_get(&src->items[0], "endOffset"), "movie.ratings.v1");
            CHECK(sd_json_as_int64(sd_json_get(end, "3"), &v) && v == 40);
            const sd_json *start =
                sd_json_get(sd_json_get(&src->items[0], "startOffset"), "movie.ratings.v1");
            CHECK(sd_json_as_int64(sd_json_get(start, "0"), &v) && v == 10);
        }
        /* Spark's addBatch is the whole merge; its parts beside it. */
        const sd_json *dur = sd_json_get(j, "durationMs");
        CHECK(sd_json_as_int64(sd_json_get(dur, "getBatch"), &v) && v == 11);
        CHECK(sd_json_as_int64(sd_json_get(dur, "addBatch"), &v) && v == 60);
        CHECK(sd_json_as_int64(sd_json_get(dur, "merge"), &v) && v == 21);
        CHECK(sd_json_as_int64(sd_json_get(dur, "write"), &v) && v == 22);
        CHECK(sd_json_as_int64(sd_json_get(dur, "commit"), &v) && v == 13);
        const sd_json *ours = sd_json_get(j, "streamdelta");
        CHECK(sd_json_as_int64(sd_json_get(ours, "late"), &v) && v == 5);
        CHECK(sd_json_as_int64(sd_json_get(ours, "duplicates"), &v) && v == 6);
        CHECK(sd_json_as_int64(sd_json_get(ours, "tableVersion"), &v) && v == 12);
        double d = 0;
        CHECK(sd_json_as_double(sd_json_get(j, "processedRowsPerSecond"), &d) && d > 4000.1 &&
              d < 4000.4);
        sd_json_free(j);
    }
    sd_buf_reset(&b);
    pipe_progress_format_human(p, &b);
    const char *line = sd_buf_cstr(&b);
    CHECK(strncmp(line, "batch 7: 1000 rows", 18) == 0);
    CHECK(strstr(line, "late 5 dup 6 upd 7 ins 8") != NULL);
    CHECK(strstr(line, "| fetch 11 decode 0 transform 0 dlq 0 merge 21 write 22 commit 13 ms |") !=
          NULL);
    CHECK(strstr(line, "| v12 | next 0:15 3:40") != NULL);
    CHECK(strchr(line, '\n') == NULL);
    sd_buf_free(&b);
    free(p);
}

/* A random batch over few keys, some late days and null keys. */
static void pdt_random(sd_batch *b, pipe_row_origin *org, size_t n, unsigned seed) {
    char id[32], tag[32];
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        snprintf(id, sizeof id, "k%u", r % 97);
        snprintf(tag, sizeof tag, "t%zu", i);
        pdt_row(b, r % 31 == 0 ? NULL : id, (int64_t)(r % 5), (int32_t)(18990 + r % 11), tag);
        org[i] = (pipe_row_origin){(int32_t)(r % 3), (int64_t)(r % 7)};
    }
}

/* The one-pass late filter and dedupe (one compaction, runs of kept rows
 * moved as blocks) leaves exactly what the two steps leave one after the
 * other: same rows, same order, same nested values and origins. */
TEST(pipe_late_dedupe_equals_the_two_steps) {
    sd_schema *s = pdt_schema();
    for (unsigned seed = 1; seed <= 20; seed++) {
        size_t n = 50 + seed * 37;
        sd_batch a, b;
        sd_batch_init(&a, s);
        sd_batch_init(&b, s);
        pipe_row_origin *oa = calloc(n, sizeof *oa), *ob = calloc(n, sizeof *ob);
        pdt_random(&a, oa, n, seed);
        pdt_random(&b, ob, n, seed);
        sd_error err = {0};
        int64_t la = 0, da = 0, lb = 0, db = 0;
        CHECK_OK(pipe_late_filter(&a, 2, 18995, oa, &la, &err), &err);
        CHECK_OK(pipe_dedupe(&a, 0, 1, oa, &da, &err), &err);
        CHECK_OK(pipe_late_dedupe(&b, 2, 18995, 0, 1, ob, &lb, &db, &err), &err);
        CHECK_INT(lb, la);
        CHECK_INT(db, da);
        CHECK_INT(b.nrows, a.nrows);
        CHECK(la > 0 && da > 0);
        char x[32], y[32];
        for (size_t i = 0; i < a.nrows && i < b.nrows; i++) {
            CHECK(sd_column_is_valid(&a.cols[0], i) == sd_column_is_valid(&b.cols[0], i));
            CHECK_STR(pdt_str(&b.cols[0], i, x, sizeof x), pdt_str(&a.cols[0], i, y, sizeof y));
            CHECK_INT(((int64_t *)b.cols[1].values)[i], ((int64_t *)a.cols[1].values)[i]);
            CHECK_INT(((int32_t *)b.cols[2].values)[i], ((int32_t *)a.cols[2].values)[i]);
            CHECK_INT(b.cols[3].offsets[i + 1], a.cols[3].offsets[i + 1]);
            CHECK_STR(pdt_str(&b.cols[3].children[0], 2 * i, x, sizeof x),
                      pdt_str(&a.cols[3].children[0], 2 * i, y, sizeof y));
            CHECK_INT(ob[i].offset, oa[i].offset);
            CHECK_INT(ob[i].partition, oa[i].partition);
        }
        free(oa);
        free(ob);
        sd_batch_free(&a);
        sd_batch_free(&b);
    }
    sd_schema_free(s);
}
