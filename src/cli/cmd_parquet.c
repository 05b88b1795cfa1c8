/*
 * cmd_parquet.c - `streamdelta parquet schema|cat|meta FILE`.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "parquet/parquet.h"

static void cli_parquet_help(FILE *out) {
    fprintf(out, "usage: streamdelta parquet <schema|cat|meta> FILE [options]\n");
}

int cli_cmd_parquet(int argc, char **argv) {
    if (argc < 2 || cli_wants_help(argc, argv)) {
        cli_parquet_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    return cli_usage_error("parquet", "unknown subcommand '%s'", argv[1]);
}
