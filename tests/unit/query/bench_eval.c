/*
 * bench_eval.c - in-process latency of Grafana-style range queries on the
 * evaluator over the memstore (storage cost excluded): rate over 1h at 15s
 * steps on 1k and 10k counters, sum by, histogram_quantile over summed
 * bucket rates, and topk. Prints the median of 5 runs per query.
 *
 * Usage: query_bench [SERIES...]   (default: 1000 10000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/labels.h"
#include "common/timeutil.h"
#include "memstore.h"
#include "query/query.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void load(struct memstore *ms, int nseries, int64_t end)
{
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    char inst[32], code[8], le[16];
    static const char *les[] = {"0.005", "0.01", "0.025", "0.05", "0.1",
                                "0.25",  "0.5",  "1",     "2.5",  "+Inf"};
    unsigned seed = 42;
    for (int i = 0; i < nseries; i++) {
        snprintf(inst, sizeof(inst), "host-%d:9100", i / 10);
        snprintf(code, sizeof(code), "%d", 200 + (i % 10) * 10);
        pl_lb_reset(&lb);
        pl_lb_setz(&lb, "__name__", "http_requests_total");
        pl_lb_setz(&lb, "job", "node");
        pl_lb_setz(&lb, "instance", inst);
        pl_lb_setz(&lb, "code", code);
        struct pl_labels *ls = pl_lb_labels(&lb);
        double v = 0;
        for (int64_t t = 0; t <= end; t += 15000) {
            seed = seed * 1103515245u + 12345u;
            v += (seed >> 16) % 100;
            memstore_add(ms, ls, t, v);
        }
        pl_labels_free(ls);
    }
    /* Histograms: nseries/10 bucket series (10 buckets per instance). */
    for (int i = 0; i < nseries / 10; i++) {
        snprintf(inst, sizeof(inst), "host-%d:9100", i);
        double counts[10] = {0};
        for (int b = 0; b < 10; b++) {
            snprintf(le, sizeof(le), "%s", les[b]);
        }
        struct pl_labels *bl[10];
        for (int b = 0; b < 10; b++) {
            pl_lb_reset(&lb);
            pl_lb_setz(&lb, "__name__", "req_duration_seconds_bucket");
            pl_lb_setz(&lb, "job", "node");
            pl_lb_setz(&lb, "instance", inst);
            pl_lb_setz(&lb, "le", les[b]);
            bl[b] = pl_lb_labels(&lb);
        }
        for (int64_t t = 0; t <= end; t += 15000) {
            double add = 0;
            for (int b = 0; b < 10; b++) {
                seed = seed * 1103515245u + 12345u;
                add += (seed >> 16) % 10;
                counts[b] += add;
                memstore_add(ms, bl[b], t, counts[b]);
            }
        }
        for (int b = 0; b < 10; b++)
            pl_labels_free(bl[b]);
    }
    pl_lb_fini(&lb);
}

int main(int argc, char **argv)
{
    int sizes[8] = {1000, 10000};
    int nsizes = 2;
    if (argc > 1) {
        nsizes = 0;
        for (int i = 1; i < argc && nsizes < 8; i++)
            sizes[nsizes++] = atoi(argv[i]);
    }
    static const char *queries[] = {
        "rate(http_requests_total[5m])",
        "sum by (code) (rate(http_requests_total[5m]))",
        "histogram_quantile(0.99, sum by (le) (rate(req_duration_seconds_bucket[5m])))",
        "topk(5, rate(http_requests_total[5m]))",
    };
    const int64_t end = 2 * PL_MS_PER_HOUR; /* data: 2h at 15s */
    for (int si = 0; si < nsizes; si++) {
        struct memstore *ms = memstore_new();
        load(ms, sizes[si], end);
        struct query_queryable st;
        memstore_queryable(ms, &st);
        struct query_engine_opts o;
        query_engine_opts_init(&o);
        struct query_engine *e;
        query_engine_new(&o, &e);
        for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
            int64_t ns[5];
            size_t nser = 0;
            for (int r = 0; r < 5; r++) {
                struct query_result res;
                struct query_error err;
                int64_t t0 = pl_mono_ns();
                if (query_exec_range(e, &st, queries[q], end - PL_MS_PER_HOUR, end, 15000, &res,
                                     &err) != 0) {
                    fprintf(stderr, "%s: %s\n", queries[q], err.msg);
                    return 1;
                }
                ns[r] = pl_mono_ns() - t0;
                nser = res.nseries;
                query_result_fini(&res);
            }
            qsort(ns, 5, sizeof(ns[0]), cmp_i64);
            printf("series=%d  %-80s  median %8.2f ms  (%zu result series)\n", sizes[si],
                   queries[q], (double)ns[2] / 1e6, nser);
        }
        query_engine_free(e);
        memstore_free(ms);
    }
    return 0;
}
