/*
 * coll_extra.c - collectors node_exporter enables by default beyond the core
 * set, used by the "Node Exporter Full" dashboard: netclass
 * (/sys/class/net/DEVICE/..., Documentation/ABI/testing/sysfs-class-net), timex
 * (adjtimex(2)), softnet (/proc/net/softnet_stat), arp (/proc/net/arp) and
 * udp_queues (/proc/net/udp{,6}).
 */
#include "exporter/node/node_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <unistd.h>

#define PATH_OR_FAIL(buf, base, rel)                                                               \
    do {                                                                                           \
        if (node__path(buf, sizeof(buf), base, rel))                                               \
            return pl_err_set(err, PL_ERR_LIMIT, "path too long: %s/%s", base, rel);               \
    } while (0)

/* ------------------------------------------------------------------ netclass */

/* sysfs file, metric suffix, type, scale; in node_exporter's (sorted) order. */
static const struct {
    const char *file, *metric;
    enum exp_type type;
    double scale;
} nc_props[] = {
    {"addr_assign_type", "address_assign_type", EXP_GAUGE, 1},
    {"carrier", "carrier", EXP_GAUGE, 1},
    {"carrier_changes", "carrier_changes_total", EXP_COUNTER, 1},
    {"carrier_down_count", "carrier_down_changes_total", EXP_COUNTER, 1},
    {"carrier_up_count", "carrier_up_changes_total", EXP_COUNTER, 1},
    {"dev_id", "device_id", EXP_GAUGE, 1},
    {"dormant", "dormant", EXP_GAUGE, 1},
    {"flags", "flags", EXP_GAUGE, 1},
    {"ifindex", "iface_id", EXP_GAUGE, 1},
    {"iflink", "iface_link", EXP_GAUGE, 1},
    {"link_mode", "iface_link_mode", EXP_GAUGE, 1},
    {NULL, "info", EXP_GAUGE, 1}, /* node_network_info sorts here */
    {"mtu", "mtu_bytes", EXP_GAUGE, 1},
    {"name_assign_type", "name_assign_type", EXP_GAUGE, 1},
    {"netdev_group", "net_dev_group", EXP_GAUGE, 1},
    {"type", "protocol_type", EXP_GAUGE, 1},
    {"speed", "speed_bytes", EXP_GAUGE, 125000}, /* Mbit/s to bytes/s */
    {"tx_queue_len", "transmit_queue_length", EXP_GAUGE, 1},
};
#define NC_NPROPS (sizeof(nc_props) / sizeof(nc_props[0]))

struct nc_dev {
    char name[64];
    double v[NC_NPROPS];
    unsigned char have[NC_NPROPS];
    char address[64], broadcast[64], duplex[16], ifalias[256], operstate[32];
};

static int cmp_dev(const void *a, const void *b)
{
    return strcmp(((const struct nc_dev *)a)->name, ((const struct nc_dev *)b)->name);
}

/*
 * Reads <dirfd>/<file> (first line, newline removed); "" and -1 when
 * unreadable (e.g. EINVAL for speed while a link is down). Relative to the
 * device's directory descriptor: the symlinked sysfs path is resolved once
 * per device, not once per attribute.
 */
static int nc_read(int dfd, const char *file, char *out, size_t cap)
{
    out[0] = '\0';
    int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t k;
    do
        k = read(fd, out, cap - 1);
    while (k < 0 && errno == EINTR);
    close(fd);
    if (k < 0)
        return -1;
    out[k] = '\0';
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = '\0';
    return 0;
}

int node__collect_netclass(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char base[512];
    PATH_OR_FAIL(base, e->sysfs, "class/net");
    DIR *d = opendir(base);
    if (!d) {
        int rc = -errno;
        return pl_err_set(err, rc, "open %s: %s", base, pl_err_str(rc));
    }
    size_t cap = 16, n = 0;
    struct nc_dev *devs = malloc(cap * sizeof(*devs));
    if (!devs) {
        closedir(d);
        return pl_err_set(err, PL_ERR_NOMEM, "out of memory");
    }
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(devs[0].name))
            continue;
        int dfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            continue; /* not a directory, e.g. bonding_masters */
        if (n == cap) {
            struct nc_dev *nd = realloc(devs, 2 * cap * sizeof(*devs));
            if (!nd) {
                close(dfd);
                break;
            }
            devs = nd;
            cap *= 2;
        }
        struct nc_dev *v = &devs[n++];
        memset(v, 0, sizeof(*v));
        strcpy(v->name, de->d_name);
        char buf[64];
        for (size_t i = 0; i < NC_NPROPS; i++) {
            if (!nc_props[i].file || nc_read(dfd, nc_props[i].file, buf, sizeof(buf)) != 0)
                continue;
            char *end;
            long long x = strtoll(buf, &end, 0); /* flags and dev_id are hexadecimal */
            if (end == buf)
                continue;
            v->v[i] = (double)x * nc_props[i].scale;
            v->have[i] = 1;
        }
        nc_read(dfd, "address", v->address, sizeof(v->address));
        nc_read(dfd, "broadcast", v->broadcast, sizeof(v->broadcast));
        nc_read(dfd, "duplex", v->duplex, sizeof(v->duplex));
        nc_read(dfd, "ifalias", v->ifalias, sizeof(v->ifalias));
        nc_read(dfd, "operstate", v->operstate, sizeof(v->operstate));
        close(dfd);
    }
    closedir(d);
    if (n)
        qsort(devs, n, sizeof(*devs), cmp_dev);
    for (size_t i = 0; i < NC_NPROPS; i++) {
        char fam[96], help[96];
        snprintf(fam, sizeof(fam), "node_network_%s", nc_props[i].metric);
        if (!nc_props[i].file) {
            exp_writer_family(w, fam,
                              "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
                              EXP_GAUGE);
            for (size_t k = 0; k < n; k++)
                exp_writer_samplef(w, 1, 6, "address", devs[k].address, "broadcast",
                                   devs[k].broadcast, "device", devs[k].name, "duplex",
                                   devs[k].duplex, "ifalias", devs[k].ifalias, "operstate",
                                   devs[k].operstate);
            continue;
        }
        snprintf(help, sizeof(help), "Network device property: %s", nc_props[i].metric);
        exp_writer_family(w, fam, help, nc_props[i].type);
        for (size_t k = 0; k < n; k++)
            if (devs[k].have[i])
                exp_writer_samplef(w, devs[k].v[i], 1, "device", devs[k].name);
    }
    exp_writer_family(w, "node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.",
                      EXP_GAUGE);
    for (size_t k = 0; k < n; k++)
        exp_writer_samplef(w, strcmp(devs[k].operstate, "up") == 0, 1, "device", devs[k].name);
    free(devs);
    return 0;
}

/* ------------------------------------------------------------------ timex */

int node__collect_timex(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    (void)e;
    struct timex tx;
    memset(&tx, 0, sizeof(tx)); /* modes 0: read only */
    int state = adjtimex(&tx);
    if (state < 0)
        return pl_err_set(err, -errno, "adjtimex: %s", pl_err_str(-errno));
    const double ppm16 = 65536.0 * 1e6; /* freq fields are ppm with a 16-bit fraction */
    double div = (tx.status & STA_NANO) ? 1e9 : 1e6;
    static const struct {
        const char *name, *help;
        enum exp_type type;
    } f[] = {
        {"node_timex_estimated_error_seconds", "Estimated error in seconds.", EXP_GAUGE},
        {"node_timex_frequency_adjustment_ratio", "Local clock frequency adjustment.", EXP_GAUGE},
        {"node_timex_loop_time_constant", "Phase-locked loop time constant.", EXP_GAUGE},
        {"node_timex_maxerror_seconds", "Maximum error in seconds.", EXP_GAUGE},
        {"node_timex_offset_seconds", "Time offset in between local system and reference clock.",
         EXP_GAUGE},
        {"node_timex_pps_calibration_total", "Pulse per second count of calibration intervals.",
         EXP_COUNTER},
        {"node_timex_pps_error_total", "Pulse per second count of calibration errors.",
         EXP_COUNTER},
        {"node_timex_pps_frequency_hertz", "Pulse per second frequency.", EXP_GAUGE},
        {"node_timex_pps_jitter_seconds", "Pulse per second jitter.", EXP_GAUGE},
        {"node_timex_pps_jitter_total", "Pulse per second count of jitter limit exceeded events.",
         EXP_COUNTER},
        {"node_timex_pps_shift_seconds", "Pulse per second interval duration.", EXP_GAUGE},
        {"node_timex_pps_stability_exceeded_total",
         "Pulse per second count of stability limit exceeded events.", EXP_COUNTER},
        {"node_timex_pps_stability_hertz",
         "Pulse per second stability, average of recent frequency changes.", EXP_GAUGE},
        {"node_timex_status", "Value of the status array bits.", EXP_GAUGE},
        {"node_timex_sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
         EXP_GAUGE},
        {"node_timex_tai_offset_seconds", "International Atomic Time (TAI) offset.", EXP_GAUGE},
        {"node_timex_tick_seconds", "Seconds between clock ticks.", EXP_GAUGE},
    };
    double v[] = {
        (double)tx.esterror / 1e6,
        1 + (double)tx.freq / ppm16,
        (double)tx.constant,
        (double)tx.maxerror / 1e6,
        (double)tx.offset / div,
        (double)tx.calcnt,
        (double)tx.errcnt,
        (double)tx.ppsfreq / ppm16,
        (double)tx.jitter / div,
        (double)tx.jitcnt,
        (double)tx.shift,
        (double)tx.stbcnt,
        (double)tx.stabil / ppm16,
        (double)tx.status,
        state == TIME_ERROR ? 0 : 1,
        (double)tx.tai,
        (double)tx.tick / 1e6,
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        exp_writer_family(w, f[i].name, f[i].help, f[i].type);
        exp_writer_sample(w, 0, NULL, NULL, v[i]);
    }
    return 0;
}

/* ------------------------------------------------------------------ softnet */

int node__collect_softnet(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char path[512], *data, *p;
    size_t len;
    PATH_OR_FAIL(path, e->procfs, "net/softnet_stat");
    int rc = node__read(e, path, &data, &len, err);
    if (rc)
        return rc;
    /* Columns (hexadecimal): processed, dropped, time_squeeze, ... one line per CPU. */
    static const struct {
        const char *name, *help;
        int col;
    } f[] = {
        {"node_softnet_dropped_total", "Number of dropped packets", 1},
        {"node_softnet_processed_total", "Number of processed packets", 0},
        {"node_softnet_times_squeezed_total", "Number of times processing packets ran out of quota",
         2},
    };
    for (int k = 0; k < 3; k++) {
        exp_writer_family(w, f[k].name, f[k].help, EXP_COUNTER);
        p = data;
        int cpu = 0;
        for (const char *line = p; line && *line; cpu++) {
            const char *nl = strchr(line, '\n');
            double vals[3];
            int nv = 0;
            const char *q = line;
            while (nv < 3) {
                char *end;
                unsigned long long x = strtoull(q, &end, 16);
                if (end == q || (nl && end > nl))
                    break;
                vals[nv++] = (double)x;
                q = end;
            }
            if (nv < 3)
                return pl_err_set(err, PL_ERR_INVALID, "%s: line %d has fewer than 3 columns", path,
                                  cpu + 1);
            char cs[16];
            snprintf(cs, sizeof(cs), "%d", cpu);
            exp_writer_samplef(w, vals[f[k].col], 1, "cpu", cs);
            line = nl ? nl + 1 : NULL;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ arp */

int node__collect_arp(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char path[512], *data, *p;
    size_t len;
    PATH_OR_FAIL(path, e->procfs, "net/arp");
    int rc = node__read(e, path, &data, &len, err);
    if (rc)
        return rc;
    struct {
        char dev[64];
        double n;
    } devs[256];
    size_t nd = 0;
    p = data;
    node__line(&p); /* header */
    for (char *line; (line = node__line(&p)) != NULL;) {
        char *last = NULL, *f;
        int nf = 0;
        while ((f = node__field(&line)) != NULL)
            last = f, nf++;
        if (nf != 6 || strlen(last) >= sizeof(devs[0].dev))
            continue;
        size_t i = 0;
        while (i < nd && strcmp(devs[i].dev, last) != 0)
            i++;
        if (i == nd) {
            if (nd == sizeof(devs) / sizeof(devs[0]))
                continue;
            strcpy(devs[nd].dev, last);
            devs[nd++].n = 0;
        }
        devs[i].n++;
    }
    exp_writer_family(w, "node_arp_entries", "ARP entries by device", EXP_GAUGE);
    for (size_t i = 0; i < nd; i++)
        exp_writer_samplef(w, devs[i].n, 1, "device", devs[i].dev);
    return 0;
}

/* ------------------------------------------------------------------ udp_queues */

/* Sums the tx_queue:rx_queue column of /proc/net/udp{,6}. Returns 0 or -errno. */
static int udp_sum(struct node_exporter *e, const char *rel, double *tx, double *rx,
                   struct pl_err *err)
{
    char path[512], *data, *p;
    size_t len;
    if (node__path(path, sizeof(path), e->procfs, rel))
        return pl_err_set(err, PL_ERR_LIMIT, "path too long");
    int rc = node__read(e, path, &data, &len, err);
    if (rc)
        return rc;
    *tx = *rx = 0;
    p = data;
    node__line(&p); /* header */
    for (char *line; (line = node__line(&p)) != NULL;) {
        char *f = NULL;
        for (int i = 0; i < 5; i++)
            f = node__field(&line);
        char *colon = f ? strchr(f, ':') : NULL;
        if (!colon)
            return pl_err_set(err, PL_ERR_INVALID, "%s: malformed line", path);
        *tx += (double)strtoull(f, NULL, 16);
        *rx += (double)strtoull(colon + 1, NULL, 16);
    }
    return 0;
}

int node__collect_udp_queues(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    double tx4, rx4, tx6 = 0, rx6 = 0;
    int rc = udp_sum(e, "net/udp", &tx4, &rx4, err);
    if (rc)
        return rc;
    int have6 = udp_sum(e, "net/udp6", &tx6, &rx6, err);
    if (have6 != 0 && have6 != -ENOENT)
        return have6;
    pl_err_clear(err);
    exp_writer_family(w, "node_udp_queues",
                      "Number of allocated memory in the kernel for UDP datagrams in bytes.",
                      EXP_GAUGE);
    exp_writer_samplef(w, rx4, 2, "ip", "v4", "queue", "rx");
    exp_writer_samplef(w, tx4, 2, "ip", "v4", "queue", "tx");
    if (have6 == 0) {
        exp_writer_samplef(w, rx6, 2, "ip", "v6", "queue", "rx");
        exp_writer_samplef(w, tx6, 2, "ip", "v6", "queue", "tx");
    }
    return 0;
}
