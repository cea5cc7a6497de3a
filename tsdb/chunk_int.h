/*
 * chunk_int.h - on-disk formats of the sample chunk codecs, and the bit and
 * varint helpers the codec files share (internal to tsdb/).
 *
 * Gorilla is from Pelkonen et al., "Gorilla: A Fast, Scalable, In-Memory Time
 * Series Database", VLDB 2015 (section 4.1: delta-of-delta timestamps, XOR
 * values). The packed codec replaces Gorilla's fixed buckets with per-chunk
 * Golomb-Rice / fixed-width codes (Golomb 1966; Rice 1979) over residuals
 * chosen per chunk, and stores decimal values as scaled integers.
 *
 * Conventions for every encoding:
 * - Multi-byte integers are big-endian. "uvarint" is LEB128 (7 bits per
 *   byte, low group first, high bit = more follows, at most 10 bytes).
 *   "svarint" is a uvarint of the zigzag mapping (0,-1,1,-2,... -> 0,1,2,3).
 * - Bit streams are written most significant bit first; a field of w bits
 *   holds the low w bits of its value. The last byte is zero-padded.
 * - Timestamp and value arithmetic is done modulo 2^64 (uint64_t), so every
 *   int64 timestamp and every 64-bit value pattern round-trips, including
 *   deltas that overflow int64.
 * - Every chunk starts with the same 3 bytes, so the sample count is
 *   readable without decoding:
 *
 *   OFFSET SIZE  FIELD
 *   0      1     encoding (enum tsdb_enc)
 *   1      2     n, number of samples (0..65535), big-endian
 *
 * =========================================================================
 * TSDB_ENC_RAW (0): 3 + 16n bytes.
 *
 *   OFFSET    SIZE  FIELD
 *   3+16i     8     timestamp i (int64, two's complement, big-endian)
 *   3+16i+8   8     value i (IEEE 754 bits, big-endian)
 *
 * =========================================================================
 * TSDB_ENC_GORILLA (1): the head's streaming format.
 *
 *   OFFSET SIZE  FIELD
 *   3      1-10  t0, the first timestamp, svarint (absent when n = 0)
 *   3+k    ...   bit stream
 *
 * The n field is rewritten on every append, and the stream only grows, so
 * the encoder's bytes decode at any moment. Bit stream:
 *   sample 0:  value bits, 64 bits.
 *   sample i>0: timestamp code, then value code.
 * Timestamp code: dod = (t_i - t_{i-1}) - (t_{i-1} - t_{i-2}), with
 * t_{-1} := t_0 (the first delta is coded as a dod against 0):
 *   '0'                  dod = 0
 *   '10'    + 7 bits     dod in [-64, 63]
 *   '110'   + 12 bits    dod in [-2048, 2047]
 *   '1110'  + 20 bits    dod in [-524288, 524287]
 *   '11110' + 32 bits    dod in int32 range
 *   '11111' + 64 bits    any dod (two's complement)
 * Value code: x = bits(v_i) XOR bits(v_{i-1}):
 *   '0'                              x = 0
 *   '10' + (64-L-T) bits             x >> T, reusing the previous window
 *                                    (L leading, T trailing zero bits)
 *   '11' + 5 bits L + 6 bits S + S bits   new window: L leading zeros
 *                                    (at most 31), S = 64 - L - T
 *                                    meaningful bits (64 is written as 0)
 * '10' is only valid once a window exists; L + S > 64 is corrupt.
 *
 * Worked example (checked byte by byte by test_chunk_gorilla.c), the
 * samples (1000, 1.0), (16000, 1.0), (31000, 2.0):
 *   01 00 03          encoding 1, n = 3
 *   d0 0f             t0 = 1000 -> zigzag 2000 -> uvarint d0 0f
 *   3f f0 00 00 00 00 00 00   value 1.0 = 0x3ff0000000000000
 *   sample 1: dod = 15000: '1110' + 00000011101010011000 (20 bits); x = 0: '0'
 *   sample 2: dod = 0: '0'; x = 0x3ff0..^0x4000.. = 0x7ff0000000000000:
 *             '11' + L = 1 '00001' + S = 11 '001011' + '11111111111'
 *   bits: 1110 0000 0011 1010 1001 1000 0 0 11 00001 001011 11111111111
 *   -> e0 3a 98 30 97 ff c0 (last byte zero-padded)
 *   total 20 bytes.
 *
 * =========================================================================
 * TSDB_ENC_PACKED (2): chosen by tsdb_chunk_seal when smaller.
 *
 *   OFFSET SIZE  FIELD
 *   3      1     mode: bits 0-1 timestamp mode (0 grid, 1 delta, 2 dod),
 *                bits 2-3 value order (0, 1, 2), bit 4 value kind
 *                (0 decimal, 1 XOR), bit 5 has exceptions, bit 6 has
 *                gcd, bit 7 has bias (decimal order 1 only)
 *   4      1     tdesc, the code of timestamp residuals (see "Codes")
 *   5      1     vdesc, the code of value residuals (0 for XOR)
 *   .      0-1   kv of tdesc, only when tdesc is a zero-run code
 *   .      0-1   kv of vdesc, only when vdesc is a zero-run code
 *   .      1-10  t0, svarint
 *   .      1-10  D, uvarint (only when n >= 2)
 *   decimal kind only:
 *   .      1     scale e (0..18): value = (double)m / 10^e
 *   .      1-10  m0, svarint: m of the first non-exception sample
 *   .      1-10  B, svarint (only with the bias bit; else B = 0)
 *   .      1-10  g, uvarint >= 2 (only with the gcd bit; else g = 1)
 *   .      1-10  x, uvarint >= 1 (only with the exceptions bit)
 *   .      x * (1-10 + 8)  per exception: gap (uvarint), value bits (8).
 *                The first exception's index is its gap; each next one is
 *                the previous index + 1 + gap. Strictly increasing, < n.
 *   .      ...   bit stream: for i = 1..n-1 the timestamp code of sample i,
 *                then (all i, decimal) the value code of sample i unless it
 *                is an exception or the first non-exception sample; for XOR
 *                kind, sample 0 has 64 value bits and later ones Gorilla's
 *                XOR code (above).
 *
 * Timestamps, from the residual r_i read with tdesc (i >= 1):
 *   grid (0):  t_i = t0 + i*D + unzigzag(r_i)     (scheduled scrapes: jitter
 *                                                 does not accumulate)
 *   delta (1): t_i = t_{i-1} + D + r_i             (D = smallest delta)
 *   dod (2):   d_i = d_{i-1} + unzigzag(r_i), t_i = t_{i-1} + d_i, d_0 = D
 * A decoded timestamp below its predecessor is corrupt.
 *
 * Decimal values: m_j is the j-th non-exception sample's integer, and
 * q_j = unzigzag(r_j) * g (j >= 1):
 *   order 0: m_j = m0 + q_j
 *   order 1: m_j = m_{j-1} + B + q_j    (B: a counter's typical increase)
 *   order 2: e_j = e_{j-1} + q_j, m_j = m_{j-1} + e_j, e_0 = 0
 * The encoder only picks decimal when (double)m_j / 10^e reproduces every
 * value's bits (other samples become exceptions, e.g. stale markers).
 *
 * Codes (tdesc, vdesc) for a residual x (uint64):
 *   0          x = 0, no bits
 *   1..64      x in desc bits
 *   65..127    Rice, k = desc - 65 (0..62): q = x >> k; when q < 16,
 *              q '0' bits, a '1', then the low k bits of x; otherwise
 *              16 '0' bits, 6 bits L-1 where L = bit length of x, and the
 *              low L-1 bits of x (its top bit is implied).
 *   128..190   zero runs, for mostly-zero residuals (aligned scrapes,
 *              counters that rarely move): kz = desc - 128, and a second
 *              descriptor byte kv (0..62) follows the fixed header. Where a
 *              residual is due and no run is pending, a Rice(kz) run length
 *              z is read: z zeros follow, then (unless the stream ends
 *              first) one nonzero residual coded as Rice(kv) of x - 1. A
 *              zero z means the nonzero residual comes at once.
 *   others     corrupt
 *
 * Worked example (checked byte by byte by test_chunk_packed.c), the
 * samples (1000, 0.5), (16001, 0.75), (30999, 1.0), (46000, 1.0):
 *   02 00 04          encoding 2, n = 4
 *   44                mode: grid, value order 1, decimal, gcd
 *   02                tdesc: fixed 2 bits
 *   02                vdesc: fixed 2 bits
 *   d0 0f             t0 = 1000 (zigzag 2000)
 *   98 75             D = 15000
 *   02                scale 2: values are m / 100
 *   64                m0 = 50 (zigzag 100)
 *   19                g = 25
 *   timestamp residuals t_i - (1000 + 15000 i): +1, -1, 0 -> zigzag 2, 1, 0;
 *   m = 50, 75, 100, 100: differences 25, 25, 0 / g -> 1, 1, 0 -> 2, 2, 0
 *   bits: t '10' v '10' | t '01' v '10' | t '00' v '00'
 *   -> a6 00
 *   total 15 bytes (Gorilla: 22).
 *
 * =========================================================================
 * TSDB_ENC_STREAM (3): the adaptive streaming format (open chunks; opt-in
 * with tsdb_chunk_enc_init_kind). Like Gorilla, n is rewritten on every
 * append and the stream only grows.
 *
 *   OFFSET SIZE  FIELD
 *   3      1     scale e of the first value (0..15), or 0xff: XOR values
 *   4      1-10  t0, svarint
 *   .      1-10  m0, svarint (scale 0..15 only): value 0 = (double)m0 / 10^e
 *   .      ...   bit stream; with scale 0xff it starts with value 0's 64 bits
 *
 * Running state, the same in encoder and decoder: At, Nt (timestamps) and
 * Av, Nv, E1, E2 (values), all 0 with N = 1 at the start; the Rice
 * parameter is k = bitlen(A) - bitlen(N) (at least 0, at most 62); after a
 * residual x, A +=
 * min(x, 2^40), N += 1, and when N reaches 32 every sum halves and N = 16.
 * E1 and E2 add the bit length of the zigzagged residual of their order.
 * Sample i >= 1:
 * - timestamp: Rice(k(At, Nt)) of zigzag(delta_i - D), with D = 0 for
 *   i = 1, after which D = delta_1 rounded to whole seconds when it is at
 *   least 1000 ms; i = 1 does not update At, Nt.
 * - value, XOR mode: Gorilla's XOR code.
 * - value, decimal mode: optional markers, then Rice(k(Av, Nv)) of
 *   zigzag(r >> s), where r = m_i - m_{i-1} (order 1) when E2 >= E1, else
 *   r = (m_i - m_{i-1}) - (m_{i-1} - m_{i-2}) (order 2); then Av += x,
 *   and E1, E2 add the bit lengths of both orders' zigzagged residuals.
 *   A marker is a Rice escape (16 zero bits) whose 6-bit length field is
 *   below 4, which no real escape has (escaped values have at least 5 bits):
 *     0  exception: 64 bits of the value follow; no state changes
 *     1  rescale: 5 bits of a larger scale e' follow; m and the last
 *        difference are multiplied by 10^(e'-e); a value code follows
 *        (possibly after a shift marker)
 *     2  XOR from now on: a Gorilla XOR code against the previous value
 *        follows (new window), and the chunk stays in XOR mode
 *     3  shift: 6 bits s (0..56) follow, then the value code; residuals
 *        are multiples of 2^s (pages, sectors) and coded divided by it
 *
 * Worked example (checked byte by byte by test_chunk_stream.c), the
 * samples (1000, 1.5), (16000, 2.0), (31002, 3.0):
 *   03 00 03          encoding 3, n = 3
 *   01                scale 1: values are m / 10
 *   d0 0f             t0 = 1000
 *   1e                m0 = 15 (zigzag 30)
 *   sample 1: time: k = 0, zigzag(15000) = 30000 escapes: 16 '0', L-1 =
 *             14 '001110', the low 14 bits '11010100110000'; D = 15000.
 *             value: r = 20 - 15 = 5, zigzag 10, k = 0: '0' x 10, '1'.
 *   sample 2: time: zigzag(15002 - 15000) = 4, k = 0: '0000' '1'.
 *             value: E1 = E2 = 4, so order 1: r = 10, zigzag 20,
 *             k = bitlen(10) - bitlen(2) = 2: q = 5: '00000' '1', then '00'.
 *   -> 00 00 3b 53 00 02 10 40 (60 bits, zero-padded)
 *   total 15 bytes (Gorilla: 22).
 */
#ifndef TSDB_CHUNK_INT_H
#define TSDB_CHUNK_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/err.h"
#include "tsdb/chunk.h"

#define TSDB__CHUNK_HDR       3   /* encoding byte and the 16-bit count */
#define TSDB__RICE_ESCAPE     16  /* unary length at which a Rice code escapes */
#define TSDB__DESC_RICE       65  /* first Rice code descriptor */
#define TSDB__DESC_RUN        128 /* first zero-run code descriptor */
#define TSDB__DESC_MAX        190
#define TSDB__MAX_SCALE       18
#define TSDB__PACKED_TMODE    0x03
#define TSDB__PACKED_ORDER_SH 2
#define TSDB__PACKED_XOR      0x10
#define TSDB__PACKED_EXC      0x20
#define TSDB__PACKED_GCD      0x40
#define TSDB__PACKED_BIAS     0x80

static inline uint64_t tsdb__load_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

static inline void tsdb__store_be64(uint8_t *p, uint64_t v)
{
    v = __builtin_bswap64(v);
    memcpy(p, &v, 8);
}

static inline uint64_t tsdb__zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t tsdb__unzigzag(uint64_t v)
{
    return (int64_t)((v >> 1) ^ (~(v & 1) + 1));
}

static inline unsigned tsdb__bitlen(uint64_t v)
{
    return v ? 64u - (unsigned)__builtin_clzll(v) : 0u;
}

static inline uint64_t tsdb__f2u(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
}

static inline double tsdb__u2f(uint64_t u)
{
    double v;
    memcpy(&v, &u, 8);
    return v;
}

/* Writes a uvarint at p (room for 10 bytes); returns its length. */
static inline size_t tsdb__uvarint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads a uvarint from p[*off..len); 0, or PL_ERR_CORRUPT when cut or overlong. */
int tsdb__uvarint_get(const uint8_t *p, size_t len, size_t *off, uint64_t *v);

/*
 * Bit writer over a zero-filled byte array. tsdb__bits_put ORs the low
 * `nbits` (1..56) bits of v at bit `*bitlen` with one 64-bit load/store, so
 * the array must have 8 writable bytes from byte *bitlen/8.
 */
static inline void tsdb__bits_put(uint8_t *buf, size_t *bitlen, uint64_t v, unsigned nbits)
{
    size_t byte = *bitlen >> 3;
    unsigned off = (unsigned)(*bitlen & 7);
    uint64_t w = tsdb__load_be64(buf + byte);
    w |= (v << (64 - nbits)) >> off;
    tsdb__store_be64(buf + byte, w);
    *bitlen += nbits;
}

/* As tsdb__bits_put for 0..64 bits. */
static inline void tsdb__bits_put_long(uint8_t *buf, size_t *bitlen, uint64_t v, unsigned nbits)
{
    if (nbits > 32) {
        tsdb__bits_put(buf, bitlen, v >> 32, nbits - 32);
        nbits = 32;
    }
    if (nbits)
        tsdb__bits_put(buf, bitlen, v, nbits);
}

/* Bit reader: never reads outside p[0..len); bits past the end read as 0. */
struct tsdb__br {
    const uint8_t *p;
    size_t len;
    size_t pos; /* in bits */
};

/* The 64 bits from pos, at least 57 of them real (zeros past the end). */
#define TSDB__INLINE static inline __attribute__((always_inline))

TSDB__INLINE uint64_t tsdb__br_peek(const struct tsdb__br *b)
{
    size_t byte = b->pos >> 3;
    uint64_t w;
    if (__builtin_expect(byte + 8 <= b->len, 1)) {
        w = tsdb__load_be64(b->p + byte);
    } else {
        w = 0;
        for (size_t i = 0; i < 8; i++)
            w = (w << 8) | (byte + i < b->len ? b->p[byte + i] : 0);
    }
    return w << (b->pos & 7);
}

/* Reads 0..56 bits. */
TSDB__INLINE uint64_t tsdb__br_read(struct tsdb__br *b, unsigned nbits)
{
    if (nbits == 0)
        return 0;
    uint64_t w = tsdb__br_peek(b) >> (64 - nbits);
    b->pos += nbits;
    return w;
}

/* Reads 0..64 bits. */
TSDB__INLINE uint64_t tsdb__br_read_long(struct tsdb__br *b, unsigned nbits)
{
    if (nbits > 32) {
        uint64_t hi = tsdb__br_read(b, nbits - 32);
        return (hi << 32) | tsdb__br_read(b, 32);
    }
    return tsdb__br_read(b, nbits);
}

/* True when the reader went past the data (a truncated or corrupt stream). */
TSDB__INLINE int tsdb__br_overrun(const struct tsdb__br *b)
{
    return b->pos > b->len * 8;
}

/* Reads one residual coded with descriptor desc (validated by the caller). */
TSDB__INLINE uint64_t tsdb__code_read(struct tsdb__br *b, unsigned desc)
{
    if (desc == 0)
        return 0;
    if (desc <= 64)
        return tsdb__br_read_long(b, desc);
    unsigned k = desc - TSDB__DESC_RICE;
    uint64_t w = tsdb__br_peek(b);
    if ((w >> (64 - TSDB__RICE_ESCAPE)) == 0) {
        b->pos += TSDB__RICE_ESCAPE;
        unsigned l = (unsigned)tsdb__br_read(b, 6) + 1;
        return ((uint64_t)1 << (l - 1)) | tsdb__br_read_long(b, l - 1);
    }
    unsigned q = (unsigned)__builtin_clzll(w);
    if (k + q + 1 <= 64) {
        /* Fast path: unary part and remainder in one window. */
        uint64_t rem = k ? (w << (q + 1)) >> (64 - k) : 0;
        if (q + 1 + k <= 57) {
            b->pos += q + 1 + k;
            return ((uint64_t)q << k) | rem;
        }
    }
    b->pos += q + 1;
    return ((uint64_t)q << k) | tsdb__br_read_long(b, k);
}

/* State of a zero-run code (descriptors 128..190) while reading or writing. */
struct tsdb__run {
    uint32_t pend; /* zeros still to come from the current run */
    uint8_t have;  /* a run length was read and its nonzero residual is due */
};

/*
 * Reads one residual with any descriptor; kv and the run state only matter
 * for zero-run codes. Returns PL_ERR_CORRUPT for an impossible run length.
 */
TSDB__INLINE int tsdb__code_read_any(struct tsdb__br *b, unsigned desc, unsigned kv,
                                     struct tsdb__run *r, uint64_t *x)
{
    if (desc < TSDB__DESC_RUN) {
        *x = tsdb__code_read(b, desc);
        return 0;
    }
    if (r->pend) {
        r->pend--;
        *x = 0;
        return 0;
    }
    if (!r->have) {
        uint64_t z = tsdb__code_read(b, desc - TSDB__DESC_RUN + TSDB__DESC_RICE);
        if (z > TSDB_CHUNK_MAX_SAMPLES)
            return PL_ERR_CORRUPT;
        if (z) {
            r->pend = (uint32_t)(z - 1);
            r->have = 1;
            *x = 0;
            return 0;
        }
    }
    r->have = 0;
    *x = tsdb__code_read(b, TSDB__DESC_RICE + kv) + 1;
    return 0;
}

/* Bits tsdb__code_read consumes for x under descriptor desc (below 128). */
static inline uint64_t tsdb__code_bits(uint64_t x, unsigned desc)
{
    if (desc == 0)
        return 0;
    if (desc <= 64)
        return desc;
    unsigned k = desc - TSDB__DESC_RICE;
    uint64_t q = x >> k;
    if (q < TSDB__RICE_ESCAPE)
        return q + 1 + k;
    return TSDB__RICE_ESCAPE + 6 + tsdb__bitlen(x) - 1;
}

/* Writes x with descriptor desc (buffer rules of tsdb__bits_put). */
static inline void tsdb__code_put(uint8_t *buf, size_t *bitlen, uint64_t x, unsigned desc)
{
    if (desc == 0)
        return;
    if (desc <= 64) {
        tsdb__bits_put_long(buf, bitlen, x, desc);
        return;
    }
    unsigned k = desc - TSDB__DESC_RICE;
    uint64_t q = x >> k;
    if (q < TSDB__RICE_ESCAPE) {
        /* q zeros then a one: the buffer is zero-filled, so skip q bits. */
        *bitlen += q;
        tsdb__bits_put(buf, bitlen, 1, 1);
        tsdb__bits_put_long(buf, bitlen, x, k);
        return;
    }
    unsigned l = tsdb__bitlen(x);
    *bitlen += TSDB__RICE_ESCAPE;
    tsdb__bits_put(buf, bitlen, l - 1, 6);
    tsdb__bits_put_long(buf, bitlen, x, l - 1);
}

/*
 * The value bits of integer m at a scale with divisor div (10^e). Integers
 * (e = 0) skip the division, whose latency otherwise dominates decoding.
 */
static inline uint64_t tsdb__chunk_dec_value(uint64_t m, double div)
{
    double v = (double)(int64_t)m;
    return tsdb__f2u(div == 1.0 ? v : v / div);
}

/* Per-encoding decoders (chunk_gorilla.c, chunk_packed.c, chunk.c). */
int tsdb__chunk_gorilla_init(struct tsdb_chunk_dec *d);
int tsdb__chunk_gorilla_next(struct tsdb_chunk_dec *d, int64_t *t, double *v);
int tsdb__chunk_packed_init(struct tsdb_chunk_dec *d);
int tsdb__chunk_packed_next(struct tsdb_chunk_dec *d, int64_t *t, double *v);
/* Batch forms: up to max samples, or PL_ERR_CORRUPT (decoder left failed). */
int tsdb__chunk_gorilla_batch(struct tsdb_chunk_dec *d, int64_t *ts, double *vs, size_t max);
int tsdb__chunk_packed_batch(struct tsdb_chunk_dec *d, int64_t *ts, double *vs, size_t max);
/*
 * Seek forms: decode until a sample with timestamp >= t (1; it is in d->t,
 * d->v), the end (0) or corrupt data (PL_ERR_CORRUPT).
 */
int tsdb__chunk_gorilla_seek(struct tsdb_chunk_dec *d, int64_t t);
int tsdb__chunk_packed_seek(struct tsdb_chunk_dec *d, int64_t t);

/* TSDB_ENC_STREAM (chunk_stream.c). */
#define TSDB__STREAM_EXCEPTION 0 /* value marker: 64 raw value bits follow */
#define TSDB__STREAM_RESCALE   1 /* value marker: 5 bits of a larger scale follow */
#define TSDB__STREAM_TO_XOR    2 /* value marker: XOR codes from here on */
#define TSDB__STREAM_SHIFT     3 /* value marker: 6 bits of a new residual shift follow */
#define TSDB__STREAM_MARKERS   4 /* length fields below this are markers */
int tsdb__chunk_stream_append(struct tsdb_chunk_enc *e, int64_t t, uint64_t vb);
int tsdb__chunk_stream_init(struct tsdb_chunk_dec *d);
int tsdb__chunk_stream_next(struct tsdb_chunk_dec *d, int64_t *t, double *v);
int tsdb__chunk_stream_batch(struct tsdb_chunk_dec *d, int64_t *ts, double *vs, size_t max);
int tsdb__chunk_stream_seek(struct tsdb_chunk_dec *d, int64_t t);

/*
 * Defines PREFIX_next, PREFIX_batch and PREFIX_seek (declared above) from a
 * codec's `static inline int STEP(struct tsdb_chunk_dec *, struct tsdb__br *)`
 * that decodes sample d->i into d->t and d->v (or returns < 0 on corrupt
 * data): every codec walks its samples the same way, and a macro keeps the
 * step inlined in each loop, which a function pointer would not.
 */
#define TSDB__CHUNK_DECODERS(PREFIX, STEP)                                                         \
    int PREFIX##_next(struct tsdb_chunk_dec *d, int64_t *t, double *v)                             \
    {                                                                                              \
        struct tsdb__br b = {d->p, d->len, d->bitpos};                                             \
        if (STEP(d, &b) < 0)                                                                       \
            return PL_ERR_CORRUPT;                                                                 \
        d->bitpos = b.pos;                                                                         \
        *t = d->t;                                                                                 \
        *v = tsdb__u2f(d->v);                                                                      \
        return 1;                                                                                  \
    }                                                                                              \
                                                                                                   \
    int PREFIX##_batch(struct tsdb_chunk_dec *d, int64_t *ts, double *vs, size_t max)              \
    {                                                                                              \
        struct tsdb_chunk_dec l = *d;                                                              \
        struct tsdb__br b = {l.p, l.len, l.bitpos};                                                \
        size_t lim = (size_t)(l.n - l.i) < max ? (size_t)(l.n - l.i) : max;                        \
        for (size_t k = 0; k < lim; k++) {                                                         \
            if (STEP(&l, &b) < 0) {                                                                \
                *d = l;                                                                            \
                return PL_ERR_CORRUPT;                                                             \
            }                                                                                      \
            ts[k] = l.t;                                                                           \
            vs[k] = tsdb__u2f(l.v);                                                                \
        }                                                                                          \
        l.bitpos = b.pos;                                                                          \
        *d = l;                                                                                    \
        return (int)lim;                                                                           \
    }                                                                                              \
                                                                                                   \
    int PREFIX##_seek(struct tsdb_chunk_dec *d, int64_t t)                                         \
    {                                                                                              \
        struct tsdb_chunk_dec l = *d;                                                              \
        struct tsdb__br b = {l.p, l.len, l.bitpos};                                                \
        int rc = 0;                                                                                \
        while (l.i < l.n) {                                                                        \
            if (STEP(&l, &b) < 0) {                                                                \
                rc = PL_ERR_CORRUPT;                                                               \
                break;                                                                             \
            }                                                                                      \
            if (l.t >= t) {                                                                        \
                rc = 1;                                                                            \
                break;                                                                             \
            }                                                                                      \
        }                                                                                          \
        l.bitpos = b.pos;                                                                          \
        *d = l;                                                                                    \
        return rc;                                                                                 \
    }

/*
 * Encodes n samples (n >= 1, timestamps non-decreasing) as TSDB_ENC_PACKED,
 * appending to out. Values are bit patterns. Returns 0, PL_ERR_LIMIT from
 * `out`, or PL_ERR_UNSUPPORTED when no packed form applies.
 */
int tsdb__chunk_packed_encode(const int64_t *ts, const uint64_t *vs, size_t n, struct pl_buf *out);
/*
 * Sealed chunks written whole (backfill, compaction) are split into pieces of
 * about this many encoded bytes: LMDB stores a value over about half a page
 * (2 KiB) in overflow pages of its own, and large nodes leave leaf pages
 * partly empty. Measured on the bench/tsdb mix (see tsdb/README.md).
 */
#ifndef TSDB_CHUNK_TARGET_BYTES
#define TSDB_CHUNK_TARGET_BYTES 1000
#endif
/*
 * Encodes n samples (timestamps non-decreasing, values as bit patterns) with
 * the smallest codec, appending to out: what tsdb_chunk_seal does after
 * decoding its input (compaction and backfill call it directly).
 */
int tsdb__chunk_seal_samples(const int64_t *ts, const uint64_t *vs, size_t n, struct pl_buf *out);

/*
 * Gorilla's XOR value code for x = bits(v_i) ^ bits(v_{i-1}) (buffer rules
 * of tsdb__bits_put); *leading is 0xff while no window exists.
 */
void tsdb__chunk_xor_put(uint8_t *buf, size_t *bitlen, uint64_t x, uint8_t *leading,
                         uint8_t *trailing);
/* Reads one XOR value code, updating *v; 0 or PL_ERR_CORRUPT. */
TSDB__INLINE int tsdb__chunk_xor_read(struct tsdb__br *b, uint64_t *v, uint8_t *leading,
                                      uint8_t *trailing)
{
    uint64_t w = tsdb__br_peek(b);
    if (!(w >> 63)) {
        b->pos += 1;
        return 0;
    }
    if (!((w >> 62) & 1)) {
        if (*leading == 0xff)
            return PL_ERR_CORRUPT;
        unsigned sig = 64u - *leading - *trailing;
        b->pos += 2;
        *v ^= tsdb__br_read_long(b, sig) << *trailing;
        return 0;
    }
    unsigned lz = (unsigned)(w >> 57) & 0x1f;
    unsigned sig = (unsigned)(w >> 51) & 0x3f;
    if (sig == 0)
        sig = 64;
    if (lz + sig > 64)
        return PL_ERR_CORRUPT;
    b->pos += 13;
    unsigned tz = 64 - lz - sig;
    *v ^= tsdb__br_read_long(b, sig) << tz;
    *leading = (uint8_t)lz;
    *trailing = (uint8_t)tz;
    return 0;
}

/*
 * Bits a Gorilla XOR stream takes for values vs[1..n) (the first value's 64
 * bits not included); used to compare codecs without encoding.
 */
uint64_t tsdb__chunk_xor_bits(const uint64_t *vs, size_t n);

#endif
