/*
 * head.c - the in-memory head: one open chunk per active series.
 *
 * Series enter memory lazily, on their first append (or WAL replay) after the
 * database opens, so opening costs nothing per stored series; queries read the
 * open chunk of a series not yet in memory from its `head` checkpoint record.
 * Readers find a series by id through a two-level table that never moves, and
 * read its open chunk under one of TSDB_STRIPES mutexes (striped locking keeps
 * the per-series cost at zero bytes). The label-set map is used by appenders.
 */
#include "tsdb/tsdb_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

struct tsdb__series *tsdb__head_get(struct tsdb *db, uint32_t id)
{
    struct tsdb__series **page =
        atomic_load_explicit(&db->pages[id >> TSDB_ID_PAGE_BITS], memory_order_acquire);
    if (!page)
        return NULL;
    return __atomic_load_n(&page[id & (TSDB_ID_PAGE - 1)], __ATOMIC_ACQUIRE);
}

void tsdb__head_set(struct tsdb *db, uint32_t id, struct tsdb__series *s)
{
    _Atomic(struct tsdb__series **) *slot = &db->pages[id >> TSDB_ID_PAGE_BITS];
    struct tsdb__series **page = atomic_load_explicit(slot, memory_order_acquire);
    if (!page) {
        struct tsdb__series **fresh = pl_xcalloc(TSDB_ID_PAGE, sizeof(*fresh));
        struct tsdb__series **expect = NULL;
        if (atomic_compare_exchange_strong(slot, &expect, fresh))
            page = fresh;
        else {
            free(fresh);
            page = expect;
        }
    }
    __atomic_store_n(&page[id & (TSDB_ID_PAGE - 1)], s, __ATOMIC_RELEASE);
}

/* ---- label set -> series map ---- */

struct tsdb__series *tsdb__smap_find(struct tsdb__smap *m, const struct pl_labels *ls)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = ls->hash & mask;; i = (i + 1) & mask) {
        struct tsdb__smap_slot *sl = &m->slots[i];
        if (!sl->s)
            return NULL;
        if (sl->hash == ls->hash && pl_labels_equal(sl->s->ls, ls))
            return sl->s;
    }
}

static void smap_put(struct tsdb__smap_slot *slots, size_t cap, uint64_t hash,
                     struct tsdb__series *s)
{
    size_t mask = cap - 1;
    size_t i = hash & mask;
    while (slots[i].s)
        i = (i + 1) & mask;
    slots[i].hash = hash;
    slots[i].s = s;
}

void tsdb__smap_insert(struct tsdb__smap *m, struct tsdb__series *s)
{
    if ((m->n + 1) * 4 > m->cap * 3) {
        size_t ncap = m->cap ? m->cap * 2 : 1024;
        struct tsdb__smap_slot *ns = pl_xcalloc(ncap, sizeof(*ns));
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].s)
                smap_put(ns, ncap, m->slots[i].hash, m->slots[i].s);
        free(m->slots);
        m->slots = ns;
        m->cap = ncap;
    }
    smap_put(m->slots, m->cap, s->ls->hash, s);
    m->n++;
}

void tsdb__smap_remove(struct tsdb__smap *m, struct tsdb__series *s)
{
    if (!m->cap)
        return;
    size_t mask = m->cap - 1;
    size_t i = s->ls->hash & mask;
    while (m->slots[i].s && m->slots[i].s != s)
        i = (i + 1) & mask;
    if (!m->slots[i].s)
        return;
    /* Backward-shift deletion keeps probe sequences intact without tombstones. */
    size_t j = i;
    for (;;) {
        m->slots[i].s = NULL;
        for (;;) {
            j = (j + 1) & mask;
            if (!m->slots[j].s) {
                m->n--;
                return;
            }
            size_t k = m->slots[j].hash & mask;
            /* Move j to i unless its home k lies cyclically in (i, j]. */
            if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                continue;
            break;
        }
        m->slots[i] = m->slots[j];
        i = j;
    }
}

void tsdb__smap_fini(struct tsdb__smap *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

void tsdb__enc_renew(struct tsdb_chunk_enc *e)
{
    tsdb_chunk_enc_fini(e);
    tsdb_chunk_enc_init_kind(e, TSDB_HEAD_ENC);
}

struct tsdb__series *tsdb__series_new(uint32_t id, struct pl_labels *ls)
{
    struct tsdb__series *s = pl_xcalloc(1, sizeof(*s));
    s->ls = ls;
    s->id = id;
    s->min_t = INT64_MAX;
    s->max_t = INT64_MIN;
    tsdb_chunk_enc_init_kind(&s->enc, TSDB_HEAD_ENC);
    return s;
}

void tsdb__series_free(struct tsdb__series *s)
{
    if (!s)
        return;
    tsdb_chunk_enc_fini(&s->enc);
    pl_labels_free(s->ls);
    free(s->sealing);
    free(s);
}

int tsdb__head_restore(struct tsdb__series *s, const uint8_t *p, size_t n)
{
    if (n < 16)
        return PL_ERR_CORRUPT;
    s->max_t = (int64_t)tsdb__rd_le64(p);
    s->last_v = tsdb__rd_le64(p + 8);
    tsdb__enc_renew(&s->enc);
    if (n == 16)
        return 0;
    /*
     * Rebuild the encoder by re-appending the decoded samples: this depends
     * only on the chunk format, not on the encoder's private state.
     */
    struct tsdb_chunk_dec d;
    int rc = tsdb_chunk_dec_init(&d, p + 16, n - 16);
    if (rc)
        return rc;
    int64_t t;
    double v;
    while ((rc = tsdb_chunk_dec_next(&d, &t, &v)) == 1) {
        rc = tsdb_chunk_enc_append(&s->enc, t, v);
        if (rc)
            return PL_ERR_CORRUPT;
    }
    return rc < 0 ? rc : 0;
}

int tsdb__head_load_id(struct tsdb *db, MDB_txn *txn, uint32_t id, struct tsdb__series **out)
{
    struct pl_labels *ls;
    int64_t min_t;
    int rc = tsdb__series_read(db, txn, id, &ls, &min_t);
    if (rc)
        return rc;
    struct tsdb__series *s = tsdb__series_new(id, ls);
    s->persisted = 1;
    s->min_t = min_t;
    uint8_t k[4];
    tsdb__be32(k, id);
    MDB_val key = {4, k}, val;
    rc = mdb_get(txn, db->dbi_head, &key, &val);
    if (rc == 0)
        rc = tsdb__head_restore(s, val.mv_data, val.mv_size);
    else if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc) {
        tsdb__series_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int tsdb__head_get_or_create(struct tsdb *db, const struct pl_labels *ls, struct tsdb__series **out)
{
    pthread_rwlock_rdlock(&db->map_lock);
    struct tsdb__series *s = tsdb__smap_find(&db->map, ls);
    pthread_rwlock_unlock(&db->map_lock);
    if (s) {
        *out = s;
        return 0;
    }
    for (uint32_t i = 0; i < ls->n; i++) {
        if (ls->v[i].value_len == 0 || memchr(ls->v[i].value, 0, ls->v[i].value_len) ||
            ls->v[i].name_len == 0)
            return PL_ERR_INVALID;
    }
    pthread_rwlock_wrlock(&db->map_lock);
    s = tsdb__smap_find(&db->map, ls);
    int rc = 0;
    if (!s) {
        MDB_txn *txn;
        rc = tsdb__rtxn_begin(db, &txn);
        if (rc == 0) {
            uint32_t id;
            rc = tsdb__series_find(db, txn, ls, &id);
            if (rc == 0) {
                rc = tsdb__head_load_id(db, txn, id, &s);
            } else if (rc == MDB_NOTFOUND) {
                rc = 0;
                uint32_t nid = (uint32_t)atomic_fetch_add(&db->next_id, 1);
                if (nid == UINT32_MAX)
                    rc = PL_ERR_LIMIT;
                else
                    s = tsdb__series_new(nid, pl_labels_dup(ls));
            }
            tsdb__rtxn_end(db, txn);
        }
        if (rc == 0) {
            tsdb__head_set(db, s->id, s);
            tsdb__smap_insert(&db->map, s);
            atomic_fetch_add(&db->st_head_series, 1);
        }
    }
    pthread_rwlock_unlock(&db->map_lock);
    if (rc == 0)
        *out = s;
    return rc;
}

int tsdb__head_record(const struct tsdb__series *s, struct pl_buf *b)
{
    uint8_t hdr[16];
    tsdb__le64(hdr, (uint64_t)s->max_t);
    tsdb__le64(hdr + 8, s->last_v);
    pl_buf_reset(b);
    int rc = pl_buf_append(b, hdr, 16);
    if (rc == 0 && s->enc.n > 0) {
        size_t len;
        const uint8_t *p = tsdb_chunk_enc_bytes(&s->enc, &len);
        rc = pl_buf_append(b, p, len);
    }
    return rc;
}

int tsdb__head_checkpoint(struct tsdb *db, struct pl_err *err)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    MDB_txn *txn;
    int rc = tsdb__wtxn_begin(db, (size_t)atomic_load(&db->st_head_series) * 64, &txn);
    if (rc) {
        pl_buf_fini(&b);
        return tsdb__wtxn_err(db, err, rc, "checkpoint");
    }
    for (uint32_t pg = 0; pg < TSDB_ID_PAGES && rc == 0; pg++) {
        struct tsdb__series **page = atomic_load(&db->pages[pg]);
        if (!page)
            continue;
        for (uint32_t i = 0; i < TSDB_ID_PAGE && rc == 0; i++) {
            struct tsdb__series *s = page[i];
            if (!s || !s->dirty || !s->persisted)
                continue;
            pthread_mutex_t *mu = tsdb__stripe(db, s->id);
            pthread_mutex_lock(mu);
            rc = tsdb__head_record(s, &b);
            pthread_mutex_unlock(mu);
            if (rc)
                break;
            uint8_t k[4];
            tsdb__be32(k, s->id);
            MDB_val key = {4, k}, val = {b.len, b.data};
            rc = mdb_put(txn, db->dbi_head, &key, &val, 0);
        }
    }
    if (rc == 0)
        rc = tsdb__meta_put_u64(db, txn, "ckpt_seq", db->wal_seq);
    if (rc == 0)
        rc = tsdb__meta_put_u64(db, txn, "max_t", (uint64_t)atomic_load(&db->st_max_t));
    if (rc == 0)
        rc = tsdb__meta_put_u64(db, txn, "min_t", (uint64_t)atomic_load(&db->st_min_t));
    if (rc == 0) {
        /* The checkpoint covers every record so far: drop them. */
        MDB_cursor *c;
        rc = mdb_cursor_open(txn, db->dbi_wal, &c);
        if (rc == 0) {
            MDB_val key, val;
            int r;
            while ((r = mdb_cursor_get(c, &key, &val, MDB_FIRST)) == 0) {
                if ((rc = mdb_cursor_del(c, 0)))
                    break;
            }
            if (r != MDB_NOTFOUND && r != 0)
                rc = r;
            mdb_cursor_close(c);
        }
    }
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    pl_buf_fini(&b);
    if (rc)
        return tsdb__mdb_err(err, rc, "checkpoint");
    db->ckpt_seq = db->wal_seq;
    db->wal_bytes_since_ckpt = 0;
    for (uint32_t pg = 0; pg < TSDB_ID_PAGES; pg++) {
        struct tsdb__series **page = atomic_load(&db->pages[pg]);
        if (!page)
            continue;
        for (uint32_t i = 0; i < TSDB_ID_PAGE; i++)
            if (page[i] && page[i]->persisted)
                page[i]->dirty = 0;
    }
    return 0;
}
