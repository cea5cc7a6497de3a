/*
 * compact.c - partition compaction: once a 2 h partition is behind the head,
 * each series' chunks in it (sealed every TSDB_SEAL_SAMPLES samples) are
 * merged into one chunk re-encoded with the best codec for the whole span.
 * Fewer, longer chunks compress better and cost fewer B-tree entries (the
 * idea of Prometheus's block compaction, at chunk granularity). Work is
 * bounded per call; readers see the old chunks or the merged one, never a
 * mix (one write transaction per step). A merged series whose encoding
 * exceeds TSDB_CHUNK_TARGET_BYTES is cut into equal pieces under it (LMDB
 * keeps values over half a page in overflow pages of their own), and runs
 * that merging would not shorten are left alone.
 */
#include "tsdb/tsdb_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "tsdb/chunk_int.h"

struct ckey {
    uint8_t k[16];
};

/* Writes s->t/v[lo, hi) as one chunk, or as equal pieces of at most about TSDB_CHUNK_TARGET_BYTES.
 */
static int put_split(struct tsdb *db, MDB_txn *txn, uint32_t id, const struct tsdb_samples *s,
                     const uint64_t *vb, size_t lo, size_t hi, struct pl_buf *out)
{
    pl_buf_reset(out);
    int rc = tsdb__chunk_seal_samples(s->t + lo, vb + lo, hi - lo, out);
    if (rc)
        return rc;
    if (out->len > TSDB_CHUNK_TARGET_BYTES && hi - lo > 1) {
        size_t k = (out->len + TSDB_CHUNK_TARGET_BYTES - 1) / TSDB_CHUNK_TARGET_BYTES;
        size_t per = (hi - lo + k - 1) / k;
        for (size_t a = lo; a < hi; a += per)
            if ((rc = put_split(db, txn, id, s, vb, a, hi - a < per ? hi : a + per, out)))
                return rc;
        return 0;
    }
    return tsdb__chunk_put(db, txn, id, s->t[lo], s->t[hi - 1], (const uint8_t *)out->data,
                           out->len);
}

/* Merges the chunks keys[0..n) of one series (ascending) into one (or pieces, see put_split). */
static int merge_series(struct tsdb *db, MDB_txn *txn, const struct ckey *keys, size_t n,
                        struct tsdb_samples *s, struct pl_buf *raw, struct pl_buf *out)
{
    s->n = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        MDB_val key = {16, (void *)keys[i].k}, val;
        if ((rc = mdb_get(txn, db->dbi_chunks, &key, &val)))
            break;
        if (val.mv_size < 8) {
            rc = PL_ERR_CORRUPT;
            break;
        }
        struct tsdb_chunk_dec d;
        if ((rc = tsdb_chunk_dec_init(&d, (uint8_t *)val.mv_data + 8, val.mv_size - 8)))
            break;
        int64_t t;
        double v;
        while ((rc = tsdb_chunk_dec_next(&d, &t, &v)) == 1) {
            if (s->n && t <= s->t[s->n - 1])
                continue;
            if (s->n == s->cap) {
                size_t nc = s->cap ? s->cap * 2 : 512;
                s->t = pl_xreallocarray(s->t, nc, sizeof(*s->t));
                s->v = pl_xreallocarray(s->v, nc, sizeof(*s->v));
                s->cap = nc;
            }
            s->t[s->n] = t;
            s->v[s->n] = v;
            s->n++;
        }
    }
    if (rc)
        return rc;
    if (s->n == 0 || s->n > TSDB_CHUNK_MAX_SAMPLES)
        return 0; /* nothing to merge, or too much for one chunk: leave as is */
    for (size_t i = 0; i < n; i++) {
        MDB_val key = {16, (void *)keys[i].k};
        if ((rc = mdb_del(txn, db->dbi_chunks, &key, NULL)))
            return rc;
    }
    /* The values as bit patterns (the codecs' input), in raw's storage. */
    pl_buf_reset(raw);
    if ((rc = pl_buf_reserve(raw, s->n * sizeof(uint64_t))))
        return rc;
    uint64_t *vb = (uint64_t *)(void *)raw->data;
    memcpy(vb, s->v, s->n * sizeof(uint64_t));
    uint32_t id = tsdb__rd_be32(keys[0].k + 4);
    return put_split(db, txn, id, s, vb, 0, s->n, out);
}

int tsdb__compact_step(struct tsdb *db, size_t budget)
{
    int64_t newest = atomic_load(&db->st_max_t);
    if (newest == INT64_MIN)
        return 0;
    /* Partitions that ended at least half a partition before the newest sample. */
    uint32_t limit = tsdb__partition(newest - TSDB_PARTITION_MS / 2);
    if (db->compact_part >= limit)
        return 0;
    /*
     * Chunks merged here must never be sealed again by a WAL replay: make
     * the checkpoint cover everything first.
     */
    int rc;
    /* Not while a lazy replay is pending: its checkpoint would apply all of it at once. */
    if (atomic_load(&db->pend))
        return 0;
    if (db->wal_seq != db->ckpt_seq) {
        struct pl_err err;
        if ((rc = tsdb__head_checkpoint(db, &err)))
            return rc;
    }
    MDB_txn *txn;
    rc = tsdb__wtxn_begin(db, budget * 2048, &txn);
    if (rc)
        return rc;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(txn, db->dbi_chunks, &c))) {
        mdb_txn_abort(txn);
        return rc;
    }
    struct tsdb_samples s;
    tsdb_samples_init(&s);
    struct pl_buf raw, out;
    pl_buf_init(&raw, (size_t)TSDB_CHUNK_MAX_SAMPLES * 20);
    pl_buf_init(&out, (size_t)TSDB_CHUNK_MAX_SAMPLES * 20);
    size_t cap = 64, n = 0, done = 0, run_bytes = 0;
    struct ckey *keys = pl_xmalloc(cap * sizeof(*keys));
    uint8_t k[16];
    tsdb__be32(k, db->compact_part);
    tsdb__be32(k + 4, db->compact_id);
    memset(k + 8, 0, 8);
    MDB_val key = {16, k}, val;
    int r = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
    uint32_t cur_part = db->compact_part, cur_id = db->compact_id;
    int finished = 0;
    for (;;) {
        int end = r != 0;
        uint32_t kp = 0, kid = 0;
        if (!end) {
            if (key.mv_size != 16) {
                rc = PL_ERR_CORRUPT;
                break;
            }
            kp = tsdb__rd_be32(key.mv_data);
            kid = tsdb__rd_be32((uint8_t *)key.mv_data + 4);
            if (kp >= limit)
                end = 1;
        }
        if (n && (end || kp != cur_part || kid != cur_id)) {
            /* The previous series' run is complete; remember where the next begins. */
            if (!end)
                memcpy(k, key.mv_data, 16);
            /* Merge only when it makes fewer chunks (split pieces stay as they are). */
            if (n > 1 && n > (run_bytes + TSDB_CHUNK_TARGET_BYTES - 1) / TSDB_CHUNK_TARGET_BYTES) {
                mdb_cursor_close(c);
                c = NULL;
                rc = merge_series(db, txn, keys, n, &s, &raw, &out);
                if (rc)
                    break;
                done++;
            }
            n = 0;
            run_bytes = 0;
            if (done >= budget && !end) {
                /* Resume at this key next time. */
                cur_part = kp;
                cur_id = kid;
                break;
            }
            if (!c) {
                if ((rc = mdb_cursor_open(txn, db->dbi_chunks, &c)))
                    break;
                if (!end) {
                    key.mv_size = 16;
                    key.mv_data = k;
                    r = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
                    continue;
                }
            }
        }
        if (end) {
            finished = 1;
            break;
        }
        if (n == 0) {
            cur_part = kp;
            cur_id = kid;
        }
        if (n == cap) {
            cap *= 2;
            keys = pl_xreallocarray(keys, cap, sizeof(*keys));
        }
        memcpy(keys[n++].k, key.mv_data, 16);
        run_bytes += val.mv_size > 8 ? val.mv_size - 8 : 0;
        r = mdb_cursor_get(c, &key, &val, MDB_NEXT);
        if (r && r != MDB_NOTFOUND) {
            rc = r;
            break;
        }
    }
    if (c)
        mdb_cursor_close(c);
    free(keys);
    uint32_t np = finished ? limit : cur_part, ni = finished ? 0 : cur_id;
    if (rc == 0)
        rc = tsdb__meta_put_u64(db, txn, "compact_pos", ((uint64_t)np << 32) | ni);
    tsdb_samples_fini(&s);
    pl_buf_fini(&raw);
    pl_buf_fini(&out);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc)
        return rc;
    db->compact_part = np;
    db->compact_id = ni;
    return 0;
}

int tsdb_compact(struct tsdb *db, struct pl_err *err)
{
    if (db->opt.read_only)
        return pl_err_set(err, PL_ERR_STATE, "storage is read-only");
    pthread_mutex_lock(&db->commit_mu);
    int rc = 0;
    if (db->failed) {
        pthread_mutex_unlock(&db->commit_mu);
        return pl_err_set(err, PL_ERR_STATE, "storage failed after a write error; reopen it");
    }
    /* Rescan from the start: series that lagged behind left chunks in old partitions. */
    db->compact_part = 0;
    db->compact_id = 0;
    int64_t newest = atomic_load(&db->st_max_t);
    uint32_t limit = newest == INT64_MIN ? 0 : tsdb__partition(newest - TSDB_PARTITION_MS / 2);
    while (rc == 0 && db->compact_part < limit)
        rc = tsdb__compact_step(db, 4096);
    pthread_mutex_unlock(&db->commit_mu);
    if (rc)
        return tsdb__mdb_err(err, rc, "compacting partitions");
    return 0;
}
