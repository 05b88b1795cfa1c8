/*
 * test_avro_resolve.c - schema parsing and mapping, and every schema
 * resolution rule with writer and reader schemas that differ: defaults,
 * skipped fields, promotions, unions both ways, enums, aliases, and the
 * errors (compile-time when a pair can never work, per record otherwise).
 */
#include "test_avro_util.h"

#define REC(name, fields) "{\"type\":\"record\",\"name\":\"" name "\",\"fields\":[" fields "]}"
#define FIELD(name, type) "{\"name\":\"" name "\",\"type\":" type "}"

TEST(avro_schema_parse_names_and_canonical_form) {
    avro_schema *s = must_schema("{\"type\":\"record\",\"name\":\"MovieRating\",\"namespace\":\"io."
                                 "movies\",\"doc\":\"x\",\"fields\":["
                                 "{\"name\":\"who\",\"type\":{\"type\":\"record\",\"name\":"
                                 "\"User\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"}]}},"
                                 "{\"name\":\"other\",\"type\":\"User\"},"
                                 "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"x."
                                 "Kind\",\"symbols\":[\"A\",\"B\"],\"default\":\"B\"}},"
                                 "{\"name\":\"k2\",\"type\":\"x.Kind\"}]}");
    if (s == NULL) return;
    const avro_node *r = avro_schema_root(s);
    CHECK_STR(r->fullname, "io.movies.MovieRating");
    CHECK_INT(r->nfields, 4);
    CHECK_STR(r->fields[0].type->fullname, "io.movies.User");
    CHECK(r->fields[1].type == r->fields[0].type); /* reference, same node */
    CHECK_STR(r->fields[2].type->fullname, "x.Kind");
    CHECK_INT(r->fields[2].type->default_symbol, 1);
    sd_buf b = SD_BUF_INIT;
    avro_schema_canonical(s, &b);
    CHECK_STR(
        sd_buf_cstr(&b),
        "{\"name\":\"io.movies.MovieRating\",\"type\":\"record\",\"fields\":["
        "{\"name\":\"who\",\"type\":{\"name\":\"io.movies.User\",\"type\":\"record\",\"fields\":["
        "{\"name\":\"id\",\"type\":\"string\"}]}},"
        "{\"name\":\"other\",\"type\":\"io.movies.User\"},"
        "{\"name\":\"kind\",\"type\":{\"name\":\"x.Kind\",\"type\":\"enum\",\"symbols\":[\"A\","
        "\"B\"]}},"
        "{\"name\":\"k2\",\"type\":\"x.Kind\"}]}");
    sd_buf_free(&b);
    /* The fingerprint depends on the canonical form only. */
    avro_schema *same =
        must_schema("{\"name\":\"io.movies.MovieRating\",\"type\":\"record\",\"fields\":["
                    "{\"name\":\"who\",\"type\":{\"name\":\"User\",\"type\":\"record\",\"fields\":["
                    "{\"name\":\"id\",\"type\":{\"type\":\"string\"}}]}},"
                    "{\"name\":\"other\",\"type\":\"io.movies.User\"},"
                    "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"Kind\","
                    "\"namespace\":\"x\",\"symbols\":[\"A\",\"B\"]}},"
                    "{\"name\":\"k2\",\"type\":\"x.Kind\"}]}");
    CHECK(avro_schema_fingerprint(s) == avro_schema_fingerprint(same));
    avro_schema *prim = must_schema("\"int\"");
    CHECK(avro_schema_fingerprint(prim) != avro_schema_fingerprint(s));
    avro_schema_free(prim);
    avro_schema_free(same);
    avro_schema_free(s);
}

TEST(avro_schema_parse_errors_are_specific) {
    static const struct {
        const char *json;
        const char *expect;
    } cases[] = {
        {REC("r", FIELD("a", "\"Nope\"")), "unknown type \"Nope\""},
        {REC("r", FIELD("a", "\"int\"") "," FIELD("a", "\"long\"")), "field \"a\" appears twice"},
        {REC("r", "{\"name\":\"a\",\"type\":\"int\",\"default\":\"x\"}"), "invalid default"},
        {REC("r", FIELD("a", "[\"int\",[\"null\"]]")), "a union may not contain a union"},
        {REC("r", FIELD("a", "[\"int\",\"int\"]")), "union lists int twice"},
        {REC("9r", FIELD("a", "\"int\"")), "invalid name \"9r\""},
        {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"],\"default\":\"Z\"}",
         "default is not one of its symbols"},
        {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}",
         "\"size\" must be a non-negative integer"},
        {"{\"type\":\"record\",\"name\":\"r\",\"fields\":[", "Avro schema: "},
        {REC("r", FIELD("a", REC("r", ""))), "defined twice"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sd_error err = {0};
        avro_schema *s = avro_schema_parse(cases[i].json, strlen(cases[i].json), &err);
        CHECK(s == NULL);
        if (strstr(err.msg, cases[i].expect) == NULL)
            unit_fail(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, err.msg,
                      cases[i].expect);
        avro_schema_free(s);
    }
}

TEST(avro_logical_types_and_mapping) {
    avro_schema *s = must_schema(REC(
        "r",
        FIELD(
            "d",
            "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":5,"
            "\"scale\":7}") "," FIELD("f",
                                      "{\"type\":\"fixed\",\"name\":\"F2\",\"size\":2,"
                                      "\"logicalType\":\"decimal\","
                                      "\"precision\":9}") "," FIELD("t",
                                                                    "{\"type\":\"int\","
                                                                    "\"logicalType\":\"timestamp-"
                                                                    "millis\"}") "," FIELD("u",
                                                                                           "{\"type"
                                                                                           "\":"
                                                                                           "\"fixed"
                                                                                           "\","
                                                                                           "\"name"
                                                                                           "\":"
                                                                                           "\"U\","
                                                                                           "\"size"
                                                                                           "\":"
                                                                                           "16,"
                                                                                           "\"logic"
                                                                                           "alType"
                                                                                           "\":"
                                                                                           "\"uuid"
                                                                                           "\"}") "," FIELD("t"
                                                                                                            "m",
                                                                                                            "{"
                                                                                                            "\""
                                                                                                            "ty"
                                                                                                            "pe"
                                                                                                            "\""
                                                                                                            ":"
                                                                                                            "\""
                                                                                                            "in"
                                                                                                            "t"
                                                                                                            "\""
                                                                                                            ","
                                                                                                            "\""
                                                                                                            "lo"
                                                                                                            "gi"
                                                                                                            "ca"
                                                                                                            "lT"
                                                                                                            "yp"
                                                                                                            "e"
                                                                                                            "\""
                                                                                                            ":"
                                                                                                            "\""
                                                                                                            "ti"
                                                                                                            "me"
                                                                                                            "-m"
                                                                                                            "il"
                                                                                                            "li"
                                                                                                            "s"
                                                                                                            "\""
                                                                                                            "}")));
    if (s == NULL) return;
    /* Invalid logical types fall back to the underlying type. */
    const avro_node *r = avro_schema_root(s);
    CHECK_INT(r->fields[0].type->logical, AVRO_LOGICAL_NONE); /* scale > precision */
    CHECK_INT(r->fields[1].type->logical, AVRO_LOGICAL_NONE); /* 2 bytes hold 4 digits */
    CHECK_INT(r->fields[2].type->logical, AVRO_LOGICAL_NONE); /* timestamp on int */
    CHECK_INT(r->fields[3].type->logical, AVRO_LOGICAL_UUID);
    CHECK_INT(r->fields[4].type->logical, AVRO_LOGICAL_TIME_MILLIS);
    sd_schema *cols = NULL;
    sd_error err = {0};
    CHECK_OK(avro_to_sd_schema(s, NULL, &cols, &err), &err);
    sd_buf b = SD_BUF_INIT;
    sd_type_format(cols, &b);
    CHECK_STR(sd_buf_cstr(&b), "struct<d:binary,f:binary,t:int,u:binary,tm:int>");
    sd_buf_free(&b);
    sd_schema_free(cols);
    avro_schema_free(s);

    /* A union that is not [null, T] has no column type. */
    s = must_schema(REC("r", FIELD("x", "[\"int\",\"string\"]")));
    sd_error_clear(&err);
    CHECK_INT(avro_to_sd_schema(s, NULL, &cols, &err), SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "field x") && strstr(err.msg, "union of null and one type"));
    avro_schema_free(s);

    /* Recursive types have no bounded layout. */
    s = must_schema(REC("Node", FIELD("next", "[\"null\",\"Node\"]")));
    sd_error_clear(&err);
    CHECK_INT(avro_to_sd_schema(s, NULL, &cols, &err), SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "recursive") != NULL);
    avro_schema_free(s);
}

TEST(avro_flatten_nested_records) {
    const char *schema =
        REC("r", FIELD("id", "\"int\"") "," FIELD(
                     "a", "[\"null\"," REC("A", FIELD("x", "\"int\"") "," FIELD(
                                                    "b", REC("B", FIELD("y", "\"string\"")))) "]"));
    avro_decode_opts opts = {.map = {.flatten = true}};
    avro_fixture fx;
    if (!fixture_open(&fx, schema, NULL, &opts)) {
        unit_fail(__FILE__, __LINE__, "%s", fx.err.msg);
        fixture_close(&fx);
        return;
    }
    sd_buf b = SD_BUF_INIT;
    sd_type_format(fx.cols, &b);
    CHECK_STR(sd_buf_cstr(&b), "struct<id:int,a_x:int,a_b_y:string>");
    CHECK(fx.cols->children[1].nullable && fx.cols->children[2].nullable &&
          !fx.cols->children[0].nullable);
    avro_reject rej;
    sd_buf_reset(&b);
    enc_long(&b, 1), enc_long(&b, 1), enc_long(&b, 5), enc_str(&b, "why");
    CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
    sd_buf_reset(&b);
    enc_long(&b, 2), enc_long(&b, 0); /* a = null */
    CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
    CHECK_INT(((int32_t *)fx.batch.cols[1].values)[0], 5);
    CHECK(col_str_is(&fx.batch.cols[2], 0, "why"));
    CHECK(!sd_column_is_valid(&fx.batch.cols[1], 1) && !sd_column_is_valid(&fx.batch.cols[2], 1));
    CHECK_INT(fx.batch.cols[2].len, 2);
    sd_buf_free(&b);
    fixture_close(&fx);
}

TEST(avro_resolve_defaults_and_skips) {
    /* Writer has a complex field the reader lacks; the reader has fields
     * (primitive, record, array, map, nullable) the writer lacks. */
    const char *writer =
        REC("r", FIELD("id", "\"long\"") "," FIELD(
                     "gone", "{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":"
                             "\"string\"}}") "," FIELD("name", "\"string\""));
    const char *reader = REC(
        "r",
        FIELD("name", "\"string\"") "," FIELD(
            "id",
            "\"long\"") ","
                        "{\"name\":\"score\",\"type\":\"double\",\"default\":1.5},"
                        "{\"name\":\"pt\",\"type\":" REC(
                            "P",
                            FIELD("x", "\"int\"") "," FIELD(
                                "y", "\"int\"")) ",\"default\":{\"x\":3,\"y\":4}},"
                                                 "{\"name\":\"tags\",\"type\":{\"type\":\"array\","
                                                 "\"items\":\"string\"},\"default\":[\"a\",\"b\"]},"
                                                 "{\"name\":\"m\",\"type\":{\"type\":\"map\","
                                                 "\"values\":\"long\"},\"default\":{\"k\":9}},"
                                                 "{\"name\":\"opt\",\"type\":[\"null\",\"string\"],"
                                                 "\"default\":null},"
                                                 "{\"name\":\"raw\",\"type\":\"bytes\",\"default\":"
                                                 "\"\\u00ff\\u0001\"}");
    avro_fixture fx;
    if (!fixture_open(&fx, writer, reader, NULL)) {
        unit_fail(__FILE__, __LINE__, "%s", fx.err.msg);
        fixture_close(&fx);
        return;
    }
    sd_buf b = SD_BUF_INIT;
    avro_reject rej;
    for (int row = 0; row < 2; row++) {
        sd_buf_reset(&b);
        enc_long(&b, 100 + row);
        enc_long(&b, 1), enc_str(&b, "k"), enc_long(&b, 2), enc_str(&b, "v1"), enc_str(&b, "v2"),
            enc_long(&b, 0), enc_long(&b, 0);
        enc_str(&b, row ? "bob" : "amy");
        CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
    }
    sd_column *c = fx.batch.cols;
    CHECK(col_str_is(&c[0], 1, "bob"));
    CHECK_INT(((int64_t *)c[1].values)[1], 101);
    CHECK(((double *)c[2].values)[1] == 1.5);
    CHECK_INT(((int32_t *)c[3].children[0].values)[1], 3);
    CHECK_INT(((int32_t *)c[3].children[1].values)[1], 4);
    CHECK_INT(c[3].len, 2);
    CHECK_INT(c[4].offsets[2], 4);
    CHECK(col_str_is(&c[4].children[0], 3, "b"));
    CHECK(col_str_is(&c[5].children[0], 1, "k"));
    CHECK_INT(((int64_t *)c[5].children[1].values)[1], 9);
    CHECK(!sd_column_is_valid(&c[6], 0) && !sd_column_is_valid(&c[6], 1));
    size_t n;
    const char *raw = col_str(&c[7], 0, &n);
    CHECK(n == 2 && (uint8_t)raw[0] == 0xff && raw[1] == 1);
    sd_buf_free(&b);
    fixture_close(&fx);

    /* A reader field without a default that the writer lacks never works. */
    CHECK(!fixture_open(&fx, REC("r", FIELD("a", "\"int\"")),
                        REC("r", FIELD("a", "\"int\"") "," FIELD("b", "\"int\"")), NULL));
    CHECK(strstr(fx.err.msg, "reader field \"b\" is not in the writer schema and has no default") !=
          NULL);
    fixture_close(&fx);
}

TEST(avro_resolve_promotions) {
    const char *writer = REC(
        "r",
        FIELD("a", "\"int\"") "," FIELD("b", "\"int\"") "," FIELD("c", "\"int\"") "," FIELD("d", "\"long\"") "," FIELD(
            "e",
            "\"long\"") "," FIELD("f",
                                  "\"float\"") "," FIELD("g",
                                                         "\"string\"") "," FIELD("h",
                                                                                 "\"bytes\"") "," FIELD("t",
                                                                                                        "\"long\""));
    const char *reader = REC(
        "r",
        FIELD("a", "\"long\"") "," FIELD("b", "\"float\"") "," FIELD("c", "\"double\"") "," FIELD("d", "\"float\"") "," FIELD(
            "e",
            "\"double\"") "," FIELD("f",
                                    "\"double\"") "," FIELD("g",
                                                            "\"bytes\"") "," FIELD("h",
                                                                                   "\"string"
                                                                                   "\"") "," FIELD("t",
                                                                                                   "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}"));
    avro_decode_opts opts = {.validate_utf8 = true};
    avro_fixture fx;
    if (!fixture_open(&fx, writer, reader, &opts)) {
        unit_fail(__FILE__, __LINE__, "%s", fx.err.msg);
        fixture_close(&fx);
        return;
    }
    sd_buf b = SD_BUF_INIT;
    enc_long(&b, -5), enc_long(&b, 3), enc_long(&b, 16777217), enc_long(&b, 1LL << 40),
        enc_long(&b, -9);
    enc_float(&b, 0.1f), enc_str(&b, "sb"), enc_str(&b, "bs"), enc_long(&b, 1500);
    avro_reject rej;
    CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
    sd_column *c = fx.batch.cols;
    CHECK_INT(((int64_t *)c[0].values)[0], -5);
    CHECK(((float *)c[1].values)[0] == 3.0f);
    CHECK(((double *)c[2].values)[0] == 16777217.0);
    CHECK(((float *)c[3].values)[0] == 1099511627776.0f);
    CHECK(((double *)c[4].values)[0] == -9.0);
    CHECK(((double *)c[5].values)[0] == (double)0.1f);
    CHECK(col_str_is(&c[6], 0, "sb"));
    CHECK(col_str_is(&c[7], 0, "bs"));
    CHECK_INT(((int64_t *)c[8].values)[0], 1500000);
    /* bytes read as string are validated as UTF-8 */
    sd_buf_reset(&b);
    enc_long(&b, 0), enc_long(&b, 0), enc_long(&b, 0), enc_long(&b, 0), enc_long(&b, 0);
    enc_float(&b, 0), enc_str(&b, ""), enc_str(&b, "\xff"), enc_long(&b, 0);
    CHECK_INT(fixture_decode(&fx, &b, &rej), SD_ERR_FORMAT);
    CHECK_INT(rej.reason, AVRO_REJECT_INVALID_UTF8);
    CHECK_INT(fx.batch.nrows, 1);
    sd_buf_free(&b);
    fixture_close(&fx);

    /* No demotion: long cannot be read as int, string not as float. */
    CHECK(!fixture_open(&fx, REC("r", FIELD("a", "\"long\"")), REC("r", FIELD("a", "\"int\"")),
                        NULL));
    CHECK(strstr(fx.err.msg, "field a: writer type long cannot be read as reader type int") !=
          NULL);
    fixture_close(&fx);
    CHECK(!fixture_open(&fx, REC("r", FIELD("rating", "\"string\"")),
                        REC("r", FIELD("rating", "\"float\"")), NULL));
    CHECK(strstr(fx.err.msg,
                 "field rating: writer type string cannot be read as reader type float") != NULL);
    fixture_close(&fx);
}

TEST(avro_resolve_unions_both_ways) {
    /* writer union -> reader plain: the long branch works, the string
     * branch fails per record. */
    avro_fixture fx;
    CHECK(fixture_open(&fx, REC("r", FIELD("v", "[\"long\",\"string\"]")),
                       REC("r", FIELD("v", "\"double\"")), NULL));
    sd_buf b = SD_BUF_INIT;
    avro_reject rej;
    enc_long(&b, 0), enc_long(&b, 21);
    CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
    CHECK(((double *)fx.batch.cols[0].values)[0] == 21.0);
    sd_buf_reset(&b);
    enc_long(&b, 1), enc_str(&b, "x");
    CHECK_INT(fixture_decode(&fx, &b, &rej), SD_ERR_FORMAT);
    CHECK_INT(rej.reason, AVRO_REJECT_NO_MATCH);
    CHECK(strstr(rej.detail, "writer union branch 1") != NULL);
    CHECK_INT(fx.batch.nrows, 1);
    fixture_close(&fx);

    /* writer plain -> reader nullable union picks the matching branch */
    CHECK(fixture_open(&fx, REC("r", FIELD("v", "\"int\"")),
                       REC("r", FIELD("v", "[\"null\",\"long\"]")), NULL));
    sd_buf_reset(&b);
    enc_long(&b, -3);
    CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
    CHECK(fx.batch.cols[0].type->kind == SD_INT64 && ((int64_t *)fx.batch.cols[0].values)[0] == -3);
    fixture_close(&fx);

    /* writer [null,string] -> reader [string,null] (branch order differs) */
    CHECK(fixture_open(&fx, REC("r", FIELD("v", "[\"null\",\"string\"]")),
                       REC("r", FIELD("v", "[\"string\",\"null\"]")), NULL));
    sd_buf_reset(&b);
    enc_long(&b, 1), enc_str(&b, "s");
    CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
    sd_buf_reset(&b);
    enc_long(&b, 0);
    CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
    CHECK(col_str_is(&fx.batch.cols[0], 0, "s"));
    CHECK(sd_column_is_valid(&fx.batch.cols[0], 0) && !sd_column_is_valid(&fx.batch.cols[0], 1));
    fixture_close(&fx);

    /* no branch of the writer union fits: compile error */
    CHECK(!fixture_open(&fx, REC("r", FIELD("v", "[\"string\",\"boolean\"]")),
                        REC("r", FIELD("v", "\"int\"")), NULL));
    CHECK(strstr(fx.err.msg, "no branch of the writer union fits") != NULL);
    fixture_close(&fx);
    sd_buf_free(&b);
}

TEST(avro_resolve_enums_and_aliases) {
    const char *writer = "{\"type\":\"record\",\"name\":\"old.Rating\",\"fields\":["
                         "{\"name\":\"stars\",\"type\":{\"type\":\"enum\",\"name\":\"S\","
                         "\"symbols\":[\"ONE\",\"TWO\",\"NINE\"]}},"
                         "{\"name\":\"mood\",\"type\":{\"type\":\"enum\",\"name\":\"M\","
                         "\"symbols\":[\"HAPPY\",\"ODD\"]}},"
                         "{\"name\":\"uid\",\"type\":\"string\"}]}";
    const char *reader =
        "{\"type\":\"record\",\"name\":\"new.Score\",\"aliases\":[\"old.Rating\"],\"fields\":["
        "{\"name\":\"stars\",\"type\":{\"type\":\"enum\",\"name\":\"S\",\"symbols\":[\"UNKNOWN\","
        "\"TWO\",\"ONE\"],\"default\":\"UNKNOWN\"}},"
        "{\"name\":\"mood\",\"type\":{\"type\":\"enum\",\"name\":\"M\",\"symbols\":[\"HAPPY\"]}},"
        "{\"name\":\"user_id\",\"aliases\":[\"uid\"],\"type\":\"string\"}]}";
    avro_fixture fx;
    if (!fixture_open(&fx, writer, reader, NULL)) {
        unit_fail(__FILE__, __LINE__, "%s", fx.err.msg);
        fixture_close(&fx);
        return;
    }
    sd_buf b = SD_BUF_INIT;
    avro_reject rej;
    int stars[3] = {0, 1, 2};
    const char *want[3] = {"ONE", "TWO", "UNKNOWN"};
    for (int i = 0; i < 3; i++) {
        sd_buf_reset(&b);
        enc_long(&b, stars[i]), enc_long(&b, 0), enc_str(&b, "u");
        CHECK_OK(fixture_decode(&fx, &b, &rej), &fx.err);
        CHECK(col_str_is(&fx.batch.cols[0], (size_t)i, want[i]));
    }
    CHECK(col_str_is(&fx.batch.cols[2], 2, "u"));
    /* ODD has no counterpart and M has no default: this record fails. */
    sd_buf_reset(&b);
    enc_long(&b, 0), enc_long(&b, 1), enc_str(&b, "u");
    CHECK_INT(fixture_decode(&fx, &b, &rej), SD_ERR_FORMAT);
    CHECK_INT(rej.reason, AVRO_REJECT_NO_MATCH);
    CHECK_INT(fx.batch.nrows, 3);
    CHECK_INT(fx.batch.cols[0].len, 3);
    sd_buf_free(&b);
    fixture_close(&fx);

    /* Different record names without an alias do not match. */
    CHECK(!fixture_open(&fx, "{\"type\":\"record\",\"name\":\"A\",\"fields\":[]}",
                        "{\"type\":\"record\",\"name\":\"B\",\"fields\":[]}", NULL));
    CHECK(strstr(fx.err.msg, "writer type A cannot be read as reader type B") != NULL);
    fixture_close(&fx);
}

/* Published CRC-64-AVRO vectors of apache/avro's share/test/data/
 * schema-tests.txt (signed there; the same bits here). */
TEST(avro_fingerprint_published_vectors) {
    static const struct {
        const char *schema;
        int64_t fingerprint;
    } cases[] = {
        {"\"null\"", 7195948357588979594LL},
        {"{\"type\":\"int\"}", 8247732601305521295LL},
        {"{\"type\":\"fixed\",\"name\":\"foo\",\"size\":15}", 1756455273707447556LL},
        {"{\"type\":\"record\",\"name\":\"foo\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"}]"
         "}",
         7843277075252814651LL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        avro_schema *s = must_schema(cases[i].schema);
        if (s == NULL) continue;
        CHECK_INT((int64_t)avro_schema_fingerprint(s), cases[i].fingerprint);
        avro_schema_free(s);
    }
}
