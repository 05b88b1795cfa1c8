/*
 * test_pipe_config.c - the pipeline's INI configuration (pipe_config.c):
 * built-in defaults equal DESIGN.md's movie-ratings pipeline, files with
 * comments, command-line overrides, the printed configuration reading back
 * to itself, and every validation error naming file:line and the key.
 */
#include <stdlib.h>

#include "pipeline/pipeline.h"
#include "unit.h"

static const char *write_file(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", unit_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) return path;
    fputs(text, f);
    fclose(f);
    return path;
}

/* Parse `text` (as file "cfg.ini") over the defaults; the error message,
 * or "ok". */
static const char *parse_msg(const char *text) {
    static char msg[SD_ERROR_MSG_MAX];
    pipe_config cfg;
    pipe_config_init(&cfg);
    sd_error err = {0};
    sd_status st = pipe_config_parse(&cfg, text, strlen(text), "cfg.ini", &err);
    snprintf(msg, sizeof(msg), "%s", st == SD_OK ? "ok" : err.msg);
    if (st != SD_OK && st != SD_ERR_ARG) snprintf(msg, sizeof(msg), "wrong status %d", st);
    pipe_config_free(&cfg);
    return msg;
}

TEST(pipe_config_defaults_are_the_movie_pipeline) {
    pipe_config cfg;
    pipe_config_init(&cfg);
    CHECK_STR(cfg.topic, "movie.ratings.v1");
    CHECK_STR(cfg.bootstrap_servers, "localhost:9092");
    CHECK_STR(cfg.schema_registry, "http://localhost:8081");
    CHECK_STR(cfg.subject, "");
    CHECK_INT(cfg.starting_offsets, PIPE_START_EARLIEST);
    CHECK_INT(cfg.nkafka, 0);
    CHECK_STR(cfg.table, "./tables/movie_ratings");
    CHECK_STR(cfg.key, "event_id");
    CHECK_STR(cfg.partition_by, "rating_date");
    CHECK_STR(cfg.order_by, "rating_timestamp");
    CHECK_INT(cfg.late_days, 5);
    CHECK(!cfg.deletion_vectors);
    CHECK_INT(cfg.nderive, 2);
    if (cfg.nderive == 2) {
        CHECK_STR(cfg.derive[0].name, "is_approved");
        CHECK_STR(cfg.derive[0].value, "rating >= 7");
        CHECK_STR(cfg.derive[1].name, "rating_date");
        CHECK_STR(cfg.derive[1].value, "to_date(rating_timestamp)");
    }
    const char *order[] = {"event_id",    "user_id",          "movie_id",   "rating",
                           "is_approved", "rating_timestamp", "rating_date"};
    CHECK_INT(cfg.norder, 7);
    for (int i = 0; i < 7 && i < cfg.norder; i++) CHECK_STR(cfg.order[i], order[i]);
    CHECK_INT(cfg.trigger, PIPE_TRIGGER_FAST);
    CHECK_INT(cfg.interval_ms, 10000);
    CHECK_INT(cfg.max_batch_records, 100000);
    CHECK_INT(cfg.max_batch_wait_ms, 500);
    CHECK_INT(cfg.dead_letter, PIPE_DLQ_FILE);
    CHECK_STR(cfg.dead_letter_path, "./dead-letters.jsonl");
    CHECK_STR(cfg.dead_letter_topic, "movie.ratings.v1.dlq");
    CHECK_STR(cfg.progress_json, "");
    sd_error err = {0};
    CHECK_OK(pipe_config_validate(&cfg, &err), &err);
    pipe_config_free(&cfg);
}

TEST(pipe_config_format_defaults) {
    pipe_config cfg;
    pipe_config_init(&cfg);
    sd_buf out = SD_BUF_INIT;
    pipe_config_format(&cfg, &out);
    CHECK_STR(sd_buf_cstr(&out), "[source]\n"
                                 "topic = movie.ratings.v1\n"
                                 "bootstrap_servers = localhost:9092\n"
                                 "schema_registry = http://localhost:8081\n"
                                 "subject = \n"
                                 "starting_offsets = earliest\n"
                                 "\n[sink]\n"
                                 "table = ./tables/movie_ratings\n"
                                 "key = event_id\n"
                                 "partition_by = rating_date\n"
                                 "order_by = rating_timestamp\n"
                                 "late_days = 5\n"
                                 "deletion_vectors = false\n"
                                 "auto_compact = table\n"
                                 "auto_compact_min_files = 50\n"
                                 "auto_compact_target_size = 128MB\n"
                                 "auto_compact_max_bytes = 128MB\n"
                                 "\n[derive]\n"
                                 "is_approved = rating >= 7\n"
                                 "rating_date = to_date(rating_timestamp)\n"
                                 "\n[columns]\n"
                                 "order = event_id, user_id, movie_id, rating, is_approved, "
                                 "rating_timestamp, rating_date\n"
                                 "\n[trigger]\n"
                                 "mode = fast\n"
                                 "interval = 10s\n"
                                 "max_batch_records = 100000\n"
                                 "max_batch_wait = 500ms\n"
                                 "give_up_after = 0s\n"
                                 "\n[dead_letter]\n"
                                 "mode = file\n"
                                 "path = ./dead-letters.jsonl\n"
                                 "topic = movie.ratings.v1.dlq\n"
                                 "\n[progress]\n"
                                 "json = \n");
    sd_buf_free(&out);
    pipe_config_free(&cfg);
}

static const char *sample_ini = "; streamdelta pipeline\n"
                                "# another comment style\n"
                                "\n"
                                "[source]\r\n"
                                "topic = shop.orders.v2        ; inline comment\n"
                                "bootstrap_servers=broker1:9092,broker2:9092   # hash comment\n"
                                "starting_offsets = LATEST\n"
                                "kafka.security.protocol = SASL_SSL\n"
                                "kafka.sasl.mechanism = PLAIN\n"
                                "  [ sink ]  \n"
                                "table = /data/orders\n"
                                "key = order_id\n"
                                "partition_by = order_date\n"
                                "order_by = updated_at\n"
                                "late_days = 30\n"
                                "deletion_vectors = yes\n"
                                "[derive]\n"
                                "order_date = to_date(updated_at)\n"
                                "note = coalesce(comment, 'n/a ; #1')   ; quotes protect ; and #\n"
                                "[columns]\n"
                                "order = order_id, amount, updated_at, order_date, note\n"
                                "[trigger]\n"
                                "mode = interval\n"
                                "interval = 5m\n"
                                "max_batch_records = 5000\n"
                                "max_batch_wait = 2s\n"
                                "[dead_letter]\n"
                                "mode = topic\n"
                                "topic = shop.orders.dlq\n"
                                "[progress]\n"
                                "json = -\n";

TEST(pipe_config_load_file) {
    const char *path = write_file("pipeline.ini", sample_ini);
    pipe_config cfg;
    pipe_config_init(&cfg);
    sd_error err = {0};
    CHECK_OK(pipe_config_load(&cfg, path, &err), &err);
    CHECK_STR(cfg.topic, "shop.orders.v2");
    CHECK_STR(cfg.bootstrap_servers, "broker1:9092,broker2:9092");
    CHECK_STR(cfg.schema_registry, "http://localhost:8081"); /* default kept */
    CHECK_INT(cfg.starting_offsets, PIPE_START_LATEST);
    CHECK_INT(cfg.nkafka, 2);
    if (cfg.nkafka == 2) {
        CHECK_STR(cfg.kafka[0].name, "security.protocol");
        CHECK_STR(cfg.kafka[0].value, "SASL_SSL");
        CHECK_INT(cfg.kafka[0].line, 8);
        CHECK_STR(cfg.kafka[1].name, "sasl.mechanism");
    }
    CHECK_STR(cfg.table, "/data/orders");
    CHECK_STR(cfg.key, "order_id");
    CHECK_INT(cfg.late_days, 30);
    CHECK(cfg.deletion_vectors);
    CHECK_INT(cfg.nderive, 2); /* the file's [derive] replaced the built-in ones */
    if (cfg.nderive == 2) {
        CHECK_STR(cfg.derive[0].name, "order_date");
        CHECK_STR(cfg.derive[1].value, "coalesce(comment, 'n/a ; #1')");
        CHECK_INT(cfg.derive[1].line, 19);
    }
    CHECK_INT(cfg.norder, 5);
    CHECK_INT(cfg.trigger, PIPE_TRIGGER_INTERVAL);
    CHECK_INT(cfg.interval_ms, 300000);
    CHECK_INT(cfg.max_batch_records, 5000);
    CHECK_INT(cfg.max_batch_wait_ms, 2000);
    CHECK_INT(cfg.dead_letter, PIPE_DLQ_TOPIC);
    CHECK_STR(cfg.dead_letter_topic, "shop.orders.dlq");
    CHECK_STR(cfg.progress_json, "-");
    CHECK_STR(cfg.file, path);
    CHECK_INT(cfg.line[0], 5); /* source.topic */

    /* The printed configuration reads back to the same configuration. */
    sd_buf once = SD_BUF_INIT, twice = SD_BUF_INIT;
    pipe_config_format(&cfg, &once);
    pipe_config again;
    pipe_config_init(&again);
    CHECK_OK(pipe_config_parse(&again, (const char *)once.data, once.len, "printed", &err), &err);
    pipe_config_format(&again, &twice);
    CHECK_STR(sd_buf_cstr(&twice), sd_buf_cstr(&once));
    sd_buf_free(&once);
    sd_buf_free(&twice);
    pipe_config_free(&again);
    pipe_config_free(&cfg);
}

TEST(pipe_config_empty_file_keeps_defaults) {
    pipe_config cfg;
    pipe_config_init(&cfg);
    sd_error err = {0};
    CHECK_OK(pipe_config_parse(&cfg, "", 0, "empty.ini", &err), &err);
    CHECK_STR(cfg.topic, "movie.ratings.v1");
    CHECK_INT(cfg.nderive, 2);
    /* an empty [derive] section means no derived columns */
    const char *text = "[derive]\n[columns]\norder =\n";
    CHECK_OK(pipe_config_parse(&cfg, text, strlen(text), "x.ini", &err), &err);
    CHECK_INT(cfg.nderive, 0);
    CHECK_INT(cfg.norder, 0);
    pipe_config_free(&cfg);
}

TEST(pipe_config_overrides) {
    pipe_config cfg;
    pipe_config_init(&cfg);
    sd_error err = {0};
    CHECK_OK(pipe_config_set(&cfg, "sink.late_days", "3", &err), &err);
    CHECK_INT(cfg.late_days, 3);
    CHECK_INT(cfg.line[9], -1);
    CHECK_OK(pipe_config_set(&cfg, "source.topic", " other.topic ", &err), &err);
    CHECK_STR(cfg.topic, "other.topic");
    CHECK_OK(pipe_config_set(&cfg, "source.kafka.security.protocol", "SSL", &err), &err);
    CHECK_INT(cfg.nkafka, 1);
    CHECK_OK(pipe_config_set(&cfg, "source.kafka.security.protocol", "PLAINTEXT", &err), &err);
    CHECK_INT(cfg.nkafka, 1);
    if (cfg.nkafka == 1) CHECK_STR(cfg.kafka[0].value, "PLAINTEXT");
    CHECK_OK(pipe_config_set(&cfg, "derive.is_approved", "rating >= 8", &err), &err);
    CHECK_STR(cfg.derive[0].value, "rating >= 8");
    CHECK_OK(pipe_config_set(&cfg, "derive.rating_date", "", &err), &err); /* removes */
    CHECK_INT(cfg.nderive, 1);
    CHECK_OK(pipe_config_set(&cfg, "derive.score", "rating * 10", &err), &err);
    CHECK_INT(cfg.nderive, 2);
    CHECK_STR(cfg.derive[1].name, "score");
    CHECK_OK(pipe_config_set(&cfg, "trigger.mode", "available-now", &err), &err);
    CHECK_INT(cfg.trigger, PIPE_TRIGGER_AVAILABLE_NOW);
    CHECK_OK(pipe_config_set(&cfg, "trigger.max_batch_wait", "1h", &err), &err);
    CHECK_INT(cfg.max_batch_wait_ms, 3600000);
    CHECK_OK(
        pipe_config_set(&cfg, "columns.order", "event_id,rating_timestamp , rating_date", &err),
        &err);
    CHECK_INT(cfg.norder, 3);
    CHECK_OK(pipe_config_validate(&cfg, &err), &err);

    CHECK_INT(pipe_config_set(&cfg, "sink.late_days", "x", &err), SD_ERR_ARG);
    CHECK_STR(err.msg, "--set sink.late_days: 'x' is not an integer");
    sd_error_clear(&err);
    CHECK_INT(pipe_config_set(&cfg, "sinklate_days", "3", &err), SD_ERR_ARG);
    CHECK_STR(err.msg, "--set sinklate_days: expected section.key=value (e.g. sink.late_days=3)");
    sd_error_clear(&err);
    CHECK_INT(pipe_config_set(&cfg, "snk.late_days", "3", &err), SD_ERR_ARG);
    CHECK_STR(err.msg,
              "--set snk.late_days: unknown section 'snk' (sections: source, sink, derive, "
              "columns, trigger, dead_letter, progress)");
    sd_error_clear(&err);
    CHECK_INT(pipe_config_set(&cfg, "sink.lateness", "3", &err), SD_ERR_ARG);
    CHECK_STR(err.msg, "--set sink.lateness: unknown key 'lateness' in [sink] (keys: table, key, "
                       "partition_by, order_by, late_days, deletion_vectors, auto_compact, "
                       "auto_compact_min_files, "
                       "auto_compact_target_size, auto_compact_max_bytes)");
    sd_error_clear(&err);
    CHECK_INT(pipe_config_set(&cfg, "progress.json", "#out", &err), SD_ERR_ARG);
    CHECK_STR(err.msg, "--set progress.json: '#out' would read back as a comment from ';' or '#' "
                       "(at the start or after a blank); quote it or remove the blank");
    sd_error_clear(&err);
    CHECK_INT(pipe_config_set(&cfg, "derive.x", "1 +\n2", &err), SD_ERR_ARG);
    CHECK_STR(err.msg, "--set derive.x: line breaks (and '=' in the name) are not allowed");
    sd_error_clear(&err);
    CHECK_OK(pipe_config_set(&cfg, "derive.label", "coalesce(s, 'a ;b')", &err), &err);
    CHECK_OK(pipe_config_set(&cfg, "sink.table", "", &err), &err);
    CHECK_INT(pipe_config_validate(&cfg, &err), SD_ERR_ARG);
    CHECK_STR(err.msg, "--set sink.table: a value is required");
    pipe_config_free(&cfg);
}

TEST(pipe_config_durations) {
    int64_t ms = -1;
    CHECK(pipe_parse_duration("500ms", &ms) && ms == 500);
    CHECK(pipe_parse_duration("10s", &ms) && ms == 10000);
    CHECK(pipe_parse_duration("5m", &ms) && ms == 300000);
    CHECK(pipe_parse_duration("1h", &ms) && ms == 3600000);
    CHECK(pipe_parse_duration("0", &ms) && ms == 0);
    CHECK(pipe_parse_duration("0s", &ms) && ms == 0);
    CHECK(!pipe_parse_duration("10", &ms));
    CHECK(!pipe_parse_duration("1d", &ms));
    CHECK(!pipe_parse_duration("-1s", &ms));
    CHECK(!pipe_parse_duration("s", &ms));
    CHECK(!pipe_parse_duration("", &ms));
    CHECK(!pipe_parse_duration("1.5s", &ms));
    CHECK(!pipe_parse_duration("10 s", &ms));
    CHECK(!pipe_parse_duration("99999999999999999999ms", &ms));
    CHECK(!pipe_parse_duration("9223372036854775807h", &ms));
}

TEST(pipe_config_errors_name_file_line_and_key) {
    CHECK_STR(parse_msg("[source]\ntopic = t\n[sources]\n"),
              "cfg.ini:3: unknown section [sources] (sections: source, sink, derive, columns, "
              "trigger, dead_letter, progress)");
    CHECK_STR(parse_msg("[source]\ntopik = t\n"),
              "cfg.ini:2: source.topik: unknown key 'topik' in [source] (keys: topic, "
              "bootstrap_servers, schema_registry, subject, starting_offsets, kafka.<property>)");
    CHECK_STR(parse_msg("[sink]\nlate_days = five\n"),
              "cfg.ini:2: sink.late_days: 'five' is not an integer");
    CHECK_STR(parse_msg("[sink]\nlate_days = -1\n"),
              "cfg.ini:2: sink.late_days: -1 is out of range [0, 100000]");
    CHECK_STR(parse_msg("[sink]\nlate_days = 99999999999999999999\n"),
              "cfg.ini:2: sink.late_days: '99999999999999999999' is not an integer");
    CHECK_STR(parse_msg("[trigger]\ninterval = 10\n"),
              "cfg.ini:2: trigger.interval: '10' is not a duration (an integer and ms, s, m or h: "
              "500ms, 10s, 5m, 1h)");
    CHECK_STR(parse_msg("[trigger]\ninterval = 25h\n"),
              "cfg.ini:2: trigger.interval: '25h' is out of range [0ms, 86400000ms]");
    CHECK_STR(parse_msg("[sink]\ndeletion_vectors = maybe\n"),
              "cfg.ini:2: sink.deletion_vectors: 'maybe' is not a boolean (true/false, yes/no, "
              "on/off, 1/0)");
    CHECK_STR(parse_msg("[trigger]\nmode = slow\n"),
              "cfg.ini:2: trigger.mode: 'slow' is not one of fast | interval | available-now");
    CHECK_STR(parse_msg("[source]\njust some words\n"),
              "cfg.ini:2: expected 'key = value' or '[section]'");
    CHECK_STR(parse_msg("[source]\n = x\n"), "cfg.ini:2: missing key before '='");
    CHECK_STR(parse_msg("topic = t\n"), "cfg.ini:1: key 'topic' before any [section]");
    CHECK_STR(parse_msg("[sink\n"), "cfg.ini:1: section header without ']'");
    CHECK_STR(parse_msg("[ ]\n"), "cfg.ini:1: bad section name");
    CHECK_STR(parse_msg("[sink]\ntable = a\ntable = b\n"),
              "cfg.ini:3: sink.table set twice (first on line 2)");
    CHECK_STR(parse_msg("[derive]\na = 1\na = 2\n"),
              "cfg.ini:3: derived column 'a' defined twice (first on line 2)");
    CHECK_STR(parse_msg("[derive]\nx =\n"),
              "cfg.ini:2: derive.x: missing expression for derived column 'x'");
    CHECK_STR(parse_msg("[source]\nkafka. = 1\n"),
              "cfg.ini:2: source.kafka.: missing librdkafka property after 'kafka.'");
    CHECK_STR(parse_msg("[source]\ntopic =\n"), "cfg.ini:2: source.topic: a value is required");
    /* a comment may follow the '=' directly (found by fuzz_expr: "k =# v"
     * printed as "k = # v" did not read back) */
    CHECK_STR(parse_msg("[derive]\nx =# y\n"),
              "cfg.ini:2: derive.x: missing expression for derived column 'x'");
    CHECK_STR(parse_msg("[source]\nschema_registry = ; none\n"),
              "cfg.ini:2: source.schema_registry: a value is required");
    CHECK_STR(parse_msg("[dead_letter]\nmode = topic\ntopic =\n"),
              "cfg.ini:3: dead_letter.topic: a value is required with dead_letter.mode = topic");
    CHECK_STR(parse_msg("[dead_letter]\npath =\n"),
              "cfg.ini:2: dead_letter.path: a value is required with dead_letter.mode = file");
    CHECK_STR(parse_msg("[dead_letter]\npath =\nmode = none\n"), "ok");
    CHECK_STR(parse_msg("[trigger]\nmode = interval\ninterval = 0\n"),
              "cfg.ini:3: trigger.interval: must be more than 0 with trigger.mode = interval");
    CHECK_STR(parse_msg("[columns]\norder = event_id, a, event_id\n"),
              "cfg.ini:2: columns.order: column 'event_id' listed twice");
    CHECK_STR(parse_msg("[columns]\norder = a, , b\n"),
              "cfg.ini:2: columns.order: empty name in the list 'a, , b'");
    /* found by fuzz_expr: "a,#b" printed as "a, #b" read back as "a," */
    CHECK_STR(parse_msg("[columns]\norder = event_id,#label\n"),
              "cfg.ini:2: columns.order: name starting with ';' or '#' (a comment when read back) "
              "in the list 'event_id,#label'");
    CHECK_STR(parse_msg("[columns]\norder = a, b\n"),
              "cfg.ini:2: columns.order: sink.key column 'event_id' is not in the list");
    CHECK_STR(parse_msg("[sink]\npartition_by = day\n"),
              "cfg.ini:2: sink.partition_by: column 'day' is not in columns.order");
    CHECK_STR(parse_msg("[columns]\norder = event_id, b\n[sink]\npartition_by = b\n"),
              "cfg.ini:2: columns.order: sink.order_by column 'rating_timestamp' is not in the "
              "list");
    char nul[] = "[sink]\ntable = a\0b\n";
    pipe_config cfg;
    pipe_config_init(&cfg);
    sd_error err = {0};
    CHECK_INT(pipe_config_parse(&cfg, nul, sizeof(nul) - 1, "cfg.ini", &err), SD_ERR_ARG);
    CHECK_STR(err.msg, "cfg.ini:2: NUL byte in the line");
    sd_error_clear(&err);
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/none.ini", unit_tmpdir());
    CHECK_INT(pipe_config_load(&cfg, missing, &err), SD_ERR_IO);
    CHECK(strstr(err.msg, "none.ini: cannot open the configuration: No such file") != NULL);
    pipe_config_free(&cfg);
}

TEST(pipe_config_help_lists_every_key) {
    sd_buf help = SD_BUF_INIT;
    pipe_config_help(&help);
    const char *h = sd_buf_cstr(&help);
    const char *keys[] = {"topic",
                          "bootstrap_servers",
                          "schema_registry",
                          "subject",
                          "starting_offsets",
                          "kafka.<property>",
                          "table",
                          "partition_by",
                          "order_by",
                          "late_days",
                          "deletion_vectors",
                          "auto_compact",
                          "auto_compact_min_files",
                          "auto_compact_target_size",
                          "auto_compact_max_bytes",
                          "delta.autoOptimize.autoCompact",
                          "order",
                          "interval",
                          "max_batch_records",
                          "max_batch_wait",
                          "path",
                          "json",
                          "[derive]",
                          "[dead_letter]",
                          "available-now"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strstr(h, keys[i]) == NULL) unit_fail(__FILE__, __LINE__, "help lacks %s", keys[i]);
    }
    CHECK(strstr(h, "  late_days                integer  drop events whose partition date is older "
                    "than today - late_days (default: 5)\n") != NULL);
    sd_buf_free(&help);
}

/* The configuration's derive expressions compile against the movie schema
 * and evaluate to DESIGN.md's columns. */
TEST(pipe_config_default_derive_compiles) {
    pipe_config cfg;
    pipe_config_init(&cfg);
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "event_id", SD_STRING, false);
    sd_type_add_field(s, "user_id", SD_STRING, false);
    sd_type_add_field(s, "movie_id", SD_STRING, false);
    sd_type_add_field(s, "rating", SD_FLOAT, false);
    sd_type_add_field(s, "rating_timestamp", SD_INT64, false);
    const sd_type_kind want[] = {SD_BOOL, SD_DATE};
    for (int i = 0; i < cfg.nderive; i++) {
        sd_error err = {0};
        pipe_expr *e = pipe_expr_parse(cfg.derive[i].value, s, &err);
        CHECK(e != NULL);
        if (e != NULL) CHECK_INT(e->type.kind, want[i]);
        pipe_expr_free(e);
    }
    sd_schema_free(s);
    pipe_config_free(&cfg);
}

static sd_schema *movie_input(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "event_id", SD_STRING, false);
    sd_type_add_field(s, "user_id", SD_STRING, false);
    sd_type_add_field(s, "movie_id", SD_STRING, false);
    sd_type_add_field(s, "rating", SD_FLOAT, false);
    sd_type_add_field(s, "rating_timestamp", SD_INT64, false);
    return s;
}

/* The default configuration turns DESIGN.md's Avro record into the
 * movie_ratings table's columns, in order, with the derived values. */
TEST(pipe_derive_movie_table) {
    pipe_config cfg;
    pipe_config_init(&cfg);
    sd_schema *in_schema = movie_input();
    sd_error err = {0};
    pipe_derive_plan *plan = NULL;
    CHECK_OK(pipe_derive_compile(&cfg, in_schema, &plan, &err), &err);
    if (plan == NULL) return;
    sd_buf t = SD_BUF_INIT;
    sd_type_format(plan->output, &t);
    CHECK_STR(sd_buf_cstr(&t), "struct<event_id:string,user_id:string,movie_id:string,rating:float,"
                               "is_approved:boolean,rating_timestamp:bigint,rating_date:date>");
    sd_buf_reset(&t);

    sd_batch in;
    sd_batch_init(&in, in_schema);
    const float ratings[] = {7.0f, 6.9f, 9.5f};
    const int64_t ts[] = {1700000000, -1, 86400};
    for (int r = 0; r < 3; r++) {
        char id[16];
        snprintf(id, sizeof(id), "e%d", r);
        sd_column_append_bytes(&in.cols[0], id, strlen(id));
        sd_column_append_bytes(&in.cols[1], "u", 1);
        sd_column_append_bytes(&in.cols[2], "m", 1);
        sd_column_append_float(&in.cols[3], ratings[r]);
        sd_column_append_i64(&in.cols[4], ts[r]);
    }
    in.nrows = 3;
    sd_batch out;
    CHECK_OK(pipe_derive_apply(plan, &in, &out, &err), &err);
    CHECK_INT(out.nrows, 3);
    CHECK_INT(out.ncols, 7);
    CHECK_INT(in.nrows, 0); /* the input is left empty, ready for reuse */
    CHECK_INT(in.cols[0].len, 0);
    const char *want[] = {"e0|u|m|7|true|1700000000|2023-11-14", "e1|u|m|6.9|false|-1|1969-12-31",
                          "e2|u|m|9.5|true|86400|1970-01-02"};
    for (size_t r = 0; r < 3; r++) {
        sd_buf_reset(&t);
        for (int c = 0; c < out.ncols; c++) {
            if (c) sd_buf_append_byte(&t, '|');
            CHECK(out.cols[c].type == &plan->output->children[c].type);
            sd_value v = sd_column_get(&out.cols[c], r);
            sd_format_value(&v, &t);
        }
        CHECK_STR(sd_buf_cstr(&t), want[r]);
    }
    /* the emptied input batch takes the next micro-batch */
    sd_column_append_bytes(&in.cols[0], "x", 1);
    CHECK_INT(in.cols[0].len, 1);
    sd_buf_free(&t);
    sd_batch_free(&out);
    sd_batch_free(&in);
    pipe_derive_free(plan);
    sd_schema_free(in_schema);
    pipe_config_free(&cfg);
}

static const char *compile_msg(const char *ini) {
    static char msg[SD_ERROR_MSG_MAX];
    pipe_config cfg;
    pipe_config_init(&cfg);
    sd_error err = {0};
    sd_schema *s = movie_input();
    pipe_derive_plan *plan = NULL;
    if (pipe_config_parse(&cfg, ini, strlen(ini), "cfg.ini", &err) != SD_OK ||
        pipe_derive_compile(&cfg, s, &plan, &err) != SD_OK)
        snprintf(msg, sizeof(msg), "%s", err.msg);
    else
        snprintf(msg, sizeof(msg), "ok %d derived, %d out", plan->nderive, plan->output->nchildren);
    pipe_derive_free(plan);
    sd_schema_free(s);
    pipe_config_free(&cfg);
    return msg;
}

TEST(pipe_derive_compile_errors) {
    /* a derived column can use the ones before it; no [columns] order
     * means input columns then derived ones */
    CHECK_STR(compile_msg("[derive]\nscore = rating * 10\nhigh = score >= 70\n"
                          "rating_date = to_date(rating_timestamp)\n[columns]\norder =\n"),
              "ok 3 derived, 8 out");
    CHECK_STR(
        compile_msg("[derive]\nrating_date = to_date(rating_ts)\n"),
        "cfg.ini:2: derive.rating_date: expression 'to_date(rating_ts)', offset 8: unknown "
        "column 'rating_ts' (columns: event_id, user_id, movie_id, rating, rating_timestamp)");
    CHECK_STR(
        compile_msg("[derive]\nrating = rating * 2\n"),
        "cfg.ini:2: derive.rating: derived column 'rating' has the name of an existing column");
    CHECK_STR(compile_msg("[derive]\nrating_date = to_date(rating_timestamp)\n"),
              "columns.order (built-in default): unknown column 'is_approved' (input and derived "
              "columns: "
              "event_id, user_id, movie_id, rating, rating_timestamp, rating_date)");
    CHECK_STR(compile_msg("[columns]\norder = event_id, rating_timestamp, rating_date, bogus\n"),
              "cfg.ini:2: columns.order: unknown column 'bogus' (input and derived columns: "
              "event_id, user_id, movie_id, rating, rating_timestamp, is_approved, rating_date)");
    CHECK_STR(compile_msg("[sink]\nkey = id\n[columns]\norder =\n"),
              "cfg.ini:2: sink.key: column 'id' is not in the output (columns: event_id, user_id, "
              "movie_id, rating, rating_timestamp, is_approved, rating_date)");
}

TEST(pipe_config_auto_compact_keys) {
    pipe_config cfg;
    pipe_config_init(&cfg);
    sd_error err = {0};
    CHECK_INT(cfg.auto_compact, PIPE_COMPACT_TABLE);
    CHECK_INT(cfg.auto_compact_min_files, 50);
    CHECK_INT(cfg.auto_compact_target_size, 128LL * 1024 * 1024);
    CHECK_INT(cfg.auto_compact_max_bytes, 128LL * 1024 * 1024);
    CHECK_OK(pipe_config_set(&cfg, "sink.auto_compact", "TRUE", &err), &err);
    CHECK_INT(cfg.auto_compact, PIPE_COMPACT_ON);
    CHECK_OK(pipe_config_set(&cfg, "sink.auto_compact", "false", &err), &err);
    CHECK_INT(cfg.auto_compact, PIPE_COMPACT_OFF);
    CHECK_OK(pipe_config_set(&cfg, "sink.auto_compact_target_size", "64KB", &err), &err);
    CHECK_INT(cfg.auto_compact_target_size, 65536);
    CHECK_OK(pipe_config_set(&cfg, "sink.auto_compact_max_bytes", "3 gb", &err), &err);
    CHECK_INT(cfg.auto_compact_max_bytes, 3LL << 30);
    CHECK_OK(pipe_config_set(&cfg, "sink.auto_compact_max_bytes", "1000", &err), &err);
    CHECK_INT(cfg.auto_compact_max_bytes, 1000);
    CHECK_INT(pipe_config_set(&cfg, "sink.auto_compact_target_size", "12XB", &err), SD_ERR_ARG);
    CHECK_STR(err.msg, "--set sink.auto_compact_target_size: '12XB' is not a size (an integer and "
                       "an optional unit: 128MB, 64KB, 1GB, bytes)");
    CHECK_INT(pipe_config_set(&cfg, "sink.auto_compact_target_size", "0", &err), SD_ERR_ARG);
    CHECK_INT(pipe_config_set(&cfg, "sink.auto_compact_min_files", "1", &err), SD_ERR_ARG);
    sd_error_clear(&err);
    CHECK_INT(pipe_config_set(&cfg, "sink.auto_compact", "maybe", &err), SD_ERR_ARG);
    CHECK_STR(err.msg, "--set sink.auto_compact: 'maybe' is not one of table | true | false");
    /* What is printed reads back to the same values. */
    sd_buf out = SD_BUF_INIT;
    pipe_config_format(&cfg, &out);
    CHECK(strstr(sd_buf_cstr(&out), "auto_compact_target_size = 64KB\n") != NULL);
    CHECK(strstr(sd_buf_cstr(&out), "auto_compact_max_bytes = 1000\n") != NULL);
    pipe_config back;
    pipe_config_init(&back);
    CHECK_OK(pipe_config_parse(&back, (const char *)out.data, out.len, "printed", &err), &err);
    CHECK_INT(back.auto_compact, PIPE_COMPACT_OFF);
    CHECK_INT(back.auto_compact_target_size, 65536);
    CHECK_INT(back.auto_compact_max_bytes, 1000);
    pipe_config_free(&back);
    sd_buf_free(&out);
    pipe_config_free(&cfg);
}
