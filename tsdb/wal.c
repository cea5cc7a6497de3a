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

struct replay_ctx {
    struct tsdb *db;
    MDB_txn *txn;
    struct pl_buf scratch;
    struct tsdb__series **sealed;
    size_t nsealed, capsealed;
    uint64_t samples;
};

static int replay_sample(void *vctx, const struct tsdb__sample *smp)
{
    struct replay_ctx *c = vctx;
    struct tsdb *db = c->db;
    struct tsdb__series *s = tsdb__head_get(db, smp->id);
    if (!s) {
        int rc = tsdb__head_load_id(db, c->txn, smp->id, &s);
        if (rc == MDB_NOTFOUND)
            return 0; /* the series was deleted after this record */
        if (rc)
            return rc;
        tsdb__head_set(db, s->id, s);
        tsdb__smap_insert(&db->map, s);
        atomic_fetch_add(&db->st_head_series, 1);
    }
    uint32_t had = s->sealing_len;
    int rc = tsdb__head_append(db, c->txn, s, smp->t, smp->v, &c->scratch);
    if (rc == 1 || rc == PL_ERR_OUT_OF_ORDER || rc == PL_ERR_DUPLICATE)
        return 0; /* already in the checkpoint or a sealed chunk */
    if (rc == PL_ERR_LIMIT && db->opt.read_only)
        return 0; /* a read-only head cannot seal a full chunk */
    if (rc)
        return rc;
    c->samples++;
    int64_t cur = atomic_load(&db->st_max_t);
    if (smp->t > cur)
        atomic_store(&db->st_max_t, smp->t);
    cur = atomic_load(&db->st_min_t);
    if (smp->t < cur)
        atomic_store(&db->st_min_t, smp->t);
    if (s->sealing_len != had) {
        if (c->nsealed == c->capsealed) {
            c->capsealed = c->capsealed ? c->capsealed * 2 : 64;
            c->sealed = pl_xreallocarray(c->sealed, c->capsealed, sizeof(*c->sealed));
        }
        c->sealed[c->nsealed++] = s;
    }
    return 0;
}

static void release_sealing(struct replay_ctx *c)
{
    for (size_t i = 0; i < c->nsealed; i++) {
        free(c->sealed[i]->sealing);
        c->sealed[i]->sealing = NULL;
        c->sealed[i]->sealing_len = 0;
    }
    c->nsealed = 0;
}

int tsdb__wal_replay(struct tsdb *db, struct pl_err *err)
{
    struct replay_ctx c = {.db = db};
    pl_buf_init(&c.scratch, 1 << 20);
    uint64_t records = 0, bytes = 0, corrupt = 0;
    uint8_t k[8];
    tsdb__be64(k, db->ckpt_seq + 1);
    int rc = 0, done = 0;
    /* Nothing to do (the common case after a clean close)? */
    MDB_txn *peek;
    if ((rc = tsdb__rtxn_begin(db, &peek)) == 0) {
        MDB_cursor *pc;
        if ((rc = mdb_cursor_open(peek, db->dbi_wal, &pc)) == 0) {
            MDB_val key = {8, k}, val;
            int r = mdb_cursor_get(pc, &key, &val, MDB_SET_RANGE);
            if (r == MDB_NOTFOUND)
                done = 1;
            else if (r)
                rc = r;
            mdb_cursor_close(pc);
        }
        tsdb__rtxn_end(db, peek);
    }
    /*
     * Replay in bounded transactions (by compressed bytes) so that the map
     * can be grown between them: a transaction that changed the head must
     * not fail for want of map space.
     */
    while (!done && rc == 0) {
        MDB_txn *txn;
        /* Read-only opens replay into memory only (the head never seals then). */
        if (db->opt.read_only)
            rc = tsdb__rtxn_begin(db, &txn);
        else
            rc = tsdb__wtxn_begin(db, 32u << 20, &txn);
        if (rc)
            break;
        c.txn = txn;
        MDB_cursor *cur;
        rc = mdb_cursor_open(txn, db->dbi_wal, &cur);
        if (rc) {
            mdb_txn_abort(txn);
            break;
        }
        MDB_val key = {8, k}, val;
        int r = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        size_t in_txn = 0, txn_bytes = 0;
        while (r == 0 && in_txn < 4096 && txn_bytes < (1u << 20)) {
            if (key.mv_size != 8) {
                rc = PL_ERR_CORRUPT;
                break;
            }
            uint64_t seq = tsdb__rd_be64(key.mv_data);
            int dr = tsdb__wal_decode(val.mv_data, val.mv_size, replay_sample, &c);
            if (dr == PL_ERR_CORRUPT) {
                /* A record LMDB committed is whole; a corrupt one is skipped, loudly. */
                corrupt++;
            } else if (dr) {
                rc = dr;
                break;
            }
            records++;
            bytes += val.mv_size;
            txn_bytes += val.mv_size;
            db->wal_seq = seq;
            tsdb__be64(k, seq + 1);
            in_txn++;
            r = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (rc == 0 && r != 0 && r != MDB_NOTFOUND)
            rc = r;
        if (r == MDB_NOTFOUND)
            done = 1;
        if (db->opt.read_only)
            tsdb__rtxn_end(db, txn);
        else if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        release_sealing(&c);
    }
    free(c.sealed);
    pl_buf_fini(&c.scratch);
    if (rc)
        return tsdb__mdb_err(err, rc, "replaying the WAL");
    if (corrupt) {
        char n[32];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)corrupt);
        pl_log(PL_LOG_WARN, "tsdb", "skipped corrupt WAL records", "records", n, NULL);
    }
    db->wal_bytes_since_ckpt = bytes;
    if (records) {
        char r1[32], r2[32];
        snprintf(r1, sizeof(r1), "%llu", (unsigned long long)records);
        snprintf(r2, sizeof(r2), "%llu", (unsigned long long)c.samples);
        pl_log(PL_LOG_INFO, "tsdb", "WAL replayed", "records", r1, "samples", r2, NULL);
    }
    return 0;
}
