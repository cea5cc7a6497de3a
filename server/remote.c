/*
 * remote.c - remote write 1.0 request decoding (remote.h).
 *
 * Protobuf wire format (developers.google.com/protocol-buffers/docs/encoding):
 * each field is a varint key (field number << 3 | wire type) followed by a
 * varint (type 0), 8 bytes (type 1), a varint length and bytes (type 2) or 4
 * bytes (type 5). Unknown fields are skipped, as protobuf requires; a known
 * field with the wrong wire type, a truncated field or a length running past
 * its message is an error. Every read is bounds-checked against the end of
 * the enclosing message.
 */
#include "server/remote.h"

#include "common/mem.h"

#include <snappy-c.h>
#include <string.h>

void srv_rw_request_init(struct srv_rw_request *r)
{
    memset(r, 0, sizeof(*r));
}

void srv_rw_request_fini(struct srv_rw_request *r)
{
    free(r->raw);
    free(r->labels);
    free(r->t);
    free(r->v);
    free(r->lab_off);
    free(r->smp_off);
    memset(r, 0, sizeof(*r));
}

struct rd {
    const uint8_t *p, *end;
};

static int rd_varint(struct rd *d, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (d->p >= d->end)
            return -1;
        uint8_t b = *d->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -2; /* more than 10 bytes */
}

static int rd_fixed64(struct rd *d, uint64_t *out)
{
    if (d->end - d->p < 8)
        return -1;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | d->p[i];
    d->p += 8;
    *out = v;
    return 0;
}

/* Reads a length-delimited field's bounds into sub. */
static int rd_len(struct rd *d, struct rd *sub)
{
    uint64_t n;
    int rc = rd_varint(d, &n);
    if (rc)
        return rc;
    if (n > (uint64_t)(d->end - d->p))
        return -1;
    sub->p = d->p;
    sub->end = d->p + n;
    d->p += n;
    return 0;
}

/* Skips a field of wire type wt. */
static int rd_skip(struct rd *d, unsigned wt)
{
    uint64_t u;
    struct rd sub;
    switch (wt) {
    case 0:
        return rd_varint(d, &u);
    case 1:
        return rd_fixed64(d, &u);
    case 2:
        return rd_len(d, &sub);
    case 5:
        if (d->end - d->p < 4)
            return -1;
        d->p += 4;
        return 0;
    default:
        return -3; /* groups (3, 4) and 6, 7 are not valid here */
    }
}

static int fail(struct pl_err *err, const char *what, int rc)
{
    const char *why = rc == -1   ? "unexpected EOF"
                      : rc == -2 ? "integer overflow"
                      : rc == -3 ? "illegal wire type"
                                 : "wrong wire type";
    return pl_err_set(err, PL_ERR_INVALID, "proto: %s: %s", what, why);
}

#define GROW(arr, n, cap, need)                                                                    \
    do {                                                                                           \
        if ((n) + (need) > (cap)) {                                                                \
            size_t nc_ = (cap) ? (cap)*2 : 64;                                                     \
            while (nc_ < (n) + (need))                                                             \
                nc_ *= 2;                                                                          \
            (arr) = pl_xreallocarray((arr), nc_, sizeof(*(arr)));                                  \
            (cap) = nc_;                                                                           \
        }                                                                                          \
    } while (0)

static int decode_label(struct srv_rw_request *r, struct rd *m, struct pl_err *err)
{
    struct srv_rw_label l = {"", "", 0, 0};
    while (m->p < m->end) {
        uint64_t key;
        int rc = rd_varint(m, &key);
        if (rc)
            return fail(err, "Label", rc);
        unsigned f = (unsigned)(key >> 3), wt = key & 7;
        if (f == 1 || f == 2) {
            struct rd s;
            if (wt != 2)
                return fail(err, "Label", -4);
            if ((rc = rd_len(m, &s)))
                return fail(err, "Label", rc);
            if ((size_t)(s.end - s.p) > UINT32_MAX)
                return pl_err_set(err, PL_ERR_INVALID, "proto: Label: string too long");
            if (f == 1) {
                l.name = (const char *)s.p;
                l.name_len = (uint32_t)(s.end - s.p);
            } else {
                l.value = (const char *)s.p;
                l.value_len = (uint32_t)(s.end - s.p);
            }
        } else if ((rc = rd_skip(m, wt))) {
            return fail(err, "Label", rc);
        }
    }
    GROW(r->labels, r->nlabels, r->labels_cap, 1);
    r->labels[r->nlabels++] = l;
    return 0;
}

static int decode_sample(struct srv_rw_request *r, struct rd *m, struct pl_err *err)
{
    uint64_t bits = 0, ts = 0;
    while (m->p < m->end) {
        uint64_t key;
        int rc = rd_varint(m, &key);
        if (rc)
            return fail(err, "Sample", rc);
        unsigned f = (unsigned)(key >> 3), wt = key & 7;
        if (f == 1) {
            if (wt != 1)
                return fail(err, "Sample", -4);
            if ((rc = rd_fixed64(m, &bits)))
                return fail(err, "Sample", rc);
        } else if (f == 2) {
            if (wt != 0)
                return fail(err, "Sample", -4);
            if ((rc = rd_varint(m, &ts)))
                return fail(err, "Sample", rc);
        } else if ((rc = rd_skip(m, wt))) {
            return fail(err, "Sample", rc);
        }
    }
    if (r->nsamples == r->samples_cap) {
        /* t and v share one capacity. */
        r->samples_cap = r->samples_cap ? r->samples_cap * 2 : 256;
        r->t = pl_xreallocarray(r->t, r->samples_cap, sizeof(*r->t));
        r->v = pl_xreallocarray(r->v, r->samples_cap, sizeof(*r->v));
    }
    double v;
    memcpy(&v, &bits, sizeof(v));
    r->t[r->nsamples] = (int64_t)ts;
    r->v[r->nsamples] = v;
    r->nsamples++;
    return 0;
}

static int decode_series(struct srv_rw_request *r, struct rd *m, struct pl_err *err)
{
    while (m->p < m->end) {
        uint64_t key;
        int rc = rd_varint(m, &key);
        if (rc)
            return fail(err, "TimeSeries", rc);
        unsigned f = (unsigned)(key >> 3), wt = key & 7;
        if (f == 1 || f == 2) {
            struct rd s;
            if (wt != 2)
                return fail(err, "TimeSeries", -4);
            if ((rc = rd_len(m, &s)))
                return fail(err, "TimeSeries", rc);
            rc = f == 1 ? decode_label(r, &s, err) : decode_sample(r, &s, err);
            if (rc)
                return rc;
        } else if ((rc = rd_skip(m, wt))) {
            return fail(err, "TimeSeries", rc);
        }
    }
    return 0;
}

static int decode_raw(struct srv_rw_request *r, struct pl_err *err)
{
    struct rd d = {(const uint8_t *)r->raw, (const uint8_t *)r->raw + r->raw_len};
    r->nlabels = r->nsamples = r->nseries = 0;
    GROW(r->lab_off, 0, r->series_cap, 1);
    r->smp_off = pl_xreallocarray(r->smp_off, r->series_cap, sizeof(*r->smp_off));
    r->lab_off[0] = r->smp_off[0] = 0;
    while (d.p < d.end) {
        uint64_t key;
        int rc = rd_varint(&d, &key);
        if (rc)
            return fail(err, "WriteRequest", rc);
        unsigned f = (unsigned)(key >> 3), wt = key & 7;
        if (f == 1) {
            struct rd s;
            if (wt != 2)
                return fail(err, "WriteRequest", -4);
            if ((rc = rd_len(&d, &s)))
                return fail(err, "WriteRequest", rc);
            if ((rc = decode_series(r, &s, err)))
                return rc;
            size_t old = r->series_cap;
            GROW(r->lab_off, r->nseries + 1, r->series_cap, 1);
            if (r->series_cap != old)
                r->smp_off = pl_xreallocarray(r->smp_off, r->series_cap, sizeof(*r->smp_off));
            r->nseries++;
            r->lab_off[r->nseries] = r->nlabels;
            r->smp_off[r->nseries] = r->nsamples;
        } else if ((rc = rd_skip(&d, wt))) {
            return fail(err, "WriteRequest", rc);
        }
    }
    return 0;
}

int srv_rw_decode(struct srv_rw_request *r, const void *pb, size_t len, struct pl_err *err)
{
    if (len > SRV_REMOTE_MAX_DECODED)
        return pl_err_set(err, PL_ERR_LIMIT, "request too large: %zu bytes decoded (limit %u)", len,
                          SRV_REMOTE_MAX_DECODED);
    if (len + 1 > r->raw_cap) {
        r->raw = pl_xrealloc(r->raw, len + 1);
        r->raw_cap = len + 1;
    }
    if (len)
        memcpy(r->raw, pb, len);
    r->raw_len = len;
    return decode_raw(r, err);
}

int srv_rw_decode_snappy(struct srv_rw_request *r, const void *body, size_t len, struct pl_err *err)
{
    size_t out_len = 0;
    if (snappy_uncompressed_length(body, len, &out_len) != SNAPPY_OK)
        return pl_err_set(err, PL_ERR_INVALID, "snappy: corrupt input");
    if (out_len > SRV_REMOTE_MAX_DECODED)
        return pl_err_set(err, PL_ERR_LIMIT, "request too large: %zu bytes decompressed (limit %u)",
                          out_len, SRV_REMOTE_MAX_DECODED);
    if (out_len + 1 > r->raw_cap) {
        r->raw = pl_xrealloc(r->raw, out_len + 1);
        r->raw_cap = out_len + 1;
    }
    size_t got = out_len;
    if (snappy_uncompress(body, len, r->raw, &got) != SNAPPY_OK || got != out_len)
        return pl_err_set(err, PL_ERR_INVALID, "snappy: corrupt input");
    r->raw_len = got;
    return decode_raw(r, err);
}
