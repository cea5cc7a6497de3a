/* main.c - test_tsdb_backfill: bulk loading and repacking (tsdb/backfill.h). */
#include "tests.h"

int main(void)
{
    return test_backfill_run() ? 1 : 0;
}
