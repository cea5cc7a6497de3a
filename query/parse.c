/*
 * parse.c - the PromQL parser: text to the tree of query/ast.h, with the
 * grammar, precedence, error texts and type checks of Prometheus 2.42
 * (promql/parser/generated_parser.y and parse.go;
 * https://prometheus.io/docs/prometheus/latest/querying/basics/ and
 * .../operators/#binary-operator-precedence).
 *
 * A recursive-descent parser with precedence climbing for the binary
 * operators. Prometheus's yacc grammar resolves the same constructs with
 * precedence declarations; the correspondence is:
 *   - `or` < `and`/`unless` < comparisons < `+ -` < `* / % atan2` < `^`,
 *     all left-associative except `^`;
 *   - unary `+`/`-` has the precedence of `*`, so it binds tighter than every
 *     binary operator but `^` (-2^2 == -4);
 *   - the postfix forms `[range]`, `[range:step]`, `offset d` and `@ t` bind
 *     tightest and apply to the operand just before them.
 * Like Prometheus, only the first error is reported. Errors found while
 * reading (syntax, bad numbers or durations, regexes, unknown functions,
 * misplaced modifiers) come in reading order; the type checks run over the
 * finished tree in Prometheus's order (children before parents, left before
 * right).
 *
 * Depth: every recursion (parentheses, arguments, operands) and the height
 * of the tree are capped at QUERY_PARSE_MAX_DEPTH, so neither this file nor
 * the evaluator walking the tree can overflow the stack. Left-nested chains
 * (`a + b + c ...`) are built iteratively.
 */
#include "query/ast.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/timeutil.h"
#include "query/lex.h"
#include "query/parse_int.h"

/*
 * Helpers with large locals (messages, struct pl_err) stay out of line so that
 * the frames of the recursive path (parse_expr, parse_unary, parse_primary,
 * call and aggregation arguments) stay small: about 200 bytes a level.
 */
#define NOINLINE __attribute__((noinline))

/* Longest query text accepted; positions are 32-bit. */
#define MAX_QUERY_LEN (64u << 20)

struct parser {
    struct query_lexer lx;
    const char *in;
    size_t n;
    struct query_token tok; /* lookahead, valid when have_tok */
    int have_tok;
    uint32_t last_end; /* end offset of the last consumed token */
    struct query_expr *e;
    struct query_parse_err *err;
    int failed;
    int depth;
    int agg_depth; /* inside an aggregation's arguments: generic errors say "in aggregation" */
};

/* ---- errors ---- */

static NOINLINE void set_err_pos(struct parser *p, uint32_t pos)
{
    int line = 1;
    size_t last_nl = (size_t)-1;
    if (pos > p->n)
        pos = (uint32_t)p->n;
    for (size_t i = 0; i < pos; i++) {
        if (p->in[i] == '\n') {
            line++;
            last_nl = i;
        }
    }
    p->err->line = line;
    p->err->col = (int)(pos - (last_nl + 1)) + 1;
    p->err->offset = pos;
}

static void fail(struct parser *p, uint32_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct parser *p, uint32_t pos, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
    va_end(ap);
    set_err_pos(p, pos);
}

/* ---- tokens ---- */

static struct query_token peek_tok(struct parser *p)
{
    if (!p->have_tok) {
        p->tok = query__lex_next(&p->lx);
        p->have_tok = 1;
        if (p->tok.type == QUERY_T_ERROR)
            fail(p, p->lx.errpos, "%s", p->lx.errmsg);
    }
    return p->tok;
}

static enum query_tok peek_type(struct parser *p)
{
    return peek_tok(p).type;
}

static struct query_token consume(struct parser *p)
{
    struct query_token t = peek_tok(p);
    p->have_tok = 0;
    p->last_end = t.pos + t.len;
    return t;
}

static const char *tok_text(struct parser *p, struct query_token t)
{
    return p->in + t.pos;
}

static int is_op(enum query_tok t)
{
    return t >= QUERY_T_OPS_START && t <= QUERY_T_OPS_END;
}

static int is_agg(enum query_tok t)
{
    return t >= QUERY_T_AGG_START && t <= QUERY_T_AGG_END;
}

static int is_keyword(enum query_tok t)
{
    return t >= QUERY_T_KW_START && t <= QUERY_T_KW_END;
}

/* Prometheus's Item.desc(): how an unexpected token is named in messages. */
static NOINLINE void tok_desc(struct parser *p, struct query_token t, struct pl_buf *b)
{
    const char *s = tok_text(p, t);
    switch (t.type) {
    case QUERY_T_EOF:
        pl_buf_puts(b, "end of input");
        return;
    case QUERY_T_IDENT:
        pl_buf_puts(b, "identifier ");
        query__quote(b, s, t.len, 0);
        return;
    case QUERY_T_METRIC_IDENT:
        pl_buf_puts(b, "metric identifier ");
        query__quote(b, s, t.len, 0);
        return;
    case QUERY_T_NUMBER:
    case QUERY_T_STRING:
    case QUERY_T_DURATION:
        pl_buf_puts(b, t.type == QUERY_T_NUMBER   ? "number "
                       : t.type == QUERY_T_STRING ? "string "
                                                  : "duration ");
        if (t.len > 10) {
            query__quote(b, s, t.len, 10);
            pl_buf_puts(b, "...");
        } else {
            query__quote(b, s, t.len, 0);
        }
        return;
    default:
        break;
    }
    if (t.type == QUERY_T_AT)
        pl_buf_puts(b, "\"<Item 57385>\" <op:@>"); /* sic: Prometheus 2.42 names '@' so */
    else if (is_op(t.type))
        pl_buf_printf(b, "<op:%.*s>", (int)t.len, s);
    else if (is_agg(t.type))
        pl_buf_printf(b, "<aggr:%.*s>", (int)t.len, s);
    else if (is_keyword(t.type))
        pl_buf_printf(b, "<%.*s>", (int)t.len, s);
    else
        query__quote(b, s, t.len, 0);
}

/* "unexpected <token>[ in <context>][, expected <expected>]" at the lookahead. */
static NOINLINE void unexpected(struct parser *p, const char *context, const char *expected)
{
    struct query_token t = peek_tok(p);
    if (p->failed)
        return; /* a lexer error is reported once, as itself */
    struct pl_buf b;
    pl_buf_init(&b, 400);
    pl_buf_puts(&b, "unexpected ");
    tok_desc(p, t, &b);
    /* Prometheus's grammar catches errors anywhere inside an aggregation's arguments. */
    if (!context && p->agg_depth > 0)
        context = "aggregation";
    if (context)
        pl_buf_printf(&b, " in %s", context);
    if (expected)
        pl_buf_printf(&b, ", expected %s", expected);
    fail(p, t.pos, "%s", pl_buf_cstr(&b));
    pl_buf_fini(&b);
}

/* ---- allocation ---- */

static struct query_node *new_node(struct parser *p, enum query_node_kind kind, uint32_t start)
{
    struct query_node *n = pl_arena_calloc(&p->e->arena, sizeof(*n));
    n->kind = kind;
    n->pos.start = start;
    n->pos.end = p->last_end;
    return n;
}

/* A growable array of pointers in the arena (doubling; the old copies stay until the tree dies). */
struct ptrvec {
    void **v;
    size_t n, cap;
};

static void ptrvec_push(struct parser *p, struct ptrvec *pv, void *x)
{
    if (pv->n == pv->cap) {
        size_t nc = pv->cap ? pv->cap * 2 : 4;
        void **nv = pl_arena_alloc(&p->e->arena, nc * sizeof(*nv));
        if (pv->n)
            memcpy(nv, pv->v, pv->n * sizeof(*nv));
        pv->v = nv;
        pv->cap = nc;
    }
    pv->v[pv->n++] = x;
}

static NOINLINE void own_matcher(struct parser *p, struct tsdb_matcher *m)
{
    struct query_expr *e = p->e;
    if (e->nowned == e->owned_cap) {
        e->owned_cap = e->owned_cap ? e->owned_cap * 2 : 8;
        e->owned_matchers =
            pl_xreallocarray(e->owned_matchers, e->owned_cap, sizeof(*e->owned_matchers));
    }
    e->owned_matchers[e->nowned++] = m;
}

/* ---- numbers, strings, durations ---- */

static int all_in(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(set, s[i]))
            return 0;
    return 1;
}

/* Go's strconv.ParseInt(s, 0, 64) for the forms the lexer produces. 1 when it applies. */
static int go_parse_int(const char *s, size_t n, double *v)
{
    unsigned base = 10;
    size_t i = 0;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
        if (n == 2 || !all_in(s + 2, n - 2, "0123456789abcdefABCDEF"))
            return 0;
    } else if (n >= 2 && s[0] == '0') {
        base = 8;
        i = 1;
        if (!all_in(s + 1, n - 1, "01234567"))
            return 0;
    } else if (n == 0 || !all_in(s, n, "0123456789")) {
        return 0;
    }
    uint64_t acc = 0;
    for (; i < n; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                            : (unsigned)(c - 'A' + 10);
        if (acc > (UINT64_MAX - d) / base)
            return 0;
        acc = acc * base + d;
    }
    if (acc > (uint64_t)INT64_MAX)
        return 0;
    *v = (double)(int64_t)acc;
    return 1;
}

int query__parse_number(const char *s, size_t n, double *v, char *msg, size_t msglen)
{
    if (n == 3 && (s[0] | 0x20) == 'i' && (s[1] | 0x20) == 'n' && (s[2] | 0x20) == 'f') {
        *v = INFINITY;
        return 0;
    }
    if (n == 3 && (s[0] | 0x20) == 'n' && (s[1] | 0x20) == 'a' && (s[2] | 0x20) == 'n') {
        *v = NAN;
        return 0;
    }
    if (go_parse_int(s, n, v))
        return 0;
    /* Go's ParseFloat, decimal form only: digits [. digits] [e [+-] digits]. */
    size_t i = 0, mant = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, mant++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, mant++;
    }
    int ok = mant > 0;
    if (ok && i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t ed = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, ed++;
        ok = ed > 0;
    }
    if (!ok || i != n) {
        snprintf(msg, msglen, "strconv.ParseFloat: parsing \"%.*s\": invalid syntax", (int)n, s);
        return PL_ERR_INVALID;
    }
    char buf[512];
    char *tmp = n < sizeof(buf) ? buf : pl_xmalloc(n + 1);
    memcpy(tmp, s, n);
    tmp[n] = 0;
    errno = 0;
    double d = strtod(tmp, NULL);
    int range = errno == ERANGE && isinf(d);
    if (tmp != buf)
        free(tmp);
    if (range) {
        snprintf(msg, msglen, "strconv.ParseFloat: parsing \"%.*s\": value out of range",
                 (int)(n > 400 ? 400 : n), s);
        return PL_ERR_INVALID;
    }
    *v = d;
    return 0;
}

static void put_utf8(char *out, size_t *k, uint32_t r)
{
    if (r < 0x80) {
        out[(*k)++] = (char)r;
    } else if (r < 0x800) {
        out[(*k)++] = (char)(0xC0 | (r >> 6));
        out[(*k)++] = (char)(0x80 | (r & 0x3F));
    } else if (r < 0x10000) {
        out[(*k)++] = (char)(0xE0 | (r >> 12));
        out[(*k)++] = (char)(0x80 | ((r >> 6) & 0x3F));
        out[(*k)++] = (char)(0x80 | (r & 0x3F));
    } else {
        out[(*k)++] = (char)(0xF0 | (r >> 18));
        out[(*k)++] = (char)(0x80 | ((r >> 12) & 0x3F));
        out[(*k)++] = (char)(0x80 | ((r >> 6) & 0x3F));
        out[(*k)++] = (char)(0x80 | (r & 0x3F));
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int query__unquote(const char *s, size_t n, char **out, size_t *outlen)
{
    if (n < 2 || s[0] != s[n - 1] || (s[0] != '"' && s[0] != '\'' && s[0] != '`'))
        return PL_ERR_INVALID;
    char q = s[0];
    const char *b = s + 1;
    size_t bn = n - 2;
    /* Every escape shrinks or keeps the length (\u0000 is 6 bytes for at most 3). */
    char *o = pl_xmalloc(bn + 1);
    size_t k = 0;
    if (q == '`') {
        memcpy(o, b, bn);
        k = bn;
    } else {
        for (size_t i = 0; i < bn;) {
            char c = b[i];
            if (c == q || c == '\n')
                goto bad;
            if (c != '\\') {
                o[k++] = c;
                i++;
                continue;
            }
            if (i + 1 >= bn)
                goto bad;
            char e = b[i + 1];
            i += 2;
            switch (e) {
            case 'a':
                o[k++] = '\a';
                break;
            case 'b':
                o[k++] = '\b';
                break;
            case 'f':
                o[k++] = '\f';
                break;
            case 'n':
                o[k++] = '\n';
                break;
            case 'r':
                o[k++] = '\r';
                break;
            case 't':
                o[k++] = '\t';
                break;
            case 'v':
                o[k++] = '\v';
                break;
            case '\\':
                o[k++] = '\\';
                break;
            case '\'':
            case '"':
                if (e != q)
                    goto bad;
                o[k++] = e;
                break;
            case 'x':
            case 'u':
            case 'U': {
                size_t nd = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                if (i + nd > bn)
                    goto bad;
                uint32_t r = 0;
                for (size_t j = 0; j < nd; j++) {
                    int h = hexval(b[i + j]);
                    if (h < 0)
                        goto bad;
                    r = r * 16 + (uint32_t)h;
                }
                i += nd;
                if (e == 'x') {
                    o[k++] = (char)r;
                } else {
                    if (r > 0x10FFFF || (r >= 0xD800 && r < 0xE000))
                        goto bad;
                    put_utf8(o, &k, r);
                }
                break;
            }
            default:
                if (e >= '0' && e <= '7') {
                    if (i + 2 > bn)
                        goto bad;
                    uint32_t r = (uint32_t)(e - '0');
                    for (size_t j = 0; j < 2; j++) {
                        char d = b[i + j];
                        if (d < '0' || d > '7')
                            goto bad;
                        r = r * 8 + (uint32_t)(d - '0');
                    }
                    if (r > 255)
                        goto bad;
                    i += 2;
                    o[k++] = (char)r;
                    break;
                }
                goto bad;
            }
        }
    }
    o[k] = 0;
    *out = o;
    *outlen = k;
    return 0;
bad:
    free(o);
    return PL_ERR_INVALID;
}

/* Reads a DURATION token the way Prometheus's parseDuration does (no zero). */
static NOINLINE int64_t parse_duration_tok(struct parser *p, struct query_token t)
{
    struct pl_err perr;
    int64_t ms = 0;
    pl_err_clear(&perr);
    if (pl_duration_parse(tok_text(p, t), t.len, &ms, &perr) != 0) {
        /* Prometheus's overflow message does not quote the duration. */
        if (strncmp(perr.msg, "duration out of range", 21) == 0)
            fail(p, t.pos, "duration out of range");
        else
            fail(p, t.pos, "%s", perr.msg);
        return 0;
    }
    /* Prometheus holds durations in Go's time.Duration: nanoseconds in an int64 (~292 years). */
    if (ms > INT64_MAX / 1000000) {
        fail(p, t.pos, "duration out of range");
        return 0;
    }
    if (ms == 0) {
        fail(p, t.pos, "duration must be greater than 0");
        return 0;
    }
    return ms;
}

/* ---- grammar ---- */

static int starts_expr(enum query_tok t);

static struct query_node *parse_expr(struct parser *p, int min_prec, int *height);

static int enter(struct parser *p)
{
    if (++p->depth > QUERY_PARSE_MAX_DEPTH) {
        struct query_token t = peek_tok(p);
        fail(p, t.pos, "query is nested too deeply (more than %d levels)", QUERY_PARSE_MAX_DEPTH);
        return -1;
    }
    return 0;
}

static void leave(struct parser *p)
{
    p->depth--;
}

static int check_height(struct parser *p, int h, uint32_t pos)
{
    if (h > QUERY_PARSE_MAX_DEPTH) {
        fail(p, pos, "query is nested too deeply (more than %d levels)", QUERY_PARSE_MAX_DEPTH);
        return -1;
    }
    return 0;
}

static int is_label_name(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

/* Tokens Prometheus accepts where a label name is expected (maybe_label). */
static int is_maybe_label(enum query_tok t)
{
    return t == QUERY_T_IDENT || t == QUERY_T_METRIC_IDENT || is_agg(t) || is_keyword(t) ||
           t == QUERY_T_LAND || t == QUERY_T_LOR || t == QUERY_T_LUNLESS || t == QUERY_T_ATAN2 ||
           t == QUERY_T_START || t == QUERY_T_END;
}

/* Tokens that can name a metric at the start of an expression (metric_identifier). */
static int is_metric_identifier(enum query_tok t)
{
    return t == QUERY_T_IDENT || t == QUERY_T_METRIC_IDENT || is_agg(t) || t == QUERY_T_BY ||
           t == QUERY_T_WITHOUT || t == QUERY_T_LAND || t == QUERY_T_LOR || t == QUERY_T_LUNLESS ||
           t == QUERY_T_OFFSET || t == QUERY_T_START || t == QUERY_T_END;
}

/* grouping_labels: "(" [label {"," label} [","]] ")". OUT: arena array and count. */
static NOINLINE int parse_grouping_labels(struct parser *p, const char ***out, size_t *nout)
{
    struct ptrvec v = {0};
    if (peek_type(p) != QUERY_T_LPAREN) {
        unexpected(p, "grouping opts", "\"(\"");
        return -1;
    }
    consume(p);
    if (peek_type(p) == QUERY_T_RPAREN) {
        consume(p);
        *out = NULL;
        *nout = 0;
        return 0;
    }
    for (;;) {
        struct query_token t = peek_tok(p);
        if (p->failed)
            return -1;
        if (!is_maybe_label(t.type) || !is_label_name(tok_text(p, t), t.len)) {
            unexpected(p, "grouping opts", "label");
            return -1;
        }
        consume(p);
        ptrvec_push(p, &v, pl_arena_strndup(&p->e->arena, tok_text(p, t), t.len));
        enum query_tok nt = peek_type(p);
        if (p->failed)
            return -1;
        if (nt == QUERY_T_RPAREN) {
            consume(p);
            break;
        }
        if (nt != QUERY_T_COMMA) {
            unexpected(p, "grouping opts", "\",\" or \")\"");
            return -1;
        }
        consume(p);
        if (peek_type(p) == QUERY_T_RPAREN) {
            consume(p);
            break;
        }
    }
    *out = (const char **)v.v;
    *nout = v.n;
    return 0;
}

/* label_matchers after the "{": IDENT op STRING {"," ...} [","] "}". */
static NOINLINE int parse_label_matchers(struct parser *p, struct ptrvec *ms)
{
    consume(p); /* { */
    for (;;) {
        struct query_token t = peek_tok(p);
        if (p->failed)
            return -1;
        if (t.type == QUERY_T_RBRACE) {
            consume(p);
            return 0;
        }
        if (t.type != QUERY_T_IDENT) {
            unexpected(p, "label matching", "identifier or \"}\"");
            return -1;
        }
        consume(p);
        struct query_token op = peek_tok(p);
        if (p->failed)
            return -1;
        enum tsdb_match_type mt;
        switch (op.type) {
        case QUERY_T_EQL:
            mt = TSDB_MATCH_EQ;
            break;
        case QUERY_T_NEQ:
            mt = TSDB_MATCH_NEQ;
            break;
        case QUERY_T_EQL_REGEX:
            mt = TSDB_MATCH_RE;
            break;
        case QUERY_T_NEQ_REGEX:
            mt = TSDB_MATCH_NRE;
            break;
        default:
            unexpected(p, "label matching", "label matching operator");
            return -1;
        }
        consume(p);
        struct query_token sv = peek_tok(p);
        if (p->failed)
            return -1;
        if (sv.type != QUERY_T_STRING) {
            unexpected(p, "label matching", "string");
            return -1;
        }
        consume(p);
        char *val;
        size_t vlen;
        if (query__unquote(tok_text(p, sv), sv.len, &val, &vlen) != 0) {
            fail(p, sv.pos, "error unquoting string %.*s: invalid syntax", (int)sv.len,
                 tok_text(p, sv));
            return -1;
        }
        char *name = pl_arena_strndup(&p->e->arena, tok_text(p, t), t.len);
        struct tsdb_matcher *m = NULL;
        struct pl_err perr;
        pl_err_clear(&perr);
        int rc = tsdb_matcher_new(mt, name, val, &m, &perr);
        free(val);
        if (rc != 0) {
            fail(p, t.pos, "%s", perr.msg[0] ? perr.msg : pl_err_str(rc));
            return -1;
        }
        own_matcher(p, m);
        ptrvec_push(p, ms, m);
        struct query_token nt = peek_tok(p);
        if (p->failed)
            return -1;
        if (nt.type == QUERY_T_RBRACE) {
            consume(p);
            return 0;
        }
        if (nt.type != QUERY_T_COMMA) {
            unexpected(p, "label matching", "\",\" or \"}\"");
            return -1;
        }
        consume(p);
    }
}

/* vector_selector: [metric_identifier] [label_matchers]. `name` is the consumed name token or NULL.
 */
static NOINLINE struct query_node *
parse_vector_selector(struct parser *p, const struct query_token *name, uint32_t start)
{
    struct ptrvec ms = {0};
    if (peek_type(p) == QUERY_T_LBRACE) {
        if (parse_label_matchers(p, &ms) != 0)
            return NULL;
    }
    if (p->failed)
        return NULL;
    struct query_node *n = new_node(p, QUERY_NODE_VECTOR_SELECTOR, start);
    if (name) {
        n->vs.name = pl_arena_strndup(&p->e->arena, tok_text(p, *name), name->len);
        struct tsdb_matcher *m = NULL;
        struct pl_err perr;
        pl_err_clear(&perr);
        if (tsdb_matcher_new(TSDB_MATCH_EQ, "__name__", n->vs.name, &m, &perr) != 0) {
            fail(p, start, "%s", perr.msg);
            return NULL;
        }
        own_matcher(p, m);
        ptrvec_push(p, &ms, m);
    }
    n->vs.matchers = (struct tsdb_matcher **)ms.v;
    n->vs.nmatchers = ms.n;
    return n;
}

/* function_call_body: "(" [expr {"," expr}] ")". Trailing commas are an error. */
static int parse_call_args(struct parser *p, struct ptrvec *args, int *height)
{
    consume(p); /* ( */
    *height = 0;
    if (peek_type(p) == QUERY_T_RPAREN) {
        consume(p);
        return 0;
    }
    for (;;) {
        int h;
        struct query_node *a = parse_expr(p, 0, &h);
        if (!a)
            return -1;
        if (h > *height)
            *height = h;
        ptrvec_push(p, args, a);
        struct query_token t = peek_tok(p);
        if (p->failed)
            return -1;
        if (t.type == QUERY_T_RPAREN) {
            consume(p);
            return 0;
        }
        if (t.type != QUERY_T_COMMA) {
            unexpected(p, NULL, NULL);
            return -1;
        }
        consume(p);
        enum query_tok nt = peek_type(p);
        /* Prometheus's grammar reduces `args ","` whenever no expression can follow. */
        if (!p->failed && !starts_expr(nt)) {
            fail(p, t.pos, "trailing commas not allowed in function call args");
            return -1;
        }
    }
}

static enum query_aggop agg_of(enum query_tok t)
{
    switch (t) {
    case QUERY_T_AVG:
        return QUERY_AGG_AVG;
    case QUERY_T_BOTTOMK:
        return QUERY_AGG_BOTTOMK;
    case QUERY_T_COUNT:
        return QUERY_AGG_COUNT;
    case QUERY_T_COUNT_VALUES:
        return QUERY_AGG_COUNT_VALUES;
    case QUERY_T_GROUP:
        return QUERY_AGG_GROUP;
    case QUERY_T_MAX:
        return QUERY_AGG_MAX;
    case QUERY_T_MIN:
        return QUERY_AGG_MIN;
    case QUERY_T_QUANTILE:
        return QUERY_AGG_QUANTILE;
    case QUERY_T_STDDEV:
        return QUERY_AGG_STDDEV;
    case QUERY_T_STDVAR:
        return QUERY_AGG_STDVAR;
    case QUERY_T_TOPK:
        return QUERY_AGG_TOPK;
    case QUERY_T_SUM:
    default:
        return QUERY_AGG_SUM;
    }
}

static int agg_has_param(enum query_aggop op)
{
    return op == QUERY_AGG_TOPK || op == QUERY_AGG_BOTTOMK || op == QUERY_AGG_QUANTILE ||
           op == QUERY_AGG_COUNT_VALUES;
}

static int parse_agg_modifier(struct parser *p, struct query_node *n)
{
    struct query_token t = consume(p);
    n->agg.without = t.type == QUERY_T_WITHOUT;
    n->agg.has_grouping = 1;
    return parse_grouping_labels(p, &n->agg.grouping, &n->agg.ngrouping);
}

/* aggregate_expr: op [modifier] "(" args ")" [modifier]. The op token is consumed. */
static struct query_node *parse_aggregate(struct parser *p, struct query_token op, int *height)
{
    struct query_node *n = new_node(p, QUERY_NODE_AGGREGATE, op.pos);
    n->agg.op = agg_of(op.type);
    enum query_tok t = peek_type(p);
    int pre = 0;
    if (t == QUERY_T_BY || t == QUERY_T_WITHOUT) {
        if (parse_agg_modifier(p, n) != 0)
            return NULL;
        pre = 1;
    }
    if (peek_type(p) != QUERY_T_LPAREN) {
        unexpected(p, "aggregation", NULL);
        return NULL;
    }
    struct ptrvec args = {0};
    int h;
    p->agg_depth++;
    int rc = parse_call_args(p, &args, &h);
    p->agg_depth--;
    if (rc != 0)
        return NULL;
    if (!pre) {
        t = peek_type(p);
        if (t == QUERY_T_BY || t == QUERY_T_WITHOUT) {
            if (parse_agg_modifier(p, n) != 0)
                return NULL;
        }
    }
    if (p->failed)
        return NULL;
    n->pos.end = p->last_end;
    if (args.n == 0) {
        fail(p, n->pos.start, "no arguments for aggregate expression provided");
        return NULL;
    }
    size_t want = agg_has_param(n->agg.op) ? 2 : 1;
    if (args.n != want) {
        fail(p, n->pos.start,
             "wrong number of arguments for aggregate expression provided, expected %zu, got %zu",
             want, args.n);
        return NULL;
    }
    if (want == 2)
        n->agg.param = args.v[0];
    n->agg.expr = args.v[want - 1];
    *height = h + 1;
    return n;
}

static struct query_node *parse_call(struct parser *p, struct query_token name, int *height)
{
    const struct query_function *f = query_function_lookup(tok_text(p, name), name.len);
    struct ptrvec args = {0};
    int h;
    if (parse_call_args(p, &args, &h) != 0)
        return NULL;
    if (!f) {
        struct pl_buf b;
        pl_buf_init(&b, 400);
        query__quote(&b, tok_text(p, name), name.len, 0);
        fail(p, name.pos, "unknown function with name %s", pl_buf_cstr(&b));
        pl_buf_fini(&b);
        return NULL;
    }
    struct query_node *n = new_node(p, QUERY_NODE_CALL, name.pos);
    n->call.func = f;
    n->call.args = (struct query_node **)args.v;
    n->call.nargs = args.n;
    *height = h + 1;
    return n;
}

/* The selector an offset or @ applies to, or NULL (with the error reported). */
struct mod_target {
    int64_t *offset;
    enum query_at *at;
    int64_t *at_ms;
};

static int mod_target_of(struct parser *p, struct query_node *e, struct mod_target *mt,
                         const char *what)
{
    switch (e->kind) {
    case QUERY_NODE_VECTOR_SELECTOR:
        mt->offset = &e->vs.offset_ms;
        mt->at = &e->vs.at;
        mt->at_ms = &e->vs.at_ms;
        return 0;
    case QUERY_NODE_MATRIX_SELECTOR:
        mt->offset = &e->ms.vs->vs.offset_ms;
        mt->at = &e->ms.vs->vs.at;
        mt->at_ms = &e->ms.vs->vs.at_ms;
        return 0;
    case QUERY_NODE_SUBQUERY:
        mt->offset = &e->subquery.offset_ms;
        mt->at = &e->subquery.at;
        mt->at_ms = &e->subquery.at_ms;
        return 0;
    default:
        fail(p, e->pos.start,
             "%s modifier must be preceded by an instant vector selector or range vector "
             "selector or a subquery",
             what);
        return -1;
    }
}

/* Go's int64(math.Round(ts * 1000)) on amd64: out-of-range conversions give INT64_MIN. */
static int64_t seconds_to_ms(double ts)
{
    double v = round(ts * 1000.0);
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
        return INT64_MIN;
    return (int64_t)v;
}

static NOINLINE int parse_at(struct parser *p, struct query_node *e)
{
    consume(p); /* @ */
    struct query_token t = peek_tok(p);
    if (p->failed)
        return -1;
    if (t.type == QUERY_T_START || t.type == QUERY_T_END) {
        consume(p);
        if (peek_type(p) != QUERY_T_LPAREN) {
            unexpected(p, "@", "timestamp");
            return -1;
        }
        consume(p);
        if (peek_type(p) != QUERY_T_RPAREN) {
            unexpected(p, "@", "timestamp");
            return -1;
        }
        consume(p);
        struct mod_target mt;
        if (mod_target_of(p, e, &mt, "@") != 0)
            return -1;
        if (*mt.at != QUERY_AT_NONE) {
            fail(p, e->pos.start, "@ <timestamp> may not be set multiple times");
            return -1;
        }
        *mt.at = t.type == QUERY_T_START ? QUERY_AT_START : QUERY_AT_END;
        e->pos.end = p->last_end;
        return 0;
    }
    int neg = 0;
    if (t.type == QUERY_T_ADD || t.type == QUERY_T_SUB) {
        neg = t.type == QUERY_T_SUB;
        consume(p);
        t = peek_tok(p);
        if (p->failed)
            return -1;
    }
    if (t.type != QUERY_T_NUMBER) {
        unexpected(p, "@", "timestamp");
        return -1;
    }
    consume(p);
    double ts;
    char msg[480];
    if (query__parse_number(tok_text(p, t), t.len, &ts, msg, sizeof(msg)) != 0) {
        fail(p, t.pos, "error parsing number: %s", msg);
        return -1;
    }
    if (neg)
        ts = -ts;
    if (isinf(ts) || isnan(ts) || ts >= 9223372036854775807.0 || ts <= -9223372036854775808.0) {
        char num[400];
        if (isnan(ts))
            snprintf(num, sizeof(num), "NaN");
        else if (isinf(ts))
            snprintf(num, sizeof(num), "%sInf", ts > 0 ? "+" : "-");
        else
            snprintf(num, sizeof(num), "%f", ts);
        fail(p, e->pos.start, "timestamp out of bounds for @ modifier: %s", num);
        return -1;
    }
    struct mod_target mt;
    if (mod_target_of(p, e, &mt, "@") != 0)
        return -1;
    if (*mt.at != QUERY_AT_NONE) {
        fail(p, e->pos.start, "@ <timestamp> may not be set multiple times");
        return -1;
    }
    *mt.at = QUERY_AT_TIME;
    *mt.at_ms = seconds_to_ms(ts);
    e->pos.end = p->last_end;
    return 0;
}

static NOINLINE int parse_offset(struct parser *p, struct query_node *e)
{
    consume(p); /* offset */
    struct query_token t = peek_tok(p);
    if (p->failed)
        return -1;
    int neg = 0;
    if (t.type == QUERY_T_SUB) {
        neg = 1;
        consume(p);
        t = peek_tok(p);
        if (p->failed)
            return -1;
    }
    if (t.type != QUERY_T_DURATION) {
        unexpected(p, "offset", "duration");
        return -1;
    }
    consume(p);
    int64_t d = parse_duration_tok(p, t);
    if (p->failed)
        return -1;
    struct mod_target mt;
    if (mod_target_of(p, e, &mt, "offset") != 0)
        return -1;
    if (*mt.offset != 0) {
        fail(p, e->pos.start, "offset may not be set multiple times");
        return -1;
    }
    *mt.offset = neg ? -d : d;
    e->pos.end = p->last_end;
    return 0;
}

/* "[" already peeked: a range `[d]` or a subquery `[d:[d]]` applied to e. */
static NOINLINE struct query_node *parse_range_or_subquery(struct parser *p, struct query_node *e,
                                                           int *height)
{
    struct query_token lb = consume(p);
    struct query_token t = peek_tok(p);
    if (p->failed)
        return NULL;
    if (t.type != QUERY_T_DURATION) {
        unexpected(p, "subquery selector", "duration");
        return NULL;
    }
    consume(p);
    int64_t range = parse_duration_tok(p, t);
    if (p->failed)
        return NULL;
    t = peek_tok(p);
    if (p->failed)
        return NULL;
    if (t.type == QUERY_T_RBRACKET) {
        consume(p);
        const char *msg = NULL;
        if (e->kind != QUERY_NODE_VECTOR_SELECTOR)
            msg = "ranges only allowed for vector selectors";
        else if (e->vs.offset_ms != 0)
            msg = "no offset modifiers allowed before range";
        else if (e->vs.at == QUERY_AT_TIME)
            msg = "no @ modifiers allowed before range"; /* start()/end() pass, as in Prometheus */
        if (msg) {
            fail(p, lb.pos, "%s", msg);
            return NULL;
        }
        struct query_node *n = new_node(p, QUERY_NODE_MATRIX_SELECTOR, e->pos.start);
        n->ms.vs = e;
        n->ms.range_ms = range;
        *height += 1;
        return n;
    }
    if (t.type != QUERY_T_COLON) {
        unexpected(p, "subquery or range", "\":\" or \"]\"");
        return NULL;
    }
    consume(p);
    int64_t step = 0;
    t = peek_tok(p);
    if (p->failed)
        return NULL;
    if (t.type == QUERY_T_DURATION) {
        consume(p);
        step = parse_duration_tok(p, t);
        if (p->failed)
            return NULL;
        if (peek_type(p) != QUERY_T_RBRACKET) {
            unexpected(p, "subquery selector", "\"]\"");
            return NULL;
        }
    } else if (t.type != QUERY_T_RBRACKET) {
        unexpected(p, "subquery selector", "duration or \"]\"");
        return NULL;
    }
    consume(p);
    struct query_node *n = new_node(p, QUERY_NODE_SUBQUERY, e->pos.start);
    n->subquery.expr = e;
    n->subquery.range_ms = range;
    n->subquery.step_ms = step;
    *height += 1;
    return n;
}

/* A number literal (the lookahead). */
static NOINLINE struct query_node *parse_number_node(struct parser *p)
{
    struct query_token t = consume(p);
    double v;
    char msg[480];
    if (query__parse_number(tok_text(p, t), t.len, &v, msg, sizeof(msg)) != 0) {
        fail(p, t.pos, "error parsing number: %s", msg);
        return NULL;
    }
    struct query_node *n = new_node(p, QUERY_NODE_NUMBER, t.pos);
    n->number = v;
    return n;
}

/* A string literal (the lookahead), unescaped into the arena. */
static NOINLINE struct query_node *parse_string_node(struct parser *p)
{
    struct query_token t = consume(p);
    char *s;
    size_t len;
    if (query__unquote(tok_text(p, t), t.len, &s, &len) != 0) {
        fail(p, t.pos, "error unquoting string %.*s: invalid syntax", (int)t.len, tok_text(p, t));
        return NULL;
    }
    struct query_node *n = new_node(p, QUERY_NODE_STRING, t.pos);
    char *as = pl_arena_alloc(&p->e->arena, len + 1);
    memcpy(as, s, len + 1);
    free(s);
    n->string.s = as;
    n->string.len = len;
    return n;
}

/* A primary expression followed by any postfix modifiers. */
static struct query_node *parse_primary(struct parser *p, int *height)
{
    struct query_token t = peek_tok(p);
    if (p->failed)
        return NULL;
    struct query_node *n = NULL;
    *height = 1;
    switch (t.type) {
    case QUERY_T_NUMBER:
        n = parse_number_node(p);
        break;
    case QUERY_T_STRING:
        n = parse_string_node(p);
        break;
    case QUERY_T_LPAREN: {
        consume(p);
        int h;
        struct query_node *inner = parse_expr(p, 0, &h);
        if (!inner)
            return NULL;
        if (peek_type(p) != QUERY_T_RPAREN) {
            unexpected(p, NULL, NULL);
            return NULL;
        }
        consume(p);
        n = new_node(p, QUERY_NODE_PAREN, t.pos);
        n->paren.expr = inner;
        *height = h + 1;
        break;
    }
    case QUERY_T_LBRACE:
        n = parse_vector_selector(p, NULL, t.pos);
        break;
    case QUERY_T_IDENT:
        consume(p);
        if (peek_type(p) == QUERY_T_LPAREN)
            n = parse_call(p, t, height);
        else
            n = parse_vector_selector(p, &t, t.pos);
        break;
    default:
        if (is_agg(t.type)) {
            consume(p);
            enum query_tok nt = peek_type(p);
            if (nt == QUERY_T_LPAREN || nt == QUERY_T_BY || nt == QUERY_T_WITHOUT)
                n = parse_aggregate(p, t, height);
            else
                n = parse_vector_selector(p, &t, t.pos);
        } else if (is_metric_identifier(t.type)) {
            consume(p);
            n = parse_vector_selector(p, &t, t.pos);
        } else {
            unexpected(p, NULL, NULL);
            return NULL;
        }
        break;
    }
    if (!n || p->failed)
        return NULL;
    /* Postfix modifiers bind tightest and apply to what precedes them. */
    for (;;) {
        enum query_tok nt = peek_type(p);
        if (p->failed)
            return NULL;
        if (nt == QUERY_T_LBRACKET) {
            n = parse_range_or_subquery(p, n, height);
        } else if (nt == QUERY_T_OFFSET) {
            if (parse_offset(p, n) != 0)
                return NULL;
        } else if (nt == QUERY_T_AT) {
            if (parse_at(p, n) != 0)
                return NULL;
        } else {
            break;
        }
        if (!n || p->failed)
            return NULL;
    }
    if (check_height(p, *height, n->pos.start) != 0)
        return NULL;
    return n;
}

#define PREC_UNARY 6 /* the operand of unary +/- absorbs only ^ */

static int binop_prec(enum query_tok t, enum query_binop *op)
{
    switch (t) {
    case QUERY_T_LOR:
        *op = QUERY_OP_OR;
        return 1;
    case QUERY_T_LAND:
        *op = QUERY_OP_AND;
        return 2;
    case QUERY_T_LUNLESS:
        *op = QUERY_OP_UNLESS;
        return 2;
    case QUERY_T_EQLC:
        *op = QUERY_OP_EQL;
        return 3;
    case QUERY_T_NEQ:
        *op = QUERY_OP_NEQ;
        return 3;
    case QUERY_T_LTE:
        *op = QUERY_OP_LTE;
        return 3;
    case QUERY_T_LSS:
        *op = QUERY_OP_LSS;
        return 3;
    case QUERY_T_GTE:
        *op = QUERY_OP_GTE;
        return 3;
    case QUERY_T_GTR:
        *op = QUERY_OP_GTR;
        return 3;
    case QUERY_T_ADD:
        *op = QUERY_OP_ADD;
        return 4;
    case QUERY_T_SUB:
        *op = QUERY_OP_SUB;
        return 4;
    case QUERY_T_MUL:
        *op = QUERY_OP_MUL;
        return 5;
    case QUERY_T_DIV:
        *op = QUERY_OP_DIV;
        return 5;
    case QUERY_T_MOD:
        *op = QUERY_OP_MOD;
        return 5;
    case QUERY_T_ATAN2:
        *op = QUERY_OP_ATAN2;
        return 5;
    case QUERY_T_POW:
        *op = QUERY_OP_POW;
        return 6;
    default:
        return 0;
    }
}

/* An operand: unary +/- applied to an operand, or a primary with postfixes. */
static struct query_node *parse_unary(struct parser *p, int *height)
{
    struct query_token t = peek_tok(p);
    if (p->failed)
        return NULL;
    if (t.type != QUERY_T_ADD && t.type != QUERY_T_SUB)
        return parse_primary(p, height);
    consume(p);
    int h;
    struct query_node *inner = parse_expr(p, PREC_UNARY, &h);
    if (!inner)
        return NULL;
    if (inner->kind == QUERY_NODE_NUMBER) {
        /* Prometheus folds the sign into a number literal. */
        if (t.type == QUERY_T_SUB)
            inner->number = -inner->number;
        inner->pos.start = t.pos;
        *height = h;
        return inner;
    }
    struct query_node *n = new_node(p, QUERY_NODE_UNARY, t.pos);
    n->unary.op = t.type == QUERY_T_SUB ? QUERY_OP_SUB : QUERY_OP_ADD;
    n->unary.expr = inner;
    n->pos.end = inner->pos.end;
    *height = h + 1;
    return n;
}

/* Tokens that can begin an expression. */
static int starts_expr(enum query_tok t)
{
    return t == QUERY_T_NUMBER || t == QUERY_T_STRING || t == QUERY_T_LBRACE ||
           t == QUERY_T_LPAREN || t == QUERY_T_ADD || t == QUERY_T_SUB || is_metric_identifier(t);
}

/* bool, on/ignoring (...), group_left/group_right [(...)] after a binary operator. */
static NOINLINE int parse_bin_modifiers(struct parser *p, struct query_node *b)
{
    if (peek_type(p) == QUERY_T_BOOL) {
        consume(p);
        b->binary.return_bool = 1;
    }
    enum query_tok t = peek_type(p);
    if (t != QUERY_T_ON && t != QUERY_T_IGNORING)
        return p->failed ? -1 : 0;
    consume(p);
    struct query_vector_matching *vm = pl_arena_calloc(&p->e->arena, sizeof(*vm));
    vm->card = QUERY_CARD_ONE_TO_ONE;
    vm->on = t == QUERY_T_ON;
    vm->has_clause = 1;
    b->binary.matching = vm;
    if (parse_grouping_labels(p, &vm->labels, &vm->nlabels) != 0)
        return -1;
    t = peek_type(p);
    if (t == QUERY_T_GROUP_LEFT || t == QUERY_T_GROUP_RIGHT) {
        consume(p);
        vm->card = t == QUERY_T_GROUP_LEFT ? QUERY_CARD_MANY_TO_ONE : QUERY_CARD_ONE_TO_MANY;
        enum query_tok nt = peek_type(p);
        if (nt == QUERY_T_LPAREN) {
            if (parse_grouping_labels(p, &vm->include, &vm->ninclude) != 0)
                return -1;
        } else if (!p->failed && !starts_expr(nt)) {
            unexpected(p, "grouping opts", "\"(\"");
            return -1;
        }
    }
    return p->failed ? -1 : 0;
}

static struct query_node *parse_expr(struct parser *p, int min_prec, int *height)
{
    if (enter(p) != 0)
        return NULL;
    struct query_node *lhs = parse_unary(p, height);
    while (lhs && !p->failed) {
        struct query_token t = peek_tok(p);
        if (p->failed)
            break;
        enum query_binop op;
        int prec = binop_prec(t.type, &op);
        if (prec == 0 || prec < min_prec)
            break;
        consume(p);
        struct query_node *b = new_node(p, QUERY_NODE_BINARY, lhs->pos.start);
        b->binary.op = op;
        if (parse_bin_modifiers(p, b) != 0) {
            lhs = NULL;
            break;
        }
        int rh;
        /* ^ is right-associative: its right operand may hold more ^. */
        struct query_node *rhs = parse_expr(p, op == QUERY_OP_POW ? prec : prec + 1, &rh);
        if (!rhs) {
            lhs = NULL;
            break;
        }
        b->binary.lhs = lhs;
        b->binary.rhs = rhs;
        b->pos.end = rhs->pos.end;
        *height = (*height > rh ? *height : rh) + 1;
        if (check_height(p, *height, t.pos) != 0) {
            lhs = NULL;
            break;
        }
        lhs = b;
    }
    leave(p);
    return p->failed ? NULL : lhs;
}

/* ---- type checks (Prometheus's checkAST), run on the finished tree ---- */

static enum query_value_type check(struct parser *p, struct query_node *n);

static void expect_type(struct parser *p, struct query_node *n, enum query_value_type want,
                        const char *context)
{
    enum query_value_type t = check(p, n);
    if (t != want)
        fail(p, n->pos.start, "expected type %s in %s, got %s", query__value_type_doc(want),
             context, query__value_type_doc(t));
}

static uint32_t op_pos(struct parser *p, struct query_node *b)
{
    uint32_t s = b->binary.lhs->pos.end;
    while (s < p->n &&
           (p->in[s] == ' ' || p->in[s] == '\t' || p->in[s] == '\n' || p->in[s] == '\r'))
        s++;
    return s;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The first on() label (in written order) that group_x() repeats, or NULL.
 * Sorting a copy of the include list keeps this O((n + m) log m) for long lists.
 */
static const char *first_shared_label(const struct query_vector_matching *vm)
{
    const char **inc = pl_xmalloc(vm->ninclude * sizeof(*inc));
    memcpy(inc, vm->include, vm->ninclude * sizeof(*inc));
    qsort(inc, vm->ninclude, sizeof(*inc), cmp_cstr);
    const char *found = NULL;
    for (size_t i = 0; i < vm->nlabels && !found; i++)
        if (bsearch(&vm->labels[i], inc, vm->ninclude, sizeof(*inc), cmp_cstr))
            found = vm->labels[i];
    free(inc);
    return found;
}

static NOINLINE void check_binary(struct parser *p, struct query_node *n)
{
    enum query_value_type lt = check(p, n->binary.lhs);
    enum query_value_type rt = check(p, n->binary.rhs);
    enum query_binop op = n->binary.op;
    struct query_vector_matching *vm = n->binary.matching;
    if (n->binary.return_bool && !query_binop_is_comparison(op))
        fail(p, op_pos(p, n), "bool modifier can only be used on comparison operators");
    if (query_binop_is_comparison(op) && !n->binary.return_bool && lt == QUERY_VT_SCALAR &&
        rt == QUERY_VT_SCALAR)
        fail(p, op_pos(p, n), "comparisons between scalars must use BOOL modifier");
    if (vm && vm->on && vm->nlabels > 0 && vm->ninclude > 0) {
        const char *dup = first_shared_label(vm);
        if (dup) {
            struct pl_buf b;
            pl_buf_init(&b, 400);
            query__quote(&b, dup, strlen(dup), 0);
            fail(p, op_pos(p, n), "label %s must not occur in ON and GROUP clause at once",
                 pl_buf_cstr(&b));
            pl_buf_fini(&b);
        }
    }
    if (lt != QUERY_VT_SCALAR && lt != QUERY_VT_VECTOR)
        fail(p, n->binary.lhs->pos.start,
             "binary expression must contain only scalar and instant vector types");
    if (rt != QUERY_VT_SCALAR && rt != QUERY_VT_VECTOR)
        fail(p, n->binary.rhs->pos.start,
             "binary expression must contain only scalar and instant vector types");
    int both_vectors = lt == QUERY_VT_VECTOR && rt == QUERY_VT_VECTOR;
    if (!both_vectors) {
        if (vm && vm->nlabels > 0)
            fail(p, n->pos.start, "vector matching only allowed between instant vectors");
        n->binary.matching = NULL;
    } else {
        if (!vm) {
            vm = pl_arena_calloc(&p->e->arena, sizeof(*vm));
            vm->card = QUERY_CARD_ONE_TO_ONE;
            n->binary.matching = vm;
        }
        if (query_binop_is_set(op)) {
            if (vm->card == QUERY_CARD_ONE_TO_MANY || vm->card == QUERY_CARD_MANY_TO_ONE)
                fail(p, n->pos.start, "no grouping allowed for \"%s\" operation",
                     query_binop_name(op));
            vm->card = QUERY_CARD_MANY_TO_MANY;
        }
    }
    if ((lt == QUERY_VT_SCALAR || rt == QUERY_VT_SCALAR) && query_binop_is_set(op))
        fail(p, n->pos.start, "set operator \"%s\" not allowed in binary scalar expression",
             query_binop_name(op));
}

static NOINLINE void check_call(struct parser *p, struct query_node *n)
{
    const struct query_function *f = n->call.func;
    int na = (int)n->call.nargs;
    struct pl_buf q;
    pl_buf_init(&q, 200);
    query__quote(&q, f->name, strlen(f->name), 0);
    if (f->variadic == 0) {
        if (f->nargs != na)
            fail(p, n->pos.start, "expected %d argument(s) in call to %s, got %d", f->nargs,
                 pl_buf_cstr(&q), na);
    } else {
        int min = f->nargs - 1;
        if (min > na)
            fail(p, n->pos.start, "expected at least %d argument(s) in call to %s, got %d", min,
                 pl_buf_cstr(&q), na);
        else if (f->variadic > 0 && min + f->variadic < na)
            fail(p, n->pos.start, "expected at most %d argument(s) in call to %s, got %d",
                 min + f->variadic, pl_buf_cstr(&q), na);
    }
    char ctx[128];
    snprintf(ctx, sizeof(ctx), "call to function %s", pl_buf_cstr(&q));
    pl_buf_fini(&q);
    for (size_t i = 0; i < n->call.nargs && !p->failed; i++) {
        if (i >= (size_t)f->nargs && f->variadic == 0)
            break;
        expect_type(p, n->call.args[i], query_function_arg_type(f, i), ctx);
    }
}

static NOINLINE void check_selector(struct parser *p, struct query_node *n)
{
    if (n->vs.name) {
        for (size_t i = 0; i + 1 < n->vs.nmatchers; i++) {
            const struct tsdb_matcher *m = n->vs.matchers[i];
            if (strcmp(tsdb_matcher_name(m), "__name__") == 0) {
                struct pl_buf b;
                pl_buf_init(&b, 480);
                query__quote(&b, n->vs.name, strlen(n->vs.name), 0);
                pl_buf_puts(&b, " or ");
                const char *v = tsdb_matcher_value(m);
                query__quote(&b, v, strlen(v), 0);
                fail(p, n->pos.start, "metric name must not be set twice: %s", pl_buf_cstr(&b));
                pl_buf_fini(&b);
            }
        }
        return;
    }
    for (size_t i = 0; i < n->vs.nmatchers; i++)
        if (!tsdb_matcher_matches_empty(n->vs.matchers[i]))
            return;
    fail(p, n->pos.start, "vector selector must contain at least one non-empty matcher");
}

static enum query_value_type check(struct parser *p, struct query_node *n)
{
    if (p->failed)
        return QUERY_VT_NONE;
    switch (n->kind) {
    case QUERY_NODE_AGGREGATE:
        expect_type(p, n->agg.expr, QUERY_VT_VECTOR, "aggregation expression");
        if (n->agg.op == QUERY_AGG_TOPK || n->agg.op == QUERY_AGG_BOTTOMK ||
            n->agg.op == QUERY_AGG_QUANTILE)
            expect_type(p, n->agg.param, QUERY_VT_SCALAR, "aggregation parameter");
        if (n->agg.op == QUERY_AGG_COUNT_VALUES)
            expect_type(p, n->agg.param, QUERY_VT_STRING, "aggregation parameter");
        break;
    case QUERY_NODE_BINARY:
        check_binary(p, n);
        break;
    case QUERY_NODE_CALL:
        check_call(p, n);
        break;
    case QUERY_NODE_PAREN:
        check(p, n->paren.expr);
        break;
    case QUERY_NODE_UNARY: {
        enum query_value_type t = check(p, n->unary.expr);
        if (t != QUERY_VT_SCALAR && t != QUERY_VT_VECTOR)
            fail(p, n->pos.start,
                 "unary expression only allowed on expressions of type scalar or instant "
                 "vector, got \"%s\"",
                 query__value_type_doc(t));
        break;
    }
    case QUERY_NODE_SUBQUERY: {
        enum query_value_type t = check(p, n->subquery.expr);
        if (t != QUERY_VT_VECTOR)
            fail(p, n->pos.start, "subquery is only allowed on instant vector, got %s instead",
                 query_value_type_name(t));
        break;
    }
    case QUERY_NODE_MATRIX_SELECTOR:
        check(p, n->ms.vs);
        break;
    case QUERY_NODE_VECTOR_SELECTOR:
        check_selector(p, n);
        break;
    case QUERY_NODE_NUMBER:
    case QUERY_NODE_STRING:
        break;
    }
    return query_node_type(n);
}

/* ---- entry points ---- */

/* The selector-only grammar: metric_identifier [label_matchers] | label_matchers, then EOF. */
static struct query_node *parse_selector_only(struct parser *p)
{
    struct query_token t = peek_tok(p);
    if (p->failed)
        return NULL;
    struct query_node *n;
    if (t.type == QUERY_T_LBRACE) {
        n = parse_vector_selector(p, NULL, t.pos);
    } else if (is_metric_identifier(t.type)) {
        consume(p);
        n = parse_vector_selector(p, &t, t.pos);
    } else {
        unexpected(p, NULL, NULL);
        return NULL;
    }
    if (n && peek_type(p) != QUERY_T_EOF)
        unexpected(p, NULL, NULL);
    return p->failed ? NULL : n;
}

static int parse_entry(const char *s, size_t n, int selector_only, struct query_expr **out,
                       struct query_parse_err *err)
{
    struct query_parse_err scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof(*err));
    if (n > MAX_QUERY_LEN) {
        err->line = 1;
        err->col = 1;
        snprintf(err->msg, sizeof(err->msg), "query is too long (%zu bytes, at most %u)", n,
                 MAX_QUERY_LEN);
        return PL_ERR_INVALID;
    }
    struct query_expr *e = pl_xcalloc(1, sizeof(*e));
    pl_arena_init(&e->arena, 4096);
    e->text = pl_xmalloc(n + 1);
    if (n)
        memcpy(e->text, s, n);
    e->text[n] = 0;

    struct parser p;
    memset(&p, 0, sizeof(p));
    p.in = e->text;
    p.n = n;
    p.e = e;
    p.err = err;
    query__lex_init(&p.lx, e->text, n);

    struct query_node *root = NULL;
    if (selector_only) {
        root = parse_selector_only(&p);
    } else if (peek_type(&p) == QUERY_T_EOF) {
        if (!p.failed)
            fail(&p, 0, "no expression found in input");
    } else if (!p.failed) {
        int h;
        root = parse_expr(&p, 0, &h);
        if (root && peek_type(&p) != QUERY_T_EOF)
            unexpected(&p, NULL, NULL);
    }
    if (!p.failed && root && !selector_only)
        check(&p, root);
    if (p.failed || !root) {
        if (!p.failed)
            fail(&p, 0, "no expression found in input");
        query_expr_free(e);
        return PL_ERR_INVALID;
    }
    e->root = root;
    *out = e;
    return 0;
}

int query_parse(const char *s, size_t n, struct query_expr **out, struct query_parse_err *err)
{
    return parse_entry(s, n, 0, out, err);
}

int query_parse_selector(const char *s, size_t n, struct query_expr **out,
                         struct query_parse_err *err)
{
    return parse_entry(s, n, 1, out, err);
}
