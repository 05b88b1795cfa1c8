/*
 * test_avro_registry.c - the Schema Registry client against a tiny HTTP
 * server forked by the test on 127.0.0.1: it answers a fixed list of canned
 * replies, one per connection, and logs each request so the test can check
 * the method, path, body and headers (basic auth) that were sent.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_avro_util.h"

typedef struct canned {
    int status;
    const char *body;
} canned;

typedef struct fake_registry {
    pid_t pid;
    int port;
    char log[512];
    char url[64];
} fake_registry;

/* Serve one request: read head (and body per Content-Length), log, reply. */
static void serve_one(int fd, const canned *c, FILE *log) {
    char req[16384];
    size_t n = 0;
    char *end = NULL;
    while (n < sizeof(req) - 1) {
        ssize_t k = read(fd, req + n, sizeof(req) - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
        req[n] = '\0';
        if ((end = strstr(req, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(req, "Content-Length:");
            size_t want = cl ? (size_t)atol(cl + 15) : 0;
            if (n >= (size_t)(end + 4 - req) + want) break;
        }
    }
    fwrite(req, 1, n, log);
    fputs("\n----\n", log);
    fflush(log);
    char head[256];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      c->status, strlen(c->body));
    if (write(fd, head, (size_t)hn) < 0 || write(fd, c->body, strlen(c->body)) < 0) return;
}

static bool fake_start(fake_registry *fr, const canned *replies, int n) {
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 8) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &alen) != 0)
        return false;
    fr->port = ntohs(a.sin_port);
    snprintf(fr->url, sizeof(fr->url), "http://127.0.0.1:%d/", fr->port);
    snprintf(fr->log, sizeof(fr->log), "%s/registry-%d.log", unit_tmpdir(), fr->port);
    fr->pid = fork();
    if (fr->pid == 0) {
        FILE *log = fopen(fr->log, "w");
        for (int i = 0; i < n && log; i++) {
            int fd = accept(ls, NULL, NULL);
            if (fd < 0) break;
            serve_one(fd, &replies[i], log);
            close(fd);
        }
        if (log) fclose(log);
        _exit(0);
    }
    close(ls);
    return fr->pid > 0;
}

/* Stop the server (if it still waits) and return its request log. */
static char *fake_stop(fake_registry *fr) {
    kill(fr->pid, SIGTERM);
    waitpid(fr->pid, NULL, 0);
    FILE *f = fopen(fr->log, "r");
    sd_buf b = SD_BUF_INIT;
    char chunk[4096];
    size_t k;
    while (f && (k = fread(chunk, 1, sizeof(chunk), f)) > 0) sd_buf_append(&b, chunk, k);
    if (f) fclose(f);
    sd_buf_append_byte(&b, 0);
    return (char *)b.data;
}

static avro_registry *client(const char *url, const char *auth) {
    avro_registry_conf conf = {.url = url,
                               .basic_auth = auth,
                               .max_retries = 2,
                               .backoff_ms = 10,
                               .connect_timeout_ms = 2000,
                               .timeout_ms = 5000};
    sd_error err = {0};
    avro_registry *r = avro_registry_new(&conf, &err);
    if (r == NULL) unit_fail(__FILE__, __LINE__, "%s", err.msg);
    return r;
}

#define MOVIE_REPLY                                                                                \
    "{\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"MovieRating\\\","                 \
    "\\\"namespace\\\":"                                                                           \
    "\\\"io.movies\\\",\\\"fields\\\":[{\\\"name\\\":\\\"event_id\\\",\\\"type\\\":"               \
    "\\\"string\\\"}]}\"}"

TEST(avro_registry_fetch_by_id_and_cache) {
    canned replies[] = {{200, MOVIE_REPLY}};
    fake_registry fr;
    CHECK(fake_start(&fr, replies, 1));
    avro_registry *r = client(fr.url, "alice:s3cret");
    sd_error err = {0};
    const avro_schema *s = NULL, *again = NULL;
    CHECK_OK(avro_registry_get(r, 42, &s, &err), &err);
    CHECK(s && strcmp(avro_schema_root(s)->fullname, "io.movies.MovieRating") == 0);
    CHECK_OK(avro_registry_get(r, 42, &again, &err), &err); /* cache hit: no request */
    CHECK(again == s);
    CHECK_INT(avro_registry_requests(r), 1);
    char *log = fake_stop(&fr);
    CHECK(strstr(log, "GET /schemas/ids/42 HTTP/1.1") != NULL);
    /* base64("alice:s3cret") */
    CHECK(strstr(log, "Authorization: Basic YWxpY2U6czNjcmV0") != NULL);
    free(log);
    avro_registry_free(r);
}

TEST(avro_registry_404_is_not_found_without_retry) {
    canned replies[] = {{404, "{\"error_code\":40403,\"message\":\"Schema 9 not found\"}"}};
    fake_registry fr;
    CHECK(fake_start(&fr, replies, 1));
    avro_registry *r = client(fr.url, NULL);
    sd_error err = {0};
    const avro_schema *s = NULL;
    CHECK_INT(avro_registry_get(r, 9, &s, &err), SD_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "schema id 9: HTTP 404 (40403: Schema 9 not found)") != NULL);
    CHECK_INT(avro_registry_requests(r), 1);
    char *log = fake_stop(&fr);
    CHECK(strstr(log, "Authorization:") == NULL);
    free(log);
    avro_registry_free(r);
}

TEST(avro_registry_retries_5xx_then_succeeds) {
    canned replies[] = {
        {503, "{\"error_code\":50003,\"message\":\"busy\"}"}, {500, "oops"}, {200, MOVIE_REPLY}};
    fake_registry fr;
    CHECK(fake_start(&fr, replies, 3));
    avro_registry *r = client(fr.url, NULL);
    sd_error err = {0};
    const avro_schema *s = NULL;
    CHECK_OK(avro_registry_get(r, 1, &s, &err), &err);
    CHECK_INT(avro_registry_requests(r), 3);
    free(fake_stop(&fr));
    avro_registry_free(r);
}

TEST(avro_registry_unreachable_is_retriable) {
    /* A port nobody listens on: bind, note it, close. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    CHECK(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
          getsockname(s, (struct sockaddr *)&a, &alen) == 0);
    close(s);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    avro_registry *r = client(url, NULL);
    sd_error err = {0};
    const avro_schema *sc = NULL;
    CHECK_INT(avro_registry_get(r, 5, &sc, &err), SD_ERR_RETRY);
    CHECK(strstr(err.msg, url) && strstr(err.msg, "failed after 3 attempts"));
    CHECK_INT(avro_registry_requests(r), 3);

    /* Through a stream: the message is not judged (no dead letter). */
    avro_schema *reader = must_schema(
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}");
    sd_schema *cols = NULL;
    CHECK_OK(avro_to_sd_schema(reader, NULL, &cols, &err), &err);
    avro_stream *st = avro_stream_new(reader, cols, r, NULL, &err);
    sd_batch b;
    sd_batch_init(&b, cols);
    uint8_t msg[] = {0, 0, 0, 0, 5, 2};
    avro_reject rej = {0};
    sd_error_clear(&err);
    CHECK_INT(avro_stream_decode(st, &b, msg, sizeof(msg), "t", 0, 1, &rej, &err), SD_ERR_RETRY);
    CHECK_INT(rej.reason, AVRO_REJECT_NONE);
    CHECK_INT(b.nrows, 0);
    sd_batch_free(&b);
    avro_stream_free(st);
    sd_schema_free(cols);
    avro_schema_free(reader);
    avro_registry_free(r);

    sd_error_clear(&err);
    avro_registry_conf bad = {.url = "ftp://x"};
    CHECK(avro_registry_new(&bad, &err) == NULL);
    CHECK(strstr(err.msg, "must start with http://") != NULL);
}

TEST(avro_registry_register_latest_and_stream) {
    canned replies[] = {
        {200, "{\"id\":12}"},
        {200, "{\"subject\":\"movie.ratings.v1-value\",\"id\":12,\"version\":3,\"schema\":"
              "\"\\\"int\\\"\"}"},
        {404, "{\"error_code\":40403,\"message\":\"Schema 77 not found\"}"},
        {200, "{\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"r\\\",\\\"fields\\\":[{"
              "\\\"name\\\":"
              "\\\"a\\\",\\\"type\\\":\\\"int\\\"},{\\\"name\\\":\\\"b\\\",\\\"type\\\":"
              "\\\"string\\\"}]}\"}"},
    };
    fake_registry fr;
    CHECK(fake_start(&fr, replies, 4));
    avro_registry *r = client(fr.url, NULL);
    sd_error err = {0};
    int32_t id = 0;
    CHECK_OK(avro_registry_register(r, "movie.ratings.v1-value", "{\"type\":\"int\"}", &id, &err),
             &err);
    CHECK_INT(id, 12);
    int version = 0;
    char *text = NULL;
    CHECK_OK(avro_registry_latest(r, "movie.ratings.v1-value", &id, &version, &text, &err), &err);
    CHECK_INT(version, 3);
    CHECK_STR(text, "\"int\"");
    free(text);

    /* A stream asks the registry once per id: 77 is unknown (dead letter,
     * cached), 78 resolves (writer has an extra field the reader skips). */
    avro_schema *reader = must_schema(
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"}]}");
    sd_schema *cols = NULL;
    CHECK_OK(avro_to_sd_schema(reader, NULL, &cols, &err), &err);
    avro_stream *st = avro_stream_new(reader, cols, r, NULL, &err);
    sd_batch b;
    sd_batch_init(&b, cols);
    avro_reject rej;
    uint8_t unknown[] = {0, 0, 0, 0, 77, 2};
    for (int i = 0; i < 2; i++) {
        sd_error_clear(&err);
        CHECK_INT(avro_stream_decode(st, &b, unknown, sizeof(unknown), "t", 0, i, &rej, &err),
                  SD_ERR_FORMAT);
        CHECK_INT(rej.reason, AVRO_REJECT_UNKNOWN_SCHEMA);
        CHECK(strstr(rej.detail, "40403: Schema 77 not found") != NULL);
    }
    uint8_t good[] = {0, 0, 0, 0, 78, 0x54, 2, 'z'};
    CHECK_OK(avro_stream_decode(st, &b, good, sizeof(good), "t", 0, 5, &rej, &err), &err);
    CHECK_OK(avro_stream_decode(st, &b, good, sizeof(good), "t", 0, 6, &rej, &err), &err);
    CHECK_INT(b.nrows, 2);
    CHECK_INT(((int64_t *)b.cols[0].values)[1], 42);
    CHECK_INT(avro_registry_requests(r), 4);
    char *log = fake_stop(&fr);
    CHECK(strstr(log, "POST /subjects/movie.ratings.v1-value/versions HTTP/1.1") != NULL);
    CHECK(strstr(log, "{\"schema\":\"{\\\"type\\\":\\\"int\\\"}\"}") != NULL);
    CHECK(strstr(log, "GET /subjects/movie.ratings.v1-value/versions/latest HTTP/1.1") != NULL);
    free(log);
    sd_batch_free(&b);
    avro_stream_free(st);
    sd_schema_free(cols);
    avro_schema_free(reader);
    avro_registry_free(r);
}
