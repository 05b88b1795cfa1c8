/*
 * test_delta_dv.c - deletion vectors: Z85, RoaringBitmapArray decoding on
 * hand-built bytes, DV files (checksum, offsets) and the conformance
 * table's DV file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "delta/delta_internal.h"
#include "unit.h"

static void put_u16(sd_buf *b, unsigned v) {
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    sd_buf_append(b, x, 2);
}
static void put_u32(sd_buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    sd_buf_append(b, x, 4);
}
static void put_be32(sd_buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    sd_buf_append(b, x, 4);
}

static const char Z85[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/* Test-side Z85 encoder (input padded with zeros to a multiple of 4). */
static void z85_encode(const uint8_t *p, size_t n, sd_buf *out) {
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) v = v * 256 + (i + k < n ? p[i + k] : 0);
        char g[5];
        for (int k = 4; k >= 0; k--) {
            g[k] = Z85[v % 85];
            v /= 85;
        }
        sd_buf_append(out, g, 5);
    }
}

TEST(delta_z85_decode_reference_vector) {
    /* The example from the ZeroMQ Z85 specification (rfc.zeromq.org/spec/32). */
    sd_buf out = SD_BUF_INIT;
    sd_error err = {0};
    CHECK_OK(delta_z85_decode("HelloWorld", 10, &out, &err), &err);
    static const uint8_t want[] = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
    CHECK(out.len == 8 && memcmp(out.data, want, 8) == 0);
    sd_buf_reset(&out);
    CHECK_INT(delta_z85_decode("Hello", 4, &out, &err), SD_ERR_FORMAT);
    sd_error_clear(&err);
    CHECK_INT(delta_z85_decode("Hel\"o", 5, &out, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "position 3") != NULL);
    sd_buf_free(&out);
}

/* Bitmap with: bucket 0 = array {0, 9} in container 0, run 100..104 in
 * container 2; bucket 1 = bitmap container 0 with rows 3 and 65535. */
static void build_bitmap(sd_buf *b) {
    put_u32(b, 1681511377u);
    put_u32(b, 2); /* numBuckets, 64-bit LE */
    put_u32(b, 0);
    /* bucket key 0: run-capable cookie, 2 containers, second is a run */
    put_u32(b, 0);
    put_u32(b, 12347u | ((2u - 1) << 16));
    uint8_t runbits = 0x02;
    sd_buf_append(b, &runbits, 1);
    put_u16(b, 0); /* key */
    put_u16(b, 1); /* card - 1 */
    put_u16(b, 2);
    put_u16(b, 4);
    /* fewer than 4 containers: no offset header */
    put_u16(b, 0);
    put_u16(b, 9);
    put_u16(b, 1);   /* one run */
    put_u16(b, 100); /* start */
    put_u16(b, 4);   /* length - 1 */
    /* bucket key 1: no-run cookie, 1 bitmap container (card 4097 forces bitmap) */
    put_u32(b, 1);
    put_u32(b, 12346u);
    put_u32(b, 1);
    put_u16(b, 0);
    put_u16(b, 4096);
    put_u32(b, 0); /* offset header (ignored by the decoder) */
    uint8_t *bits = sd_buf_extend(b, 8192);
    bits[0] = 0x08;                                /* 3 */
    bits[8191] = 0x80;                             /* 65535 */
    for (int i = 1; i <= 511; i++) bits[i] = 0xff; /* 8..4095: 4088 rows */
    bits[512] = 0x7f;                              /* 4096..4102: 7 rows, 4097 in all */
}

static const uint64_t HIGH = (uint64_t)1 << 32;

TEST(delta_roaring_decode_hand_built) {
    sd_buf b = SD_BUF_INIT;
    build_bitmap(&b);
    delta_rowset rs;
    sd_error err = {0};
    CHECK_OK(delta_dv_decode_bitmap(b.data, b.len, UINT64_MAX, &rs, &err), &err);
    /* 2 + 5 + (1 + 4088 + 7 + 1) */
    CHECK_INT(rs.count, 2 + 5 + 4097);
    if (rs.count == 4104) {
        CHECK(rs.rows[0] == 0 && rs.rows[1] == 9);
        CHECK(rs.rows[2] == (2u << 16) + 100 && rs.rows[6] == (2u << 16) + 104);
        CHECK(rs.rows[7] == HIGH + 3 && rs.rows[8] == HIGH + 8);
        CHECK(rs.rows[rs.count - 1] == HIGH + 65535);
    }
    CHECK(delta_rowset_contains(&rs, 9));
    CHECK(!delta_rowset_contains(&rs, 10));
    CHECK(delta_rowset_contains(&rs, (2u << 16) + 103));
    CHECK(delta_rowset_contains(&rs, HIGH + 4102));
    CHECK(!delta_rowset_contains(&rs, HIGH + 4103));
    delta_rowset_free(&rs);

    /* A cap below the real count is refused. */
    CHECK_INT(delta_dv_decode_bitmap(b.data, b.len, 3, &rs, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "cardinality") != NULL);
    /* Every truncation fails cleanly. */
    for (size_t n = 0; n < b.len; n += (n < 64 ? 1 : 997)) {
        uint8_t *copy = sd_xmalloc(n ? n : 1);
        memcpy(copy, b.data, n);
        sd_error_clear(&err);
        if (delta_dv_decode_bitmap(copy, n, UINT64_MAX, &rs, &err) == SD_OK) {
            unit_fail(__FILE__, __LINE__, "truncation to %zu bytes decoded", n);
            delta_rowset_free(&rs);
        }
        free(copy);
    }
    /* Wrong magic. */
    b.data[0] ^= 1;
    sd_error_clear(&err);
    CHECK_INT(delta_dv_decode_bitmap(b.data, b.len, UINT64_MAX, &rs, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "magic") != NULL);
    sd_buf_free(&b);
}

TEST(delta_dv_conformance_file) {
    delta_dv_descriptor dv = {'u', "vBn[lx{q8@P<9BNH/isA", 1, 36, 2};
    delta_rowset rs;
    sd_error err = {0};
    char *table = sd_xasprintf("%s/table-with-dv-small", unit_conformance_dir());
    CHECK_OK(delta_dv_load(table, &dv, &rs, &err), &err);
    CHECK_INT(rs.count, 2);
    if (rs.count == 2) CHECK(rs.rows[0] == 0 && rs.rows[1] == 9);
    delta_rowset_free(&rs);
    sd_buf id = SD_BUF_INIT;
    delta_dv_unique_id(&dv, &id);
    CHECK_STR(sd_buf_cstr(&id), "uvBn[lx{q8@P<9BNH/isA@1");
    sd_buf_free(&id);
    /* A wrong cardinality is caught. */
    dv.cardinality = 3;
    sd_error_clear(&err);
    CHECK_INT(delta_dv_load(table, &dv, &rs, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin") != NULL);
    free(table);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) return;
    fwrite(p, 1, n, f);
    fclose(f);
}

TEST(delta_dv_file_checksum_prefix_and_inline) {
    /* A DV file with two DVs; the second one is read via its offset. */
    sd_buf bm = SD_BUF_INIT;
    build_bitmap(&bm);
    sd_buf file = SD_BUF_INIT;
    sd_buf_append_byte(&file, 1);
    put_be32(&file, 12);
    put_u32(&file, 1681511377u);
    put_u32(&file, 0);
    put_u32(&file, 0); /* empty bitmap */
    put_be32(&file, (uint32_t)crc32(0, file.data + 5, 12));
    size_t off = file.len;
    put_be32(&file, (uint32_t)bm.len);
    sd_buf_append(&file, bm.data, bm.len);
    put_be32(&file, (uint32_t)crc32(0, bm.data, (uInt)bm.len));

    /* 'u' with a random prefix "ab": <table>/ab/deletion_vector_<uuid>.bin */
    const uint8_t uuid[16] = {0x61, 0xd1, 0x6c, 0x75, 0x69, 0x94, 0x46, 0xb7,
                              0xa1, 0x5b, 0x8b, 0x53, 0x88, 0x52, 0xe5, 0x0e};
    sd_buf z = SD_BUF_INIT;
    sd_buf_append_str(&z, "ab");
    z85_encode(uuid, 16, &z);
    CHECK_STR(sd_buf_cstr(&z), "abvBn[lx{q8@P<9BNH/isA");
    char *dir = sd_xasprintf("%s/dvt/ab", unit_tmpdir());
    char *cmd = sd_xasprintf("mkdir -p '%s'", dir);
    CHECK(system(cmd) == 0);
    char *path = sd_xasprintf("%s/deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin", dir);
    write_bytes(path, file.data, file.len);
    char *table = sd_xasprintf("%s/dvt", unit_tmpdir());

    delta_dv_descriptor dv = {'u', sd_buf_cstr(&z), (int32_t)off, (int32_t)bm.len, 4104};
    delta_rowset rs;
    sd_error err = {0};
    CHECK_OK(delta_dv_load(table, &dv, &rs, &err), &err);
    CHECK_INT(rs.count, 4104);
    delta_rowset_free(&rs);
    /* First DV at offset 1 is empty. */
    delta_dv_descriptor dv0 = {'u', sd_buf_cstr(&z), 1, 12, 0};
    CHECK_OK(delta_dv_load(table, &dv0, &rs, &err), &err);
    CHECK_INT(rs.count, 0);
    delta_rowset_free(&rs);
    /* 'p': absolute path. */
    delta_dv_descriptor dvp = {'p', path, (int32_t)off, (int32_t)bm.len, 4104};
    CHECK_OK(delta_dv_load("/nonexistent", &dvp, &rs, &err), &err);
    CHECK_INT(rs.count, 4104);
    delta_rowset_free(&rs);

    /* Corrupt one bitmap byte: the checksum catches it. */
    file.data[off + 4 + 20] ^= 0x40;
    write_bytes(path, file.data, file.len);
    CHECK_INT(delta_dv_load(table, &dv, &rs, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "checksum mismatch") != NULL);
    /* Offset past the end. */
    delta_dv_descriptor far = {'u', sd_buf_cstr(&z), (int32_t)file.len, 12, 0};
    sd_error_clear(&err);
    CHECK_INT(delta_dv_load(table, &far, &rs, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "runs past the end") != NULL);

    /* 'i': inline Z85 of the bitmap, padded; sizeInBytes is the real size. */
    sd_buf inl = SD_BUF_INIT;
    sd_buf small = SD_BUF_INIT;
    put_u32(&small, 1681511377u);
    put_u32(&small, 1);
    put_u32(&small, 0);
    put_u32(&small, 0);
    put_u32(&small, 12346u);
    put_u32(&small, 1);
    put_u16(&small, 0);
    put_u16(&small, 2); /* 3 values */
    put_u32(&small, 0);
    put_u16(&small, 1);
    put_u16(&small, 5);
    put_u16(&small, 7); /* 34 bytes: padded to 36 by the encoder */
    z85_encode(small.data, small.len, &inl);
    delta_dv_descriptor dvi = {'i', sd_buf_cstr(&inl), -1, (int32_t)small.len, 3};
    sd_error_clear(&err);
    CHECK_OK(delta_dv_load("/nonexistent", &dvi, &rs, &err), &err);
    CHECK_INT(rs.count, 3);
    if (rs.count == 3) CHECK(rs.rows[0] == 1 && rs.rows[1] == 5 && rs.rows[2] == 7);
    delta_rowset_free(&rs);

    sd_buf_free(&inl);
    sd_buf_free(&small);
    free(table);
    free(path);
    free(cmd);
    free(dir);
    sd_buf_free(&z);
    sd_buf_free(&file);
    sd_buf_free(&bm);
}
