/*
 * delta_log.c - listing a table's _delta_log and choosing the files that
 * rebuild one version (PROTOCOL.md "Delta Log Entries", "Checkpoints",
 * "Last Checkpoint File").
 *
 * File names: 20-digit zero-padded versions.
 *   N.json                        commit N
 *   N.checkpoint.parquet          classic single-file checkpoint
 *   N.checkpoint.K.P.parquet      part K of a P-part checkpoint (10 digits each)
 *   N.checkpoint.<uuid>.json|parquet   v2 checkpoint (needs the v2Checkpoint
 *                                 reader feature, which we refuse)
 *   N.crc, N.M.compacted.json, _commits/, temp files   ignored
 *
 * The directory is always listed (cheap on a local file system), so the
 * _last_checkpoint hint can never mislead us: a stale hint (pointing at an
 * older checkpoint) or one naming a missing/incomplete checkpoint simply
 * loses to what the listing shows.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta_internal.h"

static bool parse_digits(const char *s, int n, int64_t *out) {
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        if (v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

delta_log_file_kind delta_log_classify(const char *name, int64_t *version, int *part, int *nparts) {
    if (strlen(name) < DELTA_VERSION_DIGITS + 5 ||
        !parse_digits(name, DELTA_VERSION_DIGITS, version))
        return DELTA_LOG_OTHER;
    const char *rest = name + DELTA_VERSION_DIGITS;
    if (strcmp(rest, ".json") == 0) return DELTA_LOG_COMMIT;
    if (strncmp(rest, ".checkpoint.", 12) != 0) return DELTA_LOG_OTHER;
    rest += 12;
    if (strcmp(rest, "parquet") == 0) return DELTA_LOG_CHECKPOINT;
    int64_t k, p;
    if (strlen(rest) == 10 + 1 + 10 + 8 && parse_digits(rest, 10, &k) && rest[10] == '.' &&
        parse_digits(rest + 11, 10, &p) && strcmp(rest + 21, ".parquet") == 0) {
        if (k < 1 || p < 1 || k > p || p > 1000000) return DELTA_LOG_OTHER;
        *part = (int)k;
        *nparts = (int)p;
        return DELTA_LOG_CHECKPOINT_PART;
    }
    size_t n = strlen(rest);
    if ((n > 5 && strcmp(rest + n - 5, ".json") == 0) ||
        (n > 8 && strcmp(rest + n - 8, ".parquet") == 0))
        return DELTA_LOG_CHECKPOINT_V2;
    return DELTA_LOG_OTHER;
}

/* What the listing found. */
typedef struct log_entry {
    int64_t version;
    delta_log_file_kind kind;
    int part, nparts;
    char *name;
} log_entry;

typedef struct log_listing {
    log_entry *e;
    size_t n, cap;
} log_listing;

static void listing_free(log_listing *l) {
    for (size_t i = 0; i < l->n; i++) free(l->e[i].name);
    free(l->e);
}

static int entry_cmp(const void *a, const void *b) {
    const log_entry *x = a, *y = b;
    if (x->version != y->version) return x->version < y->version ? -1 : 1;
    if (x->kind != y->kind) return (int)x->kind - (int)y->kind;
    if (x->nparts != y->nparts) return x->nparts - y->nparts;
    return x->part - y->part;
}

static sd_status list_log(const char *log_dir, const char *table_path, log_listing *out,
                          sd_error *err) {
    DIR *d = opendir(log_dir);
    if (d == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return sd_error_set(err, SD_ERR_NOT_FOUND,
                                "%s: not a Delta table (no _delta_log directory)", table_path);
        return sd_error_set(err, SD_ERR_IO, "%s: %s", log_dir, strerror(errno));
    }
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        log_entry e = {0};
        e.kind = delta_log_classify(de->d_name, &e.version, &e.part, &e.nparts);
        if (e.kind == DELTA_LOG_OTHER) continue;
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 64;
            out->e = sd_xrealloc(out->e, out->cap * sizeof(*out->e));
        }
        e.name = sd_xstrdup(de->d_name);
        out->e[out->n++] = e;
    }
    closedir(d);
    /* An empty _delta_log (another writer is creating the table) leaves
     * out->e NULL, which qsort must not be given even for 0 entries. */
    if (out->n > 1) qsort(out->e, out->n, sizeof(*out->e), entry_cmp);
    return SD_OK;
}

/* Index range [first, end) of the complete classic checkpoint at the
 * entries' version starting at i, or false. For multi-part checkpoints all
 * parts 1..P of one P must be present (a writer may have died midway). */
static bool checkpoint_complete(const log_listing *l, size_t i, size_t *first, size_t *end) {
    int64_t v = l->e[i].version;
    for (size_t j = i; j < l->n && l->e[j].version == v; j++) {
        if (l->e[j].kind == DELTA_LOG_CHECKPOINT) {
            *first = j;
            *end = j + 1;
            return true;
        }
    }
    for (size_t j = i; j < l->n && l->e[j].version == v; j++) {
        if (l->e[j].kind != DELTA_LOG_CHECKPOINT_PART || l->e[j].part != 1) continue;
        int p = l->e[j].nparts;
        size_t k = j;
        int want = 1;
        while (k < l->n && l->e[k].version == v && l->e[k].kind == DELTA_LOG_CHECKPOINT_PART &&
               l->e[k].nparts == p) {
            if (l->e[k].part == want) want++;
            k++;
        }
        if (want == p + 1) {
            *first = j;
            *end = k;
            return true;
        }
    }
    return false;
}

/* The _last_checkpoint hint (version), or -1 when absent or unreadable. */
static int64_t read_last_checkpoint(const char *log_dir) {
    char *path = sd_xasprintf("%s/_last_checkpoint", log_dir);
    sd_buf b = SD_BUF_INIT;
    sd_error e = {0};
    int64_t v = -1;
    if (delta_read_file(path, 1u << 20, &b, &e) == SD_OK) {
        sd_json *j = sd_json_parse((const char *)b.data, b.len, &e);
        if (!sd_json_as_int64(sd_json_get(j, "version"), &v)) v = -1;
        sd_json_free(j);
    }
    sd_buf_free(&b);
    free(path);
    return v;
}

void delta_log_segment_free(delta_log_segment *seg) {
    for (size_t i = 0; i < seg->ncheckpoint_parts; i++) free(seg->checkpoint_paths[i]);
    free(seg->checkpoint_paths);
    for (size_t i = 0; i < seg->ncommits; i++) free(seg->commit_paths[i]);
    free(seg->commit_paths);
    free(seg->commit_versions);
    memset(seg, 0, sizeof(*seg));
}

/* Choose the newest complete classic checkpoint at or before `version`. */
static bool choose_checkpoint(const log_listing *l, int64_t version, int64_t hint, size_t *first,
                              size_t *end) {
    /* The hint first: when valid it is usually the answer. */
    if (hint >= 0 && hint <= version) {
        for (size_t i = 0; i < l->n; i++) {
            if (l->e[i].version != hint) continue;
            size_t f, e;
            if (checkpoint_complete(l, i, &f, &e)) {
                /* A newer complete checkpoint may exist if the hint is stale. */
                bool newer = false;
                for (size_t j = e; j < l->n && l->e[j].version <= version; j++) {
                    if (l->e[j].kind == DELTA_LOG_CHECKPOINT ||
                        l->e[j].kind == DELTA_LOG_CHECKPOINT_PART)
                        newer = true;
                }
                if (!newer) {
                    *first = f;
                    *end = e;
                    return true;
                }
            }
            break;
        }
    }
    bool found = false;
    for (size_t i = 0; i < l->n && l->e[i].version <= version; i++) {
        if (l->e[i].kind != DELTA_LOG_CHECKPOINT && l->e[i].kind != DELTA_LOG_CHECKPOINT_PART)
            continue;
        if (i > 0 && l->e[i - 1].version == l->e[i].version &&
            (l->e[i - 1].kind == DELTA_LOG_CHECKPOINT ||
             l->e[i - 1].kind == DELTA_LOG_CHECKPOINT_PART))
            continue; /* already examined this version */
        size_t f, e;
        if (checkpoint_complete(l, i, &f, &e)) {
            *first = f;
            *end = e;
            found = true;
        }
    }
    return found;
}

/* One listing and the segment from it; *gap when a commit is missing
 * between others (see delta_log_segment_build). */
static sd_status segment_build_once(const char *table_path, int64_t version, delta_log_segment *out,
                                    bool *gap, sd_error *err) {
    *gap = false;
    memset(out, 0, sizeof(*out));
    out->checkpoint_version = -1;
    char *log_dir = sd_xasprintf("%s/_delta_log", table_path);
    log_listing l = {0};
    sd_status st = list_log(log_dir, table_path, &l, err);
    if (st != SD_OK) goto done;

    int64_t latest = -1, latest_v2 = -1;
    for (size_t i = 0; i < l.n; i++) {
        if (l.e[i].kind == DELTA_LOG_CHECKPOINT_V2)
            latest_v2 = l.e[i].version;
        else if (l.e[i].version > latest)
            latest = l.e[i].version;
    }
    if (latest < 0) {
        st = sd_error_set(err, SD_ERR_NOT_FOUND, "%s: _delta_log holds no commits", table_path);
        goto done;
    }
    if (version < 0) version = latest;
    if (version > latest) {
        st = sd_error_set(err, SD_ERR_NOT_FOUND, "%s: version %lld does not exist (latest is %lld)",
                          table_path, (long long)version, (long long)latest);
        goto done;
    }
    out->version = version;

    size_t cf = 0, ce = 0;
    if (choose_checkpoint(&l, version, read_last_checkpoint(log_dir), &cf, &ce)) {
        out->checkpoint_version = l.e[cf].version;
        out->ncheckpoint_parts = ce - cf;
        out->checkpoint_paths = sd_xcalloc(ce - cf, sizeof(char *));
        for (size_t i = cf; i < ce; i++)
            out->checkpoint_paths[i - cf] = sd_xasprintf("%s/%s", log_dir, l.e[i].name);
    }

    /* Every commit after the checkpoint up to `version` must be present. */
    int64_t next = out->checkpoint_version + 1;
    size_t cap = (size_t)(version - out->checkpoint_version);
    out->commit_versions = sd_xcalloc(cap ? cap : 1, sizeof(int64_t));
    out->commit_paths = sd_xcalloc(cap ? cap : 1, sizeof(char *));
    for (size_t i = 0; i < l.n && next <= version; i++) {
        if (l.e[i].kind != DELTA_LOG_COMMIT || l.e[i].version < next) continue;
        if (l.e[i].version > next) break;
        out->commit_versions[out->ncommits] = next;
        out->commit_paths[out->ncommits++] = sd_xasprintf("%s/%s", log_dir, l.e[i].name);
        next++;
    }
    if (next <= version) {
        if (next == 0 || (out->checkpoint_version < 0 && out->ncommits == 0)) {
            /* Nothing at the start of the log: expired commits, not a gap. */
            if (latest_v2 >= 0 && latest_v2 <= version)
                st = sd_error_set(err, SD_ERR_UNSUPPORTED,
                                  "%s: version %lld needs the v2 checkpoint at version %lld "
                                  "(v2Checkpoint is not supported)",
                                  table_path, (long long)version, (long long)latest_v2);
            else
                st = sd_error_set(err, SD_ERR_NOT_FOUND,
                                  "%s: version %lld cannot be reconstructed: commit "
                                  "%020lld.json is missing and no checkpoint precedes it "
                                  "(log files expired?)",
                                  table_path, (long long)version, (long long)next);
        } else {
            int64_t resume = version;
            *gap = true;
            for (size_t i = 0; i < l.n; i++) {
                if (l.e[i].kind == DELTA_LOG_COMMIT && l.e[i].version > next) {
                    resume = l.e[i].version;
                    break;
                }
            }
            st =
                sd_error_set(err, SD_ERR_FORMAT,
                             "%s: _delta_log/%020lld.json is missing: the log jumps from "
                             "version %lld to %lld",
                             table_path, (long long)next, (long long)(next - 1), (long long)resume);
        }
    }
done:
    if (st != SD_OK) delta_log_segment_free(out);
    listing_free(&l);
    free(log_dir);
    return st;
}

/* A directory listing is no snapshot: while writers commit N and then
 * N+1, readdir() may return N+1 but not N (it had passed N's place when N
 * appeared). So a gap is listed again before it is reported; a real gap
 * stays. */
#define DELTA_LOG_RELIST 5

sd_status delta_log_segment_build(const char *table_path, int64_t version, delta_log_segment *out,
                                  sd_error *err) {
    bool gap = false;
    sd_status st = segment_build_once(table_path, version, out, &gap, err);
    for (int i = 0; gap && i < DELTA_LOG_RELIST; i++) {
        sd_error_clear(err);
        st = segment_build_once(table_path, version, out, &gap, err);
    }
    return st;
}

/* ------------------------------------------------------------------------ */
/* Cleanup of expired log files                                              */
/* ------------------------------------------------------------------------ */

#define DELTA_DEFAULT_LOG_RETENTION_MS (30LL * 86400000)

/* Version of a "N.crc" checksum file, or -1. */
static int64_t crc_version(const char *name) {
    int64_t v;
    if (strlen(name) != DELTA_VERSION_DIGITS + 4 ||
        strcmp(name + DELTA_VERSION_DIGITS, ".crc") != 0 ||
        !parse_digits(name, DELTA_VERSION_DIGITS, &v))
        return -1;
    return v;
}

/* A commit is written to "_delta_log/.tmp-<id>.json" and linked to its
 * version a moment later; one older than this belongs to a writer that died
 * in between (SIGKILL), and no live writer will link it any more. */
#define DELTA_COMMIT_TMP_STALE_MS (3600LL * 1000)

static bool is_commit_tmp(const char *name) {
    size_t n = strlen(name);
    return n > 10 && strncmp(name, ".tmp-", 5) == 0 && strcmp(name + n - 5, ".json") == 0;
}

static int64_t file_mtime_ms(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) return -1;
    return (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
}

sd_status delta_log_cleanup(const delta_snapshot *s, int64_t now_ms, size_t *deleted,
                            sd_error *err) {
    if (deleted) *deleted = 0;
    const char *prop = delta_snapshot_property(s, "delta.logRetentionDuration", NULL);
    int64_t retention = prop ? delta_parse_interval_ms(prop) : -1;
    if (retention < 0) retention = DELTA_DEFAULT_LOG_RETENTION_MS;
    int64_t cutoff = now_ms - retention;
    const char *table_path = delta_snapshot_table_path(s);
    char *log_dir = sd_xasprintf("%s/_delta_log", table_path);
    log_listing l = {0};
    sd_status st = list_log(log_dir, table_path, &l, err);
    size_t cf = 0, ce = 0;
    if (st != SD_OK || !choose_checkpoint(&l, delta_snapshot_version(s), -1, &cf, &ce)) {
        listing_free(&l);
        free(log_dir);
        return st; /* no checkpoint: every commit is still needed */
    }
    int64_t keep_from = l.e[cf].version;
    /* The versions below the checkpoint, oldest first, while expired. */
    int64_t expired_below = keep_from;
    for (size_t i = 0; i < l.n && l.e[i].version < keep_from; i++) {
        char *p = sd_xasprintf("%s/%s", log_dir, l.e[i].name);
        int64_t mt = file_mtime_ms(p);
        free(p);
        if (mt < 0 || mt >= cutoff) {
            expired_below = l.e[i].version;
            break;
        }
    }
    for (size_t i = 0; i < l.n && l.e[i].version < expired_below; i++) {
        char *p = sd_xasprintf("%s/%s", log_dir, l.e[i].name);
        if (unlink(p) == 0) {
            if (deleted) (*deleted)++;
        } else if (errno != ENOENT) {
            st = sd_error_set(err, SD_ERR_IO, "%s: unlink: %s", p, strerror(errno));
        }
        free(p);
        if (st != SD_OK) break;
    }
    /* Checksum files of deleted versions go too, and the temporary files
     * of commits whose writer died between writing and linking them. */
    DIR *d = st == SD_OK ? opendir(log_dir) : NULL;
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        int64_t v = crc_version(de->d_name);
        bool stale_tmp = is_commit_tmp(de->d_name);
        if (!stale_tmp && (v < 0 || v >= expired_below)) continue;
        char *p = sd_xasprintf("%s/%s", log_dir, de->d_name);
        if (stale_tmp) {
            int64_t mt = file_mtime_ms(p);
            stale_tmp = mt >= 0 && mt < now_ms - DELTA_COMMIT_TMP_STALE_MS;
        }
        if ((v >= 0 || stale_tmp) && unlink(p) == 0 && deleted) (*deleted)++;
        free(p);
    }
    if (d != NULL) closedir(d);
    listing_free(&l);
    free(log_dir);
    return st;
}

/* ------------------------------------------------------------------------ */
/* History                                                                   */
/* ------------------------------------------------------------------------ */

/* The commitInfo line of a commit file (Delta writes it first, but any
 * line may hold it). */
static void history_entry(const char *path, delta_history_entry *e) {
    sd_buf text = SD_BUF_INIT;
    sd_error err = {0};
    e->timestamp = file_mtime_ms(path);
    if (delta_read_file(path, DELTA_MAX_LOG_FILE, &text, &err) != SD_OK) return;
    const char *p = (const char *)text.data, *end = p + text.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        sd_json *j = memmem(p, n, "\"commitInfo\"", 12) ? sd_json_parse(p, n, &err) : NULL;
        const sd_json *ci = sd_json_get(j, "commitInfo");
        if (ci != NULL && ci->kind == SD_JSON_OBJECT) {
            sd_buf b = SD_BUF_INIT;
            sd_json_append(&b, ci);
            e->commit_info = sd_xstrndup((const char *)b.data, b.len);
            sd_buf_free(&b);
            const char *op = sd_json_as_string(sd_json_get(ci, "operation"));
            if (op) e->operation = sd_xstrdup(op);
            int64_t ts;
            if (sd_json_as_int64(sd_json_get(ci, "inCommitTimestamp"), &ts) ||
                sd_json_as_int64(sd_json_get(ci, "timestamp"), &ts))
                e->timestamp = ts;
            sd_json_free(j);
            break;
        }
        sd_json_free(j);
        sd_error_clear(&err);
        p += n + 1;
    }
    sd_buf_free(&text);
}

sd_status delta_history_read(const char *table_path, int64_t limit, delta_history_entry **out,
                             size_t *n, sd_error *err) {
    *out = NULL;
    *n = 0;
    char *log_dir = sd_xasprintf("%s/_delta_log", table_path);
    log_listing l = {0};
    sd_status st = list_log(log_dir, table_path, &l, err);
    size_t ncommits = 0;
    for (size_t i = 0; st == SD_OK && i < l.n; i++) ncommits += l.e[i].kind == DELTA_LOG_COMMIT;
    size_t want = limit > 0 && (size_t)limit < ncommits ? (size_t)limit : ncommits;
    delta_history_entry *e = sd_xcalloc(want ? want : 1, sizeof(*e));
    size_t k = 0;
    for (size_t i = l.n; st == SD_OK && i-- > 0 && k < want;) {
        if (l.e[i].kind != DELTA_LOG_COMMIT) continue;
        char *path = sd_xasprintf("%s/%s", log_dir, l.e[i].name);
        e[k].version = l.e[i].version;
        history_entry(path, &e[k]);
        free(path);
        k++;
    }
    listing_free(&l);
    free(log_dir);
    if (st != SD_OK) {
        delta_history_free(e, k);
        return st;
    }
    *out = e;
    *n = k;
    return SD_OK;
}

void delta_history_free(delta_history_entry *entries, size_t n) {
    for (size_t i = 0; entries != NULL && i < n; i++) {
        free(entries[i].operation);
        free(entries[i].commit_info);
    }
    free(entries);
}
