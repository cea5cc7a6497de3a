/* test_expfmt.c - what the exposition parser yields: fields, escapes, values, timestamps. */
#include "tests.h"

#include "collector/expfmt.h"
#include "common/labels.h"

#include <math.h>

struct fixture {
    struct coll_expfmt_parser *p;
    struct coll_expfmt_entry e;
    struct coll_expfmt_err err;
};

static struct fixture *fx_new(enum coll_expfmt_format f, unsigned flags, const char *in)
{
    struct fixture *x = calloc(1, sizeof(*x));
    x->p = coll_expfmt_parser_new(f, flags);
    coll_expfmt_parser_reset(x->p, in, strlen(in));
    return x;
}

static void fx_free(struct fixture *x)
{
    coll_expfmt_parser_free(x->p);
    free(x);
}

static int fx_next(struct fixture *x)
{
    return coll_expfmt_next(x->p, &x->e, &x->err);
}

/* Next sample, skipping metadata; fails the test on anything else. */
static const struct coll_expfmt_sample *fx_sample(struct fixture *x)
{
    int rc;
    while ((rc = fx_next(x)) > 0 && rc != COLL_EXPFMT_SAMPLE)
        ;
    if (rc != COLL_EXPFMT_SAMPLE)
        fail_msg("expected a sample, got %d (%u:%u: %s)", rc, x->err.line, x->err.col, x->err.msg);
    return &x->e.sample;
}

static void assert_str(struct coll_expfmt_str s, const char *want)
{
    char *got = strndup(s.p ? s.p : "", s.n);
    assert_string_equal(got, want);
    free(got);
}

static const char *label(const struct coll_expfmt_sample *s, const char *name, char *buf,
                         size_t len)
{
    for (size_t i = 0; i < s->nlabels; i++) {
        if (strlen(name) == s->labels[i].name.n &&
            memcmp(name, s->labels[i].name.p, s->labels[i].name.n) == 0) {
            snprintf(buf, len, "%.*s", (int)s->labels[i].value.n, s->labels[i].value.p);
            return buf;
        }
    }
    return NULL;
}

static uint64_t bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

static void test_expfmt_yields_metadata_and_sample_fields(void **state)
{
    (void)state;
    static const char in[] =
        "# HELP http_requests_total The total number of HTTP requests.\n"
        "# TYPE http_requests_total counter\n"
        "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
        "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n";
    for (unsigned strict = 0; strict <= 1; strict++) {
        struct fixture *x = fx_new(COLL_EXPFMT_PROMETHEUS, strict ? COLL_EXPFMT_STRICT : 0, in);
        assert_int_equal(fx_next(x), COLL_EXPFMT_HELP);
        assert_int_equal(x->e.line, 1);
        assert_str(x->e.meta_name, "http_requests_total");
        assert_str(x->e.meta_text, "The total number of HTTP requests.");
        assert_int_equal(fx_next(x), COLL_EXPFMT_TYPE);
        assert_int_equal(x->e.meta_type, COLL_EXPFMT_COUNTER);
        assert_int_equal(fx_next(x), COLL_EXPFMT_SAMPLE);
        const struct coll_expfmt_sample *s = &x->e.sample;
        assert_int_equal(x->e.line, 3);
        assert_str(s->family, "http_requests_total");
        assert_int_equal(s->type, COLL_EXPFMT_COUNTER);
        assert_str(s->name, "http_requests_total");
        assert_str(s->series, "http_requests_total{method=\"post\",code=\"200\"}");
        assert_int_equal(s->nlabels, 2);
        assert_str(s->labels[0].name, "method");
        assert_str(s->labels[0].value, "post");
        assert_str(s->labels[1].name, "code");
        assert_str(s->labels[1].value, "200");
        assert_true(s->value == 1027.0);
        assert_true(s->has_ts);
        assert_true(s->ts_ms == INT64_C(1395066363000));
        assert_false(s->has_exemplar);
        assert_int_equal(fx_next(x), COLL_EXPFMT_SAMPLE);
        assert_true(x->e.sample.value == 3.0);
        assert_int_equal(fx_next(x), 0);
        assert_int_equal(fx_next(x), 0); /* the end repeats */
        fx_free(x);
    }
}

static void test_expfmt_assigns_histogram_and_summary_families(void **state)
{
    (void)state;
    static const char prom[] = "# TYPE h histogram\n"
                               "h_bucket{le=\"0.1\"} 1\n"
                               "h_bucket{le=\"+Inf\"} 2\n"
                               "h_sum 2.5\n"
                               "h_count 2\n"
                               "# TYPE s summary\n"
                               "s{quantile=\"0.5\"} 1\n"
                               "s_sum 1\n"
                               "s_count 1\n"
                               "other_total 7\n";
    static const struct {
        const char *family;
        enum coll_expfmt_type type;
    } want[] = {{"h", COLL_EXPFMT_HISTOGRAM}, {"h", COLL_EXPFMT_HISTOGRAM},
                {"h", COLL_EXPFMT_HISTOGRAM}, {"h", COLL_EXPFMT_HISTOGRAM},
                {"s", COLL_EXPFMT_SUMMARY},   {"s", COLL_EXPFMT_SUMMARY},
                {"s", COLL_EXPFMT_SUMMARY},   {"other_total", COLL_EXPFMT_UNTYPED}};
    for (unsigned strict = 0; strict <= 1; strict++) {
        struct fixture *x = fx_new(COLL_EXPFMT_PROMETHEUS, strict ? COLL_EXPFMT_STRICT : 0, prom);
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
            const struct coll_expfmt_sample *s = fx_sample(x);
            assert_str(s->family, want[i].family);
            assert_int_equal(s->type, want[i].type);
        }
        assert_int_equal(fx_next(x), 0);
        fx_free(x);
    }
    static const char om[] = "# TYPE c counter\n"
                             "c_total 1\n"
                             "c_created 1600000000\n"
                             "# TYPE g gaugehistogram\n"
                             "g_bucket{le=\"+Inf\"} 2\n"
                             "g_gcount 2\n"
                             "g_gsum 1\n"
                             "# TYPE i info\n"
                             "i_info{version=\"1\"} 1\n"
                             "# TYPE st stateset\n"
                             "st{st=\"a\"} 1\n"
                             "st{st=\"b\"} 0\n"
                             "# EOF\n";
    static const struct {
        const char *family;
        enum coll_expfmt_type type;
    } womt[] = {{"c", COLL_EXPFMT_COUNTER},        {"c", COLL_EXPFMT_COUNTER},
                {"g", COLL_EXPFMT_GAUGEHISTOGRAM}, {"g", COLL_EXPFMT_GAUGEHISTOGRAM},
                {"g", COLL_EXPFMT_GAUGEHISTOGRAM}, {"i", COLL_EXPFMT_INFO},
                {"st", COLL_EXPFMT_STATESET},      {"st", COLL_EXPFMT_STATESET}};
    for (unsigned strict = 0; strict <= 1; strict++) {
        struct fixture *x = fx_new(COLL_EXPFMT_OPENMETRICS, strict ? COLL_EXPFMT_STRICT : 0, om);
        for (size_t i = 0; i < sizeof(womt) / sizeof(womt[0]); i++) {
            const struct coll_expfmt_sample *s = fx_sample(x);
            assert_str(s->family, womt[i].family);
            assert_int_equal(s->type, womt[i].type);
        }
        assert_int_equal(fx_next(x), 0);
        fx_free(x);
    }
}

static void test_expfmt_decodes_label_value_escapes(void **state)
{
    (void)state;
    char b[64];
    /* the three escapes of both formats */
    struct fixture *x = fx_new(COLL_EXPFMT_PROMETHEUS, COLL_EXPFMT_STRICT,
                               "a{x=\"q\\\"b\\\\s\\nn\",y=\"plain\"} 1\n");
    const struct coll_expfmt_sample *s = fx_sample(x);
    assert_string_equal(label(s, "x", b, sizeof(b)), "q\"b\\s\nn");
    assert_string_equal(label(s, "y", b, sizeof(b)), "plain");
    fx_free(x);
    /* other escapes stay as written where the parser accepts them */
    x = fx_new(COLL_EXPFMT_PROMETHEUS, 0, "a{x=\"t\\tz\"} 1\n");
    s = fx_sample(x);
    assert_string_equal(label(s, "x", b, sizeof(b)), "t\\tz");
    fx_free(x);
    x = fx_new(COLL_EXPFMT_OPENMETRICS, COLL_EXPFMT_STRICT,
               "a{x=\"b\\\\a\\z\",y=\"\\\"\"} 1\n# EOF\n");
    s = fx_sample(x);
    assert_string_equal(label(s, "x", b, sizeof(b)), "b\\a\\z");
    assert_string_equal(label(s, "y", b, sizeof(b)), "\"");
    fx_free(x);
    /* many escaped labels: pointers stay valid while the scratch buffer grows */
    char in[4096] = "m{";
    for (int i = 0; i < 40; i++)
        snprintf(in + strlen(in), sizeof(in) - strlen(in), "%sl%d=\"v\\\\%d\\n\"", i ? "," : "", i,
                 i);
    strcat(in, "} 1\n");
    x = fx_new(COLL_EXPFMT_PROMETHEUS, COLL_EXPFMT_STRICT, in);
    s = fx_sample(x);
    assert_int_equal(s->nlabels, 40);
    for (int i = 0; i < 40; i++) {
        char want[32], name[16];
        snprintf(want, sizeof(want), "v\\%d\n", i);
        snprintf(name, sizeof(name), "l%d", i);
        assert_string_equal(label(s, name, b, sizeof(b)), want);
    }
    fx_free(x);
}

static void test_expfmt_decodes_help_escapes(void **state)
{
    (void)state;
    struct fixture *x =
        fx_new(COLL_EXPFMT_PROMETHEUS, COLL_EXPFMT_STRICT, "# HELP m two\\nlines \\\\ \"q\"\n");
    assert_int_equal(fx_next(x), COLL_EXPFMT_HELP);
    assert_str(x->e.meta_text, "two\nlines \\ \"q\"");
    fx_free(x);
    x = fx_new(COLL_EXPFMT_OPENMETRICS, COLL_EXPFMT_STRICT,
               "# HELP m a\\\"b\\tc\n# UNIT m_seconds seconds\n# EOF\n");
    assert_int_equal(fx_next(x), COLL_EXPFMT_HELP);
    assert_str(x->e.meta_text, "a\"b\\tc");
    assert_int_equal(fx_next(x), COLL_EXPFMT_UNIT);
    assert_str(x->e.meta_name, "m_seconds");
    assert_str(x->e.meta_text, "seconds");
    assert_int_equal(fx_next(x), 0);
    fx_free(x);
    /*
     * Lenient 0.0.4 finds backslashes while it checks UTF-8, 8 bytes a step:
     * one in every position of a step, in the bytes after the last step,
     * after a multi-byte character, and none.
     */
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"# HELP m \\nabcdefgh\n", "\nabcdefgh"},
        {"# HELP m abcdefg\\nh\n", "abcdefg\nh"},
        {"# HELP m abcdefgh\\\\\n", "abcdefgh\\"},
        {"# HELP m ab\\n\n", "ab\n"},
        {"# HELP m \xc3\xa9 fifteen bytes \\n!\n", "\xc3\xa9 fifteen bytes \n!"},
        {"# HELP m plain text without escapes\n", "plain text without escapes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        x = fx_new(COLL_EXPFMT_PROMETHEUS, 0, cases[i].in);
        assert_int_equal(fx_next(x), COLL_EXPFMT_HELP);
        assert_str(x->e.meta_text, cases[i].want);
        fx_free(x);
    }
}

static void test_expfmt_converts_openmetrics_seconds_to_ms(void **state)
{
    (void)state;
    static const struct {
        const char *ts;
        int64_t ms;
    } cases[] = {{"1.5", 1500},      {"-1.5", -1500}, {"1234567890.5", INT64_C(1234567890500)},
                 {"1.5e3", 1500000}, {"000", 0},      {"0.0009", 0}, /* truncated, not rounded */
                 {"1e30", INT64_MAX}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char in[128];
        snprintf(in, sizeof(in), "a_total 1 %s\n# EOF\n", cases[i].ts);
        for (unsigned strict = 0; strict <= 1; strict++) {
            struct fixture *x =
                fx_new(COLL_EXPFMT_OPENMETRICS, strict ? COLL_EXPFMT_STRICT : 0, in);
            const struct coll_expfmt_sample *s = fx_sample(x);
            assert_true(s->has_ts);
            if (s->ts_ms != cases[i].ms)
                fail_msg("%s: got %lld, want %lld", cases[i].ts, (long long)s->ts_ms,
                         (long long)cases[i].ms);
            fx_free(x);
        }
    }
    /* 0.0.4 timestamps are integer milliseconds as written */
    struct fixture *x = fx_new(COLL_EXPFMT_PROMETHEUS, 0, "a 1 0\nb 2 9223372036854775807\n");
    assert_true(fx_sample(x)->ts_ms == 0);
    assert_true(fx_sample(x)->ts_ms == INT64_MAX);
    fx_free(x);
}

static void test_expfmt_yields_exemplars(void **state)
{
    (void)state;
    struct fixture *x = fx_new(
        COLL_EXPFMT_OPENMETRICS, COLL_EXPFMT_STRICT,
        "# TYPE foo histogram\n"
        "foo_bucket{le=\"0.5\"} 1 1520879607.5 # {trace_id=\"KOO5S4vxi0o\",x=\"a\\\"b\"} 0.67\n"
        "foo_bucket{le=\"+Inf\"} 2 1520879607.5 # {trace_id=\"oHg5SJYRHA0\"} 9.8 "
        "1520879607.789\n"
        "foo_count 2 1520879607.5\n"
        "foo_sum 10 1520879607.5\n"
        "# EOF\n");
    const struct coll_expfmt_sample *s = fx_sample(x);
    char b[64];
    assert_true(s->has_exemplar);
    assert_int_equal(s->ex_nlabels, 2);
    assert_str(s->ex_labels[0].name, "trace_id");
    assert_str(s->ex_labels[0].value, "KOO5S4vxi0o");
    assert_str(s->ex_labels[1].value, "a\"b");
    assert_true(s->ex_value == 0.67);
    assert_false(s->ex_has_ts);
    assert_string_equal(label(s, "le", b, sizeof(b)), "0.5");
    s = fx_sample(x);
    assert_true(s->has_ts);
    assert_true(s->ts_ms == INT64_C(1520879607500));
    assert_true(s->has_exemplar);
    assert_true(s->ex_value == 9.8);
    assert_true(s->ex_has_ts);
    assert_true(llabs(s->ex_ts_ms - INT64_C(1520879607789)) <= 1);
    s = fx_sample(x);
    assert_false(s->has_exemplar);
    fx_free(x);
}

static void test_expfmt_parses_nan_and_infinities(void **state)
{
    (void)state;
    static const struct {
        const char *tok;
        double v;
    } cases[] = {{"+Inf", INFINITY},
                 {"-Inf", -INFINITY},
                 {"Inf", INFINITY},
                 {"inf", INFINITY},
                 {"+infinity", INFINITY},
                 {"-Infinity", -INFINITY},
                 {"1e308", 1e308},
                 {"-0", -0.0},
                 {".5", 0.5},
                 {"5.", 5.0},
                 {"+3", 3.0},
                 {"1E-3", 1e-3},
                 {"0001.2e-1", 0.12},
                 {"1e-400", 0.0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char in[64];
        snprintf(in, sizeof(in), "a %s\n", cases[i].tok);
        struct fixture *x = fx_new(COLL_EXPFMT_PROMETHEUS, COLL_EXPFMT_STRICT, in);
        const struct coll_expfmt_sample *s = fx_sample(x);
        if (bits(s->value) != bits(cases[i].v))
            fail_msg("%s: got %.17g", cases[i].tok, s->value);
        fx_free(x);
    }
    static const char *const nans[] = {"NaN", "nan", "NAN"};
    for (size_t i = 0; i < 3; i++) {
        char in[64];
        snprintf(in, sizeof(in), "a %s\n# EOF\n", nans[i]);
        struct fixture *x = fx_new(COLL_EXPFMT_OPENMETRICS, COLL_EXPFMT_STRICT, in);
        const struct coll_expfmt_sample *s = fx_sample(x);
        assert_true(bits(s->value) == COLL_EXPFMT_NORMAL_NAN_BITS);
        fx_free(x);
    }
}

static void test_expfmt_maps_stale_token_only_with_flag(void **state)
{
    (void)state;
    struct fixture *x =
        fx_new(COLL_EXPFMT_PROMETHEUS, COLL_EXPFMT_STALE_TOKEN, "a stale 1000\nb NaN 1000\n");
    const struct coll_expfmt_sample *s = fx_sample(x);
    assert_true(bits(s->value) == COLL_EXPFMT_STALE_NAN_BITS);
    assert_true(s->ts_ms == 1000);
    s = fx_sample(x);
    assert_true(bits(s->value) == COLL_EXPFMT_NORMAL_NAN_BITS);
    fx_free(x);
    x = fx_new(COLL_EXPFMT_PROMETHEUS, 0, "a stale 1000\n");
    assert_int_equal(fx_next(x), PL_ERR_INVALID);
    assert_int_equal(x->err.line, 1);
    assert_int_equal(x->err.col, 3);
    fx_free(x);
}

static void test_expfmt_builds_sorted_label_sets(void **state)
{
    (void)state;
    struct fixture *x =
        fx_new(COLL_EXPFMT_PROMETHEUS, 0, "up{job=\"node\",instance=\"h:9100\",empty=\"\"} 1\n");
    const struct coll_expfmt_sample *s = fx_sample(x);
    struct pl_labels_builder b;
    pl_lb_init(&b);
    struct pl_labels *ls = coll_expfmt_sample_labels(s, &b);
    assert_int_equal(ls->n, 3); /* the empty label is dropped */
    assert_string_equal(ls->v[0].name, "__name__");
    assert_string_equal(ls->v[0].value, "up");
    assert_string_equal(ls->v[1].name, "instance");
    assert_string_equal(ls->v[1].value, "h:9100");
    assert_string_equal(ls->v[2].name, "job");
    struct pl_labels *want = NULL;
    assert_int_equal(pl_labels_parse("up{instance=\"h:9100\",job=\"node\"}", 32, &want, NULL), 0);
    assert_true(pl_labels_equal(ls, want));
    assert_true(ls->hash == want->hash);
    pl_labels_free(want);
    pl_labels_free(ls);
    /* the builder form lets the scraper add target labels before building */
    coll_expfmt_sample_to_builder(s, &b);
    pl_lb_setz(&b, "env", "prod");
    ls = pl_lb_labels(&b);
    assert_string_equal(pl_labels_value(ls, "env"), "prod");
    assert_string_equal(pl_labels_value(ls, "job"), "node");
    pl_labels_free(ls);
    pl_lb_fini(&b);
    fx_free(x);
}

static void test_expfmt_detects_openmetrics_by_eof_marker(void **state)
{
    (void)state;
    assert_int_equal(coll_expfmt_detect("a 1\n# EOF\n", 10), COLL_EXPFMT_OPENMETRICS);
    assert_int_equal(coll_expfmt_detect("a 1\n# EOF", 9), COLL_EXPFMT_OPENMETRICS);
    assert_int_equal(coll_expfmt_detect("# EOF", 5), COLL_EXPFMT_OPENMETRICS);
    assert_int_equal(coll_expfmt_detect("a 1\n# EOF\n\n", 11), COLL_EXPFMT_PROMETHEUS);
    assert_int_equal(coll_expfmt_detect("a 1\nx# EOF\n", 11), COLL_EXPFMT_PROMETHEUS);
    assert_int_equal(coll_expfmt_detect("a 1\n", 4), COLL_EXPFMT_PROMETHEUS);
    assert_int_equal(coll_expfmt_detect("", 0), COLL_EXPFMT_PROMETHEUS);
}

/* Values must be bit-identical to strtod's, fast path or not. */
static void test_expfmt_values_equal_strtod(void **state)
{
    (void)state;
    unsigned seed = 20261123;
    const char *env = getenv("PL_TEST_SEED");
    if (env)
        seed = (unsigned)strtoul(env, NULL, 10);
    printf("test_expfmt_values_equal_strtod: seed %u (PL_TEST_SEED overrides)\n", seed);
    srand(seed);
    struct coll_expfmt_parser *p = coll_expfmt_parser_new(COLL_EXPFMT_PROMETHEUS, 0);
    char in[128], tok[96];
    for (int i = 0; i < 200000; i++) {
        int len = 0;
        if (rand() % 4 == 0)
            tok[len++] = rand() % 2 ? '-' : '+';
        int ni = rand() % 22, nf = rand() % 22;
        for (int k = 0; k < ni; k++)
            tok[len++] = (char)('0' + rand() % 10);
        if (nf || ni == 0) {
            tok[len++] = '.';
            if (ni == 0 && nf == 0)
                nf = 1;
            for (int k = 0; k < nf; k++)
                tok[len++] = (char)('0' + rand() % 10);
        }
        if (rand() % 3 == 0)
            len += snprintf(tok + len, sizeof(tok) - (size_t)len, "e%d", rand() % 700 - 350);
        tok[len] = '\0';
        double want = strtod(tok, NULL);
        snprintf(in, sizeof(in), "a %s\n", tok);
        coll_expfmt_parser_reset(p, in, strlen(in));
        struct coll_expfmt_entry e;
        int rc = coll_expfmt_next(p, &e, NULL);
        if (isinf(want)) {
            if (rc != PL_ERR_INVALID)
                fail_msg("%s overflows but was accepted", tok);
            continue;
        }
        if (rc != COLL_EXPFMT_SAMPLE || bits(e.sample.value) != bits(want))
            fail_msg("%s: rc %d, got %.17g want %.17g", tok, rc, e.sample.value, want);
    }
    coll_expfmt_parser_free(p);
}

static void test_expfmt_counts_lines_inside_multiline_label_values(void **state)
{
    (void)state;
    /* lenient 0.0.4 accepts a raw newline in a label value, as Prometheus does */
    struct fixture *x = fx_new(COLL_EXPFMT_PROMETHEUS, 0, "a{x=\"one\ntwo\"} 1\nb 2\nc{ 3\n");
    const struct coll_expfmt_sample *s = fx_sample(x);
    char b[32];
    assert_string_equal(label(s, "x", b, sizeof(b)), "one\ntwo");
    s = fx_sample(x);
    assert_str(s->name, "b");
    assert_int_equal(x->e.line, 3);
    assert_int_equal(fx_next(x), PL_ERR_INVALID);
    assert_int_equal(x->err.line, 4);
    assert_int_equal(x->err.col, 4);
    fx_free(x);
}

static void test_expfmt_reuses_parser_after_reset(void **state)
{
    (void)state;
    struct coll_expfmt_parser *p =
        coll_expfmt_parser_new(COLL_EXPFMT_PROMETHEUS, COLL_EXPFMT_STRICT);
    struct coll_expfmt_entry e;
    struct coll_expfmt_err err;
    const char *in1 = "# TYPE a counter\na 1\n";
    coll_expfmt_parser_reset(p, in1, strlen(in1));
    while (coll_expfmt_next(p, &e, &err) > 0)
        ;
    /* the family table is forgotten: TYPE for `a` is allowed again */
    const char *in2 = "# TYPE a gauge\na 2\n";
    coll_expfmt_parser_reset(p, in2, strlen(in2));
    assert_int_equal(coll_expfmt_next(p, &e, &err), COLL_EXPFMT_TYPE);
    assert_int_equal(coll_expfmt_next(p, &e, &err), COLL_EXPFMT_SAMPLE);
    assert_int_equal(e.sample.type, COLL_EXPFMT_GAUGE);
    assert_true(e.sample.value == 2);
    assert_int_equal(coll_expfmt_next(p, &e, &err), 0);
    /* an error repeats until the next reset */
    const char *in3 = "a{ 1\nb 2\n";
    coll_expfmt_parser_reset(p, in3, strlen(in3));
    assert_int_equal(coll_expfmt_next(p, &e, &err), PL_ERR_INVALID);
    memset(&err, 0, sizeof(err));
    assert_int_equal(coll_expfmt_next(p, &e, &err), PL_ERR_INVALID);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, 4);
    coll_expfmt_parser_free(p);
    coll_expfmt_parser_free(NULL);
}

int test_expfmt_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expfmt_yields_metadata_and_sample_fields),
        cmocka_unit_test(test_expfmt_assigns_histogram_and_summary_families),
        cmocka_unit_test(test_expfmt_decodes_label_value_escapes),
        cmocka_unit_test(test_expfmt_decodes_help_escapes),
        cmocka_unit_test(test_expfmt_converts_openmetrics_seconds_to_ms),
        cmocka_unit_test(test_expfmt_yields_exemplars),
        cmocka_unit_test(test_expfmt_parses_nan_and_infinities),
        cmocka_unit_test(test_expfmt_maps_stale_token_only_with_flag),
        cmocka_unit_test(test_expfmt_builds_sorted_label_sets),
        cmocka_unit_test(test_expfmt_detects_openmetrics_by_eof_marker),
        cmocka_unit_test(test_expfmt_values_equal_strtod),
        cmocka_unit_test(test_expfmt_counts_lines_inside_multiline_label_values),
        cmocka_unit_test(test_expfmt_reuses_parser_after_reset),
    };
    return cmocka_run_group_tests_name("expfmt", tests, NULL, NULL);
}
