/* test_http.c - the standalone server, the libmicrohttpd handler and the HTTP
 * instrumentation, driven over 127.0.0.1 with libcurl. */
#include "tests.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <strings.h>
#include <microhttpd.h>

struct reply {
    long code;
    char body[65536];
    size_t len;
    char ctype[128];
    char encoding[32];
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t k = sz * n;
    if (r->len + k >= sizeof(r->body))
        return 0;
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = '\0';
    return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t k = sz * n;
    if (k > 17 && strncasecmp(p, "Content-Encoding:", 17) == 0)
        sscanf(p + 17, " %31s", r->encoding);
    return k;
}

/* GETs (or POSTs when post) a URL; accept/encoding may be NULL. */
static void fetch(unsigned port, const char *path, const char *accept, const char *encoding,
                  int post, struct reply *r)
{
    memset(r, 0, sizeof(*r));
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *h = NULL;
    char ah[512];
    if (accept) {
        snprintf(ah, sizeof(ah), "Accept: %s", accept);
        h = curl_slist_append(h, ah);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (encoding)
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, encoding); /* curl decodes */
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct)
        snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void test_server_serves_both_formats_gzip_and_errors(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_family *f;
    struct exp_metric *m;
    struct exp_server *s;
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_counter_new(r, "hits_total", "Hits.", 0, NULL, &f), 0);
    assert_int_equal(exp_family_child(f, NULL, &m), 0);
    exp_counter_add(m, 41);
    assert_int_equal(exp_server_start(r, "127.0.0.1:0", "/metrics", &s), 0);
    unsigned port = exp_server_port(s);
    assert_true(port > 0);
    /* A second server on the same registry shares the promhttp series. */
    struct exp_server *s2;
    assert_int_equal(exp_server_start(r, "127.0.0.1:0", "/other", &s2), 0);
    assert_true(exp_server_port(s2) != port);
    exp_server_stop(s2);

    struct reply *rep = malloc(sizeof(*rep));
    fetch(port, "/metrics", NULL, NULL, 0, rep);
    assert_int_equal(rep->code, 200);
    assert_string_equal(rep->ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(rep->body, "# TYPE hits_total counter\nhits_total 41\n"));
    assert_non_null(strstr(rep->body, "promhttp_metric_handler_requests_in_flight 1\n"));
    assert_null(strstr(rep->body, "# EOF"));

    fetch(port, "/metrics", "application/openmetrics-text;version=1.0.0,text/plain;q=0.5", NULL, 0,
          rep);
    assert_int_equal(rep->code, 200);
    assert_string_equal(rep->ctype, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert_non_null(strstr(rep->body, "# TYPE hits counter\nhits_total 41.0\n"));
    assert_string_equal(rep->body + rep->len - 6, "# EOF\n");

    fetch(port, "/metrics", NULL, "gzip", 0, rep);
    assert_int_equal(rep->code, 200);
    assert_string_equal(rep->encoding, "gzip");
    assert_non_null(strstr(rep->body, "hits_total 41\n")); /* decoded by curl */
    /* Counted after the reply is built, like promhttp: two earlier scrapes. */
    assert_non_null(strstr(rep->body, "promhttp_metric_handler_requests_total{code=\"200\"} 2\n"));

    fetch(port, "/", NULL, NULL, 0, rep);
    assert_int_equal(rep->code, 200);
    assert_non_null(strstr(rep->body, "href=\"/metrics\""));
    fetch(port, "/nope", NULL, NULL, 0, rep);
    assert_int_equal(rep->code, 404);
    fetch(port, "/metrics", NULL, NULL, 1, rep);
    assert_int_equal(rep->code, 405);

    /* A scrape that fails to render is a 500 and is counted as such. */
    exp_registry_set_limit(r, 10);
    fetch(port, "/metrics", NULL, NULL, 0, rep);
    assert_int_equal(rep->code, 500);
    assert_non_null(strstr(rep->body, "size limit"));
    exp_registry_set_limit(r, 1 << 20);
    fetch(port, "/metrics", NULL, NULL, 0, rep);
    assert_non_null(strstr(rep->body, "promhttp_metric_handler_requests_total{code=\"500\"} 1\n"));
    free(rep);
    exp_server_stop(s);
    exp_registry_free(r);
}

static void test_server_rejects_bad_listen_addresses(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_server *s;
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_server_start(r, "127.0.0.1", NULL, &s), EXP_ERR_INVALID);
    assert_int_equal(exp_server_start(r, "127.0.0.1:99999", NULL, &s), EXP_ERR_INVALID);
    assert_int_equal(exp_server_start(r, "127.0.0.1:12x", NULL, &s), EXP_ERR_INVALID);
    assert_int_equal(exp_server_start(r, "[::1:80", NULL, &s), EXP_ERR_INVALID);
    assert_int_equal(exp_server_start(r, "127.0.0.1:0", "metrics", &s), EXP_ERR_INVALID);
    exp_registry_free(r);
}

struct app {
    struct exp_registry *r;
    struct exp_http_metrics *hm;
};

/* An application's own MHD handler: its metrics path and an instrumented page. */
static enum MHD_Result app_handler(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *upload,
                                   size_t *upload_len, void **con_cls)
{
    struct app *a = cls;
    double start = exp_now_monotonic();
    if (strcmp(url, "/custom-metrics") == 0)
        return (enum MHD_Result)exp_mhd_respond(a->r, c);
    unsigned code = strcmp(url, "/hello") == 0 ? 200 : 404;
    static char hello[] = "hello\n";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof(hello) - 1, hello, MHD_RESPMEM_PERSISTENT);
    int ret = exp_http_metrics_queue(a->hm, c, method, code, resp, start);
    MHD_destroy_response(resp);
    return (enum MHD_Result)ret;
}

static void test_mhd_handler_and_instrumentation_in_an_application(void **state)
{
    (void)state;
    struct app a;
    assert_int_equal(exp_registry_new(&a.r), 0);
    assert_int_equal(exp_http_metrics_new(a.r, "app_http", NULL, 0, &a.hm), 0);
    struct exp_http_metrics *dup;
    assert_int_equal(exp_http_metrics_new(a.r, "app_http", NULL, 0, &dup), EXP_ERR_EXISTS);
    assert_int_equal(exp_http_metrics_observe(a.hm, "GET", 42, 1), EXP_ERR_INVALID);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, app_handler, &a, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET,
                                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
        MHD_OPTION_END);
    assert_non_null(d);
    unsigned port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    struct reply *rep = malloc(sizeof(*rep));
    fetch(port, "/hello", NULL, NULL, 0, rep);
    assert_int_equal(rep->code, 200);
    fetch(port, "/hello", NULL, NULL, 0, rep);
    fetch(port, "/missing", NULL, NULL, 0, rep);
    assert_int_equal(rep->code, 404);
    fetch(port, "/hello", NULL, NULL, 1, rep);
    fetch(port, "/custom-metrics", NULL, NULL, 0, rep);
    assert_int_equal(rep->code, 200);
    assert_non_null(strstr(rep->body, "# HELP app_http_requests_total Total number of HTTP "
                                      "requests by method and status code.\n"
                                      "# TYPE app_http_requests_total counter\n"
                                      "app_http_requests_total{method=\"get\",code=\"200\"} 2\n"
                                      "app_http_requests_total{method=\"get\",code=\"404\"} 1\n"
                                      "app_http_requests_total{method=\"post\",code=\"200\"} 1\n"));
    assert_non_null(strstr(rep->body, "# TYPE app_http_request_duration_seconds histogram\n"));
    assert_non_null(strstr(
        rep->body,
        "app_http_request_duration_seconds_bucket{method=\"get\",code=\"200\",le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(
        rep->body, "app_http_request_duration_seconds_count{method=\"get\",code=\"200\"} 2\n"));
    free(rep);
    MHD_stop_daemon(d);
    exp_http_metrics_free(a.hm);
    exp_registry_free(a.r);
}

/* Sends raw bytes to 127.0.0.1:port and reads the reply until the peer closes,
 * `want` bytes arrived (0: until close) or 3 s passed. Returns the length. */
static size_t raw(unsigned port, const char *req, size_t reqlen, char *out, size_t cap, size_t want)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    size_t off = 0;
    while (off < reqlen) {
        ssize_t k = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    size_t n = 0;
    while (n + 1 < cap && (!want || n < want)) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 3000) <= 0)
            break;
        ssize_t k = recv(fd, out + n, cap - 1 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    out[n] = '\0';
    close(fd);
    return n;
}

static int count(const char *hay, const char *needle)
{
    int c = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        c++;
    return c;
}

static void test_server_handles_keepalive_pipelining_and_bad_requests(void **state)
{
    (void)state;
    struct exp_registry *r;
    struct exp_family *f;
    struct exp_metric *m;
    struct exp_server *s;
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(exp_gauge_new(r, "up_value", "", 0, NULL, &f), 0);
    assert_int_equal(exp_family_child(f, NULL, &m), 0);
    exp_gauge_set(m, 1);
    assert_int_equal(exp_server_start(r, "127.0.0.1:0", "/metrics", &s), 0);
    unsigned port = exp_server_port(s);
    char *buf = malloc(1 << 20);

    /* Three pipelined requests on one connection, the last one closing it. */
    const char pipe3[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                         "HEAD /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                         "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    raw(port, pipe3, sizeof(pipe3) - 1, buf, 1 << 20, 0);
    assert_int_equal(count(buf, "HTTP/1.1 200 OK\r\n"), 3);
    assert_int_equal(count(buf, "\nup_value 1\n"), 1); /* HEAD has no body */
    assert_int_equal(count(buf, "Connection: keep-alive\r\n"), 2);
    assert_int_equal(count(buf, "Connection: close\r\n"), 1);
    assert_non_null(strstr(buf, "<html>"));

    /* HTTP/1.0 closes after the reply unless asked otherwise. */
    const char h10[] = "GET /metrics HTTP/1.0\r\n\r\n";
    raw(port, h10, sizeof(h10) - 1, buf, 1 << 20, 0);
    assert_non_null(strstr(buf, "Connection: close\r\n"));

    /* Malformed request line, oversized headers, a body, an embedded NUL. */
    const char bad[] = "NONSENSE\r\n\r\n";
    raw(port, bad, sizeof(bad) - 1, buf, 1 << 20, 0);
    assert_true(strncmp(buf, "HTTP/1.1 400 ", 13) == 0);
    char *big = malloc(20000);
    memcpy(big, "GET /metrics HTTP/1.1\r\nX-Long: ", 32);
    memset(big + 32, 'a', 20000 - 32);
    raw(port, big, 20000, buf, 1 << 20, 0);
    assert_true(strncmp(buf, "HTTP/1.1 431 ", 13) == 0);
    free(big);
    const char post[] = "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
    raw(port, post, sizeof(post) - 1, buf, 1 << 20, 0);
    assert_true(strncmp(buf, "HTTP/1.1 405 ", 13) == 0);
    assert_non_null(strstr(buf, "Allow: GET, HEAD\r\n"));
    const char nul[] = "GET /metrics HTTP/1.1\r\nX: a\0b\r\n\r\n";
    raw(port, nul, sizeof(nul) - 1, buf, 1 << 20, 0);
    assert_true(strncmp(buf, "HTTP/1.1 4", 10) == 0);

    /* More connections than the server keeps: the extra ones get 503, the
     * server keeps serving. */
    int fds[70];
    for (int i = 0; i < 70; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
    }
    usleep(200000);
    int refused = 0;
    for (int i = 0; i < 70; i++) {
        struct pollfd p = {fds[i], POLLIN, 0};
        if (poll(&p, 1, 0) > 0) {
            ssize_t k = recv(fds[i], buf, 100, 0);
            if (k > 12 && strncmp(buf, "HTTP/1.1 503", 12) == 0)
                refused++;
        }
        close(fds[i]);
    }
    assert_true(refused >= 6);
    const char get[] = "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n";
    raw(port, get, sizeof(get) - 1, buf, 1 << 20, 0);
    assert_non_null(strstr(buf, "up_value 1\n"));
    assert_non_null(strstr(buf, "promhttp_metric_handler_requests_total{code=\"503\"} "));
    free(buf);
    exp_server_stop(s);
    exp_registry_free(r);
}

int test_http_run(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_serves_both_formats_gzip_and_errors),
        cmocka_unit_test(test_server_rejects_bad_listen_addresses),
        cmocka_unit_test(test_server_handles_keepalive_pipelining_and_bad_requests),
        cmocka_unit_test(test_mhd_handler_and_instrumentation_in_an_application),
    };
    int rc = cmocka_run_group_tests_name("http", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
