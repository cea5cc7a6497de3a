/* tests.h - the groups that make up test_tsdb, and shared fixtures. */
#ifndef TESTS_UNIT_TSDB_TESTS_H
#define TESTS_UNIT_TSDB_TESTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tsdb/tsdb.h"

int test_index_run(void);
int test_head_run(void);
int test_wal_run(void);
int test_maint_run(void);
int test_cli_run(void);
int test_gc_run(void);
int test_diskfull_run(void);
int test_evict_run(void);
int test_lazy_run(void);

/* A temporary database: mkdtemp directory, small map, no fsync. */
struct fx {
    char dir[512];
    struct tsdb_options o;
    struct tsdb *db;
};
int fx_setup(void **state);
int fx_teardown(void **state);
/* Closes and reopens the database (checks persistence). */
void fx_reopen(struct fx *f);
/* Removes a directory tree. */
void rm_rf(const char *dir);
/*
 * Closes f's database; a child process opens it with checkpoints off, appends
 * batches b = 0..batches-1 of the series name{i="0"} .. name{i="nser-1"} at
 * b * 1000 ms with value(b, i), one commit each, and exits without closing,
 * as a crash after its last commit leaves the files. Fails the test if the
 * child fails. f->db is NULL afterwards.
 */
void fx_crash_after_appends(struct fx *f, const char *name, int nser, int batches,
                            double (*value)(int b, int i));
/* Appends one sample to the series written as `name{a="b"}` in its own batch. */
int app1(struct tsdb *db, const char *series, int64_t t, double v);
/* Matchers from "name=value" strings ("a=b", "a!=b", "a=~re", "a!~re"). */
size_t mk_matchers(struct tsdb_matcher **ms, const char *const *specs, size_t n);
void free_matchers(struct tsdb_matcher **ms, size_t n);
/*
 * Selects with the given matcher specs over [mint, maxt]; writes the
 * formatted series joined by ';' into out (if not NULL) and returns the total
 * number of samples (or -1 on error).
 */
long sel(struct tsdb *db, const char *const *specs, size_t n, int64_t mint, int64_t maxt, char *out,
         size_t outlen);
/* Samples of one exact series in [mint, maxt] into s; returns the count or -1. */
long series_samples(struct tsdb *db, const char *series, int64_t mint, int64_t maxt,
                    struct tsdb_samples *s);
/* The seed for randomised tests: $TSDB_TEST_SEED or a fixed default; printed. */
unsigned test_seed(void);

#endif
