/*
 * sd_buf.c - growable byte buffer used for pages, JSON, text output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void sd_buf_reserve(sd_buf *b, size_t extra) {
    if (b->cap - b->len >= extra && b->data != NULL) return;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap < ((size_t)1 << 62) ? cap * 2 : need;
    b->data = sd_xrealloc(b->data, cap);
    b->cap = cap;
}

void sd_buf_append(sd_buf *b, const void *p, size_t n) {
    if (n == 0) return;
    sd_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void sd_buf_append_byte(sd_buf *b, uint8_t c) {
    sd_buf_reserve(b, 1);
    b->data[b->len++] = c;
}

void sd_buf_append_str(sd_buf *b, const char *s) {
    sd_buf_append(b, s, strlen(s));
}

void sd_buf_appendf(sd_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(small)) {
        sd_buf_append(b, small, (size_t)n);
        return;
    }
    sd_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

uint8_t *sd_buf_extend(sd_buf *b, size_t n) {
    sd_buf_reserve(b, n);
    uint8_t *p = b->data + b->len;
    memset(p, 0, n);
    b->len += n;
    return p;
}

void sd_buf_free(sd_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

const char *sd_buf_cstr(sd_buf *b) {
    sd_buf_reserve(b, 1);
    b->data[b->len] = '\0';
    return (const char *)b->data;
}

sd_status sd_read_file(const char *path, sd_buf *out, sd_error *err) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return sd_error_set(err, errno == ENOENT ? SD_ERR_NOT_FOUND : SD_ERR_IO,
                            "%s: cannot open: %s", path, strerror(errno));
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) sd_buf_append(out, chunk, n);
    bool bad = ferror(fp) != 0;
    fclose(fp);
    if (bad) return sd_error_set(err, SD_ERR_IO, "%s: read failed", path);
    sd_buf_cstr(out);
    return SD_OK;
}
