/*
 * delta_internal.h - what the files of src/delta/ share and no other layer
 * should use: the string pool actions live in, action vectors, the hash
 * map of live files, log segments, checkpoint reading and the snapshot's
 * layout.
 */
#ifndef SD_DELTA_INTERNAL_H
#define SD_DELTA_INTERNAL_H

#include "delta.h"

/* Bounds on untrusted log content (named so the reason is beside them). */
#define DELTA_MAX_SCHEMA_DEPTH 64     /* nesting of struct/array/map in a schemaString */
#define DELTA_MAX_LOG_FILE (1u << 30) /* a commit JSON file larger than 1 GiB is refused */
#define DELTA_MAX_DV_FILE (1u << 30)  /* same for one deletion vector */
#define DELTA_VERSION_DIGITS 20       /* zero-padded version in log file names */

/* ------------------------------------------------------------------------ */
/* Pool: the strings and arrays of actions, freed all at once               */
/* ------------------------------------------------------------------------ */

typedef struct delta_pool_block delta_pool_block;

typedef struct delta_pool {
    delta_pool_block *head;
    size_t next_cap;
    /* Parsed schemas of metaData actions (heap-allocated by sd_schema_new). */
    sd_schema **schemas;
    size_t nschemas;
} delta_pool;

void delta_pool_init(delta_pool *p);
void delta_pool_free(delta_pool *p);
void *delta_pool_alloc(delta_pool *p, size_t n); /* zeroed, 16-byte aligned */
const char *delta_pool_strndup(delta_pool *p, const char *s, size_t n);
void delta_pool_own_schema(delta_pool *p, sd_schema *s);

/* ------------------------------------------------------------------------ */
/* Actions                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct delta_action_vec {
    delta_action *items;
    size_t count, cap;
} delta_action_vec;

delta_action *delta_action_vec_push(delta_action_vec *v);
void delta_action_vec_free(delta_action_vec *v);

/* Convert one parsed log line (a JSON object with one action key) into an
 * action whose strings are copied into `pool`. Unknown fields and unknown
 * action types are ignored (kind DELTA_ACTION_UNKNOWN). */
sd_status delta_action_from_json(const sd_json *line, delta_pool *pool, delta_action *out,
                                 sd_error *err);

/* Parse a whole commit file's text (newline-delimited JSON, blank lines
 * allowed) appending its actions to `out`. Errors name `name` and the
 * 1-based line. */
sd_status delta_commit_parse(const char *text, size_t len, const char *name, delta_pool *pool,
                             delta_action_vec *out, sd_error *err);

/* Read a whole (small) file into memory. */
sd_status delta_read_file(const char *path, size_t max, sd_buf *out, sd_error *err);

/* ------------------------------------------------------------------------ */
/* Log listing                                                               */
/* ------------------------------------------------------------------------ */

/* The files needed to rebuild one version: an optional checkpoint (one or
 * more parts) and the commits after it, in version order. */
typedef struct delta_log_segment {
    int64_t version;            /* the version it rebuilds */
    int64_t checkpoint_version; /* -1: none, replay from commit 0 */
    size_t ncheckpoint_parts;
    char **checkpoint_paths; /* absolute paths, part order */
    size_t ncommits;
    int64_t *commit_versions;
    char **commit_paths;
} delta_log_segment;

/* List `<table>/_delta_log` and choose the files for `version` (-1 =
 * latest). _last_checkpoint is a hint only: when it names a checkpoint that
 * is missing or incomplete, listing decides. A gap in the commit sequence
 * after the chosen checkpoint is SD_ERR_FORMAT naming the missing version. */
sd_status delta_log_segment_build(const char *table_path, int64_t version, delta_log_segment *out,
                                  sd_error *err);
void delta_log_segment_free(delta_log_segment *seg);

/* Log file names: version from "NNNN...N.json" etc. */
typedef enum delta_log_file_kind {
    DELTA_LOG_OTHER = 0,
    DELTA_LOG_COMMIT,          /* N.json */
    DELTA_LOG_CHECKPOINT,      /* N.checkpoint.parquet */
    DELTA_LOG_CHECKPOINT_PART, /* N.checkpoint.K.P.parquet */
    DELTA_LOG_CHECKPOINT_V2,   /* N.checkpoint.<uuid>.(json|parquet) */
} delta_log_file_kind;

delta_log_file_kind delta_log_classify(const char *name, int64_t *version, int *part, int *nparts);

/* ------------------------------------------------------------------------ */
/* Checkpoints                                                               */
/* ------------------------------------------------------------------------ */

/* Read one checkpoint part (classic schema: txn, add, remove, metaData,
 * protocol, domainMetadata columns) appending its actions to `out`. A
 * v2 checkpoint (sidecar/checkpointMetadata columns with rows) is refused
 * with SD_ERR_UNSUPPORTED. */
sd_status delta_checkpoint_read(const char *path, delta_pool *pool, delta_action_vec *out,
                                sd_error *err);
/* The same from an open Parquet file (fuzzing reads from memory); `path`
 * names it in errors. */
sd_status delta_checkpoint_read_pq(pq_file *f, const char *path, delta_pool *pool,
                                   delta_action_vec *out, sd_error *err);

/* ------------------------------------------------------------------------ */
/* String-keyed hash map (open addressing) for live files and txns          */
/* ------------------------------------------------------------------------ */

typedef struct delta_hmap {
    const char **keys; /* borrowed; NULL = empty slot */
    size_t *key_lens;
    size_t *vals;
    bool *tomb; /* deleted slot (keeps probe chains intact) */
    uint64_t *hashes;
    size_t cap, count, used;
} delta_hmap;

void delta_hmap_init(delta_hmap *m);
void delta_hmap_free(delta_hmap *m);
/* Insert or replace; the key must outlive the map. */
void delta_hmap_put(delta_hmap *m, const char *key, size_t len, size_t val);
bool delta_hmap_get(const delta_hmap *m, const char *key, size_t len, size_t *val);
bool delta_hmap_remove(delta_hmap *m, const char *key, size_t len, size_t *val);

/* ------------------------------------------------------------------------ */
/* Snapshot layout                                                           */
/* ------------------------------------------------------------------------ */

typedef struct delta_commit_ts {
    int64_t version;
    int64_t timestamp;
} delta_commit_ts;

struct delta_snapshot {
    char *table_path;
    int64_t version;
    delta_pool pool;
    delta_protocol protocol;
    delta_metadata metadata;
    bool has_protocol, has_metadata;
    /* Live files, sorted by (path, dv id) after replay. */
    delta_file *files;
    size_t nfiles;
    delta_add *adds; /* storage the files point to */
    delta_remove *tombstones;
    size_t ntombstones;
    delta_txn *txns;
    size_t ntxns;
    delta_domain_metadata *domains;
    size_t ndomains;
    delta_commit_ts *commit_ts;
    size_t ncommit_ts;
    /* Index of each partition column in the schema. */
    int *partition_field;
};

/* Key of a logical file: path, then NUL, then the DV unique id. Written to
 * `out` (reset first). */
void delta_file_key(const char *path, const delta_dv_descriptor *dv, sd_buf *out);

/* Path, relative to the table, of the file of a 'u' deletion vector
 * descriptor: its random prefix directory, if any, then
 * deletion_vector_<uuid>.bin (PROTOCOL.md "Deletion Vector Descriptor").
 * Caller frees; NULL with SD_ERR_FORMAT for a malformed descriptor. */
char *delta_dv_uuid_path(const delta_dv_descriptor *dv, sd_error *err);

/* Decode Z85 (ZeroMQ base-85) text whose length is a multiple of 5. */
sd_status delta_z85_decode(const char *text, size_t len, sd_buf *out, sd_error *err);
/* Decode a portable 64-bit RoaringBitmapArray preceded by Delta's magic.
 * More than `max_rows` rows is an error (a small corrupt input must not
 * expand into gigabytes: run containers are tiny for 65536 rows). */
sd_status delta_dv_decode_bitmap(const uint8_t *data, size_t len, uint64_t max_rows,
                                 delta_rowset *out, sd_error *err);

/* Whether a file with logged partition values `pv` can hold rows matching
 * the conjunction `preds` (predicates on non-partition columns are assumed
 * to match). Partition values are typed with the snapshot's schema. */
sd_status delta_partition_matches(const delta_snapshot *s, const delta_map *pv,
                                  const pq_predicate *preds, int npreds, bool *match,
                                  sd_error *err);

/* A table property duration ("interval 1 week", "7 days", "168 hours",
 * units millisecond to week, plural or not) in milliseconds, or -1. */
int64_t delta_parse_interval_ms(const char *s);

/* A quoted stats timestamp "YYYY-MM-DDTHH:MM:SS.mmm[Z]" (Z for UTC),
 * floored to milliseconds as Delta's stats keep them. */
void delta_format_ts_millis(int64_t micros, bool utc, sd_buf *out);

#endif /* SD_DELTA_INTERNAL_H */
