/*
 * avro_type.c - the columnar type an Avro reader schema decodes into.
 *
 * The mapping is the contract between this file and avro_resolve.c: the
 * resolver walks the reader schema in the same order and expects exactly
 * these columns (it checks). Only a union of null and one type has a column
 * type (a nullable column); a general union would need a struct of
 * branches, which no consumer of ours wants, so it is refused by name.
 */
#include <stdlib.h>
#include <string.h>

#include "avro/avro_internal.h"

typedef struct map_ctx {
    const avro_map_opts *opts;
    sd_error *err;
} map_ctx;

static sd_status map_value(map_ctx *m, const avro_node *n, sd_type *parent, const char *name,
                           bool nullable, const char *path, int depth, bool top);

/* Fields of record `n` as children of `parent`; with flattening, nested
 * records contribute their own fields as prefix_child. */
static sd_status map_fields(map_ctx *m, const avro_node *n, sd_type *parent, const char *prefix,
                            bool nullable, const char *path, int depth, bool top) {
    for (int i = 0; i < n->nfields; i++) {
        const avro_field *f = &n->fields[i];
        char *name = prefix ? sd_xasprintf("%s_%s", prefix, f->name) : sd_xstrdup(f->name);
        char *fpath = path[0] ? sd_xasprintf("%s.%s", path, f->name) : sd_xstrdup(f->name);
        sd_status st = map_value(m, f->type, parent, name, nullable, fpath, depth + 1, top);
        free(name);
        free(fpath);
        if (st != SD_OK) return st;
    }
    return SD_OK;
}

static sd_status map_value(map_ctx *m, const avro_node *n, sd_type *parent, const char *name,
                           bool nullable, const char *path, int depth, bool top) {
    if (depth > AVRO_MAX_DEPTH)
        return sd_error_set(m->err, SD_ERR_UNSUPPORTED,
                            "Avro field %s: nesting deeper than %d (recursive type?) has no column "
                            "layout",
                            path, AVRO_MAX_DEPTH);
    if (n->kind == AVRO_KIND_UNION) {
        const avro_node *v;
        if (n->nbranches == 1)
            return map_value(m, n->branches[0], parent, name, nullable, path, depth, top);
        if (!avro_union_nullable(n, &v, NULL))
            return sd_error_set(m->err, SD_ERR_UNSUPPORTED,
                                "Avro field %s: only a union of null and one type maps to a "
                                "column; this union has %d branches",
                                path, n->nbranches);
        if (v->kind == AVRO_KIND_NULL)
            return sd_error_set(m->err, SD_ERR_UNSUPPORTED, "Avro field %s: union of two nulls",
                                path);
        return map_value(m, v, parent, name, true, path, depth, top);
    }
    bool nul = nullable || m->opts->all_nullable;
    /* Flattening: the record's fields become columns prefix_field of the
     * top level; a null record makes every one of them null. */
    if (n->kind == AVRO_KIND_RECORD && top)
        return map_fields(m, n, parent, name, nullable, path, depth, true);
    sd_type_kind kind;
    switch (n->kind) {
        case AVRO_KIND_NULL:
            return sd_error_set(m->err, SD_ERR_UNSUPPORTED,
                                "Avro field %s: type null alone has no column type", path);
        case AVRO_KIND_BOOLEAN:
            kind = SD_BOOL;
            break;
        case AVRO_KIND_INT:
            kind = n->logical == AVRO_LOGICAL_DATE ? SD_DATE : SD_INT32;
            break;
        case AVRO_KIND_LONG:
            kind = (n->logical == AVRO_LOGICAL_TIMESTAMP_MILLIS ||
                    n->logical == AVRO_LOGICAL_TIMESTAMP_MICROS)
                       ? SD_TIMESTAMP
                   : (n->logical == AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS ||
                      n->logical == AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS)
                       ? SD_TIMESTAMP_NTZ
                       : SD_INT64;
            break;
        case AVRO_KIND_FLOAT:
            kind = SD_FLOAT;
            break;
        case AVRO_KIND_DOUBLE:
            kind = SD_DOUBLE;
            break;
        case AVRO_KIND_STRING:
        case AVRO_KIND_ENUM:
            kind = SD_STRING;
            break;
        case AVRO_KIND_BYTES:
        case AVRO_KIND_FIXED:
            kind = n->logical == AVRO_LOGICAL_DECIMAL ? SD_DECIMAL : SD_BINARY;
            break;
        case AVRO_KIND_RECORD:
            kind = SD_STRUCT;
            break;
        case AVRO_KIND_ARRAY:
            kind = SD_LIST;
            break;
        case AVRO_KIND_MAP:
            kind = SD_MAP;
            break;
        default:
            return sd_error_set(m->err, SD_ERR_INTERNAL, "Avro field %s: unexpected type", path);
    }
    if (kind == SD_DECIMAL && n->precision > 38)
        return sd_error_set(m->err, SD_ERR_UNSUPPORTED,
                            "Avro field %s: decimal(%d,%d) exceeds the 38 digits a column holds",
                            path, n->precision, n->scale);
    sd_field *f = sd_type_add_field(parent, name, kind, nul);
    if (kind == SD_DECIMAL) {
        f->type.precision = n->precision;
        f->type.scale = n->scale;
    }
    if (kind == SD_STRUCT) return map_fields(m, n, &f->type, NULL, false, path, depth, false);
    if (kind == SD_LIST)
        return map_value(m, n->items, &f->type, "element", false, path, depth + 1, false);
    if (kind == SD_MAP) {
        sd_type_add_field(&f->type, "key", SD_STRING, false);
        return map_value(m, n->items, &f->type, "value", false, path, depth + 1, false);
    }
    return SD_OK;
}

sd_status avro_to_sd_schema(const avro_schema *reader, const avro_map_opts *opts, sd_schema **out,
                            sd_error *err) {
    static const avro_map_opts defaults = {0};
    map_ctx m = {.opts = opts ? opts : &defaults, .err = err};
    const avro_node *root = reader->root;
    *out = NULL;
    if (root->kind != AVRO_KIND_RECORD)
        return sd_error_set(err, SD_ERR_UNSUPPORTED,
                            "Avro schema: the top-level type is %s; a table needs a record whose "
                            "fields are its columns",
                            avro_kind_name(root->kind));
    sd_schema *s = sd_schema_new();
    sd_status st = map_fields(&m, root, s, NULL, false, "", 0, m.opts->flatten);
    if (st == SD_OK) {
        for (int i = 0; i < s->nchildren && st == SD_OK; i++)
            for (int j = 0; j < i; j++)
                if (strcmp(s->children[i].name, s->children[j].name) == 0) {
                    st = sd_error_set(err, SD_ERR_UNSUPPORTED,
                                      "Avro schema: flattening makes two columns named \"%s\"",
                                      s->children[i].name);
                    break;
                }
    }
    if (st != SD_OK) {
        sd_schema_free(s);
        return st;
    }
    *out = s;
    return SD_OK;
}

int avro_type_slots(const sd_type *t) {
    int n = 1;
    for (int i = 0; i < t->nchildren; i++) n += avro_type_slots(&t->children[i].type);
    return n;
}
