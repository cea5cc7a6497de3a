/*
 * matcher.c - label matchers and RE2-compatible anchored regexes on PCRE2.
 *
 * Prometheus matches label values with Go's regexp (RE2 syntax), anchored at
 * both ends. PCRE2 accepts a superset of that syntax with some different
 * defaults, so we (1) reject what RE2 rejects before compiling, with Go's
 * error texts, and (2) compile with options that give Go's behaviour:
 * ANCHORED|ENDANCHORED (full match, leftmost-first alternation backtracks to
 * a full match), DOLLAR_ENDONLY (`$` only at the very end), UTF without UCP
 * (\w \d \s stay ASCII), MATCH_INVALID_UTF (bad bytes in values never fail the
 * match call). See ecosystem.md section 7 for the verified differences.
 *
 * Common patterns never reach PCRE2: literals, `.*`, `.+`, `lit.*` and
 * alternations of literals. `.` does not match "\n" in Go 2.42, so the `.*`
 * paths check for newlines.
 */
#include "tsdb/matcher.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/mem.h"
#include "tsdb/re2_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum fast {
    FAST_NONE,    /* PCRE2 */
    FAST_LITERAL, /* exact string */
    FAST_ANY,     /* .*  */
    FAST_ANY1,    /* .+  */
    FAST_PREFIX,  /* lit.* */
    FAST_SET,     /* a|b|c */
};

struct tsdb_regex {
    enum fast fast;
    char *lit; /* FAST_LITERAL / FAST_PREFIX: the literal */
    size_t lit_len;
    char **alts; /* FAST_SET */
    size_t *alt_lens;
    size_t nalts;
    pcre2_code *code; /* FAST_NONE */
    int jit;
};

struct tsdb_matcher {
    enum tsdb_match_type type;
    char *name;
    char *value;
    size_t value_len;
    struct tsdb_regex *re; /* regex types only */
};

/* ---- RE2 syntax checks ---- */

static int syntax_err(struct pl_err *err, const char *what, const char *frag, size_t n)
{
    return pl_err_set(err, PL_ERR_INVALID, "error parsing regexp: %s: `%.*s`", what, (int)n, frag);
}

/*
 * Parses `{n}`, `{n,}` or `{n,m}` at p[i]; returns 1 and its length when it is
 * a valid repetition (Go treats other braces as literals). Counts over 1000
 * set *count_err.
 */
static int is_repeat_start(const char *p, size_t n, size_t i, size_t *len_out, int *count_err,
                           long *bad_count)
{
    *bad_count = 0;
    if (p[i] == '*' || p[i] == '+' || p[i] == '?') {
        *len_out = 1;
        return 1;
    }
    if (p[i] != '{')
        return 0;
    size_t j = i + 1;
    long a = -1, b = -1;
    size_t st = j;
    long v = 0;
    while (j < n && p[j] >= '0' && p[j] <= '9') {
        if (v < 100000)
            v = v * 10 + (p[j] - '0');
        j++;
    }
    if (j == st)
        return 0;
    a = v;
    if (j < n && p[j] == ',') {
        j++;
        st = j;
        v = 0;
        while (j < n && p[j] >= '0' && p[j] <= '9') {
            if (v < 100000)
                v = v * 10 + (p[j] - '0');
            j++;
        }
        if (j > st)
            b = v;
    } else {
        b = a;
    }
    if (j >= n || p[j] != '}')
        return 0;
    *len_out = j - i + 1;
    if (a > 1000 || b > 1000 || (b >= 0 && b < a))
        *count_err = 1;
    /* The count Go's nesting limit multiplies: the maximum, or the minimum when unbounded. */
    *bad_count = b >= 0 ? b : a;
    return 1;
}

static int check_escape(const char *p, size_t n, size_t i, struct pl_err *err)
{
    /* p[i] == '\\' */
    if (i + 1 >= n)
        return syntax_err(err, "trailing backslash at end of expression", "", 0);
    char c = p[i + 1];
    int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum)
        return 0;
    if (c >= '1' && c <= '7') {
        /* A lone digit is a back-reference in PCRE2; Go reads \12 as octal only. */
        if (i + 2 >= n || p[i + 2] < '0' || p[i + 2] > '7')
            return syntax_err(err, "invalid escape sequence", p + i, 2);
        return 0;
    }
    if (c == '8' || c == '9')
        return syntax_err(err, "invalid escape sequence", p + i, 2);
    if (c == 'x') {
        /* \xHH or \x{H...}; PCRE2 also takes \x alone or with one digit. */
        size_t k = i + 2;
        if (k < n && p[k] == '{') {
            size_t st = ++k;
            while (k < n && isxdigit((unsigned char)p[k]))
                k++;
            if (k == st || k >= n || p[k] != '}')
                return syntax_err(err, "invalid escape sequence", p + i, k < n ? k - i + 1 : n - i);
            return 0;
        }
        if (k + 1 < n && isxdigit((unsigned char)p[k]) && isxdigit((unsigned char)p[k + 1]))
            return 0;
        return syntax_err(err, "invalid escape sequence", p + i, k + 1 < n ? 4 : n - i);
    }
    if (strchr("afnrtv0xpPdDsSwWbBAzQE", c))
        return 0;
    return syntax_err(err, "invalid escape sequence", p + i, 2);
}

/* Rejects the PCRE2-only syntax Go's regexp/syntax refuses. */
int tsdb__re2_check(const char *p, size_t n, struct pl_err *err)
{
    int in_class = 0;
    /* 0: normal; 1: just after a repetition (a lazy '?' may follow); 2: after the lazy '?' */
    int rep = 0;
    size_t rep_at = 0;
    /*
     * Go refuses nested counted repetitions whose product passes 1000
     * (`(a{500}){3}`). inner[d] is the largest product inside open group d;
     * last is the product inside the atom a repetition would apply to.
     */
    enum { MAX_DEPTH = 1000 };
    static _Thread_local long inner[MAX_DEPTH + 1];
    size_t depth = 0;
    long last = 1;
    inner[0] = 1;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '(' && !in_class) {
            if (i + 1 < n && p[i + 1] == '*')
                return syntax_err(err, "missing argument to repetition operator", p + i + 1, 1);
            if (depth == MAX_DEPTH)
                return pl_err_set(err, PL_ERR_INVALID,
                                  "error parsing regexp: expression nests too deeply");
            inner[++depth] = 1;
        } else if (c == ')' && !in_class) {
            rep = 0;
            if (depth > 0) {
                last = inner[depth--];
                if (last > inner[depth])
                    inner[depth] = last;
            }
            continue;
        }
        if (c == '\\') {
            rep = 0;
            last = 1;
            if (i + 1 < n && p[i + 1] == 'Q') {
                size_t k = i + 2;
                while (k + 1 < n && !(p[k] == '\\' && p[k + 1] == 'E'))
                    k++;
                i = k + 1 < n ? k + 1 : n;
                continue;
            }
            int rc = check_escape(p, n, i, err);
            if (rc)
                return rc;
            i++;
            continue;
        }
        if (in_class) {
            if (c == '[' && i + 1 < n && p[i + 1] == ':') {
                size_t k = i + 2;
                while (k + 1 < n && !(p[k] == ':' && p[k + 1] == ']'))
                    k++;
                if (k + 1 < n)
                    i = k + 1;
            } else if (c == ']') {
                in_class = 0;
            }
            continue;
        }
        if (c == '[') {
            rep = 0;
            last = 1;
            in_class = 1;
            if (i + 1 < n && p[i + 1] == '^')
                i++;
            if (i + 1 < n && p[i + 1] == ']')
                i++; /* a leading ] is literal */
            continue;
        }
        if (c == '(' && i + 1 < n && p[i + 1] == '?') {
            rep = 0;
            const char *q = p + i + 2;
            size_t left = n - i - 2;
            if (left >= 1 && (q[0] == '=' || q[0] == '!' || q[0] == '>' || q[0] == '<'))
                return syntax_err(err, "invalid or unsupported Perl syntax", p + i, 3);
            if (left >= 2 && q[0] == 'P' && q[1] == '<')
                continue;
            /* Flags: Go knows i, m, s, U and '-', ending in ':' or ')'. */
            size_t k = 0;
            while (k < left && strchr("imsU-", q[k]))
                k++;
            if (k >= left || (q[k] != ':' && q[k] != ')'))
                return syntax_err(err, "invalid or unsupported Perl syntax", p + i,
                                  k + 3 <= n - i ? k + 3 : n - i);
            continue;
        }
        size_t rlen;
        int count_err = 0;
        long bad_at = 0;
        if (!is_repeat_start(p, n, i, &rlen, &count_err, &bad_at)) {
            rep = 0;
            if (c != '(')
                last = 1;
            continue;
        }
        if (count_err)
            return syntax_err(err, "invalid repeat count", p + i, rlen);
        if (bad_at > 0) {
            long prod = bad_at * last;
            if (prod > 1000)
                return syntax_err(err, "invalid repeat count", p + i, rlen);
            if (prod > inner[depth])
                inner[depth] = prod;
        }
        if (rep == 1 && c == '?') {
            rep = 2; /* lazy marker */
        } else if (rep) {
            return syntax_err(err, "invalid nested repetition operator", p + rep_at,
                              i + rlen - rep_at);
        } else {
            rep = 1;
            rep_at = i;
        }
        i += rlen - 1;
    }
    return 0;
}

/* ---- fast paths ---- */

static int is_meta(char c)
{
    return strchr("\\.+*?()|[]{}^$", c) != NULL;
}

static int plain_literal(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_meta(s[i]))
            return 0;
    return 1;
}

static void classify(struct tsdb_regex *re, const char *p, size_t n)
{
    re->fast = FAST_NONE;
    if (plain_literal(p, n)) {
        re->fast = FAST_LITERAL;
        re->lit = pl_xstrndup(p, n);
        re->lit_len = n;
        return;
    }
    if (n == 2 && p[0] == '.' && (p[1] == '*' || p[1] == '+')) {
        re->fast = p[1] == '*' ? FAST_ANY : FAST_ANY1;
        return;
    }
    if (n > 2 && p[n - 2] == '.' && p[n - 1] == '*' && plain_literal(p, n - 2)) {
        re->fast = FAST_PREFIX;
        re->lit = pl_xstrndup(p, n - 2);
        re->lit_len = n - 2;
        return;
    }
    /* a|b|c: every alternative a plain literal (at least one '|'). */
    size_t nalts = 1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '|')
            nalts++;
        else if (is_meta(p[i]))
            return;
    }
    re->fast = FAST_SET;
    re->alts = pl_xcalloc(nalts, sizeof(char *));
    re->alt_lens = pl_xcalloc(nalts, sizeof(size_t));
    size_t st = 0, k = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == '|') {
            re->alts[k] = pl_xstrndup(p + st, i - st);
            re->alt_lens[k] = i - st;
            k++;
            st = i + 1;
        }
    }
    re->nalts = nalts;
}

/* ---- regex ---- */

static int compile_error(struct pl_err *err, int code, const char *p, size_t n, size_t off)
{
    switch (code) {
    case PCRE2_ERROR_MISSING_CLOSING_PARENTHESIS:
        return syntax_err(err, "missing closing )", p, n);
    case PCRE2_ERROR_UNMATCHED_CLOSING_PARENTHESIS:
        return syntax_err(err, "unexpected )", p, n);
    case PCRE2_ERROR_MISSING_SQUARE_BRACKET:
        return syntax_err(err, "missing closing ]", p, n);
    case PCRE2_ERROR_QUANTIFIER_INVALID:
        return syntax_err(err, "missing argument to repetition operator", p + (off < n ? off : 0),
                          1);
    default: {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(code, buf, sizeof(buf));
        return pl_err_set(err, PL_ERR_INVALID, "error parsing regexp: %s at offset %zu: `%.*s`",
                          (const char *)buf, off, (int)n, p);
    }
    }
}

int tsdb_regex_new(const char *pattern, struct tsdb_regex **out, struct pl_err *err)
{
    size_t n = strlen(pattern);
    int rc = tsdb__re2_check(pattern, n, err);
    if (rc)
        return rc;
    struct tsdb_regex *re = pl_xcalloc(1, sizeof(*re));
    /* Compile even when a fast path applies, so invalid patterns always fail. */
    int ecode;
    PCRE2_SIZE eoff;
    uint32_t opts = PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF |
                    PCRE2_DOLLAR_ENDONLY | PCRE2_NO_AUTO_CAPTURE;
    re->code = pcre2_compile((PCRE2_SPTR)pattern, n, opts, &ecode, &eoff, NULL);
    if (!re->code) {
        free(re);
        return compile_error(err, ecode, pattern, n, (size_t)eoff);
    }
    classify(re, pattern, n);
    if (re->fast != FAST_NONE) {
        pcre2_code_free(re->code);
        re->code = NULL;
    } else {
        re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
    }
    *out = re;
    return 0;
}

void tsdb_regex_free(struct tsdb_regex *re)
{
    if (!re)
        return;
    free(re->lit);
    for (size_t i = 0; i < re->nalts; i++)
        free(re->alts[i]);
    free(re->alts);
    free(re->alt_lens);
    pcre2_code_free(re->code);
    free(re);
}

/*
 * Per-thread match state: pcre2_match needs a match data block per call. It is
 * created on a thread's first regex match and freed by a pthread key
 * destructor when the thread exits (HTTP worker threads come and go).
 */
struct match_state {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
};
static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;
static _Thread_local struct match_state *tl_state;

static void state_free(void *p)
{
    struct match_state *st = p;
    pcre2_match_data_free(st->md);
    pcre2_match_context_free(st->mctx);
    free(st);
}

static void state_key_init(void)
{
    if (pthread_key_create(&state_key, state_free) != 0)
        abort();
}

static struct match_state *state_get(void)
{
    if (tl_state)
        return tl_state;
    pthread_once(&state_once, state_key_init);
    struct match_state *st = pl_xcalloc(1, sizeof(*st));
    st->md = pcre2_match_data_create(1, NULL);
    st->mctx = pcre2_match_context_create(NULL);
    if (!st->md || !st->mctx)
        abort();
    /* Backtracking bounds: RE2 is linear, PCRE2 is not; a pathological
     * pattern must not hang a query. Hitting the limit counts as no match. */
    pcre2_set_match_limit(st->mctx, 10000000);
    pcre2_set_depth_limit(st->mctx, 100000);
    pthread_setspecific(state_key, st);
    tl_state = st;
    return st;
}

static int pcre_match(const struct tsdb_regex *re, const char *s, size_t n)
{
    struct match_state *st = state_get();
    int rc;
    if (re->jit)
        rc = pcre2_jit_match(re->code, (PCRE2_SPTR)s, n, 0, 0, st->md, st->mctx);
    else
        rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, st->md, st->mctx);
    return rc >= 0;
}

int tsdb_regex_match(const struct tsdb_regex *re, const char *s, size_t n)
{
    switch (re->fast) {
    case FAST_LITERAL:
        return n == re->lit_len && memcmp(s, re->lit, n) == 0;
    case FAST_ANY:
        return memchr(s, '\n', n) == NULL;
    case FAST_ANY1:
        return n > 0 && memchr(s, '\n', n) == NULL;
    case FAST_PREFIX:
        return n >= re->lit_len && memcmp(s, re->lit, re->lit_len) == 0 &&
               memchr(s + re->lit_len, '\n', n - re->lit_len) == NULL;
    case FAST_SET:
        for (size_t i = 0; i < re->nalts; i++)
            if (re->alt_lens[i] == n && memcmp(re->alts[i], s, n) == 0)
                return 1;
        return 0;
    case FAST_NONE:
        break;
    }
    return pcre_match(re, s, n);
}

/* ---- matchers ---- */

int tsdb_matcher_new(enum tsdb_match_type type, const char *name, const char *value,
                     struct tsdb_matcher **out, struct pl_err *err)
{
    struct tsdb_regex *re = NULL;
    if (type == TSDB_MATCH_RE || type == TSDB_MATCH_NRE) {
        int rc = tsdb_regex_new(value, &re, err);
        if (rc)
            return rc;
    } else if (type != TSDB_MATCH_EQ && type != TSDB_MATCH_NEQ) {
        return pl_err_set(err, PL_ERR_INVALID, "unknown match type %d", (int)type);
    }
    struct tsdb_matcher *m = pl_xcalloc(1, sizeof(*m));
    m->type = type;
    m->name = pl_xstrdup(name);
    m->value = pl_xstrdup(value);
    m->value_len = strlen(value);
    m->re = re;
    *out = m;
    return 0;
}

void tsdb_matcher_free(struct tsdb_matcher *m)
{
    if (!m)
        return;
    tsdb_regex_free(m->re);
    free(m->name);
    free(m->value);
    free(m);
}

enum tsdb_match_type tsdb_matcher_type(const struct tsdb_matcher *m)
{
    return m->type;
}

const char *tsdb_matcher_name(const struct tsdb_matcher *m)
{
    return m->name;
}

const char *tsdb_matcher_value(const struct tsdb_matcher *m)
{
    return m->value;
}

int tsdb_matcher_matches(const struct tsdb_matcher *m, const char *v, size_t n)
{
    switch (m->type) {
    case TSDB_MATCH_EQ:
        return n == m->value_len && memcmp(v, m->value, n) == 0;
    case TSDB_MATCH_NEQ:
        return !(n == m->value_len && memcmp(v, m->value, n) == 0);
    case TSDB_MATCH_RE:
        return tsdb_regex_match(m->re, v, n);
    case TSDB_MATCH_NRE:
        return !tsdb_regex_match(m->re, v, n);
    }
    return 0;
}

int tsdb_matcher_matches_empty(const struct tsdb_matcher *m)
{
    return tsdb_matcher_matches(m, "", 0);
}

int tsdb_matchers_match_labels(struct tsdb_matcher *const *ms, size_t n, const struct pl_labels *ls)
{
    for (size_t i = 0; i < n; i++) {
        const struct pl_label *l = pl_labels_get(ls, ms[i]->name);
        const char *v = l ? l->value : "";
        size_t vn = l ? l->value_len : 0;
        if (!tsdb_matcher_matches(ms[i], v, vn))
            return 0;
    }
    return 1;
}
