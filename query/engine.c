/*
 * engine.c - the PromQL engine: options, limits (timeout, max samples,
 * max concurrency as a counting semaphore), and the instant and range query
 * entry points (Prometheus 2.42 promql/engine.go Engine.exec), with the
 * Prometheus API's error classes.
 */
#include "query/query.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "common/timeutil.h"
#include "query/eval_int.h"

int query__result_from(struct ev_ctx *c, struct ev_value *v, int is_range, struct query_result *r);

struct query_engine {
    struct query_engine_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int active;
};

void query_engine_opts_init(struct query_engine_opts *o)
{
    o->lookback_ms = 5 * PL_MS_PER_MIN;
    o->timeout_ms = 2 * PL_MS_PER_MIN;
    o->max_samples = 50000000;
    o->max_concurrency = 20;
    o->default_step_ms = PL_MS_PER_MIN;
}

int query_engine_new(const struct query_engine_opts *o, struct query_engine **out)
{
    struct query_engine *e = pl_xcalloc(1, sizeof(*e));
    if (o)
        e->o = *o;
    else
        query_engine_opts_init(&e->o);
    if (e->o.lookback_ms <= 0)
        e->o.lookback_ms = 5 * PL_MS_PER_MIN;
    if (e->o.default_step_ms <= 0)
        e->o.default_step_ms = PL_MS_PER_MIN;
    if (e->o.max_concurrency <= 0)
        e->o.max_concurrency = 20;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    *out = e;
    return 0;
}

void query_engine_free(struct query_engine *e)
{
    if (!e)
        return;
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

const char *query_err_type_name(enum query_err_type t)
{
    switch (t) {
    case QUERY_ERR_NONE:
        return "";
    case QUERY_ERR_BAD_DATA:
        return "bad_data";
    case QUERY_ERR_EXECUTION:
        return "execution";
    case QUERY_ERR_TIMEOUT:
        return "timeout";
    case QUERY_ERR_CANCELED:
        return "canceled";
    case QUERY_ERR_INTERNAL:
        return "internal";
    }
    return "internal";
}

int query_err_http_status(enum query_err_type t)
{
    switch (t) {
    case QUERY_ERR_NONE:
        return 200;
    case QUERY_ERR_BAD_DATA:
        return 400;
    case QUERY_ERR_EXECUTION:
        return 422;
    case QUERY_ERR_TIMEOUT:
    case QUERY_ERR_CANCELED:
        return 503;
    case QUERY_ERR_INTERNAL:
        return 500;
    }
    return 500;
}

static int set_err(struct query_error *err, enum query_err_type t, const char *fmt, const char *a)
{
    err->type = t;
    snprintf(err->msg, sizeof(err->msg), fmt, a);
    return t == QUERY_ERR_TIMEOUT ? PL_ERR_TIMEOUT : PL_ERR_INVALID;
}

/* Waits for a concurrency slot until deadline_ns (0: forever). */
static int gate_enter(struct query_engine *e, int64_t deadline_ns)
{
    int rc = 0;
    pthread_mutex_lock(&e->mu);
    while (e->active >= e->o.max_concurrency) {
        if (deadline_ns) {
            int64_t now = pl_mono_ns();
            if (now >= deadline_ns) {
                rc = -1;
                break;
            }
            /* Condition variables wait on the realtime clock; wait in short slices. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t wait = deadline_ns - now;
            if (wait > 50000000)
                wait = 50000000;
            ts.tv_nsec += (long)wait;
            while (ts.tv_nsec >= 1000000000L) {
                ts.tv_nsec -= 1000000000L;
                ts.tv_sec++;
            }
            pthread_cond_timedwait(&e->cv, &e->mu, &ts);
        } else {
            pthread_cond_wait(&e->cv, &e->mu);
        }
    }
    if (rc == 0)
        e->active++;
    pthread_mutex_unlock(&e->mu);
    return rc;
}

static void gate_leave(struct query_engine *e)
{
    pthread_mutex_lock(&e->mu);
    e->active--;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

int query_exec_expr(struct query_engine *e, const struct query_queryable *st,
                    const struct query_node *root, int64_t start, int64_t end, int64_t step,
                    int is_range, const struct query_exec_opts *xo, struct query_result *out,
                    struct query_error *err)
{
    memset(err, 0, sizeof(*err));
    if (!is_range) {
        end = start;
        step = 1;
    }
    if (step <= 0)
        return set_err(err, QUERY_ERR_BAD_DATA, "%s",
                       "zero or negative query resolution step widths are not accepted. Try a "
                       "positive integer");
    if (end < start)
        return set_err(err, QUERY_ERR_BAD_DATA, "%s",
                       "end timestamp must not be before start time");
    /* The API's resolution limit, checked here so no caller allocates past it. */
    int64_t span;
    if (__builtin_sub_overflow(end, start, &span))
        return set_err(err, QUERY_ERR_BAD_DATA, "%s", "query time range is too large");
    if (is_range && span / step > 11000)
        return set_err(err, QUERY_ERR_BAD_DATA, "%s",
                       "exceeded maximum resolution of 11,000 points per timeseries. Try "
                       "decreasing the query resolution (?step=XX)");
    enum query_value_type rt = query_node_type(root);
    if (is_range && rt != QUERY_VT_SCALAR && rt != QUERY_VT_VECTOR)
        return set_err(err, QUERY_ERR_BAD_DATA,
                       "invalid expression type \"%s\" for range query, must be Scalar or instant "
                       "Vector",
                       rt == QUERY_VT_MATRIX ? "range vector" : query_value_type_name(rt));
    int64_t timeout = xo && xo->timeout_ms > 0 ? xo->timeout_ms : e->o.timeout_ms;
    int64_t deadline = timeout > 0 ? pl_mono_ns() + timeout * 1000000 : 0;
    if (gate_enter(e, deadline) != 0)
        return set_err(err, QUERY_ERR_TIMEOUT, "%s", "query timed out in query queue");

    struct ev_ctx c;
    memset(&c, 0, sizeof(c));
    c.eng = e;
    c.st = st;
    c.start = start;
    c.end = end;
    c.step = step;
    c.nsteps = (size_t)(span / step) + 1;
    c.qstart = start;
    c.qend = end;
    c.lookback = e->o.lookback_ms;
    c.default_step = e->o.default_step_ms;
    c.max_samples = e->o.max_samples;
    c.deadline_ns = deadline;
    c.cancel = xo ? xo->cancel : NULL;
    c.err = err;
    pl_lb_init(&c.lb);
    memset(&c.buf, 0, sizeof(c.buf));
    pl_lb_reset(&c.lb);
    c.empty = query__pool(&c, pl_lb_labels(&c.lb));

    struct ev_value v;
    int rc = query__eval(&c, root, &v);
    if (rc == 0 && c.deadline_ns && pl_mono_ns() > c.deadline_ns)
        rc = query__errf(&c, QUERY_ERR_TIMEOUT, "query timed out in expression evaluation");
    if (rc == 0) {
        query__result_from(&c, &v, is_range, out);
        out->samples_total = c.total_samples;
    } else if (err->type == QUERY_ERR_NONE) {
        query__errf(&c, QUERY_ERR_INTERNAL, "evaluation failed: %s", pl_err_str(rc));
    }
    query__value_fini(&c, &v);
    for (size_t i = 0; i < c.npool; i++)
        pl_labels_free(c.pool[i]);
    free(c.pool);
    pl_lb_fini(&c.lb);
    query__samples_fini(&c.buf);
    gate_leave(e);
    return rc;
}

static int exec_text(struct query_engine *e, const struct query_queryable *st, const char *q,
                     int64_t start, int64_t end, int64_t step, int is_range,
                     const struct query_exec_opts *xo, struct query_result *out,
                     struct query_error *err)
{
    struct query_expr *ex = NULL;
    struct query_parse_err pe;
    memset(err, 0, sizeof(*err));
    memset(&pe, 0, sizeof(pe));
    if (query_parse(q, strlen(q), &ex, &pe) != 0) {
        err->type = QUERY_ERR_BAD_DATA;
        query_parse_err_format(&pe, err->msg, sizeof(err->msg));
        return PL_ERR_INVALID;
    }
    int rc = query_exec_expr(e, st, ex->root, start, end, step, is_range, xo, out, err);
    query_expr_free(ex);
    return rc;
}

int query_exec_instant_opts(struct query_engine *e, const struct query_queryable *st, const char *q,
                            int64_t t, const struct query_exec_opts *xo, struct query_result *out,
                            struct query_error *err)
{
    return exec_text(e, st, q, t, t, 1, 0, xo, out, err);
}

int query_exec_range_opts(struct query_engine *e, const struct query_queryable *st, const char *q,
                          int64_t start, int64_t end, int64_t step,
                          const struct query_exec_opts *xo, struct query_result *out,
                          struct query_error *err)
{
    return exec_text(e, st, q, start, end, step, 1, xo, out, err);
}

int query_exec_instant(struct query_engine *e, const struct query_queryable *st, const char *q,
                       int64_t t, struct query_result *out, struct query_error *err)
{
    return exec_text(e, st, q, t, t, 1, 0, NULL, out, err);
}

int query_exec_range(struct query_engine *e, const struct query_queryable *st, const char *q,
                     int64_t start, int64_t end, int64_t step, struct query_result *out,
                     struct query_error *err)
{
    return exec_text(e, st, q, start, end, step, 1, NULL, out, err);
}
