/*
 * fuzz_expr.c - libFuzzer harness over the pipeline's two text parsers:
 * the derived-column expression language (pipe_expr.c, then evaluated by
 * pipe_eval.c over a small batch holding nulls and extreme values) and the
 * INI configuration (pipe_config.c), whose derivations are then compiled
 * and applied to the batch. Every input goes through both. An
 * expression must parse or be refused with an error; what parses must
 * evaluate to a column of its type and the batch's length. A configuration
 * that loads must print (pipe_config_format) as text that loads again and
 * prints the same - a crash, leak, sanitizer report or failed round trip is
 * a finding.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline.h"

#define FUZZ_ROWS 4

static void fuzz_batch(sd_schema **schema, sd_batch *b) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "i", SD_INT32, true);
    sd_type_add_field(s, "l", SD_INT64, true);
    sd_type_add_field(s, "f", SD_FLOAT, true);
    sd_type_add_field(s, "d", SD_DOUBLE, true);
    sd_type_add_field(s, "s", SD_STRING, true);
    sd_type_add_field(s, "b", SD_BOOL, true);
    sd_type_add_field(s, "dt", SD_DATE, true);
    sd_type_add_field(s, "ts", SD_TIMESTAMP, true);
    sd_type_add_field(s, "rating", SD_FLOAT, false);
    sd_type_add_field(s, "rating_timestamp", SD_INT64, false);
    *schema = s;
    sd_batch_init(b, s);
    const int32_t iv[] = {INT32_MIN, -1, 0, INT32_MAX};
    const int64_t lv[] = {INT64_MIN, -86401, 0, INT64_MAX};
    const double dv[] = {-1e308, -0.5, NAN, INFINITY};
    const char *sv[] = {"", "12", "2024-02-29", "h\xc3\xa9llo"};
    for (int r = 0; r < FUZZ_ROWS; r++) {
        sd_column *c = b->cols;
        r == 1 ? sd_column_append_null(&c[0]) : sd_column_append_i32(&c[0], iv[r]);
        r == 2 ? sd_column_append_null(&c[1]) : sd_column_append_i64(&c[1], lv[r]);
        r == 3 ? sd_column_append_null(&c[2]) : sd_column_append_float(&c[2], (float)dv[r]);
        r == 0 ? sd_column_append_null(&c[3]) : sd_column_append_double(&c[3], dv[r]);
        r == 1 ? sd_column_append_null(&c[4]) : sd_column_append_bytes(&c[4], sv[r], strlen(sv[r]));
        r == 2 ? sd_column_append_null(&c[5]) : sd_column_append_bool(&c[5], r & 1);
        r == 3 ? sd_column_append_null(&c[6]) : sd_column_append_i32(&c[6], iv[r]);
        r == 0 ? sd_column_append_null(&c[7]) : sd_column_append_i64(&c[7], lv[r]);
        sd_column_append_float(&c[8], (float)r * 3.5f);
        sd_column_append_i64(&c[9], lv[r]);
    }
    b->nrows = FUZZ_ROWS;
}

static void fuzz_expression(const char *text) {
    sd_schema *schema;
    sd_batch batch;
    fuzz_batch(&schema, &batch);
    sd_error err = {0};
    pipe_expr *e = pipe_expr_parse(text, schema, &err);
    if (e == NULL) {
        if (err.code != SD_ERR_ARG || strncmp(err.msg, "expression '", 12) != 0) abort();
    } else {
        sd_column out;
        if (pipe_expr_eval(e, &batch, &out, &err) != SD_OK) abort();
        if (out.len != FUZZ_ROWS || out.type != &e->type) abort();
        for (size_t r = 0; r < out.len; r++) {
            sd_value v = sd_column_get(&out, r);
            sd_buf t = SD_BUF_INIT;
            sd_format_value(&v, &t);
            sd_buf_free(&t);
        }
        sd_column_free(&out);
        pipe_expr_free(e);
    }
    sd_batch_free(&batch);
    sd_schema_free(schema);
}

/* The configuration's derivations compiled against the fuzz schema and
 * applied to its batch: the output has the plan's shape. */
static void fuzz_derive(const pipe_config *cfg) {
    sd_schema *schema;
    sd_batch batch, out;
    fuzz_batch(&schema, &batch);
    sd_error err = {0};
    pipe_derive_plan *plan = NULL;
    if (pipe_derive_compile(cfg, schema, &plan, &err) == SD_OK) {
        if (pipe_derive_apply(plan, &batch, &out, &err) != SD_OK) abort();
        if (out.nrows != FUZZ_ROWS || out.ncols != plan->output->nchildren) abort();
        for (int c = 0; c < out.ncols; c++)
            if (out.cols[c].len != FUZZ_ROWS && !sd_type_is_nested(out.cols[c].type->kind)) abort();
        sd_batch_free(&out);
        pipe_derive_free(plan);
    } else if (err.code != SD_ERR_ARG) {
        abort();
    }
    sd_batch_free(&batch);
    sd_schema_free(schema);
}

static void fuzz_config(const uint8_t *data, size_t size) {
    pipe_config cfg;
    pipe_config_init(&cfg);
    sd_error err = {0};
    if (pipe_config_parse(&cfg, (const char *)data, size, "fuzz.ini", &err) == SD_OK) {
        fuzz_derive(&cfg);
        sd_buf once = SD_BUF_INIT, twice = SD_BUF_INIT;
        pipe_config_format(&cfg, &once);
        pipe_config again;
        pipe_config_init(&again);
        if (pipe_config_parse(&again, (const char *)once.data, once.len, "printed", &err) != SD_OK)
            abort(); /* our own output must load */
        pipe_config_format(&again, &twice);
        if (once.len != twice.len || memcmp(once.data, twice.data, once.len) != 0) abort();
        pipe_config_free(&again);
        sd_buf_free(&once);
        sd_buf_free(&twice);
    } else if (err.code != SD_ERR_ARG) {
        abort();
    }
    pipe_config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0; /* expressions and configurations are small */
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    fuzz_expression(text);
    free(text);
    fuzz_config(data, size);
    return 0;
}
