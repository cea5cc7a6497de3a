/*
 * scrape_cache.c - the per-target series cache (see scrape_cache.h).
 */
#include "collector/scrape_cache.h"

#include <string.h>

#include "common/hash.h"
#include "common/mem.h"

void coll_scache_init(struct coll_scache *c)
{
    memset(c, 0, sizeof(*c));
}

void coll_scache_fini(struct coll_scache *c)
{
    free(c->v);
    free(c->keys);
    free(c->idx);
    free(c->order);
    memset(c, 0, sizeof(*c));
}

void coll_scache_begin(struct coll_scache *c)
{
    c->cursor = 0;
    c->norder = 0;
    c->disorder = 0;
}

static void order_push(struct coll_scache *c, uint32_t i)
{
    if (c->norder == c->ordcap) {
        c->ordcap = c->ordcap ? c->ordcap * 2 : 64;
        c->order = pl_xreallocarray(c->order, c->ordcap, sizeof(*c->order));
    }
    c->order[c->norder++] = i;
}

static void idx_place(uint32_t *idx, uint32_t icap, uint64_t h, uint32_t i)
{
    uint32_t j = (uint32_t)h & (icap - 1);
    while (idx[j])
        j = (j + 1) & (icap - 1);
    idx[j] = i + 1;
}

/* Rebuilds the index for the entries at a load factor of at most 1/2. */
static void idx_rebuild(struct coll_scache *c, uint32_t want)
{
    uint32_t icap = 64;
    while (icap < 2 * want)
        icap *= 2;
    if (icap != c->icap) {
        free(c->idx);
        c->idx = pl_xmalloc((size_t)icap * sizeof(*c->idx));
        c->icap = icap;
    }
    memset(c->idx, 0, (size_t)icap * sizeof(*c->idx));
    for (uint32_t i = 0; i < c->n; i++)
        idx_place(c->idx, c->icap, c->v[i].hash, i);
}

uint32_t coll_scache_take(struct coll_scache *c)
{
    uint32_t i = c->cursor++;
    order_push(c, i);
    return i;
}

int64_t coll_scache_find(struct coll_scache *c, const char *key, size_t n)
{
    if (c->cursor < c->n) {
        const struct coll_scache_ent *e = &c->v[c->cursor];
        if (e->klen == n && memcmp(c->keys + e->off, key, n) == 0) {
            uint32_t i = c->cursor++;
            order_push(c, i);
            return i;
        }
    }
    if (!c->icap)
        return -1;
    uint64_t h = pl_hash64(key, n, 0);
    for (uint32_t j = (uint32_t)h & (c->icap - 1);; j = (j + 1) & (c->icap - 1)) {
        uint32_t s = c->idx[j];
        if (!s)
            return -1;
        const struct coll_scache_ent *e = &c->v[s - 1];
        if (e->hash == h && e->klen == n && memcmp(c->keys + e->off, key, n) == 0) {
            c->disorder = 1;
            c->cursor = s;
            order_push(c, s - 1);
            return s - 1;
        }
    }
}

uint32_t coll_scache_insert(struct coll_scache *c, const char *key, size_t n)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->v = pl_xreallocarray(c->v, c->cap, sizeof(*c->v));
    }
    if (c->klen + n > c->kcap) {
        size_t k = c->kcap ? c->kcap * 2 : 4096;
        while (k < c->klen + n)
            k *= 2;
        c->keys = pl_xrealloc(c->keys, k);
        c->kcap = k;
    }
    uint32_t i = c->n++;
    struct coll_scache_ent *e = &c->v[i];
    memset(e, 0, sizeof(*e));
    e->off = (uint32_t)c->klen;
    e->klen = (uint32_t)n;
    e->hash = pl_hash64(key, n, 0);
    e->multiline = memchr(key, '\n', n) != NULL;
    memcpy(c->keys + c->klen, key, n);
    c->klen += n;
    if (2 * c->n > c->icap)
        idx_rebuild(c, c->n);
    else
        idx_place(c->idx, c->icap, e->hash, i);
    /* New entries go last; the next key is looked up by hash and puts the cursor back. */
    c->cursor = c->n;
    c->disorder = 1;
    order_push(c, i);
    return i;
}

void coll_scache_filter(struct coll_scache *c,
                        int (*keep)(const struct coll_scache_ent *e, uint32_t arg), uint32_t arg)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < c->n; i++)
        kept += keep(&c->v[i], arg) != 0;
    if (kept == c->n && !c->disorder)
        return;
    struct coll_scache_ent *nv = kept ? pl_xmalloc((size_t)kept * sizeof(*nv)) : NULL;
    size_t nk = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (keep(&c->v[i], arg))
            nk += c->v[i].klen;
    char *keys = nk ? pl_xmalloc(nk) : NULL;
    uint32_t m = 0;
    size_t ko = 0;
    /*
     * The entries in the order the walk found them, then the rest; an entry
     * found twice (a series listed twice in one page) is taken once.
     */
    uint8_t *taken = pl_xcalloc(c->n ? c->n : 1, 1);
    for (int pass = 0; pass < 2; pass++) {
        uint32_t cnt = pass == 0 ? c->norder : c->n;
        for (uint32_t k = 0; k < cnt; k++) {
            uint32_t i = pass == 0 ? c->order[k] : k;
            if (i >= c->n || taken[i] || !keep(&c->v[i], arg))
                continue;
            taken[i] = 1;
            nv[m] = c->v[i];
            nv[m].off = (uint32_t)ko;
            memcpy(keys + ko, c->keys + c->v[i].off, c->v[i].klen);
            ko += c->v[i].klen;
            m++;
        }
    }
    free(taken);
    free(c->v);
    free(c->keys);
    c->v = nv;
    c->n = c->cap = kept;
    c->keys = keys;
    c->klen = c->kcap = nk;
    idx_rebuild(c, kept);
    coll_scache_begin(c);
}
