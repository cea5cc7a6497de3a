/*
 * test_scripts.c - promlite's promqltest scripts (tests/unit/query/testdata)
 * as cmocka cases, one per file: every eval, with its range-mode and `@`
 * variants, must pass. The ref_*.test expectations were produced by
 * Prometheus 2.42 (gen_golden.py); the others are worked out by hand.
 */
#include "tests.h"

#include <dirent.h>

int promqltest_run_file(const char *path, int *pass, int *fail);

static void run_script(const char *name)
{
    const char *src = getenv("PROMLITE_SRC");
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/unit/query/testdata/%s", src ? src : ".", name);
    int pass = 0, fail = 0;
    assert_int_equal(promqltest_run_file(path, &pass, &fail), 0);
    if (fail)
        fail_msg("%s: %d evals failed (run promqltest -v %s)", name, fail, path);
    assert_true(pass > 0);
}

#define SCRIPT_TEST(fn, file)                                                                      \
    static void fn(void **state)                                                                   \
    {                                                                                              \
        (void)state;                                                                               \
        run_script(file);                                                                          \
    }

SCRIPT_TEST(test_script_at_modifier_and_subqueries, "at_subquery.test")
SCRIPT_TEST(test_script_functions_by_hand, "functions_more.test")
SCRIPT_TEST(test_script_aggregators_match_prometheus, "ref_aggregators.test")
SCRIPT_TEST(test_script_functions_match_prometheus, "ref_functions.test")
SCRIPT_TEST(test_script_histograms_match_prometheus, "ref_histograms.test")
SCRIPT_TEST(test_script_operators_match_prometheus, "ref_operators.test")
SCRIPT_TEST(test_script_subqueries_and_at_match_prometheus, "ref_subquery_at.test")
SCRIPT_TEST(test_script_trig_and_go_float_ops_match_prometheus, "ref_trig.test")
SCRIPT_TEST(test_script_compensated_sums_match_prometheus, "ref_kahan.test")
SCRIPT_TEST(test_script_uncompensated_aggregations_match_prometheus, "ref_kahan2.test")
SCRIPT_TEST(test_script_topk_ties_match_prometheus, "ref_topk_ties.test")
SCRIPT_TEST(test_script_edge_cases_match_prometheus, "ref_edge.test")
SCRIPT_TEST(test_script_random_expressions_2_match_prometheus, "ref_random_2.test")
SCRIPT_TEST(test_script_random_expressions_3_match_prometheus, "ref_random_3.test")
SCRIPT_TEST(test_script_random_expressions_4_match_prometheus, "ref_random_4.test")
SCRIPT_TEST(test_script_random_expressions_6_match_prometheus, "ref_random_6.test")
SCRIPT_TEST(test_script_random_expressions_9_match_prometheus, "ref_random_9.test")

int test_scripts_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_script_at_modifier_and_subqueries),
        cmocka_unit_test(test_script_functions_by_hand),
        cmocka_unit_test(test_script_aggregators_match_prometheus),
        cmocka_unit_test(test_script_functions_match_prometheus),
        cmocka_unit_test(test_script_histograms_match_prometheus),
        cmocka_unit_test(test_script_operators_match_prometheus),
        cmocka_unit_test(test_script_subqueries_and_at_match_prometheus),
        cmocka_unit_test(test_script_trig_and_go_float_ops_match_prometheus),
        cmocka_unit_test(test_script_compensated_sums_match_prometheus),
        cmocka_unit_test(test_script_uncompensated_aggregations_match_prometheus),
        cmocka_unit_test(test_script_topk_ties_match_prometheus),
        cmocka_unit_test(test_script_edge_cases_match_prometheus),
        cmocka_unit_test(test_script_random_expressions_2_match_prometheus),
        cmocka_unit_test(test_script_random_expressions_3_match_prometheus),
        cmocka_unit_test(test_script_random_expressions_4_match_prometheus),
        cmocka_unit_test(test_script_random_expressions_6_match_prometheus),
        cmocka_unit_test(test_script_random_expressions_9_match_prometheus),
    };
    return cmocka_run_group_tests_name("scripts", tests, NULL, NULL);
}
