/*
 * avro_resolve.c - schema resolution: writer schema x reader schema -> a
 * flat decode program (avro_internal.h: avro_op) that avro_decode.c runs.
 *
 * Spec: "Schema Resolution" of the Avro specification. Everything that can
 * be decided from the two schemas is decided here, once per schema pair:
 * which writer fields are skipped, which reader fields take defaults (their
 * JSON default is encoded to Avro binary now and decoded at run time by a
 * sub-program, so a default of any type costs no JSON work per record),
 * promotions, union branch choices and enum symbol maps. A pair that can
 * never decode is a compile error; a pair that fails only for some values
 * (a writer union branch or enum symbol the reader lacks) compiles to an
 * OP_FAIL or a -1 in the enum map and rejects just those records.
 *
 * Columns are addressed by "slot": their position in a preorder walk of
 * the target sd_schema, the same walk avro_program_bind() does over a batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro_internal.h"

typedef struct compiler {
    avro_program *p;
    const avro_decode_opts *opts;
    sd_error *err;
    sd_buf path;    /* "field a.b[]" for messages */
    int *top_slots; /* slot of each top-level column */
    int depth;
} compiler;

/* Where a value goes: one column, or (flattening) a run of top-level
 * columns that a record's fields fill. */
typedef struct target {
    bool span;
    const sd_type *type; /* column: its type */
    int slot;            /* column: its slot */
    /* span of fields: struct type (non-flat) with slot of the struct
     * column (-1 for the root), or first top-level column (flat) */
    bool flat;
    const sd_type *st;
    int base;
} target;

static sd_status compile_value(compiler *cc, const avro_node *w, const avro_node *r, target t);

/* ------------------------------------------------------------------------ */
/* Program building                                                          */
/* ------------------------------------------------------------------------ */

static int emit(compiler *cc, avro_opcode code, int col, int arg, int arg2, int arg3) {
    avro_program *p = cc->p;
    if (p->nops == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->ops = sd_xrealloc(p->ops, (size_t)p->cap * sizeof(avro_op));
    }
    p->ops[p->nops] =
        (avro_op){.code = (uint8_t)code, .col = col, .arg = arg, .arg2 = arg2, .arg3 = arg3};
    return p->nops++;
}

static int add_str(compiler *cc, char *owned) {
    avro_program *p = cc->p;
    if (p->nstrs == p->strs_cap) {
        p->strs_cap = p->strs_cap ? p->strs_cap * 2 : 16;
        p->strs = sd_xrealloc(p->strs, (size_t)p->strs_cap * sizeof(char *));
    }
    p->strs[p->nstrs] = owned;
    return p->nstrs++;
}

static int add_ints(compiler *cc, int n) {
    avro_program *p = cc->p;
    if (p->nints + n > p->ints_cap) {
        while (p->nints + n > p->ints_cap) p->ints_cap = p->ints_cap ? p->ints_cap * 2 : 64;
        p->ints = sd_xrealloc(p->ints, (size_t)p->ints_cap * sizeof(int32_t));
    }
    int at = p->nints;
    p->nints += n;
    return at;
}

static int add_skip(compiler *cc, const avro_node *n) {
    avro_program *p = cc->p;
    if (p->nskips == p->skips_cap) {
        p->skips_cap = p->skips_cap ? p->skips_cap * 2 : 8;
        p->skips = sd_xrealloc(p->skips, (size_t)p->skips_cap * sizeof(*p->skips));
    }
    p->skips[p->nskips] = n;
    return p->nskips++;
}

static const char *path_of(compiler *cc) {
    return cc->path.len ? sd_buf_cstr(&cc->path) : "(top level)";
}

static const char *simple_name(const avro_node *n) {
    return n->fullname ? n->fullname : avro_kind_name(n->kind);
}

/* "int", "io.movies.User", or a union's branches "[null,double]". */
static void type_name(const avro_node *n, char *out, size_t cap) {
    if (n->kind != AVRO_KIND_UNION) {
        snprintf(out, cap, "%s", simple_name(n));
        return;
    }
    size_t used = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < n->nbranches && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? "," : "",
                                 simple_name(n->branches[i]));
    if (used < cap) snprintf(out + used, cap - used, "]");
}

static sd_status incompatible(compiler *cc, const avro_node *w, const avro_node *r) {
    char wn[160], rn[160];
    type_name(w, wn, sizeof(wn));
    type_name(r, rn, sizeof(rn));
    return sd_error_set(cc->err, SD_ERR_FORMAT,
                        "%s: writer type %s cannot be read as reader type %s", path_of(cc), wn, rn);
}

/* ------------------------------------------------------------------------ */
/* Matching                                                                  */
/* ------------------------------------------------------------------------ */

/* Named types match by full name, by unqualified name, or when a reader
 * alias names the writer's type. */
static bool names_match(const avro_node *w, const avro_node *r) {
    if (strcmp(w->fullname, r->fullname) == 0) return true;
    if (strcmp(avro_short_name(w->fullname), avro_short_name(r->fullname)) == 0) return true;
    for (int i = 0; i < r->naliases; i++)
        if (strcmp(r->aliases[i], w->fullname) == 0 ||
            strcmp(avro_short_name(r->aliases[i]), avro_short_name(w->fullname)) == 0)
            return true;
    return false;
}

static bool exact_match(const avro_node *w, const avro_node *r) {
    if (w->kind != r->kind) return false;
    switch (w->kind) {
        case AVRO_KIND_RECORD:
        case AVRO_KIND_ENUM:
            return names_match(w, r);
        case AVRO_KIND_FIXED:
            return w->size == r->size && names_match(w, r);
        default:
            return true;
    }
}

static bool promotes(avro_kind w, avro_kind r) {
    switch (w) {
        case AVRO_KIND_INT:
            return r == AVRO_KIND_LONG || r == AVRO_KIND_FLOAT || r == AVRO_KIND_DOUBLE;
        case AVRO_KIND_LONG:
            return r == AVRO_KIND_FLOAT || r == AVRO_KIND_DOUBLE;
        case AVRO_KIND_FLOAT:
            return r == AVRO_KIND_DOUBLE;
        case AVRO_KIND_STRING:
            return r == AVRO_KIND_BYTES;
        case AVRO_KIND_BYTES:
            return r == AVRO_KIND_STRING;
        default:
            return false;
    }
}

/* The reader union branch a writer type resolves to: the first exact
 * match, else the first promotion; -1 when none. */
static int pick_branch(const avro_node *w, const avro_node *ru) {
    for (int i = 0; i < ru->nbranches; i++)
        if (exact_match(w, ru->branches[i])) return i;
    for (int i = 0; i < ru->nbranches; i++)
        if (promotes(w->kind, ru->branches[i]->kind)) return i;
    return -1;
}

static bool matches(const avro_node *w, const avro_node *r) {
    return exact_match(w, r) || promotes(w->kind, r->kind);
}

/* ------------------------------------------------------------------------ */
/* Targets                                                                   */
/* ------------------------------------------------------------------------ */

static const avro_node *unwrap_nullable(const avro_node *r) {
    const avro_node *v;
    if (r->kind == AVRO_KIND_UNION && r->nbranches == 1) return r->branches[0];
    if (avro_union_nullable(r, &v, NULL)) return v;
    return r;
}

/* Top-level columns a reader type fills when flattened. */
static int flat_leaves(const avro_node *r, int depth) {
    r = unwrap_nullable(r);
    if (r->kind != AVRO_KIND_RECORD || depth > AVRO_MAX_DEPTH) return 1;
    int n = 0;
    for (int i = 0; i < r->nfields; i++) n += flat_leaves(r->fields[i].type, depth + 1);
    return n;
}

/* The target of reader field `fi` of record `r` inside span `sp`. */
static target field_target(compiler *cc, const avro_node *r, int fi, target sp) {
    target t = {0};
    if (!sp.flat) {
        int slot = sp.base + 1;
        for (int i = 0; i < fi; i++) slot += avro_type_slots(&sp.st->children[i].type);
        t.type = &sp.st->children[fi].type;
        t.slot = slot;
        return t;
    }
    int pos = sp.base;
    for (int i = 0; i < fi; i++) pos += flat_leaves(r->fields[i].type, 0);
    if (unwrap_nullable(r->fields[fi].type)->kind == AVRO_KIND_RECORD) {
        t.span = true;
        t.flat = true;
        t.base = pos;
        return t;
    }
    t.type = &cc->p->target->children[pos].type;
    t.slot = cc->top_slots[pos];
    return t;
}

/* A null for target `t` of reader type `r`: one column, or every column of
 * a flattened record. */
static void emit_null(compiler *cc, const avro_node *r, target t) {
    if (!t.span) {
        emit(cc, OP_NULL, t.slot, 0, 0, 0);
        return;
    }
    int n = flat_leaves(r, 0);
    for (int i = 0; i < n; i++) emit(cc, OP_NULL, cc->top_slots[t.base + i], 0, 0, 0);
}

/* ------------------------------------------------------------------------ */
/* Records                                                                   */
/* ------------------------------------------------------------------------ */

static bool field_named(const avro_field *rf, const char *name) {
    if (strcmp(rf->name, name) == 0) return true;
    for (int i = 0; i < rf->naliases; i++)
        if (strcmp(rf->aliases[i], name) == 0) return true;
    return false;
}

static sd_status compile_default(compiler *cc, const avro_node *r, int fi, target ft) {
    const avro_field *rf = &r->fields[fi];
    if (rf->def == NULL)
        return sd_error_set(
            cc->err, SD_ERR_FORMAT,
            "%s: reader field \"%s\" is not in the writer schema and has no default", path_of(cc),
            rf->name);
    size_t at = cc->p->pool.len;
    sd_status st = avro_encode_default(rf->type, rf->def, &cc->p->pool, cc->err);
    if (st != SD_OK) return st;
    int op = emit(cc, OP_DEFAULT, -1, (int)at, (int)(cc->p->pool.len - at), 0);
    st = compile_value(cc, rf->type, rf->type, ft);
    if (st != SD_OK) return st;
    emit(cc, OP_END, -1, 0, 0, 0);
    cc->p->ops[op].arg3 = cc->p->nops;
    return SD_OK;
}

/* Writer record `w` into reader record `r` whose fields fill span `sp`;
 * `struct_slot` >= 0 pushes the struct row at the end. */
static sd_status compile_record(compiler *cc, const avro_node *w, const avro_node *r, target sp,
                                int struct_slot) {
    /* Reader fields already fed by a writer field (heap: records may be
     * wide, and this recurses). */
    bool *used = sd_xcalloc((size_t)(r->nfields > 0 ? r->nfields : 1), sizeof(bool));
    size_t plen = cc->path.len;
    sd_status st = SD_OK;
    for (int i = 0; i < w->nfields && st == SD_OK; i++) {
        const avro_field *wf = &w->fields[i];
        int fi = -1;
        for (int k = 0; k < r->nfields && fi < 0; k++)
            if (!used[k] && strcmp(r->fields[k].name, wf->name) == 0) fi = k;
        for (int k = 0; k < r->nfields && fi < 0; k++)
            if (!used[k] && field_named(&r->fields[k], wf->name)) fi = k;
        if (fi < 0) {
            emit(cc, OP_SKIP, -1, add_skip(cc, wf->type), 0, 0);
            continue;
        }
        used[fi] = true;
        sd_buf_appendf(&cc->path, "%s%s", plen ? "." : "field ", r->fields[fi].name);
        st = compile_value(cc, wf->type, r->fields[fi].type, field_target(cc, r, fi, sp));
        cc->path.len = plen;
    }
    for (int k = 0; k < r->nfields && st == SD_OK; k++) {
        if (used[k]) continue;
        sd_buf_appendf(&cc->path, "%s%s", plen ? "." : "field ", r->fields[k].name);
        st = compile_default(cc, r, k, field_target(cc, r, k, sp));
        cc->path.len = plen;
    }
    free(used);
    if (st == SD_OK && struct_slot >= 0) emit(cc, OP_STRUCT, struct_slot, 0, 0, 0);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                    */
/* ------------------------------------------------------------------------ */

/* Smallest encoding of a writer value, in bytes (bounds array counts). */
static int min_size(const avro_node *n, int depth) {
    switch (n->kind) {
        case AVRO_KIND_NULL:
            return 0;
        case AVRO_KIND_FLOAT:
            return 4;
        case AVRO_KIND_DOUBLE:
            return 8;
        case AVRO_KIND_FIXED:
            return n->size;
        case AVRO_KIND_RECORD: {
            int s = 0;
            for (int i = 0; i < n->nfields && depth < AVRO_MAX_DEPTH && s < 1024; i++)
                s += min_size(n->fields[i].type, depth + 1);
            return s;
        }
        default:
            return 1;
    }
}

static sd_status compile_enum(compiler *cc, const avro_node *w, const avro_node *r, target t) {
    int map = add_ints(cc, w->nsymbols);
    for (int i = 0; i < w->nsymbols; i++) {
        int m = r->default_symbol;
        for (int k = 0; k < r->nsymbols; k++)
            if (strcmp(w->symbols[i], r->symbols[k]) == 0) m = k;
        cc->p->ints[map + i] = m;
    }
    int syms = -1;
    for (int k = 0; k < r->nsymbols; k++) {
        int at = add_str(cc, sd_xstrdup(r->symbols[k]));
        if (k == 0) syms = at;
    }
    emit(cc, OP_ENUM, t.slot, map, w->nsymbols, syms);
    return SD_OK;
}

static sd_status compile_collection(compiler *cc, const avro_node *w, const avro_node *r,
                                    target t) {
    bool is_map = r->kind == AVRO_KIND_MAP;
    int item_min = min_size(w->items, 0) + (is_map ? 1 : 0);
    int op = emit(cc, is_map ? OP_MAP : OP_ARRAY, t.slot, 0, item_min, 0);
    int body = cc->p->nops;
    target it = {0};
    if (is_map) {
        emit(cc, OP_STRING, t.slot + 1, 0, 0, 0);
        if (cc->opts->validate_utf8) cc->p->ops[cc->p->nops - 1].flags = OPF_UTF8;
        it.type = &t.type->children[1].type;
        it.slot = t.slot + 2;
    } else {
        it.type = &t.type->children[0].type;
        it.slot = t.slot + 1;
    }
    size_t plen = cc->path.len;
    sd_buf_append_str(&cc->path, is_map ? "{}" : "[]");
    sd_status st = compile_value(cc, w->items, r->items, it);
    cc->path.len = plen;
    if (st != SD_OK) return st;
    emit(cc, OP_LOOP_END, -1, body, 0, 0);
    cc->p->ops[op].arg = cc->p->nops;
    return SD_OK;
}

/* Both sides non-union, reader not null. */
static sd_status compile_plain(compiler *cc, const avro_node *w, const avro_node *r, target t) {
    if (!matches(w, r)) return incompatible(cc, w, r);
    if (r->kind == AVRO_KIND_RECORD) {
        if (t.span) return compile_record(cc, w, r, t, -1);
        target sp = {.span = true, .flat = false, .st = t.type, .base = t.slot};
        return compile_record(cc, w, r, sp, t.slot);
    }
    if (t.span)
        return sd_error_set(cc->err, SD_ERR_INTERNAL, "%s: flattened non-record", path_of(cc));
    sd_type_kind ck = t.type->kind;
    int mult = (r->logical == AVRO_LOGICAL_TIMESTAMP_MILLIS ||
                r->logical == AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS)
                   ? 1000
                   : 1;
    switch (r->kind) {
        case AVRO_KIND_BOOLEAN:
            emit(cc, OP_BOOL, t.slot, 0, 0, 0);
            return SD_OK;
        case AVRO_KIND_INT:
            emit(cc, OP_INT, t.slot, 0, 0, 0);
            return SD_OK;
        case AVRO_KIND_LONG:
            emit(cc, w->kind == AVRO_KIND_INT ? OP_INT_LONG : OP_LONG, t.slot, mult, 0, 0);
            return SD_OK;
        case AVRO_KIND_FLOAT:
            emit(cc,
                 w->kind == AVRO_KIND_INT    ? OP_INT_FLOAT
                 : w->kind == AVRO_KIND_LONG ? OP_LONG_FLOAT
                                             : OP_FLOAT,
                 t.slot, 0, 0, 0);
            return SD_OK;
        case AVRO_KIND_DOUBLE:
            emit(cc,
                 w->kind == AVRO_KIND_INT     ? OP_INT_DOUBLE
                 : w->kind == AVRO_KIND_LONG  ? OP_LONG_DOUBLE
                 : w->kind == AVRO_KIND_FLOAT ? OP_FLOAT_DOUBLE
                                              : OP_DOUBLE,
                 t.slot, 0, 0, 0);
            return SD_OK;
        case AVRO_KIND_STRING:
        case AVRO_KIND_BYTES:
            if (ck == SD_DECIMAL) {
                if (w->kind != AVRO_KIND_BYTES) return incompatible(cc, w, r);
                if (w->logical == AVRO_LOGICAL_DECIMAL && w->scale != r->scale)
                    return sd_error_set(cc->err, SD_ERR_FORMAT,
                                        "%s: writer decimal scale %d differs from the reader's %d",
                                        path_of(cc), w->scale, r->scale);
                emit(cc, OP_DEC_BYTES, t.slot, 0, 0, 0);
                return SD_OK;
            }
            emit(cc, OP_STRING, t.slot, 0, 0, 0);
            if (ck == SD_STRING && cc->opts->validate_utf8)
                cc->p->ops[cc->p->nops - 1].flags = OPF_UTF8;
            return SD_OK;
        case AVRO_KIND_FIXED:
            if (ck == SD_DECIMAL) {
                if (w->logical == AVRO_LOGICAL_DECIMAL && w->scale != r->scale)
                    return sd_error_set(cc->err, SD_ERR_FORMAT,
                                        "%s: writer decimal scale %d differs from the reader's %d",
                                        path_of(cc), w->scale, r->scale);
                emit(cc, OP_DEC_FIXED, t.slot, r->size, 0, 0);
            } else {
                emit(cc, OP_FIXED, t.slot, r->size, 0, 0);
            }
            return SD_OK;
        case AVRO_KIND_ENUM:
            return compile_enum(cc, w, r, t);
        case AVRO_KIND_ARRAY:
        case AVRO_KIND_MAP:
            return compile_collection(cc, w, r, t);
        default:
            return incompatible(cc, w, r);
    }
}

/* A non-union writer value into reader `r` (possibly a nullable union). */
static sd_status compile_single(compiler *cc, const avro_node *w, const avro_node *r, target t) {
    const avro_node *declared = r; /* a flattened null needs the record's width */
    if (r->kind == AVRO_KIND_UNION) {
        int b = pick_branch(w, r);
        if (b < 0) return incompatible(cc, w, r);
        r = r->branches[b];
    }
    if (r->kind == AVRO_KIND_NULL) {
        if (w->kind != AVRO_KIND_NULL) return incompatible(cc, w, r);
        emit_null(cc, declared, t);
        return SD_OK;
    }
    if (w->kind == AVRO_KIND_NULL) return incompatible(cc, w, r);
    return compile_plain(cc, w, r, t);
}

/* Writer union: a jump table over its branches. A branch the reader cannot
 * take becomes a per-record failure; if no branch fits at all, the pair is
 * incompatible. */
static sd_status compile_writer_union(compiler *cc, const avro_node *w, const avro_node *r,
                                      target t) {
    int nb = w->nbranches;
    emit(cc, OP_UNION, -1, nb, 0, 0);
    int table = cc->p->nops;
    for (int i = 0; i < nb; i++) emit(cc, OP_JUMP, -1, 0, 0, 0);
    int *ends = sd_xcalloc((size_t)(nb ? nb : 1), sizeof(int));
    int ok = 0;
    sd_error first = {0};
    for (int i = 0; i < nb; i++) {
        cc->p->ops[table + i].arg = cc->p->nops;
        int mark = cc->p->nops;
        sd_error berr = {0};
        sd_error *saved = cc->err;
        cc->err = &berr;
        sd_status st = compile_single(cc, w->branches[i], r, t);
        cc->err = saved;
        if (st == SD_OK) {
            ok++;
        } else if (st == SD_ERR_FORMAT) {
            cc->p->nops = mark; /* drop the partial branch */
            if (first.code == SD_OK) first = berr;
            emit(cc, OP_FAIL, -1, AVRO_REJECT_NO_MATCH,
                 add_str(cc, sd_xasprintf("writer union branch %d: %s", i, berr.msg)), 0);
        } else {
            free(ends);
            return sd_error_set(cc->err, st, "%s", berr.msg);
        }
        ends[i] = emit(cc, OP_JUMP, -1, 0, 0, 0);
    }
    for (int i = 0; i < nb; i++) cc->p->ops[ends[i]].arg = cc->p->nops;
    free(ends);
    if (ok == 0)
        return nb ? sd_error_set(cc->err, SD_ERR_FORMAT, "%s (no branch of the writer union fits)",
                                 first.msg)
                  : sd_error_set(cc->err, SD_ERR_FORMAT, "%s: empty writer union", path_of(cc));
    return SD_OK;
}

static sd_status compile_value(compiler *cc, const avro_node *w, const avro_node *r, target t) {
    if (++cc->depth > AVRO_MAX_DEPTH) {
        cc->depth--;
        return sd_error_set(cc->err, SD_ERR_UNSUPPORTED,
                            "%s: schema nesting deeper than %d (recursive type?)", path_of(cc),
                            AVRO_MAX_DEPTH);
    }
    sd_status st = w->kind == AVRO_KIND_UNION ? compile_writer_union(cc, w, r, t)
                                              : compile_single(cc, w, r, t);
    cc->depth--;
    return st;
}

/* ------------------------------------------------------------------------ */
/* Public                                                                    */
/* ------------------------------------------------------------------------ */

void avro_program_free(avro_program *p) {
    if (p == NULL) return;
    free(p->ops);
    sd_buf_free(&p->pool);
    free(p->ints);
    for (int i = 0; i < p->nstrs; i++) free(p->strs[i]);
    free(p->strs);
    free(p->skips);
    free(p->cols);
    free(p);
}

avro_program *avro_program_compile(const avro_schema *writer, const avro_schema *reader,
                                   const sd_schema *target_schema, const avro_decode_opts *opts,
                                   sd_error *err) {
    static const avro_decode_opts defaults = {0};
    if (opts == NULL) opts = &defaults;
    const avro_node *r = reader->root, *w = writer->root;
    if (r->kind != AVRO_KIND_RECORD) {
        sd_error_set(err, SD_ERR_UNSUPPORTED,
                     "Avro reader schema: top-level type must be a record");
        return NULL;
    }
    /* The target must be exactly the mapping of the reader. */
    sd_schema *expect = NULL;
    if (avro_to_sd_schema(reader, &opts->map, &expect, err) != SD_OK) return NULL;
    bool same = sd_type_equal(expect, target_schema);
    sd_schema_free(expect);
    if (!same) {
        sd_error_set(err, SD_ERR_ARG,
                     "Avro decode: the target columns are not the mapping of the reader schema");
        return NULL;
    }
    avro_program *p = sd_xcalloc(1, sizeof(*p));
    p->target = target_schema;
    p->nslots = avro_type_slots(target_schema) - 1;
    compiler cc = {.p = p, .opts = opts, .err = err};
    int ncols = target_schema->nchildren;
    cc.top_slots = sd_xcalloc((size_t)(ncols ? ncols : 1), sizeof(int));
    for (int i = 0, slot = 0; i < ncols; i++) {
        cc.top_slots[i] = slot;
        slot += avro_type_slots(&target_schema->children[i].type);
    }
    target root = {.span = true,
                   .flat = opts->map.flatten,
                   .st = target_schema,
                   .base = opts->map.flatten ? 0 : -1};
    sd_status st;
    if (w->kind == AVRO_KIND_UNION || w->kind == AVRO_KIND_RECORD) {
        st = compile_value(&cc, w, r, root);
    } else {
        st = incompatible(&cc, w, r);
    }
    if (st == SD_OK) emit(&cc, OP_END, -1, 0, 0, 0);
    free(cc.top_slots);
    sd_buf_free(&cc.path);
    if (st != SD_OK) {
        sd_error_prefix(err, "Avro schema resolution: ");
        avro_program_free(p);
        return NULL;
    }
    return p;
}
