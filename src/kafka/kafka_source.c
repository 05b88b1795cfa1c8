/*
 * kafka_source.c - the stream's Kafka source: one topic, positioned
 * explicitly from the offsets the Delta table recorded (txn actions), read
 * in micro-batches without copying messages.
 *
 * Positions: in assign mode (the default, like Spark) the source assigns
 * every partition itself with an absolute start offset; in group mode it
 * subscribes and asks its caller for the start offsets of the partitions
 * the group hands it. Offsets are never committed to Kafka: the table is
 * the truth, and auto.offset.reset=error turns a lost position into an
 * error we report instead of a silent skip.
 *
 * Batches: rd_kafka_consume_batch_queue() fills an array of message
 * pointers that the source holds until kafka_source_release_batch(); the
 * records handed out point into those messages. The arrays are reused
 * from batch to batch, so the hot path allocates nothing per message.
 *
 * "Available now": each partition's high watermark is recorded when it is
 * assigned; partition-EOF events and offsets read tell when it is reached.
 */
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_internal.h"

/* How long the queue must stay empty before a batch with records returns. */
#define KAFKA_SOURCE_DRAIN_MS 1
/* While the cluster seems down, how often to probe it (a metadata request). */
#define KAFKA_SOURCE_PROBE_INTERVAL_MS 1000
#define KAFKA_SOURCE_PROBE_TIMEOUT_MS 250
#define KAFKA_SOURCE_DEFAULT_UNREACHABLE_MS 60000
#define KAFKA_SOURCE_DEFAULT_METADATA_MS 10000

/* Per partition, indexed by partition id. */
typedef struct kafka_part {
    bool assigned;
    bool caught;        /* reached hwm_start */
    int64_t next;       /* next offset to read; -1 until known */
    int64_t hwm_start;  /* high watermark when assigned */
    int64_t batch_last; /* last offset in the batch being built; -1 none */
} kafka_part;

struct kafka_source {
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue; /* the consumer queue */
    char *topic;
    char *bootstrap;
    kafka_starting_offsets starting;
    int unreachable_ms;
    int metadata_ms;
    bool group_mode;
    bool stop_at_end; /* poll returns at once when caught up */
    kafka_source_assign_fn on_assign;
    kafka_source_revoke_fn on_revoke;
    void *opaque;

    int nparts;
    kafka_part *parts;

    /* The batch: messages held, and the records and last offsets built. */
    rd_kafka_message_t **msgs;
    size_t nmsgs;
    size_t msgs_cap;
    kafka_record *records;
    kafka_partition_offset *last;
    bool held;

    /* Contact with the cluster. */
    int64_t down_since_ms; /* 0 = in contact */
    int64_t last_probe_ms;
    char last_error[256];

    /* An error raised inside a librdkafka callback, returned by poll. */
    sd_error cb_err;
};

/* ------------------------------------------------------------------------ */
/* Settings                                                                  */
/* ------------------------------------------------------------------------ */

/* Tunables the user may override (DESIGN.md: what the mock needs).
 * queued.min.messages: librdkafka stops prefetching a partition at 100,000
 * queued messages and then waits about a second before fetching it again;
 * a merge of a 100k-record batch outlasts the first and the stream then
 * sits in the second. At 1,000,000 the prefetch (still capped by
 * queued.max.messages.kbytes, 64 MiB) keeps up: draining 1.2M events from
 * the local broker went from 6.4 s to 4.0 s. */
static const char *const kafka_source_defaults[][2] = {
    {"fetch.max.bytes", "4194304"},
    {"queued.min.messages", "1000000"},
};

/* fetch.wait.max.ms, unless the user sets it, depends on the cluster. A
 * real broker answers a fetch as soon as data arrives, so a long wait
 * costs no latency, while a short one makes an idle consumer send about a
 * thousand fetches a second. librdkafka's mock cluster holds an empty
 * fetch for the whole wait even when data arrives (DESIGN.md), so there
 * only 1 ms streams. The mock names itself in its cluster id. */
#define KAFKA_FETCH_WAIT_BROKER "100"
#define KAFKA_FETCH_WAIT_MOCK "1"
#define KAFKA_MOCK_CLUSTER_ID_PREFIX "mockCluster"

/* What makes the table the only truth about positions: never overridden. */
static const char *const kafka_source_forced[][2] = {
    {"enable.auto.commit", "false"},
    {"enable.auto.offset.store", "false"},
    {"auto.offset.reset", "error"},
    {"enable.partition.eof", "true"},
};

#define KAFKA_NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static bool kafka_conf_has(const kafka_config *conf, const char *key) {
    for (int i = 0; conf != NULL && i < conf->n; i++)
        if (strcmp(conf->keys[i], key) == 0) return true;
    return false;
}

/* Defaults, then the user's settings, then the forced ones. A consumer
 * handle needs a group.id even to assign(); in assign mode it is never used
 * with the broker (no subscribe, no commits). */
static void kafka_source_merge_conf(const kafka_source_options *o, const char *fetch_wait_ms,
                                    kafka_config *out) {
    for (size_t i = 0; i < KAFKA_NELEMS(kafka_source_defaults); i++)
        kafka_config_add(out, kafka_source_defaults[i][0], kafka_source_defaults[i][1]);
    kafka_config_add(out, "fetch.wait.max.ms", fetch_wait_ms);
    for (int i = 0; o->conf != NULL && i < o->conf->n; i++)
        kafka_config_add(out, o->conf->keys[i], o->conf->values[i]);
    for (size_t i = 0; i < KAFKA_NELEMS(kafka_source_forced); i++)
        kafka_config_add(out, kafka_source_forced[i][0], kafka_source_forced[i][1]);
    if (o->group_id != NULL) {
        kafka_config_add(out, "group.id", o->group_id);
    } else if (!kafka_conf_has(o->conf, "group.id")) {
        char *gid = sd_xasprintf("streamdelta-assign-%s", o->topic);
        kafka_config_add(out, "group.id", gid);
        free(gid);
    }
}

/* ------------------------------------------------------------------------ */
/* Contact with the cluster                                                  */
/* ------------------------------------------------------------------------ */

static bool kafka_err_is_unreachable(rd_kafka_resp_err_t code) {
    return code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || code == RD_KAFKA_RESP_ERR__TRANSPORT ||
           code == RD_KAFKA_RESP_ERR__RESOLVE || code == RD_KAFKA_RESP_ERR__TIMED_OUT;
}

/* Client-level errors (librdkafka's error_cb), served inside our polls. */
static void kafka_source_error_cb(rd_kafka_t *rk, int code, const char *reason, void *opaque) {
    kafka_source *src = opaque;
    snprintf(src->last_error, sizeof(src->last_error), "%s", reason);
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        sd_error_set(&src->cb_err, SD_ERR_REMOTE, "Kafka consumer of topic '%s' failed: %s",
                     src->topic, why);
    } else if (kafka_err_is_unreachable((rd_kafka_resp_err_t)code) && src->down_since_ms == 0) {
        src->down_since_ms = sd_now_ms();
    }
}

/* Answers of a partition whose leadership is moving: a topic created a
 * moment ago (Kafka elects its leaders after CreateTopics returns), a broker
 * restarting. They pass by themselves once the cluster settles. */
static bool kafka_err_is_leader_change(rd_kafka_resp_err_t code) {
    return code == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
           code == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
           code == RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH ||
           code == RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH ||
           code == RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE ||
           code == RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE;
}

static sd_status kafka_status_of(rd_kafka_resp_err_t code) {
    return kafka_err_is_unreachable(code) || kafka_err_is_leader_change(code) ? SD_ERR_RETRY
                                                                              : SD_ERR_REMOTE;
}

/* One ListOffsets answer for partition p: `which` is -2 (earliest) or -1
 * (latest), Kafka's special timestamps. Not rd_kafka_query_watermark_offsets:
 * in librdkafka 2.0 it returns as soon as one of its two requests fails while
 * the other may still be retried, and that late answer then lands in the
 * next call's result (seen as low = high after a NOT_LEADER). A single
 * offsets-for-times request is waited for until it is answered. */
static rd_kafka_resp_err_t kafka_list_offset(kafka_source *src, int32_t p, int64_t which,
                                             int64_t *offset, int timeout_ms) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, src->topic, p)->offset = which;
    rd_kafka_resp_err_t rc = rd_kafka_offsets_for_times(src->rk, l, timeout_ms);
    if (rc == RD_KAFKA_RESP_ERR_NO_ERROR) rc = l->elems[0].err;
    if (rc == RD_KAFKA_RESP_ERR_NO_ERROR) *offset = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* The watermarks of partition p, waiting up to timeout_ms while its leader
 * is being elected (a single query does not wait for one). */
static sd_status kafka_source_watermarks(kafka_source *src, int32_t p, int64_t *lo, int64_t *hi,
                                         int timeout_ms, sd_error *err) {
    int64_t deadline = sd_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - sd_now_ms();
        int wait = left > 0 ? (int)left : 1;
        rd_kafka_resp_err_t rc = kafka_list_offset(src, p, -2, lo, wait);
        if (rc == RD_KAFKA_RESP_ERR_NO_ERROR) rc = kafka_list_offset(src, p, -1, hi, wait);
        if (rc == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (*lo < 0 || *lo > *hi) *lo = *hi; /* an empty partition on old brokers */
            return SD_OK;
        }
        if (!kafka_err_is_leader_change(rc) || sd_now_ms() + 100 >= deadline)
            return sd_error_set(err, kafka_status_of(rc),
                                "cannot read the offsets of topic '%s' partition %d at %s: %s",
                                src->topic, (int)p, src->bootstrap, rd_kafka_err2str(rc));
        usleep(100 * 1000); /* not rd_kafka_poll: the main queue feeds the consumer's */
    }
}

/* While the cluster seems down: probe now and then; give up after the
 * configured time without contact. */
static sd_status kafka_source_check_contact(kafka_source *src, sd_error *err) {
    if (src->down_since_ms == 0) return SD_OK;
    int64_t now = sd_now_ms();
    if (now - src->last_probe_ms >= KAFKA_SOURCE_PROBE_INTERVAL_MS) {
        src->last_probe_ms = now;
        /* Any answer proves contact. A metadata request honours its
         * timeout; a watermark query waits for the socket timeout. */
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(src->rk, 0, NULL, &md, KAFKA_SOURCE_PROBE_TIMEOUT_MS) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_metadata_destroy(md);
            src->down_since_ms = 0;
            return SD_OK;
        }
    }
    if (now - src->down_since_ms >= src->unreachable_ms)
        return sd_error_set(err, SD_ERR_RETRY,
                            "no contact with Kafka at %s for %" PRId64
                            " ms while reading topic '%s' (last error: %s); check that the "
                            "brokers are up and reachable",
                            src->bootstrap, now - src->down_since_ms, src->topic,
                            src->last_error[0] ? src->last_error : "none");
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Topic metadata                                                            */
/* ------------------------------------------------------------------------ */

/* Our topic in a metadata reply: its error and partition count. */
static rd_kafka_resp_err_t kafka_md_topic(const struct rd_kafka_metadata *md, const char *topic,
                                          int *n) {
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic) != 0) continue;
        *n = md->topics[i].partition_cnt;
        return md->topics[i].err;
    }
    *n = 0;
    return RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
}

/* The partition count of the topic, waiting while its leaders are being
 * elected (a fresh topic answers LEADER_NOT_AVAILABLE for a moment). All
 * topics are listed: asking for one by name lets a broker that auto-creates
 * topics (the embedded cluster does) create a misspelt one. */
static sd_status kafka_source_partitions(kafka_source *src, int *count, sd_error *err) {
    int64_t deadline = sd_now_ms() + src->metadata_ms;
    for (;;) {
        int64_t left = deadline - sd_now_ms();
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(src->rk, 1, NULL, &md, left > 0 ? (int)left : 1);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            return sd_error_set(err, kafka_status_of(e),
                                "cannot read the metadata of topic '%s' from Kafka at %s: %s",
                                src->topic, src->bootstrap, rd_kafka_err2str(e));
        int n = 0;
        rd_kafka_resp_err_t te = kafka_md_topic(md, src->topic, &n);
        rd_kafka_metadata_destroy(md);
        if (te == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            return sd_error_set(err, SD_ERR_NOT_FOUND, "topic '%s' does not exist at %s",
                                src->topic, src->bootstrap);
        if (te == RD_KAFKA_RESP_ERR_NO_ERROR && n > 0) {
            *count = n;
            return SD_OK;
        }
        if (sd_now_ms() >= deadline)
            return sd_error_set(
                err, te == RD_KAFKA_RESP_ERR_NO_ERROR ? SD_ERR_REMOTE : kafka_status_of(te),
                "topic '%s' at %s has no usable partitions after %d ms: %s", src->topic,
                src->bootstrap, src->metadata_ms,
                te == RD_KAFKA_RESP_ERR_NO_ERROR ? "0 partitions" : rd_kafka_err2str(te));
        usleep(100 * 1000); /* not rd_kafka_poll: the main queue feeds the consumer's */
    }
}

/* ------------------------------------------------------------------------ */
/* Positions                                                                 */
/* ------------------------------------------------------------------------ */

static sd_status kafka_out_of_range(const kafka_source *src, int32_t p, int64_t offset, int64_t lo,
                                    int64_t hi, sd_error *err) {
    return sd_error_set(err, SD_ERR_NOT_FOUND,
                        "topic '%s' partition %d: offset %" PRId64
                        " to read next is out of range (the partition holds offsets %" PRId64
                        " to %" PRId64 "; low watermark %" PRId64
                        "): its data was deleted by retention or the topic was recreated; "
                        "refusing to skip it silently",
                        src->topic, (int)p, offset, lo, hi > lo ? hi - 1 : lo, lo);
}

/* Work out where partition p starts: `want` (>= 0, from the table) checked
 * against the watermarks, or the starting_offsets rule. Records the high
 * watermark for caught_up and fills the librdkafka offset to assign. */
static sd_status kafka_source_position(kafka_source *src, int32_t p, int64_t want,
                                       int64_t *assign_offset, sd_error *err) {
    int64_t lo, hi;
    sd_status rc = kafka_source_watermarks(src, p, &lo, &hi, src->metadata_ms, err);
    if (rc != SD_OK) return rc;
    kafka_part *kp = &src->parts[p];
    kp->hwm_start = hi;
    kp->batch_last = -1;
    if (want >= 0) {
        if (want < lo || want > hi) return kafka_out_of_range(src, p, want, lo, hi, err);
        kp->next = want;
        *assign_offset = want;
    } else if (src->starting == KAFKA_START_LATEST) {
        kp->next = hi;
        *assign_offset = hi;
    } else {
        /* Logical BEGINNING, not lo: retention may move lo before the fetch. */
        kp->next = lo;
        *assign_offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    kp->caught = kp->next >= hi;
    kp->assigned = true;
    return SD_OK;
}

/* Assign mode: every partition, at the table's offset or starting_offsets. */
static sd_status kafka_source_assign_all(kafka_source *src, const kafka_source_options *o,
                                         sd_error *err) {
    for (int i = 0; i < o->nstart; i++) {
        const kafka_partition_offset *s = &o->start[i];
        if (s->partition < 0 || s->partition >= src->nparts)
            return sd_error_set(err, SD_ERR_ARG,
                                "the table has an offset for partition %d of topic '%s', which "
                                "has only %d partitions (was the topic recreated?)",
                                (int)s->partition, src->topic, src->nparts);
        if (s->offset < 0)
            return sd_error_set(err, SD_ERR_ARG,
                                "invalid start offset %" PRId64 " for topic '%s' partition %d",
                                s->offset, src->topic, (int)s->partition);
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(src->nparts);
    sd_status rc = SD_OK;
    for (int32_t p = 0; p < src->nparts && rc == SD_OK; p++) {
        int64_t want = -1, off = 0;
        for (int i = 0; i < o->nstart; i++)
            if (o->start[i].partition == p) want = o->start[i].offset;
        rc = kafka_source_position(src, p, want, &off, err);
        if (rc == SD_OK) rd_kafka_topic_partition_list_add(list, src->topic, p)->offset = off;
    }
    if (rc == SD_OK) {
        rd_kafka_resp_err_t e = rd_kafka_assign(src->rk, list);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            rc = sd_error_set(err, SD_ERR_REMOTE, "cannot assign the partitions of topic '%s': %s",
                              src->topic, rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

/* Drop the held messages of partitions that are no longer ours. */
static void kafka_source_purge(kafka_source *src) {
    size_t keep = 0;
    for (size_t i = 0; i < src->nmsgs; i++) {
        rd_kafka_message_t *m = src->msgs[i];
        if (m->partition >= 0 && m->partition < src->nparts && src->parts[m->partition].assigned)
            src->msgs[keep++] = m;
        else
            rd_kafka_message_destroy(m);
    }
    src->nmsgs = keep;
}

static int32_t *kafka_list_partitions(const rd_kafka_topic_partition_list_t *list, int *n) {
    int32_t *ids = sd_xcalloc((size_t)list->cnt + 1, sizeof(int32_t));
    *n = 0;
    for (int i = 0; i < list->cnt; i++) ids[(*n)++] = list->elems[i].partition;
    return ids;
}

/* Group mode: ask the caller where the new partitions start, then assign. */
static void kafka_source_on_assign(kafka_source *src, rd_kafka_topic_partition_list_t *list,
                                   bool incremental) {
    int n = 0;
    int32_t *ids = kafka_list_partitions(list, &n);
    int64_t *next = sd_xcalloc((size_t)n + 1, sizeof(int64_t));
    for (int i = 0; i < n; i++) next[i] = -1;
    sd_status rc = SD_OK;
    if (src->on_assign != NULL)
        rc = src->on_assign(src->opaque, src->topic, ids, n, next, &src->cb_err);
    for (int i = 0; i < list->cnt && rc == SD_OK; i++) {
        int32_t p = list->elems[i].partition;
        if (strcmp(list->elems[i].topic, src->topic) != 0 || p < 0 || p >= src->nparts) {
            rc = sd_error_set(&src->cb_err, SD_ERR_REMOTE,
                              "the group assigned unexpected partition %s [%d] (topic '%s' has %d "
                              "partitions)",
                              list->elems[i].topic, (int)p, src->topic, src->nparts);
            break;
        }
        rc = kafka_source_position(src, p, next[i], &list->elems[i].offset, &src->cb_err);
    }
    if (rc == SD_OK) {
        if (incremental) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(src->rk, list);
            if (e != NULL) {
                sd_error_set(&src->cb_err, SD_ERR_REMOTE, "cannot assign partitions: %s",
                             rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        } else {
            rd_kafka_resp_err_t e = rd_kafka_assign(src->rk, list);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
                sd_error_set(&src->cb_err, SD_ERR_REMOTE, "cannot assign partitions: %s",
                             rd_kafka_err2str(e));
        }
    }
    free(ids);
    free(next);
}

static void kafka_source_on_revoke(kafka_source *src, rd_kafka_topic_partition_list_t *list,
                                   bool incremental) {
    int n = 0;
    int32_t *ids = kafka_list_partitions(list, &n);
    for (int i = 0; i < n; i++)
        if (ids[i] >= 0 && ids[i] < src->nparts) src->parts[ids[i]].assigned = false;
    kafka_source_purge(src);
    if (src->on_revoke != NULL) src->on_revoke(src->opaque, src->topic, ids, n);
    if (incremental) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(src->rk, list);
        if (e != NULL) rd_kafka_error_destroy(e);
    } else {
        rd_kafka_assign(src->rk, NULL);
    }
    free(ids);
}

static void kafka_source_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t code,
                                      rd_kafka_topic_partition_list_t *list, void *opaque) {
    kafka_source *src = opaque;
    bool incremental = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        kafka_source_on_assign(src, list, incremental);
    } else {
        /* REVOKE_PARTITIONS, or an error: give up what we hold. */
        kafka_source_on_revoke(src, list, incremental);
    }
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                                */
/* ------------------------------------------------------------------------ */

static sd_status kafka_source_check_options(const kafka_source_options *o, sd_error *err) {
    if (o->bootstrap == NULL || o->bootstrap[0] == '\0')
        return sd_error_set(err, SD_ERR_ARG, "no Kafka bootstrap servers given");
    if (o->topic == NULL || o->topic[0] == '\0')
        return sd_error_set(err, SD_ERR_ARG, "no Kafka topic given");
    if (o->starting_offsets != KAFKA_START_EARLIEST && o->starting_offsets != KAFKA_START_LATEST)
        return sd_error_set(err, SD_ERR_ARG, "invalid starting offsets %d",
                            (int)o->starting_offsets);
    if (o->nstart < 0 || (o->nstart > 0 && o->start == NULL))
        return sd_error_set(err, SD_ERR_ARG, "invalid start offsets");
    if (o->group_id != NULL && o->group_id[0] == '\0')
        return sd_error_set(err, SD_ERR_ARG, "empty consumer group id");
    return SD_OK;
}

static rd_kafka_t *kafka_source_client(kafka_source *src, const kafka_source_options *o,
                                       const char *fetch_wait_ms, sd_error *err) {
    kafka_config merged = {0};
    kafka_source_merge_conf(o, fetch_wait_ms, &merged);
    rd_kafka_conf_t *rconf = kafka_conf_build(o->bootstrap, &merged, err);
    kafka_config_free(&merged);
    if (rconf == NULL) return NULL;
    rd_kafka_conf_set_opaque(rconf, src);
    rd_kafka_conf_set_error_cb(rconf, kafka_source_error_cb);
    if (o->group_id != NULL) rd_kafka_conf_set_rebalance_cb(rconf, kafka_source_rebalance_cb);
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, rconf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(rconf);
        sd_error_set(err, SD_ERR_ARG, "cannot create a Kafka consumer for topic '%s': %s", o->topic,
                     errstr);
    }
    return rk;
}

static sd_status kafka_source_subscribe(kafka_source *src, sd_error *err) {
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, src->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(src->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sd_error_set(err, SD_ERR_REMOTE, "cannot subscribe to topic '%s': %s", src->topic,
                            rd_kafka_err2str(e));
    return SD_OK;
}

/* Create the consumer handle; its errors and rebalances arrive on the
 * consumer queue we poll. */
static sd_status kafka_source_connect(kafka_source *src, const kafka_source_options *o,
                                      const char *fetch_wait_ms, sd_error *err) {
    src->rk = kafka_source_client(src, o, fetch_wait_ms, err);
    if (src->rk == NULL) return err->code;
    rd_kafka_poll_set_consumer(src->rk);
    src->queue = rd_kafka_queue_get_consumer(src->rk);
    return SD_OK;
}

static void kafka_source_disconnect(kafka_source *src) {
    if (src->rk == NULL) return;
    /* Leaves the group (group mode); commits nothing (auto commit off). */
    rd_kafka_consumer_close(src->rk);
    if (src->queue != NULL) rd_kafka_queue_destroy(src->queue);
    rd_kafka_destroy(src->rk);
    src->rk = NULL;
    src->queue = NULL;
}

/* Is the cluster librdkafka's mock (streamdelta broker)? Asked after a
 * metadata reply, so the id is known without another round trip. */
static bool kafka_source_on_mock(kafka_source *src) {
    char *id = rd_kafka_clusterid(src->rk, src->metadata_ms);
    bool mock = id != NULL && strncmp(id, KAFKA_MOCK_CLUSTER_ID_PREFIX,
                                      strlen(KAFKA_MOCK_CLUSTER_ID_PREFIX)) == 0;
    if (id != NULL) rd_kafka_mem_free(src->rk, id);
    return mock;
}

kafka_source *kafka_source_new(const kafka_source_options *o, sd_error *err) {
    if (kafka_source_check_options(o, err) != SD_OK) return NULL;
    kafka_source *src = sd_xcalloc(1, sizeof(*src));
    src->topic = sd_xstrdup(o->topic);
    src->bootstrap = sd_xstrdup(o->bootstrap);
    src->starting = o->starting_offsets;
    src->unreachable_ms = o->unreachable_timeout_ms > 0 ? o->unreachable_timeout_ms
                                                        : KAFKA_SOURCE_DEFAULT_UNREACHABLE_MS;
    src->metadata_ms =
        o->metadata_timeout_ms > 0 ? o->metadata_timeout_ms : KAFKA_SOURCE_DEFAULT_METADATA_MS;
    src->group_mode = o->group_id != NULL;
    src->stop_at_end = o->stop_at_end;
    src->on_assign = o->on_assign;
    src->on_revoke = o->on_revoke;
    src->opaque = o->opaque;
    if (kafka_source_connect(src, o, KAFKA_FETCH_WAIT_BROKER, err) != SD_OK) goto fail;
    if (kafka_source_partitions(src, &src->nparts, err) != SD_OK) goto fail;
    if (!kafka_conf_has(o->conf, "fetch.wait.max.ms") && kafka_source_on_mock(src)) {
        /* Nothing was fetched yet: a new client with the mock's setting. */
        kafka_source_disconnect(src);
        if (kafka_source_connect(src, o, KAFKA_FETCH_WAIT_MOCK, err) != SD_OK) goto fail;
    }
    src->parts = sd_xcalloc((size_t)src->nparts, sizeof(kafka_part));
    for (int p = 0; p < src->nparts; p++) {
        src->parts[p].next = -1;
        src->parts[p].batch_last = -1;
    }
    src->last = sd_xcalloc((size_t)src->nparts, sizeof(kafka_partition_offset));
    sd_status rc =
        src->group_mode ? kafka_source_subscribe(src, err) : kafka_source_assign_all(src, o, err);
    if (rc != SD_OK) goto fail;
    return src;
fail:
    kafka_source_free(src);
    return NULL;
}

bool kafka_source_setting(const kafka_source *src, const char *key, char *out, size_t cap) {
    size_t size = cap;
    return rd_kafka_conf_get(rd_kafka_conf(src->rk), key, out, &size) == RD_KAFKA_CONF_OK;
}

void kafka_source_free(kafka_source *src) {
    if (src == NULL) return;
    kafka_source_release_batch(src);
    kafka_source_disconnect(src);
    free(src->msgs);
    free(src->records);
    free(src->last);
    free(src->parts);
    free(src->topic);
    free(src->bootstrap);
    free(src);
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                   */
/* ------------------------------------------------------------------------ */

static void kafka_source_reserve(kafka_source *src, size_t n) {
    if (n <= src->msgs_cap) return;
    src->msgs = sd_xrealloc(src->msgs, n * sizeof(*src->msgs));
    src->records = sd_xrealloc(src->records, n * sizeof(*src->records));
    src->msgs_cap = n;
}

void kafka_source_release_batch(kafka_source *src) {
    for (size_t i = 0; i < src->nmsgs; i++) rd_kafka_message_destroy(src->msgs[i]);
    src->nmsgs = 0;
    src->held = false;
}

static void kafka_part_advance(kafka_part *kp, int64_t next) {
    if (next > kp->next) kp->next = next;
    if (kp->next >= kp->hwm_start) kp->caught = true;
}

/* An out-of-range position found while fetching: say where the data went. */
static sd_status kafka_source_lost_position(kafka_source *src, const rd_kafka_message_t *m,
                                            sd_error *err) {
    int32_t p = m->partition;
    int64_t want =
        m->offset >= 0 ? m->offset : (p >= 0 && p < src->nparts ? src->parts[p].next : -1);
    int64_t lo = -1, hi = -1;
    sd_error werr = {0};
    if (p >= 0 && p < src->nparts &&
        kafka_source_watermarks(src, p, &lo, &hi, src->metadata_ms, &werr) == SD_OK)
        return kafka_out_of_range(src, p, want, lo, hi, err);
    return sd_error_set(err, SD_ERR_NOT_FOUND,
                        "topic '%s' partition %d: offset %" PRId64
                        " to read next is out of range (%s); the low watermark is unknown: %s",
                        src->topic, (int)p, want, rd_kafka_message_errstr(m), werr.msg);
}

/* Look at one message from the queue: keep it (true) or consume an event.
 * Sets err for events that stop the stream. */
static bool kafka_source_take(kafka_source *src, rd_kafka_message_t *m, sd_error *err) {
    int32_t p = m->partition;
    bool known = m->rkt != NULL && p >= 0 && p < src->nparts;
    switch (m->err) {
        case RD_KAFKA_RESP_ERR_NO_ERROR:
            src->down_since_ms = 0;
            if (!known || !src->parts[p].assigned) break; /* a revoked partition's leftover */
            kafka_part_advance(&src->parts[p], m->offset + 1);
            return true;
        case RD_KAFKA_RESP_ERR__PARTITION_EOF:
            src->down_since_ms = 0;
            if (known && src->parts[p].assigned) kafka_part_advance(&src->parts[p], m->offset);
            break;
        case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
        case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
            kafka_source_lost_position(src, m, err);
            break;
        case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
            sd_error_set(err, SD_ERR_NOT_FOUND,
                         "topic '%s' (partition %d) no longer exists at %s: %s", src->topic, (int)p,
                         src->bootstrap, rd_kafka_message_errstr(m));
            break;
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR__FATAL:
            sd_error_set(err, SD_ERR_REMOTE, "Kafka refused to serve topic '%s': %s", src->topic,
                         rd_kafka_message_errstr(m));
            break;
        default:
            /* Transient (librdkafka retries): remember it for the report. */
            snprintf(src->last_error, sizeof(src->last_error), "%s", rd_kafka_message_errstr(m));
            if (kafka_err_is_unreachable(m->err) && src->down_since_ms == 0)
                src->down_since_ms = sd_now_ms();
            break;
    }
    rd_kafka_message_destroy(m);
    return false;
}

/* Keep the messages [from, from+n) of src->msgs that are records. */
static sd_status kafka_source_sift(kafka_source *src, size_t from, size_t n, sd_error *err) {
    size_t keep = from;
    sd_status rc = SD_OK;
    for (size_t i = from; i < from + n; i++) {
        rd_kafka_message_t *m = src->msgs[i];
        if (rc != SD_OK) {
            rd_kafka_message_destroy(m);
        } else {
            /* A local error: the caller's may hold an older, handled one. */
            sd_error terr = {0};
            if (kafka_source_take(src, m, &terr))
                src->msgs[keep++] = m;
            else if (terr.code != SD_OK)
                rc = sd_error_set(err, terr.code, "%s", terr.msg);
        }
    }
    src->nmsgs = keep;
    return rc;
}

/* Build the records and per-partition last offsets of the held messages. */
static void kafka_source_build(kafka_source *src, kafka_source_batch *out) {
    for (size_t i = 0; i < src->nmsgs; i++) {
        const rd_kafka_message_t *m = src->msgs[i];
        kafka_record *r = &src->records[i];
        r->value = m->payload;
        r->value_len = m->payload != NULL ? m->len : 0;
        r->key = m->key;
        r->key_len = m->key != NULL ? m->key_len : 0;
        r->partition = m->partition;
        r->offset = m->offset;
        rd_kafka_timestamp_type_t tt;
        int64_t ts = rd_kafka_message_timestamp(m, &tt);
        r->timestamp_ms = tt == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts;
        kafka_part *kp = &src->parts[m->partition];
        if (m->offset > kp->batch_last) kp->batch_last = m->offset;
    }
    int nlast = 0;
    for (int32_t p = 0; p < src->nparts; p++) {
        if (src->parts[p].batch_last < 0) continue;
        src->last[nlast].partition = p;
        src->last[nlast].offset = src->parts[p].batch_last;
        src->parts[p].batch_last = -1;
        nlast++;
    }
    out->records = src->records;
    out->count = src->nmsgs;
    out->last = src->last;
    out->nlast = nlast;
}

/* Wait up to `wait_ms` for one message, then drain what follows. */
static sd_status kafka_source_gather(kafka_source *src, size_t max_records, int max_wait_ms,
                                     sd_error *err) {
    int64_t deadline = sd_now_ms() + (max_wait_ms > 0 ? max_wait_ms : 0);
    for (;;) {
        if (src->cb_err.code != SD_OK)
            return sd_error_set(err, src->cb_err.code, "%s", src->cb_err.msg);
        sd_status rc = kafka_source_check_contact(src, err);
        if (rc != SD_OK) return rc;
        size_t before = src->nmsgs;
        if (before >= max_records) return SD_OK;
        int64_t left = deadline - sd_now_ms();
        if (before == 0) {
            if (src->stop_at_end && kafka_source_caught_up(src) &&
                rd_kafka_queue_length(src->queue) == 0)
                return SD_OK;
            /* consume_queue returns on the first message; batch-consume
             * would wait for a full batch or the whole timeout. Wait in
             * short slices so contact checks and caught_up stay current. */
            int slice = left > 100 ? 100 : (left > 0 ? (int)left : 0);
            rd_kafka_message_t *m = rd_kafka_consume_queue(src->queue, slice);
            if (m != NULL) {
                src->msgs[src->nmsgs++] = m;
                rc = kafka_source_sift(src, before, 1, err);
                if (rc != SD_OK) return rc;
            } else if (left <= 0) {
                return SD_OK;
            }
            continue;
        }
        ssize_t n = rd_kafka_consume_batch_queue(src->queue, KAFKA_SOURCE_DRAIN_MS,
                                                 src->msgs + before, max_records - before);
        if (n < 0)
            return sd_error_set(err, SD_ERR_INTERNAL, "cannot read the consumer queue: %s",
                                rd_kafka_err2str(rd_kafka_last_error()));
        /* A revocation served inside that call may have purged held
         * messages: close the gap it left before the new ones. */
        size_t at = src->nmsgs;
        if (at != before && n > 0)
            memmove(src->msgs + at, src->msgs + before, (size_t)n * sizeof(*src->msgs));
        src->nmsgs = at + (size_t)n;
        rc = kafka_source_sift(src, at, (size_t)n, err);
        if (rc != SD_OK) return rc;
        if (n == 0 || left <= 0) return SD_OK;
    }
}

sd_status kafka_source_poll_batch(kafka_source *src, size_t max_records, int max_wait_ms,
                                  kafka_source_batch *out, sd_error *err) {
    memset(out, 0, sizeof(*out));
    if (src->held)
        return sd_error_set(err, SD_ERR_ARG, "the previous batch of topic '%s' was not released",
                            src->topic);
    if (max_records == 0) return sd_error_set(err, SD_ERR_ARG, "max_records must be at least 1");
    kafka_source_reserve(src, max_records);
    sd_status rc = kafka_source_gather(src, max_records, max_wait_ms, err);
    if (rc != SD_OK) {
        kafka_source_release_batch(src);
        for (int32_t p = 0; p < src->nparts; p++) src->parts[p].batch_last = -1;
        return rc;
    }
    kafka_source_build(src, out);
    src->held = true;
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* State                                                                     */
/* ------------------------------------------------------------------------ */

bool kafka_source_caught_up(const kafka_source *src) {
    bool any = false;
    for (int32_t p = 0; p < src->nparts; p++) {
        if (!src->parts[p].assigned) continue;
        if (!src->parts[p].caught) return false;
        any = true;
    }
    return any;
}

int kafka_source_partition_count(const kafka_source *src) {
    return src->nparts;
}

int kafka_source_positions(const kafka_source *src, kafka_partition_offset *out, int max) {
    int n = 0;
    for (int32_t p = 0; p < src->nparts; p++) {
        if (!src->parts[p].assigned) continue;
        if (n < max) {
            out[n].partition = p;
            out[n].offset = src->parts[p].next;
        }
        n++;
    }
    return n;
}
