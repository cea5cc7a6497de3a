/*
 * check_metrics.c - `promlite check metrics`: validates an exposition in the
 * Prometheus text format 0.0.4 or OpenMetrics 1.0 with the strict parser of
 * collector/expfmt.h, like `promtool check metrics`.
 *
 *   promlite check metrics [--format=prometheus|openmetrics|auto] [--dump] [--lenient] [FILE|-]
 *
 * Exit 0 when valid, 1 with `LINE:COL: reason` on stderr when invalid, 2 on
 * usage or I/O errors. --dump prints each sample in the canonical form of the
 * exposition test suite: `name{a="x",b="y"} value [timestamp_ms]`, labels
 * sorted by name, empty values left out, values escaped with \\ \" \n.
 * --lenient applies only what Prometheus 2.42's scraper accepts instead.
 */
#include "server/cli.h"

#include "collector/expfmt.h"
#include "common/buf.h"
#include "common/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_all(FILE *f, char **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = pl_xmalloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            b = pl_xrealloc(b, cap);
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                free(b);
                return -1;
            }
            break;
        }
    }
    *out = b;
    *len = n;
    return 0;
}

static void put_value(FILE *o, double v)
{
    if (isnan(v)) {
        fputs("NaN", o);
        return;
    }
    if (isinf(v)) {
        fputs(v > 0 ? "+Inf" : "-Inf", o);
        return;
    }
    char b[40];
    snprintf(b, sizeof(b), "%.15g", v);
    if (strtod(b, NULL) != v)
        snprintf(b, sizeof(b), "%.17g", v);
    fputs(b, o);
}

static int cmp_label_ptr(const void *a, const void *b)
{
    const struct coll_expfmt_label *x = *(const struct coll_expfmt_label *const *)a;
    const struct coll_expfmt_label *y = *(const struct coll_expfmt_label *const *)b;
    size_t m = x->name.n < y->name.n ? x->name.n : y->name.n;
    int c = memcmp(x->name.p, y->name.p, m);
    if (c)
        return c;
    return x->name.n < y->name.n ? -1 : x->name.n > y->name.n;
}

static void dump_sample(FILE *o, const struct coll_expfmt_sample *s,
                        const struct coll_expfmt_label ***sorted, size_t *cap)
{
    if (*cap < s->nlabels) {
        *cap = s->nlabels;
        *sorted = pl_xreallocarray(*sorted, *cap, sizeof(**sorted));
    }
    size_t n = 0;
    for (size_t i = 0; i < s->nlabels; i++)
        if (s->labels[i].value.n)
            (*sorted)[n++] = &s->labels[i];
    if (n > 1)
        qsort(*sorted, n, sizeof(**sorted), cmp_label_ptr);
    fwrite(s->name.p, 1, s->name.n, o);
    if (n) {
        fputc('{', o);
        for (size_t i = 0; i < n; i++) {
            const struct coll_expfmt_label *l = (*sorted)[i];
            if (i)
                fputc(',', o);
            fwrite(l->name.p, 1, l->name.n, o);
            fputs("=\"", o);
            for (size_t k = 0; k < l->value.n; k++) {
                char c = l->value.p[k];
                if (c == '\\')
                    fputs("\\\\", o);
                else if (c == '"')
                    fputs("\\\"", o);
                else if (c == '\n')
                    fputs("\\n", o);
                else
                    fputc(c, o);
            }
            fputc('"', o);
        }
        fputc('}', o);
    }
    fputc(' ', o);
    put_value(o, s->value);
    if (s->has_ts)
        fprintf(o, " %lld", (long long)s->ts_ms);
    fputc('\n', o);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: promlite check metrics [--format=prometheus|openmetrics|auto] [--dump] "
               "[--lenient] [FILE|-]\n");
}

int srv_cmd_check_metrics(int argc, char **argv)
{
    const char *format = "auto", *path = "-";
    int dump = 0, have_path = 0, lenient = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--format=", 9) == 0) {
            format = a + 9;
        } else if (strcmp(a, "--format") == 0 && i + 1 < argc) {
            format = argv[++i];
        } else if (strcmp(a, "--dump") == 0) {
            dump = 1;
        } else if (strcmp(a, "--lenient") == 0) {
            lenient = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if ((a[0] != '-' || strcmp(a, "-") == 0) && !have_path) {
            path = a;
            have_path = 1;
        } else {
            fprintf(stderr, "check metrics: unexpected argument \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }
    int fmt;
    if (strcmp(format, "prometheus") == 0)
        fmt = COLL_EXPFMT_PROMETHEUS;
    else if (strcmp(format, "openmetrics") == 0)
        fmt = COLL_EXPFMT_OPENMETRICS;
    else if (strcmp(format, "auto") == 0)
        fmt = -1;
    else {
        fprintf(stderr, "check metrics: unknown format \"%s\"\n", format);
        usage(stderr);
        return 2;
    }

    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "check metrics: %s: %s\n", path, strerror(errno));
        return 2;
    }
    char *buf;
    size_t len;
    int rd = read_all(f, &buf, &len);
    if (f != stdin)
        fclose(f);
    if (rd) {
        fprintf(stderr, "check metrics: %s: read error\n", path);
        return 2;
    }
    if (fmt < 0)
        fmt = (int)coll_expfmt_detect(buf, len);

    struct coll_expfmt_parser *p =
        coll_expfmt_parser_new((enum coll_expfmt_format)fmt, lenient ? 0 : COLL_EXPFMT_STRICT);
    coll_expfmt_parser_reset(p, buf, len);
    struct coll_expfmt_entry e;
    struct coll_expfmt_err err;
    const struct coll_expfmt_label **sorted = NULL;
    size_t sortcap = 0;
    int rc;
    while ((rc = coll_expfmt_next(p, &e, &err)) > 0) {
        if (dump && rc == COLL_EXPFMT_SAMPLE)
            dump_sample(stdout, &e.sample, &sorted, &sortcap);
    }
    free(sorted);
    coll_expfmt_parser_free(p);
    free(buf);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "check metrics: write error\n");
        return 2;
    }
    if (rc < 0) {
        fprintf(stderr, "%u:%u: %s\n", err.line, err.col, err.msg);
        return 1;
    }
    return 0;
}
