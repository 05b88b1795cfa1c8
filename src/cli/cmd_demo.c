/*
 * cmd_demo.c - `streamdelta demo`: the whole system in one process, with
 * nothing else running. It starts the embedded Kafka cluster and Schema
 * Registry (published in a private services file, so the stream finds
 * them the way it finds `streamdelta broker`), creates the topic with 6
 * partitions (the embedded cluster keeps about 5 MiB per partition),
 * produces movie-rating events on a background thread at a steady rate -
 * duplicates, updates, late events and a few undecodable messages among
 * them - while the stream runs for the given time, then shows the table
 * and what happened to the events.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "avro/avro.h"
#include "cli.h"
#include "cli_table.h"
#include "delta/delta.h"
#include "kafka/kafka.h"
#include "pipeline/pipeline.h"

#define DEMO_TOPIC "movie.ratings.v1"
#define DEMO_PARTITIONS 6
/* One message in this many is sent without the wire header, so the
 * dead-letter path shows up in the demo. */
#define DEMO_BAD_EVERY 2000

static void demo_help(FILE *out) {
    fprintf(out,
            "usage: streamdelta demo [--seconds N] [--table PATH] [--rate N]\n"
            "\n"
            "Start an embedded Kafka cluster and Schema Registry in this process, produce\n"
            "movie-rating events (10%% duplicates, 10%% updates, 5%% late, a few undecodable)\n"
            "at a steady rate while the stream upserts them into a Delta table, for N\n"
            "seconds; then print the first 20 rows and a summary. Ctrl-C ends it early.\n"
            "\n"
            "options:\n"
            "  --seconds N   how long the stream runs (default 30)\n"
            "  --table PATH  Delta table directory (default: a new temporary directory)\n"
            "  --rate N      events per second (default 20000)\n"
            "  -h, --help    this help\n");
}

typedef struct demo_producer {
    pthread_t thread;
    const char *bootstrap;
    int32_t schema_id;
    double rate;
    volatile int stop;
    /* results, read after the join */
    int64_t generated, bad, kinds[4], acked, failed;
    sd_error err;
} demo_producer;

/* The producer thread: steady rate, exact shares on average. */
static void *demo_produce(void *arg) {
    demo_producer *d = arg;
    kafka_config conf = {0};
    kafka_config_add(&conf, "linger.ms", "1");
    kafka_producer *p = kafka_producer_new(d->bootstrap, &conf, &d->err);
    pipe_gen_options go = {
        .seed = (uint64_t)sd_now_ns(), .duplicates = 0.10, .updates = 0.10, .late = 0.05};
    pipe_gen *gen = p ? pipe_gen_new(&go, &d->err) : NULL;
    sd_buf msg = SD_BUF_INIT;
    int64_t start = sd_now_ns();
    pipe_gen_event ev;
    while (gen != NULL && !d->stop && pipe_gen_next(gen, sd_now_ms() / 1000, &ev)) {
        sd_buf_reset(&msg);
        bool bad = (d->generated + 1) % DEMO_BAD_EVERY == 0;
        if (!bad) avro_wire_header(d->schema_id, &msg);
        pipe_gen_encode(&ev, &msg);
        if (kafka_producer_send(p, DEMO_TOPIC, -1, NULL, 0, msg.data, msg.len, 0, NULL, NULL,
                                &d->err) != SD_OK)
            break;
        d->generated++;
        if (bad)
            d->bad++;
        else
            d->kinds[ev.kind]++;
        kafka_producer_poll(p, 0);
        /* Pace: sleep until this event's slot. */
        int64_t due = start + (int64_t)((double)d->generated * 1e9 / d->rate);
        int64_t now = sd_now_ns();
        if (due > now) {
            struct timespec ts = {.tv_sec = (due - now) / 1000000000,
                                  .tv_nsec = (due - now) % 1000000000};
            nanosleep(&ts, NULL);
        }
    }
    if (p != NULL) {
        kafka_producer_flush(p, 10000, &d->err);
        const kafka_producer_stats *st = kafka_producer_get_stats(p);
        d->acked = st->acked;
        d->failed = st->failed;
    }
    sd_buf_free(&msg);
    pipe_gen_free(gen);
    kafka_producer_free(p);
    kafka_config_free(&conf);
    return NULL;
}

static sd_status demo_create_topic(void *opaque, const char *topic, int partitions, sd_error *err) {
    return kafka_dev_cluster_create_topic(opaque, topic, partitions, err);
}

typedef struct demo_args {
    long seconds;
    double rate;
    const char *table;
} demo_args;

static int demo_parse(int argc, char **argv, demo_args *a) {
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            return cli_usage_error("demo", "unknown option or missing value: '%s'", argv[i]);
        const char *opt = argv[i], *v = argv[++i];
        char *end;
        if (strcmp(opt, "--seconds") == 0) {
            a->seconds = strtol(v, &end, 10);
            if (*end || a->seconds <= 0 || a->seconds > 86400)
                return cli_usage_error("demo", "--seconds expects 1..86400, got '%s'", v);
        } else if (strcmp(opt, "--rate") == 0) {
            a->rate = strtod(v, &end);
            if (*end || !(a->rate >= 1 && a->rate <= 1e7))
                return cli_usage_error("demo", "--rate expects 1..10000000, got '%s'", v);
        } else if (strcmp(opt, "--table") == 0) {
            a->table = v;
        } else {
            return cli_usage_error("demo", "unknown option '%s'", opt);
        }
    }
    return CLI_EXIT_OK;
}

/* Start the services and publish them in `services_path`. */
static sd_status demo_services(const char *services_path, kafka_dev_cluster **cluster,
                               kafka_registry_server **reg, int32_t *schema_id, sd_error *err) {
    *cluster = kafka_dev_cluster_start(1, err);
    if (*cluster == NULL) return err->code;
    if (kafka_dev_cluster_create_topic(*cluster, DEMO_TOPIC, DEMO_PARTITIONS, err) != SD_OK)
        return err->code;
    *reg = kafka_registry_server_start(0, demo_create_topic, *cluster, err);
    if (*reg == NULL) return err->code;
    kafka_local_services svc = {.pid = (long)getpid()};
    snprintf(svc.bootstrap_servers, sizeof svc.bootstrap_servers, "%s",
             kafka_dev_cluster_bootstrap(*cluster));
    snprintf(svc.registry_url, sizeof svc.registry_url, "http://127.0.0.1:%d",
             kafka_registry_server_port(*reg));
    if (kafka_local_services_write(services_path, &svc, err) != SD_OK) return err->code;
    /* The stream and the commands it shares code with read this file. */
    setenv("STREAMDELTA_LOCAL", services_path, 1);
    avro_registry_conf rc = {.url = svc.registry_url};
    avro_registry *r = avro_registry_new(&rc, err);
    if (r == NULL) return err->code;
    sd_status st =
        avro_registry_register(r, DEMO_TOPIC "-value", pipe_movie_rating_schema, schema_id, err);
    avro_registry_free(r);
    return st;
}

static void demo_add_totals(pipe_engine_totals *t, const pipe_engine_totals *r) {
    t->batches += r->batches;
    t->input_rows += r->input_rows;
    t->dead_lettered += r->dead_lettered;
    t->late += r->late;
    t->deduplicated += r->deduplicated;
    t->inserted += r->inserted;
    t->updated += r->updated;
    t->unchanged += r->unchanged;
    t->retries += r->retries;
    if (r->table_version >= 0) t->table_version = r->table_version;
}

static void demo_summary(const demo_producer *d, const pipe_engine_totals *t, const char *table,
                         const char *dlq_path) {
    size_t files = 0;
    sd_error err = {0};
    delta_snapshot *snap = NULL;
    if (delta_snapshot_load(table, -1, &snap, &err) == SD_OK) {
        files = delta_snapshot_num_files(snap);
        delta_snapshot_free(snap);
    }
    printf("\nsummary\n");
    printf("  produced          %lld events (new %lld, duplicates %lld, updates %lld, late %lld, "
           "undecodable %lld), acked %lld\n",
           (long long)d->generated, (long long)d->kinds[PIPE_GEN_NEW],
           (long long)d->kinds[PIPE_GEN_DUPLICATE], (long long)d->kinds[PIPE_GEN_UPDATE],
           (long long)d->kinds[PIPE_GEN_LATE], (long long)d->bad, (long long)d->acked);
    printf("  rows in           %lld in %lld micro-batch(es)\n", (long long)t->input_rows,
           (long long)t->batches);
    printf("  late dropped      %lld\n", (long long)t->late);
    printf("  duplicates        %lld in batches, %lld unchanged by the merge\n",
           (long long)t->deduplicated, (long long)t->unchanged);
    printf("  updates applied   %lld\n", (long long)t->updated);
    printf("  inserted          %lld\n", (long long)t->inserted);
    printf("  dead letters      %lld (%s)\n", (long long)t->dead_lettered, dlq_path);
    printf("  table             %s, version %lld, %zu file(s)\n", table,
           (long long)t->table_version, files);
}

static int demo_run(const demo_args *a) {
    sd_error err = {0};
    /* The demo's topic is new on every run, so offsets recorded in an older
     * demo table would point past its end. */
    if (a->table != NULL) {
        char *log = sd_xasprintf("%s/_delta_log", a->table);
        struct stat st;
        bool exists = stat(log, &st) == 0;
        free(log);
        if (exists) {
            sd_error_set(&err, SD_ERR_EXISTS,
                         "%s is already a Delta table; the demo starts a new topic each time, so "
                         "give a new --table path or remove that directory",
                         a->table);
            return cli_fail(&err);
        }
    }
    char workdir[] = "/tmp/streamdelta-demo-XXXXXX";
    if (mkdtemp(workdir) == NULL) {
        sd_error_set(&err, SD_ERR_IO, "cannot create a temporary directory: %s", strerror(errno));
        return cli_fail(&err);
    }
    char *services = sd_xasprintf("%s/local.json", workdir);
    char *dlq = sd_xasprintf("%s/dead-letters.jsonl", workdir);
    char *table = a->table ? sd_xstrdup(a->table) : sd_xasprintf("%s/movie_ratings", workdir);
    /* Signals blocked before librdkafka starts its threads. */
    cli_stop *stop = cli_stop_start();
    kafka_dev_cluster *cluster = NULL;
    kafka_registry_server *reg = NULL;
    demo_producer prod = {.rate = a->rate};
    int rc = CLI_EXIT_OK;
    if (demo_services(services, &cluster, &reg, &prod.schema_id, &err) != SD_OK)
        rc = cli_fail(&err);
    pipe_config cfg;
    bool have_cfg = false;
    if (rc == CLI_EXIT_OK) {
        char *keys[] = {"sink.table", "dead_letter.mode", "dead_letter.path", "source.topic",
                        "trigger.max_batch_wait"};
        char *vals[] = {table, "file", dlq, DEMO_TOPIC, "200ms"};
        have_cfg = true;
        if (cli_run_build_config(NULL, 5, keys, vals, &cfg, &err) != SD_OK) rc = cli_fail(&err);
    }
    pipe_engine_totals totals = {.table_version = -1};
    if (rc == CLI_EXIT_OK) {
        fprintf(stderr,
                "demo: Kafka at %s, registry at %s, topic %s (%d partitions), table %s, "
                "%ld s at %.0f events/s\n",
                cfg.bootstrap_servers, cfg.schema_registry, DEMO_TOPIC, DEMO_PARTITIONS, table,
                a->seconds, a->rate);
        prod.bootstrap = cfg.bootstrap_servers;
        pthread_create(&prod.thread, NULL, demo_produce, &prod);
        int64_t deadline = sd_now_ms() + a->seconds * 1000;
        rc = cli_run_stream(&cfg, false, NULL, cli_stop_flag(stop), deadline, &totals);
        prod.stop = 1;
        pthread_join(prod.thread, NULL);
        if (prod.err.code != SD_OK) fprintf(stderr, "demo: producer: %s\n", prod.err.msg);
        /* Drain what was produced in the last moments, so the summary
         * accounts for every event. */
        if (rc == CLI_EXIT_OK && !*cli_stop_flag(stop)) {
            pipe_engine_totals rest = {.table_version = -1};
            fprintf(stderr, "demo: producer stopped; draining the topic\n");
            if (pipe_config_set(&cfg, "trigger.mode", "available-now", &err) != SD_OK)
                rc = cli_fail(&err);
            else
                rc = cli_run_stream(&cfg, false, NULL, cli_stop_flag(stop), 0, &rest);
            demo_add_totals(&totals, &rest);
        }
    }
    if (rc == CLI_EXIT_OK) {
        printf("\nthe table %s (first 20 rows):\n", table);
        fflush(stdout);
        char *show_argv[] = {"show", table, NULL};
        rc = cli_cmd_show(2, show_argv);
        fflush(stdout);
        demo_summary(&prod, &totals, table, dlq);
    }
    if (have_cfg) pipe_config_free(&cfg);
    kafka_registry_server_stop(reg);
    kafka_dev_cluster_stop(cluster);
    cli_stop_end(stop);
    unlink(services);
    free(services);
    free(dlq);
    free(table);
    return rc;
}

int cli_cmd_demo(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        demo_help(stdout);
        return CLI_EXIT_OK;
    }
    demo_args a = {.seconds = 30, .rate = 20000};
    int rc = demo_parse(argc, argv, &a);
    return rc == CLI_EXIT_OK ? demo_run(&a) : rc;
}
