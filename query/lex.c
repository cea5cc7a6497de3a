/*
 * lex.c - the PromQL lexer, following the states and error texts of
 * Prometheus 2.42 (promql/parser/lex.go; grammar at
 * https://prometheus.io/docs/prometheus/latest/querying/basics/).
 *
 * The input is read rune by rune (UTF-8; an invalid byte reads as U+FFFD of
 * width 1, as Go does) so that error messages quote the same characters.
 * An error position is the start of the token being read when the error was
 * found, which is what Prometheus reports.
 */
#include "query/lex.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"

#define EOF_RUNE   (-1)
#define RUNE_ERROR 0xFFFD

int32_t query__utf8_decode(const char *s, size_t n, size_t *width)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n == 0) {
        *width = 0;
        return EOF_RUNE;
    }
    unsigned c = p[0];
    if (c < 0x80) {
        *width = 1;
        return (int32_t)c;
    }
    size_t need;
    uint32_t r, min;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        r = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        r = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        r = c & 0x07;
        min = 0x10000;
    } else {
        *width = 1;
        return RUNE_ERROR;
    }
    if (n < need + 1) {
        *width = 1;
        return RUNE_ERROR;
    }
    for (size_t i = 1; i <= need; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *width = 1;
            return RUNE_ERROR;
        }
        r = (r << 6) | (p[i] & 0x3F);
    }
    if (r < min || r > 0x10FFFF || (r >= 0xD800 && r < 0xE000)) {
        *width = 1;
        return RUNE_ERROR;
    }
    *width = need + 1;
    return (int32_t)r;
}

/* Go's unicode.IsPrint, approximated without tables: what is surely not printable is escaped. */
static int rune_printable(int32_t r)
{
    if (r < 0x20 || r == 0x7F)
        return 0;
    if (r < 0x7F)
        return 1;
    if (r < 0xA0 || r == 0xAD)
        return 0;
    if ((r >= 0x2000 && r <= 0x200F) || (r >= 0x2028 && r <= 0x202F) ||
        (r >= 0x205F && r <= 0x206F) || r == 0x3000 || r == 0xFEFF || r == 0xA0)
        return 0;
    if ((r >= 0xE000 && r <= 0xF8FF) || (r & 0xFFFE) == 0xFFFE || r >= 0xF0000)
        return 0;
    /* Format characters (category Cf), which Go escapes. */
    if ((r >= 0x600 && r <= 0x605) || r == 0x61C || r == 0x6DD || r == 0x70F || r == 0x8E2 ||
        r == 0x180E || (r >= 0xFFF9 && r <= 0xFFFB) || r == 0x110BD || r == 0x110CD ||
        (r >= 0x13430 && r <= 0x13438) || (r >= 0x1BCA0 && r <= 0x1BCA3) ||
        (r >= 0x1D173 && r <= 0x1D17A) || (r >= 0xE0000 && r <= 0xE00FF))
        return 0;
    /* Large unassigned blocks of Unicode 13 (Go 1.19, which built Prometheus 2.42). */
    if ((r >= 0x18D09 && r <= 0x1AFFF) || (r >= 0x1B11F && r <= 0x1B14F) ||
        (r >= 0x1B2FC && r <= 0x1BBFF) || (r >= 0x1BCA4 && r <= 0x1CFFF) ||
        (r >= 0x2A6DE && r <= 0x2A6FF) || (r >= 0x2EBE1 && r <= 0x2F7FF) ||
        (r >= 0x2FA1E && r <= 0x2FFFF) || (r >= 0x3134B && r <= 0xDFFFF) ||
        (r >= 0xE01F0 && r <= 0xEFFFF))
        return 0;
    return 1;
}

static int put_escaped_rune(struct pl_buf *out, int32_t r, int quote)
{
    char tmp[16];
    if (r == quote || r == '\\') {
        tmp[0] = '\\';
        tmp[1] = (char)r;
        return pl_buf_append(out, tmp, 2);
    }
    if (rune_printable(r)) {
        /* Re-encode as UTF-8. */
        size_t k;
        if (r < 0x80) {
            tmp[0] = (char)r;
            k = 1;
        } else if (r < 0x800) {
            tmp[0] = (char)(0xC0 | (r >> 6));
            tmp[1] = (char)(0x80 | (r & 0x3F));
            k = 2;
        } else if (r < 0x10000) {
            tmp[0] = (char)(0xE0 | (r >> 12));
            tmp[1] = (char)(0x80 | ((r >> 6) & 0x3F));
            tmp[2] = (char)(0x80 | (r & 0x3F));
            k = 3;
        } else {
            tmp[0] = (char)(0xF0 | (r >> 18));
            tmp[1] = (char)(0x80 | ((r >> 12) & 0x3F));
            tmp[2] = (char)(0x80 | ((r >> 6) & 0x3F));
            tmp[3] = (char)(0x80 | (r & 0x3F));
            k = 4;
        }
        return pl_buf_append(out, tmp, k);
    }
    switch (r) {
    case '\a':
        return pl_buf_puts(out, "\\a");
    case '\b':
        return pl_buf_puts(out, "\\b");
    case '\f':
        return pl_buf_puts(out, "\\f");
    case '\n':
        return pl_buf_puts(out, "\\n");
    case '\r':
        return pl_buf_puts(out, "\\r");
    case '\t':
        return pl_buf_puts(out, "\\t");
    case '\v':
        return pl_buf_puts(out, "\\v");
    default:
        break;
    }
    if (r < ' ' || r == 0x7F)
        snprintf(tmp, sizeof(tmp), "\\x%02x", (unsigned)r);
    else if (r < 0x10000)
        snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned)r);
    else
        snprintf(tmp, sizeof(tmp), "\\U%08x", (unsigned)r);
    return pl_buf_puts(out, tmp);
}

int query__quote(struct pl_buf *out, const char *s, size_t n, size_t max_runes)
{
    int rc = pl_buf_putc(out, '"');
    size_t i = 0, runes = 0;
    while (rc == 0 && i < n && (max_runes == 0 || runes < max_runes)) {
        size_t w;
        int32_t r = query__utf8_decode(s + i, n - i, &w);
        if (r == RUNE_ERROR && w == 1) {
            char tmp[8];
            snprintf(tmp, sizeof(tmp), "\\x%02x", (unsigned char)s[i]);
            rc = pl_buf_puts(out, tmp);
        } else if (r == RUNE_ERROR) {
            /* A real U+FFFD: Go prints it raw, but the lexer (as Prometheus's) rejects a raw
             * U+FFFD as an invalid rune, so the printed query would not parse again. */
            rc = pl_buf_puts(out, "\\ufffd");
        } else {
            rc = put_escaped_rune(out, r, '"');
        }
        i += w;
        runes++;
    }
    if (rc == 0)
        rc = pl_buf_putc(out, '"');
    return rc;
}

int query__quote_rune(struct pl_buf *out, int32_t r)
{
    int rc = pl_buf_putc(out, '\'');
    if (rc == 0) {
        if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r < 0xE000))
            r = RUNE_ERROR;
        rc = put_escaped_rune(out, r, '\'');
    }
    if (rc == 0)
        rc = pl_buf_putc(out, '\'');
    return rc;
}

/* ---- reading runes ---- */

static int32_t next(struct query_lexer *l)
{
    if (l->pos >= l->n) {
        l->width = 0;
        return EOF_RUNE;
    }
    size_t w;
    int32_t r = query__utf8_decode(l->in + l->pos, l->n - l->pos, &w);
    l->width = w;
    l->pos += w;
    return r;
}

static void backup(struct query_lexer *l)
{
    l->pos -= l->width;
}

static int32_t peek(struct query_lexer *l)
{
    int32_t r = next(l);
    backup(l);
    return r;
}

static int accept(struct query_lexer *l, const char *valid)
{
    int32_t r = next(l);
    if (r > 0 && r < 0x80 && strchr(valid, (int)r))
        return 1;
    backup(l);
    return 0;
}

static void accept_run(struct query_lexer *l, const char *valid)
{
    while (accept(l, valid))
        ;
}

static int is_space(int32_t r)
{
    return r == ' ' || r == '\t' || r == '\n' || r == '\r';
}

static int is_alpha(int32_t r)
{
    return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
}

static int is_digit(int32_t r)
{
    return r >= '0' && r <= '9';
}

static int is_alnum(int32_t r)
{
    return is_alpha(r) || is_digit(r);
}

/* ---- producing tokens ---- */

static struct query_token emit(struct query_lexer *l, enum query_tok t)
{
    struct query_token tok = {t, (uint32_t)l->start, (uint32_t)(l->pos - l->start)};
    l->start = l->pos;
    return tok;
}

static struct query_token errorf(struct query_lexer *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static struct query_token errorf(struct query_lexer *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->errmsg, sizeof(l->errmsg), fmt, ap);
    va_end(ap);
    l->errpos = (uint32_t)l->start;
    l->state = QUERY_LEX_DONE;
    struct query_token tok = {QUERY_T_ERROR, (uint32_t)l->start, 0};
    return tok;
}

/* An error whose message ends with a quoted rune ("unexpected character: '~'"). */
static struct query_token error_rune(struct query_lexer *l, const char *prefix, int32_t r)
{
    struct pl_buf b;
    pl_buf_init(&b, 64);
    query__quote_rune(&b, r);
    struct query_token t = errorf(l, "%s%s", prefix, pl_buf_cstr(&b));
    pl_buf_fini(&b);
    return t;
}

/* Go's %#U: U+0071 'q' (the quoted form only for printable runes). */
static struct query_token error_rune_u(struct query_lexer *l, const char *before, const char *after,
                                       int32_t r)
{
    struct pl_buf b;
    pl_buf_init(&b, 64);
    if (r == EOF_RUNE)
        r = RUNE_ERROR;
    pl_buf_printf(&b, "U+%04X", (unsigned)r);
    if (rune_printable(r)) {
        pl_buf_puts(&b, " '");
        /* The rune was just read from the input, so its bytes are still there. */
        if (r == RUNE_ERROR)
            pl_buf_puts(&b, "\xEF\xBF\xBD");
        else
            pl_buf_append(&b, l->in + l->pos - l->width, l->width);
        pl_buf_putc(&b, '\'');
    }
    struct query_token t = errorf(l, "%s%s%s", before, pl_buf_cstr(&b), after);
    pl_buf_fini(&b);
    return t;
}

static void skip_line_comment(struct query_lexer *l)
{
    while (l->pos < l->n && l->in[l->pos] != '\n')
        l->pos++;
    l->start = l->pos;
}

static int scan_number(struct query_lexer *l)
{
    const char *digits = "0123456789";
    if (accept(l, "0") && accept(l, "xX"))
        digits = "0123456789abcdefABCDEF";
    accept_run(l, digits);
    if (accept(l, "."))
        accept_run(l, digits);
    if (accept(l, "eE")) {
        accept(l, "+-");
        accept_run(l, "0123456789");
    }
    return !is_alnum(peek(l));
}

static int accept_remaining_duration(struct query_lexer *l)
{
    if (!accept(l, "smhdwy"))
        return 0;
    accept(l, "s"); /* ms */
    while (accept(l, "0123456789")) {
        while (accept(l, "0123456789"))
            ;
        if (!accept(l, "smhdw"))
            return 0;
        accept(l, "s");
    }
    return !is_alnum(next(l));
}

static struct query_token lex_number_or_duration(struct query_lexer *l)
{
    if (scan_number(l))
        return emit(l, QUERY_T_NUMBER);
    if (accept_remaining_duration(l)) {
        backup(l);
        return emit(l, QUERY_T_DURATION);
    }
    return errorf(l, "bad number or duration syntax: \"%.*s\"", (int)(l->pos - l->start),
                  l->in + l->start);
}

static struct query_token lex_duration(struct query_lexer *l)
{
    l->state = QUERY_LEX_STATEMENTS;
    if (scan_number(l))
        return errorf(l, "missing unit character in duration");
    if (!accept_remaining_duration(l))
        return errorf(l, "bad duration syntax: \"%.*s\"", (int)(l->pos - l->start),
                      l->in + l->start);
    backup(l);
    return emit(l, QUERY_T_DURATION);
}

static int digit_val(int32_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 16;
}

/*
 * Checks one escape sequence after a backslash. Returns 0, or -1 with the
 * error recorded (the caller reports it at the string's start).
 */
static int lex_escape(struct query_lexer *l, struct query_token *err)
{
    int n;
    uint32_t base, max;
    int32_t ch = next(l);
    switch (ch) {
    case 'a':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
    case 'v':
    case '\\':
        return 0;
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
        n = 3;
        base = 8;
        max = 255;
        break;
    case 'x':
        ch = next(l);
        n = 2;
        base = 16;
        max = 255;
        break;
    case 'u':
        ch = next(l);
        n = 4;
        base = 16;
        max = 0x10FFFF;
        break;
    case 'U':
        ch = next(l);
        n = 8;
        base = 16;
        max = 0x10FFFF;
        break;
    case EOF_RUNE:
        *err = errorf(l, "escape sequence not terminated");
        return -1;
    default:
        if (ch == l->string_open)
            return 0;
        *err = error_rune_u(l, "unknown escape sequence ", "", ch);
        return -1;
    }
    uint32_t x = 0;
    while (n > 0) {
        uint32_t d = (uint32_t)digit_val(ch);
        if (ch < 0 || d >= base) {
            if (ch == EOF_RUNE) {
                *err = errorf(l, "escape sequence not terminated");
                return -1;
            }
            *err = error_rune_u(l, "illegal character ", " in escape sequence", ch);
            return -1;
        }
        x = x * base + d;
        n--;
        if (n > 0)
            ch = next(l);
    }
    if (x > max || (x >= 0xD800 && x < 0xE000)) {
        *err = errorf(l, "escape sequence is an invalid Unicode code point");
        return -1;
    }
    return 0;
}

static struct query_token lex_string(struct query_lexer *l)
{
    for (;;) {
        int32_t r = next(l);
        if (r == '\\') {
            struct query_token err;
            if (lex_escape(l, &err) < 0)
                return err;
        } else if (r == RUNE_ERROR) {
            return errorf(l, "invalid UTF-8 rune");
        } else if (r == EOF_RUNE || r == '\n') {
            return errorf(l, "unterminated quoted string");
        } else if (r == l->string_open) {
            break;
        }
    }
    return emit(l, QUERY_T_STRING);
}

static struct query_token lex_raw_string(struct query_lexer *l)
{
    for (;;) {
        int32_t r = next(l);
        if (r == RUNE_ERROR)
            return errorf(l, "invalid UTF-8 rune");
        if (r == EOF_RUNE)
            return errorf(l, "unterminated raw string");
        if (r == l->string_open)
            break;
    }
    return emit(l, QUERY_T_STRING);
}

struct keyword {
    const char *word;
    enum query_tok tok;
};

static const struct keyword keywords[] = {
    {"and", QUERY_T_LAND},
    {"or", QUERY_T_LOR},
    {"unless", QUERY_T_LUNLESS},
    {"atan2", QUERY_T_ATAN2},
    {"sum", QUERY_T_SUM},
    {"avg", QUERY_T_AVG},
    {"count", QUERY_T_COUNT},
    {"min", QUERY_T_MIN},
    {"max", QUERY_T_MAX},
    {"group", QUERY_T_GROUP},
    {"stddev", QUERY_T_STDDEV},
    {"stdvar", QUERY_T_STDVAR},
    {"topk", QUERY_T_TOPK},
    {"bottomk", QUERY_T_BOTTOMK},
    {"count_values", QUERY_T_COUNT_VALUES},
    {"quantile", QUERY_T_QUANTILE},
    {"offset", QUERY_T_OFFSET},
    {"by", QUERY_T_BY},
    {"without", QUERY_T_WITHOUT},
    {"on", QUERY_T_ON},
    {"ignoring", QUERY_T_IGNORING},
    {"group_left", QUERY_T_GROUP_LEFT},
    {"group_right", QUERY_T_GROUP_RIGHT},
    {"bool", QUERY_T_BOOL},
    {"start", QUERY_T_START},
    {"end", QUERY_T_END},
    {"inf", QUERY_T_NUMBER},
    {"nan", QUERY_T_NUMBER},
};

static int word_ieq(const char *w, size_t n, const char *kw)
{
    size_t k = strlen(kw);
    if (k != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = w[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != kw[i])
            return 0;
    }
    return 1;
}

static struct query_token lex_keyword_or_identifier(struct query_lexer *l)
{
    for (;;) {
        int32_t r = next(l);
        if (!(is_alnum(r) || r == ':')) {
            backup(l);
            break;
        }
    }
    const char *w = l->in + l->start;
    size_t n = l->pos - l->start;
    /* Keywords (and Inf/NaN) are matched case-insensitively and have no ':'. */
    if (n <= 12) {
        for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
            if (word_ieq(w, n, keywords[i].word))
                return emit(l, keywords[i].tok);
    }
    if (memchr(w, ':', n))
        return emit(l, QUERY_T_METRIC_IDENT);
    return emit(l, QUERY_T_IDENT);
}

static struct query_token lex_inside_braces(struct query_lexer *l)
{
    for (;;) {
        if (l->pos < l->n && l->in[l->pos] == '#') {
            skip_line_comment(l);
            continue;
        }
        int32_t r = next(l);
        if (r == EOF_RUNE)
            return errorf(l, "unexpected end of input inside braces");
        if (is_space(r)) {
            l->start = l->pos;
            continue;
        }
        if (is_alpha(r)) {
            while (is_alnum(peek(l)))
                next(l);
            return emit(l, QUERY_T_IDENT);
        }
        switch (r) {
        case ',':
            return emit(l, QUERY_T_COMMA);
        case '"':
        case '\'':
            l->string_open = r;
            return lex_string(l);
        case '`':
            l->string_open = r;
            return lex_raw_string(l);
        case '=':
            if (next(l) == '~')
                return emit(l, QUERY_T_EQL_REGEX);
            backup(l);
            return emit(l, QUERY_T_EQL);
        case '!': {
            int32_t nr = next(l);
            if (nr == '~')
                return emit(l, QUERY_T_NEQ_REGEX);
            if (nr == '=')
                return emit(l, QUERY_T_NEQ);
            return error_rune(l, "unexpected character after '!' inside braces: ", nr);
        }
        case '{':
            return error_rune(l, "unexpected left brace ", r);
        case '}':
            l->brace_open = 0;
            l->state = QUERY_LEX_STATEMENTS;
            return emit(l, QUERY_T_RBRACE);
        default:
            return error_rune(l, "unexpected character inside braces: ", r);
        }
    }
}

static struct query_token lex_statements(struct query_lexer *l)
{
    for (;;) {
        if (l->pos < l->n && l->in[l->pos] == '#') {
            skip_line_comment(l);
            continue;
        }
        int32_t r = next(l);
        if (r == EOF_RUNE) {
            if (l->paren_depth != 0)
                return errorf(l, "unclosed left parenthesis");
            if (l->bracket_open)
                return errorf(l, "unclosed left bracket");
            l->state = QUERY_LEX_DONE;
            return emit(l, QUERY_T_EOF);
        }
        if (is_space(r)) {
            l->start = l->pos;
            continue;
        }
        switch (r) {
        case ',':
            return emit(l, QUERY_T_COMMA);
        case '*':
            return emit(l, QUERY_T_MUL);
        case '/':
            return emit(l, QUERY_T_DIV);
        case '%':
            return emit(l, QUERY_T_MOD);
        case '+':
            return emit(l, QUERY_T_ADD);
        case '-':
            return emit(l, QUERY_T_SUB);
        case '^':
            return emit(l, QUERY_T_POW);
        case '=': {
            int32_t t = peek(l);
            if (t == '=') {
                next(l);
                return emit(l, QUERY_T_EQLC);
            }
            if (t == '~')
                return error_rune(l, "unexpected character after '=': ", t);
            return emit(l, QUERY_T_EQL);
        }
        case '!': {
            int32_t t = next(l);
            if (t == '=')
                return emit(l, QUERY_T_NEQ);
            return error_rune(l, "unexpected character after '!': ", t);
        }
        case '<':
            if (peek(l) == '=') {
                next(l);
                return emit(l, QUERY_T_LTE);
            }
            return emit(l, QUERY_T_LSS);
        case '>':
            if (peek(l) == '=') {
                next(l);
                return emit(l, QUERY_T_GTE);
            }
            return emit(l, QUERY_T_GTR);
        case '"':
        case '\'':
            l->string_open = r;
            return lex_string(l);
        case '`':
            l->string_open = r;
            return lex_raw_string(l);
        case '(':
            l->paren_depth++;
            return emit(l, QUERY_T_LPAREN);
        case ')': {
            struct query_token t = emit(l, QUERY_T_RPAREN);
            l->paren_depth--;
            if (l->paren_depth < 0)
                return error_rune(l, "unexpected right parenthesis ", r);
            return t;
        }
        case '{':
            l->brace_open = 1;
            l->state = QUERY_LEX_BRACES;
            return emit(l, QUERY_T_LBRACE);
        case '[': {
            if (l->bracket_open)
                return error_rune(l, "unexpected left bracket ", r);
            l->got_colon = 0;
            struct query_token t = emit(l, QUERY_T_LBRACKET);
            while (is_space(peek(l)))
                next(l);
            l->start = l->pos;
            l->bracket_open = 1;
            l->state = QUERY_LEX_DURATION;
            return t;
        }
        case ']':
            if (!l->bracket_open)
                return error_rune(l, "unexpected right bracket ", r);
            l->bracket_open = 0;
            return emit(l, QUERY_T_RBRACKET);
        case '@':
            return emit(l, QUERY_T_AT);
        default:
            break;
        }
        if (is_digit(r) || (r == '.' && is_digit(peek(l)))) {
            backup(l);
            return lex_number_or_duration(l);
        }
        if (is_alpha(r) || r == ':') {
            if (!l->bracket_open) {
                backup(l);
                return lex_keyword_or_identifier(l);
            }
            /* Inside brackets any word character reads as the subquery colon. */
            if (l->got_colon)
                return error_rune(l, "unexpected colon ", r);
            l->got_colon = 1;
            return emit(l, QUERY_T_COLON);
        }
        return error_rune(l, "unexpected character: ", r);
    }
}

void query__lex_init(struct query_lexer *l, const char *in, size_t n)
{
    memset(l, 0, sizeof(*l));
    l->in = in;
    l->n = n;
    l->state = QUERY_LEX_STATEMENTS;
}

struct query_token query__lex_next(struct query_lexer *l)
{
    switch (l->state) {
    case QUERY_LEX_STATEMENTS:
        return lex_statements(l);
    case QUERY_LEX_BRACES:
        return lex_inside_braces(l);
    case QUERY_LEX_DURATION:
        return lex_duration(l);
    case QUERY_LEX_DONE:
    default:
        break;
    }
    struct query_token eof = {QUERY_T_EOF, (uint32_t)l->n, 0};
    return eof;
}
