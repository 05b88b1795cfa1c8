/*
 * cli.h - the `streamdelta` command: shared helpers of the subcommands.
 *
 * Each subcommand is `int cli_cmd_NAME(int argc, char **argv)` with argv[0]
 * the subcommand name; it returns the process exit code:
 *   0 success, 1 the operation failed (message on stderr), 2 bad usage.
 * Only this layer prints to the terminal or exits.
 */
#ifndef SD_CLI_H
#define SD_CLI_H

#include "util/util.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

int cli_cmd_parquet(int argc, char **argv);
int cli_cmd_broker(int argc, char **argv);
int cli_cmd_create_topic(int argc, char **argv);
int cli_cmd_produce(int argc, char **argv);
int cli_cmd_avro(int argc, char **argv);
int cli_cmd_consume(int argc, char **argv);
int cli_cmd_run(int argc, char **argv);
int cli_cmd_demo(int argc, char **argv);

/* ------------------------------------------------------------------------ */
/* The stream, shared by `run` and `demo` (cmd_run.c)                        */
/* ------------------------------------------------------------------------ */

struct pipe_config;
struct pipe_engine_totals;

/* The effective configuration: built-in defaults, the INI `file` (NULL =
 * none), the overrides keys[i]=values[i] in order, addresses nobody set
 * from the local broker's services file; then validated. `cfg` is
 * initialised here in every case (free it with pipe_config_free). */
sd_status cli_run_build_config(const char *file, int nset, char *const *keys, char *const *values,
                               struct pipe_config *cfg, sd_error *err);

/* Run the stream of `cfg` until it is done, *stop is raised, or the wall
 * clock passes deadline_ms (0 = none), with a progress line per batch on
 * stderr and JSON lines to `json` (may be NULL). Fills *totals (may be
 * NULL). Returns the exit code (errors printed). */
/* SIGINT/SIGTERM without a handler or a global: cli_stop_start() blocks
 * them in the calling thread (call it before starting any other thread)
 * and starts a thread that raises the flag when one arrives; a second
 * signal ends the process. cli_stop_end() joins that thread and frees. */
typedef struct cli_stop cli_stop;
cli_stop *cli_stop_start(void);
const volatile int *cli_stop_flag(const cli_stop *s);
/* Raise the flag from the program itself (a time limit). */
void cli_stop_raise(cli_stop *s);
void cli_stop_end(cli_stop *s);

int cli_run_stream(const struct pipe_config *cfg, bool group_mode, FILE *json,
                   const volatile int *stop, int64_t deadline_ms,
                   struct pipe_engine_totals *totals);
int cli_cmd_optimize(int argc, char **argv); /* cmd_maint.c */
int cli_cmd_vacuum(int argc, char **argv);   /* cmd_maint.c */

/* ------------------------------------------------------------------------ */
/* Row output shared by `parquet cat` and `show` (cli_format.c)              */
/* ------------------------------------------------------------------------ */

/* table: like Spark's df.show() (right-aligned cells, values truncated to 20
 *        characters unless --truncate 0, "only showing top N rows");
 * csv:   header row, RFC 4180 quoting, ISO dates, timestamps as
 *        "YYYY-MM-DD HH:MM:SS[.ffffff]" UTC, empty field for null, nested
 *        values as their JSON text;
 * jsonl: one JSON object per row; dates and timestamps as the same strings,
 *        decimals as exact JSON numbers, NaN/Infinity as strings, binary as
 *        base64, maps as objects keyed by the key's text. */
typedef enum cli_format_kind { CLI_FMT_TABLE, CLI_FMT_CSV, CLI_FMT_JSONL } cli_format_kind;

sd_status cli_format_parse(const char *name, cli_format_kind *out, sd_error *err);

typedef struct cli_printer cli_printer;

/* A printer of rows of `schema` to `out`; at most `limit` rows (0 = all).
 * The table format buffers its rows to size the columns; the others
 * stream. */
cli_printer *cli_printer_new(cli_format_kind kind, const sd_schema *schema, FILE *out,
                             size_t limit);
/* Print the batch's rows (up to the limit). */
void cli_printer_add(cli_printer *p, const sd_batch *batch);
/* True once `limit` rows were printed: callers can stop reading. */
bool cli_printer_full(const cli_printer *p);
/* Flush (the table format prints here), free the printer. `more` tells the
 * table format that rows beyond the limit exist ("only showing top N"). */
void cli_printer_finish(cli_printer *p, bool more);

/* ------------------------------------------------------------------------ */
/* Kafka and registry addresses (cli_services.c)                             */
/* ------------------------------------------------------------------------ */

typedef struct cli_services {
    char bootstrap[512];
    char registry[256]; /* "" when not needed and not given */
} cli_services;

/* The addresses given on the command line (either may be NULL), the
 * missing ones taken from the local services file of `streamdelta broker`.
 * SD_ERR_NOT_FOUND, with a message saying what to pass, when neither has
 * them. */
sd_status cli_resolve_services(const char *bootstrap, const char *registry, bool need_registry,
                               cli_services *out, sd_error *err);

/* Print "streamdelta: <msg>" to stderr and return CLI_EXIT_FAIL. */
int cli_fail(const sd_error *err);
/* Print "streamdelta <cmd>: <msg>" plus a hint to run --help; returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);
/* The value of option `name` at argv[*i]: "--name=value" or "--name value"
 * (then *i moves past the value). NULL when argv[*i] is another option;
 * *missing is set when it is this option without a value. */
const char *cli_option_value(int argc, char **argv, int *i, const char *name, bool *missing);

#endif
