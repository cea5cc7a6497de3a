/*
 * node.c - the promlite-exporter collector set: options and defaults
 * (node_exporter 1.5's flag defaults), the table of collectors, and the scrape
 * callback that runs them, times them and reports
 * node_scrape_collector_{duration_seconds,success}.
 */
#include "exporter/node/node_int.h"

#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct {
    const char *name;
    node_collect_fn fn;
} colls[NODE_NCOLL] = {
    [NODE_CPU] = {"cpu", node__collect_cpu},
    [NODE_MEMINFO] = {"meminfo", node__collect_meminfo},
    [NODE_LOADAVG] = {"loadavg", node__collect_loadavg},
    [NODE_DISKSTATS] = {"diskstats", node__collect_diskstats},
    [NODE_FILESYSTEM] = {"filesystem", node__collect_filesystem},
    [NODE_NETDEV] = {"netdev", node__collect_netdev},
    [NODE_NETSTAT] = {"netstat", node__collect_netstat},
    [NODE_SOCKSTAT] = {"sockstat", node__collect_sockstat},
    [NODE_STAT] = {"stat", node__collect_stat},
    [NODE_VMSTAT] = {"vmstat", node__collect_vmstat},
    [NODE_FILEFD] = {"filefd", node__collect_filefd},
    [NODE_PRESSURE] = {"pressure", node__collect_pressure},
    [NODE_TIME] = {"time", node__collect_time},
    [NODE_UNAME] = {"uname", node__collect_uname},
    [NODE_OS] = {"os", node__collect_os},
    [NODE_ENTROPY] = {"entropy", node__collect_entropy},
    [NODE_CONNTRACK] = {"conntrack", node__collect_conntrack},
    [NODE_NETCLASS] = {"netclass", node__collect_netclass},
    [NODE_TIMEX] = {"timex", node__collect_timex},
    [NODE_SOFTNET] = {"softnet", node__collect_softnet},
    [NODE_ARP] = {"arp", node__collect_arp},
    [NODE_UDP_QUEUES] = {"udp_queues", node__collect_udp_queues},
    [NODE_TEXTFILE] = {"textfile", node__collect_textfile},
};

void node_opts_init(struct node_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->procfs = "/proc";
    o->sysfs = "/sys";
    o->rootfs = "/";
    o->udev_data = "/run/udev/data";
    o->textfile_dir = "";
    o->diskstats_device_exclude = "^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$";
    o->fs_mount_points_exclude =
        "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
    o->fs_types_exclude =
        "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"
        "iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|"
        "squashfs|sysfs|tracefs)$";
    o->fs_mount_timeout_s = 5;
    o->netdev_device_exclude = "";
    o->netdev_device_include = "";
    o->netstat_fields =
        "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|"
        "OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|"
        "InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|"
        "OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";
    o->vmstat_fields = "^(oom_kill|pgpg|pswp|pg.*fault).*";
    for (int i = 0; i < NODE_NCOLL; i++)
        o->enabled[i] = 1;
}

const char *node_coll_name(int id)
{
    return id >= 0 && id < NODE_NCOLL ? colls[id].name : NULL;
}

int node_coll_lookup(const char *name)
{
    for (int i = 0; i < NODE_NCOLL; i++)
        if (strcmp(colls[i].name, name) == 0)
            return i;
    return -1;
}

void node_exporter_free(struct node_exporter *e)
{
    if (!e)
        return;
    for (int i = 0; i < NODE_NRE; i++)
        pcre2_code_free(e->re[i]);
    pcre2_match_data_free(e->md);
    free(e->procfs);
    free(e->sysfs);
    free(e->rootfs);
    free(e->udev);
    free(e->textdir);
    free(e->buf);
    free(e);
}

static int compile(struct node_exporter *e, enum node_re which, const char *flag, const char *pat,
                   struct pl_err *err)
{
    if (!pat || !*pat)
        return 0;
    int ec;
    PCRE2_SIZE off;
    e->re[which] = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
    if (!e->re[which]) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(ec, msg, sizeof(msg));
        return pl_err_set(err, PL_ERR_INVALID, "--%s: bad regex at offset %zu: %s", flag,
                          (size_t)off, (const char *)msg);
    }
    /* JIT when available: the filters run for every field of every scrape. */
    (void)pcre2_jit_compile(e->re[which], PCRE2_JIT_COMPLETE);
    return 0;
}

int node_exporter_new(const struct node_opts *o, struct node_exporter **out, struct pl_err *err)
{
    struct node_exporter *e = calloc(1, sizeof(*e));
    if (!e)
        return pl_err_set(err, PL_ERR_NOMEM, "out of memory");
    e->procfs = strdup(o->procfs ? o->procfs : "/proc");
    e->sysfs = strdup(o->sysfs ? o->sysfs : "/sys");
    e->rootfs = strdup(o->rootfs ? o->rootfs : "/");
    e->udev = strdup(o->udev_data ? o->udev_data : "/run/udev/data");
    e->textdir = strdup(o->textfile_dir ? o->textfile_dir : "");
    e->md = pcre2_match_data_create(4, NULL);
    if (!e->procfs || !e->sysfs || !e->rootfs || !e->udev || !e->textdir || !e->md) {
        node_exporter_free(e);
        return pl_err_set(err, PL_ERR_NOMEM, "out of memory");
    }
    int rc = compile(e, NODE_RE_DISK_EXCLUDE, "collector.diskstats.device-exclude",
                     o->diskstats_device_exclude, err);
    if (!rc)
        rc = compile(e, NODE_RE_MOUNT_EXCLUDE, "collector.filesystem.mount-points-exclude",
                     o->fs_mount_points_exclude, err);
    if (!rc)
        rc = compile(e, NODE_RE_FSTYPE_EXCLUDE, "collector.filesystem.fs-types-exclude",
                     o->fs_types_exclude, err);
    if (!rc)
        rc = compile(e, NODE_RE_NETDEV_EXCLUDE, "collector.netdev.device-exclude",
                     o->netdev_device_exclude, err);
    if (!rc)
        rc = compile(e, NODE_RE_NETDEV_INCLUDE, "collector.netdev.device-include",
                     o->netdev_device_include, err);
    if (!rc)
        rc = compile(e, NODE_RE_NETSTAT_FIELDS, "collector.netstat.fields", o->netstat_fields, err);
    if (!rc)
        rc = compile(e, NODE_RE_VMSTAT_FIELDS, "collector.vmstat.fields", o->vmstat_fields, err);
    if (rc) {
        node_exporter_free(e);
        return rc;
    }
    memcpy(e->enabled, o->enabled, sizeof(e->enabled));
    e->mount_timeout = o->fs_mount_timeout_s > 0 ? o->fs_mount_timeout_s : 5;
    long ps = sysconf(_SC_PAGESIZE), hz = sysconf(_SC_CLK_TCK);
    e->pagesize = ps > 0 ? (double)ps : 4096;
    e->userhz = hz > 0 ? (double)hz : 100;
    *out = e;
    return 0;
}

int node_exporter_collect_one(struct node_exporter *e, int id, struct exp_writer *w,
                              struct pl_err *err)
{
    if (id < 0 || id >= NODE_NCOLL)
        return pl_err_set(err, PL_ERR_INVALID, "no collector %d", id);
    pl_err_clear(err);
    return colls[id].fn(e, w, err);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int scrape(struct exp_writer *w, void *ud)
{
    struct node_exporter *e = ud;
    double dur[NODE_NCOLL];
    int ok[NODE_NCOLL];
    struct pl_err err;
    for (int i = 0; i < NODE_NCOLL; i++) {
        if (!e->enabled[i])
            continue;
        double t0 = now_s();
        pl_err_clear(&err);
        int rc = colls[i].fn(e, w, &err);
        dur[i] = now_s() - t0;
        if (w->err)
            return w->err; /* the output itself failed (limit, memory): fail the scrape */
        ok[i] = rc == 0;
        if (rc) {
            /* Like node_exporter: "no data" (an optional kernel feature is absent) is
             * logged at debug level, every other failure at error level. */
            char ds[32];
            snprintf(ds, sizeof(ds), "%.9f", dur[i]);
            pl_log(rc == PL_ERR_NOTFOUND ? PL_LOG_DEBUG : PL_LOG_ERROR, "exporter",
                   rc == PL_ERR_NOTFOUND ? "collector returned no data" : "collector failed",
                   "name", colls[i].name, "duration_seconds", ds, "err",
                   err.msg[0] ? err.msg : pl_err_str(rc), NULL);
        }
    }
    exp_writer_family(w, "node_scrape_collector_duration_seconds",
                      "node_exporter: Duration of a collector scrape.", EXP_GAUGE);
    for (int i = 0; i < NODE_NCOLL; i++)
        if (e->enabled[i])
            exp_writer_samplef(w, dur[i], 1, "collector", colls[i].name);
    exp_writer_family(w, "node_scrape_collector_success",
                      "node_exporter: Whether a collector succeeded.", EXP_GAUGE);
    for (int i = 0; i < NODE_NCOLL; i++)
        if (e->enabled[i])
            exp_writer_samplef(w, ok[i] ? 1 : 0, 1, "collector", colls[i].name);
    return w->err;
}

int node_exporter_register(struct node_exporter *e, struct exp_registry *r)
{
    return exp_registry_add_collector(r, scrape, e, NULL);
}
