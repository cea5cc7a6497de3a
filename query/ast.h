/*
 * ast.h - the PromQL syntax tree (Prometheus 2.42, float samples).
 *
 * Produced by query_parse (parse.c), consumed by the evaluator (eval*.c) and
 * printed back by query_expr_format. Every node and string of one tree lives
 * in the tree's arena and dies with query_expr_free; matchers are owned by
 * their selector and freed with the tree.
 */
#ifndef QUERY_AST_H
#define QUERY_AST_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"
#include "tsdb/matcher.h"

enum query_value_type {
    QUERY_VT_NONE,
    QUERY_VT_SCALAR,
    QUERY_VT_VECTOR, /* instant vector */
    QUERY_VT_MATRIX, /* range vector */
    QUERY_VT_STRING,
};
const char *query_value_type_name(enum query_value_type t); /* "scalar", "vector", "matrix", "string" */

enum query_node_kind {
    QUERY_NODE_NUMBER,
    QUERY_NODE_STRING,
    QUERY_NODE_VECTOR_SELECTOR,
    QUERY_NODE_MATRIX_SELECTOR,
    QUERY_NODE_SUBQUERY,
    QUERY_NODE_PAREN,
    QUERY_NODE_UNARY,
    QUERY_NODE_BINARY,
    QUERY_NODE_CALL,
    QUERY_NODE_AGGREGATE,
};

/* Binary operators, in no particular order; precedence lives in the parser. */
enum query_binop {
    QUERY_OP_ADD, QUERY_OP_SUB, QUERY_OP_MUL, QUERY_OP_DIV, QUERY_OP_MOD, QUERY_OP_POW,
    QUERY_OP_ATAN2,
    QUERY_OP_EQL, QUERY_OP_NEQ, QUERY_OP_GTR, QUERY_OP_LSS, QUERY_OP_GTE, QUERY_OP_LTE,
    QUERY_OP_AND, QUERY_OP_OR, QUERY_OP_UNLESS,
};
const char *query_binop_name(enum query_binop op); /* "+", "==", "and", "atan2", ... */
int query_binop_is_comparison(enum query_binop op);
int query_binop_is_set(enum query_binop op); /* and, or, unless */

enum query_aggop {
    QUERY_AGG_SUM, QUERY_AGG_AVG, QUERY_AGG_COUNT, QUERY_AGG_MIN, QUERY_AGG_MAX,
    QUERY_AGG_GROUP, QUERY_AGG_STDDEV, QUERY_AGG_STDVAR, QUERY_AGG_TOPK, QUERY_AGG_BOTTOMK,
    QUERY_AGG_COUNT_VALUES, QUERY_AGG_QUANTILE,
};
const char *query_aggop_name(enum query_aggop op); /* "sum", "count_values", ... */

/* Every 2.42 function on floats. Keep in step with the table in functions.c. */
enum query_func_id {
    QUERY_FN_ABS, QUERY_FN_ABSENT, QUERY_FN_ABSENT_OVER_TIME, QUERY_FN_ACOS, QUERY_FN_ACOSH,
    QUERY_FN_ASIN, QUERY_FN_ASINH, QUERY_FN_ATAN, QUERY_FN_ATANH, QUERY_FN_AVG_OVER_TIME,
    QUERY_FN_CEIL, QUERY_FN_CHANGES, QUERY_FN_CLAMP, QUERY_FN_CLAMP_MAX, QUERY_FN_CLAMP_MIN,
    QUERY_FN_COS, QUERY_FN_COSH, QUERY_FN_COUNT_OVER_TIME, QUERY_FN_DAY_OF_MONTH,
    QUERY_FN_DAY_OF_WEEK, QUERY_FN_DAY_OF_YEAR, QUERY_FN_DAYS_IN_MONTH, QUERY_FN_DEG,
    QUERY_FN_DELTA, QUERY_FN_DERIV, QUERY_FN_EXP, QUERY_FN_FLOOR, QUERY_FN_HISTOGRAM_QUANTILE,
    QUERY_FN_HOLT_WINTERS, QUERY_FN_HOUR, QUERY_FN_IDELTA, QUERY_FN_INCREASE, QUERY_FN_IRATE,
    QUERY_FN_LABEL_JOIN, QUERY_FN_LABEL_REPLACE, QUERY_FN_LAST_OVER_TIME, QUERY_FN_LN,
    QUERY_FN_LOG10, QUERY_FN_LOG2, QUERY_FN_MAX_OVER_TIME, QUERY_FN_MIN_OVER_TIME,
    QUERY_FN_MINUTE, QUERY_FN_MONTH, QUERY_FN_PI, QUERY_FN_PREDICT_LINEAR,
    QUERY_FN_PRESENT_OVER_TIME, QUERY_FN_QUANTILE_OVER_TIME, QUERY_FN_RAD, QUERY_FN_RATE,
    QUERY_FN_RESETS, QUERY_FN_ROUND, QUERY_FN_SCALAR, QUERY_FN_SGN, QUERY_FN_SIN,
    QUERY_FN_SINH, QUERY_FN_SORT, QUERY_FN_SORT_DESC, QUERY_FN_SQRT,
    QUERY_FN_STDDEV_OVER_TIME, QUERY_FN_STDVAR_OVER_TIME, QUERY_FN_SUM_OVER_TIME,
    QUERY_FN_TAN, QUERY_FN_TANH, QUERY_FN_TIME, QUERY_FN_TIMESTAMP, QUERY_FN_VECTOR,
    QUERY_FN_YEAR,
    QUERY_FN__COUNT
};

/* A function's signature, as the parser checks it. */
struct query_function {
    enum query_func_id id;
    const char *name;
    enum query_value_type arg_types[4];
    int nargs;    /* declared arguments */
    int variadic; /* 0: exactly nargs; >0: up to this many extra optional args of the last type; -1: unlimited */
    enum query_value_type ret;
};
/*
 * How to read nargs/variadic (Prometheus's convention): with variadic != 0
 * the last declared argument is optional, so a call takes between nargs-1 and
 * nargs-1+variadic arguments (no upper bound for -1): round(v[, s]) is
 * nargs 2, variadic 1; label_join(v, s, s, s...) is nargs 4, variadic -1.
 * label_replace has 5 declared arguments, more than arg_types holds: use
 * query_function_arg_type, which repeats the last column for later indexes.
 */
enum query_value_type query_function_arg_type(const struct query_function *f, size_t i);
int query_function_min_args(const struct query_function *f);
int query_function_max_args(const struct query_function *f); /* -1: unlimited */
/* The function called `name`, or NULL. */
const struct query_function *query_function_lookup(const char *name, size_t n);
const struct query_function *query_function_get(enum query_func_id id);

/* Byte offsets [start, end) of a node in the query text, for error messages. */
struct query_pos {
    uint32_t start, end;
};

enum query_at {
    QUERY_AT_NONE,
    QUERY_AT_TIME,  /* @ <timestamp> */
    QUERY_AT_START, /* @ start() */
    QUERY_AT_END,   /* @ end() */
};

enum query_card {
    QUERY_CARD_ONE_TO_ONE,
    QUERY_CARD_MANY_TO_ONE, /* group_left */
    QUERY_CARD_ONE_TO_MANY, /* group_right */
    QUERY_CARD_MANY_TO_MANY, /* set operators */
};

struct query_vector_matching {
    enum query_card card;
    int on;               /* 1: on(labels); 0: ignoring(labels) or no clause */
    int has_clause;       /* on/ignoring was written (for printing) */
    const char **labels;  /* arena strings */
    size_t nlabels;
    const char **include; /* group_left/group_right extra labels */
    size_t ninclude;
};

struct query_node {
    enum query_node_kind kind;
    struct query_pos pos;
    union {
        double number;
        struct {
            const char *s; /* unescaped, NUL-terminated */
            size_t len;
        } string;
        struct {
            const char *name; /* metric name written before the braces, or NULL */
            struct tsdb_matcher **matchers; /* all matchers, incl. __name__="name" */
            size_t nmatchers;
            int64_t offset_ms;
            enum query_at at;
            int64_t at_ms; /* for QUERY_AT_TIME */
        } vs;
        struct {
            struct query_node *vs; /* a QUERY_NODE_VECTOR_SELECTOR */
            int64_t range_ms;
        } ms;
        struct {
            struct query_node *expr;
            int64_t range_ms;
            int64_t step_ms; /* 0: the default (evaluation interval) */
            int64_t offset_ms;
            enum query_at at;
            int64_t at_ms;
        } subquery;
        struct {
            struct query_node *expr;
        } paren;
        struct {
            enum query_binop op; /* QUERY_OP_ADD or QUERY_OP_SUB */
            struct query_node *expr;
        } unary;
        struct {
            enum query_binop op;
            struct query_node *lhs, *rhs;
            int return_bool;
            struct query_vector_matching *matching; /* NULL unless both sides are vectors */
        } binary;
        struct {
            const struct query_function *func;
            struct query_node **args;
            size_t nargs;
        } call;
        struct {
            enum query_aggop op;
            struct query_node *expr;
            struct query_node *param; /* topk/bottomk/quantile/count_values, else NULL */
            const char **grouping;    /* arena strings */
            size_t ngrouping;
            int without;
            int has_grouping; /* by()/without() was written, even empty */
        } agg;
    };
};

/* The static type of an expression. */
enum query_value_type query_node_type(const struct query_node *n);

/* A parsed expression: the root and the arena holding the tree. */
struct query_expr {
    struct query_node *root;
    struct pl_arena arena;
    char *text; /* the query string, owned */
    /* matchers to free with the tree */
    struct tsdb_matcher **owned_matchers;
    size_t nowned, owned_cap;
};

/* A parse error: 1-based line and column of the offending token, and a message. */
struct query_parse_err {
    int line, col;
    uint32_t offset; /* byte offset */
    char msg[512];
};

/*
 * Parses a PromQL expression. On error returns PL_ERR_INVALID and fills *err
 * with a message close to Prometheus's ("unexpected <op:*>", "unknown function
 * with name \"foo\"", ...). OUT: *out, freed with query_expr_free.
 */
int query_parse(const char *s, size_t n, struct query_expr **out, struct query_parse_err *err);
void query_expr_free(struct query_expr *e);

/*
 * Parses a series selector as the HTTP API's match[] parameters take it
 * (Prometheus's ParseMetricSelector): `name`, `name{l="v",...}` or `{...}`
 * and nothing else. Like Prometheus it runs no type checks, so it accepts
 * selectors whose matchers all match the empty string; the API checks that
 * itself. OUT: *out, whose root is a QUERY_NODE_VECTOR_SELECTOR (matchers in
 * root->vs.matchers, owned by *out); freed with query_expr_free.
 */
int query_parse_selector(const char *s, size_t n, struct query_expr **out,
                         struct query_parse_err *err);

/* Appends the canonical PromQL text of a node (Prometheus's String() form). */
int query_node_format(const struct query_node *n, struct pl_buf *out);

/* query_node_format of the root. */
int query_expr_format(const struct query_expr *e, struct pl_buf *out);

/*
 * Writes Prometheus's text for a parse error, "1:5: parse error: <msg>", to
 * out (NUL-terminated, truncated to outlen).
 */
void query_parse_err_format(const struct query_parse_err *err, char *out, size_t outlen);

/* Deepest nesting of parentheses, calls and operators query_parse accepts. */
#define QUERY_PARSE_MAX_DEPTH 1000

#endif
