/*
 * query.h - the PromQL engine: instant and range queries and their results.
 *
 * An engine holds the limits (lookback, timeout, max samples, concurrency).
 * query_exec_* parse the text, evaluate it against a queryable, and fill a
 * result whose memory the caller releases with query_result_fini.
 */
#ifndef QUERY_QUERY_H
#define QUERY_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "common/labels.h"
#include "query/ast.h"
#include "query/storage.h"

struct query_engine_opts {
    int64_t lookback_ms;         /* --query.lookback-delta, default 5m */
    int64_t timeout_ms;          /* --query.timeout, default 2m */
    uint64_t max_samples;        /* --query.max-samples, default 50,000,000 */
    int max_concurrency;         /* --query.max-concurrency, default 20 */
    int64_t default_step_ms;     /* default subquery step (evaluation_interval), default 1m */
};
void query_engine_opts_init(struct query_engine_opts *o);

struct query_engine;
int query_engine_new(const struct query_engine_opts *o, struct query_engine **out);
void query_engine_free(struct query_engine *e);

/* Error classes of the Prometheus API (errorType), each with its HTTP status. */
enum query_err_type {
    QUERY_ERR_NONE,
    QUERY_ERR_BAD_DATA,  /* 400: parse errors, bad parameters */
    QUERY_ERR_EXECUTION, /* 422: evaluation errors, too many samples */
    QUERY_ERR_TIMEOUT,   /* 503 */
    QUERY_ERR_CANCELED,  /* 503 */
    QUERY_ERR_INTERNAL,  /* 500 */
};
const char *query_err_type_name(enum query_err_type t); /* "bad_data", "execution", ... */
int query_err_http_status(enum query_err_type t);

struct query_error {
    enum query_err_type type;
    char msg[1024];
};

/* One series of a result: a vector has n == 1 per series; a matrix any n. */
struct query_series {
    struct pl_labels *labels; /* owned by the result */
    int64_t *t;               /* owned by the result */
    double *v;
    size_t n;
};

struct query_result {
    enum query_value_type type; /* SCALAR, VECTOR, MATRIX or STRING */
    struct query_series *series; /* VECTOR and MATRIX */
    size_t nseries;
    int64_t t;    /* SCALAR and STRING (instant queries) */
    double scalar;
    char *str;    /* STRING */
    uint64_t samples_total; /* samples touched, for stats */
};
void query_result_fini(struct query_result *r);

/*
 * Evaluates `q` at time t (ms). Returns 0 or an error with *err filled.
 * Instant results: scalar, string, vector (series in the order Prometheus
 * returns them) or matrix (for a range-vector expression).
 */
int query_exec_instant(struct query_engine *e, const struct query_queryable *st, const char *q,
                       int64_t t, struct query_result *out, struct query_error *err);
/*
 * Evaluates `q` over [start, end] every step (ms); the result is always a
 * matrix (scalars become a series with no labels), series sorted by labels.
 */
int query_exec_range(struct query_engine *e, const struct query_queryable *st, const char *q,
                     int64_t start, int64_t end, int64_t step, struct query_result *out,
                     struct query_error *err);

/* Per-query overrides (the HTTP `timeout` parameter, cancellation). */
struct query_exec_opts {
    int64_t timeout_ms;  /* > 0: this query's timeout instead of the engine's */
    volatile int *cancel; /* optional: set to non-zero from another thread to cancel */
};
/* Like query_exec_instant / query_exec_range, with per-query options (xo may be NULL). */
int query_exec_instant_opts(struct query_engine *e, const struct query_queryable *st,
                            const char *q, int64_t t, const struct query_exec_opts *xo,
                            struct query_result *out, struct query_error *err);
int query_exec_range_opts(struct query_engine *e, const struct query_queryable *st, const char *q,
                          int64_t start, int64_t end, int64_t step,
                          const struct query_exec_opts *xo, struct query_result *out,
                          struct query_error *err);
/*
 * Evaluates an already parsed tree (borrowed) over [start, end] every step;
 * is_range selects the range-query result shape. For tools and tests.
 */
int query_exec_expr(struct query_engine *e, const struct query_queryable *st,
                    const struct query_node *root, int64_t start, int64_t end, int64_t step,
                    int is_range, const struct query_exec_opts *xo, struct query_result *out,
                    struct query_error *err);

#endif
