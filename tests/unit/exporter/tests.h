/* tests.h - the groups that make up test_exporter. */
#ifndef TESTS_UNIT_EXPORTER_TESTS_H
#define TESTS_UNIT_EXPORTER_TESTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "exporter/include/promlite/client.h"

int test_client_run(void);
int test_concurrency_run(void);
int test_http_run(void);
int test_collectors_run(void);

/* Renders r in fmt; the caller frees. Fails the test on error. */
char *test_render(struct exp_registry *r, enum exp_format fmt);

#endif
