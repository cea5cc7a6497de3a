/*
 * http.c - HTTP pieces that need no HTTP library: content negotiation from
 * the Accept header (RFC 9110 section 12.5.1, q-values), gzip content coding
 * (RFC 1952, via zlib) and request instrumentation (the counterpart of Go's
 * promhttp InstrumentHandlerCounter/InstrumentHandlerDuration middleware).
 * The libmicrohttpd handler is in mhd.c and the standalone server in
 * server.c, so a static link of a program that uses neither pulls in no
 * libmicrohttpd.
 */
#include "exporter/client/client_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
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

struct exp__gz {
    z_stream zs;
    char *buf;
    size_t cap;
};

struct exp__gz *exp__gz_new(void)
{
    struct exp__gz *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    if (deflateInit2(&g->zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(g);
        return NULL;
    }
    return g;
}

void exp__gz_free(struct exp__gz *g)
{
    if (!g)
        return;
    deflateEnd(&g->zs);
    free(g->buf);
    free(g);
}

int exp__gz_compress(struct exp__gz *g, const char *in, size_t n, const char **out, size_t *outlen)
{
    if (deflateReset(&g->zs) != Z_OK)
        return EXP_ERR_IO;
    size_t need = deflateBound(&g->zs, (uLong)n) + 32;
    if (need > g->cap) {
        char *nb = realloc(g->buf, need);
        if (!nb)
            return EXP_ERR_NOMEM;
        g->buf = nb;
        g->cap = need;
    }
    g->zs.next_in = (Bytef *)(uintptr_t)in;
    g->zs.avail_in = (uInt)n;
    g->zs.next_out = (Bytef *)g->buf;
    g->zs.avail_out = (uInt)g->cap;
    if (deflate(&g->zs, Z_FINISH) != Z_STREAM_END)
        return EXP_ERR_IO;
    *out = g->buf;
    *outlen = g->zs.total_out;
    return 0;
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
