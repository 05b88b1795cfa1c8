/*
 * avro_wire.c - the Confluent wire format and the per-topic stream decoder.
 *
 * Framing (Confluent Schema Registry "wire format"): byte 0 is the magic
 * 0x00, bytes 1..4 the schema id (big-endian), then the Avro binary body.
 * avro_stream keeps one compiled program per schema id; the writer schema
 * comes from avro_stream_add_writer() or the registry. The outcome for an
 * id is cached, good or bad: an id the registry does not know or whose
 * schema cannot be resolved against the reader rejects each of its records
 * at once instead of asking the registry again per record. A registry that
 * cannot be reached is not cached: the caller retries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro_internal.h"

sd_status avro_wire_parse(const uint8_t *msg, size_t len, int32_t *schema_id, const uint8_t **body,
                          size_t *body_len, avro_reject *rej) {
    if (len < AVRO_WIRE_HEADER || msg[0] != 0) {
        rej->reason = AVRO_REJECT_BAD_MAGIC;
        rej->byte_offset = 0;
        if (len == 0)
            snprintf(rej->detail, sizeof(rej->detail), "empty message");
        else if (msg[0] != 0)
            snprintf(rej->detail, sizeof(rej->detail),
                     "magic byte 0x%02x, expected 0x00 (not Confluent framing)", msg[0]);
        else
            snprintf(rej->detail, sizeof(rej->detail),
                     "message of %zu bytes is shorter than the 5-byte header", len);
        return SD_ERR_FORMAT;
    }
    *schema_id = (int32_t)(((uint32_t)msg[1] << 24) | ((uint32_t)msg[2] << 16) |
                           ((uint32_t)msg[3] << 8) | msg[4]);
    *body = msg + AVRO_WIRE_HEADER;
    *body_len = len - AVRO_WIRE_HEADER;
    return SD_OK;
}

void avro_wire_header(int32_t schema_id, sd_buf *out) {
    uint32_t u = (uint32_t)schema_id;
    uint8_t h[5] = {0, (uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    sd_buf_append(out, h, 5);
}

/* ------------------------------------------------------------------------ */
/* Stream                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct stream_entry {
    int32_t id;
    avro_program *prog;         /* NULL when the id is refused */
    avro_reject_reason refusal; /* why, when prog is NULL */
    char *message;
} stream_entry;

struct avro_stream {
    const avro_schema *reader;
    const sd_schema *target;
    avro_registry *registry;
    avro_decode_opts opts;
    stream_entry *entries;
    int nentries, cap;
    int last; /* index of the last entry used: ids rarely change */
};

avro_stream *avro_stream_new(const avro_schema *reader, const sd_schema *target,
                             avro_registry *registry, const avro_decode_opts *opts, sd_error *err) {
    static const avro_decode_opts defaults = {0};
    sd_schema *expect = NULL;
    if (opts == NULL) opts = &defaults;
    if (avro_to_sd_schema(reader, &opts->map, &expect, err) != SD_OK) return NULL;
    bool same = sd_type_equal(expect, target);
    sd_schema_free(expect);
    if (!same) {
        sd_error_set(err, SD_ERR_ARG,
                     "Avro stream: the target columns are not the mapping of the reader schema");
        return NULL;
    }
    avro_stream *s = sd_xcalloc(1, sizeof(*s));
    s->reader = reader;
    s->target = target;
    s->registry = registry;
    s->opts = *opts;
    s->last = -1;
    return s;
}

void avro_stream_free(avro_stream *s) {
    if (s == NULL) return;
    for (int i = 0; i < s->nentries; i++) {
        avro_program_free(s->entries[i].prog);
        free(s->entries[i].message);
    }
    free(s->entries);
    free(s);
}

static stream_entry *stream_add(avro_stream *s, int32_t id) {
    if (s->nentries == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->entries = sd_xrealloc(s->entries, (size_t)s->cap * sizeof(stream_entry));
    }
    stream_entry *e = &s->entries[s->nentries++];
    memset(e, 0, sizeof(*e));
    e->id = id;
    return e;
}

static stream_entry *stream_find(avro_stream *s, int32_t id) {
    if (s->last >= 0 && s->entries[s->last].id == id) return &s->entries[s->last];
    for (int i = 0; i < s->nentries; i++)
        if (s->entries[i].id == id) {
            s->last = i;
            return &s->entries[i];
        }
    return NULL;
}

sd_status avro_stream_add_writer(avro_stream *s, int32_t id, const avro_schema *writer,
                                 sd_error *err) {
    if (stream_find(s, id))
        return sd_error_set(err, SD_ERR_EXISTS, "Avro stream: schema id %d is already known", id);
    avro_program *p = avro_program_compile(writer, s->reader, s->target, &s->opts, err);
    if (p == NULL) {
        sd_error_prefix(err, "schema id %d: ", id);
        return err ? err->code : SD_ERR_FORMAT;
    }
    stream_add(s, id)->prog = p;
    return SD_OK;
}

/* Fetch and compile the writer schema for `id`; caches the outcome unless
 * the registry could not be asked. */
static sd_status stream_learn(avro_stream *s, int32_t id, stream_entry **out, sd_error *err) {
    const avro_schema *writer = NULL;
    sd_error lerr = {0};
    sd_status st;
    if (s->registry == NULL)
        st = sd_error_set(&lerr, SD_ERR_NOT_FOUND,
                          "schema id %d is unknown and no Schema Registry is configured", id);
    else
        st = avro_registry_get(s->registry, id, &writer, &lerr);
    if (st != SD_OK && st != SD_ERR_NOT_FOUND && st != SD_ERR_FORMAT && st != SD_ERR_UNSUPPORTED)
        return sd_error_set(err, st, "%s", lerr.msg); /* retriable: not cached */
    stream_entry *e = stream_add(s, id);
    if (st == SD_OK) {
        e->prog = avro_program_compile(writer, s->reader, s->target, &s->opts, &lerr);
        if (e->prog == NULL) {
            e->refusal = AVRO_REJECT_BAD_SCHEMA;
            e->message = sd_xstrdup(lerr.msg);
        }
    } else {
        e->refusal = st == SD_ERR_NOT_FOUND ? AVRO_REJECT_UNKNOWN_SCHEMA : AVRO_REJECT_BAD_SCHEMA;
        e->message = sd_xstrdup(lerr.msg);
    }
    s->last = s->nentries - 1;
    *out = e;
    return SD_OK;
}

sd_status avro_stream_decode(avro_stream *s, sd_batch *batch, const uint8_t *msg, size_t len,
                             const char *topic, int32_t partition, int64_t offset, avro_reject *rej,
                             sd_error *err) {
    rej->topic = topic;
    rej->partition = partition;
    rej->offset = offset;
    rej->schema_id = -1;
    int32_t id;
    const uint8_t *body;
    size_t body_len;
    if (len >= AVRO_WIRE_HEADER && msg[0] == 0) { /* the common case, inline */
        id = (int32_t)(((uint32_t)msg[1] << 24) | ((uint32_t)msg[2] << 16) |
                       ((uint32_t)msg[3] << 8) | msg[4]);
        body = msg + AVRO_WIRE_HEADER;
        body_len = len - AVRO_WIRE_HEADER;
    } else if (avro_wire_parse(msg, len, &id, &body, &body_len, rej) != SD_OK) {
        return sd_error_set(err, SD_ERR_FORMAT, "%s[%d]@%lld: %s", topic ? topic : "?", partition,
                            (long long)offset, rej->detail);
    }
    rej->schema_id = id;
    stream_entry *e = stream_find(s, id);
    if (e == NULL) {
        sd_status st = stream_learn(s, id, &e, err);
        if (st != SD_OK) return st;
    }
    if (e->prog == NULL) {
        rej->reason = e->refusal;
        rej->byte_offset = 1;
        snprintf(rej->detail, sizeof(rej->detail), "%s", e->message);
        return sd_error_set(err, SD_ERR_FORMAT, "%s[%d]@%lld: %s", topic ? topic : "?", partition,
                            (long long)offset, rej->detail);
    }
    sd_status st = avro_program_decode(e->prog, batch, body, body_len, rej, NULL);
    if (st == SD_ERR_FORMAT) {
        rej->byte_offset += AVRO_WIRE_HEADER;
        return sd_error_set(err, SD_ERR_FORMAT, "%s[%d]@%lld: %s at byte %zu: %s",
                            topic ? topic : "?", partition, (long long)offset,
                            avro_reject_reason_name(rej->reason), rej->byte_offset, rej->detail);
    }
    if (st != SD_OK)
        return sd_error_set(err, st,
                            "Avro stream: the batch's columns differ from the stream's target");
    return SD_OK;
}
