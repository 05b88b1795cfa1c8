/*
 * test_delta_log.c - log listing (checkpoint choice, _last_checkpoint,
 * gaps), replay and reconciliation on small hand-written tables, partition
 * value parsing and path decoding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "delta/delta_internal.h"
#include "unit.h"

/* A fresh table directory under the test's scratch directory. */
static char *make_table(const char *name) {
    char *t = sd_xasprintf("%s/%s", unit_tmpdir(), name);
    char *log = sd_xasprintf("%s/_delta_log", t);
    mkdir(t, 0755);
    mkdir(log, 0755);
    free(log);
    return t;
}

static void write_log(const char *table, const char *name, const char *text) {
    char *p = sd_xasprintf("%s/_delta_log/%s", table, name);
    FILE *f = fopen(p, "w");
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
    free(p);
}

static void write_commit(const char *table, int64_t v, const char *text) {
    char name[64];
    snprintf(name, sizeof(name), "%020lld.json", (long long)v);
    write_log(table, name, text);
}

static const char *PROTO_META =
    "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n"
    "{\"metaData\":{\"id\":\"x\",\"format\":{\"provider\":\"parquet\",\"options\":{}},"
    "\"schemaString\":\"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":[{\\\"name\\\":\\\"v\\\","
    "\\\"type\\\":\\\"long\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}},{\\\"name\\\":\\\"d\\\","
    "\\\"type\\\":\\\"date\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}}]}\","
    "\"partitionColumns\":[\"d\"],\"configuration\":{\"delta.appendOnly\":\"false\"},"
    "\"createdTime\":1}}\n";

static char *add_line(const char *path, const char *d) {
    return sd_xasprintf("{\"add\":{\"path\":\"%s\",\"partitionValues\":{\"d\":%s},\"size\":10,"
                        "\"modificationTime\":1,\"dataChange\":true}}\n",
                        path, d);
}

TEST(delta_log_classify_names) {
    int64_t v = -1;
    int part = 0, nparts = 0;
    CHECK_INT(delta_log_classify("00000000000000000012.json", &v, &part, &nparts),
              DELTA_LOG_COMMIT);
    CHECK_INT(v, 12);
    CHECK_INT(delta_log_classify("00000000000000000010.checkpoint.parquet", &v, &part, &nparts),
              DELTA_LOG_CHECKPOINT);
    CHECK_INT(delta_log_classify("00000000000000000010.checkpoint.0000000002.0000000003.parquet",
                                 &v, &part, &nparts),
              DELTA_LOG_CHECKPOINT_PART);
    CHECK(part == 2 && nparts == 3 && v == 10);
    CHECK_INT(delta_log_classify("00000000000000000010.checkpoint.80a083e8-7026-4e79-81be-"
                                 "64bd76c43a11.json",
                                 &v, &part, &nparts),
              DELTA_LOG_CHECKPOINT_V2);
    CHECK_INT(delta_log_classify("00000000000000000010.crc", &v, &part, &nparts), DELTA_LOG_OTHER);
    CHECK_INT(delta_log_classify("00000000000000000001.00000000000000000009.compacted.json", &v,
                                 &part, &nparts),
              DELTA_LOG_OTHER);
    CHECK_INT(delta_log_classify("_last_checkpoint", &v, &part, &nparts), DELTA_LOG_OTHER);
    CHECK_INT(delta_log_classify("0000000000000000001.json", &v, &part, &nparts), DELTA_LOG_OTHER);
    CHECK_INT(delta_log_classify(".00000000000000000001.json.tmp", &v, &part, &nparts),
              DELTA_LOG_OTHER);
}

TEST(delta_log_segment_checkpoint_choice) {
    char *t = make_table("seg");
    for (int v = 0; v <= 12; v++) write_commit(t, v, "{\"commitInfo\":{}}\n");
    /* complete single checkpoint at 5, incomplete 2-part one at 10 */
    write_log(t, "00000000000000000005.checkpoint.parquet", "");
    write_log(t, "00000000000000000010.checkpoint.0000000001.0000000002.parquet", "");
    sd_error err = {0};
    delta_log_segment seg;
    CHECK_OK(delta_log_segment_build(t, -1, &seg, &err), &err);
    CHECK_INT(seg.version, 12);
    CHECK_INT(seg.checkpoint_version, 5);
    CHECK_INT(seg.ncommits, 7);
    CHECK_INT(seg.commit_versions[0], 6);
    delta_log_segment_free(&seg);

    /* Completing the multi-part checkpoint makes it the choice. */
    write_log(t, "00000000000000000010.checkpoint.0000000002.0000000002.parquet", "");
    CHECK_OK(delta_log_segment_build(t, -1, &seg, &err), &err);
    CHECK_INT(seg.checkpoint_version, 10);
    CHECK_INT(seg.ncheckpoint_parts, 2);
    CHECK(strstr(seg.checkpoint_paths[1], "checkpoint.0000000002.0000000002.parquet") != NULL);
    CHECK_INT(seg.ncommits, 2);
    delta_log_segment_free(&seg);

    /* A stale _last_checkpoint (5) loses to the newer checkpoint. */
    write_log(t, "_last_checkpoint", "{\"version\":5,\"size\":3}");
    CHECK_OK(delta_log_segment_build(t, -1, &seg, &err), &err);
    CHECK_INT(seg.checkpoint_version, 10);
    delta_log_segment_free(&seg);
    /* One naming a missing checkpoint, or garbage, is ignored. */
    write_log(t, "_last_checkpoint", "{\"version\":11,\"size\":3}");
    CHECK_OK(delta_log_segment_build(t, -1, &seg, &err), &err);
    CHECK_INT(seg.checkpoint_version, 10);
    delta_log_segment_free(&seg);
    write_log(t, "_last_checkpoint", "{\"vers");
    CHECK_OK(delta_log_segment_build(t, -1, &seg, &err), &err);
    CHECK_INT(seg.checkpoint_version, 10);
    delta_log_segment_free(&seg);

    /* Time travel before the checkpoint: the older one, then commits. */
    CHECK_OK(delta_log_segment_build(t, 7, &seg, &err), &err);
    CHECK_INT(seg.version, 7);
    CHECK_INT(seg.checkpoint_version, 5);
    CHECK_INT(seg.ncommits, 2);
    delta_log_segment_free(&seg);
    CHECK_OK(delta_log_segment_build(t, 3, &seg, &err), &err);
    CHECK_INT(seg.checkpoint_version, -1);
    CHECK_INT(seg.ncommits, 4);
    delta_log_segment_free(&seg);

    CHECK_INT(delta_log_segment_build(t, 13, &seg, &err), SD_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "version 13 does not exist (latest is 12)") != NULL);
    free(t);
}

TEST(delta_log_segment_gaps_and_expiry) {
    char *t = make_table("gap");
    write_commit(t, 0, "{}\n");
    write_commit(t, 1, "{}\n");
    write_commit(t, 3, "{}\n");
    write_commit(t, 4, "{}\n");
    sd_error err = {0};
    delta_log_segment seg;
    CHECK_INT(delta_log_segment_build(t, -1, &seg, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "_delta_log/00000000000000000002.json is missing") != NULL);
    CHECK(strstr(err.msg, "jumps from version 1 to 3") != NULL);
    /* Version 1 is still readable. */
    sd_error_clear(&err);
    CHECK_OK(delta_log_segment_build(t, 1, &seg, &err), &err);
    CHECK_INT(seg.ncommits, 2);
    delta_log_segment_free(&seg);
    free(t);

    /* Expired commits before a checkpoint: versions before it are gone. */
    t = make_table("expired");
    write_log(t, "00000000000000000005.checkpoint.parquet", "");
    write_commit(t, 5, "{}\n");
    write_commit(t, 6, "{}\n");
    CHECK_OK(delta_log_segment_build(t, -1, &seg, &err), &err);
    CHECK_INT(seg.checkpoint_version, 5);
    CHECK_INT(seg.ncommits, 1);
    delta_log_segment_free(&seg);
    CHECK_INT(delta_log_segment_build(t, 3, &seg, &err), SD_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "cannot be reconstructed") != NULL);
    free(t);

    sd_error_clear(&err);
    char *none = sd_xasprintf("%s/no-such-table", unit_tmpdir());
    CHECK_INT(delta_log_segment_build(none, -1, &seg, &err), SD_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "no _delta_log directory") != NULL);
    free(none);
}

TEST(delta_snapshot_replay_reconciliation) {
    char *t = make_table("replay");
    sd_buf c0 = SD_BUF_INIT;
    sd_buf_append_str(&c0, "{\"commitInfo\":{\"timestamp\":1,\"inCommitTimestamp\":1000}}\n");
    sd_buf_append_str(&c0, PROTO_META);
    char *a1 = add_line("d=2024-01-01/a.parquet", "\"2024-01-01\"");
    char *a2 = add_line("d=2024-01-02/b.parquet", "\"2024-01-02\"");
    char *a3 = add_line("d=__HIVE_DEFAULT_PARTITION__/c.parquet", "null");
    sd_buf_append_str(&c0, a1);
    sd_buf_append_str(&c0, a2);
    sd_buf_append_str(&c0, a3);
    sd_buf_append_str(&c0, "{\"txn\":{\"appId\":\"topic-0\",\"version\":5}}\n");
    write_commit(t, 0, sd_buf_cstr(&c0));
    /* v1: remove b, DV-update a (remove a without DV + add a with DV), txn */
    write_commit(
        t, 1,
        "{\"commitInfo\":{\"inCommitTimestamp\":2000}}\n"
        "{\"remove\":{\"path\":\"d=2024-01-02/b.parquet\",\"deletionTimestamp\":7,"
        "\"dataChange\":true}}\n"
        "{\"remove\":{\"path\":\"d=2024-01-01/a.parquet\",\"dataChange\":true}}\n"
        "{\"add\":{\"path\":\"d=2024-01-01/a.parquet\",\"partitionValues\":{\"d\":"
        "\"2024-01-01\"},\"size\":10,\"modificationTime\":1,\"dataChange\":true,"
        "\"deletionVector\":{\"storageType\":\"i\",\"pathOrInlineDv\":\"abcde\","
        "\"sizeInBytes\":4,\"cardinality\":1}}}\n"
        "{\"txn\":{\"appId\":\"topic-0\",\"version\":9}}\n"
        "{\"txn\":{\"appId\":\"topic-1\",\"version\":3}}\n"
        "{\"domainMetadata\":{\"domain\":\"a\",\"configuration\":\"{\\\"k\\\":1}\","
        "\"removed\":false}}\n"
        "{\"domainMetadata\":{\"domain\":\"b\",\"configuration\":\"{}\",\"removed\":false}}"
        "\n");
    /* v2: re-add b (drops its tombstone), remove domain b */
    char *v2 = sd_xasprintf("%s{\"domainMetadata\":{\"domain\":\"b\",\"configuration\":\"\","
                            "\"removed\":true}}\n",
                            a2);
    write_commit(t, 2, v2);

    sd_error err = {0};
    delta_snapshot *s = NULL;
    CHECK_OK(delta_snapshot_load(t, -1, &s, &err), &err);
    if (s != NULL) {
        CHECK_INT(delta_snapshot_version(s), 2);
        CHECK_INT(delta_snapshot_num_files(s), 3);
        const delta_file *f0 = delta_snapshot_file(s, 0);
        CHECK_STR(f0->add->path, "d=2024-01-01/a.parquet");
        CHECK(f0->add->has_dv);
        CHECK_INT(f0->version, 1);
        CHECK(!f0->partition_values[0].is_null);
        CHECK_INT(f0->partition_values[0].kind, SD_DATE);
        CHECK_INT(f0->partition_values[0].u.i, 19723); /* 2024-01-01 */
        const delta_file *f1 = delta_snapshot_file(s, 1);
        CHECK_STR(f1->add->path, "d=2024-01-02/b.parquet");
        CHECK_INT(f1->version, 2);
        const delta_file *f2 = delta_snapshot_file(s, 2);
        CHECK(f2->partition_values[0].is_null);
        /* Tombstone: only a without DV remains (b was re-added). */
        CHECK_INT(delta_snapshot_num_tombstones(s), 1);
        CHECK_STR(delta_snapshot_tombstone(s, 0)->path, "d=2024-01-01/a.parquet");
        CHECK_INT(delta_snapshot_txn_version(s, "topic-0"), 9);
        CHECK_INT(delta_snapshot_txn_version(s, "topic-1"), 3);
        CHECK_INT(delta_snapshot_txn_version(s, "topic-2"), -1);
        CHECK_STR(delta_snapshot_domain(s, "a"), "{\"k\":1}");
        CHECK(delta_snapshot_domain(s, "b") == NULL);
        CHECK_STR(delta_snapshot_property(s, "delta.appendOnly", "x"), "false");
        CHECK_STR(delta_snapshot_property(s, "delta.checkpointInterval", "10"), "10");
        CHECK_INT(delta_snapshot_commit_timestamp(s, 0), 1000);
        CHECK_INT(delta_snapshot_commit_timestamp(s, 1), 2000);
        CHECK(delta_snapshot_timestamp(s) > 1000000000000LL); /* v2: file mtime */
        CHECK_INT(delta_snapshot_schema(s)->nchildren, 2);
        delta_snapshot_free(s);
    }
    /* Time travel to version 0. */
    CHECK_OK(delta_snapshot_load(t, 0, &s, &err), &err);
    if (s != NULL) {
        CHECK_INT(delta_snapshot_num_files(s), 3);
        CHECK(!delta_snapshot_file(s, 0)->add->has_dv);
        CHECK_INT(delta_snapshot_txn_version(s, "topic-0"), 5);
        CHECK_INT(delta_snapshot_num_tombstones(s), 0);
        delta_snapshot_free(s);
    }
    /* Incremental update from version 0 equals the full load of 2. */
    delta_snapshot *v0 = NULL, *full = NULL, *upd = NULL, *same = NULL;
    CHECK_OK(delta_snapshot_load(t, 0, &v0, &err), &err);
    CHECK_OK(delta_snapshot_load(t, -1, &full, &err), &err);
    if (v0 != NULL) CHECK_OK(delta_snapshot_update(v0, -1, &upd, &err), &err);
    delta_snapshot_free(v0); /* the update must not depend on it */
    if (full != NULL && upd != NULL) {
        CHECK_INT(delta_snapshot_version(upd), 2);
        CHECK_INT(delta_snapshot_num_files(upd), delta_snapshot_num_files(full));
        for (size_t i = 0; i < delta_snapshot_num_files(full) && i < delta_snapshot_num_files(upd);
             i++) {
            const delta_file *a = delta_snapshot_file(full, i), *b = delta_snapshot_file(upd, i);
            CHECK_STR(a->add->path, b->add->path);
            CHECK_INT(a->version, b->version);
            CHECK_INT(a->add->has_dv, b->add->has_dv);
            CHECK_INT(a->partition_values[0].is_null, b->partition_values[0].is_null);
            CHECK_INT(a->partition_values[0].u.i, b->partition_values[0].u.i);
        }
        CHECK_INT(delta_snapshot_num_tombstones(upd), 1);
        CHECK_INT(delta_snapshot_txn_version(upd, "topic-0"), 9);
        CHECK_INT(delta_snapshot_txn_version(upd, "topic-1"), 3);
        CHECK_STR(delta_snapshot_domain(upd, "a"), "{\"k\":1}");
        CHECK(delta_snapshot_domain(upd, "b") == NULL);
        CHECK_INT(delta_snapshot_commit_timestamp(upd, 0), 1000);
        CHECK_INT(delta_snapshot_commit_timestamp(upd, 1), 2000);
        CHECK_STR(delta_snapshot_property(upd, "delta.appendOnly", ""), "false");
        /* Nothing new: same state. */
        CHECK_OK(delta_snapshot_update(upd, -1, &same, &err), &err);
        if (same != NULL) {
            CHECK_INT(delta_snapshot_version(same), 2);
            CHECK_INT(delta_snapshot_num_files(same), 3);
        }
    }
    delta_snapshot_free(same);
    delta_snapshot_free(upd);
    delta_snapshot_free(full);
    /* A corrupt line: the error names the commit file and the line. */
    write_commit(t, 3, "{\"commitInfo\":{}}\n{\"add\":{\"path\":\"x\",\"size\":1,}}\n");
    sd_error_clear(&err);
    CHECK_INT(delta_snapshot_load(t, -1, &s, &err), SD_ERR_JSON);
    CHECK(strstr(err.msg, "_delta_log/00000000000000000003.json line 2: JSON: at byte 28") != NULL);
    /* A reader feature we do not implement. */
    write_commit(t, 3,
                 "{\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7,\"readerFeatures\":"
                 "[\"typeWidening\"],\"writerFeatures\":[\"typeWidening\"]}}\n");
    sd_error_clear(&err);
    CHECK_INT(delta_snapshot_load(t, -1, &s, &err), SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "typeWidening") != NULL);
    CHECK(s == NULL);
    /* A bad partition value names the file and column. */
    write_commit(t, 3,
                 "{\"add\":{\"path\":\"bad.parquet\",\"partitionValues\":{\"d\":\"2024-13-01\"},"
                 "\"size\":1,\"modificationTime\":1,\"dataChange\":true}}\n");
    sd_error_clear(&err);
    CHECK_INT(delta_snapshot_load(t, -1, &s, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "file bad.parquet: partition value '2024-13-01' of column 'd'") != NULL);
    free(v2);
    free(a1);
    free(a2);
    free(a3);
    sd_buf_free(&c0);
    free(t);
}

TEST(delta_snapshot_requires_protocol_and_metadata) {
    char *t = make_table("nometa");
    write_commit(t, 0, "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n");
    sd_error err = {0};
    delta_snapshot *s = NULL;
    CHECK_INT(delta_snapshot_load(t, -1, &s, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "no metaData action") != NULL);
    free(t);
}

static void pv(const char *type_json, const char *text, sd_value *out, sd_status want, int line) {
    char *js =
        sd_xasprintf("{\"type\":\"struct\",\"fields\":[{\"name\":\"c\",\"type\":%s}]}", type_json);
    sd_schema *s = NULL;
    sd_error err = {0};
    if (delta_schema_parse(js, strlen(js), &s, &err) != SD_OK) {
        unit_fail(__FILE__, line, "schema %s: %s", type_json, err.msg);
        free(js);
        return;
    }
    sd_status st = delta_partition_value_parse("c", &s->children[0].type, text, out, &err);
    if (st != want)
        unit_fail(__FILE__, line, "'%s' as %s: status %d (%s)", text ? text : "NULL", type_json, st,
                  err.msg);
    sd_schema_free(s);
    free(js);
}
#define PV(t, text, out, want) pv(t, text, out, want, __LINE__)

TEST(delta_partition_values_typed) {
    sd_value v;
    PV("\"string\"", "A/A", &v, SD_OK);
    CHECK(v.kind == SD_STRING && v.u.s.len == 3 && memcmp(v.u.s.ptr, "A/A", 3) == 0);
    PV("\"string\"", "", &v, SD_OK);
    CHECK(v.is_null);
    PV("\"string\"", NULL, &v, SD_OK);
    CHECK(v.is_null);
    PV("\"integer\"", "-42", &v, SD_OK);
    CHECK(!v.is_null && v.u.i == -42);
    PV("\"integer\"", "2147483648", &v, SD_ERR_FORMAT);
    PV("\"byte\"", "127", &v, SD_OK);
    PV("\"byte\"", "128", &v, SD_ERR_FORMAT);
    PV("\"long\"", "9223372036854775807", &v, SD_OK);
    CHECK(v.u.i == INT64_MAX);
    PV("\"long\"", "12a", &v, SD_ERR_FORMAT);
    PV("\"boolean\"", "true", &v, SD_OK);
    CHECK(v.u.b);
    PV("\"boolean\"", "false", &v, SD_OK);
    CHECK(!v.u.b);
    PV("\"boolean\"", "yes", &v, SD_ERR_FORMAT);
    PV("\"date\"", "1970-01-02", &v, SD_OK);
    CHECK(v.u.i == 1);
    PV("\"timestamp\"", "1970-01-01 00:00:01.5", &v, SD_OK);
    CHECK(v.u.i == 1500000);
    PV("\"timestamp_ntz\"", "2021-01-01 00:00:00", &v, SD_OK);
    CHECK(v.kind == SD_TIMESTAMP_NTZ && v.u.i == 1609459200000000LL);
    PV("\"decimal(5,2)\"", "-12.3", &v, SD_OK);
    CHECK(v.kind == SD_DECIMAL && v.u.dec == -1230 && v.scale == 2);
    PV("\"decimal(5,2)\"", "1.234", &v, SD_ERR_FORMAT);
    PV("\"decimal(5,2)\"", "1234.5", &v, SD_ERR_FORMAT);
    PV("\"decimal(5,2)\"", "12.300", &v, SD_OK);
    CHECK(v.u.dec == 1230);
    /* Precision limits, without overflowing 128 bits (fuzzer finding). */
    PV("\"decimal(38,0)\"", "99999999999999999999999999999999999999", &v, SD_OK);
    CHECK(v.u.dec > 0 && v.u.dec % 1000 == 999);
    PV("\"decimal(38,0)\"", "999999999999999999999999999999999999999", &v, SD_ERR_FORMAT);
    PV("\"decimal(38,30)\"", "12345678901", &v, SD_ERR_FORMAT);
    PV("\"decimal(38,30)\"", "00000000000000000000000000000000000000001.5", &v, SD_OK);
    PV("\"double\"", "2021.0", &v, SD_OK);
    CHECK(v.u.d == 2021.0);
    PV("\"float\"", "x", &v, SD_ERR_FORMAT);
}

TEST(delta_path_decoding) {
    sd_error err = {0};
    char *p = delta_path_decode("x=A%252FA/part-00007.c000.snappy.parquet", &err);
    CHECK_STR(p, "x=A%2FA/part-00007.c000.snappy.parquet");
    free(p);
    p = delta_path_decode("x=B%20B/p.parquet", &err);
    CHECK_STR(p, "x=B B/p.parquet");
    free(p);
    p = delta_path_decode("file:///data/t/p%3A1.parquet", &err);
    CHECK_STR(p, "/data/t/p:1.parquet");
    free(p);
    p = delta_path_decode("file:/data/t/a.parquet", &err);
    CHECK_STR(p, "/data/t/a.parquet");
    free(p);
    CHECK(delta_path_decode("s3://bucket/a.parquet", &err) == NULL);
    CHECK_INT(err.code, SD_ERR_UNSUPPORTED);
    sd_error_clear(&err);
    CHECK(delta_path_decode("a%2", &err) == NULL);
    CHECK_INT(err.code, SD_ERR_FORMAT);
    sd_error_clear(&err);
    CHECK(delta_path_decode("a%00b", &err) == NULL);
    sd_error_clear(&err);
    p = delta_path_resolve("/t", "d=1/a.parquet", &err);
    CHECK_STR(p, "/t/d=1/a.parquet");
    free(p);
    CHECK(delta_path_resolve("/t", "../etc/passwd", &err) == NULL);
    sd_error_clear(&err);
    CHECK(delta_path_resolve("/t", "a/%2E%2E/%2E%2E/x", &err) == NULL);
}
