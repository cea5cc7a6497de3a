/*
 * scrape.h - the scrape manager: discovery, the scrape loop and target state.
 *
 * Spec: Prometheus 2.42 scrape semantics (ecosystem.md section 3):
 * https://prometheus.io/docs/prometheus/2.42/configuration/configuration/#scrape_config
 *
 * One manager runs two threads. The discovery thread polls each scrape
 * pool's providers (sd.h; DNS lookups block only this thread) and builds
 * targets (target.h). The scrape thread drives every scrape through one
 * libcurl multi handle: each target is scraped every interval at a stable
 * offset (hash of the target) with the timeout enforced, the Accept header of
 * Prometheus 2.42, gzip, X-Prometheus-Scrape-Timeout-Seconds, per-pool auth
 * and TLS, and body_size_limit. Bodies are parsed with the lenient exposition
 * parser, labels merged with the target's (honor_labels or `exported_`),
 * metric_relabel_configs applied, limits checked, and the samples plus `up`,
 * `scrape_duration_seconds`, `scrape_samples_scraped`,
 * `scrape_samples_post_metric_relabeling` and `scrape_series_added` appended
 * as one tsdb batch. A per-target cache maps each series as written to its
 * tsdb reference, so steady-state scrapes build no labels. Stale markers are
 * written for series that vanish, for all series after a failed scrape, and
 * for every series of a target that goes away (SD change or reload).
 */
#ifndef COLLECTOR_SCRAPE_H
#define COLLECTOR_SCRAPE_H

#include <stddef.h>
#include <stdint.h>

#include "collector/config.h"
#include "common/buf.h"
#include "common/err.h"
#include "tsdb/tsdb.h"

struct coll_scrape_manager;

/* What coll_scrape_options.observe reports. */
enum coll_scrape_obs {
    /* Seconds between the starts of two consecutive scrapes of one target (`interval_ms` set). */
    COLL_SCRAPE_OBS_INTERVAL,
    /* Seconds one pool took to apply a new target list (`job` set). */
    COLL_SCRAPE_OBS_SYNC,
};

struct coll_scrape_options {
    const char *user_agent; /* default "promlite" */
    /* Test hook: 0 scrapes on the stable offset; >0 scrapes every target right away. */
    int scrape_immediately;
    /*
     * Group commit: scrapes ending within this many ms of each other (at most
     * a quarter of the scrape interval) share one tsdb commit (one WAL
     * record, one write transaction, one fsync). 0: the default, 250 ms;
     * <0: every scrape commits alone.
     */
    int commit_delay_ms;
    /*
     * Test hook (NULL in production): called before each group commit with
     * the number of scrapes in it; nonzero makes the commit fail as if
     * storage refused it (the batch is rolled back).
     */
    int (*commit_fault)(void *ud, size_t nscrapes);
    void *commit_fault_ud;
    /*
     * Optional observer for figures that need a distribution (a summary in
     * the self-metrics): called once per scrape and once per pool sync on
     * the scrape thread, with the manager's lock held; it must not call back
     * into the manager. `job` is borrowed for the call.
     */
    void (*observe)(void *ud, enum coll_scrape_obs kind, const char *job, int64_t interval_ms,
                    double seconds);
    void *observe_ud;
};

/*
 * A manager appending into `db` (borrowed; must outlive the manager).
 * `opt` may be NULL. Nothing runs until coll_scrape_manager_apply.
 * OUT: *out, freed with coll_scrape_manager_free.
 */
int coll_scrape_manager_new(struct tsdb *db, const struct coll_scrape_options *opt,
                            struct coll_scrape_manager **out, struct pl_err *err);

/*
 * Applies a configuration; takes ownership of `cfg` (freed when replaced or
 * on free). Starts the threads on the first call. Pools whose job stays keep
 * their targets, state and series references; targets that go away get stale
 * markers; removed jobs' targets too. Never fails for a config that loaded.
 */
int coll_scrape_manager_apply(struct coll_scrape_manager *m, struct coll_config *cfg,
                              struct pl_err *err);

/*
 * Stops both threads within the current transfer's progress callback (well
 * under a second, whatever the targets do) and frees everything. NULL-safe.
 */
void coll_scrape_manager_free(struct coll_scrape_manager *m);

/*
 * Renders the `data` object of GET /api/v1/targets:
 * {"activeTargets":[...],"droppedTargets":[...]} with discoveredLabels,
 * labels, scrapePool, scrapeUrl, globalUrl, lastError, lastScrape (RFC 3339),
 * lastScrapeDuration (s), health ("up", "down", "unknown"), scrapeInterval,
 * scrapeTimeout. `state` is "active", "dropped", "any" or NULL (any).
 */
int coll_scrape_targets_json(struct coll_scrape_manager *m, const char *state, struct pl_buf *out);

struct coll_scrape_stats {
    uint64_t scrapes_ok, scrapes_failed;
    uint64_t samples_appended; /* stored, report series included */
    uint64_t series_added;     /* the sum of scrape_series_added */
    uint64_t targets_active, targets_dropped;
};
void coll_scrape_stats_get(struct coll_scrape_manager *m, struct coll_scrape_stats *out);

/* How a scrape ended, for the per-pool counters. */
enum coll_scrape_outcome {
    COLL_SCRAPE_SUCCESS,
    COLL_SCRAPE_ERROR,           /* connection, HTTP status, parse, label limits, storage */
    COLL_SCRAPE_TIMEOUT,         /* scrape_timeout reached */
    COLL_SCRAPE_SAMPLE_LIMIT,    /* sample_limit exceeded: the scrape was rejected */
    COLL_SCRAPE_BODY_SIZE_LIMIT, /* body_size_limit exceeded */
    COLL_SCRAPE_NOUTCOMES
};

/* Label values of enum coll_scrape_outcome: "success", "error", ... */
extern const char *const coll_scrape_outcome_names[COLL_SCRAPE_NOUTCOMES];

/* Upper bounds of the scrape duration histogram (seconds); +Inf is implicit. */
#define COLL_SCRAPE_DURATION_NBOUNDS 13
extern const double coll_scrape_duration_bounds[COLL_SCRAPE_DURATION_NBOUNDS];

/*
 * Counters of one scrape pool (job) since the manager started. A job that
 * leaves the configuration and comes back continues its counters.
 */
struct coll_pool_stats {
    const char *job; /* borrowed for the callback */
    int configured;  /* the job is in the current configuration */
    uint64_t scrapes[COLL_SCRAPE_NOUTCOMES];
    /* Scrapes by duration: buckets[i] counts durations <= bounds[i] and > bounds[i-1]
     * (not cumulative); buckets[NBOUNDS] counts the rest. */
    uint64_t duration_buckets[COLL_SCRAPE_DURATION_NBOUNDS + 1];
    double duration_sum;       /* seconds */
    uint64_t samples_appended; /* stored, report series included */
    uint64_t series_added;     /* the sum of scrape_series_added */
    /* Samples refused by storage in scrapes (the scrape itself succeeds). */
    uint64_t out_of_order, duplicate_timestamp, out_of_bounds;
    uint64_t targets;    /* active targets now */
    uint64_t discovered; /* targets discovery produced (active + dropped) at the last sync */
    uint64_t syncs;      /* target list updates applied */
};

/*
 * Calls fn once per job ever configured, in the order jobs first appeared,
 * with a snapshot of its counters. Takes only the statistics lock (never the
 * scrape lock), so it does not wait for a scrape being processed.
 * `reloads` (may be NULL) gets the number of times a pool was kept across a
 * configuration apply (prometheus_target_scrape_pool_reloads_total).
 */
void coll_scrape_pools_foreach(struct coll_scrape_manager *m,
                               void (*fn)(const struct coll_pool_stats *ps, void *ud), void *ud,
                               uint64_t *reloads);

/* The Accept header Prometheus 2.42 sends. */
#define COLL_SCRAPE_ACCEPT                                                                         \
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0."   \
    "75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

#endif
