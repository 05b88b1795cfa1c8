/*
 * pq_reader.c - the Parquet reader: files (footer, validation), row groups
 * (projection, assembly), column chunks (the page loop) and pages
 * (dictionary, data v1 and v2: levels, then values by encoding).
 *
 * Format reference: apache/parquet-format (README "File format",
 * parquet.thrift, Encodings.md, LogicalTypes.md).
 *
 * Values are decoded densely (no slots for nulls) straight into the leaf's
 * column arrays whenever the physical and logical forms agree, and spread
 * over their null slots once per chunk, backwards in place (pq_assemble.c).
 * Dictionaries are converted to logical values once per chunk, so a
 * dictionary page is a gather per width (or a memcpy per string). Scratch
 * buffers live in the pq_file and are reused across pages and row groups.
 *
 * The top-level columns of a large row group are decoded on two threads,
 * one scratch set each (pq_read_fields); each column is written by one
 * thread only, so the batch and the error reported do not depend on them.
 *
 * Every offset and size read from the file is checked against the bytes of
 * the file or of the enclosing chunk/page before use; every error message
 * starts with the file name.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pq_reader_internal.h"

/* Top-level columns of a row group are decoded on up to this many threads
 * (the target machines have two cores; more would only contend). */
#define PQ_READ_THREADS 2
/* Row groups whose projected chunks hold fewer uncompressed bytes than this
 * decode on the calling thread: a thread costs ~50 us to start, which small
 * row groups do not repay. */
#define PQ_THREAD_MIN_BYTES ((int64_t)4 << 20)

/* Statistics of one column chunk, decoded once at open. */
typedef struct pq_chunk_stats {
    bool has_min_max;
    sd_value min, max;  /* owned copies */
    int64_t null_count; /* -1 when absent */
} pq_chunk_stats;

/* A projected schema handed out by pq_file_projection (kept until close). */
typedef struct pq_projection {
    int n;
    int *cols;
    sd_schema *schema;
} pq_projection;

/* Scratch reused across pages and row groups (sizes only grow). A chunk
 * is read by one thread with one scratch set, so two threads never share
 * one. */
typedef struct pq_read_scratch {
    sd_buf page;   /* decompressed page */
    sd_buf values; /* physical values / dictionary indices */
    sd_buf bytes;  /* byte-array values that need converting */
    sd_buf offs;   /* their offsets */
    uint32_t *lvl; /* levels of one page as decoded */
    size_t lvl_cap;
    sd_type dict_type;
    sd_column dict; /* the current chunk's dictionary, as logical values */
    bool has_dict;
    size_t dict_maxlen; /* longest byte-array entry of the dictionary */
} pq_read_scratch;

struct pq_file {
    char *name;
    const uint8_t *data;
    size_t size;
    void *map;      /* mmap of the file, or NULL */
    uint8_t *owned; /* read() copy when mmap is not possible */
    pq_file_meta meta;
    bool has_meta;
    pq_schema_info si;
    pq_chunk_stats *stats; /* [rg * nleaves + leaf] */
    int nproj;
    pq_projection *proj;
    /* One scratch set per decoding thread (see pq_read_fields). */
    pq_read_scratch scratch[PQ_READ_THREADS];
    int ncpus;                /* cores online, read once at open */
    int64_t thread_min_bytes; /* row groups below this decode on one thread */
};

/* The chunk being read: what every page function needs. */
typedef struct pq_chunk_ctx {
    pq_file *f;
    const pq_leaf *leaf;
    const pq_column_meta *cm;
    pq_read_scratch *s; /* this thread's scratch */
    sd_column *col;
    pq_leaf_data *ld;
    size_t nlevels_max; /* level entries the chunk declares */
    size_t page_off;    /* file offset of the page being read (0: none yet) */
    sd_error *err;
} pq_chunk_ctx;

const pq_file_meta *pq_file_meta_of(const pq_file *f) {
    return &f->meta;
}
const pq_schema_info *pq_file_schema_info(const pq_file *f) {
    return &f->si;
}
const char *pq_file_name(const pq_file *f) {
    return f->name;
}

/* Record an error as "<file>: <message>". */
__attribute__((format(printf, 4, 5))) static sd_status
pq_fail(const pq_file *f, sd_error *err, sd_status code, const char *fmt, ...) {
    char msg[SD_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sd_error_set(err, code, "%s: %s", f->name, msg);
}

/* Make an error from a lower layer read "<file>: <ctx>: <message>",
 * whether or not that layer already named the file. */
static sd_status pq_prefix(const pq_file *f, sd_error *err, const char *ctx) {
    if (err == NULL) return SD_ERR_FORMAT;
    size_t n = strlen(f->name);
    const char *rest = err->msg;
    if (strncmp(rest, f->name, n) == 0 && rest[n] == ':' && rest[n + 1] == ' ') rest += n + 2;
    char msg[SD_ERROR_MSG_MAX + 512];
    snprintf(msg, sizeof(msg), "%s: %s%s%s", f->name, ctx ? ctx : "", ctx ? ": " : "", rest);
    size_t len = strlen(msg);
    if (len >= sizeof(err->msg)) len = sizeof(err->msg) - 1;
    memcpy(err->msg, msg, len);
    err->msg[len] = 0;
    return err->code;
}

static inline uint32_t pq_le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* ------------------------------------------------------------------------ */
/* Open, footer, statistics                                                  */
/* ------------------------------------------------------------------------ */

/* Whether the deprecated min/max fields of a chunk can be trusted: they were
 * written with signed comparisons, right only for booleans and signed
 * integers (not for byte arrays, unsigned integers or floats). */
static bool pq_legacy_stats_ok(const pq_leaf *leaf) {
    if (leaf->phys == PQ_BOOLEAN) return true;
    if (leaf->phys != PQ_INT32 && leaf->phys != PQ_INT64) return false;
    switch (leaf->conv) {
        case PQ_CONV_COPY:
        case PQ_CONV_I32_TO_I8:
        case PQ_CONV_I32_TO_I16:
        case PQ_CONV_DEC_I32:
        case PQ_CONV_DEC_I64:
        case PQ_CONV_MILLIS:
        case PQ_CONV_NANOS:
            return true;
        default:
            return false;
    }
}

static bool pq_value_is_nan(const sd_value *v) {
    return (v->kind == SD_FLOAT || v->kind == SD_DOUBLE) && v->u.d != v->u.d;
}

static void pq_decode_chunk_stats(const pq_leaf *leaf, const pq_column_meta *cm,
                                  pq_chunk_stats *out) {
    memset(out, 0, sizeof(*out));
    out->null_count = -1;
    if (!cm->has_statistics) return;
    const pq_statistics *s = &cm->statistics;
    if (s->has_null_count && s->null_count >= 0) out->null_count = s->null_count;
    const sd_buf *mn = NULL, *mx = NULL;
    if (s->has_min && s->has_max) {
        mn = &s->min;
        mx = &s->max;
    } else if (s->has_legacy_min && s->has_legacy_max && pq_legacy_stats_ok(leaf)) {
        mn = &s->legacy_min;
        mx = &s->legacy_max;
    }
    if (mn == NULL) return;
    char s1[SD_UUID_TEXT_SIZE], s2[SD_UUID_TEXT_SIZE];
    sd_value a, b;
    if (!pq_convert_stat(leaf, mn->data, mn->len, s1, &a) ||
        !pq_convert_stat(leaf, mx->data, mx->len, s2, &b))
        return;
    /* A NaN bound says nothing about the other values (parquet-format:
     * readers must ignore such statistics). */
    if (pq_value_is_nan(&a) || pq_value_is_nan(&b)) return;
    sd_value_copy(&out->min, &a);
    sd_value_copy(&out->max, &b);
    out->has_min_max = true;
}

/* Check the row groups against the schema: one chunk per leaf, in this
 * file, of the leaf's physical type. */
static sd_status pq_validate_row_groups(pq_file *f, sd_error *err) {
    const pq_file_meta *m = &f->meta;
    for (int rg = 0; rg < m->nrow_groups; rg++) {
        const pq_row_group *g = &m->row_groups[rg];
        if (g->num_rows < 0 || g->num_rows > PQ_MAX_CHUNK_VALUES)
            return pq_fail(f, err, SD_ERR_FORMAT, "row group %d claims %lld rows", rg,
                           (long long)g->num_rows);
        if (g->ncolumns != f->si.nleaves)
            return pq_fail(f, err, SD_ERR_FORMAT,
                           "row group %d has %d column chunks but the schema has %d leaf columns",
                           rg, g->ncolumns, f->si.nleaves);
        for (int c = 0; c < g->ncolumns; c++) {
            const pq_column_chunk *cc = &g->columns[c];
            const pq_leaf *leaf = &f->si.leaves[c];
            if (cc->file_path != NULL)
                return pq_fail(f, err, SD_ERR_UNSUPPORTED,
                               "column %s of row group %d is stored in another file (%s)",
                               leaf->path, rg, cc->file_path);
            if (!cc->has_meta_data)
                return pq_fail(f, err, SD_ERR_FORMAT, "column %s of row group %d has no metadata",
                               leaf->path, rg);
            if (cc->meta_data.type != leaf->phys)
                return pq_fail(f, err, SD_ERR_FORMAT,
                               "column %s of row group %d is %s but the schema says %s", leaf->path,
                               rg, pq_physical_type_name(cc->meta_data.type),
                               pq_physical_type_name(leaf->phys));
        }
    }
    return SD_OK;
}

static void pq_compute_stats(pq_file *f) {
    int nl = f->si.nleaves, nrg = f->meta.nrow_groups;
    size_t total = (size_t)nl * (size_t)nrg;
    f->stats = sd_xcalloc(total ? total : 1, sizeof(pq_chunk_stats));
    for (int rg = 0; rg < nrg; rg++)
        for (int c = 0; c < nl; c++)
            pq_decode_chunk_stats(&f->si.leaves[c], &f->meta.row_groups[rg].columns[c].meta_data,
                                  &f->stats[rg * nl + c]);
}

static sd_status pq_file_init(pq_file *f, sd_error *err) {
    static const uint8_t magic[4] = {'P', 'A', 'R', '1'};
    if (f->size < 12)
        return pq_fail(f, err, SD_ERR_FORMAT, "file is too small to be Parquet (%zu bytes)",
                       f->size);
    if (memcmp(f->data + f->size - 4, "PARE", 4) == 0)
        return pq_fail(f, err, SD_ERR_UNSUPPORTED,
                       "encrypted Parquet files (footer magic PARE) are not supported");
    if (memcmp(f->data, magic, 4) != 0)
        return pq_fail(f, err, SD_ERR_FORMAT, "not a Parquet file (no PAR1 magic at the start)");
    if (memcmp(f->data + f->size - 4, magic, 4) != 0)
        return pq_fail(f, err, SD_ERR_FORMAT,
                       "truncated or not a Parquet file (no PAR1 magic at the end)");
    uint32_t flen = pq_le32(f->data + f->size - 8);
    if ((size_t)flen > f->size - 12)
        return pq_fail(f, err, SD_ERR_FORMAT,
                       "footer length %u is larger than the file (%zu bytes)", flen, f->size);
    const uint8_t *footer = f->data + f->size - 8 - flen;
    if (pq_meta_parse(footer, flen, &f->meta, f->name, err) != SD_OK)
        return pq_prefix(f, err, NULL);
    f->has_meta = true;
    if (f->meta.has_encryption)
        return pq_fail(f, err, SD_ERR_UNSUPPORTED, "encrypted Parquet files are not supported");
    if (f->meta.num_rows < 0)
        return pq_fail(f, err, SD_ERR_FORMAT, "the footer claims %lld rows",
                       (long long)f->meta.num_rows);
    if (pq_schema_map(&f->meta, &f->si, err) != SD_OK) return pq_prefix(f, err, NULL);
    if (pq_validate_row_groups(f, err) != SD_OK) return err->code;
    pq_compute_stats(f);
    return SD_OK;
}

static pq_file *pq_file_new(const char *name) {
    pq_file *f = sd_xcalloc(1, sizeof(pq_file));
    f->name = sd_xstrdup(name);
    for (int t = 0; t < PQ_READ_THREADS; t++) {
        f->scratch[t].dict_type.kind = SD_INT32;
        sd_column_init(&f->scratch[t].dict, &f->scratch[t].dict_type);
    }
    /* The cores this process may run on (a container's cpuset can allow
     * fewer than are online). */
    cpu_set_t set;
    long cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
                                                             : sysconf(_SC_NPROCESSORS_ONLN);
    f->ncpus = cpus > 0 ? (int)cpus : 1;
    f->thread_min_bytes = PQ_THREAD_MIN_BYTES;
    return f;
}

pq_file *pq_file_open_memory(const uint8_t *data, size_t len, const char *name, sd_error *err) {
    pq_file *f = pq_file_new(name ? name : "(memory)");
    f->data = data;
    f->size = len;
    if (pq_file_init(f, err) != SD_OK) {
        pq_file_close(f);
        return NULL;
    }
    return f;
}

/* Load `path` by mmap, or read() for files mmap refuses (pipes, empty). */
static sd_status pq_file_load(pq_file *f, int fd, sd_error *err) {
    struct stat st;
    if (fstat(fd, &st) != 0) return pq_fail(f, err, SD_ERR_IO, "cannot stat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode)) return pq_fail(f, err, SD_ERR_IO, "not a regular file");
    f->size = (size_t)st.st_size;
    if (f->size > 0) {
        /* Mapped lazily: a reader that only needs the footer, or a few
         * projected chunks, touches only those pages (see pq_prefetch). */
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            f->map = m;
            f->data = m;
            return SD_OK;
        }
    }
    f->owned = sd_xmalloc(f->size ? f->size : 1);
    size_t got = 0;
    while (got < f->size) {
        ssize_t r = pread(fd, f->owned + got, f->size - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return pq_fail(f, err, SD_ERR_IO, "read failed: %s",
                           r < 0 ? strerror(errno) : "file shrank");
        got += (size_t)r;
    }
    f->data = f->owned;
    return SD_OK;
}

pq_file *pq_file_open(const char *path, sd_error *err) {
    pq_file *f = pq_file_new(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sd_status code = errno == ENOENT ? SD_ERR_NOT_FOUND : SD_ERR_IO;
        pq_fail(f, err, code, "cannot open: %s", strerror(errno));
        pq_file_close(f);
        return NULL;
    }
    sd_status st = pq_file_load(f, fd, err);
    close(fd);
    if (st != SD_OK || pq_file_init(f, err) != SD_OK) {
        pq_file_close(f);
        return NULL;
    }
    return f;
}

void pq_file_close(pq_file *f) {
    if (f == NULL) return;
    if (f->stats) {
        for (int i = 0; i < f->si.nleaves * f->meta.nrow_groups; i++) {
            sd_value_clear(&f->stats[i].min);
            sd_value_clear(&f->stats[i].max);
        }
        free(f->stats);
    }
    for (int i = 0; i < f->nproj; i++) {
        free(f->proj[i].cols);
        sd_schema_free(f->proj[i].schema);
    }
    free(f->proj);
    pq_schema_info_clear(&f->si);
    if (f->has_meta) pq_file_meta_clear(&f->meta);
    if (f->map) munmap(f->map, f->size);
    free(f->owned);
    for (int t = 0; t < PQ_READ_THREADS; t++) {
        pq_read_scratch *s = &f->scratch[t];
        sd_buf_free(&s->page);
        sd_buf_free(&s->values);
        sd_buf_free(&s->bytes);
        sd_buf_free(&s->offs);
        free(s->lvl);
        sd_column_free(&s->dict);
    }
    free(f->name);
    free(f);
}

const sd_schema *pq_file_schema(const pq_file *f) {
    return f->si.schema;
}
int64_t pq_file_num_rows(const pq_file *f) {
    return f->meta.num_rows;
}
int pq_file_num_row_groups(const pq_file *f) {
    return f->meta.nrow_groups;
}

int64_t pq_file_row_group_rows(const pq_file *f, int rg) {
    if (rg < 0 || rg >= f->meta.nrow_groups) return 0;
    return f->meta.row_groups[rg].num_rows;
}

/* ------------------------------------------------------------------------ */
/* Statistics and row-group skipping                                         */
/* ------------------------------------------------------------------------ */

static int pq_find_leaf(const pq_file *f, const char *path) {
    for (int i = 0; i < f->si.nleaves; i++)
        if (strcmp(f->si.leaves[i].stats_path, path) == 0) return i;
    for (int i = 0; i < f->si.nleaves; i++)
        if (strcmp(f->si.leaves[i].path, path) == 0) return i;
    return -1;
}

sd_status pq_file_leaf_stats(const pq_file *f, int rg, const char *path, bool *has_min_max,
                             sd_value *min, sd_value *max, int64_t *null_count, sd_error *err) {
    if (rg < 0 || rg >= f->meta.nrow_groups)
        return pq_fail(f, err, SD_ERR_ARG, "row group %d does not exist (the file has %d)", rg,
                       f->meta.nrow_groups);
    int leaf = pq_find_leaf(f, path);
    if (leaf < 0) return pq_fail(f, err, SD_ERR_NOT_FOUND, "no leaf column named %s", path);
    const pq_chunk_stats *s = &f->stats[rg * f->si.nleaves + leaf];
    *has_min_max = s->has_min_max;
    if (s->has_min_max) {
        *min = s->min;
        max[0] = s->max;
        min->owns = false;
        max->owns = false;
    }
    *null_count = s->null_count;
    return SD_OK;
}

/* Does the chunk's [min, max] (or its null count) prove that no row
 * satisfies `p`? Conservative: any doubt keeps the row group. */
static bool pq_pred_excludes(const pq_chunk_stats *s, const pq_leaf *leaf, int64_t rows,
                             const pq_predicate *p) {
    if (p->op == PQ_IS_NULL) return s->null_count == 0;
    if (leaf->in_repeated) return false;
    bool all_null = s->null_count >= 0 && s->null_count == rows && rows > 0;
    if (p->op == PQ_IS_NOT_NULL) return all_null;
    if (p->value.is_null || pq_value_is_nan(&p->value)) return false;
    if (all_null) return true; /* a comparison with null is never true */
    if (!s->has_min_max || p->value.kind != leaf->kind) return false;
    if (leaf->kind == SD_DECIMAL && p->value.scale != leaf->scale) return false;
    int lo = sd_value_compare(&p->value, &s->min); /* value vs min */
    int hi = sd_value_compare(&p->value, &s->max); /* value vs max */
    switch (p->op) {
        case PQ_EQ:
            return lo < 0 || hi > 0;
        case PQ_NE:
            return lo == 0 && hi == 0 && sd_value_compare(&s->min, &s->max) == 0;
        case PQ_LT:
            return lo <= 0; /* min >= value */
        case PQ_LE:
            return lo < 0; /* min > value */
        case PQ_GT:
            return hi >= 0; /* max <= value */
        case PQ_GE:
            return hi > 0; /* max < value */
        default:
            return false;
    }
}

bool pq_row_group_can_skip(const pq_file *f, int rg, const pq_predicate *preds, int npreds) {
    if (rg < 0 || rg >= f->meta.nrow_groups) return false;
    int64_t rows = f->meta.row_groups[rg].num_rows;
    for (int i = 0; i < npreds; i++) {
        if (preds[i].path == NULL) continue;
        int leaf = pq_find_leaf(f, preds[i].path);
        if (leaf < 0) continue;
        if (pq_pred_excludes(&f->stats[rg * f->si.nleaves + leaf], &f->si.leaves[leaf], rows,
                             &preds[i]))
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Projection                                                                */
/* ------------------------------------------------------------------------ */

const sd_schema *pq_file_projection(pq_file *f, const int *columns, int ncolumns) {
    if (columns == NULL) return f->si.schema;
    for (int i = 0; i < ncolumns; i++)
        if (columns[i] < 0 || columns[i] >= f->si.schema->nchildren) return NULL;
    for (int i = 0; i < f->nproj; i++)
        if (f->proj[i].n == ncolumns &&
            memcmp(f->proj[i].cols, columns, (size_t)ncolumns * sizeof(int)) == 0)
            return f->proj[i].schema;
    sd_schema *s = sd_schema_new();
    for (int i = 0; i < ncolumns; i++) {
        const sd_field *src = &f->si.schema->children[columns[i]];
        sd_field *dst = sd_type_add_field(s, src->name, src->type.kind, src->nullable);
        sd_type_copy(&dst->type, &src->type);
    }
    f->proj = sd_xrealloc(f->proj, (size_t)(f->nproj + 1) * sizeof(pq_projection));
    pq_projection *p = &f->proj[f->nproj++];
    p->n = ncolumns;
    p->cols = sd_xmalloc((size_t)(ncolumns ? ncolumns : 1) * sizeof(int));
    if (ncolumns) memcpy(p->cols, columns, (size_t)ncolumns * sizeof(int));
    p->schema = s;
    return s;
}

/* ------------------------------------------------------------------------ */
/* Values of one page                                                        */
/* ------------------------------------------------------------------------ */

__attribute__((format(printf, 3, 4))) static sd_status
pq_chunk_fail(pq_chunk_ctx *cx, sd_status code, const char *fmt, ...) {
    char msg[SD_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (cx->page_off == 0)
        return sd_error_set(cx->err, code, "%s: column %s: %s", cx->f->name, cx->leaf->path, msg);
    return sd_error_set(cx->err, code, "%s: column %s, page at offset %zu: %s", cx->f->name,
                        cx->leaf->path, cx->page_off, msg);
}

static void *pq_scratch(sd_buf *b, size_t n) {
    b->len = 0;
    sd_buf_reserve(b, n ? n : 1);
    return b->data;
}

static sd_status pq_decode_failed(pq_chunk_ctx *cx, pq_encoding enc) {
    return pq_chunk_fail(cx, SD_ERR_FORMAT, "corrupt %s values in a page", pq_encoding_name(enc));
}

/* Ask for transparent huge pages on the 2 MiB-aligned interior of a large
 * output buffer before it is first written: a row group's columns are
 * hundreds of MB of fresh memory, and faulting them in 4 KiB at a time was
 * a third of a full read (perf: page faults, memcg charging, page-table
 * locks, which also serialise two decoding threads). On 2M rows of the
 * benchmark (one 128 MiB row group, snappy, one thread) this took the read
 * from 0.28 s to 0.20 s (best of 5; 74,800 page faults -> 5,200). Advisory:
 * where THP is off the call fails and nothing changes. */
static void pq_advise_huge(void *p, size_t n) {
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (p == NULL || n < 2 * huge) return;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t e = ((uintptr_t)p + n) & ~(huge - 1);
    if (e > a) madvise((void *)a, e - a, MADV_HUGEPAGE);
}

/* Make room for `need` more bytes in a string column, growing once for the
 * rest of the chunk (extrapolated from this page) rather than doubling. */
static void pq_reserve_bytes(pq_chunk_ctx *cx, sd_column *dst, size_t need, size_t n) {
    sd_buf *b = &dst->data;
    if (b->cap - b->len >= need && b->data != NULL) return;
    size_t left = cx->nlevels_max > cx->ld->nlevels ? cx->nlevels_max - cx->ld->nlevels : 0;
    size_t more = need;
    if (n > 0 && left > n && need / n < ((size_t)1 << 20))
        more = need + (need / n) * (left - n) + need / 8;
    /* A hostile size must not make us allocate beyond what we will fill. */
    if (more > ((size_t)1 << 34)) more = need;
    sd_buf_reserve(b, more);
    pq_advise_huge(b->data, b->cap);
}

/* Fixed-width physical values decoded by `enc` into dst at row pos,
 * directly when no conversion is needed. */
static sd_status pq_values_fixed(pq_chunk_ctx *cx, pq_encoding enc, const uint8_t *p, size_t len,
                                 size_t n, sd_column *dst, size_t pos) {
    const pq_leaf *leaf = cx->leaf;
    size_t pw = pq_physical_width(leaf->phys, leaf->type_length);
    bool direct = leaf->conv == PQ_CONV_COPY;
    void *out = direct ? (uint8_t *)dst->values + pos * pw : pq_scratch(&cx->s->values, n * pw);
    size_t used;
    bool ok;
    switch (enc) {
        case PQ_ENC_PLAIN:
            ok = pq_plain_decode_fixed(p, len, pw, n, out, &used);
            break;
        case PQ_ENC_BYTE_STREAM_SPLIT:
            ok = pq_byte_stream_split_decode(p, len, pw, n, out);
            break;
        case PQ_ENC_DELTA_BINARY_PACKED:
            if (leaf->phys == PQ_INT32)
                ok = pq_delta_decode_i32(p, len, n, out, &used);
            else if (leaf->phys == PQ_INT64)
                ok = pq_delta_decode_i64(p, len, n, out, &used);
            else
                return pq_chunk_fail(cx, SD_ERR_FORMAT, "DELTA_BINARY_PACKED on %s values",
                                     pq_physical_type_name(leaf->phys));
            break;
        default:
            return pq_chunk_fail(cx, SD_ERR_UNSUPPORTED, "encoding %s is not supported for %s",
                                 pq_encoding_name(enc), pq_physical_type_name(leaf->phys));
    }
    if (!ok) return pq_decode_failed(cx, enc);
    if (direct) return SD_OK;
    if (pq_convert_fixed(leaf, out, n, dst, pos, cx->err) != SD_OK)
        return pq_prefix(cx->f, cx->err, NULL);
    return SD_OK;
}

/* Byte-array values (BYTE_ARRAY, or FLBA through DELTA_BYTE_ARRAY): into the
 * column's (offsets, data) directly for strings and binaries, else through
 * scratch and a conversion. */
static sd_status pq_values_bytes(pq_chunk_ctx *cx, pq_encoding enc, const uint8_t *p, size_t len,
                                 size_t n, sd_column *dst, size_t pos) {
    const pq_leaf *leaf = cx->leaf;
    pq_read_scratch *s = cx->s;
    bool direct = leaf->conv == PQ_CONV_BYTES;
    pq_bytes_sink sink;
    if (direct) {
        sink.offsets = dst->offsets + pos;
        sink.data = &dst->data;
        /* +64: the block copies of pq_plain_decode_bytes need slack */
        pq_reserve_bytes(cx, dst, len + 64, n);
    } else {
        sink.offsets = pq_scratch(&s->offs, (n + 1) * sizeof(int64_t));
        sink.offsets[0] = 0;
        s->bytes.len = 0;
        sink.data = &s->bytes;
    }
    size_t used;
    bool ok;
    switch (enc) {
        case PQ_ENC_PLAIN:
            if (leaf->phys == PQ_FIXED_LEN_BYTE_ARRAY)
                ok =
                    pq_plain_decode_fixed_bytes(p, len, (size_t)leaf->type_length, n, &sink, &used);
            else
                ok = pq_plain_decode_bytes(p, len, n, &sink, &used);
            break;
        case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
            if (leaf->phys != PQ_BYTE_ARRAY)
                return pq_chunk_fail(cx, SD_ERR_FORMAT, "DELTA_LENGTH_BYTE_ARRAY on %s values",
                                     pq_physical_type_name(leaf->phys));
            ok = pq_delta_length_decode(p, len, n, &sink, &used);
            break;
        case PQ_ENC_DELTA_BYTE_ARRAY:
            ok = pq_delta_byte_array_decode(p, len, n, &sink, &used);
            break;
        default:
            return pq_chunk_fail(cx, SD_ERR_UNSUPPORTED, "encoding %s is not supported for %s",
                                 pq_encoding_name(enc), pq_physical_type_name(leaf->phys));
    }
    if (!ok) return pq_decode_failed(cx, enc);
    if (direct) return SD_OK;
    /* The conversions of FLBA values rely on their declared length. */
    if (leaf->phys == PQ_FIXED_LEN_BYTE_ARRAY)
        for (size_t i = 0; i < n; i++)
            if (sink.offsets[i + 1] - sink.offsets[i] != leaf->type_length)
                return pq_chunk_fail(cx, SD_ERR_FORMAT, "value of %lld bytes in a column of %d",
                                     (long long)(sink.offsets[i + 1] - sink.offsets[i]),
                                     leaf->type_length);
    if (pq_convert_bytes(leaf, sink.offsets, s->bytes.data, n, dst, pos, cx->err) != SD_OK)
        return pq_prefix(cx->f, cx->err, NULL);
    return SD_OK;
}

/* Booleans: PLAIN (bit-packed) or RLE (4-byte length, then bit width 1). */
static sd_status pq_values_bools(pq_chunk_ctx *cx, pq_encoding enc, const uint8_t *p, size_t len,
                                 size_t n, sd_column *dst, size_t pos) {
    uint8_t *out = (uint8_t *)dst->values + pos;
    size_t used;
    if (enc == PQ_ENC_PLAIN) {
        if (!pq_plain_decode_bools(p, len, n, out, &used)) return pq_decode_failed(cx, enc);
        return SD_OK;
    }
    if (enc != PQ_ENC_RLE)
        return pq_chunk_fail(cx, SD_ERR_UNSUPPORTED, "encoding %s is not supported for BOOLEAN",
                             pq_encoding_name(enc));
    if (len < 4 || pq_le32(p) > len - 4) return pq_decode_failed(cx, enc);
    uint32_t *tmp = pq_scratch(&cx->s->values, n * sizeof(uint32_t));
    pq_rle_decoder d;
    pq_rle_decoder_init(&d, p + 4, pq_le32(p), 1);
    if (!pq_rle_decode(&d, tmp, n)) return pq_decode_failed(cx, enc);
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(tmp[i] & 1);
    return SD_OK;
}

/* Byte-array dictionary gather: one pass to size the output, then copies.
 * Short entries (the usual ids and codes) are copied as one fixed 64-byte
 * block: the dictionary and the output both keep 64 bytes of slack, so the
 * overrun stays inside their allocations and is overwritten next. */
static sd_status pq_gather_bytes(pq_chunk_ctx *cx, const uint32_t *idx, size_t n, sd_column *dst,
                                 size_t pos) {
    const sd_column *dict = &cx->s->dict;
    const int64_t *doff = dict->offsets;
    const uint8_t *dd = dict->data.data;
    size_t at;
    int64_t *o = dst->offsets + pos;
    if (cx->s->dict_maxlen <= 64) {
        /* n * maxlen bounds the output: no sizing pass needed. */
        pq_reserve_bytes(cx, dst, n * cx->s->dict_maxlen + 64, n);
        uint8_t *base = dst->data.data;
        at = dst->data.len;
        for (size_t i = 0; i < n; i++) {
            int64_t a = doff[idx[i]];
            memcpy(base + at, dd + a, 64);
            at += (size_t)(doff[idx[i] + 1] - a);
            o[i + 1] = (int64_t)at;
        }
    } else {
        size_t total = 0;
        for (size_t i = 0; i < n; i++) total += (size_t)(doff[idx[i] + 1] - doff[idx[i]]);
        pq_reserve_bytes(cx, dst, total, n);
        uint8_t *base = dst->data.data;
        at = dst->data.len;
        for (size_t i = 0; i < n; i++) {
            int64_t a = doff[idx[i]];
            size_t l = (size_t)(doff[idx[i] + 1] - a);
            memcpy(base + at, dd + a, l);
            at += l;
            o[i + 1] = (int64_t)at;
        }
    }
    dst->data.len = at;
    return SD_OK;
}

#define PQ_GATHER(T)                                                                               \
    do {                                                                                           \
        T *o = (T *)dst->values + pos;                                                             \
        const T *dv = (const T *)dict->values;                                                     \
        for (size_t i = 0; i < n; i++) o[i] = dv[idx[i]];                                          \
    } while (0)

/* Dictionary indices -> values, one loop per value width. */
static sd_status pq_values_dict(pq_chunk_ctx *cx, const uint8_t *p, size_t len, size_t n,
                                sd_column *dst, size_t pos) {
    pq_read_scratch *s = cx->s;
    const sd_column *dict = &s->dict;
    if (!s->has_dict)
        return pq_chunk_fail(cx, SD_ERR_FORMAT,
                             "dictionary-encoded page without a dictionary page");
    uint32_t *idx = pq_scratch(&s->values, n * sizeof(uint32_t));
    if (!pq_dict_indices_decode(p, len, n, idx))
        return pq_chunk_fail(cx, SD_ERR_FORMAT, "corrupt dictionary indices in a page");
    uint32_t maxi = 0;
    for (size_t i = 0; i < n; i++) maxi = idx[i] > maxi ? idx[i] : maxi;
    if (n > 0 && maxi >= dict->len)
        return pq_chunk_fail(cx, SD_ERR_FORMAT,
                             "dictionary index %u out of range (the dictionary has %zu values)",
                             maxi, dict->len);
    sd_type_kind kind = dst->type->kind;
    if (kind == SD_STRING || kind == SD_BINARY) return pq_gather_bytes(cx, idx, n, dst, pos);
    switch (sd_type_width(kind)) {
        case 1:
            PQ_GATHER(uint8_t);
            break;
        case 2:
            PQ_GATHER(uint16_t);
            break;
        case 4:
            PQ_GATHER(uint32_t);
            break;
        case 8:
            PQ_GATHER(uint64_t);
            break;
        case 16:
            PQ_GATHER(__int128);
            break;
        default:
            return pq_chunk_fail(cx, SD_ERR_INTERNAL, "dictionary of a nested type");
    }
    return SD_OK;
}

/* Decode n dense values of encoding enc into dst at row pos. */
static sd_status pq_decode_values(pq_chunk_ctx *cx, pq_encoding enc, const uint8_t *p, size_t len,
                                  size_t n, sd_column *dst, size_t pos) {
    if (n == 0) return SD_OK;
    if (enc == PQ_ENC_PLAIN_DICTIONARY || enc == PQ_ENC_RLE_DICTIONARY)
        return pq_values_dict(cx, p, len, n, dst, pos);
    if (cx->leaf->phys == PQ_BOOLEAN) return pq_values_bools(cx, enc, p, len, n, dst, pos);
    bool bytes = cx->leaf->phys == PQ_BYTE_ARRAY ||
                 (cx->leaf->phys == PQ_FIXED_LEN_BYTE_ARRAY &&
                  (enc == PQ_ENC_DELTA_BYTE_ARRAY ||
                   (enc == PQ_ENC_PLAIN && cx->leaf->conv == PQ_CONV_BYTES)));
    if (bytes) return pq_values_bytes(cx, enc, p, len, n, dst, pos);
    return pq_values_fixed(cx, enc, p, len, n, dst, pos);
}

/* ------------------------------------------------------------------------ */
/* Levels                                                                    */
/* ------------------------------------------------------------------------ */

static uint32_t *pq_level_scratch(pq_read_scratch *s, size_t n) {
    if (n > s->lvl_cap) {
        free(s->lvl);
        s->lvl_cap = n + n / 2 + 64;
        s->lvl = sd_xmalloc(s->lvl_cap * sizeof(uint32_t));
    }
    return s->lvl;
}

/* True when an RLE level stream starts with one run of `max` that covers
 * all n values: the common all-present page, read without decoding. */
static bool pq_levels_all_max(const uint8_t *p, size_t len, int bit_width, size_t n, int max) {
    uint64_t h = 0;
    size_t i = 0;
    for (int shift = 0; i < len && shift < 35; shift += 7) {
        uint8_t b = p[i++];
        h |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) goto have_header;
    }
    return false;
have_header:
    if ((h & 1) || (h >> 1) < n) return false;
    size_t vb = (size_t)(bit_width + 7) / 8;
    if (len - i < vb) return false;
    uint32_t v = 0;
    for (size_t k = 0; k < vb; k++) v |= (uint32_t)p[i + k] << (8 * k);
    return v == (uint32_t)max;
}

/* Decode n levels (max `max`) from a stream of `len` bytes (already
 * delimited) into out; out == NULL with *all_max set means "all equal to
 * max" (nothing written). */
static sd_status pq_decode_levels(pq_chunk_ctx *cx, pq_encoding enc, const uint8_t *p, size_t len,
                                  size_t n, int max, const char *what, uint8_t *out,
                                  bool *all_max) {
    int bw = pq_bit_width((uint64_t)max);
    *all_max = false;
    if (enc == PQ_ENC_RLE && pq_levels_all_max(p, len, bw, n, max)) {
        *all_max = true;
        return SD_OK;
    }
    uint32_t *tmp = pq_level_scratch(cx->s, n);
    bool ok;
    if (enc == PQ_ENC_RLE) {
        pq_rle_decoder d;
        pq_rle_decoder_init(&d, p, len, bw);
        ok = pq_rle_decode(&d, tmp, n);
    } else if (enc == PQ_ENC_BIT_PACKED) {
        ok = pq_bit_packed_levels_decode(p, len, bw, n, tmp);
    } else {
        return pq_chunk_fail(cx, SD_ERR_UNSUPPORTED, "%s level encoding %s is not supported", what,
                             pq_encoding_name(enc));
    }
    if (!ok) return pq_chunk_fail(cx, SD_ERR_FORMAT, "corrupt %s levels in a page", what);
    uint32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        m = tmp[i] > m ? tmp[i] : m;
        out[i] = (uint8_t)tmp[i];
    }
    if (m > (uint32_t)max)
        return pq_chunk_fail(cx, SD_ERR_FORMAT, "%s level %u above the maximum %d", what, m, max);
    return SD_OK;
}

/* Make sure the chunk's definition levels are materialised (pages so far
 * were all present and left them implicit). */
static void pq_def_materialise(pq_chunk_ctx *cx) {
    pq_leaf_data *ld = cx->ld;
    if (ld->def) return;
    ld->def = sd_xmalloc(cx->nlevels_max ? cx->nlevels_max : 1);
    memset(ld->def, cx->leaf->max_def, ld->nlevels);
}

/* Levels of a page of nv entries, rep then def, from the given streams;
 * returns the number of present (dense) values in *ndense. */
static sd_status pq_page_levels(pq_chunk_ctx *cx, pq_encoding rep_enc, const uint8_t *rp,
                                size_t rlen, pq_encoding def_enc, const uint8_t *dp, size_t dlen,
                                size_t nv, size_t *ndense) {
    const pq_leaf *leaf = cx->leaf;
    pq_leaf_data *ld = cx->ld;
    bool all;
    if (leaf->max_rep > 0) {
        if (pq_decode_levels(cx, rep_enc, rp, rlen, nv, leaf->max_rep, "repetition",
                             ld->rep + ld->nlevels, &all) != SD_OK)
            return cx->err->code;
        if (all) memset(ld->rep + ld->nlevels, leaf->max_rep, nv);
    }
    *ndense = nv;
    if (leaf->max_def == 0) return SD_OK;
    uint8_t *out = ld->def ? ld->def + ld->nlevels : pq_scratch(&cx->s->bytes, nv);
    if (pq_decode_levels(cx, def_enc, dp, dlen, nv, leaf->max_def, "definition", out, &all) !=
        SD_OK)
        return cx->err->code;
    if (all) {
        if (ld->def) memset(out, leaf->max_def, nv);
        return SD_OK;
    }
    size_t d = 0;
    for (size_t i = 0; i < nv; i++) d += out[i] == leaf->max_def;
    *ndense = d;
    if (ld->def == NULL) {
        pq_def_materialise(cx);
        memcpy(ld->def + ld->nlevels, out, nv);
    }
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Pages                                                                     */
/* ------------------------------------------------------------------------ */

/* The page body, decompressed if needed (into the scratch's page). */
static sd_status pq_page_body(pq_chunk_ctx *cx, const uint8_t *p, size_t csize, size_t usize,
                              bool compressed, const uint8_t **out) {
    if (!compressed || cx->cm->codec == PQ_CODEC_UNCOMPRESSED) {
        if (csize != usize)
            return pq_chunk_fail(cx, SD_ERR_FORMAT,
                                 "uncompressed page of %zu bytes declares %zu bytes", csize, usize);
        *out = p;
        return SD_OK;
    }
    uint8_t *buf = pq_scratch(&cx->s->page, usize);
    if (pq_decompress(cx->cm->codec, p, csize, buf, usize, cx->err) != SD_OK) {
        char ctx[256];
        snprintf(ctx, sizeof(ctx), "column %s, page at offset %zu", cx->leaf->path, cx->page_off);
        return pq_prefix(cx->f, cx->err, ctx);
    }
    *out = buf;
    return SD_OK;
}

static sd_status pq_check_page_values(pq_chunk_ctx *cx, int32_t nv) {
    size_t left = cx->nlevels_max - cx->ld->nlevels;
    if (nv < 0 || (size_t)nv > left)
        return pq_chunk_fail(cx, SD_ERR_FORMAT,
                             "a page claims %d values but the column chunk has only %zu left", nv,
                             left);
    return SD_OK;
}

static sd_status pq_read_dictionary(pq_chunk_ctx *cx, const pq_page_header *h, const uint8_t *p) {
    if (!h->has_dictionary_page_header)
        return pq_chunk_fail(cx, SD_ERR_FORMAT, "dictionary page without its header");
    const pq_dictionary_page_header *dh = &h->dictionary_page_header;
    if (dh->encoding != PQ_ENC_PLAIN && dh->encoding != PQ_ENC_PLAIN_DICTIONARY)
        return pq_chunk_fail(cx, SD_ERR_UNSUPPORTED, "dictionary page encoding %s is not supported",
                             pq_encoding_name(dh->encoding));
    const uint8_t *body;
    size_t usize = (size_t)h->uncompressed_page_size;
    if (pq_page_body(cx, p, (size_t)h->compressed_page_size, usize, true, &body) != SD_OK)
        return cx->err->code;
    /* Every dictionary entry takes at least one byte (booleans have no
     * dictionaries), which bounds the allocation below. */
    if (dh->num_values < 0 || (size_t)dh->num_values > usize)
        return pq_chunk_fail(cx, SD_ERR_FORMAT, "dictionary page claims %d values in %zu bytes",
                             dh->num_values, usize);
    pq_read_scratch *s = cx->s;
    sd_column_free(&s->dict);
    s->dict_type.kind = cx->leaf->kind;
    s->dict_type.precision = cx->leaf->precision;
    s->dict_type.scale = cx->leaf->scale;
    sd_column_init(&s->dict, &s->dict_type);
    s->has_dict = false;
    size_t n = (size_t)dh->num_values;
    sd_column_reserve(&s->dict, n);
    /* The body might live in s->page; the value decoders use other scratch. */
    if (pq_decode_values(cx, PQ_ENC_PLAIN, body, usize, n, &s->dict, 0) != SD_OK)
        return cx->err->code;
    s->dict.len = n;
    s->dict_maxlen = 0;
    if (s->dict.offsets) {
        for (size_t i = 0; i < n; i++) {
            size_t l = (size_t)(s->dict.offsets[i + 1] - s->dict.offsets[i]);
            s->dict_maxlen = l > s->dict_maxlen ? l : s->dict_maxlen;
        }
        /* slack for the 64-byte block copies of pq_gather_bytes */
        sd_buf_reserve(&s->dict.data, 64);
        memset(s->dict.data.data + s->dict.data.len, 0, 64);
    }
    s->has_dict = true;
    return SD_OK;
}

static sd_status pq_read_data_v1(pq_chunk_ctx *cx, const pq_page_header *h, const uint8_t *p) {
    if (!h->has_data_page_header)
        return pq_chunk_fail(cx, SD_ERR_FORMAT, "data page without its header");
    const pq_data_page_header *dh = &h->data_page_header;
    if (pq_check_page_values(cx, dh->num_values) != SD_OK) return cx->err->code;
    const uint8_t *body;
    size_t len = (size_t)h->uncompressed_page_size;
    if (pq_page_body(cx, p, (size_t)h->compressed_page_size, len, true, &body) != SD_OK)
        return cx->err->code;
    size_t nv = (size_t)dh->num_values;
    const uint8_t *lv[2] = {NULL, NULL};
    size_t ll[2] = {0, 0};
    int maxes[2] = {cx->leaf->max_rep, cx->leaf->max_def};
    pq_encoding encs[2] = {dh->repetition_level_encoding, dh->definition_level_encoding};
    size_t at = 0;
    for (int k = 0; k < 2; k++) {
        if (maxes[k] == 0) continue;
        size_t n;
        if (encs[k] == PQ_ENC_BIT_PACKED) {
            n = (nv * (size_t)pq_bit_width((uint64_t)maxes[k]) + 7) / 8;
        } else {
            if (len - at < 4)
                return pq_chunk_fail(cx, SD_ERR_FORMAT, "page ends inside its levels");
            n = pq_le32(body + at);
            at += 4;
        }
        if (n > len - at)
            return pq_chunk_fail(cx, SD_ERR_FORMAT, "levels of %zu bytes past the end of the page",
                                 n);
        lv[k] = body + at;
        ll[k] = n;
        at += n;
    }
    size_t nd;
    if (pq_page_levels(cx, encs[0], lv[0], ll[0], encs[1], lv[1], ll[1], nv, &nd) != SD_OK)
        return cx->err->code;
    sd_column_reserve(cx->col, cx->ld->ndense + nd);
    if (pq_decode_values(cx, dh->encoding, body + at, len - at, nd, cx->col, cx->ld->ndense) !=
        SD_OK)
        return cx->err->code;
    cx->ld->nlevels += nv;
    cx->ld->ndense += nd;
    return SD_OK;
}

static sd_status pq_read_data_v2(pq_chunk_ctx *cx, const pq_page_header *h, const uint8_t *p) {
    if (!h->has_data_page_header_v2)
        return pq_chunk_fail(cx, SD_ERR_FORMAT, "data page v2 without its header");
    const pq_data_page_header_v2 *dh = &h->data_page_header_v2;
    if (pq_check_page_values(cx, dh->num_values) != SD_OK) return cx->err->code;
    size_t csize = (size_t)h->compressed_page_size, usize = (size_t)h->uncompressed_page_size;
    int32_t rl = dh->repetition_levels_byte_length, dl = dh->definition_levels_byte_length;
    if (rl < 0 || dl < 0 || (size_t)rl + (size_t)dl > csize || (size_t)rl + (size_t)dl > usize)
        return pq_chunk_fail(cx, SD_ERR_FORMAT,
                             "page v2 levels (%d + %d bytes) exceed the page (%zu bytes)", rl, dl,
                             csize);
    size_t lvl = (size_t)rl + (size_t)dl;
    size_t nv = (size_t)dh->num_values, nd;
    if (pq_page_levels(cx, PQ_ENC_RLE, p, (size_t)rl, PQ_ENC_RLE, p + rl, (size_t)dl, nv, &nd) !=
        SD_OK)
        return cx->err->code;
    const uint8_t *body;
    if (pq_page_body(cx, p + lvl, csize - lvl, usize - lvl, dh->is_compressed, &body) != SD_OK)
        return cx->err->code;
    sd_column_reserve(cx->col, cx->ld->ndense + nd);
    if (pq_decode_values(cx, dh->encoding, body, usize - lvl, nd, cx->col, cx->ld->ndense) != SD_OK)
        return cx->err->code;
    cx->ld->nlevels += nv;
    cx->ld->ndense += nd;
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Column chunks                                                             */
/* ------------------------------------------------------------------------ */

static sd_status pq_check_codec(pq_chunk_ctx *cx) {
    switch (cx->cm->codec) {
        case PQ_CODEC_UNCOMPRESSED:
        case PQ_CODEC_SNAPPY:
        case PQ_CODEC_GZIP:
        case PQ_CODEC_ZSTD:
        case PQ_CODEC_LZ4_RAW:
            return SD_OK;
        case PQ_CODEC_LZ4:
            return pq_chunk_fail(cx, SD_ERR_UNSUPPORTED,
                                 "codec LZ4 (Hadoop framing) is not supported; write LZ4_RAW");
        case PQ_CODEC_BROTLI:
        case PQ_CODEC_LZO:
            return pq_chunk_fail(cx, SD_ERR_UNSUPPORTED, "codec %s is not supported",
                                 cx->cm->codec == PQ_CODEC_LZO ? "LZO" : "BROTLI");
    }
    return pq_chunk_fail(cx, SD_ERR_FORMAT, "unknown codec %d", (int)cx->cm->codec);
}

/* The byte range of a chunk: from its first page (the dictionary page when
 * there is one; some writers leave dictionary_page_offset 0 or point it at
 * the data) for total_compressed_size bytes, inside the file. */
static sd_status pq_chunk_range(pq_chunk_ctx *cx, size_t *start, size_t *end) {
    const pq_column_meta *cm = cx->cm;
    int64_t s = cm->data_page_offset;
    if (cm->has_dictionary_page_offset && cm->dictionary_page_offset > 0 &&
        cm->dictionary_page_offset < s)
        s = cm->dictionary_page_offset;
    int64_t n = cm->total_compressed_size;
    if (s < 4 || n < 0 || (uint64_t)s > cx->f->size || (uint64_t)n > cx->f->size - (uint64_t)s)
        return pq_chunk_fail(cx, SD_ERR_FORMAT,
                             "column chunk at offset %lld of %lld bytes lies outside the file "
                             "(%zu bytes)",
                             (long long)s, (long long)n, cx->f->size);
    *start = (size_t)s;
    *end = (size_t)(s + n);
    return SD_OK;
}

static sd_status pq_read_page(pq_chunk_ctx *cx, const pq_page_header *h, const uint8_t *p) {
    switch (h->type) {
        case PQ_PAGE_DICTIONARY:
            return pq_read_dictionary(cx, h, p);
        case PQ_PAGE_DATA:
            return pq_read_data_v1(cx, h, p);
        case PQ_PAGE_DATA_V2:
            return pq_read_data_v2(cx, h, p);
        default:
            return SD_OK; /* index pages and unknown kinds carry no values */
    }
}

/* Map a chunk's pages ahead of the page loop: populating the range in one
 * call costs less than a fault per 4 KiB page. Advisory only. */
static void pq_prefetch(const pq_file *f, size_t start, size_t end) {
    if (f->map == NULL || end - start < ((size_t)1 << 20)) return;
    uintptr_t a = (uintptr_t)(f->data + start) & ~(uintptr_t)4095;
    madvise((void *)a, (size_t)((uintptr_t)(f->data + end) - a), MADV_POPULATE_READ);
}

/* Read every page of the chunk of leaf `li` in row group rg: dense values
 * into col, levels into ld. */
static sd_status pq_read_chunk(pq_file *f, int rg, int li, sd_column *col, pq_leaf_data *ld,
                               pq_read_scratch *s, sd_error *err) {
    const pq_column_meta *cm = &f->meta.row_groups[rg].columns[li].meta_data;
    pq_chunk_ctx cx = {
        .f = f, .leaf = &f->si.leaves[li], .cm = cm, .s = s, .col = col, .ld = ld, .err = err};
    const pq_leaf *leaf = cx.leaf;
    int64_t rows = f->meta.row_groups[rg].num_rows;
    ld->col = col;
    ld->leaf = leaf;
    if (cm->num_values < 0 || cm->num_values > PQ_MAX_CHUNK_VALUES)
        return pq_chunk_fail(&cx, SD_ERR_FORMAT, "column chunk claims %lld values",
                             (long long)cm->num_values);
    if (leaf->max_rep == 0 && cm->num_values != rows)
        return pq_chunk_fail(&cx, SD_ERR_FORMAT, "column chunk has %lld values for %lld rows",
                             (long long)cm->num_values, (long long)rows);
    /* An empty chunk has no pages; writers (pyarrow) leave its offsets at 0. */
    if (cm->num_values == 0) return SD_OK;
    if (pq_check_codec(&cx) != SD_OK) return err->code;
    size_t pos = 0, end = 0;
    if (pq_chunk_range(&cx, &pos, &end) != SD_OK) return err->code;
    cx.nlevels_max = (size_t)cm->num_values;
    pq_prefetch(f, pos, end);
    /* Reserve for the whole chunk at once when its size makes the count
     * plausible (every value takes at least a bit); chunks of long RLE runs
     * grow page by page instead, so a few hostile bytes cannot claim
     * gigabytes up front. */
    size_t guess = cx.nlevels_max;
    if (cm->total_uncompressed_size >= 0 && (uint64_t)cm->total_uncompressed_size < guess / 8)
        guess = (size_t)cm->total_uncompressed_size * 8 + 4096;
    sd_column_reserve(col, guess < cx.nlevels_max ? guess : cx.nlevels_max);
    pq_advise_huge(col->values, col->values_cap * sd_type_width(col->type->kind));
    if (col->offsets) pq_advise_huge(col->offsets, (col->values_cap + 1) * sizeof(int64_t));
    if (leaf->max_rep > 0) ld->rep = sd_xmalloc(cx.nlevels_max ? cx.nlevels_max : 1);
    s->has_dict = false;
    while (ld->nlevels < cx.nlevels_max) {
        if (pos >= end)
            return pq_chunk_fail(&cx, SD_ERR_FORMAT,
                                 "column chunk ends after %zu of its %zu values", ld->nlevels,
                                 cx.nlevels_max);
        pq_page_header h;
        size_t used = 0;
        cx.page_off = pos;
        if (pq_page_header_parse(f->data + pos, end - pos, &h, &used, f->name, err) != SD_OK) {
            char ctx[256];
            snprintf(ctx, sizeof(ctx), "column %s, page at offset %zu", leaf->path, pos);
            return pq_prefix(f, err, ctx);
        }
        pos += used;
        sd_status st = SD_OK;
        if (h.compressed_page_size < 0 || h.uncompressed_page_size < 0 ||
            (size_t)h.compressed_page_size > end - pos)
            st = pq_chunk_fail(&cx, SD_ERR_FORMAT,
                               "page body of %d bytes runs past the end of the column chunk "
                               "(%zu bytes left)",
                               h.compressed_page_size, end - pos);
        else
            st = pq_read_page(&cx, &h, f->data + pos);
        size_t csize = (size_t)h.compressed_page_size;
        pq_page_header_clear(&h);
        if (st != SD_OK) return st;
        pos += csize;
    }
    return SD_OK;
}

/* Read the chunks of every leaf below `node` into the matching columns. */
static sd_status pq_read_node(pq_file *f, int rg, const pq_node *node, sd_column *col,
                              pq_leaf_data *leaves, pq_read_scratch *s, sd_error *err) {
    if (node->kind == PQ_NODE_LEAF)
        return pq_read_chunk(f, rg, node->leaf, col, &leaves[node->leaf], s, err);
    for (int i = 0; i < node->nchildren && i < col->nchildren; i++)
        if (pq_read_node(f, rg, &node->children[i], &col->children[i], leaves, s, err) != SD_OK)
            return err->code;
    return SD_OK;
}

static void pq_free_leaf_data(pq_leaf_data *leaves, int n) {
    for (int i = 0; i < n; i++) {
        free(leaves[i].def);
        free(leaves[i].rep);
    }
    free(leaves);
}

/* One top-level column of a row group: read its chunks, assemble. */
static sd_status pq_read_field(pq_file *f, int rg, int field, sd_column *col, pq_read_scratch *s,
                               sd_error *err) {
    const pq_node *node = &f->si.root.children[field];
    pq_leaf_data *leaves =
        sd_xcalloc((size_t)(f->si.nleaves ? f->si.nleaves : 1), sizeof(pq_leaf_data));
    sd_status st = pq_read_node(f, rg, node, col, leaves, s, err);
    if (st == SD_OK) {
        st = pq_assemble(node, col, leaves, err);
        if (st != SD_OK) pq_prefix(f, err, NULL);
    }
    int64_t rows = f->meta.row_groups[rg].num_rows;
    if (st == SD_OK && (int64_t)col->len != rows)
        st = pq_fail(f, err, SD_ERR_FORMAT,
                     "column %s has %zu values for the %lld rows of row group %d",
                     f->si.schema->children[field].name, col->len, (long long)rows, rg);
    pq_free_leaf_data(leaves, f->si.nleaves);
    return st;
}

/* The top-level columns of one row group, shared by the decoding threads:
 * each takes the next column of `order` (largest first) until none is
 * left. A column is written by exactly one thread into its own sd_column,
 * and its status and error are kept per column, so the batch and the
 * reported error (the first failing column in schema order, as a
 * one-thread read reports) do not depend on the threads. */
typedef struct pq_fields_job {
    pq_file *f;
    int rg;
    const int *columns;
    sd_batch *batch;
    int *order;     /* batch columns, costliest first */
    sd_status *st;  /* per batch column */
    sd_error *errs; /* per batch column */
    int next;       /* next index into order (atomic) */
} pq_fields_job;

typedef struct pq_fields_worker {
    pq_fields_job *job;
    pq_read_scratch *s;
} pq_fields_worker;

static void *pq_fields_run(void *arg) {
    pq_fields_worker *w = arg;
    pq_fields_job *job = w->job;
    for (;;) {
        int k = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
        if (k >= job->batch->ncols) break;
        int j = job->order[k];
        int field = job->columns ? job->columns[j] : j;
        job->st[j] =
            pq_read_field(job->f, job->rg, field, &job->batch->cols[j], w->s, &job->errs[j]);
    }
    return NULL;
}

/* Rough decoding cost of top-level field `field` in row group rg: its
 * uncompressed bytes plus its output, which for dictionary-encoded strings
 * is much larger than the input. Only orders the work. */
static int64_t pq_field_cost(const pq_file *f, int rg, int field) {
    int64_t cost = 0;
    for (int li = 0; li < f->si.nleaves; li++) {
        if (f->si.leaves[li].field_index != field) continue;
        const pq_column_meta *cm = &f->meta.row_groups[rg].columns[li].meta_data;
        int64_t per = f->si.leaves[li].phys == PQ_BYTE_ARRAY ? 32 : 8;
        if (cm->total_uncompressed_size > 0) cost += cm->total_uncompressed_size;
        if (cm->num_values > 0 && cm->num_values <= PQ_MAX_CHUNK_VALUES)
            cost += cm->num_values * per;
    }
    return cost;
}

/* Read every column of the batch: on the calling thread for small row
 * groups (or one column, or one core), else on two. On 2M rows of the
 * movie-ratings benchmark (one 128 MiB row group, snappy, huge pages) with
 * the second core free: 0.20 s on one thread, 0.13 s on two (event_id's
 * snappy pages on one, the dictionary columns on the other); a read of
 * DuckDB's file (16 row groups of 122,880 rows) went 0.16 s -> 0.11 s
 * with this and the huge pages together. With both cores
 * busy with other work it gains nothing (medians within 10%). */
static sd_status pq_read_fields(pq_file *f, int rg, const int *columns, sd_batch *batch,
                                sd_error *err) {
    int n = batch->ncols;
    int64_t total = 0;
    int64_t *cost = sd_xcalloc((size_t)(n ? n : 1), sizeof(int64_t));
    for (int j = 0; j < n; j++) {
        cost[j] = pq_field_cost(f, rg, columns ? columns[j] : j);
        total += cost[j];
    }
    bool threaded = n >= 2 && f->ncpus >= 2 && total >= f->thread_min_bytes;
    if (!threaded) {
        free(cost);
        for (int j = 0; j < n; j++) {
            sd_status st = pq_read_field(f, rg, columns ? columns[j] : j, &batch->cols[j],
                                         &f->scratch[0], err);
            if (st != SD_OK) return st;
        }
        return SD_OK;
    }
    pq_fields_job job = {.f = f, .rg = rg, .columns = columns, .batch = batch};
    job.order = sd_xmalloc((size_t)n * sizeof(int));
    job.st = sd_xcalloc((size_t)n, sizeof(sd_status));
    job.errs = sd_xcalloc((size_t)n, sizeof(sd_error));
    /* Each column starts from the caller's error state, as it would when
     * read after the columns before it succeeded. */
    for (int j = 0; j < n && err; j++) job.errs[j] = *err;
    for (int j = 0; j < n; j++) job.order[j] = j;
    for (int i = 1; i < n; i++) /* insertion sort, costliest first: n is small */
        for (int k = i; k > 0 && cost[job.order[k]] > cost[job.order[k - 1]]; k--) {
            int t = job.order[k];
            job.order[k] = job.order[k - 1];
            job.order[k - 1] = t;
        }
    free(cost);
    pq_fields_worker workers[PQ_READ_THREADS];
    for (int t = 0; t < PQ_READ_THREADS; t++) workers[t] = (pq_fields_worker){&job, &f->scratch[t]};
    pthread_t th;
    bool started = pthread_create(&th, NULL, pq_fields_run, &workers[1]) == 0;
    pq_fields_run(&workers[0]); /* without a second thread this does every column */
    if (started) pthread_join(th, NULL);
    sd_status st = SD_OK;
    for (int j = 0; j < n && st == SD_OK; j++) {
        if (job.st[j] == SD_OK) continue;
        st = job.st[j];
        if (err) *err = job.errs[j];
    }
    free(job.order);
    free(job.st);
    free(job.errs);
    return st;
}

sd_status pq_read_row_group(pq_file *f, int rg, const int *columns, int ncolumns, sd_batch *out,
                            sd_error *err) {
    memset(out, 0, sizeof(*out));
    return pq_read_row_group_into(f, rg, columns, ncolumns, out, err);
}

sd_status pq_read_row_group_into(pq_file *f, int rg, const int *columns, int ncolumns,
                                 sd_batch *batch, sd_error *err) {
    if (rg < 0 || rg >= f->meta.nrow_groups)
        return pq_fail(f, err, SD_ERR_ARG, "row group %d does not exist (the file has %d)", rg,
                       f->meta.nrow_groups);
    if (columns != NULL && ncolumns < 0)
        return pq_fail(f, err, SD_ERR_ARG, "invalid column count %d", ncolumns);
    const sd_schema *schema = pq_file_projection(f, columns, ncolumns);
    if (schema == NULL)
        return pq_fail(f, err, SD_ERR_ARG, "column index out of range (the file has %d columns)",
                       f->si.schema->nchildren);
    /* Reusing the previous row group's buffers saves faulting in fresh
     * memory for every row group, a third of a full read's time. */
    if (batch->schema == schema) {
        sd_batch_reset(batch);
    } else {
        if (batch->schema != NULL) sd_batch_free(batch);
        sd_batch_init(batch, schema);
    }
    sd_status st = pq_read_fields(f, rg, columns, batch, err);
    if (st != SD_OK) {
        sd_batch_free(batch);
        return st;
    }
    batch->nrows = (size_t)f->meta.row_groups[rg].num_rows;
    return SD_OK;
}

void pq_file_set_thread_min_bytes(pq_file *f, int64_t bytes) {
    f->thread_min_bytes = bytes;
}
