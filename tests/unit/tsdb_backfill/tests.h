/* tests.h - the groups of test_tsdb_backfill. */
#ifndef TESTS_UNIT_TSDB_BACKFILL_TESTS_H
#define TESTS_UNIT_TSDB_BACKFILL_TESTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

int test_backfill_run(void);

#endif
