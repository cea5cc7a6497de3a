/*
 * main.c - the promlite-exporter binary: node_exporter-style flags, the
 * collectors of node.h plus the process collector, served over HTTP by
 * libpromlite-client's standalone server until SIGINT/SIGTERM.
 */
#include "exporter/node/node.h"

#include "common/log.h"
#include "common/timeutil.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: promlite-exporter [flags]\n"
               "  --web.listen-address=ADDR     address to listen on (default \":9100\")\n"
               "  --web.telemetry-path=PATH     path of the metrics (default \"/metrics\")\n"
               "  --path.procfs=DIR             procfs mount point (default \"/proc\")\n"
               "  --path.sysfs=DIR              sysfs mount point (default \"/sys\")\n"
               "  --path.rootfs=DIR             root filesystem mount point (default \"/\")\n"
               "  --path.udev.data=DIR          udev database (default \"/run/udev/data\")\n"
               "  --collector.textfile.directory=DIR  directory of *.prom files (default none)\n"
               "  --collector.diskstats.device-exclude=RE\n"
               "  --collector.filesystem.mount-points-exclude=RE\n"
               "  --collector.filesystem.fs-types-exclude=RE\n"
               "  --collector.filesystem.mount-timeout=DURATION  (default 5s)\n"
               "  --collector.netdev.device-exclude=RE, --collector.netdev.device-include=RE\n"
               "  --collector.netstat.fields=RE, --collector.vmstat.fields=RE\n"
               "  --collector.NAME / --no-collector.NAME   enable / disable a collector\n"
               "  --collector.disable-defaults  start with every collector disabled\n"
               "  --log.level=debug|info|warn|error\n"
               "  --version\n"
               "collectors:");
    for (int i = 0; i < NODE_NCOLL; i++)
        fprintf(f, " %s", node_coll_name(i));
    fprintf(f, "\n");
}

/* Matches "--name=value" (or "--name value", consuming argv[*i + 1]). */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0)
        return NULL;
    if (a[2 + n] == '=')
        return a + 3 + n;
    if (a[2 + n] == '\0' && *i + 1 < argc) {
        (*i)++;
        return argv[*i];
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct node_opts o;
    node_opts_init(&o);
    const char *listen = ":9100", *path = "/metrics";
    int disable_defaults = 0, explicit_on[NODE_NCOLL] = {0}, explicit_off[NODE_NCOLL] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--version")) {
            printf("promlite-exporter, version %s\n", PROMLITE_VERSION);
            return 0;
        }
        if (!strcmp(a, "--collector.disable-defaults")) {
            disable_defaults = 1;
            continue;
        }
#define STRFLAG(flag, field)                                                                       \
    if ((v = flag_value(argc, argv, &i, flag)) != NULL) {                                          \
        field = v;                                                                                 \
        continue;                                                                                  \
    }
        STRFLAG("web.listen-address", listen)
        STRFLAG("web.telemetry-path", path)
        STRFLAG("path.procfs", o.procfs)
        STRFLAG("path.sysfs", o.sysfs)
        STRFLAG("path.rootfs", o.rootfs)
        STRFLAG("path.udev.data", o.udev_data)
        STRFLAG("collector.textfile.directory", o.textfile_dir)
        STRFLAG("collector.diskstats.device-exclude", o.diskstats_device_exclude)
        STRFLAG("collector.filesystem.mount-points-exclude", o.fs_mount_points_exclude)
        STRFLAG("collector.filesystem.fs-types-exclude", o.fs_types_exclude)
        STRFLAG("collector.netdev.device-exclude", o.netdev_device_exclude)
        STRFLAG("collector.netdev.device-include", o.netdev_device_include)
        STRFLAG("collector.netstat.fields", o.netstat_fields)
        STRFLAG("collector.vmstat.fields", o.vmstat_fields)
#undef STRFLAG
        if ((v = flag_value(argc, argv, &i, "collector.filesystem.mount-timeout")) != NULL) {
            int64_t ms;
            struct pl_err perr;
            if (pl_duration_parse(v, strlen(v), &ms, &perr) != 0 || ms <= 0) {
                fprintf(stderr, "promlite-exporter: --collector.filesystem.mount-timeout: %s\n", v);
                return 2;
            }
            o.fs_mount_timeout_s = (double)ms / 1000.0;
            continue;
        }
        if ((v = flag_value(argc, argv, &i, "log.level")) != NULL) {
            enum pl_log_level lvl;
            if (pl_log_level_parse(v, &lvl) != 0) {
                fprintf(stderr, "promlite-exporter: --log.level: unknown level %s\n", v);
                return 2;
            }
            pl_log_set_level(lvl);
            continue;
        }
        int on = strncmp(a, "--collector.", 12) == 0, off = strncmp(a, "--no-collector.", 15) == 0;
        if (on || off) {
            int id = node_coll_lookup(a + (on ? 12 : 15));
            if (id < 0) {
                fprintf(stderr, "promlite-exporter: unknown flag %s\n", a);
                return 2;
            }
            (on ? explicit_on : explicit_off)[id] = 1;
            continue;
        }
        fprintf(stderr, "promlite-exporter: unknown flag %s (see --help)\n", a);
        return 2;
    }
    for (int i = 0; i < NODE_NCOLL; i++)
        o.enabled[i] = explicit_off[i] ? 0 : explicit_on[i] ? 1 : !disable_defaults;

    struct pl_err err;
    pl_err_clear(&err);
    struct node_exporter *ne = NULL;
    struct exp_registry *reg = NULL;
    struct exp_server *srv = NULL;
    if (node_exporter_new(&o, &ne, &err) != 0) {
        fprintf(stderr, "promlite-exporter: %s\n", err.msg);
        return 2;
    }
    int rc = exp_registry_new(&reg);
    if (!rc)
        rc = exp_registry_add_process_collector(reg, NULL); /* this process, in the real /proc */
    if (!rc)
        rc = node_exporter_register(ne, reg);
    if (rc) {
        fprintf(stderr, "promlite-exporter: setup: %s\n", exp_strerror(rc));
        return 1;
    }
    rc = exp_server_start(reg, listen, path, &srv);
    if (rc) {
        fprintf(stderr, "promlite-exporter: listen on %s: %s\n", listen,
                rc < 0 && rc > -4096 ? strerror(-rc) : exp_strerror(rc));
        exp_registry_free(reg);
        node_exporter_free(ne);
        return 1;
    }
    for (int i = 0; i < NODE_NCOLL; i++)
        if (o.enabled[i])
            pl_log(PL_LOG_INFO, "exporter", "enabled collector", "collector", node_coll_name(i),
                   NULL);
    char port[16];
    snprintf(port, sizeof(port), "%u", exp_server_port(srv));
    pl_log(PL_LOG_INFO, "exporter", "listening", "address", listen, "port", port, "path", path,
           NULL);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    while (!stop)
        pause();
    pl_log(PL_LOG_INFO, "exporter", "shutting down", NULL);
    exp_server_stop(srv);
    exp_registry_free(reg);
    node_exporter_free(ne);
    return 0;
}
