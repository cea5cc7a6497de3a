/*
 * cli.h - subcommands of the `promlite` binary.
 *
 * Each subcommand is a function taking the arguments after its name (argv[0]
 * is the subcommand's own name) and returning the process exit status.
 */
#ifndef SERVER_CLI_H
#define SERVER_CLI_H

struct srv_cmd {
    const char *name; /* "server", "check metrics", ... (words separated by one space) */
    int (*run)(int argc, char **argv);
    const char *summary;
};

/* The table of subcommands, terminated by a zero entry. */
extern const struct srv_cmd srv_cmds[];

int srv_cmd_server(int argc, char **argv);
int srv_cmd_version(int argc, char **argv);
/* server/check_metrics.c */
int srv_cmd_check_metrics(int argc, char **argv);
int srv_cmd_query(int argc, char **argv);
/* collector/config_check.c */
int coll_config_check_cmd(int argc, char **argv);
/* server/tsdb_cmds.c */
int srv_cmd_import(int argc, char **argv);
int srv_cmd_tsdb_stats(int argc, char **argv);
int srv_cmd_tsdb_dump(int argc, char **argv);
int srv_cmd_tsdb_snapshot(int argc, char **argv);

#endif
