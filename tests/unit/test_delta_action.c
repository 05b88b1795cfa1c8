/*
 * test_delta_action.c - Delta actions from and to JSON, commit files,
 * schemaString parsing and formatting, table features.
 */
#include <stdlib.h>

#include "delta/delta_internal.h"
#include "unit.h"

/* Parse one line into `a` (strings in `pool`). */
static sd_status parse_line(const char *line, delta_pool *pool, delta_action *a, sd_error *err) {
    sd_error_clear(err);
    sd_json *j = sd_json_parse(line, strlen(line), err);
    if (j == NULL) return SD_ERR_JSON;
    sd_status st = delta_action_from_json(j, pool, a, err);
    sd_json_free(j);
    return st;
}

static const char *format(sd_buf *b, const delta_action *a) {
    sd_buf_reset(b);
    delta_action_format(a, b);
    return sd_buf_cstr(b);
}

TEST(delta_action_add_all_fields) {
    delta_pool pool;
    delta_pool_init(&pool);
    sd_error err = {0};
    delta_action a;
    const char *line =
        "{\"add\":{\"path\":\"d=2024-01-01/part-0%20x.parquet\",\"partitionValues\":{\"d\":"
        "\"2024-01-01\",\"n\":null},\"size\":635,\"modificationTime\":1677811178336,"
        "\"dataChange\":true,\"stats\":\"{\\\"numRecords\\\":10}\",\"tags\":{\"INSERTION_TIME\":"
        "\"1677811178336000\"},\"deletionVector\":{\"storageType\":\"u\",\"pathOrInlineDv\":"
        "\"vBn[lx{q8@P<9BNH/isA\",\"offset\":1,\"sizeInBytes\":36,\"cardinality\":2},"
        "\"baseRowId\":7,\"defaultRowCommitVersion\":null,\"futureField\":{\"x\":[1]}}}";
    CHECK_OK(parse_line(line, &pool, &a, &err), &err);
    CHECK_INT(a.kind, DELTA_ACTION_ADD);
    const delta_add *ad = &a.u.add;
    CHECK_STR(ad->path, "d=2024-01-01/part-0%20x.parquet");
    CHECK_INT(ad->partition_values.count, 2);
    bool found = false;
    CHECK_STR(delta_map_get(&ad->partition_values, "d", &found), "2024-01-01");
    CHECK(delta_map_get(&ad->partition_values, "n", &found) == NULL && found);
    CHECK(delta_map_get(&ad->partition_values, "zz", &found) == NULL && !found);
    CHECK_INT(ad->size, 635);
    CHECK_INT(ad->modification_time, 1677811178336LL);
    CHECK(ad->data_change);
    CHECK_STR(ad->stats, "{\"numRecords\":10}");
    CHECK_STR(delta_map_get(&ad->tags, "INSERTION_TIME", NULL), "1677811178336000");
    CHECK(ad->has_dv);
    CHECK_INT(ad->dv.storage_type, 'u');
    CHECK_STR(ad->dv.path_or_inline_dv, "vBn[lx{q8@P<9BNH/isA");
    CHECK_INT(ad->dv.offset, 1);
    CHECK_INT(ad->dv.size_in_bytes, 36);
    CHECK_INT(ad->dv.cardinality, 2);
    CHECK_INT(ad->base_row_id, 7);
    CHECK_INT(ad->default_row_commit_version, -1);
    sd_buf b = SD_BUF_INIT;
    CHECK_STR(format(&b, &a),
              "{\"add\":{\"path\":\"d=2024-01-01/part-0%20x.parquet\",\"partitionValues\":{\"d\":"
              "\"2024-01-01\",\"n\":null},\"size\":635,\"modificationTime\":1677811178336,"
              "\"dataChange\":true,\"stats\":\"{\\\"numRecords\\\":10}\",\"tags\":{"
              "\"INSERTION_TIME\":\"1677811178336000\"},\"deletionVector\":{\"storageType\":\"u\","
              "\"pathOrInlineDv\":\"vBn[lx{q8@P<9BNH/isA\",\"offset\":1,\"sizeInBytes\":36,"
              "\"cardinality\":2},\"baseRowId\":7}}");
    sd_buf_free(&b);
    delta_pool_free(&pool);
}

TEST(delta_action_other_kinds) {
    delta_pool pool;
    delta_pool_init(&pool);
    sd_error err = {0};
    delta_action a;
    sd_buf b = SD_BUF_INIT;

    CHECK_OK(parse_line("{\"remove\":{\"path\":\"a.parquet\",\"deletionTimestamp\":1615043776198,"
                        "\"dataChange\":true,\"extendedFileMetadata\":true,\"partitionValues\":{},"
                        "\"size\":445}}",
                        &pool, &a, &err),
             &err);
    CHECK_INT(a.kind, DELTA_ACTION_REMOVE);
    CHECK_STR(a.u.remove.path, "a.parquet");
    CHECK_INT(a.u.remove.deletion_timestamp, 1615043776198LL);
    CHECK(a.u.remove.extended_file_metadata && a.u.remove.size == 445 && !a.u.remove.has_dv);
    CHECK_STR(format(&b, &a), "{\"remove\":{\"path\":\"a.parquet\",\"deletionTimestamp\":"
                              "1615043776198,\"dataChange\":true,\"extendedFileMetadata\":true,"
                              "\"partitionValues\":{},\"size\":445}}");

    CHECK_OK(parse_line("{\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7,"
                        "\"readerFeatures\":[\"deletionVectors\"],\"writerFeatures\":"
                        "[\"deletionVectors\",\"domainMetadata\"]}}",
                        &pool, &a, &err),
             &err);
    CHECK_INT(a.kind, DELTA_ACTION_PROTOCOL);
    CHECK_INT(a.u.protocol.min_reader_version, 3);
    CHECK_INT(a.u.protocol.nwriter_features, 2);
    CHECK_STR(a.u.protocol.writer_features[1], "domainMetadata");
    CHECK_STR(format(&b, &a), "{\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7,"
                              "\"readerFeatures\":[\"deletionVectors\"],\"writerFeatures\":["
                              "\"deletionVectors\",\"domainMetadata\"]}}");

    CHECK_OK(parse_line("{\"txn\":{\"appId\":\"movie.ratings.v1-3\",\"version\":42,"
                        "\"lastUpdated\":1700000000000}}",
                        &pool, &a, &err),
             &err);
    CHECK_INT(a.kind, DELTA_ACTION_TXN);
    CHECK_STR(a.u.txn.app_id, "movie.ratings.v1-3");
    CHECK_INT(a.u.txn.version, 42);
    CHECK_STR(format(&b, &a), "{\"txn\":{\"appId\":\"movie.ratings.v1-3\",\"version\":42,"
                              "\"lastUpdated\":1700000000000}}");

    CHECK_OK(parse_line("{\"commitInfo\":{\"timestamp\":1615043776199,\"operation\":\"DELETE\","
                        "\"operationParameters\":{\"predicate\":\"[]\"},\"inCommitTimestamp\":5}}",
                        &pool, &a, &err),
             &err);
    CHECK_INT(a.kind, DELTA_ACTION_COMMIT_INFO);
    CHECK_INT(a.u.commit_info.timestamp, 1615043776199LL);
    CHECK_INT(a.u.commit_info.in_commit_timestamp, 5);
    CHECK_STR(a.u.commit_info.json, "{\"timestamp\":1615043776199,\"operation\":\"DELETE\","
                                    "\"operationParameters\":{\"predicate\":\"[]\"},"
                                    "\"inCommitTimestamp\":5}");

    CHECK_OK(parse_line("{\"domainMetadata\":{\"domain\":\"delta.clustering\",\"configuration\":"
                        "\"{}\",\"removed\":false}}",
                        &pool, &a, &err),
             &err);
    CHECK_INT(a.kind, DELTA_ACTION_DOMAIN_METADATA);
    CHECK_STR(a.u.domain.domain, "delta.clustering");
    CHECK_STR(a.u.domain.configuration, "{}");

    CHECK_OK(
        parse_line("{\"cdc\":{\"path\":\"_change_data/x.parquet\",\"size\":1}}", &pool, &a, &err),
        &err);
    CHECK_INT(a.kind, DELTA_ACTION_CDC);
    CHECK_OK(parse_line("{\"someFutureAction\":{\"x\":1}}", &pool, &a, &err), &err);
    CHECK_INT(a.kind, DELTA_ACTION_UNKNOWN);
    CHECK_OK(
        parse_line("{\"sidecar\":{\"path\":\"s.parquet\",\"sizeInBytes\":1}}", &pool, &a, &err),
        &err);
    CHECK_INT(a.kind, DELTA_ACTION_SIDECAR);
    sd_buf_free(&b);
    delta_pool_free(&pool);
}

TEST(delta_action_metadata_and_schema) {
    delta_pool pool;
    delta_pool_init(&pool);
    sd_error err = {0};
    delta_action a;
    const char *line =
        "{\"metaData\":{\"id\":\"t1\",\"format\":{\"provider\":\"parquet\",\"options\":{}},"
        "\"schemaString\":\"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":["
        "{\\\"name\\\":\\\"event_id\\\",\\\"type\\\":\\\"string\\\",\\\"nullable\\\":false,"
        "\\\"metadata\\\":{}},"
        "{\\\"name\\\":\\\"price\\\",\\\"type\\\":\\\"decimal(10,2)\\\",\\\"nullable\\\":true,"
        "\\\"metadata\\\":{}},"
        "{\\\"name\\\":\\\"ts\\\",\\\"type\\\":\\\"timestamp_ntz\\\",\\\"nullable\\\":true,"
        "\\\"metadata\\\":{}},"
        "{\\\"name\\\":\\\"s\\\",\\\"type\\\":{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":["
        "{\\\"name\\\":\\\"a\\\",\\\"type\\\":{\\\"type\\\":\\\"array\\\",\\\"elementType\\\":"
        "\\\"short\\\",\\\"containsNull\\\":false},\\\"nullable\\\":true,\\\"metadata\\\":{}}]},"
        "\\\"nullable\\\":true,\\\"metadata\\\":{}},"
        "{\\\"name\\\":\\\"m\\\",\\\"type\\\":{\\\"type\\\":\\\"map\\\",\\\"keyType\\\":"
        "\\\"string\\\",\\\"valueType\\\":\\\"double\\\",\\\"valueContainsNull\\\":true},"
        "\\\"nullable\\\":true,\\\"metadata\\\":{}},"
        "{\\\"name\\\":\\\"rating_date\\\",\\\"type\\\":\\\"date\\\",\\\"nullable\\\":true,"
        "\\\"metadata\\\":{}}]}\",\"partitionColumns\":[\"rating_date\"],"
        "\"configuration\":{\"delta.checkpointInterval\":\"10\"},\"createdTime\":1677811175819}}";
    CHECK_OK(parse_line(line, &pool, &a, &err), &err);
    CHECK_INT(a.kind, DELTA_ACTION_METADATA);
    const delta_metadata *m = &a.u.metadata;
    CHECK_STR(m->id, "t1");
    CHECK_STR(m->format_provider, "parquet");
    CHECK_INT(m->npartition_columns, 1);
    CHECK_STR(m->partition_columns[0], "rating_date");
    CHECK_STR(delta_map_get(&m->configuration, "delta.checkpointInterval", NULL), "10");
    CHECK_INT(m->created_time, 1677811175819LL);
    CHECK(m->schema != NULL);
    if (m->schema != NULL) {
        CHECK_INT(m->schema->nchildren, 6);
        CHECK(!m->schema->children[0].nullable);
        CHECK_INT(m->schema->children[1].type.kind, SD_DECIMAL);
        CHECK_INT(m->schema->children[1].type.precision, 10);
        CHECK_INT(m->schema->children[1].type.scale, 2);
        CHECK_INT(m->schema->children[2].type.kind, SD_TIMESTAMP_NTZ);
        sd_buf b = SD_BUF_INIT;
        sd_type_format(m->schema, &b);
        CHECK_STR(sd_buf_cstr(&b), "struct<event_id:string,price:decimal(10,2),"
                                   "ts:timestamp_ntz,s:struct<a:array<smallint>>,"
                                   "m:map<string,double>,rating_date:date>");
        /* schemaString round trip: format, parse again, same type. */
        sd_buf_reset(&b);
        delta_schema_format(m->schema, &b);
        sd_schema *again = NULL;
        CHECK_OK(delta_schema_parse((const char *)b.data, b.len, &again, &err), &err);
        CHECK(again != NULL && sd_type_equal(again, m->schema));
        sd_schema_free(again);
        sd_buf_free(&b);
    }
    delta_pool_free(&pool);
}

TEST(delta_schema_errors) {
    sd_error err = {0};
    sd_schema *s = NULL;
    const char *variant = "{\"type\":\"struct\",\"fields\":[{\"name\":\"v\",\"type\":\"variant\","
                          "\"nullable\":true,\"metadata\":{}}]}";
    CHECK_INT(delta_schema_parse(variant, strlen(variant), &s, &err), SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "column 'v'") && strstr(err.msg, "'variant'"));
    sd_error_clear(&err);
    const char *bad_dec = "{\"type\":\"struct\",\"fields\":[{\"name\":\"d\",\"type\":"
                          "\"decimal(40,2)\",\"nullable\":true}]}";
    CHECK_INT(delta_schema_parse(bad_dec, strlen(bad_dec), &s, &err), SD_ERR_FORMAT);
    sd_error_clear(&err);
    const char *dup = "{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"},"
                      "{\"name\":\"a\",\"type\":\"long\"}]}";
    CHECK_INT(delta_schema_parse(dup, strlen(dup), &s, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "duplicate") != NULL);
    sd_error_clear(&err);
    CHECK_INT(delta_schema_parse("[1]", 3, &s, &err), SD_ERR_FORMAT);
    CHECK(s == NULL);
}

TEST(delta_action_field_errors) {
    delta_pool pool;
    delta_pool_init(&pool);
    sd_error err = {0};
    delta_action a;
    CHECK_INT(parse_line("{\"add\":{\"path\":\"a\",\"size\":\"big\"}}", &pool, &a, &err),
              SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "add action: field 'size'") != NULL);
    CHECK_INT(parse_line("{\"add\":{\"size\":1}}", &pool, &a, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "required field 'path'") != NULL);
    CHECK_INT(parse_line("{\"txn\":{\"appId\":\"x\"}}", &pool, &a, &err), SD_ERR_FORMAT);
    CHECK_INT(parse_line("{\"add\":{\"path\":\"a\",\"size\":1,\"deletionVector\":{\"storageType\":"
                         "\"z\",\"pathOrInlineDv\":\"x\",\"sizeInBytes\":1,\"cardinality\":1}}}",
                         &pool, &a, &err),
              SD_ERR_UNSUPPORTED);
    CHECK_INT(parse_line("[1,2]", &pool, &a, &err), SD_ERR_FORMAT);
    delta_pool_free(&pool);
}

TEST(delta_commit_parse_lines_and_errors) {
    delta_pool pool;
    delta_pool_init(&pool);
    sd_error err = {0};
    delta_action_vec v = {0};
    const char *text = "{\"commitInfo\":{\"timestamp\":1}}\n"
                       "\n"
                       "{\"add\":{\"path\":\"a.parquet\",\"size\":1,\"partitionValues\":{}}}\r\n"
                       "{\"unknownAction\":{}}\n"
                       "{\"remove\":{\"path\":\"b.parquet\"}}";
    CHECK_OK(delta_commit_parse(text, strlen(text), "_delta_log/00000000000000000001.json", &pool,
                                &v, &err),
             &err);
    CHECK_INT(v.count, 3); /* the unknown action is dropped */
    CHECK_INT(v.items[0].kind, DELTA_ACTION_COMMIT_INFO);
    CHECK_INT(v.items[1].kind, DELTA_ACTION_ADD);
    CHECK_INT(v.items[2].kind, DELTA_ACTION_REMOVE);
    delta_action_vec_free(&v);

    const char *bad = "{\"commitInfo\":{}}\n{\"add\":{\"path\":\"a\",\"size\":1}\n";
    sd_error_clear(&err);
    CHECK_INT(delta_commit_parse(bad, strlen(bad), "_delta_log/00000000000000000007.json", &pool,
                                 &v, &err),
              SD_ERR_JSON);
    CHECK(strstr(err.msg,
                 "_delta_log/00000000000000000007.json line 2: JSON: at byte 28 (end of input)") !=
          NULL);
    delta_action_vec_free(&v);
    delta_pool_free(&pool);
}

/* ------------------------------------------------------------------------ */
/* Features                                                                  */
/* ------------------------------------------------------------------------ */

static delta_metadata meta_with(const char *key, const char *value, delta_kv *kv) {
    delta_metadata m;
    memset(&m, 0, sizeof(m));
    m.schema_string = "{\"type\":\"struct\",\"fields\":[]}";
    if (key != NULL) {
        kv->key = key;
        kv->value = value;
        m.configuration.count = 1;
        m.configuration.items = kv;
    }
    return m;
}

TEST(delta_features_read_refusals) {
    sd_error err = {0};
    delta_kv kv;
    delta_metadata plain = meta_with(NULL, NULL, &kv);
    delta_protocol p = {1, 2, 0, NULL, 0, NULL};
    CHECK_OK(delta_features_check_read(&p, &plain, &err), &err);

    const char *dv[] = {"deletionVectors", "timestampNtz"};
    delta_protocol p3 = {3, 7, 2, dv, 2, dv};
    CHECK_OK(delta_features_check_read(&p3, &plain, &err), &err);

    const char *tw[] = {"deletionVectors", "typeWidening"};
    delta_protocol p_tw = {3, 7, 2, tw, 0, NULL};
    CHECK_INT(delta_features_check_read(&p_tw, &plain, &err), SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "typeWidening") != NULL);

    const char *v2[] = {"v2Checkpoint"};
    delta_protocol p_v2 = {3, 7, 1, v2, 0, NULL};
    sd_error_clear(&err);
    CHECK_INT(delta_features_check_read(&p_v2, &plain, &err), SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "v2Checkpoint") != NULL);

    const char *var[] = {"variantType"};
    delta_protocol p_var = {3, 7, 1, var, 0, NULL};
    sd_error_clear(&err);
    CHECK_INT(delta_features_check_read(&p_var, &plain, &err), SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "variantType") != NULL);

    /* Column mapping: legacy reader version 2 and feature form. */
    delta_metadata named = meta_with("delta.columnMapping.mode", "name", &kv);
    delta_protocol p2 = {2, 5, 0, NULL, 0, NULL};
    sd_error_clear(&err);
    CHECK_INT(delta_features_check_read(&p2, &named, &err), SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "columnMapping (mode name)") != NULL);
    delta_kv kv2;
    delta_metadata none = meta_with("delta.columnMapping.mode", "none", &kv2);
    CHECK_OK(delta_features_check_read(&p2, &none, &err), &err);
    const char *cm[] = {"columnMapping"};
    delta_protocol p_cm = {3, 7, 1, cm, 1, cm};
    delta_kv kv3;
    delta_metadata idm = meta_with("delta.columnMapping.mode", "id", &kv3);
    sd_error_clear(&err);
    CHECK_INT(delta_features_check_read(&p_cm, &idm, &err), SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "columnMapping (mode id)") != NULL);

    delta_protocol p4 = {4, 7, 0, NULL, 0, NULL};
    sd_error_clear(&err);
    CHECK_INT(delta_features_check_read(&p4, &plain, &err), SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "reader version 4") != NULL);
}

TEST(delta_features_write_refusals) {
    sd_error err = {0};
    delta_kv kv;
    delta_metadata plain = meta_with(NULL, NULL, &kv);
    delta_protocol p = {1, 2, 0, NULL, 0, NULL};
    CHECK_OK(delta_features_check_write(&p, &plain, &err), &err);
    delta_kv kv2;
    delta_metadata cdf = meta_with("delta.enableChangeDataFeed", "true", &kv2);
    delta_protocol p4 = {1, 4, 0, NULL, 0, NULL};
    CHECK_INT(delta_features_check_write(&p4, &cdf, &err), SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "changeDataFeed") != NULL);
    const char *rt[] = {"rowTracking"};
    delta_protocol p7 = {1, 7, 0, NULL, 1, rt};
    sd_error_clear(&err);
    CHECK_INT(delta_features_check_write(&p7, &plain, &err), SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "rowTracking") != NULL);
    delta_metadata gen = plain;
    gen.schema_string = "{\"type\":\"struct\",\"fields\":[{\"name\":\"g\",\"type\":\"long\","
                        "\"metadata\":{\"delta.generationExpression\":\"1\"}}]}";
    sd_error_clear(&err);
    CHECK_INT(delta_features_check_write(&p4, &gen, &err), SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "generatedColumns") != NULL);
}
