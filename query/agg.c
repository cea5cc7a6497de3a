/*
 * agg.c - PromQL aggregation operators: sum, avg, count, min, max, group,
 * stddev, stdvar, topk, bottomk, count_values and quantile, with by/without
 * (Prometheus 2.42, promql/engine.go aggregation()).
 *
 * Each input series' group is computed once; the steps are then streamed:
 * at every step the samples present are folded into their group's
 * accumulator in input order, and groups are emitted in order of first
 * appearance (the order Prometheus returns for instant queries). topk and
 * bottomk keep Go's container/heap order, so ties and NaN come out as in
 * Prometheus.
 */
#include "query/eval_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "query/parse_int.h"

struct acc {
    double value, mean;
    double count;
    int touched;
    size_t nheap; /* topk/bottomk: heap entries in heap[hoff..] */
    size_t hoff;  /* offset of this group's slots in the shared arrays */
    int32_t out;  /* output series index (range mode), -1 none */
};

/* A heap entry: the value and its input series. */
struct hent {
    double v;
    uint32_t s;
};

static int heap_less(const struct hent *h, size_t i, size_t j, int bottom)
{
    if (isnan(h[i].v))
        return 1;
    return bottom ? h[i].v > h[j].v : h[i].v < h[j].v;
}

static void heap_swap(struct hent *h, size_t i, size_t j)
{
    struct hent t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static void heap_up(struct hent *h, size_t j, int bottom)
{
    while (j > 0) {
        size_t i = (j - 1) / 2;
        if (!heap_less(h, j, i, bottom))
            break;
        heap_swap(h, i, j);
        j = i;
    }
}

static int heap_down(struct hent *h, size_t i0, size_t n, int bottom)
{
    size_t i = i0;
    for (;;) {
        size_t j1 = 2 * i + 1;
        if (j1 >= n)
            break;
        size_t j = j1;
        if (j1 + 1 < n && heap_less(h, j1 + 1, j1, bottom))
            j = j1 + 1;
        if (!heap_less(h, j, i, bottom))
            break;
        heap_swap(h, i, j);
        i = j;
    }
    return i > i0;
}

/* sort.Sort(sort.Reverse(heap)): stable for the small sizes Go sorts by insertion. */
static void heap_sort_reverse(struct hent *h, size_t n, int bottom)
{
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && heap_less(h, j - 1, j, bottom); j--)
            heap_swap(h, j, j - 1);
    }
}

static void format_go_float_v(double v, char *buf, size_t n)
{
    /* Go's %v for a float64: %g with the shortest representation. */
    if (isnan(v)) {
        snprintf(buf, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* The group labels of ls for by/without. */
static const struct pl_labels *group_labels(struct ev_ctx *c, const struct query_node *n,
                                            const struct pl_labels *ls)
{
    if (n->agg.without) {
        pl_lb_reset_from(&c->lb, ls);
        for (size_t i = 0; i < n->agg.ngrouping; i++)
            pl_lb_del(&c->lb, n->agg.grouping[i], strlen(n->agg.grouping[i]));
        pl_lb_del(&c->lb, PL_METRIC_NAME, strlen(PL_METRIC_NAME));
    } else {
        pl_lb_reset(&c->lb);
        for (size_t i = 0; i < n->agg.ngrouping; i++) {
            const struct pl_label *l = pl_labels_get(ls, n->agg.grouping[i]);
            if (l)
                pl_lb_set(&c->lb, l->name, l->name_len, l->value, l->value_len);
        }
    }
    if (c->lb.n == 0)
        return c->empty;
    return query__lb_pooled(c);
}

/* Finds or adds the group with labels gl; returns its index. */
static uint32_t group_find(struct ev_hmap *h, const struct pl_labels ***glab, size_t *ng,
                           size_t *gcap, const struct pl_labels *gl)
{
    uint32_t it = 0, g;
    while (query__hmap_iter(h, gl->hash, &it, &g))
        if (pl_labels_equal((*glab)[g], gl))
            return g;
    if (*ng == *gcap) {
        *gcap = *gcap ? *gcap * 2 : 16;
        *glab = pl_xreallocarray(*glab, *gcap, sizeof(**glab));
    }
    g = (uint32_t)(*ng)++;
    (*glab)[g] = gl;
    query__hmap_put(h, gl->hash, g);
    return g;
}

static int count_values(struct ev_ctx *c, const struct query_node *n, const char *label,
                        struct ev_value *in, struct ev_value *out)
{
    size_t ns = in->m.n;
    size_t *cur = pl_xcalloc(ns + 1, sizeof(size_t));
    /* Cache per input series: the last value seen and its group. */
    double *lastv = pl_xmalloc((ns + 1) * sizeof(double));
    int64_t *lastg = pl_xmalloc((ns + 1) * sizeof(int64_t));
    for (size_t i = 0; i < ns; i++)
        lastg[i] = -1;
    struct ev_hmap h;
    query__hmap_init(&h);
    const struct pl_labels **glab = NULL;
    size_t ng = 0, gcap = 0;
    double *cnt = NULL;
    int32_t *gout = NULL;
    size_t *order = NULL;
    size_t alloc = 0;
    struct pl_buf num;
    pl_buf_init(&num, 1024);
    int rc = 0;
    out->type = QUERY_VT_VECTOR;
    for (size_t k = 0; k < c->nsteps && rc == 0; k++) {
        int64_t ts = query__step_time(c, k);
        size_t norder = 0;
        for (size_t i = 0; i < ns; i++) {
            struct ev_series *s = &in->m.s[i];
            if (cur[i] >= s->n || s->t[cur[i]] != ts)
                continue;
            double v = s->v[cur[i]++];
            uint32_t g;
            if (lastg[i] >= 0 && (lastv[i] == v || (isnan(v) && isnan(lastv[i])))) {
                g = (uint32_t)lastg[i];
            } else {
                pl_buf_reset(&num);
                query__format_float(&num, v);
                pl_lb_reset_from(&c->lb, s->ls);
                pl_lb_setz(&c->lb, label, pl_buf_cstr(&num));
                const struct pl_labels *withv = query__lb_pooled(c);
                const struct pl_labels *gl;
                if (n->agg.without) {
                    gl = group_labels(c, n, withv);
                } else {
                    pl_lb_reset(&c->lb);
                    for (size_t j = 0; j < n->agg.ngrouping; j++) {
                        const struct pl_label *l = pl_labels_get(withv, n->agg.grouping[j]);
                        if (l)
                            pl_lb_set(&c->lb, l->name, l->name_len, l->value, l->value_len);
                    }
                    pl_lb_setz(&c->lb, label, pl_buf_cstr(&num));
                    gl = query__lb_pooled(c);
                }
                g = group_find(&h, &glab, &ng, &gcap, gl);
                lastg[i] = g;
                lastv[i] = v;
            }
            if (ng > alloc) {
                size_t na = gcap;
                cnt = pl_xreallocarray(cnt, na, sizeof(*cnt));
                gout = pl_xreallocarray(gout, na, sizeof(*gout));
                order = pl_xreallocarray(order, na, sizeof(*order));
                for (size_t j = alloc; j < na; j++) {
                    cnt[j] = 0;
                    gout[j] = -1;
                }
                alloc = na;
            }
            if (cnt[g] == 0)
                order[norder++] = g;
            cnt[g]++;
        }
        for (size_t oi = 0; oi < norder; oi++) {
            size_t g = order[oi];
            if (c->nsteps == 1 || gout[g] < 0) {
                gout[g] = (int32_t)out->m.n;
                query__matrix_add(&out->m, glab[g]);
            }
            query__series_push(&out->m.s[gout[g]], ts, cnt[g]);
            cnt[g] = 0;
        }
        if (rc == 0)
            rc = query__samples_add(c, norder);
        if (rc == 0)
            rc = query__check(c);
    }
    pl_buf_fini(&num);
    free(cnt);
    free(gout);
    free(order);
    free(glab);
    free(lastv);
    free(lastg);
    free(cur);
    query__hmap_fini(&h);
    return rc;
}

int query__aggregate(struct ev_ctx *c, const struct query_node *n, struct ev_value *out)
{
    enum query_aggop op = n->agg.op;
    double *param = NULL;
    const char *label = NULL;
    int rc = 0;
    if (op == QUERY_AGG_TOPK || op == QUERY_AGG_BOTTOMK || op == QUERY_AGG_QUANTILE) {
        if ((rc = query__eval_scalar(c, n->agg.param, &param)) != 0)
            return rc;
    } else if (op == QUERY_AGG_COUNT_VALUES) {
        struct ev_value pv = {0};
        if ((rc = query__eval(c, n->agg.param, &pv)) != 0)
            return rc;
        label = pv.type == QUERY_VT_STRING ? pv.str : NULL;
        query__value_fini(c, &pv);
        if (!label)
            return query__errf(c, QUERY_ERR_BAD_DATA, "count_values needs a string parameter");
        if (!pl_label_name_valid(label, strlen(label)))
            return query__errf(c, QUERY_ERR_EXECUTION, "invalid label name \"%s\"", label);
    }
    struct ev_value in = {0};
    if ((rc = query__eval(c, n->agg.expr, &in)) != 0)
        goto out;
    out->type = QUERY_VT_VECTOR;
    if (op == QUERY_AGG_COUNT_VALUES) {
        rc = count_values(c, n, label, &in, out);
        goto out;
    }

    size_t ns = in.m.n;
    uint32_t *grp = pl_xmalloc((ns + 1) * sizeof(*grp));
    struct ev_hmap h;
    query__hmap_init(&h);
    const struct pl_labels **glab = NULL;
    size_t ng = 0, gcap = 0;
    for (size_t i = 0; i < ns; i++)
        grp[i] = group_find(&h, &glab, &ng, &gcap, group_labels(c, n, in.m.s[i].ls));
    query__hmap_fini(&h);

    struct acc *acc = pl_xcalloc(ng + 1, sizeof(*acc));
    size_t *members = pl_xcalloc(ng + 1, sizeof(size_t));
    for (size_t i = 0; i < ns; i++)
        members[grp[i]]++;
    for (size_t g = 0; g < ng; g++) {
        acc[g].hoff = g ? acc[g - 1].hoff + members[g - 1] : 0;
        acc[g].out = -1;
    }
    int is_k = op == QUERY_AGG_TOPK || op == QUERY_AGG_BOTTOMK;
    int bottom = op == QUERY_AGG_BOTTOMK;
    struct hent *heap =
        (is_k || op == QUERY_AGG_QUANTILE) ? pl_xmalloc((ns + 1) * sizeof(*heap)) : NULL;
    double *qv = op == QUERY_AGG_QUANTILE ? pl_xmalloc((ns + 1) * sizeof(double)) : NULL;
    int32_t *sout = is_k ? pl_xmalloc((ns + 1) * sizeof(*sout)) : NULL;
    for (size_t i = 0; sout && i < ns; i++)
        sout[i] = -1;
    size_t *cur = pl_xcalloc(ns + 1, sizeof(size_t));
    uint32_t *order = pl_xmalloc((ng + 1) * sizeof(*order));

    for (size_t k = 0; k < c->nsteps && rc == 0; k++) {
        int64_t ts = query__step_time(c, k);
        int64_t kk = 0;
        if (is_k) {
            double f = param[k];
            /* Prometheus's convertibleToInt64 bounds (maxInt64 is the largest exact float). */
            if (!(f <= 9223372036854774784.0 && f >= -9223372036854775808.0)) {
                char b[64];
                format_go_float_v(f, b, sizeof(b));
                rc = query__errf(c, QUERY_ERR_EXECUTION, "Scalar value %s overflows int64", b);
                break;
            }
            kk = (int64_t)f;
        }
        size_t norder = 0;
        for (size_t i = 0; i < ns; i++) {
            struct ev_series *s = &in.m.s[i];
            if (cur[i] >= s->n || s->t[cur[i]] != ts)
                continue;
            double v = s->v[cur[i]++];
            if (is_k && kk < 1)
                continue;
            struct acc *a = &acc[grp[i]];
            struct hent *hp = heap ? heap + a->hoff : NULL;
            if (!a->touched) {
                a->touched = 1;
                order[norder++] = grp[i];
                a->value = v;
                a->mean = v;
                a->count = 1;
                if (op == QUERY_AGG_STDDEV || op == QUERY_AGG_STDVAR)
                    a->value = 0;
                else if (op == QUERY_AGG_GROUP)
                    a->value = 1;
                if (hp) {
                    hp[0].v = v;
                    hp[0].s = (uint32_t)i;
                    a->nheap = 1;
                }
                continue;
            }
            switch (op) {
            case QUERY_AGG_SUM:
                a->value += v;
                break;
            case QUERY_AGG_AVG:
                a->count++;
                if (isinf(a->mean)) {
                    if (isinf(v) && (a->mean > 0) == (v > 0))
                        break;
                    if (!isinf(v) && !isnan(v))
                        break;
                }
                a->mean += v / a->count - a->mean / a->count;
                break;
            case QUERY_AGG_MAX:
                if (a->value < v || isnan(a->value))
                    a->value = v;
                break;
            case QUERY_AGG_MIN:
                if (a->value > v || isnan(a->value))
                    a->value = v;
                break;
            case QUERY_AGG_COUNT:
                a->count++;
                break;
            case QUERY_AGG_STDDEV:
            case QUERY_AGG_STDVAR: {
                a->count++;
                double delta = v - a->mean;
                a->mean += delta / a->count;
                a->value += delta * (v - a->mean);
                break;
            }
            case QUERY_AGG_TOPK:
            case QUERY_AGG_BOTTOMK:
                if ((int64_t)a->nheap < kk) {
                    hp[a->nheap].v = v;
                    hp[a->nheap].s = (uint32_t)i;
                    heap_up(hp, a->nheap, bottom);
                    a->nheap++;
                } else if ((bottom ? hp[0].v > v : hp[0].v < v) || (isnan(hp[0].v) && !isnan(v))) {
                    /*
                     * The smallest (largest for bottomk) entry leaves as
                     * container/heap's Pop and the new one enters as Push:
                     * this order is what decides ties in Prometheus's output.
                     */
                    size_t last = a->nheap - 1;
                    heap_swap(hp, 0, last);
                    heap_down(hp, 0, last, bottom);
                    hp[last].v = v;
                    hp[last].s = (uint32_t)i;
                    heap_up(hp, last, bottom);
                }
                break;
            case QUERY_AGG_QUANTILE:
                hp[a->nheap].v = v;
                hp[a->nheap].s = (uint32_t)i;
                a->nheap++;
                break;
            default:
                break;
            }
        }
        size_t emitted = 0;
        for (size_t oi = 0; oi < norder; oi++) {
            struct acc *a = &acc[order[oi]];
            struct hent *hp = heap ? heap + a->hoff : NULL;
            a->touched = 0;
            if (is_k) {
                heap_sort_reverse(hp, a->nheap, bottom);
                for (size_t j = 0; j < a->nheap; j++) {
                    uint32_t si = hp[j].s;
                    if (c->nsteps == 1 || sout[si] < 0) {
                        sout[si] = (int32_t)out->m.n;
                        query__matrix_add(&out->m, in.m.s[si].ls);
                    }
                    query__series_push(&out->m.s[sout[si]], ts, hp[j].v);
                    emitted++;
                }
                continue;
            }
            double v = a->value;
            switch (op) {
            case QUERY_AGG_AVG:
                v = a->mean;
                break;
            case QUERY_AGG_COUNT:
                v = a->count;
                break;
            case QUERY_AGG_STDVAR:
                v = a->value / a->count;
                break;
            case QUERY_AGG_STDDEV:
                v = sqrt(a->value / a->count);
                break;
            case QUERY_AGG_QUANTILE:
                for (size_t j = 0; j < a->nheap; j++)
                    qv[j] = hp[j].v;
                v = query__quantile(param[k], qv, a->nheap);
                break;
            default:
                break;
            }
            if (c->nsteps == 1 || a->out < 0) {
                a->out = (int32_t)out->m.n;
                query__matrix_add(&out->m, glab[order[oi]]);
            }
            query__series_push(&out->m.s[a->out], ts, v);
            emitted++;
        }
        rc = query__samples_add(c, emitted);
        if (rc == 0)
            rc = query__check(c);
    }
    free(order);
    free(cur);
    free(sout);
    free(qv);
    free(heap);
    free(members);
    free(acc);
    free(glab);
    free(grp);
out:
    query__value_fini(c, &in);
    free(param);
    return rc;
}
