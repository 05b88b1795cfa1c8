/*
 * pipe_progress.c - what a micro-batch did, for people and for machines.
 *
 * The human line goes to stderr once per batch; the JSON line follows the
 * field names of Spark's StreamingQueryProgress (what the replaced job's
 * dashboards parsed: batchId, numInputRows, inputRowsPerSecond,
 * processedRowsPerSecond, durationMs, sources[].startOffset/endOffset,
 * sink) and adds our own counts under "streamdelta". Offsets are written as
 * Spark's Kafka source writes them: {"topic":{"partition":offset}}.
 */
#include <string.h>
#include <time.h>

#include "pipeline.h"

/* "2026-01-02T03:04:05.678Z", Spark's progress timestamp format. */
static void pp_iso_time(int64_t ms, sd_buf *out) {
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    sd_buf_appendf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* A rate as JSON: finite, one decimal is all a dashboard needs. */
static void pp_rate(double v, sd_buf *out) {
    if (!(v >= 0) || v > 1e15) v = 0;
    sd_buf_appendf(out, "%.1f", v);
}

static void pp_offsets(const pipe_progress *p, const int64_t *offsets, sd_buf *out) {
    sd_buf_append_byte(out, '{');
    sd_json_append_string(out, p->topic ? p->topic : "", p->topic ? strlen(p->topic) : 0);
    sd_buf_append_str(out, ":{");
    for (int i = 0; i < p->npartitions; i++)
        sd_buf_appendf(out, "%s\"%d\":%lld", i ? "," : "", p->partitions[i], (long long)offsets[i]);
    sd_buf_append_str(out, "}}");
}

void pipe_progress_format_json(const pipe_progress *p, sd_buf *out) {
    const char *topic = p->topic ? p->topic : "";
    const char *table = p->table ? p->table : "";
    sd_buf_append_str(out, "{\"id\":");
    sd_json_append_string(out, table, strlen(table));
    sd_buf_append_str(out, ",\"runId\":");
    sd_json_append_string(out, p->run_id, strlen(p->run_id));
    sd_buf_append_str(out, ",\"name\":");
    sd_json_append_string(out, topic, strlen(topic));
    sd_buf_append_str(out, ",\"timestamp\":\"");
    pp_iso_time(p->timestamp_ms, out);
    sd_buf_appendf(out, "\",\"batchId\":%lld,\"numInputRows\":%lld,\"inputRowsPerSecond\":",
                   (long long)p->batch_id, (long long)p->input_rows);
    pp_rate(p->input_rows_per_s, out);
    sd_buf_append_str(out, ",\"processedRowsPerSecond\":");
    pp_rate(p->processed_rows_per_s, out);
    sd_buf_appendf(out,
                   ",\"durationMs\":{\"getBatch\":%lld,\"decode\":%lld,\"transform\":%lld,"
                   "\"deadLetters\":%lld,\"addBatch\":%lld,\"merge\":%lld,\"write\":%lld,"
                   "\"commit\":%lld,\"triggerExecution\":%lld}",
                   (long long)p->fetch_ms, (long long)p->decode_ms, (long long)p->transform_ms,
                   (long long)p->dead_letter_ms, (long long)p->merge_ms,
                   (long long)p->merge_plan_ms, (long long)p->merge_write_ms,
                   (long long)p->merge_commit_ms, (long long)p->total_ms);
    sd_buf_append_str(out, ",\"stateOperators\":[],\"sources\":[{\"description\":");
    char desc[600];
    const char *kind = p->source_kind ? p->source_kind : "Assign";
    if (strcmp(kind, "AvroFile") == 0)
        snprintf(desc, sizeof desc, "AvroFile[%s]", topic);
    else
        snprintf(desc, sizeof desc, "KafkaV2[%s[%s]]", kind, topic);
    sd_json_append_string(out, desc, strlen(desc));
    sd_buf_append_str(out, ",\"startOffset\":");
    pp_offsets(p, p->start_offsets, out);
    sd_buf_append_str(out, ",\"endOffset\":");
    pp_offsets(p, p->end_offsets, out);
    sd_buf_appendf(out, ",\"numInputRows\":%lld,\"inputRowsPerSecond\":", (long long)p->input_rows);
    pp_rate(p->input_rows_per_s, out);
    sd_buf_append_str(out, ",\"processedRowsPerSecond\":");
    pp_rate(p->processed_rows_per_s, out);
    sd_buf_append_str(out, "}],\"sink\":{\"description\":");
    snprintf(desc, sizeof desc, "DeltaSink[%s]", table);
    sd_json_append_string(out, desc, strlen(desc));
    sd_buf_appendf(out, ",\"numOutputRows\":%lld}", (long long)p->output_rows);
    sd_buf_appendf(out,
                   ",\"streamdelta\":{\"deadLettered\":%lld,\"late\":%lld,\"duplicates\":%lld,"
                   "\"inserted\":%lld,\"updated\":%lld,\"unchanged\":%lld,\"filesAdded\":%lld,"
                   "\"filesRemoved\":%lld,\"bytesAdded\":%lld,\"tableVersion\":%lld,",
                   (long long)p->dead_lettered, (long long)p->late, (long long)p->deduplicated,
                   (long long)p->inserted, (long long)p->updated, (long long)p->unchanged,
                   (long long)p->files_added, (long long)p->files_removed,
                   (long long)p->bytes_added, (long long)p->table_version);
    /* Auto-compaction after the commit: files it compacted and its commit. */
    sd_buf_appendf(out,
                   "\"autoCompact\":{\"filesRemoved\":%lld,\"filesAdded\":%lld,"
                   "\"version\":%lld,\"durationMs\":%lld}}}",
                   (long long)p->compact_files_removed, (long long)p->compact_files_added,
                   (long long)(p->compact_files_removed > 0 ? p->compact_version : -1),
                   (long long)p->compact_ms);
}

void pipe_progress_format_human(const pipe_progress *p, sd_buf *out) {
    sd_buf_appendf(out, "batch %lld: %lld rows (%.0f/s in, %.0f/s processed)",
                   (long long)p->batch_id, (long long)p->input_rows, p->input_rows_per_s,
                   p->processed_rows_per_s);
    sd_buf_appendf(out,
                   " | fetch %lld decode %lld transform %lld dlq %lld merge %lld write %lld commit "
                   "%lld ms",
                   (long long)p->fetch_ms, (long long)p->decode_ms, (long long)p->transform_ms,
                   (long long)p->dead_letter_ms, (long long)p->merge_plan_ms,
                   (long long)p->merge_write_ms, (long long)p->merge_commit_ms);
    sd_buf_appendf(out, " | late %lld dup %lld upd %lld ins %lld same %lld dlq %lld",
                   (long long)p->late, (long long)p->deduplicated, (long long)p->updated,
                   (long long)p->inserted, (long long)p->unchanged, (long long)p->dead_lettered);
    if (p->table_version >= 0)
        sd_buf_appendf(out, " | v%lld", (long long)p->table_version);
    else
        sd_buf_append_str(out, " | no commit");
    if (p->compact_files_removed > 0)
        sd_buf_appendf(out, " | compacted %lld -> %lld files v%lld %lld ms",
                       (long long)p->compact_files_removed, (long long)p->compact_files_added,
                       (long long)p->compact_version, (long long)p->compact_ms);
    /* Offsets: all of them when few, else a count (a line must stay a line). */
    if (p->npartitions > 0 && p->npartitions <= 8) {
        sd_buf_append_str(out, " | next");
        for (int i = 0; i < p->npartitions; i++)
            sd_buf_appendf(out, " %d:%lld", p->partitions[i], (long long)p->end_offsets[i]);
    } else if (p->npartitions > 8) {
        sd_buf_appendf(out, " | %d partitions", p->npartitions);
    }
}
