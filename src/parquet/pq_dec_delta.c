/*
 * pq_dec_delta.c - decoders for the three delta encodings of Encodings.md:
 *   DELTA_BINARY_PACKED (INT32, INT64),
 *   DELTA_LENGTH_BYTE_ARRAY (lengths as DELTA_BINARY_PACKED, then the bytes),
 *   DELTA_BYTE_ARRAY (prefix lengths, then the suffixes as
 *   DELTA_LENGTH_BYTE_ARRAY; also used for FIXED_LEN_BYTE_ARRAY).
 *
 * DELTA_BINARY_PACKED is decoded by one core working on uint64_t, so every
 * addition wraps as the spec requires; INT32 results are the low 32 bits,
 * which is the same as doing the arithmetic modulo 2^32. The core always
 * walks the whole stream (skipping the miniblocks of values past the n
 * asked for) because the byte-array encodings need to know where it ends.
 *
 * Checked: header fields (block size a non-zero multiple of 128, miniblock
 * values a multiple of 32), value counts, miniblock widths (at most 64),
 * truncation anywhere. Lenient where the spec or real writers are: the bit
 * widths of unneeded miniblocks are ignored and their bodies absent, and a
 * last miniblock cut short at the end of the buffer is accepted as long as
 * the values asked for are present.
 */
#include <stdlib.h>
#include <string.h>

#include "pq_internal.h"

/* Larger blocks are legal but no writer uses them; the cap keeps every
 * size computation far from overflow. */
#define PQ_DELTA_MAX_BLOCK (1u << 24)
/* Prefix compression can expand a small page enormously; refuse pages that
 * would decode to more than this many bytes (a Parquet page is int32-sized). */
#define PQ_DELTA_MAX_OUTPUT ((uint64_t)1 << 31)

typedef enum pq_delta_out {
    PQ_DOUT_I64,        /* int64_t values */
    PQ_DOUT_I32,        /* int32_t values, wrapped */
    PQ_DOUT_I32_AS_I64, /* int32 values (wrapped) widened into int64_t */
} pq_delta_out;

static bool pq_read_uleb(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (p >= end) return false;
        uint8_t b = *p++;
        if (i == 9 && b > 1) return false; /* beyond 64 bits */
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *pp = p;
            *out = v;
            return true;
        }
    }
    return false;
}

static inline uint64_t pq_unzigzag(uint64_t v) {
    return (v >> 1) ^ (0 - (v & 1));
}

static inline uint64_t pq_delta_load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Unpack 32 values of bw bits; `in` must have 4 * bw + 9 readable bytes. */
static inline __attribute__((always_inline)) void pq_delta_unpack32(const uint8_t *in,
                                                                    uint64_t *out, int bw) {
    const uint64_t mask = bw == 64 ? ~(uint64_t)0 : (((uint64_t)1 << bw) - 1);
    for (int j = 0; j < 32; j++) {
        unsigned bit = (unsigned)(j * bw);
        unsigned sh = bit & 7;
        const uint8_t *q = in + (bit >> 3);
        uint64_t v = pq_delta_load64(q) >> sh;
        if (sh + (unsigned)bw > 64) v |= (uint64_t)q[8] << (64 - sh);
        out[j] = v & mask;
    }
}

/* One copy of pq_delta_unpack32 per width, with constant shifts. */
// clang-format off
#define PQ_D1(w) case w: pq_delta_unpack32(in, out, w); break;
#define PQ_D8(w)                                                                                   \
    PQ_D1(w) PQ_D1(w + 1) PQ_D1(w + 2) PQ_D1(w + 3) PQ_D1(w + 4) PQ_D1(w + 5) PQ_D1(w + 6)         \
    PQ_D1(w + 7)

static void pq_delta_unpack32_any(const uint8_t *in, uint64_t *out, int bw) {
    switch (bw) {
        PQ_D8(1) PQ_D8(9) PQ_D8(17) PQ_D8(25) PQ_D8(33) PQ_D8(41) PQ_D8(49) PQ_D8(57)
        default: memset(out, 0, 32 * sizeof(*out)); break;
    }
}
// clang-format on

typedef struct pq_delta_header {
    uint64_t block_size, miniblocks, total, mb_values;
    uint64_t first;
} pq_delta_header;

static bool pq_delta_read_header(const uint8_t **q, const uint8_t *end, pq_delta_header *h) {
    uint64_t first;
    if (!pq_read_uleb(q, end, &h->block_size) || !pq_read_uleb(q, end, &h->miniblocks) ||
        !pq_read_uleb(q, end, &h->total) || !pq_read_uleb(q, end, &first))
        return false;
    if (h->block_size == 0 || h->block_size % 128 != 0 || h->block_size > PQ_DELTA_MAX_BLOCK)
        return false;
    if (h->miniblocks == 0 || h->block_size % h->miniblocks != 0) return false;
    h->mb_values = h->block_size / h->miniblocks;
    if (h->mb_values % 32 != 0) return false;
    h->first = pq_unzigzag(first);
    return true;
}

static inline void pq_delta_store(void *out, pq_delta_out kind, size_t i, uint64_t v) {
    switch (kind) {
        case PQ_DOUT_I64:
            ((int64_t *)out)[i] = (int64_t)v;
            break;
        case PQ_DOUT_I32:
            ((int32_t *)out)[i] = (int32_t)(uint32_t)v;
            break;
        case PQ_DOUT_I32_AS_I64:
            ((int64_t *)out)[i] = (int32_t)(uint32_t)v;
            break;
    }
}

/* Decode values [done, done + k) of one miniblock body at `mb` of `avail`
 * readable bytes, 32 at a time. */
static void pq_delta_decode_mb(const uint8_t *mb, size_t avail, int bw, uint64_t min_delta,
                               uint64_t *last, size_t k, void *out, pq_delta_out kind,
                               size_t done) {
    uint64_t tmp[32];
    for (size_t c = 0; c < k; c += 32) {
        const uint8_t *in = mb + (c / 32) * 4 * (size_t)bw;
        size_t left = avail - (size_t)(in - mb);
        uint8_t pad[4 * 64 + 16];
        if (left < 4 * (size_t)bw + 9) {
            memset(pad, 0, sizeof(pad));
            memcpy(pad, in, left);
            in = pad;
        }
        pq_delta_unpack32_any(in, tmp, bw);
        size_t m = k - c < 32 ? k - c : 32;
        uint64_t v = *last;
        for (size_t j = 0; j < m; j++) {
            v += min_delta + tmp[j];
            pq_delta_store(out, kind, done + c + j, v);
        }
        *last = v;
    }
}

/* The DELTA_BINARY_PACKED core: the first n values to `out`, *consumed set
 * to the end of the whole stream. */
static bool pq_delta_core(const uint8_t *p, size_t len, size_t n, void *out, pq_delta_out kind,
                          size_t *consumed) {
    const uint8_t *q = p, *end = p + len;
    pq_delta_header h;
    if (!pq_delta_read_header(&q, end, &h)) return false;
    if ((uint64_t)n > h.total) return false;
    uint64_t last = h.first;
    if (n > 0) pq_delta_store(out, kind, 0, last);
    uint64_t done = h.total > 0 ? 1 : 0;
    while (done < h.total) {
        uint64_t zz;
        if (!pq_read_uleb(&q, end, &zz)) return false;
        uint64_t min_delta = pq_unzigzag(zz);
        if ((uint64_t)(end - q) < h.miniblocks) return false;
        const uint8_t *widths = q;
        q += h.miniblocks;
        for (uint64_t m = 0; m < h.miniblocks && done < h.total; m++) {
            int bw = widths[m];
            if (bw > 64) return false;
            uint64_t in_mb = h.total - done < h.mb_values ? h.total - done : h.mb_values;
            size_t mb_bytes = (size_t)(h.mb_values / 8 * (uint64_t)bw);
            size_t avail = (size_t)(end - q);
            uint64_t want = done < n ? (n - done < in_mb ? n - done : in_mb) : 0;
            if (avail < mb_bytes) {
                /* Only the last miniblock of the stream may be cut short, and
                 * only after the values that are asked for. */
                bool last_mb = done + in_mb == h.total;
                if (!last_mb || (want * (uint64_t)bw + 7) / 8 > avail) return false;
                mb_bytes = avail;
            }
            if (want > 0)
                pq_delta_decode_mb(q, avail, bw, min_delta, &last, (size_t)want, out, kind,
                                   (size_t)done);
            q += mb_bytes;
            done += in_mb;
        }
    }
    *consumed = (size_t)(q - p);
    return true;
}

bool pq_delta_decode_i32(const uint8_t *p, size_t len, size_t n, int32_t *out, size_t *consumed) {
    return pq_delta_core(p, len, n, out, PQ_DOUT_I32, consumed);
}

bool pq_delta_decode_i64(const uint8_t *p, size_t len, size_t n, int64_t *out, size_t *consumed) {
    return pq_delta_core(p, len, n, out, PQ_DOUT_I64, consumed);
}

bool pq_delta_length_decode(const uint8_t *p, size_t len, size_t n, pq_bytes_sink *sink,
                            size_t *consumed) {
    size_t used;
    /* The lengths land in offsets[1..n] and are turned into offsets in place. */
    int64_t *offs = sink->offsets;
    if (!pq_delta_core(p, len, n, offs + 1, PQ_DOUT_I32_AS_I64, &used)) return false;
    size_t avail = len - used;
    uint64_t total = 0;
    int64_t off = offs[0];
    for (size_t i = 0; i < n; i++) {
        int64_t l = offs[i + 1];
        if (l < 0) return false;
        total += (uint64_t)l;
        if (total > avail) return false;
        off += l;
        offs[i + 1] = off;
    }
    /* The values are stored back to back: one copy for the whole page. */
    sd_buf_append(sink->data, p + used, (size_t)total);
    *consumed = used + (size_t)total;
    return true;
}

bool pq_delta_byte_array_decode(const uint8_t *p, size_t len, size_t n, pq_bytes_sink *sink,
                                size_t *consumed) {
    size_t used_prefix, used_lengths;
    int32_t *prefix = sd_xmalloc((n ? n : 1) * sizeof(*prefix));
    int64_t *offs = sink->offsets;
    sd_buf *data = sink->data;
    size_t start_len = data->len;
    if (!pq_delta_core(p, len, n, prefix, PQ_DOUT_I32, &used_prefix)) goto fail;
    /* Suffix lengths go to offsets[1..n], read back before being replaced. */
    if (!pq_delta_core(p + used_prefix, len - used_prefix, n, offs + 1, PQ_DOUT_I32_AS_I64,
                       &used_lengths))
        goto fail;
    const uint8_t *suffixes = p + used_prefix + used_lengths;
    size_t avail = len - used_prefix - used_lengths, pos = 0;
    size_t prev_start = data->len, prev_len = 0;
    uint64_t out_total = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t pre = prefix[i], suf = offs[i + 1];
        if (pre < 0 || suf < 0 || (size_t)pre > prev_len || (size_t)suf > avail - pos) goto fail;
        size_t vlen = (size_t)pre + (size_t)suf;
        out_total += vlen;
        if (out_total > PQ_DELTA_MAX_OUTPUT) goto fail;
        sd_buf_reserve(data, vlen);
        uint8_t *dst = data->data + data->len;
        if (pre) memcpy(dst, data->data + prev_start, (size_t)pre);
        if (suf) memcpy(dst + pre, suffixes + pos, (size_t)suf);
        pos += (size_t)suf;
        prev_start = data->len;
        prev_len = vlen;
        data->len += vlen;
        offs[i + 1] = offs[i] + (int64_t)vlen;
    }
    free(prefix);
    *consumed = used_prefix + used_lengths + pos;
    return true;
fail:
    free(prefix);
    data->len = start_len;
    return false;
}
