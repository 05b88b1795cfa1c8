/*
 * test_pq_thrift.c - the Thrift compact protocol and Parquet metadata:
 * round trips of FileMetaData and PageHeader, the real footers of Spark,
 * DuckDB and Delta files, and malformed input (truncations, garbage, deep
 * nesting, huge list counts, out-of-range enums, missing required fields).
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "parquet/pq_internal.h"
#include "unit.h"

#define CORPUS_DIR "tests/fuzz/corpus/fuzz_parquet"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static bool read_whole_file(const char *path, sd_buf *out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return false;
    uint8_t tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) sd_buf_append(out, tmp, n);
    fclose(f);
    return true;
}

/* The footer of a Parquet file: [metadata][LE uint32 length]["PAR1"]. */
static bool footer_of(const sd_buf *file, const uint8_t **p, size_t *n) {
    if (file->len < 12 || memcmp(file->data + file->len - 4, "PAR1", 4) != 0) return false;
    const uint8_t *t = file->data + file->len - 8;
    uint32_t len =
        (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    if (len > file->len - 12) return false;
    *p = file->data + file->len - 8 - len;
    *n = len;
    return true;
}

/* Where the top-level struct at p ends (the length a parser consumes). */
static size_t struct_length(const uint8_t *p, size_t n) {
    pq_thrift_reader r;
    pq_thrift_reader_init(&r, p, n);
    pq_thrift_skip(&r, PQ_TT_STRUCT);
    return r.failed ? 0 : (size_t)(r.p - r.start);
}

static void set_buf(sd_buf *b, const char *s) {
    sd_buf_reset(b);
    sd_buf_append(b, s, strlen(s));
}

static bool buf_eq(const sd_buf *a, const sd_buf *b) {
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static bool str_eq(const char *a, const char *b) {
    if (a == NULL || b == NULL) return a == b;
    return strcmp(a, b) == 0;
}

static void check_stats_eq(const pq_statistics *a, const pq_statistics *b) {
    CHECK_INT(a->has_min, b->has_min);
    CHECK_INT(a->has_max, b->has_max);
    CHECK(buf_eq(&a->min, &b->min));
    CHECK(buf_eq(&a->max, &b->max));
    CHECK_INT(a->has_legacy_min, b->has_legacy_min);
    CHECK_INT(a->has_legacy_max, b->has_legacy_max);
    CHECK(buf_eq(&a->legacy_min, &b->legacy_min));
    CHECK(buf_eq(&a->legacy_max, &b->legacy_max));
    CHECK_INT(a->has_null_count, b->has_null_count);
    CHECK_INT(a->null_count, b->null_count);
    CHECK_INT(a->has_distinct_count, b->has_distinct_count);
    CHECK_INT(a->distinct_count, b->distinct_count);
}

static void check_schema_eq(const pq_schema_element *a, const pq_schema_element *b) {
    CHECK_STR(a->name, b->name);
    CHECK_INT(a->has_type, b->has_type);
    CHECK_INT(a->type, b->type);
    CHECK_INT(a->type_length, b->type_length);
    CHECK_INT(a->has_repetition, b->has_repetition);
    CHECK_INT(a->repetition, b->repetition);
    CHECK_INT(a->num_children, b->num_children);
    CHECK_INT(a->converted_type, b->converted_type);
    CHECK_INT(a->scale, b->scale);
    CHECK_INT(a->precision, b->precision);
    CHECK_INT(a->has_field_id, b->has_field_id);
    CHECK_INT(a->field_id, b->field_id);
    CHECK_INT(a->logical.kind, b->logical.kind);
    CHECK_INT(a->logical.scale, b->logical.scale);
    CHECK_INT(a->logical.precision, b->logical.precision);
    CHECK_INT(a->logical.is_adjusted_to_utc, b->logical.is_adjusted_to_utc);
    CHECK_INT(a->logical.unit, b->logical.unit);
    CHECK_INT(a->logical.bit_width, b->logical.bit_width);
    CHECK_INT(a->logical.is_signed, b->logical.is_signed);
}

static void check_column_eq(const pq_column_chunk *a, const pq_column_chunk *b) {
    CHECK(str_eq(a->file_path, b->file_path));
    CHECK_INT(a->file_offset, b->file_offset);
    CHECK_INT(a->has_meta_data, b->has_meta_data);
    const pq_column_meta *x = &a->meta_data, *y = &b->meta_data;
    CHECK_INT(x->type, y->type);
    CHECK_INT(x->nencodings, y->nencodings);
    for (int i = 0; i < x->nencodings && i < y->nencodings; i++)
        CHECK_INT(x->encodings[i], y->encodings[i]);
    CHECK_INT(x->npath, y->npath);
    for (int i = 0; i < x->npath && i < y->npath; i++)
        CHECK_STR(x->path_in_schema[i], y->path_in_schema[i]);
    CHECK_INT(x->codec, y->codec);
    CHECK_INT(x->num_values, y->num_values);
    CHECK_INT(x->total_uncompressed_size, y->total_uncompressed_size);
    CHECK_INT(x->total_compressed_size, y->total_compressed_size);
    CHECK_INT(x->data_page_offset, y->data_page_offset);
    CHECK_INT(x->has_index_page_offset, y->has_index_page_offset);
    CHECK_INT(x->index_page_offset, y->index_page_offset);
    CHECK_INT(x->has_dictionary_page_offset, y->has_dictionary_page_offset);
    CHECK_INT(x->dictionary_page_offset, y->dictionary_page_offset);
    CHECK_INT(x->has_statistics, y->has_statistics);
    check_stats_eq(&x->statistics, &y->statistics);
    CHECK_INT(x->nencoding_stats, y->nencoding_stats);
    for (int i = 0; i < x->nencoding_stats && i < y->nencoding_stats; i++) {
        CHECK_INT(x->encoding_stats[i].page_type, y->encoding_stats[i].page_type);
        CHECK_INT(x->encoding_stats[i].encoding, y->encoding_stats[i].encoding);
        CHECK_INT(x->encoding_stats[i].count, y->encoding_stats[i].count);
    }
}

static void check_meta_eq(const pq_file_meta *a, const pq_file_meta *b) {
    CHECK_INT(a->version, b->version);
    CHECK_INT(a->nschema, b->nschema);
    for (int i = 0; i < a->nschema && i < b->nschema; i++)
        check_schema_eq(&a->schema[i], &b->schema[i]);
    CHECK_INT(a->num_rows, b->num_rows);
    CHECK_INT(a->nrow_groups, b->nrow_groups);
    for (int g = 0; g < a->nrow_groups && g < b->nrow_groups; g++) {
        const pq_row_group *x = &a->row_groups[g], *y = &b->row_groups[g];
        CHECK_INT(x->ncolumns, y->ncolumns);
        for (int c = 0; c < x->ncolumns && c < y->ncolumns; c++)
            check_column_eq(&x->columns[c], &y->columns[c]);
        CHECK_INT(x->total_byte_size, y->total_byte_size);
        CHECK_INT(x->num_rows, y->num_rows);
        CHECK_INT(x->has_file_offset, y->has_file_offset);
        CHECK_INT(x->file_offset, y->file_offset);
        CHECK_INT(x->has_total_compressed_size, y->has_total_compressed_size);
        CHECK_INT(x->total_compressed_size, y->total_compressed_size);
        CHECK_INT(x->has_ordinal, y->has_ordinal);
        CHECK_INT(x->ordinal, y->ordinal);
    }
    CHECK_INT(a->nkv, b->nkv);
    for (int i = 0; i < a->nkv && i < b->nkv; i++) {
        CHECK_STR(a->kv[i].key, b->kv[i].key);
        CHECK(str_eq(a->kv[i].value, b->kv[i].value));
    }
    CHECK(str_eq(a->created_by, b->created_by));
    CHECK_INT(a->ncolumn_orders, b->ncolumn_orders);
    CHECK_INT(a->has_encryption, b->has_encryption);
}

/* ------------------------------------------------------------------------ */
/* A metadata with every kind of field we hold                               */
/* ------------------------------------------------------------------------ */

static pq_schema_element *add_elem(pq_file_meta *m, const char *name, int type, int rep,
                                   int nchildren) {
    m->schema = sd_xrealloc(m->schema, (size_t)(m->nschema + 1) * sizeof(*m->schema));
    pq_schema_element *e = &m->schema[m->nschema++];
    memset(e, 0, sizeof(*e));
    e->name = sd_xstrdup(name);
    e->converted_type = PQ_CT_NONE;
    if (type >= 0) {
        e->has_type = true;
        e->type = (pq_physical_type)type;
    }
    if (rep >= 0) {
        e->has_repetition = true;
        e->repetition = (pq_repetition)rep;
    }
    e->num_children = nchildren;
    return e;
}

static const char *const leaf_paths[5][3] = {
    {"id"}, {"name"}, {"s", "d"}, {"s", "ts"}, {"tags", "list", "element"}};
static const int leaf_depth[5] = {1, 1, 2, 2, 3};
static const pq_physical_type leaf_types[5] = {PQ_INT64, PQ_BYTE_ARRAY, PQ_FIXED_LEN_BYTE_ARRAY,
                                               PQ_INT64, PQ_INT32};

static void build_meta(pq_file_meta *m) {
    memset(m, 0, sizeof(*m));
    m->version = 2;
    add_elem(m, "spark_schema", -1, -1, 4);
    add_elem(m, "id", PQ_INT64, PQ_REQUIRED, 0)->field_id = 1;
    m->schema[1].has_field_id = true;
    pq_schema_element *e = add_elem(m, "name", PQ_BYTE_ARRAY, PQ_OPTIONAL, 0);
    e->converted_type = PQ_CT_UTF8;
    e->logical.kind = PQ_LT_STRING;
    add_elem(m, "s", -1, PQ_OPTIONAL, 2);
    e = add_elem(m, "d", PQ_FIXED_LEN_BYTE_ARRAY, PQ_OPTIONAL, 0);
    e->type_length = 16;
    e->converted_type = PQ_CT_DECIMAL;
    e->scale = 10;
    e->precision = 38;
    e->logical = (pq_logical_type){.kind = PQ_LT_DECIMAL, .scale = 10, .precision = 38};
    e = add_elem(m, "ts", PQ_INT64, PQ_OPTIONAL, 0);
    e->converted_type = PQ_CT_TIMESTAMP_MICROS;
    e->logical = (pq_logical_type){
        .kind = PQ_LT_TIMESTAMP, .is_adjusted_to_utc = true, .unit = PQ_UNIT_MICROS};
    e = add_elem(m, "tags", -1, PQ_OPTIONAL, 1);
    e->converted_type = PQ_CT_LIST;
    e->logical.kind = PQ_LT_LIST;
    add_elem(m, "list", -1, PQ_REPEATED, 1);
    e = add_elem(m, "element", PQ_INT32, PQ_OPTIONAL, 0);
    e->converted_type = PQ_CT_UINT_16;
    e->logical = (pq_logical_type){.kind = PQ_LT_INTEGER, .bit_width = 16, .is_signed = false};
    e->has_field_id = true;
    e->field_id = 700000;

    m->nrow_groups = 3;
    m->row_groups = sd_xcalloc(3, sizeof(pq_row_group));
    int64_t offset = 4;
    for (int g = 0; g < 3; g++) {
        pq_row_group *rg = &m->row_groups[g];
        rg->num_rows = 1000 * (g + 1);
        m->num_rows += rg->num_rows;
        rg->ncolumns = 5;
        rg->columns = sd_xcalloc(5, sizeof(pq_column_chunk));
        rg->has_file_offset = true;
        rg->file_offset = offset;
        rg->has_ordinal = true;
        rg->ordinal = (int16_t)g;
        for (int c = 0; c < 5; c++) {
            pq_column_chunk *cc = &rg->columns[c];
            pq_column_meta *cm = &cc->meta_data;
            cc->has_meta_data = true;
            cm->type = leaf_types[c];
            cm->nencodings = 3;
            cm->encodings = sd_xcalloc(3, sizeof(pq_encoding));
            cm->encodings[0] = PQ_ENC_PLAIN;
            cm->encodings[1] = PQ_ENC_RLE;
            cm->encodings[2] = PQ_ENC_RLE_DICTIONARY;
            cm->npath = leaf_depth[c];
            cm->path_in_schema = sd_xcalloc((size_t)cm->npath, sizeof(char *));
            for (int i = 0; i < cm->npath; i++)
                cm->path_in_schema[i] = sd_xstrdup(leaf_paths[c][i]);
            cm->codec = c == 4 ? PQ_CODEC_ZSTD : PQ_CODEC_SNAPPY;
            cm->num_values = rg->num_rows + c;
            cm->total_uncompressed_size = 5000 + c * 100 + g;
            cm->total_compressed_size = 3000 + c * 10 + g;
            cm->has_dictionary_page_offset = true;
            cm->dictionary_page_offset = offset;
            cm->data_page_offset = offset + 100;
            cc->file_offset = offset;
            offset += cm->total_compressed_size;
            rg->total_byte_size += cm->total_uncompressed_size;
            cm->has_statistics = c != 3;
            pq_statistics *st = &cm->statistics;
            if (c != 3) {
                st->has_min = st->has_max = true;
                set_buf(&st->min, c == 1 ? "apple" : "\x01\x00\x00\x00");
                set_buf(&st->max, c == 1 ? "zebra" : "\x7f\x00\x00\x00");
                st->has_null_count = true;
                st->null_count = g;
            }
            if (c == 1) {
                st->has_legacy_min = st->has_legacy_max = true;
                set_buf(&st->legacy_min, "apple");
                set_buf(&st->legacy_max, "zebra");
                st->has_distinct_count = true;
                st->distinct_count = 42;
            }
            if (c == 2) {
                /* The empty value is a valid min (the empty string). */
                sd_buf_reset(&st->min);
            }
            cm->nencoding_stats = 2;
            cm->encoding_stats = sd_xcalloc(2, sizeof(pq_page_encoding_stats));
            cm->encoding_stats[0] = (pq_page_encoding_stats){PQ_PAGE_DICTIONARY, PQ_ENC_PLAIN, 1};
            cm->encoding_stats[1] =
                (pq_page_encoding_stats){PQ_PAGE_DATA, PQ_ENC_RLE_DICTIONARY, 3 + g};
        }
        if (g == 2) {
            rg->columns[0].file_path = sd_xstrdup("other.parquet");
            rg->has_total_compressed_size = true;
            rg->total_compressed_size = 12345;
            rg->columns[4].meta_data.has_index_page_offset = true;
            rg->columns[4].meta_data.index_page_offset = 77;
        }
    }
    m->nkv = 2;
    m->kv = sd_xcalloc(2, sizeof(pq_key_value));
    m->kv[0].key = sd_xstrdup("org.apache.spark.version");
    m->kv[0].value = sd_xstrdup("3.4.1");
    m->kv[1].key = sd_xstrdup("no.value");
    m->created_by = sd_xstrdup("streamdelta version 0.1");
    m->ncolumn_orders = 5;
}

TEST(pq_meta_roundtrip) {
    pq_file_meta m, back;
    build_meta(&m);
    sd_buf out = SD_BUF_INIT;
    pq_meta_serialize(&m, &out);
    sd_error err = {0};
    CHECK_OK(pq_meta_parse(out.data, out.len, &back, "rt.parquet", &err), &err);
    check_meta_eq(&m, &back);
    /* Spot checks against literal values, not only against the input. */
    CHECK_INT(back.num_rows, 6000);
    CHECK_STR(back.schema[4].name, "d");
    CHECK_INT(back.schema[4].logical.kind, PQ_LT_DECIMAL);
    CHECK_INT(back.schema[4].logical.precision, 38);
    CHECK_INT(back.schema[5].logical.unit, PQ_UNIT_MICROS);
    CHECK_INT(back.schema[8].logical.bit_width, 16);
    CHECK_INT(back.schema[8].field_id, 700000);
    CHECK_STR(back.row_groups[2].columns[4].meta_data.path_in_schema[2], "element");
    CHECK_INT(back.row_groups[1].columns[1].meta_data.statistics.distinct_count, 42);
    CHECK(back.kv[1].value == NULL);

    /* Re-serializing the parsed struct gives the same bytes. */
    sd_buf again = SD_BUF_INIT;
    pq_meta_serialize(&back, &again);
    CHECK(buf_eq(&out, &again));

    pq_file_meta_clear(&back);
    CHECK(back.schema == NULL && back.nschema == 0);
    pq_file_meta_clear(&m);
    sd_buf_free(&out);
    sd_buf_free(&again);
}

TEST(pq_meta_logical_types_roundtrip) {
    static const pq_logical_kind kinds[] = {
        PQ_LT_STRING, PQ_LT_MAP,  PQ_LT_LIST,      PQ_LT_ENUM,    PQ_LT_DECIMAL,
        PQ_LT_DATE,   PQ_LT_TIME, PQ_LT_TIMESTAMP, PQ_LT_INTEGER, PQ_LT_UNKNOWN,
        PQ_LT_JSON,   PQ_LT_BSON, PQ_LT_UUID,      PQ_LT_FLOAT16};
    int nk = (int)(sizeof(kinds) / sizeof(kinds[0]));
    pq_file_meta m;
    memset(&m, 0, sizeof(m));
    m.version = 1;
    add_elem(&m, "root", -1, -1, nk);
    for (int i = 0; i < nk; i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%d", i);
        pq_schema_element *e = add_elem(&m, name, PQ_INT32, PQ_OPTIONAL, 0);
        e->logical.kind = kinds[i];
        if (kinds[i] == PQ_LT_DECIMAL) e->logical.scale = 2, e->logical.precision = 9;
        if (kinds[i] == PQ_LT_TIME) e->logical.unit = PQ_UNIT_NANOS;
        if (kinds[i] == PQ_LT_TIMESTAMP) e->logical.unit = PQ_UNIT_MILLIS;
        if (kinds[i] == PQ_LT_INTEGER) e->logical.bit_width = 64, e->logical.is_signed = true;
    }
    sd_buf out = SD_BUF_INIT;
    pq_meta_serialize(&m, &out);
    pq_file_meta back;
    sd_error err = {0};
    CHECK_OK(pq_meta_parse(out.data, out.len, &back, "lt.parquet", &err), &err);
    check_meta_eq(&m, &back);
    CHECK_INT(back.schema[7].logical.kind, PQ_LT_TIME);
    CHECK_INT(back.schema[7].logical.unit, PQ_UNIT_NANOS);
    CHECK_INT(back.schema[14].logical.kind, PQ_LT_FLOAT16);
    pq_file_meta_clear(&back);
    pq_file_meta_clear(&m);
    sd_buf_free(&out);
}

TEST(pq_page_header_roundtrip) {
    pq_page_header h[3];
    memset(h, 0, sizeof(h));
    h[0].type = PQ_PAGE_DATA;
    h[0].uncompressed_page_size = 1048576;
    h[0].compressed_page_size = 300000;
    h[0].has_crc = true;
    h[0].crc = -123456789;
    h[0].has_data_page_header = true;
    h[0].data_page_header = (pq_data_page_header){.num_values = 20000,
                                                  .encoding = PQ_ENC_RLE_DICTIONARY,
                                                  .definition_level_encoding = PQ_ENC_RLE,
                                                  .repetition_level_encoding = PQ_ENC_BIT_PACKED,
                                                  .has_statistics = true};
    h[0].data_page_header.statistics.has_null_count = true;
    h[0].data_page_header.statistics.null_count = 17;
    h[0].data_page_header.statistics.has_min = true;
    set_buf(&h[0].data_page_header.statistics.min, "aaa");
    h[1].type = PQ_PAGE_DICTIONARY;
    h[1].uncompressed_page_size = 40;
    h[1].compressed_page_size = 40;
    h[1].has_dictionary_page_header = true;
    h[1].dictionary_page_header = (pq_dictionary_page_header){
        .num_values = 10, .encoding = PQ_ENC_PLAIN, .has_is_sorted = true, .is_sorted = false};
    h[2].type = PQ_PAGE_DATA_V2;
    h[2].uncompressed_page_size = 0;
    h[2].compressed_page_size = 0;
    h[2].has_data_page_header_v2 = true;
    h[2].data_page_header_v2 = (pq_data_page_header_v2){.num_values = 5,
                                                        .num_nulls = 2,
                                                        .num_rows = 4,
                                                        .encoding = PQ_ENC_DELTA_BINARY_PACKED,
                                                        .definition_levels_byte_length = 3,
                                                        .repetition_levels_byte_length = 2,
                                                        .is_compressed = false};
    for (int i = 0; i < 3; i++) {
        sd_buf out = SD_BUF_INIT;
        pq_page_header_serialize(&h[i], &out);
        size_t hdr_len = out.len;
        /* Page bytes follow the header: the parser must stop at its end. */
        sd_buf_append(&out, "\xff\xff\xff", 3);
        pq_page_header back;
        size_t consumed = 0;
        sd_error err = {0};
        CHECK_OK(pq_page_header_parse(out.data, out.len, &back, &consumed, "p.parquet", &err),
                 &err);
        CHECK_INT(consumed, hdr_len);
        CHECK_INT(back.type, h[i].type);
        CHECK_INT(back.uncompressed_page_size, h[i].uncompressed_page_size);
        CHECK_INT(back.compressed_page_size, h[i].compressed_page_size);
        CHECK_INT(back.has_crc, h[i].has_crc);
        CHECK_INT(back.crc, h[i].crc);
        CHECK_INT(back.has_data_page_header, h[i].has_data_page_header);
        CHECK_INT(back.data_page_header.num_values, h[i].data_page_header.num_values);
        CHECK_INT(back.data_page_header.encoding, h[i].data_page_header.encoding);
        CHECK_INT(back.data_page_header.definition_level_encoding,
                  h[i].data_page_header.definition_level_encoding);
        CHECK_INT(back.data_page_header.repetition_level_encoding,
                  h[i].data_page_header.repetition_level_encoding);
        CHECK_INT(back.data_page_header.has_statistics, h[i].data_page_header.has_statistics);
        check_stats_eq(&back.data_page_header.statistics, &h[i].data_page_header.statistics);
        CHECK_INT(back.has_dictionary_page_header, h[i].has_dictionary_page_header);
        CHECK_INT(back.dictionary_page_header.num_values, h[i].dictionary_page_header.num_values);
        CHECK_INT(back.dictionary_page_header.encoding, h[i].dictionary_page_header.encoding);
        CHECK_INT(back.dictionary_page_header.has_is_sorted,
                  h[i].dictionary_page_header.has_is_sorted);
        CHECK_INT(back.has_data_page_header_v2, h[i].has_data_page_header_v2);
        const pq_data_page_header_v2 *a = &back.data_page_header_v2, *b = &h[i].data_page_header_v2;
        CHECK_INT(a->num_values, b->num_values);
        CHECK_INT(a->num_nulls, b->num_nulls);
        CHECK_INT(a->num_rows, b->num_rows);
        CHECK_INT(a->encoding, b->encoding);
        CHECK_INT(a->definition_levels_byte_length, b->definition_levels_byte_length);
        CHECK_INT(a->repetition_levels_byte_length, b->repetition_levels_byte_length);
        CHECK_INT(a->is_compressed, b->is_compressed);
        pq_page_header_clear(&back);
        /* Every truncation of the header is refused. */
        for (size_t n = 0; n < hdr_len; n++) {
            sd_error_clear(&err);
            CHECK_INT(pq_page_header_parse(out.data, n, &back, &consumed, "p.parquet", &err),
                      SD_ERR_THRIFT);
            CHECK(strncmp(err.msg, "p.parquet: corrupt Parquet page header: ", 40) == 0);
        }
        sd_buf_free(&out);
    }
    for (int i = 0; i < 3; i++) pq_page_header_clear(&h[i]);
}

TEST(pq_page_header_v2_default_compressed) {
    /* A v2 header without is_compressed: parquet.thrift's default is true. */
    sd_buf out = SD_BUF_INIT;
    pq_thrift_writer w;
    pq_thrift_writer_init(&w, &out);
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_i32_field(&w, 1, PQ_PAGE_DATA_V2);
    pq_thrift_write_i32_field(&w, 2, 10);
    pq_thrift_write_i32_field(&w, 3, 8);
    pq_thrift_write_field(&w, 8, PQ_TT_STRUCT);
    pq_thrift_write_struct_begin(&w);
    for (int16_t id = 1; id <= 6; id++) pq_thrift_write_i32_field(&w, id, id == 4 ? 0 : 1);
    pq_thrift_write_struct_end(&w);
    pq_thrift_write_struct_end(&w);
    pq_page_header h;
    size_t consumed;
    sd_error err = {0};
    CHECK_OK(pq_page_header_parse(out.data, out.len, &h, &consumed, "v2", &err), &err);
    CHECK(h.has_data_page_header_v2);
    CHECK(h.data_page_header_v2.is_compressed);
    CHECK_INT(consumed, out.len);
    pq_page_header_clear(&h);
    sd_buf_free(&out);
}

/* ------------------------------------------------------------------------ */
/* The compact protocol itself                                               */
/* ------------------------------------------------------------------------ */

TEST(thrift_varints_and_headers) {
    sd_buf out = SD_BUF_INIT;
    pq_thrift_writer w;
    pq_thrift_writer_init(&w, &out);
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_i32_field(&w, 1, INT32_MIN);
    pq_thrift_write_i32_field(&w, 2, INT32_MAX);
    pq_thrift_write_i64_field(&w, 20, INT64_MIN); /* delta > 15: long form */
    pq_thrift_write_i64_field(&w, 3, INT64_MAX);  /* negative delta */
    pq_thrift_write_bool_field(&w, 4, true);
    pq_thrift_write_bool_field(&w, 5, false);
    pq_thrift_write_field(&w, 6, PQ_TT_LIST);
    pq_thrift_write_list_begin(&w, PQ_TT_I32, 20); /* long list header */
    for (int i = 0; i < 20; i++) pq_thrift_write_i32(&w, -i);
    pq_thrift_write_binary_field(&w, 7, "hello", 5);
    pq_thrift_write_struct_end(&w);
    /* The known encoding of the first field: header 0x15, zigzag(INT32_MIN)
     * = 0xffffffff as a 5-byte varint. */
    static const uint8_t first[] = {0x15, 0xff, 0xff, 0xff, 0xff, 0x0f};
    CHECK(out.len > sizeof(first) && memcmp(out.data, first, sizeof(first)) == 0);

    pq_thrift_reader r;
    pq_thrift_reader_init(&r, out.data, out.len);
    pq_thrift_struct_begin(&r);
    int16_t last = 0, id;
    uint8_t t;
    CHECK(pq_thrift_field(&r, &last, &id, &t) && id == 1 && t == PQ_TT_I32);
    CHECK_INT(pq_thrift_i32(&r), INT32_MIN);
    CHECK(pq_thrift_field(&r, &last, &id, &t) && id == 2);
    CHECK_INT(pq_thrift_i32(&r), INT32_MAX);
    CHECK(pq_thrift_field(&r, &last, &id, &t) && id == 20 && t == PQ_TT_I64);
    CHECK(pq_thrift_i64(&r) == INT64_MIN);
    CHECK(pq_thrift_field(&r, &last, &id, &t) && id == 3);
    CHECK(pq_thrift_i64(&r) == INT64_MAX);
    CHECK(pq_thrift_field(&r, &last, &id, &t) && id == 4 && pq_thrift_field_bool(t));
    CHECK(pq_thrift_field(&r, &last, &id, &t) && id == 5 && !pq_thrift_field_bool(t));
    CHECK(pq_thrift_field(&r, &last, &id, &t) && id == 6 && t == PQ_TT_LIST);
    uint8_t et;
    CHECK_INT(pq_thrift_list_begin(&r, &et), 20);
    CHECK_INT(et, PQ_TT_I32);
    for (int i = 0; i < 20; i++) CHECK_INT(pq_thrift_i32(&r), -i);
    CHECK(pq_thrift_field(&r, &last, &id, &t) && id == 7 && t == PQ_TT_BINARY);
    size_t len;
    const uint8_t *s = pq_thrift_binary(&r, &len);
    CHECK(len == 5 && memcmp(s, "hello", 5) == 0);
    CHECK(!pq_thrift_field(&r, &last, &id, &t));
    CHECK(!r.failed);
    CHECK(r.p == r.end);
    sd_buf_free(&out);
}

TEST(thrift_reader_errors_stick) {
    pq_thrift_reader r;
    /* An i32 varint with 35 significant bits. */
    static const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0x7f, 0x05};
    pq_thrift_reader_init(&r, big, sizeof(big));
    CHECK_INT(pq_thrift_i32(&r), 0);
    CHECK(r.failed);
    CHECK_STR(r.what, "i32 varint overflows 32 bits at byte 5");
    /* After the failure everything reads as zero. */
    CHECK_INT(pq_thrift_byte(&r), 0);
    CHECK_STR(r.what, "i32 varint overflows 32 bits at byte 5");

    /* An i64 varint longer than 10 bytes. */
    static const uint8_t long64[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x80, 0x01};
    pq_thrift_reader_init(&r, long64, sizeof(long64));
    pq_thrift_i64(&r);
    CHECK(r.failed);
    CHECK(strstr(r.what, "varint too long") != NULL);

    /* A truncated varint and a truncated double. */
    static const uint8_t trunc[] = {0x80, 0x80};
    pq_thrift_reader_init(&r, trunc, sizeof(trunc));
    pq_thrift_i64(&r);
    CHECK_STR(r.what, "unexpected end of data in a varint at byte 0");
    pq_thrift_reader_init(&r, trunc, sizeof(trunc));
    pq_thrift_double(&r);
    CHECK(r.failed);

    /* A binary longer than the input. */
    static const uint8_t bin[] = {0x0a, 'a', 'b', 'c'};
    size_t len = 99;
    pq_thrift_reader_init(&r, bin, sizeof(bin));
    CHECK(pq_thrift_binary(&r, &len) == NULL);
    CHECK_INT(len, 0);
    CHECK_STR(r.what, "binary length exceeds the remaining bytes at byte 1");

    /* A list claiming 1000 i32s in 3 bytes. */
    static const uint8_t list[] = {0xf5, 0xe8, 0x07, 0x01, 0x02, 0x03};
    uint8_t et;
    pq_thrift_reader_init(&r, list, sizeof(list));
    CHECK_INT(pq_thrift_list_begin(&r, &et), 0);
    CHECK_STR(r.what, "list size exceeds the remaining bytes at byte 3");

    /* Invalid field types (13..15) and an explicit pq_thrift_fail. */
    static const uint8_t badtype[] = {0x1d};
    int16_t last = 0, id;
    uint8_t t;
    pq_thrift_reader_init(&r, badtype, sizeof(badtype));
    CHECK(!pq_thrift_field(&r, &last, &id, &t));
    CHECK(r.failed);
    pq_thrift_reader_init(&r, bin, sizeof(bin));
    pq_thrift_fail(&r, "custom");
    pq_thrift_fail(&r, "second");
    CHECK_STR(r.what, "custom at byte 0");
}

TEST(thrift_skip_all_types) {
    /* A struct with one field of each type, nested containers included,
     * skipped as a whole. */
    sd_buf out = SD_BUF_INIT;
    pq_thrift_writer w;
    pq_thrift_writer_init(&w, &out);
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_bool_field(&w, 1, true);
    pq_thrift_write_field(&w, 2, PQ_TT_BYTE);
    sd_buf_append_byte(&out, 0x80);
    pq_thrift_write_field(&w, 3, PQ_TT_I16);
    pq_thrift_write_i32(&w, -300);
    pq_thrift_write_i32_field(&w, 4, 7);
    pq_thrift_write_i64_field(&w, 5, 1LL << 50);
    pq_thrift_write_field(&w, 6, PQ_TT_DOUBLE);
    sd_buf_append(&out, "\0\0\0\0\0\0\xf0\x3f", 8);
    pq_thrift_write_binary_field(&w, 7, "xyz", 3);
    pq_thrift_write_field(&w, 8, PQ_TT_LIST);
    pq_thrift_write_list_begin(&w, PQ_TT_BOOL_TRUE, 3);
    sd_buf_append(&out, "\x01\x02\x01", 3);
    pq_thrift_write_field(&w, 9, PQ_TT_SET);
    pq_thrift_write_list_begin(&w, PQ_TT_STRUCT, 1);
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_i32_field(&w, 1, 1);
    pq_thrift_write_struct_end(&w);
    pq_thrift_write_field(&w, 10, PQ_TT_MAP);
    sd_buf_append(&out, "\x02\x85", 2); /* 2 entries, binary -> i32 */
    sd_buf_append(&out, "\x01k\x02\x01j\x04", 6);
    pq_thrift_write_field(&w, 11, PQ_TT_MAP);
    sd_buf_append_byte(&out, 0x00); /* empty map */
    pq_thrift_write_struct_end(&w);
    sd_buf_append_byte(&out, 0xee); /* not part of the struct */

    pq_thrift_reader r;
    pq_thrift_reader_init(&r, out.data, out.len);
    pq_thrift_skip(&r, PQ_TT_STRUCT);
    CHECK(!r.failed);
    CHECK_INT(r.p - r.start, out.len - 1);
    CHECK_INT(r.depth, 0);
    sd_buf_free(&out);
}

/* ------------------------------------------------------------------------ */
/* Real footers                                                              */
/* ------------------------------------------------------------------------ */

/* Checks that a parsed footer is self-consistent: the schema is one tree
 * rooted at schema[0], every row group has one chunk per leaf, and the
 * row counts add up. */
static void check_footer_consistent(const pq_file_meta *m, const char *path, size_t file_size) {
    CHECK(m->nschema >= 2);
    if (m->nschema < 2) return;
    CHECK(m->schema[0].num_children > 0);
    CHECK(!m->schema[0].has_type);
    /* Walk the tree: each group's children follow it depth-first. */
    int leaves = 0, pending = 1;
    for (int i = 0; i < m->nschema; i++) {
        pending--;
        if (m->schema[i].num_children > 0)
            pending += m->schema[i].num_children;
        else
            leaves++;
        CHECK(m->schema[i].name != NULL);
    }
    if (pending != 0) unit_fail(__FILE__, __LINE__, "%s: schema tree does not close", path);
    int64_t rows = 0;
    for (int g = 0; g < m->nrow_groups; g++) {
        const pq_row_group *rg = &m->row_groups[g];
        rows += rg->num_rows;
        CHECK_INT(rg->ncolumns, leaves);
        for (int c = 0; c < rg->ncolumns; c++) {
            const pq_column_chunk *cc = &rg->columns[c];
            CHECK(cc->has_meta_data);
            CHECK(cc->meta_data.npath >= 1);
            CHECK(cc->meta_data.nencodings >= 1);
            CHECK(cc->meta_data.data_page_offset >= 4);
            CHECK((size_t)cc->meta_data.data_page_offset < file_size);
            CHECK(cc->meta_data.total_compressed_size > 0);
        }
    }
    if (rows != m->num_rows)
        unit_fail(__FILE__, __LINE__, "%s: num_rows %lld but row groups sum to %lld", path,
                  (long long)m->num_rows, (long long)rows);
    CHECK(!m->has_encryption);
}

/* Parse, check, and round-trip one file's footer through our writer. */
static bool check_real_file(const char *path) {
    sd_buf file = SD_BUF_INIT;
    if (!read_whole_file(path, &file)) {
        unit_fail(__FILE__, __LINE__, "cannot read %s", path);
        return false;
    }
    const uint8_t *p;
    size_t n;
    bool ok = footer_of(&file, &p, &n);
    if (!ok) unit_fail(__FILE__, __LINE__, "%s: no Parquet footer", path);
    pq_file_meta m;
    sd_error err = {0};
    if (ok && pq_meta_parse(p, n, &m, path, &err) != SD_OK) {
        unit_fail(__FILE__, __LINE__, "%s", err.msg);
        ok = false;
    }
    if (ok) {
        check_footer_consistent(&m, path, file.len);
        sd_buf out = SD_BUF_INIT;
        pq_meta_serialize(&m, &out);
        pq_file_meta back;
        CHECK_OK(pq_meta_parse(out.data, out.len, &back, path, &err), &err);
        if (err.code == SD_OK) {
            check_meta_eq(&m, &back);
            pq_file_meta_clear(&back);
        }
        sd_buf_free(&out);
        pq_file_meta_clear(&m);
    }
    sd_buf_free(&file);
    return ok;
}

static const char *const corpus_files[] = {
    "duckdb-v1-gzip.parquet",   "duckdb-v1-lz4.parquet", "duckdb-v2-none.parquet",
    "duckdb-v2-zstd.parquet",   "dv-small.parquet",      "partitioned-types.parquet",
    "spark-checkpoint.parquet", "spark-old.parquet",     "spark-simple.parquet"};
#define NCORPUS (sizeof(corpus_files) / sizeof(corpus_files[0]))

TEST(pq_meta_corpus_footers) {
    for (size_t i = 0; i < NCORPUS; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, corpus_files[i]);
        CHECK(check_real_file(path));
    }
    /* Literal facts about two of them. */
    sd_buf file = SD_BUF_INIT;
    CHECK(read_whole_file(CORPUS_DIR "/spark-checkpoint.parquet", &file));
    const uint8_t *p;
    size_t n;
    pq_file_meta m;
    sd_error err = {0};
    if (footer_of(&file, &p, &n) && pq_meta_parse(p, n, &m, "cp", &err) == SD_OK) {
        /* A Delta checkpoint's top-level columns are the action kinds. */
        bool has_add = false;
        for (int i = 1; i < m.nschema; i++)
            if (strcmp(m.schema[i].name, "add") == 0) has_add = true;
        CHECK(has_add);
        CHECK(m.created_by != NULL && strstr(m.created_by, "parquet-mr") != NULL);
        pq_file_meta_clear(&m);
    } else {
        unit_fail(__FILE__, __LINE__, "spark-checkpoint footer: %s", err.msg);
    }
    sd_buf_free(&file);
}

static int delta_files_ok, delta_files_seen;

static int visit_delta_file(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    size_t len = strlen(path);
    if (flag == FTW_F && len > 8 && strcmp(path + len - 8, ".parquet") == 0) {
        delta_files_seen++;
        if (check_real_file(path)) delta_files_ok++;
    }
    return 0;
}

TEST(pq_meta_delta_table_footers) {
    delta_files_ok = delta_files_seen = 0;
    CHECK_INT(nftw(unit_conformance_dir(), visit_delta_file, 16, FTW_PHYS), 0);
    CHECK(delta_files_seen >= 3);
    CHECK_INT(delta_files_ok, delta_files_seen);
}

/* ------------------------------------------------------------------------ */
/* Malformed footers                                                         */
/* ------------------------------------------------------------------------ */

TEST(pq_meta_every_truncation_fails) {
    for (size_t i = 0; i < NCORPUS; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, corpus_files[i]);
        sd_buf file = SD_BUF_INIT;
        CHECK(read_whole_file(path, &file));
        const uint8_t *p;
        size_t n;
        if (!footer_of(&file, &p, &n)) {
            unit_fail(__FILE__, __LINE__, "%s: no footer", path);
            sd_buf_free(&file);
            continue;
        }
        size_t used = struct_length(p, n);
        CHECK(used > 0 && used <= n);
        /* Copy each prefix into its own allocation so ASan catches any read
         * past the end. */
        for (size_t k = 0; k < used; k++) {
            uint8_t *copy = sd_xmalloc(k ? k : 1);
            memcpy(copy, p, k);
            pq_file_meta m;
            sd_error err = {0};
            sd_status s = pq_meta_parse(copy, k, &m, "t.parquet", &err);
            if (s != SD_ERR_THRIFT)
                unit_fail(__FILE__, __LINE__, "%s truncated to %zu bytes: status %d", path, k, s);
            else if (strncmp(err.msg, "t.parquet: corrupt Parquet footer: ", 35) != 0)
                unit_fail(__FILE__, __LINE__, "unexpected message: %s", err.msg);
            CHECK(m.schema == NULL && m.row_groups == NULL);
            free(copy);
        }
        sd_buf_free(&file);
    }
}

TEST(pq_meta_garbage_bytes) {
    /* Deterministic pseudo-random inputs, plus random byte flips in a valid
     * footer: each must be parsed or refused, never crash or leak. */
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    int refused = 0;
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(i % 200);
        uint8_t *buf = sd_xmalloc(n ? n : 1);
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[k] = (uint8_t)x;
        }
        pq_file_meta m;
        sd_error err = {0};
        if (pq_meta_parse(buf, n, &m, "g", &err) == SD_OK) {
            pq_file_meta_clear(&m);
        } else {
            refused++;
            CHECK_INT(err.code, SD_ERR_THRIFT);
        }
        free(buf);
    }
    CHECK(refused > 1900);

    pq_file_meta good;
    build_meta(&good);
    sd_buf out = SD_BUF_INIT;
    pq_meta_serialize(&good, &out);
    pq_file_meta_clear(&good);
    uint8_t *copy = sd_xmalloc(out.len);
    for (int i = 0; i < 3000; i++) {
        memcpy(copy, out.data, out.len);
        for (int f = 0; f < 1 + i % 4; f++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            copy[x % out.len] = (uint8_t)(x >> 32);
        }
        pq_file_meta m;
        sd_error err = {0};
        if (pq_meta_parse(copy, out.len, &m, "g", &err) == SD_OK) pq_file_meta_clear(&m);
        pq_page_header h;
        size_t consumed;
        if (pq_page_header_parse(copy, out.len, &h, &consumed, "g", &err) == SD_OK) {
            CHECK(consumed <= out.len);
            pq_page_header_clear(&h);
        }
    }
    free(copy);
    sd_buf_free(&out);
}

TEST(pq_meta_deep_nesting_refused) {
    /* FileMetaData with an unknown field 100 holding a struct holding field
     * 100 ... 40 levels deep: skipping it must stop at the cap. */
    sd_buf b = SD_BUF_INIT;
    for (int i = 0; i < 40; i++) sd_buf_append(&b, "\x0c\xc8\x01", 3);
    for (int i = 0; i < 41; i++) sd_buf_append_byte(&b, 0);
    pq_file_meta m;
    sd_error err = {0};
    CHECK_INT(pq_meta_parse(b.data, b.len, &m, "deep.parquet", &err), SD_ERR_THRIFT);
    CHECK_STR(err.msg,
              "deep.parquet: corrupt Parquet footer: structures nested too deeply at byte 96");
    /* Nested lists count as levels too. */
    sd_buf_reset(&b);
    sd_buf_append(&b, "\x0c\xc8\x01", 3);                      /* field 100: struct */
    sd_buf_append(&b, "\x19", 1);                              /* field 1: list */
    for (int i = 0; i < 40; i++) sd_buf_append_byte(&b, 0x19); /* list of 1 list */
    for (int i = 0; i < 40; i++) sd_buf_append_byte(&b, 0);
    sd_error_clear(&err);
    CHECK_INT(pq_meta_parse(b.data, b.len, &m, "deep.parquet", &err), SD_ERR_THRIFT);
    CHECK(strstr(err.msg, "nested too deeply") != NULL);
    sd_buf_free(&b);
}

TEST(pq_meta_huge_list_counts_refused) {
    /* version = 1, then schema: a list of 1,000,000 structs in 6 bytes. */
    static const uint8_t huge[] = {0x15, 0x02, 0x19, 0xfc, 0xc0, 0x84, 0x3d, 0, 0, 0, 0, 0, 0};
    pq_file_meta m;
    sd_error err = {0};
    CHECK_INT(pq_meta_parse(huge, sizeof(huge), &m, "huge.parquet", &err), SD_ERR_THRIFT);
    CHECK_STR(err.msg,
              "huge.parquet: corrupt Parquet footer: list size exceeds the remaining bytes at "
              "byte 7");

    /* 100,001 schema elements that do fit in the input: refused by the cap
     * before anything is allocated for them. */
    sd_buf b = SD_BUF_INIT;
    sd_buf_append(&b, "\x15\x02\x19\xfc", 4);
    sd_buf_append(&b, "\xa1\x8d\x06", 3); /* 100001 */
    sd_buf_extend(&b, 100002);
    sd_error_clear(&err);
    CHECK_INT(pq_meta_parse(b.data, b.len, &m, "wide.parquet", &err), SD_ERR_THRIFT);
    CHECK(strstr(err.msg, "FileMetaData.schema has 100001 entries (more than 100000)") != NULL);
    sd_buf_free(&b);
}

/* Serialize a valid metadata after `mutate` broke one field; expect the
 * parse to fail with `want` in the message. */
static void expect_meta_error(void (*mutate)(pq_file_meta *), const char *want) {
    pq_file_meta m;
    build_meta(&m);
    mutate(&m);
    sd_buf out = SD_BUF_INIT;
    pq_meta_serialize(&m, &out);
    pq_file_meta_clear(&m);
    sd_error err = {0};
    sd_status s = pq_meta_parse(out.data, out.len, &m, "bad.parquet", &err);
    if (s != SD_ERR_THRIFT || strstr(err.msg, want) == NULL ||
        strncmp(err.msg, "bad.parquet: corrupt Parquet footer: ", 37) != 0)
        unit_fail(__FILE__, __LINE__, "expected '%s', got status %d: %s", want, s, err.msg);
    if (s == SD_OK) pq_file_meta_clear(&m);
    sd_buf_free(&out);
}

static void bad_physical(pq_file_meta *m) {
    m->schema[1].type = (pq_physical_type)8;
}
static void bad_repetition(pq_file_meta *m) {
    m->schema[2].repetition = (pq_repetition)3;
}
static void bad_converted(pq_file_meta *m) {
    m->schema[2].converted_type = (pq_converted_type)22;
}
static void bad_codec(pq_file_meta *m) {
    m->row_groups[1].columns[2].meta_data.codec = (pq_codec)8;
}
static void bad_encoding(pq_file_meta *m) {
    m->row_groups[0].columns[0].meta_data.encodings[1] = (pq_encoding)10;
}
static void bad_page_type(pq_file_meta *m) {
    m->row_groups[0].columns[0].meta_data.encoding_stats[0].page_type = (pq_page_type)4;
}
static void negative_rows(pq_file_meta *m) {
    m->row_groups[2].num_rows = -5;
}
static void negative_children(pq_file_meta *m) {
    m->schema[3].num_children = -1;
}
static void negative_null_count(pq_file_meta *m) {
    m->row_groups[0].columns[0].meta_data.statistics.null_count = -1;
}
static void bad_bit_width(pq_file_meta *m) {
    m->schema[8].logical.bit_width = 12;
}

TEST(pq_meta_enum_ranges_and_negatives) {
    expect_meta_error(bad_physical, "SchemaElement.type value 8 out of range 0..7 at byte");
    expect_meta_error(bad_repetition, "SchemaElement.repetition_type value 3 out of range 0..2");
    expect_meta_error(bad_converted, "SchemaElement.converted_type value 22 out of range 0..21");
    expect_meta_error(bad_codec, "ColumnMetaData.codec value 8 out of range 0..7");
    expect_meta_error(bad_encoding, "ColumnMetaData.encodings value 10 out of range 0..9");
    expect_meta_error(bad_page_type, "PageEncodingStats.page_type value 4 out of range 0..3");
    expect_meta_error(negative_rows, "RowGroup.num_rows is negative (-5)");
    expect_meta_error(negative_children, "SchemaElement.num_children is negative (-1)");
    expect_meta_error(negative_null_count, "Statistics.null_count is negative (-1)");
    expect_meta_error(bad_bit_width, "IntType.bitWidth 12 is not 8, 16, 32 or 64");

    /* A page header with page type 7. */
    pq_page_header h;
    memset(&h, 0, sizeof(h));
    h.type = (pq_page_type)7;
    sd_buf out = SD_BUF_INIT;
    pq_page_header_serialize(&h, &out);
    size_t consumed;
    sd_error err = {0};
    CHECK_INT(pq_page_header_parse(out.data, out.len, &h, &consumed, "x.parquet", &err),
              SD_ERR_THRIFT);
    CHECK_STR(err.msg, "x.parquet: corrupt Parquet page header: PageHeader.type value 7 out of "
                       "range 0..3 at byte 2");
    sd_buf_free(&out);
}

TEST(pq_meta_required_fields) {
    /* FileMetaData with version and schema but no num_rows / row_groups. */
    sd_buf out = SD_BUF_INIT;
    pq_thrift_writer w;
    pq_thrift_writer_init(&w, &out);
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_i32_field(&w, 1, 1);
    pq_thrift_write_field(&w, 2, PQ_TT_LIST);
    pq_thrift_write_list_begin(&w, PQ_TT_STRUCT, 1);
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_binary_field(&w, 4, "root", 4);
    pq_thrift_write_struct_end(&w);
    size_t before_stop = out.len;
    pq_thrift_write_struct_end(&w);
    pq_file_meta m;
    sd_error err = {0};
    CHECK_INT(pq_meta_parse(out.data, out.len, &m, "req.parquet", &err), SD_ERR_THRIFT);
    char want[160];
    snprintf(want, sizeof(want),
             "req.parquet: corrupt Parquet footer: FileMetaData.num_rows (required) is missing at "
             "byte %zu",
             before_stop + 1);
    CHECK_STR(err.msg, want);

    /* A ColumnMetaData without its codec. */
    sd_buf_reset(&out);
    build_meta(&m);
    m.row_groups[0].columns[0].meta_data.codec = PQ_CODEC_SNAPPY;
    pq_meta_serialize(&m, &out);
    pq_file_meta_clear(&m);
    /* The codec field of the first column is "4-delta i32 SNAPPY": the
     * header byte after the path list. Find "\x15\x02" following "id". */
    uint8_t *hit = memmem(out.data, out.len, "\x02id\x15\x02", 5);
    CHECK(hit != NULL);
    if (hit) {
        /* Replace the codec field with a field 30 i32 (unknown, skipped). */
        sd_buf fixed = SD_BUF_INIT;
        size_t at = (size_t)(hit + 3 - out.data);
        sd_buf_append(&fixed, out.data, at);
        sd_buf_append(&fixed, "\x05\x3c\x02", 3); /* long-form id 30, value 1 */
        /* The next field (num_values, id 5) now follows id 30: its delta
         * header would be wrong, so write it long-form too. */
        size_t rest = at + 2;
        CHECK_INT(out.data[rest], 0x16); /* delta 1, i64 */
        sd_buf_append(&fixed, "\x06\x0a", 2);
        sd_buf_append(&fixed, out.data + rest + 1, out.len - rest - 1);
        sd_error_clear(&err);
        CHECK_INT(pq_meta_parse(fixed.data, fixed.len, &m, "req.parquet", &err), SD_ERR_THRIFT);
        CHECK(strstr(err.msg, "ColumnMetaData.codec (required) is missing") != NULL);
        sd_buf_free(&fixed);
    }
    sd_buf_free(&out);
}

TEST(pq_meta_unknown_fields_skipped) {
    /* A minimal footer with unknown fields of every type between the known
     * ones, including an encryption_algorithm (field 8). */
    sd_buf out = SD_BUF_INIT;
    pq_thrift_writer w;
    pq_thrift_writer_init(&w, &out);
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_i32_field(&w, 1, 2);
    pq_thrift_write_field(&w, 2, PQ_TT_LIST);
    pq_thrift_write_list_begin(&w, PQ_TT_STRUCT, 2);
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_binary_field(&w, 4, "root", 4);
    pq_thrift_write_i32_field(&w, 5, 1);
    pq_thrift_write_field(&w, 10, PQ_TT_STRUCT); /* logicalType: VARIANT (16) */
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_field(&w, 16, PQ_TT_STRUCT);
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_field(&w, 1, PQ_TT_BYTE);
    sd_buf_append_byte(&out, 1);
    pq_thrift_write_struct_end(&w);
    pq_thrift_write_struct_end(&w);
    pq_thrift_write_struct_end(&w);
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_i32_field(&w, 1, PQ_DOUBLE);
    pq_thrift_write_binary_field(&w, 4, "x", 1);
    pq_thrift_write_field(&w, 99, PQ_TT_DOUBLE);
    sd_buf_append(&out, "\0\0\0\0\0\0\0\0", 8);
    pq_thrift_write_struct_end(&w);
    pq_thrift_write_i64_field(&w, 3, 0);
    pq_thrift_write_field(&w, 4, PQ_TT_LIST);
    pq_thrift_write_list_begin(&w, PQ_TT_STRUCT, 0);
    pq_thrift_write_field(&w, 8, PQ_TT_STRUCT);
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_field(&w, 1, PQ_TT_STRUCT);
    pq_thrift_write_struct_begin(&w);
    pq_thrift_write_binary_field(&w, 1, "aad", 3);
    pq_thrift_write_struct_end(&w);
    pq_thrift_write_struct_end(&w);
    pq_thrift_write_field(&w, 40, PQ_TT_MAP);
    sd_buf_append(&out, "\x01\x88\x01k\x01v", 6);
    pq_thrift_write_field(&w, 41, PQ_TT_SET);
    pq_thrift_write_list_begin(&w, PQ_TT_I64, 2);
    pq_thrift_write_i64(&w, 5);
    pq_thrift_write_i64(&w, -5);
    pq_thrift_write_struct_end(&w);
    pq_file_meta m;
    sd_error err = {0};
    CHECK_OK(pq_meta_parse(out.data, out.len, &m, "u.parquet", &err), &err);
    CHECK_INT(m.version, 2);
    CHECK_INT(m.nschema, 2);
    CHECK_INT(m.schema[0].logical.kind, PQ_LT_NONE);
    CHECK_STR(m.schema[1].name, "x");
    CHECK_INT(m.schema[1].type, PQ_DOUBLE);
    CHECK_INT(m.schema[1].converted_type, PQ_CT_NONE);
    CHECK_INT(m.nrow_groups, 0);
    CHECK(m.has_encryption);
    pq_file_meta_clear(&m);
    sd_buf_free(&out);
}

TEST(pq_page_header_requires_sub_header) {
    /* A DICTIONARY_PAGE header without its dictionary_page_header. */
    pq_page_header h;
    memset(&h, 0, sizeof(h));
    h.type = PQ_PAGE_DICTIONARY;
    h.uncompressed_page_size = 8;
    h.compressed_page_size = 8;
    sd_buf out = SD_BUF_INIT;
    pq_page_header_serialize(&h, &out);
    size_t consumed = 99;
    sd_error err = {0};
    CHECK_INT(pq_page_header_parse(out.data, out.len, &h, &consumed, "s.parquet", &err),
              SD_ERR_THRIFT);
    CHECK_STR(err.msg, "s.parquet: corrupt Parquet page header: PageHeader of type 2 lacks its "
                       "dictionary_page_header at byte 7");
    CHECK_INT(consumed, 0);
    /* A negative compressed size. */
    memset(&h, 0, sizeof(h));
    h.type = PQ_PAGE_INDEX;
    h.uncompressed_page_size = 8;
    h.compressed_page_size = -8;
    sd_buf_reset(&out);
    pq_page_header_serialize(&h, &out);
    sd_error_clear(&err);
    CHECK_INT(pq_page_header_parse(out.data, out.len, &h, &consumed, "s.parquet", &err),
              SD_ERR_THRIFT);
    CHECK(strstr(err.msg, "PageHeader.compressed_page_size is negative (-8)") != NULL);
    sd_buf_free(&out);
}
