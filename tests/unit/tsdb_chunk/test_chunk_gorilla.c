/* test_chunk_gorilla.c - the streaming Gorilla encoder, the decoder, seek, raw. */
#include "tests.h"

#include "common/buf.h"
#include "common/err.h"
#include "tsdb/chunk.h"

#include <math.h>

#define STALE_NAN 0x7ff0000000000002ull

/* Appends all samples, checking the open chunk decodes after every append. */
static void append_all(struct tsdb_chunk_enc *e, const int64_t *ts, const double *vs, size_t n,
                       int check_each)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tsdb_chunk_enc_append(e, ts[i], vs[i]), 0);
        if (check_each) {
            size_t len;
            const uint8_t *p = tsdb_chunk_enc_bytes(e, &len);
            test_check_decodes(p, len, ts, vs, i + 1);
        }
    }
}

static void roundtrip(const int64_t *ts, const double *vs, size_t n, int check_each)
{
    struct tsdb_chunk_enc e;
    tsdb_chunk_enc_init(&e);
    append_all(&e, ts, vs, n, check_each);
    size_t len;
    const uint8_t *p = tsdb_chunk_enc_bytes(&e, &len);
    assert_int_equal(p[0], TSDB_ENC_GORILLA);
    test_check_decodes(p, len, ts, vs, n);
    tsdb_chunk_enc_fini(&e);
}

static void test_chunk_gorilla_worked_example_matches_format_comment(void **state)
{
    /* The example in chunk_int.h, byte by byte. */
    static const uint8_t want[] = {0x01, 0x00, 0x03, 0xd0, 0x0f, 0x3f, 0xf0, 0x00, 0x00, 0x00,
                                   0x00, 0x00, 0x00, 0xe0, 0x3a, 0x98, 0x30, 0x97, 0xff, 0xc0};
    int64_t ts[] = {1000, 16000, 31000};
    double vs[] = {1.0, 1.0, 2.0};
    struct tsdb_chunk_enc e;
    tsdb_chunk_enc_init(&e);
    append_all(&e, ts, vs, 3, 0);
    size_t len;
    const uint8_t *p = tsdb_chunk_enc_bytes(&e, &len);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(p, want, sizeof(want));
    test_check_decodes(want, sizeof(want), ts, vs, 3);
    tsdb_chunk_enc_fini(&e);
}

static void test_chunk_gorilla_empty_chunk_has_no_samples(void **state)
{
    struct tsdb_chunk_enc e;
    tsdb_chunk_enc_init(&e);
    size_t len;
    const uint8_t *p = tsdb_chunk_enc_bytes(&e, &len);
    assert_int_equal(len, 3);
    test_check_decodes(p, len, NULL, NULL, 0);
    tsdb_chunk_enc_fini(&e);
}

static void test_chunk_gorilla_single_sample_round_trips(void **state)
{
    int64_t ts[] = {-5};
    double vs[] = {42.5};
    roundtrip(ts, vs, 1, 1);
}

static void test_chunk_gorilla_special_values_are_bit_exact(void **state)
{
    uint64_t bits[] = {STALE_NAN,
                       0x7ff8000000000000ull, /* quiet NaN */
                       0xfff8000000000001ull, /* negative NaN with payload */
                       0x7ff0000000000001ull, /* signalling NaN */
                       0x7fffffffffffffffull, /* all-ones NaN */
                       0x7ff0000000000000ull, /* +Inf */
                       0xfff0000000000000ull, /* -Inf */
                       0x8000000000000000ull, /* -0.0 */
                       0x0000000000000000ull, /* +0.0 */
                       0x0000000000000001ull, /* smallest denormal */
                       0x7fefffffffffffffull, /* DBL_MAX */
                       STALE_NAN,
                       STALE_NAN,
                       0x3ff0000000000000ull,
                       STALE_NAN};
    size_t n = sizeof(bits) / sizeof(bits[0]);
    int64_t ts[32];
    double vs[32];
    for (size_t i = 0; i < n; i++) {
        ts[i] = 1700000000000 + 15000 * (int64_t)i;
        vs[i] = test_u2f(bits[i]);
    }
    roundtrip(ts, vs, n, 1);
}

static void test_chunk_gorilla_extreme_timestamps_round_trip(void **state)
{
    /* Equal timestamps, negative ones, and deltas overflowing int64. */
    int64_t ts[] = {INT64_MIN,
                    INT64_MIN,
                    INT64_MIN + 1,
                    -1000000,
                    -1,
                    0,
                    0,
                    0,
                    1,
                    64,
                    200,
                    5000,
                    600000,
                    1LL << 40,
                    (1LL << 40) + 15000,
                    INT64_MAX - 1,
                    INT64_MAX,
                    INT64_MAX};
    size_t n = sizeof(ts) / sizeof(ts[0]);
    double vs[32];
    for (size_t i = 0; i < n; i++)
        vs[i] = (double)i * 0.5;
    roundtrip(ts, vs, n, 1);

    int64_t ts2[] = {INT64_MIN, INT64_MAX};
    roundtrip(ts2, vs, 2, 1);
}

static void test_chunk_gorilla_every_dod_bucket_boundary_round_trips(void **state)
{
    /* dod values at the edges of each bucket, positive and negative. */
    int64_t dods[] = {0,
                      1,
                      -1,
                      63,
                      -64,
                      64,
                      -65,
                      2047,
                      -2048,
                      2048,
                      -2049,
                      524287,
                      -524288,
                      524288,
                      -524289,
                      INT32_MAX,
                      INT32_MIN,
                      (int64_t)INT32_MAX + 1,
                      (int64_t)INT32_MIN - 1};
    size_t nd = sizeof(dods) / sizeof(dods[0]);
    int64_t ts[64];
    double vs[64];
    int64_t t = 0, delta = 3000000000LL; /* big enough for negative dods */
    ts[0] = t;
    vs[0] = 0;
    for (size_t i = 0; i < nd; i++) {
        delta += dods[i];
        t += delta;
        ts[i + 1] = t;
        vs[i + 1] = (double)i;
    }
    roundtrip(ts, vs, nd + 1, 1);
}

static void test_chunk_gorilla_random_round_trips(void **state)
{
    uint64_t rng = test_seed();
    enum { N = 2000 };
    int64_t *ts = malloc(N * sizeof(*ts));
    double *vs = malloc(N * sizeof(*vs));
    for (int shape = 0; shape < 6; shape++) {
        int64_t t = (int64_t)(test_rand(&rng) >> 20) - (1LL << 42);
        double v = 0;
        for (size_t i = 0; i < N; i++) {
            uint64_t r = test_rand(&rng);
            switch (shape) {
            case 0: /* regular scrape with jitter, counter */
                t += 15000 + (int64_t)(r % 7) - 3;
                v += (double)(r >> 40 & 0xff);
                break;
            case 1: /* arbitrary bit patterns, random gaps */
                t += (int64_t)(r >> 44);
                v = test_u2f(test_rand(&rng));
                break;
            case 2: /* gauge with few decimals */
                t += 1000;
                v = (double)((int64_t)(r % 1000) - 500) / 100.0;
                break;
            case 3: /* huge gaps */
                /* Saturate instead of overflowing int64. */
                t = t > INT64_MAX - (int64_t)(r >> 4) ? INT64_MAX : t + (int64_t)(r >> 4);
                v = (r & 1) ? test_u2f(STALE_NAN) : 1.0;
                break;
            case 4: /* constant */
                t += 15000;
                v = 3.0;
                break;
            default: /* small random deltas, floats */
                t += (int64_t)(r % 4);
                v = (double)(r >> 11) * 1e-7;
                break;
            }
            ts[i] = t;
            vs[i] = v;
        }
        roundtrip(ts, vs, N, 0);
    }
    free(ts);
    free(vs);
}

static void test_chunk_gorilla_accepts_max_samples_then_limit(void **state)
{
    struct tsdb_chunk_enc e;
    tsdb_chunk_enc_init(&e);
    int64_t *ts = malloc(TSDB_CHUNK_MAX_SAMPLES * sizeof(*ts));
    double *vs = malloc(TSDB_CHUNK_MAX_SAMPLES * sizeof(*vs));
    for (size_t i = 0; i < TSDB_CHUNK_MAX_SAMPLES; i++) {
        ts[i] = (int64_t)i * 10 + (int64_t)(i % 3);
        vs[i] = (double)(i % 17);
    }
    append_all(&e, ts, vs, TSDB_CHUNK_MAX_SAMPLES, 0);
    assert_int_equal(tsdb_chunk_enc_append(&e, ts[TSDB_CHUNK_MAX_SAMPLES - 1] + 1, 1.0),
                     PL_ERR_LIMIT);
    size_t len;
    const uint8_t *p = tsdb_chunk_enc_bytes(&e, &len);
    test_check_decodes(p, len, ts, vs, TSDB_CHUNK_MAX_SAMPLES);
    free(ts);
    free(vs);
    tsdb_chunk_enc_fini(&e);
}

static void test_chunk_gorilla_rejects_out_of_order(void **state)
{
    struct tsdb_chunk_enc e;
    tsdb_chunk_enc_init(&e);
    int64_t ts[] = {100, 200, 200, 300};
    double vs[] = {1, 2, 3, 4};
    assert_int_equal(tsdb_chunk_enc_append(&e, ts[0], vs[0]), 0);
    assert_int_equal(tsdb_chunk_enc_append(&e, ts[1], vs[1]), 0);
    assert_int_equal(tsdb_chunk_enc_append(&e, 199, 9.0), PL_ERR_OUT_OF_ORDER);
    assert_int_equal(tsdb_chunk_enc_append(&e, INT64_MIN, 9.0), PL_ERR_OUT_OF_ORDER);
    /* The rejected samples left no trace. */
    assert_int_equal(tsdb_chunk_enc_append(&e, ts[2], vs[2]), 0);
    assert_int_equal(tsdb_chunk_enc_append(&e, ts[3], vs[3]), 0);
    size_t len;
    const uint8_t *p = tsdb_chunk_enc_bytes(&e, &len);
    test_check_decodes(p, len, ts, vs, 4);
    tsdb_chunk_enc_fini(&e);
}

static void test_chunk_gorilla_reset_reuses_encoder(void **state)
{
    struct tsdb_chunk_enc e;
    tsdb_chunk_enc_init(&e);
    int64_t ts[300];
    double vs[300];
    for (int i = 0; i < 300; i++) {
        ts[i] = 1000LL * i * i;
        vs[i] = test_u2f(0x123456789abcdefull * (uint64_t)(i + 1));
    }
    append_all(&e, ts, vs, 300, 0);
    tsdb_chunk_enc_reset(&e);
    size_t len;
    const uint8_t *p = tsdb_chunk_enc_bytes(&e, &len);
    test_check_decodes(p, len, NULL, NULL, 0);
    int64_t ts2[] = {5, 6, 7};
    double vs2[] = {0.1, 0.2, 0.3};
    append_all(&e, ts2, vs2, 3, 1);
    tsdb_chunk_enc_fini(&e);
}

static void test_chunk_gorilla_truncation_yields_prefix_or_corrupt(void **state)
{
    uint64_t rng = test_seed() ^ 0x55;
    int64_t ts[200];
    double vs[200];
    int64_t t = -7;
    for (int i = 0; i < 200; i++) {
        uint64_t r = test_rand(&rng);
        t += (int64_t)(r % 40000);
        ts[i] = t;
        vs[i] = (i % 13 == 0) ? test_u2f(STALE_NAN) : (double)(r >> 50) / 8.0;
    }
    struct tsdb_chunk_enc e;
    tsdb_chunk_enc_init(&e);
    append_all(&e, ts, vs, 200, 0);
    size_t len;
    const uint8_t *p = tsdb_chunk_enc_bytes(&e, &len);
    test_check_truncations(p, len, ts, vs, 200);
    tsdb_chunk_enc_fini(&e);
}

static void test_chunk_dec_rejects_bad_headers(void **state)
{
    struct tsdb_chunk_dec d;
    uint8_t unknown[] = {0x7e, 0, 1, 0, 0};
    assert_int_equal(tsdb_chunk_dec_init(&d, unknown, sizeof(unknown)), PL_ERR_CORRUPT);
    uint8_t shorthdr[] = {TSDB_ENC_GORILLA, 0};
    assert_int_equal(tsdb_chunk_dec_init(&d, shorthdr, sizeof(shorthdr)), PL_ERR_CORRUPT);
    assert_int_equal(tsdb_chunk_dec_init(&d, shorthdr, 0), PL_ERR_CORRUPT);
    /* n = 1 but the t0 varint never ends. */
    uint8_t cut_varint[] = {TSDB_ENC_GORILLA, 0, 1, 0x80, 0x80};
    assert_int_equal(tsdb_chunk_dec_init(&d, cut_varint, sizeof(cut_varint)), PL_ERR_CORRUPT);
    /* A raw chunk shorter than its count says. */
    uint8_t raw[3 + 16] = {TSDB_ENC_RAW, 0, 2};
    assert_int_equal(tsdb_chunk_dec_init(&d, raw, sizeof(raw)), PL_ERR_CORRUPT);
}

static void test_chunk_dec_rejects_corrupt_streams(void **state)
{
    struct tsdb_chunk_dec d;
    int64_t t;
    double v;
    /* Sample 1 uses the '10' value code before any window exists. */
    uint8_t nowin[] = {TSDB_ENC_GORILLA, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0};
    assert_int_equal(tsdb_chunk_dec_init(&d, nowin, sizeof(nowin)), 0);
    assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), 1);
    assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), PL_ERR_CORRUPT);
    /* The decoder stays failed. */
    assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), PL_ERR_CORRUPT);
    /* A '11' window with L + S > 64: L = 31, S = 40. */
    uint8_t widewin[] = {TSDB_ENC_GORILLA,
                         0,
                         2,
                         0,
                         0,
                         0,
                         0,
                         0,
                         0,
                         0,
                         0,
                         0,
                         0x7f,
                         0xe8,
                         0xff,
                         0xff,
                         0xff,
                         0xff,
                         0xff,
                         0xff};
    assert_int_equal(tsdb_chunk_dec_init(&d, widewin, sizeof(widewin)), 0);
    assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), 1);
    assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), PL_ERR_CORRUPT);
    /* A timestamp going backwards: dod -1 from t0 = 0. */
    uint8_t back[] = {TSDB_ENC_GORILLA, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbf, 0x80};
    assert_int_equal(tsdb_chunk_dec_init(&d, back, sizeof(back)), 0);
    assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), 1);
    assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), PL_ERR_CORRUPT);
}

static void test_chunk_dec_seek_finds_first_at_or_after(void **state)
{
    struct tsdb_chunk_enc e;
    tsdb_chunk_enc_init(&e);
    for (int i = 0; i < 100; i++)
        assert_int_equal(tsdb_chunk_enc_append(&e, 1000 + 10 * i, (double)i), 0);
    size_t len;
    const uint8_t *p = tsdb_chunk_enc_bytes(&e, &len);
    struct tsdb_chunk_dec d;
    int64_t t;
    double v;
    assert_int_equal(tsdb_chunk_dec_init(&d, p, len), 0);
    assert_int_equal(tsdb_chunk_dec_seek(&d, 0, &t, &v), 1);
    assert_int_equal(t, 1000);
    /* The current sample already qualifies: no movement. */
    assert_int_equal(tsdb_chunk_dec_seek(&d, 1000, &t, &v), 1);
    assert_int_equal(t, 1000);
    assert_int_equal(tsdb_chunk_dec_seek(&d, 1255, &t, &v), 1);
    assert_int_equal(t, 1260);
    assert_true(v == 26.0);
    /* Seek never goes backwards. */
    assert_int_equal(tsdb_chunk_dec_seek(&d, 1100, &t, &v), 1);
    assert_int_equal(t, 1260);
    assert_int_equal(tsdb_chunk_dec_next(&d, &t, &v), 1);
    assert_int_equal(t, 1270);
    assert_int_equal(tsdb_chunk_dec_seek(&d, 1990, &t, &v), 1);
    assert_int_equal(t, 1990);
    assert_int_equal(tsdb_chunk_dec_seek(&d, 1991, &t, &v), 0);
    tsdb_chunk_enc_fini(&e);
}

static void test_chunk_raw_round_trips_and_batches(void **state)
{
    int64_t ts[] = {-3, -3, 0, 99};
    double vs[] = {test_u2f(STALE_NAN), -0.0, INFINITY, 1e300};
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(tsdb_chunk_encode_samples(ts, vs, 4, TSDB_ENC_RAW, &b), 0);
    assert_int_equal(b.len, 3 + 4 * 16);
    test_check_decodes((uint8_t *)b.data, b.len, ts, vs, 4);
    test_check_truncations((uint8_t *)b.data, b.len, ts, vs, 4);

    struct tsdb_chunk_dec d;
    int64_t ot[3];
    double ov[3];
    assert_int_equal(tsdb_chunk_dec_init(&d, (uint8_t *)b.data, b.len), 0);
    assert_int_equal(tsdb_chunk_dec_batch(&d, ot, ov, 3), 3);
    assert_int_equal(ot[2], 0);
    assert_int_equal(tsdb_chunk_dec_batch(&d, ot, ov, 3), 1);
    assert_int_equal(ot[0], 99);
    assert_int_equal(tsdb_chunk_dec_batch(&d, ot, ov, 3), 0);

    int64_t bad[] = {5, 4};
    assert_int_equal(tsdb_chunk_encode_samples(bad, vs, 2, TSDB_ENC_GORILLA, &b),
                     PL_ERR_OUT_OF_ORDER);
    assert_int_equal(tsdb_chunk_encode_samples(ts, vs, 2, 0x55, &b), PL_ERR_INVALID);
    pl_buf_fini(&b);
}

int test_chunk_gorilla_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_gorilla_worked_example_matches_format_comment),
        cmocka_unit_test(test_chunk_gorilla_empty_chunk_has_no_samples),
        cmocka_unit_test(test_chunk_gorilla_single_sample_round_trips),
        cmocka_unit_test(test_chunk_gorilla_special_values_are_bit_exact),
        cmocka_unit_test(test_chunk_gorilla_extreme_timestamps_round_trip),
        cmocka_unit_test(test_chunk_gorilla_every_dod_bucket_boundary_round_trips),
        cmocka_unit_test(test_chunk_gorilla_random_round_trips),
        cmocka_unit_test(test_chunk_gorilla_accepts_max_samples_then_limit),
        cmocka_unit_test(test_chunk_gorilla_rejects_out_of_order),
        cmocka_unit_test(test_chunk_gorilla_reset_reuses_encoder),
        cmocka_unit_test(test_chunk_gorilla_truncation_yields_prefix_or_corrupt),
        cmocka_unit_test(test_chunk_dec_rejects_bad_headers),
        cmocka_unit_test(test_chunk_dec_rejects_corrupt_streams),
        cmocka_unit_test(test_chunk_dec_seek_finds_first_at_or_after),
        cmocka_unit_test(test_chunk_raw_round_trips_and_batches),
    };
    return cmocka_run_group_tests_name("chunk_gorilla", tests, NULL, NULL);
}
