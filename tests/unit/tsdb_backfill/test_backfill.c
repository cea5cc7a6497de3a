/*
 * test_backfill.c - tsdb_backfill_* (one chunk per series and partition,
 * merges across flushes and with stored chunks, append rules, crash safety)
 * and tsdb_repack (same contents, no bigger, refuses a database in use).
 */
#include "tests.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/tmpfs_child.h"
#include "common/labels.h"
#include "tsdb/backfill.h"
#include "tsdb/chunk_int.h"
#include "tsdb/tsdb_int.h"

#define T0 INT64_C(1700000000000) /* 6400 s before a partition boundary */

struct fx {
    char dir[512];
    struct tsdb_options o;
    struct tsdb *db;
};

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/tsdb-bf-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    tsdb_options_init(&f->o);
    f->o.path = f->dir;
    f->o.sync = TSDB_SYNC_NONE;
    f->o.retention_ms = 0;
    f->o.map_initial_bytes = 16 << 20;
    struct pl_err err;
    if (tsdb_open(&f->o, &f->db, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tsdb_close(f->db);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void reopen(struct fx *f)
{
    tsdb_close(f->db);
    f->db = NULL;
    struct pl_err err;
    int rc = tsdb_open(&f->o, &f->db, &err);
    if (rc)
        fprintf(stderr, "reopen: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

static struct pl_labels *lbl(int i)
{
    char s[64];
    snprintf(s, sizeof(s), "m{s=\"%d\"}", i);
    struct pl_labels *ls;
    struct pl_err err;
    assert_int_equal(pl_labels_parse(s, strlen(s), &ls, &err), 0);
    return ls;
}

/* Reference data (fixed, no seed): series i, sample j; counter, random float, stale markers. */
static int64_t ref_t(int j)
{
    return T0 + (int64_t)j * 15000 + (j * 7) % 5;
}
static double ref_v(int i, int j)
{
    switch (i % 3) {
    case 0:
        return (double)(j * 3 + i);
    case 1: {
        uint64_t x =
            (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)j * 0xBF58476D1CE4E5B9ULL;
        x ^= x >> 31;
        return 40.0 + (double)(x >> 11) / 9007199254740992.0 * 20.0;
    }
    default:
        return j % 50 == 49 ? tsdb_stale_nan() : 1.5;
    }
}

/* Whether series i holds exactly samples [j0, j1) of the reference (bit-exact). */
static void check_series(struct tsdb *db, int i, int j0, int j1)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", i);
    struct tsdb_matcher *m;
    struct pl_err err;
    assert_int_equal(tsdb_matcher_new(TSDB_MATCH_EQ, "s", v, &m, &err), 0);
    struct tsdb_querier *q;
    assert_int_equal(tsdb_querier_open(db, INT64_MIN / 2, INT64_MAX / 2, &q, &err), 0);
    struct tsdb_series_set *ss;
    assert_int_equal(tsdb_select(q, &m, 1, &ss, &err), 0);
    const struct pl_labels *ls;
    assert_int_equal(tsdb_series_set_next(ss, &ls), 1);
    struct tsdb_samples s;
    tsdb_samples_init(&s);
    assert_int_equal(tsdb_series_set_samples(ss, INT64_MIN / 2, INT64_MAX / 2, &s, &err), 0);
    assert_int_equal(s.n, (size_t)(j1 - j0));
    for (int j = j0; j < j1; j++) {
        assert_true(s.t[j - j0] == ref_t(j));
        double want = ref_v(i, j);
        assert_memory_equal(&s.v[j - j0], &want, 8);
    }
    tsdb_samples_fini(&s);
    assert_int_equal(tsdb_series_set_next(ss, &ls), 0);
    tsdb_series_set_free(ss);
    tsdb_querier_close(q);
    tsdb_matcher_free(m);
}

/* Adds samples [j0, j1) of series [0, nser) series by series (as import files are). */
static void load(struct tsdb_backfill *b, int nser, int j0, int j1)
{
    struct pl_err err;
    for (int i = 0; i < nser; i++) {
        struct pl_labels *ls = lbl(i);
        for (int j = j0; j < j1; j++)
            assert_int_equal(tsdb_backfill_add(b, ls, ref_t(j), ref_v(i, j), &err), 0);
        pl_labels_free(ls);
    }
}

struct chunk_census {
    size_t chunks, max_value, per_part_series_max;
};

/* Walks the chunks database: count, largest value, most chunks of one (partition, series). */
static void census(struct tsdb *db, struct chunk_census *c)
{
    memset(c, 0, sizeof(*c));
    MDB_txn *txn;
    assert_int_equal(tsdb__rtxn_begin(db, &txn), 0);
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, db->dbi_chunks, &cur), 0);
    MDB_val k, v;
    uint8_t prev[8] = {0};
    size_t run = 0;
    int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (r == 0) {
        c->chunks++;
        if (v.mv_size > c->max_value)
            c->max_value = v.mv_size;
        run = c->chunks > 1 && memcmp(prev, k.mv_data, 8) == 0 ? run + 1 : 1;
        if (run > c->per_part_series_max)
            c->per_part_series_max = run;
        memcpy(prev, k.mv_data, 8);
        r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    assert_int_equal(r, MDB_NOTFOUND);
    mdb_cursor_close(cur);
    tsdb__rtxn_end(db, txn);
}

static void test_backfill_writes_one_chunk_per_series_and_partition(void **state)
{
    struct fx *f = *state;
    struct tsdb_backfill *b;
    struct pl_err err;
    assert_int_equal(tsdb_backfill_new(f->db, 0, &b, &err), 0);
    load(b, 3, 0, 720); /* 3 h: two partitions */
    struct tsdb_backfill_result res;
    assert_int_equal(tsdb_backfill_finish(b, &res, &err), 0);
    assert_int_equal(res.samples, 3 * 720);
    assert_int_equal(res.series_new, 3);
    assert_int_equal(res.flushes, 1);
    struct chunk_census c;
    census(f->db, &c);
    /* Counter and stale series: one chunk per partition; random floats split by size. */
    assert_int_equal(c.per_part_series_max > 1, 1);
    assert_true(c.max_value <= 8 + TSDB_CHUNK_TARGET_BYTES + 64);
    for (int i = 0; i < 3; i++)
        check_series(f->db, i, 0, 720);
    reopen(f);
    for (int i = 0; i < 3; i++)
        check_series(f->db, i, 0, 720);
    struct tsdb_summary sum;
    assert_int_equal(tsdb_summary_get(f->db, &sum, &err), 0);
    assert_int_equal(sum.samples, 3 * 720);
    assert_int_equal(sum.head_chunks, 0);
    tsdb_summary_fini(&sum);
}

static void test_backfill_small_chunks_stay_whole(void **state)
{
    struct fx *f = *state;
    struct tsdb_backfill *b;
    struct pl_err err;
    assert_int_equal(tsdb_backfill_new(f->db, 0, &b, &err), 0);
    struct pl_labels *ls = lbl(0); /* a counter */
    for (int j = 0; j < 720; j++)
        assert_int_equal(tsdb_backfill_add(b, ls, ref_t(j), ref_v(0, j), &err), 0);
    pl_labels_free(ls);
    assert_int_equal(tsdb_backfill_finish(b, NULL, &err), 0);
    struct chunk_census c;
    census(f->db, &c);
    assert_int_equal(c.chunks, 2); /* 427 + 293 samples: one per partition */
    check_series(f->db, 0, 0, 720);
}

static void test_backfill_merges_across_flushes(void **state)
{
    struct fx *f = *state;
    struct tsdb_backfill *b;
    struct pl_err err;
    /* A flush every 100 samples: each series' partition is written in pieces. */
    assert_int_equal(tsdb_backfill_new(f->db, 100, &b, &err), 0);
    struct pl_labels *ls0 = lbl(0), *ls2 = lbl(2);
    for (int j = 0; j < 720; j++) {
        assert_int_equal(tsdb_backfill_add(b, ls0, ref_t(j), ref_v(0, j), &err), 0);
        assert_int_equal(tsdb_backfill_add(b, ls2, ref_t(j), ref_v(2, j), &err), 0);
    }
    pl_labels_free(ls0);
    pl_labels_free(ls2);
    struct tsdb_backfill_result res;
    assert_int_equal(tsdb_backfill_finish(b, &res, &err), 0);
    assert_true(res.flushes >= 14);
    struct chunk_census c;
    census(f->db, &c);
    assert_int_equal(c.chunks, 4);
    assert_int_equal(c.per_part_series_max, 1);
    check_series(f->db, 0, 0, 720);
    check_series(f->db, 2, 0, 720);
}

static void test_backfill_applies_append_rules(void **state)
{
    struct fx *f = *state;
    struct tsdb_backfill *b;
    struct pl_err err;
    assert_int_equal(tsdb_backfill_new(f->db, 0, &b, &err), 0);
    struct pl_labels *ls = lbl(0);
    assert_int_equal(tsdb_backfill_add(b, ls, ref_t(0), ref_v(0, 0), &err), 0);
    assert_int_equal(tsdb_backfill_add(b, ls, ref_t(1), ref_v(0, 1), &err), 0);
    /* Same timestamp, same value: ignored; another value: duplicate; older: out of order. */
    assert_int_equal(tsdb_backfill_add(b, ls, ref_t(1), ref_v(0, 1), &err), 0);
    assert_int_equal(tsdb_backfill_add(b, ls, ref_t(1), 99.0, &err), PL_ERR_DUPLICATE);
    assert_int_equal(tsdb_backfill_add(b, ls, ref_t(0) - 1, 1.0, &err), PL_ERR_OUT_OF_ORDER);
    struct pl_labels empty = {0};
    assert_int_equal(tsdb_backfill_add(b, &empty, ref_t(0), 1.0, &err), PL_ERR_INVALID);
    assert_int_equal(tsdb_backfill_add(b, ls, ref_t(2), ref_v(0, 2), &err), 0);
    struct tsdb_backfill_result res;
    assert_int_equal(tsdb_backfill_finish(b, &res, &err), 0);
    assert_int_equal(res.samples, 3);
    assert_int_equal(res.out_of_order, 1);
    assert_int_equal(res.duplicates, 1);
    check_series(f->db, 0, 0, 3);
    /* The series' newest sample survives a reopen: appenders keep the rules. */
    reopen(f);
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append(a, ls, ref_t(1), 5.0, NULL), PL_ERR_OUT_OF_ORDER);
    assert_int_equal(tsdb_append(a, ls, ref_t(3), ref_v(0, 3), NULL), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    pl_labels_free(ls);
    check_series(f->db, 0, 0, 4);
}

static void test_backfill_continues_a_series_with_an_open_chunk(void **state)
{
    struct fx *f = *state;
    struct pl_err err;
    struct pl_labels *ls = lbl(0);
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    for (int j = 0; j < 50; j++)
        assert_int_equal(tsdb_append(a, ls, ref_t(j), ref_v(0, j), NULL), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    struct tsdb_backfill *b;
    assert_int_equal(tsdb_backfill_new(f->db, 0, &b, &err), 0);
    for (int j = 50; j < 300; j++)
        assert_int_equal(tsdb_backfill_add(b, ls, ref_t(j), ref_v(0, j), &err), 0);
    assert_int_equal(tsdb_backfill_finish(b, NULL, &err), 0);
    pl_labels_free(ls);
    /* The open chunk was sealed and merged: one chunk in the partition. */
    struct chunk_census c;
    census(f->db, &c);
    assert_int_equal(c.chunks, 1);
    check_series(f->db, 0, 0, 300);
    reopen(f);
    check_series(f->db, 0, 0, 300);
}

/* Appends samples [j0, j1) of series i through an appender (one commit). */
static void append_ref(struct tsdb *db, int i, int j0, int j1)
{
    struct pl_labels *ls = lbl(i);
    struct tsdb_appender *a;
    struct pl_err err;
    assert_int_equal(tsdb_appender_begin(db, &a), 0);
    for (int j = j0; j < j1; j++)
        assert_int_equal(tsdb_append(a, ls, ref_t(j), ref_v(i, j), NULL), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    pl_labels_free(ls);
}

/*
 * The backfill keeps pointers to the series it buffers samples for (and to
 * the series of the previous sample): eviction must not free them meanwhile.
 */
static void test_backfill_holds_its_series_against_eviction(void **state)
{
    struct fx *f = *state;
    struct pl_err err;
    append_ref(f->db, 0, 0, 10);
    append_ref(f->db, 2, 0, 10);
    struct tsdb_backfill *b;
    assert_int_equal(tsdb_backfill_new(f->db, 0, &b, &err), 0);
    struct pl_labels *ls0 = lbl(0), *ls2 = lbl(2);
    for (int j = 10; j < 20; j++)
        assert_int_equal(tsdb_backfill_add(b, ls0, ref_t(j), ref_v(0, j), &err), 0);
    /* Series 2 only as the previous sample's series (its sample is refused). */
    assert_int_equal(tsdb_backfill_add(b, ls2, ref_t(5), ref_v(2, 5), &err), PL_ERR_OUT_OF_ORDER);
    /* Every series is idle by this bound: only the backfill's hold keeps them. */
    uint64_t n = 99;
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &n, &err), 0);
    assert_int_equal(n, 0);
    for (int j = 10; j < 20; j++)
        assert_int_equal(tsdb_backfill_add(b, ls2, ref_t(j), ref_v(2, j), &err), 0);
    for (int j = 20; j < 30; j++)
        assert_int_equal(tsdb_backfill_add(b, ls0, ref_t(j), ref_v(0, j), &err), 0);
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(tsdb_backfill_flush(b, &err), 0);
    /* Flushed: the series of the last sample is still held, the other one may go. */
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &n, &err), 0);
    assert_int_equal(n, 1);
    check_series(f->db, 0, 0, 30);
    check_series(f->db, 2, 0, 20);
    for (int j = 30; j < 40; j++)
        assert_int_equal(tsdb_backfill_add(b, ls0, ref_t(j), ref_v(0, j), &err), 0);
    assert_int_equal(tsdb_backfill_finish(b, NULL, &err), 0);
    pl_labels_free(ls0);
    pl_labels_free(ls2);
    /* Finished: nothing holds them any more. */
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &n, &err), 0);
    assert_int_equal(n, 1);
    check_series(f->db, 0, 0, 40);
    check_series(f->db, 2, 0, 20);
    reopen(f);
    check_series(f->db, 0, 0, 40);
    check_series(f->db, 2, 0, 20);
}

struct evictor {
    struct tsdb *db;
    _Atomic int stop;
    _Atomic long rounds, evicted, bad;
};

static void *evict_loop(void *arg)
{
    struct evictor *ev = arg;
    while (!atomic_load(&ev->stop)) {
        uint64_t n = 0;
        struct pl_err err;
        int rc = tsdb_head_gc(ev->db, INT64_MAX, &n, &err);
        if (rc && rc != PL_ERR_TIMEOUT) {
            fprintf(stderr, "head gc: %s\n", err.msg);
            atomic_fetch_add(&ev->bad, 1);
        }
        atomic_fetch_add(&ev->evicted, (long)n);
        atomic_fetch_add(&ev->rounds, 1);
    }
    return NULL;
}

/* Eviction rounds without pause while a backfill interleaves series and flushes often. */
static void test_backfill_runs_concurrently_with_eviction(void **state)
{
    struct fx *f = *state;
    struct pl_err err;
    enum { NS = 40, NJ = 300 };
    struct pl_labels *ls[NS];
    for (int i = 0; i < NS; i++)
        ls[i] = lbl(i);
    append_ref(f->db, 0, 0, 10);
    struct evictor *ev = calloc(1, sizeof(*ev));
    ev->db = f->db;
    pthread_t t;
    pthread_create(&t, NULL, evict_loop, ev);
    struct tsdb_backfill *b;
    assert_int_equal(tsdb_backfill_new(f->db, 700, &b, &err), 0);
    for (int j = 0; j < NJ; j++) {
        for (int i = 0; i < NS; i++) {
            if (i == 0 && j < 10)
                continue;
            assert_int_equal(tsdb_backfill_add(b, ls[i], ref_t(j), ref_v(i, j), &err), 0);
        }
        if (j == NJ / 2) {
            /* Flushed, the series are idle: wait for them to go, then load them back. */
            assert_int_equal(tsdb_backfill_flush(b, &err), 0);
            for (int w = 0; w < 5000 && atomic_load(&ev->evicted) < NS - 1; w++)
                usleep(1000);
            assert_true(atomic_load(&ev->evicted) >= NS - 1);
        }
    }
    assert_int_equal(tsdb_backfill_finish(b, NULL, &err), 0);
    atomic_store(&ev->stop, 1);
    pthread_join(t, NULL);
    fprintf(stderr, "backfill with eviction: %ld rounds, %ld evicted\n", (long)ev->rounds,
            (long)ev->evicted);
    assert_int_equal(ev->bad, 0);
    assert_true(ev->evicted > 0);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < NS; i++)
            check_series(f->db, i, 0, NJ);
        reopen(f);
    }
    for (int i = 0; i < NS; i++)
        pl_labels_free(ls[i]);
    free(ev);
}

/*
 * A head record written while samples are buffered (a checkpoint triggered by
 * another appender's commit, an eviction round) holds only what is stored:
 * after a crash there, running the import again stores the buffered samples
 * instead of refusing them as older than a newest sample never written.
 */
static void test_backfill_buffered_samples_stay_out_of_head_records(void **state)
{
    struct fx *f = *state;
    struct pl_err err;
    tsdb_close(f->db);
    f->db = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct tsdb *db;
        if (tsdb_open(&f->o, &db, &err) != 0)
            _exit(2);
        append_ref(db, 0, 0, 10);
        struct tsdb_backfill *b;
        if (tsdb_backfill_new(db, 0, &b, &err) != 0)
            _exit(3);
        struct pl_labels *ls = lbl(0);
        for (int j = 10; j < 30; j++)
            if (tsdb_backfill_add(b, ls, ref_t(j), ref_v(0, j), &err) != 0)
                _exit(4);
        pthread_mutex_lock(&db->commit_mu);
        int rc = tsdb__head_checkpoint(db, &err);
        pthread_mutex_unlock(&db->commit_mu);
        if (rc != 0)
            _exit(5);
        raise(SIGKILL);
        _exit(6);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    reopen(f);
    check_series(f->db, 0, 0, 10);
    struct tsdb_backfill *b;
    assert_int_equal(tsdb_backfill_new(f->db, 0, &b, &err), 0);
    struct pl_labels *ls = lbl(0);
    for (int j = 10; j < 30; j++)
        assert_int_equal(tsdb_backfill_add(b, ls, ref_t(j), ref_v(0, j), &err), 0);
    pl_labels_free(ls);
    assert_int_equal(tsdb_backfill_finish(b, NULL, &err), 0);
    check_series(f->db, 0, 0, 30);
}

/* Every id with a head record or a chunk has a series entry (nothing orphaned). */
static void assert_no_orphans(struct tsdb *db)
{
    MDB_txn *txn;
    assert_int_equal(tsdb__rtxn_begin(db, &txn), 0);
    MDB_dbi dbis[2] = {db->dbi_head, db->dbi_chunks};
    for (int d = 0; d < 2; d++) {
        MDB_cursor *cur;
        assert_int_equal(mdb_cursor_open(txn, dbis[d], &cur), 0);
        MDB_val k, v;
        int r;
        while ((r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
            uint8_t id[4];
            memcpy(id, (uint8_t *)k.mv_data + (d ? 4 : 0), 4);
            MDB_val sk = {4, id}, sv;
            int g = mdb_get(txn, db->dbi_series, &sk, &sv);
            if (g != 0)
                fprintf(stderr, "orphan %s of series id %u\n", d ? "chunk" : "head record",
                        tsdb__rd_be32(id));
            assert_int_equal(g, 0);
        }
        assert_int_equal(r, MDB_NOTFOUND);
        mdb_cursor_close(cur);
    }
    tsdb__rtxn_end(db, txn);
}

/* Number of series matching s="<i>" in the index. */
static size_t series_count(struct tsdb *db, int i)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", i);
    struct tsdb_matcher *m;
    struct pl_err err;
    assert_int_equal(tsdb_matcher_new(TSDB_MATCH_EQ, "s", v, &m, &err), 0);
    struct tsdb_querier *q;
    assert_int_equal(tsdb_querier_open(db, INT64_MIN / 2, INT64_MAX / 2, &q, &err), 0);
    struct tsdb_series_set *ss;
    assert_int_equal(tsdb_select(q, &m, 1, &ss, &err), 0);
    const struct pl_labels *ls;
    size_t n = 0;
    while (tsdb_series_set_next(ss, &ls) == 1)
        n++;
    tsdb_series_set_free(ss);
    tsdb_querier_close(q);
    tsdb_matcher_free(m);
    return n;
}

/*
 * Series GC (after retention) keeps a series the backfill buffers samples
 * for, and a series deleted meanwhile loses its buffered samples: a flush
 * never writes chunks or head records for a series the index forgot.
 */
static void test_backfill_series_forgotten_meanwhile_leave_nothing_behind(void **state)
{
    struct fx *f = *state;
    struct pl_err err;
    f->o.retention_ms = 4 * 3600 * INT64_C(1000);
    reopen(f);
    for (int i = 0; i < 3; i++)
        append_ref(f->db, i, 0, 10);
    struct tsdb_backfill *b;
    assert_int_equal(tsdb_backfill_new(f->db, 0, &b, &err), 0);
    load(b, 3, 10, 20);
    /* Series 1 is deleted over all time while samples of it are buffered. */
    struct tsdb_matcher *m;
    assert_int_equal(tsdb_matcher_new(TSDB_MATCH_EQ, "s", "1", &m, &err), 0);
    assert_int_equal(tsdb_delete_series(f->db, &m, 1, INT64_MIN, INT64_MAX, &err), 0);
    tsdb_matcher_free(m);
    /* Series 2 over what it stores: its buffered samples are newer, so it stays. */
    assert_int_equal(tsdb_matcher_new(TSDB_MATCH_EQ, "s", "2", &m, &err), 0);
    assert_int_equal(tsdb_delete_series(f->db, &m, 1, INT64_MIN, ref_t(9), &err), 0);
    tsdb_matcher_free(m);
    assert_int_equal(series_count(f->db, 2), 1);
    /* A sample 10 h later moves the retention cut past every sample of series 0. */
    struct pl_labels *ls9 = lbl(9);
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append(a, ls9, T0 + 10 * 3600 * INT64_C(1000), 1, NULL), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    pl_labels_free(ls9);
    pthread_mutex_lock(&f->db->commit_mu);
    int rc = tsdb__retention_apply(f->db, &err);
    pthread_mutex_unlock(&f->db->commit_mu);
    assert_int_equal(rc, 0);
    assert_true(f->db->gc_done > ref_t(20));
    /* Series 0 has samples pending in the backfill: kept. */
    assert_int_equal(series_count(f->db, 0), 1);
    assert_int_equal(series_count(f->db, 1), 0);
    assert_int_equal(tsdb_backfill_finish(b, NULL, &err), 0);
    assert_no_orphans(f->db);
    assert_int_equal(series_count(f->db, 1), 0);
    check_series(f->db, 0, 0, 20);
    check_series(f->db, 2, 10, 20);
    reopen(f);
    assert_no_orphans(f->db);
    assert_int_equal(series_count(f->db, 1), 0);
}

static void test_backfill_rerun_completes_and_ignores_stored(void **state)
{
    struct fx *f = *state;
    struct pl_err err;
    /* A child loads part of the data (several flushes) and dies without finishing. */
    tsdb_close(f->db);
    f->db = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct tsdb *db;
        if (tsdb_open(&f->o, &db, &err) != 0)
            _exit(2);
        struct tsdb_backfill *b;
        if (tsdb_backfill_new(db, 500, &b, &err) != 0)
            _exit(3);
        for (int i = 0; i < 6; i++) {
            struct pl_labels *ls = lbl(i);
            for (int j = 0; j < 720; j++)
                if (tsdb_backfill_add(b, ls, ref_t(j), ref_v(i, j), &err) != 0)
                    _exit(4);
            pl_labels_free(ls);
            if (i == 3)
                raise(SIGKILL); /* mid-import, buffered samples lost */
        }
        _exit(5);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    reopen(f);
    /* What was flushed is consistent: whole prefixes of the series, in order. */
    struct tsdb_summary sum;
    assert_int_equal(tsdb_summary_get(f->db, &sum, &err), 0);
    assert_true(sum.samples > 0 && sum.samples < 6 * 720);
    assert_true(sum.samples % 500 == 0);
    tsdb_summary_fini(&sum);
    /* Running the import again completes it. */
    struct tsdb_backfill *b;
    assert_int_equal(tsdb_backfill_new(f->db, 500, &b, &err), 0);
    struct pl_labels *ls;
    uint64_t rejected = 0;
    for (int i = 0; i < 6; i++) {
        ls = lbl(i);
        for (int j = 0; j < 720; j++) {
            int rc = tsdb_backfill_add(b, ls, ref_t(j), ref_v(i, j), &err);
            assert_true(rc == 0 || rc == PL_ERR_OUT_OF_ORDER);
            rejected += rc != 0;
        }
        pl_labels_free(ls);
    }
    struct tsdb_backfill_result res;
    assert_int_equal(tsdb_backfill_finish(b, &res, &err), 0);
    for (int i = 0; i < 6; i++)
        check_series(f->db, i, 0, 720);
    struct chunk_census c;
    census(f->db, &c);
    assert_true(c.max_value <= 8 + TSDB_CHUNK_TARGET_BYTES + 64);
}

static void test_repack_keeps_contents_and_shrinks(void **state)
{
    struct fx *f = *state;
    struct pl_err err;
    struct tsdb_backfill *b;
    assert_int_equal(tsdb_backfill_new(f->db, 3000, &b, &err), 0);
    load(b, 30, 0, 720);
    assert_int_equal(tsdb_backfill_finish(b, NULL, &err), 0);
    /* Leftovers of an interrupted repack are cleared. */
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s/repack.tmp", f->dir);
    assert_int_equal(mkdir(tmp, 0755), 0);
    tsdb_close(f->db);
    f->db = NULL;
    uint64_t before = 0, after = 0;
    assert_int_equal(tsdb_repack(f->dir, &before, &after, &err), 0);
    assert_true(after > 0 && after < before);
    struct stat sb;
    assert_int_not_equal(stat(tmp, &sb), 0);
    reopen(f);
    for (int i = 0; i < 30; i++)
        check_series(f->db, i, 0, 720);
    /* The repacked database takes appends and reopens. */
    struct pl_labels *ls = lbl(0);
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append(a, ls, ref_t(720), ref_v(0, 720), NULL), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    pl_labels_free(ls);
    reopen(f);
    check_series(f->db, 0, 0, 721);
}

static void test_repack_refuses_a_database_open_elsewhere(void **state)
{
    struct fx *f = *state;
    struct pl_err err;
    tsdb_close(f->db);
    f->db = NULL;
    int p1[2], p2[2];
    assert_int_equal(pipe(p1), 0);
    assert_int_equal(pipe(p2), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct tsdb *db;
        char c = tsdb_open(&f->o, &db, &err) == 0 ? 'y' : 'n';
        if (write(p1[1], &c, 1) != 1 || read(p2[0], &c, 1) != 1)
            _exit(1);
        tsdb_close(db);
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(p1[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    assert_int_equal(tsdb_repack(f->dir, NULL, NULL, &err), PL_ERR_STATE);
    assert_non_null(strstr(err.msg, "another process"));
    assert_int_equal(write(p2[1], "x", 1), 1);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(p1[0]);
    close(p1[1]);
    close(p2[0]);
    close(p2[1]);
    /* Once it is closed, repacking works. */
    assert_int_equal(tsdb_repack(f->dir, NULL, NULL, &err), 0);
    reopen(f);
}

static void test_repack_reports_a_missing_database(void **state)
{
    struct fx *f = *state;
    struct pl_err err;
    char d[600];
    snprintf(d, sizeof(d), "%s/none", f->dir);
    assert_int_equal(mkdir(d, 0755), 0);
    assert_int_equal(tsdb_repack(d, NULL, NULL, &err), PL_ERR_NOTFOUND);
    rmdir(d);
}

/* Runs a shell command; returns its exit status and its output (stdout and stderr) in out. */
static int sh(const char *cmd, char *out, size_t n)
{
    char full[4200];
    snprintf(full, sizeof(full), "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_import_command_repacks_and_stops_on_bad_lines(void **state)
{
    struct fx *f = *state;
    const char *bin = getenv("PROMLITE_BIN");
    char exe[1024];
    snprintf(exe, sizeof(exe), "%s/promlite", bin ? bin : "");
    if (!bin || access(exe, X_OK) != 0) {
        skip();
        return;
    }
    tsdb_close(f->db);
    f->db = NULL;
    char file[600], bad[600], cmd[4096], out[4096];
    snprintf(file, sizeof(file), "%s/in.om", f->dir);
    snprintf(bad, sizeof(bad), "%s/bad.om", f->dir);
    FILE *o = fopen(file, "w");
    /* Series 0 and 1 (text has no stale marker). */
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 720; j++)
            fprintf(o, "m{s=\"%d\"} %.17g %lld.%03d\n", i, ref_v(i, j),
                    (long long)(ref_t(j) / 1000), (int)(ref_t(j) % 1000));
    fprintf(o, "# EOF\n");
    fclose(o);
    o = fopen(bad, "w");
    fprintf(o, "m{s=\"9\"} 1 1700000000\nm{s=\"9\" 2 1700000015\n# EOF\n");
    fclose(o);
    char db2[600];
    snprintf(db2, sizeof(db2), "%s/second", f->dir);
    /* A new directory: imported, then repacked. */
    snprintf(cmd, sizeof(cmd), "%s import --storage.tsdb.path=%s %s", exe, db2, file);
    assert_int_equal(sh(cmd, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "imported 1440 samples, 2 new series"));
    assert_non_null(strstr(out, "repacked"));
    /* Again: everything is already there (out of order), nothing to repack. */
    assert_int_equal(sh(cmd, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "imported 0 samples, 0 new series"));
    assert_null(strstr(out, "repacked"));
    /* --no-repack, and a malformed line: status 1, what was stored is said. */
    snprintf(cmd, sizeof(cmd), "%s import --no-repack --storage.tsdb.path=%s %s", exe, f->dir, bad);
    assert_int_equal(sh(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "line 2"));
    assert_non_null(strstr(out, "0 samples were stored before the error"));
    snprintf(cmd, sizeof(cmd), "%s import --no-repack --storage.tsdb.path=%s %s", exe, f->dir,
             file);
    assert_int_equal(sh(cmd, out, sizeof(out)), 0);
    assert_null(strstr(out, "repacked"));
    /* Both directories hold the reference data. */
    reopen(f);
    for (int i = 0; i < 2; i++)
        check_series(f->db, i, 0, 720);
    f->o.path = db2;
    reopen(f);
    for (int i = 0; i < 2; i++)
        check_series(f->db, i, 0, 720);
    f->o.path = f->dir;
}

/* ---- a full disk (tmpfs in a private mount namespace of a child; needs root) ---- */

#define BF_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "backfill diskfull child: " __VA_ARGS__);                              \
            fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__);                                     \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* Adds samples [0, nj) of series [i0, i1), skipping what the append rules refuse. */
static int bf_load(struct tsdb_backfill *b, int i0, int i1, int nj, struct pl_err *err)
{
    for (int i = i0; i < i1; i++) {
        char s[64];
        snprintf(s, sizeof(s), "m{s=\"%d\"}", i);
        struct pl_labels *ls;
        int rc = pl_labels_parse(s, strlen(s), &ls, err);
        for (int j = 0; rc == 0 && j < nj; j++) {
            rc = tsdb_backfill_add(b, ls, ref_t(j), ref_v(i, j), err);
            if (rc == PL_ERR_OUT_OF_ORDER || rc == PL_ERR_DUPLICATE)
                rc = 0;
        }
        pl_labels_free(ls);
        if (rc)
            return rc;
    }
    return 0;
}

static long bf_samples(struct tsdb *db)
{
    struct tsdb_summary sum;
    struct pl_err err;
    if (tsdb_summary_get(db, &sum, &err))
        return -1;
    long n = (long)sum.samples;
    tsdb_summary_fini(&sum);
    return n;
}

#define BF_NJ 1440 /* 6 h at 15 s */

static int bf_diskfull_child(const char *mnt, void *ud)
{
    (void)ud;
    char filler[600], dbdir[600];
    snprintf(filler, sizeof(filler), "%s/filler", mnt);
    snprintf(dbdir, sizeof(dbdir), "%s/db", mnt);
    struct tsdb_options o;
    tsdb_options_init(&o);
    o.path = dbdir;
    o.retention_ms = 0;
    o.sync = TSDB_SYNC_NONE;
    o.map_initial_bytes = 16 << 20;
    struct tsdb *db;
    struct pl_err err;
    BF_CHECK(tsdb_open(&o, &db, &err) == 0, "open: %s", err.msg);
    /* 1. The first 100 series are imported. */
    struct tsdb_backfill *b;
    BF_CHECK(tsdb_backfill_new(db, 4 << 20, &b, &err) == 0, "new: %s", err.msg);
    BF_CHECK(bf_load(b, 0, 100, BF_NJ, &err) == 0, "load: %s", err.msg);
    BF_CHECK(tsdb_backfill_flush(b, &err) == 0, "flush: %s", err.msg);
    /* 2. Another file takes every free block: the next flush stops the import, clearly. */
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    BF_CHECK(fd >= 0, "filler");
    static char zeros[1 << 16];
    while (write(fd, zeros, sizeof(zeros)) > 0)
        ;
    close(fd);
    BF_CHECK(bf_load(b, 100, 600, BF_NJ, &err) == 0, "load: %s", err.msg);
    int rc = tsdb_backfill_flush(b, &err);
    BF_CHECK(rc == -ENOSPC, "flush on a full disk: %d %s", rc, err.msg);
    BF_CHECK(strstr(err.msg, "disk full") && strstr(err.msg, dbdir) && strstr(err.msg, "free"),
             "unclear message: %s", err.msg);
    fprintf(stderr, "backfill diskfull: %s\n", err.msg);
    rc = bf_load(b, 600, 601, 1, &err);
    BF_CHECK(rc != 0, "the backfill went on after the error");
    tsdb_backfill_free(b);
    BF_CHECK(bf_samples(db) == 100L * BF_NJ, "stored after the refused flush: %ld", bf_samples(db));
    /* 3. Room again: running the import again, in the same process, completes it. */
    BF_CHECK(unlink(filler) == 0, "unlink");
    BF_CHECK(tsdb_backfill_new(db, 1 << 20, &b, &err) == 0, "new: %s", err.msg);
    rc = bf_load(b, 0, 600, BF_NJ, &err);
    if (rc == 0)
        rc = tsdb_backfill_finish(b, NULL, &err);
    else
        tsdb_backfill_free(b);
    BF_CHECK(rc == 0, "re-run: %s", err.msg);
    BF_CHECK(bf_samples(db) == 600L * BF_NJ, "after the re-run: %ld", bf_samples(db));
    tsdb_close(db);
    BF_CHECK(tsdb_open(&o, &db, &err) == 0, "reopen: %s", err.msg);
    BF_CHECK(bf_samples(db) == 600L * BF_NJ, "after reopening: %ld", bf_samples(db));
    tsdb_close(db);
    return 0;
}

static void test_backfill_full_disk_stops_clearly_and_a_rerun_completes(void **state)
{
    (void)state;
    if (tmpfs_child_run("the importing process", 64, bf_diskfull_child, NULL))
        skip();
}

int test_backfill_run(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_backfill_writes_one_chunk_per_series_and_partition),
        T(test_backfill_small_chunks_stay_whole),
        T(test_backfill_merges_across_flushes),
        T(test_backfill_applies_append_rules),
        T(test_backfill_continues_a_series_with_an_open_chunk),
        T(test_backfill_rerun_completes_and_ignores_stored),
        T(test_backfill_holds_its_series_against_eviction),
        T(test_backfill_runs_concurrently_with_eviction),
        T(test_backfill_buffered_samples_stay_out_of_head_records),
        T(test_backfill_series_forgotten_meanwhile_leave_nothing_behind),
        T(test_backfill_full_disk_stops_clearly_and_a_rerun_completes),
        T(test_repack_keeps_contents_and_shrinks),
        T(test_repack_refuses_a_database_open_elsewhere),
        T(test_repack_reports_a_missing_database),
        T(test_import_command_repacks_and_stops_on_bad_lines),
    };
    return cmocka_run_group_tests_name("backfill", tests, NULL, NULL);
}
