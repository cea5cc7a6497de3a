#include "tests.h"

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_err_set_and_prefix(void **state)
{
    struct pl_err err;
    pl_err_clear(&err);
    assert_int_equal(pl_err_set(&err, PL_ERR_INVALID, "bad value %d", 7), PL_ERR_INVALID);
    pl_err_prefix(&err, "%s:%d: ", "cfg.yml", 3);
    assert_string_equal(err.msg, "cfg.yml:3: bad value 7");
    assert_int_equal(err.code, PL_ERR_INVALID);
    assert_int_equal(pl_err_set(NULL, PL_ERR_LIMIT, "x"), PL_ERR_LIMIT);
}

static void test_err_str_covers_codes(void **state)
{
    for (int c = PL_ERR_BASE; c < PL_ERR_LAST; c++)
        assert_string_not_equal(pl_err_str(c), "unknown error");
    assert_string_equal(pl_err_str(-ENOENT), strerror(ENOENT));
    assert_string_equal(pl_err_str(PL_ERR_DUPLICATE), "duplicate sample for timestamp");
}

/* Captures what one pl_log call writes to stderr. */
static void capture(char *out, size_t outlen, void (*fn)(void))
{
    char path[] = "/tmp/pl-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, out, outlen - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
}

static void log_kv(void)
{
    pl_log(PL_LOG_WARN, "scrape", "target down", "target", "http://a b", "n", "3", "empty", "",
           NULL);
}

static void log_debug(void)
{
    pl_log(PL_LOG_DEBUG, "x", "hidden", NULL);
}

static void test_log_is_logfmt(void **state)
{
    char out[1024];
    capture(out, sizeof(out), log_kv);
    assert_non_null(strstr(out, "ts="));
    assert_non_null(strstr(out, " level=warn component=scrape msg=\"target down\""));
    assert_non_null(strstr(out, " target=\"http://a b\" n=3 empty=\"\"\n"));
    capture(out, sizeof(out), log_debug);
    assert_string_equal(out, "");
    enum pl_log_level l;
    assert_int_equal(pl_log_level_parse("debug", &l), 0);
    assert_int_equal(l, PL_LOG_DEBUG);
    assert_int_equal(pl_log_level_parse("loud", &l), PL_ERR_INVALID);
}

int test_err_log_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_set_and_prefix),
        cmocka_unit_test(test_err_str_covers_codes),
        cmocka_unit_test(test_log_is_logfmt),
    };
    return cmocka_run_group_tests_name("err_log", tests, NULL, NULL);
}
