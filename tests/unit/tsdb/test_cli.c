/* test_cli.c - `promlite import` and `promlite tsdb stats|dump|snapshot` end to end. */
#include "tests.h"

#include <unistd.h>

static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char out[8192];
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = 0;
    int st = pclose(p);
    if (st != 0)
        fprintf(stderr, "command failed (%d): %s\n%s", st, cmd, out);
    assert_int_equal(st, 0);
    return out;
}

static void test_import_then_dump_stats_and_snapshot(void **state)
{
    (void)state;
    const char *bin = getenv("PROMLITE_BIN");
    char exe[1024];
    snprintf(exe, sizeof(exe), "%s/promlite", bin ? bin : "");
    if (!bin || access(exe, X_OK) != 0) {
        skip();
        return;
    }
    char dir[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/tsdb-cli-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    char file[600], cmd[4096];
    snprintf(file, sizeof(file), "%s/in.om", dir);
    FILE *f = fopen(file, "w");
    fprintf(f, "# TYPE req counter\n");
    for (int i = 0; i < 300; i++)
        fprintf(f, "req_total{code=\"200\"} %d %d.%03d\n", i * 3, 1700000000 + i * 15, i % 7);
    fprintf(f, "req_total{code=\"500\"} 1 1700000000\n");
    fprintf(f, "req_total{code=\"500\"} 2 1700000015\n");
    fprintf(f, "temp{room=\"a b\"} 21.25 1700000000.5\n");
    fprintf(f, "# EOF\n");
    fclose(f);
    char *out;
    snprintf(cmd, sizeof(cmd), "%s import --storage.tsdb.path=%s/db %s", exe, dir, file);
    out = run(cmd);
    assert_non_null(strstr(out, "imported 303 samples, 3 new series"));
    snprintf(cmd, sizeof(cmd),
             "%s tsdb dump --storage.tsdb.path=%s/db --match='req_total{code=~\"5..\"}'", exe, dir);
    out = run(cmd);
    assert_string_equal(out, "req_total{code=\"500\"} 1 1700000000000\n"
                             "req_total{code=\"500\"} 2 1700000015000\n");
    snprintf(cmd, sizeof(cmd),
             "%s tsdb dump --storage.tsdb.path=%s/db --match='{code=\"200\"}' "
             "--min-time=1700004485000 --max-time=1700004485999",
             exe, dir);
    out = run(cmd);
    assert_string_equal(out, "req_total{code=\"200\"} 897 1700004485005\n");
    snprintf(cmd, sizeof(cmd), "%s tsdb stats --storage.tsdb.path=%s/db", exe, dir);
    out = run(cmd);
    assert_non_null(strstr(out, "series:            3\n"));
    assert_non_null(strstr(out, "samples:           303\n"));
    snprintf(cmd, sizeof(cmd), "%s tsdb snapshot --storage.tsdb.path=%s/db %s/snap", exe, dir, dir);
    run(cmd);
    snprintf(cmd, sizeof(cmd), "%s tsdb dump --storage.tsdb.path=%s/snap --match=temp", exe, dir);
    out = run(cmd);
    assert_string_equal(out, "temp{room=\"a b\"} 21.25 1700000000500\n");
    /* Bad input: a clear error and a non-zero status. */
    snprintf(cmd, sizeof(cmd), "%s tsdb dump --storage.tsdb.path=%s/db --match='{a=~\"(\"}' 2>&1",
             exe, dir);
    FILE *p = popen(cmd, "r");
    char buf[512] = {0};
    size_t n = fread(buf, 1, sizeof(buf) - 1, p);
    (void)n;
    assert_int_not_equal(pclose(p), 0);
    assert_non_null(strstr(buf, "error parsing regexp"));
    rm_rf(dir);
}

int test_cli_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_then_dump_stats_and_snapshot),
    };
    return cmocka_run_group_tests_name("tsdb_cli", tests, NULL, NULL);
}
