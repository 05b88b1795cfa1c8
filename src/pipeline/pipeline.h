/*
 * pipeline.h - the micro-batch engine of DESIGN.md ("The default pipeline")
 * and what surrounds it.
 *
 * This header so far holds the test-event generator behind `streamdelta
 * produce`: movie-rating events with exact shares of duplicates, updates
 * and late events, reproducible from a seed.
 */
#ifndef SD_PIPELINE_H
#define SD_PIPELINE_H

#include <stdio.h>

#include "../util/util.h"

/* ------------------------------------------------------------------------ */
/* Test events (pipe_testgen.c)                                              */
/* ------------------------------------------------------------------------ */

typedef enum pipe_gen_kind {
    PIPE_GEN_NEW,       /* a new event_id, timestamp within the last minute */
    PIPE_GEN_DUPLICATE, /* an exact redelivery of an earlier event */
    PIPE_GEN_UPDATE,    /* an earlier event_id with a newer timestamp and new rating */
    PIPE_GEN_LATE,      /* a new event_id, timestamp 6 to 30 days old */
} pipe_gen_kind;

/* One movie-rating event (DESIGN.md's Avro schema). */
typedef struct pipe_gen_event {
    pipe_gen_kind kind;
    char event_id[SD_UUID_TEXT_SIZE]; /* UUIDs, NUL-terminated */
    char user_id[SD_UUID_TEXT_SIZE];
    char movie_id[SD_UUID_TEXT_SIZE];
    float rating;             /* 0.0 .. 10.0, one decimal */
    int64_t rating_timestamp; /* epoch seconds */
} pipe_gen_event;

typedef struct pipe_gen_options {
    uint64_t seed;
    int64_t count;     /* events in all; 0 = unbounded (shares then hold on average) */
    double duplicates; /* shares, 0 <= each, sum < 1 */
    double updates;
    double late;
    int64_t users;  /* distinct user ids (default 10000) */
    int64_t movies; /* distinct movie ids (default 1000) */
} pipe_gen_options;

typedef struct pipe_gen pipe_gen;

/* A generator. With count > 0 the shares are exact: round(count * share)
 * events of each kind, placed at random (the first event is always new).
 * SD_ERR_ARG for shares outside [0, 1) or summing to 1 or more. */
pipe_gen *pipe_gen_new(const pipe_gen_options *opts, sd_error *err);

/* The next event, timestamps relative to now_s (epoch seconds). False when
 * `count` events were generated. */
bool pipe_gen_next(pipe_gen *g, int64_t now_s, pipe_gen_event *ev);

void pipe_gen_free(pipe_gen *g);

/* The movie-ratings Avro value schema of DESIGN.md (record
 * io.movies.MovieRating), as registered by `produce`. */
extern const char pipe_movie_rating_schema[];

/* Append the Avro binary body of `ev` in that schema (no wire header). */
void pipe_gen_encode(const pipe_gen_event *ev, sd_buf *out);

/* ------------------------------------------------------------------------ */
/* Derived-column expressions (pipe_expr.c: parse and type-check,            */
/* pipe_eval.c: vectorised evaluation)                                       */
/* ------------------------------------------------------------------------ */

/*
 * A small SQL-like language for the [derive] section of the configuration:
 * `is_approved = rating >= 7`, `rating_date = to_date(rating_timestamp)`.
 *
 * Grammar (keywords and function names are case-insensitive):
 *
 *   expr     := or
 *   or       := and ( OR and )*
 *   and      := not ( AND not )*
 *   not      := NOT not | cmp
 *   cmp      := add ( cmpop add | IS [NOT] NULL )*
 *   cmpop    := = | == | != | <> | < | <= | > | >=
 *   add      := mul ( ( + | - ) mul )*
 *   mul      := unary ( ( * | / | % ) unary )*
 *   unary    := - unary | + unary | primary
 *   primary  := INTEGER | DECIMAL | 'string' | TRUE | FALSE | NULL
 *             | DATE 'YYYY-MM-DD' | TIMESTAMP 'YYYY-MM-DD HH:MM:SS[.ffffff]'
 *             | name | `any name` | ( expr )
 *             | CAST ( expr AS type ) | function ( [ expr ( , expr )* ] )
 *   type     := int | integer | long | bigint | float | real | double
 *             | string | date | timestamp | boolean | bool
 *
 * Literals: an integer is an int when it fits 32 bits, else a long (beyond
 * 64 bits it is an error); a number with '.' or an exponent is a double
 * (Spark would make 1.5 a decimal; we have no decimal arithmetic). Strings
 * use '' for a quote. Names are column names of the input schema: an exact
 * match first, else the only case-insensitive match; backquotes (`` for a
 * backquote) allow any name, keywords included.
 *
 * Types follow Spark SQL (non-ANSI mode):
 *  - numbers promote int -> long -> float -> double (byte/short act as int,
 *    decimal columns as double); comparisons work between any numbers;
 *  - `/` always gives a double; x / 0 and x % 0 give null;
 *    integer overflow wraps; float-to-integer conversions saturate (NaN 0);
 *  - date + n and date - n (n an integer) give a date n days later/earlier;
 *  - comparisons also between strings (bytewise), booleans, dates and
 *    timestamps (a date compares as its midnight); a string compared with a
 *    date or timestamp is converted to it (rating_date >= '2024-01-01');
 *    NaN equals NaN and is greater than every other number; a string and
 *    a number are not compared implicitly (write a cast);
 *  - null: a comparison or arithmetic with a null operand is null; AND/OR
 *    are three-valued (false AND null = false, true OR null = true);
 *    `x IS NULL` is never null. A bare NULL takes its type from the context.
 *
 * Functions:
 *   to_date(x)             x epoch seconds (integer or double) -> DATE (UTC day,
 *                          floor, so -1 is 1969-12-31); also timestamp or
 *                          'YYYY-MM-DD' string -> DATE
 *   from_unixtime(s)       epoch seconds -> TIMESTAMP (Spark returns a string here)
 *   to_timestamp_millis(ms) epoch milliseconds -> TIMESTAMP
 *   cast(x as type)        Spark's casts; a string that does not parse -> null;
 *                          numbers <-> timestamp are epoch seconds
 *   coalesce(a, b, ...)    first non-null, arguments promoted to one type
 *   lower(s), upper(s)     ASCII letters only; other UTF-8 passes through
 *   length(s)              characters (UTF-8 code points) -> int
 *   abs(x)                 same numeric type
 *   floor(x)               -> long
 *   round(x[, d])          half away from zero at d digits (default 0, d an
 *                          integer literal, may be negative); same type as x;
 *                          on the shortest decimal text of a double, as Spark's
 *                          BigDecimal does: round(2.675, 2) = 2.68
 *
 * Limits: nesting (parentheses, unary operators, calls) 64 deep, 1000 nodes,
 * 64 arguments. Parsing and evaluation keep no global state: one tree may be
 * evaluated by several threads at once.
 *
 * Errors (SD_ERR_ARG) name the expression and the byte offset of the
 * offending token: "expression 'rating >= x', offset 10: unknown column 'x'
 * (columns: ...)".
 */

/* Node kinds of a checked expression tree. */
typedef enum pipe_expr_op {
    PIPE_EXPR_LITERAL,
    PIPE_EXPR_COLUMN,
    PIPE_EXPR_NEG,
    PIPE_EXPR_NOT,
    PIPE_EXPR_IS_NULL,
    PIPE_EXPR_IS_NOT_NULL,
    PIPE_EXPR_AND,
    PIPE_EXPR_OR,
    PIPE_EXPR_EQ,
    PIPE_EXPR_NE,
    PIPE_EXPR_LT,
    PIPE_EXPR_LE,
    PIPE_EXPR_GT,
    PIPE_EXPR_GE,
    PIPE_EXPR_ADD,
    PIPE_EXPR_SUB,
    PIPE_EXPR_MUL,
    PIPE_EXPR_DIV,
    PIPE_EXPR_MOD,
    PIPE_EXPR_CAST, /* explicit, or inserted by the type checker to promote */
    PIPE_EXPR_TO_DATE,
    PIPE_EXPR_FROM_UNIXTIME,
    PIPE_EXPR_TO_TIMESTAMP_MILLIS,
    PIPE_EXPR_COALESCE,
    PIPE_EXPR_LOWER,
    PIPE_EXPR_UPPER,
    PIPE_EXPR_LENGTH,
    PIPE_EXPR_ABS,
    PIPE_EXPR_FLOOR,
    PIPE_EXPR_ROUND, /* digits in `digits` */
} pipe_expr_op;

/* A checked expression node. Read-only for callers: build with
 * pipe_expr_parse(), free the root with pipe_expr_free(). Operands of a
 * binary operator already have one common type (promotion inserted CAST
 * nodes), and constant sub-expressions are folded into literals. */
typedef struct pipe_expr pipe_expr;
struct pipe_expr {
    pipe_expr_op op;
    sd_type type;      /* result type: always a primitive kind */
    size_t offset;     /* byte offset of the node's token in the source text */
    int column;        /* PIPE_EXPR_COLUMN: index in the schema */
    int digits;        /* PIPE_EXPR_ROUND */
    bool untyped_null; /* a NULL literal whose type no context decided yet */
    sd_value value;    /* PIPE_EXPR_LITERAL (owns its string bytes) */
    int nargs;
    pipe_expr **args;
};

/* Parse `text` and check it against the columns of `schema` (a struct type;
 * only top-level primitive columns can be referenced). Returns the tree, or
 * NULL with err naming the expression, the byte offset and the problem
 * (syntax, unknown column or function, type mismatch, bad literal, nesting
 * deeper than 64). The tree does not keep `text` or `schema`. */
pipe_expr *pipe_expr_parse(const char *text, const sd_schema *schema, sd_error *err);

void pipe_expr_free(pipe_expr *e);

/* Evaluate `e` over every row of `batch` (whose columns must have the kinds
 * of the schema `e` was checked against) into `out`, which this call
 * initialises: a new column of e->type and batch->nrows rows. out->type
 * points into `e`, so `e` must outlive `out`; free out with sd_column_free().
 * One pass over whole columns per node; no allocation per row. SD_ERR_ARG
 * when the batch does not match the expression's columns. */
sd_status pipe_expr_eval(const pipe_expr *e, const sd_batch *batch, sd_column *out, sd_error *err);

/* ------------------------------------------------------------------------ */
/* Pipeline configuration (pipe_config.c)                                    */
/* ------------------------------------------------------------------------ */

/*
 * The INI file of `streamdelta run --config FILE`, with `--set
 * section.key=value` overrides on top; without a file the built-in
 * defaults are the movie-ratings pipeline of DESIGN.md. One table in
 * pipe_config.c describes every key (type, default, help) and drives
 * parsing, validation, defaults, pipe_config_format() and the help text.
 *
 * File syntax: `[section]` lines, `key = value` lines, comments from `;` or
 * `#` at the start of a line, after a blank or right after the `=`
 * (outside '...' and `...`),
 * blank lines. Values are trimmed. Durations are an integer and a unit:
 * 500ms, 10s, 5m, 1h. Booleans: true/false, yes/no, on/off, 1/0.
 *
 * Sections: [source] [sink] [derive] [columns] [trigger] [dead_letter]
 * [progress] (see pipe_config_help() for the keys). [source] also takes
 * `kafka.<librdkafka property> = value`, passed through to librdkafka.
 * [derive] holds `column = expression` lines in order; a file with a
 * [derive] section replaces the built-in derived columns.
 */

typedef enum pipe_start_offsets {
    PIPE_START_EARLIEST,
    PIPE_START_LATEST,
} pipe_start_offsets;

typedef enum pipe_trigger_mode {
    PIPE_TRIGGER_FAST,          /* next micro-batch as soon as the last one committed */
    PIPE_TRIGGER_INTERVAL,      /* one micro-batch every `interval` */
    PIPE_TRIGGER_AVAILABLE_NOW, /* drain what is in the topic at start, then stop */
} pipe_trigger_mode;

/* sink.auto_compact: whether the stream compacts small files after its
 * commits (Delta's delta.autoOptimize.autoCompact). */
typedef enum pipe_auto_compact_mode {
    PIPE_COMPACT_TABLE, /* as the table's delta.autoOptimize.autoCompact says (off when unset) */
    PIPE_COMPACT_ON,
    PIPE_COMPACT_OFF,
} pipe_auto_compact_mode;

typedef enum pipe_dead_letter_mode {
    PIPE_DLQ_FILE,  /* JSON lines appended to `path` */
    PIPE_DLQ_TOPIC, /* produced to a Kafka topic */
    PIPE_DLQ_NONE,  /* counted only */
} pipe_dead_letter_mode;

/* A passed-through librdkafka property or a derived column. */
typedef struct pipe_config_pair {
    char *name;
    char *value;
    int line; /* line in cfg->file, 0 when from the defaults or an override */
} pipe_config_pair;

/* Number of keys in the table (the size of pipe_config.line). */
#define PIPE_CONFIG_NKEYS 25

/* The effective configuration. Strings are owned (never NULL; "" = unset). */
typedef struct pipe_config {
    /* [source] */
    char *topic;
    char *bootstrap_servers;
    char *schema_registry;
    char *subject; /* "" = "<topic>-value" */
    pipe_start_offsets starting_offsets;
    int nkafka;
    pipe_config_pair *kafka; /* name without the "kafka." prefix */
    /* [sink] */
    char *table;
    char *key;
    char *partition_by; /* "" = not partitioned */
    char *order_by;     /* newest (largest) wins when keys repeat */
    int64_t late_days;
    bool deletion_vectors;
    pipe_auto_compact_mode auto_compact;
    int64_t auto_compact_min_files;   /* small files in a partition that trigger it */
    int64_t auto_compact_target_size; /* bytes; smaller files are "small" */
    int64_t auto_compact_max_bytes;   /* most bytes rewritten after one micro-batch */
    /* [derive] */
    int nderive;
    pipe_config_pair *derive; /* column name = expression text, in order */
    /* [columns] */
    int norder;
    char **order; /* output column order; empty = input columns then derived */
    /* [trigger] */
    pipe_trigger_mode trigger;
    int64_t interval_ms;
    int64_t max_batch_records;
    int64_t max_batch_wait_ms;
    int64_t give_up_after_ms; /* 0 = retry transient errors forever */
    /* [dead_letter] */
    pipe_dead_letter_mode dead_letter;
    char *dead_letter_path;
    char *dead_letter_topic;
    /* [progress] */
    char *progress_json; /* "" = off, "-" = stdout, else a file path */
    /* Where each table key was last set: line in `file`, 0 for defaults,
     * -1 for a pipe_config_set() override. */
    char *file;
    int line[PIPE_CONFIG_NKEYS];
} pipe_config;

/* Fill `cfg` with the built-in defaults (the movie-ratings pipeline). */
void pipe_config_init(pipe_config *cfg);
void pipe_config_free(pipe_config *cfg);

/* Read the INI file `path` over what `cfg` holds, then validate. Errors
 * (SD_ERR_ARG, or SD_ERR_IO when unreadable) name "path:line" and the key. */
sd_status pipe_config_load(pipe_config *cfg, const char *path, sd_error *err);

/* The same from memory; `name` is used in messages. */
sd_status pipe_config_parse(pipe_config *cfg, const char *text, size_t len, const char *name,
                            sd_error *err);

/* One override, "section.key" = value (e.g. "sink.late_days", "3";
 * "source.kafka.security.protocol", "SSL"; "derive.col", "expr", an empty
 * expression removes the derived column). Does not re-validate the whole
 * configuration: call pipe_config_validate() after the last override. */
sd_status pipe_config_set(pipe_config *cfg, const char *name, const char *value, sd_error *err);

/* Was "section.key" (a key of the table) set by the file or an override,
 * rather than left at its default? */
bool pipe_config_is_set(const pipe_config *cfg, const char *name);

/* Cross-key checks: required values present, dead-letter mode has its
 * path/topic, interval trigger has an interval, no column twice in
 * [columns] order. */
sd_status pipe_config_validate(const pipe_config *cfg, sd_error *err);

/* The effective configuration as INI text that pipe_config_parse() reads
 * back to the same configuration. */
void pipe_config_format(const pipe_config *cfg, sd_buf *out);

/* Every key with its type, default and description (for --help). */
void pipe_config_help(sd_buf *out);

/* Parse a duration "500ms", "10s", "5m", "1h" (or "0") into milliseconds. */
bool pipe_parse_duration(const char *s, int64_t *ms);

/* ------------------------------------------------------------------------ */
/* Derived columns of a configuration (compile: pipe_config.c, apply:       */
/* pipe_eval.c) - the "transform" step of a micro-batch                      */
/* ------------------------------------------------------------------------ */

/* The [derive] expressions of a configuration checked against the input
 * (decoded) schema, and the output schema in [columns] order. Each derived
 * expression sees the input columns and the derived columns before it. */
typedef struct pipe_derive_plan {
    int ninput;
    int nderive;
    sd_schema *extended; /* input columns, then one per derived column */
    pipe_expr **exprs;   /* exprs[k] computes extended column ninput + k */
    sd_schema *output;   /* the table's columns */
    int *source;         /* output column i is extended column source[i] */
} pipe_derive_plan;

/* Compile cfg's derivations for `input`. Errors (SD_ERR_ARG) name where the
 * value came from ("cfg.ini:12: derive.rating_date: expression '...',
 * offset 8: unknown column ..."): an expression error, a derived column with
 * the name of an input column, a [columns] name that is neither, or a sink
 * key/partition/order column missing from the output. */
sd_status pipe_derive_compile(const pipe_config *cfg, const sd_schema *input,
                              pipe_derive_plan **out, sd_error *err);

void pipe_derive_free(pipe_derive_plan *plan);

/* Evaluate the derivations over `in` (a batch of the input schema) and fill
 * `out`, which this call initialises as a batch of plan->output: input
 * columns are moved out of `in` (left empty but reusable), derived columns
 * are new. Free `out` with sd_batch_free(); `plan` must outlive it. */
sd_status pipe_derive_apply(const pipe_derive_plan *plan, sd_batch *in, sd_batch *out,
                            sd_error *err);

/* ------------------------------------------------------------------------ */
/* MERGE into the table (pipe_merge.c)                                       */
/* ------------------------------------------------------------------------ */

/* The upsert of DESIGN.md step 5: rows whose key is in the table (within
 * the window of partitions >= today - late_days) and whose order column is
 * not older replace the old row; new keys are inserted; an exact copy of
 * the stored row changes nothing. Updates rewrite the files that held the
 * old rows (copy-on-write). An index from key to (file, row) for the
 * partitions inside the window is built when the merger opens and kept up
 * to date by every commit; another writer's commit (seen on a lost race)
 * is folded in before the merge is redone. */
typedef struct pipe_merge pipe_merge;

typedef struct pipe_merge_stats {
    int64_t inserted;  /* new keys */
    int64_t updated;   /* existing keys whose row changed */
    int64_t unchanged; /* rows equal to, or older than, what the table has */
    int64_t files_added, files_removed;
    int64_t bytes_added, bytes_removed;
    int64_t version; /* the commit's version; -1 when nothing was committed */
    int retries;     /* lost races that were retried */
    /* Where the time went, over every attempt: planning (key lookups,
     * reading the files that hold updated keys, building the new rows),
     * writing Parquet and deletion-vector files, and committing (the log
     * entry, conflict checks, the new snapshot and index, a checkpoint). */
    int64_t plan_ns, write_ns, commit_ns;
    /* Non-fatal trouble after a durable commit (a checkpoint that could not
     * be written, an index refresh that failed): "" when none. */
    char warning[SD_ERROR_MSG_MAX];
} pipe_merge_stats;

/* Open the table at cfg->table (it must exist; its schema must equal
 * `schema`, the pipeline's output schema) and build the key index.
 * SD_ERR_NOT_FOUND when the table is missing, SD_ERR_ARG on a schema
 * mismatch (naming the first difference). */
pipe_merge *pipe_merge_open(const pipe_config *cfg, const sd_schema *schema, int64_t today_days,
                            sd_error *err);

/* The offsets the table records for `topic`: for each partition with a txn
 * action of appId "<app_prefix><topic>-<partition>", the next offset to
 * read. Returns how many were filled (at most max). */
int pipe_merge_offsets(const pipe_merge *m, const char *app_prefix, const char *topic,
                       int32_t *partitions, int64_t *next_offsets, int max);

/* Merge `rows` (schema as opened; at most one row per key, already
 * deduplicated and filtered of late rows) and record next_offsets[i] for
 * partitions[i] of `topic` as txn actions (appId as above, version = the
 * next offset), all in one Delta commit. `today_days` moves the window.
 * An empty `rows` with offsets still commits the offsets. Lost races are
 * retried; a logical conflict (another writer recorded a newer offset for
 * one of these partitions, or removed a file this merge rewrites and the
 * retry budget is spent) is SD_ERR_CONFLICT and nothing is committed. */
sd_status pipe_merge_commit(pipe_merge *m, const sd_batch *rows, const char *app_prefix,
                            const char *topic, const int32_t *partitions,
                            const int64_t *next_offsets, int npartitions, int64_t today_days,
                            pipe_merge_stats *stats, sd_error *err);

/* What one auto-compaction did (pipe_merge_auto_compact). */
typedef struct pipe_compact_stats {
    int64_t version; /* the OPTIMIZE commit; -1 when nothing was compacted */
    int64_t files_removed, files_added;
    int64_t bytes_removed, bytes_added;
    /* Why compaction gave up (a concurrent writer removed one of its files,
     * an I/O error): "" when it did not. The stream's own commit is never
     * affected. */
    char warning[SD_ERROR_MSG_MAX];
} pipe_compact_stats;

/* Auto-compaction after a stream commit (Delta's
 * delta.autoOptimize.autoCompact; on when cfg->auto_compact says so, or it
 * is PIPE_COMPACT_TABLE and the table property is true): when a partition
 * of the window holds at least auto_compact_min_files files smaller than
 * auto_compact_target_size (or with deletion vectors), that one partition -
 * the one with the most - is bin-packed as OPTIMIZE does (dataChange=false,
 * commitInfo "OPTIMIZE" with auto=true), rewriting at most
 * auto_compact_max_bytes, so one call costs about one micro-batch at most.
 * The compaction commit is folded into the key index like another
 * writer's. A conflict with a concurrent writer or any other failure is not
 * an error: nothing is committed and stats->warning says why. */
void pipe_merge_auto_compact(pipe_merge *m, pipe_compact_stats *stats);

void pipe_merge_close(pipe_merge *m);

/* Introspection of the key index (tests, progress): the number of keys
 * indexed, and where one key is - the logged add.path of its file, its row
 * among the file's live rows, and its order value as the index orders it
 * (integers, dates and timestamps as themselves). False when absent. */
int64_t pipe_merge_index_keys(const pipe_merge *m);
bool pipe_merge_index_get(const pipe_merge *m, const void *key, size_t len, const char **path,
                          int64_t *row, int64_t *order);

/* ------------------------------------------------------------------------ */
/* Late filter and in-batch dedupe (pipe_dedupe.c)                           */
/* ------------------------------------------------------------------------ */

/* Where a decoded row came from: kept beside the batch, one per row, so
 * ties between duplicates go to the later Kafka offset. */
typedef struct pipe_row_origin {
    int32_t partition;
    int64_t offset;
} pipe_row_origin;

/* Keep the rows of `rows` whose keep[i] is non-zero, in order, compacting
 * every column (nested ones too) in place, and `origins` with them (may be
 * NULL). Returns the number of rows kept. */
size_t pipe_batch_keep(sd_batch *rows, const uint8_t *keep, pipe_row_origin *origins);

/* DESIGN.md step 3: drop rows whose column `date_col` (a DATE, or a
 * TIMESTAMP taken as its UTC day) is before min_day (days since epoch).
 * Nulls are kept. *dropped = rows removed. SD_ERR_ARG when the column is
 * of another kind. */
sd_status pipe_late_filter(sd_batch *rows, int date_col, int64_t min_day, pipe_row_origin *origins,
                           int64_t *dropped, sd_error *err);

/* DESIGN.md step 4: keep one row per value of column `key_col` (a
 * primitive column): the one with the largest `order_col` (-1 = none;
 * nulls lose), ties to the later Kafka offset (origins may be NULL: then
 * the later row). Rows with a null key are all kept. Survivors keep their
 * order. *dropped = rows removed. SD_ERR_ARG for a nested key column. */
sd_status pipe_dedupe(sd_batch *rows, int key_col, int order_col, pipe_row_origin *origins,
                      int64_t *dropped, sd_error *err);

/* Steps 3 and 4 together, compacting the batch once: the result of
 * pipe_late_filter (skipped when date_col < 0) followed by pipe_dedupe.
 * *late (may be NULL) and *dropped count the rows each step removed. */
sd_status pipe_late_dedupe(sd_batch *rows, int date_col, int64_t min_day, int key_col,
                           int order_col, pipe_row_origin *origins, int64_t *late, int64_t *dropped,
                           sd_error *err);

/* ------------------------------------------------------------------------ */
/* Progress of micro-batches (pipe_progress.c)                               */
/* ------------------------------------------------------------------------ */

/* Most partitions one progress report lists. */
#define PIPE_PROGRESS_MAX_PARTITIONS 1024

/* What one micro-batch did, as Spark's StreamingQueryProgress reports it
 * (plus the counts of our steps). Durations in milliseconds. */
typedef struct pipe_progress {
    char run_id[SD_UUID_TEXT_SIZE];
    int64_t batch_id;
    int64_t timestamp_ms; /* wall clock at the batch's start */
    const char *topic;    /* borrowed */
    /* How the source reads, for Spark's sources[].description: "Assign",
     * "Subscribe" (group mode) or "AvroFile" (run --from-avro). */
    const char *source_kind;
    const char *table;           /* borrowed */
    int64_t input_rows;          /* messages fetched */
    double input_rows_per_s;     /* input rows / time since the previous batch started */
    double processed_rows_per_s; /* input rows / this batch's duration */
    int64_t fetch_ms, decode_ms, transform_ms, dead_letter_ms, total_ms;
    /* The merge step (pipe_merge_commit): all of it, and its parts. */
    int64_t merge_ms, merge_plan_ms, merge_write_ms, merge_commit_ms;
    int64_t dead_lettered, late, deduplicated; /* rows removed before the merge */
    int64_t inserted, updated, unchanged;      /* from the merge */
    int64_t files_added, files_removed, bytes_added;
    int64_t output_rows;   /* rows handed to the merge */
    int64_t table_version; /* -1 when nothing was committed */
    /* Auto-compaction after the commit (pipe_merge_auto_compact). */
    int64_t compact_ms, compact_files_removed, compact_files_added;
    int64_t compact_version; /* -1 when nothing was compacted */
    int npartitions;
    int32_t partitions[PIPE_PROGRESS_MAX_PARTITIONS];
    int64_t start_offsets[PIPE_PROGRESS_MAX_PARTITIONS]; /* first offset read (-1 unknown) */
    int64_t end_offsets[PIPE_PROGRESS_MAX_PARTITIONS];   /* next offset to read */
} pipe_progress;

/* One human line (no newline): "batch 3: 10000 rows in ..." */
void pipe_progress_format_human(const pipe_progress *p, sd_buf *out);
/* One JSON object (no newline) with Spark's StreamingQueryProgress fields
 * (id, runId, name, timestamp, batchId, numInputRows, inputRowsPerSecond,
 * processedRowsPerSecond, durationMs, sources, sink) and ours under
 * "streamdelta". */
void pipe_progress_format_json(const pipe_progress *p, sd_buf *out);

/* ------------------------------------------------------------------------ */
/* The stream engine (pipe_engine.c)                                         */
/* ------------------------------------------------------------------------ */

/* The micro-batch loop of DESIGN.md as a library:
 *
 *   pipe_engine *e = pipe_engine_new(&cfg, &opts, &err);
 *   bool done = false;
 *   while (!done && st == SD_OK) st = pipe_engine_run_batch(e, &done, &err);
 *   pipe_engine_free(e);
 *
 * Each batch: poll -> decode (rejects to the dead-letter output) -> derive
 * -> late filter -> dedupe -> flush dead letters -> merge and commit with
 * the offsets. The table is created when missing. Start positions are the
 * table's txn actions (appId "<app_prefix><topic>-<partition>"), else
 * cfg->starting_offsets. Transient errors (broker or registry unreachable)
 * abandon the batch (nothing was committed), wait with backoff and start
 * over from the table's offsets, until they have lasted
 * cfg->give_up_after_ms (0: forever); other errors are returned. */
typedef struct pipe_engine pipe_engine;

/* The appId prefix of the txn actions the engine writes. */
#define PIPE_APP_PREFIX "streamdelta-"

typedef struct pipe_engine_options {
    bool group_mode;          /* subscribe (group.id from source.kafka.group.id) */
    const char *app_prefix;   /* NULL = PIPE_APP_PREFIX */
    FILE *human;              /* one progress line per batch, NULL = none */
    FILE *json;               /* one JSON progress line per batch, NULL = none */
    const volatile int *stop; /* set (by a signal handler) to stop between batches */
    int max_retry_backoff_ms; /* 0 = 10000 */
    /* Read this Avro container file instead of the Kafka topic (records in
     * the file's own schema; a corrupt record stops the run). Its position,
     * the next record index, is a txn action of appId
     * "streamdelta-file-<file name>-0"; the run ends at the file's end. */
    const char *from_avro;
} pipe_engine_options;

/* Have the transient errors that began at failing_since_ms (wall clock)
 * gone on longer than cfg->give_up_after_ms (never when it is 0)? Then
 * err's message is prefixed with how long they lasted and the key to
 * change. For the engine's own retries and a caller's retries of
 * pipe_engine_new. */
bool pipe_retries_exhausted(const pipe_config *cfg, int64_t failing_since_ms, sd_error *err);

/* Totals since pipe_engine_new. */
typedef struct pipe_engine_totals {
    int64_t batches, input_rows, dead_lettered, late, deduplicated;
    int64_t inserted, updated, unchanged, retries;
    int64_t table_version;
} pipe_engine_totals;

/* Resolve the reader schema (the subject's latest version, else the built-in
 * movie-ratings schema), compile the derivations, create the table when it
 * is missing, open the merger, the dead-letter output and the source.
 * SD_ERR_RETRY when the broker or the registry cannot be reached (the
 * caller may wait and try again); NULL with err otherwise. `cfg` and `opts`
 * are borrowed and must outlive the engine. */
pipe_engine *pipe_engine_new(const pipe_config *cfg, const pipe_engine_options *opts,
                             sd_error *err);

/* Run one micro-batch, waiting as the trigger says first. *finished is set
 * when the stream is done: available-now caught up, or *opts->stop set.
 * Returns SD_OK (also for an empty poll), or an error that stops the
 * stream (the table stays at its last commit). */
sd_status pipe_engine_run_batch(pipe_engine *e, bool *finished, sd_error *err);

/* The last batch's progress (NULL before the first committed batch). */
const pipe_progress *pipe_engine_progress(const pipe_engine *e);
pipe_engine_totals pipe_engine_get_totals(const pipe_engine *e);
/* The output (table) schema. */
const sd_schema *pipe_engine_schema(const pipe_engine *e);

void pipe_engine_free(pipe_engine *e);

#endif /* SD_PIPELINE_H */
