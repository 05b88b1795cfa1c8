/*
 * pipe_config.c - the pipeline's INI configuration (`streamdelta run
 * --config FILE --set section.key=value`).
 *
 * One table, pc_keys[], describes every key: its section, name, type,
 * where it lives in struct pipe_config, its default and its help line. The
 * same table fills the defaults (by parsing the default text, so defaults
 * go through the same checks as user values), parses files and overrides,
 * prints the effective configuration and writes the help text - the
 * config-map pattern of Fluent Bit. Three sections are free-form and
 * handled beside the table: [derive] (column = expression, ordered),
 * `kafka.*` keys of [source] (passed through to librdkafka) and nothing
 * else.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

/* A configuration file is small; a bigger one is a mistake (a data file
 * passed by accident), refused before it is read into memory. */
#define PC_MAX_FILE (1 << 20)

typedef enum pc_kind {
    PC_STRING,
    PC_INT,
    PC_BOOL,
    PC_DURATION, /* milliseconds */
    PC_ENUM,     /* int-sized C enum, values index `names` */
    PC_LIST,     /* comma-separated names: char ** at offset, int count at count_offset */
    PC_SIZE,     /* bytes: 128MB, 64KB, 1GB or a number of bytes (units of 1024) */
} pc_kind;

typedef struct pc_key {
    const char *section;
    const char *key;
    pc_kind kind;
    size_t offset;
    size_t count_offset; /* PC_LIST */
    const char *def;
    int64_t min, max; /* PC_INT, PC_DURATION, PC_SIZE */
    const char *const *names;
    const char *help;
} pc_key;

static const char *const pc_offsets_names[] = {"earliest", "latest", NULL};
static const char *const pc_trigger_names[] = {"fast", "interval", "available-now", NULL};
static const char *const pc_dlq_names[] = {"file", "topic", "none", NULL};
static const char *const pc_compact_names[] = {"table", "true", "false", NULL};

_Static_assert(sizeof(pipe_trigger_mode) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pipe_start_offsets) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pipe_dead_letter_mode) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pipe_auto_compact_mode) == sizeof(int), "enums are stored as int");

#define PC_OFF(f) offsetof(pipe_config, f)
#define PC_HOUR INT64_C(3600000)
#define PC_MIB INT64_C(1048576)

static const pc_key pc_keys[] = {
    {"source", "topic", PC_STRING, PC_OFF(topic), 0, "movie.ratings.v1", 0, 0, NULL,
     "Kafka topic to consume"},
    {"source", "bootstrap_servers", PC_STRING, PC_OFF(bootstrap_servers), 0, "localhost:9092", 0, 0,
     NULL, "Kafka bootstrap servers (host:port, comma-separated)"},
    {"source", "schema_registry", PC_STRING, PC_OFF(schema_registry), 0, "http://localhost:8081", 0,
     0, NULL, "Confluent Schema Registry URL"},
    {"source", "subject", PC_STRING, PC_OFF(subject), 0, "", 0, 0, NULL,
     "registry subject of the reader schema (empty: <topic>-value)"},
    {"source", "starting_offsets", PC_ENUM, PC_OFF(starting_offsets), 0, "earliest", 0, 0,
     pc_offsets_names, "where a new table starts reading: earliest | latest"},
    {"sink", "table", PC_STRING, PC_OFF(table), 0, "./tables/movie_ratings", 0, 0, NULL,
     "Delta table directory"},
    {"sink", "key", PC_STRING, PC_OFF(key), 0, "event_id", 0, 0, NULL, "upsert key column"},
    {"sink", "partition_by", PC_STRING, PC_OFF(partition_by), 0, "rating_date", 0, 0, NULL,
     "partition column (empty: not partitioned)"},
    {"sink", "order_by", PC_STRING, PC_OFF(order_by), 0, "rating_timestamp", 0, 0, NULL,
     "column whose newest value wins among rows of one key (empty: the later offset)"},
    {"sink", "late_days", PC_INT, PC_OFF(late_days), 0, "5", 0, 100000, NULL,
     "drop events whose partition date is older than today - late_days"},
    {"sink", "deletion_vectors", PC_BOOL, PC_OFF(deletion_vectors), 0, "false", 0, 0, NULL,
     "write deletion vectors instead of rewriting files on update"},
    /* Databricks' auto compaction defaults: minNumFiles 50, 128 MB files. */
    {"sink", "auto_compact", PC_ENUM, PC_OFF(auto_compact), 0, "table", 0, 0, pc_compact_names,
     "compact small files after commits: true | false | table (the table's "
     "delta.autoOptimize.autoCompact)"},
    {"sink", "auto_compact_min_files", PC_INT, PC_OFF(auto_compact_min_files), 0, "50", 2, 1000000,
     NULL, "small files in one partition that start a compaction of it"},
    {"sink", "auto_compact_target_size", PC_SIZE, PC_OFF(auto_compact_target_size), 0, "128MB", 1,
     INT64_C(1) << 40, NULL, "files smaller than this are small; compaction writes files this big"},
    {"sink", "auto_compact_max_bytes", PC_SIZE, PC_OFF(auto_compact_max_bytes), 0, "128MB", 1,
     INT64_C(1) << 40, NULL,
     "most bytes one compaction rewrites (one partition per micro-batch at most)"},
    {"columns", "order", PC_LIST, PC_OFF(order), PC_OFF(norder),
     "event_id, user_id, movie_id, rating, is_approved, rating_timestamp, rating_date", 0, 0, NULL,
     "output columns in order (empty: input columns, then derived ones)"},
    {"trigger", "mode", PC_ENUM, PC_OFF(trigger), 0, "fast", 0, 0, pc_trigger_names,
     "fast | interval | available-now"},
    {"trigger", "interval", PC_DURATION, PC_OFF(interval_ms), 0, "10s", 0, 24 * PC_HOUR, NULL,
     "time between micro-batches with mode = interval"},
    {"trigger", "max_batch_records", PC_INT, PC_OFF(max_batch_records), 0, "100000", 1, 100000000,
     NULL, "most records in one micro-batch"},
    {"trigger", "max_batch_wait", PC_DURATION, PC_OFF(max_batch_wait_ms), 0, "500ms", 0, PC_HOUR,
     NULL, "longest wait to fill a micro-batch"},
    {"trigger", "give_up_after", PC_DURATION, PC_OFF(give_up_after_ms), 0, "0", 0,
     365 * 24 * PC_HOUR, NULL,
     "stop (exit 1) once transient errors (broker or registry unreachable, commit races lost) "
     "have lasted this long; 0: retry forever"},
    {"dead_letter", "mode", PC_ENUM, PC_OFF(dead_letter), 0, "file", 0, 0, pc_dlq_names,
     "where undecodable records go: file | topic | none"},
    {"dead_letter", "path", PC_STRING, PC_OFF(dead_letter_path), 0, "./dead-letters.jsonl", 0, 0,
     NULL, "JSON-lines file with mode = file"},
    {"dead_letter", "topic", PC_STRING, PC_OFF(dead_letter_topic), 0, "movie.ratings.v1.dlq", 0, 0,
     NULL, "Kafka topic with mode = topic"},
    {"progress", "json", PC_STRING, PC_OFF(progress_json), 0, "", 0, 0, NULL,
     "write one JSON progress line per batch to this file (- for stdout, empty: off)"},
};

#define PC_NKEYS ((int)(sizeof(pc_keys) / sizeof(pc_keys[0])))
_Static_assert(sizeof(pc_keys) / sizeof(pc_keys[0]) == PIPE_CONFIG_NKEYS,
               "PIPE_CONFIG_NKEYS must match the key table");

static const char *const pc_sections[] = {"source",  "sink",        "derive",  "columns",
                                          "trigger", "dead_letter", "progress"};
#define PC_NSECTIONS ((int)(sizeof(pc_sections) / sizeof(pc_sections[0])))

/* The built-in derived columns of the movie-ratings pipeline. */
static const char *const pc_default_derive[][2] = {
    {"is_approved", "rating >= 7"},
    {"rating_date", "to_date(rating_timestamp)"},
};

/* Where a value came from, for messages: "file:line", "--set x.y" or
 * "x.y (built-in default)". */
typedef struct pc_origin {
    const char *file;
    int line; /* > 0 file line, -1 override, 0 built-in default */
} pc_origin;

static void pc_where(const pc_origin *o, const char *section, const char *key, char *out,
                     size_t cap) {
    if (o->line > 0)
        snprintf(out, cap, "%s:%d: %s.%s", o->file, o->line, section, key);
    else if (o->line < 0)
        snprintf(out, cap, "--set %s.%s", section, key);
    else
        snprintf(out, cap, "%s.%s (built-in default)", section, key);
}

/* ------------------------------------------------------------------------ */
/* Values                                                                    */
/* ------------------------------------------------------------------------ */

static bool pc_parse_int(const char *s, int64_t *out) {
    if (*s == '\0') return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != '\0' || !(isdigit((unsigned char)*s) || *s == '-')) return false;
    *out = v;
    return true;
}

static bool pc_parse_bool(const char *s, bool *out) {
    static const char *yes[] = {"true", "yes", "on", "1"};
    static const char *no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) return *out = true, true;
        if (strcasecmp(s, no[i]) == 0) return *out = false, true;
    }
    return false;
}

bool pipe_parse_duration(const char *s, int64_t *ms) {
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    size_t i = 0;
    int64_t v = 0;
    while (isdigit((unsigned char)s[i])) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
            return false;
        i++;
    }
    if (i == 0) return false;
    if (s[i] == '\0') { /* a bare number is ambiguous, except zero */
        if (v != 0) return false;
        *ms = 0;
        return true;
    }
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
        if (strcmp(s + i, units[u].unit) == 0) return !__builtin_mul_overflow(v, units[u].ms, ms);
    return false;
}

/* "128MB", "64KB", "1GB", "1048576": bytes, units powers of 1024 as in
 * Spark's byte-size settings (and `optimize --target-size`). */
static bool pc_parse_size(const char *s, int64_t *out) {
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = {{"", 1},
                 {"b", 1},
                 {"k", 1024},
                 {"kb", 1024},
                 {"kib", 1024},
                 {"m", PC_MIB},
                 {"mb", PC_MIB},
                 {"mib", PC_MIB},
                 {"g", PC_MIB << 10},
                 {"gb", PC_MIB << 10},
                 {"gib", PC_MIB << 10}};
    size_t i = 0;
    int64_t v = 0;
    while (isdigit((unsigned char)s[i])) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
            return false;
        i++;
    }
    if (i == 0) return false;
    while (s[i] == ' ') i++;
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
        if (strcasecmp(s + i, units[u].unit) == 0)
            return !__builtin_mul_overflow(v, units[u].mult, out);
    return false;
}

static void pc_free_list(char **list, int n) {
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
}

/* "a, b ,c" -> {"a","b","c"}; false on an empty item ("a,,b"). */
/* Split a comma list into trimmed names. Returns NULL, or why the list is
 * refused: an empty name, or a name starting with ';' or '#', which the
 * printed form (", " between names) would turn into a comment. */
static const char *pc_parse_list(const char *s, char ***out, int *count) {
    char **list = NULL;
    int n = 0;
    const char *p = s;
    while (*s != '\0') {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && isspace((unsigned char)*a)) a++;
        while (b > a && isspace((unsigned char)b[-1])) b--;
        if (a == b || *a == ';' || *a == '#') {
            pc_free_list(list, n);
            return a == b ? "empty name"
                          : "name starting with ';' or '#' (a comment when read back)";
        }
        list = sd_xrealloc(list, (size_t)(n + 1) * sizeof(char *));
        list[n++] = sd_xstrndup(a, (size_t)(b - a));
        if (comma == NULL) break;
        p = comma + 1;
    }
    *out = list;
    *count = n;
    return NULL;
}

static void pc_enum_names(const pc_key *k, char *out, size_t cap) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; k->names[i] != NULL && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? " | " : "", k->names[i]);
}

/* Set one table key from text; the error names `where`. */
static sd_status pc_set_key(pipe_config *cfg, int idx, const char *value, const pc_origin *o,
                            sd_error *err) {
    const pc_key *k = &pc_keys[idx];
    char where[512];
    pc_where(o, k->section, k->key, where, sizeof(where));
    void *field = (char *)cfg + k->offset;
    int64_t v;
    switch (k->kind) {
        case PC_STRING:
            free(*(char **)field);
            *(char **)field = sd_xstrdup(value);
            break;
        case PC_INT:
            if (!pc_parse_int(value, &v))
                return sd_error_set(err, SD_ERR_ARG, "%s: '%s' is not an integer", where, value);
            if (v < k->min || v > k->max)
                return sd_error_set(err, SD_ERR_ARG, "%s: %lld is out of range [%lld, %lld]", where,
                                    (long long)v, (long long)k->min, (long long)k->max);
            *(int64_t *)field = v;
            break;
        case PC_DURATION:
            if (!pipe_parse_duration(value, &v))
                return sd_error_set(err, SD_ERR_ARG,
                                    "%s: '%s' is not a duration (an integer and ms, s, m or h: "
                                    "500ms, 10s, 5m, 1h)",
                                    where, value);
            if (v < k->min || v > k->max)
                return sd_error_set(err, SD_ERR_ARG, "%s: '%s' is out of range [%lldms, %lldms]",
                                    where, value, (long long)k->min, (long long)k->max);
            *(int64_t *)field = v;
            break;
        case PC_SIZE:
            if (!pc_parse_size(value, &v))
                return sd_error_set(err, SD_ERR_ARG,
                                    "%s: '%s' is not a size (an integer and an optional unit: "
                                    "128MB, 64KB, 1GB, bytes)",
                                    where, value);
            if (v < k->min || v > k->max)
                return sd_error_set(err, SD_ERR_ARG, "%s: '%s' is out of range [%lld, %lld] bytes",
                                    where, value, (long long)k->min, (long long)k->max);
            *(int64_t *)field = v;
            break;
        case PC_BOOL: {
            bool b;
            if (!pc_parse_bool(value, &b))
                return sd_error_set(err, SD_ERR_ARG,
                                    "%s: '%s' is not a boolean (true/false, yes/no, on/off, 1/0)",
                                    where, value);
            *(bool *)field = b;
            break;
        }
        case PC_ENUM: {
            int found = -1;
            for (int i = 0; k->names[i] != NULL; i++)
                if (strcasecmp(value, k->names[i]) == 0) found = i;
            if (found < 0) {
                char names[256];
                pc_enum_names(k, names, sizeof(names));
                return sd_error_set(err, SD_ERR_ARG, "%s: '%s' is not one of %s", where, value,
                                    names);
            }
            *(int *)field = found;
            break;
        }
        case PC_LIST: {
            char **list;
            int n;
            const char *refused = pc_parse_list(value, &list, &n);
            if (refused != NULL)
                return sd_error_set(err, SD_ERR_ARG, "%s: %s in the list '%s'", where, refused,
                                    value);
            int *count = (int *)((char *)cfg + k->count_offset);
            pc_free_list(*(char ***)field, *count);
            *(char ***)field = list;
            *count = n;
            break;
        }
    }
    cfg->line[idx] = o->line;
    return SD_OK;
}

/* Add or replace name = value in a pair list; an empty value removes. */
static void pc_pair_set(pipe_config_pair **list, int *n, const char *name, const char *value,
                        int line) {
    for (int i = 0; i < *n; i++) {
        if (strcmp((*list)[i].name, name) != 0) continue;
        if (*value == '\0') {
            free((*list)[i].name);
            free((*list)[i].value);
            memmove(&(*list)[i], &(*list)[i + 1], (size_t)(*n - i - 1) * sizeof(**list));
            (*n)--;
            return;
        }
        free((*list)[i].value);
        (*list)[i].value = sd_xstrdup(value);
        (*list)[i].line = line;
        return;
    }
    if (*value == '\0') return;
    *list = sd_xrealloc(*list, (size_t)(*n + 1) * sizeof(**list));
    (*list)[*n].name = sd_xstrdup(name);
    (*list)[*n].value = sd_xstrdup(value);
    (*list)[*n].line = line;
    (*n)++;
}

static void pc_pairs_free(pipe_config_pair *list, int n) {
    for (int i = 0; i < n; i++) {
        free(list[i].name);
        free(list[i].value);
    }
    free(list);
}

static int pc_find_key(const char *section, const char *key) {
    for (int i = 0; i < PC_NKEYS; i++)
        if (strcmp(pc_keys[i].section, section) == 0 && strcmp(pc_keys[i].key, key) == 0) return i;
    return -1;
}

/* Split "section.key": the section into section[64] (cut to fit: a name
 * that long is no section), the key returned. NULL when there is no
 * section or no key. */
static const char *pc_split_name(const char *name, char section[64]) {
    const char *dot = strchr(name, '.');
    if (dot == NULL || dot == name || dot[1] == '\0') return NULL;
    size_t sn = (size_t)(dot - name);
    if (sn >= 64) sn = 63;
    memcpy(section, name, sn);
    section[sn] = '\0';
    return dot + 1;
}

bool pipe_config_is_set(const pipe_config *cfg, const char *name) {
    char section[64];
    const char *key = pc_split_name(name, section);
    int idx = key != NULL ? pc_find_key(section, key) : -1;
    return idx >= 0 && cfg->line[idx] != 0;
}

static bool pc_known_section(const char *section) {
    for (int i = 0; i < PC_NSECTIONS; i++)
        if (strcmp(pc_sections[i], section) == 0) return true;
    return false;
}

static void pc_section_list(sd_buf *out) {
    for (int i = 0; i < PC_NSECTIONS; i++)
        sd_buf_appendf(out, "%s%s", i ? ", " : "", pc_sections[i]);
}

/* One `key = value` of `section`, from a file line or an override. */
static sd_status pc_set(pipe_config *cfg, const char *section, const char *key, const char *value,
                        const pc_origin *o, sd_error *err) {
    char where[512];
    pc_where(o, section, key, where, sizeof(where));
    if (strcmp(section, "derive") == 0) {
        if (o->line > 0 && *value == '\0')
            return sd_error_set(err, SD_ERR_ARG, "%s: missing expression for derived column '%s'",
                                where, key);
        pc_pair_set(&cfg->derive, &cfg->nderive, key, value, o->line);
        return SD_OK;
    }
    if (strcmp(section, "source") == 0 && strncmp(key, "kafka.", 6) == 0) {
        if (key[6] == '\0')
            return sd_error_set(err, SD_ERR_ARG, "%s: missing librdkafka property after 'kafka.'",
                                where);
        pc_pair_set(&cfg->kafka, &cfg->nkafka, key + 6, value, o->line);
        return SD_OK;
    }
    int idx = pc_find_key(section, key);
    if (idx < 0) {
        sd_buf keys = SD_BUF_INIT;
        for (int i = 0; i < PC_NKEYS; i++)
            if (strcmp(pc_keys[i].section, section) == 0)
                sd_buf_appendf(&keys, "%s%s", keys.len ? ", " : "", pc_keys[i].key);
        if (strcmp(section, "source") == 0) sd_buf_append_str(&keys, ", kafka.<property>");
        sd_error_set(err, SD_ERR_ARG, "%s: unknown key '%s' in [%s] (keys: %s)", where, key,
                     section, keys.len ? sd_buf_cstr(&keys) : "none");
        sd_buf_free(&keys);
        return SD_ERR_ARG;
    }
    return pc_set_key(cfg, idx, value, o, err);
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                                */
/* ------------------------------------------------------------------------ */

void pipe_config_init(pipe_config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->file = sd_xstrdup("");
    pc_origin o = {"", 0};
    for (int i = 0; i < PC_NKEYS; i++) {
        sd_error err = {0};
        /* The defaults are constants checked by the unit tests; a failure
         * here is a bug in the table. */
        if (pc_set_key(cfg, i, pc_keys[i].def, &o, &err) != SD_OK) {
            fprintf(stderr, "streamdelta: bad built-in default: %s\n", err.msg);
            abort();
        }
    }
    for (size_t i = 0; i < sizeof(pc_default_derive) / sizeof(pc_default_derive[0]); i++)
        pc_pair_set(&cfg->derive, &cfg->nderive, pc_default_derive[i][0], pc_default_derive[i][1],
                    0);
}

void pipe_config_free(pipe_config *cfg) {
    for (int i = 0; i < PC_NKEYS; i++) {
        void *field = (char *)cfg + pc_keys[i].offset;
        if (pc_keys[i].kind == PC_STRING) free(*(char **)field);
        if (pc_keys[i].kind == PC_LIST)
            pc_free_list(*(char ***)field, *(int *)((char *)cfg + pc_keys[i].count_offset));
    }
    pc_pairs_free(cfg->kafka, cfg->nkafka);
    pc_pairs_free(cfg->derive, cfg->nderive);
    free(cfg->file);
    memset(cfg, 0, sizeof(*cfg));
}

/* ------------------------------------------------------------------------ */
/* The INI reader                                                            */
/* ------------------------------------------------------------------------ */

/* Cut a comment: ';' or '#' at the start, after a blank or right after the
 * '=', outside quotes ('...' strings and `...` names of expressions). So a
 * value never starts with ';' or '#', and every value prints back as
 * `key = value` unchanged. */
static size_t pc_strip_comment(const char *s, size_t n) {
    char quote = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '\'' || c == '`') {
            quote = c;
        } else if ((c == ';' || c == '#') &&
                   (i == 0 || isspace((unsigned char)s[i - 1]) || s[i - 1] == '=')) {
            return i;
        }
    }
    return n;
}

static void pc_trim(const char **s, size_t *n) {
    while (*n > 0 && isspace((unsigned char)**s)) (*s)++, (*n)--;
    while (*n > 0 && isspace((unsigned char)(*s)[*n - 1])) (*n)--;
}

/* Key lines seen in this file, to refuse a key set twice. */
typedef struct pc_seen {
    int line[PIPE_CONFIG_NKEYS];
} pc_seen;

static sd_status pc_parse_line(pipe_config *cfg, const char *s, size_t n, const pc_origin *o,
                               char *section, size_t section_cap, bool *derive_cleared,
                               pc_seen *seen, sd_error *err) {
    const char *name = o->file;
    if (memchr(s, '\0', n) != NULL)
        return sd_error_set(err, SD_ERR_ARG, "%s:%d: NUL byte in the line", name, o->line);
    n = pc_strip_comment(s, n);
    pc_trim(&s, &n);
    if (n == 0) return SD_OK;
    if (s[0] == '[') {
        if (s[n - 1] != ']')
            return sd_error_set(err, SD_ERR_ARG, "%s:%d: section header without ']'", name,
                                o->line);
        const char *sec = s + 1;
        size_t sn = n - 2;
        pc_trim(&sec, &sn);
        if (sn == 0 || sn >= section_cap)
            return sd_error_set(err, SD_ERR_ARG, "%s:%d: bad section name", name, o->line);
        memcpy(section, sec, sn);
        section[sn] = '\0';
        if (!pc_known_section(section)) {
            sd_buf list = SD_BUF_INIT;
            pc_section_list(&list);
            sd_error_set(err, SD_ERR_ARG, "%s:%d: unknown section [%s] (sections: %s)", name,
                         o->line, section, sd_buf_cstr(&list));
            sd_buf_free(&list);
            return SD_ERR_ARG;
        }
        if (strcmp(section, "derive") == 0 && !*derive_cleared) {
            /* The file's derivations replace the built-in ones. */
            pc_pairs_free(cfg->derive, cfg->nderive);
            cfg->derive = NULL;
            cfg->nderive = 0;
            *derive_cleared = true;
        }
        return SD_OK;
    }
    const char *eq = memchr(s, '=', n);
    if (eq == NULL)
        return sd_error_set(err, SD_ERR_ARG, "%s:%d: expected 'key = value' or '[section]'", name,
                            o->line);
    const char *k = s, *v = eq + 1;
    size_t kn = (size_t)(eq - s), vn = n - kn - 1;
    pc_trim(&k, &kn);
    pc_trim(&v, &vn);
    if (kn == 0)
        return sd_error_set(err, SD_ERR_ARG, "%s:%d: missing key before '='", name, o->line);
    if (section[0] == '\0')
        return sd_error_set(err, SD_ERR_ARG, "%s:%d: key '%.*s' before any [section]", name,
                            o->line, (int)(kn > 100 ? 100 : kn), k);
    char *key = sd_xstrndup(k, kn), *value = sd_xstrndup(v, vn);
    sd_status st = SD_OK;
    int idx = pc_find_key(section, key);
    bool dup_derive = false;
    if (strcmp(section, "derive") == 0)
        for (int i = 0; i < cfg->nderive; i++)
            if (strcmp(cfg->derive[i].name, key) == 0 && cfg->derive[i].line > 0) {
                st = sd_error_set(err, SD_ERR_ARG,
                                  "%s:%d: derived column '%s' defined twice (first on line %d)",
                                  name, o->line, key, cfg->derive[i].line);
                dup_derive = true;
            }
    if (!dup_derive && idx >= 0 && seen->line[idx] > 0)
        st = sd_error_set(err, SD_ERR_ARG, "%s:%d: %s.%s set twice (first on line %d)", name,
                          o->line, section, key, seen->line[idx]);
    if (st == SD_OK) st = pc_set(cfg, section, key, value, o, err);
    if (st == SD_OK && idx >= 0) seen->line[idx] = o->line;
    free(key);
    free(value);
    return st;
}

sd_status pipe_config_parse(pipe_config *cfg, const char *text, size_t len, const char *name,
                            sd_error *err) {
    free(cfg->file);
    cfg->file = sd_xstrdup(name);
    char section[64] = "";
    bool derive_cleared = false;
    pc_seen seen;
    memset(&seen, 0, sizeof(seen));
    size_t pos = 0;
    int line = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        line++;
        pc_origin o = {cfg->file, line};
        sd_status st = pc_parse_line(cfg, text + pos, end - pos, &o, section, sizeof(section),
                                     &derive_cleared, &seen, err);
        if (st != SD_OK) return st;
        pos = end + 1;
    }
    return pipe_config_validate(cfg, err);
}

sd_status pipe_config_load(pipe_config *cfg, const char *path, sd_error *err) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return sd_error_set(err, SD_ERR_IO, "%s: cannot open the configuration: %s", path,
                            strerror(errno));
    sd_buf b = SD_BUF_INIT;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len <= PC_MAX_FILE)
        sd_buf_append(&b, chunk, got);
    bool failed = ferror(f) != 0;
    fclose(f);
    sd_status st;
    if (failed)
        st = sd_error_set(err, SD_ERR_IO, "%s: cannot read the configuration", path);
    else if (b.len > PC_MAX_FILE)
        st = sd_error_set(err, SD_ERR_ARG, "%s: larger than %d bytes; not a configuration file?",
                          path, PC_MAX_FILE);
    else
        st = pipe_config_parse(cfg, b.len ? (const char *)b.data : "", b.len, path, err);
    sd_buf_free(&b);
    return st;
}

sd_status pipe_config_set(pipe_config *cfg, const char *name, const char *value, sd_error *err) {
    char section[64];
    const char *key = pc_split_name(name, section);
    if (key == NULL)
        return sd_error_set(err, SD_ERR_ARG,
                            "--set %s: expected section.key=value (e.g. sink.late_days=3)", name);
    if (!pc_known_section(section)) {
        sd_buf list = SD_BUF_INIT;
        pc_section_list(&list);
        sd_error_set(err, SD_ERR_ARG, "--set %s: unknown section '%s' (sections: %s)", name,
                     section, sd_buf_cstr(&list));
        sd_buf_free(&list);
        return SD_ERR_ARG;
    }
    const char *v = value;
    size_t vn = strlen(value);
    pc_trim(&v, &vn);
    /* What pipe_config_format() prints must read back: no line breaks, no
     * '=' in a name, nothing the reader would take for a comment. */
    if (strpbrk(name, "=\n\r") != NULL || memchr(v, '\n', vn) != NULL ||
        memchr(v, '\r', vn) != NULL)
        return sd_error_set(err, SD_ERR_ARG,
                            "--set %s: line breaks (and '=' in the name) are not allowed", name);
    if (pc_strip_comment(v, vn) != vn)
        return sd_error_set(err, SD_ERR_ARG,
                            "--set %s: '%s' would read back as a comment from ';' or '#' (at the "
                            "start or after a blank); quote it or remove the blank",
                            name, value);
    char *trimmed = sd_xstrndup(v, vn);
    pc_origin o = {cfg->file, -1};
    sd_status st = pc_set(cfg, section, key, trimmed, &o, err);
    free(trimmed);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Validation, printing, help                                                */
/* ------------------------------------------------------------------------ */

static sd_status pc_require(const pipe_config *cfg, const char *section, const char *key,
                            const char *why, sd_error *err) {
    int idx = pc_find_key(section, key);
    const char *v = *(char *const *)((const char *)cfg + pc_keys[idx].offset);
    if (v[0] != '\0') return SD_OK;
    pc_origin o = {cfg->file, cfg->line[idx]};
    char where[512];
    pc_where(&o, section, key, where, sizeof(where));
    return sd_error_set(err, SD_ERR_ARG, "%s: a value is required%s", where, why);
}

sd_status pipe_config_validate(const pipe_config *cfg, sd_error *err) {
    static const char *required[][2] = {{"source", "topic"},
                                        {"source", "bootstrap_servers"},
                                        {"source", "schema_registry"},
                                        {"sink", "table"},
                                        {"sink", "key"}};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (pc_require(cfg, required[i][0], required[i][1], "", err) != SD_OK) return SD_ERR_ARG;
    if (cfg->trigger == PIPE_TRIGGER_INTERVAL && cfg->interval_ms <= 0) {
        int idx = pc_find_key("trigger", "interval");
        pc_origin o = {cfg->file, cfg->line[idx]};
        char where[512];
        pc_where(&o, "trigger", "interval", where, sizeof(where));
        return sd_error_set(err, SD_ERR_ARG, "%s: must be more than 0 with trigger.mode = interval",
                            where);
    }
    if (cfg->dead_letter == PIPE_DLQ_FILE &&
        pc_require(cfg, "dead_letter", "path", " with dead_letter.mode = file", err) != SD_OK)
        return SD_ERR_ARG;
    if (cfg->dead_letter == PIPE_DLQ_TOPIC &&
        pc_require(cfg, "dead_letter", "topic", " with dead_letter.mode = topic", err) != SD_OK)
        return SD_ERR_ARG;
    int oidx = pc_find_key("columns", "order");
    pc_origin oo = {cfg->file, cfg->line[oidx]};
    char where[512];
    pc_where(&oo, "columns", "order", where, sizeof(where));
    for (int i = 0; i < cfg->norder; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(cfg->order[i], cfg->order[j]) == 0)
                return sd_error_set(err, SD_ERR_ARG, "%s: column '%s' listed twice", where,
                                    cfg->order[i]);
    /* The key, partition and order columns must be written to the table.
     * The message points at the sink key when the user set it. */
    const char *must[][2] = {
        {"key", cfg->key}, {"partition_by", cfg->partition_by}, {"order_by", cfg->order_by}};
    for (int m = 0; m < 3 && cfg->norder > 0; m++) {
        if (must[m][1][0] == '\0') continue;
        bool found = false;
        for (int i = 0; i < cfg->norder; i++)
            found = found || strcmp(cfg->order[i], must[m][1]) == 0;
        if (found) continue;
        int kidx = pc_find_key("sink", must[m][0]);
        if (cfg->line[kidx] == 0)
            return sd_error_set(err, SD_ERR_ARG, "%s: sink.%s column '%s' is not in the list",
                                where, must[m][0], must[m][1]);
        pc_origin ko = {cfg->file, cfg->line[kidx]};
        pc_where(&ko, "sink", must[m][0], where, sizeof(where));
        return sd_error_set(err, SD_ERR_ARG, "%s: column '%s' is not in columns.order", where,
                            must[m][1]);
    }
    return SD_OK;
}

/* A table key's current value as text (the inverse of pc_set_key). */
static void pc_format_value(const pipe_config *cfg, const pc_key *k, sd_buf *out) {
    const void *field = (const char *)cfg + k->offset;
    switch (k->kind) {
        case PC_STRING:
            sd_buf_append_str(out, *(char *const *)field);
            break;
        case PC_INT:
            sd_buf_appendf(out, "%lld", (long long)*(const int64_t *)field);
            break;
        case PC_BOOL:
            sd_buf_append_str(out, *(const bool *)field ? "true" : "false");
            break;
        case PC_ENUM:
            sd_buf_append_str(out, k->names[*(const int *)field]);
            break;
        case PC_DURATION: {
            int64_t ms = *(const int64_t *)field;
            if (ms != 0 && ms % 3600000 == 0)
                sd_buf_appendf(out, "%lldh", (long long)(ms / 3600000));
            else if (ms != 0 && ms % 60000 == 0)
                sd_buf_appendf(out, "%lldm", (long long)(ms / 60000));
            else if (ms % 1000 == 0)
                sd_buf_appendf(out, "%llds", (long long)(ms / 1000));
            else
                sd_buf_appendf(out, "%lldms", (long long)ms);
            break;
        }
        case PC_SIZE: {
            int64_t b = *(const int64_t *)field;
            if (b != 0 && b % (PC_MIB << 10) == 0)
                sd_buf_appendf(out, "%lldGB", (long long)(b / (PC_MIB << 10)));
            else if (b != 0 && b % PC_MIB == 0)
                sd_buf_appendf(out, "%lldMB", (long long)(b / PC_MIB));
            else if (b != 0 && b % 1024 == 0)
                sd_buf_appendf(out, "%lldKB", (long long)(b / 1024));
            else
                sd_buf_appendf(out, "%lld", (long long)b);
            break;
        }
        case PC_LIST: {
            char *const *list = *(char **const *)field;
            int n = *(const int *)((const char *)cfg + k->count_offset);
            for (int i = 0; i < n; i++) sd_buf_appendf(out, "%s%s", i ? ", " : "", list[i]);
            break;
        }
    }
}

void pipe_config_format(const pipe_config *cfg, sd_buf *out) {
    for (int s = 0; s < PC_NSECTIONS; s++) {
        const char *sec = pc_sections[s];
        sd_buf_appendf(out, "%s[%s]\n", s ? "\n" : "", sec);
        if (strcmp(sec, "derive") == 0)
            for (int i = 0; i < cfg->nderive; i++)
                sd_buf_appendf(out, "%s = %s\n", cfg->derive[i].name, cfg->derive[i].value);
        for (int i = 0; i < PC_NKEYS; i++) {
            if (strcmp(pc_keys[i].section, sec) != 0) continue;
            sd_buf_appendf(out, "%s = ", pc_keys[i].key);
            pc_format_value(cfg, &pc_keys[i], out);
            sd_buf_append_byte(out, '\n');
        }
        if (strcmp(sec, "source") == 0)
            for (int i = 0; i < cfg->nkafka; i++)
                sd_buf_appendf(out, "kafka.%s = %s\n", cfg->kafka[i].name, cfg->kafka[i].value);
    }
}

void pipe_config_help(sd_buf *out) {
    static const char *kind_names[] = {"string", "integer", "boolean", "duration",
                                       "choice", "list",    "size"};
    const char *section = "";
    for (int i = 0; i < PC_NKEYS; i++) {
        const pc_key *k = &pc_keys[i];
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            sd_buf_appendf(out, "[%s]\n", section);
        }
        sd_buf_appendf(out, "  %-24s %-8s %s (default: %s)\n", k->key, kind_names[k->kind], k->help,
                       k->def[0] ? k->def : "empty");
        if (strcmp(k->section, "source") == 0 && strcmp(k->key, "starting_offsets") == 0)
            sd_buf_appendf(out, "  %-24s %-8s %s\n", "kafka.<property>", "string",
                           "passed through to librdkafka (e.g. kafka.security.protocol = SSL)");
    }
    sd_buf_appendf(out, "[derive]\n  %-24s %-8s %s\n", "<column>", "expr",
                   "derived column = expression (see the expression language); defaults: "
                   "is_approved = rating >= 7, rating_date = to_date(rating_timestamp)");
}

/* ------------------------------------------------------------------------ */
/* Derived columns: the configuration checked against an input schema       */
/* ------------------------------------------------------------------------ */

void pipe_derive_free(pipe_derive_plan *plan) {
    if (plan == NULL) return;
    for (int k = 0; k < plan->nderive; k++) pipe_expr_free(plan->exprs[k]);
    free(plan->exprs);
    if (plan->extended) sd_schema_free(plan->extended);
    if (plan->output) sd_schema_free(plan->output);
    free(plan->source);
    free(plan);
}

static void pc_column_list(const sd_schema *s, sd_buf *out) {
    for (int i = 0; i < s->nchildren; i++)
        sd_buf_appendf(out, "%s%s", i ? ", " : "", s->children[i].name);
}

/* Compile the derived expressions in order; each sees the columns before. */
static sd_status pc_compile_derive(const pipe_config *cfg, pipe_derive_plan *plan, sd_error *err) {
    for (int k = 0; k < cfg->nderive; k++) {
        const pipe_config_pair *d = &cfg->derive[k];
        pc_origin o = {cfg->file, d->line};
        char where[512];
        pc_where(&o, "derive", d->name, where, sizeof(where));
        if (sd_schema_find(plan->extended, d->name) >= 0)
            return sd_error_set(err, SD_ERR_ARG,
                                "%s: derived column '%s' has the name of an existing column", where,
                                d->name);
        pipe_expr *e = pipe_expr_parse(d->value, plan->extended, err);
        if (e == NULL) {
            sd_error_prefix(err, "%s: ", where);
            return SD_ERR_ARG;
        }
        plan->exprs[plan->nderive++] = e;
        sd_field *f = sd_type_add_field(plan->extended, d->name, e->type.kind, true);
        f->type.precision = e->type.precision;
        f->type.scale = e->type.scale;
    }
    return SD_OK;
}

/* The output schema: [columns] order, or every extended column. */
static sd_status pc_compile_output(const pipe_config *cfg, pipe_derive_plan *plan, sd_error *err) {
    const sd_schema *ext = plan->extended;
    int n = cfg->norder > 0 ? cfg->norder : ext->nchildren;
    plan->output = sd_schema_new();
    plan->source = sd_xcalloc((size_t)(n ? n : 1), sizeof(int));
    for (int i = 0; i < n; i++) {
        int src = cfg->norder > 0 ? sd_schema_find(ext, cfg->order[i]) : i;
        if (src < 0) {
            pc_origin o = {cfg->file, cfg->line[pc_find_key("columns", "order")]};
            char where[512];
            pc_where(&o, "columns", "order", where, sizeof(where));
            sd_buf cols = SD_BUF_INIT;
            pc_column_list(ext, &cols);
            sd_error_set(err, SD_ERR_ARG, "%s: unknown column '%s' (input and derived columns: %s)",
                         where, cfg->order[i], cols.len ? sd_buf_cstr(&cols) : "none");
            sd_buf_free(&cols);
            return SD_ERR_ARG;
        }
        plan->source[i] = src;
        const sd_field *f = &ext->children[src];
        sd_field *g = sd_type_add_field(plan->output, f->name, f->type.kind, f->nullable);
        sd_type_copy(&g->type, &f->type);
    }
    const char *keys[] = {"key", "partition_by", "order_by"};
    for (int m = 0; m < 3; m++) {
        int idx = pc_find_key("sink", keys[m]);
        const char *col = *(char *const *)((const char *)cfg + pc_keys[idx].offset);
        if (col[0] == '\0' || sd_schema_find(plan->output, col) >= 0) continue;
        pc_origin o = {cfg->file, cfg->line[idx]};
        char where[512];
        pc_where(&o, "sink", keys[m], where, sizeof(where));
        sd_buf cols = SD_BUF_INIT;
        pc_column_list(plan->output, &cols);
        sd_error_set(err, SD_ERR_ARG, "%s: column '%s' is not in the output (columns: %s)", where,
                     col, cols.len ? sd_buf_cstr(&cols) : "none");
        sd_buf_free(&cols);
        return SD_ERR_ARG;
    }
    return SD_OK;
}

sd_status pipe_derive_compile(const pipe_config *cfg, const sd_schema *input,
                              pipe_derive_plan **out, sd_error *err) {
    *out = NULL;
    pipe_derive_plan *plan = sd_xcalloc(1, sizeof(*plan));
    plan->ninput = input->nchildren;
    plan->extended = sd_xcalloc(1, sizeof(sd_schema));
    sd_type_copy(plan->extended, input);
    plan->exprs = sd_xcalloc((size_t)(cfg->nderive ? cfg->nderive : 1), sizeof(pipe_expr *));
    sd_status st = pc_compile_derive(cfg, plan, err);
    if (st == SD_OK) st = pc_compile_output(cfg, plan, err);
    if (st != SD_OK) {
        pipe_derive_free(plan);
        return st;
    }
    *out = plan;
    return SD_OK;
}
