/* main.c - test_collector: the exposition parser's unit tests. */
#include "tests.h"

int main(void)
{
    int failed = 0;
    failed += test_expfmt_run();
    failed += test_expfmt_rules_run();
    failed += test_expfmt_robust_run();
    failed += test_check_metrics_run();
    return failed ? 1 : 0;
}
