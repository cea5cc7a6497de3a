/*
 * re2_int.h - RE2 syntax checks shared inside tsdb/ (matcher.c, regex_capture.c).
 *
 * Go's regexp (RE2 syntax) is what Prometheus uses; PCRE2 accepts more. The
 * check rejects what Go refuses, with Go's error texts.
 */
#ifndef TSDB_RE2_INT_H
#define TSDB_RE2_INT_H

#include <stddef.h>

#include "common/err.h"

/* 0 when p[0..n) is valid RE2 syntax as far as PCRE2 cannot tell; else PL_ERR_INVALID. */
int tsdb__re2_check(const char *p, size_t n, struct pl_err *err);

#endif
