/*
 * eval_int.h - the PromQL evaluator's internals, shared by engine.c, eval.c,
 * fn_*.c, agg.c, binop.c and result.c (not part of the public API).
 *
 * Model (after Prometheus 2.42 promql/engine.go): every expression is
 * evaluated over all steps of the query at once. An instant query is a range
 * query with one step. An instant vector over the steps is a matrix whose
 * series carry one point per step at which they have a value (t = the step
 * time); a scalar is an array of one value per step. Range vectors (matrix
 * selectors and subqueries) are only materialised as "matrix sources": the
 * raw samples of each series over the whole query, over which windows slide
 * step by step, so storage is read once per selector.
 *
 * Errors are returned as negative codes with ctx->err filled; every label set
 * created during a query lives in ctx's pool and dies with the query.
 */
#ifndef QUERY_EVAL_INT_H
#define QUERY_EVAL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "common/labels.h"
#include "query/ast.h"
#include "query/query.h"
#include "query/storage.h"
#include "tsdb/tsdb.h"

/* One series: labels (borrowed from the pool) and points in time order. */
struct ev_series {
    const struct pl_labels *ls;
    int64_t *t;
    double *v;
    size_t n, cap;
};

struct ev_matrix {
    struct ev_series *s;
    size_t n, cap;
};

/* A hash multimap uint64 -> uint32 (chained); callers resolve collisions. */
struct ev_hmap {
    uint32_t *buckets; /* head entry + 1, 0 = empty */
    size_t nb;
    struct ev_hent {
        uint64_t h;
        uint32_t val;
        uint32_t next; /* entry + 1, 0 = end */
    } * e;
    size_t n, cap;
};
void query__hmap_init(struct ev_hmap *m);
void query__hmap_fini(struct ev_hmap *m);
void query__hmap_clear(struct ev_hmap *m);
void query__hmap_put(struct ev_hmap *m, uint64_t h, uint32_t val);
/* Iterates entries with hash h: start with it = 0; returns 1 and *val, or 0 at end. */
int query__hmap_iter(const struct ev_hmap *m, uint64_t h, uint32_t *it, uint32_t *val);

/* The result of evaluating one node over all steps. */
struct ev_value {
    enum query_value_type type;
    struct ev_matrix m; /* VECTOR (points at step times) and MATRIX */
    double *sc;         /* SCALAR: one value per step */
    const char *str;    /* STRING: borrowed from the AST */
};

struct ev_ctx {
    struct query_engine *eng;
    const struct query_queryable *st;
    /* the current evaluation range (changes inside subqueries) */
    int64_t start, end, step;
    size_t nsteps;
    /* the query's own range, for @ start() / end() */
    int64_t qstart, qend;
    int64_t lookback, default_step;
    uint64_t max_samples, cur_samples, total_samples;
    int64_t deadline_ns; /* monotonic; 0: none */
    volatile int *cancel;
    int64_t budget; /* work units left before the next cancel/deadline check */
    struct query_error *err;
    struct pl_labels_builder lb;
    struct pl_labels **pool;
    size_t npool, poolcap;
    const struct pl_labels *empty; /* the empty label set */
    struct tsdb_samples buf;
};

/*
 * The stale marker test and sample-buffer lifetime, done here by bits and
 * with free() so the evaluator needs only the storage vtable (the tsdb
 * engine's library is not required to link the evaluator and its tests).
 */
static inline int query__is_stale(double v)
{
    union {
        double d;
        uint64_t u;
    } x;
    x.d = v;
    return x.u == TSDB_STALE_NAN_BITS;
}
void query__samples_fini(struct tsdb_samples *s);

/* Time arithmetic that saturates instead of overflowing (extreme @ and offsets). */
static inline int64_t query__tsub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b > 0 ? INT64_MIN : INT64_MAX;
    return r;
}

/* timestamp(): a selector whose values are its samples' times (eval.c). */
int query__eval_selector_times(struct ev_ctx *c, const struct query_node *n, struct ev_value *out);

/* ---- context helpers (eval.c) ---- */
int query__errf(struct ev_ctx *c, enum query_err_type t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Cancellation and the deadline are checked after every QUERY__CHECK_UNITS
 * units of work, so that loops over steps or samples stop within a few
 * microseconds of either without a clock read per iteration. A unit is about
 * one step or sample visited.
 */
#define QUERY__CHECK_UNITS 4096
/* Checks cancellation and the deadline now and refills the budget; 0 or an error. */
int query__check_now(struct ev_ctx *c);
/* Counts `units` of work done; checks now and then; 0 or an error. */
static inline int query__tick(struct ev_ctx *c, size_t units)
{
    c->budget -= (int64_t)units;
    if (__builtin_expect(c->budget > 0, 1))
        return 0;
    return query__check_now(c);
}
/* A check per node or series: weighs as a few steps. */
static inline int query__check(struct ev_ctx *c)
{
    return query__tick(c, 16);
}
/* Adds n samples to the current count; errors past max_samples. */
int query__samples_add(struct ev_ctx *c, size_t n);
/* Errors when a value per step would pass max_samples (before allocating one). */
int query__steps_check(struct ev_ctx *c);
/* Takes ownership of ls; returns it (borrowed until the query ends). */
const struct pl_labels *query__pool(struct ev_ctx *c, struct pl_labels *ls);
/* ls without __name__ (ls itself when it has none). */
const struct pl_labels *query__drop_name(struct ev_ctx *c, const struct pl_labels *ls);
/* The labels the builder holds, pooled. */
const struct pl_labels *query__lb_pooled(struct ev_ctx *c);

void query__series_push(struct ev_series *s, int64_t t, double v);
struct ev_series *query__matrix_add(struct ev_matrix *m, const struct pl_labels *ls);
void query__matrix_fini(struct ev_matrix *m);
void query__value_fini(struct ev_ctx *c, struct ev_value *v);
int64_t query__step_time(const struct ev_ctx *c, size_t k);

/*
 * Instant-mode check of a vector result (one step): the error Prometheus
 * raises when two series share a label set. In range mode, series with equal
 * labels are merged instead, as Prometheus 2.42's rangeEval does.
 */
int query__matrix_dedupe(struct ev_ctx *c, struct ev_matrix *m);

int query__eval(struct ev_ctx *c, const struct query_node *n, struct ev_value *out);
/* Evaluates a node that must yield a scalar into out[nsteps] (malloc'ed). */
int query__eval_scalar(struct ev_ctx *c, const struct query_node *n, double **out);

/* A range vector: raw samples per series plus how windows are cut. */
struct ev_msrc {
    struct ev_matrix m;
    int64_t range, offset;
    enum query_at at;
    int64_t at_ms;
    const struct query_node *vs; /* the vector selector, or NULL for subqueries */
};
int query__msrc_load(struct ev_ctx *c, const struct query_node *n, struct ev_msrc *out);
void query__msrc_fini(struct ev_ctx *c, struct ev_msrc *ms);
/* The reference time of a window at step time ts: @ time or ts, minus offset. */
int64_t query__ref_time(const struct ev_ctx *c, enum query_at at, int64_t at_ms, int64_t offset,
                        int64_t ts);

/* ---- functions (fn_range.c, fn_instant.c) ---- */
int query__call(struct ev_ctx *c, const struct query_node *n, struct ev_value *out);
int query__call_range(struct ev_ctx *c, const struct query_node *n, struct ev_value *out);
/* The labels absent()/absent_over_time() give from an argument's matchers. */
const struct pl_labels *query__absent_labels(struct ev_ctx *c, const struct query_node *arg);

/* ---- aggregations (agg.c) and binary operators (binop.c) ---- */
int query__aggregate(struct ev_ctx *c, const struct query_node *n, struct ev_value *out);
int query__binary(struct ev_ctx *c, const struct query_node *n, struct ev_value *out);

/* ---- Go float semantics shared by several files ---- */
double query__go_min(double a, double b); /* math.Min */
double query__go_max(double a, double b); /* math.Max */
/* strconv.FormatFloat(v, 'f', -1, 64), as count_values writes values. */
int query__format_float_f(struct pl_buf *out, double v);
/* strconv.ParseFloat(s, 64): 0 or -1. */
int query__parse_float(const char *s, double *out);
/* Prometheus's quantile over values[0..n) (sorts them). */
double query__quantile(double q, double *values, size_t n);
/* Stable sort of doubles ascending, NaN first (vectorByValueHeap order). */
void query__sort_doubles(double *v, size_t n);

#endif
