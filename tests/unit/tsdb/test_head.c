/* test_head.c - append rules, head sealing, and queries across head and sealed chunks. */
#include "tests.h"

#include <math.h>
#include <pthread.h>

#include "tsdb/tsdb_int.h"

static void test_out_of_order_and_duplicates_follow_prometheus(void **state)
{
    struct fx *f = *state;
    const char *s = "m{a=\"1\"}";
    assert_int_equal(app1(f->db, s, 1000, 1), 0);
    assert_int_equal(app1(f->db, s, 2000, 2), 0);
    assert_int_equal(app1(f->db, s, 1500, 9), PL_ERR_OUT_OF_ORDER);
    assert_int_equal(app1(f->db, s, 2000, 2), 0); /* same value: ignored */
    assert_int_equal(app1(f->db, s, 2000, 3), PL_ERR_DUPLICATE);
    /* Each series orders independently; 1970 and t=0 are valid. */
    assert_int_equal(app1(f->db, "m{a=\"2\"}", 0, 7), 0);
    assert_int_equal(app1(f->db, "m{a=\"3\"}", -5000, 8), 0);
    struct tsdb_stats st;
    tsdb_stats_get(f->db, &st);
    assert_int_equal(st.out_of_order_rejected, 1);
    assert_int_equal(st.duplicate_rejected, 1);
    struct tsdb_samples smp;
    tsdb_samples_init(&smp);
    assert_int_equal(series_samples(f->db, s, INT64_MIN / 2, INT64_MAX / 2, &smp), 2);
    assert_int_equal(smp.t[1], 2000);
    assert_true(smp.v[1] == 2);
    assert_int_equal(series_samples(f->db, "m{a=\"3\"}", INT64_MIN / 2, 0, &smp), 1);
    assert_int_equal(smp.t[0], -5000);
    tsdb_samples_fini(&smp);
}

static void test_batch_rejects_out_of_order_within_itself(void **state)
{
    struct fx *f = *state;
    struct pl_labels *ls;
    struct pl_err err;
    assert_int_equal(pl_labels_parse("m{a=\"1\"}", 8, &ls, &err), 0);
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append(a, ls, 10, 1, NULL), 0);
    assert_int_equal(tsdb_append(a, ls, 5, 1, NULL), PL_ERR_OUT_OF_ORDER);
    assert_int_equal(tsdb_append(a, ls, 10, 2, NULL), PL_ERR_DUPLICATE);
    assert_int_equal(tsdb_append(a, ls, 20, 2, NULL), 0);
    struct tsdb_append_result res;
    assert_int_equal(tsdb_appender_commit(a, &res, &err), 0);
    assert_int_equal(res.samples, 2);
    assert_int_equal(res.series_new, 1);
    pl_labels_free(ls);
}

static void test_head_seals_and_queries_read_sealed_and_open_chunks(void **state)
{
    struct fx *f = *state;
    const char *s = "cpu{core=\"0\"}";
    struct pl_labels *ls;
    struct pl_err err;
    assert_int_equal(pl_labels_parse(s, strlen(s), &ls, &err), 0);
    /* 1000 samples at 15 s, crossing partitions; batches of 50. */
    for (int b = 0; b < 20; b++) {
        struct tsdb_appender *a;
        assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
        for (int i = 0; i < 50; i++) {
            int k = b * 50 + i;
            assert_int_equal(tsdb_append(a, ls, (int64_t)k * 15000, k * 0.5, NULL), 0);
        }
        assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    }
    pl_labels_free(ls);
    struct tsdb_stats st;
    tsdb_stats_get(f->db, &st);
    assert_true(st.sealed_chunks >= 8);
    struct tsdb_samples smp;
    tsdb_samples_init(&smp);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(series_samples(f->db, s, 0, INT64_MAX / 2, &smp), 1000);
        for (int k = 0; k < 1000; k++) {
            assert_int_equal(smp.t[k], (int64_t)k * 15000);
            assert_true(smp.v[k] == k * 0.5);
        }
        /* A window inside: [100, 899] samples. */
        assert_int_equal(series_samples(f->db, s, 100 * 15000, 899 * 15000, &smp), 800);
        assert_int_equal(smp.t[0], 100 * 15000);
        fx_reopen(f);
    }
    tsdb_samples_fini(&smp);
}

static void test_stale_markers_and_special_values_are_bit_exact(void **state)
{
    struct fx *f = *state;
    double vals[] = {tsdb_stale_nan(), NAN, INFINITY, -INFINITY, -0.0, 1e308, 5e-324};
    for (int i = 0; i < 7; i++)
        assert_int_equal(app1(f->db, "s{x=\"y\"}", i * 1000, vals[i]), 0);
    for (int r = 0; r < 2; r++) {
        struct tsdb_samples smp;
        tsdb_samples_init(&smp);
        assert_int_equal(series_samples(f->db, "s{x=\"y\"}", 0, 10000, &smp), 7);
        assert_true(tsdb_is_stale_nan(smp.v[0]));
        assert_memory_equal(smp.v, vals, sizeof(vals));
        tsdb_samples_fini(&smp);
        fx_reopen(f);
    }
}

struct conc {
    struct tsdb *db;
    int stop;
    long queries, errors;
};

static void *reader(void *arg)
{
    struct conc *c = arg;
    struct tsdb_samples smp;
    tsdb_samples_init(&smp);
    long last = 0;
    while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
        long n = series_samples(c->db, "c{i=\"7\"}", 0, INT64_MAX / 2, &smp);
        if (n < 0 || n < last)
            c->errors++;
        for (long k = 1; k < n; k++)
            if (smp.t[k] <= smp.t[k - 1] || smp.v[k] != (double)smp.t[k])
                c->errors++;
        /* Samples are appended contiguously from t=1: none may be missing. */
        if (n > 0 && smp.t[n - 1] != n)
            c->errors++;
        last = n;
        c->queries++;
    }
    tsdb_samples_fini(&smp);
    return NULL;
}

static void test_queries_run_concurrently_with_appends_and_seals(void **state)
{
    struct fx *f = *state;
    struct conc c = {f->db, 0, 0, 0};
    struct pl_labels *ls[20];
    struct pl_err err;
    char buf[64];
    for (int i = 0; i < 20; i++) {
        snprintf(buf, sizeof(buf), "c{i=\"%d\"}", i);
        assert_int_equal(pl_labels_parse(buf, strlen(buf), &ls[i], &err), 0);
    }
    assert_int_equal(app1(f->db, "c{i=\"7\"}", 1, 1), 0);
    pthread_t th;
    pthread_create(&th, NULL, reader, &c);
    for (int t = 2; t < 3000; t++) {
        struct tsdb_appender *a;
        assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
        for (int i = 0; i < 20; i++)
            assert_int_equal(tsdb_append(a, ls[i], t, t, NULL), 0);
        assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    }
    __atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    for (int i = 0; i < 20; i++)
        pl_labels_free(ls[i]);
    assert_int_equal(c.errors, 0);
    assert_true(c.queries > 0);
}

struct writer {
    struct tsdb *db;
    int base;
    int errors;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct pl_err err;
    char buf[64];
    for (int t = 1; t <= 300; t++) {
        struct tsdb_appender *a;
        if (tsdb_appender_begin(w->db, &a)) {
            w->errors++;
            continue;
        }
        for (int i = 0; i < 50; i++) {
            /* Half the series are shared between the writers. */
            int id = i < 25 ? i : w->base + i;
            snprintf(buf, sizeof(buf), "mw{i=\"%d\"}", id);
            struct pl_labels *ls;
            pl_labels_parse(buf, strlen(buf), &ls, &err);
            int rc = tsdb_append(a, ls, t, t, NULL);
            pl_labels_free(ls);
            if (rc != 0 && rc != PL_ERR_OUT_OF_ORDER)
                w->errors++;
        }
        if (tsdb_appender_commit(a, NULL, &err))
            w->errors++;
    }
    return NULL;
}

static void test_concurrent_appenders_share_series_safely(void **state)
{
    struct fx *f = *state;
    struct writer w[2] = {{f->db, 1000, 0}, {f->db, 2000, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, writer_main, &w[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(w[0].errors + w[1].errors, 0);
    const char *m[] = {"__name__=mw"};
    char out[8192];
    /* 25 shared + 2 x 25 own series, each with t = 1..300 exactly once. */
    assert_int_equal(sel(f->db, m, 1, 0, 1000, out, sizeof(out)), 75 * 300);
    fx_reopen(f);
    assert_int_equal(sel(f->db, m, 1, 0, 1000, out, sizeof(out)), 75 * 300);
}

static void test_interval_sync_policy_persists_on_close(void **state)
{
    struct fx *f = *state;
    enum tsdb_sync sy;
    assert_int_equal(tsdb_sync_parse("interval", &sy), 0);
    assert_int_equal(tsdb_sync_parse("sometimes", &sy), PL_ERR_INVALID);
    f->o.sync = TSDB_SYNC_INTERVAL;
    f->o.sync_interval_ms = 5;
    fx_reopen(f);
    for (int t = 0; t < 20; t++)
        assert_int_equal(app1(f->db, "iv{a=\"1\"}", t, t), 0);
    fx_reopen(f);
    const char *m[] = {"__name__=iv"};
    assert_int_equal(sel(f->db, m, 1, 0, 1000, NULL, 0), 20);
}

static void test_invalid_labels_are_rejected(void **state)
{
    struct fx *f = *state;
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    struct pl_labels *empty = calloc(1, sizeof(*empty));
    assert_int_equal(tsdb_append(a, empty, 1, 1, NULL), PL_ERR_INVALID);
    free(empty);
    tsdb_appender_rollback(a);
}

int test_head_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_out_of_order_and_duplicates_follow_prometheus,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_batch_rejects_out_of_order_within_itself, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_head_seals_and_queries_read_sealed_and_open_chunks,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stale_markers_and_special_values_are_bit_exact,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_queries_run_concurrently_with_appends_and_seals,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_labels_are_rejected, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appenders_share_series_safely, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_interval_sync_policy_persists_on_close, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests_name("tsdb_head", tests, NULL, NULL);
}
