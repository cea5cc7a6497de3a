/*
 * http.c - the HTTP front of `promlite server` on libmicrohttpd: listening
 * socket, request bodies, routing, and the Prometheus response envelopes.
 *
 * MHD gives each connection a thread of its own (MHD_USE_THREAD_PER_CONNECTION),
 * so several queries execute at once and a slow one delays no other request;
 * the query engine bounds how many evaluate together (--query.max-concurrency).
 * (A thread pool is not used: each pool thread accepts several connections at
 * once and serves them in turn, so a /metrics or /-/ready arriving with a long
 * query waited for it.) The raw query string is captured by
 * the URI log callback and decoded by params.c, so that a malformed escape
 * is a 400 as in Prometheus rather than a silently mangled value. Bodies are
 * gathered in a limit-bounded buffer; form bodies are decoded by params.c
 * (form values first, then URL values, as Go's Request.Form). Answers of
 * 1 KiB and more are gzipped when the client accepts it, as Prometheus's
 * compression handler does.
 * Response envelopes: Prometheus HTTP API v1 (docs/querying/api.md).
 */
#include "server/srv_int.h"

#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "server/json.h"

#include <errno.h>
#include <microhttpd.h>
#include <promlite/client.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum gate { GATE_NONE, GATE_REMOTE_WRITE, GATE_ADMIN };

struct route_def {
    struct srv_route r;
    enum gate gate;
};

static void healthy(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    srv__resp_text(resp, 200, "Prometheus Server is Healthy.\n");
}

static void ready(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    if (atomic_load(&s->ready))
        srv__resp_text(resp, 200, "Prometheus Server is Ready.\n");
    else
        srv__resp_text(resp, 503, "Service Unavailable");
}

/* POST /-/quit: a SIGTERM to ourselves, so shutdown takes the one clean path. */
static void quit(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    if (!s->flags.lifecycle) {
        srv__resp_text(resp, 403, "Lifecycle API is not enabled.");
        return;
    }
    srv__resp_text(resp, 200, "Requesting termination... Goodbye!");
    kill(getpid(), SIGTERM);
}

/* POST /-/reload: reload the configuration, as SIGHUP does. */
static void reload(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    if (!s->flags.lifecycle) {
        srv__resp_text(resp, 403, "Lifecycle API is not enabled.");
        return;
    }
    struct pl_err err;
    pl_err_clear(&err);
    if (srv__reload(s, &err)) {
        char msg[700];
        snprintf(msg, sizeof(msg), "failed to reload config: %s", err.msg);
        srv__resp_text(resp, 500, msg);
        return;
    }
    resp->status = 200;
}

#define GP (SRV_GET | SRV_POST)
static const struct route_def routes[] = {
    {{"/-/healthy", SRV_GET, healthy, 0, 0, 0, 0}, GATE_NONE},
    {{"/-/ready", SRV_GET, ready, 0, 0, 0, 0}, GATE_NONE},
    {{"/-/quit", SRV_POST | SRV_PUT, quit, 0, 0, 0, 0}, GATE_NONE},
    {{"/-/reload", SRV_POST | SRV_PUT, reload, 0, 0, 0, 0}, GATE_NONE},
    {{"/api/v1/targets", SRV_GET, srv__api_targets, 1, 0, 0, 0}, GATE_NONE},
    {{"/api/v1/query", GP, srv__api_query, 1, 0, 0, 0}, GATE_NONE},
    {{"/api/v1/query_range", GP, srv__api_query_range, 1, 0, 0, 0}, GATE_NONE},
    {{"/api/v1/format_query", GP, srv__api_format_query, 0, 0, 0, 0}, GATE_NONE},
    {{"/api/v1/series", GP, srv__api_series, 1, 0, 0, 0}, GATE_NONE},
    {{"/api/v1/labels", GP, srv__api_labels, 1, 0, 0, 0}, GATE_NONE},
    {{"/api/v1/label/", SRV_GET, srv__api_label_values, 1, 0, 1, 0}, GATE_NONE},
    {{"/api/v1/query_exemplars", GP, srv__api_exemplars, 1, 0, 0, 0}, GATE_NONE},
    {{"/api/v1/metadata", SRV_GET, srv__api_metadata, 0, 0, 0, 0}, GATE_NONE},
    {{"/api/v1/status/buildinfo", SRV_GET, srv__api_buildinfo, 0, 0, 0, 0}, GATE_NONE},
    {{"/api/v1/status/flags", SRV_GET, srv__api_flags, 0, 0, 0, 0}, GATE_NONE},
    {{"/api/v1/status/runtimeinfo", SRV_GET, srv__api_runtimeinfo, 0, 0, 0, 0}, GATE_NONE},
    {{"/api/v1/write", SRV_POST, srv__api_remote_write, 1, 1, 0, 0}, GATE_REMOTE_WRITE},
    {{"/api/v1/import/prometheus", SRV_POST, srv__api_import, 1, 1, 0, 0}, GATE_REMOTE_WRITE},
    {{"/api/v1/admin/tsdb/delete_series", SRV_POST | SRV_PUT, srv__api_delete_series, 1, 0, 0, 0},
     GATE_ADMIN},
    {{"/api/v1/admin/tsdb/clean_tombstones", SRV_POST | SRV_PUT, srv__api_clean_tombstones, 1, 0, 0,
      0},
     GATE_ADMIN},
    {{"/api/v1/admin/tsdb/snapshot", SRV_POST | SRV_PUT, srv__api_snapshot, 1, 0, 0, 0},
     GATE_ADMIN},
    {{"/metrics", SRV_GET, NULL, 0, 0, 0, 1}, GATE_NONE},
};
#undef GP

static struct MHD_Daemon *daemon_;
static atomic_int active_; /* requests between the URI callback and completion */
static int listen_fd_ = -1;

/* ---- responses ---- */

void srv__resp_text(struct srv_resp *r, int status, const char *text)
{
    r->status = status;
    r->content_type = "text/plain; charset=utf-8";
    pl_buf_reset(&r->body);
    pl_buf_puts(&r->body, text);
}

void srv__resp_success(struct srv_resp *r, const struct pl_buf *data)
{
    r->status = 200;
    r->content_type = "application/json";
    pl_buf_reset(&r->body);
    int rc = pl_buf_reserve(&r->body, data->len + 40);
    if (!rc)
        rc = pl_buf_puts(&r->body, "{\"status\":\"success\",\"data\":");
    if (!rc)
        rc = pl_buf_append(&r->body, data->data ? data->data : "null", data->data ? data->len : 4);
    if (!rc)
        rc = pl_buf_putc(&r->body, '}');
    if (rc)
        srv__resp_error(r, 500, "internal", "response too large");
}

void srv__resp_error(struct srv_resp *r, int status, const char *type, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->status = status;
    r->content_type = "application/json";
    pl_buf_reset(&r->body);
    pl_buf_puts(&r->body, "{\"status\":\"error\",\"errorType\":");
    srv_json_strz(&r->body, type);
    pl_buf_puts(&r->body, ",\"error\":");
    srv_json_strz(&r->body, msg);
    pl_buf_putc(&r->body, '}');
}

/* Bodies at least this long are gzipped for clients that accept it, as Prometheus does. */
#define GZIP_MIN_BYTES 1024

static enum MHD_Result send_resp(struct MHD_Connection *c, struct srv_resp *r)
{
    size_t len = 0;
    char *data = pl_buf_steal(&r->body, &len);
    int gzipped = 0;
    if (data && len >= GZIP_MIN_BYTES &&
        exp_accepts_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding"))) {
        char *z;
        size_t zlen;
        if (exp_gzip(data, len, &z, &zlen) == 0) {
            free(data);
            data = z;
            len = zlen;
            gzipped = 1;
        }
    }
    struct MHD_Response *mr;
    if (data)
        mr = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    else
        mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!mr) {
        free(data);
        return MHD_NO;
    }
    if (r->status != 204 && r->content_type)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (gzipped)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    MHD_add_response_header(mr, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

/* ---- requests ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    atomic_fetch_add(&active_, 1);
    struct srv_req *req = pl_xcalloc(1, sizeof(*req));
    const char *q = uri ? strchr(uri, '?') : NULL;
    if (q)
        req->raw_query = pl_xstrdup(q + 1);
    pl_buf_init(&req->body, SRV_MAX_BODY);
    srv_params_init(&req->params, SRV_MAX_PARAMS);
    req->start_ns = pl_mono_ns();
    return req;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct srv_req *req = *con_cls;
    if (!req)
        return;
    free(req->raw_query);
    free(req->content_type);
    pl_buf_fini(&req->body);
    srv_params_fini(&req->params);
    free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&active_, 1);
}

static int method_bit(const char *m)
{
    if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
        return SRV_GET;
    if (!strcmp(m, "POST"))
        return SRV_POST;
    if (!strcmp(m, "PUT"))
        return SRV_PUT;
    return 0;
}

static const struct route_def *find_route(const char *path, const char **arg, size_t *arglen)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct srv_route *r = &routes[i].r;
        if (!r->prefix_arg) {
            if (!strcmp(path, r->path))
                return &routes[i];
            continue;
        }
        size_t pl = strlen(r->path);
        static const char suffix[] = "/values";
        size_t n = strlen(path);
        if (n > pl + sizeof(suffix) - 1 && !strncmp(path, r->path, pl) &&
            !strcmp(path + n - (sizeof(suffix) - 1), suffix)) {
            *arg = path + pl;
            *arglen = n - pl - (sizeof(suffix) - 1);
            if (!memchr(*arg, '/', *arglen))
                return &routes[i];
        }
    }
    return NULL;
}

static int is_form(const char *ct)
{
    static const char form[] = "application/x-www-form-urlencoded";
    return ct && !strncasecmp(ct, form, sizeof(form) - 1) &&
           (ct[sizeof(form) - 1] == '\0' || ct[sizeof(form) - 1] == ';' ||
            ct[sizeof(form) - 1] == ' ');
}

/* Counts a finished request of a known route in the self-metrics. */
static void observe(struct srv *s, struct srv_req *req, int status)
{
    const char *h = req->route->prefix_arg ? "/api/v1/label/:name/values" : req->route->path;
    srv__metrics_observe(s, h, status, (double)(pl_mono_ns() - req->start_ns) / 1e9);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct srv *s = cls;
    struct srv_req *req = *con_cls;
    struct srv_resp resp = {0, NULL, {0}};
    pl_buf_init(&resp.body, SRV_MAX_RESPONSE);
    enum MHD_Result ret = MHD_YES;

    if (req->answered) {
        /* Answered from the headers already: drop any body MHD still hands over. */
        *upload_data_size = 0;
        pl_buf_fini(&resp.body);
        return MHD_YES;
    }
    if (!req->route) {
        /* First call: headers only. Decide now whether the body is wanted. */
        req->method = method;
        req->path = url;
        const struct route_def *rd = find_route(url, &req->path_arg, &req->path_arg_len);
        if (!rd) {
            srv__resp_text(&resp, 404, "404 page not found\n");
            goto send;
        }
        if (!(rd->r.methods & method_bit(method))) {
            srv__resp_text(&resp, 405, "Method Not Allowed\n");
            goto send;
        }
        if (rd->gate == GATE_REMOTE_WRITE && !s->flags.remote_write_receiver) {
            srv__resp_text(&resp, 404,
                           strcmp(url, "/api/v1/write") == 0
                               ? "remote write receiver needs to be enabled with "
                                 "--web.enable-remote-write-receiver\n"
                               : "the text import needs to be enabled with "
                                 "--web.enable-remote-write-receiver\n");
            goto send;
        }
        if (rd->gate == GATE_ADMIN && !s->flags.admin_api) {
            srv__resp_error(&resp, 503, "unavailable", "admin APIs disabled");
            goto send;
        }
        if (rd->r.needs_ready && !atomic_load(&s->ready)) {
            srv__resp_text(&resp, 503, "Service Unavailable");
            goto send;
        }
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        if (ct)
            req->content_type = pl_xstrdup(ct);
        req->content_encoding = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
        if (!rd->r.raw_body)
            req->body.limit = SRV_MAX_FORM;
        req->route = &rd->r;
        pl_buf_fini(&resp.body);
        return MHD_YES;
    }

    if (*upload_data_size) {
        if (!req->body_over_limit &&
            pl_buf_append(&req->body, upload_data, *upload_data_size) != 0) {
            req->body_over_limit = 1;
            pl_buf_fini(&req->body);
        }
        *upload_data_size = 0;
        pl_buf_fini(&resp.body);
        return MHD_YES;
    }

    /* Last call: the whole body is here. */
    if (req->body_over_limit) {
        srv__resp_error(&resp, 413, "bad_data", "request body larger than %zu bytes",
                        req->body.limit);
        goto send;
    }
    struct pl_err err;
    pl_err_clear(&err);
    if (!req->route->raw_body && is_form(req->content_type) && req->body.len &&
        srv_params_parse_urlencoded(&req->params, req->body.data, req->body.len, &err)) {
        srv__resp_error(&resp, 400, "bad_data", "error parsing form values: %s", err.msg);
        goto send;
    }
    if (req->raw_query &&
        srv_params_parse_urlencoded(&req->params, req->raw_query, strlen(req->raw_query), &err)) {
        srv__resp_error(&resp, 400, "bad_data", "error parsing form values: %s", err.msg);
        goto send;
    }
    if (req->route->metrics) {
        pl_buf_fini(&resp.body);
        if (!s->reg) {
            srv__resp_text(&resp, 500, "self-metrics are unavailable\n");
            goto send;
        }
        ret = srv__metrics_respond(s, c) == MHD_YES ? MHD_YES : MHD_NO;
        observe(s, req, 200);
        return ret;
    }
    req->route->fn(s, req, &resp);

send:
    req->answered = 1;
    if (resp.status >= 500 && resp.status != 503) {
        char code[16];
        snprintf(code, sizeof(code), "%d", resp.status);
        pl_log(PL_LOG_WARN, "web", "request failed", "method", method, "path", url, "status", code,
               NULL);
    } else if (pl_log_enabled(PL_LOG_DEBUG))
        pl_logf(PL_LOG_DEBUG, "web", "%s %s -> %d in %.3f ms", method, url, resp.status,
                (double)(pl_mono_ns() - req->start_ns) / 1e6);
    ret = send_resp(c, &resp);
    pl_buf_fini(&resp.body);
    if (req->route)
        observe(s, req, resp.status);
    return ret;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    pl_log(PL_LOG_WARN, "web", msg, NULL);
}

/* Splits "host:port", "[v6]:port" or ":port" and binds a listening socket. */
static int open_listener(const char *addr, struct pl_err *err)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || !colon[1])
        return pl_err_set(err, PL_ERR_INVALID, "--web.listen-address \"%s\": expected host:port",
                          addr);
    size_t hl = (size_t)(colon - addr);
    const char *h = addr;
    if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof(host))
        return pl_err_set(err, PL_ERR_INVALID, "--web.listen-address \"%s\": host too long", addr);
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &res);
    if (gai)
        return pl_err_set(err, PL_ERR_INVALID, "--web.listen-address \"%s\": %s", addr,
                          gai_strerror(gai));
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 512) == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return pl_err_set(err, -e, "listen on %s: %s", addr, strerror(e));
    listen_fd_ = fd;
    return 0;
}

int srv__http_bound_address(char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (listen_fd_ < 0 || getsockname(listen_fd_, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    char host[NI_MAXHOST], port[NI_MAXSERV];
    if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return -1;
    snprintf(out, n, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
    return 0;
}

int srv__http_start(struct srv *s, struct pl_err *err)
{
    int rc = open_listener(s->flags.listen_address, err);
    if (rc)
        return rc;
    /* The external logger must come first, or MHD logs to stderr until it is set. */
    daemon_ = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
            MHD_USE_ITC | MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, listen_fd_, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)300, MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->flags.max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024), MHD_OPTION_END);
    if (!daemon_) {
        close(listen_fd_);
        listen_fd_ = -1;
        return pl_err_set(err, PL_ERR_IO, "cannot start the HTTP server on %s",
                          s->flags.listen_address);
    }
    return 0;
}

void srv__http_quiesce(void)
{
    if (daemon_) {
        MHD_socket fd = MHD_quiesce_daemon(daemon_);
        if (fd != MHD_INVALID_SOCKET) {
            close(fd);
            listen_fd_ = -1;
        }
    }
}

int srv__http_drain(int64_t timeout_ms)
{
    int64_t deadline = pl_mono_ns() + timeout_ms * 1000000;
    while (atomic_load(&active_) > 0) {
        if (pl_mono_ns() >= deadline)
            return atomic_load(&active_);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

void srv__http_stop(void)
{
    if (daemon_)
        MHD_stop_daemon(daemon_);
    daemon_ = NULL;
    if (listen_fd_ >= 0)
        close(listen_fd_);
    listen_fd_ = -1;
}
