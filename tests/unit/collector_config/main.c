/* main.c - runs every group of test_collector_config. */
#include "tests.h"

int main(void)
{
    int failed = 0;
    failed += test_config_run();
    failed += test_relabel_run();
    failed += test_target_run();
    failed += test_sd_run();
    failed += test_check_run();
    failed += test_scrape_cache_run();
    failed += test_scrape_run();
    return failed ? 1 : 0;
}
