/*
 * bench_parse.c - exposition parsing throughput (collector/expfmt.h), single
 * core, in MB/s and samples/s.
 *
 *   bench_parse gen --format=prometheus|openmetrics [--series=N] > FILE
 *       writes a node_exporter-like exposition with N series (default
 *       1,000,000): counters and gauges with cpu/mode/device/mountpoint
 *       labels, and HTTP latency histograms (11 buckets, _sum, _count)
 *       with handler/method/code labels; values in the spellings Go and
 *       Python clients print (integers, decimals, exponents).
 *   bench_parse run --format=prometheus|openmetrics [--strict] [--iters=K] FILE
 *       reads FILE into memory, parses it K times (default 5) with one
 *       reused parser, and prints the best pass.
 *
 * The generated input is valid under both strict parsers, so strict mode
 * measures the full rule set, not an early error.
 */
#include "collector/expfmt.h"
#include "common/timeutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * CPU time of this thread: the machine may be shared, and time spent waiting
 * for a core is not parsing time. Wall time is reported beside it.
 */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A value spelled as exporters do: integer, short decimal, or Go's %g form. */
static void put_value(FILE *o, int integral)
{
    uint64_t r = rnd();
    if (integral || r % 3 == 0)
        fprintf(o, "%llu", (unsigned long long)(r >> 40));
    else if (r % 3 == 1)
        fprintf(o, "%llu.%02llu", (unsigned long long)((r >> 44) % 100000),
                (unsigned long long)((r >> 20) % 100));
    else
        fprintf(o, "%.6e", (double)(r >> 11) / 9007199254740992.0 * 1e10);
}

static long gen(int om, long series)
{
    FILE *o = stdout;
    long n = 0;
    static const char *const modes[] = {"idle",    "iowait", "irq",    "nice",
                                        "softirq", "steal",  "system", "user"};
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
    static const char *const codes[] = {"200", "400", "404", "500", "503"};
    static const char *const les[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                      "0.5",   "1",    "2.5",   "5",    "+Inf"};
    long hist_groups = series / 2 / 13; /* half the series are histogram series */
    long plain = series - hist_groups * 13;
    long cpus = plain / 3 / 8, devs = plain / 3 / 2, mounts = plain / 3 / 2;

    /* counters: node_cpu_seconds_total{cpu,mode} */
    /* 0.0.4 names the family after the sample; OpenMetrics drops _total */
    const char *cpufam = om ? "node_cpu_seconds" : "node_cpu_seconds_total";
    fprintf(o, "# HELP %s Seconds the CPUs spent in each mode.\n# TYPE %s counter\n", cpufam,
            cpufam);
    for (long c = 0; c < cpus; c++)
        for (int m = 0; m < 8; m++, n++) {
            fprintf(o, "node_cpu_seconds_total{cpu=\"%ld\",mode=\"%s\"} ", c, modes[m]);
            put_value(o, 0);
            fputc('\n', o);
        }
    /* counters: network bytes and packets per device */
    const char *netfam[] = {"node_network_receive_bytes", "node_network_transmit_bytes"};
    for (int f = 0; f < 2; f++) {
        const char *sfx = om ? "" : "_total";
        fprintf(o, "# HELP %s%s Network device statistic.\n# TYPE %s%s counter\n", netfam[f], sfx,
                netfam[f], sfx);
        for (long d = 0; d < devs; d++, n++) {
            fprintf(o, "%s_total{device=\"veth%06lx\"} ", netfam[f], d);
            put_value(o, 1);
            fputc('\n', o);
        }
    }
    /* gauges: filesystem sizes */
    const char *fsfam[] = {"node_filesystem_avail_bytes", "node_filesystem_size_bytes"};
    for (int f = 0; f < 2; f++) {
        fprintf(o, "# HELP %s Filesystem space in bytes.\n# TYPE %s gauge\n", fsfam[f], fsfam[f]);
        for (long m = 0; m < mounts; m++, n++) {
            fprintf(o,
                    "%s{device=\"/dev/mapper/vg0-lv%ld\",fstype=\"ext4\","
                    "mountpoint=\"/var/lib/kubelet/pods/%08lx/volumes\"} ",
                    fsfam[f], m, m * 2654435761ul);
            put_value(o, 1);
            fputc('\n', o);
        }
    }
    /* gauges: whatever is left to reach the requested count exactly */
    long rest = plain - n;
    if (rest > 0)
        fprintf(o, "# HELP node_hwmon_temp_celsius Hardware monitor temperature.\n"
                   "# TYPE node_hwmon_temp_celsius gauge\n");
    for (long i = 0; i < rest; i++, n++) {
        fprintf(o, "node_hwmon_temp_celsius{chip=\"platform_coretemp_%ld\",sensor=\"temp%ld\"} ",
                i / 16, i % 16);
        put_value(o, 0);
        fputc('\n', o);
    }
    /* histograms */
    fprintf(o, "# HELP http_request_duration_seconds Latency of HTTP requests.\n"
               "# TYPE http_request_duration_seconds histogram\n");
    for (long g = 0; g < hist_groups; g++) {
        char lbl[160];
        snprintf(lbl, sizeof(lbl), "handler=\"/api/v1/resource/%ld\",method=\"%s\",code=\"%s\"",
                 g / 20, methods[g % 4], codes[(g / 4) % 5]);
        unsigned long long cum = 0;
        for (int b = 0; b < 11; b++, n++) {
            cum += rnd() % 1000;
            fprintf(o, "http_request_duration_seconds_bucket{%s,le=\"%s\"} %llu\n", lbl, les[b],
                    cum);
        }
        fprintf(o, "http_request_duration_seconds_sum{%s} %.3f\n", lbl, (double)cum * 0.137);
        fprintf(o, "http_request_duration_seconds_count{%s} %llu\n", lbl, cum);
        n += 2;
    }
    if (om)
        fprintf(o, "# EOF\n");
    return n;
}

static int run(int om, unsigned flags, int iters, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(len > 0 ? (size_t)len : 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "%s: read error\n", path);
        return 2;
    }
    fclose(f);
    struct coll_expfmt_parser *p =
        coll_expfmt_parser_new(om ? COLL_EXPFMT_OPENMETRICS : COLL_EXPFMT_PROMETHEUS, flags);
    double best = 1e30, best_wall = 1e30;
    size_t samples = 0;
    double checksum = 0;
    for (int it = 0; it < iters; it++) {
        struct coll_expfmt_entry e;
        struct coll_expfmt_err err;
        int rc;
        size_t n = 0;
        int64_t t0 = cpu_ns(), w0 = pl_mono_ns();
        coll_expfmt_parser_reset(p, buf, (size_t)len);
        while ((rc = coll_expfmt_next(p, &e, &err)) > 0) {
            if (rc == COLL_EXPFMT_SAMPLE) {
                n++;
                checksum += e.sample.value + (double)e.sample.nlabels;
            }
        }
        double secs = (double)(cpu_ns() - t0) / 1e9;
        double wall = (double)(pl_mono_ns() - w0) / 1e9;
        if (rc < 0) {
            fprintf(stderr, "%s: %u:%u: %s\n", path, err.line, err.col, err.msg);
            return 1;
        }
        if (secs < best)
            best = secs;
        if (wall < best_wall)
            best_wall = wall;
        samples = n;
    }
    printf("format=%-11s mode=%-7s bytes=%ld samples=%zu best_of=%d cpu=%.3fs  %4.0f MB/s  %5.2f M "
           "samples/s  (wall %.3fs, %.0f MB/s; checksum %.6g)\n",
           om ? "openmetrics" : "prometheus", flags & COLL_EXPFMT_STRICT ? "strict" : "lenient",
           len, samples, iters, best, (double)len / best / 1e6, (double)samples / best / 1e6,
           best_wall, (double)len / best_wall / 1e6, checksum);
    coll_expfmt_parser_free(p);
    free(buf);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_parse gen --format=prometheus|openmetrics [--series=N] > FILE\n"
                    "       bench_parse run --format=prometheus|openmetrics [--strict] "
                    "[--iters=K] FILE\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    int om = -1, strict = 0, iters = 5;
    long series = 1000000;
    const char *path = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--format=prometheus") == 0)
            om = 0;
        else if (strcmp(argv[i], "--format=openmetrics") == 0)
            om = 1;
        else if (strcmp(argv[i], "--strict") == 0)
            strict = 1;
        else if (strncmp(argv[i], "--series=", 9) == 0)
            series = atol(argv[i] + 9);
        else if (strncmp(argv[i], "--iters=", 8) == 0)
            iters = atoi(argv[i] + 8);
        else if (argv[i][0] != '-')
            path = argv[i];
        else {
            usage();
            return 2;
        }
    }
    if (om < 0 || series <= 0 || iters <= 0) {
        usage();
        return 2;
    }
    if (strcmp(argv[1], "gen") == 0) {
        long n = gen(om, series);
        fprintf(stderr, "generated %ld series\n", n);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (strcmp(argv[1], "run") == 0 && path)
        return run(om, strict ? COLL_EXPFMT_STRICT : 0, iters, path);
    usage();
    return 2;
}
