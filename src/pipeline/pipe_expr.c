/*
 * pipe_expr.c - the derived-column expression language of the [derive]
 * configuration section: a recursive-descent parser that type-checks as it
 * builds, so every node of the returned tree already has its result type,
 * promotions are explicit CAST nodes and constant sub-expressions are folded
 * into literals (evaluated once here, not once per row in pipe_eval.c).
 *
 * The grammar, types and functions are documented in pipeline.h. Errors
 * name the expression and the byte offset of the token at fault.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

/* Parentheses, unary operators and function calls nest by recursion: cap
 * them so that hostile text cannot exhaust the stack. */
#define PE_MAX_NESTING 64
/* Evaluation and freeing recurse over the tree: a long chain `a+a+a...`
 * is a deep tree, so the node count is capped too. Real derivations have
 * a handful of nodes. */
#define PE_MAX_NODES 1000
/* Longest numeric literal we accept (digits, point, exponent). */
#define PE_MAX_NUMBER 64

typedef struct pe_parser {
    const char *text;
    size_t len;
    size_t pos;
    const sd_schema *schema;
    sd_error *err;
    int depth;
    int nodes;
    bool failed;
} pe_parser;

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* Record "expression '<text>', offset N: <message>" (first error only). */
__attribute__((format(printf, 3, 4))) static void pe_fail(pe_parser *p, size_t off, const char *fmt,
                                                          ...) {
    if (p->failed) return;
    p->failed = true;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Long expressions are cut so the message stays readable. */
    int shown = p->len > 200 ? 200 : (int)p->len;
    sd_error_set(p->err, SD_ERR_ARG, "expression '%.*s%s', offset %zu: %s", shown, p->text,
                 p->len > 200 ? "..." : "", off, msg);
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                     */
/* ------------------------------------------------------------------------ */

void pipe_expr_free(pipe_expr *e) {
    if (e == NULL) return;
    for (int i = 0; i < e->nargs; i++) pipe_expr_free(e->args[i]);
    free(e->args);
    if (e->op == PIPE_EXPR_LITERAL && e->value.owns) sd_value_clear(&e->value);
    free(e);
}

static pipe_expr *pe_node(pe_parser *p, pipe_expr_op op, sd_type_kind kind, size_t off, int nargs) {
    p->nodes++;
    pipe_expr *e = sd_xcalloc(1, sizeof(*e));
    e->op = op;
    e->type.kind = kind;
    e->offset = off;
    e->nargs = nargs;
    if (nargs > 0) e->args = sd_xcalloc((size_t)nargs, sizeof(pipe_expr *));
    return e;
}

static pipe_expr *pe_literal(pe_parser *p, sd_type_kind kind, size_t off) {
    pipe_expr *e = pe_node(p, PIPE_EXPR_LITERAL, kind, off, 0);
    e->value.kind = kind;
    return e;
}

static bool pe_is_integer(sd_type_kind k) {
    return k == SD_INT8 || k == SD_INT16 || k == SD_INT32 || k == SD_INT64;
}
static bool pe_is_numeric(sd_type_kind k) {
    return pe_is_integer(k) || k == SD_FLOAT || k == SD_DOUBLE || k == SD_DECIMAL;
}
static bool pe_is_time(sd_type_kind k) {
    return k == SD_DATE || k == SD_TIMESTAMP || k == SD_TIMESTAMP_NTZ;
}

/* The kind arithmetic runs in: byte/short act as int, decimal as double. */
static sd_type_kind pe_num_norm(sd_type_kind k) {
    if (k == SD_INT8 || k == SD_INT16) return SD_INT32;
    if (k == SD_DECIMAL) return SD_DOUBLE;
    return k;
}

/* Spark's numeric widening: int -> long -> float -> double. */
static sd_type_kind pe_num_common(sd_type_kind a, sd_type_kind b) {
    static const sd_type_kind order[] = {SD_INT32, SD_INT64, SD_FLOAT, SD_DOUBLE};
    a = pe_num_norm(a);
    b = pe_num_norm(b);
    int ra = 0, rb = 0;
    for (int i = 0; i < 4; i++) {
        if (order[i] == a) ra = i;
        if (order[i] == b) rb = i;
    }
    return order[ra > rb ? ra : rb];
}

/* The casts Spark allows (non-ANSI) among the kinds we evaluate. */
static bool pe_cast_ok(sd_type_kind from, sd_type_kind to) {
    if (from == to) return true;
    if (sd_type_is_nested(from)) return false;
    switch (to) {
        case SD_STRING:
            return true;
        case SD_BOOL:
            return pe_is_numeric(from) || from == SD_STRING;
        case SD_INT32:
        case SD_INT64:
        case SD_FLOAT:
        case SD_DOUBLE:
            return pe_is_numeric(from) || from == SD_BOOL || from == SD_STRING ||
                   from == SD_TIMESTAMP || from == SD_TIMESTAMP_NTZ;
        case SD_DATE:
            return from == SD_STRING || from == SD_TIMESTAMP || from == SD_TIMESTAMP_NTZ;
        case SD_TIMESTAMP:
            return pe_is_numeric(from) || from == SD_STRING || from == SD_DATE ||
                   from == SD_TIMESTAMP_NTZ;
        default:
            return false;
    }
}

static const char *pe_kind_name(sd_type_kind k) {
    return sd_type_kind_name(k);
}

/* Evaluate a node whose arguments are all literals once, and replace it by
 * the literal result. Nodes that cannot be folded are returned unchanged. */
static pipe_expr *pe_fold(pe_parser *p, pipe_expr *e) {
    if (e->op == PIPE_EXPR_LITERAL || e->op == PIPE_EXPR_COLUMN) return e;
    for (int i = 0; i < e->nargs; i++)
        if (e->args[i]->op != PIPE_EXPR_LITERAL) return e;
    sd_batch one;
    memset(&one, 0, sizeof(one));
    one.nrows = 1;
    sd_column col;
    sd_error ferr = {0};
    if (pipe_expr_eval(e, &one, &col, &ferr) != SD_OK) return e;
    pipe_expr *lit = pe_literal(p, e->type.kind, e->offset);
    lit->type = e->type; /* primitive: no children to copy */
    sd_value v = sd_column_get(&col, 0);
    sd_value_copy(&lit->value, &v);
    sd_column_free(&col);
    pipe_expr_free(e);
    return lit;
}

/* Convert `e` to `kind`: a NULL literal just takes the type; otherwise a
 * CAST node (folded when e is a literal). NULL with an error when Spark
 * has no such cast. */
static pipe_expr *pe_coerce(pe_parser *p, pipe_expr *e, sd_type_kind kind) {
    if (e->untyped_null) {
        e->untyped_null = false;
        e->type.kind = kind;
        e->value.kind = kind;
        return e;
    }
    if (e->type.kind == kind) return e;
    if (!pe_cast_ok(e->type.kind, kind)) {
        pe_fail(p, e->offset, "cannot convert %s to %s", pe_kind_name(e->type.kind),
                pe_kind_name(kind));
        pipe_expr_free(e);
        return NULL;
    }
    pipe_expr *c = pe_node(p, PIPE_EXPR_CAST, kind, e->offset, 1);
    c->args[0] = e;
    return pe_fold(p, c);
}

/* ------------------------------------------------------------------------ */
/* Type rules of the operators                                               */
/* ------------------------------------------------------------------------ */

/* Both operands to one comparable kind; false (error set) when none. */
static bool pe_unify_compare(pe_parser *p, pipe_expr **a, pipe_expr **b, size_t off,
                             const char *opname) {
    if ((*a)->untyped_null && (*b)->untyped_null) {
        *a = pe_coerce(p, *a, SD_INT32);
        *b = pe_coerce(p, *b, SD_INT32);
        return true;
    }
    if ((*a)->untyped_null) *a = pe_coerce(p, *a, (*b)->type.kind);
    if ((*b)->untyped_null) *b = pe_coerce(p, *b, (*a)->type.kind);
    sd_type_kind ka = (*a)->type.kind, kb = (*b)->type.kind, to;
    if (pe_is_numeric(ka) && pe_is_numeric(kb)) {
        to = pe_num_common(ka, kb);
    } else if (ka == kb &&
               (ka == SD_STRING || ka == SD_BINARY || ka == SD_BOOL || pe_is_time(ka))) {
        return true;
    } else if (pe_is_time(ka) && pe_is_time(kb)) {
        to = SD_TIMESTAMP;
    } else if (pe_is_time(ka) && kb == SD_STRING) {
        to = ka; /* rating_date >= '2024-01-01' */
    } else if (ka == SD_STRING && pe_is_time(kb)) {
        to = kb;
    } else {
        pe_fail(p, off, "cannot compare %s with %s using '%s'", pe_kind_name(ka), pe_kind_name(kb),
                opname);
        return false;
    }
    *a = pe_coerce(p, *a, to);
    if (*a == NULL) return false;
    *b = pe_coerce(p, *b, to);
    return *b != NULL;
}

static pipe_expr *pe_make_binary(pe_parser *p, pipe_expr_op op, sd_type_kind kind, size_t off,
                                 pipe_expr *a, pipe_expr *b) {
    if (a == NULL || b == NULL) { /* a conversion failed; the error is recorded */
        pipe_expr_free(a);
        pipe_expr_free(b);
        return NULL;
    }
    pipe_expr *e = pe_node(p, op, kind, off, 2);
    e->args[0] = a;
    e->args[1] = b;
    return pe_fold(p, e);
}

static pipe_expr *pe_make_compare(pe_parser *p, pipe_expr_op op, const char *opname, size_t off,
                                  pipe_expr *a, pipe_expr *b) {
    if (!pe_unify_compare(p, &a, &b, off, opname)) {
        pipe_expr_free(a);
        pipe_expr_free(b);
        return NULL;
    }
    return pe_make_binary(p, op, SD_BOOL, off, a, b);
}

static pipe_expr *pe_make_arith(pe_parser *p, pipe_expr_op op, const char *opname, size_t off,
                                pipe_expr *a, pipe_expr *b) {
    if (a->untyped_null && b->untyped_null) {
        a = pe_coerce(p, a, SD_INT32);
        b = pe_coerce(p, b, SD_INT32);
    }
    if (a->untyped_null) a = pe_coerce(p, a, b->type.kind == SD_DATE ? SD_INT32 : b->type.kind);
    if (b->untyped_null) b = pe_coerce(p, b, a->type.kind == SD_DATE ? SD_INT32 : a->type.kind);
    sd_type_kind ka = a->type.kind, kb = b->type.kind;
    /* date + n, n + date, date - n: days, as Spark's date_add/date_sub */
    bool date_l =
        ka == SD_DATE && pe_is_integer(kb) && (op == PIPE_EXPR_ADD || op == PIPE_EXPR_SUB);
    bool date_r = kb == SD_DATE && pe_is_integer(ka) && op == PIPE_EXPR_ADD;
    if (date_l || date_r) {
        if (date_l)
            b = pe_coerce(p, b, SD_INT32);
        else
            a = pe_coerce(p, a, SD_INT32);
        return pe_make_binary(p, op, SD_DATE, off, a, b);
    }
    if (!pe_is_numeric(ka) || !pe_is_numeric(kb)) {
        pe_fail(p, off, "operator '%s' needs numbers, got %s and %s", opname, pe_kind_name(ka),
                pe_kind_name(kb));
        pipe_expr_free(a);
        pipe_expr_free(b);
        return NULL;
    }
    sd_type_kind to = op == PIPE_EXPR_DIV ? SD_DOUBLE : pe_num_common(ka, kb);
    a = pe_coerce(p, a, to);
    b = pe_coerce(p, b, to);
    return pe_make_binary(p, op, to, off, a, b);
}

static pipe_expr *pe_make_logic(pe_parser *p, pipe_expr_op op, const char *opname, size_t off,
                                pipe_expr *a, pipe_expr *b) {
    pipe_expr *side[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        if (side[i]->untyped_null) side[i] = pe_coerce(p, side[i], SD_BOOL);
        if (side[i]->type.kind != SD_BOOL) {
            pe_fail(p, side[i]->offset, "%s needs boolean operands, got %s", opname,
                    pe_kind_name(side[i]->type.kind));
            pipe_expr_free(side[0]);
            pipe_expr_free(side[1]);
            return NULL;
        }
    }
    return pe_make_binary(p, op, SD_BOOL, off, side[0], side[1]);
}

static pipe_expr *pe_make_unary(pe_parser *p, pipe_expr_op op, sd_type_kind kind, size_t off,
                                pipe_expr *a) {
    if (a == NULL) return NULL;
    pipe_expr *e = pe_node(p, op, kind, off, 1);
    e->args[0] = a;
    return pe_fold(p, e);
}

/* ------------------------------------------------------------------------ */
/* Lexing                                                                    */
/* ------------------------------------------------------------------------ */

static bool pe_ident_start(char c) {
    return isalpha((unsigned char)c) || c == '_';
}
static bool pe_ident_char(char c) {
    return isalnum((unsigned char)c) || c == '_';
}

static void pe_skip_ws(pe_parser *p) {
    while (p->pos < p->len && isspace((unsigned char)p->text[p->pos])) p->pos++;
}

/* Length of the bare word at the current position (0 when none). */
static size_t pe_word_len(const pe_parser *p, size_t at) {
    size_t n = 0;
    if (at < p->len && pe_ident_start(p->text[at]))
        while (at + n < p->len && pe_ident_char(p->text[at + n])) n++;
    return n;
}

/* Consume keyword `kw` (case-insensitive, whole word) when it is next. */
static bool pe_keyword(pe_parser *p, const char *kw) {
    pe_skip_ws(p);
    size_t n = pe_word_len(p, p->pos);
    if (n != strlen(kw) || strncasecmp(p->text + p->pos, kw, n) != 0) return false;
    p->pos += n;
    return true;
}

/* Consume punctuation `s` when it is next. */
static bool pe_punct(pe_parser *p, const char *s) {
    pe_skip_ws(p);
    size_t n = strlen(s);
    if (p->pos + n > p->len || memcmp(p->text + p->pos, s, n) != 0) return false;
    p->pos += n;
    return true;
}

/* Describe the token at `at` for messages: a word, a character, or "end". */
static void pe_describe(const pe_parser *p, size_t at, char *out, size_t cap) {
    if (at >= p->len) {
        snprintf(out, cap, "end of expression");
        return;
    }
    size_t n = pe_word_len(p, at);
    unsigned char c = (unsigned char)p->text[at];
    if (n > 0)
        snprintf(out, cap, "'%.*s'", (int)(n > 30 ? 30 : n), p->text + at);
    else if (c >= 0x20 && c < 0x7f)
        snprintf(out, cap, "'%c'", c);
    else
        snprintf(out, cap, "byte 0x%02x", c);
}

static void pe_fail_expected(pe_parser *p, const char *what) {
    pe_skip_ws(p);
    char tok[64];
    pe_describe(p, p->pos, tok, sizeof(tok));
    pe_fail(p, p->pos, "expected %s, found %s", what, tok);
}

/* Read a quoted run ('...' or `...`) with the quote doubled as escape into
 * a fresh string. The opening quote is at p->pos. */
static char *pe_read_quoted(pe_parser *p, char quote, size_t *len) {
    size_t start = p->pos++;
    sd_buf b = SD_BUF_INIT;
    for (;;) {
        if (p->pos >= p->len) {
            pe_fail(p, start, "unterminated %s", quote == '\'' ? "string literal" : "quoted name");
            sd_buf_free(&b);
            return NULL;
        }
        char c = p->text[p->pos++];
        if (c == quote) {
            if (p->pos < p->len && p->text[p->pos] == quote)
                p->pos++;
            else
                break;
        }
        sd_buf_append_byte(&b, (uint8_t)c);
    }
    *len = b.len;
    sd_buf_cstr(&b);
    return (char *)b.data;
}

/* ------------------------------------------------------------------------ */
/* Literals                                                                  */
/* ------------------------------------------------------------------------ */

/* A numeric literal at p->pos; `negative` when a unary minus preceded it
 * (so that -9223372036854775808 is a long, as in Spark). */
static pipe_expr *pe_parse_number(pe_parser *p, size_t off, bool negative) {
    size_t start = p->pos, i = p->pos;
    bool is_double = false;
    while (i < p->len && isdigit((unsigned char)p->text[i])) i++;
    if (i < p->len && p->text[i] == '.') {
        is_double = true;
        i++;
        while (i < p->len && isdigit((unsigned char)p->text[i])) i++;
    }
    if (i < p->len && (p->text[i] == 'e' || p->text[i] == 'E')) {
        size_t j = i + 1;
        if (j < p->len && (p->text[j] == '+' || p->text[j] == '-')) j++;
        if (j < p->len && isdigit((unsigned char)p->text[j])) {
            is_double = true;
            i = j;
            while (i < p->len && isdigit((unsigned char)p->text[i])) i++;
        }
    }
    size_t n = i - start;
    if (i < p->len && pe_ident_char(p->text[i])) {
        size_t end = i;
        while (end < p->len && pe_ident_char(p->text[end])) end++;
        pe_fail(p, start, "bad literal '%.*s'", (int)(end - start > 40 ? 40 : end - start),
                p->text + start);
        return NULL;
    }
    if (n > PE_MAX_NUMBER) {
        pe_fail(p, start, "bad literal: number longer than %d characters", PE_MAX_NUMBER);
        return NULL;
    }
    char buf[PE_MAX_NUMBER + 2];
    buf[0] = '-';
    memcpy(buf + 1, p->text + start, n);
    buf[n + 1] = '\0';
    const char *num = negative ? buf : buf + 1;
    p->pos = i;
    if (is_double) {
        errno = 0;
        double d = strtod(num, NULL);
        if (errno == ERANGE && isinf(d)) {
            pe_fail(p, start, "bad literal '%s': out of the range of double", num);
            return NULL;
        }
        pipe_expr *e = pe_literal(p, SD_DOUBLE, off);
        e->value.u.d = d;
        return e;
    }
    errno = 0;
    long long v = strtoll(num, NULL, 10);
    if (errno == ERANGE) {
        pe_fail(p, start, "bad literal '%s': integer out of the range of long", num);
        return NULL;
    }
    bool fits32 = v >= INT32_MIN && v <= INT32_MAX;
    pipe_expr *e = pe_literal(p, fits32 ? SD_INT32 : SD_INT64, off);
    e->value.u.i = v;
    return e;
}

static pipe_expr *pe_string_literal(pe_parser *p, sd_type_kind kind, size_t off) {
    size_t n = 0;
    size_t at = p->pos;
    char *s = pe_read_quoted(p, '\'', &n);
    if (s == NULL) return NULL;
    pipe_expr *e = NULL;
    if (kind == SD_STRING) {
        e = pe_literal(p, SD_STRING, off);
        e->value.u.s.ptr = (const uint8_t *)s;
        e->value.u.s.len = n;
        e->value.owns = true;
        return e;
    }
    int32_t days;
    int64_t micros;
    if (kind == SD_DATE && sd_parse_date(s, n, &days)) {
        e = pe_literal(p, SD_DATE, off);
        e->value.u.i = days;
    } else if (kind == SD_TIMESTAMP && sd_parse_timestamp(s, n, &micros)) {
        e = pe_literal(p, SD_TIMESTAMP, off);
        e->value.u.i = micros;
    } else {
        pe_fail(p, at, "bad literal: %s '%.*s' is not %s", kind == SD_DATE ? "DATE" : "TIMESTAMP",
                (int)(n > 40 ? 40 : n), s,
                kind == SD_DATE ? "YYYY-MM-DD" : "YYYY-MM-DD HH:MM:SS[.ffffff]");
    }
    free(s);
    return e;
}

/* ------------------------------------------------------------------------ */
/* Names and functions                                                       */
/* ------------------------------------------------------------------------ */

static pipe_expr *pe_column(pe_parser *p, const char *name, size_t n, size_t off) {
    const sd_schema *s = p->schema;
    int found = -1, matches = 0;
    for (int i = 0; s != NULL && i < s->nchildren; i++) {
        const char *f = s->children[i].name;
        if (strlen(f) == n && memcmp(f, name, n) == 0) {
            found = i;
            matches = 1;
            break;
        }
        if (strlen(f) == n && strncasecmp(f, name, n) == 0) {
            found = i;
            matches++;
        }
    }
    if (matches == 0) {
        sd_buf cols = SD_BUF_INIT;
        for (int i = 0; s != NULL && i < s->nchildren; i++)
            sd_buf_appendf(&cols, "%s%s", i ? ", " : "", s->children[i].name);
        pe_fail(p, off, "unknown column '%.*s' (columns: %s)", (int)(n > 100 ? 100 : n), name,
                cols.len ? sd_buf_cstr(&cols) : "none");
        sd_buf_free(&cols);
        return NULL;
    }
    if (matches > 1) {
        pe_fail(p, off,
                "ambiguous column '%.*s': several columns differ only in case; use the exact "
                "name",
                (int)(n > 100 ? 100 : n), name);
        return NULL;
    }
    const sd_field *f = &s->children[found];
    if (sd_type_is_nested(f->type.kind)) {
        pe_fail(p, off, "column '%s' is a %s; only primitive columns can be used", f->name,
                pe_kind_name(f->type.kind));
        return NULL;
    }
    pipe_expr *e = pe_node(p, PIPE_EXPR_COLUMN, f->type.kind, off, 0);
    e->type.precision = f->type.precision;
    e->type.scale = f->type.scale;
    e->column = found;
    return e;
}

typedef struct pe_func {
    const char *name;
    pipe_expr_op op;
    int min_args, max_args;
} pe_func;

static const pe_func pe_funcs[] = {
    {"to_date", PIPE_EXPR_TO_DATE, 1, 1},
    {"from_unixtime", PIPE_EXPR_FROM_UNIXTIME, 1, 1},
    {"to_timestamp_millis", PIPE_EXPR_TO_TIMESTAMP_MILLIS, 1, 1},
    {"coalesce", PIPE_EXPR_COALESCE, 1, 64},
    {"lower", PIPE_EXPR_LOWER, 1, 1},
    {"upper", PIPE_EXPR_UPPER, 1, 1},
    {"length", PIPE_EXPR_LENGTH, 1, 1},
    {"abs", PIPE_EXPR_ABS, 1, 1},
    {"floor", PIPE_EXPR_FLOOR, 1, 1},
    {"round", PIPE_EXPR_ROUND, 1, 2},
};

static const struct {
    const char *name;
    sd_type_kind kind;
} pe_type_names[] = {
    {"int", SD_INT32},   {"integer", SD_INT32},       {"long", SD_INT64},    {"bigint", SD_INT64},
    {"float", SD_FLOAT}, {"real", SD_FLOAT},          {"double", SD_DOUBLE}, {"string", SD_STRING},
    {"date", SD_DATE},   {"timestamp", SD_TIMESTAMP}, {"boolean", SD_BOOL},  {"bool", SD_BOOL},
};

/* The argument rule of a one-argument function: the kind its argument is
 * converted to, or SD_STRUCT when the argument's kind is not accepted. */
static sd_type_kind pe_func_arg_kind(pipe_expr_op op, sd_type_kind k, bool untyped) {
    switch (op) {
        case PIPE_EXPR_TO_DATE:
            if (untyped || pe_is_integer(k)) return SD_INT64;
            if (pe_is_numeric(k)) return SD_DOUBLE;
            return pe_is_time(k) || k == SD_STRING ? k : SD_STRUCT;
        case PIPE_EXPR_FROM_UNIXTIME:
            if (untyped || pe_is_integer(k)) return SD_INT64;
            return pe_is_numeric(k) ? SD_DOUBLE : SD_STRUCT;
        case PIPE_EXPR_TO_TIMESTAMP_MILLIS:
            return untyped || pe_is_integer(k) ? SD_INT64 : SD_STRUCT;
        case PIPE_EXPR_LOWER:
        case PIPE_EXPR_UPPER:
            return untyped || k == SD_STRING ? SD_STRING : SD_STRUCT;
        case PIPE_EXPR_LENGTH:
            if (untyped) return SD_STRING;
            return k == SD_STRING || k == SD_BINARY ? k : SD_STRUCT;
        case PIPE_EXPR_ABS:
        case PIPE_EXPR_ROUND:
            if (untyped) return SD_INT32;
            return pe_is_numeric(k) ? pe_num_norm(k) : SD_STRUCT;
        case PIPE_EXPR_FLOOR:
            if (untyped || pe_is_integer(k)) return SD_INT64;
            return pe_is_numeric(k) ? SD_DOUBLE : SD_STRUCT;
        default:
            return SD_STRUCT;
    }
}

static sd_type_kind pe_func_result(pipe_expr_op op, sd_type_kind arg) {
    switch (op) {
        case PIPE_EXPR_TO_DATE:
            return SD_DATE;
        case PIPE_EXPR_FROM_UNIXTIME:
        case PIPE_EXPR_TO_TIMESTAMP_MILLIS:
            return SD_TIMESTAMP;
        case PIPE_EXPR_LENGTH:
            return SD_INT32;
        case PIPE_EXPR_FLOOR:
            return SD_INT64;
        default:
            return arg;
    }
}

/* coalesce: all arguments to one kind (numbers widen, dates meet
 * timestamps); all NULL gives an untyped NULL. */
static pipe_expr *pe_make_coalesce(pe_parser *p, size_t off, pipe_expr **args, int n) {
    bool have = false;
    sd_type_kind to = SD_STRUCT;
    for (int i = 0; i < n && !p->failed; i++) {
        sd_type_kind k = args[i]->type.kind;
        if (args[i]->untyped_null) continue;
        if (!have)
            to = pe_is_numeric(k) ? pe_num_norm(k) : k;
        else if (pe_is_numeric(to) && pe_is_numeric(k))
            to = pe_num_common(to, k);
        else if (pe_is_time(to) && pe_is_time(k) && to != k)
            to = SD_TIMESTAMP;
        else if (to != k)
            pe_fail(p, args[i]->offset, "coalesce arguments must have one type, got %s and %s",
                    pe_kind_name(to), pe_kind_name(k));
        have = true;
    }
    if (!p->failed && !have) {
        for (int i = 1; i < n; i++) pipe_expr_free(args[i]);
        return args[0]; /* coalesce(null, null) is null */
    }
    for (int i = 0; i < n && !p->failed; i++) {
        args[i] = pe_coerce(p, args[i], to);
    }
    if (p->failed) {
        for (int i = 0; i < n; i++) pipe_expr_free(args[i]);
        return NULL;
    }
    pipe_expr *e = pe_node(p, PIPE_EXPR_COALESCE, to, off, n);
    memcpy(e->args, args, (size_t)n * sizeof(*args));
    return pe_fold(p, e);
}

static pipe_expr *pe_make_call(pe_parser *p, const pe_func *f, size_t off, pipe_expr **args,
                               int n) {
    if (f->op == PIPE_EXPR_COALESCE) return pe_make_coalesce(p, off, args, n);
    int digits = 0;
    if (f->op == PIPE_EXPR_ROUND && n == 2) {
        pipe_expr *d = args[1];
        if (d->op != PIPE_EXPR_LITERAL || d->untyped_null || d->value.is_null ||
            !pe_is_integer(d->type.kind) || d->value.u.i < -1000 || d->value.u.i > 1000) {
            pe_fail(p, d->offset, "round digits must be an integer literal between -1000 and 1000");
            pipe_expr_free(args[0]);
            pipe_expr_free(args[1]);
            return NULL;
        }
        digits = (int)d->value.u.i;
        pipe_expr_free(d);
    }
    pipe_expr *a = args[0];
    sd_type_kind want = pe_func_arg_kind(f->op, a->type.kind, a->untyped_null);
    if (want == SD_STRUCT) {
        pe_fail(p, a->offset, "%s does not accept %s", f->name, pe_kind_name(a->type.kind));
        pipe_expr_free(a);
        return NULL;
    }
    a = pe_coerce(p, a, want);
    if (a == NULL) return NULL;
    pipe_expr *e = pe_node(p, f->op, pe_func_result(f->op, want), off, 1);
    e->args[0] = a;
    e->digits = digits;
    return pe_fold(p, e);
}

/* ------------------------------------------------------------------------ */
/* Recursive descent                                                         */
/* ------------------------------------------------------------------------ */

static pipe_expr *pe_parse_or(pe_parser *p);

static bool pe_enter(pe_parser *p) {
    if (++p->depth > PE_MAX_NESTING) {
        pe_fail(p, p->pos, "nesting deeper than %d", PE_MAX_NESTING);
        return false;
    }
    if (p->nodes > PE_MAX_NODES) {
        pe_fail(p, p->pos, "expression has more than %d parts", PE_MAX_NODES);
        return false;
    }
    return true;
}

static pipe_expr *pe_parse_cast(pe_parser *p, size_t off) {
    pipe_expr *a = pe_parse_or(p);
    if (a == NULL) return NULL;
    if (!pe_keyword(p, "as")) {
        pe_fail_expected(p, "AS");
        pipe_expr_free(a);
        return NULL;
    }
    pe_skip_ws(p);
    size_t at = p->pos, n = pe_word_len(p, at);
    sd_type_kind to = SD_STRUCT;
    for (size_t i = 0; i < sizeof(pe_type_names) / sizeof(pe_type_names[0]); i++)
        if (n == strlen(pe_type_names[i].name) &&
            strncasecmp(p->text + at, pe_type_names[i].name, n) == 0)
            to = pe_type_names[i].kind;
    if (to == SD_STRUCT) {
        pe_fail_expected(p, "a type (int, long, float, double, string, date, timestamp, boolean)");
        pipe_expr_free(a);
        return NULL;
    }
    p->pos += n;
    if (!pe_punct(p, ")")) {
        pe_fail_expected(p, "')'");
        pipe_expr_free(a);
        return NULL;
    }
    if (a->untyped_null || a->type.kind == to) return pe_coerce(p, a, to);
    if (!pe_cast_ok(a->type.kind, to)) {
        pe_fail(p, off, "cannot cast %s to %s", pe_kind_name(a->type.kind), pe_kind_name(to));
        pipe_expr_free(a);
        return NULL;
    }
    return pe_make_unary(p, PIPE_EXPR_CAST, to, off, a);
}

/* name ( args ) with p->pos after the '('. */
static pipe_expr *pe_parse_call(pe_parser *p, const char *name, size_t n, size_t off) {
    if (n == 4 && strncasecmp(name, "cast", 4) == 0) return pe_parse_cast(p, off);
    const pe_func *f = NULL;
    for (size_t i = 0; i < sizeof(pe_funcs) / sizeof(pe_funcs[0]); i++)
        if (n == strlen(pe_funcs[i].name) && strncasecmp(name, pe_funcs[i].name, n) == 0)
            f = &pe_funcs[i];
    if (f == NULL) {
        pe_fail(p, off, "unknown function '%.*s'", (int)(n > 60 ? 60 : n), name);
        return NULL;
    }
    pipe_expr *args[64];
    int nargs = 0;
    if (!pe_punct(p, ")")) {
        do {
            if (nargs == f->max_args) {
                pe_skip_ws(p);
                pe_fail(p, p->pos, "%s takes at most %d argument%s", f->name, f->max_args,
                        f->max_args == 1 ? "" : "s");
                break;
            }
            pipe_expr *a = pe_parse_or(p);
            if (a == NULL) break;
            args[nargs++] = a;
        } while (pe_punct(p, ","));
        if (!p->failed && !pe_punct(p, ")")) pe_fail_expected(p, "',' or ')'");
    }
    if (!p->failed && nargs < f->min_args)
        pe_fail(p, off, "%s needs %d argument%s, got %d", f->name, f->min_args,
                f->min_args == 1 ? "" : "s", nargs);
    if (p->failed) {
        for (int i = 0; i < nargs; i++) pipe_expr_free(args[i]);
        return NULL;
    }
    return pe_make_call(p, f, off, args, nargs);
}

static pipe_expr *pe_parse_word(pe_parser *p) {
    size_t off = p->pos, n = pe_word_len(p, off);
    const char *w = p->text + off;
    p->pos += n;
    if (n == 4 && strncasecmp(w, "true", 4) == 0) {
        pipe_expr *e = pe_literal(p, SD_BOOL, off);
        e->value.u.b = true;
        return e;
    }
    if (n == 5 && strncasecmp(w, "false", 5) == 0) return pe_literal(p, SD_BOOL, off);
    if (n == 4 && strncasecmp(w, "null", 4) == 0) {
        pipe_expr *e = pe_literal(p, SD_INT32, off);
        e->value.is_null = true;
        e->untyped_null = true;
        return e;
    }
    pe_skip_ws(p);
    bool quote_next = p->pos < p->len && p->text[p->pos] == '\'';
    if (quote_next && n == 4 && strncasecmp(w, "date", 4) == 0)
        return pe_string_literal(p, SD_DATE, off);
    if (quote_next && n == 9 && strncasecmp(w, "timestamp", 9) == 0)
        return pe_string_literal(p, SD_TIMESTAMP, off);
    if (pe_punct(p, "(")) return pe_parse_call(p, w, n, off);
    static const char *reserved[] = {"and", "or", "not", "is", "as", "cast"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (n == strlen(reserved[i]) && strncasecmp(w, reserved[i], n) == 0) {
            pe_fail(p, off,
                    "expected an expression, found keyword '%.*s' (quote a column of that "
                    "name with backquotes)",
                    (int)n, w);
            return NULL;
        }
    return pe_column(p, w, n, off);
}

static pipe_expr *pe_parse_primary(pe_parser *p) {
    pe_skip_ws(p);
    size_t off = p->pos;
    if (off >= p->len) {
        pe_fail_expected(p, "an expression");
        return NULL;
    }
    char c = p->text[off];
    if (isdigit((unsigned char)c) ||
        (c == '.' && off + 1 < p->len && isdigit((unsigned char)p->text[off + 1])))
        return pe_parse_number(p, off, false);
    if (c == '\'') return pe_string_literal(p, SD_STRING, off);
    if (c == '`') {
        size_t n = 0;
        char *name = pe_read_quoted(p, '`', &n);
        if (name == NULL) return NULL;
        pipe_expr *e = pe_column(p, name, n, off);
        free(name);
        return e;
    }
    if (pe_ident_start(c)) return pe_parse_word(p);
    if (c == '(') {
        p->pos++;
        pipe_expr *e = pe_parse_or(p);
        if (e != NULL && !pe_punct(p, ")")) {
            pe_fail_expected(p, "')'");
            pipe_expr_free(e);
            return NULL;
        }
        return e;
    }
    pe_fail_expected(p, "an expression");
    return NULL;
}

static pipe_expr *pe_parse_unary(pe_parser *p) {
    if (!pe_enter(p)) return NULL;
    pipe_expr *e;
    pe_skip_ws(p);
    size_t off = p->pos;
    if (pe_punct(p, "-")) {
        pe_skip_ws(p);
        if (p->pos < p->len && isdigit((unsigned char)p->text[p->pos])) {
            e = pe_parse_number(p, off, true);
        } else {
            pipe_expr *a = pe_parse_unary(p);
            e = NULL;
            if (a != NULL && a->untyped_null) a = pe_coerce(p, a, SD_INT32);
            if (a != NULL && !pe_is_numeric(a->type.kind)) {
                pe_fail(p, off, "unary '-' needs a number, got %s", pe_kind_name(a->type.kind));
                pipe_expr_free(a);
            } else if (a != NULL) {
                a = pe_coerce(p, a, pe_num_norm(a->type.kind));
                if (a != NULL) e = pe_make_unary(p, PIPE_EXPR_NEG, a->type.kind, off, a);
            }
        }
    } else if (pe_punct(p, "+")) {
        e = pe_parse_unary(p);
        if (e != NULL && !e->untyped_null && !pe_is_numeric(e->type.kind)) {
            pe_fail(p, off, "unary '+' needs a number, got %s", pe_kind_name(e->type.kind));
            pipe_expr_free(e);
            e = NULL;
        }
    } else {
        e = pe_parse_primary(p);
    }
    p->depth--;
    return e;
}

static pipe_expr *pe_parse_mul(pe_parser *p) {
    pipe_expr *e = pe_parse_unary(p);
    while (e != NULL) {
        pe_skip_ws(p);
        size_t off = p->pos;
        pipe_expr_op op;
        const char *name;
        if (pe_punct(p, "*"))
            op = PIPE_EXPR_MUL, name = "*";
        else if (pe_punct(p, "/"))
            op = PIPE_EXPR_DIV, name = "/";
        else if (pe_punct(p, "%"))
            op = PIPE_EXPR_MOD, name = "%";
        else
            break;
        pipe_expr *r = pe_parse_unary(p);
        if (r == NULL) {
            pipe_expr_free(e);
            return NULL;
        }
        e = pe_make_arith(p, op, name, off, e, r);
    }
    return e;
}

static pipe_expr *pe_parse_add(pe_parser *p) {
    pipe_expr *e = pe_parse_mul(p);
    while (e != NULL) {
        pe_skip_ws(p);
        size_t off = p->pos;
        pipe_expr_op op;
        const char *name;
        if (pe_punct(p, "+"))
            op = PIPE_EXPR_ADD, name = "+";
        else if (pe_punct(p, "-"))
            op = PIPE_EXPR_SUB, name = "-";
        else
            break;
        pipe_expr *r = pe_parse_mul(p);
        if (r == NULL) {
            pipe_expr_free(e);
            return NULL;
        }
        e = pe_make_arith(p, op, name, off, e, r);
    }
    return e;
}

static pipe_expr *pe_parse_cmp(pe_parser *p) {
    /* Longest operators first so "<=" is not read as "<". */
    static const struct {
        const char *text;
        pipe_expr_op op;
    } ops[] = {{"==", PIPE_EXPR_EQ}, {"!=", PIPE_EXPR_NE}, {"<>", PIPE_EXPR_NE},
               {"<=", PIPE_EXPR_LE}, {">=", PIPE_EXPR_GE}, {"=", PIPE_EXPR_EQ},
               {"<", PIPE_EXPR_LT},  {">", PIPE_EXPR_GT}};
    pipe_expr *e = pe_parse_add(p);
    while (e != NULL) {
        pe_skip_ws(p);
        size_t off = p->pos;
        if (pe_keyword(p, "is")) {
            bool negate = pe_keyword(p, "not");
            if (!pe_keyword(p, "null")) {
                pe_fail_expected(p, negate ? "NULL after IS NOT" : "NULL or NOT NULL after IS");
                pipe_expr_free(e);
                return NULL;
            }
            if (e->untyped_null) e = pe_coerce(p, e, SD_BOOL);
            e = pe_make_unary(p, negate ? PIPE_EXPR_IS_NOT_NULL : PIPE_EXPR_IS_NULL, SD_BOOL, off,
                              e);
            continue;
        }
        size_t k = 0;
        while (k < sizeof(ops) / sizeof(ops[0]) && !pe_punct(p, ops[k].text)) k++;
        if (k == sizeof(ops) / sizeof(ops[0])) break;
        pipe_expr *r = pe_parse_add(p);
        if (r == NULL) {
            pipe_expr_free(e);
            return NULL;
        }
        e = pe_make_compare(p, ops[k].op, ops[k].text, off, e, r);
    }
    return e;
}

static pipe_expr *pe_parse_not(pe_parser *p) {
    if (!pe_enter(p)) return NULL;
    pe_skip_ws(p);
    size_t off = p->pos;
    pipe_expr *e;
    if (pe_keyword(p, "not")) {
        e = pe_parse_not(p);
        if (e != NULL && e->untyped_null) e = pe_coerce(p, e, SD_BOOL);
        if (e != NULL && e->type.kind != SD_BOOL) {
            pe_fail(p, e->offset, "NOT needs a boolean, got %s", pe_kind_name(e->type.kind));
            pipe_expr_free(e);
            e = NULL;
        }
        if (e != NULL) e = pe_make_unary(p, PIPE_EXPR_NOT, SD_BOOL, off, e);
    } else {
        e = pe_parse_cmp(p);
    }
    p->depth--;
    return e;
}

static pipe_expr *pe_parse_and(pe_parser *p) {
    pipe_expr *e = pe_parse_not(p);
    while (e != NULL) {
        pe_skip_ws(p);
        size_t off = p->pos;
        if (!pe_keyword(p, "and")) break;
        pipe_expr *r = pe_parse_not(p);
        if (r == NULL) {
            pipe_expr_free(e);
            return NULL;
        }
        e = pe_make_logic(p, PIPE_EXPR_AND, "AND", off, e, r);
    }
    return e;
}

static pipe_expr *pe_parse_or(pe_parser *p) {
    if (!pe_enter(p)) return NULL;
    pipe_expr *e = pe_parse_and(p);
    while (e != NULL) {
        pe_skip_ws(p);
        size_t off = p->pos;
        if (!pe_keyword(p, "or")) break;
        pipe_expr *r = pe_parse_and(p);
        if (r == NULL) {
            pipe_expr_free(e);
            return NULL;
        }
        e = pe_make_logic(p, PIPE_EXPR_OR, "OR", off, e, r);
    }
    p->depth--;
    return e;
}

pipe_expr *pipe_expr_parse(const char *text, const sd_schema *schema, sd_error *err) {
    pe_parser p;
    memset(&p, 0, sizeof(p));
    p.text = text;
    p.len = strlen(text);
    p.schema = schema;
    p.err = err;
    pipe_expr *e = pe_parse_or(&p);
    if (e != NULL && !p.failed) {
        pe_skip_ws(&p);
        if (p.pos < p.len) {
            char tok[64];
            pe_describe(&p, p.pos, tok, sizeof(tok));
            pe_fail(&p, p.pos, "unexpected %s after the expression", tok);
        } else if (e->untyped_null) {
            pe_fail(&p, e->offset, "NULL alone has no type; write cast(null as <type>)");
        } else if (p.nodes > PE_MAX_NODES) {
            pe_fail(&p, 0, "expression has more than %d parts", PE_MAX_NODES);
        }
    }
    if (p.failed) {
        pipe_expr_free(e);
        return NULL;
    }
    return e;
}
