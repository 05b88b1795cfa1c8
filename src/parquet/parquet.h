/*
 * parquet.h - the Parquet layer: write columnar batches to Parquet files and
 * read Parquet files (ours and other engines') back into columnar batches.
 *
 * Format reference: apache/parquet-format (parquet.thrift, Encodings.md).
 *
 * Writer: data page v1 (v2 optional), dictionary encoding with fallback to
 * PLAIN, RLE/bit-packed levels, SNAPPY (default) / ZSTD / GZIP / LZ4_RAW /
 * UNCOMPRESSED, statistics per column chunk and page. Nested struct, list and
 * map columns are written in the standard 3-level layout Spark uses.
 *
 * Reader: also PLAIN_DICTIONARY, data page v2, DELTA_BINARY_PACKED,
 * DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT, INT96
 * timestamps, DECIMAL in INT32/INT64/FIXED_LEN_BYTE_ARRAY/BYTE_ARRAY, legacy
 * 2-level lists. Anything else is refused with SD_ERR_UNSUPPORTED naming it.
 *
 * Every error message starts with the file path. A malformed file is
 * reported as SD_ERR_FORMAT / SD_ERR_THRIFT / SD_ERR_CODEC; the reader never
 * reads outside the file's bytes.
 *
 * Threads: a writer or a file handle is used by one thread at a time;
 * different handles are independent.
 */
#ifndef SD_PARQUET_H
#define SD_PARQUET_H

#include "../util/util.h"

/* Compression codecs (values as in parquet.thrift's CompressionCodec). */
typedef enum pq_codec {
    PQ_CODEC_UNCOMPRESSED = 0,
    PQ_CODEC_SNAPPY = 1,
    PQ_CODEC_GZIP = 2,
    PQ_CODEC_LZO = 3,
    PQ_CODEC_BROTLI = 4,
    PQ_CODEC_LZ4 = 5,
    PQ_CODEC_ZSTD = 6,
    PQ_CODEC_LZ4_RAW = 7,
} pq_codec;

/* "snappy", "zstd", ... (lowercase) */
const char *pq_codec_name(pq_codec codec);
/* Parse a codec name, case-insensitive ("none" = uncompressed). */
sd_status pq_codec_parse(const char *name, pq_codec *out, sd_error *err);

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct pq_writer_options {
    pq_codec codec;         /* default PQ_CODEC_SNAPPY */
    int compression_level;  /* 0 = codec default */
    bool dictionary;        /* try dictionary encoding; default true */
    size_t dictionary_max;  /* bytes; fall back to PLAIN beyond (default 1 MiB) */
    size_t page_size;       /* target uncompressed data page size (default 1 MiB) */
    size_t row_group_size;  /* target uncompressed row group size (default 128 MiB) */
    int data_page_version;  /* 1 (default) or 2 */
    bool page_statistics;   /* write Statistics in data page headers (default true) */
    const char *created_by; /* default "streamdelta version X" */
    int nkv;                /* key/value metadata for the footer */
    const char *const *kv_keys;
    const char *const *kv_values;
} pq_writer_options;

/* Defaults as listed above. */
void pq_writer_options_init(pq_writer_options *opts);

/* Statistics of one leaf column over the whole written file, for Delta's
 * per-file stats. `path` is the dotted path of the leaf in the schema
 * ("a", "s.b"); values inside lists and maps have no Delta stats and are
 * flagged with in_repeated. min/max own their strings. */
typedef struct pq_leaf_stats {
    char *path;
    int field_index;  /* top-level field this leaf belongs to */
    bool in_repeated; /* leaf sits under a list or map */
    bool has_min_max; /* false when every value was null (or NaN only) */
    sd_value min, max;
    int64_t null_count;
} pq_leaf_stats;

/* What a finished file holds. */
typedef struct pq_file_summary {
    int64_t num_rows;
    int64_t file_size;
    int num_row_groups;
    int nleaves;
    pq_leaf_stats *leaves;
} pq_file_summary;

void pq_file_summary_free(pq_file_summary *s);

typedef struct pq_writer pq_writer;

/* Create `path` (truncating it) for a file of `schema`. The schema is copied.
 * Returns NULL and fills err on failure (bad schema, cannot create file). */
pq_writer *pq_writer_open(const char *path, const sd_schema *schema, const pq_writer_options *opts,
                          sd_error *err);

/* Append the rows of `batch` (whose schema must equal the writer's). Pages
 * and row groups are flushed as they reach their target sizes. */
sd_status pq_writer_write(pq_writer *w, const sd_batch *batch, sd_error *err);

/* Flush, write the footer, fsync and close. On success fills `summary` (if
 * not NULL; caller frees with pq_file_summary_free). Frees the writer in
 * every case; on failure the partial file is removed. */
sd_status pq_writer_close(pq_writer *w, pq_file_summary *summary, sd_error *err);

/* Discard: close and remove the partial file, free the writer. */
void pq_writer_abort(pq_writer *w);

/* Write a whole batch to a new file in one call. */
sd_status pq_write_file(const char *path, const sd_batch *batch, const pq_writer_options *opts,
                        pq_file_summary *summary, sd_error *err);

/* ------------------------------------------------------------------------ */
/* Reader                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct pq_file pq_file;

/* Open and validate the footer of `path`. Returns NULL and fills err on
 * failure (missing file, bad magic, truncated, corrupt metadata, schema we
 * cannot map). */
pq_file *pq_file_open(const char *path, sd_error *err);

/* The same from bytes in memory (not copied; must outlive the handle).
 * `name` is used in error messages. */
pq_file *pq_file_open_memory(const uint8_t *data, size_t len, const char *name, sd_error *err);

void pq_file_close(pq_file *f);

/* The file's logical schema (owned by the file). */
const sd_schema *pq_file_schema(const pq_file *f);
int64_t pq_file_num_rows(const pq_file *f);
int pq_file_num_row_groups(const pq_file *f);
int64_t pq_file_row_group_rows(const pq_file *f, int rg);

/* Statistics of a leaf column (dotted path) in row group rg, when the file
 * has them: SD_OK and fills min/max (borrowed from the file; has_min_max
 * false when absent) and null_count (-1 when absent). SD_ERR_NOT_FOUND for
 * an unknown path. */
sd_status pq_file_leaf_stats(const pq_file *f, int rg, const char *path, bool *has_min_max,
                             sd_value *min, sd_value *max, int64_t *null_count, sd_error *err);

/* Comparison operators for row-group skipping. */
typedef enum pq_cmp_op {
    PQ_EQ,
    PQ_NE,
    PQ_LT,
    PQ_LE,
    PQ_GT,
    PQ_GE,
    PQ_IS_NULL,
    PQ_IS_NOT_NULL
} pq_cmp_op;

/* One conjunct "path op value" (value ignored for IS [NOT] NULL). */
typedef struct pq_predicate {
    const char *path;
    pq_cmp_op op;
    sd_value value;
} pq_predicate;

/* True when the statistics of row group rg prove that no row satisfies all
 * of `preds` (a conjunction). Missing statistics never skip. */
bool pq_row_group_can_skip(const pq_file *f, int rg, const pq_predicate *preds, int npreds);

/* Read row group rg into `out`, for the top-level columns listed in
 * `columns` (indexes into the file schema; NULL = all). `out` is
 * initialised by this call with a schema owned by the file, holding only
 * the projected fields; free it with sd_batch_free(). */
sd_status pq_read_row_group(pq_file *f, int rg, const int *columns, int ncolumns, sd_batch *out,
                            sd_error *err);

/* The same, reusing the buffers of `batch` when it holds a previous read of
 * the same projection from this file (its rows are replaced); otherwise
 * `batch` must be zeroed, or it is freed and initialised anew. On failure
 * the batch is freed (and zeroed). Readers of many row groups should call
 * this with one batch: fresh memory per row group costs page faults. */
sd_status pq_read_row_group_into(pq_file *f, int rg, const int *columns, int ncolumns,
                                 sd_batch *batch, sd_error *err);

/* Projected schema for `columns` (owned by the file, valid until close). */
const sd_schema *pq_file_projection(pq_file *f, const int *columns, int ncolumns);

/* Human-readable dumps for `streamdelta parquet schema|meta`. */
void pq_file_format_schema(const pq_file *f, sd_buf *out);
void pq_file_format_meta(const pq_file *f, sd_buf *out);

#endif /* SD_PARQUET_H */
