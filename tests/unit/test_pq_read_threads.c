/*
 * test_pq_read_threads.c - the two-thread decoding of a row group's columns
 * (pq_reader.c, pq_read_fields): the batch read on two threads equals the
 * rows written and the one-thread read, value by value; a file with two
 * corrupt columns reports the same error either way (the first corrupt
 * column in schema order); the PLAIN byte-array decoder's block copies give
 * the same values and bounds checks as a plain loop near page ends.
 */
#include <stdlib.h>

#include "parquet/parquet.h"
#include "parquet/pq_reader_internal.h"
#include "unit.h"

#define RT_ROWS 3000

/* Five columns of different kinds and sizes, so the two threads take
 * several each: a long id string (PLAIN: too many distinct values for the
 * small dictionary limit), a dictionary string with nulls, ints, doubles
 * with nulls, booleans. */
static sd_schema *rt_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "id", SD_STRING, false);
    sd_type_add_field(s, "code", SD_STRING, true);
    sd_type_add_field(s, "n", SD_INT64, false);
    sd_type_add_field(s, "x", SD_DOUBLE, true);
    sd_type_add_field(s, "ok", SD_BOOL, false);
    return s;
}

static void rt_fill(sd_batch *b) {
    char buf[96];
    for (int r = 0; r < RT_ROWS; r++) {
        /* lengths 1..90 so that values cross the 64-byte block size */
        int len = snprintf(buf, sizeof(buf), "id-%06d-", r);
        for (; len < 1 + r % 90; len++) buf[len] = (char)('a' + (r + len) % 26);
        sd_column_append_bytes(&b->cols[0], buf, (size_t)(1 + r % 90));
        if (r % 7 == 3) {
            sd_column_append_null(&b->cols[1]);
        } else {
            int n = snprintf(buf, sizeof(buf), "code-%d", r % 13);
            sd_column_append_bytes(&b->cols[1], buf, (size_t)n);
        }
        sd_column_append_i64(&b->cols[2], (int64_t)r * 1000003 - 77);
        if (r % 5 == 0)
            sd_column_append_null(&b->cols[3]);
        else
            sd_column_append_double(&b->cols[3], r * 0.25);
        sd_column_append_bool(&b->cols[4], r % 3 == 0);
    }
    b->nrows = RT_ROWS;
}

static void rt_write(const char *path, const sd_batch *b) {
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.page_size = 4096; /* several pages per chunk */
    o.dictionary_max = 2048;
    sd_error err = {0};
    CHECK_OK(pq_write_file(path, b, &o, NULL, &err), &err);
}

/* Every row of column `got` equals the same row of `want`. */
static void rt_check_column(const sd_column *got, const sd_column *want, const char *name) {
    if (got->len != want->len) {
        unit_fail(__FILE__, __LINE__, "column %s: %zu rows, expected %zu", name, got->len,
                  want->len);
        return;
    }
    for (size_t r = 0; r < got->len; r++) {
        sd_value a = sd_column_get(got, r), b = sd_column_get(want, r);
        if (a.is_null != b.is_null || (!a.is_null && sd_value_compare(&a, &b) != 0)) {
            unit_fail(__FILE__, __LINE__, "column %s differs at row %zu", name, r);
            return;
        }
    }
}

/* Read row group 0 of `path` with the given thread threshold. */
static sd_status rt_read(const char *path, int64_t min_bytes, sd_batch *out, sd_error *err) {
    pq_file *f = pq_file_open(path, err);
    if (f == NULL) return err->code;
    pq_file_set_thread_min_bytes(f, min_bytes);
    memset(out, 0, sizeof(*out));
    sd_status st = pq_read_row_group_into(f, 0, NULL, 0, out, err);
    /* The batch borrows the file's schema: compare before closing. */
    if (st == SD_OK) {
        sd_schema *s = rt_schema();
        sd_batch want;
        sd_batch_init(&want, s);
        rt_fill(&want);
        for (int c = 0; c < want.ncols; c++)
            rt_check_column(&out->cols[c], &want.cols[c], s->children[c].name);
        CHECK_INT(out->nrows, RT_ROWS);
        sd_batch_free(&want);
        sd_schema_free(s);
        sd_batch_free(out);
    }
    pq_file_close(f);
    return st;
}

TEST(pq_read_threads_same_rows) {
    sd_schema *s = rt_schema();
    sd_batch b;
    sd_batch_init(&b, s);
    rt_fill(&b);
    char path[512];
    snprintf(path, sizeof(path), "%s/threads.parquet", unit_tmpdir());
    rt_write(path, &b);
    sd_batch out;
    sd_error err = {0};
    CHECK_OK(rt_read(path, 0, &out, &err), &err);         /* two threads */
    CHECK_OK(rt_read(path, INT64_MAX, &out, &err), &err); /* one thread */
    /* A reused batch across reads of two row groups, threaded. */
    pq_file *f = pq_file_open(path, &err);
    CHECK(f != NULL);
    if (f) {
        pq_file_set_thread_min_bytes(f, 0);
        sd_batch reuse = {0};
        for (int i = 0; i < 2; i++) {
            CHECK_OK(pq_read_row_group_into(f, 0, NULL, 0, &reuse, &err), &err);
            for (int c = 0; c < b.ncols; c++)
                rt_check_column(&reuse.cols[c], &b.cols[c], s->children[c].name);
        }
        /* A projection of two columns in reverse order. */
        int cols[2] = {3, 0};
        sd_batch proj = {0};
        CHECK_OK(pq_read_row_group_into(f, 0, cols, 2, &proj, &err), &err);
        if (proj.ncols == 2) {
            rt_check_column(&proj.cols[0], &b.cols[3], "x");
            rt_check_column(&proj.cols[1], &b.cols[0], "id");
        }
        sd_batch_free(&proj);
        sd_batch_free(&reuse);
        pq_file_close(f);
    }
    sd_batch_free(&b);
    sd_schema_free(s);
}

static uint8_t *rt_load(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        *len = 0;
        return sd_xmalloc(1);
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *p = sd_xmalloc((size_t)n + 1);
    *len = fread(p, 1, (size_t)n, fp);
    fclose(fp);
    return p;
}

/* The error of reading row group 0 of the bytes, with the threshold. */
static sd_status rt_read_memory(const uint8_t *p, size_t n, int64_t min_bytes, sd_error *err) {
    sd_error_clear(err);
    pq_file *f = pq_file_open_memory(p, n, "bad.parquet", err);
    if (f == NULL) return err->code;
    pq_file_set_thread_min_bytes(f, min_bytes);
    sd_batch b = {0};
    sd_status st = pq_read_row_group_into(f, 0, NULL, 0, &b, err);
    if (st == SD_OK) sd_batch_free(&b);
    CHECK(b.cols == NULL && b.ncols == 0); /* freed on failure */
    pq_file_close(f);
    return st;
}

TEST(pq_read_threads_same_error) {
    sd_schema *s = rt_schema();
    sd_batch b;
    sd_batch_init(&b, s);
    rt_fill(&b);
    char path[512];
    snprintf(path, sizeof(path), "%s/threads-bad.parquet", unit_tmpdir());
    rt_write(path, &b);
    sd_batch_free(&b);
    sd_schema_free(s);
    size_t len;
    uint8_t *d = rt_load(path, &len);
    sd_error err = {0};
    pq_file *f = pq_file_open_memory(d, len, "x", &err);
    CHECK(f != NULL);
    if (f == NULL) {
        free(d);
        return;
    }
    /* Break the first page header of columns n (2) and ok (4): the costlier
     * id column keeps one thread busy while the other meets both. */
    const pq_row_group *g = &pq_file_meta_of(f)->row_groups[0];
    size_t off_n = (size_t)g->columns[2].meta_data.data_page_offset;
    size_t off_ok = (size_t)g->columns[4].meta_data.data_page_offset;
    pq_file_close(f);
    memset(d + off_ok, 0xff, 6);
    memset(d + off_n, 0xff, 6);
    sd_error e1 = {0}, e2 = {0};
    CHECK_INT(rt_read_memory(d, len, INT64_MAX, &e1), SD_ERR_THRIFT);
    CHECK_INT(rt_read_memory(d, len, 0, &e2), SD_ERR_THRIFT);
    char want[128];
    snprintf(want, sizeof(want), "bad.parquet: column n, page at offset %zu: ", off_n);
    CHECK(strstr(e1.msg, want) == e1.msg);
    CHECK_STR(e2.msg, e1.msg);
    /* Only the later column broken: that one is named. */
    uint8_t *clean = rt_load(path, &len);
    memcpy(d + off_n, clean + off_n, 6);
    free(clean);
    CHECK_INT(rt_read_memory(d, len, 0, &e2), SD_ERR_THRIFT);
    snprintf(want, sizeof(want), "bad.parquet: column ok, page at offset %zu: ", off_ok);
    CHECK(strstr(e2.msg, want) == e2.msg);
    free(d);
}

/* PLAIN byte arrays of every length 0..100 at every position near the end
 * of the page: the block copies must not change values, and a length that
 * runs past the page must fail wherever it sits. */
TEST(pq_read_plain_bytes_blocks) {
    uint8_t page[4096];
    size_t len = 0, n = 0;
    int64_t want[200];
    want[0] = 0;
    for (int v = 0; len + 4 + (size_t)(v % 101) <= sizeof(page) && n < 199; v += 7) {
        uint32_t l = (uint32_t)(v % 101);
        page[len] = (uint8_t)l;
        page[len + 1] = page[len + 2] = page[len + 3] = 0;
        for (uint32_t k = 0; k < l; k++) page[len + 4 + k] = (uint8_t)(v + k);
        len += 4 + l;
        want[n + 1] = want[n] + l;
        n++;
    }
    int64_t offs[200];
    sd_buf data = {0};
    sd_buf_append(&data, "pre", 3);
    offs[0] = 3;
    pq_bytes_sink sink = {offs, &data};
    size_t used = 0;
    CHECK(pq_plain_decode_bytes(page, len, n, &sink, &used));
    CHECK_INT(used, len);
    CHECK_INT(data.len, 3 + want[n]);
    for (size_t i = 0; i <= n; i++) CHECK_INT(offs[i], 3 + want[i]);
    /* the bytes of value i, from its offset */
    size_t pos = 0;
    bool same = memcmp(data.data, "pre", 3) == 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = (size_t)(want[i + 1] - want[i]);
        same = same && memcmp(data.data + offs[i], page + pos + 4, l) == 0;
        pos += 4 + l;
    }
    CHECK(same);
    /* Truncated anywhere inside the last value or its prefix: refused, and
     * the data keeps its length. */
    for (size_t cut = 1; cut <= 4 + (size_t)(want[n] - want[n - 1]); cut++) {
        data.len = 3;
        offs[0] = 3;
        CHECK(!pq_plain_decode_bytes(page, len - cut, n, &sink, &used));
        CHECK_INT(data.len, 3);
    }
    /* A length past the end, early in the page (inside the fast loop). */
    uint8_t bad[256];
    memset(bad, 0, sizeof(bad));
    bad[0] = 10;
    bad[14] = 250; /* second value claims 250 of the 238 bytes left */
    data.len = 3;
    offs[0] = 3;
    CHECK(!pq_plain_decode_bytes(bad, sizeof(bad), 2, &sink, &used));
    CHECK_INT(data.len, 3);
    sd_buf_free(&data);
}
