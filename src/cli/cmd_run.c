/*
 * cmd_run.c - `streamdelta run`: the stream. Builds the configuration
 * (built-in movie pipeline, an INI file, --set overrides, then the
 * shortcut options), runs pipe_engine micro-batches until the trigger says
 * stop or SIGINT/SIGTERM arrives, and prints progress.
 *
 * Signals are not caught by a handler (that would need a global flag): the
 * stop signals are blocked before any library thread starts and a small
 * thread waits for them with sigtimedwait() and raises the engine's stop
 * flag, so the current batch finishes and the process exits 0 with the
 * table at its last commit.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "pipeline/pipeline.h"

/* trigger.max_batch_records for a file when the user did not set it: a
 * file is there at once, and large batches cost fewer commits and fewer
 * file rewrites per event. */
#define RUN_FILE_BATCH "1000000"

static void run_help(FILE *out) {
    fprintf(out,
            "usage: streamdelta run [options]\n"
            "\n"
            "Stream a Kafka topic (Avro, Confluent wire format) into a Delta table: decode,\n"
            "derive columns, drop late events, dedupe by key, MERGE, and commit each\n"
            "micro-batch with its Kafka offsets in one Delta commit (a restart continues\n"
            "exactly after the last commit). Without options this is the movie-ratings\n"
            "pipeline; the table is created when missing. SIGINT/SIGTERM finish the current\n"
            "batch and exit 0.\n"
            "\n"
            "options:\n"
            "  --config FILE              INI configuration (see the keys below)\n"
            "  --set section.key=value    override one key (repeatable, applied in order)\n"
            "  --available-now            read what the topic holds now, then exit\n"
            "  --trigger fast|available-now|DURATION\n"
            "                             micro-batch trigger; a duration (10s) = interval\n"
            "  --starting-offsets earliest|latest\n"
            "                             where a new table starts reading\n"
            "  --group-mode               join a consumer group (source.kafka.group.id) instead\n"
            "                             of reading every partition\n"
            "  --from-avro FILE           read an Avro container file (its own schema) instead\n"
            "                             of Kafka, in micro-batches of trigger.max_batch_records\n"
            "                             (default 1000000 here); the table records the next\n"
            "                             record index (txn appId streamdelta-file-<name>-0), so\n"
            "                             a rerun continues after the last commit; the run ends\n"
            "                             at the file's end\n"
            "  --progress-json PATH|-     one JSON progress line per batch (- = stdout)\n"
            "  --print-config             print the effective configuration and exit\n"
            "  --bootstrap-servers B      Kafka cluster (default: the local broker of\n"
            "                             'streamdelta broker', else the configuration)\n"
            "  --schema-registry URL      Schema Registry (same defaults)\n"
            "  --table PATH               Delta table directory\n"
            "  --topic T                  Kafka topic\n"
            "  --dead-letters PATH        undecodable records as JSON lines in PATH\n"
            "  -h, --help                 this help\n"
            "\n"
            "exit codes: 0 done or stopped, 1 the stream failed (the table stays at its\n"
            "last commit), 2 bad usage\n"
            "\n"
            "configuration keys:\n");
    sd_buf b = SD_BUF_INIT;
    pipe_config_help(&b);
    fputs(sd_buf_cstr(&b), out);
    sd_buf_free(&b);
}

typedef struct run_args {
    const char *config;
    int nset;
    char **set_keys, **set_values;
    bool print_config, group_mode;
    const char *progress_json;
    const char *from_avro;
} run_args;

static void run_args_free(run_args *a) {
    for (int i = 0; i < a->nset; i++) {
        free(a->set_keys[i]);
        free(a->set_values[i]);
    }
    free(a->set_keys);
    free(a->set_values);
}

static void run_add_set(run_args *a, const char *key, const char *value) {
    a->set_keys = sd_xrealloc(a->set_keys, sizeof(char *) * (size_t)(a->nset + 1));
    a->set_values = sd_xrealloc(a->set_values, sizeof(char *) * (size_t)(a->nset + 1));
    a->set_keys[a->nset] = sd_xstrdup(key);
    a->set_values[a->nset] = sd_xstrdup(value);
    a->nset++;
}

/* Shortcut options are --set overrides of one key each. */
static const struct {
    const char *opt;
    const char *key;
} run_shortcuts[] = {
    {"--bootstrap-servers", "source.bootstrap_servers"},
    {"--schema-registry", "source.schema_registry"},
    {"--table", "sink.table"},
    {"--topic", "source.topic"},
    {"--starting-offsets", "source.starting_offsets"},
};

static int run_parse_trigger(run_args *a, const char *v) {
    int64_t ms;
    if (strcmp(v, "fast") == 0 || strcmp(v, "available-now") == 0) {
        run_add_set(a, "trigger.mode", v);
    } else if (pipe_parse_duration(v, &ms) && ms > 0) {
        run_add_set(a, "trigger.mode", "interval");
        run_add_set(a, "trigger.interval", v);
    } else {
        return cli_usage_error("run",
                               "--trigger expects fast, available-now or a duration "
                               "(500ms, 10s, 5m), got '%s'",
                               v);
    }
    return CLI_EXIT_OK;
}

static int run_parse(int argc, char **argv, run_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--available-now") == 0) {
            run_add_set(a, "trigger.mode", "available-now");
            continue;
        }
        if (strcmp(opt, "--group-mode") == 0) {
            a->group_mode = true;
            continue;
        }
        if (strcmp(opt, "--print-config") == 0) {
            a->print_config = true;
            continue;
        }
        if (i + 1 >= argc)
            return cli_usage_error("run", "unknown option or missing value: '%s'", opt);
        const char *v = argv[++i];
        bool done = false;
        for (size_t k = 0; k < sizeof run_shortcuts / sizeof run_shortcuts[0]; k++)
            if (strcmp(opt, run_shortcuts[k].opt) == 0) {
                run_add_set(a, run_shortcuts[k].key, v);
                done = true;
            }
        if (done) continue;
        if (strcmp(opt, "--config") == 0) {
            a->config = v;
        } else if (strcmp(opt, "--set") == 0) {
            const char *eq = strchr(v, '=');
            if (eq == NULL || eq == v)
                return cli_usage_error("run", "--set expects section.key=value, got '%s'", v);
            char *key = sd_xstrndup(v, (size_t)(eq - v));
            run_add_set(a, key, eq + 1);
            free(key);
        } else if (strcmp(opt, "--trigger") == 0) {
            int rc = run_parse_trigger(a, v);
            if (rc != CLI_EXIT_OK) return rc;
        } else if (strcmp(opt, "--from-avro") == 0) {
            a->from_avro = v;
        } else if (strcmp(opt, "--progress-json") == 0) {
            a->progress_json = v;
        } else if (strcmp(opt, "--dead-letters") == 0) {
            run_add_set(a, "dead_letter.mode", "file");
            run_add_set(a, "dead_letter.path", v);
        } else {
            return cli_usage_error("run", "unknown option '%s'", opt);
        }
    }
    return CLI_EXIT_OK;
}

/* Addresses nobody set come from the local broker's services file when
 * there is one (the same defaults as the other commands). */
static sd_status run_default_services(pipe_config *cfg, sd_error *err) {
    bool bs_set = pipe_config_is_set(cfg, "source.bootstrap_servers");
    bool reg_set = pipe_config_is_set(cfg, "source.schema_registry");
    if (bs_set && reg_set) return SD_OK;
    cli_services svc;
    sd_error ignored = {0};
    if (cli_resolve_services(NULL, NULL, true, &svc, &ignored) != SD_OK) return SD_OK;
    if (!bs_set && pipe_config_set(cfg, "source.bootstrap_servers", svc.bootstrap, err) != SD_OK)
        return err->code;
    if (!reg_set && svc.registry[0] &&
        pipe_config_set(cfg, "source.schema_registry", svc.registry, err) != SD_OK)
        return err->code;
    return SD_OK;
}

/* With a file source the batch size default is RUN_FILE_BATCH: set before
 * the file and the overrides, which may change it. */
static sd_status run_build_config(const char *file, int nset, char *const *keys,
                                  char *const *values, bool from_file, struct pipe_config *cfg,
                                  sd_error *err) {
    pipe_config_init(cfg);
    if (from_file &&
        pipe_config_set(cfg, "trigger.max_batch_records", RUN_FILE_BATCH, err) != SD_OK)
        return err->code;
    if (file != NULL && pipe_config_load(cfg, file, err) != SD_OK) return err->code;
    for (int i = 0; i < nset; i++)
        if (pipe_config_set(cfg, keys[i], values[i], err) != SD_OK) return err->code;
    if (run_default_services(cfg, err) != SD_OK) return err->code;
    return pipe_config_validate(cfg, err);
}

sd_status cli_run_build_config(const char *file, int nset, char *const *keys, char *const *values,
                               struct pipe_config *cfg, sd_error *err) {
    return run_build_config(file, nset, keys, values, false, cfg, err);
}

/* ------------------------------------------------------------------------ */
/* Stop signals                                                              */
/* ------------------------------------------------------------------------ */

struct cli_stop {
    pthread_t thread;
    volatile int stop;     /* raised on SIGINT/SIGTERM: the engine's stop flag */
    volatile int finished; /* the waiting thread ends */
    sigset_t set;
};

static void *run_signal_thread(void *arg) {
    cli_stop *s = arg;
    struct timespec tick = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
    while (!s->finished) {
        int sig = sigtimedwait(&s->set, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            if (s->stop) _exit(130); /* a second signal: the user insists */
            fprintf(stderr, "streamdelta: %s received, finishing the current batch\n",
                    sig == SIGINT ? "SIGINT" : "SIGTERM");
            s->stop = 1;
        }
    }
    return NULL;
}

cli_stop *cli_stop_start(void) {
    cli_stop *s = sd_xcalloc(1, sizeof *s);
    sigemptyset(&s->set);
    sigaddset(&s->set, SIGINT);
    sigaddset(&s->set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &s->set, NULL);
    pthread_create(&s->thread, NULL, run_signal_thread, s);
    return s;
}

const volatile int *cli_stop_flag(const cli_stop *s) {
    return &s->stop;
}

void cli_stop_raise(cli_stop *s) {
    s->stop = 1;
}

void cli_stop_end(cli_stop *s) {
    s->finished = 1;
    pthread_join(s->thread, NULL);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* The loop                                                                  */
/* ------------------------------------------------------------------------ */

static void run_sleep_ms(int64_t ms, const volatile int *stop) {
    while (ms > 0 && !*stop) {
        int64_t step = ms < 100 ? ms : 100;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static int run_stream(const struct pipe_config *cfg, bool group_mode, const char *from_avro,
                      FILE *json, const volatile int *stop, int64_t deadline_ms,
                      struct pipe_engine_totals *totals) {
    sd_error err = {0};
    pipe_engine_options o = {.group_mode = group_mode,
                             .human = stderr,
                             .json = json,
                             .stop = stop,
                             .from_avro = from_avro};
    pipe_engine *e = NULL;
    int backoff = 250;
    int64_t failing_since = sd_now_ms();
    /* The broker or registry may still be starting: retry, as later. */
    while ((e = pipe_engine_new(cfg, &o, &err)) == NULL && err.code == SD_ERR_RETRY && !*stop) {
        if (pipe_retries_exhausted(cfg, failing_since, &err)) break;
        fprintf(stderr, "streamdelta: %s; retrying in %d ms\n", err.msg, backoff);
        run_sleep_ms(backoff, stop);
        backoff = backoff < 5000 ? backoff * 2 : 10000;
        sd_error_clear(&err);
    }
    if (e == NULL) return *stop && err.code == SD_ERR_RETRY ? CLI_EXIT_OK : cli_fail(&err);
    int rc = CLI_EXIT_OK;
    bool finished = false;
    while (!finished) {
        if (deadline_ms > 0 && sd_now_ms() >= deadline_ms) break;
        if (pipe_engine_run_batch(e, &finished, &err) != SD_OK) {
            rc = cli_fail(&err);
            break;
        }
    }
    if (totals) *totals = pipe_engine_get_totals(e);
    pipe_engine_free(e);
    return rc;
}

int cli_run_stream(const struct pipe_config *cfg, bool group_mode, FILE *json,
                   const volatile int *stop, int64_t deadline_ms,
                   struct pipe_engine_totals *totals) {
    return run_stream(cfg, group_mode, NULL, json, stop, deadline_ms, totals);
}

static void run_summary(const pipe_engine_totals *t) {
    if (t->batches == 0) {
        fprintf(stderr, "run: nothing committed\n");
        return;
    }
    fprintf(stderr,
            "run: %lld batch(es), %lld row(s) in, %lld dead-lettered, %lld late, %lld "
            "duplicate(s) in batches, %lld inserted, %lld updated, %lld unchanged; last "
            "commit: version %lld\n",
            (long long)t->batches, (long long)t->input_rows, (long long)t->dead_lettered,
            (long long)t->late, (long long)t->deduplicated, (long long)t->inserted,
            (long long)t->updated, (long long)t->unchanged, (long long)t->table_version);
}

int cli_cmd_run(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        run_help(stdout);
        return CLI_EXIT_OK;
    }
    run_args a = {0};
    int rc = run_parse(argc, argv, &a);
    pipe_config cfg;
    sd_error err = {0};
    if (rc == CLI_EXIT_OK && run_build_config(a.config, a.nset, a.set_keys, a.set_values,
                                              a.from_avro != NULL, &cfg, &err) != SD_OK) {
        rc = err.code == SD_ERR_ARG ? cli_usage_error("run", "%s", err.msg) : cli_fail(&err);
        pipe_config_free(&cfg);
    } else if (rc == CLI_EXIT_OK) {
        FILE *json = NULL;
        const char *pj = a.progress_json ? a.progress_json : cfg.progress_json;
        if (a.print_config) {
            sd_buf b = SD_BUF_INIT;
            pipe_config_format(&cfg, &b);
            fputs(sd_buf_cstr(&b), stdout);
            sd_buf_free(&b);
        } else if (pj[0] && strcmp(pj, "-") != 0 && (json = fopen(pj, "a")) == NULL) {
            sd_error_set(&err, SD_ERR_IO, "--progress-json %s: cannot open: %s", pj,
                         strerror(errno));
            rc = cli_fail(&err);
        } else {
            if (strcmp(pj, "-") == 0) json = stdout;
            cli_stop *sig = cli_stop_start();
            pipe_engine_totals t = {0};
            rc = run_stream(&cfg, a.group_mode, a.from_avro, json, cli_stop_flag(sig), 0, &t);
            cli_stop_end(sig);
            run_summary(&t);
            if (json && json != stdout) fclose(json);
        }
        pipe_config_free(&cfg);
    }
    run_args_free(&a);
    return rc;
}
