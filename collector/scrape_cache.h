/*
 * scrape_cache.h - the per-target series cache of the scrape loop.
 *
 * Maps each series as written in a target's exposition (the raw
 * `name{labels}` text) to its tsdb reference, as Prometheus's scrapeCache
 * does, so a steady scrape builds no labels. A page usually lists the same
 * series in the same order as the previous one, so lookups first compare
 * the key with the entry after the last one found (a cursor walk in
 * exposition order: one memcmp over memory read in sequence, no hashing);
 * only a key that differs is hashed and looked up in an index.
 *
 * Entries are 32 bytes in one array, in the order of the last page; their
 * keys are packed in one buffer. Nothing is allocated per lookup; an insert
 * allocates only when an array grows. Entry indexes (not pointers) stay
 * valid until coll_scache_filter.
 */
#ifndef COLLECTOR_SCRAPE_CACHE_H
#define COLLECTOR_SCRAPE_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct coll_scache_ent {
    uint64_t ref;           /* tsdb reference; 0 until a sample of it was appended */
    uint32_t off;           /* key offset in coll_scache.keys */
    uint32_t klen : 29;     /* key length */
    uint32_t dropped : 1;   /* metric_relabel_configs dropped the series */
    uint32_t added : 1;     /* counted in scrape_series_added by a rejected scrape (ref still 0) */
    uint32_t multiline : 1; /* the key spans lines (a lenient label value with a newline) */
    uint32_t seen;          /* scrape iteration that last saw it */
    uint32_t last_ok;       /* last successful iteration that saw it */
    uint64_t hash;          /* of the key, for the index */
};

_Static_assert(sizeof(struct coll_scache_ent) == 32, "cache entries are 32 bytes");

/* Longest key the cache holds (klen's width); the scraper rejects longer series text. */
#define COLL_SCACHE_MAX_KEY ((1u << 29) - 1)

struct coll_scache {
    struct coll_scache_ent *v; /* entries, in the order of the last walk after a filter */
    uint32_t n, cap;
    char *keys; /* packed keys */
    size_t klen, kcap;
    uint32_t *idx; /* open addressing: entry index + 1, 0 empty; capacity a power of two */
    uint32_t icap;
    uint32_t cursor; /* the entry expected next */
    /* Entry indexes in the order this walk found them, to restore page order. */
    uint32_t *order;
    uint32_t norder, ordcap;
    int disorder; /* this walk missed the cursor at least once */
};

void coll_scache_init(struct coll_scache *c);
void coll_scache_fini(struct coll_scache *c);

/* Starts a walk over a new page: the cursor goes back to the first entry. */
void coll_scache_begin(struct coll_scache *c);

/* The index of the entry of key[0..n), or -1 when absent. */
int64_t coll_scache_find(struct coll_scache *c, const char *key, size_t n);

/*
 * The entry at the cursor (c->cursor < c->n), taken as coll_scache_find
 * would take it, for a caller that knows its key matches (the parser
 * matched it as the expected text): no comparison.
 */
uint32_t coll_scache_take(struct coll_scache *c);
/* Adds key[0..n) (absent: the caller looked it up); returns its index. Fields zeroed. */
uint32_t coll_scache_insert(struct coll_scache *c, const char *key, size_t n);

/* The key of entry i (borrowed until the cache changes). */
static inline const char *coll_scache_key(const struct coll_scache *c, uint32_t i)
{
    return c->keys + c->v[i].off;
}

/*
 * Keeps the entries for which keep() is true. When the last walk found
 * entries out of the stored order, the kept entries are put in the order it
 * found them (entries it did not reach follow), so the next walk over the
 * same page follows the cursor again. Indexes change.
 */
void coll_scache_filter(struct coll_scache *c,
                        int (*keep)(const struct coll_scache_ent *e, uint32_t arg), uint32_t arg);

#endif
