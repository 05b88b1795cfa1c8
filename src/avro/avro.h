/*
 * avro.h - the Avro layer of streamdelta: Avro schemas (JSON), their mapping
 * to columnar sd_schema types, writer/reader schema resolution compiled into
 * a decode program, the Confluent wire format, a Schema Registry client and
 * Object Container Files.
 *
 * Specification: https://avro.apache.org/docs/1.11.1/specification/
 * (binary encoding, schema resolution, logical types, object container
 * files). Confluent wire format: byte 0 = 0x00, bytes 1..4 = schema id
 * (big-endian), then the Avro binary body.
 *
 * Data flow: a message's body is decoded straight into the columns of an
 * sd_batch (util.h) by a program compiled once per (writer schema, reader
 * schema) pair; there is no per-record allocation and no row structs.
 *
 * Errors come in two kinds, kept apart on purpose:
 *  - per-record rejections (a corrupt body, an unknown schema id, a union
 *    branch the reader lacks...): the record is rolled back out of the batch
 *    and described in an avro_reject for the dead-letter output; the stream
 *    goes on. Calls signal them with SD_ERR_FORMAT.
 *  - everything else (bad arguments, incompatible schemas, a Schema
 *    Registry that cannot be reached) is an sd_status other than
 *    SD_ERR_FORMAT, with the message in the caller's sd_error. SD_ERR_RETRY
 *    means the same call may succeed later.
 *
 * Threads: schemas and programs are immutable after creation except for the
 * per-program batch binding (see avro_program_decode); use one program, one
 * avro_stream and one OCF reader per thread. The registry client is
 * thread-safe.
 *
 * Names: the types of this header do not collide with Apache avro-c's
 * (avro_schema_t, AVRO_STRING...), so both can be used in one program (the
 * benchmark does).
 */
#ifndef SD_AVRO_H
#define SD_AVRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ------------------------------------------------------------------------ */
/* Schemas                                                                   */
/* ------------------------------------------------------------------------ */

/* Avro types (the spec's primitive and complex types). */
typedef enum avro_kind {
    AVRO_KIND_NULL,
    AVRO_KIND_BOOLEAN,
    AVRO_KIND_INT,
    AVRO_KIND_LONG,
    AVRO_KIND_FLOAT,
    AVRO_KIND_DOUBLE,
    AVRO_KIND_BYTES,
    AVRO_KIND_STRING,
    AVRO_KIND_RECORD,
    AVRO_KIND_ENUM,
    AVRO_KIND_ARRAY,
    AVRO_KIND_MAP,
    AVRO_KIND_UNION,
    AVRO_KIND_FIXED,
} avro_kind;

/* Logical types we understand. A logicalType attribute that is unknown or
 * invalid for its underlying type is ignored, as the spec requires. */
typedef enum avro_logical {
    AVRO_LOGICAL_NONE,
    AVRO_LOGICAL_DATE,                   /* int: days since epoch */
    AVRO_LOGICAL_TIME_MILLIS,            /* int */
    AVRO_LOGICAL_TIME_MICROS,            /* long */
    AVRO_LOGICAL_TIMESTAMP_MILLIS,       /* long, UTC */
    AVRO_LOGICAL_TIMESTAMP_MICROS,       /* long, UTC */
    AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS, /* long, no time zone */
    AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS, /* long, no time zone */
    AVRO_LOGICAL_DECIMAL,                /* bytes or fixed, precision/scale */
    AVRO_LOGICAL_UUID,                   /* string (or fixed 16) */
} avro_logical;

typedef struct avro_node avro_node;
typedef struct avro_schema avro_schema;

/* A record field. `def` is the parsed JSON default, or NULL when there is
 * none; it lives as long as the schema. */
typedef struct avro_field {
    char *name;
    char **aliases;
    int naliases;
    avro_node *type;
    const sd_json *def;
} avro_field;

/* One node of a schema. Named types (record, enum, fixed) appear once per
 * definition; references to them point at the same node, so a recursive
 * schema is a graph. All nodes belong to their avro_schema. */
struct avro_node {
    avro_kind kind;
    avro_logical logical;
    int precision, scale; /* decimal */
    char *fullname;       /* named types: "ns.Name" (or "Name") */
    char **aliases;       /* named types: full names */
    int naliases;
    int nfields; /* record */
    avro_field *fields;
    int nsymbols; /* enum */
    char **symbols;
    int default_symbol; /* enum: index of the reader's default, or -1 */
    avro_node *items;   /* array items, map values */
    int nbranches;      /* union */
    avro_node **branches;
    int size; /* fixed */
};

/* Parse an Avro schema from its JSON text (`len` bytes). Understands
 * primitives, records, enums, arrays, maps, unions, fixed, named types and
 * references (with namespaces and aliases), field defaults (checked against
 * the field's type) and the logical types above. Returns NULL and fills
 * `err` (SD_ERR_JSON for bad JSON, SD_ERR_FORMAT for an invalid schema,
 * naming the offending field or type) on failure. Free with
 * avro_schema_free(). */
avro_schema *avro_schema_parse(const char *json, size_t len, sd_error *err);
void avro_schema_free(avro_schema *s);
/* The root node (owned by the schema). */
const avro_node *avro_schema_root(const avro_schema *s);
/* The JSON text the schema was parsed from (owned by the schema). */
const char *avro_schema_json(const avro_schema *s);
/* The spec's Parsing Canonical Form (appended to `out`) and its 64-bit
 * Rabin fingerprint (CRC-64-AVRO). */
void avro_schema_canonical(const avro_schema *s, sd_buf *out);
uint64_t avro_schema_fingerprint(const avro_schema *s);
/* "record io.movies.MovieRating", "int", "union" ... for messages. */
const char *avro_kind_name(avro_kind kind);

/* ------------------------------------------------------------------------ */
/* Mapping to columnar types                                                 */
/* ------------------------------------------------------------------------ */

typedef struct avro_map_opts {
    /* Nested records become top-level columns named parent_child instead
     * of struct columns. */
    bool flatten;
    /* Every column nullable (Spark tables usually are) instead of only the
     * union-with-null ones. Decoding is the same either way. */
    bool all_nullable;
} avro_map_opts;

/* The columnar schema a reader schema decodes into. The root must be a
 * record; its fields are the columns. null/boolean/int/long/float/double/
 * bytes/string map to the obvious kinds, enum to string, fixed to binary,
 * a union of null and one type to a nullable column of that type (other
 * unions are refused), record to struct (or flattened), array to list, map
 * to map<string, V>, date to DATE, timestamp-millis/micros to TIMESTAMP
 * (micros), local-timestamp-* to TIMESTAMP_NTZ, decimal (precision <= 38)
 * to DECIMAL, uuid to string. `opts` may be NULL. The result is the
 * caller's (sd_schema_free). Returns SD_ERR_UNSUPPORTED naming the field
 * for a type that has no column kind. */
sd_status avro_to_sd_schema(const avro_schema *reader, const avro_map_opts *opts, sd_schema **out,
                            sd_error *err);

/* ------------------------------------------------------------------------ */
/* Per-record rejections (dead letters)                                      */
/* ------------------------------------------------------------------------ */

typedef enum avro_reject_reason {
    AVRO_REJECT_NONE = 0,
    AVRO_REJECT_BAD_MAGIC,       /* first byte is not 0x00, or message < 5 bytes */
    AVRO_REJECT_UNKNOWN_SCHEMA,  /* the registry does not know the schema id */
    AVRO_REJECT_BAD_SCHEMA,      /* writer schema unparsable or incompatible */
    AVRO_REJECT_TRUNCATED,       /* body ends inside a value */
    AVRO_REJECT_TRAILING_BYTES,  /* bytes left after the record */
    AVRO_REJECT_INVALID_UTF8,    /* string is not UTF-8 (validation on) */
    AVRO_REJECT_VARINT_OVERFLOW, /* varint longer than its type allows */
    AVRO_REJECT_NEGATIVE_LENGTH, /* negative bytes/string length */
    AVRO_REJECT_BAD_UNION_INDEX, /* union branch index out of range */
    AVRO_REJECT_BAD_ENUM_INDEX,  /* enum symbol index out of range */
    AVRO_REJECT_NO_MATCH,        /* value valid for the writer, absent in the reader */
    AVRO_REJECT_OUT_OF_RANGE,    /* value does not fit the column (decimal) */
    AVRO_REJECT_TOO_LARGE,       /* array/map larger than the limits */
} avro_reject_reason;

/* A rejected record, as the dead-letter output needs it. `topic` is
 * borrowed from the caller of the decode call. */
typedef struct avro_reject {
    avro_reject_reason reason;
    const char *topic;
    int32_t partition;
    int64_t offset;     /* Kafka offset (or record number in an OCF block) */
    int32_t schema_id;  /* -1 when unknown */
    size_t byte_offset; /* position in the message where decoding stopped */
    char detail[256];   /* human-readable: what was found where */
} avro_reject;

/* "bad magic byte", "truncated body", ... (a stable short name). */
const char *avro_reject_reason_name(avro_reject_reason r);

/* ------------------------------------------------------------------------ */
/* Resolution and decoding                                                   */
/* ------------------------------------------------------------------------ */

typedef struct avro_program avro_program;

typedef struct avro_decode_opts {
    avro_map_opts map;  /* must equal the mapping of the target sd_schema */
    bool validate_utf8; /* reject strings that are not UTF-8 */
} avro_decode_opts;

/* Compile the decoding of records written with `writer` into columns of
 * `target` (= avro_to_sd_schema(reader, &opts->map)). Resolution follows
 * the spec: reader-only fields take their defaults, writer-only fields are
 * skipped, int->long->float->double and string<->bytes are promoted,
 * unions match both ways (first matching reader branch), enum symbols map
 * by name (unknown ones to the reader's default), named types match by
 * name or alias. A pair that can never decode is refused here
 * (SD_ERR_FORMAT naming the path, e.g. "field rating: writer string cannot
 * be read as reader float"); a pair that only fails for some values
 * compiles and rejects those records. Recursive schemas and nesting deeper
 * than 32 are SD_ERR_UNSUPPORTED. Both schemas and `target` must outlive
 * the program. `opts` may be NULL. */
avro_program *avro_program_compile(const avro_schema *writer, const avro_schema *reader,
                                   const sd_schema *target, const avro_decode_opts *opts,
                                   sd_error *err);
void avro_program_free(avro_program *p);

/* Decode one Avro binary body (exactly one record, all bytes used) and
 * append it as one row to `batch` (whose schema must equal the program's
 * target; it is bound on first use, and re-bound when another batch is
 * passed). Returns SD_OK, or SD_ERR_FORMAT with `rej` filled (reason,
 * byte_offset, detail; the other fields untouched) and the batch exactly
 * as before the call. SD_ERR_ARG when the batch's schema does not match. */
sd_status avro_program_decode(avro_program *p, sd_batch *batch, const uint8_t *body, size_t len,
                              avro_reject *rej, sd_error *err);

/* Remove rows >= nrows from every column of `batch` (recursively), keeping
 * allocations; used to roll back a partly appended record. */
void avro_batch_truncate(sd_batch *batch, size_t nrows);

/* ------------------------------------------------------------------------ */
/* Confluent wire format                                                     */
/* ------------------------------------------------------------------------ */

#define AVRO_WIRE_HEADER 5

/* Split a framed message into schema id and body. SD_ERR_FORMAT with
 * rej->reason = AVRO_REJECT_BAD_MAGIC when the message is shorter than 5
 * bytes or does not start with 0x00. */
sd_status avro_wire_parse(const uint8_t *msg, size_t len, int32_t *schema_id, const uint8_t **body,
                          size_t *body_len, avro_reject *rej);
/* Append the 5-byte header for `schema_id` to `out`. */
void avro_wire_header(int32_t schema_id, sd_buf *out);

/* ------------------------------------------------------------------------ */
/* Schema Registry client (libcurl)                                          */
/* ------------------------------------------------------------------------ */

typedef struct avro_registry avro_registry;

typedef struct avro_registry_conf {
    const char *url;         /* "http://host:8081" (a trailing '/' is fine) */
    const char *basic_auth;  /* "user:password", or NULL */
    long connect_timeout_ms; /* default 5000 */
    long timeout_ms;         /* whole request, default 15000 */
    int max_retries;         /* on network errors and 5xx; 0 = default 4, < 0 = none */
    long backoff_ms;         /* first retry delay, doubled each time, default 100 */
    long backoff_max_ms;     /* default 5000 */
} avro_registry_conf;

/* Create a client (copies everything in conf). NULL and `err` on a bad
 * URL. */
avro_registry *avro_registry_new(const avro_registry_conf *conf, sd_error *err);
void avro_registry_free(avro_registry *r);

/* The schema with this id (GET /schemas/ids/{id}), parsed; cached by id, so
 * only the first call for an id talks to the registry. The schema belongs
 * to the client and lives until avro_registry_free(). Returns
 * SD_ERR_NOT_FOUND for an id the registry does not know (40403),
 * SD_ERR_RETRY when the registry could not be reached or kept answering
 * 5xx after the retries, SD_ERR_REMOTE for other refusals, SD_ERR_FORMAT
 * when the schema text is not a valid Avro schema, SD_ERR_UNSUPPORTED for a
 * non-Avro schemaType. */
sd_status avro_registry_get(avro_registry *r, int32_t id, const avro_schema **out, sd_error *err);
/* Register `schema_json` under `subject` (POST /subjects/{s}/versions) and
 * return its id. Same errors. */
sd_status avro_registry_register(avro_registry *r, const char *subject, const char *schema_json,
                                 int32_t *id, sd_error *err);
/* The latest version of a subject (GET /subjects/{s}/versions/latest): id,
 * version and the schema text (malloc'd, caller frees; any out may be
 * NULL). SD_ERR_NOT_FOUND for an unknown subject. */
sd_status avro_registry_latest(avro_registry *r, const char *subject, int32_t *id, int *version,
                               char **schema_json, sd_error *err);
/* Number of HTTP requests made so far (tests and metrics). */
long avro_registry_requests(const avro_registry *r);

/* ------------------------------------------------------------------------ */
/* Stream decoding: wire format + registry + resolution                      */
/* ------------------------------------------------------------------------ */

typedef struct avro_stream avro_stream;

/* A decoder for a topic's messages into batches of `target` (the mapping
 * of `reader` with opts->map). Writer schemas come from avro_stream_add_
 * writer() and else from `registry` (may be NULL); a program is compiled
 * once per schema id. `reader`, `target` and `registry` are borrowed. */
avro_stream *avro_stream_new(const avro_schema *reader, const sd_schema *target,
                             avro_registry *registry, const avro_decode_opts *opts, sd_error *err);
void avro_stream_free(avro_stream *s);
/* Make schema id `id` known without asking the registry (copies nothing:
 * `writer` must outlive the stream). An incompatible writer schema is an
 * error here. */
sd_status avro_stream_add_writer(avro_stream *s, int32_t id, const avro_schema *writer,
                                 sd_error *err);
/* Decode one framed message and append it as one row to `batch`.
 *  - SD_OK: appended.
 *  - SD_ERR_FORMAT: rejected (bad magic, unknown schema id, incompatible
 *    writer schema, corrupt body...); `rej` describes it, with `topic`,
 *    `partition`, `offset` copied in; the batch is unchanged; go on.
 *  - SD_ERR_RETRY / others: the registry could not be asked; the message
 *    was not judged; retry later or stop. */
sd_status avro_stream_decode(avro_stream *s, sd_batch *batch, const uint8_t *msg, size_t len,
                             const char *topic, int32_t partition, int64_t offset, avro_reject *rej,
                             sd_error *err);

/* ------------------------------------------------------------------------ */
/* Object Container Files                                                    */
/* ------------------------------------------------------------------------ */

typedef struct avro_ocf_reader avro_ocf_reader;

/* Open an OCF file (path) or an in-memory copy (data is borrowed and must
 * outlive the reader; `name` is used in messages). Reads the header:
 * magic "Obj\x01", metadata (avro.schema, avro.codec: null, deflate,
 * snappy, zstandard) and sync marker. Records are resolved to `reader`, or
 * read with the file's own schema when `reader` is NULL; `opts` may be
 * NULL. Returns NULL and `err` (naming the file) on failure. */
avro_ocf_reader *avro_ocf_open(const char *path, const avro_schema *reader,
                               const avro_decode_opts *opts, sd_error *err);
avro_ocf_reader *avro_ocf_open_memory(const uint8_t *data, size_t len, const char *name,
                                      const avro_schema *reader, const avro_decode_opts *opts,
                                      sd_error *err);
void avro_ocf_close(avro_ocf_reader *r);
/* The file's writer schema and the columnar schema batches use (both owned
 * by the reader). */
const avro_schema *avro_ocf_writer_schema(const avro_ocf_reader *r);
const sd_schema *avro_ocf_schema(const avro_ocf_reader *r);
/* The codec name from the header ("null" when absent). */
const char *avro_ocf_codec(const avro_ocf_reader *r);
/* Append up to `max_records` records to `batch` (initialised with
 * avro_ocf_schema()); *nread = how many (0 at the end of the file). Any
 * corrupt block or record is an error for the whole file (SD_ERR_FORMAT or
 * SD_ERR_CODEC naming the file, block offset and record). */
sd_status avro_ocf_read(avro_ocf_reader *r, sd_batch *batch, size_t max_records, size_t *nread,
                        sd_error *err);
/* Step over the next `n` records without decoding them (whole blocks by
 * their record count, without decompressing them); *skipped = how many
 * (fewer only at the end of the file). Resuming a read at a record index. */
sd_status avro_ocf_skip(avro_ocf_reader *r, int64_t n, int64_t *skipped, sd_error *err);
/* True when no record is left (the next read returns none). */
bool avro_ocf_eof(const avro_ocf_reader *r);

/* Writing (avro_ocf_write.c). Records are appended as Avro binary bodies of
 * the schema given at open; blocks of about 1 MiB are compressed with
 * `codec` (null, deflate, snappy, zstandard). The file is written as
 * "<path>.tmp-<pid>" and renamed to `path` by a successful close with
 * keep = true, so `path` only ever holds a complete file. */
typedef struct avro_ocf_writer avro_ocf_writer;
/* NULL and err: bad codec (SD_ERR_ARG), invalid schema, file not creatable. */
avro_ocf_writer *avro_ocf_writer_open(const char *path, const char *schema_json, const char *codec,
                                      sd_error *err);
/* Append one record body. */
sd_status avro_ocf_writer_append(avro_ocf_writer *w, const uint8_t *body, size_t len,
                                 sd_error *err);
/* Or encode straight into the open block: append one record's bytes to
 * the buffer returned, then call avro_ocf_writer_end_record(). */
sd_buf *avro_ocf_writer_record(avro_ocf_writer *w);
sd_status avro_ocf_writer_end_record(avro_ocf_writer *w, sd_error *err);
int64_t avro_ocf_writer_records(const avro_ocf_writer *w);
/* Write the last block and rename into place (keep), or discard the file
 * (keep = false, after a failure). Frees w either way. */
sd_status avro_ocf_writer_close(avro_ocf_writer *w, bool keep, sd_error *err);

/* ------------------------------------------------------------------------ */
/* Binary encoding (avro_encode.c): the primitives, for producers and tests  */
/* ------------------------------------------------------------------------ */

/* int and long: zig-zag varint. */
void avro_encode_long(sd_buf *out, int64_t v);
void avro_encode_bool(sd_buf *out, bool v);
/* float and double: little-endian IEEE 754. */
void avro_encode_float(sd_buf *out, float v);
void avro_encode_double(sd_buf *out, double v);
/* bytes and string: length (long) then the bytes. */
void avro_encode_bytes(sd_buf *out, const void *p, size_t n);
static inline void avro_encode_string(sd_buf *out, const char *s, size_t n) {
    avro_encode_bytes(out, s, n);
}

#endif /* SD_AVRO_H */
