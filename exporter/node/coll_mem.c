/*
 * coll_mem.c - small procfs collectors (proc(5)): meminfo (/proc/meminfo),
 * loadavg (/proc/loadavg), vmstat (/proc/vmstat), filefd
 * (/proc/sys/fs/file-nr), entropy (/proc/sys/kernel/random/entropy_avail,
 * poolsize) and pressure (/proc/pressure/{cpu,io,memory}, Documentation/
 * accounting/psi.rst).
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

int node__collect_meminfo(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char path[512], *data, *p;
    size_t len;
    PATH_OR_FAIL(path, e->procfs, "meminfo");
    int rc = node__read(e, path, &data, &len, err);
    if (rc)
        return rc;
    p = data;
    int n = 0;
    for (char *line; (line = node__line(&p)) != NULL;) {
        char *key = node__field(&line), *val = node__field(&line), *unit = node__field(&line);
        if (!key || !val)
            continue;
        size_t kl = strlen(key);
        if (kl < 2 || key[kl - 1] != ':')
            return pl_err_set(err, PL_ERR_INVALID, "%s: malformed line for %s", path, key);
        key[--kl] = '\0';
        char *end;
        double v = strtod(val, &end);
        if (end == val || *end)
            return pl_err_set(err, PL_ERR_INVALID, "%s: bad value for %s", path, key);
        /* "Active(anon)" becomes "Active_anon"; values in kB become bytes. */
        char name[160];
        size_t k = 0;
        for (size_t i = 0; i < kl && k < 100; i++) {
            char c = key[i];
            if (c == '(')
                name[k++] = '_';
            else if (c != ')')
                name[k++] = c;
        }
        name[k] = '\0';
        if (unit && strcmp(unit, "kB") == 0) {
            v *= 1024;
            memcpy(name + k, "_bytes", 7);
        }
        char full[200], help[220];
        snprintf(full, sizeof(full), "node_memory_%s", name);
        snprintf(help, sizeof(help), "Memory information field %s.", name);
        if (node__family(w, full, help, EXP_GAUGE) == 0)
            exp_writer_sample(w, 0, NULL, NULL, v);
        n++;
    }
    if (!n)
        return pl_err_set(err, PL_ERR_INVALID, "%s: no fields", path);
    return 0;
}

int node__collect_loadavg(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char path[512], buf[256];
    PATH_OR_FAIL(path, e->procfs, "loadavg");
    int rc = node__read_small(path, buf, sizeof(buf));
    if (rc)
        return pl_err_set(err, rc, "read %s: %s", path, pl_err_str(rc));
    double l[3];
    if (sscanf(buf, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3)
        return pl_err_set(err, PL_ERR_INVALID, "%s: unexpected content", path);
    static const char *names[] = {"node_load1", "node_load5", "node_load15"};
    static const char *helps[] = {"1m load average.", "5m load average.", "15m load average."};
    for (int i = 0; i < 3; i++) {
        exp_writer_family(w, names[i], helps[i], EXP_GAUGE);
        exp_writer_sample(w, 0, NULL, NULL, l[i]);
    }
    return 0;
}

int node__collect_vmstat(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char path[512], *data, *p;
    size_t len;
    PATH_OR_FAIL(path, e->procfs, "vmstat");
    int rc = node__read(e, path, &data, &len, err);
    if (rc)
        return rc;
    p = data;
    for (char *line; (line = node__line(&p)) != NULL;) {
        char *key = node__field(&line), *val = node__field(&line);
        if (!key || !val || !node__match(e, NODE_RE_VMSTAT_FIELDS, key))
            continue;
        char *end;
        double v = strtod(val, &end);
        if (end == val)
            return pl_err_set(err, PL_ERR_INVALID, "%s: bad value for %s", path, key);
        char full[200], help[220];
        snprintf(full, sizeof(full), "node_vmstat_%.150s", key);
        snprintf(help, sizeof(help), "/proc/vmstat information field %.150s.", key);
        if (node__family(w, full, help, EXP_UNTYPED) == 0)
            exp_writer_sample(w, 0, NULL, NULL, v);
    }
    return 0;
}

int node__collect_filefd(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char path[512], buf[256];
    PATH_OR_FAIL(path, e->procfs, "sys/fs/file-nr");
    int rc = node__read_small(path, buf, sizeof(buf));
    if (rc)
        return pl_err_set(err, rc, "read %s: %s", path, pl_err_str(rc));
    double alloc, unused, max;
    if (sscanf(buf, "%lf %lf %lf", &alloc, &unused, &max) != 3)
        return pl_err_set(err, PL_ERR_INVALID, "%s: unexpected content", path);
    exp_writer_family(w, "node_filefd_allocated", "File descriptor statistics: allocated.",
                      EXP_GAUGE);
    exp_writer_sample(w, 0, NULL, NULL, alloc);
    exp_writer_family(w, "node_filefd_maximum", "File descriptor statistics: maximum.", EXP_GAUGE);
    exp_writer_sample(w, 0, NULL, NULL, max);
    return 0;
}

int node__collect_entropy(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char path[512];
    double avail, pool;
    PATH_OR_FAIL(path, e->procfs, "sys/kernel/random/entropy_avail");
    int rc = node__read_double(path, &avail);
    if (rc)
        return pl_err_set(err, rc, "read %s: %s", path, pl_err_str(rc));
    PATH_OR_FAIL(path, e->procfs, "sys/kernel/random/poolsize");
    rc = node__read_double(path, &pool);
    if (rc)
        return pl_err_set(err, rc, "read %s: %s", path, pl_err_str(rc));
    exp_writer_family(w, "node_entropy_available_bits", "Bits of available entropy.", EXP_GAUGE);
    exp_writer_sample(w, 0, NULL, NULL, avail);
    exp_writer_family(w, "node_entropy_pool_size_bits", "Bits of entropy pool.", EXP_GAUGE);
    exp_writer_sample(w, 0, NULL, NULL, pool);
    return 0;
}

/* The total= of the "some" or "full" line of a PSI file, in microseconds; -1 if absent. */
static double psi_total(const char *buf, const char *which)
{
    const char *l = strstr(buf, which);
    if (!l)
        return -1;
    const char *nl = strchr(l, '\n');
    const char *t = strstr(l, "total=");
    if (!t || (nl && t > nl))
        return -1;
    char *end;
    double v = strtod(t + 6, &end);
    return end == t + 6 ? -1 : v;
}

int node__collect_pressure(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    static const char *res[] = {"cpu", "io", "memory"};
    double some[3], full[3];
    for (int i = 0; i < 3; i++) {
        char path[512], buf[512], rel[64];
        snprintf(rel, sizeof(rel), "pressure/%s", res[i]);
        PATH_OR_FAIL(path, e->procfs, rel);
        int rc = node__read_all(path, buf, sizeof(buf));
        if (rc == -ENOENT && i == 0)
            return pl_err_set(err, PL_ERR_NOTFOUND, "%s: not present (kernel without PSI)", path);
        if (rc)
            return pl_err_set(err, rc, "read %s: %s", path, pl_err_str(rc));
        some[i] = psi_total(buf, "some ");
        full[i] = psi_total(buf, "full ");
        if (some[i] < 0 || (i > 0 && full[i] < 0))
            return pl_err_set(err, PL_ERR_INVALID, "%s: missing some/full totals", path);
    }
    exp_writer_family(w, "node_pressure_cpu_waiting_seconds_total",
                      "Total time in seconds that processes have waited for CPU time", EXP_COUNTER);
    exp_writer_sample(w, 0, NULL, NULL, some[0] / 1e6);
    exp_writer_family(w, "node_pressure_io_stalled_seconds_total",
                      "Total time in seconds no process could make progress due to IO congestion",
                      EXP_COUNTER);
    exp_writer_sample(w, 0, NULL, NULL, full[1] / 1e6);
    exp_writer_family(w, "node_pressure_io_waiting_seconds_total",
                      "Total time in seconds that processes have waited due to IO congestion",
                      EXP_COUNTER);
    exp_writer_sample(w, 0, NULL, NULL, some[1] / 1e6);
    exp_writer_family(
        w, "node_pressure_memory_stalled_seconds_total",
        "Total time in seconds no process could make progress due to memory congestion",
        EXP_COUNTER);
    exp_writer_sample(w, 0, NULL, NULL, full[2] / 1e6);
    exp_writer_family(w, "node_pressure_memory_waiting_seconds_total",
                      "Total time in seconds that processes have waited for memory", EXP_COUNTER);
    exp_writer_sample(w, 0, NULL, NULL, some[2] / 1e6);
    return 0;
}
