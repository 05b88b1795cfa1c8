/*
 * sd_uuid.c - RFC 4122 version-4 UUIDs: random ones for the names Delta
 * writers give data files, deletion-vector files, commits and tables, and
 * ones made from two given words for the deterministic test-event
 * generators.
 */
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util.h"

/* Stamp the version (4) and the RFC 4122 variant bits. */
static void sd_uuid_stamp(uint8_t u[16]) {
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
}

void sd_uuid_random(uint8_t u[16]) {
    if (getrandom(u, 16, 0) != 16) {
        /* No entropy source: time and pid, still unique on one machine;
         * the writers that name files with it also create them O_EXCL or
         * link() them, so a clash fails instead of overwriting. */
        int64_t ns = sd_now_ns(), other = (int64_t)getpid() ^ sd_now_ms();
        memcpy(u, &ns, 8);
        memcpy(u + 8, &other, 8);
    }
    sd_uuid_stamp(u);
}

void sd_uuid_format(const uint8_t u[16], char out[SD_UUID_TEXT_SIZE]) {
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[u[i] >> 4];
        out[o++] = hex[u[i] & 15];
    }
    out[o] = '\0';
}

void sd_uuid_random_text(char out[SD_UUID_TEXT_SIZE]) {
    uint8_t u[16];
    sd_uuid_random(u);
    sd_uuid_format(u, out);
}

void sd_uuid_from_words(uint64_t hi, uint64_t lo, char out[SD_UUID_TEXT_SIZE]) {
    uint8_t u[16];
    for (int i = 0; i < 8; i++) {
        u[i] = (uint8_t)(hi >> (56 - 8 * i));
        u[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
    }
    sd_uuid_stamp(u);
    sd_uuid_format(u, out);
}
