/*
 * pq_convert.c - physical Parquet values -> streamdelta logical values
 * (LogicalTypes.md): narrowing and widening integers, timestamp units to
 * microseconds, INT96 timestamps, half floats, decimals of every physical
 * form, UUIDs as text. The mapping itself is chosen once per leaf in
 * pq_schema_reader.c; here are the loops, one per conversion, so no
 * per-value dispatch remains on the hot path.
 */
#include <math.h>
#include <string.h>

#include "pq_reader_internal.h"

/* Julian day number of 1970-01-01: INT96 timestamps count from the Julian
 * epoch (Impala's layout: 8 bytes nanos of day, 4 bytes Julian day). */
#define PQ_JULIAN_UNIX_EPOCH 2440588
#define PQ_MICROS_PER_DAY 86400000000ll

static inline int32_t pq_load_i32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline int64_t pq_load_i64(const uint8_t *p) {
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Floor division by 1000 (nanos -> micros rounds toward minus infinity, so
 * instants before 1970 stay ordered). */
static inline int64_t pq_floor_div_1000(int64_t v) {
    int64_t q = v / 1000;
    return (v % 1000 < 0) ? q - 1 : q;
}

/* Wrapping arithmetic: a hostile file may hold any bits, and overflow must
 * give some value, not undefined behaviour. */
static inline int64_t pq_wrap_mul(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a * (uint64_t)b);
}
static inline int64_t pq_wrap_add(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static int64_t pq_int96_micros(const uint8_t *p) {
    int64_t nanos = pq_load_i64(p);
    uint32_t jd;
    memcpy(&jd, p + 8, 4);
    int64_t days = (int64_t)jd - PQ_JULIAN_UNIX_EPOCH;
    return pq_wrap_add(pq_wrap_mul(days, PQ_MICROS_PER_DAY), pq_floor_div_1000(nanos));
}

static float pq_half_to_float(uint16_t h) {
    int exp = (h >> 10) & 0x1f;
    int mant = h & 0x3ff;
    float v;
    if (exp == 0)
        v = ldexpf((float)mant, -24); /* subnormal */
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = ldexpf((float)(mant + 1024), exp - 25);
    return (h & 0x8000) ? -v : v;
}

/* Big-endian two's complement of any length -> __int128; false when the
 * value does not fit (bytes beyond 16 that are not sign extension). */
static bool pq_be_to_i128(const uint8_t *p, size_t n, __int128 *out) {
    if (n == 0) {
        *out = 0;
        return true;
    }
    uint8_t sign = (p[0] & 0x80) ? 0xff : 0;
    while (n > 16) {
        if (p[0] != sign || ((p[1] ^ sign) & 0x80)) return false;
        p++;
        n--;
    }
    unsigned __int128 v = sign ? ~(unsigned __int128)0 : 0;
    for (size_t i = 0; i < n; i++) v = (v << 8) | p[i];
    *out = (__int128)v;
    return true;
}

/* Append one byte-string value at row `row` of a STRING/BINARY column. */
static inline void pq_put_bytes(sd_column *dst, size_t row, const void *p, size_t n) {
    sd_buf_append(&dst->data, p, n);
    dst->offsets[row + 1] = (int64_t)dst->data.len;
}

/* One value of a conversion that needs its bytes (decimal, UUID, half
 * float, raw bytes) from either a fixed or a variable-length source. */
static sd_status pq_convert_one(const pq_leaf *leaf, const uint8_t *p, size_t n, sd_column *dst,
                                size_t row, sd_error *err) {
    switch (leaf->conv) {
        case PQ_CONV_DEC_BYTES: {
            __int128 v;
            if (!pq_be_to_i128(p, n, &v))
                return sd_error_set(err, SD_ERR_FORMAT,
                                    "column %s: decimal value of %zu bytes does not fit 128 bits",
                                    leaf->path, n);
            memcpy((uint8_t *)dst->values + row * 16, &v, 16);
            return SD_OK;
        }
        case PQ_CONV_UUID: {
            char text[SD_UUID_TEXT_SIZE];
            if (n != 16)
                return sd_error_set(err, SD_ERR_FORMAT, "column %s: UUID value of %zu bytes",
                                    leaf->path, n);
            sd_uuid_format(p, text);
            pq_put_bytes(dst, row, text, 36);
            return SD_OK;
        }
        case PQ_CONV_FLOAT16: {
            if (n != 2)
                return sd_error_set(err, SD_ERR_FORMAT, "column %s: FLOAT16 value of %zu bytes",
                                    leaf->path, n);
            float f = pq_half_to_float((uint16_t)(p[0] | (p[1] << 8)));
            memcpy((uint8_t *)dst->values + row * 4, &f, 4);
            return SD_OK;
        }
        case PQ_CONV_BYTES:
            pq_put_bytes(dst, row, p, n);
            return SD_OK;
        default:
            return sd_error_set(err, SD_ERR_INTERNAL, "column %s: conversion %d needs fixed values",
                                leaf->path, (int)leaf->conv);
    }
}

sd_status pq_convert_fixed(const pq_leaf *leaf, const uint8_t *src, size_t n, sd_column *dst,
                           size_t pos, sd_error *err) {
    size_t pw = pq_physical_width(leaf->phys, leaf->type_length);
    uint8_t *out = (uint8_t *)dst->values + pos * sd_type_width(leaf->kind);
    switch (leaf->conv) {
        case PQ_CONV_COPY:
            memcpy(out, src, n * pw);
            return SD_OK;
        case PQ_CONV_I32_TO_I8:
            for (size_t i = 0; i < n; i++) ((int8_t *)out)[i] = (int8_t)pq_load_i32(src + 4 * i);
            return SD_OK;
        case PQ_CONV_I32_TO_I16:
            for (size_t i = 0; i < n; i++) ((int16_t *)out)[i] = (int16_t)pq_load_i32(src + 4 * i);
            return SD_OK;
        case PQ_CONV_U8_TO_I16:
            for (size_t i = 0; i < n; i++)
                ((int16_t *)out)[i] = (int16_t)(uint8_t)pq_load_i32(src + 4 * i);
            return SD_OK;
        case PQ_CONV_U16_TO_I32:
            for (size_t i = 0; i < n; i++)
                ((int32_t *)out)[i] = (int32_t)(uint16_t)pq_load_i32(src + 4 * i);
            return SD_OK;
        case PQ_CONV_U32_TO_I64:
            for (size_t i = 0; i < n; i++)
                ((int64_t *)out)[i] = (int64_t)(uint32_t)pq_load_i32(src + 4 * i);
            return SD_OK;
        case PQ_CONV_U64_TO_DEC:
            for (size_t i = 0; i < n; i++) {
                __int128 v = (__int128)(uint64_t)pq_load_i64(src + 8 * i);
                memcpy(out + 16 * i, &v, 16);
            }
            return SD_OK;
        case PQ_CONV_DEC_I32:
            for (size_t i = 0; i < n; i++) {
                __int128 v = pq_load_i32(src + 4 * i);
                memcpy(out + 16 * i, &v, 16);
            }
            return SD_OK;
        case PQ_CONV_DEC_I64:
            for (size_t i = 0; i < n; i++) {
                __int128 v = pq_load_i64(src + 8 * i);
                memcpy(out + 16 * i, &v, 16);
            }
            return SD_OK;
        case PQ_CONV_MILLIS:
            for (size_t i = 0; i < n; i++)
                ((int64_t *)out)[i] = pq_wrap_mul(pq_load_i64(src + 8 * i), 1000);
            return SD_OK;
        case PQ_CONV_NANOS:
            for (size_t i = 0; i < n; i++)
                ((int64_t *)out)[i] = pq_floor_div_1000(pq_load_i64(src + 8 * i));
            return SD_OK;
        case PQ_CONV_INT96:
            for (size_t i = 0; i < n; i++) ((int64_t *)out)[i] = pq_int96_micros(src + 12 * i);
            return SD_OK;
        default:
            if (leaf->conv == PQ_CONV_UUID || leaf->conv == PQ_CONV_BYTES)
                sd_buf_reserve(&dst->data, n * (leaf->conv == PQ_CONV_UUID ? 36 : pw));
            for (size_t i = 0; i < n; i++)
                if (pq_convert_one(leaf, src + i * pw, pw, dst, pos + i, err) != SD_OK)
                    return err->code;
            return SD_OK;
    }
}

sd_status pq_convert_bytes(const pq_leaf *leaf, const int64_t *offsets, const uint8_t *data,
                           size_t n, sd_column *dst, size_t pos, sd_error *err) {
    for (size_t i = 0; i < n; i++) {
        int64_t a = offsets[i], b = offsets[i + 1];
        if (pq_convert_one(leaf, data + a, (size_t)(b - a), dst, pos + i, err) != SD_OK)
            return err->code;
    }
    return SD_OK;
}

bool pq_convert_stat(const pq_leaf *leaf, const uint8_t *p, size_t n,
                     char scratch[SD_UUID_TEXT_SIZE], sd_value *out) {
    memset(out, 0, sizeof(*out));
    out->kind = leaf->kind;
    out->precision = leaf->precision;
    out->scale = leaf->scale;
    size_t pw = pq_physical_width(leaf->phys, leaf->type_length);
    if (leaf->phys == PQ_BOOLEAN) {
        if (n < 1) return false;
        out->u.b = p[0] & 1;
        return true;
    }
    if (leaf->phys == PQ_INT96) return false; /* INT96 has no defined sort order */
    if (leaf->phys != PQ_BYTE_ARRAY && n != pw) return false;
    if (leaf->kind == SD_STRING || leaf->kind == SD_BINARY) {
        if (leaf->conv == PQ_CONV_UUID) {
            sd_uuid_format(p, scratch);
            out->u.s.ptr = (const uint8_t *)scratch;
            out->u.s.len = 36;
        } else {
            out->u.s.ptr = p;
            out->u.s.len = n;
        }
        return true;
    }
    if (leaf->conv == PQ_CONV_FLOAT16) {
        out->u.d = pq_half_to_float((uint16_t)(p[0] | (p[1] << 8)));
        return true;
    }
    if (leaf->kind == SD_FLOAT) {
        float f;
        memcpy(&f, p, 4);
        out->u.d = f;
        return true;
    }
    if (leaf->kind == SD_DOUBLE) {
        memcpy(&out->u.d, p, 8);
        return true;
    }
    /* Integers, dates, timestamps and decimals: convert through a one-row
     * column so the stats follow exactly the data path. */
    uint8_t cell[16] = {0};
    int64_t offs[2] = {0, 0};
    sd_column tmp = {.values = cell, .offsets = offs};
    sd_error err = {0};
    sd_status st = leaf->conv == PQ_CONV_DEC_BYTES ? pq_convert_one(leaf, p, n, &tmp, 0, &err)
                                                   : pq_convert_fixed(leaf, p, 1, &tmp, 0, &err);
    if (st != SD_OK) return false;
    switch (leaf->kind) {
        case SD_INT8:
            out->u.i = (int8_t)cell[0];
            break;
        case SD_INT16: {
            int16_t v;
            memcpy(&v, cell, 2);
            out->u.i = v;
            break;
        }
        case SD_INT32:
        case SD_DATE: {
            int32_t v;
            memcpy(&v, cell, 4);
            out->u.i = v;
            break;
        }
        case SD_DECIMAL:
            memcpy(&out->u.dec, cell, 16);
            break;
        default:
            memcpy(&out->u.i, cell, 8);
            break;
    }
    return true;
}
