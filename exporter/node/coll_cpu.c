/*
 * coll_cpu.c - the cpu and stat collectors, both from /proc/stat (proc(5)):
 * per-CPU time by mode in USER_HZ ticks, and the kernel-wide counters
 * btime, ctxt, processes, intr, procs_running and procs_blocked.
 */
#include "exporter/node/node_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses up to max numbers after the first word of a line; returns how many. */
static int numbers(const char *line, double *out, int max)
{
    const char *p = line;
    while (*p && *p != ' ' && *p != '\n')
        p++;
    int n = 0;
    while (n < max) {
        while (*p == ' ')
            p++;
        if (!*p || *p == '\n')
            break;
        char *end;
        out[n] = strtod(p, &end);
        if (end == p)
            break;
        n++;
        p = end;
    }
    return n;
}

static const char *next_line(const char *p)
{
    const char *nl = strchr(p, '\n');
    return nl ? nl + 1 : NULL;
}

int node__collect_cpu(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char path[512], *data;
    size_t len;
    if (node__path(path, sizeof(path), e->procfs, "stat"))
        return pl_err_set(err, PL_ERR_LIMIT, "path too long");
    int rc = node__read(e, path, &data, &len, err);
    if (rc)
        return rc;
    /* /proc/stat order: user nice system idle iowait irq softirq steal guest guest_nice.
     * Emitted in node_exporter's (sorted) mode order. */
    static const struct {
        const char *mode;
        int idx;
    } modes[] = {{"idle", 3},    {"iowait", 4}, {"irq", 5},    {"nice", 1},
                 {"softirq", 6}, {"steal", 7},  {"system", 2}, {"user", 0}};
    int ncpu = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            exp_writer_family(w, "node_cpu_seconds_total", "Seconds the CPUs spent in each mode.",
                              EXP_COUNTER);
        else
            exp_writer_family(w, "node_cpu_guest_seconds_total",
                              "Seconds the CPUs spent in guests (VMs) for each mode.", EXP_COUNTER);
        for (const char *l = data; l; l = next_line(l)) {
            if (strncmp(l, "cpu", 3) != 0 || l[3] < '0' || l[3] > '9')
                continue;
            char cpu[16];
            size_t k = 0;
            for (const char *p = l + 3; *p >= '0' && *p <= '9' && k < sizeof(cpu) - 1; p++)
                cpu[k++] = *p;
            cpu[k] = '\0';
            double v[10] = {0};
            int n = numbers(l, v, 10);
            if (n < 4)
                return pl_err_set(err, PL_ERR_INVALID, "%s: short cpu line", path);
            if (pass == 0) {
                ncpu++;
                for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
                    exp_writer_samplef(w, v[modes[m].idx] / e->userhz, 2, "cpu", cpu, "mode",
                                       modes[m].mode);
            } else if (n >= 10) {
                exp_writer_samplef(w, v[9] / e->userhz, 2, "cpu", cpu, "mode", "nice");
                exp_writer_samplef(w, v[8] / e->userhz, 2, "cpu", cpu, "mode", "user");
            }
        }
    }
    if (!ncpu)
        return pl_err_set(err, PL_ERR_INVALID, "%s: no per-CPU lines", path);
    return 0;
}

int node__collect_stat(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char path[512], *data;
    size_t len;
    if (node__path(path, sizeof(path), e->procfs, "stat"))
        return pl_err_set(err, PL_ERR_LIMIT, "path too long");
    int rc = node__read(e, path, &data, &len, err);
    if (rc)
        return rc;
    double btime = -1, ctxt = -1, forks = -1, intr = -1, running = -1, blocked = -1;
    for (const char *l = data; l; l = next_line(l)) {
        double v;
        if (numbers(l, &v, 1) != 1)
            continue;
        if (strncmp(l, "btime ", 6) == 0)
            btime = v;
        else if (strncmp(l, "ctxt ", 5) == 0)
            ctxt = v;
        else if (strncmp(l, "processes ", 10) == 0)
            forks = v;
        else if (strncmp(l, "intr ", 5) == 0)
            intr = v;
        else if (strncmp(l, "procs_running ", 14) == 0)
            running = v;
        else if (strncmp(l, "procs_blocked ", 14) == 0)
            blocked = v;
    }
    if (btime < 0 || ctxt < 0 || forks < 0 || intr < 0 || running < 0 || blocked < 0)
        return pl_err_set(err, PL_ERR_INVALID, "%s: missing btime/ctxt/processes/intr/procs", path);
    exp_writer_family(w, "node_boot_time_seconds", "Node boot time, in unixtime.", EXP_GAUGE);
    exp_writer_sample(w, 0, NULL, NULL, btime);
    exp_writer_family(w, "node_context_switches_total", "Total number of context switches.",
                      EXP_COUNTER);
    exp_writer_sample(w, 0, NULL, NULL, ctxt);
    exp_writer_family(w, "node_forks_total", "Total number of forks.", EXP_COUNTER);
    exp_writer_sample(w, 0, NULL, NULL, forks);
    exp_writer_family(w, "node_intr_total", "Total number of interrupts serviced.", EXP_COUNTER);
    exp_writer_sample(w, 0, NULL, NULL, intr);
    exp_writer_family(w, "node_procs_blocked",
                      "Number of processes blocked waiting for I/O to complete.", EXP_GAUGE);
    exp_writer_sample(w, 0, NULL, NULL, blocked);
    exp_writer_family(w, "node_procs_running", "Number of processes in runnable state.", EXP_GAUGE);
    exp_writer_sample(w, 0, NULL, NULL, running);
    return 0;
}
