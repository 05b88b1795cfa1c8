/*
 * cmd_maint.c - table maintenance commands:
 *
 *   optimize TABLE [--where COND] [--target-size SIZE] [--min-files N]
 *   vacuum TABLE [--retain DURATION] [--dry-run] [--force]
 *
 * The work is done by delta_optimize() and delta_vacuum_*() (delta.h);
 * this file parses options, reads the clock and prints what happened the
 * way Spark's OPTIMIZE and VACUUM report it.
 *
 * Testing aid: STREAMDELTA_NOW_MS (milliseconds since the epoch) replaces
 * the wall clock of `vacuum`, so tests can age files without waiting. Only
 * this command reads it; the library takes the time as an argument.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cli_table.h"
#include "delta/delta.h"

/* A --where with more conjuncts than this is surely not typed by hand. */
#define CLI_MAINT_MAX_PREDICATES 16
#define CLI_OPTIMIZE_RETRIES 10

/* ------------------------------------------------------------------------ */
/* Option values: sizes, durations, partition predicates                     */
/* ------------------------------------------------------------------------ */

/* "256MB", "64KB", "1GB", "1048576" (bytes); units are powers of 1024,
 * as Spark's byte-size settings. */
static bool cli_parse_size(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || v <= 0) return false;
    while (*end == ' ') end++;
    static const struct {
        const char *unit;
        double mult;
    } units[] = {{"", 1},
                 {"b", 1},
                 {"k", 1024.0},
                 {"kb", 1024.0},
                 {"kib", 1024.0},
                 {"m", 1048576.0},
                 {"mb", 1048576.0},
                 {"mib", 1048576.0},
                 {"g", 1073741824.0},
                 {"gb", 1073741824.0},
                 {"gib", 1073741824.0}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].unit) != 0) continue;
        double bytes = v * units[i].mult;
        if (bytes < 1 || bytes > 9.0e18) return false;
        *out = (int64_t)bytes;
        return true;
    }
    return false;
}

/* "168h", "168 hours", "7d", "7 days", "30m", "90s", "0h" into ms. */
static bool cli_parse_duration(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || v < 0) return false;
    while (*end == ' ') end++;
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ms", 1},          {"s", 1000},        {"sec", 1000},       {"seconds", 1000},
                 {"m", 60000},       {"min", 60000},     {"minutes", 60000},  {"h", 3600000},
                 {"hour", 3600000},  {"hours", 3600000}, {"d", 86400000},     {"day", 86400000},
                 {"days", 86400000}, {"w", 604800000},   {"week", 604800000}, {"weeks", 604800000}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].unit) != 0) continue;
        double ms = v * units[i].ms;
        if (ms > 9.0e18) return false;
        *out = (int64_t)ms;
        return true;
    }
    return false;
}

/* Parsed --where: conjuncts over partition columns. Literal texts are kept
 * because string values borrow them. */
typedef struct cli_part_where {
    int n;
    pq_predicate preds[CLI_MAINT_MAX_PREDICATES];
    char *names[CLI_MAINT_MAX_PREDICATES];
    char *literals[CLI_MAINT_MAX_PREDICATES];
} cli_part_where;

static void cli_part_where_free(cli_part_where *w) {
    for (int i = 0; i < w->n; i++) {
        free(w->names[i]);
        free(w->literals[i]);
    }
    w->n = 0;
}

static const char *cli_skip_space(const char *p) {
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

/* A comparison operator at *p (advancing it), or false. */
static bool cli_maint_op(const char **p, pq_cmp_op *op) {
    static const struct {
        const char *text;
        pq_cmp_op op;
    } ops[] = {{"<=", PQ_LE}, {">=", PQ_GE}, {"!=", PQ_NE}, {"<>", PQ_NE},
               {"=", PQ_EQ},  {"<", PQ_LT},  {">", PQ_GT}};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        size_t n = strlen(ops[i].text);
        if (strncmp(*p, ops[i].text, n) == 0) {
            *p += n;
            *op = ops[i].op;
            return true;
        }
    }
    return false;
}

/* The literal at *p: 'quoted' ('' is a quote) or a bare word. */
static char *cli_maint_literal(const char **p, const char *text, sd_error *err) {
    const char *s = *p;
    sd_buf b = SD_BUF_INIT;
    if (*s == '\'') {
        for (s++;; s++) {
            if (*s == '\0') {
                sd_buf_free(&b);
                sd_error_set(err, SD_ERR_ARG, "--where, offset %zu: unclosed quote",
                             (size_t)(*p - text));
                return NULL;
            }
            if (*s == '\'' && s[1] == '\'') {
                sd_buf_append_byte(&b, '\'');
                s++;
            } else if (*s == '\'') {
                s++;
                break;
            } else {
                sd_buf_append_byte(&b, (uint8_t)*s);
            }
        }
    } else {
        while (*s && *s != ' ' && *s != '\t') sd_buf_append_byte(&b, (uint8_t)*s++);
        if (b.len == 0) {
            sd_error_set(err, SD_ERR_ARG, "--where, offset %zu: expected a literal",
                         (size_t)(*p - text));
            return NULL;
        }
    }
    *p = s;
    char *out = sd_xstrdup(sd_buf_cstr(&b));
    sd_buf_free(&b);
    return out;
}

/* One "column OP literal" at *p into w. */
static sd_status cli_maint_conjunct(const char **p, const char *text, const delta_snapshot *s,
                                    cli_part_where *w, sd_error *err) {
    if (w->n == CLI_MAINT_MAX_PREDICATES)
        return sd_error_set(err, SD_ERR_ARG, "--where: more than %d conditions",
                            CLI_MAINT_MAX_PREDICATES);
    const char *q = cli_skip_space(*p);
    const char *start = q;
    while (*q && *q != ' ' && *q != '\t' && !strchr("<>=!", *q)) q++;
    if (q == start)
        return sd_error_set(err, SD_ERR_ARG, "--where, offset %zu: expected a column name",
                            (size_t)(start - text));
    char *name = sd_xstrndup(start, (size_t)(q - start));
    const delta_metadata *m = delta_snapshot_metadata(s);
    bool is_part = false;
    for (size_t i = 0; i < m->npartition_columns; i++)
        is_part |= strcmp(m->partition_columns[i], name) == 0;
    const sd_schema *schema = delta_snapshot_schema(s);
    int f = sd_schema_find(schema, name);
    if (!is_part || f < 0) {
        sd_status st = sd_error_set(err, SD_ERR_ARG,
                                    "--where: '%s' is not a partition column of %s (OPTIMIZE "
                                    "filters partitions only)",
                                    name, delta_snapshot_table_path(s));
        free(name);
        return st;
    }
    q = cli_skip_space(q);
    pq_cmp_op op;
    if (!cli_maint_op(&q, &op)) {
        free(name);
        return sd_error_set(err, SD_ERR_ARG,
                            "--where, offset %zu: expected = != < <= > >=", (size_t)(q - text));
    }
    q = cli_skip_space(q);
    char *lit = cli_maint_literal(&q, text, err);
    if (lit == NULL) {
        free(name);
        return err->code;
    }
    int k = w->n;
    w->names[k] = name;
    w->literals[k] = lit;
    w->preds[k].path = name;
    w->preds[k].op = op;
    sd_status st =
        delta_partition_value_parse(name, &schema->children[f].type, lit, &w->preds[k].value, err);
    w->n++;
    if (st != SD_OK) sd_error_prefix(err, "--where: ");
    *p = q;
    return st;
}

static sd_status cli_maint_where(const char *text, const delta_snapshot *s, cli_part_where *w,
                                 sd_error *err) {
    const char *p = text;
    for (;;) {
        if (cli_maint_conjunct(&p, text, s, w, err) != SD_OK) return err->code;
        p = cli_skip_space(p);
        if (*p == '\0') return SD_OK;
        if (strncasecmp(p, "and", 3) != 0 || (p[3] != ' ' && p[3] != '\t'))
            return sd_error_set(err, SD_ERR_ARG,
                                "--where, offset %zu: expected AND or the end, found '%.20s'",
                                (size_t)(p - text), p);
        p += 3;
    }
}

/* ------------------------------------------------------------------------ */
/* optimize                                                                  */
/* ------------------------------------------------------------------------ */

static void cli_optimize_help(FILE *out) {
    fprintf(out, "usage: streamdelta optimize TABLE [--where COND] [--target-size SIZE]\n"
                 "                            [--min-files N]\n\n"
                 "Compact small files (bin-packing, like Delta's OPTIMIZE): in each partition,\n"
                 "files smaller than the target size (and files with deletion vectors, whose\n"
                 "deleted rows are dropped) are rewritten into files of about the target size.\n"
                 "One commit, dataChange=false: the table's rows do not change, streaming\n"
                 "readers skip it, older versions stay readable until VACUUM. When a concurrent\n"
                 "writer rewrote one of the same files the commit fails (exit 1) and nothing\n"
                 "changes: run it again.\n\n"
                 "options:\n"
                 "  --where COND         partitions to compact: pcol OP literal [AND ...],\n"
                 "                       OP one of = != < <= > >=, partition columns only\n"
                 "  --target-size SIZE   target file size, e.g. 256MB, 64KB (default 256MB)\n"
                 "  --min-files N        leave a partition alone when it has fewer small files\n"
                 "                       (default 2)\n\n"
                 "example:\n"
                 "  streamdelta optimize ./tables/movie_ratings --where \"rating_date >= "
                 "'2026-11-01'\"\n");
}

typedef struct cli_optimize_args {
    const char *table;
    const char *where;
    int64_t target;
    int64_t min_files;
} cli_optimize_args;

static int cli_optimize_parse_args(int argc, char **argv, cli_optimize_args *a) {
    *a = (cli_optimize_args){.target = 256LL * 1024 * 1024, .min_files = 2};
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if ((v = cli_option_value(argc, argv, &i, "--where", &missing)))
            a->where = v;
        else if (!missing && (v = cli_option_value(argc, argv, &i, "--target-size", &missing))) {
            if (!cli_parse_size(v, &a->target))
                return cli_usage_error("optimize",
                                       "--target-size '%s': expected a size such as "
                                       "256MB, 64KB or a number of bytes",
                                       v);
        } else if (!missing && (v = cli_option_value(argc, argv, &i, "--min-files", &missing))) {
            if (!cli_table_parse_count(v, &a->min_files) || a->min_files < 1 ||
                a->min_files > 1000000000)
                return cli_usage_error("optimize", "--min-files '%s': expected a positive number",
                                       v);
        } else if (missing)
            return cli_usage_error("optimize", "%s needs a value", argv[i]);
        else if (argv[i][0] == '-')
            return cli_usage_error("optimize", "unknown option '%s'", argv[i]);
        else if (a->table)
            return cli_usage_error("optimize", "more than one table given ('%s')", argv[i]);
        else
            a->table = argv[i];
    }
    if (a->table == NULL) return cli_usage_error("optimize", "no table given");
    return 0;
}

static void cli_print_file_stats(const char *label, int64_t n, int64_t total, int64_t min,
                                 int64_t max) {
    printf("%s: {min: %lld, max: %lld, avg: %.1f, totalFiles: %lld, totalSize: %lld}\n", label,
           (long long)min, (long long)max, n ? (double)total / (double)n : 0.0, (long long)n,
           (long long)total);
}

static void cli_optimize_report(const char *table, const delta_optimize_metrics *m) {
    printf("path: %s\n", table);
    if (m->version >= 0)
        printf("version: %lld\n", (long long)m->version);
    else
        printf("version: none (nothing to compact)\n");
    printf("numFilesAdded: %lld\n", (long long)m->num_files_added);
    printf("numFilesRemoved: %lld\n", (long long)m->num_files_removed);
    cli_print_file_stats("filesAdded", m->num_files_added, m->bytes_added, m->min_added,
                         m->max_added);
    cli_print_file_stats("filesRemoved", m->num_files_removed, m->bytes_removed, m->min_removed,
                         m->max_removed);
    printf("partitionsOptimized: %lld\n", (long long)m->partitions_optimized);
    printf("numBatches: %lld\n", (long long)m->num_batches);
    printf("totalConsideredFiles: %lld\n", (long long)m->total_considered_files);
    printf("totalFilesSkipped: %lld\n", (long long)m->total_files_skipped);
    printf("preserveInsertionOrder: true\n");
    printf("rowsWritten: %lld\n", (long long)m->rows_written);
    printf("numDeletionVectorsRemoved: %lld\n", (long long)m->num_dvs_removed);
    printf("startTimeMs: %lld\n", (long long)m->start_ms);
    printf("endTimeMs: %lld\n", (long long)m->end_ms);
    printf("time: %.3f s\n", (double)(m->end_ms - m->start_ms) / 1000.0);
}

int cli_cmd_optimize(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_optimize_help(stdout);
        return CLI_EXIT_OK;
    }
    cli_optimize_args a;
    int rc = cli_optimize_parse_args(argc, argv, &a);
    if (rc != 0) return rc;
    sd_error err = {0};
    delta_snapshot *s = NULL;
    if (delta_snapshot_load(a.table, -1, &s, &err) != SD_OK) return cli_fail(&err);
    cli_part_where w = {0};
    if (a.where && cli_maint_where(a.where, s, &w, &err) != SD_OK) {
        cli_part_where_free(&w);
        delta_snapshot_free(s);
        return cli_usage_error("optimize", "%s", err.msg);
    }
    delta_optimize_options o = {.preds = w.preds,
                                .npreds = w.n,
                                .predicate_text = a.where,
                                .target_size = a.target,
                                .min_files = (int)a.min_files,
                                .max_retries = CLI_OPTIMIZE_RETRIES};
    delta_optimize_metrics m;
    sd_status st = delta_optimize(s, &o, &m, &err);
    if (st == SD_OK) cli_optimize_report(a.table, &m);
    cli_part_where_free(&w);
    delta_snapshot_free(s);
    return st == SD_OK ? CLI_EXIT_OK : cli_fail(&err);
}

/* ------------------------------------------------------------------------ */
/* vacuum                                                                    */
/* ------------------------------------------------------------------------ */

static void cli_vacuum_help(FILE *out) {
    fprintf(out, "usage: streamdelta vacuum TABLE [--retain DURATION] [--dry-run] [--force]\n\n"
                 "Delete the files under TABLE that its latest version does not use and that\n"
                 "were removed longer ago than the retention (files no commit ever added: last\n"
                 "modified longer ago). _delta_log and hidden or '_'-prefixed paths are never\n"
                 "touched. Lists the files (paths relative to TABLE) on stdout, a summary on\n"
                 "stderr. Logged as VACUUM START / VACUUM END commits. Versions older than the\n"
                 "retention may no longer be readable afterwards (time travel).\n\n"
                 "options:\n"
                 "  --retain DURATION  e.g. 168h, 7d, 30m (default: the table's\n"
                 "                     delta.deletedFileRetentionDuration, 1 week)\n"
                 "  --dry-run          list what would be deleted, delete nothing\n"
                 "  --force            allow a retention shorter than the table's\n\n"
                 "environment:\n"
                 "  STREAMDELTA_NOW_MS  the current time in ms since the epoch (a testing aid:\n"
                 "                      ages files without waiting)\n\n"
                 "example:\n"
                 "  streamdelta vacuum ./tables/movie_ratings --retain 168h --dry-run\n");
}

typedef struct cli_vacuum_args {
    const char *table;
    int64_t retain_ms; /* -1: the table's */
    bool dry_run, force;
} cli_vacuum_args;

static int cli_vacuum_parse_args(int argc, char **argv, cli_vacuum_args *a) {
    *a = (cli_vacuum_args){.retain_ms = -1};
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if ((v = cli_option_value(argc, argv, &i, "--retain", &missing))) {
            if (!cli_parse_duration(v, &a->retain_ms))
                return cli_usage_error("vacuum",
                                       "--retain '%s': expected a duration such as "
                                       "168h, 7d or 30m",
                                       v);
        } else if (missing)
            return cli_usage_error("vacuum", "%s needs a value", argv[i]);
        else if (strcmp(argv[i], "--dry-run") == 0)
            a->dry_run = true;
        else if (strcmp(argv[i], "--force") == 0)
            a->force = true;
        else if (argv[i][0] == '-')
            return cli_usage_error("vacuum", "unknown option '%s'", argv[i]);
        else if (a->table)
            return cli_usage_error("vacuum", "more than one table given ('%s')", argv[i]);
        else
            a->table = argv[i];
    }
    if (a->table == NULL) return cli_usage_error("vacuum", "no table given");
    return 0;
}

/* The clock: STREAMDELTA_NOW_MS when set (tests), else the wall clock. */
static bool cli_vacuum_now(int64_t *now) {
    const char *env = getenv("STREAMDELTA_NOW_MS");
    if (env == NULL || env[0] == '\0') {
        *now = sd_now_ms();
        return true;
    }
    return cli_table_parse_count(env, now);
}

int cli_cmd_vacuum(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_vacuum_help(stdout);
        return CLI_EXIT_OK;
    }
    cli_vacuum_args a;
    int rc = cli_vacuum_parse_args(argc, argv, &a);
    if (rc != 0) return rc;
    int64_t now;
    if (!cli_vacuum_now(&now))
        return cli_usage_error("vacuum",
                               "STREAMDELTA_NOW_MS='%s': expected milliseconds since "
                               "the epoch",
                               getenv("STREAMDELTA_NOW_MS"));
    sd_error err = {0};
    delta_snapshot *s = NULL;
    if (delta_snapshot_load(a.table, -1, &s, &err) != SD_OK) return cli_fail(&err);
    delta_vacuum_plan plan;
    sd_status st = delta_vacuum_plan_make(s, a.retain_ms, a.force, now, &plan, &err);
    size_t deleted = 0;
    if (st == SD_OK && !a.dry_run) st = delta_vacuum_execute(s, &plan, &deleted, &err);
    if (st == SD_OK) {
        for (size_t i = 0; i < plan.count; i++) printf("%s\n", plan.files[i].path);
        if (a.dry_run)
            fprintf(stderr,
                    "Found %zu files (%lld bytes) in a total of %zu directories that are safe "
                    "to delete (dry run: nothing deleted).\n",
                    plan.count, (long long)plan.total_bytes, plan.num_dirs);
        else
            fprintf(stderr, "Deleted %zu files (%lld bytes) in %zu directories.\n", deleted,
                    (long long)plan.total_bytes, plan.num_dirs);
    }
    delta_vacuum_plan_free(&plan);
    delta_snapshot_free(s);
    return st == SD_OK ? CLI_EXIT_OK : cli_fail(&err);
}
