/*
 * test_pq_codec.c - page compression: every codec round-trips, appends to
 * what the output buffer already holds, and refuses corrupt or truncated
 * input and a wrong uncompressed size with an error instead of short or
 * overrun output.
 */
#include <stdlib.h>
#include <zlib.h>

#include "parquet/pq_internal.h"
#include "unit.h"

static const pq_codec round_trip_codecs[] = {PQ_CODEC_UNCOMPRESSED, PQ_CODEC_SNAPPY, PQ_CODEC_GZIP,
                                             PQ_CODEC_ZSTD, PQ_CODEC_LZ4_RAW};
#define NCODECS (sizeof(round_trip_codecs) / sizeof(round_trip_codecs[0]))

/* A page-like input: repetitive text with some noise, so every codec
 * actually compresses and has back-references to get wrong. */
static void make_input(sd_buf *b, size_t n) {
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        uint8_t c = (i % 97 < 60) ? (uint8_t)("movie-rating-"[i % 13]) : (uint8_t)(x >> 24);
        sd_buf_append_byte(b, c);
    }
}

static void check_round_trip(pq_codec codec, const uint8_t *in, size_t n) {
    sd_buf out = SD_BUF_INIT;
    sd_buf_append(&out, "XY", 2); /* compression appends */
    sd_error err = {0};
    CHECK_OK(pq_compress(codec, 0, in, n, &out, &err), &err);
    CHECK(out.len >= 2 && memcmp(out.data, "XY", 2) == 0);
    uint8_t *back = sd_xmalloc(n ? n : 1);
    CHECK_OK(pq_decompress(codec, out.data + 2, out.len - 2, back, n, &err), &err);
    if (err.code == SD_OK && n > 0 && memcmp(back, in, n) != 0)
        unit_fail(__FILE__, __LINE__, "%s: round trip of %zu bytes differs", pq_codec_name(codec),
                  n);
    if (codec != PQ_CODEC_UNCOMPRESSED && n >= 10000 && out.len - 2 >= n)
        unit_fail(__FILE__, __LINE__, "%s did not compress %zu bytes", pq_codec_name(codec), n);
    free(back);
    sd_buf_free(&out);
}

TEST(pq_codec_round_trips) {
    sd_buf in = SD_BUF_INIT;
    make_input(&in, 200000);
    static const size_t sizes[] = {0, 1, 13, 4096, 65537, 200000};
    for (size_t c = 0; c < NCODECS; c++)
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
            check_round_trip(round_trip_codecs[c], in.data, sizes[s]);
    /* Compression levels other than the default work too. */
    sd_buf out = SD_BUF_INIT;
    sd_error err = {0};
    CHECK_OK(pq_compress(PQ_CODEC_ZSTD, 19, in.data, in.len, &out, &err), &err);
    CHECK_OK(pq_compress(PQ_CODEC_GZIP, 1, in.data, in.len, &out, &err), &err);
    sd_buf_free(&out);
    sd_buf_free(&in);
}

TEST(pq_codec_wrong_size_refused) {
    sd_buf in = SD_BUF_INIT;
    make_input(&in, 5000);
    for (size_t c = 1; c < NCODECS; c++) {
        pq_codec codec = round_trip_codecs[c];
        sd_buf out = SD_BUF_INIT;
        sd_error err = {0};
        CHECK_OK(pq_compress(codec, 0, in.data, in.len, &out, &err), &err);
        uint8_t *back = sd_xmalloc(in.len + 1);
        /* The page header claims one byte fewer or one more. */
        for (int delta = -1; delta <= 1; delta += 2) {
            sd_error_clear(&err);
            sd_status s = pq_decompress(codec, out.data, out.len, back, in.len + delta, &err);
            if (s != SD_ERR_CODEC)
                unit_fail(__FILE__, __LINE__, "%s with size %+d: status %d (%s)",
                          pq_codec_name(codec), delta, s, err.msg);
        }
        free(back);
        sd_buf_free(&out);
    }
    /* Uncompressed: the stored size must match exactly as well. */
    uint8_t small[8];
    sd_error err = {0};
    CHECK(pq_decompress(PQ_CODEC_UNCOMPRESSED, in.data, 9, small, 8, &err) != SD_OK);
    CHECK(err.msg[0] != '\0');
    sd_buf_free(&in);
}

TEST(pq_codec_corrupt_input_refused) {
    sd_buf in = SD_BUF_INIT;
    make_input(&in, 20000);
    uint8_t *back = sd_xmalloc(in.len);
    for (size_t c = 1; c < NCODECS; c++) {
        pq_codec codec = round_trip_codecs[c];
        sd_buf out = SD_BUF_INIT;
        sd_error err = {0};
        CHECK_OK(pq_compress(codec, 0, in.data, in.len, &out, &err), &err);
        /* Truncated at several points: never a success. Each prefix is its
         * own allocation so ASan sees any read beyond it. */
        for (size_t cut = 0; cut < out.len; cut += 1 + out.len / 17) {
            uint8_t *copy = sd_xmalloc(cut ? cut : 1);
            memcpy(copy, out.data, cut);
            sd_error_clear(&err);
            sd_status s = pq_decompress(codec, copy, cut, back, in.len, &err);
            if (s != SD_ERR_CODEC)
                unit_fail(__FILE__, __LINE__, "%s truncated to %zu of %zu bytes: status %d",
                          pq_codec_name(codec), cut, out.len, s);
            free(copy);
        }
        /* Garbage of the right length. */
        uint8_t *junk = sd_xmalloc(out.len);
        for (size_t i = 0; i < out.len; i++) junk[i] = (uint8_t)(0xA5 ^ (i * 31));
        sd_error_clear(&err);
        CHECK_INT(pq_decompress(codec, junk, out.len, back, in.len, &err), SD_ERR_CODEC);
        /* The message names the codec ("lz4" for LZ4_RAW). */
        CHECK(strncmp(err.msg, pq_codec_name(codec), 3) == 0);
        free(junk);
        sd_buf_free(&out);
    }
    free(back);
    sd_buf_free(&in);
}

TEST(pq_codec_gzip_accepts_zlib_stream) {
    /* Some old writers stored zlib (not gzip) streams in GZIP pages. */
    static const char text[] = "a zlib-wrapped page, a zlib-wrapped page, a zlib-wrapped page";
    uint8_t z[256];
    uLongf zlen = sizeof(z);
    CHECK_INT(compress2(z, &zlen, (const Bytef *)text, sizeof(text), 6), Z_OK);
    char back[sizeof(text)];
    sd_error err = {0};
    CHECK_OK(pq_decompress(PQ_CODEC_GZIP, z, zlen, (uint8_t *)back, sizeof(text), &err), &err);
    CHECK_STR(back, text);
}

TEST(pq_codec_unsupported_and_names) {
    uint8_t buf[4] = {1, 2, 3, 4}, out[4];
    sd_buf o = SD_BUF_INIT;
    static const pq_codec unsupported[] = {PQ_CODEC_LZO, PQ_CODEC_BROTLI, PQ_CODEC_LZ4};
    for (size_t i = 0; i < 3; i++) {
        sd_error err = {0};
        CHECK_INT(pq_compress(unsupported[i], 0, buf, 4, &o, &err), SD_ERR_UNSUPPORTED);
        CHECK(strstr(err.msg, pq_codec_name(unsupported[i])) != NULL);
        sd_error_clear(&err);
        CHECK_INT(pq_decompress(unsupported[i], buf, 4, out, 4, &err), SD_ERR_UNSUPPORTED);
    }
    sd_buf_free(&o);
    CHECK_STR(pq_codec_name(PQ_CODEC_LZ4_RAW), "lz4_raw");
    CHECK_STR(pq_codec_name(PQ_CODEC_BROTLI), "brotli");
    pq_codec c = PQ_CODEC_GZIP;
    sd_error err = {0};
    CHECK_OK(pq_codec_parse("ZSTD", &c, &err), &err);
    CHECK_INT(c, PQ_CODEC_ZSTD);
    CHECK_OK(pq_codec_parse("none", &c, &err), &err);
    CHECK_INT(c, PQ_CODEC_UNCOMPRESSED);
    CHECK_INT(pq_codec_parse("lzo", &c, &err), SD_ERR_ARG);
    CHECK(strstr(err.msg, "'lzo'") != NULL);
}
