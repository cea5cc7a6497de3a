/*
 * lex.h - the PromQL lexer (Prometheus 2.42 promql/parser/lex.go semantics).
 *
 * A pull lexer: query_lex_next hands out one token at a time. Like
 * Prometheus's, it is a small state machine (statements, inside braces,
 * duration after '[') that tracks open parentheses, braces and brackets, so
 * that errors such as "unclosed left parenthesis" or "unexpected character
 * inside braces: '~'" come from the lexer with Prometheus's wording and
 * position. Comments (# to end of line) are skipped. Private to query/.
 */
#ifndef QUERY_LEX_H
#define QUERY_LEX_H

#include <stddef.h>
#include <stdint.h>

enum query_tok {
    QUERY_T_EOF,
    QUERY_T_ERROR, /* the lexer's message is in query_lexer.errmsg */
    QUERY_T_IDENT,
    QUERY_T_METRIC_IDENT, /* an identifier containing ':' */
    QUERY_T_NUMBER,
    QUERY_T_STRING, /* text includes the quotes */
    QUERY_T_DURATION,
    QUERY_T_LPAREN,
    QUERY_T_RPAREN,
    QUERY_T_LBRACE,
    QUERY_T_RBRACE,
    QUERY_T_LBRACKET,
    QUERY_T_RBRACKET,
    QUERY_T_COMMA,
    QUERY_T_EQL, /* = */
    QUERY_T_COLON,
    QUERY_T_AT,
    /* operators */
    QUERY_T_OPS_START,
    QUERY_T_ADD = QUERY_T_OPS_START,
    QUERY_T_SUB,
    QUERY_T_MUL,
    QUERY_T_DIV,
    QUERY_T_MOD,
    QUERY_T_POW,
    QUERY_T_EQLC, /* == */
    QUERY_T_NEQ,
    QUERY_T_LTE,
    QUERY_T_LSS,
    QUERY_T_GTE,
    QUERY_T_GTR,
    QUERY_T_EQL_REGEX,
    QUERY_T_NEQ_REGEX,
    QUERY_T_LAND,
    QUERY_T_LOR,
    QUERY_T_LUNLESS,
    QUERY_T_ATAN2,
    QUERY_T_OPS_END = QUERY_T_ATAN2,
    /* aggregators */
    QUERY_T_AGG_START,
    QUERY_T_AVG = QUERY_T_AGG_START,
    QUERY_T_BOTTOMK,
    QUERY_T_COUNT,
    QUERY_T_COUNT_VALUES,
    QUERY_T_GROUP,
    QUERY_T_MAX,
    QUERY_T_MIN,
    QUERY_T_QUANTILE,
    QUERY_T_STDDEV,
    QUERY_T_STDVAR,
    QUERY_T_SUM,
    QUERY_T_TOPK,
    QUERY_T_AGG_END = QUERY_T_TOPK,
    /* keywords */
    QUERY_T_KW_START,
    QUERY_T_BOOL = QUERY_T_KW_START,
    QUERY_T_BY,
    QUERY_T_GROUP_LEFT,
    QUERY_T_GROUP_RIGHT,
    QUERY_T_IGNORING,
    QUERY_T_OFFSET,
    QUERY_T_ON,
    QUERY_T_WITHOUT,
    QUERY_T_KW_END = QUERY_T_WITHOUT,
    /* preprocessors, only meaningful after '@' */
    QUERY_T_START,
    QUERY_T_END,
};

struct query_token {
    enum query_tok type;
    uint32_t pos; /* byte offset of the first byte */
    uint32_t len;
};

enum query_lex_state {
    QUERY_LEX_STATEMENTS,
    QUERY_LEX_BRACES,
    QUERY_LEX_DURATION,
    QUERY_LEX_DONE,
};

struct query_lexer {
    const char *in; /* borrowed */
    size_t n;
    size_t pos;   /* next byte to read */
    size_t start; /* start of the token being read */
    size_t width; /* width of the last rune read, for backup */
    enum query_lex_state state;
    int paren_depth;
    int brace_open, bracket_open, got_colon;
    int string_open; /* quote rune of the string being read */
    /* For QUERY_T_ERROR: the message and the offset it refers to. */
    char errmsg[256];
    uint32_t errpos;
};

void query__lex_init(struct query_lexer *l, const char *in, size_t n);
/* The next token; after QUERY_T_EOF or QUERY_T_ERROR it keeps returning EOF. */
struct query_token query__lex_next(struct query_lexer *l);

/*
 * Appends Go's %q quoting of s[0..n) to out (strconv.Quote: escapes '"', '\\',
 * control and non-printable characters and invalid UTF-8). With max_runes > 0
 * only that many runes are quoted (Go's %.10q).
 */
struct pl_buf;
int query__quote(struct pl_buf *out, const char *s, size_t n, size_t max_runes);
/* Go's %q for a single rune ('x', '\n', '\x00'). */
int query__quote_rune(struct pl_buf *out, int32_t r);
/* Decodes one UTF-8 rune at s[0..n); invalid input gives 0xFFFD, width 1. */
int32_t query__utf8_decode(const char *s, size_t n, size_t *width);

#endif
