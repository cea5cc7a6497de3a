/* promqltest_lib.c - promqltest.c without its main(), linked into test_query. */
#define PROMQLTEST_NO_MAIN
#include "promqltest.c"
