/*
 * kafka_producer.c - a librdkafka producer that counts a message as sent
 * only when the broker acknowledged it, for `produce` and the dead-letter
 * topic of the stream.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_internal.h"

struct kafka_producer {
    rd_kafka_t *rk;
    kafka_producer_stats stats;
};

/* Called on the polling thread for every message, once it is acked or has
 * failed for good. */
static void kafka_producer_delivered(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    kafka_producer *p = opaque;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        p->stats.acked++;
    } else {
        p->stats.failed++;
        snprintf(p->stats.last_error, sizeof(p->stats.last_error), "%s",
                 rd_kafka_err2str(msg->err));
    }
}

static const char *const kafka_producer_defaults[][2] = {
    {"linger.ms", "5"},
    {"acks", "all"},
    {"enable.idempotence", "true"},
    {"compression.codec", "lz4"},
};

kafka_producer *kafka_producer_new(const char *bootstrap, const kafka_config *conf, sd_error *err) {
    kafka_config merged = {0};
    for (size_t i = 0; i < sizeof(kafka_producer_defaults) / sizeof(kafka_producer_defaults[0]);
         i++)
        kafka_config_add(&merged, kafka_producer_defaults[i][0], kafka_producer_defaults[i][1]);
    for (int i = 0; conf != NULL && i < conf->n; i++)
        kafka_config_add(&merged, conf->keys[i], conf->values[i]);
    rd_kafka_conf_t *rconf = kafka_conf_build(bootstrap, &merged, err);
    kafka_config_free(&merged);
    if (rconf == NULL) return NULL;
    kafka_producer *p = sd_xcalloc(1, sizeof(*p));
    rd_kafka_conf_set_dr_msg_cb(rconf, kafka_producer_delivered);
    rd_kafka_conf_set_opaque(rconf, p);
    char errstr[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rconf, errstr, sizeof(errstr));
    if (p->rk == NULL) {
        rd_kafka_conf_destroy(rconf);
        free(p);
        sd_error_set(err, SD_ERR_ARG, "cannot create a Kafka producer: %s", errstr);
        return NULL;
    }
    return p;
}

sd_status kafka_producer_send(kafka_producer *p, const char *topic, int32_t partition,
                              const void *key, size_t key_len, const void *value, size_t value_len,
                              int nheaders, const char *const *header_names,
                              const char *const *header_values, sd_error *err) {
    for (;;) {
        rd_kafka_headers_t *hdrs = NULL;
        if (nheaders > 0) {
            hdrs = rd_kafka_headers_new((size_t)nheaders);
            for (int i = 0; i < nheaders; i++)
                rd_kafka_header_add(hdrs, header_names[i], -1, header_values[i], -1);
        }
        rd_kafka_resp_err_t rc =
            hdrs != NULL
                ? rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_KEY((void *)key, key_len),
                                    RD_KAFKA_V_VALUE((void *)value, value_len),
                                    RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END)
                : rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_KEY((void *)key, key_len),
                                    RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_END);
        if (rc == RD_KAFKA_RESP_ERR_NO_ERROR) {
            p->stats.sent++;
            return SD_OK;
        }
        if (hdrs != NULL) rd_kafka_headers_destroy(hdrs); /* not taken over on failure */
        if (rc != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return sd_error_set(err, SD_ERR_ARG, "cannot send to topic '%s': %s", topic,
                                rd_kafka_err2str(rc));
        /* The local queue is full: serve delivery reports to make room. */
        rd_kafka_poll(p->rk, 10);
    }
}

void kafka_producer_poll(kafka_producer *p, int timeout_ms) {
    rd_kafka_poll(p->rk, timeout_ms);
}

sd_status kafka_producer_flush(kafka_producer *p, int timeout_ms, sd_error *err) {
    rd_kafka_resp_err_t rc = rd_kafka_flush(p->rk, timeout_ms);
    if (rc == RD_KAFKA_RESP_ERR__TIMED_OUT)
        return sd_error_set(err, SD_ERR_NETWORK,
                            "%d message(s) not acknowledged by Kafka within %d ms",
                            rd_kafka_outq_len(p->rk), timeout_ms);
    return SD_OK;
}

const kafka_producer_stats *kafka_producer_get_stats(const kafka_producer *p) {
    return &p->stats;
}

void kafka_producer_free(kafka_producer *p) {
    if (p == NULL) return;
    rd_kafka_destroy(p->rk);
    free(p);
}
