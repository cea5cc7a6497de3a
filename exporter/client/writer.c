/*
 * writer.c - the exposition writer: Prometheus text format 0.0.4 and
 * OpenMetrics 1.0 (https://prometheus.io/docs/instrumenting/exposition_formats/,
 * OpenMetrics specification "Text format").
 *
 * Both formats are "# HELP name text", "# TYPE name type" and one line per
 * sample `name{label="value",...} value`. They differ in: the type word for
 * untyped metrics ("untyped" / "unknown"), counter naming (OpenMetrics names
 * the family without "_total" and every counter sample with it), HELP escaping
 * (OpenMetrics also escapes '"'), integral floats ("1" / "1.0") and the
 * terminating "# EOF" line of OpenMetrics.
 */
#include "exporter/client/client_int.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void exp__writer_init(struct exp_writer *w, enum exp_format fmt, size_t limit)
{
    memset(w, 0, sizeof(*w));
    w->fmt = fmt;
    w->limit = limit;
}

void exp__writer_reset(struct exp_writer *w, enum exp_format fmt, size_t limit)
{
    if (w->fam_seen)
        memset(w->fam_seen, 0, w->fam_cap * sizeof(*w->fam_seen));
    w->fam_n = 0;
    w->len = 0;
    w->err = 0;
    w->famlen = 0;
    w->fmt = fmt;
    w->limit = limit;
    if (w->buf)
        w->buf[0] = '\0';
}

void exp__writer_fini(struct exp_writer *w)
{
    free(w->fam_seen);
    w->fam_seen = NULL;
    w->fam_n = w->fam_cap = 0;
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

static int grow(struct exp_writer *w, size_t extra)
{
    if (w->err)
        return w->err;
    if (extra > w->limit || w->len > w->limit - extra)
        return w->err = EXP_ERR_LIMIT;
    size_t need = w->len + extra + 1; /* room for a NUL */
    if (need <= w->cap)
        return 0;
    size_t ncap = w->cap ? w->cap : 4096;
    while (ncap < need)
        ncap *= 2;
    char *nb = realloc(w->buf, ncap);
    if (!nb)
        return w->err = EXP_ERR_NOMEM;
    w->buf = nb;
    w->cap = ncap;
    return 0;
}

int exp__writer_put(struct exp_writer *w, const char *s, size_t n)
{
    if (grow(w, n))
        return w->err;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
    return 0;
}

static int puts_(struct exp_writer *w, const char *s)
{
    return exp__writer_put(w, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not valid. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2, min = 0x80, c &= 0x1f;
    else if ((c & 0xf0) == 0xe0)
        n = 3, min = 0x800, c &= 0x0f;
    else if ((c & 0xf8) == 0xf0)
        n = 4, min = 0x10000, c &= 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return n;
}

/*
 * Appends `s` escaped: backslash and newline always, '"' when `quote`.
 * Invalid UTF-8 (possible in sysfs strings such as ifalias, or in textfiles)
 * becomes U+FFFD, because scrapers reject a whole exposition over one bad byte.
 */
static int put_escaped(struct exp_writer *w, const char *s, int quote)
{
    const char *run = s;
    while (*s) {
        const char *rep = NULL;
        size_t skip = 1;
        unsigned char c = (unsigned char)*s;
        if (c == '\\')
            rep = "\\\\";
        else if (c == '\n')
            rep = "\\n";
        else if (c == '"' && quote)
            rep = "\\\"";
        else if (c >= 0x80 && (skip = utf8_len((const unsigned char *)s)) == 0)
            rep = "\xef\xbf\xbd", skip = 1;
        if (rep) {
            exp__writer_put(w, run, (size_t)(s - run));
            exp__writer_put(w, rep, strlen(rep));
            s += skip;
            run = s;
        } else {
            s += skip;
        }
    }
    return exp__writer_put(w, run, (size_t)(s - run));
}

size_t exp__fmt_double(char *out, double v)
{
    if (isnan(v)) {
        memcpy(out, "NaN", 4);
        return 3;
    }
    if (isinf(v)) {
        memcpy(out, v > 0 ? "+Inf" : "-Inf", 5);
        return 4;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        /* Integral: digits by hand, the common case on every scrape. */
        int64_t i = (int64_t)v;
        char tmp[24];
        size_t n = 0;
        uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
        do {
            tmp[n++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        size_t k = 0;
        if (i < 0)
            out[k++] = '-';
        while (n)
            out[k++] = tmp[--n];
        out[k] = '\0';
        return k;
    }
    /* The shortest of 15, 16 or 17 significant digits that reads back exactly. */
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    return (size_t)n;
}

/* Formats a value; OpenMetrics writes integral floats as "1.0" like client_golang. */
static size_t fmt_value(const struct exp_writer *w, char *out, double v)
{
    size_t n = exp__fmt_double(out, v);
    if (w->fmt == EXP_FORMAT_OPENMETRICS && isfinite(v) && !strpbrk(out, ".eE")) {
        memcpy(out + n, ".0", 3);
        n += 2;
    }
    return n;
}

int exp__valid_metric_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                 (p != s && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return strlen(s) < EXP__NAME_MAX - 16;
}

int exp__valid_label_name(const char *s)
{
    if (!s || !*s || (s[0] == '_' && s[1] == '_'))
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (p != s && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static const char *type_word(enum exp_format fmt, enum exp_type t)
{
    switch (t) {
    case EXP_COUNTER:
        return "counter";
    case EXP_GAUGE:
        return "gauge";
    case EXP_HISTOGRAM:
        return "histogram";
    case EXP_SUMMARY:
        return "summary";
    default:
        return fmt == EXP_FORMAT_OPENMETRICS ? "unknown" : "untyped";
    }
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a; 0 marks an empty slot */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ? h : 1;
}

int exp__writer_has_family(const struct exp_writer *w, const char *name)
{
    if (!w->fam_cap)
        return 0;
    uint64_t h = name_hash(name);
    for (size_t i = h & (w->fam_cap - 1); w->fam_seen[i]; i = (i + 1) & (w->fam_cap - 1))
        if (w->fam_seen[i] == h)
            return 1;
    return 0;
}

/* Records a family name; EXP_ERR_EXISTS when it was written before. */
static int remember_family(struct exp_writer *w, const char *name)
{
    if ((w->fam_n + 1) * 2 > w->fam_cap) {
        size_t ncap = w->fam_cap ? w->fam_cap * 2 : 256;
        uint64_t *n = calloc(ncap, sizeof(*n));
        if (!n)
            return EXP_ERR_NOMEM;
        for (size_t i = 0; i < w->fam_cap; i++) {
            if (!w->fam_seen[i])
                continue;
            size_t j = w->fam_seen[i] & (ncap - 1);
            while (n[j])
                j = (j + 1) & (ncap - 1);
            n[j] = w->fam_seen[i];
        }
        free(w->fam_seen);
        w->fam_seen = n;
        w->fam_cap = ncap;
    }
    uint64_t h = name_hash(name);
    size_t i = h & (w->fam_cap - 1);
    for (; w->fam_seen[i]; i = (i + 1) & (w->fam_cap - 1))
        if (w->fam_seen[i] == h)
            return EXP_ERR_EXISTS;
    w->fam_seen[i] = h;
    w->fam_n++;
    return 0;
}

int exp_writer_family(struct exp_writer *w, const char *name, const char *help, enum exp_type type)
{
    if (!w)
        return EXP_ERR_INVALID;
    if (w->err)
        return w->err;
    if (!exp__valid_metric_name(name) || (unsigned)type > EXP_UNTYPED)
        return w->err = EXP_ERR_INVALID;
    /* A family written twice makes scrapers reject the whole exposition. */
    int rc = remember_family(w, name);
    if (rc)
        return w->err = rc;
    size_t n = strlen(name);
    memcpy(w->fam, name, n + 1);
    memcpy(w->meta, name, n + 1);
    w->famlen = n;
    w->type = type;
    if (w->fmt == EXP_FORMAT_OPENMETRICS && type == EXP_COUNTER) {
        /* OpenMetrics: family "x", samples "x_total". */
        if (n > 6 && strcmp(name + n - 6, "_total") == 0)
            w->meta[n - 6] = '\0';
        else
            memcpy(w->fam + n, "_total", 7), w->famlen = n + 6;
    }
    if (help) {
        puts_(w, "# HELP ");
        puts_(w, w->meta);
        puts_(w, " ");
        put_escaped(w, help, w->fmt == EXP_FORMAT_OPENMETRICS);
        puts_(w, "\n");
    }
    puts_(w, "# TYPE ");
    puts_(w, w->meta);
    puts_(w, " ");
    puts_(w, type_word(w->fmt, type));
    return puts_(w, "\n");
}

int exp__writer_sample_ex(struct exp_writer *w, const char *suffix, size_t nlabels,
                          const char *const *names, const char *const *values,
                          const char *extra_name, double extra_v, double v)
{
    if (!w)
        return EXP_ERR_INVALID;
    if (w->err)
        return w->err;
    if (!w->famlen || (nlabels && (!names || !values)))
        return w->err = EXP_ERR_INVALID;
    if (suffix && *suffix) {
        /* Parts of histograms and summaries hang off the metadata name. */
        puts_(w, w->meta);
        puts_(w, suffix);
    } else {
        exp__writer_put(w, w->fam, w->famlen);
    }
    if (nlabels || extra_name) {
        exp__writer_put(w, "{", 1);
        for (size_t i = 0; i < nlabels; i++) {
            if (!names[i] || !values[i])
                return w->err = EXP_ERR_INVALID;
            if (i)
                exp__writer_put(w, ",", 1);
            puts_(w, names[i]);
            exp__writer_put(w, "=\"", 2);
            put_escaped(w, values[i], 1);
            exp__writer_put(w, "\"", 1);
        }
        if (extra_name) {
            char num[40];
            size_t k = fmt_value(w, num, extra_v);
            if (nlabels)
                exp__writer_put(w, ",", 1);
            puts_(w, extra_name);
            exp__writer_put(w, "=\"", 2);
            exp__writer_put(w, num, k);
            exp__writer_put(w, "\"", 1);
        }
        exp__writer_put(w, "}", 1);
    }
    char num[40];
    num[0] = ' ';
    size_t k = fmt_value(w, num + 1, v);
    num[k + 1] = '\n';
    return exp__writer_put(w, num, k + 2);
}

int exp_writer_sample(struct exp_writer *w, size_t nlabels, const char *const *names,
                      const char *const *values, double v)
{
    return exp__writer_sample_ex(w, NULL, nlabels, names, values, NULL, 0, v);
}

int exp_writer_sample_suffix(struct exp_writer *w, const char *suffix, size_t nlabels,
                             const char *const *names, const char *const *values, double v)
{
    return exp__writer_sample_ex(w, suffix, nlabels, names, values, NULL, 0, v);
}

int exp_writer_samplef(struct exp_writer *w, double v, size_t nlabels, ...)
{
    const char *names[16], *values[16];
    if (nlabels > 16)
        return w ? (w->err = EXP_ERR_INVALID) : EXP_ERR_INVALID;
    va_list ap;
    va_start(ap, nlabels);
    for (size_t i = 0; i < nlabels; i++) {
        names[i] = va_arg(ap, const char *);
        values[i] = va_arg(ap, const char *);
    }
    va_end(ap);
    return exp__writer_sample_ex(w, NULL, nlabels, names, values, NULL, 0, v);
}

enum exp_format exp_writer_format(const struct exp_writer *w)
{
    return w->fmt;
}

int exp__writer_finish(struct exp_writer *w)
{
    if (w->fmt == EXP_FORMAT_OPENMETRICS)
        puts_(w, "# EOF\n");
    if (!w->err && !w->buf && grow(w, 0) == 0)
        w->buf[0] = '\0'; /* an empty exposition is still a valid string */
    return w->err;
}
