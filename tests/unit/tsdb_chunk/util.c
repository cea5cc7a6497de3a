/* util.c - helpers shared by the chunk codec tests. */
#include "tests.h"

#include "common/err.h"
#include "tsdb/chunk.h"

uint64_t test_seed(void)
{
    const char *s = getenv("TEST_SEED");
    if (s && *s)
        return strtoull(s, NULL, 0) | 1;
    return 0x9e3779b97f4a7c15ull;
}

uint64_t test_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

uint64_t test_f2u(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
}

double test_u2f(uint64_t u)
{
    double v;
    memcpy(&v, &u, 8);
    return v;
}

void test_check_decodes(const uint8_t *p, size_t len, const int64_t *ts, const double *vs, size_t n)
{
    struct tsdb_chunk_dec d;
    assert_int_equal(tsdb_chunk_dec_init(&d, p, len), 0);
    assert_int_equal(tsdb_chunk_dec_count(&d), n);
    for (size_t i = 0; i < n; i++) {
        int64_t t;
        double v;
        int rc = tsdb_chunk_dec_next(&d, &t, &v);
        if (rc != 1 || t != ts[i] || test_f2u(v) != test_f2u(vs[i]))
            fail_msg("sample %zu of %zu: rc %d, got (%lld, %016llx) want (%lld, %016llx)", i, n, rc,
                     (long long)t, (unsigned long long)test_f2u(v), (long long)ts[i],
                     (unsigned long long)test_f2u(vs[i]));
    }
    int64_t t;
    double v;
    assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), 0);
    assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), 0);

    /* The batch decoder agrees, across batch boundaries and mixed with next. */
    int64_t bt[7];
    double bv[7];
    assert_int_equal(tsdb_chunk_dec_init(&d, p, len), 0);
    size_t i = 0;
    while (i < n) {
        if (i % 3 == 1) {
            assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), 1);
            assert_int_equal(t, ts[i]);
            assert_int_equal(test_f2u(v), test_f2u(vs[i]));
            i++;
            continue;
        }
        int k = tsdb_chunk_dec_batch(&d, bt, bv, 7);
        assert_true(k > 0 && (size_t)k <= n - i);
        for (int j = 0; j < k; j++, i++) {
            if (bt[j] != ts[i] || test_f2u(bv[j]) != test_f2u(vs[i]))
                fail_msg("batch sample %zu differs", i);
        }
    }
    assert_int_equal(tsdb_chunk_dec_batch(&d, bt, bv, 7), 0);

    /* Seek from a fresh decoder to several targets, then step on. */
    size_t step = n / 5 + 1;
    for (size_t j = 0; j <= n + 1; j += step) {
        int64_t target = j < n ? ts[j] + (int64_t)(j % 2 && ts[j] < INT64_MAX) : INT64_MIN;
        if (j == n + 1 && n > 0 && ts[n - 1] < INT64_MAX)
            target = ts[n - 1] + 1;
        size_t want = 0;
        while (want < n && ts[want] < target)
            want++;
        assert_int_equal(tsdb_chunk_dec_init(&d, p, len), 0);
        int rc = tsdb_chunk_dec_seek(&d, target, &t, &v);
        if (want == n) {
            assert_int_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, 1);
        assert_int_equal(t, ts[want]);
        assert_int_equal(test_f2u(v), test_f2u(vs[want]));
        rc = tsdb_chunk_dec_next(&d, &t, &v);
        if (want + 1 < n) {
            assert_int_equal(rc, 1);
            assert_int_equal(t, ts[want + 1]);
            assert_int_equal(test_f2u(v), test_f2u(vs[want + 1]));
        } else {
            assert_int_equal(rc, 0);
        }
    }
}

void test_check_truncations(const uint8_t *p, size_t len, const int64_t *ts, const double *vs,
                            size_t n)
{
    for (size_t cut = 0; cut < len; cut++) {
        /* A private copy, so ASan sees any read past the cut. */
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, p, cut);
        struct tsdb_chunk_dec d;
        int rc = tsdb_chunk_dec_init(&d, c, cut);
        if (rc < 0) {
            assert_int_equal(rc, PL_ERR_CORRUPT);
            free(c);
            continue;
        }
        size_t i = 0;
        for (;;) {
            int64_t t;
            double v;
            /* Alternate next and one-sample batches over the cut chunk. */
            if (i % 2)
                rc = tsdb_chunk_dec_next(&d, &t, &v);
            else
                rc = tsdb_chunk_dec_batch(&d, &t, &v, 1);
            if (rc != 1)
                break;
            assert_true(i < n);
            assert_int_equal(t, ts[i]);
            assert_int_equal(test_f2u(v), test_f2u(vs[i]));
            i++;
        }
        assert_true(rc == 0 || rc == PL_ERR_CORRUPT);
        if (rc == 0)
            assert_int_equal(i, tsdb_chunk_dec_count(&d));
        free(c);
    }
}
