/*
 * tsdb_cmds.c - storage tools: `promlite import` (backfill from a Prometheus
 * text or OpenMetrics file with timestamps, the input of `promtool tsdb
 * create-blocks-from openmetrics`) and `promlite tsdb stats|dump|snapshot`
 * (like `promtool tsdb analyze|dump` and the snapshot admin API).
 *
 *   promlite import [--storage.tsdb.path=DIR] [--format=auto|openmetrics|prometheus] FILE|-
 *   promlite tsdb stats [--storage.tsdb.path=DIR] [--limit=N]
 *   promlite tsdb dump [--storage.tsdb.path=DIR] [--match=SELECTOR] [--min-time=MS] [--max-time=MS]
 *   promlite tsdb snapshot [--storage.tsdb.path=DIR] DIR
 *
 * Import streams: the input is read in blocks cut at line ends and parsed
 * into a backfill (tsdb/backfill.h), which writes one chunk per series and
 * 2 h partition every TSDB_BACKFILL_DEFAULT_SAMPLES samples, so files larger
 * than memory load in bounded space. A crash leaves the database as of the
 * last flush; running the import again completes it. When the import wrote
 * most of the database, the file is then rewritten with full pages
 * (tsdb_repack); --no-repack skips that.
 */
#include "server/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collector/expfmt.h"
#include "common/buf.h"
#include "common/labels.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "tsdb/backfill.h"
#include "tsdb/inspect.h"
#include "tsdb/tsdb.h"

#define IMPORT_BLOCK   ((size_t)32 << 20)
#define SELECTOR_MAX_M 64

/* Matches --name=value or --name value; advances *i. Returns the value or NULL. */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] == 0 && *i + 1 < argc) {
        (*i)++;
        return argv[*i];
    }
    return NULL;
}

static int open_db(const char *path, int read_only, struct tsdb **db)
{
    struct tsdb_options o;
    tsdb_options_init(&o);
    o.path = path;
    o.read_only = read_only;
    o.bulk_load = !read_only; /* only import writes */
    o.retention_ms = 0;       /* tools never drop data */
    struct pl_err err;
    if (tsdb_open(&o, db, &err) != 0) {
        fprintf(stderr, "promlite: opening %s: %s\n", path, err.msg);
        return -1;
    }
    return 0;
}

/* ---- import ---- */

struct importer {
    struct tsdb *db;
    struct tsdb_backfill *bf;
    struct pl_labels_builder lb;
    uint64_t errors;
};

/* Parses one block (which holds whole lines) and appends its samples. */
static int import_block(struct importer *im, struct coll_expfmt_parser *p, const char *buf,
                        size_t len, uint64_t line_base)
{
    coll_expfmt_parser_reset(p, buf, len);
    struct coll_expfmt_entry e;
    struct coll_expfmt_err perr;
    int rc;
    while ((rc = coll_expfmt_next(p, &e, &perr)) > 0) {
        if (rc != COLL_EXPFMT_SAMPLE)
            continue;
        if (!e.sample.has_ts) {
            fprintf(stderr, "promlite: import: line %llu: sample without a timestamp\n",
                    (unsigned long long)(line_base + e.line));
            return -1;
        }
        struct pl_labels *ls = coll_expfmt_sample_labels(&e.sample, &im->lb);
        struct pl_err err;
        err.code = 0;
        int arc = tsdb_backfill_add(im->bf, ls, e.sample.ts_ms, e.sample.value, &err);
        pl_labels_free(ls);
        if (arc == PL_ERR_OUT_OF_ORDER || arc == PL_ERR_DUPLICATE)
            continue; /* counted by the backfill */
        if (arc && err.code) {
            /* The flush failed: nothing more can be written. */
            fprintf(stderr, "promlite: import: %s\n", err.msg);
            return -1;
        }
        if (arc) {
            fprintf(stderr, "promlite: import: line %llu: %s\n",
                    (unsigned long long)(line_base + e.line), pl_err_str(arc));
            im->errors++;
        }
    }
    if (rc < 0) {
        fprintf(stderr, "promlite: import: line %llu:%u: %s\n",
                (unsigned long long)(line_base + perr.line), perr.col, perr.msg);
        return -1;
    }
    return 0;
}

static int count_lines(const char *p, size_t n)
{
    int c = 0;
    for (const char *q = p; (q = memchr(q, '\n', (size_t)(p + n - q))) != NULL; q++)
        c++;
    return c;
}

int srv_cmd_import(int argc, char **argv)
{
    const char *path = "data/", *file = NULL, *fmt = "auto", *v;
    int repack = 1;
    for (int i = 1; i < argc; i++) {
        if ((v = flag_value(argc, argv, &i, "--storage.tsdb.path")))
            path = v;
        else if (strcmp(argv[i], "--no-repack") == 0)
            repack = 0;
        else if ((v = flag_value(argc, argv, &i, "--format")))
            fmt = v;
        else if (argv[i][0] == '-' && argv[i][1] != 0) {
            fprintf(stderr, "promlite import: unknown flag %s\n", argv[i]);
            return 2;
        } else if (!file)
            file = argv[i];
        else {
            fprintf(stderr, "promlite import: one input file only\n");
            return 2;
        }
    }
    if (!file) {
        fprintf(stderr, "usage: promlite import [--storage.tsdb.path=DIR] "
                        "[--format=auto|openmetrics|prometheus] [--no-repack] FILE|-\n");
        return 2;
    }
    FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!in) {
        fprintf(stderr, "promlite import: %s: %s\n", file, strerror(errno));
        return 1;
    }
    int om;
    if (strcmp(fmt, "openmetrics") == 0)
        om = 1;
    else if (strcmp(fmt, "prometheus") == 0)
        om = 0;
    else if (strcmp(fmt, "auto") == 0) {
        /* OpenMetrics ends with # EOF; a pipe is taken as OpenMetrics (promtool's input). */
        om = 1;
        if (in != stdin && fseek(in, -7, SEEK_END) == 0) {
            char tail[8] = {0};
            size_t got = fread(tail, 1, 7, in);
            om = coll_expfmt_detect(tail, got) == COLL_EXPFMT_OPENMETRICS;
            rewind(in);
        } else if (in != stdin) {
            rewind(in);
        }
    } else {
        fprintf(stderr, "promlite import: unknown format %s\n", fmt);
        if (in != stdin)
            fclose(in);
        return 2;
    }
    struct importer im = {0};
    char datafile[4096];
    snprintf(datafile, sizeof(datafile), "%s/data.mdb", path);
    struct stat sb;
    uint64_t size_before = stat(datafile, &sb) == 0 ? (uint64_t)sb.st_blocks * 512 : 0;
    struct pl_err err;
    if (open_db(path, 0, &im.db) != 0) {
        if (in != stdin)
            fclose(in);
        return 1;
    }
    if (tsdb_backfill_new(im.db, 0, &im.bf, &err) != 0) {
        fprintf(stderr, "promlite import: %s\n", err.msg);
        tsdb_close(im.db);
        if (in != stdin)
            fclose(in);
        return 1;
    }
    pl_lb_init(&im.lb);
    struct coll_expfmt_parser *p = coll_expfmt_parser_new(
        om ? COLL_EXPFMT_OPENMETRICS : COLL_EXPFMT_PROMETHEUS, COLL_EXPFMT_STALE_TOKEN);
    char *buf = pl_xmalloc(IMPORT_BLOCK + 16);
    size_t have = 0;
    uint64_t line_base = 0;
    int status = 0, eof = 0;
    int64_t t0 = pl_mono_ns();
    while (!eof && status == 0) {
        size_t got = fread(buf + have, 1, IMPORT_BLOCK - have, in);
        have += got;
        if (got == 0 || have < IMPORT_BLOCK) {
            if (ferror(in)) {
                fprintf(stderr, "promlite import: reading %s: %s\n", file, strerror(errno));
                status = 1;
                break;
            }
            if (feof(in))
                eof = 1;
        }
        size_t cut = have;
        if (!eof) {
            char *nl = NULL;
            for (size_t k = have; k > 0; k--)
                if (buf[k - 1] == '\n') {
                    nl = buf + k - 1;
                    break;
                }
            if (!nl) {
                fprintf(stderr, "promlite import: a line longer than %zu bytes\n", IMPORT_BLOCK);
                status = 1;
                break;
            }
            cut = (size_t)(nl - buf) + 1;
        }
        /* Every block but the last gets the # EOF an OpenMetrics parse needs. */
        char saved[8];
        size_t add = 0;
        if (om && !eof) {
            memcpy(saved, buf + cut, 6);
            memcpy(buf + cut, "# EOF\n", 6);
            add = 6;
        }
        if (import_block(&im, p, buf, cut + add, line_base) != 0)
            status = 1;
        if (add)
            memcpy(buf + cut, saved, 6);
        line_base += (uint64_t)count_lines(buf, cut);
        memmove(buf, buf + cut, have - cut);
        have -= cut;
    }
    struct tsdb_backfill_result res;
    tsdb_backfill_result_get(im.bf, &res);
    if (status == 0) {
        if (tsdb_backfill_finish(im.bf, &res, &err) != 0) {
            fprintf(stderr, "promlite: import: %s\n", err.msg);
            status = 1;
        }
    } else {
        /* Samples of earlier flushes stay; the rest is dropped: say so. */
        tsdb_backfill_free(im.bf);
        fprintf(stderr, "promlite: import: stopped; %llu samples were stored before the error\n",
                (unsigned long long)res.samples);
    }
    double secs = (double)(pl_mono_ns() - t0) / 1e9;
    printf("imported %llu samples, %llu new series in %.2fs (%.0f samples/s); rejected: %llu out "
           "of order, %llu duplicates, %llu other\n",
           (unsigned long long)res.samples, (unsigned long long)res.series_new, secs,
           secs > 0 ? (double)res.samples / secs : 0.0, (unsigned long long)res.out_of_order,
           (unsigned long long)res.duplicates, (unsigned long long)im.errors);
    free(buf);
    coll_expfmt_parser_free(p);
    pl_lb_fini(&im.lb);
    tsdb_close(im.db);
    if (in != stdin)
        fclose(in);
    /*
     * Rewrite the file with full pages when this import wrote most of it
     * (the cost is a copy of the whole database).
     */
    if (status == 0 && repack && res.chunk_bytes > 0 && size_before <= res.chunk_bytes) {
        uint64_t before, after;
        if (tsdb_repack(path, &before, &after, &err) != 0)
            fprintf(stderr, "promlite: import: not repacked: %s\n", err.msg);
        else
            printf("repacked %s: %llu -> %llu bytes\n", path, (unsigned long long)before,
                   (unsigned long long)after);
    }
    return status;
}

/* ---- selector parsing for dump ---- */

static void skip_ws(const char **s)
{
    while (**s == ' ' || **s == '\t')
        (*s)++;
}

/* Parses `name{a="x", b=~"y"}`, `{...}` or `name` into matchers. Returns count or -1. */
static int parse_selector(const char *s, struct tsdb_matcher **ms, int max, struct pl_err *err)
{
    int n = 0;
    skip_ws(&s);
    const char *st = s;
    while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
           *s == '_' || *s == ':')
        s++;
    if (s > st) {
        char *name = pl_xstrndup(st, (size_t)(s - st));
        int rc = tsdb_matcher_new(TSDB_MATCH_EQ, PL_METRIC_NAME, name, &ms[n], err);
        free(name);
        if (rc)
            return -1;
        n++;
    }
    skip_ws(&s);
    if (*s == '{') {
        s++;
        for (;;) {
            skip_ws(&s);
            if (*s == '}') {
                s++;
                break;
            }
            const char *ln = s;
            while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                   (*s >= '0' && *s <= '9') || *s == '_')
                s++;
            if (s == ln)
                goto bad;
            char *lname = pl_xstrndup(ln, (size_t)(s - ln));
            skip_ws(&s);
            enum tsdb_match_type ty;
            if (s[0] == '=' && s[1] == '~')
                ty = TSDB_MATCH_RE, s += 2;
            else if (s[0] == '!' && s[1] == '~')
                ty = TSDB_MATCH_NRE, s += 2;
            else if (s[0] == '!' && s[1] == '=')
                ty = TSDB_MATCH_NEQ, s += 2;
            else if (s[0] == '=')
                ty = TSDB_MATCH_EQ, s += 1;
            else {
                free(lname);
                goto bad;
            }
            skip_ws(&s);
            char q = *s;
            if (q != '"' && q != '\'') {
                free(lname);
                goto bad;
            }
            s++;
            struct pl_buf v;
            pl_buf_init(&v, 1 << 16);
            while (*s && *s != q) {
                if (*s == '\\' && s[1]) {
                    s++;
                    pl_buf_putc(&v, *s == 'n' ? '\n' : *s == 't' ? '\t' : *s);
                } else {
                    pl_buf_putc(&v, *s);
                }
                s++;
            }
            if (*s != q || n >= max) {
                free(lname);
                pl_buf_fini(&v);
                goto bad;
            }
            s++;
            int rc = tsdb_matcher_new(ty, lname, pl_buf_cstr(&v), &ms[n], err);
            free(lname);
            pl_buf_fini(&v);
            if (rc) {
                for (int i = 0; i < n; i++)
                    tsdb_matcher_free(ms[i]);
                return -1;
            }
            n++;
            skip_ws(&s);
            if (*s == ',')
                s++;
        }
    }
    skip_ws(&s);
    if (*s || n == 0)
        goto bad;
    return n;
bad:
    for (int i = 0; i < n; i++)
        tsdb_matcher_free(ms[i]);
    pl_err_set(err, PL_ERR_INVALID, "cannot parse selector");
    return -1;
}

/* Shortest decimal that reads back as v (Go's strconv 'g' -1 style digits). */
static void fmt_value(double v, char *out, size_t n)
{
    if (isnan(v)) {
        snprintf(out, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* Fewest significant digits that read back, then Go's choice of notation. */
    int prec = 1;
    char e[64];
    for (; prec < 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    snprintf(e, sizeof(e), "%.*e", prec - 1, v);
    int x = atoi(strchr(e, 'e') + 1);
    if (x < -4 || x >= 21)
        snprintf(out, n, "%s", e);
    else
        snprintf(out, n, "%.*f", prec - 1 - x > 0 ? prec - 1 - x : 0, v);
}

int srv_cmd_tsdb_dump(int argc, char **argv)
{
    const char *path = "data/", *match = NULL, *v;
    int64_t mint = PL_TIME_MIN, maxt = PL_TIME_MAX;
    for (int i = 1; i < argc; i++) {
        if ((v = flag_value(argc, argv, &i, "--storage.tsdb.path")))
            path = v;
        else if ((v = flag_value(argc, argv, &i, "--match")))
            match = v;
        else if ((v = flag_value(argc, argv, &i, "--min-time")))
            mint = strtoll(v, NULL, 10);
        else if ((v = flag_value(argc, argv, &i, "--max-time")))
            maxt = strtoll(v, NULL, 10);
        else {
            fprintf(stderr, "usage: promlite tsdb dump [--storage.tsdb.path=DIR] "
                            "[--match=SELECTOR] [--min-time=MS] [--max-time=MS]\n");
            return 2;
        }
    }
    struct pl_err err;
    struct tsdb_matcher *ms[SELECTOR_MAX_M];
    int n;
    if (match) {
        n = parse_selector(match, ms, SELECTOR_MAX_M, &err);
        if (n < 0) {
            fprintf(stderr, "promlite tsdb dump: --match %s: %s\n", match, err.msg);
            return 2;
        }
    } else {
        if (tsdb_matcher_new(TSDB_MATCH_RE, PL_METRIC_NAME, ".+", &ms[0], &err) != 0)
            return 1;
        n = 1;
    }
    struct tsdb *db;
    int status = 0;
    if (open_db(path, 1, &db) != 0) {
        status = 1;
        goto out;
    }
    struct tsdb_querier *q;
    struct tsdb_series_set *ss;
    if (tsdb_querier_open(db, mint, maxt, &q, &err) != 0 ||
        (tsdb_select(q, ms, (size_t)n, &ss, &err) != 0 && (tsdb_querier_close(q), 1))) {
        fprintf(stderr, "promlite tsdb dump: %s\n", err.msg);
        tsdb_close(db);
        status = 1;
        goto out;
    }
    struct tsdb_samples smp;
    tsdb_samples_init(&smp);
    struct pl_buf lb;
    pl_buf_init(&lb, 1 << 20);
    const struct pl_labels *ls;
    char num[64];
    while (tsdb_series_set_next(ss, &ls) == 1) {
        if (tsdb_series_set_samples(ss, mint, maxt, &smp, &err) != 0) {
            fprintf(stderr, "promlite tsdb dump: %s\n", err.msg);
            status = 1;
            break;
        }
        pl_buf_reset(&lb);
        pl_labels_format(ls, &lb);
        for (size_t i = 0; i < smp.n; i++) {
            fmt_value(smp.v[i], num, sizeof(num));
            printf("%s %s %lld\n", pl_buf_cstr(&lb), num, (long long)smp.t[i]);
        }
    }
    pl_buf_fini(&lb);
    tsdb_samples_fini(&smp);
    tsdb_series_set_free(ss);
    tsdb_querier_close(q);
    tsdb_close(db);
out:
    for (int i = 0; i < n; i++)
        tsdb_matcher_free(ms[i]);
    return status;
}

static void fmt_time(int64_t t, char *out, size_t n)
{
    if (t == INT64_MAX || t == INT64_MIN)
        snprintf(out, n, "-");
    else
        pl_time_format_rfc3339(t, out, n);
}

int srv_cmd_tsdb_stats(int argc, char **argv)
{
    const char *path = "data/", *v;
    long limit = 10;
    for (int i = 1; i < argc; i++) {
        if ((v = flag_value(argc, argv, &i, "--storage.tsdb.path")))
            path = v;
        else if ((v = flag_value(argc, argv, &i, "--limit")))
            limit = strtol(v, NULL, 10);
        else {
            fprintf(stderr, "usage: promlite tsdb stats [--storage.tsdb.path=DIR] [--limit=N]\n");
            return 2;
        }
    }
    struct tsdb *db;
    if (open_db(path, 1, &db) != 0)
        return 1;
    struct tsdb_summary s;
    struct pl_err err;
    if (tsdb_summary_get(db, &s, &err) != 0) {
        fprintf(stderr, "promlite tsdb stats: %s\n", err.msg);
        tsdb_close(db);
        return 1;
    }
    char a[64], b[64];
    fmt_time(s.min_time, a, sizeof(a));
    fmt_time(s.max_time, b, sizeof(b));
    printf("series:            %llu\n", (unsigned long long)s.series);
    printf("samples:           %llu\n", (unsigned long long)s.samples);
    printf("sealed chunks:     %llu (%llu bytes encoded)\n", (unsigned long long)s.chunks,
           (unsigned long long)s.sealed_bytes);
    printf("open chunks:       %llu\n", (unsigned long long)s.head_chunks);
    printf("time range:        %s .. %s\n", a, b);
    printf("bytes on disk:     %llu (%llu in use)\n", (unsigned long long)s.disk_bytes,
           (unsigned long long)s.used_bytes);
    printf("bytes per sample:  %.3f on disk, %.3f in use, %.3f in sealed chunks\n",
           s.samples ? (double)s.disk_bytes / (double)s.samples : 0.0,
           s.samples ? (double)s.used_bytes / (double)s.samples : 0.0,
           s.samples ? (double)s.sealed_bytes / (double)s.samples : 0.0);
    struct tsdb_space sp;
    if (tsdb_space_get(db, &sp, &err) == 0 && s.samples) {
        printf("\nspace by database (%u-byte pages; bytes per sample):\n", sp.page_size);
        for (size_t i = 0; i < sp.ndbs; i++)
            if (sp.dbs[i].pages)
                printf("  %-12s %8llu pages %6.3f  (%llu entries, %llu overflow pages)\n",
                       sp.dbs[i].name, (unsigned long long)sp.dbs[i].pages,
                       (double)(sp.dbs[i].pages * sp.page_size) / (double)s.samples,
                       (unsigned long long)sp.dbs[i].entries,
                       (unsigned long long)sp.dbs[i].overflow_pages);
        printf("  %-12s %8llu pages %6.3f  (meta pages and the free list's tree)\n", "lmdb",
               (unsigned long long)sp.meta_pages,
               (double)(sp.meta_pages * sp.page_size) / (double)s.samples);
        printf("  %-12s %8llu pages %6.3f  (freed, reused by later writes)\n", "free",
               (unsigned long long)sp.free_pages,
               (double)(sp.free_pages * sp.page_size) / (double)s.samples);
        printf("  %-12s %8llu pages %6.3f\n", "file extent", (unsigned long long)sp.file_pages,
               (double)(sp.file_pages * sp.page_size) / (double)s.samples);
    }
    printf("\nlabel names by series count (values):\n");
    for (size_t i = 0; i < s.nnames && (long)i < limit; i++)
        printf("  %-30s %10llu series %10llu values\n", s.names[i].name,
               (unsigned long long)s.names[i].series, (unsigned long long)s.names[i].values);
    tsdb_summary_fini(&s);
    tsdb_close(db);
    return 0;
}

int srv_cmd_tsdb_snapshot(int argc, char **argv)
{
    const char *path = "data/", *dir = NULL, *v;
    for (int i = 1; i < argc; i++) {
        if ((v = flag_value(argc, argv, &i, "--storage.tsdb.path")))
            path = v;
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else
            dir = NULL, i = argc;
    }
    if (!dir) {
        fprintf(stderr, "usage: promlite tsdb snapshot [--storage.tsdb.path=DIR] DIR\n");
        return 2;
    }
    struct tsdb *db;
    if (open_db(path, 1, &db) != 0)
        return 1;
    struct pl_err err;
    int rc = tsdb_snapshot(db, dir, &err);
    tsdb_close(db);
    if (rc) {
        fprintf(stderr, "promlite tsdb snapshot: %s\n", err.msg);
        return 1;
    }
    printf("snapshot written to %s\n", dir);
    return 0;
}
