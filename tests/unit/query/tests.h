/* tests.h - the groups that make up test_query, and shared helpers. */
#ifndef TESTS_UNIT_QUERY_TESTS_H
#define TESTS_UNIT_QUERY_TESTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

int test_eval_run(void);
int test_limits_run(void);
int test_storage_tsdb_run(void);
int test_scripts_run(void);

#endif
