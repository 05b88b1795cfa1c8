/*
 * pq_dec_plain.c - PLAIN decoders: fixed-width values (a bounds-checked
 * memcpy), booleans (bit-packed LSB first, one output byte per value), byte
 * arrays (4-byte little-endian length + bytes) and FIXED_LEN_BYTE_ARRAY
 * values delivered as byte arrays. Spec: Encodings.md, PLAIN.
 *
 * Byte-array decoders append to a pq_bytes_sink; on failure the sink's data
 * buffer is restored to its length before the call.
 */
#include <string.h>

#include "pq_internal.h"

bool pq_plain_decode_fixed(const uint8_t *p, size_t len, size_t width, size_t n, void *out,
                           size_t *consumed) {
    if (width != 0 && n > len / width) return false;
    size_t bytes = width * n;
    if (bytes) memcpy(out, p, bytes);
    *consumed = bytes;
    return true;
}

bool pq_plain_decode_bools(const uint8_t *p, size_t len, size_t n, uint8_t *out, size_t *consumed) {
    size_t bytes = n / 8 + (n % 8 != 0);
    if (bytes > len) return false;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint8_t b = p[i / 8];
        for (int j = 0; j < 8; j++) out[i + j] = (uint8_t)((b >> j) & 1);
    }
    for (; i < n; i++) out[i] = (uint8_t)((p[i / 8] >> (i & 7)) & 1);
    *consumed = bytes;
    return true;
}

bool pq_plain_decode_bytes(const uint8_t *p, size_t len, size_t n, pq_bytes_sink *sink,
                           size_t *consumed) {
    sd_buf *data = sink->data;
    size_t start_len = data->len;
    /* The payload cannot be larger than the input: reserve once. */
    sd_buf_reserve(data, len);
    size_t pos = 0;
    int64_t off = sink->offsets[0];
    for (size_t i = 0; i < n; i++) {
        if (len - pos < 4) goto fail;
        uint32_t vlen = (uint32_t)p[pos] | (uint32_t)p[pos + 1] << 8 | (uint32_t)p[pos + 2] << 16 |
                        (uint32_t)p[pos + 3] << 24;
        pos += 4;
        /* A negative int32 length reads as a huge uint32 and fails here. */
        if (vlen > len - pos) goto fail;
        memcpy(data->data + data->len, p + pos, vlen);
        data->len += vlen;
        pos += vlen;
        off += vlen;
        sink->offsets[i + 1] = off;
    }
    *consumed = pos;
    return true;
fail:
    data->len = start_len;
    return false;
}

bool pq_plain_decode_fixed_bytes(const uint8_t *p, size_t len, size_t width, size_t n,
                                 pq_bytes_sink *sink, size_t *consumed) {
    if (width != 0 && n > len / width) return false;
    size_t bytes = width * n;
    sd_buf_append(sink->data, p, bytes);
    int64_t off = sink->offsets[0];
    for (size_t i = 0; i < n; i++) {
        off += (int64_t)width;
        sink->offsets[i + 1] = off;
    }
    *consumed = bytes;
    return true;
}
