/*
 * test_gc.c - series garbage collection after retention (tsdb/gc.c) and the
 * appender's bookkeeping it relies on (pending marks, batch map slots).
 */
#include "tests.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "tsdb/tsdb_int.h"

#define HOUR (3600 * INT64_C(1000))

/* Appends n samples of `series` from `from` every `step` ms in one batch. */
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

/* The values of label `name` over all time, joined by ','. */
static void values(struct tsdb *db, const char *name, char *out, size_t outlen)
{
    struct tsdb_querier *q;
    struct pl_err err;
    assert_int_equal(tsdb_querier_open(db, INT64_MIN / 2, INT64_MAX / 2, &q, &err), 0);
    struct tsdb_strings s = {0};
    assert_int_equal(tsdb_label_values(q, name, NULL, 0, &s, &err), 0);
    out[0] = 0;
    for (size_t i = 0; i < s.n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, outlen - len, "%s%s", i ? "," : "", s.v[i]);
    }
    tsdb_strings_fini(&s);
    tsdb_querier_close(q);
}

static uint64_t index_series(struct tsdb *db)
{
    struct tsdb_stats st;
    tsdb_stats_get(db, &st);
    return st.series;
}

/* Number of postings keys (label pairs with at least one series). */
static size_t postings_keys(struct tsdb *db)
{
    MDB_txn *txn;
    assert_int_equal(tsdb__rtxn_begin(db, &txn), 0);
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, db->dbi_post, &st), 0);
    MDB_stat hs;
    assert_int_equal(mdb_stat(txn, db->dbi_head, &hs), 0);
    tsdb__rtxn_end(db, txn);
    return st.ms_entries;
}

static void test_retention_forgets_series_left_without_data(void **state)
{
    struct fx *f = *state;
    f->o.retention_ms = 6 * HOUR;
    fx_reopen(f);
    /* "gone" is scraped for one hour, then disappears; "live" goes on for a day. */
    uint64_t ref_gone = 0;
    {
        struct pl_labels *ls;
        struct pl_err err;
        const char *g = "gone{job=\"a\",pod=\"p1\"}";
        assert_int_equal(pl_labels_parse(g, strlen(g), &ls, &err), 0);
        struct tsdb_appender *a;
        assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
        for (int i = 0; i < 60; i++)
            assert_int_equal(tsdb_append(a, ls, i * 60000, i, &ref_gone), 0);
        assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
        pl_labels_free(ls);
    }
    char buf[256];
    values(f->db, "pod", buf, sizeof(buf));
    assert_string_equal(buf, "p1");
    for (int h = 0; h < 24; h++)
        fill(f->db, "live{job=\"a\",pod=\"p2\"}", h * HOUR, 60000, 60);

    const char *mg[] = {"__name__=gone"};
    assert_int_equal(sel(f->db, mg, 1, INT64_MIN / 2, INT64_MAX / 2, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    values(f->db, "pod", buf, sizeof(buf));
    assert_string_equal(buf, "p2");
    values(f->db, "__name__", buf, sizeof(buf));
    assert_string_equal(buf, "live");
    assert_int_equal(index_series(f->db), 1);
    /* The forgotten series' reference is stale; the live series is untouched. */
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append_ref(a, ref_gone, 24 * HOUR, 1), PL_ERR_NOTFOUND);
    tsdb_appender_rollback(a);
    const char *ml[] = {"__name__=live"};
    assert_true(sel(f->db, ml, 1, INT64_MIN / 2, INT64_MAX / 2, NULL, 0) > 0);

    /* Gone for good: after a restart too (no head record, no index entry). */
    fx_reopen(f);
    assert_int_equal(sel(f->db, mg, 1, INT64_MIN / 2, INT64_MAX / 2, NULL, 0), 0);
    assert_int_equal(index_series(f->db), 1);
    values(f->db, "pod", buf, sizeof(buf));
    assert_string_equal(buf, "p2");

    /* It comes back when appended again, under a new id (ids are not reused). */
    uint64_t ref_new = 0;
    {
        struct pl_labels *ls;
        struct pl_err err;
        const char *g = "gone{job=\"a\",pod=\"p1\"}";
        assert_int_equal(pl_labels_parse(g, strlen(g), &ls, &err), 0);
        assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
        assert_int_equal(tsdb_append(a, ls, 24 * HOUR, 5, &ref_new), 0);
        assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
        pl_labels_free(ls);
    }
    assert_true(ref_new > ref_gone);
    assert_int_equal(sel(f->db, mg, 1, INT64_MIN / 2, INT64_MAX / 2, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "gone{job=\"a\", pod=\"p1\"}");
    values(f->db, "pod", buf, sizeof(buf));
    assert_string_equal(buf, "p1,p2");
    fx_reopen(f);
    struct tsdb_samples smp;
    tsdb_samples_init(&smp);
    assert_int_equal(series_samples(f->db, "gone{job=\"a\",pod=\"p1\"}", 0, INT64_MAX / 2, &smp),
                     1);
    assert_int_equal(smp.t[0], 24 * HOUR);
    tsdb_samples_fini(&smp);
    assert_int_equal(index_series(f->db), 2);
}

static void test_retention_at_open_forgets_series_not_in_memory(void **state)
{
    struct fx *f = *state;
    char name[64];
    /* 50 short-lived series in the first hour, one that lives for a day; no retention yet. */
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "churn{i=\"%d\"}", i);
        fill(f->db, name, 0, 60000, 30);
    }
    for (int h = 0; h < 24; h++)
        fill(f->db, "stay{i=\"x\"}", h * HOUR, 60000, 60);
    /* A tombstone on a short-lived series goes with it. */
    {
        struct tsdb_matcher *ms[1];
        const char *spec = "i=3";
        mk_matchers(ms, &spec, 1);
        struct pl_err err;
        assert_int_equal(tsdb_delete_series(f->db, ms, 1, 0, 60000, &err), 0);
        free_matchers(ms, 1);
    }
    assert_int_equal(f->db->ntombs, 1);
    assert_int_equal(index_series(f->db), 51);
    size_t keys_before = postings_keys(f->db);
    /* The series are checkpointed, not in memory, when retention applies at open. */
    f->o.retention_ms = 6 * HOUR;
    fx_reopen(f);
    assert_int_equal(index_series(f->db), 1);
    assert_int_equal(f->db->ntombs, 0);
    /* Postings of 50 values of "i" and of "churn" went; "stay", "x" and the all-series list stay.
     */
    assert_int_equal(postings_keys(f->db), keys_before - 51);
    char buf[256];
    values(f->db, "i", buf, sizeof(buf));
    assert_string_equal(buf, "x");
    const char *m[] = {"__name__=~churn|stay"};
    assert_true(sel(f->db, m, 1, INT64_MIN / 2, INT64_MAX / 2, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "stay{i=\"x\"}");
    MDB_txn *txn;
    assert_int_equal(tsdb__rtxn_begin(f->db, &txn), 0);
    MDB_stat hs;
    assert_int_equal(mdb_stat(txn, f->db->dbi_head, &hs), 0);
    tsdb__rtxn_end(f->db, txn);
    assert_int_equal(hs.ms_entries, 1);
}

static void test_retention_by_size_forgets_series_of_dropped_partitions(void **state)
{
    struct fx *f = *state;
    char name[64];
    for (int s = 0; s < 40; s++) {
        snprintf(name, sizeof(name), "early{s=\"%d\"}", s);
        fill(f->db, name, 0, 15000, 240);
    }
    for (int h = 0; h < 12; h++)
        for (int s = 0; s < 40; s++) {
            snprintf(name, sizeof(name), "late{s=\"%d\"}", s);
            fill(f->db, name, h * HOUR, 15000, 240);
        }
    assert_int_equal(index_series(f->db), 80);
    MDB_txn *txn;
    assert_int_equal(tsdb__rtxn_begin(f->db, &txn), 0);
    uint64_t full = tsdb__used_bytes(f->db, txn);
    tsdb__rtxn_end(f->db, txn);
    f->o.retention_bytes = full / 2;
    fx_reopen(f);
    /* The first partitions went, and the series that only had data there. */
    assert_int_equal(index_series(f->db), 40);
    char buf[256];
    values(f->db, "__name__", buf, sizeof(buf));
    assert_string_equal(buf, "late");
    const char *m[] = {"__name__=early"};
    assert_int_equal(sel(f->db, m, 1, INT64_MIN / 2, INT64_MAX / 2, NULL, 0), 0);
    fill(f->db, "early{s=\"1\"}", 12 * HOUR, 15000, 10);
    assert_int_equal(sel(f->db, m, 1, INT64_MIN / 2, INT64_MAX / 2, NULL, 0), 10);
}

static void test_gc_keeps_a_series_with_samples_pending_in_an_appender(void **state)
{
    struct fx *f = *state;
    f->o.retention_ms = 6 * HOUR;
    fx_reopen(f);
    fill(f->db, "p{k=\"1\"}", 0, 60000, 10);
    fill(f->db, "live{k=\"2\"}", 0, 60000, 60);
    /* An appender takes a sample of p, then retention moves past p's data. */
    struct pl_labels *ls;
    struct pl_err err;
    const char *ps = "p{k=\"1\"}";
    assert_int_equal(pl_labels_parse(ps, strlen(ps), &ls, &err), 0);
    struct tsdb_appender *slow;
    assert_int_equal(tsdb_appender_begin(f->db, &slow), 0);
    assert_int_equal(tsdb_append(slow, ls, 20 * HOUR, 42, NULL), 0);
    pl_labels_free(ls);
    for (int h = 1; h < 21; h++)
        fill(f->db, "live{k=\"2\"}", h * HOUR, 60000, 60);
    assert_true(f->db->gc_done >= 12 * HOUR); /* a full sweep ran with the new cut */
    assert_int_equal(index_series(f->db), 2);
    assert_int_equal(tsdb_appender_commit(slow, NULL, &err), 0);
    struct tsdb_samples smp;
    tsdb_samples_init(&smp);
    assert_int_equal(series_samples(f->db, ps, 12 * HOUR, INT64_MAX / 2, &smp), 1);
    assert_int_equal(smp.t[0], 20 * HOUR);
    assert_true(smp.v[0] == 42);
    /* Without the pending sample it would have gone: a rolled back batch leaves no mark. */
    fill(f->db, "q{k=\"3\"}", 20 * HOUR, 60000, 1);
    const char *qs = "q{k=\"3\"}";
    assert_int_equal(pl_labels_parse(qs, strlen(qs), &ls, &err), 0);
    struct tsdb_appender *rb;
    assert_int_equal(tsdb_appender_begin(f->db, &rb), 0);
    assert_int_equal(tsdb_append(rb, ls, 20 * HOUR + 60000, 1, NULL), 0);
    tsdb_appender_rollback(rb);
    pl_labels_free(ls);
    for (int h = 21; h < 30; h++)
        fill(f->db, "live{k=\"2\"}", h * HOUR, 60000, 60);
    const char *mq[] = {"__name__=q"};
    assert_int_equal(sel(f->db, mq, 1, INT64_MIN / 2, INT64_MAX / 2, NULL, 0), 0);
    /* p's sample at 20 h is before the new cut (about 24 h) as well. */
    assert_int_equal(index_series(f->db), 1);
    tsdb_samples_fini(&smp);
}

/*
 * Series GC judges a series that eviction took out of memory by its head
 * record: forgotten when its newest sample is before the cut, kept (under
 * the same id, which appends by labels find again) when it has newer data.
 */
static void test_gc_judges_evicted_series_by_their_head_record(void **state)
{
    struct fx *f = *state;
    f->o.retention_ms = 6 * HOUR;
    fx_reopen(f);
    struct pl_err err;
    uint64_t ev = 0;
    fill(f->db, "a{k=\"1\"}", 0, 60000, 60); /* up to 1 h, evicted at once */
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &ev, &err), 0);
    assert_int_equal(ev, 1);
    for (int h = 0; h < 9; h++)
        fill(f->db, "c{k=\"2\"}", h * HOUR, 60000, 60); /* up to 9 h: the cut passes a */
    const char *ma[] = {"__name__=a"}, *mc[] = {"__name__=c"};
    assert_true(f->db->gc_done >= 2 * HOUR);
    assert_int_equal(sel(f->db, ma, 1, INT64_MIN / 2, INT64_MAX / 2, NULL, 0), 0);
    assert_int_equal(index_series(f->db), 1);
    const char *cs = "c{k=\"2\"}";
    struct pl_labels *ls;
    assert_int_equal(pl_labels_parse(cs, strlen(cs), &ls, &err), 0);
    uint64_t ref_c = 0, ref2 = 0;
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append(a, ls, 8 * HOUR + 59 * 60000, 59, &ref_c), 0); /* a duplicate */
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    assert_int_equal(tsdb_head_gc(f->db, INT64_MAX, &ev, &err), 0);
    assert_int_equal(ev, 1);
    /* Another series moves the retention cut to 6 h: between a's data and c's newest. */
    for (int h = 9; h < 13; h++)
        fill(f->db, "d{k=\"3\"}", h * HOUR, 60000, 60);
    assert_int_equal(f->db->gc_cut, 6 * HOUR);
    assert_int_equal(f->db->gc_done, 6 * HOUR);
    assert_int_equal(sel(f->db, mc, 1, INT64_MIN / 2, INT64_MAX / 2, NULL, 0), 3 * 60);
    assert_int_equal(index_series(f->db), 2);
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append(a, ls, 9 * HOUR, 60, &ref2), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    assert_true(ref_c != 0 && ref2 == ref_c);
    pl_labels_free(ls);
    fx_reopen(f);
    assert_int_equal(index_series(f->db), 2);
    assert_int_equal(sel(f->db, mc, 1, INT64_MIN / 2, INT64_MAX / 2, NULL, 0), 3 * 60 + 1);
}

/* Batch map slots: series whose ids collide must not see each other's entries in the next batch. */
static void test_appender_batches_with_colliding_series_stay_independent(void **state)
{
    struct fx *f = *state;
    char name[64];
    /* Ids 0..256 in batches of 64 (the batch map stays at 256 slots: ids 0 and 256 collide). */
    for (int b = 0; b < 5; b++) {
        struct tsdb_appender *a;
        struct pl_err err;
        assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
        for (int i = b * 64; i < (b + 1) * 64 && i <= 256; i++) {
            snprintf(name, sizeof(name), "c{i=\"%d\"}", i);
            struct pl_labels *ls;
            assert_int_equal(pl_labels_parse(name, strlen(name), &ls, &err), 0);
            assert_int_equal(tsdb_append(a, ls, 1000, 0, NULL), 0);
            pl_labels_free(ls);
        }
        assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    }
    /* Refs are ids + 1. */
    uint64_t A = 1, B = 257, X = 2;
    struct tsdb_appender *a;
    struct pl_err err;
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append_ref(a, A, 2000, 1), 0);
    assert_int_equal(tsdb_append_ref(a, B, 2000, 2), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
    /* All at one timestamp, as in a scrape: B must not be compared with X. */
    assert_int_equal(tsdb_appender_begin(f->db, &a), 0);
    assert_int_equal(tsdb_append_ref(a, A, 3000, 1), 0);
    assert_int_equal(tsdb_append_ref(a, X, 3000, 5), 0);
    assert_int_equal(tsdb_append_ref(a, B, 3000, 7), 0);
    struct tsdb_append_result res;
    assert_int_equal(tsdb_appender_commit(a, &res, &err), 0);
    assert_int_equal(res.samples, 3);
    struct tsdb_samples smp;
    tsdb_samples_init(&smp);
    assert_int_equal(series_samples(f->db, "c{i=\"256\"}", 0, 10000, &smp), 3);
    assert_true(smp.v[2] == 7);
    tsdb_samples_fini(&smp);
    /* And no series is left marked pending. */
    for (uint32_t id = 0; id <= 256; id++)
        assert_int_equal(tsdb__head_get(f->db, id)->pending, 0);
}

/*
 * Appenders racing series GC: a clock thread moves time (and so the retention
 * cut) forward, churn threads append to randomly chosen series by reference
 * (falling back to labels when the ref went stale, as the scrape loop does)
 * and a reader lists and selects. Every acknowledged sample newer than the
 * cut must be found, and no append may fail for any other reason.
 */
#define NCHURN    300
#define CHURNERS  2
#define CLOCK_END (60 * HOUR)

struct race {
    struct tsdb *db;
    _Atomic int64_t now;
    atomic_int stop, errors;
    atomic_long commits, ticks; /* churners and the clock keep pace with each other */
    pthread_mutex_t mu;
    int64_t last[NCHURN]; /* newest acknowledged sample per series (mu) */
    uint64_t ref[CHURNERS][NCHURN];
    unsigned seed[CHURNERS];
};

static void race_err(struct race *r, const char *what, int rc, const char *msg)
{
    if (atomic_fetch_add(&r->errors, 1) < 5)
        fprintf(stderr, "race: %s: %d %s\n", what, rc, msg ? msg : "");
}

static void *race_clock(void *arg)
{
    struct race *r = arg;
    struct pl_labels *ls;
    struct pl_err err;
    const char *s = "clock{k=\"1\"}";
    pl_labels_parse(s, strlen(s), &ls, &err);
    long tick = 0;
    for (int64_t t = 0; t <= CLOCK_END; t += 60000) {
        /* Let the churners do a few commits per minute of simulated time. */
        while (atomic_load(&r->commits) < tick * 2 && atomic_load(&r->errors) == 0)
            sched_yield();
        tick++;
        atomic_store(&r->ticks, tick);
        struct tsdb_appender *a;
        tsdb_appender_begin(r->db, &a);
        int rc = tsdb_append(a, ls, t, 1, NULL);
        if (rc) {
            tsdb_appender_rollback(a);
            race_err(r, "clock append", rc, NULL);
            continue;
        }
        if ((rc = tsdb_appender_commit(a, NULL, &err)))
            race_err(r, "clock commit", rc, err.msg);
        atomic_store(&r->now, t);
    }
    pl_labels_free(ls);
    atomic_store(&r->stop, 1);
    return NULL;
}

struct churner {
    struct race *r;
    int no;
};

static void *race_churn(void *arg)
{
    struct churner *c = arg;
    struct race *r = c->r;
    char name[64];
    while (!atomic_load(&r->stop)) {
        if (atomic_load(&r->commits) >= (atomic_load(&r->ticks) + 1) * 2) {
            sched_yield(); /* ahead of the clock */
            continue;
        }
        int i = (int)(rand_r(&r->seed[c->no]) % NCHURN);
        /* Series i belongs to churner i % CHURNERS: its samples stay in order. */
        if (i % CHURNERS != c->no)
            continue;
        pthread_mutex_lock(&r->mu);
        int64_t t = atomic_load(&r->now) + 1 + c->no;
        if (t <= r->last[i])
            t = r->last[i] + 1;
        pthread_mutex_unlock(&r->mu);
        struct tsdb_appender *a;
        struct pl_err err;
        tsdb_appender_begin(r->db, &a);
        int rc =
            r->ref[c->no][i] ? tsdb_append_ref(a, r->ref[c->no][i], t, (double)t) : PL_ERR_NOTFOUND;
        if (rc == PL_ERR_NOTFOUND) {
            snprintf(name, sizeof(name), "churn{i=\"%d\"}", i);
            struct pl_labels *ls;
            pl_labels_parse(name, strlen(name), &ls, &err);
            rc = tsdb_append(a, ls, t, (double)t, &r->ref[c->no][i]);
            pl_labels_free(ls);
        }
        if (rc == PL_ERR_TOO_OLD) {
            tsdb_appender_rollback(a);
            continue;
        }
        if (rc) {
            tsdb_appender_rollback(a);
            race_err(r, "churn append", rc, NULL);
            continue;
        }
        struct tsdb_append_result res;
        if ((rc = tsdb_appender_commit(a, &res, &err))) {
            race_err(r, "churn commit", rc, err.msg);
            continue;
        }
        if (res.samples != 1) {
            race_err(r, "acknowledged sample dropped", (int)res.samples, name);
            continue;
        }
        pthread_mutex_lock(&r->mu);
        r->last[i] = t;
        pthread_mutex_unlock(&r->mu);
        atomic_fetch_add(&r->commits, 1);
    }
    return NULL;
}

static void *race_read(void *arg)
{
    struct race *r = arg;
    while (!atomic_load(&r->stop)) {
        struct tsdb_querier *q;
        struct pl_err err;
        if (tsdb_querier_open(r->db, INT64_MIN / 2, INT64_MAX / 2, &q, &err)) {
            race_err(r, "querier", -1, err.msg);
            continue;
        }
        struct tsdb_strings s = {0};
        if (tsdb_label_values(q, "i", NULL, 0, &s, &err))
            race_err(r, "label values", -1, err.msg);
        tsdb_strings_fini(&s);
        struct tsdb_matcher *m;
        tsdb_matcher_new(TSDB_MATCH_EQ, "__name__", "churn", &m, &err);
        struct tsdb_series_set *ss;
        if (tsdb_select(q, &m, 1, &ss, &err) == 0) {
            struct tsdb_samples smp;
            tsdb_samples_init(&smp);
            const struct pl_labels *ls;
            while (tsdb_series_set_next(ss, &ls) == 1)
                if (tsdb_series_set_samples(ss, INT64_MIN / 2, INT64_MAX / 2, &smp, &err))
                    race_err(r, "samples", -1, err.msg);
            tsdb_samples_fini(&smp);
            tsdb_series_set_free(ss);
        } else {
            race_err(r, "select", -1, err.msg);
        }
        tsdb_matcher_free(m);
        tsdb_querier_close(q);
    }
    return NULL;
}

static void test_appenders_and_readers_racing_series_gc_lose_nothing(void **state)
{
    struct fx *f = *state;
    f->o.retention_ms = 3 * HOUR;
    fx_reopen(f);
    static struct race r;
    memset(&r, 0, sizeof(r));
    r.db = f->db;
    pthread_mutex_init(&r.mu, NULL);
    for (int i = 0; i < NCHURN; i++)
        r.last[i] = INT64_MIN;
    unsigned seed = test_seed();
    pthread_t th[CHURNERS + 2];
    struct churner ch[CHURNERS];
    for (int c = 0; c < CHURNERS; c++) {
        r.seed[c] = seed + (unsigned)c;
        ch[c].r = &r;
        ch[c].no = c;
        assert_int_equal(pthread_create(&th[c], NULL, race_churn, &ch[c]), 0);
    }
    assert_int_equal(pthread_create(&th[CHURNERS], NULL, race_read, &r), 0);
    assert_int_equal(pthread_create(&th[CHURNERS + 1], NULL, race_clock, &r), 0);
    for (int c = 0; c < CHURNERS + 2; c++)
        pthread_join(th[c], NULL);
    assert_int_equal(atomic_load(&r.errors), 0);
    /* GC ran, and forgot some series: the churn is faster than the index grows. */
    assert_true(f->db->gc_cut >= CLOCK_END - 4 * HOUR);
    int64_t cut = f->db->gc_cut;
    size_t kept = 0, checked = 0;
    struct tsdb_samples smp;
    tsdb_samples_init(&smp);
    char name[64];
    for (int i = 0; i < NCHURN; i++) {
        if (r.last[i] == INT64_MIN || r.last[i] < cut)
            continue;
        snprintf(name, sizeof(name), "churn{i=\"%d\"}", i);
        assert_int_equal(series_samples(f->db, name, r.last[i], r.last[i], &smp), 1);
        assert_true(smp.v[0] == (double)r.last[i]);
        checked++;
    }
    kept = (size_t)index_series(f->db);
    fprintf(stderr, "race: cut %lld h, %zu series checked, %zu in the index, %zu forgotten\n",
            (long long)(cut / HOUR), checked, kept, f->db->ngrave);
    assert_true(checked > 0);
    assert_true(f->db->ngrave > 0);
    fx_reopen(f);
    for (int i = 0; i < NCHURN; i++) {
        if (r.last[i] == INT64_MIN || r.last[i] < cut)
            continue;
        snprintf(name, sizeof(name), "churn{i=\"%d\"}", i);
        assert_int_equal(series_samples(f->db, name, r.last[i], r.last[i], &smp), 1);
    }
    tsdb_samples_fini(&smp);
    pthread_mutex_destroy(&r.mu);
}

int test_gc_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retention_forgets_series_left_without_data, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_retention_at_open_forgets_series_not_in_memory,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_retention_by_size_forgets_series_of_dropped_partitions,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_gc_keeps_a_series_with_samples_pending_in_an_appender,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_gc_judges_evicted_series_by_their_head_record,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(
            test_appender_batches_with_colliding_series_stay_independent, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_appenders_and_readers_racing_series_gc_lose_nothing,
                                        fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("tsdb_gc", tests, NULL, NULL);
}
