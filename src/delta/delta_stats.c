/*
 * delta_stats.c - what a writer needs to describe a new data file in an add
 * action (PROTOCOL.md "Per-file Statistics", "Partition Value
 * Serialization"): the JSON stats string from the Parquet writer's summary,
 * partition values as text, the Hive-style partition directory, the file
 * name and the URL-encoded path logged in add.path.
 *
 * Stats follow what Spark's Delta writer records, so Spark, delta-rs and
 * our own scans can skip files with them: numRecords; minValues/maxValues
 * per leaf column (nested structs as nested objects; nothing inside arrays
 * or maps; no booleans or binaries); nullCount per leaf. Strings are cut to
 * DELTA_STATS_STRING_PREFIX characters - a cut min is still a lower bound,
 * a cut max is not an upper bound and is left out. Timestamps are written
 * with millisecond precision (readers widen the max by 999 us).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "delta_internal.h"

#define DELTA_STATS_STRING_PREFIX 32

/* ------------------------------------------------------------------------ */
/* Values as stats JSON                                                      */
/* ------------------------------------------------------------------------ */

/* Byte length of the first `chars` UTF-8 characters of p[0..n), and
 * whether that is all of it. */
static size_t utf8_prefix(const uint8_t *p, size_t n, size_t chars, bool *whole) {
    size_t c = 0, i = 0;
    for (; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            if (c == chars) break;
            c++;
        }
    }
    *whole = i == n;
    return i;
}

void delta_format_ts_millis(int64_t micros, bool utc, sd_buf *out) {
    int64_t ms = micros >= 0 ? micros / 1000 : -((-micros + 999) / 1000);
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rem = ms - days * 86400000;
    int64_t y;
    unsigned mo, d;
    sd_civil_from_days(days, &y, &mo, &d);
    sd_buf_appendf(out, "\"%04lld-%02u-%02uT%02d:%02d:%02d.%03d%s\"", (long long)y, mo, d,
                   (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                   (int)(rem % 1000), utc ? "Z" : "");
}

/* Append v as a stats JSON value; false when it has no stats form. */
static bool stats_value_json(const sd_value *v, bool is_max, sd_buf *out) {
    if (v->is_null) return false;
    switch (v->kind) {
        case SD_INT8:
        case SD_INT16:
        case SD_INT32:
        case SD_INT64:
            sd_buf_appendf(out, "%lld", (long long)v->u.i);
            return true;
        case SD_FLOAT:
        case SD_DOUBLE:
            if (!isfinite(v->u.d)) return false;
            if (v->kind == SD_FLOAT)
                sd_format_float((float)v->u.d, out);
            else
                sd_format_double(v->u.d, out);
            return true;
        case SD_DECIMAL:
            sd_format_decimal(v->u.dec, v->scale, out);
            return true;
        case SD_DATE:
            sd_buf_append_byte(out, '"');
            sd_format_date(v->u.i, out);
            sd_buf_append_byte(out, '"');
            return true;
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ:
            delta_format_ts_millis(v->u.i, v->kind == SD_TIMESTAMP, out);
            return true;
        case SD_STRING: {
            bool whole;
            size_t n = utf8_prefix(v->u.s.ptr, v->u.s.len, DELTA_STATS_STRING_PREFIX, &whole);
            if (!whole && is_max) return false;
            sd_json_append_string(out, (const char *)v->u.s.ptr, n);
            return true;
        }
        default:
            return false; /* booleans, binaries: Delta keeps no min/max */
    }
}

/* ------------------------------------------------------------------------ */
/* Nested objects from dotted leaf paths                                     */
/* ------------------------------------------------------------------------ */

/* Emits {"a":{"b":1,"c":2},"d":3} from leaves "a.b", "a.c", "d" given in
 * schema order (leaves of one struct are contiguous). */
typedef struct nest_writer {
    sd_buf *out;
    char open[16][128]; /* names of the open objects below the root */
    int depth;
    bool first[17]; /* no member written yet at this level */
} nest_writer;

static void nest_begin(nest_writer *w, sd_buf *out) {
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->first[0] = true;
    sd_buf_append_byte(out, '{');
}

static void nest_comma(nest_writer *w) {
    if (!w->first[w->depth]) sd_buf_append_byte(w->out, ',');
    w->first[w->depth] = false;
}

/* Position the writer at the parent of `path`'s last component and return
 * that component; NULL when the path nests deeper than we track. */
static const char *nest_enter(nest_writer *w, const char *path) {
    char comp[16][128];
    int n = 0;
    const char *s = path;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        if (n == 16 || len >= sizeof(comp[0])) return NULL;
        memcpy(comp[n], s, len);
        comp[n][len] = '\0';
        n++;
        if (dot == NULL) break;
        s = dot + 1;
    }
    int keep = 0;
    while (keep < w->depth && keep < n - 1 && strcmp(w->open[keep], comp[keep]) == 0) keep++;
    while (w->depth > keep) {
        sd_buf_append_byte(w->out, '}');
        w->depth--;
    }
    while (w->depth < n - 1) {
        nest_comma(w);
        sd_json_append_string(w->out, comp[w->depth], strlen(comp[w->depth]));
        sd_buf_append_str(w->out, ":{");
        memcpy(w->open[w->depth], comp[w->depth], sizeof(comp[0]));
        w->depth++;
        w->first[w->depth] = true;
    }
    const char *last = strrchr(path, '.');
    return last ? last + 1 : path;
}

static void nest_end(nest_writer *w) {
    while (w->depth > 0) {
        sd_buf_append_byte(w->out, '}');
        w->depth--;
    }
    sd_buf_append_byte(w->out, '}');
}

typedef enum stat_kind { STAT_MIN, STAT_MAX, STAT_NULLS } stat_kind;

static void stats_object(const pq_file_summary *sum, stat_kind kind, sd_buf *out) {
    nest_writer w;
    nest_begin(&w, out);
    sd_buf val = SD_BUF_INIT;
    for (int i = 0; i < sum->nleaves; i++) {
        const pq_leaf_stats *l = &sum->leaves[i];
        if (l->in_repeated) continue;
        sd_buf_reset(&val);
        if (kind == STAT_NULLS) {
            sd_buf_appendf(&val, "%lld", (long long)l->null_count);
        } else if (!l->has_min_max || !stats_value_json(kind == STAT_MIN ? &l->min : &l->max,
                                                        kind == STAT_MAX, &val)) {
            continue;
        }
        const char *name = nest_enter(&w, l->path);
        if (name == NULL) continue;
        nest_comma(&w);
        sd_json_append_string(out, name, strlen(name));
        sd_buf_append_byte(out, ':');
        sd_buf_append(out, val.data, val.len);
    }
    sd_buf_free(&val);
    nest_end(&w);
}

void delta_stats_from_summary(const pq_file_summary *sum, sd_buf *out) {
    sd_buf_appendf(out, "{\"numRecords\":%lld,\"minValues\":", (long long)sum->num_rows);
    stats_object(sum, STAT_MIN, out);
    sd_buf_append_str(out, ",\"maxValues\":");
    stats_object(sum, STAT_MAX, out);
    sd_buf_append_str(out, ",\"nullCount\":");
    stats_object(sum, STAT_NULLS, out);
    sd_buf_append_byte(out, '}');
}

/* ------------------------------------------------------------------------ */
/* Partition values and paths                                                */
/* ------------------------------------------------------------------------ */

void delta_partition_value_format(const sd_value *v, sd_buf *out) {
    if (v->is_null) return;
    switch (v->kind) {
        case SD_BOOL:
            sd_buf_append_str(out, v->u.b ? "true" : "false");
            return;
        case SD_STRING:
        case SD_BINARY:
            sd_buf_append(out, v->u.s.ptr, v->u.s.len);
            return;
        default:
            sd_format_value(v, out);
            return;
    }
}

/* Characters Hive (and Spark's escapePathName) escape in a directory name. */
static bool hive_escaped(unsigned char c) {
    return c < 0x20 || c == 0x7f || strchr("\"#%'*/:=?\\{[]^", c) != NULL;
}

void delta_partition_dir(const char *const *columns, const sd_value *values, size_t n,
                         sd_buf *out) {
    sd_buf text = SD_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *c = (const unsigned char *)columns[i]; *c; c++) {
            if (hive_escaped(*c))
                sd_buf_appendf(out, "%%%02X", *c);
            else
                sd_buf_append_byte(out, *c);
        }
        sd_buf_append_byte(out, '=');
        sd_buf_reset(&text);
        delta_partition_value_format(&values[i], &text);
        if (values[i].is_null || text.len == 0) {
            sd_buf_append_str(out, "__HIVE_DEFAULT_PARTITION__");
        } else {
            for (size_t k = 0; k < text.len; k++) {
                if (hive_escaped(text.data[k]))
                    sd_buf_appendf(out, "%%%02X", text.data[k]);
                else
                    sd_buf_append_byte(out, text.data[k]);
            }
        }
        sd_buf_append_byte(out, '/');
    }
    sd_buf_free(&text);
}

void delta_data_file_name(sd_buf *out) {
    char text[SD_UUID_TEXT_SIZE];
    sd_uuid_random_text(text);
    sd_buf_appendf(out, "part-00000-%s-c000.snappy.parquet", text);
}

void delta_path_encode(const char *path, sd_buf *out) {
    for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
        bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9') || strchr("-._~/!$&'()*+,;=@", *c) != NULL;
        if (plain)
            sd_buf_append_byte(out, *c);
        else
            sd_buf_appendf(out, "%%%02X", *c);
    }
}
