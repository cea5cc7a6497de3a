/*
 * bench_chunk.c - chunk codec benchmark on realistic data shapes.
 *
 * Generates node_exporter-like series (CPU seconds with 0.01 resolution,
 * network and disk byte counters, memory gauges, load averages with two
 * decimals, histogram bucket counts, constant series, random floats),
 * scraped every 15 s with millisecond jitter, cuts them into chunks of 120
 * or 480 samples, and reports per shape: bytes/sample of the head's Gorilla
 * chunks and of sealed chunks (tsdb_chunk_seal), the encodings sealing
 * picked, Gorilla append speed, decode speed of both, and seal time.
 *
 * Usage: bench_chunk [--series N] [--samples N] [--seed S] [--reps R]
 *                    [--jitter MS] [--chunk N]... [--export FILE]
 * --export writes the same series as OpenMetrics, one file FILE.<shape> per
 * shape (for promtool tsdb create-blocks-from openmetrics), and exits. Times are thread CPU time,
 * so other load on the machine does not count against us.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "tsdb/chunk.h"

enum shape { SH_CPU, SH_BYTES, SH_MEM, SH_LOAD, SH_HIST, SH_CONST, SH_RANDOM, SH_COUNT };

static const char *shape_name[SH_COUNT] = {"cpu_seconds",  "bytes_counter", "memory_gauge",
                                           "load_average", "histogram_bkt", "constant",
                                           "random_float"};

/*
 * Share of each shape in the "node_exporter mix" row. An assumption, stated
 * in the output: most node_exporter series are constant or nearly so
 * (sizes, *_info, error counters that stay 0), the rest counters and gauges.
 */
static const double mix_weight[SH_COUNT] = {0.10, 0.15, 0.12, 0.05, 0.10, 0.40, 0.08};

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static double urand(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static double nrand(void)
{
    double u = urand(), v = urand();
    return sqrt(-2.0 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Scrape timestamps: a 15 s grid with Gaussian jitter and rare delays. */
static void gen_times(int64_t *ts, size_t n, double jitter_ms)
{
    int64_t t0 = 1763900000000LL + (int64_t)(rnd() % 15000);
    for (size_t i = 0; i < n; i++) {
        int64_t j = jitter_ms > 0 ? (int64_t)llround(nrand() * jitter_ms) : 0;
        if (jitter_ms > 0 && rnd() % 200 == 0)
            j += 20 + (int64_t)(rnd() % 200); /* a slow scrape */
        ts[i] = t0 + 15000 * (int64_t)i + j;
        if (i > 0 && ts[i] < ts[i - 1])
            ts[i] = ts[i - 1];
    }
}

static void gen_values(enum shape sh, double *vs, size_t n)
{
    switch (sh) {
    case SH_CPU: {
        /* Seconds from USER_HZ ticks: ticks / 100, rate per mode. */
        double rate = (rnd() % 4 == 0) ? 0.9 + 0.1 * urand() : 0.2 * urand();
        int64_t ticks = (int64_t)(rnd() % 100000000);
        for (size_t i = 0; i < n; i++) {
            double d = rate * 1500 + nrand() * sqrt(rate * 1500 + 1);
            ticks += d > 0 ? (int64_t)d : 0;
            vs[i] = (double)ticks / 100.0;
        }
        break;
    }
    case SH_BYTES: {
        /* Network bytes (any integer) or disk bytes (512-byte sectors). */
        int disk = rnd() & 1;
        double mean = exp(6 + 8 * urand());
        int64_t c = (int64_t)(rnd() % 1000000000000LL);
        for (size_t i = 0; i < n; i++) {
            double d = mean * exp(nrand());
            if (disk)
                c += 512 * (int64_t)(d / 512);
            else
                c += (int64_t)d;
            vs[i] = (double)c;
        }
        break;
    }
    case SH_MEM: {
        /* /proc/meminfo kB * 1024, moving in pages. */
        int64_t kb = 1000000 + (int64_t)(rnd() % 8000000);
        for (size_t i = 0; i < n; i++) {
            if (rnd() % 3)
                kb += 4 * (int64_t)llround(nrand() * 200);
            if (kb < 0)
                kb = 0;
            vs[i] = (double)kb * 1024;
        }
        break;
    }
    case SH_LOAD: {
        /* /proc/loadavg: an exponential average, printed with 2 decimals. */
        double load = 4 * urand(), target = load;
        for (size_t i = 0; i < n; i++) {
            if (rnd() % 20 == 0)
                target = 4 * urand();
            load += (target + nrand() * 0.3 - load) * 0.22;
            if (load < 0)
                load = 0;
            vs[i] = (double)llround(load * 100) / 100.0;
        }
        break;
    }
    case SH_HIST: {
        /* One bucket of a request-duration histogram. */
        double lambda = exp(4 * urand()) - 1;
        int64_t c = (int64_t)(rnd() % 100000);
        for (size_t i = 0; i < n; i++) {
            double d = lambda + nrand() * sqrt(lambda + 0.01);
            c += d > 0 ? (int64_t)llround(d) : 0;
            vs[i] = (double)c;
        }
        break;
    }
    case SH_CONST: {
        static const double k[] = {1, 0, 16777216, 4, 1.5e9, 0.5};
        double v = k[rnd() % 6];
        for (size_t i = 0; i < n; i++)
            vs[i] = v;
        break;
    }
    default:
        for (size_t i = 0; i < n; i++)
            vs[i] = urand();
        break;
    }
}

struct result {
    size_t samples, chunks, gorilla_bytes, sealed_bytes, stream_bytes;
    size_t by_enc[4];
    double append_s, stream_s, dec_gorilla_s, dec_stream_s, dec_sealed_s, dec_batch_s, seal_s;
};

static volatile double sink;

/* Decodes every chunk in `all` (offsets in off) reps times; returns seconds. */
static double decode_all(const struct pl_buf *all, const size_t *off, size_t nchunks, int reps,
                         int batch)
{
    double t0 = now_sec(), acc = 0;
    int64_t bt[512];
    double bv[512];
    for (int r = 0; r < reps; r++) {
        for (size_t c = 0; c < nchunks; c++) {
            struct tsdb_chunk_dec d;
            if (tsdb_chunk_dec_init(&d, (const uint8_t *)all->data + off[c], off[c + 1] - off[c]) <
                0)
                abort();
            if (batch) {
                int k;
                while ((k = tsdb_chunk_dec_batch(&d, bt, bv, 512)) > 0)
                    acc += bv[k - 1] + (double)bt[k - 1];
                if (k < 0)
                    abort();
            } else {
                int64_t t;
                double v;
                int rc;
                while ((rc = tsdb_chunk_dec_next(&d, &t, &v)) == 1)
                    acc += v;
                if (rc < 0)
                    abort();
            }
        }
    }
    sink = acc;
    return now_sec() - t0;
}

static void run_shape(enum shape sh, size_t nseries, size_t nsamples, size_t chunk, int reps,
                      double jitter, struct result *res)
{
    memset(res, 0, sizeof(*res));
    int64_t *ts = malloc(nsamples * sizeof(*ts));
    double *vs = malloc(nsamples * sizeof(*vs));
    size_t maxchunks = nseries * ((nsamples + chunk - 1) / chunk);
    size_t *goff = malloc((maxchunks + 1) * sizeof(*goff));
    size_t *soff = malloc((maxchunks + 1) * sizeof(*soff));
    size_t *toff = malloc((maxchunks + 1) * sizeof(*toff));
    struct pl_buf gall, sall, tall;
    pl_buf_init(&gall, (size_t)1 << 34);
    pl_buf_init(&sall, (size_t)1 << 34);
    pl_buf_init(&tall, (size_t)1 << 34);
    struct tsdb_chunk_enc e, se;
    tsdb_chunk_enc_init(&e);
    tsdb_chunk_enc_init_kind(&se, TSDB_ENC_STREAM);
    size_t nchunks = 0;
    goff[0] = soff[0] = toff[0] = 0;
    for (size_t s = 0; s < nseries; s++) {
        gen_times(ts, nsamples, jitter);
        gen_values(sh, vs, nsamples);
        for (size_t c0 = 0; c0 < nsamples; c0 += chunk) {
            size_t cn = nsamples - c0 < chunk ? nsamples - c0 : chunk;
            /* Append speed: the whole chunk, timed, repeated. */
            double t0 = now_sec();
            for (int r = 0; r < reps; r++) {
                tsdb_chunk_enc_reset(&e);
                for (size_t i = 0; i < cn; i++)
                    if (tsdb_chunk_enc_append(&e, ts[c0 + i], vs[c0 + i]) != 0)
                        abort();
            }
            res->append_s += now_sec() - t0;
            /* The same with the adaptive streaming encoder. */
            t0 = now_sec();
            for (int r = 0; r < reps; r++) {
                tsdb_chunk_enc_reset(&se);
                for (size_t i = 0; i < cn; i++)
                    if (tsdb_chunk_enc_append(&se, ts[c0 + i], vs[c0 + i]) != 0)
                        abort();
            }
            res->stream_s += now_sec() - t0;
            size_t slen;
            const uint8_t *sp = tsdb_chunk_enc_bytes(&se, &slen);
            res->stream_bytes += slen;
            pl_buf_append(&tall, sp, slen);
            size_t len;
            const uint8_t *p = tsdb_chunk_enc_bytes(&e, &len);
            pl_buf_append(&gall, p, len);
            t0 = now_sec();
            if (tsdb_chunk_seal(p, len, &sall) != 0)
                abort();
            res->seal_s += now_sec() - t0;
            res->by_enc[(uint8_t)sall.data[soff[nchunks]] % 4]++;
            nchunks++;
            goff[nchunks] = gall.len;
            soff[nchunks] = sall.len;
            toff[nchunks] = tall.len;
            res->samples += cn;
        }
    }
    res->chunks = nchunks;
    res->gorilla_bytes = gall.len;
    res->sealed_bytes = sall.len;
    res->dec_gorilla_s = decode_all(&gall, goff, nchunks, reps, 0);
    res->dec_stream_s = decode_all(&tall, toff, nchunks, reps, 0);
    res->dec_sealed_s = decode_all(&sall, soff, nchunks, reps, 0);
    res->dec_batch_s = decode_all(&sall, soff, nchunks, reps, 1);
    tsdb_chunk_enc_fini(&e);
    tsdb_chunk_enc_fini(&se);
    pl_buf_fini(&gall);
    pl_buf_fini(&sall);
    pl_buf_fini(&tall);
    free(toff);
    free(ts);
    free(vs);
    free(goff);
    free(soff);
}

static void print_row(const char *name, const struct result *r, int reps)
{
    double n = (double)r->samples, nr = n * reps;
    printf(
        "%-14s %6zu %7.3f %7.3f %7.3f %6.1f%% %3zu/%zu/%zu %7.1f %7.1f %7.1f %7.1f %7.1f %6.1f\n",
        name, r->chunks, (double)r->gorilla_bytes / n, (double)r->stream_bytes / n,
        (double)r->sealed_bytes / n,
        100.0 * (1.0 - (double)r->sealed_bytes / (double)r->gorilla_bytes), r->by_enc[0],
        r->by_enc[1], r->by_enc[2], nr / r->append_s / 1e6, nr / r->stream_s / 1e6,
        nr / r->dec_gorilla_s / 1e6, nr / r->dec_sealed_s / 1e6, nr / r->dec_batch_s / 1e6,
        r->seal_s / (double)r->chunks * 1e6);
}

/* Writes every shape's series as OpenMetrics; 0 or 1 on I/O errors. */
static int export_openmetrics(const char *path, size_t nseries, size_t nsamples, double jitter,
                              uint64_t seed)
{
    int64_t *ts = malloc(nsamples * sizeof(*ts));
    double *vs = malloc(nsamples * sizeof(*vs));
    int rc = 0;
    for (int sh = 0; sh < SH_COUNT && rc == 0; sh++) {
        /* One file per shape: PATH.<shape>. */
        char name[4096];
        snprintf(name, sizeof(name), "%s.%s", path, shape_name[sh]);
        FILE *f = fopen(name, "w");
        if (!f) {
            perror(name);
            rc = 1;
            break;
        }
        /* Same generator order as run_shape, so the data is identical. */
        rng_state = seed * 0x9e3779b97f4a7c15ull + (uint64_t)sh + 1;
        fprintf(f, "# TYPE bench_%s gauge\n", shape_name[sh]);
        for (size_t s = 0; s < nseries; s++) {
            gen_times(ts, nsamples, jitter);
            gen_values((enum shape)sh, vs, nsamples);
            for (size_t i = 0; i < nsamples; i++)
                fprintf(f, "bench_%s{series=\"%zu\"} %.17g %lld.%03lld\n", shape_name[sh], s, vs[i],
                        (long long)(ts[i] / 1000), (long long)(ts[i] % 1000));
        }
        fprintf(f, "# EOF\n");
        if (fclose(f) != 0)
            rc = 1;
    }
    free(ts);
    free(vs);
    return rc;
}

int main(int argc, char **argv)
{
    const char *export_path = NULL;
    size_t nseries = 200, nsamples = 1920;
    int reps = 5;
    double jitter = 2.0;
    uint64_t seed = 42;
    size_t chunks[8] = {0};
    int nch = 0;
    /* Options come in pairs: name, value. */
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            goto usage;
        if (!strcmp(a, "--series"))
            nseries = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--samples"))
            nsamples = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--seed"))
            seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--reps"))
            reps = atoi(v);
        else if (!strcmp(a, "--jitter"))
            jitter = atof(v);
        else if (!strcmp(a, "--chunk") && nch < 8)
            chunks[nch++] = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--export"))
            export_path = v;
        else
            goto usage;
    }
    if (nch == 0) {
        chunks[0] = 120;
        chunks[1] = 480;
        nch = 2;
    }
    if (nseries == 0 || nsamples == 0 || reps < 1)
        goto usage;
    if (export_path)
        return export_openmetrics(export_path, nseries, nsamples, jitter, seed);
    for (int c = 0; c < nch; c++) {
        if (chunks[c] == 0 || chunks[c] > TSDB_CHUNK_MAX_SAMPLES)
            goto usage;
        printf("\nchunk %zu samples, %zu series x %zu samples per shape, 15 s scrapes, "
               "jitter sd %.1f ms (+0.5%% slow scrapes), seed %llu, reps %d\n",
               chunks[c], nseries, nsamples, jitter, (unsigned long long)seed, reps);
        printf("%-14s %6s %7s %7s %7s %7s %9s %7s %7s %7s %7s %7s %6s\n", "shape", "chunks",
               "gorB/s", "strB/s", "sealB/s", "saved", "raw/gor/pk", "appG", "appS", "decG", "decS",
               "batS", "sealus");
        struct result mix = {0};
        double mix_g = 0, mix_s = 0, mix_st = 0;
        size_t all_g = 0, all_s = 0;
        for (int sh = 0; sh < SH_COUNT; sh++) {
            rng_state = seed * 0x9e3779b97f4a7c15ull + (uint64_t)sh + 1;
            struct result r;
            run_shape((enum shape)sh, nseries, nsamples, chunks[c], reps, jitter, &r);
            print_row(shape_name[sh], &r, reps);
            mix_g += mix_weight[sh] * (double)r.gorilla_bytes / (double)r.samples;
            mix_s += mix_weight[sh] * (double)r.sealed_bytes / (double)r.samples;
            mix_st += mix_weight[sh] * (double)r.stream_bytes / (double)r.samples;
            mix.stream_s += r.stream_s;
            mix.samples += r.samples;
            all_g += r.gorilla_bytes;
            all_s += r.sealed_bytes;
            mix.append_s += r.append_s;
            mix.dec_gorilla_s += r.dec_gorilla_s;
            mix.dec_stream_s += r.dec_stream_s;
            mix.dec_batch_s += r.dec_batch_s;
            mix.dec_sealed_s += r.dec_sealed_s;
        }
        printf("node_exporter mix (weights cpu .10 bytes .15 mem .12 load .05 hist .10 const .40 "
               "random .08): gorilla %.3f B/sample, stream %.3f, sealed %.3f (%.1f%% smaller "
               "than gorilla)\n",
               mix_g, mix_st, mix_s, 100.0 * (1 - mix_s / mix_g));
        printf("all shapes, equal weight: gorilla %.3f B/sample, sealed %.3f B/sample\n",
               (double)all_g / (double)mix.samples, (double)all_s / (double)mix.samples);
        printf("all shapes (M samples per CPU-second): append gorilla %.1f, stream %.1f; "
               "decode (dec_next) gorilla %.1f, stream %.1f, sealed %.1f; sealed dec_batch %.1f\n",
               (double)mix.samples * reps / mix.append_s / 1e6,
               (double)mix.samples * reps / mix.stream_s / 1e6,
               (double)mix.samples * reps / mix.dec_gorilla_s / 1e6,
               (double)mix.samples * reps / mix.dec_stream_s / 1e6,
               (double)mix.samples * reps / mix.dec_sealed_s / 1e6,
               (double)mix.samples * reps / mix.dec_batch_s / 1e6);
    }
    return 0;
usage:
    fprintf(stderr, "usage: bench_chunk [--series N] [--samples N] [--seed S] [--reps R] "
                    "[--jitter MS] [--chunk N]... [--export FILE]\n");
    return 2;
}
