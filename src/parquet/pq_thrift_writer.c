/*
 * pq_thrift_writer.c - the Thrift compact protocol writer used for our
 * footers and page headers.
 *
 * Field ids are written as a 4-bit delta from the previous field of the same
 * struct when they fit (1..15), else as a full zigzag i16; bool fields carry
 * their value in the type nibble. The writer keeps one "last id" per open
 * struct. Our own metadata nests about 6 levels, far below
 * PQ_THRIFT_MAX_DEPTH.
 */
#include "pq_internal.h"

void pq_thrift_writer_init(pq_thrift_writer *w, sd_buf *out) {
    w->out = out;
    w->depth = 0;
    w->last_id[0] = 0;
}

static void pq_thrift_put_varint(sd_buf *out, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    sd_buf_append(out, tmp, n);
}

static inline uint64_t pq_zigzag_encode(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

void pq_thrift_write_struct_begin(pq_thrift_writer *w) {
    /* The metadata we write nests about 6 levels; the check only keeps the
     * last_id array in bounds. */
    if (w->depth + 1 < PQ_THRIFT_MAX_DEPTH) w->depth++;
    w->last_id[w->depth] = 0;
}

void pq_thrift_write_struct_end(pq_thrift_writer *w) {
    sd_buf_append_byte(w->out, PQ_TT_STOP);
    if (w->depth > 0) w->depth--;
}

void pq_thrift_write_field(pq_thrift_writer *w, int16_t id, uint8_t type) {
    int delta = id - w->last_id[w->depth];
    if (delta > 0 && delta <= 15) {
        sd_buf_append_byte(w->out, (uint8_t)(delta << 4 | type));
    } else {
        sd_buf_append_byte(w->out, type);
        pq_thrift_put_varint(w->out, pq_zigzag_encode(id));
    }
    w->last_id[w->depth] = id;
}

void pq_thrift_write_i32(pq_thrift_writer *w, int32_t v) {
    pq_thrift_put_varint(w->out, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

void pq_thrift_write_i64(pq_thrift_writer *w, int64_t v) {
    pq_thrift_put_varint(w->out, pq_zigzag_encode(v));
}

void pq_thrift_write_binary(pq_thrift_writer *w, const void *p, size_t n) {
    pq_thrift_put_varint(w->out, n);
    if (n > 0) sd_buf_append(w->out, p, n);
}

void pq_thrift_write_i32_field(pq_thrift_writer *w, int16_t id, int32_t v) {
    pq_thrift_write_field(w, id, PQ_TT_I32);
    pq_thrift_write_i32(w, v);
}

void pq_thrift_write_i64_field(pq_thrift_writer *w, int16_t id, int64_t v) {
    pq_thrift_write_field(w, id, PQ_TT_I64);
    pq_thrift_write_i64(w, v);
}

void pq_thrift_write_bool_field(pq_thrift_writer *w, int16_t id, bool v) {
    pq_thrift_write_field(w, id, v ? PQ_TT_BOOL_TRUE : PQ_TT_BOOL_FALSE);
}

void pq_thrift_write_binary_field(pq_thrift_writer *w, int16_t id, const void *p, size_t n) {
    pq_thrift_write_field(w, id, PQ_TT_BINARY);
    pq_thrift_write_binary(w, p, n);
}

void pq_thrift_write_list_begin(pq_thrift_writer *w, uint8_t elem_type, int32_t count) {
    if (count < 15) {
        sd_buf_append_byte(w->out, (uint8_t)(count << 4 | elem_type));
    } else {
        sd_buf_append_byte(w->out, (uint8_t)(0xf0 | elem_type));
        pq_thrift_put_varint(w->out, (uint32_t)count);
    }
}
