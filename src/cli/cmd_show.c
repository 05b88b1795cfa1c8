/*
 * cmd_show.c - `streamdelta show TABLE`: the rows of a Delta table (like
 * Spark's df.show()), optionally as of an older version, projected to some
 * columns and filtered by a conjunction of simple comparisons.
 *
 * The --where conjuncts go to the Delta scan first (partition pruning and
 * file skipping on add.stats), then to each file reader (row-group
 * skipping on Parquet statistics); both only narrow what is read. Every
 * row read is then tested exactly here, so the output never depends on
 * which statistics the files carry.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cli_table.h"
#include "delta/delta.h"

#define CLI_SHOW_DEFAULT_LIMIT 20
/* A --where with more conjuncts than this is surely not typed by hand. */
#define CLI_SHOW_MAX_PREDICATES 64

static void cli_show_help(FILE *out) {
    fprintf(out, "usage: streamdelta show TABLE [--limit N] [--columns a,b] [--where COND]\n"
                 "                        [--version N] [--format table|csv|jsonl]\n\n"
                 "Print the rows of the Delta table at TABLE (deletion vectors applied).\n\n"
                 "options:\n"
                 "  --limit N      at most N rows; 0 = all (default 20 for table, all otherwise)\n"
                 "  --columns a,b  only these top-level columns, in this order (default: all,\n"
                 "                 in table order, partition columns where the schema has them)\n"
                 "  --where COND   col OP literal [and col OP literal ...], OP one of\n"
                 "                 = != <> < <= > >=, or col is null / col is not null.\n"
                 "                 Literals: numbers, true/false, 'text' (dates 'YYYY-MM-DD',\n"
                 "                 timestamps 'YYYY-MM-DD HH:MM:SS[.ffffff]' UTC)\n"
                 "  --version N    time travel: the table as of version N\n"
                 "  --format F     table (default; like Spark's df.show()), csv (header row,\n"
                 "                 RFC 4180, empty field for null) or jsonl\n\n"
                 "examples:\n"
                 "  streamdelta show ./tables/movie_ratings\n"
                 "  streamdelta show ./tables/movie_ratings --where \"rating_date >= '2024-05-01' "
                 "and rating > 7.5\"\n"
                 "  streamdelta show ./tables/movie_ratings --version 3 --format csv --limit 0\n");
}

typedef struct cli_show_args {
    const char *table;
    const char *limit;
    const char *columns;
    const char *where;
    const char *version;
    const char *format;
} cli_show_args;

static int cli_show_parse_args(int argc, char **argv, cli_show_args *a) {
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v = NULL;
        if ((v = cli_option_value(argc, argv, &i, "--limit", &missing)))
            a->limit = v;
        else if (!missing && (v = cli_option_value(argc, argv, &i, "--columns", &missing)))
            a->columns = v;
        else if (!missing && (v = cli_option_value(argc, argv, &i, "--where", &missing)))
            a->where = v;
        else if (!missing && (v = cli_option_value(argc, argv, &i, "--version", &missing)))
            a->version = v;
        else if (!missing && (v = cli_option_value(argc, argv, &i, "--format", &missing)))
            a->format = v;
        else if (missing)
            return cli_usage_error("show", "option '%s' needs a value", argv[i]);
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return cli_usage_error("show", "unknown option '%s'", argv[i]);
        else if (a->table != NULL)
            return cli_usage_error("show", "unexpected argument '%s'", argv[i]);
        else
            a->table = argv[i];
    }
    if (a->table == NULL) return cli_usage_error("show", "missing TABLE");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* --where                                                                   */
/* ------------------------------------------------------------------------ */

/* The parsed conjunction. Names and literal text are owned here; string
 * literals point into `texts`. */
typedef struct cli_where {
    int n;
    pq_predicate preds[CLI_SHOW_MAX_PREDICATES];
    int cols[CLI_SHOW_MAX_PREDICATES]; /* schema index of each predicate's column */
    char *names[CLI_SHOW_MAX_PREDICATES];
    char *texts[CLI_SHOW_MAX_PREDICATES];
} cli_where;

static void cli_where_free(cli_where *w) {
    for (int i = 0; i < w->n; i++) {
        free(w->names[i]);
        free(w->texts[i]);
    }
    w->n = 0;
}

typedef struct cli_lex {
    const char *s;
    size_t pos;
} cli_lex;

static void cli_lex_space(cli_lex *l) {
    while (isspace((unsigned char)l->s[l->pos])) l->pos++;
}

/* A bare word (letters, digits, _ . - + :), or NULL-length. */
static size_t cli_lex_word(cli_lex *l, const char **w) {
    cli_lex_space(l);
    *w = l->s + l->pos;
    size_t n = 0;
    /* strchr would also find the terminating NUL: test it first. */
    while ((*w)[n] != '\0' && (isalnum((unsigned char)(*w)[n]) || strchr("_.-+:", (*w)[n]))) n++;
    return n;
}

static bool cli_lex_keyword(cli_lex *l, const char *kw) {
    const char *w;
    size_t n = cli_lex_word(l, &w);
    if (n != strlen(kw) || strncasecmp(w, kw, n) != 0) return false;
    l->pos += n;
    return true;
}

/* A column name: a word or a `quoted` name. NULL (message in err) if
 * none. */
static char *cli_lex_name(cli_lex *l, sd_error *err) {
    cli_lex_space(l);
    if (l->s[l->pos] == '`') {
        const char *end = strchr(l->s + l->pos + 1, '`');
        if (end == NULL) {
            sd_error_set(err, SD_ERR_ARG, "--where, offset %zu: unclosed '`'", l->pos);
            return NULL;
        }
        char *name = sd_xstrndup(l->s + l->pos + 1, (size_t)(end - l->s - l->pos - 1));
        l->pos = (size_t)(end - l->s) + 1;
        return name;
    }
    size_t start = l->pos;
    while (isalnum((unsigned char)l->s[l->pos]) || l->s[l->pos] == '_') l->pos++;
    if (l->pos == start) {
        sd_error_set(err, SD_ERR_ARG, "--where, offset %zu: expected a column name, found '%.20s'",
                     start, l->s + start);
        return NULL;
    }
    return sd_xstrndup(l->s + start, l->pos - start);
}

static bool cli_lex_op(cli_lex *l, pq_cmp_op *op) {
    cli_lex_space(l);
    static const struct {
        const char *text;
        pq_cmp_op op;
    } ops[] = {{"<=", PQ_LE}, {">=", PQ_GE}, {"!=", PQ_NE}, {"<>", PQ_NE},
               {"==", PQ_EQ}, {"=", PQ_EQ},  {"<", PQ_LT},  {">", PQ_GT}};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        size_t n = strlen(ops[i].text);
        if (strncmp(l->s + l->pos, ops[i].text, n) == 0) {
            l->pos += n;
            *op = ops[i].op;
            return true;
        }
    }
    return false;
}

/* A literal's text: 'quoted' ('' doubles a quote), "quoted", or a bare
 * word (a number, true/false). NULL and an error if none. */
static char *cli_lex_literal(cli_lex *l, sd_error *err) {
    cli_lex_space(l);
    char q = l->s[l->pos];
    if (q == '\'' || q == '"') {
        sd_buf b = SD_BUF_INIT;
        size_t p = l->pos + 1;
        for (;;) {
            if (l->s[p] == '\0') {
                sd_buf_free(&b);
                sd_error_set(err, SD_ERR_ARG, "--where, offset %zu: unclosed quote", l->pos);
                return NULL;
            }
            if (l->s[p] == q && l->s[p + 1] == q) {
                sd_buf_append_byte(&b, (uint8_t)q);
                p += 2;
                continue;
            }
            if (l->s[p] == q) break;
            sd_buf_append_byte(&b, (uint8_t)l->s[p++]);
        }
        l->pos = p + 1;
        char *text = sd_xstrndup((const char *)(b.data ? b.data : (const uint8_t *)""), b.len);
        sd_buf_free(&b);
        return text;
    }
    const char *w;
    size_t n = cli_lex_word(l, &w);
    if (n == 0) {
        sd_error_set(err, SD_ERR_ARG, "--where, offset %zu: expected a literal, found '%.20s'",
                     l->pos, l->s + l->pos);
        return NULL;
    }
    l->pos += n;
    return sd_xstrndup(w, n);
}

/* An exact decimal literal at `scale` ("-12.3" at scale 2 = -1230).
 * False when it is not a number or has more fraction digits than the
 * scale (it could not equal any value of the column exactly). */
static bool cli_parse_decimal(const char *s, int precision, int scale, __int128 *out) {
    bool neg = *s == '-';
    if (*s == '-' || *s == '+') s++;
    __int128 v = 0;
    int digits = 0, frac = -1;
    for (; *s; s++) {
        if (*s == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (!isdigit((unsigned char)*s)) return false;
        if (frac >= 0 && ++frac > scale) return false;
        v = v * 10 + (*s - '0');
        if (++digits > 38) return false;
    }
    if (digits == 0) return false;
    for (int i = frac < 0 ? 0 : frac; i < scale; i++) v *= 10;
    __int128 limit = 1;
    for (int i = 0; i < precision; i++) limit *= 10;
    if (v >= limit) return false;
    *out = neg ? -v : v;
    return true;
}

/* The literal `text` as a value of the column's type (strings borrow
 * text). SD_ERR_ARG naming the column when it does not fit. */
static sd_status cli_literal_value(const char *col, const sd_type *t, const char *text, sd_value *v,
                                   sd_error *err) {
    memset(v, 0, sizeof(*v));
    v->kind = t->kind;
    v->precision = t->precision;
    v->scale = t->scale;
    char *end = NULL;
    errno = 0;
    switch (t->kind) {
        case SD_BOOL:
            if (strcasecmp(text, "true") == 0 || strcasecmp(text, "false") == 0) {
                v->u.b = strcasecmp(text, "true") == 0;
                return SD_OK;
            }
            break;
        case SD_INT8:
        case SD_INT16:
        case SD_INT32:
        case SD_INT64: {
            long long x = strtoll(text, &end, 10);
            long long lo = t->kind == SD_INT8    ? INT8_MIN
                           : t->kind == SD_INT16 ? INT16_MIN
                           : t->kind == SD_INT32 ? INT32_MIN
                                                 : INT64_MIN;
            long long hi = t->kind == SD_INT8    ? INT8_MAX
                           : t->kind == SD_INT16 ? INT16_MAX
                           : t->kind == SD_INT32 ? INT32_MAX
                                                 : INT64_MAX;
            if (*text && *end == '\0' && errno == 0 && x >= lo && x <= hi) {
                v->u.i = x;
                return SD_OK;
            }
            break;
        }
        case SD_FLOAT:
        case SD_DOUBLE: {
            double x = strtod(text, &end);
            if (*text && *end == '\0' && !isspace((unsigned char)*text)) {
                /* A float column holds float values: compare with the
                 * literal rounded to float, as the user means "3.1". */
                v->u.d = t->kind == SD_FLOAT ? (double)(float)x : x;
                return SD_OK;
            }
            break;
        }
        case SD_DECIMAL:
            if (cli_parse_decimal(text, t->precision, t->scale, &v->u.dec)) return SD_OK;
            return sd_error_set(err, SD_ERR_ARG,
                                "--where: '%s' is not a valid literal for column '%s' of type "
                                "decimal(%d,%d) (at most %d digits before and %d after the point)",
                                text, col, t->precision, t->scale, t->precision - t->scale,
                                t->scale);
        case SD_STRING:
            v->u.s.ptr = (const uint8_t *)text;
            v->u.s.len = strlen(text);
            return SD_OK;
        case SD_DATE: {
            int32_t days;
            if (sd_parse_date(text, strlen(text), &days)) {
                v->u.i = days;
                return SD_OK;
            }
            break;
        }
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ: {
            int64_t micros;
            int32_t days;
            if (sd_parse_timestamp(text, strlen(text), &micros)) {
                v->u.i = micros;
                return SD_OK;
            }
            if (sd_parse_date(text, strlen(text), &days)) {
                v->u.i = (int64_t)days * 86400 * 1000000;
                return SD_OK;
            }
            break;
        }
        default:
            return sd_error_set(err, SD_ERR_ARG,
                                "--where: column '%s' is of type %s, which cannot be compared", col,
                                sd_type_kind_name(t->kind));
    }
    return sd_error_set(err, SD_ERR_ARG, "--where: '%s' is not a valid %s literal for column '%s'",
                        text, sd_type_kind_name(t->kind), col);
}

/* Parse one conjunct at the lexer's position into w->preds[w->n]. */
static sd_status cli_where_conjunct(cli_lex *l, const sd_schema *schema, cli_where *w,
                                    sd_error *err) {
    if (w->n >= CLI_SHOW_MAX_PREDICATES)
        return sd_error_set(err, SD_ERR_ARG, "--where: more than %d conditions",
                            CLI_SHOW_MAX_PREDICATES);
    int k = w->n;
    w->texts[k] = NULL;
    w->names[k] = cli_lex_name(l, err);
    if (w->names[k] == NULL) return err->code;
    w->n++;
    pq_predicate *p = &w->preds[k];
    p->path = w->names[k];
    int col = sd_schema_find(schema, w->names[k]);
    if (col < 0) {
        sd_buf names = SD_BUF_INIT;
        for (int i = 0; i < schema->nchildren; i++)
            sd_buf_appendf(&names, "%s%s", i ? ", " : "", schema->children[i].name);
        sd_error_set(err, SD_ERR_NOT_FOUND, "--where: unknown column '%s' (columns: %s)",
                     w->names[k], sd_buf_cstr(&names));
        sd_buf_free(&names);
        return err->code;
    }
    w->cols[k] = col;
    const sd_type *t = &schema->children[col].type;
    if (cli_lex_keyword(l, "is")) {
        bool negated = cli_lex_keyword(l, "not");
        if (!cli_lex_keyword(l, "null"))
            return sd_error_set(err, SD_ERR_ARG, "--where, offset %zu: expected NULL after IS",
                                l->pos);
        p->op = negated ? PQ_IS_NOT_NULL : PQ_IS_NULL;
        p->value.kind = t->kind;
        p->value.is_null = true;
        return SD_OK;
    }
    if (!cli_lex_op(l, &p->op))
        return sd_error_set(err, SD_ERR_ARG,
                            "--where, offset %zu: expected = != < <= > >= or IS [NOT] NULL after "
                            "'%s', found '%.20s'",
                            l->pos, w->names[k], l->s + l->pos);
    if (sd_type_is_nested(t->kind) || t->kind == SD_BINARY)
        return sd_error_set(err, SD_ERR_ARG, "--where: column '%s' (%s) cannot be compared",
                            w->names[k], sd_type_kind_name(t->kind));
    w->texts[k] = cli_lex_literal(l, err);
    if (w->texts[k] == NULL) return err->code;
    return cli_literal_value(w->names[k], t, w->texts[k], &p->value, err);
}

/* Parse "a = 1 and b is null ..." against the table schema. */
static sd_status cli_where_parse(const char *text, const sd_schema *schema, cli_where *w,
                                 sd_error *err) {
    cli_lex l = {text, 0};
    w->n = 0;
    do {
        if (cli_where_conjunct(&l, schema, w, err) != SD_OK) return err->code;
    } while (cli_lex_keyword(&l, "and"));
    cli_lex_space(&l);
    if (text[l.pos] != '\0')
        return sd_error_set(err, SD_ERR_ARG,
                            "--where, offset %zu: expected AND or the end, found '%.20s' (only "
                            "conjunctions of comparisons are supported)",
                            l.pos, text + l.pos);
    return SD_OK;
}

/* Does row `row` satisfy every conjunct? `cols[i]` is the batch column of
 * predicate i. A comparison with null is false, as in SQL. */
static bool cli_where_match(const cli_where *w, const sd_batch *b, const int *cols, size_t row) {
    for (int i = 0; i < w->n; i++) {
        const sd_column *c = &b->cols[cols[i]];
        bool is_null = !sd_column_is_valid(c, row);
        const pq_predicate *p = &w->preds[i];
        if (p->op == PQ_IS_NULL) {
            if (!is_null) return false;
            continue;
        }
        if (p->op == PQ_IS_NOT_NULL) {
            if (is_null) return false;
            continue;
        }
        if (is_null) return false;
        sd_value v = sd_column_get(c, row);
        int r = sd_value_compare(&v, &p->value);
        bool ok = p->op == PQ_EQ   ? r == 0
                  : p->op == PQ_NE ? r != 0
                  : p->op == PQ_LT ? r < 0
                  : p->op == PQ_LE ? r <= 0
                  : p->op == PQ_GT ? r > 0
                                   : r >= 0;
        if (!ok) return false;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Copying selected rows                                                     */
/* ------------------------------------------------------------------------ */

/* Append row `row` of `src` to `dst` (same type), nested values too. */
static void cli_copy_value(sd_column *dst, const sd_column *src, size_t row) {
    if (!sd_column_is_valid(src, row)) {
        sd_column_append_null(dst);
        return;
    }
    switch (src->type->kind) {
        case SD_STRUCT:
            for (int i = 0; i < src->nchildren; i++)
                cli_copy_value(&dst->children[i], &src->children[i], row);
            sd_column_append_struct(dst);
            return;
        case SD_LIST:
        case SD_MAP: {
            int64_t start = src->offsets[row], end = src->offsets[row + 1];
            for (int64_t j = start; j < end; j++)
                for (int i = 0; i < src->nchildren; i++)
                    cli_copy_value(&dst->children[i], &src->children[i], (size_t)j);
            sd_column_append_list(dst, (size_t)(end - start));
            return;
        }
        default:
            break;
    }
    sd_value v = sd_column_get(src, row);
    sd_column_append_value(dst, &v);
}

/* ------------------------------------------------------------------------ */
/* The command                                                               */
/* ------------------------------------------------------------------------ */

/* What to read: the output columns first, then columns only the filter
 * needs. */
typedef struct cli_show_plan {
    int nout;
    int nread;
    char **read_names; /* borrowed from the schema */
    int *pred_cols;    /* batch column of each predicate */
    sd_schema *out_schema;
} cli_show_plan;

static void cli_show_plan_free(cli_show_plan *p) {
    free(p->read_names);
    free(p->pred_cols);
    if (p->out_schema) sd_schema_free(p->out_schema);
}

/* Append schema column `col` to the read list unless present; returns its
 * position. */
static int cli_plan_read(cli_show_plan *p, const sd_schema *schema, int col) {
    for (int i = 0; i < p->nread; i++)
        if (strcmp(p->read_names[i], schema->children[col].name) == 0) return i;
    p->read_names[p->nread] = schema->children[col].name;
    return p->nread++;
}

static int cli_show_plan_make(const sd_schema *schema, const char *columns, const cli_where *w,
                              cli_show_plan *p) {
    memset(p, 0, sizeof(*p));
    p->read_names = sd_xcalloc((size_t)schema->nchildren + 1, sizeof(char *));
    p->pred_cols = sd_xcalloc((size_t)w->n + 1, sizeof(int));
    p->out_schema = sd_schema_new();
    if (columns == NULL) {
        for (int i = 0; i < schema->nchildren; i++) cli_plan_read(p, schema, i);
    } else {
        const char *s = columns;
        for (;;) {
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);
            while (len > 0 && *s == ' ') s++, len--;
            while (len > 0 && s[len - 1] == ' ') len--;
            char *name = sd_xstrndup(s, len);
            int k = len ? sd_schema_find(schema, name) : -1;
            int rc = 0, before = p->nread;
            if (k < 0) {
                sd_buf names = SD_BUF_INIT;
                for (int i = 0; i < schema->nchildren; i++)
                    sd_buf_appendf(&names, "%s%s", i ? ", " : "", schema->children[i].name);
                rc = cli_usage_error("show", "--columns: unknown column '%s' (columns: %s)", name,
                                     sd_buf_cstr(&names));
                sd_buf_free(&names);
            } else {
                cli_plan_read(p, schema, k); /* adds nothing for a repeated name */
                if (p->nread == before)
                    rc = cli_usage_error("show", "--columns: column '%s' listed twice", name);
            }
            free(name);
            if (rc != 0) return rc;
            if (comma == NULL) break;
            s = comma + 1;
        }
    }
    p->nout = p->nread;
    for (int i = 0; i < p->nout; i++) {
        const sd_field *f = &schema->children[sd_schema_find(schema, p->read_names[i])];
        sd_field *o = sd_type_add_field(p->out_schema, f->name, SD_STRUCT, f->nullable);
        sd_type_clear(&o->type);
        sd_type_copy(&o->type, &f->type);
    }
    for (int i = 0; i < w->n; i++) p->pred_cols[i] = cli_plan_read(p, schema, w->cols[i]);
    return 0;
}

/* Read one file through the filter into the printer. Sets *extra when a
 * matching row beyond the printer's limit was seen. */
static sd_status cli_show_file(const delta_snapshot *s, const delta_file *file,
                               const cli_show_plan *plan, const cli_where *w, cli_printer *pr,
                               size_t limit, size_t *taken, sd_batch *out, bool *extra,
                               sd_error *err) {
    delta_file_reader *r =
        delta_file_reader_open(s, file, (const char *const *)plan->read_names, plan->nread, err);
    if (r == NULL) return err->code;
    sd_status st = w->n ? delta_file_reader_set_filter(r, w->preds, w->n, err) : SD_OK;
    while (st == SD_OK && !*extra) {
        sd_batch b;
        bool more = false;
        st = delta_file_reader_next(r, &b, &more, err);
        if (st != SD_OK || !more) break;
        sd_batch_reset(out);
        for (size_t row = 0; row < b.nrows && !*extra; row++) {
            if (!cli_where_match(w, &b, plan->pred_cols, row)) continue;
            if (limit > 0 && *taken >= limit) {
                *extra = true; /* a matching row beyond the limit: "only showing" */
                break;
            }
            for (int c = 0; c < plan->nout; c++) cli_copy_value(&out->cols[c], &b.cols[c], row);
            out->nrows++;
            (*taken)++;
        }
        if (out->nrows > 0) cli_printer_add(pr, out);
        sd_batch_free(&b);
    }
    delta_file_reader_close(r);
    return st;
}

static int cli_show_run(const delta_snapshot *s, const cli_show_args *a, cli_format_kind kind,
                        size_t limit) {
    const sd_schema *schema = delta_snapshot_schema(s);
    sd_error err = {0};
    cli_where w = {0};
    if (a->where && cli_where_parse(a->where, schema, &w, &err) != SD_OK) {
        cli_where_free(&w);
        return cli_usage_error("show", "%s", err.msg);
    }
    cli_show_plan plan;
    int rc = cli_show_plan_make(schema, a->columns, &w, &plan);
    const delta_file **files = NULL;
    size_t nfiles = 0;
    if (rc == 0 && delta_scan_files(s, w.preds, w.n, &files, &nfiles, &err) != SD_OK)
        rc = cli_fail(&err);
    if (rc == 0) {
        cli_printer *pr = cli_printer_new(kind, plan.out_schema, stdout, limit);
        sd_batch out;
        sd_batch_init(&out, plan.out_schema);
        bool extra = false;
        size_t taken = 0;
        for (size_t i = 0; i < nfiles && !extra; i++)
            if (cli_show_file(s, files[i], &plan, &w, pr, limit, &taken, &out, &extra, &err) !=
                SD_OK)
                break;
        sd_batch_free(&out);
        /* With a limit, rows beyond it exist when the printer filled up and
         * at least one more matching row was seen. */
        cli_printer_finish(pr, extra);
        if (err.code != SD_OK) rc = cli_fail(&err);
    }
    free(files);
    cli_show_plan_free(&plan);
    cli_where_free(&w);
    return rc;
}

int cli_cmd_show(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_show_help(stdout);
        return CLI_EXIT_OK;
    }
    cli_show_args a;
    int rc = cli_show_parse_args(argc, argv, &a);
    if (rc != 0) return rc;
    sd_error err = {0};
    cli_format_kind kind = CLI_FMT_TABLE;
    if (a.format && cli_format_parse(a.format, &kind, &err) != SD_OK)
        return cli_usage_error("show", "%s", err.msg);
    int64_t limit = kind == CLI_FMT_TABLE ? CLI_SHOW_DEFAULT_LIMIT : 0;
    if (a.limit && !cli_table_parse_count(a.limit, &limit))
        return cli_usage_error("show", "--limit '%s' is not a row count (0 = all)", a.limit);
    int64_t version = -1;
    if (a.version && !cli_table_parse_count(a.version, &version))
        return cli_usage_error("show", "--version '%s' is not a version number", a.version);

    delta_snapshot *s;
    if (delta_snapshot_load(a.table, version, &s, &err) != SD_OK) return cli_fail(&err);
    rc = cli_show_run(s, &a, kind, (size_t)limit);
    delta_snapshot_free(s);
    return rc;
}
