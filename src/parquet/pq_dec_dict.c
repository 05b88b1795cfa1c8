/*
 * pq_dec_dict.c - dictionary indices of an RLE_DICTIONARY / PLAIN_DICTIONARY
 * data page: one byte of bit width (at most 32), then the RLE / bit-packed
 * hybrid without a length prefix (Encodings.md, "Dictionary Encoding").
 * The dictionary page itself is PLAIN and decoded by pq_dec_plain.c; the
 * reader checks each index against the dictionary size.
 */
#include "pq_internal.h"

bool pq_dict_indices_decode(const uint8_t *p, size_t len, size_t n, uint32_t *out) {
    if (n == 0) return true;
    if (len < 1 || p[0] > 32) return false;
    pq_rle_decoder d;
    pq_rle_decoder_init(&d, p + 1, len - 1, p[0]);
    return pq_rle_decode(&d, out, n);
}
