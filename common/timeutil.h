/*
 * timeutil.h - Prometheus durations and timestamps.
 *
 * Time in promlite is int64 milliseconds since the Unix epoch, as in
 * Prometheus's storage. Durations are int64 milliseconds too.
 */
#ifndef COMMON_TIMEUTIL_H
#define COMMON_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define PL_MS_PER_SEC  INT64_C(1000)
#define PL_MS_PER_MIN  (60 * PL_MS_PER_SEC)
#define PL_MS_PER_HOUR (60 * PL_MS_PER_MIN)
#define PL_MS_PER_DAY  (24 * PL_MS_PER_HOUR)

/* Prometheus's "min time" and "max time" bounds (math.MinInt64/1000 ... in ms). */
#define PL_TIME_MIN (INT64_MIN / 1000 + 62135596801LL)
#define PL_TIME_MAX (INT64_MAX / 1000 - 62135596801LL)

/*
 * Parses a Prometheus duration: one or more of `<int>y|w|d|h|m|s|ms`, units
 * in that order and each at most once (`1h30m`, `500ms`, `2d`); "0" is zero.
 * OUT: *ms. PL_ERR_INVALID with a message on bad syntax or overflow.
 */
int pl_duration_parse(const char *s, size_t n, int64_t *ms, struct pl_err *err);

/* Writes the canonical form Prometheus prints (`1h30m`, `90d`, `0s`). */
void pl_duration_format(int64_t ms, char *out, size_t outlen);

/*
 * Parses an API timestamp: float seconds (`1435781451.781`) or RFC 3339
 * (`2015-07-01T20:10:51.781Z`, offsets allowed), to ms, as the Prometheus API
 * does (milliseconds rounded). OUT: *ms.
 */
int pl_time_parse(const char *s, size_t n, int64_t *ms, struct pl_err *err);

/*
 * Parses a `step`/`timeout` API parameter: float seconds or a duration.
 * OUT: *ms.
 */
int pl_duration_or_seconds_parse(const char *s, size_t n, int64_t *ms, struct pl_err *err);

/* Formats ms as RFC 3339 UTC with milliseconds: 2015-07-01T20:10:51.781Z. */
void pl_time_format_rfc3339(int64_t ms, char *out, size_t outlen);

/* Wall-clock now, in ms. */
int64_t pl_time_now_ms(void);
/* Monotonic clock in nanoseconds, for measuring durations. */
int64_t pl_mono_ns(void);

#endif
