/*
 * cli_ddl.c - the Spark SQL column list of `streamdelta create-table
 * --columns`: "name TYPE [NOT NULL] [COMMENT 'text'], ..." with the types
 * Spark's DDL parser accepts for Delta tables:
 *
 *   STRING, BOOLEAN, TINYINT/BYTE, SMALLINT/SHORT, INT/INTEGER,
 *   BIGINT/LONG, FLOAT/REAL, DOUBLE, DECIMAL[(p[,s])]/DEC/NUMERIC, DATE,
 *   TIMESTAMP, TIMESTAMP_NTZ, BINARY, ARRAY<T>, MAP<K, V>,
 *   STRUCT<name[:] T [NOT NULL], ...>
 *
 * Keywords are case-insensitive; names may be `back-quoted`. Every error
 * names the byte offset in the text and what was expected there.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_table.h"

/* Nested types deeper than this are surely a mistake (Spark has no limit,
 * but the recursion of the parser must be bounded). */
#define CLI_DDL_MAX_DEPTH 32
/* Spark's DECIMAL precision limit. */
#define CLI_DDL_MAX_PRECISION 38

typedef struct cli_ddl {
    const char *text;
    size_t pos;
    sd_error *err;
} cli_ddl;

static void cli_ddl_space(cli_ddl *d) {
    while (isspace((unsigned char)d->text[d->pos])) d->pos++;
}

static sd_status cli_ddl_fail(cli_ddl *d, const char *expected) {
    const char *at = d->text + d->pos;
    if (*at == '\0')
        return sd_error_set(d->err, SD_ERR_ARG,
                            "column list, offset %zu: expected %s, found the end", d->pos,
                            expected);
    return sd_error_set(d->err, SD_ERR_ARG, "column list, offset %zu: expected %s, found '%.20s'",
                        d->pos, expected, at);
}

/* Consume the character `c` (after spaces) if it is next. */
static bool cli_ddl_accept(cli_ddl *d, char c) {
    cli_ddl_space(d);
    if (d->text[d->pos] != c) return false;
    d->pos++;
    return true;
}

/* A word of letters, digits and underscores (after spaces); length 0 if
 * none. */
static size_t cli_ddl_word(cli_ddl *d, const char **start) {
    cli_ddl_space(d);
    *start = d->text + d->pos;
    size_t n = 0;
    while (isalnum((unsigned char)(*start)[n]) || (*start)[n] == '_') n++;
    return n;
}

/* Consume keyword `kw` if it is the next word. */
static bool cli_ddl_keyword(cli_ddl *d, const char *kw) {
    const char *w;
    size_t n = cli_ddl_word(d, &w);
    if (n != strlen(kw) || strncasecmp(w, kw, n) != 0) return false;
    d->pos += n;
    return true;
}

/* A column or field name: a word or a `quoted` name (`` doubles a
 * backquote). Returns a new string or NULL (error set). */
static char *cli_ddl_name(cli_ddl *d) {
    cli_ddl_space(d);
    if (d->text[d->pos] == '`') {
        sd_buf b = SD_BUF_INIT;
        size_t p = d->pos + 1;
        for (;;) {
            char c = d->text[p];
            if (c == '\0') {
                sd_buf_free(&b);
                d->pos = p;
                cli_ddl_fail(d, "a closing '`'");
                return NULL;
            }
            if (c == '`' && d->text[p + 1] == '`') {
                sd_buf_append_byte(&b, '`');
                p += 2;
                continue;
            }
            if (c == '`') break;
            sd_buf_append_byte(&b, (uint8_t)c);
            p++;
        }
        d->pos = p + 1;
        if (b.len == 0) {
            sd_buf_free(&b);
            cli_ddl_fail(d, "a non-empty name");
            return NULL;
        }
        char *name = sd_xstrdup(sd_buf_cstr(&b));
        sd_buf_free(&b);
        return name;
    }
    const char *w;
    size_t n = cli_ddl_word(d, &w);
    if (n == 0) {
        cli_ddl_fail(d, "a column name");
        return NULL;
    }
    d->pos += n;
    return sd_xstrndup(w, n);
}

/* A small non-negative integer (DECIMAL arguments). */
static sd_status cli_ddl_int(cli_ddl *d, int *out) {
    cli_ddl_space(d);
    size_t start = d->pos;
    long v = 0;
    while (isdigit((unsigned char)d->text[d->pos]) && v <= 1000)
        v = v * 10 + (d->text[d->pos++] - '0');
    if (d->pos == start || v > 1000) {
        d->pos = start;
        return cli_ddl_fail(d, "a number");
    }
    *out = (int)v;
    return SD_OK;
}

static sd_status cli_ddl_type(cli_ddl *d, sd_type *t, int depth);

/* DECIMAL[(p[,s])] - Spark's default is decimal(10,0). `at` is where the
 * type starts, for the message. */
static sd_status cli_ddl_decimal(cli_ddl *d, sd_type *t, size_t at) {
    t->kind = SD_DECIMAL;
    t->precision = 10;
    t->scale = 0;
    if (!cli_ddl_accept(d, '(')) return SD_OK;
    if (cli_ddl_int(d, &t->precision) != SD_OK) return d->err->code;
    if (cli_ddl_accept(d, ',') && cli_ddl_int(d, &t->scale) != SD_OK) return d->err->code;
    if (!cli_ddl_accept(d, ')')) return cli_ddl_fail(d, "')' after the DECIMAL arguments");
    if (t->precision < 1 || t->precision > CLI_DDL_MAX_PRECISION || t->scale > t->precision)
        return sd_error_set(d->err, SD_ERR_ARG,
                            "column list, offset %zu: DECIMAL(%d,%d) is invalid (precision 1..%d, "
                            "scale 0..precision)",
                            at, t->precision, t->scale, CLI_DDL_MAX_PRECISION);
    return SD_OK;
}

/* NOT NULL after a type: returns the nullability. */
static bool cli_ddl_nullable(cli_ddl *d) {
    size_t save = d->pos;
    if (cli_ddl_keyword(d, "NOT")) {
        if (cli_ddl_keyword(d, "NULL")) return false;
        d->pos = save;
    }
    return true;
}

/* STRUCT<name[:] T [NOT NULL] [COMMENT '...'], ...> after "STRUCT". */
static sd_status cli_ddl_struct(cli_ddl *d, sd_type *t, int depth) {
    t->kind = SD_STRUCT;
    if (!cli_ddl_accept(d, '<')) return cli_ddl_fail(d, "'<' after STRUCT");
    if (cli_ddl_accept(d, '>'))
        return sd_error_set(d->err, SD_ERR_ARG,
                            "column list, offset %zu: STRUCT<> needs at "
                            "least one field",
                            d->pos);
    do {
        char *name = cli_ddl_name(d);
        if (name == NULL) return d->err->code;
        for (int i = 0; i < t->nchildren; i++)
            if (strcmp(t->children[i].name, name) == 0) {
                sd_status st =
                    sd_error_set(d->err, SD_ERR_ARG,
                                 "column list, offset %zu: field '%s' appears twice", d->pos, name);
                free(name);
                return st;
            }
        sd_field *f = sd_type_add_field(t, name, SD_STRUCT, true);
        free(name);
        cli_ddl_accept(d, ':');
        if (cli_ddl_type(d, &f->type, depth + 1) != SD_OK) return d->err->code;
        f->nullable = cli_ddl_nullable(d);
    } while (cli_ddl_accept(d, ','));
    if (!cli_ddl_accept(d, '>')) return cli_ddl_fail(d, "',' or '>' in STRUCT<...>");
    return SD_OK;
}

/* ARRAY<T> or MAP<K, V> after the keyword. */
static sd_status cli_ddl_collection(cli_ddl *d, sd_type *t, bool is_map, int depth) {
    t->kind = is_map ? SD_MAP : SD_LIST;
    if (!cli_ddl_accept(d, '<'))
        return cli_ddl_fail(d, is_map ? "'<' after MAP" : "'<' after ARRAY");
    if (is_map) {
        sd_field *k = sd_type_add_field(t, "key", SD_STRUCT, false);
        if (cli_ddl_type(d, &k->type, depth + 1) != SD_OK) return d->err->code;
        if (!cli_ddl_accept(d, ','))
            return cli_ddl_fail(d, "',' between the MAP key and value types");
        sd_field *v = sd_type_add_field(t, "value", SD_STRUCT, true);
        if (cli_ddl_type(d, &v->type, depth + 1) != SD_OK) return d->err->code;
    } else {
        sd_field *e = sd_type_add_field(t, "element", SD_STRUCT, true);
        if (cli_ddl_type(d, &e->type, depth + 1) != SD_OK) return d->err->code;
    }
    if (!cli_ddl_accept(d, '>')) return cli_ddl_fail(d, "'>'");
    return SD_OK;
}

/* Primitive type names and their kinds. */
static const struct {
    const char *name;
    sd_type_kind kind;
} cli_ddl_primitives[] = {
    {"STRING", SD_STRING},
    {"BOOLEAN", SD_BOOL},
    {"TINYINT", SD_INT8},
    {"BYTE", SD_INT8},
    {"SMALLINT", SD_INT16},
    {"SHORT", SD_INT16},
    {"INT", SD_INT32},
    {"INTEGER", SD_INT32},
    {"BIGINT", SD_INT64},
    {"LONG", SD_INT64},
    {"FLOAT", SD_FLOAT},
    {"REAL", SD_FLOAT},
    {"DOUBLE", SD_DOUBLE},
    {"DATE", SD_DATE},
    {"TIMESTAMP", SD_TIMESTAMP},
    {"TIMESTAMP_LTZ", SD_TIMESTAMP},
    {"TIMESTAMP_NTZ", SD_TIMESTAMP_NTZ},
    {"BINARY", SD_BINARY},
};

/* One type into `t` (whose kind is a placeholder, no children yet). */
static sd_status cli_ddl_type(cli_ddl *d, sd_type *t, int depth) {
    if (depth > CLI_DDL_MAX_DEPTH)
        return sd_error_set(d->err, SD_ERR_ARG,
                            "column list, offset %zu: types nested deeper than %d levels", d->pos,
                            CLI_DDL_MAX_DEPTH);
    const char *w;
    size_t n = cli_ddl_word(d, &w);
    if (n == 0) return cli_ddl_fail(d, "a type (STRING, INT, DECIMAL(p,s), ARRAY<...>, ...)");
    size_t at = d->pos;
    d->pos += n;
    for (size_t i = 0; i < sizeof(cli_ddl_primitives) / sizeof(cli_ddl_primitives[0]); i++)
        if (strlen(cli_ddl_primitives[i].name) == n &&
            strncasecmp(w, cli_ddl_primitives[i].name, n) == 0) {
            t->kind = cli_ddl_primitives[i].kind;
            return SD_OK;
        }
    if ((n == 7 && strncasecmp(w, "DECIMAL", 7) == 0) ||
        (n == 3 && strncasecmp(w, "DEC", 3) == 0) || (n == 7 && strncasecmp(w, "NUMERIC", 7) == 0))
        return cli_ddl_decimal(d, t, at);
    if (n == 5 && strncasecmp(w, "ARRAY", 5) == 0) return cli_ddl_collection(d, t, false, depth);
    if (n == 3 && strncasecmp(w, "MAP", 3) == 0) return cli_ddl_collection(d, t, true, depth);
    if (n == 6 && strncasecmp(w, "STRUCT", 6) == 0) return cli_ddl_struct(d, t, depth);
    d->pos = at;
    return sd_error_set(d->err, SD_ERR_ARG,
                        "column list, offset %zu: unknown type '%.*s' (expected STRING, BOOLEAN, "
                        "TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL(p,s), DATE, "
                        "TIMESTAMP, TIMESTAMP_NTZ, BINARY, ARRAY<T>, MAP<K,V> or STRUCT<...>)",
                        at, (int)n, w);
}

/* COMMENT 'text' after a column: accepted and ignored (Delta keeps
 * comments in column metadata, which our schemas do not carry). */
static sd_status cli_ddl_comment(cli_ddl *d) {
    if (!cli_ddl_keyword(d, "COMMENT")) return SD_OK;
    cli_ddl_space(d);
    char q = d->text[d->pos];
    if (q != '\'' && q != '"') return cli_ddl_fail(d, "a quoted comment");
    size_t p = d->pos + 1;
    while (d->text[p] != '\0' && d->text[p] != q) p += d->text[p] == '\\' && d->text[p + 1] ? 2 : 1;
    if (d->text[p] != q) return cli_ddl_fail(d, "a closing quote of the comment");
    d->pos = p + 1;
    return SD_OK;
}

sd_status cli_ddl_parse(const char *text, sd_schema **out, sd_error *err) {
    cli_ddl d = {text, 0, err};
    sd_schema *s = sd_schema_new();
    do {
        size_t at = (cli_ddl_space(&d), d.pos);
        char *name = cli_ddl_name(&d);
        if (name == NULL) goto fail;
        if (sd_schema_find(s, name) >= 0) {
            sd_error_set(err, SD_ERR_ARG, "column list, offset %zu: column '%s' appears twice", at,
                         name);
            free(name);
            goto fail;
        }
        sd_field *f = sd_type_add_field(s, name, SD_STRUCT, true);
        free(name);
        if (cli_ddl_type(&d, &f->type, 1) != SD_OK) goto fail;
        f->nullable = cli_ddl_nullable(&d);
        if (cli_ddl_comment(&d) != SD_OK) goto fail;
    } while (cli_ddl_accept(&d, ','));
    cli_ddl_space(&d);
    if (text[d.pos] != '\0') {
        cli_ddl_fail(&d, "',' or the end of the column list");
        goto fail;
    }
    *out = s;
    return SD_OK;
fail:
    sd_schema_free(s);
    return err->code ? err->code : SD_ERR_ARG;
}
