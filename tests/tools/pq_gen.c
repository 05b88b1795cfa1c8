/*
 * pq_gen.c - writes the Parquet files of tests/e2e/test_parquet_writer.py
 * with streamdelta's writer, and beside each FILE.parquet the rows it holds,
 * FILE.expected.jsonl, computed from the values the generator put in (never
 * by reading the file back), so that a reader that agrees with the writer
 * on a mistake cannot hide it.
 *
 *   pq_gen OUTDIR
 *
 * Files:
 *   types-CODEC-NULLS-DICT.parquet  one column of every primitive type, for
 *       every codec (snappy zstd gzip none lz4_raw) x nulls (none: required
 *       columns; some: every third value null; all: only nulls) x dictionary
 *       (dict, plain);
 *   types-snappy-some-dict-v2.parquet  the same with data pages v2;
 *   nested.parquet  structs, lists and maps with nulls at every level and
 *       empty lists and maps;
 *   multi.parquet   many row groups and pages, written batch by batch.
 *
 * expected.jsonl uses the canonical form of tests/support/canon.py: floats
 * as %.9g / %.17g (NaN and infinities as strings), decimals exact, binary as
 * base64, dates and timestamps as text.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/parquet.h"

#define GEN_ROWS 60
#define GEN_MULTI_ROWS 30000
#define GEN_MULTI_BATCH 1000

/* ------------------------------------------------------------------------ */
/* Values: small tables with the edge cases of each type                     */
/* ------------------------------------------------------------------------ */

static const int64_t gen_i8[] = {-128, 127, 0, -1, 5, 5, 17};
static const int64_t gen_i16[] = {-32768, 32767, 0, 300, -300, 300};
static const int64_t gen_i32[] = {INT32_MIN, INT32_MAX, 0, -1, 123456, 42, 42};
static const int64_t gen_i64[] = {INT64_MIN, INT64_MAX, 0, -1, 1000000000007LL, 42};
static const float gen_f32[] = {0.0f,     -0.0f,     1.5f,          -2.25f, NAN,
                                INFINITY, -INFINITY, 3.4028235e38f, 1.1f,   1e-45f};
static const double gen_f64[] = {
    0.0, -0.0, 0.1, -1e300, NAN, INFINITY, -INFINITY, 2.2250738585072014e-308, 1.0 / 3.0};
static const int64_t gen_dec9[] = {999999999, -999999999, 0, 1, -1, 12345};
static const int64_t gen_dec18[] = {999999999999999999LL, -999999999999999999LL, 0, 5,
                                    -123456789012LL};
static const char *const gen_str[] = {"",
                                      "a",
                                      "h\xc3\xa9llo w\xc3\xb6rld",
                                      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
                                      "emoji \xf0\x9f\x98\x80",
                                      "comma,quote\"",
                                      "line\nbreak\ttab",
                                      "a string that is longer than forty characters in all",
                                      "a"};
static const struct {
    const char *bytes;
    size_t len;
} gen_bin[] = {{"", 0}, {"\x00\x01\x02", 3}, {"\xff\xfe", 2}, {"abc", 3}, {"\x00", 1}};
static const int64_t gen_date[] = {0, -1, 19000, -719162, 2932896, 19000};
static const int64_t gen_ts[] = {
    0, 1700000000123456LL, -1, 253402300799999999LL, -62135596800000000LL, 1700000000000000LL};

#define GEN_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define GEN_PICK(a, i) ((a)[(size_t)(i) % GEN_COUNT(a)])

/* 10^38 - 1 and friends do not fit in int64: build them from digits. */
static __int128 gen_dec38(size_t i) {
    static const char *const text[] = {"99999999999999999999999999999999999999",
                                       "-99999999999999999999999999999999999999",
                                       "0",
                                       "1",
                                       "12345678901234567890123456789",
                                       "-5000000000"};
    const char *s = GEN_PICK(text, i);
    bool neg = *s == '-';
    __int128 v = 0;
    for (s += neg; *s; s++) v = v * 10 + (*s - '0');
    return neg ? -v : v;
}

/* ------------------------------------------------------------------------ */
/* Expected JSON text                                                        */
/* ------------------------------------------------------------------------ */

static void gen_json_string(sd_buf *out, const char *s, size_t n) {
    sd_buf_append_byte(out, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            sd_buf_appendf(out, "\\%c", c);
        else if (c < 0x20)
            sd_buf_appendf(out, "\\u%04x", c);
        else
            sd_buf_append_byte(out, c);
    }
    sd_buf_append_byte(out, '"');
}

static void gen_json_base64(sd_buf *out, const char *s, size_t n) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *u = (const unsigned char *)s;
    sd_buf_append_byte(out, '"');
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)u[i] << 16 | (i + 1 < n ? (unsigned)u[i + 1] << 8 : 0) |
                     (i + 2 < n ? u[i + 2] : 0);
        sd_buf_append_byte(out, (uint8_t)abc[v >> 18]);
        sd_buf_append_byte(out, (uint8_t)abc[(v >> 12) & 63]);
        sd_buf_append_byte(out, (uint8_t)(i + 1 < n ? abc[(v >> 6) & 63] : '='));
        sd_buf_append_byte(out, (uint8_t)(i + 2 < n ? abc[v & 63] : '='));
    }
    sd_buf_append_byte(out, '"');
}

static void gen_json_double(sd_buf *out, double v, int digits) {
    if (isnan(v))
        sd_buf_append_str(out, "\"NaN\"");
    else if (isinf(v))
        sd_buf_append_str(out, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    else
        sd_buf_appendf(out, "%.*g", digits, v);
}

static void gen_json_decimal(sd_buf *out, __int128 v, int scale) {
    sd_format_decimal(v, scale, out);
}

static void gen_json_text(sd_buf *out, void (*fmt)(int64_t, sd_buf *), int64_t v) {
    sd_buf_append_byte(out, '"');
    fmt(v, out);
    sd_buf_append_byte(out, '"');
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */
/* ------------------------------------------------------------------------ */

/* Which rows are null in a file: none, every third, all. */
typedef enum gen_nulls { GEN_NULLS_NONE, GEN_NULLS_SOME, GEN_NULLS_ALL } gen_nulls;

static bool gen_is_null(gen_nulls nulls, size_t row, int col) {
    if (nulls == GEN_NULLS_NONE) return false;
    if (nulls == GEN_NULLS_ALL) return true;
    return (row + (size_t)col) % 3 == 0;
}

static const struct {
    const char *name;
    sd_type_kind kind;
    int precision, scale;
} gen_columns[] = {
    {"c_bool", SD_BOOL, 0, 0},
    {"c_byte", SD_INT8, 0, 0},
    {"c_short", SD_INT16, 0, 0},
    {"c_int", SD_INT32, 0, 0},
    {"c_long", SD_INT64, 0, 0},
    {"c_float", SD_FLOAT, 0, 0},
    {"c_double", SD_DOUBLE, 0, 0},
    {"c_dec9", SD_DECIMAL, 9, 2},
    {"c_dec18", SD_DECIMAL, 18, 4},
    {"c_dec38", SD_DECIMAL, 38, 10},
    {"c_string", SD_STRING, 0, 0},
    {"c_binary", SD_BINARY, 0, 0},
    {"c_date", SD_DATE, 0, 0},
    {"c_ts", SD_TIMESTAMP, 0, 0},
    {"c_ts_ntz", SD_TIMESTAMP_NTZ, 0, 0},
};

/* Append row `i`'s value of column `k` to `c` and its JSON to `json`. */
static void gen_value(sd_column *c, int k, size_t i, sd_buf *json) {
    switch (gen_columns[k].kind) {
        case SD_BOOL:
            sd_column_append_bool(c, i % 3 == 1);
            sd_buf_append_str(json, i % 3 == 1 ? "true" : "false");
            break;
        case SD_INT8:
        case SD_INT16:
        case SD_INT32: {
            int64_t v = gen_columns[k].kind == SD_INT8    ? GEN_PICK(gen_i8, i)
                        : gen_columns[k].kind == SD_INT16 ? GEN_PICK(gen_i16, i)
                                                          : GEN_PICK(gen_i32, i);
            sd_column_append_i32(c, (int32_t)v);
            sd_buf_appendf(json, "%lld", (long long)v);
            break;
        }
        case SD_INT64:
            sd_column_append_i64(c, GEN_PICK(gen_i64, i));
            sd_buf_appendf(json, "%lld", (long long)GEN_PICK(gen_i64, i));
            break;
        case SD_FLOAT:
            sd_column_append_float(c, GEN_PICK(gen_f32, i));
            gen_json_double(json, GEN_PICK(gen_f32, i), 9);
            break;
        case SD_DOUBLE:
            sd_column_append_double(c, GEN_PICK(gen_f64, i));
            gen_json_double(json, GEN_PICK(gen_f64, i), 17);
            break;
        case SD_DECIMAL: {
            __int128 v = gen_columns[k].precision == 9    ? GEN_PICK(gen_dec9, i)
                         : gen_columns[k].precision == 18 ? GEN_PICK(gen_dec18, i)
                                                          : gen_dec38(i);
            sd_column_append_decimal(c, v);
            gen_json_decimal(json, v, gen_columns[k].scale);
            break;
        }
        case SD_STRING: {
            const char *s = GEN_PICK(gen_str, i);
            sd_column_append_bytes(c, s, strlen(s));
            gen_json_string(json, s, strlen(s));
            break;
        }
        case SD_BINARY:
            sd_column_append_bytes(c, GEN_PICK(gen_bin, i).bytes, GEN_PICK(gen_bin, i).len);
            gen_json_base64(json, GEN_PICK(gen_bin, i).bytes, GEN_PICK(gen_bin, i).len);
            break;
        case SD_DATE:
            sd_column_append_i32(c, (int32_t)GEN_PICK(gen_date, i));
            gen_json_text(json, sd_format_date, GEN_PICK(gen_date, i));
            break;
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ: {
            /* The two timestamp columns hold different values. */
            size_t j = gen_columns[k].kind == SD_TIMESTAMP ? i : i + 2;
            sd_column_append_i64(c, GEN_PICK(gen_ts, j));
            gen_json_text(json, sd_format_timestamp, GEN_PICK(gen_ts, j));
            break;
        }
        default:
            break;
    }
}

static int gen_write_text(const char *path, const sd_buf *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL || fwrite(text->data, 1, text->len, f) != text->len || fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

/* Write `batch` to DIR/NAME.parquet and `expected` to DIR/NAME.expected.jsonl. */
static int gen_finish(const char *dir, const char *name, const sd_batch *batch,
                      const pq_writer_options *opts, const sd_buf *expected) {
    char path[4096];
    sd_error err = {0};
    snprintf(path, sizeof(path), "%s/%s.parquet", dir, name);
    if (pq_write_file(path, batch, opts, NULL, &err) != SD_OK) {
        fprintf(stderr, "pq_gen: %s\n", err.msg);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/%s.expected.jsonl", dir, name);
    return gen_write_text(path, expected);
}

static int gen_types_file(const char *dir, pq_codec codec, gen_nulls nulls, bool dict,
                          int page_version) {
    static const char *const null_names[] = {"none", "some", "all"};
    sd_schema *schema = sd_schema_new();
    int ncols = (int)GEN_COUNT(gen_columns);
    for (int k = 0; k < ncols; k++) {
        sd_field *f = sd_type_add_field(schema, gen_columns[k].name, gen_columns[k].kind,
                                        nulls != GEN_NULLS_NONE);
        f->type.precision = gen_columns[k].precision;
        f->type.scale = gen_columns[k].scale;
    }
    sd_batch batch;
    sd_batch_init(&batch, schema);
    sd_buf expected = SD_BUF_INIT;
    for (size_t i = 0; i < GEN_ROWS; i++) {
        sd_buf_append_byte(&expected, '{');
        for (int k = 0; k < ncols; k++) {
            if (k) sd_buf_append_byte(&expected, ',');
            gen_json_string(&expected, gen_columns[k].name, strlen(gen_columns[k].name));
            sd_buf_append_byte(&expected, ':');
            if (gen_is_null(nulls, i, k)) {
                sd_column_append_null(&batch.cols[k]);
                sd_buf_append_str(&expected, "null");
            } else {
                gen_value(&batch.cols[k], k, i, &expected);
            }
        }
        batch.nrows++;
        sd_buf_append_str(&expected, "}\n");
    }
    pq_writer_options opts;
    pq_writer_options_init(&opts);
    opts.codec = codec;
    opts.dictionary = dict;
    opts.data_page_version = page_version;
    char name[256];
    const char *codec_name = codec == PQ_CODEC_UNCOMPRESSED ? "none" : pq_codec_name(codec);
    snprintf(name, sizeof(name), "types-%s-%s-%s%s", codec_name, null_names[nulls],
             dict ? "dict" : "plain", page_version == 2 ? "-v2" : "");
    int rc = gen_finish(dir, name, &batch, &opts, &expected);
    sd_buf_free(&expected);
    sd_batch_free(&batch);
    sd_schema_free(schema);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Nested file                                                               */
/* ------------------------------------------------------------------------ */

/* id int, s struct<a:int, b:string, inner:struct<x:double, tags:array<string>>>,
 * l array<int>, m map<string,int>, lm array<map<string,bigint>> */
static sd_schema *gen_nested_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "id", SD_INT32, false);
    sd_field *st = sd_type_add_field(s, "s", SD_STRUCT, true);
    sd_type_add_field(&st->type, "a", SD_INT32, true);
    sd_type_add_field(&st->type, "b", SD_STRING, true);
    sd_field *inner = sd_type_add_field(&st->type, "inner", SD_STRUCT, true);
    sd_type_add_field(&inner->type, "x", SD_DOUBLE, true);
    sd_field *tags = sd_type_add_field(&inner->type, "tags", SD_LIST, true);
    sd_type_add_field(&tags->type, "element", SD_STRING, true);
    sd_field *l = sd_type_add_field(s, "l", SD_LIST, true);
    sd_type_add_field(&l->type, "element", SD_INT32, true);
    sd_field *m = sd_type_add_field(s, "m", SD_MAP, true);
    sd_type_add_field(&m->type, "key", SD_STRING, false);
    sd_type_add_field(&m->type, "value", SD_INT32, true);
    sd_field *lm = sd_type_add_field(s, "lm", SD_LIST, true);
    sd_field *lme = sd_type_add_field(&lm->type, "element", SD_MAP, true);
    sd_type_add_field(&lme->type, "key", SD_STRING, false);
    sd_type_add_field(&lme->type, "value", SD_INT64, true);
    return s;
}

/* A list of `n` strings ("t0".."t{n-1}"), element 1 null; n < 0 = null list. */
static void gen_tags(sd_column *c, size_t row, int n, sd_buf *json) {
    if (n < 0) {
        sd_column_append_null(c);
        sd_buf_append_str(json, "null");
        return;
    }
    sd_buf_append_byte(json, '[');
    for (int j = 0; j < n; j++) {
        if (j) sd_buf_append_byte(json, ',');
        if (j == 1) {
            sd_column_append_null(&c->children[0]);
            sd_buf_append_str(json, "null");
        } else {
            char t[32];
            int len = snprintf(t, sizeof(t), "t%zu.%d", row, j);
            sd_column_append_bytes(&c->children[0], t, (size_t)len);
            gen_json_string(json, t, (size_t)len);
        }
    }
    sd_buf_append_byte(json, ']');
    sd_column_append_list(c, (size_t)n);
}

/* Null at each level in turn: row % 6 picks which part is null or empty. */
static void gen_nested_struct(sd_column *s, size_t row, sd_buf *json) {
    sd_column *a = &s->children[0], *b = &s->children[1], *inner = &s->children[2];
    int shape = (int)(row % 6);
    if (shape == 0) {
        /* The whole struct is null; sd_column_append_null() gives every
         * child (recursively) its null slot. */
        sd_column_append_null(s);
        sd_buf_append_str(json, "null");
        return;
    }
    sd_buf_appendf(json, "{\"a\":");
    if (shape == 1) {
        sd_column_append_null(a);
        sd_buf_append_str(json, "null");
    } else {
        sd_column_append_i32(a, (int32_t)row * 10);
        sd_buf_appendf(json, "%d", (int)row * 10);
    }
    sd_buf_append_str(json, ",\"b\":");
    char text[32];
    int len = snprintf(text, sizeof(text), "s%zu", row);
    sd_column_append_bytes(b, text, (size_t)len);
    gen_json_string(json, text, (size_t)len);
    sd_buf_append_str(json, ",\"inner\":");
    if (shape == 2) {
        sd_column_append_null(inner);
        sd_buf_append_str(json, "null");
    } else {
        double x = (double)row + 0.25;
        sd_column_append_double(&inner->children[0], x);
        sd_buf_append_str(json, "{\"x\":");
        gen_json_double(json, x, 17);
        sd_buf_append_str(json, ",\"tags\":");
        gen_tags(&inner->children[1], row, shape == 3 ? -1 : shape == 4 ? 0 : 3, json);
        sd_buf_append_byte(json, '}');
        sd_column_append_struct(inner);
    }
    sd_buf_append_byte(json, '}');
    sd_column_append_struct(s);
}

/* list<int>: null, empty, [null], or [r, null, r+1, ...]. */
static void gen_nested_list(sd_column *l, size_t row, sd_buf *json) {
    int shape = (int)(row % 5);
    if (shape == 0) {
        sd_column_append_null(l);
        sd_buf_append_str(json, "null");
        return;
    }
    int n = shape == 1 ? 0 : shape == 2 ? 1 : (int)(row % 4) + 2;
    sd_buf_append_byte(json, '[');
    for (int j = 0; j < n; j++) {
        if (j) sd_buf_append_byte(json, ',');
        if (j == 1 || shape == 2) {
            sd_column_append_null(&l->children[0]);
            sd_buf_append_str(json, "null");
        } else {
            sd_column_append_i32(&l->children[0], (int32_t)(row + (size_t)j));
            sd_buf_appendf(json, "%d", (int)(row + (size_t)j));
        }
    }
    sd_buf_append_byte(json, ']');
    sd_column_append_list(l, (size_t)n);
}

/* map<string,int> (value type int) or map<string,bigint>: null, empty, or
 * entries k0.. with the second value null. */
static void gen_nested_map(sd_column *m, size_t row, int shape, bool wide, sd_buf *json) {
    if (shape == 0) {
        sd_column_append_null(m);
        sd_buf_append_str(json, "null");
        return;
    }
    int n = shape == 1 ? 0 : shape;
    sd_buf_append_byte(json, '{');
    for (int j = 0; j < n; j++) {
        char key[32];
        int len = snprintf(key, sizeof(key), "k%d", j);
        if (j) sd_buf_append_byte(json, ',');
        sd_column_append_bytes(&m->children[0], key, (size_t)len);
        gen_json_string(json, key, (size_t)len);
        sd_buf_append_byte(json, ':');
        if (j == 1) {
            sd_column_append_null(&m->children[1]);
            sd_buf_append_str(json, "null");
        } else if (wide) {
            int64_t v = (int64_t)row * 1000000007LL + j;
            sd_column_append_i64(&m->children[1], v);
            sd_buf_appendf(json, "%lld", (long long)v);
        } else {
            sd_column_append_i32(&m->children[1], (int32_t)row + j);
            sd_buf_appendf(json, "%d", (int)row + j);
        }
    }
    sd_buf_append_byte(json, '}');
    sd_column_append_list(m, (size_t)n);
}

/* list<map<string,bigint>>: null, empty, or maps of every shape. */
static void gen_nested_list_of_maps(sd_column *lm, size_t row, sd_buf *json) {
    int shape = (int)(row % 4);
    if (shape == 0) {
        sd_column_append_null(lm);
        sd_buf_append_str(json, "null");
        return;
    }
    int n = shape == 1 ? 0 : 3;
    sd_buf_append_byte(json, '[');
    for (int j = 0; j < n; j++) {
        if (j) sd_buf_append_byte(json, ',');
        gen_nested_map(&lm->children[0], row, (int)(row + (size_t)j) % 4, true, json);
    }
    sd_buf_append_byte(json, ']');
    sd_column_append_list(lm, (size_t)n);
}

static int gen_nested_file(const char *dir) {
    sd_schema *schema = gen_nested_schema();
    sd_batch batch;
    sd_batch_init(&batch, schema);
    sd_buf expected = SD_BUF_INIT;
    for (size_t row = 0; row < GEN_ROWS; row++) {
        sd_column_append_i32(&batch.cols[0], (int32_t)row);
        sd_buf_appendf(&expected, "{\"id\":%zu,\"s\":", row);
        gen_nested_struct(&batch.cols[1], row, &expected);
        sd_buf_append_str(&expected, ",\"l\":");
        gen_nested_list(&batch.cols[2], row, &expected);
        sd_buf_append_str(&expected, ",\"m\":");
        gen_nested_map(&batch.cols[3], row, (int)(row % 4), false, &expected);
        sd_buf_append_str(&expected, ",\"lm\":");
        gen_nested_list_of_maps(&batch.cols[4], row, &expected);
        sd_buf_append_str(&expected, "}\n");
        batch.nrows++;
    }
    pq_writer_options opts;
    pq_writer_options_init(&opts);
    int rc = gen_finish(dir, "nested", &batch, &opts, &expected);
    sd_buf_free(&expected);
    sd_batch_free(&batch);
    sd_schema_free(schema);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Many row groups and pages                                                 */
/* ------------------------------------------------------------------------ */

static int gen_multi_file(const char *dir) {
    sd_schema *schema = sd_schema_new();
    sd_type_add_field(schema, "id", SD_INT64, false);
    sd_type_add_field(schema, "name", SD_STRING, true);
    sd_type_add_field(schema, "score", SD_DOUBLE, true);
    pq_writer_options opts;
    pq_writer_options_init(&opts);
    opts.codec = PQ_CODEC_ZSTD;
    opts.page_size = 4096;
    opts.row_group_size = 128 * 1024;
    char path[4096];
    snprintf(path, sizeof(path), "%s/multi.parquet", dir);
    sd_error err = {0};
    pq_writer *w = pq_writer_open(path, schema, &opts, &err);
    if (w == NULL) {
        fprintf(stderr, "pq_gen: %s\n", err.msg);
        sd_schema_free(schema);
        return 1;
    }
    sd_batch batch;
    sd_batch_init(&batch, schema);
    sd_buf expected = SD_BUF_INIT;
    int rc = 0;
    for (int64_t row = 0; row < GEN_MULTI_ROWS && rc == 0; row++) {
        char name[48];
        /* Mostly distinct names (dictionary fallback) with a few repeats. */
        int len = snprintf(name, sizeof(name), "name-%lld", (long long)(row % 7 ? row : 7));
        sd_column_append_i64(&batch.cols[0], row);
        sd_buf_appendf(&expected, "{\"id\":%lld,\"name\":", (long long)row);
        if (row % 11 == 0) {
            sd_column_append_null(&batch.cols[1]);
            sd_buf_append_str(&expected, "null");
        } else {
            sd_column_append_bytes(&batch.cols[1], name, (size_t)len);
            gen_json_string(&expected, name, (size_t)len);
        }
        sd_buf_append_str(&expected, ",\"score\":");
        if (row % 13 == 0) {
            sd_column_append_null(&batch.cols[2]);
            sd_buf_append_str(&expected, "null");
        } else {
            sd_column_append_double(&batch.cols[2], (double)row * 0.5);
            gen_json_double(&expected, (double)row * 0.5, 17);
        }
        sd_buf_append_str(&expected, "}\n");
        if (++batch.nrows == GEN_MULTI_BATCH || row + 1 == GEN_MULTI_ROWS) {
            if (pq_writer_write(w, &batch, &err) != SD_OK) rc = 1;
            sd_batch_reset(&batch);
        }
    }
    if (rc == 0 && pq_writer_close(w, NULL, &err) != SD_OK)
        rc = 1;
    else if (rc != 0)
        pq_writer_abort(w);
    if (rc != 0) fprintf(stderr, "pq_gen: %s\n", err.msg);
    snprintf(path, sizeof(path), "%s/multi.expected.jsonl", dir);
    if (rc == 0) rc = gen_write_text(path, &expected);
    sd_buf_free(&expected);
    sd_batch_free(&batch);
    sd_schema_free(schema);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: pq_gen OUTDIR\n");
        return 2;
    }
    static const pq_codec codecs[] = {PQ_CODEC_SNAPPY, PQ_CODEC_ZSTD, PQ_CODEC_GZIP,
                                      PQ_CODEC_UNCOMPRESSED, PQ_CODEC_LZ4_RAW};
    int rc = 0;
    for (size_t c = 0; c < GEN_COUNT(codecs); c++)
        for (int nulls = GEN_NULLS_NONE; nulls <= GEN_NULLS_ALL; nulls++)
            for (int dict = 1; dict >= 0; dict--)
                rc |= gen_types_file(argv[1], codecs[c], (gen_nulls)nulls, dict != 0, 1);
    rc |= gen_types_file(argv[1], PQ_CODEC_SNAPPY, GEN_NULLS_SOME, true, 2);
    rc |= gen_nested_file(argv[1]);
    rc |= gen_multi_file(argv[1]);
    return rc ? 1 : 0;
}
