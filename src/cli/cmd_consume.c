/*
 * cmd_consume.c - `streamdelta consume`: read a topic's Avro messages
 * (Confluent wire format) through the stream's own source and decoder and
 * print them as rows: a kcat for Avro, and the way to check what a
 * producer wrote. Reads what is there when it starts, then exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro.h"
#include "cli.h"
#include "kafka/kafka.h"

/* Messages fetched per poll. */
#define CONSUME_BATCH 10000

static void cli_consume_help(FILE *out) {
    fprintf(out,
            "usage: streamdelta consume --topic T [options]\n"
            "\n"
            "Print the Avro messages (Confluent wire format) of a topic as rows, decoded by\n"
            "the stream's decoder with writer schemas from the registry, resolved to a\n"
            "reader schema. Reads every partition from the start (or the end) up to the\n"
            "messages that were there when it started, then exits. Without addresses,\n"
            "the local broker of 'streamdelta broker' is used.\n"
            "\n"
            "options:\n"
            "  --topic T                 topic (required)\n"
            "  --reader-schema F.avsc    reader schema (default: the latest version of the\n"
            "                            subject)\n"
            "  --subject S               registry subject (default <topic>-value)\n"
            "  --from earliest|latest    where to start (default earliest)\n"
            "  --limit N                 at most N rows (default 20 for table, all otherwise)\n"
            "  --format table|csv|jsonl  (default table)\n"
            "  --bootstrap-servers B     Kafka cluster (default: the local broker)\n"
            "  --schema-registry URL     Schema Registry (default: the local broker's)\n"
            "  -X key=value              librdkafka setting, repeatable\n"
            "  -h, --help                this help\n"
            "\n"
            "Messages that cannot be decoded are reported on stderr (partition, offset,\n"
            "reason) and counted; they do not stop the command.\n"
            "exit codes: 0 ok, 1 failure (connection, registry, unknown topic), 2 bad usage\n");
}

typedef struct consume_args {
    const char *topic, *reader_path, *subject, *bootstrap, *registry;
    kafka_starting_offsets from;
    cli_format_kind kind;
    long limit;
    kafka_config conf;
} consume_args;

static int consume_parse(int argc, char **argv, consume_args *a) {
    sd_error err = {0};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[++i] : NULL;
        if (val == NULL) return cli_usage_error("consume", "missing value for '%s'", opt);
        if (strcmp(opt, "--topic") == 0)
            a->topic = val;
        else if (strcmp(opt, "--reader-schema") == 0)
            a->reader_path = val;
        else if (strcmp(opt, "--subject") == 0)
            a->subject = val;
        else if (strcmp(opt, "--bootstrap-servers") == 0)
            a->bootstrap = val;
        else if (strcmp(opt, "--schema-registry") == 0)
            a->registry = val;
        else if (strcmp(opt, "--from") == 0) {
            if (strcmp(val, "earliest") != 0 && strcmp(val, "latest") != 0)
                return cli_usage_error("consume", "--from expects earliest or latest");
            a->from = strcmp(val, "latest") == 0 ? KAFKA_START_LATEST : KAFKA_START_EARLIEST;
        } else if (strcmp(opt, "--format") == 0) {
            if (cli_format_parse(val, &a->kind, &err) != SD_OK)
                return cli_usage_error("consume", "%s", err.msg);
        } else if (strcmp(opt, "--limit") == 0) {
            char *end;
            a->limit = strtol(val, &end, 10);
            if (*end != '\0' || a->limit < 0)
                return cli_usage_error("consume", "--limit expects a number >= 0, got '%s'", val);
        } else if (strcmp(opt, "-X") == 0) {
            if (kafka_config_add_kv(&a->conf, val, &err) != SD_OK)
                return cli_usage_error("consume", "%s", err.msg);
        } else {
            return cli_usage_error("consume", "unknown option '%s'", opt);
        }
    }
    if (a->topic == NULL) return cli_usage_error("consume", "--topic is required");
    if (a->limit < 0) a->limit = a->kind == CLI_FMT_TABLE ? 20 : 0;
    return CLI_EXIT_OK;
}

/* The reader schema: a file, or the subject's latest version. */
static avro_schema *consume_reader_schema(const consume_args *a, avro_registry *reg,
                                          sd_error *err) {
    char *text = NULL;
    size_t len = 0;
    if (a->reader_path != NULL) {
        sd_buf b = SD_BUF_INIT;
        if (sd_read_file(a->reader_path, &b, err) != SD_OK) {
            sd_buf_free(&b);
            return NULL;
        }
        len = b.len;
        text = (char *)b.data;
    } else {
        char subject[512];
        snprintf(subject, sizeof(subject), "%s-value", a->topic);
        const char *s = a->subject ? a->subject : subject;
        if (avro_registry_latest(reg, s, NULL, NULL, &text, err) != SD_OK) {
            sd_error_prefix(err, "reader schema from subject '%s': ", s);
            return NULL;
        }
        len = strlen(text);
    }
    avro_schema *schema = avro_schema_parse(text ? text : "", len, err);
    free(text);
    return schema;
}

/* Decode one fetched batch into `rows`, reporting rejects on stderr. */
static sd_status consume_decode(avro_stream *dec, const char *topic, const kafka_source_batch *b,
                                sd_batch *rows, long *rejected, sd_error *err) {
    for (size_t i = 0; i < b->count; i++) {
        const kafka_record *m = &b->records[i];
        avro_reject rej;
        sd_status st = avro_stream_decode(dec, rows, m->value, m->value_len, topic, m->partition,
                                          m->offset, &rej, err);
        if (st == SD_ERR_FORMAT) {
            fprintf(stderr, "rejected %s/%d/%lld: %s: %s\n", topic, m->partition,
                    (long long)m->offset, avro_reject_reason_name(rej.reason), rej.detail);
            (*rejected)++;
            sd_error_clear(err);
        } else if (st != SD_OK) {
            return st;
        }
    }
    rows->nrows = rows->ncols ? rows->cols[0].len : 0;
    return SD_OK;
}

static int consume_run(consume_args *a) {
    sd_error err = {0};
    cli_services svc;
    if (cli_resolve_services(a->bootstrap, a->registry, true, &svc, &err) != SD_OK)
        return cli_fail(&err);
    avro_registry_conf rconf = {.url = svc.registry};
    avro_registry *reg = avro_registry_new(&rconf, &err);
    avro_schema *reader = reg ? consume_reader_schema(a, reg, &err) : NULL;
    sd_schema *target = NULL;
    avro_stream *dec = NULL;
    kafka_source *src = NULL;
    if (reader != NULL && avro_to_sd_schema(reader, NULL, &target, &err) == SD_OK)
        dec = avro_stream_new(reader, target, reg, NULL, &err);
    if (dec != NULL) {
        kafka_source_options so = {.bootstrap = svc.bootstrap,
                                   .topic = a->topic,
                                   .conf = &a->conf,
                                   .starting_offsets = a->from,
                                   .stop_at_end = true};
        src = kafka_source_new(&so, &err);
    }
    int rc = src != NULL ? CLI_EXIT_OK : cli_fail(&err);
    long rows_read = 0, rejected = 0;
    if (src != NULL) {
        cli_printer *p = cli_printer_new(a->kind, target, stdout, (size_t)a->limit);
        sd_batch rows;
        sd_batch_init(&rows, target);
        while (!cli_printer_full(p)) {
            kafka_source_batch b;
            if (kafka_source_poll_batch(src, CONSUME_BATCH, 1000, &b, &err) != SD_OK) {
                rc = CLI_EXIT_FAIL;
                break;
            }
            if (b.count == 0 && kafka_source_caught_up(src)) break;
            sd_batch_reset(&rows);
            sd_status st = consume_decode(dec, a->topic, &b, &rows, &rejected, &err);
            kafka_source_release_batch(src);
            if (st != SD_OK) {
                rc = CLI_EXIT_FAIL;
                break;
            }
            rows_read += (long)rows.nrows;
            cli_printer_add(p, &rows);
        }
        bool more = rc == CLI_EXIT_OK && cli_printer_full(p) && rows_read > a->limit;
        cli_printer_finish(p, more);
        sd_batch_free(&rows);
        if (rc != CLI_EXIT_OK) cli_fail(&err);
        fprintf(stderr, "consume: %ld record(s) decoded, %ld rejected\n", rows_read, rejected);
    }
    kafka_source_free(src);
    avro_stream_free(dec);
    sd_schema_free(target);
    avro_schema_free(reader);
    avro_registry_free(reg);
    return rc;
}

int cli_cmd_consume(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_consume_help(stdout);
        return CLI_EXIT_OK;
    }
    consume_args a = {.kind = CLI_FMT_TABLE, .limit = -1};
    int rc = consume_parse(argc, argv, &a);
    if (rc == CLI_EXIT_OK) rc = consume_run(&a);
    kafka_config_free(&a.conf);
    return rc;
}
