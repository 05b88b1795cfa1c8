/*
 * kafka_mock.c - the embedded development cluster: librdkafka's mock
 * cluster, owned by one rd_kafka_t handle that does nothing else.
 *
 * The mock cluster lives on that handle's threads, so the handle must stay
 * alive while the cluster serves; both are destroyed together.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"

struct kafka_dev_cluster {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mcluster;
    char *bootstrap;
};

/* Kafka's own rule for topic names: 1..249 characters of [a-zA-Z0-9._-],
 * and not "." or "..". */
static bool kafka_topic_name_valid(const char *topic) {
    size_t n = strlen(topic);
    if (n == 0 || n > 249 || strcmp(topic, ".") == 0 || strcmp(topic, "..") == 0) return false;
    for (size_t i = 0; i < n; i++) {
        char c = topic[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

kafka_dev_cluster *kafka_dev_cluster_start(int brokers, sd_error *err) {
    if (brokers < 1 || brokers > 16) {
        sd_error_set(err, SD_ERR_ARG, "broker count %d is out of range (1..16)", brokers);
        return NULL;
    }
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The owning handle never produces; keep it quiet and cheap. */
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        sd_error_set(err, SD_ERR_INTERNAL, "librdkafka configuration: %s", errstr);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        sd_error_set(err, SD_ERR_INTERNAL, "cannot create the Kafka handle: %s", errstr);
        return NULL;
    }
    rd_kafka_mock_cluster_t *mcluster = rd_kafka_mock_cluster_new(rk, brokers);
    if (mcluster == NULL) {
        rd_kafka_destroy(rk);
        sd_error_set(err, SD_ERR_IO, "cannot start the embedded Kafka cluster (no free port?)");
        return NULL;
    }
    kafka_dev_cluster *c = sd_xcalloc(1, sizeof(*c));
    c->rk = rk;
    c->mcluster = mcluster;
    c->bootstrap = sd_xstrdup(rd_kafka_mock_cluster_bootstraps(mcluster));
    return c;
}

const char *kafka_dev_cluster_bootstrap(const kafka_dev_cluster *c) {
    return c->bootstrap;
}

/* The mock answers TOPIC_ALREADY_EXISTS for a name it knows, which is the
 * existence check: there is no separate call to list its topics. */
sd_status kafka_dev_cluster_create_topic(kafka_dev_cluster *c, const char *topic, int partitions,
                                         sd_error *err) {
    if (!kafka_topic_name_valid(topic))
        return sd_error_set(err, SD_ERR_ARG,
                            "invalid topic name '%s' (1 to 249 characters of a-z A-Z 0-9 . _ -)",
                            topic);
    if (partitions < 1 || partitions > 10000)
        return sd_error_set(err, SD_ERR_ARG, "partition count %d is out of range (1..10000)",
                            partitions);
    rd_kafka_resp_err_t rc = rd_kafka_mock_topic_create(c->mcluster, topic, partitions, 1);
    if (rc == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        return sd_error_set(err, SD_ERR_EXISTS, "topic '%s' already exists", topic);
    if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sd_error_set(err, SD_ERR_REMOTE, "cannot create topic '%s': %s", topic,
                            rd_kafka_err2str(rc));
    return SD_OK;
}

void kafka_dev_cluster_stop(kafka_dev_cluster *c) {
    if (c == NULL) return;
    rd_kafka_mock_cluster_destroy(c->mcluster);
    rd_kafka_destroy(c->rk);
    free(c->bootstrap);
    free(c);
}
