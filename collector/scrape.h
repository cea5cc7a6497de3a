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

struct coll_scrape_options {
    const char *user_agent; /* default "promlite" */
    /* Test hook: 0 scrapes on the stable offset; >0 scrapes every target right away. */
    int scrape_immediately;
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
    uint64_t samples_appended, series_added;
    uint64_t targets_active, targets_dropped;
};
void coll_scrape_stats_get(struct coll_scrape_manager *m, struct coll_scrape_stats *out);

/* The Accept header Prometheus 2.42 sends. */
#define COLL_SCRAPE_ACCEPT                                                                         \
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0."   \
    "75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

#endif
