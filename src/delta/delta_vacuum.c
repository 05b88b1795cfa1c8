/*
 * delta_vacuum.c - VACUUM: delete the files of a Delta table's directory
 * that no version within the retention period needs.
 *
 * Kept: every data file and deletion-vector file of the snapshot's live
 * files, and of its remove tombstones whose deletionTimestamp is within
 * the retention (older versions, time travel and slow readers need them).
 * Deleted: the other files under the table directory that were removed
 * (tombstone) before now - retention, or that no tombstone names (failed
 * writes, files of expired tombstones dropped from checkpoints) and were
 * last modified before now - retention. Never looked at: _delta_log and
 * every name starting with '_' or '.' that is not a partition directory
 * ("_col=..." for a partition column "_col"), as PROTOCOL.md and Delta's
 * VacuumCommand treat them as hidden.
 *
 * The plan is computed first (also for a dry run), then carried out between
 * a VACUUM START and a VACUUM END commit, as Delta logs them.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta_internal.h"

/* A table directory deeper than this is not a Delta layout (partition
 * columns nest one level each); stop rather than recurse without end. */
#define VAC_MAX_DEPTH 64
#define VAC_COMMIT_RETRIES 100 /* commitInfo-only commits conflict with almost nothing */

/* A sorted set of relative paths (with, for tombstoned ones, the removal
 * time). */
typedef struct vac_entry {
    char *path;
    int64_t deleted_at; /* tombstones: deletionTimestamp (-1 unknown); live: INT64_MAX */
} vac_entry;

typedef struct vac_set {
    vac_entry *items;
    size_t count, cap;
} vac_set;

static void vac_set_add(vac_set *s, char *path, int64_t deleted_at) {
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->items = sd_xrealloc(s->items, s->cap * sizeof(*s->items));
    }
    s->items[s->count++] = (vac_entry){path, deleted_at};
}

static int vac_entry_cmp(const void *a, const void *b) {
    const vac_entry *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    if (c != 0) return c;
    /* Among duplicates the latest removal (live = INT64_MAX) comes first. */
    return x->deleted_at > y->deleted_at ? -1 : x->deleted_at < y->deleted_at;
}

static const vac_entry *vac_set_find(const vac_set *s, const char *path) {
    size_t lo = 0, hi = s->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->items[mid].path, path);
        if (c == 0) {
            while (mid > 0 && strcmp(s->items[mid - 1].path, path) == 0) mid--;
            return &s->items[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void vac_set_free(vac_set *s) {
    for (size_t i = 0; i < s->count; i++) free(s->items[i].path);
    free(s->items);
}

/* `path` relative to the directory `dir` (both absolute), or NULL. */
static char *vac_under(const char *dir, const char *path) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    if (strncmp(path, dir, n) == 0 && path[n] == '/') return sd_xstrdup(path + n + 1);
    return NULL;
}

/* A logged path as a path relative to the table directory, or NULL when it
 * lies outside it (VACUUM never deletes there). Absolute paths are compared
 * with the table's real path, so "file:/data/t/x" and a table opened as
 * "t" or through a symlink still match: a live file must never look like
 * an orphan. */
static char *vac_relative(const char *table, const char *logged, sd_error *err) {
    char *p = delta_path_decode(logged, err);
    if (p == NULL) return NULL;
    if (p[0] != '/') return p;
    char *rel = vac_under(table, p);
    char *real_table = rel ? NULL : realpath(table, NULL);
    if (rel == NULL && real_table) rel = vac_under(real_table, p);
    if (rel == NULL && real_table) {
        char *real_p = realpath(p, NULL);
        if (real_p) rel = vac_under(real_table, real_p);
        free(real_p);
    }
    free(real_table);
    free(p);
    return rel;
}

/* Relative path of the file of a 'u' or 'p' deletion vector; NULL for
 * inline vectors and files outside the table. */
static char *vac_dv_path(const char *table, const delta_dv_descriptor *dv, sd_error *err) {
    if (dv->storage_type == 'p') return vac_relative(table, dv->path_or_inline_dv, err);
    if (dv->storage_type != 'u') return NULL;
    return delta_dv_uuid_path(dv, err);
}

/* Add a file's data path and DV path to the set. */
static sd_status vac_note(vac_set *set, const char *table, const char *logged, bool has_dv,
                          const delta_dv_descriptor *dv, int64_t deleted_at, sd_error *err) {
    char *p = vac_relative(table, logged, err);
    if (p == NULL && err->code != SD_OK) return err->code;
    if (p) vac_set_add(set, p, deleted_at);
    if (!has_dv) return SD_OK;
    char *d = vac_dv_path(table, dv, err);
    if (d == NULL && err->code != SD_OK) return err->code;
    if (d) vac_set_add(set, d, deleted_at);
    return SD_OK;
}

/* Every file the log names: live ones and tombstones. */
static sd_status vac_known_files(const delta_snapshot *s, vac_set *set, sd_error *err) {
    const char *table = delta_snapshot_table_path(s);
    sd_status st = SD_OK;
    for (size_t i = 0; st == SD_OK && i < delta_snapshot_num_files(s); i++) {
        const delta_add *a = delta_snapshot_file(s, i)->add;
        st = vac_note(set, table, a->path, a->has_dv, &a->dv, INT64_MAX, err);
    }
    for (size_t i = 0; st == SD_OK && i < delta_snapshot_num_tombstones(s); i++) {
        const delta_remove *r = delta_snapshot_tombstone(s, i);
        st = vac_note(set, table, r->path, r->has_dv, &r->dv, r->deletion_timestamp, err);
    }
    if (st == SD_OK) qsort(set->items, set->count, sizeof(*set->items), vac_entry_cmp);
    return st;
}

static bool vac_is_partition_dir(const delta_metadata *m, const char *name) {
    for (size_t i = 0; i < m->npartition_columns; i++) {
        size_t n = strlen(m->partition_columns[i]);
        if (strncmp(name, m->partition_columns[i], n) == 0 && name[n] == '=') return true;
    }
    return false;
}

typedef struct vac_walk {
    const delta_snapshot *snap;
    const vac_set *known;
    int64_t cutoff_ms; /* now - retention */
    delta_vacuum_plan *plan;
} vac_walk;

/* Decide about one regular file `rel` (relative path) of size/mtime. */
static void vac_consider(vac_walk *w, char *rel, const struct stat *stt) {
    const vac_entry *e = vac_set_find(w->known, rel);
    bool expired;
    if (e == NULL) {
        int64_t mtime = (int64_t)stt->st_mtim.tv_sec * 1000 + stt->st_mtim.tv_nsec / 1000000;
        expired = mtime < w->cutoff_ms;
    } else {
        /* The first entry is the newest mention: live files sort first. A
         * tombstone without a timestamp is treated as removed just now. */
        expired = e->deleted_at != INT64_MAX && e->deleted_at >= 0 && e->deleted_at < w->cutoff_ms;
    }
    if (!expired) {
        free(rel);
        return;
    }
    delta_vacuum_plan *p = w->plan;
    p->files = sd_xrealloc(p->files, (p->count + 1) * sizeof(*p->files));
    p->files[p->count++] = (delta_vacuum_file){rel, (int64_t)stt->st_size, e != NULL};
    p->total_bytes += (int64_t)stt->st_size;
}

static sd_status vac_scan_dir(vac_walk *w, const char *rel_dir, int depth, sd_error *err) {
    const char *table = delta_snapshot_table_path(w->snap);
    char *abs = rel_dir[0] ? sd_xasprintf("%s/%s", table, rel_dir) : sd_xstrdup(table);
    if (depth > VAC_MAX_DEPTH) {
        sd_status st = sd_error_set(err, SD_ERR_FORMAT,
                                    "VACUUM: %s is nested more than %d directories deep; not a "
                                    "Delta table layout",
                                    abs, VAC_MAX_DEPTH);
        free(abs);
        return st;
    }
    DIR *d = opendir(abs);
    if (d == NULL) {
        sd_status st =
            sd_error_set(err, SD_ERR_IO, "VACUUM: cannot list %s: %s", abs, strerror(errno));
        free(abs);
        return st;
    }
    w->plan->num_dirs++;
    sd_status st = SD_OK;
    struct dirent *de;
    while (st == SD_OK && (de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        bool hidden = name[0] == '.' || name[0] == '_';
        char *rel = rel_dir[0] ? sd_xasprintf("%s/%s", rel_dir, name) : sd_xstrdup(name);
        char *full = sd_xasprintf("%s/%s", abs, name);
        struct stat stt;
        if (lstat(full, &stt) != 0) {
            if (errno != ENOENT) /* a file deleted meanwhile is simply gone */
                st = sd_error_set(err, SD_ERR_IO, "VACUUM: %s: %s", full, strerror(errno));
            free(rel);
        } else if (S_ISDIR(stt.st_mode)) {
            if (!hidden || vac_is_partition_dir(delta_snapshot_metadata(w->snap), name))
                st = vac_scan_dir(w, rel, depth + 1, err);
            free(rel);
        } else if (S_ISREG(stt.st_mode) && !hidden) {
            vac_consider(w, rel, &stt);
        } else {
            free(rel); /* symlinks, sockets, hidden files: not ours to delete */
        }
        free(full);
    }
    closedir(d);
    free(abs);
    return st;
}

static int vac_file_cmp(const void *a, const void *b) {
    return strcmp(((const delta_vacuum_file *)a)->path, ((const delta_vacuum_file *)b)->path);
}

sd_status delta_vacuum_plan_make(const delta_snapshot *s, int64_t retention_ms, bool force,
                                 int64_t now_ms, delta_vacuum_plan *out, sd_error *err) {
    *out = (delta_vacuum_plan){0};
    int64_t dflt = delta_tombstone_retention_ms(s);
    if (retention_ms < 0) retention_ms = dflt;
    out->retention_ms = retention_ms;
    out->default_retention_ms = dflt;
    if (retention_ms < dflt && !force)
        return sd_error_set(err, SD_ERR_ARG,
                            "VACUUM of %s: a retention of %lld hours is shorter than the table's "
                            "delta.deletedFileRetentionDuration (%lld hours); readers of older "
                            "versions and concurrent writers may still need those files. Use a "
                            "longer retention, or force it if you are sure nothing reads them",
                            delta_snapshot_table_path(s), (long long)(retention_ms / 3600000),
                            (long long)(dflt / 3600000));
    sd_status st =
        delta_features_check_write(delta_snapshot_protocol(s), delta_snapshot_metadata(s), err);
    if (st != SD_OK) return st;
    vac_set known = {0};
    st = vac_known_files(s, &known, err);
    vac_walk w = {s, &known, now_ms - retention_ms, out};
    if (st == SD_OK) st = vac_scan_dir(&w, "", 0, err);
    vac_set_free(&known);
    if (st != SD_OK) {
        delta_vacuum_plan_free(out);
        return st;
    }
    if (out->count > 1) qsort(out->files, out->count, sizeof(*out->files), vac_file_cmp);
    return SD_OK;
}

void delta_vacuum_plan_free(delta_vacuum_plan *p) {
    for (size_t i = 0; i < p->count; i++) free(p->files[i].path);
    free(p->files);
    *p = (delta_vacuum_plan){0};
}

/* A commit holding only commitInfo, as VACUUM START / END. */
static sd_status vac_commit(const delta_snapshot *s, const char *op, const char *params,
                            const char *metrics, sd_error *err) {
    delta_transaction *t = delta_transaction_begin(s, op);
    delta_transaction_set_operation_parameters(t, params);
    delta_transaction_set_operation_metrics(t, metrics);
    sd_status st = delta_transaction_commit(t, VAC_COMMIT_RETRIES, NULL, err);
    delta_transaction_free(t);
    return st;
}

sd_status delta_vacuum_execute(const delta_snapshot *s, const delta_vacuum_plan *p, size_t *deleted,
                               sd_error *err) {
    if (deleted) *deleted = 0;
    char *params = sd_xasprintf("{\"retentionCheckEnabled\":%s,\"defaultRetentionMillis\":%lld,"
                                "\"specifiedRetentionMillis\":%lld}",
                                p->retention_ms < p->default_retention_ms ? "false" : "true",
                                (long long)p->default_retention_ms, (long long)p->retention_ms);
    char *metrics = sd_xasprintf("{\"numFilesToDelete\":\"%zu\",\"sizeOfDataToDelete\":\"%lld\"}",
                                 p->count, (long long)p->total_bytes);
    sd_status st = vac_commit(s, "VACUUM START", params, metrics, err);
    free(params);
    free(metrics);
    if (st != SD_OK) return st;
    size_t n = 0;
    for (size_t i = 0; st == SD_OK && i < p->count; i++) {
        char *full = sd_xasprintf("%s/%s", delta_snapshot_table_path(s), p->files[i].path);
        if (unlink(full) == 0 || errno == ENOENT)
            n++;
        else
            st =
                sd_error_set(err, SD_ERR_IO, "VACUUM: cannot delete %s: %s", full, strerror(errno));
        free(full);
    }
    if (deleted) *deleted = n;
    char *end_params = sd_xasprintf("{\"status\":\"%s\"}", st == SD_OK ? "COMPLETED" : "FAILED");
    char *end_metrics = sd_xasprintf("{\"numDeletedFiles\":\"%zu\",\"numVacuumedDirectories\":"
                                     "\"%zu\"}",
                                     n, p->num_dirs);
    sd_error end_err = {0};
    sd_status end_st = vac_commit(s, "VACUUM END", end_params, end_metrics, &end_err);
    free(end_params);
    free(end_metrics);
    if (st == SD_OK && end_st != SD_OK) {
        *err = end_err;
        st = end_st;
    }
    return st;
}
