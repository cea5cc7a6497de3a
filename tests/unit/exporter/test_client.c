/* test_client.c - libpromlite-client: each metric type's exposition against
 * golden output in both formats, validation, buckets, negotiation, gzip. */
#include "tests.h"

#include "exporter/client/client_int.h"

#include <math.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static void expect_render(struct exp_registry *r, const char *text, const char *om)
{
    char *t = test_render(r, EXP_FORMAT_TEXT);
    assert_string_equal(t, text);
    free(t);
    char *o = test_render(r, EXP_FORMAT_OPENMETRICS);
    assert_string_equal(o, om);
    free(o);
}

static void test_counter_exposition_matches_golden(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_family *f;
    struct exp_metric *get, *post, *again;
    static const char *const ln[] = {"method", "code"};
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_counter_new(r, "http_requests_total",
                                     "Requests \\ by \"code\"\nsecond line", 2, ln, &f),
                     0);
    assert_int_equal(exp_family_childv(f, &get, "get", "200"), 0);
    assert_int_equal(exp_family_childv(f, &post, "post", "500"), 0);
    assert_int_equal(exp_family_childv(f, &again, "get", "200"), 0);
    assert_ptr_equal(get, again);
    for (int i = 0; i < 3; i++)
        exp_counter_inc(get);
    assert_int_equal(exp_counter_add(get, 0.5), 0);
    assert_int_equal(exp_counter_add(post, 2), 0);
    assert_int_equal(exp_counter_add(post, -1), EXP_ERR_INVALID);
    assert_true(exp_metric_value(get) == 3.5);
    expect_render(r,
                  "# HELP http_requests_total Requests \\\\ by \"code\"\\nsecond line\n"
                  "# TYPE http_requests_total counter\n"
                  "http_requests_total{method=\"get\",code=\"200\"} 3.5\n"
                  "http_requests_total{method=\"post\",code=\"500\"} 2\n",
                  "# HELP http_requests Requests \\\\ by \\\"code\\\"\\nsecond line\n"
                  "# TYPE http_requests counter\n"
                  "http_requests_total{method=\"get\",code=\"200\"} 3.5\n"
                  "http_requests_total{method=\"post\",code=\"500\"} 2.0\n"
                  "# EOF\n");
    exp_registry_free(r);
}

static void test_counter_without_total_suffix_gets_it_in_openmetrics(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_family *f;
    struct exp_metric *m;
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_counter_new(r, "jobs", "Jobs.", 0, NULL, &f), 0);
    assert_int_equal(exp_family_child(f, NULL, &m), 0);
    exp_counter_inc(m);
    expect_render(r, "# HELP jobs Jobs.\n# TYPE jobs counter\njobs 1\n",
                  "# HELP jobs Jobs.\n# TYPE jobs counter\njobs_total 1.0\n# EOF\n");
    exp_registry_free(r);
}

static void test_gauge_exposition_escapes_and_special_values(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_family *f;
    struct exp_metric *a, *b, *c, *d;
    static const char *const ln[] = {"path"};
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_gauge_new(r, "temp_celsius", "Temperature.", 1, ln, &f), 0);
    assert_int_equal(exp_family_childv(f, &a, "a\"b\\c\nd"), 0);
    assert_int_equal(exp_family_childv(f, &b, "nan"), 0);
    assert_int_equal(exp_family_childv(f, &c, "inf"), 0);
    assert_int_equal(exp_family_childv(f, &d, "neg"), 0);
    exp_gauge_set(a, 21.25);
    exp_gauge_inc(a);
    exp_gauge_dec(a);
    exp_gauge_add(a, 0.5);
    exp_gauge_set(b, NAN);
    exp_gauge_set(c, -INFINITY);
    exp_gauge_set(d, -12345678901.0);
    expect_render(r,
                  "# HELP temp_celsius Temperature.\n"
                  "# TYPE temp_celsius gauge\n"
                  "temp_celsius{path=\"a\\\"b\\\\c\\nd\"} 21.75\n"
                  "temp_celsius{path=\"nan\"} NaN\n"
                  "temp_celsius{path=\"inf\"} -Inf\n"
                  "temp_celsius{path=\"neg\"} -12345678901\n",
                  "# HELP temp_celsius Temperature.\n"
                  "# TYPE temp_celsius gauge\n"
                  "temp_celsius{path=\"a\\\"b\\\\c\\nd\"} 21.75\n"
                  "temp_celsius{path=\"nan\"} NaN\n"
                  "temp_celsius{path=\"inf\"} -Inf\n"
                  "temp_celsius{path=\"neg\"} -12345678901.0\n"
                  "# EOF\n");
    exp_registry_free(r);
}

static void test_invalid_utf8_is_replaced_valid_utf8_kept(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_family *f;
    struct exp_metric *m;
    static const char *const ln[] = {"alias"};
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_gauge_new(r, "iface", "caf\xc3\xa9 \xff", 1, ln, &f), 0);
    /* valid 2- and 4-byte sequences, a lone continuation byte, a truncated
     * sequence at the end, an overlong encoding and a surrogate */
    assert_int_equal(exp_family_childv(f, &m,
                                       "\xc3\xa9\xf0\x9f\x98\x80|\x80|\xc0\xaf|"
                                       "\xed\xa0\x80|\xe2\x82"),
                     0);
    exp_gauge_set(m, 1);
    char *t = test_render(r, EXP_FORMAT_TEXT);
    assert_string_equal(t, "# HELP iface caf\xc3\xa9 \xef\xbf\xbd\n"
                           "# TYPE iface gauge\n"
                           "iface{alias=\"\xc3\xa9\xf0\x9f\x98\x80|\xef\xbf\xbd|\xef\xbf\xbd"
                           "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd"
                           "\xef\xbf\xbd\"} 1\n");
    free(t);
    exp_registry_free(r);
}

static void test_gauge_set_to_current_time_is_now(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_family *f;
    struct exp_metric *m;
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_gauge_new(r, "last_run", "", 0, NULL, &f), 0);
    assert_int_equal(exp_family_child(f, NULL, &m), 0);
    exp_gauge_set_to_current_time(m);
    double now = (double)time(NULL);
    assert_true(fabs(exp_metric_value(m) - now) < 2);
    exp_registry_free(r);
}

static void test_histogram_exposition_matches_golden(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_family *f;
    struct exp_metric *m;
    static const double b[] = {0.25, 1, 10};
    static const char *const ln[] = {"handler"};
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_histogram_new(r, "req_seconds", "Latency.", 1, ln, b, 3, &f), 0);
    assert_int_equal(exp_family_childv(f, &m, "/api"), 0);
    exp_histogram_observe(m, 0.25); /* on a bound: counts in that bucket (le) */
    exp_histogram_observe(m, 0.5);
    exp_histogram_observe(m, 0.5);
    exp_histogram_observe(m, 4);
    exp_histogram_observe(m, 100);
    assert_true(exp_metric_value(m) == 5);
    expect_render(r,
                  "# HELP req_seconds Latency.\n"
                  "# TYPE req_seconds histogram\n"
                  "req_seconds_bucket{handler=\"/api\",le=\"0.25\"} 1\n"
                  "req_seconds_bucket{handler=\"/api\",le=\"1\"} 3\n"
                  "req_seconds_bucket{handler=\"/api\",le=\"10\"} 4\n"
                  "req_seconds_bucket{handler=\"/api\",le=\"+Inf\"} 5\n"
                  "req_seconds_sum{handler=\"/api\"} 105.25\n"
                  "req_seconds_count{handler=\"/api\"} 5\n",
                  "# HELP req_seconds Latency.\n"
                  "# TYPE req_seconds histogram\n"
                  "req_seconds_bucket{handler=\"/api\",le=\"0.25\"} 1.0\n"
                  "req_seconds_bucket{handler=\"/api\",le=\"1.0\"} 3.0\n"
                  "req_seconds_bucket{handler=\"/api\",le=\"10.0\"} 4.0\n"
                  "req_seconds_bucket{handler=\"/api\",le=\"+Inf\"} 5.0\n"
                  "req_seconds_sum{handler=\"/api\"} 105.25\n"
                  "req_seconds_count{handler=\"/api\"} 5.0\n"
                  "# EOF\n");
    exp_registry_free(r);
}

static void test_summary_exposition_matches_golden(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_family *f;
    struct exp_metric *m;
    static const struct exp_quantile q[] = {{0.5, 0.05}, {0.9, 0.01}};
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_summary_new(r, "rpc_seconds", "RPC latency.", 0, NULL, q, 2, 600, 5, &f),
                     0);
    assert_int_equal(exp_family_child(f, NULL, &m), 0);
    for (int i = 100; i >= 1; i--)
        exp_summary_observe(m, i);
    expect_render(r,
                  "# HELP rpc_seconds RPC latency.\n"
                  "# TYPE rpc_seconds summary\n"
                  "rpc_seconds{quantile=\"0.5\"} 50\n"
                  "rpc_seconds{quantile=\"0.9\"} 90\n"
                  "rpc_seconds_sum 5050\n"
                  "rpc_seconds_count 100\n",
                  "# HELP rpc_seconds RPC latency.\n"
                  "# TYPE rpc_seconds summary\n"
                  "rpc_seconds{quantile=\"0.5\"} 50.0\n"
                  "rpc_seconds{quantile=\"0.9\"} 90.0\n"
                  "rpc_seconds_sum 5050.0\n"
                  "rpc_seconds_count 100.0\n"
                  "# EOF\n");
    exp_registry_free(r);
}

static void test_summary_window_forgets_old_observations(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_family *f;
    struct exp_metric *m;
    static const struct exp_quantile q[] = {{0.5, 0.05}};
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_summary_new(r, "win", "", 0, NULL, q, 1, 0.2, 2, &f), 0);
    assert_int_equal(exp_family_child(f, NULL, &m), 0);
    exp_summary_observe(m, 7);
    char *t = test_render(r, EXP_FORMAT_TEXT);
    assert_non_null(strstr(t, "win{quantile=\"0.5\"} 7\n"));
    free(t);
    usleep(300000);
    t = test_render(r, EXP_FORMAT_TEXT);
    assert_non_null(strstr(t, "win{quantile=\"0.5\"} NaN\n"));
    assert_non_null(strstr(t, "win_count 1\n")); /* sum and count are cumulative */
    free(t);
    exp_registry_free(r);
}

static void test_summary_memory_is_bounded_by_reservoir(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_family *f;
    struct exp_metric *m;
    static const struct exp_quantile q[] = {{0.5, 0.05}, {0.99, 0.001}};
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_summary_new(r, "big", "", 0, NULL, q, 2, 600, 1, &f), 0);
    assert_int_equal(exp_family_child(f, NULL, &m), 0);
    /* 100000 uniform values in [0, 1): sampled quantiles stay near the truth. */
    for (int i = 0; i < 100000; i++)
        exp_summary_observe(m, (double)((i * 7919) % 100000) / 100000.0);
    char *t = test_render(r, EXP_FORMAT_TEXT);
    double med = strtod(strstr(t, "big{quantile=\"0.5\"} ") + 20, NULL);
    double p99 = strtod(strstr(t, "big{quantile=\"0.99\"} ") + 21, NULL);
    assert_true(fabs(med - 0.5) < 0.08);
    assert_true(fabs(p99 - 0.99) < 0.03);
    assert_non_null(strstr(t, "big_count 100000\n"));
    free(t);
    exp_registry_free(r);
}

static int untyped_collector(struct exp_writer *w, void *ud)
{
    int *calls = ud;
    (*calls)++;
    exp_writer_family(w, "legacy_value", "From a callback.", EXP_UNTYPED);
    exp_writer_samplef(w, 1.5, 2, "a", "x", "b", "y");
    exp_writer_family(w, "legacy_hist", "Parts written by hand.", EXP_HISTOGRAM);
    const char *ln[] = {"le"}, *lv[] = {"+Inf"};
    exp_writer_sample_suffix(w, "_bucket", 1, ln, lv, 2);
    exp_writer_sample_suffix(w, "_sum", 0, NULL, NULL, 3);
    return exp_writer_sample_suffix(w, "_count", 0, NULL, NULL, 2);
}

static void test_collector_callback_writes_untyped_and_raw_parts(void **state)
{
    (void)state;
    struct exp_registry *r;
    int calls = 0;
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_registry_add_collector(r, untyped_collector, &calls, NULL), 0);
    expect_render(r,
                  "# HELP legacy_value From a callback.\n"
                  "# TYPE legacy_value untyped\n"
                  "legacy_value{a=\"x\",b=\"y\"} 1.5\n"
                  "# HELP legacy_hist Parts written by hand.\n"
                  "# TYPE legacy_hist histogram\n"
                  "legacy_hist_bucket{le=\"+Inf\"} 2\n"
                  "legacy_hist_sum 3\n"
                  "legacy_hist_count 2\n",
                  "# HELP legacy_value From a callback.\n"
                  "# TYPE legacy_value unknown\n"
                  "legacy_value{a=\"x\",b=\"y\"} 1.5\n"
                  "# HELP legacy_hist Parts written by hand.\n"
                  "# TYPE legacy_hist histogram\n"
                  "legacy_hist_bucket{le=\"+Inf\"} 2.0\n"
                  "legacy_hist_sum 3.0\n"
                  "legacy_hist_count 2.0\n"
                  "# EOF\n");
    assert_int_equal(calls, 2);
    exp_registry_free(r);
}

static int failing_collector(struct exp_writer *w, void *ud)
{
    (void)w;
    (void)ud;
    return EXP_ERR_IO;
}

static int bad_name_collector(struct exp_writer *w, void *ud)
{
    (void)ud;
    exp_writer_family(w, "bad name", "", EXP_GAUGE);
    return exp_writer_sample(w, 0, NULL, NULL, 1);
}

static int duplicate_collector(struct exp_writer *w, void *ud)
{
    (void)ud;
    exp_writer_family(w, "twice", "", EXP_GAUGE);
    exp_writer_sample(w, 0, NULL, NULL, 1);
    exp_writer_family(w, "twice", "", EXP_GAUGE);
    return exp_writer_sample(w, 0, NULL, NULL, 2);
}

static void test_collector_errors_fail_the_render(void **state)
{
    (void)state;
    struct exp_registry *r;
    char *out = (char *)1;
    size_t len;
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_registry_add_collector(r, failing_collector, NULL, NULL), 0);
    assert_int_equal(exp_registry_render(r, EXP_FORMAT_TEXT, &out, &len), EXP_ERR_IO);
    assert_ptr_equal(out, (char *)1); /* out-parameters untouched on failure */
    exp_registry_free(r);
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_registry_add_collector(r, bad_name_collector, NULL, NULL), 0);
    assert_int_equal(exp_registry_render(r, EXP_FORMAT_TEXT, &out, &len), EXP_ERR_INVALID);
    exp_registry_free(r);
    /* The same family twice (also against a registered family) is refused. */
    struct exp_family *f;
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_registry_add_collector(r, duplicate_collector, NULL, NULL), 0);
    assert_int_equal(exp_registry_render(r, EXP_FORMAT_TEXT, &out, &len), EXP_ERR_EXISTS);
    exp_registry_free(r);
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_gauge_new(r, "legacy_value", "", 0, NULL, &f), 0);
    int calls = 0;
    assert_int_equal(exp_registry_add_collector(r, untyped_collector, &calls, NULL), 0);
    assert_int_equal(exp_registry_render(r, EXP_FORMAT_OPENMETRICS, &out, &len), EXP_ERR_EXISTS);
    exp_registry_free(r);
}

static void test_registration_rejects_bad_names_and_duplicates(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_family *f;
    assert_int_equal(exp_registry_new(&r), 0);
    const char *dup[] = {"a", "a"}, *reserved[] = {"__name"}, *bad[] = {"1x"}, *le[] = {"le"},
               *quant[] = {"quantile"};
    assert_int_equal(exp_counter_new(r, "", "", 0, NULL, &f), EXP_ERR_INVALID);
    assert_int_equal(exp_counter_new(r, "9lives", "", 0, NULL, &f), EXP_ERR_INVALID);
    assert_int_equal(exp_counter_new(r, "has-dash", "", 0, NULL, &f), EXP_ERR_INVALID);
    assert_int_equal(exp_counter_new(r, "ok", "", 2, dup, &f), EXP_ERR_INVALID);
    assert_int_equal(exp_counter_new(r, "ok", "", 1, reserved, &f), EXP_ERR_INVALID);
    assert_int_equal(exp_counter_new(r, "ok", "", 1, bad, &f), EXP_ERR_INVALID);
    assert_int_equal(exp_histogram_new(r, "h", "", 1, le, NULL, 0, &f), EXP_ERR_INVALID);
    static const struct exp_quantile q[] = {{0.5, 0.05}}, badq[] = {{1.5, 0.05}};
    assert_int_equal(exp_summary_new(r, "s", "", 1, quant, q, 1, 600, 5, &f), EXP_ERR_INVALID);
    assert_int_equal(exp_summary_new(r, "s", "", 0, NULL, badq, 1, 600, 5, &f), EXP_ERR_INVALID);
    assert_int_equal(exp_summary_new(r, "s", "", 0, NULL, q, 1, 0, 5, &f), EXP_ERR_INVALID);
    static const double unsorted[] = {1, 0.5}, inf[] = {1, INFINITY};
    assert_int_equal(exp_histogram_new(r, "h", "", 0, NULL, unsorted, 2, &f), EXP_ERR_INVALID);
    assert_int_equal(exp_histogram_new(r, "h", "", 0, NULL, inf, 2, &f), EXP_ERR_INVALID);
    assert_int_equal(exp_gauge_new(r, "ok_name:sub", "", 0, NULL, &f), 0);
    assert_int_equal(exp_counter_new(r, "ok_name:sub", "", 0, NULL, &f), EXP_ERR_EXISTS);
    struct exp_metric *m;
    struct exp_family *g;
    const char *ln[] = {"x"};
    assert_int_equal(exp_gauge_new(r, "labelled", "", 1, ln, &g), 0);
    assert_int_equal(exp_family_child(g, NULL, &m), EXP_ERR_INVALID);
    const char *nullv[] = {NULL};
    assert_int_equal(exp_family_child(g, nullv, &m), EXP_ERR_INVALID);
    exp_registry_free(r);
}

static void test_histogram_default_and_generated_buckets(void **state)
{
    (void)state;
    double b[4];
    assert_int_equal(exp_buckets_linear(1, 0.5, 4, b), 0);
    assert_true(b[0] == 1 && b[1] == 1.5 && b[2] == 2 && b[3] == 2.5);
    assert_int_equal(exp_buckets_exponential(1, 10, 4, b), 0);
    assert_true(b[0] == 1 && b[1] == 10 && b[2] == 100 && b[3] == 1000);
    assert_int_equal(exp_buckets_linear(0, 0, 4, b), EXP_ERR_INVALID);
    assert_int_equal(exp_buckets_exponential(0, 2, 4, b), EXP_ERR_INVALID);
    assert_int_equal(exp_buckets_exponential(1, 1, 4, b), EXP_ERR_INVALID);
    assert_int_equal(exp_buckets_linear(1, 1, 0, b), EXP_ERR_INVALID);

    struct exp_registry *r;
    struct exp_family *f;
    struct exp_metric *m;
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_histogram_new(r, "d", "", 0, NULL, NULL, 0, &f), 0);
    assert_int_equal(exp_family_child(f, NULL, &m), 0);
    exp_histogram_observe(m, 0.003);
    exp_histogram_observe(m, 7);
    char *t = test_render(r, EXP_FORMAT_TEXT);
    assert_non_null(strstr(t, "d_bucket{le=\"0.005\"} 1\n"));
    assert_non_null(strstr(t, "d_bucket{le=\"5\"} 1\n"));
    assert_non_null(strstr(t, "d_bucket{le=\"10\"} 2\n"));
    assert_non_null(strstr(t, "d_bucket{le=\"+Inf\"} 2\n"));
    free(t);
    exp_registry_free(r);
}

static void test_render_respects_size_limit(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_family *f;
    struct exp_metric *m;
    char *out;
    size_t len;
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_gauge_new(r, "g", "A gauge with a long help text.", 0, NULL, &f), 0);
    assert_int_equal(exp_family_child(f, NULL, &m), 0);
    exp_registry_set_limit(r, 16);
    assert_int_equal(exp_registry_render(r, EXP_FORMAT_TEXT, &out, &len), EXP_ERR_LIMIT);
    exp_registry_set_limit(r, 1 << 20);
    assert_int_equal(exp_registry_render(r, EXP_FORMAT_TEXT, &out, &len), 0);
    free(out);
    exp_registry_free(r);
}

static void test_float_formatting_round_trips(void **state)
{
    (void)state;
    static const double vals[] = {0,
                                  1,
                                  -1,
                                  0.1,
                                  1e-9,
                                  123456789012.0,
                                  1e300,
                                  2.5e-310,
                                  0.30000000000000004,
                                  9007199254740993.0,
                                  1.7954242748009121e+09};
    char buf[40];
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        size_t n = exp__fmt_double(buf, vals[i]);
        assert_int_equal(n, strlen(buf));
        assert_true(strtod(buf, NULL) == vals[i]);
    }
    exp__fmt_double(buf, 0.1);
    assert_string_equal(buf, "0.1");
    exp__fmt_double(buf, 262144);
    assert_string_equal(buf, "262144");
    exp__fmt_double(buf, INFINITY);
    assert_string_equal(buf, "+Inf");
}

static void test_accept_header_negotiation(void **state)
{
    (void)state;
    assert_int_equal(exp_format_negotiate(NULL), EXP_FORMAT_TEXT);
    assert_int_equal(exp_format_negotiate(""), EXP_FORMAT_TEXT);
    assert_int_equal(exp_format_negotiate("*/*"), EXP_FORMAT_TEXT);
    assert_int_equal(exp_format_negotiate("text/plain;version=0.0.4"), EXP_FORMAT_TEXT);
    /* Prometheus 2.42's scrape Accept header. */
    assert_int_equal(exp_format_negotiate("application/openmetrics-text;version=1.0.0,application/"
                                          "openmetrics-text;version=0.0.1;q=0.75,text/"
                                          "plain;version=0.0.4;q=0.5,*/*;q=0.1"),
                     EXP_FORMAT_OPENMETRICS);
    assert_int_equal(exp_format_negotiate("application/openmetrics-text; q=0.1, text/plain; q=0.5"),
                     EXP_FORMAT_TEXT);
    assert_int_equal(exp_format_negotiate("application/openmetrics-text;q=0"), EXP_FORMAT_TEXT);
    assert_int_equal(exp_format_negotiate("APPLICATION/OpenMetrics-Text"), EXP_FORMAT_OPENMETRICS);
    assert_true(exp_accepts_gzip("gzip, deflate, br"));
    assert_true(exp_accepts_gzip("deflate;q=1, gzip;q=0.5"));
    assert_false(exp_accepts_gzip("gzip;q=0"));
    assert_false(exp_accepts_gzip("identity"));
    assert_false(exp_accepts_gzip(NULL));
    assert_string_equal(exp_format_content_type(EXP_FORMAT_TEXT),
                        "text/plain; version=0.0.4; charset=utf-8");
    assert_string_equal(exp_format_content_type(EXP_FORMAT_OPENMETRICS),
                        "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

static void test_gzip_round_trips_through_zlib(void **state)
{
    (void)state;
    char in[5000];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (char)('a' + i % 7);
    char *z;
    size_t zl;
    assert_int_equal(exp_gzip(in, sizeof(in), &z, &zl), 0);
    assert_true(zl < sizeof(in) / 4);
    assert_true((unsigned char)z[0] == 0x1f && (unsigned char)z[1] == 0x8b);
    char out[6000];
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)z;
    zs.avail_in = (uInt)zl;
    zs.next_out = (Bytef *)out;
    zs.avail_out = sizeof(out);
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.total_out, sizeof(in));
    assert_memory_equal(out, in, sizeof(in));
    inflateEnd(&zs);
    free(z);
}

static void test_process_collector_reports_this_process(void **state)
{
    (void)state;
    struct exp_registry *r;
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_registry_add_process_collector(r, NULL), 0);
    char *t = test_render(r, EXP_FORMAT_TEXT);
    static const char *want[] = {
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
        "# TYPE process_cpu_seconds_total counter\n",
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n",
        "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n",
        "# HELP process_open_fds Number of open file descriptors.\n",
        "# HELP process_max_fds Maximum number of open file descriptors.\n",
        "# HELP process_start_time_seconds Start time of the process since unix epoch in "
        "seconds.\n",
        "# HELP process_virtual_memory_max_bytes Maximum amount of virtual memory available in "
        "bytes.\n"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_non_null(strstr(t, want[i]));
    double rss = strtod(strstr(t, "\nprocess_resident_memory_bytes ") + 31, NULL);
    double start = strtod(strstr(t, "\nprocess_start_time_seconds ") + 28, NULL);
    assert_true(rss > 100000);
    assert_true(fabs(start - (double)time(NULL)) < 600);
    free(t);
    exp_registry_free(r);
    /* A procfs without the files drops the metrics, never the scrape. */
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_registry_add_process_collector(r, "/nonexistent-procfs"), 0);
    t = test_render(r, EXP_FORMAT_TEXT);
    assert_string_equal(t, "");
    free(t);
    exp_registry_free(r);
}

int test_client_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_exposition_matches_golden),
        cmocka_unit_test(test_counter_without_total_suffix_gets_it_in_openmetrics),
        cmocka_unit_test(test_gauge_exposition_escapes_and_special_values),
        cmocka_unit_test(test_invalid_utf8_is_replaced_valid_utf8_kept),
        cmocka_unit_test(test_gauge_set_to_current_time_is_now),
        cmocka_unit_test(test_histogram_exposition_matches_golden),
        cmocka_unit_test(test_summary_exposition_matches_golden),
        cmocka_unit_test(test_summary_window_forgets_old_observations),
        cmocka_unit_test(test_summary_memory_is_bounded_by_reservoir),
        cmocka_unit_test(test_collector_callback_writes_untyped_and_raw_parts),
        cmocka_unit_test(test_collector_errors_fail_the_render),
        cmocka_unit_test(test_registration_rejects_bad_names_and_duplicates),
        cmocka_unit_test(test_histogram_default_and_generated_buckets),
        cmocka_unit_test(test_render_respects_size_limit),
        cmocka_unit_test(test_float_formatting_round_trips),
        cmocka_unit_test(test_accept_header_negotiation),
        cmocka_unit_test(test_gzip_round_trips_through_zlib),
        cmocka_unit_test(test_process_collector_reports_this_process),
    };
    return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
