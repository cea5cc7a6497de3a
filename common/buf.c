/* buf.c - growable buffer with a hard limit (see buf.h). */
#include "common/buf.h"

#include "common/err.h"
#include "common/mem.h"

#include <stdio.h>
#include <string.h>

void pl_buf_init(struct pl_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

void pl_buf_fini(struct pl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void pl_buf_reset(struct pl_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int pl_buf_reserve(struct pl_buf *b, size_t extra)
{
    if (extra > b->limit || b->len > b->limit - extra)
        return PL_ERR_LIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    if (cap > b->limit + 1)
        cap = b->limit + 1;
    b->data = pl_xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int pl_buf_append(struct pl_buf *b, const void *p, size_t n)
{
    int rc = pl_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int pl_buf_puts(struct pl_buf *b, const char *s)
{
    return pl_buf_append(b, s, strlen(s));
}

int pl_buf_putc(struct pl_buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return 0;
    }
    return pl_buf_append(b, &c, 1);
}

int pl_buf_vprintf(struct pl_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return PL_ERR_INVALID;
    if ((size_t)n < sizeof(small))
        return pl_buf_append(b, small, (size_t)n);
    int rc = pl_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int pl_buf_printf(struct pl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = pl_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *pl_buf_steal(struct pl_buf *b, size_t *len_out)
{
    char *d = b->data;
    if (!d)
        d = pl_xcalloc(1, 1);
    if (len_out)
        *len_out = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

const char *pl_buf_cstr(const struct pl_buf *b)
{
    return b->data ? b->data : "";
}
