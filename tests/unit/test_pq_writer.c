/*
 * test_pq_writer.c - the Parquet writer: footer contents (schema elements,
 * logical types, encodings, codec, statistics bytes), page and row-group
 * cutting, dictionary fallback, levels of nested columns, the file summary
 * and error paths. Files are checked by parsing their footer and page
 * headers with the metadata parser, and expected values are written out by
 * hand from parquet-format's rules.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parquet/pq_writer_internal.h"
#include "unit.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static char *tw_path(const char *name) {
    return sd_xasprintf("%s/%s", unit_tmpdir(), name);
}

/* Whole file in memory. */
static uint8_t *tw_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = sd_xmalloc((size_t)n + 1);
    size_t got = fread(p, 1, (size_t)n, f);
    fclose(f);
    *len = got;
    return p;
}

/* Parse the footer of a file we wrote; false (with a failed check) if the
 * file is not a Parquet file. */
static bool tw_footer(const char *path, uint8_t **bytes, size_t *len, pq_file_meta *m) {
    *bytes = tw_slurp(path, len);
    CHECK(*bytes != NULL);
    if (*bytes == NULL || *len < 12) return false;
    CHECK(memcmp(*bytes, "PAR1", 4) == 0);
    CHECK(memcmp(*bytes + *len - 4, "PAR1", 4) == 0);
    uint32_t flen;
    memcpy(&flen, *bytes + *len - 8, 4);
    CHECK(flen + 12 <= *len);
    if (flen + 12 > *len) return false;
    sd_error err = {0};
    sd_status st = pq_meta_parse(*bytes + *len - 8 - flen, flen, m, path, &err);
    CHECK_OK(st, &err);
    return st == SD_OK;
}

/* Page headers of one column chunk, in order. Returns the count. */
static int tw_pages(const uint8_t *file, size_t len, const pq_column_meta *cm, pq_page_header *out,
                    int max) {
    int64_t pos =
        cm->has_dictionary_page_offset ? cm->dictionary_page_offset : cm->data_page_offset;
    int64_t end = pos + cm->total_compressed_size;
    int n = 0;
    while (pos < end && n < max) {
        size_t used;
        sd_error err = {0};
        sd_status st =
            pq_page_header_parse(file + pos, len - (size_t)pos, &out[n], &used, "t", &err);
        CHECK_OK(st, &err);
        if (st != SD_OK) break;
        pos += (int64_t)used + out[n].compressed_page_size;
        n++;
    }
    CHECK_INT(pos, end);
    return n;
}

static void tw_pages_clear(pq_page_header *h, int n) {
    for (int i = 0; i < n; i++) pq_page_header_clear(&h[i]);
}

static bool tw_has_encoding(const pq_column_meta *cm, pq_encoding e) {
    for (int i = 0; i < cm->nencodings; i++)
        if (cm->encodings[i] == e) return true;
    return false;
}

static bool tw_bytes_eq(const sd_buf *b, const void *p, size_t n) {
    return b->len == n && (n == 0 || memcmp(b->data, p, n) == 0);
}

static int32_t tw_i32(const sd_buf *b) {
    int32_t v = 0;
    if (b->len == 4) memcpy(&v, b->data, 4);
    return v;
}

static int64_t tw_i64(const sd_buf *b) {
    int64_t v = 0;
    if (b->len == 8) memcpy(&v, b->data, 8);
    return v;
}

static float tw_f32(const sd_buf *b) {
    float v = 0;
    if (b->len == 4) memcpy(&v, b->data, 4);
    return v;
}

static double tw_f64(const sd_buf *b) {
    double v = 0;
    if (b->len == 8) memcpy(&v, b->data, 8);
    return v;
}

static const pq_column_meta *tw_col(const pq_file_meta *m, int rg, int col) {
    return &m->row_groups[rg].columns[col].meta_data;
}

/* ------------------------------------------------------------------------ */
/* Footer: schema and types                                                  */
/* ------------------------------------------------------------------------ */

static sd_schema *tw_all_types_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "b", SD_BOOL, false);
    sd_type_add_field(s, "i8", SD_INT8, true);
    sd_type_add_field(s, "i16", SD_INT16, true);
    sd_type_add_field(s, "i32", SD_INT32, true);
    sd_type_add_field(s, "i64", SD_INT64, true);
    sd_type_add_field(s, "f", SD_FLOAT, true);
    sd_type_add_field(s, "d", SD_DOUBLE, true);
    sd_field *d1 = sd_type_add_field(s, "dec9", SD_DECIMAL, true);
    d1->type.precision = 9;
    d1->type.scale = 2;
    sd_field *d2 = sd_type_add_field(s, "dec18", SD_DECIMAL, true);
    d2->type.precision = 18;
    d2->type.scale = 3;
    sd_field *d3 = sd_type_add_field(s, "dec38", SD_DECIMAL, true);
    d3->type.precision = 38;
    d3->type.scale = 0;
    sd_type_add_field(s, "s", SD_STRING, true);
    sd_type_add_field(s, "bin", SD_BINARY, true);
    sd_type_add_field(s, "dt", SD_DATE, true);
    sd_type_add_field(s, "ts", SD_TIMESTAMP, true);
    sd_type_add_field(s, "ntz", SD_TIMESTAMP_NTZ, false);
    return s;
}

/* Three rows per column: for every column value, null (or a second value
 * for non-nullable ones), another value. */
static void tw_fill_all_types(sd_batch *b) {
    sd_column *c = b->cols;
    sd_column_append_bool(&c[0], true);
    sd_column_append_bool(&c[0], false);
    sd_column_append_bool(&c[0], true);
    sd_column_append_i32(&c[1], -5);
    sd_column_append_null(&c[1]);
    sd_column_append_i32(&c[1], 100);
    sd_column_append_i32(&c[2], 300);
    sd_column_append_null(&c[2]);
    sd_column_append_i32(&c[2], -300);
    sd_column_append_i32(&c[3], 7);
    sd_column_append_null(&c[3]);
    sd_column_append_i32(&c[3], -7);
    sd_column_append_i64(&c[4], INT64_MIN);
    sd_column_append_null(&c[4]);
    sd_column_append_i64(&c[4], INT64_MAX);
    sd_column_append_float(&c[5], 1.5f);
    sd_column_append_null(&c[5]);
    sd_column_append_float(&c[5], -2.25f);
    sd_column_append_double(&c[6], 1e300);
    sd_column_append_null(&c[6]);
    sd_column_append_double(&c[6], -0.5);
    sd_column_append_decimal(&c[7], -12345);
    sd_column_append_null(&c[7]);
    sd_column_append_decimal(&c[7], 999999999);
    sd_column_append_decimal(&c[8], 123456789012345678LL);
    sd_column_append_null(&c[8]);
    sd_column_append_decimal(&c[8], -1);
    sd_column_append_decimal(&c[9], -((__int128)1 << 100));
    sd_column_append_null(&c[9]);
    sd_column_append_decimal(&c[9], 258);
    sd_column_append_bytes(&c[10], "pear", 4);
    sd_column_append_null(&c[10]);
    sd_column_append_bytes(&c[10], "apple", 5);
    sd_column_append_bytes(&c[11], "\x00\x01", 2);
    sd_column_append_null(&c[11]);
    sd_column_append_bytes(&c[11], "\xff", 1);
    sd_column_append_i32(&c[12], 19000);
    sd_column_append_null(&c[12]);
    sd_column_append_i32(&c[12], -1);
    sd_column_append_i64(&c[13], 1700000000000000LL);
    sd_column_append_null(&c[13]);
    sd_column_append_i64(&c[13], 0);
    sd_column_append_i64(&c[14], 5);
    sd_column_append_i64(&c[14], 6);
    sd_column_append_i64(&c[14], 4);
    b->nrows = 3;
}

TEST(pq_writer_footer_schema) {
    sd_schema *s = tw_all_types_schema();
    sd_batch b;
    sd_batch_init(&b, s);
    tw_fill_all_types(&b);
    char *path = tw_path("types.parquet");
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.created_by = "unit test";
    const char *keys[] = {"k1", "k2"};
    const char *vals[] = {"v1", NULL};
    o.nkv = 2;
    o.kv_keys = keys;
    o.kv_values = vals;
    sd_error err = {0};
    pq_file_summary sum;
    CHECK_OK(pq_write_file(path, &b, &o, &sum, &err), &err);
    uint8_t *bytes = NULL;
    size_t len = 0;
    pq_file_meta m = {0};
    if (tw_footer(path, &bytes, &len, &m)) {
        CHECK_INT(m.version, 1);
        CHECK_INT(m.num_rows, 3);
        CHECK_STR(m.created_by, "unit test");
        CHECK_INT(m.nkv, 2);
        CHECK_STR(m.kv[0].key, "k1");
        CHECK_STR(m.kv[0].value, "v1");
        CHECK(m.kv[1].value == NULL);
        CHECK_INT(m.ncolumn_orders, 15);
        CHECK_INT(m.nschema, 16);
        CHECK_INT(m.schema[0].num_children, 15);
        const pq_schema_element *e = m.schema + 1;
        /* b: required boolean */
        CHECK_INT(e[0].type, PQ_BOOLEAN);
        CHECK_INT(e[0].repetition, PQ_REQUIRED);
        /* i8 / i16: INT32 + INTEGER(8/16, signed) + INT_8 / INT_16 */
        CHECK_INT(e[1].type, PQ_INT32);
        CHECK_INT(e[1].repetition, PQ_OPTIONAL);
        CHECK_INT(e[1].logical.kind, PQ_LT_INTEGER);
        CHECK_INT(e[1].logical.bit_width, 8);
        CHECK(e[1].logical.is_signed);
        CHECK_INT(e[1].converted_type, PQ_CT_INT_8);
        CHECK_INT(e[2].logical.bit_width, 16);
        CHECK_INT(e[2].converted_type, PQ_CT_INT_16);
        CHECK_INT(e[3].type, PQ_INT32);
        CHECK_INT(e[3].logical.kind, PQ_LT_NONE);
        CHECK_INT(e[4].type, PQ_INT64);
        CHECK_INT(e[5].type, PQ_FLOAT);
        CHECK_INT(e[6].type, PQ_DOUBLE);
        /* decimals by precision */
        CHECK_INT(e[7].type, PQ_INT32);
        CHECK_INT(e[7].converted_type, PQ_CT_DECIMAL);
        CHECK_INT(e[7].precision, 9);
        CHECK_INT(e[7].scale, 2);
        CHECK_INT(e[7].logical.kind, PQ_LT_DECIMAL);
        CHECK_INT(e[7].logical.precision, 9);
        CHECK_INT(e[8].type, PQ_INT64);
        CHECK_INT(e[9].type, PQ_FIXED_LEN_BYTE_ARRAY);
        CHECK_INT(e[9].type_length, 16);
        /* strings */
        CHECK_INT(e[10].type, PQ_BYTE_ARRAY);
        CHECK_INT(e[10].logical.kind, PQ_LT_STRING);
        CHECK_INT(e[10].converted_type, PQ_CT_UTF8);
        CHECK_INT(e[11].type, PQ_BYTE_ARRAY);
        CHECK_INT(e[11].logical.kind, PQ_LT_NONE);
        CHECK_INT(e[11].converted_type, PQ_CT_NONE);
        CHECK_INT(e[12].type, PQ_INT32);
        CHECK_INT(e[12].logical.kind, PQ_LT_DATE);
        CHECK_INT(e[12].converted_type, PQ_CT_DATE);
        CHECK_INT(e[13].type, PQ_INT64);
        CHECK_INT(e[13].logical.kind, PQ_LT_TIMESTAMP);
        CHECK(e[13].logical.is_adjusted_to_utc);
        CHECK_INT(e[13].logical.unit, PQ_UNIT_MICROS);
        CHECK_INT(e[13].converted_type, PQ_CT_TIMESTAMP_MICROS);
        CHECK_INT(e[14].logical.kind, PQ_LT_TIMESTAMP);
        CHECK(!e[14].logical.is_adjusted_to_utc);
        CHECK_INT(e[14].converted_type, PQ_CT_NONE);
        CHECK_INT(e[14].repetition, PQ_REQUIRED);

        CHECK_INT(m.nrow_groups, 1);
        CHECK_INT(m.row_groups[0].num_rows, 3);
        CHECK_INT(m.row_groups[0].ncolumns, 15);
        for (int i = 0; i < 15; i++) {
            const pq_column_meta *cm = tw_col(&m, 0, i);
            CHECK_INT(cm->codec, PQ_CODEC_SNAPPY);
            CHECK_INT(cm->num_values, 3);
            CHECK_INT(cm->npath, 1);
            CHECK_STR(cm->path_in_schema[0], s->children[i].name);
            CHECK(cm->has_statistics);
        }
        /* statistics bytes, physical PLAIN form */
        const pq_statistics *st = &tw_col(&m, 0, 0)->statistics;
        CHECK(tw_bytes_eq(&st->min, "\x00", 1) && tw_bytes_eq(&st->max, "\x01", 1));
        CHECK_INT(st->null_count, 0);
        st = &tw_col(&m, 0, 1)->statistics;
        CHECK_INT(tw_i32(&st->min), -5);
        CHECK_INT(tw_i32(&st->max), 100);
        CHECK_INT(st->null_count, 1);
        /* deprecated fields too where the order is signed */
        CHECK(st->has_legacy_min && st->has_legacy_max);
        CHECK_INT(tw_i32(&st->legacy_min), -5);
        CHECK_INT(tw_i32(&st->legacy_max), 100);
        CHECK(!tw_col(&m, 0, 10)->statistics.has_legacy_min);
        CHECK(!tw_col(&m, 0, 9)->statistics.has_legacy_min);
        st = &tw_col(&m, 0, 2)->statistics;
        CHECK_INT(tw_i32(&st->min), -300);
        CHECK_INT(tw_i32(&st->max), 300);
        st = &tw_col(&m, 0, 4)->statistics;
        CHECK(tw_i64(&st->min) == INT64_MIN && tw_i64(&st->max) == INT64_MAX);
        st = &tw_col(&m, 0, 5)->statistics;
        CHECK(tw_f32(&st->min) == -2.25f && tw_f32(&st->max) == 1.5f);
        st = &tw_col(&m, 0, 6)->statistics;
        CHECK(tw_f64(&st->min) == -0.5 && tw_f64(&st->max) == 1e300);
        st = &tw_col(&m, 0, 7)->statistics;
        CHECK_INT(tw_i32(&st->min), -12345);
        CHECK_INT(tw_i32(&st->max), 999999999);
        st = &tw_col(&m, 0, 8)->statistics;
        CHECK_INT(tw_i64(&st->min), -1);
        CHECK_INT(tw_i64(&st->max), 123456789012345678LL);
        /* FLBA decimals: 16 bytes big-endian two's complement, by value */
        st = &tw_col(&m, 0, 9)->statistics;
        CHECK(st->min.len == 16 && st->max.len == 16);
        if (st->min.len == 16) {
            static const uint8_t minb[16] = {0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0,
                                             0,    0,    0,    0,    0, 0, 0, 0};
            static const uint8_t maxb[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x02};
            CHECK(memcmp(st->min.data, minb, 16) == 0);
            CHECK(memcmp(st->max.data, maxb, 16) == 0);
        }
        st = &tw_col(&m, 0, 10)->statistics;
        CHECK(tw_bytes_eq(&st->min, "apple", 5) && tw_bytes_eq(&st->max, "pear", 4));
        st = &tw_col(&m, 0, 11)->statistics;
        CHECK(tw_bytes_eq(&st->min, "\x00\x01", 2) && tw_bytes_eq(&st->max, "\xff", 1));
        st = &tw_col(&m, 0, 12)->statistics;
        CHECK_INT(tw_i32(&st->min), -1);
        CHECK_INT(tw_i32(&st->max), 19000);
        st = &tw_col(&m, 0, 13)->statistics;
        CHECK_INT(tw_i64(&st->min), 0);
        CHECK_INT(tw_i64(&st->max), 1700000000000000LL);
        st = &tw_col(&m, 0, 14)->statistics;
        CHECK_INT(tw_i64(&st->min), 4);
        CHECK_INT(tw_i64(&st->max), 6);
        /* encodings: booleans PLAIN only; optional dictionary columns
         * RLE_DICTIONARY + PLAIN (dictionary page) + RLE (levels) */
        const pq_column_meta *cb = tw_col(&m, 0, 0);
        CHECK(tw_has_encoding(cb, PQ_ENC_PLAIN));
        CHECK(!tw_has_encoding(cb, PQ_ENC_RLE_DICTIONARY));
        CHECK(!tw_has_encoding(cb, PQ_ENC_RLE));
        const pq_column_meta *cs = tw_col(&m, 0, 10);
        CHECK(tw_has_encoding(cs, PQ_ENC_RLE_DICTIONARY));
        CHECK(tw_has_encoding(cs, PQ_ENC_PLAIN));
        CHECK(tw_has_encoding(cs, PQ_ENC_RLE));
        CHECK(cs->has_dictionary_page_offset);
        CHECK_INT(cs->nencoding_stats, 2);
        if (cs->nencoding_stats == 2) {
            CHECK_INT(cs->encoding_stats[0].page_type, PQ_PAGE_DICTIONARY);
            CHECK_INT(cs->encoding_stats[1].page_type, PQ_PAGE_DATA);
            CHECK_INT(cs->encoding_stats[1].encoding, PQ_ENC_RLE_DICTIONARY);
        }
    }
    /* the summary carries the same bounds as sd_values */
    CHECK_INT(sum.num_rows, 3);
    CHECK_INT(sum.num_row_groups, 1);
    CHECK_INT(sum.file_size, (long long)len);
    CHECK_INT(sum.nleaves, 15);
    if (sum.nleaves == 15) {
        CHECK_STR(sum.leaves[10].path, "s");
        CHECK(sum.leaves[10].has_min_max);
        CHECK(sum.leaves[10].min.u.s.len == 5 &&
              memcmp(sum.leaves[10].min.u.s.ptr, "apple", 5) == 0);
        CHECK_INT(sum.leaves[10].null_count, 1);
        CHECK(sum.leaves[9].min.u.dec == -((__int128)1 << 100));
        CHECK_INT(sum.leaves[9].min.precision, 38);
        CHECK(sum.leaves[5].min.u.d == -2.25 && sum.leaves[5].max.u.d == 1.5);
        CHECK_INT(sum.leaves[12].min.u.i, -1);
        CHECK(sum.leaves[0].min.u.b == false && sum.leaves[0].max.u.b == true);
        CHECK_INT(sum.leaves[3].field_index, 3);
        CHECK(!sum.leaves[3].in_repeated);
    }
    pq_file_summary_free(&sum);
    pq_file_meta_clear(&m);
    free(bytes);
    free(path);
    sd_batch_free(&b);
    sd_schema_free(s);
}

/* Same file with every codec and page v2: codec recorded, v2 headers. */
TEST(pq_writer_codecs_and_v2) {
    static const pq_codec codecs[] = {PQ_CODEC_UNCOMPRESSED, PQ_CODEC_SNAPPY, PQ_CODEC_GZIP,
                                      PQ_CODEC_ZSTD, PQ_CODEC_LZ4_RAW};
    sd_schema *s = tw_all_types_schema();
    sd_batch b;
    sd_batch_init(&b, s);
    tw_fill_all_types(&b);
    char *path = tw_path("codec.parquet");
    for (size_t ci = 0; ci < sizeof(codecs) / sizeof(codecs[0]); ci++) {
        pq_writer_options o;
        pq_writer_options_init(&o);
        o.codec = codecs[ci];
        o.data_page_version = 2;
        sd_error err = {0};
        CHECK_OK(pq_write_file(path, &b, &o, NULL, &err), &err);
        uint8_t *bytes = NULL;
        size_t len = 0;
        pq_file_meta m = {0};
        if (tw_footer(path, &bytes, &len, &m)) {
            const pq_column_meta *cm = tw_col(&m, 0, 1);
            CHECK_INT(cm->codec, codecs[ci]);
            pq_page_header h[4];
            int n = tw_pages(bytes, len, cm, h, 4);
            CHECK_INT(n, 2);
            if (n == 2) {
                CHECK_INT(h[0].type, PQ_PAGE_DICTIONARY);
                CHECK_INT(h[1].type, PQ_PAGE_DATA_V2);
                CHECK_INT(h[1].data_page_header_v2.num_values, 3);
                CHECK_INT(h[1].data_page_header_v2.num_nulls, 1);
                CHECK_INT(h[1].data_page_header_v2.num_rows, 3);
                CHECK_INT(h[1].data_page_header_v2.repetition_levels_byte_length, 0);
                /* 3 levels of 1 bit: one bit-packed group, 2 bytes */
                CHECK_INT(h[1].data_page_header_v2.definition_levels_byte_length, 2);
                CHECK(h[1].data_page_header_v2.is_compressed ==
                      (codecs[ci] != PQ_CODEC_UNCOMPRESSED));
                CHECK(h[1].data_page_header_v2.has_statistics);
                CHECK_INT(tw_i32(&h[1].data_page_header_v2.statistics.min), -5);
            }
            tw_pages_clear(h, n);
        }
        pq_file_meta_clear(&m);
        free(bytes);
    }
    free(path);
    sd_batch_free(&b);
    sd_schema_free(s);
}

/* ------------------------------------------------------------------------ */
/* Statistics edge cases                                                     */
/* ------------------------------------------------------------------------ */

/* Write one nullable column of floats (or doubles) and return its chunk
 * statistics through the callbacks' checks. */
static void tw_float_stats(bool dbl, const double *vals, const bool *nulls, int n,
                           bool expect_minmax, double emin, double emax, int64_t enulls,
                           const char *what) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "x", dbl ? SD_DOUBLE : SD_FLOAT, true);
    sd_batch b;
    sd_batch_init(&b, s);
    for (int i = 0; i < n; i++) {
        if (nulls[i])
            sd_column_append_null(&b.cols[0]);
        else if (dbl)
            sd_column_append_double(&b.cols[0], vals[i]);
        else
            sd_column_append_float(&b.cols[0], (float)vals[i]);
    }
    b.nrows = (size_t)n;
    char *path = tw_path("floats.parquet");
    sd_error err = {0};
    pq_file_summary sum;
    CHECK_OK(pq_write_file(path, &b, NULL, &sum, &err), &err);
    uint8_t *bytes = NULL;
    size_t len;
    pq_file_meta m = {0};
    if (tw_footer(path, &bytes, &len, &m)) {
        const pq_statistics *st = &tw_col(&m, 0, 0)->statistics;
        if (st->has_min != expect_minmax || st->has_max != expect_minmax)
            unit_fail(__FILE__, __LINE__, "%s: min/max presence %d, expected %d", what, st->has_min,
                      expect_minmax);
        if (st->null_count != enulls)
            unit_fail(__FILE__, __LINE__, "%s: null_count %lld, expected %lld", what,
                      (long long)st->null_count, (long long)enulls);
        if (expect_minmax && st->has_min) {
            double mn = dbl ? tw_f64(&st->min) : tw_f32(&st->min);
            double mx = dbl ? tw_f64(&st->max) : tw_f32(&st->max);
            /* compare bit patterns through signbit too: -0.0 vs +0.0 */
            if (mn != emin || signbit(mn) != signbit(emin) || mx != emax ||
                signbit(mx) != signbit(emax))
                unit_fail(__FILE__, __LINE__, "%s: min %g max %g, expected %g %g", what, mn, mx,
                          emin, emax);
        }
        if (sum.leaves[0].has_min_max != expect_minmax)
            unit_fail(__FILE__, __LINE__, "%s: summary has_min_max wrong", what);
        if (expect_minmax && signbit(sum.leaves[0].min.u.d) != signbit(emin))
            unit_fail(__FILE__, __LINE__, "%s: summary min sign wrong", what);
    }
    pq_file_summary_free(&sum);
    pq_file_meta_clear(&m);
    free(bytes);
    free(path);
    sd_batch_free(&b);
    sd_schema_free(s);
}

TEST(pq_writer_stats_floats) {
    for (int dbl = 0; dbl < 2; dbl++) {
        double v1[] = {NAN, 3.0, -1.0, NAN};
        bool n1[] = {false, false, false, true};
        tw_float_stats(dbl, v1, n1, 4, true, -1.0, 3.0, 1, "NaN ignored");
        double v2[] = {NAN, NAN, 0};
        bool n2[] = {false, false, true};
        tw_float_stats(dbl, v2, n2, 3, false, 0, 0, 1, "NaN only");
        double v3[] = {0, 0};
        bool n3[] = {true, true};
        tw_float_stats(dbl, v3, n3, 2, false, 0, 0, 2, "all null");
        double v4[] = {0.0, 0.0};
        bool n4[] = {false, false};
        tw_float_stats(dbl, v4, n4, 2, true, -0.0, 0.0, 0, "+0.0 only");
        double v5[] = {-0.0, -0.0};
        tw_float_stats(dbl, v5, n4, 2, true, -0.0, 0.0, 0, "-0.0 only");
        double v6[] = {-0.0, 5.0};
        tw_float_stats(dbl, v6, n4, 2, true, -0.0, 5.0, 0, "zero min");
        double v7[] = {-4.0, 0.0};
        tw_float_stats(dbl, v7, n4, 2, true, -4.0, 0.0, 0, "zero max");
    }
}

TEST(pq_writer_stats_strings_and_nulls) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "s", SD_STRING, true);
    sd_type_add_field(s, "n", SD_INT32, true);
    sd_type_add_field(s, "long", SD_BINARY, true);
    sd_batch b;
    sd_batch_init(&b, s);
    /* unsigned order: "zz" < "\xc3\xa9" (é) < "\xff"; signed would put the
     * high bytes first */
    const char *vals[] = {"\xc3\xa9t\xc3\xa9", "zz", "\xff", "Abc", "zz"};
    char big[1500];
    memset(big, 'q', sizeof(big));
    for (int i = 0; i < 5; i++) {
        sd_column_append_bytes(&b.cols[0], vals[i], strlen(vals[i]));
        sd_column_append_null(&b.cols[1]);
        if (i == 2)
            sd_column_append_bytes(&b.cols[2], big, sizeof(big));
        else
            sd_column_append_bytes(&b.cols[2], "a", 1);
    }
    b.nrows = 5;
    for (int dict = 0; dict < 2; dict++) {
        pq_writer_options o;
        pq_writer_options_init(&o);
        o.dictionary = dict;
        char *path = tw_path("strings.parquet");
        sd_error err = {0};
        pq_file_summary sum;
        CHECK_OK(pq_write_file(path, &b, &o, &sum, &err), &err);
        uint8_t *bytes = NULL;
        size_t len;
        pq_file_meta m = {0};
        if (tw_footer(path, &bytes, &len, &m)) {
            const pq_statistics *st = &tw_col(&m, 0, 0)->statistics;
            CHECK(tw_bytes_eq(&st->min, "Abc", 3));
            CHECK(tw_bytes_eq(&st->max, "\xff", 1));
            /* all null: null_count only */
            st = &tw_col(&m, 0, 1)->statistics;
            CHECK(!st->has_min && !st->has_max);
            CHECK(st->has_null_count);
            CHECK_INT(st->null_count, 5);
            /* a value over 1024 bytes: no min/max for the chunk */
            st = &tw_col(&m, 0, 2)->statistics;
            CHECK(!st->has_min && !st->has_max);
            CHECK_INT(st->null_count, 0);
            /* data page statistics agree with the chunk */
            pq_page_header h[3];
            int n = tw_pages(bytes, len, tw_col(&m, 0, 0), h, 3);
            CHECK_INT(n, dict ? 2 : 1);
            if (n >= 1) {
                const pq_data_page_header *d = &h[n - 1].data_page_header;
                CHECK(d->has_statistics);
                CHECK(tw_bytes_eq(&d->statistics.min, "Abc", 3));
                CHECK(tw_bytes_eq(&d->statistics.max, "\xff", 1));
                CHECK_INT(d->encoding, dict ? PQ_ENC_RLE_DICTIONARY : PQ_ENC_PLAIN);
            }
            tw_pages_clear(h, n);
        }
        CHECK(!sum.leaves[1].has_min_max);
        CHECK_INT(sum.leaves[1].null_count, 5);
        CHECK(!sum.leaves[2].has_min_max);
        CHECK(sum.leaves[0].max.u.s.len == 1 && sum.leaves[0].max.u.s.ptr[0] == 0xff);
        pq_file_summary_free(&sum);
        pq_file_meta_clear(&m);
        free(bytes);
        free(path);
    }
    sd_batch_free(&b);
    sd_schema_free(s);
}

/* ------------------------------------------------------------------------ */
/* Pages, row groups, dictionary fallback                                    */
/* ------------------------------------------------------------------------ */

TEST(pq_writer_page_and_row_group_split) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "v", SD_INT64, false);
    sd_batch b;
    sd_batch_init(&b, s);
    for (int i = 0; i < 10000; i++) sd_column_append_i64(&b.cols[0], i);
    b.nrows = 10000;
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.dictionary = false;
    o.codec = PQ_CODEC_UNCOMPRESSED;
    o.page_size = 8000;       /* ~1000 values per page */
    o.row_group_size = 40000; /* ~5000 rows per row group */
    char *path = tw_path("split.parquet");
    sd_error err = {0};
    pq_file_summary sum;
    CHECK_OK(pq_write_file(path, &b, &o, &sum, &err), &err);
    uint8_t *bytes = NULL;
    size_t len;
    pq_file_meta m = {0};
    if (tw_footer(path, &bytes, &len, &m)) {
        CHECK(m.nrow_groups >= 2 && m.nrow_groups <= 3);
        int64_t rows = 0, first = 0;
        for (int g = 0; g < m.nrow_groups; g++) {
            rows += m.row_groups[g].num_rows;
            const pq_column_meta *cm = tw_col(&m, g, 0);
            CHECK_INT(cm->num_values, m.row_groups[g].num_rows);
            pq_page_header h[64];
            int n = tw_pages(bytes, len, cm, h, 64);
            int64_t vals = 0;
            for (int i = 0; i < n; i++) {
                CHECK_INT(h[i].type, PQ_PAGE_DATA);
                vals += h[i].data_page_header.num_values;
                /* every page but the last near the target */
                if (i + 1 < n)
                    CHECK(h[i].uncompressed_page_size >= 8000 &&
                          h[i].uncompressed_page_size <= 8000 + 8 * 64);
                if (i == 0 && g == 0 && h[i].data_page_header.has_statistics)
                    first = tw_i64(&h[i].data_page_header.statistics.max);
            }
            CHECK(n >= 4);
            CHECK_INT(vals, m.row_groups[g].num_rows);
            tw_pages_clear(h, n);
        }
        CHECK_INT(rows, 10000);
        CHECK_INT(sum.num_rows, 10000);
        CHECK_INT(sum.num_row_groups, m.nrow_groups);
        /* page statistics cover that page only */
        CHECK(first >= 999 && first < 1100);
        CHECK_INT(tw_i64(&tw_col(&m, 0, 0)->statistics.min), 0);
        CHECK_INT(tw_i64(&tw_col(&m, m.nrow_groups - 1, 0)->statistics.max), 9999);
        CHECK_INT(sum.leaves[0].max.u.i, 9999);
    }
    pq_file_summary_free(&sum);
    pq_file_meta_clear(&m);
    free(bytes);
    free(path);
    sd_batch_free(&b);
    sd_schema_free(s);
}

TEST(pq_writer_dictionary_fallback) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "few", SD_STRING, false);  /* 10 distinct: stays dictionary */
    sd_type_add_field(s, "uniq", SD_STRING, false); /* all distinct: ratio rule */
    sd_type_add_field(s, "big", SD_INT64, false);   /* passes dictionary_max */
    sd_batch b;
    sd_batch_init(&b, s);
    char tmp[32];
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(tmp, sizeof(tmp), "v%d", i % 10);
        sd_column_append_bytes(&b.cols[0], tmp, (size_t)n);
        n = snprintf(tmp, sizeof(tmp), "id-%08d", i);
        sd_column_append_bytes(&b.cols[1], tmp, (size_t)n);
        sd_column_append_i64(&b.cols[2], i / 2);
    }
    b.nrows = 20000;
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.page_size = 16384;
    o.dictionary_max = 4096; /* 512 INT64 entries */
    char *path = tw_path("dict.parquet");
    sd_error err = {0};
    CHECK_OK(pq_write_file(path, &b, &o, NULL, &err), &err);
    uint8_t *bytes = NULL;
    size_t len;
    pq_file_meta m = {0};
    if (tw_footer(path, &bytes, &len, &m)) {
        CHECK_INT(m.nrow_groups, 1);
        const pq_column_meta *few = tw_col(&m, 0, 0);
        CHECK(few->has_dictionary_page_offset);
        CHECK(tw_has_encoding(few, PQ_ENC_RLE_DICTIONARY));
        pq_page_header h[256];
        int n = tw_pages(bytes, len, few, h, 256);
        CHECK(n >= 2);
        if (n >= 2) {
            CHECK_INT(h[0].dictionary_page_header.num_values, 10);
            for (int i = 1; i < n; i++)
                CHECK_INT(h[i].data_page_header.encoding, PQ_ENC_RLE_DICTIONARY);
        }
        tw_pages_clear(h, n);

        /* unique ids: the first page is dictionary-encoded, then PLAIN */
        const pq_column_meta *uniq = tw_col(&m, 0, 1);
        CHECK(tw_has_encoding(uniq, PQ_ENC_PLAIN));
        n = tw_pages(bytes, len, uniq, h, 256);
        CHECK(n >= 3);
        int ndict = 0, nplain = 0;
        for (int i = 0; i < n; i++) {
            if (h[i].type != PQ_PAGE_DATA) continue;
            if (h[i].data_page_header.encoding == PQ_ENC_RLE_DICTIONARY)
                ndict++;
            else if (h[i].data_page_header.encoding == PQ_ENC_PLAIN)
                nplain++;
        }
        CHECK(ndict <= 1);
        CHECK(nplain >= 2);
        tw_pages_clear(h, n);

        /* a dictionary that reaches dictionary_max: PLAIN from there on,
         * the dictionary page never above the limit */
        const pq_column_meta *big = tw_col(&m, 0, 2);
        CHECK(tw_has_encoding(big, PQ_ENC_PLAIN));
        n = tw_pages(bytes, len, big, h, 256);
        int64_t vals = 0;
        for (int i = 0; i < n; i++) {
            if (h[i].type == PQ_PAGE_DICTIONARY)
                CHECK(h[i].uncompressed_page_size <= 4096);
            else
                vals += h[i].data_page_header.num_values;
        }
        CHECK_INT(vals, 20000);
        CHECK_INT(big->num_values, 20000);
        CHECK_INT(tw_i64(&big->statistics.max), 9999);
        tw_pages_clear(h, n);
    }
    pq_file_meta_clear(&m);
    free(bytes);
    free(path);
    sd_batch_free(&b);
    sd_schema_free(s);
}

/* ------------------------------------------------------------------------ */
/* Nested columns: schema layout and levels                                  */
/* ------------------------------------------------------------------------ */

/* s: struct<a: int (nullable), b: string (required)> nullable
 * l: array<int (nullable)> nullable
 * m: map<string, int (nullable)> nullable */
static sd_schema *tw_nested_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_field *st = sd_type_add_field(s, "s", SD_STRUCT, true);
    sd_type_add_field(&st->type, "a", SD_INT32, true);
    sd_type_add_field(&st->type, "b", SD_STRING, false);
    sd_field *l = sd_type_add_field(s, "l", SD_LIST, true);
    sd_type_add_field(&l->type, "element", SD_INT32, true);
    sd_field *mp = sd_type_add_field(s, "m", SD_MAP, true);
    sd_type_add_field(&mp->type, "key", SD_STRING, false);
    sd_type_add_field(&mp->type, "value", SD_INT32, true);
    return s;
}

/* Rows:
 *  0: s={a:1,b:"x"}   l=[1, null, 3]  m={"k1":10, "k2":null}
 *  1: s=null          l=null          m=null
 *  2: s={a:null,b:"y"} l=[]           m={}
 *  3: s={a:4,b:"z"}   l=[null]        m={"k3":30} */
static void tw_fill_nested(sd_batch *b) {
    sd_column *s = &b->cols[0], *l = &b->cols[1], *m = &b->cols[2];
    sd_column_append_i32(&s->children[0], 1);
    sd_column_append_bytes(&s->children[1], "x", 1);
    sd_column_append_struct(s);
    sd_column_append_null(s);
    sd_column_append_null(&s->children[0]);
    sd_column_append_bytes(&s->children[1], "y", 1);
    sd_column_append_struct(s);
    sd_column_append_i32(&s->children[0], 4);
    sd_column_append_bytes(&s->children[1], "z", 1);
    sd_column_append_struct(s);

    sd_column_append_i32(&l->children[0], 1);
    sd_column_append_null(&l->children[0]);
    sd_column_append_i32(&l->children[0], 3);
    sd_column_append_list(l, 3);
    sd_column_append_null(l);
    sd_column_append_list(l, 0);
    sd_column_append_null(&l->children[0]);
    sd_column_append_list(l, 1);

    sd_column_append_bytes(&m->children[0], "k1", 2);
    sd_column_append_i32(&m->children[1], 10);
    sd_column_append_bytes(&m->children[0], "k2", 2);
    sd_column_append_null(&m->children[1]);
    sd_column_append_list(m, 2);
    sd_column_append_null(m);
    sd_column_append_list(m, 0);
    sd_column_append_bytes(&m->children[0], "k3", 2);
    sd_column_append_i32(&m->children[1], 30);
    sd_column_append_list(m, 1);
    b->nrows = 4;
}

static void tw_check_levels(const pq_levels *lv, const uint32_t *def, const uint32_t *rep, size_t n,
                            const uint32_t *idx, size_t nidx, const char *what) {
    if (lv->n != n || lv->nidx != nidx) {
        unit_fail(__FILE__, __LINE__, "%s: %zu levels / %zu values, expected %zu / %zu", what,
                  lv->n, lv->nidx, n, nidx);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (lv->def[i] != def[i] || lv->rep[i] != rep[i])
            unit_fail(__FILE__, __LINE__, "%s: level %zu is (def %u, rep %u), expected (%u, %u)",
                      what, i, lv->def[i], lv->rep[i], def[i], rep[i]);
    for (size_t i = 0; i < nidx; i++)
        if (lv->idx[i] != idx[i])
            unit_fail(__FILE__, __LINE__, "%s: value %zu at index %u, expected %u", what, i,
                      lv->idx[i], idx[i]);
}

TEST(pq_writer_nested_levels) {
    sd_schema *s = tw_nested_schema();
    sd_batch b;
    sd_batch_init(&b, s);
    tw_fill_nested(&b);
    pq_schema_element *e = NULL;
    pq_leaf *leaves = NULL;
    int ne = 0, nl = 0;
    sd_error err = {0};
    CHECK_OK(pq_schema_build(s, &e, &ne, &leaves, &nl, &err), &err);
    CHECK_INT(nl, 5);
    CHECK_INT(ne, 11);
    if (nl == 5 && ne == 11) {
        /* root, s, a, b, l, list, element, m, key_value, key, value */
        CHECK_STR(e[4].name, "l");
        CHECK_INT(e[4].converted_type, PQ_CT_LIST);
        CHECK_INT(e[4].logical.kind, PQ_LT_LIST);
        CHECK_STR(e[5].name, "list");
        CHECK_INT(e[5].repetition, PQ_REPEATED);
        CHECK_STR(e[6].name, "element");
        CHECK_INT(e[6].repetition, PQ_OPTIONAL);
        CHECK_STR(e[7].name, "m");
        CHECK_INT(e[7].converted_type, PQ_CT_MAP);
        CHECK_STR(e[8].name, "key_value");
        CHECK_INT(e[8].num_children, 2);
        CHECK_STR(e[9].name, "key");
        CHECK_INT(e[9].repetition, PQ_REQUIRED);
        CHECK_STR(e[10].name, "value");
        CHECK_STR(leaves[0].path, "s.a");
        CHECK_STR(leaves[1].path, "s.b");
        CHECK_STR(leaves[2].path, "l.list.element");
        CHECK_STR(leaves[3].path, "m.key_value.key");
        CHECK(!leaves[1].in_repeated && leaves[2].in_repeated && leaves[4].in_repeated);
        CHECK_INT(leaves[0].max_def, 2);
        CHECK_INT(leaves[1].max_def, 1);
        CHECK_INT(leaves[2].max_def, 3);
        CHECK_INT(leaves[2].max_rep, 1);
        CHECK_INT(leaves[3].max_def, 2);
        CHECK_INT(leaves[4].max_def, 3);

        pq_levels lv = {0};
        /* s.a: present 1 (def 2), struct null (0), a null (1), 4 (2) */
        pq_shred(&leaves[0], &b.cols[0], 0, 4, &lv);
        tw_check_levels(&lv, (uint32_t[]){2, 0, 1, 2}, (uint32_t[]){0, 0, 0, 0}, 4,
                        (uint32_t[]){0, 3}, 2, "s.a");
        lv.n = lv.nidx = lv.nnulls = 0;
        /* s.b (required under nullable struct) */
        pq_shred(&leaves[1], &b.cols[0], 0, 4, &lv);
        tw_check_levels(&lv, (uint32_t[]){1, 0, 1, 1}, (uint32_t[]){0, 0, 0, 0}, 4,
                        (uint32_t[]){0, 2, 3}, 3, "s.b");
        lv.n = lv.nidx = lv.nnulls = 0;
        /* l: [1,null,3] -> (3,0)(2,1)(3,1); null -> (0,0); [] -> (1,0);
         * [null] -> (2,0) */
        pq_shred(&leaves[2], &b.cols[1], 0, 4, &lv);
        tw_check_levels(&lv, (uint32_t[]){3, 2, 3, 0, 1, 2}, (uint32_t[]){0, 1, 1, 0, 0, 0}, 6,
                        (uint32_t[]){0, 2}, 2, "l");
        CHECK_INT(lv.nnulls, 4);
        lv.n = lv.nidx = lv.nnulls = 0;
        /* m keys: k1 (2,0) k2 (2,1); null (0,0); {} (1,0); k3 (2,0) */
        pq_shred(&leaves[3], &b.cols[2], 0, 4, &lv);
        tw_check_levels(&lv, (uint32_t[]){2, 2, 0, 1, 2}, (uint32_t[]){0, 1, 0, 0, 0}, 5,
                        (uint32_t[]){0, 1, 2}, 3, "m.key");
        lv.n = lv.nidx = lv.nnulls = 0;
        /* m values: 10 (3,0) null (2,1); (0,0); (1,0); 30 (3,0) */
        pq_shred(&leaves[4], &b.cols[2], 0, 4, &lv);
        tw_check_levels(&lv, (uint32_t[]){3, 2, 0, 1, 3}, (uint32_t[]){0, 1, 0, 0, 0}, 5,
                        (uint32_t[]){0, 2}, 2, "m.value");
        lv.n = lv.nidx = lv.nnulls = 0;
        /* a row range in the middle starts at repetition level 0 */
        pq_shred(&leaves[2], &b.cols[1], 3, 4, &lv);
        tw_check_levels(&lv, (uint32_t[]){2}, (uint32_t[]){0}, 1, NULL, 0, "l[3]");
        pq_levels_free(&lv);
    }
    pq_schema_elements_free(e, ne);
    pq_leaves_free(leaves, nl);

    /* the whole file: values per chunk and summary flags */
    char *path = tw_path("nested.parquet");
    pq_file_summary sum;
    CHECK_OK(pq_write_file(path, &b, NULL, &sum, &err), &err);
    uint8_t *bytes = NULL;
    size_t len;
    pq_file_meta m = {0};
    if (tw_footer(path, &bytes, &len, &m)) {
        CHECK_INT(m.row_groups[0].ncolumns, 5);
        CHECK_INT(tw_col(&m, 0, 2)->num_values, 6);
        CHECK_INT(tw_col(&m, 0, 2)->npath, 3);
        CHECK_STR(tw_col(&m, 0, 2)->path_in_schema[1], "list");
        CHECK_INT(tw_col(&m, 0, 2)->statistics.null_count, 4);
        CHECK_INT(tw_i32(&tw_col(&m, 0, 2)->statistics.max), 3);
        CHECK_INT(tw_col(&m, 0, 4)->num_values, 5);
        CHECK(tw_has_encoding(tw_col(&m, 0, 2), PQ_ENC_RLE));
    }
    CHECK_INT(sum.nleaves, 5);
    if (sum.nleaves == 5) {
        CHECK_STR(sum.leaves[0].path, "s.a");
        CHECK_INT(sum.leaves[0].field_index, 0);
        CHECK_INT(sum.leaves[0].null_count, 2);
        CHECK_INT(sum.leaves[0].min.u.i, 1);
        CHECK_INT(sum.leaves[0].max.u.i, 4);
        CHECK(sum.leaves[2].in_repeated);
        CHECK_INT(sum.leaves[4].field_index, 2);
    }
    pq_file_summary_free(&sum);
    pq_file_meta_clear(&m);
    free(bytes);
    free(path);
    sd_batch_free(&b);
    sd_schema_free(s);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

TEST(pq_writer_errors) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "v", SD_INT32, false);
    sd_error err = {0};
    /* a directory that does not exist */
    char *bad = tw_path("no/such/dir/x.parquet");
    pq_writer *w = pq_writer_open(bad, s, NULL, &err);
    CHECK(w == NULL);
    CHECK_INT(err.code, SD_ERR_IO);
    CHECK(strstr(err.msg, bad) != NULL);
    free(bad);

    /* unwritable directory (root ignores permissions: skip then) */
    char *dir = tw_path("ro");
    mkdir(dir, 0555);
    char *ro = sd_xasprintf("%s/x.parquet", dir);
    sd_error_clear(&err);
    w = pq_writer_open(ro, s, NULL, &err);
    if (geteuid() != 0) {
        CHECK(w == NULL);
        CHECK(strstr(err.msg, ro) != NULL);
    } else if (w) {
        pq_writer_abort(w);
    }
    free(ro);
    free(dir);

    /* schema mismatch: the batch has another schema; nothing is written */
    char *path = tw_path("err.parquet");
    sd_error_clear(&err);
    w = pq_writer_open(path, s, NULL, &err);
    CHECK(w != NULL);
    sd_schema *other = sd_schema_new();
    sd_type_add_field(other, "v", SD_INT64, false);
    sd_batch b;
    sd_batch_init(&b, other);
    sd_column_append_i64(&b.cols[0], 1);
    b.nrows = 1;
    sd_error_clear(&err);
    CHECK_INT(pq_writer_write(w, &b, &err), SD_ERR_ARG);
    CHECK(strstr(err.msg, "does not match") != NULL);
    CHECK(strstr(err.msg, path) != NULL);
    sd_batch_free(&b);

    /* a null in a non-nullable column */
    sd_batch_init(&b, s);
    sd_column_append_i32(&b.cols[0], 1);
    sd_column_append_null(&b.cols[0]);
    b.nrows = 2;
    sd_error_clear(&err);
    CHECK_INT(pq_writer_write(w, &b, &err), SD_ERR_ARG);
    CHECK(strstr(err.msg, "null at row 1") != NULL);
    /* the writer is still usable after a rejected batch */
    b.cols[0].valid[1] = 1;
    sd_error_clear(&err);
    CHECK_OK(pq_writer_write(w, &b, &err), &err);
    CHECK_OK(pq_writer_close(w, NULL, &err), &err);
    struct stat stt;
    CHECK(stat(path, &stt) == 0);

    /* abort removes the file */
    sd_error_clear(&err);
    w = pq_writer_open(path, s, NULL, &err);
    CHECK(w != NULL);
    if (w) {
        CHECK_OK(pq_writer_write(w, &b, &err), &err);
        pq_writer_abort(w);
    }
    CHECK(stat(path, &stt) != 0);

    /* a decimal wider than its precision */
    sd_schema *ds = sd_schema_new();
    sd_field *df = sd_type_add_field(ds, "amount", SD_DECIMAL, true);
    df->type.precision = 5;
    df->type.scale = 2;
    sd_batch db;
    sd_batch_init(&db, ds);
    sd_column_append_decimal(&db.cols[0], 99999);
    sd_column_append_null(&db.cols[0]);
    sd_column_append_decimal(&db.cols[0], -100000);
    db.nrows = 3;
    sd_error_clear(&err);
    CHECK_INT(pq_write_file(path, &db, NULL, NULL, &err), SD_ERR_ARG);
    CHECK(strstr(err.msg, "index 2") != NULL && strstr(err.msg, "decimal(5,2)") != NULL);
    CHECK(stat(path, &stt) != 0);
    sd_batch_free(&db);
    sd_schema_free(ds);

    /* options: v3 pages, a codec we cannot write, empty structs */
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.data_page_version = 3;
    sd_error_clear(&err);
    CHECK(pq_writer_open(path, s, &o, &err) == NULL);
    CHECK_INT(err.code, SD_ERR_ARG);
    pq_writer_options_init(&o);
    o.codec = PQ_CODEC_LZO;
    sd_error_clear(&err);
    CHECK(pq_writer_open(path, s, &o, &err) == NULL);
    CHECK_INT(err.code, SD_ERR_UNSUPPORTED);
    sd_schema *empty = sd_schema_new();
    sd_type_add_field(empty, "e", SD_STRUCT, true);
    sd_error_clear(&err);
    CHECK(pq_writer_open(path, empty, NULL, &err) == NULL);
    CHECK_INT(err.code, SD_ERR_UNSUPPORTED);
    sd_schema_free(empty);

    sd_batch_free(&b);
    sd_schema_free(other);
    sd_schema_free(s);
    free(path);
}

/* An empty file (no rows) is valid: zero row groups. */
TEST(pq_writer_empty_file) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "v", SD_STRING, true);
    char *path = tw_path("empty.parquet");
    sd_error err = {0};
    pq_writer *w = pq_writer_open(path, s, NULL, &err);
    CHECK(w != NULL);
    pq_file_summary sum;
    if (w) CHECK_OK(pq_writer_close(w, &sum, &err), &err);
    uint8_t *bytes = NULL;
    size_t len;
    pq_file_meta m = {0};
    if (tw_footer(path, &bytes, &len, &m)) {
        CHECK_INT(m.nrow_groups, 0);
        CHECK_INT(m.num_rows, 0);
    }
    CHECK_INT(sum.num_rows, 0);
    CHECK(!sum.leaves[0].has_min_max);
    pq_file_summary_free(&sum);
    pq_file_meta_clear(&m);
    free(bytes);
    free(path);
    sd_schema_free(s);
}

/* ------------------------------------------------------------------------ */
/* Read-back round trips through the reader                                  */
/* ------------------------------------------------------------------------ */

/* Row i of a's column equals row j of b's, recursively. */
static bool tw_same(const sd_type *t, const sd_column *a, size_t i, const sd_column *b, size_t j) {
    bool va = sd_column_is_valid(a, i), vb = sd_column_is_valid(b, j);
    if (va != vb) return false;
    if (!va) return true;
    switch (t->kind) {
        case SD_STRUCT:
            for (int k = 0; k < t->nchildren; k++)
                if (!tw_same(&t->children[k].type, &a->children[k], i, &b->children[k], j))
                    return false;
            return true;
        case SD_LIST:
        case SD_MAP: {
            int64_t na = a->offsets[i + 1] - a->offsets[i], nb = b->offsets[j + 1] - b->offsets[j];
            if (na != nb) return false;
            for (int64_t k = 0; k < na; k++)
                for (int c = 0; c < t->nchildren; c++)
                    if (!tw_same(&t->children[c].type, &a->children[c], (size_t)(a->offsets[i] + k),
                                 &b->children[c], (size_t)(b->offsets[j] + k)))
                        return false;
            return true;
        }
        default: {
            sd_value x = sd_column_get(a, i), y = sd_column_get(b, j);
            return sd_value_compare(&x, &y) == 0;
        }
    }
}

/* Write `b` with `o`, read every row group back, compare every row. */
static void tw_round_trip(const sd_batch *b, const pq_writer_options *o, const char *what) {
    char *path = tw_path("rt.parquet");
    sd_error err = {0};
    if (pq_write_file(path, b, o, NULL, &err) != SD_OK) {
        unit_fail(__FILE__, __LINE__, "%s: write: %s", what, err.msg);
        free(path);
        return;
    }
    pq_file *f = pq_file_open(path, &err);
    if (f == NULL) {
        unit_fail(__FILE__, __LINE__, "%s: open: %s", what, err.msg);
        free(path);
        return;
    }
    if (pq_file_num_rows(f) != (int64_t)b->nrows)
        unit_fail(__FILE__, __LINE__, "%s: %lld rows, expected %zu", what,
                  (long long)pq_file_num_rows(f), b->nrows);
    size_t row = 0;
    for (int rg = 0; rg < pq_file_num_row_groups(f); rg++) {
        sd_batch r;
        if (pq_read_row_group(f, rg, NULL, 0, &r, &err) != SD_OK) {
            unit_fail(__FILE__, __LINE__, "%s: read row group %d: %s", what, rg, err.msg);
            break;
        }
        if (r.ncols != b->ncols || !sd_type_equal(r.schema, b->schema)) {
            unit_fail(__FILE__, __LINE__, "%s: schema read back differs", what);
            sd_batch_free(&r);
            break;
        }
        for (int c = 0; c < b->ncols; c++) {
            for (size_t k = 0; k < r.nrows && row + k < b->nrows; k++) {
                if (!tw_same(&b->schema->children[c].type, &b->cols[c], row + k, &r.cols[c], k)) {
                    unit_fail(__FILE__, __LINE__, "%s: column %s differs at row %zu", what,
                              b->schema->children[c].name, row + k);
                    break;
                }
            }
        }
        row += r.nrows;
        sd_batch_free(&r);
    }
    if (row != b->nrows)
        unit_fail(__FILE__, __LINE__, "%s: read %zu rows of %zu", what, row, b->nrows);
    pq_file_close(f);
    free(path);
}

/* Every primitive type, all nullable, `rows` rows; nulls: 0 none, 1 every
 * third row, 2 all. Values repeat enough for dictionaries to be used. */
static void tw_fill_round_trip(sd_batch *b, size_t rows, int nulls) {
    char tmp[64];
    for (size_t i = 0; i < rows; i++) {
        bool null = nulls == 2 || (nulls == 1 && i % 3 == 1);
        for (int c = 0; c < b->ncols; c++) {
            sd_column *col = &b->cols[c];
            if (null) {
                sd_column_append_null(col);
                continue;
            }
            int64_t v = (int64_t)(i * 7919 % 101) - 50;
            switch (col->type->kind) {
                case SD_BOOL:
                    sd_column_append_bool(col, v > 0);
                    break;
                case SD_INT8:
                case SD_INT16:
                case SD_INT32:
                case SD_DATE:
                    sd_column_append_i32(col, (int32_t)v * (c + 1));
                    break;
                case SD_INT64:
                case SD_TIMESTAMP:
                case SD_TIMESTAMP_NTZ:
                    sd_column_append_i64(col, v * 1000000007LL);
                    break;
                case SD_FLOAT:
                    sd_column_append_float(col, i % 17 == 0 ? NAN : (float)v / 4);
                    break;
                case SD_DOUBLE:
                    sd_column_append_double(col, i % 13 == 0 ? -0.0 : (double)v / 3);
                    break;
                case SD_DECIMAL:
                    sd_column_append_decimal(col, col->type->precision > 18
                                                      ? (__int128)v * ((__int128)1 << 70)
                                                      : (__int128)v * 99);
                    break;
                case SD_STRING:
                case SD_BINARY: {
                    int n = snprintf(tmp, sizeof(tmp), "%s-%lld\xe2\x82\xac", i % 5 ? "val" : "",
                                     (long long)v);
                    sd_column_append_bytes(col, tmp, (size_t)n);
                    break;
                }
                default:
                    break;
            }
        }
    }
    b->nrows = rows;
}

TEST(pq_writer_round_trip_types) {
    static const pq_codec codecs[] = {PQ_CODEC_UNCOMPRESSED, PQ_CODEC_SNAPPY, PQ_CODEC_GZIP,
                                      PQ_CODEC_ZSTD, PQ_CODEC_LZ4_RAW};
    sd_schema *s = tw_all_types_schema();
    for (int i = 0; i < s->nchildren; i++) s->children[i].nullable = true;
    for (int nulls = 0; nulls < 3; nulls++) {
        sd_batch b;
        sd_batch_init(&b, s);
        tw_fill_round_trip(&b, 700, nulls);
        for (size_t ci = 0; ci < sizeof(codecs) / sizeof(codecs[0]); ci++) {
            for (int dict = 0; dict < 2; dict++) {
                for (int v = 1; v <= 2; v++) {
                    pq_writer_options o;
                    pq_writer_options_init(&o);
                    o.codec = codecs[ci];
                    o.dictionary = dict;
                    o.data_page_version = v;
                    o.page_size = 1000; /* several pages per chunk */
                    char what[96];
                    snprintf(what, sizeof(what), "%s nulls=%d dict=%d v%d",
                             pq_codec_name(codecs[ci]), nulls, dict, v);
                    tw_round_trip(&b, &o, what);
                }
            }
        }
        sd_batch_free(&b);
    }
    sd_schema_free(s);
}

TEST(pq_writer_round_trip_nested) {
    sd_schema *s = tw_nested_schema();
    sd_batch b;
    sd_batch_init(&b, s);
    /* the four hand-made rows, repeated so pages and row groups split
     * between records */
    for (int rep = 0; rep < 200; rep++) tw_fill_nested(&b);
    b.nrows = 800;
    for (int dict = 0; dict < 2; dict++) {
        for (int v = 1; v <= 2; v++) {
            pq_writer_options o;
            pq_writer_options_init(&o);
            o.dictionary = dict;
            o.data_page_version = v;
            o.page_size = 300;
            o.row_group_size = 4000;
            char what[64];
            snprintf(what, sizeof(what), "nested dict=%d v%d", dict, v);
            tw_round_trip(&b, &o, what);
        }
    }
    sd_batch_free(&b);
    sd_schema_free(s);
}

/* Many batches into one writer, row groups spanning batches. */
TEST(pq_writer_round_trip_batches) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "id", SD_STRING, false);
    sd_type_add_field(s, "n", SD_INT64, true);
    char *path = tw_path("batches.parquet");
    sd_error err = {0};
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.row_group_size = 20000;
    pq_writer *w = pq_writer_open(path, s, &o, &err);
    CHECK(w != NULL);
    sd_batch b;
    sd_batch_init(&b, s);
    char tmp[32];
    for (int k = 0; w && k < 10; k++) {
        sd_batch_reset(&b);
        for (int i = 0; i < 1000; i++) {
            int n = snprintf(tmp, sizeof(tmp), "id%06d", k * 1000 + i);
            sd_column_append_bytes(&b.cols[0], tmp, (size_t)n);
            if (i % 10 == 0)
                sd_column_append_null(&b.cols[1]);
            else
                sd_column_append_i64(&b.cols[1], k * 1000 + i);
        }
        b.nrows = 1000;
        CHECK_OK(pq_writer_write(w, &b, &err), &err);
    }
    pq_file_summary sum;
    if (w) CHECK_OK(pq_writer_close(w, &sum, &err), &err);
    CHECK_INT(sum.num_rows, 10000);
    CHECK(sum.num_row_groups >= 2);
    CHECK_INT(sum.leaves[1].null_count, 1000);
    CHECK_INT(sum.leaves[1].min.u.i, 1);
    CHECK_INT(sum.leaves[1].max.u.i, 9999);
    CHECK(sum.leaves[0].min.u.s.len == 8 && memcmp(sum.leaves[0].min.u.s.ptr, "id000000", 8) == 0);
    pq_file *f = pq_file_open(path, &err);
    CHECK(f != NULL);
    if (f) {
        CHECK_INT(pq_file_num_rows(f), 10000);
        CHECK_INT(pq_file_num_row_groups(f), sum.num_row_groups);
        bool has;
        sd_value mn, mx;
        int64_t nc;
        CHECK_OK(pq_file_leaf_stats(f, 0, "n", &has, &mn, &mx, &nc, &err), &err);
        CHECK(has);
        CHECK_INT(mn.u.i, 1);
        pq_file_close(f);
    }
    pq_file_summary_free(&sum);
    sd_batch_free(&b);
    sd_schema_free(s);
    free(path);
}

/* Long windows are encoded on two threads: the file must read back intact
 * and be byte-identical from run to run. */
TEST(pq_writer_threads_deterministic) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "id", SD_STRING, false);
    sd_type_add_field(s, "grp", SD_STRING, true);
    sd_type_add_field(s, "x", SD_DOUBLE, true);
    sd_type_add_field(s, "ts", SD_TIMESTAMP, false);
    sd_batch b;
    sd_batch_init(&b, s);
    char tmp[48];
    for (int i = 0; i < 60000; i++) {
        int n = snprintf(tmp, sizeof(tmp), "%08x-%d", (unsigned)(i * 2654435761u), i);
        sd_column_append_bytes(&b.cols[0], tmp, (size_t)n);
        if (i % 7 == 0)
            sd_column_append_null(&b.cols[1]);
        else {
            n = snprintf(tmp, sizeof(tmp), "g%d", i % 300);
            sd_column_append_bytes(&b.cols[1], tmp, (size_t)n);
        }
        sd_column_append_double(&b.cols[2], (double)(i % 1000) / 7);
        sd_column_append_i64(&b.cols[3], 1700000000000000LL + i);
    }
    b.nrows = 60000;
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.page_size = 64 * 1024;
    tw_round_trip(&b, &o, "threads");
    char *p1 = tw_path("t1.parquet"), *p2 = tw_path("t2.parquet");
    sd_error err = {0};
    CHECK_OK(pq_write_file(p1, &b, &o, NULL, &err), &err);
    CHECK_OK(pq_write_file(p2, &b, &o, NULL, &err), &err);
    size_t l1 = 0, l2 = 0;
    uint8_t *a = tw_slurp(p1, &l1), *c = tw_slurp(p2, &l2);
    CHECK(a && c && l1 == l2 && memcmp(a, c, l1) == 0);
    free(a);
    free(c);
    free(p1);
    free(p2);
    sd_batch_free(&b);
    sd_schema_free(s);
}

/* An empty string is a real minimum; page statistics can be turned off
 * while the chunk keeps its own. */
TEST(pq_writer_empty_string_min_and_no_page_stats) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "s", SD_STRING, true);
    sd_batch b;
    sd_batch_init(&b, s);
    sd_column_append_bytes(&b.cols[0], "b", 1);
    sd_column_append_bytes(&b.cols[0], "", 0);
    sd_column_append_null(&b.cols[0]);
    b.nrows = 3;
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.page_statistics = false;
    char *path = tw_path("empty-min.parquet");
    sd_error err = {0};
    pq_file_summary sum;
    CHECK_OK(pq_write_file(path, &b, &o, &sum, &err), &err);
    uint8_t *bytes = NULL;
    size_t len;
    pq_file_meta m = {0};
    if (tw_footer(path, &bytes, &len, &m)) {
        const pq_statistics *st = &tw_col(&m, 0, 0)->statistics;
        CHECK(st->has_min && st->min.len == 0);
        CHECK(st->has_max && tw_bytes_eq(&st->max, "b", 1));
        CHECK_INT(st->null_count, 1);
        pq_page_header h[2];
        int n = tw_pages(bytes, len, tw_col(&m, 0, 0), h, 2);
        CHECK_INT(n, 2);
        if (n == 2) CHECK(!h[1].data_page_header.has_statistics);
        tw_pages_clear(h, n);
    }
    CHECK(sum.leaves[0].has_min_max);
    CHECK_INT(sum.leaves[0].min.u.s.len, 0);
    CHECK_INT(sum.leaves[0].max.u.s.len, 1);
    pq_file_summary_free(&sum);
    pq_file_meta_clear(&m);
    free(bytes);
    free(path);
    sd_batch_free(&b);
    sd_schema_free(s);
}
