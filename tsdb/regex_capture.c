/*
 * regex_capture.c - anchored RE2-compatible regexes with capture groups, for
 * relabeling (Prometheus pkg/relabel: Regex, ExpandString).
 *
 * The pattern is compiled as `^(?:PATTERN)$` after the RE2 syntax check of
 * matcher.c (tsdb__re2_check), with the PCRE2 options matcher.c uses to get
 * Go's behaviour. Go's regexp picks leftmost-first submatches like a
 * backtracking engine, so PCRE2's captures agree with Go's. Expansion follows
 * Go's regexp.Expand (src/regexp/regexp.go) rule for rule.
 *
 * The default relabel regex `(.*)` and plain literals never reach PCRE2.
 */
#include "tsdb/regex_capture.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/buf.h"
#include "common/mem.h"
#include "tsdb/re2_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum fast {
    FAST_NONE,      /* PCRE2 */
    FAST_ANY_GROUP, /* (.*): one group holding the whole value */
    FAST_LITERAL,   /* no metacharacters: exact string, no groups */
};

struct tsdb_regex_capture {
    enum fast fast;
    char *pattern;
    size_t pattern_len;
    pcre2_code *code;
    int jit;
    uint32_t groups; /* including group 0 */
    /* Named groups: names[i] is group index name_idx[i]. */
    char **names;
    int *name_idx;
    size_t nnames;
};

static int is_meta(char c)
{
    return strchr("\\.+*?()|[]{}^$", c) != NULL;
}

/* Go reports "missing closing ]" with the text from the unclosed '['. */
static size_t unclosed_class_start(const char *p, size_t n)
{
    size_t start = 0;
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\') {
            i++;
            continue;
        }
        if (!in_class && p[i] == '[') {
            in_class = 1;
            start = i;
            if (i + 1 < n && p[i + 1] == '^')
                i++;
            if (i + 1 < n && p[i + 1] == ']')
                i++;
        } else if (in_class && p[i] == '[' && i + 1 < n && p[i + 1] == ':') {
            const char *e = strstr(p + i + 2, ":]");
            if (e && (size_t)(e - p) < n)
                i = (size_t)(e - p) + 1;
        } else if (in_class && p[i] == ']') {
            in_class = 0;
        }
    }
    return in_class ? start : 0;
}

static int compile_error(struct pl_err *err, int code, const char *p, size_t n, size_t off)
{
    const char *what;
    switch (code) {
    case PCRE2_ERROR_MISSING_CLOSING_PARENTHESIS:
        what = "missing closing )";
        break;
    case PCRE2_ERROR_UNMATCHED_CLOSING_PARENTHESIS:
        what = "unexpected )";
        break;
    case PCRE2_ERROR_MISSING_SQUARE_BRACKET: {
        size_t st = unclosed_class_start(p, n);
        return pl_err_set(err, PL_ERR_INVALID, "error parsing regexp: missing closing ]: `%.*s`",
                          (int)(n - st), p + st);
    }
    case PCRE2_ERROR_QUANTIFIER_INVALID: {
        /* PCRE2 points at or just past the operator. */
        size_t at = off < n && strchr("*+?{", p[off]) ? off : off > 0 && off <= n ? off - 1 : 0;
        return pl_err_set(err, PL_ERR_INVALID,
                          "error parsing regexp: missing argument to repetition operator: `%c`",
                          p[at]);
    }
    default: {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(code, buf, sizeof(buf));
        return pl_err_set(err, PL_ERR_INVALID, "error parsing regexp: %s at offset %zu: `%.*s`",
                          (const char *)buf, off, (int)n, p);
    }
    }
    return pl_err_set(err, PL_ERR_INVALID, "error parsing regexp: %s: `%.*s`", what, (int)n, p);
}

static void load_names(struct tsdb_regex_capture *re)
{
    uint32_t count = 0, entry = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &count);
    if (count == 0)
        return;
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &entry);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table);
    re->names = pl_xcalloc(count, sizeof(*re->names));
    re->name_idx = pl_xcalloc(count, sizeof(*re->name_idx));
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * entry;
        re->name_idx[i] = (e[0] << 8) | e[1];
        re->names[i] = pl_xstrdup((const char *)e + 2);
    }
    re->nnames = count;
}

int tsdb_regex_capture_new(const char *pattern, struct tsdb_regex_capture **out, struct pl_err *err)
{
    size_t plen = strlen(pattern);
    struct pl_buf a;
    pl_buf_init(&a, plen + 16);
    pl_buf_puts(&a, "^(?:");
    pl_buf_append(&a, pattern, plen);
    pl_buf_puts(&a, ")$");
    int rc = tsdb__re2_check(a.data, a.len, err);
    if (rc) {
        pl_buf_fini(&a);
        return rc;
    }
    int ecode;
    PCRE2_SIZE eoff;
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)a.data, a.len, opts, &ecode, &eoff, NULL);
    if (!code) {
        rc = compile_error(err, ecode, a.data, a.len, (size_t)eoff);
        pl_buf_fini(&a);
        return rc;
    }
    pl_buf_fini(&a);
    struct tsdb_regex_capture *re = pl_xcalloc(1, sizeof(*re));
    re->pattern = pl_xstrndup(pattern, plen);
    re->pattern_len = plen;
    re->code = code;
    uint32_t cap = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &cap);
    re->groups = cap + 1 > TSDB_REGEX_CAPTURE_MAX ? TSDB_REGEX_CAPTURE_MAX : cap + 1;
    load_names(re);
    int literal = 1;
    for (size_t i = 0; i < plen; i++)
        if (is_meta(pattern[i]))
            literal = 0;
    if (strcmp(pattern, "(.*)") == 0)
        re->fast = FAST_ANY_GROUP;
    else if (literal)
        re->fast = FAST_LITERAL;
    else
        re->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    *out = re;
    return 0;
}

void tsdb_regex_capture_free(struct tsdb_regex_capture *re)
{
    if (!re)
        return;
    for (size_t i = 0; i < re->nnames; i++)
        free(re->names[i]);
    free(re->names);
    free(re->name_idx);
    free(re->pattern);
    pcre2_code_free(re->code);
    free(re);
}

const char *tsdb_regex_capture_pattern(const struct tsdb_regex_capture *re)
{
    return re->pattern;
}

uint32_t tsdb_regex_capture_groups(const struct tsdb_regex_capture *re)
{
    return re->groups;
}

int tsdb_regex_capture_group_index(const struct tsdb_regex_capture *re, const char *name, size_t n)
{
    for (size_t i = 0; i < re->nnames; i++)
        if (strlen(re->names[i]) == n && memcmp(re->names[i], name, n) == 0)
            return re->name_idx[i];
    return -1;
}

/*
 * Per-thread match state, sized for the most groups we report; freed by a
 * pthread key destructor when the thread exits (the scrape and discovery
 * threads stop at shutdown and reload-free restarts, as matcher.c does).
 */
static _Thread_local pcre2_match_data *tl_md;
static _Thread_local pcre2_match_context *tl_mctx;
static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

static void tl_state_free(void *p)
{
    (void)p;
    pcre2_match_data_free(tl_md);
    pcre2_match_context_free(tl_mctx);
    tl_md = NULL;
    tl_mctx = NULL;
}

static void tl_key_init(void)
{
    if (pthread_key_create(&tl_key, tl_state_free) != 0)
        abort();
}

int tsdb_regex_capture_match(const struct tsdb_regex_capture *re, const char *s, size_t n,
                             size_t *ovec)
{
    switch (re->fast) {
    case FAST_ANY_GROUP:
        /* `.` does not match "\n" in Go without the s flag. */
        if (memchr(s, '\n', n))
            return 0;
        if (ovec) {
            ovec[0] = ovec[2] = 0;
            ovec[1] = ovec[3] = n;
        }
        return 1;
    case FAST_LITERAL:
        if (n != re->pattern_len || memcmp(s, re->pattern, n) != 0)
            return 0;
        if (ovec) {
            ovec[0] = 0;
            ovec[1] = n;
        }
        return 1;
    case FAST_NONE:
        break;
    }
    if (!tl_md) {
        tl_md = pcre2_match_data_create(TSDB_REGEX_CAPTURE_MAX, NULL);
        tl_mctx = pcre2_match_context_create(NULL);
        if (!tl_md || !tl_mctx)
            abort();
        /* RE2 is linear and PCRE2 is not: bound backtracking; the limit is a miss. */
        pcre2_set_match_limit(tl_mctx, 10000000);
        pcre2_set_depth_limit(tl_mctx, 100000);
        /* A non-NULL value makes the destructor run at thread exit. */
        pthread_once(&tl_once, tl_key_init);
        pthread_setspecific(tl_key, tl_md);
    }
    int rc;
    if (re->jit)
        rc = pcre2_jit_match(re->code, (PCRE2_SPTR)s, n, 0, 0, tl_md, tl_mctx);
    else
        rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, tl_md, tl_mctx);
    if (rc < 0)
        return 0;
    if (ovec) {
        PCRE2_SIZE *v = pcre2_get_ovector_pointer(tl_md);
        for (uint32_t g = 0; g < re->groups; g++) {
            if (v[2 * g] == PCRE2_UNSET) {
                ovec[2 * g] = ovec[2 * g + 1] = SIZE_MAX;
            } else {
                ovec[2 * g] = v[2 * g];
                ovec[2 * g + 1] = v[2 * g + 1];
            }
        }
    }
    return 1;
}

static int name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * Go's extract(): parses a group reference after '$'. Returns the length
 * consumed (0 when malformed) and sets the name span and its number (-1 when
 * not a number: leading zeros and values past 1e8 are names).
 */
static size_t extract_ref(const char *t, size_t n, const char **name, size_t *nlen, long *num)
{
    if (n == 0)
        return 0;
    int brace = t[0] == '{';
    size_t st = brace ? 1 : 0, i = st;
    while (i < n && name_char((unsigned char)t[i]))
        i++;
    if (i == st)
        return 0;
    *name = t + st;
    *nlen = i - st;
    if (brace) {
        if (i >= n || t[i] != '}')
            return 0;
        i++;
    }
    long v = 0;
    for (size_t k = 0; k < *nlen; k++) {
        char c = (*name)[k];
        if (c < '0' || c > '9' || v >= 100000000) {
            v = -1;
            break;
        }
        v = v * 10 + (c - '0');
    }
    if ((*name)[0] == '0' && *nlen > 1)
        v = -1;
    *num = v;
    return i;
}

int tsdb_regex_capture_expand(const struct tsdb_regex_capture *re, const char *tmpl,
                              size_t tmpl_len, const char *s, const size_t *ovec,
                              struct pl_buf *out)
{
    size_t i = 0;
    while (i < tmpl_len) {
        const char *d = memchr(tmpl + i, '$', tmpl_len - i);
        if (!d)
            break;
        size_t at = (size_t)(d - tmpl);
        int rc = pl_buf_append(out, tmpl + i, at - i);
        if (rc)
            return rc;
        i = at + 1;
        if (i < tmpl_len && tmpl[i] == '$') {
            if ((rc = pl_buf_putc(out, '$')))
                return rc;
            i++;
            continue;
        }
        const char *name = NULL;
        size_t nlen = 0;
        long num = -1;
        size_t used = extract_ref(tmpl + i, tmpl_len - i, &name, &nlen, &num);
        if (used == 0) {
            if ((rc = pl_buf_putc(out, '$')))
                return rc;
            continue;
        }
        i += used;
        long g = num >= 0 ? num : tsdb_regex_capture_group_index(re, name, nlen);
        if (g >= 0 && (uint32_t)g < re->groups && ovec[2 * g] != SIZE_MAX) {
            rc = pl_buf_append(out, s + ovec[2 * g], ovec[2 * g + 1] - ovec[2 * g]);
            if (rc)
                return rc;
        }
    }
    return pl_buf_append(out, tmpl + i, tmpl_len - i);
}
