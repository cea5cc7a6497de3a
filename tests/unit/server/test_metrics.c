/* test_metrics.c - helpers of promlite's self-metrics (server/metrics.c). */
#include "tests.h"

#include "server/srv_int.h"

/* The `interval` label of prometheus_target_interval_length_seconds is Go's Duration.String(). */
static void test_metrics_interval_label_is_go_duration_string(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {0, "0s"},           {1, "1ms"},           {500, "500ms"},
        {999, "999ms"},      {1000, "1s"},         {1500, "1.5s"},
        {1250, "1.25s"},     {1001, "1.001s"},     {15000, "15s"},
        {60000, "1m0s"},     {90000, "1m30s"},     {61500, "1m1.5s"},
        {3600000, "1h0m0s"}, {5400000, "1h30m0s"}, {90061001, "25h1m1.001s"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[32];
        srv__go_duration(cases[i].ms, out, sizeof(out));
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("%lld ms: got %s, want %s", (long long)cases[i].ms, out, cases[i].want);
    }
}

int test_metrics_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_interval_label_is_go_duration_string),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
