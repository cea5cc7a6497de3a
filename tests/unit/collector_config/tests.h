/* tests.h - the groups that make up test_collector_config. */
#ifndef TESTS_UNIT_COLLECTOR_CONFIG_TESTS_H
#define TESTS_UNIT_COLLECTOR_CONFIG_TESTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "collector/config.h"
#include "common/labels.h"

int test_config_run(void);
int test_relabel_run(void);
int test_target_run(void);
int test_sd_run(void);
int test_check_run(void);
int test_scrape_run(void);
int test_scrape_cache_run(void);

/* util.c */
/* Parses YAML that must be valid; fails the test otherwise. */
struct coll_config *cfg_ok(const char *yaml);
/* Parses YAML that must fail; returns the message (static buffer). */
const char *cfg_err(const char *yaml);
/* The Prometheus text form of a label set (static buffer, one of 4 rotating). */
const char *ls_str(const struct pl_labels *ls);
/* Parses `{a="b"}`; fails the test on error. Owned by caller. */
struct pl_labels *ls_parse(const char *s);
/* A fresh temporary directory (mkdtemp) and its removal. */
char *tmpdir_new(void);
void tmpdir_rm(char *dir);
/* Writes a file (path joined to dir). */
void write_file(const char *dir, const char *name, const char *text);

#endif
