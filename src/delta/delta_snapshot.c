/*
 * delta_snapshot.c - log replay: the state of a table at one version
 * (PROTOCOL.md "Action Reconciliation").
 *
 * Replay reads the newest usable checkpoint, then each later commit in
 * version order, keeping:
 *  - the newest protocol and metaData;
 *  - live files keyed by (path, deletion vector unique id): an add inserts
 *    or replaces, a remove deletes (a DV update is a remove of the old key
 *    plus an add of the new one, both with the same path);
 *  - tombstones (removes not re-added), for VACUUM and checkpoints;
 *  - the newest txn version per appId and the newest domainMetadata per
 *    domain (removed ones dropped);
 *  - the timestamp of each replayed commit.
 * Partition values are then parsed to typed values once per file, so scans
 * compare numbers rather than strings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "delta_internal.h"

/* ------------------------------------------------------------------------ */
/* Hash map                                                                  */
/* ------------------------------------------------------------------------ */

/* 8 bytes per step: keys are long paths (100+ bytes) and a replay hashes
 * every one a few times. */
static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    return h;
}

void delta_hmap_init(delta_hmap *m) {
    memset(m, 0, sizeof(*m));
}

void delta_hmap_free(delta_hmap *m) {
    free(m->keys);
    free(m->key_lens);
    free(m->vals);
    free(m->tomb);
    free(m->hashes);
    memset(m, 0, sizeof(*m));
}

static size_t hmap_find(const delta_hmap *m, const char *key, size_t len, uint64_t h, bool *found) {
    size_t mask = m->cap - 1, i = (size_t)h & mask, first_tomb = SIZE_MAX;
    for (;;) {
        if (m->keys[i] == NULL) {
            if (!m->tomb[i]) {
                *found = false;
                return first_tomb != SIZE_MAX ? first_tomb : i;
            }
            if (first_tomb == SIZE_MAX) first_tomb = i;
        } else if (m->hashes[i] == h && m->key_lens[i] == len &&
                   memcmp(m->keys[i], key, len) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static void hmap_grow(delta_hmap *m) {
    delta_hmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    while (m->count * 2 >= m->cap) m->cap *= 2;
    m->keys = sd_xcalloc(m->cap, sizeof(char *));
    m->key_lens = sd_xcalloc(m->cap, sizeof(size_t));
    m->vals = sd_xcalloc(m->cap, sizeof(size_t));
    m->tomb = sd_xcalloc(m->cap, sizeof(bool));
    m->hashes = sd_xcalloc(m->cap, sizeof(uint64_t));
    m->used = m->count;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.keys[i] == NULL) continue;
        size_t s = (size_t)old.hashes[i] & (m->cap - 1);
        while (m->keys[s] != NULL) s = (s + 1) & (m->cap - 1);
        m->keys[s] = old.keys[i];
        m->key_lens[s] = old.key_lens[i];
        m->vals[s] = old.vals[i];
        m->hashes[s] = old.hashes[i];
    }
    free(old.keys);
    free(old.key_lens);
    free(old.vals);
    free(old.tomb);
    free(old.hashes);
}

void delta_hmap_put(delta_hmap *m, const char *key, size_t len, size_t val) {
    if ((m->used + 1) * 4 >= m->cap * 3) hmap_grow(m);
    bool found;
    uint64_t h = hash_bytes(key, len);
    size_t s = hmap_find(m, key, len, h, &found);
    if (!found) {
        if (!m->tomb[s]) m->used++;
        m->tomb[s] = false;
        m->keys[s] = key;
        m->key_lens[s] = len;
        m->hashes[s] = h;
        m->count++;
    }
    m->vals[s] = val;
}

bool delta_hmap_get(const delta_hmap *m, const char *key, size_t len, size_t *val) {
    if (m->cap == 0 || m->count == 0) return false;
    bool found;
    size_t s = hmap_find(m, key, len, hash_bytes(key, len), &found);
    if (found && val) *val = m->vals[s];
    return found;
}

bool delta_hmap_remove(delta_hmap *m, const char *key, size_t len, size_t *val) {
    if (m->cap == 0 || m->count == 0) return false;
    bool found;
    size_t s = hmap_find(m, key, len, hash_bytes(key, len), &found);
    if (!found) return false;
    if (val) *val = m->vals[s];
    m->keys[s] = NULL;
    m->tomb[s] = true;
    m->count--;
    return true;
}

void delta_file_key(const char *path, const delta_dv_descriptor *dv, sd_buf *out) {
    sd_buf_reset(out);
    sd_buf_append(out, path, strlen(path) + 1); /* keep the NUL as separator */
    if (dv != NULL) delta_dv_unique_id(dv, out);
}

/* ------------------------------------------------------------------------ */
/* Paths and partition values                                                */
/* ------------------------------------------------------------------------ */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *delta_path_decode(const char *logged, sd_error *err) {
    const char *s = logged;
    /* A scheme is letters before the first ':' that precedes any '/'. */
    const char *colon = strchr(s, ':'), *slash = strchr(s, '/');
    if (colon != NULL && (slash == NULL || colon < slash)) {
        if (strncmp(s, "file:", 5) != 0) {
            sd_error_set(err, SD_ERR_UNSUPPORTED,
                         "file '%s' is not on the local file system (only file: URIs are read)",
                         logged);
            return NULL;
        }
        s += 5;
        if (strncmp(s, "//", 2) == 0) {
            s += 2; /* file://host/path: only an empty host or localhost */
            if (strncmp(s, "localhost/", 10) == 0)
                s += 9;
            else if (*s != '/') {
                sd_error_set(err, SD_ERR_UNSUPPORTED, "file URI '%s' names a remote host", logged);
                return NULL;
            }
        }
    }
    size_t n = strlen(s);
    char *out = sd_xmalloc(n + 1), *w = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *w++ = s[i];
            continue;
        }
        int a = i + 1 < n ? hexval(s[i + 1]) : -1, b = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (a < 0 || b < 0) {
            free(out);
            sd_error_set(err, SD_ERR_FORMAT, "file path '%s' has a malformed %%-escape", logged);
            return NULL;
        }
        char c = (char)(a * 16 + b);
        if (c == '\0') {
            free(out);
            sd_error_set(err, SD_ERR_FORMAT, "file path '%s' contains an escaped NUL", logged);
            return NULL;
        }
        *w++ = c;
        i += 2;
    }
    *w = '\0';
    return out;
}

char *delta_path_resolve(const char *table_path, const char *logged, sd_error *err) {
    char *rel = delta_path_decode(logged, err);
    if (rel == NULL) return NULL;
    if (rel[0] == '/') return rel;
    /* ".." components would leave the table directory. */
    if (strcmp(rel, "..") == 0 || strncmp(rel, "../", 3) == 0 || strstr(rel, "/../") != NULL) {
        sd_error_set(err, SD_ERR_FORMAT, "relative file path '%s' leaves the table directory",
                     logged);
        free(rel);
        return NULL;
    }
    char *abs = sd_xasprintf("%s/%s", table_path, rel);
    free(rel);
    return abs;
}

static bool parse_i64_text(const char *s, int64_t *out) {
    if (*s == '\0') return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') return false;
    *out = v;
    return true;
}

/* Decimal text ("-12.3", "5") as an unscaled integer with `scale` digits.
 * Significant digits are counted before each multiplication so the value
 * never exceeds 10^38 (precision is at most 38). */
static bool parse_decimal_text(const char *s, int precision, int scale, __int128 *out) {
    bool neg = false;
    if (*s == '-' || *s == '+') neg = *s++ == '-';
    __int128 v = 0;
    int digits = 0, frac = -1;
    if (*s == '\0') return false;
    for (; *s; s++) {
        if (*s == '.') {
            if (frac >= 0) return false;
            frac = 0;
            continue;
        }
        if (*s < '0' || *s > '9') return false;
        if (frac >= 0) {
            if (frac == scale) {
                if (*s != '0') return false; /* more fraction digits than the scale */
                continue;
            }
            frac++;
        }
        if (v != 0 || *s != '0') digits++;
        if (digits > precision) return false;
        v = v * 10 + (*s - '0');
    }
    int pad = scale - (frac < 0 ? 0 : frac);
    if (v != 0 && digits + pad > precision) return false;
    for (int f = 0; f < pad; f++) v *= 10;
    *out = neg ? -v : v;
    return true;
}

sd_status delta_partition_value_parse(const char *column, const sd_type *type, const char *text,
                                      sd_value *out, sd_error *err) {
    memset(out, 0, sizeof(*out));
    out->kind = type->kind;
    out->precision = type->precision;
    out->scale = type->scale;
    if (text == NULL || text[0] == '\0') {
        out->is_null = true;
        return SD_OK;
    }
    size_t n = strlen(text);
    bool ok = true;
    int64_t i = 0;
    int32_t d = 0;
    switch (type->kind) {
        case SD_STRING:
        case SD_BINARY:
            out->u.s.ptr = (const uint8_t *)text;
            out->u.s.len = n;
            break;
        case SD_BOOL:
            ok = strcmp(text, "true") == 0 || strcmp(text, "false") == 0;
            out->u.b = text[0] == 't';
            break;
        case SD_INT8:
        case SD_INT16:
        case SD_INT32:
        case SD_INT64: {
            int64_t lim = type->kind == SD_INT8    ? INT8_MAX
                          : type->kind == SD_INT16 ? INT16_MAX
                          : type->kind == SD_INT32 ? INT32_MAX
                                                   : INT64_MAX;
            ok = parse_i64_text(text, &i) && i <= lim && i >= -lim - 1;
            out->u.i = i;
            break;
        }
        case SD_FLOAT:
        case SD_DOUBLE: {
            char *end;
            out->u.d = strtod(text, &end);
            ok = *end == '\0';
            break;
        }
        case SD_DATE:
            ok = sd_parse_date(text, n, &d);
            out->u.i = d;
            break;
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ:
            ok = sd_parse_timestamp(text, n, &out->u.i);
            break;
        case SD_DECIMAL:
            ok = parse_decimal_text(text, type->precision, type->scale, &out->u.dec);
            break;
        default:
            return sd_error_set(err, SD_ERR_UNSUPPORTED, "partition column '%s' has nested type %s",
                                column, sd_type_kind_name(type->kind));
    }
    if (!ok) {
        sd_buf tb = SD_BUF_INIT;
        sd_type_format(type, &tb);
        sd_error_set(err, SD_ERR_FORMAT, "partition value '%s' of column '%s' is not a valid %s",
                     text, column, sd_buf_cstr(&tb));
        sd_buf_free(&tb);
        return SD_ERR_FORMAT;
    }
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Replay                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct replay {
    delta_snapshot *s;
    /* All adds ever seen; live ones are those the map points to. */
    delta_add *adds;
    int64_t *add_versions;
    size_t nadds, adds_cap;
    delta_hmap live;
    delta_remove *removes;
    size_t nremoves, removes_cap;
    delta_hmap tombs;
    delta_hmap txn_idx;
    delta_hmap domain_idx;
    sd_buf key;
} replay;

static const char *pool_key(replay *r) {
    return delta_pool_strndup(&r->s->pool, (const char *)r->key.data, r->key.len);
}

static void replay_add(replay *r, const delta_add *a, int64_t version) {
    if (r->nadds == r->adds_cap) {
        r->adds_cap = r->adds_cap ? r->adds_cap * 2 : 256;
        r->adds = sd_xrealloc(r->adds, r->adds_cap * sizeof(*r->adds));
        r->add_versions = sd_xrealloc(r->add_versions, r->adds_cap * sizeof(int64_t));
    }
    r->adds[r->nadds] = *a;
    r->add_versions[r->nadds] = version;
    delta_file_key(a->path, a->has_dv ? &a->dv : NULL, &r->key);
    delta_hmap_remove(&r->tombs, (const char *)r->key.data, r->key.len, NULL);
    size_t idx;
    if (delta_hmap_get(&r->live, (const char *)r->key.data, r->key.len, &idx)) {
        /* Same key re-added: replace the value, the stored key stays valid. */
        delta_hmap_put(&r->live, (const char *)r->key.data, r->key.len, r->nadds);
    } else {
        delta_hmap_put(&r->live, pool_key(r), r->key.len, r->nadds);
    }
    r->nadds++;
}

static void replay_remove(replay *r, const delta_remove *rm) {
    delta_file_key(rm->path, rm->has_dv ? &rm->dv : NULL, &r->key);
    delta_hmap_remove(&r->live, (const char *)r->key.data, r->key.len, NULL);
    if (r->nremoves == r->removes_cap) {
        r->removes_cap = r->removes_cap ? r->removes_cap * 2 : 64;
        r->removes = sd_xrealloc(r->removes, r->removes_cap * sizeof(*r->removes));
    }
    r->removes[r->nremoves] = *rm;
    size_t idx;
    if (delta_hmap_get(&r->tombs, (const char *)r->key.data, r->key.len, &idx))
        delta_hmap_put(&r->tombs, (const char *)r->key.data, r->key.len, r->nremoves);
    else
        delta_hmap_put(&r->tombs, pool_key(r), r->key.len, r->nremoves);
    r->nremoves++;
}

static void replay_txn(replay *r, const delta_txn *t) {
    delta_snapshot *s = r->s;
    size_t idx;
    if (delta_hmap_get(&r->txn_idx, t->app_id, strlen(t->app_id), &idx)) {
        s->txns[idx] = *t;
        return;
    }
    s->txns = sd_xrealloc(s->txns, (s->ntxns + 1) * sizeof(*s->txns));
    s->txns[s->ntxns] = *t;
    delta_hmap_put(&r->txn_idx, t->app_id, strlen(t->app_id), s->ntxns);
    s->ntxns++;
}

static void replay_domain(replay *r, const delta_domain_metadata *d) {
    delta_snapshot *s = r->s;
    size_t idx;
    if (delta_hmap_get(&r->domain_idx, d->domain, strlen(d->domain), &idx)) {
        s->domains[idx] = *d;
        return;
    }
    s->domains = sd_xrealloc(s->domains, (s->ndomains + 1) * sizeof(*s->domains));
    s->domains[s->ndomains] = *d;
    delta_hmap_put(&r->domain_idx, d->domain, strlen(d->domain), s->ndomains);
    s->ndomains++;
}

/* Apply one version's actions. `from_checkpoint` marks checkpoint content,
 * where v2-only actions mean a format we do not read. */
static sd_status replay_actions(replay *r, const delta_action_vec *v, int64_t version, int64_t *ict,
                                sd_error *err) {
    delta_snapshot *s = r->s;
    for (size_t i = 0; i < v->count; i++) {
        const delta_action *a = &v->items[i];
        switch (a->kind) {
            case DELTA_ACTION_ADD:
                replay_add(r, &a->u.add, version);
                break;
            case DELTA_ACTION_REMOVE:
                replay_remove(r, &a->u.remove);
                break;
            case DELTA_ACTION_PROTOCOL:
                s->protocol = a->u.protocol;
                s->has_protocol = true;
                break;
            case DELTA_ACTION_METADATA:
                s->metadata = a->u.metadata;
                s->has_metadata = true;
                break;
            case DELTA_ACTION_TXN:
                replay_txn(r, &a->u.txn);
                break;
            case DELTA_ACTION_DOMAIN_METADATA:
                replay_domain(r, &a->u.domain);
                break;
            case DELTA_ACTION_COMMIT_INFO:
                if (ict) *ict = a->u.commit_info.in_commit_timestamp;
                break;
            case DELTA_ACTION_SIDECAR:
            case DELTA_ACTION_CHECKPOINT_METADATA:
                return sd_error_set(err, SD_ERR_UNSUPPORTED,
                                    "version %lld uses a v2 checkpoint (sidecar files); "
                                    "v2Checkpoint is not supported",
                                    (long long)version);
            case DELTA_ACTION_CDC:
            case DELTA_ACTION_UNKNOWN:
                break;
        }
    }
    return SD_OK;
}

static sd_status replay_commit(replay *r, const char *path, int64_t version, sd_error *err) {
    sd_buf text = SD_BUF_INIT;
    delta_action_vec v = {0};
    sd_status st = delta_read_file(path, DELTA_MAX_LOG_FILE, &text, err);
    if (st == SD_OK) {
        const char *name = strrchr(path, '/');
        char *label = sd_xasprintf("_delta_log/%s", name ? name + 1 : path);
        st = delta_commit_parse((const char *)text.data, text.len, label, &r->s->pool, &v, err);
        free(label);
    }
    int64_t ict = -1;
    if (st == SD_OK) st = replay_actions(r, &v, version, &ict, err);
    if (st == SD_OK) {
        delta_snapshot *s = r->s;
        struct stat sb;
        int64_t ts = ict;
        if (ts < 0 && stat(path, &sb) == 0)
            ts = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        s->commit_ts = sd_xrealloc(s->commit_ts, (s->ncommit_ts + 1) * sizeof(*s->commit_ts));
        s->commit_ts[s->ncommit_ts].version = version;
        s->commit_ts[s->ncommit_ts].timestamp = ts;
        s->ncommit_ts++;
    }
    delta_action_vec_free(&v);
    sd_buf_free(&text);
    return st;
}

static int dv_cmp(const delta_add *a, const delta_add *b) {
    if (a->has_dv != b->has_dv) return a->has_dv ? 1 : -1;
    if (!a->has_dv) return 0;
    if (a->dv.storage_type != b->dv.storage_type) return a->dv.storage_type - b->dv.storage_type;
    int c = strcmp(a->dv.path_or_inline_dv, b->dv.path_or_inline_dv);
    if (c) return c;
    return (a->dv.offset > b->dv.offset) - (a->dv.offset < b->dv.offset);
}

static int file_cmp(const void *x, const void *y) {
    const delta_file *a = x, *b = y;
    int c = strcmp(a->add->path, b->add->path);
    return c ? c : dv_cmp(a->add, b->add);
}

/* Turn the replay state into the snapshot's arrays and typed partitions. */
static sd_status finish_snapshot(replay *r, sd_error *err) {
    delta_snapshot *s = r->s;
    const delta_metadata *m = &s->metadata;
    size_t np = m->npartition_columns;
    s->partition_field = sd_xcalloc(np ? np : 1, sizeof(int));
    for (size_t k = 0; k < np; k++)
        s->partition_field[k] = sd_schema_find(m->schema, m->partition_columns[k]);

    s->adds = sd_xcalloc(r->live.count ? r->live.count : 1, sizeof(delta_add));
    s->files = sd_xcalloc(r->live.count ? r->live.count : 1, sizeof(delta_file));
    for (size_t i = 0; i < r->live.cap; i++) {
        if (r->live.keys[i] == NULL) continue;
        size_t idx = r->live.vals[i];
        s->adds[s->nfiles] = r->adds[idx];
        s->files[s->nfiles].add = &s->adds[s->nfiles];
        s->files[s->nfiles].version = r->add_versions[idx];
        s->nfiles++;
    }
    qsort(s->files, s->nfiles, sizeof(*s->files), file_cmp);
    for (size_t f = 0; f < s->nfiles; f++) {
        sd_value *pv = delta_pool_alloc(&s->pool, (np ? np : 1) * sizeof(sd_value));
        const delta_add *a = s->files[f].add;
        for (size_t k = 0; k < np; k++) {
            const char *col = m->partition_columns[k];
            const sd_type *t = &m->schema->children[s->partition_field[k]].type;
            const char *text = delta_map_get(&a->partition_values, col, NULL);
            sd_status st = delta_partition_value_parse(col, t, text, &pv[k], err);
            if (st != SD_OK) {
                sd_error_prefix(err, "file %s: ", a->path);
                return st;
            }
        }
        s->files[f].partition_values = pv;
    }
    s->tombstones = sd_xcalloc(r->tombs.count ? r->tombs.count : 1, sizeof(delta_remove));
    for (size_t i = 0; i < r->tombs.cap; i++)
        if (r->tombs.keys[i] != NULL)
            s->tombstones[s->ntombstones++] = r->removes[r->tombs.vals[i]];
    /* Removed domains are not part of the state. */
    size_t kept = 0;
    for (size_t i = 0; i < s->ndomains; i++)
        if (!s->domains[i].removed) s->domains[kept++] = s->domains[i];
    s->ndomains = kept;
    return SD_OK;
}

static void replay_free(replay *r) {
    free(r->adds);
    free(r->add_versions);
    free(r->removes);
    delta_hmap_free(&r->live);
    delta_hmap_free(&r->tombs);
    delta_hmap_free(&r->txn_idx);
    delta_hmap_free(&r->domain_idx);
    sd_buf_free(&r->key);
}

sd_status delta_snapshot_load(const char *table_path, int64_t version, delta_snapshot **out,
                              sd_error *err) {
    *out = NULL;
    delta_log_segment seg;
    sd_status st = delta_log_segment_build(table_path, version, &seg, err);
    if (st != SD_OK) return st;
    delta_snapshot *s = sd_xcalloc(1, sizeof(*s));
    s->table_path = sd_xstrdup(table_path);
    s->version = seg.version;
    delta_pool_init(&s->pool);
    replay r = {.s = s};

    for (size_t i = 0; st == SD_OK && i < seg.ncheckpoint_parts; i++) {
        delta_action_vec v = {0};
        st = delta_checkpoint_read(seg.checkpoint_paths[i], &s->pool, &v, err);
        if (st == SD_OK) st = replay_actions(&r, &v, seg.checkpoint_version, NULL, err);
        delta_action_vec_free(&v);
    }
    for (size_t i = 0; st == SD_OK && i < seg.ncommits; i++)
        st = replay_commit(&r, seg.commit_paths[i], seg.commit_versions[i], err);

    if (st == SD_OK && (!s->has_protocol || !s->has_metadata))
        st = sd_error_set(err, SD_ERR_FORMAT, "no %s action found while replaying the log",
                          !s->has_protocol ? "protocol" : "metaData");
    if (st == SD_OK) st = delta_features_check_read(&s->protocol, &s->metadata, err);
    if (st == SD_OK) st = finish_snapshot(&r, err);
    replay_free(&r);
    delta_log_segment_free(&seg);
    if (st != SD_OK) {
        sd_error_prefix(err, "%s at version %lld: ", table_path, (long long)s->version);
        delta_snapshot_free(s);
        return st;
    }
    *out = s;
    return SD_OK;
}

/* ------------------------------------------------------------------------ */
/* Incremental update                                                        */
/* ------------------------------------------------------------------------ */

/* Deep copies into the new snapshot's pool: the old snapshot may be freed
 * right after the update. */
static const char *cp_str(delta_pool *p, const char *s) {
    return s ? delta_pool_strndup(p, s, strlen(s)) : NULL;
}

static delta_map cp_map(delta_pool *p, const delta_map *m) {
    delta_map r = {0, NULL};
    if (m->count == 0) return r;
    r.items = delta_pool_alloc(p, m->count * sizeof(delta_kv));
    for (size_t i = 0; i < m->count; i++) {
        r.items[i].key = cp_str(p, m->items[i].key);
        r.items[i].value = cp_str(p, m->items[i].value);
    }
    r.count = m->count;
    return r;
}

static const char **cp_list(delta_pool *p, const char **v, size_t n) {
    const char **r = delta_pool_alloc(p, (n + 1) * sizeof(char *));
    for (size_t i = 0; i < n; i++) r[i] = cp_str(p, v[i]);
    return r;
}

static void seed_state(replay *r, const delta_snapshot *old) {
    delta_snapshot *s = r->s;
    delta_pool *p = &s->pool;
    s->protocol = old->protocol;
    s->protocol.reader_features =
        cp_list(p, old->protocol.reader_features, old->protocol.nreader_features);
    s->protocol.writer_features =
        cp_list(p, old->protocol.writer_features, old->protocol.nwriter_features);
    const delta_metadata *om = &old->metadata;
    delta_metadata *m = &s->metadata;
    *m = *om;
    m->id = cp_str(p, om->id);
    m->name = cp_str(p, om->name);
    m->description = cp_str(p, om->description);
    m->format_provider = cp_str(p, om->format_provider);
    m->schema_string = cp_str(p, om->schema_string);
    m->schema = sd_schema_new();
    sd_type_copy(m->schema, om->schema);
    delta_pool_own_schema(p, m->schema);
    m->partition_columns = cp_list(p, om->partition_columns, om->npartition_columns);
    m->configuration = cp_map(p, &om->configuration);
    s->has_protocol = s->has_metadata = true;
    for (size_t i = 0; i < old->ntombstones; i++) {
        delta_remove rm = old->tombstones[i];
        rm.path = cp_str(p, rm.path);
        rm.partition_values = cp_map(p, &rm.partition_values);
        rm.tags = cp_map(p, &rm.tags);
        rm.dv.path_or_inline_dv = cp_str(p, rm.dv.path_or_inline_dv);
        replay_remove(r, &rm);
    }
    for (size_t i = 0; i < old->nfiles; i++) {
        delta_add a = *old->files[i].add;
        a.path = cp_str(p, a.path);
        a.partition_values = cp_map(p, &a.partition_values);
        a.stats = cp_str(p, a.stats);
        a.tags = cp_map(p, &a.tags);
        a.dv.path_or_inline_dv = cp_str(p, a.dv.path_or_inline_dv);
        a.clustering_provider = cp_str(p, a.clustering_provider);
        replay_add(r, &a, old->files[i].version);
    }
    for (size_t i = 0; i < old->ntxns; i++) {
        delta_txn t = old->txns[i];
        t.app_id = cp_str(p, t.app_id);
        replay_txn(r, &t);
    }
    for (size_t i = 0; i < old->ndomains; i++) {
        delta_domain_metadata d = old->domains[i];
        d.domain = cp_str(p, d.domain);
        d.configuration = cp_str(p, d.configuration);
        replay_domain(r, &d);
    }
    if (old->ncommit_ts > 0) {
        s->commit_ts = sd_xmalloc(old->ncommit_ts * sizeof(*s->commit_ts));
        memcpy(s->commit_ts, old->commit_ts, old->ncommit_ts * sizeof(*s->commit_ts));
        s->ncommit_ts = old->ncommit_ts;
    }
}

sd_status delta_snapshot_update(const delta_snapshot *old, int64_t version, delta_snapshot **out,
                                sd_error *err) {
    *out = NULL;
    if (version >= 0 && version < old->version)
        return delta_snapshot_load(old->table_path, version, out, err);
    delta_log_segment seg;
    sd_status st = delta_log_segment_build(old->table_path, version, &seg, err);
    if (st != SD_OK) return st;
    /* A checkpoint newer than the old snapshot means the commits in between
     * may be gone: rebuild from it. */
    if (seg.checkpoint_version > old->version) {
        delta_log_segment_free(&seg);
        return delta_snapshot_load(old->table_path, version, out, err);
    }
    delta_snapshot *s = sd_xcalloc(1, sizeof(*s));
    s->table_path = sd_xstrdup(old->table_path);
    s->version = seg.version;
    delta_pool_init(&s->pool);
    replay r = {.s = s};
    seed_state(&r, old);
    for (size_t i = 0; st == SD_OK && i < seg.ncommits; i++)
        if (seg.commit_versions[i] > old->version)
            st = replay_commit(&r, seg.commit_paths[i], seg.commit_versions[i], err);
    if (st == SD_OK) st = delta_features_check_read(&s->protocol, &s->metadata, err);
    if (st == SD_OK) st = finish_snapshot(&r, err);
    replay_free(&r);
    delta_log_segment_free(&seg);
    if (st != SD_OK) {
        sd_error_prefix(err, "%s at version %lld: ", s->table_path, (long long)s->version);
        delta_snapshot_free(s);
        return st;
    }
    *out = s;
    return SD_OK;
}

void delta_snapshot_free(delta_snapshot *s) {
    if (s == NULL) return;
    free(s->table_path);
    free(s->files);
    free(s->adds);
    free(s->tombstones);
    free(s->txns);
    free(s->domains);
    free(s->commit_ts);
    free(s->partition_field);
    delta_pool_free(&s->pool);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                 */
/* ------------------------------------------------------------------------ */

const char *delta_snapshot_table_path(const delta_snapshot *s) {
    return s->table_path;
}
int64_t delta_snapshot_version(const delta_snapshot *s) {
    return s->version;
}
const delta_protocol *delta_snapshot_protocol(const delta_snapshot *s) {
    return &s->protocol;
}
const delta_metadata *delta_snapshot_metadata(const delta_snapshot *s) {
    return &s->metadata;
}
const sd_schema *delta_snapshot_schema(const delta_snapshot *s) {
    return s->metadata.schema;
}
size_t delta_snapshot_num_files(const delta_snapshot *s) {
    return s->nfiles;
}
const delta_file *delta_snapshot_file(const delta_snapshot *s, size_t i) {
    return i < s->nfiles ? &s->files[i] : NULL;
}
size_t delta_snapshot_num_tombstones(const delta_snapshot *s) {
    return s->ntombstones;
}
const delta_remove *delta_snapshot_tombstone(const delta_snapshot *s, size_t i) {
    return i < s->ntombstones ? &s->tombstones[i] : NULL;
}

int64_t delta_snapshot_commit_timestamp(const delta_snapshot *s, int64_t version) {
    for (size_t i = 0; i < s->ncommit_ts; i++)
        if (s->commit_ts[i].version == version) return s->commit_ts[i].timestamp;
    return -1;
}

int64_t delta_snapshot_timestamp(const delta_snapshot *s) {
    return delta_snapshot_commit_timestamp(s, s->version);
}

int64_t delta_snapshot_txn_version(const delta_snapshot *s, const char *app_id) {
    for (size_t i = 0; i < s->ntxns; i++)
        if (strcmp(s->txns[i].app_id, app_id) == 0) return s->txns[i].version;
    return -1;
}

size_t delta_snapshot_num_txns(const delta_snapshot *s) {
    return s->ntxns;
}

const delta_txn *delta_snapshot_txn(const delta_snapshot *s, size_t i) {
    return &s->txns[i];
}

const char *delta_snapshot_domain(const delta_snapshot *s, const char *domain) {
    for (size_t i = 0; i < s->ndomains; i++)
        if (strcmp(s->domains[i].domain, domain) == 0) return s->domains[i].configuration;
    return NULL;
}

const char *delta_snapshot_property(const delta_snapshot *s, const char *key, const char *dflt) {
    bool found;
    const char *v = delta_map_get(&s->metadata.configuration, key, &found);
    return found && v != NULL ? v : dflt;
}
