/*
 * test_target.c - targets from static groups: default ports, URLs, internal
 * labels, dropped targets and errors. Expected URLs and labels were read back
 * from Prometheus 2.42.0's /api/v1/targets for the same configuration.
 */
#include "tests.h"

#include "collector/target.h"

struct collected {
    char urls[8][256];
    char labels[8][512];
    char dropped[8][512];
    int64_t interval[8], timeout[8];
    int n, ndropped;
};

static void on_target(struct coll_target *t, void *ud)
{
    struct collected *c = ud;
    assert_true(c->n < 8);
    struct pl_labels *pub = coll_target_public_labels(t);
    snprintf(c->urls[c->n], sizeof(c->urls[0]), "%s", t->url);
    snprintf(c->labels[c->n], sizeof(c->labels[0]), "%s", ls_str(pub));
    c->interval[c->n] = t->interval_ms;
    c->timeout[c->n] = t->timeout_ms;
    c->n++;
    pl_labels_free(pub);
    coll_target_fini(t);
}

static void on_dropped(const struct pl_labels *d, void *ud)
{
    struct collected *c = ud;
    assert_true(c->ndropped < 8);
    snprintf(c->dropped[c->ndropped++], sizeof(c->dropped[0]), "%s", ls_str(d));
}

/* Builds the targets of the first job's static groups; returns the first error or 0. */
static int build(const char *yaml, struct collected *c, char *errmsg, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    struct coll_config *cfg = cfg_ok(yaml);
    const struct coll_scrape_config *sc = &cfg->scrape_configs[0];
    struct coll_target_group *g;
    size_t ng;
    assert_int_equal(coll_static_groups(sc->static_configs, sc->nstatic, &g, &ng), 0);
    struct coll_relabel_scratch s;
    coll_relabel_scratch_init(&s);
    int first = 0;
    for (size_t i = 0; i < ng; i++) {
        struct pl_err err;
        int rc = coll_targets_from_group(sc, &g[i], &s, on_target, on_dropped, c, &err);
        if (rc && !first) {
            first = rc;
            snprintf(errmsg, errlen, "%s", err.msg);
        }
    }
    coll_relabel_scratch_fini(&s);
    coll_target_groups_free(g, ng);
    coll_config_free(cfg);
    return first;
}

static void test_target_default_ports_like_prometheus(void **state)
{
    (void)state;
    struct collected c;
    char err[512] = "";
    assert_int_equal(build("scrape_configs: [{job_name: ports, static_configs: [{targets: "
                           "[localhost, '[::1]', '::1', 'h:', '127.0.0.1:11']}]}]",
                           &c, err, sizeof(err)),
                     0);
    assert_int_equal(c.n, 5);
    assert_string_equal(c.urls[0], "http://localhost:80/metrics");
    assert_string_equal(c.labels[0], "{instance=\"localhost:80\", job=\"ports\"}");
    assert_string_equal(c.urls[1], "http://[::1]:80/metrics");
    assert_string_equal(c.urls[2], "http://::1/metrics");
    assert_string_equal(c.labels[2], "{instance=\"::1\", job=\"ports\"}");
    assert_string_equal(c.urls[3], "http://h:/metrics");
    assert_string_equal(c.urls[4], "http://127.0.0.1:11/metrics");
    assert_int_equal(c.interval[0], 60000);
    assert_int_equal(c.timeout[0], 10000);
    assert_int_equal(build("scrape_configs: [{job_name: s, scheme: https, static_configs: "
                           "[{targets: [localhost]}]}]",
                           &c, err, sizeof(err)),
                     0);
    assert_string_equal(c.urls[0], "https://localhost:443/metrics");
}

static void test_target_url_params_and_internal_labels(void **state)
{
    (void)state;
    struct collected c;
    char err[512] = "";
    const char *yaml = "global: {scrape_interval: 1h}\n"
                       "scrape_configs:\n"
                       "  - job_name: urls\n"
                       "    metrics_path: '/a b!/c'\n"
                       "    params: {module: [m1, m2], z: [' x+y&'], a: []}\n"
                       "    static_configs: [{targets: ['127.0.0.1:12']}]\n"
                       "    relabel_configs:\n"
                       "      - {source_labels: [__address__], target_label: __param_target}\n"
                       "      - {target_label: __param_module, replacement: over}\n"
                       "      - {target_label: __scrape_interval__, replacement: 30m}\n"
                       "      - {target_label: __scrape_timeout__, replacement: 20s}\n"
                       "      - {target_label: instance, replacement: inst}\n"
                       "      - {target_label: __meta_x, replacement: m}\n"
                       "      - {target_label: __tmp_y, replacement: t}\n";
    assert_int_equal(build(yaml, &c, err, sizeof(err)), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(
        c.urls[0],
        "http://127.0.0.1:12/a%20b%21/c?module=over&module=m2&target=127.0.0.1%3A12&z=+x%2By%26");
    assert_string_equal(c.labels[0], "{instance=\"inst\", job=\"urls\"}");
    assert_int_equal(c.interval[0], 30 * 60000);
    assert_int_equal(c.timeout[0], 20000);
}

static void test_target_discovered_labels_and_drops(void **state)
{
    (void)state;
    struct collected c;
    char err[512] = "";
    const char *yaml = "global: {scrape_interval: 1h}\n"
                       "scrape_configs:\n"
                       "  - job_name: keepdrop\n"
                       "    static_configs:\n"
                       "      - targets: ['127.0.0.1:8', '127.0.0.1:9']\n"
                       "        labels: {team: a, __meta_x: m}\n"
                       "    relabel_configs:\n"
                       "      - {source_labels: [__address__], regex: '.*:9', action: drop}\n";
    assert_int_equal(build(yaml, &c, err, sizeof(err)), 0);
    assert_int_equal(c.n, 1);
    /* __meta_* is gone after relabeling; group labels stay. */
    assert_string_equal(c.labels[0], "{instance=\"127.0.0.1:8\", job=\"keepdrop\", team=\"a\"}");
    assert_int_equal(c.ndropped, 1);
    assert_string_equal(
        c.dropped[0],
        "{__address__=\"127.0.0.1:9\", __meta_x=\"m\", __metrics_path__=\"/metrics\", "
        "__scheme__=\"http\", __scrape_interval__=\"1h\", __scrape_timeout__=\"10s\", "
        "job=\"keepdrop\", team=\"a\"}");
}

static void test_target_own_labels_win_over_group_and_job(void **state)
{
    (void)state;
    struct collected c;
    char err[512] = "";
    /* A static label `job` is kept (PopulateLabels only fills job when unset). */
    assert_int_equal(build("scrape_configs: [{job_name: j, static_configs: [{targets: ['a:1'], "
                           "labels: {job: other, instance: fixed}}]}]",
                           &c, err, sizeof(err)),
                     0);
    assert_string_equal(c.labels[0], "{instance=\"fixed\", job=\"other\"}");
}

static void test_target_errors_like_prometheus(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {"scrape_configs: [{job_name: a, static_configs: [{targets: ['']}]}]",
         "instance 0 in group 0: no address"},
        {"scrape_configs: [{job_name: a, scheme: ftp, static_configs: [{targets: [a]}]}]",
         "instance 0 in group 0: invalid scheme: \"ftp\""},
        {"scrape_configs: [{job_name: a, static_configs: [{targets: ['a:1', 'b:1']}], "
         "relabel_configs: [{source_labels: [__address__], regex: 'b:1', target_label: "
         "__scrape_timeout__, replacement: 2m}]}]",
         "instance 1 in group 0: scrape timeout cannot be greater than scrape interval (\"2m\" > "
         "\"1m\")"},
        {"scrape_configs: [{job_name: a, static_configs: [{targets: ['a:1']}], relabel_configs: "
         "[{target_label: __scrape_interval__, replacement: x}]}]",
         "instance 0 in group 0: error parsing scrape interval: not a valid duration string: "
         "\"x\""},
        {"scrape_configs: [{job_name: a, static_configs: [{targets: ['a:1']}], relabel_configs: "
         "[{target_label: __scrape_interval__, replacement: 0s}]}]",
         "instance 0 in group 0: scrape interval cannot be 0"},
        {"scrape_configs: [{job_name: a, static_configs: [{targets: ['a:1']}], relabel_configs: "
         "[{target_label: __address__, replacement: 'h/x'}]}]",
         "instance 0 in group 0: \"h/x:80\" is not a valid hostname"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct collected c;
        char err[512] = "";
        assert_int_equal(build(cases[i].yaml, &c, err, sizeof(err)), PL_ERR_INVALID);
        if (strcmp(err, cases[i].msg) != 0)
            fail_msg("case %zu: want %s\ngot  %s", i, cases[i].msg, err);
    }
}

int test_target_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_default_ports_like_prometheus),
        cmocka_unit_test(test_target_url_params_and_internal_labels),
        cmocka_unit_test(test_target_discovered_labels_and_drops),
        cmocka_unit_test(test_target_own_labels_win_over_group_and_job),
        cmocka_unit_test(test_target_errors_like_prometheus),
    };
    return cmocka_run_group_tests_name("target", tests, NULL, NULL);
}
