/*
 * config.h - the prometheus.yml subset promlite reads (--config.file).
 *
 * Spec: https://prometheus.io/docs/prometheus/2.42/configuration/configuration/
 * Keys, defaults and validation messages follow Prometheus 2.42 (`promtool
 * check config` is the reference; ecosystem.md section 2). Every error names
 * the file and line: "prometheus.yml:6: field foo not found in type
 * config.ScrapeConfig". Keys Prometheus knows but promlite does not implement
 * (kubernetes_sd_configs, remote_read, ...) are accepted and listed in
 * `warnings` so a user's existing file still loads.
 *
 * A loaded config is immutable; everything in it lives in its arena and dies
 * with coll_config_free. Relative paths (rule files, file_sd files, password
 * and certificate files) are resolved against the config file's directory.
 */
#ifndef COLLECTOR_CONFIG_H
#define COLLECTOR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "collector/relabel.h"
#include "common/arena.h"
#include "common/err.h"
#include "common/labels.h"

/* One `static_configs` entry (Prometheus targetgroup.Group). */
struct coll_static_config {
    const char **targets;
    size_t ntargets;
    struct pl_labels *labels; /* owned by the config; never NULL */
};

struct coll_file_sd_config {
    const char **files; /* resolved against the config directory */
    size_t nfiles;
    int64_t refresh_ms; /* default 5m */
};

enum coll_dns_type { COLL_DNS_SRV, COLL_DNS_A, COLL_DNS_AAAA };

struct coll_dns_sd_config {
    const char **names;
    size_t nnames;
    enum coll_dns_type type; /* default SRV */
    int port;                /* required for A and AAAA */
    int64_t refresh_ms;      /* default 30s */
};

/* Prometheus common/config.HTTPClientConfig, the parts we use. */
struct coll_http_config {
    int has_basic_auth;
    const char *basic_username, *basic_password, *basic_password_file;
    int has_authorization; /* also set by bearer_token(_file) */
    const char *auth_type; /* default "Bearer" */
    const char *auth_credentials, *auth_credentials_file;
    const char *tls_ca_file, *tls_cert_file, *tls_key_file, *tls_server_name;
    int tls_insecure_skip_verify;
    int follow_redirects; /* default 1 */
    int enable_http2;     /* default 1 */
};

struct coll_param {
    const char *name;
    const char **values;
    size_t nvalues;
};

struct coll_scrape_config {
    const char *job_name;
    int64_t interval_ms, timeout_ms; /* inherited from global when unset */
    const char *metrics_path;        /* default /metrics */
    const char *scheme;              /* default http */
    struct coll_param *params;
    size_t nparams;
    int honor_labels;     /* default 0 */
    int honor_timestamps; /* default 1 */
    uint64_t sample_limit, target_limit, label_limit, label_name_length_limit,
        label_value_length_limit;
    uint64_t body_size_limit; /* bytes; 0 = none */
    struct coll_http_config http;
    struct coll_static_config *static_configs;
    size_t nstatic;
    struct coll_file_sd_config *file_sd;
    size_t nfile_sd;
    struct coll_dns_sd_config *dns_sd;
    size_t ndns_sd;
    struct coll_relabel_rule *relabel;
    size_t nrelabel;
    struct coll_relabel_rule *metric_relabel;
    size_t nmetric_relabel;
    int line;
};

struct coll_alertmanager_config {
    struct coll_static_config *static_configs;
    size_t nstatic;
    struct coll_file_sd_config *file_sd;
    size_t nfile_sd;
    struct coll_dns_sd_config *dns_sd;
    size_t ndns_sd;
    const char *scheme;      /* default http */
    const char *path_prefix; /* default / */
    int64_t timeout_ms;      /* default 10s */
    const char *api_version; /* v1 or v2 (default) */
    struct coll_http_config http;
    struct coll_relabel_rule *relabel;
    size_t nrelabel;
};

struct coll_header {
    const char *name, *value;
};

struct coll_queue_config {
    int64_t capacity, max_shards, min_shards, max_samples_per_send; /* 2500, 200, 1, 500 */
    int64_t batch_send_deadline_ms, min_backoff_ms, max_backoff_ms; /* 5s, 30ms, 5s */
    int retry_on_http_429;                                          /* 0 */
};

struct coll_remote_write_config {
    const char *url;
    const char *name;          /* may be "" */
    int64_t remote_timeout_ms; /* default 30s */
    struct coll_header *headers;
    size_t nheaders;
    struct coll_relabel_rule *write_relabel;
    size_t nwrite_relabel;
    struct coll_http_config http;
    struct coll_queue_config queue;
};

struct coll_config {
    const char *path; /* file name as given, or "<default>" */
    const char *dir;  /* directory relative paths resolve against */
    struct {
        int64_t scrape_interval_ms;        /* default 1m */
        int64_t scrape_timeout_ms;         /* default 10s (or the interval when shorter) */
        int64_t evaluation_interval_ms;    /* default 1m */
        struct pl_labels *external_labels; /* never NULL */
        const char *query_log_file;
    } global;
    const char **rule_files; /* globs, resolved against dir */
    size_t nrule_files;
    struct coll_scrape_config *scrape_configs;
    size_t nscrape;
    struct coll_alertmanager_config *alertmanagers;
    size_t nalertmanagers;
    struct coll_relabel_rule *alert_relabel;
    size_t nalert_relabel;
    struct coll_remote_write_config *remote_write;
    size_t nremote_write;
    const char **warnings; /* "FILE:LINE: ..." for keys accepted but ignored */
    size_t nwarnings;
    struct pl_arena arena; /* owns every string and array above */
};

/* Largest config file accepted, in bytes. */
#define COLL_CONFIG_MAX_BYTES (16u << 20)

/*
 * The embedded default: promlite scrapes itself (localhost:9090, job
 * promlite) and promlite-exporter (localhost:9100, job node) every 15s.
 */
extern const char coll_config_default_yaml[];

/*
 * Parses YAML text. `name` is used in messages; `dir` resolves relative paths
 * (NULL: the current directory). OUT: *out, freed with coll_config_free.
 * PL_ERR_INVALID with "NAME:LINE: reason" on any error.
 */
int coll_config_parse(const char *text, size_t len, const char *name, const char *dir,
                      struct coll_config **out, struct pl_err *err);
/* Reads and parses a file (at most COLL_CONFIG_MAX_BYTES). */
int coll_config_load_file(const char *path, struct coll_config **out, struct pl_err *err);
/* Parses coll_config_default_yaml. */
int coll_config_load_default(struct coll_config **out, struct pl_err *err);
void coll_config_free(struct coll_config *cfg);

/* The scrape config named `job`, or NULL. */
const struct coll_scrape_config *coll_config_scrape(const struct coll_config *cfg, const char *job);

/*
 * Expands the rule_files globs. Calls fn(path, ud) for each matching file in
 * glob order; a glob matching nothing is not an error (as Prometheus). Returns
 * the number of files, or a negative error from fn or a glob failure.
 */
int coll_config_rule_files(const struct coll_config *cfg, int (*fn)(const char *path, void *ud),
                           void *ud, struct pl_err *err);

/*
 * Parses a size as Prometheus's units.Base2Bytes: "10MB", "1.5MiB", "512KB",
 * "0" (KB, MB... are powers of 1024). Negative sizes give 0 (no limit).
 * OUT: *out. PL_ERR_INVALID with Prometheus's message ("units: unknown unit
 * XB in 10XB").
 */
int coll_size_parse(const char *s, uint64_t *out, struct pl_err *err);

#endif
