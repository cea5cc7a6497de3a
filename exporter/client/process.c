/*
 * process.c - the default process collector: CPU time, memory, file
 * descriptors and start time of the current process, with client_golang's
 * process collector names and HELP texts, read from proc(5):
 * /proc/self/stat (utime, stime, starttime, vsize, rss), /proc/self/limits
 * (open files, address space), /proc/self/fd and btime in /proc/stat.
 */
#include "exporter/client/client_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct proc_coll {
    char procfs[256];
    double btime; /* boot time, seconds since the epoch; read once */
    double ticks; /* USER_HZ */
    double pagesize;
};

static ssize_t slurp(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return -e;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* A limit line "Max open files  1024  4096  files": the soft limit, or -1 for unlimited. */
static double limit_value(const char *limits, const char *key)
{
    const char *p = strstr(limits, key);
    if (!p)
        return -2;
    p += strlen(key);
    while (*p == ' ')
        p++;
    if (strncmp(p, "unlimited", 9) == 0)
        return -1;
    return strtod(p, NULL);
}

static int proc_collect(struct exp_writer *w, void *ud)
{
    struct proc_coll *pc = ud;
    char path[320], buf[4096];

    snprintf(path, sizeof(path), "%s/self/stat", pc->procfs);
    if (slurp(path, buf, sizeof(buf)) > 0) {
        char *p = strrchr(buf, ')');
        double f[24] = {0};
        int nf = 0;
        /* Fields after the command name start at field 3 (state). */
        for (p = p ? p + 2 : buf; *p && nf < 24; nf++) {
            char *end;
            f[nf] = strtod(p, &end);
            if (end == p) /* the state letter */
                end = p + 1;
            p = end;
            while (*p == ' ')
                p++;
        }
        if (nf >= 22) {
            /* f[0] is field 3; utime=14 stime=15 starttime=22 vsize=23 rss=24 */
            exp_writer_family(w, "process_cpu_seconds_total",
                              "Total user and system CPU time spent in seconds.", EXP_COUNTER);
            exp_writer_sample(w, 0, NULL, NULL, (f[11] + f[12]) / pc->ticks);
            exp_writer_family(w, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
                              EXP_GAUGE);
            exp_writer_sample(w, 0, NULL, NULL, f[20]);
            exp_writer_family(w, "process_resident_memory_bytes", "Resident memory size in bytes.",
                              EXP_GAUGE);
            exp_writer_sample(w, 0, NULL, NULL, f[21] * pc->pagesize);
            if (pc->btime > 0) {
                exp_writer_family(w, "process_start_time_seconds",
                                  "Start time of the process since unix epoch in seconds.",
                                  EXP_GAUGE);
                exp_writer_sample(w, 0, NULL, NULL, pc->btime + f[19] / pc->ticks);
            }
        }
    }

    snprintf(path, sizeof(path), "%s/self/fd", pc->procfs);
    DIR *d = opendir(path);
    if (d) {
        double n = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            if (de->d_name[0] != '.')
                n++;
        closedir(d);
        n--; /* the descriptor opendir itself holds */
        exp_writer_family(w, "process_open_fds", "Number of open file descriptors.", EXP_GAUGE);
        exp_writer_sample(w, 0, NULL, NULL, n < 0 ? 0 : n);
    }

    snprintf(path, sizeof(path), "%s/self/limits", pc->procfs);
    if (slurp(path, buf, sizeof(buf)) > 0) {
        double fds = limit_value(buf, "Max open files");
        double as = limit_value(buf, "Max address space");
        if (fds != -2) {
            exp_writer_family(w, "process_max_fds", "Maximum number of open file descriptors.",
                              EXP_GAUGE);
            exp_writer_sample(w, 0, NULL, NULL, fds < 0 ? 18446744073709551615.0 : fds);
        }
        if (as != -2) {
            exp_writer_family(w, "process_virtual_memory_max_bytes",
                              "Maximum amount of virtual memory available in bytes.", EXP_GAUGE);
            exp_writer_sample(w, 0, NULL, NULL, as < 0 ? 18446744073709551615.0 : as);
        }
    }
    return 0; /* a missing file drops its metrics, never the scrape (client_golang) */
}

int exp_registry_add_process_collector(struct exp_registry *r, const char *procfs)
{
    if (!r)
        return EXP_ERR_INVALID;
    if (!procfs)
        procfs = "/proc";
    if (strlen(procfs) >= sizeof(((struct proc_coll *)0)->procfs))
        return EXP_ERR_INVALID;
    struct proc_coll *pc = calloc(1, sizeof(*pc));
    if (!pc)
        return EXP_ERR_NOMEM;
    strcpy(pc->procfs, procfs);
    long hz = sysconf(_SC_CLK_TCK);
    long ps = sysconf(_SC_PAGESIZE);
    pc->ticks = hz > 0 ? (double)hz : 100;
    pc->pagesize = ps > 0 ? (double)ps : 4096;
    char path[320], *buf = malloc(65536);
    if (!buf) {
        free(pc);
        return EXP_ERR_NOMEM;
    }
    snprintf(path, sizeof(path), "%s/stat", procfs);
    if (slurp(path, buf, 65536) > 0) {
        const char *b = strstr(buf, "\nbtime ");
        if (b)
            pc->btime = strtod(b + 7, NULL);
    }
    free(buf);
    return exp_registry_add_collector(r, proc_collect, pc, free);
}
