/*
 * memstore.h - an in-memory query_queryable for the evaluator's tests: series
 * kept sorted by labels, samples in time order, matchers from tsdb/matcher.h.
 */
#ifndef TESTS_UNIT_QUERY_MEMSTORE_H
#define TESTS_UNIT_QUERY_MEMSTORE_H

#include <stdint.h>

#include "common/labels.h"
#include "query/storage.h"

struct memstore;

struct memstore *memstore_new(void);
void memstore_free(struct memstore *ms);
/* Removes every series. */
void memstore_clear(struct memstore *ms);
/*
 * Adds a sample to the series `ls` (borrowed, copied when new). A sample at an
 * existing timestamp replaces the old one; samples may come in any order.
 */
void memstore_add(struct memstore *ms, const struct pl_labels *ls, int64_t t, double v);
/* Like memstore_add with the series written as `name{a="x"}`. 0 or PL_ERR_INVALID. */
int memstore_add_text(struct memstore *ms, const char *series, int64_t t, double v);
/* The vtable over ms (borrowed). */
void memstore_queryable(struct memstore *ms, struct query_queryable *out);

#endif
