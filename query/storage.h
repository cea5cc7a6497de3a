/*
 * storage.h - what the evaluator needs from storage, as a small vtable.
 *
 * It mirrors the tsdb querier (tsdb.h) one to one, so query_queryable_tsdb
 * is a thin adapter; tests use an in-memory implementation instead, so the
 * evaluator can be tested without LMDB.
 */
#ifndef QUERY_STORAGE_H
#define QUERY_STORAGE_H

#include <stdint.h>

#include "common/err.h"
#include "common/labels.h"
#include "tsdb/matcher.h"
#include "tsdb/tsdb.h"

struct query_queryable {
    void *ctx;
    /* A read view of [mint, maxt]. */
    int (*open)(void *ctx, int64_t mint, int64_t maxt, void **view, struct pl_err *err);
    void (*close)(void *view);
    /* Series matching all matchers, sorted by labels. */
    int (*select)(void *view, struct tsdb_matcher *const *ms, size_t n, void **set,
                  struct pl_err *err);
    /* 1 and *ls (borrowed until the next call), 0 at end, negative on error. */
    int (*next)(void *set, const struct pl_labels **ls);
    /* The current series' samples in [mint, maxt], stale markers included. */
    int (*samples)(void *set, int64_t mint, int64_t maxt, struct tsdb_samples *out,
                   struct pl_err *err);
    void (*set_free)(void *set);
};

/* Fills *out with an adapter over `db` (borrowed; must outlive its use). */
void query_queryable_tsdb(struct tsdb *db, struct query_queryable *out);

#endif
