/*
 * bench_tsdb.c - storage benchmarks on node_exporter-like data (run.sh drives
 * it; never a timed test). Data shapes, generated from a fixed seed:
 *   counter   - monotonic, integer or 2-decimal increments (cpu seconds, bytes)
 *   gauge     - random walks in whole units (memory bytes in 4 KiB pages)
 *   histogram - cumulative bucket counters, _sum and _count
 *   constant  - values that never change (info metrics, sizes)
 *   random    - full-precision random floats (worst case)
 * Timestamps: a 15 s grid with 0-4 ms scrape jitter.
 *
 *   bench_tsdb gen FILE SERIES SAMPLES [SHAPE]   OpenMetrics file for import/promtool
 *   bench_tsdb gen-text FILE SERIES SAMPLES       the same data as text 0.0.4 (ms timestamps)
 *   bench_tsdb append DIR SERIES SAMPLES          append throughput (one thread)
 *   bench_tsdb shapes DIR SERIES SAMPLES          bytes/sample per shape (appender and backfill)
 *   bench_tsdb server-size DIR SERIES SAMPLES     bytes/sample of the server path: scrapes
 *                                                 appended in time order, closed; then compacted
 *   bench_tsdb rss DIR SERIES                     memory per active series, 2 h in the head
 *   bench_tsdb create DIR SERIES                  CPU per new series (index entries, postings),
 *                                                 one sample each, batches of 1000 as scrapes
 *   bench_tsdb churn DIR SERIES HOURS             head series and RSS under pod churn,
 *                                                 without and with eviction
 *   bench_tsdb ready DIR SERIES [SAMPLES [OPENS [MODES]]]  time to ready: clean close (1),
 *                                                 kill -9 right after the load (2), kill -9
 *                                                 just before the next checkpoint (4: the
 *                                                 longest WAL tail), kill -9 right after a
 *                                                 checkpoint (8); MODES is a mask (default
 *                                                 15); each state opened OPENS times (3)
 *   bench_tsdb open DIR [N]                       time N opens (+ one head query) of an
 *                                                 existing data directory (e.g. a copy of
 *                                                 a ready-* state), median
 *   bench_tsdb decode DIR                         sequential decode speed over all series
 */
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/labels.h"
#include "common/timeutil.h"
#include "tsdb/backfill.h"
#include "tsdb/tsdb.h"

#define T0 INT64_C(1700000000000)

enum shape { COUNTER, GAUGE, HIST, CONSTANT, RANDOM, NSHAPES };
static const char *shape_names[] = {"counter", "gauge", "histogram", "constant", "random"};

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

struct gen_series {
    enum shape shape;
    char name[200];
    double v, step;
};

/* Series i of a node_exporter-like mix (or all of one shape when forced >= 0). */
static void gen_init(struct gen_series *g, int i, int forced)
{
    int inst = i / 1000, k = i % 1000;
    int r = forced >= 0 ? forced
                        : (k < 400   ? COUNTER
                           : k < 700 ? GAUGE
                           : k < 850 ? HIST
                           : k < 950 ? CONSTANT
                                     : RANDOM);
    g->shape = (enum shape)r;
    switch (g->shape) {
    case COUNTER:
        if (k % 2)
            snprintf(g->name, sizeof(g->name),
                     "node_cpu_seconds_total{cpu=\"%d\",instance=\"host%d:9100\",job=\"node\","
                     "mode=\"m%d\"}",
                     k % 16, inst, k);
        else
            snprintf(g->name, sizeof(g->name),
                     "node_network_receive_bytes_total{device=\"eth%d\",instance=\"host%d:9100\","
                     "job=\"node\"}",
                     k, inst);
        g->v = (double)(rnd() % 100000);
        g->step = (double)(1 + rnd() % 5000);
        break;
    case GAUGE:
        snprintf(g->name, sizeof(g->name),
                 "node_memory_bytes{instance=\"host%d:9100\",job=\"node\",kind=\"k%d\"}", inst, k);
        g->v = (double)((rnd() % 1000000) * 4096);
        break;
    case HIST:
        snprintf(g->name, sizeof(g->name),
                 "http_request_duration_seconds_bucket{handler=\"/h%d\",instance=\"host%d:9100\","
                 "job=\"node\",le=\"%g\"}",
                 k / 10, inst, 0.005 * (double)(1 << (k % 10)));
        g->v = 0;
        g->step = (double)(k % 10 + 1);
        break;
    case CONSTANT:
        snprintf(
            g->name, sizeof(g->name),
            "node_filesystem_size_bytes{device=\"sd%d\",instance=\"host%d:9100\",job=\"node\"}", k,
            inst);
        g->v = (double)((rnd() % 100000) * 1048576);
        break;
    default:
        snprintf(g->name, sizeof(g->name),
                 "node_hwmon_temp_celsius{instance=\"host%d:9100\",job=\"node\",sensor=\"s%d\"}",
                 inst, k);
        g->v = 40;
        break;
    }
}

static double gen_next(struct gen_series *g, int j)
{
    switch (g->shape) {
    case COUNTER:
        if (j)
            g->v += (double)(rnd() % (uint64_t)(2 * g->step + 1));
        if (strncmp(g->name, "node_cpu", 8) == 0)
            return round(g->v) / 100.0;
        return g->v;
    case GAUGE:
        if (j)
            g->v += ((double)(rnd() % 201) - 100.0) * 4096;
        return g->v;
    case HIST:
        if (j)
            g->v += (double)(rnd() % (uint64_t)(g->step * 3 + 1));
        return g->v;
    case CONSTANT:
        return g->v;
    default:
        return 40.0 + (double)(rnd() >> 11) / 9007199254740992.0 * 20.0;
    }
}

static int64_t ts(int j)
{
    return T0 + (int64_t)j * 15000 + (int64_t)(rnd() % 5);
}

static int cmd_gen(const char *file, int nser, int nsmp, int forced, int prom_text)
{
    FILE *f = fopen(file, "w");
    if (!f)
        return 1;
    for (int i = 0; i < nser; i++) {
        struct gen_series g;
        gen_init(&g, i, forced);
        for (int j = 0; j < nsmp; j++) {
            double v = gen_next(&g, j);
            int64_t t = ts(j);
            if (prom_text) /* text 0.0.4: millisecond timestamps */
                fprintf(f, "%s %.17g %" PRId64 "\n", g.name, v, t);
            else
                fprintf(f, "%s %.17g %" PRId64 ".%03d\n", g.name, v, t / 1000, (int)(t % 1000));
        }
    }
    if (!prom_text)
        fprintf(f, "# EOF\n");
    fclose(f);
    return 0;
}

static struct tsdb *open_db(const char *dir, enum tsdb_sync sync)
{
    struct tsdb_options o;
    tsdb_options_init(&o);
    o.path = dir;
    o.sync = sync;
    o.retention_ms = 0;
    struct tsdb *db;
    struct pl_err err;
    int64_t t0 = pl_mono_ns();
    if (tsdb_open(&o, &db, &err)) {
        fprintf(stderr, "open: %s\n", err.msg);
        exit(1);
    }
    (void)t0;
    return db;
}

/* A benchmark cannot go on after a refused append or commit: say why and exit. */
static void append_or_die(int rc)
{
    if (rc) {
        fprintf(stderr, "append: %s\n", pl_err_str(rc));
        exit(1);
    }
}

static void commit_or_die(struct tsdb_appender *a)
{
    struct pl_err err;
    if (tsdb_appender_commit(a, NULL, &err)) {
        fprintf(stderr, "commit: %s\n", err.msg);
        exit(1);
    }
}

static int64_t cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static struct pl_labels **make_labels(int nser, int forced, struct gen_series **gs)
{
    struct pl_labels **ls = malloc((size_t)nser * sizeof(*ls));
    *gs = malloc((size_t)nser * sizeof(**gs));
    struct pl_err err;
    for (int i = 0; i < nser; i++) {
        gen_init(&(*gs)[i], i, forced);
        if (pl_labels_parse((*gs)[i].name, strlen((*gs)[i].name), &ls[i], &err)) {
            fprintf(stderr, "%s: %s\n", (*gs)[i].name, err.msg);
            exit(1);
        }
    }
    return ls;
}

/* Frees what make_labels made. */
static void free_labels(struct pl_labels **ls, struct gen_series *gs, int nser)
{
    for (int i = 0; i < nser; i++)
        pl_labels_free(ls[i]);
    free(ls);
    free(gs);
}

/*
 * Appends nsmp scrapes of nser series, one commit per scrape; returns ns in
 * append / commit, and the thread CPU ns spent generating the values (each
 * scrape's values are generated before its appender begins).
 */
static void load(struct tsdb *db, struct pl_labels **ls, struct gen_series *gs, int nser, int from,
                 int nsmp, int64_t *ns_append, int64_t *ns_commit, int64_t *cpu_gen)
{
    uint64_t *refs = calloc((size_t)nser, sizeof(*refs));
    double *vals = malloc((size_t)nser * sizeof(*vals));
    *ns_append = *ns_commit = *cpu_gen = 0;
    for (int j = from; j < from + nsmp; j++) {
        int64_t t = ts(j);
        int64_t g0 = cpu_ns();
        for (int i = 0; i < nser; i++)
            vals[i] = gen_next(&gs[i], j);
        *cpu_gen += cpu_ns() - g0;
        struct tsdb_appender *a;
        int64_t t0 = pl_mono_ns();
        tsdb_appender_begin(db, &a);
        for (int i = 0; i < nser; i++) {
            double v = vals[i];
            int rc =
                refs[i] ? tsdb_append_ref(a, refs[i], t, v) : tsdb_append(a, ls[i], t, v, &refs[i]);
            append_or_die(rc);
        }
        int64_t t1 = pl_mono_ns();
        commit_or_die(a);
        *ns_append += t1 - t0;
        *ns_commit += pl_mono_ns() - t1;
    }
    free(vals);
    free(refs);
}

static int cmd_append(const char *dir, int nser, int nsmp)
{
    const char *names[] = {"none", "interval", "batch"};
    enum tsdb_sync syncs[] = {TSDB_SYNC_NONE, TSDB_SYNC_INTERVAL, TSDB_SYNC_BATCH};
    for (int s = 0; s < 3; s++) {
        char d[1024];
        snprintf(d, sizeof(d), "%s/append-%s", dir, names[s]);
        struct gen_series *gs;
        struct pl_labels **ls = make_labels(nser, -1, &gs);
        struct tsdb *db = open_db(d, syncs[s]);
        int64_t na, nc, c0, ng;
        /* First scrape creates the series; measured separately. */
        load(db, ls, gs, nser, 0, 1, &na, &nc, &ng);
        printf("append[sync=%s]: series creation: %d series in %.3f s (%.0f series/s)\n", names[s],
               nser, (double)(na + nc) / 1e9, nser / ((double)(na + nc) / 1e9));
        c0 = cpu_ns();
        load(db, ls, gs, nser, 1, nsmp - 1, &na, &nc, &ng);
        int64_t cpu = cpu_ns() - c0;
        double n = (double)nser * (nsmp - 1);
        printf("append[sync=%s]: %.0f samples per CPU-second of the appending thread (incl. "
               "the generator)\n",
               names[s], n / ((double)cpu / 1e9));
        printf("append[sync=%s]: %.0f samples per CPU-second of the appending thread (excl. "
               "the generator: %.1f%% of its CPU)\n",
               names[s], n / ((double)(cpu - ng) / 1e9), 100.0 * (double)ng / (double)cpu);
        printf("append[sync=%s]: %d x %d samples: tsdb_append %.0f samples/s, commit (WAL "
               "record + snappy + LMDB txn + head chunks + seals) %.0f samples/s, overall %.0f "
               "samples/s, %.2f ms per %d-sample commit\n",
               names[s], nser, nsmp - 1, n / ((double)na / 1e9), n / ((double)nc / 1e9),
               n / ((double)(na + nc) / 1e9), (double)nc / 1e6 / (nsmp - 1), nser);
        struct tsdb_stats st;
        tsdb_stats_get(db, &st);
        printf("append[sync=%s]: WAL %.2f B/sample; %llu checkpoints wrote %.2f B/sample of head "
               "records in %.3f s (%.1f%% of commit time, %.1f%% of the thread's CPU)\n",
               names[s], (double)st.wal_bytes / n, (unsigned long long)st.checkpoints,
               (double)st.checkpoint_bytes / n, (double)st.checkpoint_ns / 1e9,
               100.0 * (double)st.checkpoint_ns / (double)nc,
               100.0 * (double)st.checkpoint_ns / (double)cpu);
        tsdb_close(db);
        free_labels(ls, gs, nser);
    }
    return 0;
}

static uint64_t dir_bytes(const char *dir)
{
    char f[2048];
    snprintf(f, sizeof(f), "%s/data.mdb", dir);
    struct stat sb;
    return stat(f, &sb) == 0 ? (uint64_t)sb.st_blocks * 512 : 0;
}

/* Backfills nsmp samples of each series (series after series, as import files are), repacks. */
static void backfill_load(const char *d, struct pl_labels **ls, struct gen_series *gs, int nser,
                          int nsmp)
{
    struct tsdb *db = open_db(d, TSDB_SYNC_NONE);
    struct tsdb_backfill *b;
    struct pl_err err;
    if (tsdb_backfill_new(db, 0, &b, &err)) {
        fprintf(stderr, "backfill: %s\n", err.msg);
        exit(1);
    }
    for (int i = 0; i < nser; i++)
        for (int j = 0; j < nsmp; j++) {
            double v = gen_next(&gs[i], j);
            if (tsdb_backfill_add(b, ls[i], ts(j), v, &err)) {
                fprintf(stderr, "backfill: %s\n", err.msg);
                exit(1);
            }
        }
    if (tsdb_backfill_finish(b, NULL, &err)) {
        fprintf(stderr, "backfill: %s\n", err.msg);
        exit(1);
    }
    tsdb_close(db);
    if (tsdb_repack(d, NULL, NULL, &err)) {
        fprintf(stderr, "repack: %s\n", err.msg);
        exit(1);
    }
}

static int cmd_shapes(const char *dir, int nser, int nsmp)
{
    for (int sh = 0; sh < NSHAPES; sh++) {
        char d[1024], snap[1100];
        snprintf(d, sizeof(d), "%s/shape-%s", dir, shape_names[sh]);
        snprintf(snap, sizeof(snap), "%s-compact", d);
        struct gen_series *gs;
        struct pl_labels **ls = make_labels(nser, sh, &gs);
        struct tsdb *db = open_db(d, TSDB_SYNC_NONE);
        int64_t na, nc, ng;
        load(db, ls, gs, nser, 0, nsmp, &na, &nc, &ng);
        tsdb_close(db);
        db = open_db(d, TSDB_SYNC_NONE);
        struct tsdb_summary s;
        struct pl_err err;
        tsdb_summary_get(db, &s, &err);
        tsdb_snapshot(db, snap, &err);
        tsdb_close(db);
        printf("shape %-9s: %d x %d: appender: chunk bytes/sample %.3f (sealed only), data file "
               "%.3f, compacted copy %.3f bytes/sample\n",
               shape_names[sh], nser, nsmp, (double)s.sealed_bytes / (double)s.samples,
               (double)dir_bytes(d) / ((double)nser * nsmp),
               (double)dir_bytes(snap) / ((double)nser * nsmp));
        tsdb_summary_fini(&s);
        /* The same shape through the import path (new values, same generator). */
        char bd[1100];
        snprintf(bd, sizeof(bd), "%s-backfill", d);
        for (int i = 0; i < nser; i++)
            gen_init(&gs[i], i, sh);
        backfill_load(bd, ls, gs, nser, nsmp);
        db = open_db(bd, TSDB_SYNC_NONE);
        tsdb_summary_get(db, &s, &err);
        tsdb_close(db);
        printf("shape %-9s: %d x %d: backfill: chunk bytes/sample %.3f, data file %.3f "
               "bytes/sample\n",
               shape_names[sh], nser, nsmp, (double)s.sealed_bytes / (double)s.samples,
               (double)dir_bytes(bd) / ((double)nser * nsmp));
        tsdb_summary_fini(&s);
        free_labels(ls, gs, nser);
    }
    return 0;
}

/*
 * The server path: every scrape appended in time order (one commit each, the
 * head sealing and compact.c merging partitions as they age), then a clean
 * close; then tsdb_compact over every partition, as after a long run.
 */
static int cmd_server_size(const char *dir, int nser, int nsmp)
{
    struct gen_series *gs;
    struct pl_labels **ls = make_labels(nser, -1, &gs);
    struct tsdb *db = open_db(dir, TSDB_SYNC_NONE);
    int64_t na, nc, ng;
    int64_t c0 = cpu_ns();
    load(db, ls, gs, nser, 0, nsmp, &na, &nc, &ng);
    int64_t cpu = cpu_ns() - c0;
    tsdb_close(db);
    double n = (double)nser * nsmp;
    uint64_t b1 = dir_bytes(dir);
    db = open_db(dir, TSDB_SYNC_NONE);
    struct tsdb_summary s;
    struct pl_err err;
    tsdb_summary_get(db, &s, &err);
    printf("server-size: %d x %d scraped (%.0f samples per CPU-second): data file %.3f "
           "bytes/sample, sealed chunks %.3f bytes/sample (%llu chunks), %llu open chunks\n",
           nser, nsmp, n / ((double)cpu / 1e9), (double)b1 / n,
           (double)s.sealed_bytes / (double)s.samples, (unsigned long long)s.chunks,
           (unsigned long long)s.head_chunks);
    tsdb_summary_fini(&s);
    if (tsdb_compact(db, &err))
        fprintf(stderr, "compact: %s\n", err.msg);
    tsdb_summary_get(db, &s, &err);
    tsdb_close(db);
    printf("server-size: after tsdb_compact: data file %.3f bytes/sample, sealed chunks %.3f "
           "bytes/sample (%llu chunks)\n",
           (double)dir_bytes(dir) / n, (double)s.sealed_bytes / (double)s.samples,
           (unsigned long long)s.chunks);
    tsdb_summary_fini(&s);
    free_labels(ls, gs, nser);
    return 0;
}

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, key, kl) == 0)
            v = strtol(line + kl + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* Series creation: what a first scrape (or churn) costs per series, commit included. */
static int cmd_create(const char *dir, int nser)
{
    struct gen_series *gs;
    struct pl_labels **ls = make_labels(nser, -1, &gs);
    struct tsdb *db = open_db(dir, TSDB_SYNC_NONE);
    int64_t c0 = cpu_ns(), commit = 0;
    for (int i0 = 0; i0 < nser; i0 += 1000) {
        struct tsdb_appender *a;
        tsdb_appender_begin(db, &a);
        for (int i = i0; i < nser && i < i0 + 1000; i++) {
            int rc = tsdb_append(a, ls[i], ts(0), gen_next(&gs[i], 0), NULL);
            append_or_die(rc);
        }
        int64_t k0 = cpu_ns();
        commit_or_die(a);
        commit += cpu_ns() - k0;
    }
    int64_t cpu = cpu_ns() - c0;
    printf("create: %d series in batches of 1000: %.2f us CPU per series (commit %.2f us: "
           "index entries, postings)\n",
           nser, (double)cpu / 1e3 / nser, (double)commit / 1e3 / nser);
    tsdb_close(db);
    free_labels(ls, gs, nser);
    return 0;
}

/*
 * Memory per active series: nser series (1000 per scrape target) get 480
 * scrapes (2 h at 15 s) through the normal API, one appender commit per
 * target and scrape as scrape loops do. Each label set gets the three labels
 * Kubernetes service discovery typically adds (7.3 labels on average). The
 * baseline is taken after the benchmark's own data (label sets, generators,
 * refs) exists, so the deltas are the database's: RssAnon (what the kernel
 * charges, including malloc's free lists and fragmentation), malloc's bytes
 * in use, and the peak RssAnon over the last 120 scrapes (open chunks then
 * range from empty to 120 samples).
 */
static int cmd_rss(const char *dir, int nser)
{
    struct gen_series *gs;
    struct pl_labels **ls = make_labels(nser, -1, &gs);
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    double nlabels = 0, lbytes = 0;
    for (int i = 0; i < nser; i++) {
        char pod[64];
        snprintf(pod, sizeof(pod), "node-exporter-%05x", (unsigned)(i / 1000) * 2654435761u >> 12);
        pl_lb_reset_from(&lb, ls[i]);
        pl_lb_setz(&lb, "namespace", "monitoring");
        pl_lb_setz(&lb, "pod", pod);
        pl_lb_setz(&lb, "cluster", "prod-eu-west-1");
        pl_labels_free(ls[i]);
        ls[i] = pl_lb_labels(&lb);
        nlabels += ls[i]->n;
        for (uint32_t k = 0; k < ls[i]->n; k++)
            lbytes += ls[i]->v[k].name_len + ls[i]->v[k].value_len;
    }
    pl_lb_fini(&lb);
    uint64_t *refs = calloc((size_t)nser, sizeof(*refs));
    malloc_trim(0);
    long anon0 = status_kb("RssAnon:"), file0 = status_kb("RssFile:"), peak = 0;
    struct mallinfo2 mi0 = mallinfo2();
    struct tsdb *db = open_db(dir, TSDB_SYNC_NONE);
    int64_t c0 = cpu_ns();
    for (int j = 0; j < 480; j++) {
        int64_t t = ts(j);
        for (int i0 = 0; i0 < nser; i0 += 1000) {
            struct tsdb_appender *a;
            tsdb_appender_begin(db, &a);
            for (int i = i0; i < nser && i < i0 + 1000; i++) {
                double v = gen_next(&gs[i], j);
                int rc = refs[i] ? tsdb_append_ref(a, refs[i], t, v)
                                 : tsdb_append(a, ls[i], t, v, &refs[i]);
                append_or_die(rc);
            }
            commit_or_die(a);
        }
        if (j >= 480 - 120) {
            long an = status_kb("RssAnon:");
            if (an > peak)
                peak = an;
        }
    }
    int64_t cpu = cpu_ns() - c0;
    long anon1 = status_kb("RssAnon:"), file1 = status_kb("RssFile:");
    struct mallinfo2 mi1 = mallinfo2();
    struct tsdb_stats st;
    tsdb_stats_get(db, &st);
    printf("rss: %d active series (%.1f labels, %.0f label bytes on average) x 480 samples (2 h "
           "at 15 s), %llu head series, %llu head chunks, %llu sealed chunks, %.2f s CPU\n",
           nser, nlabels / nser, lbytes / nser, (unsigned long long)st.head_series,
           (unsigned long long)st.head_chunks, (unsigned long long)st.sealed_chunks,
           (double)cpu / 1e9);
    printf("rss: heap (RssAnon) %.0f bytes/series at the end, peak %.0f over the last 120 "
           "scrapes; malloc in use %.0f bytes/series, free kept by malloc %.0f; mapped file "
           "pages (RssFile, page cache) %.0f bytes/series\n",
           (double)(anon1 - anon0) * 1024 / nser, (double)(peak - anon0) * 1024 / nser,
           ((double)mi1.uordblks + (double)mi1.hblkhd - (double)mi0.uordblks - (double)mi0.hblkhd) /
               nser,
           ((double)mi1.fordblks - (double)mi0.fordblks) / nser,
           (double)(file1 - file0) * 1024 / nser);
    tsdb_close(db);
    free(refs);
    free_labels(ls, gs, nser);
    return 0;
}

/*
 * Series churn (pods replaced): nser active series in targets of 1000; every
 * simulated hour a quarter of the targets is replaced by new ones (new
 * instance and pod labels). Run twice, in two child processes: without eviction and
 * with a tsdb_head_gc round every 15 min of sample time (idle bound 1 h, what
 * the background thread does). Prints head series and RssAnon per hour.
 */
static int cmd_churn(const char *dir, int nser, int hours)
{
    int ntg = nser / 1000 > 0 ? nser / 1000 : 1;
    nser = ntg * 1000;
    struct gen_series *gs;
    struct pl_labels **base = make_labels(nser, -1, &gs);
    struct pl_labels **ls = calloc((size_t)nser, sizeof(*ls));
    uint64_t *refs = calloc((size_t)nser, sizeof(*refs));
    int *gen = calloc((size_t)ntg, sizeof(*gen));
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    for (int evict = 0; evict < 2; evict++) {
        /* Each variant in its own process: RssAnon must not include the other's free heap. */
        fflush(stdout);
        pid_t pid = fork();
        if (pid > 0) {
            int st;
            waitpid(pid, &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                return 1;
            continue;
        }
        char d[1024];
        snprintf(d, sizeof(d), "%s/churn-%s", dir, evict ? "evict" : "keep");
        struct tsdb_options o;
        tsdb_options_init(&o);
        o.path = d;
        o.sync = TSDB_SYNC_NONE;
        o.retention_ms = 0;
        o.head_idle_ms = -1; /* rounds below, at fixed sample times */
        struct tsdb *db;
        struct pl_err err;
        if (tsdb_open(&o, &db, &err)) {
            fprintf(stderr, "open: %s\n", err.msg);
            return 1;
        }
        memset(gen, 0, (size_t)ntg * sizeof(*gen));
        memset(refs, 0, (size_t)nser * sizeof(*refs));
        malloc_trim(0);
        long anon0 = status_kb("RssAnon:");
        int64_t c0 = cpu_ns();
        for (int j = 0; j < hours * 240; j++) {
            int64_t t = ts(j);
            if (j % 240 == 0) {
                /* A quarter of the targets (round robin) get new pods. */
                int hour = j / 240;
                for (int k = 0; k < ntg; k++) {
                    if (hour > 0 && k % 4 != hour % 4)
                        continue;
                    if (hour > 0)
                        gen[k]++;
                    char inst[64], pod[64];
                    snprintf(inst, sizeof(inst), "10.%d.%d.%d:9100", gen[k] % 200, k / 200,
                             k % 200);
                    snprintf(pod, sizeof(pod), "node-exporter-g%d-t%d", gen[k], k);
                    for (int i = k * 1000; i < (k + 1) * 1000; i++) {
                        pl_lb_reset_from(&lb, base[i]);
                        pl_lb_setz(&lb, "instance", inst);
                        pl_lb_setz(&lb, "pod", pod);
                        pl_lb_setz(&lb, "namespace", "monitoring");
                        pl_labels_free(ls[i]);
                        ls[i] = pl_lb_labels(&lb);
                        refs[i] = 0;
                    }
                }
            }
            for (int k = 0; k < ntg; k++) {
                struct tsdb_appender *a;
                tsdb_appender_begin(db, &a);
                for (int i = k * 1000; i < (k + 1) * 1000; i++) {
                    double v = gen_next(&gs[i], j);
                    int rc = refs[i] ? tsdb_append_ref(a, refs[i], t, v)
                                     : tsdb_append(a, ls[i], t, v, &refs[i]);
                    append_or_die(rc);
                }
                commit_or_die(a);
            }
            if (evict && j % 60 == 59 && tsdb_head_gc(db, t - 3600000, NULL, &err) != 0)
                fprintf(stderr, "gc: %s\n", err.msg);
            if (j % 240 == 239) {
                struct tsdb_stats st;
                tsdb_stats_get(db, &st);
                printf("churn[%s]: hour %d: %llu head series (%d active, %llu in the index), "
                       "RssAnon %.0f MiB (%.0f bytes per active series)\n",
                       evict ? "evict" : "keep", j / 240 + 1, (unsigned long long)st.head_series,
                       nser, (unsigned long long)st.series,
                       (double)(status_kb("RssAnon:") - anon0) / 1024,
                       (double)(status_kb("RssAnon:") - anon0) * 1024 / nser);
            }
        }
        printf("churn[%s]: %.2f s CPU\n", evict ? "evict" : "keep", (double)(cpu_ns() - c0) / 1e9);
        tsdb_close(db);
        fflush(stdout);
        _exit(0);
    }
    pl_lb_fini(&lb);
    for (int i = 0; i < nser; i++) {
        pl_labels_free(base[i]);
        pl_labels_free(ls[i]);
    }
    free(base);
    free(ls);
    free(refs);
    free(gen);
    free(gs);
    return 0;
}

static double time_open(const char *dir, int query)
{
    int64_t t0 = pl_mono_ns();
    struct tsdb *db = open_db(dir, TSDB_SYNC_BATCH);
    double open_s = (double)(pl_mono_ns() - t0) / 1e9;
    if (query) {
        /* One query over the head right after ready. */
        struct tsdb_querier *q;
        struct pl_err err;
        struct tsdb_matcher *m;
        tsdb_matcher_new(TSDB_MATCH_EQ, "instance", "host3:9100", &m, &err);
        int64_t q0 = pl_mono_ns();
        tsdb_querier_open(db, T0, T0 + 3 * 3600000, &q, &err);
        struct tsdb_series_set *ss;
        tsdb_select(q, &m, 1, &ss, &err);
        const struct pl_labels *ls;
        struct tsdb_samples s;
        tsdb_samples_init(&s);
        size_t n = 0, ns = 0;
        while (tsdb_series_set_next(ss, &ls) == 1) {
            tsdb_series_set_samples(ss, T0, T0 + 3 * 3600000, &s, &err);
            n += s.n;
            ns++;
        }
        printf("  first query after ready: %zu series, %zu samples in %.3f s\n", ns, n,
               (double)(pl_mono_ns() - q0) / 1e9);
        tsdb_samples_fini(&s);
        tsdb_series_set_free(ss);
        tsdb_querier_close(q);
        tsdb_matcher_free(m);
    }
    tsdb_close(db);
    return open_s;
}

static int cmd_ready(const char *dir, int nser, int nsmp, int opens, int modes)
{
    /*
     * A child loads 2 h (one commit per scrape) and closes cleanly, dies at
     * once, or keeps scraping and dies when the next scrape would trigger a
     * checkpoint: the WAL tail a restart reads is then the longest it gets.
     */
    const char *names[] = {"clean", "kill", "kill-before-checkpoint", "kill-after-checkpoint"};
    for (int mode = 0; mode < 4; mode++) {
        if (!(modes & (1 << mode)))
            continue;
        char d[1024];
        snprintf(d, sizeof(d), "%s/ready-%s", dir, names[mode]);
        pid_t pid = fork();
        if (pid == 0) {
            struct gen_series *gs;
            struct pl_labels **ls = make_labels(nser, -1, &gs);
            struct tsdb_options o;
            tsdb_options_init(&o);
            o.path = d;
            o.sync = TSDB_SYNC_NONE;
            o.retention_ms = 0;
            struct tsdb *db;
            struct pl_err err;
            if (tsdb_open(&o, &db, &err))
                _exit(1);
            int64_t na, nc, ng;
            load(db, ls, gs, nser, 0, nsmp, &na, &nc, &ng);
            struct tsdb_stats st;
            tsdb_stats_get(db, &st);
            if (mode == 2) {
                uint64_t last = st.wal_bytes, round = 0;
                int extra = 0;
                for (;;) {
                    tsdb_stats_get(db, &st);
                    round = st.wal_bytes - last;
                    last = st.wal_bytes;
                    if (extra > 0 && st.wal_tail_bytes + round + round / 8 > st.wal_tail_limit)
                        break;
                    load(db, ls, gs, nser, nsmp + extra, 1, &na, &nc, &ng);
                    extra++;
                }
                printf("  [%s] %d more scrapes; WAL tail %.1f MiB (limit %.1f MiB), %.2f B/sample, "
                       "%llu checkpoints writing %.1f MiB of head records for %llu WAL bytes\n",
                       names[mode], extra, st.wal_tail_bytes / 1048576.0,
                       st.wal_tail_limit / 1048576.0,
                       (double)st.wal_bytes / ((double)nser * (nsmp + extra)),
                       (unsigned long long)st.checkpoints, st.checkpoint_bytes / 1048576.0,
                       (unsigned long long)st.wal_bytes);
            } else if (mode == 3) {
                /* Scrape until one checkpoints: the WAL tail is then empty. */
                uint64_t ck = st.checkpoints;
                int extra = 0;
                while (st.checkpoints == ck) {
                    load(db, ls, gs, nser, nsmp + extra, 1, &na, &nc, &ng);
                    extra++;
                    tsdb_stats_get(db, &st);
                }
                printf("  [%s] %d more scrapes; WAL tail %.1f MiB\n", names[mode], extra,
                       st.wal_tail_bytes / 1048576.0);
            } else {
                printf("  [%s] WAL tail %.1f MiB (limit %.1f MiB), %.2f B/sample\n", names[mode],
                       st.wal_tail_bytes / 1048576.0, st.wal_tail_limit / 1048576.0,
                       (double)st.wal_bytes / ((double)nser * nsmp));
            }
            fflush(stdout);
            if (mode > 0)
                _exit(0); /* WAL after the last checkpoint is replayed on open */
            tsdb_close(db);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        printf("ready[%s]: %d series x %d samples:\n", names[mode], nser, nsmp);
        for (int k = 0; k < opens; k++) {
            double s = time_open(d, 1);
            printf("  open %d to ready: %.3f s\n", k + 1, s);
        }
        fflush(stdout);
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_open(const char *dir, int n)
{
    double *v = calloc((size_t)n, sizeof(*v));
    for (int k = 0; k < n; k++)
        v[k] = time_open(dir, 1);
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    printf("open %s: %d opens, min %.3f s, median %.3f s, max %.3f s\n", dir, n, v[0], v[n / 2],
           v[n - 1]);
    free(v);
    return 0;
}

static int cmd_decode(const char *dir)
{
    struct tsdb *db = open_db(dir, TSDB_SYNC_NONE);
    struct tsdb_querier *q;
    struct pl_err err;
    struct tsdb_matcher *m;
    tsdb_matcher_new(TSDB_MATCH_RE, "__name__", ".+", &m, &err);
    tsdb_querier_open(db, INT64_MIN / 4, INT64_MAX / 4, &q, &err);
    struct tsdb_series_set *ss;
    int64_t t0 = pl_mono_ns();
    tsdb_select(q, &m, 1, &ss, &err);
    int64_t t1 = pl_mono_ns();
    const struct pl_labels *ls;
    struct tsdb_samples s;
    tsdb_samples_init(&s);
    size_t n = 0, ns = 0;
    while (tsdb_series_set_next(ss, &ls) == 1) {
        tsdb_series_set_samples(ss, INT64_MIN / 4, INT64_MAX / 4, &s, &err);
        n += s.n;
        ns++;
    }
    int64_t t2 = pl_mono_ns();
    printf("decode: select %zu series in %.3f s; read %zu samples in %.3f s: %.0f samples/s\n", ns,
           (double)(t1 - t0) / 1e9, n, (double)(t2 - t1) / 1e9,
           (double)n / ((double)(t2 - t1) / 1e9));
    tsdb_samples_fini(&s);
    tsdb_series_set_free(ss);
    tsdb_querier_close(q);
    tsdb_matcher_free(m);
    tsdb_close(db);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "gen") == 0)
        return cmd_gen(argv[2], atoi(argv[3]), atoi(argv[4]), argc > 5 ? atoi(argv[5]) : -1, 0);
    if (argc >= 5 && strcmp(argv[1], "gen-text") == 0)
        return cmd_gen(argv[2], atoi(argv[3]), atoi(argv[4]), -1, 1);
    if (argc >= 5 && strcmp(argv[1], "append") == 0)
        return cmd_append(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc >= 5 && strcmp(argv[1], "shapes") == 0)
        return cmd_shapes(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc >= 5 && strcmp(argv[1], "server-size") == 0)
        return cmd_server_size(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc >= 4 && strcmp(argv[1], "create") == 0)
        return cmd_create(argv[2], atoi(argv[3]));
    if (argc >= 4 && strcmp(argv[1], "rss") == 0)
        return cmd_rss(argv[2], atoi(argv[3]));
    if (argc >= 5 && strcmp(argv[1], "churn") == 0)
        return cmd_churn(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc >= 4 && strcmp(argv[1], "ready") == 0)
        return cmd_ready(argv[2], atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 480,
                         argc > 5 ? atoi(argv[5]) : 3, argc > 6 ? atoi(argv[6]) : 15);
    if (argc >= 3 && strcmp(argv[1], "open") == 0)
        return cmd_open(argv[2], argc > 3 ? atoi(argv[3]) : 5);
    if (argc >= 3 && strcmp(argv[1], "decode") == 0)
        return cmd_decode(argv[2]);
    fprintf(stderr, "usage: see the comment at the top of bench_tsdb.c\n");
    return 2;
}
