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

/* Samples of the WAL tail in WAL order, before grouping by id. */
struct replay_ctx {
    struct tsdb__sample *v;
    size_t n, cap;
    uint32_t nids; /* 1 + the largest id seen */
    int64_t maxt, mint;
};

static int replay_sample(void *vctx, const struct tsdb__sample *smp)
{
    struct replay_ctx *c = vctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 65536;
        c->v = pl_xreallocarray(c->v, c->cap, sizeof(*c->v));
    }
    c->v[c->n++] = *smp;
    return 0;
}

/* Groups the samples by id (a counting sort, stable: WAL order within an id). */
static struct tsdb__pend *pend_build(struct replay_ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].id >= c->nids)
            c->nids = c->v[i].id + 1;
        if (c->v[i].t > c->maxt)
            c->maxt = c->v[i].t;
        if (c->v[i].t < c->mint)
            c->mint = c->v[i].t;
    }
    struct tsdb__pend *p = pl_xcalloc(1, sizeof(*p));
    p->nids = c->nids;
    p->off = pl_xcalloc((size_t)c->nids + 1, sizeof(*p->off));
    p->done = pl_xcalloc(c->nids ? c->nids : 1, 1);
    p->t = pl_xmalloc((c->n ? c->n : 1) * sizeof(*p->t));
    p->v = pl_xmalloc((c->n ? c->n : 1) * sizeof(*p->v));
    for (size_t i = 0; i < c->n; i++)
        p->off[c->v[i].id + 1]++;
    for (uint32_t i = 0; i < c->nids; i++) {
        if (p->off[i + 1])
            p->left++;
        p->off[i + 1] += p->off[i];
    }
    /* off[id] is the next free slot of id while filling, then the start of id + 1. */
    for (size_t i = 0; i < c->n; i++) {
        uint32_t j = p->off[c->v[i].id]++;
        p->t[j] = c->v[i].t;
        p->v[j] = c->v[i].v;
    }
    for (uint32_t i = c->nids; i > 0; i--)
        p->off[i] = p->off[i - 1];
    p->off[0] = 0;
    return p;
}

int tsdb__wal_replay(struct tsdb *db, struct pl_err *err)
{
    struct replay_ctx c = {.maxt = INT64_MIN, .mint = INT64_MAX};
    uint64_t records = 0, bytes = 0, corrupt = 0;
    uint8_t k[8];
    tsdb__be64(k, db->ckpt_seq + 1);
    MDB_txn *txn;
    int rc = tsdb__rtxn_begin(db, &txn);
    if (rc)
        return tsdb__mdb_err(err, rc, "replaying the WAL");
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, db->dbi_wal, &cur)) == 0) {
        MDB_val key = {8, k}, val;
        int r = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        while (r == 0) {
            if (key.mv_size != 8) {
                rc = PL_ERR_CORRUPT;
                break;
            }
            size_t before = c.n;
            int dr = tsdb__wal_decode(val.mv_data, val.mv_size, replay_sample, &c);
            if (dr == PL_ERR_CORRUPT) {
                /* A record LMDB committed is whole; a corrupt one is skipped, loudly. */
                c.n = before;
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
    if (rc) {
        free(c.v);
        return tsdb__mdb_err(err, rc, "replaying the WAL");
    }
    if (c.n) {
        atomic_store(&db->pend, pend_build(&c));
        if (c.maxt > atomic_load(&db->st_max_t))
            atomic_store(&db->st_max_t, c.maxt);
        if (c.mint < atomic_load(&db->st_min_t))
            atomic_store(&db->st_min_t, c.mint);
    }
    free(c.v);
    if (corrupt) {
        char n[32];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)corrupt);
        pl_log(PL_LOG_WARN, "tsdb", "skipped corrupt WAL records", "records", n, NULL);
    }
    db->wal_bytes_since_ckpt = bytes;
    if (records) {
        char r1[32], r2[32];
        snprintf(r1, sizeof(r1), "%llu", (unsigned long long)records);
        snprintf(r2, sizeof(r2), "%llu", (unsigned long long)c.n);
        pl_log(PL_LOG_INFO, "tsdb", "WAL read (applied to series lazily)", "records", r1,
               "samples", r2, NULL);
    }
    return 0;
}
