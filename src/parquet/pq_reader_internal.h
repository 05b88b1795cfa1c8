/*
 * pq_reader_internal.h - internal interfaces of the Parquet reader, shared by
 * pq_reader.c (files, row groups, column chunks, pages), pq_schema_reader.c
 * (Parquet schema -> sd_schema and level descriptors), pq_assemble.c
 * (definition/repetition levels -> nested columns), pq_convert.c (physical
 * -> logical values), pq_format.c (text dumps) and their unit tests.
 *
 * Levels follow the Dremel scheme of parquet-format: every optional or
 * repeated ancestor of a leaf adds one definition level, every repeated
 * ancestor one repetition level.
 */
#ifndef SD_PQ_READER_INTERNAL_H
#define SD_PQ_READER_INTERNAL_H

#include "pq_internal.h"

/* Schemas nested deeper than this are refused: real schemas need a handful
 * of levels, and the cap keeps levels in one byte and recursion shallow. */
#define PQ_MAX_SCHEMA_DEPTH 64
/* Values in one column chunk: beyond this a row group could not be held in
 * memory as one batch, and a hostile footer must not make us try. */
#define PQ_MAX_CHUNK_VALUES ((int64_t)1 << 28)

/* How a physical value becomes the leaf's logical value (pq_convert.c). */
typedef enum pq_conv {
    PQ_CONV_COPY,       /* same bytes: bool, int32, int64, float, double, date, micros */
    PQ_CONV_I32_TO_I8,  /* INT(8) */
    PQ_CONV_I32_TO_I16, /* INT(16) */
    PQ_CONV_U8_TO_I16,  /* UINT(8) widened as Spark does */
    PQ_CONV_U16_TO_I32, /* UINT(16) */
    PQ_CONV_U32_TO_I64, /* UINT(32) */
    PQ_CONV_U64_TO_DEC, /* UINT(64) -> DECIMAL(20,0) */
    PQ_CONV_MILLIS,     /* INT64 millis -> micros */
    PQ_CONV_NANOS,      /* INT64 nanos -> micros */
    PQ_CONV_INT96,      /* Julian day + nanos of day -> micros */
    PQ_CONV_FLOAT16,    /* FLBA(2) half float -> float */
    PQ_CONV_DEC_I32,    /* DECIMAL in INT32 */
    PQ_CONV_DEC_I64,    /* DECIMAL in INT64 */
    PQ_CONV_DEC_BYTES,  /* DECIMAL in FLBA / BYTE_ARRAY (big-endian two's complement) */
    PQ_CONV_UUID,       /* FLBA(16) -> "8-4-4-4-12" string */
    PQ_CONV_BYTES,      /* BYTE_ARRAY / FLBA -> STRING or BINARY as is */
} pq_conv;

typedef enum pq_node_kind { PQ_NODE_LEAF, PQ_NODE_STRUCT, PQ_NODE_LIST, PQ_NODE_MAP } pq_node_kind;

/* One node of the logical schema tree with the levels assembly needs.
 *   def      definition level at which this node is present (non-null)
 *   rep      repetition levels of the lists/maps strictly enclosing it
 *   anc_def  definition level at which the nearest enclosing list/map has
 *            an element (0 at top level): below it this node has no slot
 *   elem_def (list/map) level at which this list has at least one element */
typedef struct pq_node {
    pq_node_kind kind;
    int def, rep, anc_def, elem_def;
    int nchildren; /* struct fields; list 1 (element); map 2 (key, value) */
    struct pq_node *children;
    int leaf;       /* PQ_NODE_LEAF: index into pq_schema_info.leaves */
    int first_leaf; /* any leaf below: its levels describe this node's slots */
    int elem;       /* index of the Parquet schema element */
} pq_node;

/* One leaf column (one column chunk per row group). */
typedef struct pq_leaf {
    int elem; /* Parquet schema element */
    int max_def, max_rep;
    pq_physical_type phys;
    int32_t type_length; /* FIXED_LEN_BYTE_ARRAY */
    pq_conv conv;
    sd_type_kind kind;    /* logical kind of the values */
    int precision, scale; /* SD_DECIMAL */
    char *path;           /* dotted path of Parquet names: "a.list.element" */
    char *stats_path;     /* dotted path of logical names for stats ("s.b") */
    int field_index;      /* top-level field */
    bool in_repeated;
} pq_leaf;

/* The mapped schema of a file. */
typedef struct pq_schema_info {
    sd_schema *schema; /* logical schema */
    pq_node root;      /* STRUCT node; children[i] is schema field i */
    int nleaves;
    pq_leaf *leaves;
} pq_schema_info;

/* Map the Parquet schema elements of `meta` to a logical schema and level
 * descriptors. Refuses unsupported types (TIME, INTERVAL, ...) with
 * SD_ERR_UNSUPPORTED naming the column, corrupt trees with SD_ERR_FORMAT.
 * Messages do not carry the file name (the caller prefixes it). */
sd_status pq_schema_map(const pq_file_meta *meta, pq_schema_info *out, sd_error *err);
void pq_schema_info_clear(pq_schema_info *si);
/* Width of one physical value in a PLAIN fixed-width stream (0: BYTE_ARRAY,
 * booleans are handled bitwise and report 1). */
size_t pq_physical_width(pq_physical_type t, int32_t type_length);
const char *pq_physical_type_name(pq_physical_type t);
const char *pq_encoding_name(pq_encoding e);
const char *pq_converted_type_name(pq_converted_type t);

/* ---- pq_convert.c ---- */

/* Convert n dense fixed-width physical values (`src`, each
 * pq_physical_width() bytes) to the leaf's logical values, written at row
 * `pos` of `dst` (fixed kinds) or appended after row pos (string kinds: the
 * UUID text). dst must have room for pos + n rows. Fails (SD_ERR_FORMAT)
 * for a decimal that does not fit 128 bits. */
sd_status pq_convert_fixed(const pq_leaf *leaf, const uint8_t *src, size_t n, sd_column *dst,
                           size_t pos, sd_error *err);
/* The same for n byte-array values given as offsets[0..n] into data. */
sd_status pq_convert_bytes(const pq_leaf *leaf, const int64_t *offsets, const uint8_t *data,
                           size_t n, sd_column *dst, size_t pos, sd_error *err);
/* One PLAIN-encoded statistics value (raw bytes) -> sd_value borrowing the
 * bytes for strings (UUIDs are written into `scratch`). False when
 * the bytes do not form a value of the leaf's type. */
bool pq_convert_stat(const pq_leaf *leaf, const uint8_t *p, size_t n,
                     char scratch[SD_UUID_TEXT_SIZE], sd_value *out);

/* ---- pq_assemble.c ---- */

/* Levels and values of one leaf column chunk as read from its pages: the
 * leaf's sd_column holds `ndense` non-null values packed at the front, and
 * def/rep (NULL when the max level is 0) hold `nlevels` entries. */
typedef struct pq_leaf_data {
    sd_column *col;
    const pq_leaf *leaf;
    size_t nlevels;
    size_t ndense;
    uint8_t *def, *rep;
} pq_leaf_data;

/* Build the column `col` of node `node` (recursively) from its leaves'
 * data (indexed by leaf number): slots, validity, list offsets, and the
 * leaves' values spread over their slots. Checks that sibling columns agree
 * in length (a file whose leaves disagree is corrupt). */
sd_status pq_assemble(const pq_node *node, sd_column *col, pq_leaf_data *leaves, sd_error *err);
/* Spread the `ndense` values packed at the front of a leaf column over the
 * `n` slots whose validity is given (ndense ones), backwards in place. */
void pq_spread(sd_column *col, size_t ndense, const uint8_t *valid, size_t n);

/* ---- pq_reader.c accessors for pq_format.c ---- */
const pq_file_meta *pq_file_meta_of(const pq_file *f);
const pq_schema_info *pq_file_schema_info(const pq_file *f);
const char *pq_file_name(const pq_file *f);
/* Row groups whose projected chunks hold at least `bytes` uncompressed
 * bytes are decoded on two threads (default 4 MiB); tests lower it to run
 * the threaded path on small files, or raise it to turn threads off. */
void pq_file_set_thread_min_bytes(pq_file *f, int64_t bytes);

#endif /* SD_PQ_READER_INTERNAL_H */
