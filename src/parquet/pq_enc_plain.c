/*
 * pq_enc_plain.c - PLAIN encoders for the values that are not simply their
 * little-endian bytes: booleans (bit-packed, LSB first) and byte arrays
 * (4-byte little-endian length, then the bytes). Fixed-width values need no
 * encoder: writers append their bytes directly. Spec: Encodings.md, PLAIN.
 */
#include <string.h>

#include "pq_internal.h"

void pq_plain_encode_bools(const uint8_t *values, size_t n, sd_buf *out) {
    uint8_t *dst = sd_buf_extend(out, (n + 7) / 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint8_t b = 0;
        for (int j = 0; j < 8; j++) b |= (uint8_t)((values[i + j] != 0) << j);
        dst[i / 8] = b;
    }
    for (; i < n; i++) dst[i / 8] |= (uint8_t)((values[i] != 0) << (i & 7));
}

void pq_plain_encode_bytes(const uint8_t *data, const int64_t *offsets, size_t n, sd_buf *out) {
    if (n == 0) return;
    /* One reservation for the whole batch: lengths plus payload. */
    sd_buf_reserve(out, 4 * n + (size_t)(offsets[n] - offsets[0]));
    uint8_t *dst = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = (uint32_t)(offsets[i + 1] - offsets[i]);
        dst[0] = (uint8_t)len;
        dst[1] = (uint8_t)(len >> 8);
        dst[2] = (uint8_t)(len >> 16);
        dst[3] = (uint8_t)(len >> 24);
        if (len) memcpy(dst + 4, data + offsets[i], len);
        dst += 4 + (size_t)len;
    }
    out->len = (size_t)(dst - out->data);
}
