/*
 * avro_internal.h - what the files of src/avro/ share and nobody else sees:
 *
 *   avro_schema.c    schema JSON -> node graph, defaults, canonical form
 *   avro_type.c      node -> sd_type mapping
 *   avro_resolve.c   writer x reader -> flat op array (the decode program)
 *   avro_decode.c    the op interpreter, varints, UTF-8, rollback
 *   avro_wire.c      Confluent framing, avro_stream (ids -> programs)
 *   avro_registry.c  Schema Registry over libcurl
 *   avro_ocf.c       Object Container Files
 */
#ifndef SD_AVRO_INTERNAL_H
#define SD_AVRO_INTERNAL_H

#include "avro/avro.h"

/* Nesting of records/arrays/maps/unions we accept in a schema or program.
 * Deeper (or recursive) schemas have no bounded column layout. */
#define AVRO_MAX_DEPTH 32
/* Upper bound of items in one array/map whose items take no bytes (null or
 * empty records), so a 10-byte block count cannot spin for hours. */
#define AVRO_MAX_EMPTY_ITEMS (1 << 24)

struct avro_schema {
    char *json;   /* source text */
    sd_json *doc; /* parsed source; defaults point into it */
    avro_node *root;
    avro_node **nodes; /* every node, for freeing */
    int nnodes, cap;
};

/* Encode the JSON default `def` of a value of type `n` as Avro binary
 * (spec: union defaults use the first branch). SD_ERR_FORMAT naming the
 * mismatch when the JSON does not fit the type. */
sd_status avro_encode_default(const avro_node *n, const sd_json *def, sd_buf *out, sd_error *err);

/* True when `n` is a union of null and exactly one other type; *value gets
 * that type and *null_first the null position. */
bool avro_union_nullable(const avro_node *n, const avro_node **value, int *null_index);

/* Unqualified part of a full name ("ns.Name" -> "Name"). */
const char *avro_short_name(const char *fullname);

/* ---- decode program ---------------------------------------------------- */

typedef enum avro_opcode {
    OP_END,        /* end of the (sub)program */
    OP_BOOL,       /* boolean -> bool column */
    OP_INT,        /* int -> int32 column (INT32, DATE) */
    OP_INT_LONG,   /* int -> int64 column */
    OP_INT_FLOAT,  /* int -> float */
    OP_INT_DOUBLE, /* int -> double */
    OP_LONG,       /* long -> int64 column; arg = multiplier (1 or 1000) */
    OP_LONG_FLOAT,
    OP_LONG_DOUBLE,
    OP_FLOAT,
    OP_FLOAT_DOUBLE,
    OP_DOUBLE,
    OP_STRING,    /* bytes/string -> string/binary; flags & OPF_UTF8 validates */
    OP_FIXED,     /* arg = size -> binary */
    OP_DEC_BYTES, /* bytes decimal -> decimal column */
    OP_DEC_FIXED, /* arg = size */
    OP_ENUM,      /* arg = pool index of map (writer idx -> reader sym), arg2 = writer n */
    OP_NULL,      /* append a null to the column */
    OP_STRUCT,    /* push one struct row (children already appended) */
    OP_UNION,     /* arg = nbranches; followed by that many OP_JUMP */
    OP_JUMP,      /* arg = target pc */
    OP_FAIL,      /* arg = reason, arg2 = message index */
    OP_ARRAY,     /* arg = pc after the loop; arg2 = 1 when items may be empty */
    OP_MAP,       /* same; body decodes the key then the value */
    OP_LOOP_END,  /* arg = pc of the body start */
    OP_SKIP,      /* arg = index of the writer node to skip */
    OP_DEFAULT,   /* arg = pool offset, arg2 = length, arg3 = pc after sub-program */
} avro_opcode;

#define OPF_UTF8 1

typedef struct avro_op {
    uint8_t code;
    uint8_t flags;
    int32_t col; /* preorder column slot, -1 when none */
    int32_t arg, arg2, arg3;
} avro_op;

struct avro_program {
    avro_op *ops;
    int nops, cap;
    sd_buf pool;   /* default values (Avro binary) */
    int32_t *ints; /* enum maps */
    int nints, ints_cap;
    char **strs; /* enum symbols, failure messages */
    int nstrs, strs_cap;
    const avro_node **skips; /* writer nodes to skip */
    int nskips, skips_cap;
    const sd_schema *target;
    int nslots; /* columns in preorder */
    /* binding to a batch (see avro_program_decode) */
    const sd_batch *bound;
    const sd_column *bound_cols;
    sd_column **cols;
};

/* Bounds-checked cursor over untrusted bytes. */
typedef struct avro_cursor {
    const uint8_t *p, *start, *end;
    int64_t budget; /* items that take no bytes still allowed (AVRO_MAX_EMPTY_ITEMS) */
} avro_cursor;

/* Why decoding stopped, filled by the helpers below. */
typedef struct avro_fail {
    avro_reject_reason reason;
    size_t at;
    char detail[256];
} avro_fail;

/* Read a zigzag varint long / int. false with `f` filled on truncation or
 * overflow. */
bool avro_read_long(avro_cursor *c, int64_t *out, avro_fail *f);
bool avro_read_int(avro_cursor *c, int32_t *out, avro_fail *f);
/* Skip one value of writer type `n` (bounded depth). */
bool avro_skip_value(const avro_node *n, avro_cursor *c, int depth, avro_fail *f);
bool avro_utf8_valid(const uint8_t *p, size_t n);
/* Run `p` over one body into the bound columns; false with `f` filled. */
bool avro_program_run(avro_program *p, avro_cursor *c, avro_fail *f);
/* Bind `batch` to the program (columns in preorder); SD_ERR_ARG when the
 * batch's schema differs from the program's target. */
sd_status avro_program_bind(avro_program *p, sd_batch *batch, sd_error *err);
/* Number of columns in the subtree rooted at a type (itself included). */
int avro_type_slots(const sd_type *t);

#endif /* SD_AVRO_INTERNAL_H */
