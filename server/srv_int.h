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

struct exp_registry;
struct exp_family;
struct coll_config;
struct coll_scrape_manager;
struct coll_scrape_options;

struct srv {
    struct srv_flags flags;
    struct tsdb *db;        /* set once by the opener thread, before ready */
    atomic_int ready;       /* 1 once the TSDB is open and its WAL replayed */
    atomic_int open_failed; /* 1 if tsdb_open failed (the server then shuts down) */
    struct query_engine *engine;
    volatile int cancel_queries; /* set at shutdown: running queries stop */
    struct query_queryable qq;
    int64_t start_time_ms;
    /* Scraping (collector/scrape.h): the configuration waiting for the TSDB, then the manager. */
    struct coll_config *pending_config; /* owned until handed to the manager */
    struct coll_scrape_manager *scrape; /* set by the opener thread before ready */
    pthread_mutex_t reload_mu;          /* one reload at a time (SIGHUP, POST /-/reload) */
    atomic_int reload_ok;               /* last configuration load succeeded */
    _Atomic int64_t last_config_ms;     /* when it was last loaded successfully */
    /* Self-metrics (metrics.c); NULL registry when they could not be set up. */
    struct exp_registry *reg;
    struct exp_family *http_requests, *http_duration;
    struct exp_family *interval_length, *sync_length; /* summaries fed by the scrape manager */
    struct exp_metric *engine_queries; /* queries being evaluated (gauge), or NULL */
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
    int answered; /* a response is queued; later calls only drain the body */
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
    int metrics;     /* GET /metrics, served by libpromlite-client (fn unused) */
};

/* ---- http.c ---- */
int srv__http_start(struct srv *s, struct pl_err *err);
/* The address actually bound (port 0 resolved), as host:port. */
int srv__http_bound_address(char *out, size_t n);
void srv__http_quiesce(void);
/* Waits up to timeout_ms for requests in progress to be answered; returns how many remain. */
int srv__http_drain(int64_t timeout_ms);
void srv__http_stop(void);

/* Sets a JSON success body: {"status":"success","data":<data>}. Takes data's text. */
void srv__resp_success(struct srv_resp *r, const struct pl_buf *data);
/* Sets a Prometheus error body with the status. */
void srv__resp_error(struct srv_resp *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets a text/plain body. */
void srv__resp_text(struct srv_resp *r, int status, const char *text);

/* ---- api.c ---- */

/* One parsed match[] selector: its matchers borrow from expr. */
struct srv_selector {
    struct query_expr *expr;
    struct tsdb_matcher **ms;
    size_t n;
};
struct srv_selectors {
    struct srv_selector *v;
    size_t n;
};
/*
 * Parses every match[] of the request as a series selector, as Prometheus's
 * ParseMetricSelector does. need_nonempty: refuse selectors whose matchers
 * all match "" (series, delete_series). On error answers 400 and returns -1.
 */
int srv__selectors_parse(struct srv_req *req, struct srv_selectors *sel, int need_nonempty,
                         struct srv_resp *resp);
void srv__selectors_free(struct srv_selectors *sel);

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
void srv__api_targets(struct srv *s, struct srv_req *req, struct srv_resp *resp);

/* ---- server.c ---- */
/*
 * Reloads --config.file (the embedded default without one) into the scrape
 * manager. On failure the running configuration stays; err says why.
 */
int srv__reload(struct srv *s, struct pl_err *err);

/* ---- metrics.c ---- */
struct MHD_Connection;
int srv__metrics_init(struct srv *s);
/* Records a finished request; `handler` is the route's path pattern. */
void srv__metrics_observe(struct srv *s, const char *handler, int code, double seconds);
/* Serves /metrics on c; returns the MHD_queue_response result. */
int srv__metrics_respond(struct srv *s, struct MHD_Connection *c);
void srv__metrics_free(struct srv *s);
/* Sets the scrape manager's observer so its summaries reach the self-metrics. */
void srv__metrics_scrape_options(struct srv *s, struct coll_scrape_options *o);
/* Go's time.Duration.String() for whole milliseconds (OUT: out). */
void srv__go_duration(int64_t ms, char *out, size_t n);

/* ---- write.c ---- */
void srv__api_remote_write(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_import(struct srv *s, struct srv_req *req, struct srv_resp *resp);

/* ---- admin.c ---- */
void srv__api_delete_series(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_clean_tombstones(struct srv *s, struct srv_req *req, struct srv_resp *resp);
void srv__api_snapshot(struct srv *s, struct srv_req *req, struct srv_resp *resp);

#endif
