/*
 * kafka_admin.c - client settings passed through to librdkafka, and topic
 * creation: through the Admin API on a real cluster, through the dev
 * services' admin endpoint on the embedded one (which has no CreateTopics).
 */
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_internal.h"

void kafka_config_add(kafka_config *c, const char *key, const char *value) {
    c->keys = sd_xrealloc(c->keys, sizeof(char *) * (size_t)(c->n + 1));
    c->values = sd_xrealloc(c->values, sizeof(char *) * (size_t)(c->n + 1));
    c->keys[c->n] = sd_xstrdup(key);
    c->values[c->n] = sd_xstrdup(value);
    c->n++;
}

sd_status kafka_config_add_kv(kafka_config *c, const char *kv, sd_error *err) {
    const char *eq = strchr(kv, '=');
    if (eq == NULL || eq == kv)
        return sd_error_set(err, SD_ERR_ARG,
                            "expected a librdkafka property as key=value, got '%s'", kv);
    char *key = sd_xstrndup(kv, (size_t)(eq - kv));
    kafka_config_add(c, key, eq + 1);
    free(key);
    return SD_OK;
}

void kafka_config_free(kafka_config *c) {
    for (int i = 0; i < c->n; i++) {
        free(c->keys[i]);
        free(c->values[i]);
    }
    free(c->keys);
    free(c->values);
    memset(c, 0, sizeof(*c));
}

rd_kafka_conf_t *kafka_conf_build(const char *bootstrap, const kafka_config *conf, sd_error *err) {
    char errstr[512];
    rd_kafka_conf_t *rconf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(rconf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK)
        goto fail;
    for (int i = 0; conf != NULL && i < conf->n; i++)
        if (rd_kafka_conf_set(rconf, conf->keys[i], conf->values[i], errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK)
            goto fail;
    return rconf;
fail:
    rd_kafka_conf_destroy(rconf);
    sd_error_set(err, SD_ERR_ARG, "Kafka setting: %s", errstr);
    return NULL;
}

/* Map the per-topic result of CreateTopics to our statuses. */
static sd_status kafka_create_result(const rd_kafka_topic_result_t *res, const char *topic,
                                     sd_error *err) {
    rd_kafka_resp_err_t code = rd_kafka_topic_result_error(res);
    const char *msg = rd_kafka_topic_result_error_string(res);
    if (code == RD_KAFKA_RESP_ERR_NO_ERROR) return SD_OK;
    if (code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        return sd_error_set(err, SD_ERR_EXISTS, "topic '%s' already exists", topic);
    return sd_error_set(err, SD_ERR_REMOTE, "cannot create topic '%s': %s", topic,
                        msg ? msg : rd_kafka_err2str(code));
}

sd_status kafka_admin_create_topic(const char *bootstrap, const kafka_config *conf,
                                   const char *topic, int partitions, int replication,
                                   int timeout_ms, sd_error *err) {
    rd_kafka_conf_t *rconf = kafka_conf_build(bootstrap, conf, err);
    if (rconf == NULL) return err->code;
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, rconf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(rconf);
        return sd_error_set(err, SD_ERR_ARG, "cannot create a Kafka client: %s", errstr);
    }
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(topic, partitions, replication, errstr, sizeof(errstr));
    if (nt == NULL) {
        rd_kafka_destroy(rk);
        return sd_error_set(err, SD_ERR_ARG, "topic '%s': %s", topic, errstr);
    }
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof(errstr));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
    /* The admin request has its own timeout; wait a little longer. */
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
    sd_status rc;
    if (ev == NULL) {
        rc = sd_error_set(err, SD_ERR_NETWORK, "no answer from Kafka at %s within %d ms", bootstrap,
                          timeout_ms);
    } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_resp_err_t code = rd_kafka_event_error(ev);
        bool unsupported = code == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
                           code == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION;
        bool unreachable = code == RD_KAFKA_RESP_ERR__TIMED_OUT ||
                           code == RD_KAFKA_RESP_ERR__TRANSPORT ||
                           code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
        rc = sd_error_set(err,
                          unsupported   ? SD_ERR_UNSUPPORTED
                          : unreachable ? SD_ERR_NETWORK
                                        : SD_ERR_REMOTE,
                          "cannot create topic '%s' at %s: %s", topic, bootstrap,
                          rd_kafka_event_error_string(ev));
    } else {
        size_t n = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rc = n == 1 ? kafka_create_result(res[0], topic, err)
                    : sd_error_set(err, SD_ERR_REMOTE, "unexpected CreateTopics reply");
    }
    if (ev != NULL) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
    return rc;
}

static size_t kafka_curl_collect(char *p, size_t size, size_t n, void *userdata) {
    sd_buf_append((sd_buf *)userdata, p, size * n);
    return size * n;
}

sd_status kafka_dev_create_topic_remote(const char *registry_url, const char *topic, int partitions,
                                        sd_error *err) {
    CURL *curl = curl_easy_init();
    if (curl == NULL) return sd_error_set(err, SD_ERR_INTERNAL, "cannot initialise libcurl");
    char *url = sd_xasprintf("%s/streamdelta/topics", registry_url);
    sd_buf body = SD_BUF_INIT, reply = SD_BUF_INIT;
    sd_buf_append_str(&body, "{\"topic\":");
    sd_json_append_string(&body, topic, strlen(topic));
    sd_buf_appendf(&body, ",\"partitions\":%d}", partitions);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)body.data);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body.len);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, kafka_curl_collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    sd_status rc = SD_OK;
    if (cc != CURLE_OK) {
        rc = sd_error_set(err, SD_ERR_NETWORK, "cannot reach the local broker's services at %s: %s",
                          registry_url, curl_easy_strerror(cc));
    } else if (status != 200) {
        sd_error jerr = {0};
        sd_json *doc = sd_json_parse((const char *)reply.data, reply.len, &jerr);
        const char *msg = doc ? sd_json_as_string(sd_json_get(doc, "message")) : NULL;
        rc = sd_error_set(err, status == 409 ? SD_ERR_EXISTS : SD_ERR_REMOTE, "%s",
                          msg ? msg : "the local broker refused to create the topic");
        sd_json_free(doc);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    sd_buf_free(&body);
    sd_buf_free(&reply);
    free(url);
    return rc;
}
