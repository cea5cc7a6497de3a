/*
 * fuzz_chunk_decode.c - the chunk decoder on arbitrary bytes, and
 * encode -> seal -> decode of samples derived from the same bytes.
 *
 * Decoding must never read out of bounds, loop, or yield timestamps going
 * backwards; every codec must round-trip the derived samples bit for bit
 * (formats in tsdb/chunk_int.h). Any violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "tsdb/chunk.h"

#define MAX_INPUT   (1 << 16)
#define MAX_SAMPLES 4096

static void check(int ok)
{
    if (!ok)
        abort();
}

static uint64_t f2u(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
}

static double u2f(uint64_t u)
{
    double v;
    memcpy(&v, &u, 8);
    return v;
}

/* Decodes p fully; returns the samples seen, or -1 when it was rejected. */
static long decode_all(const uint8_t *p, size_t n)
{
    struct tsdb_chunk_dec d;
    if (tsdb_chunk_dec_init(&d, p, n) < 0)
        return -1;
    int64_t t, prev = INT64_MIN;
    double v;
    long k = 0;
    int rc;
    while ((rc = tsdb_chunk_dec_next(&d, &t, &v)) == 1) {
        check(t >= prev);
        prev = t;
        k++;
        check(k <= tsdb_chunk_dec_count(&d));
    }
    check(rc == 0 || rc == PL_ERR_CORRUPT);
    if (rc == 0)
        check(k == tsdb_chunk_dec_count(&d));
    return rc == 0 ? k : -1;
}

static void check_decodes(const struct pl_buf *b, const int64_t *ts, const double *vs, size_t n)
{
    struct tsdb_chunk_dec d;
    check(tsdb_chunk_dec_init(&d, (const uint8_t *)b->data, b->len) == 0);
    check(tsdb_chunk_dec_count(&d) == n);
    for (size_t i = 0; i < n; i++) {
        int64_t t;
        double v;
        check(tsdb_chunk_dec_next(&d, &t, &v) == 1);
        check(t == ts[i] && f2u(v) == f2u(vs[i]));
    }
    int64_t t;
    double v;
    check(tsdb_chunk_dec_next(&d, &t, &v) == 0);
}

/* Turns bytes into samples shaped like real and hostile data. */
static size_t derive(const uint8_t *p, size_t n, int64_t *ts, double *vs)
{
    static const uint64_t special[] = {0x7ff0000000000002ull, 0x7ff8000000000000ull,
                                       0x7ff0000000000000ull, 0xfff0000000000000ull,
                                       0x8000000000000000ull, 0x0000000000000001ull};
    size_t k = 0;
    int64_t t = n ? (int64_t)((uint64_t)p[0] << 56) : 0;
    double v = 0;
    for (size_t i = 0; i + 3 <= n && k < MAX_SAMPLES; i += 3) {
        uint8_t a = p[i], b = p[i + 1], c = p[i + 2];
        uint64_t dt;
        switch (a & 3) {
        case 0:
            dt = 0;
            break;
        case 1:
            dt = 15000 + (uint64_t)(b % 7);
            break;
        case 2:
            dt = (uint64_t)b * c;
            break;
        default:
            dt = (uint64_t)b << (c % 63);
            break;
        }
        /* Saturate at INT64_MAX: the codecs need non-decreasing input. */
        uint64_t room = (uint64_t)INT64_MAX - (uint64_t)t;
        t = dt > room ? INT64_MAX : (int64_t)((uint64_t)t + dt);
        switch ((a >> 2) & 7) {
        case 0:
            break;
        case 1:
            v += (double)c / 100.0;
            break;
        case 2:
            v = (double)((int64_t)b * 256 + c) * 1024;
            break;
        case 3:
            v = u2f(special[c % 6]);
            break;
        case 4:
            v = u2f(((uint64_t)a << 56) | ((uint64_t)b << 28) | c);
            break;
        case 5:
            v = (double)(int8_t)c / 4.0;
            break;
        case 6:
            v += (double)b * 1e15;
            break;
        default:
            v = (double)(b % 3) + 0.1 * c;
            break;
        }
        ts[k] = t;
        vs[k] = v;
        k++;
    }
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    /* A private copy so the sanitizer sees reads past the end. */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    long k = decode_all(copy, size);
    if (k >= 0) {
        struct pl_buf s;
        pl_buf_init(&s, 1 << 24);
        check(tsdb_chunk_seal(copy, size, &s) == 0);
        check(decode_all((const uint8_t *)s.data, s.len) == k);
        pl_buf_fini(&s);
    }
    free(copy);

    static int64_t ts[MAX_SAMPLES];
    static double vs[MAX_SAMPLES];
    size_t n = derive(data, size, ts, vs);
    struct tsdb_chunk_enc e;
    tsdb_chunk_enc_init(&e);
    for (size_t i = 0; i < n; i++)
        check(tsdb_chunk_enc_append(&e, ts[i], vs[i]) == 0);
    size_t len;
    const uint8_t *p = tsdb_chunk_enc_bytes(&e, &len);
    struct pl_buf g, s, pk;
    pl_buf_init(&g, 1 << 24);
    pl_buf_init(&s, 1 << 24);
    pl_buf_init(&pk, 1 << 24);
    check(pl_buf_append(&g, p, len) == 0);
    check_decodes(&g, ts, vs, n);
    check(tsdb_chunk_seal(p, len, &s) == 0);
    check(s.len <= len);
    check_decodes(&s, ts, vs, n);
    if (n > 0) {
        check(tsdb_chunk_encode_samples(ts, vs, n, TSDB_ENC_PACKED, &pk) == 0);
        check_decodes(&pk, ts, vs, n);
    }
    /* The adaptive streaming encoder, and sealing its chunk. */
    pl_buf_reset(&pk);
    pl_buf_reset(&s);
    check(tsdb_chunk_encode_samples(ts, vs, n, TSDB_ENC_STREAM, &pk) == 0);
    check_decodes(&pk, ts, vs, n);
    check(tsdb_chunk_seal((const uint8_t *)pk.data, pk.len, &s) == 0);
    check_decodes(&s, ts, vs, n);
    pl_buf_fini(&g);
    pl_buf_fini(&s);
    pl_buf_fini(&pk);
    tsdb_chunk_enc_fini(&e);
    return 0;
}
