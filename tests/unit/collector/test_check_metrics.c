/*
 * test_check_metrics.c - `promlite check metrics` end to end: the built
 * binary ($PROMLITE_BIN, set by ctest) on files in a fresh temporary
 * directory; exit codes, `LINE:COL: reason`, --dump, auto detection, stdin.
 */
#include "tests.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];
static char bin[512];

static int setup(void **state)
{
    (void)state;
    const char *b = getenv("PROMLITE_BIN");
    if (!b)
        return 0;
    snprintf(bin, sizeof(bin), "%s/promlite", b);
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/expfmt-check-XXXXXX", t ? t : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (!tmpdir[0])
        return 0;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *data, size_t len)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Runs `promlite check metrics ARGS`; returns the exit status, output in out/err. */
static int run(const char *args, char *out, size_t outlen, char *err, size_t errlen)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' check metrics %s >out.txt 2>err.txt", tmpdir, bin,
             args);
    int st = system(cmd);
    char path[400];
    snprintf(path, sizeof(path), "%s/out.txt", tmpdir);
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(out, 1, outlen - 1, f) : 0;
    out[n] = '\0';
    if (f)
        fclose(f);
    snprintf(path, sizeof(path), "%s/err.txt", tmpdir);
    f = fopen(path, "rb");
    n = f ? fread(err, 1, errlen - 1, f) : 0;
    err[n] = '\0';
    if (f)
        fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_check_metrics_exit_codes_and_positions(void **state)
{
    (void)state;
    if (!bin[0])
        skip();
    char out[4096], err[4096];
    static const char good[] = "# TYPE a counter\na{x=\"1\"} 1\n";
    write_file("good.prom", good, sizeof(good) - 1);
    assert_int_equal(run("good.prom", out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(err, "");
    static const char bad[] = "a 1\nb{x=\"1\",x=\"2\"} 2\n";
    write_file("bad.prom", bad, sizeof(bad) - 1);
    assert_int_equal(run("--format=prometheus bad.prom", out, sizeof(out), err, sizeof(err)), 1);
    assert_string_equal(err, "2:1: duplicate label name \"x\"\n");
    static const char badtok[] = "a 1\nb 2 x\n";
    write_file("badtok.prom", badtok, sizeof(badtok) - 1);
    assert_int_equal(run("badtok.prom", out, sizeof(out), err, sizeof(err)), 1);
    assert_non_null(strstr(err, "2:5: "));
    /* usage and I/O errors are 2, not 1 */
    assert_int_equal(run("--format=xml good.prom", out, sizeof(out), err, sizeof(err)), 2);
    assert_int_equal(run("missing.prom", out, sizeof(out), err, sizeof(err)), 2);
    assert_non_null(strstr(err, "missing.prom"));
}

static void test_check_metrics_auto_detects_openmetrics(void **state)
{
    (void)state;
    if (!bin[0])
        skip();
    char out[4096], err[4096];
    /* valid OpenMetrics, invalid 0.0.4 (float-second timestamp) */
    static const char om[] = "# TYPE a counter\na_total 1 1.5\n# EOF\n";
    write_file("a.om", om, sizeof(om) - 1);
    assert_int_equal(run("a.om", out, sizeof(out), err, sizeof(err)), 0);
    assert_int_equal(run("--format=auto a.om", out, sizeof(out), err, sizeof(err)), 0);
    assert_int_equal(run("--format=prometheus a.om", out, sizeof(out), err, sizeof(err)), 1);
    /* without # EOF, auto means 0.0.4 */
    static const char prom[] = "a_total 1 1500\n";
    write_file("a.prom", prom, sizeof(prom) - 1);
    assert_int_equal(run("a.prom", out, sizeof(out), err, sizeof(err)), 0);
    assert_int_equal(run("--format=openmetrics a.prom", out, sizeof(out), err, sizeof(err)), 1);
    assert_non_null(strstr(err, "# EOF"));
    /* stdin */
    assert_int_equal(run("- < a.om", out, sizeof(out), err, sizeof(err)), 0);
    assert_int_equal(run("--format=openmetrics < a.prom", out, sizeof(out), err, sizeof(err)), 1);
}

static void test_check_metrics_dump_prints_canonical_samples(void **state)
{
    (void)state;
    if (!bin[0])
        skip();
    char out[4096], err[4096];
    static const char in[] = "# HELP m x\n"
                             "m{z=\"1\",a=\"q\\\"\\\\\\n\",e=\"\"} 1.5 1000\n"
                             "m{z=\"2\"} NaN\n"
                             "n -Inf\n"
                             "o 1e300\n"
                             "p 0.1\n";
    write_file("d.prom", in, sizeof(in) - 1);
    assert_int_equal(run("--dump d.prom", out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "m{a=\"q\\\"\\\\\\n\",z=\"1\"} 1.5 1000\n"
                             "m{z=\"2\"} NaN\n"
                             "n -Inf\n"
                             "o 1e+300\n"
                             "p 0.1\n");
    static const char om[] = "a_total 3 1.2345 # {t=\"x\"} 1\n# EOF\n";
    write_file("d.om", om, sizeof(om) - 1);
    assert_int_equal(run("--dump d.om", out, sizeof(out), err, sizeof(err)), 1);
    assert_int_equal(run("--dump --lenient d.om", out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "a_total 3 1234\n");
}

int test_check_metrics_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_metrics_exit_codes_and_positions),
        cmocka_unit_test(test_check_metrics_auto_detects_openmetrics),
        cmocka_unit_test(test_check_metrics_dump_prints_canonical_samples),
    };
    return cmocka_run_group_tests_name("check_metrics", tests, setup, teardown);
}
