/* test_chunk_packed.c - the packed codec: models, exceptions, format, corruption. */
#include "tests.h"

#include "common/buf.h"
#include "common/err.h"
#include "tsdb/chunk.h"

#include <math.h>

#define STALE_NAN 0x7ff0000000000002ull

/* Encodes with the packed codec, checks the round trip; returns the bytes. */
static size_t packed_check(const int64_t *ts, const double *vs, size_t n, struct pl_buf *b)
{
    pl_buf_init(b, 1 << 24);
    assert_int_equal(tsdb_chunk_encode_samples(ts, vs, n, TSDB_ENC_PACKED, b), 0);
    assert_int_equal((uint8_t)b->data[0], TSDB_ENC_PACKED);
    test_check_decodes((uint8_t *)b->data, b->len, ts, vs, n);
    return b->len;
}

static size_t gorilla_len(const int64_t *ts, const double *vs, size_t n)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 24);
    assert_int_equal(tsdb_chunk_encode_samples(ts, vs, n, TSDB_ENC_GORILLA, &b), 0);
    size_t len = b.len;
    pl_buf_fini(&b);
    return len;
}

static void test_chunk_packed_worked_example_matches_format_comment(void **state)
{
    int64_t ts[] = {1000, 16001, 30999, 46000};
    double vs[] = {0.5, 0.75, 1.0, 1.0};
    static const uint8_t want[] = {0x02, 0x00, 0x04, 0x44, 0x02, 0x02, 0xd0, 0x0f,
                                   0x98, 0x75, 0x02, 0x64, 0x19, 0xa6, 0x00};
    struct pl_buf b;
    packed_check(ts, vs, 4, &b);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    assert_int_equal(gorilla_len(ts, vs, 4), 22);
    pl_buf_fini(&b);
}

/* Regular 15 s scrapes with small jitter, from a fixed start. */
static void scrape_times(int64_t *ts, size_t n, uint64_t *rng, int jitter)
{
    for (size_t i = 0; i < n; i++)
        ts[i] = 1763900000000 + 15000 * (int64_t)i +
                (jitter ? (int64_t)(test_rand(rng) % (2 * (uint64_t)jitter + 1)) - jitter : 0);
}

static void test_chunk_packed_constant_series_takes_a_few_bytes(void **state)
{
    int64_t ts[120];
    double vs[120];
    uint64_t rng = test_seed();
    scrape_times(ts, 120, &rng, 0);
    for (int i = 0; i < 120; i++)
        vs[i] = 16777216.0;
    struct pl_buf b;
    size_t len = packed_check(ts, vs, 120, &b);
    assert_true(len <= 20);
    pl_buf_fini(&b);
}

static void test_chunk_packed_decimal_shapes_beat_gorilla(void **state)
{
    enum { N = 480 };
    int64_t ts[N];
    double vs[N];
    uint64_t rng = test_seed() ^ 3;
    for (int shape = 0; shape < 5; shape++) {
        scrape_times(ts, N, &rng, 3);
        int64_t m = 123456;
        for (int i = 0; i < N; i++) {
            uint64_t r = test_rand(&rng);
            switch (shape) {
            case 0: /* cpu seconds, 0.01 resolution */
                m += 1400 + (int64_t)(r % 100);
                vs[i] = (double)m / 100.0;
                break;
            case 1: /* bytes counter */
                m += (int64_t)(r % 100000);
                vs[i] = (double)m;
                break;
            case 2: /* memory gauge in KiB pages */
                m += ((int64_t)(r % 201) - 100) * 1024;
                vs[i] = (double)m * 4096;
                break;
            case 3: /* load average */
                vs[i] = (double)(r % 400) / 100.0;
                break;
            default: /* histogram bucket */
                m += (int64_t)(r % 4 == 0);
                vs[i] = (double)m;
                break;
            }
        }
        struct pl_buf b;
        size_t len = packed_check(ts, vs, N, &b);
        size_t glen = gorilla_len(ts, vs, N);
        printf("shape %d: packed %zu bytes, gorilla %zu\n", shape, len, glen);
        assert_true(len * 10 < glen * 8);
        test_check_truncations((uint8_t *)b.data, b.len, ts, vs, N);
        pl_buf_fini(&b);
    }
}

static void test_chunk_packed_exceptions_keep_special_values(void **state)
{
    int64_t ts[200];
    double vs[200];
    uint64_t rng = test_seed() ^ 5;
    scrape_times(ts, 200, &rng, 2);
    for (int i = 0; i < 200; i++)
        vs[i] = (double)(i * 3) / 4.0;
    vs[0] = test_u2f(STALE_NAN);
    vs[17] = test_u2f(STALE_NAN);
    vs[18] = -0.0;
    vs[50] = INFINITY;
    vs[51] = -INFINITY;
    vs[52] = test_u2f(0xfff8000000000abcull);
    vs[120] = 0.1 + 0.2; /* needs 17 digits: an exception, not the chunk's scale */
    vs[199] = test_u2f(STALE_NAN);
    struct pl_buf b;
    size_t len = packed_check(ts, vs, 200, &b);
    /* Decimal kind with the exceptions bit, not XOR. */
    assert_int_equal((uint8_t)b.data[3] & 0x30, 0x20);
    assert_true(len < gorilla_len(ts, vs, 200) / 2);
    test_check_truncations((uint8_t *)b.data, b.len, ts, vs, 200);
    pl_buf_fini(&b);
}

static void test_chunk_packed_all_special_values_round_trip(void **state)
{
    int64_t ts[6] = {1, 2, 3, 4, 5, 6};
    double vs[6];
    uint64_t bits[6] = {STALE_NAN, 0x8000000000000000ull, 0x7ff0000000000000ull,
                        STALE_NAN, 0x7ff8000000000001ull, 0x0000000000000001ull};
    for (int i = 0; i < 6; i++)
        vs[i] = test_u2f(bits[i]);
    struct pl_buf b;
    packed_check(ts, vs, 6, &b);
    pl_buf_fini(&b);
}

static void test_chunk_packed_random_floats_use_xor(void **state)
{
    int64_t ts[300];
    double vs[300];
    uint64_t rng = test_seed() ^ 7;
    scrape_times(ts, 300, &rng, 5);
    for (int i = 0; i < 300; i++)
        vs[i] = (double)(test_rand(&rng) >> 11) / 9007199254740992.0;
    struct pl_buf b;
    size_t len = packed_check(ts, vs, 300, &b);
    assert_int_equal((uint8_t)b.data[3] & 0x10, 0x10);
    assert_true(len < gorilla_len(ts, vs, 300));
    test_check_truncations((uint8_t *)b.data, b.len, ts, vs, 300);
    pl_buf_fini(&b);
}

static void test_chunk_packed_extreme_values_and_times_round_trip(void **state)
{
    int64_t ts[] = {INT64_MIN, INT64_MIN, -1, 0, 0, 15000, 1LL << 62, INT64_MAX - 5, INT64_MAX};
    double vs[] = {9.2e18, -9.2e18, 9007199254740993.0,   -9007199254740992.0,
                   0,      1e-18,   -123456789.123456789, 1e18,
                   5e-324};
    size_t n = sizeof(ts) / sizeof(ts[0]);
    struct pl_buf b;
    packed_check(ts, vs, n, &b);
    test_check_truncations((uint8_t *)b.data, b.len, ts, vs, n);
    pl_buf_fini(&b);
    /* Integers whose differences overflow int64. */
    double big[] = {9.2e18, -9.2e18, 9.2e18, -9.2e18, 0, 9.2e18};
    int64_t t6[] = {0, 1, 2, 3, 4, 5};
    packed_check(t6, big, 6, &b);
    pl_buf_fini(&b);
    /* A single sample. */
    double one[] = {0.25};
    packed_check(t6, one, 1, &b);
    pl_buf_fini(&b);
}

static void test_chunk_packed_timestamp_models_round_trip(void **state)
{
    enum { N = 1000 };
    int64_t *ts = malloc(N * sizeof(*ts));
    double *vs = malloc(N * sizeof(*vs));
    uint64_t rng = test_seed() ^ 11;
    for (int shape = 0; shape < 6; shape++) {
        int64_t t = -5000000;
        for (int i = 0; i < N; i++) {
            uint64_t r = test_rand(&rng);
            switch (shape) {
            case 0: /* exact grid */
                t = -5000000 + 10000 * i;
                break;
            case 1: /* grid with missed scrapes */
                t += (r % 50 == 0) ? 30000 : 15000;
                break;
            case 2: /* drifting interval */
                t += 15000 + i / 10;
                break;
            case 3: /* equal timestamps and bursts */
                t += (int64_t)(r % 3);
                break;
            case 4: /* huge irregular gaps */
                t += (int64_t)(r >> 30);
                break;
            default: /* jitter with rare long delays */
                t = 15000LL * i + (int64_t)(r % 5) + ((r >> 32) % 100 == 0 ? 400 : 0);
                break;
            }
            ts[i] = t;
            vs[i] = (double)(i % 7);
        }
        struct pl_buf b;
        size_t len = packed_check(ts, vs, N, &b);
        if (shape == 0)
            assert_int_equal((uint8_t)b.data[4], 0); /* no timestamp bits at all */
        assert_true(len <= gorilla_len(ts, vs, N));
        pl_buf_fini(&b);
    }
    free(ts);
    free(vs);
}

static void test_chunk_packed_max_samples_round_trip(void **state)
{
    size_t n = TSDB_CHUNK_MAX_SAMPLES;
    int64_t *ts = malloc(n * sizeof(*ts));
    double *vs = malloc(n * sizeof(*vs));
    uint64_t rng = test_seed() ^ 13;
    scrape_times(ts, n, &rng, 2);
    for (size_t i = 0; i < n; i++)
        vs[i] = (i % 1000 == 999) ? test_u2f(STALE_NAN) : (double)(i / 10) * 0.5;
    struct pl_buf b;
    packed_check(ts, vs, n, &b);
    pl_buf_fini(&b);
    pl_buf_init(&b, 1 << 24);
    assert_int_equal(tsdb_chunk_encode_samples(ts, vs, 0, TSDB_ENC_PACKED, &b), PL_ERR_UNSUPPORTED);
    assert_int_equal(tsdb_chunk_encode_samples(ts, vs, n + 1, TSDB_ENC_PACKED, &b), PL_ERR_LIMIT);
    pl_buf_fini(&b);
    free(ts);
    free(vs);
}

static void test_chunk_packed_zero_runs_code_sparse_streams(void **state)
{
    /* Aligned scrapes with a few late ones; a counter that rarely moves. */
    enum { N = 480 };
    int64_t ts[N];
    double vs[N];
    uint64_t rng = test_seed() ^ 19;
    double c = 7;
    for (int i = 0; i < N; i++) {
        uint64_t r = test_rand(&rng);
        ts[i] = 1763900000000 + 15000 * i + (r % 40 == 0 ? (int64_t)(r >> 58) + 1 : 0);
        if ((r >> 20) % 25 == 0)
            c += (double)((r >> 30) % 5 + 1);
        vs[i] = c;
    }
    vs[N - 1] = test_u2f(STALE_NAN);
    struct pl_buf b;
    size_t len = packed_check(ts, vs, N, &b);
    assert_true((uint8_t)b.data[4] >= 128);
    assert_true((uint8_t)b.data[5] >= 128);
    printf("sparse: %zu bytes for %d samples\n", len, N);
    assert_true(len < N / 4);
    test_check_truncations((uint8_t *)b.data, b.len, ts, vs, N);
    pl_buf_fini(&b);
    /* A run reaching the end of the chunk, and a nonzero residual first. */
    for (int i = 0; i < 10; i++) {
        ts[i] = i < 2 ? 5 * i : 10 + 1000 * (i - 2);
        vs[i] = i < 3 ? (double)i : 2.0;
    }
    packed_check(ts, vs, 10, &b);
    pl_buf_fini(&b);
}

static void test_chunk_packed_counter_uses_bias(void **state)
{
    enum { N = 240 };
    int64_t ts[N];
    double vs[N];
    uint64_t rng = test_seed() ^ 23;
    int64_t ticks = 5000000;
    for (int i = 0; i < N; i++) {
        ts[i] = 15000LL * i;
        ticks += 1400 + (int64_t)(test_rand(&rng) % 21);
        vs[i] = (double)ticks / 100.0;
    }
    struct pl_buf b;
    packed_check(ts, vs, N, &b);
    /* Order 1 with the bias bit. */
    assert_int_equal((uint8_t)b.data[3] & 0x9c, 0x84);
    test_check_truncations((uint8_t *)b.data, b.len, ts, vs, N);
    pl_buf_fini(&b);
    /* The bias bit is only valid with order 1. */
    uint8_t bad[] = {2, 0, 2, 0x88, 0, 0, 0, 0, 0, 0, 0, 0};
    struct tsdb_chunk_dec d;
    assert_int_equal(tsdb_chunk_dec_init(&d, bad, sizeof(bad)), PL_ERR_CORRUPT);
}

static void expect_corrupt_init(const uint8_t *p, size_t len)
{
    struct tsdb_chunk_dec d;
    assert_int_equal(tsdb_chunk_dec_init(&d, p, len), PL_ERR_CORRUPT);
    int64_t t;
    double v;
    assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), PL_ERR_CORRUPT);
}

static void test_chunk_packed_rejects_bad_headers(void **state)
{
    /* Bias with order 0, timestamp mode 3, value order 3, descriptor 191, scale 19. */
    uint8_t bit7[] = {2, 0, 1, 0x80, 0, 0, 0, 0, 0};
    expect_corrupt_init(bit7, sizeof(bit7));
    /* A zero-run code whose kv byte is out of range or missing. */
    uint8_t kv[] = {2, 0, 1, 0x00, 128, 0, 63, 0, 0, 0};
    expect_corrupt_init(kv, sizeof(kv));
    uint8_t nokv[] = {2, 0, 1, 0x00, 128, 0};
    expect_corrupt_init(nokv, sizeof(nokv));
    uint8_t tmode3[] = {2, 0, 1, 0x03, 0, 0, 0, 0, 0};
    expect_corrupt_init(tmode3, sizeof(tmode3));
    uint8_t order3[] = {2, 0, 1, 0x0c, 0, 0, 0, 0, 0};
    expect_corrupt_init(order3, sizeof(order3));
    uint8_t desc[] = {2, 0, 1, 0x00, 191, 0, 0, 0, 0};
    expect_corrupt_init(desc, sizeof(desc));
    uint8_t scale[] = {2, 0, 1, 0x00, 0, 0, 0, 19, 0};
    expect_corrupt_init(scale, sizeof(scale));
    /* gcd bit with g = 1; exceptions bit with count 0 and with index >= n. */
    uint8_t g1[] = {2, 0, 2, 0x40, 0, 0, 0, 0, 0, 0, 1};
    expect_corrupt_init(g1, sizeof(g1));
    uint8_t x0[] = {2, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0};
    expect_corrupt_init(x0, sizeof(x0));
    uint8_t xbig[] = {2, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0};
    expect_corrupt_init(xbig, sizeof(xbig));
    /* Two exceptions whose second index runs past n. */
    uint8_t x2[] = {2, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0,
                    0, 0, 0, 0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    expect_corrupt_init(x2, sizeof(x2));
    /* XOR kind with exception or gcd bits. */
    uint8_t xorx[] = {2, 0, 1, 0x30, 0, 0, 0};
    expect_corrupt_init(xorx, sizeof(xorx));
    /* Cut in the middle of the header. */
    uint8_t cut[] = {2, 0, 1, 0x00, 0};
    expect_corrupt_init(cut, sizeof(cut));
}

static void test_chunk_packed_mutated_bytes_never_crash(void **state)
{
    int64_t ts[150];
    double vs[150];
    uint64_t rng = test_seed() ^ 17;
    scrape_times(ts, 150, &rng, 4);
    for (int i = 0; i < 150; i++)
        vs[i] = i % 40 == 39 ? test_u2f(STALE_NAN) : (double)(i * i) / 8.0;
    struct pl_buf b;
    packed_check(ts, vs, 150, &b);
    uint8_t *c = malloc(b.len);
    for (int round = 0; round < 3000; round++) {
        memcpy(c, b.data, b.len);
        int flips = 1 + (int)(test_rand(&rng) % 4);
        for (int f = 0; f < flips; f++) {
            uint64_t r = test_rand(&rng);
            c[r % b.len] ^= (uint8_t)(1u << ((r >> 32) % 8));
        }
        struct tsdb_chunk_dec d;
        if (tsdb_chunk_dec_init(&d, c, b.len) < 0)
            continue;
        int64_t t, prev = INT64_MIN;
        double v;
        int rc, k = 0;
        while ((rc = tsdb_chunk_dec_next(&d, &t, &v)) == 1) {
            assert_true(t >= prev);
            prev = t;
            k++;
        }
        assert_true(rc == 0 || rc == PL_ERR_CORRUPT);
        assert_true(k <= tsdb_chunk_dec_count(&d));
    }
    free(c);
    pl_buf_fini(&b);
}

static void test_chunk_packed_seek_and_batch(void **state)
{
    int64_t ts[100];
    double vs[100];
    for (int i = 0; i < 100; i++) {
        ts[i] = 500 + 10 * i;
        vs[i] = i == 50 ? test_u2f(STALE_NAN) : (double)i / 4;
    }
    struct pl_buf b;
    packed_check(ts, vs, 100, &b);
    struct tsdb_chunk_dec d;
    int64_t t;
    double v;
    assert_int_equal(tsdb_chunk_dec_init(&d, (uint8_t *)b.data, b.len), 0);
    assert_int_equal(tsdb_chunk_dec_seek(&d, 995, &t, &v), 1);
    assert_int_equal(t, 1000);
    assert_int_equal(test_f2u(v), STALE_NAN);
    assert_int_equal(tsdb_chunk_dec_seek(&d, 1000, &t, &v), 1);
    assert_int_equal(t, 1000);
    int64_t bt[64];
    double bv[64];
    assert_int_equal(tsdb_chunk_dec_batch(&d, bt, bv, 64), 49);
    assert_int_equal(bt[0], 1010);
    assert_true(bv[48] == 99.0 / 4);
    assert_int_equal(tsdb_chunk_dec_seek(&d, 0, &t, &v), 1);
    assert_int_equal(t, 1490);
    assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), 0);
    pl_buf_fini(&b);
}

int test_chunk_packed_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_packed_worked_example_matches_format_comment),
        cmocka_unit_test(test_chunk_packed_constant_series_takes_a_few_bytes),
        cmocka_unit_test(test_chunk_packed_decimal_shapes_beat_gorilla),
        cmocka_unit_test(test_chunk_packed_exceptions_keep_special_values),
        cmocka_unit_test(test_chunk_packed_all_special_values_round_trip),
        cmocka_unit_test(test_chunk_packed_random_floats_use_xor),
        cmocka_unit_test(test_chunk_packed_extreme_values_and_times_round_trip),
        cmocka_unit_test(test_chunk_packed_timestamp_models_round_trip),
        cmocka_unit_test(test_chunk_packed_max_samples_round_trip),
        cmocka_unit_test(test_chunk_packed_zero_runs_code_sparse_streams),
        cmocka_unit_test(test_chunk_packed_counter_uses_bias),
        cmocka_unit_test(test_chunk_packed_rejects_bad_headers),
        cmocka_unit_test(test_chunk_packed_mutated_bytes_never_crash),
        cmocka_unit_test(test_chunk_packed_seek_and_batch),
    };
    return cmocka_run_group_tests_name("chunk_packed", tests, NULL, NULL);
}
