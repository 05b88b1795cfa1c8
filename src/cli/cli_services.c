/*
 * cli_services.c - where the Kafka cluster and the schema registry are:
 * from the command line, else from the local services file that
 * `streamdelta broker` writes.
 */
#include <stdio.h>

#include "cli.h"
#include "kafka/kafka.h"

sd_status cli_resolve_services(const char *bootstrap, const char *registry, bool need_registry,
                               cli_services *out, sd_error *err) {
    kafka_local_services local;
    bool need_local = bootstrap == NULL || (need_registry && registry == NULL);
    if (need_local) {
        char path[4096];
        if (kafka_local_services_read(kafka_local_services_path(path, sizeof(path)), &local, err) !=
            SD_OK) {
            sd_error_prefix(err, "%s: ",
                            bootstrap == NULL ? "no --bootstrap-servers given"
                                              : "no --schema-registry given");
            return err->code;
        }
    }
    snprintf(out->bootstrap, sizeof(out->bootstrap), "%s",
             bootstrap != NULL ? bootstrap : local.bootstrap_servers);
    snprintf(out->registry, sizeof(out->registry), "%s",
             registry != NULL ? registry : (need_local ? local.registry_url : ""));
    return SD_OK;
}
