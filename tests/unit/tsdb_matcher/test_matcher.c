/* test_matcher.c - label matchers and RE2-compatible regexes (tsdb/matcher.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tsdb/matcher.h"

static struct tsdb_regex *re(const char *p)
{
    struct tsdb_regex *r = NULL;
    struct pl_err err;
    pl_err_clear(&err);
    if (tsdb_regex_new(p, &r, &err))
        fail_msg("regex %s: %s", p, err.msg);
    return r;
}

static int m(const char *p, const char *s)
{
    struct tsdb_regex *r = re(p);
    int ok = tsdb_regex_match(r, s, strlen(s));
    tsdb_regex_free(r);
    return ok;
}

static void test_regex_is_fully_anchored(void **state)
{
    assert_true(m("foo", "foo"));
    assert_false(m("foo", "foobar"));
    assert_false(m("foo", "xfoo"));
    assert_true(m("fo+", "fooo"));
    assert_false(m("o+", "foo"));
    assert_true(m("a|ab", "ab")); /* leftmost-first still reaches a full match */
    assert_true(m("", ""));
    assert_false(m("", "x"));
}

static void test_regex_fast_paths_agree_with_engine(void **state)
{
    const char *pats[] = {"abc", ".*", ".+", "ab.*", "a|bc|def", "(ab|c).*", "x?"};
    const char *subj[] = {"", "abc", "ab", "abx", "bc", "def", "a\nb", "ab\n", "c", "x", "\n"};
    for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
        /* Wrapping in a group defeats the fast path: both must agree. */
        char slow[64];
        snprintf(slow, sizeof(slow), "(?:%s)", pats[i]);
        for (size_t j = 0; j < sizeof(subj) / sizeof(subj[0]); j++)
            assert_int_equal(m(pats[i], subj[j]), m(slow, subj[j]));
    }
}

static void test_regex_dot_and_dollar_like_go(void **state)
{
    assert_false(m(".*", "a\nb"));
    assert_true(m("(?s)a.b", "a\nb"));
    assert_false(m("a$", "a\n"));
    assert_false(m("ab.*", "ab\n"));
    assert_true(m("ab.*", "abcd"));
}

static void test_regex_classes_are_ascii_but_runes_are_utf8(void **state)
{
    assert_false(m("\\w+", "\xc3\xa9")); /* é is not \w in Go */
    assert_true(m("[^a]", "\xc3\xa9"));  /* one rune, two bytes */
    assert_true(m("\\x{e9}", "\xc3\xa9"));
    assert_true(m("\\pL+", "h\xc3\xa9"));
    assert_true(m("(?i)ABC", "abc"));
    assert_true(m("[[:alpha:]]+", "abc"));
    assert_true(m("\\Qa.b\\E", "a.b"));
    assert_false(m("\\Qa.b\\E", "axb"));
    /* Invalid UTF-8 in a value must not fail the call. */
    assert_false(m("a.c", "a\xff\xfe"));
    assert_true(m(".*", "\xff"));
}

static void test_regex_rejects_what_re2_rejects(void **state)
{
    struct {
        const char *pat;
        const char *msg;
    } bad[] = {
        {"(?=a)", "invalid or unsupported Perl syntax: `(?=`"},
        {"(?!a)", "invalid or unsupported Perl syntax: `(?!`"},
        {"(?<=a)b", "invalid or unsupported Perl syntax: `(?<`"},
        {"(?>a)", "invalid or unsupported Perl syntax: `(?>`"},
        {"(?<n>a)", "invalid or unsupported Perl syntax: `(?<`"},
        {"(a)\\1", "invalid escape sequence: `\\1`"},
        {"a\\Z", "invalid escape sequence: `\\Z`"},
        {"a\\C", "invalid escape sequence: `\\C`"},
        {"a++", "invalid nested repetition operator: `++`"},
        {"a**", "invalid nested repetition operator: `**`"},
        {"a*??", "invalid nested repetition operator: `*??`"},
        {"a{1001}", "invalid repeat count: `{1001}`"},
        {"(?x)a", "invalid or unsupported Perl syntax: `(?x`"},
        {"(a", "missing closing )"},
        {"a)", "unexpected )"},
        {"[a", "missing closing ]"},
        {"*a", "missing argument to repetition operator"},
        {"(*UTF)a", "missing argument to repetition operator: `*`"},
        {"\\xZZ", "invalid escape sequence"},
        {"\\x{zz}", "invalid escape sequence"},
        {"(a{500}){3}", "invalid repeat count: `{3}`"},
        {"((a{100}){10}){2}", "invalid repeat count: `{2}`"},
        {"(a{2,}){501}", "invalid repeat count: `{501}`"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tsdb_regex *r = NULL;
        struct pl_err err;
        pl_err_clear(&err);
        assert_int_equal(tsdb_regex_new(bad[i].pat, &r, &err), PL_ERR_INVALID);
        assert_null(r);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("%s: got \"%s\", want \"%s\"", bad[i].pat, err.msg, bad[i].msg);
        assert_non_null(strstr(err.msg, "error parsing regexp: "));
    }
}

static void test_regex_accepts_go_syntax(void **state)
{
    const char *ok[] = {"(?P<n>a)",   "a*?",   "a{2,3}?",   "a{1000}",      "\\d+\\.\\d*",
                        "[\\]a]",     "[(?=]", "\\012",     "(?i:x)",       "(?U)a+",
                        "a{,3}",      "\\z",   "x{2}",      "(a{10}){100}", "(a{1000})|(b{1000})",
                        "(a*){1000}", "\\x41", "\\x{1F600}"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct tsdb_regex *r = re(ok[i]);
        tsdb_regex_free(r);
    }
    assert_true(m("(?P<n>a)b", "ab"));
    assert_true(m("[(?=]+", "(?="));
}

static void test_regex_pathological_pattern_terminates(void **state)
{
    char s[64];
    memset(s, 'a', 40);
    s[40] = 'b';
    s[41] = '\0';
    /* Exponential for a naive backtracker; must return (no match), not hang. */
    assert_false(m("(a+)+c", s));
}

static struct tsdb_matcher *mk(enum tsdb_match_type t, const char *name, const char *v)
{
    struct tsdb_matcher *x = NULL;
    struct pl_err err;
    if (tsdb_matcher_new(t, name, v, &x, &err))
        fail_msg("matcher: %s", err.msg);
    return x;
}

static void test_matcher_types_and_empty(void **state)
{
    struct tsdb_matcher *eq = mk(TSDB_MATCH_EQ, "job", "node");
    struct tsdb_matcher *ne = mk(TSDB_MATCH_NEQ, "job", "node");
    struct tsdb_matcher *rx = mk(TSDB_MATCH_RE, "job", "no.*");
    struct tsdb_matcher *nrx = mk(TSDB_MATCH_NRE, "job", "no.*");
    assert_true(tsdb_matcher_matches(eq, "node", 4));
    assert_false(tsdb_matcher_matches(eq, "nodes", 5));
    assert_true(tsdb_matcher_matches(ne, "nodes", 5));
    assert_true(tsdb_matcher_matches(rx, "nodes", 5));
    assert_false(tsdb_matcher_matches(nrx, "nodes", 5));
    assert_false(tsdb_matcher_matches_empty(eq));
    assert_true(tsdb_matcher_matches_empty(ne));
    assert_false(tsdb_matcher_matches_empty(rx));
    assert_true(tsdb_matcher_matches_empty(nrx));
    assert_string_equal(tsdb_matcher_name(rx), "job");
    assert_string_equal(tsdb_matcher_value(rx), "no.*");
    assert_int_equal(tsdb_matcher_type(nrx), TSDB_MATCH_NRE);
    tsdb_matcher_free(eq);
    tsdb_matcher_free(ne);
    tsdb_matcher_free(rx);
    tsdb_matcher_free(nrx);
}

static void test_matchers_treat_absent_label_as_empty(void **state)
{
    struct pl_labels *ls = NULL;
    const char *s = "up{job=\"node\"}";
    assert_int_equal(pl_labels_parse(s, strlen(s), &ls, NULL), 0);
    struct tsdb_matcher *ms[2];
    ms[0] = mk(TSDB_MATCH_EQ, "__name__", "up");
    ms[1] = mk(TSDB_MATCH_EQ, "instance", "");
    assert_true(tsdb_matchers_match_labels(ms, 2, ls));
    tsdb_matcher_free(ms[1]);
    ms[1] = mk(TSDB_MATCH_RE, "instance", ".+");
    assert_false(tsdb_matchers_match_labels(ms, 2, ls));
    tsdb_matcher_free(ms[0]);
    tsdb_matcher_free(ms[1]);
    pl_labels_free(ls);
}

static void test_matcher_rejects_bad_regex(void **state)
{
    struct tsdb_matcher *x = NULL;
    struct pl_err err;
    assert_int_equal(tsdb_matcher_new(TSDB_MATCH_RE, "a", "(?=x)", &x, &err), PL_ERR_INVALID);
    assert_null(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regex_is_fully_anchored),
        cmocka_unit_test(test_regex_fast_paths_agree_with_engine),
        cmocka_unit_test(test_regex_dot_and_dollar_like_go),
        cmocka_unit_test(test_regex_classes_are_ascii_but_runes_are_utf8),
        cmocka_unit_test(test_regex_rejects_what_re2_rejects),
        cmocka_unit_test(test_regex_accepts_go_syntax),
        cmocka_unit_test(test_regex_pathological_pattern_terminates),
        cmocka_unit_test(test_matcher_types_and_empty),
        cmocka_unit_test(test_matchers_treat_absent_label_as_empty),
        cmocka_unit_test(test_matcher_rejects_bad_regex),
    };
    return cmocka_run_group_tests_name("matcher", tests, NULL, NULL);
}
