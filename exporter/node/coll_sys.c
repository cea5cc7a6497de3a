/*
 * coll_sys.c - system identity and clock: time (clock_gettime(2), the local
 * time zone, /sys/devices/system/clocksource/clocksource<N>/{available,
 * current}_clocksource), uname (uname(2), getdomainname(2)) and os
 * (os-release(5) from <rootfs>/etc/os-release or <rootfs>/usr/lib/os-release).
 */
#include "exporter/node/node_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int node__collect_time(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    exp_writer_family(w, "node_time_seconds", "System time in seconds since epoch (1970).",
                      EXP_GAUGE);
    exp_writer_sample(w, 0, NULL, NULL, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);

    struct tm tm;
    time_t now = ts.tv_sec;
    if (!localtime_r(&now, &tm))
        return pl_err_set(err, PL_ERR_INVALID, "localtime failed");
    exp_writer_family(w, "node_time_zone_offset_seconds", "System time zone offset in seconds.",
                      EXP_GAUGE);
    exp_writer_samplef(w, (double)tm.tm_gmtoff, 1, "time_zone", tm.tm_zone ? tm.tm_zone : "");

    /* Clock sources: a missing directory (containers, other OSes) is not an error. */
    char dir[512];
    if (node__path(dir, sizeof(dir), e->sysfs, "devices/system/clocksource"))
        return pl_err_set(err, PL_ERR_LIMIT, "path too long");
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char devs[16][16]; /* clocksource numbers */
    int nd = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL && nd < 16;) {
        if (strncmp(de->d_name, "clocksource", 11) == 0 && de->d_name[11] >= '0' &&
            de->d_name[11] <= '9' && strlen(de->d_name + 11) < 16)
            strcpy(devs[nd++], de->d_name + 11);
    }
    closedir(d);
    for (int kind = 0; kind < 2; kind++) {
        exp_writer_family(
            w, kind ? "node_time_clocksource_current_info" : "node_time_clocksource_available_info",
            kind ? "Current clocksource read from '/sys/devices/system/clocksource'."
                 : "Available clocksources read from "
                   "'/sys/devices/system/clocksource'.",
            EXP_GAUGE);
        for (int i = 0; i < nd; i++) {
            char rel[64], path[640], buf[1024];
            snprintf(rel, sizeof(rel), "clocksource%.15s/%s", devs[i],
                     kind ? "current_clocksource" : "available_clocksource");
            if (node__path(path, sizeof(path), dir, rel) ||
                node__read_small(path, buf, sizeof(buf)))
                continue;
            char *p = buf;
            for (char *cs; (cs = node__field(&p)) != NULL;)
                exp_writer_samplef(w, 1, 2, "clocksource", cs, "device", devs[i]);
        }
    }
    return 0;
}

int node__collect_uname(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    struct utsname u;
    if (uname(&u) != 0)
        return pl_err_set(err, -errno, "uname: %s", pl_err_str(-errno));
    char domain[256];
    if (getdomainname(domain, sizeof(domain)) != 0)
        strcpy(domain, "(none)");
    domain[sizeof(domain) - 1] = '\0';
    if (!domain[0])
        strcpy(domain, "(none)");
    exp_writer_family(w, "node_uname_info",
                      "Labeled system information as provided by the uname system call.",
                      EXP_GAUGE);
    exp_writer_samplef(w, 1, 6, "domainname", domain, "machine", u.machine, "nodename", u.nodename,
                       "release", u.release, "sysname", u.sysname, "version", u.version);
    return 0;
}

/* os-release keys in node_os_info's label order. */
static const char *os_keys[] = {"BUILD_ID",      "ID",      "ID_LIKE",          "IMAGE_ID",
                                "IMAGE_VERSION", "NAME",    "PRETTY_NAME",      "VARIANT",
                                "VARIANT_ID",    "VERSION", "VERSION_CODENAME", "VERSION_ID"};
static const char *os_labels[] = {"build_id",      "id",      "id_like",          "image_id",
                                  "image_version", "name",    "pretty_name",      "variant",
                                  "variant_id",    "version", "version_codename", "version_id"};
#define OS_NKEYS 12

/* Unquotes an os-release value in place (shell-like quoting, os-release(5)). */
static void os_unquote(char *v)
{
    char q = 0, *o = v;
    for (char *i = v; *i; i++) {
        if (!q && (*i == '"' || *i == '\'')) {
            q = *i;
        } else if (q && *i == q) {
            q = 0;
        } else if (*i == '\\' && q != '\'' && i[1]) {
            *o++ = *++i;
        } else {
            *o++ = *i;
        }
    }
    *o = '\0';
}

int node__collect_os(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char path[512], *data = NULL, *p;
    size_t len;
    static const char *files[] = {"etc/os-release", "usr/lib/os-release"};
    int rc = -ENOENT;
    for (int i = 0; i < 2 && rc; i++) {
        if (node__path(path, sizeof(path), e->rootfs, files[i]))
            return pl_err_set(err, PL_ERR_LIMIT, "path too long");
        rc = node__read(e, path, &data, &len, err);
    }
    if (rc)
        return rc;
    pl_err_clear(err);
    const char *vals[OS_NKEYS];
    for (int i = 0; i < OS_NKEYS; i++)
        vals[i] = "";
    p = data;
    for (char *line; (line = node__line(&p)) != NULL;) {
        char *eq = strchr(line, '=');
        if (!eq || line[0] == '#')
            continue;
        *eq = '\0';
        for (int i = 0; i < OS_NKEYS; i++) {
            if (strcmp(line, os_keys[i]) == 0) {
                os_unquote(eq + 1);
                vals[i] = eq + 1;
            }
        }
    }
    exp_writer_family(w, "node_os_info",
                      "A metric with a constant '1' value labeled by build_id, id, id_like, "
                      "image_id, image_version, name, pretty_name, variant, variant_id, version, "
                      "version_codename, version_id.",
                      EXP_GAUGE);
    exp_writer_sample(w, OS_NKEYS, os_labels, vals, 1);
    /* node_os_version: the major.minor part of VERSION_ID as a number. */
    const char *vid = vals[11];
    char num[32];
    size_t k = 0;
    int dots = 0;
    for (const char *c = vid; *c && k < sizeof(num) - 1; c++) {
        if (*c == '.' && ++dots > 1)
            break;
        if ((*c < '0' || *c > '9') && *c != '.')
            break;
        num[k++] = *c;
    }
    num[k] = '\0';
    if (k && num[0] != '.') {
        exp_writer_family(w, "node_os_version",
                          "Metric containing the major.minor part of the OS version.", EXP_GAUGE);
        exp_writer_samplef(w, strtod(num, NULL), 3, "id", vals[1], "id_like", vals[2], "name",
                           vals[5]);
    }
    return 0;
}
