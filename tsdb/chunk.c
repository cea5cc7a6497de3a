/*
 * chunk.c - the chunk decoder front end (dispatch on the encoding byte),
 * seek, the raw encoding, and sealing: re-encoding a chunk with whichever
 * codec is smallest for its data.
 *
 * Formats: chunk_int.h. Gorilla: chunk_gorilla.c (Pelkonen et al., VLDB
 * 2015). Packed: chunk_packed.c.
 */
#include "tsdb/chunk.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "tsdb/chunk_int.h"

/* A decoder that hit corrupt data stays failed (no garbage after an error). */
#define DEC_FAILED 0xff

int tsdb__uvarint_get(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
    uint64_t r = 0;
    size_t o = *off;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (o >= len)
            return PL_ERR_CORRUPT;
        uint8_t c = p[o++];
        if (shift == 63 && c > 1)
            return PL_ERR_CORRUPT;
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *off = o;
            *v = r;
            return 0;
        }
    }
    return PL_ERR_CORRUPT;
}

int tsdb_chunk_dec_init(struct tsdb_chunk_dec *d, const uint8_t *p, size_t n)
{
    memset(d, 0, sizeof(*d));
    if (n < TSDB__CHUNK_HDR)
        return PL_ERR_CORRUPT;
    d->p = p;
    d->len = n;
    d->enc = p[0];
    d->n = (uint16_t)((p[1] << 8) | p[2]);
    int rc;
    switch (d->enc) {
    case TSDB_ENC_RAW:
        rc = (size_t)d->n * 16 <= n - TSDB__CHUNK_HDR ? 0 : PL_ERR_CORRUPT;
        break;
    case TSDB_ENC_GORILLA:
        rc = tsdb__chunk_gorilla_init(d);
        break;
    case TSDB_ENC_PACKED:
        rc = tsdb__chunk_packed_init(d);
        break;
    case TSDB_ENC_STREAM:
        rc = tsdb__chunk_stream_init(d);
        break;
    default:
        rc = PL_ERR_CORRUPT;
        break;
    }
    if (rc < 0)
        d->enc = DEC_FAILED;
    return rc;
}

uint16_t tsdb_chunk_dec_count(const struct tsdb_chunk_dec *d)
{
    return d->n;
}

static int raw_next(struct tsdb_chunk_dec *d, int64_t *t, double *v)
{
    const uint8_t *s = d->p + TSDB__CHUNK_HDR + (size_t)d->i * 16;
    int64_t nt = (int64_t)tsdb__load_be64(s);
    if (d->i > 0 && nt < d->t)
        return PL_ERR_CORRUPT;
    d->t = nt;
    d->v = tsdb__load_be64(s + 8);
    d->i++;
    *t = d->t;
    *v = tsdb__u2f(d->v);
    return 1;
}

int tsdb_chunk_dec_next(struct tsdb_chunk_dec *d, int64_t *t, double *v)
{
    if (d->enc == DEC_FAILED)
        return PL_ERR_CORRUPT;
    if (d->i >= d->n)
        return 0;
    int rc;
    switch (d->enc) {
    case TSDB_ENC_GORILLA:
        rc = tsdb__chunk_gorilla_next(d, t, v);
        break;
    case TSDB_ENC_PACKED:
        rc = tsdb__chunk_packed_next(d, t, v);
        break;
    case TSDB_ENC_STREAM:
        rc = tsdb__chunk_stream_next(d, t, v);
        break;
    default:
        rc = raw_next(d, t, v);
        break;
    }
    if (rc < 0)
        d->enc = DEC_FAILED;
    return rc;
}

int tsdb_chunk_dec_seek(struct tsdb_chunk_dec *d, int64_t t, int64_t *ot, double *ov)
{
    /* As Prometheus's iterators: the current sample satisfies it already. */
    if (d->i > 0 && d->enc != DEC_FAILED && d->t >= t) {
        *ot = d->t;
        *ov = tsdb__u2f(d->v);
        return 1;
    }
    if (d->enc == TSDB_ENC_GORILLA || d->enc == TSDB_ENC_PACKED || d->enc == TSDB_ENC_STREAM) {
        /* The codecs' own loops keep the decoder state in registers. */
        int rc = d->enc == TSDB_ENC_GORILLA  ? tsdb__chunk_gorilla_seek(d, t)
                 : d->enc == TSDB_ENC_PACKED ? tsdb__chunk_packed_seek(d, t)
                                             : tsdb__chunk_stream_seek(d, t);
        if (rc < 0)
            d->enc = DEC_FAILED;
        if (rc == 1) {
            *ot = d->t;
            *ov = tsdb__u2f(d->v);
        }
        return rc;
    }
    int64_t st;
    double sv;
    int rc;
    while ((rc = tsdb_chunk_dec_next(d, &st, &sv)) == 1) {
        if (st >= t) {
            *ot = st;
            *ov = sv;
            return 1;
        }
    }
    return rc;
}

int tsdb_chunk_dec_batch(struct tsdb_chunk_dec *d, int64_t *ts, double *vs, size_t max)
{
    if (max > INT32_MAX)
        max = INT32_MAX;
    if (d->enc == TSDB_ENC_GORILLA || d->enc == TSDB_ENC_PACKED || d->enc == TSDB_ENC_STREAM) {
        int rc = d->enc == TSDB_ENC_GORILLA  ? tsdb__chunk_gorilla_batch(d, ts, vs, max)
                 : d->enc == TSDB_ENC_PACKED ? tsdb__chunk_packed_batch(d, ts, vs, max)
                                             : tsdb__chunk_stream_batch(d, ts, vs, max);
        if (rc < 0)
            d->enc = DEC_FAILED;
        return rc;
    }
    size_t k = 0;
    while (k < max) {
        int rc = tsdb_chunk_dec_next(d, &ts[k], &vs[k]);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
        k++;
    }
    return (int)k;
}

/* ---- sealing ---- */

static int raw_encode(const int64_t *ts, const uint64_t *vs, size_t n, struct pl_buf *out)
{
    size_t need = TSDB__CHUNK_HDR + 16 * n;
    int rc = pl_buf_reserve(out, need);
    if (rc < 0)
        return rc;
    uint8_t *p = (uint8_t *)out->data + out->len;
    p[0] = TSDB_ENC_RAW;
    p[1] = (uint8_t)(n >> 8);
    p[2] = (uint8_t)n;
    for (size_t i = 0; i < n; i++) {
        tsdb__store_be64(p + TSDB__CHUNK_HDR + 16 * i, (uint64_t)ts[i]);
        tsdb__store_be64(p + TSDB__CHUNK_HDR + 16 * i + 8, vs[i]);
    }
    out->len += need;
    out->data[out->len] = '\0';
    return 0;
}

static int stream_encode(const int64_t *ts, const uint64_t *vs, size_t n, uint8_t kind,
                         struct pl_buf *out)
{
    struct tsdb_chunk_enc e;
    tsdb_chunk_enc_init_kind(&e, kind);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = tsdb_chunk_enc_append(&e, ts[i], tsdb__u2f(vs[i]));
    if (rc == 0) {
        size_t len;
        const uint8_t *p = tsdb_chunk_enc_bytes(&e, &len);
        rc = pl_buf_append(out, p, len);
    }
    tsdb_chunk_enc_fini(&e);
    return rc;
}

/* True when p[0..len) decodes to exactly ts/vs. */
static int decodes_to(const uint8_t *p, size_t len, const int64_t *ts, const uint64_t *vs, size_t n)
{
    struct tsdb_chunk_dec d;
    if (tsdb_chunk_dec_init(&d, p, len) < 0 || tsdb_chunk_dec_count(&d) != n)
        return 0;
    /* In batches: the batch decoders are ~30% faster than one sample at a time. */
    int64_t bt[64];
    double bv[64];
    for (size_t i = 0; i < n;) {
        int got = tsdb_chunk_dec_batch(&d, bt, bv, n - i < 64 ? n - i : 64);
        if (got <= 0)
            return 0;
        for (int j = 0; j < got; j++, i++)
            if (bt[j] != ts[i] || tsdb__f2u(bv[j]) != vs[i])
                return 0;
    }
    return 1;
}

int tsdb_chunk_encode_samples(const int64_t *ts, const double *vs, size_t n, uint8_t enc,
                              struct pl_buf *out)
{
    if (n > TSDB_CHUNK_MAX_SAMPLES)
        return PL_ERR_LIMIT;
    for (size_t i = 1; i < n; i++)
        if (ts[i] < ts[i - 1])
            return PL_ERR_OUT_OF_ORDER;
    if (enc != TSDB_ENC_RAW && enc != TSDB_ENC_GORILLA && enc != TSDB_ENC_PACKED &&
        enc != TSDB_ENC_STREAM)
        return PL_ERR_INVALID;
    if (enc == TSDB_ENC_PACKED && n == 0)
        return PL_ERR_UNSUPPORTED;
    uint64_t *vb = pl_xmalloc((n ? n : 1) * sizeof(*vb));
    if (n)
        memcpy(vb, vs, n * sizeof(*vb));
    int rc;
    switch (enc) {
    case TSDB_ENC_RAW:
        rc = raw_encode(ts, vb, n, out);
        break;
    case TSDB_ENC_PACKED:
        rc = tsdb__chunk_packed_encode(ts, vb, n, out);
        break;
    default:
        rc = stream_encode(ts, vb, n, enc, out);
        break;
    }
    free(vb);
    return rc;
}

/*
 * The smallest encoding of ts/vs[0..cnt). gorilla_len: the size of the same
 * samples Gorilla-encoded when the caller has them (SIZE_MAX otherwise).
 */
static int seal_impl(const int64_t *ts, const uint64_t *vs, size_t cnt, size_t gorilla_len,
                     struct pl_buf *out)
{
    if (cnt > TSDB_CHUNK_MAX_SAMPLES)
        return PL_ERR_LIMIT;
    /*
     * Encode with every codec into one scratch buffer and keep the smallest.
     * Packed output is verified by decoding it: a bug there must cost bytes,
     * never data.
     */
    struct pl_buf scratch;
    pl_buf_init(&scratch, (size_t)-1 / 2);
    size_t best_off = 0, best_len = SIZE_MAX;
    int rc = 0;
    if (cnt > 0 && tsdb__chunk_packed_encode(ts, vs, cnt, &scratch) == 0 &&
        decodes_to((uint8_t *)scratch.data, scratch.len, ts, vs, cnt))
        best_len = scratch.len;
    /*
     * A Gorilla input is at least as small as its re-encoding (our encoder
     * is deterministic), so only re-encode when Gorilla might win.
     */
    size_t off = scratch.len;
    if (gorilla_len <= best_len) {
        rc = stream_encode(ts, vs, cnt, TSDB_ENC_GORILLA, &scratch);
        if (rc < 0)
            goto done;
        if (scratch.len - off < best_len) {
            best_off = off;
            best_len = scratch.len - off;
        }
    }
    if (TSDB__CHUNK_HDR + 16 * cnt < best_len) {
        off = scratch.len;
        rc = raw_encode(ts, vs, cnt, &scratch);
        if (rc < 0)
            goto done;
        best_off = off;
        best_len = scratch.len - off;
    }
    rc = pl_buf_append(out, scratch.data + best_off, best_len);
done:
    pl_buf_fini(&scratch);
    return rc;
}

int tsdb__chunk_seal_samples(const int64_t *ts, const uint64_t *vs, size_t cnt, struct pl_buf *out)
{
    return seal_impl(ts, vs, cnt, SIZE_MAX, out);
}

int tsdb_chunk_seal(const uint8_t *p, size_t n, struct pl_buf *out)
{
    struct tsdb_chunk_dec d;
    int rc = tsdb_chunk_dec_init(&d, p, n);
    if (rc < 0)
        return rc;
    size_t cnt = tsdb_chunk_dec_count(&d);
    int64_t *ts = pl_xmalloc((cnt ? cnt : 1) * sizeof(*ts));
    uint64_t *vs = pl_xmalloc((cnt ? cnt : 1) * sizeof(*vs));
    double dv[64];
    for (size_t i = 0; i < cnt;) {
        rc = tsdb_chunk_dec_batch(&d, ts + i, dv, cnt - i < 64 ? cnt - i : 64);
        if (rc <= 0) {
            rc = rc < 0 ? rc : PL_ERR_CORRUPT;
            goto out;
        }
        for (int j = 0; j < rc; j++)
            vs[i + (size_t)j] = tsdb__f2u(dv[j]);
        i += (size_t)rc;
    }
    rc = seal_impl(ts, vs, cnt, p[0] == TSDB_ENC_GORILLA ? n : SIZE_MAX, out);
out:
    free(ts);
    free(vs);
    return rc;
}
