/* test_json.c - Prometheus API float, time and string formatting (server/json.c). */
#include "tests.h"

#include "common/labels.h"
#include "server/json.h"

#include <math.h>

/* Expected texts are what Go's strconv.AppendFloat gives with Prometheus's 'f'/'e' switch. */
static const struct {
    double v;
    const char *want;
} float_cases[] = {
    {0.0, "0"},
    {1.0, "1"},
    {100.0, "100"},
    {-2.5, "-2.5"},
    {0.1, "0.1"},
    {0.1 + 0.2, "0.30000000000000004"},
    {1.0 / 3.0, "0.3333333333333333"},
    {123456789.125, "123456789.125"},
    {123456.7, "123456.7"},
    {9007199254740992.0, "9007199254740992"},
    {1e15 + 0.3, "1000000000000000.2"},
    {1e20, "100000000000000000000"},
    {9.999999999999999e20, "999999999999999900000"},
    {1e21, "1e+21"},
    {-1e21, "-1e+21"},
    {1e100, "1e+100"},
    {1.7976931348623157e308, "1.7976931348623157e+308"},
    {1e-6, "0.000001"},
    {0.000001234, "0.000001234"},
    {1e-7, "1e-07"},
    {1.5e-7, "1.5e-07"},
    {123e-20, "1.23e-18"},
    {2.2250738585072014e-308, "2.2250738585072014e-308"},
    {5e-324, "5e-324"},
    {-5e-324, "-5e-324"},
};

static void test_json_float_matches_go_formatting(void **state)
{
    char buf[SRV_FLOAT_MAX];
    for (size_t i = 0; i < sizeof(float_cases) / sizeof(float_cases[0]); i++) {
        size_t n = srv_json_format_float(float_cases[i].v, buf);
        if (strcmp(buf, float_cases[i].want) != 0)
            fail_msg("case %zu: got %s, want %s", i, buf, float_cases[i].want);
        assert_int_equal(n, strlen(buf));
        srv_json_format_float_exact(float_cases[i].v, buf);
        if (strcmp(buf, float_cases[i].want) != 0)
            fail_msg("case %zu (reference): got %s, want %s", i, buf, float_cases[i].want);
    }
}

static void test_json_float_specials(void **state)
{
    char buf[SRV_FLOAT_MAX];
    srv_json_format_float(NAN, buf);
    assert_string_equal(buf, "NaN");
    srv_json_format_float(-NAN, buf);
    assert_string_equal(buf, "NaN");
    srv_json_format_float(INFINITY, buf);
    assert_string_equal(buf, "+Inf");
    srv_json_format_float(-INFINITY, buf);
    assert_string_equal(buf, "-Inf");
    srv_json_format_float(-0.0, buf);
    assert_string_equal(buf, "-0");
    /* The stale marker is a NaN too. */
    uint64_t bits = UINT64_C(0x7ff0000000000002);
    double stale;
    memcpy(&stale, &bits, sizeof(stale));
    srv_json_format_float(stale, buf);
    assert_string_equal(buf, "NaN");
}

static void test_json_float_round_trips_random_bits(void **state)
{
    /* Every finite double must read back bit-exactly from its text. */
    uint64_t x = UINT64_C(0x9E3779B97F4A7C15); /* fixed seed */
    char buf[SRV_FLOAT_MAX];
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        if (!isfinite(v))
            continue;
        srv_json_format_float(v, buf);
        double back = strtod(buf, NULL);
        if (memcmp(&back, &v, sizeof(v)) != 0)
            fail_msg("%.17g printed as %s reads back as %.17g", v, buf, back);
    }
}

static void test_json_float_fast_path_matches_reference(void **state)
{
    /*
     * The long-double fast path against the printf/strtod reference, on
     * random bit patterns, rate-like quotients, decimals, values near powers
     * of two and of ten. Seed fixed; 5M values were compared when it was written.
     */
    uint64_t x = UINT64_C(88172645463325252);
    char fast[SRV_FLOAT_MAX], exact[SRV_FLOAT_MAX];
    for (int i = 0; i < 250000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        switch (i % 5) {
        case 0:
            memcpy(&v, &x, sizeof(v));
            if (!isfinite(v))
                continue;
            break;
        case 1:
            v = (double)(x % 1000000) / (double)(x % 97 + 1);
            break;
        case 2:
            v = (double)(x % 100000000) / pow(10, (double)(x % 13));
            break;
        case 3:
            v = ldexp(1.0, (int)(x % 200) - 100) * (1 + (double)(x % 4) * 1e-16);
            break;
        default: {
            v = pow(10, (double)((int)(x % 60) - 30));
            uint64_t b;
            memcpy(&b, &v, sizeof(b));
            b += (uint64_t)(x >> 60) % 5 - 2;
            memcpy(&v, &b, sizeof(v));
        }
        }
        srv_json_format_float(v, fast);
        srv_json_format_float_exact(v, exact);
        if (strcmp(fast, exact) != 0)
            fail_msg("%.17g: fast %s, reference %s", v, fast, exact);
    }
}

static void check_time(int64_t t, const char *want)
{
    struct pl_buf b;
    pl_buf_init(&b, 64);
    assert_int_equal(srv_json_time(&b, t), 0);
    if (strcmp(pl_buf_cstr(&b), want) != 0)
        fail_msg("time %lld: got %s, want %s", (long long)t, pl_buf_cstr(&b), want);
    pl_buf_fini(&b);
}

static void test_json_time_keeps_three_decimals(void **state)
{
    check_time(1435781451781, "1435781451.781");
    check_time(1795416322120, "1795416322.120");
    check_time(1795416331500, "1795416331.500");
    check_time(1795416322000, "1795416322");
    check_time(0, "0");
    check_time(5, "0.005");
    check_time(4000, "4");
    check_time(-1000, "-1");
    check_time(-1500, "-1.500");
    check_time(-5, "-0.005");
}

static void test_json_point_and_value(void **state)
{
    struct pl_buf b;
    pl_buf_init(&b, 256);
    assert_int_equal(srv_json_point(&b, 4000, 2), 0);
    assert_string_equal(pl_buf_cstr(&b), "[4,\"2\"]");
    pl_buf_reset(&b);
    assert_int_equal(srv_json_point(&b, 1795416331500, INFINITY), 0);
    assert_string_equal(pl_buf_cstr(&b), "[1795416331.500,\"+Inf\"]");
    pl_buf_fini(&b);
}

static void test_json_string_escapes_like_go(void **state)
{
    struct pl_buf b;
    pl_buf_init(&b, 1024);
    const char in[] = "a\"b\\c\nd\te\rf<g>&h\x01"
                      "\xc3\xa9"     /* é, kept */
                      "\xe2\x80\xa8" /* U+2028 */
                      "\xff"         /* invalid */
                      "\xe2\x82";    /* truncated */
    assert_int_equal(srv_json_str(&b, in, sizeof(in) - 1), 0);
    assert_string_equal(pl_buf_cstr(&b), "\"a\\\"b\\\\c\\nd\\te\\rf\\u003cg\\u003e\\u0026h\\u0001"
                                         "\xc3\xa9\\u2028\\ufffd\\ufffd\\ufffd\"");
    pl_buf_reset(&b);
    assert_int_equal(srv_json_str(&b, "", 0), 0);
    assert_string_equal(pl_buf_cstr(&b), "\"\"");
    pl_buf_fini(&b);
}

static void test_json_string_refuses_past_limit(void **state)
{
    struct pl_buf b;
    pl_buf_init(&b, 10);
    assert_int_equal(srv_json_strz(&b, "0123456789abcdef"), PL_ERR_LIMIT);
    pl_buf_fini(&b);
}

static void test_json_labels_object_in_sorted_order(void **state)
{
    struct pl_labels *ls;
    const char *txt = "up{job=\"node\",instance=\"127.0.0.1:9100\",env=\"a\\\"b\"}";
    assert_int_equal(pl_labels_parse(txt, strlen(txt), &ls, NULL), 0);
    struct pl_buf b;
    pl_buf_init(&b, 1024);
    assert_int_equal(srv_json_labels(&b, ls), 0);
    assert_string_equal(pl_buf_cstr(&b), "{\"__name__\":\"up\",\"env\":\"a\\\"b\","
                                         "\"instance\":\"127.0.0.1:9100\",\"job\":\"node\"}");
    pl_buf_reset(&b);
    assert_int_equal(srv_json_labels(&b, NULL), 0);
    assert_string_equal(pl_buf_cstr(&b), "{}");
    pl_buf_fini(&b);
    pl_labels_free(ls);
}

static struct pl_labels *labels(const char *txt)
{
    struct pl_labels *ls;
    assert_int_equal(pl_labels_parse(txt, strlen(txt), &ls, NULL), 0);
    return ls;
}

static char *result_json(const struct query_result *r)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(srv_json_query_result(&b, r), 0);
    return pl_buf_steal(&b, NULL);
}

static void test_json_result_shapes_match_captures(void **state)
{
    /* captures/prometheus-api/query_scalar.json, query_string.json, qr_empty_vector.json */
    struct query_result r;
    memset(&r, 0, sizeof(r));
    r.type = QUERY_VT_SCALAR;
    r.t = 1795416322000;
    r.scalar = 2;
    char *s = result_json(&r);
    assert_string_equal(s, "{\"resultType\":\"scalar\",\"result\":[1795416322,\"2\"]}");
    free(s);
    r.type = QUERY_VT_STRING;
    r.t = 1795416322146;
    r.str = "hello";
    s = result_json(&r);
    assert_string_equal(s, "{\"resultType\":\"string\",\"result\":[1795416322.146,\"hello\"]}");
    free(s);
    r.type = QUERY_VT_VECTOR;
    r.str = NULL;
    s = result_json(&r);
    assert_string_equal(s, "{\"resultType\":\"vector\",\"result\":[]}");
    free(s);

    /* captures/prometheus-api/query_vector.json */
    int64_t t1[] = {1795416322120};
    double v1[] = {1};
    int64_t t2[] = {1795416322120};
    double v2[] = {NAN};
    struct query_series vs[3] = {
        {labels("up{env=\"test\",instance=\"127.0.0.1:19100\",job=\"node\"}"), t1, v1, 1},
        {labels("{a=\"empty\"}"), NULL, NULL, 0},
        {labels("{a=\"nan\"}"), t2, v2, 1},
    };
    r.series = vs;
    r.nseries = 3;
    s = result_json(&r);
    assert_string_equal(s,
                        "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"up\","
                        "\"env\":\"test\",\"instance\":\"127.0.0.1:19100\",\"job\":\"node\"},"
                        "\"value\":[1795416322.120,\"1\"]},{\"metric\":{\"a\":\"nan\"},"
                        "\"value\":[1795416322.120,\"NaN\"]}]}");
    free(s);

    /* captures/prometheus-api/qr_scalar_range.json: a matrix series with no labels. */
    int64_t mt[] = {1795417114000, 1795417124000};
    double mv[] = {1795417114, 1795417124};
    struct query_series ms[1] = {{labels("{}"), mt, mv, 2}};
    r.type = QUERY_VT_MATRIX;
    r.series = ms;
    r.nseries = 1;
    s = result_json(&r);
    assert_string_equal(s, "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":"
                           "[[1795417114,\"1795417114\"],[1795417124,\"1795417124\"]]}]}");
    free(s);
    for (int i = 0; i < 3; i++)
        pl_labels_free(vs[i].labels);
    pl_labels_free(ms[0].labels);
}

int test_json_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_float_matches_go_formatting),
        cmocka_unit_test(test_json_float_specials),
        cmocka_unit_test(test_json_float_round_trips_random_bits),
        cmocka_unit_test(test_json_float_fast_path_matches_reference),
        cmocka_unit_test(test_json_time_keeps_three_decimals),
        cmocka_unit_test(test_json_point_and_value),
        cmocka_unit_test(test_json_string_escapes_like_go),
        cmocka_unit_test(test_json_string_refuses_past_limit),
        cmocka_unit_test(test_json_labels_object_in_sorted_order),
        cmocka_unit_test(test_json_result_shapes_match_captures),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
