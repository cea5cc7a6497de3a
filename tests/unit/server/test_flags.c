/* test_flags.c - `promlite server` flags (server/flags.c). */
#include "tests.h"

#include "common/timeutil.h"
#include "server/flags.h"

static int parse(struct srv_flags *f, struct pl_err *err, int argc, char **argv)
{
    return srv_flags_parse(f, argc, argv, err);
}

static void test_flags_defaults_match_prometheus(void **state)
{
    struct srv_flags f;
    char *argv[] = {"server"};
    assert_int_equal(parse(&f, NULL, 1, argv), 0);
    assert_string_equal(f.listen_address, "0.0.0.0:9090");
    assert_int_equal(f.max_connections, 512);
    assert_string_equal(f.tsdb_path, "data/");
    assert_int_equal(f.retention_ms, 15 * PL_MS_PER_DAY);
    assert_int_equal(f.retention_bytes, 0);
    assert_int_equal(f.sync, TSDB_SYNC_BATCH);
    assert_null(f.config_file);
    assert_int_equal(f.lookback_ms, 5 * PL_MS_PER_MIN);
    assert_int_equal(f.query_timeout_ms, 2 * PL_MS_PER_MIN);
    assert_int_equal(f.max_samples, 50000000);
    assert_int_equal(f.max_concurrency, 20);
    assert_false(f.remote_write_receiver);
    assert_false(f.admin_api);
    assert_int_equal(f.log_level, PL_LOG_INFO);
}

static void test_flags_accepts_both_value_forms_and_bools(void **state)
{
    struct srv_flags f;
    struct pl_err err;
    char *argv[] = {"server",
                    "--web.listen-address=127.0.0.1:0",
                    "--storage.tsdb.path",
                    "/tmp/x",
                    "--storage.tsdb.retention.time=30d",
                    "--storage.tsdb.retention.size",
                    "512MB",
                    "--storage.tsdb.sync=none",
                    "--query.lookback-delta=1m",
                    "--query.timeout",
                    "10s",
                    "--query.max-samples=1000",
                    "--query.max-concurrency=4",
                    "--web.max-connections=0",
                    "--web.enable-remote-write-receiver",
                    "--web.enable-admin-api=true",
                    "--web.enable-lifecycle",
                    "--no-web.enable-lifecycle",
                    "--log.level=debug",
                    "--config.file=prometheus.yml"};
    assert_int_equal(parse(&f, &err, (int)(sizeof(argv) / sizeof(argv[0])), argv), 0);
    assert_string_equal(f.listen_address, "127.0.0.1:0");
    assert_string_equal(f.tsdb_path, "/tmp/x");
    assert_int_equal(f.retention_ms, 30 * PL_MS_PER_DAY);
    assert_int_equal(f.retention_bytes, UINT64_C(512) << 20);
    assert_int_equal(f.sync, TSDB_SYNC_NONE);
    assert_int_equal(f.lookback_ms, PL_MS_PER_MIN);
    assert_int_equal(f.query_timeout_ms, 10000);
    assert_int_equal(f.max_samples, 1000);
    assert_int_equal(f.max_concurrency, 4);
    assert_int_equal(f.max_connections, SRV_MAX_CONNECTIONS); /* 0: no limit of its own */
    assert_true(f.remote_write_receiver);
    assert_true(f.admin_api);
    assert_false(f.lifecycle);
    assert_int_equal(f.log_level, PL_LOG_DEBUG);
    assert_string_equal(f.config_file, "prometheus.yml");
    assert_string_equal(f.text[SRV_F_RETENTION_SIZE], "512MB");
    assert_string_equal(f.text[SRV_F_REMOTE_WRITE], "true");
}

static void expect_error(const char *arg, const char *want)
{
    struct srv_flags f;
    struct pl_err err;
    char *argv[] = {"server", (char *)arg};
    assert_int_equal(parse(&f, &err, 2, argv), PL_ERR_INVALID);
    if (!strstr(err.msg, want))
        fail_msg("%s: message \"%s\" lacks \"%s\"", arg, err.msg, want);
}

static void test_flags_rejects_unknown_and_bad_values(void **state)
{
    expect_error("--web.listen", "unknown long flag '--web.listen'");
    expect_error("--no-storage.tsdb.path", "unknown long flag");
    expect_error("stray", "unexpected argument \"stray\"");
    expect_error("--storage.tsdb.path", "expected argument for flag '--storage.tsdb.path'");
    expect_error("--storage.tsdb.retention.time=5x", "--storage.tsdb.retention.time");
    expect_error("--storage.tsdb.retention.size=12XB", "unknown unit");
    expect_error("--storage.tsdb.sync=always", "batch, interval or none");
    expect_error("--query.timeout=0s", "must be greater than 0");
    expect_error("--query.max-samples=-1", "--query.max-samples");
    expect_error("--query.max-concurrency=0", "at least 1");
    expect_error("--web.max-connections=16385",
                 "--web.max-connections: expected a number up to 16384");
    expect_error("--web.enable-admin-api=maybe", "true or false");
    expect_error("--log.level=loud", "--log.level");
}

static void test_flags_help_is_not_an_error(void **state)
{
    struct srv_flags f;
    char *argv[] = {"server", "--help", "--bogus-flag-ignored-after-help"};
    /* --help wins only when everything parses; the unknown flag is still reported. */
    assert_int_equal(parse(&f, NULL, 3, argv), PL_ERR_INVALID);
    char *argv2[] = {"server", "-h"};
    assert_int_equal(parse(&f, NULL, 2, argv2), 0);
    assert_true(f.help);
}

static void test_flags_size_units(void **state)
{
    uint64_t v;
    assert_int_equal(srv_size_parse("0", &v, NULL), 0);
    assert_int_equal(v, 0);
    assert_int_equal(srv_size_parse("1KB", &v, NULL), 0);
    assert_int_equal(v, 1024);
    assert_int_equal(srv_size_parse("10GB", &v, NULL), 0);
    assert_int_equal(v, UINT64_C(10) << 30);
    assert_int_equal(srv_size_parse("100", &v, NULL), PL_ERR_INVALID);
    assert_int_equal(srv_size_parse("MB", &v, NULL), PL_ERR_INVALID);
    assert_int_equal(srv_size_parse("99999999999EB", &v, NULL), PL_ERR_INVALID);
}

int test_flags_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags_defaults_match_prometheus),
        cmocka_unit_test(test_flags_accepts_both_value_forms_and_bools),
        cmocka_unit_test(test_flags_rejects_unknown_and_bad_values),
        cmocka_unit_test(test_flags_help_is_not_an_error),
        cmocka_unit_test(test_flags_size_units),
    };
    return cmocka_run_group_tests_name("flags", tests, NULL, NULL);
}
