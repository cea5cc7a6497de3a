#include "tests.h"

#include "common/timeutil.h"

#include <string.h>

static int64_t dur(const char *s)
{
    int64_t ms = -1;
    struct pl_err err;
    if (pl_duration_parse(s, strlen(s), &ms, &err))
        fail_msg("duration %s: %s", s, err.msg);
    return ms;
}

static void test_duration_parses_prometheus_forms(void **state)
{
    assert_int_equal(dur("0"), 0);
    assert_int_equal(dur("500ms"), 500);
    assert_int_equal(dur("15s"), 15000);
    assert_int_equal(dur("1h30m"), 5400000);
    assert_int_equal(dur("2d"), 2 * 86400000LL);
    assert_int_equal(dur("1w"), 7 * 86400000LL);
    assert_int_equal(dur("1y"), 365 * 86400000LL);
    assert_int_equal(dur("1y2w3d4h5m6s7ms"), 365 * 86400000LL + 14 * 86400000LL + 3 * 86400000LL +
                                                 4 * 3600000LL + 5 * 60000LL + 6000 + 7);
}

static void test_duration_rejects_bad_forms(void **state)
{
    const char *bad[] = {"",
                         "1",
                         "1.5h",
                         "h",
                         "1m1h",
                         "1s1s",
                         "-1s",
                         "1hh",
                         "1 h",
                         "1x",
                         "99999999999999999999s",
                         "5000000000y"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms;
        struct pl_err err;
        assert_int_equal(pl_duration_parse(bad[i], strlen(bad[i]), &ms, &err), PL_ERR_INVALID);
        assert_non_null(strstr(err.msg, "duration"));
    }
}

static void test_duration_formats_canonically(void **state)
{
    char out[64];
    struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {0, "0s"},
        {500, "500ms"},
        {5400000, "1h30m"},
        {90 * 86400000LL, "90d"},
        {14 * 86400000LL, "2w"},
        {365 * 86400000LL, "1y"},
        {61001, "1m1s1ms"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pl_duration_format(cases[i].ms, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
        if (cases[i].ms)
            assert_int_equal(dur(out), cases[i].ms);
    }
}

static int64_t ts(const char *s)
{
    int64_t ms;
    struct pl_err err;
    if (pl_time_parse(s, strlen(s), &ms, &err))
        fail_msg("time %s: %s", s, err.msg);
    return ms;
}

static void test_time_parses_float_and_rfc3339(void **state)
{
    assert_int_equal(ts("1435781451.781"), 1435781451781LL);
    assert_int_equal(ts("1435781451"), 1435781451000LL);
    assert_int_equal(ts("0"), 0);
    assert_int_equal(ts("-1.5"), -1500);
    assert_int_equal(ts("2015-07-01T20:10:51.781Z"), 1435781451781LL);
    assert_int_equal(ts("2015-07-01T20:10:51Z"), 1435781451000LL);
    assert_int_equal(ts("2015-07-01T22:10:51.781+02:00"), 1435781451781LL);
    assert_int_equal(ts("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(ts("1e3"), 1000000);
}

static void test_time_rejects_garbage(void **state)
{
    const char *bad[] = {"",   "abc", "2015-07-01", "2015-13-01T00:00:00Z", "2015-07-01T20:10:51",
                         "NaN"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms;
        struct pl_err err;
        assert_int_equal(pl_time_parse(bad[i], strlen(bad[i]), &ms, &err), PL_ERR_INVALID);
        assert_non_null(strstr(err.msg, "valid timestamp"));
    }
}

static void test_time_formats_rfc3339(void **state)
{
    char out[64];
    pl_time_format_rfc3339(1435781451781LL, out, sizeof(out));
    assert_string_equal(out, "2015-07-01T20:10:51.781Z");
    pl_time_format_rfc3339(-1, out, sizeof(out));
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
}

static void test_step_accepts_seconds_or_duration(void **state)
{
    int64_t ms;
    assert_int_equal(pl_duration_or_seconds_parse("15", 2, &ms, NULL), 0);
    assert_int_equal(ms, 15000);
    assert_int_equal(pl_duration_or_seconds_parse("0.5", 3, &ms, NULL), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(pl_duration_or_seconds_parse("1m", 2, &ms, NULL), 0);
    assert_int_equal(ms, 60000);
    assert_int_equal(pl_duration_or_seconds_parse("x", 1, &ms, NULL), PL_ERR_INVALID);
}

int test_timeutil_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_parses_prometheus_forms),
        cmocka_unit_test(test_duration_rejects_bad_forms),
        cmocka_unit_test(test_duration_formats_canonically),
        cmocka_unit_test(test_time_parses_float_and_rfc3339),
        cmocka_unit_test(test_time_rejects_garbage),
        cmocka_unit_test(test_time_formats_rfc3339),
        cmocka_unit_test(test_step_accepts_seconds_or_duration),
    };
    return cmocka_run_group_tests_name("timeutil", tests, NULL, NULL);
}
