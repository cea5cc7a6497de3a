/*
 * fn_instant.c - PromQL functions over instant vectors and scalars, and the
 * Go float helpers they share (Prometheus 2.42, promql/functions.go):
 * math functions, clamp, round, timestamp, date functions (UTC), sort,
 * absent, scalar, vector, time, pi, label_replace, label_join and
 * histogram_quantile over classic `le` buckets.
 */
#include "query/eval_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/mem.h"
#include "tsdb/matcher.h"

/* ---- Go float semantics ---- */

double query__go_min(double a, double b)
{
    if (isinf(a) && a < 0)
        return a;
    if (isinf(b) && b < 0)
        return b;
    if (isnan(a) || isnan(b))
        return NAN;
    if (a == 0 && a == b)
        return signbit(a) ? a : b;
    return a < b ? a : b;
}

double query__go_max(double a, double b)
{
    if (isinf(a) && a > 0)
        return a;
    if (isinf(b) && b > 0)
        return b;
    if (isnan(a) || isnan(b))
        return NAN;
    if (a == 0 && a == b)
        return signbit(a) ? b : a;
    return a > b ? a : b;
}

int query__format_float_f(struct pl_buf *out, double v)
{
    if (isnan(v))
        return pl_buf_puts(out, "NaN");
    if (isinf(v))
        return pl_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    if (v == 0)
        return pl_buf_puts(out, signbit(v) ? "-0" : "0");
    /* The shortest digits that read back as v, laid out without an exponent. */
    char e[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    char digits[32];
    size_t nd = 0;
    const char *p = e;
    int rc = 0;
    if (*p == '-') {
        rc = pl_buf_putc(out, '-');
        p++;
    }
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < sizeof(digits))
            digits[nd++] = *p;
    int exp10 = *p == 'e' ? atoi(p + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int point = exp10 + 1; /* digits before the decimal point */
    if (point <= 0) {
        if (rc == 0)
            rc = pl_buf_puts(out, "0.");
        for (int i = 0; rc == 0 && i < -point; i++)
            rc = pl_buf_putc(out, '0');
        if (rc == 0)
            rc = pl_buf_append(out, digits, nd);
        return rc;
    }
    for (int i = 0; rc == 0 && i < point; i++)
        rc = pl_buf_putc(out, (size_t)i < nd ? digits[i] : '0');
    if (rc == 0 && (size_t)point < nd) {
        rc = pl_buf_putc(out, '.');
        if (rc == 0)
            rc = pl_buf_append(out, digits + point, nd - (size_t)point);
    }
    return rc;
}

int query__parse_float(const char *s, double *out)
{
    if (!*s || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
        return -1;
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (strncasecmp(p, "nan", 3) == 0 && p[3] != 0)
        return -1; /* no nan(...) forms */
    if ((p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) && !strpbrk(p, "pP"))
        return -1; /* Go requires the p exponent in hex floats */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != 0 || end == s)
        return -1;
    if (errno == ERANGE && isinf(v))
        return -1;
    *out = v;
    return 0;
}

/* NaN sorts first, as in vectorByValueHeap's Less. */
static int less_nan_first(double a, double b)
{
    if (isnan(a))
        return 1;
    return a < b;
}

static void sift_down(double *v, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && less_nan_first(v[c], v[c + 1]))
            c++;
        if (!less_nan_first(v[i], v[c]))
            return;
        double t = v[i];
        v[i] = v[c];
        v[c] = t;
        i = c;
    }
}

void query__sort_doubles(double *v, size_t n)
{
    /*
     * Equal doubles are interchangeable, so stability does not matter here:
     * insertion sort for small windows, in-place heapsort (no allocation on
     * this per-step path) otherwise.
     */
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            double x = v[i];
            size_t j = i;
            while (j > 0 && less_nan_first(x, v[j - 1])) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        return;
    }
    for (size_t i = n / 2; i-- > 0;)
        sift_down(v, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        double t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift_down(v, 0, end);
    }
}

double query__quantile(double q, double *values, size_t n)
{
    if (n == 0)
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    if (isnan(q))
        return NAN;
    query__sort_doubles(values, n);
    double fn = (double)n;
    double rank = q * (fn - 1);
    double lower = fmax(0, floor(rank));
    double upper = fmin(fn - 1, lower + 1);
    double weight = rank - floor(rank);
    return values[(size_t)lower] * (1 - weight) + values[(size_t)upper] * weight;
}

/* ---- helpers ---- */

static size_t step_index(const struct ev_ctx *c, int64_t t)
{
    return (size_t)((t - c->start) / c->step);
}

const struct pl_labels *query__absent_labels(struct ev_ctx *c, const struct query_node *arg)
{
    while (arg->kind == QUERY_NODE_PAREN)
        arg = arg->paren.expr;
    if (arg->kind == QUERY_NODE_MATRIX_SELECTOR)
        arg = arg->ms.vs;
    if (arg->kind != QUERY_NODE_VECTOR_SELECTOR)
        return c->empty;
    pl_lb_reset(&c->lb);
    /* Equality matchers give labels; a name matched any other way (or twice) gets none. */
    for (size_t i = 0; i < arg->vs.nmatchers; i++) {
        const struct tsdb_matcher *m = arg->vs.matchers[i];
        const char *name = tsdb_matcher_name(m);
        size_t vlen;
        if (strcmp(name, PL_METRIC_NAME) == 0)
            continue;
        if (tsdb_matcher_type(m) == TSDB_MATCH_EQ && !pl_lb_get(&c->lb, name, strlen(name), &vlen))
            pl_lb_setz(&c->lb, name, tsdb_matcher_value(m));
    }
    for (size_t i = 0; i < arg->vs.nmatchers; i++) {
        const struct tsdb_matcher *m = arg->vs.matchers[i];
        const char *name = tsdb_matcher_name(m);
        if (strcmp(name, PL_METRIC_NAME) == 0)
            continue;
        int eq_first = 0;
        /* Deleted unless this is the first equality matcher on the name. */
        for (size_t j = 0; j < arg->vs.nmatchers; j++) {
            const struct tsdb_matcher *o = arg->vs.matchers[j];
            if (strcmp(tsdb_matcher_name(o), name) != 0)
                continue;
            eq_first = (o == m && tsdb_matcher_type(m) == TSDB_MATCH_EQ);
            break;
        }
        if (!eq_first)
            pl_lb_del(&c->lb, name, strlen(name));
    }
    return query__lb_pooled(c);
}

/* ---- date functions ---- */

/*
 * Go's time package, followed step by step (time.Unix(int64(v), 0).UTC()
 * and absDate), so that every input -- NaN and values far outside the
 * calendar included -- gives the same answer as Prometheus on amd64, where
 * int64(v) of NaN or an out-of-range float is math.MinInt64.
 */
static int64_t go_float_to_int64(double v)
{
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
        return INT64_MIN;
    return (int64_t)v;
}

static int go_is_leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static double date_value(enum query_func_id id, double v)
{
    static const int32_t days_before[] = {0,   31,  59,  90,  120, 151, 181,
                                          212, 243, 273, 304, 334, 365};
    const uint64_t spd = 86400, d400 = 365 * 400 + 97, d100 = 365 * 100 + 24, d4 = 365 * 4 + 1;
    int64_t sec = go_float_to_int64(v);
    /* sec + unixToInternal + internalToAbsolute, wrapping like Go's int64. */
    uint64_t abs = (uint64_t)sec + UINT64_C(9223372028715321600);
    switch (id) {
    case QUERY_FN_HOUR:
        return (double)((abs % spd) / 3600);
    case QUERY_FN_MINUTE:
        return (double)((abs % 3600) / 60);
    case QUERY_FN_DAY_OF_WEEK:
        return (double)(((abs + 1 * spd) % (7 * spd)) / spd);
    default:
        break;
    }
    uint64_t d = abs / spd;
    uint64_t n = d / d400;
    uint64_t y = 400 * n;
    d -= d400 * n;
    n = d / d100;
    n -= n >> 2;
    y += 100 * n;
    d -= d100 * n;
    n = d / d4;
    y += 4 * n;
    d -= d4 * n;
    n = d / 365;
    n -= n >> 2;
    y += n;
    d -= 365 * n;
    int64_t year = (int64_t)y + INT64_C(-292277022399);
    int yday = (int)d;
    if (id == QUERY_FN_YEAR)
        return (double)year;
    if (id == QUERY_FN_DAY_OF_YEAR)
        return yday + 1;
    int day = yday, month;
    int leap = go_is_leap(year);
    if (leap && day == 31 + 29 - 1) {
        month = 2;
        day = 29;
    } else {
        if (leap && day > 31 + 29 - 1)
            day--;
        month = day / 31;
        int end = days_before[month + 1], begin;
        if (day >= end) {
            month++;
            begin = end;
        } else {
            begin = days_before[month];
        }
        month++;
        day = day - begin + 1;
    }
    switch (id) {
    case QUERY_FN_MONTH:
        return month;
    case QUERY_FN_DAY_OF_MONTH:
        return day;
    case QUERY_FN_DAYS_IN_MONTH:
        return (days_before[month] - days_before[month - 1]) + (month == 2 && leap);
    default:
        return NAN;
    }
}

static int is_date_fn(enum query_func_id id)
{
    switch (id) {
    case QUERY_FN_YEAR:
    case QUERY_FN_MONTH:
    case QUERY_FN_DAY_OF_MONTH:
    case QUERY_FN_DAY_OF_WEEK:
    case QUERY_FN_DAY_OF_YEAR:
    case QUERY_FN_DAYS_IN_MONTH:
    case QUERY_FN_HOUR:
    case QUERY_FN_MINUTE:
        return 1;
    default:
        return 0;
    }
}

/* ---- element-wise math ---- */

static int simple_math(enum query_func_id id, double x, double *out)
{
    switch (id) {
    case QUERY_FN_ABS:
        *out = fabs(x);
        break;
    case QUERY_FN_CEIL:
        *out = ceil(x);
        break;
    case QUERY_FN_FLOOR:
        *out = floor(x);
        break;
    case QUERY_FN_EXP:
        *out = exp(x);
        break;
    case QUERY_FN_SQRT:
        *out = sqrt(x);
        break;
    case QUERY_FN_LN:
        *out = log(x);
        break;
    case QUERY_FN_LOG2:
        *out = log2(x);
        break;
    case QUERY_FN_LOG10:
        *out = log10(x);
        break;
    case QUERY_FN_SIN:
        *out = sin(x);
        break;
    case QUERY_FN_COS:
        *out = cos(x);
        break;
    case QUERY_FN_TAN:
        *out = tan(x);
        break;
    case QUERY_FN_ASIN:
        *out = asin(x);
        break;
    case QUERY_FN_ACOS:
        *out = acos(x);
        break;
    case QUERY_FN_ATAN:
        *out = atan(x);
        break;
    case QUERY_FN_SINH:
        *out = sinh(x);
        break;
    case QUERY_FN_COSH:
        *out = cosh(x);
        break;
    case QUERY_FN_TANH:
        *out = tanh(x);
        break;
    case QUERY_FN_ASINH:
        *out = asinh(x);
        break;
    case QUERY_FN_ACOSH:
        *out = acosh(x);
        break;
    case QUERY_FN_ATANH:
        *out = atanh(x);
        break;
    case QUERY_FN_DEG:
        *out = x * 180 / M_PI;
        break;
    case QUERY_FN_RAD:
        *out = x * M_PI / 180;
        break;
    case QUERY_FN_SGN:
        *out = x < 0 ? -1 : x > 0 ? 1 : x;
        break;
    default:
        return 0;
    }
    return 1;
}

/* ---- label_replace / label_join ---- */

/* Go's regexp.Expand of template `tpl` with the match in src. */
__attribute__((noinline)) static void expand_template(struct pl_buf *b, const char *tpl,
                                                      const char *src, PCRE2_SIZE *ov, int nmatch,
                                                      const pcre2_code *re)
{
    for (const char *p = tpl; *p;) {
        if (*p != '$') {
            pl_buf_putc(b, *p++);
            continue;
        }
        p++;
        if (*p == '$') {
            pl_buf_putc(b, '$');
            p++;
            continue;
        }
        const char *name = p;
        size_t nlen = 0;
        int brace = 0;
        if (*p == '{') {
            brace = 1;
            name = ++p;
        }
        while (name[nlen] && (name[nlen] == '_' || (name[nlen] >= '0' && name[nlen] <= '9') ||
                              (name[nlen] >= 'a' && name[nlen] <= 'z') ||
                              (name[nlen] >= 'A' && name[nlen] <= 'Z')))
            nlen++;
        if (nlen == 0 || (brace && name[nlen] != '}')) {
            /* Malformed: the $ is literal text. */
            pl_buf_putc(b, '$');
            p = brace ? name - 1 : name;
            continue;
        }
        p = name + nlen + (brace ? 1 : 0);
        int num = -1, alldig = 1;
        for (size_t i = 0; i < nlen; i++)
            if (name[i] < '0' || name[i] > '9')
                alldig = 0;
        if (alldig) {
            num = 0;
            for (size_t i = 0; i < nlen && num < 100000; i++)
                num = num * 10 + (name[i] - '0');
        } else {
            char nm[256];
            if (nlen < sizeof(nm)) {
                memcpy(nm, name, nlen);
                nm[nlen] = 0;
                int r = pcre2_substring_number_from_name(re, (PCRE2_SPTR)nm);
                num = r >= 0 ? r : -1;
            }
        }
        if (num >= 0 && num < nmatch && ov[2 * num] != PCRE2_UNSET)
            pl_buf_append(b, src + ov[2 * num], ov[2 * num + 1] - ov[2 * num]);
    }
}

/* A string argument, through any parentheses. */
static const char *str_arg(const struct query_node *n, size_t i)
{
    const struct query_node *a = n->call.args[i];
    while (a->kind == QUERY_NODE_PAREN)
        a = a->paren.expr;
    return a->kind == QUERY_NODE_STRING ? a->string.s : "";
}

__attribute__((noinline)) static int eval_label_replace(struct ev_ctx *c,
                                                        const struct query_node *n,
                                                        struct ev_value *in, struct ev_value *out)
{
    const char *dst = str_arg(n, 1), *repl = str_arg(n, 2);
    const char *src = str_arg(n, 3), *pat = str_arg(n, 4);
    struct tsdb_regex *tre = NULL;
    struct pl_err pe;
    if (tsdb_regex_new(pat, &tre, &pe) != 0)
        return query__errf(c, QUERY_ERR_EXECUTION,
                           "invalid regular expression in label_replace(): %s", pat);
    tsdb_regex_free(tre);
    if (!pl_label_name_valid(dst, strlen(dst)))
        return query__errf(c, QUERY_ERR_EXECUTION,
                           "invalid destination label name in label_replace(): %s", dst);
    struct pl_buf full;
    pl_buf_init(&full, 1 << 20);
    pl_buf_printf(&full, "^(?:%s)$", pat);
    int ecode;
    PCRE2_SIZE eoff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pl_buf_cstr(&full), full.len,
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ecode, &eoff, NULL);
    pl_buf_fini(&full);
    if (!re)
        return query__errf(c, QUERY_ERR_EXECUTION,
                           "invalid regular expression in label_replace(): %s", pat);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    out->type = QUERY_VT_VECTOR;
    out->m = in->m;
    memset(&in->m, 0, sizeof(in->m));
    for (size_t i = 0; i < out->m.n; i++) {
        struct ev_series *s = &out->m.s[i];
        const char *sv = pl_labels_value(s->ls, src);
        int rc = pcre2_match(re, (PCRE2_SPTR)sv, strlen(sv), 0, 0, md, NULL);
        if (rc < 0)
            continue;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        pl_buf_reset(&b);
        expand_template(&b, repl, sv, ov, rc, re);
        pl_lb_reset_from(&c->lb, s->ls);
        pl_lb_set(&c->lb, dst, strlen(dst), pl_buf_cstr(&b), b.len);
        s->ls = query__lb_pooled(c);
    }
    pl_buf_fini(&b);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return query__matrix_dedupe(c, &out->m);
}

__attribute__((noinline)) static int eval_label_join(struct ev_ctx *c, const struct query_node *n,
                                                     struct ev_value *in, struct ev_value *out)
{
    const char *dst = str_arg(n, 1), *sep = str_arg(n, 2);
    for (size_t i = 3; i < n->call.nargs; i++) {
        const char *src = str_arg(n, i);
        if (!pl_label_name_valid(src, strlen(src)))
            return query__errf(c, QUERY_ERR_EXECUTION,
                               "invalid source label name in label_join(): %s", src);
    }
    if (!pl_label_name_valid(dst, strlen(dst)))
        return query__errf(c, QUERY_ERR_EXECUTION,
                           "invalid destination label name in label_join(): %s", dst);
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    out->type = QUERY_VT_VECTOR;
    out->m = in->m;
    memset(&in->m, 0, sizeof(in->m));
    for (size_t i = 0; i < out->m.n; i++) {
        struct ev_series *s = &out->m.s[i];
        pl_buf_reset(&b);
        for (size_t j = 3; j < n->call.nargs; j++) {
            if (j > 3)
                pl_buf_puts(&b, sep);
            pl_buf_puts(&b, pl_labels_value(s->ls, str_arg(n, j)));
        }
        pl_lb_reset_from(&c->lb, s->ls);
        pl_lb_set(&c->lb, dst, strlen(dst), pl_buf_cstr(&b), b.len);
        s->ls = query__lb_pooled(c);
    }
    pl_buf_fini(&b);
    return query__matrix_dedupe(c, &out->m);
}

/* ---- histogram_quantile ---- */

struct bucket {
    double upper, count;
};

static int cmp_bucket(const void *a, const void *b)
{
    double x = ((const struct bucket *)a)->upper, y = ((const struct bucket *)b)->upper;
    return x < y ? -1 : x > y;
}

static double bucket_quantile(double q, struct bucket *b, size_t n)
{
    if (isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    qsort(b, n, sizeof(*b), cmp_bucket);
    if (!(isinf(b[n - 1].upper) && b[n - 1].upper > 0))
        return NAN;
    /* Coalesce equal bounds. */
    size_t w = 0;
    for (size_t i = 1; i < n; i++) {
        if (b[i].upper == b[w].upper)
            b[w].count += b[i].count;
        else
            b[++w] = b[i];
    }
    n = w + 1;
    /* Make counts monotonic. */
    double max = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (b[i].count > max)
            max = b[i].count;
        else if (b[i].count < max)
            b[i].count = max;
    }
    if (n < 2)
        return NAN;
    double obs = b[n - 1].count;
    if (obs == 0)
        return NAN;
    double rank = q * obs;
    size_t i = 0;
    /* sort.Search over [0, n-1): the first bucket whose count >= rank. */
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (!(b[mid].count >= rank))
            lo = mid + 1;
        else
            hi = mid;
    }
    i = lo;
    if (i == n - 1)
        return b[n - 2].upper;
    if (i == 0 && b[0].upper <= 0)
        return b[0].upper;
    double start = 0, end = b[i].upper, count = b[i].count;
    if (i > 0) {
        start = b[i - 1].upper;
        count -= b[i - 1].count;
        rank -= b[i - 1].count;
    }
    return start + (end - start) * (rank / count);
}

__attribute__((noinline)) static int eval_histogram_quantile(struct ev_ctx *c, const double *q,
                                                             struct ev_value *in,
                                                             struct ev_value *out)
{
    size_t ns = in->m.n;
    int32_t *grp = pl_xmalloc((ns + 1) * sizeof(*grp));
    double *upper = pl_xmalloc((ns + 1) * sizeof(*upper));
    struct ev_hmap h;
    query__hmap_init(&h);
    const struct pl_labels **gkey = pl_xmalloc((ns + 1) * sizeof(*gkey));
    const struct pl_labels **glab = pl_xmalloc((ns + 1) * sizeof(*glab));
    size_t ng = 0;
    const char *le = "le";
    for (size_t i = 0; i < ns; i++) {
        const struct pl_label *l = pl_labels_get(in->m.s[i].ls, le);
        if (!l || query__parse_float(l->value, &upper[i]) != 0) {
            grp[i] = -1;
            continue;
        }
        pl_lb_reset_from(&c->lb, in->m.s[i].ls);
        pl_lb_del(&c->lb, le, 2);
        const struct pl_labels *key = query__lb_pooled(c);
        uint32_t it = 0, g;
        int found = 0;
        while (query__hmap_iter(&h, key->hash, &it, &g))
            if (pl_labels_equal(gkey[g], key)) {
                found = 1;
                break;
            }
        if (!found) {
            g = (uint32_t)ng++;
            gkey[g] = key;
            glab[g] = query__drop_name(c, key);
            query__hmap_put(&h, key->hash, g);
        }
        grp[i] = (int32_t)g;
    }
    /* Per step: gather each group's buckets, then compute. */
    struct bucket *bk = pl_xmalloc((ns + 1) * sizeof(*bk));
    size_t *gstart = pl_xcalloc(ng + 1, sizeof(size_t));
    size_t *gcount = pl_xcalloc(ng + 1, sizeof(size_t));
    size_t *cur = pl_xcalloc(ns + 1, sizeof(size_t));
    int32_t *gout = pl_xmalloc((ng + 1) * sizeof(*gout));
    for (size_t g = 0; g < ng; g++)
        gout[g] = -1;
    /* Group members are counted once, so offsets into bk are fixed. */
    size_t *members = pl_xcalloc(ng + 1, sizeof(size_t));
    for (size_t i = 0; i < ns; i++)
        if (grp[i] >= 0)
            members[grp[i]]++;
    for (size_t g = 1; g < ng; g++)
        gstart[g] = gstart[g - 1] + members[g - 1];
    size_t *order = pl_xmalloc((ng + 1) * sizeof(size_t));
    out->type = QUERY_VT_VECTOR;
    int rc = 0;
    for (size_t k = 0; k < c->nsteps && rc == 0; k++) {
        int64_t ts = query__step_time(c, k);
        size_t norder = 0;
        for (size_t i = 0; i < ns; i++) {
            struct ev_series *s = &in->m.s[i];
            if (cur[i] >= s->n || s->t[cur[i]] != ts)
                continue;
            double v = s->v[cur[i]++];
            if (grp[i] < 0)
                continue;
            size_t g = (size_t)grp[i];
            if (gcount[g] == 0)
                order[norder++] = g;
            bk[gstart[g] + gcount[g]].upper = upper[i];
            bk[gstart[g] + gcount[g]].count = v;
            gcount[g]++;
        }
        for (size_t oi = 0; oi < norder; oi++) {
            size_t g = order[oi];
            double v = bucket_quantile(q[k], bk + gstart[g], gcount[g]);
            gcount[g] = 0;
            if (c->nsteps == 1 || gout[g] < 0) {
                gout[g] = (int32_t)out->m.n;
                query__matrix_add(&out->m, glab[g]);
            }
            query__series_push(&out->m.s[gout[g]], ts, v);
        }
        rc = query__check(c);
    }
    free(order);
    free(members);
    free(gout);
    free(cur);
    free(gcount);
    free(gstart);
    free(bk);
    free(glab);
    free(gkey);
    free(upper);
    free(grp);
    query__hmap_fini(&h);
    if (rc == 0)
        rc = query__matrix_dedupe(c, &out->m);
    return rc;
}

/* ---- sort ---- */

struct sort_item {
    double v;
    size_t i;
};

/* Prometheus's sort: ascending, NaN last; sort_desc: descending, NaN last. */
static int sort_before(const struct sort_item *a, const struct sort_item *b, int desc)
{
    if (isnan(b->v))
        return !isnan(a->v);
    if (isnan(a->v))
        return 0;
    return desc ? a->v > b->v : a->v < b->v;
}

/* Stable merge sort of it[0..n) by sort_before, using tmp[0..n). */
static void merge_sort_items(struct sort_item *it, struct sort_item *tmp, size_t n, int desc)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    merge_sort_items(it, tmp, h, desc);
    merge_sort_items(it + h, tmp, n - h, desc);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = sort_before(&it[j], &it[i], desc) ? it[j++] : it[i++];
    while (i < h)
        tmp[k++] = it[i++];
    while (j < n)
        tmp[k++] = it[j++];
    memcpy(it, tmp, n * sizeof(*it));
}

__attribute__((noinline)) static void sort_series(struct ev_matrix *m, int desc)
{
    size_t n = m->n;
    if (n < 2)
        return;
    struct sort_item *it = pl_xmalloc(n * sizeof(*it));
    struct sort_item *tmp = pl_xmalloc(n * sizeof(*tmp));
    for (size_t i = 0; i < n; i++) {
        it[i].v = m->s[i].n ? m->s[i].v[0] : NAN;
        it[i].i = i;
    }
    merge_sort_items(it, tmp, n, desc);
    struct ev_series *ns = pl_xmalloc(n * sizeof(*ns));
    for (size_t i = 0; i < n; i++)
        ns[i] = m->s[it[i].i];
    memcpy(m->s, ns, n * sizeof(*ns));
    free(ns);
    free(tmp);
    free(it);
}

/* ---- dispatch ---- */

__attribute__((noinline)) static int call_apply(struct ev_ctx *c, const struct query_node *n,
                                                const struct query_node *a, struct ev_value *inp,
                                                double **params, size_t np, struct ev_value *out);

static int has_matrix_arg(const struct query_node *n)
{
    for (size_t i = 0; i < n->call.nargs; i++)
        if (query_node_type(n->call.args[i]) == QUERY_VT_MATRIX)
            return 1;
    return 0;
}

int query__call(struct ev_ctx *c, const struct query_node *n, struct ev_value *out)
{
    enum query_func_id id = n->call.func->id;
    int rc = 0;
    if (has_matrix_arg(n))
        return query__call_range(c, n, out);
    /* Every path below may hold a value or flag per step. */
    if ((rc = query__steps_check(c)) != 0)
        return rc;

    switch (id) {
    case QUERY_FN_TIME:
    case QUERY_FN_PI:
        out->type = QUERY_VT_SCALAR;
        out->sc = pl_xmalloc(c->nsteps * sizeof(double));
        /* A simple fill, bounded by max_samples: counted, not interrupted. */
        for (size_t k = 0; k < c->nsteps; k++)
            out->sc[k] = id == QUERY_FN_PI ? M_PI : (double)query__step_time(c, k) / 1000.0;
        return query__tick(c, c->nsteps);
    case QUERY_FN_VECTOR: {
        double *sc;
        if ((rc = query__eval_scalar(c, n->call.args[0], &sc)) != 0)
            return rc;
        out->type = QUERY_VT_VECTOR;
        struct ev_series *s = query__matrix_add(&out->m, c->empty);
        for (size_t k = 0; k < c->nsteps && rc == 0; k++) {
            query__series_push(s, query__step_time(c, k), sc[k]);
            rc = query__tick(c, 1);
        }
        free(sc);
        return rc ? rc : query__samples_add(c, s->n);
    }
    default:
        break;
    }

    if (is_date_fn(id) && n->call.nargs == 0) {
        out->type = QUERY_VT_VECTOR;
        struct ev_series *s = query__matrix_add(&out->m, c->empty);
        for (size_t k = 0; k < c->nsteps && rc == 0; k++) {
            int64_t ts = query__step_time(c, k);
            query__series_push(s, ts, date_value(id, (double)ts / 1000.0));
            rc = query__tick(c, 1);
        }
        return rc ? rc : query__samples_add(c, s->n);
    }

    /* Every other function has a vector first argument (histogram_quantile: second). */
    size_t varg = id == QUERY_FN_HISTOGRAM_QUANTILE ? 1 : 0;
    double *params[2] = {NULL, NULL};
    size_t np = 0;
    for (size_t i = 0; i < n->call.nargs; i++) {
        if (i == varg || query_node_type(n->call.args[i]) != QUERY_VT_SCALAR || np == 2)
            continue;
        if ((rc = query__eval_scalar(c, n->call.args[i], &params[np])) != 0)
            goto out;
        np++;
    }
    struct ev_value in = {0};
    const struct query_node *a = n->call.args[varg];
    while (a->kind == QUERY_NODE_PAREN)
        a = a->paren.expr;
    if (id == QUERY_FN_TIMESTAMP && a->kind == QUERY_NODE_VECTOR_SELECTOR)
        rc = query__eval_selector_times(c, a, &in);
    else
        rc = query__eval(c, n->call.args[varg], &in);
    if (rc == 0)
        rc = call_apply(c, n, a, &in, params, np, out);
    query__value_fini(c, &in);
out:
    free(params[0]);
    free(params[1]);
    return rc;
}

/*
 * The work after the arguments are evaluated, out of line so that the
 * recursive query__call frame stays small (deeply nested queries).
 */
static int call_apply(struct ev_ctx *c, const struct query_node *n, const struct query_node *a,
                      struct ev_value *inp, double **params, size_t np, struct ev_value *out)
{
    enum query_func_id id = n->call.func->id;
    struct ev_value in = *inp;
    int rc = 0;
    memset(inp, 0, sizeof(*inp));
    switch (id) {
    case QUERY_FN_SCALAR: {
        out->type = QUERY_VT_SCALAR;
        out->sc = pl_xmalloc(c->nsteps * sizeof(double));
        size_t *cnt = pl_xcalloc(c->nsteps, sizeof(size_t));
        for (size_t k = 0; k < c->nsteps; k++)
            out->sc[k] = NAN;
        for (size_t i = 0; i < in.m.n && rc == 0; i++) {
            for (size_t j = 0; j < in.m.s[i].n; j++) {
                size_t k = step_index(c, in.m.s[i].t[j]);
                out->sc[k] = cnt[k]++ ? NAN : in.m.s[i].v[j];
            }
            rc = query__tick(c, 1 + in.m.s[i].n);
        }
        for (size_t k = 0; k < c->nsteps; k++)
            if (cnt[k] > 1)
                out->sc[k] = NAN;
        free(cnt);
        goto out_in;
    }
    case QUERY_FN_ABSENT: {
        out->type = QUERY_VT_VECTOR;
        char *has = pl_xcalloc(c->nsteps, 1);
        for (size_t i = 0; i < in.m.n && rc == 0; i++) {
            for (size_t j = 0; j < in.m.s[i].n; j++)
                has[step_index(c, in.m.s[i].t[j])] = 1;
            rc = query__tick(c, 1 + in.m.s[i].n);
        }
        struct ev_series *s = NULL;
        for (size_t k = 0; k < c->nsteps && rc == 0; k++) {
            if ((rc = query__tick(c, 1)) != 0)
                break;
            if (has[k])
                continue;
            if (!s)
                s = query__matrix_add(&out->m, query__absent_labels(c, n->call.args[0]));
            query__series_push(s, query__step_time(c, k), 1);
        }
        free(has);
        goto out_in;
    }
    case QUERY_FN_SORT:
    case QUERY_FN_SORT_DESC:
        *out = in;
        memset(&in, 0, sizeof(in));
        if (c->nsteps == 1)
            sort_series(&out->m, id == QUERY_FN_SORT_DESC);
        goto out_in;
    case QUERY_FN_LABEL_REPLACE:
        rc = eval_label_replace(c, n, &in, out);
        goto out_in;
    case QUERY_FN_LABEL_JOIN:
        rc = eval_label_join(c, n, &in, out);
        goto out_in;
    case QUERY_FN_HISTOGRAM_QUANTILE:
        rc = eval_histogram_quantile(c, params[0], &in, out);
        goto out_in;
    default:
        break;
    }

    /* Element-wise functions: drop the metric name, map the values. */
    out->type = QUERY_VT_VECTOR;
    for (size_t i = 0; i < in.m.n; i++) {
        struct ev_series *s = &in.m.s[i];
        struct ev_series *o = NULL;
        for (size_t j = 0; j < s->n; j++) {
            double x = s->v[j], r;
            size_t k = step_index(c, s->t[j]);
            if (id == QUERY_FN_CLAMP) {
                double mn = params[0][k], mx = params[1][k];
                if (mx < mn)
                    continue;
                r = query__go_max(mn, query__go_min(mx, x));
            } else if (id == QUERY_FN_CLAMP_MAX) {
                r = query__go_min(x, params[0][k]);
            } else if (id == QUERY_FN_CLAMP_MIN) {
                r = query__go_max(x, params[0][k]);
            } else if (id == QUERY_FN_ROUND) {
                double inv = 1.0 / (np > 0 ? params[0][k] : 1.0);
                r = floor(x * inv + 0.5) / inv;
            } else if (id == QUERY_FN_TIMESTAMP) {
                r = a->kind == QUERY_NODE_VECTOR_SELECTOR ? x : (double)s->t[j] / 1000.0;
            } else if (is_date_fn(id)) {
                r = date_value(id, x);
            } else if (!simple_math(id, x, &r)) {
                rc = query__errf(c, QUERY_ERR_INTERNAL, "function %s is not implemented",
                                 n->call.func->name);
                goto out_in;
            }
            if (!o)
                o = query__matrix_add(&out->m, query__drop_name(c, s->ls));
            query__series_push(o, s->t[j], r);
        }
        if (o && (rc = query__samples_add(c, o->n)) != 0)
            goto out_in;
        if ((rc = query__tick(c, 1 + s->n)) != 0)
            goto out_in;
    }
    rc = query__matrix_dedupe(c, &out->m);
out_in:
    query__value_fini(c, &in);
    return rc;
}
