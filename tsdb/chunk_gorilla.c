/*
 * chunk_gorilla.c - the streaming Gorilla chunk encoder and its decoder.
 *
 * Pelkonen et al., "Gorilla: A Fast, Scalable, In-Memory Time Series
 * Database", VLDB 2015, section 4.1: timestamps as delta-of-delta in
 * variable-length buckets, values as the XOR with the previous value coded
 * by its meaningful-bit window. The exact layout (our buckets differ from
 * the paper's) is the TSDB_ENC_GORILLA table in chunk_int.h.
 */
#include "tsdb/chunk.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "tsdb/chunk_int.h"

/*
 * Bytes of slack kept past the written bits: one sample takes at most 32
 * bytes (TSDB_ENC_STREAM's first sample), and the bit writer stores 8 bytes.
 */
#define ENC_SLACK    48
#define ENC_INIT_CAP 64

/* The bytes of a chunk with no samples, served before the first append. */
static const uint8_t empty_gorilla[TSDB__CHUNK_HDR] = {TSDB_ENC_GORILLA, 0, 0};
static const uint8_t empty_stream[TSDB__CHUNK_HDR] = {TSDB_ENC_STREAM, 0, 0};

void tsdb_chunk_enc_init(struct tsdb_chunk_enc *e)
{
    memset(e, 0, sizeof(*e));
    e->leading = 0xff;
    e->kind = TSDB_ENC_GORILLA;
}

int tsdb_chunk_enc_init_kind(struct tsdb_chunk_enc *e, uint8_t kind)
{
    tsdb_chunk_enc_init(e);
    if (kind != TSDB_ENC_GORILLA && kind != TSDB_ENC_STREAM)
        return PL_ERR_INVALID;
    e->kind = kind;
    return 0;
}

void tsdb_chunk_enc_fini(struct tsdb_chunk_enc *e)
{
    uint8_t kind = e->kind;
    free(e->buf);
    memset(e, 0, sizeof(*e));
    e->kind = kind;
}

void tsdb_chunk_enc_reset(struct tsdb_chunk_enc *e)
{
    /* Keep the memory for the next chunk; the writer needs it zero-filled. */
    if (e->buf)
        memset(e->buf, 0, (e->bitlen + 7) / 8);
    e->bitlen = 0;
    e->n = 0;
    e->t_first = e->t_last = e->t_delta = 0;
    e->v_last = 0;
    e->leading = 0xff;
    e->trailing = 0;
}

void tsdb__chunk_enc_reserve(struct tsdb_chunk_enc *e);

/* Makes room for one more sample past the written bits (zero-filled). */
void tsdb__chunk_enc_reserve(struct tsdb_chunk_enc *e)
{
    size_t need = e->bitlen / 8 + ENC_SLACK;
    if (need <= e->cap)
        return;
    size_t cap = e->cap ? e->cap : ENC_INIT_CAP;
    while (cap < need)
        cap += cap / 2 + ENC_SLACK;
    e->buf = pl_xrealloc(e->buf, cap);
    memset(e->buf + e->cap, 0, cap - e->cap);
    e->cap = cap;
}

static void put_dod(uint8_t *buf, size_t *bitlen, int64_t dod)
{
    if (dod == 0) {
        tsdb__bits_put(buf, bitlen, 0, 1);
    } else if (dod >= -64 && dod <= 63) {
        tsdb__bits_put(buf, bitlen, (0x2u << 7) | ((uint64_t)dod & 0x7f), 9);
    } else if (dod >= -2048 && dod <= 2047) {
        tsdb__bits_put(buf, bitlen, (0x6u << 12) | ((uint64_t)dod & 0xfff), 15);
    } else if (dod >= -524288 && dod <= 524287) {
        tsdb__bits_put(buf, bitlen, (0xeu << 20) | ((uint64_t)dod & 0xfffff), 24);
    } else if (dod >= INT32_MIN && dod <= INT32_MAX) {
        tsdb__bits_put(buf, bitlen, (0x1eull << 32) | ((uint64_t)dod & 0xffffffffu), 37);
    } else {
        tsdb__bits_put(buf, bitlen, 0x1f, 5);
        tsdb__bits_put_long(buf, bitlen, (uint64_t)dod, 64);
    }
}

void tsdb__chunk_xor_put(uint8_t *buf, size_t *bitlen, uint64_t x, uint8_t *leading,
                         uint8_t *trailing)
{
    if (x == 0) {
        tsdb__bits_put(buf, bitlen, 0, 1);
        return;
    }
    unsigned lz = (unsigned)__builtin_clzll(x);
    unsigned tz = (unsigned)__builtin_ctzll(x);
    if (lz > 31)
        lz = 31;
    if (*leading != 0xff && lz >= *leading && tz >= *trailing) {
        unsigned sig = 64 - *leading - *trailing;
        tsdb__bits_put(buf, bitlen, 0x2, 2);
        tsdb__bits_put_long(buf, bitlen, x >> *trailing, sig);
        return;
    }
    unsigned sig = 64 - lz - tz;
    /* '11', 5 bits L, 6 bits S (64 written as 0): 13 bits in one write. */
    tsdb__bits_put(buf, bitlen, (0x3u << 11) | (lz << 6) | (sig & 63), 13);
    tsdb__bits_put_long(buf, bitlen, x >> tz, sig);
    *leading = (uint8_t)lz;
    *trailing = (uint8_t)tz;
}

int tsdb_chunk_enc_append(struct tsdb_chunk_enc *e, int64_t t, double v)
{
    uint64_t vb = tsdb__f2u(v);
    if (e->n == TSDB_CHUNK_MAX_SAMPLES)
        return PL_ERR_LIMIT;
    if (e->n > 0 && t < e->t_last)
        return PL_ERR_OUT_OF_ORDER;
    if (e->kind == TSDB_ENC_STREAM) {
        tsdb__chunk_stream_append(e, t, vb);
        goto counted;
    }
    tsdb__chunk_enc_reserve(e);
    if (e->n == 0) {
        e->buf[0] = TSDB_ENC_GORILLA;
        size_t k = tsdb__uvarint_put(e->buf + TSDB__CHUNK_HDR, tsdb__zigzag(t));
        e->bitlen = (TSDB__CHUNK_HDR + k) * 8;
        tsdb__bits_put_long(e->buf, &e->bitlen, vb, 64);
        e->t_first = e->t_last = t;
        e->t_delta = 0;
    } else {
        /* Unsigned arithmetic: deltas of far-apart int64s wrap, exactly. */
        uint64_t delta = (uint64_t)t - (uint64_t)e->t_last;
        int64_t dod = (int64_t)(delta - (uint64_t)e->t_delta);
        put_dod(e->buf, &e->bitlen, dod);
        tsdb__chunk_xor_put(e->buf, &e->bitlen, vb ^ e->v_last, &e->leading, &e->trailing);
        e->t_delta = (int64_t)delta;
        e->t_last = t;
    }
    e->v_last = vb;
counted:
    e->n++;
    e->buf[1] = (uint8_t)(e->n >> 8);
    e->buf[2] = (uint8_t)e->n;
    return 0;
}

const uint8_t *tsdb_chunk_enc_bytes(const struct tsdb_chunk_enc *e, size_t *len)
{
    if (e->n == 0) {
        *len = TSDB__CHUNK_HDR;
        return e->kind == TSDB_ENC_STREAM ? empty_stream : empty_gorilla;
    }
    *len = (e->bitlen + 7) / 8;
    return e->buf;
}

uint64_t tsdb__chunk_xor_bits(const uint64_t *vs, size_t n)
{
    uint64_t bits = 0;
    unsigned leading = 0xff, trailing = 0;
    for (size_t i = 1; i < n; i++) {
        uint64_t x = vs[i] ^ vs[i - 1];
        if (x == 0) {
            bits += 1;
            continue;
        }
        unsigned lz = (unsigned)__builtin_clzll(x);
        unsigned tz = (unsigned)__builtin_ctzll(x);
        if (lz > 31)
            lz = 31;
        if (leading != 0xff && lz >= leading && tz >= trailing) {
            bits += 2 + 64 - leading - trailing;
        } else {
            bits += 13 + 64 - lz - tz;
            leading = lz;
            trailing = tz;
        }
    }
    return bits;
}

/* ---- decoder ---- */

int tsdb__chunk_gorilla_init(struct tsdb_chunk_dec *d)
{
    d->leading = 0xff;
    d->trailing = 0;
    d->t_delta = 0;
    if (d->n == 0) {
        d->bitpos = TSDB__CHUNK_HDR * 8;
        return 0;
    }
    size_t off = TSDB__CHUNK_HDR;
    uint64_t zz;
    int rc = tsdb__uvarint_get(d->p, d->len, &off, &zz);
    if (rc < 0)
        return rc;
    d->t = tsdb__unzigzag(zz);
    d->bitpos = off * 8;
    return 0;
}

/* Decodes sample d->i with *b into d->t, d->v (see packed_step). */
static inline __attribute__((always_inline)) int gorilla_step(struct tsdb_chunk_dec *d,
                                                              struct tsdb__br *b)
{
    if (d->i == 0) {
        d->v = tsdb__br_read_long(b, 64);
    } else {
        uint64_t w = tsdb__br_peek(b);
        /* The bucket is the number of leading one bits (at most 5). */
        unsigned ones = (unsigned)__builtin_clzll(~w | 0x07ffffffffffffffull);
        uint64_t dod;
        switch (ones) {
        case 0:
            b->pos += 1;
            dod = 0;
            break;
        case 1:
            dod = (uint64_t)((int64_t)(w << 2) >> 57);
            b->pos += 9;
            break;
        case 2:
            dod = (uint64_t)((int64_t)(w << 3) >> 52);
            b->pos += 15;
            break;
        case 3:
            dod = (uint64_t)((int64_t)(w << 4) >> 44);
            b->pos += 24;
            break;
        case 4:
            dod = (uint64_t)((int64_t)(w << 5) >> 32);
            b->pos += 37;
            break;
        default:
            b->pos += 5;
            dod = tsdb__br_read_long(b, 64);
            break;
        }
        uint64_t delta = (uint64_t)d->t_delta + dod;
        int64_t nt = (int64_t)((uint64_t)d->t + delta);
        if (nt < d->t)
            return PL_ERR_CORRUPT;
        d->t = nt;
        d->t_delta = (int64_t)delta;
        int rc = tsdb__chunk_xor_read(b, &d->v, &d->leading, &d->trailing);
        if (rc < 0)
            return rc;
    }
    if (tsdb__br_overrun(b))
        return PL_ERR_CORRUPT;
    d->i++;
    return 0;
}

TSDB__CHUNK_DECODERS(tsdb__chunk_gorilla, gorilla_step)
