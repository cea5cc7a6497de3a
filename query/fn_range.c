/*
 * fn_range.c - PromQL functions over range vectors: rate, increase, delta,
 * irate, idelta, deriv, predict_linear, holt_winters, changes, resets and
 * the *_over_time family (Prometheus 2.42, promql/functions.go).
 *
 * Each series' samples were read once (query__msrc_load); a window
 * [ref - range, ref] slides over them step by step with two cursors, so a
 * range query costs O(samples + steps) per series.
 */
#include "query/eval_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

/* Everything a range function sees at one step. */
struct win {
    const int64_t *t;
    const double *v;
    size_t n;
    int64_t ts;          /* evaluation time (for predict_linear) */
    int64_t range_start; /* ref - range */
    int64_t range_end;   /* ref */
    int64_t range;       /* ms */
    double p0, p1;       /* scalar parameters at this step */
    long resets;         /* counter resets inside the window, -1 unknown */
};

/* extrapolatedRate in Prometheus: delta, increase and rate. */
static int fn_extrapolated(const struct win *w, int is_counter, int is_rate, double *out)
{
    if (w->n < 2)
        return 0;
    size_t last = w->n - 1;
    double result = w->v[last] - w->v[0];
    /* The correction loop only matters when the window holds a reset. */
    if (is_counter && w->resets != 0) {
        double lastv = 0;
        for (size_t i = 0; i < w->n; i++) {
            if (w->v[i] < lastv)
                result += lastv;
            lastv = w->v[i];
        }
    }
    double to_start = (double)query__tsub(w->t[0], w->range_start) / 1000.0;
    double to_end = (double)query__tsub(w->range_end, w->t[last]) / 1000.0;
    double sampled = (double)(w->t[last] - w->t[0]) / 1000.0;
    double avg = sampled / (double)last;
    if (is_counter && result > 0 && w->v[0] >= 0) {
        double to_zero = sampled * (w->v[0] / result);
        if (to_zero < to_start)
            to_start = to_zero;
    }
    double threshold = avg * 1.1;
    double interval = sampled;
    interval += to_start < threshold ? to_start : avg / 2;
    interval += to_end < threshold ? to_end : avg / 2;
    /* One factor, divided by the range for rates, as Prometheus rounds it. */
    double factor = interval / sampled;
    if (is_rate)
        factor /= (double)w->range / 1000.0;
    *out = result * factor;
    return 1;
}

/* instantValue in Prometheus: irate and idelta. */
static int fn_instant_value(const struct win *w, int is_rate, double *out)
{
    if (w->n < 2)
        return 0;
    double lv = w->v[w->n - 1], pv = w->v[w->n - 2];
    double r = (is_rate && lv < pv) ? lv : lv - pv;
    int64_t dt = w->t[w->n - 1] - w->t[w->n - 2];
    if (dt == 0)
        return 0;
    if (is_rate)
        r /= (double)dt / 1000.0;
    *out = r;
    return 1;
}

static void linear_regression(const struct win *w, int64_t intercept_time, double *slope,
                              double *intercept)
{
    double n = 0, sx = 0, sy = 0, sxy = 0, sx2 = 0;
    double init = w->v[0];
    int const_y = 1;
    for (size_t i = 0; i < w->n; i++) {
        if (const_y && i > 0 && w->v[i] != init)
            const_y = 0;
        n += 1.0;
        double x = (double)(w->t[i] - intercept_time) / 1e3;
        sx += x;
        sy += w->v[i];
        sxy += x * w->v[i];
        sx2 += x * x;
    }
    if (const_y) {
        if (isinf(init)) {
            *slope = NAN;
            *intercept = NAN;
        } else {
            *slope = 0;
            *intercept = init;
        }
        return;
    }
    double cov = sxy - sx * sy / n;
    double var = sx2 - sx * sx / n;
    *slope = cov / var;
    *intercept = sy / n - *slope * sx / n;
}

static double trend_value(int i, double tf, double s0, double s1, double b)
{
    if (i == 0)
        return b;
    return tf * (s1 - s0) + (1 - tf) * b;
}

/* kahanSumInc in Prometheus: Neumaier's compensated summation step. */
static double kahan_inc(double inc, double sum, double *c)
{
    double t = sum + inc;
    if (fabs(sum) >= fabs(inc))
        *c += (sum - t) + inc;
    else
        *c += (inc - t) + sum;
    return t;
}

static double avg_of(const struct win *w)
{
    double mean = 0, count = 0, c = 0;
    for (size_t i = 0; i < w->n; i++) {
        double v = w->v[i];
        count++;
        if (isinf(mean)) {
            if (isinf(v) && (mean > 0) == (v > 0))
                continue;
            if (!isinf(v) && !isnan(v))
                continue;
        }
        mean = kahan_inc(v / count - mean / count, mean, &c);
    }
    if (isinf(mean))
        return mean;
    return mean + c;
}

/* Welford's online variance with compensated sums, as Prometheus 2.42. */
static double var_of(const struct win *w)
{
    double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
    for (size_t i = 0; i < w->n; i++) {
        double v = w->v[i];
        count++;
        double delta = v - (mean + cmean);
        mean = kahan_inc(delta / count, mean, &cmean);
        aux = kahan_inc(delta * (v - (mean + cmean)), aux, &caux);
    }
    return (aux + caux) / count;
}

/* Returns 1 with *out set when the function yields a value for the window. */
static int compute(struct ev_ctx *c, enum query_func_id id, const struct win *w, double *scratch,
                   double *out)
{
    (void)c;
    switch (id) {
    case QUERY_FN_RATE:
        return fn_extrapolated(w, 1, 1, out);
    case QUERY_FN_INCREASE:
        return fn_extrapolated(w, 1, 0, out);
    case QUERY_FN_DELTA:
        return fn_extrapolated(w, 0, 0, out);
    case QUERY_FN_IRATE:
        return fn_instant_value(w, 1, out);
    case QUERY_FN_IDELTA:
        return fn_instant_value(w, 0, out);
    case QUERY_FN_DERIV: {
        if (w->n < 2)
            return 0;
        double slope, icpt;
        linear_regression(w, w->t[0], &slope, &icpt);
        *out = slope;
        return 1;
    }
    case QUERY_FN_PREDICT_LINEAR: {
        if (w->n < 2)
            return 0;
        double slope, icpt;
        linear_regression(w, w->ts, &slope, &icpt);
        *out = slope * w->p0 + icpt;
        return 1;
    }
    case QUERY_FN_HOLT_WINTERS: {
        if (w->n < 2)
            return 0;
        double sf = w->p0, tf = w->p1;
        double s0 = 0, s1 = w->v[0], b = w->v[1] - w->v[0];
        for (size_t i = 1; i < w->n; i++) {
            double x = sf * w->v[i];
            b = trend_value((int)i - 1, tf, s0, s1, b);
            double y = (1 - sf) * (s1 + b);
            s0 = s1;
            s1 = x + y;
        }
        *out = s1;
        return 1;
    }
    case QUERY_FN_CHANGES: {
        if (w->n == 0)
            return 0;
        double n = 0, prev = w->v[0];
        for (size_t i = 1; i < w->n; i++) {
            double cur = w->v[i];
            if (cur != prev && !(isnan(cur) && isnan(prev)))
                n++;
            prev = cur;
        }
        *out = n;
        return 1;
    }
    case QUERY_FN_RESETS: {
        if (w->n == 0)
            return 0;
        if (w->resets >= 0) {
            *out = (double)w->resets;
            return 1;
        }
        double n = 0, prev = w->v[0];
        for (size_t i = 1; i < w->n; i++) {
            if (w->v[i] < prev)
                n++;
            prev = w->v[i];
        }
        *out = n;
        return 1;
    }
    case QUERY_FN_AVG_OVER_TIME:
        if (w->n == 0)
            return 0;
        *out = avg_of(w);
        return 1;
    case QUERY_FN_COUNT_OVER_TIME:
        if (w->n == 0)
            return 0;
        *out = (double)w->n;
        return 1;
    case QUERY_FN_SUM_OVER_TIME: {
        if (w->n == 0)
            return 0;
        double s = 0, comp = 0;
        for (size_t i = 0; i < w->n; i++)
            s = kahan_inc(w->v[i], s, &comp);
        *out = isinf(s) ? s : s + comp;
        return 1;
    }
    case QUERY_FN_MIN_OVER_TIME:
    case QUERY_FN_MAX_OVER_TIME: {
        if (w->n == 0)
            return 0;
        double m = w->v[0];
        for (size_t i = 1; i < w->n; i++) {
            double v = w->v[i];
            if (id == QUERY_FN_MIN_OVER_TIME ? (v < m || isnan(m)) : (v > m || isnan(m)))
                m = v;
        }
        *out = m;
        return 1;
    }
    case QUERY_FN_LAST_OVER_TIME:
        if (w->n == 0)
            return 0;
        *out = w->v[w->n - 1];
        return 1;
    case QUERY_FN_PRESENT_OVER_TIME:
        if (w->n == 0)
            return 0;
        *out = 1;
        return 1;
    case QUERY_FN_STDVAR_OVER_TIME:
        if (w->n == 0)
            return 0;
        *out = var_of(w);
        return 1;
    case QUERY_FN_STDDEV_OVER_TIME:
        if (w->n == 0)
            return 0;
        *out = sqrt(var_of(w));
        return 1;
    case QUERY_FN_QUANTILE_OVER_TIME:
        if (w->n == 0)
            return 0;
        memcpy(scratch, w->v, w->n * sizeof(double));
        *out = query__quantile(w->p0, scratch, w->n);
        return 1;
    default:
        return 0;
    }
}

/* Checks holt_winters' factors the way Prometheus does (an execution error). */
static int check_params(struct ev_ctx *c, enum query_func_id id, const struct win *w)
{
    if (id != QUERY_FN_HOLT_WINTERS)
        return 0;
    if (w->p0 <= 0 || w->p0 >= 1 || isnan(w->p0))
        return query__errf(c, QUERY_ERR_EXECUTION,
                           "invalid smoothing factor. Expected: 0 < sf < 1, got: %f", w->p0);
    if (w->p1 <= 0 || w->p1 >= 1 || isnan(w->p1))
        return query__errf(c, QUERY_ERR_EXECUTION,
                           "invalid trend factor. Expected: 0 < tf < 1, got: %f", w->p1);
    return 0;
}

__attribute__((noinline)) static int range_apply(struct ev_ctx *c, const struct query_node *n,
                                                 size_t marg, struct ev_msrc *msp, double **params,
                                                 size_t np, struct ev_value *out);

int query__call_range(struct ev_ctx *c, const struct query_node *n, struct ev_value *out)
{
    size_t marg = 0;
    for (size_t i = 0; i < n->call.nargs; i++)
        if (query_node_type(n->call.args[i]) == QUERY_VT_MATRIX)
            marg = i;
    double *params[2] = {NULL, NULL};
    size_t np = 0;
    int rc = 0;
    for (size_t i = 0; i < n->call.nargs && np < 2; i++) {
        if (i == marg)
            continue;
        if ((rc = query__eval_scalar(c, n->call.args[i], &params[np])) != 0)
            goto out_params;
        np++;
    }
    struct ev_msrc ms;
    rc = query__msrc_load(c, n->call.args[marg], &ms);
    out->type = QUERY_VT_VECTOR;
    if (rc == 0)
        rc = range_apply(c, n, marg, &ms, params, np, out);
    query__msrc_fini(c, &ms);
out_params:
    free(params[0]);
    free(params[1]);
    return rc;
}

/* The sliding windows, out of line to keep the recursive frame small. */
static int range_apply(struct ev_ctx *c, const struct query_node *n, size_t marg,
                       struct ev_msrc *msp, double **params, size_t np, struct ev_value *out)
{
    enum query_func_id id = n->call.func->id;
    struct ev_msrc ms = *msp;
    int rc = 0;
    if (id == QUERY_FN_ABSENT_OVER_TIME) {
        /* 1 at the steps where no series has a sample in its window. */
        const struct pl_labels *ls = NULL;
        struct ev_series *o = NULL;
        size_t *lo = pl_xcalloc(ms.m.n + 1, sizeof(size_t));
        for (size_t k = 0; k < c->nsteps; k++) {
            if ((rc = query__tick(c, 1 + ms.m.n)) != 0)
                break;
            int64_t ts = query__step_time(c, k);
            int64_t ref = query__ref_time(c, ms.at, ms.at_ms, ms.offset, ts);
            int any = 0;
            for (size_t i = 0; i < ms.m.n && !any; i++) {
                struct ev_series *s = &ms.m.s[i];
                while (lo[i] < s->n && s->t[lo[i]] < query__tsub(ref, ms.range))
                    lo[i]++;
                if (lo[i] < s->n && s->t[lo[i]] <= ref)
                    any = 1;
            }
            if (any)
                continue;
            if (!o) {
                ls = query__absent_labels(c, n->call.args[marg]);
                o = query__matrix_add(&out->m, ls);
            }
            query__series_push(o, ts, 1);
        }
        free(lo);
        goto out;
    }

    size_t maxn = 0;
    for (size_t i = 0; i < ms.m.n; i++)
        if (ms.m.s[i].n > maxn)
            maxn = ms.m.s[i].n;
    double *scratch =
        id == QUERY_FN_QUANTILE_OVER_TIME ? pl_xmalloc((maxn + 1) * sizeof(double)) : NULL;
    /*
     * For counter functions, cnt[i] counts the drops v[j] < v[j-1] for j <= i,
     * so each window knows in O(1) whether it holds a reset.
     */
    int want_resets = id == QUERY_FN_RATE || id == QUERY_FN_INCREASE || id == QUERY_FN_RESETS;
    uint32_t *cnt = want_resets ? pl_xmalloc((maxn + 1) * sizeof(uint32_t)) : NULL;
    for (size_t i = 0; rc == 0 && i < ms.m.n; i++) {
        struct ev_series *s = &ms.m.s[i];
        struct ev_series *o = NULL;
        size_t lo = 0, hi = 0, work = 0;
        if (cnt && s->n) {
            cnt[0] = 0;
            for (size_t j = 1; j < s->n; j++)
                cnt[j] = cnt[j - 1] + (s->v[j] < s->v[j - 1]);
        }
        for (size_t k = 0; k < c->nsteps; k++) {
            int64_t ts = query__step_time(c, k);
            int64_t ref = query__ref_time(c, ms.at, ms.at_ms, ms.offset, ts);
            if (ms.at != QUERY_AT_NONE) {
                lo = hi = 0; /* the same window every step; cheap to redo */
            }
            while (lo < s->n && s->t[lo] < query__tsub(ref, ms.range))
                lo++;
            if (hi < lo)
                hi = lo;
            while (hi < s->n && s->t[hi] <= ref)
                hi++;
            /*
             * Most functions read the whole window: its length is the work,
             * summed in a register and handed over a few thousand at a time.
             */
            work += 1 + (hi - lo);
            if (work >= QUERY__CHECK_UNITS) {
                if ((rc = query__tick(c, work)) != 0)
                    break;
                work = 0;
            }
            if (hi == lo)
                continue;
            if (c->max_samples && c->cur_samples + (hi - lo) > c->max_samples) {
                rc = query__errf(c, QUERY_ERR_EXECUTION,
                                 "query processing would load too many samples into memory in "
                                 "query execution");
                break;
            }
            struct win w = {
                .t = s->t + lo,
                .v = s->v + lo,
                .n = hi - lo,
                .ts = ts,
                .range_start = query__tsub(ref, ms.range),
                .range_end = ref,
                .range = ms.range,
                .p0 = np > 0 ? params[0][k] : 0,
                .p1 = np > 1 ? params[1][k] : 0,
                .resets = cnt ? (long)(cnt[hi - 1] - cnt[lo]) : -1,
            };
            if ((rc = check_params(c, id, &w)) != 0)
                break;
            double v;
            if (!compute(c, id, &w, scratch, &v))
                continue;
            if (!o) {
                const struct pl_labels *ls =
                    id == QUERY_FN_LAST_OVER_TIME ? s->ls : query__drop_name(c, s->ls);
                o = query__matrix_add(&out->m, ls);
            }
            query__series_push(o, ts, v);
        }
        if (rc == 0 && o)
            rc = query__samples_add(c, o->n);
        if (rc == 0)
            rc = query__tick(c, 16 + work);
    }
    free(scratch);
    free(cnt);
    if (rc == 0) {
        /* Prometheus checks the whole matrix in both instant and range mode. */
        size_t save = c->nsteps;
        c->nsteps = 1;
        rc = query__matrix_dedupe(c, &out->m);
        c->nsteps = save;
    }
out:
    return rc;
}
