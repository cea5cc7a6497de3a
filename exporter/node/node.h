/*
 * node.h - promlite-exporter: host statistics with node_exporter 1.5's metric
 * names, label names, types and HELP texts, read from procfs (proc(5)) and
 * sysfs (Documentation/ABI in the Linux sources).
 *
 * A struct node_exporter holds the options (paths, filters, enabled
 * collectors) and scratch buffers. Registered in an exp_registry, it runs every
 * enabled collector at each scrape, then writes
 * node_scrape_collector_duration_seconds and node_scrape_collector_success.
 * A failing collector is logged and reported as success 0; it never fails the
 * scrape. Collectors for optional kernel features (conntrack, pressure) that
 * find them absent return PL_ERR_NOTFOUND ("no data", logged at debug level).
 */
#ifndef EXPORTER_NODE_NODE_H
#define EXPORTER_NODE_NODE_H

#include "common/err.h"
#include "exporter/include/promlite/client.h"

#include <stddef.h>

/* The collectors, in the order they run. */
enum node_coll_id {
    NODE_CPU,
    NODE_MEMINFO,
    NODE_LOADAVG,
    NODE_DISKSTATS,
    NODE_FILESYSTEM,
    NODE_NETDEV,
    NODE_NETSTAT,
    NODE_SOCKSTAT,
    NODE_STAT,
    NODE_VMSTAT,
    NODE_FILEFD,
    NODE_PRESSURE,
    NODE_TIME,
    NODE_UNAME,
    NODE_OS,
    NODE_ENTROPY,
    NODE_CONNTRACK,
    NODE_NETCLASS,
    NODE_TIMEX,
    NODE_SOFTNET,
    NODE_ARP,
    NODE_UDP_QUEUES,
    NODE_TEXTFILE,
    NODE_NCOLL
};

/* Options; node_opts_init fills node_exporter 1.5's defaults. */
struct node_opts {
    const char *procfs;       /* --path.procfs, "/proc" */
    const char *sysfs;        /* --path.sysfs, "/sys" */
    const char *rootfs;       /* --path.rootfs, "/" */
    const char *udev_data;    /* --path.udev.data, "/run/udev/data" */
    const char *textfile_dir; /* --collector.textfile.directory, "" (none) */
    const char *diskstats_device_exclude;
    const char *fs_mount_points_exclude;
    const char *fs_types_exclude;
    double fs_mount_timeout_s;         /* --collector.filesystem.mount-timeout, 5 s */
    const char *netdev_device_exclude; /* "" = none */
    const char *netdev_device_include; /* "" = all */
    const char *netstat_fields;
    const char *vmstat_fields;
    int enabled[NODE_NCOLL];
};

/* Fills `o` with node_exporter 1.5's defaults (every collector here enabled). */
void node_opts_init(struct node_opts *o);

/* The collector's flag name ("cpu", "meminfo", ...), or NULL when out of range. */
const char *node_coll_name(int id);

/* The id of a collector name, or -1. */
int node_coll_lookup(const char *name);

struct node_exporter;

/*
 * Creates an exporter from `o` (strings copied; regexes compiled).
 * OUT: *out. Errors: PL_ERR_INVALID with a message naming the bad regex.
 */
int node_exporter_new(const struct node_opts *o, struct node_exporter **out, struct pl_err *err);

/* Frees it. NULL-safe. Not while registered in a live registry. */
void node_exporter_free(struct node_exporter *e);

/*
 * Adds the exporter as a collector of `r`. The registry does not take
 * ownership; free the registry first, then the exporter.
 */
int node_exporter_register(struct node_exporter *e, struct exp_registry *r);

/*
 * Runs one collector alone into `w` (tests). Returns 0, or the collector's
 * error with a message in `err`.
 */
int node_exporter_collect_one(struct node_exporter *e, int id, struct exp_writer *w,
                              struct pl_err *err);

#endif
