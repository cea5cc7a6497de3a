/*
 * test_promql_files.c - every `eval` expression of the shared PromQL test
 * files (Prometheus's promql/testdata format) parses, and prints to a form
 * that reparses to the same tree. `eval_fail` lines may fail to parse.
 * The files are found in $PROMLITE_SHARED/promql-tests, else
 * $PROMLITE_SRC/../shared/promql-tests (or ../../shared from a worktree); the
 * test is skipped when absent.
 */
#include "tests.h"

#include <dirent.h>

static int dir_exists(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    closedir(d);
    return 1;
}

/* The expression of an eval line: after "eval[_x] instant at T " or "eval[_x] range from A to B
 * step S ". */
static const char *eval_expr(const char *line, int *is_fail)
{
    if (strncmp(line, "eval", 4) != 0)
        return NULL;
    const char *p = line + 4;
    *is_fail = strncmp(p, "_fail", 5) == 0;
    while (*p && *p != ' ')
        p++;
    int words;
    if (strncmp(p, " instant at ", 12) == 0) {
        p += 12;
        words = 1;
    } else if (strncmp(p, " range from ", 12) == 0) {
        p += 12;
        words = 5; /* A to B step S */
    } else {
        return NULL;
    }
    for (int i = 0; i < words; i++) {
        while (*p && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
    }
    return p;
}

static void test_promql_files_all_eval_expressions_parse(void **state)
{
    char dir[4096];
    const char *shared = getenv("PROMLITE_SHARED");
    const char *src = getenv("PROMLITE_SRC");
    if (shared)
        snprintf(dir, sizeof(dir), "%s/promql-tests", shared);
    else if (src)
        snprintf(dir, sizeof(dir), "%s/../shared/promql-tests", src);
    else
        snprintf(dir, sizeof(dir), "../shared/promql-tests");
    /* A git worktree sits one level deeper (/work/wt/<branch>) than the main checkout. */
    if (!shared && src && !dir_exists(dir))
        snprintf(dir, sizeof(dir), "%s/../../shared/promql-tests", src);
    if (!dir_exists(dir)) {
        printf("# %s absent: skipped\n", dir);
        skip();
    }
    DIR *d = opendir(dir);
    struct dirent *de;
    int files = 0, exprs = 0, failing_ok = 0;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 6 || strcmp(de->d_name + nl - 5, ".test") != 0)
            continue;
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        files++;
        char line[65536];
        int lineno = 0;
        while (fgets(line, sizeof(line), f)) {
            lineno++;
            size_t n = strlen(line);
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
                line[--n] = 0;
            int is_fail = 0;
            const char *q = eval_expr(line, &is_fail);
            if (!q)
                continue;
            exprs++;
            char *err = qp_parse_err(q);
            if (err) {
                if (!is_fail)
                    fail_msg("%s:%d: %s: %s", de->d_name, lineno, q, err);
                failing_ok++;
                free(err);
                continue;
            }
            qp_check_round_trip(q);
        }
        fclose(f);
    }
    closedir(d);
    printf("# %d files, %d eval expressions (%d eval_fail that fail to parse)\n", files, exprs,
           failing_ok);
    assert_true(files > 0);
    assert_true(exprs > 0);
}

int test_promql_files_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promql_files_all_eval_expressions_parse),
    };
    return cmocka_run_group_tests_name("promql_files", tests, NULL, NULL);
}
