/*
 * test_remote.c - remote write 1.0 decoding (server/remote.c), checked
 * against requests encoded by protobuf-c from server/remote.proto.
 */
#include "tests.h"

#include "server/remote.h"
#include "server/remote.pb-c.h"

#include <math.h>
#include <snappy-c.h>

struct built {
    uint8_t *pb;
    size_t pb_len;
    char *snappy;
    size_t snappy_len;
};

static const uint64_t stale_bits = UINT64_C(0x7ff0000000000002);

/* Three series: one with special values, one with no samples, one with metadata after it. */
static struct built build_request(int with_metadata)
{
    Prometheus__Label l1[2] = {PROMETHEUS__LABEL__INIT, PROMETHEUS__LABEL__INIT};
    l1[0].name = "__name__";
    l1[0].value = "http_requests_total";
    l1[1].name = "job";
    l1[1].value = "api";
    Prometheus__Label *pl1[] = {&l1[0], &l1[1]};
    Prometheus__Sample s1[5];
    double stale;
    memcpy(&stale, &stale_bits, sizeof(stale));
    double vals[5] = {1.5, -INFINITY, INFINITY, stale, -0.0};
    int64_t ts[5] = {-1000, 0, 1, 1700000000123, INT64_MAX};
    Prometheus__Sample *ps1[5];
    for (int i = 0; i < 5; i++) {
        prometheus__sample__init(&s1[i]);
        s1[i].value = vals[i];
        s1[i].timestamp = ts[i];
        ps1[i] = &s1[i];
    }
    Prometheus__TimeSeries t1 = PROMETHEUS__TIME_SERIES__INIT;
    t1.n_labels = 2;
    t1.labels = pl1;
    t1.n_samples = 5;
    t1.samples = ps1;

    Prometheus__Label l2 = PROMETHEUS__LABEL__INIT;
    l2.name = "empty_series";
    l2.value = "";
    Prometheus__Label *pl2[] = {&l2};
    Prometheus__TimeSeries t2 = PROMETHEUS__TIME_SERIES__INIT;
    t2.n_labels = 1;
    t2.labels = pl2;

    Prometheus__Label l3 = PROMETHEUS__LABEL__INIT;
    l3.name = "__name__";
    l3.value = "g\xc3\xa9";
    Prometheus__Label *pl3[] = {&l3};
    Prometheus__Sample s3 = PROMETHEUS__SAMPLE__INIT;
    s3.value = 42;
    s3.timestamp = 5;
    Prometheus__Sample *ps3[] = {&s3};
    Prometheus__TimeSeries t3 = PROMETHEUS__TIME_SERIES__INIT;
    t3.n_labels = 1;
    t3.labels = pl3;
    t3.n_samples = 1;
    t3.samples = ps3;

    Prometheus__TimeSeries *pts[] = {&t1, &t2, &t3};
    Prometheus__MetricMetadata md = PROMETHEUS__METRIC_METADATA__INIT;
    md.type = PROMETHEUS__METRIC_METADATA__METRIC_TYPE__COUNTER;
    md.metric_family_name = "http_requests_total";
    md.help = "Requests.";
    md.unit = "";
    Prometheus__MetricMetadata *pmd[] = {&md};
    Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
    wr.n_timeseries = 3;
    wr.timeseries = pts;
    if (with_metadata) {
        wr.n_metadata = 1;
        wr.metadata = pmd;
    }
    struct built b;
    b.pb_len = prometheus__write_request__get_packed_size(&wr);
    b.pb = malloc(b.pb_len + 1);
    prometheus__write_request__pack(&wr, b.pb);
    b.snappy_len = snappy_max_compressed_length(b.pb_len);
    b.snappy = malloc(b.snappy_len);
    assert_int_equal(snappy_compress((const char *)b.pb, b.pb_len, b.snappy, &b.snappy_len),
                     SNAPPY_OK);
    return b;
}

static void built_free(struct built *b)
{
    free(b->pb);
    free(b->snappy);
}

static void check_decoded(const struct srv_rw_request *r)
{
    assert_int_equal(r->nseries, 3);
    assert_int_equal(r->lab_off[1] - r->lab_off[0], 2);
    assert_memory_equal(r->labels[0].name, "__name__", 8);
    assert_int_equal(r->labels[1].value_len, 3);
    assert_memory_equal(r->labels[1].value, "api", 3);
    assert_int_equal(r->smp_off[1], 5);
    assert_int_equal(r->t[0], -1000);
    assert_true(r->v[0] == 1.5);
    assert_true(isinf(r->v[1]) && r->v[1] < 0);
    assert_true(isinf(r->v[2]) && r->v[2] > 0);
    uint64_t bits;
    memcpy(&bits, &r->v[3], sizeof(bits));
    assert_true(bits == stale_bits);
    /* proto3 omits a zero double, -0 included (protobuf-c and Go alike): it arrives as +0. */
    assert_true(r->v[4] == 0);
    assert_true(r->t[4] == INT64_MAX);
    /* The second series has a label with an empty value and no samples. */
    assert_int_equal(r->lab_off[2] - r->lab_off[1], 1);
    assert_int_equal(r->labels[2].value_len, 0);
    assert_int_equal(r->smp_off[2], r->smp_off[1]);
    assert_int_equal(r->labels[3].value_len, 3);
    assert_int_equal(r->nsamples, 6);
    assert_true(r->v[5] == 42 && r->t[5] == 5);
}

static void test_remote_decodes_protobuf_c_request(void **state)
{
    struct built b = build_request(0);
    struct srv_rw_request r;
    srv_rw_request_init(&r);
    struct pl_err err;
    assert_int_equal(srv_rw_decode_snappy(&r, b.snappy, b.snappy_len, &err), 0);
    check_decoded(&r);
    /* Reuse: a second request replaces the first. */
    assert_int_equal(srv_rw_decode(&r, b.pb, b.pb_len, &err), 0);
    check_decoded(&r);
    srv_rw_request_fini(&r);
    built_free(&b);
}

static void test_remote_skips_metadata_and_unknown_fields(void **state)
{
    struct built b = build_request(1);
    struct srv_rw_request r;
    srv_rw_request_init(&r);
    assert_int_equal(srv_rw_decode_snappy(&r, b.snappy, b.snappy_len, NULL), 0);
    check_decoded(&r);
    /* Unknown fields of every wire type appended to the WriteRequest. */
    uint8_t extra[] = {
        0x28, 0x96, 0x01,                      /* field 5, varint */
        0x31, 1,    2,    3,    4, 5, 6, 7, 8, /* field 6, fixed64 */
        0x3a, 0x02, 0xff, 0xff,                /* field 7, bytes */
        0x45, 1,    2,    3,    4,             /* field 8, fixed32 */
    };
    uint8_t *pb = malloc(b.pb_len + sizeof(extra));
    memcpy(pb, b.pb, b.pb_len);
    memcpy(pb + b.pb_len, extra, sizeof(extra));
    assert_int_equal(srv_rw_decode(&r, pb, b.pb_len + sizeof(extra), NULL), 0);
    check_decoded(&r);
    free(pb);
    srv_rw_request_fini(&r);
    built_free(&b);
}

static void test_remote_rejects_corrupt_snappy(void **state)
{
    struct srv_rw_request r;
    srv_rw_request_init(&r);
    struct pl_err err;
    const char junk[] = "this is not snappy at all";
    assert_int_equal(srv_rw_decode_snappy(&r, junk, sizeof(junk) - 1, &err), PL_ERR_INVALID);
    assert_string_equal(err.msg, "snappy: corrupt input");
    /* A length header claiming more than the limit. */
    const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
    assert_int_equal(srv_rw_decode_snappy(&r, huge, sizeof(huge), &err), PL_ERR_LIMIT);
    srv_rw_request_fini(&r);
}

static void test_remote_empty_request_has_no_series(void **state)
{
    struct srv_rw_request r;
    srv_rw_request_init(&r);
    char out[64];
    size_t out_len = sizeof(out);
    assert_int_equal(snappy_compress("", 0, out, &out_len), SNAPPY_OK);
    assert_int_equal(srv_rw_decode_snappy(&r, out, out_len, NULL), 0);
    assert_int_equal(r.nseries, 0);
    assert_int_equal(r.nsamples, 0);
    srv_rw_request_fini(&r);
}

static void test_remote_every_truncation_fails_cleanly(void **state)
{
    /* Cutting the message anywhere must give an error or a valid prefix, never a bad read. */
    struct built b = build_request(1);
    struct srv_rw_request r;
    srv_rw_request_init(&r);
    int errors = 0;
    for (size_t cut = 0; cut < b.pb_len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size, so ASan sees overreads */
        memcpy(copy, b.pb, cut);
        struct pl_err err;
        int rc = srv_rw_decode(&r, copy, cut, &err);
        if (rc) {
            assert_int_equal(rc, PL_ERR_INVALID);
            assert_non_null(strstr(err.msg, "proto: "));
            errors++;
        } else {
            assert_true(r.nseries <= 3);
        }
        free(copy);
    }
    assert_true(errors > 0);
    srv_rw_request_fini(&r);
    built_free(&b);
}

static void test_remote_rejects_wrong_wire_types(void **state)
{
    struct srv_rw_request r;
    srv_rw_request_init(&r);
    struct pl_err err;
    /* timeseries (field 1) sent as a varint. */
    const uint8_t a[] = {0x08, 0x01};
    assert_int_equal(srv_rw_decode(&r, a, sizeof(a), &err), PL_ERR_INVALID);
    assert_string_equal(err.msg, "proto: WriteRequest: wrong wire type");
    /* Sample value as a varint inside a series. */
    const uint8_t b[] = {0x0a, 0x04, 0x12, 0x02, 0x08, 0x01};
    assert_int_equal(srv_rw_decode(&r, b, sizeof(b), &err), PL_ERR_INVALID);
    assert_string_equal(err.msg, "proto: Sample: wrong wire type");
    /* A group (wire type 3) is not skippable in proto3. */
    const uint8_t c[] = {0x1b};
    assert_int_equal(srv_rw_decode(&r, c, sizeof(c), &err), PL_ERR_INVALID);
    assert_string_equal(err.msg, "proto: WriteRequest: illegal wire type");
    /* A length running past the message. */
    const uint8_t d[] = {0x0a, 0x7f, 0x00};
    assert_int_equal(srv_rw_decode(&r, d, sizeof(d), &err), PL_ERR_INVALID);
    assert_string_equal(err.msg, "proto: WriteRequest: unexpected EOF");
    /* An 11-byte varint. */
    const uint8_t e[] = {0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(srv_rw_decode(&r, e, sizeof(e), &err), PL_ERR_INVALID);
    assert_string_equal(err.msg, "proto: WriteRequest: integer overflow");
    srv_rw_request_fini(&r);
}

static void test_remote_large_request_without_per_sample_growth_failure(void **state)
{
    /* 1000 series x 120 samples, encoded by protobuf-c, decoded in one pass. */
    enum { NS = 1000, NP = 120 };
    Prometheus__TimeSeries *ts = calloc(NS, sizeof(*ts));
    Prometheus__TimeSeries **pts = calloc(NS, sizeof(*pts));
    Prometheus__Label *lab = calloc(NS, sizeof(*lab));
    Prometheus__Label **plab = calloc(NS, sizeof(*plab));
    Prometheus__Sample *smp = calloc((size_t)NS * NP, sizeof(*smp));
    Prometheus__Sample **psmp = calloc((size_t)NS * NP, sizeof(*psmp));
    char(*names)[16] = calloc(NS, sizeof(*names));
    for (int i = 0; i < NS; i++) {
        prometheus__time_series__init(&ts[i]);
        prometheus__label__init(&lab[i]);
        snprintf(names[i], sizeof(names[i]), "m%d", i);
        lab[i].name = "__name__";
        lab[i].value = names[i];
        plab[i] = &lab[i];
        ts[i].n_labels = 1;
        ts[i].labels = &plab[i];
        for (int j = 0; j < NP; j++) {
            Prometheus__Sample *s = &smp[(size_t)i * NP + j];
            prometheus__sample__init(s);
            s->value = i * 1000.0 + j;
            s->timestamp = (int64_t)j * 15000;
            psmp[(size_t)i * NP + j] = s;
        }
        ts[i].n_samples = NP;
        ts[i].samples = &psmp[(size_t)i * NP];
        pts[i] = &ts[i];
    }
    Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
    wr.n_timeseries = NS;
    wr.timeseries = pts;
    size_t len = prometheus__write_request__get_packed_size(&wr);
    uint8_t *pb = malloc(len);
    prometheus__write_request__pack(&wr, pb);
    struct srv_rw_request r;
    srv_rw_request_init(&r);
    assert_int_equal(srv_rw_decode(&r, pb, len, NULL), 0);
    assert_int_equal(r.nseries, NS);
    assert_int_equal(r.nsamples, (size_t)NS * NP);
    assert_true(r.v[(size_t)NS * NP - 1] == (NS - 1) * 1000.0 + NP - 1);
    assert_int_equal(r.t[(size_t)NS * NP - 1], (int64_t)(NP - 1) * 15000);
    assert_memory_equal(r.labels[NS - 1].value, "m999", 4);
    srv_rw_request_fini(&r);
    free(pb);
    free(ts);
    free(pts);
    free(lab);
    free(plab);
    free(smp);
    free(psmp);
    free(names);
}

int test_remote_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_decodes_protobuf_c_request),
        cmocka_unit_test(test_remote_skips_metadata_and_unknown_fields),
        cmocka_unit_test(test_remote_rejects_corrupt_snappy),
        cmocka_unit_test(test_remote_empty_request_has_no_series),
        cmocka_unit_test(test_remote_every_truncation_fails_cleanly),
        cmocka_unit_test(test_remote_rejects_wrong_wire_types),
        cmocka_unit_test(test_remote_large_request_without_per_sample_growth_failure),
    };
    return cmocka_run_group_tests_name("remote", tests, NULL, NULL);
}
