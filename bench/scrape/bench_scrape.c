/*
 * bench_scrape.c - scrape ingestion benchmark (see run.sh).
 *
 *   bench_scrape serve PORT_BASE N FILE
 *       serves FILE as text 0.0.4 on 127.0.0.1:PORT_BASE..PORT_BASE+N-1 until killed;
 *   bench_scrape scrape CONFIG DATADIR SECONDS
 *       runs the scrape manager on CONFIG into a tsdb in DATADIR for SECONDS and prints
 *       `samples=... scrapes_ok=... scrapes_failed=... cpu_s=... rss_kib=... hwm_kib=...`;
 *       BENCH_SYNC=batch|interval|none sets the tsdb sync policy (default batch, as the server);
 *       BENCH_COMMIT_DELAY_MS the group commit delay (default 250, -1: a commit per scrape).
 *
 * CPU is this process's user+system time (getrusage), so it includes
 * parsing, relabeling, the tsdb appends and the WAL, as Prometheus's figure does.
 */
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "collector/config.h"
#include "collector/scrape.h"
#include "tsdb/tsdb.h"

static char *body;
static size_t body_len;

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload, (void)upload_size;
    /* Answering on the first call makes libmicrohttpd close the connection;
     * real exporters keep it alive, so answer on the second. */
    static int marker;
    if (!*con_cls) {
        *con_cls = &marker;
        return MHD_YES;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

static int serve(int base, int n, const char *file)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        perror(file);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    body = malloc((size_t)len + 1);
    body_len = fread(body, 1, (size_t)len, f);
    fclose(f);
    for (int i = 0; i < n; i++) {
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa.sin_port = htons((uint16_t)(base + i));
        if (!MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, NULL,
                              MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END)) {
            fprintf(stderr, "cannot listen on 127.0.0.1:%d\n", base + i);
            return 1;
        }
    }
    printf("serving %zu bytes on %d ports\n", body_len, n);
    fflush(stdout);
    for (;;)
        pause();
}

static long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, key, kl))
            v = atol(line + kl + 1);
    if (f)
        fclose(f);
    return v;
}

static int scrape(const char *config, const char *dir, int seconds)
{
    struct pl_err err;
    struct coll_config *cfg;
    if (coll_config_load_file(config, &cfg, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    struct tsdb_options o;
    tsdb_options_init(&o);
    o.path = dir;
    /* BENCH_SYNC=batch|interval|none; the server's default is batch. */
    const char *sync = getenv("BENCH_SYNC");
    if (sync && tsdb_sync_parse(sync, &o.sync) != 0) {
        fprintf(stderr, "BENCH_SYNC: expected batch, interval or none\n");
        return 2;
    }
    struct tsdb *db;
    if (tsdb_open(&o, &db, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    /* BENCH_COMMIT_DELAY_MS: the group commit delay (default 250; -1 commits every scrape). */
    struct coll_scrape_options so = {0};
    const char *cd = getenv("BENCH_COMMIT_DELAY_MS");
    if (cd)
        so.commit_delay_ms = atoi(cd);
    struct coll_scrape_manager *m;
    if (coll_scrape_manager_new(db, &so, &m, &err) != 0 ||
        coll_scrape_manager_apply(m, cfg, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    sleep((unsigned)seconds);
    struct coll_scrape_stats st;
    coll_scrape_stats_get(m, &st);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("samples=%llu scrapes_ok=%llu scrapes_failed=%llu series=%llu cpu_s=%.3f rss_kib=%ld "
           "hwm_kib=%ld anon_kib=%ld file_kib=%ld\n",
           (unsigned long long)st.samples_appended, (unsigned long long)st.scrapes_ok,
           (unsigned long long)st.scrapes_failed, (unsigned long long)st.series_added, cpu,
           status_kib("VmRSS"), status_kib("VmHWM"), status_kib("RssAnon"), status_kib("RssFile"));
    coll_scrape_manager_free(m);
    tsdb_close(db);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "serve"))
        return serve(atoi(argv[2]), atoi(argv[3]), argv[4]);
    if (argc == 5 && !strcmp(argv[1], "scrape"))
        return scrape(argv[2], argv[3], atoi(argv[4]));
    fprintf(stderr, "usage: bench_scrape serve PORT_BASE N FILE | scrape CONFIG DATADIR SECONDS\n");
    return 2;
}
