/*
 * err.h - the one error type of promlite.
 *
 * Functions return 0 on success, -errno for operating-system failures, or one
 * of the PL_ERR_* codes below (a reserved negative band, as LMDB does; ours
 * starts at -32000 so that it never meets LMDB's -30799..-30780, which the
 * storage engine passes through the same int). A
 * function that can fail with a message a user should see also takes a
 * `struct pl_err *` and fills it; the return code and err->code agree.
 * New codes are only ever appended.
 */
#ifndef COMMON_ERR_H
#define COMMON_ERR_H

#include <stddef.h>

enum {
    PL_OK = 0,
    PL_ERR_BASE = -32000,
    PL_ERR_INVALID = PL_ERR_BASE, /* malformed input (syntax, value out of range) */
    PL_ERR_CORRUPT,               /* stored data failed a consistency check */
    PL_ERR_NOMEM,                 /* allocation failed (client library only) */
    PL_ERR_LIMIT,                 /* a configured or hard limit was reached */
    PL_ERR_NOTFOUND,              /* a named thing does not exist (where it is an error) */
    PL_ERR_EXISTS,                /* a thing that must be new exists already */
    PL_ERR_IO,                    /* I/O failure with no errno to report */
    PL_ERR_STATE,                 /* the object is not in a state that allows the call */
    PL_ERR_TIMEOUT,               /* a deadline passed */
    PL_ERR_CANCELED,              /* the caller cancelled the work */
    PL_ERR_UNSUPPORTED,           /* valid input using a feature we do not have */
    PL_ERR_OUT_OF_ORDER,          /* sample older than the newest of its series */
    PL_ERR_DUPLICATE,             /* same timestamp, different value */
    PL_ERR_TOO_OLD,               /* sample outside the writable time window */
    PL_ERR_LAST
};

#define PL_ERR_MSG_MAX 512

/* An error code with a message a user can act on. Embed it; no heap. */
struct pl_err {
    int code;
    char msg[PL_ERR_MSG_MAX];
};

/* Static description of a code (PL_ERR_*, -errno, or 0). Never NULL. */
const char *pl_err_str(int code);

/* Clears `err` (code 0, empty message). NULL-safe. */
void pl_err_clear(struct pl_err *err);

/*
 * Sets err->code and a printf-formatted message; returns `code` so callers can
 * `return pl_err_set(err, PL_ERR_INVALID, "...")`. NULL `err` is allowed.
 */
int pl_err_set(struct pl_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with a formatted context ("file.yml:3: "). */
int pl_err_prefix(struct pl_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
