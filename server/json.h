/*
 * json.h - JSON output in the exact shapes of the Prometheus HTTP API v1.
 *
 * Prometheus 2.42 writes sample values as JSON strings produced by Go's
 * strconv.AppendFloat(v, 'f', -1, 64), switching to 'e' when |v| < 1e-6 or
 * |v| >= 1e21 (web/api/v1 marshalValue), with "NaN", "+Inf" and "-Inf" for the
 * specials; timestamps are JSON numbers of seconds with exactly three decimals
 * when the millisecond part is non-zero (1435781451.780) and none otherwise.
 * Strings are escaped like Go's encoding/json (HTML characters as \u003c ...).
 * Captures: ../shared/reference/captures/prometheus-api/query_special.json.
 */
#ifndef SERVER_JSON_H
#define SERVER_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/labels.h"
#include "query/query.h"

/* Longest text srv_json_format_float writes, NUL included. */
#define SRV_FLOAT_MAX 40

/*
 * Writes v as Prometheus writes a sample value (without quotes) into
 * out[SRV_FLOAT_MAX]: shortest digits that read back to the same double.
 * Returns the length.
 */
size_t srv_json_format_float(double v, char *out);
/* The same text by a slow, obviously correct method (printf/strtod); for tests. */
size_t srv_json_format_float_exact(double v, char *out);
/* Appends the timestamp t (ms) as a JSON number of seconds. */
int srv_json_time(struct pl_buf *b, int64_t t);
/* Appends v as a quoted JSON string ("1.5", "NaN"). */
int srv_json_value(struct pl_buf *b, double v);
/* Appends a quoted, escaped JSON string of s[0..n). Invalid UTF-8 becomes U+FFFD. */
int srv_json_str(struct pl_buf *b, const char *s, size_t n);
int srv_json_strz(struct pl_buf *b, const char *s);
/* Appends {"name":"value",...} in the label set's (sorted) order. */
int srv_json_labels(struct pl_buf *b, const struct pl_labels *ls);
/* Appends [t,"v"], the pair of a vector value or a matrix point. */
int srv_json_point(struct pl_buf *b, int64_t t, double v);

/*
 * Appends the `data` of a query answer: {"resultType":...,"result":...} for a
 * scalar, string, vector or matrix result. Vector series with no point are
 * left out. PL_ERR_LIMIT when the buffer's limit is reached.
 */
int srv_json_query_result(struct pl_buf *b, const struct query_result *r);

#endif
