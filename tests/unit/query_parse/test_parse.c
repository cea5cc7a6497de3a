/* test_parse.c - the trees query_parse builds: values, selectors, modifiers, precedence, types,
 * limits. */
#include "tests.h"

#include <math.h>
#include <pthread.h>
#include <time.h>

#include "common/buf.h"
#include "query/parse_int.h"

static void test_parse_number_literals(void **state)
{
    static const struct {
        const char *q;
        double v;
    } nums[] = {
        {"1", 1},           {"0x1F", 31},
        {"0X1f", 31},       {"010", 8},
        {"09", 9},          {"1e3", 1000},
        {"1E-3", 1e-3},     {".5", 0.5},
        {"5.", 5},          {"-2", -2},
        {"+3", 3},          {"--4", 4},
        {"-+5", -5},        {"-Inf", -INFINITY},
        {"+inf", INFINITY}, {"9223372036854775807", 9223372036854775807.0},
        {"1e-400", 0},      {"99999999999999999999", 1e20},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        struct query_expr *e = qp_parse_ok(nums[i].q);
        assert_int_equal(e->root->kind, QUERY_NODE_NUMBER);
        if (e->root->number != nums[i].v)
            fail_msg("%s: got %g, want %g", nums[i].q, e->root->number, nums[i].v);
        assert_int_equal(query_node_type(e->root), QUERY_VT_SCALAR);
        query_expr_free(e);
    }
    struct query_expr *e = qp_parse_ok("NaN");
    assert_true(isnan(e->root->number));
    query_expr_free(e);
}

static void test_parse_string_literals_unescape(void **state)
{
    static const struct {
        const char *q, *v;
        size_t len;
    } strs[] = {
        {"\"a\\nb\"", "a\nb", 3},
        {"'it\\'s'", "it's", 4},
        {"`raw\\n`", "raw\\n", 5},
        {"\"\\x41\\101\\u00e9\\U0001F600\"", "AA\xc3\xa9\xf0\x9f\x98\x80", 8},
        {"\"\\a\\b\\f\\r\\t\\v\\\\\\\"\"", "\a\b\f\r\t\v\\\"", 8},
        {"\"\\000\"", "\0", 1},
        {"'\"'", "\"", 1},
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        struct query_expr *e = qp_parse_ok(strs[i].q);
        assert_int_equal(e->root->kind, QUERY_NODE_STRING);
        assert_int_equal(e->root->string.len, strs[i].len);
        assert_memory_equal(e->root->string.s, strs[i].v, strs[i].len);
        assert_int_equal(e->root->string.s[strs[i].len], 0);
        assert_int_equal(query_node_type(e->root), QUERY_VT_STRING);
        query_expr_free(e);
    }
}

static const struct tsdb_matcher *find_matcher(const struct query_node *vs, const char *name)
{
    for (size_t i = 0; i < vs->vs.nmatchers; i++)
        if (strcmp(tsdb_matcher_name(vs->vs.matchers[i]), name) == 0)
            return vs->vs.matchers[i];
    return NULL;
}

static void test_parse_selector_builds_matchers(void **state)
{
    struct query_expr *e = qp_parse_ok("foo{a=\"b\",c!=\"d\",e=~\"f.*\",g!~'h'}");
    const struct query_node *n = e->root;
    assert_int_equal(n->kind, QUERY_NODE_VECTOR_SELECTOR);
    assert_string_equal(n->vs.name, "foo");
    assert_int_equal(n->vs.nmatchers, 5);
    /* The metric name comes last, as __name__="foo". */
    const struct tsdb_matcher *last = n->vs.matchers[4];
    assert_string_equal(tsdb_matcher_name(last), "__name__");
    assert_string_equal(tsdb_matcher_value(last), "foo");
    assert_int_equal(tsdb_matcher_type(last), TSDB_MATCH_EQ);
    assert_int_equal(tsdb_matcher_type(find_matcher(n, "a")), TSDB_MATCH_EQ);
    assert_int_equal(tsdb_matcher_type(find_matcher(n, "c")), TSDB_MATCH_NEQ);
    assert_int_equal(tsdb_matcher_type(find_matcher(n, "e")), TSDB_MATCH_RE);
    assert_int_equal(tsdb_matcher_type(find_matcher(n, "g")), TSDB_MATCH_NRE);
    assert_string_equal(tsdb_matcher_value(find_matcher(n, "g")), "h");
    assert_true(tsdb_matcher_matches(find_matcher(n, "e"), "foo", 3));
    assert_false(tsdb_matcher_matches(find_matcher(n, "e"), "xfoo", 4));
    assert_int_equal(n->vs.offset_ms, 0);
    assert_int_equal(n->vs.at, QUERY_AT_NONE);
    assert_int_equal(query_node_type(n), QUERY_VT_VECTOR);
    query_expr_free(e);

    e = qp_parse_ok("{__name__=~\"foo|bar\", on=\"x\"}");
    assert_null(e->root->vs.name);
    assert_int_equal(e->root->vs.nmatchers, 2);
    assert_non_null(find_matcher(e->root, "on"));
    query_expr_free(e);

    /* Keywords name metrics where Prometheus allows it. */
    const char *names[] = {"sum", "by", "without", "offset", "and", "start", "end", "avg"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        e = qp_parse_ok(names[i]);
        assert_int_equal(e->root->kind, QUERY_NODE_VECTOR_SELECTOR);
        assert_string_equal(e->root->vs.name, names[i]);
        query_expr_free(e);
    }
}

static void test_parse_range_offset_and_at(void **state)
{
    struct query_expr *e = qp_parse_ok("foo[1h30m] offset -5m @ 1.5");
    const struct query_node *n = e->root;
    assert_int_equal(n->kind, QUERY_NODE_MATRIX_SELECTOR);
    assert_int_equal(n->ms.range_ms, 90 * 60 * 1000);
    assert_int_equal(n->ms.vs->vs.offset_ms, -5 * 60 * 1000);
    assert_int_equal(n->ms.vs->vs.at, QUERY_AT_TIME);
    assert_int_equal(n->ms.vs->vs.at_ms, 1500);
    assert_int_equal(query_node_type(n), QUERY_VT_MATRIX);
    query_expr_free(e);

    e = qp_parse_ok("foo @ end() offset 1w");
    assert_int_equal(e->root->vs.at, QUERY_AT_END);
    assert_int_equal(e->root->vs.offset_ms, 7 * 24 * 3600 * 1000LL);
    query_expr_free(e);

    e = qp_parse_ok("foo @ -0.0005");
    assert_int_equal(e->root->vs.at_ms, -1); /* math.Round(-0.5) rounds away from zero */
    query_expr_free(e);
}

static void test_parse_subquery(void **state)
{
    struct query_expr *e = qp_parse_ok("max_over_time(rate(foo[5m])[30m:1m] offset 1m @ start())");
    const struct query_node *c = e->root;
    assert_int_equal(c->kind, QUERY_NODE_CALL);
    assert_int_equal(c->call.func->id, QUERY_FN_MAX_OVER_TIME);
    const struct query_node *sq = c->call.args[0];
    assert_int_equal(sq->kind, QUERY_NODE_SUBQUERY);
    assert_int_equal(sq->subquery.range_ms, 30 * 60 * 1000);
    assert_int_equal(sq->subquery.step_ms, 60 * 1000);
    assert_int_equal(sq->subquery.offset_ms, 60 * 1000);
    assert_int_equal(sq->subquery.at, QUERY_AT_START);
    assert_int_equal(sq->subquery.expr->kind, QUERY_NODE_CALL);
    query_expr_free(e);

    e = qp_parse_ok("foo[5m:]");
    assert_int_equal(e->root->subquery.step_ms, 0);
    query_expr_free(e);
}

/* Formats the tree fully parenthesised, to check the shape precedence gives. */
static void shape(const struct query_node *n, struct pl_buf *b)
{
    switch (n->kind) {
    case QUERY_NODE_BINARY:
        pl_buf_putc(b, '(');
        shape(n->binary.lhs, b);
        pl_buf_printf(b, " %s ", query_binop_name(n->binary.op));
        shape(n->binary.rhs, b);
        pl_buf_putc(b, ')');
        break;
    case QUERY_NODE_UNARY:
        pl_buf_printf(b, "(%s", query_binop_name(n->unary.op));
        shape(n->unary.expr, b);
        pl_buf_putc(b, ')');
        break;
    case QUERY_NODE_PAREN:
        shape(n->paren.expr, b);
        break;
    default:
        query_node_format(n, b);
        break;
    }
}

static void test_parse_precedence_and_associativity(void **state)
{
    static const struct {
        const char *q, *want;
    } cases[] = {
        {"1 + 2 * 3", "(1 + (2 * 3))"},
        {"1 * 2 + 3", "((1 * 2) + 3)"},
        {"1 - 2 - 3", "((1 - 2) - 3)"},
        {"2 ^ 3 ^ 2", "(2 ^ (3 ^ 2))"},
        {"-2 ^ 2", "-4"}, /* checked by value below; the tree is a unary over a power */
        {"a or b and c", "(a or (b and c))"},
        {"a and b or c", "((a and b) or c)"},
        {"a unless b and c", "((a unless b) and c)"},
        {"a == b + c", "(a == (b + c))"},
        {"a + b == c", "((a + b) == c)"},
        {"a > b and c < d", "((a > b) and (c < d))"},
        {"a atan2 b * c", "((a atan2 b) * c)"},
        {"a * b atan2 c", "((a * b) atan2 c)"},
        {"a % b ^ c", "(a % (b ^ c))"},
        {"-a * b", "((-a) * b)"},
        {"-a ^ b", "(-(a ^ b))"},
        {"a ^ -b", "(a ^ (-b))"},
        {"a + -b * c", "(a + ((-b) * c))"},
        {"a or b or c", "((a or b) or c)"},
        {"(a + b) * c", "((a + b) * c)"},
        {"a - b offset 5m", "(a - b offset 5m)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (strcmp(cases[i].q, "-2 ^ 2") == 0) {
            struct query_expr *e = qp_parse_ok(cases[i].q);
            assert_int_equal(e->root->kind, QUERY_NODE_UNARY);
            assert_int_equal(e->root->unary.op, QUERY_OP_SUB);
            assert_int_equal(e->root->unary.expr->kind, QUERY_NODE_BINARY);
            assert_int_equal(e->root->unary.expr->binary.op, QUERY_OP_POW);
            query_expr_free(e);
            continue;
        }
        struct query_expr *e = qp_parse_ok(cases[i].q);
        struct pl_buf b;
        pl_buf_init(&b, 1000);
        shape(e->root, &b);
        if (strcmp(pl_buf_cstr(&b), cases[i].want) != 0)
            fail_msg("%s: shape %s, want %s", cases[i].q, pl_buf_cstr(&b), cases[i].want);
        pl_buf_fini(&b);
        query_expr_free(e);
    }
}

static void test_parse_binary_modifiers(void **state)
{
    struct query_expr *e = qp_parse_ok("a > bool on(x, y) group_left(z) b");
    const struct query_node *n = e->root;
    assert_int_equal(n->kind, QUERY_NODE_BINARY);
    assert_int_equal(n->binary.op, QUERY_OP_GTR);
    assert_true(n->binary.return_bool);
    const struct query_vector_matching *vm = n->binary.matching;
    assert_non_null(vm);
    assert_int_equal(vm->card, QUERY_CARD_MANY_TO_ONE);
    assert_true(vm->on);
    assert_true(vm->has_clause);
    assert_int_equal(vm->nlabels, 2);
    assert_string_equal(vm->labels[0], "x");
    assert_string_equal(vm->labels[1], "y");
    assert_int_equal(vm->ninclude, 1);
    assert_string_equal(vm->include[0], "z");
    query_expr_free(e);

    e = qp_parse_ok("a / ignoring(x) group_right b");
    assert_int_equal(e->root->binary.matching->card, QUERY_CARD_ONE_TO_MANY);
    assert_false(e->root->binary.matching->on);
    assert_int_equal(e->root->binary.matching->ninclude, 0);
    query_expr_free(e);

    /* Set operators are many-to-many; vector/vector without a clause still gets one-to-one. */
    e = qp_parse_ok("a and b");
    assert_int_equal(e->root->binary.matching->card, QUERY_CARD_MANY_TO_MANY);
    assert_false(e->root->binary.matching->has_clause);
    query_expr_free(e);
    e = qp_parse_ok("a + b");
    assert_int_equal(e->root->binary.matching->card, QUERY_CARD_ONE_TO_ONE);
    query_expr_free(e);
    /* No matching with a scalar side; the result is a vector unless both are scalars. */
    e = qp_parse_ok("a + 1");
    assert_null(e->root->binary.matching);
    assert_int_equal(query_node_type(e->root), QUERY_VT_VECTOR);
    query_expr_free(e);
    e = qp_parse_ok("1 + 2 > bool 3");
    assert_null(e->root->binary.matching);
    assert_int_equal(query_node_type(e->root), QUERY_VT_SCALAR);
    query_expr_free(e);
}

static void test_parse_aggregations(void **state)
{
    struct query_expr *e = qp_parse_ok("topk without (a, b) (5, foo)");
    const struct query_node *n = e->root;
    assert_int_equal(n->kind, QUERY_NODE_AGGREGATE);
    assert_int_equal(n->agg.op, QUERY_AGG_TOPK);
    assert_true(n->agg.without);
    assert_true(n->agg.has_grouping);
    assert_int_equal(n->agg.ngrouping, 2);
    assert_string_equal(n->agg.grouping[1], "b");
    assert_int_equal(n->agg.param->kind, QUERY_NODE_NUMBER);
    assert_int_equal(n->agg.expr->kind, QUERY_NODE_VECTOR_SELECTOR);
    query_expr_free(e);

    e = qp_parse_ok("COUNT_VALUES(\"v\", foo) BY (Job)");
    assert_int_equal(e->root->agg.op, QUERY_AGG_COUNT_VALUES);
    assert_false(e->root->agg.without);
    assert_string_equal(e->root->agg.grouping[0], "Job");
    assert_int_equal(e->root->agg.param->kind, QUERY_NODE_STRING);
    query_expr_free(e);

    e = qp_parse_ok("sum by () (foo)");
    assert_true(e->root->agg.has_grouping);
    assert_int_equal(e->root->agg.ngrouping, 0);
    assert_null(e->root->agg.param);
    query_expr_free(e);

    static const struct {
        const char *name;
        enum query_aggop op;
    } ops[] = {{"sum", QUERY_AGG_SUM},           {"avg", QUERY_AGG_AVG},
               {"count", QUERY_AGG_COUNT},       {"min", QUERY_AGG_MIN},
               {"max", QUERY_AGG_MAX},           {"group", QUERY_AGG_GROUP},
               {"stddev", QUERY_AGG_STDDEV},     {"stdvar", QUERY_AGG_STDVAR},
               {"topk", QUERY_AGG_TOPK},         {"bottomk", QUERY_AGG_BOTTOMK},
               {"quantile", QUERY_AGG_QUANTILE}, {"count_values", QUERY_AGG_COUNT_VALUES}};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        assert_string_equal(query_aggop_name(ops[i].op), ops[i].name);
}

static void test_parse_function_table(void **state)
{
    /* Ids index the table, names are sorted (lookup is a binary search), every name resolves. */
    for (int i = 0; i < QUERY_FN__COUNT; i++) {
        const struct query_function *f = query_function_get((enum query_func_id)i);
        assert_non_null(f);
        assert_int_equal(f->id, i);
        if (i > 0)
            assert_true(strcmp(query_function_get((enum query_func_id)(i - 1))->name, f->name) < 0);
        assert_ptr_equal(query_function_lookup(f->name, strlen(f->name)), f);
    }
    assert_int_equal(QUERY_FN__COUNT, 67);
    assert_null(query_function_lookup("Rate", 4));
    assert_null(query_function_lookup("rat", 3));
    assert_null(query_function_lookup("rates", 5));
    assert_null(query_function_get(QUERY_FN__COUNT));
    const struct query_function *f = query_function_lookup("label_replace", 13);
    assert_int_equal(query_function_min_args(f), 5);
    assert_int_equal(query_function_max_args(f), 5);
    assert_int_equal(query_function_arg_type(f, 0), QUERY_VT_VECTOR);
    assert_int_equal(query_function_arg_type(f, 4), QUERY_VT_STRING);
    f = query_function_lookup("label_join", 10);
    assert_int_equal(query_function_min_args(f), 3);
    assert_int_equal(query_function_max_args(f), -1);
    assert_int_equal(query_function_arg_type(f, 9), QUERY_VT_STRING);
    f = query_function_lookup("round", 5);
    assert_int_equal(query_function_min_args(f), 1);
    assert_int_equal(query_function_max_args(f), 2);
    f = query_function_lookup("year", 4);
    assert_int_equal(query_function_min_args(f), 0);
    assert_int_equal(query_function_max_args(f), 1);
    f = query_function_lookup("time", 4);
    assert_int_equal(f->ret, QUERY_VT_SCALAR);
    assert_int_equal(query_function_max_args(f), 0);
}

static void test_parse_names_of_operators_and_types(void **state)
{
    assert_string_equal(query_binop_name(QUERY_OP_ATAN2), "atan2");
    assert_string_equal(query_binop_name(QUERY_OP_NEQ), "!=");
    assert_string_equal(query_binop_name(QUERY_OP_UNLESS), "unless");
    assert_true(query_binop_is_comparison(QUERY_OP_LTE));
    assert_false(query_binop_is_comparison(QUERY_OP_AND));
    assert_true(query_binop_is_set(QUERY_OP_OR));
    assert_false(query_binop_is_set(QUERY_OP_POW));
    assert_string_equal(query_value_type_name(QUERY_VT_MATRIX), "matrix");
    assert_string_equal(query_value_type_name(QUERY_VT_VECTOR), "vector");
    assert_string_equal(query__value_type_doc(QUERY_VT_MATRIX), "range vector");
}

/* CPU time of this thread: the linear-time checks must not fail because the
 * machine is busy (CI runs the sanitizer build beside other jobs). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix)
{
    size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix);
    char *s = malloc(pl + ul * n + sl + 1);
    memcpy(s, prefix, pl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + pl + i * ul, unit, ul);
    memcpy(s + pl + n * ul, suffix, sl + 1);
    return s;
}

static void test_parse_caps_nesting_depth_without_crashing(void **state)
{
    /* 100k open parentheses: a clear error, not a stack overflow. */
    char *q = repeat("", "(", 100000, "1");
    char *err = qp_parse_err(q);
    assert_non_null(err);
    assert_non_null(strstr(err, "nested too deeply"));
    free(err);
    free(q);
    q = repeat("", "-", 100000, "1");
    err = qp_parse_err(q);
    assert_non_null(strstr(err, "nested too deeply"));
    free(err);
    free(q);
    q = repeat("", "abs(", 100000, "x");
    err = qp_parse_err(q);
    assert_non_null(strstr(err, "nested too deeply"));
    free(err);
    free(q);
    q = repeat("1", " ^ 1", 100000, "");
    err = qp_parse_err(q);
    assert_non_null(strstr(err, "nested too deeply"));
    free(err);
    free(q);
    /* A long left-nested chain is capped by tree height, so consumers may recurse safely. */
    q = repeat("1", " + 1", 100000, "");
    err = qp_parse_err(q);
    assert_non_null(strstr(err, "nested too deeply"));
    free(err);
    free(q);
    /* Just under the limit parses. */
    q = repeat("", "(", QUERY_PARSE_MAX_DEPTH - 2, "1");
    size_t n = strlen(q);
    char *full = malloc(n + QUERY_PARSE_MAX_DEPTH);
    memcpy(full, q, n);
    memset(full + n, ')', QUERY_PARSE_MAX_DEPTH - 2);
    full[n + QUERY_PARSE_MAX_DEPTH - 2] = 0;
    struct query_expr *e = qp_parse_ok(full);
    query_expr_free(e);
    free(full);
    free(q);
    q = repeat("x", " or x", 900, "");
    qp_check_round_trip(q);
    free(q);
}

#if defined(__SANITIZE_ADDRESS__)
#define SMALL_STACK (4u << 20)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SMALL_STACK (4u << 20)
#endif
#endif
#ifndef SMALL_STACK
#define SMALL_STACK (512u << 10) /* the parser needs about 160 bytes a level */
#endif

/* Parses and prints queries nested just under the cap; returns the number that worked. */
static void *parse_deep_queries(void *arg)
{
    static const char *const shapes[][2] = {
        {"(", ")"}, {"abs(", ")"}, {"sum(", ")"}, {"-(", ")"}, {"1 ^ (", ")"}, {"x[5m:] or (", ")"},
    };
    int *ok = arg;
    int d = QUERY_PARSE_MAX_DEPTH / 2 - 2;
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        size_t ol = strlen(shapes[s][0]), cl = strlen(shapes[s][1]);
        char *q = malloc((ol + cl) * (size_t)d + 8);
        size_t k = 0;
        for (int i = 0; i < d; i++, k += ol)
            memcpy(q + k, shapes[s][0], ol);
        q[k++] = 'x';
        for (int i = 0; i < d; i++, k += cl)
            memcpy(q + k, shapes[s][1], cl);
        q[k] = 0;
        struct query_expr *e = NULL;
        struct query_parse_err err;
        if (query_parse(q, k, &e, &err) == 0) {
            struct pl_buf b;
            pl_buf_init(&b, 1 << 24);
            if (query_expr_format(e, &b) == 0 && query_node_type(e->root) != QUERY_VT_NONE)
                (*ok)++;
            pl_buf_fini(&b);
            query_expr_free(e);
        } else if (strcmp(err.msg, "subquery is only allowed on instant vector, got matrix "
                                   "instead") == 0 ||
                   strstr(err.msg, "set operator") || strstr(err.msg, "binary expression")) {
            (*ok)++; /* a type error found after the full depth was parsed */
        } else {
            printf("# %s...: %s\n", shapes[s][0], err.msg);
        }
        free(q);
    }
    return NULL;
}

static void test_parse_deep_queries_fit_a_small_thread_stack(void **state)
{
    pthread_attr_t attr;
    pthread_t th;
    int ok = 0;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, SMALL_STACK), 0);
    assert_int_equal(pthread_create(&th, &attr, parse_deep_queries, &ok), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_attr_destroy(&attr);
    assert_int_equal(ok, 6);
}

static void test_parse_long_inputs_in_linear_time(void **state)
{
    /* 200k matchers, 200k grouping labels, a 4 MiB string: each well under a second. */
    size_t n = 200000;
    char *q = malloc(n * 16 + 64);
    size_t k = (size_t)sprintf(q, "foo{");
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(q + k, "l%zu=\"v\",", i);
    strcpy(q + k, "}");
    double t0 = now_s();
    struct query_expr *e = qp_parse_ok(q);
    double t1 = now_s();
    assert_int_equal(e->root->vs.nmatchers, n + 1);
    struct pl_buf b;
    pl_buf_init(&b, 1 << 26);
    assert_int_equal(query_expr_format(e, &b), 0);
    double t2 = now_s();
    pl_buf_fini(&b);
    query_expr_free(e);
    printf("# %zu matchers: parse %.3fs, format %.3fs\n", n, t1 - t0, t2 - t1);
    assert_true(t1 - t0 < 2.0);
    assert_true(t2 - t1 < 2.0);

    k = (size_t)sprintf(q, "sum by (");
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(q + k, "l%zu,", i);
    strcpy(q + k, ") (foo)");
    t0 = now_s();
    e = qp_parse_ok(q);
    t1 = now_s();
    assert_int_equal(e->root->agg.ngrouping, n);
    query_expr_free(e);
    assert_true(t1 - t0 < 2.0);
    free(q);

    /* Long on() and group_left() lists: the shared-label check is not quadratic. */
    q = malloc(n * 30 + 64);
    k = (size_t)sprintf(q, "a * on(");
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(q + k, "%sl%zu", i ? "," : "", i);
    k += (size_t)sprintf(q + k, ") group_left(");
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(q + k, "m%zu,", i);
    strcpy(q + k, "l7) b");
    t0 = now_s();
    char *err = qp_parse_err(q);
    t1 = now_s();
    assert_non_null(err);
    assert_non_null(strstr(err, "label \"l7\" must not occur in ON and GROUP clause at once"));
    free(err);
    assert_true(t1 - t0 < 2.0);
    free(q);

    size_t sl = 4 << 20;
    q = malloc(sl + 3);
    q[0] = '"';
    memset(q + 1, 'a', sl);
    q[sl + 1] = '"';
    q[sl + 2] = 0;
    t0 = now_s();
    e = qp_parse_ok(q);
    t1 = now_s();
    assert_int_equal(e->root->string.len, sl);
    query_expr_free(e);
    assert_true(t1 - t0 < 2.0);
    free(q);
}

static void test_parse_throughput_on_typical_queries(void **state)
{
    /* Grafana-style queries; prints queries/s so a regression shows in the log. */
    static const char *const qs[] = {
        "sum by (job) (rate(http_requests_total{job=~\"api|web\",code!=\"500\"}[5m]))",
        "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
        "topk(10, sum without (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[1m])))",
        "100 * (1 - avg by (instance) (irate(node_cpu_seconds_total{mode=\"idle\"}[5m])))",
        "max_over_time(rate(foo[5m])[1h:1m] offset 1d) / on (job) group_left (team) bar",
        "up == 0 and on (instance) (time() - process_start_time_seconds > 300)",
    };
    size_t nq = sizeof(qs) / sizeof(qs[0]), bytes = 0;
    int iters = 20000;
    double t0 = now_s();
    for (int it = 0; it < iters; it++) {
        for (size_t i = 0; i < nq; i++) {
            struct query_expr *e = NULL;
            size_t n = strlen(qs[i]);
            assert_int_equal(query_parse(qs[i], n, &e, NULL), 0);
            query_expr_free(e);
            bytes += n;
        }
    }
    double dt = now_s() - t0;
    double qps = (double)iters * (double)nq / dt;
    printf("# parse+free: %.0f queries/s, %.1f MB/s (%d x %zu typical queries in %.3fs)\n", qps,
           (double)bytes / dt / 1e6, iters, nq, dt);
    assert_true(qps > 2000);
}

static void test_parse_keeps_empty_name_matcher_when_printing(void **state)
{
    /* Prometheus prints {__name__="x",__name__=""} without __name__="" (it equals the empty name).
     */
    char *got = qp_format("{__name__=\"x\",__name__=\"\"}");
    assert_string_equal(got, "{__name__=\"\",__name__=\"x\"}");
    free(got);
    qp_check_round_trip("{__name__=\"x\",__name__=\"\"}");
    qp_check_round_trip("Inf ^ x * Inf");
}

int test_parse_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_number_literals),
        cmocka_unit_test(test_parse_string_literals_unescape),
        cmocka_unit_test(test_parse_selector_builds_matchers),
        cmocka_unit_test(test_parse_range_offset_and_at),
        cmocka_unit_test(test_parse_subquery),
        cmocka_unit_test(test_parse_precedence_and_associativity),
        cmocka_unit_test(test_parse_binary_modifiers),
        cmocka_unit_test(test_parse_aggregations),
        cmocka_unit_test(test_parse_function_table),
        cmocka_unit_test(test_parse_names_of_operators_and_types),
        cmocka_unit_test(test_parse_caps_nesting_depth_without_crashing),
        cmocka_unit_test(test_parse_long_inputs_in_linear_time),
        cmocka_unit_test(test_parse_deep_queries_fit_a_small_thread_stack),
        cmocka_unit_test(test_parse_throughput_on_typical_queries),
        cmocka_unit_test(test_parse_keeps_empty_name_matcher_when_printing),
    };
    return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
