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
            rc = tsdb_chunk_dec_next(&d, &t, &v);
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
