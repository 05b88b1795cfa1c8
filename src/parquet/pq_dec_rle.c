/*
 * pq_dec_rle.c - decoders for the RLE / bit-packed hybrid (levels,
 * dictionary indices, RLE booleans) and for the deprecated BIT_PACKED level
 * encoding. Spec: apache/parquet-format Encodings.md.
 *
 * Hot path: a data page of dictionary indices or levels is decoded here for
 * every row. Bit-packed runs are unpacked 8 values per step with the bit
 * width as a compile-time constant (one specialised copy per width through a
 * switch), reading unaligned 64-bit words; near the end of the buffer the
 * group is first copied into a zero-padded scratch array so no load ever
 * passes `end`. RLE runs are filled with a plain store loop, which the
 * compiler turns into vector stores.
 */
#include <string.h>

#include "pq_internal.h"

/* Bit-packed runs hold at most 2^31 - 1 values (Encodings.md note 3). */
#define PQ_RLE_MAX_GROUPS (0x7fffffffu / 8)

static inline uint64_t pq_load_le64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Unpack the 8 values of one group of `bw` bytes. `in` must have bw + 8
 * readable bytes (the last value's 64-bit load may look past the group). */
static inline __attribute__((always_inline)) void pq_unpack8(const uint8_t *in, uint32_t *out,
                                                             int bw) {
    const uint64_t mask = bw == 32 ? 0xffffffffu : ((1ull << bw) - 1);
    for (int j = 0; j < 8; j++) {
        unsigned bit = (unsigned)(j * bw);
        out[j] = (uint32_t)((pq_load_le64(in + (bit >> 3)) >> (bit & 7)) & mask);
    }
}

/* Unpack `ngroups` whole groups of 8; every group must have bw + 8
 * readable bytes. One copy of the loop per width, with constant shifts. */
// clang-format off
#define PQ_UNPACK_CASE(w) \
    case w: for (size_t g = 0; g < ngroups; g++) pq_unpack8(in + g * (w), out + 8 * g, (w)); break;
#define PQ_UNPACK_CASE8(w)                                                                         \
    PQ_UNPACK_CASE(w) PQ_UNPACK_CASE(w + 1) PQ_UNPACK_CASE(w + 2) PQ_UNPACK_CASE(w + 3)            \
    PQ_UNPACK_CASE(w + 4) PQ_UNPACK_CASE(w + 5) PQ_UNPACK_CASE(w + 6) PQ_UNPACK_CASE(w + 7)

static void pq_unpack_groups(const uint8_t *in, uint32_t *out, size_t ngroups, int bw) {
    switch (bw) {
        PQ_UNPACK_CASE8(1) PQ_UNPACK_CASE8(9) PQ_UNPACK_CASE8(17) PQ_UNPACK_CASE8(25)
        default: memset(out, 0, 8 * ngroups * sizeof(*out)); break;
    }
}
// clang-format on

/* One value at bit offset `bit` of a bit-packed run; the caller has checked
 * that all of its bytes lie before `end`. */
static uint32_t pq_unpack_one(const uint8_t *base, uint64_t bit, int bw) {
    const uint8_t *q = base + (bit >> 3);
    int shift = (int)(bit & 7);
    int nbytes = (shift + bw + 7) / 8;
    uint64_t acc = 0;
    for (int i = 0; i < nbytes; i++) acc |= (uint64_t)q[i] << (8 * i);
    uint64_t mask = bw == 32 ? 0xffffffffu : ((1ull << bw) - 1);
    return (uint32_t)((acc >> shift) & mask);
}

void pq_rle_decoder_init(pq_rle_decoder *d, const uint8_t *p, size_t len, int bit_width) {
    memset(d, 0, sizeof(*d));
    d->p = p;
    d->end = p + len;
    d->bit_width = bit_width;
}

/* ULEB128 run header, at most 32 bits. */
static bool pq_rle_read_header(pq_rle_decoder *d, uint32_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (d->p >= d->end) return false;
        uint8_t b = *d->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (v > 0xffffffffu) return false;
            *out = (uint32_t)v;
            return true;
        }
    }
    return false; /* more than 5 bytes: the count overflows 32 bits */
}

/* Start the next run. False at the end of the input or on a corrupt run. */
static bool pq_rle_next_run(pq_rle_decoder *d) {
    int bw = d->bit_width;
    uint32_t h;
    if (!pq_rle_read_header(d, &h)) return false;
    if (h & 1) {
        uint32_t groups = h >> 1;
        if (groups > PQ_RLE_MAX_GROUPS) return false;
        uint32_t count = groups * 8;
        size_t avail = (size_t)(d->end - d->p);
        size_t need = (size_t)groups * (size_t)bw;
        d->packed = d->p;
        d->packed_pos = 0;
        d->packed_left = count;
        if (need > avail) {
            /* Writers may cut the last group short; keep the values whose
             * bits are all present and fail only if more are asked for. */
            size_t present = avail * 8 / (size_t)bw;
            d->packed_left = (uint32_t)present;
            d->p = d->end;
        } else {
            d->p += need;
        }
        return true;
    }
    uint32_t count = h >> 1;
    int nbytes = (bw + 7) / 8;
    if (d->end - d->p < nbytes) return false;
    uint32_t v = 0;
    for (int i = 0; i < nbytes; i++) v |= (uint32_t)d->p[i] << (8 * i);
    d->p += nbytes;
    if (bw < 32 && (v >> bw) != 0) return false; /* wider than bit_width */
    d->rle_value = v;
    d->rle_left = count;
    return true;
}

/* Take k values (k <= packed_left) from the current bit-packed run. */
static void pq_rle_take_packed(pq_rle_decoder *d, uint32_t *out, size_t k) {
    int bw = d->bit_width;
    d->packed_left -= (uint32_t)k;
    if (bw == 0) {
        memset(out, 0, k * sizeof(*out));
        d->packed_pos += (uint32_t)k;
        return;
    }
    uint32_t pos = d->packed_pos;
    while (k > 0 && (pos & 7)) {
        *out++ = pq_unpack_one(d->packed, (uint64_t)pos * (uint64_t)bw, bw);
        pos++;
        k--;
    }
    if (k >= 8) {
        size_t ngroups = k / 8;
        const uint8_t *grp = d->packed + (size_t)(pos / 8) * (size_t)bw;
        /* Groups far enough from the end are unpacked in place; the last
         * one or two are copied into a zero-padded scratch array first. */
        size_t room = (size_t)(d->end - grp);
        size_t direct = room >= (size_t)bw + 8 ? (room - 8) / (size_t)bw : 0;
        if (direct > ngroups) direct = ngroups;
        pq_unpack_groups(grp, out, direct, bw);
        for (size_t g = direct; g < ngroups; g++) {
            uint8_t tmp[40] = {0};
            memcpy(tmp, grp + g * (size_t)bw, (size_t)bw); /* present: checked in next_run */
            pq_unpack_groups(tmp, out + 8 * g, 1, bw);
        }
        out += 8 * ngroups;
        pos += (uint32_t)(8 * ngroups);
        k -= 8 * ngroups;
    }
    while (k > 0) {
        *out++ = pq_unpack_one(d->packed, (uint64_t)pos * (uint64_t)bw, bw);
        pos++;
        k--;
    }
    d->packed_pos = pos;
}

bool pq_rle_decode(pq_rle_decoder *d, uint32_t *out, size_t n) {
    if (d->bit_width < 0 || d->bit_width > 32) return false;
    while (n > 0) {
        if (d->rle_left > 0) {
            size_t k = n < d->rle_left ? n : d->rle_left;
            uint32_t v = d->rle_value;
            for (size_t i = 0; i < k; i++) out[i] = v;
            out += k;
            n -= k;
            d->rle_left -= (uint32_t)k;
        } else if (d->packed_left > 0) {
            size_t k = n < d->packed_left ? n : d->packed_left;
            pq_rle_take_packed(d, out, k);
            out += k;
            n -= k;
        } else if (!pq_rle_next_run(d)) {
            return false;
        }
    }
    return true;
}

bool pq_bit_packed_levels_decode(const uint8_t *p, size_t len, int bit_width, size_t n,
                                 uint32_t *out) {
    if (bit_width < 0 || bit_width > 32) return false;
    if (bit_width == 0) {
        memset(out, 0, n * sizeof(*out));
        return true;
    }
    /* n * bit_width bits, rounded up to bytes, must be present. */
    if (n > (SIZE_MAX - 7) / (size_t)bit_width || (n * (size_t)bit_width + 7) / 8 > len)
        return false;
    uint64_t mask = bit_width == 32 ? 0xffffffffu : ((1ull << bit_width) - 1);
    uint64_t acc = 0;
    int nbits = 0;
    for (size_t i = 0; i < n; i++) {
        while (nbits < bit_width) {
            acc = (acc << 8) | *p++; /* MSB first: earlier bits are higher */
            nbits += 8;
        }
        out[i] = (uint32_t)((acc >> (nbits - bit_width)) & mask);
        nbits -= bit_width;
    }
    return true;
}
