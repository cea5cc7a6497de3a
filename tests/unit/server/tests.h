/* tests.h - the groups that make up test_server. */
#ifndef TESTS_UNIT_SERVER_TESTS_H
#define TESTS_UNIT_SERVER_TESTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

int test_json_run(void);
int test_params_run(void);
int test_remote_run(void);
int test_flags_run(void);
int test_metrics_run(void);

#endif
