/*
 * pq_internal.h - internal interfaces of the Parquet layer, shared by its
 * modules and its unit tests. Not for other layers: they use parquet.h.
 *
 * Modules:
 *   pq_thrift_reader.c / pq_thrift_writer.c  Thrift compact protocol
 *   pq_meta_reader.c / pq_meta_writer.c      FileMetaData, PageHeader <-> structs
 *   pq_schema_reader.c / pq_schema_writer.c  Parquet schema <-> sd_schema
 *   pq_codec.c                               compression codecs
 *   pq_enc_*.c                               one encoder per encoding (writer)
 *   pq_dec_*.c                               one decoder per encoding (reader)
 *   pq_writer.c, pq_reader.c                 files, row groups, columns, pages
 */
#ifndef SD_PQ_INTERNAL_H
#define SD_PQ_INTERNAL_H

#include "parquet.h"

/* ------------------------------------------------------------------------ */
/* Enumerations from parquet.thrift                                          */
/* ------------------------------------------------------------------------ */

typedef enum pq_physical_type {
    PQ_BOOLEAN = 0,
    PQ_INT32 = 1,
    PQ_INT64 = 2,
    PQ_INT96 = 3,
    PQ_FLOAT = 4,
    PQ_DOUBLE = 5,
    PQ_BYTE_ARRAY = 6,
    PQ_FIXED_LEN_BYTE_ARRAY = 7,
} pq_physical_type;

typedef enum pq_repetition { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 } pq_repetition;

typedef enum pq_encoding {
    PQ_ENC_PLAIN = 0,
    PQ_ENC_PLAIN_DICTIONARY = 2,
    PQ_ENC_RLE = 3,
    PQ_ENC_BIT_PACKED = 4,
    PQ_ENC_DELTA_BINARY_PACKED = 5,
    PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    PQ_ENC_DELTA_BYTE_ARRAY = 7,
    PQ_ENC_RLE_DICTIONARY = 8,
    PQ_ENC_BYTE_STREAM_SPLIT = 9,
} pq_encoding;

typedef enum pq_page_type {
    PQ_PAGE_DATA = 0,
    PQ_PAGE_INDEX = 1,
    PQ_PAGE_DICTIONARY = 2,
    PQ_PAGE_DATA_V2 = 3,
} pq_page_type;

typedef enum pq_converted_type {
    PQ_CT_NONE = -1,
    PQ_CT_UTF8 = 0,
    PQ_CT_MAP = 1,
    PQ_CT_MAP_KEY_VALUE = 2,
    PQ_CT_LIST = 3,
    PQ_CT_ENUM = 4,
    PQ_CT_DECIMAL = 5,
    PQ_CT_DATE = 6,
    PQ_CT_TIME_MILLIS = 7,
    PQ_CT_TIME_MICROS = 8,
    PQ_CT_TIMESTAMP_MILLIS = 9,
    PQ_CT_TIMESTAMP_MICROS = 10,
    PQ_CT_UINT_8 = 11,
    PQ_CT_UINT_16 = 12,
    PQ_CT_UINT_32 = 13,
    PQ_CT_UINT_64 = 14,
    PQ_CT_INT_8 = 15,
    PQ_CT_INT_16 = 16,
    PQ_CT_INT_32 = 17,
    PQ_CT_INT_64 = 18,
    PQ_CT_JSON = 19,
    PQ_CT_BSON = 20,
    PQ_CT_INTERVAL = 21,
} pq_converted_type;

/* The LogicalType union, flattened: `kind` is the union's field id. */
typedef enum pq_logical_kind {
    PQ_LT_NONE = 0,
    PQ_LT_STRING = 1,
    PQ_LT_MAP = 2,
    PQ_LT_LIST = 3,
    PQ_LT_ENUM = 4,
    PQ_LT_DECIMAL = 5,
    PQ_LT_DATE = 6,
    PQ_LT_TIME = 7,
    PQ_LT_TIMESTAMP = 8,
    PQ_LT_INTEGER = 10,
    PQ_LT_UNKNOWN = 11,
    PQ_LT_JSON = 12,
    PQ_LT_BSON = 13,
    PQ_LT_UUID = 14,
    PQ_LT_FLOAT16 = 15,
} pq_logical_kind;

typedef enum pq_time_unit {
    PQ_UNIT_MILLIS = 1,
    PQ_UNIT_MICROS = 2,
    PQ_UNIT_NANOS = 3
} pq_time_unit;

typedef struct pq_logical_type {
    pq_logical_kind kind;
    int32_t scale, precision; /* DECIMAL */
    bool is_adjusted_to_utc;  /* TIME, TIMESTAMP */
    pq_time_unit unit;        /* TIME, TIMESTAMP */
    int8_t bit_width;         /* INTEGER */
    bool is_signed;           /* INTEGER */
} pq_logical_type;

/* ------------------------------------------------------------------------ */
/* Metadata structs (the subset of parquet.thrift we read and write).        */
/* "has_" flags mark optional fields that were present. All strings and      */
/* arrays are owned by the enclosing struct; free with the _clear calls.     */
/* ------------------------------------------------------------------------ */

typedef struct pq_statistics {
    bool has_min, has_max;               /* min_value/max_value (fields 6/5) */
    sd_buf min, max;                     /* raw PLAIN-encoded bytes */
    bool has_legacy_min, has_legacy_max; /* deprecated min/max (fields 2/1) */
    sd_buf legacy_min, legacy_max;
    bool has_null_count;
    int64_t null_count;
    bool has_distinct_count;
    int64_t distinct_count;
} pq_statistics;

typedef struct pq_schema_element {
    char *name;
    bool has_type;
    pq_physical_type type;
    int32_t type_length; /* FIXED_LEN_BYTE_ARRAY */
    bool has_repetition;
    pq_repetition repetition;
    int32_t num_children;             /* 0 for leaves */
    pq_converted_type converted_type; /* PQ_CT_NONE when absent */
    int32_t scale, precision;
    bool has_field_id;
    int32_t field_id;
    pq_logical_type logical; /* kind PQ_LT_NONE when absent */
} pq_schema_element;

typedef struct pq_page_encoding_stats {
    pq_page_type page_type;
    pq_encoding encoding;
    int32_t count;
} pq_page_encoding_stats;

typedef struct pq_column_meta {
    pq_physical_type type;
    int nencodings;
    pq_encoding *encodings;
    int npath;
    char **path_in_schema;
    pq_codec codec;
    int64_t num_values;
    int64_t total_uncompressed_size;
    int64_t total_compressed_size;
    int64_t data_page_offset;
    bool has_index_page_offset;
    int64_t index_page_offset;
    bool has_dictionary_page_offset;
    int64_t dictionary_page_offset;
    bool has_statistics;
    pq_statistics statistics;
    int nencoding_stats;
    pq_page_encoding_stats *encoding_stats;
} pq_column_meta;

typedef struct pq_column_chunk {
    char *file_path; /* NULL: same file */
    int64_t file_offset;
    bool has_meta_data;
    pq_column_meta meta_data;
} pq_column_chunk;

typedef struct pq_row_group {
    int ncolumns;
    pq_column_chunk *columns;
    int64_t total_byte_size;
    int64_t num_rows;
    bool has_file_offset;
    int64_t file_offset;
    bool has_total_compressed_size;
    int64_t total_compressed_size;
    bool has_ordinal;
    int16_t ordinal;
} pq_row_group;

typedef struct pq_key_value {
    char *key;
    char *value; /* NULL when absent */
} pq_key_value;

typedef struct pq_file_meta {
    int32_t version;
    int nschema;
    pq_schema_element *schema; /* depth-first, schema[0] is the root */
    int64_t num_rows;
    int nrow_groups;
    pq_row_group *row_groups;
    int nkv;
    pq_key_value *kv;
    char *created_by;
    int ncolumn_orders;  /* TypeDefinedOrder per leaf when present */
    bool has_encryption; /* encryption_algorithm present: refused */
} pq_file_meta;

typedef struct pq_data_page_header {
    int32_t num_values;
    pq_encoding encoding;
    pq_encoding definition_level_encoding;
    pq_encoding repetition_level_encoding;
    bool has_statistics;
    pq_statistics statistics;
} pq_data_page_header;

typedef struct pq_dictionary_page_header {
    int32_t num_values;
    pq_encoding encoding;
    bool has_is_sorted;
    bool is_sorted;
} pq_dictionary_page_header;

typedef struct pq_data_page_header_v2 {
    int32_t num_values;
    int32_t num_nulls;
    int32_t num_rows;
    pq_encoding encoding;
    int32_t definition_levels_byte_length;
    int32_t repetition_levels_byte_length;
    bool is_compressed; /* default true */
    bool has_statistics;
    pq_statistics statistics;
} pq_data_page_header_v2;

typedef struct pq_page_header {
    pq_page_type type;
    int32_t uncompressed_page_size;
    int32_t compressed_page_size;
    bool has_crc;
    int32_t crc;
    bool has_data_page_header;
    pq_data_page_header data_page_header;
    bool has_dictionary_page_header;
    pq_dictionary_page_header dictionary_page_header;
    bool has_data_page_header_v2;
    pq_data_page_header_v2 data_page_header_v2;
} pq_page_header;

void pq_statistics_clear(pq_statistics *s);
void pq_file_meta_clear(pq_file_meta *m);
void pq_page_header_clear(pq_page_header *h);

/* ------------------------------------------------------------------------ */
/* Thrift compact protocol                                                   */
/* ------------------------------------------------------------------------ */

/* Compact-protocol wire types. */
typedef enum pq_thrift_type {
    PQ_TT_STOP = 0,
    PQ_TT_BOOL_TRUE = 1,
    PQ_TT_BOOL_FALSE = 2,
    PQ_TT_BYTE = 3,
    PQ_TT_I16 = 4,
    PQ_TT_I32 = 5,
    PQ_TT_I64 = 6,
    PQ_TT_DOUBLE = 7,
    PQ_TT_BINARY = 8,
    PQ_TT_LIST = 9,
    PQ_TT_SET = 10,
    PQ_TT_MAP = 11,
    PQ_TT_STRUCT = 12,
} pq_thrift_type;

/* Nesting deeper than this is refused: parquet.thrift needs about 6, and a
 * hostile file must not be able to exhaust the stack. */
#define PQ_THRIFT_MAX_DEPTH 32
/* A list longer than the remaining bytes could hold is corrupt; this caps
 * element counts before anything is allocated. */

/* Bounds-checked reader over a byte range. The first error sticks: later
 * reads return zeros and `failed` stays set, so parsers can check once at
 * the end of a struct. */
typedef struct pq_thrift_reader {
    const uint8_t *p, *end, *start;
    int depth;
    bool failed;
    char what[160]; /* description of the first failure */
} pq_thrift_reader;

void pq_thrift_reader_init(pq_thrift_reader *r, const uint8_t *p, size_t n);
/* Read the next field header of the current struct: returns false at STOP
 * (or on failure); otherwise *field_id and *type are filled. Handles the
 * compact protocol's field-id deltas; the caller tracks last_id (start 0,
 * use pq_thrift_struct_begin/end to save and restore it). */
bool pq_thrift_field(pq_thrift_reader *r, int16_t *last_id, int16_t *field_id, uint8_t *type);
void pq_thrift_struct_begin(pq_thrift_reader *r);
void pq_thrift_struct_end(pq_thrift_reader *r);
int32_t pq_thrift_i32(pq_thrift_reader *r);
int64_t pq_thrift_i64(pq_thrift_reader *r);
int8_t pq_thrift_byte(pq_thrift_reader *r);
double pq_thrift_double(pq_thrift_reader *r);
/* Borrowed pointer into the input; *len set. */
const uint8_t *pq_thrift_binary(pq_thrift_reader *r, size_t *len);
/* List header: element type and count (count checked against remaining
 * bytes: each element needs at least one byte unless bool). */
int32_t pq_thrift_list_begin(pq_thrift_reader *r, uint8_t *elem_type);
/* Skip a value of wire type `type` (recursively, depth-capped). */
void pq_thrift_skip(pq_thrift_reader *r, uint8_t type);
void pq_thrift_fail(pq_thrift_reader *r, const char *what);
/* For bools: in a field header the type itself carries the value. */
static inline bool pq_thrift_field_bool(uint8_t type) {
    return type == PQ_TT_BOOL_TRUE;
}

/* Writer to a growable buffer. */
typedef struct pq_thrift_writer {
    sd_buf *out;
    int16_t last_id[PQ_THRIFT_MAX_DEPTH];
    int depth;
} pq_thrift_writer;

void pq_thrift_writer_init(pq_thrift_writer *w, sd_buf *out);
void pq_thrift_write_struct_begin(pq_thrift_writer *w);
void pq_thrift_write_struct_end(pq_thrift_writer *w); /* writes STOP */
void pq_thrift_write_field(pq_thrift_writer *w, int16_t id, uint8_t type);
void pq_thrift_write_i32_field(pq_thrift_writer *w, int16_t id, int32_t v);
void pq_thrift_write_i64_field(pq_thrift_writer *w, int16_t id, int64_t v);
void pq_thrift_write_bool_field(pq_thrift_writer *w, int16_t id, bool v);
void pq_thrift_write_binary_field(pq_thrift_writer *w, int16_t id, const void *p, size_t n);
void pq_thrift_write_i32(pq_thrift_writer *w, int32_t v);
void pq_thrift_write_i64(pq_thrift_writer *w, int64_t v);
void pq_thrift_write_binary(pq_thrift_writer *w, const void *p, size_t n);
void pq_thrift_write_list_begin(pq_thrift_writer *w, uint8_t elem_type, int32_t count);

/* ------------------------------------------------------------------------ */
/* Metadata (de)serialization                                                */
/* ------------------------------------------------------------------------ */

/* Parse a FileMetaData from the footer bytes. `name` (the file) is used in
 * messages. On failure the struct is cleared and err filled. */
sd_status pq_meta_parse(const uint8_t *p, size_t n, pq_file_meta *out, const char *name,
                        sd_error *err);
/* Parse a PageHeader at p; *consumed is set to its encoded length. */
sd_status pq_page_header_parse(const uint8_t *p, size_t n, pq_page_header *out, size_t *consumed,
                               const char *name, sd_error *err);
void pq_meta_serialize(const pq_file_meta *m, sd_buf *out);
void pq_page_header_serialize(const pq_page_header *h, sd_buf *out);

/* ------------------------------------------------------------------------ */
/* Codecs                                                                    */
/* ------------------------------------------------------------------------ */

/* Compress `n` bytes appending to `out`. */
sd_status pq_compress(pq_codec codec, int level, const uint8_t *in, size_t n, sd_buf *out,
                      sd_error *err);
/* Decompress into exactly `out_len` bytes at `out` (the page header's
 * uncompressed size); any other size is an SD_ERR_CODEC error. */
sd_status pq_decompress(pq_codec codec, const uint8_t *in, size_t n, uint8_t *out, size_t out_len,
                        sd_error *err);

/* ------------------------------------------------------------------------ */
/* Encodings (pq_enc_*.c write, pq_dec_*.c read)                             */
/*                                                                           */
/* Decoders work on physical values, densely (no slots for nulls): the       */
/* reader spreads them over the rows by definition level and converts them   */
/* to the column's logical type. Every decoder is bounds-checked: it returns */
/* false (never reads past `len`) when the input is short or corrupt.        */
/* ------------------------------------------------------------------------ */

/* Appending byte-array values to a column's (offsets, data) pair: before a
 * call offsets[0] is the end of the data already there; a decoder of n
 * values fills offsets[1..n] and appends the bytes to *data. */
typedef struct pq_bytes_sink {
    int64_t *offsets;
    sd_buf *data;
} pq_bytes_sink;

/* Bits needed to store values up to max_value (0 for 0). */
int pq_bit_width(uint64_t max_value);

/* RLE / bit-packed hybrid (Encodings.md), without the 4-byte length prefix
 * that data page v1 puts before levels. The encoder picks RLE runs for
 * repeats of 8 or more and bit-packs the rest. bit_width 0..32. */
void pq_rle_encode(const uint32_t *values, size_t n, int bit_width, sd_buf *out);

typedef struct pq_rle_decoder {
    const uint8_t *p, *end;
    int bit_width;
    uint32_t rle_value;    /* value of the current RLE run */
    uint32_t rle_left;     /* values left in the current RLE run */
    uint32_t packed_left;  /* values left in the current bit-packed run */
    const uint8_t *packed; /* start of the current bit-packed group */
    uint32_t packed_pos;   /* index of the next value within the packed run */
} pq_rle_decoder;

void pq_rle_decoder_init(pq_rle_decoder *d, const uint8_t *p, size_t len, int bit_width);
/* Decode exactly n values; false when the input ends early or is corrupt
 * (a run header that overflows, a value wider than bit_width allows). */
bool pq_rle_decode(pq_rle_decoder *d, uint32_t *out, size_t n);
/* The deprecated BIT_PACKED level encoding (MSB first, no runs). */
bool pq_bit_packed_levels_decode(const uint8_t *p, size_t len, int bit_width, size_t n,
                                 uint32_t *out);

/* PLAIN. Fixed-width values are their little-endian bytes: writers append
 * them directly. Booleans are bit-packed LSB first. */
void pq_plain_encode_bools(const uint8_t *values, size_t n, sd_buf *out);
void pq_plain_encode_bytes(const uint8_t *data, const int64_t *offsets, size_t n, sd_buf *out);
/* Decoders set *consumed to the bytes used. width: 4, 8, 12 (INT96) or the
 * FIXED_LEN_BYTE_ARRAY length. Booleans decode to one byte per value (0/1),
 * starting at bit offset 0 of p. */
bool pq_plain_decode_fixed(const uint8_t *p, size_t len, size_t width, size_t n, void *out,
                           size_t *consumed);
bool pq_plain_decode_bools(const uint8_t *p, size_t len, size_t n, uint8_t *out, size_t *consumed);
bool pq_plain_decode_bytes(const uint8_t *p, size_t len, size_t n, pq_bytes_sink *sink,
                           size_t *consumed);
/* FIXED_LEN_BYTE_ARRAY values appended as byte arrays of `width` bytes. */
bool pq_plain_decode_fixed_bytes(const uint8_t *p, size_t len, size_t width, size_t n,
                                 pq_bytes_sink *sink, size_t *consumed);

/* Dictionary pages hold PLAIN values; data pages hold one byte of bit width
 * then RLE/bit-packed indices. */
bool pq_dict_indices_decode(const uint8_t *p, size_t len, size_t n, uint32_t *out);

/* Dictionary builder for the writer: maps each distinct value to an index
 * in insertion order. Fixed-width values are compared bytewise (so -0.0 and
 * 0.0, and NaNs with different payloads, stay distinct, as Spark does). */
typedef struct pq_dict pq_dict;

/* width: value size in bytes for fixed-width types, 0 for byte arrays. */
pq_dict *pq_dict_new(size_t width);
void pq_dict_free(pq_dict *d);
void pq_dict_reset(pq_dict *d);
/* Look up or insert n values, writing their indices. Returns the number of
 * values handled: fewer than n when the dictionary's PLAIN size would pass
 * max_bytes (the caller then falls back to PLAIN for the rest). */
size_t pq_dict_add_fixed(pq_dict *d, const void *values, size_t n, size_t max_bytes,
                         uint32_t *indices);
size_t pq_dict_add_bytes(pq_dict *d, const uint8_t *data, const int64_t *offsets, size_t n,
                         size_t max_bytes, uint32_t *indices);
size_t pq_dict_count(const pq_dict *d);
/* Size of the dictionary page body, PLAIN-encoded. */
size_t pq_dict_plain_size(const pq_dict *d);
/* Append the dictionary page body (PLAIN). */
void pq_dict_encode(const pq_dict *d, sd_buf *out);
/* Entry i: a pointer to its bytes and its length (width for fixed). */
const uint8_t *pq_dict_entry(const pq_dict *d, size_t i, size_t *len);

/* DELTA_BINARY_PACKED (INT32 / INT64): decode the first n values. */
bool pq_delta_decode_i32(const uint8_t *p, size_t len, size_t n, int32_t *out, size_t *consumed);
bool pq_delta_decode_i64(const uint8_t *p, size_t len, size_t n, int64_t *out, size_t *consumed);
/* DELTA_BINARY_PACKED encoder (used by tests and page v2 writers). */
void pq_delta_encode_i64(const int64_t *values, size_t n, sd_buf *out);
/* DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY (the latter also for
 * FIXED_LEN_BYTE_ARRAY). */
bool pq_delta_length_decode(const uint8_t *p, size_t len, size_t n, pq_bytes_sink *sink,
                            size_t *consumed);
bool pq_delta_byte_array_decode(const uint8_t *p, size_t len, size_t n, pq_bytes_sink *sink,
                                size_t *consumed);
/* BYTE_STREAM_SPLIT for values of `width` bytes (4 or 8, or an FLBA
 * length): the page holds exactly n values. */
bool pq_byte_stream_split_decode(const uint8_t *p, size_t len, size_t width, size_t n, void *out);

#endif /* SD_PQ_INTERNAL_H */
