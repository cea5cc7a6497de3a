/* test_errors.c - parse and type errors: Prometheus's messages and 1-based line:column positions.
 */
#include "tests.h"

struct err_case {
    const char *in, *want;
};

static const struct err_case cases[] = {
#include "error_cases.inc"
    /* Positions on later lines count columns from the last newline. */
    {"foo +\n  bar offset",
     "2:13: parse error: unexpected end of input in offset, expected duration"},
    {"sum(\n  rate(x)\n)", "2:8: parse error: expected type range vector in call to function "
                           "\"rate\", got instant vector"},
    {"# nothing but a comment\n", "1:1: parse error: no expression found in input"},
    {"", "1:1: parse error: no expression found in input"},
    {"foo{a=\"b\"\n,c=~\"x\"\n d}",
     "3:2: parse error: unexpected identifier \"d\" in label matching, expected \",\" or \"}\""},
    {"foo[5m]\n  offset 1m\n  offset 2m", "1:1: parse error: offset may not be set multiple times"},
    /* Durations are Go time.Durations in Prometheus: at most ~292 years. */
    {"x[292y]", NULL},
    {"x[293y]", "1:3: parse error: duration out of range"},
    {"x[9223372036854ms]", NULL},
    {"x[9223372036855ms]", "1:3: parse error: duration out of range"},
    {"x offset 293y", "1:10: parse error: duration out of range"},
    {"x[5m:293y]", "1:6: parse error: duration out of range"},
    {"x[2562048h]", "1:3: parse error: duration out of range"},
    /* After a comma that no expression follows, Prometheus reports the comma. */
    {"quantile_over_time(time(), on[5m])",
     "1:26: parse error: trailing commas not allowed in function call args"},
    {"sum(rate(x[5m]), bool)",
     "1:16: parse error: trailing commas not allowed in function call args"},
    /* Regex syntax RE2 rejects is an error at the label. */
    {"foo{a=~\"(?=x)\"}",
     "1:5: parse error: error parsing regexp: invalid or unsupported Perl syntax: `(?=`"},
};

static void test_errors_match_prometheus(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = qp_parse_err(cases[i].in);
        if (!cases[i].want) {
            if (got)
                fail_msg("query %s: unexpected error %s", cases[i].in, got);
            continue;
        }
        if (!got)
            fail_msg("query %s parsed, want error %s", cases[i].in, cases[i].want);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("query %s: got\n  %s\nwant\n  %s", cases[i].in, got, cases[i].want);
        free(got);
    }
}

static void test_errors_report_regex_failures_at_the_label(void **state)
{
    char *got = qp_parse_err("foo{bar=~\"(\"}");
    assert_non_null(got);
    assert_non_null(strstr(got, "1:5: parse error: error parsing regexp: missing closing )"));
    free(got);
}

static void test_errors_leave_out_untouched(void **state)
{
    struct query_expr *e = (struct query_expr *)0x1;
    struct query_parse_err err;
    assert_int_equal(query_parse("sum(", 4, &e, &err), PL_ERR_INVALID);
    assert_ptr_equal(e, (struct query_expr *)0x1);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, 5);
    assert_int_equal(err.offset, 4);
    assert_string_equal(err.msg, "unclosed left parenthesis");
    /* A NULL err is allowed. */
    assert_int_equal(query_parse("1 +", 3, &e, NULL), PL_ERR_INVALID);
}

static void test_errors_handle_embedded_nul_and_binary(void **state)
{
    static const char q[] = {'f', 'o', 'o', '\0', '+', '1'};
    struct query_expr *e;
    struct query_parse_err err;
    assert_int_equal(query_parse(q, sizeof(q), &e, &err), PL_ERR_INVALID);
    assert_string_equal(err.msg, "unexpected character: '\\x00'");
    assert_int_equal(err.col, 4);
    static const char q2[] = {'"', (char)0xff, '"'};
    assert_int_equal(query_parse(q2, sizeof(q2), &e, &err), PL_ERR_INVALID);
    assert_string_equal(err.msg, "invalid UTF-8 rune");
    static const char q3[] = {'f', (char)0xc3, (char)0xa9};
    assert_int_equal(query_parse(q3, sizeof(q3), &e, &err), PL_ERR_INVALID);
    assert_string_equal(err.msg, "unexpected character: '\xc3\xa9'");
}

static void test_errors_selector_only_grammar(void **state)
{
    /* query_parse_selector takes what the API's match[] takes (checked against Prometheus 2.42). */
    static const struct err_case sel[] = {
        {"foo", NULL},
        {"foo{a=\"b\",}", NULL},
        {"{a=\"\"}", NULL}, /* no non-empty check here: the API does it */
        {"sum", NULL},
        {"foo:bar # comment", NULL},
        {"foo{__name__=\"bar\"}", NULL},
        {"sum(x)", "1:4: parse error: unexpected \"(\""},
        {"foo offset 5m", "1:5: parse error: unexpected <offset>"},
        {"foo[5m]", "1:4: parse error: unexpected \"[\""},
        {"foo @ 5", "1:5: parse error: unexpected \"<Item 57385>\" <op:@>"},
        {"1", "1:1: parse error: unexpected number \"1\""},
        {"foo + bar", "1:5: parse error: unexpected <op:+>"},
        {"(foo)", "1:1: parse error: unexpected \"(\""},
        {"on", "1:1: parse error: unexpected <on>"},
        {"foo{", "1:5: parse error: unexpected end of input inside braces"},
        {"-foo", "1:1: parse error: unexpected <op:->"},
        {"foo bar", "1:5: parse error: unexpected identifier \"bar\""},
    };
    for (size_t i = 0; i < sizeof(sel) / sizeof(sel[0]); i++) {
        struct query_expr *e = NULL;
        struct query_parse_err err;
        int rc = query_parse_selector(sel[i].in, strlen(sel[i].in), &e, &err);
        if (!sel[i].want) {
            if (rc != 0)
                fail_msg("selector %s: unexpected error %s", sel[i].in, err.msg);
            assert_int_equal(e->root->kind, QUERY_NODE_VECTOR_SELECTOR);
            query_expr_free(e);
            continue;
        }
        assert_int_equal(rc, PL_ERR_INVALID);
        char got[700];
        query_parse_err_format(&err, got, sizeof(got));
        if (strcmp(got, sel[i].want) != 0)
            fail_msg("selector %s: got %s, want %s", sel[i].in, got, sel[i].want);
    }
    struct query_expr *e = NULL;
    const char *up = "up{job=~\"a|b\"}";
    assert_int_equal(query_parse_selector(up, strlen(up), &e, NULL), 0);
    assert_int_equal(e->root->vs.nmatchers, 2);
    assert_string_equal(e->root->vs.name, "up");
    query_expr_free(e);
}

int test_errors_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_match_prometheus),
        cmocka_unit_test(test_errors_report_regex_failures_at_the_label),
        cmocka_unit_test(test_errors_leave_out_untouched),
        cmocka_unit_test(test_errors_handle_embedded_nul_and_binary),
        cmocka_unit_test(test_errors_selector_only_grammar),
    };
    return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
