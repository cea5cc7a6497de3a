/*
 * mem.h - allocation that aborts on out-of-memory (Redis zmalloc).
 *
 * The server and tools use these: a monitoring server that cannot allocate a
 * few bytes has no sensible way to continue. The embedded client library
 * (exporter/) does not use them; it returns PL_ERR_NOMEM instead.
 */
#ifndef COMMON_MEM_H
#define COMMON_MEM_H

#include <stddef.h>
#include <stdlib.h>

void *pl_xmalloc(size_t n);
void *pl_xcalloc(size_t nmemb, size_t size);
void *pl_xrealloc(void *p, size_t n);
/* Reallocates an array of nmemb elements of size bytes, checking overflow. */
void *pl_xreallocarray(void *p, size_t nmemb, size_t size);
char *pl_xstrdup(const char *s);
char *pl_xstrndup(const char *s, size_t n);

#endif
