/* test_chunk_stream.c - the adaptive streaming codec (TSDB_ENC_STREAM). */
#include "tests.h"

#include "common/buf.h"
#include "common/err.h"
#include "tsdb/chunk.h"

#include <math.h>

#define STALE_NAN 0x7ff0000000000002ull

/* Appends with the stream encoder, checking the open chunk after each append. */
static size_t stream_roundtrip(const int64_t *ts, const double *vs, size_t n, int check_each)
{
    struct tsdb_chunk_enc e;
    assert_int_equal(tsdb_chunk_enc_init_kind(&e, TSDB_ENC_STREAM), 0);
    size_t len;
    const uint8_t *p = tsdb_chunk_enc_bytes(&e, &len);
    test_check_decodes(p, len, NULL, NULL, 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tsdb_chunk_enc_append(&e, ts[i], vs[i]), 0);
        if (check_each) {
            p = tsdb_chunk_enc_bytes(&e, &len);
            test_check_decodes(p, len, ts, vs, i + 1);
        }
    }
    p = tsdb_chunk_enc_bytes(&e, &len);
    assert_int_equal(p[0], TSDB_ENC_STREAM);
    test_check_decodes(p, len, ts, vs, n);
    /* Sealing a stream chunk keeps every sample. */
    struct pl_buf s;
    pl_buf_init(&s, 1 << 24);
    assert_int_equal(tsdb_chunk_seal(p, len, &s), 0);
    assert_true(s.len <= len + 16);
    test_check_decodes((uint8_t *)s.data, s.len, ts, vs, n);
    pl_buf_fini(&s);
    tsdb_chunk_enc_fini(&e);
    return len;
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

static void test_chunk_stream_worked_example_matches_format_comment(void **state)
{
    static const uint8_t want[] = {0x03, 0x00, 0x03, 0x01, 0xd0, 0x0f, 0x1e, 0x00,
                                   0x00, 0x3b, 0x53, 0x00, 0x02, 0x10, 0x40};
    int64_t ts[] = {1000, 16000, 31002};
    double vs[] = {1.5, 2.0, 3.0};
    struct pl_buf b;
    pl_buf_init(&b, 1 << 10);
    assert_int_equal(tsdb_chunk_encode_samples(ts, vs, 3, TSDB_ENC_STREAM, &b), 0);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    test_check_decodes(want, sizeof(want), ts, vs, 3);
    assert_int_equal(gorilla_len(ts, vs, 3), 22);
    pl_buf_fini(&b);
}

static void test_chunk_stream_rejects_unknown_kind(void **state)
{
    struct tsdb_chunk_enc e;
    assert_int_equal(tsdb_chunk_enc_init_kind(&e, TSDB_ENC_PACKED), PL_ERR_INVALID);
    assert_int_equal(tsdb_chunk_enc_init_kind(&e, TSDB_ENC_GORILLA), 0);
    assert_int_equal(e.kind, TSDB_ENC_GORILLA);
    tsdb_chunk_enc_fini(&e);
}

static void test_chunk_stream_scraped_shapes_beat_gorilla(void **state)
{
    enum { N = 240 };
    int64_t ts[N];
    double vs[N];
    uint64_t rng = test_seed() ^ 31;
    for (int shape = 0; shape < 4; shape++) {
        int64_t m = 5000000;
        for (int i = 0; i < N; i++) {
            uint64_t r = test_rand(&rng);
            ts[i] = 1763900000000 + 15000LL * i + (int64_t)(r % 5) - 2;
            switch (shape) {
            case 0: /* cpu seconds */
                m += 1400 + (int64_t)((r >> 8) % 60);
                vs[i] = (double)m / 100.0;
                break;
            case 1: /* load average */
                vs[i] = (double)((r >> 8) % 300) / 100.0;
                break;
            case 2: /* memory in pages */
                m += ((int64_t)((r >> 8) % 21) - 10) * 4096;
                vs[i] = (double)m;
                break;
            default: /* constant */
                vs[i] = 1.0;
                break;
            }
        }
        size_t len = stream_roundtrip(ts, vs, N, shape == 0);
        size_t glen = gorilla_len(ts, vs, N);
        printf("stream shape %d: %zu bytes, gorilla %zu\n", shape, len, glen);
        assert_true(len * 10 < glen * 7);
    }
}

static void test_chunk_stream_rescales_and_keeps_exceptions(void **state)
{
    /* 0 fixes scale 0; 0.5, 0.25, 0.125 need more digits; specials interleave. */
    double vs[] = {0, 3,    0.5,  test_u2f(STALE_NAN), 0.25, -0.0,      0.125, INFINITY,
                   7, 1e18, 2e18, 0.1 + 0.2,           0.3,  -INFINITY, 4,     test_u2f(STALE_NAN)};
    size_t n = sizeof(vs) / sizeof(vs[0]);
    int64_t ts[32];
    for (size_t i = 0; i < n; i++)
        ts[i] = 1000 * (int64_t)i;
    stream_roundtrip(ts, vs, n, 1);
}

static void test_chunk_stream_switches_random_floats_to_xor(void **state)
{
    enum { N = 300 };
    int64_t ts[N];
    double vs[N];
    uint64_t rng = test_seed() ^ 37;
    for (int i = 0; i < N; i++) {
        ts[i] = 15000LL * i;
        vs[i] = i < 5 ? (double)i : (double)(test_rand(&rng) >> 11) / 9007199254740992.0;
    }
    size_t len = stream_roundtrip(ts, vs, N, 1);
    assert_true(len < gorilla_len(ts, vs, N) + 32);
    /* A first value that is not a decimal starts in XOR mode. */
    vs[0] = test_u2f(STALE_NAN);
    stream_roundtrip(ts, vs, 20, 1);
}

static void test_chunk_stream_extreme_times_and_values(void **state)
{
    int64_t ts[] = {INT64_MIN, INT64_MIN,     -1,        0,        0, 15000,
                    1LL << 62, INT64_MAX - 5, INT64_MAX, INT64_MAX};
    double vs[] = {9.2e18,   -9.2e18, 9.2e18, 1e-18, 5e-324, 1.5, -1.5, 4503599627370497.0,
                   -123.456, 1e300};
    stream_roundtrip(ts, vs, sizeof(ts) / sizeof(ts[0]), 1);
}

static void test_chunk_stream_max_samples_then_limit(void **state)
{
    struct tsdb_chunk_enc e;
    tsdb_chunk_enc_init_kind(&e, TSDB_ENC_STREAM);
    size_t n = TSDB_CHUNK_MAX_SAMPLES;
    int64_t *ts = malloc(n * sizeof(*ts));
    double *vs = malloc(n * sizeof(*vs));
    for (size_t i = 0; i < n; i++) {
        ts[i] = (int64_t)i * 15000 + (int64_t)(i % 3);
        vs[i] = i % 777 == 0 ? test_u2f(STALE_NAN) : (double)(i / 7) * 0.25;
        assert_int_equal(tsdb_chunk_enc_append(&e, ts[i], vs[i]), 0);
    }
    assert_int_equal(tsdb_chunk_enc_append(&e, ts[n - 1], 1.0), PL_ERR_LIMIT);
    assert_int_equal(tsdb_chunk_enc_append(&e, ts[n - 1] - 1, 1.0), PL_ERR_LIMIT);
    size_t len;
    const uint8_t *p = tsdb_chunk_enc_bytes(&e, &len);
    test_check_decodes(p, len, ts, vs, n);
    tsdb_chunk_enc_reset(&e);
    assert_int_equal(tsdb_chunk_enc_append(&e, 5, 1.0), 0);
    p = tsdb_chunk_enc_bytes(&e, &len);
    assert_int_equal(p[0], TSDB_ENC_STREAM);
    assert_int_equal(tsdb_chunk_enc_append(&e, 4, 1.0), PL_ERR_OUT_OF_ORDER);
    free(ts);
    free(vs);
    tsdb_chunk_enc_fini(&e);
}

static void test_chunk_stream_truncation_and_mutation_are_safe(void **state)
{
    enum { N = 200 };
    int64_t ts[N];
    double vs[N];
    uint64_t rng = test_seed() ^ 41;
    for (int i = 0; i < N; i++) {
        uint64_t r = test_rand(&rng);
        ts[i] = 15000LL * i + (int64_t)(r % 9);
        vs[i] = i % 50 == 49 ? test_u2f(STALE_NAN) : (double)(i * (int)(r % 7)) / 8.0;
    }
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(tsdb_chunk_encode_samples(ts, vs, N, TSDB_ENC_STREAM, &b), 0);
    test_check_decodes((uint8_t *)b.data, b.len, ts, vs, N);
    test_check_truncations((uint8_t *)b.data, b.len, ts, vs, N);
    uint8_t *c = malloc(b.len);
    for (int round = 0; round < 3000; round++) {
        memcpy(c, b.data, b.len);
        uint64_t r = test_rand(&rng);
        c[r % b.len] ^= (uint8_t)(1u << ((r >> 32) % 8));
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
    /* Bad headers: scale 19, a cut varint, a reserved marker. */
    uint8_t scale[] = {TSDB_ENC_STREAM, 0, 1, 19, 0, 0};
    struct tsdb_chunk_dec d;
    assert_int_equal(tsdb_chunk_dec_init(&d, scale, sizeof(scale)), PL_ERR_CORRUPT);
    uint8_t cut[] = {TSDB_ENC_STREAM, 0, 1, 0, 0x80};
    assert_int_equal(tsdb_chunk_dec_init(&d, cut, sizeof(cut)), PL_ERR_CORRUPT);
    /* Sample 1: time code '1' (k = 0, x = 0), then 16 zeros and marker 3. */
    uint8_t marker[] = {TSDB_ENC_STREAM, 0, 2, 0, 0, 0, 0x80, 0x00, 0x01, 0x80};
    int64_t t;
    double v;
    assert_int_equal(tsdb_chunk_dec_init(&d, marker, sizeof(marker)), 0);
    assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), 1);
    assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), PL_ERR_CORRUPT);
    pl_buf_fini(&b);
}

int test_chunk_stream_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_stream_worked_example_matches_format_comment),
        cmocka_unit_test(test_chunk_stream_rejects_unknown_kind),
        cmocka_unit_test(test_chunk_stream_scraped_shapes_beat_gorilla),
        cmocka_unit_test(test_chunk_stream_rescales_and_keeps_exceptions),
        cmocka_unit_test(test_chunk_stream_switches_random_floats_to_xor),
        cmocka_unit_test(test_chunk_stream_extreme_times_and_values),
        cmocka_unit_test(test_chunk_stream_max_samples_then_limit),
        cmocka_unit_test(test_chunk_stream_truncation_and_mutation_are_safe),
    };
    return cmocka_run_group_tests_name("chunk_stream", tests, NULL, NULL);
}
