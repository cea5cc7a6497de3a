/* tests.h - the groups that make up test_common. */
#ifndef TESTS_UNIT_COMMON_TESTS_H
#define TESTS_UNIT_COMMON_TESTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

int test_buf_run(void);
int test_arena_run(void);
int test_labels_run(void);
int test_timeutil_run(void);
int test_err_log_run(void);

#endif
