/* server.c - `promlite server`. */
#include "server/cli.h"

#include "common/log.h"

#include <stdio.h>

int srv_cmd_server(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    pl_log(PL_LOG_ERROR, "server",
           "the server is not built yet: this promlite has only `check metrics` and the common "
           "library; nothing is scraped, stored or served",
           NULL);
    return 1;
}
