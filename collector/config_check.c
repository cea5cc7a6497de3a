/*
 * config_check.c - `promlite check config`, mirroring `promtool check config`
 * of Prometheus 2.42 (cmd/promtool/main.go: checkConfig, checkRules).
 *
 * Rule files are checked for what this module can know: the file exists, is
 * YAML, and has the rulefmt shape (`groups:` with `name` and `rules`); the
 * rules' expressions belong to the rules module.
 */
#include "collector/config_check.h"

#include <errno.h>
#include <unistd.h>
#include <string.h>
#include <yaml.h>

#include "collector/config.h"
#include "collector/target.h"
#include "common/buf.h"
#include "common/mem.h"

struct rule_list {
    char **v;
    size_t n, cap;
};

static int collect_rule_file(const char *path, void *ud)
{
    struct rule_list *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = pl_xreallocarray(l->v, l->cap, sizeof(*l->v));
    }
    l->v[l->n++] = pl_xstrdup(path);
    return 0;
}

static yaml_node_t *get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

/* Counts the rules of a rule file; -1 with a message in err when malformed. */
static long check_rule_file(const char *path, struct pl_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return pl_err_set(err, -errno, "%s: %s", path, strerror(errno)), -1;
    yaml_parser_t p;
    yaml_document_t d;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    long count = -1;
    if (!yaml_parser_load(&p, &d)) {
        size_t line = p.problem_mark.line + (p.error == YAML_SCANNER_ERROR);
        pl_err_set(err, PL_ERR_INVALID, "%s: yaml: line %zu: %s", path, line,
                   p.problem ? p.problem : "error");
        yaml_parser_delete(&p);
        fclose(f);
        return -1;
    }
    yaml_parser_delete(&p);
    fclose(f);
    yaml_node_t *root = yaml_document_get_root_node(&d);
    count = 0;
    if (!root)
        goto out; /* an empty file has no groups */
    if (root->type != YAML_MAPPING_NODE) {
        pl_err_set(err, PL_ERR_INVALID, "%s: yaml: line %zu: rule file must be a mapping", path,
                   root->start_mark.line + 1);
        count = -1;
        goto out;
    }
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(&d, pr->key);
        if (k->type != YAML_SCALAR_NODE || strcmp((const char *)k->data.scalar.value, "groups")) {
            pl_err_set(err, PL_ERR_INVALID,
                       "%s: yaml: unmarshal errors:\n  line %zu: field %s not found in type "
                       "rulefmt.RuleGroups",
                       path, k->start_mark.line + 1,
                       k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "?");
            count = -1;
            goto out;
        }
    }
    yaml_node_t *groups = get(&d, root, "groups");
    if (!groups || (groups->type == YAML_SCALAR_NODE && groups->data.scalar.length == 0))
        goto out;
    if (groups->type != YAML_SEQUENCE_NODE) {
        pl_err_set(err, PL_ERR_INVALID, "%s: yaml: line %zu: groups must be a list", path,
                   groups->start_mark.line + 1);
        count = -1;
        goto out;
    }
    for (yaml_node_item_t *it = groups->data.sequence.items.start;
         it < groups->data.sequence.items.top; it++) {
        yaml_node_t *g = yaml_document_get_node(&d, *it);
        if (g->type != YAML_MAPPING_NODE) {
            pl_err_set(err, PL_ERR_INVALID, "%s: yaml: line %zu: a group must be a mapping", path,
                       g->start_mark.line + 1);
            count = -1;
            goto out;
        }
        yaml_node_t *name = get(&d, g, "name");
        if (!name || name->type != YAML_SCALAR_NODE || name->data.scalar.length == 0) {
            pl_err_set(err, PL_ERR_INVALID, "%s: %zu:%zu: Groupname must not be empty", path,
                       g->start_mark.line + 1, g->start_mark.column + 1);
            count = -1;
            goto out;
        }
        yaml_node_t *rules = get(&d, g, "rules");
        if (rules && rules->type == YAML_SEQUENCE_NODE)
            count += rules->data.sequence.items.top - rules->data.sequence.items.start;
    }
out:
    yaml_document_delete(&d);
    return count;
}

static void noop_target(struct coll_target *t, void *ud)
{
    (void)ud;
    coll_target_fini(t);
}

/* promtool builds the static targets too, reporting the first failure. */
static int check_static_targets(const struct coll_config *cfg, struct pl_err *err)
{
    struct coll_relabel_scratch s;
    coll_relabel_scratch_init(&s);
    int rc = 0;
    for (size_t i = 0; i < cfg->nscrape && !rc; i++) {
        const struct coll_scrape_config *sc = &cfg->scrape_configs[i];
        struct coll_target_group *g;
        size_t ng;
        coll_static_groups(sc->static_configs, sc->nstatic, &g, &ng);
        for (size_t k = 0; k < ng && !rc; k++)
            rc = coll_targets_from_group(sc, &g[k], &s, noop_target, NULL, NULL, err);
        coll_target_groups_free(g, ng);
    }
    coll_relabel_scratch_fini(&s);
    return rc;
}

int coll_config_check_files(int nfiles, char **files, FILE *out, FILE *errout)
{
    int status = 0;
    for (int i = 0; i < nfiles; i++) {
        const char *path = files[i];
        fprintf(out, "Checking %s\n", path);
        fflush(out);
        struct coll_config *cfg = NULL;
        struct pl_err err;
        pl_err_clear(&err);
        if (coll_config_load_file(path, &cfg, &err) != 0) {
            fprintf(errout, "  FAILED: parsing YAML file %s: %s\n\n", path, err.msg);
            status = 1;
            continue;
        }
        for (size_t w = 0; w < cfg->nwarnings; w++)
            fprintf(out, "  WARNING: %s\n", cfg->warnings[w]);
        if (check_static_targets(cfg, &err) != 0) {
            fprintf(errout, "  FAILED: %s\n\n", err.msg);
            coll_config_free(cfg);
            status = 1;
            continue;
        }
        struct rule_list rl = {0};
        int n = coll_config_rule_files(cfg, collect_rule_file, &rl, &err);
        coll_config_free(cfg);
        if (n < 0) {
            fprintf(errout, "  FAILED: %s\n\n", err.msg);
            status = 1;
        } else {
            if (rl.n)
                fprintf(out, "  SUCCESS: %zu rule files found\n", rl.n);
            fprintf(out, " SUCCESS: %s is valid prometheus config file syntax\n\n", path);
            for (size_t r = 0; r < rl.n; r++) {
                fprintf(out, "Checking %s\n", rl.v[r]);
                fflush(out);
                long cnt = check_rule_file(rl.v[r], &err);
                if (cnt < 0) {
                    fprintf(errout, "  FAILED:\n     %s\n\n", err.msg);
                    status = 1;
                } else {
                    fprintf(out, "  SUCCESS: %ld rules found\n\n", cnt);
                }
            }
        }
        for (size_t r = 0; r < rl.n; r++)
            free(rl.v[r]);
        free(rl.v);
    }
    fflush(out);
    return status;
}

int coll_config_check_cmd(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: promlite check config FILE...\n"
                "Checks prometheus.yml files as `promtool check config` does.\n");
        return argc < 2 ? 2 : 0;
    }
    for (int i = 1; i < argc; i++) {
        if (access(argv[i], F_OK) != 0) {
            fprintf(stderr, "promlite: error: path '%s' does not exist\n", argv[i]);
            return 1;
        }
    }
    return coll_config_check_files(argc - 1, argv + 1, stdout, stderr);
}
