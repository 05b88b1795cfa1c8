/*
 * test_kafka_source.c - the stream's Kafka source and dead-letter sink
 * against librdkafka's mock cluster in this process: exact positions from
 * the table's offsets, earliest/latest, bounded batches, caught-up after the
 * high watermarks, out-of-range positions and unknown topics reported as
 * errors, an unreachable cluster as a retriable error, and dead-letter
 * headers read back by a plain consumer.
 *
 * Group mode is tested against a real Kafka when SD_TEST_KAFKA_BOOTSTRAP is
 * set (tests/e2e/test_kafka_source.py does so); the mock's group
 * coordinator is too slow and fragile to test it here.
 *
 * Every message value is "p<partition>-o<offset>", so a record proves by
 * itself where it came from.
 */
#include <inttypes.h>
#include <pthread.h>
#include <time.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/kafka.h"
#include "unit.h"

/* Produce `count` messages to each of partitions [0, nparts), values
 * "p<P>-o<first+i>" where first is the partition's current end. */
static void produce_numbered(const char *bootstrap, const char *topic, int nparts, int count,
                             int first) {
    sd_error err = {0};
    kafka_producer *p = kafka_producer_new(bootstrap, NULL, &err);
    CHECK(p != NULL);
    if (p == NULL) return;
    for (int part = 0; part < nparts; part++)
        for (int i = 0; i < count; i++) {
            char v[64];
            int n = snprintf(v, sizeof(v), "p%d-o%d", part, first + i);
            CHECK_OK(
                kafka_producer_send(p, topic, part, NULL, 0, v, (size_t)n, 0, NULL, NULL, &err),
                &err);
        }
    CHECK_OK(kafka_producer_flush(p, 10000, &err), &err);
    CHECK_INT(kafka_producer_get_stats(p)->acked, (int64_t)nparts * count);
    kafka_producer_free(p);
}

/* A record's value must name its own partition and offset. */
static bool record_is_self_consistent(const kafka_record *r) {
    char want[64];
    int n = snprintf(want, sizeof(want), "p%d-o%" PRId64, (int)r->partition, r->offset);
    return r->value != NULL && r->value_len == (size_t)n && memcmp(r->value, want, (size_t)n) == 0;
}

typedef struct seen {
    int64_t first[16]; /* first offset seen per partition, -1 none */
    int64_t next[16];  /* expected next offset */
    int64_t count;
    int errors; /* gaps, repeats, wrong values */
    int batches;
    size_t max_batch;
} seen;

static void seen_init(seen *s) {
    memset(s, 0, sizeof(*s));
    for (int i = 0; i < 16; i++) s->first[i] = s->next[i] = -1;
}

/* Check one batch: contiguous offsets per partition, values, and `last`. */
static void seen_batch(seen *s, const kafka_source_batch *b) {
    int64_t last[16];
    for (int i = 0; i < 16; i++) last[i] = -1;
    for (size_t i = 0; i < b->count; i++) {
        const kafka_record *r = &b->records[i];
        if (r->partition < 0 || r->partition >= 16 || !record_is_self_consistent(r)) {
            s->errors++;
            continue;
        }
        if (s->first[r->partition] < 0) s->first[r->partition] = r->offset;
        if (s->next[r->partition] >= 0 && r->offset != s->next[r->partition]) s->errors++;
        s->next[r->partition] = r->offset + 1;
        last[r->partition] = r->offset;
        s->count++;
    }
    int nlast = 0;
    for (int p = 0; p < 16; p++) {
        if (last[p] < 0) continue;
        if (nlast >= b->nlast || b->last[nlast].partition != p || b->last[nlast].offset != last[p])
            s->errors++;
        nlast++;
    }
    if (nlast != b->nlast) s->errors++;
    s->batches++;
    if (b->count > s->max_batch) s->max_batch = b->count;
}

/* Poll until caught up (or a deadline), checking every batch. */
static void drain(kafka_source *src, size_t max_records, seen *s) {
    sd_error err = {0};
    int64_t deadline = sd_now_ms() + 20000;
    while (!kafka_source_caught_up(src) && sd_now_ms() < deadline) {
        kafka_source_batch b;
        sd_status rc = kafka_source_poll_batch(src, max_records, 200, &b, &err);
        CHECK_OK(rc, &err);
        if (rc != SD_OK) return;
        seen_batch(s, &b);
        kafka_source_release_batch(src);
    }
}

static kafka_dev_cluster *cluster_with_topic(const char *topic, int nparts) {
    sd_error err = {0};
    kafka_dev_cluster *c = kafka_dev_cluster_start(1, &err);
    CHECK(c != NULL);
    if (c != NULL) CHECK_OK(kafka_dev_cluster_create_topic(c, topic, nparts, &err), &err);
    return c;
}

TEST(kafka_source_exact_start_offsets) {
    kafka_dev_cluster *c = cluster_with_topic("pos", 3);
    if (c == NULL) return;
    const char *bs = kafka_dev_cluster_bootstrap(c);
    produce_numbered(bs, "pos", 3, 20, 0);
    /* Partition 0 resumes at 5, 1 at its end (nothing new), 2 at 19; the
     * table has nothing for 3 (there is none) so no entry. */
    kafka_partition_offset start[] = {{0, 5}, {1, 20}, {2, 19}};
    kafka_source_options o = {
        .bootstrap = bs, .topic = "pos", .start = start, .nstart = 3, .stop_at_end = true};
    sd_error err = {0};
    kafka_source *src = kafka_source_new(&o, &err);
    CHECK_OK(src ? SD_OK : err.code, &err);
    if (src != NULL) {
        CHECK_INT(kafka_source_partition_count(src), 3);
        CHECK(!kafka_source_caught_up(src));
        seen s;
        seen_init(&s);
        drain(src, 1000, &s);
        CHECK(kafka_source_caught_up(src));
        CHECK_INT(s.errors, 0);
        CHECK_INT(s.count, 15 + 0 + 1);
        CHECK_INT(s.first[0], 5);
        CHECK_INT(s.first[1], -1);
        CHECK_INT(s.first[2], 19);
        kafka_partition_offset pos[3];
        CHECK_INT(kafka_source_positions(src, pos, 3), 3);
        CHECK_INT(pos[0].offset, 20);
        CHECK_INT(pos[1].offset, 20);
        CHECK_INT(pos[2].offset, 20);
        /* Caught up and nothing queued: an empty batch, not an error. */
        kafka_source_batch b;
        CHECK_OK(kafka_source_poll_batch(src, 10, 5000, &b, &err), &err);
        CHECK_INT(b.count, 0);
        kafka_source_release_batch(src);
        /* New data after the start is still delivered, from the right place. */
        produce_numbered(bs, "pos", 1, 3, 20);
        int64_t deadline = sd_now_ms() + 10000;
        int got = 0;
        while (got < 3 && sd_now_ms() < deadline) {
            CHECK_OK(kafka_source_poll_batch(src, 10, 200, &b, &err), &err);
            for (size_t i = 0; i < b.count; i++) {
                CHECK(record_is_self_consistent(&b.records[i]));
                CHECK_INT(b.records[i].offset, 20 + got);
                got++;
            }
            kafka_source_release_batch(src);
        }
        CHECK_INT(got, 3);
    }
    kafka_source_free(src);
    kafka_dev_cluster_stop(c);
}

/* A producer that sends one numbered message to partition 0 after a pause. */
typedef struct late_send {
    const char *bootstrap, *topic;
    int first;
} late_send;

static void *late_send_run(void *arg) {
    const late_send *ls = arg;
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    produce_numbered(ls->bootstrap, ls->topic, 1, 1, ls->first);
    return NULL;
}

/* A stream that keeps running (no stop_at_end) waits for new records once
 * caught up, instead of returning empty batches at once (which made an
 * idle `run` spin a core): a record sent while the poll waits is in its
 * batch. */
TEST(kafka_source_waits_for_records_when_caught_up) {
    kafka_dev_cluster *c = cluster_with_topic("idle", 1);
    if (c == NULL) return;
    const char *bs = kafka_dev_cluster_bootstrap(c);
    produce_numbered(bs, "idle", 1, 5, 0);
    kafka_source_options o = {.bootstrap = bs, .topic = "idle"};
    sd_error err = {0};
    kafka_source *src = kafka_source_new(&o, &err);
    CHECK_OK(src ? SD_OK : err.code, &err);
    if (src != NULL) {
        seen s;
        seen_init(&s);
        drain(src, 100, &s);
        CHECK(kafka_source_caught_up(src));
        CHECK_INT(s.count, 5);
        late_send ls = {bs, "idle", 5};
        pthread_t th;
        CHECK(pthread_create(&th, NULL, late_send_run, &ls) == 0);
        kafka_source_batch b;
        CHECK_OK(kafka_source_poll_batch(src, 10, 30000, &b, &err), &err);
        CHECK_INT(b.count, 1);
        if (b.count == 1) CHECK_INT(b.records[0].offset, 5);
        kafka_source_release_batch(src);
        pthread_join(th, NULL);
    }
    kafka_source_free(src);
    kafka_dev_cluster_stop(c);
}

/* The embedded (mock) cluster is recognised and fetched from with a 1 ms
 * wait, the only one it streams with; a user's setting wins. (The real
 * broker's 100 ms is checked in kafka_source_group_mode_real_kafka.) */
TEST(kafka_source_fetch_wait_follows_the_cluster) {
    kafka_dev_cluster *c = cluster_with_topic("wait", 1);
    if (c == NULL) return;
    const char *bs = kafka_dev_cluster_bootstrap(c);
    kafka_source_options o = {.bootstrap = bs, .topic = "wait"};
    sd_error err = {0};
    char v[32];
    kafka_source *src = kafka_source_new(&o, &err);
    CHECK_OK(src ? SD_OK : err.code, &err);
    if (src != NULL) {
        CHECK(kafka_source_setting(src, "fetch.wait.max.ms", v, sizeof(v)));
        CHECK_STR(v, "1");
        CHECK(kafka_source_setting(src, "enable.auto.commit", v, sizeof(v)));
        CHECK_STR(v, "false");
        CHECK(!kafka_source_setting(src, "no.such.setting", v, sizeof(v)));
    }
    kafka_source_free(src);
    kafka_config conf = {0};
    kafka_config_add(&conf, "fetch.wait.max.ms", "50");
    o.conf = &conf;
    src = kafka_source_new(&o, &err);
    CHECK_OK(src ? SD_OK : err.code, &err);
    if (src != NULL) {
        CHECK(kafka_source_setting(src, "fetch.wait.max.ms", v, sizeof(v)));
        CHECK_STR(v, "50");
    }
    kafka_source_free(src);
    kafka_config_free(&conf);
    kafka_dev_cluster_stop(c);
}

TEST(kafka_source_earliest_and_latest) {
    kafka_dev_cluster *c = cluster_with_topic("el", 2);
    if (c == NULL) return;
    const char *bs = kafka_dev_cluster_bootstrap(c);
    produce_numbered(bs, "el", 2, 10, 0);
    sd_error err = {0};
    kafka_source_options o = {.bootstrap = bs, .topic = "el"};
    kafka_source *early = kafka_source_new(&o, &err);
    o.starting_offsets = KAFKA_START_LATEST;
    kafka_source *late = kafka_source_new(&o, &err);
    CHECK(early != NULL && late != NULL);
    if (early != NULL && late != NULL) {
        seen s;
        seen_init(&s);
        drain(early, 1000, &s);
        CHECK_INT(s.errors, 0);
        CHECK_INT(s.count, 20);
        CHECK_INT(s.first[0], 0);
        CHECK_INT(s.first[1], 0);
        /* Latest: caught up at once, and only what is produced afterwards. */
        CHECK(kafka_source_caught_up(late));
        produce_numbered(bs, "el", 2, 4, 10);
        seen l;
        seen_init(&l);
        int64_t deadline = sd_now_ms() + 10000;
        while (l.count < 8 && sd_now_ms() < deadline) {
            kafka_source_batch b;
            CHECK_OK(kafka_source_poll_batch(late, 100, 200, &b, &err), &err);
            seen_batch(&l, &b);
            kafka_source_release_batch(late);
        }
        CHECK_INT(l.errors, 0);
        CHECK_INT(l.count, 8);
        CHECK_INT(l.first[0], 10);
        CHECK_INT(l.first[1], 10);
    }
    kafka_source_free(early);
    kafka_source_free(late);
    kafka_dev_cluster_stop(c);
}

TEST(kafka_source_batches_bounded) {
    kafka_dev_cluster *c = cluster_with_topic("bounded", 3);
    if (c == NULL) return;
    const char *bs = kafka_dev_cluster_bootstrap(c);
    produce_numbered(bs, "bounded", 3, 50, 0);
    sd_error err = {0};
    kafka_source_options o = {.bootstrap = bs, .topic = "bounded"};
    kafka_source *src = kafka_source_new(&o, &err);
    CHECK(src != NULL);
    if (src != NULL) {
        seen s;
        seen_init(&s);
        drain(src, 7, &s);
        CHECK_INT(s.errors, 0);
        CHECK_INT(s.count, 150);
        CHECK(s.max_batch <= 7);
        CHECK(s.batches >= 150 / 7);
        /* An unreleased batch is refused, not silently dropped. */
        kafka_source_batch b;
        CHECK_OK(kafka_source_poll_batch(src, 7, 0, &b, &err), &err);
        CHECK_INT(kafka_source_poll_batch(src, 7, 0, &b, &err), SD_ERR_ARG);
        kafka_source_release_batch(src);
    }
    kafka_source_free(src);
    kafka_dev_cluster_stop(c);
}

TEST(kafka_source_caught_up_empty_topic) {
    kafka_dev_cluster *c = cluster_with_topic("empty", 2);
    if (c == NULL) return;
    sd_error err = {0};
    kafka_source_options o = {.bootstrap = kafka_dev_cluster_bootstrap(c), .topic = "empty"};
    kafka_source *src = kafka_source_new(&o, &err);
    CHECK(src != NULL);
    if (src != NULL) CHECK(kafka_source_caught_up(src));
    kafka_source_free(src);
    kafka_dev_cluster_stop(c);
}

TEST(kafka_source_start_beyond_high_watermark) {
    kafka_dev_cluster *c = cluster_with_topic("oor", 2);
    if (c == NULL) return;
    const char *bs = kafka_dev_cluster_bootstrap(c);
    produce_numbered(bs, "oor", 2, 10, 0);
    kafka_partition_offset start[] = {{0, 3}, {1, 50}};
    kafka_source_options o = {.bootstrap = bs, .topic = "oor", .start = start, .nstart = 2};
    sd_error err = {0};
    kafka_source *src = kafka_source_new(&o, &err);
    CHECK(src == NULL);
    CHECK_INT(err.code, SD_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "topic 'oor' partition 1: offset 50 ") != NULL);
    CHECK(strstr(err.msg, "offsets 0 to 9; low watermark 0") != NULL);
    kafka_source_free(src);
    kafka_dev_cluster_stop(c);
}

/* The table names a partition the topic does not have: refused, not
 * ignored (the topic was probably recreated with fewer partitions). */
TEST(kafka_source_start_partition_missing) {
    kafka_dev_cluster *c = cluster_with_topic("fewer", 2);
    if (c == NULL) return;
    kafka_partition_offset start[] = {{0, 0}, {5, 10}};
    kafka_source_options o = {
        .bootstrap = kafka_dev_cluster_bootstrap(c), .topic = "fewer", .start = start, .nstart = 2};
    sd_error err = {0};
    kafka_source *src = kafka_source_new(&o, &err);
    CHECK(src == NULL);
    CHECK_INT(err.code, SD_ERR_ARG);
    CHECK(strstr(err.msg, "partition 5 of topic 'fewer', which has only 2 partitions") != NULL);
    kafka_source_free(src);
    kafka_dev_cluster_stop(c);
}

/* The mock keeps about 5 MiB per partition: 7 MiB moves the low watermark,
 * and a table that still points at offset 0 must get an error. */
TEST(kafka_source_start_below_truncated_low_watermark) {
    kafka_dev_cluster *c = cluster_with_topic("trunc", 1);
    if (c == NULL) return;
    const char *bs = kafka_dev_cluster_bootstrap(c);
    sd_error err = {0};
    kafka_config pc = {0};
    kafka_config_add(&pc, "linger.ms", "0"); /* one message per batch */
    kafka_producer *p = kafka_producer_new(bs, &pc, &err);
    kafka_config_free(&pc);
    CHECK(p != NULL);
    if (p == NULL) return;
    size_t size = 100 * 1024;
    /* Random bytes: zeros would compress to nothing (lz4). */
    char *big = malloc(size);
    uint32_t x = 12345;
    for (size_t i = 0; i < size; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (char)(x >> 24);
    }
    for (int i = 0; i < 70; i++)
        CHECK_OK(kafka_producer_send(p, "trunc", 0, NULL, 0, big, size, 0, NULL, NULL, &err), &err);
    CHECK_OK(kafka_producer_flush(p, 20000, &err), &err);
    kafka_producer_free(p);
    free(big);
    kafka_partition_offset start[] = {{0, 0}};
    kafka_source_options o = {.bootstrap = bs, .topic = "trunc", .start = start, .nstart = 1};
    kafka_source *src = kafka_source_new(&o, &err);
    CHECK(src == NULL);
    CHECK_INT(err.code, SD_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "topic 'trunc' partition 0: offset 0 ") != NULL);
    CHECK(strstr(err.msg, "low watermark 0)") == NULL); /* it moved */
    CHECK(strstr(err.msg, "to 69; low watermark ") != NULL);
    kafka_source_free(src);
    kafka_dev_cluster_stop(c);
}

TEST(kafka_source_unknown_topic) {
    kafka_dev_cluster *c = cluster_with_topic("known", 1);
    if (c == NULL) return;
    sd_error err = {0};
    kafka_source_options o = {.bootstrap = kafka_dev_cluster_bootstrap(c),
                              .topic = "no.such.topic",
                              .metadata_timeout_ms = 3000};
    kafka_source *src = kafka_source_new(&o, &err);
    CHECK(src == NULL);
    CHECK_INT(err.code, SD_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "topic 'no.such.topic' does not exist") != NULL);
    kafka_source_free(src);
    kafka_dev_cluster_stop(c);
}

/* Kafka protocol API key of Fetch (rdkafka_protocol.h is not installed). */
#define KAFKA_API_FETCH 1
#define KAFKA_API_LIST_OFFSETS 2

/* A mock cluster owned by the test, to inject broker faults. */
typedef struct raw_mock {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
} raw_mock;

static bool raw_mock_start(raw_mock *m, const char *topic, int nparts) {
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (m->rk == NULL) return false;
    m->mc = rd_kafka_mock_cluster_new(m->rk, 1);
    if (m->mc == NULL) return false;
    return rd_kafka_mock_topic_create(m->mc, topic, nparts, 1) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

static void raw_mock_stop(raw_mock *m) {
    if (m->mc != NULL) rd_kafka_mock_cluster_destroy(m->mc);
    if (m->rk != NULL) rd_kafka_destroy(m->rk);
}

/* A position lost while streaming (the broker answers OFFSET_OUT_OF_RANGE
 * to a fetch, as after retention) stops the stream with an error. */
TEST(kafka_source_out_of_range_while_fetching) {
    raw_mock m = {0};
    CHECK(raw_mock_start(&m, "lost", 1));
    const char *bs = rd_kafka_mock_cluster_bootstraps(m.mc);
    produce_numbered(bs, "lost", 1, 5, 0);
    kafka_source_options o = {.bootstrap = bs, .topic = "lost"};
    sd_error err = {0};
    kafka_source *src = kafka_source_new(&o, &err);
    CHECK(src != NULL);
    if (src != NULL) {
        seen s;
        seen_init(&s);
        drain(src, 100, &s);
        CHECK_INT(s.count, 5);
        rd_kafka_mock_push_request_errors(
            m.mc, KAFKA_API_FETCH, 3, RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE,
            RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE, RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE);
        produce_numbered(bs, "lost", 1, 5, 5);
        sd_status rc = SD_OK;
        int64_t deadline = sd_now_ms() + 10000;
        while (rc == SD_OK && sd_now_ms() < deadline) {
            kafka_source_batch b;
            rc = kafka_source_poll_batch(src, 100, 200, &b, &err);
            if (rc == SD_OK) kafka_source_release_batch(src);
        }
        CHECK_INT(rc, SD_ERR_NOT_FOUND);
        CHECK(strstr(err.msg, "topic 'lost' partition 0: offset 5 ") != NULL);
        CHECK(strstr(err.msg, "low watermark 0") != NULL);
    }
    kafka_source_free(src);
    raw_mock_stop(&m);
}

/* A partition whose leader is being elected (a topic created a moment
 * before, on a real broker) answers NOT_LEADER for a while: the source waits
 * for it and then starts where it should. */
TEST(kafka_source_waits_for_a_partition_leader) {
    raw_mock m = {0};
    CHECK(raw_mock_start(&m, "fresh", 1));
    const char *bs = rd_kafka_mock_cluster_bootstraps(m.mc);
    produce_numbered(bs, "fresh", 1, 5, 0);
    rd_kafka_mock_push_request_errors(
        m.mc, KAFKA_API_LIST_OFFSETS, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    kafka_source_options o = {.bootstrap = bs, .topic = "fresh"};
    sd_error err = {0};
    kafka_source *src = kafka_source_new(&o, &err);
    CHECK_OK(src ? SD_OK : err.code, &err);
    if (src != NULL) {
        seen s;
        seen_init(&s);
        drain(src, 100, &s);
        CHECK_INT(s.count, 5);
    }
    kafka_source_free(src);
    raw_mock_stop(&m);
}

/* A leader that never comes is a retriable error, not a silent wait. */
TEST(kafka_source_leaderless_partition_is_retriable) {
    raw_mock m = {0};
    CHECK(raw_mock_start(&m, "leaderless", 1));
    const char *bs = rd_kafka_mock_cluster_bootstraps(m.mc);
    rd_kafka_resp_err_t errs[64];
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
        errs[i] = RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
    rd_kafka_mock_push_request_errors_array(m.mc, KAFKA_API_LIST_OFFSETS,
                                            sizeof(errs) / sizeof(errs[0]), errs);
    kafka_source_options o = {.bootstrap = bs, .topic = "leaderless", .metadata_timeout_ms = 1000};
    sd_error err = {0};
    kafka_source *src = kafka_source_new(&o, &err);
    CHECK(src == NULL);
    CHECK_INT(err.code, SD_ERR_RETRY);
    CHECK(strstr(err.msg, "cannot read the offsets of topic 'leaderless' partition 0") != NULL);
    kafka_source_free(src);
    raw_mock_stop(&m);
}

TEST(kafka_source_unreachable_is_retriable) {
    raw_mock m = {0};
    CHECK(raw_mock_start(&m, "down", 1));
    const char *bs = rd_kafka_mock_cluster_bootstraps(m.mc);
    kafka_config quiet = {0};
    kafka_config_add(&quiet, "log_level", "0"); /* connection-refused noise */
    kafka_source_options o = {
        .bootstrap = bs, .topic = "down", .conf = &quiet, .unreachable_timeout_ms = 1500};
    sd_error err = {0};
    kafka_source *src = kafka_source_new(&o, &err);
    CHECK(src != NULL);
    if (src != NULL) {
        rd_kafka_mock_broker_set_down(m.mc, 1);
        sd_status rc = SD_OK;
        int64_t deadline = sd_now_ms() + 20000;
        while (rc == SD_OK && sd_now_ms() < deadline) {
            kafka_source_batch b;
            rc = kafka_source_poll_batch(src, 100, 200, &b, &err);
            if (rc == SD_OK) kafka_source_release_batch(src);
        }
        CHECK_INT(rc, SD_ERR_RETRY);
        CHECK(strstr(err.msg, "no contact with Kafka at ") != NULL);
    }
    kafka_source_free(src);
    kafka_config_free(&quiet);
    raw_mock_stop(&m);
}

static bool header_is(const rd_kafka_message_t *m, const char *name, const char *want) {
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    const void *v = NULL;
    size_t n = 0;
    if (rd_kafka_header_get_last(h, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    return n == strlen(want) && memcmp(v, want, n) == 0;
}

/* What the dead-letter test expects of message i of the topic. */
static void check_dlq_message(int i, const rd_kafka_message_t *m, const uint8_t *bad1,
                              size_t bad1_len) {
    if (i == 0) {
        CHECK_INT(m->len, bad1_len);
        CHECK(m->len == bad1_len && memcmp(m->payload, bad1, bad1_len) == 0);
        CHECK(m->key == NULL);
        CHECK(header_is(m, "streamdelta.reason", "bad magic byte 0x01"));
        CHECK(header_is(m, "streamdelta.topic", "ratings"));
        CHECK(header_is(m, "streamdelta.partition", "1"));
        CHECK(header_is(m, "streamdelta.offset", "42"));
    } else {
        CHECK_INT(m->key_len, 1);
        CHECK(m->len == 3 && memcmp(m->payload, "xyz", 3) == 0);
        CHECK(header_is(m, "streamdelta.reason", "unknown schema id 7"));
        CHECK(header_is(m, "streamdelta.topic", "ratings"));
        CHECK(header_is(m, "streamdelta.partition", "0"));
        CHECK(header_is(m, "streamdelta.offset", "9000000000"));
    }
}

/* Read the first `n` messages of a 1-partition topic with a plain consumer
 * and check each; returns how many were read. (Messages must be destroyed
 * before their handle, so they are checked here.) */
static int read_back_dlq(const char *bs, const char *topic, int n, const uint8_t *bad1,
                         size_t bad1_len) {
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bs, errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "group.id", "test-read-back", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) return 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int got = 0;
    int64_t deadline = sd_now_ms() + 10000;
    while (got < n && sd_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (m == NULL) continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) check_dlq_message(got++, m, bad1, bad1_len);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got;
}

TEST(kafka_dlq_headers_read_back) {
    kafka_dev_cluster *c = cluster_with_topic("ratings", 2);
    if (c == NULL) return;
    sd_error err = {0};
    CHECK_OK(kafka_dev_cluster_create_topic(c, "ratings.dlq", 1, &err), &err);
    const char *bs = kafka_dev_cluster_bootstrap(c);
    kafka_dlq *d = kafka_dlq_new(bs, NULL, "ratings", NULL, &err);
    CHECK(d != NULL);
    if (d == NULL) return;
    CHECK_STR(kafka_dlq_topic(d), "ratings.dlq");
    const uint8_t bad1[] = {0x01, 0x00, 0x00, 0x00, 0x07, 0xff};
    kafka_record r1 = {.value = bad1, .value_len = sizeof(bad1), .partition = 1, .offset = 42};
    kafka_record r2 = {.value = (const uint8_t *)"xyz",
                       .value_len = 3,
                       .key = (const uint8_t *)"k",
                       .key_len = 1,
                       .partition = 0,
                       .offset = 9000000000LL};
    CHECK_OK(kafka_dlq_send(d, &r1, "bad magic byte 0x01", &err), &err);
    CHECK_OK(kafka_dlq_send(d, &r2, "unknown schema id 7", &err), &err);
    CHECK_OK(kafka_dlq_flush(d, 10000, &err), &err);
    kafka_dlq_stats st = kafka_dlq_get_stats(d);
    CHECK_INT(st.sent, 2);
    CHECK_INT(st.acked, 2);
    CHECK_INT(st.failed, 0);
    CHECK_INT(read_back_dlq(bs, "ratings.dlq", 2, bad1, sizeof(bad1)), 2);
    kafka_dlq_free(d);
    kafka_dev_cluster_stop(c);
}

/* ------------------------------------------------------------------------ */
/* Group mode, against a real Kafka (SD_TEST_KAFKA_BOOTSTRAP)                */
/* ------------------------------------------------------------------------ */

/* What one group member was asked and told. */
typedef struct member {
    int assigned[6]; /* times each partition was assigned */
    int revoked;     /* revocation events */
    int owned;       /* partitions owned now */
    bool owns[6];
    seen s; /* what it read; a partition's history restarts on assignment */
} member;

/* The "table": partition p resumes at offset p (so every member must start
 * each partition exactly there). */
static sd_status member_assign(void *opaque, const char *topic, const int32_t *partitions, int n,
                               int64_t *next_offsets, sd_error *err) {
    (void)topic;
    (void)err;
    member *m = opaque;
    for (int i = 0; i < n; i++) {
        if (partitions[i] < 0 || partitions[i] >= 6) continue;
        m->assigned[partitions[i]]++;
        if (!m->owns[partitions[i]]) m->owned++;
        m->owns[partitions[i]] = true;
        m->s.first[partitions[i]] = m->s.next[partitions[i]] = -1;
        next_offsets[i] = partitions[i];
    }
    return SD_OK;
}

static void member_revoke(void *opaque, const char *topic, const int32_t *partitions, int n) {
    (void)topic;
    member *m = opaque;
    m->revoked++;
    for (int i = 0; i < n; i++) {
        if (partitions[i] < 0 || partitions[i] >= 6 || !m->owns[partitions[i]]) continue;
        m->owns[partitions[i]] = false;
        m->owned--;
    }
}

static void member_poll(kafka_source *src, seen *s) {
    sd_error err = {0};
    kafka_source_batch b;
    CHECK_OK(kafka_source_poll_batch(src, 1000, 100, &b, &err), &err);
    seen_batch(s, &b);
    kafka_source_release_batch(src);
}

TEST(kafka_source_group_mode_real_kafka) {
    const char *bs = getenv("SD_TEST_KAFKA_BOOTSTRAP");
    if (bs == NULL || bs[0] == '\0') {
        /* Not a pass: tests/test_unit.py leaves the *_real_kafka tests to
         * the end-to-end suite, which starts a broker and sets the variable. */
        unit_fail(__FILE__, __LINE__, "SD_TEST_KAFKA_BOOTSTRAP must name a real Kafka broker");
        return;
    }
    char topic[64], group[96];
    snprintf(topic, sizeof(topic), "group-test-%lld", (long long)sd_now_ms());
    snprintf(group, sizeof(group), "%s-g", topic);
    sd_error err = {0};
    CHECK_OK(kafka_admin_create_topic(bs, NULL, topic, 6, 1, 10000, &err), &err);
    produce_numbered(bs, topic, 6, 10, 0);
    member ma = {0}, mb = {0};
    seen_init(&ma.s);
    seen_init(&mb.s);
    kafka_source_options o = {.bootstrap = bs,
                              .topic = topic,
                              .group_id = group,
                              .on_assign = member_assign,
                              .on_revoke = member_revoke};
    o.opaque = &ma;
    kafka_source *a = kafka_source_new(&o, &err);
    o.opaque = &mb;
    kafka_source *b = kafka_source_new(&o, &err);
    CHECK(a != NULL && b != NULL);
    char wait[32];
    /* A real broker answers when data arrives: the long wait of a broker. */
    if (a != NULL) CHECK(kafka_source_setting(a, "fetch.wait.max.ms", wait, sizeof(wait)));
    if (a != NULL) CHECK_STR(wait, "100");
    if (a != NULL && b != NULL) {
        /* Both members poll (one thread, in turn) until the group settles
         * with all six partitions split and both caught up. */
        int64_t deadline = sd_now_ms() + 60000;
        while (sd_now_ms() < deadline &&
               !(ma.owned + mb.owned == 6 && ma.owned > 0 && mb.owned > 0 &&
                 kafka_source_caught_up(a) && kafka_source_caught_up(b))) {
            member_poll(a, &ma.s);
            member_poll(b, &mb.s);
        }
        CHECK_INT(ma.owned + mb.owned, 6);
        CHECK_INT(ma.owned, 3); /* the range assignor splits 6 evenly */
        CHECK_INT(mb.owned, 3);
        for (int p = 0; p < 6; p++) {
            CHECK(ma.owns[p] != mb.owns[p]); /* exactly one owner */
            const seen *s = ma.owns[p] ? &ma.s : &mb.s;
            /* The owner read p from offset p (the "table") to the end. */
            CHECK_INT(s->first[p], p);
            CHECK_INT(s->next[p], 10);
        }
        CHECK_INT(ma.s.errors + mb.s.errors, 0);
    }
    kafka_source_free(a);
    kafka_source_free(b);
}

TEST(kafka_dlq_topic_names) {
    sd_error err = {0};
    CHECK(kafka_dlq_new("127.0.0.1:1", NULL, "", NULL, &err) == NULL);
    CHECK_INT(err.code, SD_ERR_ARG);
    sd_error_clear(&err);
    kafka_dlq *d = kafka_dlq_new("127.0.0.1:1", NULL, "movie.ratings.v1", "ratings-dead", &err);
    CHECK(d != NULL);
    if (d != NULL) CHECK_STR(kafka_dlq_topic(d), "ratings-dead");
    kafka_dlq_free(d);
}

/* Records the broker never acknowledged make the flush fail, so the caller
 * does not commit the batch that covers them. */
TEST(kafka_dlq_flush_reports_failures) {
    raw_mock m = {0};
    CHECK(raw_mock_start(&m, "src", 1));
    CHECK(rd_kafka_mock_topic_create(m.mc, "src.dlq", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_mock_broker_set_down(m.mc, 1);
    kafka_config conf = {0};
    kafka_config_add(&conf, "message.timeout.ms", "500");
    kafka_config_add(&conf, "log_level", "0");
    sd_error err = {0};
    kafka_dlq *d = kafka_dlq_new(rd_kafka_mock_cluster_bootstraps(m.mc), &conf, "src", NULL, &err);
    CHECK(d != NULL);
    if (d != NULL) {
        kafka_record r = {
            .value = (const uint8_t *)"v", .value_len = 1, .partition = 0, .offset = 3};
        CHECK_OK(kafka_dlq_send(d, &r, "truncated body", &err), &err);
        CHECK_INT(kafka_dlq_flush(d, 10000, &err), SD_ERR_REMOTE);
        CHECK(strstr(err.msg, "1 record(s) could not be written to the dead-letter topic "
                              "'src.dlq'") != NULL);
        kafka_dlq_stats st = kafka_dlq_get_stats(d);
        CHECK_INT(st.sent, 1);
        CHECK_INT(st.acked, 0);
        CHECK_INT(st.failed, 1);
        /* Reported once: the next flush has nothing new to report. */
        sd_error_clear(&err);
        CHECK_OK(kafka_dlq_flush(d, 1000, &err), &err);
    }
    kafka_dlq_free(d);
    kafka_config_free(&conf);
    raw_mock_stop(&m);
}
