/*
 * hash.h - the stable 64-bit hash (XXH3) used for series and label sets.
 * Stable across runs and machines: series keys on disk depend on it.
 */
#ifndef COMMON_HASH_H
#define COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t pl_hash64(const void *p, size_t n, uint64_t seed);

#endif
