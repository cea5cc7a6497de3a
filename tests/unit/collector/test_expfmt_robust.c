/*
 * test_expfmt_robust.c - the parser against hostile bytes and its memory
 * behaviour: no allocation per sample, every prefix of valid inputs, random
 * mutations, huge lines, many labels. Run under ASan in CI, where any read
 * outside the buffer fails the test.
 */
#include "tests.h"

#include "collector/expfmt.h"

unsigned long test_alloc_calls;

/* The test binary links with -Wl,--wrap=malloc,calloc,realloc (CMakeLists.txt). */
void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
    test_alloc_calls++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t a, size_t b)
{
    test_alloc_calls++;
    return __real_calloc(a, b);
}

void *__wrap_realloc(void *p, size_t n)
{
    test_alloc_calls++;
    return __real_realloc(p, n);
}

static unsigned test_seed(void)
{
    const char *env = getenv("PL_TEST_SEED");
    return env ? (unsigned)strtoul(env, NULL, 10) : 424242u;
}

/* A node_exporter-like exposition with histograms, n families. */
static char *make_exposition(int om, int n, size_t *len)
{
    size_t cap = (size_t)n * 1200 + 64, off = 0;
    char *b = malloc(cap);
    for (int i = 0; i < n; i++) {
        off += (size_t)snprintf(b + off, cap - off,
                                "# HELP node_thing_%d_seconds Something \\\\ timed.\n"
                                "# TYPE node_thing_%d_seconds histogram\n",
                                i, i);
        const char *les[] = {"0.005", "0.1", "1", "10", "+Inf"};
        for (int k = 0; k < 5; k++)
            off += (size_t)snprintf(b + off, cap - off,
                                    "node_thing_%d_seconds_bucket{device=\"sd%c\",mode=\"q\\\"x\","
                                    "le=\"%s\"} %d\n",
                                    i, 'a' + i % 26, les[k], k * 3);
        off +=
            (size_t)snprintf(b + off, cap - off,
                             "node_thing_%d_seconds_sum{device=\"sd%c\",mode=\"q\\\"x\"} 1.25e2\n"
                             "node_thing_%d_seconds_count{device=\"sd%c\",mode=\"q\\\"x\"} 12\n"
                             "# TYPE node_gauge_%d gauge\n"
                             "node_gauge_%d{cpu=\"%d\"} %d.%03d\n",
                             i, 'a' + i % 26, i, 'a' + i % 26, i, i, i, i, i % 1000);
    }
    if (om)
        off += (size_t)snprintf(b + off, cap - off, "# EOF\n");
    *len = off;
    return b;
}

static int parse_all(struct coll_expfmt_parser *p, const char *buf, size_t len, size_t *samples)
{
    struct coll_expfmt_entry e;
    struct coll_expfmt_err err;
    int rc;
    size_t n = 0;
    coll_expfmt_parser_reset(p, buf, len);
    while ((rc = coll_expfmt_next(p, &e, &err)) > 0)
        n += rc == COLL_EXPFMT_SAMPLE;
    if (samples)
        *samples = n;
    return rc;
}

static void test_expfmt_allocates_nothing_per_sample(void **state)
{
    (void)state;
    for (int om = 0; om <= 1; om++) {
        for (unsigned flags = 0; flags <= COLL_EXPFMT_STRICT; flags += COLL_EXPFMT_STRICT) {
            size_t len, n;
            char *buf = make_exposition(om, 2000, &len);
            struct coll_expfmt_parser *p = coll_expfmt_parser_new(
                om ? COLL_EXPFMT_OPENMETRICS : COLL_EXPFMT_PROMETHEUS, flags);
            unsigned long before = test_alloc_calls;
            assert_int_equal(parse_all(p, buf, len, &n), 0);
            assert_int_equal(n, 2000 * 8);
            unsigned long first = test_alloc_calls - before;
            /* Lenient: scratch growth only. Strict: per-family tables grow by doubling. */
            if (first > 64) {
                fail_msg("om=%d flags=%u: %lu allocations for %zu samples", om, flags, first, n);
            }
            before = test_alloc_calls;
            assert_int_equal(parse_all(p, buf, len, &n), 0);
            if (test_alloc_calls != before)
                fail_msg("om=%d flags=%u: second parse allocated %lu times", om, flags,
                         test_alloc_calls - before);
            coll_expfmt_parser_free(p);
            free(buf);
        }
    }
}

/* Every prefix of a valid input parses to a verdict without reading past it. */
static void test_expfmt_survives_every_prefix(void **state)
{
    (void)state;
    for (int om = 0; om <= 1; om++) {
        size_t len;
        char *full = make_exposition(om, 3, &len);
        static const char extra_om[] =
            "# TYPE x counter\nx_total{a=\"\\\\\"} 1 1.5 # {t=\"\xe2\x98\x83\"} 2 3\n# EOF\n";
        for (unsigned flags = 0; flags <= COLL_EXPFMT_STRICT; flags += COLL_EXPFMT_STRICT) {
            struct coll_expfmt_parser *p = coll_expfmt_parser_new(
                om ? COLL_EXPFMT_OPENMETRICS : COLL_EXPFMT_PROMETHEUS, flags);
            for (int which = 0; which < 2; which++) {
                const char *src = which ? extra_om : full;
                size_t n = which ? sizeof(extra_om) - 1 : len;
                for (size_t cut = 0; cut <= n; cut++) {
                    char *b = malloc(cut ? cut : 1);
                    memcpy(b, src, cut);
                    int rc = parse_all(p, b, cut, NULL);
                    assert_true(rc == 0 || rc == PL_ERR_INVALID);
                    free(b);
                }
            }
            coll_expfmt_parser_free(p);
        }
        free(full);
    }
}

/* Random byte edits: verdicts only, never a crash, a hang or a wild read. */
static void test_expfmt_survives_random_mutations(void **state)
{
    (void)state;
    unsigned seed = test_seed();
    printf("test_expfmt_survives_random_mutations: seed %u (PL_TEST_SEED overrides)\n", seed);
    srand(seed);
    static const char alphabet[] = "{}=\",# \n\\\t0123456789.eE+-_azINFnaf\x00\xff\xc3\xa9";
    size_t len;
    char *base = make_exposition(1, 2, &len);
    char *b = malloc(len + 64);
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = len;
        memcpy(b, base, len);
        int edits = 1 + rand() % 4;
        for (int k = 0; k < edits; k++) {
            size_t at = (size_t)rand() % n;
            char c = alphabet[(size_t)rand() % (sizeof(alphabet) - 1)];
            switch (rand() % 3) {
            case 0:
                b[at] = c;
                break;
            case 1: /* delete */
                memmove(b + at, b + at + 1, n - at - 1);
                n--;
                break;
            default: /* insert */
                memmove(b + at + 1, b + at, n - at);
                b[at] = c;
                n++;
                break;
            }
        }
        char *exact = malloc(n);
        memcpy(exact, b, n);
        for (int f = 0; f < 4; f++) {
            struct coll_expfmt_parser *p =
                coll_expfmt_parser_new(f & 1 ? COLL_EXPFMT_OPENMETRICS : COLL_EXPFMT_PROMETHEUS,
                                       f & 2 ? COLL_EXPFMT_STRICT : 0);
            int rc = parse_all(p, exact, n, NULL);
            assert_true(rc == 0 || rc == PL_ERR_INVALID);
            coll_expfmt_parser_free(p);
        }
        free(exact);
    }
    free(b);
    free(base);
}

static void test_expfmt_handles_huge_lines_and_many_labels(void **state)
{
    (void)state;
    /* a 4 MiB label value, a 1 MiB value token, 5000 labels, 20000 NUL bytes */
    size_t big = 4u << 20;
    char *b = malloc(big + 64);
    size_t off = (size_t)sprintf(b, "a{x=\"");
    memset(b + off, 'v', big);
    off += big;
    off += (size_t)sprintf(b + off, "\"} 1\n");
    struct coll_expfmt_parser *p = coll_expfmt_parser_new(COLL_EXPFMT_PROMETHEUS, 0);
    size_t n;
    assert_int_equal(parse_all(p, b, off, &n), 0);
    assert_int_equal(n, 1);
    memcpy(b, "a ", 2);
    memset(b + 2, '1', 1u << 20);
    b[2 + (1u << 20)] = '\n';
    assert_int_equal(parse_all(p, b, 3 + (1u << 20), &n), PL_ERR_INVALID); /* overflows */
    memset(b + 2, '0', 1u << 20);
    assert_int_equal(parse_all(p, b, 3 + (1u << 20), &n), 0);
    off = (size_t)sprintf(b, "m{");
    for (int i = 0; i < 5000; i++)
        off += (size_t)sprintf(b + off, "%sl%d=\"%d\"", i ? "," : "", i, i);
    off += (size_t)sprintf(b + off, "} 1\n");
    assert_int_equal(parse_all(p, b, off, &n), 0);
    /* the same label set with a duplicate at the end is refused */
    off -= 4;
    off += (size_t)sprintf(b + off, ",l17=\"x\"} 1\n");
    struct coll_expfmt_entry e;
    struct coll_expfmt_err err;
    coll_expfmt_parser_reset(p, b, off);
    assert_int_equal(coll_expfmt_next(p, &e, &err), PL_ERR_INVALID);
    assert_non_null(strstr(err.msg, "l17"));
    /* NUL bytes: the scraper's lexer takes a NUL at a line start as the end */
    memcpy(b, "a 1\n", 4);
    memset(b + 4, 0, 20000);
    assert_int_equal(parse_all(p, b, 20004, &n), 0);
    assert_int_equal(n, 1);
    coll_expfmt_parser_free(p);
    p = coll_expfmt_parser_new(COLL_EXPFMT_PROMETHEUS, COLL_EXPFMT_STRICT);
    assert_int_equal(parse_all(p, b, 20004, &n), PL_ERR_INVALID);
    coll_expfmt_parser_free(p);
    free(b);
}

/* Next sample after a coll_expfmt_expect hint; returns coll_expfmt_next's result. */
static int next_hinted(struct coll_expfmt_parser *p, const char *hint, struct coll_expfmt_entry *e,
                       struct coll_expfmt_err *err)
{
    if (hint)
        coll_expfmt_expect(p, hint, strlen(hint));
    int rc;
    while ((rc = coll_expfmt_next(p, e, err)) > 0 && rc != COLL_EXPFMT_SAMPLE)
        ;
    return rc;
}

/*
 * The scraper's hint skips the label scan of a series it saw before, and
 * only that: other text, a label set after the hinted name, a bad value
 * after the hinted series, strict mode and OpenMetrics parse in full.
 */
static void test_expfmt_expect_skips_only_the_known_series(void **state)
{
    (void)state;
    const char *body = "# TYPE a counter\n"
                       "a_total{x=\"1\",y=\"\\\"q\"} 3 1000\n"
                       "b{x=\"2\"} 4\n"
                       "c {x=\"3\"} 5\n"
                       "d{x=\"4\"}\t6\n"
                       "e{x=\"5\"} zz\n";
    struct coll_expfmt_parser *p = coll_expfmt_parser_new(COLL_EXPFMT_PROMETHEUS, 0);
    struct coll_expfmt_entry e;
    struct coll_expfmt_err err;
    coll_expfmt_parser_reset(p, body, strlen(body));
    /* Hinted and present: no labels, everything else as usual. */
    assert_int_equal(next_hinted(p, "a_total{x=\"1\",y=\"\\\"q\"}", &e, &err), COLL_EXPFMT_SAMPLE);
    assert_int_equal(e.sample.nlabels, 0);
    assert_true(e.sample.hinted);
    assert_true(e.sample.value == 3 && e.sample.has_ts && e.sample.ts_ms == 1000);
    assert_int_equal(e.sample.type, COLL_EXPFMT_COUNTER);
    assert_int_equal(e.sample.series.n, strlen("a_total{x=\"1\",y=\"\\\"q\"}"));
    assert_int_equal(e.sample.name.n, strlen("a_total"));
    assert_int_equal(e.line, 2);
    /* Another series than hinted: parsed in full. */
    assert_int_equal(next_hinted(p, "b{x=\"9\"}", &e, &err), COLL_EXPFMT_SAMPLE);
    assert_int_equal(e.sample.nlabels, 1);
    assert_false(e.sample.hinted);
    assert_true(e.sample.value == 4);
    /* The hinted name is followed by a label set: parsed in full. */
    assert_int_equal(next_hinted(p, "c", &e, &err), COLL_EXPFMT_SAMPLE);
    assert_int_equal(e.sample.nlabels, 1);
    assert_true(e.sample.value == 5);
    /* A tab after the series. */
    assert_int_equal(next_hinted(p, "d{x=\"4\"}", &e, &err), COLL_EXPFMT_SAMPLE);
    assert_int_equal(e.sample.nlabels, 0);
    assert_true(e.sample.hinted);
    assert_int_equal(e.sample.name.n, 1);
    assert_true(e.sample.value == 6);
    /* The value is still checked. */
    assert_int_equal(next_hinted(p, "e{x=\"5\"}", &e, &err), PL_ERR_INVALID);
    assert_int_equal(err.line, 6);
    coll_expfmt_parser_free(p);
    /* Strict mode ignores hints. */
    p = coll_expfmt_parser_new(COLL_EXPFMT_PROMETHEUS, COLL_EXPFMT_STRICT);
    coll_expfmt_parser_reset(p, body, strlen(body));
    assert_int_equal(next_hinted(p, "a_total{x=\"1\",y=\"\\\"q\"}", &e, &err), COLL_EXPFMT_SAMPLE);
    assert_int_equal(e.sample.nlabels, 2);
    coll_expfmt_parser_free(p);
    /* So does OpenMetrics. */
    const char *om = "b{x=\"2\"} 4\n# EOF\n";
    p = coll_expfmt_parser_new(COLL_EXPFMT_OPENMETRICS, 0);
    coll_expfmt_parser_reset(p, om, strlen(om));
    assert_int_equal(next_hinted(p, "b{x=\"2\"}", &e, &err), COLL_EXPFMT_SAMPLE);
    assert_int_equal(e.sample.nlabels, 1);
    coll_expfmt_parser_free(p);
}

int test_expfmt_robust_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expfmt_allocates_nothing_per_sample),
        cmocka_unit_test(test_expfmt_survives_every_prefix),
        cmocka_unit_test(test_expfmt_survives_random_mutations),
        cmocka_unit_test(test_expfmt_handles_huge_lines_and_many_labels),
        cmocka_unit_test(test_expfmt_expect_skips_only_the_known_series),
    };
    return cmocka_run_group_tests_name("expfmt_robust", tests, NULL, NULL);
}
