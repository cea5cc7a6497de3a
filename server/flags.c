/*
 * flags.c - `promlite server` flags (flags.h).
 *
 * Names, defaults and value syntax follow `prometheus --help` of 2.42, so
 * that service files written for Prometheus keep working.
 */
#include "server/flags.h"

#include "common/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const srv_flag_names[SRV_F_COUNT] = {
    [SRV_F_LISTEN] = "web.listen-address",
    [SRV_F_MAX_CONNECTIONS] = "web.max-connections",
    [SRV_F_TSDB_PATH] = "storage.tsdb.path",
    [SRV_F_RETENTION_TIME] = "storage.tsdb.retention.time",
    [SRV_F_RETENTION_SIZE] = "storage.tsdb.retention.size",
    [SRV_F_TSDB_SYNC] = "storage.tsdb.sync",
    [SRV_F_CONFIG_FILE] = "config.file",
    [SRV_F_LOOKBACK] = "query.lookback-delta",
    [SRV_F_QUERY_TIMEOUT] = "query.timeout",
    [SRV_F_MAX_SAMPLES] = "query.max-samples",
    [SRV_F_MAX_CONCURRENCY] = "query.max-concurrency",
    [SRV_F_REMOTE_WRITE] = "web.enable-remote-write-receiver",
    [SRV_F_ADMIN_API] = "web.enable-admin-api",
    [SRV_F_LIFECYCLE] = "web.enable-lifecycle",
    [SRV_F_LOG_LEVEL] = "log.level",
};

static const char *const defaults[SRV_F_COUNT] = {
    [SRV_F_LISTEN] = "0.0.0.0:9090", [SRV_F_MAX_CONNECTIONS] = "512",
    [SRV_F_TSDB_PATH] = "data/",     [SRV_F_RETENTION_TIME] = "15d",
    [SRV_F_RETENTION_SIZE] = "0B",   [SRV_F_TSDB_SYNC] = "batch",
    [SRV_F_CONFIG_FILE] = "",        [SRV_F_LOOKBACK] = "5m",
    [SRV_F_QUERY_TIMEOUT] = "2m",    [SRV_F_MAX_SAMPLES] = "50000000",
    [SRV_F_MAX_CONCURRENCY] = "20",  [SRV_F_REMOTE_WRITE] = "false",
    [SRV_F_ADMIN_API] = "false",     [SRV_F_LIFECYCLE] = "false",
    [SRV_F_LOG_LEVEL] = "info",
};

static const char *const helps[SRV_F_COUNT] = {
    [SRV_F_LISTEN] = "Address to listen on for the HTTP API (host:port, [ipv6]:port).",
    [SRV_F_MAX_CONNECTIONS] = "Maximum number of simultaneous connections (0: the most "
                              "promlite takes, 16384).",
    [SRV_F_TSDB_PATH] = "Base path for metrics storage.",
    [SRV_F_RETENTION_TIME] = "How long to retain samples in storage.",
    [SRV_F_RETENTION_SIZE] = "Maximum number of bytes that can be stored (512MB, 10GB; 0 = off).",
    [SRV_F_TSDB_SYNC] = "When appended batches are fsynced: batch, interval or none.",
    [SRV_F_CONFIG_FILE] = "Prometheus configuration file path (default: the embedded "
                          "configuration, scraping localhost:9090 and localhost:9100).",
    [SRV_F_LOOKBACK] = "The maximum lookback duration for retrieving metrics during expression "
                       "evaluations and federation.",
    [SRV_F_QUERY_TIMEOUT] = "Maximum time a query may take before being aborted.",
    [SRV_F_MAX_SAMPLES] = "Maximum number of samples a single query can load into memory.",
    [SRV_F_MAX_CONCURRENCY] = "Maximum number of queries executed concurrently.",
    [SRV_F_REMOTE_WRITE] = "Enable API endpoints accepting remote write requests and text "
                           "imports (/api/v1/write, /api/v1/import/prometheus).",
    [SRV_F_ADMIN_API] = "Enable API endpoints for admin control actions.",
    [SRV_F_LIFECYCLE] =
        "Enable shutdown and reload via HTTP request (POST /-/quit, POST /-/reload).",
    [SRV_F_LOG_LEVEL] = "Only log messages with the given severity or above: debug, info, warn, "
                        "error.",
};

static int is_bool(int id)
{
    return id == SRV_F_REMOTE_WRITE || id == SRV_F_ADMIN_API || id == SRV_F_LIFECYCLE;
}

void srv_flags_usage(FILE *out)
{
    fprintf(out, "usage: promlite [server] [<flags>]\n\nThe promlite monitoring server.\n\n"
                 "Flags:\n  -h, --help  Show this help.\n");
    for (int i = 0; i < SRV_F_COUNT; i++) {
        if (is_bool(i))
            fprintf(out, "  --[no-]%s\n      %s\n", srv_flag_names[i], helps[i]);
        else
            fprintf(out, "  --%s=\"%s\"\n      %s\n", srv_flag_names[i], defaults[i], helps[i]);
    }
}

int srv_size_parse(const char *s, uint64_t *out, struct pl_err *err)
{
    static const struct {
        const char *unit;
        int shift;
    } units[] = {{"B", 0},   {"KB", 10},  {"MB", 20},  {"GB", 30},  {"TB", 40},  {"PB", 50},
                 {"EB", 60}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"", 0}};
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return pl_err_set(err, PL_ERR_INVALID, "invalid size \"%s\"", s);
    errno = 0;
    char *end;
    unsigned long long n = strtoull(p, &end, 10);
    if (errno)
        return pl_err_set(err, PL_ERR_INVALID, "invalid size \"%s\"", s);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            if (units[i].shift && n > (UINT64_MAX >> units[i].shift))
                return pl_err_set(err, PL_ERR_INVALID, "size \"%s\" overflows", s);
            if (!units[i].unit[0] && n != 0)
                return pl_err_set(err, PL_ERR_INVALID,
                                  "invalid size \"%s\": missing unit (B, KB, MB, GB, TB)", s);
            *out = (uint64_t)n << units[i].shift;
            return 0;
        }
    }
    return pl_err_set(err, PL_ERR_INVALID, "invalid size \"%s\": unknown unit \"%s\"", s, end);
}

static int parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "1")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(v, "false") || !strcmp(v, "0")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int duration_flag(int id, const char *v, int64_t *out, int allow_zero, struct pl_err *err)
{
    if (pl_duration_parse(v, strlen(v), out, err))
        return pl_err_prefix(err, "--%s: ", srv_flag_names[id]);
    if (!allow_zero && *out <= 0)
        return pl_err_set(err, PL_ERR_INVALID, "--%s: must be greater than 0, got \"%s\"",
                          srv_flag_names[id], v);
    return 0;
}

static int uint_flag(int id, const char *v, uint64_t max, uint64_t *out, struct pl_err *err)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)v[0]))
        goto bad;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || n > max)
        goto bad;
    *out = n;
    return 0;
bad:
    return pl_err_set(err, PL_ERR_INVALID, "--%s: expected a number up to %llu, got \"%s\"",
                      srv_flag_names[id], (unsigned long long)max, v);
}

/* Turns the text of every flag into its parsed value. */
static int interpret(struct srv_flags *f, struct pl_err *err)
{
    const char *const *t = f->text;
    f->listen_address = t[SRV_F_LISTEN];
    uint64_t conns = 0;
    if (uint_flag(SRV_F_MAX_CONNECTIONS, t[SRV_F_MAX_CONNECTIONS], SRV_MAX_CONNECTIONS, &conns,
                  err))
        return err->code;
    f->max_connections = conns ? (int)conns : SRV_MAX_CONNECTIONS;
    f->tsdb_path = t[SRV_F_TSDB_PATH];
    if (!f->tsdb_path[0])
        return pl_err_set(err, PL_ERR_INVALID, "--storage.tsdb.path must not be empty");
    if (duration_flag(SRV_F_RETENTION_TIME, t[SRV_F_RETENTION_TIME], &f->retention_ms, 1, err))
        return err->code;
    if (f->retention_ms == 0)
        f->retention_ms = 15 * PL_MS_PER_DAY; /* Prometheus: 0 means the default */
    if (srv_size_parse(t[SRV_F_RETENTION_SIZE], &f->retention_bytes, err))
        return pl_err_prefix(err, "--storage.tsdb.retention.size: ");
    if (!strcmp(t[SRV_F_TSDB_SYNC], "batch"))
        f->sync = TSDB_SYNC_BATCH;
    else if (!strcmp(t[SRV_F_TSDB_SYNC], "interval"))
        f->sync = TSDB_SYNC_INTERVAL;
    else if (!strcmp(t[SRV_F_TSDB_SYNC], "none"))
        f->sync = TSDB_SYNC_NONE;
    else
        return pl_err_set(err, PL_ERR_INVALID,
                          "--storage.tsdb.sync: expected batch, interval or none, got \"%s\"",
                          t[SRV_F_TSDB_SYNC]);
    f->config_file = t[SRV_F_CONFIG_FILE][0] ? t[SRV_F_CONFIG_FILE] : NULL;
    if (duration_flag(SRV_F_LOOKBACK, t[SRV_F_LOOKBACK], &f->lookback_ms, 0, err))
        return err->code;
    if (duration_flag(SRV_F_QUERY_TIMEOUT, t[SRV_F_QUERY_TIMEOUT], &f->query_timeout_ms, 0, err))
        return err->code;
    if (uint_flag(SRV_F_MAX_SAMPLES, t[SRV_F_MAX_SAMPLES], UINT64_MAX, &f->max_samples, err))
        return err->code;
    uint64_t conc = 0;
    if (uint_flag(SRV_F_MAX_CONCURRENCY, t[SRV_F_MAX_CONCURRENCY], 1024, &conc, err))
        return err->code;
    if (conc == 0)
        return pl_err_set(err, PL_ERR_INVALID, "--query.max-concurrency must be at least 1");
    f->max_concurrency = (int)conc;
    int *bools[] = {[SRV_F_REMOTE_WRITE] = &f->remote_write_receiver,
                    [SRV_F_ADMIN_API] = &f->admin_api,
                    [SRV_F_LIFECYCLE] = &f->lifecycle};
    for (int i = SRV_F_REMOTE_WRITE; i <= SRV_F_LIFECYCLE; i++)
        if (parse_bool(t[i], bools[i]))
            return pl_err_set(err, PL_ERR_INVALID, "--%s: expected true or false, got \"%s\"",
                              srv_flag_names[i], t[i]);
    if (pl_log_level_parse(t[SRV_F_LOG_LEVEL], &f->log_level))
        return pl_err_set(err, PL_ERR_INVALID,
                          "--log.level: expected debug, info, warn or error, got \"%s\"",
                          t[SRV_F_LOG_LEVEL]);
    return 0;
}

static int find_flag(const char *name, size_t n)
{
    for (int i = 0; i < SRV_F_COUNT; i++)
        if (strlen(srv_flag_names[i]) == n && !strncmp(srv_flag_names[i], name, n))
            return i;
    return -1;
}

int srv_flags_parse(struct srv_flags *f, int argc, char **argv, struct pl_err *err)
{
    memset(f, 0, sizeof(*f));
    for (int i = 0; i < SRV_F_COUNT; i++)
        f->text[i] = defaults[i];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            f->help = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return pl_err_set(err, PL_ERR_INVALID, "unexpected argument \"%s\"", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        int id = find_flag(name, nlen);
        int negated = 0;
        if (id < 0 && nlen > 3 && !strncmp(name, "no-", 3)) {
            id = find_flag(name + 3, nlen - 3);
            negated = 1;
            if (id >= 0 && (!is_bool(id) || eq))
                return pl_err_set(err, PL_ERR_INVALID, "unknown long flag '--%.*s'", (int)nlen,
                                  name);
        }
        if (id < 0)
            return pl_err_set(err, PL_ERR_INVALID, "unknown long flag '--%.*s'", (int)nlen, name);
        if (is_bool(id)) {
            f->text[id] = negated ? "false" : eq ? eq + 1 : "true";
            continue;
        }
        if (eq) {
            f->text[id] = eq + 1;
        } else {
            if (i + 1 >= argc)
                return pl_err_set(err, PL_ERR_INVALID, "expected argument for flag '--%s'",
                                  srv_flag_names[id]);
            f->text[id] = argv[++i];
        }
    }
    if (f->help)
        return 0;
    return interpret(f, err);
}
