/*
 * scrape.c - the scrape manager (see scrape.h), after Prometheus 2.42
 * scrape/manager.go, scrape/scrape.go (scrapePool.Sync, scrapeLoop.append,
 * mutateSampleLabels, resolveConflictingExposedLabels, verifyLabelLimits,
 * the report series) and the staleness rules of
 * https://prometheus.io/docs/prometheus/2.42/querying/basics/#staleness.
 *
 * Locking: `lock` guards pools, targets and the current config and is held by
 * the scrape thread except while it sleeps in curl_multi_poll; `disc_lock`
 * guards the discovery providers and is held by the discovery thread while it
 * polls them (DNS may block there). apply() takes both, discovery first.
 * Configs replaced by apply() are retired and freed by the scrape thread once
 * no pool refers to them.
 */
#include "collector/scrape.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "collector/expfmt.h"
#include "collector/relabel.h"
#include "collector/scrape_cache.h"
#include "collector/sd.h"
#include "collector/target.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "tsdb/map_release.h"

/* How often the scrape thread unmaps the storage file's pages (tsdb_map_release). */
#define MAP_RELEASE_NS (2 * INT64_C(1000000000))

/* Body limit when the config sets none: far above any real exposition. */
#define DEFAULT_BODY_LIMIT (1ull << 30)
/* libcurl receive buffer per target (CURLOPT_BUFFERSIZE, at most 512 KiB before 7.88). */
#define SCRAPE_RECV_BUFFER (128L * 1024)

enum health { HEALTH_UNKNOWN, HEALTH_UP, HEALTH_DOWN };

static const char *const report_names[5] = {
    "up", "scrape_duration_seconds", "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling", "scrape_series_added"};

struct spool;

/*
 * A sample of the scrape being processed, appended once the scrape is
 * accepted, for a series appended by its labels (samples of series with a
 * ref are staged in rstage).
 */
struct staged {
    struct pl_labels *ls; /* owned; the labels of a series not yet stored */
    uint32_t ce;          /* its entry in the target's series cache */
    int is_new;           /* no sample of it was appended yet (scrape_series_added) */
    int64_t t;
    double v;
};

struct gdone;

struct starget {
    struct coll_target t;
    struct pl_labels *pub; /* labels stored with samples */
    struct pl_labels *report_ls[5];
    uint64_t report_ref[5]; /* their tsdb refs, 0 until appended */
    struct spool *pool;
    int64_t next_ms;
    CURL *easy;
    struct curl_slist *hdrs;
    struct pl_buf body;
    size_t last_body_len; /* of the previous scrape, to size the next body's buffer */
    int last_fmt;         /* enum coll_expfmt_format of the previous body, -1 before */
    int in_flight, body_over;
    size_t flight_idx; /* in m->flight while in_flight */
    int64_t start_ms, start_ns;
    int64_t stall_at_start_ns; /* m->stall_ns when the scrape started */
    char errbuf[CURL_ERROR_SIZE];
    int64_t prev_start_ns; /* start of the previous scrape, for the interval summary */
    uint64_t prepared_gen; /* m->cfg_gen the request options were set for (0: never) */
    char *tls_name;        /* tls_config.server_name the URL and connect_to were built for */
    char *tls_url;         /* t.url with the host replaced by tls_name */
    struct curl_slist *connect_to;
    enum health health;
    char last_error[512];
    int64_t last_scrape_ms;
    double last_duration;
    struct coll_scache cache;
    uint32_t iter, last_ok_iter;
    size_t ok_cache_n; /* cache entries after the last successful scrape */
    int keep;          /* sync bookkeeping */
};

/*
 * Counters of one job (coll_pool_stats), shared by the job's successive
 * pools and freed with the manager. Updated with relaxed atomics by the
 * scrape thread; read under stats_lock only, never the scrape lock.
 */
struct pstat {
    char *job;
    atomic_int configured;
    atomic_uint_least64_t scrapes[COLL_SCRAPE_NOUTCOMES];
    atomic_uint_least64_t dur[COLL_SCRAPE_DURATION_NBOUNDS + 1];
    atomic_uint_least64_t dur_sum_ns;
    atomic_uint_least64_t samples, series_added, ooo, dup, oob;
    atomic_uint_least64_t targets, discovered, syncs;
};

struct spool {
    char *job;
    struct pstat *st;                    /* owned by the manager */
    const struct coll_scrape_config *sc; /* in the manager's current config */
    struct coll_sd *sd;                  /* discovery side (disc_lock) */
    int force;                           /* rebuild targets at the next discovery pass */
    struct starget **targets;
    size_t ntargets, cap;
    struct pl_labels **dropped;
    size_t ndropped;
    /* Handed over by discovery (lock). */
    int has_pending;
    struct coll_target *pending;
    size_t npending;
    struct pl_labels **pending_dropped;
    size_t npending_dropped;
    int gone;     /* its job left the config */
    int was_gone; /* gone at a previous apply() already */
};

struct coll_scrape_manager {
    struct tsdb *db;
    char *user_agent;
    int immediate;
    pthread_mutex_t lock, disc_lock;
    struct coll_config *cfg;
    uint64_t cfg_gen; /* counts apply() calls: request options are set again after one */
    struct coll_config **retired;
    size_t nretired;
    struct spool **pools;
    size_t npools;
    CURLM *multi;
    pthread_t scrape_thr, disc_thr;
    int started;
    atomic_int stop;
    int wake[2]; /* wakes the discovery thread */
    /* Scrape-thread scratch. */
    struct coll_relabel_scratch scratch;
    struct pl_labels_builder lb;
    struct coll_expfmt_parser *parser[2];
    struct coll_scrape_stats stats;
    /*
     * The samples of the scrape being processed (stage_body): those of
     * series the cache knows a ref for in rstage (appended in one call, their
     * cache entries in rstage_ce, results in rstage_rc), the others in stage.
     * A series' later samples in a page are always in stage, so appending
     * rstage first keeps each series' samples in page order.
     */
    struct staged *stage;
    size_t nstage, stage_cap;
    struct tsdb_ref_sample *rstage;
    uint32_t *rstage_ce;
    int *rstage_rc;
    size_t nrstage, rstage_cap;
    struct pl_buf rekey; /* a cached key made a one-line page (key_labels) */
    /*
     * Group commit: scrapes ending within commit_delay_ms of the first share
     * one appender, committed at group_due_ns (group_flush); gdone lists
     * them for the per-scrape bookkeeping that follows the commit.
     */
    int64_t commit_delay_ms;
    struct tsdb_appender *group;
    int64_t group_due_ns;
    struct gdone *gdone;
    size_t ngdone, gdone_cap;
    int64_t map_released_ns; /* last tsdb_map_release (monotonic) */
    /*
     * Scrape deadlines are enforced here, not by libcurl: libcurl checks a
     * transfer's deadline before reading its socket, so a commit holding this
     * thread past it failed a target that had answered in time. flight lists
     * the transfers in progress; a deadline is the start plus scrape_timeout
     * plus the time this thread spent in commits and syncs meanwhile (stall_ns
     * counts it up); deadline_ns is at most the earliest (monotonic).
     */
    struct starget **flight;
    size_t nflight, flight_cap;
    int64_t stall_ns, deadline_ns;
    /*
     * No idle target is due before this (wall ms): the loop walks the
     * targets only then. A finished scrape lowers it to its target's next
     * slot; a change to the targets sets it to 0.
     */
    int64_t scan_due_ms;
    int (*commit_fault)(void *ud, size_t nscrapes);
    void *commit_fault_ud;
    int map_release_warned;
    /* Targets that went away, waiting for their end-of-run stale markers (target_retire). */
    struct starget **dying;
    size_t ndying;
    /* Per-job counters (coll_scrape_pools_foreach). */
    pthread_mutex_t stats_lock;
    struct pstat **pstats;
    size_t npstats;
    atomic_uint_least64_t reloads;
    void (*observe)(void *ud, enum coll_scrape_obs kind, const char *job, int64_t interval_ms,
                    double seconds);
    void *observe_ud;
};

const char *const coll_scrape_outcome_names[COLL_SCRAPE_NOUTCOMES] = {
    "success", "error", "timeout", "sample_limit", "body_size_limit"};

/* client_golang's DefBuckets plus 30 s and 60 s for long scrape timeouts. */
const double coll_scrape_duration_bounds[COLL_SCRAPE_DURATION_NBOUNDS] = {
    .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60};

#define RELAXED memory_order_relaxed

/* Timeouts beyond this (a day) are as good as none, and keep the nanoseconds from overflowing. */
#define TIMEOUT_MAX_MS (24 * 3600 * 1000LL)

static int64_t timeout_ms_of(const struct starget *t)
{
    return t->t.timeout_ms < TIMEOUT_MAX_MS ? t->t.timeout_ms : TIMEOUT_MAX_MS;
}

/* ---- the series cache (scrape_cache.h) ---- */

static int keep_seen(const struct coll_scache_ent *e, uint32_t iter)
{
    return e->seen == iter;
}

static int keep_live(const struct coll_scache_ent *e, uint32_t iter)
{
    return e->last_ok == iter;
}

static int keep_none(const struct coll_scache_ent *e, uint32_t iter)
{
    (void)e;
    (void)iter;
    return 0;
}

/* ---- helpers ---- */

/* Go's strconv.FormatFloat(seconds, 'f', -1, 64) for whole milliseconds. */
static void format_seconds(int64_t ms, char *out, size_t n)
{
    snprintf(out, n, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
    char *dot = strchr(out, '.');
    char *end = out + strlen(out);
    while (end > dot + 1 && end[-1] == '0')
        *--end = '\0';
    if (end == dot + 1)
        *dot = '\0';
}

static const char *status_text(long code)
{
    switch (code) {
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

/* Reads a secret file, trimmed of surrounding whitespace as Prometheus does. */
static int read_secret(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    size_t got = fread(out, 1, n - 1, f);
    fclose(f);
    out[got] = '\0';
    char *s = out;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\n' || s[l - 1] == '\r'))
        l--;
    memmove(out, s, l);
    out[l] = '\0';
    return 0;
}

static struct pl_labels *with_name(const struct pl_labels *pub, const char *name,
                                   struct pl_labels_builder *lb)
{
    pl_lb_reset_from(lb, pub);
    pl_lb_setz(lb, PL_METRIC_NAME, name);
    return pl_lb_labels(lb);
}

/* ---- targets ---- */

static size_t write_cb(char *p, size_t size, size_t nmemb, void *ud)
{
    struct starget *t = ud;
    size_t n = size * nmemb;
    /* Room for a body like the last one at once: no chain of reallocs and copies. */
    if (!t->body.data && t->last_body_len > n && t->last_body_len + 1 <= t->body.limit)
        (void)pl_buf_reserve(&t->body, t->last_body_len + 1);
    if (pl_buf_append(&t->body, p, n) != 0) {
        t->body_over = 1;
        return 0; /* aborts the transfer */
    }
    return n;
}

static struct starget *target_new(struct coll_scrape_manager *m, struct spool *p,
                                  struct coll_target *ct)
{
    struct starget *t = pl_xcalloc(1, sizeof(*t));
    t->t = *ct;
    memset(ct, 0, sizeof(*ct));
    t->pool = p;
    t->last_fmt = -1;
    t->pub = coll_target_public_labels(&t->t);
    for (int i = 0; i < 5; i++)
        t->report_ls[i] = with_name(t->pub, report_names[i], &m->lb);
    uint64_t limit = p->sc->body_size_limit ? p->sc->body_size_limit : DEFAULT_BODY_LIMIT;
    pl_buf_init(&t->body, (size_t)limit);
    /* A stable offset within the interval spreads targets over time. */
    int64_t now = pl_time_now_ms();
    int64_t iv = t->t.interval_ms;
    int64_t off = (int64_t)(t->t.hash % (uint64_t)iv);
    int64_t base = now - now % iv + off;
    t->next_ms = m->immediate ? now : (base < now ? base + iv : base);
    t->easy = curl_easy_init();
    if (!t->easy)
        abort();
    curl_easy_setopt(t->easy, CURLOPT_URL, t->t.url);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_USERAGENT, m->user_agent);
    /* Sends Accept-Encoding: gzip and decodes; body limits apply to decoded bytes. */
    curl_easy_setopt(t->easy, CURLOPT_ACCEPT_ENCODING, "gzip");
    /* A backstop only: scrape_timeout is enforced by flight_expire. */
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)(timeout_ms_of(t) + 60000));
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    /*
     * Prometheus 2.42 uses a proxy only when proxy_url says so, never one
     * from the environment; this also spares libcurl reading the proxy
     * variables on every request.
     */
    curl_easy_setopt(t->easy, CURLOPT_PROXY, "");
    curl_easy_setopt(t->easy, CURLOPT_NOPROXY, ""); /* no_proxy is not read either */
    /*
     * libcurl's default 16 KiB receive buffer takes a typical page (tens of
     * KiB) in several recv calls, write callbacks and poll wakeups; a larger
     * one takes it in one or two. Only the pages a body fills are touched.
     */
    curl_easy_setopt(t->easy, CURLOPT_BUFFERSIZE, SCRAPE_RECV_BUFFER);
    return t;
}

/*
 * tls_config.server_name: Go's tls.Config.ServerName is the name sent in SNI
 * and checked against the certificate while the connection still goes to
 * __address__. libcurl takes both from the URL's host, so the URL gets the
 * server name as its host, CURLOPT_CONNECT_TO sends the connection to the
 * target's real host and port, and a Host header keeps __address__ in the
 * request as Prometheus sends it. Rebuilt only when the name changes (a
 * reload). Returns 0, or -1 once when the URL cannot be rewritten (err
 * set; the target is then scraped by its address, so verification fails
 * unless the certificate names it).
 */
static int tls_name_apply(struct starget *t, const char *name, struct curl_slist **hdrs, char *err,
                          size_t errlen)
{
    int https = !strncmp(t->t.url, "https://", 8);
    if (!https || !*name) {
        if (t->tls_name) {
            curl_easy_setopt(t->easy, CURLOPT_URL, t->t.url);
            curl_easy_setopt(t->easy, CURLOPT_CONNECT_TO, NULL);
            curl_slist_free_all(t->connect_to);
            t->connect_to = NULL;
            free(t->tls_name);
            free(t->tls_url);
            t->tls_name = t->tls_url = NULL;
        }
        return 0;
    }
    if (!t->tls_name || strcmp(t->tls_name, name) != 0) {
        CURLU *u = curl_url();
        char *host = NULL, *port = NULL, *url = NULL;
        int ok = u && curl_url_set(u, CURLUPART_URL, t->t.url, 0) == CURLUE_OK &&
                 curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
                 curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
                 curl_url_set(u, CURLUPART_HOST, name, 0) == CURLUE_OK &&
                 curl_url_get(u, CURLUPART_URL, &url, 0) == CURLUE_OK;
        char line[1200];
        free(t->tls_name);
        free(t->tls_url);
        t->tls_name = pl_xstrdup(name);
        t->tls_url = NULL;
        curl_slist_free_all(t->connect_to);
        t->connect_to = NULL;
        if (ok) {
            /* The name's port is the target's: HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT. */
            snprintf(line, sizeof(line), "%s:%s:%s:%s", name, port, host, port);
            t->connect_to = curl_slist_append(NULL, line);
            t->tls_url = pl_xstrdup(url);
        }
        curl_easy_setopt(t->easy, CURLOPT_URL, ok ? t->tls_url : t->t.url);
        curl_easy_setopt(t->easy, CURLOPT_CONNECT_TO, t->connect_to);
        curl_free(host);
        curl_free(port);
        curl_free(url);
        curl_url_cleanup(u);
        if (!ok) {
            snprintf(err, errlen, "tls_config.server_name %.100s cannot be used with %.100s", name,
                     t->t.url);
            return -1;
        }
    }
    if (!t->tls_url)
        return 0;
    /* The authority of the original URL (__address__, as Go sends it). */
    const char *a = t->t.url + 8, *e = a + strcspn(a, "/?#");
    char line[1200];
    snprintf(line, sizeof(line), "Host: %.*s", (int)(e - a), a);
    *hdrs = curl_slist_append(*hdrs, line);
    return 0;
}

/* Per-scrape request options that depend on the pool's (possibly reloaded) config. */
static void target_prepare(struct coll_scrape_manager *m, struct starget *t)
{
    const struct coll_http_config *h = &t->pool->sc->http;
    CURL *e = t->easy;
    /* The options change only with the configuration, unless secrets are read from files. */
    int secret_files =
        (h->has_authorization && h->auth_credentials_file && *h->auth_credentials_file) ||
        (h->has_basic_auth && h->basic_password_file && *h->basic_password_file);
    if (t->prepared_gen == m->cfg_gen && !secret_files)
        return;
    t->prepared_gen = m->cfg_gen;
    /* A reload may change the limit of a kept target. */
    t->body.limit =
        (size_t)(t->pool->sc->body_size_limit ? t->pool->sc->body_size_limit : DEFAULT_BODY_LIMIT);
    curl_slist_free_all(t->hdrs);
    t->hdrs = NULL;
    char line[4200], secret[4096], secs[32];
    t->hdrs = curl_slist_append(t->hdrs, "Accept: " COLL_SCRAPE_ACCEPT);
    format_seconds(t->t.timeout_ms, secs, sizeof(secs));
    snprintf(line, sizeof(line), "X-Prometheus-Scrape-Timeout-Seconds: %s", secs);
    t->hdrs = curl_slist_append(t->hdrs, line);
    if (h->has_authorization) {
        const char *cred = h->auth_credentials;
        if (*h->auth_credentials_file) {
            if (read_secret(h->auth_credentials_file, secret, sizeof(secret)) == 0)
                cred = secret;
            else
                cred = "";
        }
        snprintf(line, sizeof(line), "Authorization: %s %s", h->auth_type, cred);
        t->hdrs = curl_slist_append(t->hdrs, line);
    }
    if (tls_name_apply(t, h->tls_server_name, &t->hdrs, t->errbuf, sizeof(t->errbuf)) != 0)
        pl_log(PL_LOG_WARN, "scrape", "Ignoring tls_config.server_name", "target", t->t.url, "err",
               t->errbuf, NULL);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->hdrs);
    if (h->has_basic_auth) {
        const char *pw = h->basic_password;
        if (*h->basic_password_file)
            pw = read_secret(h->basic_password_file, secret, sizeof(secret)) == 0 ? secret : "";
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, h->basic_username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, pw);
    }
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, (long)h->follow_redirects);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     h->enable_http2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
    if (*h->tls_ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->tls_ca_file);
    if (*h->tls_cert_file)
        curl_easy_setopt(e, CURLOPT_SSLCERT, h->tls_cert_file);
    if (*h->tls_key_file)
        curl_easy_setopt(e, CURLOPT_SSLKEY, h->tls_key_file);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, h->tls_insecure_skip_verify ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, h->tls_insecure_skip_verify ? 0L : 2L);
}

struct scrape_result {
    uint64_t scraped, post_relabel, added_series;
    uint64_t ooo, dup, oob; /* samples storage refused */
    uint64_t accepted;      /* appends storage took (the pool's samples counter) */
    int limit_hit;          /* sample_limit exceeded */
};

/* A scrape in the open group, waiting for the commit (group_flush). */
struct gdone {
    struct starget *t;
    double dur;
    int64_t ts;
    int ok; /* accepted (until the commit says otherwise) */
    enum coll_scrape_outcome outcome;
    struct scrape_result r;
    char err[512]; /* last: zeroing the fields before it clears err[0] too */
};

static inline void count_append(struct scrape_result *r, int arc)
{
    if (arc == 0) {
        r->accepted++;
        return;
    }
    r->ooo += arc == PL_ERR_OUT_OF_ORDER;
    r->dup += arc == PL_ERR_DUPLICATE;
    r->oob += arc == PL_ERR_TOO_OLD;
}

/*
 * Stale markers for the series of the last successful scrape: those not seen
 * in this one, or all of them when `all` (failed scrape, target gone).
 */
static void append_stale(struct tsdb_appender *a, struct starget *t, int64_t ts, int all,
                         int report, struct scrape_result *r)
{
    double stale = tsdb_stale_nan();
    for (uint32_t i = 0; t->last_ok_iter && i < t->cache.n; i++) {
        const struct coll_scache_ent *e = &t->cache.v[i];
        if (!e->dropped && e->last_ok == t->last_ok_iter && (all || e->seen != t->iter)) {
            int arc = tsdb_append_ref(a, e->ref, ts, stale);
            if (r)
                count_append(r, arc);
        }
    }
    if (report)
        for (int i = 0; i < 5; i++)
            tsdb_append(a, t->report_ls[i], ts, stale, NULL);
}

/* Writes stale markers for every series of a target that goes away, then frees it. */
static void flight_end(struct coll_scrape_manager *m, struct starget *t);

static void target_free(struct coll_scrape_manager *m, struct starget *t, int write_stale)
{
    flight_end(m, t);
    if (write_stale && t->health != HEALTH_UNKNOWN) {
        struct tsdb_appender *a;
        if (tsdb_appender_begin(m->db, &a) == 0) {
            int64_t ts = t->next_ms > t->last_scrape_ms ? t->next_ms : pl_time_now_ms();
            append_stale(a, t, ts, 1, 1, NULL);
            struct pl_err err;
            if (tsdb_appender_commit(a, NULL, &err) != 0)
                pl_log(PL_LOG_WARN, "scrape", "Writing stale markers failed", "target", t->t.url,
                       "err", err.msg, NULL);
        }
    }
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->hdrs);
    curl_slist_free_all(t->connect_to);
    free(t->tls_name);
    free(t->tls_url);
    pl_buf_fini(&t->body);
    coll_scache_fini(&t->cache);
    for (int i = 0; i < 5; i++)
        pl_labels_free(t->report_ls[i]);
    pl_labels_free(t->pub);
    coll_target_fini(&t->t);
    free(t);
}

/*
 * A target that went away (discovery change, reload, removed job) stops
 * scraping now; its stale markers wait, as Prometheus's end-of-run
 * staleness does, until one interval after its would-be next scrape, and are
 * stamped with that next-scrape time. A replacement target with the same
 * labels (say, a new scrape_interval) has appended newer samples by then, so
 * the markers are refused as out of order instead of hiding the new samples.
 */
static void target_retire(struct coll_scrape_manager *m, struct starget *t)
{
    flight_end(m, t);
    if (t->health == HEALTH_UNKNOWN) {
        target_free(m, t, 0);
        return;
    }
    m->dying = pl_xreallocarray(m->dying, m->ndying + 1, sizeof(*m->dying));
    m->dying[m->ndying++] = t;
}

/* Writes the end-of-run stale markers that are due, freeing their targets. */
static void reap_dying(struct coll_scrape_manager *m, int64_t now)
{
    size_t keep = 0;
    for (size_t i = 0; i < m->ndying; i++) {
        struct starget *t = m->dying[i];
        if (now >= t->next_ms + t->t.interval_ms)
            target_free(m, t, 1);
        else
            m->dying[keep++] = t;
    }
    m->ndying = keep;
}

/* ---- processing a scrape ---- */

/* mutateSampleLabels: the target's labels over the sample's (or under, with honor_labels). */
static void merge_target_labels(struct pl_labels_builder *lb, const struct pl_labels *pub,
                                int honor)
{
    if (honor) {
        for (uint32_t i = 0; i < pub->n; i++)
            if (!pl_lb_get(lb, pub->v[i].name, pub->v[i].name_len, NULL))
                pl_lb_set(lb, pub->v[i].name, pub->v[i].name_len, pub->v[i].value,
                          pub->v[i].value_len);
        return;
    }
    /* Conflicts move to exported_<name> (shortest names first), as Prometheus. */
    struct conflict {
        const struct pl_label *tl;
        char val[256];
        const char *vp;
        size_t vl;
        int heap;
    } cf[32];
    size_t ncf = 0;
    for (uint32_t i = 0; i < pub->n && ncf < 32; i++) {
        size_t vl;
        const char *v = pl_lb_get(lb, pub->v[i].name, pub->v[i].name_len, &vl);
        if (v) {
            cf[ncf].tl = &pub->v[i];
            cf[ncf].heap = vl >= sizeof(cf[0].val);
            char *dst = cf[ncf].heap ? pl_xmalloc(vl + 1) : cf[ncf].val;
            memcpy(dst, v, vl);
            dst[vl] = '\0';
            cf[ncf].vp = dst;
            cf[ncf].vl = vl;
            ncf++;
        }
    }
    /* A stable insertion sort by name length, as Prometheus's sort.SliceStable. */
    for (size_t i = 1; i < ncf; i++)
        for (size_t j = i; j > 0 && cf[j].tl->name_len < cf[j - 1].tl->name_len; j--) {
            struct conflict tmp = cf[j];
            cf[j] = cf[j - 1];
            cf[j - 1] = tmp;
            if (!cf[j].heap)
                cf[j].vp = cf[j].val;
            if (!cf[j - 1].heap)
                cf[j - 1].vp = cf[j - 1].val;
        }
    char names[32][512];
    size_t nlens[32];
    for (size_t i = 0; i < ncf; i++) {
        size_t nl = cf[i].tl->name_len;
        if (nl + 9 * 8 >= sizeof(names[0]))
            nl = sizeof(names[0]) - 9 * 8 - 1;
        memcpy(names[i], cf[i].tl->name, nl);
        nlens[i] = nl;
        for (int guard = 0; guard < 8; guard++) {
            memmove(names[i] + 9, names[i], nlens[i]);
            memcpy(names[i], "exported_", 9);
            nlens[i] += 9;
            int taken = pl_lb_get(lb, names[i], nlens[i], NULL) != NULL;
            for (uint32_t k = 0; k < pub->n && !taken; k++)
                taken =
                    pub->v[k].name_len == nlens[i] && !memcmp(pub->v[k].name, names[i], nlens[i]);
            for (size_t k = 0; k < i && !taken; k++)
                taken = nlens[k] == nlens[i] && !memcmp(names[k], names[i], nlens[i]);
            if (!taken)
                break;
        }
    }
    for (uint32_t i = 0; i < pub->n; i++)
        pl_lb_set(lb, pub->v[i].name, pub->v[i].name_len, pub->v[i].value, pub->v[i].value_len);
    for (size_t i = 0; i < ncf; i++) {
        pl_lb_set(lb, names[i], nlens[i], cf[i].vp, cf[i].vl);
        if (cf[i].heap)
            free((char *)cf[i].vp);
    }
}

static int check_label_limits(const struct coll_scrape_config *sc, const struct pl_labels *ls,
                              char *err, size_t errlen)
{
    const char *met = pl_labels_value(ls, PL_METRIC_NAME);
    if (sc->label_limit && ls->n > sc->label_limit) {
        snprintf(err, errlen,
                 "label_limit exceeded (metric: %.50s, number of labels: %u, limit: %llu)", met,
                 ls->n, (unsigned long long)sc->label_limit);
        return -1;
    }
    for (uint32_t i = 0; i < ls->n; i++) {
        const struct pl_label *l = &ls->v[i];
        if (sc->label_name_length_limit && l->name_len > sc->label_name_length_limit) {
            snprintf(err, errlen,
                     "label_name_length_limit exceeded (metric: %.50s, label name: %.50s, length: "
                     "%u, limit: %llu)",
                     met, l->name, l->name_len, (unsigned long long)sc->label_name_length_limit);
            return -1;
        }
        if (sc->label_value_length_limit && l->value_len > sc->label_value_length_limit) {
            snprintf(err, errlen,
                     "label_value_length_limit exceeded (metric: %.50s, label name: %.50s, value: "
                     "\"%.50s\", length: %u, limit: %llu)",
                     met, l->name, l->value, l->value_len,
                     (unsigned long long)sc->label_value_length_limit);
            return -1;
        }
    }
    return 0;
}

/*
 * The labels a sample gets stored with: the target's merged in (honor_labels
 * or `exported_`), then metric_relabel_configs. Returns 0 when relabeling
 * dropped the series, 1 with the labels in m->lb.
 */
static int sample_labels(struct coll_scrape_manager *m, struct starget *t,
                         const struct coll_expfmt_sample *s)
{
    const struct coll_scrape_config *sc = t->pool->sc;
    coll_expfmt_sample_to_builder(s, &m->lb);
    merge_target_labels(&m->lb, t->pub, sc->honor_labels);
    int kept = coll_relabel_apply(sc->metric_relabel, sc->nmetric_relabel, &m->lb, &m->scratch);
    return kept && m->lb.n > 0;
}

/*
 * The labels of a cached series whose tsdb reference went stale (the series
 * was deleted): its key is parsed again as a one-line page. OUT: *out (owned
 * by the caller). Returns 0, or -1 when the key no longer yields a series.
 */
static int key_labels(struct coll_scrape_manager *m, struct starget *t, const char *key,
                      size_t klen, struct pl_labels **out)
{
    pl_buf_reset(&m->rekey);
    if (pl_buf_append(&m->rekey, key, klen) != 0 || pl_buf_append(&m->rekey, " 0\n", 3) != 0)
        return -1;
    struct coll_expfmt_parser *p = m->parser[COLL_EXPFMT_PROMETHEUS];
    coll_expfmt_parser_reset(p, m->rekey.data, m->rekey.len);
    struct coll_expfmt_entry e;
    struct coll_expfmt_err perr;
    int rc;
    while ((rc = coll_expfmt_next(p, &e, &perr)) > 0)
        if (rc == COLL_EXPFMT_SAMPLE)
            break;
    if (rc != COLL_EXPFMT_SAMPLE || !sample_labels(m, t, &e.sample))
        return -1;
    *out = pl_lb_labels(&m->lb);
    return 0;
}

static void stage_clear(struct coll_scrape_manager *m)
{
    for (size_t i = 0; i < m->nstage; i++)
        pl_labels_free(m->stage[i].ls);
    m->nstage = 0;
    m->nrstage = 0;
}

static void rstage_push(struct coll_scrape_manager *m, uint64_t ref, uint32_t ce, int64_t t,
                        double v)
{
    if (m->nrstage == m->rstage_cap) {
        m->rstage_cap = m->rstage_cap ? m->rstage_cap * 2 : 1024;
        m->rstage = pl_xreallocarray(m->rstage, m->rstage_cap, sizeof(*m->rstage));
        m->rstage_ce = pl_xreallocarray(m->rstage_ce, m->rstage_cap, sizeof(*m->rstage_ce));
        m->rstage_rc = pl_xreallocarray(m->rstage_rc, m->rstage_cap, sizeof(*m->rstage_rc));
    }
    m->rstage[m->nrstage] = (struct tsdb_ref_sample){.ref = ref, .t = t, .v = v};
    m->rstage_ce[m->nrstage++] = ce;
}

static struct staged *stage_push(struct coll_scrape_manager *m)
{
    if (m->nstage == m->stage_cap) {
        m->stage_cap = m->stage_cap ? m->stage_cap * 2 : 1024;
        m->stage = pl_xreallocarray(m->stage, m->stage_cap, sizeof(*m->stage));
    }
    return &m->stage[m->nstage++];
}

/*
 * A rejected scrape: its staged samples go, but as in Prometheus (whose
 * scrape cache keeps the refs of a rolled-back append) the new series it
 * reached before the rejection count in its scrape_series_added, and are
 * not new again to the next scrape. Returns -1.
 */
static int stage_reject(struct coll_scrape_manager *m, struct starget *t, struct scrape_result *r,
                        uint64_t added)
{
    for (size_t i = 0; i < m->nstage; i++)
        if (m->stage[i].is_new)
            t->cache.v[m->stage[i].ce].added = 1;
    r->added_series = added;
    stage_clear(m);
    return -1;
}

/*
 * Parses body and stages its samples in m->stage: nothing reaches storage
 * until the whole scrape is accepted (scrapes share an appender, so one
 * cannot be rolled back alone). Returns 0, or -1 with err set when the whole
 * scrape must be rejected (parse error, sample limit, label limits); the
 * caller then clears the stage.
 */
static int stage_body(struct coll_scrape_manager *m, struct starget *t, const char *body,
                      size_t len, enum coll_expfmt_format fmt, int64_t ts, struct scrape_result *r,
                      char *err, size_t errlen)
{
    const struct coll_scrape_config *sc = t->pool->sc;
    struct coll_scache *c = &t->cache;
    struct coll_expfmt_parser *p = m->parser[fmt];
    coll_expfmt_parser_reset(p, body, len);
    coll_scache_begin(c);
    struct coll_expfmt_entry e;
    struct coll_expfmt_err perr;
    int rc, limit_hit = 0;
    uint64_t added = 0;
    /* Only text accepted by this format's parser may skip its label scan (expect below). */
    int hints = t->last_fmt == (int)fmt;
    t->last_fmt = (int)fmt;
    for (;;) {
        if (hints && c->cursor < c->n) {
            /* The page likely goes on as the last one did: labels need no second scan. */
            const struct coll_scache_ent *x = &c->v[c->cursor];
            if ((x->ref || x->dropped) && x->seen != t->iter && !x->multiline)
                coll_expfmt_expect(p, coll_scache_key(c, c->cursor), x->klen);
        }
        if ((rc = coll_expfmt_next(p, &e, &perr)) <= 0)
            break;
        if (rc != COLL_EXPFMT_SAMPLE)
            continue;
        const struct coll_expfmt_sample *s = &e.sample;
        r->scraped++;
        int64_t st = sc->honor_timestamps && s->has_ts ? s->ts_ms : ts;
        if (s->series.n > COLL_SCACHE_MAX_KEY) {
            snprintf(err, errlen, "series text of %zu bytes is too long", s->series.n);
            return stage_reject(m, t, r, added);
        }
        /* A matched hint is the cursor's entry (given to the parser above). */
        int64_t ci = s->hinted ? (int64_t)coll_scache_take(c)
                               : coll_scache_find(c, s->series.p, s->series.n);
        /* The same series twice in one body: its labels are built and it is appended as written. */
        int again = ci >= 0 && c->v[ci].seen == t->iter;
        if (ci >= 0 && !again) {
            struct coll_scache_ent *ce = &c->v[ci];
            ce->seen = t->iter;
            if (ce->dropped)
                continue;
            if (ce->ref) {
                r->post_relabel++;
                if (sc->sample_limit && r->post_relabel > sc->sample_limit) {
                    limit_hit = 1;
                    continue;
                }
                rstage_push(m, ce->ref, (uint32_t)ci, st, s->value);
                continue;
            }
        }
        int kept = sample_labels(m, t, s);
        if (ci < 0)
            ci = coll_scache_insert(c, s->series.p, s->series.n);
        struct coll_scache_ent *ce = &c->v[ci];
        /* As Prometheus's scrape cache: a series is new until a sample of it was appended. */
        int is_new = ce->ref == 0 && !ce->added;
        ce->seen = t->iter;
        if (!kept) {
            ce->dropped = 1;
            continue;
        }
        ce->dropped = 0;
        /* Label limits are checked before the sample counts (scrape.go's append loop). */
        struct pl_labels *ls = pl_lb_labels(&m->lb);
        if (check_label_limits(sc, ls, err, errlen) != 0) {
            pl_labels_free(ls);
            return stage_reject(m, t, r, added);
        }
        r->post_relabel++;
        if (sc->sample_limit && r->post_relabel > sc->sample_limit) {
            limit_hit = 1;
            pl_labels_free(ls);
            continue;
        }
        /* New series appended before the sample limit broke count, even in a rejected scrape. */
        if (is_new && !limit_hit)
            added++;
        *stage_push(m) =
            (struct staged){.ls = ls, .ce = (uint32_t)ci, .is_new = is_new, .t = st, .v = s->value};
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s", perr.msg);
        return stage_reject(m, t, r, added);
    }
    if (limit_hit) {
        r->limit_hit = 1;
        snprintf(err, errlen, "sample limit exceeded");
        return stage_reject(m, t, r, added);
    }
    return 0;
}

/* Appends by labels; the cache entry takes the series' ref once storage knows the series. */
static int append_labels(struct tsdb_appender *a, const struct pl_labels *ls, int64_t t, double v,
                         struct coll_scache_ent *ce, struct scrape_result *r)
{
    uint64_t ref = 0;
    int arc = tsdb_append(a, ls, t, v, &ref);
    count_append(r, arc);
    if (arc == 0 || arc == PL_ERR_OUT_OF_ORDER || arc == PL_ERR_DUPLICATE || arc == PL_ERR_TOO_OLD)
        ce->ref = ref;
    return arc;
}

/* Appends the staged samples of an accepted scrape into a and empties the stage. */
static void stage_apply(struct coll_scrape_manager *m, struct starget *t, struct tsdb_appender *a,
                        struct scrape_result *r)
{
    struct coll_scache *c = &t->cache;
    tsdb_append_refs(a, m->rstage, m->nrstage, m->rstage_rc);
    for (size_t i = 0; i < m->nrstage; i++) {
        int arc = m->rstage_rc[i];
        if (arc != PL_ERR_NOTFOUND) {
            count_append(r, arc);
            continue;
        }
        /* The series was deleted: append it by its labels, which makes it again. */
        uint32_t ci = m->rstage_ce[i];
        struct pl_labels *ls;
        if (key_labels(m, t, coll_scache_key(c, ci), c->v[ci].klen, &ls) != 0)
            continue;
        append_labels(a, ls, m->rstage[i].t, m->rstage[i].v, &c->v[ci], r);
        pl_labels_free(ls);
    }
    m->nrstage = 0;
    for (size_t i = 0; i < m->nstage; i++) {
        struct staged *sg = &m->stage[i];
        struct coll_scache_ent *ce = &c->v[sg->ce];
        /* A series listed twice in one page is new once. */
        int is_new = sg->is_new && ce->ref == 0;
        int arc = append_labels(a, sg->ls, sg->t, sg->v, ce, r);
        if (arc == 0 && is_new)
            r->added_series++;
        pl_labels_free(sg->ls);
        sg->ls = NULL;
    }
    m->nstage = 0;
}

static void append_report(struct tsdb_appender *a, struct starget *t, int64_t ts, int up,
                          double dur, struct scrape_result *r)
{
    double v[5] = {up ? 1 : 0, dur, (double)r->scraped, (double)r->post_relabel,
                   (double)r->added_series};
    for (int i = 0; i < 5; i++) {
        int arc =
            t->report_ref[i] ? tsdb_append_ref(a, t->report_ref[i], ts, v[i]) : PL_ERR_NOTFOUND;
        if (arc == PL_ERR_NOTFOUND)
            arc = tsdb_append(a, t->report_ls[i], ts, v[i], &t->report_ref[i]);
        count_append(r, arc);
    }
}

/* Counts one finished scrape in its pool's counters (lock-free). */
static void pool_count(struct pstat *ps, enum coll_scrape_outcome o, double dur,
                       const struct scrape_result *r)
{
    size_t b = 0;
    while (b < COLL_SCRAPE_DURATION_NBOUNDS && dur > coll_scrape_duration_bounds[b])
        b++;
    atomic_fetch_add_explicit(&ps->dur[b], 1, RELAXED);
    atomic_fetch_add_explicit(&ps->dur_sum_ns, (uint64_t)(dur * 1e9), RELAXED);
    if (r->ooo)
        atomic_fetch_add_explicit(&ps->ooo, r->ooo, RELAXED);
    if (r->dup)
        atomic_fetch_add_explicit(&ps->dup, r->dup, RELAXED);
    if (r->oob)
        atomic_fetch_add_explicit(&ps->oob, r->oob, RELAXED);
    /* Release: whoever sees these samples sees the TSDB's count that the commit raised before. */
    atomic_fetch_add_explicit(&ps->samples, r->accepted, memory_order_release);
    if (r->added_series)
        atomic_fetch_add_explicit(&ps->series_added, r->added_series, RELAXED);
    /* Last and with release: a reader that loads the scrape counts first (acquire) never sees a
     * scrape whose duration and samples are not in its figures yet (histogram count >= scrapes). */
    atomic_fetch_add_explicit(&ps->scrapes[o], 1, memory_order_release);
}

/*
 * Ends every scrape of the group: one commit for all of them (one WAL
 * record, one write transaction, one fsync with sync=batch), then each
 * scrape's target state and counters. A failed commit fails every scrape of
 * the group, each counted and reported on its own target.
 */
static void group_flush(struct coll_scrape_manager *m)
{
    if (!m->group)
        return;
    int64_t t0 = pl_mono_ns(); /* the time is added to m->stall_ns (flight_deadline) */
    struct tsdb_append_result res = {0};
    struct pl_err cerr;
    int failed;
    if (m->commit_fault && m->commit_fault(m->commit_fault_ud, m->ngdone)) {
        tsdb_appender_rollback(m->group);
        pl_err_set(&cerr, PL_ERR_IO, "injected commit failure");
        failed = 1;
    } else {
        failed = tsdb_appender_commit(m->group, &res, &cerr) != 0;
    }
    m->group = NULL;
    if (failed) {
        pl_log(PL_LOG_ERROR, "scrape", "Appending scrapes failed", "scrapes",
               m->ngdone == 1 ? m->gdone[0].t->t.url : "several", "err", cerr.msg, NULL);
    } else {
        m->stats.samples_appended += res.samples;
        m->stats.series_added += res.series_new;
    }
    for (size_t i = 0; i < m->ngdone; i++) {
        struct gdone *g = &m->gdone[i];
        struct starget *t = g->t;
        int ok = g->ok;
        if (failed) {
            /* Nothing of the scrape was stored: every series is new again to the next one. */
            coll_scache_filter(&t->cache, keep_none, 0);
            t->last_ok_iter = 0;
            memset(t->report_ref, 0, sizeof(t->report_ref));
            if (ok)
                snprintf(g->err, sizeof(g->err), "%s", cerr.msg);
            ok = 0;
            g->r.accepted = 0;
        }
        enum coll_scrape_outcome outcome = ok                                  ? COLL_SCRAPE_SUCCESS
                                           : g->outcome != COLL_SCRAPE_SUCCESS ? g->outcome
                                                                               : COLL_SCRAPE_ERROR;
        pool_count(t->pool->st, outcome, g->dur, &g->r);
        t->health = ok ? HEALTH_UP : HEALTH_DOWN;
        snprintf(t->last_error, sizeof(t->last_error), "%s", ok ? "" : g->err);
        t->last_scrape_ms = g->ts;
        t->last_duration = g->dur;
        if (ok)
            m->stats.scrapes_ok++;
        else
            m->stats.scrapes_failed++;
    }
    m->ngdone = 0;
    /*
     * The pages commits touch in the shared data file would otherwise stay
     * in the resident set (they are page cache either way); every couple of
     * seconds they are unmapped, which costs a minor fault per page touched
     * again.
     */
    int64_t now = pl_mono_ns();
    if (now - m->map_released_ns >= MAP_RELEASE_NS) {
        m->map_released_ns = now;
        int rc = tsdb_map_release(m->db);
        if (rc != 0 && !m->map_release_warned) {
            m->map_release_warned = 1;
            pl_log(PL_LOG_WARN, "scrape", "Releasing the storage map failed", "err", strerror(-rc),
                   NULL);
        }
        now = pl_mono_ns();
    }
    m->stall_ns += now - t0;
}

/* Takes a transfer in progress off libcurl and the flight list (nothing if none). */
static void flight_end(struct coll_scrape_manager *m, struct starget *t)
{
    if (!t->in_flight)
        return;
    curl_multi_remove_handle(m->multi, t->easy);
    t->in_flight = 0;
    struct starget *last = m->flight[--m->nflight];
    m->flight[t->flight_idx] = last;
    last->flight_idx = t->flight_idx;
}

/* The deadline of t's transfer, given the thread's stall total `stall_ns`. */
static int64_t flight_deadline(int64_t stall_ns, const struct starget *t)
{
    return t->start_ns + timeout_ms_of(t) * 1000000 + (stall_ns - t->stall_at_start_ns);
}

static void finish(struct coll_scrape_manager *m, struct starget *t, CURLcode code);

/*
 * Fails, as timed out, the transfers still in progress whose deadline had
 * passed when libcurl last read the sockets (`read_ns`, when the stall total
 * was `read_stall_ns`): an answer that had arrived by then was read and has
 * finished already. Stalls after that read (a commit in finish()) do not
 * count for this check.
 */
static void flight_expire(struct coll_scrape_manager *m, int64_t read_ns, int64_t read_stall_ns)
{
    if (read_ns < m->deadline_ns)
        return;
    int64_t next = INT64_MAX;
    /* Backwards: finish() moves the last entry, already looked at, into the hole. */
    for (size_t i = m->nflight; i-- > 0;) {
        struct starget *t = m->flight[i];
        int64_t d = flight_deadline(read_stall_ns, t);
        if (d <= read_ns)
            finish(m, t, CURLE_OPERATION_TIMEDOUT);
        else if (d < next)
            next = d;
    }
    m->deadline_ns = next;
}

static void finish(struct coll_scrape_manager *m, struct starget *t, CURLcode code)
{
    flight_end(m, t);
    if (t->next_ms < m->scan_due_ms)
        m->scan_due_ms = t->next_ms;
    int64_t now_ns = pl_mono_ns();
    double dur = (double)(now_ns - t->start_ns) / 1e9;
    if (m->observe && t->prev_start_ns)
        m->observe(m->observe_ud, COLL_SCRAPE_OBS_INTERVAL, t->pool->job, t->t.interval_ms,
                   (double)(t->start_ns - t->prev_start_ns) / 1e9);
    t->prev_start_ns = t->start_ns;
    if (!m->group) {
        if (tsdb_appender_begin(m->db, &m->group) != 0) {
            m->group = NULL;
            return;
        }
        /* Scrapes ending within the delay share the commit; a short interval shortens it. */
        int64_t delay =
            m->commit_delay_ms < t->t.interval_ms / 4 ? m->commit_delay_ms : t->t.interval_ms / 4;
        m->group_due_ns = now_ns + delay * 1000000;
    }
    if (m->ngdone == m->gdone_cap) {
        m->gdone_cap = m->gdone_cap ? m->gdone_cap * 2 : 16;
        m->gdone = pl_xreallocarray(m->gdone, m->gdone_cap, sizeof(*m->gdone));
    }
    struct gdone *g = &m->gdone[m->ngdone++];
    memset(g, 0, offsetof(struct gdone, err) + 1);
    g->t = t;
    g->dur = dur;
    g->ts = t->start_ms;
    char *err = g->err;
    size_t errlen = sizeof(g->err);
    if (code != CURLE_OK) {
        if (t->body_over)
            snprintf(err, errlen, "body size limit exceeded");
        else if (code == CURLE_OPERATION_TIMEDOUT)
            snprintf(err, errlen, "Get \"%s\": context deadline exceeded", t->t.url);
        else
            snprintf(err, errlen, "Get \"%s\": %s", t->t.url,
                     t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
    } else {
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200)
            snprintf(err, errlen, "server returned HTTP status %ld %s", status,
                     status_text(status));
    }
    struct scrape_result *r = &g->r;
    int64_t ts = t->start_ms;
    t->iter++;
    struct tsdb_appender *a = m->group;
    int ok = !err[0];
    if (ok) {
        char *ct = NULL;
        curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
        enum coll_expfmt_format fmt = ct && !strncmp(ct, "application/openmetrics-text", 28)
                                          ? COLL_EXPFMT_OPENMETRICS
                                          : COLL_EXPFMT_PROMETHEUS;
        ok = stage_body(m, t, t->body.data ? t->body.data : "", t->body.len, fmt, ts, r, err,
                        errlen) == 0;
    }
    if (!ok) {
        /*
         * The whole scrape is rejected: its staged samples go. As
         * Prometheus's scrape cache, series refs stay cached (a target that
         * recovers adds no series), and the live series this scrape did not
         * reach get stale markers: all of them when the request failed;
         * those absent from a rejected body, or after the point where it was
         * rejected. Live series the body did show stay live until the next
         * scrape.
         */
        stage_clear(m);
        uint32_t prev = t->last_ok_iter;
        append_stale(a, t, ts, 0, 0, r);
        int live = 0;
        for (uint32_t i = 0; prev && i < t->cache.n; i++) {
            struct coll_scache_ent *e = &t->cache.v[i];
            if (!e->dropped && e->last_ok == prev && e->seen == t->iter) {
                e->last_ok = t->iter;
                live = 1;
            }
        }
        t->last_ok_iter = live ? t->iter : 0;
        /* Failing scrapes with changing series must not grow the cache without bound. */
        if (t->cache.n > 2 * t->ok_cache_n + 1000)
            coll_scache_filter(&t->cache, live ? keep_live : keep_none, t->iter);
    } else {
        stage_apply(m, t, a, r);
        append_stale(a, t, ts, 0, 0, r);
        coll_scache_filter(&t->cache, keep_seen, t->iter);
        for (uint32_t i = 0; i < t->cache.n; i++)
            t->cache.v[i].last_ok = t->iter;
        t->last_ok_iter = t->iter;
        t->ok_cache_n = t->cache.n;
    }
    append_report(a, t, ts, ok, dur, r);
    g->ok = ok;
    g->outcome = ok                                 ? COLL_SCRAPE_SUCCESS
                 : t->body_over                     ? COLL_SCRAPE_BODY_SIZE_LIMIT
                 : code == CURLE_OPERATION_TIMEDOUT ? COLL_SCRAPE_TIMEOUT
                 : r->limit_hit                     ? COLL_SCRAPE_SAMPLE_LIMIT
                                                    : COLL_SCRAPE_ERROR;
    if (m->commit_delay_ms <= 0)
        group_flush(m);
    /*
     * Give the body back: scrapes are spread over the interval, so the
     * allocator reuses one target's buffer for the next instead of every
     * target pinning its largest body.
     */
    size_t lim = t->body.limit;
    t->last_body_len = t->body.len;
    pl_buf_fini(&t->body);
    pl_buf_init(&t->body, lim);
}

static void start(struct coll_scrape_manager *m, struct starget *t, int64_t now)
{
    target_prepare(m, t);
    pl_buf_reset(&t->body);
    t->body_over = 0;
    t->errbuf[0] = '\0';
    t->start_ms = now;
    t->start_ns = pl_mono_ns();
    t->stall_at_start_ns = m->stall_ns;
    if (m->nflight == m->flight_cap) {
        m->flight_cap = m->flight_cap ? m->flight_cap * 2 : 16;
        m->flight = pl_xreallocarray(m->flight, m->flight_cap, sizeof(*m->flight));
    }
    t->flight_idx = m->nflight;
    m->flight[m->nflight++] = t;
    t->in_flight = 1;
    int64_t d = flight_deadline(m->stall_ns, t);
    if (d < m->deadline_ns)
        m->deadline_ns = d;
    curl_multi_add_handle(m->multi, t->easy);
    int64_t iv = t->t.interval_ms;
    t->next_ms += iv;
    if (t->next_ms <= now) /* we fell behind: skip missed slots, keep the phase */
        t->next_ms += ((now - t->next_ms) / iv + 1) * iv;
}

/* ---- pools: syncing targets (scrape thread, under lock) ---- */

static int cmp_target_hash(const void *a, const void *b)
{
    const struct starget *x = *(struct starget *const *)a, *y = *(struct starget *const *)b;
    return x->t.hash < y->t.hash ? -1 : x->t.hash > y->t.hash;
}

static int cmp_pending_hash(const void *a, const void *b)
{
    const struct coll_target *x = a, *y = b;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

static void pool_free_dropped(struct pl_labels **d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pl_labels_free(d[i]);
    free(d);
}

static void pool_sync(struct coll_scrape_manager *m, struct spool *p)
{
    uint64_t ndisc = p->npending + p->npending_dropped;
    if (p->ntargets)
        qsort(p->targets, p->ntargets, sizeof(*p->targets), cmp_target_hash);
    for (size_t i = 0; i < p->ntargets; i++)
        p->targets[i]->keep = 0;
    struct starget **nt = pl_xcalloc(p->npending + 1, sizeof(*nt));
    size_t nn = 0;
    /* Sorted by hash, identical targets (same labels and URL) are neighbours. */
    if (p->npending)
        qsort(p->pending, p->npending, sizeof(*p->pending), cmp_pending_hash);
    uint64_t prev = 0;
    for (size_t i = 0; i < p->npending; i++) {
        struct coll_target *ct = &p->pending[i];
        if (i > 0 && ct->hash == prev) {
            coll_target_fini(ct);
            continue;
        }
        prev = ct->hash;
        struct starget key = {.t = {.hash = ct->hash}}, *kp = &key;
        struct starget **found = p->ntargets ? bsearch(&kp, p->targets, p->ntargets,
                                                       sizeof(*p->targets), cmp_target_hash)
                                             : NULL;
        if (found && !(*found)->keep) {
            (*found)->keep = 1;
            nt[nn++] = *found;
            coll_target_fini(ct);
            continue;
        }
        struct starget *t = target_new(m, p, ct);
        t->keep = 1;
        nt[nn++] = t;
    }
    for (size_t i = 0; i < p->ntargets; i++)
        if (!p->targets[i]->keep)
            target_retire(m, p->targets[i]);
    free(p->targets);
    p->targets = nt;
    p->ntargets = nn;
    p->cap = p->npending + 1;
    free(p->pending);
    p->pending = NULL;
    p->npending = 0;
    pool_free_dropped(p->dropped, p->ndropped);
    p->dropped = p->pending_dropped;
    p->ndropped = p->npending_dropped;
    p->pending_dropped = NULL;
    p->npending_dropped = 0;
    p->has_pending = 0;
    atomic_store_explicit(&p->st->targets, nn, RELAXED);
    atomic_store_explicit(&p->st->discovered, ndisc, RELAXED);
    atomic_fetch_add_explicit(&p->st->syncs, 1, RELAXED);
}

static void pool_free(struct coll_scrape_manager *m, struct spool *p, int write_stale)
{
    for (size_t i = 0; i < p->ntargets; i++)
        target_free(m, p->targets[i], write_stale);
    free(p->targets);
    for (size_t i = 0; i < p->npending; i++)
        coll_target_fini(&p->pending[i]);
    free(p->pending);
    pool_free_dropped(p->dropped, p->ndropped);
    pool_free_dropped(p->pending_dropped, p->npending_dropped);
    coll_sd_free(p->sd);
    free(p->job);
    free(p);
}

/* Applies what discovery and reloads handed over. */
static void sync_all(struct coll_scrape_manager *m)
{
    /*
     * Targets may be freed below, and stale markers of targets going away
     * must follow their last samples: the open group commits first.
     */
    int changes = m->nretired != 0;
    int64_t now = pl_time_now_ms();
    for (size_t i = 0; i < m->ndying && !changes; i++)
        changes = now >= m->dying[i]->next_ms + m->dying[i]->t.interval_ms;
    for (size_t i = 0; i < m->npools && !changes; i++)
        changes = (m->pools[i]->gone && m->pools[i]->ntargets) || m->pools[i]->has_pending;
    if (changes) {
        group_flush(m);
        m->scan_due_ms = 0; /* targets may come or go: walk them on this round */
    }
    for (size_t i = 0; i < m->npools; i++) {
        struct spool *p = m->pools[i];
        if (p->gone) {
            /*
             * The discovery thread may be walking the pool array (it holds
             * only disc_lock), so the struct stays listed until the next
             * apply() removes it; its targets go now, with stale markers.
             */
            for (size_t k = 0; k < p->ntargets; k++)
                target_retire(m, p->targets[k]);
            p->ntargets = 0;
            atomic_store_explicit(&p->st->targets, 0, RELAXED);
            continue;
        }
        if (p->has_pending) {
            int64_t t0 = pl_mono_ns();
            pool_sync(m, p);
            if (m->observe)
                m->observe(m->observe_ud, COLL_SCRAPE_OBS_SYNC, p->job, 0,
                           (double)(pl_mono_ns() - t0) / 1e9);
        }
    }
    for (size_t i = 0; i < m->nretired; i++)
        coll_config_free(m->retired[i]);
    m->nretired = 0;
    if (m->ndying)
        reap_dying(m, pl_time_now_ms());
    uint64_t active = 0, dropped = 0;
    for (size_t i = 0; i < m->npools; i++) {
        active += m->pools[i]->ntargets;
        dropped += m->pools[i]->ndropped;
    }
    /* Keep one idle connection per target: reconnecting every scrape costs CPU. */
    if (active != m->stats.targets_active)
        curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)(active + 16));
    m->stats.targets_active = active;
    m->stats.targets_dropped = dropped;
}

/* ---- threads ---- */

static void *scrape_main(void *arg)
{
    struct coll_scrape_manager *m = arg;
    while (!atomic_load(&m->stop)) {
        pthread_mutex_lock(&m->lock);
        /* All of it counts, including its commits (which group_flush counted already). */
        int64_t t0 = pl_mono_ns(), s0 = m->stall_ns;
        sync_all(m);
        m->stall_ns = s0 + (pl_mono_ns() - t0);
        int64_t now = pl_time_now_ms();
        if (now >= m->scan_due_ms) {
            int64_t next = now + 1000;
            for (size_t i = 0; i < m->npools; i++)
                for (size_t k = 0; k < m->pools[i]->ntargets; k++) {
                    struct starget *t = m->pools[i]->targets[k];
                    if (!t->in_flight && t->next_ms <= now)
                        start(m, t, now);
                    if (!t->in_flight && t->next_ms < next)
                        next = t->next_ms;
                }
            m->scan_due_ms = next;
        }
        int64_t due = m->scan_due_ms;
        int64_t group_due_ms = INT64_MAX;
        int64_t mono = pl_mono_ns();
        if (m->group)
            group_due_ms = now + (m->group_due_ns - mono + 999999) / 1000000;
        int64_t deadline_ms = INT64_MAX;
        if (m->nflight)
            deadline_ms =
                now + (m->deadline_ns > mono ? (m->deadline_ns - mono + 999999) / 1000000 : 0);
        pthread_mutex_unlock(&m->lock);
        if (group_due_ms < due)
            due = group_due_ms;
        if (deadline_ms < due)
            due = deadline_ms;
        int wait = (int)(due > now ? due - now : 0);
        if (wait > 1000)
            wait = 1000;
        curl_multi_poll(m->multi, NULL, 0, wait, NULL);
        pthread_mutex_lock(&m->lock);
        int running;
        int64_t read_ns = pl_mono_ns(), read_stall_ns = m->stall_ns;
        curl_multi_perform(m->multi, &running);
        /* Parsing and appending what finished holds the thread too (commits included). */
        int64_t t1 = pl_mono_ns();
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct starget *t = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            if (t)
                finish(m, t, msg->data.result);
        }
        flight_expire(m, read_ns, read_stall_ns);
        m->stall_ns = read_stall_ns + (pl_mono_ns() - t1);
        if (m->group && pl_mono_ns() >= m->group_due_ns)
            group_flush(m);
        pthread_mutex_unlock(&m->lock);
    }
    pthread_mutex_lock(&m->lock);
    group_flush(m);
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

struct collect {
    struct coll_target *v;
    size_t n, cap;
    struct pl_labels **d;
    size_t nd, capd;
};

static void collect_target(struct coll_target *t, void *ud)
{
    struct collect *c = ud;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = pl_xreallocarray(c->v, c->cap, sizeof(*c->v));
    }
    c->v[c->n++] = *t;
}

static void collect_dropped(const struct pl_labels *d, void *ud)
{
    struct collect *c = ud;
    if (c->nd == c->capd) {
        c->capd = c->capd ? c->capd * 2 : 16;
        c->d = pl_xreallocarray(c->d, c->capd, sizeof(*c->d));
    }
    c->d[c->nd++] = pl_labels_dup(d);
}

struct group_ctx {
    const struct coll_scrape_config *sc;
    struct coll_relabel_scratch *s;
    struct collect *c;
};

static void build_group(const struct coll_target_group *g, void *ud)
{
    struct group_ctx *gc = ud;
    struct pl_err err;
    if (coll_targets_from_group(gc->sc, g, gc->s, collect_target, collect_dropped, gc->c, &err))
        pl_log(PL_LOG_ERROR, "scrape", "Creating target failed", "scrape_pool", gc->sc->job_name,
               "err", err.msg, NULL);
}

static void *discovery_main(void *arg)
{
    struct coll_scrape_manager *m = arg;
    struct coll_relabel_scratch s;
    coll_relabel_scratch_init(&s);
    while (!atomic_load(&m->stop)) {
        pthread_mutex_lock(&m->disc_lock);
        int64_t now = pl_time_now_ms();
        int64_t due = now + 5000;
        struct pollfd fds[65];
        nfds_t nfds = 0;
        fds[nfds++] = (struct pollfd){.fd = m->wake[0], .events = POLLIN};
        for (size_t i = 0; i < m->npools; i++) {
            struct spool *p = m->pools[i];
            if (p->gone || !p->sd)
                continue;
            int changed = coll_sd_poll(p->sd, now);
            if (changed || p->force) {
                struct collect c = {0};
                struct group_ctx gc = {p->sc, &s, &c};
                coll_sd_foreach(p->sd, build_group, &gc);
                pthread_mutex_lock(&m->lock);
                for (size_t k = 0; k < p->npending; k++)
                    coll_target_fini(&p->pending[k]);
                free(p->pending);
                pool_free_dropped(p->pending_dropped, p->npending_dropped);
                p->pending = c.v;
                p->npending = c.n;
                p->pending_dropped = c.d;
                p->npending_dropped = c.nd;
                p->has_pending = 1;
                p->force = 0;
                pthread_mutex_unlock(&m->lock);
                curl_multi_wakeup(m->multi);
            }
            int64_t d = coll_sd_next_due(p->sd);
            if (d < due)
                due = d;
            int sfd[4];
            size_t nf = coll_sd_fds(p->sd, sfd, 4);
            for (size_t k = 0; k < nf && nfds < 65; k++)
                fds[nfds++] = (struct pollfd){.fd = sfd[k], .events = POLLIN};
        }
        pthread_mutex_unlock(&m->disc_lock);
        now = pl_time_now_ms();
        int wait = (int)(due > now ? due - now : 0);
        if (wait > 5000)
            wait = 5000;
        if (poll(fds, nfds, wait) > 0 && (fds[0].revents & POLLIN)) {
            char buf[64];
            while (read(m->wake[0], buf, sizeof(buf)) > 0)
                ;
        }
    }
    coll_relabel_scratch_fini(&s);
    return NULL;
}

/* ---- public API ---- */

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int coll_scrape_manager_new(struct tsdb *db, const struct coll_scrape_options *opt,
                            struct coll_scrape_manager **out, struct pl_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_init_once);
    struct coll_scrape_manager *m = pl_xcalloc(1, sizeof(*m));
    m->db = db;
    m->user_agent = pl_xstrdup(opt && opt->user_agent ? opt->user_agent : "promlite");
    m->immediate = opt ? opt->scrape_immediately : 0;
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->disc_lock, NULL);
    pthread_mutex_init(&m->stats_lock, NULL);
    if (opt) {
        m->observe = opt->observe;
        m->observe_ud = opt->observe_ud;
    }
    m->multi = curl_multi_init();
    if (!m->multi || pipe(m->wake) != 0) {
        if (m->multi)
            curl_multi_cleanup(m->multi);
        free(m->user_agent);
        free(m);
        return pl_err_set(err, PL_ERR_IO,
                          "scrape manager: cannot create curl multi handle or pipe");
    }
    for (int i = 0; i < 2; i++)
        fcntl(m->wake[i], F_SETFL, fcntl(m->wake[i], F_GETFL) | O_NONBLOCK);
    coll_relabel_scratch_init(&m->scratch);
    pl_lb_init(&m->lb);
    m->parser[COLL_EXPFMT_PROMETHEUS] = coll_expfmt_parser_new(COLL_EXPFMT_PROMETHEUS, 0);
    m->parser[COLL_EXPFMT_OPENMETRICS] = coll_expfmt_parser_new(COLL_EXPFMT_OPENMETRICS, 0);
    m->commit_delay_ms = opt && opt->commit_delay_ms ? opt->commit_delay_ms : 250;
    m->deadline_ns = INT64_MAX;
    if (opt) {
        m->commit_fault = opt->commit_fault;
        m->commit_fault_ud = opt->commit_fault_ud;
    }
    pl_buf_init(&m->rekey, DEFAULT_BODY_LIMIT);
    *out = m;
    return 0;
}

/* The counters of `job`, created on first use (stats_lock). */
static struct pstat *pstat_get(struct coll_scrape_manager *m, const char *job)
{
    pthread_mutex_lock(&m->stats_lock);
    struct pstat *ps = NULL;
    for (size_t i = 0; i < m->npstats && !ps; i++)
        if (!strcmp(m->pstats[i]->job, job))
            ps = m->pstats[i];
    if (!ps) {
        ps = pl_xcalloc(1, sizeof(*ps));
        ps->job = pl_xstrdup(job);
        m->pstats = pl_xreallocarray(m->pstats, m->npstats + 1, sizeof(*m->pstats));
        m->pstats[m->npstats++] = ps;
    }
    pthread_mutex_unlock(&m->stats_lock);
    return ps;
}

static void wake_discovery(struct coll_scrape_manager *m)
{
    char c = 1;
    ssize_t w = write(m->wake[1], &c, 1);
    (void)w; /* a full pipe already wakes it */
}

int coll_scrape_manager_apply(struct coll_scrape_manager *m, struct coll_config *cfg,
                              struct pl_err *err)
{
    pthread_mutex_lock(&m->disc_lock);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->npools; i++)
        m->pools[i]->gone = 1;
    struct spool **np = pl_xcalloc(cfg->nscrape + m->npools + 1, sizeof(*np));
    size_t nn = 0;
    for (size_t i = 0; i < cfg->nscrape; i++) {
        const struct coll_scrape_config *sc = &cfg->scrape_configs[i];
        struct spool *p = NULL;
        for (size_t k = 0; k < m->npools && !p; k++)
            if (!strcmp(m->pools[k]->job, sc->job_name))
                p = m->pools[k];
        if (!p) {
            p = pl_xcalloc(1, sizeof(*p));
            p->job = pl_xstrdup(sc->job_name);
            p->st = pstat_get(m, sc->job_name);
        } else {
            atomic_fetch_add_explicit(&m->reloads, 1, RELAXED);
        }
        p->gone = p->was_gone = 0;
        p->sc = sc;
        coll_sd_free(p->sd);
        p->sd = NULL;
        struct pl_err e;
        if (coll_sd_new(sc->static_configs, sc->nstatic, sc->file_sd, sc->nfile_sd, sc->dns_sd,
                        sc->ndns_sd, &p->sd, &e) != 0)
            pl_log(PL_LOG_ERROR, "scrape", "Creating discovery failed", "scrape_pool", sc->job_name,
                   "err", e.msg, NULL);
        p->force = 1;
        np[nn++] = p;
    }
    /*
     * Pools of removed jobs stay listed (gone) until the scrape thread has
     * written their stale markers; ones it already emptied are freed here.
     */
    for (size_t i = 0; i < m->npools; i++) {
        struct spool *p = m->pools[i];
        if (!p->gone)
            continue;
        if (p->was_gone && p->ntargets == 0) {
            pool_free(m, p, 0);
            continue;
        }
        p->was_gone = 1;
        coll_sd_free(p->sd);
        p->sd = NULL;
        np[nn++] = p;
    }
    free(m->pools);
    m->pools = np;
    m->npools = nn;
    /* Readers of the counters see the jobs of one configuration or the other, never a mix. */
    pthread_mutex_lock(&m->stats_lock);
    for (size_t i = 0; i < m->npstats; i++)
        atomic_store(&m->pstats[i]->configured, 0);
    for (size_t i = 0; i < nn; i++)
        if (!np[i]->gone)
            atomic_store(&np[i]->st->configured, 1);
    pthread_mutex_unlock(&m->stats_lock);
    if (m->cfg) {
        m->retired = pl_xreallocarray(m->retired, m->nretired + 1, sizeof(*m->retired));
        m->retired[m->nretired++] = m->cfg;
    }
    m->cfg = cfg;
    m->cfg_gen++;
    int rc = 0;
    if (!m->started) {
        if (pthread_create(&m->scrape_thr, NULL, scrape_main, m) != 0) {
            rc = pl_err_set(err, PL_ERR_IO, "cannot start the scrape thread");
        } else if (pthread_create(&m->disc_thr, NULL, discovery_main, m) != 0) {
            atomic_store(&m->stop, 1);
            curl_multi_wakeup(m->multi);
            pthread_mutex_unlock(&m->lock);
            pthread_mutex_unlock(&m->disc_lock);
            pthread_join(m->scrape_thr, NULL);
            atomic_store(&m->stop, 0);
            return pl_err_set(err, PL_ERR_IO, "cannot start the discovery thread");
        } else {
            m->started = 1;
        }
    }
    pthread_mutex_unlock(&m->lock);
    pthread_mutex_unlock(&m->disc_lock);
    wake_discovery(m);
    curl_multi_wakeup(m->multi);
    return rc;
}

void coll_scrape_manager_free(struct coll_scrape_manager *m)
{
    if (!m)
        return;
    atomic_store(&m->stop, 1);
    if (m->started) {
        wake_discovery(m);
        curl_multi_wakeup(m->multi);
        pthread_join(m->disc_thr, NULL);
        pthread_join(m->scrape_thr, NULL);
    }
    /* Shutdown is not a target going away: no stale markers (as Prometheus). */
    for (size_t i = 0; i < m->npools; i++)
        pool_free(m, m->pools[i], 0);
    for (size_t i = 0; i < m->ndying; i++)
        target_free(m, m->dying[i], 0);
    free(m->dying);
    free(m->pools);
    for (size_t i = 0; i < m->nretired; i++)
        coll_config_free(m->retired[i]);
    free(m->retired);
    coll_config_free(m->cfg);
    curl_multi_cleanup(m->multi);
    close(m->wake[0]);
    close(m->wake[1]);
    coll_relabel_scratch_fini(&m->scratch);
    pl_lb_fini(&m->lb);
    coll_expfmt_parser_free(m->parser[0]);
    coll_expfmt_parser_free(m->parser[1]);
    stage_clear(m);
    free(m->stage);
    free(m->rstage);
    free(m->rstage_ce);
    free(m->rstage_rc);
    free(m->gdone);
    free(m->flight);
    pl_buf_fini(&m->rekey);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->disc_lock);
    for (size_t i = 0; i < m->npstats; i++) {
        free(m->pstats[i]->job);
        free(m->pstats[i]);
    }
    free(m->pstats);
    pthread_mutex_destroy(&m->stats_lock);
    free(m->user_agent);
    free(m);
}

static json_t *labels_json(const struct pl_labels *ls)
{
    json_t *o = json_object();
    for (uint32_t i = 0; i < ls->n; i++)
        json_object_set_new_nocheck(o, ls->v[i].name,
                                    json_stringn_nocheck(ls->v[i].value, ls->v[i].value_len));
    return o;
}

int coll_scrape_targets_json(struct coll_scrape_manager *m, const char *state, struct pl_buf *out)
{
    int want_active = !state || !*state || !strcmp(state, "any") || !strcmp(state, "active");
    int want_dropped = !state || !*state || !strcmp(state, "any") || !strcmp(state, "dropped");
    json_t *root = json_object(), *act = json_array(), *drop = json_array();
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->npools; i++) {
        struct spool *p = m->pools[i];
        if (p->gone)
            continue;
        for (size_t k = 0; want_active && k < p->ntargets; k++) {
            struct starget *t = p->targets[k];
            json_t *o = json_object();
            json_object_set_new(o, "discoveredLabels", labels_json(t->t.discovered));
            json_object_set_new(o, "labels", labels_json(t->pub));
            json_object_set_new(o, "scrapePool", json_string_nocheck(p->job));
            json_object_set_new(o, "scrapeUrl", json_string_nocheck(t->t.url));
            json_object_set_new(o, "globalUrl", json_string_nocheck(t->t.url));
            json_object_set_new(o, "lastError", json_string_nocheck(t->last_error));
            char ts[40] = "0001-01-01T00:00:00Z";
            if (t->last_scrape_ms)
                pl_time_format_rfc3339(t->last_scrape_ms, ts, sizeof(ts));
            json_object_set_new(o, "lastScrape", json_string_nocheck(ts));
            json_object_set_new(o, "lastScrapeDuration", json_real(t->last_duration));
            json_object_set_new(o, "health",
                                json_string(t->health == HEALTH_UP     ? "up"
                                            : t->health == HEALTH_DOWN ? "down"
                                                                       : "unknown"));
            char d[32];
            pl_duration_format(t->t.interval_ms, d, sizeof(d));
            json_object_set_new(o, "scrapeInterval", json_string(d));
            pl_duration_format(t->t.timeout_ms, d, sizeof(d));
            json_object_set_new(o, "scrapeTimeout", json_string(d));
            json_array_append_new(act, o);
        }
        for (size_t k = 0; want_dropped && k < p->ndropped; k++) {
            json_t *o = json_object();
            json_object_set_new(o, "discoveredLabels", labels_json(p->dropped[k]));
            json_array_append_new(drop, o);
        }
    }
    pthread_mutex_unlock(&m->lock);
    json_object_set_new(root, "activeTargets", act);
    json_object_set_new(root, "droppedTargets", drop);
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!s)
        return PL_ERR_NOMEM;
    int rc = pl_buf_puts(out, s);
    free(s);
    return rc;
}

void coll_scrape_stats_get(struct coll_scrape_manager *m, struct coll_scrape_stats *out)
{
    pthread_mutex_lock(&m->lock);
    *out = m->stats;
    pthread_mutex_unlock(&m->lock);
}

void coll_scrape_pools_foreach(struct coll_scrape_manager *m,
                               void (*fn)(const struct coll_pool_stats *ps, void *ud), void *ud,
                               uint64_t *reloads)
{
    pthread_mutex_lock(&m->stats_lock);
    for (size_t i = 0; i < m->npstats; i++) {
        struct pstat *p = m->pstats[i];
        struct coll_pool_stats o = {.job = p->job, .configured = atomic_load(&p->configured)};
        for (int k = 0; k < COLL_SCRAPE_NOUTCOMES; k++)
            o.scrapes[k] = atomic_load_explicit(&p->scrapes[k], memory_order_acquire);
        for (int k = 0; k <= COLL_SCRAPE_DURATION_NBOUNDS; k++)
            o.duration_buckets[k] = atomic_load_explicit(&p->dur[k], RELAXED);
        o.duration_sum = (double)atomic_load_explicit(&p->dur_sum_ns, RELAXED) / 1e9;
        o.samples_appended = atomic_load_explicit(&p->samples, RELAXED);
        o.series_added = atomic_load_explicit(&p->series_added, RELAXED);
        o.out_of_order = atomic_load_explicit(&p->ooo, RELAXED);
        o.duplicate_timestamp = atomic_load_explicit(&p->dup, RELAXED);
        o.out_of_bounds = atomic_load_explicit(&p->oob, RELAXED);
        o.targets = atomic_load_explicit(&p->targets, RELAXED);
        o.discovered = atomic_load_explicit(&p->discovered, RELAXED);
        o.syncs = atomic_load_explicit(&p->syncs, RELAXED);
        fn(&o, ud);
    }
    pthread_mutex_unlock(&m->stats_lock);
    /* Pairs with pool_count's release: TSDB figures read after this are no older. */
    atomic_thread_fence(memory_order_acquire);
    if (reloads)
        *reloads = atomic_load_explicit(&m->reloads, RELAXED);
}
