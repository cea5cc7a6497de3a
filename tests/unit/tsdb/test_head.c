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

/*
 * tsdb_append_refs gives each sample the result tsdb_append_ref would,
 * whether its series is in memory or evicted (loaded back, with the stripe
 * lock given up), and a batch mixing it with tsdb_append indexes new series.
 */
static void test_append_refs_match_single_ref_appends(void **state)
{
    struct fx *f = *state;
    struct pl_err err;
    enum { NS = 40 };
    uint64_t refs[NS];
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    for (int i = 0; i < NS; i++) {
        char txt[64];
        int n = snprintf(txt, sizeof(txt), "r{i=\"%d\"}", i);
        struct pl_labels *ls;
        assert_int_equal(pl_labels_parse(txt, (size_t)n, &ls, &err), 0);
        assert_int_equal(tsdb_append(a, ls, 1000, i, &refs[i]), 0);
        pl_labels_free(ls);
    }
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    /* Every series evicted, then every third loaded back: both paths in one batch. */
    uint64_t ev = 0;
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &ev, &err), 0);
    assert_int_equal(ev, NS);
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    for (int i = 0; i < NS; i += 3)
        assert_int_equal(tsdb_append_ref(a, refs[i], 1500, i), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);

    struct tsdb_ref_sample in[NS + 8];
    int want[NS + 8], got[NS + 8];
    size_t n = 0;
    for (int i = 0; i < NS; i++) {
        in[n] = (struct tsdb_ref_sample){refs[i], 2000, i};
        want[n++] = 0;
    }
    in[n] = (struct tsdb_ref_sample){refs[3], 500, 1}; /* older than the head's newest */
    want[n++] = PL_ERR_OUT_OF_ORDER;
    in[n] = (struct tsdb_ref_sample){refs[4], 2000, 4}; /* same sample again: ignored */
    want[n++] = 0;
    in[n] = (struct tsdb_ref_sample){refs[5], 2000, 99}; /* same time, other value */
    want[n++] = PL_ERR_DUPLICATE;
    in[n] = (struct tsdb_ref_sample){refs[6], 3000, 6};
    want[n++] = 0;
    in[n] = (struct tsdb_ref_sample){refs[6], 2500, 6}; /* older than the batch's newest */
    want[n++] = PL_ERR_OUT_OF_ORDER;
    in[n] = (struct tsdb_ref_sample){0, 2000, 1};
    want[n++] = PL_ERR_NOTFOUND;
    in[n] = (struct tsdb_ref_sample){refs[NS - 1] + 1000, 2000, 1};
    want[n++] = PL_ERR_NOTFOUND;
    in[n] = (struct tsdb_ref_sample){UINT64_MAX, 2000, 1};
    want[n++] = PL_ERR_NOTFOUND;

    /* A new series, appended by labels and then by ref in the same batch. */
    struct pl_labels *nls;
    assert_int_equal(pl_labels_parse("fresh{a=\"b\"}", 12, &nls, &err), 0);
    uint64_t nref = 0;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append(a, nls, 5000, 1, &nref), 0);
    tsdb_append_refs(a, in, n, got);
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i])
            fail_msg("sample %zu: got %d, want %d", i, got[i], want[i]);
    }
    struct tsdb_ref_sample more[2] = {{nref, 6000, 2}, {nref, 5500, 3}};
    int mrc[2];
    tsdb_append_refs(a, more, 2, mrc);
    assert_int_equal(mrc[0], 0);
    assert_int_equal(mrc[1], PL_ERR_OUT_OF_ORDER);
    struct tsdb_append_result res;
    assert_int_equal(tsdb_appender_commit(a, &res, &err), 0);
    assert_int_equal(res.samples, NS + 1 + 2);
    assert_int_equal(res.series_new, 1);
    pl_labels_free(nls);

    for (int round = 0; round < 2; round++) {
        const char *all[] = {"__name__=r"};
        assert_int_equal(sel(f->db, all, 1, 0, 10000, NULL, 0), NS * 2 + (NS + 2) / 3 + 1);
        const char *fr[] = {"__name__=fresh"};
        /* The new series' oldest sample is its first in the batch. */
        assert_int_equal(sel(f->db, fr, 1, 0, 5200, NULL, 0), 1);
        assert_int_equal(sel(f->db, fr, 1, 0, 10000, NULL, 0), 2);
        fx_reopen(f);
    }
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
        cmocka_unit_test_setup_teardown(test_append_refs_match_single_ref_appends, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests_name("tsdb_head", tests, NULL, NULL);
}
