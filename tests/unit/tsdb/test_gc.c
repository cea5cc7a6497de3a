/*
 * test_gc.c - series garbage collection after retention (tsdb/gc.c) and the
 * appender's bookkeeping it relies on (pending marks, batch map slots).
 */
#include "tests.h"

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

int test_gc_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retention_forgets_series_left_without_data, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_retention_at_open_forgets_series_not_in_memory,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_gc_keeps_a_series_with_samples_pending_in_an_appender,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(
            test_appender_batches_with_colliding_series_stay_independent, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("tsdb_gc", tests, NULL, NULL);
}
