/*
 * pipe_merge.c - the MERGE step of a micro-batch (DESIGN.md "The default
 * pipeline", steps 5 and 6): upsert a deduplicated batch into the Delta
 * table on the key column, copy-on-write - or, when the table has
 * delta.enableDeletionVectors=true (or sink.deletion_vectors asks for it
 * on a table that supports them), by marking the replaced rows deleted
 * with a deletion vector and appending the new rows - and record the
 * consumed Kafka offsets as txn actions in the same commit.
 *
 * Pieces, top to bottom:
 *  - the key index: one open-addressing hash table from key bytes to
 *    (file id, row number, order value), keys in one arena;
 *  - the file table: the live files of the window's partitions, sorted by
 *    their logical id (path + deletion vector id), each with a file id;
 *  - sync: bring the file table and the index from one snapshot to a newer
 *    one (or a moved window) by diffing the file sets: dropped files'
 *    entries go, new files' rows come in (from memory for our own files,
 *    read from disk - key and order columns only - for other writers');
 *  - the merge attempt: classify rows, rewrite the files holding replaced
 *    rows, write new files per partition touched (at most MG_OUT_MAX_ROWS
 *    rows each), commit;
 *  - the public calls, with the retry loop around conflicts;
 *  - auto-compaction: after a commit, one partition of the window with
 *    many small files is bin-packed by the Delta layer's OPTIMIZE, and the
 *    compaction commit is folded into the index like another writer's.
 *
 * Memory of the index per key: 24 bytes of entry, 8 / load factor (0.35 to
 * 0.7) bytes of slot, the key bytes plus a 1-byte length (a 36-character
 * UUID: 24 + 11..23 + 37 = 72..84 bytes, so 10M keys take about 0.8 GB).
 *
 * Reference: delta-io/delta PROTOCOL.md (add/remove/txn actions,
 * "Optimistic Concurrency"); the commitInfo mirrors what Spark's Delta
 * MERGE logs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../delta/delta.h"
#include "pipeline.h"

/* Redo a merge after this many logical conflicts at most, then give up. */
#define MG_MAX_REDO 5
/* Lost races without a logical conflict are retried inside the commit. */
#define MG_COMMIT_RETRIES 20
/* Largest key the index stores: longer keys are refused (a key is an id,
 * not a document; the varint length prefix would allow more). */
#define MG_MAX_KEY 65535
#define MG_MAX_LOAD_NUM 7
#define MG_MAX_LOAD_DEN 10
#define MG_DAY_MICROS 86400000000LL
#define MK_DEAD UINT32_MAX /* mk_entry.file of an entry whose file is gone */
/* Most rows of one new data file. Updates mostly hit recent rows, and rows
 * are written in arrival order, so bounded files keep a copy-on-write
 * update to the one or two newest files of a partition instead of one file
 * that grows with every batch and is rewritten whole each time. */
#define MG_OUT_MAX_ROWS 131072

/* ------------------------------------------------------------------------ */
/* Key index                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct mk_entry {
    uint64_t key_off; /* arena offset of varint length + key bytes */
    int64_t order;    /* order column as an ordered int64 */
    uint32_t file;    /* id in the merger's file table */
    uint32_t row;     /* row number among the file's live rows */
} mk_entry;

typedef struct mk_index {
    sd_buf arena;
    mk_entry *entries;
    size_t n, cap;
    size_t ndead; /* entries whose file left the window (file == MK_DEAD) */
    /* High 32 bits: the key hash's high half (a tag that spares most key
     * comparisons, each a cache miss); low 32 bits: entry index + 1, 0 =
     * empty. A key's home slot is the top `bits` bits of its tag, so
     * growing the table moves slots without reading a key or hashing, in
     * one sequential pass (a key's position is in its tag). */
    uint64_t *slots;
    size_t nslots; /* 1 << bits */
    int bits;      /* 10 .. 32 */
} mk_index;

static const uint8_t *mk_key(const mk_index *ix, const mk_entry *e, size_t *len) {
    const uint8_t *p = ix->arena.data + e->key_off;
    size_t n = 0;
    int shift = 0;
    while (*p & 0x80) {
        n |= (size_t)(*p++ & 0x7f) << shift;
        shift += 7;
    }
    n |= (size_t)*p++ << shift;
    *len = n;
    return p;
}

static void mk_free(mk_index *ix) {
    sd_buf_free(&ix->arena);
    free(ix->entries);
    free(ix->slots);
    memset(ix, 0, sizeof(*ix));
}

/* Home slot of a key with hash h. */
static inline size_t mk_home(const mk_index *ix, uint64_t h) {
    return (size_t)((h >> 32) >> (32 - ix->bits));
}

static void mk_clear(mk_index *ix) {
    sd_buf_reset(&ix->arena);
    ix->n = 0;
    ix->ndead = 0;
    if (ix->slots) memset(ix->slots, 0, ix->nslots * sizeof(uint64_t));
}

/* Slot index holding entry idx+1 for the key, or the empty slot where it
 * would go. */
static size_t mk_probe(const mk_index *ix, const uint8_t *key, size_t len, uint64_t h,
                       bool *found) {
    size_t mask = ix->nslots - 1;
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t s = mk_home(ix, h);; s = (s + 1) & mask) {
        uint64_t slot = ix->slots[s];
        uint32_t v = (uint32_t)slot;
        if (v == 0) {
            *found = false;
            return s;
        }
        if ((uint32_t)(slot >> 32) != tag) continue;
        size_t klen;
        const uint8_t *k = mk_key(ix, &ix->entries[v - 1], &klen);
        if (klen == len && memcmp(k, key, len) == 0) {
            *found = true;
            return s;
        }
    }
}

static void mk_resize_slots(mk_index *ix, int bits) {
    free(ix->slots);
    ix->bits = bits;
    ix->nslots = (size_t)1 << bits;
    ix->slots = sd_xcalloc(ix->nslots, sizeof(uint64_t));
}

/* Place an occupied slot value (tag and entry) in the table. */
static inline void mk_place(mk_index *ix, uint64_t slot) {
    size_t mask = ix->nslots - 1;
    size_t s = mk_home(ix, slot);                 /* the tag is the hash's high half */
    while (ix->slots[s] != 0) s = (s + 1) & mask; /* keys are distinct */
    ix->slots[s] = slot;
}

/* Grow to 1 << bits slots, moving the slots by their tags. */
static void mk_grow(mk_index *ix, int bits) {
    uint64_t *old = ix->slots;
    size_t nold = ix->nslots;
    ix->slots = NULL;
    mk_resize_slots(ix, bits);
    for (size_t i = 0; i < nold; i++)
        if (old[i] != 0) mk_place(ix, old[i]);
    free(old);
}

/* Rebuild the slots from the entries (after they were renumbered). */
static void mk_rebuild(mk_index *ix, int bits) {
    mk_resize_slots(ix, bits);
    for (size_t i = 0; i < ix->n; i++) {
        size_t len;
        const uint8_t *k = mk_key(ix, &ix->entries[i], &len);
        mk_place(ix, (sd_hash_bytes(k, len) >> 32 << 32) | (uint64_t)(i + 1));
    }
}

/* Make room for `extra` more keys at once: one growth for a whole batch
 * instead of a doubling every time the load factor is reached. */
static void mk_reserve(mk_index *ix, size_t extra) {
    int bits = ix->bits ? ix->bits : 10;
    while ((ix->n + extra) * MG_MAX_LOAD_DEN > ((size_t)1 << bits) * MG_MAX_LOAD_NUM && bits < 32)
        bits++;
    if (ix->slots == NULL)
        mk_resize_slots(ix, bits);
    else if (bits != ix->bits)
        mk_grow(ix, bits);
}

/* Entry index of a key, or -1. */
static int64_t mk_find(const mk_index *ix, const uint8_t *key, size_t len, uint64_t h) {
    if (ix->n == 0) return -1;
    bool found;
    size_t s = mk_probe(ix, key, len, h, &found);
    if (!found) return -1;
    int64_t e = (int64_t)(uint32_t)ix->slots[s] - 1;
    return ix->entries[e].file == MK_DEAD ? -1 : e;
}

/* Insert a key or move it to a new place. */
static void mk_put(mk_index *ix, const uint8_t *key, size_t len, uint64_t h, int64_t order,
                   uint32_t file, uint32_t row) {
    if ((ix->n + 1) * MG_MAX_LOAD_DEN > ix->nslots * MG_MAX_LOAD_NUM) mk_reserve(ix, 1);
    bool found;
    size_t s = mk_probe(ix, key, len, h, &found);
    if (found) {
        mk_entry *e = &ix->entries[(uint32_t)ix->slots[s] - 1];
        if (e->file == MK_DEAD) ix->ndead--;
        e->order = order;
        e->file = file;
        e->row = row;
        return;
    }
    if (ix->n == ix->cap) {
        ix->cap = ix->cap ? ix->cap * 2 : 1024;
        ix->entries = sd_xrealloc(ix->entries, ix->cap * sizeof(mk_entry));
    }
    mk_entry *e = &ix->entries[ix->n];
    e->key_off = ix->arena.len;
    e->order = order;
    e->file = file;
    e->row = row;
    uint8_t *p = sd_buf_extend(&ix->arena, len + 3);
    size_t v = len, i = 0;
    while (v >= 0x80) {
        p[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (uint8_t)v;
    memcpy(p + i, key, len);
    ix->arena.len -= 3 - i;
    ix->slots[s] = (h >> 32 << 32) | (uint64_t)(++ix->n);
}

/* Give every entry its file's new id (remap[old]); entries of files mapped
 * to UINT32_MAX become dead: they stay in the table so that a row moved to
 * a rewritten file revives its entry without a new key in the arena. */
static void mk_remap(mk_index *ix, const uint32_t *remap) {
    for (size_t i = 0; i < ix->n; i++) {
        mk_entry *e = &ix->entries[i];
        if (e->file == MK_DEAD) continue;
        e->file = remap[e->file];
        if (e->file == MK_DEAD) ix->ndead++;
    }
}

/* Drop dead entries once they are a third of the table: compact the
 * arena and the entries, rebuild the slots (one pass, cheaper than
 * deleting key by key). */
static void mk_compact_if_needed(mk_index *ix) {
    if (ix->ndead * 3 <= ix->n) return;
    size_t w = 0;
    sd_buf arena = SD_BUF_INIT;
    sd_buf_reserve(&arena, ix->arena.len / 2 + 1);
    for (size_t i = 0; i < ix->n; i++) {
        if (ix->entries[i].file == MK_DEAD) continue;
        size_t len;
        const uint8_t *k = mk_key(ix, &ix->entries[i], &len);
        const uint8_t *start = ix->arena.data + ix->entries[i].key_off;
        ix->entries[w] = ix->entries[i];
        ix->entries[w].key_off = arena.len;
        sd_buf_append(&arena, start, (size_t)(k - start) + len);
        w++;
    }
    sd_buf_free(&ix->arena);
    ix->arena = arena;
    ix->n = w;
    ix->ndead = 0;
    int bits = 10;
    while (w * MG_MAX_LOAD_DEN > ((size_t)1 << bits) * MG_MAX_LOAD_NUM && bits < 32) bits++;
    mk_rebuild(ix, bits);
}

/* ------------------------------------------------------------------------ */
/* Column helpers: keys, order values, row copy and row equality             */
/* ------------------------------------------------------------------------ */

/* The key bytes of a row: strings raw, fixed-width values as stored. False
 * for a null key (never matched: such rows are always inserted). */
static bool mg_key_bytes(const sd_column *c, size_t row, const uint8_t **p, size_t *n) {
    if (!sd_column_is_valid(c, row)) return false;
    sd_type_kind k = c->type->kind;
    if (k == SD_STRING || k == SD_BINARY) {
        *p = c->data.data + c->offsets[row];
        *n = (size_t)(c->offsets[row + 1] - c->offsets[row]);
        if (*p == NULL) *p = (const uint8_t *)"";
        return true;
    }
    size_t w = sd_type_width(k);
    *p = (const uint8_t *)c->values + row * w;
    *n = w;
    return true;
}

static bool mg_order_kind_ok(sd_type_kind k) {
    switch (k) {
        case SD_BOOL:
        case SD_INT8:
        case SD_INT16:
        case SD_INT32:
        case SD_INT64:
        case SD_FLOAT:
        case SD_DOUBLE:
        case SD_DATE:
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ:
            return true;
        default:
            return false;
    }
}

/* The order value as an int64 with the same order; null is the oldest. */
static int64_t mg_order_value(const sd_column *c, size_t row) {
    if (!sd_column_is_valid(c, row)) return INT64_MIN;
    sd_value v = sd_column_get(c, row);
    if (v.kind == SD_BOOL) return v.u.b ? 1 : 0;
    if (v.kind != SD_FLOAT && v.kind != SD_DOUBLE) return v.u.i;
    /* IEEE bits flipped so that integer order is numeric order. */
    uint64_t bits;
    memcpy(&bits, &v.u.d, 8);
    bits = (bits & 0x8000000000000000ULL) ? ~bits : bits ^ 0x8000000000000000ULL;
    return (int64_t)(bits ^ 0x8000000000000000ULL);
}

static bool mg_kind_has_offsets(sd_type_kind k) {
    return k == SD_STRING || k == SD_BINARY || k == SD_LIST || k == SD_MAP;
}

/* Append row `row` of src to dst (same type), nested values included.
 * Types are taken from dst: a reader's batch may outlive its schema. */
static void mg_copy_value(sd_column *dst, const sd_column *src, size_t row) {
    if (!sd_column_is_valid(src, row)) {
        sd_column_append_null(dst);
        return;
    }
    sd_type_kind k = dst->type->kind;
    if (k == SD_STRING || k == SD_BINARY) {
        int64_t a = src->offsets[row], b = src->offsets[row + 1];
        sd_column_append_bytes(dst, src->data.data + a, (size_t)(b - a));
        return;
    }
    if (k == SD_STRUCT) {
        for (int i = 0; i < src->nchildren; i++)
            mg_copy_value(&dst->children[i], &src->children[i], row);
        sd_column_append_struct(dst);
        return;
    }
    if (k == SD_LIST || k == SD_MAP) {
        int64_t a = src->offsets[row], b = src->offsets[row + 1];
        for (int i = 0; i < src->nchildren; i++)
            for (int64_t r = a; r < b; r++)
                mg_copy_value(&dst->children[i], &src->children[i], (size_t)r);
        sd_column_append_list(dst, (size_t)(b - a));
        return;
    }
    size_t w = sd_type_width(k);
    sd_column_reserve(dst, dst->len + 1);
    memcpy((uint8_t *)dst->values + dst->len * w, (const uint8_t *)src->values + row * w, w);
    if (dst->valid) dst->valid[dst->len] = 1;
    if (mg_kind_has_offsets(k)) dst->offsets[dst->len + 1] = dst->offsets[dst->len];
    dst->len++;
}

/* Whether two values of the same type are identical (floats bitwise, so
 * NaN equals NaN and a redelivery of it changes nothing). The type is
 * b's: a is a reader's batch, which may outlive its schema. */
static bool mg_value_equal(const sd_column *a, size_t ra, const sd_column *b, size_t rb) {
    bool va = sd_column_is_valid(a, ra), vb = sd_column_is_valid(b, rb);
    if (va != vb) return false;
    if (!va) return true;
    sd_type_kind k = b->type->kind;
    if (k == SD_STRING || k == SD_BINARY) {
        int64_t la = a->offsets[ra + 1] - a->offsets[ra], lb = b->offsets[rb + 1] - b->offsets[rb];
        return la == lb && (la == 0 || memcmp(a->data.data + a->offsets[ra],
                                              b->data.data + b->offsets[rb], (size_t)la) == 0);
    }
    if (k == SD_STRUCT) {
        for (int i = 0; i < a->nchildren; i++)
            if (!mg_value_equal(&a->children[i], ra, &b->children[i], rb)) return false;
        return true;
    }
    if (k == SD_LIST || k == SD_MAP) {
        int64_t la = a->offsets[ra + 1] - a->offsets[ra], lb = b->offsets[rb + 1] - b->offsets[rb];
        if (la != lb) return false;
        for (int i = 0; i < a->nchildren; i++)
            for (int64_t r = 0; r < la; r++)
                if (!mg_value_equal(&a->children[i], (size_t)(a->offsets[ra] + r), &b->children[i],
                                    (size_t)(b->offsets[rb] + r)))
                    return false;
        return true;
    }
    size_t w = sd_type_width(k);
    return memcmp((const uint8_t *)a->values + ra * w, (const uint8_t *)b->values + rb * w, w) == 0;
}

static bool mg_row_equal(const sd_batch *a, size_t ra, const sd_batch *b, size_t rb) {
    for (int c = 0; c < a->ncols; c++)
        if (!mg_value_equal(&a->cols[c], ra, &b->cols[c], rb)) return false;
    return true;
}

/* ------------------------------------------------------------------------ */
/* The merger                                                                */
/* ------------------------------------------------------------------------ */

/* One live file of the window. */
typedef struct mg_file {
    char *id; /* path, NUL, deletion vector id */
    size_t id_len;
    const delta_file *df; /* borrowed from m->snap */
} mg_file;

struct pipe_merge {
    char *table;
    delta_snapshot *snap;
    sd_schema *schema;      /* the table's columns (a copy) */
    sd_schema *data_schema; /* without the partition column: what files hold */
    int *data_src;          /* data column j is table column data_src[j] */
    int key_col, order_col, part_col;
    bool part_is_day; /* DATE or TIMESTAMP partition: the window applies */
    int64_t late_days;
    int64_t window_start; /* first day in the window; INT64_MIN = all */
    mg_file *files;
    size_t nfiles;
    mk_index ix;
    bool stale;  /* index lost (a failed sync): rebuild before the next merge */
    bool cfg_dv; /* sink.deletion_vectors */
    bool use_dv; /* this attempt marks replaced rows with deletion vectors */
    /* sink.auto_compact* */
    pipe_auto_compact_mode compact_mode;
    int64_t compact_min_files, compact_target, compact_max_bytes;
};

/* A new data file being built: rows of one partition (at most
 * MG_OUT_MAX_ROWS). */
typedef struct mg_out {
    sd_value pv; /* partition value (owned copy) */
    sd_batch rows;
    char *rel_path;    /* file-system path relative to the table */
    char *logged_path; /* URL-encoded, as in add.path */
    char *abs_path;
    bool written;
    int64_t size;
} mg_out;

/* Rows of one stored file to mark deleted (deletion-vector mode): row
 * numbers among the file's live rows, ascending. */
typedef struct mg_dv_rows {
    const delta_file *df;
    uint32_t *rows;
    size_t n;
} mg_dv_rows;

/* Everything one merge attempt built; freed (and its files deleted unless
 * committed) by mg_plan_free. */
typedef struct mg_plan {
    mg_out *outs;
    size_t nouts;
    const delta_file **removed;
    size_t nremoved;
    mg_dv_rows *dvs;
    size_t ndvs;
    char **dv_files; /* DV files written (deleted unless committed) */
    size_t ndv_files;
    int64_t inserted, updated, unchanged;
    int64_t bytes_added, bytes_removed;
} mg_plan;

static void mg_plan_free(mg_plan *p, bool keep_files) {
    for (size_t i = 0; i < p->nouts; i++) {
        mg_out *o = &p->outs[i];
        if (o->written && !keep_files) unlink(o->abs_path);
        sd_value_clear(&o->pv);
        sd_batch_free(&o->rows);
        free(o->rel_path);
        free(o->logged_path);
        free(o->abs_path);
    }
    free(p->outs);
    free(p->removed);
    for (size_t i = 0; i < p->ndvs; i++) free(p->dvs[i].rows);
    free(p->dvs);
    for (size_t i = 0; i < p->ndv_files; i++) {
        if (!keep_files) unlink(p->dv_files[i]);
        free(p->dv_files[i]);
    }
    free(p->dv_files);
    memset(p, 0, sizeof(*p));
}

/* Partition day of a file, or false when it has none (null partition). */
static bool mg_file_day(const pipe_merge *m, const delta_file *df, int64_t *day) {
    const sd_value *v = &df->partition_values[0];
    if (v->is_null) return false;
    if (v->kind == SD_DATE) {
        *day = v->u.i;
    } else {
        int64_t us = v->u.i;
        *day = us / MG_DAY_MICROS - (us % MG_DAY_MICROS < 0 ? 1 : 0);
    }
    (void)m;
    return true;
}

static bool mg_in_window(const pipe_merge *m, const delta_file *df) {
    if (m->part_col < 0 || !m->part_is_day) return true;
    int64_t day;
    if (!mg_file_day(m, df, &day)) return false;
    return day >= m->window_start;
}

static int mg_file_cmp(const void *a, const void *b) {
    const mg_file *x = a, *y = b;
    size_t n = x->id_len < y->id_len ? x->id_len : y->id_len;
    int c = memcmp(x->id, y->id, n);
    if (c) return c;
    return x->id_len < y->id_len ? -1 : x->id_len > y->id_len;
}

static void mg_files_free(mg_file *f, size_t n) {
    for (size_t i = 0; i < n; i++) free(f[i].id);
    free(f);
}

/* Rows whose key is hashed ahead of its probe, so that the probe's slot
 * is already being fetched: the index is far larger than the caches and
 * every probe would otherwise wait for memory. */
#define MG_AHEAD 16

/* Hash row r's key into hs[r % MG_AHEAD] and prefetch its home slot. */
static inline void mg_hash_ahead(const pipe_merge *m, const sd_column *kc, size_t r, uint64_t *hs) {
    const uint8_t *k;
    size_t n;
    hs[r % MG_AHEAD] = 0;
    if (!mg_key_bytes(kc, r, &k, &n) || n > MG_MAX_KEY) return;
    uint64_t h = sd_hash_bytes(k, n);
    hs[r % MG_AHEAD] = h;
    if (m->ix.slots) __builtin_prefetch(&m->ix.slots[mk_home(&m->ix, h)]);
}

/* Add the key and order of every row of `b` (columns key at kc, order at
 * oc) to the index as rows row_base.. of file `file`. */
static void mg_index_rows(pipe_merge *m, const sd_batch *b, int kc, int oc, uint32_t file,
                          uint32_t row_base) {
    mk_reserve(&m->ix, b->nrows);
    uint64_t hs[MG_AHEAD];
    for (size_t r = 0; r < b->nrows && r < MG_AHEAD; r++) mg_hash_ahead(m, &b->cols[kc], r, hs);
    for (size_t r = 0; r < b->nrows; r++) {
        uint64_t h = hs[r % MG_AHEAD];
        if (r + MG_AHEAD < b->nrows) mg_hash_ahead(m, &b->cols[kc], r + MG_AHEAD, hs);
        const uint8_t *k;
        size_t n;
        if (!mg_key_bytes(&b->cols[kc], r, &k, &n) || n > MG_MAX_KEY) continue;
        mk_put(&m->ix, k, n, h, mg_order_value(&b->cols[oc], r), file, row_base + (uint32_t)r);
    }
}

/* Read the key and order columns of file `id` into the index. */
static sd_status mg_index_file(pipe_merge *m, uint32_t id, sd_error *err) {
    const char *cols[2] = {m->schema->children[m->key_col].name,
                           m->schema->children[m->order_col].name};
    int ncols = m->key_col == m->order_col ? 1 : 2;
    delta_file_reader *r = delta_file_reader_open(m->snap, m->files[id].df, cols, ncols, err);
    if (r == NULL) return err->code ? err->code : SD_ERR_IO;
    sd_status st = SD_OK;
    uint64_t row = 0;
    for (;;) {
        sd_batch b;
        bool more;
        st = delta_file_reader_next(r, &b, &more, err);
        if (st != SD_OK || !more) break;
        if (row + b.nrows > UINT32_MAX)
            st = sd_error_set(err, SD_ERR_UNSUPPORTED, "%s: more than 2^32 rows in one file",
                              m->files[id].df->add->path);
        else
            mg_index_rows(m, &b, 0, ncols - 1, id, (uint32_t)row);
        row += b.nrows;
        sd_batch_free(&b);
        if (st != SD_OK) break;
    }
    delta_file_reader_close(r);
    return st;
}

/* Bring the file table and the index to snapshot `ns` (which may be
 * m->snap itself when only the window moved). Files that stay keep their
 * entries (renumbered), files that left drop them, new files are indexed:
 * from own[] when this merger wrote them, else read from disk. Takes
 * ownership of ns. On failure the index is emptied and marked stale. */
static sd_status mg_sync(pipe_merge *m, delta_snapshot *ns, const mg_out *own, size_t nown,
                         sd_error *err) {
    size_t total = delta_snapshot_num_files(ns);
    mg_file *nf = sd_xcalloc(total ? total : 1, sizeof(mg_file));
    size_t n = 0;
    sd_buf key = SD_BUF_INIT;
    for (size_t i = 0; i < total; i++) {
        const delta_file *df = delta_snapshot_file(ns, i);
        if (!mg_in_window(m, df)) continue;
        sd_buf_reset(&key);
        sd_buf_append_str(&key, df->add->path);
        sd_buf_append_byte(&key, 0);
        if (df->add->has_dv) delta_dv_unique_id(&df->add->dv, &key);
        nf[n].id = sd_xmalloc(key.len);
        memcpy(nf[n].id, key.data, key.len);
        nf[n].id_len = key.len;
        nf[n].df = df;
        n++;
    }
    sd_buf_free(&key);
    qsort(nf, n, sizeof(mg_file), mg_file_cmp);
    if (n >= UINT32_MAX) {
        mg_files_free(nf, n);
        if (ns != m->snap) delta_snapshot_free(ns);
        return sd_error_set(err, SD_ERR_UNSUPPORTED, "%s: too many files in the merge window",
                            m->table);
    }
    /* Walk both sorted lists: old id -> new id. */
    uint32_t *remap = sd_xmalloc((m->nfiles ? m->nfiles : 1) * sizeof(uint32_t));
    bool *known = sd_xcalloc(n ? n : 1, sizeof(bool));
    size_t i = 0, j = 0;
    while (i < m->nfiles) {
        int c = j < n ? mg_file_cmp(&m->files[i], &nf[j]) : -1;
        if (c < 0) {
            remap[i++] = UINT32_MAX;
        } else if (c > 0) {
            j++;
        } else {
            known[j] = true;
            remap[i++] = (uint32_t)j++;
        }
    }
    if (m->stale)
        mk_clear(&m->ix);
    else
        mk_remap(&m->ix, remap);
    free(remap);
    mg_files_free(m->files, m->nfiles);
    m->files = nf;
    m->nfiles = n;
    if (ns != m->snap) {
        delta_snapshot_free(m->snap);
        m->snap = ns;
    }
    sd_status st = SD_OK;
    for (j = 0; st == SD_OK && j < n; j++) {
        if (known[j] && !m->stale) continue;
        const mg_out *mine = NULL;
        for (size_t k = 0; k < nown && mine == NULL; k++)
            if (!nf[j].df->add->has_dv && strcmp(own[k].logged_path, nf[j].df->add->path) == 0)
                mine = &own[k];
        if (mine) {
            int kc = -1, oc = -1;
            for (int c = 0; c < m->data_schema->nchildren; c++) {
                if (m->data_src[c] == m->key_col) kc = c;
                if (m->data_src[c] == m->order_col) oc = c;
            }
            mg_index_rows(m, &mine->rows, kc, oc, (uint32_t)j, 0);
        } else {
            st = mg_index_file(m, (uint32_t)j, err);
        }
    }
    free(known);
    if (st != SD_OK) {
        mk_clear(&m->ix);
        mg_files_free(m->files, m->nfiles);
        m->files = NULL;
        m->nfiles = 0;
        m->stale = true;
        sd_error_prefix(err, "building the merge key index of %s: ", m->table);
        return st;
    }
    mk_compact_if_needed(&m->ix);
    m->stale = false;
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Open                                                                      */
/* ------------------------------------------------------------------------ */

static sd_status mg_check_schema(const sd_schema *table, const sd_schema *want, const char *path,
                                 sd_error *err) {
    int n = table->nchildren < want->nchildren ? table->nchildren : want->nchildren;
    for (int i = 0; i < n; i++) {
        const sd_field *a = &table->children[i], *b = &want->children[i];
        if (strcmp(a->name, b->name) != 0 || !sd_type_equal(&a->type, &b->type)) {
            sd_buf ta = SD_BUF_INIT, tb = SD_BUF_INIT;
            sd_type_format(&a->type, &ta);
            sd_type_format(&b->type, &tb);
            sd_status st =
                sd_error_set(err, SD_ERR_ARG,
                             "table %s: column %d is '%s %s' but the pipeline "
                             "produces '%s %s'",
                             path, i + 1, a->name, sd_buf_cstr(&ta), b->name, sd_buf_cstr(&tb));
            sd_buf_free(&ta);
            sd_buf_free(&tb);
            return st;
        }
    }
    if (table->nchildren != want->nchildren)
        return sd_error_set(err, SD_ERR_ARG,
                            "table %s has %d columns but the pipeline produces %d (first "
                            "extra column: '%s')",
                            path, table->nchildren, want->nchildren,
                            table->nchildren > n ? table->children[n].name
                                                 : want->children[n].name);
    return SD_OK;
}

static sd_status mg_find_col(const sd_schema *s, const char *name, const char *what,
                             const char *path, int *out, sd_error *err) {
    *out = sd_schema_find(s, name);
    if (*out < 0)
        return sd_error_set(err, SD_ERR_ARG, "table %s has no column '%s' (sink.%s)", path, name,
                            what);
    if (sd_type_is_nested(s->children[*out].type.kind))
        return sd_error_set(err, SD_ERR_UNSUPPORTED,
                            "table %s: sink.%s column '%s' is nested; it must be a primitive "
                            "column",
                            path, what, name);
    return SD_OK;
}

/* Key, order and partition columns of the configuration against the
 * table's metadata. */
static sd_status mg_setup_columns(pipe_merge *m, const pipe_config *cfg, sd_error *err) {
    const delta_metadata *md = delta_snapshot_metadata(m->snap);
    sd_status st = mg_find_col(m->schema, cfg->key, "key", m->table, &m->key_col, err);
    if (st == SD_OK)
        st = mg_find_col(m->schema, cfg->order_by, "order_by", m->table, &m->order_col, err);
    if (st != SD_OK) return st;
    if (!mg_order_kind_ok(m->schema->children[m->order_col].type.kind))
        return sd_error_set(err, SD_ERR_UNSUPPORTED,
                            "table %s: sink.order_by column '%s' has type %s; use a number, "
                            "date or timestamp column",
                            m->table, cfg->order_by,
                            sd_type_kind_name(m->schema->children[m->order_col].type.kind));
    m->part_col = -1;
    if (cfg->partition_by[0] == 0) {
        if (md->npartition_columns != 0)
            return sd_error_set(err, SD_ERR_ARG,
                                "table %s is partitioned by '%s' but sink.partition_by is empty",
                                m->table, md->partition_columns[0]);
    } else {
        if (md->npartition_columns != 1 || strcmp(md->partition_columns[0], cfg->partition_by) != 0)
            return sd_error_set(err, SD_ERR_ARG,
                                "table %s is not partitioned by exactly '%s' (sink.partition_by); "
                                "it has %zu partition column(s)%s%s",
                                m->table, cfg->partition_by, md->npartition_columns,
                                md->npartition_columns ? ", the first is " : "",
                                md->npartition_columns ? md->partition_columns[0] : "");
        st = mg_find_col(m->schema, cfg->partition_by, "partition_by", m->table, &m->part_col, err);
        if (st != SD_OK) return st;
        sd_type_kind pk = m->schema->children[m->part_col].type.kind;
        m->part_is_day = pk == SD_DATE || pk == SD_TIMESTAMP || pk == SD_TIMESTAMP_NTZ;
    }
    m->data_schema = sd_schema_new();
    m->data_src = sd_xcalloc((size_t)m->schema->nchildren + 1, sizeof(int));
    for (int i = 0; i < m->schema->nchildren; i++) {
        if (i == m->part_col) continue;
        const sd_field *f = &m->schema->children[i];
        sd_field *nf = sd_type_add_field(m->data_schema, f->name, f->type.kind, f->nullable);
        sd_type_clear(&nf->type);
        sd_type_copy(&nf->type, &f->type);
        m->data_src[m->data_schema->nchildren - 1] = i;
    }
    return SD_OK;
}

static int64_t mg_window_start(const pipe_merge *m, int64_t today_days) {
    if (m->part_col < 0 || !m->part_is_day) return INT64_MIN;
    return today_days - m->late_days;
}

pipe_merge *pipe_merge_open(const pipe_config *cfg, const sd_schema *schema, int64_t today_days,
                            sd_error *err) {
    delta_snapshot *snap = NULL;
    if (delta_snapshot_load(cfg->table, -1, &snap, err) != SD_OK) return NULL;
    pipe_merge *m = sd_xcalloc(1, sizeof(*m));
    m->table = sd_xstrdup(cfg->table);
    m->snap = snap;
    m->late_days = cfg->late_days;
    m->cfg_dv = cfg->deletion_vectors;
    m->compact_mode = cfg->auto_compact;
    m->compact_min_files = cfg->auto_compact_min_files;
    m->compact_target = cfg->auto_compact_target_size;
    m->compact_max_bytes = cfg->auto_compact_max_bytes;
    m->schema = sd_schema_new();
    sd_type_clear(m->schema);
    sd_type_copy(m->schema, delta_snapshot_schema(snap));
    sd_status st = delta_features_check_write(delta_snapshot_protocol(snap),
                                              delta_snapshot_metadata(snap), err);
    if (st == SD_OK && m->cfg_dv && !delta_snapshot_dv_supported(snap))
        st = sd_error_set(err, SD_ERR_UNSUPPORTED,
                          "table %s does not support deletion vectors (sink.deletion_vectors = "
                          "true): its protocol lacks the deletionVectors feature; create it with "
                          "the property delta.enableDeletionVectors=true, or set "
                          "sink.deletion_vectors = false",
                          m->table);
    if (st == SD_OK) st = mg_check_schema(m->schema, schema, m->table, err);
    if (st == SD_OK) st = mg_setup_columns(m, cfg, err);
    if (st == SD_OK) {
        m->window_start = mg_window_start(m, today_days);
        st = mg_sync(m, m->snap, NULL, 0, err);
    }
    if (st != SD_OK) {
        pipe_merge_close(m);
        return NULL;
    }
    return m;
}

void pipe_merge_close(pipe_merge *m) {
    if (m == NULL) return;
    mk_free(&m->ix);
    mg_files_free(m->files, m->nfiles);
    if (m->snap) delta_snapshot_free(m->snap);
    if (m->schema) sd_schema_free(m->schema);
    if (m->data_schema) sd_schema_free(m->data_schema);
    free(m->data_src);
    free(m->table);
    free(m);
}

/* ------------------------------------------------------------------------ */
/* Offsets                                                                   */
/* ------------------------------------------------------------------------ */

static char *mg_app_id(const char *prefix, const char *topic, int32_t partition) {
    return sd_xasprintf("%s%s-%d", prefix ? prefix : "", topic, (int)partition);
}

/* The partition number when app_id is "<prefix><topic>-<digits>". */
static bool mg_parse_app_id(const char *app_id, const char *prefix, const char *topic,
                            int32_t *partition) {
    size_t lp = strlen(prefix), lt = strlen(topic);
    if (strncmp(app_id, prefix, lp) != 0 || strncmp(app_id + lp, topic, lt) != 0) return false;
    const char *p = app_id + lp + lt;
    if (*p++ != '-' || *p == 0) return false;
    int64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (*p - '0');
        if (v > INT32_MAX) return false;
    }
    *partition = (int32_t)v;
    return true;
}

int pipe_merge_offsets(const pipe_merge *m, const char *app_prefix, const char *topic,
                       int32_t *partitions, int64_t *next_offsets, int max) {
    int n = 0;
    for (size_t i = 0; i < delta_snapshot_num_txns(m->snap) && n < max; i++) {
        const delta_txn *txn = delta_snapshot_txn(m->snap, i);
        int32_t p;
        if (!mg_parse_app_id(txn->app_id, app_prefix ? app_prefix : "", topic, &p)) continue;
        partitions[n] = p;
        next_offsets[n] = txn->version;
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* One merge attempt                                                         */
/* ------------------------------------------------------------------------ */

enum { MG_INSERT, MG_UPDATE, MG_SKIP, MG_CHECK };

typedef struct mg_hit {
    uint32_t file, row, in;
} mg_hit;

static int mg_hit_cmp(const void *a, const void *b) {
    const mg_hit *x = a, *y = b;
    if (x->file != y->file) return x->file < y->file ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* The output file with room for partition value pv (a new one when there
 * is none). */
static mg_out *mg_out_for(pipe_merge *m, mg_plan *p, const sd_value *pv) {
    for (size_t i = 0; i < p->nouts; i++) {
        mg_out *o = &p->outs[i];
        if (o->rows.nrows < MG_OUT_MAX_ROWS &&
            (m->part_col < 0 || sd_value_compare(&o->pv, pv) == 0))
            return o;
    }
    p->outs = sd_xrealloc(p->outs, (p->nouts + 1) * sizeof(mg_out));
    mg_out *o = &p->outs[p->nouts++];
    memset(o, 0, sizeof(*o));
    if (m->part_col >= 0) sd_value_copy(&o->pv, pv);
    sd_batch_init(&o->rows, m->data_schema);
    return o;
}

/* Append rows idx[0..n) of src to dst (same type) in one pass per column:
 * flat columns are copied directly, nested ones value by value. */
static void mg_gather(sd_column *dst, const sd_column *src, const uint32_t *idx, size_t n) {
    sd_type_kind k = dst->type->kind;
    if (k == SD_STRUCT || k == SD_LIST || k == SD_MAP) {
        for (size_t i = 0; i < n; i++) mg_copy_value(dst, src, idx[i]);
        return;
    }
    size_t base = dst->len;
    sd_column_reserve(dst, base + n);
    if (src->valid) {
        sd_column_ensure_valid(dst);
        for (size_t i = 0; i < n; i++) dst->valid[base + i] = src->valid[idx[i]];
    } else if (dst->valid) {
        memset(dst->valid + base, 1, n);
    }
    if (k == SD_STRING || k == SD_BINARY) {
        size_t total = 0;
        for (size_t i = 0; i < n; i++)
            total += (size_t)(src->offsets[idx[i] + 1] - src->offsets[idx[i]]);
        if (base == 0) dst->offsets[0] = (int64_t)dst->data.len;
        uint8_t *out = sd_buf_extend(&dst->data, total);
        int64_t at = dst->offsets[base];
        for (size_t i = 0; i < n; i++) {
            int64_t a = src->offsets[idx[i]], len = src->offsets[idx[i] + 1] - a;
            memcpy(out, src->data.data + a, (size_t)len);
            out += len;
            at += len;
            dst->offsets[base + i + 1] = at;
        }
    } else {
        size_t w = sd_type_width(k);
        uint8_t *to = (uint8_t *)dst->values + base * w;
        const uint8_t *from = src->values;
        if (w == 4)
            for (size_t i = 0; i < n; i++) memcpy(to + 4 * i, from + 4 * (size_t)idx[i], 4);
        else if (w == 8)
            for (size_t i = 0; i < n; i++) memcpy(to + 8 * i, from + 8 * (size_t)idx[i], 8);
        else
            for (size_t i = 0; i < n; i++) memcpy(to + w * i, from + w * (size_t)idx[i], w);
    }
    dst->len = base + n;
}

/* Append rows idx[0..n) of src (table columns) to the outputs of
 * partition pv, opening a new file whenever one is full. */
static void mg_emit(pipe_merge *m, mg_plan *p, const sd_value *pv, const sd_batch *src,
                    const uint32_t *idx, size_t n) {
    while (n > 0) {
        mg_out *o = mg_out_for(m, p, pv);
        size_t room = MG_OUT_MAX_ROWS - o->rows.nrows, k = n < room ? n : room;
        for (int j = 0; j < o->rows.ncols; j++)
            mg_gather(&o->rows.cols[j], &src->cols[m->data_src[j]], idx, k);
        o->rows.nrows += k;
        idx += k;
        n -= k;
    }
}

static sd_value mg_row_partition(const pipe_merge *m, const sd_batch *b, size_t row) {
    sd_value none = {0};
    none.is_null = true;
    return m->part_col >= 0 ? sd_column_get(&b->cols[m->part_col], row) : none;
}

/* Read the whole of file `f` (table columns) into a list of batches. */
static sd_status mg_read_file(pipe_merge *m, uint32_t f, sd_batch **out, size_t *nout,
                              sd_error *err) {
    *out = NULL;
    *nout = 0;
    delta_file_reader *r = delta_file_reader_open(m->snap, m->files[f].df, NULL, 0, err);
    if (r == NULL) return err->code ? err->code : SD_ERR_IO;
    sd_status st;
    for (;;) {
        sd_batch b;
        bool more;
        st = delta_file_reader_next(r, &b, &more, err);
        if (st != SD_OK || !more) break;
        *out = sd_xrealloc(*out, (*nout + 1) * sizeof(sd_batch));
        (*out)[(*nout)++] = b;
    }
    delta_file_reader_close(r);
    return st;
}

/* Decide the rows of one stored file hit by hits[0..nh) (same file, sorted
 * by row): equal-order candidates are compared with the stored row; if any
 * row is replaced, the file's survivors go to the output of its partition
 * and the file is removed. */
static sd_status mg_rewrite_file(pipe_merge *m, mg_plan *p, const sd_batch *rows, uint8_t *act,
                                 const mg_hit *hits, size_t nh, sd_error *err) {
    uint32_t f = hits[0].file;
    /* With deletion vectors the file is read only to compare equal-order
     * candidates; the replaced rows' numbers are all the DV needs. */
    bool need_read = !m->use_dv;
    for (size_t h = 0; h < nh; h++) need_read |= act[hits[h].in] == MG_CHECK;
    sd_batch *bs = NULL;
    size_t nb = 0;
    sd_status st = need_read ? mg_read_file(m, f, &bs, &nb, err) : SD_OK;
    size_t bi = 0, base = 0;
    bool replace = false;
    uint8_t *drop = NULL;
    uint32_t *dv_rows = NULL;
    size_t ndv = 0;
    size_t total = 0;
    for (size_t i = 0; i < nb; i++) total += bs[i].nrows;
    if (st == SD_OK && m->use_dv) dv_rows = sd_xmalloc(nh * sizeof(uint32_t));
    if (st == SD_OK && !m->use_dv) drop = sd_xcalloc(total ? total : 1, 1);
    for (size_t h = 0; st == SD_OK && h < nh; h++) {
        while (bi < nb && hits[h].row >= base + bs[bi].nrows) base += bs[bi++].nrows;
        if (need_read && bi == nb) {
            st = sd_error_set(err, SD_ERR_INTERNAL,
                              "%s: the merge index points at row %u of %s, which has %zu rows; "
                              "the file changed behind the index",
                              m->table, hits[h].row, m->files[f].df->add->path, total);
            m->stale = true;
            break;
        }
        uint32_t in = hits[h].in;
        if (act[in] == MG_CHECK)
            act[in] = mg_row_equal(&bs[bi], hits[h].row - base, rows, in) ? MG_SKIP : MG_UPDATE;
        if (act[in] == MG_UPDATE) {
            if (m->use_dv)
                dv_rows[ndv++] = hits[h].row; /* hits are sorted by row */
            else
                drop[hits[h].row] = 1;
            replace = true;
        }
    }
    if (st == SD_OK && replace && m->use_dv) {
        p->dvs = sd_xrealloc(p->dvs, (p->ndvs + 1) * sizeof(*p->dvs));
        p->dvs[p->ndvs++] = (mg_dv_rows){m->files[f].df, dv_rows, ndv};
        dv_rows = NULL;
    } else if (st == SD_OK && replace) {
        uint32_t *keep = sd_xmalloc((total ? total : 1) * sizeof(uint32_t));
        size_t row = 0;
        for (size_t i = 0; i < nb; i++) {
            size_t nk = 0;
            for (size_t r = 0; r < bs[i].nrows; r++, row++)
                if (!drop[row]) keep[nk++] = (uint32_t)r;
            mg_emit(m, p, &m->files[f].df->partition_values[0], &bs[i], keep, nk);
        }
        free(keep);
        p->removed = sd_xrealloc(p->removed, (p->nremoved + 1) * sizeof(*p->removed));
        p->removed[p->nremoved++] = m->files[f].df;
        p->bytes_removed += m->files[f].df->add->size;
    }
    free(drop);
    free(dv_rows);
    for (size_t i = 0; i < nb; i++) sd_batch_free(&bs[i]);
    free(bs);
    return st;
}

/* Stage the deletion vector of one file: its live row numbers become
 * physical row indexes by stepping over the rows its current DV already
 * deletes (both ascending), then the file's DV is replaced by the union. */
static sd_status mg_stage_dv(const pipe_merge *m, delta_transaction *t, mg_plan *p,
                             const mg_dv_rows *d, sd_error *err) {
    delta_rowset cur = {0};
    if (d->df->add->has_dv) {
        sd_status st = delta_dv_load(m->table, &d->df->add->dv, &cur, err);
        if (st != SD_OK) return st;
    }
    uint64_t *phys = sd_xmalloc((d->n ? d->n : 1) * sizeof(uint64_t));
    size_t j = 0;
    for (size_t i = 0; i < d->n; i++) {
        uint64_t pr = (uint64_t)d->rows[i] + j;
        while (j < cur.count && cur.rows[j] <= pr) {
            j++;
            pr++;
        }
        phys[i] = pr;
    }
    delta_rowset_free(&cur);
    int64_t newly = 0;
    delta_dv_descriptor written;
    sd_status st =
        delta_transaction_delete_rows(t, m->snap, d->df, phys, d->n, &newly, &written, err);
    if (written.storage_type != 0) {
        /* Remember the file so that a failed commit leaves no orphan. */
        char *path = delta_dv_file_path(m->table, &written, NULL);
        if (path != NULL) {
            p->dv_files = sd_xrealloc(p->dv_files, (p->ndv_files + 1) * sizeof(char *));
            p->dv_files[p->ndv_files++] = path;
        }
        delta_dv_descriptor_clear(&written);
    }
    if (st == SD_OK && newly != (int64_t)d->n)
        st = sd_error_set(err, SD_ERR_INTERNAL,
                          "%s: the merge index points at rows of %s that are already deleted; "
                          "the file changed behind the index",
                          m->table, d->df->add->path);
    free(phys);
    return st;
}

/* Classify every input row against the index: new key, older (skip),
 * newer (update) or same order (check against the stored row). */
static void mg_classify(pipe_merge *m, const sd_batch *rows, uint8_t *act, uint8_t *consulted,
                        mg_hit **hits, size_t *nhits) {
    *hits = sd_xmalloc((rows->nrows ? rows->nrows : 1) * sizeof(mg_hit));
    *nhits = 0;
    const sd_column *kc = &rows->cols[m->key_col], *oc = &rows->cols[m->order_col];
    uint64_t hs[MG_AHEAD];
    for (size_t i = 0; i < rows->nrows && i < MG_AHEAD; i++) mg_hash_ahead(m, kc, i, hs);
    for (size_t i = 0; i < rows->nrows; i++) {
        uint64_t h = hs[i % MG_AHEAD];
        if (i + MG_AHEAD < rows->nrows) mg_hash_ahead(m, kc, i + MG_AHEAD, hs);
        const uint8_t *k;
        size_t n;
        act[i] = MG_INSERT;
        if (!mg_key_bytes(kc, i, &k, &n) || n > MG_MAX_KEY) continue;
        int64_t e = mk_find(&m->ix, k, n, h);
        if (e < 0) continue;
        const mk_entry *ent = &m->ix.entries[e];
        consulted[ent->file] = 1;
        int64_t o = mg_order_value(oc, i);
        if (o < ent->order) {
            act[i] = MG_SKIP;
            continue;
        }
        act[i] = o > ent->order ? MG_UPDATE : MG_CHECK;
        (*hits)[(*nhits)++] = (mg_hit){ent->file, ent->row, (uint32_t)i};
    }
    qsort(*hits, *nhits, sizeof(mg_hit), mg_hit_cmp);
}

/* Write one output file: Hive-style directory, SNAPPY Parquet without the
 * partition column, and its add action staged on t. */
static sd_status mg_write_out(pipe_merge *m, mg_out *o, delta_transaction *t, sd_error *err) {
    sd_buf rel = SD_BUF_INIT, pv = SD_BUF_INIT, enc = SD_BUF_INIT;
    if (m->part_col >= 0) {
        const char *col = m->schema->children[m->part_col].name;
        delta_partition_dir(&col, &o->pv, 1, &rel);
    }
    size_t dir_len = rel.len;
    delta_data_file_name(&rel);
    o->rel_path = sd_xstrdup(sd_buf_cstr(&rel));
    delta_path_encode(o->rel_path, &enc);
    o->logged_path = sd_xstrdup(sd_buf_cstr(&enc));
    o->abs_path = sd_xasprintf("%s/%s", m->table, o->rel_path);
    sd_status st = SD_OK;
    if (dir_len > 0) {
        char *dir = sd_xasprintf("%s/%.*s", m->table, (int)dir_len, o->rel_path);
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            st = sd_error_set(err, SD_ERR_IO, "cannot create partition directory %s: %s", dir,
                              strerror(errno));
        free(dir);
    }
    pq_file_summary sum = {0};
    if (st == SD_OK) {
        pq_writer_options opts;
        pq_writer_options_init(&opts);
        opts.codec = PQ_CODEC_SNAPPY;
        st = pq_write_file(o->abs_path, &o->rows, &opts, &sum, err);
        if (st != SD_OK) sd_error_prefix(err, "writing %s: ", o->abs_path);
    }
    if (st == SD_OK) {
        o->written = true;
        o->size = sum.file_size;
        delta_kv kv = {NULL, NULL};
        delta_map pvs = {0, NULL};
        if (m->part_col >= 0) {
            kv.key = m->schema->children[m->part_col].name;
            if (!o->pv.is_null) {
                delta_partition_value_format(&o->pv, &pv);
                kv.value = sd_buf_cstr(&pv);
            }
            pvs = (delta_map){1, &kv};
        }
        delta_transaction_add_written(t, o->logged_path, &pvs, &sum, true);
    }
    pq_file_summary_free(&sum);
    sd_buf_free(&rel);
    sd_buf_free(&pv);
    sd_buf_free(&enc);
    return st;
}

/* commitInfo.operationParameters and operationMetrics, as Spark logs a
 * MERGE (values are strings; predicates are SQL text inside them). */
static void mg_commit_info(const pipe_merge *m, delta_transaction *t, const mg_plan *p, bool merge,
                           int64_t nrows) {
    sd_buf params = SD_BUF_INIT, text = SD_BUF_INIT, metrics = SD_BUF_INIT;
    const char *key = m->schema->children[m->key_col].name;
    const char *ord = m->schema->children[m->order_col].name;
    if (merge) {
        sd_buf_appendf(&text, "[\"(target.`%s` = source.`%s`)\"]", key, key);
        sd_buf_append_str(&params, "{\"predicate\":");
        sd_json_append_string(&params, (const char *)text.data, text.len);
        sd_buf_reset(&text);
        sd_buf_appendf(&text,
                       "[{\"predicate\":\"(source.`%s` >= target.`%s`)\",\"actionType\":"
                       "\"update\"}]",
                       ord, ord);
        sd_buf_append_str(&params, ",\"matchedPredicates\":");
        sd_json_append_string(&params, (const char *)text.data, text.len);
        sd_buf_append_str(&params, ",\"notMatchedPredicates\":\"[{\\\"actionType\\\":"
                                   "\\\"insert\\\"}]\",\"notMatchedBySourcePredicates\":\"[]\"}");
    } else {
        sd_buf_append_str(&params, "{\"outputMode\":\"Update\"}");
    }
    int64_t out_rows = 0;
    for (size_t i = 0; i < p->nouts; i++) out_rows += (int64_t)p->outs[i].rows.nrows;
    int64_t bytes_added = 0;
    for (size_t i = 0; i < p->nouts; i++) bytes_added += p->outs[i].size;
    sd_buf_appendf(&metrics,
                   "{\"numSourceRows\":\"%lld\",\"numTargetRowsInserted\":\"%lld\","
                   "\"numTargetRowsUpdated\":\"%lld\",\"numTargetRowsDeleted\":\"0\","
                   "\"numTargetRowsCopied\":\"%lld\",\"numOutputRows\":\"%lld\","
                   "\"numTargetFilesAdded\":\"%zu\",\"numTargetFilesRemoved\":\"%zu\","
                   "\"numTargetBytesAdded\":\"%lld\",\"numTargetBytesRemoved\":\"%lld\","
                   "\"numAddedFiles\":\"%zu\",\"numRemovedFiles\":\"%zu\","
                   "\"numTargetDeletionVectorsAdded\":\"%zu\"}",
                   (long long)nrows, (long long)p->inserted, (long long)p->updated,
                   (long long)(out_rows - p->inserted - p->updated), (long long)out_rows, p->nouts,
                   p->nremoved, (long long)bytes_added, (long long)p->bytes_removed, p->nouts,
                   p->nremoved, p->ndvs);
    delta_transaction_set_operation_parameters(t, sd_buf_cstr(&params));
    delta_transaction_set_operation_metrics(t, sd_buf_cstr(&metrics));
    sd_buf_free(&params);
    sd_buf_free(&text);
    sd_buf_free(&metrics);
}

/* Declare what the merge read: the window's partitions (or the whole table
 * when there is no window), so that a concurrent add of data there - maybe
 * the same key - or a concurrent remove of a file there is a conflict. */
static void mg_read_set(const pipe_merge *m, delta_transaction *t) {
    if (m->window_start == INT64_MIN) {
        delta_transaction_read_whole_table(t);
        return;
    }
    pq_predicate pred;
    memset(&pred, 0, sizeof(pred));
    pred.path = m->schema->children[m->part_col].name;
    pred.op = PQ_GE;
    pred.value.kind = m->schema->children[m->part_col].type.kind;
    pred.value.u.i = pred.value.kind == SD_DATE ? m->window_start : m->window_start * MG_DAY_MICROS;
    delta_transaction_read_predicate(t, &pred, 1);
}

/* What a merge attempt's decisions rest on, for judging a concurrent
 * commit by key instead of by partition: two writers of one partition
 * (group-mode instances, OPTIMIZE) then collide only when they touch the
 * same keys, not on every batch. */
typedef struct mg_judge {
    pipe_merge *m;
    const sd_batch *rows;     /* the batch */
    const uint8_t *consulted; /* per file id: holds the current row of a batch key */
    mk_index keys;            /* the batch's keys, built on first need */
    bool have_keys;
} mg_judge;

static void mg_judge_keys(mg_judge *j) {
    if (j->have_keys) return;
    const sd_column *kc = &j->rows->cols[j->m->key_col];
    for (size_t i = 0; i < j->rows->nrows; i++) {
        const uint8_t *k;
        size_t n;
        if (mg_key_bytes(kc, i, &k, &n) && n <= MG_MAX_KEY)
            mk_put(&j->keys, k, n, sd_hash_bytes(k, n), 0, 0, (uint32_t)i);
    }
    j->have_keys = true;
}

/* Does a data file added by another writer hold one of the batch's keys?
 * A file that cannot be read counts as holding one. */
static bool mg_added_file_has_batch_key(mg_judge *j, const delta_add *add) {
    pipe_merge *m = j->m;
    if (m->key_col == m->part_col) return true;
    mg_judge_keys(j);
    delta_file df = {.add = add, .partition_values = NULL, .version = -1};
    const char *col = m->schema->children[m->key_col].name;
    sd_error rerr = {0};
    delta_file_reader *r = delta_file_reader_open(m->snap, &df, &col, 1, &rerr);
    if (r == NULL) return true;
    bool hit = false;
    for (;;) {
        sd_batch b;
        bool more;
        if (delta_file_reader_next(r, &b, &more, &rerr) != SD_OK) {
            hit = true;
            break;
        }
        if (!more) break;
        for (size_t i = 0; i < b.nrows && !hit; i++) {
            const uint8_t *k;
            size_t n;
            if (mg_key_bytes(&b.cols[0], i, &k, &n) && n <= MG_MAX_KEY)
                hit = mk_find(&j->keys, k, n, sd_hash_bytes(k, n)) >= 0;
        }
        sd_batch_free(&b);
        if (hit) break;
    }
    delta_file_reader_close(r);
    return hit;
}

/* Was a file another writer removed one this attempt looked a key up in? */
static bool mg_removed_file_consulted(const mg_judge *j, const char *path) {
    for (size_t i = 0; i < j->m->nfiles; i++)
        if (j->consulted[i] && strcmp(j->m->files[i].df->add->path, path) == 0) return true;
    return false;
}

/* delta_conflict_judge: a concurrent add conflicts when it holds a key of
 * the batch (an insert or update decided here may be stale), a concurrent
 * remove when it took away the current row of one (the delete or rewrite of
 * a row this attempt compared against). Everything else another writer did
 * leaves this attempt's plan valid. */
static sd_status mg_judge_winner(void *opaque, const delta_action *winner, int64_t version,
                                 bool *conflicts, sd_error *err) {
    (void)version;
    (void)err;
    mg_judge *j = opaque;
    if (winner->kind == DELTA_ACTION_ADD)
        *conflicts = mg_added_file_has_batch_key(j, &winner->u.add);
    else if (winner->kind == DELTA_ACTION_REMOVE)
        *conflicts = mg_removed_file_consulted(j, winner->u.remove.path);
    else
        *conflicts = true;
    return SD_OK;
}

typedef struct mg_offsets {
    const char *app_prefix, *topic;
    const int32_t *partitions;
    const int64_t *next;
    int n;
} mg_offsets;

/* The inserted and updated rows of the batch to the outputs of their
 * partitions, in arrival order: rows are grouped by partition first (most
 * batches touch one or two), then gathered column by column. */
static void mg_emit_rows(pipe_merge *m, mg_plan *p, const sd_batch *rows, const uint8_t *act) {
    size_t n = rows->nrows, npv = 0;
    sd_value *pvs = NULL;
    uint32_t *group = sd_xmalloc((n ? n : 1) * sizeof(uint32_t));
    size_t *count = NULL;
    size_t last = 0;
    for (size_t i = 0; i < n; i++) {
        group[i] = UINT32_MAX;
        if (act[i] == MG_SKIP) {
            p->unchanged++;
            continue;
        }
        if (act[i] == MG_INSERT)
            p->inserted++;
        else
            p->updated++;
        sd_value pv = mg_row_partition(m, rows, i);
        if (npv == 0 || sd_value_compare(&pvs[last], &pv) != 0) {
            for (last = 0; last < npv && sd_value_compare(&pvs[last], &pv) != 0; last++) {
            }
            if (last == npv) {
                pvs = sd_xrealloc(pvs, (npv + 1) * sizeof(sd_value));
                count = sd_xrealloc(count, (npv + 1) * sizeof(size_t));
                pvs[npv] = pv; /* borrows from `rows`; mg_out_for copies it */
                count[npv++] = 0;
            }
        }
        group[i] = (uint32_t)last;
        count[last]++;
    }
    /* Counting sort by group, keeping arrival order inside each. */
    uint32_t *idx = sd_xmalloc((n ? n : 1) * sizeof(uint32_t));
    size_t *at = sd_xmalloc((npv + 1) * sizeof(size_t));
    at[0] = 0;
    for (size_t g = 0; g < npv; g++) at[g + 1] = at[g] + count[g];
    for (size_t i = 0; i < n; i++)
        if (group[i] != UINT32_MAX) idx[at[group[i]]++] = (uint32_t)i;
    for (size_t g = 0, from = 0; g < npv; from += count[g], g++)
        mg_emit(m, p, &pvs[g], rows, idx + from, count[g]);
    free(at);
    free(idx);
    free(group);
    free(count);
    free(pvs);
}

/* Plan, write and commit one merge against m->snap. */
static sd_status mg_attempt(pipe_merge *m, const sd_batch *rows, const mg_offsets *off,
                            bool offsets_moved, mg_plan *p, int64_t *version,
                            pipe_merge_stats *stats, sd_error *err) {
    int64_t t0 = sd_now_ns();
    /* Decided per attempt: a retry may see a newer protocol or property. */
    m->use_dv =
        delta_snapshot_dv_supported(m->snap) && (m->cfg_dv || delta_snapshot_dv_enabled(m->snap));
    uint8_t *act = sd_xmalloc(rows->nrows ? rows->nrows : 1);
    uint8_t *consulted = sd_xcalloc(m->nfiles ? m->nfiles : 1, 1);
    mg_hit *hits;
    size_t nhits;
    mg_classify(m, rows, act, consulted, &hits, &nhits);
    sd_status st = SD_OK;
    for (size_t h = 0; st == SD_OK && h < nhits;) {
        size_t e = h;
        while (e < nhits && hits[e].file == hits[h].file) e++;
        st = mg_rewrite_file(m, p, rows, act, hits + h, e - h, err);
        h = e;
    }
    free(hits);
    if (st == SD_OK) mg_emit_rows(m, p, rows, act);
    free(act);
    int64_t t1 = sd_now_ns();
    stats->plan_ns += t1 - t0;
    *version = -1;
    if (st != SD_OK || (p->nouts == 0 && p->nremoved == 0 && p->ndvs == 0 && !offsets_moved)) {
        free(consulted);
        return st;
    }
    bool merge = p->nouts > 0 || p->nremoved > 0 || p->ndvs > 0;
    delta_transaction *t = delta_transaction_begin(m->snap, merge ? "MERGE" : "STREAMING UPDATE");
    for (size_t i = 0; st == SD_OK && i < p->nouts; i++) {
        st = mg_write_out(m, &p->outs[i], t, err);
        if (st == SD_OK) p->bytes_added += p->outs[i].size;
    }
    for (size_t i = 0; i < p->nremoved; i++) delta_transaction_remove(t, p->removed[i], true);
    for (size_t i = 0; st == SD_OK && i < p->ndvs; i++) st = mg_stage_dv(m, t, p, &p->dvs[i], err);
    int64_t t2 = sd_now_ns();
    stats->write_ns += t2 - t1;
    for (int i = 0; i < off->n; i++) {
        char *app = mg_app_id(off->app_prefix, off->topic, off->partitions[i]);
        delta_transaction_set_app_version(t, app, off->next[i]);
        free(app);
    }
    mg_read_set(m, t);
    mg_judge judge = {.m = m, .rows = rows, .consulted = consulted};
    delta_transaction_set_conflict_judge(t, mg_judge_winner, &judge);
    mg_commit_info(m, t, p, merge, (int64_t)rows->nrows);
    if (st == SD_OK) st = delta_transaction_commit(t, MG_COMMIT_RETRIES, version, err);
    delta_transaction_free(t);
    mk_free(&judge.keys);
    free(consulted);
    stats->commit_ns += sd_now_ns() - t2;
    return st;
}

/* ------------------------------------------------------------------------ */
/* Commit (the public call)                                                  */
/* ------------------------------------------------------------------------ */

/* SD_ERR_CONFLICT when the table records, for one of our partitions, an
 * offset beyond ours, or (after a lost race: moved) one at least ours. */
static sd_status mg_check_offsets(const pipe_merge *m, const mg_offsets *off, const int64_t *before,
                                  bool *moved, sd_error *err) {
    *moved = false;
    for (int i = 0; i < off->n; i++) {
        char *app = mg_app_id(off->app_prefix, off->topic, off->partitions[i]);
        int64_t have = delta_snapshot_txn_version(m->snap, app);
        bool other = before != NULL && have != before[i] && have >= off->next[i];
        if (have > off->next[i] || other) {
            sd_status st = sd_error_set(
                err, SD_ERR_CONFLICT,
                "table %s (version %lld) already records offset %lld for %s, at or past this "
                "batch's %lld: another stream instance processed these records; re-read the "
                "positions from the table",
                m->table, (long long)delta_snapshot_version(m->snap), (long long)have, app,
                (long long)off->next[i]);
            free(app);
            return st;
        }
        if (have != off->next[i]) *moved = true;
        free(app);
    }
    return SD_OK;
}

/* Fold in the latest table version (after a conflict), then check that no
 * other stream instance took our offsets. */
static sd_status mg_reload(pipe_merge *m, const mg_offsets *off, sd_error *err) {
    int64_t *before = sd_xmalloc(((size_t)off->n + 1) * sizeof(int64_t));
    for (int i = 0; i < off->n; i++) {
        char *app = mg_app_id(off->app_prefix, off->topic, off->partitions[i]);
        before[i] = delta_snapshot_txn_version(m->snap, app);
        free(app);
    }
    delta_snapshot *ns = NULL;
    sd_status st = delta_snapshot_update(m->snap, -1, &ns, err);
    if (st == SD_OK) st = mg_sync(m, ns, NULL, 0, err);
    bool moved;
    if (st == SD_OK) st = mg_check_offsets(m, off, before, &moved, err);
    free(before);
    return st;
}

/* A checkpoint when `version` (just committed, m->snap is at it) calls for
 * one, then the clean-up of expired log files Delta does after it. Trouble
 * goes to `warning`: the commit itself is durable. */
static void mg_checkpoint_if_due(pipe_merge *m, int64_t version, char *warning, size_t cap) {
    int interval = delta_snapshot_checkpoint_interval(m->snap);
    if (interval <= 0 || version % interval != 0) return;
    sd_error cerr = {0};
    if (delta_checkpoint_write(m->snap, &cerr) != SD_OK)
        snprintf(warning, cap, "committed version %lld, but writing its checkpoint failed: %.900s",
                 (long long)version, cerr.msg);
    /* As Delta does after a checkpoint (delta.enableExpiredLogCleanup):
     * drop log files older than delta.logRetentionDuration that no
     * retained checkpoint needs. */
    else if (strcmp(delta_snapshot_property(m->snap, "delta.enableExpiredLogCleanup", "true"),
                    "false") != 0 &&
             delta_log_cleanup(m->snap, sd_now_ms(), NULL, &cerr) != SD_OK)
        snprintf(warning, cap,
                 "committed version %lld and its checkpoint, but cleaning up expired log "
                 "files failed: %.880s",
                 (long long)version, cerr.msg);
}

/* After our commit: the new snapshot, the index patched with the files we
 * wrote, and a checkpoint when the version calls for one. */
static sd_status mg_after_commit(pipe_merge *m, const mg_plan *p, int64_t version,
                                 pipe_merge_stats *stats, sd_error *err) {
    delta_snapshot *ns = NULL;
    sd_status st = delta_snapshot_update(m->snap, version, &ns, err);
    if (st == SD_OK) st = mg_sync(m, ns, p->outs, p->nouts, err);
    if (st != SD_OK) {
        /* The commit is durable; only our view is behind. Rebuild next time. */
        m->stale = true;
        snprintf(stats->warning, sizeof(stats->warning),
                 "committed version %lld, but refreshing the merge index failed (rebuilt on the "
                 "next batch): %.880s",
                 (long long)version, err->msg);
        sd_error_clear(err);
        return SD_OK;
    }
    mg_checkpoint_if_due(m, version, stats->warning, sizeof(stats->warning));
    return SD_OK;
}

/* Reload the table and rebuild the index from scratch (after a failure
 * left it out of date). */
static sd_status mg_rebuild(pipe_merge *m, sd_error *err) {
    delta_snapshot *ns = NULL;
    sd_status st = delta_snapshot_update(m->snap, -1, &ns, err);
    if (st != SD_OK) return st;
    m->stale = true;
    return mg_sync(m, ns, NULL, 0, err);
}

/* A data file listed by the snapshot was not found: with a short VACUUM
 * retention, files another writer removed disappear while our view still
 * lists them. A newer version no longer does (if it still did, the table
 * would be broken, and the redo budget ends the retries). */
static bool mg_redo_worthy(sd_status st) {
    return st == SD_ERR_CONFLICT || st == SD_ERR_NOT_FOUND;
}

/* mg_rebuild, again while files vanish between loading the latest version
 * and reading its files' keys. */
static sd_status mg_rebuild_retrying(pipe_merge *m, sd_error *err) {
    sd_status st = mg_rebuild(m, err);
    for (int i = 0; st == SD_ERR_NOT_FOUND && i < MG_MAX_REDO; i++) {
        sd_error_clear(err);
        st = mg_rebuild(m, err);
    }
    return st;
}

sd_status pipe_merge_commit(pipe_merge *m, const sd_batch *rows, const char *app_prefix,
                            const char *topic, const int32_t *partitions,
                            const int64_t *next_offsets, int npartitions, int64_t today_days,
                            pipe_merge_stats *stats, sd_error *err) {
    memset(stats, 0, sizeof(*stats));
    stats->version = -1;
    if (rows->ncols != m->schema->nchildren)
        return sd_error_set(err, SD_ERR_ARG,
                            "merge into %s: the batch has %d columns, the table %d", m->table,
                            rows->ncols, m->schema->nchildren);
    if (npartitions > 0 && (topic == NULL || partitions == NULL || next_offsets == NULL))
        return sd_error_set(err, SD_ERR_ARG, "merge into %s: offsets without a topic", m->table);
    mg_offsets off = {app_prefix ? app_prefix : "", topic ? topic : "", partitions, next_offsets,
                      npartitions};
    sd_status st = SD_OK;
    int64_t start = mg_window_start(m, today_days);
    if (m->stale) st = mg_rebuild_retrying(m, err);
    if (st == SD_OK && start != m->window_start) {
        m->window_start = start;
        st = mg_sync(m, m->snap, NULL, 0, err);
    }
    bool moved = false;
    if (st == SD_OK) st = mg_check_offsets(m, &off, NULL, &moved, err);
    if (st != SD_OK) return st;
    mg_plan plan = {0};
    int64_t version = -1;
    for (int attempt = 0;; attempt++) {
        memset(&plan, 0, sizeof(plan));
        st = mg_attempt(m, rows, &off, moved, &plan, &version, stats, err);
        if (st == SD_OK) break;
        mg_plan_free(&plan, false);
        if (!mg_redo_worthy(st) || attempt >= MG_MAX_REDO) return st;
        /* Another writer changed what we read, or a file of our snapshot
         * is gone (OPTIMIZE removed it, VACUUM deleted it): fold the latest
         * version in and redo. */
        sd_error_clear(err);
        stats->retries++;
        st = mg_reload(m, &off, err);
        if (st == SD_ERR_NOT_FOUND) {
            sd_error_clear(err);
            st = mg_rebuild_retrying(m, err);
        }
        if (st != SD_OK) return st;
        st = mg_check_offsets(m, &off, NULL, &moved, err);
        if (st != SD_OK) return st;
    }
    stats->inserted = plan.inserted;
    stats->updated = plan.updated;
    stats->unchanged = plan.unchanged;
    if (version >= 0) {
        stats->version = version;
        stats->files_added = (int64_t)plan.nouts;
        stats->files_removed = (int64_t)plan.nremoved;
        stats->bytes_added = plan.bytes_added;
        stats->bytes_removed = plan.bytes_removed;
        int64_t t0 = sd_now_ns();
        st = mg_after_commit(m, &plan, version, stats, err);
        stats->commit_ns += sd_now_ns() - t0;
    }
    mg_plan_free(&plan, true);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Auto-compaction                                                           */
/* ------------------------------------------------------------------------ */

/* Retries of the compaction commit on lost races that are no conflict;
 * a real conflict gives up at once (the next batch tries again). */
#define MG_COMPACT_RETRIES 3

static bool mg_compact_enabled(const pipe_merge *m) {
    if (m->compact_mode == PIPE_COMPACT_ON) return true;
    if (m->compact_mode == PIPE_COMPACT_OFF) return false;
    return strcasecmp(delta_snapshot_property(m->snap, "delta.autoOptimize.autoCompact", "false"),
                      "true") == 0;
}

static bool mg_compact_small(const pipe_merge *m, const delta_file *df) {
    return df->add->size < m->compact_target || df->add->has_dv;
}

/* The window's partition with the most small files, if it has at least
 * compact_min_files of them; -1 when none qualifies. Returns an index into
 * m->files of one file of that partition. The null partition is left
 * alone (an equality predicate cannot select it). */
static int64_t mg_compact_pick(const pipe_merge *m) {
    int64_t best = -1, best_n = 0;
    bool *seen = sd_xcalloc(m->nfiles ? m->nfiles : 1, sizeof(bool));
    for (size_t i = 0; i < m->nfiles; i++) {
        if (seen[i]) continue;
        const delta_file *a = m->files[i].df;
        if (m->part_col >= 0 && a->partition_values[0].is_null) continue;
        int64_t n = 0;
        for (size_t j = i; j < m->nfiles; j++) {
            const delta_file *b = m->files[j].df;
            if (m->part_col >= 0 &&
                (b->partition_values[0].is_null ||
                 sd_value_compare(&a->partition_values[0], &b->partition_values[0]) != 0))
                continue;
            seen[j] = true;
            n += mg_compact_small(m, b);
        }
        if (n >= m->compact_min_files && n > best_n) {
            best = (int64_t)i;
            best_n = n;
        }
    }
    free(seen);
    return best;
}

/* Fold the compaction commit (and whatever other writers committed before
 * it) into the index; the compacted files' keys are read back from disk. */
static void mg_compact_fold(pipe_merge *m, int64_t version, pipe_compact_stats *cs) {
    sd_error err = {0};
    delta_snapshot *ns = NULL;
    sd_status st = delta_snapshot_update(m->snap, version, &ns, &err);
    if (st == SD_OK) st = mg_sync(m, ns, NULL, 0, &err);
    if (st != SD_OK) {
        m->stale = true;
        snprintf(cs->warning, sizeof(cs->warning),
                 "compacted into version %lld, but refreshing the merge index failed (rebuilt on "
                 "the next batch): %.880s",
                 (long long)version, err.msg);
        return;
    }
    mg_checkpoint_if_due(m, version, cs->warning, sizeof(cs->warning));
}

void pipe_merge_auto_compact(pipe_merge *m, pipe_compact_stats *cs) {
    memset(cs, 0, sizeof(*cs));
    cs->version = -1;
    if (m->stale || !mg_compact_enabled(m)) return;
    int64_t pick = mg_compact_pick(m);
    if (pick < 0) return;
    const delta_file *df = m->files[pick].df;
    pq_predicate pred;
    memset(&pred, 0, sizeof(pred));
    sd_buf text = SD_BUF_INIT;
    delta_optimize_options o = {.target_size = m->compact_target,
                                /* The trigger is decided here; a capped run may
                                 * take fewer files than that. */
                                .min_files = 2,
                                .max_retries = MG_COMPACT_RETRIES,
                                .max_bytes = m->compact_max_bytes,
                                .auto_compact = true};
    if (m->part_col >= 0) {
        /* The value is borrowed from m->snap, which outlives the call. */
        pred.path = m->schema->children[m->part_col].name;
        pred.op = PQ_EQ;
        pred.value = df->partition_values[0];
        sd_buf_appendf(&text, "%s = '", pred.path);
        delta_partition_value_format(&df->partition_values[0], &text);
        sd_buf_append_byte(&text, '\'');
        o.preds = &pred;
        o.npreds = 1;
        o.predicate_text = sd_buf_cstr(&text);
    }
    delta_optimize_metrics met;
    sd_error err = {0};
    sd_status st = delta_optimize(m->snap, &o, &met, &err);
    sd_buf_free(&text);
    if (st != SD_OK) {
        /* The batch is committed; compaction is only an optimisation. */
        snprintf(cs->warning, sizeof(cs->warning), "auto-compaction of %s skipped: %.900s",
                 m->table, err.msg);
        return;
    }
    if (met.version < 0) return;
    cs->version = met.version;
    cs->files_removed = met.num_files_removed;
    cs->files_added = met.num_files_added;
    cs->bytes_removed = met.bytes_removed;
    cs->bytes_added = met.bytes_added;
    mg_compact_fold(m, met.version, cs);
}

/* ------------------------------------------------------------------------ */
/* Introspection                                                             */
/* ------------------------------------------------------------------------ */

int64_t pipe_merge_index_keys(const pipe_merge *m) {
    return (int64_t)(m->ix.n - m->ix.ndead);
}

bool pipe_merge_index_get(const pipe_merge *m, const void *key, size_t len, const char **path,
                          int64_t *row, int64_t *order) {
    int64_t e = mk_find(&m->ix, key, len, sd_hash_bytes(key, len));
    if (e < 0) return false;
    const mk_entry *ent = &m->ix.entries[e];
    if (path) *path = m->files[ent->file].df->add->path;
    if (row) *row = ent->row;
    if (order) *order = ent->order;
    return true;
}
