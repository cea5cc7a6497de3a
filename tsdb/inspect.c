/*
 * inspect.c - what is stored, for `promlite tsdb stats` and the TSDB status
 * page: series, samples and chunks (from chunk headers, without decoding
 * samples), bytes, and label-name cardinality from the postings index.
 */
#include "tsdb/inspect.h"
#include "tsdb/tsdb_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/mem.h"

static int card_cmp(const void *a, const void *b)
{
    const struct tsdb_label_card *x = a, *y = b;
    if (x->series != y->series)
        return x->series > y->series ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void minmax(struct tsdb_summary *s, int64_t lo, int64_t hi)
{
    if (lo < s->min_time)
        s->min_time = lo;
    if (hi > s->max_time)
        s->max_time = hi;
}

/* Counts samples and time range of an encoded chunk. */
static int chunk_info(struct tsdb_summary *s, const uint8_t *p, size_t n, int64_t maxt)
{
    struct tsdb_chunk_dec d;
    int rc = tsdb_chunk_dec_init(&d, p, n);
    if (rc)
        return rc;
    s->samples += tsdb_chunk_dec_count(&d);
    int64_t t;
    double v;
    rc = tsdb_chunk_dec_next(&d, &t, &v);
    if (rc == 1)
        minmax(s, t, maxt);
    return rc < 0 ? rc : 0;
}

int tsdb_summary_get(struct tsdb *db, struct tsdb_summary *out, struct pl_err *err)
{
    memset(out, 0, sizeof(*out));
    out->min_time = INT64_MAX;
    out->max_time = INT64_MIN;
    MDB_txn *txn;
    int rc = tsdb__rtxn_begin(db, &txn);
    if (rc)
        return tsdb__mdb_err(err, rc, "reading the database");
    MDB_stat st;
    if (mdb_stat(txn, db->dbi_series, &st) == 0)
        out->series = st.ms_entries;
    out->used_bytes = tsdb__used_bytes(db, txn);
    MDB_cursor *c;
    MDB_val key, val;
    /* Sealed chunks. */
    if ((rc = mdb_cursor_open(txn, db->dbi_chunks, &c)) == 0) {
        while ((rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) == 0) {
            if (key.mv_size != 16 || val.mv_size < 8) {
                rc = PL_ERR_CORRUPT;
                break;
            }
            out->chunks++;
            out->sealed_bytes += val.mv_size - 8;
            if ((rc = chunk_info(out, (uint8_t *)val.mv_data + 8, val.mv_size - 8,
                                 (int64_t)tsdb__rd_le64(val.mv_data))))
                break;
        }
        mdb_cursor_close(c);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    /*
     * Open chunks: memory for loaded series, else the head record. Memory
     * first, noting which ids it held: a series evicted or loaded back
     * between the two scans is then counted once (evicted: its record is
     * skipped; loaded: memory missed it, its record counts, and that record
     * is current, since eviction waits for readers older than the records it
     * writes). Ids of the snapshot's records are below next_id read now.
     */
    uint32_t nid = (uint32_t)atomic_load(&db->next_id);
    uint8_t *inmem = pl_xcalloc((size_t)nid / 8 + 1, 1);
    for (uint32_t pg = 0; rc == 0 && pg < TSDB_ID_PAGES; pg++) {
        struct tsdb__series **page = atomic_load(&db->pages[pg]);
        if (!page)
            continue;
        for (uint32_t i = 0; i < TSDB_ID_PAGE && rc == 0; i++) {
            if (!__atomic_load_n(&page[i], __ATOMIC_ACQUIRE))
                continue;
            /* Eviction frees series under their stripe lock: read the slot under it. */
            uint32_t id = pg << TSDB_ID_PAGE_BITS | i;
            pthread_mutex_t *mu = tsdb__stripe(db, id);
            pthread_mutex_lock(mu);
            struct tsdb__series *s = __atomic_load_n(&page[i], __ATOMIC_ACQUIRE);
            if (s && id < nid)
                inmem[id / 8] |= (uint8_t)(1u << (id % 8));
            if (s && s->persisted == 1 && s->enc.n > 0) {
                out->head_chunks++;
                out->samples += s->enc.n;
                minmax(out, s->enc.t_first, s->enc.t_last);
            }
            pthread_mutex_unlock(mu);
        }
    }
    if (rc == 0 && (rc = mdb_cursor_open(txn, db->dbi_head, &c)) == 0) {
        while ((rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) == 0) {
            if (key.mv_size != 4 || val.mv_size < 16) {
                rc = PL_ERR_CORRUPT;
                break;
            }
            uint32_t id = tsdb__rd_be32(key.mv_data);
            if (id < nid && (inmem[id / 8] >> (id % 8) & 1))
                continue;
            if (val.mv_size > 16) {
                out->head_chunks++;
                if ((rc = chunk_info(out, (uint8_t *)val.mv_data + 16, val.mv_size - 16,
                                     (int64_t)tsdb__rd_le64(val.mv_data))))
                    break;
            }
        }
        mdb_cursor_close(c);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    free(inmem);
    /* Samples read from the WAL at open and not yet applied to their series (pend.c). */
    const struct tsdb__pend *pd = atomic_load(&db->pend);
    for (uint32_t id = 0; rc == 0 && pd && id < pd->nids; id++) {
        pthread_mutex_t *mu = tsdb__stripe(db, id);
        pthread_mutex_lock(mu);
        pd = atomic_load(&db->pend);
        if (tsdb__pend_has(pd, id)) {
            for (uint32_t j = pd->first[id]; j != TSDB_PEND_NONE; j = pd->next[j]) {
                out->samples++;
                minmax(out, pd->t[j], pd->t[j]);
            }
        }
        pthread_mutex_unlock(mu);
    }
    /* Label cardinality: walk postings keys name\0value\0id, counting ids from page headers. */
    size_t cap = 0;
    struct pl_buf prev;
    pl_buf_init(&prev, TSDB_MAX_LABELS_SIZE * 2);
    if (rc == 0 && (rc = mdb_cursor_open(txn, db->dbi_post, &c)) == 0) {
        while ((rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) == 0) {
            const char *kp = key.mv_data;
            const char *z = memchr(kp, 0, key.mv_size);
            if (!z || key.mv_size < (size_t)(z - kp) + 6) {
                rc = PL_ERR_CORRUPT;
                break;
            }
            size_t nlen = (size_t)(z - kp);
            if (nlen == 0)
                continue; /* the all-series list */
            uint64_t cnt;
            if (!tsdb__vint_get(val.mv_data, val.mv_size, &cnt)) {
                rc = PL_ERR_CORRUPT;
                break;
            }
            struct tsdb_label_card *last = out->nnames ? &out->names[out->nnames - 1] : NULL;
            if (!last || strlen(last->name) != nlen || memcmp(last->name, kp, nlen) != 0) {
                if (out->nnames == cap) {
                    cap = cap ? cap * 2 : 32;
                    out->names = pl_xreallocarray(out->names, cap, sizeof(*out->names));
                }
                last = &out->names[out->nnames++];
                last->name = pl_xstrndup(kp, nlen);
                last->values = 0;
                last->series = 0;
            }
            /* A value's first page has the smallest id; count values there. */
            const char *vz = memchr(z + 1, 0, key.mv_size - nlen - 1);
            if (!vz) {
                rc = PL_ERR_CORRUPT;
                break;
            }
            size_t plen = (size_t)(vz - kp) + 1;
            int newval = prev.len != plen || memcmp(prev.data, kp, plen) != 0;
            if (newval) {
                pl_buf_reset(&prev);
                pl_buf_append(&prev, kp, plen);
            }
            if (newval)
                last->values++;
            last->series += cnt;
        }
        mdb_cursor_close(c);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    pl_buf_fini(&prev);
    tsdb__rtxn_end(db, txn);
    if (rc) {
        tsdb_summary_fini(out);
        return tsdb__mdb_err(err, rc, "inspecting the database");
    }
    qsort(out->names, out->nnames, sizeof(*out->names), card_cmp);
    char file[4096];
    snprintf(file, sizeof(file), "%s/data.mdb", db->path);
    struct stat sb;
    if (stat(file, &sb) == 0)
        out->disk_bytes = (uint64_t)sb.st_blocks * 512;
    return 0;
}

void tsdb_summary_fini(struct tsdb_summary *s)
{
    for (size_t i = 0; i < s->nnames; i++)
        free(s->names[i].name);
    free(s->names);
    s->names = NULL;
    s->nnames = 0;
}

int tsdb_space_get(struct tsdb *db, struct tsdb_space *out, struct pl_err *err)
{
    memset(out, 0, sizeof(*out));
    MDB_envinfo info;
    MDB_stat est;
    mdb_env_info(db->env, &info);
    mdb_env_stat(db->env, &est);
    out->page_size = est.ms_psize;
    out->file_pages = (uint64_t)info.me_last_pgno + 1;
    MDB_txn *txn;
    int rc = tsdb__rtxn_begin(db, &txn);
    if (rc)
        return tsdb__mdb_err(err, rc, "reading the database");
    struct {
        const char *name;
        MDB_dbi dbi;
    } t[] = {{"chunks", db->dbi_chunks},   {"series", db->dbi_series}, {"series_key", db->dbi_skey},
             {"postings", db->dbi_post},   {"head", db->dbi_head},     {"wal", db->dbi_wal},
             {"tombstones", db->dbi_tomb}, {"meta", db->dbi_meta}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]) && rc == 0; i++) {
        MDB_stat st;
        if ((rc = mdb_stat(txn, t[i].dbi, &st)))
            break;
        struct tsdb_space_db *d = &out->dbs[out->ndbs++];
        snprintf(d->name, sizeof(d->name), "%s", t[i].name);
        d->pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
        d->overflow_pages = st.ms_overflow_pages;
        d->entries = st.ms_entries;
    }
    /* The free list (LMDB's database 0): each value is a page-number list led by its length. */
    MDB_stat fst;
    if (rc == 0 && (rc = mdb_stat(txn, 0, &fst)) == 0) {
        out->meta_pages = 2 + fst.ms_branch_pages + fst.ms_leaf_pages + fst.ms_overflow_pages;
        MDB_cursor *c;
        if ((rc = mdb_cursor_open(txn, 0, &c)) == 0) {
            MDB_val key, val;
            while ((rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) == 0) {
                if (val.mv_size < sizeof(size_t)) {
                    rc = PL_ERR_CORRUPT;
                    break;
                }
                size_t n;
                memcpy(&n, val.mv_data, sizeof(n));
                out->free_pages += n;
            }
            mdb_cursor_close(c);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
    }
    tsdb__rtxn_end(db, txn);
    if (rc)
        return tsdb__mdb_err(err, rc, "inspecting the database");
    return 0;
}
