/*
 * pq_thrift_reader.c - a bounds-checked reader for the Thrift compact
 * protocol, the encoding of Parquet's footer and page headers.
 *
 * Spec: Apache Thrift's compact protocol (thrift/doc/specs/thrift-compact-
 * protocol.md): zigzag varints for i16/i32/i64, field headers carrying the
 * id delta in the high nibble, bools folded into the field type, list
 * headers with a short (4-bit) or long (varint) size.
 *
 * Every byte comes from an untrusted file. Each read checks the remaining
 * length; the first failure is recorded with its byte offset and sticks:
 * later reads return zeros, so parsers can test `failed` once per struct
 * instead of after every call.
 */
#include <stdio.h>
#include <string.h>

#include "pq_internal.h"

void pq_thrift_reader_init(pq_thrift_reader *r, const uint8_t *p, size_t n) {
    r->p = p;
    r->start = p;
    r->end = p + n;
    r->depth = 0;
    r->failed = false;
    r->what[0] = '\0';
}

void pq_thrift_fail(pq_thrift_reader *r, const char *what) {
    if (r->failed) return;
    r->failed = true;
    snprintf(r->what, sizeof(r->what), "%s at byte %zu", what, (size_t)(r->p - r->start));
    /* Park the cursor at the end so nothing further is consumed. */
    r->p = r->end;
}

static inline size_t pq_thrift_remaining(const pq_thrift_reader *r) {
    return (size_t)(r->end - r->p);
}

static inline uint8_t pq_thrift_u8(pq_thrift_reader *r) {
    if (r->failed) return 0;
    if (r->p >= r->end) {
        pq_thrift_fail(r, "unexpected end of data");
        return 0;
    }
    return *r->p++;
}

/* Unsigned LEB128 varint of at most max_bytes bytes (5 for 32-bit values,
 * 10 for 64-bit ones). The bits of the last byte that would not fit in 64
 * bits are refused as an overflow. */
static uint64_t pq_thrift_varint(pq_thrift_reader *r, int max_bytes) {
    if (r->failed) return 0;
    uint64_t v = 0;
    const uint8_t *p = r->p;
    for (int i = 0, shift = 0; i < max_bytes; i++, shift += 7) {
        if (p >= r->end) {
            pq_thrift_fail(r, "unexpected end of data in a varint");
            return 0;
        }
        uint8_t b = *p++;
        if (i == 9 && b > 1) break; /* bit 64 and beyond */
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            r->p = p;
            return v;
        }
    }
    pq_thrift_fail(r, "varint too long");
    return 0;
}

static inline int64_t pq_zigzag_decode(uint64_t v) {
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

int32_t pq_thrift_i32(pq_thrift_reader *r) {
    uint64_t v = pq_thrift_varint(r, 5);
    if (v > UINT32_MAX) {
        pq_thrift_fail(r, "i32 varint overflows 32 bits");
        return 0;
    }
    return (int32_t)pq_zigzag_decode(v);
}

int64_t pq_thrift_i64(pq_thrift_reader *r) {
    return pq_zigzag_decode(pq_thrift_varint(r, 10));
}

static int16_t pq_thrift_i16(pq_thrift_reader *r) {
    int32_t v = pq_thrift_i32(r);
    if (v < INT16_MIN || v > INT16_MAX) {
        pq_thrift_fail(r, "i16 value out of range");
        return 0;
    }
    return (int16_t)v;
}

int8_t pq_thrift_byte(pq_thrift_reader *r) {
    return (int8_t)pq_thrift_u8(r);
}

double pq_thrift_double(pq_thrift_reader *r) {
    if (r->failed) return 0;
    if (pq_thrift_remaining(r) < 8) {
        pq_thrift_fail(r, "unexpected end of data in a double");
        return 0;
    }
    /* The compact protocol stores doubles little-endian, as we do. */
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++) bits |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

const uint8_t *pq_thrift_binary(pq_thrift_reader *r, size_t *len) {
    *len = 0;
    uint64_t n = pq_thrift_varint(r, 5);
    if (r->failed) return NULL;
    if (n > pq_thrift_remaining(r)) {
        pq_thrift_fail(r, "binary length exceeds the remaining bytes");
        return NULL;
    }
    const uint8_t *s = r->p;
    r->p += n;
    *len = (size_t)n;
    return s;
}

static bool pq_thrift_valid_type(uint8_t type) {
    return type >= PQ_TT_BOOL_TRUE && type <= PQ_TT_STRUCT;
}

bool pq_thrift_field(pq_thrift_reader *r, int16_t *last_id, int16_t *field_id, uint8_t *type) {
    uint8_t b = pq_thrift_u8(r);
    if (r->failed || b == PQ_TT_STOP) return false;
    uint8_t t = b & 0x0f;
    int delta = b >> 4;
    if (!pq_thrift_valid_type(t)) {
        pq_thrift_fail(r, "invalid field type");
        return false;
    }
    int32_t id = delta ? *last_id + delta : pq_thrift_i16(r);
    if (r->failed) return false;
    if (id > INT16_MAX) {
        pq_thrift_fail(r, "field id overflows i16");
        return false;
    }
    *last_id = (int16_t)id;
    *field_id = (int16_t)id;
    *type = t;
    return true;
}

void pq_thrift_struct_begin(pq_thrift_reader *r) {
    if (r->failed) return;
    if (r->depth >= PQ_THRIFT_MAX_DEPTH) {
        pq_thrift_fail(r, "structures nested too deeply");
        return;
    }
    r->depth++;
}

void pq_thrift_struct_end(pq_thrift_reader *r) {
    if (r->depth > 0) r->depth--;
}

int32_t pq_thrift_list_begin(pq_thrift_reader *r, uint8_t *elem_type) {
    *elem_type = 0;
    uint8_t b = pq_thrift_u8(r);
    if (r->failed) return 0;
    uint8_t t = b & 0x0f;
    uint64_t n = b >> 4;
    if (n == 15) n = pq_thrift_varint(r, 5);
    if (r->failed) return 0;
    /* Some writers leave the element type of an empty list at 0. */
    if (n > 0 && !pq_thrift_valid_type(t)) {
        pq_thrift_fail(r, "invalid list element type");
        return 0;
    }
    /* Every element takes at least one byte (bools too: one byte each), so
     * a count beyond the remaining bytes is corrupt; checking it here keeps
     * callers from allocating for elements that cannot exist. */
    if (n > pq_thrift_remaining(r) || n > INT32_MAX) {
        pq_thrift_fail(r, "list size exceeds the remaining bytes");
        return 0;
    }
    *elem_type = t;
    return (int32_t)n;
}

static void pq_thrift_skip_value(pq_thrift_reader *r, uint8_t type, bool in_container);

/* Skip a struct's fields up to and including its STOP. */
static void pq_thrift_skip_struct(pq_thrift_reader *r) {
    pq_thrift_struct_begin(r);
    int16_t last = 0, id;
    uint8_t t;
    while (pq_thrift_field(r, &last, &id, &t)) pq_thrift_skip_value(r, t, false);
    pq_thrift_struct_end(r);
}

static void pq_thrift_skip_list(pq_thrift_reader *r) {
    uint8_t et;
    int32_t n = pq_thrift_list_begin(r, &et);
    pq_thrift_struct_begin(r); /* a list is a nesting level too */
    for (int32_t i = 0; i < n && !r->failed; i++) pq_thrift_skip_value(r, et, true);
    pq_thrift_struct_end(r);
}

static void pq_thrift_skip_map(pq_thrift_reader *r) {
    uint64_t n = pq_thrift_varint(r, 5);
    if (r->failed || n == 0) return;
    uint8_t kv = pq_thrift_u8(r);
    uint8_t kt = kv >> 4, vt = kv & 0x0f;
    if (!pq_thrift_valid_type(kt) || !pq_thrift_valid_type(vt)) {
        pq_thrift_fail(r, "invalid map key or value type");
        return;
    }
    /* Each entry needs at least two bytes. */
    if (n > pq_thrift_remaining(r) / 2) {
        pq_thrift_fail(r, "map size exceeds the remaining bytes");
        return;
    }
    pq_thrift_struct_begin(r);
    for (uint64_t i = 0; i < n && !r->failed; i++) {
        pq_thrift_skip_value(r, kt, true);
        pq_thrift_skip_value(r, vt, true);
    }
    pq_thrift_struct_end(r);
}

/* Inside lists and maps a bool is one byte; as a field it lives in the
 * field header and has no payload. */
static void pq_thrift_skip_value(pq_thrift_reader *r, uint8_t type, bool in_container) {
    if (r->failed) return;
    switch (type) {
        case PQ_TT_BOOL_TRUE:
        case PQ_TT_BOOL_FALSE:
            if (in_container) pq_thrift_u8(r);
            break;
        case PQ_TT_BYTE:
            pq_thrift_u8(r);
            break;
        case PQ_TT_I16:
        case PQ_TT_I32:
        case PQ_TT_I64:
            pq_thrift_varint(r, 10);
            break;
        case PQ_TT_DOUBLE:
            pq_thrift_double(r);
            break;
        case PQ_TT_BINARY: {
            size_t len;
            pq_thrift_binary(r, &len);
            break;
        }
        case PQ_TT_LIST:
        case PQ_TT_SET:
            pq_thrift_skip_list(r);
            break;
        case PQ_TT_MAP:
            pq_thrift_skip_map(r);
            break;
        case PQ_TT_STRUCT:
            pq_thrift_skip_struct(r);
            break;
        default:
            pq_thrift_fail(r, "invalid type to skip");
            break;
    }
}

void pq_thrift_skip(pq_thrift_reader *r, uint8_t type) {
    pq_thrift_skip_value(r, type, false);
}
