/* test_index.c - series index, postings set operations and matcher semantics. */
#include "tests.h"

#include "tsdb/tsdb_int.h"

static void load_basic(struct tsdb *db)
{
    assert_int_equal(app1(db, "up{job=\"a\",instance=\"x\"}", 1000, 1), 0);
    assert_int_equal(app1(db, "up{job=\"a\",instance=\"y\"}", 1000, 1), 0);
    assert_int_equal(app1(db, "up{job=\"b\",instance=\"x\"}", 1000, 0), 0);
    assert_int_equal(app1(db, "up{instance=\"z\"}", 1000, 0), 0);
    assert_int_equal(app1(db, "other{job=\"a\"}", 1000, 5), 0);
}

static void test_select_by_equality_returns_sorted_series(void **state)
{
    struct fx *f = *state;
    load_basic(f->db);
    char out[1024];
    const char *m[] = {"__name__=up"};
    assert_int_equal(sel(f->db, m, 1, 0, 10000, out, sizeof(out)), 4);
    assert_string_equal(out, "up{instance=\"x\", job=\"a\"};up{instance=\"x\", job=\"b\"};"
                             "up{instance=\"y\", job=\"a\"};up{instance=\"z\"}");
    const char *m2[] = {"__name__=up", "job=a"};
    assert_int_equal(sel(f->db, m2, 2, 0, 10000, out, sizeof(out)), 2);
    assert_string_equal(out, "up{instance=\"x\", job=\"a\"};up{instance=\"y\", job=\"a\"}");
}

static void test_empty_matching_matchers_select_series_lacking_the_label(void **state)
{
    struct fx *f = *state;
    load_basic(f->db);
    char out[1024];
    const char *m[] = {"__name__=up", "job="};
    assert_int_equal(sel(f->db, m, 2, 0, 10000, out, sizeof(out)), 1);
    assert_string_equal(out, "up{instance=\"z\"}");
    const char *m2[] = {"__name__=up", "job!=a"};
    sel(f->db, m2, 2, 0, 10000, out, sizeof(out));
    assert_string_equal(out, "up{instance=\"x\", job=\"b\"};up{instance=\"z\"}");
    const char *m3[] = {"__name__=up", "job=~a|"};
    sel(f->db, m3, 2, 0, 10000, out, sizeof(out));
    assert_string_equal(out, "up{instance=\"x\", job=\"a\"};up{instance=\"y\", job=\"a\"};"
                             "up{instance=\"z\"}");
    const char *m4[] = {"__name__=up", "job!~a|b"};
    sel(f->db, m4, 2, 0, 10000, out, sizeof(out));
    assert_string_equal(out, "up{instance=\"z\"}");
    const char *m5[] = {"job=~.+"};
    sel(f->db, m5, 1, 0, 10000, out, sizeof(out));
    assert_string_equal(out, "other{job=\"a\"};up{instance=\"x\", job=\"a\"};"
                             "up{instance=\"x\", job=\"b\"};up{instance=\"y\", job=\"a\"}");
    const char *m6[] = {"instance!~x|y", "__name__=~u.*"};
    sel(f->db, m6, 2, 0, 10000, out, sizeof(out));
    assert_string_equal(out, "up{instance=\"z\"}");
}

static void test_select_rejects_only_empty_matchers(void **state)
{
    struct fx *f = *state;
    load_basic(f->db);
    const char *m[] = {"job=~.*"};
    assert_int_equal(sel(f->db, m, 1, 0, 10000, NULL, 0), -1);
}

static void test_select_restricted_to_time_range(void **state)
{
    struct fx *f = *state;
    assert_int_equal(app1(f->db, "m{a=\"old\"}", 1000, 1), 0);
    assert_int_equal(app1(f->db, "m{a=\"new\"}", 50000, 1), 0);
    char out[256];
    const char *m[] = {"__name__=m"};
    assert_int_equal(sel(f->db, m, 1, 40000, 60000, out, sizeof(out)), 1);
    assert_string_equal(out, "m{a=\"new\"}");
}

static void test_postings_span_pages_and_survive_out_of_order_ids(void **state)
{
    struct fx *f = *state;
    /* Two appenders create series; the later ids commit first. */
    struct tsdb_appender *a1, *a2;
    assert_int_equal(tsdb_appender_begin(f->db, &a1), 0);
    assert_int_equal(tsdb_appender_begin(f->db, &a2), 0);
    char buf[128];
    struct pl_err err;
    for (int i = 0; i < 1500; i++) {
        snprintf(buf, sizeof(buf), "big{i=\"%05d\",even=\"%d\"}", i, i % 2 == 0);
        struct pl_labels *ls;
        assert_int_equal(pl_labels_parse(buf, strlen(buf), &ls, &err), 0);
        assert_int_equal(tsdb_append(i < 700 ? a1 : a2, ls, 1000, i, NULL), 0);
        pl_labels_free(ls);
    }
    assert_int_equal(tsdb_appender_commit(a2, NULL, &err), 0);
    assert_int_equal(tsdb_appender_commit(a1, NULL, &err), 0);
    const char *m[] = {"__name__=big"};
    assert_int_equal(sel(f->db, m, 1, 0, 10000, NULL, 0), 1500);
    const char *m2[] = {"__name__=big", "even=1"};
    assert_int_equal(sel(f->db, m2, 2, 0, 10000, NULL, 0), 750);
    const char *m3[] = {"__name__=big", "even!=1", "i=~0000.|0149."};
    assert_int_equal(sel(f->db, m3, 3, 0, 10000, NULL, 0), 10);
    fx_reopen(f);
    assert_int_equal(sel(f->db, m2, 2, 0, 10000, NULL, 0), 750);
}

static void test_postings_iterators_intersect_and_subtract(void **state)
{
    (void)state;
    uint32_t *a = malloc(6 * 4), *b = malloc(4 * 4), *c = malloc(3 * 4);
    uint32_t av[] = {1, 3, 5, 7, 9, 11}, bv[] = {3, 4, 9, 11}, cv[] = {9, 10, 11};
    memcpy(a, av, sizeof(av));
    memcpy(b, bv, sizeof(bv));
    memcpy(c, cv, sizeof(cv));
    struct tsdb__pit *its[2] = {tsdb__pit_array(a, 6), tsdb__pit_array(b, 4)};
    struct tsdb__pit *and = tsdb__pit_and(its, 2);
    struct tsdb__pit *sub = tsdb__pit_sub(and, tsdb__pit_array(c, 2));
    uint32_t *ids;
    size_t n;
    assert_int_equal(tsdb__pit_collect(sub, &ids, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 3);
    assert_int_equal(ids[1], 11);
    free(ids);
}

static void test_label_names_and_values_with_matchers(void **state)
{
    struct fx *f = *state;
    load_basic(f->db);
    struct tsdb_querier *q;
    struct pl_err err;
    assert_int_equal(tsdb_querier_open(f->db, INT64_MIN / 2, INT64_MAX / 2, &q, &err), 0);
    struct tsdb_strings s;
    assert_int_equal(tsdb_label_names(q, NULL, 0, &s, &err), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.v[0], "__name__");
    assert_string_equal(s.v[1], "instance");
    assert_string_equal(s.v[2], "job");
    tsdb_strings_fini(&s);
    assert_int_equal(tsdb_label_values(q, "job", NULL, 0, &s, &err), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.v[0], "a");
    assert_string_equal(s.v[1], "b");
    tsdb_strings_fini(&s);
    struct tsdb_matcher *ms[1];
    const char *m[] = {"__name__=other"};
    mk_matchers(ms, m, 1);
    assert_int_equal(tsdb_label_names(q, ms, 1, &s, &err), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.v[1], "job");
    tsdb_strings_fini(&s);
    assert_int_equal(tsdb_label_values(q, "instance", ms, 1, &s, &err), 0);
    assert_int_equal(s.n, 0);
    tsdb_strings_fini(&s);
    free_matchers(ms, 1);
    tsdb_querier_close(q);
    /* Restricted by time: nothing after the data. */
    assert_int_equal(tsdb_querier_open(f->db, 5000, 9000, &q, &err), 0);
    assert_int_equal(tsdb_label_values(q, "job", NULL, 0, &s, &err), 0);
    assert_int_equal(s.n, 0);
    tsdb_strings_fini(&s);
    tsdb_querier_close(q);
}

static void test_series_ids_stable_across_restart(void **state)
{
    struct fx *f = *state;
    struct pl_labels *ls;
    struct pl_err err;
    const char *s = "x{a=\"1\"}";
    assert_int_equal(pl_labels_parse(s, strlen(s), &ls, &err), 0);
    struct tsdb_appender *a;
    uint64_t r1, r2;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append(a, ls, 1, 1, &r1), 0);
    assert_int_equal(tsdb_append_ref(a, r1, 2, 2), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    fx_reopen(f);
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append(a, ls, 3, 3, &r2), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    assert_int_equal(r1, r2);
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append_ref(a, 999999, 4, 4), PL_ERR_NOTFOUND);
    tsdb_appender_rollback(a);
    pl_labels_free(ls);
}

static void test_partitions_clamp_at_extreme_times(void **state)
{
    (void)state;
    assert_int_equal(tsdb__partition(0), UINT32_C(1) << 31);
    assert_int_equal(tsdb__partition(-1), (UINT32_C(1) << 31) - 1);
    assert_int_equal(tsdb__partition(TSDB_PARTITION_MS), (UINT32_C(1) << 31) + 1);
    assert_int_equal(tsdb__partition(INT64_MAX), UINT32_MAX);
    assert_int_equal(tsdb__partition(INT64_MIN), 0);
    assert_int_equal(tsdb__partition_start((UINT32_C(1) << 31) + 3), 3 * TSDB_PARTITION_MS);
}

int test_index_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_select_by_equality_returns_sorted_series, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(
            test_empty_matching_matchers_select_series_lacking_the_label, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_select_rejects_only_empty_matchers, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_select_restricted_to_time_range, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_postings_span_pages_and_survive_out_of_order_ids,
                                        fx_setup, fx_teardown),
        cmocka_unit_test(test_postings_iterators_intersect_and_subtract),
        cmocka_unit_test(test_partitions_clamp_at_extreme_times),
        cmocka_unit_test_setup_teardown(test_label_names_and_values_with_matchers, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_series_ids_stable_across_restart, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests_name("tsdb_index", tests, NULL, NULL);
}
