/*
 * pipe_engine.c - the micro-batch loop of DESIGN.md ("The default
 * pipeline") as a library: poll -> decode -> derive -> late filter ->
 * dedupe -> dead letters flushed -> MERGE + offsets in one Delta commit.
 *
 * Exactly-once comes from the table, not from Kafka: the source is
 * positioned from the txn actions of the last commit, and a batch that has
 * not committed leaves no trace in the log. So every failure that is not
 * per-record (broker or registry unreachable) is handled the same way:
 * abandon the batch, wait, reopen the source at the table's offsets.
 * Dead letters are flushed before the commit that covers them; a crash
 * between the two writes them again on restart (at least once), never
 * loses them.
 *
 * Records come from a source behind four calls (pe_source_ops): open at the
 * table's positions, poll, decode into the batch, caught up. Two sources
 * exist: a Kafka topic (positions = offsets per partition) and an Avro
 * container file (`run --from-avro`: one position, the next record index,
 * so the broker is not in the way when the engine itself is measured).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "avro/avro.h"
#include "delta/delta.h"
#include "kafka/kafka.h"
#include "pipeline.h"

#define PE_DAY_MS 86400000LL
/* Most partitions of one topic the engine tracks (Kafka allows more, but a
 * stream with more than this many partitions in one process is a mistake). */
#define PE_MAX_PARTITIONS 4096
/* Dead letters must be acknowledged before the commit; a broker that takes
 * longer than this is treated as unreachable. */
#define PE_DLQ_FLUSH_MS 30000
/* Longest wait after a batch lost its commit to another writer. */
#define PE_CONFLICT_MAX_BACKOFF_MS 1000
/* The appId prefix of a file source's position (see pe_file_open). */
#define PE_FILE_APP_PREFIX "streamdelta-file-"

/* What one poll brought: the positions the commit records (per source
 * partition: the first position read and the next one to read) and, for
 * Kafka, the messages still to decode. count = 0: nothing to do now. */
typedef struct pe_polled {
    size_t count;
    kafka_source_batch kb;
    int nparts;
    int32_t *parts;
    int64_t *first; /* -1 = unknown */
    int64_t *next;
} pe_polled;

/* A source of records: the engine's poll and decode steps. */
typedef struct pe_source_ops {
    /* Position the source where the table's last commit left it. */
    sd_status (*open)(pipe_engine *e, sd_error *err);
    sd_status (*poll)(pipe_engine *e, pe_polled *b, sd_error *err);
    /* Fill e->decoded and e->origins from what poll brought (b->count and
     * the positions may be settled here); rejects go to the dead letters. */
    sd_status (*decode)(pipe_engine *e, pe_polled *b, pipe_progress *p, sd_error *err);
    /* After the batch; `committed` when the table now holds b's positions. */
    void (*release)(pipe_engine *e, const pe_polled *b, bool committed);
    bool (*caught_up)(const pipe_engine *e);
    void (*close)(pipe_engine *e);
} pe_source_ops;

/* The file source reads the next batch on a second thread while the engine
 * derives, dedupes and merges the current one (decoding is a quarter of
 * the work and the merge leaves a core idle at times). */
typedef struct pe_read_ahead {
    pthread_t thread;
    bool running;
    bool have_batch; /* `batch` initialised */
    avro_ocf_reader *ocf;
    sd_batch batch;
    pipe_row_origin *origins;
    size_t origins_cap;
    size_t max;    /* records to read */
    int64_t first; /* index of the first one */
    size_t n;      /* records read */
    sd_status st;
    sd_error err;
} pe_read_ahead;

struct pipe_engine {
    const pipe_config *cfg;
    pipe_engine_options opts;
    const pe_source_ops *source;
    const char *app_prefix;
    const char *topic; /* the Kafka topic, or the file's name */
    avro_registry *reg;
    avro_schema *reader;
    sd_schema *input;
    pipe_derive_plan *plan;
    avro_stream *dec;
    pipe_merge *merge;
    kafka_config kconf;
    char *group_id;
    kafka_source *src;
    avro_ocf_reader *ocf;
    bool ocf_fresh; /* opened and not read yet */
    bool source_open;
    char *file_name;   /* basename of opts.from_avro: the file source's "topic" */
    int64_t file_next; /* file source: index of the next record to commit */
    int64_t read_next; /* file source: index of the next record to read */
    pe_read_ahead ahead;
    size_t polled_cap; /* capacity of the arrays in `polled` */
    pe_polled polled;
    kafka_dlq *dlq;
    int dlq_fd;
    int key_col, order_col, late_col;
    sd_batch decoded;
    pipe_row_origin *origins;
    size_t origins_cap;
    sd_buf dlq_buf; /* JSON lines of the batch's dead letters (file mode) */
    int64_t batch_id;
    int64_t prev_start_ms;
    int64_t next_trigger_ms;
    int backoff_ms;
    int64_t failing_since_ms;
    pipe_progress progress;
    bool have_progress;
    pipe_engine_totals totals;
    char run_id[SD_UUID_TEXT_SIZE];
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

static int64_t pe_today(void) {
    int64_t ms = sd_now_ms();
    return ms / PE_DAY_MS - (ms % PE_DAY_MS < 0);
}

static bool pe_stopping(const pipe_engine *e) {
    return e->opts.stop != NULL && *e->opts.stop;
}

/* Sleep up to ms, waking early when asked to stop. */
static void pe_sleep(const pipe_engine *e, int64_t ms) {
    while (ms > 0 && !pe_stopping(e)) {
        int64_t step = ms < 100 ? ms : 100;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static void pe_base64(const uint8_t *p, size_t n, sd_buf *out) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        sd_buf_append(out, q, 4);
    }
}

/* ------------------------------------------------------------------------ */
/* Setup                                                                     */
/* ------------------------------------------------------------------------ */

/* The reader schema: the subject's latest version, else the built-in movie
 * schema (a topic whose producer has not registered yet). */
static sd_status pe_reader_schema(pipe_engine *e, sd_error *err) {
    const pipe_config *cfg = e->cfg;
    char *subject =
        cfg->subject[0] ? sd_xstrdup(cfg->subject) : sd_xasprintf("%s-value", cfg->topic);
    char *text = NULL;
    sd_status st = avro_registry_latest(e->reg, subject, NULL, NULL, &text, err);
    if (st == SD_ERR_NOT_FOUND) {
        sd_error_clear(err);
        e->reader =
            avro_schema_parse(pipe_movie_rating_schema, strlen(pipe_movie_rating_schema), err);
        st = e->reader ? SD_OK : err->code;
    } else if (st == SD_OK) {
        e->reader = avro_schema_parse(text, strlen(text), err);
        if (e->reader == NULL) {
            sd_error_prefix(err, "reader schema of subject '%s': ", subject);
            st = err->code;
        }
    } else {
        sd_error_prefix(err, "reader schema of subject '%s' from %s: ", subject,
                        cfg->schema_registry);
    }
    free(text);
    free(subject);
    return st;
}

/* The table's partitions and next offsets for our topic. */
static int pe_table_offsets(const pipe_engine *e, int32_t *parts, int64_t *next, int max) {
    return pipe_merge_offsets(e->merge, e->app_prefix, e->topic, parts, next, max);
}

/* Group mode: start assigned partitions where the table says now. The
 * merger's snapshot can be older than the table: another instance may have
 * owned these partitions and committed since, and starting from its older
 * offsets would read those records again (and the commit would then find
 * the offsets taken). So the offsets come from the latest version of the
 * log, under the appIds pipe_merge_commit writes ("<prefix><topic>-<p>"). */
static sd_status pe_on_assign(void *opaque, const char *topic, const int32_t *partitions, int n,
                              int64_t *next_offsets, sd_error *err) {
    pipe_engine *e = opaque;
    delta_snapshot *snap = NULL;
    sd_status st = delta_snapshot_load(e->cfg->table, -1, &snap, err);
    if (st != SD_OK) {
        sd_error_prefix(err,
                        "reading the offsets of the assigned partitions from %s: ", e->cfg->table);
        return st;
    }
    for (int i = 0; i < n; i++) {
        char *app = sd_xasprintf("%s%s-%d", e->app_prefix, topic, (int)partitions[i]);
        next_offsets[i] = delta_snapshot_txn_version(snap, app);
        free(app);
    }
    delta_snapshot_free(snap);
    return SD_OK;
}

static sd_status pe_kafka_open(pipe_engine *e, sd_error *err) {
    int32_t *parts = sd_xmalloc(sizeof(int32_t) * PE_MAX_PARTITIONS);
    int64_t *next = sd_xmalloc(sizeof(int64_t) * PE_MAX_PARTITIONS);
    kafka_partition_offset *start = sd_xmalloc(sizeof(*start) * PE_MAX_PARTITIONS);
    int n = pe_table_offsets(e, parts, next, PE_MAX_PARTITIONS);
    for (int i = 0; i < n; i++) start[i] = (kafka_partition_offset){parts[i], next[i]};
    kafka_source_options so = {
        .bootstrap = e->cfg->bootstrap_servers,
        .topic = e->cfg->topic,
        .conf = &e->kconf,
        .starting_offsets = e->cfg->starting_offsets == PIPE_START_LATEST ? KAFKA_START_LATEST
                                                                          : KAFKA_START_EARLIEST,
        .start = start,
        .nstart = n,
        .stop_at_end = e->cfg->trigger == PIPE_TRIGGER_AVAILABLE_NOW,
        .group_id = e->group_id,
        .on_assign = e->group_id ? pe_on_assign : NULL,
        .opaque = e,
    };
    e->src = kafka_source_new(&so, err);
    free(parts);
    free(next);
    free(start);
    return e->src ? SD_OK : err->code;
}

/* Open the merger, creating the table from the output schema when it is
 * missing (the stream's first run). */
static sd_status pe_open_table(pipe_engine *e, sd_error *err) {
    const pipe_config *cfg = e->cfg;
    e->merge = pipe_merge_open(cfg, e->plan->output, pe_today(), err);
    if (e->merge != NULL) return SD_OK;
    if (err->code != SD_ERR_NOT_FOUND) return err->code;
    sd_error_clear(err);
    const char *parts[1] = {cfg->partition_by};
    /* sink.deletion_vectors: a new table gets the feature it needs. */
    delta_kv dv = {"delta.enableDeletionVectors", "true"};
    delta_map props = {cfg->deletion_vectors ? 1 : 0, &dv};
    sd_status st = delta_table_create(cfg->table, e->plan->output, parts,
                                      cfg->partition_by[0] ? 1 : 0, &props, err);
    if (st != SD_OK && st != SD_ERR_EXISTS) {
        sd_error_prefix(err, "creating the table %s: ", cfg->table);
        return st;
    }
    sd_error_clear(err);
    e->merge = pipe_merge_open(cfg, e->plan->output, pe_today(), err);
    return e->merge ? SD_OK : err->code;
}

static sd_status pe_open_dead_letters(pipe_engine *e, sd_error *err) {
    const pipe_config *cfg = e->cfg;
    if (cfg->dead_letter == PIPE_DLQ_FILE) {
        e->dlq_fd = open(cfg->dead_letter_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (e->dlq_fd < 0)
            return sd_error_set(err, SD_ERR_IO, "dead-letter file %s: cannot open: %s",
                                cfg->dead_letter_path, strerror(errno));
    } else if (cfg->dead_letter == PIPE_DLQ_TOPIC) {
        e->dlq = kafka_dlq_new(cfg->bootstrap_servers, &e->kconf, cfg->topic,
                               cfg->dead_letter_topic[0] ? cfg->dead_letter_topic : NULL, err);
        if (e->dlq == NULL) return err->code;
    }
    return SD_OK;
}

/* Which output columns the dedupe and the late filter use. */
static sd_status pe_resolve_columns(pipe_engine *e, sd_error *err) {
    const pipe_config *cfg = e->cfg;
    const sd_schema *out = e->plan->output;
    e->key_col = sd_schema_find(out, cfg->key);
    if (e->key_col < 0)
        return sd_error_set(err, SD_ERR_ARG, "sink.key: column '%s' is not an output column",
                            cfg->key);
    e->order_col = cfg->order_by[0] ? sd_schema_find(out, cfg->order_by) : -1;
    if (cfg->order_by[0] && e->order_col < 0)
        return sd_error_set(err, SD_ERR_ARG, "sink.order_by: column '%s' is not an output column",
                            cfg->order_by);
    e->late_col = -1;
    if (cfg->partition_by[0]) {
        int c = sd_schema_find(out, cfg->partition_by);
        sd_type_kind k = c >= 0 ? out->children[c].type.kind : SD_STRING;
        /* Late events are defined on a date-like partition; another
         * partition kind has no "late". */
        if (k == SD_DATE || k == SD_TIMESTAMP || k == SD_TIMESTAMP_NTZ) e->late_col = c;
    }
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* One micro-batch                                                           */
/* ------------------------------------------------------------------------ */

/* Record a rejected message for the dead-letter output. */
static sd_status pe_dead_letter(pipe_engine *e, const kafka_record *m, const avro_reject *rej,
                                sd_error *err) {
    const char *reason = avro_reject_reason_name(rej->reason);
    if (e->cfg->dead_letter == PIPE_DLQ_TOPIC) {
        char why[400];
        snprintf(why, sizeof why, "%s: %s", reason, rej->detail);
        return kafka_dlq_send(e->dlq, m, why, err);
    }
    if (e->cfg->dead_letter != PIPE_DLQ_FILE) return SD_OK;
    sd_buf *b = &e->dlq_buf;
    sd_buf_append_str(b, "{\"topic\":");
    sd_json_append_string(b, e->cfg->topic, strlen(e->cfg->topic));
    sd_buf_appendf(b, ",\"partition\":%d,\"offset\":%lld,\"timestamp_ms\":%lld,\"reason\":",
                   m->partition, (long long)m->offset, (long long)m->timestamp_ms);
    sd_json_append_string(b, reason, strlen(reason));
    sd_buf_append_str(b, ",\"detail\":");
    sd_json_append_string(b, rej->detail, strnlen(rej->detail, sizeof rej->detail));
    sd_buf_appendf(b, ",\"schema_id\":%d,\"byte_offset\":%zu,\"key_base64\":", rej->schema_id,
                   rej->byte_offset);
    if (m->key) {
        sd_buf_append_byte(b, '"');
        pe_base64(m->key, m->key_len, b);
        sd_buf_append_byte(b, '"');
    } else {
        sd_buf_append_str(b, "null");
    }
    sd_buf_append_str(b, ",\"value_base64\":");
    if (m->value) {
        sd_buf_append_byte(b, '"');
        pe_base64(m->value, m->value_len, b);
        sd_buf_append_byte(b, '"');
    } else {
        sd_buf_append_str(b, "null");
    }
    sd_buf_append_str(b, "}\n");
    return SD_OK;
}

/* Make the batch's dead letters durable before the commit covers them. */
static sd_status pe_flush_dead_letters(pipe_engine *e, sd_error *err) {
    if (e->dlq != NULL) return kafka_dlq_flush(e->dlq, PE_DLQ_FLUSH_MS, err);
    if (e->dlq_fd < 0 || e->dlq_buf.len == 0) return SD_OK;
    size_t done = 0;
    while (done < e->dlq_buf.len) {
        ssize_t w = write(e->dlq_fd, e->dlq_buf.data + done, e->dlq_buf.len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0)
            return sd_error_set(err, errno == ENOSPC ? SD_ERR_NOSPACE : SD_ERR_IO,
                                "dead-letter file %s: write failed: %s", e->cfg->dead_letter_path,
                                strerror(errno));
        done += (size_t)w;
    }
    if (fsync(e->dlq_fd) != 0 && errno != EINVAL)
        return sd_error_set(err, SD_ERR_IO, "dead-letter file %s: fsync failed: %s",
                            e->cfg->dead_letter_path, strerror(errno));
    sd_buf_reset(&e->dlq_buf);
    return SD_OK;
}

/* Room for `rows` origins and `nparts` positions. */
static void pe_reserve(pipe_engine *e, size_t rows, int nparts) {
    if (e->origins_cap < rows) {
        free(e->origins);
        e->origins_cap = rows;
        e->origins = sd_xmalloc(sizeof(pipe_row_origin) * e->origins_cap);
    }
    size_t np = nparts > 0 ? (size_t)nparts : 1;
    if (e->polled_cap < np) {
        e->polled_cap = np;
        e->polled.parts = sd_xrealloc(e->polled.parts, sizeof(int32_t) * np);
        e->polled.first = sd_xrealloc(e->polled.first, sizeof(int64_t) * np);
        e->polled.next = sd_xrealloc(e->polled.next, sizeof(int64_t) * np);
    }
}

/* ------------------------------------------------------------------------ */
/* Source: a Kafka topic                                                     */
/* ------------------------------------------------------------------------ */

/* The batch's partitions, next offsets and first offsets read. */
static void pe_kafka_positions(pipe_engine *e, pe_polled *b) {
    const kafka_source_batch *kb = &b->kb;
    pe_reserve(e, kb->count, kb->nlast);
    b->parts = e->polled.parts;
    b->first = e->polled.first;
    b->next = e->polled.next;
    b->nparts = kb->nlast;
    for (int i = 0; i < kb->nlast; i++) {
        b->parts[i] = kb->last[i].partition;
        b->next[i] = kb->last[i].offset + 1;
        b->first[i] = -1;
    }
    /* Records of a partition come in order, so the first one seen is the
     * smallest; `last` is sorted by partition. */
    for (size_t r = 0; r < kb->count; r++) {
        int lo = 0, hi = kb->nlast - 1;
        while (lo <= hi) {
            int mid = (lo + hi) / 2;
            if (b->parts[mid] == kb->records[r].partition) {
                if (b->first[mid] < 0) b->first[mid] = kb->records[r].offset;
                break;
            }
            if (b->parts[mid] < kb->records[r].partition)
                lo = mid + 1;
            else
                hi = mid - 1;
        }
    }
}

static sd_status pe_kafka_poll(pipe_engine *e, pe_polled *b, sd_error *err) {
    int wait = (int)(e->cfg->max_batch_wait_ms > 0 ? e->cfg->max_batch_wait_ms : 1);
    sd_status st =
        kafka_source_poll_batch(e->src, (size_t)e->cfg->max_batch_records, wait, &b->kb, err);
    if (st != SD_OK) return st;
    b->count = b->kb.count;
    if (b->count == 0)
        kafka_source_release_batch(e->src);
    else
        pe_kafka_positions(e, b);
    return SD_OK;
}

/* Decode every message; rejects go to the dead letters, the others become
 * rows with their origin beside them. */
static sd_status pe_kafka_decode(pipe_engine *e, pe_polled *pb, pipe_progress *p, sd_error *err) {
    const kafka_source_batch *b = &pb->kb;
    sd_batch_reset(&e->decoded);
    for (size_t i = 0; i < b->count; i++) {
        const kafka_record *m = &b->records[i];
        avro_reject rej;
        memset(&rej, 0, sizeof rej);
        size_t before = e->decoded.nrows;
        sd_status st = avro_stream_decode(e->dec, &e->decoded, m->value, m->value_len,
                                          e->cfg->topic, m->partition, m->offset, &rej, err);
        if (st == SD_ERR_FORMAT) {
            sd_error_clear(err);
            p->dead_lettered++;
            st = pe_dead_letter(e, m, &rej, err);
            if (st != SD_OK) return st;
            continue;
        }
        if (st != SD_OK) return st;
        e->origins[before] = (pipe_row_origin){m->partition, m->offset};
    }
    return SD_OK;
}

static void pe_kafka_release(pipe_engine *e, const pe_polled *b, bool committed) {
    (void)b;
    (void)committed;
    kafka_source_release_batch(e->src);
}

static bool pe_kafka_caught_up(const pipe_engine *e) {
    return kafka_source_caught_up(e->src);
}

static void pe_kafka_close(pipe_engine *e) {
    kafka_source_free(e->src);
    e->src = NULL;
}

static const pe_source_ops pe_kafka_source = {pe_kafka_open,    pe_kafka_poll,      pe_kafka_decode,
                                              pe_kafka_release, pe_kafka_caught_up, pe_kafka_close};

/* ------------------------------------------------------------------------ */
/* Source: an Avro container file                                            */
/* ------------------------------------------------------------------------ */

static avro_decode_opts pe_decode_opts(void) {
    avro_map_opts map = {.flatten = false, .all_nullable = true};
    return (avro_decode_opts){.map = map, .validate_utf8 = true};
}

static void *pe_ahead_run(void *arg) {
    pe_read_ahead *a = arg;
    sd_batch_reset(&a->batch);
    if (a->origins_cap < a->max) {
        free(a->origins);
        a->origins_cap = a->max;
        a->origins = sd_xmalloc(sizeof(pipe_row_origin) * a->max);
    }
    a->n = 0;
    a->st = avro_ocf_read(a->ocf, &a->batch, a->max, &a->n, &a->err);
    for (size_t i = 0; i < a->n; i++) a->origins[i] = (pipe_row_origin){0, a->first + (int64_t)i};
    return NULL;
}

/* Read the next batch on the read-ahead thread (or here, when no thread
 * can be started). */
static void pe_ahead_start(pipe_engine *e) {
    pe_read_ahead *a = &e->ahead;
    if (!a->have_batch) {
        sd_batch_init(&a->batch, e->input);
        a->have_batch = true;
    }
    a->ocf = e->ocf;
    a->max = (size_t)e->cfg->max_batch_records;
    a->first = e->read_next;
    sd_error_clear(&a->err);
    if (pthread_create(&a->thread, NULL, pe_ahead_run, a) == 0)
        a->running = true;
    else
        pe_ahead_run(a);
}

/* Wait for the read-ahead thread; the reader's position moves past what it
 * read. */
static void pe_ahead_join(pipe_engine *e) {
    pe_read_ahead *a = &e->ahead;
    if (!a->running) return;
    pthread_join(a->thread, NULL);
    a->running = false;
}

/* The file is read with its own schema (it carries it): the input columns
 * are the file's fields. */
static sd_status pe_file_reopen(pipe_engine *e, sd_error *err) {
    pe_ahead_join(e);
    avro_ocf_close(e->ocf);
    avro_decode_opts dopts = pe_decode_opts();
    e->ocf = avro_ocf_open(e->opts.from_avro, NULL, &dopts, err);
    e->ocf_fresh = e->ocf != NULL;
    return e->ocf ? SD_OK : err->code;
}

/* Skip the records the table already holds: its txn action for the file
 * (appId "streamdelta-file-<file name>-0") says the next record index. */
static sd_status pe_file_open(pipe_engine *e, sd_error *err) {
    if (!e->ocf_fresh && pe_file_reopen(e, err) != SD_OK) return err->code;
    e->ocf_fresh = false;
    int32_t part;
    int64_t next = 0;
    if (pe_table_offsets(e, &part, &next, 1) < 1) next = 0;
    int64_t skipped = 0;
    sd_status st = avro_ocf_skip(e->ocf, next, &skipped, err);
    if (st != SD_OK) return st;
    if (skipped < next)
        return sd_error_set(err, SD_ERR_CONFLICT,
                            "table %s records position %lld in %s, but the file holds only %lld "
                            "records: is it another file with the same name?",
                            e->cfg->table, (long long)next, e->opts.from_avro, (long long)skipped);
    e->file_next = e->read_next = next;
    return SD_OK;
}

/* Reading the file is decoding it: the poll only says whether records are
 * left, the decode step takes what the read-ahead thread read. */
static sd_status pe_file_poll(pipe_engine *e, pe_polled *b, sd_error *err) {
    (void)err;
    pe_reserve(e, 0, 1);
    b->parts = e->polled.parts;
    b->first = e->polled.first;
    b->next = e->polled.next;
    b->nparts = 1;
    b->parts[0] = 0;
    b->first[0] = b->next[0] = e->file_next;
    b->count = e->ahead.running || !avro_ocf_eof(e->ocf) ? 1 : 0;
    return SD_OK;
}

static sd_status pe_file_decode(pipe_engine *e, pe_polled *b, pipe_progress *p, sd_error *err) {
    (void)p;
    pe_read_ahead *a = &e->ahead;
    if (!a->running) pe_ahead_start(e);
    pe_ahead_join(e);
    if (a->st != SD_OK) {
        *err = a->err;
        return a->st;
    }
    e->read_next = a->first + (int64_t)a->n;
    /* The batch read becomes the engine's; its old buffers take the next. */
    sd_batch tb = e->decoded;
    e->decoded = a->batch;
    a->batch = tb;
    pipe_row_origin *to = e->origins;
    size_t tc = e->origins_cap;
    e->origins = a->origins;
    e->origins_cap = a->origins_cap;
    a->origins = to;
    a->origins_cap = tc;
    b->count = a->n;
    b->first[0] = a->first;
    b->next[0] = a->first + (int64_t)a->n;
    if (!avro_ocf_eof(e->ocf)) pe_ahead_start(e);
    return SD_OK;
}

/* The position moves only with a commit: a batch that fails leaves it. */
static void pe_file_release(pipe_engine *e, const pe_polled *b, bool committed) {
    if (committed) e->file_next = b->next[0];
}

static bool pe_file_caught_up(const pipe_engine *e) {
    return !e->ahead.running && avro_ocf_eof(e->ocf);
}

static void pe_file_close(pipe_engine *e) {
    pe_ahead_join(e);
    avro_ocf_close(e->ocf);
    e->ocf = NULL;
    e->ocf_fresh = false;
}

static const pe_source_ops pe_file_source = {pe_file_open,    pe_file_poll,      pe_file_decode,
                                             pe_file_release, pe_file_caught_up, pe_file_close};

static int64_t pe_ms_since(int64_t t0_ns) {
    return (sd_now_ns() - t0_ns) / 1000000;
}

/* Derive, drop late rows, dedupe: `out` is initialised here. */
static sd_status pe_transform(pipe_engine *e, int64_t today, sd_batch *out, pipe_progress *p,
                              sd_error *err) {
    sd_status st = pipe_derive_apply(e->plan, &e->decoded, out, err);
    if (st != SD_OK) return st;
    return pipe_late_dedupe(out, e->late_col, today - e->cfg->late_days, e->key_col, e->order_col,
                            e->origins, &p->late, &p->deduplicated, err);
}

static void pe_report(pipe_engine *e) {
    const pipe_progress *p = &e->progress;
    sd_buf line = SD_BUF_INIT;
    if (e->opts.human) {
        pipe_progress_format_human(p, &line);
        fprintf(e->opts.human, "%s\n", sd_buf_cstr(&line));
        fflush(e->opts.human);
    }
    if (e->opts.json) {
        sd_buf_reset(&line);
        pipe_progress_format_json(p, &line);
        fprintf(e->opts.json, "%s\n", sd_buf_cstr(&line));
        fflush(e->opts.json);
    }
    sd_buf_free(&line);
}

static void pe_add_totals(pipe_engine *e, const pipe_progress *p) {
    pipe_engine_totals *t = &e->totals;
    t->batches++;
    t->input_rows += p->input_rows;
    t->dead_lettered += p->dead_lettered;
    t->late += p->late;
    t->deduplicated += p->deduplicated;
    t->inserted += p->inserted;
    t->updated += p->updated;
    t->unchanged += p->unchanged;
    if (p->table_version >= 0) t->table_version = p->table_version;
}

/* The batch's positions into the progress report. */
static void pe_progress_positions(const pe_polled *b, pipe_progress *p) {
    int shown = b->nparts < PIPE_PROGRESS_MAX_PARTITIONS ? b->nparts : PIPE_PROGRESS_MAX_PARTITIONS;
    p->npartitions = shown;
    for (int i = 0; i < shown; i++) {
        p->partitions[i] = b->parts[i];
        p->start_offsets[i] = b->first[i];
        p->end_offsets[i] = b->next[i];
    }
}

/* Everything after the poll: decode to commit. The source's batch is held
 * by the caller and released after this returns. */
static sd_status pe_process(pipe_engine *e, pe_polled *b, int64_t start_ms, int64_t t0,
                            int64_t fetch_ms, sd_error *err) {
    pipe_progress *p = sd_xcalloc(1, sizeof(*p));
    memcpy(p->run_id, e->run_id, sizeof p->run_id);
    p->batch_id = e->batch_id;
    p->timestamp_ms = start_ms;
    p->topic = e->topic;
    p->source_kind = e->opts.from_avro ? "AvroFile" : e->opts.group_mode ? "Subscribe" : "Assign";
    p->table = e->cfg->table;
    p->fetch_ms = fetch_ms;
    p->table_version = -1;
    int64_t today = pe_today();
    sd_batch out;
    bool have_out = false;
    int64_t t = sd_now_ns();
    sd_status st = e->source->decode(e, b, p, err);
    p->decode_ms = pe_ms_since(t);
    p->input_rows = (int64_t)b->count;
    pe_progress_positions(b, p);
    if (st == SD_OK) {
        t = sd_now_ns();
        have_out = true;
        st = pe_transform(e, today, &out, p, err);
        p->transform_ms = pe_ms_since(t);
    }
    if (st == SD_OK) {
        t = sd_now_ns();
        st = pe_flush_dead_letters(e, err);
        p->dead_letter_ms = pe_ms_since(t);
    }
    if (st == SD_OK) {
        t = sd_now_ns();
        pipe_merge_stats ms;
        memset(&ms, 0, sizeof ms);
        ms.version = -1;
        p->output_rows = (int64_t)out.nrows;
        st = pipe_merge_commit(e->merge, &out, e->app_prefix, e->topic, b->parts, b->next,
                               b->nparts, today, &ms, err);
        p->merge_ms = pe_ms_since(t);
        p->merge_plan_ms = ms.plan_ns / 1000000;
        p->merge_write_ms = ms.write_ns / 1000000;
        p->merge_commit_ms = ms.commit_ns / 1000000;
        p->inserted = ms.inserted;
        p->updated = ms.updated;
        p->unchanged = ms.unchanged;
        p->files_added = ms.files_added;
        p->files_removed = ms.files_removed;
        p->bytes_added = ms.bytes_added;
        p->table_version = ms.version;
        e->totals.retries += ms.retries;
        /* The commit is durable; a checkpoint or index refresh that failed
         * after it is worth a line, not the stream. */
        if (st == SD_OK && ms.warning[0] && e->opts.human)
            fprintf(e->opts.human, "streamdelta: %s\n", ms.warning);
    }
    p->compact_version = -1;
    if (st == SD_OK && p->table_version >= 0) {
        /* Auto-compaction: after the batch's durable commit, so its
         * failure never costs the batch. */
        t = sd_now_ns();
        pipe_compact_stats cs;
        pipe_merge_auto_compact(e->merge, &cs);
        p->compact_ms = pe_ms_since(t);
        p->compact_files_removed = cs.files_removed;
        p->compact_files_added = cs.files_added;
        p->compact_version = cs.version;
        if (cs.warning[0] && e->opts.human) fprintf(e->opts.human, "streamdelta: %s\n", cs.warning);
    }
    if (have_out) sd_batch_free(&out);
    if (st == SD_OK) {
        p->total_ms = pe_ms_since(t0);
        double since_prev = e->prev_start_ms ? (double)(start_ms - e->prev_start_ms) / 1000.0 : 0;
        p->input_rows_per_s = since_prev > 0 ? (double)p->input_rows / since_prev : 0;
        p->processed_rows_per_s = p->total_ms > 0
                                      ? (double)p->input_rows * 1000.0 / (double)p->total_ms
                                      : (double)p->input_rows * 1000.0;
        e->progress = *p;
        e->have_progress = true;
        e->batch_id++;
        pe_add_totals(e, p);
        pe_report(e);
    } else {
        /* Not committed: nothing of this batch may leak into the next. */
        sd_buf_reset(&e->dlq_buf);
    }
    e->prev_start_ms = start_ms;
    free(p);
    return st;
}

bool pipe_retries_exhausted(const pipe_config *cfg, int64_t failing_since_ms, sd_error *err) {
    int64_t failing_ms = sd_now_ms() - failing_since_ms;
    if (cfg->give_up_after_ms <= 0 || failing_ms <= cfg->give_up_after_ms) return false;
    sd_error_prefix(
        err, "giving up after %lld ms of retries (trigger.give_up_after): ", (long long)failing_ms);
    return true;
}

/* A transient failure: drop the source (and what it held), wait with
 * exponential backoff, and let the next batch reopen it at the table's
 * offsets. Returns the error when retries are not allowed any longer. */
static sd_status pe_transient(pipe_engine *e, sd_status st, sd_error *err) {
    if (e->failing_since_ms == 0) e->failing_since_ms = sd_now_ms();
    if (pipe_retries_exhausted(e->cfg, e->failing_since_ms, err)) return st;
    int max = e->opts.max_retry_backoff_ms > 0 ? e->opts.max_retry_backoff_ms : 10000;
    /* A lost race is no outage: the other writer is making progress, and a
     * long wait only lets it pile up more commits to redo against. */
    if (st == SD_ERR_CONFLICT && max > PE_CONFLICT_MAX_BACKOFF_MS) max = PE_CONFLICT_MAX_BACKOFF_MS;
    e->backoff_ms = e->backoff_ms ? e->backoff_ms * 2 : 250;
    if (e->backoff_ms > max) e->backoff_ms = max;
    if (e->opts.human) {
        fprintf(e->opts.human, "streamdelta: %s; retrying in %d ms from the last commit\n",
                err->msg, e->backoff_ms);
        fflush(e->opts.human);
    }
    e->source->close(e);
    e->source_open = false;
    sd_buf_reset(&e->dlq_buf);
    e->totals.retries++;
    sd_error_clear(err);
    pe_sleep(e, e->backoff_ms);
    return SD_OK;
}

/* Wait for the interval trigger's next slot. */
static void pe_wait_trigger(pipe_engine *e) {
    if (e->cfg->trigger != PIPE_TRIGGER_INTERVAL) return;
    int64_t now = sd_now_ms();
    if (e->next_trigger_ms > now) pe_sleep(e, e->next_trigger_ms - now);
    e->next_trigger_ms = sd_now_ms() + e->cfg->interval_ms;
}

sd_status pipe_engine_run_batch(pipe_engine *e, bool *finished, sd_error *err) {
    *finished = false;
    if (pe_stopping(e)) {
        *finished = true;
        return SD_OK;
    }
    pe_wait_trigger(e);
    if (pe_stopping(e)) {
        *finished = true;
        return SD_OK;
    }
    sd_status st = SD_OK;
    if (!e->source_open) {
        st = e->source->open(e, err);
        if (st != SD_OK) return st == SD_ERR_RETRY ? pe_transient(e, st, err) : st;
        e->source_open = true;
    }
    /* A file has an end: the run stops there whatever the trigger. */
    bool ends = e->cfg->trigger == PIPE_TRIGGER_AVAILABLE_NOW || e->source == &pe_file_source;
    int64_t start_ms = sd_now_ms(), t0 = sd_now_ns();
    pe_polled *b = &e->polled;
    b->count = 0;
    st = e->source->poll(e, b, err);
    if (st != SD_OK) return st == SD_ERR_RETRY ? pe_transient(e, st, err) : st;
    int64_t fetch_ms = pe_ms_since(t0);
    if (b->count == 0) {
        *finished = ends && e->source->caught_up(e);
        return SD_OK;
    }
    st = pe_process(e, b, start_ms, t0, fetch_ms, err);
    e->source->release(e, b, st == SD_OK);
    /* A conflict means another writer (a second instance in group mode,
     * OPTIMIZE) won: the batch is abandoned and the source re-read from the
     * table's offsets, as the conflict asks. */
    if (st == SD_ERR_RETRY || st == SD_ERR_NETWORK || st == SD_ERR_CONFLICT)
        return pe_transient(e, st, err);
    if (st != SD_OK) return st;
    e->backoff_ms = 0;
    e->failing_since_ms = 0;
    *finished = ends && e->source->caught_up(e);
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                  */
/* ------------------------------------------------------------------------ */

/* Kafka: the reader schema from the registry and a decoder of the topic's
 * framed messages. */
static sd_status pe_kafka_setup(pipe_engine *e, sd_error *err) {
    e->source = &pe_kafka_source;
    e->topic = e->cfg->topic;
    avro_registry_conf rc = {.url = e->cfg->schema_registry};
    avro_decode_opts dopts = pe_decode_opts();
    e->reg = avro_registry_new(&rc, err);
    if (e->reg == NULL) return err->code;
    sd_status st = pe_reader_schema(e, err);
    if (st == SD_OK) st = avro_to_sd_schema(e->reader, &dopts.map, &e->input, err);
    if (st == SD_OK) {
        e->dec = avro_stream_new(e->reader, e->input, e->reg, &dopts, err);
        if (e->dec == NULL) st = err->code;
    }
    return st;
}

/* A file: its own schema gives the input columns; its name (without the
 * directory) names its position in the table. */
static sd_status pe_file_setup(pipe_engine *e, sd_error *err) {
    e->source = &pe_file_source;
    char *copy = sd_xstrdup(e->opts.from_avro);
    e->file_name = sd_xstrdup(basename(copy));
    free(copy);
    e->topic = e->file_name;
    if (e->opts.app_prefix == NULL) e->app_prefix = PE_FILE_APP_PREFIX;
    sd_status st = pe_file_reopen(e, err);
    if (st != SD_OK) return st;
    avro_decode_opts dopts = pe_decode_opts();
    return avro_to_sd_schema(avro_ocf_writer_schema(e->ocf), &dopts.map, &e->input, err);
}

pipe_engine *pipe_engine_new(const pipe_config *cfg, const pipe_engine_options *opts,
                             sd_error *err) {
    pipe_engine *e = sd_xcalloc(1, sizeof(*e));
    e->cfg = cfg;
    if (opts) e->opts = *opts;
    e->app_prefix = e->opts.app_prefix ? e->opts.app_prefix : PIPE_APP_PREFIX;
    e->dlq_fd = -1;
    e->batch_id = 0;
    sd_uuid_random_text(e->run_id); /* Spark's runId in the progress reports */
    e->totals.table_version = -1;
    for (int i = 0; i < cfg->nkafka; i++)
        kafka_config_add(&e->kconf, cfg->kafka[i].name, cfg->kafka[i].value);
    if (e->opts.group_mode) {
        const char *gid = NULL;
        for (int i = 0; i < cfg->nkafka; i++)
            if (strcmp(cfg->kafka[i].name, "group.id") == 0) gid = cfg->kafka[i].value;
        e->group_id = gid ? sd_xstrdup(gid) : sd_xasprintf("streamdelta-%s", cfg->topic);
    }
    sd_status st = e->opts.from_avro ? pe_file_setup(e, err) : pe_kafka_setup(e, err);
    if (st == SD_OK) st = pipe_derive_compile(cfg, e->input, &e->plan, err);
    if (st == SD_OK) st = pe_resolve_columns(e, err);
    if (st == SD_OK) st = pe_open_table(e, err);
    if (st == SD_OK && e->source == &pe_kafka_source) st = pe_open_dead_letters(e, err);
    if (st == SD_OK) st = e->source->open(e, err);
    if (st != SD_OK) {
        pipe_engine_free(e);
        return NULL;
    }
    e->source_open = true;
    sd_batch_init(&e->decoded, e->input);
    return e;
}

void pipe_engine_free(pipe_engine *e) {
    if (e == NULL) return;
    kafka_source_free(e->src);
    pe_ahead_join(e);
    avro_ocf_close(e->ocf);
    if (e->ahead.have_batch) sd_batch_free(&e->ahead.batch);
    free(e->ahead.origins);
    free(e->file_name);
    free(e->polled.parts);
    free(e->polled.first);
    free(e->polled.next);
    kafka_dlq_free(e->dlq);
    if (e->dlq_fd >= 0) close(e->dlq_fd);
    if (e->merge) pipe_merge_close(e->merge);
    avro_stream_free(e->dec);
    if (e->input) sd_batch_free(&e->decoded);
    pipe_derive_free(e->plan);
    sd_schema_free(e->input);
    avro_schema_free(e->reader);
    avro_registry_free(e->reg);
    kafka_config_free(&e->kconf);
    free(e->group_id);
    free(e->origins);
    sd_buf_free(&e->dlq_buf);
    free(e);
}

const pipe_progress *pipe_engine_progress(const pipe_engine *e) {
    return e->have_progress ? &e->progress : NULL;
}

pipe_engine_totals pipe_engine_get_totals(const pipe_engine *e) {
    return e->totals;
}

const sd_schema *pipe_engine_schema(const pipe_engine *e) {
    return e->plan->output;
}
