/*
 * intern.h - a process-wide table of interned strings.
 *
 * Label names repeat across millions of series ("job", "instance", "le"), so
 * label sets point at one interned copy. Interned strings live until exit and
 * may be compared by pointer. Thread-safe.
 */
#ifndef COMMON_INTERN_H
#define COMMON_INTERN_H

#include <stddef.h>

/* Returns the interned, NUL-terminated copy of s[0..n). Never NULL. */
const char *pl_intern(const char *s, size_t n);

/* Number of distinct strings interned so far (for self-metrics and tests). */
size_t pl_intern_count(void);

#endif
