/* test_format.c - canonical printing (Prometheus's String() form) and the parse/print round trip.
 */
#include "tests.h"

#include "common/buf.h"
#include "query/parse_int.h"

struct fmt_case {
    const char *in, *want;
};

static const struct fmt_case cases[] = {
#include "format_cases.inc"
    /* Multi-line input, comments and odd spacing. */
    {"sum(\n  rate(foo[5m]) # per second\n) by (job)", "sum by (job) (rate(foo[5m]))"},
    {"foo{a=\"b\", # first\n c=~\"d\"} # done", "foo{a=\"b\",c=~\"d\"}"},
    {"  foo  \n", "foo"},
};

static void test_format_matches_prometheus(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = qp_format(cases[i].in);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("format(%s): got %s, want %s", cases[i].in, got, cases[i].want);
        free(got);
    }
}

static void test_format_round_trip_is_stable(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        qp_check_round_trip(cases[i].in);
}

static void test_format_numbers_like_go(void **state)
{
    static const struct {
        double v;
        const char *want;
    } nums[] = {
        {0, "0"},
        {1, "1"},
        {-1, "-1"},
        {0.5, "0.5"},
        {100000, "100000"},
        {1e6, "1e+06"},
        {123456, "123456"},
        {1234567, "1.234567e+06"},
        {1e-4, "0.0001"},
        {1e-5, "1e-05"},
        {1.5e-7, "1.5e-07"},
        {1e21, "1e+21"},
        {1e100, "1e+100"},
        {0.1, "0.1"},
        {1.0 / 3, "0.3333333333333333"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {-2.5e-6, "-2.5e-06"},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        struct pl_buf b;
        pl_buf_init(&b, 100);
        assert_int_equal(query__format_float(&b, nums[i].v), 0);
        assert_string_equal(pl_buf_cstr(&b), nums[i].want);
        pl_buf_fini(&b);
    }
}

static void test_format_keeps_group_left_without_labels(void **state)
{
    /* Prometheus prints `a * ignoring () group_left () b` as `a * b`, losing the grouping. */
    char *got = qp_format("a * ignoring() group_left b");
    assert_string_equal(got, "a * ignoring () group_left () b");
    free(got);
    qp_check_round_trip("a * ignoring() group_left b");
    qp_check_round_trip("a / on() group_right() b");
}

static void test_format_quotes_strings_and_values_like_go(void **state)
{
    char *got = qp_format("foo{a=\"\\x01\\t\\u00e9\\U0001F600\\\\\\\"\"}");
    assert_string_equal(got, "foo{a=\"\\x01\\té\xF0\x9F\x98\x80\\\\\\\"\"}");
    free(got);
    /* Invalid UTF-8 made by escapes is printed as \x escapes and reads back the same. */
    got = qp_format("\"\\xff\\377a\"");
    assert_string_equal(got, "\"\\xff\\xffa\"");
    free(got);
    qp_check_round_trip("\"\\xff\\377a\"");
    qp_check_round_trip("label_replace(x, \"dst\", \"$1\", \"src\", \"(\\\\d+)\\\\.\")");
}

int test_format_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_matches_prometheus),
        cmocka_unit_test(test_format_round_trip_is_stable),
        cmocka_unit_test(test_format_numbers_like_go),
        cmocka_unit_test(test_format_keeps_group_left_without_labels),
        cmocka_unit_test(test_format_quotes_strings_and_values_like_go),
    };
    return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
