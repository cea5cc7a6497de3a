/*
 * storage_tsdb.c - query_queryable over the TSDB (tsdb/tsdb.h): the
 * evaluator's storage vtable mapped one to one onto a tsdb querier.
 */
#include "query/storage.h"

static int tq_open(void *ctx, int64_t mint, int64_t maxt, void **view, struct pl_err *err)
{
    struct tsdb_querier *q;
    int rc = tsdb_querier_open(ctx, mint, maxt, &q, err);
    if (rc == 0)
        *view = q;
    return rc;
}

static void tq_close(void *view)
{
    tsdb_querier_close(view);
}

static int tq_select(void *view, struct tsdb_matcher *const *ms, size_t n, void **set,
                     struct pl_err *err)
{
    struct tsdb_series_set *ss;
    int rc = tsdb_select(view, ms, n, &ss, err);
    if (rc == 0)
        *set = ss;
    return rc;
}

static int tq_next(void *set, const struct pl_labels **ls)
{
    return tsdb_series_set_next(set, ls);
}

static int tq_samples(void *set, int64_t mint, int64_t maxt, struct tsdb_samples *out,
                      struct pl_err *err)
{
    return tsdb_series_set_samples(set, mint, maxt, out, err);
}

static void tq_set_free(void *set)
{
    tsdb_series_set_free(set);
}

void query_queryable_tsdb(struct tsdb *db, struct query_queryable *out)
{
    out->ctx = db;
    out->open = tq_open;
    out->close = tq_close;
    out->select = tq_select;
    out->next = tq_next;
    out->samples = tq_samples;
    out->set_free = tq_set_free;
}
