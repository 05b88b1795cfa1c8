/*
 * util.h - the bottom layer of streamdelta: status codes and error messages,
 * growable byte buffers, checked allocation, the columnar batch that carries
 * data from decode to Parquet, typed scalar values, and small helpers for
 * time and text that every other layer shares.
 *
 * Nothing here knows about Parquet, Delta, Avro or Kafka.
 *
 * Errors: every fallible call returns an sd_status and fills a caller-owned
 * sd_error with a message a user can act on. The first error wins; callers
 * add context (a file name, a column) with sd_error_prefix().
 *
 * Memory: sd_xmalloc() and friends abort with a message on out-of-memory, as
 * Redis' zmalloc does; a streaming engine that cannot allocate cannot make
 * progress, and checking every small allocation would bury the logic.
 */
#ifndef SD_UTIL_H
#define SD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Status and errors                                                         */
/* ------------------------------------------------------------------------ */

/* One status enum, grouped by range so a caller can tell the kind of failure
 * (and whether a retry could help) without parsing the message. */
typedef enum sd_status {
    SD_OK = 0,
    /* 100..199: the caller or the user asked for something invalid */
    SD_ERR_ARG = 100,       /* bad argument or option value */
    SD_ERR_NOT_FOUND = 101, /* named thing (column, file, version) does not exist */
    SD_ERR_EXISTS = 102,    /* thing to create already exists */
    /* 200..299: the operating system said no */
    SD_ERR_IO = 200,      /* read/write/open failed (errno in the message) */
    SD_ERR_NOSPACE = 201, /* disk full */
    /* 300..399: input data is malformed */
    SD_ERR_FORMAT = 300, /* corrupt or truncated file or record */
    SD_ERR_THRIFT = 301, /* corrupt Thrift structure */
    SD_ERR_CODEC = 302,  /* decompression failed */
    SD_ERR_JSON = 303,   /* malformed JSON */
    /* 400..499: valid input using something we do not implement */
    SD_ERR_UNSUPPORTED = 400,
    /* 500..599: concurrency */
    SD_ERR_CONFLICT = 500, /* optimistic-concurrency conflict that cannot be retried */
    SD_ERR_RETRY = 501,    /* transient; the operation may succeed if repeated */
    /* 600..699: remote services */
    SD_ERR_NETWORK = 600,
    SD_ERR_REMOTE = 601,
    /* 900: bug */
    SD_ERR_INTERNAL = 900,
} sd_status;

#define SD_ERROR_MSG_MAX 1024

/* A caller-owned error: code plus message. Zero-initialise before use. */
typedef struct sd_error {
    sd_status code;
    char msg[SD_ERROR_MSG_MAX];
} sd_error;

/* Record an error unless one is already recorded (the first error is the
 * cause; later ones are usually consequences). Returns `code` so that
 * `return sd_error_set(err, SD_ERR_IO, "...")` reads naturally. `err` may be
 * NULL, in which case only the code is returned. */
sd_status sd_error_set(sd_error *err, sd_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context to the recorded message: "file.parquet: " + msg. */
void sd_error_prefix(sd_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Forget a recorded error. */
void sd_error_clear(sd_error *err);

/* A short name for a status ("format error", "I/O error", ...). */
const char *sd_status_name(sd_status code);

/* ------------------------------------------------------------------------ */
/* Allocation                                                                */
/* ------------------------------------------------------------------------ */

/* Allocators that never return NULL: on out-of-memory they print a message
 * and abort(). sd_xcalloc zeroes; sd_xrealloc(NULL, n) allocates. */
void *sd_xmalloc(size_t n);
void *sd_xcalloc(size_t count, size_t size);
void *sd_xrealloc(void *p, size_t n);
char *sd_xstrdup(const char *s);
char *sd_xstrndup(const char *s, size_t n);
/* printf into a freshly allocated string (caller frees). */
char *sd_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------------------ */
/* Growable byte buffer                                                      */
/* ------------------------------------------------------------------------ */

typedef struct sd_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} sd_buf;

#define SD_BUF_INIT                                                                                \
    { NULL, 0, 0 }

/* Make room for `extra` more bytes beyond len. */
void sd_buf_reserve(sd_buf *b, size_t extra);
void sd_buf_append(sd_buf *b, const void *p, size_t n);
void sd_buf_append_byte(sd_buf *b, uint8_t c);
void sd_buf_append_str(sd_buf *b, const char *s);
void sd_buf_appendf(sd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append `n` zero bytes and return a pointer to them. */
uint8_t *sd_buf_extend(sd_buf *b, size_t n);
/* Keep the allocation, drop the contents. */
static inline void sd_buf_reset(sd_buf *b) {
    b->len = 0;
}
void sd_buf_free(sd_buf *b);
/* Ensure data[len] == 0 without counting it; returns data as a C string. */
const char *sd_buf_cstr(sd_buf *b);

/* ------------------------------------------------------------------------ */
/* Types, schemas, columnar batches                                          */
/* ------------------------------------------------------------------------ */

/* Logical types, as Delta's schemaString names them (Spark SQL types). */
typedef enum sd_type_kind {
    SD_BOOL,
    SD_INT8,
    SD_INT16,
    SD_INT32,
    SD_INT64,
    SD_FLOAT,
    SD_DOUBLE,
    SD_DECIMAL, /* precision, scale; values as __int128 unscaled */
    SD_STRING,  /* UTF-8 bytes */
    SD_BINARY,
    SD_DATE,          /* int32 days since 1970-01-01 */
    SD_TIMESTAMP,     /* int64 microseconds since epoch, UTC */
    SD_TIMESTAMP_NTZ, /* int64 microseconds, no time zone */
    SD_STRUCT,        /* children = fields */
    SD_LIST,          /* one child: the element */
    SD_MAP,           /* two children: key (not nullable), value */
} sd_type_kind;

typedef struct sd_field sd_field;

/* A type. Nested types own their children. */
typedef struct sd_type {
    sd_type_kind kind;
    int precision; /* SD_DECIMAL */
    int scale;     /* SD_DECIMAL */
    int nchildren;
    sd_field *children;
} sd_type;

/* A named, possibly nullable field. A schema is a struct type; the top-level
 * fields are the table's columns. */
struct sd_field {
    char *name;
    sd_type type;
    bool nullable;
};

typedef sd_type sd_schema; /* always kind == SD_STRUCT */

/* Width in bytes of one value of a fixed-width kind in a column's `values`
 * array (bool 1, decimal 16), 0 for variable-width and nested kinds. */
size_t sd_type_width(sd_type_kind kind);
const char *sd_type_kind_name(sd_type_kind kind);
bool sd_type_is_nested(sd_type_kind kind);

/* Building schemas. sd_schema_new() returns an empty struct type;
 * sd_type_add_field() appends a field (copying `name`) and returns it so the
 * caller can fill nested children. */
sd_schema *sd_schema_new(void);
sd_field *sd_type_add_field(sd_type *parent, const char *name, sd_type_kind kind, bool nullable);
void sd_type_copy(sd_type *dst, const sd_type *src);
void sd_type_clear(sd_type *t); /* frees children, not t itself */
void sd_schema_free(sd_schema *s);
/* Index of a top-level field by name (exact match), or -1. */
int sd_schema_find(const sd_schema *s, const char *name);
bool sd_type_equal(const sd_type *a, const sd_type *b);
/* Render a type the way Spark's simpleString does: "int", "string",
 * "decimal(10,2)", "struct<a:int,b:array<string>>", "map<string,int>". */
void sd_type_format(const sd_type *t, sd_buf *out);

/* A column of `len` values of one type, Arrow-like:
 *  - valid: NULL when all values are present, else one byte per row (1 =
 *    present). Values under a null slot are unspecified but initialised.
 *  - fixed-width kinds: `values` holds len * sd_type_width(kind) bytes
 *    (bool as uint8_t 0/1, date int32, timestamps int64, decimal __int128).
 *  - SD_STRING/SD_BINARY: offsets[len + 1] into `data`.
 *  - SD_LIST/SD_MAP: offsets[len + 1] into the child column(s); a map has
 *    children[0] = keys and children[1] = values, both of the same length.
 *  - SD_STRUCT: one child per field, each of length len.
 * A column owns all of its buffers and children. */
typedef struct sd_column {
    const sd_type *type; /* borrowed from the schema */
    size_t len;
    uint8_t *valid;
    void *values;
    size_t values_cap; /* allocated rows in values/valid/offsets */
    int64_t *offsets;
    sd_buf data;
    int nchildren;
    struct sd_column *children;
} sd_column;

/* A batch of rows in columnar form: one column per top-level field. */
typedef struct sd_batch {
    const sd_schema *schema; /* borrowed */
    size_t nrows;
    int ncols;
    sd_column *cols;
} sd_batch;

/* Prepare an empty column (and its children) of `type`. */
void sd_column_init(sd_column *c, const sd_type *type);
/* Make room for `rows` values in total (does not change len). */
void sd_column_reserve(sd_column *c, size_t rows);
/* Turn on the validity array (filled with 1 for existing rows). */
void sd_column_ensure_valid(sd_column *c);
/* Drop values, keep allocations (recursively). */
void sd_column_reset(sd_column *c);
void sd_column_free(sd_column *c);
static inline bool sd_column_is_valid(const sd_column *c, size_t row) {
    return c->valid == NULL || c->valid[row];
}
/* Appenders for building columns value by value (tests, small paths). The
 * hot paths write the arrays directly after sd_column_reserve(). */
void sd_column_append_null(sd_column *c);
void sd_column_append_bool(sd_column *c, bool v);
void sd_column_append_i32(sd_column *c, int32_t v); /* INT8/16/32, DATE */
void sd_column_append_i64(sd_column *c, int64_t v); /* INT64, TIMESTAMP(_NTZ) */
void sd_column_append_float(sd_column *c, float v);
void sd_column_append_double(sd_column *c, double v);
void sd_column_append_decimal(sd_column *c, __int128 v);
void sd_column_append_bytes(sd_column *c, const void *p, size_t n); /* STRING/BINARY */
/* Nested: append one struct row (children appended separately by the caller,
 * each must end up with the same length) / one list or map row of `count`
 * child entries already appended to the child column(s). */
void sd_column_append_struct(sd_column *c);
void sd_column_append_list(sd_column *c, size_t count);

void sd_batch_init(sd_batch *b, const sd_schema *schema);
void sd_batch_reset(sd_batch *b);
void sd_batch_free(sd_batch *b);

/* ------------------------------------------------------------------------ */
/* Scalar values                                                             */
/* ------------------------------------------------------------------------ */

/* One typed value: statistics, partition values, predicates, literals.
 * Strings and binaries point into memory the value does not own, unless
 * created by sd_value_copy(), which owns a copy until sd_value_clear(). */
typedef struct sd_value {
    sd_type_kind kind;
    bool is_null;
    bool owns;
    int precision, scale; /* SD_DECIMAL */
    union {
        bool b;
        int64_t i; /* all integer kinds, DATE (days), TIMESTAMP* (micros) */
        double d;  /* FLOAT and DOUBLE */
        __int128 dec;
        struct {
            const uint8_t *ptr;
            size_t len;
        } s; /* STRING, BINARY */
    } u;
} sd_value;

/* The value at `row` of a column of a primitive kind (borrowing strings). */
sd_value sd_column_get(const sd_column *c, size_t row);
/* Append a scalar value of the column's primitive kind (a null value, or a
 * nested column, appends a null). */
void sd_column_append_value(sd_column *c, const sd_value *v);
void sd_value_copy(sd_value *dst, const sd_value *src);
void sd_value_clear(sd_value *v);
/* Total order within one kind: -1, 0, 1. Strings and binaries compare as
 * unsigned bytes; floats order NaN after everything else. Nulls sort first. */
int sd_value_compare(const sd_value *a, const sd_value *b);

/* ------------------------------------------------------------------------ */
/* JSON (sd_json.c): Delta log actions, Avro schemas, registry replies       */
/* ------------------------------------------------------------------------ */

typedef enum sd_json_kind {
    SD_JSON_NULL,
    SD_JSON_BOOL,
    SD_JSON_NUMBER,
    SD_JSON_STRING,
    SD_JSON_ARRAY,
    SD_JSON_OBJECT,
} sd_json_kind;

/* A parsed JSON value. A document is one allocation tree owned by its root
 * (free with sd_json_free on the root only). Strings are unescaped UTF-8,
 * NUL-terminated, with their length (they may contain NUL). Numbers keep
 * their source text so integers beyond 2^53 and decimals stay exact. Object
 * members keep document order; duplicate keys are kept (lookup finds the
 * first). */
typedef struct sd_json sd_json;
struct sd_json {
    sd_json_kind kind;
    bool boolean;  /* SD_JSON_BOOL */
    double number; /* SD_JSON_NUMBER */
    char *text;    /* SD_JSON_STRING: the string; SD_JSON_NUMBER: source text */
    size_t text_len;
    size_t count;   /* SD_JSON_ARRAY / SD_JSON_OBJECT: number of items */
    sd_json *items; /* the items (array elements or object values) */
    char **keys;    /* SD_JSON_OBJECT: keys[i] names items[i] */
    size_t *key_lens;
};

/* Parse exactly one JSON document (surrounding whitespace allowed). Returns
 * NULL and fills err with the byte offset and what was expected on any
 * syntax error, invalid UTF-8 escape, or nesting deeper than 256. */
sd_json *sd_json_parse(const char *text, size_t len, sd_error *err);
void sd_json_free(sd_json *root);
/* Member of an object by key, or NULL (also NULL when obj is not an object). */
const sd_json *sd_json_get(const sd_json *obj, const char *key);
/* Typed accessors: false when j is NULL or of another kind (or, for
 * integers, not an integer that fits). */
bool sd_json_as_int64(const sd_json *j, int64_t *out);
bool sd_json_as_double(const sd_json *j, double *out);
bool sd_json_as_bool(const sd_json *j, bool *out);
/* The string, or NULL when j is not a string. */
const char *sd_json_as_string(const sd_json *j);
/* Append `n` bytes as a quoted JSON string (escaping quotes, backslashes and
 * control characters; other UTF-8 passes through). */
void sd_json_append_string(sd_buf *out, const char *s, size_t n);
/* Append the value as compact JSON text (numbers as their source text). */
void sd_json_append(sd_buf *out, const sd_json *j);

/* ------------------------------------------------------------------------ */
/* Text helpers for values                                                   */
/* ------------------------------------------------------------------------ */

/* Dates and times, proleptic Gregorian, UTC. */
int64_t sd_days_from_civil(int64_t y, unsigned m, unsigned d);
void sd_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* "YYYY-MM-DD" */
void sd_format_date(int64_t days, sd_buf *out);
/* "YYYY-MM-DD HH:MM:SS[.ffffff]" (fraction only when non-zero, trailing
 * zeros kept to 6 digits as Spark prints). */
void sd_format_timestamp(int64_t micros, sd_buf *out);
/* Parse "YYYY-MM-DD". */
bool sd_parse_date(const char *s, size_t n, int32_t *days);
/* Parse "YYYY-MM-DD[ T]HH:MM:SS[.ffffff][Z|+00:00]" as UTC micros. */
bool sd_parse_timestamp(const char *s, size_t n, int64_t *micros);
/* Shortest decimal text that reads back to the same float / double
 * ("1.1", "1e+20", "NaN", "Infinity", "-Infinity"). */
void sd_format_float(float v, sd_buf *out);
void sd_format_double(double v, sd_buf *out);
/* Unscaled decimal with `scale` digits after the point: "-12.30". */
void sd_format_decimal(__int128 unscaled, int scale, sd_buf *out);
/* Any primitive value as text in the formats above (strings raw, binary as
 * lowercase hex, booleans true/false, null as "null"). */
void sd_format_value(const sd_value *v, sd_buf *out);

/* Append the whole of the file at `path` to `out` (NUL-terminated past its
 * length, see sd_buf_cstr). SD_ERR_NOT_FOUND / SD_ERR_IO naming the path. */
sd_status sd_read_file(const char *path, sd_buf *out, sd_error *err);

/* A hash of n bytes for in-memory hash tables (the stream's key index and
 * in-batch dedupe): word at a time with a final mix, inline because it sits
 * in the probe loops; keys are UUID strings or integers, for which a
 * byte-at-a-time hash costs more than the probe. Not stable across
 * versions: never store it. */
static inline uint64_t sd_hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)n * 0xff51afd7ed558ccdULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w ^ ((uint64_t)n << 59)) * 0x94d049bb133111ebULL;
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

/* UUIDs (sd_uuid.c), RFC 4122 version 4. */
#define SD_UUID_TEXT_SIZE 37 /* "8-4-4-4-12" lowercase hex and a NUL */
/* A random one (getrandom; time and pid when the kernel gives no entropy). */
void sd_uuid_random(uint8_t u[16]);
/* Its text: "8-4-4-4-12", lowercase. */
void sd_uuid_format(const uint8_t u[16], char out[SD_UUID_TEXT_SIZE]);
/* The text of a random one (names, ids: where the bytes are not needed). */
void sd_uuid_random_text(char out[SD_UUID_TEXT_SIZE]);
/* The text of the one made of two words (big-endian, version bits
 * stamped), for deterministic generators. */
void sd_uuid_from_words(uint64_t hi, uint64_t lo, char out[SD_UUID_TEXT_SIZE]);

/* Monotonic clock in nanoseconds, and wall clock in milliseconds. */
int64_t sd_now_ns(void);
int64_t sd_now_ms(void);

#endif /* SD_UTIL_H */
