/*
 * node_int.h - internals of promlite-exporter shared between its collector
 * files: the exporter state, file reading into a reusable scratch buffer, and
 * the filters (PCRE2, the regex dialect node_exporter's flags use).
 */
#ifndef EXPORTER_NODE_NODE_INT_H
#define EXPORTER_NODE_NODE_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include "exporter/node/node.h"
#include "exporter/client/client_int.h"

#include <pcre2.h>
#include <stddef.h>
#include <sys/statvfs.h>

enum node_re {
    NODE_RE_DISK_EXCLUDE,
    NODE_RE_MOUNT_EXCLUDE,
    NODE_RE_FSTYPE_EXCLUDE,
    NODE_RE_NETDEV_EXCLUDE,
    NODE_RE_NETDEV_INCLUDE,
    NODE_RE_NETSTAT_FIELDS,
    NODE_RE_VMSTAT_FIELDS,
    NODE_NRE
};

#define NODE_FILE_MAX (16u << 20) /* largest procfs/sysfs/textfile read */

struct node_exporter {
    char *procfs, *sysfs, *rootfs, *udev, *textdir;
    pcre2_code *re[NODE_NRE]; /* NULL: filter not set */
    pcre2_match_data *md;
    int enabled[NODE_NCOLL];
    char *buf; /* scratch for whole-file reads, grows up to NODE_FILE_MAX */
    size_t cap;
    double pagesize, userhz;
    double mount_timeout; /* seconds a remote filesystem's statvfs may take */
};

/*
 * The statvfs the filesystem collector calls (a variable so that tests can
 * simulate a hung network filesystem).
 */
extern int (*node__statvfs)(const char *path, struct statvfs *st);

/* One collector: writes its families, or returns an error with a message. */
typedef int (*node_collect_fn)(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);

int node__collect_cpu(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_stat(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_meminfo(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_loadavg(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_vmstat(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_filefd(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_entropy(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_pressure(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_netdev(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_netstat(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_sockstat(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_conntrack(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_diskstats(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_filesystem(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_time(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_uname(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_os(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_netclass(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_timex(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_softnet(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_arp(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_udp_queues(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);
int node__collect_textfile(struct node_exporter *e, struct exp_writer *w, struct pl_err *err);

/* Builds "<base>/<rel>" into out; returns 0 or PL_ERR_LIMIT when too long. */
int node__path(char *out, size_t cap, const char *base, const char *rel);

/*
 * Reads a whole file into the exporter's scratch buffer (NUL-terminated).
 * OUT: *data (borrowed until the next node__read), *len. Returns 0, -errno, or
 * PL_ERR_LIMIT; fills err with "open <path>: <reason>".
 */
int node__read(struct node_exporter *e, const char *path, char **data, size_t *len,
               struct pl_err *err);

/* Reads a small file (first line, trailing newline removed) into out. */
int node__read_small(const char *path, char *out, size_t cap);

/* Reads a small file whole (truncated to cap - 1 bytes), NUL-terminated. */
int node__read_all(const char *path, char *out, size_t cap);

/* Same for a number; returns 0 or an error. */
int node__read_double(const char *path, double *out);

/* Whether `s` matches filter `which`; an unset filter matches nothing. */
int node__match(struct node_exporter *e, enum node_re which, const char *s);

/* Whether the filter is set. */
int node__has(const struct node_exporter *e, enum node_re which);

/*
 * Starts a family whose name comes from file contents. Returns 0, or -1 when
 * the name is invalid or already written (then skip its samples); never
 * leaves a sticky error in the writer for those cases.
 */
int node__family(struct exp_writer *w, const char *name, const char *help, enum exp_type type);

/* Splits the next whitespace-separated field off *p (modifies it). NULL at the end of line. */
char *node__field(char **p);

/* Returns the next line of *p (NUL-terminated in place) or NULL. */
char *node__line(char **p);

#endif
