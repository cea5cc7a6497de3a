/*
 * pend.c - lazy WAL replay: samples of the WAL tail (after the head
 * checkpoint) decoded at open and grouped by series id, not yet applied to
 * their series.
 *
 * Applying the tail at open would load every series it touches (labels,
 * head record, open chunk rebuilt) before the database is ready: about 2 s
 * per 100k series. Instead open only decodes and groups the samples
 * (tsdb__wal_replay), and a series' samples are applied ("drained") inside
 * a write transaction, deterministically from its head record as a replay
 * would have done (same seals, same chunk keys):
 *   - by the first commit that appends to the series (apply in append.c);
 *   - by bounded drain steps once the WAL since the checkpoint outgrows its
 *     threshold, and in full before a checkpoint, a delete or a tombstone
 *     clean (they would otherwise lose or resurrect samples held only here).
 * Until then readers merge them (querier.c) and appenders check the append
 * rules against the newest of them. The WAL is not truncated while any
 * sample is pending, so a crash meanwhile replays the same tail again; a
 * close with samples pending skips its checkpoint for the same reason.
 */
#include "tsdb/tsdb_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"

void tsdb__pend_free(struct tsdb__pend *p)
{
    if (!p)
        return;
    free(p->first);
    free(p->last);
    free(p->next);
    free(p->t);
    free(p->v);
    free(p->done);
    free(p);
}

int tsdb__pend_has(const struct tsdb__pend *p, uint32_t id)
{
    return p && id < p->nids && !p->done[id] && p->first[id] != TSDB_PEND_NONE;
}

int tsdb__pend_check(struct tsdb *db, const struct tsdb__series *s, int64_t t, uint64_t v)
{
    const struct tsdb__pend *p = atomic_load_explicit(&db->pend, memory_order_acquire);
    if (!tsdb__pend_has(p, s->id))
        return tsdb__head_check(s, t, v);
    /* The newest pending sample is the series' newest sample (the WAL holds accepted ones). */
    uint32_t last = p->last[s->id];
    struct tsdb__series probe;
    probe.max_t = p->t[last];
    probe.last_v = p->v[last];
    if (s->max_t > probe.max_t) {
        probe.max_t = s->max_t;
        probe.last_v = s->last_v;
    }
    return tsdb__head_check(&probe, t, v);
}

int64_t tsdb__pend_max_t(struct tsdb *db, uint32_t id, int64_t mt)
{
    const struct tsdb__pend *p = atomic_load_explicit(&db->pend, memory_order_acquire);
    if (!tsdb__pend_has(p, id))
        return mt;
    int64_t pt = p->t[p->last[id]];
    return pt > mt ? pt : mt;
}

int tsdb__pend_drain(struct tsdb *db, MDB_txn *txn, struct tsdb__series *s, struct pl_buf *scratch)
{
    struct tsdb__pend *p = atomic_load_explicit(&db->pend, memory_order_acquire);
    if (!tsdb__pend_has(p, s->id))
        return 0;
    /*
     * The WAL tail may reach back past what retention dropped meanwhile:
     * applying those samples would seal chunks into dropped partitions (or
     * keep them in the open chunk), bringing deleted data back.
     */
    int64_t cut = tsdb__retention_cut(db);
    for (uint32_t i = p->first[s->id]; i != TSDB_PEND_NONE; i = p->next[i]) {
        if (p->t[i] < cut)
            continue;
        int rc = tsdb__head_append(db, txn, s, p->t[i], p->v[i], scratch);
        if (rc == 1 || rc == PL_ERR_OUT_OF_ORDER || rc == PL_ERR_DUPLICATE)
            continue; /* already in the head record or a sealed chunk */
        if (rc)
            return rc;
    }
    p->done[s->id] = 1;
    p->left--;
    return 0;
}

/* Releases chunks sealed by a committed or aborted drain transaction. */
static void release_sealing(struct tsdb *db, struct tsdb__series **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_t *mu = tsdb__stripe(db, v[i]->id);
        pthread_mutex_lock(mu);
        free(v[i]->sealing);
        v[i]->sealing = NULL;
        v[i]->sealing_len = 0;
        pthread_mutex_unlock(mu);
    }
}

/* Frees the table once nothing is pending: readers use it under a stripe lock. */
static void pend_retire(struct tsdb *db)
{
    struct tsdb__pend *p = atomic_load(&db->pend);
    if (!p || p->left)
        return;
    for (size_t i = 0; i < TSDB_STRIPES; i++)
        pthread_mutex_lock(&db->stripes[i]);
    atomic_store_explicit(&db->pend, NULL, memory_order_release);
    for (size_t i = 0; i < TSDB_STRIPES; i++)
        pthread_mutex_unlock(&db->stripes[i]);
    tsdb__pend_free(p);
}

int tsdb__pend_step(struct tsdb *db, size_t budget, struct pl_err *err)
{
    struct tsdb__pend *p = atomic_load(&db->pend);
    if (!p)
        return 0;
    if (db->opt.read_only)
        return 0;
    MDB_txn *txn;
    int rc = tsdb__wtxn_begin(db, budget * 512 + (1u << 20), &txn);
    if (rc)
        return tsdb__wtxn_err(db, err, rc, "applying replayed WAL samples");
    struct pl_buf scratch;
    pl_buf_init(&scratch, 1 << 20);
    struct tsdb__series **sealed = pl_xmalloc((budget ? budget : 1) * sizeof(*sealed));
    size_t nsealed = 0, done = 0;
    uint32_t start = p->scan;
    while (rc == 0 && p->scan < p->nids && done < budget) {
        uint32_t id = p->scan++;
        if (!tsdb__pend_has(p, id))
            continue;
        done++;
        struct tsdb__series *s = NULL;
        pthread_rwlock_wrlock(&db->map_lock);
        s = tsdb__head_get(db, id);
        if (!s) {
            rc = tsdb__head_load_id(db, txn, id, &s);
            if (rc == 0) {
                tsdb__head_set(db, id, s);
                tsdb__smap_insert(&db->map, s);
                atomic_fetch_add(&db->st_head_series, 1);
            }
        }
        pthread_rwlock_unlock(&db->map_lock);
        pthread_mutex_t *mu = tsdb__stripe(db, id);
        if (rc == MDB_NOTFOUND) {
            /* Forgotten since the record was written. */
            pthread_mutex_lock(mu);
            p->done[id] = 1;
            p->left--;
            pthread_mutex_unlock(mu);
            rc = 0;
            continue;
        }
        if (rc)
            break;
        pthread_mutex_lock(mu);
        uint32_t had = s->sealing_len;
        rc = tsdb__pend_drain(db, txn, s, &scratch);
        if (s->sealing_len != had)
            sealed[nsealed++] = s;
        pthread_mutex_unlock(mu);
    }
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    release_sealing(db, sealed, nsealed);
    free(sealed);
    pl_buf_fini(&scratch);
    if (rc) {
        /* The head changed with the transaction lost: like a failed commit. */
        db->failed = 1;
        return tsdb__mdb_err(err, rc, "applying replayed WAL samples");
    }
    if (p->scan >= p->nids) {
        /* A scan from id 0 to the end visited every id: nothing is left. */
        if (start == 0)
            p->left = 0;
        p->scan = 0;
    }
    pend_retire(db);
    return 0;
}

int tsdb__pend_drain_all(struct tsdb *db, struct pl_err *err)
{
    int rc = 0;
    while (rc == 0 && atomic_load(&db->pend) && !db->opt.read_only) {
        rc = tsdb__pend_step(db, 65536, err);
    }
    return rc;
}
