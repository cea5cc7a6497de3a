#include "tests.h"

#include "common/buf.h"
#include "common/err.h"

#include <string.h>

static void test_buf_appends_and_terminates(void **state)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_string_equal(pl_buf_cstr(&b), "");
    assert_int_equal(pl_buf_puts(&b, "abc"), 0);
    assert_int_equal(pl_buf_printf(&b, "-%d-", 42), 0);
    assert_int_equal(pl_buf_putc(&b, 'z'), 0);
    assert_string_equal(pl_buf_cstr(&b), "abc-42-z");
    assert_int_equal(b.len, 8);
    pl_buf_reset(&b);
    assert_string_equal(pl_buf_cstr(&b), "");
    pl_buf_fini(&b);
}

static void test_buf_refuses_past_limit(void **state)
{
    struct pl_buf b;
    pl_buf_init(&b, 10);
    assert_int_equal(pl_buf_puts(&b, "0123456789"), 0);
    assert_int_equal(pl_buf_putc(&b, 'x'), PL_ERR_LIMIT);
    assert_int_equal(pl_buf_printf(&b, "%s", "y"), PL_ERR_LIMIT);
    assert_int_equal(b.len, 10);
    assert_string_equal(pl_buf_cstr(&b), "0123456789");
    pl_buf_fini(&b);
}

static void test_buf_long_printf_grows(void **state)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    char big[1000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(pl_buf_printf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[1000], '>');
    size_t len;
    char *s = pl_buf_steal(&b, &len);
    assert_int_equal(len, 1001);
    assert_null(b.data);
    free(s);
}

int test_buf_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_appends_and_terminates),
        cmocka_unit_test(test_buf_refuses_past_limit),
        cmocka_unit_test(test_buf_long_printf_grows),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
