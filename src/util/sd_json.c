/*
 * sd_json.c - a strict RFC 8259 JSON parser and a compact JSON writer.
 *
 * Used for Delta log actions (one document per line, 100,000s of them per
 * replay), Avro schemas and Schema Registry replies, so the parser is built
 * for speed and for untrusted input:
 *  - one pass, recursive descent with nesting capped at SD_JSON_MAX_DEPTH;
 *  - every node, string and key of a document lives in a per-document arena
 *    (a short chain of large blocks) released at once by sd_json_free(root);
 *  - children of an open array/object are collected on a scratch stack and
 *    copied into the arena once, when the container closes, so each
 *    container's items are one contiguous array without any realloc;
 *  - strings are validated UTF-8; \uXXXX escapes (with surrogate pairs) are
 *    decoded to UTF-8 and lone surrogates are refused;
 *  - numbers follow the RFC grammar exactly and keep their source text, so
 *    64-bit ids and decimals survive a round trip.
 * Errors carry the byte offset of the offending character.
 *
 * Reference: RFC 8259, "The JavaScript Object Notation (JSON) Data
 * Interchange Format".
 */
#include <math.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Deeper documents are refused: the parser recurses once per level, and no
 * document we read (Delta actions, Avro schemas) comes close. */
#define SD_JSON_MAX_DEPTH 256
/* Arena blocks start small enough for one Delta action line and double. */
#define SD_JSON_MIN_BLOCK 2048
/* Scratch entries kept on the C stack before moving to the heap. */
#define SD_JSON_LOCAL_SCRATCH 64

/* ------------------------------------------------------------------------ */
/* Arena                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct json_block {
    struct json_block *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
} json_block;

typedef struct json_arena {
    json_block *head; /* current block (list of all blocks through next) */
    size_t next_cap;  /* capacity of the next ordinary block */
} json_arena;

/* The root value sits inside the document header, so sd_json_free(root) can
 * find the arena from the root pointer alone. */
typedef struct json_doc {
    json_arena arena;
    sd_json root;
} json_doc;

static json_block *json_block_new(size_t cap) {
    json_block *b = sd_xmalloc(sizeof(json_block) + cap);
    b->next = NULL;
    b->used = 0;
    b->cap = cap;
    return b;
}

static void *json_arena_alloc(json_arena *a, size_t n, size_t align) {
    json_block *b = a->head;
    if (b != NULL) {
        size_t off = (b->used + align - 1) & ~(align - 1);
        if (off <= b->cap && b->cap - off >= n) {
            b->used = off + n;
            return b->data + off;
        }
    }
    /* A request larger than half a block gets a block of its own, linked
     * behind the current one so the current block keeps serving small ones. */
    if (b != NULL && n > a->next_cap / 2) {
        json_block *big = json_block_new(n);
        big->used = n;
        big->next = b->next;
        b->next = big;
        return big->data;
    }
    size_t cap = a->next_cap;
    while (cap < n) cap *= 2;
    json_block *nb = json_block_new(cap);
    nb->next = b;
    a->head = nb;
    a->next_cap = cap * 2;
    nb->used = n;
    return nb->data;
}

static void json_arena_free(json_arena *a) {
    json_block *b = a->head;
    while (b != NULL) {
        json_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

/* ------------------------------------------------------------------------ */
/* Parser state                                                              */
/* ------------------------------------------------------------------------ */

typedef struct json_slot {
    sd_json val;
    char *key;
    size_t key_len;
} json_slot;

typedef struct json_parser {
    const unsigned char *start, *p, *end;
    json_arena *arena;
    json_slot *scratch; /* children of the open containers */
    size_t nscratch, scratch_cap;
    bool scratch_heap;
    int depth;
    sd_error *err;
} json_parser;

static bool json_fail(json_parser *jp, const unsigned char *at, const char *what) {
    size_t off = (size_t)(at - jp->start);
    if (at >= jp->end)
        sd_error_set(jp->err, SD_ERR_JSON, "JSON: at byte %zu (end of input): %s", off, what);
    else if (*at >= 0x20 && *at < 0x7f)
        sd_error_set(jp->err, SD_ERR_JSON, "JSON: at byte %zu ('%c'): %s", off, *at, what);
    else
        sd_error_set(jp->err, SD_ERR_JSON, "JSON: at byte %zu (byte 0x%02x): %s", off, *at, what);
    return false;
}

static void json_skip_ws(json_parser *jp) {
    const unsigned char *p = jp->p, *end = jp->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    jp->p = p;
}

static void json_scratch_push(json_parser *jp, const sd_json *val, char *key, size_t key_len) {
    if (jp->nscratch == jp->scratch_cap) {
        size_t cap = jp->scratch_cap * 2;
        if (jp->scratch_heap) {
            jp->scratch = sd_xrealloc(jp->scratch, cap * sizeof(json_slot));
        } else {
            json_slot *heap = sd_xmalloc(cap * sizeof(json_slot));
            memcpy(heap, jp->scratch, jp->nscratch * sizeof(json_slot));
            jp->scratch = heap;
            jp->scratch_heap = true;
        }
        jp->scratch_cap = cap;
    }
    json_slot *s = &jp->scratch[jp->nscratch++];
    s->val = *val;
    s->key = key;
    s->key_len = key_len;
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                   */
/* ------------------------------------------------------------------------ */

static int json_hex(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p (bounds already checked by the caller), or -1. */
static long json_hex4(const unsigned char *p) {
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = json_hex(p[i]);
        if (h < 0) return -1;
        v = (v << 4) | h;
    }
    return v;
}

static size_t json_put_utf8(unsigned char *o, unsigned long cp) {
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of the valid UTF-8 sequence starting at p (first byte >= 0x80), or
 * 0 when it is invalid: overlong forms, surrogates and code points above
 * U+10FFFF are refused as RFC 3629 requires. */
static size_t json_utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    size_t avail = (size_t)(end - p);
    if (c >= 0xc2 && c <= 0xdf) return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (avail < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && p[1] < 0xa0) return 0;  /* overlong */
        if (c == 0xed && p[1] >= 0xa0) return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (avail < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && p[1] < 0x90) return 0;  /* overlong */
        if (c == 0xf4 && p[1] >= 0x90) return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

/* Decode one escape sequence at p (just after the backslash) into o.
 * Returns the number of input bytes consumed after the backslash, 0 on
 * error (already reported); *olen receives the bytes written. */
static size_t json_unescape(json_parser *jp, const unsigned char *p, unsigned char *o,
                            size_t *olen) {
    if (p >= jp->end) return json_fail(jp, p, "unterminated escape sequence"), 0;
    *olen = 1;
    switch (*p) {
        case '"':
            *o = '"';
            return 1;
        case '\\':
            *o = '\\';
            return 1;
        case '/':
            *o = '/';
            return 1;
        case 'b':
            *o = '\b';
            return 1;
        case 'f':
            *o = '\f';
            return 1;
        case 'n':
            *o = '\n';
            return 1;
        case 'r':
            *o = '\r';
            return 1;
        case 't':
            *o = '\t';
            return 1;
        case 'u':
            break;
        default:
            return json_fail(jp, p, "invalid escape (expected one of \"\\/bfnrtu)"), 0;
    }
    if (jp->end - p < 5) return json_fail(jp, p, "truncated \\u escape (need 4 hex digits)"), 0;
    long hi = json_hex4(p + 1);
    if (hi < 0) return json_fail(jp, p, "\\u escape needs 4 hex digits"), 0;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return json_fail(jp, p, "lone low surrogate in \\u escape"), 0;
    if (hi < 0xd800 || hi > 0xdbff) {
        *olen = json_put_utf8(o, (unsigned long)hi);
        return 5;
    }
    /* A high surrogate must be followed by \u and a low surrogate. */
    if (jp->end - p < 11 || p[5] != '\\' || p[6] != 'u')
        return json_fail(jp, p, "high surrogate in \\u escape not followed by a low surrogate"), 0;
    long lo = json_hex4(p + 7);
    if (lo < 0xdc00 || lo > 0xdfff)
        return json_fail(jp, p + 5, "high surrogate in \\u escape not followed by a low surrogate"),
               0;
    unsigned long cp =
        0x10000 + (((unsigned long)hi - 0xd800) << 10) + ((unsigned long)lo - 0xdc00);
    *olen = json_put_utf8(o, cp);
    return 11;
}

/* Parse a string whose opening quote is at jp->p. The unescaped text is
 * never longer than the source, so one arena allocation of the source span
 * (found by a quick scan) holds it. */
static bool json_parse_string(json_parser *jp, char **out, size_t *out_len) {
    const unsigned char *open = jp->p;
    const unsigned char *p = open + 1, *end = jp->end;
    /* Fast scan to the closing quote, skipping escaped characters. */
    const unsigned char *q = p;
    while (q < end && *q != '"') q += (*q == '\\' && end - q >= 2) ? 2 : 1;
    if (q >= end) return json_fail(jp, open, "unterminated string");
    size_t span = (size_t)(q - p);
    unsigned char *o = json_arena_alloc(jp->arena, span + 1, 1);
    unsigned char *w = o;
    while (p < q) {
        unsigned char c = *p;
        if (c >= 0x20 && c < 0x80 && c != '\\') {
            *w++ = c;
            p++;
        } else if (c < 0x20) {
            return json_fail(jp, p, "control character in string (must be escaped)");
        } else if (c == '\\') {
            size_t olen;
            size_t used = json_unescape(jp, p + 1, w, &olen);
            if (used == 0) return false;
            p += 1 + used;
            w += olen;
        } else {
            size_t n = json_utf8_len(p, q);
            if (n == 0) return json_fail(jp, p, "invalid UTF-8 in string");
            memcpy(w, p, n);
            w += n;
            p += n;
        }
    }
    /* An escape never runs past q: its hex digits cannot be the quote. */
    *w = '\0';
    *out = (char *)o;
    *out_len = (size_t)(w - o);
    jp->p = q + 1;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Numbers                                                                   */
/* ------------------------------------------------------------------------ */

static bool json_is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_parse_number(json_parser *jp, sd_json *out) {
    const unsigned char *s = jp->p, *p = s, *end = jp->end;
    bool integral = true;
    if (p < end && *p == '-') p++;
    if (p >= end || !json_is_digit(*p)) return json_fail(jp, p, "expected a digit in number");
    if (*p == '0') {
        p++;
        if (p < end && json_is_digit(*p))
            return json_fail(jp, p, "leading zeros are not allowed in numbers");
    } else {
        while (p < end && json_is_digit(*p)) p++;
    }
    if (p < end && *p == '.') {
        integral = false;
        p++;
        if (p >= end || !json_is_digit(*p))
            return json_fail(jp, p, "expected a digit after the decimal point");
        while (p < end && json_is_digit(*p)) p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integral = false;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || !json_is_digit(*p)) return json_fail(jp, p, "expected a digit in exponent");
        while (p < end && json_is_digit(*p)) p++;
    }
    size_t n = (size_t)(p - s);
    char *text = json_arena_alloc(jp->arena, n + 1, 1);
    memcpy(text, s, n);
    text[n] = '\0';
    out->kind = SD_JSON_NUMBER;
    out->text = text;
    out->text_len = n;
    /* Short integers (the common case: sizes, versions, timestamps) are
     * converted directly; strtod handles the rest. */
    size_t digits = n - (s[0] == '-');
    if (integral && digits <= 15) {
        int64_t v = 0;
        for (const char *d = text + (s[0] == '-'); *d; d++) v = v * 10 + (*d - '0');
        out->number = s[0] == '-' ? -(double)v : (double)v; /* keeps -0 */
    } else {
        out->number = strtod(text, NULL);
    }
    jp->p = p;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Values and containers                                                     */
/* ------------------------------------------------------------------------ */

static bool json_parse_value(json_parser *jp, sd_json *out);

static bool json_literal(json_parser *jp, const char *word, size_t n) {
    if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0)
        return json_fail(jp, jp->p, "expected a JSON value");
    jp->p += n;
    return true;
}

/* Move the last `count` scratch slots into the arena as out's items. */
static void json_close_container(json_parser *jp, sd_json *out, size_t base, bool object) {
    size_t count = jp->nscratch - base;
    out->count = count;
    out->items = NULL;
    out->keys = NULL;
    out->key_lens = NULL;
    if (count > 0) {
        out->items = json_arena_alloc(jp->arena, count * sizeof(sd_json), alignof(sd_json));
        if (object) {
            out->keys = json_arena_alloc(jp->arena, count * sizeof(char *), alignof(char *));
            out->key_lens = json_arena_alloc(jp->arena, count * sizeof(size_t), alignof(size_t));
        }
        for (size_t i = 0; i < count; i++) {
            const json_slot *s = &jp->scratch[base + i];
            out->items[i] = s->val;
            if (object) {
                out->keys[i] = s->key;
                out->key_lens[i] = s->key_len;
            }
        }
    }
    jp->nscratch = base;
}

static bool json_parse_array(json_parser *jp, sd_json *out) {
    size_t base = jp->nscratch;
    out->kind = SD_JSON_ARRAY;
    jp->p++; /* [ */
    json_skip_ws(jp);
    if (jp->p < jp->end && *jp->p == ']') {
        jp->p++;
        json_close_container(jp, out, base, false);
        return true;
    }
    for (;;) {
        sd_json item;
        if (!json_parse_value(jp, &item)) return false;
        json_scratch_push(jp, &item, NULL, 0);
        json_skip_ws(jp);
        if (jp->p < jp->end && *jp->p == ',') {
            jp->p++;
            continue;
        }
        if (jp->p < jp->end && *jp->p == ']') {
            jp->p++;
            break;
        }
        return json_fail(jp, jp->p, "expected ',' or ']' after array element");
    }
    json_close_container(jp, out, base, false);
    return true;
}

static bool json_parse_object(json_parser *jp, sd_json *out) {
    size_t base = jp->nscratch;
    out->kind = SD_JSON_OBJECT;
    jp->p++; /* { */
    json_skip_ws(jp);
    if (jp->p < jp->end && *jp->p == '}') {
        jp->p++;
        json_close_container(jp, out, base, true);
        return true;
    }
    for (;;) {
        json_skip_ws(jp);
        if (jp->p >= jp->end || *jp->p != '"')
            return json_fail(jp, jp->p, "expected a string key in object");
        char *key;
        size_t key_len;
        if (!json_parse_string(jp, &key, &key_len)) return false;
        json_skip_ws(jp);
        if (jp->p >= jp->end || *jp->p != ':')
            return json_fail(jp, jp->p, "expected ':' after object key");
        jp->p++;
        sd_json item;
        if (!json_parse_value(jp, &item)) return false;
        json_scratch_push(jp, &item, key, key_len);
        json_skip_ws(jp);
        if (jp->p < jp->end && *jp->p == ',') {
            jp->p++;
            continue;
        }
        if (jp->p < jp->end && *jp->p == '}') {
            jp->p++;
            break;
        }
        return json_fail(jp, jp->p, "expected ',' or '}' after object member");
    }
    json_close_container(jp, out, base, true);
    return true;
}

static bool json_parse_value(json_parser *jp, sd_json *out) {
    memset(out, 0, sizeof(*out));
    json_skip_ws(jp);
    if (jp->p >= jp->end) return json_fail(jp, jp->p, "expected a JSON value");
    switch (*jp->p) {
        case '{':
        case '[': {
            if (jp->depth >= SD_JSON_MAX_DEPTH)
                return json_fail(jp, jp->p, "nesting deeper than 256 levels");
            jp->depth++;
            bool ok = *jp->p == '{' ? json_parse_object(jp, out) : json_parse_array(jp, out);
            jp->depth--;
            return ok;
        }
        case '"':
            out->kind = SD_JSON_STRING;
            return json_parse_string(jp, &out->text, &out->text_len);
        case 't':
            out->kind = SD_JSON_BOOL;
            out->boolean = true;
            return json_literal(jp, "true", 4);
        case 'f':
            out->kind = SD_JSON_BOOL;
            return json_literal(jp, "false", 5);
        case 'n':
            out->kind = SD_JSON_NULL;
            return json_literal(jp, "null", 4);
        default:
            if (*jp->p == '-' || json_is_digit(*jp->p)) return json_parse_number(jp, out);
            return json_fail(jp, jp->p, "expected a JSON value");
    }
}

sd_json *sd_json_parse(const char *text, size_t len, sd_error *err) {
    json_arena arena = {NULL, SD_JSON_MIN_BLOCK};
    /* Size the first block from the input: nodes take more room than their
     * text, strings less; twice the input covers typical Delta lines. */
    size_t first = len * 2 + sizeof(json_doc);
    if (first > arena.next_cap) arena.next_cap = first < ((size_t)1 << 26) ? first : (1u << 26);
    json_doc *doc = json_arena_alloc(&arena, sizeof(json_doc), alignof(json_doc));

    json_slot local[SD_JSON_LOCAL_SCRATCH];
    json_parser jp = {
        .start = (const unsigned char *)text,
        .p = (const unsigned char *)text,
        .end = (const unsigned char *)text + len,
        .arena = &arena,
        .scratch = local,
        .scratch_cap = SD_JSON_LOCAL_SCRATCH,
        .err = err,
    };
    bool ok = text != NULL || len == 0;
    if (!ok) sd_error_set(err, SD_ERR_JSON, "JSON: no input (NULL text of %zu bytes)", len);
    if (ok) ok = json_parse_value(&jp, &doc->root);
    if (ok) {
        json_skip_ws(&jp);
        if (jp.p != jp.end) ok = json_fail(&jp, jp.p, "unexpected text after the JSON value");
    }
    if (jp.scratch_heap) free(jp.scratch);
    if (!ok) {
        json_arena_free(&arena);
        return NULL;
    }
    doc->arena = arena;
    return &doc->root;
}

void sd_json_free(sd_json *root) {
    if (root == NULL) return;
    json_doc *doc = (json_doc *)((char *)root - offsetof(json_doc, root));
    json_arena a = doc->arena; /* the header lives in the arena being freed */
    json_arena_free(&a);
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                 */
/* ------------------------------------------------------------------------ */

const sd_json *sd_json_get(const sd_json *obj, const char *key) {
    if (obj == NULL || obj->kind != SD_JSON_OBJECT || key == NULL) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->count; i++)
        if (obj->key_lens[i] == n && memcmp(obj->keys[i], key, n) == 0) return &obj->items[i];
    return NULL;
}

/* Integers from their source text, so values beyond 2^53 stay exact. Text
 * with a fraction or exponent is accepted when it denotes an integer below
 * 2^53 (1.0, 1e3), which some writers emit for whole numbers. */
bool sd_json_as_int64(const sd_json *j, int64_t *out) {
    if (j == NULL || j->kind != SD_JSON_NUMBER) return false;
    const char *s = j->text;
    bool neg = s[0] == '-';
    uint64_t v = 0;
    size_t i = neg ? 1 : 0;
    for (; i < j->text_len && json_is_digit((unsigned char)s[i]); i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (i < j->text_len) {
        double d = j->number;
        if (d != floor(d) || fabs(d) > 9007199254740992.0) return false;
        *out = (int64_t)d;
        return true;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v;
    }
    return true;
}

bool sd_json_as_double(const sd_json *j, double *out) {
    if (j == NULL || j->kind != SD_JSON_NUMBER) return false;
    *out = j->number;
    return true;
}

bool sd_json_as_bool(const sd_json *j, bool *out) {
    if (j == NULL || j->kind != SD_JSON_BOOL) return false;
    *out = j->boolean;
    return true;
}

const char *sd_json_as_string(const sd_json *j) {
    if (j == NULL || j->kind != SD_JSON_STRING) return NULL;
    return j->text;
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */
/* ------------------------------------------------------------------------ */

void sd_json_append_string(sd_buf *out, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    sd_buf_reserve(out, n + 2);
    sd_buf_append_byte(out, '"');
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        sd_buf_append(out, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
            case '"':
                esc[1] = '"';
                break;
            case '\\':
                esc[1] = '\\';
                break;
            case '\b':
                esc[1] = 'b';
                break;
            case '\f':
                esc[1] = 'f';
                break;
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            default:
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                elen = 6;
        }
        sd_buf_append(out, esc, elen);
    }
    sd_buf_append(out, s + run, n - run);
    sd_buf_append_byte(out, '"');
}

void sd_json_append(sd_buf *out, const sd_json *j) {
    if (j == NULL) {
        sd_buf_append_str(out, "null");
        return;
    }
    switch (j->kind) {
        case SD_JSON_NULL:
            sd_buf_append_str(out, "null");
            break;
        case SD_JSON_BOOL:
            sd_buf_append_str(out, j->boolean ? "true" : "false");
            break;
        case SD_JSON_NUMBER:
            sd_buf_append(out, j->text, j->text_len);
            break;
        case SD_JSON_STRING:
            sd_json_append_string(out, j->text, j->text_len);
            break;
        case SD_JSON_ARRAY:
            sd_buf_append_byte(out, '[');
            for (size_t i = 0; i < j->count; i++) {
                if (i) sd_buf_append_byte(out, ',');
                sd_json_append(out, &j->items[i]);
            }
            sd_buf_append_byte(out, ']');
            break;
        case SD_JSON_OBJECT:
            sd_buf_append_byte(out, '{');
            for (size_t i = 0; i < j->count; i++) {
                if (i) sd_buf_append_byte(out, ',');
                sd_json_append_string(out, j->keys[i], j->key_lens[i]);
                sd_buf_append_byte(out, ':');
                sd_json_append(out, &j->items[i]);
            }
            sd_buf_append_byte(out, '}');
            break;
    }
}
