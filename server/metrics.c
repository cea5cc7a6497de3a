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

#include <promlite/client.h>
#include <stdio.h>

/* Prometheus's buckets for prometheus_http_request_duration_seconds. */
static const double http_buckets[] = {0.1, 0.2, 0.4, 1, 3, 8, 20, 60, 120};

static int tsdb_collect(struct exp_writer *w, void *ud)
{
    struct srv *s = ud;
    if (!atomic_load(&s->ready))
        return 0;
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
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int rc = exp_writer_family(w, rows[i].name, rows[i].help, rows[i].type);
        if (!rc)
            rc = exp_writer_sample(w, 0, NULL, NULL, rows[i].v);
        if (rc)
            return rc;
    }
    if (s->scrape) {
        struct coll_scrape_stats ss;
        coll_scrape_stats_get(s->scrape, &ss);
        int rc = exp_writer_family(w, "promlite_scrapes_total", "Scrapes by result.", EXP_COUNTER);
        if (!rc)
            rc = exp_writer_samplef(w, (double)ss.scrapes_ok, 1, "result", "ok");
        if (!rc)
            rc = exp_writer_samplef(w, (double)ss.scrapes_failed, 1, "result", "failed");
        if (!rc)
            rc = exp_writer_family(w, "promlite_scrape_samples_appended_total",
                                   "Samples appended by scrapes.", EXP_COUNTER);
        if (!rc)
            rc = exp_writer_sample(w, 0, NULL, NULL, (double)ss.samples_appended);
        if (!rc)
            rc = exp_writer_family(w, "promlite_scrape_series_added_total",
                                   "Series first seen by scrapes.", EXP_COUNTER);
        if (!rc)
            rc = exp_writer_sample(w, 0, NULL, NULL, (double)ss.series_added);
        if (!rc)
            rc = exp_writer_family(w, "promlite_scrape_targets", "Scrape targets by state.",
                                   EXP_GAUGE);
        if (!rc)
            rc = exp_writer_samplef(w, (double)ss.targets_active, 1, "state", "active");
        if (!rc)
            rc = exp_writer_samplef(w, (double)ss.targets_dropped, 1, "state", "dropped");
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
