/* test_wal.c - WAL records, replay after an abrupt exit, and replay of a cut WAL. */
#include "tests.h"

#include <lmdb.h>
#include <snappy-c.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "tsdb/tsdb_int.h"

static int count_cb(void *ctx, const struct tsdb__sample *s)
{
    (void)s;
    (*(int *)ctx)++;
    return 0;
}

static void test_wal_record_round_trips_and_cut_records_are_rejected(void **state)
{
    (void)state;
    struct tsdb__sample in[50];
    for (int i = 0; i < 50; i++) {
        in[i].id = (uint32_t)(i * 7 % 13);
        in[i].t = INT64_C(1700000000000) + i * 15000 - (i % 3) * 100000000;
        in[i].v = (uint64_t)i * 0x9e3779b97f4a7c15u;
    }
    struct pl_buf raw;
    pl_buf_init(&raw, 1 << 20);
    assert_int_equal(tsdb__wal_encode(in, 50, &raw), 0);
    size_t cap = snappy_max_compressed_length(raw.len), clen = cap;
    char *comp = malloc(cap);
    assert_int_equal(snappy_compress(raw.data, raw.len, comp, &clen), SNAPPY_OK);
    int n = 0;
    assert_int_equal(tsdb__wal_decode((uint8_t *)comp, clen, count_cb, &n), 0);
    assert_int_equal(n, 50);
    /* Every cut of the compressed record is rejected, never read past its end. */
    for (size_t cut = 0; cut < clen; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, comp, cut);
        n = 0;
        assert_int_equal(tsdb__wal_decode(p, cut, count_cb, &n), PL_ERR_CORRUPT);
        free(p);
    }
    /* Every cut of the raw record, recompressed, is rejected too. */
    for (size_t cut = 0; cut < raw.len; cut++) {
        size_t c2 = cap;
        assert_int_equal(snappy_compress(raw.data, cut, comp, &c2), SNAPPY_OK);
        n = 0;
        assert_int_equal(tsdb__wal_decode((uint8_t *)comp, c2, count_cb, &n), PL_ERR_CORRUPT);
    }
    free(comp);
    pl_buf_fini(&raw);
}

static double batch_value(int b, int i)
{
    (void)i;
    return b;
}

/* 10 series w{i=...} with `batches` samples each, left as a crash after the last commit. */
static void run_child(struct fx *f, int batches)
{
    fx_crash_after_appends(f, "w", 10, batches, batch_value);
}

static void test_wal_replays_after_exit_without_close(void **state)
{
    struct fx *f = *state;
    run_child(f, 300); /* 300 samples per series: several seals */
    fx_reopen(f);
    const char *m[] = {"__name__=w"};
    assert_int_equal(sel(f->db, m, 1, 0, INT64_MAX / 2, NULL, 0), 3000);
    /* Appending continues where the WAL left off. */
    assert_int_equal(app1(f->db, "w{i=\"3\"}", 299000, 1), PL_ERR_DUPLICATE);
    assert_int_equal(app1(f->db, "w{i=\"3\"}", 300000, 1), 0);
    fx_reopen(f);
    assert_int_equal(sel(f->db, m, 1, 0, INT64_MAX / 2, NULL, 0), 3001);
}

static void test_wal_cut_after_any_record_replays_that_prefix(void **state)
{
    struct fx *f = *state;
    /* 40 samples per series: no seal, so everything lives in the WAL. */
    run_child(f, 40);
    unsigned seed = test_seed();
    srand(seed);
    char copy[600];
    for (int round = 0; round < 5; round++) {
        int keep = rand() % 41;
        snprintf(copy, sizeof(copy), "%s-cut", f->dir);
        rm_rf(copy);
        /* Copy, then cut the copy's WAL after `keep` records. */
        MDB_env *env;
        assert_int_equal(mdb_env_create(&env), 0);
        mdb_env_set_maxdbs(env, 16);
        assert_int_equal(mdb_env_open(env, f->dir, 0, 0644), 0);
        assert_int_equal(mkdir(copy, 0755), 0);
        assert_int_equal(mdb_env_copy(env, copy), 0);
        mdb_env_close(env);
        assert_int_equal(mdb_env_create(&env), 0);
        mdb_env_set_maxdbs(env, 16);
        assert_int_equal(mdb_env_open(env, copy, 0, 0644), 0);
        MDB_txn *txn;
        MDB_dbi dbi;
        assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
        assert_int_equal(mdb_dbi_open(txn, "wal", 0, &dbi), 0);
        MDB_cursor *c;
        mdb_cursor_open(txn, dbi, &c);
        MDB_val k, v;
        int i = 0, r;
        for (r = mdb_cursor_get(c, &k, &v, MDB_FIRST); r == 0;
             r = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            if (++i > keep)
                mdb_cursor_del(c, 0);
        }
        mdb_cursor_close(c);
        assert_int_equal(mdb_txn_commit(txn), 0);
        mdb_env_close(env);
        struct tsdb_options o = f->o;
        o.path = copy;
        struct tsdb *db;
        struct pl_err err;
        assert_int_equal(tsdb_open(&o, &db, &err), 0);
        const char *m[] = {"__name__=w"};
        assert_int_equal(sel(db, m, 1, 0, INT64_MAX / 2, NULL, 0), keep * 10);
        struct tsdb_samples smp;
        tsdb_samples_init(&smp);
        if (keep > 0) {
            assert_int_equal(series_samples(db, "w{i=\"4\"}", 0, INT64_MAX / 2, &smp), keep);
            assert_int_equal(smp.t[keep - 1], (int64_t)(keep - 1) * 1000);
        }
        tsdb_samples_fini(&smp);
        tsdb_close(db);
        rm_rf(copy);
    }
    fx_reopen(f);
}

static void test_bulk_load_writes_no_wal_and_keeps_data_at_close(void **state)
{
    struct fx *f = *state;
    f->o.bulk_load = 1;
    fx_reopen(f);
    for (int t = 0; t < 200; t++)
        assert_int_equal(app1(f->db, "bulk{a=\"1\"}", t * 1000, t), 0);
    struct tsdb_stats st;
    tsdb_stats_get(f->db, &st);
    assert_int_equal(st.wal_records, 0);
    assert_int_equal(st.samples_appended, 200);
    f->o.bulk_load = 0;
    fx_reopen(f);
    const char *m[] = {"__name__=bulk"};
    assert_int_equal(sel(f->db, m, 1, 0, INT64_MAX / 2, NULL, 0), 200);
}

int test_wal_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wal_record_round_trips_and_cut_records_are_rejected),
        cmocka_unit_test_setup_teardown(test_wal_replays_after_exit_without_close, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_bulk_load_writes_no_wal_and_keeps_data_at_close,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_wal_cut_after_any_record_replays_that_prefix, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests_name("tsdb_wal", tests, NULL, NULL);
}
