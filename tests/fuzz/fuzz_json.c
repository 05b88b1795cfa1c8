/*
 * fuzz_json.c - libFuzzer harness over the JSON parser (sd_json.c). Any
 * input must parse or be refused with an error; what parses must write
 * back (sd_json_append) as JSON that parses again to the same text - a
 * crash, leak, sanitizer report or failed round trip is a finding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sd_error err = {0};
    sd_json *j = sd_json_parse((const char *)data, size, &err);
    if (j == NULL) return 0;
    sd_buf once = SD_BUF_INIT, twice = SD_BUF_INIT;
    sd_json_append(&once, j);
    sd_json *k = sd_json_parse((const char *)once.data, once.len, &err);
    if (k == NULL) abort(); /* our own output must parse */
    sd_json_append(&twice, k);
    if (once.len != twice.len || memcmp(once.data, twice.data, once.len) != 0) abort();
    int64_t i;
    double d;
    bool b;
    const sd_json *probe =
        j->kind == SD_JSON_OBJECT || j->kind == SD_JSON_ARRAY ? (j->count ? &j->items[0] : j) : j;
    (void)sd_json_as_int64(probe, &i);
    (void)sd_json_as_double(probe, &d);
    (void)sd_json_as_bool(probe, &b);
    (void)sd_json_get(j, "add");
    sd_json_free(k);
    sd_json_free(j);
    sd_buf_free(&once);
    sd_buf_free(&twice);
    return 0;
}
