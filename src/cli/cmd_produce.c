/*
 * cmd_produce.c - `streamdelta produce`: movie-rating test events, Avro in
 * the Confluent wire format, with the schema registered in the registry;
 * exact shares of duplicates, updates and late events; a steady rate or as
 * fast as possible. An event counts as sent only once the broker has
 * acknowledged it. With --to-avro the same events go to an Avro container
 * file instead (the input of `run --from-avro` and of the engine
 * benchmark), with no broker or registry involved.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "avro/avro.h"
#include "cli.h"
#include "kafka/kafka.h"
#include "pipeline/pipeline.h"

static void cli_produce_help(FILE *out) {
    fprintf(
        out,
        "usage: streamdelta produce [options]\n"
        "\n"
        "Produce movie-rating test events (DESIGN.md's schema io.movies.MovieRating) to a\n"
        "Kafka topic, Avro-encoded in the Confluent wire format, registering the schema\n"
        "under <topic>-value. Without addresses, the local broker of 'streamdelta broker'\n"
        "is used.\n"
        "\n"
        "options:\n"
        "  --topic T                topic (default movie.ratings.v1)\n"
        "  --count N                events to produce (default 10000; 0 with --duration\n"
        "                           = until the duration ends)\n"
        "  --duration SECONDS       stop after this long (default: no limit)\n"
        "  --rate R                 events per second, 0 = as fast as possible (default 0)\n"
        "  --duplicates P           share of exact redeliveries of earlier events\n"
        "  --updates P              share of updates: an earlier event_id, newer timestamp,\n"
        "                           new rating\n"
        "  --late P                 share of late events (timestamps 6 to 30 days old)\n"
        "                           P is a fraction (0.1) or a percentage (10%%); with --count\n"
        "                           the shares are exact, otherwise they hold on average\n"
        "  --seed N                 seed of the event stream (default: from the clock; the\n"
        "                           seed used is printed, to reproduce a run)\n"
        "  --key event_id|none      message key (default none, as the Spark job's topic)\n"
        "  --users N, --movies N    distinct user and movie ids (default 10000, 1000)\n"
        "  --bootstrap-servers B    Kafka cluster (default: the local broker)\n"
        "  --schema-registry URL    Schema Registry (default: the local broker's)\n"
        "  --subject S              registry subject (default <topic>-value)\n"
        "  -X key=value             librdkafka setting, repeatable (SASL, SSL, ...)\n"
        "  --to-avro FILE           write the events to an Avro container file instead\n"
        "                           (no broker, no registry; written under a temporary\n"
        "                           name and renamed when complete)\n"
        "  --codec C                its codec: null, deflate, snappy (default), zstandard\n"
        "  --quiet                  no progress lines\n"
        "  -h, --help               this help\n"
        "\n"
        "Progress goes to stderr once a second; the last line of stdout is a summary.\n"
        "exit codes: 0 every event acknowledged, 1 a failure (delivery, registry,\n"
        "connection), 2 bad usage\n");
}

typedef struct produce_args {
    const char *topic, *bootstrap, *registry, *subject, *to_avro, *codec;
    int64_t count;
    double duration_s, rate;
    pipe_gen_options gen;
    bool seed_given, key_event_id, quiet;
    kafka_config conf;
} produce_args;

/* "0.1" or "10%" -> 0.1 */
static bool produce_parse_share(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s) return false;
    if (*end == '%') {
        v /= 100.0;
        end++;
    }
    if (*end != '\0' || !(v >= 0.0 && v < 1.0)) return false;
    *out = v;
    return true;
}

static bool produce_parse_i64(const char *s, int64_t lo, int64_t *out) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || v < lo) return false;
    *out = v;
    return true;
}

static bool produce_parse_double(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v >= 0.0) || isinf(v)) return false;
    *out = v;
    return true;
}

static int produce_parse(int argc, char **argv, produce_args *a) {
    sd_error err = {0};
    bool count_given = false;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--quiet") == 0) {
            a->quiet = true;
            continue;
        }
        const char *val = i + 1 < argc ? argv[++i] : NULL;
        if (val == NULL) return cli_usage_error("produce", "missing value for '%s'", opt);
        bool ok = true;
        if (strcmp(opt, "--topic") == 0)
            a->topic = val;
        else if (strcmp(opt, "--bootstrap-servers") == 0)
            a->bootstrap = val;
        else if (strcmp(opt, "--schema-registry") == 0)
            a->registry = val;
        else if (strcmp(opt, "--subject") == 0)
            a->subject = val;
        else if (strcmp(opt, "--to-avro") == 0)
            a->to_avro = val;
        else if (strcmp(opt, "--codec") == 0)
            a->codec = val;
        else if (strcmp(opt, "--count") == 0)
            ok = count_given = produce_parse_i64(val, 0, &a->count);
        else if (strcmp(opt, "--duration") == 0)
            ok = produce_parse_double(val, &a->duration_s);
        else if (strcmp(opt, "--rate") == 0)
            ok = produce_parse_double(val, &a->rate);
        else if (strcmp(opt, "--duplicates") == 0)
            ok = produce_parse_share(val, &a->gen.duplicates);
        else if (strcmp(opt, "--updates") == 0)
            ok = produce_parse_share(val, &a->gen.updates);
        else if (strcmp(opt, "--late") == 0)
            ok = produce_parse_share(val, &a->gen.late);
        else if (strcmp(opt, "--users") == 0)
            ok = produce_parse_i64(val, 1, &a->gen.users);
        else if (strcmp(opt, "--movies") == 0)
            ok = produce_parse_i64(val, 1, &a->gen.movies);
        else if (strcmp(opt, "--seed") == 0) {
            int64_t seed = 0;
            ok = a->seed_given = produce_parse_i64(val, 0, &seed);
            a->gen.seed = (uint64_t)seed;
        } else if (strcmp(opt, "--key") == 0) {
            ok = strcmp(val, "event_id") == 0 || strcmp(val, "none") == 0;
            a->key_event_id = strcmp(val, "event_id") == 0;
        } else if (strcmp(opt, "-X") == 0) {
            if (kafka_config_add_kv(&a->conf, val, &err) != SD_OK)
                return cli_usage_error("produce", "%s", err.msg);
        } else {
            return cli_usage_error("produce", "unknown option '%s'", opt);
        }
        if (!ok) return cli_usage_error("produce", "invalid value '%s' for %s", val, opt);
    }
    if (!count_given) a->count = a->duration_s > 0 ? 0 : 10000;
    if (a->count == 0 && a->duration_s <= 0)
        return cli_usage_error("produce", "--count 0 needs a --duration");
    if (a->gen.duplicates + a->gen.updates + a->gen.late >= 1.0)
        return cli_usage_error("produce", "--duplicates, --updates and --late must sum to less "
                                          "than 1 (some events must be new)");
    a->gen.count = a->count;
    if (!a->seed_given) a->gen.seed = (uint64_t)sd_now_ns() ^ ((uint64_t)getpid() << 32);
    return CLI_EXIT_OK;
}

/* Register the schema; its id goes in every message's header. */
static sd_status produce_register(const char *url, const char *subject, int32_t *id,
                                  sd_error *err) {
    avro_registry_conf rconf = {.url = url};
    avro_registry *reg = avro_registry_new(&rconf, err);
    if (reg == NULL) return err->code;
    sd_status rc = avro_registry_register(reg, subject, pipe_movie_rating_schema, id, err);
    if (rc != SD_OK) sd_error_prefix(err, "registering the schema under '%s': ", subject);
    avro_registry_free(reg);
    return rc;
}

typedef struct produce_counts {
    int64_t generated;
    int64_t kinds[4];
} produce_counts;

static void produce_progress(const produce_args *a, const kafka_producer *p,
                             const produce_counts *c, double elapsed_s) {
    const kafka_producer_stats *st = kafka_producer_get_stats(p);
    char total[32] = "";
    if (a->count > 0) snprintf(total, sizeof(total), "/%lld", (long long)a->count);
    fprintf(stderr, "produce: %lld%s events, acked %lld, failed %lld, %.0f events/s\n",
            (long long)c->generated, total, (long long)st->acked, (long long)st->failed,
            elapsed_s > 0 ? (double)st->acked / elapsed_s : 0.0);
}

/* Sleep until the rate allows event number `next` (0-based), serving
 * delivery reports meanwhile. */
static void produce_pace(kafka_producer *p, double rate, int64_t start_ns, int64_t next) {
    if (rate <= 0) return;
    int64_t due = start_ns + (int64_t)((double)next * 1e9 / rate);
    for (int64_t now = sd_now_ns(); now < due; now = sd_now_ns()) {
        int64_t wait_ms = (due - now) / 1000000;
        if (wait_ms > 0)
            kafka_producer_poll(p, wait_ms > 100 ? 100 : (int)wait_ms);
        else {
            struct timespec ts = {0, due - now};
            nanosleep(&ts, NULL);
        }
    }
}

static void produce_summary(const produce_counts *c, const char *where, double elapsed) {
    printf("produced %lld events to %s in %.2f s (new %lld, duplicates %lld, updates %lld, late "
           "%lld)",
           (long long)c->generated, where, elapsed, (long long)c->kinds[PIPE_GEN_NEW],
           (long long)c->kinds[PIPE_GEN_DUPLICATE], (long long)c->kinds[PIPE_GEN_UPDATE],
           (long long)c->kinds[PIPE_GEN_LATE]);
}

/* --to-avro: the events straight into a container file's blocks. */
static int produce_to_file(produce_args *a) {
    sd_error err = {0};
    if (a->rate > 0 || a->count == 0)
        return cli_usage_error("produce", "--to-avro needs --count N and no --rate");
    pipe_gen *gen = pipe_gen_new(&a->gen, &err);
    if (gen == NULL) return cli_fail(&err);
    avro_ocf_writer *w = avro_ocf_writer_open(a->to_avro, pipe_movie_rating_schema,
                                              a->codec ? a->codec : "snappy", &err);
    if (w == NULL) {
        pipe_gen_free(gen);
        return err.code == SD_ERR_ARG ? cli_usage_error("produce", "%s", err.msg) : cli_fail(&err);
    }
    if (!a->quiet)
        fprintf(stderr, "produce: to %s, seed %llu\n", a->to_avro, (unsigned long long)a->gen.seed);
    produce_counts counts = {0};
    pipe_gen_event ev;
    int64_t start = sd_now_ns(), now_s = sd_now_ms() / 1000;
    sd_status rc = SD_OK;
    /* One clock reading for all: events are "within the last minute" of
     * the moment the file was made. */
    while (rc == SD_OK && pipe_gen_next(gen, now_s, &ev)) {
        pipe_gen_encode(&ev, avro_ocf_writer_record(w));
        rc = avro_ocf_writer_end_record(w, &err);
        counts.generated++;
        counts.kinds[ev.kind]++;
    }
    if (rc == SD_OK)
        rc = avro_ocf_writer_close(w, true, &err);
    else
        avro_ocf_writer_close(w, false, NULL);
    pipe_gen_free(gen);
    if (rc != SD_OK) return cli_fail(&err);
    produce_summary(&counts, a->to_avro, (double)(sd_now_ns() - start) / 1e9);
    printf("\n");
    return CLI_EXIT_OK;
}

static int produce_run(produce_args *a) {
    if (a->to_avro) return produce_to_file(a);
    sd_error err = {0};
    cli_services svc;
    if (cli_resolve_services(a->bootstrap, a->registry, true, &svc, &err) != SD_OK)
        return cli_fail(&err);
    char subject[512];
    snprintf(subject, sizeof(subject), "%s", a->subject ? a->subject : "");
    if (a->subject == NULL) snprintf(subject, sizeof(subject), "%s-value", a->topic);
    int32_t schema_id = 0;
    if (produce_register(svc.registry, subject, &schema_id, &err) != SD_OK) return cli_fail(&err);

    pipe_gen *gen = pipe_gen_new(&a->gen, &err);
    if (gen == NULL) return cli_fail(&err);
    kafka_producer *p = kafka_producer_new(svc.bootstrap, &a->conf, &err);
    if (p == NULL) {
        pipe_gen_free(gen);
        return cli_fail(&err);
    }
    if (!a->quiet)
        fprintf(stderr, "produce: to %s at %s, schema id %d (subject %s), seed %llu\n", a->topic,
                svc.bootstrap, schema_id, subject, (unsigned long long)a->gen.seed);

    produce_counts counts = {0};
    sd_buf msg = SD_BUF_INIT;
    pipe_gen_event ev;
    int64_t start = sd_now_ns(), last_report = start;
    int64_t deadline = a->duration_s > 0 ? start + (int64_t)(a->duration_s * 1e9) : INT64_MAX;
    sd_status rc = SD_OK;
    while (sd_now_ns() < deadline && pipe_gen_next(gen, sd_now_ms() / 1000, &ev)) {
        sd_buf_reset(&msg);
        avro_wire_header(schema_id, &msg);
        pipe_gen_encode(&ev, &msg);
        rc = kafka_producer_send(p, a->topic, -1, a->key_event_id ? ev.event_id : NULL,
                                 a->key_event_id ? 36 : 0, msg.data, msg.len, 0, NULL, NULL, &err);
        if (rc != SD_OK) break;
        counts.generated++;
        counts.kinds[ev.kind]++;
        kafka_producer_poll(p, 0);
        int64_t now = sd_now_ns();
        if (!a->quiet && now - last_report >= 1000000000) {
            produce_progress(a, p, &counts, (double)(now - start) / 1e9);
            last_report = now;
        }
        produce_pace(p, a->rate, start, counts.generated);
    }
    if (rc == SD_OK) rc = kafka_producer_flush(p, 60000, &err);
    double elapsed = (double)(sd_now_ns() - start) / 1e9;
    const kafka_producer_stats *st = kafka_producer_get_stats(p);
    if (!a->quiet) produce_progress(a, p, &counts, elapsed);
    produce_summary(&counts, a->topic, elapsed);
    printf(": acked %lld, failed %lld\n", (long long)st->acked, (long long)st->failed);
    int exit_code = CLI_EXIT_OK;
    if (rc != SD_OK)
        exit_code = cli_fail(&err);
    else if (st->failed > 0) {
        fprintf(stderr, "streamdelta: %lld event(s) were not delivered: %s\n",
                (long long)st->failed, st->last_error);
        exit_code = CLI_EXIT_FAIL;
    }
    sd_buf_free(&msg);
    kafka_producer_free(p);
    pipe_gen_free(gen);
    return exit_code;
}

int cli_cmd_produce(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_produce_help(stdout);
        return CLI_EXIT_OK;
    }
    produce_args a = {.topic = "movie.ratings.v1"};
    int rc = produce_parse(argc, argv, &a);
    if (rc == CLI_EXIT_OK) rc = produce_run(&a);
    kafka_config_free(&a.conf);
    return rc;
}
