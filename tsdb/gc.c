/*
 * gc.c - series garbage collection after retention.
 *
 * Retention drops whole partitions of chunks (delete.c), which leaves the
 * index entries of series that have no data left: their label set, postings,
 * head record and tombstones would keep them in /api/v1/series and in label
 * values forever. Like Prometheus's head garbage collection
 * (tsdb/head.go: a series whose chunks all fall before the new minimum time
 * and that has no pending commit is removed from the index and postings),
 * a sweep over the `series` database forgets every series whose newest
 * sample lies before the retention cut and that no appender is writing to.
 *
 * The sweep does bounded work per step (Redis dictRehash): retention calls it
 * after each pass, and a new cut restarts it from the first id. Series ids are
 * never reused: next_id only grows, so an id stays bound to one label set for
 * as long as that series exists, and a series appended again after being
 * forgotten gets a new id.
 *
 * Concurrency: the step runs under commit_mu (no other write transaction).
 * Candidates are found without the map lock; the map lock is then held
 * exclusively from re-checking them until the transaction that removes their
 * index entries commits, so an appender cannot load a series from the index
 * while it is being removed (tsdb__head_get_or_create needs the map lock to
 * load or create). Appenders mark a series pending under its stripe lock on
 * its first sample of a batch (append.c); a pending series is never forgotten,
 * and an appender that finds its series forgotten looks it up again.
 */
#include "tsdb/tsdb_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

/* Whether series id has a chunk in any partition (the rare case without a head record). */
static int has_chunk(struct tsdb *db, MDB_txn *txn, uint32_t id, int *out)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, db->dbi_chunks, &c);
    if (rc)
        return rc;
    *out = 0;
    /* Seek (p, id) per partition that has keys; p only grows. */
    uint32_t p = 0;
    for (;;) {
        uint8_t k[16];
        tsdb__be32(k, p);
        tsdb__be32(k + 4, id);
        memset(k + 8, 0, 8);
        MDB_val key = {16, k}, val;
        if ((rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE)))
            break;
        if (key.mv_size != 16) {
            rc = PL_ERR_CORRUPT;
            break;
        }
        uint32_t kpart = tsdb__rd_be32(key.mv_data);
        uint32_t kid = tsdb__rd_be32((uint8_t *)key.mv_data + 4);
        if (kid == id) {
            *out = 1;
            break;
        }
        if (kid < id) {
            p = kpart; /* a later partition: id may come further on in it */
        } else {
            if (kpart == UINT32_MAX)
                break;
            p = kpart + 1;
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Whether an in-memory series is garbage (stripe lock held). */
static int mem_dead(const struct tsdb__series *s, int64_t cut)
{
    return s->persisted == 1 && __atomic_load_n(&s->pending, __ATOMIC_ACQUIRE) == 0 &&
           s->sealing_len == 0 && s->max_t < cut && (s->enc.n == 0 || s->enc.t_last < cut);
}

/*
 * Whether series id is garbage: no sample at or after `cut` and nothing
 * pending. In memory, the series' own state decides (stripe lock); otherwise
 * its head record (the newest sample when it was last checkpointed: series
 * not in memory have not been written since the database opened).
 */
static int is_dead(struct tsdb *db, MDB_txn *txn, uint32_t id, int64_t cut, int *dead)
{
    *dead = 0;
    pthread_mutex_t *mu = tsdb__stripe(db, id);
    pthread_mutex_lock(mu);
    struct tsdb__series *s = tsdb__head_get(db, id);
    /* Samples of a lazy WAL replay are recent: such a series is alive until they apply. */
    int pending = tsdb__pend_has(atomic_load(&db->pend), id);
    if (s || pending) {
        *dead = !pending && mem_dead(s, cut);
        pthread_mutex_unlock(mu);
        return 0;
    }
    pthread_mutex_unlock(mu);
    uint8_t k[4];
    tsdb__be32(k, id);
    MDB_val key = {4, k}, val;
    int rc = mdb_get(txn, db->dbi_head, &key, &val);
    if (rc == 0) {
        if (val.mv_size < 16)
            return PL_ERR_CORRUPT;
        *dead = (int64_t)tsdb__rd_le64(val.mv_data) < cut;
        return 0;
    }
    if (rc != MDB_NOTFOUND)
        return rc;
    /* No head record: a series whose samples all went to sealed chunks, if any. */
    int any;
    if ((rc = has_chunk(db, txn, id, &any)))
        return rc;
    *dead = !any;
    return 0;
}

int tsdb__gc_step(struct tsdb *db, size_t budget, struct pl_err *err)
{
    int64_t cut = db->gc_cut;
    if (cut <= db->gc_done)
        return 1;
    if (cut <= atomic_load(&db->st_min_t)) {
        /* No sample was ever older than the cut. */
        db->gc_done = cut;
        return 1;
    }
    MDB_txn *txn;
    /* Forgetting deletes entries (the copied leaves come back as free pages). */
    int rc = tsdb__wtxn_begin(db, budget * 64 + (256 << 10), &txn);
    if (rc == -ENOSPC)
        return 0; /* the disk is full: the writes that hit it report it; try again later */
    if (rc)
        return tsdb__wtxn_err(db, err, rc, "forgetting series without data");
    uint32_t *dead = NULL;
    size_t ndead = 0, capdead = 0, seen = 0;
    int complete = 0;
    uint32_t pos = db->gc_pos;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(txn, db->dbi_series, &c)) == 0) {
        uint8_t k[4];
        tsdb__be32(k, pos);
        MDB_val key = {4, k}, val;
        int op = MDB_SET_RANGE;
        while ((rc = mdb_cursor_get(c, &key, &val, op)) == 0) {
            op = MDB_NEXT;
            if (key.mv_size != 4) {
                rc = PL_ERR_CORRUPT;
                break;
            }
            uint32_t id = tsdb__rd_be32(key.mv_data);
            if (seen == budget) {
                pos = id;
                break;
            }
            seen++;
            int d;
            if ((rc = is_dead(db, txn, id, cut, &d)))
                break;
            if (!d)
                continue;
            if (ndead == capdead) {
                capdead = capdead ? capdead * 2 : 64;
                dead = pl_xreallocarray(dead, capdead, sizeof(*dead));
            }
            dead[ndead++] = id;
        }
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            complete = 1;
        }
        mdb_cursor_close(c);
    }
    if (rc || ndead == 0) {
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        free(dead);
        if (rc)
            return tsdb__mdb_err(err, rc, "forgetting series without data");
        goto advance;
    }
    /*
     * Re-check each candidate and retire it from memory under the map lock,
     * held until the index entries are gone for good (see the file comment).
     */
    size_t retired = 0, w = 0;
    pthread_rwlock_wrlock(&db->map_lock);
    for (size_t i = 0; i < ndead; i++) {
        uint32_t id = dead[i];
        pthread_mutex_t *mu = tsdb__stripe(db, id);
        pthread_mutex_lock(mu);
        struct tsdb__series *s = tsdb__head_get(db, id);
        int forget = 1;
        if (s) {
            forget = mem_dead(s, cut);
            if (forget) {
                tsdb__series_retire(db, s, mdb_txn_id(txn));
                retired++;
            }
        }
        pthread_mutex_unlock(mu);
        if (forget)
            dead[w++] = id;
    }
    ndead = w;
    /* A dead series' samples are all before the cut: so are its chunks, if any are left. */
    uint64_t plim = (uint64_t)tsdb__partition(cut - 1) + 1;
    for (size_t i = 0; i < ndead && rc == 0; i++)
        rc = tsdb__series_forget_before(db, txn, dead[i], plim);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc && retired) {
        /*
         * Memory no longer holds series that LMDB still indexes, with head
         * records older than what memory had: the same state as a commit that
         * failed after changing the head.
         */
        db->failed = 1;
    }
    pthread_rwlock_unlock(&db->map_lock);
    if (rc == 0) {
        pthread_rwlock_wrlock(&db->tomb_lock);
        for (size_t i = 0; i < ndead; i++)
            tsdb__tomb_remove(db, dead[i]);
        pthread_rwlock_unlock(&db->tomb_lock);
    }
    free(dead);
    if (rc)
        return tsdb__mdb_err(err, rc, "forgetting series without data");
advance:
    if (complete) {
        db->gc_done = cut;
        db->gc_pos = 0;
        return 1;
    }
    db->gc_pos = pos;
    return 0;
}
