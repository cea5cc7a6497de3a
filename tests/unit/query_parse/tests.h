/* tests.h - the groups that make up test_query_parse, and shared helpers. */
#ifndef TESTS_UNIT_QUERY_PARSE_TESTS_H
#define TESTS_UNIT_QUERY_PARSE_TESTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "query/ast.h"

int test_lex_run(void);
int test_parse_run(void);
int test_format_run(void);
int test_errors_run(void);
int test_promql_files_run(void);
int test_typecheck_run(void);

/* Whether two trees are the same (kinds, values, matchers, modifiers; not positions). */
int qp_nodes_equal(const struct query_node *a, const struct query_node *b);

/* Parses q (must succeed) and returns the tree; fails the test otherwise. */
struct query_expr *qp_parse_ok(const char *q);

/* Parses q and returns Prometheus's error text ("1:5: parse error: ..."), or NULL on success. */
char *qp_parse_err(const char *q);

/* The canonical form of q (must parse), malloc'd. */
char *qp_format(const char *q);

/* Checks parse(format(parse(q))) == parse(q) and that formatting is a fixed point. */
void qp_check_round_trip(const char *q);

#endif
