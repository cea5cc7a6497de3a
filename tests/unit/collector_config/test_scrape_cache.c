/* test_scrape_cache.c - the per-target series cache (collector/scrape_cache.h). */
#include "tests.h"

#include "collector/scrape_cache.h"

static const char *key(int i, char *buf, size_t n)
{
    snprintf(buf, n, "metric_%d{instance=\"host-%d\",le=\"%d\"}", i % 7, i, i * 3);
    return buf;
}

static void fill(struct coll_scache *c, int n)
{
    char b[128];
    coll_scache_begin(c);
    for (int i = 0; i < n; i++) {
        key(i, b, sizeof(b));
        assert_int_equal(coll_scache_find(c, b, strlen(b)), -1);
        assert_int_equal(coll_scache_insert(c, b, strlen(b)), (uint32_t)i);
    }
}

static int keep_all(const struct coll_scache_ent *e, uint32_t arg)
{
    (void)e;
    (void)arg;
    return 1;
}

static int keep_seen(const struct coll_scache_ent *e, uint32_t arg)
{
    return e->seen == arg;
}

/* A page in the stored order is found by the cursor alone: no miss, nothing to reorder. */
static void test_scache_walk_in_order(void **state)
{
    (void)state;
    struct coll_scache c;
    coll_scache_init(&c);
    fill(&c, 3000);
    coll_scache_filter(&c, keep_all, 0);
    const struct coll_scache_ent *v = c.v;
    const char *keys = c.keys;
    char b[128];
    for (int round = 0; round < 3; round++) {
        coll_scache_begin(&c);
        for (int i = 0; i < 3000; i++) {
            key(i, b, sizeof(b));
            int64_t ci = coll_scache_find(&c, b, strlen(b));
            assert_int_equal(ci, i);
            assert_memory_equal(coll_scache_key(&c, (uint32_t)ci), b, strlen(b));
            assert_int_equal(c.v[ci].klen, strlen(b));
        }
        assert_int_equal(c.disorder, 0);
        coll_scache_filter(&c, keep_all, 0);
        /* An unchanged page leaves the arrays as they were. */
        assert_ptr_equal(c.v, v);
        assert_ptr_equal(c.keys, keys);
    }
    b[0] = 'x';
    assert_int_equal(coll_scache_find(&c, b, strlen(b)), -1);
    assert_int_equal(coll_scache_find(&c, "", 0), -1);
    coll_scache_fini(&c);
}

/* Another order is found through the index; a filter restores the walk's order. */
static void test_scache_reorders_to_the_last_walk(void **state)
{
    (void)state;
    struct coll_scache c;
    coll_scache_init(&c);
    fill(&c, 500);
    coll_scache_filter(&c, keep_all, 0);
    char b[128];
    /* Reversed page, with entries' seen marks set as the scrape loop does. */
    coll_scache_begin(&c);
    for (int i = 499; i >= 0; i--) {
        key(i, b, sizeof(b));
        int64_t ci = coll_scache_find(&c, b, strlen(b));
        assert_true(ci >= 0);
        c.v[ci].seen = 7;
        c.v[ci].ref = (uint64_t)i + 100;
    }
    assert_int_equal(c.disorder, 1);
    coll_scache_filter(&c, keep_all, 0);
    coll_scache_begin(&c);
    for (int i = 499; i >= 0; i--) {
        key(i, b, sizeof(b));
        int64_t ci = coll_scache_find(&c, b, strlen(b));
        assert_int_equal(ci, 499 - i);
        assert_int_equal(c.v[ci].ref, (uint64_t)i + 100);
    }
    assert_int_equal(c.disorder, 0);
    coll_scache_fini(&c);
}

/* Entries the walk did not see go; the rest keep their keys and fields. */
static void test_scache_filter_drops_unseen(void **state)
{
    (void)state;
    struct coll_scache c;
    coll_scache_init(&c);
    fill(&c, 1000);
    char b[128];
    coll_scache_begin(&c);
    for (int i = 0; i < 1000; i += 3) {
        key(i, b, sizeof(b));
        int64_t ci = coll_scache_find(&c, b, strlen(b));
        assert_true(ci >= 0);
        c.v[ci].seen = 2;
        c.v[ci].ref = (uint64_t)i + 1;
        c.v[ci].dropped = i % 2;
    }
    /* A series listed twice in one page stays one entry. */
    key(3, b, sizeof(b));
    assert_true(coll_scache_find(&c, b, strlen(b)) >= 0);
    coll_scache_filter(&c, keep_seen, 2);
    assert_int_equal(c.n, 334);
    for (int i = 0; i < 1000; i++) {
        key(i, b, sizeof(b));
        coll_scache_begin(&c);
        int64_t ci = coll_scache_find(&c, b, strlen(b));
        if (i % 3) {
            assert_int_equal(ci, -1);
            continue;
        }
        assert_true(ci >= 0);
        assert_int_equal(c.v[ci].ref, (uint64_t)i + 1);
        assert_int_equal(c.v[ci].dropped, (unsigned)(i % 2));
        assert_memory_equal(coll_scache_key(&c, (uint32_t)ci), b, strlen(b));
    }
    /* New series after a filter are found, old ones still are. */
    coll_scache_begin(&c);
    uint32_t ni = coll_scache_insert(&c, "new_one", 7);
    assert_int_equal(coll_scache_find(&c, "new_one", 7), ni);
    key(999, b, sizeof(b));
    assert_true(coll_scache_find(&c, b, strlen(b)) >= 0);
    coll_scache_filter(&c, keep_seen, 12345);
    assert_int_equal(c.n, 0);
    assert_int_equal(coll_scache_find(&c, b, strlen(b)), -1);
    coll_scache_fini(&c);
}

int test_scrape_cache_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scache_walk_in_order),
        cmocka_unit_test(test_scache_reorders_to_the_last_walk),
        cmocka_unit_test(test_scache_filter_drops_unseen),
    };
    return cmocka_run_group_tests_name("scrape_cache", tests, NULL, NULL);
}
