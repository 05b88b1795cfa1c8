/*
 * delta_bench.c - our side of the Delta benchmark (bench/run.sh, section
 * "delta"): builds the benchmark tables and times the snapshot load.
 *
 *   delta_bench gen-log TABLE COMMITS FILES   a table whose log has COMMITS
 *                                             commits adding FILES live files
 *   delta_bench load TABLE [RUNS]             time delta_snapshot_load
 *                                             (best of RUNS, default 3)
 *   delta_bench checkpoint TABLE              write a checkpoint at the
 *                                             latest version
 *   delta_bench gen-rows TABLE ROWS           a table of ROWS movie-rating
 *                                             rows in files of 1M rows
 *
 * gen-log must be fast for 10,000 commits: going through
 * delta_transaction_commit would reload the snapshot for every commit
 * (quadratic), so after delta_table_create() writes version 0 the commits
 * 1..COMMITS are written directly as the log's JSON lines (add actions
 * rendered by delta_action_format, plus a commitInfo). Every add points at
 * a real Parquet file: one small file (16 rows) is written by our writer
 * and its bytes copied under each name, so readers that open the live
 * files (DuckDB's replay, show) find real data.
 *
 * Output lines (one per command, parsed by bench/run.sh):
 *   "gen-log COMMITS FILES SECONDS", "load FILES SECONDS VERSION",
 *   "checkpoint VERSION SECONDS", "gen-rows ROWS FILES SECONDS".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta/delta.h"
#include "parquet/parquet.h"
#include "bench_common.h"

/* Rows of the template data file of gen-log: small, but real rows. */
#define BENCH_TEMPLATE_ROWS 16
/* Rows per data file and per write call of gen-rows. */
#define BENCH_ROWS_PER_FILE 1000000L
#define BENCH_ROWS_PER_BATCH 65536L
/* Movie-ratings value ranges (as pq_bench): 200k users, 20k movies,
 * timestamps within 30 days from a fixed start (2026-11-01 UTC, seconds). */
#define BENCH_USERS 200000u
#define BENCH_MOVIES 20000u
#define BENCH_TS_START 1793491200LL
#define BENCH_TS_SPAN (30LL * 86400)

static double bench_secs_since(int64_t t0_ns) {
    return (double)(sd_now_ns() - t0_ns) / 1e9;
}

/* Report a failed command; the message already names the file. */
static int bench_fail(const char *cmd, const sd_error *err) {
    fprintf(stderr, "delta_bench %s: %s\n", cmd, err->msg);
    return 1;
}

/* Replace the rows of `b` with `rows` pseudo-random movie ratings. Users
 * and movies are UUIDs derived from their number, so they repeat. */
static void bench_fill(sd_batch *b, long rows, bench_rng *rng) {
    sd_batch_reset(b);
    char id[SD_UUID_TEXT_SIZE];
    for (long r = 0; r < rows; r++) {
        sd_uuid_from_words(bench_next(rng), bench_next(rng), id);
        sd_column_append_bytes(&b->cols[0], id, 36);
        uint64_t u = bench_next(rng) % BENCH_USERS, m = bench_next(rng) % BENCH_MOVIES;
        sd_uuid_from_words(u * 0x9E3779B97F4A7C15ull, u + 1, id);
        sd_column_append_bytes(&b->cols[1], id, 36);
        sd_uuid_from_words(m * 0xC2B2AE3D27D4EB4Full, m + 7, id);
        sd_column_append_bytes(&b->cols[2], id, 36);
        int tenths = (int)(bench_next(rng) % 101);
        sd_column_append_float(&b->cols[3], (float)tenths / 10.0f);
        sd_column_append_bool(&b->cols[4], tenths >= 70);
        int64_t ts = BENCH_TS_START + (int64_t)(bench_next(rng) % (uint64_t)BENCH_TS_SPAN);
        sd_column_append_i64(&b->cols[5], ts);
        sd_column_append_i32(&b->cols[6], (int32_t)(ts / 86400));
        b->nrows++;
    }
}

static sd_status bench_create_table(const char *table, const sd_schema *schema, sd_error *err) {
    delta_map conf = {0};
    return delta_table_create(table, schema, NULL, 0, &conf, err);
}

/* ------------------------------------------------------------------------ */
/* gen-log                                                                   */
/* ------------------------------------------------------------------------ */

/* Write `n` bytes to a new file `path` (which must not exist). */
static sd_status bench_write_new(const char *path, const void *p, size_t n, sd_error *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return sd_error_set(err, SD_ERR_IO, "%s: %s", path, strerror(errno));
    const uint8_t *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            return sd_error_set(err, SD_ERR_IO, "%s: %s", path, strerror(e));
        }
        c += w;
        n -= (size_t)w;
    }
    if (close(fd) != 0) return sd_error_set(err, SD_ERR_IO, "%s: %s", path, strerror(errno));
    return SD_OK;
}

/* Read the whole (small) file `path` into `out`. */
static sd_status bench_read_all(const char *path, sd_buf *out, sd_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return sd_error_set(err, SD_ERR_IO, "%s: %s", path, strerror(errno));
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) sd_buf_append(out, chunk, n);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad) return sd_error_set(err, SD_ERR_IO, "%s: read error", path);
    return SD_OK;
}

/* The template data file: written once by our writer, then its bytes and
 * add.stats are shared by every add of the log. */
typedef struct bench_template {
    sd_buf bytes;
    sd_buf stats;
} bench_template;

static sd_status bench_template_make(const char *table, const sd_schema *schema, bench_template *t,
                                     sd_error *err) {
    sd_batch b;
    sd_batch_init(&b, schema);
    bench_rng rng = {0x2545F4914F6CDD1Dull};
    bench_fill(&b, BENCH_TEMPLATE_ROWS, &rng);
    pq_writer_options o;
    pq_writer_options_init(&o);
    char *path = sd_xasprintf("%s/template.parquet.tmp", table);
    pq_file_summary sum = {0};
    sd_status st = pq_write_file(path, &b, &o, &sum, err);
    if (st == SD_OK) {
        delta_stats_from_summary(&sum, &t->stats);
        st = bench_read_all(path, &t->bytes, err);
        pq_file_summary_free(&sum);
    }
    unlink(path);
    free(path);
    sd_batch_free(&b);
    return st;
}

/* Append commit `version`'s lines: adds of files [first, first + n). */
static void bench_commit_text(bench_template *t, int64_t now_ms, long first, long n, sd_buf *out) {
    sd_buf_reset(out);
    delta_action a = {.kind = DELTA_ACTION_COMMIT_INFO};
    char info[160];
    snprintf(info, sizeof(info),
             "{\"timestamp\":%lld,\"operation\":\"WRITE\",\"operationParameters\":"
             "{\"mode\":\"Append\"},\"isBlindAppend\":true}",
             (long long)now_ms);
    a.u.commit_info.json = info;
    a.u.commit_info.timestamp = now_ms;
    a.u.commit_info.in_commit_timestamp = -1;
    delta_action_format(&a, out);
    sd_buf_append_byte(out, '\n');
    for (long i = first; i < first + n; i++) {
        char rel[48];
        snprintf(rel, sizeof(rel), "part-%08ld-bench.snappy.parquet", i);
        delta_action add = {.kind = DELTA_ACTION_ADD};
        add.u.add.path = rel;
        add.u.add.size = (int64_t)t->bytes.len;
        add.u.add.modification_time = now_ms;
        add.u.add.data_change = true;
        add.u.add.stats = sd_buf_cstr(&t->stats);
        add.u.add.base_row_id = -1;
        add.u.add.default_row_commit_version = -1;
        delta_action_format(&add, out);
        sd_buf_append_byte(out, '\n');
    }
}

static int bench_gen_log(const char *table, long commits, long files) {
    int64_t t0 = sd_now_ns();
    sd_error err = {0};
    sd_schema *schema = bench_movie_schema();
    bench_template t = {SD_BUF_INIT, SD_BUF_INIT};
    sd_buf text = SD_BUF_INIT;
    int rc = 0;
    if (bench_create_table(table, schema, &err) != SD_OK ||
        bench_template_make(table, schema, &t, &err) != SD_OK) {
        rc = bench_fail("gen-log", &err);
        goto done;
    }
    int64_t now_ms = sd_now_ms();
    long next_file = 0;
    for (long v = 1; v <= commits && rc == 0; v++) {
        /* Spread the files evenly: commit v adds files up to v*files/commits. */
        long upto = (long)((__int128)files * v / commits);
        long n = upto - next_file;
        for (long i = next_file; i < upto && rc == 0; i++) {
            char *path = sd_xasprintf("%s/part-%08ld-bench.snappy.parquet", table, i);
            if (bench_write_new(path, t.bytes.data, t.bytes.len, &err) != SD_OK)
                rc = bench_fail("gen-log", &err);
            free(path);
        }
        if (rc != 0) break;
        bench_commit_text(&t, now_ms, next_file, n, &text);
        char *path = sd_xasprintf("%s/_delta_log/%020ld.json", table, v);
        if (bench_write_new(path, text.data, text.len, &err) != SD_OK)
            rc = bench_fail("gen-log", &err);
        free(path);
        next_file = upto;
    }
    if (rc == 0) printf("gen-log %ld %ld %.3f\n", commits, files, bench_secs_since(t0));
done:
    sd_buf_free(&text);
    sd_buf_free(&t.bytes);
    sd_buf_free(&t.stats);
    sd_schema_free(schema);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* load, checkpoint                                                          */
/* ------------------------------------------------------------------------ */

static int bench_load(const char *table, int runs) {
    sd_error err = {0};
    double best = -1;
    size_t nfiles = 0;
    int64_t version = -1;
    for (int r = 0; r < runs; r++) {
        int64_t t0 = sd_now_ns();
        delta_snapshot *s = NULL;
        if (delta_snapshot_load(table, -1, &s, &err) != SD_OK) return bench_fail("load", &err);
        double secs = bench_secs_since(t0);
        nfiles = delta_snapshot_num_files(s);
        version = delta_snapshot_version(s);
        delta_snapshot_free(s);
        if (best < 0 || secs < best) best = secs;
    }
    printf("load %zu %.3f %lld\n", nfiles, best, (long long)version);
    return 0;
}

static int bench_checkpoint(const char *table) {
    sd_error err = {0};
    delta_snapshot *s = NULL;
    if (delta_snapshot_load(table, -1, &s, &err) != SD_OK) return bench_fail("checkpoint", &err);
    int64_t t0 = sd_now_ns();
    int rc = 0;
    if (delta_checkpoint_write(s, &err) != SD_OK)
        rc = bench_fail("checkpoint", &err);
    else
        printf("checkpoint %lld %.3f\n", (long long)delta_snapshot_version(s),
               bench_secs_since(t0));
    delta_snapshot_free(s);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* gen-rows                                                                  */
/* ------------------------------------------------------------------------ */

/* Write data file `index` of `rows` rows and stage its add in `t`. */
static sd_status bench_rows_file(const char *table, long index, long rows, sd_batch *b,
                                 bench_rng *rng, delta_transaction *t, sd_error *err) {
    char rel[48];
    snprintf(rel, sizeof(rel), "part-%05ld-rows.snappy.parquet", index);
    char *path = sd_xasprintf("%s/%s", table, rel);
    pq_writer_options o;
    pq_writer_options_init(&o);
    pq_writer *w = pq_writer_open(path, b->schema, &o, err);
    free(path);
    if (!w) return err->code;
    for (long done = 0; done < rows;) {
        long n = rows - done < BENCH_ROWS_PER_BATCH ? rows - done : BENCH_ROWS_PER_BATCH;
        bench_fill(b, n, rng);
        if (pq_writer_write(w, b, err) != SD_OK) {
            pq_writer_abort(w);
            return err->code;
        }
        done += n;
    }
    pq_file_summary sum = {0};
    if (pq_writer_close(w, &sum, err) != SD_OK) return err->code;
    delta_transaction_add_written(t, rel, NULL, &sum, true);
    pq_file_summary_free(&sum);
    return SD_OK;
}

static int bench_gen_rows(const char *table, long rows) {
    int64_t t0 = sd_now_ns();
    sd_error err = {0};
    sd_schema *schema = bench_movie_schema();
    if (bench_create_table(table, schema, &err) != SD_OK) {
        sd_schema_free(schema);
        return bench_fail("gen-rows", &err);
    }
    delta_snapshot *s = NULL;
    if (delta_snapshot_load(table, -1, &s, &err) != SD_OK) {
        sd_schema_free(schema);
        return bench_fail("gen-rows", &err);
    }
    delta_transaction *t = delta_transaction_begin(s, "WRITE");
    sd_batch b;
    sd_batch_init(&b, schema);
    bench_rng rng = {0x9E3779B97F4A7C15ull};
    long nfiles = 0;
    int rc = 0;
    for (long done = 0; done < rows && rc == 0; nfiles++) {
        long n = rows - done < BENCH_ROWS_PER_FILE ? rows - done : BENCH_ROWS_PER_FILE;
        if (bench_rows_file(table, nfiles, n, &b, &rng, t, &err) != SD_OK)
            rc = bench_fail("gen-rows", &err);
        done += n;
    }
    if (rc == 0 && delta_transaction_commit(t, 0, NULL, &err) != SD_OK)
        rc = bench_fail("gen-rows", &err);
    if (rc == 0) printf("gen-rows %ld %ld %.3f\n", rows, nfiles, bench_secs_since(t0));
    delta_transaction_free(t);
    delta_snapshot_free(s);
    sd_batch_free(&b);
    sd_schema_free(schema);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

static int bench_usage(void) {
    fprintf(stderr, "usage: delta_bench gen-log TABLE COMMITS FILES\n"
                    "       delta_bench load TABLE [RUNS]\n"
                    "       delta_bench checkpoint TABLE\n"
                    "       delta_bench gen-rows TABLE ROWS\n");
    return 2;
}

/* A positive count argument, or -1. */
static long bench_count(const char *text) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 1) return -1;
    return v;
}

int main(int argc, char **argv) {
    if (argc < 3) return bench_usage();
    const char *cmd = argv[1], *table = argv[2];
    if (strcmp(cmd, "gen-log") == 0 && argc == 5) {
        long commits = bench_count(argv[3]), files = bench_count(argv[4]);
        if (commits < 1 || files < 1) {
            fprintf(stderr, "delta_bench: COMMITS and FILES must be positive counts\n");
            return 2;
        }
        return bench_gen_log(table, commits, files);
    }
    if (strcmp(cmd, "load") == 0 && (argc == 3 || argc == 4)) {
        long runs = argc == 4 ? bench_count(argv[3]) : 3;
        if (runs < 1) {
            fprintf(stderr, "delta_bench: RUNS must be a positive count\n");
            return 2;
        }
        return bench_load(table, (int)runs);
    }
    if (strcmp(cmd, "checkpoint") == 0 && argc == 3) return bench_checkpoint(table);
    if (strcmp(cmd, "gen-rows") == 0 && argc == 4) {
        long rows = bench_count(argv[3]);
        if (rows < 1) {
            fprintf(stderr, "delta_bench: ROWS must be a positive count\n");
            return 2;
        }
        return bench_gen_rows(table, rows);
    }
    return bench_usage();
}
