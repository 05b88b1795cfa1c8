/*
 * cmd_create_topic.c - `streamdelta create-topic`: create a Kafka topic,
 * through the Admin API of a real cluster, or through the local broker's
 * admin endpoint when the cluster is the embedded one (it has no
 * CreateTopics of its own).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kafka/kafka.h"

static void cli_create_topic_help(FILE *out) {
    fprintf(out, "usage: streamdelta create-topic --topic T [options]\n"
                 "\n"
                 "Create a Kafka topic. Without --bootstrap-servers, the local broker started by\n"
                 "'streamdelta broker' is used.\n"
                 "\n"
                 "options:\n"
                 "  --topic T                 topic name (required)\n"
                 "  --partitions N            partitions (default 3)\n"
                 "  --replication-factor R    replicas (default 1)\n"
                 "  --bootstrap-servers B     Kafka cluster (default: the local broker)\n"
                 "  --if-not-exists           succeed when the topic already exists\n"
                 "  -X key=value              librdkafka setting, repeatable (SASL, SSL, ...)\n"
                 "  --timeout-ms MS           how long to wait for the cluster (default 30000)\n"
                 "  -h, --help                this help\n"
                 "\n"
                 "exit codes: 0 created (or exists with --if-not-exists), 1 failed (for example:\n"
                 "the topic exists), 2 bad usage\n");
}

typedef struct create_topic_args {
    const char *topic;
    const char *bootstrap;
    int partitions, replication, timeout_ms;
    bool if_not_exists;
    kafka_config conf;
} create_topic_args;

static bool create_topic_int(const char *val, int lo, int hi, int *out) {
    char *end;
    long n = strtol(val, &end, 10);
    if (*end != '\0' || n < lo || n > hi) return false;
    *out = (int)n;
    return true;
}

static int create_topic_parse(int argc, char **argv, create_topic_args *a) {
    sd_error err = {0};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--if-not-exists") == 0) {
            a->if_not_exists = true;
            continue;
        }
        const char *val = i + 1 < argc ? argv[++i] : NULL;
        if (val == NULL) return cli_usage_error("create-topic", "missing value for '%s'", opt);
        if (strcmp(opt, "--topic") == 0)
            a->topic = val;
        else if (strcmp(opt, "--bootstrap-servers") == 0)
            a->bootstrap = val;
        else if (strcmp(opt, "--partitions") == 0) {
            if (!create_topic_int(val, 1, 10000, &a->partitions))
                return cli_usage_error("create-topic", "--partitions expects 1..10000, got '%s'",
                                       val);
        } else if (strcmp(opt, "--replication-factor") == 0) {
            if (!create_topic_int(val, 1, 100, &a->replication))
                return cli_usage_error("create-topic",
                                       "--replication-factor expects 1..100, got '%s'", val);
        } else if (strcmp(opt, "--timeout-ms") == 0) {
            if (!create_topic_int(val, 1, 3600000, &a->timeout_ms))
                return cli_usage_error("create-topic",
                                       "--timeout-ms expects a positive number, got '%s'", val);
        } else if (strcmp(opt, "-X") == 0) {
            if (kafka_config_add_kv(&a->conf, val, &err) != SD_OK)
                return cli_usage_error("create-topic", "%s", err.msg);
        } else {
            return cli_usage_error("create-topic", "unknown option '%s'", opt);
        }
    }
    if (a->topic == NULL) return cli_usage_error("create-topic", "--topic is required");
    return CLI_EXIT_OK;
}

static int create_topic_run(create_topic_args *a) {
    sd_error err = {0};
    kafka_local_services local;
    char path[4096];
    sd_status local_rc =
        kafka_local_services_read(kafka_local_services_path(path, sizeof(path)), &local, &err);
    if (a->bootstrap == NULL) {
        if (local_rc != SD_OK) return cli_fail(&err);
        a->bootstrap = local.bootstrap_servers;
    }
    sd_error_clear(&err);
    sd_status rc;
    if (local_rc == SD_OK && strcmp(a->bootstrap, local.bootstrap_servers) == 0) {
        /* The embedded cluster has no CreateTopics (the Admin API would wait
         * for a controller that never answers): ask the process that owns it. */
        rc = kafka_dev_create_topic_remote(local.registry_url, a->topic, a->partitions, &err);
    } else {
        rc = kafka_admin_create_topic(a->bootstrap, &a->conf, a->topic, a->partitions,
                                      a->replication, a->timeout_ms, &err);
    }
    if (rc == SD_ERR_EXISTS && a->if_not_exists) {
        fprintf(stderr, "streamdelta create-topic: topic '%s' already exists\n", a->topic);
        return CLI_EXIT_OK;
    }
    if (rc != SD_OK) return cli_fail(&err);
    printf("created topic %s with %d partition(s) at %s\n", a->topic, a->partitions, a->bootstrap);
    return CLI_EXIT_OK;
}

int cli_cmd_create_topic(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_create_topic_help(stdout);
        return CLI_EXIT_OK;
    }
    create_topic_args a = {.partitions = 3, .replication = 1, .timeout_ms = 30000};
    int rc = create_topic_parse(argc, argv, &a);
    if (rc == CLI_EXIT_OK) rc = create_topic_run(&a);
    kafka_config_free(&a.conf);
    return rc;
}
