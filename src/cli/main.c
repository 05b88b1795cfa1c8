/*
 * main.c - entry point of `streamdelta`: dispatch to subcommands.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_table.h"

#define STREAMDELTA_VERSION "0.1.0"

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

static const cli_command cli_commands[] = {
    {"broker", cli_cmd_broker, "run the local Kafka cluster and schema registry"},
    {"create-topic", cli_cmd_create_topic, "create a Kafka topic"},
    {"produce", cli_cmd_produce, "produce movie-rating test events (Avro, Confluent wire format)"},
    {"consume", cli_cmd_consume, "print a topic's Avro messages as rows (decoded like the stream)"},
    {"run", cli_cmd_run, "run the stream: Kafka (Avro) -> dedupe -> MERGE into a Delta table"},
    {"demo", cli_cmd_demo, "the whole pipeline in one process: broker, producer, stream, table"},
    {"avro", cli_cmd_avro, "inspect Avro container files: schema, cat"},
    {"parquet", cli_cmd_parquet, "inspect Parquet files: schema, cat, meta"},
    {"create-table", cli_cmd_create_table, "create an empty Delta table from a column list"},
    {"show", cli_cmd_show, "print the rows of a Delta table (filter, columns, time travel)"},
    {"history", cli_cmd_history, "print the commits of a Delta table"},
    {"describe", cli_cmd_describe, "print a Delta table's schema, partitioning, protocol, size"},
    {"checkpoint", cli_cmd_checkpoint, "write a checkpoint of a Delta table's latest version"},
    {"optimize", cli_cmd_optimize, "compact a Delta table's small files (bin-packing)"},
    {"vacuum", cli_cmd_vacuum, "delete files a Delta table no longer needs"},
};

static void cli_print_help(FILE *out) {
    fprintf(out, "streamdelta %s - Kafka (Avro) to Delta Lake streaming ingestion\n\n",
            STREAMDELTA_VERSION);
    fprintf(out, "usage: streamdelta <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]); i++)
        fprintf(out, "  %-14s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(out, "\nRun 'streamdelta <command> --help' for the options of a command.\n");
}

int cli_fail(const sd_error *err) {
    fprintf(stderr, "streamdelta: %s\n", err->msg[0] ? err->msg : sd_status_name(err->code));
    return CLI_EXIT_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "streamdelta %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(run 'streamdelta %s --help' for usage)\n", cmd);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

bool cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return true;
    return false;
}

const char *cli_option_value(int argc, char **argv, int *i, const char *name, bool *missing) {
    size_t n = strlen(name);
    const char *arg = argv[*i];
    if (strncmp(arg, name, n) != 0) return NULL;
    if (arg[n] == '=') return arg + n + 1;
    if (arg[n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        /* Without a command it is a usage error: help goes to stderr. */
        cli_print_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("streamdelta %s\n", STREAMDELTA_VERSION);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]); i++)
        if (strcmp(argv[1], cli_commands[i].name) == 0)
            return cli_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "streamdelta: unknown command '%s'\n\n", argv[1]);
    cli_print_help(stderr);
    return CLI_EXIT_USAGE;
}
