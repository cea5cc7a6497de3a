/* err.c - error codes and messages (see err.h). */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *pl_err_str(int code)
{
    static const char *const names[] = {
        "invalid input",
        "corrupt data",
        "out of memory",
        "limit exceeded",
        "not found",
        "already exists",
        "I/O error",
        "invalid state",
        "timeout",
        "canceled",
        "unsupported",
        "out of order sample",
        "duplicate sample for timestamp",
        "too old sample",
    };
    if (code == 0)
        return "success";
    if (code >= PL_ERR_BASE && code < PL_ERR_LAST) {
        size_t i = (size_t)(code - PL_ERR_BASE);
        if (i < sizeof(names) / sizeof(names[0]))
            return names[i];
    }
    if (code < 0 && code > -4096)
        return strerror(-code);
    return "unknown error";
}

void pl_err_clear(struct pl_err *err)
{
    if (!err)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}

int pl_err_set(struct pl_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

int pl_err_prefix(struct pl_err *err, const char *fmt, ...)
{
    if (!err)
        return 0;
    char prefix[PL_ERR_MSG_MAX];
    char old[PL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    size_t plen = strlen(prefix);
    memcpy(err->msg, prefix, plen + 1);
    /* The message keeps as much of the old text as fits after the prefix. */
    size_t room = sizeof(err->msg) - plen - 1;
    size_t olen = strnlen(old, room);
    memcpy(err->msg + plen, old, olen);
    err->msg[plen + olen] = '\0';
    return err->code;
}
