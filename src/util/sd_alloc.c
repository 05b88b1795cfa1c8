/*
 * sd_alloc.c - allocators that abort on out-of-memory (see util.h for why).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void sd_oom(size_t n) {
    fprintf(stderr, "streamdelta: out of memory allocating %zu bytes\n", n);
    abort();
}

void *sd_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL) sd_oom(n);
    return p;
}

void *sd_xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL) sd_oom(count * size);
    return p;
}

void *sd_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) sd_oom(n);
    return q;
}

char *sd_xstrdup(const char *s) {
    return sd_xstrndup(s, strlen(s));
}

char *sd_xstrndup(const char *s, size_t n) {
    char *p = sd_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *sd_xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    char *p = sd_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
