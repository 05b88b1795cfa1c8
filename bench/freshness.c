/*
 * freshness.c - the freshness benchmark's measuring side (bench/freshness.sh):
 * how long an event takes from produced to visible in the Delta table, and
 * the raw librdkafka consume rate of the same topic as the ceiling.
 *
 *   freshness watch BOOTSTRAP TOPIC TABLE EXPECTED TIMEOUT_S
 *   freshness drain BOOTSTRAP TOPIC
 *
 * watch: two observers of one run of `streamdelta run`.
 *  - A raw consumer (plain librdkafka, no decoding) tails every partition of
 *    TOPIC from the beginning and keeps, per message, the partition, offset,
 *    the message timestamp (CreateTime: set by the producer when it sent the
 *    event) and when it arrived here.
 *  - This thread polls TABLE/_delta_log every millisecond for the next
 *    commit file, notes when it appeared and reads its txn actions
 *    ("streamdelta-TOPIC-P", version = next offset to read of partition P).
 * A message is visible from the first commit whose txn version for its
 * partition exceeds its offset (the commit holds its row, or dropped it as
 * late or as a duplicate, in the same atomic step). Latency = visible time
 * minus the message timestamp. It stops once EXPECTED messages arrived and
 * all are covered, or TIMEOUT_S seconds after anything last moved, and
 * prints percentiles of both latencies (the raw consumer's own delay is the
 * floor no engine can beat).
 *
 * drain: reads the whole topic from the low to the high watermark with
 * plain librdkafka as fast as it can (the fetch settings our source uses)
 * and prints messages/s and MB/s: the ceiling of any consumer here.
 *
 * Both print "name value" lines on stdout (bench/freshness.sh formats them).
 * Clocks: wall clock (CLOCK_REALTIME) ms, because message timestamps are.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "util/util.h"

#define FR_MAX_PARTITIONS 1024
#define FR_POLL_US 1000 /* _delta_log poll interval: 1 ms */

/* One message as the raw consumer saw it. */
typedef struct fr_msg {
    int32_t partition;
    int64_t offset;
    int64_t ts_ms;   /* message timestamp (CreateTime) */
    int64_t recv_ms; /* arrival at the raw consumer */
} fr_msg;

/* One commit: when it appeared and the next offset of every partition so
 * far (carried forward from earlier commits). */
typedef struct fr_commit {
    int64_t vis_ms;
    int64_t *next; /* [npartitions] */
} fr_commit;

typedef struct fr_tail {
    rd_kafka_t *rk;
    fr_msg *msgs;
    size_t cap;
    _Atomic size_t count;
    _Atomic int64_t last_ms; /* last arrival */
    _Atomic int stop;
    int64_t bytes;
    int64_t overflow; /* messages beyond cap (the array never moves: main reads it) */
    char error[512];
} fr_tail;

static int64_t fr_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double fr_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fr_die(const char *what, const char *detail) {
    fprintf(stderr, "freshness: %s: %s\n", what, detail);
    exit(1);
}

/* A consumer with our source's fetch settings (DESIGN.md: what the
 * embedded cluster needs to stream), reading TOPIC's partitions from
 * their beginning. Fills *nparts. */
static rd_kafka_t *fr_consumer(const char *bootstrap, const char *topic, int *nparts) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {
        {"bootstrap.servers", bootstrap}, {"group.id", "streamdelta-bench-freshness"},
        {"enable.auto.commit", "false"},  {"fetch.wait.max.ms", "1"},
        {"fetch.max.bytes", "4194304"},   {"enable.partition.eof", "false"},
        {"auto.offset.reset", "earliest"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
            fr_die(kv[i][0], errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) fr_die("cannot create a consumer", errstr);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (e) fr_die("no metadata for the topic", rd_kafka_err2str(e));
    if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0)
        fr_die(topic, "the topic does not exist or has no partitions");
    int n = md->topics[0].partition_cnt;
    if (n > FR_MAX_PARTITIONS) fr_die(topic, "too many partitions");
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    e = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) fr_die("cannot assign the partitions", rd_kafka_err2str(e));
    *nparts = n;
    return rk;
}

static void fr_close(rd_kafka_t *rk) {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* The raw tail: one poll per message so that arrival times are not
 * delayed by batching. */
static void *fr_tail_run(void *arg) {
    fr_tail *t = arg;
    while (!atomic_load(&t->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->rk, 50);
        if (!m) continue;
        if (m->err) {
            snprintf(t->error, sizeof t->error, "%s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        size_t i = atomic_load(&t->count);
        if (i == t->cap) { /* more than expected: counted, not kept */
            t->overflow++;
            rd_kafka_message_destroy(m);
            continue;
        }
        int64_t now = fr_now_ms();
        t->msgs[i] = (fr_msg){.partition = m->partition,
                              .offset = m->offset,
                              .ts_ms = rd_kafka_message_timestamp(m, NULL),
                              .recv_ms = now};
        t->bytes += (int64_t)(m->len + m->key_len);
        rd_kafka_message_destroy(m);
        atomic_store(&t->last_ms, now);
        atomic_store(&t->count, i + 1);
    }
    return NULL;
}

/* Read the txn actions of one commit file into next[] (left as they were
 * for partitions the commit does not name). Returns false when the file
 * cannot be read. */
static bool fr_read_txns(const char *path, const char *topic, int64_t *next, int nparts) {
    sd_buf b = {0};
    sd_error err = {0};
    if (sd_read_file(path, &b, &err) != SD_OK) return false;
    char app[600];
    int la = snprintf(app, sizeof app, "\"appId\":\"streamdelta-%s-", topic);
    const char *s = (const char *)b.data, *end = s + b.len;
    while (s < end) {
        const char *hit = memmem(s, (size_t)(end - s), app, (size_t)la);
        if (!hit) break;
        /* One action per line: the version is in the same line, in
         * whichever key order the writer chose. */
        const char *line = hit, *eol = memchr(hit, '\n', (size_t)(end - hit));
        while (line > (const char *)b.data && line[-1] != '\n') line--;
        if (!eol) eol = end;
        long p = strtol(hit + la, NULL, 10);
        const char *v = memmem(line, (size_t)(eol - line), "\"version\":", 10);
        if (v && p >= 0 && p < nparts) next[p] = strtoll(v + 10, NULL, 10);
        s = eol;
    }
    sd_buf_free(&b);
    return true;
}

static int fr_cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Print "name_p50 .. name_p99 .. name_max .." of v[0..n) (sorted here). */
static void fr_print_pct(const char *name, int64_t *v, size_t n) {
    if (n == 0) {
        printf("%s_p50 - \n%s_p99 - \n%s_max - \n", name, name, name);
        return;
    }
    qsort(v, n, sizeof *v, fr_cmp_i64);
    /* Nearest rank: the smallest value with at least q of them at or below. */
    size_t r50 = (n + 1) / 2, r99 = (n * 99 + 99) / 100; /* ceil(q * n), >= 1 */
    printf("%s_p50 %" PRId64 "\n%s_p99 %" PRId64 "\n%s_max %" PRId64 "\n", name, v[r50 - 1], name,
           v[r99 - 1], name, v[n - 1]);
}

/* The first commit (index) whose next offset of `partition` exceeds
 * `offset`, or ncommits when none does. next[] never decreases. */
static size_t fr_covering(const fr_commit *c, size_t ncommits, int32_t partition, int64_t offset) {
    size_t lo = 0, hi = ncommits;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c[mid].next[partition] > offset)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* True when every message seen so far is covered by next[]. */
static bool fr_all_covered(const fr_tail *t, size_t n, const int64_t *next, int64_t *maxoff,
                           size_t *checked) {
    for (size_t i = *checked; i < n; i++)
        if (t->msgs[i].offset >= maxoff[t->msgs[i].partition])
            maxoff[t->msgs[i].partition] = t->msgs[i].offset + 1;
    *checked = n;
    for (int p = 0; p < FR_MAX_PARTITIONS; p++)
        if (maxoff[p] > 0 && next[p] < maxoff[p]) return false;
    return true;
}

static void fr_report(const fr_tail *t, size_t n, const fr_commit *c, size_t nc) {
    int64_t *lat = sd_xmalloc((n ? n : 1) * sizeof *lat);
    int64_t *raw = sd_xmalloc((n ? n : 1) * sizeof *raw);
    size_t nlat = 0;
    int64_t first_ts = INT64_MAX, last_ts = 0, last_vis = 0;
    for (size_t i = 0; i < n; i++) {
        const fr_msg *m = &t->msgs[i];
        raw[i] = m->recv_ms - m->ts_ms;
        if (m->ts_ms < first_ts) first_ts = m->ts_ms;
        if (m->ts_ms > last_ts) last_ts = m->ts_ms;
        size_t k = fr_covering(c, nc, m->partition, m->offset);
        if (k == nc) continue;
        lat[nlat++] = c[k].vis_ms - m->ts_ms;
        if (c[k].vis_ms > last_vis) last_vis = c[k].vis_ms;
    }
    if (t->overflow) printf("not_kept %" PRId64 "\n", t->overflow);
    printf("messages %zu\nbytes %" PRId64 "\ncommits %zu\nvisible %zu\n", n, t->bytes, nc, nlat);
    if (n > 1 && last_ts > first_ts)
        printf("produced_per_s %.0f\n", (double)n * 1000.0 / (double)(last_ts - first_ts));
    if (nlat > 1 && last_vis > first_ts)
        printf("visible_per_s %.0f\n", (double)nlat * 1000.0 / (double)(last_vis - first_ts));
    fr_print_pct("fresh", lat, nlat);
    fr_print_pct("raw", raw, n);
    free(lat);
    free(raw);
}

static int fr_watch(const char *bootstrap, const char *topic, const char *table, size_t expected,
                    int timeout_s) {
    fr_tail t = {.cap = expected + expected / 10 + 1024};
    t.msgs = sd_xmalloc(t.cap * sizeof *t.msgs);
    int nparts;
    t.rk = fr_consumer(bootstrap, topic, &nparts);
    atomic_store(&t.last_ms, fr_now_ms());
    pthread_t th;
    if (pthread_create(&th, NULL, fr_tail_run, &t) != 0) fr_die("pthread_create", strerror(errno));

    size_t nc = 0, capc = 1024, checked = 0;
    fr_commit *c = sd_xmalloc(capc * sizeof *c);
    int64_t *cur = sd_xcalloc(FR_MAX_PARTITIONS, sizeof *cur);
    int64_t *maxoff = sd_xcalloc(FR_MAX_PARTITIONS, sizeof *maxoff);
    int64_t version = 0, last_move = fr_now_ms();
    char path[4096];
    for (;;) {
        snprintf(path, sizeof path, "%s/_delta_log/%020" PRId64 ".json", table, version);
        struct stat st;
        if (stat(path, &st) == 0) {
            int64_t vis = fr_now_ms();
            if (!fr_read_txns(path, topic, cur, nparts)) fr_die(path, "cannot read the commit");
            if (nc == capc) c = sd_xrealloc(c, (capc *= 2) * sizeof *c);
            c[nc].vis_ms = vis;
            c[nc].next = sd_xmalloc((size_t)nparts * sizeof(int64_t));
            memcpy(c[nc].next, cur, (size_t)nparts * sizeof(int64_t));
            nc++;
            version++;
            last_move = vis;
            continue; /* the next one may be there already */
        }
        size_t n = atomic_load(&t.count);
        if (n >= expected && expected > 0 && fr_all_covered(&t, n, cur, maxoff, &checked)) break;
        int64_t now = fr_now_ms(), moved = atomic_load(&t.last_ms);
        if (moved > last_move) last_move = moved;
        if (now - last_move > (int64_t)timeout_s * 1000) {
            fprintf(stderr,
                    "freshness: nothing moved for %d s: %zu of %zu messages arrived, "
                    "table at version %" PRId64 "%s%s\n",
                    timeout_s, n, expected, version - 1, t.error[0] ? "; consumer error: " : "",
                    t.error);
            break;
        }
        usleep(FR_POLL_US);
    }
    atomic_store(&t.stop, 1);
    pthread_join(th, NULL);
    fr_report(&t, atomic_load(&t.count), c, nc);
    for (size_t i = 0; i < nc; i++) free(c[i].next);
    free(c);
    free(cur);
    free(maxoff);
    free(t.msgs);
    fr_close(t.rk);
    return 0;
}

/* Drain the topic from the low to the high watermark, batched, as fast as
 * librdkafka delivers. */
static int fr_drain(const char *bootstrap, const char *topic) {
    int nparts;
    rd_kafka_t *rk = fr_consumer(bootstrap, topic, &nparts);
    int64_t *high = sd_xcalloc((size_t)nparts, sizeof *high);
    int64_t total = 0, low_total = 0;
    for (int p = 0; p < nparts; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        if (e) fr_die("cannot query the watermarks", rd_kafka_err2str(e));
        high[p] = hi;
        total += hi - lo;
        low_total += lo;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    enum { BATCH = 10000 };
    rd_kafka_message_t **ms = sd_xmalloc(BATCH * sizeof *ms);
    int64_t got = 0, bytes = 0;
    int done = 0;
    int *finished = sd_xcalloc((size_t)nparts, sizeof *finished);
    for (int p = 0; p < nparts; p++)
        if (high[p] == 0) finished[p] = 1, done++;
    /* The clock starts at the first message: fetch start-up (connection,
     * offset lookup, a first fetch backoff of the embedded cluster) takes up
     * to a second here and is not the rate. Its length is printed apart. */
    double start = fr_now_s(), t0 = 0, last = start;
    while (done < nparts) {
        ssize_t k = rd_kafka_consume_batch_queue(q, 1, ms, BATCH);
        if (k > 0 && t0 == 0) t0 = fr_now_s();
        for (ssize_t i = 0; i < k; i++) {
            rd_kafka_message_t *m = ms[i];
            if (!m->err) {
                got++;
                bytes += (int64_t)(m->len + m->key_len);
                if (m->offset + 1 >= high[m->partition] && !finished[m->partition])
                    finished[m->partition] = 1, done++;
            }
            rd_kafka_message_destroy(m);
        }
        if (k > 0) last = fr_now_s();
        if (fr_now_s() - last > 30) fr_die(topic, "no message for 30 s before the high watermark");
    }
    double end = fr_now_s(), secs = t0 > 0 ? end - t0 : 0;
    printf("messages %" PRId64 "\nbytes %" PRId64 "\nseconds %.3f\nstartup_seconds %.3f\n", got,
           bytes, secs, (t0 > 0 ? t0 : end) - start);
    printf("low_watermarks %" PRId64 "\nexpected %" PRId64 "\n", low_total, total);
    rd_kafka_queue_destroy(q);
    free(ms);
    free(finished);
    free(high);
    fr_close(rk);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 7 && strcmp(argv[1], "watch") == 0)
        return fr_watch(argv[2], argv[3], argv[4], (size_t)strtoull(argv[5], NULL, 10),
                        atoi(argv[6]));
    if (argc == 4 && strcmp(argv[1], "drain") == 0) return fr_drain(argv[2], argv[3]);
    fprintf(stderr, "usage: freshness watch BOOTSTRAP TOPIC TABLE EXPECTED TIMEOUT_S\n"
                    "       freshness drain BOOTSTRAP TOPIC\n");
    return 2;
}
