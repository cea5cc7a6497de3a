/*
 * fuzz_config.c - libFuzzer target for the prometheus.yml parser.
 *
 * Parses the input as a config; when it is valid, builds every static target
 * (running relabel_configs) and applies metric_relabel_configs to a sample
 * label set, so regexes and expansion see fuzzed rules too. Input capped at
 * 64 KiB; everything is freed (the fuzzer's leak check must stay quiet).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/config.h"
#include "collector/relabel.h"
#include "collector/target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop_target(struct coll_target *t, void *ud)
{
    (void)ud;
    struct pl_labels *pub = coll_target_public_labels(t);
    pl_labels_free(pub);
    coll_target_fini(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    struct coll_config *cfg = NULL;
    struct pl_err err;
    if (coll_config_parse((const char *)data, size, "fuzz.yml", "/fuzz", &cfg, &err) != 0)
        return 0;
    struct coll_relabel_scratch s;
    coll_relabel_scratch_init(&s);
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    for (size_t i = 0; i < cfg->nscrape; i++) {
        const struct coll_scrape_config *sc = &cfg->scrape_configs[i];
        struct coll_target_group *g;
        size_t ng;
        coll_static_groups(sc->static_configs, sc->nstatic, &g, &ng);
        for (size_t k = 0; k < ng; k++)
            coll_targets_from_group(sc, &g[k], &s, drop_target, NULL, NULL, &err);
        coll_target_groups_free(g, ng);
        pl_lb_reset(&lb);
        pl_lb_setz(&lb, "__name__", "http_requests_total");
        pl_lb_setz(&lb, "job", sc->job_name);
        pl_lb_setz(&lb, "instance", "h:1");
        pl_lb_setz(&lb, "code", "200");
        if (coll_relabel_apply(sc->metric_relabel, sc->nmetric_relabel, &lb, &s))
            pl_labels_free(pl_lb_labels(&lb));
    }
    pl_lb_fini(&lb);
    coll_relabel_scratch_fini(&s);
    coll_config_free(cfg);
    return 0;
}
