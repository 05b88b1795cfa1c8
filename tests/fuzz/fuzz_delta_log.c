/*
 * fuzz_delta_log.c - libFuzzer harness over the Delta log parsers: a commit
 * file (newline-delimited actions, schemaString inside metaData), the
 * deletion vector bitmap format and partition value parsing. The first
 * byte picks the parser so one corpus covers all three. Any input must be
 * parsed or refused with an error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta_internal.h"

static void fuzz_commit(const uint8_t *data, size_t size) {
    delta_pool pool;
    delta_pool_init(&pool);
    delta_action_vec v = {0};
    sd_error err = {0};
    if (delta_commit_parse((const char *)data, size, "fuzz.json", &pool, &v, &err) == SD_OK) {
        sd_buf out = SD_BUF_INIT;
        for (size_t i = 0; i < v.count; i++) {
            delta_action_format(&v.items[i], &out);
            const delta_action *a = &v.items[i];
            if (a->kind == DELTA_ACTION_PROTOCOL || a->kind == DELTA_ACTION_METADATA) {
                sd_error_clear(&err);
                (void)delta_features_check_write(
                    a->kind == DELTA_ACTION_PROTOCOL ? &a->u.protocol
                                                     : &(delta_protocol){1, 2, 0, NULL, 0, NULL},
                    a->kind == DELTA_ACTION_METADATA ? &a->u.metadata : NULL, &err);
            }
            if (a->kind == DELTA_ACTION_ADD) {
                char *p = delta_path_decode(a->u.add.path, &err);
                free(p);
            }
        }
        sd_buf_free(&out);
    }
    delta_action_vec_free(&v);
    delta_pool_free(&pool);
}

static void fuzz_dv(const uint8_t *data, size_t size) {
    delta_rowset rs;
    sd_error err = {0};
    /* A cap keeps tiny run containers from expanding without bound. */
    if (delta_dv_decode_bitmap(data, size, 1u << 20, &rs, &err) == SD_OK) delta_rowset_free(&rs);
    sd_buf z = SD_BUF_INIT;
    (void)delta_z85_decode((const char *)data, size - size % 5, &z, &err);
    sd_buf_free(&z);
}

static void fuzz_partition(const uint8_t *data, size_t size) {
    static const sd_type_kind kinds[] = {SD_STRING, SD_BOOL,      SD_INT8,   SD_INT16,
                                         SD_INT32,  SD_INT64,     SD_FLOAT,  SD_DOUBLE,
                                         SD_DATE,   SD_TIMESTAMP, SD_DECIMAL};
    if (size < 1) return;
    char *text = sd_xstrndup((const char *)data + 1, size - 1);
    sd_type t = {kinds[data[0] % (sizeof(kinds) / sizeof(kinds[0]))], 38, data[0] % 39, 0, NULL};
    sd_value v;
    sd_error err = {0};
    (void)delta_partition_value_parse("c", &t, text, &v, &err);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    switch (data[0] % 3) {
        case 0:
            fuzz_commit(data + 1, size - 1);
            break;
        case 1:
            fuzz_dv(data + 1, size - 1);
            break;
        default:
            fuzz_partition(data + 1, size - 1);
            break;
    }
    return 0;
}
