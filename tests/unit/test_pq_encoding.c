/*
 * test_pq_encoding.c - Parquet encodings: RLE / bit-packed hybrid, BIT_PACKED
 * levels, PLAIN, dictionary indices and the dictionary builder, the three
 * delta encodings and BYTE_STREAM_SPLIT. Known byte vectors come from
 * apache/parquet-format Encodings.md; every decoder is also fed every
 * truncation of a valid encoding and must fail cleanly or decode correctly.
 */
#include <stdlib.h>

#include "parquet/pq_internal.h"
#include "unit.h"

/* Deterministic xorshift64* so failures reproduce. */
static uint64_t rng_next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static bool bytes_eq(const sd_buf *b, const uint8_t *want, size_t n) {
    return b->len == n && memcmp(b->data, want, n) == 0;
}

/* ---- RLE / bit-packed hybrid ------------------------------------------- */

TEST(pq_bit_width_values) {
    CHECK_INT(pq_bit_width(0), 0);
    CHECK_INT(pq_bit_width(1), 1);
    CHECK_INT(pq_bit_width(2), 2);
    CHECK_INT(pq_bit_width(3), 2);
    CHECK_INT(pq_bit_width(7), 3);
    CHECK_INT(pq_bit_width(8), 4);
    CHECK_INT(pq_bit_width(255), 8);
    CHECK_INT(pq_bit_width(256), 9);
    CHECK_INT(pq_bit_width(0xffffffffu), 32);
    CHECK_INT(pq_bit_width(UINT64_MAX), 64);
}

TEST(pq_rle_spec_example_bitpacked) {
    /* Encodings.md: 0..7 with bit width 3 pack to 10001000 11000110 11111010. */
    uint32_t v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    sd_buf b = SD_BUF_INIT;
    pq_rle_encode(v, 8, 3, &b);
    static const uint8_t want[] = {0x03, 0x88, 0xc6, 0xfa}; /* header: 1 group << 1 | 1 */
    CHECK(bytes_eq(&b, want, sizeof(want)));
    uint32_t out[8] = {0};
    pq_rle_decoder d;
    pq_rle_decoder_init(&d, want, sizeof(want), 3);
    CHECK(pq_rle_decode(&d, out, 8));
    for (int i = 0; i < 8; i++) CHECK_INT(out[i], i);
    /* A ninth value is not there. */
    CHECK(!pq_rle_decode(&d, out, 1));
    sd_buf_free(&b);
}

TEST(pq_rle_run_bytes) {
    uint32_t v[300];
    for (int i = 0; i < 300; i++) v[i] = 5;
    sd_buf b = SD_BUF_INIT;
    pq_rle_encode(v, 300, 3, &b);
    /* 300 << 1 = 600 = ULEB 0xd8 0x04, then the value in one byte. */
    static const uint8_t want[] = {0xd8, 0x04, 0x05};
    CHECK(bytes_eq(&b, want, sizeof(want)));
    sd_buf_reset(&b);
    for (int i = 0; i < 10; i++) v[i] = 0x12345;
    pq_rle_encode(v, 10, 17, &b); /* 17 bits: value stored in 3 bytes */
    static const uint8_t want17[] = {0x14, 0x45, 0x23, 0x01};
    CHECK(bytes_eq(&b, want17, sizeof(want17)));
    sd_buf_free(&b);
}

static void rle_roundtrip(const uint32_t *v, size_t n, int bw, uint32_t *out) {
    sd_buf b = SD_BUF_INIT;
    pq_rle_encode(v, n, bw, &b);
    pq_rle_decoder d;
    pq_rle_decoder_init(&d, b.data, b.len, bw);
    bool ok = pq_rle_decode(&d, out, n);
    if (!ok || (n && memcmp(out, v, n * sizeof(*v)) != 0)) {
        unit_fail(__FILE__, __LINE__, "RLE round trip failed: bit width %d, %zu values", bw, n);
    } else if (n >= 9) {
        /* Decode again in uneven pieces to cross run and group boundaries. */
        static const size_t steps[] = {1, 3, 13, 8, 5, 64, 2};
        pq_rle_decoder_init(&d, b.data, b.len, bw);
        size_t pos = 0, s = 0;
        while (pos < n) {
            size_t k = steps[s++ % 7];
            if (k > n - pos) k = n - pos;
            if (!pq_rle_decode(&d, out + pos, k)) break;
            pos += k;
        }
        if (pos != n || memcmp(out, v, n * sizeof(*v)) != 0)
            unit_fail(__FILE__, __LINE__, "RLE chunked decode failed: bit width %d, %zu values", bw,
                      n);
    }
    sd_buf_free(&b);
}

TEST(pq_rle_roundtrip_all_widths) {
    static const size_t lens[] = {0, 1, 7, 8, 9, 1000, 100000};
    uint32_t *v = sd_xmalloc(100000 * sizeof(*v));
    uint32_t *out = sd_xmalloc(100000 * sizeof(*out));
    uint64_t seed = 42;
    for (int bw = 0; bw <= 32; bw++) {
        uint32_t mask = bw == 32 ? 0xffffffffu : ((1u << bw) - 1);
        for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
            size_t n = lens[li];
            for (size_t i = 0; i < n; i++) v[i] = (uint32_t)rng_next(&seed) & mask;
            rle_roundtrip(v, n, bw, out);
            /* Run-heavy: runs of 1..40 of one value, the max value included. */
            size_t i = 0;
            while (i < n) {
                size_t run = 1 + rng_next(&seed) % 40;
                uint32_t x = (rng_next(&seed) & 1) ? mask : (uint32_t)rng_next(&seed) & mask;
                for (size_t j = 0; j < run && i < n; j++) v[i++] = x;
            }
            rle_roundtrip(v, n, bw, out);
        }
    }
    free(v);
    free(out);
}

TEST(pq_rle_encoder_picks_runs_and_groups) {
    /* 3 distinct, then 20 equal: one packed group of 8 (3 + 5 of the run),
     * then an RLE run of the remaining 15. */
    uint32_t v[23] = {1, 2, 3};
    for (int i = 3; i < 23; i++) v[i] = 4;
    sd_buf b = SD_BUF_INIT;
    pq_rle_encode(v, 23, 3, &b);
    CHECK_INT(b.len, 1 + 3 + 1 + 1);
    CHECK_INT(b.data[0], 0x03);
    CHECK_INT(b.data[4], 15 << 1);
    CHECK_INT(b.data[5], 4);
    sd_buf_free(&b);
}

TEST(pq_rle_corrupt_inputs) {
    uint32_t out[16];
    pq_rle_decoder d;
    /* Header longer than 5 bytes: the count overflows. */
    static const uint8_t ovf[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00};
    pq_rle_decoder_init(&d, ovf, sizeof(ovf), 1);
    CHECK(!pq_rle_decode(&d, out, 1));
    /* Bit-packed run of 2^31 - 1 groups: more than 2^31 - 1 values. */
    static const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
    pq_rle_decoder_init(&d, big, sizeof(big), 1);
    CHECK(!pq_rle_decode(&d, out, 1));
    /* RLE value 9 does not fit bit width 3. */
    static const uint8_t wide[] = {0x10, 0x09};
    pq_rle_decoder_init(&d, wide, sizeof(wide), 3);
    CHECK(!pq_rle_decode(&d, out, 1));
    /* Bit widths above 32 are refused. */
    static const uint8_t ok[] = {0x10, 0x01};
    pq_rle_decoder_init(&d, ok, sizeof(ok), 33);
    CHECK(!pq_rle_decode(&d, out, 1));
    /* RLE run of 8 ones, then nothing. */
    pq_rle_decoder_init(&d, ok, sizeof(ok), 1);
    CHECK(pq_rle_decode(&d, out, 8));
    CHECK_INT(out[7], 1);
    CHECK(!pq_rle_decode(&d, out, 1));
    /* Empty input. */
    pq_rle_decoder_init(&d, ok, 0, 1);
    CHECK(!pq_rle_decode(&d, out, 1));
    CHECK(pq_rle_decode(&d, out, 0));
}

TEST(pq_rle_short_last_group_is_accepted) {
    /* 5 values of 3 bits in a group of 8: 15 bits fit 2 of the 3 bytes. */
    uint32_t v[5] = {7, 1, 6, 2, 5};
    sd_buf b = SD_BUF_INIT;
    pq_rle_encode(v, 5, 3, &b);
    CHECK_INT(b.len, 4);
    uint32_t out[8];
    pq_rle_decoder d;
    pq_rle_decoder_init(&d, b.data, 3, 3);
    CHECK(pq_rle_decode(&d, out, 5));
    CHECK(memcmp(out, v, sizeof(v)) == 0);
    pq_rle_decoder_init(&d, b.data, 3, 3);
    CHECK(!pq_rle_decode(&d, out, 6)); /* the sixth value's bits are missing */
    sd_buf_free(&b);
}

TEST(pq_rle_every_truncation) {
    uint64_t seed = 7;
    for (int bw = 1; bw <= 32; bw += 5) {
        uint32_t v[100];
        uint32_t mask = bw == 32 ? 0xffffffffu : ((1u << bw) - 1);
        for (int i = 0; i < 100; i++) v[i] = (i % 30 < 12) ? 1 : (uint32_t)rng_next(&seed) & mask;
        sd_buf b = SD_BUF_INIT;
        pq_rle_encode(v, 100, bw, &b);
        for (size_t cut = 0; cut < b.len; cut++) {
            /* An exact-size copy so ASan sees any read past the cut. */
            uint8_t *t = sd_xmalloc(cut ? cut : 1);
            memcpy(t, b.data, cut);
            uint32_t out[100];
            pq_rle_decoder d;
            pq_rle_decoder_init(&d, t, cut, bw);
            size_t got = 0;
            while (got < 100 && pq_rle_decode(&d, out + got, 1)) got++;
            for (size_t i = 0; i < got; i++)
                if (out[i] != v[i])
                    unit_fail(__FILE__, __LINE__, "bw %d cut %zu value %zu", bw, cut, i);
            free(t);
        }
        sd_buf_free(&b);
    }
}

TEST(pq_bit_packed_levels_spec_example) {
    /* Encodings.md (deprecated BIT_PACKED): 0..7, width 3, MSB first. */
    static const uint8_t in[] = {0x05, 0x39, 0x77};
    uint32_t out[8];
    CHECK(pq_bit_packed_levels_decode(in, 3, 3, 8, out));
    for (int i = 0; i < 8; i++) CHECK_INT(out[i], i);
    CHECK(!pq_bit_packed_levels_decode(in, 2, 3, 8, out));
    CHECK(pq_bit_packed_levels_decode(in, 2, 3, 5, out)); /* 15 bits fit 2 bytes */
    CHECK_INT(out[4], 4);
    CHECK(!pq_bit_packed_levels_decode(in, 3, 33, 1, out));
    /* 30 values of 2 bits take 8 bytes. */
    static const uint8_t ones[8] = {0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x50};
    uint32_t out30[30];
    CHECK(pq_bit_packed_levels_decode(ones, 8, 2, 30, out30));
    CHECK_INT(out30[0], 1);
    CHECK_INT(out30[29], 1);
    CHECK(!pq_bit_packed_levels_decode(ones, 7, 2, 30, out30));
}

/* ---- PLAIN ------------------------------------------------------------- */

TEST(pq_plain_bools) {
    uint8_t v[10] = {1, 0, 1, 1, 0, 0, 0, 0, 1, 1};
    sd_buf b = SD_BUF_INIT;
    pq_plain_encode_bools(v, 10, &b);
    static const uint8_t want[] = {0x0d, 0x03};
    CHECK(bytes_eq(&b, want, 2));
    uint8_t out[10];
    size_t used = 0;
    CHECK(pq_plain_decode_bools(b.data, b.len, 10, out, &used));
    CHECK_INT(used, 2);
    CHECK(memcmp(out, v, 10) == 0);
    CHECK(!pq_plain_decode_bools(b.data, 1, 9, out, &used));
    CHECK(pq_plain_decode_bools(b.data, 1, 8, out, &used));
    sd_buf_free(&b);
}

TEST(pq_plain_fixed) {
    int32_t v[3] = {1, -2, 300000};
    int32_t out[3];
    size_t used;
    CHECK(pq_plain_decode_fixed((const uint8_t *)v, 12, 4, 3, out, &used));
    CHECK_INT(used, 12);
    CHECK_INT(out[1], -2);
    CHECK(!pq_plain_decode_fixed((const uint8_t *)v, 11, 4, 3, out, &used));
    CHECK(!pq_plain_decode_fixed((const uint8_t *)v, 12, 4, SIZE_MAX / 2, out, &used));
    /* INT96: 12 bytes. */
    uint8_t i96[24];
    for (int i = 0; i < 24; i++) i96[i] = (uint8_t)i;
    uint8_t o96[24];
    CHECK(pq_plain_decode_fixed(i96, 24, 12, 2, o96, &used) && memcmp(o96, i96, 24) == 0);
    /* FIXED_LEN_BYTE_ARRAY as byte arrays, appended after existing data. */
    sd_buf data = SD_BUF_INIT;
    sd_buf_append(&data, "xy", 2);
    int64_t offs[4] = {2};
    pq_bytes_sink sink = {offs, &data};
    CHECK(pq_plain_decode_fixed_bytes((const uint8_t *)"abcdefghi", 9, 3, 3, &sink, &used));
    CHECK_INT(offs[3], 11);
    CHECK(data.len == 11 && memcmp(data.data, "xyabcdefghi", 11) == 0);
    CHECK(!pq_plain_decode_fixed_bytes((const uint8_t *)"abcdefghi", 8, 3, 3, &sink, &used));
    sd_buf_free(&data);
}

TEST(pq_plain_bytes) {
    const char *s = "Helloabc";
    int64_t in_offs[4] = {0, 5, 5, 8}; /* "Hello", "", "abc" */
    sd_buf b = SD_BUF_INIT;
    pq_plain_encode_bytes((const uint8_t *)s, in_offs, 3, &b);
    static const uint8_t want[] = {5, 0, 0, 0, 'H', 'e', 'l', 'l', 'o', 0,
                                   0, 0, 0, 3, 0,   0,   0,   'a', 'b', 'c'};
    CHECK(bytes_eq(&b, want, sizeof(want)));
    /* Offsets are absolute into data: encoding from the second value on. */
    sd_buf tail = SD_BUF_INIT;
    pq_plain_encode_bytes((const uint8_t *)s, in_offs + 1, 2, &tail);
    CHECK(bytes_eq(&tail, want + 9, sizeof(want) - 9));
    sd_buf_free(&tail);
    sd_buf data = SD_BUF_INIT;
    int64_t offs[4] = {0};
    pq_bytes_sink sink = {offs, &data};
    size_t used = 0;
    CHECK(pq_plain_decode_bytes(b.data, b.len, 3, &sink, &used));
    CHECK_INT(used, sizeof(want));
    CHECK_INT(offs[1], 5);
    CHECK_INT(offs[2], 5);
    CHECK_INT(offs[3], 8);
    CHECK(data.len == 8 && memcmp(data.data, "Helloabc", 8) == 0);
    /* Every truncation fails and leaves the data buffer as it was. */
    for (size_t cut = 0; cut < sizeof(want); cut++) {
        uint8_t *t = sd_xmalloc(cut ? cut : 1);
        memcpy(t, want, cut);
        sd_buf_reset(&data);
        CHECK(!pq_plain_decode_bytes(t, cut, 3, &sink, &used));
        CHECK_INT(data.len, 0);
        free(t);
    }
    /* A negative length. */
    static const uint8_t neg[] = {0xff, 0xff, 0xff, 0xff, 'a'};
    CHECK(!pq_plain_decode_bytes(neg, sizeof(neg), 1, &sink, &used));
    sd_buf_free(&data);
    sd_buf_free(&b);
}

/* ---- Dictionary -------------------------------------------------------- */

TEST(pq_dict_indices) {
    /* bit width 3, then the Encodings.md packed group 0..7. */
    static const uint8_t in[] = {3, 0x03, 0x88, 0xc6, 0xfa};
    uint32_t out[16];
    CHECK(pq_dict_indices_decode(in, sizeof(in), 8, out));
    CHECK_INT(out[5], 5);
    CHECK(!pq_dict_indices_decode(in, sizeof(in), 9, out));
    static const uint8_t bad[] = {33, 0x02, 0, 0, 0, 0};
    CHECK(!pq_dict_indices_decode(bad, sizeof(bad), 1, out));
    CHECK(!pq_dict_indices_decode(in, 0, 1, out));
    /* Bit width 0: one-entry dictionary, RLE run of 10 zeros. */
    static const uint8_t zero[] = {0, 20};
    CHECK(pq_dict_indices_decode(zero, sizeof(zero), 10, out));
    CHECK_INT(out[9], 0);
}

TEST(pq_dict_builder_fixed) {
    pq_dict *d = pq_dict_new(4);
    int32_t v[6] = {5, 7, 5, 9, 7, 5};
    uint32_t idx[6];
    CHECK_INT(pq_dict_add_fixed(d, v, 6, SIZE_MAX, idx), 6);
    static const uint32_t want[6] = {0, 1, 0, 2, 1, 0};
    CHECK(memcmp(idx, want, sizeof(want)) == 0);
    CHECK_INT(pq_dict_count(d), 3);
    CHECK_INT(pq_dict_plain_size(d), 12);
    size_t len;
    const uint8_t *e = pq_dict_entry(d, 2, &len);
    int32_t e2;
    memcpy(&e2, e, 4);
    CHECK_INT(len, 4);
    CHECK_INT(e2, 9);
    sd_buf b = SD_BUF_INIT;
    pq_dict_encode(d, &b);
    int32_t dump[3] = {5, 7, 9};
    CHECK(bytes_eq(&b, (const uint8_t *)dump, 12));
    /* max_bytes: 8 bytes hold two entries; 9 would be the third. */
    pq_dict_reset(d);
    CHECK_INT(pq_dict_count(d), 0);
    int32_t w[5] = {5, 7, 5, 7, 9};
    CHECK_INT(pq_dict_add_fixed(d, w, 5, 8, idx), 4);
    CHECK_INT(pq_dict_count(d), 2);
    CHECK_INT(idx[3], 1);
    pq_dict_free(d);
    /* Bytewise equality: -0.0 and 0.0 are distinct. */
    d = pq_dict_new(8);
    double dv[4] = {0.0, -0.0, 0.0, 1.5};
    CHECK_INT(pq_dict_add_fixed(d, dv, 4, SIZE_MAX, idx), 4);
    CHECK_INT(pq_dict_count(d), 3);
    CHECK_INT(idx[2], 0);
    CHECK_INT(idx[1], 1);
    pq_dict_free(d);
    sd_buf_free(&b);
}

TEST(pq_dict_builder_many_values) {
    /* 200000 values over 5000 distinct 12-byte keys: growth and rehashing. */
    pq_dict *d = pq_dict_new(12);
    size_t n = 200000;
    uint8_t *v = sd_xmalloc(n * 12);
    uint32_t *idx = sd_xmalloc(n * sizeof(*idx));
    for (size_t i = 0; i < n; i++) {
        uint32_t key = (uint32_t)((i * 7919) % 5000);
        memset(v + i * 12, 0, 12);
        memcpy(v + i * 12 + 8, &key, 4);
    }
    CHECK_INT(pq_dict_add_fixed(d, v, n, SIZE_MAX, idx), n);
    CHECK_INT(pq_dict_count(d), 5000);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *e = pq_dict_entry(d, idx[i], &len);
        if (len != 12 || memcmp(e, v + i * 12, 12) != 0) bad++;
    }
    CHECK_INT(bad, 0);
    free(v);
    free(idx);
    pq_dict_free(d);
}

TEST(pq_dict_builder_bytes) {
    pq_dict *d = pq_dict_new(0);
    const char *s = "abbabb";
    int64_t offs[6] = {0, 1, 3, 4, 4, 6}; /* "a", "bb", "a", "", "bb" */
    uint32_t idx[5];
    CHECK_INT(pq_dict_add_bytes(d, (const uint8_t *)s, offs, 5, SIZE_MAX, idx), 5);
    static const uint32_t want[5] = {0, 1, 0, 2, 1};
    CHECK(memcmp(idx, want, sizeof(want)) == 0);
    CHECK_INT(pq_dict_plain_size(d), 5 + 6 + 4);
    size_t len;
    const uint8_t *e = pq_dict_entry(d, 1, &len);
    CHECK(len == 2 && memcmp(e, "bb", 2) == 0);
    pq_dict_entry(d, 2, &len);
    CHECK_INT(len, 0);
    sd_buf b = SD_BUF_INIT;
    pq_dict_encode(d, &b);
    static const uint8_t page[] = {1, 0, 0, 0, 'a', 2, 0, 0, 0, 'b', 'b', 0, 0, 0, 0};
    CHECK(bytes_eq(&b, page, sizeof(page)));
    /* Cut-off: "a" (5) + "bb" (6) = 11; "" would make 15 > 12. */
    pq_dict_reset(d);
    CHECK_INT(pq_dict_add_bytes(d, (const uint8_t *)s, offs, 5, 12, idx), 3);
    CHECK_INT(pq_dict_count(d), 2);
    /* Many distinct strings. */
    pq_dict_reset(d);
    char buf[16];
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(buf, sizeof(buf), "k%d", i % 1000);
        int64_t o[2] = {0, n};
        uint32_t x;
        CHECK_INT(pq_dict_add_bytes(d, (const uint8_t *)buf, o, 1, SIZE_MAX, &x), 1);
        if (x != (uint32_t)(i % 1000))
            unit_fail(__FILE__, __LINE__, "index of k%d is %u", i % 1000, x);
    }
    CHECK_INT(pq_dict_count(d), 1000);
    sd_buf_free(&b);
    pq_dict_free(d);
}

/* ---- DELTA_BINARY_PACKED ------------------------------------------------ */

TEST(pq_delta_spec_example_1) {
    /* Encodings.md example 1 (1..5) with a legal block: 128 values in 4
     * miniblocks. Header 128, 4, 5, zigzag(1)=2; min delta zigzag(1)=2,
     * widths 0 0 0 0 and no miniblock data. */
    int64_t v[5] = {1, 2, 3, 4, 5};
    sd_buf b = SD_BUF_INIT;
    pq_delta_encode_i64(v, 5, &b);
    static const uint8_t want[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0, 0, 0, 0};
    CHECK(bytes_eq(&b, want, sizeof(want)));
    int32_t out[5];
    size_t used = 0;
    CHECK(pq_delta_decode_i32(want, sizeof(want), 5, out, &used));
    CHECK_INT(used, sizeof(want));
    for (int i = 0; i < 5; i++) CHECK_INT(out[i], i + 1);
    /* The spec's block size 8 is, as it says, invalid in real files. */
    static const uint8_t bs8[] = {0x08, 0x01, 0x05, 0x02, 0x02, 0x00};
    CHECK(!pq_delta_decode_i32(bs8, sizeof(bs8), 5, out, &used));
    sd_buf_free(&b);
}

TEST(pq_delta_spec_example_2) {
    /* 7,5,3,1,2,3,4,5: deltas -2,-2,-2,1,1,1,1, min -2 (zigzag 3), relative
     * 0,0,0,3,3,3,3 on 2 bits: 0xc0 0x3f then zero padding to 32 values. */
    int64_t v[8] = {7, 5, 3, 1, 2, 3, 4, 5};
    sd_buf b = SD_BUF_INIT;
    pq_delta_encode_i64(v, 8, &b);
    static const uint8_t want[] = {0x80, 0x01, 0x04, 0x08, 0x0e, 0x03, 0x02, 0, 0,
                                   0,    0xc0, 0x3f, 0,    0,    0,    0,    0, 0};
    CHECK(bytes_eq(&b, want, sizeof(want)));
    int64_t out[8];
    size_t used = 0;
    CHECK(pq_delta_decode_i64(want, sizeof(want), 8, out, &used));
    CHECK_INT(used, sizeof(want));
    CHECK(memcmp(out, v, sizeof(v)) == 0);
    /* One miniblock of 128 values, cut right after the needed 14 bits. */
    static const uint8_t one_mb[] = {0x80, 0x01, 0x01, 0x08, 0x0e, 0x03, 0x02, 0xc0, 0x3f};
    memset(out, 0, sizeof(out));
    CHECK(pq_delta_decode_i64(one_mb, sizeof(one_mb), 8, out, &used));
    CHECK(memcmp(out, v, sizeof(v)) == 0);
    CHECK_INT(used, sizeof(one_mb));
    /* First n only; consumed still covers the whole stream. */
    CHECK(pq_delta_decode_i64(want, sizeof(want), 3, out, &used));
    CHECK_INT(used, sizeof(want));
    CHECK(!pq_delta_decode_i64(want, sizeof(want), 9, out, &used));
    sd_buf_free(&b);
}

TEST(pq_delta_int32_wraps) {
    /* INT32_MAX then INT32_MIN: the int32 delta wraps to +1. Header 128, 4,
     * 2, zigzag(INT32_MAX) = 0xfffffffe; min delta zigzag(1) = 2. */
    static const uint8_t in[] = {0x80, 0x01, 0x04, 0x02, 0xfe, 0xff, 0xff,
                                 0xff, 0x0f, 0x02, 0,    0,    0,    0};
    int32_t out[2];
    size_t used;
    CHECK(pq_delta_decode_i32(in, sizeof(in), 2, out, &used));
    CHECK_INT(out[0], INT32_MAX);
    CHECK_INT(out[1], INT32_MIN);
    /* Values encoded from int64 copies of int32 data decode as int32. */
    int64_t w[6] = {INT32_MIN, INT32_MAX, 0, -1, INT32_MIN, 12345};
    sd_buf b = SD_BUF_INIT;
    pq_delta_encode_i64(w, 6, &b);
    int32_t o6[6];
    CHECK(pq_delta_decode_i32(b.data, b.len, 6, o6, &used));
    for (int i = 0; i < 6; i++) CHECK_INT(o6[i], w[i]);
    sd_buf_free(&b);
}

static void delta_roundtrip(const int64_t *v, size_t n, int64_t *out) {
    sd_buf b = SD_BUF_INIT;
    pq_delta_encode_i64(v, n, &b);
    size_t used = 0;
    if (!pq_delta_decode_i64(b.data, b.len, n, out, &used) || used != b.len ||
        (n && memcmp(out, v, n * sizeof(*v)) != 0))
        unit_fail(__FILE__, __LINE__, "delta round trip of %zu values failed", n);
    sd_buf_free(&b);
}

TEST(pq_delta_roundtrip_extremes) {
    static const size_t lens[] = {0, 1, 2, 31, 32, 33, 127, 128, 129, 1000, 100000};
    int64_t *v = sd_xmalloc(100000 * sizeof(*v));
    int64_t *out = sd_xmalloc(100000 * sizeof(*out));
    uint64_t seed = 99;
    for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
        size_t n = lens[li];
        for (size_t i = 0; i < n; i++) v[i] = (int64_t)rng_next(&seed);
        delta_roundtrip(v, n, out);
        for (size_t i = 0; i < n; i++) v[i] = (i & 1) ? INT64_MIN : INT64_MAX;
        delta_roundtrip(v, n, out);
        for (size_t i = 0; i < n; i++)
            v[i] = 1000000 + (int64_t)i * 3 + (int64_t)(rng_next(&seed) % 5);
        delta_roundtrip(v, n, out);
        for (size_t i = 0; i < n; i++)
            v[i] = (int64_t)(rng_next(&seed) % 3 - 1 + (uint64_t)(INT64_MIN / 2) * (i % 3));
        delta_roundtrip(v, n, out);
    }
    free(v);
    free(out);
}

TEST(pq_delta_corrupt_headers) {
    int64_t out[8];
    size_t used;
#define BAD(...)                                                                                   \
    do {                                                                                           \
        static const uint8_t in[] = {__VA_ARGS__};                                                 \
        CHECK(!pq_delta_decode_i64(in, sizeof(in), 1, out, &used));                                \
    } while (0)
    BAD(0x00, 0x01, 0x01, 0x02);       /* block size 0 */
    BAD(0x64, 0x01, 0x01, 0x02);       /* block size 100 */
    BAD(0x80, 0x01, 0x00, 0x01, 0x02); /* no miniblocks */
    BAD(0x80, 0x01, 0x03, 0x01, 0x02); /* 128 / 3 */
    BAD(0x80, 0x01, 0x08, 0x01, 0x02); /* 16 values per miniblock */
    BAD(0x80, 0x01, 0x04, 0x00, 0x02); /* 1 value asked, 0 present */
    BAD(0x80, 0x01, 0x04);             /* truncated header */
    BAD(0x80, 0x01, 0x04, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02);
    /* Miniblock width 65. */
    static const uint8_t w65[] = {0x80, 0x01, 0x04, 0x02, 0x00, 0x00, 65, 0, 0, 0};
    CHECK(!pq_delta_decode_i64(w65, sizeof(w65), 2, out, &used));
    /* Unneeded miniblocks may carry any width. */
    static const uint8_t junk[] = {0x80, 0x01, 0x04, 0x02, 0x00, 0x02, 0, 200, 200, 200};
    CHECK(pq_delta_decode_i64(junk, sizeof(junk), 2, out, &used));
    CHECK_INT(out[1], 1);
    CHECK_INT(used, sizeof(junk));
#undef BAD
}

TEST(pq_delta_every_truncation) {
    int64_t v[300];
    uint64_t seed = 5;
    for (int i = 0; i < 300; i++) v[i] = (int64_t)(rng_next(&seed) % 100000) - 50000;
    v[17] = INT64_MAX;
    sd_buf b = SD_BUF_INIT;
    pq_delta_encode_i64(v, 300, &b);
    int64_t out[300];
    int32_t out32[300];
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *t = sd_xmalloc(cut ? cut : 1);
        memcpy(t, b.data, cut);
        for (size_t n = 1; n <= 300; n += 37) {
            size_t used;
            if (pq_delta_decode_i64(t, cut, n, out, &used)) {
                CHECK(used <= cut);
                if (memcmp(out, v, n * sizeof(*v)) != 0)
                    unit_fail(__FILE__, __LINE__, "cut %zu", cut);
            }
            if (pq_delta_decode_i32(t, cut, n, out32, &used))
                CHECK_INT(out32[n - 1], (int32_t)v[n - 1]);
        }
        free(t);
    }
    sd_buf_free(&b);
}

/* ---- DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY ----------------------- */

static const char *sink_str(const pq_bytes_sink *s, size_t i, char *buf) {
    size_t n = (size_t)(s->offsets[i + 1] - s->offsets[i]);
    memcpy(buf, s->data->data + s->offsets[i], n);
    buf[n] = 0;
    return buf;
}

TEST(pq_delta_length_spec_example) {
    /* Lengths 5,5,6,6: first 5 (zigzag 10), deltas 0,1,0 with min 0 on 1 bit. */
    static const uint8_t lens[] = {0x80, 0x01, 0x04, 0x04, 0x0a, 0x00, 0x01,
                                   0,    0,    0,    0x02, 0,    0,    0};
    int64_t l[4] = {5, 5, 6, 6};
    sd_buf b = SD_BUF_INIT;
    pq_delta_encode_i64(l, 4, &b);
    CHECK(bytes_eq(&b, lens, sizeof(lens)));
    sd_buf_append_str(&b, "HelloWorldFoobarABCDEF");
    sd_buf data = SD_BUF_INIT;
    sd_buf_append(&data, "xy", 2);
    int64_t offs[5] = {2};
    pq_bytes_sink sink = {offs, &data};
    size_t used = 0;
    char buf[32];
    CHECK(pq_delta_length_decode(b.data, b.len, 4, &sink, &used));
    CHECK_INT(used, b.len);
    CHECK_STR(sink_str(&sink, 0, buf), "Hello");
    CHECK_STR(sink_str(&sink, 1, buf), "World");
    CHECK_STR(sink_str(&sink, 2, buf), "Foobar");
    CHECK_STR(sink_str(&sink, 3, buf), "ABCDEF");
    CHECK_INT(offs[4], 24);
    /* Every truncation: false, or the values correct. */
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *t = sd_xmalloc(cut ? cut : 1);
        memcpy(t, b.data, cut);
        sd_buf_reset(&data);
        offs[0] = 0;
        if (pq_delta_length_decode(t, cut, 4, &sink, &used))
            unit_fail(__FILE__, __LINE__, "truncated at %zu but decoded", cut);
        if (pq_delta_length_decode(t, cut, 1, &sink, &used))
            CHECK_STR(sink_str(&sink, 0, buf), "Hello");
        free(t);
    }
    /* A negative length. */
    int64_t neg[2] = {3, -1};
    sd_buf_reset(&b);
    pq_delta_encode_i64(neg, 2, &b);
    sd_buf_append_str(&b, "abcdef");
    CHECK(!pq_delta_length_decode(b.data, b.len, 2, &sink, &used));
    /* Lengths longer than the data. */
    int64_t big[2] = {3, 4};
    sd_buf_reset(&b);
    pq_delta_encode_i64(big, 2, &b);
    sd_buf_append_str(&b, "abcdef");
    CHECK(!pq_delta_length_decode(b.data, b.len, 2, &sink, &used));
    sd_buf_free(&b);
    sd_buf_free(&data);
}

/* DELTA_BYTE_ARRAY page: prefix lengths, suffix lengths, suffix bytes. */
static void dba_build(sd_buf *b, const int64_t *pre, const int64_t *suf, size_t n, const char *s) {
    sd_buf_reset(b);
    pq_delta_encode_i64(pre, n, b);
    pq_delta_encode_i64(suf, n, b);
    sd_buf_append_str(b, s);
}

TEST(pq_delta_byte_array_spec_example) {
    int64_t pre[4] = {0, 2, 0, 3}, suf[4] = {4, 2, 6, 5};
    sd_buf b = SD_BUF_INIT;
    dba_build(&b, pre, suf, 4, "axislebabbleyhood");
    sd_buf data = SD_BUF_INIT;
    int64_t offs[5] = {0};
    pq_bytes_sink sink = {offs, &data};
    size_t used = 0;
    char buf[32];
    CHECK(pq_delta_byte_array_decode(b.data, b.len, 4, &sink, &used));
    CHECK_INT(used, b.len);
    CHECK_STR(sink_str(&sink, 0, buf), "axis");
    CHECK_STR(sink_str(&sink, 1, buf), "axle");
    CHECK_STR(sink_str(&sink, 2, buf), "babble");
    CHECK_STR(sink_str(&sink, 3, buf), "babyhood");
    CHECK_INT(data.len, 22);
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *t = sd_xmalloc(cut ? cut : 1);
        memcpy(t, b.data, cut);
        sd_buf_reset(&data);
        CHECK(!pq_delta_byte_array_decode(t, cut, 4, &sink, &used));
        CHECK_INT(data.len, 0);
        free(t);
    }
    /* FIXED_LEN_BYTE_ARRAY(3): "abc", "abd", "xyz". */
    int64_t fpre[3] = {0, 2, 0}, fsuf[3] = {3, 1, 3};
    dba_build(&b, fpre, fsuf, 3, "abcdxyz");
    sd_buf_reset(&data);
    CHECK(pq_delta_byte_array_decode(b.data, b.len, 3, &sink, &used));
    CHECK_STR(sink_str(&sink, 1, buf), "abd");
    CHECK_STR(sink_str(&sink, 2, buf), "xyz");
    /* A first prefix longer than the (empty) previous value. */
    int64_t bad1[2] = {1, 0}, bsuf[2] = {1, 1};
    dba_build(&b, bad1, bsuf, 2, "ab");
    CHECK(!pq_delta_byte_array_decode(b.data, b.len, 2, &sink, &used));
    /* A prefix longer than the previous value. */
    int64_t bad2[2] = {0, 2};
    dba_build(&b, bad2, bsuf, 2, "ab");
    CHECK(!pq_delta_byte_array_decode(b.data, b.len, 2, &sink, &used));
    /* A negative prefix length. */
    int64_t bad3[2] = {0, -1};
    dba_build(&b, bad3, bsuf, 2, "ab");
    CHECK(!pq_delta_byte_array_decode(b.data, b.len, 2, &sink, &used));
    sd_buf_free(&b);
    sd_buf_free(&data);
}

/* ---- BYTE_STREAM_SPLIT --------------------------------------------------- */

TEST(pq_byte_stream_split) {
    /* Encodings.md example: three 4-byte values. */
    static const uint8_t in[] = {0xaa, 0x00, 0xa3, 0xbb, 0x11, 0xb4,
                                 0xcc, 0x22, 0xc5, 0xdd, 0x33, 0xd6};
    static const uint8_t want[] = {0xaa, 0xbb, 0xcc, 0xdd, 0x00, 0x11,
                                   0x22, 0x33, 0xa3, 0xb4, 0xc5, 0xd6};
    uint8_t out[12];
    CHECK(pq_byte_stream_split_decode(in, 12, 4, 3, out));
    CHECK(memcmp(out, want, 12) == 0);
    CHECK(pq_byte_stream_split_decode(in, 12, 4, 2, out)); /* fewer than the page holds */
    CHECK(memcmp(out, want, 8) == 0);
    CHECK(!pq_byte_stream_split_decode(in, 11, 4, 2, out));
    CHECK(!pq_byte_stream_split_decode(in, 12, 4, 4, out));
    CHECK(!pq_byte_stream_split_decode(in, 12, 0, 0, out));
    /* Doubles: split by hand, decode back. */
    double d[5] = {1.5, -0.0, 1e300, -2.25, 3.0};
    uint8_t split[40];
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 8; k++) split[k * 5 + i] = ((const uint8_t *)&d[i])[k];
    double dout[5];
    CHECK(pq_byte_stream_split_decode(split, 40, 8, 5, dout));
    CHECK(memcmp(dout, d, sizeof(d)) == 0);
    /* FIXED_LEN_BYTE_ARRAY(3): "abc", "def". */
    uint8_t f[6] = {'a', 'd', 'b', 'e', 'c', 'f'}, fout[6];
    CHECK(pq_byte_stream_split_decode(f, 6, 3, 2, fout));
    CHECK(memcmp(fout, "abcdef", 6) == 0);
}
