/*
 * srv_int.h - state shared by the files of the HTTP server (server.c,
 * http.c, api.c, write.c, admin.c); not used outside server/.
 */
#ifndef SERVER_SRV_INT_H
#define SERVER_SRV_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/buf.h"
#include "query/query.h"
#include "server/flags.h"
#include "server/params.h"
#include "tsdb/tsdb.h"

/* Most bytes of a request body: remote write and imports are bounded by this. */
#define SRV_MAX_BODY (512u << 20)
/* Most bytes of a form body on the query endpoints. */
#define SRV_MAX_FORM (32u << 20)
/* Most bytes of a JSON response. */
#define SRV_MAX_RESPONSE (4ull << 30)
/* Most parameters of one request. */
#define SRV_MAX_PARAMS 100000

struct srv {
    struct srv_flags flags;
    struct tsdb *db;        /* set once by the opener thread, before ready */
    atomic_int ready;       /* 1 once the TSDB is open and its WAL replayed */
    atomic_int open_failed; /* 1 if tsdb_open failed (the server then shuts down) */
    struct query_engine *engine;
    struct query_queryable qq;
    int64_t start_time_ms;
    char cwd[1024];
};

/* A request being received; lives from the first callback to completion. */
struct srv_req {
    const char *method;
    const char *path;
    char *raw_query;              /* the URL after '?', undecoded (owned), or NULL */
    char *content_type;           /* owned copy, or NULL */
    const char *content_encoding; /* borrowed from MHD for the request's life */
    struct pl_buf body;
    int body_over_limit;
    struct srv_params params;
    const struct srv_route *route;
    const char *path_arg; /* the <name> of /api/v1/label/<name>/values (points into path) */
    size_t path_arg_len;
    int64_t start_ns;
};

/* What a handler answers. The body is JSON unless content_type says otherwise. */
struct srv_resp {
    int status;
    const char *content_type; /* static string */
    struct pl_buf body;
};

typedef void (*srv_handler_fn)(struct srv *s, struct srv_req *req, struct srv_resp *resp);

enum {
    SRV_GET = 1,
    SRV_POST = 2,
    SRV_PUT = 4,
};

struct srv_route {
    const char *path; /* exact path, or a prefix when prefix_arg is set */
    int methods;      /* SRV_GET | SRV_POST ... */
    srv_handler_fn fn;
    int needs_ready; /* 503 until the TSDB is open */
    int raw_body;    /* the body is not a form (remote write, import) */
    int prefix_arg;  /* "/api/v1/label/" + <name> + "/values" */
};

/* ---- http.c ---- */
int srv__http_start(struct srv *s, struct pl_err *err);
void srv__http_quiesce(void);
void srv__http_stop(void);

/* Sets a JSON success body: {"status":"success","data":<data>}. Takes data's text. */
void srv__resp_success(struct srv_resp *r, const struct pl_buf *data);
/* Sets a Prometheus error body with the status. */
void srv__resp_error(struct srv_resp *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets a text/plain body. */
void srv__resp_text(struct srv_resp *r, int status, const char *text);

/* ---- api.c ---- */
void srv__api_query(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_query_range(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_format_query(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_series(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_labels(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_label_values(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_exemplars(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_metadata(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_buildinfo(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_flags(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_runtimeinfo(struct srv *s, struct srv_req *req, struct srv_resp *resp);

/* ---- write.c ---- */
void srv__api_remote_write(struct srv *s, struct srv_req *req, struct srv_resp *resp);

/* ---- admin.c ---- */
void srv__api_delete_series(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_clean_tombstones(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_snapshot(struct srv *s, struct srv_req *req, struct srv_resp *resp);

#endif
