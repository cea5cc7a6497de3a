/*
 * target.h - scrape targets built from discovered label sets.
 *
 * Spec: https://prometheus.io/docs/prometheus/2.42/configuration/configuration/#scrape_config
 * and Prometheus 2.42 scrape/target.go (PopulateLabels, TargetsFromGroup,
 * Target.URL). A discovered target is a label set with `__address__` plus its
 * group's labels and `__meta_*` labels from discovery. The scrape config adds
 * `job`, `__scheme__`, `__metrics_path__`, `__scrape_interval__`,
 * `__scrape_timeout__` and `__param_<name>` when not set, relabel_configs run,
 * a default port is added to `__address__` (80 for http, 443 for https),
 * `__meta_*` labels are removed, `instance` defaults to `__address__`, and
 * labels starting with `__` stay internal (not stored with samples).
 */
#ifndef COLLECTOR_TARGET_H
#define COLLECTOR_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "collector/config.h"
#include "collector/relabel.h"
#include "common/err.h"
#include "common/labels.h"

/* A set of targets from one source with shared labels (targetgroup.Group). */
struct coll_target_group {
    const char *source;         /* "0", "/etc/sd/a.json:1", "_svc._tcp.example." */
    struct pl_labels **targets; /* each holds __address__ and maybe more */
    size_t ntargets;
    struct pl_labels *labels; /* group labels (may be NULL) */
};

struct coll_target {
    struct pl_labels *labels;     /* after relabeling, internal `__` labels included; owned */
    struct pl_labels *discovered; /* before relabeling; owned */
    char *url;                    /* owned */
    int64_t interval_ms, timeout_ms;
    uint64_t hash; /* identity: labels and URL, as Prometheus's Target.hash */
};

/*
 * Builds one target from discovered labels `lset` (borrowed), as Prometheus's
 * PopulateLabels. Returns 1 with *out filled, 0 when relabeling dropped the
 * target (only out->discovered is set), or PL_ERR_INVALID with a message such
 * as "no address" or "invalid scheme: \"ftp\"". `s` is scratch space.
 */
int coll_target_populate(const struct coll_scrape_config *sc, const struct pl_labels *lset,
                         struct coll_relabel_scratch *s, struct coll_target *out,
                         struct pl_err *err);
void coll_target_fini(struct coll_target *t);

/* The labels stored with samples: target labels without `__` names. OUT: owned by caller. */
struct pl_labels *coll_target_public_labels(const struct coll_target *t);

/*
 * Builds the targets of a group: each target's labels joined with the group
 * labels (the target's win). Calls fn(target, ud) for each kept target (fn
 * takes ownership of the target's contents) and dropped(discovered, ud) for each
 * dropped one (may be NULL; `discovered` borrowed). Failures are reported as
 * "instance N in group SOURCE: reason"; the first is returned in err, the
 * others still processed. Returns 0 or the first failure's code.
 */
int coll_targets_from_group(const struct coll_scrape_config *sc, const struct coll_target_group *g,
                            struct coll_relabel_scratch *s,
                            void (*fn)(struct coll_target *t, void *ud),
                            void (*dropped)(const struct pl_labels *discovered, void *ud), void *ud,
                            struct pl_err *err);

/* Frees the contents of a group built by discovery (NULL-safe). */
void coll_target_group_fini(struct coll_target_group *g);

/* Builds the groups of a scrape config's static_configs (source "0", "1", ...). */
int coll_static_groups(const struct coll_static_config *sc, size_t n,
                       struct coll_target_group **out, size_t *nout);
void coll_target_groups_free(struct coll_target_group *g, size_t n);

#endif
