/*
 * test_storage_tsdb.c - the evaluator over the real TSDB through
 * query_queryable_tsdb: a database in a fresh mkdtemp directory, samples
 * (with a stale marker) appended and queried by PromQL text.
 */
#include "tests.h"

#include <ftw.h>
#include <math.h>
#include <unistd.h>

#include "query/query.h"
#include "tsdb/tsdb.h"

struct db_fx {
    char dir[256];
    struct tsdb *db;
    struct query_queryable st;
    struct query_engine *e;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int db_setup(void **state)
{
    struct db_fx *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/query-tsdb-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    struct tsdb_options o;
    tsdb_options_init(&o);
    o.path = f->dir;
    o.sync = TSDB_SYNC_NONE;
    o.retention_ms = 0;
    struct pl_err err;
    if (tsdb_open(&o, &f->db, &err) != 0) {
        fprintf(stderr, "tsdb_open: %s\n", err.msg);
        return -1;
    }
    query_queryable_tsdb(f->db, &f->st);
    struct query_engine_opts eo;
    query_engine_opts_init(&eo);
    query_engine_new(&eo, &f->e);
    *state = f;
    return 0;
}

static int db_teardown(void **state)
{
    struct db_fx *f = *state;
    query_engine_free(f->e);
    tsdb_close(f->db);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void append(struct db_fx *f, const char *series, int64_t step, int n, double start,
                   double inc)
{
    struct pl_labels *ls;
    struct pl_err err;
    assert_int_equal(pl_labels_parse(series, strlen(series), &ls, &err), 0);
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(tsdb_append(a, ls, (int64_t)i * step, start + inc * i, NULL), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    pl_labels_free(ls);
}

static void test_tsdb_instant_selector_and_rate(void **state)
{
    struct db_fx *f = *state;
    append(f, "req{job=\"a\"}", 15000, 41, 0, 10);
    append(f, "req{job=\"b\"}", 15000, 41, 100, 20);
    struct query_result r;
    struct query_error err;
    assert_int_equal(query_exec_instant(f->e, &f->st, "req", 600000, &r, &err), 0);
    assert_int_equal(r.type, QUERY_VT_VECTOR);
    assert_int_equal(r.nseries, 2);
    assert_string_equal(pl_labels_value(r.series[0].labels, "job"), "a");
    assert_true(r.series[0].v[0] == 400);
    assert_true(r.series[1].v[0] == 900);
    query_result_fini(&r);
    assert_int_equal(
        query_exec_instant(f->e, &f->st, "sum(rate(req{job=~\"a|b\"}[1m]))", 600000, &r, &err), 0);
    assert_int_equal(r.nseries, 1);
    assert_true(fabs(r.series[0].v[0] - 2.0) < 1e-9);
    query_result_fini(&r);
}

static void test_tsdb_stale_marker_and_range_query(void **state)
{
    struct db_fx *f = *state;
    struct pl_labels *ls;
    struct pl_err err;
    assert_int_equal(pl_labels_parse("g", 1, &ls, &err), 0);
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append(a, ls, 0, 1, NULL), 0);
    assert_int_equal(tsdb_append(a, ls, 60000, 2, NULL), 0);
    assert_int_equal(tsdb_append(a, ls, 120000, tsdb_stale_nan(), NULL), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    pl_labels_free(ls);
    struct query_result r;
    struct query_error qerr;
    assert_int_equal(query_exec_range(f->e, &f->st, "g", 0, 180000, 30000, &r, &qerr), 0);
    assert_int_equal(r.nseries, 1);
    /* Points at 0, 30s, 60s, 90s; the stale marker at 120s ends the series. */
    assert_int_equal(r.series[0].n, 4);
    assert_int_equal(r.series[0].t[3], 90000);
    query_result_fini(&r);
    assert_int_equal(query_exec_instant(f->e, &f->st, "count_over_time(g[5m])", 180000, &r, &qerr),
                     0);
    assert_true(r.series[0].v[0] == 2);
    query_result_fini(&r);
}

int test_storage_tsdb_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tsdb_instant_selector_and_rate, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_tsdb_stale_marker_and_range_query, db_setup,
                                        db_teardown),
    };
    return cmocka_run_group_tests_name("storage_tsdb", tests, NULL, NULL);
}
