/*
 * chunk_packed.c - the packed chunk codec, chosen at seal time.
 *
 * Gorilla (Pelkonen et al., VLDB 2015) codes every chunk with the same
 * fixed buckets. A sealed chunk is immutable, so we can look at all of it
 * first and pick, per chunk:
 * - a timestamp model: a fixed grid t0 + i*D (Prometheus schedules scrapes,
 *   so jitter does not accumulate), deltas over the smallest delta, or
 *   delta-of-delta;
 * - a value model: values that are decimals with few digits (counters,
 *   bytes, load averages, histogram counts) become integers m / 10^e, coded
 *   as differences of order 0, 1 or 2 divided by their common divisor
 *   (memory in pages, sizes in KiB); other values use Gorilla's XOR code.
 *   Samples a decimal model cannot reproduce bit for bit (stale markers,
 *   NaN, -0.0, odd floats) are stored raw as exceptions;
 * - for each residual stream, the cheapest of: nothing (all zero), a fixed
 *   width, or a Golomb-Rice code with the best parameter (Golomb, "Run-length
 *   encodings", 1966; Rice, 1979), whose escape bounds outliers.
 * The layout is the TSDB_ENC_PACKED table in chunk_int.h.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "tsdb/chunk.h"
#include "tsdb/chunk_int.h"

/* 10^e as doubles (all exact) and as integers, e = 0..18. */
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

/* ---- encoder ---- */

/* A residual stream's code: descriptor, kv for zero-run codes, total bits. */
struct code_choice {
    unsigned desc, kv;
    uint64_t bits;
};

static uint64_t rice_bits(const uint64_t *x, size_t n, unsigned k)
{
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++)
        bits += tsdb__code_bits(x[i], TSDB__DESC_RICE + k);
    return bits;
}

/*
 * The best Rice parameter for x[0..n): near log2 of the mean (for a
 * geometric distribution, k ~ log2(mean * ln 2)). The cost over k is
 * convex but for escapes, so instead of pricing all of [kc - 3, kc + 1]
 * (a pass over x each) the search starts at kc - 1 and walks downhill,
 * preferring the lower k on a tie as a full scan would: 2-3 passes.
 */
static unsigned best_rice(const uint64_t *x, size_t n, uint64_t *bits)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)x[i];
    double mean = n ? sum / (double)n : 0;
    unsigned kc = mean >= 1.0 ? tsdb__bitlen((uint64_t)(mean < 1.8e19 ? mean : 1.8e19)) : 0;
    unsigned lo = kc > 3 ? kc - 3 : 0, hi = kc + 1 < 62 ? kc + 1 : 62;
    unsigned k = kc > lo ? kc - 1 : lo;
    if (k > hi)
        k = hi;
    uint64_t b = rice_bits(x, n, k);
    int moved = 0;
    while (k > lo) {
        uint64_t d = rice_bits(x, n, k - 1);
        if (d > b)
            break;
        b = d;
        k--;
        moved = 1;
    }
    while (!moved && k < hi) {
        uint64_t u = rice_bits(x, n, k + 1);
        if (u >= b)
            break;
        b = u;
        k++;
    }
    *bits = b;
    return k;
}

/* Splits x into zero-run lengths and nonzero values minus one (see Codes). */
static void split_runs(const uint64_t *x, size_t n, uint64_t *runs, size_t *nruns, uint64_t *nz,
                       size_t *nnz)
{
    size_t j = 0, r = 0, v = 0;
    while (j < n) {
        size_t z = 0;
        while (j + z < n && x[j + z] == 0)
            z++;
        runs[r++] = z;
        j += z;
        if (j < n)
            nz[v++] = x[j++] - 1;
    }
    *nruns = r;
    *nnz = v;
}

/* The cheapest code for residuals x[0..n); scratch holds 2n + 2 entries. */
static struct code_choice best_code(const uint64_t *x, size_t n, uint64_t *scratch)
{
    struct code_choice c = {0, 0, 0};
    uint64_t max = 0;
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) {
        max |= x[i];
        zeros += x[i] == 0;
    }
    if (max == 0)
        return c;
    /* Fixed width: the OR has the bit length of the maximum. */
    c.desc = tsdb__bitlen(max);
    c.bits = (uint64_t)n * c.desc;
    uint64_t bits;
    unsigned k = best_rice(x, n, &bits);
    if (bits < c.bits) {
        c.bits = bits;
        c.desc = TSDB__DESC_RICE + k;
    }
    if (zeros >= n / 8) {
        uint64_t *runs = scratch, *nz = scratch + n + 1;
        size_t nruns, nnz;
        split_runs(x, n, runs, &nruns, nz, &nnz);
        uint64_t zb, vb;
        unsigned kz = best_rice(runs, nruns, &zb);
        unsigned kv = best_rice(nz, nnz, &vb);
        /* The extra descriptor byte counts too. */
        if (zb + vb + 8 < c.bits) {
            c.bits = zb + vb + 8;
            c.desc = TSDB__DESC_RUN + kz;
            c.kv = kv;
        }
    }
    return c;
}

/*
 * Writes what the decoder reads for residual j of x[0..n) under code c,
 * mirroring tsdb__code_read_any (run state in *r).
 */
static void code_put_any(uint8_t *buf, size_t *bitlen, const uint64_t *x, size_t n, size_t j,
                         const struct code_choice *c, struct tsdb__run *r)
{
    if (c->desc < TSDB__DESC_RUN) {
        tsdb__code_put(buf, bitlen, x[j], c->desc);
        return;
    }
    if (r->pend) {
        r->pend--;
        return;
    }
    if (!r->have) {
        size_t z = 0;
        while (j + z < n && x[j + z] == 0)
            z++;
        tsdb__code_put(buf, bitlen, z, c->desc - TSDB__DESC_RUN + TSDB__DESC_RICE);
        if (z) {
            r->pend = (uint32_t)(z - 1);
            r->have = 1;
            return;
        }
    }
    r->have = 0;
    tsdb__code_put(buf, bitlen, x[j] - 1, TSDB__DESC_RICE + c->kv);
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/*
 * The k-th smallest of a[0..n) (k < n) by radix selection: one pass per
 * byte from the top, counting only values with the prefix chosen so far.
 * Linear in n whatever the input, unlike quickselect.
 */
static uint64_t select_u64(const uint64_t *a, size_t n, size_t k)
{
    /* Bytes above the highest one where any two values differ are common to all. */
    uint64_t diff = 0;
    for (size_t i = 1; i < n; i++)
        diff |= a[i] ^ a[0];
    if (diff == 0)
        return a[0];
    int top = (63 - __builtin_clzll(diff)) / 8 * 8;
    uint64_t mask = top == 56 ? 0 : ~((UINT64_C(1) << (top + 8)) - 1);
    uint64_t prefix = a[0] & mask;
    for (int shift = top; shift >= 0; shift -= 8) {
        size_t cnt[256] = {0};
        for (size_t i = 0; i < n; i++)
            if ((a[i] & mask) == prefix)
                cnt[(a[i] >> shift) & 0xff]++;
        unsigned b = 0;
        while (k >= cnt[b]) {
            k -= cnt[b];
            b++;
        }
        prefix |= (uint64_t)b << shift;
        mask |= (uint64_t)0xff << shift;
    }
    return prefix;
}

/* Work arrays for one encode, n entries each (scratch: 2n + 2). */
struct work {
    int64_t *m;        /* integer of each non-exception sample at the scale tried */
    int64_t *m1;       /* integer of sample i at its smallest scale */
    uint64_t *x;       /* residuals */
    uint64_t *scratch; /* for best_code and medians */
    uint8_t *exc;      /* 1 when sample i is an exception */
    int8_t *e;         /* smallest scale of sample i, -1 when none */
};

/* The timestamp model: mode, D and the residual code. */
struct tchoice {
    unsigned mode;
    uint64_t D;
    struct code_choice code;
};

/* Residuals of timestamps under (mode, D) into x[0..n-1) (samples 1..n-1). */
static void t_residuals(const int64_t *ts, size_t n, unsigned mode, uint64_t D, uint64_t *x)
{
    uint64_t t0 = (uint64_t)ts[0], prev_delta = D;
    for (size_t i = 1; i < n; i++) {
        uint64_t delta = (uint64_t)ts[i] - (uint64_t)ts[i - 1];
        switch (mode) {
        case 0:
            x[i - 1] = tsdb__zigzag((int64_t)((uint64_t)ts[i] - t0 - (uint64_t)i * D));
            break;
        case 1:
            x[i - 1] = delta - D;
            break;
        default:
            x[i - 1] = tsdb__zigzag((int64_t)(delta - prev_delta));
            prev_delta = delta;
            break;
        }
    }
}

static void t_try(struct tchoice *best, const int64_t *ts, size_t n, unsigned mode, uint64_t D,
                  struct work *w)
{
    t_residuals(ts, n, mode, D, w->x);
    struct code_choice c = best_code(w->x, n - 1, w->scratch);
    if (best->code.bits == UINT64_MAX || c.bits < best->code.bits) {
        best->mode = mode;
        best->D = D;
        best->code = c;
    }
}

static struct tchoice choose_time(const int64_t *ts, size_t n, struct work *w)
{
    struct tchoice best = {0, 0, {0, 0, UINT64_MAX}};
    if (n < 2) {
        best.code.bits = 0;
        return best;
    }
    uint64_t *deltas = w->scratch;
    uint64_t span = (uint64_t)ts[n - 1] - (uint64_t)ts[0];
    uint64_t mindelta = UINT64_MAX;
    for (size_t i = 1; i < n; i++) {
        deltas[i - 1] = (uint64_t)ts[i] - (uint64_t)ts[i - 1];
        if (deltas[i - 1] < mindelta)
            mindelta = deltas[i - 1];
    }
    uint64_t first = deltas[0];
    uint64_t median = select_u64(deltas, n - 1, (n - 2) / 2);
    uint64_t mean = span / (n - 1) + (span % (n - 1) >= n / 2);
    /* A model that costs no bits cannot be beaten (a later one must be cheaper to win). */
    t_try(&best, ts, n, 0, median, w);
    if (best.code.bits == 0)
        return best;
    if (mean != median)
        t_try(&best, ts, n, 0, mean, w);
    if (best.code.bits == 0)
        return best;
    t_try(&best, ts, n, 1, mindelta, w);
    if (best.code.bits == 0)
        return best;
    t_try(&best, ts, n, 2, first, w);
    return best;
}

/*
 * The smallest scale e (0..18) with (double)m / 10^e == v, or -1. v is
 * finite and not -0.0.
 */
static int decimal_scale(double v, int64_t *m)
{
    for (int e = 0; e <= TSDB__MAX_SCALE; e++) {
        double x = v * p10d[e];
        if (!(x < 9.2e18 && x > -9.2e18))
            return -1;
        /* Round to nearest: adding 1.5 * 2^52 pushes the fraction out. */
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

/* The value model for the decimal kind. */
struct vchoice {
    unsigned scale, order;
    uint64_t g;
    int64_t m0, bias;
    size_t nexc;
    struct code_choice code;
    uint64_t total_bits; /* code bits plus header and exception bytes */
};

static size_t uvarint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/*
 * Residuals of order `order` (with bias for order 1) over the non-exception
 * integers m[0..k), divided by their gcd (*g), zigzagged into x[0..k-1).
 * known_g, when not 0, is that gcd, already computed (see v_try_scale).
 */
static void v_residuals(const int64_t *m, size_t k, unsigned order, int64_t bias, uint64_t *x,
                        uint64_t known_g, uint64_t *g)
{
    uint64_t prev_delta = 0, gg = known_g;
    for (size_t j = 1; j < k; j++) {
        uint64_t delta = (uint64_t)m[j] - (uint64_t)m[j - 1];
        uint64_t r;
        if (order == 0)
            r = (uint64_t)m[j] - (uint64_t)m[0];
        else if (order == 1)
            r = delta - (uint64_t)bias;
        else
            r = delta - prev_delta;
        prev_delta = delta;
        x[j - 1] = r;
        uint64_t a = (int64_t)r < 0 ? (uint64_t)0 - r : r;
        if (!known_g && gg != 1)
            gg = gcd64(gg, a);
    }
    if (gg <= 1) {
        /* Most streams: no divisor, and a 64-bit division per residual is costly. */
        gg = 1;
        for (size_t j = 1; j < k; j++)
            x[j - 1] = tsdb__zigzag((int64_t)x[j - 1]);
    } else {
        for (size_t j = 1; j < k; j++)
            x[j - 1] = tsdb__zigzag((int64_t)x[j - 1] / (int64_t)gg);
    }
    *g = gg;
}

/*
 * Marks exceptions and fills w->m for scale E: samples whose smallest scale
 * exceeds E or that do not survive E become exceptions. Returns the number
 * of non-exception samples; *exc_bytes gets the size of the exception list.
 */
static size_t v_scale(const uint64_t *vs, size_t n, unsigned E, struct work *w, size_t *nexc,
                      size_t *exc_bytes)
{
    size_t k = 0, last_exc = 0;
    *nexc = *exc_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = 0;
        int64_t mm = 0;
        if (w->e[i] >= 0 && (unsigned)w->e[i] <= E &&
            !__builtin_mul_overflow(w->m1[i], p10i[E - (unsigned)w->e[i]], &mm))
            ok = tsdb__f2u((double)mm / p10d[E]) == vs[i];
        w->exc[i] = (uint8_t)!ok;
        if (ok) {
            w->m[k++] = mm;
        } else {
            *exc_bytes += 8 + uvarint_len(*nexc ? i - last_exc - 1 : i);
            last_exc = i;
            (*nexc)++;
        }
    }
    return k;
}

static void v_try(struct vchoice *best, size_t k, unsigned E, unsigned order, int64_t bias,
                  uint64_t known_g, size_t nexc, size_t exc_bytes, struct work *w)
{
    uint64_t g;
    v_residuals(w->m, k, order, bias, w->x, known_g, &g);
    struct code_choice c = best_code(w->x, k - 1, w->scratch);
    /* Scale byte, m0, optional bias, gcd, exception count, list, kv byte. */
    size_t hdr = 1 + uvarint_len(tsdb__zigzag(w->m[0])) +
                 (bias ? uvarint_len(tsdb__zigzag(bias)) : 0) + (g > 1 ? uvarint_len(g) : 0) +
                 (nexc ? uvarint_len(nexc) : 0) + exc_bytes;
    uint64_t total = c.bits + 8 * hdr;
    if (total < best->total_bits) {
        best->scale = E;
        best->order = order;
        best->bias = bias;
        best->g = g;
        best->m0 = w->m[0];
        best->nexc = nexc;
        best->code = c;
        best->total_bits = total;
    }
}

/* Tries every value order at scale E. */
static void v_try_scale(struct vchoice *best, const uint64_t *vs, size_t n, unsigned E,
                        struct work *w)
{
    size_t nexc, exc_bytes;
    size_t k = v_scale(vs, n, E, w, &nexc, &exc_bytes);
    if (k == 0)
        return;
    /*
     * Orders 0, 1 and 2 (without bias) have the same gcd: each order's
     * residuals are sums or differences of consecutive ones of another (the
     * first order-2 residual is the first delta), so they generate the same
     * integers. It holds while nothing wraps: |m| < 2^60 keeps every residual
     * under 2^62. Computed once here instead of per order.
     */
    uint64_t g = 0;
    int small = 1;
    for (size_t j = 0; j < k && small; j++)
        small = w->m[j] < ((int64_t)1 << 60) && w->m[j] > -((int64_t)1 << 60);
    if (small) {
        for (size_t j = 1; j < k && g != 1; j++) {
            int64_t d = w->m[j] - w->m[j - 1];
            g = gcd64(g, (uint64_t)(d < 0 ? -d : d));
        }
        if (g == 0)
            g = 1; /* all equal: residuals are all zero, divided by 1 */
    }
    for (unsigned order = 0; order <= 2; order++)
        v_try(best, k, E, order, 0, g, nexc, exc_bytes, w);
    if (k < 3)
        return;
    /*
     * Order 1 with a bias: a counter rising at a steady rate has increments
     * around a typical value, cheaper to code as offsets from it than as
     * differences of differences (which double the noise).
     */
    /* Flipping the sign bit orders int64 values as uint64. */
    uint64_t *d = w->scratch, sign = (uint64_t)1 << 63;
    for (size_t j = 1; j < k; j++)
        d[j - 1] = ((uint64_t)w->m[j] - (uint64_t)w->m[j - 1]) ^ sign;
    int64_t median = (int64_t)(select_u64(d, k - 1, (k - 2) / 2) ^ sign);
    if (median != 0)
        v_try(best, k, E, 1, median, 0, nexc, exc_bytes, w);
}

static struct vchoice choose_decimal(const uint64_t *vs, size_t n, struct work *w)
{
    struct vchoice best = {0};
    best.total_bits = UINT64_MAX;
    size_t hist[TSDB__MAX_SCALE + 1] = {0};
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double v = tsdb__u2f(vs[i]);
        w->e[i] = -1;
        /* NaN, +-Inf and -0.0 are never decimals. */
        if ((vs[i] & 0x7ff0000000000000ull) == 0x7ff0000000000000ull ||
            vs[i] == 0x8000000000000000ull) {
            bad++;
            continue;
        }
        /* A repeated value needs no search. */
        if (i > 0 && vs[i] == vs[i - 1] && w->e[i - 1] >= 0) {
            w->e[i] = w->e[i - 1];
            w->m1[i] = w->m1[i - 1];
            hist[w->e[i]]++;
            continue;
        }
        int e = decimal_scale(v, &w->m1[i]);
        if (e < 0) {
            /* Mostly odd floats: XOR will win; stop spending time. */
            if (++bad > n / 4 + 2)
                return best;
            continue;
        }
        w->e[i] = (int8_t)e;
        hist[e]++;
    }
    if (bad == n)
        return best;
    /*
     * The scale covering every decimal sample, and the smallest scale that
     * leaves at most 1/16 of them as exceptions (one 0.1+0.2 must not turn a
     * whole chunk into 17-digit integers).
     */
    unsigned emax = 0, efew = 0;
    for (unsigned e = 0; e <= TSDB__MAX_SCALE; e++)
        if (hist[e])
            emax = e;
    size_t above = n - bad;
    for (unsigned e = 0; e <= TSDB__MAX_SCALE; e++) {
        above -= hist[e];
        if (above <= n / 16) {
            efew = e;
            break;
        }
    }
    v_try_scale(&best, vs, n, emax, w);
    if (efew != emax)
        v_try_scale(&best, vs, n, efew, w);
    return best;
}

int tsdb__chunk_packed_encode(const int64_t *ts, const uint64_t *vs, size_t n, struct pl_buf *out)
{
    if (n == 0 || n > TSDB_CHUNK_MAX_SAMPLES)
        return PL_ERR_UNSUPPORTED;
    struct work w;
    uint8_t *mem = pl_xmalloc(n * (6 * sizeof(uint64_t) + 2) + 2 * sizeof(uint64_t));
    w.m = (int64_t *)(void *)mem;
    w.m1 = w.m + n;
    w.x = (uint64_t *)(void *)(w.m1 + n);
    w.scratch = w.x + n;
    uint64_t *tx = w.scratch + 2 * n + 2;
    w.exc = (uint8_t *)(tx + n);
    w.e = (int8_t *)(w.exc + n);

    struct tchoice tc = choose_time(ts, n, &w);
    struct vchoice vc = choose_decimal(vs, n, &w);
    uint64_t xor_bits = 64 + tsdb__chunk_xor_bits(vs, n);
    int use_xor = vc.total_bits == UINT64_MAX || xor_bits <= vc.total_bits;

    /* Recompute the chosen residuals (the choosers overwrote them). */
    t_residuals(ts, n, tc.mode, tc.D, tx);
    size_t k = 0;
    if (!use_xor) {
        size_t nexc, exc_bytes;
        k = v_scale(vs, n, vc.scale, &w, &nexc, &exc_bytes);
        uint64_t g;
        v_residuals(w.m, k, vc.order, vc.bias, w.x, vc.g, &g);
    }

    uint64_t bits = tc.code.bits + (use_xor ? xor_bits : vc.code.bits);
    size_t cap = 80 + (use_xor ? 0 : vc.nexc * 18) + (size_t)(bits / 8) + 16;
    uint8_t *buf = pl_xcalloc(1, cap);
    size_t pos = 0;
    uint8_t mode = (uint8_t)tc.mode;
    if (use_xor) {
        mode |= TSDB__PACKED_XOR;
    } else {
        mode |= (uint8_t)(vc.order << TSDB__PACKED_ORDER_SH);
        if (vc.nexc)
            mode |= TSDB__PACKED_EXC;
        if (vc.g > 1)
            mode |= TSDB__PACKED_GCD;
        if (vc.bias)
            mode |= TSDB__PACKED_BIAS;
    }
    buf[pos++] = TSDB_ENC_PACKED;
    buf[pos++] = (uint8_t)(n >> 8);
    buf[pos++] = (uint8_t)n;
    buf[pos++] = mode;
    buf[pos++] = (uint8_t)tc.code.desc;
    buf[pos++] = (uint8_t)(use_xor ? 0 : vc.code.desc);
    if (tc.code.desc >= TSDB__DESC_RUN)
        buf[pos++] = (uint8_t)tc.code.kv;
    if (!use_xor && vc.code.desc >= TSDB__DESC_RUN)
        buf[pos++] = (uint8_t)vc.code.kv;
    pos += tsdb__uvarint_put(buf + pos, tsdb__zigzag(ts[0]));
    if (n >= 2)
        pos += tsdb__uvarint_put(buf + pos, tc.D);
    if (!use_xor) {
        buf[pos++] = (uint8_t)vc.scale;
        pos += tsdb__uvarint_put(buf + pos, tsdb__zigzag(vc.m0));
        if (vc.bias)
            pos += tsdb__uvarint_put(buf + pos, tsdb__zigzag(vc.bias));
        if (vc.g > 1)
            pos += tsdb__uvarint_put(buf + pos, vc.g);
        if (vc.nexc) {
            pos += tsdb__uvarint_put(buf + pos, vc.nexc);
            size_t last = 0, seen = 0;
            for (size_t i = 0; i < n; i++) {
                if (!w.exc[i])
                    continue;
                pos += tsdb__uvarint_put(buf + pos, seen ? i - last - 1 : i);
                tsdb__store_be64(buf + pos, vs[i]);
                pos += 8;
                last = i;
                seen++;
            }
        }
    }

    size_t bitlen = pos * 8;
    uint8_t leading = 0xff, trailing = 0;
    struct tsdb__run trun = {0, 0}, vrun = {0, 0};
    size_t j = 0; /* index into the non-exception integers */
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            code_put_any(buf, &bitlen, tx, n - 1, i - 1, &tc.code, &trun);
        if (use_xor) {
            if (i == 0)
                tsdb__bits_put_long(buf, &bitlen, vs[0], 64);
            else
                tsdb__chunk_xor_put(buf, &bitlen, vs[i] ^ vs[i - 1], &leading, &trailing);
        } else if (!w.exc[i]) {
            if (j > 0)
                code_put_any(buf, &bitlen, w.x, k - 1, j - 1, &vc.code, &vrun);
            j++;
        }
    }
    size_t len = (bitlen + 7) / 8;
    int rc = pl_buf_append(out, buf, len);
    free(buf);
    free(mem);
    return rc;
}

/* ---- decoder ---- */

int tsdb__chunk_packed_init(struct tsdb_chunk_dec *d)
{
    d->next_exc = UINT32_MAX;
    if (d->n == 0) {
        d->bitpos = d->len * 8;
        return 0;
    }
    if (d->len < 6)
        return PL_ERR_CORRUPT;
    d->mode = d->p[3];
    d->tdesc = d->p[4];
    d->vdesc = d->p[5];
    unsigned tmode = d->mode & TSDB__PACKED_TMODE;
    unsigned order = (d->mode >> TSDB__PACKED_ORDER_SH) & 3;
    if (tmode == 3 || order == 3 || d->tdesc > TSDB__DESC_MAX || d->vdesc > TSDB__DESC_MAX)
        return PL_ERR_CORRUPT;
    if ((d->mode & TSDB__PACKED_XOR) &&
        (order || d->vdesc ||
         (d->mode & (TSDB__PACKED_EXC | TSDB__PACKED_GCD | TSDB__PACKED_BIAS))))
        return PL_ERR_CORRUPT;
    if ((d->mode & TSDB__PACKED_BIAS) && order != 1)
        return PL_ERR_CORRUPT;
    size_t off = 6;
    if (d->tdesc >= TSDB__DESC_RUN) {
        if (off >= d->len || d->p[off] > 62)
            return PL_ERR_CORRUPT;
        d->tkv = d->p[off++];
    }
    if (d->vdesc >= TSDB__DESC_RUN) {
        if (off >= d->len || d->p[off] > 62)
            return PL_ERR_CORRUPT;
        d->vkv = d->p[off++];
    }
    uint64_t u;
    if (tsdb__uvarint_get(d->p, d->len, &off, &u) < 0)
        return PL_ERR_CORRUPT;
    d->t0 = (uint64_t)tsdb__unzigzag(u);
    d->tD = 0;
    if (d->n >= 2 && tsdb__uvarint_get(d->p, d->len, &off, &d->tD) < 0)
        return PL_ERR_CORRUPT;
    d->t_delta = (int64_t)d->tD;
    d->leading = 0xff;
    d->g = 1;
    if (!(d->mode & TSDB__PACKED_XOR)) {
        if (off >= d->len || d->p[off] > TSDB__MAX_SCALE)
            return PL_ERR_CORRUPT;
        d->div = p10d[d->p[off++]];
        if (tsdb__uvarint_get(d->p, d->len, &off, &u) < 0)
            return PL_ERR_CORRUPT;
        d->state[0] = (uint64_t)tsdb__unzigzag(u);
        d->m = d->state[0];
        if (d->mode & TSDB__PACKED_BIAS) {
            if (tsdb__uvarint_get(d->p, d->len, &off, &u) < 0)
                return PL_ERR_CORRUPT;
            d->bias = tsdb__unzigzag(u);
        }
        if ((d->mode & TSDB__PACKED_GCD) &&
            (tsdb__uvarint_get(d->p, d->len, &off, &d->g) < 0 || d->g < 2))
            return PL_ERR_CORRUPT;
        if (d->mode & TSDB__PACKED_EXC) {
            if (tsdb__uvarint_get(d->p, d->len, &off, &u) < 0 || u == 0 || u > d->n)
                return PL_ERR_CORRUPT;
            d->exc_left = (uint32_t)u;
            d->xpos = off;
            /* Validate the whole list once, so next() can trust it. */
            uint64_t idx = 0;
            for (uint32_t j = 0; j < d->exc_left; j++) {
                if (tsdb__uvarint_get(d->p, d->len, &off, &u) < 0)
                    return PL_ERR_CORRUPT;
                idx = j == 0 ? u : idx + 1 + u;
                if (u >= d->n || idx >= d->n || d->len - off < 8)
                    return PL_ERR_CORRUPT;
                if (j == 0)
                    d->next_exc = (uint32_t)idx;
                off += 8;
            }
        }
    }
    d->bitpos = off * 8;
    return 0;
}

/*
 * Decodes sample d->i with the bit reader *b into d->t, d->v. Inlined into
 * the one-sample and the batch entry points; the batch one runs it on a
 * local copy of the decoder so the compiler keeps the state in registers.
 */
static inline __attribute__((always_inline)) int packed_step(struct tsdb_chunk_dec *d,
                                                             struct tsdb__br *b)
{
    uint64_t nt;
    if (d->i == 0) {
        nt = d->t0;
    } else {
        uint64_t x;
        struct tsdb__run r = {d->tpend, d->thave};
        if (tsdb__code_read_any(b, d->tdesc, d->tkv, &r, &x) < 0)
            return PL_ERR_CORRUPT;
        d->tpend = r.pend;
        d->thave = r.have;
        switch (d->mode & TSDB__PACKED_TMODE) {
        case 0:
            nt = d->t0 + (uint64_t)d->i * d->tD + (uint64_t)tsdb__unzigzag(x);
            break;
        case 1:
            nt = (uint64_t)d->t + d->tD + x;
            break;
        default:
            d->t_delta = (int64_t)((uint64_t)d->t_delta + (uint64_t)tsdb__unzigzag(x));
            nt = (uint64_t)d->t + (uint64_t)d->t_delta;
            break;
        }
        if ((int64_t)nt < d->t)
            return PL_ERR_CORRUPT;
    }
    if (d->mode & TSDB__PACKED_XOR) {
        if (d->i == 0)
            d->v = tsdb__br_read_long(b, 64);
        else if (tsdb__chunk_xor_read(b, &d->v, &d->leading, &d->trailing) < 0)
            return PL_ERR_CORRUPT;
    } else if (d->i == d->next_exc) {
        /* The list was validated by init: gap varint, then 8 bytes. */
        size_t off = d->xpos;
        uint64_t gap;
        if (tsdb__uvarint_get(d->p, d->len, &off, &gap) < 0)
            return PL_ERR_CORRUPT;
        d->v = tsdb__load_be64(d->p + off);
        off += 8;
        d->xpos = off;
        if (--d->exc_left) {
            size_t peek = off;
            if (tsdb__uvarint_get(d->p, d->len, &peek, &gap) < 0)
                return PL_ERR_CORRUPT;
            d->next_exc = d->i + 1 + (uint32_t)gap;
        } else {
            d->next_exc = UINT32_MAX;
        }
    } else {
        if (d->seen) {
            uint64_t x;
            struct tsdb__run r = {d->vpend, d->vhave};
            if (tsdb__code_read_any(b, d->vdesc, d->vkv, &r, &x) < 0)
                return PL_ERR_CORRUPT;
            d->vpend = r.pend;
            d->vhave = r.have;
            uint64_t q = (uint64_t)tsdb__unzigzag(x) * d->g;
            switch ((d->mode >> TSDB__PACKED_ORDER_SH) & 3) {
            case 0:
                d->m = d->state[0] + q;
                break;
            case 1:
                d->m += (uint64_t)d->bias + q;
                break;
            default:
                d->md += q;
                d->m += d->md;
                break;
            }
        }
        d->seen = 1;
        d->v = tsdb__chunk_dec_value(d->m, d->div);
    }
    if (tsdb__br_overrun(b))
        return PL_ERR_CORRUPT;
    d->t = (int64_t)nt;
    d->i++;
    return 0;
}

TSDB__CHUNK_DECODERS(tsdb__chunk_packed, packed_step)
