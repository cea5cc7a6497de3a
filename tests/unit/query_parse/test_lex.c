/* test_lex.c - the PromQL lexer: token kinds, states (braces, durations), comments, quoting
 * helpers. */
#include "tests.h"

#include "common/buf.h"
#include "query/lex.h"

/* Lexes q and checks the token kinds (terminated by -1) and, optionally, their texts. */
static void expect_tokens(const char *q, const int *kinds, const char *const *texts)
{
    struct query_lexer l;
    query__lex_init(&l, q, strlen(q));
    for (size_t i = 0;; i++) {
        struct query_token t = query__lex_next(&l);
        if (kinds[i] < 0) {
            assert_int_equal(t.type, QUERY_T_EOF);
            return;
        }
        if ((int)t.type != kinds[i])
            fail_msg("%s: token %zu is %d, want %d", q, i, t.type, kinds[i]);
        if (texts && texts[i]) {
            assert_int_equal(t.len, strlen(texts[i]));
            assert_memory_equal(q + t.pos, texts[i], t.len);
        }
    }
}

static void test_lex_reads_numbers_and_durations(void **state)
{
    const int k[] = {
        QUERY_T_NUMBER, QUERY_T_NUMBER, QUERY_T_NUMBER,   QUERY_T_NUMBER,   QUERY_T_NUMBER,
        QUERY_T_NUMBER, QUERY_T_NUMBER, QUERY_T_DURATION, QUERY_T_DURATION, -1};
    const char *t[] = {"1", ".5", "5.", "0x1F", "1e-3", "Inf", "nAn", "5m", "1h30m"};
    expect_tokens("1 .5 5. 0x1F 1e-3 Inf nAn 5m 1h30m", k, t);
    /* A word that only starts like Inf is an identifier. */
    const int k2[] = {QUERY_T_IDENT, QUERY_T_IDENT, -1};
    expect_tokens("Infoo NaN123", k2, NULL);
}

static void test_lex_reads_keywords_case_insensitively(void **state)
{
    const int k[] = {QUERY_T_SUM,          QUERY_T_BY,
                     QUERY_T_LPAREN,       QUERY_T_IDENT,
                     QUERY_T_RPAREN,       QUERY_T_LAND,
                     QUERY_T_OFFSET,       QUERY_T_COUNT_VALUES,
                     QUERY_T_ATAN2,        QUERY_T_GROUP_LEFT,
                     QUERY_T_BOOL,         QUERY_T_START,
                     QUERY_T_METRIC_IDENT, -1};
    expect_tokens("SUM By(job) AND offset count_values atan2 Group_Left bool start foo:bar", k,
                  NULL);
}

static void test_lex_treats_keywords_as_identifiers_inside_braces(void **state)
{
    const int k[] = {
        QUERY_T_IDENT, QUERY_T_LBRACE,    QUERY_T_IDENT,     QUERY_T_EQL,    QUERY_T_STRING,
        QUERY_T_COMMA, QUERY_T_IDENT,     QUERY_T_NEQ_REGEX, QUERY_T_STRING, QUERY_T_COMMA,
        QUERY_T_IDENT, QUERY_T_EQL_REGEX, QUERY_T_STRING,    QUERY_T_RBRACE, -1};
    const char *t[] = {"x",  "{",   "on", "=",  "\"a\"", ",",   "sum",
                       "!~", "'b'", ",",  "by", "=~",    "`c`", "}"};
    expect_tokens("x{on=\"a\", sum!~'b', # note\n by=~`c`}", k, t);
}

static void test_lex_reads_operators(void **state)
{
    const int k[] = {QUERY_T_ADD, QUERY_T_SUB,  QUERY_T_MUL, QUERY_T_DIV,   QUERY_T_MOD,
                     QUERY_T_POW, QUERY_T_EQLC, QUERY_T_NEQ, QUERY_T_LTE,   QUERY_T_LSS,
                     QUERY_T_GTE, QUERY_T_GTR,  QUERY_T_AT,  QUERY_T_COMMA, -1};
    expect_tokens("+ - * / % ^ == != <= < >= > @ ,", k, NULL);
}

static void test_lex_reads_brackets_and_subquery_colon(void **state)
{
    const int k[] = {QUERY_T_IDENT,
                     QUERY_T_LBRACKET,
                     QUERY_T_DURATION,
                     QUERY_T_COLON,
                     QUERY_T_DURATION,
                     QUERY_T_RBRACKET,
                     QUERY_T_LBRACKET,
                     QUERY_T_DURATION,
                     QUERY_T_COLON,
                     QUERY_T_RBRACKET,
                     -1};
    expect_tokens("x[ 5m:1m][1h :]", k, NULL);
}

static void test_lex_skips_comments(void **state)
{
    const int k[] = {QUERY_T_IDENT, QUERY_T_ADD, QUERY_T_NUMBER, -1};
    expect_tokens("# leading\nfoo # trailing\n+ 1 # end", k, NULL);
}

static void expect_lex_error(const char *q, const char *msg, uint32_t pos)
{
    struct query_lexer l;
    query__lex_init(&l, q, strlen(q));
    for (int i = 0; i < 100; i++) {
        struct query_token t = query__lex_next(&l);
        if (t.type == QUERY_T_ERROR) {
            assert_string_equal(l.errmsg, msg);
            assert_int_equal(l.errpos, pos);
            /* After an error the lexer only returns EOF. */
            assert_int_equal(query__lex_next(&l).type, QUERY_T_EOF);
            return;
        }
        if (t.type == QUERY_T_EOF)
            break;
    }
    fail_msg("%s: no lexer error", q);
}

static void test_lex_reports_errors_at_token_start(void **state)
{
    expect_lex_error("foo{a~\"b\"}", "unexpected character inside braces: '~'", 5);
    expect_lex_error("(1))", "unexpected right parenthesis ')'", 4);
    expect_lex_error("((1)", "unclosed left parenthesis", 4);
    expect_lex_error("x[5m", "unclosed left bracket", 4);
    expect_lex_error("x[5]", "missing unit character in duration", 2);
    expect_lex_error("x[5x]", "bad duration syntax: \"5\"", 2);
    expect_lex_error("0deadbeef", "bad number or duration syntax: \"0de\"", 0);
    expect_lex_error("a \"b", "unterminated quoted string", 2);
    expect_lex_error("`b", "unterminated raw string", 0);
    expect_lex_error("\"\\q\"", "unknown escape sequence U+0071 'q'", 0);
    expect_lex_error("'\\\"'", "unknown escape sequence U+0022 '\"'", 0);
    expect_lex_error("\"\\ud800\"", "escape sequence is an invalid Unicode code point", 0);
    expect_lex_error("\"\\x4\"", "illegal character U+0022 '\"' in escape sequence", 0);
    expect_lex_error("\"\\", "escape sequence not terminated", 0);
    expect_lex_error("x =~ y", "unexpected character after '=': '~'", 2);
    expect_lex_error("!x", "unexpected character after '!': 'x'", 0);
    expect_lex_error("{a!x}", "unexpected character after '!' inside braces: 'x'", 2);
    expect_lex_error("x[5m:1m:1m]", "unexpected colon ':'", 7);
    expect_lex_error("x[5m[", "unexpected left bracket '['", 4);
    expect_lex_error("x]", "unexpected right bracket ']'", 1);
    expect_lex_error("{{", "unexpected left brace '{'", 1);
    expect_lex_error("{", "unexpected end of input inside braces", 1);
}

static void test_lex_quote_matches_go(void **state)
{
    struct pl_buf b;
    pl_buf_init(&b, 1000);
    query__quote(&b, "a\"b\\c\n\x01\xff\xc3\xa9", 10, 0);
    assert_string_equal(pl_buf_cstr(&b), "\"a\\\"b\\\\c\\n\\x01\\xff\xc3\xa9\"");
    pl_buf_reset(&b);
    query__quote(&b, "abcdefghijklmnop", 16, 10);
    assert_string_equal(pl_buf_cstr(&b), "\"abcdefghij\"");
    pl_buf_reset(&b);
    query__quote_rune(&b, '\'');
    query__quote_rune(&b, 0);
    query__quote_rune(&b, 0x1F600);
    assert_string_equal(pl_buf_cstr(&b), "'\\'''\\x00''\xF0\x9F\x98\x80'");
    pl_buf_fini(&b);
}

static void test_lex_decodes_utf8_like_go(void **state)
{
    size_t w;
    assert_int_equal(query__utf8_decode("\xc3\xa9", 2, &w), 0xE9);
    assert_int_equal(w, 2);
    assert_int_equal(query__utf8_decode("\xc3", 1, &w), 0xFFFD);
    assert_int_equal(w, 1);
    assert_int_equal(query__utf8_decode("\xed\xa0\x80", 3, &w), 0xFFFD); /* surrogate */
    assert_int_equal(w, 1);
    assert_int_equal(query__utf8_decode("\xc0\x80", 2, &w), 0xFFFD); /* overlong */
    assert_int_equal(query__utf8_decode("\xf0\x9f\x98\x80", 4, &w), 0x1F600);
    assert_int_equal(w, 4);
}

int test_lex_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lex_reads_numbers_and_durations),
        cmocka_unit_test(test_lex_reads_keywords_case_insensitively),
        cmocka_unit_test(test_lex_treats_keywords_as_identifiers_inside_braces),
        cmocka_unit_test(test_lex_reads_operators),
        cmocka_unit_test(test_lex_reads_brackets_and_subquery_colon),
        cmocka_unit_test(test_lex_skips_comments),
        cmocka_unit_test(test_lex_reports_errors_at_token_start),
        cmocka_unit_test(test_lex_quote_matches_go),
        cmocka_unit_test(test_lex_decodes_utf8_like_go),
    };
    return cmocka_run_group_tests_name("lex", tests, NULL, NULL);
}
