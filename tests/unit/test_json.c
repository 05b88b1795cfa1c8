/*
 * test_json.c - the JSON parser and writer (sd_json.c): values, escapes,
 * nesting, exact numbers, errors with byte offsets, truncations.
 */
#include <math.h>
#include <stdlib.h>

#include "unit.h"

static sd_json *parse(const char *s, sd_error *err) {
    sd_error_clear(err);
    return sd_json_parse(s, strlen(s), err);
}

/* Parse `s`, expect failure whose message contains `needle`. */
static void expect_error(const char *s, const char *needle, int line) {
    sd_error err = {0};
    sd_json *j = parse(s, &err);
    if (j != NULL) {
        unit_fail(__FILE__, line, "parsing '%s' succeeded, expected an error", s);
        sd_json_free(j);
        return;
    }
    if (err.code != SD_ERR_JSON) unit_fail(__FILE__, line, "code %d, expected JSON", err.code);
    if (strstr(err.msg, needle) == NULL)
        unit_fail(__FILE__, line, "error '%s' does not contain '%s'", err.msg, needle);
}
#define EXPECT_ERROR(s, needle) expect_error(s, needle, __LINE__)

static const char *roundtrip(sd_buf *b, const sd_json *j) {
    sd_buf_reset(b);
    sd_json_append(b, j);
    return sd_buf_cstr(b);
}

TEST(json_scalar_values) {
    sd_error err = {0};
    sd_json *j = parse("  true ", &err);
    bool bv = false;
    CHECK(j != NULL && sd_json_as_bool(j, &bv) && bv);
    sd_json_free(j);
    j = parse("false", &err);
    CHECK(j != NULL && j->kind == SD_JSON_BOOL && !j->boolean);
    sd_json_free(j);
    j = parse("null", &err);
    CHECK(j != NULL && j->kind == SD_JSON_NULL);
    CHECK(!sd_json_as_bool(j, &bv));
    sd_json_free(j);
    j = parse("\"abc\"", &err);
    CHECK_STR(sd_json_as_string(j), "abc");
    CHECK_INT(j->text_len, 3);
    sd_json_free(j);
    j = parse("-12.5e1", &err);
    double d = 0;
    CHECK(sd_json_as_double(j, &d) && d == -125.0);
    CHECK_STR(j->text, "-12.5e1");
    int64_t i = 0;
    CHECK(sd_json_as_int64(j, &i) && i == -125);
    sd_json_free(j);
    j = parse("0.5", &err);
    CHECK(!sd_json_as_int64(j, &i));
    sd_json_free(j);
}

TEST(json_object_and_array) {
    sd_error err = {0};
    const char *doc = "{\"add\": {\"path\": \"a=1/part-0.parquet\", \"size\": 1234, "
                      "\"dataChange\": true, \"tags\": null, \"arr\": [1, [2, []], {}]},"
                      " \"add\": 7}";
    sd_json *j = parse(doc, &err);
    CHECK(j != NULL);
    if (j == NULL) return;
    CHECK_INT(j->count, 2);
    const sd_json *add = sd_json_get(j, "add");
    CHECK(add != NULL && add->kind == SD_JSON_OBJECT); /* first of duplicate keys */
    CHECK_STR(sd_json_as_string(sd_json_get(add, "path")), "a=1/part-0.parquet");
    int64_t size = 0;
    CHECK(sd_json_as_int64(sd_json_get(add, "size"), &size) && size == 1234);
    CHECK(sd_json_get(add, "missing") == NULL);
    CHECK(sd_json_get(sd_json_get(add, "size"), "x") == NULL);
    const sd_json *arr = sd_json_get(add, "arr");
    CHECK(arr->kind == SD_JSON_ARRAY && arr->count == 3);
    CHECK(arr->items[1].kind == SD_JSON_ARRAY && arr->items[1].count == 2);
    CHECK(arr->items[1].items[1].count == 0);
    CHECK(arr->items[2].kind == SD_JSON_OBJECT && arr->items[2].count == 0);
    CHECK_STR(j->keys[1], "add");
    sd_buf b = SD_BUF_INIT;
    CHECK_STR(roundtrip(&b, j), "{\"add\":{\"path\":\"a=1/part-0.parquet\",\"size\":1234,"
                                "\"dataChange\":true,\"tags\":null,\"arr\":[1,[2,[]],{}]},"
                                "\"add\":7}");
    sd_buf_free(&b);
    sd_json_free(j);
}

TEST(json_escapes_and_utf8) {
    sd_error err = {0};
    sd_json *j =
        parse("\"q\\\"b\\\\s\\/\\b\\f\\n\\r\\t|\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"", &err);
    CHECK(j != NULL);
    if (j == NULL) return;
    CHECK_STR(j->text, "q\"b\\s/\b\f\n\r\t|A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    sd_json_free(j);
    /* NUL escaped inside a string: kept, with the length. */
    j = parse("\"a\\u0000b\"", &err);
    CHECK(j != NULL && j->text_len == 3 && j->text[1] == '\0' && j->text[2] == 'b');
    sd_buf b = SD_BUF_INIT;
    CHECK_STR(roundtrip(&b, j), "\"a\\u0000b\"");
    sd_json_free(j);
    /* Raw UTF-8 passes through. */
    j = parse("\"h\xc3\xa9llo \xe2\x82\xac\"", &err);
    CHECK_STR(sd_json_as_string(j), "h\xc3\xa9llo \xe2\x82\xac");
    CHECK_STR(roundtrip(&b, j), "\"h\xc3\xa9llo \xe2\x82\xac\"");
    sd_json_free(j);
    sd_buf_reset(&b);
    sd_json_append_string(&b, "a\"b\\c\nd\x01", 8);
    CHECK_STR(sd_buf_cstr(&b), "\"a\\\"b\\\\c\\nd\\u0001\"");
    sd_buf_free(&b);

    EXPECT_ERROR("\"\\x\"", "at byte 2");
    EXPECT_ERROR("\"\\x\"", "invalid escape");
    EXPECT_ERROR("\"\\u12g4\"", "4 hex digits");
    EXPECT_ERROR("\"\\ud83d\"", "not followed by a low surrogate");
    EXPECT_ERROR("\"\\ud83d\\u0041\"", "not followed by a low surrogate");
    EXPECT_ERROR("\"\\ude00\"", "lone low surrogate");
    EXPECT_ERROR("\"a\nb\"", "at byte 2");
    EXPECT_ERROR("\"a\nb\"", "control character");
    EXPECT_ERROR("\"\xc3\x28\"", "invalid UTF-8");
    EXPECT_ERROR("\"\xc0\xaf\"", "invalid UTF-8");         /* overlong '/' */
    EXPECT_ERROR("\"\xed\xa0\x80\"", "invalid UTF-8");     /* encoded surrogate */
    EXPECT_ERROR("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* above U+10FFFF */
    EXPECT_ERROR("\"abc", "unterminated string");
}

TEST(json_numbers_exact_text) {
    sd_error err = {0};
    sd_json *j = parse("[9223372036854775807, -9223372036854775808, 9223372036854775808, "
                       "12345678901234567890123, 0.1000000000000000000001, 9007199254740993]",
                       &err);
    CHECK(j != NULL);
    if (j == NULL) return;
    int64_t v = 0;
    CHECK(sd_json_as_int64(&j->items[0], &v) && v == INT64_MAX);
    CHECK(sd_json_as_int64(&j->items[1], &v) && v == INT64_MIN);
    CHECK(!sd_json_as_int64(&j->items[2], &v));
    CHECK(!sd_json_as_int64(&j->items[3], &v));
    CHECK_STR(j->items[3].text, "12345678901234567890123");
    CHECK_STR(j->items[4].text, "0.1000000000000000000001");
    /* 2^53 + 1 is not representable as a double but is as text and int64. */
    CHECK(sd_json_as_int64(&j->items[5], &v) && v == 9007199254740993LL);
    sd_buf b = SD_BUF_INIT;
    CHECK_STR(roundtrip(&b, j), "[9223372036854775807,-9223372036854775808,9223372036854775808,"
                                "12345678901234567890123,0.1000000000000000000001,"
                                "9007199254740993]");
    sd_buf_free(&b);
    sd_json_free(j);
    j = parse("[0, -0, 1E+2, 2e-2]", &err);
    double d;
    CHECK(j != NULL && sd_json_as_double(&j->items[1], &d) && d == 0.0 && signbit(d));
    CHECK(sd_json_as_double(&j->items[2], &d) && d == 100.0);
    CHECK(sd_json_as_double(&j->items[3], &d) && fabs(d - 0.02) < 1e-15);
    sd_json_free(j);

    EXPECT_ERROR("01", "leading zeros");
    EXPECT_ERROR("1.", "after the decimal point");
    EXPECT_ERROR("-", "expected a digit");
    EXPECT_ERROR("1e", "exponent");
    EXPECT_ERROR("+1", "expected a JSON value");
    EXPECT_ERROR(".5", "expected a JSON value");
    EXPECT_ERROR("NaN", "expected a JSON value");
}

TEST(json_syntax_errors_with_offsets) {
    EXPECT_ERROR("", "at byte 0 (end of input): expected a JSON value");
    EXPECT_ERROR("   ", "at byte 3");
    EXPECT_ERROR("{\"a\":1,}", "at byte 7 ('}'): expected a string key");
    EXPECT_ERROR("[1,2", "at byte 4 (end of input): expected ',' or ']'");
    EXPECT_ERROR("[1 2]", "at byte 3 ('2'): expected ',' or ']'");
    EXPECT_ERROR("{\"a\" 1}", "at byte 5 ('1'): expected ':'");
    EXPECT_ERROR("{\"a\":1 \"b\":2}", "expected ',' or '}'");
    EXPECT_ERROR("[1,]", "at byte 3 (']'): expected a JSON value");
    EXPECT_ERROR("tru", "expected a JSON value");
    EXPECT_ERROR("nul", "at byte 0");
    EXPECT_ERROR("{} x", "at byte 3 ('x'): unexpected text after");
    EXPECT_ERROR("{'a':1}", "expected a string key");
    EXPECT_ERROR("[1]\x01", "byte 0x01");
    EXPECT_ERROR("{1:2}", "expected a string key");
}

TEST(json_nesting_cap) {
    char deep[600];
    sd_error err = {0};
    /* 256 levels parse, 257 do not. */
    for (int i = 0; i < 256; i++) deep[i] = '[';
    for (int i = 0; i < 256; i++) deep[256 + i] = ']';
    sd_json *j = sd_json_parse(deep, 512, &err);
    CHECK(j != NULL);
    sd_json_free(j);
    for (int i = 0; i < 257; i++) deep[i] = '[';
    for (int i = 0; i < 257; i++) deep[257 + i] = ']';
    sd_error_clear(&err);
    j = sd_json_parse(deep, 514, &err);
    CHECK(j == NULL);
    CHECK(strstr(err.msg, "at byte 256") != NULL && strstr(err.msg, "deeper than 256") != NULL);
}

/* A document with every kind of value; each strict prefix must fail
 * cleanly (never crash, never read past the given length). */
TEST(json_every_truncation_fails) {
    const char *doc = "{\"add\":{\"path\":\"p%20q/\\u00e9\\ud83d\\ude00.parquet\",\"size\":-1.5e3,"
                      "\"dv\":null,\"ok\":true,\"no\":false,\"a\":[1,{\"b\":[]},\"x\"]}}";
    size_t n = strlen(doc);
    sd_error err = {0};
    sd_json *j = sd_json_parse(doc, n, &err);
    CHECK(j != NULL);
    sd_json_free(j);
    for (size_t len = 0; len < n; len++) {
        /* A heap copy of exactly `len` bytes so ASan catches any overread. */
        char *copy = sd_xmalloc(len ? len : 1);
        memcpy(copy, doc, len);
        sd_error_clear(&err);
        j = sd_json_parse(copy, len, &err);
        if (j != NULL)
            unit_fail(__FILE__, __LINE__, "prefix of length %zu parsed", len);
        else if (err.code != SD_ERR_JSON || strstr(err.msg, "at byte") == NULL)
            unit_fail(__FILE__, __LINE__, "prefix %zu: bad error '%s'", len, err.msg);
        sd_json_free(j);
        free(copy);
    }
}

/* Many members and long strings go through the arena's growth paths. */
TEST(json_large_document) {
    sd_buf src = SD_BUF_INIT;
    sd_buf_append_byte(&src, '[');
    for (int i = 0; i < 20000; i++) {
        if (i) sd_buf_append_byte(&src, ',');
        sd_buf_appendf(&src, "{\"i\":%d,\"s\":\"%0*d\"}", i, (i % 7) * 100 + 1, i);
    }
    sd_buf_append_byte(&src, ']');
    sd_error err = {0};
    sd_json *j = sd_json_parse((const char *)src.data, src.len, &err);
    CHECK(j != NULL && j->count == 20000);
    if (j != NULL) {
        int64_t v = 0;
        CHECK(sd_json_as_int64(sd_json_get(&j->items[19999], "i"), &v) && v == 19999);
        const sd_json *s = sd_json_get(&j->items[6], "s");
        CHECK(s != NULL && s->text_len == 601 && s->text[600] == '6');
        sd_buf out = SD_BUF_INIT;
        sd_json_append(&out, j);
        CHECK(out.len == src.len && memcmp(out.data, src.data, src.len) == 0);
        sd_buf_free(&out);
    }
    sd_json_free(j);
    sd_buf_free(&src);
}
