/* test_chunk_seal.c - sealing re-encodes with the smallest codec, exactly. */
#include "tests.h"

#include "common/buf.h"
#include "common/err.h"
#include "tsdb/chunk.h"

#include <math.h>

#define STALE_NAN 0x7ff0000000000002ull

/* Seals samples (via a Gorilla chunk) and checks the result decodes exactly. */
static uint8_t seal_check(const int64_t *ts, const double *vs, size_t n, size_t *sealed_len)
{
    struct pl_buf g, s;
    pl_buf_init(&g, 1 << 24);
    pl_buf_init(&s, 1 << 24);
    assert_int_equal(tsdb_chunk_encode_samples(ts, vs, n, TSDB_ENC_GORILLA, &g), 0);
    assert_int_equal(tsdb_chunk_seal((uint8_t *)g.data, g.len, &s), 0);
    assert_true(s.len <= g.len);
    test_check_decodes((uint8_t *)s.data, s.len, ts, vs, n);
    /* Sealing a sealed chunk is stable. */
    struct pl_buf s2;
    pl_buf_init(&s2, 1 << 24);
    assert_int_equal(tsdb_chunk_seal((uint8_t *)s.data, s.len, &s2), 0);
    assert_int_equal(s2.len, s.len);
    assert_memory_equal(s2.data, s.data, s.len);
    uint8_t enc = (uint8_t)s.data[0];
    if (sealed_len)
        *sealed_len = s.len;
    pl_buf_fini(&g);
    pl_buf_fini(&s);
    pl_buf_fini(&s2);
    return enc;
}

static void test_chunk_seal_empty_and_single(void **state)
{
    seal_check(NULL, NULL, 0, NULL);
    int64_t ts[] = {INT64_MIN};
    double vs[] = {test_u2f(STALE_NAN)};
    seal_check(ts, vs, 1, NULL);
}

static void test_chunk_seal_random_floats_stay_exact(void **state)
{
    uint64_t rng = test_seed() ^ 0x77;
    int64_t ts[480];
    double vs[480];
    int64_t t = 1700000000000;
    for (int i = 0; i < 480; i++) {
        t += 15000 + (int64_t)(test_rand(&rng) % 5) - 2;
        ts[i] = t;
        vs[i] = test_u2f(test_rand(&rng));
    }
    seal_check(ts, vs, 480, NULL);
}

static void test_chunk_seal_picks_packed_for_decimals(void **state)
{
    uint64_t rng = test_seed() ^ 0x99;
    int64_t ts[120];
    double vs[120];
    double c = 1000.25;
    for (int i = 0; i < 120; i++) {
        ts[i] = 1763900000000 + 15000 * i + (int64_t)(test_rand(&rng) % 5) - 2;
        c += (double)(test_rand(&rng) % 300) / 100.0;
        vs[i] = (double)(int64_t)(c * 100) / 100.0;
    }
    vs[119] = test_u2f(STALE_NAN);
    size_t len;
    assert_int_equal(seal_check(ts, vs, 120, &len), TSDB_ENC_PACKED);
    assert_true(len < 120 * 2);
    /* Constant values on an exact grid: a few bytes for the whole chunk. */
    for (int i = 0; i < 120; i++) {
        ts[i] = 1763900000000 + 15000 * i;
        vs[i] = 1.0;
    }
    assert_int_equal(seal_check(ts, vs, 120, &len), TSDB_ENC_PACKED);
    assert_true(len <= 20);
}

static void test_chunk_seal_of_raw_input_is_exact(void **state)
{
    int64_t ts[] = {-9, -9, -8, 1LL << 50};
    double vs[] = {0.5, test_u2f(STALE_NAN), -0.0, 1e-300};
    struct pl_buf r, s;
    pl_buf_init(&r, 1 << 20);
    pl_buf_init(&s, 1 << 20);
    assert_int_equal(tsdb_chunk_encode_samples(ts, vs, 4, TSDB_ENC_RAW, &r), 0);
    assert_int_equal(tsdb_chunk_seal((uint8_t *)r.data, r.len, &s), 0);
    assert_true(s.len < r.len);
    test_check_decodes((uint8_t *)s.data, s.len, ts, vs, 4);
    pl_buf_fini(&r);
    pl_buf_fini(&s);
}

static void test_chunk_seal_rejects_corrupt_input(void **state)
{
    struct pl_buf s;
    pl_buf_init(&s, 1 << 20);
    uint8_t bad[] = {0x7e, 0, 1};
    assert_int_equal(tsdb_chunk_seal(bad, sizeof(bad), &s), PL_ERR_CORRUPT);
    uint8_t cut[] = {TSDB_ENC_GORILLA, 0, 2, 0, 0x3f};
    assert_int_equal(tsdb_chunk_seal(cut, sizeof(cut), &s), PL_ERR_CORRUPT);
    assert_int_equal(s.len, 0);
    pl_buf_fini(&s);
}

static void test_chunk_seal_reports_full_output(void **state)
{
    int64_t ts[] = {1, 2, 3};
    double vs[] = {1, 2, 3};
    struct pl_buf g, s;
    pl_buf_init(&g, 1 << 20);
    pl_buf_init(&s, 4);
    assert_int_equal(tsdb_chunk_encode_samples(ts, vs, 3, TSDB_ENC_GORILLA, &g), 0);
    assert_int_equal(tsdb_chunk_seal((uint8_t *)g.data, g.len, &s), PL_ERR_LIMIT);
    pl_buf_fini(&g);
    pl_buf_fini(&s);
}

int test_chunk_seal_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_seal_empty_and_single),
        cmocka_unit_test(test_chunk_seal_random_floats_stay_exact),
        cmocka_unit_test(test_chunk_seal_picks_packed_for_decimals),
        cmocka_unit_test(test_chunk_seal_of_raw_input_is_exact),
        cmocka_unit_test(test_chunk_seal_rejects_corrupt_input),
        cmocka_unit_test(test_chunk_seal_reports_full_output),
    };
    return cmocka_run_group_tests_name("chunk_seal", tests, NULL, NULL);
}
