/*
 * http.c - serving expositions over HTTP: content negotiation from the
 * Accept header (RFC 9110 section 12.5.1, q-values), gzip content coding
 * (RFC 1952, via zlib), a libmicrohttpd handler, a one-call standalone server
 * and request instrumentation (the counterpart of Go's promhttp
 * InstrumentHandlerCounter/InstrumentHandlerDuration middleware).
 */
#include "exporter/client/client_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <zlib.h>

/* ------------------------------------------------------------------ negotiation */

/*
 * Calls fn for each comma-separated element of a header: the token (trimmed,
 * up to ';') and its q parameter (1 when absent).
 */
static void each_elem(const char *h, void (*fn)(const char *tok, size_t n, double q, void *ud),
                      void *ud)
{
    while (h && *h) {
        while (*h == ' ' || *h == '\t' || *h == ',')
            h++;
        if (!*h)
            break;
        const char *end = strchr(h, ',');
        if (!end)
            end = h + strlen(h);
        const char *semi = memchr(h, ';', (size_t)(end - h));
        const char *tend = semi ? semi : end;
        while (tend > h && (tend[-1] == ' ' || tend[-1] == '\t'))
            tend--;
        double q = 1;
        for (const char *p = semi; p && p < end; p = memchr(p + 1, ';', (size_t)(end - p - 1))) {
            const char *a = p + 1;
            while (*a == ' ' || *a == '\t')
                a++;
            if ((a[0] == 'q' || a[0] == 'Q') && a[1] == '=')
                q = strtod(a + 2, NULL);
        }
        fn(h, (size_t)(tend - h), q, ud);
        h = end;
    }
}

struct accept_q {
    double om, text;
};

static int tok_is(const char *tok, size_t n, const char *s)
{
    return strlen(s) == n && strncasecmp(tok, s, n) == 0;
}

static void accept_elem(const char *tok, size_t n, double q, void *ud)
{
    struct accept_q *a = ud;
    if (tok_is(tok, n, "application/openmetrics-text")) {
        if (q > a->om)
            a->om = q;
    } else if (tok_is(tok, n, "text/plain") || tok_is(tok, n, "*/*") || tok_is(tok, n, "text/*")) {
        if (q > a->text)
            a->text = q;
    }
}

enum exp_format exp_format_negotiate(const char *accept)
{
    struct accept_q a = {0, 0};
    each_elem(accept, accept_elem, &a);
    return a.om > 0 && a.om >= a.text ? EXP_FORMAT_OPENMETRICS : EXP_FORMAT_TEXT;
}

const char *exp_format_content_type(enum exp_format fmt)
{
    return fmt == EXP_FORMAT_OPENMETRICS
               ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
               : "text/plain; version=0.0.4; charset=utf-8";
}

static void gzip_elem(const char *tok, size_t n, double q, void *ud)
{
    if ((tok_is(tok, n, "gzip") || tok_is(tok, n, "x-gzip")) && q > 0)
        *(int *)ud = 1;
}

int exp_accepts_gzip(const char *accept_encoding)
{
    int yes = 0;
    each_elem(accept_encoding, gzip_elem, &yes);
    return yes;
}

int exp_gzip(const char *in, size_t n, char **out, size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* windowBits 15 + 16 selects the gzip wrapper; level 1 trades ratio for CPU. */
    if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return EXP_ERR_NOMEM;
    size_t cap = deflateBound(&zs, (uLong)n) + 32;
    char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&zs);
        return EXP_ERR_NOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)buf;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    size_t len = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        return EXP_ERR_IO;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

/* ------------------------------------------------------------------ handler */

static struct MHD_Response *text_response(const char *msg)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(msg), (void *)(uintptr_t)msg, MHD_RESPMEM_MUST_COPY);
    if (resp)
        MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    return resp;
}

/* Renders and queues a scrape; *code gets the HTTP status sent. */
static int respond(struct exp_registry *r, struct MHD_Connection *c, unsigned *code)
{
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    enum exp_format fmt = exp_format_negotiate(accept);
    char *body = NULL;
    size_t len = 0;
    int rc = exp_registry_render(r, fmt, &body, &len);
    if (rc) {
        char msg[160];
        snprintf(msg, sizeof(msg), "An error has occurred while serving metrics: %s\n",
                 exp_strerror(rc));
        struct MHD_Response *resp = text_response(msg);
        if (!resp)
            return MHD_NO;
        *code = 500;
        int ret = MHD_queue_response(c, 500, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    int gz = exp_accepts_gzip(enc);
    if (gz) {
        char *z;
        size_t zl;
        if (exp_gzip(body, len, &z, &zl) == 0) {
            free(body);
            body = z;
            len = zl;
        } else {
            gz = 0;
        }
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", exp_format_content_type(fmt));
    if (gz)
        MHD_add_response_header(resp, "Content-Encoding", "gzip");
    MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    *code = 200;
    int ret = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

int exp_mhd_respond(struct exp_registry *r, struct MHD_Connection *c)
{
    unsigned code = 0;
    return respond(r, c, &code);
}

/* ------------------------------------------------------------------ server */

struct exp_server {
    struct MHD_Daemon *d;
    struct exp_registry *r;
    char path[256];
    unsigned port;
    struct exp_metric *req[3]; /* 200, 500, 503 */
    struct exp_metric *inflight;
};

static const char index_html[] =
    "<html><head><title>promlite exporter</title></head><body><h1>promlite exporter</h1>"
    "<p><a href=\"%s\">Metrics</a></p></body></html>\n";

static enum MHD_Result server_access(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version, const char *upload,
                                     size_t *upload_len, void **con_cls)
{
    struct exp_server *s = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        struct MHD_Response *resp = text_response("Method Not Allowed\n");
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, "Allow", "GET, HEAD");
        int ret = MHD_queue_response(c, 405, resp);
        MHD_destroy_response(resp);
        return (enum MHD_Result)ret;
    }
    if (strcmp(url, s->path) == 0) {
        unsigned code = 0;
        exp_gauge_inc(s->inflight);
        int ret = respond(s->r, c, &code);
        exp_gauge_dec(s->inflight);
        if (code == 200)
            exp_counter_inc(s->req[0]);
        else if (code == 500)
            exp_counter_inc(s->req[1]);
        return (enum MHD_Result)ret;
    }
    if (strcmp(url, "/") == 0) {
        char page[sizeof(index_html) + 256];
        snprintf(page, sizeof(page), index_html, s->path);
        struct MHD_Response *resp = text_response(page);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
        int ret = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return (enum MHD_Result)ret;
    }
    struct MHD_Response *resp = text_response("404 page not found\n");
    if (!resp)
        return MHD_NO;
    int ret = MHD_queue_response(c, 404, resp);
    MHD_destroy_response(resp);
    return (enum MHD_Result)ret;
}

/* Splits "host:port", ":port" or "[v6]:port". Returns 0 or EXP_ERR_INVALID. */
static int split_hostport(const char *listen, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon;
    if (listen[0] == '[') {
        const char *rb = strchr(listen, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - listen - 1) >= hcap)
            return EXP_ERR_INVALID;
        memcpy(host, listen + 1, (size_t)(rb - listen - 1));
        host[rb - listen - 1] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || (size_t)(colon - listen) >= hcap)
            return EXP_ERR_INVALID;
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
    }
    const char *p = colon + 1;
    if (!*p || strlen(p) >= pcap)
        return EXP_ERR_INVALID;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return EXP_ERR_INVALID;
    if (strtol(p, NULL, 10) > 65535)
        return EXP_ERR_INVALID;
    strcpy(port, p);
    return 0;
}

int exp_server_start(struct exp_registry *r, const char *listen, const char *path,
                     struct exp_server **out)
{
    if (!r || !listen || !out)
        return EXP_ERR_INVALID;
    if (!path)
        path = "/metrics";
    char host[256], port[16];
    if (path[0] != '/' || strlen(path) >= 256 ||
        split_hostport(listen, host, sizeof(host), port, sizeof(port)))
        return EXP_ERR_INVALID;
    struct exp_server *s = calloc(1, sizeof(*s));
    if (!s)
        return EXP_ERR_NOMEM;
    strcpy(s->path, path);
    s->r = r;

    struct exp_family *req, *infl;
    static const char *const code_l[] = {"code"};
    int rc = exp_counter_new(r, "promhttp_metric_handler_requests_total",
                             "Total number of scrapes by HTTP status code.", 1, code_l, &req);
    if (rc == 0)
        rc = exp_gauge_new(r, "promhttp_metric_handler_requests_in_flight",
                           "Current number of scrapes being served.", 0, NULL, &infl);
    if (rc == 0)
        rc = exp_family_childv(req, &s->req[0], "200");
    if (rc == 0)
        rc = exp_family_childv(req, &s->req[1], "500");
    if (rc == 0)
        rc = exp_family_childv(req, &s->req[2], "503");
    if (rc == 0)
        rc = exp_family_child(infl, NULL, &s->inflight);
    if (rc) {
        free(s);
        return rc;
    }

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (host[0] == '\0') {
        /* ":port": every address, IPv6 and IPv4 when the host has IPv6. */
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_addr = in6addr_any;
        a6->sin6_port = htons((uint16_t)atoi(port));
        s->d = MHD_start_daemon(flags | MHD_USE_DUAL_STACK, 0, NULL, NULL, server_access, s,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
        if (!s->d) {
            struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
            memset(&ss, 0, sizeof(ss));
            a4->sin_family = AF_INET;
            a4->sin_addr.s_addr = htonl(INADDR_ANY);
            a4->sin_port = htons((uint16_t)atoi(port));
        }
    } else {
        struct addrinfo hints, *ai = NULL;
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
            free(s);
            return EXP_ERR_INVALID;
        }
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        freeaddrinfo(ai);
    }
    if (!s->d) {
        if (ss.ss_family == AF_INET6)
            flags |= MHD_USE_IPv6;
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, server_access, s, MHD_OPTION_SOCK_ADDR,
                                (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                                MHD_OPTION_END);
    }
    if (!s->d) {
        int e = errno;
        free(s);
        return e ? -e : EXP_ERR_IO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : (unsigned)atoi(port);
    *out = s;
    return 0;
}

unsigned exp_server_port(const struct exp_server *s)
{
    return s ? s->port : 0;
}

void exp_server_stop(struct exp_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    free(s);
}

/* ------------------------------------------------------------------ instrumentation */

struct exp_http_metrics {
    struct exp_family *count, *dur;
};

int exp_http_metrics_new(struct exp_registry *r, const char *prefix, const double *bounds,
                         size_t nbounds, struct exp_http_metrics **out)
{
    if (!r || !prefix || !out || strlen(prefix) > 128)
        return EXP_ERR_INVALID;
    char n1[160], n2[180];
    snprintf(n1, sizeof(n1), "%s_requests_total", prefix);
    snprintf(n2, sizeof(n2), "%s_request_duration_seconds", prefix);
    static const char *const ln[] = {"method", "code"};
    struct exp_http_metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return EXP_ERR_NOMEM;
    int rc = exp_counter_new(r, n1, "Total number of HTTP requests by method and status code.", 2,
                             ln, &m->count);
    if (rc == 0)
        rc = exp_histogram_new(r, n2, "Duration of HTTP requests in seconds.", 2, ln, bounds,
                               nbounds, &m->dur);
    if (rc) {
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void exp_http_metrics_free(struct exp_http_metrics *m)
{
    free(m);
}

int exp_http_metrics_observe(struct exp_http_metrics *m, const char *method, unsigned code,
                             double seconds)
{
    if (!m || !method || code < 100 || code > 999)
        return EXP_ERR_INVALID;
    char meth[24], cs[8];
    size_t i = 0;
    for (; method[i] && i < sizeof(meth) - 1; i++)
        meth[i] = (char)tolower((unsigned char)method[i]);
    meth[i] = '\0';
    snprintf(cs, sizeof(cs), "%u", code);
    const char *vals[2] = {meth, cs};
    struct exp_metric *c, *d;
    int rc = exp_family_child(m->count, vals, &c);
    if (rc == 0)
        rc = exp_family_child(m->dur, vals, &d);
    if (rc)
        return rc;
    exp_counter_inc(c);
    exp_histogram_observe(d, seconds);
    return 0;
}

int exp_http_metrics_queue(struct exp_http_metrics *m, struct MHD_Connection *c, const char *method,
                           unsigned code, struct MHD_Response *resp, double start)
{
    int ret = MHD_queue_response(c, code, resp);
    exp_http_metrics_observe(m, method, code, exp_now_monotonic() - start);
    return ret;
}
