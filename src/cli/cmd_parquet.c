/*
 * cmd_parquet.c - `streamdelta parquet schema|cat|meta FILE`: look inside a
 * Parquet file (ours or another engine's) with the project's own reader.
 *
 *   schema  the logical schema, as pq_file_format_schema() renders it
 *   cat     the rows, as a table, CSV or JSON lines (cli_format.c); reads
 *           one row group at a time and stops once enough rows are printed
 *   meta    row groups, column chunks, codecs, encodings, statistics
 *
 * Exit codes as cli.h says: 0 ok, 1 the file could not be read (the
 * reader's message, which names the file), 2 bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "parquet/parquet.h"

/* `table` shows the first 20 rows as Spark's show() does; the machine
 * formats print everything unless asked otherwise. */
#define CLI_TABLE_DEFAULT_LIMIT 20

static void cli_parquet_help(FILE *out) {
    fprintf(out, "usage: streamdelta parquet <command> FILE [options]\n\n"
                 "Inspect a Parquet file with streamdelta's own reader.\n\n"
                 "commands:\n"
                 "  schema FILE   print the file's logical schema\n"
                 "  cat FILE      print the rows (--columns, --limit, --format)\n"
                 "  meta FILE     print row groups, column chunks, codecs and statistics\n\n"
                 "Run 'streamdelta parquet <command> --help' for the options of a command.\n");
}

static void cli_parquet_schema_help(FILE *out) {
    fprintf(out, "usage: streamdelta parquet schema FILE\n\n"
                 "Print the logical schema of FILE: one line per column with its type\n"
                 "and nullability, nested fields indented.\n");
}

static void cli_parquet_meta_help(FILE *out) {
    fprintf(out, "usage: streamdelta parquet meta FILE\n\n"
                 "Print the footer of FILE: rows, row groups, and per column chunk the\n"
                 "physical type, codec, encodings, sizes and statistics.\n");
}

static void cli_parquet_cat_help(FILE *out) {
    fprintf(out, "usage: streamdelta parquet cat FILE [--columns a,b] [--limit N] [--format F]\n\n"
                 "Print the rows of FILE.\n\n"
                 "options:\n"
                 "  --columns a,b   only these top-level columns, in this order\n"
                 "  --limit N       at most N rows; 0 = all (default 20 for table, all otherwise)\n"
                 "  --format F      table (default; like Spark's df.show()), csv (RFC 4180,\n"
                 "                  header row, empty field for null) or jsonl (one JSON\n"
                 "                  object per row)\n");
}

/* The options of one subcommand after parsing. */
typedef struct cli_parquet_args {
    const char *file;
    const char *columns; /* comma-separated, or NULL for all */
    const char *limit;   /* text as given, or NULL */
    const char *format;  /* or NULL */
} cli_parquet_args;

/* Parse argv (argv[0] = the subcommand) into `a`. `with_cat_options`
 * allows --columns/--limit/--format. Returns 0 or the usage exit code
 * (message printed). */
static int cli_parquet_parse_args(const char *cmd, int argc, char **argv, bool with_cat_options,
                                  cli_parquet_args *a) {
    memset(a, 0, sizeof(*a));
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            bool missing = false;
            const char **slot = NULL;
            const char *v = NULL;
            if (with_cat_options) {
                if ((v = cli_option_value(argc, argv, &i, "--columns", &missing)) || missing)
                    slot = &a->columns;
                else if ((v = cli_option_value(argc, argv, &i, "--limit", &missing)) || missing)
                    slot = &a->limit;
                else if ((v = cli_option_value(argc, argv, &i, "--format", &missing)) || missing)
                    slot = &a->format;
            }
            if (missing) return cli_usage_error(cmd, "option '%s' needs a value", arg);
            if (slot == NULL) return cli_usage_error(cmd, "unknown option '%s'", arg);
            *slot = v;
            continue;
        }
        if (a->file != NULL) return cli_usage_error(cmd, "unexpected argument '%s'", arg);
        a->file = arg;
    }
    if (a->file == NULL) return cli_usage_error(cmd, "missing FILE");
    return 0;
}

/* Open the file or print the reader's error. */
static pq_file *cli_parquet_open(const char *path, int *rc) {
    sd_error err = {0};
    pq_file *f = pq_file_open(path, &err);
    if (f == NULL) *rc = cli_fail(&err);
    return f;
}

static int cli_parquet_schema(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_parquet_schema_help(stdout);
        return CLI_EXIT_OK;
    }
    cli_parquet_args a;
    int rc = cli_parquet_parse_args("parquet schema", argc, argv, false, &a);
    if (rc != 0) return rc;
    pq_file *f = cli_parquet_open(a.file, &rc);
    if (f == NULL) return rc;
    sd_buf text = SD_BUF_INIT;
    pq_file_format_schema(f, &text);
    fwrite(text.data, 1, text.len, stdout);
    sd_buf_free(&text);
    pq_file_close(f);
    return CLI_EXIT_OK;
}

static int cli_parquet_meta(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_parquet_meta_help(stdout);
        return CLI_EXIT_OK;
    }
    cli_parquet_args a;
    int rc = cli_parquet_parse_args("parquet meta", argc, argv, false, &a);
    if (rc != 0) return rc;
    pq_file *f = cli_parquet_open(a.file, &rc);
    if (f == NULL) return rc;
    sd_buf text = SD_BUF_INIT;
    pq_file_format_meta(f, &text);
    fwrite(text.data, 1, text.len, stdout);
    sd_buf_free(&text);
    pq_file_close(f);
    return CLI_EXIT_OK;
}

/* A row count: digits only, no sign, no overflow. */
static bool cli_parse_limit(const char *s, size_t *out) {
    if (s[0] < '0' || s[0] > '9') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > SIZE_MAX) return false;
    *out = (size_t)v;
    return true;
}

/* Resolve "--columns a,b" against the file schema into top-level indexes
 * (caller frees *out). Returns 0 or the usage exit code. */
static int cli_parquet_columns(const pq_file *f, const char *path, const char *list, int **out,
                               int *count) {
    const sd_schema *s = pq_file_schema(f);
    int cap = 1;
    for (const char *c = list; *c; c++) cap += *c == ',';
    int *idx = sd_xmalloc((size_t)cap * sizeof(int));
    int n = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *name = sd_xstrndup(p, len);
        int k = len ? sd_schema_find(s, name) : -1;
        int rc = 0;
        if (len == 0)
            rc = cli_usage_error("parquet cat", "empty column name in --columns '%s'", list);
        else if (k < 0) {
            sd_buf names = SD_BUF_INIT;
            for (int i = 0; i < s->nchildren; i++)
                sd_buf_appendf(&names, "%s%s", i ? ", " : "", s->children[i].name);
            rc = cli_usage_error("parquet cat", "%s: unknown column '%s' (columns: %s)", path, name,
                                 sd_buf_cstr(&names));
            sd_buf_free(&names);
        }
        for (int i = 0; i < n && rc == 0; i++)
            if (idx[i] == k)
                rc = cli_usage_error("parquet cat", "column '%s' listed twice in --columns", name);
        free(name);
        if (rc != 0) {
            free(idx);
            return rc;
        }
        idx[n++] = k;
        if (comma == NULL) break;
        p = comma + 1;
    }
    *out = idx;
    *count = n;
    return 0;
}

/* Print the rows: row group by row group, until the printer is full. */
static int cli_parquet_print_rows(pq_file *f, const int *cols, int ncols, cli_format_kind kind,
                                  size_t limit) {
    const sd_schema *schema = cols ? pq_file_projection(f, cols, ncols) : pq_file_schema(f);
    cli_printer *p = cli_printer_new(kind, schema, stdout, limit);
    sd_error err = {0};
    int rc = CLI_EXIT_OK;
    sd_batch b = {0}; /* reused from row group to row group */
    for (int rg = 0; rg < pq_file_num_row_groups(f) && !cli_printer_full(p); rg++) {
        if (pq_read_row_group_into(f, rg, cols, ncols, &b, &err) != SD_OK) {
            rc = CLI_EXIT_FAIL;
            break;
        }
        cli_printer_add(p, &b); /* the printer copies what it keeps */
    }
    sd_batch_free(&b);
    /* More rows exist when we stopped at the limit before the file's end. */
    bool more = rc == CLI_EXIT_OK && cli_printer_full(p) && pq_file_num_rows(f) > (int64_t)limit;
    cli_printer_finish(p, more);
    return rc == CLI_EXIT_OK ? rc : cli_fail(&err);
}

static int cli_parquet_cat(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_parquet_cat_help(stdout);
        return CLI_EXIT_OK;
    }
    cli_parquet_args a;
    int rc = cli_parquet_parse_args("parquet cat", argc, argv, true, &a);
    if (rc != 0) return rc;

    cli_format_kind kind = CLI_FMT_TABLE;
    sd_error err = {0};
    if (a.format && cli_format_parse(a.format, &kind, &err) != SD_OK)
        return cli_usage_error("parquet cat", "%s", err.msg);
    size_t limit = kind == CLI_FMT_TABLE ? CLI_TABLE_DEFAULT_LIMIT : 0;
    if (a.limit && !cli_parse_limit(a.limit, &limit))
        return cli_usage_error("parquet cat", "--limit '%s' is not a row count (0 = all)", a.limit);

    pq_file *f = cli_parquet_open(a.file, &rc);
    if (f == NULL) return rc;
    int *cols = NULL, ncols = 0;
    if (a.columns) rc = cli_parquet_columns(f, a.file, a.columns, &cols, &ncols);
    if (rc == 0) rc = cli_parquet_print_rows(f, cols, ncols, kind, limit);
    free(cols);
    pq_file_close(f);
    return rc;
}

int cli_cmd_parquet(int argc, char **argv) {
    if (argc < 2) {
        cli_parquet_help(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
        cli_parquet_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(sub, "schema") == 0) return cli_parquet_schema(argc - 1, argv + 1);
    if (strcmp(sub, "cat") == 0) return cli_parquet_cat(argc - 1, argv + 1);
    if (strcmp(sub, "meta") == 0) return cli_parquet_meta(argc - 1, argv + 1);
    return cli_usage_error("parquet", "unknown command '%s' (expected schema, cat or meta)", sub);
}
