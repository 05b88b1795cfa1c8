/*
 * pipe_eval.c - vectorised evaluation of checked expressions (pipe_expr.c)
 * over a columnar batch.
 *
 * Each node is evaluated in one pass over whole columns: its arguments
 * first (a batch column is borrowed, not copied; a literal is a one-row
 * column read with stride 0), then one tight loop per operator and type.
 * Intermediate columns are allocated once per node per batch, never per
 * row. Nulls follow Spark SQL: comparisons and arithmetic with a null
 * operand are null, AND/OR are three-valued, x / 0 and x % 0 are null.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

#define PE_MICROS_PER_DAY INT64_C(86400000000)

/* An evaluated argument: a column of the node's type, or a single value
 * repeated for every row (stride 0). */
typedef struct pe_vec {
    sd_column own; /* storage when the node computed its values */
    const sd_column *c;
    size_t stride;
    bool owned;
} pe_vec;

static sd_status pe_eval(const pipe_expr *e, const sd_batch *b, pe_vec *out, sd_error *err);

static void pe_vec_free(pe_vec *v) {
    if (v->owned) sd_column_free(&v->own);
    v->owned = false;
}

/* A fresh result column of n rows (values uninitialised until the kernel
 * writes them; strings get their offsets from the kernel). */
static sd_column *pe_vec_new(pe_vec *v, const sd_type *t, size_t n) {
    sd_column_init(&v->own, t);
    sd_column_reserve(&v->own, n ? n : 1);
    v->own.len = n;
    v->c = &v->own;
    v->stride = 1;
    v->owned = true;
    return &v->own;
}

static inline bool pe_ok(const pe_vec *v, size_t i) {
    return v->c->valid == NULL || v->c->valid[i * v->stride];
}

#define PE_AT(v, T, i) (((const T *)(v)->c->values)[(i) * (v)->stride])

/* Validity of a result: the AND of its arguments' validity (no array when
 * every argument is all valid; kernels add their own nulls with
 * pe_set_null()). */
static void pe_valid_from(sd_column *o, pe_vec *const *args, int nargs, size_t n) {
    bool any = false;
    for (int k = 0; k < nargs; k++) any = any || args[k]->c->valid != NULL;
    if (!any) return;
    o->valid = sd_xmalloc(o->values_cap ? o->values_cap : 1);
    memset(o->valid, 1, n);
    for (int k = 0; k < nargs; k++) {
        const pe_vec *a = args[k];
        if (a->c->valid == NULL) continue;
        if (a->stride == 0) {
            if (!a->c->valid[0]) memset(o->valid, 0, n);
        } else {
            for (size_t i = 0; i < n; i++) o->valid[i] &= a->c->valid[i];
        }
    }
}

/* Mark row i of a result null, creating its validity array (all valid) on
 * the first null: most batches have none, and then need no array. */
static void pe_set_null(sd_column *o, size_t n, size_t i) {
    if (o->valid == NULL) {
        o->valid = sd_xmalloc(o->values_cap ? o->values_cap : 1);
        memset(o->valid, 1, n);
    }
    o->valid[i] = 0;
}

/* Run BODY for i in [0, n) with il / ir the row of the left / right
 * argument; the four stride cases are separate loops so the compiler sees
 * constant strides (and vectorises the column-column and column-literal
 * cases). */
#define PE_FOR2(l, r, n, ...)                                                                      \
    do {                                                                                           \
        if ((l)->stride && (r)->stride) {                                                          \
            for (size_t i = 0; i < (n); i++) {                                                     \
                const size_t il = i, ir = i;                                                       \
                __VA_ARGS__;                                                                       \
            }                                                                                      \
        } else if ((l)->stride) {                                                                  \
            for (size_t i = 0; i < (n); i++) {                                                     \
                const size_t il = i, ir = 0;                                                       \
                __VA_ARGS__;                                                                       \
            }                                                                                      \
        } else if ((r)->stride) {                                                                  \
            for (size_t i = 0; i < (n); i++) {                                                     \
                const size_t il = 0, ir = i;                                                       \
                __VA_ARGS__;                                                                       \
            }                                                                                      \
        } else {                                                                                   \
            for (size_t i = 0; i < (n); i++) {                                                     \
                const size_t il = 0, ir = 0;                                                       \
                __VA_ARGS__;                                                                       \
            }                                                                                      \
        }                                                                                          \
    } while (0)

#define PE_L(T) (((const T *)l->c->values)[il])
#define PE_R(T) (((const T *)r->c->values)[ir])

/* ------------------------------------------------------------------------ */
/* Conversions with Java/Spark semantics (no C undefined behaviour)          */
/* ------------------------------------------------------------------------ */

/* double -> long as Java's (long) cast: saturating, NaN -> 0. */
static int64_t pe_d2l(double d) {
    if (isnan(d)) return 0;
    if (d >= 9223372036854775807.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}

static int32_t pe_d2i(double d) {
    if (isnan(d)) return 0;
    if (d >= 2147483647.0) return INT32_MAX;
    if (d <= -2147483648.0) return INT32_MIN;
    return (int32_t)d;
}

static int64_t pe_floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static __int128 pe_pow10_128(int scale) {
    __int128 p = 1;
    for (int i = 0; i < scale && i < 38; i++) p *= 10;
    return p;
}

/* The value of row i of an integer-like column (bool, ints, date,
 * timestamps) as int64. */
static int64_t pe_get_i64(const pe_vec *v, size_t i) {
    size_t r = i * v->stride;
    switch (v->c->type->kind) {
        case SD_BOOL:
            return ((const uint8_t *)v->c->values)[r];
        case SD_INT8:
            return ((const int8_t *)v->c->values)[r];
        case SD_INT16:
            return ((const int16_t *)v->c->values)[r];
        case SD_INT32:
        case SD_DATE:
            return ((const int32_t *)v->c->values)[r];
        default:
            return ((const int64_t *)v->c->values)[r];
    }
}

/* Row i of a float, double or decimal column as double. */
static double pe_get_f64(const pe_vec *v, size_t i) {
    size_t r = i * v->stride;
    switch (v->c->type->kind) {
        case SD_FLOAT:
            return ((const float *)v->c->values)[r];
        case SD_DECIMAL: {
            __int128 u;
            memcpy(&u, (const uint8_t *)v->c->values + r * 16, 16);
            return (double)u / (double)pe_pow10_128(v->c->type->scale);
        }
        default:
            return ((const double *)v->c->values)[r];
    }
}

static void pe_get_bytes(const pe_vec *v, size_t i, const uint8_t **p, size_t *n) {
    size_t r = i * v->stride;
    int64_t a = v->c->offsets[r], b = v->c->offsets[r + 1];
    /* A column of empty strings may have no data buffer at all. */
    *p = v->c->data.data != NULL ? v->c->data.data + a : (const uint8_t *)"";
    *n = (size_t)(b - a);
}

/* Trim ASCII blanks, as Spark does before parsing a string. */
static void pe_trim(const uint8_t **p, size_t *n) {
    while (*n > 0 && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')) (*p)++, (*n)--;
    while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t' || (*p)[*n - 1] == '\n' ||
                      (*p)[*n - 1] == '\r'))
        (*n)--;
}

/* Copy a trimmed string into a NUL-terminated buffer for strto*; false
 * when it is empty or too long to be a number. */
static bool pe_cstr(const uint8_t *p, size_t n, char *buf, size_t cap) {
    pe_trim(&p, &n);
    if (n == 0 || n >= cap || memchr(p, '\0', n) != NULL) return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return true;
}

/* "123", "-7", "1.9" (fraction truncated, as Spark's string-to-int). */
static bool pe_parse_i64(const uint8_t *p, size_t n, int64_t *out) {
    char buf[64], *end;
    if (!pe_cstr(p, n, buf, sizeof(buf))) return false;
    if (buf[0] == '.' || (buf[0] != '-' && buf[0] != '+' && (buf[0] < '0' || buf[0] > '9')))
        return false;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno == ERANGE || end == buf) return false;
    if (*end == '.') {
        end++;
        while (*end >= '0' && *end <= '9') end++;
    }
    if (*end != '\0') return false;
    *out = v;
    return true;
}

static bool pe_parse_f64(const uint8_t *p, size_t n, double *out) {
    char buf[128], *end;
    if (!pe_cstr(p, n, buf, sizeof(buf))) return false;
    double d = strtod(buf, &end);
    if (end == buf || *end != '\0') return false;
    *out = d;
    return true;
}

static bool pe_parse_bool(const uint8_t *p, size_t n, bool *out) {
    static const char *yes[] = {"t", "true", "y", "yes", "1"};
    static const char *no[] = {"f", "false", "n", "no", "0"};
    pe_trim(&p, &n);
    for (int k = 0; k < 5; k++) {
        if (n == strlen(yes[k]) && strncasecmp((const char *)p, yes[k], n) == 0) {
            *out = true;
            return true;
        }
        if (n == strlen(no[k]) && strncasecmp((const char *)p, no[k], n) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* A date, or a timestamp whose day is taken, as Spark's cast to date. */
static bool pe_parse_days(const uint8_t *p, size_t n, int32_t *days) {
    int64_t micros;
    pe_trim(&p, &n);
    if (sd_parse_date((const char *)p, n, days)) return true;
    if (!sd_parse_timestamp((const char *)p, n, &micros)) return false;
    *days = (int32_t)pe_floor_div(micros, PE_MICROS_PER_DAY);
    return true;
}

static bool pe_parse_micros(const uint8_t *p, size_t n, int64_t *micros) {
    int32_t days;
    pe_trim(&p, &n);
    if (sd_parse_timestamp((const char *)p, n, micros)) return true;
    if (!sd_parse_date((const char *)p, n, &days)) return false;
    *micros = (int64_t)days * PE_MICROS_PER_DAY;
    return true;
}

static bool pe_is_int_kind(sd_type_kind k) {
    return k == SD_BOOL || k == SD_INT8 || k == SD_INT16 || k == SD_INT32 || k == SD_INT64;
}
static bool pe_is_ts_kind(sd_type_kind k) {
    return k == SD_TIMESTAMP || k == SD_TIMESTAMP_NTZ;
}

/* ------------------------------------------------------------------------ */
/* Casts                                                                     */
/* ------------------------------------------------------------------------ */

/* Row i of `a` as text appended to o's data (cast to string). */
static void pe_append_text(const pe_vec *a, size_t i, sd_buf *out) {
    sd_type_kind k = a->c->type->kind;
    switch (k) {
        case SD_BOOL:
            sd_buf_append_str(out, pe_get_i64(a, i) ? "true" : "false");
            break;
        case SD_FLOAT:
            sd_format_float((float)pe_get_f64(a, i), out);
            break;
        case SD_DOUBLE:
            sd_format_double(pe_get_f64(a, i), out);
            break;
        case SD_DECIMAL: {
            __int128 u;
            memcpy(&u, (const uint8_t *)a->c->values + i * a->stride * 16, 16);
            sd_format_decimal(u, a->c->type->scale, out);
            break;
        }
        case SD_DATE:
            sd_format_date(pe_get_i64(a, i), out);
            break;
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ:
            sd_format_timestamp(pe_get_i64(a, i), out);
            break;
        case SD_STRING:
        case SD_BINARY: {
            const uint8_t *p;
            size_t n;
            pe_get_bytes(a, i, &p, &n);
            sd_buf_append(out, p, n);
            break;
        }
        default:
            sd_buf_appendf(out, "%lld", (long long)pe_get_i64(a, i));
            break;
    }
}

static void pe_cast_to_string(const pe_vec *a, sd_column *o, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (pe_ok(a, i)) pe_append_text(a, i, &o->data);
        o->offsets[i + 1] = (int64_t)o->data.len;
    }
}

/* Cast to a numeric kind or boolean; false on a string that does not
 * parse (the row becomes null). */
static bool pe_cast_number(const pe_vec *a, size_t i, sd_type_kind to, void *dst) {
    sd_type_kind from = a->c->type->kind;
    bool is_int = true;
    int64_t x = 0;
    double d = 0;
    if (pe_is_int_kind(from)) {
        x = pe_get_i64(a, i);
    } else if (pe_is_ts_kind(from)) {
        /* timestamp -> number: epoch seconds */
        int64_t us = pe_get_i64(a, i);
        if (to == SD_FLOAT || to == SD_DOUBLE)
            is_int = false, d = (double)us / 1e6;
        else
            x = pe_floor_div(us, 1000000);
    } else if (from == SD_STRING) {
        const uint8_t *p;
        size_t n;
        pe_get_bytes(a, i, &p, &n);
        if (to == SD_BOOL) {
            bool bv;
            if (!pe_parse_bool(p, n, &bv)) return false;
            x = bv;
        } else if (to == SD_FLOAT || to == SD_DOUBLE) {
            if (!pe_parse_f64(p, n, &d)) return false;
            is_int = false;
        } else {
            if (!pe_parse_i64(p, n, &x)) return false;
            if (to == SD_INT32 && (x < INT32_MIN || x > INT32_MAX)) return false;
        }
    } else if (from == SD_DECIMAL && (to == SD_INT32 || to == SD_INT64)) {
        __int128 u;
        memcpy(&u, (const uint8_t *)a->c->values + i * a->stride * 16, 16);
        x = (int64_t)(uint64_t)(u / pe_pow10_128(a->c->type->scale)); /* truncates, wraps */
    } else {
        is_int = false;
        d = pe_get_f64(a, i);
    }
    switch (to) {
        case SD_BOOL:
            *(uint8_t *)dst = is_int ? x != 0 : d != 0;
            break;
        case SD_INT32:
            *(int32_t *)dst = is_int ? (int32_t)(uint32_t)(uint64_t)x : pe_d2i(d);
            break;
        case SD_INT64:
            *(int64_t *)dst = is_int ? x : pe_d2l(d);
            break;
        case SD_FLOAT:
            *(float *)dst = is_int ? (float)x : (float)d;
            break;
        default:
            *(double *)dst = is_int ? (double)x : d;
            break;
    }
    return true;
}

static bool pe_cast_date(const pe_vec *a, size_t i, int32_t *dst) {
    sd_type_kind from = a->c->type->kind;
    if (from == SD_DATE) {
        *dst = (int32_t)pe_get_i64(a, i);
        return true;
    }
    if (pe_is_ts_kind(from)) {
        *dst = (int32_t)pe_floor_div(pe_get_i64(a, i), PE_MICROS_PER_DAY);
        return true;
    }
    const uint8_t *p;
    size_t n;
    pe_get_bytes(a, i, &p, &n);
    return pe_parse_days(p, n, dst);
}

static bool pe_cast_timestamp(const pe_vec *a, size_t i, int64_t *dst) {
    sd_type_kind from = a->c->type->kind;
    if (from == SD_DATE) /* dates beyond year 294247 have no timestamp: null */
        return !__builtin_mul_overflow(pe_get_i64(a, i), PE_MICROS_PER_DAY, dst);
    if (pe_is_ts_kind(from)) {
        *dst = pe_get_i64(a, i);
        return true;
    }
    if (from == SD_STRING || from == SD_BINARY) {
        const uint8_t *p;
        size_t n;
        pe_get_bytes(a, i, &p, &n);
        return pe_parse_micros(p, n, dst);
    }
    if (pe_is_int_kind(from)) { /* epoch seconds, saturating like Java's toMicros */
        int64_t s = pe_get_i64(a, i);
        if (__builtin_mul_overflow(s, INT64_C(1000000), dst)) *dst = s < 0 ? INT64_MIN : INT64_MAX;
        return true;
    }
    double d = pe_get_f64(a, i);
    if (!isfinite(d)) return false;
    *dst = pe_d2l(d * 1e6);
    return true;
}

static void pe_cast(const pe_vec *a, sd_column *o, size_t n) {
    sd_type_kind to = o->type->kind;
    size_t w = sd_type_width(to);
    if (to == SD_STRING) {
        pe_cast_to_string(a, o, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        void *dst = (uint8_t *)o->values + i * w;
        bool ok = pe_ok(a, i);
        if (ok) {
            if (to == SD_DATE)
                ok = pe_cast_date(a, i, dst);
            else if (to == SD_TIMESTAMP)
                ok = pe_cast_timestamp(a, i, dst);
            else
                ok = pe_cast_number(a, i, to, dst);
        }
        if (!ok) {
            memset(dst, 0, w);
            pe_set_null(o, n, i);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Comparisons                                                               */
/* ------------------------------------------------------------------------ */

#define PE_CMP_INT(T)                                                                              \
    switch (op) {                                                                                  \
        case PIPE_EXPR_EQ:                                                                         \
            PE_FOR2(l, r, n, out[i] = PE_L(T) == PE_R(T));                                         \
            break;                                                                                 \
        case PIPE_EXPR_NE:                                                                         \
            PE_FOR2(l, r, n, out[i] = PE_L(T) != PE_R(T));                                         \
            break;                                                                                 \
        case PIPE_EXPR_LT:                                                                         \
            PE_FOR2(l, r, n, out[i] = PE_L(T) < PE_R(T));                                          \
            break;                                                                                 \
        case PIPE_EXPR_LE:                                                                         \
            PE_FOR2(l, r, n, out[i] = PE_L(T) <= PE_R(T));                                         \
            break;                                                                                 \
        case PIPE_EXPR_GT:                                                                         \
            PE_FOR2(l, r, n, out[i] = PE_L(T) > PE_R(T));                                          \
            break;                                                                                 \
        default:                                                                                   \
            PE_FOR2(l, r, n, out[i] = PE_L(T) >= PE_R(T));                                         \
            break;                                                                                 \
    }

/* Spark orders NaN above every number and equal to itself. */
#define PE_CMP_FP(T)                                                                               \
    switch (op) {                                                                                  \
        case PIPE_EXPR_EQ:                                                                         \
            PE_FOR2(l, r, n, out[i] = PE_L(T) == PE_R(T) || (isnan(PE_L(T)) && isnan(PE_R(T))));   \
            break;                                                                                 \
        case PIPE_EXPR_NE:                                                                         \
            PE_FOR2(l, r, n,                                                                       \
                    out[i] = !(PE_L(T) == PE_R(T) || (isnan(PE_L(T)) && isnan(PE_R(T)))));         \
            break;                                                                                 \
        case PIPE_EXPR_LT:                                                                         \
            PE_FOR2(l, r, n, out[i] = PE_L(T) < PE_R(T) || (!isnan(PE_L(T)) && isnan(PE_R(T))));   \
            break;                                                                                 \
        case PIPE_EXPR_LE:                                                                         \
            PE_FOR2(l, r, n, out[i] = PE_L(T) <= PE_R(T) || isnan(PE_R(T)));                       \
            break;                                                                                 \
        case PIPE_EXPR_GT:                                                                         \
            PE_FOR2(l, r, n, out[i] = PE_L(T) > PE_R(T) || (isnan(PE_L(T)) && !isnan(PE_R(T))));   \
            break;                                                                                 \
        default:                                                                                   \
            PE_FOR2(l, r, n, out[i] = PE_L(T) >= PE_R(T) || isnan(PE_L(T)));                       \
            break;                                                                                 \
    }

static int pe_cmp_bytes(const pe_vec *l, const pe_vec *r, size_t i) {
    const uint8_t *a, *b;
    size_t na, nb;
    pe_get_bytes(l, i, &a, &na);
    pe_get_bytes(r, i, &b, &nb);
    int c = na && nb ? memcmp(a, b, na < nb ? na : nb) : 0;
    if (c != 0) return c;
    return na < nb ? -1 : (na > nb ? 1 : 0);
}

static void pe_compare(pipe_expr_op op, const pe_vec *l, const pe_vec *r, sd_column *o, size_t n) {
    uint8_t *out = o->values;
    switch (l->c->type->kind) {
        case SD_BOOL:
            PE_CMP_INT(uint8_t) break;
        case SD_INT8:
            PE_CMP_INT(int8_t) break;
        case SD_INT16:
            PE_CMP_INT(int16_t) break;
        case SD_INT32:
        case SD_DATE:
            PE_CMP_INT(int32_t) break;
        case SD_INT64:
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ:
            PE_CMP_INT(int64_t) break;
        case SD_FLOAT:
            PE_CMP_FP(float) break;
        case SD_DOUBLE:
            PE_CMP_FP(double) break;
        default:
            for (size_t i = 0; i < n; i++) {
                int c = pe_cmp_bytes(l, r, i);
                switch (op) {
                    case PIPE_EXPR_EQ:
                        out[i] = c == 0;
                        break;
                    case PIPE_EXPR_NE:
                        out[i] = c != 0;
                        break;
                    case PIPE_EXPR_LT:
                        out[i] = c < 0;
                        break;
                    case PIPE_EXPR_LE:
                        out[i] = c <= 0;
                        break;
                    case PIPE_EXPR_GT:
                        out[i] = c > 0;
                        break;
                    default:
                        out[i] = c >= 0;
                        break;
                }
            }
            break;
    }
}

/* ------------------------------------------------------------------------ */
/* Arithmetic                                                                */
/* ------------------------------------------------------------------------ */

/* + - * in two's complement (Spark's non-ANSI overflow wraps); U is the
 * unsigned type of T so that C sees no signed overflow. */
#define PE_ARITH_INT(T, U)                                                                         \
    do {                                                                                           \
        T *out = o->values;                                                                        \
        switch (op) {                                                                              \
            case PIPE_EXPR_ADD:                                                                    \
                PE_FOR2(l, r, n, out[i] = (T)((U)PE_L(T) + (U)PE_R(T)));                           \
                break;                                                                             \
            case PIPE_EXPR_SUB:                                                                    \
                PE_FOR2(l, r, n, out[i] = (T)((U)PE_L(T) - (U)PE_R(T)));                           \
                break;                                                                             \
            case PIPE_EXPR_MUL:                                                                    \
                PE_FOR2(l, r, n, out[i] = (T)((U)PE_L(T) * (U)PE_R(T)));                           \
                break;                                                                             \
            default:                                                                               \
                PE_FOR2(l, r, n, {                                                                 \
                    T b_ = PE_R(T);                                                                \
                    if (b_ == 0) {                                                                 \
                        out[i] = 0;                                                                \
                        pe_set_null(o, n, i);                                                      \
                    } else {                                                                       \
                        out[i] = b_ == -1 ? 0 : PE_L(T) % b_;                                      \
                    }                                                                              \
                });                                                                                \
                break;                                                                             \
        }                                                                                          \
    } while (0)

#define PE_ARITH_FP(T, MOD)                                                                        \
    do {                                                                                           \
        T *out = o->values;                                                                        \
        switch (op) {                                                                              \
            case PIPE_EXPR_ADD:                                                                    \
                PE_FOR2(l, r, n, out[i] = PE_L(T) + PE_R(T));                                      \
                break;                                                                             \
            case PIPE_EXPR_SUB:                                                                    \
                PE_FOR2(l, r, n, out[i] = PE_L(T) - PE_R(T));                                      \
                break;                                                                             \
            case PIPE_EXPR_MUL:                                                                    \
                PE_FOR2(l, r, n, out[i] = PE_L(T) * PE_R(T));                                      \
                break;                                                                             \
            default:                                                                               \
                PE_FOR2(l, r, n, {                                                                 \
                    T b_ = PE_R(T);                                                                \
                    if (b_ == 0) {                                                                 \
                        out[i] = 0;                                                                \
                        pe_set_null(o, n, i);                                                      \
                    } else {                                                                       \
                        out[i] = op == PIPE_EXPR_DIV ? PE_L(T) / b_ : MOD(PE_L(T), b_);            \
                    }                                                                              \
                });                                                                                \
                break;                                                                             \
        }                                                                                          \
    } while (0)

static void pe_arith(pipe_expr_op op, const pe_vec *l, const pe_vec *r, sd_column *o, size_t n) {
    switch (l->c->type->kind) {
        case SD_INT32:
        case SD_DATE:
            PE_ARITH_INT(int32_t, uint32_t);
            break;
        case SD_INT64:
            PE_ARITH_INT(int64_t, uint64_t);
            break;
        case SD_FLOAT:
            PE_ARITH_FP(float, fmodf);
            break;
        default:
            PE_ARITH_FP(double, fmod);
            break;
    }
}

static void pe_negate(const pe_vec *a, sd_column *o, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (o->type->kind) {
            case SD_INT32:
                ((int32_t *)o->values)[i] = (int32_t)(0u - (uint32_t)PE_AT(a, int32_t, i));
                break;
            case SD_INT64:
                ((int64_t *)o->values)[i] = (int64_t)(UINT64_C(0) - (uint64_t)PE_AT(a, int64_t, i));
                break;
            case SD_FLOAT:
                ((float *)o->values)[i] = -PE_AT(a, float, i);
                break;
            default:
                ((double *)o->values)[i] = -PE_AT(a, double, i);
                break;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Logic                                                                     */
/* ------------------------------------------------------------------------ */

/* Three-valued AND / OR: a known false (AND) or true (OR) side decides the
 * row even when the other side is null. */
static void pe_logic(bool is_and, const pe_vec *l, const pe_vec *r, sd_column *o, size_t n) {
    uint8_t *out = o->values;
    bool nullable = l->c->valid != NULL || r->c->valid != NULL;
    if (nullable) o->valid = sd_xmalloc(o->values_cap);
    PE_FOR2(l, r, n, {
        bool va = l->c->valid == NULL || l->c->valid[il];
        bool vb = r->c->valid == NULL || r->c->valid[ir];
        bool a = PE_L(uint8_t) != 0, b = PE_R(uint8_t) != 0;
        bool decided = is_and ? ((va && !a) || (vb && !b)) : ((va && a) || (vb && b));
        if (decided)
            out[i] = is_and ? 0 : 1;
        else
            out[i] = is_and ? (a && b) : (a || b);
        if (nullable) o->valid[i] = decided || (va && vb);
    });
}

/* ------------------------------------------------------------------------ */
/* Functions                                                                 */
/* ------------------------------------------------------------------------ */

static void pe_to_date(const pe_vec *a, sd_column *o, size_t n) {
    int32_t *out = o->values;
    sd_type_kind k = a->c->type->kind;
    if (k == SD_INT64 && a->stride == 1) {
        /* The hot path (epoch seconds column): validity is already set from
         * the argument; only days beyond the int32 range add nulls. */
        const int64_t *in = a->c->values;
        for (size_t i = 0; i < n; i++) {
            int64_t x = in[i];
            int64_t days = x / 86400 - (x % 86400 < 0);
            bool fits = days >= INT32_MIN && days <= INT32_MAX;
            out[i] = fits ? (int32_t)days : 0;
            if (!fits) pe_set_null(o, n, i);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        bool ok = pe_ok(a, i);
        int64_t days = 0;
        if (ok && k == SD_INT64) {
            days = pe_floor_div(PE_AT(a, int64_t, i), 86400);
        } else if (ok && k == SD_DOUBLE) {
            double d = floor(PE_AT(a, double, i) / 86400.0);
            ok = d >= (double)INT32_MIN && d <= (double)INT32_MAX; /* false for NaN too */
            if (ok) days = (int64_t)d;
        } else if (ok) {
            int32_t v = 0;
            ok = pe_cast_date(a, i, &v);
            days = v;
        }
        if (ok && (days < INT32_MIN || days > INT32_MAX)) ok = false;
        out[i] = ok ? (int32_t)days : 0;
        if (!ok) pe_set_null(o, n, i);
    }
}

/* Epoch seconds (scale 1000000) or milliseconds (scale 1000) to micros;
 * out of the timestamp range is null. */
static void pe_to_micros(const pe_vec *a, int64_t scale, sd_column *o, size_t n) {
    int64_t *out = o->values;
    bool is_double = a->c->type->kind == SD_DOUBLE;
    for (size_t i = 0; i < n; i++) {
        bool ok = pe_ok(a, i);
        int64_t us = 0;
        if (ok && is_double) {
            double d = floor(PE_AT(a, double, i) * (double)scale);
            ok = d >= -9223372036854775808.0 && d < 9223372036854775808.0;
            if (ok) us = (int64_t)d;
        } else if (ok) {
            ok = !__builtin_mul_overflow(PE_AT(a, int64_t, i), scale, &us);
        }
        out[i] = ok ? us : 0;
        if (!ok) pe_set_null(o, n, i);
    }
}

static void pe_case(const pe_vec *a, bool upper, sd_column *o, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (pe_ok(a, i)) {
            const uint8_t *p;
            size_t len;
            pe_get_bytes(a, i, &p, &len);
            if (len == 0) {
                o->offsets[i + 1] = (int64_t)o->data.len;
                continue;
            }
            uint8_t *dst = sd_buf_extend(&o->data, len);
            for (size_t k = 0; k < len; k++) {
                uint8_t c = p[k];
                if (upper && c >= 'a' && c <= 'z') c = (uint8_t)(c - 32);
                if (!upper && c >= 'A' && c <= 'Z') c = (uint8_t)(c + 32);
                dst[k] = c;
            }
        }
        o->offsets[i + 1] = (int64_t)o->data.len;
    }
}

static void pe_length(const pe_vec *a, sd_column *o, size_t n) {
    int32_t *out = o->values;
    bool chars = a->c->type->kind == SD_STRING;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p;
        size_t len, count = 0;
        pe_get_bytes(a, i, &p, &len);
        if (chars) {
            for (size_t k = 0; k < len; k++) count += (p[k] & 0xC0) != 0x80;
        } else {
            count = len;
        }
        out[i] = (int32_t)(count > INT32_MAX ? INT32_MAX : count);
    }
}

static void pe_abs(const pe_vec *a, sd_column *o, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (o->type->kind) {
            case SD_INT32: {
                int32_t v = PE_AT(a, int32_t, i);
                ((int32_t *)o->values)[i] = v < 0 ? (int32_t)(0u - (uint32_t)v) : v;
                break;
            }
            case SD_INT64: {
                int64_t v = PE_AT(a, int64_t, i);
                ((int64_t *)o->values)[i] = v < 0 ? (int64_t)(UINT64_C(0) - (uint64_t)v) : v;
                break;
            }
            case SD_FLOAT:
                ((float *)o->values)[i] = fabsf(PE_AT(a, float, i));
                break;
            default:
                ((double *)o->values)[i] = fabs(PE_AT(a, double, i));
                break;
        }
    }
}

static void pe_floor(const pe_vec *a, sd_column *o, size_t n) {
    int64_t *out = o->values;
    bool is_double = a->c->type->kind == SD_DOUBLE;
    for (size_t i = 0; i < n; i++)
        out[i] = is_double ? pe_d2l(floor(PE_AT(a, double, i))) : PE_AT(a, int64_t, i);
}

/* round(x, d) of an integer, half away from zero; d >= 0 changes nothing. */
static int64_t pe_round_int(int64_t x, int digits, int max_digits) {
    if (digits >= 0) return x;
    if (-digits >= max_digits) return 0;
    int64_t p = 1;
    for (int k = 0; k < -digits; k++) p *= 10;
    int64_t q = x / p, r = x % p;
    if (r >= 0 ? 2 * r >= p : -2 * r >= p) q += r >= 0 ? 1 : -1;
    return (int64_t)((uint64_t)q * (uint64_t)p);
}

/* round(x, d) of a double the way Spark does it: on the shortest decimal
 * text of x (BigDecimal(x)), half away from zero, so round(2.675, 2) is
 * 2.68 although the double 2.675 is slightly below it. `scratch` is reused
 * across rows. */
static double pe_round_double(double x, int digits, sd_buf *scratch) {
    if (!isfinite(x)) return x;
    sd_buf_reset(scratch);
    sd_format_double(x, scratch);
    const char *s = sd_buf_cstr(scratch);
    bool neg = *s == '-';
    if (neg) s++;
    char dig[40];
    int m = 0, pt = -1, exp10 = 0;
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (*s == '.')
            pt = m;
        else if (m < 39)
            dig[m++] = *s;
    }
    if (*s == 'e' || *s == 'E') exp10 = atoi(s + 1);
    if (pt < 0) pt = m;
    pt += exp10;
    /* Drop leading zeros ("0.00123") so dig[0] is the first significant digit. */
    int lead = 0;
    while (lead < m - 1 && dig[lead] == '0') lead++, pt--;
    memmove(dig, dig + lead, (size_t)(m - lead));
    m -= lead;
    long keep = (long)pt + digits; /* digits kept before rounding */
    if (keep >= m) return x;
    if (keep < 0) return neg ? -0.0 : 0.0;
    bool up = dig[keep] >= '5';
    char num[64];
    int len = 0;
    num[len++] = '0'; /* room for a carry */
    for (long k = 0; k < keep; k++) num[len++] = dig[k];
    if (up) {
        int k = len - 1;
        while (num[k] == '9') num[k--] = '0';
        num[k]++;
    }
    num[len] = '\0';
    char text[96];
    snprintf(text, sizeof(text), "%s%se%d", neg ? "-" : "", num, -digits);
    return strtod(text, NULL);
}

static void pe_round(const pe_vec *a, int digits, sd_column *o, size_t n) {
    sd_buf scratch = SD_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        switch (o->type->kind) {
            case SD_INT32:
                ((int32_t *)o->values)[i] =
                    (int32_t)(uint32_t)(uint64_t)pe_round_int(PE_AT(a, int32_t, i), digits, 10);
                break;
            case SD_INT64:
                ((int64_t *)o->values)[i] = pe_round_int(PE_AT(a, int64_t, i), digits, 19);
                break;
            case SD_FLOAT:
                ((float *)o->values)[i] =
                    (float)pe_round_double(PE_AT(a, float, i), digits, &scratch);
                break;
            default:
                ((double *)o->values)[i] = pe_round_double(PE_AT(a, double, i), digits, &scratch);
                break;
        }
    }
    sd_buf_free(&scratch);
}

static void pe_coalesce(pe_vec *args, int nargs, sd_column *o, size_t n) {
    size_t w = sd_type_width(o->type->kind);
    bool bytes = w == 0;
    o->valid = sd_xmalloc(o->values_cap);
    for (size_t i = 0; i < n; i++) {
        int k = 0;
        while (k < nargs && !pe_ok(&args[k], i)) k++;
        o->valid[i] = k < nargs;
        if (bytes) {
            if (k < nargs) {
                const uint8_t *p;
                size_t len;
                pe_get_bytes(&args[k], i, &p, &len);
                sd_buf_append(&o->data, p, len);
            }
            o->offsets[i + 1] = (int64_t)o->data.len;
        } else if (k < nargs) {
            memcpy((uint8_t *)o->values + i * w,
                   (const uint8_t *)args[k].c->values + i * args[k].stride * w, w);
        } else {
            memset((uint8_t *)o->values + i * w, 0, w);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The tree walk                                                             */
/* ------------------------------------------------------------------------ */

static void pe_literal_column(const pipe_expr *e, sd_column *c) {
    sd_column_init(c, &e->type);
    sd_column_append_value(c, &e->value);
}

static sd_status pe_eval_column(const pipe_expr *e, const sd_batch *b, pe_vec *out, sd_error *err) {
    if (e->column < 0 || e->column >= b->ncols) {
        return sd_error_set(err, SD_ERR_ARG,
                            "expression uses column %d but the batch has %d columns", e->column,
                            b->ncols);
    }
    const sd_column *c = &b->cols[e->column];
    if (c->type->kind != e->type.kind || c->len < b->nrows) {
        const char *name = b->schema != NULL ? b->schema->children[e->column].name : "?";
        return sd_error_set(err, SD_ERR_ARG,
                            "column '%s' of the batch is %s with %zu rows; the expression was "
                            "checked for %s and %zu rows",
                            name, sd_type_kind_name(c->type->kind), c->len,
                            sd_type_kind_name(e->type.kind), b->nrows);
    }
    out->c = c;
    out->stride = 1;
    out->owned = false;
    return SD_OK;
}

/* Compute node `e` from its evaluated arguments into a new column. */
static void pe_apply(const pipe_expr *e, pe_vec *args, size_t n, pe_vec *out) {
    sd_column *o = pe_vec_new(out, &e->type, n);
    pe_vec *ptrs[64];
    int na = e->nargs < 64 ? e->nargs : 64;
    for (int k = 0; k < na; k++) ptrs[k] = &args[k];
    switch (e->op) {
        case PIPE_EXPR_NOT:
            pe_valid_from(o, ptrs, 1, n);
            for (size_t i = 0; i < n; i++) ((uint8_t *)o->values)[i] = !PE_AT(&args[0], uint8_t, i);
            break;
        case PIPE_EXPR_IS_NULL:
        case PIPE_EXPR_IS_NOT_NULL: {
            bool want = e->op == PIPE_EXPR_IS_NOT_NULL;
            for (size_t i = 0; i < n; i++) ((uint8_t *)o->values)[i] = pe_ok(&args[0], i) == want;
            break;
        }
        case PIPE_EXPR_NEG:
            pe_valid_from(o, ptrs, 1, n);
            pe_negate(&args[0], o, n);
            break;
        case PIPE_EXPR_AND:
        case PIPE_EXPR_OR:
            pe_logic(e->op == PIPE_EXPR_AND, &args[0], &args[1], o, n);
            break;
        case PIPE_EXPR_EQ:
        case PIPE_EXPR_NE:
        case PIPE_EXPR_LT:
        case PIPE_EXPR_LE:
        case PIPE_EXPR_GT:
        case PIPE_EXPR_GE:
            pe_valid_from(o, ptrs, 2, n);
            pe_compare(e->op, &args[0], &args[1], o, n);
            break;
        case PIPE_EXPR_ADD:
        case PIPE_EXPR_SUB:
        case PIPE_EXPR_MUL:
        case PIPE_EXPR_DIV:
        case PIPE_EXPR_MOD: {
            pe_valid_from(o, ptrs, 2, n);
            pe_arith(e->op, &args[0], &args[1], o, n);
            break;
        }
        case PIPE_EXPR_CAST:
            pe_valid_from(o, ptrs, 1, n);
            pe_cast(&args[0], o, n);
            break;
        case PIPE_EXPR_TO_DATE:
            pe_valid_from(o, ptrs, 1, n);
            pe_to_date(&args[0], o, n);
            break;
        case PIPE_EXPR_FROM_UNIXTIME:
        case PIPE_EXPR_TO_TIMESTAMP_MILLIS:
            pe_valid_from(o, ptrs, 1, n);
            pe_to_micros(&args[0], e->op == PIPE_EXPR_FROM_UNIXTIME ? 1000000 : 1000, o, n);
            break;
        case PIPE_EXPR_COALESCE:
            pe_coalesce(args, e->nargs, o, n);
            break;
        case PIPE_EXPR_LOWER:
        case PIPE_EXPR_UPPER:
            pe_valid_from(o, ptrs, 1, n);
            pe_case(&args[0], e->op == PIPE_EXPR_UPPER, o, n);
            break;
        case PIPE_EXPR_LENGTH:
            pe_valid_from(o, ptrs, 1, n);
            pe_length(&args[0], o, n);
            break;
        case PIPE_EXPR_ABS:
            pe_valid_from(o, ptrs, 1, n);
            pe_abs(&args[0], o, n);
            break;
        case PIPE_EXPR_FLOOR:
            pe_valid_from(o, ptrs, 1, n);
            pe_floor(&args[0], o, n);
            break;
        case PIPE_EXPR_ROUND:
            pe_valid_from(o, ptrs, 1, n);
            pe_round(&args[0], e->digits, o, n);
            break;
        default:
            break;
    }
    /* A kernel that may add nulls allocated validity up front; drop it
     * again when every row turned out valid (writers then see no nulls). */
    if (o->valid != NULL && memchr(o->valid, 0, n) == NULL) {
        free(o->valid);
        o->valid = NULL;
    }
}

static sd_status pe_eval(const pipe_expr *e, const sd_batch *b, pe_vec *out, sd_error *err) {
    memset(out, 0, sizeof(*out));
    if (e->op == PIPE_EXPR_LITERAL) {
        pe_literal_column(e, &out->own);
        out->c = &out->own;
        out->stride = 0;
        out->owned = true;
        return SD_OK;
    }
    if (e->op == PIPE_EXPR_COLUMN) return pe_eval_column(e, b, out, err);
    if (e->nargs > 64)
        return sd_error_set(err, SD_ERR_INTERNAL, "expression node with %d arguments", e->nargs);
    /* Arguments live on the heap beyond two: the walk recurses once per
     * tree level and a 64-slot array per frame would eat the stack. */
    pe_vec small[2];
    pe_vec *args = e->nargs <= 2 ? small : sd_xcalloc((size_t)e->nargs, sizeof(pe_vec));
    sd_status st = SD_OK;
    int done = 0;
    for (; done < e->nargs && st == SD_OK; done++) st = pe_eval(e->args[done], b, &args[done], err);
    if (st == SD_OK) {
        /* A node over literals only (left unfolded) yields one row, which
         * broadcasts like a literal. */
        bool all_scalar = true;
        for (int k = 0; k < e->nargs; k++) all_scalar = all_scalar && args[k].stride == 0;
        size_t n = all_scalar && e->nargs > 0 ? 1 : b->nrows;
        pe_apply(e, args, n, out);
        if (all_scalar && e->nargs > 0) out->stride = 0;
    }
    for (int k = 0; k < done; k++) pe_vec_free(&args[k]);
    if (args != small) free(args);
    return st;
}

/* Copy a borrowed or broadcast result into a column of its own. */
static void pe_materialize(const pe_vec *v, const sd_type *t, size_t n, sd_column *out) {
    sd_column_init(out, t);
    sd_column_reserve(out, n ? n : 1);
    out->len = n;
    size_t w = sd_type_width(t->kind);
    if (v->c->valid != NULL) {
        out->valid = sd_xmalloc(out->values_cap);
        for (size_t i = 0; i < n; i++) out->valid[i] = v->c->valid[i * v->stride];
    }
    if (w == 0) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p;
            size_t len;
            pe_get_bytes(v, i, &p, &len);
            sd_buf_append(&out->data, p, len);
            out->offsets[i + 1] = (int64_t)out->data.len;
        }
    } else if (v->stride == 1) {
        if (n) memcpy(out->values, v->c->values, n * w);
    } else {
        for (size_t i = 0; i < n; i++) memcpy((uint8_t *)out->values + i * w, v->c->values, w);
    }
}

sd_status pipe_expr_eval(const pipe_expr *e, const sd_batch *batch, sd_column *out, sd_error *err) {
    pe_vec v;
    memset(out, 0, sizeof(*out));
    sd_status st = pe_eval(e, batch, &v, err);
    if (st != SD_OK) return st;
    if (v.owned && v.stride == 1 && v.c->type == &e->type) {
        *out = v.own; /* hand over the buffers */
    } else {
        pe_materialize(&v, &e->type, batch->nrows, out);
        pe_vec_free(&v);
    }
    /* A column of only empty strings has no data buffer; give it one so
     * that readers computing data + offset never start from NULL. */
    if (e->type.kind == SD_STRING || e->type.kind == SD_BINARY) sd_buf_cstr(&out->data);
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Applying a configuration's derivations to a batch                         */
/* ------------------------------------------------------------------------ */

sd_status pipe_derive_apply(const pipe_derive_plan *plan, sd_batch *in, sd_batch *out,
                            sd_error *err) {
    memset(out, 0, sizeof(*out));
    if (in->ncols != plan->ninput)
        return sd_error_set(err, SD_ERR_ARG,
                            "derive: the batch has %d columns, the plan was compiled for %d",
                            in->ncols, plan->ninput);
    /* A view of the input columns (borrowed) followed by the derived ones,
     * so each expression can read the columns derived before it. */
    sd_batch ext;
    memset(&ext, 0, sizeof(ext));
    ext.schema = plan->extended;
    ext.nrows = in->nrows;
    ext.ncols = plan->ninput + plan->nderive;
    ext.cols = sd_xcalloc((size_t)(ext.ncols ? ext.ncols : 1), sizeof(sd_column));
    if (plan->ninput) memcpy(ext.cols, in->cols, (size_t)plan->ninput * sizeof(sd_column));
    int done = 0;
    sd_status st = SD_OK;
    for (; done < plan->nderive && st == SD_OK; done++)
        st = pipe_expr_eval(plan->exprs[done], &ext, &ext.cols[plan->ninput + done], err);
    if (st != SD_OK) {
        for (int k = 0; k < done; k++) sd_column_free(&ext.cols[plan->ninput + k]);
        free(ext.cols);
        return st;
    }
    sd_batch_init(out, plan->output);
    out->nrows = in->nrows;
    bool *moved = sd_xcalloc((size_t)(ext.ncols ? ext.ncols : 1), sizeof(bool));
    for (int i = 0; i < out->ncols; i++) {
        int src = plan->source[i];
        sd_column_free(&out->cols[i]);
        out->cols[i] = ext.cols[src];
        out->cols[i].type = &plan->output->children[i].type;
        moved[src] = true;
        /* The input keeps a fresh, empty column in the moved one's place. */
        if (src < plan->ninput) sd_column_init(&in->cols[src], ext.cols[src].type);
    }
    for (int k = 0; k < plan->nderive; k++)
        if (!moved[plan->ninput + k]) sd_column_free(&ext.cols[plan->ninput + k]);
    free(moved);
    free(ext.cols);
    sd_batch_reset(in);
    return SD_OK;
}
