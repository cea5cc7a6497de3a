#include "tests.h"

char *test_render(struct exp_registry *r, enum exp_format fmt)
{
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(exp_registry_render(r, fmt, &out, &len), 0);
    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    return out;
}

int main(void)
{
    int failed = 0;
    failed += test_client_run();
    failed += test_concurrency_run();
    failed += test_http_run();
    failed += test_collectors_run();
    return failed ? 1 : 0;
}
