/*
 * kafka.h - the Kafka layer: the local development services (an embedded
 * Kafka cluster and a Confluent-compatible Schema Registry), and the file
 * through which the other commands find them.
 *
 * The embedded cluster is librdkafka's mock cluster (rdkafka_mock.h): a real
 * Kafka protocol server over TCP on 127.0.0.1, good for development and the
 * demo. Its limits (see DESIGN.md): about 5 MiB retained per partition, no
 * CreateTopics API, slow consumer-group joins. Because it has no
 * CreateTopics, topics are created in the process that owns the cluster;
 * the registry server exposes that as a small admin endpoint
 * (POST /streamdelta/topics) so that `streamdelta create-topic` works
 * against it from another process.
 *
 * The registry server implements the part of Confluent's REST API that
 * producers and consumers use (register, look up, fetch by id, list
 * subjects and versions) with Confluent's error bodies. Schemas are kept in
 * memory for the life of the process.
 *
 * Errors: calls return NULL or an sd_status and fill the caller's sd_error.
 * Threads: the registry answers requests on its own thread; its store is
 * guarded by a mutex. The cluster runs on librdkafka's threads. Handles are
 * started and stopped by one thread.
 */
#ifndef SD_KAFKA_H
#define SD_KAFKA_H

#include "../util/util.h"

/* ------------------------------------------------------------------------ */
/* Embedded development cluster (kafka_mock.c)                               */
/* ------------------------------------------------------------------------ */

typedef struct kafka_dev_cluster kafka_dev_cluster;

/* Start a mock cluster of `brokers` brokers (1..16) listening on ephemeral
 * loopback ports. Topics that clients ask for and that do not exist are
 * created with librdkafka's default partition count. Returns NULL and
 * fills err when librdkafka cannot create it. */
kafka_dev_cluster *kafka_dev_cluster_start(int brokers, sd_error *err);

/* "127.0.0.1:PORT,..." (owned by the cluster). */
const char *kafka_dev_cluster_bootstrap(const kafka_dev_cluster *c);

/* Create `topic` with `partitions` partitions (replication factor 1).
 * SD_ERR_EXISTS when it already exists, SD_ERR_ARG for a bad name or count. */
sd_status kafka_dev_cluster_create_topic(kafka_dev_cluster *c, const char *topic, int partitions,
                                         sd_error *err);

/* Stop the brokers and free everything. NULL is allowed. */
void kafka_dev_cluster_stop(kafka_dev_cluster *c);

/* ------------------------------------------------------------------------ */
/* Schema Registry server (kafka_registry_server.c)                          */
/* ------------------------------------------------------------------------ */

typedef struct kafka_registry_server kafka_registry_server;

/* Creates a topic on behalf of POST /streamdelta/topics; returns a status
 * and fills err (SD_ERR_EXISTS when it exists). */
typedef sd_status (*kafka_topic_create_fn)(void *opaque, const char *topic, int partitions,
                                           sd_error *err);

/* Serve the registry on 127.0.0.1:`port` (0 = any free port). `create_topic`
 * may be NULL (the admin endpoint then answers 404). Returns NULL and fills
 * err when the port cannot be bound. */
kafka_registry_server *kafka_registry_server_start(int port, kafka_topic_create_fn create_topic,
                                                   void *opaque, sd_error *err);

/* The port actually bound. */
int kafka_registry_server_port(const kafka_registry_server *s);

/* Stop serving (waits for requests in flight) and free. NULL is allowed. */
void kafka_registry_server_stop(kafka_registry_server *s);

/* ------------------------------------------------------------------------ */
/* The local services file (kafka_local.c)                                   */
/* ------------------------------------------------------------------------ */

/* What `streamdelta broker` publishes for the other commands. */
typedef struct kafka_local_services {
    char bootstrap_servers[512];
    char registry_url[256];
    long pid; /* the broker process, to tell a stale file from a live one */
} kafka_local_services;

/* The file used when no path is given: $STREAMDELTA_LOCAL, else
 * $HOME/.streamdelta/local.json. Writes at most n bytes into buf. */
const char *kafka_local_services_path(char *buf, size_t n);

/* Write the file atomically (temp file + rename), creating its directory. */
sd_status kafka_local_services_write(const char *path, const kafka_local_services *s,
                                     sd_error *err);

/* Read it. SD_ERR_NOT_FOUND when absent or when the process it names is no
 * longer running (a broker that died without cleaning up). */
sd_status kafka_local_services_read(const char *path, kafka_local_services *s, sd_error *err);

/* ------------------------------------------------------------------------ */
/* Client settings and the Admin API (kafka_admin.c)                         */
/* ------------------------------------------------------------------------ */

/* librdkafka properties passed through from the command line (-X key=value,
 * as kcat does), so SASL/SSL clusters work. Owns its strings. */
typedef struct kafka_config {
    int n;
    char **keys;
    char **values;
} kafka_config;

/* Add "key=value"; SD_ERR_ARG when there is no '=' or the key is empty. */
sd_status kafka_config_add_kv(kafka_config *c, const char *kv, sd_error *err);
void kafka_config_add(kafka_config *c, const char *key, const char *value);
void kafka_config_free(kafka_config *c);

/* Create `topic` through the Admin API (CreateTopics) of the cluster at
 * `bootstrap`, waiting up to timeout_ms. SD_ERR_EXISTS when it exists,
 * SD_ERR_UNSUPPORTED when the cluster has no CreateTopics (the embedded
 * development cluster), SD_ERR_NETWORK when it cannot be reached. */
sd_status kafka_admin_create_topic(const char *bootstrap, const kafka_config *conf,
                                   const char *topic, int partitions, int replication,
                                   int timeout_ms, sd_error *err);

/* Create a topic on an embedded development cluster through its registry
 * server's admin endpoint (POST {registry_url}/streamdelta/topics). */
sd_status kafka_dev_create_topic_remote(const char *registry_url, const char *topic, int partitions,
                                        sd_error *err);

/* ------------------------------------------------------------------------ */
/* Producer (kafka_producer.c)                                               */
/* ------------------------------------------------------------------------ */

/* A producer that counts only what the broker acknowledged. Messages are
 * copied on send; delivery results arrive through kafka_producer_poll(). */
typedef struct kafka_producer kafka_producer;

typedef struct kafka_producer_stats {
    int64_t sent;   /* handed to librdkafka */
    int64_t acked;  /* acknowledged by the broker */
    int64_t failed; /* reported as failed (after librdkafka's retries) */
    char last_error[256];
} kafka_producer_stats;

/* A producer for `bootstrap` with the pass-through settings. Our defaults,
 * which the user's -X settings override: linger.ms=5, acks=all,
 * enable.idempotence=true (no duplicates from retries), compression lz4. */
kafka_producer *kafka_producer_new(const char *bootstrap, const kafka_config *conf, sd_error *err);

/* Queue one message for `topic` (partition -1 = by key, or spread when the
 * key is NULL). Waits for room when the local queue is full. SD_ERR_ARG for
 * a message librdkafka refuses (too large, unknown partition). Header names
 * and values (NUL-terminated) may be given as nheaders pairs. */
sd_status kafka_producer_send(kafka_producer *p, const char *topic, int32_t partition,
                              const void *key, size_t key_len, const void *value, size_t value_len,
                              int nheaders, const char *const *header_names,
                              const char *const *header_values, sd_error *err);

/* Serve delivery reports for up to timeout_ms. */
void kafka_producer_poll(kafka_producer *p, int timeout_ms);

/* Wait until everything sent is acknowledged or failed, up to timeout_ms.
 * SD_ERR_NETWORK when messages are still in flight at the deadline. */
sd_status kafka_producer_flush(kafka_producer *p, int timeout_ms, sd_error *err);

const kafka_producer_stats *kafka_producer_get_stats(const kafka_producer *p);

/* Destroy (without flushing; call kafka_producer_flush first). */
void kafka_producer_free(kafka_producer *p);

/* ------------------------------------------------------------------------ */
/* The stream's source (kafka_source.c)                                      */
/* ------------------------------------------------------------------------ */

/* A consumer of one topic that the stream positions itself: the table's txn
 * actions hold the next offset to read of every partition, so the source
 * never commits offsets to Kafka and never resets a position on its own.
 *
 *   kafka_source_options o = {.bootstrap = bs, .topic = "t",
 *                             .starting_offsets = KAFKA_START_EARLIEST,
 *                             .start = table_offsets, .nstart = n};
 *   kafka_source *src = kafka_source_new(&o, &err);
 *   kafka_source_batch b;
 *   while (kafka_source_poll_batch(src, 10000, 500, &b, &err) == SD_OK) {
 *       ... use b.records[0..b.count), commit b.last with the table ...
 *       kafka_source_release_batch(src);
 *       if (available_now && kafka_source_caught_up(src)) break;
 *   }
 *   kafka_source_free(src);
 *
 * Our librdkafka defaults (the user's settings override them):
 * fetch.max.bytes=4194304, queued.min.messages=1000000, and
 * fetch.wait.max.ms=1 on librdkafka's mock cluster (what the embedded
 * cluster needs to stream, see DESIGN.md; recognised by its cluster id),
 * 100 on a real broker. Always set, whatever the user says:
 * enable.auto.commit=false, enable.auto.offset.store=false,
 * auto.offset.reset=error, enable.partition.eof=true.
 *
 * Errors of kafka_source_new and kafka_source_poll_batch:
 *  - SD_ERR_NOT_FOUND: the topic does not exist, or a position is out of
 *    range (data deleted by retention, or the topic was recreated): the
 *    message names topic, partition, the requested offset and the current
 *    low and high watermarks. Never skipped silently.
 *  - SD_ERR_RETRY: no contact with the cluster for unreachable_timeout_ms
 *    (transient: the caller may wait and start over).
 *  - SD_ERR_ARG: bad options or settings; SD_ERR_REMOTE: other broker errors.
 * Threads: one thread uses a source; callbacks run on it, inside poll. */
typedef struct kafka_source kafka_source;

/* Where a partition starts when the table has no offset for it. */
typedef enum kafka_starting_offsets {
    KAFKA_START_EARLIEST = 0, /* the low watermark */
    KAFKA_START_LATEST = 1,   /* the high watermark when the source starts */
} kafka_starting_offsets;

/* One partition's offset: the next offset to read (positions, starts) or
 * the last offset read (kafka_source_batch.last), as the field says. */
typedef struct kafka_partition_offset {
    int32_t partition;
    int64_t offset;
} kafka_partition_offset;

/* Group mode: the partitions[0..n) of `topic` were assigned to this member.
 * Fill next_offsets[i] with the next offset to read of partitions[i] (from
 * the table), or -1 when the table has none (starting_offsets applies).
 * An error stops the source: poll_batch returns it. */
typedef sd_status (*kafka_source_assign_fn)(void *opaque, const char *topic,
                                            const int32_t *partitions, int n, int64_t *next_offsets,
                                            sd_error *err);
/* Group mode: partitions[0..n) are taken away. Records of these partitions
 * not yet returned are dropped; the caller abandons (or finishes before its
 * next poll) whatever it holds of them. */
typedef void (*kafka_source_revoke_fn)(void *opaque, const char *topic, const int32_t *partitions,
                                       int n);

typedef struct kafka_source_options {
    const char *bootstrap; /* bootstrap.servers */
    const char *topic;
    const kafka_config *conf; /* pass-through librdkafka settings, may be NULL */
    kafka_starting_offsets starting_offsets;
    /* Assign mode: the next offset to read per partition (from the table's
     * txn actions); partitions not listed use starting_offsets. */
    const kafka_partition_offset *start;
    int nstart;
    /* Reading ends at the high watermarks (available-now, a one-off
     * read): poll_batch returns at once with an empty batch when caught
     * up and nothing is queued. Otherwise (a stream that keeps running)
     * it waits max_wait_ms for new records however long ago it caught up,
     * so an idle stream sleeps instead of polling in a loop. */
    bool stop_at_end;
    int unreachable_timeout_ms; /* 0 = 60000 */
    int metadata_timeout_ms;    /* 0 = 10000: metadata and watermark queries */
    /* Group mode (--group-mode) when group_id is not NULL: subscribe, and
     * ask on_assign for the start offsets of assigned partitions. */
    const char *group_id;
    kafka_source_assign_fn on_assign;
    kafka_source_revoke_fn on_revoke;
    void *opaque;
} kafka_source_options;

/* One message. The pointers stay valid until kafka_source_release_batch. */
typedef struct kafka_record {
    const uint8_t *value; /* NULL for a tombstone */
    size_t value_len;
    const uint8_t *key; /* NULL when absent */
    size_t key_len;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* -1 when the message has none */
} kafka_record;

/* A micro-batch, owned by the source (valid until release). `last` holds,
 * for each partition present in the batch (ascending partition), the last
 * offset in the batch; the table records last + 1 as the next offset. */
typedef struct kafka_source_batch {
    const kafka_record *records;
    size_t count;
    const kafka_partition_offset *last;
    int nlast;
} kafka_source_batch;

/* Connect, list the topic's partitions, record their high watermarks, and
 * assign (or, in group mode, subscribe). Returns NULL and fills err. */
kafka_source *kafka_source_new(const kafka_source_options *opts, sd_error *err);

/* Fetch up to max_records messages (max_records >= 1). Waits up to
 * max_wait_ms for the first; once some arrived, returns as soon as the
 * local queue stays empty for a 1 ms drain or max_records are gathered.
 * With stop_at_end, returns at once with an empty batch when caught up
 * (see below) and nothing is queued. Partition-EOF events are not
 * records. The previous
 * batch must have been released (SD_ERR_ARG otherwise). On error no batch
 * is held. */
sd_status kafka_source_poll_batch(kafka_source *src, size_t max_records, int max_wait_ms,
                                  kafka_source_batch *out, sd_error *err);

/* Give the batch's messages back to librdkafka; its pointers die. */
void kafka_source_release_batch(kafka_source *src);

/* True when every assigned partition has been read up to the high watermark
 * it had when it was assigned (false while nothing is assigned). */
bool kafka_source_caught_up(const kafka_source *src);

/* The topic's partition count (from metadata). */
int kafka_source_partition_count(const kafka_source *src);

/* The consumer's effective librdkafka setting `key` (what our defaults,
 * the user's settings and the forced ones made of it), copied into
 * out[cap]; false when librdkafka knows no such key or it does not fit. */
bool kafka_source_setting(const kafka_source *src, const char *key, char *out, size_t cap);

/* The next offset to read of each assigned partition, ascending partition,
 * up to max entries; returns how many there are (-1 offsets are unknown
 * yet: a partition started at earliest that has not answered). */
int kafka_source_positions(const kafka_source *src, kafka_partition_offset *out, int max);

/* Release any batch, close the consumer (without committing) and free. In
 * group mode the member leaves the group, so on_revoke runs once more. */
void kafka_source_free(kafka_source *src);

/* ------------------------------------------------------------------------ */
/* Dead-letter topic (kafka_dlq.c)                                           */
/* ------------------------------------------------------------------------ */

/* Records that cannot be decoded go, with their original key and value
 * bytes, to `<source topic>.dlq` (or a configured topic), with headers
 * streamdelta.reason, streamdelta.topic, streamdelta.partition and
 * streamdelta.offset. Built on kafka_producer; the caller flushes before
 * the table commit that covers those records. */
typedef struct kafka_dlq kafka_dlq;

typedef struct kafka_dlq_stats {
    int64_t sent;   /* records handed to the producer */
    int64_t acked;  /* acknowledged by the broker */
    int64_t failed; /* failed for good */
} kafka_dlq_stats;

/* `dlq_topic` NULL = "<source_topic>.dlq". Returns NULL and fills err. */
kafka_dlq *kafka_dlq_new(const char *bootstrap, const kafka_config *conf, const char *source_topic,
                         const char *dlq_topic, sd_error *err);

/* The destination topic name. */
const char *kafka_dlq_topic(const kafka_dlq *d);

/* Queue one failed record (bytes copied) with `reason`. */
sd_status kafka_dlq_send(kafka_dlq *d, const kafka_record *rec, const char *reason, sd_error *err);

/* Wait up to timeout_ms until every queued record is acknowledged.
 * SD_ERR_NETWORK when some are still in flight, SD_ERR_REMOTE when any
 * failed since the previous flush (the batch must not be committed). */
sd_status kafka_dlq_flush(kafka_dlq *d, int timeout_ms, sd_error *err);

kafka_dlq_stats kafka_dlq_get_stats(const kafka_dlq *d);

/* Free (without flushing). NULL is allowed. */
void kafka_dlq_free(kafka_dlq *d);

#endif /* SD_KAFKA_H */
