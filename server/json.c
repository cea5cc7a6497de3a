/*
 * json.c - Prometheus API JSON number, time and string formatting (json.h).
 *
 * Sample values need Go's shortest round-trip digits (what strconv's Ryu
 * based FormatFloat(v, 'f'/'e', -1, 64) prints): the fewest significant
 * digits that read back to the same double, and among those the closest to
 * the exact value. Two ways to get them:
 *
 *  - The reference (digits_exact): %.*e with 15, 16 then 17 digits, the first
 *    that strtod reads back bit-exactly wins. A value that round-trips with
 *    k <= 15 digits prints under %.14e as those k digits then zeros (it lies
 *    within a fraction of a 15-digit unit of them), so stripping zeros gives
 *    the shortest. Subnormals have less precision, so every length is tried.
 *    Exact, but about 2 us per value.
 *  - The fast path (digits_fast), used for nearly every value: with x87's
 *    64-bit long double mantissa, v * 10^p (|p| <= 27, so 10^p is exact) is
 *    known to within 1.1e-19 * 10^n units for n <= 17. For n = 15, 16, 17
 *    the closest n-digit decimal m = round(v * 10^p) is taken and accepted
 *    when it lies inside v's rounding interval (the midpoints to the
 *    neighbouring doubles, computed exactly in long double). Whenever the
 *    error bound leaves the answer in doubt (m within 4e-19 * 10^n of a
 *    rounding tie or of an interval end), it gives up and the reference
 *    decides. Integers
 *    below 10^15 are printed directly. A unit test compares both ways on
 *    millions of values.
 */
#include "server/json.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reference: shortest digits of finite v > 0 by printf and strtod. v = 0.d1d2... * 10^exp10. */
static int digits_exact(double v, char *digits, int *exp10)
{
    char tmp[40];
    int first = v < DBL_MIN ? 1 : 15;
    for (int prec = first; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
        if (prec == 17 || strtod(tmp, NULL) == v)
            break;
    }
    /* tmp is "d.ddddde[+-]XX" (v is positive here). */
    int nd = 0;
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    int e = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    *exp10 = e + 1;
    return nd;
}

/* Writes the decimal digits of m (> 0) without trailing zeros; returns how many, and in *len the
 * full length. */
static const char two_digits[201] = "00010203040506070809101112131415161718192021222324252627282930"
                                    "31323334353637383940414243444546474849505152535455565758596061"
                                    "62636465666768697071727374757677787980818283848586878889909192"
                                    "93949596979899";

/* Writes the decimal digits of m at the end of buf (which ends at end); returns the start. */
static char *u64_text(uint64_t m, char *end)
{
    char *o = end;
    while (m >= 100) {
        unsigned r = (unsigned)(m % 100);
        m /= 100;
        o -= 2;
        memcpy(o, two_digits + 2 * r, 2);
    }
    if (m >= 10) {
        o -= 2;
        memcpy(o, two_digits + 2 * m, 2);
    } else {
        *--o = (char)('0' + m);
    }
    return o;
}

/* Writes the decimal digits of m (> 0) without trailing zeros; returns how many, and in *len the
 * full length. */
static int u64_digits(uint64_t m, char *digits, int *len)
{
    char tmp[24];
    char *s = u64_text(m, tmp + sizeof(tmp));
    int n = (int)(tmp + sizeof(tmp) - s);
    memcpy(digits, s, (size_t)n);
    *len = n;
    int nd = n;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    return nd;
}

#if LDBL_MANT_DIG >= 64
/* 10^0 .. 10^27: 5^27 < 2^64, so each is exact in long double. */
static const long double pow10_tab[28] = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
    1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
    1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L,
};

static long double pow10l_exact(int p)
{
    return pow10_tab[p < 0 ? -p : p];
}

/* Fast path; returns 0 when in doubt (the caller then uses digits_exact). */
static int digits_fast(double v, char *digits, int *exp10)
{
    if (v < 1e-9 || v >= 1e26)
        return 0;
    if (v < 1e15 && v == floor(v)) {
        int len;
        int nd = u64_digits((uint64_t)v, digits, &len);
        *exp10 = len;
        return nd;
    }
    int e = (int)floor(log10(v)); /* may be off by one; corrected below */
    long double lv = v;
    /* Normalise so that 10^e <= v < 10^(e+1); |e| <= 26 here. */
    for (int guard = 0; guard < 2; guard++) {
        long double lo_p = e >= 0 ? pow10_tab[e] : 1 / pow10_tab[-e];
        long double hi_p = e + 1 >= 0 ? pow10_tab[e + 1] : 1 / pow10_tab[-(e + 1)];
        if (lv < lo_p)
            e--;
        else if (lv >= hi_p)
            e++;
        else
            break;
    }
    long double below = ((long double)v + (long double)nextafter(v, 0)) / 2;
    long double above = ((long double)v + (long double)nextafter(v, INFINITY)) / 2;
    for (int n = 15; n <= 17; n++) {
        int p = n - 1 - e;
        if (p > 27 || p < -27)
            return 0;
        long double scale = pow10l_exact(p);
        long double x = p >= 0 ? lv * scale : lv / scale;
        /* One float-to-integer conversion (each costs an x87 mode switch). */
        uint64_t xi = (uint64_t)x;
        long double frac = x - (long double)xi;
        long double m = (long double)(frac >= 0.5L ? xi + 1 : xi);
        /*
         * x < 10^n is off by at most two roundings of 2^-64 relative, about
         * 1.1e-19 * 10^n; tol leaves a factor of 3.5 on top.
         */
        long double tol = 4e-19L * pow10l_exact(n);
        if (fabsl(frac - 0.5L) < tol)
            return 0; /* too close to a tie to trust the rounding */
        if (n < 17) {
            long double lo = p >= 0 ? below * scale : below / scale;
            long double hi = p >= 0 ? above * scale : above / scale;
            if (fabsl(m - lo) < tol || fabsl(m - hi) < tol)
                return 0;
            if (!(m > lo && m < hi))
                continue;
        }
        int len;
        int nd = u64_digits(frac >= 0.5L ? xi + 1 : xi, digits, &len);
        /* m may have rounded up to 10^n: one more digit, same value. */
        *exp10 = e + 1 + (len - n);
        return nd;
    }
    return 0;
}
#else
static int digits_fast(double v, char *digits, int *exp10)
{
    return 0;
}
#endif

static int shortest_digits(double v, char *digits, int *exp10)
{
    int nd = digits_fast(v, digits, exp10);
    return nd ? nd : digits_exact(v, digits, exp10);
}

/* Writes sign and digits as Prometheus does, given the shortest digits of |v|. */
static size_t format_digits(char *out, int neg, double av, const char *d, int nd, int e)
{
    char *o = out;
    if (neg)
        *o++ = '-';
    if (av < 1e-6 || av >= 1e21) {
        /* Go's 'e' format: d[.ddd]e±XX with at least two exponent digits. */
        *o++ = d[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, d + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        int x = e - 1;
        o += snprintf(o, 8, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
        return (size_t)(o - out);
    }
    /* 'f' format: 1e-6 <= v < 1e21, so e is in [-5, 21]. */
    if (e <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -e; i++)
            *o++ = '0';
        memcpy(o, d, (size_t)nd);
        o += nd;
    } else {
        for (int i = 0; i < e; i++)
            *o++ = i < nd ? d[i] : '0';
        if (nd > e) {
            *o++ = '.';
            memcpy(o, d + e, (size_t)(nd - e));
            o += nd - e;
        }
    }
    *o = '\0';
    return (size_t)(o - out);
}

static size_t format_float(double v, char *out, int exact)
{
    if (isnan(v))
        return (size_t)snprintf(out, SRV_FLOAT_MAX, "NaN");
    if (isinf(v))
        return (size_t)snprintf(out, SRV_FLOAT_MAX, v > 0 ? "+Inf" : "-Inf");
    int neg = signbit(v) != 0;
    double av = fabs(v);
    if (av == 0)
        return (size_t)snprintf(out, SRV_FLOAT_MAX, neg ? "-0" : "0");
    char d[24];
    int e;
    int nd = exact ? digits_exact(av, d, &e) : shortest_digits(av, d, &e);
    return format_digits(out, neg, av, d, nd, e);
}

size_t srv_json_format_float(double v, char *out)
{
    return format_float(v, out, 0);
}

size_t srv_json_format_float_exact(double v, char *out)
{
    return format_float(v, out, 1);
}

/* Writes the timestamp text ending at end; returns its length. */
static size_t time_text(int64_t t, char *end)
{
    /* Sign, whole seconds of |t|, then the milliseconds: -1500 ms is "-1.500". */
    uint64_t a = t < 0 ? (uint64_t)0 - (uint64_t)t : (uint64_t)t;
    char *o = end;
    unsigned ms = (unsigned)(a % 1000);
    if (ms) {
        o -= 3;
        o[0] = (char)('0' + ms / 100);
        memcpy(o + 1, two_digits + 2 * (ms % 100), 2);
        *--o = '.';
    }
    o = u64_text(a / 1000, o);
    if (t < 0)
        *--o = '-';
    return (size_t)(end - o);
}

int srv_json_time(struct pl_buf *b, int64_t t)
{
    char tmp[32];
    size_t n = time_text(t, tmp + sizeof(tmp));
    return pl_buf_append(b, tmp + sizeof(tmp) - n, n);
}

int srv_json_value(struct pl_buf *b, double v)
{
    char tmp[SRV_FLOAT_MAX];
    size_t n = srv_json_format_float(v, tmp);
    int rc = pl_buf_putc(b, '"');
    if (!rc)
        rc = pl_buf_append(b, tmp, n);
    if (!rc)
        rc = pl_buf_putc(b, '"');
    return rc;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        len = 2;
        min = 0x80;
        c &= 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        min = 0x800;
        c &= 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return len;
}

int srv_json_str(struct pl_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    /* Worst case 6 bytes per input byte, reserved once so the loop cannot fail midway. */
    if (n > (b->limit / 6) || pl_buf_reserve(b, n * 6 + 2))
        return PL_ERR_LIMIT;
    char *o = b->data + b->len;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c >= 0x80) {
            size_t l = utf8_len(p + i, n - i);
            if (l == 0) {
                memcpy(o, "\\ufffd", 6);
                o += 6;
                i++;
                continue;
            }
            /* U+2028 and U+2029 are escaped by Go for JavaScript's sake. */
            if (l == 3 && p[i] == 0xe2 && p[i + 1] == 0x80 && (p[i + 2] & 0xfe) == 0xa8) {
                memcpy(o, p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
                o += 6;
            } else {
                memcpy(o, p + i, l);
                o += l;
            }
            i += l;
            continue;
        }
        switch (c) {
        case '"':
            *o++ = '\\';
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        default:
            if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                memcpy(o, "\\u00", 4);
                o[4] = hex[c >> 4];
                o[5] = hex[c & 15];
                o += 6;
            } else {
                *o++ = (char)c;
            }
        }
        i++;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int srv_json_strz(struct pl_buf *b, const char *s)
{
    return srv_json_str(b, s, strlen(s));
}

int srv_json_labels(struct pl_buf *b, const struct pl_labels *ls)
{
    int rc = pl_buf_putc(b, '{');
    for (uint32_t i = 0; ls && i < ls->n && !rc; i++) {
        if (i)
            rc = pl_buf_putc(b, ',');
        if (!rc)
            rc = srv_json_str(b, ls->v[i].name, ls->v[i].name_len);
        if (!rc)
            rc = pl_buf_putc(b, ':');
        if (!rc)
            rc = srv_json_str(b, ls->v[i].value, ls->v[i].value_len);
    }
    if (!rc)
        rc = pl_buf_putc(b, '}');
    return rc;
}

/* The last value formatted by a point writer: equal consecutive values are common. */
struct value_cache {
    uint64_t bits;
    int valid;
    size_t len;
    char text[SRV_FLOAT_MAX];
};

static int point(struct pl_buf *b, int64_t t, double v, struct value_cache *vc)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    if (!vc->valid || vc->bits != bits) {
        vc->len = srv_json_format_float(v, vc->text);
        vc->bits = bits;
        vc->valid = 1;
    }
    /* [ time , " value " ] with room reserved once. */
    int rc = pl_buf_reserve(b, 32 + 5 + vc->len);
    if (rc)
        return rc;
    char *o = b->data + b->len;
    *o++ = '[';
    char tmp[32];
    size_t n = time_text(t, tmp + sizeof(tmp));
    memcpy(o, tmp + sizeof(tmp) - n, n);
    o += n;
    *o++ = ',';
    *o++ = '"';
    memcpy(o, vc->text, vc->len);
    o += vc->len;
    *o++ = '"';
    *o++ = ']';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int srv_json_point(struct pl_buf *b, int64_t t, double v)
{
    struct value_cache vc = {0, 0, 0, {0}};
    return point(b, t, v, &vc);
}

int srv_json_query_result(struct pl_buf *b, const struct query_result *r)
{
    int rc = pl_buf_puts(b, "{\"resultType\":");
    switch (r->type) {
    case QUERY_VT_SCALAR:
        rc = rc ? rc : pl_buf_puts(b, "\"scalar\",\"result\":");
        rc = rc ? rc : srv_json_point(b, r->t, r->scalar);
        break;
    case QUERY_VT_STRING:
        rc = rc ? rc : pl_buf_puts(b, "\"string\",\"result\":[");
        rc = rc ? rc : srv_json_time(b, r->t);
        rc = rc ? rc : pl_buf_putc(b, ',');
        rc = rc ? rc : srv_json_strz(b, r->str ? r->str : "");
        rc = rc ? rc : pl_buf_putc(b, ']');
        break;
    case QUERY_VT_VECTOR:
    case QUERY_VT_MATRIX: {
        int vec = r->type == QUERY_VT_VECTOR;
        /* Reserve about what the answer takes, sparing the copies of repeated doubling. */
        size_t points = 0;
        for (size_t i = 0; i < r->nseries; i++)
            points += r->series[i].n;
        if (points < (b->limit - b->len) / 40)
            rc = rc ? rc : pl_buf_reserve(b, points * 28 + r->nseries * 96);
        rc = rc ? rc : pl_buf_puts(b, vec ? "\"vector\",\"result\":[" : "\"matrix\",\"result\":[");
        size_t out = 0;
        for (size_t i = 0; i < r->nseries && !rc; i++) {
            const struct query_series *se = &r->series[i];
            if (vec && se->n == 0)
                continue;
            if (out++)
                rc = pl_buf_putc(b, ',');
            rc = rc ? rc : pl_buf_puts(b, "{\"metric\":");
            rc = rc ? rc : srv_json_labels(b, se->labels);
            if (vec) {
                rc = rc ? rc : pl_buf_puts(b, ",\"value\":");
                rc = rc ? rc : srv_json_point(b, se->t[0], se->v[0]);
            } else {
                rc = rc ? rc : pl_buf_puts(b, ",\"values\":[");
                struct value_cache vc = {0, 0, 0, {0}};
                for (size_t j = 0; j < se->n && !rc; j++) {
                    if (j)
                        rc = pl_buf_putc(b, ',');
                    rc = rc ? rc : point(b, se->t[j], se->v[j], &vc);
                }
                rc = rc ? rc : pl_buf_putc(b, ']');
            }
            rc = rc ? rc : pl_buf_putc(b, '}');
        }
        rc = rc ? rc : pl_buf_putc(b, ']');
        break;
    }
    default:
        return PL_ERR_INVALID;
    }
    return rc ? rc : pl_buf_putc(b, '}');
}
