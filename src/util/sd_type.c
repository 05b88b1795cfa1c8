/*
 * sd_type.c - logical types and schemas (trees of named fields).
 */
#include <stdlib.h>
#include <string.h>

#include "util.h"

size_t sd_type_width(sd_type_kind kind) {
    switch (kind) {
        case SD_BOOL:
        case SD_INT8:
            return 1;
        case SD_INT16:
            return 2;
        case SD_INT32:
        case SD_DATE:
        case SD_FLOAT:
            return 4;
        case SD_INT64:
        case SD_DOUBLE:
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ:
            return 8;
        case SD_DECIMAL:
            return 16;
        default:
            return 0;
    }
}

const char *sd_type_kind_name(sd_type_kind kind) {
    switch (kind) {
        case SD_BOOL:
            return "boolean";
        case SD_INT8:
            return "byte";
        case SD_INT16:
            return "short";
        case SD_INT32:
            return "integer";
        case SD_INT64:
            return "long";
        case SD_FLOAT:
            return "float";
        case SD_DOUBLE:
            return "double";
        case SD_DECIMAL:
            return "decimal";
        case SD_STRING:
            return "string";
        case SD_BINARY:
            return "binary";
        case SD_DATE:
            return "date";
        case SD_TIMESTAMP:
            return "timestamp";
        case SD_TIMESTAMP_NTZ:
            return "timestamp_ntz";
        case SD_STRUCT:
            return "struct";
        case SD_LIST:
            return "array";
        case SD_MAP:
            return "map";
    }
    return "unknown";
}

bool sd_type_is_nested(sd_type_kind kind) {
    return kind == SD_STRUCT || kind == SD_LIST || kind == SD_MAP;
}

sd_schema *sd_schema_new(void) {
    sd_schema *s = sd_xcalloc(1, sizeof(*s));
    s->kind = SD_STRUCT;
    return s;
}

sd_field *sd_type_add_field(sd_type *parent, const char *name, sd_type_kind kind, bool nullable) {
    parent->children =
        sd_xrealloc(parent->children, sizeof(sd_field) * (size_t)(parent->nchildren + 1));
    sd_field *f = &parent->children[parent->nchildren++];
    memset(f, 0, sizeof(*f));
    f->name = sd_xstrdup(name);
    f->type.kind = kind;
    f->nullable = nullable;
    return f;
}

void sd_type_copy(sd_type *dst, const sd_type *src) {
    *dst = *src;
    dst->children = NULL;
    if (src->nchildren > 0) {
        dst->children = sd_xcalloc((size_t)src->nchildren, sizeof(sd_field));
        for (int i = 0; i < src->nchildren; i++) {
            dst->children[i].name = sd_xstrdup(src->children[i].name);
            dst->children[i].nullable = src->children[i].nullable;
            sd_type_copy(&dst->children[i].type, &src->children[i].type);
        }
    }
}

void sd_type_clear(sd_type *t) {
    for (int i = 0; i < t->nchildren; i++) {
        free(t->children[i].name);
        sd_type_clear(&t->children[i].type);
    }
    free(t->children);
    t->children = NULL;
    t->nchildren = 0;
}

void sd_schema_free(sd_schema *s) {
    if (s == NULL) return;
    sd_type_clear(s);
    free(s);
}

int sd_schema_find(const sd_schema *s, const char *name) {
    for (int i = 0; i < s->nchildren; i++)
        if (strcmp(s->children[i].name, name) == 0) return i;
    return -1;
}

bool sd_type_equal(const sd_type *a, const sd_type *b) {
    if (a->kind != b->kind || a->nchildren != b->nchildren) return false;
    if (a->kind == SD_DECIMAL && (a->precision != b->precision || a->scale != b->scale))
        return false;
    for (int i = 0; i < a->nchildren; i++) {
        if (strcmp(a->children[i].name, b->children[i].name) != 0) return false;
        if (a->children[i].nullable != b->children[i].nullable) return false;
        if (!sd_type_equal(&a->children[i].type, &b->children[i].type)) return false;
    }
    return true;
}

void sd_type_format(const sd_type *t, sd_buf *out) {
    switch (t->kind) {
        case SD_INT8:
            sd_buf_append_str(out, "tinyint");
            return;
        case SD_INT16:
            sd_buf_append_str(out, "smallint");
            return;
        case SD_INT32:
            sd_buf_append_str(out, "int");
            return;
        case SD_INT64:
            sd_buf_append_str(out, "bigint");
            return;
        case SD_DECIMAL:
            sd_buf_appendf(out, "decimal(%d,%d)", t->precision, t->scale);
            return;
        case SD_STRUCT:
            sd_buf_append_str(out, "struct<");
            for (int i = 0; i < t->nchildren; i++) {
                if (i) sd_buf_append_byte(out, ',');
                sd_buf_appendf(out, "%s:", t->children[i].name);
                sd_type_format(&t->children[i].type, out);
            }
            sd_buf_append_byte(out, '>');
            return;
        case SD_LIST:
            sd_buf_append_str(out, "array<");
            if (t->nchildren > 0) sd_type_format(&t->children[0].type, out);
            sd_buf_append_byte(out, '>');
            return;
        case SD_MAP:
            sd_buf_append_str(out, "map<");
            if (t->nchildren > 1) {
                sd_type_format(&t->children[0].type, out);
                sd_buf_append_byte(out, ',');
                sd_type_format(&t->children[1].type, out);
            }
            sd_buf_append_byte(out, '>');
            return;
        default:
            sd_buf_append_str(out, sd_type_kind_name(t->kind));
            return;
    }
}
