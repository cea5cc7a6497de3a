/*
 * functions.c - the signature table of PromQL's functions (Prometheus 2.42,
 * promql/parser/functions.go; https://prometheus.io/docs/prometheus/latest/querying/functions/).
 *
 * The parser checks calls against this table: argument count (with
 * Prometheus's convention that in a variadic function the last declared
 * argument is optional) and argument types. Rows are in query_func_id order,
 * which is also alphabetical, so lookup by name is a binary search.
 */
#include "query/ast.h"

#include <string.h>

#define S QUERY_VT_SCALAR
#define V QUERY_VT_VECTOR
#define M QUERY_VT_MATRIX
#define T QUERY_VT_STRING

/* One row: id, name, argument types, declared count, variadic, return type. */
#define FN0(id, name, ret)                                                                         \
    {                                                                                              \
        QUERY_FN_##id, name, {0}, 0, 0, ret                                                        \
    }
#define FN1(id, name, a, var, ret)                                                                 \
    {                                                                                              \
        QUERY_FN_##id, name, {a}, 1, var, ret                                                      \
    }
#define FN2(id, name, a, b, var, ret)                                                              \
    {                                                                                              \
        QUERY_FN_##id, name, {a, b}, 2, var, ret                                                   \
    }
#define FN3(id, name, a, b, c, var, ret)                                                           \
    {                                                                                              \
        QUERY_FN_##id, name, {a, b, c}, 3, var, ret                                                \
    }

static const struct query_function functions[QUERY_FN__COUNT] = {
    FN1(ABS, "abs", V, 0, V),
    FN1(ABSENT, "absent", V, 0, V),
    FN1(ABSENT_OVER_TIME, "absent_over_time", M, 0, V),
    FN1(ACOS, "acos", V, 0, V),
    FN1(ACOSH, "acosh", V, 0, V),
    FN1(ASIN, "asin", V, 0, V),
    FN1(ASINH, "asinh", V, 0, V),
    FN1(ATAN, "atan", V, 0, V),
    FN1(ATANH, "atanh", V, 0, V),
    FN1(AVG_OVER_TIME, "avg_over_time", M, 0, V),
    FN1(CEIL, "ceil", V, 0, V),
    FN1(CHANGES, "changes", M, 0, V),
    FN3(CLAMP, "clamp", V, S, S, 0, V),
    FN2(CLAMP_MAX, "clamp_max", V, S, 0, V),
    FN2(CLAMP_MIN, "clamp_min", V, S, 0, V),
    FN1(COS, "cos", V, 0, V),
    FN1(COSH, "cosh", V, 0, V),
    FN1(COUNT_OVER_TIME, "count_over_time", M, 0, V),
    FN1(DAY_OF_MONTH, "day_of_month", V, 1, V),
    FN1(DAY_OF_WEEK, "day_of_week", V, 1, V),
    FN1(DAY_OF_YEAR, "day_of_year", V, 1, V),
    FN1(DAYS_IN_MONTH, "days_in_month", V, 1, V),
    FN1(DEG, "deg", V, 0, V),
    FN1(DELTA, "delta", M, 0, V),
    FN1(DERIV, "deriv", M, 0, V),
    FN1(EXP, "exp", V, 0, V),
    FN1(FLOOR, "floor", V, 0, V),
    FN2(HISTOGRAM_QUANTILE, "histogram_quantile", S, V, 0, V),
    FN3(HOLT_WINTERS, "holt_winters", M, S, S, 0, V),
    FN1(HOUR, "hour", V, 1, V),
    FN1(IDELTA, "idelta", M, 0, V),
    FN1(INCREASE, "increase", M, 0, V),
    FN1(IRATE, "irate", M, 0, V),
    {QUERY_FN_LABEL_JOIN, "label_join", {V, T, T, T}, 4, -1, V},
    /* Five arguments: the fifth has the type of the last column (see query_function_arg_type). */
    {QUERY_FN_LABEL_REPLACE, "label_replace", {V, T, T, T}, 5, 0, V},
    FN1(LAST_OVER_TIME, "last_over_time", M, 0, V),
    FN1(LN, "ln", V, 0, V),
    FN1(LOG10, "log10", V, 0, V),
    FN1(LOG2, "log2", V, 0, V),
    FN1(MAX_OVER_TIME, "max_over_time", M, 0, V),
    FN1(MIN_OVER_TIME, "min_over_time", M, 0, V),
    FN1(MINUTE, "minute", V, 1, V),
    FN1(MONTH, "month", V, 1, V),
    FN0(PI, "pi", S),
    FN2(PREDICT_LINEAR, "predict_linear", M, S, 0, V),
    FN1(PRESENT_OVER_TIME, "present_over_time", M, 0, V),
    FN2(QUANTILE_OVER_TIME, "quantile_over_time", S, M, 0, V),
    FN1(RAD, "rad", V, 0, V),
    FN1(RATE, "rate", M, 0, V),
    FN1(RESETS, "resets", M, 0, V),
    FN2(ROUND, "round", V, S, 1, V),
    FN1(SCALAR, "scalar", V, 0, S),
    FN1(SGN, "sgn", V, 0, V),
    FN1(SIN, "sin", V, 0, V),
    FN1(SINH, "sinh", V, 0, V),
    FN1(SORT, "sort", V, 0, V),
    FN1(SORT_DESC, "sort_desc", V, 0, V),
    FN1(SQRT, "sqrt", V, 0, V),
    FN1(STDDEV_OVER_TIME, "stddev_over_time", M, 0, V),
    FN1(STDVAR_OVER_TIME, "stdvar_over_time", M, 0, V),
    FN1(SUM_OVER_TIME, "sum_over_time", M, 0, V),
    FN1(TAN, "tan", V, 0, V),
    FN1(TANH, "tanh", V, 0, V),
    FN0(TIME, "time", S),
    FN1(TIMESTAMP, "timestamp", V, 0, V),
    FN1(VECTOR, "vector", S, 0, V),
    FN1(YEAR, "year", V, 1, V),
};

const struct query_function *query_function_get(enum query_func_id id)
{
    if ((int)id < 0 || id >= QUERY_FN__COUNT)
        return NULL;
    return &functions[id];
}

const struct query_function *query_function_lookup(const char *name, size_t n)
{
    size_t lo = 0, hi = QUERY_FN__COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *fn = functions[mid].name;
        size_t fl = strlen(fn);
        int c = memcmp(name, fn, n < fl ? n : fl);
        if (c == 0)
            c = n < fl ? -1 : (n > fl ? 1 : 0);
        if (c == 0)
            return &functions[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

enum query_value_type query_function_arg_type(const struct query_function *f, size_t i)
{
    if (f->nargs == 0)
        return QUERY_VT_NONE;
    size_t last = (size_t)(f->nargs < 4 ? f->nargs : 4) - 1;
    return f->arg_types[i < last ? i : last];
}

int query_function_min_args(const struct query_function *f)
{
    return f->variadic != 0 ? f->nargs - 1 : f->nargs;
}

int query_function_max_args(const struct query_function *f)
{
    if (f->variadic < 0)
        return -1;
    if (f->variadic == 0)
        return f->nargs;
    return f->nargs - 1 + f->variadic;
}
