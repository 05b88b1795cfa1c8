/*
 * delta_optimize.c - OPTIMIZE (bin-packing compaction) of a Delta table:
 * many small files of a partition become a few files near a target size,
 * in one commit that changes no data (dataChange=false on every add and
 * remove), so streaming readers of the table skip it.
 *
 * Plan: the live files of the selected partitions, grouped by partition
 * (their logged partition values), in path order. A file is a candidate
 * when it is smaller than the target or carries a deletion vector (the
 * rewrite drops its deleted rows). Candidates are packed greedily into
 * bins; a bin closes once the input bytes in it reach the target, so every
 * bin but the last of a partition holds at least `target` input bytes and
 * a partition ends with at most ceil(bytes / target) files.
 *
 * Concurrency: the commit removes exactly the files it read. The Delta
 * layer's conflict check fails the commit when a concurrent commit removed
 * one of them (a MERGE that rewrote it, a DELETE that gave it a deletion
 * vector); blind appends in between do not conflict, as in Delta. On any
 * failure the files written here are deleted again.
 *
 * Reference: delta-io/delta docs "Optimize", OptimizeTableCommand metrics.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta_internal.h"

#define OPT_DEFAULT_TARGET                                                                         \
    (256LL * 1024 * 1024) /* Delta's optimize.maxFileSize is 1 GiB;                                \
                             256 MiB suits a streaming sink */
#define OPT_DEFAULT_MIN_FILES 2
#define OPT_DEFAULT_RETRIES 10

/* A candidate file with the key of its partition. */
typedef struct opt_item {
    const delta_file *file;
    char *part_key; /* partition values joined, NULL shown as \x01 */
} opt_item;

/* One bin: items [first, first + count) of the sorted array. */
typedef struct opt_bin {
    size_t first, count;
    int64_t bytes;
    bool has_dv;
} opt_bin;

typedef struct opt_ctx {
    const delta_snapshot *snap;
    const delta_metadata *meta;
    int64_t target;
    int min_files;
    /* Names of the data columns (table columns that are not partition
     * columns): what a data file holds. */
    const char **data_cols;
    int ndata_cols;
    /* New files written (absolute paths) for cleanup on failure. */
    char **written;
    size_t nwritten;
} opt_ctx;

static bool opt_is_partition_col(const delta_metadata *m, const char *name) {
    for (size_t i = 0; i < m->npartition_columns; i++)
        if (strcmp(m->partition_columns[i], name) == 0) return true;
    return false;
}

/* Key of a file's partition: values in partitionColumns order, separated
 * by \x00-free markers so "a","bc" and "ab","c" differ. */
static char *opt_partition_key(const delta_metadata *m, const delta_add *add) {
    sd_buf k = SD_BUF_INIT;
    for (size_t i = 0; i < m->npartition_columns; i++) {
        bool found = false;
        const char *v = delta_map_get(&add->partition_values, m->partition_columns[i], &found);
        if (v == NULL || v[0] == '\0')
            sd_buf_append_byte(&k, 1); /* null and "" are one partition */
        else
            sd_buf_appendf(&k, "%zu:%s", strlen(v), v);
        sd_buf_append_byte(&k, 2);
    }
    char *out = sd_xstrdup(sd_buf_cstr(&k));
    sd_buf_free(&k);
    return out;
}

static int opt_item_cmp(const void *a, const void *b) {
    const opt_item *x = a, *y = b;
    int c = strcmp(x->part_key, y->part_key);
    if (c != 0) return c;
    return strcmp(x->file->add->path, y->file->add->path);
}

/* mkdir -p of every directory above `path`'s last component. */
static sd_status opt_mkdirs(const char *path, sd_error *err) {
    char *p = sd_xstrdup(path);
    sd_status st = SD_OK;
    for (char *s = p + 1; *s && st == SD_OK; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            st = sd_error_set(err, SD_ERR_IO, "OPTIMIZE: cannot create directory %s: %s", p,
                              strerror(errno));
        *s = '/';
    }
    free(p);
    return st;
}

/* Copy every remaining row of `file` into the writer (opened lazily with
 * the reader's schema on the first batch). */
static sd_status opt_copy_file(opt_ctx *c, const delta_file *file, const char *out_path,
                               pq_writer **w, int64_t *rows, sd_error *err) {
    delta_file_reader *r = delta_file_reader_open(c->snap, file, c->data_cols, c->ndata_cols, err);
    if (r == NULL) return err->code ? err->code : SD_ERR_INTERNAL;
    sd_status st = SD_OK;
    for (;;) {
        sd_batch b;
        bool more = false;
        st = delta_file_reader_next(r, &b, &more, err);
        if (st != SD_OK || !more) break;
        if (b.nrows > 0 && *w == NULL) {
            pq_writer_options o;
            pq_writer_options_init(&o);
            *w = pq_writer_open(out_path, delta_file_reader_schema(r), &o, err);
            if (*w == NULL) st = err->code ? err->code : SD_ERR_IO;
        }
        if (st == SD_OK && b.nrows > 0) st = pq_writer_write(*w, &b, err);
        *rows += (int64_t)b.nrows;
        sd_batch_free(&b);
        if (st != SD_OK) break;
    }
    delta_file_reader_close(r);
    return st;
}

/* Write one bin as one new file and stage its add and the removes. A bin
 * whose rows were all deleted adds nothing. */
static sd_status opt_write_bin(opt_ctx *c, const opt_item *items, const opt_bin *bin,
                               delta_transaction *t, delta_optimize_metrics *m, sd_error *err) {
    const delta_file *first = items[bin->first].file;
    sd_buf rel = SD_BUF_INIT, logged = SD_BUF_INIT;
    if (c->meta->npartition_columns > 0)
        delta_partition_dir(c->meta->partition_columns, first->partition_values,
                            c->meta->npartition_columns, &rel);
    delta_data_file_name(&rel);
    char *full = sd_xasprintf("%s/%s", delta_snapshot_table_path(c->snap), sd_buf_cstr(&rel));
    sd_status st = opt_mkdirs(full, err);
    pq_writer *w = NULL;
    int64_t rows = 0;
    for (size_t i = 0; st == SD_OK && i < bin->count; i++) {
        const delta_file *f = items[bin->first + i].file;
        st = opt_copy_file(c, f, full, &w, &rows, err);
        if (st != SD_OK) sd_error_prefix(err, "OPTIMIZE: rewriting %s: ", f->add->path);
    }
    pq_file_summary sum = {0};
    if (st != SD_OK) {
        if (w) pq_writer_abort(w);
    } else if (w != NULL) {
        st = pq_writer_close(w, &sum, err);
        if (st == SD_OK) {
            c->written = sd_xrealloc(c->written, (c->nwritten + 1) * sizeof(char *));
            c->written[c->nwritten++] = full;
            full = NULL;
            delta_path_encode(sd_buf_cstr(&rel), &logged);
            delta_transaction_add_written(t, sd_buf_cstr(&logged), &first->add->partition_values,
                                          &sum, false);
            m->num_files_added++;
            m->bytes_added += sum.file_size;
            if (m->min_added == 0 || sum.file_size < m->min_added) m->min_added = sum.file_size;
            if (sum.file_size > m->max_added) m->max_added = sum.file_size;
            pq_file_summary_free(&sum);
        }
    }
    for (size_t i = 0; st == SD_OK && i < bin->count; i++) {
        const delta_file *f = items[bin->first + i].file;
        delta_transaction_remove(t, f, false);
        m->num_files_removed++;
        if (f->add->has_dv) m->num_dvs_removed++;
        m->bytes_removed += f->add->size;
        if (m->min_removed == 0 || f->add->size < m->min_removed) m->min_removed = f->add->size;
        if (f->add->size > m->max_removed) m->max_removed = f->add->size;
    }
    if (st == SD_OK) {
        m->num_batches++;
        m->rows_written += rows;
    }
    free(full);
    sd_buf_free(&rel);
    sd_buf_free(&logged);
    return st;
}

/* Pack the candidates items[lo, hi) of one partition into bins. Returns the
 * number of bins (0 when the partition is not worth compacting). */
static size_t opt_pack(const opt_ctx *c, const opt_item *items, size_t lo, size_t hi,
                       opt_bin *bins) {
    size_t ncand = hi - lo;
    bool any_dv = false;
    for (size_t i = lo; i < hi; i++) any_dv |= items[i].file->add->has_dv;
    if (ncand == 0 || ((int64_t)ncand < c->min_files && !any_dv)) return 0;
    size_t nb = 0;
    opt_bin cur = {lo, 0, 0, false};
    for (size_t i = lo; i < hi; i++) {
        const delta_add *a = items[i].file->add;
        cur.count++;
        cur.bytes += a->size > 0 ? a->size : 0;
        cur.has_dv |= a->has_dv;
        if (cur.bytes >= c->target) {
            bins[nb++] = cur;
            cur = (opt_bin){i + 1, 0, 0, false};
        }
    }
    if (cur.count > 0) bins[nb++] = cur;
    /* Rewriting one file alone gains nothing, unless it drops deleted rows. */
    size_t kept = 0;
    for (size_t i = 0; i < nb; i++)
        if (bins[i].count > 1 || bins[i].has_dv) bins[kept++] = bins[i];
    return kept;
}

static void opt_cleanup(opt_ctx *c, bool unlink_written) {
    for (size_t i = 0; i < c->nwritten; i++) {
        if (unlink_written) unlink(c->written[i]);
        free(c->written[i]);
    }
    free(c->written);
    free(c->data_cols);
    c->written = NULL;
    c->nwritten = 0;
}

/* commitInfo.operationParameters as Spark logs them: the predicate list
 * and zOrderBy as JSON text inside strings. */
static void opt_params(const delta_optimize_options *o, sd_buf *out) {
    sd_buf list = SD_BUF_INIT;
    sd_buf_append_byte(&list, '[');
    if (o->predicate_text && o->predicate_text[0]) {
        sd_buf p = SD_BUF_INIT;
        sd_buf_appendf(&p, "(%s)", o->predicate_text);
        sd_json_append_string(&list, (const char *)p.data, p.len);
        sd_buf_free(&p);
    }
    sd_buf_append_byte(&list, ']');
    sd_buf_append_str(out, "{\"predicate\":");
    sd_json_append_string(out, (const char *)list.data, list.len);
    sd_buf_appendf(out, ",\"zOrderBy\":\"[]\",\"auto\":%s}", o->auto_compact ? "true" : "false");
    sd_buf_free(&list);
}

static void opt_metrics_json(const delta_optimize_metrics *m, sd_buf *out) {
    sd_buf_appendf(out,
                   "{\"numRemovedFiles\":\"%lld\",\"numRemovedBytes\":\"%lld\","
                   "\"minFileSize\":\"%lld\",\"maxFileSize\":\"%lld\","
                   "\"numAddedFiles\":\"%lld\",\"numAddedBytes\":\"%lld\","
                   "\"partitionsOptimized\":\"%lld\",\"numBatches\":\"%lld\","
                   "\"totalConsideredFiles\":\"%lld\",\"totalFilesSkipped\":\"%lld\","
                   "\"numDeletionVectorsRemoved\":\"%lld\"}",
                   (long long)m->num_files_removed, (long long)m->bytes_removed,
                   (long long)m->min_added, (long long)m->max_added, (long long)m->num_files_added,
                   (long long)m->bytes_added, (long long)m->partitions_optimized,
                   (long long)m->num_batches, (long long)m->total_considered_files,
                   (long long)m->total_files_skipped, (long long)m->num_dvs_removed);
}

/* The candidates among the live files of the selected partitions (files
 * below the target or with a deletion vector), sorted by partition then
 * path; counts every selected file in totalConsideredFiles. */
static sd_status opt_select(opt_ctx *c, const delta_optimize_options *o, opt_item **out, size_t *n,
                            delta_optimize_metrics *m, sd_error *err) {
    const delta_file **files = NULL;
    size_t nfiles = 0;
    sd_status st = delta_scan_files(c->snap, o->preds, o->npreds, &files, &nfiles, err);
    if (st != SD_OK) return st;
    opt_item *items = sd_xcalloc(nfiles ? nfiles : 1, sizeof(*items));
    size_t k = 0;
    for (size_t i = 0; i < nfiles; i++) {
        m->total_considered_files++;
        const delta_add *a = files[i]->add;
        if (a->size >= c->target && !a->has_dv) continue;
        items[k].file = files[i];
        items[k].part_key = opt_partition_key(c->meta, a);
        k++;
    }
    free(files);
    qsort(items, k, sizeof(*items), opt_item_cmp);
    *out = items;
    *n = k;
    return SD_OK;
}

/* The candidates that fit in max_bytes, taken in order (a file that does
 * not fit is passed over, smaller ones after it may still fit): a new
 * array of borrowed items, in the same order; the rest waits for the next
 * run. */
static opt_item *opt_capped(const opt_item *items, size_t n, int64_t max_bytes, size_t *nout) {
    opt_item *out = sd_xcalloc(n ? n : 1, sizeof(*out));
    int64_t sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t sz = items[i].file->add->size > 0 ? items[i].file->add->size : 0;
        if (sum + sz > max_bytes) continue;
        sum += sz;
        out[k++] = items[i];
    }
    *nout = k;
    return out;
}

static void opt_defaults(const delta_optimize_options *in, delta_optimize_options *o) {
    *o = (delta_optimize_options){0};
    if (in) *o = *in;
    if (o->target_size <= 0) o->target_size = OPT_DEFAULT_TARGET;
    if (o->min_files <= 0) o->min_files = OPT_DEFAULT_MIN_FILES;
    if (o->max_retries < 0 || in == NULL) o->max_retries = OPT_DEFAULT_RETRIES;
}

/* Rewrite every bin of every partition into the transaction. */
static sd_status opt_rewrite(opt_ctx *c, opt_item *items, size_t n, delta_transaction *t,
                             delta_optimize_metrics *m, sd_error *err) {
    opt_bin *bins = sd_xcalloc(n ? n : 1, sizeof(*bins));
    sd_status st = SD_OK;
    for (size_t lo = 0; lo < n && st == SD_OK;) {
        size_t hi = lo + 1;
        while (hi < n && strcmp(items[hi].part_key, items[lo].part_key) == 0) hi++;
        size_t nb = opt_pack(c, items, lo, hi, bins);
        if (nb > 0) m->partitions_optimized++;
        for (size_t b = 0; b < nb && st == SD_OK; b++)
            st = opt_write_bin(c, items, &bins[b], t, m, err);
        lo = hi;
    }
    free(bins);
    return st;
}

sd_status delta_optimize(const delta_snapshot *s, const delta_optimize_options *in,
                         delta_optimize_metrics *m, sd_error *err) {
    delta_optimize_options o;
    opt_defaults(in, &o);
    *m = (delta_optimize_metrics){.version = -1, .start_ms = sd_now_ms()};
    const delta_metadata *meta = delta_snapshot_metadata(s);
    sd_status st = delta_features_check_write(delta_snapshot_protocol(s), meta, err);
    if (st != SD_OK) return st;
    for (int i = 0; i < o.npreds; i++)
        if (!opt_is_partition_col(meta, o.preds[i].path))
            return sd_error_set(err, SD_ERR_ARG,
                                "OPTIMIZE of %s: the predicate may only use partition columns, "
                                "'%s' is not one",
                                delta_snapshot_table_path(s), o.preds[i].path);
    opt_ctx c = {.snap = s, .meta = meta, .target = o.target_size, .min_files = o.min_files};
    const sd_schema *schema = delta_snapshot_schema(s);
    c.data_cols = sd_xcalloc((size_t)schema->nchildren + 1, sizeof(char *));
    for (int i = 0; i < schema->nchildren; i++)
        if (!opt_is_partition_col(meta, schema->children[i].name))
            c.data_cols[c.ndata_cols++] = schema->children[i].name;
    opt_item *items = NULL;
    size_t n = 0;
    st = opt_select(&c, &o, &items, &n, m, err);
    delta_transaction *t = delta_transaction_begin(s, "OPTIMIZE");
    size_t nsel = n;
    opt_item *sel = o.max_bytes > 0 ? opt_capped(items, n, o.max_bytes, &nsel) : items;
    if (st == SD_OK) st = opt_rewrite(&c, sel, nsel, t, m, err);
    if (sel != items) free(sel);
    m->total_files_skipped = m->total_considered_files - m->num_files_removed;
    if (st == SD_OK && m->num_files_removed > 0) {
        sd_buf params = SD_BUF_INIT, metrics = SD_BUF_INIT;
        opt_params(&o, &params);
        opt_metrics_json(m, &metrics);
        delta_transaction_set_operation_parameters(t, sd_buf_cstr(&params));
        delta_transaction_set_operation_metrics(t, sd_buf_cstr(&metrics));
        st = delta_transaction_commit(t, o.max_retries, &m->version, err);
        if (st == SD_ERR_CONFLICT)
            sd_error_prefix(err, "OPTIMIZE lost to a concurrent change (nothing was changed, "
                                 "run it again): ");
        sd_buf_free(&params);
        sd_buf_free(&metrics);
    }
    delta_transaction_free(t);
    opt_cleanup(&c, st != SD_OK);
    for (size_t i = 0; i < n; i++) free(items[i].part_key);
    free(items);
    m->end_ms = sd_now_ms();
    return st;
}
