/*
 * relabel.h - Prometheus relabeling (relabel_configs, metric_relabel_configs,
 * write_relabel_configs), as Prometheus 2.42's pkg/relabel does it.
 *
 * Spec: https://prometheus.io/docs/prometheus/latest/configuration/configuration/#relabel_config
 * Each rule joins its source_labels' values with `separator`, matches the
 * fully anchored `regex` and applies one action. Rules run in order on a
 * pl_labels_builder; a keep/drop rule may drop the whole label set.
 */
#ifndef COLLECTOR_RELABEL_H
#define COLLECTOR_RELABEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/labels.h"
#include "tsdb/regex_capture.h"

enum coll_relabel_action {
    COLL_RELABEL_REPLACE,
    COLL_RELABEL_KEEP,
    COLL_RELABEL_DROP,
    COLL_RELABEL_KEEPEQUAL,
    COLL_RELABEL_DROPEQUAL,
    COLL_RELABEL_HASHMOD,
    COLL_RELABEL_LABELMAP,
    COLL_RELABEL_LABELDROP,
    COLL_RELABEL_LABELKEEP,
    COLL_RELABEL_LOWERCASE,
    COLL_RELABEL_UPPERCASE,
};

/* Parses an action name case-insensitively, as Prometheus does. 0 or PL_ERR_INVALID. */
int coll_relabel_action_parse(const char *s, enum coll_relabel_action *out);
/* The lower-case name of an action ("replace", ...). */
const char *coll_relabel_action_name(enum coll_relabel_action a);

/*
 * One rule. Fields are set by coll_relabel_rule_init (defaults) and then by
 * the config parser; coll_relabel_rule_validate checks them as Prometheus's
 * relabel.Config.Validate does. The strings are borrowed (the config's
 * arena owns them); `regex` is owned by the rule (coll_relabel_rule_fini).
 */
struct coll_relabel_rule {
    const char **source_labels;
    size_t nsource;
    int source_set; /* source_labels given (even empty) */
    const char *separator;
    const char *target_label;
    const char *replacement;
    struct tsdb_regex_capture *regex; /* owned; never NULL after init */
    int regex_set;                    /* regex given explicitly */
    uint64_t modulus;
    enum coll_relabel_action action;
    int line; /* config line, for messages; 0 when unknown */
};

/* Sets the defaults: separator ";", regex "(.*)", replacement "$1", action replace. */
void coll_relabel_rule_init(struct coll_relabel_rule *r);
void coll_relabel_rule_fini(struct coll_relabel_rule *r);
/* Replaces the regex (compiled anchored); Go's message on a bad pattern. */
int coll_relabel_rule_set_regex(struct coll_relabel_rule *r, const char *pattern,
                                struct pl_err *err);
/* Checks the rule as Prometheus does, with its messages. */
int coll_relabel_rule_validate(const struct coll_relabel_rule *r, struct pl_err *err);

/*
 * Scratch space for applying rules; one per thread (scrape loop). Buffers are
 * kept across calls, so steady-state relabeling does not allocate.
 */
struct coll_relabel_scratch {
    struct pl_buf val;   /* joined source values */
    struct pl_buf out;   /* expansion result */
    struct pl_buf name;  /* expanded target name */
    struct pl_buf names; /* label names snapshot for labelmap/labeldrop */
    size_t *ovec;        /* 2 * TSDB_REGEX_CAPTURE_MAX */
};

void coll_relabel_scratch_init(struct coll_relabel_scratch *s);
void coll_relabel_scratch_fini(struct coll_relabel_scratch *s);

/*
 * Applies rules[0..n) in order to the labels in `lb`. Returns 1 when the
 * label set is kept (lb holds the result) and 0 when a rule dropped it (lb
 * is then unspecified).
 */
int coll_relabel_apply(const struct coll_relabel_rule *rules, size_t n,
                       struct pl_labels_builder *lb, struct coll_relabel_scratch *s);

#endif
