/*
 * avro_registry.c - a Confluent Schema Registry client over libcurl.
 *
 * REST API (Confluent Schema Registry "API Reference"):
 *   GET  /schemas/ids/{id}                -> {"schema": "...", "schemaType"?: "AVRO"}
 *   POST /subjects/{subject}/versions     <- {"schema": "..."} -> {"id": N}
 *   GET  /subjects/{subject}/versions/latest -> {"subject","id","version","schema"}
 * Errors come back as {"error_code": 40403, "message": "Schema not found"}.
 *
 * Policy: network failures and 5xx answers are retried with exponential
 * backoff (the registry may be restarting); 4xx answers are final. After
 * the last retry the call returns SD_ERR_RETRY so the stream can pause and
 * try again later rather than dead-letter records it never judged. Schemas
 * fetched by id are cached forever: an id's schema never changes.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avro/avro_internal.h"

/* Replies larger than this are not schema replies. */
#define REGISTRY_MAX_REPLY (16u << 20)

typedef struct registry_entry {
    int32_t id;
    avro_schema *schema;
} registry_entry;

struct avro_registry {
    char *url; /* without trailing '/' */
    char *basic_auth;
    long connect_timeout_ms, timeout_ms, backoff_ms, backoff_max_ms;
    int max_retries;
    pthread_mutex_t lock; /* guards everything below and the curl handle */
    CURL *curl;
    registry_entry *cache;
    int ncache, cap;
    long requests;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void registry_global_init(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

avro_registry *avro_registry_new(const avro_registry_conf *conf, sd_error *err) {
    if (conf == NULL || conf->url == NULL ||
        (strncmp(conf->url, "http://", 7) != 0 && strncmp(conf->url, "https://", 8) != 0)) {
        sd_error_set(err, SD_ERR_ARG,
                     "Schema Registry URL \"%s\" must start with http:// or https://",
                     conf && conf->url ? conf->url : "");
        return NULL;
    }
    pthread_once(&curl_once, registry_global_init);
    avro_registry *r = sd_xcalloc(1, sizeof(*r));
    r->url = sd_xstrdup(conf->url);
    size_t n = strlen(r->url);
    while (n > 0 && r->url[n - 1] == '/') r->url[--n] = '\0';
    r->basic_auth = conf->basic_auth ? sd_xstrdup(conf->basic_auth) : NULL;
    r->connect_timeout_ms = conf->connect_timeout_ms > 0 ? conf->connect_timeout_ms : 5000;
    r->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 15000;
    r->max_retries = conf->max_retries > 0 ? conf->max_retries : conf->max_retries < 0 ? 0 : 4;
    r->backoff_ms = conf->backoff_ms > 0 ? conf->backoff_ms : 100;
    r->backoff_max_ms = conf->backoff_max_ms > 0 ? conf->backoff_max_ms : 5000;
    pthread_mutex_init(&r->lock, NULL);
    r->curl = curl_easy_init();
    if (r->curl == NULL) {
        sd_error_set(err, SD_ERR_INTERNAL, "Schema Registry: libcurl could not create a handle");
        avro_registry_free(r);
        return NULL;
    }
    return r;
}

void avro_registry_free(avro_registry *r) {
    if (r == NULL) return;
    if (r->curl) curl_easy_cleanup(r->curl);
    for (int i = 0; i < r->ncache; i++) avro_schema_free(r->cache[i].schema);
    free(r->cache);
    free(r->url);
    free(r->basic_auth);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

long avro_registry_requests(const avro_registry *r) {
    return r->requests;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *userdata) {
    sd_buf *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > REGISTRY_MAX_REPLY) return 0; /* aborts the transfer */
    sd_buf_append(b, p, n);
    return n;
}

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* The Confluent error body as "40403: Schema not found", or the raw text. */
static void describe_reply(const sd_buf *body, char *out, size_t cap) {
    sd_error jerr = {0};
    sd_json *j = body->len ? sd_json_parse((const char *)body->data, body->len, &jerr) : NULL;
    int64_t code;
    const char *msg = j ? sd_json_as_string(sd_json_get(j, "message")) : NULL;
    if (j && sd_json_as_int64(sd_json_get(j, "error_code"), &code) && msg)
        snprintf(out, cap, "%lld: %s", (long long)code, msg);
    else if (body->len)
        snprintf(out, cap, "%.*s", (int)(body->len > 200 ? 200 : body->len),
                 (const char *)body->data);
    else
        snprintf(out, cap, "empty reply");
    sd_json_free(j);
}

static int64_t reply_code(const sd_buf *body) {
    sd_error jerr = {0};
    sd_json *j = body->len ? sd_json_parse((const char *)body->data, body->len, &jerr) : NULL;
    int64_t code = 0;
    if (j) sd_json_as_int64(sd_json_get(j, "error_code"), &code);
    sd_json_free(j);
    return code;
}

/* One request with retries; on SD_OK, *status is the final 2xx/4xx status
 * and `body` its reply. Call with the lock held. */
static sd_status registry_request(avro_registry *r, const char *method, const char *path,
                                  const char *post, long *status, sd_buf *body, sd_error *err) {
    char url[2048];
    snprintf(url, sizeof(url), "%s%s", r->url, path);
    char lasterr[CURL_ERROR_SIZE + 64] = "";
    long delay = r->backoff_ms;
    for (int attempt = 0; attempt <= r->max_retries; attempt++) {
        if (attempt > 0) {
            sleep_ms(delay);
            delay = delay * 2 > r->backoff_max_ms ? r->backoff_max_ms : delay * 2;
        }
        CURL *c = r->curl;
        curl_easy_reset(c);
        char cerr[CURL_ERROR_SIZE] = "";
        struct curl_slist *hdrs = NULL;
        hdrs = curl_slist_append(
            hdrs, "Accept: application/vnd.schemaregistry.v1+json, application/json");
        if (post)
            hdrs = curl_slist_append(hdrs, "Content-Type: application/vnd.schemaregistry.v1+json");
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
        if (r->basic_auth) {
            curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(c, CURLOPT_USERPWD, r->basic_auth);
        }
        if (post) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
        }
        if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        sd_buf_reset(body);
        r->requests++;
        CURLcode rc = curl_easy_perform(c);
        curl_slist_free_all(hdrs);
        if (rc != CURLE_OK) {
            snprintf(lasterr, sizeof(lasterr), "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
            continue;
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        if (*status >= 500) {
            char why[300];
            describe_reply(body, why, sizeof(why));
            snprintf(lasterr, sizeof(lasterr), "HTTP %ld (%s)", *status, why);
            continue;
        }
        return SD_OK;
    }
    return sd_error_set(err, SD_ERR_RETRY, "Schema Registry %s: %s %s failed after %d attempts: %s",
                        r->url, method, path, r->max_retries + 1, lasterr);
}

/* A 4xx (or unexpected) status as an error. */
static sd_status registry_refused(avro_registry *r, const char *what, long status,
                                  const sd_buf *body, sd_error *err) {
    char why[300];
    describe_reply(body, why, sizeof(why));
    int64_t code = reply_code(body);
    bool missing = status == 404 || code == 40401 || code == 40402 || code == 40403;
    sd_status st = missing ? SD_ERR_NOT_FOUND : SD_ERR_REMOTE;
    return sd_error_set(err, st, "Schema Registry %s: %s: HTTP %ld (%s)%s", r->url, what, status,
                        why,
                        status == 401 || status == 403 ? "; check the basic-auth credentials" : "");
}

static sd_json *parse_reply(avro_registry *r, const char *what, const sd_buf *body, sd_error *err) {
    sd_error jerr = {0};
    sd_json *j = sd_json_parse((const char *)body->data, body->len, &jerr);
    if (j == NULL || j->kind != SD_JSON_OBJECT) {
        sd_error_set(err, SD_ERR_REMOTE, "Schema Registry %s: %s: reply is not a JSON object (%s)",
                     r->url, what, j ? "other JSON" : jerr.msg);
        sd_json_free(j);
        return NULL;
    }
    return j;
}

sd_status avro_registry_get(avro_registry *r, int32_t id, const avro_schema **out, sd_error *err) {
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->ncache; i++)
        if (r->cache[i].id == id) {
            *out = r->cache[i].schema;
            pthread_mutex_unlock(&r->lock);
            return SD_OK;
        }
    char path[64], what[64];
    snprintf(path, sizeof(path), "/schemas/ids/%d", id);
    snprintf(what, sizeof(what), "schema id %d", id);
    sd_buf body = SD_BUF_INIT;
    long status = 0;
    sd_status st = registry_request(r, "GET", path, NULL, &status, &body, err);
    sd_json *j = NULL;
    if (st == SD_OK && status != 200) st = registry_refused(r, what, status, &body, err);
    if (st == SD_OK && (j = parse_reply(r, what, &body, err)) == NULL) st = SD_ERR_REMOTE;
    if (st == SD_OK) {
        const char *type = sd_json_as_string(sd_json_get(j, "schemaType"));
        const sd_json *text = sd_json_get(j, "schema");
        if (type && strcmp(type, "AVRO") != 0) {
            st = sd_error_set(err, SD_ERR_UNSUPPORTED,
                              "Schema Registry: %s is a %s schema, not Avro", what, type);
        } else if (text == NULL || text->kind != SD_JSON_STRING) {
            st = sd_error_set(err, SD_ERR_REMOTE,
                              "Schema Registry: %s: reply has no \"schema\" string", what);
        } else {
            avro_schema *s = avro_schema_parse(text->text, text->text_len, err);
            if (s == NULL) {
                sd_error_prefix(err, "Schema Registry %s: ", what);
                st = SD_ERR_FORMAT;
                if (err) err->code = SD_ERR_FORMAT;
            } else {
                if (r->ncache == r->cap) {
                    r->cap = r->cap ? r->cap * 2 : 8;
                    r->cache = sd_xrealloc(r->cache, (size_t)r->cap * sizeof(registry_entry));
                }
                r->cache[r->ncache++] = (registry_entry){.id = id, .schema = s};
                *out = s;
            }
        }
    }
    sd_json_free(j);
    sd_buf_free(&body);
    pthread_mutex_unlock(&r->lock);
    return st;
}

/* "/subjects/<escaped>/versions..." */
static char *subject_path(avro_registry *r, const char *subject, const char *tail) {
    char *esc = curl_easy_escape(r->curl, subject, 0);
    char *p = sd_xasprintf("/subjects/%s/versions%s", esc ? esc : "", tail);
    curl_free(esc);
    return p;
}

sd_status avro_registry_register(avro_registry *r, const char *subject, const char *schema_json,
                                 int32_t *id, sd_error *err) {
    sd_buf post = SD_BUF_INIT, body = SD_BUF_INIT;
    sd_buf_append_str(&post, "{\"schema\":");
    sd_json_append_string(&post, schema_json, strlen(schema_json));
    sd_buf_append_byte(&post, '}');
    pthread_mutex_lock(&r->lock);
    char *path = subject_path(r, subject, "");
    char what[300];
    snprintf(what, sizeof(what), "register under subject \"%s\"", subject);
    long status = 0;
    sd_json *j = NULL;
    sd_status st = registry_request(r, "POST", path, sd_buf_cstr(&post), &status, &body, err);
    if (st == SD_OK && status != 200) st = registry_refused(r, what, status, &body, err);
    if (st == SD_OK && (j = parse_reply(r, what, &body, err)) == NULL) st = SD_ERR_REMOTE;
    int64_t v;
    if (st == SD_OK) {
        if (sd_json_as_int64(sd_json_get(j, "id"), &v) && v >= 0 && v <= INT32_MAX)
            *id = (int32_t)v;
        else
            st = sd_error_set(err, SD_ERR_REMOTE, "Schema Registry: %s: reply has no \"id\"", what);
    }
    pthread_mutex_unlock(&r->lock);
    sd_json_free(j);
    free(path);
    sd_buf_free(&post);
    sd_buf_free(&body);
    return st;
}

sd_status avro_registry_latest(avro_registry *r, const char *subject, int32_t *id, int *version,
                               char **schema_json, sd_error *err) {
    sd_buf body = SD_BUF_INIT;
    pthread_mutex_lock(&r->lock);
    char *path = subject_path(r, subject, "/latest");
    char what[300];
    snprintf(what, sizeof(what), "latest version of subject \"%s\"", subject);
    long status = 0;
    sd_json *j = NULL;
    sd_status st = registry_request(r, "GET", path, NULL, &status, &body, err);
    pthread_mutex_unlock(&r->lock);
    if (st == SD_OK && status != 200) st = registry_refused(r, what, status, &body, err);
    if (st == SD_OK && (j = parse_reply(r, what, &body, err)) == NULL) st = SD_ERR_REMOTE;
    int64_t vid, vver;
    const char *text = j ? sd_json_as_string(sd_json_get(j, "schema")) : NULL;
    if (st == SD_OK && (!sd_json_as_int64(sd_json_get(j, "id"), &vid) ||
                        !sd_json_as_int64(sd_json_get(j, "version"), &vver) || text == NULL))
        st = sd_error_set(err, SD_ERR_REMOTE,
                          "Schema Registry: %s: reply lacks id, version or schema", what);
    if (st == SD_OK) {
        if (id) *id = (int32_t)vid;
        if (version) *version = (int)vver;
        if (schema_json) *schema_json = sd_xstrdup(text);
    }
    sd_json_free(j);
    free(path);
    sd_buf_free(&body);
    return st;
}
