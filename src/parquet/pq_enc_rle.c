/*
 * pq_enc_rle.c - the RLE / bit-packed hybrid encoder (Encodings.md, "Run
 * Length Encoding / Bit-Packing Hybrid") used for definition and repetition
 * levels, dictionary indices and RLE booleans, plus pq_bit_width().
 *
 * The input is scanned in groups of 8 values: a value repeated 8 or more
 * times becomes an RLE run, anything else joins the pending bit-packed run.
 * Bit-packed runs always hold whole groups of 8 (only the very last group of
 * the input is padded with zeros), because a reader cannot tell padding from
 * values in the middle of a stream.
 */
#include <string.h>

#include "pq_internal.h"

/* Run lengths must stay within [1, 2^31 - 1] (Encodings.md note 3). */
#define PQ_RLE_MAX_RUN 0x7fffffffu
/* Cap a bit-packed run so its scaled length stays small; the header costs
 * 2-3 bytes per this many values, which is negligible. */
#define PQ_RLE_MAX_PACKED_GROUPS (1u << 16)

int pq_bit_width(uint64_t max_value) {
    int w = 0;
    while (max_value != 0) {
        w++;
        max_value >>= 1;
    }
    return w;
}

static void pq_put_uleb(sd_buf *out, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7;
        tmp[n++] = v ? (uint8_t)(b | 0x80) : b;
    } while (v);
    sd_buf_append(out, tmp, n);
}

/* Emit `count` values starting at `values` as one bit-packed run, padding
 * the last group of 8 with zeros. */
static void pq_rle_emit_packed(const uint32_t *values, size_t count, int bit_width, sd_buf *out) {
    size_t groups = (count + 7) / 8;
    pq_put_uleb(out, ((uint64_t)groups << 1) | 1);
    size_t nbytes = groups * (size_t)bit_width;
    uint8_t *dst = sd_buf_extend(out, nbytes);
    uint32_t mask = bit_width == 32 ? 0xffffffffu : ((1u << bit_width) - 1);
    uint64_t acc = 0;
    int nbits = 0;
    size_t o = 0;
    for (size_t i = 0; i < groups * 8; i++) {
        uint32_t v = i < count ? (values[i] & mask) : 0;
        acc |= (uint64_t)v << nbits;
        nbits += bit_width;
        while (nbits >= 8) {
            dst[o++] = (uint8_t)acc;
            acc >>= 8;
            nbits -= 8;
        }
    }
    /* groups * 8 * bit_width is a multiple of 8 bits: nothing is left. */
}

static void pq_rle_emit_run(uint32_t value, size_t count, int bit_width, sd_buf *out) {
    int nbytes = (bit_width + 7) / 8;
    while (count > 0) {
        size_t run = count > PQ_RLE_MAX_RUN ? PQ_RLE_MAX_RUN : count;
        pq_put_uleb(out, (uint64_t)run << 1);
        for (int b = 0; b < nbytes; b++) sd_buf_append_byte(out, (uint8_t)(value >> (8 * b)));
        count -= run;
    }
}

void pq_rle_encode(const uint32_t *values, size_t n, int bit_width, sd_buf *out) {
    uint32_t mask = bit_width >= 32 ? 0xffffffffu : ((1u << bit_width) - 1);
    size_t packed_start = 0, packed_count = 0;
    size_t i = 0;
    while (i < n) {
        uint32_t v = values[i] & mask;
        size_t run = 1;
        while (i + run < n && (values[i + run] & mask) == v) run++;
        if (run >= 8) {
            if (packed_count)
                pq_rle_emit_packed(values + packed_start, packed_count, bit_width, out);
            packed_count = 0;
            pq_rle_emit_run(v, run, bit_width, out);
            i += run;
            continue;
        }
        /* A group of 8 (or the rest of the input) joins the bit-packed run.
         * A long run starting inside the group still becomes an RLE run
         * from the next group on. */
        size_t take = n - i < 8 ? n - i : 8;
        if (packed_count == 0) packed_start = i;
        packed_count += take;
        i += take;
        if (packed_count >= (size_t)PQ_RLE_MAX_PACKED_GROUPS * 8) {
            pq_rle_emit_packed(values + packed_start, packed_count, bit_width, out);
            packed_count = 0;
        }
    }
    if (packed_count) pq_rle_emit_packed(values + packed_start, packed_count, bit_width, out);
}
