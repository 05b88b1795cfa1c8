/*
 * avro_encode.c - Avro binary encoding of the primitive types (the spec's
 * "Binary Encoding"), used by `streamdelta produce` and by tests that need
 * bodies written by something other than the decoder under test.
 */
#include <string.h>

#include "avro.h"

void avro_encode_long(sd_buf *out, int64_t v) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    sd_buf_reserve(out, 10); /* the longest varint of 64 bits */
    uint8_t *p = out->data + out->len;
    size_t n = 0;
    while (z >= 0x80) {
        p[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    p[n++] = (uint8_t)z;
    out->len += n;
}

void avro_encode_bool(sd_buf *out, bool v) {
    sd_buf_append_byte(out, v ? 1 : 0);
}

void avro_encode_float(sd_buf *out, float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    uint8_t b[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16),
                    (uint8_t)(bits >> 24)};
    sd_buf_append(out, b, 4);
}

void avro_encode_double(sd_buf *out, double v) {
    uint64_t bits;
    memcpy(&bits, &v, 8);
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(bits >> (8 * i));
    sd_buf_append(out, b, 8);
}

void avro_encode_bytes(sd_buf *out, const void *p, size_t n) {
    avro_encode_long(out, (int64_t)n);
    sd_buf_append(out, p, n);
}
