/*
 * chunk_stream.c - the adaptive streaming chunk codec (TSDB_ENC_STREAM).
 *
 * An alternative to Gorilla (Pelkonen et al., VLDB 2015) for open chunks:
 * still one pass, one sample at a time, readable at any moment, but values
 * that are decimals become integers m / 10^e coded as differences (order 1
 * or 2, whichever has cost less so far), and both timestamp deviations and
 * value residuals use Rice codes whose parameter follows a running mean of
 * recent residuals, as in LOCO-I/JPEG-LS (Weinberger, Seroussi, Sapiro,
 * IEEE Trans. Image Processing 9(8), 2000). Encoder and decoder run the
 * same adaptation, so no parameters are stored. Layout: the
 * TSDB_ENC_STREAM table in chunk_int.h.
 */
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "tsdb/chunk.h"
#include "tsdb/chunk_int.h"

/* 10^e as exact doubles and as integers, e = 0..18. */
static const double p10d[TSDB__MAX_SCALE + 1] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                                 1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                                 1e14, 1e15, 1e16, 1e17, 1e18};
static const int64_t p10i[TSDB__MAX_SCALE + 1] = {1LL,
                                                  10LL,
                                                  100LL,
                                                  1000LL,
                                                  10000LL,
                                                  100000LL,
                                                  1000000LL,
                                                  10000000LL,
                                                  100000000LL,
                                                  1000000000LL,
                                                  10000000000LL,
                                                  100000000000LL,
                                                  1000000000000LL,
                                                  10000000000000LL,
                                                  100000000000000LL,
                                                  1000000000000000LL,
                                                  10000000000000000LL,
                                                  100000000000000000LL,
                                                  1000000000000000000LL};

#define XOR_SCALE  0xff         /* values use Gorilla's XOR code */
#define ADAPT_CAP  (1ull << 40) /* largest residual a running sum takes in */
#define ADAPT_HALF 32           /* counts at which running sums halve */

/*
 * The Rice parameter for a running sum a over n residuals (n >= 1): about
 * log2 of the mean, from bit lengths rather than a division (two per
 * sample would dominate decoding).
 */
static inline unsigned adapt_k(uint64_t a, unsigned n)
{
    unsigned la = tsdb__bitlen(a), ln = tsdb__bitlen(n);
    unsigned k = la > ln ? la - ln : 0;
    return k > 62 ? 62 : k;
}

static inline void adapt_time(uint64_t *a, uint8_t *n, uint64_t x)
{
    *a += x < ADAPT_CAP ? x : ADAPT_CAP;
    if (++*n >= ADAPT_HALF) {
        *a >>= 1;
        *n = ADAPT_HALF / 2;
    }
}

/*
 * After a value with integer m (previous m0, previous difference md0):
 * updates the running sum of the residual actually coded (x), and the costs
 * of both predictors, which pick the next one.
 */
/*
 * Predictor costs add the bit length of each zigzagged residual, roughly
 * its coding cost: at most 32 * 64 before halving, so 16 bits suffice.
 */
static inline void adapt_value(uint64_t *a, uint8_t *n, uint16_t *e1, uint16_t *e2, uint64_t x,
                               uint64_t r1, uint64_t r2)
{
    *a += x < ADAPT_CAP ? x : ADAPT_CAP;
    *e1 = (uint16_t)(*e1 + tsdb__bitlen(tsdb__zigzag((int64_t)r1)));
    *e2 = (uint16_t)(*e2 + tsdb__bitlen(tsdb__zigzag((int64_t)r2)));
    if (++*n >= ADAPT_HALF) {
        *a >>= 1;
        *e1 >>= 1;
        *e2 >>= 1;
        *n = ADAPT_HALF / 2;
    }
}

/*
 * The interval later timestamps are predicted with: the first one, rounded
 * to whole seconds when it is at least one (scrape and evaluation intervals
 * are), so the first two samples' jitter does not bias every prediction.
 */
static inline uint64_t nominal_interval(uint64_t delta)
{
    if (delta < 1000 || delta > ((uint64_t)1 << 62))
        return delta;
    return (delta + 500) / 1000 * 1000;
}

/* Smallest scale e >= from with (double)m / 10^e == v, or -1 (v finite, not -0.0). */
static int scale_of(double v, int from, int64_t *m)
{
    for (int e = from; e <= TSDB__MAX_SCALE; e++) {
        double x = v * p10d[e];
        if (!(x < 9.2e18 && x > -9.2e18))
            return -1;
        double r = x;
        if (x < 4503599627370496.0 && x > -4503599627370496.0)
            r = (x + 6755399441055744.0) - 6755399441055744.0;
        int64_t mi = (int64_t)r;
        if ((double)mi / p10d[e] == v) {
            *m = mi;
            return e;
        }
    }
    return -1;
}

/*
 * The decimal model is worth it only for integers well inside the double
 * mantissa: a random float "fits" at 17 digits, but as an integer it costs
 * more than its XOR code.
 */
#define DEC_MAX_SCALE 15
#define DEC_MAX_ABS   (1LL << 53)

static int decimal_ok(int sc, int64_t m)
{
    return sc >= 0 && sc <= DEC_MAX_SCALE && m < DEC_MAX_ABS && m > -DEC_MAX_ABS;
}

static int is_special(uint64_t u)
{
    return (u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull || u == 0x8000000000000000ull;
}

/* Writes a value marker: the Rice escape with an impossible length field. */
static void put_marker(uint8_t *buf, size_t *bl, unsigned marker)
{
    *bl += TSDB__RICE_ESCAPE;
    tsdb__bits_put(buf, bl, marker, 6);
}

/*
 * Codes one sample into buf (zero-filled past bit *bl, with room for
 * STAGE_BYTES) and updates e's state; e->buf and e->bitlen are untouched.
 */
static void stream_code(struct tsdb_chunk_enc *e, uint8_t *buf, size_t *bl, int64_t t, uint64_t vb)
{
    double v = tsdb__u2f(vb);
    if (e->n == 0) {
        int64_t m = 0;
        int sc = is_special(vb) ? -1 : scale_of(v, 0, &m);
        if (!decimal_ok(sc, m))
            sc = -1;
        size_t pos = 0;
        buf[pos++] = TSDB_ENC_STREAM;
        pos += 2;
        buf[pos++] = (uint8_t)(sc < 0 ? XOR_SCALE : sc);
        pos += tsdb__uvarint_put(buf + pos, tsdb__zigzag(t));
        if (sc >= 0)
            pos += tsdb__uvarint_put(buf + pos, tsdb__zigzag(m));
        *bl = pos * 8;
        if (sc < 0)
            tsdb__bits_put_long(buf, bl, vb, 64);
        e->scale = (uint8_t)(sc < 0 ? XOR_SCALE : sc);
        e->m = m;
        e->md = 0;
        e->at = e->av = e->e1 = e->e2 = 0;
        e->nt = e->nv = 1;
        e->nexc = 0;
        e->shift = 0;
        e->leading = 0xff;
        e->t_first = e->t_last = t;
        e->t_delta = 0;
        e->v_last = vb;
        return;
    }

    /* Timestamp: deviation from the first interval (the first: from 0). */
    uint64_t delta = (uint64_t)t - (uint64_t)e->t_last;
    uint64_t x = tsdb__zigzag((int64_t)(delta - (uint64_t)e->t_delta));
    tsdb__code_put(buf, bl, x, TSDB__DESC_RICE + adapt_k(e->at, e->nt));
    /* The first interval is no deviation: it must not inflate the parameter. */
    if (e->n == 1)
        e->t_delta = (int64_t)nominal_interval(delta);
    else
        adapt_time(&e->at, &e->nt, x);
    e->t_last = t;

    if (e->scale == XOR_SCALE) {
        tsdb__chunk_xor_put(buf, bl, vb ^ e->v_last, &e->leading, &e->trailing);
        e->v_last = vb;
        return;
    }
    int64_t m = 0;
    int sc = is_special(vb) ? -1 : scale_of(v, e->scale, &m);
    if (!decimal_ok(sc, m))
        sc = -1;
    if (sc > e->scale) {
        /* More digits than so far: rescale the history, if it fits. */
        int64_t f = p10i[sc - e->scale], m2, md2;
        if (__builtin_mul_overflow(e->m, f, &m2) || __builtin_mul_overflow(e->md, f, &md2) ||
            !decimal_ok(sc, m2)) {
            sc = -1;
        } else {
            put_marker(buf, bl, TSDB__STREAM_RESCALE);
            tsdb__bits_put(buf, bl, (uint64_t)sc, 5);
            e->scale = (uint8_t)sc;
            e->m = m2;
            e->md = md2;
        }
    }
    if (sc < 0) {
        if (e->nexc >= 3 && (uint32_t)e->nexc * 4 >= e->n) {
            /* Mostly not decimals: Gorilla's XOR code from here on. */
            put_marker(buf, bl, TSDB__STREAM_TO_XOR);
            e->scale = XOR_SCALE;
            e->leading = 0xff;
            tsdb__chunk_xor_put(buf, bl, vb ^ e->v_last, &e->leading, &e->trailing);
        } else {
            put_marker(buf, bl, TSDB__STREAM_EXCEPTION);
            tsdb__bits_put_long(buf, bl, vb, 64);
            e->nexc++;
        }
        e->v_last = vb;
        return;
    }
    uint64_t r1 = (uint64_t)m - (uint64_t)e->m, r2 = r1 - (uint64_t)e->md;
    uint64_t r = e->e2 < e->e1 ? r2 : r1;
    /*
     * Residuals that are all multiples of 2^s (memory in pages, disk bytes
     * in sectors) are coded shifted right by s. The first residual sets s;
     * one that breaks it lowers s with a marker.
     */
    unsigned tz = r ? (unsigned)__builtin_ctzll(r) : 63;
    if (tz > 56)
        tz = 56;
    if ((e->n == 1 && tz >= 3) || tz < e->shift) {
        put_marker(buf, bl, TSDB__STREAM_SHIFT);
        tsdb__bits_put(buf, bl, tz, 6);
        e->shift = (uint8_t)tz;
    }
    uint64_t xv = tsdb__zigzag((int64_t)r >> e->shift);
    tsdb__code_put(buf, bl, xv, TSDB__DESC_RICE + adapt_k(e->av, e->nv));
    adapt_value(&e->av, &e->nv, &e->e1, &e->e2, xv, r1, r2);
    e->md = (int64_t)r1;
    e->m = m;
    e->v_last = vb;
}

/*
 * One sample codes to at most 30 bytes (a rescale and a shift marker before
 * an escaped value code, after an escaped time code; the first sample 32),
 * and the bit writer stores 8 bytes at a time.
 */
#define STAGE_BYTES 64

/*
 * Open chunks are the largest per-series allocation of the head, so the
 * buffer holds the coded bytes and no slack: a sample is coded into a stack
 * buffer that starts at the last partial byte, then copied in. The buffer
 * grows to the next malloc size class (16 n + 8 bytes with glibc), a
 * reallocation every 10 or so samples.
 */
int tsdb__chunk_stream_append(struct tsdb_chunk_enc *e, int64_t t, uint64_t vb)
{
    uint8_t stage[STAGE_BYTES];
    memset(stage, 0, sizeof(stage));
    size_t base = e->n ? e->bitlen / 8 : 0;
    size_t bl = e->n ? e->bitlen % 8 : 0;
    if (bl)
        stage[0] = e->buf[base];
    stream_code(e, stage, &bl, t, vb);
    size_t nb = (bl + 7) / 8, need = base + nb;
    if (need > e->cap) {
        size_t cap = (need + 7) / 16 * 16 + 8;
        e->buf = pl_xrealloc(e->buf, cap);
        e->cap = cap;
    }
    memcpy(e->buf + base, stage, nb);
    e->bitlen = base * 8 + bl;
    return 0;
}

/* ---- decoder ---- */

int tsdb__chunk_stream_init(struct tsdb_chunk_dec *d)
{
    if (d->n == 0) {
        d->bitpos = d->len * 8;
        return 0;
    }
    size_t off = TSDB__CHUNK_HDR;
    if (off >= d->len)
        return PL_ERR_CORRUPT;
    d->mode = d->p[off++];
    if (d->mode != XOR_SCALE && d->mode > TSDB__MAX_SCALE)
        return PL_ERR_CORRUPT;
    uint64_t u;
    if (tsdb__uvarint_get(d->p, d->len, &off, &u) < 0)
        return PL_ERR_CORRUPT;
    d->t0 = (uint64_t)tsdb__unzigzag(u);
    d->m = 0;
    if (d->mode != XOR_SCALE) {
        if (tsdb__uvarint_get(d->p, d->len, &off, &u) < 0)
            return PL_ERR_CORRUPT;
        d->m = (uint64_t)tsdb__unzigzag(u);
        d->div = p10d[d->mode];
    }
    d->md = 0;
    d->tD = 0;
    d->state[0] = d->state[1] = 0;
    d->se1 = d->se2 = 0;
    d->snt = d->snv = 1;
    d->seen = 0; /* the residual shift */
    d->leading = 0xff;
    d->bitpos = off * 8;
    return 0;
}

static inline __attribute__((always_inline)) int stream_step(struct tsdb_chunk_dec *d,
                                                             struct tsdb__br *b)
{
    if (d->i == 0) {
        d->t = (int64_t)d->t0;
        if (d->mode == XOR_SCALE)
            d->v = tsdb__br_read_long(b, 64);
        else
            d->v = tsdb__chunk_dec_value(d->m, d->div);
    } else {
        uint64_t x = tsdb__code_read(b, TSDB__DESC_RICE + adapt_k(d->state[0], d->snt));
        uint64_t delta = d->tD + (uint64_t)tsdb__unzigzag(x);
        if (d->i == 1)
            d->tD = nominal_interval(delta);
        else
            adapt_time(&d->state[0], &d->snt, x);
        int64_t nt = (int64_t)((uint64_t)d->t + delta);
        if (nt < d->t)
            return PL_ERR_CORRUPT;
        d->t = nt;
        if (d->mode == XOR_SCALE) {
            if (tsdb__chunk_xor_read(b, &d->v, &d->leading, &d->trailing) < 0)
                return PL_ERR_CORRUPT;
        } else {
            unsigned k = adapt_k(d->state[1], d->snv);
            uint64_t w = tsdb__br_peek(b);
            /* Markers: 16 zero bits and a length field below 4 (see chunk_int.h). */
            if ((w >> (64 - TSDB__RICE_ESCAPE)) == 0 &&
                ((w << TSDB__RICE_ESCAPE) >> 58) < TSDB__STREAM_MARKERS) {
                unsigned marker = (unsigned)((w << TSDB__RICE_ESCAPE) >> 58);
                b->pos += TSDB__RICE_ESCAPE + 6;
                if (marker == TSDB__STREAM_EXCEPTION) {
                    d->v = tsdb__br_read_long(b, 64);
                    goto done;
                }
                if (marker == TSDB__STREAM_TO_XOR) {
                    d->mode = XOR_SCALE;
                    d->leading = 0xff;
                    if (tsdb__chunk_xor_read(b, &d->v, &d->leading, &d->trailing) < 0)
                        return PL_ERR_CORRUPT;
                    goto done;
                }
                if (marker == TSDB__STREAM_SHIFT) {
                    unsigned sh = (unsigned)tsdb__br_read(b, 6);
                    if (sh > 56)
                        return PL_ERR_CORRUPT;
                    d->seen = (uint8_t)sh;
                    goto value;
                }
                unsigned sc = (unsigned)tsdb__br_read(b, 5);
                if (sc <= d->mode || sc > TSDB__MAX_SCALE)
                    return PL_ERR_CORRUPT;
                /* Wrapping is harmless here: the encoder checked for overflow. */
                uint64_t f = (uint64_t)p10i[sc - d->mode];
                d->m *= f;
                d->md *= f;
                d->mode = (uint8_t)sc;
                d->div = p10d[sc];
            }
            /* A rescale can be followed by a shift marker. */
            w = tsdb__br_peek(b);
            if ((w >> (64 - TSDB__RICE_ESCAPE)) == 0 &&
                ((w << TSDB__RICE_ESCAPE) >> 58) == TSDB__STREAM_SHIFT) {
                b->pos += TSDB__RICE_ESCAPE + 6;
                unsigned sh = (unsigned)tsdb__br_read(b, 6);
                if (sh > 56)
                    return PL_ERR_CORRUPT;
                d->seen = (uint8_t)sh;
            }
        value:;
            uint64_t xv = tsdb__code_read(b, TSDB__DESC_RICE + k);
            uint64_t r = (uint64_t)tsdb__unzigzag(xv) << d->seen;
            uint64_t r1 = d->se2 < d->se1 ? r + d->md : r;
            adapt_value(&d->state[1], &d->snv, &d->se1, &d->se2, xv, r1, r1 - d->md);
            d->md = r1;
            d->m += r1;
            d->v = tsdb__chunk_dec_value(d->m, d->div);
        }
    }
done:
    if (tsdb__br_overrun(b))
        return PL_ERR_CORRUPT;
    d->i++;
    return 0;
}

TSDB__CHUNK_DECODERS(tsdb__chunk_stream, stream_step)
