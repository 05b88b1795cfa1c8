/*
 * sd_error.c - status names and the caller-owned error message buffer.
 */
#include <stdio.h>
#include <string.h>

#include "util.h"

sd_status sd_error_set(sd_error *err, sd_status code, const char *fmt, ...) {
    if (err == NULL || err->code != SD_OK) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void sd_error_prefix(sd_error *err, const char *fmt, ...) {
    if (err == NULL) return;
    char prefix[SD_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    /* Truncation keeps the start of the message: the context and the cause. */
    size_t plen = strnlen(prefix, sizeof(err->msg) - 1);
    size_t mlen = strnlen(err->msg, sizeof(err->msg));
    if (plen + mlen > sizeof(err->msg) - 1) mlen = sizeof(err->msg) - 1 - plen;
    memmove(err->msg + plen, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + mlen] = '\0';
}

void sd_error_clear(sd_error *err) {
    if (err == NULL) return;
    err->code = SD_OK;
    err->msg[0] = '\0';
}

const char *sd_status_name(sd_status code) {
    switch (code) {
        case SD_OK:
            return "ok";
        case SD_ERR_ARG:
            return "invalid argument";
        case SD_ERR_NOT_FOUND:
            return "not found";
        case SD_ERR_EXISTS:
            return "already exists";
        case SD_ERR_IO:
            return "I/O error";
        case SD_ERR_NOSPACE:
            return "no space left";
        case SD_ERR_FORMAT:
            return "format error";
        case SD_ERR_THRIFT:
            return "corrupt Thrift metadata";
        case SD_ERR_CODEC:
            return "decompression error";
        case SD_ERR_JSON:
            return "JSON error";
        case SD_ERR_UNSUPPORTED:
            return "unsupported";
        case SD_ERR_CONFLICT:
            return "concurrent modification";
        case SD_ERR_RETRY:
            return "transient error";
        case SD_ERR_NETWORK:
            return "network error";
        case SD_ERR_REMOTE:
            return "remote error";
        case SD_ERR_INTERNAL:
            return "internal error";
    }
    return "unknown error";
}
