/*
 * test_limits.c - the engine's limits: timeout (in evaluation and in the
 * concurrency queue), cancellation, max samples, and the range-query shape
 * checks, as Prometheus's error types and messages.
 */
#include "tests.h"

#include <math.h>
#include <pthread.h>
#include <time.h>

#include "memstore.h"
#include "query/query.h"

/* A queryable whose open() sleeps, to hold the engine busy. */
struct slow {
    struct query_queryable inner;
    int sleep_ms;
};

static int slow_open(void *ctx, int64_t mint, int64_t maxt, void **view, struct pl_err *err)
{
    struct slow *s = ctx;
    struct timespec ts = {.tv_sec = s->sleep_ms / 1000, .tv_nsec = (s->sleep_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return s->inner.open(s->inner.ctx, mint, maxt, view, err);
}

static void slow_queryable(struct slow *s, struct memstore *ms, int sleep_ms,
                           struct query_queryable *out)
{
    memstore_queryable(ms, &s->inner);
    s->sleep_ms = sleep_ms;
    *out = s->inner;
    out->ctx = s;
    out->open = slow_open;
}

static struct query_engine *engine(int max_conc, uint64_t max_samples, int64_t timeout_ms)
{
    struct query_engine_opts o;
    query_engine_opts_init(&o);
    o.max_concurrency = max_conc;
    if (max_samples)
        o.max_samples = max_samples;
    if (timeout_ms)
        o.timeout_ms = timeout_ms;
    struct query_engine *e;
    assert_int_equal(query_engine_new(&o, &e), 0);
    return e;
}

static void test_opts_default_to_prometheus_flags(void **state)
{
    (void)state;
    struct query_engine_opts o;
    query_engine_opts_init(&o);
    assert_int_equal(o.lookback_ms, 300000);
    assert_int_equal(o.timeout_ms, 120000);
    assert_int_equal(o.max_samples, 50000000);
    assert_int_equal(o.max_concurrency, 20);
    assert_int_equal(o.default_step_ms, 60000);
    assert_string_equal(query_err_type_name(QUERY_ERR_EXECUTION), "execution");
    assert_int_equal(query_err_http_status(QUERY_ERR_BAD_DATA), 400);
    assert_int_equal(query_err_http_status(QUERY_ERR_EXECUTION), 422);
    assert_int_equal(query_err_http_status(QUERY_ERR_TIMEOUT), 503);
}

static void test_slow_query_times_out_in_evaluation(void **state)
{
    (void)state;
    struct memstore *ms = memstore_new();
    assert_int_equal(memstore_add_text(ms, "m", 0, 1), 0);
    struct slow s;
    struct query_queryable st;
    slow_queryable(&s, ms, 60, &st);
    struct query_engine *e = engine(20, 0, 20);
    struct query_result r;
    struct query_error err;
    assert_int_not_equal(query_exec_instant(e, &st, "m", 0, &r, &err), 0);
    assert_int_equal(err.type, QUERY_ERR_TIMEOUT);
    assert_string_equal(err.msg, "query timed out in expression evaluation");
    /* A per-query timeout overrides the engine's. */
    struct query_exec_opts xo = {.timeout_ms = 10000};
    assert_int_equal(query_exec_instant_opts(e, &st, "m", 0, &xo, &r, &err), 0);
    assert_int_equal(r.nseries, 1);
    query_result_fini(&r);
    query_engine_free(e);
    memstore_free(ms);
}

static void test_canceled_query_reports_canceled(void **state)
{
    (void)state;
    struct memstore *ms = memstore_new();
    for (int i = 0; i < 2000; i++) {
        char name[64];
        snprintf(name, sizeof(name), "m{i=\"%d\"}", i);
        assert_int_equal(memstore_add_text(ms, name, 0, i), 0);
    }
    struct query_queryable st;
    memstore_queryable(ms, &st);
    struct query_engine *e = engine(20, 0, 0);
    volatile int cancel = 1;
    struct query_exec_opts xo = {.cancel = &cancel};
    struct query_result r;
    struct query_error err;
    assert_int_not_equal(query_exec_instant_opts(e, &st, "sum(m)", 0, &xo, &r, &err), 0);
    assert_int_equal(err.type, QUERY_ERR_CANCELED);
    query_engine_free(e);
    memstore_free(ms);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Queries over one series whose work is in per-step loops: the nested
 * subquery slides a day-long window over 1.7M steps (about 1.5e11 window
 * reads), the range query a 30-day one over 11001 steps (about 3e10). Unchecked, each
 * runs far beyond the bound below.
 */
#define STEP_HEAVY_INSTANT "count_over_time(sum_over_time(vector(1)[1d:1s])[20d:1s])"
#define STEP_HEAVY_RANGE   "sum_over_time(vector(1)[30d:1s])"

static void test_step_heavy_query_times_out(void **state)
{
    (void)state;
    struct memstore *ms = memstore_new();
    struct query_queryable st;
    memstore_queryable(ms, &st);
    struct query_engine *e = engine(20, 0, 0);
    struct query_exec_opts xo = {.timeout_ms = 100};
    struct query_result r;
    struct query_error err;
    double t0 = mono_s();
    assert_int_not_equal(
        query_exec_instant_opts(e, &st, STEP_HEAVY_INSTANT, 20 * 86400000LL, &xo, &r, &err), 0);
    assert_int_equal(err.type, QUERY_ERR_TIMEOUT);
    assert_string_equal(err.msg, "query timed out in expression evaluation");
    assert_true(mono_s() - t0 < 5.0);
    t0 = mono_s();
    assert_int_not_equal(
        query_exec_range_opts(e, &st, STEP_HEAVY_RANGE, 0, 660000000, 60000, &xo, &r, &err), 0);
    assert_int_equal(err.type, QUERY_ERR_TIMEOUT);
    assert_true(mono_s() - t0 < 5.0);
    query_engine_free(e);
    memstore_free(ms);
}

struct canceler {
    volatile int *flag;
    int after_ms;
};

static void *cancel_later(void *arg)
{
    struct canceler *k = arg;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = k->after_ms * 1000000L};
    nanosleep(&ts, NULL);
    *k->flag = 1;
    return NULL;
}

static void test_cancel_stops_a_step_heavy_query(void **state)
{
    (void)state;
    struct memstore *ms = memstore_new();
    struct query_queryable st;
    memstore_queryable(ms, &st);
    struct query_engine *e = engine(20, 0, 0);
    volatile int cancel = 0;
    struct query_exec_opts xo = {.cancel = &cancel}; /* as the server sets it on shutdown */
    struct canceler k = {.flag = &cancel, .after_ms = 100};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &k), 0);
    struct query_result r;
    struct query_error err;
    double t0 = mono_s();
    assert_int_not_equal(
        query_exec_instant_opts(e, &st, STEP_HEAVY_INSTANT, 20 * 86400000LL, &xo, &r, &err), 0);
    double took = mono_s() - t0;
    pthread_join(th, NULL);
    assert_int_equal(err.type, QUERY_ERR_CANCELED);
    assert_string_equal(err.msg, "query was canceled in expression evaluation");
    assert_true(took < 5.0);
    query_engine_free(e);
    memstore_free(ms);
}

struct bg {
    struct query_engine *e;
    const struct query_queryable *st;
    int rc;
};

static void *bg_query(void *arg)
{
    struct bg *b = arg;
    struct query_result r;
    struct query_error err;
    b->rc = query_exec_instant(b->e, b->st, "m", 0, &r, &err);
    if (b->rc == 0)
        query_result_fini(&r);
    return NULL;
}

static void test_queries_wait_for_a_concurrency_slot(void **state)
{
    (void)state;
    struct memstore *ms = memstore_new();
    assert_int_equal(memstore_add_text(ms, "m", 0, 1), 0);
    struct slow s;
    struct query_queryable slow_st, fast_st;
    slow_queryable(&s, ms, 400, &slow_st);
    memstore_queryable(ms, &fast_st);
    struct query_engine *e = engine(1, 0, 0);
    struct bg b = {.e = e, .st = &slow_st};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bg_query, &b), 0);
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 100000000L};
    nanosleep(&ts, NULL); /* the background query now holds the only slot */
    struct query_exec_opts xo = {.timeout_ms = 50};
    struct query_result r;
    struct query_error err;
    assert_int_not_equal(query_exec_instant_opts(e, &fast_st, "m", 0, &xo, &r, &err), 0);
    assert_int_equal(err.type, QUERY_ERR_TIMEOUT);
    assert_string_equal(err.msg, "query timed out in query queue");
    /* Without a short timeout the query waits for the slot and then runs. */
    xo.timeout_ms = 10000;
    assert_int_equal(query_exec_instant_opts(e, &fast_st, "m", 0, &xo, &r, &err), 0);
    query_result_fini(&r);
    pthread_join(th, NULL);
    assert_int_equal(b.rc, 0);
    query_engine_free(e);
    memstore_free(ms);
}

static void test_max_samples_counts_range_windows_and_results(void **state)
{
    (void)state;
    struct memstore *ms = memstore_new();
    for (int i = 0; i < 100; i++)
        assert_int_equal(memstore_add_text(ms, "m", i * 1000, i), 0);
    struct query_queryable st;
    memstore_queryable(ms, &st);
    struct query_engine *e = engine(20, 50, 0);
    struct query_result r;
    struct query_error err;
    const char *heavy[] = {"sum_over_time(m[99s])", "m[99s]", "max_over_time(m[60s:1s])"};
    for (size_t i = 0; i < sizeof(heavy) / sizeof(heavy[0]); i++) {
        assert_int_not_equal(query_exec_instant(e, &st, heavy[i], 99000, &r, &err), 0);
        assert_int_equal(err.type, QUERY_ERR_EXECUTION);
        assert_string_equal(err.msg, "query processing would load too many samples into memory "
                                     "in query execution");
    }
    assert_int_equal(query_exec_instant(e, &st, "sum_over_time(m[30s])", 99000, &r, &err), 0);
    query_result_fini(&r);
    /* A range query holding more points than the limit fails too. */
    assert_int_not_equal(query_exec_range(e, &st, "m", 0, 99000, 1000, &r, &err), 0);
    assert_int_equal(err.type, QUERY_ERR_EXECUTION);
    query_engine_free(e);
    memstore_free(ms);
}

static void test_range_query_rejects_bad_shapes(void **state)
{
    (void)state;
    struct memstore *ms = memstore_new();
    struct query_queryable st;
    memstore_queryable(ms, &st);
    struct query_engine *e = engine(20, 0, 0);
    struct query_result r;
    struct query_error err;
    assert_int_not_equal(query_exec_range(e, &st, "1", 0, 1000, 0, &r, &err), 0);
    assert_int_equal(err.type, QUERY_ERR_BAD_DATA);
    assert_int_not_equal(query_exec_range(e, &st, "1", 1000, 0, 10, &r, &err), 0);
    assert_int_equal(err.type, QUERY_ERR_BAD_DATA);
    assert_int_not_equal(query_exec_range(e, &st, "\"s\"", 0, 1000, 10, &r, &err), 0);
    assert_string_equal(err.msg,
                        "invalid expression type \"string\" for range query, must be Scalar or "
                        "instant Vector");
    assert_int_not_equal(query_exec_range(e, &st, "m[1m]", 0, 1000, 10, &r, &err), 0);
    assert_string_equal(err.msg, "invalid expression type \"range vector\" for range query, must "
                                 "be Scalar or instant Vector");
    assert_int_not_equal(query_exec_range(e, &st, "1", 0, 20000000, 1, &r, &err), 0);
    assert_int_equal(err.type, QUERY_ERR_BAD_DATA);
    assert_int_not_equal(query_exec_instant(e, &st, "sum(", 0, &r, &err), 0);
    assert_int_equal(err.type, QUERY_ERR_BAD_DATA);
    assert_non_null(strstr(err.msg, "parse error"));
    query_engine_free(e);
    memstore_free(ms);
}

struct deep {
    char *q;
    int rc;
    double v;
};

static void *deep_query(void *arg)
{
    struct deep *d = arg;
    struct memstore *ms = memstore_new();
    memstore_add_text(ms, "m", 0, -2);
    struct query_queryable st;
    memstore_queryable(ms, &st);
    struct query_engine *e = engine(20, 0, 0);
    struct query_result r;
    struct query_error err;
    d->rc = query_exec_instant(e, &st, d->q, 0, &r, &err);
    if (d->rc == 0) {
        d->v = r.nseries == 1 ? r.series[0].v[0] : NAN;
        query_result_fini(&r);
    }
    query_engine_free(e);
    memstore_free(ms);
    return NULL;
}

static void test_deeply_nested_query_fits_a_one_mib_stack(void **state)
{
    (void)state;
    /* 990 nested calls: near the parser's cap of 1000 levels. */
    const int n = 990;
    size_t len = (size_t)n * 5 + 2;
    char *q = malloc(len);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        memcpy(q + o, "abs(", 4);
        o += 4;
    }
    q[o++] = 'm';
    memset(q + o, ')', (size_t)n);
    o += (size_t)n;
    q[o] = 0;
    struct deep d = {.q = q};
    pthread_attr_t at;
    pthread_attr_init(&at);
#if defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer's redzones make every frame several times larger. */
    pthread_attr_setstacksize(&at, (size_t)32 << 20);
#else
    pthread_attr_setstacksize(&at, (size_t)1 << 20);
#endif
    pthread_t th;
    assert_int_equal(pthread_create(&th, &at, deep_query, &d), 0);
    pthread_join(th, NULL);
    pthread_attr_destroy(&at);
    free(q);
    assert_int_equal(d.rc, 0);
    assert_true(d.v == 2);
}

int test_limits_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts_default_to_prometheus_flags),
        cmocka_unit_test(test_slow_query_times_out_in_evaluation),
        cmocka_unit_test(test_canceled_query_reports_canceled),
        cmocka_unit_test(test_step_heavy_query_times_out),
        cmocka_unit_test(test_cancel_stops_a_step_heavy_query),
        cmocka_unit_test(test_queries_wait_for_a_concurrency_slot),
        cmocka_unit_test(test_max_samples_counts_range_windows_and_results),
        cmocka_unit_test(test_range_query_rejects_bad_shapes),
        cmocka_unit_test(test_deeply_nested_query_fits_a_one_mib_stack),
    };
    return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
