/* test_maint.c - deletes, tombstone cleaning, retention, snapshots, map growth. */
#include "tests.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tsdb/tsdb_int.h"

static void fill(struct tsdb *db, const char *series, int64_t from, int64_t step, int n)
{
    struct pl_labels *ls;
    struct pl_err err;
    assert_int_equal(pl_labels_parse(series, strlen(series), &ls, &err), 0);
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(db, &a), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(tsdb_append(a, ls, from + i * step, i, NULL), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    pl_labels_free(ls);
}

static void del(struct tsdb *db, const char *spec, int64_t mint, int64_t maxt)
{
    struct tsdb_matcher *ms[1];
    mk_matchers(ms, &spec, 1);
    struct pl_err err;
    assert_int_equal(tsdb_delete_series(db, ms, 1, mint, maxt, &err), 0);
    free_matchers(ms, 1);
}

static void test_delete_range_hides_at_once_and_clean_keeps_it_hidden(void **state)
{
    struct fx *f = *state;
    fill(f->db, "d{k=\"1\"}", 0, 1000, 500);
    fill(f->db, "d{k=\"2\"}", 0, 1000, 500);
    del(f->db, "k=1", 100000, 199999);
    struct tsdb_samples smp;
    tsdb_samples_init(&smp);
    assert_int_equal(series_samples(f->db, "d{k=\"1\"}", 0, 10000000, &smp), 400);
    assert_int_equal(smp.t[100], 200000);
    assert_int_equal(series_samples(f->db, "d{k=\"2\"}", 0, 10000000, &smp), 500);
    fx_reopen(f);
    assert_int_equal(series_samples(f->db, "d{k=\"1\"}", 0, 10000000, &smp), 400);
    struct pl_err err;
    assert_int_equal(tsdb_clean_tombstones(f->db, &err), 0);
    assert_int_equal(f->db->ntombs, 0);
    assert_int_equal(series_samples(f->db, "d{k=\"1\"}", 0, 10000000, &smp), 400);
    fx_reopen(f);
    assert_int_equal(series_samples(f->db, "d{k=\"1\"}", 0, 10000000, &smp), 400);
    assert_int_equal(smp.t[99], 99000);
    assert_int_equal(smp.t[100], 200000);
    tsdb_samples_fini(&smp);
}

static void test_whole_delete_forgets_series_so_it_can_restart_at_zero(void **state)
{
    struct fx *f = *state;
    fill(f->db, "r{k=\"1\"}", 0, 1000, 300);
    del(f->db, "k=1", INT64_MIN / 2, INT64_MAX / 2);
    const char *m[] = {"__name__=r"};
    assert_int_equal(sel(f->db, m, 1, INT64_MIN / 2, INT64_MAX / 2, NULL, 0), 0);
    struct tsdb_stats st;
    tsdb_stats_get(f->db, &st);
    assert_int_equal(st.series, 0);
    fill(f->db, "r{k=\"1\"}", 0, 5000, 10);
    assert_int_equal(sel(f->db, m, 1, INT64_MIN / 2, INT64_MAX / 2, NULL, 0), 10);
    fx_reopen(f);
    assert_int_equal(sel(f->db, m, 1, INT64_MIN / 2, INT64_MAX / 2, NULL, 0), 10);
}

static void test_retention_by_age_drops_old_partitions(void **state)
{
    struct fx *f = *state;
    f->o.retention_ms = 6 * 3600 * 1000;
    fx_reopen(f);
    /* 24 h at 60 s in batches of 60: the first partitions must go. */
    for (int h = 0; h < 24; h++)
        fill(f->db, "ret{k=\"1\"}", (int64_t)h * 3600000, 60000, 60);
    struct tsdb_samples smp;
    tsdb_samples_init(&smp);
    long n = series_samples(f->db, "ret{k=\"1\"}", 0, INT64_MAX / 2, &smp);
    assert_true(n > 0 && n <= 10 * 60);
    assert_true(smp.t[0] >= 12 * 3600000);
    assert_int_equal(smp.t[n - 1], 24 * 3600000 - 60000);
    /* Too old for the retention window. */
    assert_int_equal(app1(f->db, "ret{k=\"2\"}", 1000, 1), PL_ERR_TOO_OLD);
    tsdb_samples_fini(&smp);
}

static uint64_t used_bytes(struct tsdb *db)
{
    MDB_txn *txn;
    assert_int_equal(tsdb__rtxn_begin(db, &txn), 0);
    uint64_t used = tsdb__used_bytes(db, txn);
    tsdb__rtxn_end(db, txn);
    return used;
}

static void test_retention_by_size_keeps_the_newest_partition(void **state)
{
    struct fx *f = *state;
    char buf[64];
    for (int h = 0; h < 12; h++)
        for (int s = 0; s < 50; s++) {
            snprintf(buf, sizeof(buf), "sz{s=\"%d\"}", s);
            fill(f->db, buf, (int64_t)h * 3600000, 15000, 240);
        }
    uint64_t full = used_bytes(f->db);
    f->o.retention_bytes = full / 2;
    fx_reopen(f); /* retention applies at open and after seals */
    uint64_t used = used_bytes(f->db);
    assert_true(used <= full / 2 + 64 * 1024);
    struct tsdb_samples smp;
    tsdb_samples_init(&smp);
    long n = series_samples(f->db, "sz{s=\"7\"}", 0, INT64_MAX / 2, &smp);
    assert_true(n > 0 && n < 12 * 240);
    assert_true(smp.t[0] > 0);
    assert_int_equal(smp.t[n - 1], 11 * 3600000 + 239 * 15000);
    tsdb_samples_fini(&smp);
}

static void test_compaction_merges_old_partitions_without_losing_samples(void **state)
{
    struct fx *f = *state;
    char buf[64];
    for (int h = 0; h < 8; h++)
        for (int s = 0; s < 20; s++) {
            snprintf(buf, sizeof(buf), "cp{s=\"%d\"}", s);
            fill(f->db, buf, (int64_t)h * 3600000, 15000, 240);
        }
    struct tsdb_summary sum;
    struct pl_err err;
    assert_int_equal(tsdb_summary_get(f->db, &sum, &err), 0);
    /* Uncompacted: 240 per hour sealed at 120 = 16 chunks per series; 3 partitions merged. */
    assert_true(sum.chunks < 20 * 16 - 20 * 3 * 3);
    assert_int_equal(sum.samples, 20 * 8 * 240);
    tsdb_summary_fini(&sum);
    for (int r = 0; r < 2; r++) {
        struct tsdb_samples smp;
        tsdb_samples_init(&smp);
        assert_int_equal(series_samples(f->db, "cp{s=\"3\"}", 0, INT64_MAX / 2, &smp), 8 * 240);
        for (int i = 0; i < 8 * 240; i++)
            assert_int_equal(smp.t[i], (int64_t)(i / 240) * 3600000 + (i % 240) * 15000);
        tsdb_samples_fini(&smp);
        fx_reopen(f);
    }
}

static void test_snapshot_is_a_consistent_openable_copy(void **state)
{
    struct fx *f = *state;
    fill(f->db, "snap{k=\"1\"}", 0, 1000, 250);
    char dir[600];
    snprintf(dir, sizeof(dir), "%s-snap", f->dir);
    struct pl_err err;
    assert_int_equal(tsdb_snapshot(f->db, dir, &err), 0);
    assert_int_not_equal(tsdb_snapshot(f->db, dir, &err), 0); /* refuses to overwrite */
    fill(f->db, "snap{k=\"1\"}", 250000, 1000, 10);
    struct tsdb_options o = f->o;
    o.path = dir;
    struct tsdb *db;
    assert_int_equal(tsdb_open(&o, &db, &err), 0);
    const char *m[] = {"__name__=snap"};
    assert_int_equal(sel(db, m, 1, 0, INT64_MAX / 2, NULL, 0), 250);
    assert_int_equal(sel(f->db, m, 1, 0, INT64_MAX / 2, NULL, 0), 260);
    tsdb_close(db);
    rm_rf(dir);
}

/*
 * Our codes and LMDB's travel in the same int (they once shared -30799..):
 * each code must keep one meaning through tsdb__mdb_err (a map growth that
 * timed out was reported as "database map full", a state error as corruption).
 */
static void test_error_codes_keep_their_meaning_through_the_lmdb_mapping(void **state)
{
    (void)state;
    struct pl_err err;
    char want[PL_ERR_MSG_MAX];
    for (int c = PL_ERR_BASE; c < PL_ERR_LAST; c++) {
        assert_false(c >= MDB_KEYEXIST && c <= MDB_LAST_ERRCODE);
        assert_int_equal(tsdb__mdb_err(&err, c, "growing the map"), c);
        assert_int_equal(err.code, c);
        if (c == PL_ERR_CORRUPT)
            snprintf(want, sizeof(want), "growing the map: database is corrupt (bad record)");
        else
            snprintf(want, sizeof(want), "growing the map: %s", pl_err_str(c));
        assert_string_equal(err.msg, want);
    }
    /* LMDB's own codes keep their translations. */
    assert_int_equal(tsdb__mdb_err(&err, MDB_MAP_FULL, "x"), PL_ERR_LIMIT);
    assert_string_equal(err.msg, "x: database map full");
    assert_int_equal(tsdb__mdb_err(&err, MDB_CORRUPTED, "x"), PL_ERR_CORRUPT);
    assert_int_equal(tsdb__mdb_err(&err, MDB_NOTFOUND, "x"), PL_ERR_IO);
    snprintf(want, sizeof(want), "x: %s", mdb_strerror(MDB_NOTFOUND));
    assert_string_equal(err.msg, want);
    assert_int_equal(tsdb__mdb_err(&err, -ENOENT, "x"), -ENOENT);
}

static void test_map_grows_instead_of_failing(void **state)
{
    struct fx *f = *state;
    f->o.map_initial_bytes = 1 << 20;
    rm_rf(f->dir);
    mkdir(f->dir, 0755);
    fx_reopen(f);
    size_t first = f->db->mapsize;
    char buf[256];
    for (int s = 0; s < 2000; s++) {
        snprintf(buf, sizeof(buf), "grow{s=\"%d\",pad=\"%0100d\"}", s, s);
        fill(f->db, buf, 0, 1000, 200);
    }
    assert_true(f->db->mapsize > first);
    const char *m[] = {"__name__=grow"};
    assert_int_equal(sel(f->db, m, 1, 0, INT64_MAX / 2, NULL, 0), 2000 * 200);
    fx_reopen(f);
    assert_int_equal(sel(f->db, m, 1, 0, INT64_MAX / 2, NULL, 0), 2000 * 200);
}

static void test_read_only_open_sees_unreplayed_wal(void **state)
{
    struct fx *f = *state;
    fill(f->db, "ro{k=\"1\"}", 0, 1000, 50);
    struct tsdb_options o = f->o;
    o.read_only = 1;
    struct tsdb *db;
    struct pl_err err;
    assert_int_equal(tsdb_open(&o, &db, &err), 0);
    const char *m[] = {"__name__=ro"};
    assert_int_equal(sel(db, m, 1, 0, INT64_MAX / 2, NULL, 0), 50);
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(db, &a), PL_ERR_STATE);
    tsdb_close(db);
}

static void test_cleaned_deletes_stay_deleted_after_a_crash(void **state)
{
    struct fx *f = *state;
    tsdb_close(f->db);
    f->db = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        struct tsdb_options o = f->o;
        o.checkpoint_bytes = UINT64_MAX / 2; /* everything stays in the WAL */
        struct tsdb *db;
        struct pl_err err;
        if (tsdb_open(&o, &db, &err))
            _exit(1);
        fill(db, "cc{k=\"1\"}", 0, 1000, 300);
        del(db, "k=1", 50000, 249999);
        if (tsdb_clean_tombstones(db, &err))
            _exit(2);
        fill(db, "cc{k=\"1\"}", 300000, 1000, 5);
        _exit(0); /* no close: a crash */
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fx_reopen(f);
    struct tsdb_samples smp;
    tsdb_samples_init(&smp);
    assert_int_equal(series_samples(f->db, "cc{k=\"1\"}", 0, 10000000, &smp), 105);
    assert_int_equal(smp.t[49], 49000);
    assert_int_equal(smp.t[50], 250000);
    tsdb_samples_fini(&smp);
}

int test_maint_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delete_range_hides_at_once_and_clean_keeps_it_hidden,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_whole_delete_forgets_series_so_it_can_restart_at_zero,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_retention_by_age_drops_old_partitions, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_retention_by_size_keeps_the_newest_partition, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_is_a_consistent_openable_copy, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(
            test_compaction_merges_old_partitions_without_losing_samples, fx_setup, fx_teardown),
        cmocka_unit_test(test_error_codes_keep_their_meaning_through_the_lmdb_mapping),
        cmocka_unit_test_setup_teardown(test_map_grows_instead_of_failing, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_only_open_sees_unreplayed_wal, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_cleaned_deletes_stay_deleted_after_a_crash, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests_name("tsdb_maint", tests, NULL, NULL);
}
