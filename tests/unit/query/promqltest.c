/*
 * promqltest.c - runs Prometheus's PromQL `.test` scripts (promqltest format
 * of v2.42: load / clear / eval instant / eval_fail / eval_ordered) in
 * process against the in-memory store, the way the HTTP runner in
 * shared/promql-tests does: each instant eval is also run as a range query
 * from T-60s to T+60s (step 60s) checked at T, and with `@ T` added to every
 * selector and subquery (promqltest's atModifierTestCases) at -10T, 0, T/5,
 * T and 10T. Prints `N passed, N failed` per file.
 *
 * Usage: promqltest [-v] [--strict] [--ratchet FILE] [--no-variants] FILE.test|DIR...
 * With --ratchet, exits 1 when fewer evals pass than the number in FILE;
 * with --strict, when any eval fails.
 */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/labels.h"
#include "common/mem.h"
#include "memstore.h"
#include "query/query.h"
#include "tsdb/tsdb.h"

static int verbose;
static int variants = 1;
/* --dump-range START END STEP (ms): print each eval's range result instead. */
static int dump_range;
static int64_t dr_start, dr_end, dr_step;

#define MAX_VALS 200000

struct expect {
    struct pl_labels *ls;
    double v;
    int has_v;
    int pos;
};

struct eval {
    int line;
    int fail, ordered;
    int64_t at;
    char expr[4096];
    struct expect *ex;
    size_t nex;
    int has_scalar;
    double scalar;
    char *str;
};

static double stale_nan(void)
{
    union {
        uint64_t u;
        double d;
    } x = {.u = TSDB_STALE_NAN_BITS};
    return x.d;
}

static int64_t parse_dur(const char *s)
{
    static const struct {
        const char *u;
        int64_t ms;
    } units[] = {{"ms", 1},        {"y", 31536000000LL}, {"w", 604800000LL}, {"d", 86400000LL},
                 {"h", 3600000LL}, {"m", 60000},         {"s", 1000}};
    int64_t total = 0;
    int neg = 0;
    if (*s == '-') {
        neg = 1;
        s++;
    }
    while (*s) {
        char *end;
        long long n = strtoll(s, &end, 10);
        if (end == s)
            return INT64_MIN;
        s = end;
        size_t i;
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t l = strlen(units[i].u);
            if (strncmp(s, units[i].u, l) == 0 && !(l == 1 && s[0] == 'm' && s[1] == 's')) {
                total += n * units[i].ms;
                s += l;
                break;
            }
        }
        if (i == sizeof(units) / sizeof(units[0])) {
            if (*s == 0 && total == 0)
                return (neg ? -1 : 1) * (int64_t)n * 1000; /* plain seconds */
            return INT64_MIN;
        }
    }
    return neg ? -total : total;
}

static int parse_num(const char *s, size_t n, double *out)
{
    char b[128];
    if (n == 0 || n >= sizeof(b))
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_')
            b[o++] = s[i];
    b[o] = 0;
    const char *p = b;
    double sign = 1;
    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    if (strcasecmp(p, "inf") == 0 || strcasecmp(p, "infinity") == 0) {
        *out = sign * INFINITY;
        return 0;
    }
    if (strcasecmp(p, "nan") == 0) {
        *out = NAN;
        return 0;
    }
    char *end;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        *out = sign * (double)strtoull(p + 2, &end, 16);
        return *end ? -1 : 0;
    }
    if (!(isdigit((unsigned char)*p) || *p == '.'))
        return -1;
    int octal = p[0] == '0' && p[1] != 0;
    for (const char *q = p; octal && *q; q++)
        if (*q < '0' || *q > '7')
            octal = 0;
    if (octal) {
        *out = sign * (double)strtoull(p, &end, 8);
        return 0;
    }
    double v = strtod(p, &end);
    if (*end)
        return -1;
    *out = sign * v;
    return 0;
}

/* Go-style unquoting of "..." or '...' or `...` at s; returns chars consumed or -1. */
static int unquote(const char *s, char *out, size_t outn)
{
    char q = s[0];
    size_t o = 0;
    int i = 1;
    if (q != '"' && q != '\'' && q != '`')
        return -1;
    while (s[i] && s[i] != q) {
        char ch = s[i++];
        if (ch == '\\' && q != '`') {
            char e = s[i++];
            switch (e) {
            case 'n':
                ch = '\n';
                break;
            case 't':
                ch = '\t';
                break;
            case 'r':
                ch = '\r';
                break;
            case '\\':
            case '"':
            case '\'':
                ch = e;
                break;
            case 'x': {
                char h[3] = {s[i], s[i + 1], 0};
                ch = (char)strtol(h, NULL, 16);
                i += 2;
                break;
            }
            default:
                ch = e;
            }
        }
        if (o + 1 < outn)
            out[o++] = ch;
    }
    if (s[i] != q)
        return -1;
    out[o] = 0;
    return i + 1;
}

/* Parses `name{a="b", ...}` at s into *ls; returns the rest of the line or NULL. */
static const char *parse_metric(const char *s, struct pl_labels **ls)
{
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    while (*s == ' ' || *s == '\t')
        s++;
    const char *p = s;
    if (isalpha((unsigned char)*p) || *p == '_' || *p == ':') {
        while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
            p++;
        pl_lb_set(&lb, PL_METRIC_NAME, strlen(PL_METRIC_NAME), s, (size_t)(p - s));
    }
    if (*p == '{') {
        p++;
        for (;;) {
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            if (*p == '}') {
                p++;
                break;
            }
            const char *n0 = p;
            while (isalnum((unsigned char)*p) || *p == '_')
                p++;
            size_t nl = (size_t)(p - n0);
            while (*p == ' ' || *p == '\t')
                p++;
            if (nl == 0 || *p != '=') {
                pl_lb_fini(&lb);
                return NULL;
            }
            p++;
            while (*p == ' ' || *p == '\t')
                p++;
            char val[4096];
            int u = unquote(p, val, sizeof(val));
            if (u < 0) {
                pl_lb_fini(&lb);
                return NULL;
            }
            p += u;
            pl_lb_set(&lb, n0, nl, val, strlen(val));
        }
    } else if (p == s) {
        pl_lb_fini(&lb);
        return NULL;
    }
    *ls = pl_lb_labels(&lb);
    pl_lb_fini(&lb);
    return p;
}

/* Expands a values description; vals[i] NaN-with-flag: present[i] 0 = omitted. */
static int parse_values(const char *s, double *vals, char *present, size_t max, size_t *n)
{
    *n = 0;
    char tok[256];
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        size_t l = 0;
        while (s[l] && s[l] != ' ' && s[l] != '\t')
            l++;
        if (l >= sizeof(tok))
            return -1;
        memcpy(tok, s, l);
        tok[l] = 0;
        s += l;
        if (strcmp(tok, "_") == 0) {
            if (*n < max)
                present[(*n)++] = 0;
            continue;
        }
        if (tok[0] == '_' && tok[1] == 'x') {
            long k = atol(tok + 2);
            for (long i = 0; i < k && *n < max; i++)
                present[(*n)++] = 0;
            continue;
        }
        /* a[(+|-)b]xN */
        char *x = strrchr(tok, 'x');
        long reps = -1;
        if (x && x != tok && isdigit((unsigned char)x[1])) {
            reps = atol(x + 1);
            *x = 0;
        }
        double a, b = 0;
        int stale = 0;
        char *bp = NULL;
        /* find the sign that starts b (not at position 0, not after e/E) */
        for (char *q = tok + 1; *q && reps >= 0; q++)
            if ((*q == '+' || *q == '-') && q[-1] != 'e' && q[-1] != 'E') {
                bp = q;
                break;
            }
        size_t alen = bp ? (size_t)(bp - tok) : strlen(tok);
        if (alen == 5 && strncmp(tok, "stale", 5) == 0)
            stale = 1;
        else if (parse_num(tok, alen, &a) != 0)
            return -1;
        if (bp && parse_num(bp, strlen(bp), &b) != 0)
            return -1;
        if (reps < 0) {
            if (*n < max) {
                vals[*n] = stale ? stale_nan() : a;
                present[(*n)++] = 1;
            }
            continue;
        }
        double v = stale ? stale_nan() : a;
        for (long i = 0; i <= reps && *n < max; i++) {
            vals[*n] = v;
            present[(*n)++] = 1;
            if (!stale)
                v += b;
        }
    }
    return 0;
}

static int almost_equal(double a, double b)
{
    const double min_normal = 2.2250738585072014e-308, eps = 0.000001;
    if (isnan(a) && isnan(b))
        return 1;
    if (a == b)
        return 1;
    double diff = fabs(a - b);
    if (isnan(diff))
        return 0;
    if (a == 0 || b == 0 || diff < min_normal)
        return diff < eps * min_normal;
    return diff / (fabs(a) + fabs(b)) < eps;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r' || s[l - 1] == '\n'))
        s[--l] = 0;
    return s;
}

static void fmt_labels(const struct pl_labels *ls, char *b, size_t n)
{
    struct pl_buf buf;
    pl_buf_init(&buf, 1 << 16);
    pl_labels_format(ls, &buf);
    snprintf(b, n, "%s", pl_buf_cstr(&buf));
    pl_buf_fini(&buf);
}

/* Compares an instant result to the expectation; 0 or writes why into msg. */
static int check_result(const struct eval *ev, const struct query_result *r, int ordered, char *msg,
                        size_t mn)
{
    char lb[1024];
    if (r->type == QUERY_VT_MATRIX) {
        snprintf(msg, mn, "received range result on instant evaluation");
        return -1;
    }
    if (r->type == QUERY_VT_STRING) {
        if (!ev->str || strcmp(ev->str, r->str) != 0) {
            snprintf(msg, mn, "unexpected string result %s", r->str);
            return -1;
        }
        return 0;
    }
    if (r->type == QUERY_VT_SCALAR) {
        if (!ev->has_scalar) {
            snprintf(msg, mn, "expected a vector, got scalar %g", r->scalar);
            return -1;
        }
        if (!almost_equal(ev->scalar, r->scalar)) {
            snprintf(msg, mn, "expected scalar %g but got %g", ev->scalar, r->scalar);
            return -1;
        }
        return 0;
    }
    if (ev->has_scalar || ev->str) {
        snprintf(msg, mn, "expected scalar/string, got a vector of %zu", r->nseries);
        return -1;
    }
    char *seen = pl_xcalloc(ev->nex + 1, 1);
    int rc = 0;
    for (size_t i = 0; i < r->nseries && rc == 0; i++) {
        size_t j;
        for (j = 0; j < ev->nex; j++)
            if (pl_labels_equal(ev->ex[j].ls, r->series[i].labels))
                break;
        fmt_labels(r->series[i].labels, lb, sizeof(lb));
        if (j == ev->nex) {
            snprintf(msg, mn, "unexpected metric %s in result (value %g)", lb,
                     r->series[i].n ? r->series[i].v[0] : NAN);
            rc = -1;
            break;
        }
        if (ordered && ev->ex[j].pos != (int)i + 1) {
            snprintf(msg, mn, "expected metric %s at position %d but was at %zu", lb, ev->ex[j].pos,
                     i + 1);
            rc = -1;
            break;
        }
        double exp = ev->ex[j].v;
        if (!ev->ex[j].has_v || r->series[i].n == 0) {
            snprintf(msg, mn, "expected no value for %s", lb);
            rc = -1;
            break;
        }
        if (!almost_equal(exp, r->series[i].v[r->series[i].n - 1])) {
            snprintf(msg, mn, "expected %g for %s but got %g", exp, lb,
                     r->series[i].v[r->series[i].n - 1]);
            rc = -1;
            break;
        }
        seen[j] = 1;
    }
    for (size_t j = 0; rc == 0 && j < ev->nex; j++)
        if (!seen[j]) {
            fmt_labels(ev->ex[j].ls, lb, sizeof(lb));
            snprintf(msg, mn, "expected metric %s not found", lb);
            rc = -1;
        }
    free(seen);
    return rc;
}

/* The range-mode result at t as an instant result (borrowing the series). */
static void range_at(const struct query_result *rr, int64_t t, struct query_result *out, int scalar)
{
    memset(out, 0, sizeof(*out));
    out->series = pl_xcalloc(rr->nseries + 1, sizeof(*out->series));
    for (size_t i = 0; i < rr->nseries; i++)
        for (size_t j = 0; j < rr->series[i].n; j++)
            if (rr->series[i].t[j] == t) {
                struct query_series *s = &out->series[out->nseries++];
                s->labels = rr->series[i].labels;
                s->t = &rr->series[i].t[j];
                s->v = &rr->series[i].v[j];
                s->n = 1;
                break;
            }
    out->type = QUERY_VT_VECTOR;
    if (scalar && out->nseries) {
        out->type = QUERY_VT_SCALAR;
        out->scalar = out->series[0].v[0];
    }
}

/* ---- @ variants: promqltest's atModifierTestCases ---- */

static int is_at_unsafe(enum query_func_id id)
{
    switch (id) {
    case QUERY_FN_DAYS_IN_MONTH:
    case QUERY_FN_DAY_OF_MONTH:
    case QUERY_FN_DAY_OF_WEEK:
    case QUERY_FN_DAY_OF_YEAR:
    case QUERY_FN_HOUR:
    case QUERY_FN_MINUTE:
    case QUERY_FN_MONTH:
    case QUERY_FN_YEAR:
    case QUERY_FN_PREDICT_LINEAR:
    case QUERY_FN_TIME:
    case QUERY_FN_TIMESTAMP:
        return 1;
    default:
        return 0;
    }
}

static void add_at(struct query_node *n, int64_t at, int frozen, int *unsafe)
{
    if (!n)
        return;
    switch (n->kind) {
    case QUERY_NODE_VECTOR_SELECTOR:
        if (!frozen && n->vs.at == QUERY_AT_NONE) {
            n->vs.at = QUERY_AT_TIME;
            n->vs.at_ms = at;
        }
        break;
    case QUERY_NODE_MATRIX_SELECTOR:
        add_at(n->ms.vs, at, frozen, unsafe);
        break;
    case QUERY_NODE_SUBQUERY:
        if (!frozen && n->subquery.at == QUERY_AT_NONE) {
            n->subquery.at = QUERY_AT_TIME;
            n->subquery.at_ms = at;
        }
        add_at(n->subquery.expr, at, 1, unsafe);
        break;
    case QUERY_NODE_PAREN:
        add_at(n->paren.expr, at, frozen, unsafe);
        break;
    case QUERY_NODE_UNARY:
        add_at(n->unary.expr, at, frozen, unsafe);
        break;
    case QUERY_NODE_BINARY:
        add_at(n->binary.lhs, at, frozen, unsafe);
        add_at(n->binary.rhs, at, frozen, unsafe);
        break;
    case QUERY_NODE_CALL:
        if (is_at_unsafe(n->call.func->id))
            *unsafe = 1;
        for (size_t i = 0; i < n->call.nargs; i++)
            add_at(n->call.args[i], at, frozen, unsafe);
        break;
    case QUERY_NODE_AGGREGATE:
        add_at(n->agg.expr, at, frozen, unsafe);
        add_at(n->agg.param, at, frozen, unsafe);
        break;
    default:
        break;
    }
}

/* One query in instant and range mode; 0 pass, -1 fail (msg filled). */
static int run_one(struct query_engine *e, const struct query_queryable *st, const struct eval *ev,
                   const struct query_node *root, int64_t t, char *msg, size_t mn)
{
    struct query_result r, rr, at;
    struct query_error err;
    int rc = query_exec_expr(e, st, root, t, t, 1, 0, NULL, &r, &err);
    if (rc) {
        if (ev->fail)
            return 0;
        snprintf(msg, mn, "query error: %s", err.msg);
        return -1;
    }
    if (ev->fail) {
        snprintf(msg, mn, "expected an error, got success");
        query_result_fini(&r);
        return -1;
    }
    rc = check_result(ev, &r, ev->ordered, msg, mn);
    int scalar = r.type == QUERY_VT_SCALAR;
    query_result_fini(&r);
    if (rc)
        return rc;
    rc = query_exec_expr(e, st, root, t - 60000, t + 60000, 60000, 1, NULL, &rr, &err);
    if (rc) {
        snprintf(msg, mn, "range-mode query error: %s", err.msg);
        return -1;
    }
    if (!ev->ordered) {
        range_at(&rr, t, &at, scalar);
        if (scalar && at.type != QUERY_VT_SCALAR) {
            snprintf(msg, mn, "range mode: no point at the evaluation time");
            rc = -1;
        } else {
            rc = check_result(ev, &at, 0, msg, mn);
            if (rc) {
                size_t l = strlen(msg);
                snprintf(msg + l, mn - l, " (range mode)");
            }
        }
        free(at.series);
    }
    query_result_fini(&rr);
    return rc;
}

static int run_eval(struct query_engine *e, const struct query_queryable *st, const struct eval *ev,
                    char *msg, size_t mn)
{
    struct query_expr *ex;
    struct query_parse_err pe;
    if (query_parse(ev->expr, strlen(ev->expr), &ex, &pe) != 0) {
        if (ev->fail)
            return 0;
        snprintf(msg, mn, "parse error: %d:%d: %s", pe.line, pe.col, pe.msg);
        return -1;
    }
    int rc = run_one(e, st, ev, ex->root, ev->at, msg, mn);
    if (rc == 0 && variants) {
        int unsafe = 0;
        add_at(ex->root, ev->at, 0, &unsafe);
        if (!unsafe) {
            int64_t T = ev->at;
            int64_t times[5];
            size_t nt;
            if (T == 0) {
                times[0] = -1000;
                times[1] = 0;
                times[2] = 1000;
                nt = 3;
            } else {
                times[0] = -10 * T;
                times[1] = 0;
                times[2] = T >= 0 ? T / 5 : -((-T) / 5);
                times[3] = T;
                times[4] = 10 * T;
                nt = 5;
            }
            for (size_t i = 0; i < nt && rc == 0; i++) {
                rc = run_one(e, st, ev, ex->root, times[i], msg, mn);
                if (rc) {
                    size_t l = strlen(msg);
                    snprintf(msg + l, mn - l, " [@ variant at t=%lld]", (long long)times[i]);
                }
            }
        }
    }
    query_expr_free(ex);
    return rc;
}

/* One line per eval: the expression, then each series and its points. */
static void dump_range_result(struct query_engine *e, const struct query_queryable *st,
                              const struct eval *ev)
{
    struct query_result r;
    struct query_error err;
    char lb[2048];
    printf("Q %s\n", ev->expr);
    if (query_exec_range(e, st, ev->expr, dr_start, dr_end, dr_step, &r, &err) != 0) {
        printf("E %s\n", err.msg);
        return;
    }
    for (size_t i = 0; i < r.nseries; i++) {
        fmt_labels(r.series[i].labels, lb, sizeof(lb));
        printf("S %s\t", lb);
        for (size_t j = 0; j < r.series[i].n; j++)
            printf(" %lld:%.17g", (long long)r.series[i].t[j], r.series[i].v[j]);
        printf("\n");
    }
    query_result_fini(&r);
}

static void eval_free(struct eval *ev)
{
    for (size_t i = 0; i < ev->nex; i++)
        pl_labels_free(ev->ex[i].ls);
    free(ev->ex);
    free(ev->str);
    memset(ev, 0, sizeof(*ev));
}

int promqltest_run_file(const char *path, int *pass, int *fail);
int promqltest_run_file(const char *path, int *pass, int *fail)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    size_t nlines = 0, cap = 0;
    char **lines = NULL;
    char buf[65536];
    while (fgets(buf, sizeof(buf), f)) {
        if (nlines == cap) {
            cap = cap ? cap * 2 : 256;
            lines = pl_xreallocarray(lines, cap, sizeof(*lines));
        }
        char *l = trim(buf);
        if (l[0] == '#')
            l[0] = 0;
        lines[nlines++] = pl_xstrdup(l);
    }
    fclose(f);

    struct memstore *ms = memstore_new();
    struct query_queryable st;
    memstore_queryable(ms, &st);
    struct query_engine_opts o;
    query_engine_opts_init(&o);
    struct query_engine *e;
    query_engine_new(&o, &e);
    double *vals = pl_xmalloc(MAX_VALS * sizeof(double));
    char *present = pl_xmalloc(MAX_VALS);
    int fp = 0, ff = 0;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

    for (size_t i = 0; i < nlines;) {
        char *l = lines[i];
        if (!l[0]) {
            i++;
            continue;
        }
        if (strncmp(l, "clear", 5) == 0) {
            memstore_clear(ms);
            i++;
            continue;
        }
        if (strncmp(l, "load", 4) == 0) {
            int64_t step = parse_dur(trim(l + 4));
            i++;
            for (; i < nlines && lines[i][0]; i++) {
                struct pl_labels *ls;
                const char *rest = parse_metric(lines[i], &ls);
                size_t n;
                if (!rest || parse_values(rest, vals, present, MAX_VALS, &n) != 0) {
                    fprintf(stderr, "%s:%zu: bad series line\n", base, i + 1);
                    if (rest)
                        pl_labels_free(ls);
                    continue;
                }
                for (size_t k = 0; k < n; k++)
                    if (present[k])
                        memstore_add(ms, ls, (int64_t)k * step, vals[k]);
                pl_labels_free(ls);
            }
            continue;
        }
        if (strncmp(l, "eval", 4) != 0) {
            fprintf(stderr, "%s:%zu: unknown command\n", base, i + 1);
            i++;
            continue;
        }
        struct eval ev;
        memset(&ev, 0, sizeof(ev));
        ev.line = (int)i + 1;
        char *p = l + 4;
        if (strncmp(p, "_fail", 5) == 0) {
            ev.fail = 1;
            p += 5;
        } else if (strncmp(p, "_ordered", 8) == 0) {
            ev.ordered = 1;
            p += 8;
        }
        p = trim(p);
        int ok = strncmp(p, "instant", 7) == 0;
        p = trim(p + 7);
        if (ok && strncmp(p, "at ", 3) == 0) {
            p = trim(p + 3);
            char d[64];
            size_t dl = 0;
            while (p[dl] && p[dl] != ' ' && p[dl] != '\t' && dl < 63)
                dl++;
            memcpy(d, p, dl);
            d[dl] = 0;
            ev.at = parse_dur(d);
            p = trim(p + dl);
        }
        snprintf(ev.expr, sizeof(ev.expr), "%s", p);
        size_t j = i + 1;
        int pos = 0;
        for (; j < nlines && lines[j][0]; j++) {
            char *dl = lines[j];
            pos++;
            if (dl[0] == '"' || dl[0] == '\'' || dl[0] == '`') {
                char sb[4096];
                if (unquote(dl, sb, sizeof(sb)) > 0)
                    ev.str = pl_xstrdup(sb);
                continue;
            }
            double num;
            if (parse_num(dl, strlen(dl), &num) == 0) {
                ev.has_scalar = 1;
                ev.scalar = num;
                continue;
            }
            struct pl_labels *ls;
            const char *rest = parse_metric(dl, &ls);
            size_t n = 0;
            if (!rest || parse_values(rest, vals, present, MAX_VALS, &n) != 0) {
                if (rest)
                    pl_labels_free(ls);
                ok = 0;
                continue;
            }
            ev.ex = pl_xreallocarray(ev.ex, ev.nex + 1, sizeof(*ev.ex));
            ev.ex[ev.nex].ls = ls;
            ev.ex[ev.nex].has_v = n > 0 && present[0];
            ev.ex[ev.nex].v = n > 0 ? vals[0] : NAN;
            if (n > 0 && present[0] && isnan(vals[0]))
                ev.ex[ev.nex].v = NAN;
            ev.ex[ev.nex].pos = pos;
            ev.nex++;
        }
        i = j;
        if (dump_range) {
            dump_range_result(e, &st, &ev);
            eval_free(&ev);
            continue;
        }
        char msg[2048] = "";
        int rc = ok ? run_eval(e, &st, &ev, msg, sizeof(msg)) : -1;
        if (!ok)
            snprintf(msg, sizeof(msg), "cannot parse the eval");
        if (rc == 0) {
            fp++;
        } else {
            ff++;
            if (verbose)
                printf("FAIL %s:%d: %s\n    %s\n", base, ev.line, ev.expr, msg);
        }
        eval_free(&ev);
    }
    if (!dump_range)
        printf("%s: %d passed, %d failed\n", base, fp, ff);
    *pass += fp;
    *fail += ff;
    for (size_t i = 0; i < nlines; i++)
        free(lines[i]);
    free(lines);
    free(vals);
    free(present);
    query_engine_free(e);
    memstore_free(ms);
    return 0;
}

#ifndef PROMQLTEST_NO_MAIN
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    const char *ratchet = NULL;
    int pass = 0, fail = 0, strict = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            verbose = 1;
            continue;
        }
        if (strcmp(argv[i], "--dump-range") == 0 && i + 3 < argc) {
            dump_range = 1;
            dr_start = atoll(argv[i + 1]);
            dr_end = atoll(argv[i + 2]);
            dr_step = atoll(argv[i + 3]);
            i += 3;
            continue;
        }
        if (strcmp(argv[i], "--strict") == 0) {
            strict = 1;
            continue;
        }
        if (strcmp(argv[i], "--no-variants") == 0) {
            variants = 0;
            continue;
        }
        if (strcmp(argv[i], "--ratchet") == 0 && i + 1 < argc) {
            ratchet = argv[++i];
            continue;
        }
        const char *path = argv[i];
        size_t pl = strlen(path);
        if (pl > 5 && strcmp(path + pl - 5, ".test") == 0) {
            promqltest_run_file(path, &pass, &fail);
            continue;
        }
        DIR *d = opendir(path);
        if (!d) {
            fprintf(stderr, "cannot open %s\n", path);
            return 2;
        }
        char **names = NULL;
        size_t nn = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (l > 5 && strcmp(de->d_name + l - 5, ".test") == 0) {
                names = pl_xreallocarray(names, nn + 1, sizeof(*names));
                names[nn++] = pl_xstrdup(de->d_name);
            }
        }
        closedir(d);
        qsort(names, nn, sizeof(*names), cmp_str);
        for (size_t k = 0; k < nn; k++) {
            char full[4096];
            snprintf(full, sizeof(full), "%s/%s", path, names[k]);
            promqltest_run_file(full, &pass, &fail);
            free(names[k]);
        }
        free(names);
    }
    printf("%d passed, %d failed\n", pass, fail);
    if (strict && fail)
        return 1;
    if (ratchet) {
        FILE *f = fopen(ratchet, "r");
        int want = 0;
        if (!f || fscanf(f, "%d", &want) != 1) {
            fprintf(stderr, "cannot read ratchet %s\n", ratchet);
            if (f)
                fclose(f);
            return 2;
        }
        fclose(f);
        if (pass < want) {
            fprintf(stderr, "ratchet: %d passed, at least %d required\n", pass, want);
            return 1;
        }
    }
    return 0;
}
#endif
