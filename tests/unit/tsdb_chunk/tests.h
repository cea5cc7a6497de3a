/* tests.h - the groups that make up test_tsdb_chunk, and shared helpers. */
#ifndef TESTS_UNIT_TSDB_CHUNK_TESTS_H
#define TESTS_UNIT_TSDB_CHUNK_TESTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

int test_chunk_gorilla_run(void);
int test_chunk_packed_run(void);
int test_chunk_stream_run(void);
int test_chunk_seal_run(void);

/* The fixed seed of this run: TEST_SEED from the environment, or a constant. */
uint64_t test_seed(void);
/* xorshift64* over *state. */
uint64_t test_rand(uint64_t *state);

uint64_t test_f2u(double v);
double test_u2f(uint64_t u);

/*
 * Decodes p[0..len) and checks it yields exactly n samples ts/vs, bit-exact,
 * then 0 (end) again.
 */
void test_check_decodes(const uint8_t *p, size_t len, const int64_t *ts, const double *vs,
                        size_t n);

/*
 * Decodes every prefix p[0..cut) of a chunk: each must fail with
 * PL_ERR_CORRUPT or yield a prefix of ts/vs (and then the end or an error).
 */
void test_check_truncations(const uint8_t *p, size_t len, const int64_t *ts, const double *vs,
                            size_t n);

#endif
