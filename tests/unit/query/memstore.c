/*
 * memstore.c - the in-memory query_queryable used by test_query: a hash of
 * label sets to series with sorted sample arrays, and a select that filters
 * with tsdb matchers and returns series sorted by labels, like the TSDB.
 */
#include "memstore.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "tsdb/matcher.h"

struct mseries {
    struct pl_labels *ls;
    int64_t *t;
    double *v;
    size_t n, cap;
};

struct memstore {
    struct mseries *s;
    size_t n, cap;
    /* open-addressing index: series index + 1 by label hash, 0 = empty */
    uint32_t *idx;
    size_t nidx;
};

struct mview {
    struct memstore *ms;
    int64_t mint, maxt;
};

struct mset {
    struct mview *view;
    size_t *idx;
    size_t n, pos;
};

struct memstore *memstore_new(void)
{
    return pl_xcalloc(1, sizeof(struct memstore));
}

void memstore_clear(struct memstore *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        pl_labels_free(ms->s[i].ls);
        free(ms->s[i].t);
        free(ms->s[i].v);
    }
    ms->n = 0;
    if (ms->idx)
        memset(ms->idx, 0, ms->nidx * sizeof(*ms->idx));
}

static void index_put(struct memstore *ms, size_t i)
{
    size_t mask = ms->nidx - 1, h = (size_t)ms->s[i].ls->hash & mask;
    while (ms->idx[h])
        h = (h + 1) & mask;
    ms->idx[h] = (uint32_t)(i + 1);
}

static struct mseries *find(struct memstore *ms, const struct pl_labels *ls)
{
    if (!ms->nidx)
        return NULL;
    size_t mask = ms->nidx - 1, h = (size_t)ls->hash & mask;
    while (ms->idx[h]) {
        struct mseries *s = &ms->s[ms->idx[h] - 1];
        if (s->ls->hash == ls->hash && pl_labels_equal(s->ls, ls))
            return s;
        h = (h + 1) & mask;
    }
    return NULL;
}

void memstore_free(struct memstore *ms)
{
    if (!ms)
        return;
    memstore_clear(ms);
    free(ms->s);
    free(ms->idx);
    free(ms);
}

void memstore_add(struct memstore *ms, const struct pl_labels *ls, int64_t t, double v)
{
    struct mseries *s = find(ms, ls);
    if (!s) {
        if (ms->n == ms->cap) {
            ms->cap = ms->cap ? ms->cap * 2 : 16;
            ms->s = pl_xreallocarray(ms->s, ms->cap, sizeof(*ms->s));
        }
        if ((ms->n + 1) * 2 > ms->nidx) {
            free(ms->idx);
            ms->nidx = ms->nidx ? ms->nidx * 2 : 64;
            ms->idx = pl_xcalloc(ms->nidx, sizeof(*ms->idx));
            for (size_t i = 0; i < ms->n; i++)
                index_put(ms, i);
        }
        s = &ms->s[ms->n++];
        memset(s, 0, sizeof(*s));
        s->ls = pl_labels_dup(ls);
        index_put(ms, ms->n - 1);
    }
    size_t pos = s->n;
    while (pos > 0 && s->t[pos - 1] >= t)
        pos--;
    if (pos < s->n && s->t[pos] == t) {
        s->v[pos] = v;
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->t = pl_xreallocarray(s->t, s->cap, sizeof(*s->t));
        s->v = pl_xreallocarray(s->v, s->cap, sizeof(*s->v));
    }
    memmove(s->t + pos + 1, s->t + pos, (s->n - pos) * sizeof(*s->t));
    memmove(s->v + pos + 1, s->v + pos, (s->n - pos) * sizeof(*s->v));
    s->t[pos] = t;
    s->v[pos] = v;
    s->n++;
}

int memstore_add_text(struct memstore *ms, const char *series, int64_t t, double v)
{
    struct pl_labels *ls;
    struct pl_err err;
    int rc = pl_labels_parse(series, strlen(series), &ls, &err);
    if (rc)
        return rc;
    memstore_add(ms, ls, t, v);
    pl_labels_free(ls);
    return 0;
}

static int m_open(void *ctx, int64_t mint, int64_t maxt, void **view, struct pl_err *err)
{
    (void)err;
    struct mview *w = pl_xmalloc(sizeof(*w));
    w->ms = ctx;
    w->mint = mint;
    w->maxt = maxt;
    *view = w;
    return 0;
}

static void m_close(void *view)
{
    free(view);
}

static struct memstore *sort_ms;

static int cmp_idx(const void *a, const void *b)
{
    return pl_labels_cmp(sort_ms->s[*(const size_t *)a].ls, sort_ms->s[*(const size_t *)b].ls);
}

static int m_select(void *view, struct tsdb_matcher *const *ms, size_t n, void **set,
                    struct pl_err *err)
{
    struct mview *w = view;
    int nonempty = 0;
    for (size_t i = 0; i < n; i++)
        if (!tsdb_matcher_matches_empty(ms[i]))
            nonempty = 1;
    if (!nonempty)
        return pl_err_set(err, PL_ERR_INVALID,
                          "vector selector must contain at least one "
                          "non-empty matcher");
    struct mset *s = pl_xcalloc(1, sizeof(*s));
    s->view = w;
    s->idx = pl_xmalloc((w->ms->n + 1) * sizeof(size_t));
    for (size_t i = 0; i < w->ms->n; i++)
        if (tsdb_matchers_match_labels(ms, n, w->ms->s[i].ls))
            s->idx[s->n++] = i;
    sort_ms = w->ms;
    qsort(s->idx, s->n, sizeof(size_t), cmp_idx);
    *set = s;
    return 0;
}

static int m_next(void *set, const struct pl_labels **ls)
{
    struct mset *s = set;
    if (s->pos >= s->n)
        return 0;
    *ls = s->view->ms->s[s->idx[s->pos++]].ls;
    return 1;
}

static int m_samples(void *set, int64_t mint, int64_t maxt, struct tsdb_samples *out,
                     struct pl_err *err)
{
    (void)err;
    struct mset *s = set;
    struct mseries *ser = &s->view->ms->s[s->idx[s->pos - 1]];
    if (mint < s->view->mint)
        mint = s->view->mint;
    if (maxt > s->view->maxt)
        maxt = s->view->maxt;
    out->n = 0;
    size_t lo = 0, hi = ser->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ser->t[mid] < mint)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < ser->n; i++) {
        if (ser->t[i] > maxt)
            break;
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 64;
            out->t = pl_xreallocarray(out->t, out->cap, sizeof(*out->t));
            out->v = pl_xreallocarray(out->v, out->cap, sizeof(*out->v));
        }
        out->t[out->n] = ser->t[i];
        out->v[out->n] = ser->v[i];
        out->n++;
    }
    return 0;
}

static void m_set_free(void *set)
{
    struct mset *s = set;
    if (!s)
        return;
    free(s->idx);
    free(s);
}

void memstore_queryable(struct memstore *ms, struct query_queryable *out)
{
    out->ctx = ms;
    out->open = m_open;
    out->close = m_close;
    out->select = m_select;
    out->next = m_next;
    out->samples = m_samples;
    out->set_free = m_set_free;
}
