/*
 * backfill.c - bulk loading (backfill.h): samples buffered per series, then
 * written as one chunk per series and 2 h partition in one LMDB write
 * transaction per flush, and tsdb_repack, the rewrite of a closed database
 * with full B-tree pages.
 *
 * Why: going through the head, an import wrote 120-sample chunks that
 * compaction later decoded and merged, head records for every open chunk,
 * and B-tree pages split by inserts in the middle of the key space. Here each
 * (series, partition) is encoded once with the codec chosen for the whole
 * span (tsdb__chunk_seal_samples), keys that sort after everything stored go
 * in with MDB_APPEND, and a chunk already stored for the same series and
 * partition (an earlier flush, an earlier run) is merged with the new samples
 * so that a partition keeps one chunk per series whatever the input order.
 *
 * LMDB semantics relied on (lmdb.h): MDB_APPEND requires the key to sort
 * after the last key of the database and then fills pages completely
 * instead of splitting them in half; a write transaction is atomic.
 */
#include "tsdb/backfill.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"
#include "tsdb/chunk_int.h"
#include "tsdb/tsdb_int.h"

/* One series' buffered samples (time order, as the append rules ensure). */
struct bf_ent {
    struct tsdb__series *s;
    int64_t *t;
    uint64_t *v;
    size_t n, cap;
};

/* A run of one entry's samples inside one partition. */
struct bf_group {
    uint32_t part, id;
    uint32_t ent;
    size_t lo, hi;
};

struct tsdb_backfill {
    struct tsdb *db;
    size_t max_samples, buffered;
    struct bf_ent *ents;
    size_t nents, capents;
    uint32_t *slot; /* series id -> entry index + 1 */
    size_t nslot;
    /*
     * Series of the previous sample. It and every entry's series each carry
     * one `pending` mark of the backfill (the hold): eviction never frees
     * and series GC never forgets a series with pending marks, so these
     * pointers stay valid between calls (tsdb_int.h: pointers are otherwise
     * valid only under a lock or the appender pin). Deletes may still forget
     * a held series (persisted == 2; the struct stays in the graveyard).
     */
    struct tsdb__series *last;
    int failed;
    struct tsdb_backfill_result res;
    /* Flush scratch, reused. */
    struct bf_group *groups;
    size_t capgroups;
    struct tsdb__series **news, **sealed;
    int64_t *mt;
    uint64_t *mv;
    size_t mcap;
    struct pl_buf out, rec;
    uint8_t (*keys)[16];
    size_t capkeys;
    /* (partition << 32 | id) written unmerged, merged at finish. */
    uint64_t *pending;
    size_t npending, cappending;
};

int tsdb_backfill_new(struct tsdb *db, size_t max_samples, struct tsdb_backfill **out,
                      struct pl_err *err)
{
    if (db->opt.read_only)
        return pl_err_set(err, PL_ERR_STATE, "storage is read-only");
    /*
     * Backfill rewrites head records from their stored state: samples of a
     * lazy WAL replay must be in them first.
     */
    pthread_mutex_lock(&db->commit_mu);
    int rc = tsdb__pend_drain_all(db, err);
    pthread_mutex_unlock(&db->commit_mu);
    if (rc)
        return rc;
    struct tsdb_backfill *b = pl_xcalloc(1, sizeof(*b));
    b->db = db;
    b->max_samples = max_samples ? max_samples : TSDB_BACKFILL_DEFAULT_SAMPLES;
    pl_buf_init(&b->out, (size_t)TSDB_CHUNK_MAX_SAMPLES * 20);
    pl_buf_init(&b->rec, (size_t)TSDB_CHUNK_MAX_SAMPLES * 20);
    *out = b;
    return 0;
}

/* Drops one hold of s (see `last`). */
static void release(struct tsdb__series *s)
{
    __atomic_fetch_sub(&s->pending, 1, __ATOMIC_RELEASE);
}

/*
 * Makes the series of ls the held `last`: looked up (or created) under the
 * appender pin, so that eviction cannot free it before it is held, and held
 * under its stripe lock unless series GC or a delete forgot it meanwhile
 * (then looked up again, as an appender does).
 */
static int hold(struct tsdb_backfill *b, const struct pl_labels *ls)
{
    struct tsdb *db = b->db;
    struct tsdb__series *s = NULL;
    int rc = 0;
    for (int tries = 0; tries < 3; tries++) {
        tsdb__head_pin(db);
        rc = tsdb__head_get_or_create(db, ls, &s);
        int forgotten = 0;
        if (rc == 0) {
            pthread_mutex_t *mu = tsdb__stripe(db, s->id);
            pthread_mutex_lock(mu);
            forgotten = s->persisted == 2;
            if (!forgotten)
                __atomic_fetch_add(&s->pending, 1, __ATOMIC_ACQ_REL);
            pthread_mutex_unlock(mu);
        }
        tsdb__head_unpin(db);
        if (rc)
            return rc;
        if (!forgotten) {
            if (b->last)
                release(b->last);
            b->last = s;
            return 0;
        }
    }
    return PL_ERR_NOTFOUND;
}

static void ents_clear(struct tsdb_backfill *b)
{
    for (size_t i = 0; i < b->nents; i++) {
        release(b->ents[i].s);
        b->slot[b->ents[i].s->id] = 0;
        free(b->ents[i].t);
        free(b->ents[i].v);
    }
    b->nents = 0;
    b->buffered = 0;
}

void tsdb_backfill_free(struct tsdb_backfill *b)
{
    if (!b)
        return;
    /* Buffered samples never reached the series' state: dropping them is harmless. */
    ents_clear(b);
    if (b->last)
        release(b->last);
    free(b->ents);
    free(b->slot);
    free(b->groups);
    free(b->news);
    free(b->sealed);
    free(b->mt);
    free(b->mv);
    free(b->keys);
    free(b->pending);
    pl_buf_fini(&b->out);
    pl_buf_fini(&b->rec);
    free(b);
}

void tsdb_backfill_result_get(const struct tsdb_backfill *b, struct tsdb_backfill_result *res)
{
    *res = b->res;
}

int tsdb_backfill_add(struct tsdb_backfill *b, const struct pl_labels *ls, int64_t t, double v,
                      struct pl_err *err)
{
    if (b->failed)
        return pl_err_set(err, PL_ERR_STATE, "backfill stopped after an earlier error");
    if (ls->n == 0)
        return PL_ERR_INVALID;
    struct tsdb *db = b->db;
    struct tsdb__series *s = b->last;
    uint64_t bits;
    memcpy(&bits, &v, 8);
    pthread_mutex_t *mu;
    int rc;
    for (int tries = 0;; tries++) {
        /* Imports usually carry a series' samples one after another. */
        if (!s || s->hash != ls->hash || !tsdb__lab_equal(&db->syms, s, ls)) {
            if ((rc = hold(b, ls)))
                return rc;
            s = b->last;
        }
        mu = tsdb__stripe(db, s->id);
        pthread_mutex_lock(mu);
        if (s->persisted != 2)
            break;
        /* Forgotten by a delete since it was held: the labels get a new series. */
        pthread_mutex_unlock(mu);
        if (tries == 2)
            return PL_ERR_NOTFOUND;
        s = NULL;
    }
    /*
     * The series' state (max_t, last_v) stays what is stored until a flush
     * writes the buffered samples: a head record written meanwhile (a
     * checkpoint, an eviction round) must not claim samples that a crash
     * would lose. Buffered samples are newer than the stored ones, so the
     * rules apply to the newest of them when there are some.
     */
    uint32_t e = s->id < b->nslot ? b->slot[s->id] : 0;
    if (e) {
        const struct bf_ent *en = &b->ents[e - 1];
        int64_t lt = en->t[en->n - 1];
        rc = t > lt                     ? 0
             : t < lt                   ? PL_ERR_OUT_OF_ORDER
             : en->v[en->n - 1] == bits ? 1
                                        : PL_ERR_DUPLICATE;
    } else {
        rc = tsdb__head_check(s, t, bits);
        if (rc == 0)
            __atomic_fetch_add(&s->pending, 1, __ATOMIC_ACQ_REL); /* the new entry's hold */
    }
    pthread_mutex_unlock(mu);
    if (rc == 1)
        return 0;
    if (rc == PL_ERR_OUT_OF_ORDER)
        b->res.out_of_order++;
    else if (rc == PL_ERR_DUPLICATE)
        b->res.duplicates++;
    if (rc)
        return rc;

    if (s->id >= b->nslot) {
        size_t n = b->nslot ? b->nslot : 1024;
        while (n <= s->id)
            n *= 2;
        b->slot = pl_xreallocarray(b->slot, n, sizeof(*b->slot));
        memset(b->slot + b->nslot, 0, (n - b->nslot) * sizeof(*b->slot));
        b->nslot = n;
    }
    if (e == 0) {
        if (b->nents == b->capents) {
            b->capents = b->capents ? b->capents * 2 : 256;
            b->ents = pl_xreallocarray(b->ents, b->capents, sizeof(*b->ents));
        }
        b->ents[b->nents] = (struct bf_ent){.s = s};
        e = (uint32_t)++b->nents;
        b->slot[s->id] = e;
    }
    struct bf_ent *en = &b->ents[e - 1];
    if (en->n == en->cap) {
        en->cap = en->cap ? en->cap * 2 : 64;
        en->t = pl_xreallocarray(en->t, en->cap, sizeof(*en->t));
        en->v = pl_xreallocarray(en->v, en->cap, sizeof(*en->v));
    }
    en->t[en->n] = t;
    en->v[en->n] = bits;
    en->n++;
    if (++b->buffered >= b->max_samples)
        return tsdb_backfill_flush(b, err);
    return 0;
}

static int group_cmp(const void *x, const void *y)
{
    const struct bf_group *a = x, *c = y;
    if (a->part != c->part)
        return a->part < c->part ? -1 : 1;
    if (a->id != c->id)
        return a->id < c->id ? -1 : 1;
    return a->lo < c->lo ? -1 : a->lo > c->lo;
}

static int series_cmp(const void *x, const void *y)
{
    const struct tsdb__series *a = *(struct tsdb__series *const *)x,
                              *c = *(struct tsdb__series *const *)y;
    return a->id < c->id ? -1 : a->id > c->id;
}

static void merge_reserve(struct tsdb_backfill *b, size_t n)
{
    if (n <= b->mcap)
        return;
    size_t c = b->mcap ? b->mcap : 1024;
    while (c < n)
        c *= 2;
    b->mt = pl_xreallocarray(b->mt, c, sizeof(*b->mt));
    b->mv = pl_xreallocarray(b->mv, c, sizeof(*b->mv));
    b->mcap = c;
}

/*
 * Writes ts/vs[0..n) of series id as one chunk, or as several of equal
 * sample counts when the encoding exceeds TSDB_CHUNK_TARGET_BYTES: a value
 * larger than about half a page goes to LMDB overflow pages (whole pages per
 * value), and big nodes leave the end of leaf pages empty.
 */
static int put_chunks(struct tsdb_backfill *b, MDB_txn *txn, uint32_t id, const int64_t *ts,
                      const uint64_t *vs, size_t n, unsigned flags)
{
    size_t k = (n + TSDB_CHUNK_MAX_SAMPLES - 1) / TSDB_CHUNK_MAX_SAMPLES;
    int rc;
    if (k <= 1) {
        pl_buf_reset(&b->out);
        if ((rc = tsdb__chunk_seal_samples(ts, vs, n, &b->out)))
            return rc;
        if (b->out.len > TSDB_CHUNK_TARGET_BYTES && n > 1)
            k = (b->out.len + TSDB_CHUNK_TARGET_BYTES - 1) / TSDB_CHUNK_TARGET_BYTES;
    }
    if (k > 1) {
        size_t per = (n + k - 1) / k;
        for (size_t off = 0; off < n; off += per)
            if ((rc = put_chunks(b, txn, id, ts + off, vs + off, n - off < per ? n - off : per,
                                 flags)))
                return rc;
        return 0;
    }
    uint8_t key8[16];
    tsdb__be32(key8, tsdb__partition(ts[0]));
    tsdb__be32(key8 + 4, id);
    tsdb__be64(key8 + 8, (uint64_t)ts[0] ^ (UINT64_C(1) << 63));
    MDB_val key = {16, key8}, val = {b->out.len + 8, NULL};
    if ((rc = mdb_put(txn, b->db->dbi_chunks, &key, &val, MDB_RESERVE | flags)))
        return rc;
    tsdb__le64(val.mv_data, (uint64_t)ts[n - 1]);
    memcpy((uint8_t *)val.mv_data + 8, b->out.data, b->out.len);
    b->res.chunks++;
    b->res.chunk_bytes += b->out.len;
    atomic_fetch_add(&b->db->st_sealed, 1);
    return 0;
}

/*
 * Merging a group into the chunks stored for its series and partition costs
 * a decode and an encode of all of them. When they hold more than this many
 * times the group's samples (input interleaved in time over more series than
 * a flush holds), the group is written as a chunk of its own instead and the
 * partition is merged once at tsdb_backfill_finish: the work stays linear.
 */
#define BF_MERGE_RATIO 4

/* Remembers (part, id) for the merge at finish. */
static void pending_add(struct tsdb_backfill *b, uint32_t part, uint32_t id)
{
    if (b->npending && b->pending[b->npending - 1] == (((uint64_t)part << 32) | id))
        return;
    if (b->npending == b->cappending) {
        b->cappending = b->cappending ? b->cappending * 2 : 256;
        b->pending = pl_xreallocarray(b->pending, b->cappending, sizeof(*b->pending));
    }
    b->pending[b->npending++] = ((uint64_t)part << 32) | id;
}

/*
 * Writes nt/nv[0..nn) of series id in partition part, merged with the chunks
 * stored there (stored samples win on equal timestamps). With nn == 0
 * (finish), merges the stored chunks when that makes fewer of them.
 */
static int write_group(struct tsdb_backfill *b, MDB_txn *txn, MDB_cursor *c, uint32_t part,
                       uint32_t id, const int64_t *nt, const uint64_t *nv, size_t nn)
{
    uint8_t k[16];
    tsdb__be32(k, part);
    tsdb__be32(k + 4, id);
    memset(k + 8, 0, 8);
    MDB_val key = {16, k}, val;
    int r = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
    if (r == MDB_NOTFOUND) /* sorts after every stored key */
        return nn ? put_chunks(b, txn, id, nt, nv, nn, MDB_APPEND) : 0;
    if (r)
        return r;
    /* The stored chunks of this series and partition: keys, samples, bytes. */
    size_t nkeys = 0, nold = 0, bytes = 0;
    while (r == 0 && key.mv_size == 16 && memcmp(key.mv_data, k, 8) == 0) {
        if (val.mv_size < 8)
            return PL_ERR_CORRUPT;
        struct tsdb_chunk_dec d;
        int rc = tsdb_chunk_dec_init(&d, (const uint8_t *)val.mv_data + 8, val.mv_size - 8);
        if (rc)
            return rc;
        if (nkeys == b->capkeys) {
            b->capkeys = b->capkeys ? b->capkeys * 2 : 16;
            b->keys = pl_xreallocarray(b->keys, b->capkeys, sizeof(*b->keys));
        }
        memcpy(b->keys[nkeys++], key.mv_data, 16);
        nold += tsdb_chunk_dec_count(&d);
        bytes += val.mv_size - 8;
        r = mdb_cursor_get(c, &key, &val, MDB_NEXT);
    }
    if (r && r != MDB_NOTFOUND)
        return r;
    if (nkeys == 0)
        return nn ? put_chunks(b, txn, id, nt, nv, nn, 0) : 0;
    if (nn == 0 && nkeys <= (bytes + TSDB_CHUNK_TARGET_BYTES - 1) / TSDB_CHUNK_TARGET_BYTES)
        return 0; /* already as few chunks as merging would make */
    if (nn && nold > BF_MERGE_RATIO * nn) {
        pending_add(b, part, id);
        return put_chunks(b, txn, id, nt, nv, nn, 0);
    }
    /* Decode the stored samples in key (time) order. */
    merge_reserve(b, nold + nn);
    nold = 0;
    for (size_t q = 0; q < nkeys; q++) {
        MDB_val dk = {16, b->keys[q]}, dv;
        int rc = mdb_get(txn, b->db->dbi_chunks, &dk, &dv);
        if (rc)
            return rc;
        struct tsdb_chunk_dec d;
        if ((rc = tsdb_chunk_dec_init(&d, (const uint8_t *)dv.mv_data + 8, dv.mv_size - 8)))
            return rc;
        int64_t t;
        double v;
        while ((rc = tsdb_chunk_dec_next(&d, &t, &v)) == 1) {
            if (nold && t <= b->mt[nold - 1])
                continue; /* overlapping chunks: keep the first sample of a timestamp */
            b->mt[nold] = t;
            memcpy(&b->mv[nold], &v, 8);
            nold++;
        }
        if (rc)
            return rc;
    }
    /* Merge new samples into mt/mv[0..nold) in place, from the back. */
    size_t i = nold, j = nn, w = nold + nn;
    while (j > 0) {
        if (i > 0 && b->mt[i - 1] >= nt[j - 1]) {
            if (b->mt[i - 1] == nt[j - 1])
                j--; /* stored sample wins */
            w--;
            b->mt[w] = b->mt[i - 1];
            b->mv[w] = b->mv[i - 1];
            i--;
        } else {
            w--;
            b->mt[w] = nt[j - 1];
            b->mv[w] = nv[j - 1];
            j--;
        }
    }
    /* Samples [0, i) are already in place; [w, nold + nn) holds the rest. */
    size_t total = i + (nold + nn - w);
    if (w != i) {
        memmove(b->mt + i, b->mt + w, (nold + nn - w) * sizeof(*b->mt));
        memmove(b->mv + i, b->mv + w, (nold + nn - w) * sizeof(*b->mv));
    }
    for (size_t q = 0; q < nkeys; q++) {
        MDB_val dk = {16, b->keys[q]};
        int rc = mdb_del(txn, b->db->dbi_chunks, &dk, NULL);
        if (rc)
            return rc;
    }
    return put_chunks(b, txn, id, b->mt, b->mv, total, 0);
}

int tsdb_backfill_flush(struct tsdb_backfill *b, struct pl_err *err)
{
    if (b->failed)
        return pl_err_set(err, PL_ERR_STATE, "backfill stopped after an earlier error");
    if (b->nents == 0)
        return 0;
    struct tsdb *db = b->db;
    /* Split each series' run at partition boundaries; order by chunk key. */
    size_t ng = 0, nnew = 0;
    int64_t mint = INT64_MAX, maxt = INT64_MIN;
    for (size_t e = 0; e < b->nents; e++) {
        const struct bf_ent *en = &b->ents[e];
        if (!en->s->persisted)
            nnew++;
        if (en->t[0] < mint)
            mint = en->t[0];
        if (en->t[en->n - 1] > maxt)
            maxt = en->t[en->n - 1];
        for (size_t i = 0; i < en->n;) {
            uint32_t part = tsdb__partition(en->t[i]);
            int64_t end = part == UINT32_MAX ? INT64_MAX : tsdb__partition_start(part + 1);
            size_t j = i + 1;
            while (j < en->n && en->t[j] < end)
                j++;
            if (ng == b->capgroups) {
                b->capgroups = b->capgroups ? b->capgroups * 2 : 1024;
                b->groups = pl_xreallocarray(b->groups, b->capgroups, sizeof(*b->groups));
            }
            b->groups[ng++] = (struct bf_group){part, en->s->id, (uint32_t)e, i, j};
            i = j;
        }
    }
    qsort(b->groups, ng, sizeof(*b->groups), group_cmp);
    b->news = pl_xreallocarray(b->news, b->nents, sizeof(*b->news));
    b->sealed = pl_xreallocarray(b->sealed, b->nents, sizeof(*b->sealed));
    nnew = 0;
    for (size_t e = 0; e < b->nents; e++)
        if (!b->ents[e].s->persisted)
            b->news[nnew++] = b->ents[e].s;
    qsort(b->news, nnew, sizeof(*b->news), series_cmp);

    pthread_mutex_lock(&db->commit_mu);
    int rc = 0;
    size_t nsealed = 0;
    const char *what;
    if (db->failed) {
        pthread_mutex_unlock(&db->commit_mu);
        b->failed = 1;
        return pl_err_set(err, PL_ERR_STATE, "storage failed after a write error; reopen it");
    }
    /*
     * A delete may have forgotten a held series since its samples were
     * buffered (commit_mu, held from here on, keeps that from changing):
     * its samples go with it, or they would come back as chunks and a head
     * record of an id the index no longer knows.
     */
    size_t dropped = 0;
    for (size_t e = 0; e < b->nents; e++)
        if (b->ents[e].s->persisted == 2)
            dropped += b->ents[e].n;
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    /*
     * Room for the chunks, stored chunks rewritten by merges (at most
     * BF_MERGE_RATIO times the new samples) and about one copied page per
     * group and series (copy-on-write of the leaves touched).
     */
    size_t need = b->buffered * 16 + (ng + b->nents) * 1536 + nnew * 1024 + ((size_t)1 << 20);
    rc = tsdb__wtxn_begin(db, need, &txn);
    if (rc) {
        /*
         * Nothing changed yet (a full disk is refused here, up front): the
         * database stays usable and the import stops with the reason; the
         * buffered samples are dropped, and a re-run of the import writes
         * them (what earlier flushes stored is skipped as duplicates).
         */
        b->failed = 1;
        pthread_mutex_unlock(&db->commit_mu);
        ents_clear(b);
        return tsdb__wtxn_err(db, err, rc, "writing buffered samples");
    }
    /*
     * From here the series' newest samples are the buffered ones (head
     * records, the index's min_t of new series); a failure below leaves the
     * head ahead of LMDB and fails the database (the transaction holds its
     * disk space already, so that is not a full disk).
     */
    for (size_t e = 0; e < b->nents; e++) {
        const struct bf_ent *en = &b->ents[e];
        struct tsdb__series *s = en->s;
        if (s->persisted == 2)
            continue;
        pthread_mutex_t *mu = tsdb__stripe(db, s->id);
        pthread_mutex_lock(mu);
        if (en->t[en->n - 1] > s->max_t) { /* (an appender may have gone further: unsupported) */
            s->max_t = en->t[en->n - 1];
            s->last_v = en->v[en->n - 1];
        }
        if (en->t[0] < s->min_t)
            s->min_t = en->t[0];
        pthread_mutex_unlock(mu);
    }
    what = "writing the series index";
    rc = tsdb__index_add(db, txn, b->news, nnew);
    if (rc == 0) {
        /* An open chunk from earlier appends is sealed first (it is older). */
        what = "sealing open chunks";
        for (size_t e = 0; e < b->nents && rc == 0; e++) {
            struct tsdb__series *s = b->ents[e].s;
            if (s->persisted == 2)
                continue;
            pthread_mutex_t *mu = tsdb__stripe(db, s->id);
            pthread_mutex_lock(mu);
            if (s->enc.n > 0) {
                rc = tsdb__head_seal(db, txn, s, &b->out);
                b->sealed[nsealed++] = s;
            }
            pthread_mutex_unlock(mu);
        }
    }
    if (rc == 0) {
        what = "writing chunks";
        rc = mdb_cursor_open(txn, db->dbi_chunks, &c);
        for (size_t i = 0; i < ng && rc == 0; i++)
            if (b->ents[b->groups[i].ent].s->persisted != 2)
                rc = write_group(b, txn, c, b->groups[i].part, b->groups[i].id,
                                 b->ents[b->groups[i].ent].t + b->groups[i].lo,
                                 b->ents[b->groups[i].ent].v + b->groups[i].lo,
                                 b->groups[i].hi - b->groups[i].lo);
        if (c)
            mdb_cursor_close(c);
    }
    if (rc == 0) {
        /* Each series' newest sample, so that later appends keep the order rules. */
        what = "writing series state";
        for (size_t e = 0; e < b->nents && rc == 0; e++) {
            struct tsdb__series *s = b->ents[e].s;
            if (s->persisted == 2)
                continue;
            pthread_mutex_t *mu = tsdb__stripe(db, s->id);
            pthread_mutex_lock(mu);
            rc = tsdb__head_record(s, &b->rec);
            pthread_mutex_unlock(mu);
            uint8_t k[4];
            tsdb__be32(k, s->id);
            MDB_val key = {4, k}, val = {b->rec.len, b->rec.data};
            if (rc == 0)
                rc = mdb_put(txn, db->dbi_head, &key, &val, 0);
        }
    }
    uint32_t next = (uint32_t)atomic_load(&db->next_id);
    int64_t newmax = atomic_load(&db->st_max_t), newmin = atomic_load(&db->st_min_t);
    if (maxt > newmax)
        newmax = maxt;
    if (mint < newmin)
        newmin = mint;
    if (rc == 0) {
        what = "writing meta";
        if (nnew && next != db->next_id_persisted)
            rc = tsdb__meta_put_u64(db, txn, "next_id", next);
        if (rc == 0)
            rc = tsdb__meta_put_u64(db, txn, "max_t", (uint64_t)newmax);
        if (rc == 0)
            rc = tsdb__meta_put_u64(db, txn, "min_t", (uint64_t)newmin);
    }
    if (rc == 0) {
        what = "committing";
        rc = mdb_txn_commit(txn);
    } else {
        mdb_txn_abort(txn);
    }
    for (size_t i = 0; i < nsealed; i++) {
        pthread_mutex_t *mu = tsdb__stripe(db, b->sealed[i]->id);
        pthread_mutex_lock(mu);
        free(b->sealed[i]->sealing);
        b->sealed[i]->sealing = NULL;
        b->sealed[i]->sealing_len = 0;
        pthread_mutex_unlock(mu);
    }
    if (rc) {
        /* The series' in-memory state counts samples that were not written. */
        db->failed = 1;
        b->failed = 1;
        pthread_mutex_unlock(&db->commit_mu);
        tsdb__wtxn_err(db, err, rc, what);
        ents_clear(b);
        return rc;
    }
    if (nnew)
        db->next_id_persisted = next;
    for (size_t i = 0; i < nnew; i++)
        __atomic_store_n(&b->news[i]->persisted, 1, __ATOMIC_RELEASE); /* add() reads it */
    int64_t cur = atomic_load(&db->st_max_t);
    while (maxt > cur && !atomic_compare_exchange_weak(&db->st_max_t, &cur, maxt))
        ;
    cur = atomic_load(&db->st_min_t);
    while (mint < cur && !atomic_compare_exchange_weak(&db->st_min_t, &cur, mint))
        ;
    atomic_fetch_add(&db->st_samples, b->buffered - dropped);
    pthread_mutex_unlock(&db->commit_mu);
    b->res.samples += b->buffered - dropped;
    b->res.series_new += nnew;
    b->res.flushes++;
    ents_clear(b);
    return 0;
}

static int u64_cmp(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, c = *(const uint64_t *)y;
    return a < c ? -1 : a > c;
}

/* Merges the partitions written unmerged, in transactions of bounded size. */
static int merge_pending(struct tsdb_backfill *b, struct pl_err *err)
{
    struct tsdb *db = b->db;
    qsort(b->pending, b->npending, sizeof(*b->pending), u64_cmp);
    int rc = 0;
    for (size_t i = 0; i < b->npending && rc == 0;) {
        pthread_mutex_lock(&db->commit_mu);
        MDB_txn *txn = NULL;
        MDB_cursor *c = NULL;
        if (db->failed) {
            pthread_mutex_unlock(&db->commit_mu);
            return pl_err_set(err, PL_ERR_STATE, "storage failed after a write error; reopen it");
        }
        rc = tsdb__wtxn_begin(db, (size_t)64 << 20, &txn);
        if (rc) {
            pthread_mutex_unlock(&db->commit_mu);
            b->npending = 0;
            return tsdb__wtxn_err(db, err, rc, "merging partitions");
        }
        rc = mdb_cursor_open(txn, db->dbi_chunks, &c);
        size_t end = i + 4096 < b->npending ? i + 4096 : b->npending;
        for (; rc == 0 && i < end; i++) {
            if (i > 0 && b->pending[i] == b->pending[i - 1])
                continue;
            rc = write_group(b, txn, c, (uint32_t)(b->pending[i] >> 32), (uint32_t)b->pending[i],
                             NULL, NULL, 0);
        }
        if (c)
            mdb_cursor_close(c);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        pthread_mutex_unlock(&db->commit_mu);
    }
    b->npending = 0;
    /* A failure here leaves more chunks than needed, never wrong ones. */
    return rc ? tsdb__mdb_err(err, rc, "merging partitions") : 0;
}

int tsdb_backfill_finish(struct tsdb_backfill *b, struct tsdb_backfill_result *res,
                         struct pl_err *err)
{
    int rc = tsdb_backfill_flush(b, err);
    if (rc == 0 && b->npending)
        rc = merge_pending(b, err);
    if (rc == 0 && res)
        *res = b->res;
    tsdb_backfill_free(b);
    return rc;
}

/* ---- repack ---- */

static uint64_t alloc_bytes(const char *file)
{
    struct stat sb;
    return stat(file, &sb) == 0 ? (uint64_t)sb.st_blocks * 512 : 0;
}

/* out = dir + "/" + name; -1 when it does not fit. */
static int join(char *out, size_t n, const char *dir, const char *name)
{
    int w = snprintf(out, n, "%s/%s", dir, name);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

static void tmp_remove(const char *tmp)
{
    char f[4200];
    if (join(f, sizeof(f), tmp, "data.mdb") == 0)
        unlink(f);
    if (join(f, sizeof(f), tmp, "lock.mdb") == 0)
        unlink(f);
    rmdir(tmp);
}

/* Copies every named database of src into dst in key order (MDB_APPEND). */
static int repack_copy(MDB_env *src, MDB_env *dst, struct pl_err *err)
{
    MDB_txn *rt = NULL, *wt = NULL;
    MDB_cursor *mc = NULL, *c = NULL;
    int rc = mdb_txn_begin(src, NULL, MDB_RDONLY, &rt);
    if (rc)
        return tsdb__mdb_err(err, rc, "reading the database");
    MDB_dbi main_dbi;
    rc = mdb_dbi_open(rt, NULL, 0, &main_dbi);
    if (rc == 0)
        rc = mdb_cursor_open(rt, main_dbi, &mc);
    MDB_val name, nval;
    int r = rc ? rc : mdb_cursor_get(mc, &name, &nval, MDB_FIRST);
    const char *what = "reading the database";
    while (rc == 0 && r == 0) {
        char dbname[256];
        if (name.mv_size == 0 || name.mv_size >= sizeof(dbname) ||
            memchr(name.mv_data, 0, name.mv_size)) {
            rc = PL_ERR_UNSUPPORTED;
            break;
        }
        memcpy(dbname, name.mv_data, name.mv_size);
        dbname[name.mv_size] = 0;
        MDB_dbi sdbi, ddbi;
        unsigned flags;
        if ((rc = mdb_dbi_open(rt, dbname, 0, &sdbi)) || (rc = mdb_dbi_flags(rt, sdbi, &flags)))
            break;
        what = "writing the new file";
        if ((rc = mdb_txn_begin(dst, NULL, 0, &wt)))
            break;
        if ((rc = mdb_dbi_open(wt, dbname, MDB_CREATE | (flags & ~MDB_CREATE), &ddbi)) ||
            (rc = mdb_cursor_open(rt, sdbi, &c)))
            break;
        MDB_val k, v;
        size_t bytes = 0;
        int q = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        unsigned pflags = (flags & MDB_DUPSORT) ? MDB_APPENDDUP : MDB_APPEND;
        while (q == 0 && rc == 0) {
            if ((rc = mdb_put(wt, ddbi, &k, &v, pflags)))
                break;
            bytes += k.mv_size + v.mv_size + 16;
            if (bytes > ((size_t)64 << 20)) {
                /* Bounded transactions: a commit every 64 MiB. */
                rc = mdb_txn_commit(wt);
                wt = NULL;
                if (rc || (rc = mdb_txn_begin(dst, NULL, 0, &wt)))
                    break;
                bytes = 0;
            }
            q = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        if (rc == 0 && q != MDB_NOTFOUND)
            rc = q;
        mdb_cursor_close(c);
        c = NULL;
        if (rc)
            break;
        rc = mdb_txn_commit(wt);
        wt = NULL;
        if (rc)
            break;
        what = "reading the database";
        r = mdb_cursor_get(mc, &name, &nval, MDB_NEXT);
    }
    if (rc == 0 && r != MDB_NOTFOUND)
        rc = r;
    if (c)
        mdb_cursor_close(c);
    if (wt)
        mdb_txn_abort(wt);
    if (mc)
        mdb_cursor_close(mc);
    mdb_txn_abort(rt);
    if (rc)
        return tsdb__mdb_err(err, rc, what);
    return 0;
}

int tsdb_repack(const char *path, uint64_t *before, uint64_t *after, struct pl_err *err)
{
    char data[4200], lock[4200], tmp[4200], tmpdata[4200];
    if (join(data, sizeof(data), path, "data.mdb") || join(lock, sizeof(lock), path, "lock.mdb") ||
        join(tmp, sizeof(tmp), path, "repack.tmp") ||
        join(tmpdata, sizeof(tmpdata), tmp, "data.mdb"))
        return pl_err_set(err, PL_ERR_LIMIT, "path too long");
    if (access(data, F_OK) != 0)
        return pl_err_set(err, PL_ERR_NOTFOUND, "%s holds no database", path);
    /*
     * Every process with the environment open holds a shared lock on the
     * first byte of lock.mdb (LMDB's liveness lock). Taking it exclusively
     * proves nobody else uses the file, and keeps others waiting meanwhile.
     * Both environments below are opened with MDB_NOLOCK so that LMDB never
     * opens (and, closing, unlocks) lock.mdb in this process.
     */
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0)
        return pl_err_set(err, -errno, "opening %s: %s", lock, strerror(errno));
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    if (fcntl(lfd, F_SETLK, &fl) != 0) {
        close(lfd);
        return pl_err_set(err, PL_ERR_STATE, "%s is open in another process", path);
    }
    uint64_t b0 = alloc_bytes(data);
    tmp_remove(tmp);
    int rc;
    if (mkdir(tmp, 0755) != 0) {
        rc = pl_err_set(err, -errno, "creating %s: %s", tmp, strerror(errno));
        close(lfd);
        return rc;
    }
    MDB_env *src = NULL, *dst = NULL;
    rc = mdb_env_create(&src);
    if (rc == 0) {
        mdb_env_set_maxdbs(src, 64);
        rc = mdb_env_open(src, path, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0644);
    }
    MDB_envinfo info;
    if (rc == 0)
        rc = mdb_env_info(src, &info);
    if (rc == 0)
        rc = mdb_env_create(&dst);
    if (rc == 0) {
        mdb_env_set_maxdbs(dst, 64);
        mdb_env_set_mapsize(dst, info.me_mapsize);
        rc = mdb_env_open(dst, tmp, MDB_NOLOCK | MDB_NOSYNC | MDB_NOTLS, 0644);
    }
    if (rc) {
        tsdb__mdb_err(err, rc, "opening the database to repack");
    } else {
        rc = repack_copy(src, dst, err);
        if (rc == 0 && (rc = mdb_env_sync(dst, 1)) != 0)
            tsdb__mdb_err(err, rc, "syncing the new file");
    }
    if (dst)
        mdb_env_close(dst);
    if (src)
        mdb_env_close(src);
    if (rc == 0 && rename(tmpdata, data) != 0)
        rc = pl_err_set(err, -errno, "renaming %s: %s", tmpdata, strerror(errno));
    if (rc == 0) {
        int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    tmp_remove(tmp);
    close(lfd);
    if (rc)
        return rc;
    if (before)
        *before = b0;
    if (after)
        *after = alloc_bytes(data);
    return 0;
}
