/*
 * querier.c - read views: series selection by matchers (postings), label
 * names and values, and sample iteration through sealed chunks (LMDB read
 * transaction, MVCC, never blocking writers) and the head's open chunks.
 *
 * A series' samples come from, in time order: its sealed chunks in the
 * view's snapshot, chunks sealed by a commit still in flight (kept by the
 * series until it commits), and the open chunk. When the series sealed a
 * chunk after the snapshot was taken, its sealed chunks are read from a
 * fresh snapshot instead, so that no sample falls between the two; samples
 * are merged by timestamp, dropping repeats.
 */
#include "tsdb/tsdb_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

struct tsdb_querier {
    struct tsdb *db;
    MDB_txn *txn;
    uint64_t txnid;
    int64_t mint, maxt;
    /*
     * Whether the snapshot holds tombstones. A querier hides what the
     * tombstones of its own snapshot cover, not the in-memory ones: a clean
     * (or a forget) that commits while it reads rewrites chunks and drops
     * the tombstones, but the snapshot keeps the old chunks together with
     * the old tombstones, so what was deleted when the querier began stays
     * hidden for its whole life. Deletes committed after it began are not
     * applied to it (only a clean meanwhile shows in the open chunks, which
     * are read from memory).
     */
    int snap_tombs;
};

struct qseries {
    struct pl_labels *ls;
    uint32_t id;
};

struct tsdb_series_set {
    struct tsdb_querier *q;
    struct qseries *v;
    size_t n, i;
    struct pl_buf head, sealing; /* scratch copies of in-memory chunks */
    int64_t *tiv;                /* the current series' tombstone intervals, decoded; owned */
    size_t tcap;
    /* Scratch copy of the current series' samples pending from a lazy WAL replay. */
    int64_t *pend_t;
    uint64_t *pend_v;
    size_t npend, cappend;
};

int tsdb_querier_open(struct tsdb *db, int64_t mint, int64_t maxt, struct tsdb_querier **out,
                      struct pl_err *err)
{
    struct tsdb_querier *q = pl_xcalloc(1, sizeof(*q));
    q->db = db;
    q->mint = mint;
    q->maxt = maxt;
    int rc = tsdb__rtxn_begin(db, &q->txn);
    if (rc) {
        free(q);
        return tsdb__mdb_err(err, rc, "opening a read transaction");
    }
    q->txnid = mdb_txn_id(q->txn);
    MDB_stat st;
    q->snap_tombs = mdb_stat(q->txn, db->dbi_tomb, &st) != 0 || st.ms_entries > 0;
    *out = q;
    return 0;
}

void tsdb_querier_close(struct tsdb_querier *q)
{
    if (!q)
        return;
    tsdb__rtxn_end(q->db, q->txn);
    free(q);
}

/* Newest sample time of series id: memory, else its head record; INT64_MAX if unknown. */
static int64_t series_max_t(struct tsdb_querier *q, uint32_t id)
{
    struct tsdb *db = q->db;
    pthread_mutex_t *mu = tsdb__stripe(db, id);
    pthread_mutex_lock(mu);
    struct tsdb__series *s = tsdb__head_get(db, id);
    int64_t mt = s ? s->max_t : INT64_MIN;
    /* Samples of a lazy WAL replay not yet applied count as the series' own. */
    int64_t pt = tsdb__pend_max_t(db, id, INT64_MIN);
    pthread_mutex_unlock(mu);
    if (s)
        return mt > pt ? mt : pt;
    uint8_t k[4];
    tsdb__be32(k, id);
    MDB_val key = {4, k}, val;
    if (mdb_get(q->txn, db->dbi_head, &key, &val) == 0 && val.mv_size >= 16) {
        mt = (int64_t)tsdb__rd_le64(val.mv_data);
        return mt > pt ? mt : pt;
    }
    return INT64_MAX;
}

static int series_in_range(struct tsdb_querier *q, uint32_t id, int64_t min_t)
{
    if (min_t > q->maxt)
        return 0;
    return series_max_t(q, id) >= q->mint;
}

static int qseries_cmp(const void *a, const void *b)
{
    return pl_labels_cmp(((const struct qseries *)a)->ls, ((const struct qseries *)b)->ls);
}

/* Selected ids in the querier's range, with their label sets (sorted when `sort`). */
static int select_series(struct tsdb_querier *q, struct tsdb_matcher *const *ms, size_t n,
                         struct qseries **outv, size_t *outn, struct pl_err *err)
{
    struct tsdb__pit *it;
    int rc = tsdb__postings_for_matchers(q->db, q->txn, ms, n, &it, err);
    if (rc)
        return rc;
    uint32_t *ids;
    size_t nids;
    if ((rc = tsdb__pit_collect(it, &ids, &nids)))
        return tsdb__mdb_err(err, rc, "reading postings");
    struct qseries *v = pl_xmalloc((nids ? nids : 1) * sizeof(*v));
    size_t m = 0;
    for (size_t i = 0; i < nids; i++) {
        struct pl_labels *ls;
        int64_t min_t;
        rc = tsdb__series_read(q->db, q->txn, ids[i], &ls, &min_t);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        if (!series_in_range(q, ids[i], min_t)) {
            pl_labels_free(ls);
            continue;
        }
        v[m].ls = ls;
        v[m].id = ids[i];
        m++;
    }
    free(ids);
    if (rc) {
        for (size_t i = 0; i < m; i++)
            pl_labels_free(v[i].ls);
        free(v);
        return tsdb__mdb_err(err, rc, "reading the series index");
    }
    *outv = v;
    *outn = m;
    return 0;
}

int tsdb_select(struct tsdb_querier *q, struct tsdb_matcher *const *ms, size_t n,
                struct tsdb_series_set **out, struct pl_err *err)
{
    int nonempty = 0;
    for (size_t i = 0; i < n; i++)
        nonempty |= !tsdb_matcher_matches_empty(ms[i]);
    if (!nonempty)
        return pl_err_set(err, PL_ERR_INVALID,
                          "vector selector must contain at least one non-empty matcher");
    struct tsdb_series_set *ss = pl_xcalloc(1, sizeof(*ss));
    ss->q = q;
    int rc = select_series(q, ms, n, &ss->v, &ss->n, err);
    if (rc) {
        free(ss);
        return rc;
    }
    qsort(ss->v, ss->n, sizeof(*ss->v), qseries_cmp);
    pl_buf_init(&ss->head, 1 << 24);
    pl_buf_init(&ss->sealing, (size_t)1 << 31);
    *out = ss;
    return 0;
}

void tsdb_series_set_free(struct tsdb_series_set *ss)
{
    if (!ss)
        return;
    for (size_t i = 0; i < ss->n; i++)
        pl_labels_free(ss->v[i].ls);
    free(ss->v);
    pl_buf_fini(&ss->head);
    pl_buf_fini(&ss->sealing);
    free(ss->tiv);
    free(ss->pend_t);
    free(ss->pend_v);
    free(ss);
}

int tsdb_series_set_next(struct tsdb_series_set *ss, const struct pl_labels **ls)
{
    if (ss->i >= ss->n)
        return 0;
    *ls = ss->v[ss->i++].ls;
    return 1;
}

void tsdb_samples_init(struct tsdb_samples *s)
{
    memset(s, 0, sizeof(*s));
}

void tsdb_samples_fini(struct tsdb_samples *s)
{
    free(s->t);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

struct emit {
    struct tsdb_samples *out;
    int64_t mint, maxt;
    int64_t last; /* newest emitted; INT64_MIN before any */
    int any;
    /* The series' tombstone in the querier's snapshot (n pairs; n = 0: none), spanning [lo, hi]. */
    const int64_t *tiv;
    size_t tn;
    int64_t tlo, thi;
};

static int tomb_hides(const struct emit *e, int64_t t)
{
    if (t < e->tlo || t > e->thi)
        return 0;
    for (size_t i = 0; i < e->tn; i++)
        if (t >= e->tiv[2 * i] && t <= e->tiv[2 * i + 1])
            return 1;
    return 0;
}

static void push(struct emit *e, int64_t t, double v)
{
    struct tsdb_samples *o = e->out;
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 256;
        o->t = pl_xreallocarray(o->t, nc, sizeof(*o->t));
        o->v = pl_xreallocarray(o->v, nc, sizeof(*o->v));
        o->cap = nc;
    }
    o->t[o->n] = t;
    o->v[o->n] = v;
    o->n++;
}

/* Emits a chunk's samples in [mint, maxt] newer than the last emitted. */
static int emit_chunk(struct emit *e, const uint8_t *p, size_t n)
{
    struct tsdb_chunk_dec d;
    int rc = tsdb_chunk_dec_init(&d, p, n);
    if (rc)
        return rc;
    int64_t from = e->mint;
    if (e->any && e->last >= from)
        from = e->last == INT64_MAX ? INT64_MAX : e->last + 1;
    int64_t t;
    double v;
    rc = tsdb_chunk_dec_seek(&d, from, &t, &v);
    while (rc == 1) {
        if (t > e->maxt)
            return 0;
        if (!e->tn || !tomb_hides(e, t))
            push(e, t, v);
        e->last = t;
        e->any = 1;
        rc = tsdb_chunk_dec_next(&d, &t, &v);
    }
    return rc;
}

/* Emits samples of a lazy WAL replay past what the chunks emitted (WAL order is time order). */
static void emit_pending(struct emit *e, const int64_t *t, const uint64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i] < e->mint || (e->any && t[i] <= e->last))
            continue;
        if (t[i] > e->maxt)
            return;
        if (!e->tn || !tomb_hides(e, t[i])) {
            double dv;
            memcpy(&dv, &v[i], 8);
            push(e, t[i], dv);
        }
        e->last = t[i];
        e->any = 1;
    }
}

/* Emits series id's sealed chunks overlapping [mint, maxt] from txn. */
static int emit_sealed(struct tsdb *db, MDB_txn *txn, uint32_t id, struct emit *e)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, db->dbi_chunks, &c);
    if (rc)
        return rc;
    /* A chunk lies in its mint's partition and never spans two. */
    uint32_t p = tsdb__partition(e->mint), plast = tsdb__partition(e->maxt);
    uint8_t k[16];
    int seek = 1, done = 0;
    MDB_val key, val;
    while (!done) {
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
        const uint8_t *kp = key.mv_data;
        uint32_t kpart = tsdb__rd_be32(kp), kid = tsdb__rd_be32(kp + 4);
        if (kpart > plast)
            break;
        if (kid != id || kpart < p) {
            /* Past our run in this partition: go to the next partition that may hold us. */
            uint32_t next = kpart == p ? p + 1 : (kid < id ? kpart : kpart + 1);
            if (kpart < p || next > plast || next < p)
                break;
            p = next;
            seek = 1;
            continue;
        }
        p = kpart;
        if (val.mv_size < 8) {
            rc = PL_ERR_CORRUPT;
            break;
        }
        int64_t cmax = (int64_t)tsdb__rd_le64(val.mv_data);
        int64_t cmin = (int64_t)(tsdb__rd_be64(kp + 8) ^ (UINT64_C(1) << 63));
        if (cmin > e->maxt)
            break;
        if (cmax >= e->mint && (!e->any || cmax > e->last)) {
            rc = emit_chunk(e, (const uint8_t *)val.mv_data + 8, val.mv_size - 8);
            if (rc)
                break;
        }
    }
    mdb_cursor_close(c);
    (void)done;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int tsdb_series_set_samples(struct tsdb_series_set *ss, int64_t mint, int64_t maxt,
                            struct tsdb_samples *out, struct pl_err *err)
{
    struct tsdb_querier *q = ss->q;
    struct tsdb *db = q->db;
    out->n = 0;
    if (ss->i == 0 || ss->i > ss->n)
        return pl_err_set(err, PL_ERR_STATE, "no current series");
    uint32_t id = ss->v[ss->i - 1].id;
    if (mint < q->mint)
        mint = q->mint;
    if (maxt > q->maxt)
        maxt = q->maxt;
    if (mint > maxt)
        return 0;

    /* Copy what the head holds for the series, under its stripe lock. */
    int in_mem = 0, ghost = 0;
    uint64_t seal_txn = 0;
    pl_buf_reset(&ss->head);
    pl_buf_reset(&ss->sealing);
    pthread_mutex_t *mu = tsdb__stripe(db, id);
    pthread_mutex_lock(mu);
    struct tsdb__series *s = tsdb__head_get(db, id);
    int rc = 0;
    /* Samples of a lazy WAL replay not yet applied: newer than the open chunk's. */
    ss->npend = 0;
    const struct tsdb__pend *pd = atomic_load_explicit(&db->pend, memory_order_acquire);
    if (tsdb__pend_has(pd, id)) {
        for (uint32_t j = pd->first[id]; j != TSDB_PEND_NONE; j = pd->next[j]) {
            if (ss->npend == ss->cappend) {
                ss->cappend = ss->cappend ? ss->cappend * 2 : 64;
                ss->pend_t = pl_xreallocarray(ss->pend_t, ss->cappend, sizeof(*ss->pend_t));
                ss->pend_v = pl_xreallocarray(ss->pend_v, ss->cappend, sizeof(*ss->pend_v));
            }
            ss->pend_t[ss->npend] = pd->t[j];
            ss->pend_v[ss->npend++] = pd->v[j];
        }
    }
    if (s) {
        in_mem = 1;
        seal_txn = s->seal_txn;
        if (s->enc.n > 0) {
            size_t len;
            const uint8_t *p = tsdb_chunk_enc_bytes(&s->enc, &len);
            rc = pl_buf_append(&ss->head, p, len);
        }
        if (rc == 0 && s->sealing_len)
            rc = pl_buf_append(&ss->sealing, s->sealing, s->sealing_len);
    } else if (atomic_load(&db->nghosts)) {
        /*
         * Forgotten after this snapshot began: the open chunk it is entitled
         * to (maybe never checkpointed) is kept for it; its sealed chunks are
         * in the snapshot.
         */
        rc = tsdb__ghost_copy(db, id, q->txnid, &ss->head, &ghost);
    }
    pthread_mutex_unlock(mu);
    if (rc)
        return pl_err_set(err, rc, "copying the head chunk: %s", pl_err_str(rc));

    struct emit e = {out, mint, maxt, INT64_MIN, 0, NULL, 0, INT64_MAX, INT64_MIN};
    if (q->snap_tombs) {
        uint8_t k[4];
        tsdb__be32(k, id);
        MDB_val key = {4, k}, val;
        rc = mdb_get(q->txn, db->dbi_tomb, &key, &val);
        if (rc == 0 && val.mv_size % 16)
            rc = PL_ERR_CORRUPT;
        if (rc == 0) {
            /* Decoded once per series: it is tested against every sample. */
            e.tn = val.mv_size / 16;
            if (2 * e.tn > ss->tcap) {
                ss->tcap = 2 * e.tn;
                ss->tiv = pl_xreallocarray(ss->tiv, ss->tcap, sizeof(*ss->tiv));
            }
            for (size_t i = 0; i < 2 * e.tn; i++)
                ss->tiv[i] = (int64_t)tsdb__rd_le64((const uint8_t *)val.mv_data + 8 * i);
            for (size_t i = 0; i < e.tn; i++) {
                if (ss->tiv[2 * i] < e.tlo)
                    e.tlo = ss->tiv[2 * i];
                if (ss->tiv[2 * i + 1] > e.thi)
                    e.thi = ss->tiv[2 * i + 1];
            }
            e.tiv = ss->tiv;
        } else if (rc != MDB_NOTFOUND) {
            return tsdb__mdb_err(err, rc, "reading tombstones");
        }
        rc = 0;
    }
    MDB_txn *txn = q->txn, *fresh = NULL;
    if (in_mem && seal_txn > q->txnid) {
        rc = tsdb__rtxn_begin(db, &fresh);
        if (rc == 0)
            txn = fresh;
    }
    if (rc == 0)
        rc = emit_sealed(db, txn, id, &e);
    if (fresh)
        tsdb__rtxn_end(db, fresh);
    /* Chunks sealed by an uncommitted transaction. */
    for (size_t off = 0; rc == 0 && off + 4 <= ss->sealing.len;) {
        const uint8_t *p = (const uint8_t *)ss->sealing.data + off;
        uint32_t len = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        if (len > ss->sealing.len - off - 4) {
            rc = PL_ERR_CORRUPT;
            break;
        }
        rc = emit_chunk(&e, p + 4, len);
        off += 4 + len;
    }
    if (rc == 0) {
        if (in_mem || ghost) {
            if (ss->head.len)
                rc = emit_chunk(&e, (const uint8_t *)ss->head.data, ss->head.len);
        } else {
            uint8_t k[4];
            tsdb__be32(k, id);
            MDB_val key = {4, k}, val;
            int r = mdb_get(q->txn, db->dbi_head, &key, &val);
            if (r == 0 && val.mv_size > 16)
                rc = emit_chunk(&e, (const uint8_t *)val.mv_data + 16, val.mv_size - 16);
            else if (r != 0 && r != MDB_NOTFOUND)
                rc = r;
        }
    }
    if (rc == 0 && ss->npend)
        emit_pending(&e, ss->pend_t, ss->pend_v, ss->npend);
    if (rc) {
        out->n = 0;
        return tsdb__mdb_err(err, rc, "reading samples");
    }
    return 0;
}

/* ---- label names and values ---- */

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strings_add(struct tsdb_strings *s, char *v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = pl_xreallocarray(s->v, s->cap, sizeof(*s->v));
    }
    s->v[s->n++] = v;
}

/* Sorts, removes duplicates (freeing them). */
static void strings_finish(struct tsdb_strings *s)
{
    if (s->n == 0)
        return;
    qsort(s->v, s->n, sizeof(*s->v), strp_cmp);
    size_t w = 1;
    for (size_t i = 1; i < s->n; i++) {
        if (strcmp(s->v[i], s->v[w - 1]) == 0)
            free(s->v[i]);
        else
            s->v[w++] = s->v[i];
    }
    s->n = w;
}

void tsdb_strings_fini(struct tsdb_strings *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Whether the querier's range covers all stored data (then the index answers alone). */
static int covers_all(struct tsdb_querier *q)
{
    int64_t lo = atomic_load(&q->db->st_min_t), hi = atomic_load(&q->db->st_max_t);
    return q->mint <= lo && q->maxt >= hi;
}

/* Walks postings keys: names (name == NULL) or values of `name`. */
static int index_walk(struct tsdb_querier *q, const char *name, struct tsdb_strings *out)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(q->txn, q->db->dbi_post, &c);
    if (rc)
        return rc;
    struct pl_buf kb;
    pl_buf_init(&kb, TSDB_MAX_LABELS_SIZE * 2);
    size_t nlen = name ? strlen(name) : 0;
    if (name) {
        pl_buf_append(&kb, name, nlen);
        pl_buf_putc(&kb, 0);
    } else {
        pl_buf_append(&kb, "\x01", 1); /* skip the all-series pair ("", "") */
    }
    MDB_val key = {kb.len, kb.data}, val;
    rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
    while (rc == 0) {
        const char *kp = key.mv_data;
        const char *z = memchr(kp, 0, key.mv_size);
        if (!z) {
            rc = PL_ERR_CORRUPT;
            break;
        }
        size_t klen = (size_t)(z - kp);
        pl_buf_reset(&kb);
        if (name) {
            if (klen != nlen || memcmp(kp, name, nlen) != 0)
                break;
            const char *v = z + 1;
            const char *z2 = memchr(v, 0, key.mv_size - klen - 1);
            if (!z2) {
                rc = PL_ERR_CORRUPT;
                break;
            }
            strings_add(out, pl_xstrndup(v, (size_t)(z2 - v)));
            pl_buf_append(&kb, kp, (size_t)(z2 - kp) + 1);
            pl_buf_append(&kb, "\xff\xff\xff\xff\xff", 5);
        } else {
            strings_add(out, pl_xstrndup(kp, klen));
            pl_buf_append(&kb, kp, klen);
            pl_buf_putc(&kb, 1);
        }
        key.mv_size = kb.len;
        key.mv_data = kb.data;
        rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
    }
    mdb_cursor_close(c);
    pl_buf_fini(&kb);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int labels_collect(struct tsdb_querier *q, const char *name, struct tsdb_matcher *const *ms,
                          size_t n, struct tsdb_strings *out, struct pl_err *err)
{
    memset(out, 0, sizeof(*out));
    if (n == 0 && covers_all(q)) {
        int rc = index_walk(q, name, out);
        if (rc) {
            tsdb_strings_fini(out);
            return tsdb__mdb_err(err, rc, "reading the label index");
        }
        strings_finish(out);
        return 0;
    }
    struct qseries *v;
    size_t m;
    int rc = select_series(q, ms, n, &v, &m, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < m; i++) {
        const struct pl_labels *ls = v[i].ls;
        if (name) {
            const struct pl_label *l = pl_labels_get(ls, name);
            if (l)
                strings_add(out, pl_xstrndup(l->value, l->value_len));
        } else {
            for (uint32_t j = 0; j < ls->n; j++)
                strings_add(out, pl_xstrndup(ls->v[j].name, ls->v[j].name_len));
        }
        pl_labels_free(v[i].ls);
        /* Keep the list small while scanning many series. */
        if (out->n > 4096 && (out->n & (out->n - 1)) == 0)
            strings_finish(out);
    }
    free(v);
    strings_finish(out);
    return 0;
}

int tsdb_label_names(struct tsdb_querier *q, struct tsdb_matcher *const *ms, size_t n,
                     struct tsdb_strings *out, struct pl_err *err)
{
    return labels_collect(q, NULL, ms, n, out, err);
}

int tsdb_label_values(struct tsdb_querier *q, const char *name, struct tsdb_matcher *const *ms,
                      size_t n, struct tsdb_strings *out, struct pl_err *err)
{
    return labels_collect(q, name, ms, n, out, err);
}
