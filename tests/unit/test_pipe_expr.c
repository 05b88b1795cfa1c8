/*
 * test_pipe_expr.c - the derived-column expression language (pipe_expr.c,
 * pipe_eval.c): every grammar rule, precedence, Spark's null semantics and
 * numeric promotion, each function on edge values, every error message with
 * its offset, the movie-ratings derivations, and evaluation speed.
 */
#include <math.h>
#include <stdlib.h>

#include "pipeline/pipeline.h"
#include "unit.h"

/* ------------------------------------------------------------------------ */
/* A hand-built batch of five rows covering nulls and extremes              */
/* ------------------------------------------------------------------------ */

typedef struct fixture {
    sd_schema *schema;
    sd_batch batch;
} fixture;

static void fixture_init(fixture *fx) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "i", SD_INT32, true);
    sd_type_add_field(s, "l", SD_INT64, true);
    sd_type_add_field(s, "f", SD_FLOAT, true);
    sd_type_add_field(s, "d", SD_DOUBLE, true);
    sd_type_add_field(s, "s", SD_STRING, true);
    sd_type_add_field(s, "b", SD_BOOL, true);
    sd_type_add_field(s, "dt", SD_DATE, true);
    sd_type_add_field(s, "ts", SD_TIMESTAMP, true);
    sd_type_add_field(s, "odd name", SD_INT32, false);
    sd_type_add_field(s, "nest", SD_STRUCT, true);
    fx->schema = s;
    sd_batch_init(&fx->batch, s);
    sd_column *c = fx->batch.cols;
    int32_t iv[] = {1, -2, 0, INT32_MAX, 0};
    int64_t lv[] = {10, -86401, 0, INT64_MAX, INT64_MIN};
    float fv[] = {7.0f, 6.9f, NAN, 0, -0.5f};
    double dv[] = {2.675, -1.5, 0, 1e300, 0.0};
    const char *sv[] = {"Abc", "", NULL, "h\xc3\xa9llo", "12"};
    bool bv[] = {true, false, false, true, false};
    int32_t dtv[] = {0, -1, 0, 19000, 100};
    int64_t tsv[] = {0, -1, 0, INT64_C(1700000000000000), INT64_C(86400000000)};
    for (int r = 0; r < 5; r++) {
        r == 2 ? sd_column_append_null(&c[0]) : sd_column_append_i32(&c[0], iv[r]);
        sd_column_append_i64(&c[1], lv[r]);
        r == 3 ? sd_column_append_null(&c[2]) : sd_column_append_float(&c[2], fv[r]);
        r == 2 ? sd_column_append_null(&c[3]) : sd_column_append_double(&c[3], dv[r]);
        sv[r] == NULL ? sd_column_append_null(&c[4])
                      : sd_column_append_bytes(&c[4], sv[r], strlen(sv[r]));
        r == 2 ? sd_column_append_null(&c[5]) : sd_column_append_bool(&c[5], bv[r]);
        r == 2 ? sd_column_append_null(&c[6]) : sd_column_append_i32(&c[6], dtv[r]);
        r == 2 ? sd_column_append_null(&c[7]) : sd_column_append_i64(&c[7], tsv[r]);
        sd_column_append_i32(&c[8], r + 1);
        sd_column_append_null(&c[9]);
    }
    fx->batch.nrows = 5;
}

static void fixture_free(fixture *fx) {
    sd_batch_free(&fx->batch);
    sd_schema_free(fx->schema);
}

/* Evaluate `text` over the fixture and render every row, comma-separated
 * ("null" for nulls); kind receives the result kind. On a parse error the
 * result is "ERROR: <message>". */
static const char *eval_rows(const char *text, sd_type_kind *kind) {
    static char out[4096];
    fixture fx;
    fixture_init(&fx);
    sd_error err = {0};
    pipe_expr *e = pipe_expr_parse(text, fx.schema, &err);
    if (e == NULL) {
        snprintf(out, sizeof(out), "ERROR: %s", err.msg);
        fixture_free(&fx);
        return out;
    }
    if (kind) *kind = e->type.kind;
    sd_column col;
    if (pipe_expr_eval(e, &fx.batch, &col, &err) != SD_OK) {
        snprintf(out, sizeof(out), "EVAL ERROR: %s", err.msg);
    } else {
        sd_buf b = SD_BUF_INIT;
        for (size_t r = 0; r < col.len; r++) {
            if (r) sd_buf_append_byte(&b, ',');
            sd_value v = sd_column_get(&col, r);
            sd_format_value(&v, &b);
        }
        snprintf(out, sizeof(out), "%s", b.len ? sd_buf_cstr(&b) : "");
        sd_buf_free(&b);
        if (col.len != 5) snprintf(out, sizeof(out), "WRONG LENGTH %zu", col.len);
        sd_column_free(&col);
    }
    pipe_expr_free(e);
    fixture_free(&fx);
    return out;
}

/* The first row only (for constant expressions). */
static const char *eval1(const char *text) {
    static char first[1024];
    const char *all = eval_rows(text, NULL);
    if (strncmp(all, "ERROR", 5) == 0) return all;
    const char *comma = strchr(all, ',');
    size_t n = comma ? (size_t)(comma - all) : strlen(all);
    snprintf(first, sizeof(first), "%.*s", (int)n, all);
    return first;
}

static sd_type_kind kind_of(const char *text) {
    sd_type_kind k = SD_STRUCT;
    eval_rows(text, &k);
    return k;
}

/* ------------------------------------------------------------------------ */
/* Grammar                                                                   */
/* ------------------------------------------------------------------------ */

TEST(pipe_expr_literals) {
    CHECK_STR(eval1("42"), "42");
    CHECK_INT(kind_of("42"), SD_INT32);
    CHECK_INT(kind_of("2147483647"), SD_INT32);
    CHECK_INT(kind_of("2147483648"), SD_INT64);
    CHECK_INT(kind_of("-2147483648"), SD_INT32);
    CHECK_STR(eval1("-9223372036854775808"), "-9223372036854775808");
    CHECK_INT(kind_of("-9223372036854775808"), SD_INT64);
    CHECK_STR(eval1("9223372036854775807"), "9223372036854775807");
    CHECK_STR(eval1("1.5"), "1.5");
    CHECK_INT(kind_of("1.5"), SD_DOUBLE);
    CHECK_STR(eval1("1e3"), "1000");
    CHECK_STR(eval1(".25"), "0.25");
    CHECK_STR(eval1("2.5E-1"), "0.25");
    CHECK_STR(eval1("'it''s'"), "it's");
    CHECK_STR(eval1("''"), "");
    CHECK_STR(eval1("TRUE"), "true");
    CHECK_STR(eval1("false"), "false");
    CHECK_STR(eval1("cast(null as int)"), "null");
    CHECK_STR(eval1("DATE '2024-02-29'"), "2024-02-29");
    CHECK_INT(kind_of("date '2024-02-29'"), SD_DATE);
    CHECK_STR(eval1("TIMESTAMP '1970-01-01 00:00:01.5'"), "1970-01-01 00:00:01.500000");
    CHECK_INT(kind_of("TIMESTAMP '2024-01-01T10:00:00Z'"), SD_TIMESTAMP);
    /* a literal repeats for every row */
    CHECK_STR(eval_rows("7", NULL), "7,7,7,7,7");
    CHECK_STR(eval_rows("'x'", NULL), "x,x,x,x,x");
}

TEST(pipe_expr_columns_and_names) {
    CHECK_STR(eval_rows("i", NULL), "1,-2,null,2147483647,0");
    CHECK_STR(eval_rows("s", NULL), "Abc,,null,h\xc3\xa9llo,12");
    CHECK_STR(eval_rows("`odd name`", NULL), "1,2,3,4,5");
    CHECK_STR(eval_rows("`odd name` * 2", NULL), "2,4,6,8,10");
    CHECK_STR(eval_rows("I", NULL), "1,-2,null,2147483647,0"); /* case-insensitive fallback */
    CHECK_STR(eval_rows("  i\t+\n1 ", NULL), "2,-1,null,-2147483648,1");
    CHECK_STR(eval_rows("dt", NULL), "1970-01-01,1969-12-31,null,2022-01-08,1970-04-11");
}

TEST(pipe_expr_precedence) {
    CHECK_STR(eval1("1 + 2 * 3"), "7");
    CHECK_STR(eval1("(1 + 2) * 3"), "9");
    CHECK_STR(eval1("10 - 4 - 3"), "3"); /* left associative */
    CHECK_STR(eval1("16 / 4 / 2"), "2"); /* double division, left associative */
    CHECK_STR(eval1("7 % 4 * 2"), "6");
    CHECK_STR(eval1("-2 * 3"), "-6");
    CHECK_STR(eval1("- (2 + 3)"), "-5");
    CHECK_STR(eval1("--3"), "3");
    CHECK_STR(eval1("+3 - -3"), "6");
    CHECK_STR(eval1("1 + 1 = 2"), "true");
    CHECK_STR(eval1("not 1 = 2"), "true");
    CHECK_STR(eval1("NOT true AND false"), "false");
    CHECK_STR(eval1("not (true and false)"), "true");
    CHECK_STR(eval1("true or true and false"), "true");
    CHECK_STR(eval1("(true or true) and false"), "false");
    CHECK_STR(eval1("false and false or true"), "true");
    CHECK_STR(eval1("not not true"), "true");
    CHECK_STR(eval1("1 < 2 = true"), "true"); /* comparisons chain left to right */
    CHECK_STR(eval1("1 + 2 is null"), "false");
    CHECK_STR(eval1("2 * 3 > 5 and 1 <> 2 or false"), "true");
}

TEST(pipe_expr_comparisons) {
    CHECK_STR(eval_rows("i = 1", NULL), "true,false,null,false,false");
    CHECK_STR(eval_rows("i == 1", NULL), "true,false,null,false,false");
    CHECK_STR(eval_rows("i != 1", NULL), "false,true,null,true,true");
    CHECK_STR(eval_rows("i <> 1", NULL), "false,true,null,true,true");
    CHECK_STR(eval_rows("i < 0", NULL), "false,true,null,false,false");
    CHECK_STR(eval_rows("i <= 0", NULL), "false,true,null,false,true");
    CHECK_STR(eval_rows("i > 0", NULL), "true,false,null,true,false");
    CHECK_STR(eval_rows("i >= 1", NULL), "true,false,null,true,false");
    CHECK_STR(eval_rows("0 < i", NULL), "true,false,null,true,false");
    /* NaN is equal to NaN and above every number (Spark) */
    CHECK_STR(eval_rows("f > 1000000", NULL), "false,false,true,null,false");
    CHECK_STR(eval_rows("f = cast('NaN' as float)", NULL), "false,false,true,null,false");
    CHECK_STR(eval_rows("f < cast('NaN' as double)", NULL), "true,true,false,null,true");
    CHECK_STR(eval_rows("s < 'B'", NULL), "true,true,null,false,true");
    CHECK_STR(eval_rows("s = ''", NULL), "false,true,null,false,false");
    CHECK_STR(eval_rows("s >= 'h'", NULL), "false,false,null,true,false");
    CHECK_STR(eval_rows("b = true", NULL), "true,false,null,true,false");
    CHECK_STR(eval_rows("b > false", NULL), "true,false,null,true,false");
    CHECK_STR(eval_rows("dt >= DATE '1970-01-01'", NULL), "true,false,null,true,true");
    CHECK_STR(eval_rows("dt < '1970-02-01'", NULL), "true,true,null,false,false");
    CHECK_STR(eval_rows("ts >= dt", NULL), "true,true,null,true,false");
    CHECK_STR(eval_rows("ts = TIMESTAMP '1970-01-02 00:00:00'", NULL),
              "false,false,null,false,true");
    CHECK_STR(eval_rows("l > i", NULL), "true,false,null,true,false");
}

TEST(pipe_expr_null_semantics) {
    CHECK_STR(eval_rows("i + null", NULL), "null,null,null,null,null");
    CHECK_STR(eval_rows("null = null", NULL), "null,null,null,null,null");
    CHECK_STR(eval_rows("i > null", NULL), "null,null,null,null,null");
    CHECK_STR(eval_rows("b and null", NULL), "null,false,null,null,false");
    CHECK_STR(eval_rows("null and b", NULL), "null,false,null,null,false");
    CHECK_STR(eval_rows("b or null", NULL), "true,null,null,true,null");
    CHECK_STR(eval_rows("null or b", NULL), "true,null,null,true,null");
    CHECK_STR(eval_rows("b and true", NULL), "true,false,null,true,false");
    CHECK_STR(eval_rows("b or false", NULL), "true,false,null,true,false");
    CHECK_STR(eval_rows("b and b", NULL), "true,false,null,true,false");
    CHECK_STR(eval_rows("not b", NULL), "false,true,null,false,true");
    CHECK_STR(eval1("null and false"), "false");
    CHECK_STR(eval1("null or true"), "true");
    CHECK_STR(eval1("not null"), "null");
    CHECK_STR(eval_rows("i is null", NULL), "false,false,true,false,false");
    CHECK_STR(eval_rows("s is not null", NULL), "true,true,false,true,true");
    CHECK_STR(eval_rows("i + 1 is null", NULL), "false,false,true,false,false");
    CHECK_STR(eval1("null is null"), "true");
    CHECK_STR(eval_rows("-i", NULL), "-1,2,null,-2147483647,0");
}

TEST(pipe_expr_promotion_and_arithmetic) {
    CHECK_INT(kind_of("i + i"), SD_INT32);
    CHECK_INT(kind_of("i + l"), SD_INT64);
    CHECK_INT(kind_of("l + f"), SD_FLOAT);
    CHECK_INT(kind_of("f * 2"), SD_FLOAT);
    CHECK_INT(kind_of("f + d"), SD_DOUBLE);
    CHECK_INT(kind_of("i * 1.5"), SD_DOUBLE);
    CHECK_INT(kind_of("i / i"), SD_DOUBLE);
    CHECK_INT(kind_of("l % i"), SD_INT64);
    CHECK_INT(kind_of("dt + 1"), SD_DATE);
    CHECK_STR(eval_rows("i + l", NULL), "11,-86403,null,-9223372034707292162,-9223372036854775808");
    CHECK_STR(eval_rows("i / 2", NULL), "0.5,-1,null,1073741823.5,0");
    CHECK_STR(eval_rows("i % 2", NULL), "1,0,null,1,0");
    CHECK_STR(eval_rows("-7 % i", NULL), "0,-1,null,-7,null"); /* sign of the dividend */
    CHECK_STR(eval_rows("i * 2", NULL), "2,-4,null,-2,0");     /* wraps */
    CHECK_STR(eval_rows("i + 1", NULL), "2,-1,null,-2147483648,1");
    CHECK_STR(eval_rows("l + 1", NULL), "11,-86400,1,-9223372036854775808,-9223372036854775807");
    CHECK_STR(eval_rows("l - 1", NULL), "9,-86402,-1,9223372036854775806,9223372036854775807");
    CHECK_STR(eval_rows("-l", NULL), "-10,86401,0,-9223372036854775807,-9223372036854775808");
    /* float - double is double (Spark): 6.9f widened shows its float error */
    CHECK_STR(eval_rows("f - 0.5", NULL), "6.5,6.400000095367432,NaN,null,-1");
    CHECK_STR(eval_rows("d * 2", NULL), "5.35,-3,null,2e+300,0");
    CHECK_STR(eval_rows("f % 2", NULL), "1,0.9000001,NaN,null,-0.5");
    CHECK_STR(eval_rows("dt + 1", NULL), "1970-01-02,1970-01-01,null,2022-01-09,1970-04-12");
    CHECK_STR(eval_rows("1 + dt", NULL), "1970-01-02,1970-01-01,null,2022-01-09,1970-04-12");
    CHECK_STR(eval_rows("dt - 365", NULL), "1969-01-01,1968-12-31,null,2021-01-08,1969-04-11");
}

TEST(pipe_expr_division_by_zero) {
    CHECK_STR(eval_rows("i / 0", NULL), "null,null,null,null,null");
    CHECK_STR(eval_rows("i % 0", NULL), "null,null,null,null,null");
    CHECK_STR(eval_rows("d / 0.0", NULL), "null,null,null,null,null");
    CHECK_STR(eval_rows("1 / i", NULL), "1,-0.5,null,4.656612875245797e-10,null");
    CHECK_STR(eval_rows("l % i", NULL), "0,-1,null,1,null");
    CHECK_STR(eval_rows("l % -1", NULL), "0,0,0,0,0"); /* INT64_MIN % -1 is no crash */
    CHECK_STR(eval_rows("f % 0", NULL), "null,null,null,null,null");
}

/* ------------------------------------------------------------------------ */
/* Functions                                                                 */
/* ------------------------------------------------------------------------ */

TEST(pipe_expr_to_date) {
    CHECK_STR(eval_rows("to_date(l)", NULL), "1970-01-01,1969-12-30,1970-01-01,null,null");
    CHECK_STR(eval1("to_date(-1)"), "1969-12-31");
    CHECK_STR(eval1("to_date(86399)"), "1970-01-01");
    CHECK_STR(eval1("to_date(86400)"), "1970-01-02");
    CHECK_STR(eval1("to_date(-86400)"), "1969-12-31");
    CHECK_STR(eval1("to_date(-86401)"), "1969-12-30");
    CHECK_STR(eval1("to_date(1700000000)"), "2023-11-14");
    CHECK_STR(eval1("to_date(-62135596800)"), "0001-01-01");
    CHECK_STR(eval1("to_date(185542587100799)"), "5881580-07-10"); /* the last day of int32 */
    CHECK_STR(eval1("to_date(185542587187200)"), "null");
    CHECK_STR(eval1("to_date(-1.5)"), "1969-12-31");
    CHECK_STR(eval1("to_date(cast('NaN' as double))"), "null");
    CHECK_STR(eval_rows("to_date(ts)", NULL), "1970-01-01,1969-12-31,null,2023-11-14,1970-01-02");
    CHECK_STR(eval1("to_date('2024-03-01')"), "2024-03-01");
    CHECK_STR(eval1("to_date('2024-03-01 23:59:59')"), "2024-03-01");
    CHECK_STR(eval1("to_date('soon')"), "null");
    CHECK_STR(eval_rows("to_date(i)", NULL), "1970-01-01,1969-12-31,null,2038-01-19,1970-01-01");
    CHECK_STR(eval1("to_date(null)"), "null");
    CHECK_INT(kind_of("to_date(l)"), SD_DATE);
}

TEST(pipe_expr_from_unixtime) {
    CHECK_STR(eval_rows("from_unixtime(l)", NULL),
              "1970-01-01 00:00:10,1969-12-30 23:59:59,1970-01-01 00:00:00,null,null");
    CHECK_INT(kind_of("from_unixtime(l)"), SD_TIMESTAMP);
    CHECK_STR(eval1("from_unixtime(9223372036854)"), "294247-01-10 04:00:54");
    CHECK_STR(eval1("from_unixtime(9223372036855)"), "null"); /* micros overflow */
    CHECK_STR(eval1("from_unixtime(1.25)"), "1970-01-01 00:00:01.250000");
    CHECK_STR(eval1("from_unixtime(-0.5)"), "1969-12-31 23:59:59.500000");
    CHECK_STR(eval1("to_timestamp_millis(1500)"), "1970-01-01 00:00:01.500000");
    CHECK_STR(eval1("to_timestamp_millis(-1)"), "1969-12-31 23:59:59.999000");
    CHECK_STR(eval1("to_timestamp_millis(9223372036854775807)"), "null");
    CHECK_STR(eval_rows("to_timestamp_millis(i)", NULL),
              "1970-01-01 00:00:00.001000,1969-12-31 23:59:59.998000,null,1970-01-25 "
              "20:31:23.647000,1970-01-01 00:00:00");
}

TEST(pipe_expr_cast) {
    CHECK_STR(eval_rows("cast(s as int)", NULL), "null,null,null,null,12");
    CHECK_STR(eval1("cast(' 7 ' as long)"), "7");
    CHECK_STR(eval1("cast('1.9' as int)"), "1");
    CHECK_STR(eval1("cast('-1.9' as integer)"), "-1");
    CHECK_STR(eval1("cast('2147483648' as int)"), "null");
    CHECK_STR(eval1("cast('2147483648' as bigint)"), "2147483648");
    CHECK_STR(eval1("cast('1e3' as double)"), "1000");
    CHECK_STR(eval1("cast('x' as double)"), "null");
    CHECK_STR(eval1("cast(3.99 as int)"), "3");
    CHECK_STR(eval1("cast(-3.99 as int)"), "-3");
    CHECK_STR(eval1("cast(1e20 as int)"), "2147483647");
    CHECK_STR(eval1("cast(-1e20 as long)"), "-9223372036854775808");
    CHECK_STR(eval1("cast(cast('NaN' as double) as int)"), "0");
    CHECK_STR(eval1("cast(4294967297 as int)"), "1"); /* long to int keeps the low bits */
    CHECK_STR(eval_rows("cast(i as string)", NULL), "1,-2,null,2147483647,0");
    CHECK_STR(eval_rows("cast(b as int)", NULL), "1,0,null,1,0");
    CHECK_STR(eval_rows("cast(i as boolean)", NULL), "true,true,null,true,false");
    CHECK_STR(eval1("cast('yes' as boolean)"), "true");
    CHECK_STR(eval1("cast(' F ' as bool)"), "false");
    CHECK_STR(eval1("cast('maybe' as boolean)"), "null");
    CHECK_STR(eval1("cast('2024-01-05' as date)"), "2024-01-05");
    CHECK_STR(eval1("cast('2024-02-30' as date)"), "null");
    CHECK_STR(eval_rows("cast(ts as long)", NULL), "0,-1,null,1700000000,86400");
    CHECK_STR(eval_rows("cast(ts as double)", NULL), "0,-1e-06,null,1700000000,86400");
    CHECK_STR(
        eval_rows("cast(dt as timestamp)", NULL),
        "1970-01-01 00:00:00,1969-12-31 00:00:00,null,2022-01-08 00:00:00,1970-04-11 00:00:00");
    CHECK_STR(eval1("cast(1 as timestamp)"), "1970-01-01 00:00:01");
    /* found by fuzz_expr: a date too far for microseconds in int64 */
    CHECK_STR(eval1("cast(DATE '2024-01-01' - 2147483647 as timestamp)"), "null");
    CHECK_STR(eval1("cast(DATE '2024-01-01' + 100000000 as timestamp)"), "275814-09-14 00:00:00");
    CHECK_STR(eval1("cast(1.5 as timestamp)"), "1970-01-01 00:00:01.500000");
    CHECK_STR(eval1("cast(9223372036854775807 as timestamp)"), "294247-01-10 04:00:54.775807");
    CHECK_STR(eval_rows("cast(ts as date)", NULL),
              "1970-01-01,1969-12-31,null,2023-11-14,1970-01-02");
    CHECK_STR(eval_rows("cast(ts as string)", NULL),
              "1970-01-01 00:00:00,1969-12-31 23:59:59.999999,null,2023-11-14 22:13:20,1970-01-02 "
              "00:00:00");
    CHECK_STR(eval_rows("cast(f as string)", NULL), "7,6.9,NaN,null,-0.5");
    CHECK_STR(eval_rows("cast(b as string)", NULL), "true,false,null,true,false");
    CHECK_STR(eval1("cast('2024-01-05 10:00:00' as timestamp)"), "2024-01-05 10:00:00");
    CHECK_STR(eval1("cast('2024-01-05' as timestamp)"), "2024-01-05 00:00:00");
    CHECK_INT(kind_of("cast(i as float)"), SD_FLOAT);
    CHECK_INT(kind_of("cast(i as real)"), SD_FLOAT);
    CHECK_INT(kind_of("cast(i as double)"), SD_DOUBLE);
}

TEST(pipe_expr_coalesce_and_strings) {
    CHECK_STR(eval_rows("coalesce(i, 0)", NULL), "1,-2,0,2147483647,0");
    CHECK_INT(kind_of("coalesce(i, l)"), SD_INT64);
    CHECK_STR(eval_rows("coalesce(null, s, 'x')", NULL), "Abc,,x,h\xc3\xa9llo,12");
    CHECK_STR(eval_rows("coalesce(i)", NULL), "1,-2,null,2147483647,0");
    CHECK_STR(
        eval_rows("coalesce(dt, ts)", NULL),
        "1970-01-01 00:00:00,1969-12-31 00:00:00,null,2022-01-08 00:00:00,1970-04-11 00:00:00");
    CHECK_STR(eval1("coalesce(null, null, 3)"), "3");
    CHECK_STR(eval_rows("lower(s)", NULL), "abc,,null,h\xc3\xa9llo,12");
    CHECK_STR(eval_rows("UPPER(s)", NULL), "ABC,,null,H\xc3\xa9LLO,12");
    CHECK_STR(eval_rows("length(s)", NULL), "3,0,null,5,2");
    CHECK_INT(kind_of("length(s)"), SD_INT32);
    CHECK_STR(eval1("length('')"), "0");
}

TEST(pipe_expr_abs_floor_round) {
    CHECK_STR(eval_rows("abs(i)", NULL), "1,2,null,2147483647,0");
    CHECK_STR(eval1("abs(-2147483648)"), "-2147483648"); /* wraps, as Spark */
    CHECK_STR(eval_rows("abs(l)", NULL), "10,86401,0,9223372036854775807,-9223372036854775808");
    CHECK_STR(eval_rows("abs(f)", NULL), "7,6.9,NaN,null,0.5");
    CHECK_STR(eval_rows("floor(d)", NULL), "2,-2,null,9223372036854775807,0");
    CHECK_INT(kind_of("floor(d)"), SD_INT64);
    CHECK_INT(kind_of("floor(i)"), SD_INT64);
    CHECK_STR(eval1("floor(-0.5)"), "-1");
    CHECK_STR(eval1("floor(cast('NaN' as double))"), "0");
    CHECK_STR(eval_rows("round(d, 2)", NULL), "2.68,-1.5,null,1e+300,0");
    CHECK_STR(eval_rows("round(d)", NULL), "3,-2,null,1e+300,0");
    CHECK_STR(eval1("round(2.5)"), "3");
    CHECK_STR(eval1("round(-2.5)"), "-3");
    CHECK_STR(eval1("round(0.000123456, 5)"), "0.00012");
    CHECK_STR(eval1("round(1.5e-7, 7)"), "2e-07");
    CHECK_STR(eval1("round(123.456, -1)"), "120");
    CHECK_STR(eval1("round(0.4, 0)"), "0");
    CHECK_STR(eval1("round(9.99, 1)"), "10");
    CHECK_STR(eval1("round(1234, -2)"), "1200");
    CHECK_STR(eval1("round(1250, -2)"), "1300");
    CHECK_STR(eval1("round(-1250, -2)"), "-1300");
    CHECK_STR(eval1("round(1250, 2)"), "1250");
    CHECK_STR(eval1("round(2147483647, -10)"), "0");
    CHECK_STR(eval1("round(9223372036854775807, -18)"), "9000000000000000000");
    CHECK_STR(eval_rows("round(f, 0)", NULL), "7,7,NaN,null,-1");
    CHECK_INT(kind_of("round(f, 1)"), SD_FLOAT);
    CHECK_INT(kind_of("round(l, -1)"), SD_INT64);
}

/* ------------------------------------------------------------------------ */
/* Errors: each names the expression and the offset                         */
/* ------------------------------------------------------------------------ */

static const char *parse_error(const char *text) {
    static char msg[SD_ERROR_MSG_MAX];
    fixture fx;
    fixture_init(&fx);
    sd_error err = {0};
    pipe_expr *e = pipe_expr_parse(text, fx.schema, &err);
    snprintf(msg, sizeof(msg), "%s", e == NULL ? err.msg : "(parsed)");
    if (e == NULL && err.code != SD_ERR_ARG) snprintf(msg, sizeof(msg), "wrong code %d", err.code);
    pipe_expr_free(e);
    fixture_free(&fx);
    return msg;
}

TEST(pipe_expr_error_messages) {
    CHECK_STR(
        parse_error("i >= x"),
        "expression 'i >= x', offset 5: unknown column 'x' (columns: i, l, f, d, s, b, dt, ts, "
        "odd name, nest)");
    CHECK_STR(parse_error("s + 1"),
              "expression 's + 1', offset 2: operator '+' needs numbers, got string and integer");
    CHECK_STR(parse_error("s = 1"),
              "expression 's = 1', offset 2: cannot compare string with integer using '='");
    CHECK_STR(parse_error("foo(1)"), "expression 'foo(1)', offset 0: unknown function 'foo'");
    CHECK_STR(parse_error("1 + 12abc"), "expression '1 + 12abc', offset 4: bad literal '12abc'");
    CHECK_STR(parse_error("99999999999999999999"),
              "expression '99999999999999999999', offset 0: bad literal '99999999999999999999': "
              "integer out of the range of long");
    CHECK_STR(parse_error("1e999"),
              "expression '1e999', offset 0: bad literal '1e999': out of the range of double");
    CHECK_STR(parse_error("DATE '2024-13-01'"),
              "expression 'DATE '2024-13-01'', offset 5: bad literal: DATE '2024-13-01' is not "
              "YYYY-MM-DD");
    CHECK_STR(parse_error("TIMESTAMP 'noon'"),
              "expression 'TIMESTAMP 'noon'', offset 10: bad literal: TIMESTAMP 'noon' is not "
              "YYYY-MM-DD HH:MM:SS[.ffffff]");
    CHECK_STR(parse_error("1 +"),
              "expression '1 +', offset 3: expected an expression, found end of expression");
    CHECK_STR(parse_error("(1 + 2"),
              "expression '(1 + 2', offset 6: expected ')', found end of expression");
    CHECK_STR(parse_error("1 2"),
              "expression '1 2', offset 2: unexpected '2' after the expression");
    CHECK_STR(parse_error("i @ 2"),
              "expression 'i @ 2', offset 2: unexpected '@' after the expression");
    CHECK_STR(parse_error("'abc"), "expression ''abc', offset 0: unterminated string literal");
    CHECK_STR(parse_error("`abc"), "expression '`abc', offset 0: unterminated quoted name");
    CHECK_STR(parse_error("i is 5"),
              "expression 'i is 5', offset 5: expected NULL or NOT NULL after IS, found '5'");
    CHECK_STR(parse_error("not 5"),
              "expression 'not 5', offset 4: NOT needs a boolean, got integer");
    CHECK_STR(parse_error("i and b"),
              "expression 'i and b', offset 0: AND needs boolean operands, got integer");
    CHECK_STR(parse_error("b or s"),
              "expression 'b or s', offset 5: OR needs boolean operands, got string");
    CHECK_STR(parse_error("-s"), "expression '-s', offset 0: unary '-' needs a number, got string");
    CHECK_STR(parse_error("to_date(l, 1)"),
              "expression 'to_date(l, 1)', offset 11: to_date takes at most 1 argument");
    CHECK_STR(parse_error("coalesce()"),
              "expression 'coalesce()', offset 0: coalesce needs 1 argument, got 0");
    CHECK_STR(parse_error("coalesce(i, s)"),
              "expression 'coalesce(i, s)', offset 12: coalesce arguments must have one type, got "
              "integer and string");
    CHECK_STR(parse_error("to_date(b)"),
              "expression 'to_date(b)', offset 8: to_date does not accept boolean");
    CHECK_STR(parse_error("lower(i)"),
              "expression 'lower(i)', offset 6: lower does not accept integer");
    CHECK_STR(parse_error("round(d, i)"),
              "expression 'round(d, i)', offset 9: round digits must be an integer literal between "
              "-1000 and 1000");
    CHECK_STR(parse_error("cast(dt as int)"),
              "expression 'cast(dt as int)', offset 0: cannot cast date to integer");
    CHECK_STR(
        parse_error("cast(i as money)"),
        "expression 'cast(i as money)', offset 10: expected a type (int, long, float, double, "
        "string, date, timestamp, boolean), found 'money'");
    CHECK_STR(parse_error("cast(i, int)"),
              "expression 'cast(i, int)', offset 6: expected AS, found ','");
    CHECK_STR(parse_error("null"),
              "expression 'null', offset 0: NULL alone has no type; write cast(null as <type>)");
    CHECK_STR(parse_error("and"),
              "expression 'and', offset 0: expected an expression, found keyword 'and' (quote a "
              "column of that name with backquotes)");
    CHECK_STR(
        parse_error("nest"),
        "expression 'nest', offset 0: column 'nest' is a struct; only primitive columns can be "
        "used");
    CHECK_STR(parse_error(""),
              "expression '', offset 0: expected an expression, found end of expression");
    CHECK_STR(parse_error("dt * 2"),
              "expression 'dt * 2', offset 3: operator '*' needs numbers, got date and integer");
    CHECK_STR(parse_error("ts = b"),
              "expression 'ts = b', offset 3: cannot compare timestamp with boolean using '='");
    char deep[200];
    memset(deep, '(', 100);
    strcpy(deep + 100, "1");
    CHECK(strstr(parse_error(deep), "nesting deeper than 64") != NULL);
    /* a long chain stays within the node budget or is refused cleanly */
    sd_buf chain = SD_BUF_INIT;
    sd_buf_append_str(&chain, "i");
    for (int k = 0; k < 1200; k++) sd_buf_append_str(&chain, " + i");
    CHECK(strstr(parse_error(sd_buf_cstr(&chain)), "more than 1000 parts") != NULL);
    sd_buf_free(&chain);
}

TEST(pipe_expr_folding) {
    fixture fx;
    fixture_init(&fx);
    sd_error err = {0};
    pipe_expr *e = pipe_expr_parse("1 + 2 * 3", fx.schema, &err);
    CHECK(e != NULL && e->op == PIPE_EXPR_LITERAL && e->value.u.i == 7);
    pipe_expr_free(e);
    e = pipe_expr_parse("f >= 7", fx.schema, &err);
    /* the int literal is promoted once, at parse time, to a float literal */
    CHECK(e != NULL && e->op == PIPE_EXPR_GE && e->args[1]->op == PIPE_EXPR_LITERAL &&
          e->args[1]->type.kind == SD_FLOAT);
    pipe_expr_free(e);
    e = pipe_expr_parse("i + l", fx.schema, &err);
    CHECK(e != NULL && e->args[0]->op == PIPE_EXPR_CAST && e->args[0]->type.kind == SD_INT64);
    pipe_expr_free(e);
    fixture_free(&fx);
}

TEST(pipe_expr_batch_mismatch) {
    fixture fx;
    fixture_init(&fx);
    sd_error err = {0};
    pipe_expr *e = pipe_expr_parse("s = 'x'", fx.schema, &err);
    CHECK(e != NULL);
    sd_schema *other = sd_schema_new();
    sd_type_add_field(other, "a", SD_INT32, true);
    sd_batch b;
    sd_batch_init(&b, other);
    sd_column out;
    CHECK_INT(pipe_expr_eval(e, &b, &out, &err), SD_ERR_ARG);
    CHECK_STR(err.msg, "expression uses column 4 but the batch has 1 columns");
    sd_batch_free(&b);
    sd_schema_free(other);
    pipe_expr_free(e);
    fixture_free(&fx);
}

/* ------------------------------------------------------------------------ */
/* The movie-ratings derivations (DESIGN.md)                                 */
/* ------------------------------------------------------------------------ */

static sd_schema *movie_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "event_id", SD_STRING, false);
    sd_type_add_field(s, "user_id", SD_STRING, false);
    sd_type_add_field(s, "movie_id", SD_STRING, false);
    sd_type_add_field(s, "rating", SD_FLOAT, false);
    sd_type_add_field(s, "rating_timestamp", SD_INT64, false);
    return s;
}

TEST(pipe_expr_movie_derivations) {
    sd_schema *s = movie_schema();
    sd_batch b;
    sd_batch_init(&b, s);
    const float ratings[] = {7.0f, 6.9f, 10.0f, 0.0f, 6.99999f, 7.1f};
    const int64_t ts[] = {1700000000, 86399, 86400, -1, 0, 1709251199};
    const char *dates[] = {"2023-11-14", "1970-01-01", "1970-01-02",
                           "1969-12-31", "1970-01-01", "2024-02-29"};
    for (int r = 0; r < 6; r++) {
        for (int c = 0; c < 3; c++) sd_column_append_bytes(&b.cols[c], "id", 2);
        sd_column_append_float(&b.cols[3], ratings[r]);
        sd_column_append_i64(&b.cols[4], ts[r]);
    }
    b.nrows = 6;
    sd_error err = {0};
    pipe_expr *approved = pipe_expr_parse("rating >= 7", s, &err);
    pipe_expr *date = pipe_expr_parse("to_date(rating_timestamp)", s, &err);
    CHECK(approved != NULL && date != NULL);
    CHECK_INT(approved->type.kind, SD_BOOL);
    CHECK_INT(date->type.kind, SD_DATE);
    sd_column ca, cd;
    CHECK_OK(pipe_expr_eval(approved, &b, &ca, &err), &err);
    CHECK_OK(pipe_expr_eval(date, &b, &cd, &err), &err);
    CHECK(ca.valid == NULL && cd.valid == NULL); /* no nulls in, none out */
    for (int r = 0; r < 6; r++) {
        CHECK_INT(((uint8_t *)ca.values)[r], ratings[r] >= 7.0f);
        sd_buf t = SD_BUF_INIT;
        sd_format_date(((int32_t *)cd.values)[r], &t);
        CHECK_STR(sd_buf_cstr(&t), dates[r]);
        sd_buf_free(&t);
    }
    sd_column_free(&ca);
    sd_column_free(&cd);
    pipe_expr_free(approved);
    pipe_expr_free(date);
    sd_batch_free(&b);
    sd_schema_free(s);
}

/* `rating >= 7` and `to_date(rating_timestamp)` over 1M rows: a few
 * milliseconds in an optimised build (bounds leave room for a loaded
 * machine and sanitizers). */
TEST(pipe_expr_speed_1m) {
    sd_schema *s = movie_schema();
    sd_batch b;
    sd_batch_init(&b, s);
    const size_t n = 1000000;
    sd_column_reserve(&b.cols[3], n);
    sd_column_reserve(&b.cols[4], n);
    for (size_t r = 0; r < n; r++) {
        ((float *)b.cols[3].values)[r] = (float)(r % 101) / 10.0f;
        ((int64_t *)b.cols[4].values)[r] = 1700000000 + (int64_t)r * 37;
    }
    b.cols[3].len = b.cols[4].len = n;
    for (int c = 0; c < 3; c++) {
        sd_column_reserve(&b.cols[c], n);
        for (size_t r = 0; r <= n; r++) b.cols[c].offsets[r] = 0;
        b.cols[c].len = n;
    }
    b.nrows = n;
    sd_error err = {0};
    pipe_expr *approved = pipe_expr_parse("rating >= 7", s, &err);
    pipe_expr *date = pipe_expr_parse("to_date(rating_timestamp)", s, &err);
    sd_column ca, cd;
    int64_t t0 = sd_now_ns();
    CHECK_OK(pipe_expr_eval(approved, &b, &ca, &err), &err);
    int64_t t1 = sd_now_ns();
    CHECK_OK(pipe_expr_eval(date, &b, &cd, &err), &err);
    int64_t t2 = sd_now_ns();
    fprintf(stderr, "  rating >= 7: %.2f ms, to_date: %.2f ms (1M rows)\n", (t1 - t0) / 1e6,
            (t2 - t1) / 1e6);
#if defined(__SANITIZE_ADDRESS__)
    const int64_t limit_ns = 2000000000;
#else
    const int64_t limit_ns = 200000000;
#endif
    CHECK(t1 - t0 < limit_ns);
    CHECK(t2 - t1 < limit_ns);
    size_t approved_count = 0;
    for (size_t r = 0; r < n; r++) approved_count += ((uint8_t *)ca.values)[r];
    size_t expect = 0;
    for (size_t r = 0; r < n; r++) expect += (float)(r % 101) / 10.0f >= 7.0f;
    CHECK_INT(approved_count, expect);
    CHECK_INT(((int32_t *)cd.values)[n - 1], (1700000000 + (int64_t)(n - 1) * 37) / 86400);
    sd_column_free(&ca);
    sd_column_free(&cd);
    pipe_expr_free(approved);
    pipe_expr_free(date);
    sd_batch_free(&b);
    sd_schema_free(s);
}

/* Kinds the decoder can produce beyond the common ones: byte, decimal,
 * timestamp without time zone, binary. */
TEST(pipe_expr_other_column_kinds) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "tiny", SD_INT8, true);
    sd_field *dec = sd_type_add_field(s, "price", SD_DECIMAL, true);
    dec->type.precision = 10;
    dec->type.scale = 2;
    sd_type_add_field(s, "local", SD_TIMESTAMP_NTZ, true);
    sd_type_add_field(s, "raw", SD_BINARY, true);
    sd_batch b;
    sd_batch_init(&b, s);
    sd_column_append_i32(&b.cols[0], -128);
    sd_column_append_i32(&b.cols[0], 127);
    sd_column_append_decimal(&b.cols[1], 12345); /* 123.45 */
    sd_column_append_null(&b.cols[1]);
    sd_column_append_i64(&b.cols[2], INT64_C(86400000000));
    sd_column_append_i64(&b.cols[2], -1);
    sd_column_append_bytes(&b.cols[3], "\x01\xff", 2);
    sd_column_append_bytes(&b.cols[3], "", 0);
    b.nrows = 2;
    const struct {
        const char *expr;
        const char *rows;
        sd_type_kind kind;
    } cases[] = {
        {"tiny + tiny", "-256,254", SD_INT32},
        {"tiny", "-128,127", SD_INT8},
        {"price > 100", "true,null", SD_BOOL},
        {"price * 2", "246.9,null", SD_DOUBLE},
        {"cast(price as int)", "123,null", SD_INT32},
        {"cast(price as string)", "123.45,null", SD_STRING},
        {"price", "123.45,null", SD_DECIMAL},
        {"to_date(local)", "1970-01-02,1969-12-31", SD_DATE},
        {"local > DATE '1970-01-01'", "true,false", SD_BOOL},
        {"length(raw)", "2,0", SD_INT32},
        {"cast(raw as string) = ''", "false,true", SD_BOOL},
        {"raw", "01ff,", SD_BINARY},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        sd_error err = {0};
        pipe_expr *e = pipe_expr_parse(cases[k].expr, s, &err);
        if (e == NULL) {
            unit_fail(__FILE__, __LINE__, "%s: %s", cases[k].expr, err.msg);
            continue;
        }
        CHECK_INT(e->type.kind, cases[k].kind);
        sd_column c;
        CHECK_OK(pipe_expr_eval(e, &b, &c, &err), &err);
        sd_buf t = SD_BUF_INIT;
        for (size_t r = 0; r < c.len; r++) {
            if (r) sd_buf_append_byte(&t, ',');
            sd_value v = sd_column_get(&c, r);
            sd_format_value(&v, &t);
        }
        if (strcmp(sd_buf_cstr(&t), cases[k].rows) != 0)
            unit_fail(__FILE__, __LINE__, "%s gave %s, expected %s", cases[k].expr, t.data,
                      cases[k].rows);
        sd_buf_free(&t);
        sd_column_free(&c);
        pipe_expr_free(e);
    }
    sd_batch_free(&b);
    sd_schema_free(s);
}
