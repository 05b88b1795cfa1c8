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

/* Print "streamdelta: <msg>" to stderr and return CLI_EXIT_FAIL. */
int cli_fail(const sd_error *err);
/* Print "streamdelta <cmd>: <msg>" plus a hint to run --help; returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

#endif
