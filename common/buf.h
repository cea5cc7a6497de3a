/*
 * buf.h - a growable byte buffer with a hard limit (curl dynbuf).
 *
 * Every buffer gets its limit when created, and appends that would pass it
 * fail with PL_ERR_LIMIT before allocating. The contents are always
 * NUL-terminated so a buffer holding text can be used as a C string.
 */
#ifndef COMMON_BUF_H
#define COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct pl_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    size_t limit; /* most bytes the buffer may hold, excluding the NUL */
};

void pl_buf_init(struct pl_buf *b, size_t limit);
void pl_buf_fini(struct pl_buf *b);
/* Empties the buffer but keeps its memory for reuse. */
void pl_buf_reset(struct pl_buf *b);
/* Ensures room for `extra` more bytes. 0 or PL_ERR_LIMIT. */
int pl_buf_reserve(struct pl_buf *b, size_t extra);
int pl_buf_append(struct pl_buf *b, const void *p, size_t n);
int pl_buf_puts(struct pl_buf *b, const char *s);
int pl_buf_putc(struct pl_buf *b, char c);
int pl_buf_printf(struct pl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pl_buf_vprintf(struct pl_buf *b, const char *fmt, va_list ap);
/* Hands the data to the caller (who frees it) and re-initialises the buffer. */
char *pl_buf_steal(struct pl_buf *b, size_t *len_out);
/* A C string view of the contents; "" when empty. Borrowed until the next change. */
const char *pl_buf_cstr(const struct pl_buf *b);

#endif
