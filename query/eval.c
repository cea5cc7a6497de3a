/*
 * eval.c - the PromQL evaluator's core: selectors, subqueries, literals,
 * unary minus and dispatch to functions, aggregations and binary operators.
 *
 * Semantics follow Prometheus 2.42 (promql/engine.go): an instant selector
 * takes, at each step, the newest sample in [ref - lookback, ref] unless it
 * is a stale marker; a range selector takes the samples in [ref - range, ref]
 * without stale markers; ref is the step time (or the @ time) minus the
 * offset. Subqueries evaluate their expression at the absolute multiples of
 * their step inside [start - offset - range, end - offset].
 */
#include "query/eval_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "common/timeutil.h"
#include "tsdb/tsdb.h"

/* ---- context helpers ---- */

int query__errf(struct ev_ctx *c, enum query_err_type t, const char *fmt, ...)
{
    va_list ap;
    if (c->err->type != QUERY_ERR_NONE)
        return PL_ERR_INVALID; /* keep the first error */
    c->err->type = t;
    va_start(ap, fmt);
    vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
    va_end(ap);
    switch (t) {
    case QUERY_ERR_TIMEOUT:
        return PL_ERR_TIMEOUT;
    case QUERY_ERR_CANCELED:
        return PL_ERR_CANCELED;
    case QUERY_ERR_EXECUTION:
        return PL_ERR_INVALID;
    default:
        return PL_ERR_INVALID;
    }
}

int query__check_now(struct ev_ctx *c)
{
    c->budget = QUERY__CHECK_UNITS;
    if (c->cancel && *c->cancel)
        return query__errf(c, QUERY_ERR_CANCELED, "query was canceled in expression evaluation");
    if (c->deadline_ns && pl_mono_ns() > c->deadline_ns)
        return query__errf(c, QUERY_ERR_TIMEOUT, "query timed out in expression evaluation");
    return 0;
}

int query__samples_add(struct ev_ctx *c, size_t n)
{
    c->cur_samples += n;
    if (c->max_samples && c->cur_samples > c->max_samples)
        return query__errf(c, QUERY_ERR_EXECUTION,
                           "query processing would load too many samples into memory in query "
                           "execution");
    return 0;
}

int query__steps_check(struct ev_ctx *c)
{
    /* A value per step counts against the limit like the points Prometheus holds. */
    if (c->max_samples && c->cur_samples + c->nsteps > c->max_samples)
        return query__errf(c, QUERY_ERR_EXECUTION,
                           "query processing would load too many samples into memory in query "
                           "execution");
    return 0;
}

const struct pl_labels *query__pool(struct ev_ctx *c, struct pl_labels *ls)
{
    if (c->npool == c->poolcap) {
        c->poolcap = c->poolcap ? c->poolcap * 2 : 64;
        c->pool = pl_xreallocarray(c->pool, c->poolcap, sizeof(*c->pool));
    }
    c->pool[c->npool++] = ls;
    return ls;
}

const struct pl_labels *query__lb_pooled(struct ev_ctx *c)
{
    return query__pool(c, pl_lb_labels(&c->lb));
}

const struct pl_labels *query__drop_name(struct ev_ctx *c, const struct pl_labels *ls)
{
    if (!pl_labels_get(ls, PL_METRIC_NAME))
        return ls;
    pl_lb_reset_from(&c->lb, ls);
    pl_lb_del(&c->lb, PL_METRIC_NAME, strlen(PL_METRIC_NAME));
    return query__lb_pooled(c);
}

void query__series_push(struct ev_series *s, int64_t t, double v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->t = pl_xreallocarray(s->t, s->cap, sizeof(*s->t));
        s->v = pl_xreallocarray(s->v, s->cap, sizeof(*s->v));
    }
    s->t[s->n] = t;
    s->v[s->n] = v;
    s->n++;
}

struct ev_series *query__matrix_add(struct ev_matrix *m, const struct pl_labels *ls)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->s = pl_xreallocarray(m->s, m->cap, sizeof(*m->s));
    }
    struct ev_series *s = &m->s[m->n++];
    memset(s, 0, sizeof(*s));
    s->ls = ls;
    return s;
}

void query__matrix_fini(struct ev_matrix *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->s[i].t);
        free(m->s[i].v);
    }
    free(m->s);
    memset(m, 0, sizeof(*m));
}

void query__value_fini(struct ev_ctx *c, struct ev_value *v)
{
    size_t pts = 0;
    for (size_t i = 0; i < v->m.n; i++)
        pts += v->m.s[i].n;
    c->cur_samples = c->cur_samples >= pts ? c->cur_samples - pts : 0;
    query__matrix_fini(&v->m);
    free(v->sc);
    memset(v, 0, sizeof(*v));
}

int64_t query__step_time(const struct ev_ctx *c, size_t k)
{
    return c->start + (int64_t)k * c->step;
}

int64_t query__ref_time(const struct ev_ctx *c, enum query_at at, int64_t at_ms, int64_t offset,
                        int64_t ts)
{
    switch (at) {
    case QUERY_AT_TIME:
        ts = at_ms;
        break;
    case QUERY_AT_START:
        ts = c->qstart;
        break;
    case QUERY_AT_END:
        ts = c->qend;
        break;
    case QUERY_AT_NONE:
        break;
    }
    return query__tsub(ts, offset);
}

void query__samples_fini(struct tsdb_samples *s)
{
    free(s->t);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* ---- hash multimap ---- */

void query__hmap_init(struct ev_hmap *m)
{
    memset(m, 0, sizeof(*m));
}

void query__hmap_fini(struct ev_hmap *m)
{
    free(m->buckets);
    free(m->e);
    memset(m, 0, sizeof(*m));
}

void query__hmap_clear(struct ev_hmap *m)
{
    if (m->n)
        memset(m->buckets, 0, m->nb * sizeof(*m->buckets));
    m->n = 0;
}

static void hmap_rehash(struct ev_hmap *m, size_t nb)
{
    free(m->buckets);
    m->buckets = pl_xcalloc(nb, sizeof(*m->buckets));
    m->nb = nb;
    for (size_t i = 0; i < m->n; i++) {
        size_t b = (size_t)(m->e[i].h & (nb - 1));
        m->e[i].next = m->buckets[b];
        m->buckets[b] = (uint32_t)(i + 1);
    }
}

void query__hmap_put(struct ev_hmap *m, uint64_t h, uint32_t val)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->e = pl_xreallocarray(m->e, m->cap, sizeof(*m->e));
    }
    if (m->n + 1 > m->nb / 2 + m->nb / 4 || m->nb == 0)
        hmap_rehash(m, m->nb ? m->nb * 2 : 32);
    size_t b = (size_t)(h & (m->nb - 1));
    m->e[m->n].h = h;
    m->e[m->n].val = val;
    m->e[m->n].next = m->buckets[b];
    m->buckets[b] = (uint32_t)(m->n + 1);
    m->n++;
}

int query__hmap_iter(const struct ev_hmap *m, uint64_t h, uint32_t *it, uint32_t *val)
{
    if (m->nb == 0)
        return 0;
    uint32_t i = *it == 0 ? m->buckets[h & (m->nb - 1)] : m->e[*it - 1].next;
    while (i) {
        const struct ev_hent *e = &m->e[i - 1];
        if (e->h == h) {
            *it = i;
            *val = e->val;
            return 1;
        }
        i = e->next;
    }
    *it = 0;
    return 0;
}

/* ---- duplicate label sets ---- */

static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Merges series j into series i (range mode), keeping time order. */
static void series_merge(struct ev_series *dst, struct ev_series *src)
{
    for (size_t k = 0; k < src->n; k++)
        query__series_push(dst, src->t[k], src->v[k]);
    /* Sort by time: points are (t, v) pairs held in two arrays. */
    size_t n = dst->n;
    int64_t *idx = pl_xmalloc(n * 2 * sizeof(int64_t));
    for (size_t k = 0; k < n; k++) {
        idx[2 * k] = dst->t[k];
        memcpy(&idx[2 * k + 1], &dst->v[k], sizeof(double));
    }
    qsort(idx, n, 2 * sizeof(int64_t), cmp_int64);
    for (size_t k = 0; k < n; k++) {
        dst->t[k] = idx[2 * k];
        memcpy(&dst->v[k], &idx[2 * k + 1], sizeof(double));
    }
    free(idx);
    free(src->t);
    free(src->v);
    memset(src, 0, sizeof(*src));
}

int query__matrix_dedupe(struct ev_ctx *c, struct ev_matrix *m)
{
    if (m->n < 2)
        return 0;
    struct ev_hmap h;
    query__hmap_init(&h);
    int rc = 0, merged = 0;
    for (size_t i = 0; i < m->n; i++) {
        uint32_t it = 0, j;
        int found = 0;
        while (query__hmap_iter(&h, m->s[i].ls->hash, &it, &j)) {
            if (pl_labels_equal(m->s[j].ls, m->s[i].ls)) {
                found = 1;
                break;
            }
        }
        if (!found) {
            query__hmap_put(&h, m->s[i].ls->hash, (uint32_t)i);
            continue;
        }
        if (c->nsteps == 1) {
            rc = query__errf(c, QUERY_ERR_EXECUTION,
                             "vector cannot contain metrics with the same labelset");
            break;
        }
        series_merge(&m->s[j], &m->s[i]);
        m->s[i].ls = NULL;
        merged = 1;
    }
    query__hmap_fini(&h);
    if (merged) {
        size_t w = 0;
        for (size_t i = 0; i < m->n; i++)
            if (m->s[i].ls)
                m->s[w++] = m->s[i];
        m->n = w;
    }
    return rc;
}

/* ---- storage access ---- */

static int storage_err(struct ev_ctx *c, const struct pl_err *pe)
{
    return query__errf(c, QUERY_ERR_EXECUTION, "%s", pe->msg[0] ? pe->msg : pl_err_str(pe->code));
}

/*
 * Loads every series matching the selector with its samples in [mint, maxt]
 * into out, one series per label set (labels copied into the pool). With
 * drop_stale, stale markers are left out (range selectors).
 */
__attribute__((noinline)) static int load_series(struct ev_ctx *c, const struct query_node *vsn,
                                                 int64_t mint, int64_t maxt, int drop_stale,
                                                 struct ev_matrix *out)
{
    struct pl_err pe;
    void *view = NULL, *set = NULL;
    int rc;
    pl_err_clear(&pe);
    if (maxt < mint)
        return 0;
    rc = c->st->open(c->st->ctx, mint, maxt, &view, &pe);
    if (rc)
        return storage_err(c, &pe);
    rc = c->st->select(view, (struct tsdb_matcher *const *)vsn->vs.matchers, vsn->vs.nmatchers,
                       &set, &pe);
    if (rc) {
        c->st->close(view);
        return storage_err(c, &pe);
    }
    const struct pl_labels *ls;
    for (;;) {
        rc = c->st->next(set, &ls);
        if (rc < 0) {
            rc = query__errf(c, QUERY_ERR_EXECUTION, "reading series: %s", pl_err_str(rc));
            break;
        }
        if (rc == 0)
            break;
        rc = c->st->samples(set, mint, maxt, &c->buf, &pe);
        if (rc) {
            rc = storage_err(c, &pe);
            break;
        }
        if ((rc = query__tick(c, 1 + c->buf.n)) != 0)
            break;
        size_t keep = 0;
        for (size_t i = 0; i < c->buf.n; i++)
            if (!(drop_stale && query__is_stale(c->buf.v[i])))
                keep++;
        c->total_samples += c->buf.n;
        if (keep == 0 && drop_stale)
            continue;
        struct ev_series *s = query__matrix_add(out, query__pool(c, pl_labels_dup(ls)));
        if (keep) {
            s->t = pl_xmalloc(keep * sizeof(*s->t));
            s->v = pl_xmalloc(keep * sizeof(*s->v));
            s->cap = keep;
        }
        for (size_t i = 0; i < c->buf.n; i++) {
            if (drop_stale && query__is_stale(c->buf.v[i]))
                continue;
            s->t[s->n] = c->buf.t[i];
            s->v[s->n] = c->buf.v[i];
            s->n++;
        }
    }
    c->st->set_free(set);
    c->st->close(view);
    return rc;
}

/* The reference times a selector sees over the current range: [*lo, *hi]. */
static void ref_span(const struct ev_ctx *c, enum query_at at, int64_t at_ms, int64_t offset,
                     int64_t *lo, int64_t *hi)
{
    *lo = query__ref_time(c, at, at_ms, offset, c->start);
    *hi = query__ref_time(c, at, at_ms, offset, c->end);
}

/*
 * An instant vector selector over the steps. With ts_mode, each point's value
 * is the sample's timestamp in seconds (for timestamp()).
 */
__attribute__((noinline)) static int eval_vector_selector(struct ev_ctx *c,
                                                          const struct query_node *n, int ts_mode,
                                                          struct ev_value *out)
{
    int64_t lo, hi;
    struct ev_matrix raw = {0};
    ref_span(c, n->vs.at, n->vs.at_ms, n->vs.offset_ms, &lo, &hi);
    int rc = load_series(c, n, query__tsub(lo, c->lookback), hi, 0, &raw);
    out->type = QUERY_VT_VECTOR;
    for (size_t i = 0; rc == 0 && i < raw.n; i++) {
        struct ev_series *in = &raw.s[i];
        struct ev_series *o = NULL;
        size_t j = 0;
        for (size_t k = 0; k < c->nsteps; k++) {
            if ((rc = query__tick(c, 1)) != 0)
                break;
            int64_t ts = query__step_time(c, k);
            int64_t ref = query__ref_time(c, n->vs.at, n->vs.at_ms, n->vs.offset_ms, ts);
            while (j < in->n && in->t[j] <= ref)
                j++;
            if (j == 0)
                continue;
            int64_t st = in->t[j - 1];
            double sv = in->v[j - 1];
            if (st < query__tsub(ref, c->lookback) || query__is_stale(sv))
                continue;
            if (!o) {
                o = query__matrix_add(&out->m, in->ls);
                o->cap = c->nsteps < in->n + 1 ? c->nsteps : in->n + 1;
                o->t = pl_xmalloc(o->cap * sizeof(*o->t));
                o->v = pl_xmalloc(o->cap * sizeof(*o->v));
            }
            query__series_push(o, ts, ts_mode ? (double)st / 1000.0 : sv);
        }
        if (rc == 0 && o)
            rc = query__samples_add(c, o->n);
        if (rc == 0)
            rc = query__tick(c, in->n);
    }
    query__matrix_fini(&raw);
    return rc;
}

/* Subquery bounds: the first multiple of step at or after lo, through hi. */
static int64_t align_up(int64_t lo, int64_t step)
{
    int64_t s = step * (lo / step); /* truncates toward zero, like Go */
    if (s < lo && s <= INT64_MAX - step)
        s += step;
    return s;
}

int query__msrc_load(struct ev_ctx *c, const struct query_node *n, struct ev_msrc *out)
{
    memset(out, 0, sizeof(*out));
    while (n->kind == QUERY_NODE_PAREN)
        n = n->paren.expr;
    if (n->kind == QUERY_NODE_MATRIX_SELECTOR) {
        const struct query_node *vs = n->ms.vs;
        int64_t lo, hi;
        out->range = n->ms.range_ms;
        out->offset = vs->vs.offset_ms;
        out->at = vs->vs.at;
        out->at_ms = vs->vs.at_ms;
        out->vs = vs;
        ref_span(c, out->at, out->at_ms, out->offset, &lo, &hi);
        return load_series(c, vs, query__tsub(lo, out->range), hi, 1, &out->m);
    }
    if (n->kind != QUERY_NODE_SUBQUERY)
        return query__errf(c, QUERY_ERR_BAD_DATA, "expected a range vector argument");
    out->range = n->subquery.range_ms;
    out->offset = n->subquery.offset_ms;
    out->at = n->subquery.at;
    out->at_ms = n->subquery.at_ms;
    int64_t lo, hi;
    ref_span(c, out->at, out->at_ms, out->offset, &lo, &hi);
    int64_t step = n->subquery.step_ms > 0 ? n->subquery.step_ms : c->default_step;
    if (step <= 0)
        return query__errf(c, QUERY_ERR_BAD_DATA, "zero or negative subquery step");
    /* Only the range changes inside the subquery; everything else carries on. */
    int64_t save_start = c->start, save_end = c->end, save_step = c->step;
    size_t save_nsteps = c->nsteps;
    int64_t sq_start = align_up(query__tsub(lo, out->range), step);
    if (hi < sq_start)
        return 0;
    /*
     * Prometheus bounds a subquery only by the samples it produces (counted as
     * they are made); the step count itself is capped here so that the
     * per-step scalar arrays stay allocatable.
     */
    int64_t span;
    if (__builtin_sub_overflow(hi, sq_start, &span))
        span = INT64_MAX;
    uint64_t ns = (uint64_t)(span / step) + 1;
    if (ns > UINT64_C(1) << 31)
        return query__errf(c, QUERY_ERR_EXECUTION,
                           "query processing would load too many samples into memory in query "
                           "execution");
    c->start = sq_start;
    c->end = hi;
    c->step = step;
    c->nsteps = (size_t)ns;
    struct ev_value v = {0};
    int rc = query__eval(c, n->subquery.expr, &v);
    c->start = save_start;
    c->end = save_end;
    c->step = save_step;
    c->nsteps = save_nsteps;
    if (rc) {
        query__value_fini(c, &v);
        return rc;
    }
    if (v.type == QUERY_VT_SCALAR) {
        /* A scalar subquery result is one series without labels. */
        struct ev_series *s = query__matrix_add(&out->m, c->empty);
        int64_t st = align_up(query__tsub(lo, out->range), step);
        for (size_t k = 0; k < ns && rc == 0; k++) {
            query__series_push(s, st + (int64_t)k * step, v.sc[k]);
            rc = query__tick(c, 1);
        }
        query__value_fini(c, &v);
        return rc;
    }
    out->m = v.m; /* points at the subquery's steps */
    v.m.s = NULL;
    v.m.n = 0;
    free(v.sc);
    return 0;
}

void query__msrc_fini(struct ev_ctx *c, struct ev_msrc *ms)
{
    size_t pts = 0;
    for (size_t i = 0; i < ms->m.n; i++)
        pts += ms->m.s[i].n;
    (void)pts;
    (void)c;
    query__matrix_fini(&ms->m);
}

/* A range vector at the top of an instant query: the samples of each window. */
__attribute__((noinline)) static int eval_range_value(struct ev_ctx *c, const struct query_node *n,
                                                      struct ev_value *out)
{
    struct ev_msrc ms;
    int rc = query__msrc_load(c, n, &ms);
    out->type = QUERY_VT_MATRIX;
    int64_t ref = query__ref_time(c, ms.at, ms.at_ms, ms.offset, c->start);
    for (size_t i = 0; rc == 0 && i < ms.m.n; i++) {
        struct ev_series *in = &ms.m.s[i];
        struct ev_series *o = NULL;
        for (size_t j = 0; j < in->n && rc == 0; j++) {
            rc = query__tick(c, 1);
            if (in->t[j] < query__tsub(ref, ms.range) || in->t[j] > ref)
                continue;
            if (!o)
                o = query__matrix_add(&out->m, in->ls);
            query__series_push(o, in->t[j], in->v[j]);
        }
        if (rc == 0 && o)
            rc = query__samples_add(c, o->n);
    }
    query__msrc_fini(c, &ms);
    return rc;
}

static int eval_unary(struct ev_ctx *c, const struct query_node *n, struct ev_value *out)
{
    int rc = query__eval(c, n->unary.expr, out);
    if (rc || n->unary.op != QUERY_OP_SUB)
        return rc;
    if (out->type == QUERY_VT_SCALAR) {
        for (size_t k = 0; k < c->nsteps; k++)
            out->sc[k] = -out->sc[k];
        return query__tick(c, c->nsteps);
    }
    for (size_t i = 0; i < out->m.n; i++) {
        struct ev_series *s = &out->m.s[i];
        s->ls = query__drop_name(c, s->ls);
        for (size_t j = 0; j < s->n; j++)
            s->v[j] = -s->v[j];
        if ((rc = query__tick(c, 1 + s->n)) != 0)
            return rc;
    }
    /* Prometheus checks this in range mode too. */
    size_t save = c->nsteps;
    c->nsteps = 1;
    rc = query__matrix_dedupe(c, &out->m);
    c->nsteps = save;
    return rc;
}

int query__eval_scalar(struct ev_ctx *c, const struct query_node *n, double **out)
{
    struct ev_value v = {0};
    int rc = query__eval(c, n, &v);
    if (rc) {
        query__value_fini(c, &v);
        return rc;
    }
    if (v.type != QUERY_VT_SCALAR) {
        query__value_fini(c, &v);
        return query__errf(c, QUERY_ERR_BAD_DATA, "expected a scalar expression, got %s",
                           query_value_type_name(v.type));
    }
    *out = v.sc;
    return 0;
}

int query__eval(struct ev_ctx *c, const struct query_node *n, struct ev_value *out)
{
    memset(out, 0, sizeof(*out));
    int rc = query__check(c);
    if (rc)
        return rc;
    switch (n->kind) {
    case QUERY_NODE_NUMBER:
        if ((rc = query__steps_check(c)) != 0)
            return rc;
        out->type = QUERY_VT_SCALAR;
        out->sc = pl_xmalloc(c->nsteps * sizeof(double));
        /* A simple fill, bounded by max_samples: counted, not interrupted. */
        for (size_t k = 0; k < c->nsteps; k++)
            out->sc[k] = n->number;
        return query__tick(c, c->nsteps);
    case QUERY_NODE_STRING:
        out->type = QUERY_VT_STRING;
        out->str = n->string.s;
        return 0;
    case QUERY_NODE_PAREN:
        return query__eval(c, n->paren.expr, out);
    case QUERY_NODE_VECTOR_SELECTOR:
        return eval_vector_selector(c, n, 0, out);
    case QUERY_NODE_MATRIX_SELECTOR:
    case QUERY_NODE_SUBQUERY:
        return eval_range_value(c, n, out);
    case QUERY_NODE_UNARY:
        return eval_unary(c, n, out);
    case QUERY_NODE_BINARY:
        return query__binary(c, n, out);
    case QUERY_NODE_CALL:
        return query__call(c, n, out);
    case QUERY_NODE_AGGREGATE:
        return query__aggregate(c, n, out);
    }
    return query__errf(c, QUERY_ERR_INTERNAL, "unknown expression node %d", (int)n->kind);
}

/* For timestamp(): the selector's sample times instead of values. */
int query__eval_selector_times(struct ev_ctx *c, const struct query_node *n, struct ev_value *out)
{
    memset(out, 0, sizeof(*out));
    return eval_vector_selector(c, n, 1, out);
}
