/*
 * json.c - Prometheus API JSON number, time and string formatting (json.h).
 *
 * Shortest round-trip digits: the %.*e rendering with 15, 16 then 17
 * significant digits is tried in turn and the first that strtod reads back
 * bit-exactly wins. A value that round-trips with k <= 15 digits is printed
 * by %.14e as those k digits followed by zeros (it lies well within half a
 * 15-digit unit of them), so stripping trailing zeros yields exactly the
 * digits Go's shortest formatting chooses. Subnormals have less precision
 * than 15 digits, so for them every length from 1 digit up is tried.
 */
#include "server/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shortest decimal digits of finite, non-zero |v|: digits[] and exponent e with v = 0.d1d2... *
 * 10^e. */
static int shortest_digits(double v, char *digits, int *exp10)
{
    char tmp[40];
    /* Subnormals carry fewer significant bits, so their shortest form may be shorter than 15 digits
     * without being a prefix of the 15-digit rendering. */
    int first = v < 2.2250738585072014e-308 ? 1 : 15;
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

size_t srv_json_format_float(double v, char *out)
{
    if (isnan(v))
        return (size_t)snprintf(out, SRV_FLOAT_MAX, "NaN");
    if (isinf(v))
        return (size_t)snprintf(out, SRV_FLOAT_MAX, v > 0 ? "+Inf" : "-Inf");
    char *o = out;
    if (signbit(v)) {
        *o++ = '-';
        v = -v;
    }
    if (v == 0) {
        *o++ = '0';
        *o = '\0';
        return (size_t)(o - out);
    }
    char d[24];
    int e;
    int nd = shortest_digits(v, d, &e);
    if (v < 1e-6 || v >= 1e21) {
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

int srv_json_time(struct pl_buf *b, int64_t t)
{
    /* Sign, whole seconds of |t|, then the milliseconds: -1500 ms is "-1.500". */
    uint64_t a = t < 0 ? (uint64_t)0 - (uint64_t)t : (uint64_t)t;
    const char *sign = t < 0 ? "-" : "";
    if (a % 1000 == 0)
        return pl_buf_printf(b, "%s%llu", sign, (unsigned long long)(a / 1000));
    return pl_buf_printf(b, "%s%llu.%03llu", sign, (unsigned long long)(a / 1000),
                         (unsigned long long)(a % 1000));
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

int srv_json_point(struct pl_buf *b, int64_t t, double v)
{
    int rc = pl_buf_putc(b, '[');
    if (!rc)
        rc = srv_json_time(b, t);
    if (!rc)
        rc = pl_buf_putc(b, ',');
    if (!rc)
        rc = srv_json_value(b, v);
    if (!rc)
        rc = pl_buf_putc(b, ']');
    return rc;
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
                for (size_t j = 0; j < se->n && !rc; j++) {
                    if (j)
                        rc = pl_buf_putc(b, ',');
                    rc = rc ? rc : srv_json_point(b, se->t[j], se->v[j]);
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
