/*
 * cmd_avro.c - `streamdelta avro schema|cat FILE.avro`: Avro Object
 * Container Files (the backfill input of the stream) through the same
 * decoder the stream uses, printed with the shared row printer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro.h"
#include "cli.h"

/* Records decoded per batch: large enough to amortise the calls, small
 * enough that `cat --limit 20` of a big file stays instant. */
#define AVRO_CAT_BATCH 4096

static void cli_avro_help(FILE *out) {
    fprintf(out,
            "usage: streamdelta avro <schema|cat> FILE.avro [options]\n"
            "\n"
            "Read Avro Object Container Files (codecs null, deflate, snappy, zstandard).\n"
            "\n"
            "  schema FILE                 the writer schema (JSON) and the columns it maps to\n"
            "  cat FILE [options]          the records as rows\n"
            "      --reader-schema F.avsc  resolve records to this schema (Avro's rules)\n"
            "      --limit N               at most N rows (default 20 for table, all otherwise)\n"
            "      --format table|csv|jsonl  (default table)\n"
            "  -h, --help                  this help\n"
            "\n"
            "exit codes: 0 ok, 1 the file is unreadable or corrupt, 2 bad usage\n");
}

static int cli_avro_schema(const char *path) {
    sd_error err = {0};
    avro_ocf_reader *r = avro_ocf_open(path, NULL, NULL, &err);
    if (r == NULL) return cli_fail(&err);
    printf("codec: %s\nwriter schema: %s\ncolumns:\n", avro_ocf_codec(r),
           avro_schema_json(avro_ocf_writer_schema(r)));
    const sd_schema *s = avro_ocf_schema(r);
    sd_buf line = SD_BUF_INIT;
    for (int i = 0; i < s->nchildren; i++) {
        sd_buf_reset(&line);
        sd_type_format(&s->children[i].type, &line);
        printf("  %s: %s%s\n", s->children[i].name, sd_buf_cstr(&line),
               s->children[i].nullable ? "" : " not null");
    }
    sd_buf_free(&line);
    avro_ocf_close(r);
    return CLI_EXIT_OK;
}

static int cli_avro_cat(const char *path, const char *reader_path, cli_format_kind kind,
                        long limit) {
    sd_error err = {0};
    avro_schema *reader = NULL;
    if (reader_path != NULL) {
        sd_buf text = SD_BUF_INIT;
        if (sd_read_file(reader_path, &text, &err) == SD_OK)
            reader = avro_schema_parse((const char *)text.data, text.len, &err);
        sd_buf_free(&text);
        if (reader == NULL) {
            sd_error_prefix(&err, "%s: ", reader_path);
            return cli_fail(&err);
        }
    }
    avro_ocf_reader *r = avro_ocf_open(path, reader, NULL, &err);
    if (r == NULL) {
        avro_schema_free(reader);
        return cli_fail(&err);
    }
    if (limit < 0) limit = kind == CLI_FMT_TABLE ? 20 : 0;
    cli_printer *p = cli_printer_new(kind, avro_ocf_schema(r), stdout, (size_t)limit);
    sd_batch batch;
    sd_batch_init(&batch, avro_ocf_schema(r));
    int rc = CLI_EXIT_OK;
    bool more = false; /* rows exist beyond the limit */
    size_t shown = 0;
    for (;;) {
        size_t nread = 0;
        sd_batch_reset(&batch);
        if (avro_ocf_read(r, &batch, AVRO_CAT_BATCH, &nread, &err) != SD_OK) {
            rc = CLI_EXIT_FAIL;
            break;
        }
        if (nread == 0) break;
        if (limit > 0 && shown + batch.nrows > (size_t)limit) more = true;
        cli_printer_add(p, &batch);
        shown += batch.nrows;
        if (cli_printer_full(p)) break;
    }
    cli_printer_finish(p, more);
    sd_batch_free(&batch);
    avro_ocf_close(r);
    avro_schema_free(reader);
    return rc == CLI_EXIT_OK ? rc : cli_fail(&err);
}

int cli_cmd_avro(int argc, char **argv) {
    if (argc < 2 || cli_wants_help(argc, argv)) {
        cli_avro_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *sub = argv[1], *file = NULL, *reader = NULL;
    cli_format_kind kind = CLI_FMT_TABLE;
    long limit = -1;
    sd_error err = {0};
    for (int i = 2; i < argc; i++) {
        const char *opt = argv[i];
        if (opt[0] != '-') {
            if (file != NULL) return cli_usage_error("avro", "more than one file given");
            file = opt;
            continue;
        }
        const char *val = i + 1 < argc ? argv[++i] : NULL;
        if (val == NULL) return cli_usage_error("avro", "missing value for '%s'", opt);
        if (strcmp(opt, "--reader-schema") == 0) {
            reader = val;
        } else if (strcmp(opt, "--format") == 0) {
            if (cli_format_parse(val, &kind, &err) != SD_OK)
                return cli_usage_error("avro", "%s", err.msg);
        } else if (strcmp(opt, "--limit") == 0) {
            char *end;
            limit = strtol(val, &end, 10);
            if (*end != '\0' || limit < 0)
                return cli_usage_error("avro", "--limit expects a number >= 0, got '%s'", val);
        } else {
            return cli_usage_error("avro", "unknown option '%s'", opt);
        }
    }
    if (file == NULL) return cli_usage_error("avro", "missing FILE");
    if (strcmp(sub, "schema") == 0) return cli_avro_schema(file);
    if (strcmp(sub, "cat") == 0) return cli_avro_cat(file, reader, kind, limit);
    return cli_usage_error("avro", "unknown subcommand '%s' (schema or cat)", sub);
}
