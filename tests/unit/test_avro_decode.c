/*
 * test_avro_decode.c - Avro binary decoding into columns: every type from
 * hand-encoded bytes (including the spec's zigzag examples), the
 * movie-ratings schema through the Confluent framing, and every per-record
 * error, each rolled back without a trace.
 */
#include "test_avro_util.h"

static const char *movie_schema =
    "{\"type\":\"record\",\"name\":\"MovieRating\",\"namespace\":\"io.movies\",\"fields\":["
    "{\"name\":\"event_id\",\"type\":\"string\"},"
    "{\"name\":\"user_id\",\"type\":\"string\"},"
    "{\"name\":\"movie_id\",\"type\":\"string\"},"
    "{\"name\":\"rating\",\"type\":\"float\"},"
    "{\"name\":\"rating_timestamp\",\"type\":\"long\"}]}";

TEST(avro_zigzag_spec_examples) {
    /* The spec's table: 0 -> 00, -1 -> 01, 1 -> 02, -2 -> 03, 2 -> 04,
     * -64 -> 7f, 64 -> 80 01; plus both ends of the long range. */
    static const struct {
        int64_t v;
        uint8_t bytes[10];
        size_t n;
    } cases[] = {
        {0, {0x00}, 1},
        {-1, {0x01}, 1},
        {1, {0x02}, 1},
        {-2, {0x03}, 1},
        {2, {0x04}, 1},
        {-64, {0x7f}, 1},
        {64, {0x80, 0x01}, 2},
        {INT64_MAX, {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
        {INT64_MIN, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
    };
    avro_fixture fx;
    CHECK(fixture_open(
        &fx, "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"v\",\"type\":\"long\"}]}",
        NULL, NULL));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sd_buf b = SD_BUF_INIT;
        sd_buf_append(&b, cases[i].bytes, cases[i].n);
        avro_reject rej;
        CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
        CHECK_INT(((int64_t *)fx.batch.cols[0].values)[i], cases[i].v);
        sd_buf_free(&b);
    }
    CHECK_INT(fx.batch.nrows, 9);
    fixture_close(&fx);
}

static const char *all_types_schema =
    "{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"n\",\"type\":[\"null\",\"int\"]},"
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"by\",\"type\":\"bytes\"},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\",\"GREEN\","
    "\"BLUE\"]}},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"Four\",\"size\":4}},"
    "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"int\"}},"
    "{\"name\":\"sub\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Sub\",\"fields\":["
    "{\"name\":\"x\",\"type\":\"int\"},{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":"
    "\"string\"}}]}]},"
    "{\"name\":\"dt\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}},"
    "{\"name\":\"tsm\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
    "{\"name\":\"tsu\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}},"
    "{\"name\":\"lts\",\"type\":{\"type\":\"long\",\"logicalType\":\"local-timestamp-millis\"}},"
    "{\"name\":\"dec\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":10,"
    "\"scale\":2}},"
    "{\"name\":\"decf\",\"type\":{\"type\":\"fixed\",\"name\":\"D8\",\"size\":8,\"logicalType\":"
    "\"decimal\",\"precision\":18,\"scale\":3}},"
    "{\"name\":\"u\",\"type\":{\"type\":\"string\",\"logicalType\":\"uuid\"}}"
    "]}";

/* Row 0: all present; row 1: the nullable ones null and empty collections. */
static void encode_all_types(sd_buf *b, bool second) {
    if (second)
        enc_long(b, 0); /* n: null */
    else
        enc_long(b, 1), enc_long(b, -7);
    sd_buf_append_byte(b, second ? 0 : 1);
    enc_long(b, second ? 2147483647 : -2147483648LL);
    enc_long(b, 1234567890123LL);
    enc_float(b, 7.5f);
    enc_double(b, -0.25);
    enc_long(b, 3);
    sd_buf_append(b, "\x00\xff\x10", 3);
    enc_str(b, second ? "" : "h\xc3\xa9llo");
    enc_long(b, second ? 0 : 2); /* BLUE */
    sd_buf_append(b, "abcd", 4);
    if (second) {
        enc_long(b, 0); /* empty array */
        enc_long(b, 0); /* empty map */
        enc_long(b, 0); /* sub: null */
    } else {
        enc_long(b, 2), enc_long(b, 10), enc_long(b, -20), enc_long(b, 0);
        enc_long(b, 1), enc_str(b, "k"), enc_long(b, 42), enc_long(b, 0);
        enc_long(b, 1), enc_long(b, 5), enc_long(b, 1), enc_str(b, "t1"), enc_long(b, 0);
    }
    enc_long(b, 19000);           /* 2022-01-08 */
    enc_long(b, 1700000000123LL); /* millis */
    enc_long(b, 1700000000123456LL);
    enc_long(b, 1000);
    /* dec: -12.30 = unscaled -1230 = 0xFB32 */
    enc_long(b, 2);
    sd_buf_append(b, "\xfb\x32", 2);
    /* decf: 123.456 = 123456 = 0x01E240 in 8 bytes */
    sd_buf_append(b, "\x00\x00\x00\x00\x00\x01\xe2\x40", 8);
    enc_str(b, "123e4567-e89b-12d3-a456-426614174000");
}

TEST(avro_decode_every_type) {
    avro_fixture fx;
    if (!fixture_open(&fx, all_types_schema, NULL, NULL)) {
        unit_fail(__FILE__, __LINE__, "open: %s", fx.err.msg);
        fixture_close(&fx);
        return;
    }
    sd_buf fmt = SD_BUF_INIT;
    sd_type_format(fx.cols, &fmt);
    CHECK_STR(sd_buf_cstr(&fmt),
              "struct<n:int,b:boolean,i:int,l:bigint,f:float,d:double,by:binary,s:string,e:string,"
              "fx:binary,arr:array<bigint>,m:map<string,int>,sub:struct<x:int,tags:array<string>>,"
              "dt:date,tsm:timestamp,tsu:timestamp,lts:timestamp_ntz,dec:decimal(10,2),"
              "decf:decimal(18,3),u:string>");
    sd_buf_free(&fmt);
    sd_buf b = SD_BUF_INIT;
    avro_reject rej;
    encode_all_types(&b, false);
    CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
    sd_buf_reset(&b);
    encode_all_types(&b, true);
    CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
    sd_buf_free(&b);
    sd_column *c = fx.batch.cols;
    CHECK_INT(fx.batch.nrows, 2);
    CHECK(sd_column_is_valid(&c[0], 0) && !sd_column_is_valid(&c[0], 1));
    CHECK_INT(((int32_t *)c[0].values)[0], -7);
    CHECK_INT(((uint8_t *)c[1].values)[0], 1);
    CHECK_INT(((uint8_t *)c[1].values)[1], 0);
    CHECK_INT(((int32_t *)c[2].values)[0], INT32_MIN);
    CHECK_INT(((int32_t *)c[2].values)[1], INT32_MAX);
    CHECK_INT(((int64_t *)c[3].values)[0], 1234567890123LL);
    CHECK(((float *)c[4].values)[0] == 7.5f);
    CHECK(((double *)c[5].values)[0] == -0.25);
    size_t n;
    const char *p = col_str(&c[6], 0, &n);
    CHECK(n == 3 && memcmp(p, "\x00\xff\x10", 3) == 0);
    CHECK(col_str_is(&c[7], 0, "h\xc3\xa9llo"));
    CHECK(col_str_is(&c[7], 1, ""));
    CHECK(col_str_is(&c[8], 0, "BLUE"));
    CHECK(col_str_is(&c[8], 1, "RED"));
    CHECK(col_str_is(&c[9], 1, "abcd"));
    /* arr: row 0 = [10, -20], row 1 = [] */
    CHECK_INT(c[10].offsets[1], 2);
    CHECK_INT(c[10].offsets[2], 2);
    CHECK_INT(((int64_t *)c[10].children[0].values)[1], -20);
    /* m: {"k": 42} */
    CHECK_INT(c[11].offsets[1], 1);
    CHECK(col_str_is(&c[11].children[0], 0, "k"));
    CHECK_INT(((int32_t *)c[11].children[1].values)[0], 42);
    /* sub: row 0 {x:5, tags:["t1"]}, row 1 null */
    CHECK(sd_column_is_valid(&c[12], 0) && !sd_column_is_valid(&c[12], 1));
    CHECK_INT(c[12].children[0].len, 2);
    CHECK_INT(((int32_t *)c[12].children[0].values)[0], 5);
    CHECK(col_str_is(&c[12].children[1].children[0], 0, "t1"));
    CHECK_INT(((int32_t *)c[13].values)[0], 19000);
    CHECK_INT(((int64_t *)c[14].values)[0], 1700000000123000LL); /* millis -> micros */
    CHECK_INT(((int64_t *)c[15].values)[0], 1700000000123456LL);
    CHECK_INT(((int64_t *)c[16].values)[0], 1000000);
    __int128 d;
    memcpy(&d, c[17].values, 16);
    CHECK(d == -1230);
    memcpy(&d, c[18].values, 16);
    CHECK(d == 123456);
    CHECK(col_str_is(&c[19], 1, "123e4567-e89b-12d3-a456-426614174000"));
    fixture_close(&fx);
}

TEST(avro_decode_negative_block_counts) {
    /* A block written with a negative count carries its byte size. */
    avro_fixture fx;
    CHECK(fixture_open(
        &fx,
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":{\"type\":"
        "\"array\",\"items\":\"int\"}},{\"name\":\"z\",\"type\":\"int\"}]}",
        NULL, NULL));
    sd_buf b = SD_BUF_INIT;
    enc_long(&b, -2), enc_long(&b, 2), enc_long(&b, 1), enc_long(&b, 2);
    enc_long(&b, 1), enc_long(&b, 3), enc_long(&b, 0);
    enc_long(&b, 9);
    avro_reject rej;
    CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
    CHECK_INT(fx.batch.cols[0].offsets[1], 3);
    CHECK_INT(((int32_t *)fx.batch.cols[0].children[0].values)[2], 3);
    CHECK_INT(((int32_t *)fx.batch.cols[1].values)[0], 9);
    sd_buf_free(&b);
    fixture_close(&fx);
}

static void encode_movie(sd_buf *b, int32_t id, const char *event, float rating, int64_t ts) {
    avro_wire_header(id, b);
    enc_str(b, event);
    enc_str(b, "6f1c1a8e-0000-4000-8000-000000000001");
    enc_str(b, "0b7a3f2c-0000-4000-8000-000000000002");
    enc_float(b, rating);
    enc_long(b, ts);
}

TEST(avro_movie_ratings_stream) {
    avro_schema *s = must_schema(movie_schema);
    sd_error err = {0};
    sd_schema *cols = NULL;
    CHECK_OK(avro_to_sd_schema(s, NULL, &cols, &err), &err);
    sd_buf fmt = SD_BUF_INIT;
    sd_type_format(cols, &fmt);
    CHECK_STR(sd_buf_cstr(&fmt),
              "struct<event_id:string,user_id:string,movie_id:string,rating:float,"
              "rating_timestamp:bigint>");
    sd_buf_free(&fmt);
    avro_decode_opts opts = {.validate_utf8 = true};
    avro_stream *st = avro_stream_new(s, cols, NULL, &opts, &err);
    CHECK(st != NULL);
    CHECK_OK(avro_stream_add_writer(st, 7, s, &err), &err);
    sd_batch b;
    sd_batch_init(&b, cols);
    sd_buf msg = SD_BUF_INIT;
    avro_reject rej;
    for (int i = 0; i < 1000; i++) {
        char ev[40];
        snprintf(ev, sizeof(ev), "e-%04d", i);
        sd_buf_reset(&msg);
        encode_movie(&msg, 7, ev, (float)(i % 101) / 10.0f, 1700000000 + i);
        CHECK_OK(avro_stream_decode(st, &b, msg.data, msg.len, "movie.ratings.v1", 2, 100 + i, &rej,
                                    &err),
                 &err);
    }
    CHECK_INT(b.nrows, 1000);
    CHECK(col_str_is(&b.cols[0], 999, "e-0999"));
    CHECK(col_str_is(&b.cols[2], 5, "0b7a3f2c-0000-4000-8000-000000000002"));
    CHECK(((float *)b.cols[3].values)[55] == 5.5f);
    CHECK_INT(((int64_t *)b.cols[4].values)[999], 1700000999);
    /* Unknown id without a registry: a dead letter carrying its position. */
    sd_buf_reset(&msg);
    encode_movie(&msg, 8, "x", 1.0f, 1);
    sd_error_clear(&err);
    CHECK_INT(avro_stream_decode(st, &b, msg.data, msg.len, "movie.ratings.v1", 1, 77, &rej, &err),
              SD_ERR_FORMAT);
    CHECK_INT(rej.reason, AVRO_REJECT_UNKNOWN_SCHEMA);
    CHECK_INT(rej.schema_id, 8);
    CHECK_INT(rej.partition, 1);
    CHECK_INT(rej.offset, 77);
    CHECK_STR(rej.topic, "movie.ratings.v1");
    CHECK(strstr(err.msg, "movie.ratings.v1[1]@77") != NULL);
    CHECK_INT(b.nrows, 1000);
    sd_buf_free(&msg);
    sd_batch_free(&b);
    avro_stream_free(st);
    sd_schema_free(cols);
    avro_schema_free(s);
}

/* Each malformed message: expected reason, and the batch unchanged. */
TEST(avro_per_record_errors_roll_back) {
    const char *schema =
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":["
        "{\"name\":\"s\",\"type\":\"string\"},"
        "{\"name\":\"l\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
        "{\"name\":\"u\",\"type\":[\"null\",\"long\"]},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}},"
        "{\"name\":\"i\",\"type\":\"int\"}]}";
    avro_schema *s = must_schema(schema);
    sd_error err = {0};
    sd_schema *cols = NULL;
    CHECK_OK(avro_to_sd_schema(s, NULL, &cols, &err), &err);
    avro_decode_opts opts = {.validate_utf8 = true};
    avro_stream *st = avro_stream_new(s, cols, NULL, &opts, &err);
    CHECK_OK(avro_stream_add_writer(st, 1, s, &err), &err);
    sd_batch b;
    sd_batch_init(&b, cols);
    avro_reject rej;
    sd_buf m = SD_BUF_INIT;
    /* One good row first, so rollback must keep it. */
    avro_wire_header(1, &m);
    enc_str(&m, "ok"), enc_long(&m, 1), enc_str(&m, "x"), enc_long(&m, 0), enc_long(&m, 1),
        enc_long(&m, 5), enc_long(&m, 1), enc_long(&m, 3);
    CHECK_OK(avro_stream_decode(st, &b, m.data, m.len, "t", 0, 0, &rej, &err), &err);

    struct {
        const char *name;
        avro_reject_reason reason;
        uint8_t bytes[40];
        size_t n;
    } bad[] = {
        {"bad magic", AVRO_REJECT_BAD_MAGIC, {1, 0, 0, 0, 1, 0}, 6},
        {"short header", AVRO_REJECT_BAD_MAGIC, {0, 0, 0}, 3},
        {"unknown id", AVRO_REJECT_UNKNOWN_SCHEMA, {0, 0, 0, 0, 9, 0}, 6},
        /* string "abc" cut after 'a' */
        {"truncated", AVRO_REJECT_TRUNCATED, {0, 0, 0, 0, 1, 6, 'a'}, 7},
        /* valid record then one extra byte */
        {"trailing", AVRO_REJECT_TRAILING_BYTES, {0, 0, 0, 0, 1, 4, 'o', 'k', 0, 0, 0, 2, 0}, 13},
        {"utf8", AVRO_REJECT_INVALID_UTF8, {0, 0, 0, 0, 1, 4, 0xc3, 0x28, 0, 0, 0, 0, 0}, 13},
        {"varint overflow",
         AVRO_REJECT_VARINT_OVERFLOW,
         {0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
         15},
        {"negative length", AVRO_REJECT_NEGATIVE_LENGTH, {0, 0, 0, 0, 1, 0x03, 'a'}, 7},
        /* s="", l=["x"], u: branch 5 */
        {"union index",
         AVRO_REJECT_BAD_UNION_INDEX,
         {0, 0, 0, 0, 1, 0, 2, 2, 'x', 0, 10, 0, 0},
         13},
        /* s="", l=[], u=null, e=7 */
        {"enum index", AVRO_REJECT_BAD_ENUM_INDEX, {0, 0, 0, 0, 1, 0, 0, 0, 14, 0}, 10},
        /* int wider than 32 bits */
        {"int overflow",
         AVRO_REJECT_VARINT_OVERFLOW,
         {0, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x7f},
         14},
        /* array block of 1000 strings in 3 bytes */
        {"huge block", AVRO_REJECT_TRUNCATED, {0, 0, 0, 0, 1, 0, 0xd0, 0x0f, 0, 0}, 10},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sd_error_clear(&err);
        memset(&rej, 0, sizeof(rej));
        sd_status rc =
            avro_stream_decode(st, &b, bad[i].bytes, bad[i].n, "t", 3, (int64_t)i, &rej, &err);
        if (rc != SD_ERR_FORMAT || rej.reason != bad[i].reason)
            unit_fail(__FILE__, __LINE__, "%s: status %d reason %s (%s)", bad[i].name, rc,
                      avro_reject_reason_name(rej.reason), err.msg);
        CHECK_INT(rej.offset, (int64_t)i);
        CHECK(rej.detail[0] != '\0');
        /* Nothing of the bad record stays behind. */
        CHECK_INT(b.nrows, 1);
        for (int k = 0; k < b.ncols; k++) CHECK_INT(b.cols[k].len, 1);
        CHECK_INT(b.cols[0].data.len, 2);
        CHECK_INT(b.cols[1].children[0].len, 1);
        CHECK_INT(b.cols[1].children[0].data.len, 1);
    }
    /* And the stream goes on. */
    CHECK_OK(avro_stream_decode(st, &b, m.data, m.len, "t", 0, 99, &rej, &err), &err);
    CHECK_INT(b.nrows, 2);
    CHECK(col_str_is(&b.cols[0], 1, "ok"));
    CHECK_INT(b.cols[1].offsets[2], 2);
    CHECK(col_str_is(&b.cols[3], 1, "B"));
    CHECK_INT(((int32_t *)b.cols[4].values)[1], 3);
    sd_buf_free(&m);
    sd_batch_free(&b);
    avro_stream_free(st);
    sd_schema_free(cols);
    avro_schema_free(s);
}

TEST(avro_decimal_out_of_range_and_wide_bytes) {
    avro_fixture fx;
    CHECK(fixture_open(
        &fx,
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"d\",\"type\":{\"type\":"
        "\"bytes\",\"logicalType\":\"decimal\",\"precision\":38,\"scale\":0}}]}",
        NULL, NULL));
    sd_buf b = SD_BUF_INIT;
    avro_reject rej;
    /* 20 bytes of sign extension around -1 still fit */
    enc_long(&b, 20);
    for (int i = 0; i < 20; i++) sd_buf_append_byte(&b, 0xff);
    CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
    __int128 v;
    memcpy(&v, fx.batch.cols[0].values, 16);
    CHECK(v == -1);
    /* 17 significant bytes do not */
    sd_buf_reset(&b);
    enc_long(&b, 17);
    sd_buf_append_byte(&b, 0x01);
    for (int i = 0; i < 16; i++) sd_buf_append_byte(&b, 0);
    CHECK_INT(fixture_decode(&fx, &b, &rej), SD_ERR_FORMAT);
    CHECK_INT(rej.reason, AVRO_REJECT_OUT_OF_RANGE);
    CHECK_INT(fx.batch.nrows, 1);
    sd_buf_free(&b);
    fixture_close(&fx);
}

/* Regression (fuzz): an empty string as a column's very first value. */
TEST(avro_empty_first_string) {
    avro_fixture fx;
    CHECK(fixture_open(
        &fx,
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"s\",\"type\":\"string\"},"
        "{\"name\":\"b\",\"type\":\"bytes\"}]}",
        NULL, NULL));
    sd_buf b = SD_BUF_INIT;
    avro_reject rej;
    enc_str(&b, ""), enc_str(&b, "");
    CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
    sd_buf_reset(&b);
    enc_str(&b, "xy"), enc_str(&b, "");
    CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
    CHECK(col_str_is(&fx.batch.cols[0], 0, ""));
    CHECK(col_str_is(&fx.batch.cols[0], 1, "xy"));
    CHECK_INT(fx.batch.cols[1].offsets[2], 0);
    sd_buf_free(&b);
    fixture_close(&fx);
}
