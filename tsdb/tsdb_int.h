/*
 * tsdb_int.h - internals shared by the files of the storage engine.
 *
 * The engine is one LMDB environment (Howard Chu, "LMDB: Lightning Memory-
 * Mapped Database", and lmdb.h) holding the series index, sealed chunks, the
 * head checkpoint and the write-ahead log, plus an in-memory head with one
 * open Gorilla chunk per active series (Pelkonen et al., VLDB 2015).
 *
 * Named databases and their formats (integers in keys are big-endian so that
 * LMDB's memcmp order is numeric order; integers in values are little-endian):
 *
 * meta: small records, key = ASCII name
 *   "version"   u32 LE   format version (TSDB_FORMAT_VERSION)
 *   "next_id"   u32 LE   next series id to hand out
 *   "ckpt_seq"  u64 LE   WAL sequence covered by the head checkpoint
 *   "max_t", "min_t" i64 LE newest/oldest sample at the checkpoint
 *   "compact_pos" u64 LE  partition << 32 | series id where compaction resumes
 *
 * series: key = series id (u32 BE, 4 bytes)
 *   OFFSET SIZE  FIELD
 *   0      8     min_t  i64 LE  first sample written (ms)
 *   8      8     hash   u64 LE  pl_labels hash of the set
 *   16     var   labels (varint npairs, then per pair: varint nlen, name,
 *                varint vlen, value), pairs sorted by name
 *
 * series_key: key = hash u64 BE (8) + series id u32 BE (4); value empty.
 *   Hash collisions are resolved by reading every id under the hash prefix
 *   and comparing label sets.
 *
 * postings: key = name, 0x00, value, 0x00, first id u32 BE; value = page
 *   OFFSET SIZE  FIELD
 *   0      var   count (varint, >= 1)
 *   var    var   count-1 deltas (varint) from the previous id; first id is in the key
 *   A page holds at most TSDB_POSTINGS_PAGE ids, all ids sorted ascending.
 *   The pair ("", "") lists every series (used for negative-only selections).
 *
 * chunks: key = partition u32 BE (4) + series id u32 BE (4) + mint u64 BE (8,
 *   biased: t ^ 1<<63, so negative times sort first). Value:
 *   OFFSET SIZE  FIELD
 *   0      8     maxt i64 LE
 *   8      var   sealed chunk (tsdb/chunk.h, any encoding)
 *   partition = floor(mint / TSDB_PARTITION_MS) + 2^31; a chunk never spans
 *   two partitions (the head seals at the boundary).
 *
 * head: key = series id u32 BE; the series' open chunk at the last checkpoint
 *   OFFSET SIZE  FIELD
 *   0      8     max_t   i64 LE  newest sample of the series (INT64_MIN: none)
 *   8      8     last_v  u64 LE  bits of that sample's value
 *   16     var   open chunk bytes (tsdb_chunk_enc_bytes), may be empty
 *
 * wal: key = sequence u64 BE; value = snappy(record), record:
 *   OFFSET SIZE  FIELD
 *   0      1     TSDB_WAL_VERSION
 *   1      var   nsamples (varint)
 *   then per sample: id delta (zigzag varint, from the previous sample's id),
 *   t delta (zigzag varint, from the previous sample's t; the first from 0),
 *   value (8 bytes LE, the bit pattern).
 *
 * tombstones: key = series id u32 BE; value = pairs of (mint i64 LE, maxt i64 LE).
 */
#ifndef TSDB_TSDB_INT_H
#define TSDB_TSDB_INT_H

#include "tsdb/tsdb.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/buf.h"
#include "tsdb/chunk.h"

#define TSDB_FORMAT_VERSION  1
#define TSDB_WAL_VERSION     1
#define TSDB_PARTITION_MS    (2 * 3600 * INT64_C(1000))
#define TSDB_POSTINGS_PAGE   512
#define TSDB_SEAL_SAMPLES    120
#define TSDB_STRIPES         4096
#define TSDB_STRIPE_RUN      8
#define TSDB_ID_PAGE_BITS    16
#define TSDB_ID_PAGE         (1u << TSDB_ID_PAGE_BITS)
#define TSDB_ID_PAGES        (1u << (32 - TSDB_ID_PAGE_BITS))
#define TSDB_MAX_LABELS_SIZE (64 * 1024)
/*
 * Checkpoint when the WAL since the last one exceeds this many bytes per head
 * series (a checkpoint costs about one head record per series), but at most
 * TSDB_CKPT_MAX_BYTES: a restart after a crash reads the whole tail, ~4 ms per
 * MiB, so the cap bounds it (~0.25 s) however many series there are.
 */
#define TSDB_CKPT_BYTES_PER_SERIES 128
#define TSDB_CKPT_MAX_BYTES        (UINT64_C(64) << 20)
/* Series whose lazily replayed samples one commit applies when the WAL is over its bound. */
#define TSDB_PEND_STEP 16384

#ifdef PL_UNIT_TESTING
#define TESTABLE
#else
#define TESTABLE static
#endif

/*
 * An in-memory series: loaded on first append (or WAL replay) after open,
 * evicted by tsdb__head_gc once idle. One allocation with its label set,
 * which is kept in the `series` value encoding (varint npairs, then per pair
 * varint nlen, name, varint vlen, value): 70-120 bytes for a node_exporter
 * series against 180-250 as a struct pl_labels. Field order leaves no
 * padding (168 bytes before the labels).
 *
 * Lifetime: a pointer read from the id table (tsdb__head_get) is valid only
 * while the series' stripe lock or commit_mu is held, or, for appenders,
 * between tsdb_appender_begin and commit/rollback (the head pin): eviction
 * holds all of these while it unlinks and frees a series.
 */
struct tsdb__series {
    uint64_t hash;     /* pl_labels hash of the set */
    int64_t min_t;     /* first sample, INT64_MAX before any */
    int64_t max_t;     /* newest sample, INT64_MIN before any */
    uint64_t last_v;   /* bits of the newest sample's value */
    uint64_t seal_txn; /* LMDB txn id that wrote the newest sealed chunk */
    /*
     * Chunks sealed by a commit whose transaction is not yet committed, as
     * records (u32 LE length, sealed chunk); owned. Readers use them until
     * the chunks are visible in LMDB.
     */
    uint8_t *sealing;
    uint32_t sealing_len;
    /* What an append checks (with max_t and last_v) is in the first 64 bytes. */
    uint32_t id;
    uint8_t persisted; /* 1: index entries committed to LMDB; 2: forgotten (deleted) */
    uint8_t dirty;     /* changed since the last head checkpoint */
    /*
     * Appenders holding samples of this series not yet committed (atomic;
     * set under the stripe lock). Series GC never forgets a series with
     * pending samples (gc.c).
     */
    uint16_t pending;
    uint16_t lab_len; /* bytes of lab (at most 65535) */
    struct tsdb_chunk_enc enc;
    uint8_t lab[]; /* the label set: varint n, then per pair varint name symbol,
                      varint value length, value bytes; pairs sorted by name */
};

/* The open chunk of a series forgotten by the write transaction `txn`. */
struct tsdb__ghost {
    uint32_t id;
    uint64_t txn;
    struct tsdb_chunk_enc enc; /* owned */
};

/*
 * Label names as small integers (symbols) for the head's encoded label sets:
 * names repeat across every series, and a symbol takes one byte where the
 * name took 4-10. Names are interned (common/intern.h) and never freed, so
 * neither are symbols. Readers look names up without locks (pages never
 * move); adding a name takes mu.
 */
#define TSDB_SYM_PAGE_BITS 12
#define TSDB_SYM_PAGE      (1u << TSDB_SYM_PAGE_BITS)
#define TSDB_SYM_PAGES     4096
struct tsdb__syms {
    _Atomic(const char **) pages[TSDB_SYM_PAGES]; /* symbol -> interned name */
    atomic_uint n;
    pthread_mutex_t mu;
    const char **map; /* open addressing on the interned pointer; holds names */
    uint32_t *map_id;
    size_t cap;
};

/* Open-addressing map label hash -> series (several series may share a hash). */
struct tsdb__smap {
    struct tsdb__series **slots; /* the hash is the series' own: 8 bytes a slot */
    size_t cap, n;               /* cap is a power of two */
    const struct tsdb__syms *syms;
};

struct tsdb__sample;
struct tsdb_appender;

/*
 * WAL samples after the checkpoint, decoded at open and not yet applied to
 * their series (lazy replay, pend.c). Samples are stored in WAL order
 * (sequential writes: the decode is what a restart waits for); those of id i
 * form a chain first[i] -> next[] -> ... -> last[i]. The arrays never change
 * after open; done[i] is set under i's stripe lock with commit_mu held; left
 * (ids with samples not applied) and scan (where drain steps resume) are
 * guarded by commit_mu.
 */
#define TSDB_PEND_NONE UINT32_MAX
struct tsdb__pend {
    uint32_t nids;
    uint32_t *first, *last; /* per id; TSDB_PEND_NONE: no sample */
    uint32_t *next;         /* per sample */
    int64_t *t;
    uint64_t *v;
    uint8_t *done;
    size_t n, cap; /* samples */
    uint32_t left, scan;
};

/* A series found idle and flushed by one eviction round, evicted by a later step. */
struct tsdb__gc_cand {
    uint32_t id;
    int64_t max_t; /* unchanged since the flush, or the series is busy again */
};

/* Head eviction (head.c): the appender gate, pending candidates, the GC thread. */
struct tsdb__headgc {
    pthread_mutex_t mu; /* guards live, closed */
    pthread_cond_t cv;
    uint32_t live; /* appenders between begin and commit/rollback */
    int closed;    /* an eviction waits for live == 0; begins wait */
    /* Serialises rounds; guards the fields below. */
    pthread_mutex_t run_mu;
    struct tsdb__gc_cand *cand;
    size_t ncand, capcand;
    uint64_t cand_txn; /* LMDB txn from which every candidate's head record is current */
    /* The round thread (opt.head_idle_ms >= 0 and writable). */
    pthread_t thread;
    int running;
    pthread_cond_t thread_cv; /* on mu */
    atomic_uint_fast64_t evicted;
};

struct tsdb__tomb {
    uint32_t id;
    uint32_t n;
    int64_t *iv; /* n pairs (mint, maxt), owned */
};

struct tsdb {
    struct tsdb_options opt;
    char *path;
    MDB_env *env;
    MDB_dbi dbi_meta, dbi_series, dbi_skey, dbi_post, dbi_chunks, dbi_head, dbi_wal, dbi_tomb;
    size_t mapsize;
    /* Read transactions hold it shared; growing the map holds it exclusively. */
    pthread_rwlock_t env_lock;
    /* Bumped (under env_lock) whenever LMDB maps the file anew: cached map ranges go stale. */
    atomic_uint map_gen;
    /* tsdb_map_release's cache of the map's address range, valid for mr_gen (mr_mu). */
    pthread_mutex_t mr_mu;
    unsigned mr_gen;
    int mr_valid;
    uintptr_t mr_lo, mr_hi;
    /* Serialises write transactions (commits, checkpoints, deletes, retention). */
    pthread_mutex_t commit_mu;
    /* Serialises series creation and the map below against writers. */
    pthread_rwlock_t map_lock;
    struct tsdb__smap map;
    /* id -> series, two levels so that readers never see a moved array. */
    _Atomic(struct tsdb__series **) pages[TSDB_ID_PAGES];
    pthread_mutex_t stripes[TSDB_STRIPES];
    atomic_uint_fast32_t next_id;
    uint32_t next_id_persisted;
    uint64_t wal_seq, ckpt_seq;
    uint64_t wal_bytes_since_ckpt;
    uint64_t ckpt_bytes; /* checkpoint when the WAL since the last one exceeds this */
    int failed;          /* a write failed after touching the head: reopen needed */
    /* A spare appender (its arrays reused) and the commit's scratch (commit_mu). */
    pthread_mutex_t spare_mu;
    struct tsdb_appender *spare;
    size_t cs_cap;
    struct tsdb__sample *cs_acc;
    struct tsdb__series **cs_news, **cs_sealed;
    struct pl_buf cs_rec, cs_comp, cs_scratch;
    /* Partition compaction resumes at (compact_part, compact_id); meta "compact_pos". */
    uint32_t compact_part, compact_id;
    /* Forgotten series, freed at close (an appender may still point at one). */
    struct tsdb__series **grave;
    size_t ngrave, capgrave;
    /*
     * Open chunks of forgotten series, sorted by id, kept for readers whose
     * snapshot predates the forget (delete.c). ghost_lock guards the array
     * (taken inside a stripe lock); adding and releasing also hold commit_mu.
     */
    pthread_rwlock_t ghost_lock;
    struct tsdb__ghost *ghosts;
    _Atomic size_t nghosts; /* atomic: readers skip the lock while it is 0 */
    size_t capghosts;
    /*
     * Series GC (gc.c, commit_mu): series with no sample at or after gc_cut
     * are forgotten, gc_pos is where the sweep resumes, gc_done the cut of
     * the last complete sweep.
     */
    int64_t gc_cut, gc_done;
    uint32_t gc_pos;
    /* Free space in bytes reserved in the data file past the last page (space.c). */
    uint64_t space_end;
    /* Tombstones, sorted by id. */
    pthread_rwlock_t tomb_lock;
    struct tsdb__tomb *tombs;
    size_t ntombs;
    /* Counters for tsdb_stats. */
    atomic_uint_fast64_t st_ckpts, st_ckpt_bytes, st_ckpt_ns;
    atomic_uint_fast64_t st_samples, st_ooo, st_dup, st_wal_records, st_wal_bytes, st_sealed,
        st_head_series, st_head_chunks;
    _Atomic int64_t st_max_t, st_min_t; /* newest and oldest sample appended */
    /* Sync thread for TSDB_SYNC_INTERVAL. */
    pthread_t sync_thread;
    int sync_running;
    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cv;
    /* Head eviction (head.c). */
    struct tsdb__headgc hg;
    /* Lazy WAL replay (pend.c); NULL when nothing is pending. Freed with every stripe held. */
    _Atomic(struct tsdb__pend *) pend;
    /* Label name symbols of the head's label sets (head.c). */
    struct tsdb__syms syms;
};

/* ---- encoding helpers (index.c) ---- */
static inline void tsdb__be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline uint32_t tsdb__rd_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void tsdb__be64(uint8_t *p, uint64_t v)
{
    tsdb__be32(p, (uint32_t)(v >> 32));
    tsdb__be32(p + 4, (uint32_t)v);
}
static inline uint64_t tsdb__rd_be64(const uint8_t *p)
{
    return ((uint64_t)tsdb__rd_be32(p) << 32) | tsdb__rd_be32(p + 4);
}
static inline void tsdb__le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint64_t tsdb__rd_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline uint32_t tsdb__partition(int64_t t)
{
    int64_t p = t / TSDB_PARTITION_MS;
    if (t % TSDB_PARTITION_MS < 0)
        p--;
    /* Clamp: about 490,000 years either side of 1970 fit. */
    p += INT64_C(1) << 31;
    if (p < 0)
        return 0;
    if (p > (int64_t)UINT32_MAX)
        return UINT32_MAX;
    return (uint32_t)p;
}
static inline int64_t tsdb__partition_start(uint32_t part)
{
    return ((int64_t)part - (INT64_C(1) << 31)) * TSDB_PARTITION_MS;
}

/* Varints (LEB128). put returns bytes written (<= 10); get returns bytes read or 0 on error. */
size_t tsdb__vint_put(uint8_t *p, uint64_t v);
size_t tsdb__vint_get(const uint8_t *p, size_t n, uint64_t *v);
static inline uint64_t tsdb__zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t tsdb__unzz(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Maps an LMDB or errno code to a pl_err; "disk full" and "map full" get clear texts. */
int tsdb__mdb_err(struct pl_err *err, int rc, const char *what);

/* ---- index.c ---- */
/* Encodes a label set as in the `series` value format (labels part). */
int tsdb__labels_encode(const struct pl_labels *ls, struct pl_buf *out);
/* Decodes labels; hash is taken from disk. PL_ERR_CORRUPT on bad bytes. OUT: *out owned. */
int tsdb__labels_decode(const uint8_t *p, size_t n, uint64_t hash, struct pl_labels **out);
/* Reads series `id` from the series db. 0, MDB_NOTFOUND, or an error. */
int tsdb__series_read(struct tsdb *db, MDB_txn *txn, uint32_t id, struct pl_labels **ls,
                      int64_t *min_t);
/* Finds the id of `ls` in the index. 0 with *id, MDB_NOTFOUND, or an error. */
int tsdb__series_find(struct tsdb *db, MDB_txn *txn, const struct pl_labels *ls, uint32_t *id);
/* Writes series, series_key and postings entries for new series ss[0..n) (ids ascending). */
int tsdb__index_add(struct tsdb *db, MDB_txn *txn, struct tsdb__series *const *ss, size_t n);
/* Removes a series from series, series_key and postings. */
int tsdb__index_remove(struct tsdb *db, MDB_txn *txn, uint32_t id, const struct pl_labels *ls);
/* Builds a postings key prefix "name\0value\0" into buf (cleared first). */
int tsdb__postings_prefix(struct pl_buf *buf, const char *name, size_t nlen, const char *value,
                          size_t vlen);

/* ---- postings.c: lazy postings iterators over LMDB and set operations ---- */
struct tsdb__pit;
struct tsdb__pit_ops {
    /* Advances; 1 with *id, 0 at the end, negative on error. */
    int (*next)(struct tsdb__pit *it, uint32_t *id);
    /* Advances to the first id >= target (may stay); same returns. */
    int (*seek)(struct tsdb__pit *it, uint32_t target, uint32_t *id);
    void (*free)(struct tsdb__pit *it);
};
struct tsdb__pit {
    const struct tsdb__pit_ops *ops;
};
/* Iterator over the postings list of one label pair (empty if absent). */
struct tsdb__pit *tsdb__pit_list(MDB_txn *txn, MDB_dbi dbi, const char *name, size_t nlen,
                                 const char *value, size_t vlen);
/* Iterator over an owned sorted array of unique ids. */
struct tsdb__pit *tsdb__pit_array(uint32_t *ids, size_t n);
/* Intersection; takes ownership of its[0..n) (n >= 1). */
struct tsdb__pit *tsdb__pit_and(struct tsdb__pit **its, size_t n);
/* a minus b; takes ownership of both. */
struct tsdb__pit *tsdb__pit_sub(struct tsdb__pit *a, struct tsdb__pit *b);
/* Union, materialised into a sorted array; takes ownership of its[0..n). */
struct tsdb__pit *tsdb__pit_or(struct tsdb__pit **its, size_t n);
void tsdb__pit_free(struct tsdb__pit *it);
/*
 * Postings of the series matching all of ms (Prometheus semantics); when every
 * matcher matches "", the base is all series. OUT: *out.
 */
int tsdb__postings_for_matchers(struct tsdb *db, MDB_txn *txn, struct tsdb_matcher *const *ms,
                                size_t n, struct tsdb__pit **out, struct pl_err *err);
/* Collects all ids of an iterator into *ids (malloc'd). Frees the iterator. */
int tsdb__pit_collect(struct tsdb__pit *it, uint32_t **ids, size_t *n);

/* ---- head.c ---- */
/* The codec of open chunks (TSDB_ENC_STREAM: 2-4x smaller than Gorilla on scraped data). */
#define TSDB_HEAD_ENC TSDB_ENC_STREAM
/* Empties an open-chunk encoder, releasing its buffer. */
void tsdb__enc_renew(struct tsdb_chunk_enc *e);
struct tsdb__series *tsdb__head_get(struct tsdb *db, uint32_t id);
void tsdb__head_set(struct tsdb *db, uint32_t id, struct tsdb__series *s);
static inline pthread_mutex_t *tsdb__stripe(struct tsdb *db, uint32_t id)
{
    /*
     * Runs of TSDB_STRIPE_RUN consecutive ids share a stripe: a scrape's
     * series were created together, so a commit takes one lock per run of
     * them instead of one per series (and the mutexes it touches stay hot).
     */
    return &db->stripes[(id / TSDB_STRIPE_RUN) & (TSDB_STRIPES - 1)];
}
/* Looks up a series by label set in memory (map_lock held by caller, any mode). */
struct tsdb__series *tsdb__smap_find(struct tsdb__smap *m, const struct pl_labels *ls);
void tsdb__smap_insert(struct tsdb__smap *m, struct tsdb__series *s);
void tsdb__smap_remove(struct tsdb__smap *m, struct tsdb__series *s);
void tsdb__smap_fini(struct tsdb__smap *m);
/* A series for ls (copied); NULL if its encoding exceeds 64 KiB or names run out. */
struct tsdb__series *tsdb__series_new(struct tsdb *db, uint32_t id, const struct pl_labels *ls);
/* Whether a series' encoded labels equal ls. */
int tsdb__lab_equal(const struct tsdb__syms *sy, const struct tsdb__series *s,
                    const struct pl_labels *ls);
/* Decodes a series' label set. OUT: *out owned. */
int tsdb__series_labels(struct tsdb *db, const struct tsdb__series *s, struct pl_labels **out);
void tsdb__series_free(struct tsdb__series *s);
/*
 * Returns the in-memory series for `ls`, loading it from LMDB or creating it
 * (not yet persisted). OUT: *out. Thread-safe.
 */
int tsdb__head_get_or_create(struct tsdb *db, const struct pl_labels *ls,
                             struct tsdb__series **out);
/* Loads series `id` into memory from LMDB (series + head record). MDB_NOTFOUND if unknown. */
int tsdb__head_load_id(struct tsdb *db, MDB_txn *txn, uint32_t id, struct tsdb__series **out);
/* Restores a series' head state from a `head` record. */
int tsdb__head_restore(struct tsdb__series *s, const uint8_t *p, size_t n);
/* Encodes a series' `head` record into b (cleared first; stripe lock held). */
int tsdb__head_record(const struct tsdb__series *s, struct pl_buf *b);
/* Writes every dirty series' open chunk to `head` (commit_mu held). */
int tsdb__head_checkpoint(struct tsdb *db, struct pl_err *err);
/*
 * The in-memory series id, loading it from LMDB if it was evicted (appenders
 * holding a ref). MDB_NOTFOUND if unknown. OUT: *out. Thread-safe.
 */
int tsdb__head_get_or_load(struct tsdb *db, uint32_t id, struct tsdb__series **out);
/*
 * Head pin: appenders hold it from begin to commit/rollback so that eviction,
 * which waits until none is held, never frees a series an appender points at.
 */
void tsdb__head_pin(struct tsdb *db);
void tsdb__head_unpin(struct tsdb *db);
/* Head state (symbols, eviction): init before, start after the open's replay; stop, then fini. */
void tsdb__head_init(struct tsdb *db);
void tsdb__head_gc_start(struct tsdb *db);
void tsdb__head_gc_stop(struct tsdb *db);
void tsdb__head_fini(struct tsdb *db);

/* ---- wal.c ---- */
struct tsdb__sample {
    uint32_t id;
    int64_t t;
    uint64_t v;
};
/* Encodes samples as a WAL record (uncompressed) into out. */
int tsdb__wal_encode(const struct tsdb__sample *s, size_t n, struct pl_buf *out);
/* Decodes a compressed WAL record; calls fn per sample. PL_ERR_CORRUPT on bad data. */
int tsdb__wal_decode(const uint8_t *p, size_t n, int (*fn)(void *ctx, const struct tsdb__sample *),
                     void *ctx);
/*
 * Decodes the WAL after ckpt_seq into db->pend (lazy replay: no series is
 * loaded). A record that does not decode ends the WAL there (logged).
 */
int tsdb__wal_replay(struct tsdb *db, struct pl_err *err);

/* ---- pend.c: lazy WAL replay ---- */
void tsdb__pend_free(struct tsdb__pend *p);
/* Whether id has samples not yet applied (stripe lock of id held). */
int tsdb__pend_has(const struct tsdb__pend *p, uint32_t id);
/* tsdb__head_check against the newest of s and its pending samples (stripe lock held). */
int tsdb__pend_check(struct tsdb *db, const struct tsdb__series *s, int64_t t, uint64_t v);
/* max(mt, newest pending sample of id) (stripe lock held). */
int64_t tsdb__pend_max_t(struct tsdb *db, uint32_t id, int64_t mt);
/* Applies s's pending samples inside txn (commit_mu and stripe lock held). */
int tsdb__pend_drain(struct tsdb *db, MDB_txn *txn, struct tsdb__series *s, struct pl_buf *scratch);
/* Loads and drains up to budget pending series in one write txn (commit_mu held). */
int tsdb__pend_step(struct tsdb *db, size_t budget, struct pl_err *err);
/* Drains everything (commit_mu held); afterwards db->pend is NULL. */
int tsdb__pend_drain_all(struct tsdb *db, struct pl_err *err);

/* ---- append.c ---- */
/* WAL bytes since the checkpoint above which the next commit checkpoints (commit_mu held). */
uint64_t tsdb__ckpt_limit(struct tsdb *db);
/* Frees the spare appender and commit scratch (at close). */
void tsdb__appender_cache_fini(struct tsdb *db);
/*
 * Applies one sample to a series in the head inside write txn `txn` (stripe
 * lock held by the caller), sealing the open chunk into `chunks` when needed.
 * Returns 0, 1 (ignored duplicate), PL_ERR_OUT_OF_ORDER/DUPLICATE, or an LMDB error.
 */
int tsdb__head_append(struct tsdb *db, MDB_txn *txn, struct tsdb__series *s, int64_t t, uint64_t v,
                      struct pl_buf *scratch);
/* Checks a sample against the series' state without changing it: 0, 1 (dup ignored) or error. */
int tsdb__head_check(const struct tsdb__series *s, int64_t t, uint64_t v);
/* Writes a sealed chunk. */
int tsdb__chunk_put(struct tsdb *db, MDB_txn *txn, uint32_t id, int64_t mint, int64_t maxt,
                    const uint8_t *p, size_t n);
/* Seals s's open chunk into `chunks` (stripe lock held). */
int tsdb__head_seal(struct tsdb *db, MDB_txn *txn, struct tsdb__series *s, struct pl_buf *scratch);

/* ---- db.c ---- */
/* Begins a read txn (holds env_lock shared until tsdb__rtxn_end). */
int tsdb__rtxn_begin(struct tsdb *db, MDB_txn **txn);
void tsdb__rtxn_end(struct tsdb *db, MDB_txn *txn);
/* Begins a write txn (commit_mu held by the caller), growing the map first if needed. */
int tsdb__wtxn_begin(struct tsdb *db, size_t need_bytes, MDB_txn **txn);
/* Grows the map (commit_mu held, no txn of this thread open). */
int tsdb__map_grow(struct tsdb *db, size_t min_size);
int tsdb__meta_put_u64(struct tsdb *db, MDB_txn *txn, const char *key, uint64_t v);
int tsdb__meta_get_u64(struct tsdb *db, MDB_txn *txn, const char *key, uint64_t *v);
/* Used bytes: pages of all databases times the page size. */
uint64_t tsdb__used_bytes(struct tsdb *db, MDB_txn *txn);

/* ---- compact.c ---- */
/*
 * Merges each series' chunks in partitions well behind the head into one
 * chunk, at most `budget` series per call (commit_mu held).
 */
int tsdb__compact_step(struct tsdb *db, size_t budget);

/* ---- delete.c ---- */
/* Whether t of series id is hidden by a tombstone (tomb_lock held shared). */
int tsdb__tomb_covers(const struct tsdb__tomb *tb, int64_t t);
/* The tombstone entry of id, or NULL (tomb_lock held). */
const struct tsdb__tomb *tsdb__tomb_find(struct tsdb *db, uint32_t id);
int tsdb__tomb_load(struct tsdb *db, MDB_txn *txn);
void tsdb__tomb_fini(struct tsdb *db);
/* Forgets series id completely (commit_mu held, inside txn). */
int tsdb__series_forget(struct tsdb *db, MDB_txn *txn, uint32_t id);
/*
 * Like tsdb__series_forget, looking for its chunks only in partitions below
 * plim (series GC: retention left no chunk of them further back, and a dead
 * series has none at or after the cut; one seek instead of one per partition).
 */
int tsdb__series_forget_before(struct tsdb *db, MDB_txn *txn, uint32_t id, uint64_t plim);
/* Applies retention (commit_mu held), then a bounded step of series GC. */
int tsdb__retention_apply(struct tsdb *db, struct pl_err *err);
/*
 * The time before which retention leaves nothing: the cut of the last pass
 * or, with retention by age, the start of the oldest partition the next pass
 * keeps, whichever is later (commit_mu held).
 */
int64_t tsdb__retention_cut(struct tsdb *db);
/* Removes id's in-memory tombstone (tomb_lock held exclusively). */
void tsdb__tomb_remove(struct tsdb *db, uint32_t id);

/* ---- gc.c: forgetting series that retention left without data ---- */
/*
 * Sweeps up to `budget` series of the index (commit_mu held, no txn of this
 * thread open) and forgets those with no sample at or after db->gc_cut and no
 * samples pending in an appender: index entries, postings, head record,
 * tombstones and the in-memory series. Ids are not reused. A sweep resumes
 * where the last step stopped; 1 if the sweep is complete, 0 if more remains.
 */
int tsdb__gc_step(struct tsdb *db, size_t budget, struct pl_err *err);
/*
 * Marks an in-memory series forgotten by write transaction `txn` (map_lock
 * held exclusively, stripe lock held): out of the label map and the id
 * table, data released, kept in the graveyard until close since appenders
 * and readers may still hold it. Its open chunk moves to db->ghosts for
 * readers older than txn. Takes commit_mu's graveyard (commit_mu held).
 */
void tsdb__series_retire(struct tsdb *db, struct tsdb__series *s, uint64_t txn);
/*
 * Copies into out (reset first) the open chunk of forgotten series id if a
 * reader with snapshot txnid may still see the series (stripe lock of id
 * held). OUT: *found 1 if copied.
 */
int tsdb__ghost_copy(struct tsdb *db, uint32_t id, uint64_t txnid, struct pl_buf *out, int *found);
/* Frees the ghost chunks no reader can see any more (commit_mu held). */
void tsdb__ghost_release(struct tsdb *db);
/* The snapshot of the oldest LMDB read transaction (any process); UINT64_MAX if none. */
uint64_t tsdb__oldest_reader(struct tsdb *db);

/* ---- space.c: disk space for the memory-mapped data file ---- */
/*
 * Makes sure the data file's blocks exist up to `end` bytes (capped at the
 * map size) before a write transaction may touch them: with MDB_WRITEMAP a
 * store into a hole of a sparse file on a full disk faults (SIGBUS) instead
 * of failing. Returns 0, -ENOSPC (disk full), or another -errno.
 */
int tsdb__space_reserve(struct tsdb *db, uint64_t end);
/* Gives back the reserved blocks past the last used page (at close). */
void tsdb__space_release(struct tsdb *db);
/* Maps a write-transaction error to a pl_err; ENOSPC names the path and the free space. */
int tsdb__wtxn_err(struct tsdb *db, struct pl_err *err, int rc, const char *what);

#endif
