/*
 * fuzz_delta_checkpoint.c - libFuzzer harness over checkpoint reading: a
 * Parquet file (from memory) mapped to Delta actions, with every nested
 * field looked up by name and type-checked (add, remove, metaData with its
 * schemaString, protocol, txn, domainMetadata, stats_parsed). Any input
 * must be read or refused with an error.
 */
#include <stddef.h>
#include <stdint.h>

#include "delta/delta_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sd_error err = {0};
    pq_file *f = pq_file_open_memory(data, size, "fuzz.checkpoint.parquet", &err);
    if (f == NULL) return 0;
    delta_pool pool;
    delta_pool_init(&pool);
    delta_action_vec v = {0};
    if (delta_checkpoint_read_pq(f, "fuzz.checkpoint.parquet", &pool, &v, &err) == SD_OK) {
        sd_buf out = SD_BUF_INIT;
        for (size_t i = 0; i < v.count; i++) delta_action_format(&v.items[i], &out);
        sd_buf_free(&out);
    }
    delta_action_vec_free(&v);
    delta_pool_free(&pool);
    pq_file_close(f);
    return 0;
}
