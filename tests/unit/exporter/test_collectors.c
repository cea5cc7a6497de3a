/* test_collectors.c - every promlite-exporter collector against the fake
 * /proc, /sys and root trees in tests/fixtures/exporter: golden output,
 * filters, failures (missing and malformed files) and the scrape-level
 * node_scrape_collector_* families. */
#include "tests.h"

#include "exporter/node/node_int.h"

#include <errno.h>
#include <math.h>
#include <time.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "golden_collectors.h"

static char fx[1024];

static const char *fixture(void)
{
    if (!fx[0]) {
        const char *src = getenv("PROMLITE_SRC");
        snprintf(fx, sizeof(fx), "%s/tests/fixtures/exporter", src ? src : ".");
    }
    return fx;
}

struct env {
    char proc[1100], sys[1100], root[1100], udev[1100], text[1100];
    struct node_opts o;
    struct node_exporter *e;
};

static void env_init(struct env *v, const char *base, const char *textdir)
{
    snprintf(v->proc, sizeof(v->proc), "%s/proc", base);
    snprintf(v->sys, sizeof(v->sys), "%s/sys", base);
    snprintf(v->root, sizeof(v->root), "%s/root", base);
    snprintf(v->udev, sizeof(v->udev), "%s/udev", base);
    snprintf(v->text, sizeof(v->text), "%s/%s", fixture(), textdir ? textdir : "textfile_good");
    node_opts_init(&v->o);
    v->o.procfs = v->proc;
    v->o.sysfs = v->sys;
    v->o.rootfs = v->root;
    v->o.udev_data = v->udev;
    v->o.textfile_dir = v->text;
}

static struct node_exporter *env_open(struct env *v)
{
    struct pl_err err;
    assert_int_equal(node_exporter_new(&v->o, &v->e, &err), 0);
    return v->e;
}

/* Runs one collector; returns its output (caller frees) and its status in *rc. */
static char *run(struct node_exporter *e, int id, int *rc, struct pl_err *err)
{
    struct exp_writer w;
    exp__writer_init(&w, EXP_FORMAT_TEXT, 1 << 22);
    *rc = node_exporter_collect_one(e, id, &w, err);
    assert_int_equal(w.err, 0);
    char *out = strdup(w.buf ? w.buf : "");
    exp__writer_fini(&w);
    return out;
}

static void test_collectors_match_golden_output(void **state)
{
    (void)state;
    struct env v;
    env_init(&v, fixture(), NULL);
    env_open(&v);
    for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
        struct pl_err err;
        int rc;
        char *out = run(v.e, goldens[i].id, &rc, &err);
        if (rc)
            fail_msg("collector %s failed: %s", node_coll_name(goldens[i].id), err.msg);
        if (strcmp(out, goldens[i].text) != 0)
            fail_msg("collector %s output differs:\n%s", node_coll_name(goldens[i].id), out);
        free(out);
    }
    node_exporter_free(v.e);
}

static void test_filesystem_filters_dedupes_unescapes_and_flags_errors(void **state)
{
    (void)state;
    struct env v;
    struct pl_err err;
    int rc;
    env_init(&v, fixture(), NULL);
    env_open(&v);
    char *out = run(v.e, NODE_FILESYSTEM, &rc, &err);
    assert_int_equal(rc, 0);
    /* One "/" although it is mounted twice; the escaped space decoded; ro detected. */
    const char *size_root =
        "node_filesystem_size_bytes{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} ";
    char *p = strstr(out, size_root);
    assert_non_null(p);
    assert_null(strstr(p + 1, size_root));
    assert_true(strtod(p + strlen(size_root), NULL) > 0);
    assert_non_null(strstr(out, "node_filesystem_readonly{device=\"/dev/vdb\",fstype=\"ext4\","
                                "mountpoint=\"/srv/with space\"} 1\n"));
    assert_non_null(strstr(out, "node_filesystem_device_error{device=\"/dev/vdc\",fstype=\"xfs\","
                                "mountpoint=\"/srv/missing\"} 1\n"));
    assert_null(strstr(out, "node_filesystem_size_bytes{device=\"/dev/vdc\""));
    assert_null(strstr(out, "/mnt/data")); /* mount-point exclude */
    assert_null(strstr(out, "/dev/shm"));  /* mount-point exclude */
    assert_null(strstr(out, "cgroup2"));   /* fs-type exclude */
    assert_null(strstr(out, "fstype=\"proc\""));
    assert_non_null(strstr(out, "# HELP node_filesystem_avail_bytes Filesystem space available "
                                "to non-root users in bytes.\n# TYPE node_filesystem_avail_bytes "
                                "gauge\n"));
    free(out);
    node_exporter_free(v.e);
}

static void test_time_timex_uname_collectors_report_the_host(void **state)
{
    (void)state;
    struct env v;
    struct pl_err err;
    int rc;
    env_init(&v, fixture(), NULL);
    env_open(&v);
    char *out = run(v.e, NODE_TIME, &rc, &err);
    assert_int_equal(rc, 0);
    char *t = strstr(out, "\nnode_time_seconds ");
    assert_non_null(t);
    assert_true(fabs(strtod(t + 19, NULL) - (double)time(NULL)) < 5);
    assert_non_null(strstr(out, "node_time_zone_offset_seconds{time_zone=\""));
    assert_non_null(strstr(out, "# TYPE node_time_clocksource_available_info gauge\n"
                                "node_time_clocksource_available_info{clocksource=\"tsc\",device="
                                "\"0\"} 1\n"
                                "node_time_clocksource_available_info{clocksource=\"kvm-clock\","
                                "device=\"0\"} 1\n"));
    assert_non_null(strstr(out, "node_time_clocksource_current_info{clocksource=\"tsc\",device="
                                "\"0\"} 1\n"));
    free(out);
    out = run(v.e, NODE_TIMEX, &rc, &err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "# HELP node_timex_sync_status Is clock synchronized to a "
                                "reliable server (1 = yes, 0 = no).\n"));
    assert_non_null(strstr(out, "\nnode_timex_tick_seconds 0.0"));
    free(out);
    out = run(v.e, NODE_UNAME, &rc, &err);
    assert_int_equal(rc, 0);
    struct utsname u;
    uname(&u);
    char want[512];
    snprintf(want, sizeof(want), "machine=\"%s\",nodename=\"%s\",release=\"%s\",sysname=\"%s\"",
             u.machine, u.nodename, u.release, u.sysname);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "# HELP node_uname_info Labeled system information as provided "
                                "by the uname system call.\n"));
    free(out);
    node_exporter_free(v.e);
}

static void test_textfile_merges_files_and_reports_mtime(void **state)
{
    (void)state;
    struct env v;
    struct pl_err err;
    int rc;
    env_init(&v, fixture(), "textfile_good");
    env_open(&v);
    char *out = run(v.e, NODE_TEXTFILE, &rc, &err);
    assert_int_equal(rc, 0);
    char want[8192];
    snprintf(want, sizeof(want),
             "# HELP batch_duration_seconds Metric read from %s/b.prom\n"
             "# TYPE batch_duration_seconds histogram\n"
             "batch_duration_seconds_bucket{le=\"1\"} 3\n"
             "batch_duration_seconds_bucket{le=\"+Inf\"} 5\n"
             "batch_duration_seconds_sum 7.5\n"
             "batch_duration_seconds_count 5\n"
             "# HELP batch_last_success_seconds Last successful run.\n"
             "# TYPE batch_last_success_seconds gauge\n"
             "batch_last_success_seconds{job=\"backup\"} 1700000000\n"
             "batch_last_success_seconds{job=\"sync\"} 42\n"
             "# HELP batch_runs_total Metric read from %s/a.prom\n"
             "# TYPE batch_runs_total counter\n"
             "batch_runs_total{job=\"backup\"} 12\n"
             "# HELP untyped_metric Metric read from %s/b.prom\n"
             "# TYPE untyped_metric untyped\n"
             "untyped_metric{path=\"C:\\\\dir\",msg=\"say \\\"hi\\\"\\n\"} NaN\n"
             "# HELP node_textfile_mtime_seconds Unixtime mtime of textfiles successfully read.\n"
             "# TYPE node_textfile_mtime_seconds gauge\n"
             "node_textfile_mtime_seconds{file=\"%s/a.prom\"} ",
             v.text, v.text, v.text, v.text);
    if (strncmp(out, want, strlen(want)) != 0)
        fail_msg("textfile output differs:\n%s", out);
    assert_non_null(strstr(out, "\nnode_textfile_scrape_error 0\n"));
    assert_null(strstr(out, "ignored"));
    free(out);
    node_exporter_free(v.e);
}

static void test_textfile_bad_files_set_scrape_error_and_keep_good_ones(void **state)
{
    (void)state;
    struct env v;
    struct pl_err err;
    int rc;
    env_init(&v, fixture(), "textfile_bad");
    env_open(&v);
    char *out = run(v.e, NODE_TEXTFILE, &rc, &err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "fine_metric 1\n"));
    assert_null(strstr(out, "broken"));
    assert_null(strstr(out, "stamped"));
    assert_non_null(strstr(out, "\nnode_textfile_scrape_error 1\n"));
    assert_null(strstr(out, "node_textfile_scrape_error 0")); /* the clashing copy */
    free(out);
    /* A family another collector already wrote is dropped, not duplicated. */
    struct exp_writer w;
    exp__writer_init(&w, EXP_FORMAT_TEXT, 1 << 20);
    exp_writer_family(&w, "process_open_fds", "", EXP_GAUGE);
    exp_writer_sample(&w, 0, NULL, NULL, 7);
    assert_int_equal(node_exporter_collect_one(v.e, NODE_TEXTFILE, &w, &err), 0);
    assert_int_equal(w.err, 0);
    assert_null(strstr(w.buf, "99999"));
    assert_non_null(strstr(w.buf, "fine_metric 1\n"));
    exp__writer_fini(&w);
    node_exporter_free(v.e);
    /* A missing directory is an error too, reported the same way. */
    env_init(&v, fixture(), "no-such-dir");
    env_open(&v);
    out = run(v.e, NODE_TEXTFILE, &rc, &err);
    assert_string_equal(out, "# HELP node_textfile_scrape_error 1 if there was an error opening "
                             "or reading a file, 0 otherwise\n"
                             "# TYPE node_textfile_scrape_error gauge\n"
                             "node_textfile_scrape_error 1\n");
    free(out);
    node_exporter_free(v.e);
}

static void test_textfile_rollback_keeps_many_earlier_families(void **state)
{
    (void)state;
    char dir[] = "/tmp/exp-textfile-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/a.prom", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 600; i++)
        fprintf(f, "many_%d{f=\"a\"} %d\n", i, i);
    fclose(f);
    /* b.prom adds to 600 existing families, declares a new one, then breaks. */
    snprintf(path, sizeof(path), "%s/b.prom", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 600; i++)
        fprintf(f, "many_%d{f=\"b\"} %d\n", i, i);
    fprintf(f, "# HELP only_in_b Help.\nonly_in_b 1\nbroken{ 1\n");
    fclose(f);
    snprintf(path, sizeof(path), "%s/c.prom", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "many_599{f=\"c\"} 3\n");
    fclose(f);
    struct env v;
    struct pl_err err;
    int rc;
    env_init(&v, fixture(), NULL);
    v.o.textfile_dir = dir;
    env_open(&v);
    char *out = run(v.e, NODE_TEXTFILE, &rc, &err);
    char want[512];
    snprintf(want, sizeof(want),
             "# HELP many_599 Metric read from %s/a.prom, %s/c.prom\n# TYPE many_599 untyped\n"
             "many_599{f=\"a\"} 599\nmany_599{f=\"c\"} 3\n",
             dir, dir);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "many_0{f=\"a\"} 0\n"));
    assert_null(strstr(out, "f=\"b\""));
    assert_null(strstr(out, "only_in_b"));
    assert_non_null(strstr(out, "\nnode_textfile_scrape_error 1\n"));
    free(out);
    node_exporter_free(v.e);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_filters_can_be_changed(void **state)
{
    (void)state;
    struct env v;
    struct pl_err err;
    int rc;
    env_init(&v, fixture(), NULL);
    v.o.netdev_device_exclude = "^lo$";
    v.o.diskstats_device_exclude = "^(zram|sd)";
    v.o.vmstat_fields = "^pgalloc_normal$";
    env_open(&v);
    char *out = run(v.e, NODE_NETDEV, &rc, &err);
    assert_int_equal(rc, 0);
    assert_null(strstr(out, "device=\"lo\""));
    assert_non_null(strstr(out, "device=\"eth0\""));
    free(out);
    out = run(v.e, NODE_DISKSTATS, &rc, &err);
    assert_null(strstr(out, "zram0"));
    assert_non_null(strstr(out, "device=\"vda1\"")); /* no longer excluded */
    free(out);
    out = run(v.e, NODE_VMSTAT, &rc, &err);
    assert_string_equal(out, "# HELP node_vmstat_pgalloc_normal /proc/vmstat information field "
                             "pgalloc_normal.\n# TYPE node_vmstat_pgalloc_normal untyped\n"
                             "node_vmstat_pgalloc_normal 99\n");
    free(out);
    node_exporter_free(v.e);
    env_init(&v, fixture(), NULL);
    v.o.netdev_device_include = "^e";
    env_open(&v);
    out = run(v.e, NODE_NETDEV, &rc, &err);
    assert_null(strstr(out, "device=\"lo\""));
    free(out);
    node_exporter_free(v.e);
    /* A bad regex is refused with the flag named. */
    env_init(&v, fixture(), NULL);
    v.o.fs_types_exclude = "^(unclosed";
    assert_int_equal(node_exporter_new(&v.o, &v.e, &err), PL_ERR_INVALID);
    assert_non_null(strstr(err.msg, "--collector.filesystem.fs-types-exclude"));
}

static void test_missing_files_fail_each_collector_cleanly(void **state)
{
    (void)state;
    struct env v;
    env_init(&v, "/nonexistent-promlite-fixture", "also-missing");
    env_open(&v);
    for (int id = 0; id < NODE_NCOLL; id++) {
        struct pl_err err;
        int rc;
        pl_err_clear(&err);
        char *out = run(v.e, id, &rc, &err);
        if (id == NODE_TIME || id == NODE_UNAME || id == NODE_TEXTFILE || id == NODE_TIMEX) {
            assert_int_equal(rc, 0); /* need no files (textfile reports scrape_error) */
        } else {
            if (rc == 0)
                fail_msg("collector %s succeeded without its files", node_coll_name(id));
            assert_true(err.msg[0] != '\0');
        }
        free(out);
    }
    node_exporter_free(v.e);
}

static void test_scrape_reports_collector_success_and_never_fails(void **state)
{
    (void)state;
    struct env v;
    env_init(&v, "/nonexistent-promlite-fixture", NULL);
    env_open(&v);
    struct exp_registry *r;
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(node_exporter_register(v.e, r), 0);
    char *out = test_render(r, EXP_FORMAT_TEXT);
    assert_non_null(strstr(out, "node_scrape_collector_success{collector=\"cpu\"} 0\n"));
    assert_non_null(strstr(out, "node_scrape_collector_success{collector=\"uname\"} 1\n"));
    assert_non_null(strstr(out, "# HELP node_scrape_collector_duration_seconds node_exporter: "
                                "Duration of a collector scrape.\n"));
    assert_non_null(strstr(out, "node_uname_info{"));
    free(out);
    exp_registry_free(r);
    node_exporter_free(v.e);

    /* On the fixture every collector succeeds, in both formats. */
    env_init(&v, fixture(), NULL);
    v.o.enabled[NODE_TEXTFILE] = 0;
    env_open(&v);
    assert_int_equal(exp_registry_new(&r), 0);
    assert_int_equal(node_exporter_register(v.e, r), 0);
    out = test_render(r, EXP_FORMAT_OPENMETRICS);
    assert_null(strstr(out, "} 0.0\nnode_scrape_collector_success"));
    for (int id = 0; id < NODE_NCOLL; id++) {
        char want[128];
        snprintf(want, sizeof(want), "node_scrape_collector_success{collector=\"%s\"} %s\n",
                 node_coll_name(id), id == NODE_TEXTFILE ? "" : "1.0");
        if (id == NODE_TEXTFILE)
            assert_null(strstr(out, want));
        else if (!strstr(out, want))
            fail_msg("missing %s", want);
    }
    assert_non_null(strstr(out, "# TYPE node_cpu_seconds counter\n"));
    assert_string_equal(out + strlen(out) - 6, "# EOF\n");
    free(out);
    exp_registry_free(r);
    node_exporter_free(v.e);
}

static int slow_statvfs(const char *path, struct statvfs *st)
{
    if (strstr(path, "/srv/nfs"))
        usleep(1500000); /* a network filesystem whose server went away */
    return statvfs(path, st);
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_filesystem_times_out_stuck_network_mounts(void **state)
{
    (void)state;
    struct env v;
    struct pl_err err;
    int rc;
    env_init(&v, fixture(), NULL);
    v.o.fs_mount_timeout_s = 0.2;
    env_open(&v);
    const char *nfs_err = "node_filesystem_device_error{device=\"fileserver:/export\",fstype="
                          "\"nfs4\",mountpoint=\"/srv/nfs\"} ";
    const char *nfs_size = "node_filesystem_size_bytes{device=\"fileserver:/export\"";
    /* Healthy: answered through the helper thread. */
    char *out = run(v.e, NODE_FILESYSTEM, &rc, &err);
    assert_non_null(strstr(out, nfs_size));
    free(out);
    node__statvfs = slow_statvfs;
    double t0 = now_mono();
    out = run(v.e, NODE_FILESYSTEM, &rc, &err);
    assert_true(now_mono() - t0 < 1.0); /* did not wait for the hung call */
    assert_int_equal(rc, 0);
    char *p = strstr(out, nfs_err);
    assert_non_null(p);
    assert_int_equal(p[strlen(nfs_err)], '1');
    assert_null(strstr(out, nfs_size));
    assert_non_null(strstr(out, "node_filesystem_size_bytes{device=\"/dev/vda\""));
    free(out);
    /* While the call is pending the mount is skipped at once. */
    t0 = now_mono();
    out = run(v.e, NODE_FILESYSTEM, &rc, &err);
    assert_true(now_mono() - t0 < 0.15);
    assert_non_null(strstr(out, nfs_err));
    free(out);
    node__statvfs = statvfs;
    usleep(1600000); /* the pending call returns and clears the stuck mark */
    out = run(v.e, NODE_FILESYSTEM, &rc, &err);
    assert_non_null(strstr(out, nfs_size));
    free(out);
    node_exporter_free(v.e);
}

/* ---- malformed input: every prefix of every fixture file, and garbage ---- */

static char tmpdir[256];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int copy_tree(void)
{
    strcpy(tmpdir, "/tmp/exp-fixture-XXXXXX");
    const char *t = getenv("TMPDIR");
    if (t && strlen(t) < 200)
        snprintf(tmpdir, sizeof(tmpdir), "%s/exp-fixture-XXXXXX", t);
    if (!mkdtemp(tmpdir))
        return -1;
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "cp -R '%s/proc' '%s/sys' '%s/root' '%s/udev' '%s/'", fixture(),
             fixture(), fixture(), fixture(), tmpdir);
    return system(cmd);
}

static const struct {
    const char *file;
    int id;
} inputs[] = {
    {"proc/stat", NODE_CPU},
    {"proc/stat", NODE_STAT},
    {"proc/meminfo", NODE_MEMINFO},
    {"proc/loadavg", NODE_LOADAVG},
    {"proc/diskstats", NODE_DISKSTATS},
    {"proc/1/mounts", NODE_FILESYSTEM},
    {"proc/net/dev", NODE_NETDEV},
    {"proc/net/netstat", NODE_NETSTAT},
    {"proc/net/snmp", NODE_NETSTAT},
    {"proc/net/snmp6", NODE_NETSTAT},
    {"proc/net/sockstat", NODE_SOCKSTAT},
    {"proc/vmstat", NODE_VMSTAT},
    {"proc/sys/fs/file-nr", NODE_FILEFD},
    {"proc/pressure/io", NODE_PRESSURE},
    {"proc/net/stat/nf_conntrack", NODE_CONNTRACK},
    {"root/etc/os-release", NODE_OS},
    {"proc/net/softnet_stat", NODE_SOFTNET},
    {"proc/net/arp", NODE_ARP},
    {"proc/net/udp", NODE_UDP_QUEUES},
    {"sys/class/net/eth0/flags", NODE_NETCLASS},
    {"sys/class/net/eth0/address", NODE_NETCLASS},
    {"udev/b254:0", NODE_DISKSTATS},
    {"sys/devices/system/clocksource/clocksource0/available_clocksource", NODE_TIME},
};

static int write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fwrite(data, 1, n, f);
    return fclose(f);
}

static void test_truncated_and_garbage_files_never_crash(void **state)
{
    (void)state;
    assert_int_equal(copy_tree(), 0);
    struct env v;
    env_init(&v, tmpdir, NULL);
    env_open(&v);
    unsigned seed = 12345;
    const char *s = getenv("PROMLITE_TEST_SEED");
    if (s)
        seed = (unsigned)strtoul(s, NULL, 10);
    printf("# truncation/garbage seed %u (PROMLITE_TEST_SEED)\n", seed);
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        char path[1400], orig[8192];
        snprintf(path, sizeof(path), "%s/%s", tmpdir, inputs[i].file);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        size_t n = fread(orig, 1, sizeof(orig), f);
        fclose(f);
        for (size_t cut = 0; cut <= n; cut += (n > 200 ? 5 : 1)) {
            assert_int_equal(write_file(path, orig, cut), 0);
            struct pl_err err;
            int rc;
            free(run(v.e, inputs[i].id, &rc, &err));
        }
        char junk[512];
        for (int round = 0; round < 50; round++) {
            size_t jn = (size_t)(rand_r(&seed) % sizeof(junk));
            for (size_t k = 0; k < jn; k++) {
                /* Mostly characters that appear in procfs files. */
                static const char alpha[] = "0123456789 :\n\t-abcXYZ()=.\"\\#{}";
                junk[k] = (rand_r(&seed) % 8) ? alpha[rand_r(&seed) % (sizeof(alpha) - 1)]
                                              : (char)(rand_r(&seed) & 0xff);
            }
            assert_int_equal(write_file(path, junk, jn), 0);
            struct pl_err err;
            int rc;
            free(run(v.e, inputs[i].id, &rc, &err));
        }
        assert_int_equal(write_file(path, orig, n), 0);
    }
    node_exporter_free(v.e);
    nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_malformed_files_give_clear_errors(void **state)
{
    (void)state;
    assert_int_equal(copy_tree(), 0);
    struct env v;
    env_init(&v, tmpdir, NULL);
    env_open(&v);
    static const struct {
        const char *file, *content;
        int id;
        const char *msg;
    } cases[] = {
        {"proc/stat", "cpu0 1 2\nbtime 1\n", NODE_CPU, "short cpu line"},
        {"proc/stat", "cpu  1 2 3 4\n", NODE_CPU, "no per-CPU lines"},
        {"proc/stat", "cpu0 1 2 3 4\n", NODE_STAT, "missing btime"},
        {"proc/meminfo", "MemTotal: lots kB\n", NODE_MEMINFO, "bad value for MemTotal"},
        {"proc/meminfo", "", NODE_MEMINFO, "no fields"},
        {"proc/loadavg", "high\n", NODE_LOADAVG, "unexpected content"},
        {"proc/diskstats", "8 0 sda 1 2 3\n", NODE_DISKSTATS, "want >= 11"},
        {"proc/net/netstat", "TcpExt: a b\nIpExt: 1 2\n", NODE_NETSTAT, "mismatched"},
        {"proc/net/netstat", "TcpExt: a b\n", NODE_NETSTAT, "odd number of lines"},
        {"proc/net/dev", "h|\nh|\n eth0: 1 2 3\n", NODE_NETDEV, "short line for eth0"},
        {"proc/net/sockstat", "TCP inuse 1\n", NODE_SOCKSTAT, "malformed line"},
        {"proc/pressure/cpu", "some avg10=0\n", NODE_PRESSURE, "missing some/full"},
        /* Bad or repeated keys cost their family only (run() checks the writer). */
        {"proc/meminfo", "Bad-Key: 1 kB\nMemTotal: 2 kB\nMemTotal: 3 kB\nx y\n", NODE_MEMINFO,
         "malformed line for x"},
        {"proc/vmstat", "pgfault 1\npgfault 2\npgpg-in 3\nzz\n", NODE_VMSTAT, NULL},
        {"proc/net/sockstat", "sockets: used 1\nsockets: used 2\nTCP: in-use 1\n", NODE_SOCKSTAT,
         NULL},
        {"proc/net/softnet_stat", "0000 zz\n", NODE_SOFTNET, "fewer than 3 columns"},
        {"proc/net/udp", "header\n 1: 0100007F:0035\n", NODE_UDP_QUEUES, "malformed line"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[1400];
        snprintf(path, sizeof(path), "%s/%s", tmpdir, cases[i].file);
        char orig[8192];
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        size_t n = fread(orig, 1, sizeof(orig), f);
        fclose(f);
        assert_int_equal(write_file(path, cases[i].content, strlen(cases[i].content)), 0);
        struct pl_err err;
        int rc;
        pl_err_clear(&err);
        free(run(v.e, cases[i].id, &rc, &err));
        if (!cases[i].msg)
            rc = rc ? rc : -1, strcpy(err.msg, "ok");
        if (rc == 0 || (cases[i].msg && !strstr(err.msg, cases[i].msg)))
            fail_msg("%s with %s: rc %d, message '%s', want '%s'", node_coll_name(cases[i].id),
                     cases[i].file, rc, err.msg, cases[i].msg);
        assert_int_equal(write_file(path, orig, n), 0);
    }
    node_exporter_free(v.e);
    nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int test_collectors_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collectors_match_golden_output),
        cmocka_unit_test(test_filesystem_filters_dedupes_unescapes_and_flags_errors),
        cmocka_unit_test(test_time_timex_uname_collectors_report_the_host),
        cmocka_unit_test(test_filesystem_times_out_stuck_network_mounts),
        cmocka_unit_test(test_textfile_merges_files_and_reports_mtime),
        cmocka_unit_test(test_textfile_bad_files_set_scrape_error_and_keep_good_ones),
        cmocka_unit_test(test_textfile_rollback_keeps_many_earlier_families),
        cmocka_unit_test(test_filters_can_be_changed),
        cmocka_unit_test(test_missing_files_fail_each_collector_cleanly),
        cmocka_unit_test(test_scrape_reports_collector_success_and_never_fails),
        cmocka_unit_test(test_truncated_and_garbage_files_never_crash),
        cmocka_unit_test(test_malformed_files_give_clear_errors),
    };
    return cmocka_run_group_tests_name("collectors", tests, NULL, NULL);
}
