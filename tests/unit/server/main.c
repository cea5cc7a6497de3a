#include "tests.h"

int main(void)
{
    int failed = 0;
    failed += test_json_run();
    failed += test_params_run();
    failed += test_remote_run();
    failed += test_flags_run();
    failed += test_metrics_run();
    return failed ? 1 : 0;
}
