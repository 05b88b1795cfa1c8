/*
 * fuzz_parquet.c - libFuzzer harness over the Parquet reader: footer and
 * Thrift parsing, schema mapping, page headers, every decoder and codec, and
 * nested record assembly. Any input must be read or refused with an error;
 * a crash, hang, leak or sanitizer report is a finding.
 */
#include <stddef.h>
#include <stdint.h>

#include "parquet/parquet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sd_error err = {0};
    pq_file *f = pq_file_open_memory(data, size, "fuzz.parquet", &err);
    if (f == NULL) return 0;
    for (int rg = 0; rg < pq_file_num_row_groups(f); rg++) {
        sd_batch b;
        sd_error_clear(&err);
        if (pq_read_row_group(f, rg, NULL, 0, &b, &err) == SD_OK) sd_batch_free(&b);
    }
    sd_buf text = SD_BUF_INIT;
    pq_file_format_schema(f, &text);
    pq_file_format_meta(f, &text);
    sd_buf_free(&text);
    pq_file_close(f);
    return 0;
}
