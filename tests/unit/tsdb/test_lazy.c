/*
 * test_lazy.c - lazy WAL replay after a crash: samples read at open and not
 * yet applied to their series are seen by queries, checked by the append
 * rules, kept across eviction, closes and deletes, applied in bounded steps
 * (never before the retention cut), and a corrupt record is skipped without
 * losing the others.
 */
#include "tests.h"

#include <lmdb.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/labels.h"

#define NSER       10
#define STALE_BITS UINT64_C(0x7ff0000000000002)

static double bits_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static uint64_t double_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

/* Value of series i in batch b: stale markers, NaN and infinities among plain values. */
static uint64_t val_bits(int b, int i)
{
    if (b % 7 == 3)
        return STALE_BITS;
    if (b % 11 == 5)
        return double_bits(NAN);
    if (b % 13 == 6)
        return double_bits(i % 2 ? INFINITY : -INFINITY);
    return double_bits(b * 1.5 + i);
}

static void series_name(char *buf, size_t n, int i)
{
    snprintf(buf, n, "lz{i=\"%d\"}", i);
}

static double lz_value(int b, int i)
{
    return bits_double(val_bits(b, i));
}

/* NSER series lz{i=...} with `batches` samples each, as a crash leaves them; then opened. */
static void crash_with(struct fx *f, int batches)
{
    fx_crash_after_appends(f, "lz", NSER, batches, lz_value);
    struct pl_err err;
    assert_int_equal(tsdb_open(&f->o, &f->db, &err), 0);
}

/* Checks series i holds exactly batches 0..n-1 (bit-exact values). */
static void check_series(struct tsdb *db, int i, int n)
{
    char buf[64];
    series_name(buf, sizeof(buf), i);
    struct tsdb_samples s;
    tsdb_samples_init(&s);
    assert_int_equal(series_samples(db, buf, 0, INT64_MAX / 2, &s), n);
    for (int b = 0; b < n; b++) {
        assert_int_equal(s.t[b], (int64_t)b * 1000);
        assert_true(double_bits(s.v[b]) == val_bits(b, i));
    }
    tsdb_samples_fini(&s);
}

static uint64_t pending(struct tsdb *db)
{
    struct tsdb_stats st;
    tsdb_stats_get(db, &st);
    return st.pending_series;
}

static void test_lazy_pending_samples_are_seen_by_queries(void **state)
{
    struct fx *f = *state;
    crash_with(f, 300); /* several seals per series: replay must redo them */
    assert_int_equal(pending(f->db), NSER);
    struct tsdb_stats st;
    tsdb_stats_get(f->db, &st);
    assert_int_equal(st.head_series, 0); /* nothing loaded by the open */
    assert_int_equal(st.max_time, 299000);
    for (int i = 0; i < NSER; i++)
        check_series(f->db, i, 300);
    /* A range that starts inside the pending samples. */
    const char *m[] = {"__name__=lz"};
    assert_int_equal(sel(f->db, m, 1, 250000, INT64_MAX / 2, NULL, 0), 50 * NSER);
    /* A close with samples pending leaves the WAL: the next open sees the same. */
    fx_reopen(f);
    assert_int_equal(pending(f->db), NSER);
    for (int i = 0; i < NSER; i++)
        check_series(f->db, i, 300);
}

static void test_lazy_appends_after_crash_open_follow_the_rules(void **state)
{
    struct fx *f = *state;
    crash_with(f, 300);
    /* The append rules see the newest pending sample. */
    assert_int_equal(app1(f->db, "lz{i=\"3\"}", 100000, 1), PL_ERR_OUT_OF_ORDER);
    assert_int_equal(app1(f->db, "lz{i=\"3\"}", 299000, 1), PL_ERR_DUPLICATE);
    assert_int_equal(app1(f->db, "lz{i=\"3\"}", 299000, bits_double(val_bits(299, 3))), 0);
    assert_int_equal(app1(f->db, "lz{i=\"3\"}", 300000, 7), 0);
    assert_int_equal(pending(f->db), NSER - 1);
    struct tsdb_samples s;
    tsdb_samples_init(&s);
    assert_int_equal(series_samples(f->db, "lz{i=\"3\"}", 0, INT64_MAX / 2, &s), 301);
    assert_int_equal(s.t[300], 300000);
    tsdb_samples_fini(&s);
    const char *m[] = {"__name__=lz"};
    assert_int_equal(sel(f->db, m, 1, 0, INT64_MAX / 2, NULL, 0), 300 * NSER + 1);
    /* A close with others still pending keeps the WAL: reopening replays it again. */
    fx_reopen(f);
    assert_int_equal(sel(f->db, m, 1, 0, INT64_MAX / 2, NULL, 0), 300 * NSER + 1);
    for (int i = 0; i < NSER; i++)
        if (i != 3)
            check_series(f->db, i, 300);
}

static void test_lazy_steps_apply_everything_then_checkpoint(void **state)
{
    struct fx *f = *state;
    f->o.checkpoint_bytes = 1; /* every commit is over the bound */
    crash_with(f, 250);
    assert_int_equal(pending(f->db), NSER);
    /* The first commit applies a step (all 10), the next one checkpoints. */
    assert_int_equal(app1(f->db, "lz{i=\"0\"}", 250000, 1), 0);
    assert_int_equal(pending(f->db), 0);
    struct tsdb_stats st;
    tsdb_stats_get(f->db, &st);
    assert_int_equal(st.head_series, NSER);
    assert_int_equal(app1(f->db, "lz{i=\"0\"}", 251000, 1), 0);
    tsdb_stats_get(f->db, &st);
    assert_int_equal(st.checkpoints, 1);
    assert_int_equal(st.wal_tail_bytes, 0);
    for (int i = 1; i < NSER; i++)
        check_series(f->db, i, 250);
    fx_reopen(f);
    assert_int_equal(pending(f->db), 0);
    const char *m[] = {"__name__=lz"};
    assert_int_equal(sel(f->db, m, 1, 0, INT64_MAX / 2, NULL, 0), 250 * NSER + 2);
}

static void test_lazy_eviction_keeps_pending_samples(void **state)
{
    struct fx *f = *state;
    crash_with(f, 200);
    /* Load series 5 into memory without applying its pending samples (no commit). */
    struct pl_labels *ls;
    struct pl_err err;
    assert_int_equal(pl_labels_parse("lz{i=\"5\"}", 9, &ls, &err), 0);
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append(a, ls, 150000, 1, NULL), PL_ERR_OUT_OF_ORDER);
    assert_int_equal(tsdb_append(a, ls, 200000, 1, NULL), 0);
    tsdb_appender_rollback(a);
    pl_labels_free(ls);
    struct tsdb_stats st;
    tsdb_stats_get(f->db, &st);
    assert_int_equal(st.head_series, 1);
    assert_int_equal(pending(f->db), NSER);
    /* Its head record is older than its pending samples: eviction must not lose them. */
    uint64_t ev = 0;
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX / 2, &ev, &err), 0);
    assert_int_equal(ev, 1);
    check_series(f->db, 5, 200);
    assert_int_equal(app1(f->db, "lz{i=\"5\"}", 200000, 1), 0);
    const char *m[] = {"__name__=lz"};
    assert_int_equal(sel(f->db, m, 1, 0, INT64_MAX / 2, NULL, 0), 200 * NSER + 1);
}

static void test_lazy_delete_applies_pending_first(void **state)
{
    struct fx *f = *state;
    crash_with(f, 100);
    struct tsdb_matcher *ms[1];
    const char *spec[] = {"i=2"};
    mk_matchers(ms, spec, 1);
    struct pl_err err;
    assert_int_equal(tsdb_delete_series(f->db, ms, 1, 50000, 99000, &err), 0);
    assert_int_equal(pending(f->db), 0);
    assert_int_equal(tsdb_clean_tombstones(f->db, &err), 0);
    check_series(f->db, 2, 50);
    fx_reopen(f);
    check_series(f->db, 2, 50);
    check_series(f->db, 7, 100);
    free_matchers(ms, 1);
}

/*
 * Child: every 10 min, series 1 from 0 to 50 min, series 0 from 120 to
 * 230 min; no close. No chunk is sealed, so nothing checkpoints (a seal
 * may compact, which checkpoints first) and the WAL holds it all.
 */
static void child_append_hours(struct fx *f)
{
    struct tsdb *db;
    struct pl_err err;
    struct tsdb_options o = f->o;
    o.checkpoint_bytes = UINT64_MAX / 2;
    o.head_idle_ms = -1; /* series 1 goes idle: eviction would write its head record */
    if (tsdb_open(&o, &db, &err))
        _exit(2);
    for (int b = 0; b <= 23; b++) {
        struct tsdb_appender *a;
        tsdb_appender_begin(db, &a);
        for (int i = 0; i < 2; i++) {
            if (i == 1 ? b > 5 : b < 12)
                continue;
            struct pl_labels *ls;
            char buf[64];
            series_name(buf, sizeof(buf), i);
            pl_labels_parse(buf, strlen(buf), &ls, &err);
            if (tsdb_append(a, ls, (int64_t)b * 600000, b + i, NULL))
                _exit(3);
            pl_labels_free(ls);
        }
        if (tsdb_appender_commit(a, NULL, &err))
            _exit(4);
    }
    _exit(0);
}

static void test_lazy_retention_drops_old_pending_samples(void **state)
{
    struct fx *f = *state;
    tsdb_close(f->db);
    f->db = NULL;
    pid_t pid = fork();
    if (pid == 0)
        child_append_hours(f);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /*
     * Reopened with 1 h of retention: the newest sample is at 230 min, so
     * the partition [0, 2 h) is dropped and nothing before 2 h may come back
     * when the pending samples are applied.
     */
    f->o.retention_ms = 3600 * 1000;
    f->o.checkpoint_bytes = 1; /* the first commit applies every pending series */
    struct pl_err err;
    assert_int_equal(tsdb_open(&f->o, &f->db, &err), 0);
    assert_int_equal(pending(f->db), 2);
    assert_int_equal(app1(f->db, "lz{i=\"0\"}", 24 * 600000, 24), 0);
    assert_int_equal(pending(f->db), 0);
    struct tsdb_samples s;
    tsdb_samples_init(&s);
    /* Series 1 lived only before the cut: applying it must not resurrect it. */
    assert_int_equal(series_samples(f->db, "lz{i=\"1\"}", 0, INT64_MAX / 2, &s), 0);
    /* Series 0 keeps 2 h .. 4 h: samples 12..24. */
    assert_int_equal(series_samples(f->db, "lz{i=\"0\"}", 0, INT64_MAX / 2, &s), 13);
    assert_int_equal(s.t[0], 7200000);
    tsdb_samples_fini(&s);
    fx_reopen(f);
    tsdb_samples_init(&s);
    assert_int_equal(series_samples(f->db, "lz{i=\"1\"}", 0, INT64_MAX / 2, &s), 0);
    assert_int_equal(series_samples(f->db, "lz{i=\"0\"}", 0, INT64_MAX / 2, &s), 13);
    tsdb_samples_fini(&s);
}

/* Overwrites the value of WAL record number `which` (1-based) with garbage. */
static void corrupt_record(const char *dir, int which)
{
    MDB_env *env;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "wal", 0, &dbi), 0);
    MDB_cursor *c;
    mdb_cursor_open(txn, dbi, &c);
    MDB_val k, v;
    int i = 0;
    for (int r = mdb_cursor_get(c, &k, &v, MDB_FIRST); r == 0;
         r = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (++i != which)
            continue;
        uint8_t junk[40];
        for (size_t j = 0; j < sizeof(junk); j++)
            junk[j] = (uint8_t)(0xA5 ^ j * 37);
        MDB_val nv = {sizeof(junk), junk};
        assert_int_equal(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
        break;
    }
    mdb_cursor_close(c);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_lazy_corrupt_record_is_skipped(void **state)
{
    struct fx *f = *state;
    crash_with(f, 40); /* no seal: everything in the WAL */
    tsdb_close(f->db);
    f->db = NULL;
    corrupt_record(f->dir, 17);
    struct pl_err err;
    assert_int_equal(tsdb_open(&f->o, &f->db, &err), 0);
    const char *m[] = {"__name__=lz"};
    assert_int_equal(sel(f->db, m, 1, 0, INT64_MAX / 2, NULL, 0), 39 * NSER);
    struct tsdb_samples s;
    tsdb_samples_init(&s);
    assert_int_equal(series_samples(f->db, "lz{i=\"4\"}", 0, INT64_MAX / 2, &s), 39);
    assert_int_equal(s.t[15], 15000);
    assert_int_equal(s.t[16], 17000); /* batch 16 was record 17 */
    tsdb_samples_fini(&s);
    /* Appending continues after the newest sample. */
    assert_int_equal(app1(f->db, "lz{i=\"4\"}", 40000, 1), 0);
    fx_reopen(f);
    assert_int_equal(sel(f->db, m, 1, 0, INT64_MAX / 2, NULL, 0), 39 * NSER + 1);
}

int test_lazy_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lazy_pending_samples_are_seen_by_queries, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_lazy_appends_after_crash_open_follow_the_rules,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_lazy_steps_apply_everything_then_checkpoint, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_lazy_eviction_keeps_pending_samples, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_lazy_delete_applies_pending_first, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_lazy_corrupt_record_is_skipped, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_lazy_retention_drops_old_pending_samples, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests_name("tsdb_lazy", tests, NULL, NULL);
}
