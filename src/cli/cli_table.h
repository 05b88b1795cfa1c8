/*
 * cli_table.h - helpers shared by the Delta table commands of the CLI
 * (cmd_table.c: create-table, history, describe, checkpoint; cmd_show.c:
 * show). Internal to src/cli/.
 */
#ifndef SD_CLI_TABLE_H
#define SD_CLI_TABLE_H

#include <stdbool.h>

#include "util/util.h"

int cli_cmd_create_table(int argc, char **argv);
int cli_cmd_show(int argc, char **argv);
int cli_cmd_history(int argc, char **argv);
int cli_cmd_describe(int argc, char **argv);
int cli_cmd_checkpoint(int argc, char **argv);

/* Parse a version number for --version: digits only, no overflow. */
bool cli_table_parse_count(const char *s, int64_t *out);

/* Parse a Spark SQL column list ("a STRING, b DECIMAL(10,2) NOT NULL,
 * c ARRAY<STRUCT<x: INT>>") into a new schema. SD_ERR_ARG with a message
 * naming the byte offset and what was expected on any error. */
sd_status cli_ddl_parse(const char *text, sd_schema **out, sd_error *err);

#endif
