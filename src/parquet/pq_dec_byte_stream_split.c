/*
 * pq_dec_byte_stream_split.c - BYTE_STREAM_SPLIT decoder (Encodings.md):
 * K byte streams of N bytes each, stream k holding byte k of every value.
 * The stream length N is the page's value count, taken from the buffer
 * length (len / width), so the caller may ask for fewer values than the
 * page holds; the buffer must be exactly K streams long (no padding).
 */
#include <string.h>

#include "pq_internal.h"

bool pq_byte_stream_split_decode(const uint8_t *p, size_t len, size_t width, size_t n, void *out) {
    if (width == 0 || len % width != 0) return false;
    size_t stride = len / width;
    if (n > stride) return false;
    uint8_t *dst = out;
    /* Widths 4 and 8 (FLOAT, DOUBLE, INT32, INT64) get loops the compiler
     * can unroll; other FIXED_LEN_BYTE_ARRAY widths take the general one. */
    if (width == 4) {
        const uint8_t *s0 = p, *s1 = p + stride, *s2 = p + 2 * stride, *s3 = p + 3 * stride;
        for (size_t i = 0; i < n; i++) {
            dst[4 * i] = s0[i];
            dst[4 * i + 1] = s1[i];
            dst[4 * i + 2] = s2[i];
            dst[4 * i + 3] = s3[i];
        }
    } else if (width == 8) {
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < 8; k++) dst[8 * i + k] = p[k * stride + i];
    } else {
        for (size_t k = 0; k < width; k++) {
            const uint8_t *s = p + k * stride;
            for (size_t i = 0; i < n; i++) dst[i * width + k] = s[i];
        }
    }
    return true;
}
