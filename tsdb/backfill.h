/*
 * backfill.h - bulk loading of historical samples (`promlite import`).
 *
 * A backfill buffers samples per series in memory and, at each flush, writes
 * every series' samples of a 2 h partition as one sealed chunk, encoded once
 * with the best codec for the whole span (no WAL record, no open chunk, no
 * later compaction). Each flush is one LMDB write transaction holding the
 * index entries of new series, the chunks and the series' head state, so a
 * crash leaves the database as of the last flush; running the same import
 * again completes it (samples already stored are ignored as duplicates).
 *
 * tsdb_repack rewrites a closed database with every B-tree page full (keys
 * re-inserted in order with MDB_APPEND into a new file that atomically
 * replaces the old one): after an import, pages split by out-of-order
 * inserts are about 3/4 full.
 */
#ifndef TSDB_BACKFILL_H
#define TSDB_BACKFILL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/labels.h"
#include "tsdb/tsdb.h"

struct tsdb_backfill;

/* Default memory bound: samples buffered before a flush (16 bytes each). */
#define TSDB_BACKFILL_DEFAULT_SAMPLES ((size_t)1 << 20)

/*
 * Starts a backfill into `db` (not read-only), buffering at most
 * `max_samples` samples (0: TSDB_BACKFILL_DEFAULT_SAMPLES) before flushing.
 * Other appenders may run at the same time, but a series fed to the
 * backfill should not be appended to elsewhere until it finishes. Series
 * with buffered samples stay in memory (eviction and series GC skip them)
 * until flushed; a delete that forgets one drops its buffered samples.
 * OUT: *out, released with tsdb_backfill_finish or tsdb_backfill_free.
 */
int tsdb_backfill_new(struct tsdb *db, size_t max_samples, struct tsdb_backfill **out,
                      struct pl_err *err);

/*
 * Adds a sample of the series `ls` (borrowed). Append rules are the
 * appender's: per series, a sample older than the newest one (stored or
 * buffered) gets PL_ERR_OUT_OF_ORDER, the same timestamp with another value
 * PL_ERR_DUPLICATE (same value: ignored, 0), an empty label set or value
 * PL_ERR_INVALID; these skip the sample and leave the backfill usable. When
 * the buffer is full the call flushes: any other error is from that flush
 * (message in err) and the backfill refuses further work.
 */
int tsdb_backfill_add(struct tsdb_backfill *b, const struct pl_labels *ls, int64_t t, double v,
                      struct pl_err *err);

/* Writes the buffered samples (one write transaction). */
int tsdb_backfill_flush(struct tsdb_backfill *b, struct pl_err *err);

struct tsdb_backfill_result {
    uint64_t samples;      /* samples written */
    uint64_t series_new;   /* series created */
    uint64_t chunks;       /* chunks written (a rewrite by a merge counts again) */
    uint64_t chunk_bytes;  /* encoded bytes written */
    uint64_t out_of_order; /* samples rejected as out of order */
    uint64_t duplicates;   /* samples rejected as duplicates */
    uint64_t flushes;      /* write transactions */
};

/* The counts so far (OUT: *res). */
void tsdb_backfill_result_get(const struct tsdb_backfill *b, struct tsdb_backfill_result *res);

/*
 * Flushes and frees the backfill (always consumes `b`). OUT: *res (may be
 * NULL), set on success.
 */
int tsdb_backfill_finish(struct tsdb_backfill *b, struct tsdb_backfill_result *res,
                         struct pl_err *err);

/* Frees the backfill, dropping buffered samples (never stored). NULL-safe. */
void tsdb_backfill_free(struct tsdb_backfill *b);

/*
 * Rewrites the closed database in `path` with full B-tree pages and no free
 * pages: a new file in repack.tmp is written in key order, synced,
 * and renamed over data.mdb (a crash leaves the old or the new file, both
 * complete; a leftover repack.tmp is removed by the next repack).
 * PL_ERR_STATE when another process has the database open (nothing changed).
 * OUT: *before and *after (may be NULL): allocated bytes of data.mdb.
 */
int tsdb_repack(const char *path, uint64_t *before, uint64_t *after, struct pl_err *err);

#endif
