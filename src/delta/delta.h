/*
 * delta.h - the Delta Lake layer: read a table's transaction log (JSON
 * commits and Parquet checkpoints) into a snapshot, list and read its live
 * data files with partition pruning, statistics skipping and deletion
 * vectors, check that the table's protocol only needs features we
 * implement; create tables, commit optimistic transactions, write
 * checkpoints and clean up expired log files.
 *
 * Sections: actions, features, snapshots, deletion vectors, scans,
 * transactions, checkpoints.
 *
 * Reference: delta-io/delta PROTOCOL.md ("Delta Transaction Log Protocol").
 *
 * Errors: every fallible call returns an sd_status and fills a caller-owned
 * sd_error. Messages name the table, the log file and, for commits, the line
 * ("_delta_log/00000000000000000003.json line 2: ..."). Codes:
 *   SD_ERR_NOT_FOUND    no table at the path, or the requested version is
 *                       not (or no longer) reconstructable;
 *   SD_ERR_FORMAT/JSON  a corrupt log file, checkpoint or deletion vector,
 *                       or a gap in the commit sequence;
 *   SD_ERR_UNSUPPORTED  the table needs a reader feature we do not implement
 *                       (the message names the feature) - we refuse rather
 *                       than misread;
 *   SD_ERR_IO           the file system said no (errno text included);
 *   SD_ERR_CONFLICT     a commit lost to a concurrent one it conflicts with
 *                       (the message names the version and the reason);
 *   SD_ERR_EXISTS       creating a table where one exists;
 *   SD_ERR_ARG          a bad argument (a literal of the wrong type, bad
 *                       partition columns); unknown columns are NOT_FOUND.
 *
 * Memory: a snapshot owns everything reachable from it (actions, strings,
 * schema, partition values); pointers into it stay valid until
 * delta_snapshot_free(). Batches produced by a file reader are owned by the
 * caller (sd_batch_free) but borrow the reader's schema, which lives until
 * delta_file_reader_close().
 *
 * Threads: a snapshot is immutable once loaded and may be shared by readers
 * on several threads; a file reader is used by one thread at a time.
 *
 * Example - count the rows of the latest version:
 *
 *     sd_error err = {0};
 *     delta_snapshot *snap;
 *     if (delta_snapshot_load("/data/movie_ratings", -1, &snap, &err) != SD_OK) {
 *         fprintf(stderr, "%s\n", err.msg);
 *         return 1;
 *     }
 *     int64_t rows = 0;
 *     for (size_t i = 0; i < delta_snapshot_num_files(snap); i++) {
 *         delta_file_reader *r = delta_file_reader_open(snap, delta_snapshot_file(snap, i),
 *                                                      NULL, 0, &err);
 *         sd_batch b;
 *         bool more;
 *         while (r && delta_file_reader_next(r, &b, &more, &err) == SD_OK && more) {
 *             rows += (int64_t)b.nrows;
 *             sd_batch_free(&b);
 *         }
 *         delta_file_reader_close(r);
 *     }
 *     delta_snapshot_free(snap);
 */
#ifndef SD_DELTA_H
#define SD_DELTA_H

#include "../parquet/parquet.h"
#include "../util/util.h"

/* ------------------------------------------------------------------------ */
/* Actions (one JSON object per line of a commit file)                      */
/* ------------------------------------------------------------------------ */

/* A string-to-string map as the log stores them (partitionValues, tags,
 * configuration). A value is NULL when the log has JSON null. */
typedef struct delta_kv {
    const char *key;
    const char *value;
} delta_kv;

typedef struct delta_map {
    size_t count;
    delta_kv *items;
} delta_map;

/* Value of `key`, or NULL when absent or null; *found tells them apart. */
const char *delta_map_get(const delta_map *m, const char *key, bool *found);

typedef struct delta_protocol {
    int min_reader_version;
    int min_writer_version;
    /* Table features (reader version 3 / writer version 7), else count 0. */
    size_t nreader_features;
    const char **reader_features;
    size_t nwriter_features;
    const char **writer_features;
} delta_protocol;

typedef struct delta_metadata {
    const char *id;
    const char *name;            /* may be NULL */
    const char *description;     /* may be NULL */
    const char *format_provider; /* "parquet" */
    const char *schema_string;   /* the Spark JSON schema, as logged */
    sd_schema *schema;           /* parsed schemaString (owned with the action) */
    size_t npartition_columns;
    const char **partition_columns;
    delta_map configuration;
    int64_t created_time; /* ms since epoch, -1 when absent */
} delta_metadata;

/* Deletion vector descriptor. */
typedef struct delta_dv_descriptor {
    char storage_type; /* 'u' relative UUID, 'i' inline, 'p' absolute path */
    const char *path_or_inline_dv;
    int32_t offset; /* -1 when absent (inline DVs have none) */
    int32_t size_in_bytes;
    int64_t cardinality; /* number of deleted rows */
} delta_dv_descriptor;

typedef struct delta_add {
    const char *path; /* as logged: relative and URL-encoded, or an absolute URI */
    delta_map partition_values;
    int64_t size;
    int64_t modification_time;
    bool data_change;
    const char *stats; /* JSON text or NULL */
    delta_map tags;
    bool has_dv;
    delta_dv_descriptor dv;
    int64_t base_row_id;                /* -1 when absent */
    int64_t default_row_commit_version; /* -1 when absent */
    const char *clustering_provider;    /* NULL when absent */
} delta_add;

typedef struct delta_remove {
    const char *path;
    int64_t deletion_timestamp; /* -1 when absent */
    bool data_change;
    bool extended_file_metadata;
    delta_map partition_values;
    int64_t size; /* -1 when absent */
    delta_map tags;
    bool has_dv;
    delta_dv_descriptor dv;
    int64_t base_row_id;
    int64_t default_row_commit_version;
} delta_remove;

typedef struct delta_txn {
    const char *app_id;
    int64_t version;
    int64_t last_updated; /* -1 when absent */
} delta_txn;

typedef struct delta_domain_metadata {
    const char *domain;
    const char *configuration;
    bool removed;
} delta_domain_metadata;

typedef enum delta_action_kind {
    DELTA_ACTION_UNKNOWN = 0, /* an action type this version does not know: ignored */
    DELTA_ACTION_PROTOCOL,
    DELTA_ACTION_METADATA,
    DELTA_ACTION_ADD,
    DELTA_ACTION_REMOVE,
    DELTA_ACTION_TXN,
    DELTA_ACTION_COMMIT_INFO,
    DELTA_ACTION_DOMAIN_METADATA,
    DELTA_ACTION_CDC,                 /* change data files: not part of a snapshot */
    DELTA_ACTION_CHECKPOINT_METADATA, /* v2 checkpoints only */
    DELTA_ACTION_SIDECAR,             /* v2 checkpoints only */
} delta_action_kind;

typedef struct delta_action {
    delta_action_kind kind;
    union {
        delta_protocol protocol;
        delta_metadata metadata;
        delta_add add;
        delta_remove remove;
        delta_txn txn;
        delta_domain_metadata domain;
        /* commitInfo: the whole object as compact JSON text; ICT (the
         * inCommitTimestamp) and timestamp pulled out, -1 when absent. */
        struct {
            const char *json;
            int64_t timestamp;
            int64_t in_commit_timestamp;
        } commit_info;
        /* sidecar / checkpointMetadata: the file name / version only. */
        const char *sidecar_path;
    } u;
} delta_action;

/* Parse a schemaString (Spark's JSON schema) into a new schema. Types:
 * string, binary, boolean, byte, short, integer, long, float, double, date,
 * timestamp, timestamp_ntz, decimal(p,s), struct, array, map. Others (void,
 * variant, interval, ...) are SD_ERR_UNSUPPORTED naming the column. */
sd_status delta_schema_parse(const char *schema_string, size_t len, sd_schema **out, sd_error *err);

/* Render a schema as a schemaString (the inverse of delta_schema_parse,
 * with empty column metadata). */
void delta_schema_format(const sd_schema *schema, sd_buf *out);

/* Render one action as its single-line JSON form (no trailing newline).
 * Absent optional fields (-1 / NULL) are omitted. */
void delta_action_format(const delta_action *a, sd_buf *out);

/* ------------------------------------------------------------------------ */
/* Protocol and table features                                              */
/* ------------------------------------------------------------------------ */

/* SD_OK when we can read a table with this protocol and metadata, else
 * SD_ERR_UNSUPPORTED naming the first feature we do not implement (e.g.
 * "columnMapping (mode name)", "v2Checkpoint", "typeWidening"). Supported
 * for reads: reader versions 1-3, columnMapping mode none, deletionVectors,
 * timestampNtz, vacuumProtocolCheck. `metadata` may be NULL. */
sd_status delta_features_check_read(const delta_protocol *p, const delta_metadata *metadata,
                                    sd_error *err);

/* The same for writing (appends, removes, txn, metadata): writer versions
 * 1-7; refuses features whose invariants we would not maintain
 * (checkConstraints, generatedColumns, identityColumns, rowTracking,
 * changeDataFeed enabled, invariants present, columnMapping name/id, ...). */
sd_status delta_features_check_write(const delta_protocol *p, const delta_metadata *metadata,
                                     sd_error *err);

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct delta_snapshot delta_snapshot;

/* One live data file of a snapshot. */
typedef struct delta_file {
    const delta_add *add;
    /* One typed value per partition column, in metaData.partitionColumns
     * order (null for an empty or absent partition value). Strings borrow
     * from the snapshot. */
    const sd_value *partition_values;
    int64_t version; /* commit that added it (checkpoint version if from one) */
} delta_file;

/* Load the table at `table_path` as of `version` (-1 = latest): the newest
 * usable checkpoint at or before it, then every commit after it. Checks the
 * protocol with delta_features_check_read(). On success *out is a new
 * snapshot owned by the caller. */
sd_status delta_snapshot_load(const char *table_path, int64_t version, delta_snapshot **out,
                              sd_error *err);
void delta_snapshot_free(delta_snapshot *s);

/* The table at `version` (-1 = latest) computed from an older snapshot
 * `old` of the same table by replaying only the commits after it - what a
 * stream needs after each micro-batch instead of a full reload. Falls back
 * to delta_snapshot_load() when a checkpoint newer than `old` exists or
 * `version` is older than `old`. `old` is not modified and may be freed
 * afterwards (the new snapshot copies what it keeps). */
sd_status delta_snapshot_update(const delta_snapshot *old, int64_t version, delta_snapshot **out,
                                sd_error *err);

const char *delta_snapshot_table_path(const delta_snapshot *s);
int64_t delta_snapshot_version(const delta_snapshot *s);
/* Commit timestamp (ms) of the snapshot's version: inCommitTimestamp when
 * logged, else the commit file's modification time; -1 when unknown (the
 * version came from a checkpoint whose commit file is gone). */
int64_t delta_snapshot_timestamp(const delta_snapshot *s);
/* The same for an earlier version replayed from a commit file, -1 if the
 * snapshot did not read that commit. */
int64_t delta_snapshot_commit_timestamp(const delta_snapshot *s, int64_t version);
const delta_protocol *delta_snapshot_protocol(const delta_snapshot *s);
const delta_metadata *delta_snapshot_metadata(const delta_snapshot *s);
const sd_schema *delta_snapshot_schema(const delta_snapshot *s);

size_t delta_snapshot_num_files(const delta_snapshot *s);
/* Files in a stable order (by path, then deletion vector id). */
const delta_file *delta_snapshot_file(const delta_snapshot *s, size_t i);
/* Number of remove tombstones carried by the snapshot (for VACUUM). */
size_t delta_snapshot_num_tombstones(const delta_snapshot *s);
const delta_remove *delta_snapshot_tombstone(const delta_snapshot *s, size_t i);

/* Latest streaming transaction version of `app_id`, or -1 if none. */
int64_t delta_snapshot_txn_version(const delta_snapshot *s, const char *app_id);
/* Every appId's latest txn action (a stream lists the offsets it recorded). */
size_t delta_snapshot_num_txns(const delta_snapshot *s);
const delta_txn *delta_snapshot_txn(const delta_snapshot *s, size_t i);
/* Configuration of a domain (NULL when absent or removed). */
const char *delta_snapshot_domain(const delta_snapshot *s, const char *domain);
/* A table property from metaData.configuration, or `dflt`. */
const char *delta_snapshot_property(const delta_snapshot *s, const char *key, const char *dflt);

/* Parse a partition value as logged (not URL-encoded) into a value of
 * `type` (per PROTOCOL.md "Partition Value Serialization"; NULL or "" is a
 * null value). Strings borrow `text`. SD_ERR_FORMAT naming the column when
 * the text does not parse as the type. */
sd_status delta_partition_value_parse(const char *column, const sd_type *type, const char *text,
                                      sd_value *out, sd_error *err);

/* Decode %XX escapes of a logged add/remove path into a file-system path
 * relative to the table (or absolute for file: URIs). Caller frees. NULL
 * and an error for malformed escapes or non-local URIs. */
char *delta_path_decode(const char *logged_path, sd_error *err);
/* Absolute file-system path of a logged path in table `table_path`. */
char *delta_path_resolve(const char *table_path, const char *logged_path, sd_error *err);

/* One commit of the table's history (`streamdelta history`). */
typedef struct delta_history_entry {
    int64_t version;
    int64_t timestamp; /* inCommitTimestamp, else commitInfo.timestamp, else file mtime */
    char *operation;   /* commitInfo.operation or NULL */
    char *commit_info; /* the commitInfo object as compact JSON, or NULL */
} delta_history_entry;

/* The newest `limit` commits (all when limit <= 0) still in the log,
 * newest first. Caller frees with delta_history_free(). Commits whose
 * files are gone (cleaned up) are simply not listed. */
sd_status delta_history_read(const char *table_path, int64_t limit, delta_history_entry **out,
                             size_t *n, sd_error *err);
void delta_history_free(delta_history_entry *entries, size_t n);

/* ------------------------------------------------------------------------ */
/* Deletion vectors                                                          */
/* ------------------------------------------------------------------------ */

/* A sorted set of deleted row indexes. */
typedef struct delta_rowset {
    uint64_t *rows;
    size_t count;
} delta_rowset;

void delta_rowset_free(delta_rowset *r);
bool delta_rowset_contains(const delta_rowset *r, uint64_t row);

/* Load the deletion vector `dv` of a file of the table at `table_path`
 * (reads the DV file for 'u'/'p', decodes inline data for 'i'), verifying
 * the checksum, the magic number and the cardinality. */
sd_status delta_dv_load(const char *table_path, const delta_dv_descriptor *dv, delta_rowset *out,
                        sd_error *err);

/* The unique id of a DV (storageType + pathOrInlineDv [+ "@" offset]);
 * together with the path it identifies a logical file. */
void delta_dv_unique_id(const delta_dv_descriptor *dv, sd_buf *out);

/* ------------------------------------------------------------------------ */
/* Writing deletion vectors (delta_dv_write.c)                               */
/* ------------------------------------------------------------------------ */

/* Append Z85 text of `len` bytes (a multiple of 4, the Z85 rule). */
void delta_z85_encode(const uint8_t *data, size_t len, sd_buf *out);

/* Append the serialized DV data of the strictly ascending row indexes
 * rows[0..n): Delta's magic number, then the portable 64-bit
 * RoaringBitmapArray (array containers for sparse blocks, bitmap
 * containers for dense ones, run containers where they are smaller, as
 * RoaringBitmap's runOptimize chooses). SD_ERR_ARG when the rows are not
 * strictly ascending or a row is >= 2^63. */
sd_status delta_dv_encode_bitmap(const uint64_t *rows, size_t n, sd_buf *out, sd_error *err);

/* Write the rows (any order, duplicates allowed) as a new DV file
 * <table>/deletion_vector_<uuid>.bin (version byte 1, big-endian size,
 * data, big-endian CRC-32) and fill *out with its descriptor: storage type
 * 'u', offset 1. out->path_or_inline_dv is allocated: release it with
 * delta_dv_descriptor_clear(). SD_ERR_IO naming the file. */
sd_status delta_dv_write(const char *table_path, const uint64_t *rows, size_t n,
                         delta_dv_descriptor *out, sd_error *err);

/* The same as an inline descriptor (storage type 'i', no offset): for
 * small sets, no file is written. */
sd_status delta_dv_inline(const uint64_t *rows, size_t n, delta_dv_descriptor *out, sd_error *err);

/* Free the text a descriptor made by delta_dv_write/inline owns. */
void delta_dv_descriptor_clear(delta_dv_descriptor *dv);

/* Absolute path of the file of a 'u' or 'p' descriptor (caller frees), or
 * NULL with an error for an inline or malformed one. */
char *delta_dv_file_path(const char *table_path, const delta_dv_descriptor *dv, sd_error *err);

/* Does the table's protocol allow deletion vectors (writer feature
 * deletionVectors), and do its properties ask for them
 * (delta.enableDeletionVectors=true)? */
bool delta_snapshot_dv_supported(const delta_snapshot *s);
bool delta_snapshot_dv_enabled(const delta_snapshot *s);

typedef struct delta_transaction delta_transaction;

/* Mark rows (physical row indexes, any order) of the live file `file` of
 * snapshot `s` deleted in transaction `t` (begun on `s`): writes a DV file
 * holding the union of the file's current DV and `rows`, then stages a
 * remove of the file (dataChange=true, with its old DV) and an add of the
 * same path with the new DV (stats kept, tightBounds=false). Nothing is
 * staged when every row is already deleted. *newly_deleted (if not NULL)
 * receives the number of rows this call deleted; *written (if not NULL) a
 * copy of the new descriptor (storage_type 0 when nothing was written;
 * release with delta_dv_descriptor_clear), so that a caller whose commit
 * fails can delete the DV file (delta_dv_file_path). SD_ERR_UNSUPPORTED when
 * the table's protocol lacks the deletionVectors writer feature; SD_ERR_ARG
 * when a row is past the file's numRecords (or the add has no numRecords,
 * which a DV requires). Mark all rows of one file in one call: a second
 * call for the same file in the same transaction would stage a second
 * add. */
sd_status delta_transaction_delete_rows(delta_transaction *t, const delta_snapshot *s,
                                        const delta_file *file, const uint64_t *rows, size_t n,
                                        int64_t *newly_deleted, delta_dv_descriptor *written,
                                        sd_error *err);

/* ------------------------------------------------------------------------ */
/* Scans                                                                     */
/* ------------------------------------------------------------------------ */

/* Files of the snapshot that may hold rows matching every predicate of
 * `preds` (a conjunction of "column op literal" on top-level columns).
 * Partition predicates are evaluated exactly on partition values; other
 * predicates use the add's stats (minValues/maxValues/nullCount), keeping
 * a file whenever the stats are absent or do not decide. Fills `out` with
 * a new array of borrowed pointers (caller frees the array). */
sd_status delta_scan_files(const delta_snapshot *s, const pq_predicate *preds, int npreds,
                           const delta_file ***out, size_t *nout, sd_error *err);

typedef struct delta_file_reader delta_file_reader;

/* Open a reader for the rows of `file` (rows deleted by its deletion
 * vector are skipped), with the columns `columns` (names, in the order
 * given; NULL = the table schema's columns in order). Partition columns
 * are filled from the partition values; columns missing from the data file
 * (added later by schema evolution) read as null. */
delta_file_reader *delta_file_reader_open(const delta_snapshot *s, const delta_file *file,
                                          const char *const *columns, int ncolumns, sd_error *err);

/* The next batch (one Parquet row group, minus deleted rows): *more is
 * false at the end (out untouched). The batch is the caller's to free. */
sd_status delta_file_reader_next(delta_file_reader *r, sd_batch *out, bool *more, sd_error *err);

/* Skip the row groups whose Parquet statistics prove that no row matches
 * every predicate of `preds` (a conjunction on top-level table columns;
 * partition columns are ignored here, delta_scan_files() handles them).
 * Predicates only prune: rows of the row groups read are not filtered.
 * Call before the first delta_file_reader_next(). SD_ERR_NOT_FOUND for an
 * unknown column, SD_ERR_ARG for a literal of an incompatible type. */
sd_status delta_file_reader_set_filter(delta_file_reader *r, const pq_predicate *preds, int npreds,
                                       sd_error *err);

/* Schema of the batches (owned by the reader). */
const sd_schema *delta_file_reader_schema(const delta_file_reader *r);
void delta_file_reader_close(delta_file_reader *r);

/* ------------------------------------------------------------------------ */
/* Transactions (writing commits)                                            */
/* ------------------------------------------------------------------------ */

/* An optimistic transaction: actions staged against a snapshot (its read
 * version), then committed as version read+1 - or, when another writer got
 * there first, as the next free version after checking that the commits
 * in between do not conflict with this one (PROTOCOL.md "Optimistic
 * Concurrency"). Conflicts, as Delta's WriteSerializable level defines
 * them:
 *  - a concurrent protocol or metaData change;
 *  - a concurrent remove of a file this transaction removes or read;
 *  - a concurrent data-changing add into the partitions this transaction
 *    read (only when it declared a read predicate or a whole-table read;
 *    blind appends never conflict with appends);
 *  - a concurrent txn action for an appId this transaction also sets;
 *  - a concurrent domainMetadata for a domain this transaction sets.
 * A commit file is written as a temporary file, then link()ed to its final
 * name, which fails if the version exists: two writers can never both
 * create version N.
 *
 * A transaction copies what it is given; the snapshot must outlive it. */
typedef struct delta_transaction delta_transaction;

/* Start a transaction; `operation` names it in commitInfo ("WRITE",
 * "MERGE", "OPTIMIZE", ...). Never fails (checks happen at commit). */
delta_transaction *delta_transaction_begin(const delta_snapshot *s, const char *operation);
void delta_transaction_free(delta_transaction *t);

/* Stage actions (copied). Removing takes a live file of the snapshot so the
 * remove carries its partition values, size and deletion vector. */
void delta_transaction_add(delta_transaction *t, const delta_add *add);
/* Stage the add of a data file the Parquet writer just produced: its size
 * and stats come from `sum` (delta_stats_from_summary), its modification
 * time is now. `logged_path` is the path as the log records it (relative
 * to the table, URL-encoded: delta_path_encode); `partition_values` may be
 * NULL for an unpartitioned table. */
void delta_transaction_add_written(delta_transaction *t, const char *logged_path,
                                   const delta_map *partition_values, const pq_file_summary *sum,
                                   bool data_change);
void delta_transaction_remove(delta_transaction *t, const delta_file *file, bool data_change);
/* Record a streaming progress marker (txn action) for `app_id`. */
void delta_transaction_set_app_version(delta_transaction *t, const char *app_id, int64_t version);
/* Stage a domainMetadata action. */
void delta_transaction_set_domain(delta_transaction *t, const char *domain,
                                  const char *configuration, bool removed);
/* Replace the table's metaData (schema, partitioning, properties), copied.
 * An id of NULL keeps the table's id; a NULL schema_string is rendered
 * from `schema`. A metadata change conflicts with every concurrent
 * data-changing commit. */
void delta_transaction_set_metadata(delta_transaction *t, const delta_metadata *m);
/* Declare what this transaction read, for conflict detection: a
 * conjunction of predicates over partition columns (copied), or the whole
 * table. Without either the transaction is a blind append. */
void delta_transaction_read_predicate(delta_transaction *t, const pq_predicate *preds, int npreds);
void delta_transaction_read_whole_table(delta_transaction *t);
/* A finer judge of concurrent data changes, for a writer that knows which
 * rows its decisions rest on (the stream's merge: the current rows of its
 * batch's keys). When set, an add (dataChange) or a remove of a concurrent
 * commit that falls inside what the transaction read is passed to it, with
 * that commit's version, and is a conflict only if it sets *conflicts.
 * Always conflicts, judge or not: a remove of a file this transaction also
 * removes, a change of protocol or metadata, of an appId or a domain this
 * transaction sets, and anything at all when this transaction changes the
 * metadata. A status other than SD_OK ends the commit with that error. */
typedef sd_status (*delta_conflict_judge)(void *opaque, const delta_action *winner, int64_t version,
                                          bool *conflicts, sd_error *err);
void delta_transaction_set_conflict_judge(delta_transaction *t, delta_conflict_judge judge,
                                          void *opaque);
/* JSON object text for commitInfo.operationParameters (default {}). */
void delta_transaction_set_operation_parameters(delta_transaction *t, const char *json_object);
/* JSON object text for commitInfo.operationMetrics (values as strings, as
 * Spark logs them); default {"numAddedFiles":"N","numRemovedFiles":"N"}. */
void delta_transaction_set_operation_metrics(delta_transaction *t, const char *json_object);

/* Commit, retrying on lost races up to `max_retries` times. On success
 * *version (if not NULL) is the committed version. SD_ERR_CONFLICT with a
 * message naming the conflicting version and the reason when a logical
 * conflict is found or retries run out; SD_ERR_UNSUPPORTED when the table
 * needs a writer feature we do not implement; SD_ERR_IO on file-system
 * errors. The transaction may not be committed twice. */
sd_status delta_transaction_commit(delta_transaction *t, int max_retries, int64_t *version,
                                   sd_error *err);

/* Create a table at `path` (directories created as needed): version 0 with
 * commitInfo (CREATE TABLE), protocol (1,2) - (3,7) with timestampNtz when
 * the schema has timestamp_ntz columns, and with deletionVectors (reader
 * and writer feature) when the configuration has
 * delta.enableDeletionVectors=true; a (3,7) table's writer features also
 * list appendOnly and invariants, which version 2 implied - and metaData
 * (a new random id, schemaString, partitionColumns, configuration,
 * createdTime).
 * SD_ERR_EXISTS if the table already has a version 0; SD_ERR_ARG when a
 * partition column is not a top-level primitive column of the schema. */
sd_status delta_table_create(const char *path, const sd_schema *schema,
                             const char *const *partition_columns, int npartition_columns,
                             const delta_map *configuration, sd_error *err);

/* ------------------------------------------------------------------------ */
/* Describing new data files (writers)                                       */
/* ------------------------------------------------------------------------ */

/* Append the add.stats JSON of a file the Parquet writer produced:
 * {"numRecords":N,"minValues":{...},"maxValues":{...},"nullCount":{...}}
 * with nested structs as nested objects, nothing for columns inside arrays
 * and maps, no min/max for booleans, binaries and non-finite floats,
 * strings cut to 32 characters (a cut max is left out) and timestamps in
 * milliseconds - what Spark's Delta writer records. */
void delta_stats_from_summary(const pq_file_summary *sum, sd_buf *out);

/* Append a partition value in the log's text form (dates "YYYY-MM-DD",
 * timestamps "YYYY-MM-DD HH:MM:SS[.ffffff]", decimals exact, booleans
 * true/false, strings raw). Nothing for null: log a JSON null instead. */
void delta_partition_value_format(const sd_value *v, sd_buf *out);

/* Append the Hive-style directory of a partition, "col=value/" per column
 * (special characters escaped as %XX the way Spark does, null or empty as
 * __HIVE_DEFAULT_PARTITION__). This is a file-system path: log it in
 * add.path through delta_path_encode(). */
void delta_partition_dir(const char *const *columns, const sd_value *values, size_t n, sd_buf *out);

/* Append the name Spark gives a new data file,
 * "part-00000-<random uuid>-c000.snappy.parquet" (unique: writers never
 * overwrite each other's files). */
void delta_data_file_name(sd_buf *out);

/* Append a relative file-system path URL-encoded for add.path / remove.path
 * (the inverse of delta_path_decode: "%" becomes "%25", " " "%20"). */
void delta_path_encode(const char *path, sd_buf *out);

/* ------------------------------------------------------------------------ */
/* Checkpoints                                                               */
/* ------------------------------------------------------------------------ */

/* Write a classic single-file checkpoint of `s` at its version
 * (_delta_log/N.checkpoint.parquet, the schema Spark writes) and point
 * _last_checkpoint at it. Remove tombstones older than
 * delta.deletedFileRetentionDuration (default 1 week) are left out. Both
 * files appear atomically (temporary name, then rename). Writers call this
 * when version % delta.checkpointInterval (default 10) == 0. */
sd_status delta_checkpoint_write(const delta_snapshot *s, sd_error *err);

/* delta.checkpointInterval (default 10): write a checkpoint after committing
 * a version that is a multiple of it. */
int delta_snapshot_checkpoint_interval(const delta_snapshot *s);

/* delta.deletedFileRetentionDuration in milliseconds ("interval 1 week",
 * "7 days", ...; the default 1 week when absent or unparsable). */
int64_t delta_tombstone_retention_ms(const delta_snapshot *s);

/* Delete log files no longer needed to read any version within the log
 * retention (delta.logRetentionDuration, default 30 days): commits, their
 * .crc files and checkpoints of versions below the newest checkpoint at or
 * before the snapshot's version, whose files were last modified before
 * now_ms minus the retention. Only a prefix of the log is deleted, so no
 * gap can appear. *deleted (if not NULL) receives the number of files
 * removed. Versions before the kept checkpoint can no longer be read
 * (time travel), as in Delta. Temporary commit files (".tmp-*.json") older
 * than an hour, left by writers killed between writing and linking a
 * commit, are removed too. */
sd_status delta_log_cleanup(const delta_snapshot *s, int64_t now_ms, size_t *deleted,
                            sd_error *err);

/* ------------------------------------------------------------------------ */
/* Maintenance: OPTIMIZE (delta_optimize.c) and VACUUM (delta_vacuum.c)      */
/* ------------------------------------------------------------------------ */

typedef struct delta_optimize_options {
    /* Partition predicates (a conjunction on partition columns; NULL/0 =
     * every partition) and their text for commitInfo's "predicate". */
    const pq_predicate *preds;
    int npreds;
    const char *predicate_text;
    int64_t target_size; /* bytes; files smaller are compacted (default 256 MiB) */
    int min_files;       /* fewest small files in a partition worth compacting (default 2) */
    int max_retries;     /* commit retries on lost races (default 10) */
    /* Most input bytes rewritten in this run (0 = no limit): candidates are
     * taken in partition and path order until the next would pass it, so
     * auto-compaction in a stream bounds its work per micro-batch. */
    int64_t max_bytes;
    bool auto_compact; /* record "auto":true in commitInfo, as Delta's auto compaction */
} delta_optimize_options;

typedef struct delta_optimize_metrics {
    int64_t version; /* committed version, -1 when there was nothing to do */
    int64_t num_files_added, num_files_removed;
    int64_t bytes_added, bytes_removed;
    int64_t min_added, max_added, min_removed, max_removed; /* file sizes, 0 when none */
    int64_t partitions_optimized;
    int64_t num_batches;            /* bins written */
    int64_t total_considered_files; /* live files in the selected partitions */
    int64_t total_files_skipped;    /* of those, left as they are */
    int64_t rows_written;
    int64_t num_dvs_removed; /* rewritten files that had deletion vectors */
    int64_t start_ms, end_ms;
} delta_optimize_metrics;

/* Compact the snapshot's table, as Delta's OPTIMIZE (bin-packing): in each
 * partition selected by the predicates, the files smaller than the target
 * and the files with deletion vectors are read (deleted rows dropped) in
 * path order and rewritten into new files, a new file being closed once the
 * input bytes packed into it reach the target; a partition with fewer than
 * min_files such files (and none with a deletion vector) is left alone.
 * One commit removes the old files and adds the new ones, all with
 * dataChange=false, commitInfo operation "OPTIMIZE" with Spark's
 * operationParameters and operationMetrics. What it read is exactly what
 * it removes, so a concurrent commit that removed or rewrote one of those
 * files makes this commit fail with SD_ERR_CONFLICT (the new files are then
 * deleted and the table is unchanged; running again works), while
 * concurrent blind appends do not. The predicates may only use partition
 * columns (SD_ERR_ARG otherwise). `o` may be NULL for the defaults. Fills
 * *m in every case; m->version is -1 when nothing needed compacting. */
sd_status delta_optimize(const delta_snapshot *s, const delta_optimize_options *o,
                         delta_optimize_metrics *m, sd_error *err);

/* One file VACUUM would delete: path relative to the table directory. */
typedef struct delta_vacuum_file {
    char *path;
    int64_t size;
    bool tombstoned; /* removed by a (now expired) remove action */
} delta_vacuum_file;

typedef struct delta_vacuum_plan {
    delta_vacuum_file *files; /* sorted by path */
    size_t count;
    int64_t total_bytes;
    size_t num_dirs;      /* directories scanned, the table directory included */
    int64_t retention_ms; /* the retention applied */
    int64_t default_retention_ms;
} delta_vacuum_plan;

/* What VACUUM would delete from the snapshot's table at time now_ms:
 * files under the table directory (never in _delta_log; names starting
 * with '_' or '.' are skipped unless they are partition directories
 * "col=...") that the snapshot does not reference (data files and
 * deletion-vector files of live files) and that are either removed by a
 * tombstone whose deletionTimestamp is before now_ms - retention_ms, or
 * never referenced by a tombstone and last modified before it. Files of
 * tombstones within the retention are kept (time travel needs them).
 * retention_ms < 0 means the table's delta.deletedFileRetentionDuration.
 * A retention shorter than that is SD_ERR_ARG unless `force`. */
sd_status delta_vacuum_plan_make(const delta_snapshot *s, int64_t retention_ms, bool force,
                                 int64_t now_ms, delta_vacuum_plan *out, sd_error *err);
void delta_vacuum_plan_free(delta_vacuum_plan *p);

/* Carry out a plan: commit "VACUUM START" (numFilesToDelete,
 * sizeOfDataToDelete), delete the files, commit "VACUUM END"
 * (numDeletedFiles, numVacuumedDirectories). Both commits hold only
 * commitInfo. *deleted (if not NULL) receives the number of files deleted;
 * a file already gone counts as deleted. */
sd_status delta_vacuum_execute(const delta_snapshot *s, const delta_vacuum_plan *p, size_t *deleted,
                               sd_error *err);

#endif /* SD_DELTA_H */
