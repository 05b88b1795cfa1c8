/*
 * pq_codec.c - page compression: SNAPPY, GZIP, ZSTD, LZ4_RAW and none.
 *
 * Each codec is a thin wrapper over its Debian library. Decompression is
 * told the exact uncompressed size from the page header and refuses any
 * other outcome, so a corrupt page can neither overrun the buffer nor
 * silently produce short data.
 */
#include <lz4.h>
#include <snappy-c.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "pq_internal.h"

const char *pq_codec_name(pq_codec codec) {
    switch (codec) {
        case PQ_CODEC_UNCOMPRESSED:
            return "uncompressed";
        case PQ_CODEC_SNAPPY:
            return "snappy";
        case PQ_CODEC_GZIP:
            return "gzip";
        case PQ_CODEC_LZO:
            return "lzo";
        case PQ_CODEC_BROTLI:
            return "brotli";
        case PQ_CODEC_LZ4:
            return "lz4";
        case PQ_CODEC_ZSTD:
            return "zstd";
        case PQ_CODEC_LZ4_RAW:
            return "lz4_raw";
    }
    return "unknown";
}

sd_status pq_codec_parse(const char *name, pq_codec *out, sd_error *err) {
    static const struct {
        const char *name;
        pq_codec codec;
    } names[] = {{"none", PQ_CODEC_UNCOMPRESSED}, {"uncompressed", PQ_CODEC_UNCOMPRESSED},
                 {"snappy", PQ_CODEC_SNAPPY},     {"gzip", PQ_CODEC_GZIP},
                 {"zstd", PQ_CODEC_ZSTD},         {"lz4_raw", PQ_CODEC_LZ4_RAW},
                 {"lz4", PQ_CODEC_LZ4_RAW}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].codec;
            return SD_OK;
        }
    }
    return sd_error_set(err, SD_ERR_ARG,
                        "unknown compression codec '%s' (use snappy, zstd, gzip, lz4_raw or none)",
                        name);
}

static sd_status pq_gzip_compress(int level, const uint8_t *in, size_t n, sd_buf *out,
                                  sd_error *err) {
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* windowBits 15 + 16 selects the gzip wrapper, which Parquet requires. */
    if (deflateInit2(&zs, level ? level : Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return sd_error_set(err, SD_ERR_CODEC, "gzip: cannot initialise compressor");
    size_t bound = deflateBound(&zs, (uLong)n);
    sd_buf_reserve(out, bound);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out->data + out->len;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    size_t produced = bound - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) return sd_error_set(err, SD_ERR_CODEC, "gzip: compression failed");
    out->len += produced;
    return SD_OK;
}

static sd_status pq_gzip_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t out_len,
                                    sd_error *err) {
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* 15 + 32: accept gzip or zlib headers; older writers used either. */
    if (inflateInit2(&zs, 15 + 32) != Z_OK)
        return sd_error_set(err, SD_ERR_CODEC, "gzip: cannot initialise decompressor");
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)out_len;
    int rc = inflate(&zs, Z_FINISH);
    size_t produced = out_len - zs.avail_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || produced != out_len)
        return sd_error_set(err, SD_ERR_CODEC,
                            "gzip: corrupt data (zlib status %d, %zu of %zu bytes produced)", rc,
                            produced, out_len);
    return SD_OK;
}

sd_status pq_compress(pq_codec codec, int level, const uint8_t *in, size_t n, sd_buf *out,
                      sd_error *err) {
    switch (codec) {
        case PQ_CODEC_UNCOMPRESSED:
            sd_buf_append(out, in, n);
            return SD_OK;
        case PQ_CODEC_SNAPPY: {
            size_t cap = snappy_max_compressed_length(n);
            sd_buf_reserve(out, cap);
            if (snappy_compress((const char *)in, n, (char *)out->data + out->len, &cap) !=
                SNAPPY_OK)
                return sd_error_set(err, SD_ERR_CODEC, "snappy: compression failed");
            out->len += cap;
            return SD_OK;
        }
        case PQ_CODEC_GZIP:
            return pq_gzip_compress(level, in, n, out, err);
        case PQ_CODEC_ZSTD: {
            size_t cap = ZSTD_compressBound(n);
            sd_buf_reserve(out, cap);
            size_t r = ZSTD_compress(out->data + out->len, cap, in, n, level ? level : 3);
            if (ZSTD_isError(r))
                return sd_error_set(err, SD_ERR_CODEC, "zstd: %s", ZSTD_getErrorName(r));
            out->len += r;
            return SD_OK;
        }
        case PQ_CODEC_LZ4_RAW: {
            if (n > (size_t)LZ4_MAX_INPUT_SIZE)
                return sd_error_set(err, SD_ERR_CODEC, "lz4_raw: page of %zu bytes is too large",
                                    n);
            int cap = LZ4_compressBound((int)n);
            sd_buf_reserve(out, (size_t)cap);
            int r =
                LZ4_compress_default((const char *)in, (char *)out->data + out->len, (int)n, cap);
            if (r <= 0) return sd_error_set(err, SD_ERR_CODEC, "lz4_raw: compression failed");
            out->len += (size_t)r;
            return SD_OK;
        }
        default:
            return sd_error_set(err, SD_ERR_UNSUPPORTED, "compression codec %s is not supported",
                                pq_codec_name(codec));
    }
}

sd_status pq_decompress(pq_codec codec, const uint8_t *in, size_t n, uint8_t *out, size_t out_len,
                        sd_error *err) {
    switch (codec) {
        case PQ_CODEC_UNCOMPRESSED:
            if (n != out_len)
                return sd_error_set(err, SD_ERR_CODEC,
                                    "uncompressed page size %zu differs from its header (%zu)", n,
                                    out_len);
            memcpy(out, in, n);
            return SD_OK;
        case PQ_CODEC_SNAPPY: {
            size_t len = 0;
            if (snappy_uncompressed_length((const char *)in, n, &len) != SNAPPY_OK ||
                len != out_len)
                return sd_error_set(err, SD_ERR_CODEC,
                                    "snappy: corrupt data (header says %zu bytes, page %zu)", len,
                                    out_len);
            if (snappy_uncompress((const char *)in, n, (char *)out, &len) != SNAPPY_OK)
                return sd_error_set(err, SD_ERR_CODEC, "snappy: corrupt data");
            return SD_OK;
        }
        case PQ_CODEC_GZIP:
            return pq_gzip_decompress(in, n, out, out_len, err);
        case PQ_CODEC_ZSTD: {
            size_t r = ZSTD_decompress(out, out_len, in, n);
            if (ZSTD_isError(r))
                return sd_error_set(err, SD_ERR_CODEC, "zstd: %s", ZSTD_getErrorName(r));
            if (r != out_len)
                return sd_error_set(err, SD_ERR_CODEC, "zstd: %zu bytes decompressed, expected %zu",
                                    r, out_len);
            return SD_OK;
        }
        case PQ_CODEC_LZ4_RAW: {
            if (n > (size_t)INT32_MAX || out_len > (size_t)INT32_MAX)
                return sd_error_set(err, SD_ERR_CODEC, "lz4_raw: page too large");
            int r = LZ4_decompress_safe((const char *)in, (char *)out, (int)n, (int)out_len);
            if (r < 0 || (size_t)r != out_len)
                return sd_error_set(err, SD_ERR_CODEC, "lz4_raw: corrupt data");
            return SD_OK;
        }
        default:
            return sd_error_set(err, SD_ERR_UNSUPPORTED, "compression codec %s is not supported",
                                pq_codec_name(codec));
    }
}
