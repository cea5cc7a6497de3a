/*
 * metrics.c - promlite's own metrics on GET /metrics, through
 * libpromlite-client (exporter/include/promlite/client.h).
 *
 * Names follow Prometheus 2.42's self-metrics where the meaning is the same
 * (captures/prometheus-api/prometheus_2.42_self_metrics_sample.txt), so
 * existing "Prometheus stats" dashboards find them: HTTP requests by handler
 * and code with a duration histogram per handler, head series and chunks,
 * appended and rejected samples, scrapes by result, plus process metrics. Storage figures with
 * no Prometheus equivalent are promlite_*. The TSDB figures are read at
 * scrape time by a collector (tsdb_stats_get), so appends pay nothing.
 */
#include "server/srv_int.h"

#include "collector/scrape.h"
#include "common/log.h"
#include "common/mem.h"

#include <promlite/client.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Prometheus's buckets for prometheus_http_request_duration_seconds. */
static const double http_buckets[] = {0.1, 0.2, 0.4, 1, 3, 8, 20, 60, 120};

/* Per-job scrape figures gathered from coll_scrape_pools_foreach. */
struct pool_rows {
    struct coll_pool_stats *v;
    char **jobs;
    size_t n, cap;
    uint64_t refused[3]; /* out of order, duplicate, out of bounds: over every job ever */
    uint64_t limit_sample, limit_body;
};

static void pool_row(const struct coll_pool_stats *ps, void *ud)
{
    struct pool_rows *pr = ud;
    pr->refused[0] += ps->out_of_order;
    pr->refused[1] += ps->duplicate_timestamp;
    pr->refused[2] += ps->out_of_bounds;
    pr->limit_sample += ps->scrapes[COLL_SCRAPE_SAMPLE_LIMIT];
    pr->limit_body += ps->scrapes[COLL_SCRAPE_BODY_SIZE_LIMIT];
    /* As Prometheus, a job that left the configuration leaves the per-job series. */
    if (!ps->configured)
        return;
    if (pr->n == pr->cap) {
        pr->cap = pr->cap ? pr->cap * 2 : 8;
        pr->v = pl_xreallocarray(pr->v, pr->cap, sizeof(*pr->v));
        pr->jobs = pl_xreallocarray(pr->jobs, pr->cap, sizeof(*pr->jobs));
    }
    pr->v[pr->n] = *ps;
    pr->jobs[pr->n] = pl_xstrdup(ps->job);
    pr->v[pr->n].job = pr->jobs[pr->n];
    pr->n++;
}

/* One family with one sample per configured job, labelled `label`="<job>". */
static int per_job(struct exp_writer *w, const struct pool_rows *pr, const char *name,
                   const char *help, enum exp_type type, const char *label, size_t field,
                   const char *extra_name, const char *extra_value)
{
    int rc = exp_writer_family(w, name, help, type);
    for (size_t i = 0; !rc && i < pr->n; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&pr->v[i] + field, sizeof(v));
        rc = extra_name
                 ? exp_writer_samplef(w, (double)v, 2, label, pr->v[i].job, extra_name, extra_value)
                 : exp_writer_samplef(w, (double)v, 1, label, pr->v[i].job);
    }
    return rc;
}

#define FIELD(f) offsetof(struct coll_pool_stats, f)

static int scrape_collect(struct exp_writer *w, struct coll_scrape_manager *m)
{
    struct pool_rows pr = {0};
    uint64_t reloads = 0;
    coll_scrape_pools_foreach(m, pool_row, &pr, &reloads);
    struct coll_scrape_stats ss;
    coll_scrape_stats_get(m, &ss);
    int rc =
        exp_writer_family(w, "promlite_scrapes_total", "Scrapes by job and result.", EXP_COUNTER);
    for (size_t i = 0; !rc && i < pr.n; i++)
        for (int k = 0; !rc && k < COLL_SCRAPE_NOUTCOMES; k++)
            rc = exp_writer_samplef(w, (double)pr.v[i].scrapes[k], 2, "scrape_job", pr.v[i].job,
                                    "result", coll_scrape_outcome_names[k]);
    if (!rc)
        rc = exp_writer_family(w, "promlite_scrape_duration_seconds",
                               "Scrape durations by job, from request to stored batch.",
                               EXP_HISTOGRAM);
    for (size_t i = 0; !rc && i < pr.n; i++) {
        const struct coll_pool_stats *p = &pr.v[i];
        static const char *const names[] = {"scrape_job", "le"};
        const char *vals[2] = {p->job, NULL};
        uint64_t cum = 0;
        char le[32];
        for (int b = 0; !rc && b <= COLL_SCRAPE_DURATION_NBOUNDS; b++) {
            cum += p->duration_buckets[b];
            if (b < COLL_SCRAPE_DURATION_NBOUNDS)
                snprintf(le, sizeof(le), "%g", coll_scrape_duration_bounds[b]);
            else
                snprintf(le, sizeof(le), "+Inf");
            vals[1] = le;
            rc = exp_writer_sample_suffix(w, "_bucket", 2, names, vals, (double)cum);
        }
        if (!rc)
            rc = exp_writer_sample_suffix(w, "_sum", 1, names, vals, p->duration_sum);
        if (!rc)
            rc = exp_writer_sample_suffix(w, "_count", 1, names, vals, (double)cum);
    }
    if (!rc)
        rc = per_job(w, &pr, "promlite_scrape_samples_appended_total",
                     "Samples stored by scrapes, by job.", EXP_COUNTER, "scrape_job",
                     FIELD(samples_appended), NULL, NULL);
    if (!rc)
        rc = per_job(w, &pr, "promlite_scrape_series_added_total",
                     "New series in scrapes (the sum of scrape_series_added), by job.", EXP_COUNTER,
                     "scrape_job", FIELD(series_added), NULL, NULL);
    if (!rc)
        rc = per_job(w, &pr, "prometheus_target_scrape_pool_targets",
                     "Current number of targets in this scrape pool.", EXP_GAUGE, "scrape_job",
                     FIELD(targets), NULL, NULL);
    if (!rc)
        rc = per_job(w, &pr, "prometheus_target_scrape_pool_sync_total",
                     "Total number of syncs that were executed on a scrape pool.", EXP_COUNTER,
                     "scrape_job", FIELD(syncs), NULL, NULL);
    if (!rc)
        rc = per_job(w, &pr, "prometheus_sd_discovered_targets",
                     "Current number of discovered targets.", EXP_GAUGE, "config",
                     FIELD(discovered), "name", "scrape");
    struct {
        const char *name, *help;
        double v;
    } tot[] = {
        {"prometheus_target_scrapes_exceeded_sample_limit_total",
         "Total number of scrapes that hit the sample limit and were rejected.",
         (double)pr.limit_sample},
        {"prometheus_target_scrapes_exceeded_body_size_limit_total",
         "Total number of scrapes that hit the body size limit", (double)pr.limit_body},
        {"prometheus_target_scrapes_sample_out_of_order_total",
         "Total number of samples rejected due to not being out of the expected order.",
         (double)pr.refused[0]},
        {"prometheus_target_scrapes_sample_duplicate_timestamp_total",
         "Total number of samples rejected due to duplicate timestamps but different values.",
         (double)pr.refused[1]},
        {"prometheus_target_scrapes_sample_out_of_bounds_total",
         "Total number of samples rejected due to timestamp falling outside of the time bounds.",
         (double)pr.refused[2]},
        {"prometheus_target_scrape_pool_reloads_total", "Total number of scrape pool reloads.",
         (double)reloads},
    };
    for (size_t i = 0; !rc && i < sizeof(tot) / sizeof(tot[0]); i++) {
        rc = exp_writer_family(w, tot[i].name, tot[i].help, EXP_COUNTER);
        if (!rc)
            rc = exp_writer_sample(w, 0, NULL, NULL, tot[i].v);
    }
    if (!rc)
        rc = exp_writer_family(w, "promlite_scrape_targets", "Scrape targets by state.", EXP_GAUGE);
    if (!rc)
        rc = exp_writer_samplef(w, (double)ss.targets_active, 1, "state", "active");
    if (!rc)
        rc = exp_writer_samplef(w, (double)ss.targets_dropped, 1, "state", "dropped");
    for (size_t i = 0; i < pr.n; i++)
        free(pr.jobs[i]);
    free(pr.jobs);
    free(pr.v);
    return rc;
}

/*
 * Go's time.Duration.String() for whole milliseconds ("5s", "1m0s",
 * "1.5s", "500ms"), the `interval` label Prometheus gives
 * prometheus_target_interval_length_seconds.
 */
void srv__go_duration(int64_t ms, char *out, size_t n)
{
    if (ms <= 0) {
        snprintf(out, n, "0s");
        return;
    }
    if (ms < 1000) {
        snprintf(out, n, "%lldms", (long long)ms);
        return;
    }
    long long h = ms / 3600000, mi = ms / 60000 % 60, sec = ms / 1000 % 60, frac = ms % 1000;
    char f[8] = "";
    if (frac) {
        snprintf(f, sizeof(f), ".%03lld", frac);
        for (size_t l = strlen(f); f[l - 1] == '0'; l--)
            f[l - 1] = '\0';
    }
    if (h)
        snprintf(out, n, "%lldh%lldm%lld%ss", h, mi, sec, f);
    else if (mi)
        snprintf(out, n, "%lldm%lld%ss", mi, sec, f);
    else
        snprintf(out, n, "%lld%ss", sec, f);
}

/* coll_scrape_options.observe: the two summaries Prometheus keeps for its scrape loop. */
static void scrape_observe(void *ud, enum coll_scrape_obs kind, const char *job,
                           int64_t interval_ms, double seconds)
{
    struct srv *s = ud;
    struct exp_metric *m;
    if (kind == COLL_SCRAPE_OBS_INTERVAL) {
        char iv[32];
        srv__go_duration(interval_ms, iv, sizeof(iv));
        if (exp_family_childv(s->interval_length, &m, iv) == 0)
            exp_summary_observe(m, seconds);
    } else if (exp_family_childv(s->sync_length, &m, job) == 0) {
        exp_summary_observe(m, seconds);
    }
}

void srv__metrics_scrape_options(struct srv *s, struct coll_scrape_options *o)
{
    if (!s->reg || !s->interval_length)
        return;
    o->observe = scrape_observe;
    o->observe_ud = s;
}

static int tsdb_collect(struct exp_writer *w, void *ud)
{
    struct srv *s = ud;
    if (!atomic_load(&s->ready))
        return 0;
    /* The scrape figures first: a scrape adds to its job's counters after its commit added to the
     * TSDB's, so read in this order the TSDB never shows fewer samples than the jobs. */
    if (s->scrape) {
        int rc = scrape_collect(w, s->scrape);
        if (rc)
            return rc;
    }
    struct tsdb_stats st;
    tsdb_stats_get(s->db, &st);
    struct {
        const char *name, *help;
        enum exp_type type;
        double v;
    } rows[] = {
        {"prometheus_tsdb_head_series", "Total number of series in the head block.", EXP_GAUGE,
         (double)st.head_series},
        {"prometheus_tsdb_head_chunks", "Total number of chunks in the head block.", EXP_GAUGE,
         (double)st.head_chunks},
        {"prometheus_tsdb_head_samples_appended_total", "Total number of appended samples.",
         EXP_COUNTER, (double)st.samples_appended},
        {"prometheus_tsdb_out_of_order_samples_total",
         "Total number of out of order samples ingestion failed attempts.", EXP_COUNTER,
         (double)st.out_of_order_rejected},
        {"promlite_tsdb_duplicate_samples_total",
         "Samples rejected for a timestamp already stored with another value.", EXP_COUNTER,
         (double)st.duplicate_rejected},
        {"promlite_tsdb_series", "Series in the index.", EXP_GAUGE, (double)st.series},
        {"promlite_tsdb_wal_records_total", "WAL records written since start.", EXP_COUNTER,
         (double)st.wal_records},
        {"promlite_tsdb_wal_bytes_total", "WAL bytes written since start.", EXP_COUNTER,
         (double)st.wal_bytes},
        {"promlite_tsdb_sealed_chunks_total", "Chunks sealed into LMDB since start.", EXP_COUNTER,
         (double)st.sealed_chunks},
        {"promlite_tsdb_storage_bytes", "Size of the LMDB data file in use.", EXP_GAUGE,
         (double)st.disk_bytes},
        {"promlite_tsdb_lmdb_map_bytes", "LMDB map size (the data file can grow to it).", EXP_GAUGE,
         (double)st.map_bytes},
        {"promlite_tsdb_lmdb_used_bytes", "LMDB pages in use, up to the last one.", EXP_GAUGE,
         (double)st.used_bytes},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int rc = exp_writer_family(w, rows[i].name, rows[i].help, rows[i].type);
        if (!rc)
            rc = exp_writer_sample(w, 0, NULL, NULL, rows[i].v);
        if (rc)
            return rc;
    }
    if (st.max_time >= st.min_time) {
        int rc = exp_writer_family(w, "prometheus_tsdb_lowest_timestamp_seconds",
                                   "Lowest timestamp value stored in the database.", EXP_GAUGE);
        if (!rc)
            rc = exp_writer_sample(w, 0, NULL, NULL, (double)st.min_time / 1000.0);
        if (!rc)
            rc = exp_writer_family(w, "prometheus_tsdb_head_max_time_seconds",
                                   "Maximum timestamp of the head block.", EXP_GAUGE);
        if (!rc)
            rc = exp_writer_sample(w, 0, NULL, NULL, (double)st.max_time / 1000.0);
        if (rc)
            return rc;
    }
    return 0;
}

int srv__metrics_init(struct srv *s)
{
    static const char *const req_labels[] = {"code", "handler"};
    static const char *const dur_labels[] = {"handler"};
    struct exp_family *build;
    struct exp_metric *m;
    int rc = exp_registry_new(&s->reg);
    if (!rc)
        rc = exp_counter_new(s->reg, "prometheus_http_requests_total", "Counter of HTTP requests.",
                             2, req_labels, &s->http_requests);
    if (!rc)
        rc = exp_histogram_new(s->reg, "prometheus_http_request_duration_seconds",
                               "Histogram of latencies for HTTP requests.", 1, dur_labels,
                               http_buckets, sizeof(http_buckets) / sizeof(http_buckets[0]),
                               &s->http_duration);
    if (!rc) {
        static const char *const bl[] = {"version"};
        rc = exp_gauge_new(s->reg, "promlite_build_info",
                           "A metric with a constant '1' value labeled by the promlite version.", 1,
                           bl, &build);
    }
    /* Prometheus's objectives for its scrape-loop summaries. */
    static const struct exp_quantile q[] = {
        {0.01, 0.001}, {0.05, 0.005}, {0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}};
    if (!rc) {
        static const char *const il[] = {"interval"};
        rc = exp_summary_new(s->reg, "prometheus_target_interval_length_seconds",
                             "Actual intervals between scrapes.", 1, il, q, 5, 600, 5,
                             &s->interval_length);
    }
    if (!rc) {
        static const char *const jl[] = {"scrape_job"};
        rc = exp_summary_new(s->reg, "prometheus_target_sync_length_seconds",
                             "Actual interval to sync the scrape pool.", 1, jl, q, 5, 600, 5,
                             &s->sync_length);
    }
    if (!rc) {
        struct exp_family *eq;
        rc =
            exp_gauge_new(s->reg, "prometheus_engine_queries",
                          "The current number of queries being executed or waiting.", 0, NULL, &eq);
        if (!rc)
            rc = exp_family_child(eq, NULL, &s->engine_queries);
    }
    if (!rc)
        rc = exp_family_childv(build, &m, PROMLITE_VERSION);
    if (!rc)
        exp_gauge_set(m, 1);
    if (!rc)
        rc = exp_registry_add_process_collector(s->reg, NULL);
    if (!rc)
        rc = exp_registry_add_collector(s->reg, tsdb_collect, s, NULL);
    if (rc) {
        pl_log(PL_LOG_ERROR, "web", "cannot set up self-metrics", "err", exp_strerror(rc), NULL);
        exp_registry_free(s->reg);
        s->reg = NULL;
        s->interval_length = s->sync_length = NULL;
        s->engine_queries = NULL;
    }
    return rc;
}

void srv__metrics_observe(struct srv *s, const char *handler, int code, double seconds)
{
    if (!s->reg)
        return;
    char c[16];
    snprintf(c, sizeof(c), "%d", code);
    struct exp_metric *m;
    if (exp_family_childv(s->http_requests, &m, c, handler) == 0)
        exp_counter_inc(m);
    if (exp_family_childv(s->http_duration, &m, handler) == 0)
        exp_histogram_observe(m, seconds);
}

int srv__metrics_respond(struct srv *s, struct MHD_Connection *c)
{
    return exp_mhd_respond(s->reg, c);
}

void srv__metrics_free(struct srv *s)
{
    exp_registry_free(s->reg);
    s->reg = NULL;
}
