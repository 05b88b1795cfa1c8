/*
 * cmd_broker.c - `streamdelta broker`: the local development services in
 * one process: the embedded Kafka cluster and the Schema Registry, with the
 * addresses published for the other commands. Runs until SIGINT/SIGTERM.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kafka/kafka.h"

#define BROKER_DEFAULT_PARTITIONS 3
#define BROKER_MAX_TOPICS 64

static void cli_broker_help(FILE *out) {
    fprintf(out,
            "usage: streamdelta broker [options]\n"
            "\n"
            "Start the local development services: an embedded Kafka cluster (librdkafka's\n"
            "mock cluster, on loopback) and a Confluent-compatible Schema Registry. Their\n"
            "addresses are printed and written to the local services file, which\n"
            "create-topic, produce and run read when no address is given. Stops on\n"
            "Ctrl-C (SIGINT) or SIGTERM.\n"
            "\n"
            "options:\n"
            "  --brokers N            number of brokers (default 1, at most 16)\n"
            "  --topic T[:N]          create topic T with N partitions (default %d);\n"
            "                         repeatable. Unknown topics are also created on first use.\n"
            "  --registry-port P      schema registry port (default 8081; 0 = any free port)\n"
            "  --services-file PATH   where to publish the addresses (default\n"
            "                         $STREAMDELTA_LOCAL, else ~/.streamdelta/local.json)\n"
            "  -h, --help             this help\n"
            "\n"
            "The embedded cluster keeps about 5 MiB per partition and has no consumer-group\n"
            "coordinator worth relying on; use several partitions for volume, and a real\n"
            "Kafka for anything that is not development.\n",
            BROKER_DEFAULT_PARTITIONS);
}

typedef struct broker_topic {
    char *name;
    int partitions;
} broker_topic;

static sd_status broker_create_topic(void *opaque, const char *topic, int partitions,
                                     sd_error *err) {
    return kafka_dev_cluster_create_topic(opaque, topic, partitions, err);
}

/* "name[:partitions]" */
static bool broker_parse_topic(const char *arg, broker_topic *t) {
    const char *colon = strrchr(arg, ':');
    t->partitions = BROKER_DEFAULT_PARTITIONS;
    if (colon != NULL) {
        char *end;
        long n = strtol(colon + 1, &end, 10);
        if (*end != '\0' || n < 1 || n > 10000) return false;
        t->partitions = (int)n;
    }
    t->name = colon ? sd_xstrndup(arg, (size_t)(colon - arg)) : sd_xstrdup(arg);
    return t->name[0] != '\0';
}

static int broker_serve(int brokers, int registry_port, const char *services_path,
                        broker_topic *topics, int ntopics) {
    sd_error err = {0};
    /* Block the stop signals before any library thread starts, so that the
     * threads inherit the mask and sigwait() below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    kafka_dev_cluster *cluster = kafka_dev_cluster_start(brokers, &err);
    if (cluster == NULL) return cli_fail(&err);
    for (int i = 0; i < ntopics; i++) {
        if (kafka_dev_cluster_create_topic(cluster, topics[i].name, topics[i].partitions, &err) !=
            SD_OK) {
            kafka_dev_cluster_stop(cluster);
            return cli_fail(&err);
        }
    }
    kafka_registry_server *registry =
        kafka_registry_server_start(registry_port, broker_create_topic, cluster, &err);
    if (registry == NULL) {
        kafka_dev_cluster_stop(cluster);
        return cli_fail(&err);
    }
    kafka_local_services svc = {.pid = (long)getpid()};
    snprintf(svc.bootstrap_servers, sizeof(svc.bootstrap_servers), "%s",
             kafka_dev_cluster_bootstrap(cluster));
    snprintf(svc.registry_url, sizeof(svc.registry_url), "http://127.0.0.1:%d",
             kafka_registry_server_port(registry));
    int rc = CLI_EXIT_OK;
    if (kafka_local_services_write(services_path, &svc, &err) != SD_OK) {
        rc = cli_fail(&err);
    } else {
        printf("bootstrap.servers=%s\nschema.registry.url=%s\n", svc.bootstrap_servers,
               svc.registry_url);
        fflush(stdout);
        fprintf(stderr,
                "streamdelta broker: %d broker(s) at %s, schema registry at %s\n"
                "streamdelta broker: addresses written to %s; Ctrl-C to stop\n",
                brokers, svc.bootstrap_servers, svc.registry_url, services_path);
        int sig = 0;
        sigwait(&stop, &sig);
        fprintf(stderr, "streamdelta broker: %s received, stopping\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
        unlink(services_path);
    }
    kafka_registry_server_stop(registry);
    kafka_dev_cluster_stop(cluster);
    return rc;
}

int cli_cmd_broker(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_broker_help(stdout);
        return CLI_EXIT_OK;
    }
    int brokers = 1, registry_port = 8081, ntopics = 0, rc = CLI_EXIT_USAGE;
    broker_topic topics[BROKER_MAX_TOPICS];
    char services_path[4096];
    kafka_local_services_path(services_path, sizeof(services_path));
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (val == NULL) {
            cli_usage_error("broker", "unknown option or missing value: '%s'", opt);
            goto done;
        } else if (strcmp(opt, "--brokers") == 0) {
            brokers = (int)strtol(val, &end, 10);
            if (*end != '\0' || brokers < 1 || brokers > 16) {
                cli_usage_error("broker", "--brokers expects 1..16, got '%s'", val);
                goto done;
            }
        } else if (strcmp(opt, "--registry-port") == 0) {
            registry_port = (int)strtol(val, &end, 10);
            if (*end != '\0' || registry_port < 0 || registry_port > 65535) {
                cli_usage_error("broker", "--registry-port expects 0..65535, got '%s'", val);
                goto done;
            }
        } else if (strcmp(opt, "--services-file") == 0) {
            snprintf(services_path, sizeof(services_path), "%s", val);
        } else if (strcmp(opt, "--topic") == 0) {
            if (ntopics == BROKER_MAX_TOPICS || !broker_parse_topic(val, &topics[ntopics])) {
                cli_usage_error(
                    "broker", "--topic expects NAME or NAME:PARTITIONS (1..10000), got '%s'", val);
                goto done;
            }
            ntopics++;
        } else {
            cli_usage_error("broker", "unknown option '%s'", opt);
            goto done;
        }
        i++;
    }
    rc = broker_serve(brokers, registry_port, services_path, topics, ntopics);
done:
    for (int i = 0; i < ntopics; i++) free(topics[i].name);
    return rc;
}
