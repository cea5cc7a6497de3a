/*
 * coll_net.c - network collectors (proc(5), Documentation/networking):
 * netdev (/proc/net/dev plus rx_nohandler from /sys/class/net/<dev>/statistics),
 * netstat (/proc/net/netstat, /proc/net/snmp header/value line pairs and
 * /proc/net/snmp6 key/value lines), sockstat (/proc/net/sockstat{,6}) and
 * conntrack (/proc/sys/net/netfilter/nf_conntrack_{count,max} and the per-CPU
 * hexadecimal table /proc/net/stat/nf_conntrack).
 */
#include "exporter/node/node_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_OR_FAIL(buf, base, rel)                                                               \
    do {                                                                                           \
        if (node__path(buf, sizeof(buf), base, rel))                                               \
            return pl_err_set(err, PL_ERR_LIMIT, "path too long: %s/%s", base, rel);               \
    } while (0)

/* ------------------------------------------------------------------ netdev */

#define NETDEV_NFIELDS 17 /* 16 columns of /proc/net/dev + rx_nohandler */

struct netdev {
    char name[64];
    double v[NETDEV_NFIELDS];
};

/* Column index in /proc/net/dev order; 16 = receive_nohandler. Listed in name order. */
static const struct {
    const char *stat;
    int col;
} netdev_fields[NETDEV_NFIELDS] = {
    {"receive_bytes", 0},        {"receive_compressed", 6}, {"receive_drop", 3},
    {"receive_errs", 2},         {"receive_fifo", 4},       {"receive_frame", 5},
    {"receive_multicast", 7},    {"receive_nohandler", 16}, {"receive_packets", 1},
    {"transmit_bytes", 8},       {"transmit_carrier", 14},  {"transmit_colls", 13},
    {"transmit_compressed", 15}, {"transmit_drop", 11},     {"transmit_errs", 10},
    {"transmit_fifo", 12},       {"transmit_packets", 9},
};

int node__collect_netdev(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char path[512], *data, *p;
    size_t len;
    PATH_OR_FAIL(path, e->procfs, "net/dev");
    int rc = node__read(e, path, &data, &len, err);
    if (rc)
        return rc;
    size_t cap = 1;
    for (const char *q = data; *q; q++)
        cap += *q == '\n';
    struct netdev *devs = calloc(cap, sizeof(*devs)); /* one allocation per scrape */
    if (!devs)
        return pl_err_set(err, PL_ERR_NOMEM, "out of memory");
    size_t n = 0;
    p = data;
    for (char *line; (line = node__line(&p)) != NULL;) {
        char *colon = strchr(line, ':');
        if (!colon || strchr(line, '|'))
            continue; /* the two header lines */
        *colon = '\0';
        char *name = line;
        while (*name == ' ')
            name++;
        if (!*name || strlen(name) >= sizeof(devs[0].name))
            continue;
        if (node__has(e, NODE_RE_NETDEV_INCLUDE) && !node__match(e, NODE_RE_NETDEV_INCLUDE, name))
            continue;
        if (node__match(e, NODE_RE_NETDEV_EXCLUDE, name))
            continue;
        struct netdev *d = &devs[n];
        strcpy(d->name, name);
        char *q = colon + 1;
        int k = 0;
        for (char *f; k < 16 && (f = node__field(&q)) != NULL; k++)
            d->v[k] = strtod(f, NULL);
        if (k < 16) {
            free(devs);
            return pl_err_set(err, PL_ERR_INVALID, "%s: short line for %s", path, name);
        }
        char rel[160], np[512];
        snprintf(rel, sizeof(rel), "class/net/%s/statistics/rx_nohandler", name);
        if (node__path(np, sizeof(np), e->sysfs, rel) || node__read_double(np, &d->v[16]))
            d->v[16] = -1; /* not known: not exposed for this device */
        n++;
    }
    for (int f = 0; f < NETDEV_NFIELDS; f++) {
        char fam[96], help[96];
        snprintf(fam, sizeof(fam), "node_network_%s_total", netdev_fields[f].stat);
        snprintf(help, sizeof(help), "Network device statistic %s.", netdev_fields[f].stat);
        exp_writer_family(w, fam, help, EXP_COUNTER);
        for (size_t i = 0; i < n; i++) {
            double v = devs[i].v[netdev_fields[f].col];
            if (v >= 0)
                exp_writer_samplef(w, v, 1, "device", devs[i].name);
        }
    }
    free(devs);
    return 0;
}

/* ------------------------------------------------------------------ netstat */

static void netstat_emit(struct node_exporter *e, struct exp_writer *w, const char *proto,
                         const char *key, const char *val)
{
    char full[160];
    snprintf(full, sizeof(full), "%.40s_%.100s", proto, key);
    if (!node__match(e, NODE_RE_NETSTAT_FIELDS, full))
        return;
    char *end;
    double v = strtod(val, &end);
    if (end == val)
        return;
    char fam[200], help[200];
    snprintf(fam, sizeof(fam), "node_netstat_%s", full);
    snprintf(help, sizeof(help), "Statistic %.40s%.100s.", proto, key);
    if (node__family(w, fam, help, EXP_UNTYPED) == 0)
        exp_writer_sample(w, 0, NULL, NULL, v);
}

/* /proc/net/netstat and /proc/net/snmp: "Proto: k1 k2 ..." then "Proto: v1 v2 ...". */
static int netstat_pairs(struct node_exporter *e, struct exp_writer *w, const char *rel,
                         struct pl_err *err)
{
    char path[512], *data, *p;
    size_t len;
    PATH_OR_FAIL(path, e->procfs, rel);
    int rc = node__read(e, path, &data, &len, err);
    if (rc)
        return rc;
    p = data;
    for (;;) {
        char *keys = node__line(&p), *vals = node__line(&p);
        if (!keys)
            break;
        if (!vals)
            return pl_err_set(err, PL_ERR_INVALID, "%s: odd number of lines", path);
        char *kc = strchr(keys, ':'), *vc = strchr(vals, ':');
        if (!kc || !vc || kc - keys != vc - vals || strncmp(keys, vals, (size_t)(kc - keys)))
            return pl_err_set(err, PL_ERR_INVALID, "%s: mismatched header and values", path);
        *kc = '\0';
        char *kp = kc + 1, *vp = vc + 1, *k, *v;
        while ((k = node__field(&kp)) != NULL) {
            if ((v = node__field(&vp)) == NULL)
                return pl_err_set(err, PL_ERR_INVALID, "%s: %s has fewer values than names", path,
                                  keys);
            netstat_emit(e, w, keys, k, v);
        }
    }
    return 0;
}

int node__collect_netstat(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    int rc = netstat_pairs(e, w, "net/netstat", err);
    if (!rc)
        rc = netstat_pairs(e, w, "net/snmp", err);
    if (rc)
        return rc;
    char path[512], *data, *p;
    size_t len;
    PATH_OR_FAIL(path, e->procfs, "net/snmp6");
    rc = node__read(e, path, &data, &len, err);
    if (rc == -ENOENT) {
        pl_err_clear(err); /* no IPv6 */
        return 0;
    }
    if (rc)
        return rc;
    p = data;
    for (char *line; (line = node__line(&p)) != NULL;) {
        char *k = node__field(&line), *v = node__field(&line);
        if (!k || !v)
            continue;
        /* "Icmp6InMsgs": the protocol runs up to and including the first '6'. */
        char *six = strchr(k, '6');
        if (!six || !six[1])
            continue;
        char proto[48];
        size_t pl = (size_t)(six - k) + 1;
        if (pl >= sizeof(proto))
            continue;
        memcpy(proto, k, pl);
        proto[pl] = '\0';
        netstat_emit(e, w, proto, six + 1, v);
    }
    return 0;
}

/* ------------------------------------------------------------------ sockstat */

static int sockstat_file(struct node_exporter *e, struct exp_writer *w, const char *rel,
                         int optional, struct pl_err *err)
{
    char path[512], *data, *p;
    size_t len;
    PATH_OR_FAIL(path, e->procfs, rel);
    int rc = node__read(e, path, &data, &len, err);
    if (rc == -ENOENT && optional) {
        pl_err_clear(err);
        return 0;
    }
    if (rc)
        return rc;
    p = data;
    for (char *line; (line = node__line(&p)) != NULL;) {
        char *proto = node__field(&line);
        if (!proto)
            continue;
        size_t pl = strlen(proto);
        if (pl < 2 || proto[pl - 1] != ':' || pl > 40)
            return pl_err_set(err, PL_ERR_INVALID, "%s: malformed line %s", path, proto);
        proto[pl - 1] = '\0';
        char *k, *v;
        while ((k = node__field(&line)) != NULL) {
            if ((v = node__field(&line)) == NULL)
                return pl_err_set(err, PL_ERR_INVALID, "%s: %s: odd field count", path, proto);
            double val = strtod(v, NULL);
            char fam[128], help[160];
            if (strcmp(proto, "sockets") == 0 && strcmp(k, "used") == 0) {
                if (node__family(w, "node_sockstat_sockets_used", "Number of IPv4 sockets in use.",
                                 EXP_GAUGE) == 0)
                    exp_writer_sample(w, 0, NULL, NULL, val);
                continue;
            }
            snprintf(fam, sizeof(fam), "node_sockstat_%s_%.40s", proto, k);
            snprintf(help, sizeof(help), "Number of %s sockets in state %.40s.", proto, k);
            if (node__family(w, fam, help, EXP_GAUGE) == 0)
                exp_writer_sample(w, 0, NULL, NULL, val);
            if (strcmp(k, "mem") == 0) {
                /* "mem" counts pages; node_exporter adds the value in bytes. */
                snprintf(fam, sizeof(fam), "node_sockstat_%s_mem_bytes", proto);
                snprintf(help, sizeof(help), "Number of %s sockets in state mem_bytes.", proto);
                if (node__family(w, fam, help, EXP_GAUGE) == 0)
                    exp_writer_sample(w, 0, NULL, NULL, val * e->pagesize);
            }
        }
    }
    return 0;
}

int node__collect_sockstat(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    int rc = sockstat_file(e, w, "net/sockstat", 0, err);
    if (!rc)
        rc = sockstat_file(e, w, "net/sockstat6", 1, err);
    return rc;
}

/* ------------------------------------------------------------------ conntrack */

static const struct {
    const char *col, *help;
} ct_stats[] = {
    {"drop", "Number of packets dropped due to conntrack failure."},
    {"early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum "
                   "table size was reached."},
    {"found", "Number of searched entries which were successful."},
    {"ignore", "Number of packets seen which are already connected to a conntrack entry."},
    {"insert", "Number of entries inserted into the list."},
    {"insert_failed", "Number of entries for which list insertion was attempted but failed."},
    {"invalid", "Number of packets seen which can not be tracked."},
    {"search_restart",
     "Number of conntrack table lookups which had to be restarted due to hashtable resizes."},
};
#define CT_NSTATS (sizeof(ct_stats) / sizeof(ct_stats[0]))

int node__collect_conntrack(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char path[512];
    double count, max;
    PATH_OR_FAIL(path, e->procfs, "sys/net/netfilter/nf_conntrack_count");
    int rc = node__read_double(path, &count);
    if (rc == -ENOENT)
        return pl_err_set(err, PL_ERR_NOTFOUND, "%s: not present (nf_conntrack not loaded)", path);
    if (rc)
        return pl_err_set(err, rc, "read %s: %s", path, pl_err_str(rc));
    PATH_OR_FAIL(path, e->procfs, "sys/net/netfilter/nf_conntrack_max");
    rc = node__read_double(path, &max);
    if (rc)
        return pl_err_set(err, rc, "read %s: %s", path, pl_err_str(rc));
    exp_writer_family(w, "node_nf_conntrack_entries",
                      "Number of currently allocated flow entries for connection tracking.",
                      EXP_GAUGE);
    exp_writer_sample(w, 0, NULL, NULL, count);
    exp_writer_family(w, "node_nf_conntrack_entries_limit",
                      "Maximum size of connection tracking table.", EXP_GAUGE);
    exp_writer_sample(w, 0, NULL, NULL, max);

    char *data, *p;
    size_t len;
    PATH_OR_FAIL(path, e->procfs, "net/stat/nf_conntrack");
    rc = node__read(e, path, &data, &len, err);
    if (rc)
        return rc;
    p = data;
    char *hdr = node__line(&p);
    if (!hdr)
        return pl_err_set(err, PL_ERR_INVALID, "%s: empty", path);
    int col[CT_NSTATS];
    double sum[CT_NSTATS] = {0};
    for (size_t s = 0; s < CT_NSTATS; s++)
        col[s] = -1;
    int ncol = 0;
    for (char *f; (f = node__field(&hdr)) != NULL; ncol++)
        for (size_t s = 0; s < CT_NSTATS; s++)
            if (strcmp(f, ct_stats[s].col) == 0)
                col[s] = ncol;
    for (char *line; (line = node__line(&p)) != NULL;) {
        int c = 0;
        for (char *f; (f = node__field(&line)) != NULL; c++) {
            double v = (double)strtoull(f, NULL, 16);
            for (size_t s = 0; s < CT_NSTATS; s++)
                if (col[s] == c)
                    sum[s] += v;
        }
    }
    for (size_t s = 0; s < CT_NSTATS; s++) {
        if (col[s] < 0)
            continue;
        char fam[96];
        snprintf(fam, sizeof(fam), "node_nf_conntrack_stat_%s", ct_stats[s].col);
        exp_writer_family(w, fam, ct_stats[s].help, EXP_GAUGE);
        exp_writer_sample(w, 0, NULL, NULL, sum[s]);
    }
    return 0;
}
