/*
 * params.h - HTTP request parameters: the query string and form bodies.
 *
 * The Prometheus API takes the same parameters from the URL and from an
 * application/x-www-form-urlencoded body (WHATWG URL standard, section 5:
 * '&'-separated pairs, '+' is a space, %XX escapes), with repeated keys such
 * as match[]. Form values come first and URL values after them, as Go's
 * Request.Form orders them.
 */
#ifndef SERVER_PARAMS_H
#define SERVER_PARAMS_H

#include <stddef.h>

#include "common/err.h"

struct srv_param {
    char *key;   /* owned, NUL-terminated */
    char *value; /* owned, NUL-terminated (may hold NUL bytes from %00; vlen counts them) */
    size_t vlen;
};

struct srv_params {
    struct srv_param *v;
    size_t n, cap;
    size_t limit; /* most pairs accepted */
};

void srv_params_init(struct srv_params *p, size_t limit);
void srv_params_fini(struct srv_params *p);
/* Adds a copy of key and value. PL_ERR_LIMIT past the pair limit. */
int srv_params_add(struct srv_params *p, const char *key, size_t klen, const char *value,
                   size_t vlen);
/*
 * Decodes a urlencoded string s[0..n) and adds its pairs. A malformed %
 * escape fails with PL_ERR_INVALID and a message (Go's url.ParseQuery error:
 * `invalid URL escape "%zz"`); nothing is added then.
 */
int srv_params_parse_urlencoded(struct srv_params *p, const char *s, size_t n, struct pl_err *err);
/* The first value of key, or NULL. */
const struct srv_param *srv_params_get(const struct srv_params *p, const char *key);
/* The value of key, or "" when absent. */
const char *srv_params_value(const struct srv_params *p, const char *key);
/* Number of values of key. */
size_t srv_params_count(const struct srv_params *p, const char *key);

#endif
