/*
 * server.c - `promlite server`: flags, the HTTP API, the TSDB, and a clean
 * shutdown on SIGTERM/SIGINT.
 *
 * Start-up order makes readiness observable: the HTTP server listens first
 * (/-/healthy answers at once, /-/ready says 503), then a thread opens the
 * TSDB and replays its WAL, and only then does /-/ready turn 200 and the
 * data endpoints open. Signals are blocked in every thread and taken by the
 * main thread with sigtimedwait, so handlers never run inside MHD or LMDB.
 * The configuration (--config.file, or the embedded default that scrapes
 * localhost:9090 and :9100) is loaded before anything starts, so a bad file
 * fails the start as in Prometheus; the scrape manager starts once the TSDB
 * is open. SIGHUP and POST /-/reload reload it; a bad file is logged and the
 * running configuration stays.
 * Shutdown: stop accepting connections, let in-flight requests finish
 * (MHD_stop_daemon joins its threads), stop scraping, close the TSDB.
 */
#include "server/cli.h"

#include "collector/config.h"
#include "collector/scrape.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "server/srv_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Loads --config.file, or the embedded default. */
static int load_config(const struct srv *s, struct coll_config **out, struct pl_err *err)
{
    if (s->flags.config_file)
        return coll_config_load_file(s->flags.config_file, out, err);
    return coll_config_load_default(out, err);
}

static void log_config(const struct srv *s, const struct coll_config *cfg)
{
    char n[32];
    snprintf(n, sizeof(n), "%zu", cfg->nscrape);
    pl_log(PL_LOG_INFO, "main", "Completed loading of configuration file", "filename",
           s->flags.config_file ? s->flags.config_file : "<default>", "scrape_configs", n, NULL);
    for (size_t i = 0; i < cfg->nwarnings; i++)
        pl_log(PL_LOG_WARN, "main", cfg->warnings[i], NULL);
}

int srv__reload(struct srv *s, struct pl_err *err)
{
    pthread_mutex_lock(&s->reload_mu);
    struct coll_config *cfg = NULL;
    int rc = load_config(s, &cfg, err);
    if (rc == 0) {
        if (s->scrape) {
            rc = coll_scrape_manager_apply(s->scrape, cfg, err);
        } else {
            /* The TSDB is still opening: the opener applies the newest configuration. */
            coll_config_free(s->pending_config);
            s->pending_config = cfg;
        }
    }
    if (rc == 0) {
        atomic_store(&s->reload_ok, 1);
        atomic_store(&s->last_config_ms, pl_time_now_ms());
        pl_log(PL_LOG_INFO, "main", "Completed loading of configuration file", "filename",
               s->flags.config_file ? s->flags.config_file : "<default>", NULL);
    } else {
        atomic_store(&s->reload_ok, 0);
        pl_log(PL_LOG_ERROR, "main", "Error reloading config", "err", err->msg, NULL);
    }
    pthread_mutex_unlock(&s->reload_mu);
    return rc;
}

static void *open_tsdb(void *arg)
{
    struct srv *s = arg;
    struct tsdb_options o;
    srv_flags_tsdb_options(&s->flags, &o);
    struct pl_err err;
    pl_err_clear(&err);
    int64_t t0 = pl_mono_ns();
    struct tsdb *db = NULL;
    int rc = tsdb_open(&o, &db, &err);
    if (rc) {
        pl_log(PL_LOG_ERROR, "tsdb", "opening the storage failed", "path", o.path, "err",
               err.msg[0] ? err.msg : pl_err_str(rc), NULL);
        atomic_store(&s->open_failed, 1);
        kill(getpid(), SIGTERM);
        return NULL;
    }
    s->db = db;
    query_queryable_tsdb(db, &s->qq);
    /* Start scraping with the configuration loaded at start (or by a reload since). */
    pthread_mutex_lock(&s->reload_mu);
    struct coll_scrape_manager *m = NULL;
    struct coll_scrape_options so = {0};
    srv__metrics_scrape_options(s, &so);
    rc = coll_scrape_manager_new(db, &so, &m, &err);
    if (rc == 0) {
        struct coll_config *cfg = s->pending_config;
        s->pending_config = NULL;
        rc = coll_scrape_manager_apply(m, cfg, &err);
    }
    if (rc) {
        pthread_mutex_unlock(&s->reload_mu);
        coll_scrape_manager_free(m);
        pl_log(PL_LOG_ERROR, "scrape", "cannot start scraping", "err", err.msg, NULL);
        atomic_store(&s->open_failed, 1);
        kill(getpid(), SIGTERM);
        return NULL;
    }
    s->scrape = m;
    pthread_mutex_unlock(&s->reload_mu);
    atomic_store(&s->ready, 1);
    char ms[32];
    snprintf(ms, sizeof(ms), "%.3f", (double)(pl_mono_ns() - t0) / 1e6);
    pl_log(PL_LOG_INFO, "tsdb", "TSDB started; server is ready to receive web requests", "path",
           o.path, "duration_ms", ms, NULL);
    return NULL;
}

int srv_cmd_server(int argc, char **argv)
{
    static struct srv s; /* one server per process */
    struct pl_err err;
    pl_err_clear(&err);
    if (srv_flags_parse(&s.flags, argc, argv, &err)) {
        fprintf(stderr, "promlite: error: %s, try --help\n", err.msg);
        return 2;
    }
    if (s.flags.help) {
        srv_flags_usage(stdout);
        return 0;
    }
    pl_log_set_level(s.flags.log_level);
    s.start_time_ms = pl_time_now_ms();
    if (!getcwd(s.cwd, sizeof(s.cwd)))
        snprintf(s.cwd, sizeof(s.cwd), "<unknown>");

    /* Self-metrics are optional: the server runs without them if they fail. */
    srv__metrics_init(&s);

    struct query_engine_opts qo;
    srv_flags_query_opts(&s.flags, &qo);
    if (query_engine_new(&qo, &s.engine)) {
        pl_log(PL_LOG_ERROR, "main", "cannot create the query engine", NULL);
        return 1;
    }

    /* Block the signals we handle in every thread created from here on. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    pl_log(PL_LOG_INFO, "main", "Starting promlite", "version", PROMLITE_VERSION, NULL);
    pthread_mutex_init(&s.reload_mu, NULL);
    if (load_config(&s, &s.pending_config, &err)) {
        pl_log(PL_LOG_ERROR, "main", "Error loading config", "err", err.msg, NULL);
        srv__metrics_free(&s);
        return 1;
    }
    log_config(&s, s.pending_config);
    atomic_store(&s.reload_ok, 1);
    atomic_store(&s.last_config_ms, pl_time_now_ms());

    if (srv__http_start(&s, &err)) {
        pl_log(PL_LOG_ERROR, "web", "cannot start the web server", "err", err.msg, NULL);
        query_engine_free(s.engine);
        return 1;
    }
    char bound[300];
    if (srv__http_bound_address(bound, sizeof(bound)) != 0)
        snprintf(bound, sizeof(bound), "%s", s.flags.listen_address);
    pl_log(PL_LOG_INFO, "web", "Listening", "address", bound, NULL);

    pthread_t opener;
    if (pthread_create(&opener, NULL, open_tsdb, &s) != 0) {
        pl_log(PL_LOG_ERROR, "main", "cannot start the storage thread", NULL);
        srv__http_stop();
        query_engine_free(s.engine);
        return 1;
    }

    int sig = 0;
    for (;;) {
        sig = sigwaitinfo(&set, NULL);
        if (sig < 0 && errno == EINTR)
            continue;
        if (sig == SIGHUP) {
            struct pl_err rerr;
            pl_err_clear(&rerr);
            srv__reload(&s, &rerr);
            continue;
        }
        break;
    }
    int failed = atomic_load(&s.open_failed);
    int64_t t0 = pl_mono_ns();
    if (!failed)
        pl_log(PL_LOG_WARN, "main", "Received termination signal, exiting gracefully...", "signal",
               sig == SIGINT ? "interrupt" : "terminated", NULL);
    /*
     * Stop accepting, cancel running queries, give requests in progress up to
     * 5 s to be answered (a cancelled query answers 503), then stop MHD.
     */
    srv__http_quiesce();
    s.cancel_queries = 1;
    int left = srv__http_drain(5000);
    if (left > 0) {
        char n[16];
        snprintf(n, sizeof(n), "%d", left);
        pl_log(PL_LOG_WARN, "web", "closing connections with requests still in progress", "count",
               n, NULL);
    }
    srv__http_stop();
    /* No request runs any more. Scrapes stop before the TSDB closes, so their appends are done. */
    pthread_join(opener, NULL);
    coll_scrape_manager_free(s.scrape);
    s.scrape = NULL;
    coll_config_free(s.pending_config);
    s.pending_config = NULL;
    if (s.db) {
        tsdb_close(s.db);
        s.db = NULL;
    }
    query_engine_free(s.engine);
    srv__metrics_free(&s);
    char ms[32];
    snprintf(ms, sizeof(ms), "%.3f", (double)(pl_mono_ns() - t0) / 1e6);
    pl_log(PL_LOG_INFO, "main",
           failed ? "Stopped: the storage could not be opened" : "See you next time!",
           "shutdown_ms", ms, NULL);
    return failed ? 1 : 0;
}
