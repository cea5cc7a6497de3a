/* main.c - runs every group of test_query_parse (PromQL lexer, parser, printer). */
#include "tests.h"

#include <math.h>

#include "common/buf.h"

static int strs_equal(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return 1;
}

static int nums_equal(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

int qp_nodes_equal(const struct query_node *a, const struct query_node *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case QUERY_NODE_NUMBER:
        return nums_equal(a->number, b->number);
    case QUERY_NODE_STRING:
        return a->string.len == b->string.len &&
               memcmp(a->string.s, b->string.s, a->string.len) == 0;
    case QUERY_NODE_VECTOR_SELECTOR:
        if ((a->vs.name == NULL) != (b->vs.name == NULL) ||
            (a->vs.name && strcmp(a->vs.name, b->vs.name) != 0))
            return 0;
        if (a->vs.offset_ms != b->vs.offset_ms || a->vs.at != b->vs.at ||
            (a->vs.at == QUERY_AT_TIME && a->vs.at_ms != b->vs.at_ms))
            return 0;
        if (a->vs.nmatchers != b->vs.nmatchers)
            return 0;
        /* Matcher order follows the text; compare as sets (the printer sorts them). */
        for (size_t i = 0; i < a->vs.nmatchers; i++) {
            const struct tsdb_matcher *m = a->vs.matchers[i];
            int found = 0;
            for (size_t j = 0; j < b->vs.nmatchers && !found; j++) {
                const struct tsdb_matcher *o = b->vs.matchers[j];
                found = tsdb_matcher_type(m) == tsdb_matcher_type(o) &&
                        strcmp(tsdb_matcher_name(m), tsdb_matcher_name(o)) == 0 &&
                        strcmp(tsdb_matcher_value(m), tsdb_matcher_value(o)) == 0;
            }
            if (!found)
                return 0;
        }
        return 1;
    case QUERY_NODE_MATRIX_SELECTOR:
        return a->ms.range_ms == b->ms.range_ms && qp_nodes_equal(a->ms.vs, b->ms.vs);
    case QUERY_NODE_SUBQUERY:
        return a->subquery.range_ms == b->subquery.range_ms &&
               a->subquery.step_ms == b->subquery.step_ms &&
               a->subquery.offset_ms == b->subquery.offset_ms && a->subquery.at == b->subquery.at &&
               (a->subquery.at != QUERY_AT_TIME || a->subquery.at_ms == b->subquery.at_ms) &&
               qp_nodes_equal(a->subquery.expr, b->subquery.expr);
    case QUERY_NODE_PAREN:
        return qp_nodes_equal(a->paren.expr, b->paren.expr);
    case QUERY_NODE_UNARY:
        return a->unary.op == b->unary.op && qp_nodes_equal(a->unary.expr, b->unary.expr);
    case QUERY_NODE_BINARY: {
        if (a->binary.op != b->binary.op || a->binary.return_bool != b->binary.return_bool)
            return 0;
        const struct query_vector_matching *x = a->binary.matching, *y = b->binary.matching;
        if ((x == NULL) != (y == NULL))
            return 0;
        if (x && (x->card != y->card || x->on != y->on ||
                  !strs_equal(x->labels, x->nlabels, y->labels, y->nlabels) ||
                  !strs_equal(x->include, x->ninclude, y->include, y->ninclude)))
            return 0;
        return qp_nodes_equal(a->binary.lhs, b->binary.lhs) &&
               qp_nodes_equal(a->binary.rhs, b->binary.rhs);
    }
    case QUERY_NODE_CALL:
        if (a->call.func != b->call.func || a->call.nargs != b->call.nargs)
            return 0;
        for (size_t i = 0; i < a->call.nargs; i++)
            if (!qp_nodes_equal(a->call.args[i], b->call.args[i]))
                return 0;
        return 1;
    case QUERY_NODE_AGGREGATE: {
        /* by () is the same as no grouping; the printer drops it as Prometheus does. */
        int ga = a->agg.without || a->agg.ngrouping > 0,
            gb = b->agg.without || b->agg.ngrouping > 0;
        return a->agg.op == b->agg.op && a->agg.without == b->agg.without && ga == gb &&
               strs_equal(a->agg.grouping, a->agg.ngrouping, b->agg.grouping, b->agg.ngrouping) &&
               qp_nodes_equal(a->agg.param, b->agg.param) &&
               qp_nodes_equal(a->agg.expr, b->agg.expr);
    }
    }
    return 0;
}

struct query_expr *qp_parse_ok(const char *q)
{
    struct query_expr *e = NULL;
    struct query_parse_err err;
    int rc = query_parse(q, strlen(q), &e, &err);
    if (rc != 0)
        fail_msg("query %s: unexpected error %d:%d: %s", q, err.line, err.col, err.msg);
    return e;
}

char *qp_parse_err(const char *q)
{
    struct query_expr *e = NULL;
    struct query_parse_err err;
    if (query_parse(q, strlen(q), &e, &err) == 0) {
        query_expr_free(e);
        return NULL;
    }
    char *out = malloc(700);
    query_parse_err_format(&err, out, 700);
    return out;
}

char *qp_format(const char *q)
{
    struct query_expr *e = qp_parse_ok(q);
    struct pl_buf b;
    pl_buf_init(&b, 1 << 26);
    assert_int_equal(query_expr_format(e, &b), 0);
    size_t len;
    char *s = pl_buf_steal(&b, &len);
    query_expr_free(e);
    return s ? s : strdup("");
}

void qp_check_round_trip(const char *q)
{
    struct query_expr *e1 = qp_parse_ok(q);
    struct pl_buf b1, b2;
    pl_buf_init(&b1, 1 << 26);
    pl_buf_init(&b2, 1 << 26);
    assert_int_equal(query_expr_format(e1, &b1), 0);
    struct query_expr *e2 = NULL;
    struct query_parse_err err;
    if (query_parse(b1.data, b1.len, &e2, &err) != 0)
        fail_msg("reparse of %s (printed as %s) failed: %s", q, pl_buf_cstr(&b1), err.msg);
    if (!qp_nodes_equal(e1->root, e2->root))
        fail_msg("reparse of %s (printed as %s) gives a different tree", q, pl_buf_cstr(&b1));
    assert_int_equal(query_expr_format(e2, &b2), 0);
    assert_string_equal(pl_buf_cstr(&b1), pl_buf_cstr(&b2));
    pl_buf_fini(&b1);
    pl_buf_fini(&b2);
    query_expr_free(e1);
    query_expr_free(e2);
}

int main(void)
{
    int failed = 0;
    failed += test_lex_run();
    failed += test_parse_run();
    failed += test_format_run();
    failed += test_errors_run();
    failed += test_promql_files_run();
    failed += test_typecheck_run();
    return failed ? 1 : 0;
}
