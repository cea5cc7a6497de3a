/*
 * append.c - appenders: a batch of samples becomes one WAL record and one
 * LMDB write transaction, and is applied to the head's open chunks, with
 * Prometheus's append rules (per-series out-of-order rejected, duplicate
 * timestamp with the same value ignored, with another value rejected).
 */
#include "tsdb/tsdb_int.h"

#include <malloc.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"

struct aent {
    struct tsdb__series *s;
    int64_t t;
    uint64_t v;
};

struct tsdb_appender {
    struct tsdb *db;
    struct aent *v;
    size_t n, cap;
    /* Indexes in v of each series' first entry (the ones holding its pending mark). */
    uint32_t *first;
    size_t nfirst;
    /* first[0..nreleased) had their mark released by apply (commit_mu held). */
    size_t nreleased;
    /*
     * Indexes in v of the first entries of series that had no index entries
     * when added: the commit looks only at these for series to index, not at
     * every entry's series (a cache miss each).
     */
    uint32_t *fresh;
    size_t nfresh;
    /* id -> index+1 of the batch's last entry for that series (open addressing). */
    uint32_t *hk;
    uint32_t *hv;
    size_t hcap;
};

static uint64_t dbits(double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    return b;
}

int tsdb__head_check(const struct tsdb__series *s, int64_t t, uint64_t v)
{
    if (s->max_t == INT64_MIN || t > s->max_t)
        return 0;
    if (t < s->max_t)
        return PL_ERR_OUT_OF_ORDER;
    return v == s->last_v ? 1 : PL_ERR_DUPLICATE;
}

int tsdb__chunk_put(struct tsdb *db, MDB_txn *txn, uint32_t id, int64_t mint, int64_t maxt,
                    const uint8_t *p, size_t n)
{
    uint8_t k[16];
    tsdb__be32(k, tsdb__partition(mint));
    tsdb__be32(k + 4, id);
    tsdb__be64(k + 8, (uint64_t)mint ^ (UINT64_C(1) << 63));
    MDB_val key = {16, k}, val = {n + 8, NULL};
    int rc = mdb_put(txn, db->dbi_chunks, &key, &val, MDB_RESERVE);
    if (rc)
        return rc;
    tsdb__le64(val.mv_data, (uint64_t)maxt);
    memcpy((uint8_t *)val.mv_data + 8, p, n);
    return 0;
}

int tsdb__head_seal(struct tsdb *db, MDB_txn *txn, struct tsdb__series *s, struct pl_buf *scratch)
{
    if (s->enc.n == 0)
        return 0;
    size_t len;
    const uint8_t *p = tsdb_chunk_enc_bytes(&s->enc, &len);
    pl_buf_reset(scratch);
    int rc = tsdb_chunk_seal(p, len, scratch);
    if (rc)
        return rc;
    int64_t mint = s->enc.t_first, maxt = s->enc.t_last;
    rc = tsdb__chunk_put(db, txn, s->id, mint, maxt, (const uint8_t *)scratch->data, scratch->len);
    if (rc)
        return rc;
    /*
     * Until this transaction commits, readers cannot see the chunk in LMDB, so
     * the series keeps a copy (the stripe lock is held by the caller).
     */
    s->sealing = pl_xrealloc(s->sealing, (size_t)s->sealing_len + 4 + scratch->len);
    uint8_t *q = s->sealing + s->sealing_len;
    q[0] = (uint8_t)scratch->len;
    q[1] = (uint8_t)(scratch->len >> 8);
    q[2] = (uint8_t)(scratch->len >> 16);
    q[3] = (uint8_t)(scratch->len >> 24);
    memcpy(q + 4, scratch->data, scratch->len);
    s->sealing_len += (uint32_t)(4 + scratch->len);
    s->seal_txn = mdb_txn_id(txn);
    /*
     * Release the buffer rather than reset it: a buffer kept at its peak size
     * costs every active series the largest chunk it ever had.
     */
    tsdb__enc_renew(&s->enc);
    atomic_fetch_add(&db->st_sealed, 1);
    return 0;
}

int tsdb__head_append(struct tsdb *db, MDB_txn *txn, struct tsdb__series *s, int64_t t, uint64_t v,
                      struct pl_buf *scratch)
{
    int rc = tsdb__head_check(s, t, v);
    if (rc)
        return rc;
    if (db->opt.read_only) {
        /* Replaying for a read-only open: nothing may be written. */
        double rv;
        memcpy(&rv, &v, 8);
        if ((rc = tsdb_chunk_enc_append(&s->enc, t, rv)))
            return rc;
        s->max_t = t;
        s->last_v = v;
        return 0;
    }
    if (s->enc.n > 0 &&
        (s->enc.n >= TSDB_SEAL_SAMPLES || tsdb__partition(t) != tsdb__partition(s->enc.t_first))) {
        if ((rc = tsdb__head_seal(db, txn, s, scratch)))
            return rc;
    }
    double dv;
    memcpy(&dv, &v, 8);
    rc = tsdb_chunk_enc_append(&s->enc, t, dv);
    if (rc == PL_ERR_LIMIT) {
        if ((rc = tsdb__head_seal(db, txn, s, scratch)))
            return rc;
        rc = tsdb_chunk_enc_append(&s->enc, t, dv);
    }
    if (rc)
        return rc;
    s->max_t = t;
    s->last_v = v;
    if (t < s->min_t)
        s->min_t = t;
    s->dirty = 1;
    return 0;
}

int tsdb_appender_begin(struct tsdb *db, struct tsdb_appender **out)
{
    if (db->opt.read_only)
        return PL_ERR_STATE;
    tsdb__head_pin(db);
    /* Reuse the last appender's arrays: steady scraping then allocates nothing. */
    pthread_mutex_lock(&db->spare_mu);
    struct tsdb_appender *a = db->spare;
    db->spare = NULL;
    pthread_mutex_unlock(&db->spare_mu);
    if (!a) {
        a = pl_xcalloc(1, sizeof(*a));
        a->db = db;
    }
    *out = a;
    return 0;
}

static void appender_destroy(struct tsdb_appender *a)
{
    free(a->v);
    free(a->first);
    free(a->fresh);
    free(a->hk);
    free(a->hv);
    free(a);
}

static void appender_free(struct tsdb_appender *a)
{
    struct tsdb *db = a->db;
    for (size_t i = a->nreleased; i < a->nfirst; i++)
        __atomic_fetch_sub(&a->v[a->first[i]].s->pending, 1, __ATOMIC_RELEASE);
    a->nreleased = 0;
    if (a->nfirst == 0) {
        /* Nothing to clear (and the map may not exist yet). */
    } else if (a->nfirst * 8 >= a->hcap) {
        /* The batch filled a good part of the map: wiping it is cheaper than probing. */
        memset(a->hv, 0, a->hcap * sizeof(*a->hv));
    } else {
        /*
         * Clear only the slots this batch used, in two passes: clearing a
         * slot while others are still to be found would cut the probe chain
         * of a series that collided with it, leaving a stale slot behind
         * that a later batch would read as its own entry.
         */
        for (size_t i = 0; i < a->nfirst; i++) {
            uint32_t id = a->v[a->first[i]].s->id;
            size_t j = (id * 2654435761u) & (a->hcap - 1);
            while (a->hv[j] && a->hk[j] != id)
                j = (j + 1) & (a->hcap - 1);
            a->first[i] = (uint32_t)j;
        }
        for (size_t i = 0; i < a->nfirst; i++)
            a->hv[a->first[i]] = 0;
    }
    a->nfirst = 0;
    a->nfresh = 0;
    a->n = 0;
    /* Last use of the batch's series pointers: eviction may free them now. */
    tsdb__head_unpin(db);
    pthread_mutex_lock(&db->spare_mu);
    if (!db->spare) {
        db->spare = a;
        a = NULL;
    }
    pthread_mutex_unlock(&db->spare_mu);
    if (a)
        appender_destroy(a);
}

void tsdb__appender_cache_fini(struct tsdb *db)
{
    if (db->spare)
        appender_destroy(db->spare);
    db->spare = NULL;
    free(db->cs_acc);
    free(db->cs_news);
    free(db->cs_sealed);
    pl_buf_fini(&db->cs_rec);
    pl_buf_fini(&db->cs_comp);
    pl_buf_fini(&db->cs_scratch);
}

void tsdb_appender_rollback(struct tsdb_appender *a)
{
    if (a)
        appender_free(a);
}

static void hash_grow(struct tsdb_appender *a)
{
    size_t ncap = a->hcap ? a->hcap * 2 : 256;
    uint32_t *nk = pl_xmalloc(ncap * sizeof(*nk)), *nv = pl_xcalloc(ncap, sizeof(*nv));
    for (size_t i = 0; i < a->hcap; i++) {
        if (!a->hv[i])
            continue;
        size_t j = (a->hk[i] * 2654435761u) & (ncap - 1);
        while (nv[j])
            j = (j + 1) & (ncap - 1);
        nk[j] = a->hk[i];
        nv[j] = a->hv[i];
    }
    free(a->hk);
    free(a->hv);
    a->hk = nk;
    a->hv = nv;
    a->hcap = ncap;
}

/* Slot of id in the batch map (to read or to fill). */
static size_t hash_slot(struct tsdb_appender *a, uint32_t id)
{
    size_t j = (id * 2654435761u) & (a->hcap - 1);
    while (a->hv[j] && a->hk[j] != id)
        j = (j + 1) & (a->hcap - 1);
    return j;
}

static void grow_entries(struct tsdb_appender *a)
{
    a->cap = a->cap ? a->cap * 2 : 256;
    a->v = pl_xreallocarray(a->v, a->cap, sizeof(*a->v));
    a->first = pl_xreallocarray(a->first, a->cap, sizeof(*a->first));
    a->fresh = pl_xreallocarray(a->fresh, a->cap, sizeof(*a->fresh));
}

/*
 * Adds a sample of s (whose id is id: reading it from s would be one more
 * cache miss). With held NULL the series' stripe is locked and unlocked
 * here; otherwise *held is the stripe the caller holds, swapped for s's if
 * they differ, and left locked on return.
 */
static int add(struct tsdb_appender *a, struct tsdb__series *s, uint32_t id, int64_t t, double dv,
               pthread_mutex_t **held)
{
    struct tsdb *db = a->db;
    uint64_t v = dbits(dv);
    if (db->opt.retention_ms > 0) {
        int64_t newest = atomic_load(&db->st_max_t);
        if (newest != INT64_MIN && t < newest - db->opt.retention_ms)
            return PL_ERR_TOO_OLD;
    }
    if ((a->n + 1) * 2 > a->hcap)
        hash_grow(a);
    size_t slot = hash_slot(a, id);
    int rc;
    if (a->hv[slot]) {
        const struct aent *last = &a->v[a->hv[slot] - 1];
        if (t < last->t)
            rc = PL_ERR_OUT_OF_ORDER;
        else if (t == last->t)
            rc = last->v == v ? 1 : PL_ERR_DUPLICATE;
        else
            rc = 0;
    } else {
        /*
         * The series' first sample in this batch: mark it pending so that
         * series GC keeps it until the batch ends; a series forgotten since
         * it was looked up is reported as not found (tsdb_append looks again).
         */
        pthread_mutex_t *mu = tsdb__stripe(db, id);
        if (!held) {
            pthread_mutex_lock(mu);
        } else if (*held != mu) {
            if (*held)
                pthread_mutex_unlock(*held);
            pthread_mutex_lock(mu);
            *held = mu;
        }
        /* Set to 1 by a commit under commit_mu only: read atomically. */
        uint8_t persisted = __atomic_load_n(&s->persisted, __ATOMIC_ACQUIRE);
        rc = persisted == 2 ? PL_ERR_NOTFOUND : tsdb__pend_check(db, s, t, v);
        if (rc == 0) {
            __atomic_fetch_add(&s->pending, 1, __ATOMIC_ACQ_REL);
            /* The entry this sample becomes (below) holds the series' mark. */
            if (a->n == a->cap)
                grow_entries(a);
            a->first[a->nfirst++] = (uint32_t)a->n;
            /* Indexed series stay indexed; a new one may be indexed by the time of the commit. */
            if (!persisted)
                a->fresh[a->nfresh++] = (uint32_t)a->n;
        }
        if (!held)
            pthread_mutex_unlock(mu);
    }
    if (rc == 1)
        return 0;
    if (rc == PL_ERR_OUT_OF_ORDER)
        atomic_fetch_add(&db->st_ooo, 1);
    if (rc == PL_ERR_DUPLICATE)
        atomic_fetch_add(&db->st_dup, 1);
    if (rc)
        return rc;
    if (a->n == a->cap)
        grow_entries(a);
    a->v[a->n].s = s;
    a->v[a->n].t = t;
    a->v[a->n].v = v;
    a->n++;
    a->hk[slot] = id;
    a->hv[slot] = (uint32_t)a->n;
    return 0;
}

int tsdb_append(struct tsdb_appender *a, const struct pl_labels *ls, int64_t t, double v,
                uint64_t *ref)
{
    struct tsdb__series *s;
    if (ls->n == 0)
        return PL_ERR_INVALID;
    /* A series forgotten (GC, delete) between lookup and add is looked up again. */
    for (int tries = 0;; tries++) {
        int rc = tsdb__head_get_or_create(a->db, ls, &s);
        if (rc)
            return rc;
        rc = add(a, s, s->id, t, v, NULL);
        if (rc == PL_ERR_NOTFOUND && tries < 3)
            continue;
        if (ref && rc != PL_ERR_NOTFOUND)
            *ref = (uint64_t)s->id + 1;
        return rc;
    }
}

int tsdb_append_ref(struct tsdb_appender *a, uint64_t ref, int64_t t, double v)
{
    if (ref == 0 || ref > UINT32_MAX)
        return PL_ERR_NOTFOUND;
    struct tsdb__series *s;
    if (tsdb__head_get_or_load(a->db, (uint32_t)(ref - 1), &s))
        return PL_ERR_NOTFOUND;
    return add(a, s, (uint32_t)(ref - 1), t, v, NULL);
}

/* How far ahead tsdb_append_refs fetches the id table and batch map, and the series. */
#define REFS_AHEAD_FAR  16
#define REFS_AHEAD_NEAR 8

void tsdb_append_refs(struct tsdb_appender *a, const struct tsdb_ref_sample *in, size_t n, int *rcs)
{
    struct tsdb *db = a->db;
    /* Room for all of them now: the map is not rehashed under the prefetches. */
    while ((a->n + n + 1) * 2 > a->hcap)
        hash_grow(a);
    pthread_mutex_t *held = NULL;
    for (size_t i = 0; i < n; i++) {
        /*
         * A scrape's series are scattered over memory: their id-table slots
         * and batch-map slots are fetched far ahead, then (once the slot is
         * there) the series themselves, so the misses overlap.
         */
        if (i + REFS_AHEAD_FAR < n && in[i + REFS_AHEAD_FAR].ref - 1 < UINT32_MAX) {
            uint32_t id = (uint32_t)(in[i + REFS_AHEAD_FAR].ref - 1);
            struct tsdb__series **page =
                atomic_load_explicit(&db->pages[id >> TSDB_ID_PAGE_BITS], memory_order_acquire);
            if (page)
                __builtin_prefetch(&page[id & (TSDB_ID_PAGE - 1)]);
            size_t j = (id * 2654435761u) & (a->hcap - 1);
            __builtin_prefetch(&a->hk[j]);
            __builtin_prefetch(&a->hv[j]);
        }
        if (i + REFS_AHEAD_NEAR < n && in[i + REFS_AHEAD_NEAR].ref - 1 < UINT32_MAX) {
            struct tsdb__series *ahead =
                tsdb__head_get(db, (uint32_t)(in[i + REFS_AHEAD_NEAR].ref - 1));
            if (ahead) {
                __builtin_prefetch(ahead, 1);
                __builtin_prefetch((const char *)ahead + 63, 1);
            }
        }
        uint64_t ref = in[i].ref;
        if (ref == 0 || ref > UINT32_MAX) {
            rcs[i] = PL_ERR_NOTFOUND;
            continue;
        }
        uint32_t id = (uint32_t)(ref - 1);
        struct tsdb__series *s = tsdb__head_get(db, id);
        if (!s) {
            /* Evicted: loading takes map_lock, which is never taken under a stripe. */
            if (held)
                pthread_mutex_unlock(held);
            held = NULL;
            if (tsdb__head_get_or_load(db, id, &s)) {
                rcs[i] = PL_ERR_NOTFOUND;
                continue;
            }
        }
        rcs[i] = add(a, s, id, in[i].t, in[i].v, &held);
    }
    if (held)
        pthread_mutex_unlock(held);
}

uint64_t tsdb__ckpt_limit(struct tsdb *db)
{
    uint64_t at = db->ckpt_bytes;
    struct tsdb__pend *pend = atomic_load(&db->pend);
    /* Series with pending samples count: they are in memory once a crash-open is over. */
    uint64_t nser = atomic_load(&db->st_head_series) + (pend ? pend->left : 0);
    if (!db->opt.checkpoint_bytes) {
        uint64_t by_series = nser * TSDB_CKPT_BYTES_PER_SERIES;
        if (by_series > TSDB_CKPT_MAX_BYTES)
            by_series = TSDB_CKPT_MAX_BYTES;
        if (by_series > at)
            at = by_series;
    }
    return at;
}

static int cmp_series_id(const void *x, const void *y)
{
    const struct tsdb__series *a = *(struct tsdb__series *const *)x,
                              *b = *(struct tsdb__series *const *)y;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Applies the batch inside txn; collects accepted samples and sealed series. */
static int apply(struct tsdb_appender *a, MDB_txn *txn, struct tsdb__sample *acc, size_t *nacc,
                 struct tsdb__series **sealed, size_t *nsealed, struct pl_buf *scratch)
{
    struct tsdb *db = a->db;
    size_t na = 0, ns = 0;
    int64_t maxt = INT64_MIN, mint = INT64_MAX;
    pthread_mutex_t *held = NULL;
    for (size_t i = 0; i < a->n;) {
        struct tsdb__series *s = a->v[i].s;
        /*
         * A batch touches series scattered over memory: fetch the ones a few
         * entries ahead so that their misses overlap with this one's work.
         */
        if (i + 16 < a->n) {
            const char *far = (const char *)a->v[i + 16].s;
            __builtin_prefetch(far, 1);
            __builtin_prefetch(far + 64, 1);
            __builtin_prefetch(far + 127, 1);
        }
        if (i + 8 < a->n) {
            /* Fetched 8 entries ago: reading it no longer waits for memory. */
            const struct tsdb__series *ahead = a->v[i + 8].s;
            if (ahead->enc.buf)
                __builtin_prefetch(ahead->enc.buf + ahead->enc.bitlen / 8, 1);
            __builtin_prefetch(tsdb__stripe(db, ahead->id), 1);
        }
        /* Consecutive ids share a stripe: keep it locked over a run of them. */
        pthread_mutex_t *mu = tsdb__stripe(db, s->id);
        if (mu != held) {
            if (held)
                pthread_mutex_unlock(held);
            pthread_mutex_lock(mu);
            held = mu;
        }
        /*
         * Release the series' pending mark here, while it is in cache: its
         * readers (series GC, eviction, deletes) hold commit_mu, as this
         * commit does until its samples are in the head. A series' first
         * entry starts a run, and first[] is in entry order.
         */
        if (a->nreleased < a->nfirst && a->first[a->nreleased] == i) {
            __atomic_fetch_sub(&s->pending, 1, __ATOMIC_RELEASE);
            a->nreleased++;
        }
        uint32_t had = s->sealing_len;
        size_t j = i;
        int rc = 0;
        /* Samples of a lazy WAL replay go first, as a replay at open would have put them. */
        if (s->persisted == 1)
            rc = tsdb__pend_drain(db, txn, s, scratch);
        for (; rc == 0 && j < a->n && a->v[j].s == s; j++) {
            if (s->persisted == 2)
                continue; /* deleted since tsdb_append */
            rc = tsdb__head_append(db, txn, s, a->v[j].t, a->v[j].v, scratch);
            if (rc == 0) {
                acc[na].id = s->id;
                acc[na].t = a->v[j].t;
                acc[na].v = a->v[j].v;
                na++;
                if (a->v[j].t > maxt)
                    maxt = a->v[j].t;
                if (a->v[j].t < mint)
                    mint = a->v[j].t;
            } else if (rc == PL_ERR_OUT_OF_ORDER) {
                /* Another appender committed newer samples since tsdb_append. */
                atomic_fetch_add(&db->st_ooo, 1);
                rc = 0;
            } else if (rc == PL_ERR_DUPLICATE) {
                atomic_fetch_add(&db->st_dup, 1);
                rc = 0;
            } else if (rc == 1) {
                rc = 0;
            } else {
                break;
            }
        }
        if (s->sealing_len != had)
            sealed[ns++] = s;
        if (rc) {
            pthread_mutex_unlock(held);
            return rc;
        }
        i = j;
    }
    if (held)
        pthread_mutex_unlock(held);
    *nacc = na;
    *nsealed = ns;
    int64_t cur = atomic_load(&db->st_max_t);
    while (maxt > cur && !atomic_compare_exchange_weak(&db->st_max_t, &cur, maxt))
        ;
    cur = atomic_load(&db->st_min_t);
    while (mint < cur && !atomic_compare_exchange_weak(&db->st_min_t, &cur, mint))
        ;
    return 0;
}

int tsdb_appender_commit(struct tsdb_appender *a, struct tsdb_append_result *res,
                         struct pl_err *err)
{
    struct tsdb *db = a->db;
    if (a->n == 0) {
        if (res)
            memset(res, 0, sizeof(*res));
        appender_free(a);
        return 0;
    }
    /* Group each series' samples together, keeping their order (stable by index). */
    size_t nnew = 0, nacc = 0, nsealed = 0;
    int rc = 0;

    pthread_mutex_lock(&db->commit_mu);
    /* Scratch kept by the db between commits (commit_mu guards it). */
    if (db->cs_cap < a->n) {
        db->cs_cap = a->n;
        db->cs_acc = pl_xreallocarray(db->cs_acc, a->n, sizeof(*db->cs_acc));
        db->cs_news = pl_xreallocarray(db->cs_news, a->n, sizeof(*db->cs_news));
        db->cs_sealed = pl_xreallocarray(db->cs_sealed, a->n, sizeof(*db->cs_sealed));
    }
    struct tsdb__sample *acc = db->cs_acc;
    struct tsdb__series **news = db->cs_news, **sealed = db->cs_sealed;
    struct pl_buf *recp = &db->cs_rec, *compp = &db->cs_comp, *scrp = &db->cs_scratch;
    pl_buf_reset(recp);
    pl_buf_reset(compp);
    pl_buf_reset(scrp);

    if (db->failed) {
        rc = pl_err_set(err, PL_ERR_STATE,
                        "storage is in a failed state after a write error; reopen it");
        goto unlock;
    }
    for (size_t k = 0; k < a->nfresh; k++) {
        /* A series' first entry in the batch has its oldest sample (add keeps them in order). */
        size_t i = a->fresh[k];
        struct tsdb__series *s = a->v[i].s;
        if (!s->persisted && !s->dirty) {
            /* dirty doubles as "queued" for unpersisted series within this commit. */
            s->dirty = 1;
            if (a->v[i].t < s->min_t)
                s->min_t = a->v[i].t;
            news[nnew++] = s;
        }
    }
    for (size_t i = 0; i < nnew; i++)
        news[i]->dirty = 0;
    qsort(news, nnew, sizeof(*news), cmp_series_id);

    MDB_txn *txn;
    rc = tsdb__wtxn_begin(db, a->n * 64 + nnew * 512 + 4096, &txn);
    if (rc) {
        tsdb__wtxn_err(db, err, rc, "beginning a write");
        goto unlock;
    }
    if ((rc = tsdb__index_add(db, txn, news, nnew))) {
        mdb_txn_abort(txn);
        tsdb__mdb_err(err, rc, "writing the series index");
        goto unlock;
    }
    /* From here the head changes: a failure leaves the db failed until reopened. */
    rc = apply(a, txn, acc, &nacc, sealed, &nsealed, scrp);
    if (rc == 0 && nacc > 0 && !db->opt.bulk_load) {
        rc = tsdb__wal_encode(acc, nacc, recp);
        if (rc == 0)
            rc = pl_buf_reserve(compp, snappy_max_compressed_length(recp->len));
        if (rc == 0) {
            size_t clen = compp->cap - compp->len;
            if (snappy_compress(recp->data, recp->len, compp->data, &clen) != SNAPPY_OK)
                rc = PL_ERR_LIMIT;
            compp->len = clen;
        }
        if (rc == 0) {
            uint8_t k[8];
            tsdb__be64(k, db->wal_seq + 1);
            MDB_val key = {8, k}, val = {compp->len, compp->data};
            rc = mdb_put(txn, db->dbi_wal, &key, &val, MDB_APPEND);
        }
    }
    uint32_t next = (uint32_t)atomic_load(&db->next_id);
    if (rc == 0 && nnew && next != db->next_id_persisted)
        rc = tsdb__meta_put_u64(db, txn, "next_id", next);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    pthread_mutex_t *held = NULL;
    for (size_t i = 0; i < nsealed; i++) {
        pthread_mutex_t *mu = tsdb__stripe(db, sealed[i]->id);
        if (mu != held) {
            if (held)
                pthread_mutex_unlock(held);
            pthread_mutex_lock(mu);
            held = mu;
        }
        free(sealed[i]->sealing);
        sealed[i]->sealing = NULL;
        sealed[i]->sealing_len = 0;
    }
    if (held)
        pthread_mutex_unlock(held);
    if (rc) {
        db->failed = 1;
        tsdb__mdb_err(err, rc, "committing samples");
        goto unlock;
    }
    if (nacc > 0 && !db->opt.bulk_load) {
        db->wal_seq++;
        db->wal_bytes_since_ckpt += compp->len;
        atomic_fetch_add(&db->st_wal_records, 1);
        atomic_fetch_add(&db->st_wal_bytes, compp->len);
    }
    if (nnew)
        db->next_id_persisted = next;
    for (size_t i = 0; i < nnew; i++) {
        __atomic_store_n(&news[i]->persisted, 1, __ATOMIC_RELEASE); /* add() reads it */
        news[i]->dirty = 1;
    }
    atomic_fetch_add(&db->st_samples, nacc);
    if (res) {
        res->samples = nacc;
        res->series_new = nnew;
    }
    /* Bounded background work, done by the committer (no extra thread). */
    /*
     * Checkpoint when the WAL since the last one outgrows the head: a restart
     * after a crash replays at most that much, and a checkpoint costs about
     * one record per active series.
     */
    struct tsdb__pend *pend = atomic_load(&db->pend);
    if (db->wal_bytes_since_ckpt > tsdb__ckpt_limit(db)) {
        struct pl_err e2;
        /*
         * Samples of a lazy replay block the WAL truncation: apply a bounded
         * slice of them per commit (the series scraped apply theirs anyway).
         */
        if (pend) {
            if (tsdb__pend_step(db, TSDB_PEND_STEP, &e2) != 0)
                pl_log(PL_LOG_WARN, "tsdb", "applying replayed WAL samples failed", "err", e2.msg,
                       NULL);
        } else if (tsdb__head_checkpoint(db, &e2) != 0)
            pl_log(PL_LOG_WARN, "tsdb", "head checkpoint failed", "err", e2.msg, NULL);
        /* Hand freed pages (sealed chunks' buffers, batch scratch) back to the OS. */
        malloc_trim(0);
    }
    if (nsealed > 0) {
        int crc = tsdb__compact_step(db, 4096);
        if (crc) {
            struct pl_err e2;
            tsdb__mdb_err(&e2, crc, "compacting a partition");
            pl_log(PL_LOG_WARN, "tsdb", "compaction failed", "err", e2.msg, NULL);
        }
    }
    if (nsealed > 0 && (db->opt.retention_ms > 0 || db->opt.retention_bytes > 0)) {
        struct pl_err e2;
        if (tsdb__retention_apply(db, &e2) != 0)
            pl_log(PL_LOG_WARN, "tsdb", "retention failed", "err", e2.msg, NULL);
    }
unlock:
    pthread_mutex_unlock(&db->commit_mu);
    appender_free(a);
    return rc;
}
