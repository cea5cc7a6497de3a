/*
 * delete.c - deletes (tombstones that hide samples at once, a clean step that
 * rewrites chunks to reclaim space, and forgetting series deleted over their
 * whole range, as Prometheus's TSDB does), and retention by age and by size
 * (dropping whole time partitions, oldest first).
 */
#include "tsdb/tsdb_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

int tsdb__tomb_covers(const struct tsdb__tomb *tb, int64_t t)
{
    for (uint32_t i = 0; i < tb->n; i++)
        if (t >= tb->iv[2 * i] && t <= tb->iv[2 * i + 1])
            return 1;
    return 0;
}

const struct tsdb__tomb *tsdb__tomb_find(struct tsdb *db, uint32_t id)
{
    size_t lo = 0, hi = db->ntombs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (db->tombs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < db->ntombs && db->tombs[lo].id == id ? &db->tombs[lo] : NULL;
}

static int tomb_decode(uint32_t id, const uint8_t *p, size_t n, struct tsdb__tomb *tb)
{
    if (n % 16)
        return PL_ERR_CORRUPT;
    tb->id = id;
    tb->n = (uint32_t)(n / 16);
    tb->iv = pl_xmalloc((n ? n : 1));
    for (size_t i = 0; i < n / 8; i++)
        tb->iv[i] = (int64_t)tsdb__rd_le64(p + 8 * i);
    return 0;
}

int tsdb__tomb_load(struct tsdb *db, MDB_txn *txn)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, db->dbi_tomb, &c);
    if (rc)
        return rc;
    MDB_val key, val;
    size_t cap = 0;
    while ((rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) == 0) {
        if (key.mv_size != 4) {
            rc = PL_ERR_CORRUPT;
            break;
        }
        if (db->ntombs == cap) {
            cap = cap ? cap * 2 : 16;
            db->tombs = pl_xreallocarray(db->tombs, cap, sizeof(*db->tombs));
        }
        if ((rc = tomb_decode(tsdb__rd_be32(key.mv_data), val.mv_data, val.mv_size,
                              &db->tombs[db->ntombs])))
            break;
        db->ntombs++;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

void tsdb__tomb_fini(struct tsdb *db)
{
    for (size_t i = 0; i < db->ntombs; i++)
        free(db->tombs[i].iv);
    free(db->tombs);
    db->tombs = NULL;
    db->ntombs = 0;
    for (size_t i = 0; i < db->ngrave; i++)
        tsdb__series_free(db->grave[i]);
    free(db->grave);
    db->grave = NULL;
    db->ngrave = 0;
    for (size_t i = 0; i < db->nghosts; i++)
        tsdb_chunk_enc_fini(&db->ghosts[i].enc);
    free(db->ghosts);
    db->ghosts = NULL;
    db->nghosts = 0;
    db->capghosts = 0;
}

/* Adds [mint, maxt] to id's tombstone (tomb_lock held exclusively). OUT: *tb updated entry. */
static struct tsdb__tomb *tomb_add(struct tsdb *db, uint32_t id, int64_t mint, int64_t maxt)
{
    const struct tsdb__tomb *f = tsdb__tomb_find(db, id);
    struct tsdb__tomb *tb;
    if (f) {
        tb = (struct tsdb__tomb *)f;
    } else {
        db->tombs = pl_xreallocarray(db->tombs, db->ntombs + 1, sizeof(*db->tombs));
        size_t pos = 0;
        while (pos < db->ntombs && db->tombs[pos].id < id)
            pos++;
        memmove(&db->tombs[pos + 1], &db->tombs[pos], (db->ntombs - pos) * sizeof(*db->tombs));
        db->ntombs++;
        tb = &db->tombs[pos];
        tb->id = id;
        tb->n = 0;
        tb->iv = NULL;
    }
    tb->iv = pl_xreallocarray(tb->iv, (size_t)tb->n * 2 + 2, sizeof(int64_t));
    tb->iv[2 * tb->n] = mint;
    tb->iv[2 * tb->n + 1] = maxt;
    tb->n++;
    return tb;
}

void tsdb__tomb_remove(struct tsdb *db, uint32_t id)
{
    const struct tsdb__tomb *f = tsdb__tomb_find(db, id);
    if (!f)
        return;
    size_t pos = (size_t)(f - db->tombs);
    free(db->tombs[pos].iv);
    memmove(&db->tombs[pos], &db->tombs[pos + 1], (db->ntombs - pos - 1) * sizeof(*db->tombs));
    db->ntombs--;
}

static int tomb_put(struct tsdb *db, MDB_txn *txn, const struct tsdb__tomb *tb)
{
    uint8_t k[4];
    tsdb__be32(k, tb->id);
    MDB_val key = {4, k}, val = {(size_t)tb->n * 16, NULL};
    int rc = mdb_put(txn, db->dbi_tomb, &key, &val, MDB_RESERVE);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < tb->n * 2; i++)
        tsdb__le64((uint8_t *)val.mv_data + 8 * i, (uint64_t)tb->iv[i]);
    return 0;
}

/*
 * Calls fn for each chunk of series id in partitions below plim (fn must not
 * move the cursor).
 */
static int for_each_chunk(struct tsdb *db, MDB_txn *txn, uint32_t id, uint64_t plim,
                          int (*fn)(void *ctx, MDB_cursor *c, MDB_val *k, MDB_val *v), void *ctx)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, db->dbi_chunks, &c);
    if (rc)
        return rc;
    uint32_t p = 0;
    uint8_t k[16];
    int seek = 1;
    for (;;) {
        MDB_val key, val;
        if (seek) {
            tsdb__be32(k, p);
            tsdb__be32(k + 4, id);
            memset(k + 8, 0, 8);
            key.mv_size = 16;
            key.mv_data = k;
            rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
        } else {
            rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
        }
        seek = 0;
        if (rc)
            break;
        if (key.mv_size != 16) {
            rc = PL_ERR_CORRUPT;
            break;
        }
        uint32_t kpart = tsdb__rd_be32(key.mv_data);
        uint32_t kid = tsdb__rd_be32((uint8_t *)key.mv_data + 4);
        if ((uint64_t)kpart >= plim)
            break;
        if (kid != id) {
            /* Jump to the next partition that may hold the series. */
            if (kid > id && kpart == UINT32_MAX)
                break;
            p = kid < id ? kpart : kpart + 1;
            seek = 1;
            continue;
        }
        if ((rc = fn(ctx, c, &key, &val)))
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

struct collect_keys {
    uint8_t (*keys)[16];
    size_t n, cap;
};

static int collect_key(void *ctx, MDB_cursor *c, MDB_val *k, MDB_val *v)
{
    struct collect_keys *ck = ctx;
    (void)c;
    (void)v;
    if (ck->n == ck->cap) {
        ck->cap = ck->cap ? ck->cap * 2 : 64;
        ck->keys = pl_xreallocarray(ck->keys, ck->cap, 16);
    }
    memcpy(ck->keys[ck->n++], k->mv_data, 16);
    return 0;
}

static int chunk_keys(struct tsdb *db, MDB_txn *txn, uint32_t id, uint64_t plim,
                      struct collect_keys *ck)
{
    memset(ck, 0, sizeof(*ck));
    return for_each_chunk(db, txn, id, plim, collect_key, ck);
}

int tsdb__series_forget(struct tsdb *db, MDB_txn *txn, uint32_t id)
{
    return tsdb__series_forget_before(db, txn, id, (uint64_t)UINT32_MAX + 1);
}

int tsdb__series_forget_before(struct tsdb *db, MDB_txn *txn, uint32_t id, uint64_t plim)
{
    struct pl_labels *ls;
    int rc = tsdb__series_read(db, txn, id, &ls, NULL);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    rc = tsdb__index_remove(db, txn, id, ls);
    pl_labels_free(ls);
    struct collect_keys ck = {0};
    if (rc == 0)
        rc = chunk_keys(db, txn, id, plim, &ck);
    for (size_t i = 0; rc == 0 && i < ck.n; i++) {
        MDB_val key = {16, ck.keys[i]};
        rc = mdb_del(txn, db->dbi_chunks, &key, NULL);
    }
    free(ck.keys); /* also when collecting or deleting failed part way */
    uint8_t k[4];
    tsdb__be32(k, id);
    MDB_val key = {4, k};
    if (rc == 0) {
        rc = mdb_del(txn, db->dbi_head, &key, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc == 0) {
        rc = mdb_del(txn, db->dbi_tomb, &key, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    return rc;
}

/* Drops series id from memory after its forget (write txn `txn`) committed (commit_mu held). */
static void forget_memory(struct tsdb *db, uint32_t id, uint64_t txn)
{
    pthread_rwlock_wrlock(&db->map_lock);
    pthread_mutex_t *mu = tsdb__stripe(db, id);
    pthread_mutex_lock(mu);
    struct tsdb__series *s = tsdb__head_get(db, id);
    if (s)
        tsdb__series_retire(db, s, txn);
    pthread_mutex_unlock(mu);
    pthread_rwlock_unlock(&db->map_lock);
    pthread_rwlock_wrlock(&db->tomb_lock);
    tsdb__tomb_remove(db, id);
    pthread_rwlock_unlock(&db->tomb_lock);
}

/*
 * Keeps s's open chunk for readers older than txn: their snapshot still
 * indexes the series, and a chunk never checkpointed is nowhere else
 * (stripe lock and commit_mu held). Ids arrive mostly ascending (postings
 * order, the GC sweep), so the insertion from the end is short.
 */
static void ghost_add(struct tsdb *db, struct tsdb__series *s, uint64_t txn)
{
    pthread_rwlock_wrlock(&db->ghost_lock);
    if (db->nghosts == db->capghosts) {
        db->capghosts = db->capghosts ? db->capghosts * 2 : 16;
        db->ghosts = pl_xreallocarray(db->ghosts, db->capghosts, sizeof(*db->ghosts));
    }
    size_t pos = db->nghosts;
    while (pos > 0 && db->ghosts[pos - 1].id > s->id)
        pos--;
    memmove(&db->ghosts[pos + 1], &db->ghosts[pos], (db->nghosts - pos) * sizeof(*db->ghosts));
    db->ghosts[pos].id = s->id;
    db->ghosts[pos].txn = txn;
    db->ghosts[pos].enc = s->enc; /* moved: s->enc is renewed below */
    db->nghosts++;
    pthread_rwlock_unlock(&db->ghost_lock);
    tsdb_chunk_enc_init_kind(&s->enc, TSDB_HEAD_ENC);
}

int tsdb__ghost_copy(struct tsdb *db, uint32_t id, uint64_t txnid, struct pl_buf *out, int *found)
{
    *found = 0;
    pl_buf_reset(out);
    pthread_rwlock_rdlock(&db->ghost_lock);
    size_t lo = 0, hi = db->nghosts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (db->ghosts[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    int rc = 0;
    if (lo < db->nghosts && db->ghosts[lo].id == id && txnid < db->ghosts[lo].txn) {
        *found = 1;
        size_t len;
        const uint8_t *p = tsdb_chunk_enc_bytes(&db->ghosts[lo].enc, &len);
        rc = pl_buf_append(out, p, len);
    }
    pthread_rwlock_unlock(&db->ghost_lock);
    return rc;
}

void tsdb__ghost_release(struct tsdb *db)
{
    if (db->nghosts == 0) /* only changed under commit_mu, which is held */
        return;
    uint64_t oldest = tsdb__oldest_reader(db);
    pthread_rwlock_wrlock(&db->ghost_lock);
    size_t w = 0;
    for (size_t i = 0; i < db->nghosts; i++) {
        if (oldest >= db->ghosts[i].txn)
            tsdb_chunk_enc_fini(&db->ghosts[i].enc); /* no reader predates the forget */
        else
            db->ghosts[w++] = db->ghosts[i];
    }
    db->nghosts = w;
    pthread_rwlock_unlock(&db->ghost_lock);
}

void tsdb__series_retire(struct tsdb *db, struct tsdb__series *s, uint64_t txn)
{
    tsdb__smap_remove(&db->map, s);
    tsdb__head_set(db, s->id, NULL);
    /* An appender may still hold the pointer: keep the struct, drop its data. */
    __atomic_store_n(&s->persisted, 2, __ATOMIC_RELEASE); /* forgotten; add() reads it */
    if (s->enc.n > 0)
        ghost_add(db, s, txn);
    else
        tsdb__enc_renew(&s->enc);
    atomic_fetch_sub(&db->st_head_series, 1);
    /* commit_mu is held: it guards the graveyard. */
    if (db->ngrave == db->capgrave) {
        db->capgrave = db->capgrave ? db->capgrave * 2 : 64;
        db->grave = pl_xreallocarray(db->grave, db->capgrave, sizeof(*db->grave));
    }
    db->grave[db->ngrave++] = s;
}

/*
 * Newest sample of series id: memory, else its head record; INT64_MAX if
 * unknown, or when samples are pending (an appender batch, a backfill's
 * buffer): those land later, so only a delete open-ended above forgets it.
 */
static int64_t mem_or_head_max(struct tsdb *db, MDB_txn *txn, uint32_t id)
{
    pthread_mutex_t *mu = tsdb__stripe(db, id);
    pthread_mutex_lock(mu);
    struct tsdb__series *s = tsdb__head_get(db, id);
    int64_t mt = s ? s->max_t : INT64_MIN;
    if (s && __atomic_load_n(&s->pending, __ATOMIC_ACQUIRE))
        mt = INT64_MAX;
    pthread_mutex_unlock(mu);
    if (s)
        return mt;
    uint8_t k[4];
    tsdb__be32(k, id);
    MDB_val key = {4, k}, val;
    if (mdb_get(txn, db->dbi_head, &key, &val) == 0 && val.mv_size >= 16)
        return (int64_t)tsdb__rd_le64(val.mv_data);
    return INT64_MAX;
}

int tsdb_delete_series(struct tsdb *db, struct tsdb_matcher *const *ms, size_t n, int64_t mint,
                       int64_t maxt, struct pl_err *err)
{
    if (db->opt.read_only)
        return pl_err_set(err, PL_ERR_STATE, "storage is read-only");
    if (mint > maxt)
        return pl_err_set(err, PL_ERR_INVALID, "delete range end before start");
    pthread_mutex_lock(&db->commit_mu);
    if (db->failed) {
        pthread_mutex_unlock(&db->commit_mu);
        return pl_err_set(err, PL_ERR_STATE, "storage failed after a write error; reopen it");
    }
    tsdb__ghost_release(db);
    /*
     * Samples of a lazy WAL replay are applied first: tombstones and removals
     * rewrite head records, which the pending samples would not see.
     */
    int rc = tsdb__pend_drain_all(db, err);
    if (rc) {
        pthread_mutex_unlock(&db->commit_mu);
        return rc;
    }
    MDB_txn *txn;
    rc = tsdb__wtxn_begin(db, 1 << 20, &txn);
    if (rc) {
        pthread_mutex_unlock(&db->commit_mu);
        return tsdb__wtxn_err(db, err, rc, "deleting series");
    }
    struct tsdb__pit *it;
    rc = tsdb__postings_for_matchers(db, txn, ms, n, &it, err);
    if (rc) {
        mdb_txn_abort(txn);
        pthread_mutex_unlock(&db->commit_mu);
        return rc;
    }
    uint32_t *ids = NULL;
    size_t nids = 0;
    rc = tsdb__pit_collect(it, &ids, &nids);
    uint32_t *forget = pl_xmalloc((nids ? nids : 1) * sizeof(*forget));
    size_t nforget = 0;
    pthread_rwlock_wrlock(&db->tomb_lock);
    for (size_t i = 0; i < nids && rc == 0; i++) {
        int64_t smin;
        rc = tsdb__series_read(db, txn, ids[i], NULL, &smin);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        int64_t smax = mem_or_head_max(db, txn, ids[i]);
        if (smax == INT64_MIN)
            smax = smin;
        if (mint <= smin && maxt >= smax) {
            rc = tsdb__series_forget(db, txn, ids[i]);
            forget[nforget++] = ids[i];
        } else {
            struct tsdb__tomb *tb = tomb_add(db, ids[i], mint, maxt);
            rc = tomb_put(db, txn, tb);
        }
    }
    pthread_rwlock_unlock(&db->tomb_lock);
    uint64_t wtxn = mdb_txn_id(txn);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc) {
        /* The in-memory tombstones may be ahead of LMDB: reload them. */
        MDB_txn *r;
        pthread_rwlock_wrlock(&db->tomb_lock);
        for (size_t i = 0; i < db->ntombs; i++)
            free(db->tombs[i].iv);
        free(db->tombs);
        db->tombs = NULL;
        db->ntombs = 0;
        if (tsdb__rtxn_begin(db, &r) == 0) {
            tsdb__tomb_load(db, r);
            tsdb__rtxn_end(db, r);
        }
        pthread_rwlock_unlock(&db->tomb_lock);
    } else {
        for (size_t i = 0; i < nforget; i++)
            forget_memory(db, forget[i], wtxn);
    }
    pthread_mutex_unlock(&db->commit_mu);
    free(ids);
    free(forget);
    if (rc)
        return tsdb__mdb_err(err, rc, "deleting series");
    return 0;
}

/* Re-encodes the samples of chunk p[0..n) not under tb into enc (reset first). */
static int filter_chunk(const uint8_t *p, size_t n, const struct tsdb__tomb *tb,
                        struct tsdb_chunk_enc *enc)
{
    struct tsdb_chunk_dec d;
    int rc = tsdb_chunk_dec_init(&d, p, n);
    if (rc)
        return rc;
    tsdb__enc_renew(enc);
    int64_t t;
    double v;
    while ((rc = tsdb_chunk_dec_next(&d, &t, &v)) == 1) {
        if (tsdb__tomb_covers(tb, t))
            continue;
        if ((rc = tsdb_chunk_enc_append(enc, t, v)))
            return rc;
    }
    return rc;
}

static int clean_series(struct tsdb *db, MDB_txn *txn, const struct tsdb__tomb *tb,
                        struct tsdb_chunk_enc *enc, struct pl_buf *sb)
{
    struct collect_keys ck;
    int rc = chunk_keys(db, txn, tb->id, (uint64_t)UINT32_MAX + 1, &ck);
    for (size_t i = 0; rc == 0 && i < ck.n; i++) {
        MDB_val key = {16, ck.keys[i]}, val;
        if ((rc = mdb_get(txn, db->dbi_chunks, &key, &val)))
            break;
        if (val.mv_size < 8) {
            rc = PL_ERR_CORRUPT;
            break;
        }
        if ((rc = filter_chunk((uint8_t *)val.mv_data + 8, val.mv_size - 8, tb, enc)))
            break;
        if ((rc = mdb_del(txn, db->dbi_chunks, &key, NULL)))
            break;
        if (enc->n == 0)
            continue;
        size_t len;
        const uint8_t *p = tsdb_chunk_enc_bytes(enc, &len);
        pl_buf_reset(sb);
        if ((rc = tsdb_chunk_seal(p, len, sb)))
            break;
        rc = tsdb__chunk_put(db, txn, tb->id, enc->t_first, enc->t_last, (const uint8_t *)sb->data,
                             sb->len);
    }
    free(ck.keys);
    if (rc)
        return rc;
    /*
     * The open chunk: in memory, or the head record of a series not loaded.
     * It is filtered into enc (scratch) and swapped in only once it decoded
     * and re-encoded whole; if this step fails after the swap, the original
     * (then in enc) goes back, so memory never loses samples the aborted
     * transaction keeps. commit_mu is held: no appender changes s->enc.
     */
    pthread_mutex_t *mu = tsdb__stripe(db, tb->id);
    pthread_mutex_lock(mu);
    struct tsdb__series *s = tsdb__head_get(db, tb->id);
    int swapped = 0;
    if (s && s->enc.n > 0) {
        size_t len;
        const uint8_t *p = tsdb_chunk_enc_bytes(&s->enc, &len);
        rc = filter_chunk(p, len, tb, enc);
        if (rc == 0) {
            struct tsdb_chunk_enc old = s->enc;
            s->enc = *enc;
            *enc = old; /* owned by the scratch encoder now: freed by its next renew */
            swapped = 1;
        }
    }
    /*
     * Persist the filtered open chunk with the tombstone's removal: after a
     * crash, the older checkpoint record must not bring the samples back
     * (WAL records before this point replay as duplicates of max_t).
     */
    if (rc == 0 && s && s->persisted == 1)
        rc = tsdb__head_record(s, sb);
    pthread_mutex_unlock(mu);
    if (rc == 0 && s && s->persisted == 1) {
        uint8_t hk[4];
        tsdb__be32(hk, tb->id);
        MDB_val hkey = {4, hk}, hval = {sb->len, sb->data};
        rc = mdb_put(txn, db->dbi_head, &hkey, &hval, 0);
    }
    if (rc && swapped) {
        pthread_mutex_lock(mu);
        struct tsdb_chunk_enc filtered = s->enc;
        s->enc = *enc;
        *enc = filtered;
        pthread_mutex_unlock(mu);
    }
    if (rc || s)
        return rc;
    uint8_t k[4];
    tsdb__be32(k, tb->id);
    MDB_val key = {4, k}, val;
    rc = mdb_get(txn, db->dbi_head, &key, &val);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (val.mv_size <= 16)
        return val.mv_size == 16 ? 0 : PL_ERR_CORRUPT;
    if ((rc = filter_chunk((uint8_t *)val.mv_data + 16, val.mv_size - 16, tb, enc)))
        return rc;
    uint8_t hdr[16];
    memcpy(hdr, val.mv_data, 16);
    pl_buf_reset(sb);
    if ((rc = pl_buf_append(sb, hdr, 16)))
        return rc;
    if (enc->n) {
        size_t len;
        const uint8_t *p = tsdb_chunk_enc_bytes(enc, &len);
        if ((rc = pl_buf_append(sb, p, len)))
            return rc;
    }
    MDB_val nv = {sb->len, sb->data};
    return mdb_put(txn, db->dbi_head, &key, &nv, 0);
}

int tsdb_clean_tombstones(struct tsdb *db, struct pl_err *err)
{
    if (db->opt.read_only)
        return pl_err_set(err, PL_ERR_STATE, "storage is read-only");
    pthread_mutex_lock(&db->commit_mu);
    if (db->failed) {
        pthread_mutex_unlock(&db->commit_mu);
        return pl_err_set(err, PL_ERR_STATE, "storage failed after a write error; reopen it");
    }
    /*
     * Samples of a lazy WAL replay are applied first: tombstones and removals
     * rewrite head records, which the pending samples would not see.
     */
    int rc = tsdb__pend_drain_all(db, err);
    if (rc) {
        pthread_mutex_unlock(&db->commit_mu);
        return rc;
    }
    MDB_txn *txn;
    rc = tsdb__wtxn_begin(db, 16 << 20, &txn);
    if (rc) {
        pthread_mutex_unlock(&db->commit_mu);
        return tsdb__wtxn_err(db, err, rc, "cleaning tombstones");
    }
    struct tsdb_chunk_enc enc;
    tsdb_chunk_enc_init_kind(&enc, TSDB_HEAD_ENC);
    struct pl_buf sb;
    pl_buf_init(&sb, 1 << 24);
    /*
     * Hold the tombstones shared while rewriting: readers keep filtering with
     * them until the rewritten chunks are committed.
     */
    pthread_rwlock_rdlock(&db->tomb_lock);
    for (size_t i = 0; i < db->ntombs && rc == 0; i++) {
        rc = clean_series(db, txn, &db->tombs[i], &enc, &sb);
        if (rc == 0) {
            uint8_t k[4];
            tsdb__be32(k, db->tombs[i].id);
            MDB_val key = {4, k};
            rc = mdb_del(txn, db->dbi_tomb, &key, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
    }
    pthread_rwlock_unlock(&db->tomb_lock);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc) {
        /*
         * Open chunks of series whose step completed may have been rewritten
         * already: they only lost samples their tombstones (kept) hide.
         */
        pthread_mutex_unlock(&db->commit_mu);
        tsdb_chunk_enc_fini(&enc);
        pl_buf_fini(&sb);
        return tsdb__mdb_err(err, rc, "cleaning tombstones");
    }
    pthread_rwlock_wrlock(&db->tomb_lock);
    for (size_t i = 0; i < db->ntombs; i++)
        free(db->tombs[i].iv);
    free(db->tombs);
    db->tombs = NULL;
    db->ntombs = 0;
    pthread_rwlock_unlock(&db->tomb_lock);
    pthread_mutex_unlock(&db->commit_mu);
    tsdb_chunk_enc_fini(&enc);
    pl_buf_fini(&sb);
    return 0;
}

/* Deletes every chunk of partitions < below (bounded per call). 1 if more remain. */
static int drop_before(struct tsdb *db, MDB_txn *txn, uint32_t below, size_t *budget)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, db->dbi_chunks, &c);
    if (rc)
        return rc;
    MDB_val key, val;
    while ((rc = mdb_cursor_get(c, &key, &val, MDB_FIRST)) == 0) {
        if (key.mv_size != 16 || tsdb__rd_be32(key.mv_data) >= below)
            break;
        if (*budget == 0) {
            rc = 1;
            break;
        }
        if ((rc = mdb_cursor_del(c, 0)))
            break;
        (*budget)--;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The partition of the oldest chunk left, or UINT32_MAX when none. */
static int first_partition(struct tsdb *db, MDB_txn *txn, uint32_t *part)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, db->dbi_chunks, &c);
    if (rc)
        return rc;
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) {
        *part = UINT32_MAX;
        return 0;
    }
    if (rc == 0 && k.mv_size != 16)
        rc = PL_ERR_CORRUPT;
    if (rc == 0)
        *part = tsdb__rd_be32(k.mv_data);
    return rc;
}

/* The first partition retention by age keeps for a newest sample `newest` (retention_ms > 0). */
static uint32_t age_keep_from(const struct tsdb *db, int64_t newest)
{
    int64_t cutoff = newest - db->opt.retention_ms;
    /* Partitions ending at or before the cutoff go. */
    uint32_t below = tsdb__partition(cutoff);
    if (tsdb__partition_start(below + 1) - 1 <= cutoff)
        below++;
    return below;
}

int64_t tsdb__retention_cut(struct tsdb *db)
{
    int64_t cut = db->gc_cut;
    int64_t newest = atomic_load(&db->st_max_t);
    if (db->opt.retention_ms > 0 && newest != INT64_MIN && newest - db->opt.retention_ms < newest) {
        int64_t c = tsdb__partition_start(age_keep_from(db, newest));
        if (c > cut)
            cut = c;
    }
    return cut;
}

int tsdb__retention_apply(struct tsdb *db, struct pl_err *err)
{
    MDB_txn *txn;
    /*
     * Deleting chunks copies the B-tree leaves they sit in (copy on write),
     * up to a leaf per ~50 chunks: a pass deletes at most `budget` chunks.
     * With little disk left, a small pass still makes progress (it is what
     * frees space when retention by size is set).
     */
    tsdb__ghost_release(db);
    size_t budget = 50000;
    int rc = tsdb__wtxn_begin(db, budget * 80, &txn);
    if (rc == -ENOSPC) {
        budget = 1000;
        rc = tsdb__wtxn_begin(db, budget * 80, &txn);
    }
    if (rc)
        return tsdb__wtxn_err(db, err, rc, "applying retention");
    /* Everything before `cut` is gone once this pass commits (series GC uses it). */
    int64_t cut = INT64_MIN;
    int64_t newest = atomic_load(&db->st_max_t);
    if (db->opt.retention_ms > 0 && newest != INT64_MIN) {
        int64_t cutoff = newest - db->opt.retention_ms;
        if (cutoff < newest) {
            uint32_t below = age_keep_from(db, newest);
            rc = drop_before(db, txn, below, &budget);
            cut = tsdb__partition_start(below);
        }
    }
    if (rc == 0 && db->opt.retention_bytes > 0) {
        while (rc == 0 && tsdb__used_bytes(db, txn) > db->opt.retention_bytes) {
            MDB_cursor *c;
            if ((rc = mdb_cursor_open(txn, db->dbi_chunks, &c)))
                break;
            MDB_val k1, v1, k2, v2;
            int r1 = mdb_cursor_get(c, &k1, &v1, MDB_FIRST);
            int r2 = mdb_cursor_get(c, &k2, &v2, MDB_LAST);
            uint32_t first = r1 == 0 ? tsdb__rd_be32(k1.mv_data) : 0;
            uint32_t last = r2 == 0 ? tsdb__rd_be32(k2.mv_data) : 0;
            mdb_cursor_close(c);
            /* Never drop the newest partition: it is what is being written. */
            if (r1 || r2 || first >= last)
                break;
            rc = drop_before(db, txn, first + 1, &budget);
            if (tsdb__partition_start(first + 1) > cut)
                cut = tsdb__partition_start(first + 1);
        }
    }
    if (rc == 1)
        rc = 0; /* budget spent: the rest goes next time */
    if (rc == 0 && cut != INT64_MIN) {
        /* A pass cut short by its budget only cleared what lies before the oldest chunk left. */
        uint32_t fp;
        rc = first_partition(db, txn, &fp);
        if (rc == 0 && fp != UINT32_MAX && tsdb__partition_start(fp) < cut)
            cut = tsdb__partition_start(fp);
    }
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc)
        return tsdb__mdb_err(err, rc, "applying retention");
    if (cut != INT64_MIN && cut > db->gc_cut) {
        /* Series that retention left without samples: sweep the index again. */
        db->gc_cut = cut;
        db->gc_pos = 0;
    }
    if (db->gc_cut > db->gc_done) {
        rc = tsdb__gc_step(db, 4096, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}
