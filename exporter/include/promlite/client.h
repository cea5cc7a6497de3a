/*
 * promlite/client.h - libpromlite-client, a C instrumentation library.
 *
 * A program creates a registry, registers metric families in it (counter,
 * gauge, histogram, summary, each with fixed label names), takes child handles
 * for concrete label values and updates them from any thread. A scrape renders
 * the registry in the Prometheus text format 0.0.4 or OpenMetrics 1.0
 * (https://prometheus.io/docs/instrumenting/exposition_formats/,
 * https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md),
 * chosen from the HTTP Accept header, gzip-compressed when the client accepts it.
 *
 * Errors: functions return 0 on success or a negative code: EXP_ERR_* below
 * (the same numbers as promlite's PL_ERR_* band) or -errno. The library never
 * aborts on allocation failure; it returns EXP_ERR_NOMEM.
 *
 * Threads: updates through a child handle (exp_counter_inc, exp_gauge_set,
 * exp_histogram_observe, ...) are lock-free C11 atomics, except summaries,
 * which take a per-child mutex. Looking up a child takes its family's mutex;
 * cache the handle on hot paths. Handles stay valid until the registry is
 * freed. Registering and rendering may run concurrently with updates.
 *
 * Ownership: every string argument is copied; the caller keeps its own.
 */
#ifndef PROMLITE_CLIENT_H
#define PROMLITE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define EXP_API __attribute__((visibility("default")))
#else
#define EXP_API
#endif

/* Error codes (fixed; the values promlite's PL_ERR_* codes had before they moved to -32000). */
#define EXP_ERR_INVALID     (-30800) /* bad name, label, value or argument */
#define EXP_ERR_NOMEM       (-30798) /* allocation failed */
#define EXP_ERR_LIMIT       (-30797) /* an output or size limit was reached */
#define EXP_ERR_NOTFOUND    (-30796) /* no such family or child */
#define EXP_ERR_EXISTS      (-30795) /* a family with this name is registered already */
#define EXP_ERR_IO          (-30794) /* I/O failure with no errno */
#define EXP_ERR_UNSUPPORTED (-30790) /* valid request for something not supported */

/* Static description of an error code returned by this library. Never NULL. */
EXP_API const char *exp_strerror(int code);

enum exp_type {
    EXP_COUNTER,
    EXP_GAUGE,
    EXP_HISTOGRAM,
    EXP_SUMMARY,
    EXP_UNTYPED, /* "untyped" in 0.0.4, "unknown" in OpenMetrics */
};

enum exp_format {
    EXP_FORMAT_TEXT,        /* text/plain; version=0.0.4 */
    EXP_FORMAT_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

struct exp_registry; /* a set of families and collectors */
struct exp_family;   /* one metric family: name, help, type, label names */
struct exp_metric;   /* one child of a family: a fixed set of label values */
struct exp_writer;   /* the exposition being written during a scrape */

/* ------------------------------------------------------------------ registry */

/*
 * Creates an empty registry. OUT: *out. Returns 0 or EXP_ERR_NOMEM.
 * Free with exp_registry_free.
 */
EXP_API int exp_registry_new(struct exp_registry **out);

/*
 * Frees the registry, its families, children and collectors. NULL-safe. Stop
 * every server using it (exp_server_stop) first.
 */
EXP_API void exp_registry_free(struct exp_registry *r);

/*
 * Caps the size of one rendered exposition (before compression); a scrape that
 * would exceed it fails with EXP_ERR_LIMIT. Default 64 MiB.
 */
EXP_API void exp_registry_set_limit(struct exp_registry *r, size_t max_bytes);

/* ------------------------------------------------------------------ families */

/*
 * Registers a family. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*, each label
 * name [a-zA-Z_][a-zA-Z0-9_]* and not start with "__"; label names must be
 * distinct. `help` may be any UTF-8 text. OUT: *out, owned by the registry.
 * Errors: EXP_ERR_INVALID, EXP_ERR_EXISTS (name taken), EXP_ERR_NOMEM.
 */
EXP_API int exp_counter_new(struct exp_registry *r, const char *name, const char *help,
                            size_t nlabels, const char *const *label_names,
                            struct exp_family **out);
EXP_API int exp_gauge_new(struct exp_registry *r, const char *name, const char *help,
                          size_t nlabels, const char *const *label_names, struct exp_family **out);

/*
 * A histogram with `nbounds` strictly increasing finite upper bounds (the
 * +Inf bucket is implicit). bounds == NULL selects exp_default_buckets.
 * A label named "le" is rejected.
 */
EXP_API int exp_histogram_new(struct exp_registry *r, const char *name, const char *help,
                              size_t nlabels, const char *const *label_names, const double *bounds,
                              size_t nbounds, struct exp_family **out);

/* client_golang's DefBuckets: .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10. */
EXP_API extern const double exp_default_buckets[11];

/*
 * Fills out[0..count) with start, start+width, ... Returns 0, or
 * EXP_ERR_INVALID when count == 0 or width <= 0.
 */
EXP_API int exp_buckets_linear(double start, double width, size_t count, double *out);

/*
 * Fills out[0..count) with start, start*factor, ... Returns 0, or
 * EXP_ERR_INVALID when count == 0, start <= 0 or factor <= 1.
 */
EXP_API int exp_buckets_exponential(double start, double factor, size_t count, double *out);

/* One target quantile of a summary, e.g. {0.99, 0.001}. */
struct exp_quantile {
    double quantile; /* in [0, 1] */
    double error;    /* informative; quantiles are computed exactly over the window */
};

/*
 * A summary reporting `nq` quantiles over a sliding window of `max_age_s`
 * seconds, kept as `age_buckets` rotating buckets (client_golang defaults:
 * 600 s and 5). Each bucket keeps at most 1024 observations (reservoir
 * sampling beyond that), so memory per child is bounded. A label named
 * "quantile" is rejected. nq may be 0 (only _sum and _count).
 */
EXP_API int exp_summary_new(struct exp_registry *r, const char *name, const char *help,
                            size_t nlabels, const char *const *label_names,
                            const struct exp_quantile *q, size_t nq, double max_age_s,
                            unsigned age_buckets, struct exp_family **out);

/*
 * Returns the child of `f` with the given label values (nlabels entries, in
 * the order of the family's label names; NULL for a family without labels),
 * creating it on first use. OUT: *out, owned by the family, valid until the
 * registry is freed. Errors: EXP_ERR_INVALID (NULL value), EXP_ERR_NOMEM.
 */
EXP_API int exp_family_child(struct exp_family *f, const char *const *label_values,
                             struct exp_metric **out);

/* Like exp_family_child with the label values as variadic `const char *`. */
EXP_API int exp_family_childv(struct exp_family *f, struct exp_metric **out, ...);

/* ------------------------------------------------------------------ updates */

/* Counters: add must be >= 0 (returns EXP_ERR_INVALID otherwise, no change). */
EXP_API void exp_counter_inc(struct exp_metric *m);
EXP_API int exp_counter_add(struct exp_metric *m, double v);

EXP_API void exp_gauge_set(struct exp_metric *m, double v);
EXP_API void exp_gauge_add(struct exp_metric *m, double v);
EXP_API void exp_gauge_inc(struct exp_metric *m);
EXP_API void exp_gauge_dec(struct exp_metric *m);
EXP_API void exp_gauge_set_to_current_time(struct exp_metric *m);

EXP_API void exp_histogram_observe(struct exp_metric *m, double v);
EXP_API void exp_summary_observe(struct exp_metric *m, double v);

/*
 * Current value of a counter or gauge child, the observation count of a
 * histogram or summary child.
 */
EXP_API double exp_metric_value(struct exp_metric *m);

/* ------------------------------------------------------------------ collectors */

/*
 * A collector callback writes whole families at scrape time through `w`
 * (exp_writer_family, then its samples). It returns 0, or a negative code to
 * fail the scrape. Runs on the scraping thread with the registry locked:
 * it may update metrics and look up children, but must not register
 * families or collectors in the same registry (that would deadlock).
 * Scrapes of one registry are serialised.
 */
typedef int (*exp_collect_fn)(struct exp_writer *w, void *ud);

/*
 * Adds a collector that runs at every scrape, after the registered families,
 * in order of addition. `ud_free` (may be NULL) is called on `ud` when the
 * registry is freed, or at once when this call fails.
 */
EXP_API int exp_registry_add_collector(struct exp_registry *r, exp_collect_fn fn, void *ud,
                                       void (*ud_free)(void *));

/*
 * Adds the process collector (client_golang's names and HELP):
 * process_cpu_seconds_total, process_open_fds, process_max_fds,
 * process_virtual_memory_bytes, process_virtual_memory_max_bytes,
 * process_resident_memory_bytes, process_start_time_seconds, read from
 * /proc/self. `procfs` NULL means "/proc".
 */
EXP_API int exp_registry_add_process_collector(struct exp_registry *r, const char *procfs);

/*
 * Starts a family in a collector's output. `name` is the family name
 * (for a counter in OpenMetrics a trailing "_total" is removed from the
 * metadata lines and kept on samples). Returns 0 or a sticky error:
 * EXP_ERR_INVALID (bad name), EXP_ERR_EXISTS (a family of this name was
 * already written in this scrape: scrapers would reject the exposition).
 */
EXP_API int exp_writer_family(struct exp_writer *w, const char *name, const char *help,
                              enum exp_type type);

/*
 * Writes one sample of the current family, named after the family (counters
 * in OpenMetrics get "_total"). names/values: nlabels label pairs; values are
 * escaped as needed. Returns 0 or a sticky error (EXP_ERR_INVALID without a
 * family, EXP_ERR_LIMIT, EXP_ERR_NOMEM).
 */
EXP_API int exp_writer_sample(struct exp_writer *w, size_t nlabels, const char *const *names,
                              const char *const *values, double v);

/* Like exp_writer_sample with `nlabels` (name, value) `const char *` pairs. */
EXP_API int exp_writer_samplef(struct exp_writer *w, double v, size_t nlabels, ...);

/*
 * Writes a sample named `family name + suffix` ("_bucket", "_sum", "_count",
 * or "" for the family's own name, used for histogram and summary parts).
 */
EXP_API int exp_writer_sample_suffix(struct exp_writer *w, const char *suffix, size_t nlabels,
                                     const char *const *names, const char *const *values, double v);

/* The format being written, for collectors that need to know. */
EXP_API enum exp_format exp_writer_format(const struct exp_writer *w);

/* ------------------------------------------------------------------ exposition */

/*
 * Renders the registry. OUT: *out (malloc'd, NUL-terminated, caller frees)
 * and *len (without the NUL). Errors: EXP_ERR_LIMIT, EXP_ERR_NOMEM, or a
 * collector's error.
 */
EXP_API int exp_registry_render(struct exp_registry *r, enum exp_format fmt, char **out,
                                size_t *len);

/*
 * Picks the exposition format for an HTTP Accept header (NULL or empty means
 * text): OpenMetrics when application/openmetrics-text has the highest q.
 */
EXP_API enum exp_format exp_format_negotiate(const char *accept);

/* The Content-Type header value for a format. */
EXP_API const char *exp_format_content_type(enum exp_format fmt);

/* Whether an Accept-Encoding header value accepts gzip (q > 0). */
EXP_API int exp_accepts_gzip(const char *accept_encoding);

/*
 * gzip-compresses in[0..n). OUT: *out (malloc'd, caller frees), *outlen.
 * Errors: EXP_ERR_NOMEM, EXP_ERR_IO.
 */
EXP_API int exp_gzip(const char *in, size_t n, char **out, size_t *outlen);

/* ------------------------------------------------------------------ HTTP */

struct MHD_Connection;
struct MHD_Response;

/*
 * Serves a scrape of `r` on a libmicrohttpd connection: negotiates the format
 * from Accept, gzips when Accept-Encoding allows, queues the reply (200, or
 * 500 with a text message when rendering fails) and returns the
 * MHD_queue_response result (MHD_YES/MHD_NO as an int). Call it from your
 * MHD_AccessHandlerCallback for the telemetry path.
 */
EXP_API int exp_mhd_respond(struct exp_registry *r, struct MHD_Connection *c);

struct exp_server;

/*
 * Starts an HTTP server on `listen` ("host:port", ":port" for all addresses,
 * "[v6addr]:port"; port 0 picks a free port) serving `r` on `path` (NULL means
 * "/metrics"), a short HTML page on "/", 404 elsewhere, 405 for methods other
 * than GET and HEAD. It is a small built-in HTTP/1.1 server (keep-alive, one
 * internal thread, requests served one at a time, idle and send timeouts); it
 * does not need libmicrohttpd, so a statically linked program that uses only
 * this server does not load it. Also registers
 * promhttp_metric_handler_requests_total{code} and
 * promhttp_metric_handler_requests_in_flight in `r` (reused when a server is
 * started again on the same registry).
 * OUT: *out. Errors: EXP_ERR_INVALID (bad address or path), -errno (socket,
 * bind, listen), EXP_ERR_EXISTS (a different family already uses a promhttp
 * name), EXP_ERR_NOMEM.
 */
EXP_API int exp_server_start(struct exp_registry *r, const char *listen, const char *path,
                             struct exp_server **out);

/* The TCP port the server listens on (useful after port 0). */
EXP_API unsigned exp_server_port(const struct exp_server *s);

/* Stops the server and frees it (the registry stays). NULL-safe. */
EXP_API void exp_server_stop(struct exp_server *s);

/*
 * HTTP instrumentation, the counterpart of promhttp's InstrumentHandlerCounter
 * and InstrumentHandlerDuration: `<prefix>_requests_total{method,code}` and
 * `<prefix>_request_duration_seconds{method,code}` (a histogram; bounds NULL
 * selects exp_default_buckets). Methods are lower-cased like promhttp's.
 */
struct exp_http_metrics;

EXP_API int exp_http_metrics_new(struct exp_registry *r, const char *prefix, const double *bounds,
                                 size_t nbounds, struct exp_http_metrics **out);

/* Frees the helper (the families stay in the registry). NULL-safe. */
EXP_API void exp_http_metrics_free(struct exp_http_metrics *m);

/* Records one finished request. Returns 0 or EXP_ERR_NOMEM/EXP_ERR_INVALID. */
EXP_API int exp_http_metrics_observe(struct exp_http_metrics *m, const char *method, unsigned code,
                                     double seconds);

/* A monotonic timestamp in seconds, to measure a request's duration. */
EXP_API double exp_now_monotonic(void);

/*
 * Queues `resp` with `code` on `c` (MHD_queue_response) and records it as a
 * request of `method` that started at `start` (exp_now_monotonic()).
 * Returns the MHD_queue_response result.
 */
EXP_API int exp_http_metrics_queue(struct exp_http_metrics *m, struct MHD_Connection *c,
                                   const char *method, unsigned code, struct MHD_Response *resp,
                                   double start);

#ifdef __cplusplus
}
#endif

#endif
