/*
 * test_avro_ocf.c - Object Container Files for each codec (null, deflate,
 * snappy with its CRC32, zstandard), written here by hand from the spec's
 * layout, read back in batches across block boundaries, resolved to a
 * different reader schema, and refused when corrupt.
 */
#include <snappy-c.h>
#include <stdio.h>
#include <zlib.h>
#include <zstd.h>

#include "test_avro_util.h"

static const char *ocf_schema =
    "{\"type\":\"record\",\"name\":\"Rating\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"},"
    "{\"name\":\"name\",\"type\":\"string\"}]}";
static const uint8_t sync_marker[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void compress_block(const char *codec, const sd_buf *in, sd_buf *out) {
    if (strcmp(codec, "null") == 0) {
        sd_buf_append(out, in->data, in->len);
    } else if (strcmp(codec, "deflate") == 0) {
        z_stream z = {0};
        deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY); /* raw RFC 1951 */
        sd_buf_reserve(out, deflateBound(&z, in->len));
        z.next_in = in->data;
        z.avail_in = (uInt)in->len;
        z.next_out = out->data + out->len;
        z.avail_out = (uInt)(out->cap - out->len);
        deflate(&z, Z_FINISH);
        out->len += z.total_out;
        deflateEnd(&z);
    } else if (strcmp(codec, "snappy") == 0) {
        size_t n = snappy_max_compressed_length(in->len);
        sd_buf_reserve(out, n + 4);
        snappy_compress((const char *)in->data, in->len, (char *)out->data + out->len, &n);
        out->len += n;
        uint32_t crc = (uint32_t)crc32(0L, in->data, (uInt)in->len);
        uint8_t be[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8),
                         (uint8_t)crc};
        sd_buf_append(out, be, 4);
    } else {
        size_t cap = ZSTD_compressBound(in->len);
        sd_buf_reserve(out, cap);
        out->len += ZSTD_compress(out->data + out->len, cap, in->data, in->len, 3);
    }
}

/* A file with records first..first+n-1 per block, blocks as given. */
static void write_ocf(sd_buf *f, const char *codec, const int *block_sizes, int nblocks) {
    sd_buf_append(f, "Obj\x01", 4);
    enc_long(f, 2);
    enc_str(f, "avro.schema");
    enc_str(f, ocf_schema);
    enc_str(f, "avro.codec");
    enc_str(f, codec);
    enc_long(f, 0);
    sd_buf_append(f, sync_marker, 16);
    int id = 0;
    for (int k = 0; k < nblocks; k++) {
        sd_buf raw = SD_BUF_INIT, packed = SD_BUF_INIT;
        for (int i = 0; i < block_sizes[k]; i++, id++) {
            char name[32];
            snprintf(name, sizeof(name), "name-%d", id);
            enc_long(&raw, id * 1000);
            enc_str(&raw, name);
        }
        compress_block(codec, &raw, &packed);
        enc_long(f, block_sizes[k]);
        enc_long(f, (int64_t)packed.len);
        sd_buf_append(f, packed.data, packed.len);
        sd_buf_append(f, sync_marker, 16);
        sd_buf_free(&raw);
        sd_buf_free(&packed);
    }
}

TEST(avro_ocf_every_codec_in_batches) {
    const char *codecs[] = {"null", "deflate", "snappy", "zstandard"};
    const int blocks[] = {5, 2};
    for (int ci = 0; ci < 4; ci++) {
        sd_buf f = SD_BUF_INIT;
        write_ocf(&f, codecs[ci], blocks, 2);
        sd_error err = {0};
        avro_ocf_reader *r = avro_ocf_open_memory(f.data, f.len, codecs[ci], NULL, NULL, &err);
        if (r == NULL) {
            unit_fail(__FILE__, __LINE__, "%s: %s", codecs[ci], err.msg);
            sd_buf_free(&f);
            continue;
        }
        CHECK_STR(avro_ocf_codec(r), codecs[ci]);
        sd_batch b;
        sd_batch_init(&b, avro_ocf_schema(r));
        size_t got[5] = {0}, total = 0;
        for (int call = 0; call < 5; call++) {
            CHECK_OK(avro_ocf_read(r, &b, 3, &got[call], &err), &err);
            total += got[call];
        }
        /* 7 records in blocks of 5 and 2, asked 3 at a time */
        CHECK_INT(got[0], 3);
        CHECK_INT(got[1], 3);
        CHECK_INT(got[2], 1);
        CHECK_INT(got[3], 0);
        CHECK_INT(total, 7);
        CHECK_INT(b.nrows, 7);
        CHECK_INT(((int64_t *)b.cols[0].values)[6], 6000);
        CHECK(col_str_is(&b.cols[1], 4, "name-4"));
        CHECK(col_str_is(&b.cols[1], 5, "name-5"));
        sd_batch_free(&b);
        avro_ocf_close(r);
        sd_buf_free(&f);
    }
}

TEST(avro_ocf_file_with_reader_schema) {
    const int blocks[] = {3};
    sd_buf f = SD_BUF_INIT;
    write_ocf(&f, "deflate", blocks, 1);
    char path[512];
    snprintf(path, sizeof(path), "%s/ratings.avro", unit_tmpdir());
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (fp == NULL) return;
    fwrite(f.data, 1, f.len, fp);
    fclose(fp);
    /* The reader drops "id" (skipped), reads name, and adds a default. */
    avro_schema *reader = must_schema("{\"type\":\"record\",\"name\":\"Rating\",\"fields\":[{"
                                      "\"name\":\"name\",\"type\":\"string\"},"
                                      "{\"name\":\"v\",\"type\":\"int\",\"default\":7}]}");
    sd_error err = {0};
    avro_ocf_reader *r = avro_ocf_open(path, reader, NULL, &err);
    CHECK(r != NULL);
    if (r) {
        sd_batch b;
        sd_batch_init(&b, avro_ocf_schema(r));
        size_t n = 0;
        CHECK_OK(avro_ocf_read(r, &b, 100, &n, &err), &err);
        CHECK_INT(n, 3);
        CHECK(col_str_is(&b.cols[0], 2, "name-2"));
        CHECK_INT(((int32_t *)b.cols[1].values)[2], 7);
        CHECK_STR(avro_schema_root(avro_ocf_writer_schema(r))->fullname, "Rating");
        sd_batch_free(&b);
        avro_ocf_close(r);
    }
    avro_schema_free(reader);
    sd_buf_free(&f);
    sd_error_clear(&err);
    CHECK(avro_ocf_open("/nonexistent/x.avro", NULL, NULL, &err) == NULL);
    CHECK(strstr(err.msg, "/nonexistent/x.avro: cannot open") != NULL);
}

/* Read everything; returns the status of the first failing read. */
static sd_status read_all(const sd_buf *f, sd_error *err) {
    avro_ocf_reader *r = avro_ocf_open_memory(f->data, f->len, "bad.avro", NULL, NULL, err);
    if (r == NULL) return err->code;
    sd_batch b;
    sd_batch_init(&b, avro_ocf_schema(r));
    size_t n = 1;
    sd_status st = SD_OK;
    while (st == SD_OK && n > 0) st = avro_ocf_read(r, &b, 2, &n, err);
    sd_batch_free(&b);
    avro_ocf_close(r);
    return st;
}

TEST(avro_ocf_corrupt_files_are_refused) {
    const int blocks[] = {4};
    sd_error err = {0};
    sd_buf f = SD_BUF_INIT;

    /* snappy: flip the CRC's last byte (the byte before the final sync) */
    write_ocf(&f, "snappy", blocks, 1);
    f.data[f.len - 17] ^= 0x01;
    CHECK_INT(read_all(&f, &err), SD_ERR_CODEC);
    CHECK(strstr(err.msg, "bad.avro: block at byte") && strstr(err.msg, "CRC32 mismatch"));

    /* wrong sync marker after a block */
    sd_buf_reset(&f);
    sd_error_clear(&err);
    write_ocf(&f, "null", blocks, 1);
    f.data[f.len - 1] ^= 0xff;
    CHECK_INT(read_all(&f, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "sync marker") != NULL);

    /* truncated file */
    sd_buf_reset(&f);
    sd_error_clear(&err);
    write_ocf(&f, "zstandard", blocks, 1);
    f.len -= 20;
    CHECK_INT(read_all(&f, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "truncated block header") != NULL);

    /* a record cut short inside an uncompressed block: the block's size
     * is right but its count claims one more record */
    sd_buf_reset(&f);
    sd_error_clear(&err);
    write_ocf(&f, "null", blocks, 1);
    size_t hdr = f.len;
    for (size_t i = 4; i + 16 <= f.len; i++)
        if (memcmp(f.data + i, sync_marker, 16) == 0) {
            hdr = i + 16;
            break;
        }
    CHECK(f.data[hdr] == 8); /* count 4 */
    f.data[hdr] = 10;        /* count 5 */
    CHECK_INT(read_all(&f, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "record 4: truncated body") != NULL);

    /* unknown codec, bad magic */
    sd_buf_reset(&f);
    sd_error_clear(&err);
    write_ocf(&f, "bzip2", blocks, 0);
    CHECK_INT(read_all(&f, &err), SD_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "codec \"bzip2\" is not supported") != NULL);
    f.data[0] = 'X';
    sd_error_clear(&err);
    CHECK_INT(read_all(&f, &err), SD_ERR_FORMAT);
    CHECK(strstr(err.msg, "not an Avro object container file") != NULL);
    sd_buf_free(&f);
}
