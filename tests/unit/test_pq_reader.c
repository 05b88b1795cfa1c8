/*
 * test_pq_reader.c - the Parquet reader against real files (DuckDB v1/v2
 * pages with gzip/lz4/zstd/none, Spark data files and a Delta checkpoint
 * with nested structs, lists and maps), projection, statistics and
 * row-group skipping, the schema/meta dumps, and malformed files built from
 * the real ones by truncating, patching bytes or rewriting the footer, each
 * refused with a pinned error text.
 */
#include <stdlib.h>

#include "parquet/parquet.h"
#include "parquet/pq_reader_internal.h"
#include "unit.h"

#define CORPUS "tests/fuzz/corpus/fuzz_parquet/"

static uint8_t *rd_load(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        unit_fail(__FILE__, __LINE__, "cannot open %s", path);
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

static int rd_field(const sd_batch *b, const char *name) {
    return sd_schema_find(b->schema, name);
}

static const char *rd_str(const sd_column *c, size_t row, char *buf, size_t cap) {
    sd_value v = sd_column_get(c, row);
    size_t n = v.u.s.len < cap - 1 ? v.u.s.len : cap - 1;
    memcpy(buf, v.u.s.ptr, n);
    buf[n] = 0;
    return buf;
}

/* The DuckDB test file: i = row, b = row * 1000000007, s = "str{row % 5}"
 * with nulls every 5th row, dt = 2020-01-01 + row, dec = row / 100,
 * l = [row, row + 1], st = {row, "x{row}"}, m = {"k": row}. */
static void rd_check_duckdb(const char *path) {
    sd_error err = {0};
    pq_file *f = pq_file_open(path, &err);
    CHECK(f != NULL);
    if (f == NULL) {
        unit_fail(__FILE__, __LINE__, "%s", err.msg);
        return;
    }
    CHECK_INT(pq_file_num_rows(f), 200);
    sd_batch b;
    CHECK_OK(pq_read_row_group(f, 0, NULL, 0, &b, &err), &err);
    CHECK_INT(b.nrows, 200);
    const sd_column *i = &b.cols[rd_field(&b, "i")], *bb = &b.cols[rd_field(&b, "b")];
    const sd_column *s = &b.cols[rd_field(&b, "s")], *dt = &b.cols[rd_field(&b, "dt")];
    const sd_column *dec = &b.cols[rd_field(&b, "dec")], *l = &b.cols[rd_field(&b, "l")];
    const sd_column *st = &b.cols[rd_field(&b, "st")], *m = &b.cols[rd_field(&b, "m")];
    CHECK_INT(((int32_t *)i->values)[7], 7);
    CHECK_INT(((int64_t *)bb->values)[3], 3000000021ll);
    CHECK(!sd_column_is_valid(s, 0));
    CHECK(!sd_column_is_valid(s, 195));
    char buf[64];
    CHECK_STR(rd_str(s, 196, buf, sizeof buf), "str1");
    CHECK_STR(rd_str(s, 7, buf, sizeof buf), "str7");
    CHECK_INT(((int32_t *)dt->values)[1], 18263); /* 2020-01-02 */
    CHECK_INT(dt->type->kind, SD_DATE);
    CHECK_INT(dec->type->kind, SD_DECIMAL);
    CHECK_INT(dec->type->scale, 2);
    CHECK_INT((long long)((__int128 *)dec->values)[199], 199);
    CHECK_INT(l->offsets[5], 10);
    CHECK_INT(l->offsets[6] - l->offsets[5], 2);
    CHECK_INT(((int64_t *)l->children[0].values)[2 * 198 + 1], 199);
    CHECK_INT(st->children[0].len, 200);
    CHECK_STR(rd_str(&st->children[1], 42, buf, sizeof buf), "x42");
    CHECK_INT(m->offsets[200], 200);
    CHECK_STR(rd_str(&m->children[0], 9, buf, sizeof buf), "k");
    CHECK_INT(((int64_t *)m->children[1].values)[9], 9);
    sd_batch_free(&b);
    pq_file_close(f);
}

TEST(pq_reader_duckdb_pages_and_codecs) {
    rd_check_duckdb(CORPUS "duckdb-v1-gzip.parquet");
    rd_check_duckdb(CORPUS "duckdb-v1-lz4.parquet");
    rd_check_duckdb(CORPUS "duckdb-v2-none.parquet");
    rd_check_duckdb(CORPUS "duckdb-v2-zstd.parquet");
}

TEST(pq_reader_memory_matches_file) {
    size_t len;
    uint8_t *data = rd_load(CORPUS "duckdb-v2-zstd.parquet", &len);
    sd_error err = {0};
    pq_file *f = pq_file_open_memory(data, len, "mem.parquet", &err);
    CHECK(f != NULL);
    if (f) {
        sd_batch b;
        CHECK_OK(pq_read_row_group(f, 0, NULL, 0, &b, &err), &err);
        CHECK_INT(b.nrows, 200);
        CHECK_INT(((int32_t *)b.cols[0].values)[123], 123);
        sd_batch_free(&b);
        pq_file_close(f);
    }
    free(data);
}

TEST(pq_reader_checkpoint_nested_nulls) {
    sd_error err = {0};
    pq_file *f = pq_file_open(CORPUS "spark-checkpoint.parquet", &err);
    CHECK(f != NULL);
    if (f == NULL) return;
    sd_batch b;
    CHECK_OK(pq_read_row_group(f, 0, NULL, 0, &b, &err), &err);
    CHECK_INT(b.nrows, 13);
    const sd_column *add = &b.cols[rd_field(&b, "add")];
    CHECK_INT(add->type->kind, SD_STRUCT);
    CHECK(add->valid != NULL);
    /* Every struct child has one slot per row, null under a null struct. */
    for (int c = 0; c < add->nchildren; c++) CHECK_INT(add->children[c].len, 13);
    int nadd = 0;
    for (size_t r = 0; r < b.nrows; r++) nadd += sd_column_is_valid(add, r);
    CHECK(nadd > 0 && nadd < 13);
    size_t r0 = 0;
    while (!sd_column_is_valid(add, r0)) r0++;
    const sd_column *path = &add->children[0];
    char buf[128];
    CHECK(sd_column_is_valid(path, r0));
    CHECK(strncmp(rd_str(path, r0, buf, sizeof buf), "part-0000", 9) == 0);
    CHECK(!sd_column_is_valid(path, r0 == 0 ? 1 : 0) || sd_column_is_valid(add, r0 == 0 ? 1 : 0));
    sd_batch_free(&b);
    pq_file_close(f);
}

TEST(pq_reader_projection) {
    sd_error err = {0};
    pq_file *f = pq_file_open(CORPUS "duckdb-v1-gzip.parquet", &err);
    CHECK(f != NULL);
    if (f == NULL) return;
    int cols[2] = {8, 4}; /* l, s */
    sd_batch b;
    CHECK_OK(pq_read_row_group(f, 0, cols, 2, &b, &err), &err);
    CHECK_INT(b.ncols, 2);
    CHECK_STR(b.schema->children[0].name, "l");
    CHECK_STR(b.schema->children[1].name, "s");
    CHECK(b.schema == pq_file_projection(f, cols, 2)); /* cached */
    char buf[16];
    CHECK_STR(rd_str(&b.cols[1], 3, buf, sizeof buf), "str3");
    CHECK_INT(b.cols[0].offsets[200], 400);
    sd_batch_free(&b);
    int bad = 11;
    CHECK_INT(pq_read_row_group(f, 0, &bad, 1, &b, &err), SD_ERR_ARG);
    sd_error_clear(&err);
    CHECK_INT(pq_read_row_group(f, 3, NULL, 0, &b, &err), SD_ERR_ARG);
    CHECK_STR(err.msg, "tests/fuzz/corpus/fuzz_parquet/duckdb-v1-gzip.parquet: row group 3 does "
                       "not exist (the file has 1)");
    pq_file_close(f);
}

TEST(pq_reader_stats_and_skipping) {
    sd_error err = {0};
    pq_file *f = pq_file_open(CORPUS "duckdb-v2-none.parquet", &err);
    CHECK(f != NULL);
    if (f == NULL) return;
    bool has;
    sd_value mn, mx;
    int64_t nulls;
    CHECK_OK(pq_file_leaf_stats(f, 0, "i", &has, &mn, &mx, &nulls, &err), &err);
    CHECK(has);
    CHECK_INT(mn.u.i, 0);
    CHECK_INT(mx.u.i, 199);
    CHECK_INT(nulls, 0);
    CHECK_OK(pq_file_leaf_stats(f, 0, "s", &has, &mn, &mx, &nulls, &err), &err);
    CHECK_INT(nulls, 40);
    CHECK_INT(pq_file_leaf_stats(f, 0, "nope", &has, &mn, &mx, &nulls, &err), SD_ERR_NOT_FOUND);
    sd_error_clear(&err);

    pq_predicate p = {.path = "i", .op = PQ_EQ, .value = {.kind = SD_INT32, .u.i = 500}};
    CHECK(pq_row_group_can_skip(f, 0, &p, 1));
    p.value.u.i = 5;
    CHECK(!pq_row_group_can_skip(f, 0, &p, 1));
    p.op = PQ_GT, p.value.u.i = 199;
    CHECK(pq_row_group_can_skip(f, 0, &p, 1));
    p.op = PQ_GE;
    CHECK(!pq_row_group_can_skip(f, 0, &p, 1));
    p.op = PQ_LT, p.value.u.i = 0;
    CHECK(pq_row_group_can_skip(f, 0, &p, 1));
    p.op = PQ_LE;
    CHECK(!pq_row_group_can_skip(f, 0, &p, 1));
    p.op = PQ_IS_NULL;
    CHECK(pq_row_group_can_skip(f, 0, &p, 1)); /* null_count 0 */
    p.path = "s";
    CHECK(!pq_row_group_can_skip(f, 0, &p, 1));
    /* Floats: a NaN literal never skips; a plain miss does. */
    pq_predicate q = {.path = "d", .op = PQ_GT, .value = {.kind = SD_DOUBLE, .u.d = 1e9}};
    CHECK(pq_row_group_can_skip(f, 0, &q, 1));
    q.value.u.d = __builtin_nan("");
    CHECK(!pq_row_group_can_skip(f, 0, &q, 1));
    /* Unknown columns and values inside lists never skip. */
    pq_predicate u = {.path = "zz", .op = PQ_EQ, .value = {.kind = SD_INT32, .u.i = 1}};
    CHECK(!pq_row_group_can_skip(f, 0, &u, 1));
    pq_predicate e = {
        .path = "l.list.element", .op = PQ_GT, .value = {.kind = SD_INT64, .u.i = 1000}};
    CHECK(!pq_row_group_can_skip(f, 0, &e, 1));
    pq_file_close(f);
}

TEST(pq_reader_format_schema_and_meta) {
    sd_error err = {0};
    pq_file *f = pq_file_open(CORPUS "duckdb-v1-gzip.parquet", &err);
    CHECK(f != NULL);
    if (f == NULL) return;
    sd_buf out = SD_BUF_INIT;
    pq_file_format_schema(f, &out);
    const char *s = sd_buf_cstr(&out);
    CHECK(strstr(s, "\n  s: BYTE_ARRAY OPTIONAL UTF8 -> string\n") != NULL);
    CHECK(strstr(s, "\n  l: group OPTIONAL LIST -> array<bigint>\n    list: group REPEATED\n"
                    "      element: INT64 OPTIONAL INT_64 -> bigint\n") != NULL);
    CHECK(strstr(s, "\n  dec: INT32 OPTIONAL DECIMAL(9,2) -> decimal(9,2)\n") != NULL);
    sd_buf_reset(&out);
    pq_file_format_meta(f, &out);
    s = sd_buf_cstr(&out);
    CHECK(strstr(s, "rows: 200\nrow groups: 1\n") != NULL);
    CHECK(strstr(s, "  i: INT32 gzip [") != NULL);
    CHECK(strstr(s, "min=0 max=199 nulls=0") != NULL);
    sd_buf_free(&out);
    pq_file_close(f);
}

/* ---- malformed files ---------------------------------------------------- */

static sd_status rd_open_err(const uint8_t *p, size_t n, sd_error *err) {
    sd_error_clear(err);
    pq_file *f = pq_file_open_memory(p, n, "bad.parquet", err);
    if (f == NULL) return err->code;
    sd_status st = SD_OK;
    for (int rg = 0; rg < pq_file_num_row_groups(f) && st == SD_OK; rg++) {
        sd_batch b;
        st = pq_read_row_group(f, rg, NULL, 0, &b, err);
        if (st == SD_OK) sd_batch_free(&b);
    }
    pq_file_close(f);
    return st;
}

TEST(pq_reader_refuses_bad_framing) {
    size_t len;
    uint8_t *d = rd_load(CORPUS "spark-simple.parquet", &len);
    sd_error err = {0};
    CHECK_INT(rd_open_err(d, 8, &err), SD_ERR_FORMAT);
    CHECK_STR(err.msg, "bad.parquet: file is too small to be Parquet (8 bytes)");
    CHECK_INT(rd_open_err(d, len - 3, &err), SD_ERR_FORMAT);
    CHECK_STR(err.msg, "bad.parquet: truncated or not a Parquet file (no PAR1 magic at the end)");
    uint8_t *c = sd_xmalloc(len);
    memcpy(c, d, len);
    c[0] = 'X';
    CHECK_INT(rd_open_err(c, len, &err), SD_ERR_FORMAT);
    CHECK_STR(err.msg, "bad.parquet: not a Parquet file (no PAR1 magic at the start)");
    memcpy(c, d, len);
    c[len - 8] = 0xff, c[len - 7] = 0xff, c[len - 6] = 0, c[len - 5] = 0;
    CHECK_INT(rd_open_err(c, len, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "bad.parquet: footer length 65535 is larger than the file") == err.msg);
    memcpy(c, d, len);
    memcpy(c + len - 4, "PARE", 4);
    CHECK_INT(rd_open_err(c, len, &err), SD_ERR_UNSUPPORTED);
    CHECK_STR(err.msg,
              "bad.parquet: encrypted Parquet files (footer magic PARE) are not supported");
    /* Garbage in the footer: a Thrift error that names the file. */
    memcpy(c, d, len);
    uint32_t flen = (uint32_t)c[len - 8] | ((uint32_t)c[len - 7] << 8);
    memset(c + len - 8 - flen, 0xff, 8);
    CHECK_INT(rd_open_err(c, len, &err), SD_ERR_THRIFT);
    CHECK(strncmp(err.msg, "bad.parquet: ", 13) == 0);
    free(c);
    free(d);
}

/* Rewrite the footer of `d` after `edit` changed its metadata. */
static uint8_t *rd_rebuild(const uint8_t *d, size_t len, void (*edit)(pq_file_meta *),
                           size_t *out_len) {
    uint32_t flen = (uint32_t)d[len - 8] | ((uint32_t)d[len - 7] << 8) |
                    ((uint32_t)d[len - 6] << 16) | ((uint32_t)d[len - 5] << 24);
    size_t body = len - 8 - flen;
    pq_file_meta m;
    sd_error err = {0};
    CHECK_OK(pq_meta_parse(d + body, flen, &m, "x", &err), &err);
    edit(&m);
    sd_buf out = SD_BUF_INIT;
    sd_buf_append(&out, d, body);
    size_t start = out.len;
    pq_meta_serialize(&m, &out);
    uint32_t nf = (uint32_t)(out.len - start);
    uint8_t le[4] = {(uint8_t)nf, (uint8_t)(nf >> 8), (uint8_t)(nf >> 16), (uint8_t)(nf >> 24)};
    sd_buf_append(&out, le, 4);
    sd_buf_append(&out, "PAR1", 4);
    pq_file_meta_clear(&m);
    *out_len = out.len;
    return out.data;
}

static void rd_edit_offset(pq_file_meta *m) {
    m->row_groups[0].columns[0].meta_data.data_page_offset = 1 << 30;
    m->row_groups[0].columns[0].meta_data.has_dictionary_page_offset = false;
}
static void rd_edit_short_chunk(pq_file_meta *m) {
    m->row_groups[0].columns[0].meta_data.total_compressed_size = 10;
}
static void rd_edit_values(pq_file_meta *m) {
    m->row_groups[0].columns[0].meta_data.num_values = 150;
}
static void rd_edit_rows(pq_file_meta *m) {
    m->row_groups[0].num_rows = 150;
    for (int c = 0; c < m->row_groups[0].ncolumns; c++) {
        pq_column_meta *cm = &m->row_groups[0].columns[c].meta_data;
        if (cm->num_values == 200) cm->num_values = 150;
    }
}
static void rd_edit_time(pq_file_meta *m) {
    m->schema[1].logical.kind = PQ_LT_TIME;
    m->schema[1].logical.unit = PQ_UNIT_MILLIS;
    m->schema[1].logical.is_adjusted_to_utc = true;
    m->schema[1].converted_type = PQ_CT_TIME_MILLIS;
}
static void rd_edit_type(pq_file_meta *m) {
    m->row_groups[0].columns[1].meta_data.type = PQ_DOUBLE;
}
static void rd_edit_codec(pq_file_meta *m) {
    m->row_groups[0].columns[0].meta_data.codec = PQ_CODEC_LZ4;
}

TEST(pq_reader_refuses_bad_metadata) {
    size_t len, n;
    uint8_t *d = rd_load(CORPUS "duckdb-v2-none.parquet", &len);
    sd_error err = {0};
    uint8_t *c = rd_rebuild(d, len, rd_edit_offset, &n);
    CHECK_INT(rd_open_err(c, n, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "bad.parquet: column i: column chunk at offset 1073741824 of ") ==
          err.msg);
    free(c);
    c = rd_rebuild(d, len, rd_edit_short_chunk, &n);
    CHECK_INT(rd_open_err(c, n, &err), SD_ERR_THRIFT); /* the page header is cut */
    CHECK_STR(err.msg, "bad.parquet: column i, page at offset 4: corrupt Parquet page header: "
                       "unexpected end of data at byte 10");
    free(c);
    c = rd_rebuild(d, len, rd_edit_values, &n);
    CHECK_INT(rd_open_err(c, n, &err), SD_ERR_FORMAT);
    CHECK_STR(err.msg, "bad.parquet: column i: column chunk has 150 values for 200 rows");
    free(c);
    c = rd_rebuild(d, len, rd_edit_rows, &n);
    CHECK_INT(rd_open_err(c, n, &err), SD_ERR_FORMAT);
    CHECK_STR(err.msg, "bad.parquet: column i, page at offset 4: a page claims 200 values but the "
                       "column chunk has only 150 left");
    free(c);
    c = rd_rebuild(d, len, rd_edit_time, &n);
    CHECK_INT(rd_open_err(c, n, &err), SD_ERR_UNSUPPORTED);
    CHECK_STR(err.msg, "bad.parquet: column i: type TIME is not supported");
    free(c);
    c = rd_rebuild(d, len, rd_edit_type, &n);
    CHECK_INT(rd_open_err(c, n, &err), SD_ERR_FORMAT);
    CHECK_STR(err.msg, "bad.parquet: column b of row group 0 is DOUBLE but the schema says INT64");
    free(c);
    c = rd_rebuild(d, len, rd_edit_codec, &n);
    CHECK_INT(rd_open_err(c, n, &err), SD_ERR_UNSUPPORTED);
    CHECK_STR(err.msg, "bad.parquet: column i: codec LZ4 (Hadoop framing) is not supported; write "
                       "LZ4_RAW");
    free(c);
    free(d);
}

/* Offset of the first page of column `col` of row group 0. */
static size_t rd_first_page(const uint8_t *d, size_t len, int col) {
    sd_error err = {0};
    pq_file *f = pq_file_open_memory(d, len, "x", &err);
    if (f == NULL) return 0;
    const pq_column_meta *cm = &pq_file_meta_of(f)->row_groups[0].columns[col].meta_data;
    size_t off = (size_t)cm->data_page_offset;
    if (cm->has_dictionary_page_offset && cm->dictionary_page_offset > 0 &&
        (size_t)cm->dictionary_page_offset < off)
        off = (size_t)cm->dictionary_page_offset;
    pq_file_close(f);
    return off;
}

TEST(pq_reader_refuses_bad_pages) {
    size_t len;
    uint8_t *d = rd_load(CORPUS "duckdb-v1-gzip.parquet", &len);
    uint8_t *c = sd_xmalloc(len);
    sd_error err = {0};
    size_t off = rd_first_page(d, len, 0);
    CHECK(off >= 4);
    /* A page header that is not Thrift. */
    memcpy(c, d, len);
    memset(c + off, 0xff, 6);
    CHECK_INT(rd_open_err(c, len, &err), SD_ERR_THRIFT);
    CHECK(
        strstr(err.msg, "bad.parquet: column i, page at offset 4: corrupt Parquet page header: ") ==
        err.msg);
    /* Compressed bytes that gzip refuses: the header parses, the body fails. */
    memcpy(c, d, len);
    pq_page_header h;
    size_t used = 0;
    CHECK_OK(pq_page_header_parse(d + off, len - off, &h, &used, "x", &err), &err);
    memset(c + off + used, 0x5a, (size_t)h.compressed_page_size);
    pq_page_header_clear(&h);
    CHECK_INT(rd_open_err(c, len, &err), SD_ERR_CODEC);
    CHECK_STR(err.msg, "bad.parquet: column i, page at offset 4: gzip: corrupt data (zlib status "
                       "-3, 0 of 807 bytes produced)");
    free(c);
    free(d);
}

TEST(pq_reader_refuses_bad_levels_and_indices) {
    /* The uncompressed DuckDB file lets us patch page bodies directly. */
    size_t len;
    uint8_t *d = rd_load(CORPUS "duckdb-v2-none.parquet", &len);
    uint8_t *c = sd_xmalloc(len);
    sd_error err = {0};
    int saw_levels = 0, saw_dict = 0;
    /* Walk the pages of column s (index 4, data page v1, dictionary
     * encoded): corrupt its definition levels, then its indices. */
    size_t off = rd_first_page(d, len, 4);
    for (int page = 0; page < 4 && off < len && !saw_dict; page++) {
        pq_page_header h;
        size_t used = 0;
        if (pq_page_header_parse(d + off, len - off, &h, &used, "x", &err) != SD_OK) break;
        size_t body = off + used;
        if (h.type == PQ_PAGE_DATA) {
            uint32_t dl = (uint32_t)d[body] | ((uint32_t)d[body + 1] << 8);
            memcpy(c, d, len);
            /* An RLE run of value 3 where the max definition level is 1. */
            c[body + 4] = 0x02, c[body + 5] = 0x03;
            CHECK_INT(rd_open_err(c, len, &err), SD_ERR_FORMAT);
            CHECK_STR(err.msg,
                      "bad.parquet: column s, page at offset 2664: corrupt definition levels "
                      "in a page");
            saw_levels++;
            memcpy(c, d, len);
            /* bit width 8, then an RLE run of 1000 values of index 250 */
            size_t v = body + 4 + dl;
            c[v] = 8, c[v + 1] = 0xd0, c[v + 2] = 0x0f, c[v + 3] = 250;
            CHECK_INT(rd_open_err(c, len, &err), SD_ERR_FORMAT);
            CHECK_STR(err.msg,
                      "bad.parquet: column s, page at offset 2664: dictionary index 250 out "
                      "of range (the dictionary has 13 values)");
            saw_dict++;
        }
        off = body + (size_t)h.compressed_page_size;
        pq_page_header_clear(&h);
    }
    CHECK(saw_levels > 0);
    CHECK(saw_dict > 0);
    free(c);
    free(d);
}

TEST(pq_reader_schema_mapping) {
    /* Annotations -> logical types, built as a footer schema. */
    pq_schema_element el[12];
    memset(el, 0, sizeof el);
    for (int i = 0; i < 12; i++) {
        el[i].converted_type = PQ_CT_NONE;
        el[i].has_repetition = true;
        el[i].repetition = PQ_OPTIONAL;
        el[i].has_type = true;
    }
    char names[12][16];
    for (int i = 0; i < 12; i++)
        snprintf(names[i], sizeof names[i], "c%d", i), el[i].name = names[i];
    el[0].has_type = false, el[0].num_children = 7, el[0].has_repetition = false;
    el[1].type = PQ_INT32, el[1].converted_type = PQ_CT_UINT_8;  /* -> smallint */
    el[2].type = PQ_INT64, el[2].converted_type = PQ_CT_UINT_64; /* -> decimal(20,0) */
    el[3].type = PQ_INT96;                                       /* -> timestamp */
    el[4].type = PQ_FIXED_LEN_BYTE_ARRAY, el[4].type_length = 16;
    el[4].logical.kind = PQ_LT_UUID; /* -> string */
    el[5].type = PQ_INT64, el[5].logical.kind = PQ_LT_TIMESTAMP;
    el[5].logical.unit = PQ_UNIT_NANOS; /* -> timestamp_ntz */
    /* c6: legacy 2-level list: optional group (LIST) { repeated int32 array } */
    el[6].has_type = false, el[6].num_children = 1, el[6].converted_type = PQ_CT_LIST;
    el[7].type = PQ_INT32, el[7].repetition = PQ_REPEATED, el[7].name = "array";
    /* c8: a bare repeated field: a list of required values */
    el[8].type = PQ_BYTE_ARRAY, el[8].repetition = PQ_REPEATED;
    pq_file_meta m = {.nschema = 9, .schema = el};
    pq_schema_info si;
    sd_error err = {0};
    CHECK_OK(pq_schema_map(&m, &si, &err), &err);
    sd_buf out = SD_BUF_INIT;
    sd_type_format(si.schema, &out);
    CHECK_STR(sd_buf_cstr(&out), "struct<c1:smallint,c2:decimal(20,0),c3:timestamp,c4:string,"
                                 "c5:timestamp_ntz,c6:array<int>,c8:array<binary>>");
    CHECK_INT(si.nleaves, 7);
    CHECK_INT(si.leaves[5].max_def, 2); /* c6 optional + repeated */
    CHECK_INT(si.leaves[5].max_rep, 1);
    CHECK_INT(si.leaves[6].max_def, 1);
    CHECK_INT(si.leaves[6].max_rep, 1);
    sd_buf_free(&out);
    pq_schema_info_clear(&si);
    /* TIME and INTERVAL are refused by name; precision above 38 too. */
    el[0].num_children = 1;
    el[1].logical.kind = PQ_LT_TIME, el[1].converted_type = PQ_CT_NONE;
    m.nschema = 2;
    CHECK_INT(pq_schema_map(&m, &si, &err), SD_ERR_UNSUPPORTED);
    CHECK_STR(err.msg, "column c1: type TIME is not supported");
    sd_error_clear(&err);
    el[1].logical.kind = PQ_LT_DECIMAL, el[1].logical.precision = 40, el[1].type = PQ_BYTE_ARRAY;
    CHECK_INT(pq_schema_map(&m, &si, &err), SD_ERR_UNSUPPORTED);
    CHECK_STR(err.msg, "column c1: DECIMAL(40,0) has a precision above 38");
    sd_error_clear(&err);
    el[0].num_children = 5; /* more children than elements */
    CHECK_INT(pq_schema_map(&m, &si, &err), SD_ERR_FORMAT);
}

TEST(pq_reader_conversions) {
    pq_leaf leaf = {.phys = PQ_INT96, .conv = PQ_CONV_INT96, .kind = SD_TIMESTAMP, .path = "t"};
    /* 2000-01-01 00:00:01.5: Julian day 2451545, 1.5e9 ns. */
    uint8_t raw[12] = {0};
    int64_t ns = 1500000000;
    uint32_t jd = 2451545;
    memcpy(raw, &ns, 8);
    memcpy(raw + 8, &jd, 4);
    sd_type t = {.kind = SD_TIMESTAMP};
    sd_column c;
    sd_column_init(&c, &t);
    sd_column_reserve(&c, 1);
    sd_error err = {0};
    CHECK_OK(pq_convert_fixed(&leaf, raw, 1, &c, 0, &err), &err);
    CHECK_INT(((int64_t *)c.values)[0], 946684801500000ll);
    sd_column_free(&c);
    /* UUID bytes -> text; decimal in 3 big-endian bytes -> -2. */
    pq_leaf u = {.phys = PQ_FIXED_LEN_BYTE_ARRAY,
                 .type_length = 16,
                 .conv = PQ_CONV_UUID,
                 .kind = SD_STRING,
                 .path = "u"};
    uint8_t ub[16];
    for (int i = 0; i < 16; i++) ub[i] = (uint8_t)(i * 17);
    sd_type ts = {.kind = SD_STRING};
    sd_column_init(&c, &ts);
    sd_column_reserve(&c, 1);
    CHECK_OK(pq_convert_fixed(&u, ub, 1, &c, 0, &err), &err);
    c.len = 1;
    char buf[40];
    CHECK_STR(rd_str(&c, 0, buf, sizeof buf), "00112233-4455-6677-8899-aabbccddeeff");
    sd_column_free(&c);
    pq_leaf dl = {.phys = PQ_FIXED_LEN_BYTE_ARRAY,
                  .type_length = 3,
                  .conv = PQ_CONV_DEC_BYTES,
                  .kind = SD_DECIMAL,
                  .precision = 5,
                  .path = "d"};
    uint8_t db[3] = {0xff, 0xff, 0xfe};
    sd_type td = {.kind = SD_DECIMAL, .precision = 5};
    sd_column_init(&c, &td);
    sd_column_reserve(&c, 1);
    CHECK_OK(pq_convert_fixed(&dl, db, 1, &c, 0, &err), &err);
    CHECK_INT((long long)((__int128 *)c.values)[0], -2);
    sd_column_free(&c);
    /* Half float 0x3c00 = 1.0, 0xc000 = -2.0 */
    pq_leaf h = {.phys = PQ_FIXED_LEN_BYTE_ARRAY,
                 .type_length = 2,
                 .conv = PQ_CONV_FLOAT16,
                 .kind = SD_FLOAT,
                 .path = "h"};
    uint8_t hb[4] = {0x00, 0x3c, 0x00, 0xc0};
    sd_type tf = {.kind = SD_FLOAT};
    sd_column_init(&c, &tf);
    sd_column_reserve(&c, 2);
    CHECK_OK(pq_convert_fixed(&h, hb, 2, &c, 0, &err), &err);
    CHECK(((float *)c.values)[0] == 1.0f);
    CHECK(((float *)c.values)[1] == -2.0f);
    sd_column_free(&c);
}

TEST(pq_reader_spread) {
    sd_type t = {.kind = SD_INT32};
    sd_column c;
    sd_column_init(&c, &t);
    sd_column_reserve(&c, 5);
    int32_t dense[3] = {10, 20, 30};
    memcpy(c.values, dense, sizeof dense);
    uint8_t valid[5] = {0, 1, 1, 0, 1};
    pq_spread(&c, 3, valid, 5);
    int32_t *v = c.values;
    CHECK_INT(v[0], 0);
    CHECK_INT(v[1], 10);
    CHECK_INT(v[2], 20);
    CHECK_INT(v[3], 0);
    CHECK_INT(v[4], 30);
    sd_column_free(&c);
    sd_type ts = {.kind = SD_STRING};
    sd_column_init(&c, &ts);
    sd_column_reserve(&c, 4);
    sd_buf_append(&c.data, "abcdef", 6);
    c.offsets[0] = 0, c.offsets[1] = 2, c.offsets[2] = 6;
    uint8_t sv[4] = {1, 0, 0, 1};
    pq_spread(&c, 2, sv, 4);
    CHECK_INT(c.offsets[1], 2);
    CHECK_INT(c.offsets[2], 2);
    CHECK_INT(c.offsets[3], 2);
    CHECK_INT(c.offsets[4], 6);
    sd_column_free(&c);
}

/* ---- round trips through our writer: nested nulls, pages v1/v2 -------- */

static sd_schema *rt_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "id", SD_INT64, false);
    sd_type_add_field(s, "s", SD_STRING, true);
    sd_field *st = sd_type_add_field(s, "st", SD_STRUCT, true);
    sd_type_add_field(&st->type, "a", SD_INT32, true);
    sd_type_add_field(&st->type, "b", SD_STRING, true);
    sd_field *l = sd_type_add_field(s, "l", SD_LIST, true);
    sd_type_add_field(&l->type, "element", SD_INT32, true);
    sd_field *m = sd_type_add_field(s, "m", SD_MAP, true);
    sd_type_add_field(&m->type, "key", SD_STRING, false);
    sd_type_add_field(&m->type, "value", SD_INT64, true);
    sd_field *ll = sd_type_add_field(s, "ll", SD_LIST, true);
    sd_field *inner = sd_type_add_field(&ll->type, "element", SD_LIST, true);
    sd_type_add_field(&inner->type, "element", SD_INT32, false);
    sd_type_add_field(s, "dec", SD_DECIMAL, true)->type.precision = 18;
    return s;
}

static void rt_fill(sd_batch *b, int n) {
    char buf[32];
    for (int r = 0; r < n; r++) {
        sd_column_append_i64(&b->cols[0], r);
        if (r % 7 == 0)
            sd_column_append_null(&b->cols[1]);
        else
            sd_column_append_bytes(&b->cols[1], buf,
                                   (size_t)snprintf(buf, sizeof buf, "v%d", r % 13));
        sd_column *st = &b->cols[2];
        if (r % 5 == 0) {
            sd_column_append_null(st);
        } else {
            if (r % 3 == 0)
                sd_column_append_null(&st->children[0]);
            else
                sd_column_append_i32(&st->children[0], r);
            sd_column_append_bytes(&st->children[1], buf,
                                   (size_t)snprintf(buf, sizeof buf, "b%d", r));
            sd_column_append_struct(st);
        }
        sd_column *l = &b->cols[3];
        if (r % 11 == 0) {
            sd_column_append_null(l);
        } else {
            int cnt = r % 4 == 0 ? 0 : r % 5 + 1;
            for (int j = 0; j < cnt; j++) {
                if ((r + j) % 6 == 0)
                    sd_column_append_null(&l->children[0]);
                else
                    sd_column_append_i32(&l->children[0], r * 10 + j);
            }
            sd_column_append_list(l, (size_t)cnt);
        }
        sd_column *m = &b->cols[4];
        if (r % 9 == 0) {
            sd_column_append_null(m);
        } else {
            for (int j = 0; j < r % 3; j++) {
                sd_column_append_bytes(&m->children[0], buf,
                                       (size_t)snprintf(buf, sizeof buf, "k%d", j));
                if (j == 1)
                    sd_column_append_null(&m->children[1]);
                else
                    sd_column_append_i64(&m->children[1], r + j);
            }
            sd_column_append_list(m, (size_t)(r % 3));
        }
        sd_column *ll = &b->cols[5];
        if (r % 13 == 0) {
            sd_column_append_null(ll);
        } else {
            sd_column *in = &ll->children[0];
            for (int j = 0; j < r % 3; j++) {
                int cnt = (r + j) % 4 == 0 ? 0 : j + 1;
                for (int k = 0; k < cnt; k++) sd_column_append_i32(&in->children[0], r + j + k);
                sd_column_append_list(in, (size_t)cnt);
            }
            sd_column_append_list(ll, (size_t)(r % 3));
        }
        if (r % 8 == 3)
            sd_column_append_null(&b->cols[6]);
        else
            sd_column_append_decimal(&b->cols[6], (__int128)(r - 150) * 1000003);
    }
    b->nrows = (size_t)n;
}

/* Columns equal in length, validity, values, offsets (recursively). */
static bool rt_equal(const sd_column *a, const sd_column *b, const char *what) {
    if (a->len != b->len) {
        unit_fail(__FILE__, __LINE__, "%s: length %zu vs %zu", what, a->len, b->len);
        return false;
    }
    for (size_t r = 0; r < a->len; r++) {
        if (sd_column_is_valid(a, r) != sd_column_is_valid(b, r)) {
            unit_fail(__FILE__, __LINE__, "%s: row %zu validity differs", what, r);
            return false;
        }
        sd_type_kind k = a->type->kind;
        if (k == SD_LIST || k == SD_MAP) {
            if (a->offsets[r + 1] - a->offsets[r] != b->offsets[r + 1] - b->offsets[r]) {
                unit_fail(__FILE__, __LINE__, "%s: row %zu list length differs", what, r);
                return false;
            }
        } else if (k != SD_STRUCT && sd_column_is_valid(a, r)) {
            sd_value x = sd_column_get(a, r), y = sd_column_get(b, r);
            if (sd_value_compare(&x, &y) != 0) {
                unit_fail(__FILE__, __LINE__, "%s: row %zu value differs", what, r);
                return false;
            }
        }
    }
    for (int c = 0; c < a->nchildren; c++)
        if (!rt_equal(&a->children[c], &b->children[c], what)) return false;
    return true;
}

static void rt_roundtrip(int version, pq_codec codec, bool dict, size_t dict_max) {
    sd_schema *s = rt_schema();
    sd_batch in;
    sd_batch_init(&in, s);
    rt_fill(&in, 300);
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.data_page_version = version;
    o.codec = codec;
    o.dictionary = dict;
    if (dict_max) o.dictionary_max = dict_max;
    o.page_size = 200; /* many pages per chunk */
    char path[512];
    snprintf(path, sizeof path, "%s/rt-%d-%d-%d.parquet", unit_tmpdir(), version, (int)codec,
             (int)dict);
    sd_error err = {0};
    CHECK_OK(pq_write_file(path, &in, &o, NULL, &err), &err);
    pq_file *f = pq_file_open(path, &err);
    CHECK(f != NULL);
    if (f) {
        CHECK_INT(pq_file_num_rows(f), 300);
        CHECK(sd_type_equal(pq_file_schema(f), s));
        size_t at = 0;
        for (int rg = 0; rg < pq_file_num_row_groups(f); rg++) {
            sd_batch out;
            CHECK_OK(pq_read_row_group(f, rg, NULL, 0, &out, &err), &err);
            if (pq_file_num_row_groups(f) == 1)
                for (int c = 0; c < in.ncols; c++)
                    rt_equal(&in.cols[c], &out.cols[c], s->children[c].name);
            at += out.nrows;
            if (out.ncols) sd_batch_free(&out);
        }
        CHECK_INT(at, 300);
        pq_file_close(f);
    }
    sd_batch_free(&in);
    sd_schema_free(s);
}

TEST(pq_reader_roundtrip_nested_v1_v2) {
    rt_roundtrip(1, PQ_CODEC_SNAPPY, true, 0);
    rt_roundtrip(2, PQ_CODEC_ZSTD, true, 0);
    rt_roundtrip(2, PQ_CODEC_UNCOMPRESSED, false, 0);
    rt_roundtrip(1, PQ_CODEC_GZIP, false, 0);
    /* A tiny dictionary limit: chunks switch from dictionary to PLAIN. */
    rt_roundtrip(1, PQ_CODEC_LZ4_RAW, true, 40);
    rt_roundtrip(2, PQ_CODEC_SNAPPY, true, 40);
}

/* Stats edits: legacy-only min/max for i (INT32) and s (BYTE_ARRAY), a NaN
 * max for d (DOUBLE). */
static void rd_move_to_legacy(pq_statistics *st) {
    st->has_legacy_min = st->has_legacy_max = true;
    sd_buf_reset(&st->legacy_min);
    sd_buf_reset(&st->legacy_max);
    sd_buf_append(&st->legacy_min, st->min.data, st->min.len);
    sd_buf_append(&st->legacy_max, st->max.data, st->max.len);
    st->has_min = st->has_max = false;
}
static void rd_edit_stats(pq_file_meta *m) {
    rd_move_to_legacy(&m->row_groups[0].columns[0].meta_data.statistics);
    rd_move_to_legacy(&m->row_groups[0].columns[4].meta_data.statistics);
    pq_statistics *d = &m->row_groups[0].columns[3].meta_data.statistics;
    double nan = __builtin_nan("");
    sd_buf_reset(&d->max);
    sd_buf_append(&d->max, &nan, 8);
}

TEST(pq_reader_skip_trusts_only_sound_stats) {
    size_t len, n;
    uint8_t *d = rd_load(CORPUS "duckdb-v2-none.parquet", &len);
    uint8_t *c = rd_rebuild(d, len, rd_edit_stats, &n);
    sd_error err = {0};
    pq_file *f = pq_file_open_memory(c, n, "stats.parquet", &err);
    CHECK(f != NULL);
    if (f) {
        /* Legacy min/max of a signed int column are sound. */
        pq_predicate p = {.path = "i", .op = PQ_GT, .value = {.kind = SD_INT32, .u.i = 500}};
        CHECK(pq_row_group_can_skip(f, 0, &p, 1));
        /* Legacy min/max of byte arrays were compared signed: never used. */
        pq_predicate s = {.path = "s",
                          .op = PQ_EQ,
                          .value = {.kind = SD_STRING, .u.s = {(const uint8_t *)"zzz", 3}}};
        CHECK(!pq_row_group_can_skip(f, 0, &s, 1));
        bool has;
        sd_value mn, mx;
        int64_t nulls;
        CHECK_OK(pq_file_leaf_stats(f, 0, "s", &has, &mn, &mx, &nulls, &err), &err);
        CHECK(!has);
        CHECK_INT(nulls, 40);
        /* A NaN bound makes the float stats unusable. */
        pq_predicate q = {.path = "d", .op = PQ_GT, .value = {.kind = SD_DOUBLE, .u.d = 1e9}};
        CHECK(!pq_row_group_can_skip(f, 0, &q, 1));
        pq_file_close(f);
    }
    free(c);
    free(d);
}
