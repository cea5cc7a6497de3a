/*
 * target.c - targets from discovered labels, after Prometheus 2.42
 * scrape/target.go (PopulateLabels, TargetsFromGroup, Target.URL).
 *
 * Spec: https://prometheus.io/docs/prometheus/2.42/configuration/configuration/#scrape_config
 * The scrape URL is built as Go's url.URL.String() would: path escaped as
 * EscapedPath, query as url.Values.Encode (sorted keys, QueryEscape).
 */
#include "collector/target.h"

#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/hash.h"
#include "common/mem.h"
#include "common/timeutil.h"

/* Go's net.SplitHostPort accepts s. */
static int split_host_port_ok(const char *s, size_t n)
{
    const char *i = NULL;
    for (size_t k = n; k-- > 0;)
        if (s[k] == ':') {
            i = s + k;
            break;
        }
    if (!i)
        return 0;
    size_t j = 0, k = 0;
    if (n > 0 && s[0] == '[') {
        const char *end = memchr(s, ']', n);
        if (!end)
            return 0;
        size_t e1 = (size_t)(end - s) + 1;
        if (e1 == n)
            return 0;
        if (s + e1 != i)
            return 0;
        j = 1;
        k = e1;
    } else {
        if (memchr(s, ':', (size_t)(i - s)))
            return 0;
    }
    if (memchr(s + j, '[', n - j))
        return 0;
    if (memchr(s + k, ']', n - k))
        return 0;
    return 1;
}

/* Prometheus's addPort: no port yet, and adding one makes a valid host:port. */
static int needs_port(const char *addr)
{
    size_t n = strlen(addr);
    if (split_host_port_ok(addr, n))
        return 0;
    char tmp[1024];
    if (n + 6 > sizeof(tmp))
        return 0;
    memcpy(tmp, addr, n);
    memcpy(tmp + n, ":1234", 6);
    return split_host_port_ok(tmp, n + 5);
}

static int unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

/* Go's escape(s, encodePath). */
static void path_escape(struct pl_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p) || strchr("$&+,/:;=@", *p))
            pl_buf_putc(b, (char)*p);
        else
            pl_buf_printf(b, "%%%02X", *p);
    }
}

/* Go's url.QueryEscape. */
static void query_escape(struct pl_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c))
            pl_buf_putc(b, (char)c);
        else if (c == ' ')
            pl_buf_putc(b, '+');
        else
            pl_buf_printf(b, "%%%02X", c);
    }
}

/* Go's escape(host, encodeHost), enough for host:port and [v6]:port. */
static void host_escape(struct pl_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p) || strchr("!$&'()*+,;=:[]<>\"", *p) || *p >= 0x80)
            pl_buf_putc(b, (char)*p);
        else
            pl_buf_printf(b, "%%%02X", *p);
    }
}

struct qparam {
    const char *k, *v;
    size_t klen, vlen;
    size_t order; /* position among values of the same key */
};

static int qparam_cmp(const void *pa, const void *pb)
{
    const struct qparam *a = pa, *b = pb;
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = memcmp(a->k, b->k, n);
    if (c)
        return c;
    if (a->klen != b->klen)
        return a->klen < b->klen ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* The scrape URL of Target.URL(): config params, first values replaced by __param_ labels. */
static char *build_url(const struct coll_scrape_config *sc, const struct pl_labels *ls)
{
    size_t cap = 0;
    for (size_t i = 0; i < sc->nparams; i++)
        cap += sc->params[i].nvalues;
    cap += ls->n;
    struct qparam *q = pl_xcalloc(cap ? cap : 1, sizeof(*q));
    size_t nq = 0;
    for (size_t i = 0; i < sc->nparams; i++)
        for (size_t k = 0; k < sc->params[i].nvalues; k++)
            q[nq++] =
                (struct qparam){sc->params[i].name, sc->params[i].values[k],
                                strlen(sc->params[i].name), strlen(sc->params[i].values[k]), k};
    for (uint32_t i = 0; i < ls->n; i++) {
        const struct pl_label *l = &ls->v[i];
        if (l->name_len < 8 || memcmp(l->name, "__param_", 8) != 0)
            continue;
        const char *k = l->name + 8;
        size_t kl = l->name_len - 8;
        int replaced = 0;
        for (size_t j = 0; j < nq; j++)
            if (q[j].order == 0 && q[j].klen == kl && memcmp(q[j].k, k, kl) == 0) {
                q[j].v = l->value;
                q[j].vlen = l->value_len;
                replaced = 1;
                break;
            }
        if (!replaced)
            q[nq++] = (struct qparam){k, l->value, kl, l->value_len, 0};
    }
    qsort(q, nq, sizeof(*q), qparam_cmp);
    struct pl_buf b;
    pl_buf_init(&b, 1u << 20);
    pl_buf_puts(&b, pl_labels_value(ls, "__scheme__"));
    pl_buf_puts(&b, "://");
    host_escape(&b, pl_labels_value(ls, "__address__"));
    const char *path = pl_labels_value(ls, "__metrics_path__");
    if (*path && path[0] != '/')
        pl_buf_putc(&b, '/');
    path_escape(&b, path);
    for (size_t j = 0; j < nq; j++) {
        pl_buf_putc(&b, j == 0 ? '?' : '&');
        query_escape(&b, q[j].k, q[j].klen);
        pl_buf_putc(&b, '=');
        query_escape(&b, q[j].v, q[j].vlen);
    }
    free(q);
    char *url = pl_buf_steal(&b, NULL);
    return url ? url : pl_xstrdup("");
}

static int utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t need = c < 0x80         ? 1
                      : (c >> 5) == 6  ? 2
                      : (c >> 4) == 14 ? 3
                      : (c >> 3) == 30 ? 4
                                       : 0;
        if (!need || i + need > n)
            return 0;
        for (size_t k = 1; k < need; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        i += need;
    }
    return 1;
}

int coll_target_populate(const struct coll_scrape_config *sc, const struct pl_labels *lset,
                         struct coll_relabel_scratch *s, struct coll_target *out,
                         struct pl_err *err)
{
    memset(out, 0, sizeof(*out));
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    pl_lb_reset_from(&lb, lset);
    char iv[32], tv[32];
    pl_duration_format(sc->interval_ms, iv, sizeof(iv));
    pl_duration_format(sc->timeout_ms, tv, sizeof(tv));
    const char *defaults[][2] = {{"job", sc->job_name},
                                 {"__scrape_interval__", iv},
                                 {"__scrape_timeout__", tv},
                                 {"__metrics_path__", sc->metrics_path},
                                 {"__scheme__", sc->scheme}};
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (!*pl_labels_value(lset, defaults[i][0]))
            pl_lb_setz(&lb, defaults[i][0], defaults[i][1]);
    char pname[512];
    for (size_t i = 0; i < sc->nparams; i++) {
        if (sc->params[i].nvalues == 0)
            continue;
        int pn = snprintf(pname, sizeof(pname), "__param_%s", sc->params[i].name);
        if (pn > 0 && (size_t)pn < sizeof(pname))
            pl_lb_set(&lb, pname, (size_t)pn, sc->params[i].values[0],
                      strlen(sc->params[i].values[0]));
    }
    out->discovered = pl_lb_labels(&lb);
    int rc = 0;
    if (!coll_relabel_apply(sc->relabel, sc->nrelabel, &lb, s)) {
        pl_lb_fini(&lb);
        return 0;
    }
    size_t alen = 0;
    const char *a = pl_lb_get(&lb, "__address__", 11, &alen);
    if (!a || alen == 0) {
        rc = pl_err_set(err, PL_ERR_INVALID, "no address");
        goto fail;
    }
    char *addr = pl_xstrndup(a, alen);
    size_t slen = 0;
    const char *sch = pl_lb_get(&lb, "__scheme__", 10, &slen);
    if (needs_port(addr)) {
        const char *port = NULL;
        if (!sch || (slen == 4 && !memcmp(sch, "http", 4)))
            port = ":80";
        else if (slen == 5 && !memcmp(sch, "https", 5))
            port = ":443";
        if (!port) {
            free(addr);
            rc = pl_err_set(err, PL_ERR_INVALID, "invalid scheme: \"%s\"", sc->scheme);
            goto fail;
        }
        size_t al = strlen(addr);
        addr = pl_xrealloc(addr, al + 5);
        memcpy(addr + al, port, strlen(port) + 1);
        pl_lb_setz(&lb, "__address__", addr);
    }
    if (strchr(addr, '/')) {
        rc = pl_err_set(err, PL_ERR_INVALID, "\"%s\" is not a valid hostname", addr);
        free(addr);
        goto fail;
    }
    const char *names[2] = {"__scrape_interval__", "__scrape_timeout__"};
    const char *what[2] = {"interval", "timeout"};
    int64_t d[2];
    for (int i = 0; i < 2; i++) {
        size_t vl = 0;
        const char *v = pl_lb_get(&lb, names[i], strlen(names[i]), &vl);
        struct pl_err e;
        if (pl_duration_parse(v ? v : "", v ? vl : 0, &d[i], &e) != 0) {
            rc = pl_err_set(err, PL_ERR_INVALID,
                            "error parsing scrape %s: not a valid duration string: \"%.*s\"",
                            what[i], (int)(v ? vl : 0), v ? v : "");
            free(addr);
            goto fail;
        }
        if (d[i] == 0) {
            rc = pl_err_set(err, PL_ERR_INVALID, "scrape %s cannot be 0", what[i]);
            free(addr);
            goto fail;
        }
    }
    if (d[1] > d[0]) {
        size_t il = 0, tl = 0;
        const char *is = pl_lb_get(&lb, names[0], strlen(names[0]), &il);
        const char *ts = pl_lb_get(&lb, names[1], strlen(names[1]), &tl);
        rc = pl_err_set(err, PL_ERR_INVALID,
                        "scrape timeout cannot be greater than scrape interval (\"%.*s\" > "
                        "\"%.*s\")",
                        (int)tl, ts, (int)il, is);
        free(addr);
        goto fail;
    }
    /* Meta labels go after relabeling; other internal labels stay on the target. */
    for (uint32_t i = lb.n; i-- > 0;) {
        const char *nm = lb.bytes.data + lb.v[i].noff;
        if (lb.v[i].nlen >= 6 && memcmp(nm, "__meta", 6) == 0)
            pl_lb_del(&lb, nm, lb.v[i].nlen);
    }
    if (!pl_lb_get(&lb, "instance", 8, NULL))
        pl_lb_setz(&lb, "instance", addr);
    free(addr);
    out->labels = pl_lb_labels(&lb);
    for (uint32_t i = 0; i < out->labels->n; i++) {
        const struct pl_label *l = &out->labels->v[i];
        if (!utf8_ok(l->value, l->value_len)) {
            rc = pl_err_set(err, PL_ERR_INVALID, "invalid label value for \"%s\": \"%s\"", l->name,
                            l->value);
            goto fail;
        }
    }
    out->interval_ms = d[0];
    out->timeout_ms = d[1];
    out->url = build_url(sc, out->labels);
    out->hash = out->labels->hash ^ pl_hash64(out->url, strlen(out->url), 0);
    pl_lb_fini(&lb);
    return 1;
fail:
    pl_lb_fini(&lb);
    coll_target_fini(out);
    return rc;
}

void coll_target_fini(struct coll_target *t)
{
    if (!t)
        return;
    pl_labels_free(t->labels);
    pl_labels_free(t->discovered);
    free(t->url);
    memset(t, 0, sizeof(*t));
}

struct pl_labels *coll_target_public_labels(const struct coll_target *t)
{
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    for (uint32_t i = 0; i < t->labels->n; i++) {
        const struct pl_label *l = &t->labels->v[i];
        if (l->name_len >= 2 && l->name[0] == '_' && l->name[1] == '_')
            continue;
        pl_lb_set(&lb, l->name, l->name_len, l->value, l->value_len);
    }
    struct pl_labels *ls = pl_lb_labels(&lb);
    pl_lb_fini(&lb);
    return ls;
}

int coll_targets_from_group(const struct coll_scrape_config *sc, const struct coll_target_group *g,
                            struct coll_relabel_scratch *s,
                            void (*fn)(struct coll_target *t, void *ud),
                            void (*dropped)(const struct pl_labels *discovered, void *ud), void *ud,
                            struct pl_err *err)
{
    int first = 0;
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    for (size_t i = 0; i < g->ntargets; i++) {
        pl_lb_reset(&lb);
        if (g->labels)
            for (uint32_t k = 0; k < g->labels->n; k++)
                pl_lb_set(&lb, g->labels->v[k].name, g->labels->v[k].name_len,
                          g->labels->v[k].value, g->labels->v[k].value_len);
        /* The target's own labels win over the group's. */
        const struct pl_labels *tl = g->targets[i];
        for (uint32_t k = 0; k < tl->n; k++)
            pl_lb_set(&lb, tl->v[k].name, tl->v[k].name_len, tl->v[k].value, tl->v[k].value_len);
        struct pl_labels *lset = pl_lb_labels(&lb);
        struct coll_target t;
        struct pl_err e;
        int rc = coll_target_populate(sc, lset, s, &t, &e);
        if (rc == 1) {
            fn(&t, ud);
        } else if (rc == 0) {
            if (dropped)
                dropped(t.discovered, ud);
            coll_target_fini(&t);
        } else if (!first) {
            first = pl_err_set(err, rc, "instance %zu in group %s: %s", i, g->source, e.msg);
        }
        pl_labels_free(lset);
    }
    pl_lb_fini(&lb);
    return first;
}

void coll_target_group_fini(struct coll_target_group *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->ntargets; i++)
        pl_labels_free(g->targets[i]);
    free(g->targets);
    pl_labels_free(g->labels);
    free((char *)g->source);
    memset(g, 0, sizeof(*g));
}

void coll_target_groups_free(struct coll_target_group *g, size_t n)
{
    if (!g)
        return;
    for (size_t i = 0; i < n; i++)
        coll_target_group_fini(&g[i]);
    free(g);
}

int coll_static_groups(const struct coll_static_config *sc, size_t n,
                       struct coll_target_group **out, size_t *nout)
{
    struct coll_target_group *g = pl_xcalloc(n ? n : 1, sizeof(*g));
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    for (size_t i = 0; i < n; i++) {
        char src[32];
        snprintf(src, sizeof(src), "%zu", i);
        g[i].source = pl_xstrdup(src);
        g[i].labels = sc[i].labels ? pl_labels_dup(sc[i].labels) : NULL;
        g[i].targets = pl_xcalloc(sc[i].ntargets ? sc[i].ntargets : 1, sizeof(*g[i].targets));
        for (size_t k = 0; k < sc[i].ntargets; k++) {
            pl_lb_reset(&lb);
            pl_lb_setz(&lb, "__address__", sc[i].targets[k]);
            g[i].targets[k] = pl_lb_labels(&lb);
        }
        g[i].ntargets = sc[i].ntargets;
    }
    pl_lb_fini(&lb);
    *out = g;
    *nout = n;
    return 0;
}
