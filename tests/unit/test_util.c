/*
 * test_util.c - dates, number formatting, values, columns.
 */
#include <math.h>
#include <stdlib.h>

#include "unit.h"

static const char *fmt_date(sd_buf *b, int64_t days) {
    sd_buf_reset(b);
    sd_format_date(days, b);
    return sd_buf_cstr(b);
}

TEST(util_dates_roundtrip) {
    sd_buf b = SD_BUF_INIT;
    CHECK_STR(fmt_date(&b, 0), "1970-01-01");
    CHECK_STR(fmt_date(&b, -1), "1969-12-31");
    CHECK_STR(fmt_date(&b, 19000), "2022-01-08");
    CHECK_STR(fmt_date(&b, 11016), "2000-02-29");
    for (int64_t d = -800000; d < 800000; d += 97) {
        int64_t y;
        unsigned m, dd;
        sd_civil_from_days(d, &y, &m, &dd);
        CHECK_INT(sd_days_from_civil(y, m, dd), d);
    }
    int32_t days;
    CHECK(sd_parse_date("2000-02-29", 10, &days) && days == 11016);
    CHECK(!sd_parse_date("2001-02-29", 10, &days));
    CHECK(!sd_parse_date("2001-2-2", 8, &days));
    sd_buf_free(&b);
}

TEST(util_timestamps) {
    sd_buf b = SD_BUF_INIT;
    sd_format_timestamp(0, &b);
    CHECK_STR(sd_buf_cstr(&b), "1970-01-01 00:00:00");
    sd_buf_reset(&b);
    sd_format_timestamp(-1, &b);
    CHECK_STR(sd_buf_cstr(&b), "1969-12-31 23:59:59.999999");
    sd_buf_reset(&b);
    sd_format_timestamp(1700000000123000LL, &b);
    CHECK_STR(sd_buf_cstr(&b), "2023-11-14 22:13:20.123000");
    int64_t us;
    CHECK(sd_parse_timestamp("2023-11-14T22:13:20.123Z", 24, &us) && us == 1700000000123000LL);
    CHECK(sd_parse_timestamp("2023-11-14 22:13:20", 19, &us) && us == 1700000000000000LL);
    CHECK(!sd_parse_timestamp("2023-11-14 25:13:20", 19, &us));
    sd_buf_free(&b);
}

TEST(util_float_format_is_shortest_roundtrip) {
    sd_buf b = SD_BUF_INIT;
    sd_format_float(1.1f, &b);
    CHECK_STR(sd_buf_cstr(&b), "1.1");
    sd_buf_reset(&b);
    sd_format_double(0.1 + 0.2, &b);
    CHECK_STR(sd_buf_cstr(&b), "0.30000000000000004");
    sd_buf_reset(&b);
    sd_format_double(NAN, &b);
    CHECK_STR(sd_buf_cstr(&b), "NaN");
    sd_buf_reset(&b);
    sd_format_decimal(-1230, 2, &b);
    CHECK_STR(sd_buf_cstr(&b), "-12.30");
    sd_buf_reset(&b);
    sd_format_decimal(5, 3, &b);
    CHECK_STR(sd_buf_cstr(&b), "0.005");
    sd_buf_free(&b);
}

TEST(util_columns_and_values) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "name", SD_STRING, true);
    sd_field *l = sd_type_add_field(s, "tags", SD_LIST, true);
    sd_type_add_field(&l->type, "element", SD_INT32, true);
    sd_batch b;
    sd_batch_init(&b, s);
    sd_column_append_bytes(&b.cols[0], "abc", 3);
    sd_column_append_null(&b.cols[0]);
    sd_column_append_i32(&b.cols[1].children[0], 7);
    sd_column_append_i32(&b.cols[1].children[0], 8);
    sd_column_append_list(&b.cols[1], 2);
    sd_column_append_null(&b.cols[1]);
    CHECK_INT(b.cols[0].len, 2);
    CHECK_INT(b.cols[1].offsets[2], 2);
    sd_value v = sd_column_get(&b.cols[0], 0), n = sd_column_get(&b.cols[0], 1);
    CHECK(!v.is_null && v.u.s.len == 3);
    CHECK(n.is_null);
    CHECK(sd_value_compare(&n, &v) < 0);
    sd_buf t = SD_BUF_INIT;
    sd_type_format(s, &t);
    CHECK_STR(sd_buf_cstr(&t), "struct<name:string,tags:array<int>>");
    sd_buf_free(&t);
    sd_batch_free(&b);
    sd_schema_free(s);
}

/* UUIDs: the text layout, the version and variant bits, and randomness. */
TEST(util_uuid_text_and_bits) {
    char text[SD_UUID_TEXT_SIZE];
    /* Words big-endian; the version nibble becomes 4, the variant 10xx. */
    sd_uuid_from_words(0x0123456789abcdefull, 0xfedcba9876543210ull, text);
    CHECK_STR(text, "01234567-89ab-4def-bedc-ba9876543210");
    sd_uuid_from_words(0, 0, text);
    CHECK_STR(text, "00000000-0000-4000-8000-000000000000");
    uint8_t a[16], b[16];
    sd_uuid_random(a);
    sd_uuid_random(b);
    CHECK(memcmp(a, b, 16) != 0);
    CHECK_INT(a[6] >> 4, 4);
    CHECK_INT(a[8] >> 6, 2);
    sd_uuid_format(a, text);
    CHECK_INT(strlen(text), 36);
    CHECK(text[8] == '-' && text[13] == '-' && text[18] == '-' && text[23] == '-');
    CHECK(text[14] == '4');
}
