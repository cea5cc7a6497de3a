/*
 * remote.h - Prometheus remote write 1.0 receiver: decoding a request body.
 *
 * Spec: prometheus/docs content/docs/specs/remote_write_spec.md. The body is
 * a snappy block (not framed) holding a protobuf WriteRequest:
 *   WriteRequest { repeated TimeSeries timeseries = 1; metadata = 3 (ignored) }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }
 * The wire format is decoded by hand (the protobuf encoding guide): protobuf-c
 * would allocate one object per sample. server/remote.proto is the schema;
 * the unit tests build requests from it with protobuf-c to check this decoder.
 * Values are copied bit-exact, so the stale marker NaN survives.
 */
#ifndef SERVER_REMOTE_H
#define SERVER_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Largest decompressed WriteRequest accepted (Prometheus sends ~1 MiB). */
#define SRV_REMOTE_MAX_DECODED (256u << 20)

/* A label as it appears on the wire: borrowed pointers into the decoded body. */
struct srv_rw_label {
    const char *name, *value;
    uint32_t name_len, value_len;
};

/*
 * One decoded request, reusable across requests (arrays grow, never shrink).
 * Series i has labels [lab_off[i], lab_off[i+1]) and samples
 * [smp_off[i], smp_off[i+1]).
 */
struct srv_rw_request {
    char *raw; /* the decompressed body, owned */
    size_t raw_len, raw_cap;
    struct srv_rw_label *labels;
    size_t nlabels, labels_cap;
    int64_t *t;
    double *v;
    size_t nsamples, samples_cap;
    size_t *lab_off, *smp_off; /* nseries + 1 entries each */
    size_t nseries, series_cap;
};

void srv_rw_request_init(struct srv_rw_request *r);
void srv_rw_request_fini(struct srv_rw_request *r);

/*
 * Decodes a snappy-compressed WriteRequest. Errors: PL_ERR_INVALID with a
 * message ("snappy: corrupt input", "proto: ...: unexpected EOF", ...),
 * PL_ERR_LIMIT beyond SRV_REMOTE_MAX_DECODED. The labels borrow r->raw.
 */
int srv_rw_decode_snappy(struct srv_rw_request *r, const void *body, size_t len,
                         struct pl_err *err);
/* Decodes an uncompressed WriteRequest (copied into r->raw). */
int srv_rw_decode(struct srv_rw_request *r, const void *pb, size_t len, struct pl_err *err);

#endif
