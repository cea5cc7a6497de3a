/*
 * test_scrape.c - the scrape loop end to end: a libmicrohttpd target inside
 * the test process on 127.0.0.1 (free port), the scrape manager appending
 * into a tsdb in a mkdtemp directory, and the stored samples read back.
 */
#include "tests.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "collector/scrape.h"
#include "common/buf.h"
#include "common/timeutil.h"
#include "tsdb/tsdb.h"

static atomic_int n_metrics, n_gzip_seen, n_grow, n_ooo;
static atomic_llong om_ts_ms;
static char seen_accept[512], seen_timeout[64], seen_ua[128];
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body, size_t len,
                             const char *ctype, const char *encoding)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", ctype);
    if (encoding)
        MHD_add_response_header(r, "Content-Encoding", encoding);
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)method;
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    const char *text = "text/plain; version=0.0.4; charset=utf-8";
    if (!strcmp(url, "/metrics")) {
        pthread_mutex_lock(&seen_mu);
        const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
        const char *t =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Prometheus-Scrape-Timeout-Seconds");
        const char *u = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
        snprintf(seen_accept, sizeof(seen_accept), "%s", a ? a : "");
        snprintf(seen_timeout, sizeof(seen_timeout), "%s", t ? t : "");
        snprintf(seen_ua, sizeof(seen_ua), "%s", u ? u : "");
        pthread_mutex_unlock(&seen_mu);
        int n = atomic_fetch_add(&n_metrics, 1);
        /* The first scrape has b; later ones lose it (a stale marker follows). */
        const char *body = n == 0 ? "# TYPE a counter\na_total 1\nb{x=\"1\"} 2\n"
                                  : "# TYPE a counter\na_total 2\n";
        return reply(c, 200, body, strlen(body), text, NULL);
    }
    if (!strcmp(url, "/steady")) {
        const char *body = "st_a 1\nst_b{x=\"1\"} 2\n";
        return reply(c, 200, body, strlen(body), text, NULL);
    }
    if (!strcmp(url, "/limited")) {
        const char *body = "s1 1\ns2 2\ns3 3\n";
        return reply(c, 200, body, strlen(body), text, NULL);
    }
    if (!strcmp(url, "/grow")) {
        /* Two samples first, then over the sample limit of 2 (k1 gone). */
        const char *body =
            atomic_fetch_add(&n_grow, 1) == 0 ? "g1 1\nk1 1\n" : "g1 1\ng2 2\ng3 3\n";
        return reply(c, 200, body, strlen(body), text, NULL);
    }
    if (!strcmp(url, "/dup")) {
        /* One series twice with different values: the second is a duplicate timestamp. */
        const char *body = "d 1\nd 2\n";
        return reply(c, 200, body, strlen(body), text, NULL);
    }
    if (!strcmp(url, "/ooo")) {
        /* An exposed timestamp going back a minute after the first scrape. */
        int64_t ts = pl_time_now_ms() - (atomic_fetch_add(&n_ooo, 1) == 0 ? 0 : 60000);
        char body[64];
        snprintf(body, sizeof(body), "o 1 %lld\n", (long long)ts);
        return reply(c, 200, body, strlen(body), text, NULL);
    }
    if (!strcmp(url, "/host")) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
        char body[256];
        snprintf(body, sizeof(body), "host_seen{host=\"%.200s\"} 1\n", h ? h : "");
        return reply(c, 200, body, strlen(body), text, NULL);
    }
    if (!strcmp(url, "/honor")) {
        const char *body = "demo_total{job=\"fromtarget\",instance=\"x\"} 42\n";
        return reply(c, 200, body, strlen(body), text, NULL);
    }
    if (!strcmp(url, "/late")) {
        usleep(300 * 1000);
        return reply(c, 200, "late 1\n", 7, text, NULL);
    }
    if (!strcmp(url, "/slow")) {
        usleep(600 * 1000);
        return reply(c, 200, "slow 1\n", 7, text, NULL);
    }
    if (!strcmp(url, "/gzip")) {
        const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
        if (!ae || !strstr(ae, "gzip"))
            return reply(c, 406, "gzip please\n", 12, "text/plain", NULL);
        atomic_fetch_add(&n_gzip_seen, 1);
        const char *body = "zipped_metric{k=\"v\"} 7\n";
        unsigned char out[256];
        z_stream z;
        memset(&z, 0, sizeof(z));
        deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        z.next_in = (unsigned char *)body;
        z.avail_in = (uInt)strlen(body);
        z.next_out = out;
        z.avail_out = sizeof(out);
        deflate(&z, Z_FINISH);
        size_t n = sizeof(out) - z.avail_out;
        deflateEnd(&z);
        return reply(c, 200, (const char *)out, n, text, "gzip");
    }
    if (!strcmp(url, "/auth")) {
        char *pass = NULL;
        char *user = MHD_basic_auth_get_username_password(c, &pass);
        int ok = user && pass && !strcmp(user, "u") && !strcmp(pass, "secret");
        MHD_free(user);
        MHD_free(pass);
        if (!ok)
            return reply(c, 401, "no\n", 3, "text/plain", NULL);
        return reply(c, 200, "authed 1\n", 9, text, NULL);
    }
    if (!strcmp(url, "/big")) {
        static char big[8192];
        for (size_t i = 0; i + 8 < sizeof(big); i += 8)
            memcpy(big + i, "# pad.\n\n", 8);
        big[sizeof(big) - 1] = '\n';
        return reply(c, 200, big, sizeof(big), text, NULL);
    }
    if (!strcmp(url, "/openmetrics")) {
        /* A recent timestamp with a fraction, remembered for the check. */
        int64_t sec = pl_time_now_ms() / 1000 - 10;
        atomic_store(&om_ts_ms, sec * 1000 + 500);
        char body[128];
        snprintf(body, sizeof(body), "# TYPE om counter\nom_total 5 %lld.5\n# EOF\n",
                 (long long)sec);
        return reply(c, 200, body, strlen(body),
                     "application/openmetrics-text; version=1.0.0; charset=utf-8", NULL);
    }
    return reply(c, 404, "not found\n", 10, "text/plain", NULL);
}

struct fixture {
    struct MHD_Daemon *d;
    int port;
    char *dir;
    struct tsdb *db;
    struct coll_scrape_manager *m;
};

static void start_target(struct fixture *f)
{
    /* Port 0 on loopback only: the kernel picks a free port, read back below. */
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                            NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
    assert_non_null(f->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    f->port = info->port;
    assert_true(f->port > 0);
}

static void setup_with(struct fixture *f, const char *yaml_fmt, struct coll_scrape_options *so);

static void setup_all(struct fixture *f, const char *yaml_fmt)
{
    struct coll_scrape_options so = {.user_agent = "promlite-test", .scrape_immediately = 1};
    setup_with(f, yaml_fmt, &so);
}

static void setup_with(struct fixture *f, const char *yaml_fmt, struct coll_scrape_options *so)
{
    memset(f, 0, sizeof(*f));
    atomic_store(&n_metrics, 0);
    atomic_store(&n_grow, 0);
    start_target(f);
    f->dir = tmpdir_new();
    struct tsdb_options o;
    tsdb_options_init(&o);
    char path[600];
    snprintf(path, sizeof(path), "%s/data", f->dir);
    o.path = path;
    o.sync = TSDB_SYNC_NONE;
    struct pl_err err;
    if (tsdb_open(&o, &f->db, &err) != 0)
        fail_msg("tsdb_open: %s", err.msg);
    assert_int_equal(coll_scrape_manager_new(f->db, so, &f->m, &err), 0);
    char yaml[4096];
    snprintf(yaml, sizeof(yaml), yaml_fmt, f->port, f->port, f->port, f->port, f->port, f->port,
             f->port, f->port, f->port);
    struct coll_config *cfg = cfg_ok(yaml);
    assert_int_equal(coll_scrape_manager_apply(f->m, cfg, &err), 0);
}

static void teardown_all(struct fixture *f)
{
    coll_scrape_manager_free(f->m);
    tsdb_close(f->db);
    MHD_stop_daemon(f->d);
    tmpdir_rm(f->dir);
}

/* Waits until at least `n` scrapes finished (ok or failed), at most 10 s. */
static void wait_scrapes(struct fixture *f, uint64_t n)
{
    for (int i = 0; i < 1000; i++) {
        struct coll_scrape_stats st;
        coll_scrape_stats_get(f->m, &st);
        if (st.scrapes_ok + st.scrapes_failed >= n)
            return;
        usleep(10000);
    }
    fail_msg("scrapes did not happen in time");
}

/* Samples of the one series selected by `sel` (e.g. `up{job="a"}`). */
static size_t samples(struct fixture *f, const char *sel, double *vals, int64_t *ts, size_t max)
{
    struct pl_labels *want = ls_parse(sel);
    struct tsdb_matcher *ms[16];
    size_t nm = 0;
    for (uint32_t i = 0; i < want->n; i++) {
        struct pl_err err;
        assert_int_equal(
            tsdb_matcher_new(TSDB_MATCH_EQ, want->v[i].name, want->v[i].value, &ms[nm++], &err), 0);
    }
    struct tsdb_querier *q;
    struct pl_err err;
    assert_int_equal(tsdb_querier_open(f->db, 0, INT64_MAX / 2, &q, &err), 0);
    struct tsdb_series_set *ss;
    assert_int_equal(tsdb_select(q, ms, nm, &ss, &err), 0);
    const struct pl_labels *ls;
    size_t n = 0, nseries = 0;
    struct tsdb_samples s;
    tsdb_samples_init(&s);
    while (tsdb_series_set_next(ss, &ls) == 1) {
        nseries++;
        assert_int_equal(tsdb_series_set_samples(ss, 0, INT64_MAX / 2, &s, &err), 0);
        for (size_t i = 0; i < s.n && n < max; i++, n++) {
            vals[n] = s.v[i];
            if (ts)
                ts[n] = s.t[i];
        }
    }
    tsdb_samples_fini(&s);
    tsdb_series_set_free(ss);
    tsdb_querier_close(q);
    for (size_t i = 0; i < nm; i++)
        tsdb_matcher_free(ms[i]);
    pl_labels_free(want);
    if (nseries > 1)
        fail_msg("%s selects %zu series", sel, nseries);
    return n;
}

static void test_scrape_stores_samples_synthetic_series_and_staleness(void **state)
{
    (void)state;
    struct fixture f;
    setup_all(&f, "scrape_configs:\n"
                  "  - job_name: app\n"
                  "    scrape_interval: 300ms\n"
                  "    scrape_timeout: 250ms\n"
                  "    static_configs: [{targets: ['127.0.0.1:%d'], labels: {env: t}}]\n");
    wait_scrapes(&f, 3);
    char inst[64], sel[256];
    snprintf(inst, sizeof(inst), "127.0.0.1:%d", f.port);
    double v[64];
    int64_t ts[64];
    snprintf(sel, sizeof(sel), "a_total{job=\"app\", instance=\"%s\", env=\"t\"}", inst);
    size_t n = samples(&f, sel, v, ts, 64);
    assert_true(n >= 3);
    assert_true(v[0] == 1.0 && v[1] == 2.0);
    /* b vanished after the first scrape: its next sample is the stale marker. */
    snprintf(sel, sizeof(sel), "b{job=\"app\", instance=\"%s\", env=\"t\", x=\"1\"}", inst);
    n = samples(&f, sel, v, NULL, 64);
    assert_int_equal(n, 2);
    assert_true(v[0] == 2.0);
    assert_true(tsdb_is_stale_nan(v[1]));
    /* The synthetic series of the first scrape. */
    static const struct {
        const char *name;
        double want;
    } syn[] = {{"up", 1},
               {"scrape_samples_scraped", 2},
               {"scrape_samples_post_metric_relabeling", 2},
               {"scrape_series_added", 2}};
    for (size_t i = 0; i < sizeof(syn) / sizeof(syn[0]); i++) {
        snprintf(sel, sizeof(sel), "%s{job=\"app\", instance=\"%s\", env=\"t\"}", syn[i].name,
                 inst);
        n = samples(&f, sel, v, NULL, 64);
        assert_true(n >= 3);
        if (v[0] != syn[i].want)
            fail_msg("%s = %g, want %g", syn[i].name, v[0], syn[i].want);
    }
    snprintf(sel, sizeof(sel), "scrape_series_added{job=\"app\", instance=\"%s\", env=\"t\"}",
             inst);
    n = samples(&f, sel, v, NULL, 64);
    assert_true(v[1] == 0.0); /* nothing new in the second scrape */
    snprintf(sel, sizeof(sel), "scrape_duration_seconds{job=\"app\", instance=\"%s\", env=\"t\"}",
             inst);
    n = samples(&f, sel, v, NULL, 64);
    assert_true(v[0] > 0 && v[0] < 0.25);
    /* The request Prometheus 2.42 sends. */
    pthread_mutex_lock(&seen_mu);
    assert_string_equal(seen_accept, COLL_SCRAPE_ACCEPT);
    assert_string_equal(seen_timeout, "0.25");
    assert_string_equal(seen_ua, "promlite-test");
    pthread_mutex_unlock(&seen_mu);
    /* Target state for /api/v1/targets. */
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(coll_scrape_targets_json(f.m, "active", &b), 0);
    assert_non_null(strstr(b.data, "\"health\":\"up\""));
    assert_non_null(strstr(b.data, "\"scrapePool\":\"app\""));
    assert_non_null(strstr(b.data, "\"lastError\":\"\""));
    assert_non_null(strstr(b.data, "\"scrapeInterval\":\"300ms\""));
    pl_buf_fini(&b);
    teardown_all(&f);
}

/* Each job has one target; checks its `up` and the targets JSON lastError. */
static void expect_up(struct fixture *f, const char *job, double up, const char *err_substr)
{
    char sel[256];
    snprintf(sel, sizeof(sel), "up{job=\"%s\", instance=\"127.0.0.1:%d\"}", job, f->port);
    double v[64];
    size_t n = 0;
    /* Jobs finish their first scrape at different times: wait for this one. */
    for (int i = 0; i < 250 && (n = samples(f, sel, v, NULL, 64)) == 0; i++)
        usleep(20000);
    if (n == 0 || v[0] != up)
        fail_msg("%s: up = %g (n=%zu), want %g", job, n ? v[0] : -1, n, up);
    if (err_substr) {
        struct pl_buf b;
        pl_buf_init(&b, 1 << 20);
        coll_scrape_targets_json(f->m, NULL, &b);
        if (!strstr(b.data, err_substr))
            fail_msg("%s: no \"%s\" in %s", job, err_substr, b.data);
        pl_buf_fini(&b);
    }
}

static void test_scrape_limits_timeouts_gzip_auth_honor(void **state)
{
    (void)state;
    struct fixture f;
    char *dir = tmpdir_new();
    write_file(dir, "pw", "secret\n");
    char yaml[4096];
    snprintf(
        yaml, sizeof(yaml),
        "global: {scrape_interval: 1s, scrape_timeout: 200ms}\n"
        "scrape_configs:\n"
        "  - {job_name: limited, metrics_path: /limited, sample_limit: 2,\n"
        "     static_configs: [{targets: ['127.0.0.1:%%d']}]}\n"
        "  - {job_name: slow, metrics_path: /slow, static_configs: [{targets: "
        "['127.0.0.1:%%d']}]}\n"
        "  - {job_name: gz, metrics_path: /gzip, static_configs: [{targets: ['127.0.0.1:%%d']}]}\n"
        "  - {job_name: auth, metrics_path: /auth, basic_auth: {username: u, password_file: "
        "%s/pw},\n"
        "     static_configs: [{targets: ['127.0.0.1:%%d']}]}\n"
        "  - {job_name: noauth, metrics_path: /auth, static_configs: [{targets: "
        "['127.0.0.1:%%d']}]}\n"
        "  - {job_name: fake, metrics_path: /honor, static_configs: [{targets: "
        "['127.0.0.1:%%d']}]}\n"
        "  - {job_name: honored, honor_labels: true, metrics_path: /honor,\n"
        "     static_configs: [{targets: ['127.0.0.1:%%d']}]}\n"
        "  - {job_name: grow, metrics_path: /grow, sample_limit: 2, scrape_interval: 300ms,\n"
        "     static_configs: [{targets: ['127.0.0.1:%%d']}]}\n"
        "  - {job_name: big, metrics_path: /big, body_size_limit: 1KB,\n"
        "     static_configs: [{targets: ['127.0.0.1:%%d']}]}\n",
        dir);
    setup_all(&f, yaml);
    wait_scrapes(&f, 8);
    double v[16];
    int64_t ts[16];
    char sel[256];
    expect_up(&f, "limited", 0, "sample limit exceeded");
    snprintf(sel, sizeof(sel), "scrape_samples_scraped{job=\"limited\", instance=\"127.0.0.1:%d\"}",
             f.port);
    assert_true(samples(&f, sel, v, NULL, 16) >= 1 && v[0] == 3);
    snprintf(sel, sizeof(sel), "scrape_series_added{job=\"limited\", instance=\"127.0.0.1:%d\"}",
             f.port);
    /* Prometheus 2.42 counts the new series appended before the limit broke, once. */
    size_t nl = samples(&f, sel, v, NULL, 16);
    assert_true(nl >= 1 && v[0] == 2);
    for (size_t i = 1; i < nl; i++)
        assert_true(v[i] == 0);
    assert_int_equal(samples(&f, "{__name__=\"s1\"}", v, NULL, 16), 0);
    expect_up(&f, "slow", 0, "context deadline exceeded");
    expect_up(&f, "gz", 1, NULL);
    assert_true(atomic_load(&n_gzip_seen) >= 1);
    assert_int_equal(samples(&f, "zipped_metric{job=\"gz\", k=\"v\"}", v, ts, 16) >= 1, 1);
    assert_true(v[0] == 7);
    expect_up(&f, "auth", 1, NULL);
    expect_up(&f, "noauth", 0, "server returned HTTP status 401 Unauthorized");
    expect_up(&f, "fake", 1, NULL);
    snprintf(sel, sizeof(sel),
             "demo_total{exported_instance=\"x\", exported_job=\"fromtarget\", "
             "instance=\"127.0.0.1:%d\", job=\"fake\"}",
             f.port);
    assert_true(samples(&f, sel, v, NULL, 16) >= 1 && v[0] == 42);
    for (int i = 0;
         i < 250 && samples(&f, "demo_total{instance=\"x\", job=\"fromtarget\"}", v, NULL, 16) == 0;
         i++)
        usleep(20000);
    assert_true(samples(&f, "demo_total{instance=\"x\", job=\"fromtarget\"}", v, NULL, 16) >= 1);
    expect_up(&f, "big", 0, "body size limit exceeded");
    /*
     * A scrape rejected for its sample limit, as Prometheus 2.42: series it
     * no longer shows (k1) go stale, series it still shows (g1) do not, and
     * scrape_series_added counts the new series appended before the limit
     * broke (g2), while the rejected samples are not stored.
     */
    snprintf(sel, sizeof(sel), "k1{job=\"grow\", instance=\"127.0.0.1:%d\"}", f.port);
    for (int i = 0; i < 100 && samples(&f, sel, v, NULL, 16) < 2; i++)
        usleep(20000);
    if (samples(&f, sel, v, NULL, 16) != 2) {
        struct pl_buf b;
        pl_buf_init(&b, 1 << 20);
        coll_scrape_targets_json(f.m, NULL, &b);
        fprintf(stderr, "TARGETS %s\n", b.data);
        fail_msg("k1: want 2 samples");
    }
    assert_true(v[0] == 1 && tsdb_is_stale_nan(v[1]));
    snprintf(sel, sizeof(sel), "g1{job=\"grow\", instance=\"127.0.0.1:%d\"}", f.port);
    assert_int_equal(samples(&f, sel, v, NULL, 16), 1);
    assert_true(v[0] == 1);
    assert_int_equal(samples(&f, "g2{job=\"grow\"}", v, NULL, 16), 0);
    snprintf(sel, sizeof(sel), "scrape_series_added{job=\"grow\", instance=\"127.0.0.1:%d\"}",
             f.port);
    size_t na = 0;
    for (int i = 0; i < 100 && (na = samples(&f, sel, v, NULL, 16)) < 3; i++)
        usleep(20000);
    if (!(na >= 3 && v[0] == 2 && v[1] == 1 && v[2] == 0))
        fail_msg("scrape_series_added of grow: n=%zu %g %g %g", na, v[0], v[1], v[2]);
    teardown_all(&f);
    tmpdir_rm(dir);
}

static void test_scrape_reload_keeps_targets_and_stales_removed(void **state)
{
    (void)state;
    struct fixture f;
    setup_all(&f,
              "scrape_configs:\n"
              "  - {job_name: keep, scrape_interval: 200ms, scrape_timeout: 150ms,\n"
              "     static_configs: [{targets: ['127.0.0.1:%d']}]}\n"
              "  - {job_name: om, scrape_interval: 200ms, scrape_timeout: 150ms,\n"
              "     metrics_path: /openmetrics, static_configs: [{targets: ['127.0.0.1:%d']}]}\n");
    wait_scrapes(&f, 4);
    double v[64];
    int64_t ts[64];
    /* OpenMetrics timestamps are honoured (seconds, to ms). */
    assert_true(samples(&f, "om_total{job=\"om\"}", v, ts, 64) >= 1);
    assert_true(ts[0] % 1000 == 500 && ts[0] <= atomic_load(&om_ts_ms) && v[0] == 5);
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "scrape_configs:\n"
             "  - {job_name: keep, scrape_interval: 200ms, scrape_timeout: 150ms,\n"
             "     static_configs: [{targets: ['127.0.0.1:%d']}]}\n",
             f.port);
    struct pl_err err;
    assert_int_equal(coll_scrape_manager_apply(f.m, cfg_ok(yaml), &err), 0);
    struct coll_scrape_stats st;
    coll_scrape_stats_get(f.m, &st);
    wait_scrapes(&f, st.scrapes_ok + st.scrapes_failed + 3);
    char sel[256];
    /* The kept target's series had no gap: scrape_series_added stays 0 after reload. */
    snprintf(sel, sizeof(sel), "scrape_series_added{job=\"keep\", instance=\"127.0.0.1:%d\"}",
             f.port);
    size_t n = samples(&f, sel, v, NULL, 64);
    assert_true(n >= 5);
    for (size_t i = 1; i < n; i++)
        assert_true(v[i] == 0);
    /* The removed job's target got stale markers on its report series. */
    snprintf(sel, sizeof(sel), "up{job=\"om\", instance=\"127.0.0.1:%d\"}", f.port);
    n = samples(&f, sel, v, NULL, 64);
    assert_true(n >= 2);
    assert_true(tsdb_is_stale_nan(v[n - 1]));
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    coll_scrape_targets_json(f.m, "any", &b);
    assert_null(strstr(b.data, "\"scrapePool\":\"om\""));
    /* Reloads that bring the job back and drop it again reuse and free its pool. */
    char yaml2[1024];
    snprintf(yaml2, sizeof(yaml2),
             "scrape_configs:\n"
             "  - {job_name: om, scrape_interval: 200ms, scrape_timeout: 150ms,\n"
             "     metrics_path: /openmetrics, static_configs: [{targets: ['127.0.0.1:%d']}]}\n",
             f.port);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(coll_scrape_manager_apply(f.m, cfg_ok(round == 1 ? yaml : yaml2), &err),
                         0);
        int found = -1;
        for (int i = 0; i < 200; i++) {
            pl_buf_reset(&b);
            coll_scrape_targets_json(f.m, "active", &b);
            found = strstr(b.data, "\"scrapePool\":\"om\"") != NULL;
            if (found == (round != 1))
                break;
            usleep(10000);
        }
        assert_int_equal(found, round != 1);
    }
    pl_buf_fini(&b);
    teardown_all(&f);
}

struct observed {
    atomic_int interval, sync;
};

static void observe(void *ud, enum coll_scrape_obs kind, const char *job, int64_t interval_ms,
                    double seconds)
{
    struct observed *o = ud;
    if (kind == COLL_SCRAPE_OBS_INTERVAL && !strcmp(job, "ok") && interval_ms == 300 &&
        seconds > 0.1 && seconds < 2)
        atomic_fetch_add(&o->interval, 1);
    if (kind == COLL_SCRAPE_OBS_SYNC && seconds >= 0)
        atomic_fetch_add(&o->sync, 1);
}

struct pool_snap {
    struct coll_pool_stats v[16];
    char jobs[16][32];
    size_t n;
};

static void snap_pool(const struct coll_pool_stats *ps, void *ud)
{
    struct pool_snap *s = ud;
    assert_true(s->n < 16);
    s->v[s->n] = *ps;
    snprintf(s->jobs[s->n], sizeof(s->jobs[0]), "%s", ps->job);
    s->v[s->n].job = s->jobs[s->n];
    s->n++;
}

static const struct coll_pool_stats *snap_job(struct pool_snap *s, const char *job)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].job, job))
            return &s->v[i];
    fail_msg("no counters for job %s", job);
    return NULL;
}

static uint64_t total_scrapes(const struct coll_pool_stats *p)
{
    uint64_t n = 0;
    for (int k = 0; k < COLL_SCRAPE_NOUTCOMES; k++)
        n += p->scrapes[k];
    return n;
}

/* Per-job counters: each way a scrape ends, refused samples, durations, targets, reloads. */
static void test_scrape_pool_stats_count_outcomes_and_refused_samples(void **state)
{
    (void)state;
    struct fixture f;
    memset(&f, 0, sizeof(f));
    atomic_store(&n_ooo, 0);
    start_target(&f);
    f.dir = tmpdir_new();
    struct tsdb_options o;
    tsdb_options_init(&o);
    char path[600];
    snprintf(path, sizeof(path), "%s/data", f.dir);
    o.path = path;
    o.sync = TSDB_SYNC_NONE;
    struct pl_err err;
    if (tsdb_open(&o, &f.db, &err) != 0)
        fail_msg("tsdb_open: %s", err.msg);
    struct observed obs = {0};
    struct coll_scrape_options so = {
        .scrape_immediately = 1, .observe = observe, .observe_ud = &obs};
    assert_int_equal(coll_scrape_manager_new(f.db, &so, &f.m, &err), 0);
    char yaml[4096];
    snprintf(yaml, sizeof(yaml),
             "global: {scrape_interval: 300ms, scrape_timeout: 200ms}\n"
             "scrape_configs:\n"
             "  - {job_name: ok, static_configs: [{targets: ['127.0.0.1:%d']}]}\n"
             "  - {job_name: dead, static_configs: [{targets: ['127.0.0.1:1']}]}\n"
             "  - {job_name: limited, metrics_path: /limited, sample_limit: 2,\n"
             "     static_configs: [{targets: ['127.0.0.1:%d']}]}\n"
             "  - {job_name: slow, metrics_path: /slow, static_configs: [{targets: "
             "['127.0.0.1:%d']}]}\n"
             "  - {job_name: big, metrics_path: /big, body_size_limit: 1KB,\n"
             "     static_configs: [{targets: ['127.0.0.1:%d']}]}\n"
             "  - {job_name: dup, metrics_path: /dup, static_configs: [{targets: "
             "['127.0.0.1:%d']}]}\n"
             "  - {job_name: ooo, metrics_path: /ooo, static_configs: [{targets: "
             "['127.0.0.1:%d']}]}\n",
             f.port, f.port, f.port, f.port, f.port, f.port);
    assert_int_equal(coll_scrape_manager_apply(f.m, cfg_ok(yaml), &err), 0);
    /* Every job scraped at least twice. */
    struct pool_snap s;
    for (int i = 0; i < 500; i++) {
        memset(&s, 0, sizeof(s));
        coll_scrape_pools_foreach(f.m, snap_pool, &s, NULL);
        int all = s.n == 7;
        for (size_t k = 0; all && k < s.n; k++)
            all = total_scrapes(&s.v[k]) >= 2;
        if (all)
            break;
        usleep(20000);
    }
    assert_int_equal(s.n, 7);
    static const struct {
        const char *job;
        enum coll_scrape_outcome o;
    } want[] = {{"ok", COLL_SCRAPE_SUCCESS},           {"dead", COLL_SCRAPE_ERROR},
                {"limited", COLL_SCRAPE_SAMPLE_LIMIT}, {"slow", COLL_SCRAPE_TIMEOUT},
                {"big", COLL_SCRAPE_BODY_SIZE_LIMIT},  {"dup", COLL_SCRAPE_SUCCESS},
                {"ooo", COLL_SCRAPE_SUCCESS}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct coll_pool_stats *p = snap_job(&s, want[i].job);
        uint64_t n = total_scrapes(p);
        if (n < 2 || p->scrapes[want[i].o] != n)
            fail_msg("%s: %llu of %llu scrapes ended as %s", want[i].job,
                     (unsigned long long)p->scrapes[want[i].o], (unsigned long long)n,
                     coll_scrape_outcome_names[want[i].o]);
        uint64_t hist = 0;
        for (int b = 0; b <= COLL_SCRAPE_DURATION_NBOUNDS; b++)
            hist += p->duration_buckets[b];
        assert_true(hist == n);
        assert_true(p->configured && p->targets == 1 && p->discovered == 1 && p->syncs >= 1);
        /* Failed scrapes still store up and the other report series. */
        assert_true(p->samples_appended >= 5 * (n - 1)); /* the last may await its group commit */
    }
    const struct coll_pool_stats *ok = snap_job(&s, "ok");
    assert_true(ok->series_added == 2); /* a_total and b: scrape_series_added summed */
    assert_true(ok->duration_sum > 0 && ok->duration_sum < 0.2 * (double)total_scrapes(ok));
    /* The slow target's scrapes last about the timeout. */
    const struct coll_pool_stats *slow = snap_job(&s, "slow");
    assert_true(slow->duration_sum >= 0.15 * (double)total_scrapes(slow));
    /* Each scrape of /dup refuses its second sample. */
    const struct coll_pool_stats *dup = snap_job(&s, "dup");
    assert_true(dup->duplicate_timestamp >= total_scrapes(dup) - 1 &&
                dup->duplicate_timestamp <= total_scrapes(dup));
    assert_true(snap_job(&s, "ooo")->out_of_order >= 1);
    assert_true(snap_job(&s, "ok")->out_of_order == 0 && ok->duplicate_timestamp == 0);
    assert_true(atomic_load(&obs.interval) >= 1);
    assert_true(atomic_load(&obs.sync) >= 7);
    /* A reload without `dead`: its counters stay but it is no longer configured. */
    uint64_t dead_err = snap_job(&s, "dead")->scrapes[COLL_SCRAPE_ERROR];
    snprintf(yaml, sizeof(yaml),
             "scrape_configs:\n"
             "  - {job_name: ok, scrape_interval: 300ms, scrape_timeout: 200ms,\n"
             "     static_configs: [{targets: ['127.0.0.1:%d']}]}\n",
             f.port);
    assert_int_equal(coll_scrape_manager_apply(f.m, cfg_ok(yaml), &err), 0);
    uint64_t reloads = 0;
    memset(&s, 0, sizeof(s));
    coll_scrape_pools_foreach(f.m, snap_pool, &s, &reloads);
    assert_true(reloads == 1); /* `ok` was kept */
    assert_false(snap_job(&s, "dead")->configured);
    assert_true(snap_job(&s, "ok")->configured);
    assert_true(snap_job(&s, "dead")->scrapes[COLL_SCRAPE_ERROR] >= dead_err);
    teardown_all(&f);
}

/* tls_config.server_name: SNI and verification use the name, the connection the address. */
static void test_scrape_tls_server_name_verifies_against_the_name(void **state);

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return strdup(buf);
}

static void test_scrape_tls_with_ca_file_and_skip_verify(void **state)
{
    (void)state;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        skip();
    char *dir = tmpdir_new();
    char cmd[2048];
    /* A self-signed certificate for 127.0.0.1, made for this test. */
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s/cert.pem "
             "-days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             dir, dir);
    if (system(cmd) != 0)
        fail_msg("openssl could not make a certificate");
    char path[700];
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    char *key = read_all(path);
    snprintf(path, sizeof(path), "%s/cert.pem", dir);
    char *cert = read_all(path);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *tls = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_TLS, 0, NULL,
        NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_HTTPS_MEM_KEY, key,
        MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_END);
    assert_non_null(tls);
    int port = MHD_get_daemon_info(tls, MHD_DAEMON_INFO_BIND_PORT)->port;
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "global: {scrape_interval: 1s, scrape_timeout: 900ms}\n"
             "scrape_configs:\n"
             "  - {job_name: ca, scheme: https, tls_config: {ca_file: %s/cert.pem},\n"
             "     static_configs: [{targets: ['127.0.0.1:%%d']}]}\n"
             "  - {job_name: skip, scheme: https, tls_config: {insecure_skip_verify: true},\n"
             "     static_configs: [{targets: ['127.0.0.1:%%d']}]}\n"
             "  - {job_name: untrusted, scheme: https,\n"
             "     static_configs: [{targets: ['127.0.0.1:%%d']}]}\n",
             dir);
    char yaml2[2048];
    snprintf(yaml2, sizeof(yaml2), yaml, port, port, port);
    struct fixture f;
    /* setup_all formats with its own port; yaml2 has none left to fill. */
    setup_all(&f, yaml2);
    wait_scrapes(&f, 3);
    double v[8];
    char sel[128];
    snprintf(sel, sizeof(sel), "up{job=\"ca\", instance=\"127.0.0.1:%d\"}", port);
    assert_true(samples(&f, sel, v, NULL, 8) >= 1 && v[0] == 1);
    snprintf(sel, sizeof(sel), "up{job=\"skip\", instance=\"127.0.0.1:%d\"}", port);
    assert_true(samples(&f, sel, v, NULL, 8) >= 1 && v[0] == 1);
    snprintf(sel, sizeof(sel), "up{job=\"untrusted\", instance=\"127.0.0.1:%d\"}", port);
    assert_true(samples(&f, sel, v, NULL, 8) >= 1 && v[0] == 0);
    snprintf(sel, sizeof(sel), "a_total{job=\"ca\", instance=\"127.0.0.1:%d\"}", port);
    assert_true(samples(&f, sel, v, NULL, 8) >= 1);
    teardown_all(&f);
    MHD_stop_daemon(tls);
    free(key);
    free(cert);
    tmpdir_rm(dir);
}

static void test_scrape_tls_server_name_verifies_against_the_name(void **state)
{
    (void)state;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        skip();
    char *dir = tmpdir_new();
    char cmd[2048];
    /* A self-signed certificate for a DNS name only: 127.0.0.1 does not match it. */
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s/cert.pem "
             "-days 1 -subj /CN=metrics.promlite.test "
             "-addext subjectAltName=DNS:metrics.promlite.test >/dev/null 2>&1",
             dir, dir);
    if (system(cmd) != 0)
        fail_msg("openssl could not make a certificate");
    char path[700];
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    char *key = read_all(path);
    snprintf(path, sizeof(path), "%s/cert.pem", dir);
    char *cert = read_all(path);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *tls = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_TLS, 0, NULL,
        NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_HTTPS_MEM_KEY, key,
        MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_END);
    assert_non_null(tls);
    int port = MHD_get_daemon_info(tls, MHD_DAEMON_INFO_BIND_PORT)->port;
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "global: {scrape_interval: 1s, scrape_timeout: 900ms}\n"
             "scrape_configs:\n"
             "  - {job_name: named, scheme: https, metrics_path: /host,\n"
             "     tls_config: {ca_file: %s/cert.pem, server_name: metrics.promlite.test},\n"
             "     static_configs: [{targets: ['127.0.0.1:%%d']}]}\n"
             "  - {job_name: unnamed, scheme: https, tls_config: {ca_file: %s/cert.pem},\n"
             "     static_configs: [{targets: ['127.0.0.1:%%d']}]}\n"
             "  - {job_name: wrong, scheme: https,\n"
             "     tls_config: {ca_file: %s/cert.pem, server_name: other.promlite.test},\n"
             "     static_configs: [{targets: ['127.0.0.1:%%d']}]}\n",
             dir, dir, dir);
    char yaml2[2048];
    snprintf(yaml2, sizeof(yaml2), yaml, port, port, port);
    struct fixture f;
    setup_all(&f, yaml2);
    wait_scrapes(&f, 3);
    double v[8];
    char sel[160];
    snprintf(sel, sizeof(sel), "up{job=\"named\", instance=\"127.0.0.1:%d\"}", port);
    assert_true(samples(&f, sel, v, NULL, 8) >= 1 && v[0] == 1);
    /* The request still names the target's address in Host, as Prometheus sends it. */
    snprintf(sel, sizeof(sel), "host_seen{job=\"named\", host=\"127.0.0.1:%d\"}", port);
    assert_true(samples(&f, sel, v, NULL, 8) >= 1 && v[0] == 1);
    snprintf(sel, sizeof(sel), "up{job=\"unnamed\", instance=\"127.0.0.1:%d\"}", port);
    assert_true(samples(&f, sel, v, NULL, 8) >= 1 && v[0] == 0);
    snprintf(sel, sizeof(sel), "up{job=\"wrong\", instance=\"127.0.0.1:%d\"}", port);
    assert_true(samples(&f, sel, v, NULL, 8) >= 1 && v[0] == 0);
    /* The error names the target's URL, not the rewritten one. */
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    assert_int_equal(coll_scrape_targets_json(f.m, NULL, &b), 0);
    char url[96];
    snprintf(url, sizeof(url), "Get \\\"https://127.0.0.1:%d/metrics\\\"", port);
    if (!strstr(b.data, url))
        fail_msg("no %s in %s", url, b.data);
    pl_buf_fini(&b);
    /* A reload dropping server_name goes back to verifying the address. */
    snprintf(yaml, sizeof(yaml),
             "scrape_configs:\n"
             "  - {job_name: named, scheme: https, metrics_path: /host, scrape_interval: 300ms,\n"
             "     scrape_timeout: 250ms, tls_config: {ca_file: %s/cert.pem},\n"
             "     static_configs: [{targets: ['127.0.0.1:%d']}]}\n",
             dir, port);
    struct pl_err err;
    assert_int_equal(coll_scrape_manager_apply(f.m, cfg_ok(yaml), &err), 0);
    struct coll_scrape_stats st;
    coll_scrape_stats_get(f.m, &st);
    wait_scrapes(&f, st.scrapes_ok + st.scrapes_failed + 3);
    snprintf(sel, sizeof(sel), "up{job=\"named\", instance=\"127.0.0.1:%d\"}", port);
    double all[64];
    size_t n = samples(&f, sel, all, NULL, 64);
    assert_true(n < 64);
    memcpy(v, all, sizeof(v));
    v[1] = all[n - 1];
    if (!(n >= 2 && v[0] == 1 && v[1] == 0))
        fail_msg("named after reload: n=%zu first=%g last=%g", n, v[0], v[1]);
    teardown_all(&f);
    MHD_stop_daemon(tls);
    free(key);
    free(cert);
    tmpdir_rm(dir);
}

/* When node_exporter is installed, every series it exposes must be stored. */
static void test_scrape_node_exporter_series_all_stored(void **state)
{
    (void)state;
    const char *bin = "/usr/bin/prometheus-node-exporter";
    if (access(bin, X_OK) != 0)
        skip();
    /* A free loopback port: bind 0, read it, release it for the exporter. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    int port = ntohs(sa.sin_port);
    close(fd);
    char listen[64];
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(bin, bin, listen, (char *)NULL);
        _exit(127);
    }
    char yaml[512];
    snprintf(yaml, sizeof(yaml),
             "scrape_configs:\n  - {job_name: node, scrape_interval: 2s, scrape_timeout: 1s,\n"
             "     static_configs: [{targets: ['127.0.0.1:%d']}]}\n",
             port);
    struct fixture f;
    /* Give the exporter a moment to listen; a refused first scrape is retried. */
    usleep(300 * 1000);
    setup_all(&f, yaml);
    double v[16];
    char sel[128];
    snprintf(sel, sizeof(sel), "up{job=\"node\", instance=\"127.0.0.1:%d\"}", port);
    int up = 0;
    for (int i = 0; i < 100 && !up; i++) {
        size_t n = samples(&f, sel, v, NULL, 16);
        up = n > 0 && v[n - 1] == 1;
        if (!up)
            usleep(100 * 1000);
    }
    assert_true(up);
    snprintf(sel, sizeof(sel), "scrape_samples_scraped{job=\"node\", instance=\"127.0.0.1:%d\"}",
             port);
    size_t n = samples(&f, sel, v, NULL, 16);
    double scraped = v[n - 1];
    assert_true(scraped > 100);
    /* Count the stored series of the job (the 5 synthetic ones excluded). */
    struct tsdb_matcher *m;
    struct pl_err err;
    assert_int_equal(tsdb_matcher_new(TSDB_MATCH_EQ, "job", "node", &m, &err), 0);
    struct tsdb_querier *q;
    assert_int_equal(tsdb_querier_open(f.db, 0, INT64_MAX / 2, &q, &err), 0);
    struct tsdb_series_set *ss;
    assert_int_equal(tsdb_select(q, &m, 1, &ss, &err), 0);
    const struct pl_labels *ls;
    size_t series = 0;
    while (tsdb_series_set_next(ss, &ls) == 1)
        series++;
    tsdb_series_set_free(ss);
    tsdb_querier_close(q);
    tsdb_matcher_free(m);
    teardown_all(&f);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    /* Series come and go between scrapes (e.g. scrape durations of collectors), never fewer. */
    if ((double)(series - 5) < scraped)
        fail_msg("stored %zu series, node_exporter exposed %.0f samples", series - 5, scraped);
}

/* Fails the first group commit and records how many scrapes it held. */
struct commit_faults {
    atomic_int calls;
    atomic_size_t first_n;
};

static int fail_first_commit(void *ud, size_t nscrapes)
{
    struct commit_faults *cf = ud;
    if (atomic_fetch_add(&cf->calls, 1) == 0) {
        atomic_store(&cf->first_n, nscrapes);
        return 1;
    }
    return 0;
}

static void count_errors(const struct coll_pool_stats *ps, void *ud)
{
    uint64_t *c = ud;
    c[0] += ps->scrapes[COLL_SCRAPE_ERROR];
    c[1] += ps->scrapes[COLL_SCRAPE_SUCCESS];
}

/* One pool (its targets arrive together), three targets told apart by a label. */
static const char *const three_targets = "scrape_configs:\n"
                                         "  - job_name: g\n"
                                         "    metrics_path: /steady\n"
                                         "    scrape_interval: 1s\n"
                                         "    scrape_timeout: 500ms\n"
                                         "    static_configs:\n"
                                         "      - {targets: ['127.0.0.1:%d'], labels: {k: '1'}}\n"
                                         "      - {targets: ['127.0.0.1:%d'], labels: {k: '2'}}\n"
                                         "      - {targets: ['127.0.0.1:%d'], labels: {k: '3'}}\n";

/*
 * Scrapes ending together share one commit (fewer WAL records than scrapes);
 * when that commit fails, every scrape of the group fails on its own target
 * and counters, and none of their samples is half stored: the next scrapes
 * store everything again, their series counted as added again.
 */
static void test_scrape_group_commit_fails_every_scrape_of_the_group(void **state)
{
    (void)state;
    struct commit_faults cf = {0};
    struct coll_scrape_options so = {.user_agent = "promlite-test",
                                     .scrape_immediately = 1,
                                     .commit_delay_ms = 200,
                                     .commit_fault = fail_first_commit,
                                     .commit_fault_ud = &cf};
    struct fixture f;
    setup_with(&f, three_targets, &so);
    wait_scrapes(&f, 6);
    /* The three first scrapes started together: they finished within the delay. */
    size_t first = atomic_load(&cf.first_n);
    if (first < 2)
        fail_msg("the first group held %zu scrape(s), want the 3 started together", first);
    struct coll_scrape_stats st;
    coll_scrape_stats_get(f.m, &st);
    assert_int_equal(st.scrapes_failed, first);
    uint64_t c[2] = {0, 0};
    coll_scrape_pools_foreach(f.m, count_errors, c, NULL);
    assert_int_equal(c[0], first);
    assert_int_equal(c[1], st.scrapes_ok);
    struct tsdb_stats ts;
    tsdb_stats_get(f.db, &ts);
    if (ts.wal_records >= st.scrapes_ok)
        fail_msg("%llu WAL records for %llu scrapes: no group commit",
                 (unsigned long long)ts.wal_records, (unsigned long long)st.scrapes_ok);
    /* Each target: nothing of the failed scrape stored, the next one stored in full. */
    char sel[256];
    double v[16];
    size_t total_up = 0;
    for (int k = 1; k <= 3; k++) {
        snprintf(sel, sizeof(sel), "up{job=\"g\", k=\"%d\"}", k);
        size_t n = samples(&f, sel, v, NULL, 16);
        for (size_t i = 0; i < n; i++)
            assert_true(v[i] == 1);
        total_up += n;
        snprintf(sel, sizeof(sel), "st_b{job=\"g\", k=\"%d\", x=\"1\"}", k);
        assert_int_equal(samples(&f, sel, v, NULL, 16), n);
        snprintf(sel, sizeof(sel), "scrape_series_added{job=\"g\", k=\"%d\"}", k);
        if (n > 0) {
            assert_int_equal(samples(&f, sel, v, NULL, 16), n);
            assert_true(v[0] == 2);
        }
    }
    /* One `up` sample per successful scrape, none for the failed ones. */
    coll_scrape_stats_get(f.m, &st);
    assert_true(total_up >= 3 && total_up <= st.scrapes_ok);
    teardown_all(&f);
}

/* With a negative delay every scrape commits alone: one WAL record per scrape. */
static void test_scrape_group_commit_disabled_commits_per_scrape(void **state)
{
    (void)state;
    struct coll_scrape_options so = {
        .user_agent = "promlite-test", .scrape_immediately = 1, .commit_delay_ms = -1};
    struct fixture f;
    setup_with(&f, three_targets, &so);
    wait_scrapes(&f, 6);
    struct coll_scrape_stats st;
    coll_scrape_stats_get(f.m, &st);
    struct tsdb_stats ts;
    tsdb_stats_get(f.db, &ts);
    assert_int_equal(st.scrapes_failed, 0);
    assert_true(ts.wal_records >= st.scrapes_ok);
    teardown_all(&f);
}

/*
 * A series deleted over its whole range while its target is scraped: the
 * cached ref goes stale and the next scrape stores the series again (its
 * labels rebuilt from the cached series text).
 */
static void test_scrape_deleted_series_comes_back(void **state)
{
    (void)state;
    struct fixture f;
    setup_all(&f, "scrape_configs:\n"
                  "  - {job_name: del, metrics_path: /steady, scrape_interval: 200ms,\n"
                  "     scrape_timeout: 150ms, static_configs: [{targets: ['127.0.0.1:%d']}]}\n");
    wait_scrapes(&f, 2);
    struct tsdb_matcher *m;
    struct pl_err err;
    assert_int_equal(tsdb_matcher_new(TSDB_MATCH_EQ, PL_METRIC_NAME, "st_b", &m, &err), 0);
    assert_int_equal(tsdb_delete_series(f.db, &m, 1, INT64_MIN / 2, INT64_MAX / 2, &err), 0);
    tsdb_matcher_free(m);
    int64_t cut = pl_time_now_ms();
    struct coll_scrape_stats st;
    coll_scrape_stats_get(f.m, &st);
    wait_scrapes(&f, st.scrapes_ok + st.scrapes_failed + 3);
    char sel[256];
    double v[64];
    int64_t ts[64];
    snprintf(sel, sizeof(sel), "st_b{job=\"del\", instance=\"127.0.0.1:%d\", x=\"1\"}", f.port);
    size_t n = samples(&f, sel, v, ts, 64);
    if (n < 2)
        fail_msg("st_b has %zu samples after its deletion, want the next scrapes'", n);
    for (size_t i = 0; i < n; i++)
        assert_true(v[i] == 2 && ts[i] >= cut - 250);
    coll_scrape_stats_get(f.m, &st);
    assert_int_equal(st.scrapes_failed, 0);
    teardown_all(&f);
}

/* Makes the first group commit take 1.5 s, as a slow disk's fsync can. */
static int stall_first_commit(void *ud, size_t nscrapes)
{
    (void)nscrapes;
    if (atomic_fetch_add((atomic_int *)ud, 1) == 0)
        usleep(1500 * 1000);
    return 0;
}

static void count_outcomes(const struct coll_pool_stats *ps, void *ud)
{
    uint64_t *c = ud;
    for (int k = 0; k < COLL_SCRAPE_NOUTCOMES; k++)
        c[k] += ps->scrapes[k];
}

/*
 * The scrape thread commits too: a commit stalling it past a scrape's
 * deadline must not fail a target that answered in time. Here /late answers
 * after 0.3 s, within its 1 s timeout, while the commit of /steady's scrape
 * holds the thread from 0.1 s to 1.6 s.
 */
static void test_scrape_stalled_thread_keeps_answers_that_came_in_time(void **state)
{
    (void)state;
    atomic_int calls = 0;
    struct coll_scrape_options so = {.user_agent = "promlite-test",
                                     .scrape_immediately = 1,
                                     .commit_delay_ms = 100,
                                     .commit_fault = stall_first_commit,
                                     .commit_fault_ud = &calls};
    struct fixture f;
    setup_with(&f, "scrape_configs:\n"
                   "  - job_name: s\n"
                   "    scrape_interval: 5s\n"
                   "    scrape_timeout: 1s\n"
                   "    metrics_path: /steady\n"
                   "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                   "  - job_name: l\n"
                   "    scrape_interval: 5s\n"
                   "    scrape_timeout: 1s\n"
                   "    metrics_path: /late\n"
                   "    static_configs: [{targets: ['127.0.0.1:%d']}]\n",
               &so);
    wait_scrapes(&f, 2);
    if (atomic_load(&calls) < 1)
        fail_msg("no commit yet");
    uint64_t c[COLL_SCRAPE_NOUTCOMES] = {0};
    coll_scrape_pools_foreach(f.m, count_outcomes, c, NULL);
    if (c[COLL_SCRAPE_SUCCESS] != 2)
        fail_msg("%llu of 2 scrapes succeeded (%llu timed out)",
                 (unsigned long long)c[COLL_SCRAPE_SUCCESS],
                 (unsigned long long)c[COLL_SCRAPE_TIMEOUT]);
    teardown_all(&f);
}

int test_scrape_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrape_stores_samples_synthetic_series_and_staleness),
        cmocka_unit_test(test_scrape_limits_timeouts_gzip_auth_honor),
        cmocka_unit_test(test_scrape_reload_keeps_targets_and_stales_removed),
        cmocka_unit_test(test_scrape_tls_with_ca_file_and_skip_verify),
        cmocka_unit_test(test_scrape_tls_server_name_verifies_against_the_name),
        cmocka_unit_test(test_scrape_pool_stats_count_outcomes_and_refused_samples),
        cmocka_unit_test(test_scrape_node_exporter_series_all_stored),
        cmocka_unit_test(test_scrape_group_commit_fails_every_scrape_of_the_group),
        cmocka_unit_test(test_scrape_group_commit_disabled_commits_per_scrape),
        cmocka_unit_test(test_scrape_deleted_series_comes_back),
        cmocka_unit_test(test_scrape_stalled_thread_keeps_answers_that_came_in_time),
    };
    return cmocka_run_group_tests_name("scrape", tests, NULL, NULL);
}
