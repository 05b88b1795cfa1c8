/*
 * test_delta_dv_write.c - writing deletion vectors: Z85 encoding, the
 * RoaringBitmapArray encoder (byte-exact against the conformance table's
 * DV file and the PROTOCOL.md inline example, round trips through our
 * reader for array, bitmap and run containers), DV files, tables created
 * with delta.enableDeletionVectors, and delete_rows on a real table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "delta/delta_internal.h"
#include "unit.h"

TEST(delta_dv_z85_encode_reference_vector) {
    /* The ZeroMQ Z85 specification's example (rfc.zeromq.org/spec/32). */
    static const uint8_t in[] = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
    sd_buf out = SD_BUF_INIT;
    delta_z85_encode(in, 8, &out);
    CHECK_STR(sd_buf_cstr(&out), "HelloWorld");
    /* The conformance DV's UUID 61d16c75-6994-46b7-a15b-8b538852e50e. */
    static const uint8_t uuid[16] = {0x61, 0xd1, 0x6c, 0x75, 0x69, 0x94, 0x46, 0xb7,
                                     0xa1, 0x5b, 0x8b, 0x53, 0x88, 0x52, 0xe5, 0x0e};
    sd_buf_reset(&out);
    delta_z85_encode(uuid, 16, &out);
    CHECK_STR(sd_buf_cstr(&out), "vBn[lx{q8@P<9BNH/isA");
    sd_buf_free(&out);
}

TEST(delta_dv_encode_matches_conformance_file) {
    /* table-with-dv-small deletes rows 0 and 9: decode the file, encode the
     * rows again, and the bytes must be identical (data and checksum). */
    char *path = sd_xasprintf(
        "%s/table-with-dv-small/deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin",
        unit_conformance_dir());
    sd_buf file = SD_BUF_INIT;
    sd_error err = {0};
    sd_status st = sd_read_file(path, &file, &err);
    free(path);
    REQUIRE_OK(st, &err);
    if (file.len != 1 + 4 + 36 + 4) {
        CHECK_INT(file.len, 1 + 4 + 36 + 4);
        sd_buf_free(&file);
        return;
    }
    delta_rowset rs;
    CHECK_OK(delta_dv_decode_bitmap(file.data + 5, 36, 2, &rs, &err), &err);
    CHECK_INT(rs.count, 2);
    sd_buf enc = SD_BUF_INIT;
    CHECK_OK(delta_dv_encode_bitmap(rs.rows, rs.count, &enc, &err), &err);
    CHECK_INT(enc.len, 36);
    CHECK(enc.len == 36 && memcmp(enc.data, file.data + 5, 36) == 0);
    uint32_t crc = (uint32_t)crc32(0, enc.data, (uInt)enc.len);
    const uint8_t *c = file.data + 41;
    CHECK(crc == (((uint32_t)c[0] << 24) | ((uint32_t)c[1] << 16) | ((uint32_t)c[2] << 8) | c[3]));
    delta_rowset_free(&rs);
    sd_buf_free(&enc);
    sd_buf_free(&file);
}

TEST(delta_dv_inline_roundtrip) {
    /* PROTOCOL.md "JSON Example 3 - Inline" lists rows 3, 4, 7, 11, 18, 29,
     * but its Z85 text does not follow the format the same document gives
     * (it decodes to bytes 64 39 d3 d0 ..., not the little-endian magic
     * 1681511377 = d1 d3 39 64 that Delta and the conformance table write),
     * so it is not a usable vector; the same rows round-trip here. */
    static const uint64_t want[] = {3, 4, 7, 11, 18, 29};
    delta_rowset rs;
    sd_error err = {0};
    /* Unsorted input with a duplicate: sorted and deduplicated. */
    const uint64_t rows[] = {29, 3, 18, 4, 7, 11, 3};
    delta_dv_descriptor dv;
    CHECK_OK(delta_dv_inline(rows, 7, &dv, &err), &err);
    CHECK(dv.storage_type == 'i' && dv.offset == -1);
    CHECK_INT(dv.cardinality, 6);
    /* magic 4 + buckets 8 + key 4 + cookie 4 + count 4 + header 4 +
     * offset 4 + 6 values * 2 = 44. */
    CHECK_INT(dv.size_in_bytes, 44);
    CHECK_INT(strlen(dv.path_or_inline_dv), 55);
    CHECK_OK(delta_dv_load("/nonexistent", &dv, &rs, &err), &err);
    CHECK_INT(rs.count, 6);
    for (size_t i = 0; i < rs.count && i < 6; i++) CHECK_INT(rs.rows[i], want[i]);
    delta_rowset_free(&rs);
    delta_dv_descriptor_clear(&dv);
}

/* Encode, decode with our reader, compare. */
static void roundtrip(const uint64_t *rows, size_t n) {
    sd_buf enc = SD_BUF_INIT;
    sd_error err = {0};
    CHECK_OK(delta_dv_encode_bitmap(rows, n, &enc, &err), &err);
    delta_rowset rs;
    CHECK_OK(delta_dv_decode_bitmap(enc.data, enc.len, n, &rs, &err), &err);
    CHECK_INT(rs.count, n);
    bool same = rs.count == n;
    for (size_t i = 0; same && i < n; i++) same = rs.rows[i] == rows[i];
    CHECK(same);
    delta_rowset_free(&rs);
    sd_buf_free(&enc);
}

TEST(delta_dv_encode_container_kinds_roundtrip) {
    size_t cap = 200000;
    uint64_t *rows = sd_xmalloc(cap * sizeof(uint64_t));
    size_t n = 0;
    /* Sparse: array container. */
    for (uint64_t v = 5; v < 60000; v += 997) rows[n++] = v;
    /* Dense and scattered in container 1 (5000 values, every 13th): bitmap. */
    for (uint64_t k = 0; k < 5000; k++) rows[n++] = 65536 + k * 13;
    /* One long run in container 3: a run container. */
    for (uint64_t v = 3 * 65536 + 100; v < 3 * 65536 + 40000; v++) rows[n++] = v;
    /* Bucket 1 (rows >= 2^32) and a high bucket. */
    rows[n++] = ((uint64_t)1 << 32) + 7;
    rows[n++] = ((uint64_t)1 << 32) + 65535;
    rows[n++] = ((uint64_t)5 << 32) + 1;
    roundtrip(rows, n);

    sd_buf enc = SD_BUF_INIT;
    sd_error err = {0};
    CHECK_OK(delta_dv_encode_bitmap(rows, n, &enc, &err), &err);
    /* Bucket 0 has a run container: run cookie 12347 with 3 containers. */
    const uint8_t *b0 = enc.data + 4 + 8 + 4;
    CHECK_INT(b0[0] | (b0[1] << 8), 12347);
    CHECK_INT(b0[2] | (b0[3] << 8), 2); /* containers - 1 */
    CHECK_INT(b0[4], 0x04);             /* run bitmap: only the third */
    /* Size: array 61*2 + bitmap 8192 + run 2+4, headers, no offsets (< 4). */
    size_t bucket0 = 4 + 1 + 3 * 4 + 61 * 2 + 8192 + 6;
    CHECK_INT(enc.data[4], 3); /* three buckets */
    /* Next bucket key follows bucket 0 directly. */
    const uint8_t *k1 = b0 + bucket0;
    CHECK_INT(k1[0], 1);
    sd_buf_free(&enc);

    /* Every value of a container (65536, run of one), empty set, a single row. */
    n = 0;
    for (uint64_t v = 0; v < 65536; v++) rows[n++] = 65536 * 2 + v;
    roundtrip(rows, n);
    roundtrip(rows, 0);
    rows[0] = 0;
    roundtrip(rows, 1);
    /* 4 or more containers with a run: offsets header present. */
    n = 0;
    for (uint64_t c = 0; c < 6; c++)
        for (uint64_t v = 0; v < 3000; v++) rows[n++] = c * 65536 + (c % 2 ? v * 3 : v);
    roundtrip(rows, n);
    free(rows);
}

TEST(delta_dv_encode_refuses_bad_input) {
    sd_buf enc = SD_BUF_INIT;
    sd_error err = {0};
    const uint64_t dup[] = {1, 1};
    CHECK_INT(delta_dv_encode_bitmap(dup, 2, &enc, &err), SD_ERR_ARG);
    CHECK(strstr(err.msg, "ascending") != NULL);
    const uint64_t big[] = {(uint64_t)1 << 63};
    sd_error_clear(&err);
    CHECK_INT(delta_dv_encode_bitmap(big, 1, &enc, &err), SD_ERR_ARG);
    CHECK(strstr(err.msg, "out of range") != NULL);
    sd_buf_free(&enc);
}

TEST(delta_dv_write_file_roundtrip) {
    char *table = sd_xasprintf("%s/dvw_file", unit_tmpdir());
    mkdir(table, 0777);
    const uint64_t rows[] = {100000, 2, 70000, 2, 9};
    delta_dv_descriptor dv;
    sd_error err = {0};
    CHECK_OK(delta_dv_write(table, rows, 5, &dv, &err), &err);
    CHECK(dv.storage_type == 'u' && dv.offset == 1);
    CHECK_INT(dv.cardinality, 4);
    CHECK_INT(strlen(dv.path_or_inline_dv), 20);
    delta_rowset rs;
    CHECK_OK(delta_dv_load(table, &dv, &rs, &err), &err);
    static const uint64_t want[] = {2, 9, 70000, 100000};
    CHECK_INT(rs.count, 4);
    for (size_t i = 0; i < rs.count && i < 4; i++) CHECK_INT(rs.rows[i], want[i]);
    delta_rowset_free(&rs);
    /* The file: version byte, size, data, checksum - and nothing else. */
    char *cmd = sd_xasprintf("ls %s/deletion_vector_*.bin | wc -l", table);
    FILE *p = popen(cmd, "r");
    int nfiles = 0;
    if (p) {
        if (fscanf(p, "%d", &nfiles) != 1) nfiles = -1;
        pclose(p);
    }
    CHECK_INT(nfiles, 1);
    free(cmd);
    delta_dv_descriptor_clear(&dv);
    /* A table directory that does not exist: an I/O error naming it. */
    CHECK_INT(delta_dv_write("/nonexistent/dir", rows, 1, &dv, &err), SD_ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent/dir/deletion_vector_") != NULL);
    free(table);
}

/* ------------------------------------------------------------------------ */
/* Tables                                                                    */
/* ------------------------------------------------------------------------ */

static char *dv_table(const char *name, bool enable) {
    char *path = sd_xasprintf("%s/%s", unit_tmpdir(), name);
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "id", SD_INT64, false);
    sd_type_add_field(s, "day", SD_DATE, true);
    const char *parts[1] = {"day"};
    delta_kv kv = {"delta.enableDeletionVectors", "true"};
    delta_map cfg = {enable ? 1 : 0, &kv};
    sd_error err = {0};
    CHECK_OK(delta_table_create(path, s, parts, 1, &cfg, &err), &err);
    sd_schema_free(s);
    return path;
}

static delta_snapshot *dv_snap(const char *path) {
    sd_error err = {0};
    delta_snapshot *s = NULL;
    if (delta_snapshot_load(path, -1, &s, &err) != SD_OK)
        unit_fail(__FILE__, __LINE__, "load %s: %s", path, err.msg);
    return s;
}

/* Commit one Parquet file of ids [first, first + rows) in day=2024-10-04. */
static void dv_append(const char *table, int64_t first, int rows, const char *name) {
    sd_schema *fs = sd_schema_new();
    sd_type_add_field(fs, "id", SD_INT64, false);
    sd_batch b;
    sd_batch_init(&b, fs);
    for (int r = 0; r < rows; r++) sd_column_append_i64(&b.cols[0], first + r);
    b.nrows = (size_t)rows;
    char *dir = sd_xasprintf("%s/day=2024-10-04", table);
    mkdir(dir, 0777);
    char *rel = sd_xasprintf("day=2024-10-04/%s", name);
    char *full = sd_xasprintf("%s/%s", table, rel);
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.row_group_size = 8000; /* small row groups where the writer splits: DV rows span them */
    pq_file_summary sum = {0};
    sd_error err = {0};
    CHECK_OK(pq_write_file(full, &b, &o, &sum, &err), &err);
    sd_buf stats = SD_BUF_INIT;
    delta_stats_from_summary(&sum, &stats);
    delta_kv kv = {"day", "2024-10-04"};
    delta_add a = {0};
    a.path = rel;
    a.partition_values = (delta_map){1, &kv};
    a.size = sum.file_size;
    a.modification_time = sd_now_ms();
    a.data_change = true;
    a.stats = sd_buf_cstr(&stats);
    a.base_row_id = -1;
    a.default_row_commit_version = -1;
    delta_snapshot *s = dv_snap(table);
    delta_transaction *t = delta_transaction_begin(s, "WRITE");
    delta_transaction_add(t, &a);
    CHECK_OK(delta_transaction_commit(t, 5, NULL, &err), &err);
    delta_transaction_free(t);
    delta_snapshot_free(s);
    pq_file_summary_free(&sum);
    sd_buf_free(&stats);
    sd_batch_free(&b);
    sd_schema_free(fs);
    free(dir);
    free(rel);
    free(full);
}

/* The ids the latest version returns, marked in `seen` (ids < n). */
static int64_t dv_read_ids(const char *table, bool *seen, size_t n) {
    memset(seen, 0, n);
    int64_t count = 0;
    delta_snapshot *s = dv_snap(table);
    sd_error err = {0};
    for (size_t i = 0; s && i < delta_snapshot_num_files(s); i++) {
        const char *cols[] = {"id"};
        delta_file_reader *r = delta_file_reader_open(s, delta_snapshot_file(s, i), cols, 1, &err);
        CHECK(r != NULL);
        sd_batch b;
        bool more;
        while (r && delta_file_reader_next(r, &b, &more, &err) == SD_OK && more) {
            for (size_t k = 0; k < b.nrows; k++) {
                int64_t id = ((int64_t *)b.cols[0].values)[k];
                if (id >= 0 && (size_t)id < n) seen[id] = true;
            }
            count += (int64_t)b.nrows;
            sd_batch_free(&b);
        }
        delta_file_reader_close(r);
    }
    delta_snapshot_free(s);
    return count;
}

TEST(delta_dv_table_create_protocol) {
    char *t = dv_table("dvw_proto", true);
    delta_snapshot *s = dv_snap(t);
    const delta_protocol *p = delta_snapshot_protocol(s);
    CHECK_INT(p->min_reader_version, 3);
    CHECK_INT(p->min_writer_version, 7);
    CHECK_INT(p->nreader_features, 1);
    if (p->nreader_features == 1) CHECK_STR(p->reader_features[0], "deletionVectors");
    /* Writer version 2's implied features stay (Spark refuses a table with
     * NOT NULL columns whose protocol lacks invariants). */
    CHECK_INT(p->nwriter_features, 3);
    if (p->nwriter_features == 3) {
        CHECK_STR(p->writer_features[0], "appendOnly");
        CHECK_STR(p->writer_features[1], "invariants");
        CHECK_STR(p->writer_features[2], "deletionVectors");
    }
    CHECK(delta_snapshot_dv_supported(s));
    CHECK(delta_snapshot_dv_enabled(s));
    delta_snapshot_free(s);
    free(t);
    /* Without the property: (1,2), no DVs. */
    t = dv_table("dvw_proto_off", false);
    s = dv_snap(t);
    p = delta_snapshot_protocol(s);
    CHECK_INT(p->min_reader_version, 1);
    CHECK_INT(p->min_writer_version, 2);
    CHECK(!delta_snapshot_dv_supported(s));
    CHECK(!delta_snapshot_dv_enabled(s));
    delta_snapshot_free(s);
    free(t);
}

TEST(delta_dv_delete_rows_in_table) {
    char *t = dv_table("dvw_delete", true);
    dv_append(t, 0, 3000, "part-a.parquet");
    dv_append(t, 3000, 500, "part-b.parquet");
    bool seen[3500];
    CHECK_INT(dv_read_ids(t, seen, 3500), 3500);

    /* Delete rows 0, 999, 1000 and 2999 of part-a (ids equal row indexes). */
    delta_snapshot *s = dv_snap(t);
    const delta_file *fa = NULL;
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++)
        if (strstr(delta_snapshot_file(s, i)->add->path, "part-a")) fa = delta_snapshot_file(s, i);
    CHECK(fa != NULL);
    delta_transaction *tx = delta_transaction_begin(s, "DELETE");
    const uint64_t del1[] = {2999, 0, 1000, 999};
    int64_t newly = 0;
    sd_error err = {0};
    CHECK_OK(delta_transaction_delete_rows(tx, s, fa, del1, 4, &newly, NULL, &err), &err);
    CHECK_INT(newly, 4);
    CHECK_OK(delta_transaction_commit(tx, 5, NULL, &err), &err);
    delta_transaction_free(tx);
    delta_snapshot_free(s);
    CHECK_INT(dv_read_ids(t, seen, 3500), 3496);
    CHECK(!seen[0] && !seen[999] && !seen[1000] && !seen[2999]);
    CHECK(seen[1] && seen[998] && seen[1001] && seen[2998] && seen[3000]);

    /* The log: remove (old, no DV) and add with the DV, tightBounds false. */
    s = dv_snap(t);
    fa = NULL;
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++)
        if (strstr(delta_snapshot_file(s, i)->add->path, "part-a")) fa = delta_snapshot_file(s, i);
    CHECK(fa != NULL && fa->add->has_dv);
    if (fa && fa->add->has_dv) {
        CHECK_INT(fa->add->dv.cardinality, 4);
        CHECK(fa->add->dv.storage_type == 'u');
        CHECK(strstr(fa->add->stats, "\"tightBounds\":false") != NULL);
        CHECK(strstr(fa->add->stats, "\"numRecords\":3000") != NULL);
    }
    CHECK_INT(delta_snapshot_num_files(s), 2);

    /* Second delete on the same file: the new DV is the union. Row 0 again
     * and rows 5, 1500 new. */
    tx = delta_transaction_begin(s, "DELETE");
    const uint64_t del2[] = {0, 5, 1500};
    CHECK_OK(delta_transaction_delete_rows(tx, s, fa, del2, 3, &newly, NULL, &err), &err);
    CHECK_INT(newly, 2);
    CHECK_OK(delta_transaction_commit(tx, 5, NULL, &err), &err);
    delta_transaction_free(tx);
    delta_snapshot_free(s);
    CHECK_INT(dv_read_ids(t, seen, 3500), 3494);
    CHECK(!seen[0] && !seen[5] && !seen[999] && !seen[1500] && !seen[2999] && seen[4]);

    /* Nothing new: nothing staged. Past the end: refused. */
    s = dv_snap(t);
    fa = NULL;
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++)
        if (strstr(delta_snapshot_file(s, i)->add->path, "part-a")) fa = delta_snapshot_file(s, i);
    CHECK(fa != NULL);
    CHECK_INT(fa ? fa->add->dv.cardinality : -1, 6);
    tx = delta_transaction_begin(s, "DELETE");
    CHECK_OK(delta_transaction_delete_rows(tx, s, fa, del2, 3, &newly, NULL, &err), &err);
    CHECK_INT(newly, 0);
    const uint64_t past[] = {3000};
    CHECK_INT(delta_transaction_delete_rows(tx, s, fa, past, 1, &newly, NULL, &err), SD_ERR_ARG);
    CHECK(strstr(err.msg, "past the end") != NULL);
    delta_transaction_free(tx);

    /* A checkpoint keeps the DV: reload from it and read again. */
    CHECK_OK(delta_checkpoint_write(s, &err), &err);
    delta_snapshot_free(s);
    CHECK_INT(dv_read_ids(t, seen, 3500), 3494);
    CHECK(!seen[0] && !seen[1500] && seen[1]);
    free(t);
}

TEST(delta_dv_delete_rows_refused_without_feature) {
    char *t = dv_table("dvw_nofeature", false);
    dv_append(t, 0, 10, "part-a.parquet");
    delta_snapshot *s = dv_snap(t);
    delta_transaction *tx = delta_transaction_begin(s, "DELETE");
    const uint64_t rows[] = {1};
    sd_error err = {0};
    CHECK_INT(
        delta_transaction_delete_rows(tx, s, delta_snapshot_file(s, 0), rows, 1, NULL, NULL, &err),
        SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "deletionVectors") != NULL);
    delta_transaction_free(tx);
    delta_snapshot_free(s);
    free(t);
}

TEST(delta_dv_concurrent_deletes_conflict) {
    /* Two transactions put a DV on the same file: the second loses. */
    char *t = dv_table("dvw_conflict", true);
    dv_append(t, 0, 100, "part-a.parquet");
    delta_snapshot *s = dv_snap(t);
    const delta_file *f = delta_snapshot_file(s, 0);
    delta_transaction *t1 = delta_transaction_begin(s, "DELETE");
    delta_transaction *t2 = delta_transaction_begin(s, "DELETE");
    const uint64_t r1[] = {1}, r2[] = {2};
    sd_error err = {0};
    CHECK_OK(delta_transaction_delete_rows(t1, s, f, r1, 1, NULL, NULL, &err), &err);
    delta_dv_descriptor lost;
    CHECK_OK(delta_transaction_delete_rows(t2, s, f, r2, 1, NULL, &lost, &err), &err);
    CHECK(lost.storage_type == 'u');
    CHECK_INT(lost.cardinality, 1);
    CHECK_OK(delta_transaction_commit(t1, 5, NULL, &err), &err);
    CHECK_INT(delta_transaction_commit(t2, 5, NULL, &err), SD_ERR_CONFLICT);
    /* The loser's DV file is known and can be deleted. */
    sd_error_clear(&err);
    char *lost_path = delta_dv_file_path(t, &lost, &err);
    CHECK(lost_path != NULL);
    struct stat sb;
    CHECK(lost_path && stat(lost_path, &sb) == 0 &&
          sb.st_size == 1 + 4 + (off_t)lost.size_in_bytes + 4);
    if (lost_path) CHECK(unlink(lost_path) == 0);
    free(lost_path);
    delta_dv_descriptor_clear(&lost);
    delta_dv_descriptor inl = {'i', "x", -1, 1, 1};
    CHECK(delta_dv_file_path(t, &inl, &err) == NULL);
    delta_transaction_free(t1);
    delta_transaction_free(t2);
    delta_snapshot_free(s);
    bool seen[100];
    CHECK_INT(dv_read_ids(t, seen, 100), 99);
    CHECK(!seen[1] && seen[2]);
    free(t);
}
