/*
 * test_relabel.c - relabeling, table-driven. Every expected result in
 * `cases` was checked against Prometheus 2.42.0 on this machine (static
 * targets run through relabel_configs, read back from /api/v1/targets), or
 * follows from its documented rules where noted.
 */
#include "tests.h"

#include "collector/relabel.h"
#include "common/buf.h"

struct relabel_case {
    const char *rules; /* YAML flow sequence of relabel_config */
    const char *in;    /* label set */
    const char *want;  /* label set, or NULL when dropped */
};

#define SRC "{src=\"abc-def\", other=\"x\", num=\"1abc\", nl=\"a\\nb\"}"

static const struct relabel_case table[] = {
    /* hashmod: md5 of the joined values, last 8 digest bytes big-endian (verified). */
    {"[{source_labels: [__address__], modulus: 1000, target_label: shard, action: hashmod}]",
     "{__address__=\"127.0.0.1:1\"}", "{__address__=\"127.0.0.1:1\", shard=\"402\"}"},
    {"[{source_labels: [__address__], modulus: 1000, target_label: shard, action: hashmod}]",
     "{__address__=\"127.0.0.2:1\"}", "{__address__=\"127.0.0.2:1\", shard=\"259\"}"},
    {"[{source_labels: [__address__], modulus: 1000, target_label: shard, action: hashmod}]",
     "{__address__=\"host-a:1\"}", "{__address__=\"host-a:1\", shard=\"612\"}"},
    {"[{source_labels: [__address__], modulus: 1000, target_label: shard, action: hashmod}]",
     "{__address__=\"host-b:9100\"}", "{__address__=\"host-b:9100\", shard=\"620\"}"},
    {"[{source_labels: [__address__, job], modulus: 7, target_label: s, action: HashMod}]",
     "{__address__=\"127.0.0.1:1\", job=\"hashmod\"}",
     "{__address__=\"127.0.0.1:1\", job=\"hashmod\", s=\"2\"}"},
    {"[{source_labels: [__address__, job], modulus: 7, target_label: s, action: hashmod}]",
     "{__address__=\"host-b:9100\", job=\"hashmod\"}",
     "{__address__=\"host-b:9100\", job=\"hashmod\", s=\"0\"}"},
    /* Expansion as Go's regexp.Expand (verified). */
    {"[{source_labels: [src], regex: '(\\w+)-(\\w+)', target_label: r, replacement: '$1x'}]", SRC,
     SRC}, /* "$1x" is group "1x": empty, so nothing is set */
    {"[{source_labels: [src], regex: '(\\w+)-(\\w+)', target_label: r, replacement: '${1}x'}]", SRC,
     "{nl=\"a\\nb\", num=\"1abc\", other=\"x\", r=\"abcx\", src=\"abc-def\"}"},
    {"[{source_labels: [src], regex: '(?P<a>\\w+)-(?P<b>\\w+)', target_label: r, replacement: "
     "'$b.$a'}]",
     SRC, "{nl=\"a\\nb\", num=\"1abc\", other=\"x\", r=\"def.abc\", src=\"abc-def\"}"},
    {"[{source_labels: [src], regex: '(?P<a>\\w+)-(?P<b>\\w+)', target_label: r, replacement: "
     "'${b}_$$_${a'}]",
     SRC, "{nl=\"a\\nb\", num=\"1abc\", other=\"x\", r=\"def_$_${a\", src=\"abc-def\"}"},
    {"[{source_labels: [src], regex: '(\\w+)-(\\w+)', target_label: 'tl_$2', replacement: v}]", SRC,
     "{nl=\"a\\nb\", num=\"1abc\", other=\"x\", src=\"abc-def\", tl_def=\"v\"}"},
    {"[{source_labels: [num], target_label: '$1', replacement: v}]", SRC,
     SRC}, /* expanded target "1abc" is not a label name */
    {"[{source_labels: [src], regex: zzz, target_label: r, replacement: v}]", SRC, SRC},
    {"[{source_labels: [src], regex: abc, target_label: r, replacement: v}]", SRC,
     SRC},                                                  /* anchored: a prefix is no match */
    {"[{source_labels: [nl], target_label: r}]", SRC, SRC}, /* `.` does not match \n */
    {"[{source_labels: [src, missing, other], separator: '|', target_label: r}]", SRC,
     "{nl=\"a\\nb\", num=\"1abc\", other=\"x\", r=\"abc-def||x\", src=\"abc-def\"}"},
    {"[{source_labels: [other], target_label: other, replacement: ''}]", SRC,
     "{nl=\"a\\nb\", num=\"1abc\", src=\"abc-def\"}"},
    {"[{source_labels: [src], regex: '(a)(b)?(z)?.*', target_label: r, replacement: "
     "'[$1][$2][$3][$4][$0]'}]",
     SRC, "{nl=\"a\\nb\", num=\"1abc\", other=\"x\", r=\"[a][b][][][abc-def]\", src=\"abc-def\"}"},
    {"[{target_label: r, replacement: 'c$'}]", SRC,
     "{nl=\"a\\nb\", num=\"1abc\", other=\"x\", r=\"c$\", src=\"abc-def\"}"},
    {"[{source_labels: [src], regex: 'ABC.*', target_label: r, replacement: 'no'}]", SRC, SRC},
    {"[{source_labels: [src], regex: '(?i)ABC.*', target_label: r, replacement: 'yes'}]", SRC,
     "{nl=\"a\\nb\", num=\"1abc\", other=\"x\", r=\"yes\", src=\"abc-def\"}"},
    {"[{source_labels: [src], regex: 'abc|abc-def', target_label: r, replacement: 'alt:$0'}]", SRC,
     "{nl=\"a\\nb\", num=\"1abc\", other=\"x\", r=\"alt:abc-def\", src=\"abc-def\"}"},
    /* Documented: an empty source value matches (.*) and an empty result deletes. */
    {"[{source_labels: [missing], target_label: a}]", "{a=\"1\", b=\"2\"}", "{b=\"2\"}"},
    /* Rules see the results of the rules before them. */
    {"[{source_labels: [a], target_label: x, replacement: 'x$1'}, {source_labels: [x], regex: "
     "'x(.)', target_label: y, replacement: '${1}y'}]",
     "{a=\"1\"}", "{a=\"1\", x=\"x1\", y=\"1y\"}"},
    /* labelmap, labeldrop, labelmap (verified). */
    {"[{action: labelmap, regex: 'foo_(.*)', replacement: 'mapped_$1'}, {action: labeldrop, "
     "regex: 'foo_t.*'}, {action: labelmap, regex: '(b)ar', replacement: '${1}_copy'}]",
     "{foo_one=\"1\", foo_two=\"2\", bar=\"b\", keepme=\"k\"}",
     "{b_copy=\"b\", bar=\"b\", foo_one=\"1\", keepme=\"k\", mapped_one=\"1\", "
     "mapped_two=\"2\"}"},
    {"[{action: labelmap, regex: '__meta_sd_(.+)'}]", "{__meta_sd_zone=\"z1\", a=\"1\"}",
     "{__meta_sd_zone=\"z1\", a=\"1\", zone=\"z1\"}"},
    {"[{action: labelkeep, regex: '__.*|a.*|job'}]",
     "{__address__=\"h:1\", a1=\"1\", a2=\"2\", b1=\"3\", job=\"j\"}",
     "{__address__=\"h:1\", a1=\"1\", a2=\"2\", job=\"j\"}"},
    {"[{action: labeldrop, regex: '.*'}]", "{a=\"1\", b=\"2\"}", "{}"},
    /* lowercase / uppercase are Unicode-aware as Go's strings.ToLower (verified). */
    {"[{source_labels: [v], target_label: lower, action: lowercase}, {source_labels: [v], "
     "target_label: upper, action: uppercase}]",
     "{v=\"ÄbC-Straße-ǅ-İ-ΣΑΣ\"}",
     "{lower=\"äbc-straße-ǆ-i-σασ\", upper=\"ÄBC-STRAßE-Ǆ-İ-ΣΑΣ\", v=\"ÄbC-Straße-ǅ-İ-ΣΑΣ\"}"},
    /* keepequal / dropequal (verified). */
    {"[{source_labels: [a], target_label: b, action: keepequal}, {source_labels: [a], "
     "target_label: c, action: dropequal}]",
     "{a=\"x\", b=\"x\", c=\"y\"}", "{a=\"x\", b=\"x\", c=\"y\"}"},
    {"[{source_labels: [a], target_label: b, action: keepequal}]", "{a=\"x\", b=\"z\"}", NULL},
    {"[{source_labels: [a], target_label: c, action: dropequal}]", "{a=\"x\", c=\"x\"}", NULL},
    {"[{source_labels: [a], target_label: c, action: keepequal}]", "{b=\"1\"}",
     "{b=\"1\"}"}, /* both absent: "" == "" */
    /* keep / drop (verified). */
    {"[{source_labels: [__address__], regex: '.*:9', action: drop}]",
     "{__address__=\"127.0.0.1:9\"}", NULL},
    {"[{source_labels: [__address__], regex: '.*:9', action: drop}]",
     "{__address__=\"127.0.0.1:8\"}", "{__address__=\"127.0.0.1:8\"}"},
    {"[{source_labels: [__address__], regex: '127\\.0\\.0\\.1:(8|10)', action: keep}]",
     "{__address__=\"127.0.0.1:10\"}", "{__address__=\"127.0.0.1:10\"}"},
    {"[{source_labels: [__address__], regex: '127\\.0\\.0\\.1:(8|10)', action: keep}]",
     "{__address__=\"127.0.0.1:100\"}", NULL},
    {"[{source_labels: [x], action: keep}]", "{a=\"1\"}",
     "{a=\"1\"}"}, /* default regex (.*) keeps everything */
    {"[{source_labels: [a, b], separator: '', regex: '12', action: keep}]", "{a=\"1\", b=\"2\"}",
     "{a=\"1\", b=\"2\"}"},
    {"[{source_labels: [__name__], regex: 'demo_gauge', action: drop}]",
     "{__name__=\"demo_gauge\", job=\"j\"}", NULL},
};

static void test_relabel_table_matches_prometheus(void **state)
{
    (void)state;
    struct coll_relabel_scratch s;
    coll_relabel_scratch_init(&s);
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        char yaml[2048];
        snprintf(yaml, sizeof(yaml), "scrape_configs: [{job_name: j, metric_relabel_configs: %s}]",
                 table[i].rules);
        struct coll_config *cfg = cfg_ok(yaml);
        const struct coll_scrape_config *sc = &cfg->scrape_configs[0];
        struct pl_labels *in = ls_parse(table[i].in);
        pl_lb_reset_from(&lb, in);
        int kept = coll_relabel_apply(sc->metric_relabel, sc->nmetric_relabel, &lb, &s);
        if (!table[i].want) {
            if (kept)
                fail_msg("case %zu: %s on %s: want dropped, kept", i, table[i].rules, table[i].in);
        } else {
            if (!kept)
                fail_msg("case %zu: %s on %s: dropped", i, table[i].rules, table[i].in);
            struct pl_labels *out = pl_lb_labels(&lb);
            struct pl_labels *want = ls_parse(table[i].want);
            if (!pl_labels_equal(out, want))
                fail_msg("case %zu: %s on %s:\nwant %s\ngot  %s", i, table[i].rules, table[i].in,
                         ls_str(want), ls_str(out));
            pl_labels_free(out);
            pl_labels_free(want);
        }
        pl_labels_free(in);
        coll_config_free(cfg);
    }
    pl_lb_fini(&lb);
    coll_relabel_scratch_fini(&s);
}

static void test_relabel_defaults_are_prometheus(void **state)
{
    (void)state;
    struct coll_relabel_rule r;
    coll_relabel_rule_init(&r);
    assert_string_equal(r.separator, ";");
    assert_string_equal(r.replacement, "$1");
    assert_string_equal(r.target_label, "");
    assert_int_equal(r.action, COLL_RELABEL_REPLACE);
    assert_string_equal(tsdb_regex_capture_pattern(r.regex), "(.*)");
    assert_int_equal(r.modulus, 0);
    coll_relabel_rule_fini(&r);
    enum coll_relabel_action a;
    assert_int_equal(coll_relabel_action_parse("LabelMap", &a), 0);
    assert_int_equal(a, COLL_RELABEL_LABELMAP);
    assert_string_equal(coll_relabel_action_name(a), "labelmap");
    assert_int_equal(coll_relabel_action_parse("nope", &a), PL_ERR_INVALID);
}

/* Go's Expand corner cases, on the regex API directly. */
static void test_relabel_expand_follows_go(void **state)
{
    (void)state;
    static const struct {
        const char *re, *s, *tmpl, *want;
    } cases[] = {
        {"(a)(b)", "ab", "$1$2", "ab"},
        {"(a)(b)", "ab", "$1x", ""},
        {"(a)(b)", "ab", "${1}x", "ax"},
        {"(a)(b)", "ab", "$$1", "$1"},
        {"(a)(b)", "ab", "$", "$"},
        {"(a)(b)", "ab", "x$-y", "x$-y"},
        {"(a)(b)", "ab", "${1", "${1"},
        {"(a)(b)", "ab", "${}", "${}"},
        {"(a)(b)", "ab", "$01", ""}, /* a leading zero makes a name, not a number */
        {"(a)(b)", "ab", "$2$1$0", "baab"},
        {"(a)(b)", "ab", "$3", ""},
        {"(?P<first>a)(b)", "ab", "$first-${first}.$2", "a-a.b"},
        {"(?P<first>a)(b)", "ab", "$firstx", ""},
        {"(a)|(b)", "b", "[$1][$2]", "[][b]"},
    };
    struct pl_buf b;
    pl_buf_init(&b, 1024);
    size_t ovec[2 * TSDB_REGEX_CAPTURE_MAX];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tsdb_regex_capture *re;
        struct pl_err err;
        assert_int_equal(tsdb_regex_capture_new(cases[i].re, &re, &err), 0);
        assert_true(tsdb_regex_capture_match(re, cases[i].s, strlen(cases[i].s), ovec));
        pl_buf_reset(&b);
        tsdb_regex_capture_expand(re, cases[i].tmpl, strlen(cases[i].tmpl), cases[i].s, ovec, &b);
        if (strcmp(pl_buf_cstr(&b), cases[i].want) != 0)
            fail_msg("case %zu: %s on %s with %s: want '%s' got '%s'", i, cases[i].re, cases[i].s,
                     cases[i].tmpl, cases[i].want, pl_buf_cstr(&b));
        tsdb_regex_capture_free(re);
    }
    pl_buf_fini(&b);
}

static void test_relabel_regex_is_fully_anchored(void **state)
{
    (void)state;
    struct tsdb_regex_capture *re;
    struct pl_err err;
    assert_int_equal(tsdb_regex_capture_new("a|b", &re, &err), 0);
    assert_true(tsdb_regex_capture_match(re, "a", 1, NULL));
    assert_false(tsdb_regex_capture_match(re, "ab", 2, NULL));
    assert_false(tsdb_regex_capture_match(re, "xa", 2, NULL));
    tsdb_regex_capture_free(re);
    assert_int_equal(tsdb_regex_capture_new("foo", &re, &err), 0); /* literal fast path */
    assert_true(tsdb_regex_capture_match(re, "foo", 3, NULL));
    assert_false(tsdb_regex_capture_match(re, "foox", 4, NULL));
    tsdb_regex_capture_free(re);
    assert_int_equal(tsdb_regex_capture_new("(.*)", &re, &err), 0); /* default fast path */
    assert_true(tsdb_regex_capture_match(re, "", 0, NULL));
    assert_false(tsdb_regex_capture_match(re, "a\nb", 3, NULL));
    tsdb_regex_capture_free(re);
    assert_int_equal(tsdb_regex_capture_new("a$", &re, &err), 0);
    assert_false(tsdb_regex_capture_match(re, "a\n", 2, NULL)); /* `$` only at the very end */
    tsdb_regex_capture_free(re);
}

/* Steady-state relabeling reuses the scratch buffers: a second pass grows nothing. */
static void test_relabel_reuses_scratch(void **state)
{
    (void)state;
    struct coll_config *cfg =
        cfg_ok("scrape_configs: [{job_name: j, metric_relabel_configs: [{action: labelmap, regex: "
               "'(.*)_x', replacement: '${1}_y'}, {source_labels: [a_x], target_label: z}]}]");
    const struct coll_scrape_config *sc = &cfg->scrape_configs[0];
    struct coll_relabel_scratch s;
    coll_relabel_scratch_init(&s);
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    struct pl_labels *in = ls_parse("{a_x=\"1\", b_x=\"2\", c=\"3\"}");
    size_t caps[3] = {0};
    for (int pass = 0; pass < 3; pass++) {
        pl_lb_reset_from(&lb, in);
        assert_true(coll_relabel_apply(sc->metric_relabel, sc->nmetric_relabel, &lb, &s));
        if (pass == 1) {
            caps[0] = s.val.cap;
            caps[1] = s.out.cap;
            caps[2] = lb.bytes.cap;
        } else if (pass == 2) {
            assert_int_equal(caps[0], s.val.cap);
            assert_int_equal(caps[1], s.out.cap);
            assert_int_equal(caps[2], lb.bytes.cap);
        }
    }
    struct pl_labels *out = pl_lb_labels(&lb);
    assert_string_equal(ls_str(out),
                        "{a_x=\"1\", a_y=\"1\", b_x=\"2\", b_y=\"2\", c=\"3\", z=\"1\"}");
    pl_labels_free(out);
    pl_labels_free(in);
    pl_lb_fini(&lb);
    coll_relabel_scratch_fini(&s);
    coll_config_free(cfg);
}

int test_relabel_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relabel_table_matches_prometheus),
        cmocka_unit_test(test_relabel_defaults_are_prometheus),
        cmocka_unit_test(test_relabel_expand_follows_go),
        cmocka_unit_test(test_relabel_regex_is_fully_anchored),
        cmocka_unit_test(test_relabel_reuses_scratch),
    };
    return cmocka_run_group_tests_name("relabel", tests, NULL, NULL);
}
