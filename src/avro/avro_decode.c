/*
 * avro_decode.c - runs a compiled decode program (avro_resolve.c) over Avro
 * binary bodies, appending straight into the columns of an sd_batch.
 *
 * Spec: "Binary Encoding" of the Avro specification: zigzag varints for
 * int/long, little-endian IEEE 754 floats, length-prefixed bytes/strings,
 * blocked arrays and maps (a negative count is followed by the block's byte
 * size), unions as a branch index then the value.
 *
 * The hot loop is one switch over a flat op array; columns are reached
 * through a slot table bound once per batch, values are written directly
 * into the column arrays, and nothing is allocated per record except when a
 * column grows. Every read is bounds-checked against the body's end. A
 * record that fails half-way is removed again by truncating every column to
 * the batch's row count (offsets say where children and string data end),
 * so nothing has to be saved before a record starts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro_internal.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "avro_decode.c copies Avro's little-endian floats as they are"
#endif

/* ------------------------------------------------------------------------ */
/* Primitive readers                                                         */
/* ------------------------------------------------------------------------ */

/* Record why decoding stopped at `p`. */
static bool fail_at(avro_fail *f, const uint8_t *start, const uint8_t *p, avro_reject_reason reason,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static bool fail_at(avro_fail *f, const uint8_t *start, const uint8_t *p, avro_reject_reason reason,
                    const char *fmt, ...) {
    f->reason = reason;
    f->at = (size_t)(p - start);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
    va_end(ap);
    return false;
}

#define fail(f, c, reason, ...) fail_at((f), (c)->start, (c)->p, (reason), __VA_ARGS__)

/* Slow path of a varint: any length, checked byte by byte. Returns the
 * position after it, or NULL with *why set. Takes and returns the position
 * by value so the caller's pointer can live in a register. */
static const uint8_t *varint_slow(const uint8_t *p, const uint8_t *end, uint64_t *out,
                                  int max_bytes, avro_reject_reason *why) {
    uint64_t v = 0;
    for (int i = 0;; i++) {
        if (p >= end) {
            *why = AVRO_REJECT_TRUNCATED;
            return NULL;
        }
        uint8_t b = *p++;
        if (i == max_bytes - 1 &&
            (b & 0x80 || (max_bytes == 10 && b > 1) || (max_bytes == 5 && b > 0x0f))) {
            *why = AVRO_REJECT_VARINT_OVERFLOW;
            return NULL;
        }
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) break;
    }
    *out = v;
    return p;
}

/* A varint of at most `max_bytes` (5 for int, 10 for long). */
static inline bool varint(const uint8_t **pp, const uint8_t *end, uint64_t *out, int max_bytes,
                          avro_reject_reason *why) {
    const uint8_t *p = *pp;
    /* Most lengths and small numbers fit one byte. */
    if (p < end && p[0] < 0x80) {
        *out = *p;
        *pp = p + 1;
        return true;
    }
    /* Up to 5 bytes (epoch seconds) without end checks when the body has
     * them; longer varints go the slow way. */
    if (end - p >= 5) {
        uint64_t v = p[0] & 0x7f;
        for (int i = 1; i < 5; i++) {
            v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
            if (!(p[i] & 0x80)) {
                if (max_bytes == 5 && i == 4 && p[4] > 0x0f) break;
                *pp = p + i + 1;
                *out = v;
                return true;
            }
        }
    }
    const uint8_t *q = varint_slow(p, end, out, max_bytes, why);
    if (q == NULL) return false;
    *pp = q;
    return true;
}

static inline int64_t unzigzag64(uint64_t z) {
    return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}
static inline int32_t unzigzag32(uint32_t z) {
    return (int32_t)(z >> 1) ^ -(int32_t)(z & 1);
}

static void varint_failed(avro_cursor *c, avro_reject_reason why, int max_bytes, avro_fail *f) {
    if (why == AVRO_REJECT_TRUNCATED)
        fail(f, c, why, "body ends inside a varint");
    else
        fail(f, c, why, "varint longer than %d bytes or out of range", max_bytes);
}

static inline bool read_long(avro_cursor *c, int64_t *out, avro_fail *f) {
    uint64_t z = 0;
    avro_reject_reason why;
    if (!varint(&c->p, c->end, &z, 10, &why)) {
        varint_failed(c, why, 10, f);
        return false;
    }
    *out = unzigzag64(z);
    return true;
}

static inline bool read_int(avro_cursor *c, int32_t *out, avro_fail *f) {
    uint64_t z = 0;
    avro_reject_reason why;
    if (!varint(&c->p, c->end, &z, 5, &why)) {
        varint_failed(c, why, 5, f);
        return false;
    }
    *out = unzigzag32((uint32_t)z);
    return true;
}

bool avro_read_long(avro_cursor *c, int64_t *out, avro_fail *f) {
    return read_long(c, out, f);
}
bool avro_read_int(avro_cursor *c, int32_t *out, avro_fail *f) {
    return read_int(c, out, f);
}

/* A length prefix: non-negative and within the body. */
static inline bool read_length(avro_cursor *c, size_t *n, avro_fail *f) {
    int64_t len;
    if (!read_long(c, &len, f)) return false;
    if (len < 0)
        return fail(f, c, AVRO_REJECT_NEGATIVE_LENGTH, "negative length %lld", (long long)len);
    if ((uint64_t)len > (uint64_t)(c->end - c->p))
        return fail(f, c, AVRO_REJECT_TRUNCATED, "length %lld but only %zu bytes left",
                    (long long)len, (size_t)(c->end - c->p));
    *n = (size_t)len;
    return true;
}

bool avro_utf8_valid(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        /* ASCII runs, 8 bytes at a time. */
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if ((w & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        uint8_t b = p[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (b >= 0xC2 && b <= 0xDF)
            len = 2, cp = b & 0x1F;
        else if (b >= 0xE0 && b <= 0xEF)
            len = 3, cp = b & 0x0F;
        else if (b >= 0xF0 && b <= 0xF4)
            len = 4, cp = b & 0x07;
        else
            return false;
        if (i + len > n) return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        i += len;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Skipping writer-only values                                               */
/* ------------------------------------------------------------------------ */

static bool skip_bytes(avro_cursor *c, size_t n, avro_fail *f) {
    if (n > (size_t)(c->end - c->p))
        return fail(f, c, AVRO_REJECT_TRUNCATED, "body ends inside a value");
    c->p += n;
    return true;
}

bool avro_skip_value(const avro_node *n, avro_cursor *c, int depth, avro_fail *f) {
    if (depth > AVRO_MAX_DEPTH)
        return fail(f, c, AVRO_REJECT_TOO_LARGE, "value nested deeper than %d", AVRO_MAX_DEPTH);
    int64_t v;
    size_t len = 0;
    switch (n->kind) {
        case AVRO_KIND_NULL:
            return true;
        case AVRO_KIND_BOOLEAN:
            return skip_bytes(c, 1, f);
        case AVRO_KIND_INT:
        case AVRO_KIND_LONG:
        case AVRO_KIND_ENUM:
            return read_long(c, &v, f);
        case AVRO_KIND_FLOAT:
            return skip_bytes(c, 4, f);
        case AVRO_KIND_DOUBLE:
            return skip_bytes(c, 8, f);
        case AVRO_KIND_FIXED:
            return skip_bytes(c, (size_t)n->size, f);
        case AVRO_KIND_BYTES:
        case AVRO_KIND_STRING:
            return read_length(c, &len, f) && skip_bytes(c, len, f);
        case AVRO_KIND_RECORD:
            for (int i = 0; i < n->nfields; i++)
                if (!avro_skip_value(n->fields[i].type, c, depth + 1, f)) return false;
            return true;
        case AVRO_KIND_UNION:
            if (!read_long(c, &v, f)) return false;
            if (v < 0 || v >= n->nbranches)
                return fail(f, c, AVRO_REJECT_BAD_UNION_INDEX, "union index %lld of %d branches",
                            (long long)v, n->nbranches);
            return avro_skip_value(n->branches[v], c, depth + 1, f);
        case AVRO_KIND_ARRAY:
        case AVRO_KIND_MAP:
            for (;;) {
                int64_t count;
                if (!read_long(c, &count, f)) return false;
                if (count == 0) return true;
                if (count < 0) {
                    /* The block says how many bytes it takes: jump over it. */
                    if (count == INT64_MIN)
                        return fail(f, c, AVRO_REJECT_TOO_LARGE, "block count overflows");
                    if (!read_length(c, &len, f)) return false;
                    c->p += len;
                    continue;
                }
                c->budget -= count;
                if (c->budget < 0)
                    return fail(f, c, AVRO_REJECT_TOO_LARGE, "more than %d items in one record",
                                AVRO_MAX_EMPTY_ITEMS);
                for (int64_t i = 0; i < count; i++) {
                    if (n->kind == AVRO_KIND_MAP &&
                        !(read_length(c, &len, f) && skip_bytes(c, len, f)))
                        return false;
                    if (!avro_skip_value(n->items, c, depth + 1, f)) return false;
                }
            }
    }
    return fail(f, c, AVRO_REJECT_BAD_SCHEMA, "unknown type");
}

/* ------------------------------------------------------------------------ */
/* Column writers                                                            */
/* ------------------------------------------------------------------------ */

static inline size_t col_push(sd_column *col) {
    if (col->len >= col->values_cap) sd_column_reserve(col, col->len + 1);
    size_t row = col->len++;
    if (col->valid) col->valid[row] = 1;
    return row;
}

/* Append one fixed-width value; the push comes first because it may move
 * col->values. */
#define col_put(col, T, v)                                                                         \
    do {                                                                                           \
        size_t row_ = col_push(col);                                                               \
        ((T *)(col)->values)[row_] = (T)(v);                                                       \
    } while (0)

/* Copies of short strings (UUIDs, names) inline, word by word: a libc call
 * per value costs as much as the decoding. */
static inline void copy_short(uint8_t *dst, const uint8_t *src, size_t n) {
    if (n >= 16 && n <= 64) {
        /* 16-byte moves; the last one overlaps the previous instead of
         * finishing byte by byte. */
        size_t i = 0;
        for (; i + 16 <= n; i += 16) __builtin_memcpy(dst + i, src + i, 16);
        if (i < n) __builtin_memcpy(dst + n - 16, src + n - 16, 16);
    } else if (n >= 8 && n < 16) {
        __builtin_memcpy(dst, src, 8);
        __builtin_memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n < 8) {
        for (size_t i = 0; i < n; i++) dst[i] = src[i];
    } else {
        memcpy(dst, src, n);
    }
}

static inline void col_bytes(sd_column *col, const uint8_t *p, size_t n) {
    size_t row = col_push(col);
    sd_buf *d = &col->data;
    if (n) { /* an empty first value leaves data NULL: no pointer arithmetic on it */
        if (d->len + n > d->cap) sd_buf_reserve(d, n);
        copy_short(d->data + d->len, p, n);
        d->len += n;
    }
    col->offsets[row + 1] = (int64_t)d->len;
}

static inline void col_list(sd_column *col, int64_t count) {
    size_t row = col_push(col);
    col->offsets[row + 1] = col->offsets[row] + count;
}

/* Big-endian two's complement of any length into an __int128, when it
 * fits. */
static bool decimal_from_be(const uint8_t *p, size_t n, __int128 *out) {
    if (n == 0) {
        *out = 0;
        return true;
    }
    uint8_t sign = (p[0] & 0x80) ? 0xFF : 0x00;
    while (n > 16) {
        if (p[0] != sign) return false;
        p++, n--;
    }
    if (n == 16 && ((p[0] ^ sign) & 0x80)) return false;
    unsigned __int128 v = sign ? ~(unsigned __int128)0 : 0;
    for (size_t i = 0; i < n; i++) v = (v << 8) | p[i];
    *out = (__int128)v;
    return true;
}

/* ------------------------------------------------------------------------ */
/* The interpreter                                                           */
/* ------------------------------------------------------------------------ */

typedef struct loop_frame {
    int64_t remaining; /* items left in the current block */
    int64_t total;     /* items so far */
} loop_frame;

/* The interpreter keeps its read position in a local (`p`, never
 * address-taken) rather than in the cursor: with -fno-strict-aliasing every
 * byte stored into a column could otherwise alias the cursor and force a
 * reload. These macros read at `p` and leave through one failure path. */
#define RUN_FAIL(reason, ...) return fail_at(f, c->start, p, (reason), __VA_ARGS__)
#define RUN_VARINT(z, max)                                                                         \
    do {                                                                                           \
        avro_reject_reason why_;                                                                   \
        if (!varint(&p, end, &(z), (max), &why_)) {                                                \
            if (why_ == AVRO_REJECT_TRUNCATED) RUN_FAIL(why_, "body ends inside a varint");        \
            RUN_FAIL(why_, "varint longer than %d bytes or out of range", (max));                  \
        }                                                                                          \
    } while (0)
#define RUN_LONG(v)                                                                                \
    do {                                                                                           \
        uint64_t z_ = 0;                                                                           \
        RUN_VARINT(z_, 10);                                                                        \
        (v) = unzigzag64(z_);                                                                      \
    } while (0)
#define RUN_INT(v)                                                                                 \
    do {                                                                                           \
        uint64_t z_ = 0;                                                                           \
        RUN_VARINT(z_, 5);                                                                         \
        (v) = unzigzag32((uint32_t)z_);                                                            \
    } while (0)
#define RUN_LENGTH(n)                                                                              \
    do {                                                                                           \
        int64_t l_;                                                                                \
        RUN_LONG(l_);                                                                              \
        if (l_ < 0) RUN_FAIL(AVRO_REJECT_NEGATIVE_LENGTH, "negative length %lld", (long long)l_);  \
        if ((uint64_t)l_ > (uint64_t)(end - p))                                                    \
            RUN_FAIL(AVRO_REJECT_TRUNCATED, "length %lld but only %zu bytes left", (long long)l_,  \
                     (size_t)(end - p));                                                           \
        (n) = (size_t)l_;                                                                          \
    } while (0)
/* A block header: count (a negative count is followed by a byte size),
 * checked against the bytes left (items that take bytes) or the record's
 * budget (items that take none). */
#define RUN_BLOCK(count, item_min)                                                                 \
    do {                                                                                           \
        RUN_LONG(count);                                                                           \
        if ((count) < 0) {                                                                         \
            if ((count) == INT64_MIN) RUN_FAIL(AVRO_REJECT_TOO_LARGE, "block count overflows");    \
            (count) = -(count);                                                                    \
            int64_t size_;                                                                         \
            RUN_LONG(size_);                                                                       \
            if (size_ < 0)                                                                         \
                RUN_FAIL(AVRO_REJECT_NEGATIVE_LENGTH, "negative block size %lld",                  \
                         (long long)size_);                                                        \
        }                                                                                          \
        if ((item_min) > 0) {                                                                      \
            if ((uint64_t)(count) > (uint64_t)(end - p) / (uint64_t)(item_min))                    \
                RUN_FAIL(AVRO_REJECT_TRUNCATED, "block of %lld items is longer than the body",     \
                         (long long)(count));                                                      \
        } else {                                                                                   \
            c->budget -= (count);                                                                  \
            if (c->budget < 0)                                                                     \
                RUN_FAIL(AVRO_REJECT_TOO_LARGE, "more than %d empty items in one record",          \
                         AVRO_MAX_EMPTY_ITEMS);                                                    \
        }                                                                                          \
    } while (0)

static bool run(avro_program *prog, int pc, avro_cursor *c, avro_fail *f, int depth) {
    const avro_op *ops = prog->ops;
    sd_column **cols = prog->cols;
    const uint8_t *p = c->p, *const end = c->end;
    loop_frame stack[AVRO_MAX_DEPTH + 1];
    int sp = 0;
    for (;;) {
        const avro_op *op = &ops[pc];
        sd_column *col = op->col >= 0 ? cols[op->col] : NULL;
        switch ((avro_opcode)op->code) {
            case OP_END:
                c->p = p;
                return true;
            case OP_BOOL: {
                if (p >= end) RUN_FAIL(AVRO_REJECT_TRUNCATED, "body ends inside a boolean");
                uint8_t b = *p;
                if (b > 1) RUN_FAIL(AVRO_REJECT_OUT_OF_RANGE, "boolean byte 0x%02x", b);
                p++;
                col_put(col, uint8_t, b);
                break;
            }
            case OP_INT: {
                int32_t v;
                RUN_INT(v);
                col_put(col, int32_t, v);
                break;
            }
            case OP_INT_LONG:
            case OP_LONG: {
                int64_t v;
                if (op->code == OP_INT_LONG) {
                    int32_t i;
                    RUN_INT(i);
                    v = i;
                } else {
                    RUN_LONG(v);
                }
                if (op->arg != 1 && __builtin_mul_overflow(v, (int64_t)op->arg, &v))
                    RUN_FAIL(AVRO_REJECT_OUT_OF_RANGE, "timestamp out of range");
                col_put(col, int64_t, v);
                break;
            }
            case OP_INT_FLOAT:
            case OP_INT_DOUBLE: {
                int32_t v;
                RUN_INT(v);
                if (op->code == OP_INT_FLOAT)
                    col_put(col, float, v);
                else
                    col_put(col, double, v);
                break;
            }
            case OP_LONG_FLOAT:
            case OP_LONG_DOUBLE: {
                int64_t v;
                RUN_LONG(v);
                if (op->code == OP_LONG_FLOAT)
                    col_put(col, float, v);
                else
                    col_put(col, double, v);
                break;
            }
            case OP_FLOAT:
            case OP_FLOAT_DOUBLE: {
                if (end - p < 4) RUN_FAIL(AVRO_REJECT_TRUNCATED, "body ends inside a float");
                float v;
                memcpy(&v, p, 4);
                p += 4;
                if (op->code == OP_FLOAT)
                    col_put(col, float, v);
                else
                    col_put(col, double, v);
                break;
            }
            case OP_DOUBLE: {
                if (end - p < 8) RUN_FAIL(AVRO_REJECT_TRUNCATED, "body ends inside a double");
                double v;
                memcpy(&v, p, 8);
                p += 8;
                col_put(col, double, v);
                break;
            }
            case OP_STRING: {
                size_t n;
                RUN_LENGTH(n);
                if ((op->flags & OPF_UTF8) && !avro_utf8_valid(p, n))
                    RUN_FAIL(AVRO_REJECT_INVALID_UTF8, "string of %zu bytes is not valid UTF-8", n);
                col_bytes(col, p, n);
                p += n;
                break;
            }
            case OP_FIXED:
                if ((size_t)(end - p) < (size_t)op->arg)
                    RUN_FAIL(AVRO_REJECT_TRUNCATED, "body ends inside a fixed(%d)", op->arg);
                col_bytes(col, p, (size_t)op->arg);
                p += op->arg;
                break;
            case OP_DEC_BYTES:
            case OP_DEC_FIXED: {
                size_t n = (size_t)op->arg;
                if (op->code == OP_DEC_BYTES)
                    RUN_LENGTH(n);
                else if ((size_t)(end - p) < n)
                    RUN_FAIL(AVRO_REJECT_TRUNCATED, "body ends inside a decimal");
                __int128 v;
                if (!decimal_from_be(p, n, &v))
                    RUN_FAIL(AVRO_REJECT_OUT_OF_RANGE, "decimal of %zu bytes exceeds 38 digits", n);
                p += n;
                size_t row = col_push(col);
                memcpy((uint8_t *)col->values + row * 16, &v, 16);
                break;
            }
            case OP_ENUM: {
                int32_t i;
                RUN_INT(i);
                if (i < 0 || i >= op->arg2)
                    RUN_FAIL(AVRO_REJECT_BAD_ENUM_INDEX, "enum index %d of %d symbols", i,
                             op->arg2);
                int32_t m = prog->ints[op->arg + i];
                if (m < 0)
                    RUN_FAIL(
                        AVRO_REJECT_NO_MATCH,
                        "writer enum symbol #%d is not in the reader's enum, which has no default",
                        i);
                const char *sym = prog->strs[op->arg3 + m];
                col_bytes(col, (const uint8_t *)sym, strlen(sym));
                break;
            }
            case OP_NULL:
                sd_column_append_null(col);
                break;
            case OP_STRUCT:
                col_push(col);
                break;
            case OP_UNION: {
                int64_t b;
                RUN_LONG(b);
                if (b < 0 || b >= op->arg)
                    RUN_FAIL(AVRO_REJECT_BAD_UNION_INDEX, "union index %lld of %d branches",
                             (long long)b, op->arg);
                pc = ops[pc + 1 + b].arg;
                continue;
            }
            case OP_JUMP:
                pc = op->arg;
                continue;
            case OP_FAIL:
                RUN_FAIL((avro_reject_reason)op->arg, "%s", prog->strs[op->arg2]);
            case OP_ARRAY:
            case OP_MAP: {
                int64_t count;
                RUN_BLOCK(count, op->arg2);
                if (count == 0) {
                    col_list(col, 0);
                    pc = op->arg;
                    continue;
                }
                if (sp > AVRO_MAX_DEPTH) RUN_FAIL(AVRO_REJECT_TOO_LARGE, "arrays nested too deep");
                stack[sp++] = (loop_frame){.remaining = count, .total = count};
                break;
            }
            case OP_LOOP_END: {
                loop_frame *fr = &stack[sp - 1];
                if (--fr->remaining > 0) {
                    pc = op->arg;
                    continue;
                }
                const avro_op *head = &ops[op->arg - 1];
                int64_t count;
                RUN_BLOCK(count, head->arg2);
                if (count > 0) {
                    fr->remaining = count;
                    fr->total += count;
                    pc = op->arg;
                    continue;
                }
                col_list(cols[head->col], fr->total);
                sp--;
                break;
            }
            case OP_SKIP:
                c->p = p;
                if (!avro_skip_value(prog->skips[op->arg], c, 0, f)) return false;
                p = c->p;
                break;
            case OP_DEFAULT: {
                const uint8_t *d = prog->pool.data + op->arg;
                avro_cursor dc = {
                    .p = d, .start = d, .end = d + op->arg2, .budget = AVRO_MAX_EMPTY_ITEMS};
                if (depth > AVRO_MAX_DEPTH || !run(prog, pc + 1, &dc, f, depth + 1))
                    RUN_FAIL(AVRO_REJECT_BAD_SCHEMA, "reader default could not be decoded");
                pc = op->arg3;
                continue;
            }
            default:
                RUN_FAIL(AVRO_REJECT_BAD_SCHEMA, "corrupt decode program (op %d)", op->code);
        }
        pc++;
    }
}

bool avro_program_run(avro_program *p, avro_cursor *c, avro_fail *f) {
    return run(p, 0, c, f, 0);
}

/* ------------------------------------------------------------------------ */
/* Binding, rollback, the public call                                        */
/* ------------------------------------------------------------------------ */

static void bind_walk(sd_column *c, sd_column **cols, int *at) {
    cols[(*at)++] = c;
    for (int i = 0; i < c->nchildren; i++) bind_walk(&c->children[i], cols, at);
}

sd_status avro_program_bind(avro_program *p, sd_batch *batch, sd_error *err) {
    if (p->bound == batch && p->bound_cols == batch->cols) return SD_OK;
    if (batch->schema != p->target && !sd_type_equal(batch->schema, p->target))
        return sd_error_set(err, SD_ERR_ARG,
                            "Avro decode: the batch's columns differ from the program's target");
    if (p->cols == NULL)
        p->cols = sd_xcalloc((size_t)(p->nslots ? p->nslots : 1), sizeof(sd_column *));
    int at = 0;
    for (int i = 0; i < batch->ncols; i++) bind_walk(&batch->cols[i], p->cols, &at);
    p->bound = batch;
    p->bound_cols = batch->cols;
    return SD_OK;
}

static void col_truncate(sd_column *c, size_t n) {
    if (c->len > n) c->len = n;
    switch (c->type->kind) {
        case SD_STRING:
        case SD_BINARY:
            c->data.len = (size_t)c->offsets[n];
            break;
        case SD_LIST:
        case SD_MAP:
            for (int i = 0; i < c->nchildren; i++)
                col_truncate(&c->children[i], (size_t)c->offsets[n]);
            break;
        case SD_STRUCT:
            for (int i = 0; i < c->nchildren; i++) col_truncate(&c->children[i], n);
            break;
        default:
            break;
    }
}

void avro_batch_truncate(sd_batch *batch, size_t nrows) {
    for (int i = 0; i < batch->ncols; i++) col_truncate(&batch->cols[i], nrows);
    if (batch->nrows > nrows) batch->nrows = nrows;
}

const char *avro_reject_reason_name(avro_reject_reason r) {
    static const char *const names[] = {
        "none",
        "bad magic byte",
        "unknown schema id",
        "bad writer schema",
        "truncated body",
        "trailing bytes",
        "invalid UTF-8",
        "varint overflow",
        "negative length",
        "bad union index",
        "bad enum index",
        "no match in reader schema",
        "value out of range",
        "too large",
    };
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

sd_status avro_program_decode(avro_program *p, sd_batch *batch, const uint8_t *body, size_t len,
                              avro_reject *rej, sd_error *err) {
    if (p->bound != batch || p->bound_cols != batch->cols) {
        sd_status st = avro_program_bind(p, batch, err);
        if (st != SD_OK) return st;
    }
    avro_cursor c = {.p = body, .start = body, .end = body + len, .budget = AVRO_MAX_EMPTY_ITEMS};
    avro_fail f;
    bool ok = run(p, 0, &c, &f, 0);
    if (ok && c.p != c.end) {
        ok = fail(&f, &c, AVRO_REJECT_TRAILING_BYTES, "%zu bytes left after the record",
                  (size_t)(c.end - c.p));
    }
    if (!ok) {
        avro_batch_truncate(batch, batch->nrows);
        rej->reason = f.reason;
        rej->byte_offset = f.at;
        memcpy(rej->detail, f.detail, sizeof(rej->detail));
        return sd_error_set(err, SD_ERR_FORMAT, "Avro record rejected (%s) at byte %zu: %s",
                            avro_reject_reason_name(f.reason), f.at, f.detail);
    }
    batch->nrows++;
    return SD_OK;
}
