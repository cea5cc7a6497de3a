/* tests.h - the groups that make up test_collector. */
#ifndef TESTS_UNIT_COLLECTOR_TESTS_H
#define TESTS_UNIT_COLLECTOR_TESTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

int test_expfmt_run(void);
int test_expfmt_rules_run(void);
int test_expfmt_robust_run(void);
int test_check_metrics_run(void);

/* Allocation calls counted by the --wrap'ed allocators (test_expfmt_robust.c). */
extern unsigned long test_alloc_calls;

#endif
