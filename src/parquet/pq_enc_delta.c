/*
 * pq_enc_delta.c - DELTA_BINARY_PACKED encoder for 64-bit integers
 * (Encodings.md, "Delta Encoding"): blocks of 128 deltas in 4 miniblocks of
 * 32, each miniblock bit-packed LSB first with its own width. All delta
 * arithmetic is done on uint64_t so that it wraps as the spec requires (no
 * signed overflow for INT64_MIN / INT64_MAX neighbours).
 */
#include <string.h>

#include "pq_internal.h"

#define PQ_DELTA_BLOCK 128
#define PQ_DELTA_MINIBLOCKS 4
#define PQ_DELTA_MB_VALUES (PQ_DELTA_BLOCK / PQ_DELTA_MINIBLOCKS)

static void pq_delta_put_uleb(sd_buf *out, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7;
        tmp[n++] = v ? (uint8_t)(b | 0x80) : b;
    } while (v);
    sd_buf_append(out, tmp, n);
}

static uint64_t pq_zigzag(int64_t v) {
    uint64_t u = (uint64_t)v;
    return (u << 1) ^ (0 - (u >> 63));
}

/* Bit-pack 32 values of `bw` bits (0..64), LSB first: 4 * bw bytes. */
static void pq_delta_pack32(const uint64_t *v, int bw, sd_buf *out) {
    if (bw == 0) return;
    uint8_t *dst = sd_buf_extend(out, (size_t)bw * 4);
    unsigned __int128 acc = 0;
    int nbits = 0;
    size_t o = 0;
    for (int j = 0; j < PQ_DELTA_MB_VALUES; j++) {
        acc |= (unsigned __int128)v[j] << nbits;
        nbits += bw;
        while (nbits >= 8) {
            dst[o++] = (uint8_t)acc;
            acc >>= 8;
            nbits -= 8;
        }
    }
}

/* One block of `count` (1..128) deltas. */
static void pq_delta_encode_block(const uint64_t *deltas, size_t count, sd_buf *out) {
    int64_t min = (int64_t)deltas[0];
    for (size_t i = 1; i < count; i++)
        if ((int64_t)deltas[i] < min) min = (int64_t)deltas[i];
    uint64_t rel[PQ_DELTA_BLOCK] = {0}; /* zero padding for the last miniblock */
    for (size_t i = 0; i < count; i++) rel[i] = deltas[i] - (uint64_t)min;
    uint8_t widths[PQ_DELTA_MINIBLOCKS] = {0};
    size_t used = (count + PQ_DELTA_MB_VALUES - 1) / PQ_DELTA_MB_VALUES;
    for (size_t m = 0; m < used; m++) {
        uint64_t all = 0;
        for (size_t j = 0; j < PQ_DELTA_MB_VALUES; j++) all |= rel[m * PQ_DELTA_MB_VALUES + j];
        widths[m] = (uint8_t)pq_bit_width(all);
    }
    pq_delta_put_uleb(out, pq_zigzag(min));
    sd_buf_append(out, widths, sizeof(widths)); /* unused miniblocks: width 0 */
    for (size_t m = 0; m < used; m++) pq_delta_pack32(rel + m * PQ_DELTA_MB_VALUES, widths[m], out);
}

void pq_delta_encode_i64(const int64_t *values, size_t n, sd_buf *out) {
    pq_delta_put_uleb(out, PQ_DELTA_BLOCK);
    pq_delta_put_uleb(out, PQ_DELTA_MINIBLOCKS);
    pq_delta_put_uleb(out, n);
    pq_delta_put_uleb(out, pq_zigzag(n ? values[0] : 0));
    uint64_t deltas[PQ_DELTA_BLOCK];
    size_t i = 1;
    while (i < n) {
        size_t count = n - i < PQ_DELTA_BLOCK ? n - i : PQ_DELTA_BLOCK;
        for (size_t j = 0; j < count; j++)
            deltas[j] = (uint64_t)values[i + j] - (uint64_t)values[i + j - 1];
        pq_delta_encode_block(deltas, count, out);
        i += count;
    }
}
