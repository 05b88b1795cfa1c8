/*
 * bench_common.h - what the C benchmarks share: the movie-ratings columns
 * of DESIGN.md and a seeded generator, so that every run of a benchmark
 * measures the same bytes. Each benchmark is one program; these are
 * static so that none needs a second object file.
 */
#ifndef SD_BENCH_COMMON_H
#define SD_BENCH_COMMON_H

#include <stdint.h>

#include "util/util.h"

/* The movie_ratings table's columns (DESIGN.md), in table order. */
static inline sd_schema *bench_movie_schema(void) {
    sd_schema *s = sd_schema_new();
    sd_type_add_field(s, "event_id", SD_STRING, true);
    sd_type_add_field(s, "user_id", SD_STRING, true);
    sd_type_add_field(s, "movie_id", SD_STRING, true);
    sd_type_add_field(s, "rating", SD_FLOAT, true);
    sd_type_add_field(s, "is_approved", SD_BOOL, true);
    sd_type_add_field(s, "rating_timestamp", SD_INT64, true);
    sd_type_add_field(s, "rating_date", SD_DATE, true);
    return s;
}

typedef struct bench_rng {
    uint64_t s; /* any non-zero seed */
} bench_rng;

/* xorshift64*: fast and deterministic; good enough for synthetic ids. */
static inline uint64_t bench_next(bench_rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

#endif
