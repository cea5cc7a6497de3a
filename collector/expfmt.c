/*
 * expfmt.c - the Prometheus text 0.0.4 / OpenMetrics 1.0 exposition parser
 * (see expfmt.h for the API and the specs).
 *
 * The parser is a hand-written scanner over the caller's buffer. Lines are
 * not split first: in lenient 0.0.4 a quoted label value may hold a raw
 * newline, as Prometheus's lexer allows, so every scanning step checks the
 * end of the buffer itself and tracks line and column as it goes.
 *
 * Layers, in the order a sample line meets them:
 *   - byte classes (a 256-entry table) for names and for the bytes a label
 *     value scan must stop at;
 *   - numbers: one validator for the grammar the formats share (decimal,
 *     Inf/Infinity, NaN; no hex, no '_'), a fast exact path for short
 *     decimals and strtod for the rest, so values are always what strtod
 *     gives;
 *   - the 0.0.4 and OpenMetrics line grammars, each with its strict and
 *     lenient variants inline;
 *   - strict-mode rules that need memory: a family table for 0.0.4 (HELP/TYPE
 *     placement), and for OpenMetrics the family/group state machine of the
 *     spec (grouping, interleaving, name clashes, histogram structure).
 *     Sets of 64-bit hashes keep that memory per family or group, not per
 *     sample; a hash collision (2^-64) could only produce a false error.
 */
#include "collector/expfmt.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/hash.h"
#include "common/mem.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ bytes */

enum {
    C_MSTART = 1, /* [a-zA-Z_:] */
    C_MCHAR = 2,  /* [a-zA-Z0-9_:] */
    C_LSTART = 4, /* [a-zA-Z_] */
    C_LCHAR = 8,  /* [a-zA-Z0-9_] */
    C_LVSTOP = 16 /* '"', '\\', '\n', and every byte >= 0x80 */
};

static unsigned char ctab[256];

static void ctab_init(void)
{
    if (ctab['a'])
        return;
    for (int c = 0; c < 256; c++) {
        unsigned char v = 0;
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        int digit = c >= '0' && c <= '9';
        if (alpha || c == '_' || c == ':')
            v |= C_MSTART | C_MCHAR;
        if (digit)
            v |= C_MCHAR | C_LCHAR;
        if (alpha || c == '_')
            v |= C_LSTART | C_LCHAR;
        if (c == '"' || c == '\\' || c == '\n' || c >= 0x80)
            v |= C_LVSTOP;
        ctab[c] = v;
    }
}

static size_t scan_name(const char *p, const char *end, int start_cls, int cls)
{
    const char *s = p;
    if (p >= end || !(ctab[(unsigned char)*p] & start_cls))
        return 0;
    p++;
    while (p < end && (ctab[(unsigned char)*p] & cls))
        p++;
    return (size_t)(p - s);
}

/* Length of the valid UTF-8 sequence at p, or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    unsigned cp = c & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/*
 * Whether s[0..n) is valid UTF-8; with bs not NULL, *bs also tells whether
 * it holds a backslash (HELP text: no escapes to decode, in the same pass).
 */
static int utf8_valid_bs(const char *s, size_t n, int *bs)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t slash = 0;
    while (p < e) {
        /* Label values are nearly always ASCII: skip 8 such bytes per step. */
        if (e - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if ((w & highs) == 0) {
                /* Bytes equal to '\\' become zero; the classic test finds a zero byte. */
                uint64_t x = w ^ (ones * '\\');
                slash |= (x - ones) & ~x & highs;
                p += 8;
                continue;
            }
        }
        if (*p < 0x80) {
            slash |= *p == '\\';
            p++;
            continue;
        }
        size_t k = utf8_seq(p, e);
        if (!k)
            return 0;
        p += k;
    }
    if (bs)
        *bs = slash != 0;
    return 1;
}

static int str_eq(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && memcmp(a, b, an) == 0;
}

static int str_eqz(const char *a, size_t an, const char *z)
{
    return str_eq(a, an, z, strlen(z));
}

static int ends_with(const char *a, size_t an, const char *z)
{
    size_t zn = strlen(z);
    return an >= zn && memcmp(a + an - zn, z, zn) == 0;
}

/* ---------------------------------------------------------------- numbers */

static const double pow10tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static double normal_nan(void)
{
    uint64_t b = COLL_EXPFMT_NORMAL_NAN_BITS;
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static double stale_nan(void)
{
    uint64_t b = COLL_EXPFMT_STALE_NAN_BITS;
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

enum { NUM_OK = 0, NUM_SYNTAX = -1, NUM_RANGE = -2 };

/*
 * Parses a float token: [+-] then digits with an optional fraction and
 * exponent, or Inf/Infinity (any case, optional sign), or NaN (any case, no
 * sign). That is what Go's strconv.ParseFloat accepts once Prometheus has
 * refused 'p', 'P' and '_', and what Python's float() accepts in the suite.
 * Overflow is an error unless allow_overflow (then +-Inf, like Python).
 * `tmp` holds the NUL-terminated copy strtod needs for long tokens.
 */
static int parse_float(const char *s, size_t n, int allow_overflow, struct pl_buf *tmp, double *out)
{
    const char *p = s, *e = s + n;
    int neg = 0;
    if (p < e && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
    }
    if (p == e)
        return NUM_SYNTAX;
    if ((*p | 0x20) == 'i') {
        size_t m = (size_t)(e - p);
        if ((m == 3 && strncasecmp(p, "inf", 3) == 0) ||
            (m == 8 && strncasecmp(p, "infinity", 8) == 0)) {
            *out = neg ? -INFINITY : INFINITY;
            return NUM_OK;
        }
        return NUM_SYNTAX;
    }
    if ((*p | 0x20) == 'n') {
        if (p == s && e - p == 3 && strncasecmp(p, "nan", 3) == 0) {
            *out = normal_nan();
            return NUM_OK;
        }
        return NUM_SYNTAX;
    }
    uint64_t m = 0;
    int nd = 0, trunc = 0;
    int64_t dexp = 0;
    size_t ndig = 0;
    while (p < e && (unsigned)(*p - '0') < 10) {
        ndig++;
        if (m == 0 && *p == '0') {
            /* leading zero */
        } else if (nd < 19) {
            m = m * 10 + (uint64_t)(*p - '0');
            nd++;
        } else {
            trunc = 1;
            dexp++;
        }
        p++;
    }
    if (p < e && *p == '.') {
        p++;
        while (p < e && (unsigned)(*p - '0') < 10) {
            ndig++;
            if (m == 0 && *p == '0') {
                dexp--;
            } else if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd++;
                dexp--;
            } else {
                trunc = 1;
            }
            p++;
        }
    }
    if (ndig == 0)
        return NUM_SYNTAX;
    if (p < e && (*p | 0x20) == 'e') {
        p++;
        int eneg = 0;
        if (p < e && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p == e || (unsigned)(*p - '0') >= 10)
            return NUM_SYNTAX;
        int64_t ev = 0;
        while (p < e && (unsigned)(*p - '0') < 10) {
            if (ev < 1000000)
                ev = ev * 10 + (*p - '0');
            p++;
        }
        dexp += eneg ? -ev : ev;
    }
    if (p != e)
        return NUM_SYNTAX;
    if (m == 0 && !trunc) {
        *out = neg ? -0.0 : 0.0;
        return NUM_OK;
    }
    /*
     * Clinger's fast path: an integer below 2^53 times or divided by an
     * exactly representable power of ten rounds once, so the result is the
     * correctly rounded value strtod returns.
     */
    if (!trunc && m <= (UINT64_C(1) << 53) && dexp >= -22 && dexp <= 22) {
        double v = (double)m;
        if (dexp < 0)
            v /= pow10tab[-dexp];
        else
            v *= pow10tab[dexp];
        *out = neg ? -v : v;
        return NUM_OK;
    }
    char small[64];
    char *c = small;
    if (n >= sizeof(small)) {
        pl_buf_reset(tmp);
        if (pl_buf_append(tmp, s, n) != 0)
            return NUM_RANGE;
        c = tmp->data;
    } else {
        memcpy(small, s, n);
        small[n] = '\0';
    }
    errno = 0;
    double v = strtod(c, NULL);
    if (isinf(v) && !allow_overflow)
        return NUM_RANGE;
    *out = v;
    return NUM_OK;
}

/* [+-]?digits (sign only if allow_sign) as int64. */
static int parse_int64(const char *s, size_t n, int allow_sign, int64_t *out)
{
    const char *p = s, *e = s + n;
    int neg = 0;
    if (allow_sign && p < e && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
    }
    if (p == e)
        return NUM_SYNTAX;
    uint64_t v = 0;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; p < e; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d >= 10)
            return NUM_SYNTAX;
        if (v > (lim - d) / 10)
            return NUM_RANGE;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return NUM_OK;
}

/* Seconds to ms, truncated toward zero and saturated, as Prometheus does. */
static int64_t secs_to_ms(double s)
{
    double ms = s * 1000.0;
    if (ms >= 9223372036854775807.0)
        return INT64_MAX;
    if (ms <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)ms;
}

/* ---------------------------------------------------------- u64 hash sets */

/* An open-addressing set of 64-bit hashes; clear costs O(inserted). */
struct u64set {
    uint64_t *slot;
    uint32_t *used; /* indexes of filled slots, for clearing */
    size_t cap, n;
};

static void u64set_fini(struct u64set *s)
{
    free(s->slot);
    free(s->used);
    memset(s, 0, sizeof(*s));
}

static void u64set_clear(struct u64set *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->slot[s->used[i]] = 0;
    s->n = 0;
}

/* Adds k; returns 1 if it was already there. */
static int u64set_add(struct u64set *s, uint64_t k)
{
    k = k ? k : 1;
    if ((s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        uint64_t *old = s->slot;
        uint32_t *oldused = s->used;
        size_t oldn = s->n;
        s->slot = pl_xcalloc(ncap, sizeof(uint64_t));
        s->used = pl_xmalloc(ncap / 2 * sizeof(uint32_t));
        s->cap = ncap;
        s->n = 0;
        for (size_t i = 0; i < oldn; i++)
            u64set_add(s, old[oldused[i]]);
        free(old);
        free(oldused);
    }
    size_t i = (size_t)(k ^ (k >> 29)) & (s->cap - 1);
    while (s->slot[i]) {
        if (s->slot[i] == k)
            return 1;
        i = (i + 1) & (s->cap - 1);
    }
    s->slot[i] = k;
    s->used[s->n++] = (uint32_t)i;
    return 0;
}

/* ----------------------------------------------------------------- parser */

/* A 0.0.4 metric family in strict mode (the prometheus/common parser's view). */
struct pfam {
    const char *name;
    size_t nlen;
    uint64_t hash;
    enum coll_expfmt_type type;
    unsigned char has_help, has_type;
};

/* OpenMetrics histogram/gaugehistogram structure of one group (strict). */
struct omhist {
    int active;
    uint64_t group;
    int has_ts;
    double ts;
    int has_bucket, has_count, has_sum, has_gsum, neg_buckets, neg_gsum;
    double bucket, value, count;
    uint32_t line;
};

/* The OpenMetrics family being read (strict). */
struct omfam {
    int active;
    const char *name;
    size_t nlen;
    enum coll_expfmt_type type;
    int has_help, has_type, has_unit, has_samples;
    const char *unit;
    size_t unitlen;
    uint32_t line;
};

struct coll_expfmt_parser {
    enum coll_expfmt_format fmt;
    unsigned flags;
    int strict;
    const char *buf, *p, *end, *line_start;
    uint32_t line;
    int state; /* 0 parsing, 1 done, 2 failed */
    int saw_eof;
    struct coll_expfmt_err err;
    /* coll_expfmt_expect: the series text the next sample probably has (borrowed). */
    const char *hint;
    size_t hint_len;

    /* per-entry scratch */
    struct coll_expfmt_label *lab;
    size_t nlab, caplab;
    struct coll_expfmt_label *exl;
    size_t nexl, capexl;
    size_t *decoff; /* per label: offset+1 of a decoded value in dec, or 0 */
    size_t capdecoff;
    struct pl_buf dec;
    struct pl_buf tmp;
    const struct coll_expfmt_label **sortv;
    size_t capsort;

    /* lenient family tracking: the last TYPE line */
    const char *tname;
    size_t tnlen;
    enum coll_expfmt_type ttype;

    /* strict 0.0.4 family table */
    struct pfam *fams;
    size_t nfams, capfams;
    uint32_t *fidx; /* open addressing: index+1, 0 = empty */
    size_t fcap;

    /* strict OpenMetrics */
    struct omfam cur;
    struct u64set seen_names, seen_groups, group_series;
    int have_group, group_has_ts;
    uint64_t group;
    double group_ts;
    struct omhist hist;
};

static const char *const type_names[] = {"untyped", "counter", "gauge",    "histogram",
                                         "summary", "info",    "stateset", "gaugehistogram"};

const char *coll_expfmt_type_name(enum coll_expfmt_type t)
{
    if ((unsigned)t >= sizeof(type_names) / sizeof(type_names[0]))
        return "untyped";
    return type_names[t];
}

struct coll_expfmt_parser *coll_expfmt_parser_new(enum coll_expfmt_format format, unsigned flags)
{
    ctab_init();
    struct coll_expfmt_parser *p = pl_xcalloc(1, sizeof(*p));
    p->fmt = format;
    p->flags = flags;
    p->strict = (flags & COLL_EXPFMT_STRICT) != 0;
    pl_buf_init(&p->dec, (size_t)1 << 31);
    pl_buf_init(&p->tmp, (size_t)1 << 31);
    p->state = 1;
    return p;
}

void coll_expfmt_parser_free(struct coll_expfmt_parser *p)
{
    if (!p)
        return;
    free(p->lab);
    free(p->exl);
    free(p->decoff);
    free(p->sortv);
    pl_buf_fini(&p->dec);
    pl_buf_fini(&p->tmp);
    free(p->fams);
    free(p->fidx);
    u64set_fini(&p->seen_names);
    u64set_fini(&p->seen_groups);
    u64set_fini(&p->group_series);
    free(p);
}

void coll_expfmt_parser_reset(struct coll_expfmt_parser *p, const char *buf, size_t len)
{
    p->buf = buf ? buf : "";
    p->p = p->buf;
    p->end = p->buf + (buf ? len : 0);
    p->line_start = p->buf;
    p->line = 1;
    p->state = 0;
    p->saw_eof = 0;
    memset(&p->err, 0, sizeof(p->err));
    p->tname = NULL;
    p->tnlen = 0;
    p->ttype = COLL_EXPFMT_UNTYPED;
    p->nfams = 0;
    if (p->fidx)
        memset(p->fidx, 0, p->fcap * sizeof(uint32_t));
    memset(&p->cur, 0, sizeof(p->cur));
    u64set_clear(&p->seen_names);
    u64set_clear(&p->seen_groups);
    u64set_clear(&p->group_series);
    p->have_group = 0;
    memset(&p->hist, 0, sizeof(p->hist));
    p->hint = NULL;
}

void coll_expfmt_expect(struct coll_expfmt_parser *p, const char *series, size_t n)
{
    /* Lenient 0.0.4 only: there a series' text parses the same wherever it appears. */
    if (p->strict || p->fmt != COLL_EXPFMT_PROMETHEUS || !n)
        return;
    p->hint = series;
    p->hint_len = n;
}

/*
 * The sample at p->p starts with the expected series text, followed by a
 * blank and something else than a label set: the text was accepted before,
 * so its labels need not be scanned again. Returns the end of the series.
 */
static const char *hint_match(struct coll_expfmt_parser *p)
{
    const char *h = p->hint;
    size_t n = p->hint_len;
    p->hint = NULL;
    if ((size_t)(p->end - p->p) <= n || memcmp(p->p, h, n) != 0)
        return NULL;
    const char *q = p->p + n;
    if (*q != ' ' && *q != '\t')
        return NULL;
    while (q < p->end && (*q == ' ' || *q == '\t'))
        q++;
    if (q < p->end && *q == '{')
        return NULL;
    return p->p + n;
}

enum coll_expfmt_format coll_expfmt_detect(const char *buf, size_t len)
{
    if (len && buf[len - 1] == '\n')
        len--;
    if (len >= 5 && memcmp(buf + len - 5, "# EOF", 5) == 0 && (len == 5 || buf[len - 6] == '\n'))
        return COLL_EXPFMT_OPENMETRICS;
    return COLL_EXPFMT_PROMETHEUS;
}

/* Records an error at `at` (a position in the buffer) and fails the parse. */
__attribute__((format(printf, 3, 4))) static int fail(struct coll_expfmt_parser *p, const char *at,
                                                      const char *fmt, ...)
{
    if (at < p->line_start)
        at = p->line_start;
    p->err.line = p->line;
    p->err.col = (uint32_t)(at - p->line_start) + 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err.msg, sizeof(p->err.msg), fmt, ap);
    va_end(ap);
    p->state = 2;
    return PL_ERR_INVALID;
}

/* An error reported at the start of an earlier line (whole-family rules). */
__attribute__((format(printf, 3, 4))) static int fail_line(struct coll_expfmt_parser *p,
                                                           uint32_t line, const char *fmt, ...)
{
    p->err.line = line;
    p->err.col = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err.msg, sizeof(p->err.msg), fmt, ap);
    va_end(ap);
    p->state = 2;
    return PL_ERR_INVALID;
}

/* Shows a token in a message: printable ASCII as is, at most 40 bytes. */
static const char *show(char *out, size_t outlen, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= 40) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[o++] = (char)c;
        } else {
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
        }
    }
    out[o < outlen ? o : outlen - 1] = '\0';
    return out;
}

static const char *describe_at(char *out, size_t outlen, const char *p, const char *end)
{
    if (p >= end)
        return "end of input";
    if (*p == '\n')
        return "end of line";
    const char *e = p;
    while (e < end && e - p < 20 && *e != '\n' && *e != ' ' && *e != '\t')
        e++;
    if (e == p)
        e = p + 1;
    char tmp[96];
    snprintf(out, outlen, "\"%s\"", show(tmp, sizeof(tmp), p, (size_t)(e - p)));
    return out;
}

static void newline_at(struct coll_expfmt_parser *p, const char *nl)
{
    p->line++;
    p->line_start = nl + 1;
}

static int is_om(const struct coll_expfmt_parser *p)
{
    return p->fmt == COLL_EXPFMT_OPENMETRICS;
}

/* ------------------------------------------------------ labels and values */

static void grow_labels(struct coll_expfmt_label **v, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    *v = pl_xreallocarray(*v, ncap, sizeof(**v));
    *cap = ncap;
}

/*
 * Scans a quoted label value; p->p is at the opening quote. On success
 * (*vs, *vn) is the raw value and *esc says whether it holds a backslash.
 * Checks escapes and UTF-8 as the mode requires.
 */
static int scan_lvalue(struct coll_expfmt_parser *p, const char **vs, size_t *vn, int *esc)
{
    const char *q = p->p + 1, *end = p->end;
    int om = is_om(p);
    *esc = 0;
    for (;;) {
        while (q < end && !(ctab[(unsigned char)*q] & C_LVSTOP))
            q++;
        if (q >= end)
            return fail(p, q, "unterminated label value");
        unsigned char c = (unsigned char)*q;
        if (c == '"')
            break;
        if (c == '\\') {
            if (q + 1 >= end)
                return fail(p, q + 1, "unterminated label value");
            char n = q[1];
            if (p->strict && !om) {
                if (n != '\\' && n != '"' && n != 'n')
                    return fail(p, q, "invalid escape sequence '\\%c' in label value",
                                (n >= 0x20 && n < 0x7f) ? n : '?');
            } else if (n == '\n') {
                return fail(p, q, "backslash at end of line in label value");
            } else if ((unsigned char)n >= 0x80) {
                /* the escaped byte must still be valid UTF-8 */
                if (!utf8_seq((const unsigned char *)q + 1, (const unsigned char *)end))
                    return fail(p, q + 1, "invalid UTF-8 label value");
                q += utf8_seq((const unsigned char *)q + 1, (const unsigned char *)end) - 1;
            }
            *esc = 1;
            q += 2;
            continue;
        }
        if (c == '\n') {
            if (om || p->strict)
                return fail(p, q, "label value contains an unescaped new line");
            newline_at(p, q);
            q++;
            continue;
        }
        size_t k = utf8_seq((const unsigned char *)q, (const unsigned char *)end);
        if (!k)
            return fail(p, q, "invalid UTF-8 label value");
        q += k;
    }
    *vs = p->p + 1;
    *vn = (size_t)(q - (p->p + 1));
    p->p = q + 1;
    return 0;
}

/* Decodes \\ \" \n (others kept as written) into p->dec; returns the offset. */
static size_t decode_escapes(struct coll_expfmt_parser *p, const char *s, size_t n)
{
    size_t off = p->dec.len;
    pl_buf_reserve(&p->dec, n + 1);
    char *o = p->dec.data + off;
    const char *e = s + n;
    while (s < e) {
        if (*s == '\\' && s + 1 < e) {
            char c = s[1];
            if (c == 'n') {
                *o++ = '\n';
                s += 2;
                continue;
            }
            if (c == '\\' || c == '"') {
                *o++ = c;
                s += 2;
                continue;
            }
            *o++ = *s++;
            *o++ = *s++;
            continue;
        }
        *o++ = *s++;
    }
    p->dec.len = (size_t)(o - p->dec.data);
    p->dec.data[p->dec.len] = '\0';
    return off;
}

static int lab_name_cmp(const void *a, const void *b)
{
    const struct coll_expfmt_label *x = *(const struct coll_expfmt_label *const *)a;
    const struct coll_expfmt_label *y = *(const struct coll_expfmt_label *const *)b;
    size_t m = x->name.n < y->name.n ? x->name.n : y->name.n;
    int c = memcmp(x->name.p, y->name.p, m);
    if (c)
        return c;
    return x->name.n < y->name.n ? -1 : x->name.n > y->name.n;
}

/* The first duplicated label name, or NULL. Pairwise when few, sorted when many. */
static const struct coll_expfmt_label *find_dup(struct coll_expfmt_parser *p,
                                                const struct coll_expfmt_label *v, size_t n)
{
    if (n < 2)
        return NULL;
    if (n <= 16) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (str_eq(v[i].name.p, v[i].name.n, v[j].name.p, v[j].name.n))
                    return &v[i];
        return NULL;
    }
    if (p->capsort < n) {
        p->sortv = pl_xreallocarray(p->sortv, n, sizeof(*p->sortv));
        p->capsort = n;
    }
    for (size_t i = 0; i < n; i++)
        p->sortv[i] = &v[i];
    qsort(p->sortv, n, sizeof(*p->sortv), lab_name_cmp);
    for (size_t i = 1; i < n; i++)
        if (lab_name_cmp(&p->sortv[i - 1], &p->sortv[i]) == 0)
            return p->sortv[i];
    return NULL;
}

/* ---------------------------------------------------- strict 0.0.4 families */

static struct pfam *pfam_lookup(struct coll_expfmt_parser *p, const char *name, size_t n)
{
    if (!p->fcap)
        return NULL;
    uint64_t h = pl_hash64(name, n, 0x5eed);
    size_t i = (size_t)h & (p->fcap - 1);
    while (p->fidx[i]) {
        struct pfam *f = &p->fams[p->fidx[i] - 1];
        if (f->hash == h && str_eq(f->name, f->nlen, name, n))
            return f;
        i = (i + 1) & (p->fcap - 1);
    }
    return NULL;
}

static struct pfam *pfam_add(struct coll_expfmt_parser *p, const char *name, size_t n)
{
    if ((p->nfams + 1) * 2 > p->fcap) {
        size_t ncap = p->fcap ? p->fcap * 2 : 64;
        free(p->fidx);
        p->fidx = pl_xcalloc(ncap, sizeof(uint32_t));
        p->fcap = ncap;
        for (size_t k = 0; k < p->nfams; k++) {
            size_t i = (size_t)p->fams[k].hash & (ncap - 1);
            while (p->fidx[i])
                i = (i + 1) & (ncap - 1);
            p->fidx[i] = (uint32_t)k + 1;
        }
    }
    if (p->nfams == p->capfams) {
        p->capfams = p->capfams ? p->capfams * 2 : 64;
        p->fams = pl_xreallocarray(p->fams, p->capfams, sizeof(*p->fams));
    }
    struct pfam *f = &p->fams[p->nfams];
    memset(f, 0, sizeof(*f));
    f->name = name;
    f->nlen = n;
    f->hash = pl_hash64(name, n, 0x5eed);
    size_t i = (size_t)f->hash & (p->fcap - 1);
    while (p->fidx[i])
        i = (i + 1) & (p->fcap - 1);
    p->fidx[i] = (uint32_t)p->nfams + 1;
    p->nfams++;
    return f;
}

/*
 * The family a 0.0.4 name belongs to, created if new: the name itself, or
 * for `x_sum`/`x_count` a summary `x`, or for `x_sum`/`x_count`/`x_bucket`
 * a histogram `x` (the prometheus/common text parser's rule).
 */
static struct pfam *pfam_resolve(struct coll_expfmt_parser *p, const char *name, size_t n)
{
    struct pfam *f = pfam_lookup(p, name, n);
    if (f)
        return f;
    static const char *const sfx[] = {"_sum", "_count", "_bucket"};
    for (int i = 0; i < 3; i++) {
        if (!ends_with(name, n, sfx[i]))
            continue;
        f = pfam_lookup(p, name, n - strlen(sfx[i]));
        if (f && (f->type == COLL_EXPFMT_HISTOGRAM || (i < 2 && f->type == COLL_EXPFMT_SUMMARY)))
            return f;
    }
    return pfam_add(p, name, n);
}

/* ------------------------------------------------- lenient family guessing */

static int suffix_fits(enum coll_expfmt_type t, const char *sfx, size_t n, int om)
{
#define IS(z) str_eqz(sfx, n, z)
    switch (t) {
    case COLL_EXPFMT_COUNTER:
        return om ? (IS("_total") || IS("_created")) : (n == 0 || IS("_total") || IS("_created"));
    case COLL_EXPFMT_SUMMARY:
        return n == 0 || IS("_sum") || IS("_count") || IS("_created");
    case COLL_EXPFMT_HISTOGRAM:
        return IS("_bucket") || IS("_sum") || IS("_count") || IS("_created");
    case COLL_EXPFMT_GAUGEHISTOGRAM:
        return IS("_bucket") || IS("_gsum") || IS("_gcount");
    case COLL_EXPFMT_INFO:
        return IS("_info");
    default:
        return n == 0;
    }
#undef IS
}

static void guess_family(struct coll_expfmt_parser *p, struct coll_expfmt_sample *s)
{
    const char *n = s->name.p;
    size_t nl = s->name.n;
    if (p->tname && nl >= p->tnlen && memcmp(n, p->tname, p->tnlen) == 0 &&
        suffix_fits(p->ttype, n + p->tnlen, nl - p->tnlen, is_om(p))) {
        s->family.p = p->tname;
        s->family.n = p->tnlen;
        s->type = p->ttype;
        return;
    }
    s->family = s->name;
    s->type = COLL_EXPFMT_UNTYPED;
}

/* ------------------------------------------------------- the 0.0.4 grammar */

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void skip_blanks(struct coll_expfmt_parser *p)
{
    while (p->p < p->end && is_blank(*p->p))
        p->p++;
}

/* End of a line: '\n', or the end of the input where the mode allows it. */
static int end_line(struct coll_expfmt_parser *p)
{
    if (p->p < p->end && *p->p == '\n') {
        newline_at(p, p->p);
        p->p++;
        return 0;
    }
    if (p->p >= p->end) {
        if (p->strict)
            return fail(p, p->p, "unexpected end of input: the last line must end with a newline");
        return 0;
    }
    char d[64];
    return fail(p, p->p, "unexpected %s at end of line", describe_at(d, sizeof(d), p->p, p->end));
}

static const char *find_eol(const char *q, const char *end)
{
    const char *nl = memchr(q, '\n', (size_t)(end - q));
    return nl ? nl : end;
}

static int parse_type_word(const char *s, size_t n, int om, int icase, enum coll_expfmt_type *t)
{
#define TYPE_WORD(w) w, sizeof(w) - 1
    static const struct {
        const char *w;
        size_t n;
        enum coll_expfmt_type t;
        int om, prom;
    } words[] = {
        {TYPE_WORD("counter"), COLL_EXPFMT_COUNTER, 1, 1},
        {TYPE_WORD("gauge"), COLL_EXPFMT_GAUGE, 1, 1},
        {TYPE_WORD("histogram"), COLL_EXPFMT_HISTOGRAM, 1, 1},
        {TYPE_WORD("summary"), COLL_EXPFMT_SUMMARY, 1, 1},
        {TYPE_WORD("untyped"), COLL_EXPFMT_UNTYPED, 0, 1},
        {TYPE_WORD("unknown"), COLL_EXPFMT_UNTYPED, 1, 0},
        {TYPE_WORD("info"), COLL_EXPFMT_INFO, 1, 0},
        {TYPE_WORD("stateset"), COLL_EXPFMT_STATESET, 1, 0},
        {TYPE_WORD("gaugehistogram"), COLL_EXPFMT_GAUGEHISTOGRAM, 1, 0},
    };
#undef TYPE_WORD
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (!(om ? words[i].om : words[i].prom) || words[i].n != n)
            continue;
        if (icase ? strncasecmp(s, words[i].w, n) == 0 : memcmp(s, words[i].w, n) == 0) {
            *t = words[i].t;
            return 0;
        }
    }
    return -1;
}

/*
 * HELP text: decodes \\ and \n (and \" in OpenMetrics); strict 0.0.4 refuses
 * others. bs: whether the text holds a backslash, or -1 when not known.
 */
static int decode_help(struct coll_expfmt_parser *p, const char *s, size_t n, int bs,
                       struct coll_expfmt_str *out)
{
    if (bs == 0 || (bs < 0 && !memchr(s, '\\', n))) {
        out->p = s;
        out->n = n;
        return 0;
    }
    if (p->strict && !is_om(p)) {
        for (size_t i = 0; i < n; i++) {
            if (s[i] != '\\')
                continue;
            if (i + 1 >= n || (s[i + 1] != '\\' && s[i + 1] != 'n'))
                return fail(p, s + i, "invalid escape sequence in HELP text");
            i++;
        }
    }
    pl_buf_reset(&p->dec);
    size_t off = p->dec.len;
    pl_buf_reserve(&p->dec, n + 1);
    char *o = p->dec.data;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n &&
            (s[i + 1] == '\\' || s[i + 1] == 'n' || (is_om(p) && s[i + 1] == '"'))) {
            *o++ = s[i + 1] == 'n' ? '\n' : s[i + 1];
            i++;
        } else {
            *o++ = s[i];
        }
    }
    p->dec.len = (size_t)(o - p->dec.data);
    out->p = p->dec.data + off;
    out->n = p->dec.len - off;
    return 0;
}

/* A `#` line of 0.0.4; p->p is just past the '#'. Returns a kind, 0 or an error. */
static int prom_comment(struct coll_expfmt_parser *p, struct coll_expfmt_entry *e)
{
    const char *eol = find_eol(p->p, p->end);
    int blank_after_hash = p->p < p->end && is_blank(*p->p);
    skip_blanks(p);
    const char *kw = p->p;
    int help = eol - kw >= 4 && memcmp(kw, "HELP", 4) == 0;
    int type = eol - kw >= 4 && memcmp(kw, "TYPE", 4) == 0;
    const char *after = kw + 4;
    if (p->strict) {
        /* the keyword is a whole token */
        if ((help || type) && after < eol && !is_blank(*after))
            help = type = 0;
        if ((help || type) && after >= eol)
            help = type = 0; /* `# HELP` alone: an ordinary comment */
    } else {
        /* Prometheus: "#[ \t]+(HELP|TYPE)[ \t]+" starts metadata */
        if (!blank_after_hash || after >= eol || !is_blank(*after))
            help = type = 0;
    }
    if (!help && !type) {
        p->p = eol;
        return end_line(p);
    }
    p->p = after;
    skip_blanks(p);
    const char *name = p->p;
    size_t nn = scan_name(p->p, eol, C_MSTART, C_MCHAR);
    p->p += nn;
    if (p->strict) {
        if (p->p >= eol)
            return end_line(p) ? PL_ERR_INVALID : 0; /* name only: nothing to record */
        if (!is_blank(*p->p))
            return fail(p, p->p, "invalid metric name in %s line", help ? "HELP" : "TYPE");
    } else if (nn == 0) {
        char d[64];
        return fail(p, p->p, "expected metric name after %s, got %s", help ? "HELP" : "TYPE",
                    describe_at(d, sizeof(d), p->p, p->end));
    }
    struct pfam *f = p->strict ? pfam_resolve(p, name, nn) : NULL;
    const char *text;
    if (p->strict) {
        skip_blanks(p);
        text = p->p;
        if (text >= eol) {
            p->p = eol;
            return end_line(p) ? PL_ERR_INVALID : 0;
        }
    } else {
        text = p->p < eol ? p->p + 1 : p->p;
    }
    size_t tn = (size_t)(eol - text);
    e->line = p->line;
    e->meta_name.p = name;
    e->meta_name.n = nn;
    if (help) {
        if (f && f->has_help)
            return fail(p, name, "second HELP line for metric name %.*s",
                        (int)(nn > 200 ? 200 : nn), name);
        /*
         * Prometheus's scraper refuses HELP text that is not UTF-8; promtool
         * (the 0.0.4 authority for strict mode) does not look.
         */
        int bs = -1;
        if (!p->strict && !utf8_valid_bs(text, tn, &bs))
            return fail(p, text, "HELP text is not valid UTF-8");
        if (decode_help(p, text, tn, bs, &e->meta_text))
            return PL_ERR_INVALID;
        if (f)
            f->has_help = 1;
        e->kind = COLL_EXPFMT_HELP;
    } else {
        if (f && f->has_type)
            return fail(p, name,
                        "second TYPE line for metric name %.*s, or TYPE reported after samples",
                        (int)(nn > 200 ? 200 : nn), name);
        enum coll_expfmt_type t;
        const char *word = text;
        size_t wn = tn;
        if (p->strict && memchr(text, '\\', tn)) {
            /* promtool's reader drops backslashes from the type word */
            pl_buf_reset(&p->tmp);
            for (size_t i = 0; i < tn; i++)
                if (text[i] != '\\')
                    pl_buf_putc(&p->tmp, text[i]);
            word = p->tmp.data ? p->tmp.data : "";
            wn = p->tmp.len;
        }
        if (parse_type_word(word, wn, 0, p->strict, &t)) {
            char d[96];
            return fail(p, text, "unknown metric type \"%s\"", show(d, sizeof(d), text, tn));
        }
        if (f) {
            f->has_type = 1;
            f->type = t;
        }
        p->tname = name;
        p->tnlen = nn;
        p->ttype = t;
        e->meta_text.p = text;
        e->meta_text.n = tn;
        e->meta_type = t;
        e->kind = COLL_EXPFMT_TYPE;
    }
    p->p = eol;
    if (end_line(p))
        return PL_ERR_INVALID;
    return (int)e->kind;
}

/* Fixes label value pointers that were decoded into p->dec. */
static void fix_decoded(struct coll_expfmt_parser *p, struct coll_expfmt_label *v, size_t n,
                        size_t base)
{
    for (size_t i = 0; i < n; i++) {
        if (p->decoff[base + i]) {
            size_t off = p->decoff[base + i] - 1;
            v[i].value.p = p->dec.data + off;
        }
    }
}

static void note_decoded(struct coll_expfmt_parser *p, size_t idx, size_t off_plus1)
{
    if (idx >= p->capdecoff) {
        size_t ncap = p->capdecoff ? p->capdecoff * 2 : 32;
        while (ncap <= idx)
            ncap *= 2;
        p->decoff = pl_xreallocarray(p->decoff, ncap, sizeof(size_t));
        p->capdecoff = ncap;
    }
    p->decoff[idx] = off_plus1;
}

/* 0.0.4 label list; p->p is at '{'. */
static int prom_labels(struct coll_expfmt_parser *p, struct pfam *f)
{
    p->p++;
    for (;;) {
        skip_blanks(p);
        if (p->p < p->end && *p->p == '}') {
            p->p++;
            return 0;
        }
        const char *ln = p->p;
        size_t lnn = scan_name(p->p, p->end, C_LSTART, C_LCHAR);
        if (!lnn) {
            char d[64];
            return fail(p, p->p, "expected label name, got %s",
                        describe_at(d, sizeof(d), p->p, p->end));
        }
        p->p += lnn;
        if (str_eqz(ln, lnn, "__name__"))
            return fail(p, ln, "label name \"__name__\" is reserved");
        skip_blanks(p);
        if (p->p >= p->end || *p->p != '=') {
            char d[64];
            return fail(p, p->p, "expected '=' after label name, got %s",
                        describe_at(d, sizeof(d), p->p, p->end));
        }
        p->p++;
        if (p->strict)
            skip_blanks(p);
        else if (p->p < p->end && is_blank(*p->p))
            /* Prometheus's lexer drops NULs in the blanks before a label
             * value, but not right after the '=' */
            while (p->p < p->end && (is_blank(*p->p) || *p->p == '\0'))
                p->p++;
        if (p->p >= p->end || *p->p != '"') {
            char d[64];
            return fail(p, p->p, "expected '\"' at start of label value, got %s",
                        describe_at(d, sizeof(d), p->p, p->end));
        }
        const char *vstart = p->p;
        const char *vs;
        size_t vn;
        int esc;
        if (scan_lvalue(p, &vs, &vn, &esc))
            return PL_ERR_INVALID;
        grow_labels(&p->lab, &p->caplab, p->nlab + 1);
        struct coll_expfmt_label *l = &p->lab[p->nlab];
        l->name.p = ln;
        l->name.n = lnn;
        l->value.p = vs;
        l->value.n = vn;
        size_t doff = 0;
        if (esc) {
            doff = decode_escapes(p, vs, vn) + 1;
            l->value.n = p->dec.len - (doff - 1);
            l->value.p = p->dec.data + doff - 1;
        }
        note_decoded(p, p->nlab, doff);
        p->nlab++;
        if (f && (f->type == COLL_EXPFMT_SUMMARY || f->type == COLL_EXPFMT_HISTOGRAM)) {
            const char *special = f->type == COLL_EXPFMT_SUMMARY ? "quantile" : "le";
            double d;
            if (str_eqz(ln, lnn, special) &&
                parse_float(l->value.p, l->value.n, 0, &p->tmp, &d) != NUM_OK) {
                char s[96];
                return fail(p, vstart, "expected float as value for '%s' label, got \"%s\"",
                            special, show(s, sizeof(s), l->value.p, l->value.n));
            }
        }
        skip_blanks(p);
        if (p->p < p->end && *p->p == ',') {
            p->p++;
            continue;
        }
        if (p->p < p->end && *p->p == '}') {
            p->p++;
            return 0;
        }
        if (!p->strict && p->p < p->end && (ctab[(unsigned char)*p->p] & C_LSTART))
            continue; /* Prometheus's scrape parser does not insist on commas */
        char d[64];
        return fail(p, p->p, "expected ',' or '}' after label value, got %s",
                    describe_at(d, sizeof(d), p->p, p->end));
    }
}

static int value_token(struct coll_expfmt_parser *p, const char *tok, size_t n, double *v,
                       int allow_overflow)
{
    if ((p->flags & COLL_EXPFMT_STALE_TOKEN) && str_eqz(tok, n, "stale")) {
        *v = stale_nan();
        return 0;
    }
    int rc = parse_float(tok, n, allow_overflow, &p->tmp, v);
    if (rc == NUM_OK)
        return 0;
    char d[96];
    if (rc == NUM_RANGE)
        return fail(p, tok, "value \"%s\" is out of range", show(d, sizeof(d), tok, n));
    if (n == 0)
        return fail(p, tok, "expected a value");
    return fail(p, tok, "expected float as value, got \"%s\"", show(d, sizeof(d), tok, n));
}

static void fill_sample(struct coll_expfmt_parser *p, struct coll_expfmt_entry *e, const char *name,
                        size_t nn, const char *series_end)
{
    struct coll_expfmt_sample *s = &e->sample;
    e->kind = COLL_EXPFMT_SAMPLE;
    s->name.p = name;
    s->name.n = nn;
    s->series.p = name;
    s->series.n = (size_t)(series_end - name);
    s->labels = p->lab;
    s->nlabels = p->nlab;
    s->hinted = 0;
    s->has_ts = 0;
    s->ts_ms = 0;
    s->has_exemplar = 0;
    s->ex_labels = NULL;
    s->ex_nlabels = 0;
    s->ex_value = 0;
    s->ex_has_ts = 0;
    s->ex_ts_ms = 0;
}

/* A 0.0.4 sample line; p->p is at the first byte of the name. */
static int prom_sample(struct coll_expfmt_parser *p, struct coll_expfmt_entry *e)
{
    const char *name = p->p;
    uint32_t line = p->line;
    const char *known = p->hint ? hint_match(p) : NULL;
    size_t nn;
    if (known) {
        /* Text accepted before: the name ends at its label set or with the series. */
        const char *brace = memchr(name, '{', (size_t)(known - name));
        nn = (size_t)((brace ? brace : known) - name);
    } else {
        nn = scan_name(p->p, p->end, C_MSTART, C_MCHAR);
    }
    if (!nn) {
        char d[64];
        return fail(p, p->p, "invalid metric name: %s", describe_at(d, sizeof(d), p->p, p->end));
    }
    p->p += nn;
    struct pfam *f = NULL;
    if (p->strict) {
        f = pfam_resolve(p, name, nn);
        f->has_type = 1; /* a TYPE line after samples is an error */
    }
    const char *series_end = name + nn;
    if (known) {
        /* The expected series: its labels were checked when it was first parsed. */
        p->p = series_end = known;
    }
    skip_blanks(p);
    if (!known && p->p < p->end && *p->p == '{') {
        if (prom_labels(p, f))
            return PL_ERR_INVALID;
        series_end = p->p;
        skip_blanks(p);
    }
    const char *tok = p->p;
    if (p->strict) {
        while (p->p < p->end && *p->p != ' ' && *p->p != '\t' && *p->p != '\n')
            p->p++;
    } else {
        while (p->p < p->end && *p->p != ' ' && *p->p != '\t' && *p->p != '\n' && *p->p != '{')
            p->p++;
    }
    fill_sample(p, e, name, nn, series_end);
    e->line = line;
    e->sample.hinted = known != NULL;
    if (value_token(p, tok, (size_t)(p->p - tok), &e->sample.value, 0))
        return PL_ERR_INVALID;
    struct coll_expfmt_sample *s = &e->sample;
    if (p->strict) {
        if (p->p < p->end && *p->p == '\n') {
            /* no timestamp */
        } else {
            if (p->p >= p->end)
                return end_line(p);
            skip_blanks(p);
            const char *ts = p->p;
            while (p->p < p->end && *p->p != ' ' && *p->p != '\t' && *p->p != '\n')
                p->p++;
            if (parse_int64(ts, (size_t)(p->p - ts), 1, &s->ts_ms) != NUM_OK) {
                char d[96];
                return fail(p, ts, "expected integer as timestamp, got \"%s\"",
                            show(d, sizeof(d), ts, (size_t)(p->p - ts)));
            }
            s->has_ts = 1;
            if (p->p < p->end && *p->p != '\n')
                return fail(p, p->p, "spurious string after timestamp");
        }
    } else {
        skip_blanks(p);
        if (p->p < p->end && *p->p != '\n') {
            const char *ts = p->p;
            while (p->p < p->end && (unsigned)(*p->p - '0') < 10)
                p->p++;
            if (p->p == ts) {
                char d[64];
                return fail(p, ts, "expected timestamp or new record, got %s",
                            describe_at(d, sizeof(d), ts, p->end));
            }
            if (parse_int64(ts, (size_t)(p->p - ts), 0, &s->ts_ms) != NUM_OK)
                return fail(p, ts, "timestamp out of range");
            s->has_ts = 1;
            skip_blanks(p);
        }
    }
    if (end_line(p))
        return PL_ERR_INVALID;
    const struct coll_expfmt_label *dup = find_dup(p, p->lab, p->nlab);
    if (dup)
        return fail_line(p, line, "duplicate label name \"%.*s\"",
                         (int)(dup->name.n > 200 ? 200 : dup->name.n), dup->name.p);
    fix_decoded(p, p->lab, p->nlab, 0);
    if (f) {
        s->family.p = f->name;
        s->family.n = f->nlen;
        s->type = f->type;
    } else {
        guess_family(p, s);
    }
    return COLL_EXPFMT_SAMPLE;
}

static int prom_next(struct coll_expfmt_parser *p, struct coll_expfmt_entry *e)
{
    for (;;) {
        p->nlab = 0;
        pl_buf_reset(&p->dec);
        skip_blanks(p);
        if (p->p >= p->end) {
            p->state = 1;
            return 0;
        }
        char c = *p->p;
        if (c == '\n') {
            newline_at(p, p->p);
            p->p++;
            continue;
        }
        if (c == '\0' && !p->strict) {
            /* Prometheus's lexer reads a NUL at the start of a line as the end */
            p->state = 1;
            return 0;
        }
        int rc;
        if (c == '#') {
            p->p++;
            rc = prom_comment(p, e);
            if (rc == 0)
                continue;
            return rc;
        }
        return prom_sample(p, e);
    }
}

/* --------------------------------------------------- the OpenMetrics grammar */

/* OpenMetrics label list into v; p->p is at '{'. */
static int om_labels(struct coll_expfmt_parser *p, struct coll_expfmt_label **v, size_t *n,
                     size_t *cap, size_t dbase)
{
    p->p++;
    if (p->p < p->end && *p->p == '}') {
        p->p++;
        return 0;
    }
    for (;;) {
        const char *ln = p->p;
        size_t lnn = scan_name(p->p, p->end, C_LSTART, C_LCHAR);
        if (!lnn) {
            char d[64];
            return fail(p, p->p, "expected label name, got %s",
                        describe_at(d, sizeof(d), p->p, p->end));
        }
        p->p += lnn;
        if (str_eqz(ln, lnn, "__name__"))
            return fail(p, ln, "label name \"__name__\" is reserved");
        if (p->p >= p->end || *p->p != '=') {
            char d[64];
            return fail(p, p->p, "expected '=' after label name, got %s",
                        describe_at(d, sizeof(d), p->p, p->end));
        }
        p->p++;
        if (p->p >= p->end || *p->p != '"') {
            char d[64];
            return fail(p, p->p, "expected '\"' at start of label value, got %s",
                        describe_at(d, sizeof(d), p->p, p->end));
        }
        const char *vs;
        size_t vn;
        int esc;
        if (scan_lvalue(p, &vs, &vn, &esc))
            return PL_ERR_INVALID;
        grow_labels(v, cap, *n + 1);
        struct coll_expfmt_label *l = &(*v)[*n];
        l->name.p = ln;
        l->name.n = lnn;
        l->value.p = vs;
        l->value.n = vn;
        size_t doff = 0;
        if (esc) {
            doff = decode_escapes(p, vs, vn) + 1;
            l->value.n = p->dec.len - (doff - 1);
            l->value.p = p->dec.data + doff - 1;
        }
        note_decoded(p, dbase + *n, doff);
        (*n)++;
        if (p->p < p->end && *p->p == ',') {
            p->p++;
            continue;
        }
        if (p->p < p->end && *p->p == '}') {
            p->p++;
            return 0;
        }
        char d[64];
        return fail(p, p->p, "expected ',' or '}' after label value, got %s",
                    describe_at(d, sizeof(d), p->p, p->end));
    }
}

/* An OpenMetrics token: up to the next space or newline. */
static size_t om_token(const struct coll_expfmt_parser *p)
{
    const char *q = p->p;
    while (q < p->end && *q != ' ' && *q != '\n')
        q++;
    return (size_t)(q - p->p);
}

static int om_timestamp(struct coll_expfmt_parser *p, const char *tok, size_t n, int64_t *ms,
                        double *secs, const char *what)
{
    double d;
    int rc = parse_float(tok, n, 1, &p->tmp, &d);
    char s[96];
    if (rc != NUM_OK)
        return fail(p, tok, "invalid %s \"%s\"", what, show(s, sizeof(s), tok, n));
    if (isnan(d) || isinf(d))
        return fail(p, tok, "invalid %s \"%s\": must be finite", what, show(s, sizeof(s), tok, n));
    *ms = secs_to_ms(d);
    if (secs)
        *secs = d;
    return 0;
}

static size_t codepoints(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

/* "# {labels} value [timestamp]" after a sample; p->p is at the '#'. */
static int om_exemplar(struct coll_expfmt_parser *p, struct coll_expfmt_sample *s)
{
    if (p->end - p->p < 3 || p->p[1] != ' ' || p->p[2] != '{') {
        char d[64];
        return fail(p, p->p, "expected \"# {\" to start an exemplar, got %s",
                    describe_at(d, sizeof(d), p->p, p->end));
    }
    const char *start = p->p;
    p->p += 2;
    p->nexl = 0;
    if (om_labels(p, &p->exl, &p->nexl, &p->capexl, p->nlab))
        return PL_ERR_INVALID;
    const struct coll_expfmt_label *dup = find_dup(p, p->exl, p->nexl);
    if (dup)
        return fail(p, start, "duplicate exemplar label name \"%.*s\"",
                    (int)(dup->name.n > 200 ? 200 : dup->name.n), dup->name.p);
    if (p->p >= p->end || *p->p != ' ') {
        char d[64];
        return fail(p, p->p, "expected value after exemplar labels, got %s",
                    describe_at(d, sizeof(d), p->p, p->end));
    }
    p->p++;
    size_t n = om_token(p);
    if (n == 0)
        return fail(p, p->p, "expected value after exemplar labels");
    int rc = parse_float(p->p, n, p->strict, &p->tmp, &s->ex_value);
    if (rc != NUM_OK) {
        char d[96];
        return fail(p, p->p, "invalid exemplar value \"%s\"", show(d, sizeof(d), p->p, n));
    }
    p->p += n;
    if (p->p < p->end && *p->p == ' ') {
        p->p++;
        n = om_token(p);
        if (n == 0)
            return fail(p, p->p, "expected exemplar timestamp");
        if (om_timestamp(p, p->p, n, &s->ex_ts_ms, NULL, "exemplar timestamp"))
            return PL_ERR_INVALID;
        s->ex_has_ts = 1;
        p->p += n;
    }
    if (p->strict) {
        size_t len = 0;
        for (size_t i = 0; i < p->nexl; i++) {
            const struct coll_expfmt_label *l = &p->exl[i];
            const char *v =
                p->decoff[p->nlab + i] ? p->dec.data + p->decoff[p->nlab + i] - 1 : l->value.p;
            len += codepoints(l->name.p, l->name.n) + codepoints(v, l->value.n);
        }
        if (len > 128)
            return fail(p, start, "exemplar labels are %zu characters long, more than 128", len);
    }
    s->has_exemplar = 1;
    return 0;
}

/* ---------------------------------------------- strict OpenMetrics families */

static uint64_t hash_str2(const char *a, size_t an, const char *b, size_t bn, struct pl_buf *tmp)
{
    pl_buf_reset(tmp);
    pl_buf_append(tmp, a, an);
    pl_buf_append(tmp, b, bn);
    return pl_hash64(tmp->data ? tmp->data : "", tmp->len, 0xc1a5);
}

/*
 * Hash of one label pair for group and series keys: XXH3 over the bytes
 * name="value (value decoded). An undecoded value hashes the input slice
 * directly, which holds exactly those bytes in OpenMetrics.
 */
static uint64_t pair_hash(struct coll_expfmt_parser *p, const struct coll_expfmt_label *l)
{
    uint64_t h;
    const char *raw_end = l->name.p + l->name.n + 2 + l->value.n;
    if (l->value.p == l->name.p + l->name.n + 2 && raw_end <= p->end) {
        h = pl_hash64(l->name.p, (size_t)(raw_end - l->name.p), 0x1abe1);
    } else {
        pl_buf_reset(&p->tmp);
        pl_buf_append(&p->tmp, l->name.p, l->name.n);
        pl_buf_append(&p->tmp, "=\"", 2);
        pl_buf_append(&p->tmp, l->value.p, l->value.n);
        h = pl_hash64(p->tmp.data, p->tmp.len, 0x1abe1);
    }
    /* mix so that a sum over pairs does not cancel */
    h ^= h >> 31;
    h *= UINT64_C(0x9e3779b97f4a7c15);
    return h;
}

static const char *const *clash_suffixes(enum coll_expfmt_type t)
{
    static const char *const counter[] = {"_total", "_created", "", NULL};
    static const char *const summary[] = {"", "_count", "_sum", "_created", NULL};
    static const char *const histogram[] = {"_count", "_sum", "_bucket", "_created", "", NULL};
    static const char *const ghist[] = {"_gcount", "_gsum", "_bucket", "", NULL};
    static const char *const info[] = {"_info", "", NULL};
    static const char *const plain[] = {"", NULL};
    switch (t) {
    case COLL_EXPFMT_COUNTER:
        return counter;
    case COLL_EXPFMT_SUMMARY:
        return summary;
    case COLL_EXPFMT_HISTOGRAM:
        return histogram;
    case COLL_EXPFMT_GAUGEHISTOGRAM:
        return ghist;
    case COLL_EXPFMT_INFO:
        return info;
    default:
        return plain;
    }
}

static int hist_check(struct coll_expfmt_parser *p)
{
    struct omhist *h = &p->hist;
    if (!h->active)
        return 0;
    h->active = 0;
    const char *n = "";
    int nn = (int)(p->cur.nlen > 200 ? 200 : p->cur.nlen);
    n = p->cur.name;
    if (!h->has_bucket || !(isinf(h->bucket) && h->bucket > 0))
        return fail_line(p, h->line, "histogram %.*s has no +Inf bucket", nn, n);
    if (h->has_count && h->value != h->count)
        return fail_line(p, h->line, "histogram %.*s: count does not match the +Inf bucket", nn, n);
    if (h->has_sum && !h->has_count)
        return fail_line(p, h->line, "histogram %.*s has _sum but no _count", nn, n);
    if (h->has_gsum && !h->has_count)
        return fail_line(p, h->line, "gaugehistogram %.*s has _gsum but no _gcount", nn, n);
    if (!(h->has_sum || h->has_gsum) && h->has_count)
        return fail_line(p, h->line, "histogram %.*s has a count but no sum", nn, n);
    if (h->neg_buckets && h->has_sum)
        return fail_line(p, h->line, "histogram %.*s has _sum and negative buckets", nn, n);
    if (!h->neg_buckets && h->neg_gsum)
        return fail_line(p, h->line,
                         "gaugehistogram %.*s has a negative _gsum but no negative buckets", nn, n);
    return 0;
}

/* Ends the current family: histogram structure, name clashes, unit rules. */
static int om_finish_family(struct coll_expfmt_parser *p)
{
    struct omfam *c = &p->cur;
    if (!c->active)
        return 0;
    if (hist_check(p))
        return PL_ERR_INVALID;
    int nn = (int)(c->nlen > 200 ? 200 : c->nlen);
    for (const char *const *s = clash_suffixes(c->type); *s; s++) {
        uint64_t h = hash_str2(c->name, c->nlen, *s, strlen(*s), &p->tmp);
        if (u64set_add(&p->seen_names, h))
            return fail_line(p, c->line,
                             "metric family %.*s clashes with an earlier family (name %.*s%s "
                             "already used; families must not be interleaved)",
                             nn, c->name, nn, c->name, *s);
    }
    if (c->unitlen && (c->type == COLL_EXPFMT_INFO || c->type == COLL_EXPFMT_STATESET))
        return fail_line(p, c->line, "metric family %.*s: units are not allowed for %s", nn,
                         c->name, coll_expfmt_type_name(c->type));
    c->active = 0;
    u64set_clear(&p->seen_groups);
    u64set_clear(&p->group_series);
    p->have_group = 0;
    return 0;
}

static void om_start_family(struct coll_expfmt_parser *p, const char *name, size_t n, uint32_t line)
{
    memset(&p->cur, 0, sizeof(p->cur));
    p->cur.active = 1;
    p->cur.name = name;
    p->cur.nlen = n;
    p->cur.type = COLL_EXPFMT_UNTYPED;
    p->cur.line = line;
}

static const struct coll_expfmt_label *find_label(const struct coll_expfmt_label *v, size_t n,
                                                  const char *name, size_t nn)
{
    for (size_t i = 0; i < n; i++)
        if (str_eq(v[i].name.p, v[i].name.n, name, nn))
            return &v[i];
    return NULL;
}

/* Every strict OpenMetrics rule about one sample (labels already decoded). */
static int om_strict_sample(struct coll_expfmt_parser *p, struct coll_expfmt_sample *s,
                            uint32_t line, double ts_secs)
{
    struct omfam *c = &p->cur;
    if (!c->active || c->nlen > s->name.n || memcmp(s->name.p, c->name, c->nlen) != 0 ||
        !suffix_fits(c->has_type ? c->type : COLL_EXPFMT_UNTYPED, s->name.p + c->nlen,
                     s->name.n - c->nlen, 1)) {
        if (om_finish_family(p))
            return PL_ERR_INVALID;
        om_start_family(p, s->name.p, s->name.n, line);
    }
    c->has_samples = 1;
    s->family.p = c->name;
    s->family.n = c->nlen;
    s->type = c->type;
    enum coll_expfmt_type t = c->type;
    const char *sfx = s->name.p + c->nlen;
    size_t sfxn = s->name.n - c->nlen;
    int nn = (int)(c->nlen > 200 ? 200 : c->nlen);

    const struct coll_expfmt_label *special = NULL;
    double le = 0;
    if (t == COLL_EXPFMT_STATESET) {
        special = find_label(s->labels, s->nlabels, c->name, c->nlen);
        if (!special)
            return fail_line(p, line, "stateset sample has no label named %.*s", nn, c->name);
    }
    int is_bucket = (t == COLL_EXPFMT_HISTOGRAM || t == COLL_EXPFMT_GAUGEHISTOGRAM) &&
                    str_eqz(sfx, sfxn, "_bucket");
    if (is_bucket) {
        special = find_label(s->labels, s->nlabels, "le", 2);
        if (!special)
            return fail_line(p, line, "bucket sample has no \"le\" label");
        int rc = parse_float(special->value.p, special->value.n, 1, &p->tmp, &le);
        if (rc != NUM_OK || isnan(le))
            return fail_line(p, line, "invalid \"le\" label value");
        if (isinf(le) && !str_eqz(special->value.p, special->value.n, le > 0 ? "+Inf" : "-Inf"))
            return fail_line(p, line, "\"le\" label value must be spelled +Inf or -Inf");
    }
    if (t == COLL_EXPFMT_SUMMARY && sfxn == 0) {
        special = find_label(s->labels, s->nlabels, "quantile", 8);
        double q;
        if (!special)
            return fail_line(p, line, "summary quantile sample has no \"quantile\" label");
        if (parse_float(special->value.p, special->value.n, 1, &p->tmp, &q) != NUM_OK ||
            !(q >= 0 && q <= 1))
            return fail_line(p, line, "\"quantile\" label value must be a number in [0, 1]");
    }

    /* group = the labels minus the one that tells the series of a group apart */
    uint64_t all = 0, sp = 0;
    for (size_t i = 0; i < s->nlabels; i++) {
        uint64_t h = pair_hash(p, &s->labels[i]);
        all += h;
        if (&s->labels[i] == special)
            sp = h;
    }
    uint64_t g = t == COLL_EXPFMT_INFO ? 1 : all - sp + 1;
    uint64_t series = all + pl_hash64(s->name.p, s->name.n, 0x5e71e5);
    /* one probe per change of group: a group seen before means interleaving */
    if ((!p->have_group || g != p->group) && u64set_add(&p->seen_groups, g))
        return fail_line(p, line,
                         "metric of family %.*s is not grouped: its samples must be consecutive",
                         nn, c->name);
    if (p->have_group && g == p->group) {
        if (s->has_ts != p->group_has_ts)
            return fail_line(p, line, "mix of samples with and without timestamps in one metric");
        if (s->has_ts && p->group_ts > ts_secs && t != COLL_EXPFMT_INFO)
            return fail_line(p, line, "timestamps went backwards within one metric");
    } else {
        u64set_clear(&p->group_series);
    }
    if (!s->has_ts && u64set_add(&p->group_series, series))
        return fail_line(p, line, "duplicate series %.*s",
                         (int)(s->series.n > 200 ? 200 : s->series.n), s->series.p);
    p->have_group = 1;
    p->group = g;
    p->group_has_ts = s->has_ts;
    p->group_ts = ts_secs;

    double v = s->value;
    if (t == COLL_EXPFMT_STATESET && v != 0 && v != 1)
        return fail_line(p, line, "stateset sample values must be 0 or 1");
    if (t == COLL_EXPFMT_INFO && v != 1)
        return fail_line(p, line, "info sample values must be 1");
    if (t == COLL_EXPFMT_SUMMARY && sfxn == 0 && v < 0)
        return fail_line(p, line, "summary quantile values must not be negative");
    int counterlike = sfxn && (str_eqz(sfx, sfxn, "_total") || str_eqz(sfx, sfxn, "_sum") ||
                               str_eqz(sfx, sfxn, "_count") || str_eqz(sfx, sfxn, "_bucket") ||
                               str_eqz(sfx, sfxn, "_gcount"));
    if ((counterlike || str_eqz(sfx, sfxn, "_gsum")) && isnan(v))
        return fail_line(p, line, "counter-like sample %.*s must not be NaN",
                         (int)(s->name.n > 200 ? 200 : s->name.n), s->name.p);
    if (counterlike && v < 0)
        return fail_line(p, line, "counter-like sample %.*s must not be negative",
                         (int)(s->name.n > 200 ? 200 : s->name.n), s->name.p);
    int hist = t == COLL_EXPFMT_HISTOGRAM || t == COLL_EXPFMT_GAUGEHISTOGRAM;
    if (hist && (is_bucket || str_eqz(sfx, sfxn, "_count") || str_eqz(sfx, sfxn, "_gcount")) &&
        (isinf(v) || v != floor(v)))
        return fail_line(p, line, "histogram bucket and count values must be integers");
    if (s->has_exemplar &&
        !((hist && is_bucket) || (t == COLL_EXPFMT_COUNTER && str_eqz(sfx, sfxn, "_total"))))
        return fail_line(p, line,
                         "exemplars are only allowed on histogram buckets and counter totals");

    if (hist) {
        struct omhist *h = &p->hist;
        uint64_t hg = all - (is_bucket ? sp : 0) + 1;
        if (!h->active || hg != h->group || s->has_ts != h->has_ts ||
            (s->has_ts && ts_secs != h->ts)) {
            if (hist_check(p))
                return PL_ERR_INVALID;
            memset(h, 0, sizeof(*h));
            h->active = 1;
            h->line = line;
        }
        h->group = hg;
        h->has_ts = s->has_ts;
        h->ts = ts_secs;
        if (is_bucket) {
            if (le < 0)
                h->neg_buckets = 1;
            if (h->has_bucket && le <= h->bucket)
                return fail_line(p, line, "histogram %.*s: buckets out of order", nn, c->name);
            if (v < h->value)
                return fail_line(p, line, "histogram %.*s: bucket values decrease", nn, c->name);
            h->has_bucket = 1;
            h->bucket = le;
            h->value = v;
        } else if (str_eqz(sfx, sfxn, "_count") || str_eqz(sfx, sfxn, "_gcount")) {
            h->has_count = 1;
            h->count = v;
        } else if (str_eqz(sfx, sfxn, "_sum")) {
            h->has_sum = 1;
        } else if (str_eqz(sfx, sfxn, "_gsum")) {
            h->has_gsum = 1;
            if (v < 0)
                h->neg_gsum = 1;
        }
    }
    return 0;
}

/* Strict rules for a HELP/TYPE/UNIT line of `name`. */
static int om_strict_meta(struct coll_expfmt_parser *p, enum coll_expfmt_kind k, const char *name,
                          size_t nn, const char *text, size_t tn, enum coll_expfmt_type t)
{
    struct omfam *c = &p->cur;
    int same = c->active && str_eq(c->name, c->nlen, name, nn);
    int shown = (int)(nn > 200 ? 200 : nn);
    if (same && c->has_samples)
        return fail(p, p->line_start, "metadata for %.*s after its samples", shown, name);
    if (!same) {
        if (om_finish_family(p))
            return PL_ERR_INVALID;
        om_start_family(p, name, nn, p->line);
    }
    if (k == COLL_EXPFMT_HELP) {
        if (c->has_help)
            return fail(p, p->line_start, "second HELP line for %.*s", shown, name);
        c->has_help = 1;
    } else if (k == COLL_EXPFMT_TYPE) {
        if (c->has_type)
            return fail(p, p->line_start, "second TYPE line for %.*s", shown, name);
        c->has_type = 1;
        c->type = t;
    } else {
        if (c->has_unit)
            return fail(p, p->line_start, "second UNIT line for %.*s", shown, name);
        c->has_unit = 1;
        c->unit = text;
        c->unitlen = tn;
    }
    return 0;
}

/* A `# ...` line of OpenMetrics; p->p is at '#'. */
static int om_meta(struct coll_expfmt_parser *p, struct coll_expfmt_entry *e)
{
    const char *hash = p->p;
    if (p->end - p->p < 2 || p->p[1] != ' ')
        return fail(p, hash, "expected \"# \" (HELP, TYPE, UNIT or EOF) after '#'");
    p->p += 2;
    size_t rest = (size_t)(p->end - p->p);
    if (rest >= 3 && memcmp(p->p, "EOF", 3) == 0) {
        const char *q = p->p + 3;
        if (q < p->end && *q == '\n')
            q++;
        if (q != p->end)
            return fail(p, p->p + 3, "unexpected data after # EOF");
        if (om_finish_family(p))
            return PL_ERR_INVALID;
        p->p = q;
        p->saw_eof = 1;
        p->state = 1;
        return 0;
    }
    enum coll_expfmt_kind k;
    const char *kw;
    if (rest >= 5 && memcmp(p->p, "HELP ", 5) == 0) {
        k = COLL_EXPFMT_HELP;
        kw = "HELP";
    } else if (rest >= 5 && memcmp(p->p, "TYPE ", 5) == 0) {
        k = COLL_EXPFMT_TYPE;
        kw = "TYPE";
    } else if (rest >= 5 && memcmp(p->p, "UNIT ", 5) == 0) {
        k = COLL_EXPFMT_UNIT;
        kw = "UNIT";
    } else {
        return fail(p, p->p, "expected HELP, TYPE, UNIT or EOF after \"# \"");
    }
    p->p += 5;
    const char *name = p->p;
    size_t nn = scan_name(p->p, p->end, C_MSTART, C_MCHAR);
    if (!nn) {
        char d[64];
        return fail(p, p->p, "expected metric name after %s, got %s", kw,
                    describe_at(d, sizeof(d), p->p, p->end));
    }
    p->p += nn;
    if (p->p >= p->end || *p->p != ' ')
        return fail(p, p->p, "expected a space and text after the metric name in %s", kw);
    p->p++;
    const char *text = p->p;
    const char *eol = memchr(p->p, '\n', (size_t)(p->end - p->p));
    if (!eol)
        return fail(p, p->end, "data does not end with # EOF");
    size_t tn = (size_t)(eol - text);
    enum coll_expfmt_type t = COLL_EXPFMT_UNTYPED;
    e->kind = k;
    e->line = p->line;
    e->meta_name.p = name;
    e->meta_name.n = nn;
    e->meta_text.p = text;
    e->meta_text.n = tn;
    if (k == COLL_EXPFMT_TYPE) {
        if (parse_type_word(text, tn, 1, 0, &t)) {
            char d[96];
            return fail(p, text, "invalid metric type \"%s\"", show(d, sizeof(d), text, tn));
        }
        e->meta_type = t;
        p->tname = name;
        p->tnlen = nn;
        p->ttype = t;
    } else if (k == COLL_EXPFMT_HELP) {
        int bs;
        if (!utf8_valid_bs(text, tn, &bs))
            return fail(p, text, "HELP text is not valid UTF-8");
        if (decode_help(p, text, tn, bs, &e->meta_text))
            return PL_ERR_INVALID;
    } else if (tn) {
        if (!(nn > tn + 1 && memcmp(name + nn - tn, text, tn) == 0 && name[nn - tn - 1] == '_'))
            return fail(p, text, "unit \"%.*s\" is not a suffix of metric %.*s",
                        (int)(tn > 100 ? 100 : tn), text, (int)(nn > 100 ? 100 : nn), name);
    }
    if (p->strict && om_strict_meta(p, k, name, nn, text, tn, t))
        return PL_ERR_INVALID;
    newline_at(p, eol);
    p->p = eol + 1;
    return (int)k;
}

static int om_sample(struct coll_expfmt_parser *p, struct coll_expfmt_entry *e)
{
    const char *name = p->p;
    uint32_t line = p->line;
    size_t nn = scan_name(p->p, p->end, C_MSTART, C_MCHAR);
    if (!nn) {
        char d[64];
        return fail(p, p->p, "expected a metric name, HELP, TYPE, UNIT or EOF, got %s",
                    describe_at(d, sizeof(d), p->p, p->end));
    }
    p->p += nn;
    if (p->p < p->end && *p->p == '{') {
        if (om_labels(p, &p->lab, &p->nlab, &p->caplab, 0))
            return PL_ERR_INVALID;
    }
    const char *series_end = p->p;
    fill_sample(p, e, name, nn, series_end);
    e->line = line;
    struct coll_expfmt_sample *s = &e->sample;
    if (p->p >= p->end || *p->p != ' ') {
        char d[64];
        return fail(p, p->p, "expected a space and a value after the metric, got %s",
                    describe_at(d, sizeof(d), p->p, p->end));
    }
    p->p++;
    size_t n = om_token(p);
    if (n == 0)
        return fail(p, p->p, "expected a value after the metric");
    if (value_token(p, p->p, n, &s->value, p->strict))
        return PL_ERR_INVALID;
    p->p += n;
    double ts_secs = 0;
    if (p->p < p->end && *p->p == ' ') {
        p->p++;
        if (p->p < p->end && *p->p == '#') {
            if (om_exemplar(p, s))
                return PL_ERR_INVALID;
        } else {
            n = om_token(p);
            if (n == 0)
                return fail(p, p->p, "expected a timestamp or an exemplar after the value");
            if (om_timestamp(p, p->p, n, &s->ts_ms, &ts_secs, "timestamp"))
                return PL_ERR_INVALID;
            s->has_ts = 1;
            p->p += n;
            if (p->p < p->end && *p->p == ' ') {
                p->p++;
                if (p->p >= p->end || *p->p != '#')
                    return fail(p, p->p, "expected next entry after timestamp");
                if (om_exemplar(p, s))
                    return PL_ERR_INVALID;
            }
        }
    }
    if (p->p >= p->end)
        return fail(p, p->p, "data does not end with # EOF");
    if (*p->p != '\n') {
        char d[64];
        return fail(p, p->p, "unexpected %s at end of sample line",
                    describe_at(d, sizeof(d), p->p, p->end));
    }
    newline_at(p, p->p);
    p->p++;
    const struct coll_expfmt_label *dup = find_dup(p, p->lab, p->nlab);
    if (dup)
        return fail_line(p, line, "duplicate label name \"%.*s\"",
                         (int)(dup->name.n > 200 ? 200 : dup->name.n), dup->name.p);
    fix_decoded(p, p->lab, p->nlab, 0);
    if (s->has_exemplar) {
        fix_decoded(p, p->exl, p->nexl, p->nlab);
        s->ex_labels = p->exl;
        s->ex_nlabels = p->nexl;
    }
    if (!p->strict) {
        if (s->has_exemplar && !ends_with(name, nn, "_total") && !ends_with(name, nn, "_bucket"))
            return fail_line(p, line, "metric name %.*s does not support exemplars",
                             (int)(nn > 200 ? 200 : nn), name);
        guess_family(p, s);
    } else if (om_strict_sample(p, s, line, ts_secs)) {
        return PL_ERR_INVALID;
    }
    return COLL_EXPFMT_SAMPLE;
}

static int om_next(struct coll_expfmt_parser *p, struct coll_expfmt_entry *e)
{
    p->nlab = 0;
    p->nexl = 0;
    pl_buf_reset(&p->dec);
    if (p->p >= p->end)
        return fail(p, p->p, "data does not end with # EOF");
    char c = *p->p;
    if (c == '#') {
        int rc = om_meta(p, e);
        return rc;
    }
    if (c == '\n')
        return fail(p, p->p, "blank lines are not allowed in OpenMetrics");
    return om_sample(p, e);
}

int coll_expfmt_next(struct coll_expfmt_parser *p, struct coll_expfmt_entry *e,
                     struct coll_expfmt_err *err)
{
    int rc;
    if (p->state == 0) {
        rc = is_om(p) ? om_next(p, e) : prom_next(p, e);
    } else {
        rc = p->state == 1 ? 0 : PL_ERR_INVALID;
    }
    if (rc < 0 && err)
        *err = p->err;
    return rc;
}

void coll_expfmt_sample_to_builder(const struct coll_expfmt_sample *s, struct pl_labels_builder *b)
{
    pl_lb_reset(b);
    pl_lb_set(b, PL_METRIC_NAME, 8, s->name.p, s->name.n);
    for (size_t i = 0; i < s->nlabels; i++)
        pl_lb_set(b, s->labels[i].name.p, s->labels[i].name.n, s->labels[i].value.p,
                  s->labels[i].value.n);
}

struct pl_labels *coll_expfmt_sample_labels(const struct coll_expfmt_sample *s,
                                            struct pl_labels_builder *b)
{
    coll_expfmt_sample_to_builder(s, b);
    return pl_lb_labels(b);
}
