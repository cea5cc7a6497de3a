/* test_config.c - prometheus.yml parsing: defaults, values, and every error class. */
#include "tests.h"

#include "common/timeutil.h"

static void test_config_minimal_gets_prometheus_defaults(void **state)
{
    (void)state;
    struct coll_config *cfg = cfg_ok("scrape_configs:\n  - job_name: a\n");
    assert_int_equal(cfg->global.scrape_interval_ms, 60000);
    assert_int_equal(cfg->global.scrape_timeout_ms, 10000);
    assert_int_equal(cfg->global.evaluation_interval_ms, 60000);
    assert_int_equal(cfg->global.external_labels->n, 0);
    assert_int_equal(cfg->nscrape, 1);
    const struct coll_scrape_config *sc = &cfg->scrape_configs[0];
    assert_string_equal(sc->job_name, "a");
    assert_int_equal(sc->interval_ms, 60000);
    assert_int_equal(sc->timeout_ms, 10000);
    assert_string_equal(sc->metrics_path, "/metrics");
    assert_string_equal(sc->scheme, "http");
    assert_int_equal(sc->honor_labels, 0);
    assert_int_equal(sc->honor_timestamps, 1);
    assert_int_equal(sc->sample_limit, 0);
    assert_int_equal(sc->body_size_limit, 0);
    assert_int_equal(sc->http.follow_redirects, 1);
    assert_int_equal(sc->http.enable_http2, 1);
    coll_config_free(cfg);
}

static void test_config_empty_document_is_valid(void **state)
{
    (void)state;
    struct coll_config *cfg = cfg_ok("");
    assert_int_equal(cfg->nscrape, 0);
    assert_int_equal(cfg->global.scrape_interval_ms, 60000);
    coll_config_free(cfg);
    cfg = cfg_ok("global:\n");
    assert_int_equal(cfg->global.scrape_timeout_ms, 10000);
    coll_config_free(cfg);
    /* Null and empty sections are valid and empty, as promtool has them. */
    cfg = cfg_ok("remote_write:\nalerting:\n  alertmanagers:\nscrape_configs:\n");
    assert_int_equal(cfg->nscrape, 0);
    assert_int_equal(cfg->nremote_write, 0);
    assert_int_equal(cfg->nalertmanagers, 0);
    coll_config_free(cfg);
    cfg = cfg_ok("remote_write: []\nalerting: {alertmanagers: []}\nscrape_configs: []\n");
    assert_int_equal(cfg->nscrape, 0);
    assert_int_equal(cfg->nremote_write, 0);
    assert_int_equal(cfg->nalertmanagers, 0);
    coll_config_free(cfg);
}

static void test_config_short_global_interval_caps_default_timeout(void **state)
{
    (void)state;
    struct coll_config *cfg =
        cfg_ok("global: {scrape_interval: 5s}\nscrape_configs: [{job_name: a}, {job_name: b, "
               "scrape_interval: 2s}, {job_name: c, scrape_interval: 1m}]\n");
    assert_int_equal(cfg->global.scrape_timeout_ms, 5000);
    assert_int_equal(cfg->scrape_configs[0].timeout_ms, 5000);
    /* A job interval below the global timeout caps the inherited timeout. */
    assert_int_equal(cfg->scrape_configs[1].timeout_ms, 2000);
    assert_int_equal(cfg->scrape_configs[2].timeout_ms, 5000);
    coll_config_free(cfg);
}

static void test_config_reference_capture_parses(void **state)
{
    (void)state;
    const char *src = getenv("PROMLITE_SRC");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/unit/collector_config/testdata/prometheus.yml",
             src ? src : ".");
    struct coll_config *cfg = NULL;
    struct pl_err err;
    if (coll_config_load_file(path, &cfg, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg->global.scrape_interval_ms, 5000);
    assert_int_equal(cfg->global.scrape_timeout_ms, 4000);
    assert_string_equal(ls_str(cfg->global.external_labels), "{cluster=\"demo\", replica=\"a\"}");
    assert_int_equal(cfg->nrule_files, 1);
    assert_string_equal(cfg->rule_files[0], "/etc/prometheus/rules.yml");
    assert_int_equal(cfg->nalertmanagers, 2);
    assert_string_equal(cfg->alertmanagers[0].static_configs[0].targets[0], "127.0.0.1:19093");
    assert_string_equal(cfg->alertmanagers[0].api_version, "v2");
    assert_string_equal(cfg->alertmanagers[0].path_prefix, "/");
    assert_int_equal(cfg->alertmanagers[0].timeout_ms, 10000);
    assert_int_equal(cfg->nscrape, 5);
    const struct coll_scrape_config *node = coll_config_scrape(cfg, "node");
    assert_non_null(node);
    assert_string_equal(ls_str(node->static_configs[0].labels), "{env=\"test\"}");
    const struct coll_scrape_config *lim = coll_config_scrape(cfg, "limited");
    assert_int_equal(lim->sample_limit, 1);
    assert_string_equal(lim->metrics_path, "/limited");
    const struct coll_scrape_config *rd = coll_config_scrape(cfg, "relabel_demo");
    assert_int_equal(rd->nparams, 1);
    assert_string_equal(rd->params[0].name, "module");
    assert_string_equal(rd->params[0].values[0], "http_2xx");
    assert_int_equal(rd->nrelabel, 4);
    assert_int_equal(rd->relabel[3].action, COLL_RELABEL_DROP);
    assert_int_equal(rd->nmetric_relabel, 1);
    assert_true(coll_config_scrape(cfg, "fake_honor")->honor_labels);
    assert_null(coll_config_scrape(cfg, "nope"));
    assert_int_equal(cfg->nremote_write, 2);
    assert_string_equal(cfg->remote_write[0].name, "vm");
    assert_int_equal(cfg->remote_write[0].queue.capacity, 2500);
    assert_int_equal(cfg->remote_write[0].queue.max_samples_per_send, 500);
    assert_int_equal(cfg->remote_write[1].queue.max_samples_per_send, 50);
    assert_int_equal(cfg->remote_write[1].queue.min_backoff_ms, 30);
    assert_int_equal(cfg->remote_write[1].remote_timeout_ms, 30000);
    coll_config_free(cfg);
}

static void test_config_default_scrapes_promlite_and_exporter(void **state)
{
    (void)state;
    struct coll_config *cfg = NULL;
    struct pl_err err;
    assert_int_equal(coll_config_load_default(&cfg, &err), 0);
    assert_int_equal(cfg->nscrape, 2);
    assert_string_equal(cfg->scrape_configs[0].job_name, "promlite");
    assert_string_equal(cfg->scrape_configs[0].static_configs[0].targets[0], "localhost:9090");
    assert_string_equal(cfg->scrape_configs[1].job_name, "node");
    assert_string_equal(cfg->scrape_configs[1].static_configs[0].targets[0], "localhost:9100");
    assert_int_equal(cfg->scrape_configs[1].interval_ms, 15000);
    assert_int_equal(cfg->scrape_configs[1].timeout_ms, 10000);
    coll_config_free(cfg);
}

static void test_config_relative_paths_resolve_against_config_dir(void **state)
{
    (void)state;
    struct coll_config *cfg =
        cfg_ok("rule_files: ['rules/*.yml', '/abs/r.yml']\n"
               "scrape_configs:\n"
               "  - job_name: a\n"
               "    basic_auth: {username: u, password_file: pw}\n"
               "    tls_config: {ca_file: ca.pem, cert_file: /c.pem, key_file: k.pem}\n"
               "    file_sd_configs: [{files: ['sd/*.json']}]\n");
    assert_string_equal(cfg->rule_files[0], "/cfgdir/rules/*.yml");
    assert_string_equal(cfg->rule_files[1], "/abs/r.yml");
    const struct coll_scrape_config *sc = &cfg->scrape_configs[0];
    assert_string_equal(sc->http.basic_password_file, "/cfgdir/pw");
    assert_string_equal(sc->http.tls_ca_file, "/cfgdir/ca.pem");
    assert_string_equal(sc->http.tls_cert_file, "/c.pem");
    assert_string_equal(sc->http.tls_key_file, "/cfgdir/k.pem");
    assert_string_equal(sc->file_sd[0].files[0], "/cfgdir/sd/*.json");
    assert_int_equal(sc->file_sd[0].refresh_ms, 5 * 60000);
    coll_config_free(cfg);
}

static void test_config_bearer_token_becomes_authorization(void **state)
{
    (void)state;
    struct coll_config *cfg =
        cfg_ok("scrape_configs:\n  - {job_name: a, bearer_token: tok}\n"
               "  - {job_name: b, authorization: {credentials: c2, type: ' Token '}}\n"
               "  - {job_name: c, authorization: {credentials_file: f}}\n");
    assert_true(cfg->scrape_configs[0].http.has_authorization);
    assert_string_equal(cfg->scrape_configs[0].http.auth_type, "Bearer");
    assert_string_equal(cfg->scrape_configs[0].http.auth_credentials, "tok");
    assert_string_equal(cfg->scrape_configs[1].http.auth_type, "Token");
    assert_string_equal(cfg->scrape_configs[2].http.auth_type, "Bearer");
    assert_string_equal(cfg->scrape_configs[2].http.auth_credentials_file, "/cfgdir/f");
    coll_config_free(cfg);
}

static void test_config_values_of_every_type(void **state)
{
    (void)state;
    struct coll_config *cfg = cfg_ok(
        "scrape_configs:\n"
        "  - job_name: 123\n" /* yaml.v2 reads any scalar into a string */
        "    honor_labels: yes\n"
        "    honor_timestamps: off\n"
        "    sample_limit: 0x10\n"
        "    label_limit: 1_000\n"
        "    body_size_limit: 1.5MB\n"
        "    scheme: https\n"
        "    params: {module: [a, b], empty: []}\n"
        "    tls_config: {insecure_skip_verify: true, server_name: s}\n"
        "    dns_sd_configs: [{names: [a.example], type: A, port: 9100, refresh_interval: 1m}, "
        "{names: [_x._tcp.example]}]\n");
    const struct coll_scrape_config *sc = &cfg->scrape_configs[0];
    assert_string_equal(sc->job_name, "123");
    assert_int_equal(sc->honor_labels, 1);
    assert_int_equal(sc->honor_timestamps, 0);
    assert_int_equal(sc->sample_limit, 16);
    assert_int_equal(sc->label_limit, 1000);
    assert_int_equal(sc->body_size_limit, 1572864);
    assert_int_equal(sc->nparams, 2);
    assert_int_equal(sc->params[0].nvalues, 2);
    assert_int_equal(sc->params[1].nvalues, 0);
    assert_true(sc->http.tls_insecure_skip_verify);
    assert_string_equal(sc->http.tls_server_name, "s");
    assert_int_equal(sc->ndns_sd, 2);
    assert_int_equal(sc->dns_sd[0].type, COLL_DNS_A);
    assert_int_equal(sc->dns_sd[0].port, 9100);
    assert_int_equal(sc->dns_sd[0].refresh_ms, 60000);
    assert_int_equal(sc->dns_sd[1].type, COLL_DNS_SRV);
    assert_int_equal(sc->dns_sd[1].refresh_ms, 30000);
    coll_config_free(cfg);
}

static void test_config_sizes_parse_like_units_base2bytes(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        uint64_t want;
        const char *err;
    } cases[] = {
        {"10MB", 10485760, NULL},
        {"10MiB", 10485760, NULL},
        {"1.5MB", 1572864, NULL},
        {"512KB", 524288, NULL},
        {"1GB512MB", 1610612736, NULL},
        {"100B", 100, NULL},
        {"0", 0, NULL},
        {"-5MB", 0, NULL},
        {"10", 0, "units: unknown unit  in 10"},
        {"10XB", 0, "units: unknown unit XB in 10XB"},
        {"", 0, "units: invalid "},
        {"MB", 0, "units: invalid MB"},
        {".MB", 0, "units: invalid .MB"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        struct pl_err err;
        pl_err_clear(&err);
        int rc = coll_size_parse(cases[i].in, &v, &err);
        if (cases[i].err) {
            assert_int_equal(rc, PL_ERR_INVALID);
            assert_string_equal(err.msg, cases[i].err);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(v, cases[i].want);
        }
    }
}

/* Each error class, with the message promtool 2.42 prints, prefixed FILE:LINE. */
static void test_config_errors_match_promtool(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {"global:\n  scrape_intervl: 1m\n",
         "t.yml:2: field scrape_intervl not found in type config.plain"},
        {"zz: 1\n", "t.yml:1: field zz not found in type config.plain"},
        {"scrape_configs:\n  - job_name: a\n    foo: 1\n",
         "t.yml:3: field foo not found in type config.ScrapeConfig"},
        {"scrape_configs: [{job_name: a, relabel_configs: [{zz: 1}]}]",
         "t.yml:1: field zz not found in type relabel.plain"},
        {"scrape_configs: [{job_name: a, file_sd_configs: [{zz: 1}]}]",
         "t.yml:1: field zz not found in type file.plain"},
        {"scrape_configs: [{job_name: a, dns_sd_configs: [{zz: 1}]}]",
         "t.yml:1: field zz not found in type dns.plain"},
        {"scrape_configs: [{job_name: a, authorization: {zz: 1}}]",
         "t.yml:1: field zz not found in type config.Authorization"},
        {"alerting: {alertmanagers: [{zz: 1}]}",
         "t.yml:1: field zz not found in type config.AlertmanagerConfig"},
        {"remote_write: [{url: 'http://a', queue_config: {zz: 1}}]",
         "t.yml:1: field zz not found in type config.QueueConfig"},
        {"scrape_configs: [{job_name: a, job_name: b}]",
         "t.yml:1: field job_name already set in type config.ScrapeConfig"},
        {"global: {external_labels: {a: x, a: y}}", "t.yml:1: key \"a\" already set in map"},
        {"scrape_configs: [{job_name: a, static_configs: 5}]",
         "t.yml:1: cannot unmarshal !!int `5` into []*targetgroup.Group"},
        {"scrape_configs: [{job_name: a, sample_limit: -1}]",
         "t.yml:1: cannot unmarshal !!int `-1` into uint"},
        {"scrape_configs: [{job_name: a, sample_limit: abc}]",
         "t.yml:1: cannot unmarshal !!str `abc` into uint"},
        {"scrape_configs: [{job_name: a, honor_labels: \"true\"}]",
         "t.yml:1: cannot unmarshal !!str `true` into bool"},
        {"scrape_configs: [{job_name: a, honor_labels: 1}]",
         "t.yml:1: cannot unmarshal !!int `1` into bool"},
        {"scrape_configs: [{job_name: [a]}]", "t.yml:1: cannot unmarshal !!seq into string"},
        {"scrape_configs: [{job_name: a, params: {a: b}}]",
         "t.yml:1: cannot unmarshal !!str `b` into []string"},
        {"scrape_configs: 3", "t.yml:1: cannot unmarshal !!int `3` into []*config.ScrapeConfig"},
        {"remote_write: 3", "t.yml:1: cannot unmarshal !!int `3` into []*config.RemoteWriteConfig"},
        {"alerting:\n  alertmanagers: 3",
         "t.yml:2: cannot unmarshal !!int `3` into config.AlertmanagerConfigs"},
        {"- a", "t.yml:1: cannot unmarshal !!seq into config.plain"},
        {"scrape_configs: [{job_name: a, static_configs: [{targets: x}]}]",
         "t.yml:1: cannot unmarshal !!str `x` into []string"},
        {"scrape_configs: [{job_name: a, relabel_configs: [{modulus: abcdefghijklm}]}]",
         "t.yml:1: cannot unmarshal !!str `abcdefg...` into uint64"},
        {"scrape_configs: [{job_name: a, relabel_configs: [{source_labels: a}]}]",
         "t.yml:1: cannot unmarshal !!str `a` into model.LabelNames"},
        {"scrape_configs:\n  - job_name: a\n    scrape_interval: 5x\n",
         "t.yml:3: not a valid duration string: \"5x\""},
        {"global: {scrape_interval: 1m5}", "t.yml:1: not a valid duration string: \"1m5\""},
        {"global:\n  scrape_timeout: 2m\n",
         "t.yml:2: global scrape timeout greater than scrape interval"},
        {"scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
         "t.yml:2: scrape timeout greater than scrape interval for scrape config with job name "
         "\"a\""},
        {"scrape_configs:\n  - job_name: a\n  - job_name: a\n",
         "t.yml:3: found multiple scrape configs with job name \"a\""},
        {"scrape_configs: [{job_name: ''}]", "t.yml:1: job_name is empty"},
        {"scrape_configs: [{scrape_interval: 1s}]", "t.yml:1: job_name is empty"},
        {"scrape_configs: [null]", "t.yml:1: empty or null scrape config section"},
        {"scrape_configs: [{job_name: a, relabel_configs: [null]}]",
         "t.yml:1: empty or null target relabeling rule in scrape config"},
        {"scrape_configs: [{job_name: a, metric_relabel_configs: [null]}]",
         "t.yml:1: empty or null metric relabeling rule in scrape config"},
        {"scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: "
         "['http://x:1/metrics']\n",
         "t.yml:4: \"http://x:1/metrics\" is not a valid hostname"},
        {"scrape_configs: [{job_name: a, static_configs: [{targets: [a:1], labels: {\"1bad\": "
         "x}}]}]",
         "t.yml:1: \"1bad\" is not a valid label name"},
        {"global: {external_labels: {\"a-b\": x}}", "t.yml:1: \"a-b\" is not a valid label name"},
        {"scrape_configs: [{job_name: a, static_configs: [{targets: [a:1], labels: {a: "
         "[b]}}]}]",
         "t.yml:1: cannot unmarshal !!seq into model.LabelValue"},
        {"scrape_configs: [{job_name: a, body_size_limit: 10XB}]",
         "t.yml:1: units: unknown unit XB in 10XB"},
        {"scrape_configs: [{job_name: a, basic_auth: {username: u, password: p, password_file: "
         "/x}}]",
         "t.yml:1: at most one of basic_auth password & password_file must be configured"},
        {"scrape_configs: [{job_name: a, authorization: {type: basic}}]",
         "t.yml:1: authorization type cannot be set to \"basic\", use \"basic_auth\" instead"},
        {"scrape_configs: [{job_name: a, bearer_token: x, bearer_token_file: y}]",
         "t.yml:1: at most one of bearer_token & bearer_token_file must be configured"},
        {"scrape_configs: [{job_name: a, bearer_token: x, basic_auth: {username: u}}]",
         "t.yml:1: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be "
         "configured"},
        {"scrape_configs: [{job_name: a, bearer_token: x, authorization: {credentials: u}}]",
         "t.yml:1: authorization is not compatible with bearer_token & bearer_token_file"},
        {"scrape_configs: [{job_name: a, authorization: {credentials: u}, basic_auth: "
         "{username: u}}]",
         "t.yml:1: at most one of basic_auth, oauth2 & authorization must be configured"},
        {"scrape_configs: [{job_name: a, tls_config: {cert_file: c}}]",
         "t.yml:1: exactly one of key or key_file must be configured when a client certificate "
         "is configured"},
        {"scrape_configs: [{job_name: a, dns_sd_configs: [{names: [x], type: A}]}]",
         "t.yml:1: a port is required in DNS-SD configs for all record types except SRV"},
        {"scrape_configs: [{job_name: a, dns_sd_configs: [{names: [x], type: TXT}]}]",
         "t.yml:1: invalid DNS-SD records type TXT"},
        {"scrape_configs: [{job_name: a, dns_sd_configs: [{type: SRV}]}]",
         "t.yml:1: DNS-SD config must contain at least one SRV record name"},
        {"scrape_configs: [{job_name: a, file_sd_configs: [{files: []}]}]",
         "t.yml:1: file service discovery config must contain at least one path name"},
        {"scrape_configs: [{job_name: a, file_sd_configs: [{files: [a.txt]}]}]",
         "t.yml:1: path name \"a.txt\" is not valid for file discovery"},
        {"scrape_configs: [{job_name: a, file_sd_configs: [{files: [\"a/*/b.json\"]}]}]",
         "t.yml:1: path name \"a/*/b.json\" is not valid for file discovery"},
        {"rule_files: ['a/*/b.yml']", "t.yml:1: invalid rule file path \"a/*/b.yml\""},
        {"alerting: {alertmanagers: [{api_version: v3}]}",
         "t.yml:1: expected Alertmanager api version to be one of [v1 v2] but got v3"},
        {"remote_write: [{url: 'http://a', headers: {Authorization: x}}]",
         "t.yml:1: authorization header must be changed via the basic_auth, authorization, "
         "oauth2, or sigv4 parameter"},
        {"remote_write: [{url: 'http://a', headers: {User-Agent: x}}]",
         "t.yml:1: User-Agent is a reserved header. It must not be changed"},
        {"remote_write: [{url: 'http://a', name: x}, {url: 'http://b', name: x}]",
         "t.yml:1: found multiple remote write configs with job name \"x\""},
        {"remote_write: [{name: x}]", "t.yml:1: url for remote_write is empty"},
        {"remote_write:\n  - url: \"::bad\"\n",
         "t.yml:2: parse \"::bad\": missing protocol scheme"},
        {"remote_write: [{url: 'ftp://x'}]",
         "t.yml:1: unsupported URL \"ftp://x\": promlite needs an http:// or https:// URL"},
        {"a: [\n", "t.yml:1: yaml: line 1: did not find expected node content"},
        {"global:\n\tx: 1\n", "t.yml:2: yaml: line 2: found character that cannot start any token"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = cfg_err(cases[i].yaml);
        if (strcmp(got, cases[i].msg) != 0)
            fail_msg("case %zu:\n%s\nwant: %s\ngot:  %s", i, cases[i].yaml, cases[i].msg, got);
    }
}

static void test_config_relabel_errors_match_promtool(void **state)
{
    (void)state;
    static const struct {
        const char *rule, *msg;
    } cases[] = {
        {"{action: hashmod, target_label: x}",
         "relabel configuration for hashmod requires non-zero modulus"},
        {"{action: foo}", "unknown relabel action \"foo\""},
        {"{action: ''}", "unknown relabel action \"\""},
        {"{action: replace, source_labels: [a]}",
         "relabel configuration for replace action requires 'target_label' value"},
        {"{action: lowercase, source_labels: [a]}",
         "relabel configuration for lowercase action requires 'target_label' value"},
        {"{action: keepequal, source_labels: [a]}",
         "relabel configuration for keepequal action requires 'target_label' value"},
        {"{target_label: '1x'}", "\"1x\" is invalid 'target_label' for replace action"},
        {"{action: labelmap, replacement: 'x-'}",
         "\"x-\" is invalid 'replacement' for labelmap action"},
        {"{action: hashmod, target_label: '$1', modulus: 2}",
         "\"$1\" is invalid 'target_label' for hashmod action"},
        {"{action: uppercase, target_label: '$1'}",
         "\"$1\" is invalid 'target_label' for uppercase action"},
        {"{action: lowercase, target_label: a, replacement: x}",
         "'replacement' can not be set for lowercase action"},
        {"{action: keepequal, target_label: a, regex: x}",
         "keepequal action requires only 'source_labels' and `target_label`, and no other fields"},
        {"{action: dropequal, target_label: a, separator: ','}",
         "dropequal action requires only 'source_labels' and `target_label`, and no other fields"},
        {"{action: labeldrop, source_labels: [a]}",
         "labeldrop action requires only 'regex', and no other fields"},
        {"{action: labelkeep, target_label: a}",
         "labelkeep action requires only 'regex', and no other fields"},
        {"{action: Replace, target_label: a, source_labels: ['a-b']}",
         "\"a-b\" is not a valid label name"},
        {"{target_label: a, regex: '['}", "error parsing regexp: missing closing ]: `[)$`"},
        {"{target_label: a, regex: 'a(?=b)'}",
         "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"},
        {"{target_label: a, regex: 'a)'}", "error parsing regexp: unexpected ): `^(?:a))$`"},
        {"{target_label: a, regex: '(a'}", "error parsing regexp: missing closing ): `^(?:(a)$`"},
        {"{target_label: a, regex: '*'}",
         "error parsing regexp: missing argument to repetition operator: `*`"},
        {"{target_label: a, regex: '\\1'}", "error parsing regexp: invalid escape sequence: `\\1`"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[512], want[512];
        snprintf(yaml, sizeof(yaml), "scrape_configs: [{job_name: j, relabel_configs: [%s]}]",
                 cases[i].rule);
        snprintf(want, sizeof(want), "t.yml:1: %s", cases[i].msg);
        const char *got = cfg_err(yaml);
        if (strcmp(got, want) != 0)
            fail_msg("case %zu: %s\nwant: %s\ngot:  %s", i, cases[i].rule, want, got);
    }
}

static void test_config_known_unsupported_keys_warn(void **state)
{
    (void)state;
    struct coll_config *cfg =
        cfg_ok("remote_read: [{url: 'http://x'}]\n"
               "scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs: [{role: pod}]\n");
    assert_int_equal(cfg->nwarnings, 2);
    assert_string_equal(cfg->warnings[0],
                        "t.yml:1: remote_read is not supported by promlite and is ignored");
    assert_string_equal(
        cfg->warnings[1],
        "t.yml:4: kubernetes_sd_configs is not supported by promlite and is ignored");
    coll_config_free(cfg);
}

static void test_config_alias_bomb_fails_fast(void **state)
{
    (void)state;
    /*
     * 1000 jobs share static_configs of 1000 aliased groups, each aliasing
     * 1000 targets: 10^9 targets if walked naively, in under 50 KB of YAML.
     */
    size_t cap = 64 * 1024, n = 0;
    char *yaml = malloc(cap);
    assert_non_null(yaml);
    n += (size_t)snprintf(yaml + n, cap - n, "x: &t [");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(yaml + n, cap - n, "%sa:1", i ? "," : "");
    n += (size_t)snprintf(yaml + n, cap - n, "]\n");
    /* The anchors sit under an unknown key here; a valid file puts them in a job. */
    const char *msg = cfg_err(yaml);
    assert_non_null(strstr(msg, "field x not found"));
    n = 0;
    n += (size_t)snprintf(yaml + n, cap - n,
                          "scrape_configs:\n  - job_name: j0\n    static_configs: &s\n"
                          "      - &g {targets: &t [");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(yaml + n, cap - n, "%sa:1", i ? "," : "");
    n += (size_t)snprintf(yaml + n, cap - n, "]}\n");
    for (int i = 1; i < 1000; i++)
        n += (size_t)snprintf(yaml + n, cap - n, "      - *g\n");
    for (int i = 1; i < 1000; i++)
        n += (size_t)snprintf(yaml + n, cap - n, "  - {job_name: j%d, static_configs: *s}\n", i);
    assert_true(n < cap - 1);
    int64_t t0 = pl_mono_ns();
    msg = cfg_err(yaml);
    assert_non_null(strstr(msg, "document contains excessive aliasing"));
    /* Bounded work: well under a few seconds even in a sanitizer build. */
    assert_true(pl_mono_ns() - t0 < INT64_C(20) * 1000000000);
    free(yaml);
    /* A self-referencing sequence cannot recurse: the schema makes it a type error. */
    msg = cfg_err("scrape_configs: &s [*s]\n");
    assert_non_null(strstr(msg, "cannot unmarshal"));
}

static void test_config_rule_files_glob_counts_matches(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    write_file(dir, "a.yml", "groups: []\n");
    write_file(dir, "b.yml", "groups: []\n");
    write_file(dir, "c.txt", "x\n");
    char yaml[1024];
    snprintf(yaml, sizeof(yaml), "rule_files: ['%s/*.yml', '%s/none/*.yml']\n", dir, dir);
    struct coll_config *cfg = cfg_ok(yaml);
    struct pl_err err;
    assert_int_equal(coll_config_rule_files(cfg, NULL, NULL, &err), 2);
    coll_config_free(cfg);
    tmpdir_rm(dir);
}

int test_config_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_minimal_gets_prometheus_defaults),
        cmocka_unit_test(test_config_empty_document_is_valid),
        cmocka_unit_test(test_config_short_global_interval_caps_default_timeout),
        cmocka_unit_test(test_config_reference_capture_parses),
        cmocka_unit_test(test_config_default_scrapes_promlite_and_exporter),
        cmocka_unit_test(test_config_relative_paths_resolve_against_config_dir),
        cmocka_unit_test(test_config_bearer_token_becomes_authorization),
        cmocka_unit_test(test_config_values_of_every_type),
        cmocka_unit_test(test_config_sizes_parse_like_units_base2bytes),
        cmocka_unit_test(test_config_errors_match_promtool),
        cmocka_unit_test(test_config_relabel_errors_match_promtool),
        cmocka_unit_test(test_config_known_unsupported_keys_warn),
        cmocka_unit_test(test_config_alias_bomb_fails_fast),
        cmocka_unit_test(test_config_rule_files_glob_counts_matches),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
