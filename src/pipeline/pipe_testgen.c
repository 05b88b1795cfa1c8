/*
 * pipe_testgen.c - movie-rating test events for `streamdelta produce` and
 * the demo: new events, exact redeliveries, updates and late events, in
 * exact shares and reproducible from a seed.
 *
 * Exact shares without a schedule in memory: at each step the kind is drawn
 * with probability (remaining of that kind) / (remaining events), which
 * deals every kind exactly its count in a uniformly random order. Duplicates
 * and updates refer to recent non-late events, kept in a fixed ring.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro.h"
#include "pipeline.h"

/* How many earlier events duplicates and updates choose from: recent
 * enough to land in the same or a nearby micro-batch, bounded memory. */
#define PIPE_GEN_RING 65536

struct pipe_gen {
    pipe_gen_options opts;
    uint64_t rng;
    int64_t produced;
    int64_t remaining[4]; /* per kind, when count > 0 */
    pipe_gen_event *ring;
    int64_t ring_len;  /* events stored (<= PIPE_GEN_RING) */
    int64_t ring_next; /* slot for the next new event */
};

/* splitmix64: a small, fast generator whose every seed is a good one. */
static uint64_t pipe_gen_rand(pipe_gen *g) {
    uint64_t z = (g->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). The modulo bias is below 2^-40 for our ranges. */
static uint64_t pipe_gen_below(pipe_gen *g, uint64_t n) {
    return pipe_gen_rand(g) % n;
}

static bool pipe_gen_share_ok(double s) {
    return s >= 0.0 && s < 1.0 && !isnan(s);
}

pipe_gen *pipe_gen_new(const pipe_gen_options *opts, sd_error *err) {
    if (!pipe_gen_share_ok(opts->duplicates) || !pipe_gen_share_ok(opts->updates) ||
        !pipe_gen_share_ok(opts->late) || opts->duplicates + opts->updates + opts->late >= 1.0) {
        sd_error_set(err, SD_ERR_ARG,
                     "shares of duplicates (%g), updates (%g) and late events (%g) must each be "
                     "in [0, 1) and sum to less than 1",
                     opts->duplicates, opts->updates, opts->late);
        return NULL;
    }
    if (opts->count < 0) {
        sd_error_set(err, SD_ERR_ARG, "event count %lld is negative", (long long)opts->count);
        return NULL;
    }
    pipe_gen *g = sd_xcalloc(1, sizeof(*g));
    g->opts = *opts;
    if (g->opts.users <= 0) g->opts.users = 10000;
    if (g->opts.movies <= 0) g->opts.movies = 1000;
    g->rng = opts->seed;
    g->ring = sd_xmalloc(sizeof(pipe_gen_event) * PIPE_GEN_RING);
    if (opts->count > 0) {
        g->remaining[PIPE_GEN_DUPLICATE] = llround((double)opts->count * opts->duplicates);
        g->remaining[PIPE_GEN_UPDATE] = llround((double)opts->count * opts->updates);
        g->remaining[PIPE_GEN_LATE] = llround((double)opts->count * opts->late);
        g->remaining[PIPE_GEN_NEW] = opts->count - g->remaining[PIPE_GEN_DUPLICATE] -
                                     g->remaining[PIPE_GEN_UPDATE] - g->remaining[PIPE_GEN_LATE];
        /* Rounding may leave no new event; the first event must be new. */
        while (g->remaining[PIPE_GEN_NEW] < 1) {
            pipe_gen_kind largest = PIPE_GEN_DUPLICATE;
            if (g->remaining[PIPE_GEN_UPDATE] > g->remaining[largest]) largest = PIPE_GEN_UPDATE;
            if (g->remaining[PIPE_GEN_LATE] > g->remaining[largest]) largest = PIPE_GEN_LATE;
            g->remaining[largest]--;
            g->remaining[PIPE_GEN_NEW]++;
        }
    }
    return g;
}

/* Draw the next kind: exactly from the remaining counts, or by the shares
 * when unbounded. Duplicates and updates need an earlier event. */
static pipe_gen_kind pipe_gen_pick(pipe_gen *g) {
    bool have_earlier = g->ring_len > 0;
    if (g->opts.count == 0) {
        double u = (double)(pipe_gen_rand(g) >> 11) / 9007199254740992.0;
        if (have_earlier && u < g->opts.duplicates) return PIPE_GEN_DUPLICATE;
        u -= g->opts.duplicates;
        if (have_earlier && u >= 0 && u < g->opts.updates) return PIPE_GEN_UPDATE;
        u -= g->opts.updates;
        if (u >= 0 && u < g->opts.late) return PIPE_GEN_LATE;
        return PIPE_GEN_NEW;
    }
    int64_t total = g->remaining[PIPE_GEN_NEW] + g->remaining[PIPE_GEN_LATE];
    if (have_earlier) total += g->remaining[PIPE_GEN_DUPLICATE] + g->remaining[PIPE_GEN_UPDATE];
    int64_t r = (int64_t)pipe_gen_below(g, (uint64_t)total);
    static const pipe_gen_kind order[] = {PIPE_GEN_NEW, PIPE_GEN_LATE, PIPE_GEN_DUPLICATE,
                                          PIPE_GEN_UPDATE};
    for (int i = 0; i < 4; i++) {
        pipe_gen_kind k = order[i];
        if (!have_earlier && (k == PIPE_GEN_DUPLICATE || k == PIPE_GEN_UPDATE)) continue;
        if (r < g->remaining[k]) return k;
        r -= g->remaining[k];
    }
    return PIPE_GEN_NEW; /* not reached: total counts every kind above */
}

static void pipe_gen_fresh(pipe_gen *g, pipe_gen_event *ev, int64_t now_s, bool late) {
    sd_uuid_from_words(pipe_gen_rand(g), pipe_gen_rand(g), ev->event_id);
    /* Users and movies come from fixed pools: ids derived from their index. */
    uint64_t user = pipe_gen_below(g, (uint64_t)g->opts.users);
    uint64_t movie = pipe_gen_below(g, (uint64_t)g->opts.movies);
    sd_uuid_from_words(0x5553455200000000ull ^ user, user * 0x9E3779B97F4A7C15ull, ev->user_id);
    sd_uuid_from_words(0x4D4F564900000000ull ^ movie, movie * 0xC2B2AE3D27D4EB4Full, ev->movie_id);
    ev->rating = (float)pipe_gen_below(g, 101) / 10.0f;
    if (late) /* 6 to 30 days old: older than the 5-day window */
        ev->rating_timestamp = now_s - 6 * 86400 - (int64_t)pipe_gen_below(g, 24 * 86400);
    else
        ev->rating_timestamp = now_s - (int64_t)pipe_gen_below(g, 60);
}

bool pipe_gen_next(pipe_gen *g, int64_t now_s, pipe_gen_event *ev) {
    if (g->opts.count > 0 && g->produced >= g->opts.count) return false;
    pipe_gen_kind kind = pipe_gen_pick(g);
    if (g->opts.count > 0) g->remaining[kind]--;
    g->produced++;
    if (kind == PIPE_GEN_DUPLICATE || kind == PIPE_GEN_UPDATE) {
        pipe_gen_event *earlier = &g->ring[pipe_gen_below(g, (uint64_t)g->ring_len)];
        if (kind == PIPE_GEN_UPDATE) {
            /* Newer than what it replaces, so the upsert must take it. */
            float rating;
            do rating = (float)pipe_gen_below(g, 101) / 10.0f;
            while (rating == earlier->rating);
            earlier->rating = rating;
            int64_t ts = now_s > earlier->rating_timestamp ? now_s : earlier->rating_timestamp;
            earlier->rating_timestamp = ts + 1 + (int64_t)pipe_gen_below(g, 5);
        }
        *ev = *earlier;
        ev->kind = kind;
        return true;
    }
    pipe_gen_fresh(g, ev, now_s, kind == PIPE_GEN_LATE);
    ev->kind = kind;
    if (kind == PIPE_GEN_NEW) {
        g->ring[g->ring_next] = *ev;
        g->ring_next = (g->ring_next + 1) % PIPE_GEN_RING;
        if (g->ring_len < PIPE_GEN_RING) g->ring_len++;
    }
    return true;
}

void pipe_gen_free(pipe_gen *g) {
    if (g == NULL) return;
    free(g->ring);
    free(g);
}

const char pipe_movie_rating_schema[] =
    "{\"type\":\"record\",\"name\":\"MovieRating\",\"namespace\":\"io.movies\","
    "\"fields\":[{\"name\":\"event_id\",\"type\":\"string\"},"
    "{\"name\":\"user_id\",\"type\":\"string\"},"
    "{\"name\":\"movie_id\",\"type\":\"string\"},"
    "{\"name\":\"rating\",\"type\":\"float\"},"
    "{\"name\":\"rating_timestamp\",\"type\":\"long\"}]}";

void pipe_gen_encode(const pipe_gen_event *ev, sd_buf *out) {
    avro_encode_string(out, ev->event_id, 36);
    avro_encode_string(out, ev->user_id, 36);
    avro_encode_string(out, ev->movie_id, 36);
    avro_encode_float(out, ev->rating);
    avro_encode_long(out, ev->rating_timestamp);
}
