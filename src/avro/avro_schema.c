/*
 * avro_schema.c - Avro schema JSON -> node graph.
 *
 * Spec: "Schema Declaration" and "Logical Types" of the Avro specification
 * (https://avro.apache.org/docs/1.11.1/specification/). Named types are
 * registered under their full name before their body is parsed, so a record
 * may refer to itself; references are resolved against the enclosing
 * namespace first. Field defaults are checked by encoding them once (the
 * same encoding the resolver uses for reader-only fields). Also the
 * Parsing Canonical Form and its CRC-64-AVRO fingerprint.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro_internal.h"

/* Names we accept for primitive types, in avro_kind order. */
static const char *const avro_primitive_names[] = {"null",  "boolean", "int",   "long",
                                                   "float", "double",  "bytes", "string"};

const char *avro_kind_name(avro_kind kind) {
    static const char *const names[] = {"null",   "boolean", "int",    "long",   "float",
                                        "double", "bytes",   "string", "record", "enum",
                                        "array",  "map",     "union",  "fixed"};
    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

const char *avro_short_name(const char *fullname) {
    const char *dot = strrchr(fullname, '.');
    return dot ? dot + 1 : fullname;
}

/* ------------------------------------------------------------------------ */
/* Parser state                                                              */
/* ------------------------------------------------------------------------ */

typedef struct schema_parser {
    avro_schema *s;
    sd_error *err;
    sd_buf scratch; /* default encoding check */
} schema_parser;

static avro_node *node_new(avro_schema *s, avro_kind kind) {
    if (s->nnodes == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->nodes = sd_xrealloc(s->nodes, (size_t)s->cap * sizeof(*s->nodes));
    }
    avro_node *n = sd_xcalloc(1, sizeof(*n));
    n->kind = kind;
    n->default_symbol = -1;
    s->nodes[s->nnodes++] = n;
    return n;
}

static void node_free(avro_node *n) {
    free(n->fullname);
    for (int i = 0; i < n->naliases; i++) free(n->aliases[i]);
    free(n->aliases);
    for (int i = 0; i < n->nfields; i++) {
        free(n->fields[i].name);
        for (int j = 0; j < n->fields[i].naliases; j++) free(n->fields[i].aliases[j]);
        free(n->fields[i].aliases);
    }
    free(n->fields);
    for (int i = 0; i < n->nsymbols; i++) free(n->symbols[i]);
    free(n->symbols);
    free(n->branches);
    free(n);
}

void avro_schema_free(avro_schema *s) {
    if (s == NULL) return;
    for (int i = 0; i < s->nnodes; i++) node_free(s->nodes[i]);
    free(s->nodes);
    sd_json_free(s->doc);
    free(s->json);
    free(s);
}

const avro_node *avro_schema_root(const avro_schema *s) {
    return s->root;
}
const char *avro_schema_json(const avro_schema *s) {
    return s->json;
}

/* [A-Za-z_][A-Za-z0-9_]* */
static bool valid_simple_name(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

/* Dot-separated simple names (an empty namespace is allowed by callers). */
static bool valid_full_name(const char *s) {
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!valid_simple_name(p, n)) return false;
        if (!dot) return true;
        p = dot + 1;
    }
}

static avro_node *find_named(avro_schema *s, const char *fullname) {
    for (int i = 0; i < s->nnodes; i++)
        if (s->nodes[i]->fullname && strcmp(s->nodes[i]->fullname, fullname) == 0)
            return s->nodes[i];
    return NULL;
}

/* Full name of `name` in namespace `ns` (a dotted name is already full). */
static char *make_fullname(const char *name, const char *ns) {
    if (strchr(name, '.') || ns == NULL || ns[0] == '\0') return sd_xstrdup(name);
    return sd_xasprintf("%s.%s", ns, name);
}

/* Namespace part of a full name, as a new string ("" when none). */
static char *namespace_of(const char *fullname) {
    const char *dot = strrchr(fullname, '.');
    return dot ? sd_xstrndup(fullname, (size_t)(dot - fullname)) : sd_xstrdup("");
}

static avro_node *parse_node(schema_parser *sp, const sd_json *j, const char *ns,
                             const char *where);

static int primitive_kind(const char *name) {
    for (int k = 0; k < 8; k++)
        if (strcmp(name, avro_primitive_names[k]) == 0) return k;
    return -1;
}

static avro_node *parse_reference(schema_parser *sp, const char *name, const char *ns,
                                  const char *where) {
    int k = primitive_kind(name);
    if (k >= 0) return node_new(sp->s, (avro_kind)k);
    avro_node *n = NULL;
    if (!strchr(name, '.') && ns && ns[0]) {
        char *full = make_fullname(name, ns);
        n = find_named(sp->s, full);
        free(full);
    }
    if (n == NULL) n = find_named(sp->s, name);
    if (n == NULL)
        sd_error_set(sp->err, SD_ERR_FORMAT,
                     "Avro schema: %s: unknown type \"%s\" (not a primitive and not defined before "
                     "use)",
                     where, name);
    return n;
}

static bool parse_aliases(schema_parser *sp, const sd_json *j, const char *ns, bool full,
                          char ***out, int *nout, const char *where) {
    const sd_json *a = sd_json_get(j, "aliases");
    if (a == NULL) return true;
    if (a->kind != SD_JSON_ARRAY) {
        sd_error_set(sp->err, SD_ERR_FORMAT,
                     "Avro schema: %s: \"aliases\" must be an array of names", where);
        return false;
    }
    *out = sd_xcalloc(a->count ? a->count : 1, sizeof(char *));
    for (size_t i = 0; i < a->count; i++) {
        const char *name = sd_json_as_string(&a->items[i]);
        if (name == NULL ||
            !(full ? valid_full_name(name) : valid_simple_name(name, strlen(name)))) {
            sd_error_set(sp->err, SD_ERR_FORMAT, "Avro schema: %s: invalid alias", where);
            return false;
        }
        (*out)[(*nout)++] = full ? make_fullname(name, ns) : sd_xstrdup(name);
    }
    return true;
}

/* Name, namespace and aliases of a named type; registers it. */
static avro_node *parse_named(schema_parser *sp, const sd_json *j, avro_kind kind, const char *ns,
                              char **own_ns, const char *where) {
    const char *name = sd_json_as_string(sd_json_get(j, "name"));
    if (name == NULL) {
        sd_error_set(sp->err, SD_ERR_FORMAT, "Avro schema: %s: %s without a \"name\"", where,
                     avro_kind_name(kind));
        return NULL;
    }
    const sd_json *nsj = sd_json_get(j, "namespace");
    const char *declared_ns = ns;
    if (nsj && nsj->kind != SD_JSON_NULL) {
        declared_ns = sd_json_as_string(nsj);
        if (declared_ns == NULL || (declared_ns[0] && !valid_full_name(declared_ns))) {
            sd_error_set(sp->err, SD_ERR_FORMAT, "Avro schema: %s: invalid namespace", where);
            return NULL;
        }
    }
    if (!valid_full_name(name)) {
        sd_error_set(sp->err, SD_ERR_FORMAT, "Avro schema: %s: invalid name \"%s\"", where, name);
        return NULL;
    }
    char *full = make_fullname(name, declared_ns);
    if (primitive_kind(avro_short_name(full)) >= 0 || find_named(sp->s, full)) {
        sd_error_set(sp->err, SD_ERR_FORMAT, "Avro schema: %s: type \"%s\" is defined twice", where,
                     full);
        free(full);
        return NULL;
    }
    avro_node *n = node_new(sp->s, kind);
    n->fullname = full;
    *own_ns = namespace_of(full);
    if (!parse_aliases(sp, j, *own_ns, true, &n->aliases, &n->naliases, where)) return NULL;
    return n;
}

static bool parse_record(schema_parser *sp, const sd_json *j, avro_node *n, const char *ns) {
    const sd_json *fields = sd_json_get(j, "fields");
    if (fields == NULL || fields->kind != SD_JSON_ARRAY)
        return sd_error_set(sp->err, SD_ERR_FORMAT,
                            "Avro schema: record %s: \"fields\" must be an array", n->fullname),
               false;
    n->fields = sd_xcalloc(fields->count ? fields->count : 1, sizeof(avro_field));
    for (size_t i = 0; i < fields->count; i++) {
        const sd_json *fj = &fields->items[i];
        const char *fname = sd_json_as_string(sd_json_get(fj, "name"));
        if (fname == NULL || !valid_simple_name(fname, strlen(fname)))
            return sd_error_set(sp->err, SD_ERR_FORMAT,
                                "Avro schema: record %s: field %zu has no valid \"name\"",
                                n->fullname, i),
                   false;
        for (int k = 0; k < n->nfields; k++)
            if (strcmp(n->fields[k].name, fname) == 0)
                return sd_error_set(sp->err, SD_ERR_FORMAT,
                                    "Avro schema: record %s: field \"%s\" appears twice",
                                    n->fullname, fname),
                       false;
        avro_field *f = &n->fields[n->nfields++];
        f->name = sd_xstrdup(fname);
        char where[300];
        snprintf(where, sizeof(where), "field %s.%s", n->fullname, fname);
        if (!parse_aliases(sp, fj, NULL, false, &f->aliases, &f->naliases, where)) return false;
        const sd_json *tj = sd_json_get(fj, "type");
        if (tj == NULL)
            return sd_error_set(sp->err, SD_ERR_FORMAT, "Avro schema: %s has no \"type\"", where),
                   false;
        f->type = parse_node(sp, tj, ns, where);
        if (f->type == NULL) return false;
        f->def = sd_json_get(fj, "default");
        if (f->def) {
            sd_buf_reset(&sp->scratch);
            if (avro_encode_default(f->type, f->def, &sp->scratch, sp->err) != SD_OK) {
                sd_error_prefix(sp->err, "Avro schema: %s: invalid default: ", where);
                return false;
            }
        }
    }
    return true;
}

static bool parse_enum(schema_parser *sp, const sd_json *j, avro_node *n) {
    const sd_json *syms = sd_json_get(j, "symbols");
    if (syms == NULL || syms->kind != SD_JSON_ARRAY)
        return sd_error_set(sp->err, SD_ERR_FORMAT,
                            "Avro schema: enum %s: \"symbols\" must be an array", n->fullname),
               false;
    n->symbols = sd_xcalloc(syms->count ? syms->count : 1, sizeof(char *));
    for (size_t i = 0; i < syms->count; i++) {
        const char *sym = sd_json_as_string(&syms->items[i]);
        if (sym == NULL || !valid_simple_name(sym, strlen(sym)))
            return sd_error_set(sp->err, SD_ERR_FORMAT, "Avro schema: enum %s: invalid symbol %zu",
                                n->fullname, i),
                   false;
        for (int k = 0; k < n->nsymbols; k++)
            if (strcmp(n->symbols[k], sym) == 0)
                return sd_error_set(sp->err, SD_ERR_FORMAT,
                                    "Avro schema: enum %s: symbol \"%s\" appears twice",
                                    n->fullname, sym),
                       false;
        n->symbols[n->nsymbols++] = sd_xstrdup(sym);
    }
    const sd_json *def = sd_json_get(j, "default");
    if (def) {
        const char *d = sd_json_as_string(def);
        for (int k = 0; d && k < n->nsymbols; k++)
            if (strcmp(n->symbols[k], d) == 0) n->default_symbol = k;
        if (n->default_symbol < 0)
            return sd_error_set(sp->err, SD_ERR_FORMAT,
                                "Avro schema: enum %s: default is not one of its symbols",
                                n->fullname),
                   false;
    }
    return true;
}

/* Largest decimal precision a fixed of `size` bytes can hold:
 * floor(log10(2^(8*size-1) - 1)). */
static int fixed_max_precision(int size) {
    if (size <= 0) return 0;
    return (int)floor(log10(pow(2.0, 8.0 * size - 1) - 1));
}

/* Attach a logical type when it is valid for the node; invalid ones are
 * ignored as the spec requires. */
static void parse_logical(const sd_json *j, avro_node *n) {
    const char *lt = sd_json_as_string(sd_json_get(j, "logicalType"));
    if (lt == NULL) return;
    avro_kind k = n->kind;
    if (strcmp(lt, "date") == 0 && k == AVRO_KIND_INT)
        n->logical = AVRO_LOGICAL_DATE;
    else if (strcmp(lt, "time-millis") == 0 && k == AVRO_KIND_INT)
        n->logical = AVRO_LOGICAL_TIME_MILLIS;
    else if (strcmp(lt, "time-micros") == 0 && k == AVRO_KIND_LONG)
        n->logical = AVRO_LOGICAL_TIME_MICROS;
    else if (strcmp(lt, "timestamp-millis") == 0 && k == AVRO_KIND_LONG)
        n->logical = AVRO_LOGICAL_TIMESTAMP_MILLIS;
    else if (strcmp(lt, "timestamp-micros") == 0 && k == AVRO_KIND_LONG)
        n->logical = AVRO_LOGICAL_TIMESTAMP_MICROS;
    else if (strcmp(lt, "local-timestamp-millis") == 0 && k == AVRO_KIND_LONG)
        n->logical = AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS;
    else if (strcmp(lt, "local-timestamp-micros") == 0 && k == AVRO_KIND_LONG)
        n->logical = AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS;
    else if (strcmp(lt, "uuid") == 0 &&
             (k == AVRO_KIND_STRING || (k == AVRO_KIND_FIXED && n->size == 16)))
        n->logical = AVRO_LOGICAL_UUID;
    else if (strcmp(lt, "decimal") == 0 && (k == AVRO_KIND_BYTES || k == AVRO_KIND_FIXED)) {
        int64_t precision = 0, scale = 0;
        if (!sd_json_as_int64(sd_json_get(j, "precision"), &precision) || precision <= 0) return;
        const sd_json *sj = sd_json_get(j, "scale");
        if (sj && !sd_json_as_int64(sj, &scale)) return;
        if (scale < 0 || scale > precision) return;
        if (k == AVRO_KIND_FIXED && precision > fixed_max_precision(n->size)) return;
        if (precision > 1000) return;
        n->logical = AVRO_LOGICAL_DECIMAL;
        n->precision = (int)precision;
        n->scale = (int)scale;
    }
}

static avro_node *parse_union(schema_parser *sp, const sd_json *j, const char *ns,
                              const char *where) {
    avro_node *n = node_new(sp->s, AVRO_KIND_UNION);
    n->branches = sd_xcalloc(j->count ? j->count : 1, sizeof(avro_node *));
    for (size_t i = 0; i < j->count; i++) {
        avro_node *b = parse_node(sp, &j->items[i], ns, where);
        if (b == NULL) return NULL;
        if (b->kind == AVRO_KIND_UNION) {
            sd_error_set(sp->err, SD_ERR_FORMAT, "Avro schema: %s: a union may not contain a union",
                         where);
            return NULL;
        }
        for (int k = 0; k < n->nbranches; k++) {
            const avro_node *o = n->branches[k];
            bool same = o->kind == b->kind &&
                        (o->fullname == NULL || strcmp(o->fullname, b->fullname) == 0);
            if (same) {
                sd_error_set(sp->err, SD_ERR_FORMAT, "Avro schema: %s: union lists %s twice", where,
                             b->fullname ? b->fullname : avro_kind_name(b->kind));
                return NULL;
            }
        }
        n->branches[n->nbranches++] = b;
    }
    return n;
}

static avro_node *parse_object(schema_parser *sp, const sd_json *j, const char *ns,
                               const char *where) {
    const sd_json *tj = sd_json_get(j, "type");
    if (tj == NULL) {
        sd_error_set(sp->err, SD_ERR_FORMAT, "Avro schema: %s: object without \"type\"", where);
        return NULL;
    }
    if (tj->kind != SD_JSON_STRING) return parse_node(sp, tj, ns, where);
    const char *t = tj->text;
    avro_node *n = NULL;
    char *own_ns = NULL;
    bool ok = true;
    if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0) {
        n = parse_named(sp, j, AVRO_KIND_RECORD, ns, &own_ns, where);
        ok = n && parse_record(sp, j, n, own_ns);
    } else if (strcmp(t, "enum") == 0) {
        n = parse_named(sp, j, AVRO_KIND_ENUM, ns, &own_ns, where);
        ok = n && parse_enum(sp, j, n);
    } else if (strcmp(t, "fixed") == 0) {
        n = parse_named(sp, j, AVRO_KIND_FIXED, ns, &own_ns, where);
        int64_t size;
        if (n &&
            (!sd_json_as_int64(sd_json_get(j, "size"), &size) || size < 0 || size > INT32_MAX)) {
            sd_error_set(sp->err, SD_ERR_FORMAT,
                         "Avro schema: fixed %s: \"size\" must be a non-negative integer",
                         n->fullname);
            ok = false;
        } else if (n) {
            n->size = (int)size;
        }
        ok = ok && n;
    } else if (strcmp(t, "array") == 0 || strcmp(t, "map") == 0) {
        bool array = t[0] == 'a';
        const sd_json *ij = sd_json_get(j, array ? "items" : "values");
        if (ij == NULL) {
            sd_error_set(sp->err, SD_ERR_FORMAT, "Avro schema: %s: %s without \"%s\"", where, t,
                         array ? "items" : "values");
            return NULL;
        }
        n = node_new(sp->s, array ? AVRO_KIND_ARRAY : AVRO_KIND_MAP);
        n->items = parse_node(sp, ij, ns, where);
        ok = n->items != NULL;
    } else {
        /* A primitive written as {"type": "long", ...}, or a reference. */
        int k = primitive_kind(t);
        if (k < 0) return parse_reference(sp, t, ns, where);
        n = node_new(sp->s, (avro_kind)k);
    }
    free(own_ns);
    if (!ok || n == NULL) return NULL;
    parse_logical(j, n);
    return n;
}

static avro_node *parse_node(schema_parser *sp, const sd_json *j, const char *ns,
                             const char *where) {
    switch (j->kind) {
        case SD_JSON_STRING:
            return parse_reference(sp, j->text, ns, where);
        case SD_JSON_ARRAY:
            return parse_union(sp, j, ns, where);
        case SD_JSON_OBJECT:
            return parse_object(sp, j, ns, where);
        default:
            sd_error_set(sp->err, SD_ERR_FORMAT,
                         "Avro schema: %s: a type must be a name, an object or an array", where);
            return NULL;
    }
}

avro_schema *avro_schema_parse(const char *json, size_t len, sd_error *err) {
    avro_schema *s = sd_xcalloc(1, sizeof(*s));
    s->json = sd_xstrndup(json, len);
    s->doc = sd_json_parse(json, len, err);
    if (s->doc == NULL) {
        sd_error_prefix(err, "Avro schema: ");
        avro_schema_free(s);
        return NULL;
    }
    schema_parser sp = {.s = s, .err = err};
    s->root = parse_node(&sp, s->doc, "", "top level");
    sd_buf_free(&sp.scratch);
    if (s->root == NULL) {
        avro_schema_free(s);
        return NULL;
    }
    return s;
}

bool avro_union_nullable(const avro_node *n, const avro_node **value, int *null_index) {
    if (n->kind != AVRO_KIND_UNION || n->nbranches != 2) return false;
    int ni = n->branches[0]->kind == AVRO_KIND_NULL   ? 0
             : n->branches[1]->kind == AVRO_KIND_NULL ? 1
                                                      : -1;
    if (ni < 0) return false;
    if (value) *value = n->branches[1 - ni];
    if (null_index) *null_index = ni;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Defaults: JSON -> Avro binary                                             */
/* ------------------------------------------------------------------------ */

static void put_long(sd_buf *out, int64_t v) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z >= 0x80) {
        sd_buf_append_byte(out, (uint8_t)(z | 0x80));
        z >>= 7;
    }
    sd_buf_append_byte(out, (uint8_t)z);
}

/* bytes/fixed defaults are JSON strings whose code points 0..255 are the
 * bytes; sd_json hands us UTF-8, so decode it back. */
static bool latin1_bytes(const sd_json *j, sd_buf *out) {
    const uint8_t *p = (const uint8_t *)j->text, *e = p + j->text_len;
    while (p < e) {
        if (p[0] < 0x80)
            sd_buf_append_byte(out, *p++);
        else if ((p[0] & 0xE0) == 0xC0 && p + 1 < e && p[0] <= 0xC3) {
            sd_buf_append_byte(out, (uint8_t)(((p[0] & 0x1F) << 6) | (p[1] & 0x3F)));
            p += 2;
        } else {
            return false;
        }
    }
    return true;
}

static sd_status encode_default(const avro_node *n, const sd_json *d, sd_buf *out, int depth,
                                sd_error *err) {
    if (depth > AVRO_MAX_DEPTH)
        return sd_error_set(err, SD_ERR_UNSUPPORTED, "default nested deeper than %d",
                            AVRO_MAX_DEPTH);
    int64_t i;
    double x;
    switch (n->kind) {
        case AVRO_KIND_NULL:
            if (d->kind == SD_JSON_NULL) return SD_OK;
            break;
        case AVRO_KIND_BOOLEAN:
            if (d->kind == SD_JSON_BOOL) return sd_buf_append_byte(out, d->boolean), SD_OK;
            break;
        case AVRO_KIND_INT:
            if (sd_json_as_int64(d, &i) && i >= INT32_MIN && i <= INT32_MAX)
                return put_long(out, i), SD_OK;
            break;
        case AVRO_KIND_LONG:
            if (sd_json_as_int64(d, &i)) return put_long(out, i), SD_OK;
            break;
        case AVRO_KIND_FLOAT:
            if (sd_json_as_double(d, &x)) {
                float f = (float)x;
                sd_buf_append(out, &f, 4);
                return SD_OK;
            }
            break;
        case AVRO_KIND_DOUBLE:
            if (sd_json_as_double(d, &x)) return sd_buf_append(out, &x, 8), SD_OK;
            break;
        case AVRO_KIND_STRING:
            if (d->kind == SD_JSON_STRING) {
                put_long(out, (int64_t)d->text_len);
                sd_buf_append(out, d->text, d->text_len);
                return SD_OK;
            }
            break;
        case AVRO_KIND_BYTES:
        case AVRO_KIND_FIXED: {
            if (d->kind != SD_JSON_STRING) break;
            sd_buf tmp = SD_BUF_INIT;
            bool ok = latin1_bytes(d, &tmp);
            if (ok && n->kind == AVRO_KIND_FIXED && tmp.len != (size_t)n->size) ok = false;
            if (ok && n->kind == AVRO_KIND_BYTES) put_long(out, (int64_t)tmp.len);
            if (ok) sd_buf_append(out, tmp.data, tmp.len);
            sd_buf_free(&tmp);
            if (ok) return SD_OK;
            break;
        }
        case AVRO_KIND_ENUM:
            for (int k = 0; d->kind == SD_JSON_STRING && k < n->nsymbols; k++)
                if (strcmp(n->symbols[k], d->text) == 0) return put_long(out, k), SD_OK;
            break;
        case AVRO_KIND_ARRAY:
        case AVRO_KIND_MAP: {
            bool array = n->kind == AVRO_KIND_ARRAY;
            if (d->kind != (array ? SD_JSON_ARRAY : SD_JSON_OBJECT)) break;
            if (d->count) put_long(out, (int64_t)d->count);
            for (size_t k = 0; k < d->count; k++) {
                if (!array) {
                    put_long(out, (int64_t)d->key_lens[k]);
                    sd_buf_append(out, d->keys[k], d->key_lens[k]);
                }
                sd_status st = encode_default(n->items, &d->items[k], out, depth + 1, err);
                if (st != SD_OK) return st;
            }
            put_long(out, 0);
            return SD_OK;
        }
        case AVRO_KIND_UNION:
            /* The spec asks for the first branch; accept any branch that fits
             * and encode its index, which reads back the same value. */
            for (int k = 0; k < n->nbranches; k++) {
                size_t mark = out->len;
                sd_error tmp = {0};
                put_long(out, k);
                if (encode_default(n->branches[k], d, out, depth + 1, &tmp) == SD_OK) return SD_OK;
                out->len = mark;
            }
            break;
        case AVRO_KIND_RECORD:
            if (d->kind != SD_JSON_OBJECT) break;
            for (int k = 0; k < n->nfields; k++) {
                const avro_field *f = &n->fields[k];
                const sd_json *v = sd_json_get(d, f->name);
                if (v == NULL) v = f->def;
                if (v == NULL)
                    return sd_error_set(err, SD_ERR_FORMAT, "record %s default lacks field \"%s\"",
                                        n->fullname, f->name);
                sd_status st = encode_default(f->type, v, out, depth + 1, err);
                if (st != SD_OK) return st;
            }
            return SD_OK;
    }
    return sd_error_set(err, SD_ERR_FORMAT, "default value does not fit type %s",
                        n->fullname ? n->fullname : avro_kind_name(n->kind));
}

sd_status avro_encode_default(const avro_node *n, const sd_json *def, sd_buf *out, sd_error *err) {
    return encode_default(n, def, out, 0, err);
}

/* ------------------------------------------------------------------------ */
/* Parsing Canonical Form and fingerprint                                    */
/* ------------------------------------------------------------------------ */

/* Named types already written (later occurrences are written by name). */
typedef struct canon_seen {
    const avro_node *nodes[256];
    int n;
} canon_seen;

static void canon_node(const avro_node *n, sd_buf *out, canon_seen *seen, int depth) {
    if (depth > 64) return; /* parse caps nesting far below this */
    if (n->fullname) {
        for (int i = 0; i < seen->n; i++)
            if (seen->nodes[i] == n) {
                sd_json_append_string(out, n->fullname, strlen(n->fullname));
                return;
            }
        if (seen->n < 256) seen->nodes[seen->n++] = n;
    }
    switch (n->kind) {
        case AVRO_KIND_RECORD:
        case AVRO_KIND_ENUM:
        case AVRO_KIND_FIXED:
            sd_buf_append_str(out, "{\"name\":");
            sd_json_append_string(out, n->fullname, strlen(n->fullname));
            sd_buf_appendf(out, ",\"type\":\"%s\"", avro_kind_name(n->kind));
            if (n->kind == AVRO_KIND_RECORD) {
                sd_buf_append_str(out, ",\"fields\":[");
                for (int i = 0; i < n->nfields; i++) {
                    sd_buf_append_str(out, i ? ",{\"name\":" : "{\"name\":");
                    sd_json_append_string(out, n->fields[i].name, strlen(n->fields[i].name));
                    sd_buf_append_str(out, ",\"type\":");
                    canon_node(n->fields[i].type, out, seen, depth + 1);
                    sd_buf_append_byte(out, '}');
                }
                sd_buf_append_byte(out, ']');
            } else if (n->kind == AVRO_KIND_ENUM) {
                sd_buf_append_str(out, ",\"symbols\":[");
                for (int i = 0; i < n->nsymbols; i++) {
                    if (i) sd_buf_append_byte(out, ',');
                    sd_json_append_string(out, n->symbols[i], strlen(n->symbols[i]));
                }
                sd_buf_append_byte(out, ']');
            } else {
                sd_buf_appendf(out, ",\"size\":%d", n->size);
            }
            sd_buf_append_byte(out, '}');
            return;
        case AVRO_KIND_ARRAY:
        case AVRO_KIND_MAP:
            sd_buf_appendf(out, "{\"type\":\"%s\",\"%s\":", avro_kind_name(n->kind),
                           n->kind == AVRO_KIND_ARRAY ? "items" : "values");
            canon_node(n->items, out, seen, depth + 1);
            sd_buf_append_byte(out, '}');
            return;
        case AVRO_KIND_UNION:
            sd_buf_append_byte(out, '[');
            for (int i = 0; i < n->nbranches; i++) {
                if (i) sd_buf_append_byte(out, ',');
                canon_node(n->branches[i], out, seen, depth + 1);
            }
            sd_buf_append_byte(out, ']');
            return;
        default:
            sd_buf_appendf(out, "\"%s\"", avro_kind_name(n->kind));
            return;
    }
}

void avro_schema_canonical(const avro_schema *s, sd_buf *out) {
    canon_seen seen = {.n = 0};
    canon_node(s->root, out, &seen, 0);
}

/* CRC-64-AVRO, the spec's "Schema Fingerprints" Rabin fingerprint. */
uint64_t avro_schema_fingerprint(const avro_schema *s) {
    const uint64_t empty = 0xc15d213aa4d7a795ULL;
    uint64_t table[256];
    for (int i = 0; i < 256; i++) {
        uint64_t fp = (uint64_t)i;
        for (int j = 0; j < 8; j++) fp = (fp >> 1) ^ (empty & -(fp & 1));
        table[i] = fp;
    }
    sd_buf text = SD_BUF_INIT;
    avro_schema_canonical(s, &text);
    uint64_t fp = empty;
    for (size_t i = 0; i < text.len; i++) fp = (fp >> 8) ^ table[(fp ^ text.data[i]) & 0xff];
    sd_buf_free(&text);
    return fp;
}
