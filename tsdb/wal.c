/*
 * wal.c - the write-ahead log: one snappy-compressed record per appender
 * commit, stored in the LMDB `wal` database under an increasing sequence
 * (MDB_APPEND), in the same transaction as the index and sealed chunks it
 * implies. On open, the records after the head checkpoint are replayed into
 * the head; a checkpoint (head.c) then truncates them. Record format:
 * tsdb_int.h. Snappy: https://github.com/google/snappy/blob/main/format_description.txt
 */
#include "tsdb/tsdb_int.h"

#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"

int tsdb__wal_encode(const struct tsdb__sample *s, size_t n, struct pl_buf *out)
{
    int rc = pl_buf_reserve(out, 1 + 10 + n * 28);
    if (rc)
        return rc;
    uint8_t *p = (uint8_t *)out->data + out->len;
    size_t off = 0;
    p[off++] = TSDB_WAL_VERSION;
    off += tsdb__vint_put(p + off, n);
    uint32_t pid = 0;
    int64_t pt = 0;
    for (size_t i = 0; i < n; i++) {
        off += tsdb__vint_put(p + off, tsdb__zz((int64_t)s[i].id - (int64_t)pid));
        off += tsdb__vint_put(p + off, tsdb__zz((int64_t)((uint64_t)s[i].t - (uint64_t)pt)));
        tsdb__le64(p + off, s[i].v);
        off += 8;
        pid = s[i].id;
        pt = s[i].t;
    }
    out->len += off;
    out->data[out->len] = 0;
    return 0;
}

int tsdb__wal_decode(const uint8_t *p, size_t n, int (*fn)(void *ctx, const struct tsdb__sample *),
                     void *ctx)
{
    size_t ulen;
    if (snappy_uncompressed_length((const char *)p, n, &ulen) != SNAPPY_OK || ulen > (1u << 30))
        return PL_ERR_CORRUPT;
    if (snappy_validate_compressed_buffer((const char *)p, n) != SNAPPY_OK)
        return PL_ERR_CORRUPT;
    uint8_t *u = pl_xmalloc(ulen ? ulen : 1);
    int rc = 0;
    if (snappy_uncompress((const char *)p, n, (char *)u, &ulen) != SNAPPY_OK) {
        rc = PL_ERR_CORRUPT;
        goto out;
    }
    uint64_t cnt;
    size_t off;
    if (ulen < 2 || u[0] != TSDB_WAL_VERSION || !(off = tsdb__vint_get(u + 1, ulen - 1, &cnt)) ||
        cnt > ulen) {
        rc = PL_ERR_CORRUPT;
        goto out;
    }
    off += 1;
    struct tsdb__sample s = {0, 0, 0};
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t d1, d2;
        size_t m1 = tsdb__vint_get(u + off, ulen - off, &d1);
        if (!m1) {
            rc = PL_ERR_CORRUPT;
            goto out;
        }
        off += m1;
        size_t m2 = tsdb__vint_get(u + off, ulen - off, &d2);
        if (!m2 || ulen - off - m2 < 8) {
            rc = PL_ERR_CORRUPT;
            goto out;
        }
        off += m2;
        int64_t id = (int64_t)s.id + tsdb__unzz(d1);
        if (id < 0 || id > UINT32_MAX) {
            rc = PL_ERR_CORRUPT;
            goto out;
        }
        s.id = (uint32_t)id;
        s.t = (int64_t)((uint64_t)s.t + (uint64_t)tsdb__unzz(d2));
        s.v = tsdb__rd_le64(u + off);
        off += 8;
        if ((rc = fn(ctx, &s)))
            goto out;
    }
    if (off != ulen)
        rc = PL_ERR_CORRUPT;
out:
    free(u);
    return rc;
}

/*
 * Decodes one uncompressed record into p (capacity reserved by the caller).
 * A corrupt record leaves p unchanged: samples are linked into their series'
 * chains only once the whole record decoded. ids: scratch of cnt entries.
 */
static int pend_add_record(struct tsdb__pend *p, const uint8_t *u, size_t ulen,
                           struct pl_buf *ids_buf)
{
    uint64_t cnt;
    size_t off;
    if (ulen < 2 || u[0] != TSDB_WAL_VERSION || !(off = tsdb__vint_get(u + 1, ulen - 1, &cnt)) ||
        cnt > ulen / 10 || cnt > p->cap - p->n)
        return PL_ERR_CORRUPT;
    off += 1;
    pl_buf_reset(ids_buf);
    if (pl_buf_reserve(ids_buf, (size_t)cnt * 4 + 4))
        return PL_ERR_LIMIT;
    uint32_t *ids = (uint32_t *)(void *)ids_buf->data;
    int64_t id = 0, t = 0;
    size_t base = p->n;
    for (uint64_t k = 0; k < cnt; k++) {
        uint64_t d1, d2;
        size_t m1 = tsdb__vint_get(u + off, ulen - off, &d1);
        if (!m1)
            return PL_ERR_CORRUPT;
        off += m1;
        size_t m2 = tsdb__vint_get(u + off, ulen - off, &d2);
        if (!m2 || ulen - off - m2 < 8)
            return PL_ERR_CORRUPT;
        off += m2;
        id += tsdb__unzz(d1);
        if (id < 0 || id >= (int64_t)p->nids)
            return PL_ERR_CORRUPT;
        t = (int64_t)((uint64_t)t + (uint64_t)tsdb__unzz(d2));
        ids[k] = (uint32_t)id;
        p->t[base + k] = t;
        p->v[base + k] = tsdb__rd_le64(u + off);
        off += 8;
    }
    if (off != ulen)
        return PL_ERR_CORRUPT;
    for (uint64_t k = 0; k < cnt; k++) {
        uint32_t i = (uint32_t)(base + k), sid = ids[k];
        p->next[i] = TSDB_PEND_NONE;
        if (p->last[sid] == TSDB_PEND_NONE) {
            p->first[sid] = i;
            p->left++;
        } else {
            p->next[p->last[sid]] = i;
        }
        p->last[sid] = i;
    }
    p->n += cnt;
    return 0;
}

static struct tsdb__pend *pend_new(uint32_t nids, size_t cap)
{
    struct tsdb__pend *p = pl_xcalloc(1, sizeof(*p));
    p->nids = nids;
    p->cap = cap;
    /* Sized by an upper bound (10 bytes per sample at least): untouched pages stay unmapped. */
    p->first = pl_xmalloc((nids ? nids : 1) * sizeof(*p->first));
    p->last = pl_xmalloc((nids ? nids : 1) * sizeof(*p->last));
    memset(p->first, 0xff, (size_t)nids * sizeof(*p->first));
    memset(p->last, 0xff, (size_t)nids * sizeof(*p->last));
    p->done = pl_xcalloc(nids ? nids : 1, 1);
    p->next = pl_xmalloc((cap ? cap : 1) * sizeof(*p->next));
    p->t = pl_xmalloc((cap ? cap : 1) * sizeof(*p->t));
    p->v = pl_xmalloc((cap ? cap : 1) * sizeof(*p->v));
    return p;
}

int tsdb__wal_replay(struct tsdb *db, struct pl_err *err)
{
    uint64_t records = 0, bytes = 0, corrupt = 0;
    uint8_t k[8];
    tsdb__be64(k, db->ckpt_seq + 1);
    MDB_txn *txn;
    int rc = tsdb__rtxn_begin(db, &txn);
    if (rc)
        return tsdb__mdb_err(err, rc, "replaying the WAL");
    MDB_cursor *cur;
    struct tsdb__pend *p = NULL;
    struct pl_buf ubuf, ids;
    pl_buf_init(&ubuf, 1u << 30);
    pl_buf_init(&ids, 1u << 30);
    if ((rc = mdb_cursor_open(txn, db->dbi_wal, &cur)) == 0) {
        /* First the bound on the samples: snappy headers hold the uncompressed lengths. */
        MDB_val key = {8, k}, val;
        uint64_t bound = 0;
        int r = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        for (; r == 0; r = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
            size_t ulen;
            if (snappy_uncompressed_length(val.mv_data, val.mv_size, &ulen) == SNAPPY_OK)
                bound += ulen / 10;
        }
        if (r != MDB_NOTFOUND)
            rc = r;
        else if (bound >= TSDB_PEND_NONE)
            rc = pl_err_set(err, PL_ERR_LIMIT, "the WAL tail holds over 2^32 samples");
        if (rc == 0 && bound > 0)
            p = pend_new((uint32_t)atomic_load(&db->next_id), (size_t)bound);
        key.mv_size = 8;
        key.mv_data = k;
        r = p ? mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE) : MDB_NOTFOUND;
        while (rc == 0 && r == 0) {
            if (key.mv_size != 8) {
                rc = PL_ERR_CORRUPT;
                break;
            }
            size_t ulen;
            int dr = PL_ERR_CORRUPT;
            if (snappy_uncompressed_length(val.mv_data, val.mv_size, &ulen) == SNAPPY_OK &&
                ulen <= (1u << 30) && (pl_buf_reset(&ubuf), pl_buf_reserve(&ubuf, ulen + 1)) == 0 &&
                snappy_uncompress(val.mv_data, val.mv_size, ubuf.data, &ulen) == SNAPPY_OK)
                dr = pend_add_record(p, (const uint8_t *)ubuf.data, ulen, &ids);
            if (dr == PL_ERR_CORRUPT) {
                /* A record LMDB committed is whole; a corrupt one is skipped, loudly. */
                corrupt++;
            } else if (dr) {
                rc = dr;
                break;
            }
            records++;
            bytes += val.mv_size;
            r = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
        }
        if (rc == 0 && r != MDB_NOTFOUND)
            rc = r;
        mdb_cursor_close(cur);
    }
    tsdb__rtxn_end(db, txn);
    pl_buf_fini(&ubuf);
    pl_buf_fini(&ids);
    if (rc) {
        tsdb__pend_free(p);
        return rc == PL_ERR_LIMIT ? rc : tsdb__mdb_err(err, rc, "replaying the WAL");
    }
    size_t nsamples = p ? p->n : 0;
    if (p && p->left) {
        int64_t maxt = INT64_MIN, mint = INT64_MAX;
        for (size_t i = 0; i < p->n; i++) {
            if (p->t[i] > maxt)
                maxt = p->t[i];
            if (p->t[i] < mint)
                mint = p->t[i];
        }
        if (maxt > atomic_load(&db->st_max_t))
            atomic_store(&db->st_max_t, maxt);
        if (mint < atomic_load(&db->st_min_t))
            atomic_store(&db->st_min_t, mint);
        atomic_store(&db->pend, p);
    } else {
        tsdb__pend_free(p);
    }
    if (corrupt) {
        char n[32];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)corrupt);
        pl_log(PL_LOG_WARN, "tsdb", "skipped corrupt WAL records", "records", n, NULL);
    }
    db->wal_bytes_since_ckpt = bytes;
    if (records) {
        char r1[32], r2[32];
        snprintf(r1, sizeof(r1), "%llu", (unsigned long long)records);
        snprintf(r2, sizeof(r2), "%llu", (unsigned long long)nsamples);
        pl_log(PL_LOG_INFO, "tsdb", "WAL read (applied to series lazily)", "records", r1, "samples",
               r2, NULL);
    }
    return 0;
}
