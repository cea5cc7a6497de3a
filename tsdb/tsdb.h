/*
 * tsdb.h - the storage engine's public API (what other folders use).
 *
 * A database is one LMDB environment under a directory. Samples go in through
 * appenders (one batch = one WAL record = one durability unit) and come out
 * through queriers (a consistent read view that never blocks ingestion).
 * Timestamps are int64 milliseconds; values are float64, stored bit-exact
 * (the stale marker TSDB_STALE_NAN_BITS included).
 *
 * Thread safety: a `struct tsdb` may be used from many threads. Each appender
 * and each querier belongs to one thread at a time.
 */
#ifndef TSDB_TSDB_H
#define TSDB_TSDB_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/labels.h"
#include "tsdb/matcher.h"

/* Prometheus's stale marker: a NaN with this exact bit pattern. */
#define TSDB_STALE_NAN_BITS UINT64_C(0x7ff0000000000002)
/* Whether v is the stale marker (compares bits, not isnan()). */
int tsdb_is_stale_nan(double v);
/* The stale marker as a double. */
double tsdb_stale_nan(void);

enum tsdb_sync {
    TSDB_SYNC_BATCH,    /* fsync before each commit returns (default) */
    TSDB_SYNC_INTERVAL, /* fsync every sync_interval_ms */
    TSDB_SYNC_NONE,     /* leave it to the OS */
};

struct tsdb_options {
    const char *path;         /* data directory, created if missing */
    int64_t retention_ms;     /* drop partitions older than this; default 15d */
    uint64_t retention_bytes; /* drop oldest partitions beyond this size; 0 = no limit */
    enum tsdb_sync sync;
    int64_t sync_interval_ms; /* for TSDB_SYNC_INTERVAL; default 1000 */
    /* Accept samples this much older than a series' newest; default 0 (only 0 is supported). */
    int64_t out_of_order_window_ms;
    int read_only;            /* open for reading only (tools) */
    size_t map_initial_bytes; /* first LMDB map size; grown on demand; 0 = 64 MiB */
    /* Checkpoint after this much WAL; 0 = max(4 MiB, 128 B per head series). */
    uint64_t checkpoint_bytes;
    /*
     * Bulk load (import): commits write no WAL record; sealed chunks are
     * durable per commit, open chunks at the checkpoint of tsdb_close. A
     * crash loses the open chunks of the run: re-run the import.
     */
    int bulk_load;
    /*
     * Head eviction: series whose newest sample is older than the newest
     * sample appended minus this leave memory (their data stays queryable
     * from disk; an append loads them back). 0 = 1 h; negative = never
     * (tsdb_head_gc still works).
     */
    int64_t head_idle_ms;
    /* LMDB reader slots: read transactions open at once, all threads; 0 = 512. */
    unsigned max_readers;
};

void tsdb_options_init(struct tsdb_options *o);
/* Parses "batch|interval|none". */
int tsdb_sync_parse(const char *s, enum tsdb_sync *out);

struct tsdb;

/*
 * Opens (creating if needed) the database and replays its WAL; when it
 * returns, the database is ready for appends and queries.
 * OUT: *out, closed with tsdb_close.
 */
int tsdb_open(const struct tsdb_options *o, struct tsdb **out, struct pl_err *err);
/* Seals nothing new, syncs and closes. NULL-safe. */
void tsdb_close(struct tsdb *db);

/* ---- appending ---- */

struct tsdb_appender;

/* Starts a batch. OUT: *out, consumed by commit or rollback. */
int tsdb_appender_begin(struct tsdb *db, struct tsdb_appender **out);

/*
 * Adds a sample to the batch for the series `ls` (borrowed; copied if the
 * series is new). OUT: *ref (may be NULL), a series reference for
 * tsdb_append_ref, valid while the series exists: a delete over its whole
 * range or retention leaving it without samples forgets it (series ids are
 * not reused), and tsdb_append_ref then returns PL_ERR_NOTFOUND (append by
 * labels again). tsdb_append itself looks up again a series forgotten between
 * its lookup and its check.
 * Per-sample errors leave the batch usable: PL_ERR_OUT_OF_ORDER (older than
 * the series' newest sample), PL_ERR_DUPLICATE (same timestamp, different
 * value), PL_ERR_TOO_OLD (outside retention). A duplicate timestamp with the
 * same value is silently ignored (returns 0).
 */
int tsdb_append(struct tsdb_appender *a, const struct pl_labels *ls, int64_t t, double v,
                uint64_t *ref);
/* Like tsdb_append for a series known by reference. PL_ERR_NOTFOUND if the ref is stale. */
int tsdb_append_ref(struct tsdb_appender *a, uint64_t ref, int64_t t, double v);

/* A sample of a series known by reference, for tsdb_append_refs. */
struct tsdb_ref_sample {
    uint64_t ref;
    int64_t t;
    double v;
};
/*
 * Appends in[0..n) in order, as n calls of tsdb_append_ref would, and puts
 * each one's result in rcs[i]. Faster for a scrape's worth of samples: the
 * series ahead are fetched into cache while the current one is added, and a
 * lock is taken once per run of neighbouring series instead of per sample.
 */
void tsdb_append_refs(struct tsdb_appender *a, const struct tsdb_ref_sample *in, size_t n,
                      int *rcs);

struct tsdb_append_result {
    uint64_t samples;    /* samples made durable */
    uint64_t series_new; /* series created by this batch */
};

/*
 * Writes the batch as one WAL record and applies it to the head. On success
 * the samples are durable (per the sync policy) and visible to new queriers.
 * Always consumes `a`. OUT: *res (may be NULL).
 */
int tsdb_appender_commit(struct tsdb_appender *a, struct tsdb_append_result *res,
                         struct pl_err *err);
void tsdb_appender_rollback(struct tsdb_appender *a);

/* ---- querying ---- */

struct tsdb_querier;

/* A read view of [mint, maxt]. OUT: *out, closed with tsdb_querier_close. */
int tsdb_querier_open(struct tsdb *db, int64_t mint, int64_t maxt, struct tsdb_querier **out,
                      struct pl_err *err);
void tsdb_querier_close(struct tsdb_querier *q);

struct tsdb_series_set;

/*
 * Selects the series matching all of ms[0..n) (at least one matcher must not
 * match the empty string, else PL_ERR_INVALID). Series come sorted by label
 * set. OUT: *out, freed with tsdb_series_set_free (before the querier closes).
 */
int tsdb_select(struct tsdb_querier *q, struct tsdb_matcher *const *ms, size_t n,
                struct tsdb_series_set **out, struct pl_err *err);
void tsdb_series_set_free(struct tsdb_series_set *ss);
/*
 * Moves to the next series. Returns 1 and sets *ls (borrowed until the next
 * call), 0 at the end, or a negative error.
 */
int tsdb_series_set_next(struct tsdb_series_set *ss, const struct pl_labels **ls);

/* A reusable array of samples; grown as needed, never shrunk. */
struct tsdb_samples {
    int64_t *t;
    double *v;
    size_t n, cap;
};
void tsdb_samples_init(struct tsdb_samples *s);
void tsdb_samples_fini(struct tsdb_samples *s);

/*
 * Replaces out's contents with the current series' samples in [mint, maxt]
 * (within the querier's range), in time order, stale markers included,
 * tombstoned ranges excluded. Reads head and sealed chunks seamlessly.
 */
int tsdb_series_set_samples(struct tsdb_series_set *ss, int64_t mint, int64_t maxt,
                            struct tsdb_samples *out, struct pl_err *err);

/* A sorted list of owned strings. */
struct tsdb_strings {
    char **v;
    size_t n, cap;
};
void tsdb_strings_fini(struct tsdb_strings *s);

/* Label names of the series matching ms (all series when n == 0) in the querier's range. */
int tsdb_label_names(struct tsdb_querier *q, struct tsdb_matcher *const *ms, size_t n,
                     struct tsdb_strings *out, struct pl_err *err);
/* Values of label `name` among series matching ms (all series when n == 0). */
int tsdb_label_values(struct tsdb_querier *q, const char *name, struct tsdb_matcher *const *ms,
                      size_t n, struct tsdb_strings *out, struct pl_err *err);

/* ---- maintenance ---- */

/*
 * Hides the samples of matching series in [mint, maxt] at once (tombstones).
 * A series deleted over its whole range is forgotten: it may be written again
 * from any timestamp afterwards.
 */
int tsdb_delete_series(struct tsdb *db, struct tsdb_matcher *const *ms, size_t n, int64_t mint,
                       int64_t maxt, struct pl_err *err);
/* Rewrites chunks under tombstones and reclaims their space. */
int tsdb_clean_tombstones(struct tsdb *db, struct pl_err *err);
/*
 * Merges, in every partition behind the head, each series' chunks into one
 * (this also runs by itself, a bounded step at a time, as partitions age).
 * For bulk loads whose series arrive one after another.
 */
int tsdb_compact(struct tsdb *db, struct pl_err *err);
/*
 * One head eviction round (a background thread runs them, see head_idle_ms):
 * series with no sample at or after `before` are written to disk if needed
 * and leave memory, once no reader older than that write remains (else at a
 * later round). Waits up to a second for open appenders to commit
 * (PL_ERR_TIMEOUT otherwise, nothing lost). OUT: *evicted (may be NULL).
 */
int tsdb_head_gc(struct tsdb *db, int64_t before, uint64_t *evicted, struct pl_err *err);
/* Writes a consistent copy of the database into `dir` while ingestion continues. */
int tsdb_snapshot(struct tsdb *db, const char *dir, struct pl_err *err);

struct tsdb_stats {
    uint64_t series;      /* series in the index */
    uint64_t head_series; /* series in memory (drops when idle ones are evicted) */
    uint64_t head_chunks;
    uint64_t samples_appended; /* since open */
    uint64_t out_of_order_rejected;
    uint64_t duplicate_rejected;
    uint64_t wal_records;       /* since open */
    uint64_t wal_bytes;         /* since open */
    uint64_t sealed_chunks;     /* written since open */
    uint64_t disk_bytes;        /* size of the LMDB data file in use */
    uint64_t map_bytes;         /* LMDB map size (grows on demand) */
    uint64_t used_bytes;        /* LMDB pages in use (up to the last page) */
    int64_t min_time, max_time; /* of stored samples; INT64_MAX/INT64_MIN when empty */
    uint64_t head_evicted;      /* series evicted from memory since open */
    uint64_t wal_tail_bytes;    /* WAL after the head checkpoint (replayed after a crash) */
    uint64_t wal_tail_limit;    /* the checkpoint runs when wal_tail_bytes exceeds this */
    uint64_t pending_series;    /* series with WAL samples read at open, not yet applied */
    uint64_t checkpoints;       /* head checkpoints since open */
    uint64_t checkpoint_bytes;  /* head record bytes written by them */
    uint64_t checkpoint_ns;     /* wall time spent in them */
};
void tsdb_stats_get(struct tsdb *db, struct tsdb_stats *out);

/* Cardinality of one label name. */
struct tsdb_label_card {
    char *name;      /* owned */
    uint64_t values; /* distinct values */
    uint64_t series; /* series having the label */
};

/* A full inspection of what is stored (walks the index and chunk headers). */
struct tsdb_summary {
    uint64_t series;
    uint64_t samples;              /* in sealed chunks and open chunks */
    uint64_t chunks;               /* sealed */
    uint64_t head_chunks;          /* open chunks (in memory or checkpointed) */
    uint64_t sealed_bytes;         /* encoded sealed chunk bytes */
    uint64_t disk_bytes;           /* data file size on disk */
    uint64_t used_bytes;           /* LMDB pages in use */
    int64_t min_time, max_time;    /* INT64_MAX/INT64_MIN when empty */
    struct tsdb_label_card *names; /* sorted by series count, descending */
    size_t nnames;
};
/* OUT: *out, released with tsdb_summary_fini. */
int tsdb_summary_get(struct tsdb *db, struct tsdb_summary *out, struct pl_err *err);
void tsdb_summary_fini(struct tsdb_summary *s);

#endif
