#include "tests.h"

int main(void)
{
    int failed = 0;
    failed += test_eval_run();
    failed += test_limits_run();
    failed += test_storage_tsdb_run();
    failed += test_scripts_run();
    return failed ? 1 : 0;
}
