/*
 * example.c - a small program instrumented with libpromlite-client: a
 * labelled counter, a gauge, a histogram and a summary updated by worker
 * threads, the process collector, and the standalone HTTP server.
 *
 *   promlite-client-example [LISTEN] [SECONDS]   (default 127.0.0.1:0, 30)
 *   curl http://127.0.0.1:PORT/metrics
 */
#define _POSIX_C_SOURCE 200809L /* rand_r */
#include <promlite/client.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static struct exp_metric *jobs_ok, *jobs_failed, *queue_len, *latency, *sizes;

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < 1000; i++) {
        double d = (double)(rand_r(&seed) % 1000) / 1000.0;
        exp_gauge_inc(queue_len);
        exp_histogram_observe(latency, d);
        exp_summary_observe(sizes, d * 4096);
        if (d < 0.9)
            exp_counter_inc(jobs_ok);
        else
            exp_counter_inc(jobs_failed);
        exp_gauge_dec(queue_len);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *listen = argc > 1 ? argv[1] : "127.0.0.1:0";
    int seconds = argc > 2 ? atoi(argv[2]) : 30;
    struct exp_registry *r;
    struct exp_family *jobs, *q, *lat, *sz;
    static const char *const result[] = {"result"};
    static const struct exp_quantile qs[] = {{0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}};
    double bounds[8];
    int rc = exp_registry_new(&r);
    if (!rc)
        rc =
            exp_counter_new(r, "example_jobs_total", "Jobs processed by result.", 1, result, &jobs);
    if (!rc)
        rc = exp_gauge_new(r, "example_queue_length", "Jobs waiting.", 0, NULL, &q);
    if (!rc)
        rc = exp_buckets_exponential(0.01, 2, 8, bounds);
    if (!rc)
        rc = exp_histogram_new(r, "example_job_duration_seconds", "Job duration.", 0, NULL, bounds,
                               8, &lat);
    if (!rc)
        rc = exp_summary_new(r, "example_job_size_bytes", "Job size.", 0, NULL, qs, 3, 600, 5, &sz);
    if (!rc)
        rc = exp_family_childv(jobs, &jobs_ok, "ok");
    if (!rc)
        rc = exp_family_childv(jobs, &jobs_failed, "failed");
    if (!rc)
        rc = exp_family_child(q, NULL, &queue_len);
    if (!rc)
        rc = exp_family_child(lat, NULL, &latency);
    if (!rc)
        rc = exp_family_child(sz, NULL, &sizes);
    if (!rc)
        rc = exp_registry_add_process_collector(r, NULL);
    if (rc) {
        fprintf(stderr, "example: %s\n", exp_strerror(rc));
        return 1;
    }
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, (void *)(i + 1));
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);

    struct exp_server *s;
    rc = exp_server_start(r, listen, "/metrics", &s);
    if (rc) {
        fprintf(stderr, "example: listen %s: %s\n", listen, exp_strerror(rc));
        exp_registry_free(r);
        return 1;
    }
    printf("serving http://%s:%u/metrics for %d s\n", "127.0.0.1", exp_server_port(s), seconds);
    fflush(stdout);
    sleep((unsigned)seconds);
    exp_server_stop(s);
    exp_registry_free(r);
    return 0;
}
