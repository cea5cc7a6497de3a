/* timeutil.c - durations and timestamps (see timeutil.h). */
#include "common/timeutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *unit;
    int64_t mult;
} units[] = {
    {"y", 365 * PL_MS_PER_DAY},
    {"w", 7 * PL_MS_PER_DAY},
    {"d", PL_MS_PER_DAY},
    {"h", PL_MS_PER_HOUR},
    {"m", PL_MS_PER_MIN},
    {"s", PL_MS_PER_SEC},
    {"ms", 1},
};
#define NUNITS (sizeof(units) / sizeof(units[0]))

int pl_duration_parse(const char *s, size_t n, int64_t *ms, struct pl_err *err)
{
    if (n == 1 && s[0] == '0') {
        *ms = 0;
        return 0;
    }
    if (n == 0)
        return pl_err_set(err, PL_ERR_INVALID, "empty duration string");
    size_t i = 0;
    size_t next_unit = 0;
    int64_t total = 0;
    while (i < n) {
        if (s[i] < '0' || s[i] > '9')
            goto bad;
        int64_t v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (v > (INT64_MAX - (s[i] - '0')) / 10)
                goto overflow;
            v = v * 10 + (s[i] - '0');
            i++;
        }
        size_t ulen = 0;
        while (i + ulen < n && ((s[i + ulen] >= 'a' && s[i + ulen] <= 'z')))
            ulen++;
        size_t u;
        for (u = next_unit; u < NUNITS; u++)
            if (strlen(units[u].unit) == ulen && memcmp(units[u].unit, s + i, ulen) == 0)
                break;
        if (u == NUNITS || ulen == 0)
            goto bad;
        if (v > INT64_MAX / units[u].mult || total > INT64_MAX - v * units[u].mult)
            goto overflow;
        total += v * units[u].mult;
        next_unit = u + 1;
        i += ulen;
    }
    *ms = total;
    return 0;
bad:
    return pl_err_set(err, PL_ERR_INVALID, "not a valid duration string: \"%.*s\"", (int)n, s);
overflow:
    return pl_err_set(err, PL_ERR_INVALID, "duration out of range: \"%.*s\"", (int)n, s);
}

void pl_duration_format(int64_t ms, char *out, size_t outlen)
{
    if (ms == 0) {
        snprintf(out, outlen, "0s");
        return;
    }
    size_t off = 0;
    if (ms < 0) {
        off += (size_t)snprintf(out, outlen, "-");
        ms = -ms;
    }
    for (size_t u = 0; u < NUNITS && off < outlen; u++) {
        /* Years and weeks only when exact: 90d reads better than 12w6d. */
        if (u < 2 && ms % units[u].mult != 0)
            continue;
        int64_t v = ms / units[u].mult;
        if (v > 0) {
            off += (size_t)snprintf(out + off, outlen - off, "%lld%s", (long long)v, units[u].unit);
            ms -= v * units[u].mult;
        }
    }
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t n, size_t *i, int count, int *out)
{
    int v = 0;
    for (int k = 0; k < count; k++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9')
            return -1;
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    *out = v;
    return 0;
}

static int parse_rfc3339(const char *s, size_t n, int64_t *ms)
{
    size_t i = 0;
    int Y, M, D, h, m, sec;
    if (digits(s, n, &i, 4, &Y) || i >= n || s[i++] != '-' || digits(s, n, &i, 2, &M) || i >= n ||
        s[i++] != '-' || digits(s, n, &i, 2, &D) || i >= n || (s[i] != 'T' && s[i] != 't'))
        return -1;
    i++;
    if (digits(s, n, &i, 2, &h) || i >= n || s[i++] != ':' || digits(s, n, &i, 2, &m) || i >= n ||
        s[i++] != ':' || digits(s, n, &i, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 59)
        return -1;
    int64_t frac_ms = 0;
    if (i < n && s[i] == '.') {
        i++;
        size_t st = i;
        int64_t scale = 100;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            frac_ms += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == st)
            return -1;
    }
    int64_t offset_s = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i] == '-' ? -1 : 1;
        int oh, om;
        i++;
        if (digits(s, n, &i, 2, &oh) || i >= n || s[i++] != ':' || digits(s, n, &i, 2, &om))
            return -1;
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (i != n)
        return -1;
    int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t secs = days * 86400 + h * 3600 + m * 60 + sec - offset_s;
    *ms = secs * 1000 + frac_ms;
    return 0;
}

static int parse_float_seconds(const char *s, size_t n, double *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (*end != '\0' || end == tmp)
        return -1;
    /* strtod accepts hex floats and "infinity"; the API accepts what Go's ParseFloat does,
     * which includes "Inf" and "NaN" spellings; we keep that. */
    *out = v;
    return 0;
}

int pl_time_parse(const char *s, size_t n, int64_t *ms, struct pl_err *err)
{
    double v;
    if (parse_float_seconds(s, n, &v) == 0) {
        if (isnan(v))
            return pl_err_set(err, PL_ERR_INVALID, "cannot parse \"%.*s\" to a valid timestamp",
                              (int)n, s);
        /* Beyond the representable range: clamp, as Prometheus's min/max time. */
        if (v >= (double)PL_TIME_MAX / 1000.0) {
            *ms = PL_TIME_MAX;
            return 0;
        }
        if (v <= (double)PL_TIME_MIN / 1000.0) {
            *ms = PL_TIME_MIN;
            return 0;
        }
        double whole;
        double frac = modf(v, &whole);
        *ms = (int64_t)whole * 1000 + (int64_t)llround(frac * 1000.0);
        return 0;
    }
    if (parse_rfc3339(s, n, ms) == 0)
        return 0;
    return pl_err_set(err, PL_ERR_INVALID, "cannot parse \"%.*s\" to a valid timestamp", (int)n, s);
}

int pl_duration_or_seconds_parse(const char *s, size_t n, int64_t *ms, struct pl_err *err)
{
    double v;
    if (parse_float_seconds(s, n, &v) == 0) {
        double t = v * 1000.0;
        if (isnan(t) || t >= 9.2e18 || t <= -9.2e18)
            return pl_err_set(err, PL_ERR_INVALID,
                              "cannot parse \"%.*s\" to a valid duration. It overflows int64",
                              (int)n, s);
        *ms = (int64_t)llround(t);
        return 0;
    }
    if (pl_duration_parse(s, n, ms, NULL) == 0)
        return 0;
    return pl_err_set(err, PL_ERR_INVALID, "cannot parse \"%.*s\" to a valid duration", (int)n, s);
}

void pl_time_format_rfc3339(int64_t ms, char *out, size_t outlen)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

int64_t pl_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pl_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
