/*
 * flags.h - `promlite server` command-line flags, with Prometheus's names.
 *
 * Accepts `--flag=value` and `--flag value` (kingpin's forms, which
 * Prometheus uses), `--bool-flag`, `--bool-flag=false` and `--no-bool-flag`.
 * The mapping of flags to tsdb_options and query_engine_opts lives here and
 * nowhere else. Every flag keeps its text too, for /api/v1/status/flags.
 */
#ifndef SERVER_FLAGS_H
#define SERVER_FLAGS_H

#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "common/log.h"
#include "query/query.h"
#include "tsdb/tsdb.h"

enum srv_flag_id {
    SRV_F_LISTEN,
    SRV_F_MAX_CONNECTIONS,
    SRV_F_TSDB_PATH,
    SRV_F_RETENTION_TIME,
    SRV_F_RETENTION_SIZE,
    SRV_F_TSDB_SYNC,
    SRV_F_CONFIG_FILE,
    SRV_F_LOOKBACK,
    SRV_F_QUERY_TIMEOUT,
    SRV_F_MAX_SAMPLES,
    SRV_F_MAX_CONCURRENCY,
    SRV_F_REMOTE_WRITE,
    SRV_F_ADMIN_API,
    SRV_F_LIFECYCLE,
    SRV_F_LOG_LEVEL,
    SRV_F_COUNT
};

/* --web.max-connections=0 (no limit in Prometheus): a thread and an LMDB reader slot each. */
#define SRV_MAX_CONNECTIONS 16384

struct srv_flags {
    const char *text[SRV_F_COUNT]; /* each flag's value as given or defaulted (borrowed from argv or
                                      static) */
    /* Parsed values. */
    const char *listen_address;
    int max_connections; /* simultaneous HTTP connections (0 given: SRV_MAX_CONNECTIONS) */
    const char *tsdb_path;
    int64_t retention_ms;
    uint64_t retention_bytes;
    enum tsdb_sync sync;
    const char *config_file; /* NULL when not given */
    int64_t lookback_ms;
    int64_t query_timeout_ms;
    uint64_t max_samples;
    int max_concurrency;
    int remote_write_receiver;
    int admin_api;
    int lifecycle;
    enum pl_log_level log_level;
    int help; /* --help was given */
};

/* Flag names in srv_flag_id order, without the leading "--". */
extern const char *const srv_flag_names[SRV_F_COUNT];

/*
 * Parses argv[1..argc) (argv[0] is the subcommand). On a bad or unknown flag
 * returns PL_ERR_INVALID with a message; the caller prints it and exits 2.
 */
int srv_flags_parse(struct srv_flags *f, int argc, char **argv, struct pl_err *err);
void srv_flags_usage(FILE *out);

/* The one place flags become storage and engine options (options.c). */
void srv_flags_tsdb_options(const struct srv_flags *f, struct tsdb_options *o);
void srv_flags_query_opts(const struct srv_flags *f, struct query_engine_opts *o);

/* Parses a size such as "512MB", "1GB", "0" (base 1024, Prometheus's units). */
int srv_size_parse(const char *s, uint64_t *out, struct pl_err *err);

#endif
