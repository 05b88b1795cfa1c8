/*
 * pq_meta_reader.c - Parquet FileMetaData and PageHeader from their Thrift
 * compact encoding into the structs of pq_internal.h.
 *
 * Spec: apache/parquet-format, src/main/thrift/parquet.thrift. Field ids in
 * the parsers below are that file's. Unknown fields (newer format versions:
 * bloom filters, size and geospatial statistics, ...) are skipped, never an
 * error. Enum values are range-checked, required fields must be present,
 * sizes and counts must not be negative, and list lengths are capped so a
 * hostile footer cannot make us allocate gigabytes.
 *
 * Errors are recorded in the Thrift reader (first one sticks, with its byte
 * offset) and turned into "<file>: corrupt Parquet footer: <what> at byte N"
 * once at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq_internal.h"

/* Limits for lists in a footer: far above anything real (Delta checkpoints
 * of big tables have thousands of columns at most, and one row group per
 * 128 MiB), low enough that a corrupt count cannot exhaust memory. */
#define PQ_MAX_SCHEMA_ELEMENTS 100000
#define PQ_MAX_ROW_GROUPS 1000000
#define PQ_MAX_COLUMNS 100000
#define PQ_MAX_KEY_VALUES 100000
#define PQ_MAX_PATH_DEPTH 1000
#define PQ_MAX_ENCODINGS 1000

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

static void pq_meta_failf(pq_thrift_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pq_meta_failf(pq_thrift_reader *r, const char *fmt, ...) {
    if (r->failed) return;
    char what[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    pq_thrift_fail(r, what);
}

/* The field's wire type must be what parquet.thrift declares; anything
 * else would be misread. */
static bool pq_meta_expect(pq_thrift_reader *r, uint8_t got, uint8_t want, const char *field) {
    if (got == want) return true;
    if (want == PQ_TT_BOOL_TRUE && got == PQ_TT_BOOL_FALSE) return true;
    pq_meta_failf(r, "%s has wire type %d, expected %d", field, got, want);
    return false;
}

static int32_t pq_meta_i32(pq_thrift_reader *r, uint8_t type, const char *field) {
    if (!pq_meta_expect(r, type, PQ_TT_I32, field)) return 0;
    return pq_thrift_i32(r);
}

static int64_t pq_meta_i64(pq_thrift_reader *r, uint8_t type, const char *field) {
    if (!pq_meta_expect(r, type, PQ_TT_I64, field)) return 0;
    return pq_thrift_i64(r);
}

/* An i32 that may not be negative (sizes, counts). */
static int32_t pq_meta_count32(pq_thrift_reader *r, uint8_t type, const char *field) {
    int32_t v = pq_meta_i32(r, type, field);
    if (v < 0) pq_meta_failf(r, "%s is negative (%d)", field, v);
    return v;
}

static int64_t pq_meta_count64(pq_thrift_reader *r, uint8_t type, const char *field) {
    int64_t v = pq_meta_i64(r, type, field);
    if (v < 0) pq_meta_failf(r, "%s is negative (%lld)", field, (long long)v);
    return v;
}

static bool pq_meta_bool(pq_thrift_reader *r, uint8_t type, const char *field) {
    if (!pq_meta_expect(r, type, PQ_TT_BOOL_TRUE, field)) return false;
    return pq_thrift_field_bool(type);
}

/* An enum value, checked against lo..hi. */
static int32_t pq_meta_enum(pq_thrift_reader *r, uint8_t type, int32_t lo, int32_t hi,
                            const char *field) {
    int32_t v = pq_meta_i32(r, type, field);
    if (r->failed) return lo;
    if (v < lo || v > hi) {
        pq_meta_failf(r, "%s value %d out of range %d..%d", field, v, lo, hi);
        return lo;
    }
    return v;
}

static char *pq_meta_string(pq_thrift_reader *r, uint8_t type, const char *field) {
    if (!pq_meta_expect(r, type, PQ_TT_BINARY, field)) return NULL;
    size_t len;
    const uint8_t *s = pq_thrift_binary(r, &len);
    if (r->failed) return NULL;
    return sd_xstrndup((const char *)s, len);
}

static void pq_meta_bytes(pq_thrift_reader *r, uint8_t type, const char *field, sd_buf *out) {
    if (!pq_meta_expect(r, type, PQ_TT_BINARY, field)) return;
    size_t len;
    const uint8_t *s = pq_thrift_binary(r, &len);
    if (r->failed) return;
    sd_buf_reset(out);
    sd_buf_append(out, s, len);
}

/* A list header of elements of wire type `elem`, at most `cap` long. */
static int32_t pq_meta_list(pq_thrift_reader *r, uint8_t type, uint8_t elem, int32_t cap,
                            const char *field) {
    if (!pq_meta_expect(r, type, PQ_TT_LIST, field)) return 0;
    uint8_t et;
    int32_t n = pq_thrift_list_begin(r, &et);
    if (r->failed) return 0;
    if (n > 0 && et != elem) {
        pq_meta_failf(r, "%s has elements of wire type %d, expected %d", field, et, elem);
        return 0;
    }
    if (n > cap) {
        pq_meta_failf(r, "%s has %d entries (more than %d)", field, n, cap);
        return 0;
    }
    return n;
}

/* Checks that every bit of `need` is in `have`; names the first missing
 * field from `names` (indexed by bit). */
static void pq_meta_require(pq_thrift_reader *r, uint32_t have, uint32_t need, const char *strct,
                            const char *const *names) {
    uint32_t missing = need & ~have;
    if (missing == 0 || r->failed) return;
    int bit = __builtin_ctz(missing);
    pq_meta_failf(r, "%s.%s (required) is missing", strct, names[bit]);
}

#define BIT(id) (1u << (id))

/* ------------------------------------------------------------------------ */
/* Statistics, logical types, schema                                         */
/* ------------------------------------------------------------------------ */

static void pq_parse_statistics(pq_thrift_reader *r, pq_statistics *s) {
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        switch (id) {
            case 1:
                pq_meta_bytes(r, t, "Statistics.max", &s->legacy_max);
                s->has_legacy_max = true;
                break;
            case 2:
                pq_meta_bytes(r, t, "Statistics.min", &s->legacy_min);
                s->has_legacy_min = true;
                break;
            case 3:
                s->null_count = pq_meta_count64(r, t, "Statistics.null_count");
                s->has_null_count = true;
                break;
            case 4:
                s->distinct_count = pq_meta_count64(r, t, "Statistics.distinct_count");
                s->has_distinct_count = true;
                break;
            case 5:
                pq_meta_bytes(r, t, "Statistics.max_value", &s->max);
                s->has_max = true;
                break;
            case 6:
                pq_meta_bytes(r, t, "Statistics.min_value", &s->min);
                s->has_min = true;
                break;
            default:
                pq_thrift_skip(r, t);
                break;
        }
    }
    pq_thrift_struct_end(r);
}

/* TimeUnit is a union of empty structs: MILLIS(1), MICROS(2), NANOS(3). */
static pq_time_unit pq_parse_time_unit(pq_thrift_reader *r, uint8_t type, const char *field) {
    if (!pq_meta_expect(r, type, PQ_TT_STRUCT, field)) return PQ_UNIT_MILLIS;
    pq_time_unit unit = 0;
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        if (id >= 1 && id <= 3 && t == PQ_TT_STRUCT) unit = (pq_time_unit)id;
        pq_thrift_skip(r, t);
    }
    pq_thrift_struct_end(r);
    if (unit == 0) pq_meta_failf(r, "%s is not MILLIS, MICROS or NANOS", field);
    return unit;
}

/* TimeType and TimestampType: 1 isAdjustedToUTC, 2 unit (both required). */
static void pq_parse_time_type(pq_thrift_reader *r, pq_logical_type *lt, const char *strct) {
    static const char *const names[] = {"", "isAdjustedToUTC", "unit"};
    uint32_t have = 0;
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        if (id == 1) {
            lt->is_adjusted_to_utc = pq_meta_bool(r, t, "isAdjustedToUTC");
        } else if (id == 2) {
            lt->unit = pq_parse_time_unit(r, t, "unit");
        } else {
            pq_thrift_skip(r, t);
            continue;
        }
        have |= BIT(id);
    }
    pq_thrift_struct_end(r);
    pq_meta_require(r, have, BIT(1) | BIT(2), strct, names);
}

static void pq_parse_decimal_type(pq_thrift_reader *r, pq_logical_type *lt) {
    static const char *const names[] = {"", "scale", "precision"};
    uint32_t have = 0;
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        if (id == 1) {
            lt->scale = pq_meta_count32(r, t, "DecimalType.scale");
        } else if (id == 2) {
            lt->precision = pq_meta_count32(r, t, "DecimalType.precision");
        } else {
            pq_thrift_skip(r, t);
            continue;
        }
        have |= BIT(id);
    }
    pq_thrift_struct_end(r);
    pq_meta_require(r, have, BIT(1) | BIT(2), "DecimalType", names);
}

static void pq_parse_int_type(pq_thrift_reader *r, pq_logical_type *lt) {
    static const char *const names[] = {"", "bitWidth", "isSigned"};
    uint32_t have = 0;
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        if (id == 1) {
            if (pq_meta_expect(r, t, PQ_TT_BYTE, "IntType.bitWidth"))
                lt->bit_width = pq_thrift_byte(r);
            if (!r->failed && lt->bit_width != 8 && lt->bit_width != 16 && lt->bit_width != 32 &&
                lt->bit_width != 64)
                pq_meta_failf(r, "IntType.bitWidth %d is not 8, 16, 32 or 64", lt->bit_width);
        } else if (id == 2) {
            lt->is_signed = pq_meta_bool(r, t, "IntType.isSigned");
        } else {
            pq_thrift_skip(r, t);
            continue;
        }
        have |= BIT(id);
    }
    pq_thrift_struct_end(r);
    pq_meta_require(r, have, BIT(1) | BIT(2), "IntType", names);
}

/* The LogicalType union: the field id is the kind. Members we do not know
 * (VARIANT, GEOMETRY, ... in newer formats) leave kind NONE, so the column
 * is read by its physical and converted type, as older readers do. */
static void pq_parse_logical_type(pq_thrift_reader *r, pq_logical_type *lt) {
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        if (t != PQ_TT_STRUCT) {
            pq_thrift_skip(r, t);
            continue;
        }
        switch (id) {
            case PQ_LT_DECIMAL:
                pq_parse_decimal_type(r, lt);
                break;
            case PQ_LT_TIME:
                pq_parse_time_type(r, lt, "TimeType");
                break;
            case PQ_LT_TIMESTAMP:
                pq_parse_time_type(r, lt, "TimestampType");
                break;
            case PQ_LT_INTEGER:
                pq_parse_int_type(r, lt);
                break;
            case PQ_LT_STRING:
            case PQ_LT_MAP:
            case PQ_LT_LIST:
            case PQ_LT_ENUM:
            case PQ_LT_DATE:
            case PQ_LT_UNKNOWN:
            case PQ_LT_JSON:
            case PQ_LT_BSON:
            case PQ_LT_UUID:
            case PQ_LT_FLOAT16:
                pq_thrift_skip(r, t);
                break;
            default:
                pq_thrift_skip(r, t);
                continue;
        }
        lt->kind = (pq_logical_kind)id;
    }
    pq_thrift_struct_end(r);
}

static void pq_parse_schema_element(pq_thrift_reader *r, pq_schema_element *e) {
    static const char *const names[] = {"", "type", "type_length", "repetition_type", "name"};
    uint32_t have = 0;
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        switch (id) {
            case 1:
                e->type = pq_meta_enum(r, t, 0, 7, "SchemaElement.type");
                e->has_type = true;
                break;
            case 2:
                e->type_length = pq_meta_count32(r, t, "SchemaElement.type_length");
                break;
            case 3:
                e->repetition = pq_meta_enum(r, t, 0, 2, "SchemaElement.repetition_type");
                e->has_repetition = true;
                break;
            case 4:
                free(e->name);
                e->name = pq_meta_string(r, t, "SchemaElement.name");
                break;
            case 5:
                e->num_children = pq_meta_count32(r, t, "SchemaElement.num_children");
                break;
            case 6:
                e->converted_type = pq_meta_enum(r, t, 0, 21, "SchemaElement.converted_type");
                break;
            case 7:
                e->scale = pq_meta_i32(r, t, "SchemaElement.scale");
                break;
            case 8:
                e->precision = pq_meta_i32(r, t, "SchemaElement.precision");
                break;
            case 9:
                e->field_id = pq_meta_i32(r, t, "SchemaElement.field_id");
                e->has_field_id = true;
                break;
            case 10:
                if (pq_meta_expect(r, t, PQ_TT_STRUCT, "SchemaElement.logicalType"))
                    pq_parse_logical_type(r, &e->logical);
                break;
            default:
                pq_thrift_skip(r, t);
                continue;
        }
        if (id < 32) have |= BIT(id);
    }
    pq_thrift_struct_end(r);
    pq_meta_require(r, have, BIT(4), "SchemaElement", names);
}

/* ------------------------------------------------------------------------ */
/* Column chunks and row groups                                              */
/* ------------------------------------------------------------------------ */

static void pq_parse_encoding_stats(pq_thrift_reader *r, pq_page_encoding_stats *s) {
    static const char *const names[] = {"", "page_type", "encoding", "count"};
    uint32_t have = 0;
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        switch (id) {
            case 1:
                s->page_type = pq_meta_enum(r, t, 0, 3, "PageEncodingStats.page_type");
                break;
            case 2:
                s->encoding = pq_meta_enum(r, t, 0, 9, "PageEncodingStats.encoding");
                break;
            case 3:
                s->count = pq_meta_count32(r, t, "PageEncodingStats.count");
                break;
            default:
                pq_thrift_skip(r, t);
                continue;
        }
        have |= BIT(id);
    }
    pq_thrift_struct_end(r);
    pq_meta_require(r, have, BIT(1) | BIT(2) | BIT(3), "PageEncodingStats", names);
}

static void pq_parse_encodings(pq_thrift_reader *r, uint8_t t, pq_column_meta *m) {
    int32_t n = pq_meta_list(r, t, PQ_TT_I32, PQ_MAX_ENCODINGS, "ColumnMetaData.encodings");
    free(m->encodings);
    m->encodings = n > 0 ? sd_xcalloc((size_t)n, sizeof(*m->encodings)) : NULL;
    m->nencodings = n;
    for (int32_t i = 0; i < n && !r->failed; i++)
        m->encodings[i] = pq_meta_enum(r, PQ_TT_I32, 0, 9, "ColumnMetaData.encodings");
}

static void pq_parse_path(pq_thrift_reader *r, uint8_t t, pq_column_meta *m) {
    int32_t n =
        pq_meta_list(r, t, PQ_TT_BINARY, PQ_MAX_PATH_DEPTH, "ColumnMetaData.path_in_schema");
    for (int i = 0; i < m->npath; i++) free(m->path_in_schema[i]);
    free(m->path_in_schema);
    m->path_in_schema = n > 0 ? sd_xcalloc((size_t)n, sizeof(char *)) : NULL;
    m->npath = n;
    for (int32_t i = 0; i < n && !r->failed; i++)
        m->path_in_schema[i] = pq_meta_string(r, PQ_TT_BINARY, "ColumnMetaData.path_in_schema");
}

static void pq_parse_encoding_stats_list(pq_thrift_reader *r, uint8_t t, pq_column_meta *m) {
    int32_t n = pq_meta_list(r, t, PQ_TT_STRUCT, PQ_MAX_ENCODINGS, "ColumnMetaData.encoding_stats");
    free(m->encoding_stats);
    m->encoding_stats = n > 0 ? sd_xcalloc((size_t)n, sizeof(*m->encoding_stats)) : NULL;
    m->nencoding_stats = n;
    for (int32_t i = 0; i < n && !r->failed; i++) pq_parse_encoding_stats(r, &m->encoding_stats[i]);
}

static void pq_parse_column_meta(pq_thrift_reader *r, pq_column_meta *m) {
    static const char *const names[] = {"",
                                        "type",
                                        "encodings",
                                        "path_in_schema",
                                        "codec",
                                        "num_values",
                                        "total_uncompressed_size",
                                        "total_compressed_size",
                                        "key_value_metadata",
                                        "data_page_offset"};
    uint32_t have = 0;
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        switch (id) {
            case 1:
                m->type = pq_meta_enum(r, t, 0, 7, "ColumnMetaData.type");
                break;
            case 2:
                pq_parse_encodings(r, t, m);
                break;
            case 3:
                pq_parse_path(r, t, m);
                break;
            case 4:
                m->codec = pq_meta_enum(r, t, 0, 7, "ColumnMetaData.codec");
                break;
            case 5:
                m->num_values = pq_meta_count64(r, t, "ColumnMetaData.num_values");
                break;
            case 6:
                m->total_uncompressed_size =
                    pq_meta_count64(r, t, "ColumnMetaData.total_uncompressed_size");
                break;
            case 7:
                m->total_compressed_size =
                    pq_meta_count64(r, t, "ColumnMetaData.total_compressed_size");
                break;
            case 9:
                m->data_page_offset = pq_meta_count64(r, t, "ColumnMetaData.data_page_offset");
                break;
            case 10:
                m->index_page_offset = pq_meta_count64(r, t, "ColumnMetaData.index_page_offset");
                m->has_index_page_offset = true;
                break;
            case 11:
                m->dictionary_page_offset =
                    pq_meta_count64(r, t, "ColumnMetaData.dictionary_page_offset");
                m->has_dictionary_page_offset = true;
                break;
            case 12:
                if (pq_meta_expect(r, t, PQ_TT_STRUCT, "ColumnMetaData.statistics")) {
                    pq_parse_statistics(r, &m->statistics);
                    m->has_statistics = true;
                }
                break;
            case 13:
                pq_parse_encoding_stats_list(r, t, m);
                break;
            default:
                pq_thrift_skip(r, t);
                continue; /* 8 key_value_metadata, 14.. */
        }
        have |= BIT(id);
    }
    pq_thrift_struct_end(r);
    pq_meta_require(r, have, BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(7) | BIT(9),
                    "ColumnMetaData", names);
}

static void pq_parse_column_chunk(pq_thrift_reader *r, pq_column_chunk *c) {
    static const char *const names[] = {"", "file_path", "file_offset"};
    uint32_t have = 0;
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        switch (id) {
            case 1:
                free(c->file_path);
                c->file_path = pq_meta_string(r, t, "ColumnChunk.file_path");
                break;
            case 2:
                c->file_offset = pq_meta_count64(r, t, "ColumnChunk.file_offset");
                break;
            case 3:
                if (pq_meta_expect(r, t, PQ_TT_STRUCT, "ColumnChunk.meta_data")) {
                    pq_parse_column_meta(r, &c->meta_data);
                    c->has_meta_data = true;
                }
                break;
            default:
                pq_thrift_skip(r, t);
                continue;
        }
        have |= BIT(id);
    }
    pq_thrift_struct_end(r);
    pq_meta_require(r, have, BIT(2), "ColumnChunk", names);
}

static void pq_parse_row_group(pq_thrift_reader *r, pq_row_group *g) {
    static const char *const names[] = {"", "columns", "total_byte_size", "num_rows"};
    uint32_t have = 0;
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        switch (id) {
            case 1: {
                if (g->columns != NULL) {
                    pq_meta_failf(r, "RowGroup.columns appears twice");
                    break;
                }
                int32_t n = pq_meta_list(r, t, PQ_TT_STRUCT, PQ_MAX_COLUMNS, "RowGroup.columns");
                g->columns = sd_xcalloc((size_t)(n > 0 ? n : 1), sizeof(*g->columns));
                g->ncolumns = n;
                for (int32_t i = 0; i < n && !r->failed; i++)
                    pq_parse_column_chunk(r, &g->columns[i]);
                break;
            }
            case 2:
                g->total_byte_size = pq_meta_count64(r, t, "RowGroup.total_byte_size");
                break;
            case 3:
                g->num_rows = pq_meta_count64(r, t, "RowGroup.num_rows");
                break;
            case 5:
                g->file_offset = pq_meta_count64(r, t, "RowGroup.file_offset");
                g->has_file_offset = true;
                break;
            case 6:
                g->total_compressed_size = pq_meta_count64(r, t, "RowGroup.total_compressed_size");
                g->has_total_compressed_size = true;
                break;
            case 7:
                if (pq_meta_expect(r, t, PQ_TT_I16, "RowGroup.ordinal")) {
                    int32_t v = pq_thrift_i32(r);
                    if (v < INT16_MIN || v > INT16_MAX)
                        pq_meta_failf(r, "RowGroup.ordinal %d out of i16 range", v);
                    g->ordinal = (int16_t)v;
                    g->has_ordinal = true;
                }
                break;
            default:
                pq_thrift_skip(r, t);
                continue; /* 4 sorting_columns */
        }
        have |= BIT(id);
    }
    pq_thrift_struct_end(r);
    pq_meta_require(r, have, BIT(1) | BIT(2) | BIT(3), "RowGroup", names);
}

static void pq_parse_key_value(pq_thrift_reader *r, pq_key_value *kv) {
    static const char *const names[] = {"", "key", "value"};
    uint32_t have = 0;
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        if (id == 1) {
            free(kv->key);
            kv->key = pq_meta_string(r, t, "KeyValue.key");
        } else if (id == 2) {
            free(kv->value);
            kv->value = pq_meta_string(r, t, "KeyValue.value");
        } else {
            pq_thrift_skip(r, t);
            continue;
        }
        have |= BIT(id);
    }
    pq_thrift_struct_end(r);
    pq_meta_require(r, have, BIT(1), "KeyValue", names);
}

/* ------------------------------------------------------------------------ */
/* FileMetaData                                                              */
/* ------------------------------------------------------------------------ */

static void pq_parse_schema_list(pq_thrift_reader *r, uint8_t t, pq_file_meta *m) {
    if (m->schema != NULL) {
        pq_meta_failf(r, "FileMetaData.schema appears twice");
        return;
    }
    int32_t n = pq_meta_list(r, t, PQ_TT_STRUCT, PQ_MAX_SCHEMA_ELEMENTS, "FileMetaData.schema");
    m->schema = sd_xcalloc((size_t)(n > 0 ? n : 1), sizeof(*m->schema));
    m->nschema = n;
    for (int32_t i = 0; i < n && !r->failed; i++) {
        m->schema[i].converted_type = PQ_CT_NONE;
        pq_parse_schema_element(r, &m->schema[i]);
    }
    if (!r->failed && n == 0) pq_meta_failf(r, "FileMetaData.schema is empty");
}

static void pq_parse_row_groups(pq_thrift_reader *r, uint8_t t, pq_file_meta *m) {
    if (m->row_groups != NULL) {
        pq_meta_failf(r, "FileMetaData.row_groups appears twice");
        return;
    }
    int32_t n = pq_meta_list(r, t, PQ_TT_STRUCT, PQ_MAX_ROW_GROUPS, "FileMetaData.row_groups");
    m->row_groups = sd_xcalloc((size_t)(n > 0 ? n : 1), sizeof(*m->row_groups));
    m->nrow_groups = n;
    for (int32_t i = 0; i < n && !r->failed; i++) pq_parse_row_group(r, &m->row_groups[i]);
}

static void pq_parse_key_values(pq_thrift_reader *r, uint8_t t, pq_file_meta *m) {
    if (m->kv != NULL) {
        pq_meta_failf(r, "FileMetaData.key_value_metadata appears twice");
        return;
    }
    int32_t n =
        pq_meta_list(r, t, PQ_TT_STRUCT, PQ_MAX_KEY_VALUES, "FileMetaData.key_value_metadata");
    m->kv = sd_xcalloc((size_t)(n > 0 ? n : 1), sizeof(*m->kv));
    m->nkv = n;
    for (int32_t i = 0; i < n && !r->failed; i++) pq_parse_key_value(r, &m->kv[i]);
}

/* ColumnOrder is a union whose only member so far is TYPE_ORDER (an empty
 * struct); we keep the count and skip the contents. */
static void pq_parse_column_orders(pq_thrift_reader *r, uint8_t t, pq_file_meta *m) {
    int32_t n =
        pq_meta_list(r, t, PQ_TT_STRUCT, PQ_MAX_SCHEMA_ELEMENTS, "FileMetaData.column_orders");
    for (int32_t i = 0; i < n && !r->failed; i++) pq_thrift_skip(r, PQ_TT_STRUCT);
    m->ncolumn_orders = n;
}

static void pq_parse_file_meta(pq_thrift_reader *r, pq_file_meta *m) {
    static const char *const names[] = {"", "version", "schema", "num_rows", "row_groups"};
    uint32_t have = 0;
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        switch (id) {
            case 1:
                m->version = pq_meta_i32(r, t, "FileMetaData.version");
                break;
            case 2:
                pq_parse_schema_list(r, t, m);
                break;
            case 3:
                m->num_rows = pq_meta_count64(r, t, "FileMetaData.num_rows");
                break;
            case 4:
                pq_parse_row_groups(r, t, m);
                break;
            case 5:
                pq_parse_key_values(r, t, m);
                break;
            case 6:
                free(m->created_by);
                m->created_by = pq_meta_string(r, t, "FileMetaData.created_by");
                break;
            case 7:
                pq_parse_column_orders(r, t, m);
                break;
            case 8:
                /* Encrypted footers are refused by the file reader; here we
                 * only record that the algorithm is present. */
                m->has_encryption = true;
                pq_thrift_skip(r, t);
                break;
            default:
                pq_thrift_skip(r, t);
                continue;
        }
        have |= BIT(id);
    }
    pq_thrift_struct_end(r);
    pq_meta_require(r, have, BIT(1) | BIT(2) | BIT(3) | BIT(4), "FileMetaData", names);
}

sd_status pq_meta_parse(const uint8_t *p, size_t n, pq_file_meta *out, const char *name,
                        sd_error *err) {
    memset(out, 0, sizeof(*out));
    pq_thrift_reader r;
    pq_thrift_reader_init(&r, p, n);
    pq_parse_file_meta(&r, out);
    if (r.failed) {
        pq_file_meta_clear(out);
        return sd_error_set(err, SD_ERR_THRIFT, "%s: corrupt Parquet footer: %s", name, r.what);
    }
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* PageHeader                                                                */
/* ------------------------------------------------------------------------ */

static void pq_parse_data_page_header(pq_thrift_reader *r, pq_data_page_header *h) {
    static const char *const names[] = {"", "num_values", "encoding", "definition_level_encoding",
                                        "repetition_level_encoding"};
    uint32_t have = 0;
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        switch (id) {
            case 1:
                h->num_values = pq_meta_count32(r, t, "DataPageHeader.num_values");
                break;
            case 2:
                h->encoding = pq_meta_enum(r, t, 0, 9, "DataPageHeader.encoding");
                break;
            case 3:
                h->definition_level_encoding =
                    pq_meta_enum(r, t, 0, 9, "DataPageHeader.definition_level_encoding");
                break;
            case 4:
                h->repetition_level_encoding =
                    pq_meta_enum(r, t, 0, 9, "DataPageHeader.repetition_level_encoding");
                break;
            case 5:
                if (pq_meta_expect(r, t, PQ_TT_STRUCT, "DataPageHeader.statistics")) {
                    pq_parse_statistics(r, &h->statistics);
                    h->has_statistics = true;
                }
                break;
            default:
                pq_thrift_skip(r, t);
                continue;
        }
        have |= BIT(id);
    }
    pq_thrift_struct_end(r);
    pq_meta_require(r, have, BIT(1) | BIT(2) | BIT(3) | BIT(4), "DataPageHeader", names);
}

static void pq_parse_dictionary_page_header(pq_thrift_reader *r, pq_dictionary_page_header *h) {
    static const char *const names[] = {"", "num_values", "encoding"};
    uint32_t have = 0;
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        switch (id) {
            case 1:
                h->num_values = pq_meta_count32(r, t, "DictionaryPageHeader.num_values");
                break;
            case 2:
                h->encoding = pq_meta_enum(r, t, 0, 9, "DictionaryPageHeader.encoding");
                break;
            case 3:
                h->is_sorted = pq_meta_bool(r, t, "DictionaryPageHeader.is_sorted");
                h->has_is_sorted = true;
                break;
            default:
                pq_thrift_skip(r, t);
                continue;
        }
        have |= BIT(id);
    }
    pq_thrift_struct_end(r);
    pq_meta_require(r, have, BIT(1) | BIT(2), "DictionaryPageHeader", names);
}

static void pq_parse_data_page_header_v2(pq_thrift_reader *r, pq_data_page_header_v2 *h) {
    static const char *const names[] = {"",
                                        "num_values",
                                        "num_nulls",
                                        "num_rows",
                                        "encoding",
                                        "definition_levels_byte_length",
                                        "repetition_levels_byte_length"};
    uint32_t have = 0;
    h->is_compressed = true; /* parquet.thrift's default */
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        switch (id) {
            case 1:
                h->num_values = pq_meta_count32(r, t, "DataPageHeaderV2.num_values");
                break;
            case 2:
                h->num_nulls = pq_meta_count32(r, t, "DataPageHeaderV2.num_nulls");
                break;
            case 3:
                h->num_rows = pq_meta_count32(r, t, "DataPageHeaderV2.num_rows");
                break;
            case 4:
                h->encoding = pq_meta_enum(r, t, 0, 9, "DataPageHeaderV2.encoding");
                break;
            case 5:
                h->definition_levels_byte_length =
                    pq_meta_count32(r, t, "DataPageHeaderV2.definition_levels_byte_length");
                break;
            case 6:
                h->repetition_levels_byte_length =
                    pq_meta_count32(r, t, "DataPageHeaderV2.repetition_levels_byte_length");
                break;
            case 7:
                h->is_compressed = pq_meta_bool(r, t, "DataPageHeaderV2.is_compressed");
                break;
            case 8:
                if (pq_meta_expect(r, t, PQ_TT_STRUCT, "DataPageHeaderV2.statistics")) {
                    pq_parse_statistics(r, &h->statistics);
                    h->has_statistics = true;
                }
                break;
            default:
                pq_thrift_skip(r, t);
                continue;
        }
        have |= BIT(id);
    }
    pq_thrift_struct_end(r);
    pq_meta_require(r, have, BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6),
                    "DataPageHeaderV2", names);
}

static void pq_parse_page_header(pq_thrift_reader *r, pq_page_header *h) {
    static const char *const names[] = {"", "type", "uncompressed_page_size",
                                        "compressed_page_size"};
    uint32_t have = 0;
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) {
        switch (id) {
            case 1:
                h->type = pq_meta_enum(r, t, 0, 3, "PageHeader.type");
                break;
            case 2:
                h->uncompressed_page_size =
                    pq_meta_count32(r, t, "PageHeader.uncompressed_page_size");
                break;
            case 3:
                h->compressed_page_size = pq_meta_count32(r, t, "PageHeader.compressed_page_size");
                break;
            case 4:
                h->crc = pq_meta_i32(r, t, "PageHeader.crc");
                h->has_crc = true;
                break;
            case 5:
                if (pq_meta_expect(r, t, PQ_TT_STRUCT, "PageHeader.data_page_header") &&
                    !h->has_data_page_header) {
                    pq_parse_data_page_header(r, &h->data_page_header);
                    h->has_data_page_header = true;
                } else if (!r->failed) {
                    pq_meta_failf(r, "PageHeader.data_page_header appears twice");
                }
                break;
            case 7:
                if (pq_meta_expect(r, t, PQ_TT_STRUCT, "PageHeader.dictionary_page_header") &&
                    !h->has_dictionary_page_header) {
                    pq_parse_dictionary_page_header(r, &h->dictionary_page_header);
                    h->has_dictionary_page_header = true;
                } else if (!r->failed) {
                    pq_meta_failf(r, "PageHeader.dictionary_page_header appears twice");
                }
                break;
            case 8:
                if (pq_meta_expect(r, t, PQ_TT_STRUCT, "PageHeader.data_page_header_v2") &&
                    !h->has_data_page_header_v2) {
                    pq_parse_data_page_header_v2(r, &h->data_page_header_v2);
                    h->has_data_page_header_v2 = true;
                } else if (!r->failed) {
                    pq_meta_failf(r, "PageHeader.data_page_header_v2 appears twice");
                }
                break;
            default:
                pq_thrift_skip(r, t);
                continue; /* 6 index_page_header, 9.. */
        }
        have |= BIT(id);
    }
    pq_thrift_struct_end(r);
    pq_meta_require(r, have, BIT(1) | BIT(2) | BIT(3), "PageHeader", names);
    /* A page of a data or dictionary type is unreadable without its
     * sub-header; refusing it here spares every caller the check. */
    if ((h->type == PQ_PAGE_DATA && !h->has_data_page_header) ||
        (h->type == PQ_PAGE_DICTIONARY && !h->has_dictionary_page_header) ||
        (h->type == PQ_PAGE_DATA_V2 && !h->has_data_page_header_v2))
        pq_meta_failf(r, "PageHeader of type %d lacks its %s", h->type,
                      h->type == PQ_PAGE_DATA         ? "data_page_header"
                      : h->type == PQ_PAGE_DICTIONARY ? "dictionary_page_header"
                                                      : "data_page_header_v2");
}

sd_status pq_page_header_parse(const uint8_t *p, size_t n, pq_page_header *out, size_t *consumed,
                               const char *name, sd_error *err) {
    memset(out, 0, sizeof(*out));
    *consumed = 0;
    pq_thrift_reader r;
    pq_thrift_reader_init(&r, p, n);
    pq_parse_page_header(&r, out);
    if (r.failed) {
        pq_page_header_clear(out);
        return sd_error_set(err, SD_ERR_THRIFT, "%s: corrupt Parquet page header: %s", name,
                            r.what);
    }
    *consumed = (size_t)(r.p - r.start);
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Freeing                                                                   */
/* ------------------------------------------------------------------------ */

void pq_statistics_clear(pq_statistics *s) {
    sd_buf_free(&s->min);
    sd_buf_free(&s->max);
    sd_buf_free(&s->legacy_min);
    sd_buf_free(&s->legacy_max);
    memset(s, 0, sizeof(*s));
}

static void pq_column_meta_clear(pq_column_meta *m) {
    free(m->encodings);
    for (int i = 0; i < m->npath; i++) free(m->path_in_schema[i]);
    free(m->path_in_schema);
    pq_statistics_clear(&m->statistics);
    free(m->encoding_stats);
    memset(m, 0, sizeof(*m));
}

void pq_file_meta_clear(pq_file_meta *m) {
    for (int i = 0; i < m->nschema; i++) free(m->schema[i].name);
    free(m->schema);
    for (int g = 0; g < m->nrow_groups; g++) {
        pq_row_group *rg = &m->row_groups[g];
        for (int c = 0; c < rg->ncolumns; c++) {
            free(rg->columns[c].file_path);
            pq_column_meta_clear(&rg->columns[c].meta_data);
        }
        free(rg->columns);
    }
    free(m->row_groups);
    for (int i = 0; i < m->nkv; i++) {
        free(m->kv[i].key);
        free(m->kv[i].value);
    }
    free(m->kv);
    free(m->created_by);
    memset(m, 0, sizeof(*m));
}

void pq_page_header_clear(pq_page_header *h) {
    pq_statistics_clear(&h->data_page_header.statistics);
    pq_statistics_clear(&h->data_page_header_v2.statistics);
    memset(h, 0, sizeof(*h));
}
