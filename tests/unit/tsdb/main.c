#include "tests.h"

int main(void)
{
    int failed = 0;
    failed += test_index_run();
    failed += test_head_run();
    failed += test_wal_run();
    failed += test_maint_run();
    failed += test_cli_run();
    failed += test_gc_run();
    failed += test_diskfull_run();
    failed += test_evict_run();
    failed += test_lazy_run();
    return failed ? 1 : 0;
}
