/*
 * config_check.h - `promlite check config FILE...`, like `promtool check config`.
 *
 * Prints "Checking FILE", then " SUCCESS: FILE is valid prometheus config file
 * syntax" (with "  SUCCESS: N rule files found" first when rule_files match)
 * and checks each rule file is readable YAML holding rule groups; failures go
 * to stderr as "  FAILED: <reason>". Static targets are built (relabeling
 * included) as promtool does, so a target relabeled to no address fails.
 */
#ifndef COLLECTOR_CONFIG_CHECK_H
#define COLLECTOR_CONFIG_CHECK_H

#include <stdio.h>

/* Checks files argv[1..argc); returns the exit status (0 all good, 1 otherwise). */
int coll_config_check_cmd(int argc, char **argv);

/* The same, writing to `out` and `errout` (for tests). */
int coll_config_check_files(int nfiles, char **files, FILE *out, FILE *errout);

#endif
