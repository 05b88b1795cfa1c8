/*
 * pq_writer_internal.h - internal interfaces of the Parquet writer, shared by
 * pq_writer.c (files, row groups, column chunks, pages), pq_schema_writer.c
 * (sd_schema -> Parquet schema elements, leaf descriptors, shredding of
 * nested columns into definition/repetition levels) and pq_stats.c
 * (min/max/null_count tracking), and by their unit tests.
 */
#ifndef SD_PQ_WRITER_INTERNAL_H
#define SD_PQ_WRITER_INTERNAL_H

#include "pq_internal.h"

/* ------------------------------------------------------------------------ */
/* Schema (pq_schema_writer.c)                                               */
/* ------------------------------------------------------------------------ */

/* Deepest nesting of groups we write. Spark tables rarely pass 5; the cap
 * keeps the per-leaf path a fixed array and the shredding recursion bounded. */
#define PQ_WRITER_MAX_DEPTH 32

/* One node on the way from a top-level column down to a leaf. */
typedef struct pq_path_step {
    sd_type_kind kind; /* the node's kind */
    bool nullable;     /* the node adds a definition level */
    int child;         /* child column taken to reach the next step */
    int16_t def;       /* definition level once this node is present */
    int16_t rep;       /* LIST/MAP: repetition level of its entries */
} pq_path_step;

/* A leaf column of the Parquet schema, with what the writer needs to turn
 * the columnar batch into levels and values. */
typedef struct pq_leaf {
    char *path; /* path_in_schema joined with '.' ("s.b", "l.list.element") */
    int npath;
    char **path_in_schema; /* Parquet names, root excluded */
    int field_index;       /* top-level field */
    bool in_repeated;      /* under a list or map */
    const sd_type *type;   /* leaf type, borrowed from the writer's schema copy */
    pq_physical_type ptype;
    int32_t type_length; /* FIXED_LEN_BYTE_ARRAY decimals */
    int16_t max_def, max_rep;
    int nsteps; /* steps[0] is the top-level column, steps[nsteps-1] the leaf */
    pq_path_step steps[PQ_WRITER_MAX_DEPTH];
} pq_leaf;

/* Convert `schema` into Parquet schema elements (depth-first, root first)
 * and leaf descriptors. Fails with SD_ERR_UNSUPPORTED for what Parquet or we
 * cannot represent (empty struct, decimal precision > 38, nesting deeper than
 * PQ_WRITER_MAX_DEPTH). Both arrays are allocated; free the elements with
 * pq_schema_elements_free and the leaves with pq_leaves_free. */
sd_status pq_schema_build(const sd_schema *schema, pq_schema_element **elems, int *nelems,
                          pq_leaf **leaves, int *nleaves, sd_error *err);
void pq_schema_elements_free(pq_schema_element *elems, int n);
void pq_leaves_free(pq_leaf *leaves, int n);

/* Bytes of a FIXED_LEN_BYTE_ARRAY big enough for any decimal of precision
 * p (1..38): the smallest n with 10^p - 1 < 2^(8n-1). */
int32_t pq_decimal_flba_length(int precision);

/* Check that a top-level column holds `rows` well-formed rows of `field`:
 * lengths, offsets monotonic and inside their children and data, and no null
 * under a present parent where the schema says non-nullable. */
sd_status pq_column_validate(const sd_field *field, const sd_column *col, size_t rows,
                             sd_error *err);

/* Levels and values of one leaf over a range of rows. Buffers grow and are
 * reused; the caller resets the counts. */
typedef struct pq_levels {
    uint32_t *def, *rep; /* one entry per level (value or null/empty) */
    size_t n, cap;
    uint32_t *idx; /* leaf-column index of each non-null value, increasing */
    size_t nidx, idx_cap;
    size_t nnulls; /* entries with def < max_def */
} pq_levels;

void pq_levels_free(pq_levels *lv);

/* The leaf's column inside top-level column `top` (struct children, list
 * elements, map keys/values). */
const sd_column *pq_leaf_column(const pq_leaf *leaf, const sd_column *top);

/* Append the levels of rows [row0, row1) of `top` for a leaf with
 * max_rep > 0 or nested inside structs. The column must have passed
 * pq_column_validate. */
void pq_shred(const pq_leaf *leaf, const sd_column *top, size_t row0, size_t row1, pq_levels *lv);

/* ------------------------------------------------------------------------ */
/* Statistics (pq_stats.c)                                                   */
/* ------------------------------------------------------------------------ */

/* Byte arrays longer than this get no min/max for their chunk: exact values
 * stay small enough for every footer, and no reader has to trust a
 * truncated bound. */
#define PQ_STAT_MAX_BYTES 1024

/* min/max/null_count of one leaf over a page, a chunk or the file, kept in
 * the leaf's logical kind (decimals by value, floats without NaN). */
typedef struct pq_stat {
    sd_type_kind kind;
    bool has_minmax;
    bool dropped; /* a byte array over PQ_STAT_MAX_BYTES: no min/max */
    int64_t null_count;
    int64_t imin, imax;  /* BOOL, integers, DATE, TIMESTAMP* */
    double dmin, dmax;   /* FLOAT, DOUBLE */
    __int128 qmin, qmax; /* DECIMAL */
    sd_buf bmin, bmax;   /* STRING, BINARY */
} pq_stat;

void pq_stat_init(pq_stat *st, sd_type_kind kind);
/* Forget values, keep buffers. */
void pq_stat_reset(pq_stat *st);
void pq_stat_free(pq_stat *st);
/* Fold the values at rows [a, b) of a fixed-width column's `values` array
 * (the sd_column layout of st->kind; all rows are present). */
void pq_stat_update_fixed(pq_stat *st, const void *values, size_t a, size_t b);
/* Fold one byte-array value. */
void pq_stat_update_bytes(pq_stat *st, const uint8_t *p, size_t n);
/* Fold src into dst (min/max and null counts). */
void pq_stat_merge(pq_stat *dst, const pq_stat *src);
/* Encode as Parquet Statistics: min_value/max_value PLAIN-encoded for the
 * leaf's physical type (byte arrays without length prefix, decimals in
 * their physical form, float zero bounds as -0.0/+0.0) and null_count.
 * out's buffers are reused. */
void pq_stat_to_thrift(const pq_stat *st, const pq_leaf *leaf, pq_statistics *out);
/* Copy min/max into owned sd_values (has_min_max false when absent). */
void pq_stat_to_summary(const pq_stat *st, const pq_leaf *leaf, pq_leaf_stats *out);

#endif /* SD_PQ_WRITER_INTERNAL_H */
