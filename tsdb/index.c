/*
 * index.c - the series index in LMDB: label set <-> series id, and postings
 * (sorted series ids per label pair, delta/varint coded, split into pages),
 * as in the inverted index of Prometheus's TSDB. Formats: tsdb_int.h.
 */
#include "tsdb/tsdb_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/intern.h"
#include "common/mem.h"

size_t tsdb__vint_put(uint8_t *p, uint64_t v)
{
    size_t i = 0;
    while (v >= 0x80) {
        p[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (uint8_t)v;
    return i;
}

size_t tsdb__vint_get(const uint8_t *p, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        uint8_t b = p[i];
        if (i == 9 && b > 1)
            return 0;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

int tsdb__labels_encode(const struct pl_labels *ls, struct pl_buf *out)
{
    uint8_t tmp[10];
    int rc = pl_buf_append(out, tmp, tsdb__vint_put(tmp, ls->n));
    for (uint32_t i = 0; i < ls->n && rc == 0; i++) {
        const struct pl_label *l = &ls->v[i];
        rc = pl_buf_append(out, tmp, tsdb__vint_put(tmp, l->name_len));
        if (rc == 0)
            rc = pl_buf_append(out, l->name, l->name_len);
        if (rc == 0)
            rc = pl_buf_append(out, tmp, tsdb__vint_put(tmp, l->value_len));
        if (rc == 0)
            rc = pl_buf_append(out, l->value, l->value_len);
    }
    return rc;
}

int tsdb__labels_decode(const uint8_t *p, size_t n, uint64_t hash, struct pl_labels **out)
{
    uint64_t cnt;
    size_t off = tsdb__vint_get(p, n, &cnt);
    if (!off || cnt > n)
        return PL_ERR_CORRUPT;
    /* Validate first so that the allocation below is sized by real data. */
    size_t pos = off, vbytes = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t len;
        for (int k = 0; k < 2; k++) {
            size_t m = tsdb__vint_get(p + pos, n - pos, &len);
            if (!m || len > n - pos - m)
                return PL_ERR_CORRUPT;
            pos += m + len;
            if (k == 1)
                vbytes += len + 1;
        }
    }
    if (pos != n)
        return PL_ERR_CORRUPT;
    /* Same layout as labels.c builds: one allocation, values after the array. */
    struct pl_labels *ls = pl_xmalloc(sizeof(*ls) + (size_t)cnt * sizeof(struct pl_label) + vbytes);
    char *vp = (char *)(ls->v + cnt);
    ls->n = (uint32_t)cnt;
    ls->hash = hash;
    pos = off;
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t len;
        pos += tsdb__vint_get(p + pos, n - pos, &len);
        ls->v[i].name = pl_intern((const char *)p + pos, (size_t)len);
        ls->v[i].name_len = (uint32_t)len;
        pos += len;
        pos += tsdb__vint_get(p + pos, n - pos, &len);
        memcpy(vp, p + pos, len);
        vp[len] = '\0';
        ls->v[i].value = vp;
        ls->v[i].value_len = (uint32_t)len;
        vp += len + 1;
        pos += len;
    }
    *out = ls;
    return 0;
}

int tsdb__series_read(struct tsdb *db, MDB_txn *txn, uint32_t id, struct pl_labels **ls,
                      int64_t *min_t)
{
    uint8_t k[4];
    tsdb__be32(k, id);
    MDB_val key = {4, k}, val;
    int rc = mdb_get(txn, db->dbi_series, &key, &val);
    if (rc)
        return rc;
    if (val.mv_size < 16)
        return PL_ERR_CORRUPT;
    const uint8_t *p = val.mv_data;
    if (min_t)
        *min_t = (int64_t)tsdb__rd_le64(p);
    if (ls)
        return tsdb__labels_decode(p + 16, val.mv_size - 16, tsdb__rd_le64(p + 8), ls);
    return 0;
}

int tsdb__series_find(struct tsdb *db, MDB_txn *txn, const struct pl_labels *ls, uint32_t *id)
{
    uint8_t k[12];
    tsdb__be64(k, ls->hash);
    tsdb__be32(k + 8, 0);
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, db->dbi_skey, &c);
    if (rc)
        return rc;
    MDB_val key = {12, k}, val;
    rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
    while (rc == 0) {
        if (key.mv_size != 12 || memcmp(key.mv_data, k, 8) != 0) {
            rc = MDB_NOTFOUND;
            break;
        }
        uint32_t cand = tsdb__rd_be32((const uint8_t *)key.mv_data + 8);
        struct pl_labels *other;
        int r2 = tsdb__series_read(db, txn, cand, &other, NULL);
        if (r2 == 0) {
            int eq = pl_labels_equal(other, ls);
            pl_labels_free(other);
            if (eq) {
                *id = cand;
                break;
            }
        } else if (r2 != MDB_NOTFOUND) {
            rc = r2;
            break;
        }
        rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc;
}

int tsdb__postings_prefix(struct pl_buf *buf, const char *name, size_t nlen, const char *value,
                          size_t vlen)
{
    pl_buf_reset(buf);
    int rc = pl_buf_append(buf, name, nlen);
    if (rc == 0)
        rc = pl_buf_putc(buf, 0);
    if (rc == 0)
        rc = pl_buf_append(buf, value, vlen);
    if (rc == 0)
        rc = pl_buf_putc(buf, 0);
    return rc;
}

/* Decodes a page into ids[] (room for TSDB_POSTINGS_PAGE). Returns the count or -1. */
static int page_decode(uint32_t first, const uint8_t *p, size_t n, uint32_t *ids)
{
    uint64_t cnt, d;
    size_t off = tsdb__vint_get(p, n, &cnt);
    if (!off || cnt < 1 || cnt > TSDB_POSTINGS_PAGE)
        return -1;
    ids[0] = first;
    uint64_t cur = first;
    for (uint64_t i = 1; i < cnt; i++) {
        size_t m = tsdb__vint_get(p + off, n - off, &d);
        if (!m || d == 0 || cur + d > UINT32_MAX)
            return -1;
        off += m;
        cur += d;
        ids[i] = (uint32_t)cur;
    }
    return (int)cnt;
}

/* Exposed to postings.c through this declaration. */
int tsdb__page_decode(uint32_t first, const uint8_t *p, size_t n, uint32_t *ids);
int tsdb__page_decode(uint32_t first, const uint8_t *p, size_t n, uint32_t *ids)
{
    return page_decode(first, p, n, ids);
}

/* Writes ids[0..n) (sorted, n >= 1) as pages under prefix, at most PAGE ids each. */
static int pages_put(MDB_txn *txn, MDB_dbi dbi, struct pl_buf *kb, size_t plen, const uint32_t *ids,
                     size_t n)
{
    uint8_t val[10 * TSDB_POSTINGS_PAGE + 10];
    /* Split evenly so that a full page followed by appends stays half full. */
    size_t npages = (n + TSDB_POSTINGS_PAGE - 1) / TSDB_POSTINGS_PAGE;
    size_t per = (n + npages - 1) / npages;
    for (size_t s = 0; s < n; s += per) {
        size_t m = n - s < per ? n - s : per;
        size_t off = tsdb__vint_put(val, m);
        for (size_t i = 1; i < m; i++)
            off += tsdb__vint_put(val + off, ids[s + i] - ids[s + i - 1]);
        kb->len = plen;
        uint8_t k4[4];
        tsdb__be32(k4, ids[s]);
        int rc = pl_buf_append(kb, k4, 4);
        if (rc)
            return rc;
        MDB_val key = {kb->len, kb->data}, v = {off, val};
        rc = mdb_put(txn, dbi, &key, &v, 0);
        if (rc)
            return rc;
    }
    return 0;
}

/*
 * Inserts sorted ids[0..n) into the postings list with key prefix kb[0..plen).
 * Ids are merged page by page: the common case (all new ids beyond the last
 * page) touches only the last page.
 */
static int postings_insert(MDB_txn *txn, MDB_dbi dbi, struct pl_buf *kb, size_t plen,
                           const uint32_t *ids, size_t n)
{
    uint32_t *merged = pl_xmalloc((TSDB_POSTINGS_PAGE + n) * sizeof(uint32_t));
    uint32_t page[TSDB_POSTINGS_PAGE];
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    size_t i = 0;
    while (rc == 0 && i < n) {
        /* Find the page whose first id <= ids[i], else the first page after. */
        kb->len = plen;
        uint8_t k4[4];
        tsdb__be32(k4, ids[i]);
        if ((rc = pl_buf_append(kb, k4, 4)))
            break;
        MDB_val key = {kb->len, kb->data}, val;
        int have = 0;
        uint32_t first = 0;
        int r = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
        if (r == 0 && key.mv_size == plen + 4 && memcmp(key.mv_data, kb->data, plen) == 0 &&
            tsdb__rd_be32((uint8_t *)key.mv_data + plen) == ids[i]) {
            have = 1;
        } else {
            int r2 = (r == 0) ? mdb_cursor_get(c, &key, &val, MDB_PREV)
                              : mdb_cursor_get(c, &key, &val, MDB_LAST);
            if (r2 == 0 && key.mv_size == plen + 4 && memcmp(key.mv_data, kb->data, plen) == 0) {
                have = 1;
            } else if (r == 0) {
                /* No page before ids[i]: merge into the first page after, if ours. */
                kb->len = plen;
                key.mv_size = plen + 4;
                key.mv_data = kb->data;
                tsdb__be32(k4, ids[i]);
                pl_buf_append(kb, k4, 4);
                r = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
                if (r == 0 && key.mv_size == plen + 4 && memcmp(key.mv_data, kb->data, plen) == 0)
                    have = 1;
            } else if (r != MDB_NOTFOUND) {
                rc = r;
                break;
            } else if (r2 != 0 && r2 != MDB_NOTFOUND) {
                rc = r2;
                break;
            }
        }
        int pn = 0;
        uint32_t next_first = UINT32_MAX; /* ids >= this belong to a later page */
        if (have) {
            first = tsdb__rd_be32((uint8_t *)key.mv_data + plen);
            pn = page_decode(first, val.mv_data, val.mv_size, page);
            if (pn < 0) {
                rc = PL_ERR_CORRUPT;
                break;
            }
            MDB_val nk, nv;
            int r3 = mdb_cursor_get(c, &nk, &nv, MDB_NEXT);
            if (r3 == 0 && nk.mv_size == plen + 4 && memcmp(nk.mv_data, kb->data, plen) == 0)
                next_first = tsdb__rd_be32((uint8_t *)nk.mv_data + plen);
            else if (r3 != 0 && r3 != MDB_NOTFOUND) {
                rc = r3;
                break;
            }
            /* Delete the old page: its key may change if ids[i] < first. */
            kb->len = plen;
            tsdb__be32(k4, first);
            pl_buf_append(kb, k4, 4);
            MDB_val dk = {kb->len, kb->data};
            if ((rc = mdb_del(txn, dbi, &dk, NULL)))
                break;
        }
        /* Merge the page with the run of new ids below next_first. */
        size_t j = i;
        while (j < n && ids[j] < next_first)
            j++;
        size_t a = 0, b = i, m = 0;
        while (a < (size_t)pn || b < j) {
            uint32_t x;
            if (b >= j || (a < (size_t)pn && page[a] <= ids[b])) {
                x = page[a++];
                if (b < j && ids[b] == x)
                    b++;
            } else {
                x = ids[b++];
            }
            if (m == 0 || merged[m - 1] != x)
                merged[m++] = x;
        }
        rc = pages_put(txn, dbi, kb, plen, merged, m);
        i = j;
    }
    mdb_cursor_close(c);
    free(merged);
    return rc;
}

struct pair_ref {
    const struct pl_label *l; /* NULL name/value for the all-series pair */
    uint32_t id;
};

static int pair_cmp(const void *a, const void *b)
{
    const struct pair_ref *x = a, *y = b;
    const char *xn = x->l ? x->l->name : "", *yn = y->l ? y->l->name : "";
    const char *xv = x->l ? x->l->value : "", *yv = y->l ? y->l->value : "";
    int c = strcmp(xn, yn);
    if (!c)
        c = strcmp(xv, yv);
    if (!c)
        c = x->id < y->id ? -1 : x->id > y->id;
    return c;
}

int tsdb__index_add(struct tsdb *db, MDB_txn *txn, struct tsdb__series *const *ss, size_t n)
{
    if (n == 0)
        return 0;
    struct pl_buf b;
    pl_buf_init(&b, TSDB_MAX_LABELS_SIZE * 2);
    /* The head keeps labels encoded; postings need them decoded. */
    struct pl_labels **lss = pl_xcalloc(n, sizeof(*lss));
    size_t npairs = n;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = tsdb__series_labels(db, ss[i], &lss[i]);
        if (rc == 0)
            npairs += lss[i]->n;
    }
    struct pair_ref *pr = pl_xmalloc(npairs * sizeof(*pr));
    size_t np = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct tsdb__series *s = ss[i];
        uint8_t k[12], hdr[16];
        tsdb__be32(k, s->id);
        tsdb__le64(hdr, (uint64_t)s->min_t);
        tsdb__le64(hdr + 8, s->hash);
        pl_buf_reset(&b);
        rc = pl_buf_append(&b, hdr, 16);
        if (rc == 0)
            rc = tsdb__labels_encode(lss[i], &b);
        if (rc)
            break;
        MDB_val key = {4, k}, val = {b.len, b.data};
        if ((rc = mdb_put(txn, db->dbi_series, &key, &val, 0)))
            break;
        tsdb__be64(k, s->hash);
        tsdb__be32(k + 8, s->id);
        key.mv_size = 12;
        val.mv_size = 0;
        val.mv_data = "";
        if ((rc = mdb_put(txn, db->dbi_skey, &key, &val, 0)))
            break;
        pr[np].l = NULL;
        pr[np++].id = s->id;
        for (uint32_t j = 0; j < lss[i]->n; j++) {
            pr[np].l = &lss[i]->v[j];
            pr[np++].id = s->id;
        }
    }
    if (rc == 0)
        qsort(pr, np, sizeof(*pr), pair_cmp);
    uint32_t *ids = pl_xmalloc((np ? np : 1) * sizeof(uint32_t));
    for (size_t i = 0; i < np && rc == 0;) {
        size_t j = i, m = 0;
        while (j < np &&
               (j == i || ((pr[j].l == NULL) == (pr[i].l == NULL) &&
                           (pr[i].l == NULL || (pr[j].l->name == pr[i].l->name &&
                                                strcmp(pr[j].l->value, pr[i].l->value) == 0))))) {
            if (m == 0 || ids[m - 1] != pr[j].id)
                ids[m++] = pr[j].id;
            j++;
        }
        if (pr[i].l)
            rc = tsdb__postings_prefix(&b, pr[i].l->name, pr[i].l->name_len, pr[i].l->value,
                                       pr[i].l->value_len);
        else
            rc = tsdb__postings_prefix(&b, "", 0, "", 0);
        if (rc == 0)
            rc = postings_insert(txn, db->dbi_post, &b, b.len, ids, m);
        i = j;
    }
    free(ids);
    free(pr);
    for (size_t i = 0; i < n; i++)
        pl_labels_free(lss[i]);
    free(lss);
    pl_buf_fini(&b);
    return rc;
}

/* Removes id from the postings list with prefix kb[0..plen). */
static int postings_remove(MDB_txn *txn, MDB_dbi dbi, struct pl_buf *kb, size_t plen, uint32_t id)
{
    uint32_t page[TSDB_POSTINGS_PAGE];
    uint8_t k4[4];
    kb->len = plen;
    tsdb__be32(k4, id);
    int rc = pl_buf_append(kb, k4, 4);
    if (rc)
        return rc;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(txn, dbi, &c)))
        return rc;
    MDB_val key = {kb->len, kb->data}, val;
    rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
    if (!(rc == 0 && key.mv_size == plen + 4 && memcmp(key.mv_data, kb->data, plen) == 0 &&
          tsdb__rd_be32((uint8_t *)key.mv_data + plen) == id)) {
        rc = rc == 0 ? mdb_cursor_get(c, &key, &val, MDB_PREV)
                     : mdb_cursor_get(c, &key, &val, MDB_LAST);
        if (rc == 0 && !(key.mv_size == plen + 4 && memcmp(key.mv_data, kb->data, plen) == 0))
            rc = MDB_NOTFOUND;
    }
    if (rc == 0) {
        uint32_t first = tsdb__rd_be32((uint8_t *)key.mv_data + plen);
        int pn = page_decode(first, val.mv_data, val.mv_size, page);
        if (pn < 0) {
            rc = PL_ERR_CORRUPT;
        } else {
            int w = 0;
            for (int i = 0; i < pn; i++)
                if (page[i] != id)
                    page[w++] = page[i];
            if (w != pn) {
                rc = mdb_cursor_del(c, 0);
                if (rc == 0 && w > 0)
                    rc = pages_put(txn, dbi, kb, plen, page, (size_t)w);
            }
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int tsdb__index_remove(struct tsdb *db, MDB_txn *txn, uint32_t id, const struct pl_labels *ls)
{
    uint8_t k[12];
    tsdb__be32(k, id);
    MDB_val key = {4, k};
    int rc = mdb_del(txn, db->dbi_series, &key, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    tsdb__be64(k, ls->hash);
    tsdb__be32(k + 8, id);
    key.mv_size = 12;
    rc = mdb_del(txn, db->dbi_skey, &key, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    struct pl_buf b;
    pl_buf_init(&b, TSDB_MAX_LABELS_SIZE * 2);
    rc = tsdb__postings_prefix(&b, "", 0, "", 0);
    if (rc == 0)
        rc = postings_remove(txn, db->dbi_post, &b, b.len, id);
    for (uint32_t i = 0; i < ls->n && rc == 0; i++) {
        rc = tsdb__postings_prefix(&b, ls->v[i].name, ls->v[i].name_len, ls->v[i].value,
                                   ls->v[i].value_len);
        if (rc == 0)
            rc = postings_remove(txn, db->dbi_post, &b, b.len, id);
    }
    pl_buf_fini(&b);
    return rc;
}
