/*
 * postings.c - lazy iterators over postings lists and their set operations
 * (intersection by leapfrogging seeks, subtraction, union), and the selection
 * of series by label matchers with Prometheus semantics (PostingsForMatchers:
 * a matcher that accepts "" also selects series lacking the label, so it is
 * applied by subtracting the postings of the values it rejects).
 */
#include "tsdb/tsdb_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

int tsdb__page_decode(uint32_t first, const uint8_t *p, size_t n, uint32_t *ids);

void tsdb__pit_free(struct tsdb__pit *it)
{
    if (it)
        it->ops->free(it);
}

/* ---- one label pair's list, paged in LMDB ---- */

struct pit_list {
    struct tsdb__pit base;
    MDB_cursor *c;
    uint8_t *prefix;
    size_t plen;
    uint32_t page[TSDB_POSTINGS_PAGE];
    int n, i;
    int done, err;
};

/* Loads the page at the cursor position if it belongs to the prefix. */
static int list_load(struct pit_list *l, int rc, MDB_val *key, MDB_val *val)
{
    if (rc == MDB_NOTFOUND || (rc == 0 && !(key->mv_size == l->plen + 4 &&
                                            memcmp(key->mv_data, l->prefix, l->plen) == 0))) {
        l->done = 1;
        return 0;
    }
    if (rc)
        return l->err = rc;
    int n = tsdb__page_decode(tsdb__rd_be32((uint8_t *)key->mv_data + l->plen), val->mv_data,
                              val->mv_size, l->page);
    if (n < 0)
        return l->err = PL_ERR_CORRUPT;
    l->n = n;
    l->i = -1;
    return 1;
}

static int list_next(struct tsdb__pit *it, uint32_t *id)
{
    struct pit_list *l = (struct pit_list *)it;
    if (l->err)
        return l->err;
    if (l->done)
        return 0;
    if (l->i + 1 >= l->n) {
        MDB_val key, val;
        int rc = list_load(l, mdb_cursor_get(l->c, &key, &val, l->n ? MDB_NEXT : MDB_SET_RANGE),
                           &key, &val);
        if (rc <= 0)
            return rc;
    }
    l->i++;
    *id = l->page[l->i];
    return 1;
}

static int list_seek(struct tsdb__pit *it, uint32_t target, uint32_t *id)
{
    struct pit_list *l = (struct pit_list *)it;
    if (l->err)
        return l->err;
    if (l->done)
        return 0;
    if (l->i >= 0 && l->i < l->n && l->page[l->i] >= target) {
        *id = l->page[l->i];
        return 1;
    }
    if (l->n == 0 || l->page[l->n - 1] < target) {
        /* Jump to the page that may hold target: the last one starting <= target. */
        uint8_t *kb = l->prefix;
        tsdb__be32(kb + l->plen, target);
        MDB_val key = {l->plen + 4, kb}, val;
        int rc = mdb_cursor_get(l->c, &key, &val, MDB_SET_RANGE);
        int exact =
            rc == 0 && key.mv_size == l->plen + 4 && memcmp(key.mv_data, kb, l->plen + 4) == 0;
        if (!exact && (rc == 0 || rc == MDB_NOTFOUND)) {
            MDB_val pk, pv;
            int r2 = rc == 0 ? mdb_cursor_get(l->c, &pk, &pv, MDB_PREV)
                             : mdb_cursor_get(l->c, &pk, &pv, MDB_LAST);
            if (r2 == 0 && pk.mv_size == l->plen + 4 &&
                memcmp(pk.mv_data, l->prefix, l->plen) == 0) {
                key = pk;
                val = pv;
                rc = 0;
            } else if (r2 != 0 && r2 != MDB_NOTFOUND) {
                rc = r2;
            } else if (rc == 0) {
                /* No page of ours starts before target: take the one after, if ours. */
                key.mv_size = l->plen + 4;
                key.mv_data = kb;
                rc = mdb_cursor_get(l->c, &key, &val, MDB_SET_RANGE);
            }
        }
        int r = list_load(l, rc, &key, &val);
        if (r <= 0)
            return r;
        l->i = 0;
    }
    /* Advance within the page (and to the next pages if needed). */
    for (;;) {
        if (l->i < 0)
            l->i = 0;
        while (l->i < l->n && l->page[l->i] < target)
            l->i++;
        if (l->i < l->n) {
            *id = l->page[l->i];
            return 1;
        }
        MDB_val key, val;
        int r = list_load(l, mdb_cursor_get(l->c, &key, &val, MDB_NEXT), &key, &val);
        if (r <= 0)
            return r;
        l->i = 0;
    }
}

static void list_free(struct tsdb__pit *it)
{
    struct pit_list *l = (struct pit_list *)it;
    if (l->c)
        mdb_cursor_close(l->c);
    free(l->prefix);
    free(l);
}

static const struct tsdb__pit_ops list_ops = {list_next, list_seek, list_free};

struct tsdb__pit *tsdb__pit_list(MDB_txn *txn, MDB_dbi dbi, const char *name, size_t nlen,
                                 const char *value, size_t vlen)
{
    struct pit_list *l = pl_xcalloc(1, sizeof(*l));
    l->base.ops = &list_ops;
    l->plen = nlen + vlen + 2;
    l->prefix = pl_xmalloc(l->plen + 4);
    memcpy(l->prefix, name, nlen);
    l->prefix[nlen] = 0;
    memcpy(l->prefix + nlen + 1, value, vlen);
    l->prefix[nlen + 1 + vlen] = 0;
    memset(l->prefix + l->plen, 0, 4);
    int rc = mdb_cursor_open(txn, dbi, &l->c);
    if (rc) {
        l->err = rc;
        l->c = NULL;
        return &l->base;
    }
    /* Position lazily: the first next() does MDB_SET_RANGE on prefix+0. */
    MDB_val key = {l->plen + 4, l->prefix}, val;
    rc = mdb_cursor_get(l->c, &key, &val, MDB_SET_RANGE);
    int r = list_load(l, rc, &key, &val);
    if (r == 1) {
        l->i = -1;
    } else {
        l->n = 0;
    }
    return &l->base;
}

/* ---- sorted array ---- */

struct pit_array {
    struct tsdb__pit base;
    uint32_t *ids;
    size_t n, i;
};

static int array_next(struct tsdb__pit *it, uint32_t *id)
{
    struct pit_array *a = (struct pit_array *)it;
    if (a->i >= a->n)
        return 0;
    *id = a->ids[a->i++];
    return 1;
}

static int array_seek(struct tsdb__pit *it, uint32_t target, uint32_t *id)
{
    struct pit_array *a = (struct pit_array *)it;
    /* The current element is ids[i-1] after next(); seek may stay on it. */
    size_t lo = a->i ? a->i - 1 : 0, hi = a->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->ids[mid] < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= a->n) {
        a->i = a->n;
        return 0;
    }
    *id = a->ids[lo];
    a->i = lo + 1;
    return 1;
}

static void array_free(struct tsdb__pit *it)
{
    struct pit_array *a = (struct pit_array *)it;
    free(a->ids);
    free(a);
}

static const struct tsdb__pit_ops array_ops = {array_next, array_seek, array_free};

struct tsdb__pit *tsdb__pit_array(uint32_t *ids, size_t n)
{
    struct pit_array *a = pl_xcalloc(1, sizeof(*a));
    a->base.ops = &array_ops;
    a->ids = ids;
    a->n = n;
    return &a->base;
}

/* ---- intersection ---- */

struct pit_and {
    struct tsdb__pit base;
    struct tsdb__pit **its;
    size_t n;
    uint32_t cur;
    int started;
};

/* From candidate x (a value of its[0]), leapfrogs until all iterators agree. */
static int and_align(struct pit_and *a, uint32_t x, uint32_t *id)
{
    size_t agree = 1, i = 1 % a->n;
    while (agree < a->n) {
        uint32_t y;
        int rc = a->its[i]->ops->seek(a->its[i], x, &y);
        if (rc <= 0)
            return rc;
        if (y == x) {
            agree++;
        } else {
            x = y;
            agree = 1;
        }
        i = (i + 1) % a->n;
    }
    a->cur = x;
    *id = x;
    return 1;
}

static int and_next(struct tsdb__pit *it, uint32_t *id)
{
    struct pit_and *a = (struct pit_and *)it;
    uint32_t x;
    int rc = a->its[0]->ops->next(a->its[0], &x);
    if (rc <= 0)
        return rc;
    a->started = 1;
    return and_align(a, x, id);
}

static int and_seek(struct tsdb__pit *it, uint32_t target, uint32_t *id)
{
    struct pit_and *a = (struct pit_and *)it;
    if (a->started && a->cur >= target) {
        *id = a->cur;
        return 1;
    }
    uint32_t x;
    int rc = a->its[0]->ops->seek(a->its[0], target, &x);
    if (rc <= 0)
        return rc;
    a->started = 1;
    return and_align(a, x, id);
}

static void and_free(struct tsdb__pit *it)
{
    struct pit_and *a = (struct pit_and *)it;
    for (size_t i = 0; i < a->n; i++)
        tsdb__pit_free(a->its[i]);
    free(a->its);
    free(a);
}

static const struct tsdb__pit_ops and_ops = {and_next, and_seek, and_free};

struct tsdb__pit *tsdb__pit_and(struct tsdb__pit **its, size_t n)
{
    if (n == 1)
        return its[0];
    struct pit_and *a = pl_xcalloc(1, sizeof(*a));
    a->base.ops = &and_ops;
    a->its = pl_xmalloc(n * sizeof(*its));
    memcpy(a->its, its, n * sizeof(*its));
    a->n = n;
    return &a->base;
}

/* ---- subtraction ---- */

struct pit_sub {
    struct tsdb__pit base;
    struct tsdb__pit *a, *b;
    uint32_t bcur;
    int bstate; /* 0 not started, 1 has bcur, 2 exhausted */
    uint32_t cur;
    int started;
};

/* Whether x is in b (b only moves forward). */
static int sub_in_b(struct pit_sub *s, uint32_t x)
{
    if (s->bstate == 2)
        return 0;
    if (s->bstate == 1 && s->bcur >= x)
        return s->bcur == x;
    uint32_t y;
    int rc = s->b->ops->seek(s->b, x, &y);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        s->bstate = 2;
        return 0;
    }
    s->bstate = 1;
    s->bcur = y;
    return y == x;
}

static int sub_skip(struct pit_sub *s, int rc, uint32_t x, uint32_t *id)
{
    while (rc == 1) {
        int in = sub_in_b(s, x);
        if (in < 0)
            return in;
        if (!in) {
            s->cur = x;
            s->started = 1;
            *id = x;
            return 1;
        }
        rc = s->a->ops->next(s->a, &x);
    }
    return rc;
}

static int sub_next(struct tsdb__pit *it, uint32_t *id)
{
    struct pit_sub *s = (struct pit_sub *)it;
    uint32_t x = 0;
    int rc = s->a->ops->next(s->a, &x);
    return sub_skip(s, rc, x, id);
}

static int sub_seek(struct tsdb__pit *it, uint32_t target, uint32_t *id)
{
    struct pit_sub *s = (struct pit_sub *)it;
    if (s->started && s->cur >= target) {
        *id = s->cur;
        return 1;
    }
    uint32_t x = 0;
    int rc = s->a->ops->seek(s->a, target, &x);
    return sub_skip(s, rc, x, id);
}

static void sub_free(struct tsdb__pit *it)
{
    struct pit_sub *s = (struct pit_sub *)it;
    tsdb__pit_free(s->a);
    tsdb__pit_free(s->b);
    free(s);
}

static const struct tsdb__pit_ops sub_ops = {sub_next, sub_seek, sub_free};

struct tsdb__pit *tsdb__pit_sub(struct tsdb__pit *a, struct tsdb__pit *b)
{
    struct pit_sub *s = pl_xcalloc(1, sizeof(*s));
    s->base.ops = &sub_ops;
    s->a = a;
    s->b = b;
    return &s->base;
}

/* ---- union (materialised) ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int tsdb__pit_collect(struct tsdb__pit *it, uint32_t **ids, size_t *n)
{
    size_t cap = 64, m = 0;
    uint32_t *v = pl_xmalloc(cap * sizeof(*v));
    uint32_t x;
    int rc;
    while ((rc = it->ops->next(it, &x)) == 1) {
        if (m == cap) {
            cap *= 2;
            v = pl_xreallocarray(v, cap, sizeof(*v));
        }
        v[m++] = x;
    }
    tsdb__pit_free(it);
    if (rc < 0) {
        free(v);
        return rc;
    }
    *ids = v;
    *n = m;
    return 0;
}

struct tsdb__pit *tsdb__pit_or(struct tsdb__pit **its, size_t n)
{
    if (n == 1)
        return its[0];
    size_t cap = 256, m = 0;
    uint32_t *v = pl_xmalloc(cap * sizeof(*v));
    int err = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t x;
        int rc;
        while ((rc = its[i]->ops->next(its[i], &x)) == 1) {
            if (m == cap) {
                cap *= 2;
                v = pl_xreallocarray(v, cap, sizeof(*v));
            }
            v[m++] = x;
        }
        if (rc < 0)
            err = rc;
        tsdb__pit_free(its[i]);
    }
    if (err) {
        free(v);
        /* An iterator that reports the error on first use. */
        struct pit_list *l = pl_xcalloc(1, sizeof(*l));
        l->base.ops = &list_ops;
        l->err = err;
        return &l->base;
    }
    qsort(v, m, sizeof(*v), cmp_u32);
    size_t w = 0;
    for (size_t i = 0; i < m; i++)
        if (w == 0 || v[w - 1] != v[i])
            v[w++] = v[i];
    return tsdb__pit_array(v, w);
}

/* ---- matchers ---- */

/*
 * Union of the postings of the values of `name` for which the matcher's
 * verdict equals `want`. Walks the label's values in the postings db,
 * skipping over the pages of each value.
 */
static int values_union(MDB_txn *txn, MDB_dbi dbi, const struct tsdb_matcher *m, int want,
                        struct tsdb__pit **out)
{
    const char *name = tsdb_matcher_name(m);
    size_t nlen = strlen(name);
    size_t cap = 8, k = 0;
    struct tsdb__pit **its = pl_xmalloc(cap * sizeof(*its));
    struct pl_buf kb;
    pl_buf_init(&kb, TSDB_MAX_LABELS_SIZE * 2);
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc == 0) {
        pl_buf_append(&kb, name, nlen);
        pl_buf_putc(&kb, 0);
        MDB_val key = {kb.len, kb.data}, val;
        rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
        while (rc == 0) {
            const uint8_t *kp = key.mv_data;
            if (key.mv_size < nlen + 6 || memcmp(kp, name, nlen) != 0 || kp[nlen] != 0)
                break;
            const char *v = (const char *)kp + nlen + 1;
            size_t vlen = key.mv_size - nlen - 6;
            if (!!tsdb_matcher_matches(m, v, vlen) == want) {
                if (k == cap) {
                    cap *= 2;
                    its = pl_xreallocarray(its, cap, sizeof(*its));
                }
                its[k++] = tsdb__pit_list(txn, dbi, name, nlen, v, vlen);
            }
            /* Skip the remaining pages of this value. */
            pl_buf_reset(&kb);
            pl_buf_append(&kb, kp, nlen + 1 + vlen + 1);
            pl_buf_append(&kb, "\xff\xff\xff\xff\xff", 5);
            key.mv_size = kb.len;
            key.mv_data = kb.data;
            rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
        }
        mdb_cursor_close(c);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    pl_buf_fini(&kb);
    if (rc) {
        for (size_t i = 0; i < k; i++)
            tsdb__pit_free(its[i]);
        free(its);
        return rc;
    }
    if (k == 0)
        *out = tsdb__pit_array(NULL, 0);
    else
        *out = tsdb__pit_or(its, k);
    free(its);
    return 0;
}

int tsdb__postings_for_matchers(struct tsdb *db, MDB_txn *txn, struct tsdb_matcher *const *ms,
                                size_t n, struct tsdb__pit **out, struct pl_err *err)
{
    struct tsdb__pit **pos = pl_xmalloc((n + 1) * sizeof(*pos));
    struct tsdb__pit **neg = pl_xmalloc((n + 1) * sizeof(*neg));
    size_t np = 0, nn = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct tsdb_matcher *m = ms[i];
        const char *name = tsdb_matcher_name(m), *value = tsdb_matcher_value(m);
        enum tsdb_match_type ty = tsdb_matcher_type(m);
        struct tsdb__pit *it = NULL;
        if (!tsdb_matcher_matches_empty(m)) {
            if (ty == TSDB_MATCH_EQ)
                it = tsdb__pit_list(txn, db->dbi_post, name, strlen(name), value, strlen(value));
            else
                rc = values_union(txn, db->dbi_post, m, 1, &it);
            if (it)
                pos[np++] = it;
        } else {
            if (ty == TSDB_MATCH_NEQ)
                it = tsdb__pit_list(txn, db->dbi_post, name, strlen(name), value, strlen(value));
            else
                rc = values_union(txn, db->dbi_post, m, 0, &it);
            if (it)
                neg[nn++] = it;
        }
    }
    if (rc) {
        for (size_t i = 0; i < np; i++)
            tsdb__pit_free(pos[i]);
        for (size_t i = 0; i < nn; i++)
            tsdb__pit_free(neg[i]);
        free(pos);
        free(neg);
        return tsdb__mdb_err(err, rc, "reading postings");
    }
    if (np == 0)
        pos[np++] = tsdb__pit_list(txn, db->dbi_post, "", 0, "", 0);
    struct tsdb__pit *res = tsdb__pit_and(pos, np);
    if (nn > 0)
        res = tsdb__pit_sub(res, tsdb__pit_or(neg, nn));
    free(pos);
    free(neg);
    *out = res;
    return 0;
}
