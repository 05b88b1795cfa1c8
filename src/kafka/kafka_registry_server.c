/*
 * kafka_registry_server.c - a Confluent-compatible Schema Registry for local
 * development, served with libmicrohttpd on 127.0.0.1.
 *
 * Implemented (the calls Confluent's serializers, kcat and our own client
 * make; see Confluent's Schema Registry API reference):
 *   GET  /subjects                               ["s", ...]
 *   GET  /subjects/{s}/versions                  [1, 2, ...]
 *   GET  /subjects/{s}/versions/{n|latest}       {subject, version, id, schema}
 *   GET  /subjects/{s}/versions/{n|latest}/schema   the schema itself
 *   POST /subjects/{s}/versions  {"schema": ...} {"id": N}   (register)
 *   POST /subjects/{s}           {"schema": ...} {subject, version, id, schema}
 *   GET  /schemas/ids/{id}                       {"schema": ...}
 *   GET  /schemas/ids/{id}/versions              [{subject, version}, ...]
 *   GET  /config, GET /config/{s}                {"compatibilityLevel": "NONE"}
 *   POST /streamdelta/topics {"topic","partitions"}   create a topic on the
 *        embedded cluster (it has no CreateTopics API of its own)
 *
 * Schemas are identified by their JSON with insignificant whitespace
 * removed, so registering the same schema twice, under any subject, returns
 * the same id, as Confluent does. Compatibility is not enforced (the level
 * reported is NONE, which is the truth). Errors use Confluent's bodies,
 * {"error_code": 40403, "message": "Schema not found"}.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"

/* A request body larger than this is refused (413): Avro schemas are
 * kilobytes, and the store is in memory. */
#define REGISTRY_MAX_BODY (4u << 20)
#define REGISTRY_CONTENT_TYPE "application/vnd.schemaregistry.v1+json"

typedef struct registry_schema {
    char *text; /* compact JSON: identity and what GET returns */
} registry_schema;

typedef struct registry_subject {
    char *name;
    int nversions;
    int *ids; /* ids[v - 1] is the schema id of version v */
} registry_subject;

struct kafka_registry_server {
    struct MHD_Daemon *daemon;
    int port;
    pthread_mutex_t lock;
    int nschemas; /* schema id i + 1 is schemas[i] */
    registry_schema *schemas;
    int nsubjects;
    registry_subject *subjects;
    kafka_topic_create_fn create_topic;
    void *opaque;
};

/* One HTTP request in progress: the body arrives in pieces. */
typedef struct registry_request {
    sd_buf body;
    bool too_large;
} registry_request;

/* A reply under construction. */
typedef struct registry_reply {
    unsigned status;
    sd_buf body;
} registry_reply;

static void registry_error(registry_reply *r, unsigned status, int code, const char *message) {
    r->status = status;
    sd_buf_reset(&r->body);
    sd_buf_appendf(&r->body, "{\"error_code\":%d,\"message\":", code);
    sd_json_append_string(&r->body, message, strlen(message));
    sd_buf_append_byte(&r->body, '}');
}

static registry_subject *registry_find_subject(kafka_registry_server *s, const char *name) {
    for (int i = 0; i < s->nsubjects; i++)
        if (strcmp(s->subjects[i].name, name) == 0) return &s->subjects[i];
    return NULL;
}

static int registry_find_schema(const kafka_registry_server *s, const char *text) {
    for (int i = 0; i < s->nschemas; i++)
        if (strcmp(s->schemas[i].text, text) == 0) return i + 1;
    return 0;
}

/* Parse "n" or "latest" against a subject; 0 when invalid or absent. */
static int registry_version(const registry_subject *subj, const char *v) {
    if (strcmp(v, "latest") == 0 || strcmp(v, "-1") == 0) return subj->nversions;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < 1 || n > subj->nversions) return 0;
    return (int)n;
}

/* The body's "schema" member, re-serialised compactly. Returns false and
 * fills the reply with 422 / 400 when the body is not a schema request. */
static bool registry_schema_from_body(const char *body, size_t len, sd_buf *schema_text,
                                      registry_reply *r) {
    sd_error err = {0};
    sd_json *req = sd_json_parse(body, len, &err);
    if (req == NULL) {
        registry_error(r, 400, 400, err.msg);
        return false;
    }
    bool ok = false;
    const char *type = sd_json_as_string(sd_json_get(req, "schemaType"));
    const char *schema = sd_json_as_string(sd_json_get(req, "schema"));
    if (type != NULL && strcmp(type, "AVRO") != 0) {
        registry_error(r, 422, 42201, "only AVRO schemas are supported by this registry");
    } else if (schema == NULL) {
        registry_error(r, 422, 42201, "request body has no \"schema\" string");
    } else {
        sd_json *parsed = sd_json_parse(schema, strlen(schema), &err);
        if (parsed == NULL) {
            char msg[SD_ERROR_MSG_MAX + 32];
            snprintf(msg, sizeof(msg), "Invalid schema: %s", err.msg);
            registry_error(r, 422, 42201, msg);
        } else {
            sd_json_append(schema_text, parsed);
            sd_json_free(parsed);
            ok = true;
        }
    }
    sd_json_free(req);
    return ok;
}

static void registry_version_body(registry_reply *r, const registry_subject *subj, int version,
                                  const char *schema_text) {
    sd_buf_appendf(&r->body, "{\"subject\":");
    sd_json_append_string(&r->body, subj->name, strlen(subj->name));
    sd_buf_appendf(&r->body, ",\"version\":%d,\"id\":%d,\"schema\":", version,
                   subj->ids[version - 1]);
    sd_json_append_string(&r->body, schema_text, strlen(schema_text));
    sd_buf_append_byte(&r->body, '}');
}

/* POST /subjects/{s}/versions */
static void registry_register(kafka_registry_server *s, const char *subject, const char *schema,
                              registry_reply *r) {
    int id = registry_find_schema(s, schema);
    if (id == 0) {
        s->schemas = sd_xrealloc(s->schemas, sizeof(*s->schemas) * (size_t)(s->nschemas + 1));
        s->schemas[s->nschemas].text = sd_xstrdup(schema);
        id = ++s->nschemas;
    }
    registry_subject *subj = registry_find_subject(s, subject);
    if (subj == NULL) {
        s->subjects = sd_xrealloc(s->subjects, sizeof(*s->subjects) * (size_t)(s->nsubjects + 1));
        subj = &s->subjects[s->nsubjects++];
        subj->name = sd_xstrdup(subject);
        subj->nversions = 0;
        subj->ids = NULL;
    }
    bool known = false;
    for (int v = 0; v < subj->nversions; v++) known = known || subj->ids[v] == id;
    if (!known) {
        subj->ids = sd_xrealloc(subj->ids, sizeof(int) * (size_t)(subj->nversions + 1));
        subj->ids[subj->nversions++] = id;
    }
    sd_buf_appendf(&r->body, "{\"id\":%d}", id);
}

/* POST /subjects/{s}: is this schema registered under s? */
static void registry_lookup(kafka_registry_server *s, const char *subject, const char *schema,
                            registry_reply *r) {
    registry_subject *subj = registry_find_subject(s, subject);
    if (subj == NULL) {
        registry_error(r, 404, 40401, "Subject not found.");
        return;
    }
    int id = registry_find_schema(s, schema);
    for (int v = 0; id != 0 && v < subj->nversions; v++)
        if (subj->ids[v] == id) {
            registry_version_body(r, subj, v + 1, schema);
            return;
        }
    registry_error(r, 404, 40403, "Schema not found");
}

static void registry_list_subjects(kafka_registry_server *s, registry_reply *r) {
    sd_buf_append_byte(&r->body, '[');
    for (int i = 0; i < s->nsubjects; i++) {
        if (i) sd_buf_append_byte(&r->body, ',');
        sd_json_append_string(&r->body, s->subjects[i].name, strlen(s->subjects[i].name));
    }
    sd_buf_append_byte(&r->body, ']');
}

/* GET /subjects/{s}/versions[/{v}[/schema]] */
static void registry_get_subject(kafka_registry_server *s, char **seg, int nseg,
                                 registry_reply *r) {
    registry_subject *subj = registry_find_subject(s, seg[1]);
    if (subj == NULL) {
        registry_error(r, 404, 40401, "Subject not found.");
        return;
    }
    if (nseg == 3) {
        sd_buf_append_byte(&r->body, '[');
        for (int v = 1; v <= subj->nversions; v++)
            sd_buf_appendf(&r->body, "%s%d", v > 1 ? "," : "", v);
        sd_buf_append_byte(&r->body, ']');
        return;
    }
    int version = registry_version(subj, seg[3]);
    if (version == 0) {
        registry_error(r, 404, 40402, "Version not found.");
        return;
    }
    const char *text = s->schemas[subj->ids[version - 1] - 1].text;
    if (nseg == 5 && strcmp(seg[4], "schema") == 0) {
        sd_buf_append_str(&r->body, text);
        return;
    }
    if (nseg != 4) {
        registry_error(r, 404, 404, "HTTP 404 Not Found");
        return;
    }
    registry_version_body(r, subj, version, text);
}

/* GET /schemas/ids/{id}[/versions] */
static void registry_get_schema(kafka_registry_server *s, char **seg, int nseg, registry_reply *r) {
    char *end;
    long id = strtol(seg[2], &end, 10);
    if (*end != '\0' || id < 1 || id > s->nschemas) {
        registry_error(r, 404, 40403, "Schema not found");
        return;
    }
    if (nseg == 3) {
        sd_buf_append_str(&r->body, "{\"schema\":");
        const char *text = s->schemas[id - 1].text;
        sd_json_append_string(&r->body, text, strlen(text));
        sd_buf_append_byte(&r->body, '}');
        return;
    }
    if (nseg != 4 || strcmp(seg[3], "versions") != 0) {
        registry_error(r, 404, 404, "HTTP 404 Not Found");
        return;
    }
    sd_buf_append_byte(&r->body, '[');
    bool first = true;
    for (int i = 0; i < s->nsubjects; i++)
        for (int v = 0; v < s->subjects[i].nversions; v++) {
            if (s->subjects[i].ids[v] != id) continue;
            sd_buf_append_str(&r->body, first ? "{\"subject\":" : ",{\"subject\":");
            sd_json_append_string(&r->body, s->subjects[i].name, strlen(s->subjects[i].name));
            sd_buf_appendf(&r->body, ",\"version\":%d}", v + 1);
            first = false;
        }
    sd_buf_append_byte(&r->body, ']');
}

/* POST /streamdelta/topics {"topic": "t", "partitions": 3} */
static void registry_create_topic(kafka_registry_server *s, const char *body, size_t len,
                                  registry_reply *r) {
    if (s->create_topic == NULL) {
        registry_error(r, 404, 404, "HTTP 404 Not Found");
        return;
    }
    sd_error err = {0};
    sd_json *req = sd_json_parse(body, len, &err);
    if (req == NULL) {
        registry_error(r, 400, 400, err.msg);
        return;
    }
    const char *topic = sd_json_as_string(sd_json_get(req, "topic"));
    int64_t partitions = 0;
    if (topic == NULL || !sd_json_as_int64(sd_json_get(req, "partitions"), &partitions) ||
        partitions < 1 || partitions > 10000) {
        registry_error(r, 422, 422, "expected {\"topic\": NAME, \"partitions\": 1..10000}");
    } else if (s->create_topic(s->opaque, topic, (int)partitions, &err) != SD_OK) {
        registry_error(r, err.code == SD_ERR_EXISTS ? 409 : 422,
                       err.code == SD_ERR_EXISTS ? 40901 : 422, err.msg);
    } else {
        sd_buf_append_str(&r->body, "{\"topic\":");
        sd_json_append_string(&r->body, topic, strlen(topic));
        sd_buf_appendf(&r->body, ",\"partitions\":%d}", (int)partitions);
    }
    sd_json_free(req);
}

/* Split "/a/b/c" into at most `max` segments (in place). */
static int registry_split(char *path, char **seg, int max) {
    int n = 0;
    for (char *p = strtok(path, "/"); p != NULL && n < max; p = strtok(NULL, "/")) seg[n++] = p;
    return n;
}

/* Route one complete request; called with the store locked. */
static void registry_route(kafka_registry_server *s, const char *method, const char *url,
                           const char *body, size_t body_len, registry_reply *r) {
    char path[2048];
    if (strlen(url) >= sizeof(path)) {
        registry_error(r, 414, 414, "URI too long");
        return;
    }
    strcpy(path, url);
    char *seg[8];
    int nseg = registry_split(path, seg, 8);
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    r->status = 200;

    if (get && nseg == 0) {
        sd_buf_append_str(&r->body, "{}");
        return;
    }
    if (nseg >= 1 && strcmp(seg[0], "config") == 0 && get && nseg <= 2) {
        sd_buf_append_str(&r->body, "{\"compatibilityLevel\":\"NONE\"}");
        return;
    }
    if (nseg >= 1 && strcmp(seg[0], "subjects") == 0) {
        if (get && nseg == 1) {
            registry_list_subjects(s, r);
            return;
        }
        if (get && nseg >= 3 && strcmp(seg[2], "versions") == 0) {
            registry_get_subject(s, seg, nseg, r);
            return;
        }
        if (post && (nseg == 2 || (nseg == 3 && strcmp(seg[2], "versions") == 0))) {
            sd_buf schema = SD_BUF_INIT;
            if (registry_schema_from_body(body, body_len, &schema, r)) {
                if (nseg == 3)
                    registry_register(s, seg[1], sd_buf_cstr(&schema), r);
                else
                    registry_lookup(s, seg[1], sd_buf_cstr(&schema), r);
            }
            sd_buf_free(&schema);
            return;
        }
    }
    if (get && nseg >= 3 && strcmp(seg[0], "schemas") == 0 && strcmp(seg[1], "ids") == 0) {
        registry_get_schema(s, seg, nseg, r);
        return;
    }
    if (post && nseg == 2 && strcmp(seg[0], "streamdelta") == 0 && strcmp(seg[1], "topics") == 0) {
        registry_create_topic(s, body, body_len, r);
        return;
    }
    if (!get && !post) {
        registry_error(r, 405, 405, "HTTP 405 Method Not Allowed");
        return;
    }
    registry_error(r, 404, 404, "HTTP 404 Not Found");
}

static enum MHD_Result registry_send(struct MHD_Connection *conn, registry_reply *r) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->body.len, r->body.data, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", REGISTRY_CONTENT_TYPE);
    enum MHD_Result ret = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result registry_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **con_cls) {
    (void)version;
    kafka_registry_server *s = cls;
    registry_request *req = *con_cls;
    if (req == NULL) { /* first call: headers only */
        *con_cls = sd_xcalloc(1, sizeof(registry_request));
        return MHD_YES;
    }
    if (*upload_data_size > 0) { /* a piece of the body */
        if (req->body.len + *upload_data_size > REGISTRY_MAX_BODY)
            req->too_large = true;
        else
            sd_buf_append(&req->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    registry_reply reply = {200, SD_BUF_INIT};
    if (req->too_large) {
        registry_error(&reply, 413, 413, "request body too large");
    } else {
        pthread_mutex_lock(&s->lock);
        registry_route(s, method, url, (const char *)req->body.data, req->body.len, &reply);
        pthread_mutex_unlock(&s->lock);
    }
    enum MHD_Result ret = registry_send(conn, &reply);
    sd_buf_free(&reply.body);
    return ret;
}

static void registry_request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                                  enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)conn, (void)toe;
    registry_request *req = *con_cls;
    if (req == NULL) return;
    sd_buf_free(&req->body);
    free(req);
    *con_cls = NULL;
}

kafka_registry_server *kafka_registry_server_start(int port, kafka_topic_create_fn create_topic,
                                                   void *opaque, sd_error *err) {
    if (port < 0 || port > 65535) {
        sd_error_set(err, SD_ERR_ARG, "registry port %d is out of range (0..65535)", port);
        return NULL;
    }
    kafka_registry_server *s = sd_xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->create_topic = create_topic;
    s->opaque = opaque;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, (uint16_t)port, NULL, NULL,
                         registry_handle, s, MHD_OPTION_SOCK_ADDR, &addr,
                         MHD_OPTION_NOTIFY_COMPLETED, registry_request_done, s, MHD_OPTION_END);
    if (s->daemon == NULL) {
        sd_error_set(err, SD_ERR_IO,
                     "cannot serve the schema registry on 127.0.0.1:%d (port in use? pick another "
                     "with --registry-port, or 0 for any free port)",
                     port);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info != NULL ? info->port : port;
    return s;
}

int kafka_registry_server_port(const kafka_registry_server *s) {
    return s->port;
}

void kafka_registry_server_stop(kafka_registry_server *s) {
    if (s == NULL) return;
    MHD_stop_daemon(s->daemon);
    for (int i = 0; i < s->nschemas; i++) free(s->schemas[i].text);
    free(s->schemas);
    for (int i = 0; i < s->nsubjects; i++) {
        free(s->subjects[i].name);
        free(s->subjects[i].ids);
    }
    free(s->subjects);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
