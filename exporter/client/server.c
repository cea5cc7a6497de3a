/*
 * server.c - the one-call standalone metrics server: a small HTTP/1.1 server
 * (RFC 9112 message syntax; persistent connections, GET and HEAD only) on
 * plain sockets, one thread, poll(2) over the listening socket and up to
 * SRV_MAX_CONNS connections.
 *
 * It does not use libmicrohttpd on purpose: a program that only needs
 * /metrics then maps no HTTP library (Debian's libmicrohttpd pulls in gnutls
 * and friends, several MiB of resident memory), and the reply path reuses one
 * exposition buffer and one gzip state, so a scrape allocates nothing once
 * the buffers have grown. Requests are served one at a time, which suits
 * scrapers; every connection has an idle timeout and a header size limit, and
 * writes give up after a send timeout, so a slow or hostile client cannot
 * hold the server.
 */
/* accept4(2) and pipe2(2) are GNU extensions. */
#define _GNU_SOURCE
#include "exporter/client/client_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SRV_MAX_CONNS    64
#define SRV_HEADER_MAX   8192  /* request line and headers */
#define SRV_IDLE_S       60.0  /* idle keep-alive connections are closed */
#define SRV_SEND_TIMEOUT 10000 /* ms to send one reply */

struct conn {
    int fd;
    size_t n;
    double last; /* monotonic time of the last activity */
    char in[SRV_HEADER_MAX];
};

struct exp_server {
    struct exp_registry *r;
    char path[256];
    unsigned port;
    int lfd;
    int wake[2]; /* self-pipe: exp_server_stop writes a byte */
    pthread_t thread;
    struct conn *conns[SRV_MAX_CONNS];
    struct exp_writer w; /* reused exposition buffer */
    struct exp__gz *gz;
    struct exp_metric *req[3]; /* 200, 500, 503 */
    struct exp_metric *inflight;
};

static double mono(void)
{
    return exp_now_monotonic();
}

/*
 * Sends all iovecs within SRV_SEND_TIMEOUT in total, so that a client that
 * reads slowly (or not at all) cannot hold the single server thread.
 */
static int send_all(int fd, struct iovec *iov, int n)
{
    double deadline = mono() + SRV_SEND_TIMEOUT / 1000.0;
    while (n > 0) {
        struct msghdr mh;
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)n;
        ssize_t k = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -1;
            int left = (int)((deadline - mono()) * 1000);
            struct pollfd p = {fd, POLLOUT, 0};
            if (left <= 0 || poll(&p, 1, left) <= 0)
                return -1;
            continue;
        }
        while (n > 0 && (size_t)k >= iov->iov_len) {
            k -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + k;
            iov->iov_len -= (size_t)k;
        }
    }
    return 0;
}

static int reply(int fd, unsigned code, const char *reason, const char *ctype,
                 const char *extra_headers, const char *body, size_t len, int head_only,
                 int keep_alive)
{
    char hdr[768];
    int hl = snprintf(hdr, sizeof(hdr),
                      "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                      "Connection: %s\r\n\r\n",
                      code, reason, ctype, len, extra_headers ? extra_headers : "",
                      keep_alive ? "keep-alive" : "close");
    if (hl < 0 || (size_t)hl >= sizeof(hdr))
        return -1;
    struct iovec iov[2] = {{hdr, (size_t)hl}, {(void *)(uintptr_t)body, len}};
    return send_all(fd, iov, head_only || !len ? 1 : 2);
}

static int text_reply(int fd, unsigned code, const char *reason, const char *msg, int head_only,
                      int keep_alive, const char *extra)
{
    return reply(fd, code, reason, "text/plain; charset=utf-8", extra, msg, strlen(msg), head_only,
                 keep_alive);
}

/* Finds header `name` (case-insensitive) in a NUL-terminated header block. */
static const char *header(const char *hdrs, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = hdrs; l && *l; l = strstr(l, "\r\n") ? strstr(l, "\r\n") + 2 : NULL) {
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t n = strcspn(v, "\r\n");
            while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                n--;
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
    }
    return NULL;
}

static const char index_html[] =
    "<html><head><title>Metrics exporter</title></head><body><h1>Metrics exporter</h1>"
    "<p><a href=\"%s\">Metrics</a></p></body></html>\n";

/* Serves one scrape. Returns 0 to keep the connection, -1 to close it. */
static int serve_metrics(struct exp_server *s, int fd, const char *hdrs, int head_only,
                         int keep_alive)
{
    char accept[1024], enc[256];
    enum exp_format fmt = exp_format_negotiate(header(hdrs, "Accept", accept, sizeof(accept)));
    int gz = exp_accepts_gzip(header(hdrs, "Accept-Encoding", enc, sizeof(enc)));
    exp_gauge_inc(s->inflight);
    int rc = exp__registry_render_into(s->r, fmt, &s->w);
    int ret;
    if (rc) {
        char msg[160];
        snprintf(msg, sizeof(msg), "An error has occurred while serving metrics: %s\n",
                 exp_strerror(rc));
        ret = text_reply(fd, 500, "Internal Server Error", msg, head_only, keep_alive, NULL);
        exp_counter_inc(s->req[1]);
    } else {
        const char *body = s->w.buf;
        size_t len = s->w.len;
        if (gz && s->gz && exp__gz_compress(s->gz, s->w.buf, s->w.len, &body, &len) != 0) {
            body = s->w.buf, len = s->w.len, gz = 0;
        }
        ret = reply(fd, 200, "OK", exp_format_content_type(fmt),
                    gz ? "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n"
                       : "Vary: Accept-Encoding\r\n",
                    body, len, head_only, keep_alive);
        exp_counter_inc(s->req[0]);
    }
    exp_gauge_dec(s->inflight);
    /* Keep big buffers from one odd scrape from staying forever. */
    if (s->w.cap > (8u << 20) && s->w.len < s->w.cap / 8) {
        exp__writer_fini(&s->w);
    }
    return ret;
}

/*
 * Handles one complete request head (NUL-terminated, ending in \r\n\r\n).
 * Returns 0 to keep the connection open, -1 to close it.
 */
static int handle(struct exp_server *s, int fd, char *req)
{
    char *eol = strstr(req, "\r\n");
    if (!eol)
        return -1;
    *eol = '\0';
    const char *hdrs = eol + 2;
    char method[16], target[1024], version[16];
    if (sscanf(req, "%15s %1023s %15s", method, target, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0) {
        text_reply(fd, 400, "Bad Request", "Bad Request\n", 0, 0, NULL);
        return -1;
    }
    char v[64];
    int keep = version[7] == '1';
    if (header(hdrs, "Connection", v, sizeof(v)))
        keep = strcasecmp(v, "close") != 0 && (keep || strcasecmp(v, "keep-alive") == 0);
    /* A request body is never expected: answer, then close rather than skip it. */
    if (header(hdrs, "Content-Length", v, sizeof(v))
            ? strtoul(v, NULL, 10) > 0
            : header(hdrs, "Transfer-Encoding", v, sizeof(v)) != NULL)
        keep = 0;
    char *q = strchr(target, '?');
    if (q)
        *q = '\0';
    int head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        return text_reply(fd, 405, "Method Not Allowed", "Method Not Allowed\n", 0, 0,
                          "Allow: GET, HEAD\r\n"),
               -1;
    }
    int rc;
    if (strcmp(target, s->path) == 0) {
        rc = serve_metrics(s, fd, hdrs, head, keep);
    } else if (strcmp(target, "/") == 0) {
        char page[sizeof(index_html) + 256];
        snprintf(page, sizeof(page), index_html, s->path);
        rc = reply(fd, 200, "OK", "text/html; charset=utf-8", NULL, page, strlen(page), head, keep);
    } else {
        rc = text_reply(fd, 404, "Not Found", "404 page not found\n", head, keep, NULL);
    }
    return rc == 0 && keep ? 0 : -1;
}

static void conn_close(struct exp_server *s, int i)
{
    close(s->conns[i]->fd);
    free(s->conns[i]);
    s->conns[i] = NULL;
}

/* Reads what is available on connection i and serves complete requests. */
static void conn_read(struct exp_server *s, int i)
{
    struct conn *c = s->conns[i];
    ssize_t k = recv(c->fd, c->in + c->n, sizeof(c->in) - 1 - c->n, 0);
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (k <= 0) {
        conn_close(s, i);
        return;
    }
    c->n += (size_t)k;
    c->in[c->n] = '\0';
    c->last = mono();
    for (;;) {
        char *end = strstr(c->in, "\r\n\r\n");
        if (!end) {
            if (c->n >= sizeof(c->in) - 1 || memchr(c->in, '\0', c->n)) {
                text_reply(c->fd, 431, "Request Header Fields Too Large",
                           "Request Header Fields Too Large\n", 0, 0, NULL);
                conn_close(s, i);
            }
            return;
        }
        end[2] = '\0'; /* keep the last header's \r\n for header() */
        size_t used = (size_t)(end + 4 - c->in);
        if (handle(s, c->fd, c->in) != 0) {
            conn_close(s, i);
            return;
        }
        /* Pipelined requests: keep what follows. */
        memmove(c->in, c->in + used, c->n - used);
        c->n -= used;
        c->in[c->n] = '\0';
    }
}

static void conn_accept(struct exp_server *s)
{
    int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    for (int i = 0; i < SRV_MAX_CONNS; i++) {
        if (!s->conns[i]) {
            struct conn *c = malloc(sizeof(*c));
            if (!c)
                break;
            c->fd = fd;
            c->n = 0;
            c->last = mono();
            s->conns[i] = c;
            return;
        }
    }
    /* Full (or out of memory): refuse politely. */
    text_reply(fd, 503, "Service Unavailable", "too many connections\n", 0, 0, NULL);
    exp_counter_inc(s->req[2]);
    close(fd);
}

static void *server_main(void *arg)
{
    struct exp_server *s = arg;
    struct pollfd p[SRV_MAX_CONNS + 2];
    int idx[SRV_MAX_CONNS + 2];
    for (;;) {
        int n = 0;
        p[n++] = (struct pollfd){s->wake[0], POLLIN, 0};
        p[n++] = (struct pollfd){s->lfd, POLLIN, 0};
        for (int i = 0; i < SRV_MAX_CONNS; i++) {
            if (s->conns[i]) {
                idx[n] = i;
                p[n++] = (struct pollfd){s->conns[i]->fd, POLLIN, 0};
            }
        }
        int k = poll(p, (nfds_t)n, 1000);
        if (k < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        if (k > 0) {
            /* Connections first, so slots freed by closing peers are reused at once. */
            for (int j = 2; j < n; j++)
                if (p[j].revents && s->conns[idx[j]])
                    conn_read(s, idx[j]);
            if (p[1].revents & POLLIN)
                conn_accept(s);
        }
        double now = mono();
        for (int i = 0; i < SRV_MAX_CONNS; i++)
            if (s->conns[i] && now - s->conns[i]->last > SRV_IDLE_S)
                conn_close(s, i);
    }
    for (int i = 0; i < SRV_MAX_CONNS; i++)
        if (s->conns[i])
            conn_close(s, i);
    return NULL;
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

/* Opens the listening socket. Returns the fd or a negative error. */
static int open_listener(const char *host, const char *port)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int any = host[0] == '\0';
    if (any)
        hints.ai_family = AF_INET6; /* dual stack below; IPv4 if the host has no IPv6 */
    int gai = getaddrinfo(any ? NULL : host, port, &hints, &ai);
    if (gai != 0 && any) {
        hints.ai_family = AF_INET;
        gai = getaddrinfo(NULL, port, &hints, &ai);
    }
    if (gai != 0 || !ai)
        return EXP_ERR_INVALID;
    int err = EXP_ERR_IO;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = -errno;
            continue;
        }
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (a->ai_family == AF_INET6 && any)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 64) == 0) {
            freeaddrinfo(ai);
            return fd;
        }
        err = -errno;
        close(fd);
    }
    freeaddrinfo(ai);
    return err;
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
    s->lfd = s->wake[0] = s->wake[1] = -1;
    exp__writer_init(&s->w, EXP_FORMAT_TEXT, 0);

    struct exp_family *req, *infl;
    static const char *const code_l[] = {"code"};
    /* A server started again on the same registry (after exp_server_stop)
     * continues the existing promhttp series. */
    int rc = 0;
    req = exp__registry_find(r, "promhttp_metric_handler_requests_total", EXP_COUNTER, 1, code_l);
    infl = exp__registry_find(r, "promhttp_metric_handler_requests_in_flight", EXP_GAUGE, 0, NULL);
    if (!req)
        rc = exp_counter_new(r, "promhttp_metric_handler_requests_total",
                             "Total number of scrapes by HTTP status code.", 1, code_l, &req);
    if (rc == 0 && !infl)
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
    if (rc == 0 && !(s->gz = exp__gz_new()))
        rc = EXP_ERR_NOMEM;
    if (rc == 0 && (s->lfd = open_listener(host, port)) < 0)
        rc = s->lfd;
    if (rc == 0 && pipe2(s->wake, O_CLOEXEC) != 0)
        rc = -errno;
    if (rc == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(s->lfd, (struct sockaddr *)&ss, &sl) == 0)
            s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
        if (pthread_create(&s->thread, NULL, server_main, s) != 0)
            rc = EXP_ERR_NOMEM;
    }
    if (rc) {
        if (s->lfd >= 0)
            close(s->lfd);
        if (s->wake[0] >= 0)
            close(s->wake[0]), close(s->wake[1]);
        exp__gz_free(s->gz);
        free(s);
        return rc;
    }
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
    ssize_t k;
    do
        k = write(s->wake[1], "x", 1);
    while (k < 0 && errno == EINTR);
    pthread_join(s->thread, NULL);
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    exp__writer_fini(&s->w);
    exp__gz_free(s->gz);
    free(s);
}
