/*
 * kafka_internal.h - internal interfaces of the Kafka layer, shared by its
 * modules. Other layers use kafka.h.
 */
#ifndef SD_KAFKA_INTERNAL_H
#define SD_KAFKA_INTERNAL_H

#include <librdkafka/rdkafka.h>

#include "kafka.h"

/* A librdkafka configuration with bootstrap.servers and the pass-through
 * settings applied; NULL and err filled when librdkafka refuses one. The
 * caller owns the result (rd_kafka_new takes it over on success). */
rd_kafka_conf_t *kafka_conf_build(const char *bootstrap, const kafka_config *conf, sd_error *err);

#endif /* SD_KAFKA_INTERNAL_H */
