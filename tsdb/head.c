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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/intern.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"

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

/* ---- label name symbols ---- */

static const char *sym_name(const struct tsdb__syms *sy, uint64_t id)
{
    if (id >= atomic_load_explicit(&sy->n, memory_order_acquire))
        return NULL;
    const char **page =
        atomic_load_explicit(&sy->pages[id >> TSDB_SYM_PAGE_BITS], memory_order_acquire);
    return page[id & (TSDB_SYM_PAGE - 1)];
}

static size_t sym_slot(const struct tsdb__syms *sy, const char *name)
{
    size_t mask = sy->cap - 1;
    size_t i = (size_t)(((uintptr_t)name >> 3) * 0x9E3779B97F4A7C15ull >> 20) & mask;
    while (sy->map[i] && sy->map[i] != name)
        i = (i + 1) & mask;
    return i;
}

/* The symbol of an interned name, added if new; UINT32_MAX when the table is full. */
static uint32_t sym_of(struct tsdb__syms *sy, const char *name)
{
    pthread_mutex_lock(&sy->mu);
    uint32_t id = UINT32_MAX;
    if ((atomic_load(&sy->n) + 1) * 2 > sy->cap) {
        size_t ocap = sy->cap;
        const char **om = sy->map;
        uint32_t *oid = sy->map_id;
        sy->cap = ocap ? ocap * 2 : 256;
        sy->map = pl_xcalloc(sy->cap, sizeof(*sy->map));
        sy->map_id = pl_xcalloc(sy->cap, sizeof(*sy->map_id));
        for (size_t i = 0; i < ocap; i++)
            if (om[i]) {
                size_t j = sym_slot(sy, om[i]);
                sy->map[j] = om[i];
                sy->map_id[j] = oid[i];
            }
        free(om);
        free(oid);
    }
    size_t i = sym_slot(sy, name);
    if (sy->map[i]) {
        id = sy->map_id[i];
    } else {
        uint32_t n = atomic_load(&sy->n);
        if (n < TSDB_SYM_PAGES * TSDB_SYM_PAGE) {
            _Atomic(const char **) *slot = &sy->pages[n >> TSDB_SYM_PAGE_BITS];
            const char **page = atomic_load(slot);
            if (!page) {
                page = pl_xcalloc(TSDB_SYM_PAGE, sizeof(*page));
                atomic_store_explicit(slot, page, memory_order_release);
            }
            page[n & (TSDB_SYM_PAGE - 1)] = name;
            atomic_store_explicit(&sy->n, n + 1, memory_order_release);
            sy->map[i] = name;
            sy->map_id[i] = n;
            id = n;
        }
    }
    pthread_mutex_unlock(&sy->mu);
    return id;
}

/* ---- label sets kept encoded ---- */

/* Encodes ls for the head into out (cleared first). PL_ERR_LIMIT when names run out. */
static int lab_encode(struct tsdb *db, const struct pl_labels *ls, struct pl_buf *out)
{
    uint8_t tmp[10];
    pl_buf_reset(out);
    int rc = pl_buf_append(out, tmp, tsdb__vint_put(tmp, ls->n));
    for (uint32_t i = 0; i < ls->n && rc == 0; i++) {
        const struct pl_label *l = &ls->v[i];
        /* Label sets from labels.h have interned names; intern again to be sure. */
        uint32_t sym = sym_of(&db->syms, pl_intern(l->name, l->name_len));
        if (sym == UINT32_MAX)
            return PL_ERR_LIMIT;
        rc = pl_buf_append(out, tmp, tsdb__vint_put(tmp, sym));
        if (rc == 0)
            rc = pl_buf_append(out, tmp, tsdb__vint_put(tmp, l->value_len));
        if (rc == 0)
            rc = pl_buf_append(out, l->value, l->value_len);
    }
    return rc;
}

int tsdb__lab_equal(const struct tsdb__syms *sy, const struct tsdb__series *s,
                    const struct pl_labels *ls)
{
    const uint8_t *p = s->lab;
    size_t n = s->lab_len;
    uint64_t cnt;
    size_t off = tsdb__vint_get(p, n, &cnt);
    if (!off || cnt != ls->n)
        return 0;
    for (uint32_t i = 0; i < ls->n; i++) {
        const struct pl_label *l = &ls->v[i];
        uint64_t sym, len;
        size_t m = tsdb__vint_get(p + off, n - off, &sym);
        const char *name = m ? sym_name(sy, sym) : NULL;
        if (!name || (name != l->name &&
                      (strncmp(name, l->name, l->name_len) != 0 || name[l->name_len] != '\0')))
            return 0;
        off += m;
        m = tsdb__vint_get(p + off, n - off, &len);
        if (!m || len != l->value_len || len > n - off - m ||
            memcmp(p + off + m, l->value, l->value_len) != 0)
            return 0;
        off += m + len;
    }
    return off == n;
}

int tsdb__series_labels(struct tsdb *db, const struct tsdb__series *s, struct pl_labels **out)
{
    const uint8_t *p = s->lab;
    size_t n = s->lab_len;
    uint64_t cnt;
    size_t off = tsdb__vint_get(p, n, &cnt);
    if (!off || cnt > n)
        return PL_ERR_CORRUPT;
    struct pl_labels *ls = pl_xmalloc(sizeof(*ls) + (size_t)cnt * sizeof(struct pl_label) + n);
    char *vp = (char *)(ls->v + cnt);
    ls->n = (uint32_t)cnt;
    ls->hash = s->hash;
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t sym, len;
        size_t m = tsdb__vint_get(p + off, n - off, &sym);
        const char *name = m ? sym_name(&db->syms, sym) : NULL;
        if (!name) {
            free(ls);
            return PL_ERR_CORRUPT;
        }
        off += m;
        m = tsdb__vint_get(p + off, n - off, &len);
        if (!m || len > n - off - m) {
            free(ls);
            return PL_ERR_CORRUPT;
        }
        off += m;
        ls->v[i].name = name;
        ls->v[i].name_len = (uint32_t)strlen(name);
        memcpy(vp, p + off, len);
        vp[len] = '\0';
        ls->v[i].value = vp;
        ls->v[i].value_len = (uint32_t)len;
        vp += len + 1;
        off += len;
    }
    *out = ls;
    return 0;
}

/* ---- label set -> series map ---- */

struct tsdb__series *tsdb__smap_find(struct tsdb__smap *m, const struct pl_labels *ls)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = ls->hash & mask;; i = (i + 1) & mask) {
        struct tsdb__series *s = m->slots[i];
        if (!s)
            return NULL;
        if (s->hash == ls->hash && tsdb__lab_equal(m->syms, s, ls))
            return s;
    }
}

static void smap_put(struct tsdb__series **slots, size_t cap, struct tsdb__series *s)
{
    size_t mask = cap - 1;
    size_t i = s->hash & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = s;
}

void tsdb__smap_insert(struct tsdb__smap *m, struct tsdb__series *s)
{
    if ((m->n + 1) * 4 > m->cap * 3) {
        size_t ncap = m->cap ? m->cap * 2 : 1024;
        struct tsdb__series **ns = pl_xcalloc(ncap, sizeof(*ns));
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i])
                smap_put(ns, ncap, m->slots[i]);
        free(m->slots);
        m->slots = ns;
        m->cap = ncap;
    }
    smap_put(m->slots, m->cap, s);
    m->n++;
}

void tsdb__smap_remove(struct tsdb__smap *m, struct tsdb__series *s)
{
    if (!m->cap)
        return;
    size_t mask = m->cap - 1;
    size_t i = s->hash & mask;
    while (m->slots[i] && m->slots[i] != s)
        i = (i + 1) & mask;
    if (!m->slots[i])
        return;
    /* Backward-shift deletion keeps probe sequences intact without tombstones. */
    size_t j = i;
    for (;;) {
        m->slots[i] = NULL;
        for (;;) {
            j = (j + 1) & mask;
            if (!m->slots[j]) {
                m->n--;
                return;
            }
            size_t k = m->slots[j]->hash & mask;
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

static struct tsdb__series *series_new_enc(uint32_t id, uint64_t hash, const uint8_t *lab,
                                           size_t lab_len)
{
    if (lab_len > UINT16_MAX)
        return NULL;
    struct tsdb__series *s = pl_xmalloc(sizeof(*s) + lab_len);
    memset(s, 0, sizeof(*s));
    memcpy(s->lab, lab, lab_len);
    s->lab_len = (uint16_t)lab_len;
    s->hash = hash;
    s->id = id;
    s->min_t = INT64_MAX;
    s->max_t = INT64_MIN;
    tsdb_chunk_enc_init_kind(&s->enc, TSDB_HEAD_ENC);
    return s;
}

struct tsdb__series *tsdb__series_new(struct tsdb *db, uint32_t id, const struct pl_labels *ls)
{
    struct pl_buf b;
    pl_buf_init(&b, (size_t)UINT16_MAX + 1);
    struct tsdb__series *s = NULL;
    if (lab_encode(db, ls, &b) == 0)
        s = series_new_enc(id, ls->hash, (const uint8_t *)b.data, b.len);
    pl_buf_fini(&b);
    return s;
}

void tsdb__series_free(struct tsdb__series *s)
{
    if (!s)
        return;
    tsdb_chunk_enc_fini(&s->enc);
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
    uint8_t k[4];
    tsdb__be32(k, id);
    MDB_val key = {4, k}, val;
    int rc = mdb_get(txn, db->dbi_series, &key, &val);
    if (rc)
        return rc;
    const uint8_t *p = val.mv_data;
    if (val.mv_size < 16)
        return PL_ERR_CORRUPT;
    struct pl_labels *ls;
    rc = tsdb__labels_decode(p + 16, val.mv_size - 16, tsdb__rd_le64(p + 8), &ls);
    if (rc)
        return rc;
    struct tsdb__series *s = tsdb__series_new(db, id, ls);
    pl_labels_free(ls);
    if (!s)
        return PL_ERR_LIMIT;
    s->persisted = 1;
    s->min_t = (int64_t)tsdb__rd_le64(p);
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
                else if (!(s = tsdb__series_new(db, nid, ls)))
                    rc = PL_ERR_LIMIT; /* labels over 64 KiB encoded */
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
    /* The WAL goes: samples held only by the lazy replay must be in the head first. */
    int prc = tsdb__pend_drain_all(db, err);
    if (prc)
        return prc;
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    uint64_t written = 0;
    int64_t t0 = pl_mono_ns();
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
            /* Appenders publish new series (map lock, not commit_mu): load atomically. */
            struct tsdb__series *s = __atomic_load_n(&page[i], __ATOMIC_ACQUIRE);
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
            written += 4 + b.len;
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
    atomic_fetch_add(&db->st_ckpts, 1);
    atomic_fetch_add(&db->st_ckpt_bytes, written);
    atomic_fetch_add(&db->st_ckpt_ns, (uint64_t)(pl_mono_ns() - t0));
    for (uint32_t pg = 0; pg < TSDB_ID_PAGES; pg++) {
        struct tsdb__series **page = atomic_load(&db->pages[pg]);
        if (!page)
            continue;
        for (uint32_t i = 0; i < TSDB_ID_PAGE; i++) {
            struct tsdb__series *s = __atomic_load_n(&page[i], __ATOMIC_ACQUIRE);
            if (s && s->persisted)
                s->dirty = 0;
        }
    }
    return 0;
}

/*
 * ---- eviction (head GC) ----
 *
 * A round has two steps. The flush (commit_mu held) picks idle series, those
 * with no sample at or after the bound, and writes the head record of each
 * one changed since the last checkpoint, so that LMDB holds everything the
 * series holds in memory (a crash replay then finds WAL samples older than
 * that record and skips them as duplicates). The eviction unlinks them from
 * the id table and the label map and frees them, but only once every LMDB
 * reader predates none of those records (mdb_reader_list): a querier reads
 * the head record of a series not in memory from its own snapshot, which
 * must then hold the flushed state. Otherwise the candidates wait for a
 * later round. Pointers stay safe because eviction holds, while unlinking
 * and freeing, everything that readers of a series pointer hold: commit_mu,
 * the map lock, the series' stripe lock, and the appender gate (no appender
 * between begin and commit/rollback). A series that took a sample since its
 * flush (max_t moved, or dirty) stays.
 */

#define GC_GATE_WAIT_MS    1000
#define GC_DEFAULT_IDLE_MS (3600 * INT64_C(1000))

void tsdb__head_init(struct tsdb *db)
{
    pthread_mutex_init(&db->syms.mu, NULL);
    db->map.syms = &db->syms;
    struct tsdb__headgc *g = &db->hg;
    pthread_mutex_init(&g->mu, NULL);
    pthread_mutex_init(&g->run_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_cond_init(&g->thread_cv, &ca);
    pthread_condattr_destroy(&ca);
}

void tsdb__head_fini(struct tsdb *db)
{
    struct tsdb__syms *sy = &db->syms;
    for (size_t i = 0; i < TSDB_SYM_PAGES; i++)
        free((void *)atomic_load(&sy->pages[i]));
    free(sy->map);
    free(sy->map_id);
    pthread_mutex_destroy(&sy->mu);
    struct tsdb__headgc *g = &db->hg;
    pthread_mutex_destroy(&g->mu);
    pthread_mutex_destroy(&g->run_mu);
    pthread_cond_destroy(&g->cv);
    pthread_cond_destroy(&g->thread_cv);
    free(g->cand);
    g->cand = NULL;
}

void tsdb__head_pin(struct tsdb *db)
{
    struct tsdb__headgc *g = &db->hg;
    pthread_mutex_lock(&g->mu);
    while (g->closed)
        pthread_cond_wait(&g->cv, &g->mu);
    g->live++;
    pthread_mutex_unlock(&g->mu);
}

void tsdb__head_unpin(struct tsdb *db)
{
    struct tsdb__headgc *g = &db->hg;
    pthread_mutex_lock(&g->mu);
    if (--g->live == 0)
        pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void deadline_ms(struct timespec *dl, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, dl);
    int64_t ns = dl->tv_nsec + (ms % 1000) * 1000000;
    dl->tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    dl->tv_nsec = (long)(ns % 1000000000);
}

/* Stops new appenders and waits for open ones; 0 or PL_ERR_TIMEOUT (gate open again). */
static int gate_close(struct tsdb *db)
{
    struct tsdb__headgc *g = &db->hg;
    struct timespec dl;
    deadline_ms(&dl, GC_GATE_WAIT_MS);
    int rc = 0;
    pthread_mutex_lock(&g->mu);
    g->closed = 1;
    while (g->live > 0 && rc == 0)
        if (pthread_cond_timedwait(&g->cv, &g->mu, &dl) == ETIMEDOUT && g->live > 0)
            rc = PL_ERR_TIMEOUT;
    if (rc) {
        g->closed = 0;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

static void gate_open(struct tsdb *db)
{
    struct tsdb__headgc *g = &db->hg;
    pthread_mutex_lock(&g->mu);
    g->closed = 0;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* mdb_reader_list lines: "pid thread txnid" ("-" for a slot without a txn). */
static int reader_line(const char *msg, void *ctx)
{
    uint64_t *oldest = ctx;
    int pid;
    size_t tid;
    unsigned long long txn;
    if (sscanf(msg, "%d %zx %llu", &pid, &tid, &txn) == 3 && txn < *oldest)
        *oldest = txn;
    return 0;
}

/* The snapshot of the oldest LMDB read transaction (any process); UINT64_MAX if none. */
uint64_t tsdb__oldest_reader(struct tsdb *db)
{
    uint64_t oldest = UINT64_MAX;
    mdb_reader_list(db->env, reader_line, &oldest);
    return oldest;
}

static int gc_idle(const struct tsdb__series *s, int64_t before)
{
    /* Pending marks: held by an appender batch or a backfill (backfill.c). */
    if (s->sealing_len || __atomic_load_n(&s->pending, __ATOMIC_ACQUIRE))
        return 0;
    if (s->persisted == 1)
        return s->max_t < before;
    /* Created by an appender that never committed it. */
    return s->persisted == 0 && !s->dirty && s->enc.n == 0 && s->max_t == INT64_MIN;
}

/* Picks idle series and writes their head records (commit_mu held). */
static int gc_flush(struct tsdb *db, int64_t before, struct pl_err *err)
{
    struct tsdb__headgc *g = &db->hg;
    g->ncand = 0;
    size_t need = 4096, ndirty = 0;
    for (uint32_t pg = 0; pg < TSDB_ID_PAGES; pg++) {
        struct tsdb__series **page = atomic_load(&db->pages[pg]);
        if (!page)
            continue;
        for (uint32_t i = 0; i < TSDB_ID_PAGE; i++) {
            struct tsdb__series *s = __atomic_load_n(&page[i], __ATOMIC_ACQUIRE);
            if (!s || !gc_idle(s, before))
                continue;
            if (g->ncand == g->capcand) {
                g->capcand = g->capcand ? g->capcand * 2 : 1024;
                g->cand = pl_xreallocarray(g->cand, g->capcand, sizeof(*g->cand));
            }
            g->cand[g->ncand].id = s->id;
            g->cand[g->ncand++].max_t = s->max_t;
            if (s->persisted == 1 && s->dirty) {
                ndirty++;
                need += 64 + (s->enc.bitlen + 7) / 8;
            }
        }
    }
    if (ndirty) {
        MDB_txn *txn;
        int rc = tsdb__wtxn_begin(db, need, &txn);
        if (rc) {
            g->ncand = 0;
            return tsdb__mdb_err(err, rc, "writing head records of idle series");
        }
        struct pl_buf b;
        pl_buf_init(&b, 1 << 24);
        for (size_t i = 0; i < g->ncand && rc == 0; i++) {
            struct tsdb__series *s = tsdb__head_get(db, g->cand[i].id);
            if (s->persisted != 1 || !s->dirty)
                continue;
            pthread_mutex_t *mu = tsdb__stripe(db, s->id);
            pthread_mutex_lock(mu);
            rc = tsdb__head_record(s, &b);
            pthread_mutex_unlock(mu);
            uint8_t k[4];
            tsdb__be32(k, s->id);
            MDB_val key = {4, k}, val = {b.len, b.data};
            if (rc == 0)
                rc = mdb_put(txn, db->dbi_head, &key, &val, 0);
        }
        pl_buf_fini(&b);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (rc) {
            g->ncand = 0;
            return tsdb__mdb_err(err, rc, "writing head records of idle series");
        }
        for (size_t i = 0; i < g->ncand; i++) {
            struct tsdb__series *s = tsdb__head_get(db, g->cand[i].id);
            if (s->persisted == 1)
                s->dirty = 0;
        }
    }
    MDB_envinfo info;
    mdb_env_info(db->env, &info);
    g->cand_txn = info.me_last_txnid;
    return 0;
}

/* Unlinks and frees the candidates still idle (gate closed, commit_mu held). */
static uint64_t gc_evict(struct tsdb *db)
{
    struct tsdb__headgc *g = &db->hg;
    struct tsdb__series **dead = pl_xmalloc((g->ncand ? g->ncand : 1) * sizeof(*dead));
    size_t n = 0;
    pthread_rwlock_wrlock(&db->map_lock);
    for (size_t i = 0; i < g->ncand; i++) {
        pthread_mutex_t *mu = tsdb__stripe(db, g->cand[i].id);
        pthread_mutex_lock(mu);
        struct tsdb__series *s = tsdb__head_get(db, g->cand[i].id);
        if (s && s->max_t == g->cand[i].max_t && !s->dirty && gc_idle(s, INT64_MAX)) {
            tsdb__smap_remove(&db->map, s);
            tsdb__head_set(db, s->id, NULL);
            dead[n++] = s;
        }
        pthread_mutex_unlock(mu);
    }
    pthread_rwlock_unlock(&db->map_lock);
    for (size_t i = 0; i < n; i++)
        tsdb__series_free(dead[i]);
    free(dead);
    g->ncand = 0;
    atomic_fetch_sub(&db->st_head_series, n);
    atomic_fetch_add(&g->evicted, n);
    return n;
}

int tsdb_head_gc(struct tsdb *db, int64_t before, uint64_t *evicted, struct pl_err *err)
{
    struct tsdb__headgc *g = &db->hg;
    uint64_t n = 0;
    if (evicted)
        *evicted = 0;
    if (db->opt.read_only)
        return pl_err_set(err, PL_ERR_STATE, "the database is open read-only");
    pthread_mutex_lock(&g->run_mu);
    int rc = 0;
    for (int step = 0; step < 2 && rc == 0; step++) {
        /* Pending candidates first; with none, flush a new set and try it at once. */
        if (g->ncand == 0 && step == 0) {
            pthread_mutex_lock(&db->commit_mu);
            if (db->failed)
                rc = pl_err_set(err, PL_ERR_STATE,
                                "storage is in a failed state after a write error; reopen it");
            else
                rc = gc_flush(db, before, err);
            pthread_mutex_unlock(&db->commit_mu);
        }
        if (rc || g->ncand == 0 || tsdb__oldest_reader(db) < g->cand_txn)
            break;
        if ((rc = gate_close(db))) {
            pl_err_set(err, rc, "appenders stayed open for over %d ms; eviction postponed",
                       GC_GATE_WAIT_MS);
            break;
        }
        pthread_mutex_lock(&db->commit_mu);
        n += gc_evict(db);
        pthread_mutex_unlock(&db->commit_mu);
        gate_open(db);
    }
    pthread_mutex_unlock(&g->run_mu);
    if (evicted)
        *evicted = n;
    return rc;
}

int tsdb__head_get_or_load(struct tsdb *db, uint32_t id, struct tsdb__series **out)
{
    struct tsdb__series *s = tsdb__head_get(db, id);
    if (s) {
        *out = s;
        return 0;
    }
    if (id >= (uint32_t)atomic_load(&db->next_id))
        return MDB_NOTFOUND;
    pthread_rwlock_wrlock(&db->map_lock);
    s = tsdb__head_get(db, id);
    int rc = 0;
    if (!s) {
        MDB_txn *txn;
        rc = tsdb__rtxn_begin(db, &txn);
        if (rc == 0) {
            rc = tsdb__head_load_id(db, txn, id, &s);
            tsdb__rtxn_end(db, txn);
        }
        if (rc == 0) {
            tsdb__head_set(db, id, s);
            tsdb__smap_insert(&db->map, s);
            atomic_fetch_add(&db->st_head_series, 1);
        }
    }
    pthread_rwlock_unlock(&db->map_lock);
    if (rc == 0)
        *out = s;
    return rc;
}

static void *gc_main(void *arg)
{
    struct tsdb *db = arg;
    struct tsdb__headgc *g = &db->hg;
    int64_t idle = db->opt.head_idle_ms ? db->opt.head_idle_ms : GC_DEFAULT_IDLE_MS;
    int64_t period = idle / 4;
    if (period < 1000)
        period = 1000;
    if (period > 60000)
        period = 60000;
    pthread_mutex_lock(&g->mu);
    while (g->running) {
        struct timespec dl;
        deadline_ms(&dl, period);
        pthread_cond_timedwait(&g->thread_cv, &g->mu, &dl);
        if (!g->running)
            break;
        pthread_mutex_unlock(&g->mu);
        int64_t newest = atomic_load(&db->st_max_t);
        struct pl_err err;
        if (newest > INT64_MIN + idle && tsdb_head_gc(db, newest - idle, NULL, &err) != 0 &&
            err.code != PL_ERR_TIMEOUT)
            pl_log(PL_LOG_WARN, "tsdb", "head eviction failed", "err", err.msg, NULL);
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

void tsdb__head_gc_start(struct tsdb *db)
{
    struct tsdb__headgc *g = &db->hg;
    if (db->opt.read_only || db->opt.head_idle_ms < 0)
        return;
    g->running = 1;
    if (pthread_create(&g->thread, NULL, gc_main, db) != 0)
        g->running = 0;
}

void tsdb__head_gc_stop(struct tsdb *db)
{
    struct tsdb__headgc *g = &db->hg;
    pthread_mutex_lock(&g->mu);
    int was = g->running;
    g->running = 0;
    pthread_cond_signal(&g->thread_cv);
    pthread_mutex_unlock(&g->mu);
    if (was)
        pthread_join(g->thread, NULL);
}
