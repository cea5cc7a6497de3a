/* cmds.c - the subcommand table (see cli.h). */
#include "server/cli.h"

#include <stdio.h>

const struct srv_cmd srv_cmds[] = {
    {"server", srv_cmd_server, "run the monitoring server (default)"},
    {"version", srv_cmd_version, "print the version"},
    {"check metrics", srv_cmd_check_metrics, "validate a Prometheus/OpenMetrics exposition"},
    {"query", srv_cmd_query, "run one PromQL query on a data directory or a server"},
    {"check config", coll_config_check_cmd, "validate prometheus.yml files like promtool"},
    {"import", srv_cmd_import, "load a Prometheus/OpenMetrics file with timestamps (backfill)"},
    {"tsdb stats", srv_cmd_tsdb_stats, "series, samples, bytes and label cardinality"},
    {"tsdb dump", srv_cmd_tsdb_dump, "print stored samples [--match SELECTOR]"},
    {"tsdb snapshot", srv_cmd_tsdb_snapshot, "write a consistent copy of the data directory"},
    {0, 0, 0},
};

int srv_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("promlite, version %s\n", PROMLITE_VERSION);
    return 0;
}
