/*
 * parse_int.h - helpers shared between the parser files of query/ (lexer,
 * parser, printer). Not for use outside query/ and its tests.
 */
#ifndef QUERY_PARSE_INT_H
#define QUERY_PARSE_INT_H

#include <stddef.h>

#include "common/buf.h"
#include "query/ast.h"

/* Prometheus's DocumentedType: "instant vector", "range vector", "scalar", "string", "none". */
const char *query__value_type_doc(enum query_value_type t);

/* Go's strconv.FormatFloat(v, 'g', -1, 64), with "+Inf", "-Inf" and "NaN". */
int query__format_float(struct pl_buf *out, double v);

/*
 * Parses a PromQL number literal the way Prometheus does (Go's ParseInt with
 * base 0, then ParseFloat): "0x1f", "017" (octal), "1e3", "Inf", "NaN".
 * OUT: *v. On failure returns PL_ERR_INVALID and writes Go's message
 * ("strconv.ParseFloat: parsing \"0x\": invalid syntax") to msg.
 */
int query__parse_number(const char *s, size_t n, double *v, char *msg, size_t msglen);

/*
 * Decodes a quoted PromQL string token (with its quotes; "...", '...' or
 * `...`) whose escapes the lexer has validated. OUT: *out (NUL-terminated,
 * allocated with malloc) and *outlen. PL_ERR_INVALID on a malformed token.
 */
int query__unquote(const char *s, size_t n, char **out, size_t *outlen);

#endif
