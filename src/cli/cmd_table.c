/*
 * cmd_table.c - the Delta table commands other than `show` (cmd_show.c):
 *
 *   create-table TABLE [--columns DDL] [--partitioned-by a,b] [--property k=v]...
 *   history TABLE [--limit N] [--format table|csv|jsonl]
 *   describe TABLE [--version N]
 *   checkpoint TABLE
 *
 * Everything goes through delta.h; this file parses options and prints.
 * Exit codes as cli.h says: 0 ok, 1 the operation failed (the Delta
 * layer's message, naming the table and log file), 2 bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cli_table.h"
#include "delta/delta.h"

/* The sink table of the default pipeline (DESIGN.md), used when
 * create-table gets no --columns. */
#define CLI_DEFAULT_COLUMNS                                                                        \
    "event_id STRING, user_id STRING, movie_id STRING, rating FLOAT, is_approved BOOLEAN, "        \
    "rating_timestamp BIGINT, rating_date DATE"
#define CLI_DEFAULT_PARTITION "rating_date"

#define CLI_HISTORY_DEFAULT_LIMIT 20

bool cli_table_parse_count(const char *s, int64_t *out) {
    if (s[0] < '0' || s[0] > '9') return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0) return false;
    *out = (int64_t)v;
    return true;
}

/* ------------------------------------------------------------------------ */
/* create-table                                                              */
/* ------------------------------------------------------------------------ */

static void cli_create_table_help(FILE *out) {
    fprintf(out,
            "usage: streamdelta create-table TABLE [--columns DDL] [--partitioned-by a,b]\n"
            "                                [--property key=value]...\n\n"
            "Create an empty Delta table at the directory TABLE (version 0: protocol,\n"
            "metaData and commitInfo). Protocol (1,2) unless a column type needs more\n"
            "(TIMESTAMP_NTZ: (3,7) with the timestampNtz feature).\n\n"
            "options:\n"
            "  --columns DDL         Spark SQL column list: name TYPE [NOT NULL], ...\n"
            "                        Types: STRING BOOLEAN TINYINT SMALLINT INT BIGINT FLOAT\n"
            "                        DOUBLE DECIMAL(p,s) DATE TIMESTAMP TIMESTAMP_NTZ BINARY\n"
            "                        ARRAY<T> MAP<K,V> STRUCT<name: T, ...>\n"
            "                        (default: the movie_ratings table of the default pipeline,\n"
            "                        " CLI_DEFAULT_COLUMNS ",\n"
            "                        partitioned by " CLI_DEFAULT_PARTITION ")\n"
            "  --partitioned-by a,b  partition columns (top-level primitive columns);\n"
            "                        also accepted: --partitioned-by \"PARTITIONED BY (a, b)\"\n"
            "  --property k=v        a table property (metaData.configuration), repeatable,\n"
            "                        e.g. delta.checkpointInterval=10\n\n"
            "examples:\n"
            "  streamdelta create-table ./tables/movie_ratings\n"
            "  streamdelta create-table ./tables/t --columns \"id BIGINT NOT NULL, tags "
            "ARRAY<STRING>, day DATE\" \\\n"
            "      --partitioned-by day --property delta.checkpointInterval=5\n");
}

/* Split "a, b" / "(a, b)" / "PARTITIONED BY (a, b)" into names (caller
 * frees each and the array). Returns 0 or the usage exit code. */
static int cli_split_partition_columns(const char *text, char ***out, int *count) {
    const char *p = text;
    while (*p == ' ') p++;
    if (strncasecmp(p, "PARTITIONED", 11) == 0) {
        p += 11;
        while (*p == ' ') p++;
        if (strncasecmp(p, "BY", 2) != 0)
            return cli_usage_error("create-table", "--partitioned-by '%s': expected BY", text);
        p += 2;
    }
    char **names = NULL;
    int n = 0;
    sd_buf cur = SD_BUF_INIT;
    for (;; p++) {
        char c = *p;
        if (c == '(' || c == ')' || c == '`') continue;
        if (c == ',' || c == '\0') {
            /* trim */
            size_t s = 0, e = cur.len;
            while (s < e && cur.data[s] == ' ') s++;
            while (e > s && cur.data[e - 1] == ' ') e--;
            if (e > s) {
                names = sd_xrealloc(names, (size_t)(n + 1) * sizeof(char *));
                names[n++] = sd_xstrndup((const char *)cur.data + s, e - s);
            } else if (c == ',' || n == 0) {
                for (int i = 0; i < n; i++) free(names[i]);
                free(names);
                sd_buf_free(&cur);
                return cli_usage_error("create-table", "--partitioned-by '%s': empty column name",
                                       text);
            }
            sd_buf_reset(&cur);
            if (c == '\0') break;
            continue;
        }
        sd_buf_append_byte(&cur, (uint8_t)c);
    }
    sd_buf_free(&cur);
    *out = names;
    *count = n;
    return 0;
}

/* "key=value" options into a map (strings borrowed from argv but split:
 * the caller frees keys). Returns 0 or the usage exit code. */
static int cli_add_property(delta_map *m, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (eq == NULL || eq == kv)
        return cli_usage_error("create-table", "--property '%s': expected key=value", kv);
    for (size_t i = 0; i < m->count; i++)
        if (strncmp(m->items[i].key, kv, (size_t)(eq - kv)) == 0 &&
            m->items[i].key[eq - kv] == '\0')
            return cli_usage_error("create-table", "--property '%.*s' given twice", (int)(eq - kv),
                                   kv);
    m->items = sd_xrealloc(m->items, (m->count + 1) * sizeof(delta_kv));
    m->items[m->count].key = sd_xstrndup(kv, (size_t)(eq - kv));
    m->items[m->count].value = eq + 1;
    m->count++;
    return 0;
}

int cli_cmd_create_table(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_create_table_help(stdout);
        return CLI_EXIT_OK;
    }
    const char *table = NULL, *columns = NULL, *partitioned = NULL;
    delta_map props = {0};
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        bool missing = false;
        const char *v;
        if ((v = cli_option_value(argc, argv, &i, "--columns", &missing)))
            columns = v;
        else if ((v = cli_option_value(argc, argv, &i, "--partitioned-by", &missing)))
            partitioned = v;
        else if ((v = cli_option_value(argc, argv, &i, "--property", &missing)))
            rc = cli_add_property(&props, v);
        else if (missing)
            rc = cli_usage_error("create-table", "option '%s' needs a value", argv[i]);
        else if (argv[i][0] == '-')
            rc = cli_usage_error("create-table", "unknown option '%s'", argv[i]);
        else if (table != NULL)
            rc = cli_usage_error("create-table", "unexpected argument '%s'", argv[i]);
        else
            table = argv[i];
    }
    if (rc == 0 && table == NULL) rc = cli_usage_error("create-table", "missing TABLE");
    if (rc == 0 && columns == NULL && partitioned == NULL) partitioned = CLI_DEFAULT_PARTITION;

    sd_error err = {0};
    sd_schema *schema = NULL;
    char **parts = NULL;
    int nparts = 0;
    if (rc == 0 && cli_ddl_parse(columns ? columns : CLI_DEFAULT_COLUMNS, &schema, &err) != SD_OK)
        rc = cli_usage_error("create-table", "--columns: %s", err.msg);
    if (rc == 0 && partitioned) rc = cli_split_partition_columns(partitioned, &parts, &nparts);
    for (int i = 0; rc == 0 && i < nparts; i++)
        if (sd_schema_find(schema, parts[i]) < 0)
            rc = cli_usage_error("create-table", "partition column '%s' is not in the column list",
                                 parts[i]);
    if (rc == 0) {
        if (delta_table_create(table, schema, (const char *const *)parts, nparts, &props, &err) !=
            SD_OK) {
            /* The Delta layer says "<path>: a Delta table already exists there". */
            rc = cli_fail(&err);
        } else {
            sd_buf t = SD_BUF_INIT;
            sd_type_format(schema, &t);
            printf("created table %s (version 0): %s", table, sd_buf_cstr(&t));
            if (nparts > 0) {
                printf(", partitioned by ");
                for (int i = 0; i < nparts; i++) printf("%s%s", i ? ", " : "", parts[i]);
            }
            printf("\n");
            sd_buf_free(&t);
        }
    }
    for (int i = 0; i < nparts; i++) free(parts[i]);
    free(parts);
    for (size_t i = 0; i < props.count; i++) free((char *)props.items[i].key);
    free(props.items);
    if (schema) sd_schema_free(schema);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Options shared by history / describe / checkpoint                         */
/* ------------------------------------------------------------------------ */

typedef struct cli_table_args {
    const char *table;
    const char *limit;
    const char *format;
    const char *version;
} cli_table_args;

/* Parse TABLE plus the options allowed by the flags. Returns 0 or the
 * usage exit code. */
static int cli_table_parse(const char *cmd, int argc, char **argv, bool limit_format, bool version,
                           cli_table_args *a) {
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v = NULL;
        if (limit_format && (v = cli_option_value(argc, argv, &i, "--limit", &missing)))
            a->limit = v;
        else if (limit_format && (v = cli_option_value(argc, argv, &i, "--format", &missing)))
            a->format = v;
        else if (version && (v = cli_option_value(argc, argv, &i, "--version", &missing)))
            a->version = v;
        else if (missing)
            return cli_usage_error(cmd, "option '%s' needs a value", argv[i]);
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        else if (a->table != NULL)
            return cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        else
            a->table = argv[i];
    }
    if (a->table == NULL) return cli_usage_error(cmd, "missing TABLE");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* history                                                                   */
/* ------------------------------------------------------------------------ */

static void cli_history_help(FILE *out) {
    fprintf(out, "usage: streamdelta history TABLE [--limit N] [--format table|csv|jsonl]\n\n"
                 "Print the commits still in the table's log, newest first: version,\n"
                 "timestamp (UTC), operation, operationParameters and operationMetrics\n"
                 "(the JSON objects of commitInfo).\n\n"
                 "options:\n"
                 "  --limit N    the newest N commits; 0 = all (default 20 for table, all\n"
                 "               otherwise)\n"
                 "  --format F   table (default, like Spark's DESCRIBE HISTORY ... show()),\n"
                 "               csv or jsonl\n\n"
                 "examples:\n"
                 "  streamdelta history ./tables/movie_ratings\n"
                 "  streamdelta history ./tables/movie_ratings --format jsonl --limit 5\n");
}

/* Member `key` of a commitInfo object as compact JSON text, or null. */
static void cli_history_member(const sd_json *ci, const char *key, sd_column *col, sd_buf *tmp) {
    const sd_json *m = ci ? sd_json_get(ci, key) : NULL;
    if (m == NULL || m->kind == SD_JSON_NULL) {
        sd_column_append_null(col);
        return;
    }
    sd_buf_reset(tmp);
    if (m->kind == SD_JSON_STRING)
        sd_buf_append(tmp, m->text, m->text_len);
    else
        sd_json_append(tmp, m);
    sd_column_append_bytes(col, tmp->data, tmp->len);
}

static sd_schema *cli_history_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "version", SD_INT64, false);
    sd_type_add_field(s, "timestamp", SD_TIMESTAMP, true);
    sd_type_add_field(s, "operation", SD_STRING, true);
    sd_type_add_field(s, "operationParameters", SD_STRING, true);
    sd_type_add_field(s, "operationMetrics", SD_STRING, true);
    return s;
}

int cli_cmd_history(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_history_help(stdout);
        return CLI_EXIT_OK;
    }
    cli_table_args a;
    int rc = cli_table_parse("history", argc, argv, true, false, &a);
    if (rc != 0) return rc;
    sd_error err = {0};
    cli_format_kind kind = CLI_FMT_TABLE;
    if (a.format && cli_format_parse(a.format, &kind, &err) != SD_OK)
        return cli_usage_error("history", "%s", err.msg);
    int64_t limit = kind == CLI_FMT_TABLE ? CLI_HISTORY_DEFAULT_LIMIT : 0;
    if (a.limit && !cli_table_parse_count(a.limit, &limit))
        return cli_usage_error("history", "--limit '%s' is not a count (0 = all)", a.limit);

    /* One more than asked, to tell the table format that more exist. */
    delta_history_entry *h = NULL;
    size_t n = 0;
    if (delta_history_read(a.table, limit > 0 ? limit + 1 : 0, &h, &n, &err) != SD_OK)
        return cli_fail(&err);
    bool more = limit > 0 && n > (size_t)limit;
    if (more) n = (size_t)limit;

    sd_schema *schema = cli_history_schema();
    sd_batch b;
    sd_batch_init(&b, schema);
    sd_buf tmp = SD_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        sd_column_append_i64(&b.cols[0], h[i].version);
        if (h[i].timestamp >= 0)
            sd_column_append_i64(&b.cols[1], h[i].timestamp * 1000);
        else
            sd_column_append_null(&b.cols[1]);
        if (h[i].operation)
            sd_column_append_bytes(&b.cols[2], h[i].operation, strlen(h[i].operation));
        else
            sd_column_append_null(&b.cols[2]);
        sd_error jerr = {0};
        sd_json *ci = h[i].commit_info
                          ? sd_json_parse(h[i].commit_info, strlen(h[i].commit_info), &jerr)
                          : NULL;
        cli_history_member(ci, "operationParameters", &b.cols[3], &tmp);
        cli_history_member(ci, "operationMetrics", &b.cols[4], &tmp);
        sd_json_free(ci);
        b.nrows++;
    }
    cli_printer *p = cli_printer_new(kind, schema, stdout, 0);
    cli_printer_add(p, &b);
    cli_printer_finish(p, more);
    sd_buf_free(&tmp);
    sd_batch_free(&b);
    sd_schema_free(schema);
    delta_history_free(h, n + (more ? 1 : 0));
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* describe                                                                  */
/* ------------------------------------------------------------------------ */

static void cli_describe_help(FILE *out) {
    fprintf(out, "usage: streamdelta describe TABLE [--version N]\n\n"
                 "Print what the log says about the table, in sections: schema,\n"
                 "partitioning, protocol and table features, properties, and the number\n"
                 "and total size of its live data files.\n\n"
                 "examples:\n"
                 "  streamdelta describe ./tables/movie_ratings\n"
                 "  streamdelta describe ./tables/movie_ratings --version 3\n");
}

/* Print a list of feature names, or "(none)". */
static void cli_print_features(const char *title, const char **names, size_t n) {
    printf("  %-16s ", title);
    if (n == 0) printf("(none)");
    for (size_t i = 0; i < n; i++) printf("%s%s", i ? ", " : "", names[i]);
    printf("\n");
}

static void cli_describe_schema(const sd_schema *schema) {
    printf("\nSchema\n");
    sd_buf t = SD_BUF_INIT;
    for (int i = 0; i < schema->nchildren; i++) {
        const sd_field *f = &schema->children[i];
        sd_buf_reset(&t);
        sd_type_format(&f->type, &t);
        printf("  %-24s %s%s\n", f->name, sd_buf_cstr(&t), f->nullable ? "" : " not null");
    }
    sd_buf_free(&t);
}

int cli_cmd_describe(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_describe_help(stdout);
        return CLI_EXIT_OK;
    }
    cli_table_args a;
    int rc = cli_table_parse("describe", argc, argv, false, true, &a);
    if (rc != 0) return rc;
    int64_t version = -1;
    if (a.version && !cli_table_parse_count(a.version, &version))
        return cli_usage_error("describe", "--version '%s' is not a version number", a.version);
    sd_error err = {0};
    delta_snapshot *s;
    if (delta_snapshot_load(a.table, version, &s, &err) != SD_OK) return cli_fail(&err);

    const delta_metadata *m = delta_snapshot_metadata(s);
    const delta_protocol *p = delta_snapshot_protocol(s);
    printf("Table\n  %-16s %s\n  %-16s %lld\n", "path", a.table, "version",
           (long long)delta_snapshot_version(s));
    printf("  %-16s %s\n", "id", m->id ? m->id : "");
    if (m->name) printf("  %-16s %s\n", "name", m->name);
    if (m->description) printf("  %-16s %s\n", "description", m->description);
    if (m->created_time >= 0) {
        sd_buf t = SD_BUF_INIT;
        sd_format_timestamp(m->created_time * 1000, &t);
        printf("  %-16s %s UTC\n", "created", sd_buf_cstr(&t));
        sd_buf_free(&t);
    }
    printf("  %-16s %s\n", "format", m->format_provider ? m->format_provider : "parquet");

    cli_describe_schema(delta_snapshot_schema(s));

    printf("\nPartitioning\n  ");
    if (m->npartition_columns == 0) printf("(not partitioned)");
    for (size_t i = 0; i < m->npartition_columns; i++)
        printf("%s%s", i ? ", " : "", m->partition_columns[i]);
    printf("\n");

    printf("\nProtocol\n  %-16s %d\n  %-16s %d\n", "minReaderVersion", p->min_reader_version,
           "minWriterVersion", p->min_writer_version);
    cli_print_features("readerFeatures", p->reader_features, p->nreader_features);
    cli_print_features("writerFeatures", p->writer_features, p->nwriter_features);

    printf("\nProperties\n");
    if (m->configuration.count == 0) printf("  (none)\n");
    for (size_t i = 0; i < m->configuration.count; i++)
        printf("  %s = %s\n", m->configuration.items[i].key,
               m->configuration.items[i].value ? m->configuration.items[i].value : "null");

    int64_t bytes = 0;
    size_t nfiles = delta_snapshot_num_files(s);
    for (size_t i = 0; i < nfiles; i++) {
        const delta_add *add = delta_snapshot_file(s, i)->add;
        if (add->size > 0) bytes += add->size;
    }
    printf("\nData\n  %-16s %zu\n  %-16s %lld bytes (%.1f MiB)\n", "files", nfiles, "size",
           (long long)bytes, (double)bytes / (1024.0 * 1024.0));
    delta_snapshot_free(s);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* checkpoint                                                                */
/* ------------------------------------------------------------------------ */

static void cli_checkpoint_help(FILE *out) {
    fprintf(out, "usage: streamdelta checkpoint TABLE\n\n"
                 "Write a checkpoint of the latest version\n"
                 "(_delta_log/<version>.checkpoint.parquet, the schema Spark writes) and\n"
                 "point _delta_log/_last_checkpoint at it. Readers then start from it\n"
                 "instead of replaying every commit.\n\n"
                 "example:\n"
                 "  streamdelta checkpoint ./tables/movie_ratings\n");
}

int cli_cmd_checkpoint(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_checkpoint_help(stdout);
        return CLI_EXIT_OK;
    }
    cli_table_args a;
    int rc = cli_table_parse("checkpoint", argc, argv, false, false, &a);
    if (rc != 0) return rc;
    sd_error err = {0};
    delta_snapshot *s;
    if (delta_snapshot_load(a.table, -1, &s, &err) != SD_OK) return cli_fail(&err);
    if (delta_checkpoint_write(s, &err) != SD_OK) {
        delta_snapshot_free(s);
        return cli_fail(&err);
    }
    printf("checkpoint written at version %lld: %s/_delta_log/%020lld.checkpoint.parquet "
           "(%zu files)\n",
           (long long)delta_snapshot_version(s), a.table, (long long)delta_snapshot_version(s),
           delta_snapshot_num_files(s));
    /* As after Spark's checkpoints: expired log files no checkpoint needs. */
    size_t deleted = 0;
    rc = CLI_EXIT_OK;
    if (strcmp(delta_snapshot_property(s, "delta.enableExpiredLogCleanup", "true"), "false") != 0) {
        if (delta_log_cleanup(s, sd_now_ms(), &deleted, &err) != SD_OK)
            rc = cli_fail(&err);
        else if (deleted > 0)
            printf("deleted %zu expired log file(s) (delta.logRetentionDuration)\n", deleted);
    }
    delta_snapshot_free(s);
    return rc;
}
