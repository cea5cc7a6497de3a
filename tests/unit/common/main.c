#include "tests.h"

int main(void)
{
    int failed = 0;
    failed += test_buf_run();
    failed += test_arena_run();
    failed += test_labels_run();
    failed += test_timeutil_run();
    failed += test_err_log_run();
    return failed ? 1 : 0;
}
