/* test_check.c - `promlite check config` output, as promtool check config prints it. */
#include "tests.h"

#include "collector/config_check.h"

struct run {
    char *out, *err;
    size_t outn, errn;
    int status;
};

static struct run check(const char *dir, const char *name)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    FILE *out = open_memstream(&r.out, &r.outn);
    FILE *err = open_memstream(&r.err, &r.errn);
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *files[] = {path};
    r.status = coll_config_check_files(1, files, out, err);
    fclose(out);
    fclose(err);
    return r;
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

/* Replaces the temporary directory in s with "D" for comparison. */
static const char *undir(const char *s, const char *dir)
{
    static char buf[4096];
    size_t dl = strlen(dir), j = 0;
    for (const char *p = s; *p && j < sizeof(buf) - 2;) {
        if (!strncmp(p, dir, dl)) {
            buf[j++] = 'D';
            p += dl;
        } else {
            buf[j++] = *p++;
        }
    }
    buf[j] = '\0';
    return buf;
}

static void test_check_valid_config_with_rule_files(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    write_file(dir, "p.yml",
               "rule_files: ['r*.yml', 'none/*.yml']\nscrape_configs: [{job_name: a}]\n");
    write_file(dir, "r1.yml",
               "groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: up\n"
               "      - alert: X\n        expr: up == 0\n");
    write_file(dir, "r2.yml", "groups: []\n");
    struct run r = check(dir, "p.yml");
    assert_int_equal(r.status, 0);
    assert_string_equal(undir(r.out, dir),
                        "Checking D/p.yml\n"
                        "  SUCCESS: 2 rule files found\n"
                        " SUCCESS: D/p.yml is valid prometheus config file syntax\n"
                        "\n"
                        "Checking D/r1.yml\n"
                        "  SUCCESS: 2 rules found\n"
                        "\n"
                        "Checking D/r2.yml\n"
                        "  SUCCESS: 0 rules found\n"
                        "\n");
    assert_string_equal(r.err, "");
    run_free(&r);
    tmpdir_rm(dir);
}

static void test_check_failures_go_to_stderr_with_exit_1(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    write_file(dir, "bad.yml", "global:\n  scrape_intervl: 1m\n");
    struct run r = check(dir, "bad.yml");
    assert_int_equal(r.status, 1);
    assert_string_equal(undir(r.out, dir), "Checking D/bad.yml\n");
    assert_string_equal(undir(r.err, dir),
                        "  FAILED: parsing YAML file D/bad.yml: D/bad.yml:2: field scrape_intervl "
                        "not found in type config.plain\n\n");
    run_free(&r);

    /* promtool builds static targets too. */
    write_file(dir, "t.yml",
               "scrape_configs: [{job_name: a, static_configs: [{targets: ['']}]}]\n");
    r = check(dir, "t.yml");
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "  FAILED: instance 0 in group 0: no address\n\n");
    run_free(&r);

    /* A rule file that is not YAML, or not rule groups. */
    write_file(dir, "p.yml", "rule_files: [r.yml]\n");
    write_file(dir, "r.yml", "groups: [\n");
    r = check(dir, "p.yml");
    assert_int_equal(r.status, 1);
    assert_string_equal(
        undir(r.err, dir),
        "  FAILED:\n     D/r.yml: yaml: line 1: did not find expected node content\n\n");
    run_free(&r);
    write_file(dir, "r.yml", "scrape_configs: []\n");
    r = check(dir, "p.yml");
    assert_int_equal(r.status, 1);
    assert_string_equal(undir(r.err, dir),
                        "  FAILED:\n     D/r.yml: yaml: unmarshal errors:\n  line 1: field "
                        "scrape_configs not found in type rulefmt.RuleGroups\n\n");
    run_free(&r);
    r = check(dir, "missing.yml");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "No such file or directory"));
    run_free(&r);
    tmpdir_rm(dir);
}

static void test_check_prints_warnings_for_ignored_keys(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    write_file(dir, "w.yml", "storage: {tsdb: {out_of_order_time_window: 1m}}\n");
    struct run r = check(dir, "w.yml");
    assert_int_equal(r.status, 0);
    assert_string_equal(
        undir(r.out, dir),
        "Checking D/w.yml\n"
        "  WARNING: D/w.yml:1: storage is not supported by promlite and is ignored\n"
        " SUCCESS: D/w.yml is valid prometheus config file syntax\n\n");
    run_free(&r);
    tmpdir_rm(dir);
}

int test_check_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_valid_config_with_rule_files),
        cmocka_unit_test(test_check_failures_go_to_stderr_with_exit_1),
        cmocka_unit_test(test_check_prints_warnings_for_ignored_keys),
    };
    return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
