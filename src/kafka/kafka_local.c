/*
 * kafka_local.c - the local services file: how `streamdelta broker` tells
 * the other commands (produce, create-topic, run, demo) where its Kafka
 * bootstrap servers and schema registry are, so that they work with no
 * flags in another terminal.
 *
 * The file is a small JSON object written atomically; a file left behind by
 * a broker that died is recognised by its pid and ignored.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kafka.h"

const char *kafka_local_services_path(char *buf, size_t n) {
    const char *env = getenv("STREAMDELTA_LOCAL");
    if (env != NULL && env[0] != '\0') {
        snprintf(buf, n, "%s", env);
        return buf;
    }
    const char *home = getenv("HOME");
    snprintf(buf, n, "%s/.streamdelta/local.json", home && home[0] ? home : "/tmp");
    return buf;
}

/* mkdir -p of the directory part of `path`. */
static sd_status kafka_local_mkdirs(const char *path, sd_error *err) {
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir) return SD_OK;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return sd_error_set(err, SD_ERR_IO, "%s: cannot create directory: %s", dir,
                                strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return sd_error_set(err, SD_ERR_IO, "%s: cannot create directory: %s", dir,
                            strerror(errno));
    return SD_OK;
}

sd_status kafka_local_services_write(const char *path, const kafka_local_services *s,
                                     sd_error *err) {
    if (kafka_local_mkdirs(path, err) != SD_OK) return err->code;
    sd_buf text = SD_BUF_INIT;
    sd_buf_append_str(&text, "{\"bootstrap_servers\":");
    sd_json_append_string(&text, s->bootstrap_servers, strlen(s->bootstrap_servers));
    sd_buf_append_str(&text, ",\"schema_registry_url\":");
    sd_json_append_string(&text, s->registry_url, strlen(s->registry_url));
    sd_buf_appendf(&text, ",\"pid\":%ld}\n", s->pid);

    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    sd_status rc = SD_OK;
    if (f == NULL) {
        rc = sd_error_set(err, SD_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    } else {
        bool ok = fwrite(text.data, 1, text.len, f) == text.len;
        ok = (fclose(f) == 0) && ok;
        if (!ok || rename(tmp, path) != 0) {
            rc = sd_error_set(err, SD_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
            unlink(tmp);
        }
    }
    sd_buf_free(&text);
    return rc;
}

sd_status kafka_local_services_read(const char *path, kafka_local_services *s, sd_error *err) {
    memset(s, 0, sizeof(*s));
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return sd_error_set(err, SD_ERR_NOT_FOUND,
                            "no local broker is running (%s: %s); start one with 'streamdelta "
                            "broker' or pass --bootstrap-servers",
                            path, strerror(errno));
    char text[4096];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    sd_json *doc = sd_json_parse(text, n, err);
    if (doc == NULL) {
        sd_error_prefix(err, "%s: ", path);
        return err->code;
    }
    const char *bootstrap = sd_json_as_string(sd_json_get(doc, "bootstrap_servers"));
    const char *registry = sd_json_as_string(sd_json_get(doc, "schema_registry_url"));
    int64_t pid = 0;
    sd_status rc = SD_OK;
    if (bootstrap == NULL || registry == NULL || !sd_json_as_int64(sd_json_get(doc, "pid"), &pid)) {
        rc = sd_error_set(err, SD_ERR_FORMAT,
                          "%s: not a streamdelta local services file (expected bootstrap_servers, "
                          "schema_registry_url and pid)",
                          path);
    } else if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
        rc = sd_error_set(err, SD_ERR_NOT_FOUND,
                          "the local broker recorded in %s (pid %lld) is no longer running; start "
                          "one with 'streamdelta broker'",
                          path, (long long)pid);
    } else {
        snprintf(s->bootstrap_servers, sizeof(s->bootstrap_servers), "%s", bootstrap);
        snprintf(s->registry_url, sizeof(s->registry_url), "%s", registry);
        s->pid = (long)pid;
    }
    sd_json_free(doc);
    return rc;
}
