/*
 * test_evict.c - the head's memory layout (exact-size open chunks, label sets
 * encoded with name symbols) and head eviction (tsdb_head_gc): idle series leave memory, their
 * data stays queryable (sealed chunks + head record), an append finds the same
 * series id, queriers with older snapshots hold eviction back, and queries,
 * appends and eviction run concurrently (run under ASan by .ci).
 */
#include "tests.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/labels.h"
#include "common/timeutil.h"
#include "tsdb/inspect.h"
#include "tsdb/tsdb_int.h"

#define STEP 15000

/* Appends n samples (t = t0 + k * STEP, v = t / 1000) to each series, one commit per step. */
static void fill(struct tsdb *db, const char *const *series, size_t ns, int64_t t0, int n)
{
    struct pl_labels *ls[16];
    struct pl_err err;
    for (size_t i = 0; i < ns; i++)
        assert_int_equal(pl_labels_parse(series[i], strlen(series[i]), &ls[i], &err), 0);
    for (int k = 0; k < n; k++) {
        struct tsdb_appender *a;
        assert_int_equal(tsdb_appender_begin(db, &a), 0);
        int64_t t = t0 + (int64_t)k * STEP;
        for (size_t i = 0; i < ns; i++)
            assert_int_equal(tsdb_append(a, ls[i], t, (double)(t / 1000), NULL), 0);
        assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    }
    for (size_t i = 0; i < ns; i++)
        pl_labels_free(ls[i]);
}

/* Checks that series holds exactly the samples t0 + k * STEP, k < n, with v = t / 1000. */
static void check(struct tsdb *db, const char *series, int64_t t0, int n)
{
    struct tsdb_samples s;
    tsdb_samples_init(&s);
    assert_int_equal(series_samples(db, series, INT64_MIN / 2, INT64_MAX / 2, &s), n);
    for (int k = 0; k < n; k++) {
        assert_int_equal(s.t[k], t0 + (int64_t)k * STEP);
        assert_true(s.v[k] == (double)(s.t[k] / 1000));
    }
    tsdb_samples_fini(&s);
}

static uint64_t head_series(struct tsdb *db)
{
    struct tsdb_stats st;
    tsdb_stats_get(db, &st);
    return st.head_series;
}

/* ---- memory layout ---- */

static void test_open_stream_chunks_hold_no_slack_and_round_trip(void **state)
{
    (void)state;
    /* Samples that take every path of the coder: decimals, rescales, shifts, exceptions, XOR. */
    static const double vs[] = {1,   1.5,      2.25, 4096,  8192, 0.1,       1e300, -0.0,
                                NAN, INFINITY, 3,    3.001, 7,    123456789, 1e-9,  42};
    enum { N = 600 };
    struct tsdb_chunk_enc e;
    tsdb_chunk_enc_init_kind(&e, TSDB_ENC_STREAM);
    int64_t t = -5000000000000;
    int64_t ts[N];
    double v[N];
    unsigned seed = 3;
    for (int i = 0; i < N; i++) {
        t += i % 50 == 49 ? (int64_t)1 << 40 : (int64_t)(15000 + rand_r(&seed) % 7);
        ts[i] = t;
        v[i] = i % 3 ? vs[(unsigned)rand_r(&seed) % 16] : (double)i / 100;
        assert_int_equal(tsdb_chunk_enc_append(&e, t, v[i]), 0);
        size_t len;
        tsdb_chunk_enc_bytes(&e, &len);
        /* The buffer is the coded bytes rounded up to a malloc size class. */
        assert_true(e.cap >= len && e.cap - len < 24);
    }
    size_t len;
    const uint8_t *p = tsdb_chunk_enc_bytes(&e, &len);
    struct tsdb_chunk_dec d;
    assert_int_equal(tsdb_chunk_dec_init(&d, p, len), 0);
    for (int i = 0; i < N; i++) {
        int64_t gt;
        double gv;
        assert_int_equal(tsdb_chunk_dec_next(&d, &gt, &gv), 1);
        assert_int_equal(gt, ts[i]);
        assert_memory_equal(&gv, &v[i], 8);
    }
    int64_t gt;
    double gv;
    assert_int_equal(tsdb_chunk_dec_next(&d, &gt, &gv), 0);
    tsdb_chunk_enc_fini(&e);
}

static void test_label_sets_with_many_names_survive_lookup_index_and_reload(void **state)
{
    struct fx *f = *state;
    enum { NS = 300 }; /* symbols past 127 take two varint bytes */
    uint64_t refs[NS];
    struct pl_err err;
    for (int pass = 0; pass < 3; pass++) {
        struct tsdb_appender *a;
        assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
        for (int i = 0; i < NS; i++) {
            char s[128];
            snprintf(s, sizeof(s), "m{name_%03d=\"v%d\",z=\"%s\"}", i, i, i % 2 ? "odd" : "even");
            struct pl_labels *ls;
            assert_int_equal(pl_labels_parse(s, strlen(s), &ls, &err), 0);
            uint64_t ref;
            assert_int_equal(tsdb_append(a, ls, 1000 * (pass + 1), i, &ref), 0);
            if (pass == 0)
                refs[i] = ref;
            else
                assert_int_equal(ref, refs[i]); /* found by labels, in memory or reloaded */
            pl_labels_free(ls);
        }
        assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
        if (pass == 1)
            fx_reopen(f);
    }
    char out[256];
    assert_int_equal(
        sel(f->db, (const char *const[]){"name_255=v255"}, 1, 0, 10000, out, sizeof(out)), 3);
    assert_string_equal(out, "m{name_255=\"v255\", z=\"odd\"}");
    assert_int_equal(sel(f->db, (const char *const[]){"z=even"}, 1, 0, 10000, NULL, 0), 3 * NS / 2);
}

static const char *const IDLE = "m{s=\"idle\"}";
static const char *const BUSY = "m{s=\"busy\"}";

static void test_idle_series_leave_memory_and_stay_queryable(void **state)
{
    struct fx *f = *state;
    const char *both[] = {IDLE, BUSY};
    /* 300 samples: two sealed chunks and 60 in the open chunk. */
    fill(f->db, both, 2, 0, 300);
    fill(f->db, both + 1, 1, 300 * STEP, 300);
    assert_int_equal(head_series(f->db), 2);
    uint64_t ev = 99;
    struct pl_err err;
    /* Nothing is older than the first sample. */
    assert_int_equal(tsdb_head_gc(f->db, 0, &ev, &err), 0);
    assert_int_equal(ev, 0);
    assert_int_equal(tsdb_head_gc(f->db, 300 * STEP, &ev, &err), 0);
    assert_int_equal(ev, 1);
    struct tsdb_stats st;
    tsdb_stats_get(f->db, &st);
    assert_int_equal(st.head_series, 1);
    assert_int_equal(st.head_evicted, 1);
    check(f->db, IDLE, 0, 300);
    check(f->db, BUSY, 0, 600);
    /* Selection by time range still sees the evicted series' newest sample. */
    assert_int_equal(
        sel(f->db, (const char *const[]){"s=idle"}, 1, 299 * STEP, 299 * STEP, NULL, 0), 1);
    assert_int_equal(
        sel(f->db, (const char *const[]){"s=idle"}, 1, 300 * STEP, 400 * STEP, NULL, 0), 0);
    /* A second round finds nothing more to do. */
    assert_int_equal(tsdb_head_gc(f->db, 300 * STEP, &ev, &err), 0);
    assert_int_equal(ev, 0);
    fx_reopen(f);
    check(f->db, IDLE, 0, 300);
    check(f->db, BUSY, 0, 600);
}

static void test_evicted_series_takes_appends_under_the_same_id(void **state)
{
    struct fx *f = *state;
    struct pl_labels *ls;
    struct pl_err err;
    assert_int_equal(pl_labels_parse(IDLE, strlen(IDLE), &ls, &err), 0);
    fill(f->db, &IDLE, 1, 0, 130);
    uint64_t ref1 = 0, ref2 = 0, ev = 0;
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append(a, ls, 129 * STEP, 129 * 15, &ref1), 0); /* duplicate: ignored */
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &ev, &err), 0);
    assert_int_equal(ev, 1);
    assert_int_equal(head_series(f->db), 0);

    /* By labels: the same id, and the newest sample still rules appends. */
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append(a, ls, 100 * STEP, 1, &ref2), PL_ERR_OUT_OF_ORDER);
    assert_int_equal(tsdb_append(a, ls, 129 * STEP, 5, &ref2), PL_ERR_DUPLICATE);
    assert_int_equal(tsdb_append(a, ls, 130 * STEP, 130 * 15, &ref2), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    assert_true(ref1 != 0 && ref1 == ref2);
    assert_int_equal(head_series(f->db), 1);
    check(f->db, IDLE, 0, 131);

    /* By a ref taken before eviction: the series is loaded back. */
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &ev, &err), 0);
    assert_int_equal(ev, 1);
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append_ref(a, ref1, 131 * STEP, 131 * 15), 0);
    assert_int_equal(tsdb_append_ref(a, ref1 + 1000, 131 * STEP, 131 * 15), PL_ERR_NOTFOUND);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    check(f->db, IDLE, 0, 132);
    struct tsdb_stats st;
    tsdb_stats_get(f->db, &st);
    assert_int_equal(st.series, 1);
    assert_int_equal(st.head_evicted, 2);
    pl_labels_free(ls);
    fx_reopen(f);
    check(f->db, IDLE, 0, 132);
}

static void test_series_never_committed_are_evicted(void **state)
{
    struct fx *f = *state;
    struct pl_labels *ls;
    struct pl_err err;
    assert_int_equal(pl_labels_parse(BUSY, strlen(BUSY), &ls, &err), 0);
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append(a, ls, 1000, 1, NULL), 0);
    tsdb_appender_rollback(a);
    assert_int_equal(head_series(f->db), 1);
    uint64_t ev = 0;
    assert_int_equal(tsdb_head_gc(f->db, INT64_MIN, &ev, &err), 0);
    assert_int_equal(ev, 1);
    assert_int_equal(head_series(f->db), 0);
    assert_int_equal(app1(f->db, BUSY, 1000, 1), 0);
    check(f->db, BUSY, 1000, 1);
    pl_labels_free(ls);
}

static void test_eviction_waits_for_readers_older_than_its_flush(void **state)
{
    struct fx *f = *state;
    fill(f->db, &IDLE, 1, 0, 50);
    struct tsdb_querier *q;
    struct pl_err err;
    /* The querier's snapshot predates the head record the round writes. */
    assert_int_equal(tsdb_querier_open(f->db, INT64_MIN / 2, INT64_MAX / 2, &q, &err), 0);
    uint64_t ev = 9;
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &ev, &err), 0);
    assert_int_equal(ev, 0);
    assert_int_equal(head_series(f->db), 1);
    /* The old snapshot still reads every sample (from memory). */
    struct tsdb_matcher *m;
    assert_int_equal(tsdb_matcher_new(TSDB_MATCH_EQ, "s", "idle", &m, &err), 0);
    struct tsdb_series_set *ss;
    assert_int_equal(tsdb_select(q, &m, 1, &ss, &err), 0);
    const struct pl_labels *got;
    assert_int_equal(tsdb_series_set_next(ss, &got), 1);
    struct tsdb_samples s;
    tsdb_samples_init(&s);
    assert_int_equal(tsdb_series_set_samples(ss, INT64_MIN / 2, INT64_MAX / 2, &s, &err), 0);
    assert_int_equal(s.n, 50);
    tsdb_samples_fini(&s);
    tsdb_series_set_free(ss);
    tsdb_matcher_free(m);
    tsdb_querier_close(q);
    /* The pending candidate goes at the next round. */
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &ev, &err), 0);
    assert_int_equal(ev, 1);
    check(f->db, IDLE, 0, 50);
    /* A sample appended between flush and eviction keeps the series in memory. */
    assert_int_equal(app1(f->db, IDLE, 50 * STEP, 50 * 15), 0);
    assert_int_equal(tsdb_querier_open(f->db, 0, 1, &q, &err), 0);
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &ev, &err), 0);
    assert_int_equal(ev, 0);
    tsdb_querier_close(q);
    assert_int_equal(app1(f->db, IDLE, 51 * STEP, 51 * 15), 0);
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &ev, &err), 0);
    assert_int_equal(ev, 0);
    assert_int_equal(head_series(f->db), 1);
    check(f->db, IDLE, 0, 52);
}

static void test_open_appender_postpones_eviction(void **state)
{
    struct fx *f = *state;
    fill(f->db, &IDLE, 1, 0, 10);
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    uint64_t ev = 9;
    struct pl_err err;
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &ev, &err), PL_ERR_TIMEOUT);
    assert_int_equal(ev, 0);
    assert_non_null(strstr(err.msg, "appenders"));
    tsdb_appender_rollback(a);
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &ev, &err), 0);
    assert_int_equal(ev, 1);
    check(f->db, IDLE, 0, 10);
}

/*
 * A crash after eviction wrote a head record newer than the checkpoint: the
 * WAL replay skips the samples the record already holds.
 */
static void test_crash_after_eviction_replays_exactly(void **state)
{
    struct fx *f = *state;
    fill(f->db, &IDLE, 1, 0, 10);
    /* Closing checkpoints; the child opens its own environment (LMDB's rule for fork). */
    tsdb_close(f->db);
    f->db = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct tsdb *db;
        struct pl_err err;
        if (tsdb_open(&f->o, &db, &err) != 0)
            _exit(3);
        const char *both[] = {IDLE, BUSY};
        fill(db, both, 2, 10 * STEP, 140); /* WAL only; IDLE seals once */
        uint64_t ev = 0;
        if (tsdb_head_gc(db, 150 * STEP, &ev, &err) != 0 || ev != 2)
            _exit(2);
        fill(db, &BUSY, 1, 150 * STEP, 5); /* BUSY is loaded back */
        _exit(0);                          /* no close, no checkpoint */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    struct pl_err err;
    assert_int_equal(tsdb_open(&f->o, &f->db, &err), 0);
    check(f->db, IDLE, 0, 150);
    check(f->db, BUSY, 10 * STEP, 145);
}

/* ---- concurrency ---- */

#define CN   64 /* series */
#define CDUR 1500000000LL

struct conc {
    struct tsdb *db;
    struct pl_labels *ls[CN];
    /* Samples per series: at most `upper` are visible, at least `committed`. */
    _Atomic int committed[CN], upper[CN];
    _Atomic int stop;
    _Atomic long queries, evictions, bad;
};

static void *conc_appender(void *arg)
{
    struct conc *c = arg;
    uint64_t refs[CN] = {0};
    unsigned seed = 7;
    int round = 0;
    while (!atomic_load(&c->stop)) {
        struct tsdb_appender *a;
        if (tsdb_appender_begin(c->db, &a))
            break;
        int touched[CN], nt = 0;
        /* Series with a ref: by labels, by ref one at a time, or by refs in one call. */
        int mode = round % 3;
        struct tsdb_ref_sample in[CN];
        int in_idx[CN], in_rc[CN], nin = 0;
        /* A quarter of the series per round: the others go idle and get evicted. */
        for (int i = 0; i < CN; i++) {
            if ((unsigned)rand_r(&seed) % 4)
                continue;
            int k = atomic_load(&c->committed[i]);
            int64_t t = (int64_t)k * STEP;
            if (refs[i] && mode == 2) {
                in[nin] = (struct tsdb_ref_sample){refs[i], t, (double)(t / 1000)};
                in_idx[nin++] = i;
                continue;
            }
            int rc = refs[i] && mode == 1
                         ? tsdb_append_ref(a, refs[i], t, (double)(t / 1000))
                         : tsdb_append(a, c->ls[i], t, (double)(t / 1000), &refs[i]);
            if (rc)
                atomic_fetch_add(&c->bad, 1);
            else
                touched[nt++] = i;
        }
        tsdb_append_refs(a, in, (size_t)nin, in_rc);
        for (int j = 0; j < nin; j++) {
            if (in_rc[j])
                atomic_fetch_add(&c->bad, 1);
            else
                touched[nt++] = in_idx[j];
        }
        for (int j = 0; j < nt; j++)
            atomic_fetch_add(&c->upper[touched[j]], 1);
        struct pl_err err;
        if (tsdb_appender_commit(a, NULL, &err)) {
            atomic_fetch_add(&c->bad, 1);
            break;
        }
        for (int j = 0; j < nt; j++)
            atomic_fetch_add(&c->committed[touched[j]], 1);
        round++;
    }
    return NULL;
}

static void *conc_querier(void *arg)
{
    struct conc *c = arg;
    struct tsdb_samples s;
    tsdb_samples_init(&s);
    unsigned seed = 11;
    while (!atomic_load(&c->stop)) {
        int i = (int)((unsigned)rand_r(&seed) % CN);
        int before = atomic_load(&c->committed[i]);
        struct tsdb_querier *q;
        struct pl_err err;
        if (tsdb_querier_open(c->db, INT64_MIN / 2, INT64_MAX / 2, &q, &err)) {
            atomic_fetch_add(&c->bad, 1);
            break;
        }
        struct tsdb_matcher *m;
        tsdb_matcher_new(TSDB_MATCH_EQ, "i", c->ls[i]->v[1].value, &m, &err);
        struct tsdb_series_set *ss;
        long n = -1;
        if (tsdb_select(q, &m, 1, &ss, &err) == 0) {
            const struct pl_labels *got;
            if (tsdb_series_set_next(ss, &got) == 1) {
                if (tsdb_series_set_samples(ss, INT64_MIN / 2, INT64_MAX / 2, &s, &err) == 0)
                    n = (long)s.n;
            } else {
                n = 0;
            }
            tsdb_series_set_free(ss);
        }
        tsdb_matcher_free(m);
        tsdb_querier_close(q);
        int after = atomic_load(&c->upper[i]);
        /* Every sample committed before the query is seen, in order, with its value. */
        int ok = n >= before && n <= after;
        for (long k = 0; ok && k < n; k++)
            ok = s.t[k] == k * STEP && s.v[k] == (double)(s.t[k] / 1000);
        if (!ok) {
            fprintf(stderr, "series %d: %ld samples, committed %d..%d\n", i, n, before, after);
            atomic_fetch_add(&c->bad, 1);
        }
        atomic_fetch_add(&c->queries, 1);
    }
    tsdb_samples_fini(&s);
    return NULL;
}

static void *conc_gc(void *arg)
{
    struct conc *c = arg;
    while (!atomic_load(&c->stop)) {
        /* Idle: behind the newest sample of any series by more than two steps. */
        int newest = 0;
        for (int i = 0; i < CN; i++)
            if (atomic_load(&c->committed[i]) > newest)
                newest = atomic_load(&c->committed[i]);
        uint64_t ev = 0;
        struct pl_err err;
        int rc = tsdb_head_gc(c->db, (int64_t)(newest - 3) * STEP, &ev, &err);
        if (rc && rc != PL_ERR_TIMEOUT) {
            fprintf(stderr, "gc: %s\n", err.msg);
            atomic_fetch_add(&c->bad, 1);
        }
        atomic_fetch_add(&c->evictions, (long)ev);
        usleep(2000);
    }
    return NULL;
}

static void test_queries_and_appends_run_concurrently_with_eviction(void **state)
{
    struct fx *f = *state;
    struct conc *c = calloc(1, sizeof(*c));
    c->db = f->db;
    struct pl_err err;
    for (int i = 0; i < CN; i++) {
        char s[64];
        snprintf(s, sizeof(s), "m{i=\"%d\"}", i);
        assert_int_equal(pl_labels_parse(s, strlen(s), &c->ls[i], &err), 0);
    }
    pthread_t ta, tq[2], tg;
    pthread_create(&ta, NULL, conc_appender, c);
    pthread_create(&tq[0], NULL, conc_querier, c);
    pthread_create(&tq[1], NULL, conc_querier, c);
    pthread_create(&tg, NULL, conc_gc, c);
    int64_t t0 = pl_mono_ns();
    /* At least CDUR, longer (up to 10 s) on a loaded machine until evictions happened. */
    while ((pl_mono_ns() - t0 < CDUR || atomic_load(&c->evictions) < 20) &&
           pl_mono_ns() - t0 < 10 * 1000000000LL && !atomic_load(&c->bad))
        usleep(10000);
    atomic_store(&c->stop, 1);
    pthread_join(ta, NULL);
    pthread_join(tq[0], NULL);
    pthread_join(tq[1], NULL);
    pthread_join(tg, NULL);
    fprintf(stderr, "concurrent eviction: %ld queries, %ld evictions\n", (long)c->queries,
            (long)c->evictions);
    assert_int_equal(c->bad, 0);
    assert_true(c->queries > 0);
    assert_true(c->evictions > 0);
    /* Everything committed is there, after a restart too. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < CN; i++) {
            char s[64];
            snprintf(s, sizeof(s), "m{i=\"%d\"}", i);
            check(f->db, s, 0, c->committed[i]);
        }
        fx_reopen(f);
    }
    for (int i = 0; i < CN; i++)
        pl_labels_free(c->ls[i]);
    free(c);
}

/* Deletes samples [k0, k1] (in STEP units) of the series matching s=<v>; whole: all time. */
static void del_steps(struct tsdb *db, const char *spec, int64_t k0, int64_t k1)
{
    struct tsdb_matcher *ms[1];
    mk_matchers(ms, &spec, 1);
    struct pl_err err;
    assert_int_equal(tsdb_delete_series(db, ms, 1, k0 * STEP, k1 * STEP, &err), 0);
    free_matchers(ms, 1);
}

/* Number of head records stored. */
static size_t head_records(struct tsdb *db)
{
    MDB_txn *txn;
    assert_int_equal(tsdb__rtxn_begin(db, &txn), 0);
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, db->dbi_head, &st), 0);
    tsdb__rtxn_end(db, txn);
    return st.ms_entries;
}

/*
 * Deletes see an evicted series through its head record: a range delete
 * hides samples of the open chunk that only the head record holds (and
 * cleaning rewrites that record), a delete over the whole range forgets the
 * series and its head record.
 */
static void test_deletes_of_an_evicted_series_cover_its_head_record(void **state)
{
    struct fx *f = *state;
    struct pl_err err;
    fill(f->db, &IDLE, 1, 0, 130); /* a sealed chunk of 120, 10 in the open chunk */
    uint64_t ev = 0;
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &ev, &err), 0);
    assert_int_equal(ev, 1);
    del_steps(f->db, "s=idle", 10, 12);
    del_steps(f->db, "s=idle", 125, 127);
    assert_int_equal(head_series(f->db), 0);
    for (int pass = 0; pass < 3; pass++) {
        struct tsdb_samples s;
        tsdb_samples_init(&s);
        assert_int_equal(series_samples(f->db, IDLE, INT64_MIN / 2, INT64_MAX / 2, &s), 124);
        for (size_t i = 0, k = 0; i < s.n; i++, k++) {
            while ((k >= 10 && k <= 12) || (k >= 125 && k <= 127))
                k++;
            assert_int_equal(s.t[i], (int64_t)k * STEP);
        }
        tsdb_samples_fini(&s);
        if (pass == 0)
            assert_int_equal(tsdb_clean_tombstones(f->db, &err), 0);
        else
            fx_reopen(f);
    }
    /* The newest sample still rules appends (the record keeps max_t). */
    assert_int_equal(app1(f->db, IDLE, 129 * STEP, 1), PL_ERR_DUPLICATE);
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &ev, &err), 0);
    /* Over its whole range, as the head record tells it: forgotten with its record. */
    del_steps(f->db, "s=idle", 0, 129);
    struct tsdb_stats st;
    tsdb_stats_get(f->db, &st);
    assert_int_equal(st.series, 0);
    assert_int_equal(head_records(f->db), 0);
    assert_int_equal(
        sel(f->db, (const char *const[]){"s=idle"}, 1, INT64_MIN / 2, INT64_MAX / 2, NULL, 0), 0);
    fx_reopen(f);
    assert_int_equal(head_records(f->db), 0);
    assert_int_equal(
        sel(f->db, (const char *const[]){"s=idle"}, 1, INT64_MIN / 2, INT64_MAX / 2, NULL, 0), 0);
}

/*
 * A snapshot of a database with evicted series holds their data (head
 * records written by eviction, WAL records since the checkpoint that replay
 * as duplicates of them) and a delete's tombstone over part of it.
 */
static void test_snapshot_holds_evicted_series(void **state)
{
    struct fx *f = *state;
    struct pl_err err;
    const char *both[] = {IDLE, BUSY};
    fill(f->db, both, 2, 0, 130);
    uint64_t ev = 0;
    assert_int_equal(tsdb_head_gc(f->db, 130 * STEP, &ev, &err), 0);
    assert_int_equal(ev, 2);
    fill(f->db, both + 1, 1, 130 * STEP, 10);
    del_steps(f->db, "s=idle", 125, 127);
    char dir[600];
    snprintf(dir, sizeof(dir), "%s-snap", f->dir);
    assert_int_equal(tsdb_snapshot(f->db, dir, &err), 0);
    struct tsdb_options o = f->o;
    o.path = dir;
    struct tsdb *db;
    assert_int_equal(tsdb_open(&o, &db, &err), 0);
    assert_int_equal(
        sel(db, (const char *const[]){"s=idle"}, 1, INT64_MIN / 2, INT64_MAX / 2, NULL, 0), 127);
    check(db, BUSY, 0, 140);
    tsdb_close(db);
    rm_rf(dir);
}

#define SN 400 /* series of the summary race */

struct sum_race {
    struct tsdb *db;
    struct pl_labels *ls[SN];
    _Atomic int stop;
    _Atomic long rounds, bad;
};

/* Evicts every series, then loads them all back (a duplicate append loads, adds nothing). */
static void *sum_churn(void *arg)
{
    struct sum_race *r = arg;
    while (!atomic_load(&r->stop)) {
        uint64_t ev;
        struct pl_err err;
        int rc = tsdb_head_gc(r->db, INT64_MAX, &ev, &err);
        struct tsdb_appender *a;
        if ((rc && rc != PL_ERR_TIMEOUT) || tsdb_appender_begin(r->db, &a)) {
            atomic_fetch_add(&r->bad, 1);
            break;
        }
        for (int i = 0; i < SN; i++)
            if (tsdb_append(a, r->ls[i], 9 * STEP, 9 * 15, NULL))
                atomic_fetch_add(&r->bad, 1);
        tsdb_appender_rollback(a);
        atomic_fetch_add(&r->rounds, 1);
    }
    return NULL;
}

/*
 * tsdb_summary_get counts each open chunk once, from memory or from its head
 * record, while series are evicted and loaded back under it.
 */
static void test_summary_counts_each_series_once_while_eviction_runs(void **state)
{
    struct fx *f = *state;
    struct sum_race *r = calloc(1, sizeof(*r));
    r->db = f->db;
    struct pl_err err;
    struct tsdb_appender *a;
    for (int i = 0; i < SN; i++) {
        char s[64];
        snprintf(s, sizeof(s), "m{i=\"%d\"}", i);
        assert_int_equal(pl_labels_parse(s, strlen(s), &r->ls[i], &err), 0);
    }
    for (int k = 0; k < 10; k++) {
        assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
        for (int i = 0; i < SN; i++)
            assert_int_equal(tsdb_append(a, r->ls[i], k * STEP, k * 15, NULL), 0);
        assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    }
    pthread_t t;
    pthread_create(&t, NULL, sum_churn, r);
    int64_t t0 = pl_mono_ns();
    long sums = 0, wrong = 0;
    while ((pl_mono_ns() - t0 < 1000000000LL || atomic_load(&r->rounds) < 5) &&
           pl_mono_ns() - t0 < 10 * 1000000000LL && !atomic_load(&r->bad)) {
        struct tsdb_summary sum;
        assert_int_equal(tsdb_summary_get(f->db, &sum, &err), 0);
        if (sum.samples != SN * 10 || sum.head_chunks != SN) {
            if (wrong++ < 3)
                fprintf(stderr, "summary: %llu samples, %llu open chunks\n",
                        (unsigned long long)sum.samples, (unsigned long long)sum.head_chunks);
        }
        tsdb_summary_fini(&sum);
        sums++;
    }
    atomic_store(&r->stop, 1);
    pthread_join(t, NULL);
    fprintf(stderr, "summary race: %ld summaries, %ld wrong, %ld evict+load rounds\n", sums, wrong,
            (long)r->rounds);
    assert_int_equal(r->bad, 0);
    assert_int_equal(wrong, 0);
    for (int i = 0; i < SN; i++)
        pl_labels_free(r->ls[i]);
    free(r);
}

int test_evict_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_stream_chunks_hold_no_slack_and_round_trip),
        cmocka_unit_test_setup_teardown(
            test_label_sets_with_many_names_survive_lookup_index_and_reload, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_idle_series_leave_memory_and_stay_queryable, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_evicted_series_takes_appends_under_the_same_id,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_series_never_committed_are_evicted, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_eviction_waits_for_readers_older_than_its_flush,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_appender_postpones_eviction, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_eviction_replays_exactly, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_queries_and_appends_run_concurrently_with_eviction,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_deletes_of_an_evicted_series_cover_its_head_record,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_holds_evicted_series, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_summary_counts_each_series_once_while_eviction_runs,
                                        fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("tsdb_evict", tests, NULL, NULL);
}
