/*
 * chunk.h - sample chunk codecs.
 *
 * A chunk holds up to 65535 samples of one series in time order. The head
 * appends into an open chunk with the streaming Gorilla encoder (Pelkonen et
 * al., "Gorilla: A Fast, Scalable, In-Memory Time Series Database", VLDB 2015:
 * delta-of-delta timestamps, XOR values); the open chunk is readable at any
 * moment (tsdb_chunk_enc_init_kind offers TSDB_ENC_STREAM, an adaptive
 * streaming codec, instead). When a chunk seals, tsdb_chunk_seal re-encodes
 * it with whichever codec is smallest for its data (e.g. integer/decimal
 * values delta-coded),
 * and the decoder dispatches on the first byte (enum tsdb_enc).
 * Values are stored bit-exact: NaN payloads (the stale marker) survive.
 */
#ifndef TSDB_CHUNK_H
#define TSDB_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum tsdb_enc {
    TSDB_ENC_RAW = 0,     /* uncompressed: for tests and as a fallback */
    TSDB_ENC_GORILLA = 1, /* delta-of-delta timestamps, XOR values */
    TSDB_ENC_PACKED = 2,  /* per-chunk codes: decimal values, scrape grid; chunk_packed.c */
    TSDB_ENC_STREAM = 3,  /* streaming, adaptive: decimal deltas, Rice codes; chunk_stream.c */
    /* further codecs appended by chunk_*.c; never renumber */
};

#define TSDB_CHUNK_MAX_SAMPLES 65535

/* The streaming encoder used by the head. Embed it; _init/_fini. */
struct tsdb_chunk_enc {
    uint8_t *buf; /* owned; the encoded chunk so far (readable with the decoder) */
    size_t cap;
    size_t bitlen; /* bits written */
    uint16_t n;    /* samples */
    /* Added (in what was padding): the encoding appended, TSDB_ENC_GORILLA
     * or TSDB_ENC_STREAM, and TSDB_ENC_STREAM's state; private to chunk*.c. */
    uint16_t nexc;
    uint8_t kind, scale, nt, nv;
    int64_t t_first, t_last, t_delta;
    uint64_t v_last;
    uint8_t leading, trailing; /* of the last XOR window */
    uint8_t shift;             /* added: TSDB_ENC_STREAM */
    uint16_t e1, e2;           /* added: TSDB_ENC_STREAM predictor costs */
    int64_t m, md;             /* added: TSDB_ENC_STREAM */
    uint64_t at, av;           /* added: TSDB_ENC_STREAM */
};

void tsdb_chunk_enc_init(struct tsdb_chunk_enc *e);
/*
 * As tsdb_chunk_enc_init, choosing the streaming encoding: TSDB_ENC_GORILLA
 * (what _init uses) or TSDB_ENC_STREAM (adaptive: decimal values as integer
 * deltas, timestamps as deviations from the first interval, Rice codes with
 * running parameters; in bench/chunk 1.8x smaller open chunks than Gorilla
 * on the node_exporter mix and up to 5x on decimal counters, at about 2/3
 * of Gorilla's append speed). Reset keeps the choice. PL_ERR_INVALID for
 * other encodings.
 */
int tsdb_chunk_enc_init_kind(struct tsdb_chunk_enc *e, uint8_t kind);
void tsdb_chunk_enc_fini(struct tsdb_chunk_enc *e);
void tsdb_chunk_enc_reset(struct tsdb_chunk_enc *e);
/*
 * Appends a sample; t must be >= the last one (equal allowed). PL_ERR_LIMIT
 * when full (TSDB_CHUNK_MAX_SAMPLES), PL_ERR_OUT_OF_ORDER when t goes back.
 */
int tsdb_chunk_enc_append(struct tsdb_chunk_enc *e, int64_t t, double v);
/* The encoded bytes so far (borrowed until the next append). */
const uint8_t *tsdb_chunk_enc_bytes(const struct tsdb_chunk_enc *e, size_t *len);

/*
 * Re-encodes a chunk (any encoding) with the smallest codec for its data,
 * appending the result to `out`. Round trip is bit-exact.
 */
int tsdb_chunk_seal(const uint8_t *p, size_t n, struct pl_buf *out);

/* Decoder over an encoded chunk of any encoding; the bytes are borrowed. */
struct tsdb_chunk_dec {
    const uint8_t *p;
    size_t len;
    uint8_t enc;
    uint16_t n, i;
    size_t bitpos;
    int64_t t, t_delta;
    uint64_t v;
    uint8_t leading, trailing;
    uint64_t state[4]; /* codec-specific */
    /* Added for TSDB_ENC_PACKED; private to chunk*.c. */
    uint64_t t0, tD, m, md, g;
    double div;
    size_t xpos;       /* next exception entry (byte offset) */
    uint32_t next_exc; /* sample index of that exception, or UINT32_MAX */
    uint32_t exc_left;
    uint8_t mode, tdesc, vdesc, seen;
    uint8_t tkv, vkv, thave, vhave; /* zero-run codes */
    uint8_t snt, snv;               /* TSDB_ENC_STREAM adaptive counts */
    uint16_t se1, se2;              /* TSDB_ENC_STREAM predictor costs */
    uint32_t tpend, vpend;
    int64_t bias;
};

/* PL_ERR_CORRUPT for an unknown encoding or a truncated header. */
int tsdb_chunk_dec_init(struct tsdb_chunk_dec *d, const uint8_t *p, size_t n);
/* Number of samples in the chunk. */
uint16_t tsdb_chunk_dec_count(const struct tsdb_chunk_dec *d);
/* 1 with the next sample, 0 at the end, PL_ERR_CORRUPT on bad data (never reads out of bounds). */
int tsdb_chunk_dec_next(struct tsdb_chunk_dec *d, int64_t *t, double *v);
/* Skips to the first sample with timestamp >= t; same returns as _next, sample in *ot and *ov. */
int tsdb_chunk_dec_seek(struct tsdb_chunk_dec *d, int64_t t, int64_t *ot, double *ov);

/*
 * Decodes up to `max` next samples into ts[]/vs[] (OUT). Returns how many
 * (0 at the end) or PL_ERR_CORRUPT; samples before a corrupt one are
 * returned by the previous calls only, so on error ts/vs hold garbage.
 */
int tsdb_chunk_dec_batch(struct tsdb_chunk_dec *d, int64_t *ts, double *vs, size_t max);

/*
 * Encodes n samples (timestamps non-decreasing) with a given encoding,
 * appending to `out` (tests, benchmarks, imports). PL_ERR_LIMIT when n >
 * TSDB_CHUNK_MAX_SAMPLES or `out` is full, PL_ERR_OUT_OF_ORDER,
 * PL_ERR_INVALID for an unknown encoding, PL_ERR_UNSUPPORTED when the
 * encoding cannot hold these samples (packed with n = 0).
 */
int tsdb_chunk_encode_samples(const int64_t *ts, const double *vs, size_t n, uint8_t enc,
                              struct pl_buf *out);

#endif
