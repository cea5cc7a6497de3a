/*
 * test_eval.c - the evaluator on small hand-built series in the memstore,
 * driven by query text: selectors, staleness, functions, aggregations,
 * binary operators, errors and limits.
 */
#include "tests.h"

#include <math.h>

#include "memstore.h"
#include "query/query.h"
#include "tsdb/tsdb.h"

struct fx {
    struct memstore *ms;
    struct query_queryable st;
    struct query_engine *e;
};

static double stale(void)
{
    union {
        uint64_t u;
        double d;
    } x = {.u = TSDB_STALE_NAN_BITS};
    return x.d;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->ms = memstore_new();
    memstore_queryable(f->ms, &f->st);
    struct query_engine_opts o;
    query_engine_opts_init(&o);
    query_engine_new(&o, &f->e);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    query_engine_free(f->e);
    memstore_free(f->ms);
    free(f);
    return 0;
}

static void add(struct fx *f, const char *series, int64_t t, double v)
{
    assert_int_equal(memstore_add_text(f->ms, series, t, v), 0);
}

/* Runs an instant query and returns the result's text form "labels=value;..." */
static char *inst(struct fx *f, const char *q, int64_t t, struct query_error *err)
{
    struct query_result r;
    struct query_error e2;
    if (!err)
        err = &e2;
    if (query_exec_instant(f->e, &f->st, q, t, &r, err) != 0)
        return NULL;
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    if (r.type == QUERY_VT_SCALAR)
        pl_buf_printf(&b, "scalar=%g", isnan(r.scalar) ? NAN : r.scalar);
    for (size_t i = 0; i < r.nseries; i++) {
        pl_labels_format(r.series[i].labels, &b);
        for (size_t j = 0; j < r.series[i].n; j++)
            pl_buf_printf(&b, "%s%g@%lld", j ? "," : "=",
                          isnan(r.series[i].v[j]) ? NAN : r.series[i].v[j],
                          (long long)r.series[i].t[j]);
        pl_buf_putc(&b, ';');
    }
    query_result_fini(&r);
    return pl_buf_steal(&b, NULL);
}

static void expect(struct fx *f, const char *q, int64_t t, const char *want)
{
    struct query_error err;
    char *got = inst(f, q, t, &err);
    if (!got)
        fail_msg("%s: error %s", q, err.msg);
    if (strcmp(got, want) != 0)
        fail_msg("%s\n got:  %s\n want: %s", q, got, want);
    free(got);
}

static void expect_err(struct fx *f, const char *q, int64_t t, enum query_err_type type,
                       const char *substr)
{
    struct query_error err;
    char *got = inst(f, q, t, &err);
    if (got)
        fail_msg("%s: expected an error, got %s", q, got);
    assert_int_equal(err.type, type);
    if (!strstr(err.msg, substr))
        fail_msg("%s: error %s lacks %s", q, err.msg, substr);
}

static void test_selector_takes_newest_sample_within_lookback(void **state)
{
    struct fx *f = *state;
    add(f, "m{a=\"1\"}", 0, 1);
    add(f, "m{a=\"1\"}", 60000, 2);
    expect(f, "m", 30000, "m{a=\"1\"}=1@30000;");
    expect(f, "m", 60000, "m{a=\"1\"}=2@60000;");
    expect(f, "m", 60000 + 300000, "m{a=\"1\"}=2@360000;");
    expect(f, "m", 60000 + 300001, "");
}

static void test_stale_marker_ends_series(void **state)
{
    struct fx *f = *state;
    add(f, "m", 0, 1);
    add(f, "m", 10000, stale());
    expect(f, "m", 5000, "m{}=1@5000;");
    expect(f, "m", 10000, "");
    expect(f, "count_over_time(m[1m])", 20000, "{}=1@20000;");
}

static void test_rate_extrapolates_and_handles_resets(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i <= 10; i++)
        add(f, "c", i * 10000, i < 6 ? i * 10 : (i - 6) * 10);
    /* samples 0..50 then reset to 0..40: increase over 100s = 50 + 40 */
    expect(f, "increase(c[100s])", 100000, "{}=90@100000;");
    expect(f, "resets(c[100s])", 100000, "{}=1@100000;");
    expect(f, "rate(c[100s])", 100000, "{}=0.9@100000;");
}

static void test_offset_and_at_modifiers(void **state)
{
    struct fx *f = *state;
    add(f, "m", 0, 1);
    add(f, "m", 60000, 2);
    add(f, "m", 120000, 3);
    expect(f, "m offset 1m", 120000, "m{}=2@120000;");
    expect(f, "m @ 60", 0, "m{}=2@0;");
    expect(f, "m offset -1m", 0, "m{}=2@0;");
}

static void test_binary_matching_errors(void **state)
{
    struct fx *f = *state;
    add(f, "a{x=\"1\",y=\"1\"}", 0, 1);
    add(f, "a{x=\"1\",y=\"2\"}", 0, 2);
    add(f, "b{x=\"1\"}", 0, 10);
    expect_err(f, "b + on(x) a", 0, QUERY_ERR_EXECUTION,
               "many-to-many matching not allowed: matching labels must be unique on one side");
    expect(f, "a + on(x) group_left b", 0, "{x=\"1\", y=\"1\"}=11@0;{x=\"1\", y=\"2\"}=12@0;");
    expect_err(f, "a + on(x) b", 0, QUERY_ERR_EXECUTION,
               "multiple matches for labels: many-to-one matching must be explicit");
}

static void test_aggregations_group_and_order(void **state)
{
    struct fx *f = *state;
    add(f, "m{g=\"a\",i=\"1\"}", 0, 1);
    add(f, "m{g=\"a\",i=\"2\"}", 0, 3);
    add(f, "m{g=\"b\",i=\"3\"}", 0, 5);
    expect(f, "sum by (g) (m)", 0, "{g=\"a\"}=4@0;{g=\"b\"}=5@0;");
    expect(f, "avg(m)", 0, "{}=3@0;");
    expect(f, "topk(2, m)", 0, "m{g=\"b\", i=\"3\"}=5@0;m{g=\"a\", i=\"2\"}=3@0;");
    expect(f, "count_values(\"v\", m)", 0, "{v=\"1\"}=1@0;{v=\"3\"}=1@0;{v=\"5\"}=1@0;");
    expect_err(f, "count_values(\"a-b\", m)", 0, QUERY_ERR_EXECUTION, "invalid label name");
}

static void test_too_many_samples_is_an_execution_error(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 100; i++)
        add(f, "m", i * 1000, i);
    struct query_engine_opts o;
    query_engine_opts_init(&o);
    o.max_samples = 10;
    struct query_engine *e;
    query_engine_new(&o, &e);
    struct query_result r;
    struct query_error err;
    assert_int_not_equal(query_exec_instant(e, &f->st, "m[100s]", 100000, &r, &err), 0);
    assert_int_equal(err.type, QUERY_ERR_EXECUTION);
    assert_non_null(strstr(err.msg, "query processing would load too many samples"));
    query_engine_free(e);
}

static void test_range_query_sorts_and_fills_steps(void **state)
{
    struct fx *f = *state;
    add(f, "m{a=\"2\"}", 0, 1);
    add(f, "m{a=\"1\"}", 0, 5);
    struct query_result r;
    struct query_error err;
    assert_int_equal(query_exec_range(f->e, &f->st, "m", 0, 120000, 60000, &r, &err), 0);
    assert_int_equal(r.type, QUERY_VT_MATRIX);
    assert_int_equal(r.nseries, 2);
    assert_string_equal(pl_labels_value(r.series[0].labels, "a"), "1");
    assert_int_equal(r.series[0].n, 3);
    query_result_fini(&r);
    assert_int_not_equal(query_exec_range(f->e, &f->st, "m[1m]", 0, 120000, 60000, &r, &err), 0);
    assert_int_equal(err.type, QUERY_ERR_BAD_DATA);
}

/* Values below were checked against Prometheus 2.42 (gen_golden.py). */
static void test_rate_clamps_extrapolation_at_the_counter_zero_point(void **state)
{
    struct fx *f = *state;
    add(f, "c", 60000, 1);
    add(f, "c", 70000, 2);
    add(f, "c", 80000, 3);
    /* 60s of room before the first sample, but a counter cannot go below 0. */
    expect(f, "increase(c[80s])", 80000, "{}=3@80000;");
    expect(f, "rate(c[80s])", 80000, "{}=0.0375@80000;");
    /* delta has no zero point: half an interval of extrapolation at the start. */
    expect(f, "delta(c[80s])", 80000, "{}=2.5@80000;");
}

static void test_irate_and_idelta_use_the_last_two_samples(void **state)
{
    struct fx *f = *state;
    add(f, "r", 0, 10);
    add(f, "r", 10000, 2);
    expect(f, "irate(r[20s])", 10000, "{}=0.2@10000;");
    expect(f, "idelta(r[20s])", 10000, "{}=-8@10000;");
    expect(f, "irate(r[5s])", 10000, "");
}

static void test_nan_samples_count_as_changes_but_not_resets(void **state)
{
    struct fx *f = *state;
    add(f, "n", 0, 1);
    add(f, "n", 10000, NAN);
    add(f, "n", 20000, 3);
    expect(f, "changes(n[20s])", 20000, "{}=2@20000;");
    expect(f, "resets(n[20s])", 20000, "{}=0@20000;");
    expect(f, "rate(n[20s])", 20000, "{}=0.1@20000;");
}

static void test_range_selectors_skip_stale_markers(void **state)
{
    struct fx *f = *state;
    add(f, "s", 0, 1);
    add(f, "s", 10000, stale());
    add(f, "s", 20000, 3);
    expect(f, "count_over_time(s[20s])", 20000, "{}=2@20000;");
    expect(f, "last_over_time(s[20s])", 20000, "s{}=3@20000;");
    expect(f, "s", 10000, "");
    expect(f, "s", 20000, "s{}=3@20000;");
}

static void test_lookback_includes_its_left_edge(void **state)
{
    struct fx *f = *state;
    add(f, "b", 0, 5);
    expect(f, "b", 300000, "b{}=5@300000;");
    expect(f, "b", 300001, "");
    expect(f, "b", -1, "");
}

static void test_go_float_arithmetic(void **state)
{
    struct fx *f = *state;
    expect(f, "-7 % 3", 0, "scalar=-1");
    expect(f, "7 % -3", 0, "scalar=1");
    expect(f, "1 % 0", 0, "scalar=nan");
    expect(f, "2 ^ 0.5 ^ 2", 0, "scalar=1.18921");
    expect(f, "0 ^ -1", 0, "scalar=inf");
    expect(f, "NaN ^ 0", 0, "scalar=1");
    expect(f, "-1 / 0", 0, "scalar=-inf");
    expect(f, "1 atan2 -0", 0, "scalar=1.5708");
    expect(f, "NaN == bool NaN", 0, "scalar=0");
    expect(f, "Inf > bool 1e308", 0, "scalar=1");
}

static void test_label_functions_validate_names_and_detect_collisions(void **state)
{
    struct fx *f = *state;
    add(f, "m{a=\"x\",b=\"1\"}", 0, 1);
    add(f, "m{a=\"y\",b=\"1\"}", 0, 2);
    expect(f, "label_replace(m, \"c\", \"$1-$2\", \"a\", \"(.)\")", 0,
           "m{a=\"x\", b=\"1\", c=\"x-\"}=1@0;m{a=\"y\", b=\"1\", c=\"y-\"}=2@0;");
    expect_err(f, "label_replace(m, \"1c\", \"\", \"a\", \".*\")", 0, QUERY_ERR_EXECUTION,
               "invalid destination label name in label_replace(): 1c");
    expect_err(f, "label_replace(m, \"c\", \"\", \"a\", \"(?=x)\")", 0, QUERY_ERR_EXECUTION,
               "invalid regular expression in label_replace(): (?=x)");
    expect_err(f, "label_replace(m, \"a\", \"\", \"a\", \".*\")", 0, QUERY_ERR_EXECUTION,
               "vector cannot contain metrics with the same labelset");
    expect(f, "label_join(m, \"j\", \"+\", \"b\", \"a\")", 0,
           "m{a=\"x\", b=\"1\", j=\"1+x\"}=1@0;m{a=\"y\", b=\"1\", j=\"1+y\"}=2@0;");
    expect_err(f, "abs(m) + ignoring(a) abs(m)", 0, QUERY_ERR_EXECUTION,
               "found duplicate series for the match group {b=\"1\"} on the right hand-side of "
               "the operation: [{a=\"y\", b=\"1\"}, {a=\"x\", b=\"1\"}];many-to-many "
               "matching not allowed: matching labels must be unique on one side");
    expect_err(f, "m + ignoring(a) group_left m", 0, QUERY_ERR_EXECUTION,
               "many-to-many matching not allowed");
}

static void test_topk_orders_ties_and_nan_like_go_heaps(void **state)
{
    struct fx *f = *state;
    add(f, "t{i=\"1\"}", 0, 5);
    add(f, "t{i=\"2\"}", 0, 5);
    add(f, "t{i=\"3\"}", 0, NAN);
    add(f, "t{i=\"4\"}", 0, 9);
    expect(f, "topk(3, t)", 0, "t{i=\"4\"}=9@0;t{i=\"1\"}=5@0;t{i=\"2\"}=5@0;");
    expect(f, "bottomk(2, t)", 0, "t{i=\"1\"}=5@0;t{i=\"2\"}=5@0;");
    expect(f, "topk(9, t)", 0, "t{i=\"4\"}=9@0;t{i=\"2\"}=5@0;t{i=\"1\"}=5@0;t{i=\"3\"}=nan@0;");
    expect_err(f, "topk(NaN, t)", 0, QUERY_ERR_EXECUTION, "Scalar value NaN overflows int64");
    expect(f, "sort_desc(t)", 0, "t{i=\"4\"}=9@0;t{i=\"1\"}=5@0;t{i=\"2\"}=5@0;t{i=\"3\"}=nan@0;");
}

int test_eval_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_selector_takes_newest_sample_within_lookback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stale_marker_ends_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_extrapolates_and_handles_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_and_at_modifiers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_matching_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aggregations_group_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_samples_is_an_execution_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_range_query_sorts_and_fills_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_clamps_extrapolation_at_the_counter_zero_point,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_irate_and_idelta_use_the_last_two_samples, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nan_samples_count_as_changes_but_not_resets, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_range_selectors_skip_stale_markers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookback_includes_its_left_edge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_go_float_arithmetic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_functions_validate_names_and_detect_collisions,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_topk_orders_ties_and_nan_like_go_heaps, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("eval", tests, NULL, NULL);
}
