/* test_concurrency.c - many threads updating shared children and creating
 * children concurrently while another thread renders: totals stay exact. */
#include "tests.h"

#include <pthread.h>
#include <stdatomic.h>

#define NTHREADS 8
#define NITER    100000

struct shared {
    struct exp_registry *r;
    struct exp_family *cf, *gf, *hf, *sf;
    struct exp_metric *c, *g, *h;
    atomic_int stop;
    struct exp_metric *children[NTHREADS][16];
};

static void *updater(void *arg)
{
    struct shared *s = arg;
    for (int i = 0; i < NITER; i++) {
        exp_counter_inc(s->c);
        exp_counter_add(s->c, 0.5);
        exp_gauge_inc(s->g);
        exp_gauge_dec(s->g);
        exp_histogram_observe(s->h, (double)(i % 4));
    }
    return NULL;
}

static void *creator(void *arg)
{
    struct shared *s = ((void **)arg)[0];
    int id = (int)(intptr_t)((void **)arg)[1];
    char v[16];
    for (int k = 0; k < 200; k++) {
        for (int i = 0; i < 16; i++) {
            snprintf(v, sizeof(v), "v%d", i);
            struct exp_metric *m;
            assert_int_equal(exp_family_childv(s->cf, &m, v), 0);
            if (k == 0)
                s->children[id][i] = m;
            else
                assert_ptr_equal(s->children[id][i], m);
            exp_counter_inc(m);
        }
    }
    return NULL;
}

static void *renderer(void *arg)
{
    struct shared *s = arg;
    while (!atomic_load(&s->stop)) {
        char *out;
        size_t len;
        assert_int_equal(exp_registry_render(s->r, EXP_FORMAT_TEXT, &out, &len), 0);
        free(out);
    }
    return NULL;
}

static void test_concurrent_updates_keep_exact_totals(void **state)
{
    (void)state;
    struct shared s;
    memset(&s, 0, sizeof(s));
    static const double b[] = {0.5, 1.5, 2.5};
    assert_int_equal(exp_registry_new(&s.r), 0);
    assert_int_equal(exp_counter_new(s.r, "c_total", "", 0, NULL, &s.cf), 0);
    assert_int_equal(exp_gauge_new(s.r, "g", "", 0, NULL, &s.gf), 0);
    assert_int_equal(exp_histogram_new(s.r, "h", "", 0, NULL, b, 3, &s.hf), 0);
    assert_int_equal(exp_family_child(s.cf, NULL, &s.c), 0);
    assert_int_equal(exp_family_child(s.gf, NULL, &s.g), 0);
    assert_int_equal(exp_family_child(s.hf, NULL, &s.h), 0);
    pthread_t t[NTHREADS], rt;
    assert_int_equal(pthread_create(&rt, NULL, renderer, &s), 0);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, updater, &s), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&s.stop, 1);
    pthread_join(rt, NULL);
    assert_true(exp_metric_value(s.c) == NTHREADS * NITER * 1.5);
    assert_true(exp_metric_value(s.g) == 0);
    assert_true(exp_metric_value(s.h) == NTHREADS * NITER);
    char *out = test_render(s.r, EXP_FORMAT_TEXT);
    assert_non_null(strstr(out, "c_total 1200000\n"));
    assert_non_null(strstr(out, "h_bucket{le=\"0.5\"} 200000\n"));
    assert_non_null(strstr(out, "h_bucket{le=\"1.5\"} 400000\n"));
    assert_non_null(strstr(out, "h_bucket{le=\"2.5\"} 600000\n"));
    assert_non_null(strstr(out, "h_bucket{le=\"+Inf\"} 800000\n"));
    assert_non_null(strstr(out, "h_sum 1200000\n"));
    assert_non_null(strstr(out, "h_count 800000\n"));
    free(out);
    exp_registry_free(s.r);
}

static void test_concurrent_child_creation_yields_one_child_per_label_set(void **state)
{
    (void)state;
    struct shared s;
    memset(&s, 0, sizeof(s));
    static const char *const ln[] = {"k"};
    assert_int_equal(exp_registry_new(&s.r), 0);
    assert_int_equal(exp_counter_new(s.r, "per_key_total", "", 1, ln, &s.cf), 0);
    pthread_t t[NTHREADS], rt;
    void *args[NTHREADS][2];
    assert_int_equal(pthread_create(&rt, NULL, renderer, &s), 0);
    for (int i = 0; i < NTHREADS; i++) {
        args[i][0] = &s;
        args[i][1] = (void *)(intptr_t)i;
        assert_int_equal(pthread_create(&t[i], NULL, creator, args[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&s.stop, 1);
    pthread_join(rt, NULL);
    for (int i = 0; i < 16; i++) {
        for (int j = 1; j < NTHREADS; j++)
            assert_ptr_equal(s.children[0][i], s.children[j][i]);
        assert_true(exp_metric_value(s.children[0][i]) == NTHREADS * 200);
    }
    char *out = test_render(s.r, EXP_FORMAT_TEXT);
    int lines = 0;
    for (char *p = out; (p = strstr(p, "per_key_total{")) != NULL; p++)
        lines++;
    assert_int_equal(lines, 16);
    free(out);
    exp_registry_free(s.r);
}

static void *summary_updater(void *arg)
{
    struct exp_metric *m = arg;
    for (int i = 0; i < 20000; i++)
        exp_summary_observe(m, 1);
    return NULL;
}

static void test_concurrent_summary_observations_are_counted(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_family *f;
    struct exp_metric *m;
    static const struct exp_quantile q[] = {{0.5, 0.05}};
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_summary_new(r, "s", "", 0, NULL, q, 1, 600, 5, &f), 0);
    assert_int_equal(exp_family_child(f, NULL, &m), 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, summary_updater, m);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char *out = test_render(r, EXP_FORMAT_TEXT);
    assert_non_null(strstr(out, "s{quantile=\"0.5\"} 1\ns_sum 80000\ns_count 80000\n"));
    free(out);
    exp_registry_free(r);
}

int test_concurrency_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_updates_keep_exact_totals),
        cmocka_unit_test(test_concurrent_child_creation_yields_one_child_per_label_set),
        cmocka_unit_test(test_concurrent_summary_observations_are_counted),
    };
    return cmocka_run_group_tests_name("concurrency", tests, NULL, NULL);
}
