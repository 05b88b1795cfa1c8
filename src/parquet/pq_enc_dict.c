/*
 * pq_enc_dict.c - the writer's dictionary builder: maps each distinct value
 * of a column chunk to an index in insertion order, for RLE_DICTIONARY data
 * pages and the PLAIN dictionary page (Encodings.md, "Dictionary Encoding").
 *
 * Layout, chosen so that adding a value never allocates per value:
 *  - entries live contiguously in one sd_buf: fixed-width values back to
 *    back, byte arrays concatenated with a separate offsets array;
 *  - an open-addressing table (linear probing) of uint32 entry numbers + 1
 *    (0 = empty slot), doubled when it would pass 50% load;
 *  - each entry's 32-bit hash is kept so that growing never rehashes bytes
 *    and most mismatches are rejected without a memcmp.
 * Values are compared bytewise, so -0.0/0.0 and NaN payloads stay distinct.
 */
#include <stdlib.h>
#include <string.h>

#include "pq_internal.h"

/* Parquet page headers count values in int32. */
#define PQ_DICT_MAX_ENTRIES 0x7fffffffu
#define PQ_DICT_MIN_SLOTS 64

struct pq_dict {
    size_t width;     /* bytes per fixed-width value; 0 for byte arrays */
    sd_buf data;      /* entry bytes, contiguous */
    int64_t *offsets; /* byte arrays: count + 1 offsets into data */
    uint32_t *hashes; /* hash of each entry */
    size_t entries_cap;
    uint32_t *slots; /* entry index + 1, 0 when empty */
    size_t nslots;   /* power of two */
    size_t count;
    size_t plain_size; /* size of the PLAIN dictionary page body */
};

/* A fast 64-bit mix (multiply / xor-shift), good enough for a hash table
 * whose collisions are resolved by comparing bytes. */
static inline uint64_t pq_mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint32_t pq_hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    for (size_t j = 0; i + j < n; j++) tail |= (uint64_t)p[i + j] << (8 * j);
    return (uint32_t)pq_mix64(h ^ tail);
}

static inline uint32_t pq_hash_value(size_t width, const uint8_t *p) {
    if (width == 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        return (uint32_t)pq_mix64(v);
    }
    if (width == 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        return (uint32_t)pq_mix64(v);
    }
    return pq_hash_bytes(p, width);
}

pq_dict *pq_dict_new(size_t width) {
    pq_dict *d = sd_xcalloc(1, sizeof(*d));
    d->width = width;
    d->nslots = PQ_DICT_MIN_SLOTS;
    d->slots = sd_xcalloc(d->nslots, sizeof(*d->slots));
    if (width == 0) d->offsets = sd_xcalloc(1, sizeof(*d->offsets));
    return d;
}

void pq_dict_free(pq_dict *d) {
    if (d == NULL) return;
    sd_buf_free(&d->data);
    free(d->offsets);
    free(d->hashes);
    free(d->slots);
    free(d);
}

void pq_dict_reset(pq_dict *d) {
    d->count = 0;
    d->plain_size = 0;
    sd_buf_reset(&d->data);
    memset(d->slots, 0, d->nslots * sizeof(*d->slots));
}

size_t pq_dict_count(const pq_dict *d) {
    return d->count;
}

size_t pq_dict_plain_size(const pq_dict *d) {
    return d->plain_size;
}

const uint8_t *pq_dict_entry(const pq_dict *d, size_t i, size_t *len) {
    if (d->width) {
        *len = d->width;
        return d->data.data + i * d->width;
    }
    *len = (size_t)(d->offsets[i + 1] - d->offsets[i]);
    return d->data.data + d->offsets[i];
}

/* Double the table, reinserting entries by their stored hashes. */
static void pq_dict_grow(pq_dict *d) {
    size_t nslots = d->nslots * 2;
    uint32_t *slots = sd_xcalloc(nslots, sizeof(*slots));
    size_t mask = nslots - 1;
    for (size_t e = 0; e < d->count; e++) {
        size_t s = d->hashes[e] & mask;
        while (slots[s] != 0) s = (s + 1) & mask;
        slots[s] = (uint32_t)(e + 1);
    }
    free(d->slots);
    d->slots = slots;
    d->nslots = nslots;
}

static void pq_dict_reserve_entry(pq_dict *d) {
    if (d->count + 1 <= d->entries_cap) return;
    size_t cap = d->entries_cap ? d->entries_cap * 2 : 256;
    d->hashes = sd_xrealloc(d->hashes, cap * sizeof(*d->hashes));
    if (d->width == 0) d->offsets = sd_xrealloc(d->offsets, (cap + 1) * sizeof(*d->offsets));
    d->entries_cap = cap;
}

/* Find the value or insert it. Returns false (inserting nothing) when a new
 * entry would take the PLAIN size past max_bytes or the entry limit. */
static inline __attribute__((always_inline)) bool pq_dict_lookup(pq_dict *d, const uint8_t *v,
                                                                 size_t len, uint32_t h,
                                                                 size_t max_bytes,
                                                                 uint32_t *index) {
    size_t mask = d->nslots - 1;
    size_t s = h & mask;
    for (;;) {
        uint32_t e = d->slots[s];
        if (e == 0) break;
        e--;
        if (d->hashes[e] == h) {
            size_t elen;
            const uint8_t *ep = pq_dict_entry(d, e, &elen);
            if (elen == len && (len == 0 || memcmp(ep, v, len) == 0)) {
                *index = e;
                return true;
            }
        }
        s = (s + 1) & mask;
    }
    size_t add = d->width ? d->width : 4 + len;
    if (d->plain_size + add > max_bytes || d->count >= PQ_DICT_MAX_ENTRIES) return false;
    pq_dict_reserve_entry(d);
    size_t e = d->count++;
    d->hashes[e] = h;
    sd_buf_append(&d->data, v, len);
    if (d->width == 0) d->offsets[e + 1] = (int64_t)d->data.len;
    d->plain_size += add;
    d->slots[s] = (uint32_t)(e + 1);
    *index = (uint32_t)e;
    if (d->count * 2 > d->nslots) pq_dict_grow(d);
    return true;
}

size_t pq_dict_add_fixed(pq_dict *d, const void *values, size_t n, size_t max_bytes,
                         uint32_t *indices) {
    const uint8_t *p = values;
    size_t w = d->width;
    /* INT32/FLOAT and INT64/DOUBLE get copies with a constant width, so the
     * hash and the comparison compile to a few register operations. */
    if (w == 4) {
        for (size_t i = 0; i < n; i++)
            if (!pq_dict_lookup(d, p + i * 4, 4, pq_hash_value(4, p + i * 4), max_bytes,
                                &indices[i]))
                return i;
    } else if (w == 8) {
        for (size_t i = 0; i < n; i++)
            if (!pq_dict_lookup(d, p + i * 8, 8, pq_hash_value(8, p + i * 8), max_bytes,
                                &indices[i]))
                return i;
    } else {
        for (size_t i = 0; i < n; i++)
            if (!pq_dict_lookup(d, p + i * w, w, pq_hash_value(w, p + i * w), max_bytes,
                                &indices[i]))
                return i;
    }
    return n;
}

size_t pq_dict_add_bytes(pq_dict *d, const uint8_t *data, const int64_t *offsets, size_t n,
                         size_t max_bytes, uint32_t *indices) {
    for (size_t i = 0; i < n; i++) {
        const uint8_t *v = data + offsets[i];
        size_t len = (size_t)(offsets[i + 1] - offsets[i]);
        if (!pq_dict_lookup(d, v, len, pq_hash_bytes(v, len), max_bytes, &indices[i])) return i;
    }
    return n;
}

void pq_dict_encode(const pq_dict *d, sd_buf *out) {
    if (d->width) {
        sd_buf_append(out, d->data.data, d->data.len);
        return;
    }
    pq_plain_encode_bytes(d->data.data, d->offsets, d->count, out);
}
