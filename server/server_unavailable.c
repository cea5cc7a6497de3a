/*
 * server_unavailable.c - `promlite server` in a build that lacks the storage
 * engine or the PromQL engine (see CMakeLists.txt): it says so and fails,
 * rather than serving an API that cannot answer.
 */
#include "server/cli.h"

#include "common/log.h"
#include "server/flags.h"

#include <stdio.h>

int srv_cmd_server(int argc, char **argv)
{
    struct srv_flags f;
    struct pl_err err;
    pl_err_clear(&err);
    if (srv_flags_parse(&f, argc, argv, &err)) {
        fprintf(stderr, "promlite: error: %s, try --help\n", err.msg);
        return 2;
    }
    if (f.help) {
        srv_flags_usage(stdout);
        return 0;
    }
    pl_log(PL_LOG_ERROR, "server",
           "this build has no HTTP server: the storage engine (tsdb/) or the PromQL engine "
           "(query/) is not built in yet",
           NULL);
    return 1;
}
