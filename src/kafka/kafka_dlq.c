/*
 * kafka_dlq.c - the dead-letter topic of the stream: records that cannot be
 * decoded are sent, byte for byte, to another topic with headers saying why
 * and where they came from, so nothing is dropped silently.
 *
 * Ordering with the table: the caller flushes (kafka_dlq_flush) before the
 * Delta commit that records the offsets of those records; a failed flush
 * means the commit must not happen, so a restart re-reads and re-sends them
 * (at-least-once into the dead-letter topic, exactly-once into the table).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_internal.h"

struct kafka_dlq {
    kafka_producer *producer;
    char *source_topic;
    char *topic;
    int64_t failed_seen; /* failures already reported by a flush */
};

kafka_dlq *kafka_dlq_new(const char *bootstrap, const kafka_config *conf, const char *source_topic,
                         const char *dlq_topic, sd_error *err) {
    if (source_topic == NULL || source_topic[0] == '\0') {
        sd_error_set(err, SD_ERR_ARG, "dead-letter topic: no source topic given");
        return NULL;
    }
    if (dlq_topic != NULL && dlq_topic[0] == '\0') {
        sd_error_set(err, SD_ERR_ARG, "dead-letter topic: empty topic name");
        return NULL;
    }
    kafka_producer *p = kafka_producer_new(bootstrap, conf, err);
    if (p == NULL) {
        sd_error_prefix(err, "dead-letter topic: ");
        return NULL;
    }
    kafka_dlq *d = sd_xcalloc(1, sizeof(*d));
    d->producer = p;
    d->source_topic = sd_xstrdup(source_topic);
    d->topic = dlq_topic != NULL ? sd_xstrdup(dlq_topic) : sd_xasprintf("%s.dlq", source_topic);
    return d;
}

const char *kafka_dlq_topic(const kafka_dlq *d) {
    return d->topic;
}

sd_status kafka_dlq_send(kafka_dlq *d, const kafka_record *rec, const char *reason, sd_error *err) {
    char partition[16], offset[24];
    snprintf(partition, sizeof(partition), "%d", (int)rec->partition);
    snprintf(offset, sizeof(offset), "%" PRId64, rec->offset);
    const char *const names[] = {"streamdelta.reason", "streamdelta.topic", "streamdelta.partition",
                                 "streamdelta.offset"};
    const char *const values[] = {reason != NULL ? reason : "", d->source_topic, partition, offset};
    sd_status rc = kafka_producer_send(d->producer, d->topic, -1, rec->key, rec->key_len,
                                       rec->value, rec->value_len, 4, names, values, err);
    if (rc != SD_OK)
        sd_error_prefix(err, "dead-letter record of %s [%d] at offset %" PRId64 ": ",
                        d->source_topic, (int)rec->partition, rec->offset);
    return rc;
}

sd_status kafka_dlq_flush(kafka_dlq *d, int timeout_ms, sd_error *err) {
    sd_status rc = kafka_producer_flush(d->producer, timeout_ms, err);
    if (rc != SD_OK) {
        sd_error_prefix(err, "dead-letter topic '%s': ", d->topic);
        return rc;
    }
    const kafka_producer_stats *st = kafka_producer_get_stats(d->producer);
    if (st->failed > d->failed_seen) {
        int64_t lost = st->failed - d->failed_seen;
        d->failed_seen = st->failed;
        return sd_error_set(err, SD_ERR_REMOTE,
                            "%" PRId64 " record(s) could not be written to the dead-letter topic "
                            "'%s' (%s); the batch must not be committed",
                            lost, d->topic, st->last_error);
    }
    return SD_OK;
}

kafka_dlq_stats kafka_dlq_get_stats(const kafka_dlq *d) {
    const kafka_producer_stats *st = kafka_producer_get_stats(d->producer);
    kafka_dlq_stats out = {st->sent, st->acked, st->failed};
    return out;
}

void kafka_dlq_free(kafka_dlq *d) {
    if (d == NULL) return;
    kafka_producer_free(d->producer);
    free(d->source_topic);
    free(d->topic);
    free(d);
}
